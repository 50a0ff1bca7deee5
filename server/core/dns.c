/*
 * Host names to addresses, without blocking the core loop: libevent's evdns
 * (A and AAAA through evdns_getaddrinfo, /etc/hosts first). There is no SRV
 * here because evdns has no SRV lookup. Core thread only.
 *
 * A query belongs to this file from the moment evdns accepts it until evdns
 * calls back, even when the caller cancels: evdns_getaddrinfo_cancel() does
 * not stop the callback, it only turns it into EVUTIL_EAI_CANCEL, delivered
 * later from the loop. So cancelling clears the handler and the callback
 * frees the query; nothing evdns may still call into is ever freed first.
 *
 * evdns keeps no cache of its own: hr_dns_lookup() keeps the names it
 * resolved for a while (HR_DNS_TTL_MS), a few of them, keyed by host.
 * Failures are not kept: the next lookup of such a name asks again.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include "core.h"

#define HR_LOG_MODULE "dns"

enum {
	HOST_MAX = 255,      /* RFC 1035 2.3.4 */
	FLUSH_MAX = 100,     /* loop passes hr_dns_close() allows libevent */
	CACHE_MAX = 256,     /* names kept by hr_dns_lookup() */
};

struct hr_dns_query {
	struct hr_le le;      /* in `queries` while evdns holds the query */
	struct evdns_getaddrinfo_request *req;
	hr_dns_h *h;          /* NULL once cancelled */
	void *arg;
	uint16_t port;
	bool sync;            /* evdns_getaddrinfo() has not returned yet */
	bool done;            /* evdns has called back */
	int err;              /* the outcome, when evdns answered at once */
	struct hr_sa addr;
	bool cache;           /* hr_dns_lookup's: keep what it finds */
	char host[];
};

/* A name hr_dns_lookup() resolved, and until when its address holds. */
struct cached {
	struct hr_le le_host;   /* in cache */
	struct hr_le le_age;    /* in ages, the oldest first */
	struct hr_sa addr;
	uint64_t until_ms;
	char host[];
};

static struct evdns_base *dns;
static struct event_base *dns_loop;  /* the loop dns was made on */
static struct hr_list queries;
static bool closing;
static struct hr_hash cache;
static struct hr_list ages;

/* ---- the cache ---- */

static struct cached *cache_find(const char *host)
{
	if (!cache.bucket)
		return NULL;
	return hr_hash_find_str(&cache, host, offsetof(struct cached, host));
}

static void cache_drop(struct cached *c)
{
	hr_hash_unlink(&cache, &c->le_host);
	hr_list_unlink(&c->le_age);
	free(c);
}

static void cache_clear(void)
{
	while (ages.head)
		cache_drop(ages.head->data);
	hr_hash_reset(&cache);
}

/* Keep host's address (any port) for HR_DNS_TTL_MS; when full, the
 * oldest name goes. Without memory nothing is kept: the next lookup asks
 * again. */
static void cache_put(const char *host, const struct hr_sa *addr)
{
	struct cached *c = cache_find(host);
	size_t n = strlen(host);

	if (!c) {
		if (!cache.bucket && hr_hash_init(&cache, CACHE_MAX))
			return;
		if (ages.n >= CACHE_MAX)
			cache_drop(ages.head->data);
		c = calloc(1, sizeof(*c) + n + 1);
		if (!c)
			return;
		memcpy(c->host, host, n + 1);
		hr_hash_append(&cache, hr_hash_bytes(host, n), &c->le_host, c);
	} else {
		hr_list_unlink(&c->le_age);
	}
	hr_list_append(&ages, &c->le_age, c);
	c->addr = *addr;
	c->until_ms = hr_now_ms() + HR_DNS_TTL_MS;
}

/* host's address with port, while it holds: 0 or ENOENT. */
static int cache_get(const char *host, uint16_t port, struct hr_sa *addr)
{
	struct cached *c = cache_find(host);

	if (!c || c->until_ms <= hr_now_ms())
		return ENOENT;
	*addr = c->addr;
	hr_sa_set_port(addr, port);
	return 0;
}

/* ---- evdns ---- */

static void evdns_log(int is_warn, const char *msg)
{
	if (is_warn)
		HR_WARN("evdns: %s", msg);
	else
		HR_DEBUG("evdns: %s", msg);
}

