/*
 * register-overload: register's op (REGISTER, 401, REGISTER with
 * digest, 200) from clients that behave as RFC 3261 UDP user agents,
 * at an offered rate of new ops (--rate, open loop), to see what a
 * server does past its clean maximum (RFC 6357: congestion collapse).
 *
 * Each REGISTER is a client transaction (17.1.2): the engine sends it
 * again on Timer E (T1, 2 T1, 4 T1, then every T2 = 8 T1; T2 as soon
 * as a 1xx came) until its final response, and the op fails at Timer F
 * (64 T1 without a final response; --timeout-ms is set to that). The
 * 401 is answered as in register (a new transaction, its own Timer E
 * and F); a 503, with or without Retry-After, fails the op: a UA would
 * try again only after Retry-After, which is new offered load, not this
 * op's. The 503s (and those with Retry-After) are counted apart.
 *
 * Default window with --rate: 1,000,000 ops in flight (the run says
 * window_full=yes when a start had to wait for a slot). Without --rate
 * it runs flat out like register (128 in flight), with retransmissions.
 */
#include <stdio.h>
#include "bench.h"

#define OVERLOAD_WINDOW 1000000u

static uint64_t n503, n503_ra;

static void ovl_configure(struct bench_cfg *cfg)
{
	if (!cfg->t1_ms)
		cfg->t1_ms = 500;
	/* Timer F: 64 T1 (32 s at T1 = 500 ms) */
	cfg->timeout_ms = 64 * cfg->t1_ms;
	if (cfg->rate && !cfg->window)
		cfg->window = OVERLOAD_WINDOW;
}

static enum bench_act ovl_response(struct bench_op *op,
	const struct bench_msg *resp, struct bench_out *out)
{
	struct hr_pl ra;

	if (resp->scode == 503) {
		n503++;
		if (bench_msg_hdr(resp, "Retry-After", 0, &ra))
			n503_ra++;
		return BENCH_FAIL;
	}
	return bench_reg_response(op, resp, out);
}

static void ovl_summary(const struct bench *b, const struct bench_result *r)
{
	const struct bench_cfg *cfg = bench_cfg(b);

	printf("scenario=register-overload transport=%s duration=%.1fs "
		"offered/s=%llu started=%llu started/s=%.0f ops=%llu "
		"goodput/s=%.0f failures=%llu failed%%=%.2f retransmits=%llu "
		"503s=%llu 503s_retry_after=%llu p50=%.3fms p99=%.3fms "
		"in_flight_end=%llu in_flight_max=%llu window_full=%s "
		"t1=%ums\n",
		r->tp, r->secs, (unsigned long long)cfg->rate,
		(unsigned long long)r->started,
		(double)r->started / cfg->duration_s,
		(unsigned long long)r->ok,
		r->secs > 0 ? (double)r->ok / r->secs : 0.0,
		(unsigned long long)r->failed,
		r->started ? 100.0 * (double)r->failed /
			(double)r->started : 0.0,
		(unsigned long long)r->retransmits,
		(unsigned long long)n503, (unsigned long long)n503_ra,
		(double)bench_hist_pct(r->lat, 50) / 1e6,
		(double)bench_hist_pct(r->lat, 99) / 1e6,
		(unsigned long long)r->in_flight,
		(unsigned long long)r->in_flight_max,
		r->window_full ? "yes" : "no", cfg->t1_ms);
}

const struct bench_scen bench_scen_reg_overload = {
	.name = "register-overload",
	.help = "register as RFC 3261 UDP clients (Timer E, F), --rate offered",
	.op_size = sizeof(struct bench_reg),
	.start = bench_reg_start,
	.on_response = ovl_response,
	.configure = ovl_configure,
	.summary = ovl_summary,
	.retransmit = true,
};
