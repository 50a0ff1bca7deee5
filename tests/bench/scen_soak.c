/*
 * soak: a memory soak. A steady population of --users N users (default
 * 5000) each keeps three things alive in Herald for as long as the run
 * lasts, one request at a time, at a fixed total --rate (default 2000
 * requests' exchanges a second):
 *
 *   binding       REGISTER of Contact <sip:uK@OURHOST:OURPORT> to
 *                 sip:DOMAIN, Expires 3600, Call-ID "b<K>.<life>-<run>"
 *                 kept, CSeq + 1 at each refresh (RFC 3261 10.2.4)
 *   publication   PUBLISH for sip:uK@DOMAIN (RFC 3903): initial with a
 *                 PIDF body, then with SIP-If-Match a refresh (no body)
 *                 and a modify (basic closed, open, ...) in turn; Call-ID
 *                 "p<K>.<life>-<run>"
 *   subscription  SUBSCRIBE (RFC 6665) by uK: odd K to its own reg, even K
 *                 to u(K+1)'s presence (a same-domain watcher); refreshed
 *                 in its dialog, Expires 3600
 *
 * One op is one exchange on one thing: the things are taken round-robin,
 * all bindings, then all publications, then all subscriptions, so the
 * first 3N ops make the population and every later op refreshes, in turn,
 * what they made. Churn: one turn in CHURN of a live thing removes it
 * instead (Expires 0, in its dialog for a subscription), and its next
 * turn makes it anew with a new Call-ID, so objects are created and freed
 * in Herald all along.
 *
 * Each thing keeps its own challenge: its first request goes without
 * credentials and is answered 401, later ones answer that nonce again with
 * the next nc (as publish does), a 401 to credentials (a stale nonce) is
 * answered once more. Any other final status than 2xx and those 401s,
 * and every timeout, is a failure: the thing is then believed gone and
 * made anew at its next turn. NOTIFYs are answered by the engine and
 * counted.
 *
 * With --pid, the VmRSS of that process (Herald) is sampled along the run
 * (rss.c) and the summary says whether it reached a plateau. After the
 * summary the teardown removes every thing believed live.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "auth/auth.h"
#include "bench.h"

#define SOAK_USERS 5000
#define SOAK_RATE 2000
#define CHURN 10                /* one turn in CHURN removes the thing */
#define CALLID_MAX 64
#define DOWN_WINDOW 256         /* the teardown's: UDP bursts that fit */

enum soak_kind {
	SK_BINDING = 0,
	SK_PUBLICATION,
	SK_SUBSCRIPTION,
	SK_N,
};

enum soak_step {
	SS_MAKE = 0,
	SS_REFRESH,
	SS_REMOVE,
	SS_N,
};

enum soak_phase {
	SP_RUN = 0,
	SP_DOWN,
};

/* One binding, publication or subscription of a user. */
struct thing {
	struct bench_pub_auth a;        /* its kept challenge */
	const struct bench_op *op;      /* running it, while busy */
	uint32_t gen;                   /* of that op */
	uint32_t life;                  /* its Call-ID's generation */
	uint32_t cseq;
	uint32_t turns;                 /* refreshes since it was made */
	uint8_t step;                   /* in flight */
	bool busy;
	bool live;                      /* a 2xx made it; no removal since */
};

struct soak_user {
	struct thing t[SK_N];
	uint8_t etag_len;
	char etag[BENCH_ETAG_MAX];      /* the publication's */
	struct bench_sub_dlg dlg;       /* the subscription's */
};

struct soak_op {
	uint32_t k;                     /* the user uK */
	uint8_t kind;
	bool retried;                   /* this request was challenged */
};

