/*
 * options: one op is one OPTIONS request answered 200 (RFC 3261 11), the
 * cheapest exchange a SIP server has: it measures transport, parser,
 * transaction layer and router, and nothing else.
 */
#include "bench.h"

static enum bench_act options_start(struct bench_op *op,
	struct bench_out *out)
{
	const char *domain = bench_cfg(op->b)->domain;

	bench_out_lit(out, "OPTIONS sip:");
	bench_out_puts(out, domain);
	bench_out_lit(out, " SIP/2.0\r\n");
	bench_put_via(out, op);
	bench_out_lit(out, "Max-Forwards: 70\r\nFrom: <sip:bench@");
	bench_out_puts(out, domain);
	bench_out_lit(out, ">;tag=");
	bench_put_opid(out, op);
	bench_out_lit(out, "\r\nTo: <sip:");
	bench_out_puts(out, domain);
	bench_out_lit(out, ">\r\n");
	bench_put_callid(out, op);
	bench_out_lit(out, "CSeq: 1 OPTIONS\r\nUser-Agent: herald-bench\r\n");
	bench_put_end(out, NULL, NULL, 0);
	return BENCH_SEND;
}

static enum bench_act options_response(struct bench_op *op,
	const struct bench_msg *resp, struct bench_out *out)
{
	return resp->scode == 200 ? BENCH_DONE : BENCH_FAIL;
}

const struct bench_scen bench_scen_options = {
	.name = "options",
	.help = "OPTIONS, expect 200",
	.start = options_start,
	.on_response = options_response,
};
