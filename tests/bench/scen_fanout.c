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
#include <stdio.h>
#include <stdlib.h>
#include "bench.h"

#define RING (1u << 16)         /* REGISTERs whose 200 we remember */

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

/* An op's REGISTER: r.callseq is its seq (Call-ID and ring entry). */
static enum bench_act fan_start(struct bench_op *op, struct bench_out *out)
{
	struct bench_reg *r = op->priv;
	uint64_t seq = ++fan.next_seq;

	r->user = 1;
	r->cseq = 1;
	r->callseq = seq;
	r->tp_param = true;
	fan.seq[seq % RING] = seq;
	fan.t_req[seq % RING] = 0;
	fan.t200[seq % RING] = 0;
	if (bench_put_register(out, op, r, NULL))
		return BENCH_FAIL;
	return BENCH_SEND;
}

static enum bench_act fan_response(struct bench_op *op,
	const struct bench_msg *resp, struct bench_out *out)
{
	struct bench_reg *r = op->priv;
	uint64_t seq = r->callseq;
	enum bench_act act;

	if (resp->scode == 200) {
		if (fan.seq[seq % RING] == seq)
			fan.t200[seq % RING] = bench_now();
		return BENCH_DONE;
	}
	act = bench_reg_challenged(op, r, resp, out);
	/* the loop sends it as soon as this returns */
	if (act == BENCH_SEND && fan.seq[seq % RING] == seq)
		fan.t_req[seq % RING] = bench_now();
	return act;
}

static void fan_notify(struct bench *b, const struct bench_msg *req)
{
	const struct bench_cfg *cfg = bench_cfg(b);
	uint64_t seq, now = bench_now(), t;
	bool terminated;
	uint32_t k;

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
	if (bench_notify_state(req, &terminated) && terminated)
		fan.terminated++;
	seq = bench_body_seq(b, &req->body, "callid=\"r");
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
	.op_size = sizeof(struct bench_reg),
	.start = fan_start,
	.on_response = fan_response,
	.window = 1,
	.setup = &bench_scen_fanout_watch,
	.setup_ops = bench_watch_ops,
	.teardown = &bench_scen_fanout_unwatch,
	.teardown_ops = bench_unwatch_ops,
	.on_other_request = fan_notify,
	.summary = fan_summary,
};