static struct {
	struct soak_user *u;            /* u[K - 1] */
	uint32_t n;
	uint64_t cursor;                /* the next thing, round-robin */
	enum soak_phase phase;
	uint64_t rng;
	uint64_t t0;                    /* the run's first op, ns */
	struct bench_rss rss;
	uint64_t ok[SK_N][SS_N];        /* 2xx, by thing and step */
	uint64_t notifies, terminated;
	uint64_t challenges, rechallenges;
	uint64_t no_etag, no_dialog, lost, no_idle;
	uint64_t status[7];             /* other final statuses, by class */
	uint64_t failed;
} soak;

static const char *const kind_name[SK_N] = { "b", "p", "s" };

/* xorshift64: which turn churns, not cryptography */
static uint64_t rnd(void)
{
	soak.rng ^= soak.rng << 13;
	soak.rng ^= soak.rng >> 7;
	soak.rng ^= soak.rng << 17;
	return soak.rng;
}

/*
 * Before the engine: the population's defaults (a few thousand users at
 * a fixed rate, not --users' 100000 flat out), its table and the RSS
 * sampler. A sampler that cannot start ends the program here.
 */
static void soak_configure(struct bench_cfg *cfg)
{
	if (!cfg->users)
		cfg->users = SOAK_USERS;
	if (!cfg->rate)
		cfg->rate = SOAK_RATE;
	soak.n = cfg->users;
	soak.u = calloc(soak.n, sizeof(*soak.u));
	if (!soak.u) {
		bench_err("soak: no memory for %u users", soak.n);
		exit(1);
	}
	if (getrandom(&soak.rng, sizeof(soak.rng), 0) != sizeof(soak.rng) ||
	    !soak.rng)
		soak.rng = 0x9e3779b97f4a7c15ull;
	if (bench_rss_open(&soak.rss, cfg->pid, cfg->rss_log,
		cfg->duration_s))
		exit(1);
}

static struct thing *thing_of(const struct soak_op *o)
{
	return &soak.u[o->k - 1].t[o->kind];
}

/* ---- writing one thing's request ---- */

static void put_callid(char *buf, size_t n, const struct bench_op *op,
	const struct soak_op *o)
{
	snprintf(buf, n, "%s%u.%u-%.*s@herald-bench", kind_name[o->kind],
		o->k, thing_of(o)->life, BENCH_RUNID_LEN, bench_runid(op->b));
}

/* The kept challenge, if any, with the next nc. */
static struct hr_digest *next_chal(struct thing *t, struct hr_digest *chal,
	uint32_t *nc)
{
	if (!t->a.nonce_len)
		return NULL;
	bench_pub_auth_chal(&t->a, chal);
	*nc = ++t->a.nc;
	return chal;
}

static int put_binding(struct bench_out *out, struct bench_op *op,
	const struct soak_op *o)
{
	struct thing *t = thing_of(o);
	char callid[CALLID_MAX];
	struct hr_digest chal, *c;
	struct bench_reg r = {
		.user = o->k,
		.cseq = ++t->cseq,
		.callid = callid,
		.remove = t->step == SS_REMOVE,
	};

	put_callid(callid, sizeof(callid), op, o);
	c = next_chal(t, &chal, &r.nc);
	return bench_put_register(out, op, &r, c);
}

static int put_publication(struct bench_out *out, struct bench_op *op,
	const struct soak_op *o)
{
	struct soak_user *u = &soak.u[o->k - 1];
	struct thing *t = thing_of(o);
	char callid[CALLID_MAX];
	struct bench_pub_req q = {
		.user = o->k,
		.cseq = ++t->cseq,
		.expires = t->step == SS_REMOVE ? 0 : 3600,
		.callid = callid,
	};

	put_callid(callid, sizeof(callid), op, o);
	if (t->step == SS_MAKE) {
		q.basic = "open";
	} else {
		q.etag = u->etag;
		q.etag_len = u->etag_len;
	}
	/* every other refresh modifies: closed, open, closed, ... */
	if (t->step == SS_REFRESH && t->turns % 2)
		q.basic = t->turns % 4 == 1 ? "closed" : "open";
	return bench_put_publish(out, op, &q, t->a.nonce_len ? &t->a : NULL);
}

