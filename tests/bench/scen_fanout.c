/*
 * reg-fanout: how many reg NOTIFYs (RFC 3680) Herald delivers when one AOR
 * with many watchers keeps changing.
 *
 * Before the clock starts, --watchers W watchers w1..wW subscribe to u1
 * (fanout-watch in scen_subscribe.c: each authenticated as u1, with its
 * own From URI, From-tag "wK.<opid>" and Contact). Then one op is an
 * authenticated refresh of u1's registration, as in register: REGISTER,
 * 401, REGISTER with digest, 200; the Contact stays the same, the Call-ID
 * is new ("r<seq>-<opid>"). Each refresh is a change every watcher hears
 * of (several merge into one NOTIFY while one is in flight). The engine
 * answers every NOTIFY 200; this file counts them and, from the callid
 * attribute of the newest contact in the body, how long after that
 * REGISTER (the one with credentials) was sent the NOTIFY arrived. Not
 * from its 200: Herald sends the NOTIFYs of a change before the 200 of
 * the REGISTER that made it, so that would be negative ("before_200").
 *
 * After the summary, the watchers unsubscribe (fanout-unwatch), so that
 * a next run does not find their subscriptions still there, NOTIFYing a
 * port nobody reads until Timer F.
 *
 * The default --window is 1: REGISTERs of one AOR wait for each other's
 * commits in Herald, so more in flight only queue (or get 503).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "auth/auth.h"
#include "bench.h"

#define RING (1u << 16)         /* REGISTERs whose 200 we remember */

struct fan_op {
	uint32_t cseq;
	uint64_t seq;           /* of the op: its Call-ID and ring entry */
};

static struct {
	uint64_t next_seq;
	uint64_t seq[RING];     /* which REGISTER the entry is about */
	uint64_t t_req[RING];   /* when it was sent with credentials */
	uint64_t t200[RING];    /* when its 200 came; 0: not yet */
	uint64_t notifies;      /* NOTIFYs to the watchers */
	uint64_t terminated;    /* of which ended a subscription */
	uint64_t before_200;    /* came before the 200 they report */
	uint64_t untimed;       /* report no REGISTER we remember */
	uint64_t other;         /* requests that are no watcher's NOTIFY */
	uint32_t *per_watcher;  /* NOTIFYs of wK at [K] */
	uint32_t nwatchers;
	struct bench_hist delay;
} fan;

static uint64_t fan_setup_ops(const struct bench_cfg *cfg)
{
	return cfg->watchers;
}

/* REGISTER of u1's Contact; with chal, Authorization answers it. */
static int put_register(struct bench_out *out, struct bench_op *op,
	const struct fan_op *f, const struct hr_digest *chal)
{
	const struct bench_cfg *cfg = bench_cfg(op->b);
	char uri[300];
	struct bench_out uo = { uri, 0, sizeof(uri) - 1, false };
	int err;

	bench_out_lit(&uo, "sip:");
	bench_out_puts(&uo, cfg->domain);
	if (uo.full)
		return ENOSPC;
	uri[uo.len] = '\0';

	bench_out_lit(out, "REGISTER ");
	bench_out_puts(out, uri);
	bench_out_lit(out, " SIP/2.0\r\n");
	bench_put_via(out, op);
	bench_out_lit(out, "Max-Forwards: 70\r\nFrom: <sip:u1@");
	bench_out_puts(out, cfg->domain);
	bench_out_lit(out, ">;tag=");
	bench_put_opid(out, op);
	bench_out_lit(out, "\r\nTo: <sip:u1@");
	bench_out_puts(out, cfg->domain);
	bench_out_lit(out, ">\r\nCall-ID: r");
	bench_out_putu(out, f->seq);
	bench_out_lit(out, "-");
	bench_put_opid(out, op);
	bench_out_lit(out, "@herald-bench\r\nCSeq: ");
	bench_out_putu(out, f->cseq);
	bench_out_lit(out, " REGISTER\r\nContact: <sip:u1@");
	bench_out_puts(out, op->laddr);
	if (cfg->tp == BENCH_TCP)
		bench_out_lit(out, ";transport=tcp");
	bench_out_lit(out, ">\r\nExpires: 3600\r\n");
	if (chal) {
		/* the digest uri is exactly the Request-URI */
		err = bench_put_auth(out, op, "u1", "REGISTER", uri, chal);
		if (err)
			return err;
	}
	bench_out_lit(out, "User-Agent: herald-bench\r\n");
	bench_put_end(out, NULL, NULL, 0);
	return 0;
}

