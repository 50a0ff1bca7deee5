/*
 * The admin API's bearer tokens, each with a name that the audit log
 * records: the one of --admin-token (or the generated one) is "admin",
 * the others come from --admin-tokens FILE, lines of "NAME TOKEN", read
 * again on SIGHUP. Only SHA-256 digests of the tokens are kept, and a
 * presented token is compared with every one of them in constant time
 * (CRYPTO_memcmp over digests of one length: neither a token's bytes nor
 * its length show in the time an answer takes).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "admin_int.h"

#define HR_LOG_MODULE "admin"

#define DIGEST_LEN 32
#define FILE_MAX (64 * 1024)
#define TOKEN_MIN 16
#define TOKEN_MAX 256
#define TOKENS_MAX 256

struct entry {
	char name[HR_ADMIN_NAME_MAX + 1];
	uint8_t digest[DIGEST_LEN];
};

struct hr_admin_tokens {
	pthread_mutex_t lock;        /* v and n: SIGHUP swaps them */
	char *file;                  /* --admin-tokens, or NULL */
	bool single;                 /* v[0] is --admin-token's */
	struct entry *v;
	size_t n;
};

static int digest(const char *tok, size_t len, uint8_t out[DIGEST_LEN])
{
	unsigned n = 0;

	return EVP_Digest(tok, len, out, &n, EVP_sha256(), NULL) &&
		n == DIGEST_LEN ? 0 : ENOMEM;
}

static bool name_ok(const char *s, size_t len)
{
	if (!len || len > HR_ADMIN_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		    !(c >= '0' && c <= '9') && c != '.' && c != '_' &&
		    c != '-')
			return false;
	}
	return true;
}

/* printable ASCII without spaces: what a header carries unquoted */
static bool token_ok(const char *s, size_t len)
{
	if (len < TOKEN_MIN || len > TOKEN_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] <= ' ' || s[i] > '~')
			return false;
	}
	return true;
}

/* The next field of a line: its start and length; *p moves past it. */
static size_t field(const char **p, const char *end, const char **start)
{
	const char *s = *p;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	*start = s;
	while (s < end && *s != ' ' && *s != '\t')
		s++;
	*p = s;
	return (size_t)(s - *start);
}

/* One line into v[*n] (blank and comment lines add nothing). */
static int line(const char *s, const char *end, unsigned no,
	struct entry *v, size_t *n, char *why, size_t size)
{
	const char *name, *tok, *rest;
	size_t nl = field(&s, end, &name), tl, xl;

	if (!nl || *name == '#')
		return 0;
	tl = field(&s, end, &tok);
	xl = field(&s, end, &rest);
	if (!tl || xl) {
		snprintf(why, size, "line %u: a line is NAME TOKEN", no);
		return EINVAL;
	}
	if (!name_ok(name, nl)) {
		snprintf(why, size, "line %u: a name is 1 to %d letters, "
			"digits, '.', '_' or '-'", no, HR_ADMIN_NAME_MAX);
		return EINVAL;
	}
	if (!token_ok(tok, tl)) {
		snprintf(why, size, "line %u: a token is %d to %d printable "
			"characters without spaces", no, TOKEN_MIN, TOKEN_MAX);
		return EINVAL;
	}
	if (*n == TOKENS_MAX) {
		snprintf(why, size, "more than %d tokens", TOKENS_MAX);
		return EINVAL;
	}
	memcpy(v[*n].name, name, nl);
	v[*n].name[nl] = '\0';
	if (digest(tok, tl, v[*n].digest))
		return ENOMEM;
	++*n;
	return 0;
}

/* A name or a token given twice: which name would a request have? */
static int unique(const struct entry *v, size_t n, char *why, size_t size)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n; j++) {
			if (!strcmp(v[i].name, v[j].name)) {
				snprintf(why, size, "the name %s is given "
					"twice", v[i].name);
				return EINVAL;
			}
			if (!memcmp(v[i].digest, v[j].digest, DIGEST_LEN)) {
				snprintf(why, size, "%s and %s have the same "
					"token", v[i].name, v[j].name);
				return EINVAL;
			}
		}
	}
	return 0;
}

/* Whole the file, if only its owner may read and write it, like the
 * generated token's (0600): a token file others can read gives away the
 * admin API. buf gets it, NUL-terminated. */
static int slurp(const char *path, char *buf, size_t *len, char *why,
	size_t size)
{
	struct stat st;
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;

	if (fd < 0) {
		err = errno;
		snprintf(why, size, "%s", hr_strerror(err));
		return err;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		err = EINVAL;
	else if (st.st_mode & 077)
		err = EPERM;
	else if (st.st_size > FILE_MAX)
		err = EFBIG;
	if (err) {
		close(fd);
		snprintf(why, size, err == EPERM ? "group or others may "
			"access it (mode %04o): chmod 600 it" : err == EFBIG ?
			"larger than 64 KiB" : "not a regular file",
			(unsigned)(st.st_mode & 07777));
		return err;
	}
	got = read(fd, buf, FILE_MAX);
	err = got < 0 ? errno : 0;
	close(fd);
	if (err) {
		snprintf(why, size, "%s", hr_strerror(err));
		return err;
	}
	*len = (size_t)got;
	buf[*len] = '\0';
	return 0;
}

/* The file's tokens after v[0..*n) (the single token's). */
static int parse_file(const char *path, struct entry *v, size_t *n,
	char *why, size_t size)
{
	char *buf = malloc(FILE_MAX + 1);
	size_t len = 0;
	unsigned no = 0;
	int err;

	if (!buf)
		return ENOMEM;
	err = slurp(path, buf, &len, why, size);
	for (const char *s = buf, *end = buf + len; !err && s < end; ) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *eol = nl ? nl : end;

		if (eol > s && eol[-1] == '\r')
			eol--;
		err = line(s, eol, ++no, v, n, why, size);
		s = nl ? nl + 1 : end;
	}
	OPENSSL_cleanse(buf, len);
	free(buf);
	return err;
}

