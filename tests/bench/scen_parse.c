/*
 * parse: the parser micro-benchmark, no network. Decodes one typical
 * presence SUBSCRIBE over and over with hr_msg_decode(), the same call
 * the transports make for every datagram.
 */
#include <stdio.h>
#include <string.h>
#include "bench.h"
#include "sip/sip.h"

#define CHECK_EVERY 256         /* decodes between two clock reads */

/* What a softphone sends to watch a buddy: 600 bytes, 14 headers. */
static const char subscribe[] =
	"SUBSCRIBE sip:bob@example.test SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.0.2.10:5060;rport"
		";branch=z9hG4bK776asdhds\r\n"
	"Max-Forwards: 70\r\n"
	"From: \"Alice Liddell\" <sip:alice@example.test>;tag=8f2c1a0e9b31\r\n"
	"To: <sip:bob@example.test>\r\n"
	"Call-ID: a84b4c76e66710@192.0.2.10\r\n"
	"CSeq: 20 SUBSCRIBE\r\n"
	"Contact: <sip:alice@192.0.2.10:5060;transport=udp>"
		";+sip.instance=\"<urn:uuid:f81d4fae-7dec-11d0-a765-"
		"00a0c91e6bf6>\"\r\n"
	"Event: presence\r\n"
	"Accept: application/pidf+xml\r\n"
	"Expires: 600\r\n"
	"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, NOTIFY, SUBSCRIBE, "
		"MESSAGE\r\n"
	"Supported: replaces, outbound\r\n"
	"User-Agent: Herald-Bench/0.1\r\n"
	"Content-Length: 0\r\n"
	"\r\n";

/* Decode once and look at the result before timing anything. */
static int parse_check(void)
{
	struct hr_msg *msg = NULL;
	int err;

	err = hr_msg_decode(&msg, subscribe, sizeof(subscribe) - 1, false);
	if (err) {
		bench_err("parse: hr_msg_decode: %s", hr_strerror(err));
		return err;
	}
	if (msg->err_scode || !msg->req || msg->meth != HR_METH_SUBSCRIBE) {
		bench_err("parse: the SUBSCRIBE decoded as %u %s",
			msg->err_scode, msg->err_reason ? msg->err_reason : "");
		hr_mem_deref(msg);
		return 1;
	}
	hr_mem_deref(msg);
	return 0;
}

static int parse_run(const struct bench_cfg *cfg)
{
	const size_t len = sizeof(subscribe) - 1;
	uint64_t t0, now, end, n = 0;
	struct hr_msg *msg;
	unsigned i;
	double secs;

	if (parse_check())
		return 1;
	t0 = bench_now();
	end = t0 + (uint64_t)(cfg->duration_s * 1e9);
	do {
		for (i = 0; i < CHECK_EVERY; i++) {
			msg = NULL;
			if (hr_msg_decode(&msg, subscribe, len, false)) {
				bench_err("parse: decode failed");
				return 1;
			}
			hr_mem_deref(msg);
		}
		n += CHECK_EVERY;
		now = bench_now();
	} while (now < end);
	secs = (double)(now - t0) / 1e9;
	printf("scenario=parse msgs=%llu msgs/s=%.0f bytes=%zu ns/msg=%.1f\n",
		(unsigned long long)n, (double)n / secs, len,
		(double)(now - t0) / (double)n);
	fflush(stdout);
	return 0;
}

const struct bench_scen bench_scen_parse = {
	.name = "parse",
	.help = "hr_msg_decode() of a 600-byte SUBSCRIBE, no network",
	.run = parse_run,
};