static enum bench_act fan_start(struct bench_op *op, struct bench_out *out)
{
	struct fan_op *f = op->priv;

	f->seq = ++fan.next_seq;
	f->cseq = 1;
	fan.seq[f->seq % RING] = f->seq;
	fan.t_req[f->seq % RING] = 0;
	fan.t200[f->seq % RING] = 0;
	if (put_register(out, op, f, NULL))
		return BENCH_FAIL;
	return BENCH_SEND;
}

static enum bench_act fan_response(struct bench_op *op,
	const struct bench_msg *resp, struct bench_out *out)
{
	struct fan_op *f = op->priv;
	struct hr_digest chal;

	if (resp->scode == 200) {
		if (fan.seq[f->seq % RING] == f->seq)
			fan.t200[f->seq % RING] = bench_now();
		return BENCH_DONE;
	}
	if (resp->scode != 401 || f->cseq != 1 ||
	    !bench_find_md5(resp, &chal))
		return BENCH_FAIL;
	f->cseq = 2;
	if (put_register(out, op, f, &chal))
		return BENCH_FAIL;
	/* the loop sends it as soon as this returns */
	if (fan.seq[f->seq % RING] == f->seq)
		fan.t_req[f->seq % RING] = bench_now();
	return BENCH_SEND;
}

/* Parse digits at *p (up to end) into v: false when there are none. */
static bool digits(const char **p, const char *end, uint64_t *v)
{
	const char *s = *p;

	*v = 0;
	while (*p < end && **p >= '0' && **p <= '9' && *v < UINT64_MAX / 10)
		*v = *v * 10 + (uint64_t)(*(*p)++ - '0');
	return *p > s;
}

/*
 * The newest of our REGISTERs the body reports: the highest <seq> of the
 * contacts' callid="r<seq>-<run>-..." attributes. 0: none.
 */
static uint64_t body_seq(const struct bench *b, const struct hr_pl *body)
{
	static const char key[] = "callid=\"r";
	const char *p = body->p, *end = body->p + body->len, *q;
	uint64_t v, best = 0;

	while ((q = memmem(p, (size_t)(end - p), key, sizeof(key) - 1))) {
		p = q + sizeof(key) - 1;
		if (!digits(&p, end, &v) || end - p < BENCH_RUNID_LEN + 1 ||
		    *p != '-' ||
		    memcmp(p + 1, bench_runid(b), BENCH_RUNID_LEN) != 0)
			continue;
		if (v > best)
			best = v;
	}
	return best;
}

/* Shared with presence-fanout (bench.h). */
uint32_t bench_notify_watcher(const struct bench_msg *req)
{
	struct hr_pl tag;
	const char *p;
	uint64_t k;

	if (!bench_msg_tag(req, "To", 't', &tag) || tag.len < 3 ||
	    tag.p[0] != 'w')
		return 0;
	p = tag.p + 1;
	if (!digits(&p, tag.p + tag.len, &k) || p == tag.p + tag.len ||
	    *p != '.' || k == 0 || k > UINT32_MAX)
		return 0;
	return (uint32_t)k;
}

