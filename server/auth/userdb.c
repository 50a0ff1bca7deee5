/*
 * The users the server knows, in memory: user@domain with its HA1s,
 * loaded at start and kept current from the store's notifications. The
 * digest check reads HA1s from here without a database round trip.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "auth.h"

struct udb_user {
	struct hr_le le;
	unsigned gen;             /* the sync that last confirmed it */
	enum hr_user_role role;
	char ha1_md5[33];
	char ha1_sha256[65];
	char *domain;             /* points into name */
	char name[];              /* "user\0domain\0" */
};

struct hr_userdb {
	struct hr_hash users;
	unsigned gen;
};

static uint32_t key(const char *user, size_t ulen, const char *domain)
{
	struct hr_pl d = hr_pl_str(domain);

	/* domains compare without case (RFC 3261 19.1.4) */
	return hr_hash_bytes(user, ulen) ^ hr_hash_pl_ci(&d);
}

static struct udb_user *find(const struct hr_userdb *db, const char *user,
	size_t ulen, const char *domain)
{
	struct hr_le *le = hr_hash_first(&db->users, key(user, ulen, domain));

	for (; le; le = le->next) {
		struct udb_user *u = le->data;

		if (strlen(u->name) == ulen && !memcmp(u->name, user, ulen) &&
		    !strcasecmp(u->domain, domain))
			return u;
	}
	return NULL;
}

static void userdb_destroy(void *data)
{
	struct hr_userdb *db = data;

	for (uint32_t i = 0; db->users.bucket && i <= db->users.mask; i++) {
		while (db->users.bucket[i].head) {
			struct udb_user *u = db->users.bucket[i].head->data;

			hr_hash_unlink(&db->users, &u->le);
			free(u);
		}
	}
	hr_hash_reset(&db->users);
}

int hr_userdb_alloc(struct hr_userdb **dbp)
{
	struct hr_userdb *db = hr_mem_zalloc(sizeof(*db), userdb_destroy);

	if (!db)
		return ENOMEM;
	if (hr_hash_init(&db->users, 65536)) {
		hr_mem_deref(db);
		return ENOMEM;
	}
	*dbp = db;
	return 0;
}

int hr_userdb_put(struct hr_userdb *db, const char *user, const char *domain,
	const char *ha1_md5, const char *ha1_sha256)
{
	size_t ulen = strlen(user), dlen = strlen(domain);
	struct udb_user *u;

	if (strlen(ha1_md5) != 32 || strlen(ha1_sha256) != 64)
		return EINVAL;
	hr_userdb_del(db, user, domain);
	u = calloc(1, sizeof(*u) + ulen + dlen + 2);
	if (!u)
		return ENOMEM;
	memcpy(u->name, user, ulen + 1);
	u->domain = u->name + ulen + 1;
	memcpy(u->domain, domain, dlen + 1);
	memcpy(u->ha1_md5, ha1_md5, 33);
	memcpy(u->ha1_sha256, ha1_sha256, 65);
	u->gen = db->gen;
	hr_hash_append(&db->users, key(user, ulen, domain), &u->le, u);
	return 0;
}

static const char *const role_names[] = {
	[HR_ROLE_USER] = "user",
	[HR_ROLE_MONITOR] = "monitor",
};

int hr_user_role_decode(const char *name, enum hr_user_role *role)
{
	for (unsigned i = 0; name && i <= HR_ROLE_MONITOR; i++) {
		if (!strcmp(name, role_names[i])) {
			*role = (enum hr_user_role)i;
			return 0;
		}
	}
	return EINVAL;
}

int hr_userdb_set_role(struct hr_userdb *db, const char *user,
	const char *domain, enum hr_user_role role)
{
	struct udb_user *u = find(db, user, strlen(user), domain);

	if (!u)
		return ENOENT;
	u->role = role;
	return 0;
}

bool hr_userdb_is_monitor(const char *user, const char *domain, void *arg)
{
	const struct udb_user *u = find(arg, user, strlen(user), domain);

	return u && u->role == HR_ROLE_MONITOR;
}

void hr_userdb_del(struct hr_userdb *db, const char *user, const char *domain)
{
	struct udb_user *u = find(db, user, strlen(user), domain);

	if (u) {
		hr_hash_unlink(&db->users, &u->le);
		free(u);
	}
}

size_t hr_userdb_count(const struct hr_userdb *db)
{
	return db->users.n;
}

bool hr_userdb_exists(const char *user, const char *domain, void *arg)
{
	return find(arg, user, strlen(user), domain) != NULL;
}

/* The digest username may be "alice", "alice@example.test" or sipsak's
 * "alice@": the user part is what names the user in the realm. */
int hr_userdb_ha1(const struct hr_pl *username, const char *realm,
	enum hr_digest_alg alg, char *ha1, size_t n, void *arg)
{
	const char *at = hr_pl_chr(username, '@');
	size_t ulen = at ? (size_t)(at - username->p) : username->len;
	const struct udb_user *u = find(arg, username->p, ulen, realm);
	const char *h;

	if (!u)
		return ENOENT;
	h = alg == HR_DIGEST_SHA256 ? u->ha1_sha256 : u->ha1_md5;
	if (strlen(h) >= n)
		return ENOSPC;
	strcpy(ha1, h);
	return 0;
}

void hr_userdb_sync_begin(struct hr_userdb *db)
{
	db->gen++;
}

size_t hr_userdb_sync_end(struct hr_userdb *db)
{
	size_t gone = 0;

	for (uint32_t i = 0; db->users.bucket && i <= db->users.mask; i++) {
		struct hr_le *le = db->users.bucket[i].head;

		while (le) {
			struct udb_user *u = le->data;

			le = le->next;
			if (u->gen == db->gen)
				continue;
			hr_hash_unlink(&db->users, &u->le);
			free(u);
			gone++;
		}
	}
	return gone;
}

int hr_user_split(const char *aor, char *user, size_t un, char *domain,
	size_t dn)
{
	const char *at = aor ? strchr(aor, '@') : NULL;

	if (!at || at == aor || !at[1] || strchr(at + 1, '@') ||
	    (size_t)(at - aor) >= un || strlen(at + 1) >= dn)
		return EINVAL;
	/* a name that could forge a log line or a list's line */
	for (const char *p = aor; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return EILSEQ;
	}
	memcpy(user, aor, (size_t)(at - aor));
	user[at - aor] = '\0';
	strcpy(domain, at + 1);
	for (char *p = domain; *p; p++)
		*p = (char)hr_lower[(unsigned char)*p];
	return 0;
}

bool hr_user_check(hr_user_exists_h *h, const char *aor, void *arg)
{
	char user[256], domain[256];

	if (hr_user_split(aor, user, sizeof(user), domain, sizeof(domain)))
		return false;
	return !h || h(user, domain, arg);
}

int hr_digest_ha1s(const char *user, const char *realm, const char *password,
	char md5[33], char sha256[65])
{
	int err = hr_digest_ha1(md5, 33, HR_DIGEST_MD5, user, realm,
		password);

	return err ? err : hr_digest_ha1(sha256, 65, HR_DIGEST_SHA256, user,
		realm, password);
}