/* A new table: the single token's entry (kept from t) then the file's. */
static int load(struct hr_admin_tokens *t, const struct entry *single,
	struct entry **vp, size_t *np, char *why, size_t size)
{
	struct entry *v = calloc(TOKENS_MAX + 1, sizeof(*v));
	size_t n = 0;
	int err = 0;

	if (!v)
		return ENOMEM;
	if (single)
		v[n++] = *single;
	if (t->file)
		err = parse_file(t->file, v, &n, why, size);
	if (!err && !n) {
		snprintf(why, size, "no token in it, and no --admin-token");
		err = EINVAL;
	}
	if (!err)
		err = unique(v, n, why, size);
	if (err) {
		OPENSSL_cleanse(v, (TOKENS_MAX + 1) * sizeof(*v));
		free(v);
		return err;
	}
	*vp = v;
	*np = n;
	return 0;
}

static void names(const struct entry *v, size_t n, char *out, size_t size)
{
	size_t len = 0;

	*out = '\0';
	for (size_t i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(out + len, size - len, "%s%s",
			i ? ", " : "", v[i].name);
}

static void table_free(struct entry *v, size_t n)
{
	if (v)
		OPENSSL_cleanse(v, n * sizeof(*v));
	free(v);
}

static void tokens_destroy(void *data)
{
	struct hr_admin_tokens *t = data;

	table_free(t->v, t->n);
	free(t->file);
	pthread_mutex_destroy(&t->lock);
}

int hr_admin_tokens_alloc(struct hr_admin_tokens **tp, const char *single,
	const char *file)
{
	struct hr_admin_tokens *t;
	struct entry one = { .name = "admin" };
	char why[256], list[512];
	int err;

	t = hr_mem_zalloc(sizeof(*t), tokens_destroy);
	if (!t)
		return ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	t->single = single && *single;
	t->file = file && *file ? strdup(file) : NULL;
	err = file && *file && !t->file ? ENOMEM : 0;
	if (!err && t->single)
		err = digest(single, strlen(single), one.digest);
	if (!err)
		err = load(t, t->single ? &one : NULL, &t->v, &t->n, why,
			sizeof(why));
	OPENSSL_cleanse(one.digest, sizeof(one.digest));
	if (err) {
		if (t->file)
			HR_ERROR("admin tokens %s: %s", t->file, why);
		hr_mem_deref(t);
		return err;
	}
	names(t->v, t->n, list, sizeof(list));
	HR_INFO("admin tokens: %s", list);
	*tp = t;
	return 0;
}

int hr_admin_tokens_reload(struct hr_admin_tokens *t)
{
	struct entry *v = NULL, *old, single;
	size_t n = 0, oldn;
	char why[256], list[512];
	int err;

	if (!t->file)
		return 0;
	pthread_mutex_lock(&t->lock);
	if (t->single)
		single = t->v[0];
	pthread_mutex_unlock(&t->lock);
	err = load(t, t->single ? &single : NULL, &v, &n, why, sizeof(why));
	OPENSSL_cleanse(&single, sizeof(single));
	if (err) {
		HR_ERROR("SIGHUP: admin tokens %s: %s; the tokens stay as they "
			"were", t->file, why);
		return err;
	}
	pthread_mutex_lock(&t->lock);
	old = t->v;
	oldn = t->n;
	t->v = v;
	t->n = n;
	pthread_mutex_unlock(&t->lock);
	table_free(old, oldn);
	names(v, n, list, sizeof(list));
	hr_log(HR_LOG_INFO, HR_LOG_MODULE, "SIGHUP: admin tokens: %s", list);
	return 0;
}

bool hr_admin_tokens_check(struct hr_admin_tokens *t, const char *tok,
	char name[HR_ADMIN_NAME_MAX + 1])
{
	uint8_t d[DIGEST_LEN];
	const struct entry *found = NULL;

	if (digest(tok, strlen(tok), d))
		return false;
	pthread_mutex_lock(&t->lock);
	/* every entry compared, the match or not */
	for (size_t i = 0; i < t->n; i++) {
		bool eq = CRYPTO_memcmp(d, t->v[i].digest, DIGEST_LEN) == 0;

		if (eq && !found)
			found = &t->v[i];
	}
	if (found)
		snprintf(name, HR_ADMIN_NAME_MAX + 1, "%s", found->name);
	pthread_mutex_unlock(&t->lock);
	return found != NULL;
}
