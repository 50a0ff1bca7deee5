/*
 * Limits per source address: requests a second (a token bucket) and open
 * accepted TCP connections, so that no one client takes the server from
 * the others. Sources live in a fixed table that never grows: a set of
 * WAYS entries picked by a seeded hash of the address. An entry whose
 * bucket is full again and that holds no connection is as good as a new
 * one, so it is taken over by the next source that needs room; when a
 * set has none, the entry closest to full goes (that source gains a few
 * tokens, nobody loses any). Entries holding connections stay: their
 * number is bounded by --tcp-max-connections, and the table has four
 * times as many entries. A source whose set is all held by connections
 * is not limited (the global limits still hold).
 *
 * IPv6 sources are counted by their /64: one host has a whole prefix to
 * pick addresses from.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "sip_int.h"

#define HR_LOG_MODULE "sip"

#define WAYS 8
#define BURST_S 2        /* a bucket holds this many seconds of the rate */
#define ANSWER_PER_S 5   /* 503s a second to one source over its rate; the
			  * rest of a flood is dropped */
#define MILLI 1000       /* tokens are counted in thousandths */

struct src {
	uint8_t key[16];
	uint64_t at_ms;     /* when tokens was last brought up to date */
	uint64_t tokens;    /* thousandths of a request */
	uint32_t tcp;       /* accepted connections open */
	uint32_t told_s;    /* the second of the last 503s... */
	uint16_t told;      /* ...and how many went out in it */
	bool used;
};

struct hr_srclim {
	struct src *v;
	uint32_t mask;      /* sets - 1 */
	uint64_t seed;
	unsigned rate;      /* requests a second; 0: no limit */
	unsigned max_tcp;   /* connections; 0: no limit */
	size_t n;           /* entries holding a source */
};

static void srclim_destroy(void *data)
{
	struct hr_srclim *sl = data;

	free(sl->v);
}

int hr_srclim_alloc(struct hr_srclim **slp, unsigned rate, unsigned max_tcp,
	unsigned size)
{
	struct hr_srclim *sl;
	uint32_t sets = 1;

	if (!slp)
		return EINVAL;
	/* at most 2^20 entries (48 MB): beyond, sets only grow busier */
	while (sets * WAYS < size && sets * WAYS < (1u << 20))
		sets <<= 1;
	sl = hr_mem_zalloc(sizeof(*sl), srclim_destroy);
	if (!sl)
		return ENOMEM;
	sl->v = calloc((size_t)sets * WAYS, sizeof(*sl->v));
	if (!sl->v) {
		hr_mem_deref(sl);
		return ENOMEM;
	}
	sl->mask = sets - 1;
	sl->seed = hr_rand_u64();
	sl->rate = rate;
	sl->max_tcp = max_tcp;
	*slp = sl;
	return 0;
}

/* The address as 16 bytes: IPv4 mapped, IPv6 cut to its /64. */
static void src_key(const struct hr_sa *sa, uint8_t key[16])
{
	const struct in6_addr *a6 = &sa->u.in6.sin6_addr;

	memset(key, 0, 16);
	if (sa->u.sa.sa_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &sa->u.in.sin_addr, 4);
	} else if (sa->u.sa.sa_family == AF_INET6) {
		memcpy(key, a6, IN6_IS_ADDR_V4MAPPED(a6) ? 16 : 8);
	}
}

static uint64_t burst(const struct hr_srclim *sl)
{
	return (uint64_t)BURST_S * MILLI * sl->rate;
}

/* The bucket as it is at now, without changing the entry. */
static uint64_t tokens_at(const struct hr_srclim *sl, const struct src *e,
	uint64_t now)
{
	uint64_t t = e->tokens;

	/* rate requests a second are rate thousandths a millisecond */
	if (now > e->at_ms)
		t += (now - e->at_ms) * sl->rate;
	return t < burst(sl) ? t : burst(sl);
}

/* Holds nothing a new entry would not: may be taken over. */
static bool idle(const struct hr_srclim *sl, const struct src *e,
	uint64_t now)
{
	return !e->used || (!e->tcp && tokens_at(sl, e, now) >= burst(sl));
}

/* Room in a set: an idle entry, else the one closest to full that holds
 * no connection, else NULL. */
static struct src *victim(struct hr_srclim *sl, struct src *set,
	uint64_t now)
{
	struct src *best = NULL;
	uint64_t most = 0;

	for (unsigned i = 0; i < WAYS; i++) {
		struct src *e = &set[i];

		if (idle(sl, e, now))
			return e;
		if (!e->tcp && (!best || tokens_at(sl, e, now) > most)) {
			best = e;
			most = tokens_at(sl, e, now);
		}
	}
	return best;
}

/* The entry of sa, made when needed; NULL when its set has no room. */
static struct src *lookup(struct hr_srclim *sl, const struct hr_sa *sa,
	uint64_t now)
{
	uint8_t buf[8 + 16];
	struct src *set, *e;

	memcpy(buf, &sl->seed, 8);
	src_key(sa, buf + 8);
	set = &sl->v[(size_t)(hr_hash_bytes(buf, sizeof(buf)) & sl->mask) *
		WAYS];
	for (unsigned i = 0; i < WAYS; i++) {
		if (set[i].used && !memcmp(set[i].key, buf + 8, 16))
			return &set[i];
	}
	e = victim(sl, set, now);
	if (!e)
		return NULL;
	if (!e->used)
		sl->n++;
	memset(e, 0, sizeof(*e));
	memcpy(e->key, buf + 8, 16);
	e->used = true;
	e->at_ms = now;
	e->tokens = burst(sl);
	return e;
}

enum hr_srclim_verdict hr_srclim_request(struct hr_srclim *sl,
	const struct hr_sa *src)
{
	uint64_t now = hr_now_ms();
	uint32_t now_s = (uint32_t)(now / 1000);
	struct src *e;

	if (!sl || !sl->rate)
		return HR_SRC_PASS;
	e = lookup(sl, src, now);
	if (!e)
		return HR_SRC_PASS;
	e->tokens = tokens_at(sl, e, now);
	e->at_ms = now;
	if (e->tokens >= MILLI) {
		e->tokens -= MILLI;
		return HR_SRC_PASS;
	}
	if (e->told_s != now_s) {
		e->told_s = now_s;
		e->told = 0;
	}
	if (e->told >= ANSWER_PER_S)
		return HR_SRC_DROP;
	e->told++;
	return HR_SRC_REFUSE;
}

int hr_srclim_conn_open(struct hr_srclim *sl, const struct hr_sa *src,
	uint32_t *slot)
{
	struct src *e;

	*slot = 0;
	if (!sl || !sl->max_tcp)
		return 0;
	e = lookup(sl, src, hr_now_ms());
	if (!e)
		return 0;
	if (e->tcp >= sl->max_tcp)
		return EBUSY;
	e->tcp++;
	*slot = (uint32_t)(e - sl->v) + 1;
	return 0;
}

void hr_srclim_conn_close(struct hr_srclim *sl, uint32_t slot)
{
	struct src *e;

	if (!sl || !slot)
		return;
	/* an entry with connections is never taken over: still this one */
	e = &sl->v[slot - 1];
	if (e->tcp)
		e->tcp--;
}

size_t hr_srclim_count(const struct hr_srclim *sl)
{
	return sl ? sl->n : 0;
}