static int put_subscription(struct bench_out *out, struct bench_op *op,
	const struct soak_op *o)
{
	struct soak_user *u = &soak.u[o->k - 1];
	struct thing *t = thing_of(o);
	struct hr_digest chal, *c;
	char from[16];
	struct bench_sub_req r = {
		.from = from,
		.resource = o->k % 2 ? o->k : o->k % soak.n + 1,
		.expires = t->step == SS_REMOVE ? 0 : 3600,
		.presence = o->k % 2 == 0,
		.in_dialog = t->step != SS_MAKE,
	};

	bench_name_k(from, sizeof(from), 'u', o->k);
	u->dlg.cseq = ++t->cseq;
	c = next_chal(t, &chal, &r.nc);
	return bench_put_subscribe(out, op, &r, &u->dlg, c);
}

static enum bench_act soak_send(struct bench_op *op, struct bench_out *out)
{
	const struct soak_op *o = op->priv;
	int err;

	switch (o->kind) {
	case SK_BINDING:
		err = put_binding(out, op, o);
		break;
	case SK_PUBLICATION:
		err = put_publication(out, op, o);
		break;
	default:
		err = put_subscription(out, op, o);
		break;
	}
	if (!err)
		return BENCH_SEND;
	thing_of(o)->busy = false;
	thing_of(o)->live = false;
	return BENCH_FAIL;
}

/* ---- one turn of a thing ---- */

/* A thing whose op ended without telling us (timed out): gone. */
static bool reclaim(struct thing *t)
{
	if (t->busy && t->op->busy && t->op->gen == t->gen)
		return false;
	if (t->busy) {
		soak.lost++;
		t->busy = false;
		t->live = false;
	}
	return true;
}

static enum bench_act soak_begin(struct bench_op *op, uint32_t k,
	uint8_t kind, uint8_t step, struct bench_out *out)
{
	struct soak_op *o = op->priv;
	struct thing *t = &soak.u[k - 1].t[kind];

	o->k = k;
	o->kind = kind;
	t->busy = true;
	t->op = op;
	t->gen = op->gen;
	t->step = step;
	if (step == SS_MAKE) {
		t->life++;
		t->cseq = 0;
		t->turns = 0;
		if (kind == SK_SUBSCRIPTION)
			bench_sub_dlg_new(&soak.u[k - 1].dlg, op);
	}
	return soak_send(op, out);
}

static uint8_t pick_step(const struct thing *t)
{
	if (!t->live)
		return SS_MAKE;
	return rnd() % CHURN ? SS_REFRESH : SS_REMOVE;
}

static enum bench_act soak_start(struct bench_op *op, struct bench_out *out)
{
	uint64_t i, all = (uint64_t)soak.n * SK_N, now = bench_now();
	uint32_t k;
	uint8_t kind;

	if (!soak.t0)
		soak.t0 = now;
	bench_rss_poll(&soak.rss, (double)(now - soak.t0) / 1e9);
	for (i = 0; i < all; i++) {
		kind = (uint8_t)(soak.cursor % all / soak.n);
		k = (uint32_t)(soak.cursor % soak.n) + 1;
		soak.cursor++;
		if (reclaim(&soak.u[k - 1].t[kind]))
			return soak_begin(op, k, kind,
				pick_step(&soak.u[k - 1].t[kind]), out);
	}
	soak.no_idle++;         /* --window above 3 x --users */
	return BENCH_FAIL;
}

/* ---- responses ---- */

