/* Pointer-length slices: compare, convert, copy. */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include "core.h"

struct hr_pl hr_pl_str(const char *s)
{
	struct hr_pl pl = { s, s ? strlen(s) : 0 };
	return pl;
}

const unsigned char hr_lower[256] = {
#define L(i) [i] = (unsigned char)((i) >= 'A' && (i) <= 'Z' ? (i) + 32 : (i))
#define L4(i) L(i), L(i + 1), L(i + 2), L(i + 3)
#define L16(i) L4(i), L4(i + 4), L4(i + 8), L4(i + 12)
#define L64(i) L16(i), L16(i + 16), L16(i + 32), L16(i + 48)
	L64(0), L64(64), L64(128), L64(192)
#undef L64
#undef L16
#undef L4
#undef L
};

int hr_pl_casecmp(const struct hr_pl *a, const struct hr_pl *b)
{
	if (a->len != b->len)
		return -1;
	return hr_ci_eq(a->p, b->p, a->len) ? 0 : -1;
}

int hr_pl_cmp(const struct hr_pl *a, const struct hr_pl *b)
{
	if (a->len != b->len)
		return -1;
	if (a->len == 0)
		return 0;
	return memcmp(a->p, b->p, a->len);
}

static int pl_u64(const struct hr_pl *pl, uint64_t max, uint64_t *v,
	bool clamp)
{
	uint64_t x = 0;
	bool over = false;
	size_t i;

	if (!pl->p || pl->len == 0)
		return EBADMSG;
	for (i = 0; i < pl->len; i++) {
		unsigned d = (unsigned char)pl->p[i] - '0';

		if (d > 9)
			return EBADMSG;
		if (over)
			continue;
		if (x > (max - d) / 10)
			over = true;
		else
			x = x * 10 + d;
	}
	if (over) {
		if (!clamp)
			return EBADMSG;
		x = max;
	}
	*v = x;
	return 0;
}

int hr_pl_u64(const struct hr_pl *pl, uint64_t max, uint64_t *v)
{
	return pl_u64(pl, max, v, false);
}

int hr_pl_u64_clamp(const struct hr_pl *pl, uint64_t max, uint64_t *v)
{
	return pl_u64(pl, max, v, true);
}

char *hr_pl_strdup(const struct hr_pl *pl)
{
	char *s = hr_mem_alloc(pl->len + 1, NULL);

	if (!s)
		return NULL;
	if (pl->len)
		memcpy(s, pl->p, pl->len);
	s[pl->len] = '\0';
	return s;
}

int hr_pl_strcpy(const struct hr_pl *pl, char *dst, size_t n)
{
	size_t len = pl->len;
	int err = 0;

	if (n == 0)
		return ENOSPC;
	if (len >= n) {
		len = n - 1;
		err = ENOSPC;
	}
	if (len)
		memcpy(dst, pl->p, len);
	dst[len] = '\0';
	return err;
}

const char *hr_pl_chr(const struct hr_pl *pl, char c)
{
	if (!pl->p || !pl->len)
		return NULL;
	return memchr(pl->p, c, pl->len);
}

size_t hr_strpack_size(const char *const *v, size_t n)
{
	size_t size = 0;

	for (size_t i = 0; i < n; i++)
		size += (v[i] ? strlen(v[i]) : 0) + 1;
	return size;
}

const char *hr_strpack(char **p, const char *s)
{
	const char *start = *p;
	size_t n = s ? strlen(s) : 0;

	memcpy(*p, s ? s : "", n);
	(*p)[n] = '\0';
	*p += n + 1;
	return start;
}

char **hr_strv_lower(const char *const *v, unsigned n)
{
	char **out = hr_mem_alloc(n * sizeof(char *) +
		hr_strpack_size(v, n), NULL);
	char *p;

	if (!out)
		return NULL;
	p = (char *)(out + n);
	for (unsigned i = 0; i < n; i++) {
		out[i] = (char *)hr_strpack(&p, v[i]);
		for (char *c = out[i]; *c; c++)
			*c = (char)hr_lower[(unsigned char)*c];
	}
	return out;
}