static void configure(struct evdns_base *base)
{
	/* one nameserver that does not answer costs a lookup about
	 * timeout * attempts, not libevent's 5 s * 3 */
	evdns_base_set_option(base, "timeout:", "2");
	evdns_base_set_option(base, "attempts:", "2");
	/* Load the hosts file ourselves, whatever resolv.conf parsing did:
	 * evdns_base_load_hosts(base, NULL) would only add "localhost". When
	 * the file cannot be read, libevent still adds localhost. */
	evdns_base_clear_host_addresses(base);
	if (evdns_base_load_hosts(base, "/etc/hosts") < 0)
		HR_DEBUG("cannot read /etc/hosts: localhost only");
}

/* The loop dns was made on is gone: its events went with it, so it cannot
 * be freed any more. Only a caller that skips hr_dns_close() gets here. */
static void forget(void)
{
	HR_ERROR("the loop closed before hr_dns_close(): resolver leaked");
	dns = NULL;
	dns_loop = NULL;
	queries = (struct hr_list){ 0 };  /* theirs will never end */
}

static struct evdns_base *base_get(void)
{
	struct event_base *loop = hr_loop_base();

	if (dns && dns_loop != loop)
		forget();
	if (dns || !loop)
		return dns;
	evdns_set_log_fn(evdns_log);
	dns = evdns_base_new(loop, EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (!dns) {
		/* e.g. a resolv.conf without nameservers: keep the hosts
		 * file, and ask 127.0.0.1 as libevent does by default */
		HR_WARN("cannot configure nameservers from /etc/resolv.conf: "
			"using 127.0.0.1");
		dns = evdns_base_new(loop, 0);
		if (!dns)
			return NULL;
		if (evdns_base_nameserver_ip_add(dns, "127.0.0.1") != 0)
			HR_WARN("cannot add nameserver 127.0.0.1");
	}
	configure(dns);
	dns_loop = loop;
	return dns;
}

static int gai_err(int result)
{
	switch (result) {
	case 0:
		return 0;
	case EVUTIL_EAI_NONAME:
	case EVUTIL_EAI_NODATA:
		return ENOENT;
	/* evdns reports a timeout, SERVFAIL, REFUSED and an answer without
	 * records all as EAI_FAIL; EAI_AGAIN is one of A/AAAA failed and the
	 * other late */
	case EVUTIL_EAI_FAIL:
	case EVUTIL_EAI_AGAIN:
		return ETIMEDOUT;
	case EVUTIL_EAI_MEMORY:
		return ENOMEM;
	case EVUTIL_EAI_CANCEL:
		return ECANCELED;
	case EVUTIL_EAI_FAMILY:
	case EVUTIL_EAI_SERVICE:
	case EVUTIL_EAI_SOCKTYPE:
	case EVUTIL_EAI_BADFLAGS:
		return EINVAL;
	default:
		return EIO;
	}
}

/* The first IPv4 address, else the first IPv6 one: 0 or ENOENT. */
static int pick(struct hr_sa *sa, const struct evutil_addrinfo *res,
	uint16_t port)
{
	static const int families[] = { AF_INET, AF_INET6 };

	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		for (const struct evutil_addrinfo *ai = res; ai;
			ai = ai->ai_next) {
			if (ai->ai_family != families[i] ||
				ai->ai_addrlen > sizeof(sa->u))
				continue;
			memset(sa, 0, sizeof(*sa));
			memcpy(&sa->u, ai->ai_addr, ai->ai_addrlen);
			sa->len = (socklen_t)ai->ai_addrlen;
			hr_sa_set_port(sa, port);
			return 0;
		}
	}
	return ENOENT;
}

/* evdns calls this exactly once per accepted query: from inside
 * evdns_getaddrinfo() (hosts file, or an error at once), or later from the
 * loop, and after a cancel too (EVUTIL_EAI_CANCEL). */
static void gai_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct hr_dns_query *q = arg;

	q->err = result ? gai_err(result) : pick(&q->addr, res, q->port);
	if (res)
		evutil_freeaddrinfo(res);
	q->done = true;
	q->req = NULL;  /* evdns frees it after this returns */
	if (!q->err && q->cache)
		cache_put(q->host, &q->addr);
	if (q->sync)
		return;  /* hr_dns_resolve() hands the outcome over */
	hr_list_unlink(&q->le);
	/* q lives until h returns, so that h may still cancel it (no-op) */
	if (q->h) {
		HR_DEBUG("lookup done: %s",
			q->err ? hr_strerror(q->err) : "ok");
		q->h(q->err, q->err ? NULL : &q->addr, q->arg);
	}
	hr_mem_deref(q);
}