/* A 2xx: what the thing now is. */
static enum bench_act soak_ok(struct soak_op *o, struct thing *t,
	const struct bench_msg *resp)
{
	struct soak_user *u = &soak.u[o->k - 1];

	t->live = t->step != SS_REMOVE;
	if (t->step == SS_REFRESH)
		t->turns++;
	if (t->live && o->kind == SK_PUBLICATION &&
	    !bench_pub_etag_take(u->etag, &u->etag_len, resp)) {
		soak.no_etag++;
		t->live = false;
		return BENCH_FAIL;
	}
	if (t->step == SS_MAKE && o->kind == SK_SUBSCRIPTION &&
	    !bench_sub_dlg_take(&u->dlg, resp)) {
		soak.no_dialog++;
		t->live = false;
		return BENCH_FAIL;
	}
	if (soak.phase == SP_RUN)
		soak.ok[o->kind][t->step]++;
	return BENCH_DONE;
}

static enum bench_act soak_response(struct bench_op *op,
	const struct bench_msg *resp, struct bench_out *out)
{
	struct soak_op *o = op->priv;
	struct thing *t = thing_of(o);
	enum bench_act act;

	if (resp->scode == 401) {
		if (t->a.nonce_len)
			soak.rechallenges++;
		else
			soak.challenges++;
		if (!o->retried && bench_pub_auth_take(&t->a, resp)) {
			o->retried = true;
			return soak_send(op, out);
		}
	}
	if (resp->scode >= 200 && resp->scode < 300) {
		act = soak_ok(o, t, resp);
	} else {
		/* 412 (entity-tag), 481 (dialog) and the like: gone */
		soak.status[resp->scode / 100 < 7 ? resp->scode / 100 : 0]++;
		t->live = false;
		act = BENCH_FAIL;
	}
	t->busy = false;
	return act;
}

static void count_notify(const struct bench_msg *req)
{
	bool terminated;

	if (!bench_notify_state(req, &terminated))
		return;
	soak.notifies++;
	if (terminated)
		soak.terminated++;
}

/* A NOTIFY of a subscription its op is still making. */
static enum bench_act soak_request(struct bench_op *op,
	const struct bench_msg *req, struct bench_out *out)
{
	(void)op;
	(void)out;
	count_notify(req);
	return BENCH_WAIT;
}

/* Every later NOTIFY: refreshes, changes, terminations. */
static void soak_other_request(struct bench *b, const struct bench_msg *req)
{
	(void)b;
	count_notify(req);
}

/* ---- the summary and the verdict ---- */

/* "<kB>kB", or "-" when there is no sample. */
static const char *kb(char *buf, size_t n, uint64_t v)
{
	if (!v)
		return "-";
	snprintf(buf, n, "%llukB", (unsigned long long)v);
	return buf;
}

static void print_rss(void)
{
	static const char *const verdict[] = { "-", "no", "yes" };
	const struct bench_rss *r = &soak.rss;
	char b[5][24];

	printf(" rss_start=%s rss_end=%s rss_max=%s rss_mid=%s rss_last=%s "
		"plateau=%s\n", kb(b[0], 24, r->start), kb(b[1], 24, r->end),
		kb(b[2], 24, r->max), kb(b[3], 24, r->mid),
		kb(b[4], 24, r->last), verdict[bench_rss_plateau(r) + 1]);
}

static uint64_t ok_of(int kind)
{
	return soak.ok[kind][SS_MAKE] + soak.ok[kind][SS_REFRESH] +
		soak.ok[kind][SS_REMOVE];
}

static void print_verbose(void)
{
	bench_err("soak: made b/p/s=%llu/%llu/%llu refreshed=%llu/%llu/%llu "
		"removed=%llu/%llu/%llu challenges=%llu rechallenges=%llu "
		"terminated=%llu no_etag=%llu no_dialog=%llu lost=%llu "
		"no_idle=%llu 3xx=%llu 4xx=%llu 5xx=%llu 6xx=%llu",
		(unsigned long long)soak.ok[0][0],
		(unsigned long long)soak.ok[1][0],
		(unsigned long long)soak.ok[2][0],
		(unsigned long long)soak.ok[0][1],
		(unsigned long long)soak.ok[1][1],
		(unsigned long long)soak.ok[2][1],
		(unsigned long long)soak.ok[0][2],
		(unsigned long long)soak.ok[1][2],
		(unsigned long long)soak.ok[2][2],
		(unsigned long long)soak.challenges,
		(unsigned long long)soak.rechallenges,
		(unsigned long long)soak.terminated,
		(unsigned long long)soak.no_etag,
		(unsigned long long)soak.no_dialog,
		(unsigned long long)soak.lost,
		(unsigned long long)soak.no_idle,
		(unsigned long long)soak.status[3],
		(unsigned long long)soak.status[4],
		(unsigned long long)soak.status[5],
		(unsigned long long)soak.status[6]);
}