static void fan_notify(struct bench *b, const struct bench_msg *req)
{
	const struct bench_cfg *cfg = bench_cfg(b);
	uint64_t seq, now = bench_now(), t;
	struct hr_pl state;
	uint32_t k;

	if (hr_pl_strcmp(&req->method, "NOTIFY")) {
		fan.other++;
		return;
	}
	k = bench_notify_watcher(req);
	if (!k) {
		fan.other++;
		return;
	}
	fan.notifies++;
	if (!fan.per_watcher) {
		fan.nwatchers = cfg->watchers;
		fan.per_watcher = calloc((size_t)fan.nwatchers + 1,
			sizeof(*fan.per_watcher));
	}
	if (fan.per_watcher && k <= fan.nwatchers)
		fan.per_watcher[k]++;
	if (bench_msg_hdr(req, "Subscription-State", 0, &state) &&
	    state.len >= 10 && strncasecmp(state.p, "terminated", 10) == 0)
		fan.terminated++;
	seq = body_seq(b, &req->body);
	if (!seq || fan.seq[seq % RING] != seq || !fan.t_req[seq % RING]) {
		fan.untimed++;
		return;
	}
	if (!fan.t200[seq % RING])
		fan.before_200++;
	t = fan.t_req[seq % RING];
	bench_hist_add(&fan.delay, now > t ? now - t : 0);
}

static void fan_summary(const struct bench *b, const struct bench_result *r)
{
	const struct bench_cfg *cfg = bench_cfg(b);
	uint32_t k, got = 0, lo = UINT32_MAX, hi = 0;

	for (k = 1; fan.per_watcher && k <= fan.nwatchers; k++) {
		if (fan.per_watcher[k])
			got++;
		if (fan.per_watcher[k] < lo)
			lo = fan.per_watcher[k];
		if (fan.per_watcher[k] > hi)
			hi = fan.per_watcher[k];
	}
	if (lo == UINT32_MAX)
		lo = 0;
	printf("scenario=reg-fanout transport=%s duration=%.1fs watchers=%u "
		"notified=%u notifies=%llu notifies/s=%.0f registers=%llu "
		"registers/s=%.0f failures=%llu delay_p50=%.3fms "
		"delay_p99=%.3fms reg_p50=%.3fms reg_p99=%.3fms\n",
		r->tp, r->secs, cfg->watchers, got,
		(unsigned long long)fan.notifies,
		r->secs > 0 ? (double)fan.notifies / r->secs : 0.0,
		(unsigned long long)r->ok,
		r->secs > 0 ? (double)r->ok / r->secs : 0.0,
		(unsigned long long)r->failed,
		(double)bench_hist_pct(&fan.delay, 50) / 1e6,
		(double)bench_hist_pct(&fan.delay, 99) / 1e6,
		(double)bench_hist_pct(r->lat, 50) / 1e6,
		(double)bench_hist_pct(r->lat, 99) / 1e6);
	if (cfg->verbose)
		bench_err("fanout: per watcher min=%u max=%u terminated=%llu "
			"before_200=%llu untimed=%llu other=%llu "
			"delay_max=%.3fms",
			lo, hi, (unsigned long long)fan.terminated,
			(unsigned long long)fan.before_200,
			(unsigned long long)fan.untimed,
			(unsigned long long)fan.other,
			(double)fan.delay.max / 1e6);
	free(fan.per_watcher);
	fan.per_watcher = NULL;
}

const struct bench_scen bench_scen_fanout = {
	.name = "reg-fanout",
	.help = "--watchers watch u1; REGISTER u1 in a loop: NOTIFYs/s",
	.op_size = sizeof(struct fan_op),
	.start = fan_start,
	.on_response = fan_response,
	.window = 1,
	.setup = &bench_scen_fanout_watch,
	.setup_ops = fan_setup_ops,
	.teardown = &bench_scen_fanout_unwatch,
	.teardown_ops = bench_unwatch_ops,
	.on_other_request = fan_notify,
	.summary = fan_summary,
};