static int start(const char *host, uint16_t port, bool keep,
	struct hr_sa *addr, hr_dns_h *h, void *arg, struct hr_dns_query **qp)
{
	struct evutil_addrinfo hints;
	struct evdns_base *base = base_get();
	struct hr_dns_query *q;
	int err;

	if (!base)
		return hr_loop_base() ? ENOMEM : EINVAL;
	q = hr_mem_zalloc(sizeof(*q) + (keep ? strlen(host) + 1 : 0), NULL);
	if (!q)
		return ENOMEM;
	q->cache = keep;
	if (keep)
		memcpy(q->host, host, strlen(host) + 1);
	q->h = h;
	q->arg = arg;
	q->port = port;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	/* one entry per address; which transport is the caller's choice */
	hints.ai_socktype = SOCK_DGRAM;
	q->sync = true;
	q->req = evdns_getaddrinfo(base, host, NULL, &hints, gai_cb, q);
	q->sync = false;
	if (q->done) {
		/* answered inside the call: the same rule as an IP literal */
		err = q->err;
		if (!err)
			*addr = q->addr;
		hr_mem_deref(q);
		return err;
	}
	hr_list_append(&queries, &q->le, q);
	if (qp)
		*qp = q;
	HR_DEBUG("looking up %s", host);
	return EINPROGRESS;
}

static int resolve(const char *host, uint16_t port, bool keep,
	struct hr_sa *addr, hr_dns_h *h, void *arg, struct hr_dns_query **qp)
{
	if (qp)
		*qp = NULL;
	if (!host || !*host || strlen(host) > HOST_MAX || !addr || !h)
		return EINVAL;
	if (hr_sa_set(addr, host, port) == 0)
		return 0;
	if (keep && !cache_get(host, port, addr))
		return 0;
	if (closing)
		return ESHUTDOWN;
	return start(host, port, keep, addr, h, arg, qp);
}

int hr_dns_resolve(const char *host, uint16_t port, struct hr_sa *addr,
	hr_dns_h *h, void *arg, struct hr_dns_query **qp)
{
	return resolve(host, port, false, addr, h, arg, qp);
}

int hr_dns_lookup(const char *host, uint16_t port, struct hr_sa *addr,
	hr_dns_h *h, void *arg, struct hr_dns_query **qp)
{
	return resolve(host, port, true, addr, h, arg, qp);
}

void hr_dns_cancel(struct hr_dns_query *q)
{
	if (!q || !q->h)
		return;
	q->h = NULL;
	/* evdns still calls gai_cb once (EVUTIL_EAI_CANCEL), which frees q */
	if (!q->done && q->req)
		evdns_getaddrinfo_cancel(q->req);
}

void hr_dns_close(void)
{
	struct event_base *loop = hr_loop_base();
	bool flushed = false;

	cache_clear();
	if (!dns)
		return;
	if (loop != dns_loop) {
		forget();
		return;
	}
	for (struct hr_le *le = queries.head; le; le = le->next)
		hr_dns_cancel(le->data);
	/* evdns delivers cancellations, and the end of a lookup whose answer
	 * was given early (A without AAAA), as deferred callbacks on the loop,
	 * and those use the evdns_base. Let them run before freeing it, or
	 * libevent's requests leak. At least one pass, for the latter. */
	closing = true;
	for (int i = 0; i < FLUSH_MAX; i++) {
		/* -1: called from a callback, and libevent does not nest */
		flushed = event_base_loop(loop, EVLOOP_NONBLOCK) >= 0;
		if (!flushed || !queries.n)
			break;
	}
	closing = false;
	if (!flushed || queries.n) {
		/* freeing now would leave evdns callbacks to freed memory;
		 * the cancelled lookups end when the loop runs again */
		HR_ERROR("resolver not closed: %zu lookups still with evdns",
			queries.n);
		return;
	}
	evdns_base_free(dns, 0);
	dns = NULL;
	dns_loop = NULL;
	/* freeing the nameservers cancels their probes: the same again */
	event_base_loop(loop, EVLOOP_NONBLOCK);
}