static void soak_summary(const struct bench *b, const struct bench_result *r)
{
	double s = r->secs > 0 ? r->secs : 1;

	bench_rss_close(&soak.rss, (double)(bench_now() - soak.t0) / 1e9);
	soak.failed = r->failed;
	printf("scenario=soak transport=%s duration=%.1fs users=%u ops=%llu "
		"ops/s=%.0f failures=%llu p50=%.3fms p99=%.3fms "
		"registers=%llu publishes=%llu subscribes=%llu removals=%llu "
		"notifies=%llu",
		r->tp, r->secs, soak.n, (unsigned long long)r->ok,
		(double)r->ok / s, (unsigned long long)r->failed,
		(double)bench_hist_pct(r->lat, 50) / 1e6,
		(double)bench_hist_pct(r->lat, 99) / 1e6,
		(unsigned long long)ok_of(SK_BINDING),
		(unsigned long long)ok_of(SK_PUBLICATION),
		(unsigned long long)ok_of(SK_SUBSCRIPTION),
		(unsigned long long)(soak.ok[0][SS_REMOVE] +
			soak.ok[1][SS_REMOVE] + soak.ok[2][SS_REMOVE]),
		(unsigned long long)soak.notifies);
	print_rss();
	if (bench_cfg(b)->verbose)
		print_verbose();
}

/* Failures fail the run; a growing RSS is reported, not a failure. */
static bool soak_failed(const struct bench *b)
{
	(void)b;
	return soak.failed != 0;
}

/* ---- the teardown: remove every thing believed live ---- */

static uint64_t soak_down_ops(const struct bench_cfg *cfg)
{
	uint64_t i, n = 0, all = (uint64_t)soak.n * SK_N;
	struct thing *t;

	(void)cfg;
	soak.phase = SP_DOWN;
	soak.cursor = 0;
	for (i = 0; i < all; i++) {
		t = &soak.u[i % soak.n].t[i / soak.n];
		reclaim(t);     /* no op is in flight after the run */
		n += t->live;
	}
	return n;
}

static enum bench_act soak_down_start(struct bench_op *op,
	struct bench_out *out)
{
	uint64_t all = (uint64_t)soak.n * SK_N;
	uint32_t k;
	uint8_t kind;

	while (soak.cursor < all) {
		kind = (uint8_t)(soak.cursor / soak.n);
		k = (uint32_t)(soak.cursor % soak.n) + 1;
		soak.cursor++;
		if (soak.u[k - 1].t[kind].live)
			return soak_begin(op, k, kind, SS_REMOVE, out);
	}
	return BENCH_FAIL;
}

static const struct bench_scen soak_down = {
	.name = "soak-down",
	.help = "remove every binding, publication, subscription left",
	.op_size = sizeof(struct soak_op),
	.start = soak_down_start,
	.on_response = soak_response,
	.window = DOWN_WINDOW,
};

const struct bench_scen bench_scen_soak = {
	.name = "soak",
	.help = "users keep a binding, publication, subscription: RSS",
	.op_size = sizeof(struct soak_op),
	.start = soak_start,
	.on_response = soak_response,
	.on_request = soak_request,
	.on_other_request = soak_other_request,
	.configure = soak_configure,
	.summary = soak_summary,
	.failed = soak_failed,
	.teardown = &soak_down,
	.teardown_ops = soak_down_ops,
};
