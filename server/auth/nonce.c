/*
 * Stateless nonces and the nc table.
 *
 * nonce = hex(ts || rand || HMAC-SHA256(secret, ts || rand || realm)[0..16))
 * with ts the wall-clock seconds, so any nonce we issued can be checked
 * without a table, across restarts, as long as the secret stays. Only the
 * nc replay check needs state: the highest nc seen per nonce, recorded
 * only after a correct response, dropped once the nonce has expired.
 */
#include <errno.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "auth_int.h"

/* A nonce from a clock up to this far ahead is still taken as fresh. */
#define SKEW_S 60

struct ncent {
	struct hr_le he;        /* in a->nct */
	struct hr_le le;        /* in a->ncl */
	struct hr_auth *a;      /* not referenced: a flushes us first */
	uint8_t raw[HR_NONCE_RAW];
	int64_t ts;
	uint32_t nc;
};

int64_t hr_auth_now(const struct hr_auth *a)
{
	return hr_wall_s() + a->time_off;
}

void hr_auth_time_advance(struct hr_auth *a, int64_t s)
{
	if (a)
		a->time_off += s;
}

/* On a->work, re-initialised with the key it has: a copy of a->mac for
 * each MAC cost several mallocs and frees (issue 20: EVP_MAC_CTX_dup was
 * 3 % of the REGISTER maximum). Core thread only, as all of hr_auth. */
int hr_auth_mac(const struct hr_auth *a, const struct hr_pl *part,
	size_t n, uint8_t *out, size_t olen)
{
	uint8_t full[EVP_MAX_MD_SIZE];
	size_t len = 0;
	int ok;

	ok = EVP_MAC_init(a->work, NULL, 0, NULL);
	for (size_t i = 0; ok && i < n; i++)
		ok = EVP_MAC_update(a->work, (const uint8_t *)part[i].p,
			part[i].len);
	if (ok)
		ok = EVP_MAC_final(a->work, full, &len, sizeof(full));
	if (!ok || len < olen)
		return ENOMEM;
	memcpy(out, full, olen);
	OPENSSL_cleanse(full, sizeof(full));
	return 0;
}

static int mac(const struct hr_auth *a, const uint8_t *tsrand,
	const char *realm, uint8_t out[HR_NONCE_MAC])
{
	struct hr_pl part[2] = {
		{ (const char *)tsrand, HR_NONCE_TS + HR_NONCE_RAND },
		hr_pl_str(realm),
	};

	return hr_auth_mac(a, part, 2, out, HR_NONCE_MAC);
}

static void put_ts(uint8_t *p, int64_t ts)
{
	uint64_t v = (uint64_t)ts;

	for (int i = HR_NONCE_TS - 1; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static int64_t get_ts(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < HR_NONCE_TS; i++)
		v = v << 8 | p[i];
	return (int64_t)v;
}

int hr_nonce_make(const struct hr_auth *a, const char *realm, char *out,
	size_t n)
{
	uint8_t raw[HR_NONCE_RAW];
	int err;

	if (n < HR_NONCE_HEX + 1)
		return ENOSPC;
	put_ts(raw, hr_auth_now(a));
	hr_rand_bytes(raw + HR_NONCE_TS, HR_NONCE_RAND);
	err = mac(a, raw, realm, raw + HR_NONCE_TS + HR_NONCE_RAND);
	if (err)
		return err;
	hr_auth_hex(out, raw, HR_NONCE_RAW);
	return 0;
}

static int unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;  /* uppercase too: one nonce, one spelling */
}

static bool decode(const struct hr_pl *nonce, uint8_t raw[HR_NONCE_RAW])
{
	if (!hr_pl_isset(nonce) || nonce->len != HR_NONCE_HEX)
		return false;
	for (size_t i = 0; i < HR_NONCE_RAW; i++) {
		int hi = unhex(nonce->p[2 * i]);
		int lo = unhex(nonce->p[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		raw[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

enum hr_nonce_state hr_nonce_check(const struct hr_auth *a,
	const struct hr_pl *nonce, const char *realm,
	uint8_t raw[HR_NONCE_RAW])
{
	uint8_t want[HR_NONCE_MAC];
	int64_t ts, now;

	if (!decode(nonce, raw) || mac(a, raw, realm, want))
		return HR_NONCE_FOREIGN;
	if (CRYPTO_memcmp(want, raw + HR_NONCE_TS + HR_NONCE_RAND,
		HR_NONCE_MAC))
		return HR_NONCE_FOREIGN;
	ts = get_ts(raw);
	now = hr_auth_now(a);
	/* a clock that went back a long way: make the client start over */
	if (ts > now + SKEW_S || now - ts >= (int64_t)a->ttl_s)
		return HR_NONCE_STALE;
	return HR_NONCE_VALID;
}

static void ncent_destroy(void *data)
{
	struct ncent *e = data;

	hr_hash_unlink(&e->a->nct, &e->he);
	hr_list_unlink(&e->le);
}

static struct ncent *lookup(const struct hr_auth *a,
	const uint8_t raw[HR_NONCE_RAW], uint32_t key)
{
	struct hr_list *l = hr_hash_list(&a->nct, key);

	for (struct hr_le *le = l->head; le; le = le->next) {
		struct ncent *e = le->data;

		if (!memcmp(e->raw, raw, HR_NONCE_RAW))
			return e;
	}
	return NULL;
}

/* Expired entries go from the front; when the table is full the oldest
 * goes too, and every nonce as old as it is then treated as stale, so an
 * eviction never reopens a replay. */
static void prune(struct hr_auth *a)
{
	int64_t now = hr_auth_now(a);

	while (a->ncl.head) {
		struct ncent *e = a->ncl.head->data;
		bool expired = now - e->ts >= (int64_t)a->ttl_s;

		if (!expired && a->ncl.n < a->nc_max)
			break;
		if (!expired && e->ts > a->floor_ts)
			a->floor_ts = e->ts;
		hr_mem_deref(e);
	}
}

enum hr_nc_state hr_nonce_nc(struct hr_auth *a,
	const uint8_t raw[HR_NONCE_RAW], uint32_t nc)
{
	uint32_t key = hr_hash_bytes(raw, HR_NONCE_RAW);
	struct ncent *e = lookup(a, raw, key);

	if (e) {
		if (nc <= e->nc)
			return HR_NC_REPLAY;
		e->nc = nc;
		return HR_NC_OK;
	}
	if (get_ts(raw) <= a->floor_ts)
		return HR_NC_UNTRACKED;
	prune(a);
	e = hr_mem_zalloc(sizeof(*e), ncent_destroy);
	if (!e)
		return HR_NC_UNTRACKED;  /* refuse rather than forget */
	e->a = a;
	memcpy(e->raw, raw, HR_NONCE_RAW);
	e->ts = get_ts(raw);
	e->nc = nc;
	hr_hash_append(&a->nct, key, &e->he, e);
	hr_list_append(&a->ncl, &e->le, e);
	return HR_NC_OK;
}

void hr_nonce_flush(struct hr_auth *a)
{
	while (a->ncl.head)
		hr_mem_deref(a->ncl.head->data);
}

size_t hr_auth_nonce_count(const struct hr_auth *a)
{
	return a ? a->ncl.n : 0;
}
