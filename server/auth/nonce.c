/*
 * Stateless nonces and the nc table.
 *
 * nonce = hex(ts || node || rand || HMAC-SHA256(secret, ts || node || rand
 * || realm)[0..16)) with ts the wall-clock seconds, so any nonce we issued
 * can be checked without a table, across restarts, as long as the secret
 * stays. Only the nc replay check needs state: the highest nc seen per
 * nonce, recorded only after a correct response, dropped once the nonce
 * has expired.
 *
 * The nodes of a cluster share the secret but not their nc tables: a
 * nonce names the node that issued it (node, a tag of its id), and another
 * node takes it as stale (RFC 7616 3.4: stale=true, the client answers a
 * new challenge without asking its user), so that a nonce counted on one
 * node cannot be replayed on another.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "auth_int.h"

/* A nonce from a clock up to this far ahead is still taken as fresh. */
#define SKEW_S 60

/* The nc table's buckets: a quarter of its entries, within these. */
#define NCT_MIN 16
#define NCT_MAX 16384

/*
 * One nonce's highest nc: 48 bytes, for every nonce a client answered
 * correctly within its lifetime (issue 20: the intrusive lists and the
 * refcount header took 136). Keyed by ts || rand alone: the MAC was
 * checked before, so two entries with those equal are one nonce. Entries
 * come and go in the order of the queue (prune() from its head), so the
 * queue needs one link, and a bucket's chain one more.
 */
struct ncent {
	struct ncent *hnext;    /* its bucket's chain */
	struct ncent *qnext;    /* the queue: the next newer entry */
	uint8_t key[HR_NONCE_TS + HR_NONCE_RAND];
	uint32_t nc;
	bool slab;              /* from hr_slab_get, else malloc */
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
	memcpy(raw + HR_NONCE_TS, a->node, HR_NONCE_NODE);
	hr_rand_bytes(raw + HR_NONCE_TS + HR_NONCE_NODE,
		HR_NONCE_RAND - HR_NONCE_NODE);
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
	/* another node's: its nc table is not ours */
	if (memcmp(raw + HR_NONCE_TS, a->node, HR_NONCE_NODE))
		return HR_NONCE_STALE;
	ts = get_ts(raw);
	now = hr_auth_now(a);
	/* a clock that went back a long way: make the client start over */
	if (ts > now + SKEW_S || now - ts >= (int64_t)a->ttl_s)
		return HR_NONCE_STALE;
	return HR_NONCE_VALID;
}

int hr_nonce_init(struct hr_auth *a)
{
	uint32_t n = NCT_MIN;

	while (n < a->nc_max / 4 && n < NCT_MAX)
		n <<= 1;
	a->nct = calloc(n, sizeof(*a->nct));
	if (!a->nct)
		return ENOMEM;
	a->nct_mask = n - 1;
	return 0;
}

static struct ncent **bucket(const struct hr_auth *a, const uint8_t *key)
{
	return &a->nct[hr_hash_bytes(key, HR_NONCE_TS + HR_NONCE_RAND) &
		a->nct_mask];
}

static struct ncent *lookup(const struct hr_auth *a, const uint8_t *key)
{
	for (struct ncent *e = *bucket(a, key); e; e = e->hnext) {
		if (!memcmp(e->key, key, sizeof(e->key)))
			return e;
	}
	return NULL;
}

/* The queue's oldest entry leaves the table and the queue. */
static void drop_head(struct hr_auth *a)
{
	struct ncent *e = a->nc_head;
	struct ncent **pp = bucket(a, e->key);

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	a->nc_head = e->qnext;
	if (!a->nc_head)
		a->nc_tail = NULL;
	a->nc_n--;
	if (e->slab)
		hr_slab_put(e, sizeof(*e));
	else
		free(e);
}

/* Expired entries go from the front; when the table is full the oldest
 * goes too, and every nonce as old as it is then treated as stale, so an
 * eviction never reopens a replay. */
static void prune(struct hr_auth *a)
{
	int64_t now = hr_auth_now(a);

	while (a->nc_head) {
		int64_t ts = get_ts(a->nc_head->key);
		bool expired = now - ts >= (int64_t)a->ttl_s;

		if (!expired && a->nc_n < a->nc_max)
			break;
		if (!expired && ts > a->floor_ts)
			a->floor_ts = ts;
		drop_head(a);
	}
}

enum hr_nc_state hr_nonce_nc(struct hr_auth *a,
	const uint8_t raw[HR_NONCE_RAW], uint32_t nc)
{
	struct ncent *e = lookup(a, raw);
	struct ncent **b;

	if (e) {
		if (nc <= e->nc)
			return HR_NC_REPLAY;
		e->nc = nc;
		return HR_NC_OK;
	}
	if (get_ts(raw) <= a->floor_ts)
		return HR_NC_UNTRACKED;
	prune(a);
	/* it lives as long as the nonce: beside the others, not among the
	 * requests (slab.c) */
	e = hr_slab_get(sizeof(*e));
	if (e) {
		e->slab = true;
	} else {
		e = malloc(sizeof(*e));
		if (!e)
			return HR_NC_UNTRACKED;  /* refuse rather than forget */
		e->slab = false;
	}
	memcpy(e->key, raw, sizeof(e->key));
	e->nc = nc;
	b = bucket(a, e->key);
	e->hnext = *b;
	*b = e;
	e->qnext = NULL;
	if (a->nc_tail)
		a->nc_tail->qnext = e;
	else
		a->nc_head = e;
	a->nc_tail = e;
	a->nc_n++;
	return HR_NC_OK;
}

void hr_nonce_flush(struct hr_auth *a)
{
	if (!a->nct)
		return;
	while (a->nc_head)
		drop_head(a);
	free(a->nct);
	a->nct = NULL;
}

size_t hr_auth_nonce_count(const struct hr_auth *a)
{
	return a ? a->nc_n : 0;
}
