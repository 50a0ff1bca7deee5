/* server/sip/msg.c: the message decoder, as tables of valid and invalid
 * messages written from the RFC 3261 grammar, plus print round trips. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "sip/sip.h"
#include "check_run.h"

#define VIA "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n"
#define HDRS VIA \
	"Max-Forwards: 70\r\n" \
	"To: Bob <sip:bob@example.test>\r\n" \
	"From: Alice <sip:alice@example.test>;tag=1928301774\r\n" \
	"Call-ID: a84b4c76e66710@pc33.example.test\r\n"
#define OPT_LINE "OPTIONS sip:bob@example.test SIP/2.0\r\n"
#define OPT OPT_LINE HDRS "CSeq: 314159 OPTIONS\r\n"

struct mcase {
	const char *name;
	const char *msg;
	bool stream;
	uint16_t scode;       /* expected err_scode, 0 for a valid message */
	const char *reason;   /* expected err_reason when scode is set */
	bool has_via;
};

static const struct mcase cases[] = {
	{ "plain OPTIONS", OPT "Content-Length: 0\r\n\r\n", false, 0, NULL,
	  true },
	{ "no Content-Length on UDP", OPT "\r\n", false, 0, NULL, true },
	{ "no Content-Length on a stream", OPT "\r\n", true, 400,
	  "Missing Content-Length", true },
	{ "body shorter than Content-Length", OPT
	  "Content-Length: 10\r\n\r\nabc", false, 400, "Bad Content-Length",
	  true },
	{ "negative Content-Length", OPT "Content-Length: -1\r\n\r\n", false,
	  400, "Bad Content-Length", true },
	{ "huge Content-Length", OPT
	  "Content-Length: 99999999999999999999\r\n\r\n", false, 400,
	  "Bad Content-Length", true },
	{ "two different Content-Lengths", OPT
	  "Content-Length: 0\r\nl: 3\r\n\r\nabc", false, 400,
	  "Bad Content-Length", true },
	{ "leading CRLFs ignored", "\r\n\r\n" OPT "\r\n", false, 0, NULL,
	  true },
	{ "folded header", OPT_LINE VIA "Max-Forwards: 70\r\n"
	  "To: Bob\r\n <sip:bob@example.test>\r\n"
	  "From: <sip:alice@example.test>\r\n\t;tag=1\r\n"
	  "Call-ID: x@y\r\nCSeq: 1\r\n  OPTIONS\r\n\r\n", false, 0, NULL,
	  true },
	{ "compact forms", OPT_LINE
	  "v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx\r\n"
	  "t: <sip:bob@example.test>\r\nf: <sip:a@example.test>;tag=9\r\n"
	  "i: abc\r\nCSeq: 1 OPTIONS\r\nl: 0\r\n\r\n", false, 0, NULL, true },
	{ "lowercase names (Net::SIP)", OPT_LINE VIA
	  "to: <sip:bob@example.test>\r\nfrom: <sip:a@example.test>;tag=9\r\n"
	  "Call-id: abc\r\nCseq: 1 OPTIONS\r\n\r\n", false, 0, NULL, true },
	{ "odd whitespace around colon", OPT_LINE
	  "Via   :  SIP / 2.0 / UDP   192.0.2.1 ; branch = z9hG4bKx\r\n"
	  "To\t:\t<sip:bob@example.test>\r\n"
	  "From : <sip:a@example.test> ; tag = 9\r\n"
	  "Call-ID:abc\r\nCSeq:1   OPTIONS\r\n\r\n", false, 0, NULL, true },
	{ "missing Via", OPT_LINE "To: <sip:b@example.test>\r\n"
	  "From: <sip:a@example.test>;tag=1\r\nCall-ID: x\r\n"
	  "CSeq: 1 OPTIONS\r\n\r\n", false, 400, "Missing Via", false },
	{ "bad Via", OPT_LINE "Via: SIP/2.0/UDP\r\n"
	  "To: <sip:b@example.test>\r\nFrom: <sip:a@example.test>;tag=1\r\n"
	  "Call-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n", false, 400, "Bad Via",
	  false },
	{ "missing From", OPT_LINE VIA "To: <sip:b@example.test>\r\n"
	  "Call-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n", false, 400, "Missing From",
	  true },
	{ "two From", OPT "From: <sip:c@example.test>;tag=2\r\n\r\n", false,
	  400, "Multiple From", true },
	{ "bad To", OPT_LINE VIA "To: <sip:bob@example.test\r\n"
	  "From: <sip:a@example.test>;tag=1\r\nCall-ID: x\r\n"
	  "CSeq: 1 OPTIONS\r\n\r\n", false, 400, "Bad To", true },
	{ "missing Call-ID", OPT_LINE VIA "To: <sip:b@example.test>\r\n"
	  "From: <sip:a@example.test>;tag=1\r\nCSeq: 1 OPTIONS\r\n\r\n",
	  false, 400, "Missing Call-ID", true },
	{ "Call-ID with a space", OPT_LINE VIA "To: <sip:b@example.test>\r\n"
	  "From: <sip:a@example.test>;tag=1\r\nCall-ID: a b\r\n"
	  "CSeq: 1 OPTIONS\r\n\r\n", false, 400, "Bad Call-ID", true },
	{ "CSeq not a number", OPT_LINE HDRS "CSeq: abc OPTIONS\r\n\r\n",
	  false, 400, "Bad CSeq", true },
	{ "CSeq negative", OPT_LINE HDRS "CSeq: -1 OPTIONS\r\n\r\n", false,
	  400, "Bad CSeq", true },
	{ "CSeq 2^31", OPT_LINE HDRS "CSeq: 2147483648 OPTIONS\r\n\r\n",
	  false, 400, "Bad CSeq", true },
	{ "CSeq 2^31-1", OPT_LINE HDRS "CSeq: 2147483647 OPTIONS\r\n\r\n",
	  false, 0, NULL, true },
	{ "CSeq method mismatch", OPT_LINE HDRS "CSeq: 1 INVITE\r\n\r\n",
	  false, 400, "CSeq Method Mismatch", true },
	{ "missing CSeq", OPT_LINE HDRS "\r\n", false, 400, "Missing CSeq",
	  true },
	{ "two CSeq", OPT "CSeq: 2 OPTIONS\r\n\r\n", false, 400,
	  "Multiple CSeq", true },
	{ "Max-Forwards not a number", OPT_LINE VIA
	  "Max-Forwards: ten\r\nTo: <sip:b@example.test>\r\n"
	  "From: <sip:a@example.test>;tag=1\r\nCall-ID: x\r\n"
	  "CSeq: 1 OPTIONS\r\n\r\n", false, 400, "Bad Max-Forwards", true },
	{ "Expires huge is clamped", OPT "Expires: 99999999999999\r\n\r\n",
	  false, 0, NULL, true },
	{ "Expires negative", OPT "Expires: -5\r\n\r\n", false, 400,
	  "Bad Expires", true },
	{ "bad Content-Type", OPT "Content-Type: text\r\n\r\n", false, 400,
	  "Bad Content-Type", true },
	{ "header without colon", OPT "Bogus header line\r\n\r\n", false, 400,
	  "Malformed Header", true },
	{ "CR inside a header name", OPT "Call\rID: x\r\n\r\n", false, 400,
	  "Malformed Header", true },
	{ "space inside a header name", OPT "X Foo: x\r\n\r\n", false, 400,
	  "Malformed Header", true },
	{ "continuation right after start line", OPT_LINE " x\r\n" HDRS
	  "CSeq: 1 OPTIONS\r\n\r\n", false, 400, "Malformed Header", true },
	{ "NUL in a header", OPT "Subject: a\0b\r\n\r\n", false, 400,
	  "NUL In Headers", true },
	{ "non-UTF-8 display name", OPT_LINE VIA
	  "To: \"B\xe9\x62\" <sip:b@example.test>\r\n"
	  "From: <sip:a@example.test>;tag=1\r\nCall-ID: x\r\n"
	  "CSeq: 1 OPTIONS\r\n\r\n", false, 400, "Invalid UTF-8", true },
	{ "UTF-8 display name", OPT_LINE VIA
	  "To: \"J\xc3\xa9r\xc3\xb4me \xe2\x98\x83\" <sip:b@example.test>\r\n"
	  "From: <sip:a@example.test>;tag=1\r\nCall-ID: x\r\n"
	  "CSeq: 1 OPTIONS\r\n\r\n", false, 0, NULL, true },
	{ "SIP/3.0", "OPTIONS sip:bob@example.test SIP/3.0\r\n" HDRS
	  "CSeq: 1 OPTIONS\r\n\r\n", false, 505, "Version Not Supported",
	  true },
	{ "two spaces in request line", "OPTIONS  sip:bob@example.test "
	  "SIP/2.0\r\n" HDRS "CSeq: 1 OPTIONS\r\n\r\n", false, 400,
	  "Bad Request Line", true },
	{ "bad Request-URI", "OPTIONS sip:@ SIP/2.0\r\n" HDRS
	  "CSeq: 1 OPTIONS\r\n\r\n", false, 400, "Bad Request-URI", true },
	{ "unknown scheme is kept for 416", "OPTIONS http://x/ SIP/2.0\r\n"
	  HDRS "CSeq: 1 OPTIONS\r\n\r\n", false, 0, NULL, true },
	{ "truncated: no empty line", OPT "Content-Length: 0\r\n", false, 400,
	  "Missing Empty Line", true },
	{ "truncated in the middle of a header", OPT_LINE VIA "To: <sip:b@e",
	  false, 400, "Missing Empty Line", true },
	{ "response", "SIP/2.0 200 OK\r\n" HDRS "CSeq: 1 OPTIONS\r\n\r\n",
	  false, 0, NULL, true },
	{ "response with empty reason", "SIP/2.0 200\r\n" HDRS
	  "CSeq: 1 OPTIONS\r\n\r\n", false, 0, NULL, true },
	{ "response with bad code", "SIP/2.0 20 OK\r\n" HDRS
	  "CSeq: 1 OPTIONS\r\n\r\n", false, 400, "Bad Status Line", true },
	{ "response code 700", "SIP/2.0 700 Huh\r\n" HDRS
	  "CSeq: 1 OPTIONS\r\n\r\n", false, 400, "Bad Status Line", true },
	{ "IPv6 everywhere", "OPTIONS sip:[2001:db8::10]:5070 SIP/2.0\r\n"
	  "Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3;received="
	  "[2001:db8::9:255]\r\nTo: <sip:[2001:db8::10]:5070>\r\n"
	  "From: <sip:user@[2001:db8::9:1]>;tag=1\r\nCall-ID: x\r\n"
	  "CSeq: 1 OPTIONS\r\n\r\n", false, 0, NULL, true },
	{ "IPv6 without brackets in Request-URI",
	  "OPTIONS sip:2001:db8::10 SIP/2.0\r\n" HDRS "CSeq: 1 OPTIONS\r\n\r\n",
	  false, 400, "Bad Request-URI", true },
};

START_TEST(test_table)
{
	const struct mcase *c = &cases[_i];
	size_t len = strlen(c->msg);
	struct hr_msg *msg = NULL;
	int err;

	/* the NUL case carries a NUL: measure it by its known layout */
	if (strstr(c->name, "NUL"))
		len = sizeof(OPT "Subject: a\0b\r\n\r\n") - 1;
	err = hr_msg_decode(&msg, c->msg, len, c->stream);
	ck_assert_msg(err == 0, "%s: decode %d", c->name, err);
	ck_assert_msg(msg->err_scode == c->scode, "%s: got %u %s", c->name,
		msg->err_scode, msg->err_reason ? msg->err_reason : "");
	if (c->reason)
		ck_assert_str_eq(msg->err_reason, c->reason);
	ck_assert_msg(msg->has_via == c->has_via, "%s: has_via", c->name);
	hr_mem_deref(msg);
	ck_assert_uint_eq(hr_mem_live(), 0);
}
END_TEST

/* decode → print → decode → print: the two prints are identical */
START_TEST(test_round_trip)
{
	const struct mcase *c = &cases[_i];
	struct hr_msg *a, *b;
	struct hr_buf p1, p2;

	if (c->scode || strstr(c->name, "NUL"))
		return;
	hr_buf_init(&p1, 1 << 20);
	hr_buf_init(&p2, 1 << 20);
	ck_assert_int_eq(hr_msg_decode(&a, c->msg, strlen(c->msg), c->stream),
		0);
	ck_assert_int_eq(hr_msg_print(&p1, a), 0);
	ck_assert_int_eq(hr_msg_decode(&b, p1.b, p1.len, c->stream), 0);
	ck_assert_msg(b->err_scode == 0, "%s: reprint %s", c->name,
		b->err_reason);
	ck_assert_int_eq(hr_msg_print(&p2, b), 0);
	ck_assert_uint_eq(p1.len, p2.len);
	ck_assert(memcmp(p1.b, p2.b, p1.len) == 0);
	ck_assert_uint_eq(a->hdrc, b->hdrc);
	ck_assert_uint_eq(a->cseq.num, b->cseq.num);
	ck_assert(!hr_pl_cmp(&a->callid, &b->callid));
	ck_assert(!hr_pl_cmp(&a->body, &b->body));
	hr_mem_deref(a);
	hr_mem_deref(b);
	hr_buf_reset(&p1);
	hr_buf_reset(&p2);
	ck_assert_uint_eq(hr_mem_live(), 0);
}
END_TEST

START_TEST(test_fields)
{
	static const char m[] =
		"SUBSCRIBE sip:alice@example.test SIP/2.0\r\n"
		"Via: SIP/2.0/TCP [::1]:5070;branch=z9hG4bKa;rport;ttl=3;"
		"maddr=192.0.2.9\r\n"
		"v: SIP/2.0/UDP proxy.example.test, SIP/2.0/UDP 192.0.2.3:5061"
		";received=192.0.2.4\r\n"
		"Max-Forwards: 69\r\n"
		"From: \"Bob \\\"B\\\" Smith\" <sip:bob@example.test>;tag=abc\r\n"
		"To: sip:alice@example.test\r\n"
		"Call-ID: 1234@host\r\n"
		"CSeq: 7 SUBSCRIBE\r\n"
		"Contact: <sip:bob@192.0.2.3;transport=tcp>;"
		"+sip.instance=\"<urn:uuid:0001>\";reg-id=1;expires=60;q=0.5, "
		"\"Bob, mobile\" <sip:bob@192.0.2.7>\r\n"
		"Event: presence;id=77\r\n"
		"Accept: application/pidf+xml, application/xpidf+xml\r\n"
		"Supported: path, outbound\r\n"
		"Expires: 600\r\n"
		"X-Custom: hello\r\n"
		"Content-Type: text/plain;charset=utf-8\r\n"
		"Content-Length: 5\r\n\r\nhello extra";
	const struct hr_hdr *h;
	struct hr_addr contact;
	struct hr_event ev;
	struct hr_pl v;
	struct hr_msg *msg;

	ck_assert_int_eq(hr_msg_decode(&msg, m, sizeof(m) - 1, false), 0);
	ck_assert_uint_eq(msg->err_scode, 0);
	ck_assert(msg->req);
	ck_assert_int_eq(msg->meth, HR_METH_SUBSCRIBE);
	ck_assert(!hr_pl_strcmp(&msg->via.proto, "TCP"));
	ck_assert(!hr_pl_strcmp(&msg->via.host, "::1"));
	ck_assert(msg->via.ipv6);
	ck_assert_uint_eq(msg->via.port, 5070);
	ck_assert(msg->via.rport);
	ck_assert_uint_eq(msg->via.rport_val, 0);
	ck_assert_int_eq(msg->via.ttl, 3);
	ck_assert(!hr_pl_strcmp(&msg->via.maddr, "192.0.2.9"));
	ck_assert_uint_eq(hr_msg_hdr_count(msg, HR_HDR_VIA), 3);
	ck_assert_int_eq(msg->maxfwd, 69);
	ck_assert(!hr_pl_strcmp(&msg->from.dname, "Bob \\\"B\\\" Smith"));
	ck_assert(!hr_pl_strcmp(&msg->from.tag, "abc"));
	ck_assert(!msg->to.angle);
	ck_assert(!hr_pl_strcmp(&msg->to.uri.user, "alice"));
	ck_assert_uint_eq(msg->cseq.num, 7);
	ck_assert_int_eq(msg->cseq.meth, HR_METH_SUBSCRIBE);
	ck_assert_uint_eq(hr_msg_hdr_count(msg, HR_HDR_CONTACT), 2);
	h = hr_msg_hdr(msg, HR_HDR_CONTACT);
	ck_assert_int_eq(hr_addr_decode(&contact, &h->val), 0);
	ck_assert_int_eq(hr_param_get(&contact.params, "+sip.instance", &v), 0);
	ck_assert(!hr_pl_strcmp(&v, "\"<urn:uuid:0001>\""));
	ck_assert_int_eq(hr_param_get(&contact.params, "reg-id", &v), 0);
	ck_assert(!hr_pl_strcmp(&v, "1"));
	ck_assert_int_eq(hr_uri_param(&contact.uri, "transport", &v), 0);
	ck_assert(!hr_pl_strcmp(&v, "tcp"));
	h = hr_msg_hdr_next(msg, h);
	ck_assert_int_eq(hr_addr_decode(&contact, &h->val), 0);
	ck_assert(!hr_pl_strcmp(&contact.dname, "Bob, mobile"));
	ck_assert_int_eq(hr_event_decode(&ev,
		&hr_msg_hdr(msg, HR_HDR_EVENT)->val), 0);
	ck_assert(!hr_pl_strcmp(&ev.package, "presence"));
	ck_assert(!hr_pl_strcmp(&ev.id, "77"));
	ck_assert_uint_eq(hr_msg_hdr_count(msg, HR_HDR_ACCEPT), 2);
	ck_assert(hr_msg_hdr_has(msg, HR_HDR_SUPPORTED, "outbound"));
	ck_assert(!hr_msg_hdr_has(msg, HR_HDR_SUPPORTED, "gruu"));
	ck_assert(msg->has_expires);
	ck_assert_uint_eq(msg->expires, 600);
	h = hr_msg_hdr_byname(msg, "x-custom");
	ck_assert_ptr_nonnull(h);
	ck_assert(!hr_pl_strcmp(&h->val, "hello"));
	ck_assert_ptr_nonnull(hr_msg_hdr_byname(msg, "i"));
	ck_assert(hr_ctype_match(&msg->ctype, "text", "plain"));
	/* RFC 3261 18.3: bytes past Content-Length are ignored */
	ck_assert(!hr_pl_strcmp(&msg->body, "hello"));
	hr_mem_deref(msg);
	ck_assert_uint_eq(hr_mem_live(), 0);
}
END_TEST

START_TEST(test_many_headers)
{
	struct hr_buf b;
	struct hr_msg *msg;
	unsigned n;

	for (n = 200; n <= 300; n += 100) {
		hr_buf_init(&b, 1 << 20);
		hr_buf_puts(&b, OPT);
		for (unsigned i = 0; i < n; i++)
			hr_buf_printf(&b, "X-H%u: %u\r\n", i, i);
		hr_buf_puts(&b, "\r\n");
		ck_assert_int_eq(hr_msg_decode(&msg, b.b, b.len, false), 0);
		if (n == 200) {
			ck_assert_uint_eq(msg->err_scode, 0);
			ck_assert_uint_eq(msg->hdrc, 206);
		} else {
			ck_assert_str_eq(msg->err_reason, "Too Many Headers");
			ck_assert_ptr_nonnull(msg->err_limit);
		}
		hr_mem_deref(msg);
		hr_buf_reset(&b);
	}
	ck_assert_uint_eq(hr_mem_live(), 0);
}
END_TEST

START_TEST(test_frame)
{
	static const char two[] = OPT "Content-Length: 3\r\n\r\nabc"
		OPT "l: 0\r\n\r\n";
	size_t len, first = sizeof(OPT "Content-Length: 3\r\n\r\nabc") - 1;

	ck_assert_int_eq(hr_msg_frame(two, sizeof(two) - 1, 65535, &len), 0);
	ck_assert_uint_eq(len, first);
	ck_assert_int_eq(hr_msg_frame(two + first, sizeof(two) - 1 - first,
		65535, &len), 0);
	ck_assert_uint_eq(len, sizeof(two) - 1 - first);
	/* split anywhere: needs more bytes */
	for (size_t cut = 1; cut < first; cut++)
		ck_assert_int_eq(hr_msg_frame(two, cut, 65535, &len), ENODATA);
	ck_assert_int_eq(hr_msg_frame(OPT "\r\n", sizeof(OPT "\r\n") - 1,
		65535, &len), EBADMSG);
	ck_assert_int_eq(hr_msg_frame(OPT "Content-Length: 100000\r\n\r\n",
		sizeof(OPT "Content-Length: 100000\r\n\r\n") - 1, 65535, &len),
		EMSGSIZE);
	ck_assert_int_eq(hr_msg_frame(OPT, sizeof(OPT) - 1, 100, &len),
		EMSGSIZE);
}
END_TEST

START_TEST(test_garbage)
{
	unsigned char buf[2048];
	struct hr_msg *msg;

	srand(7);
	for (int i = 0; i < 2000; i++) {
		size_t len = (size_t)(rand() % (int)sizeof(buf));

		for (size_t k = 0; k < len; k++)
			buf[k] = (unsigned char)rand();
		if (!hr_msg_decode(&msg, (char *)buf, len, i & 1))
			hr_mem_deref(msg);
	}
	ck_assert_int_eq(hr_msg_decode(&msg, "", 0, false), EBADMSG);
	ck_assert_int_eq(hr_msg_decode(&msg, "\r\n\r\n", 4, false), EBADMSG);
	ck_assert_uint_eq(hr_mem_live(), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("msg");
	TCase *tc = tcase_create("msg");

	tcase_add_loop_test(tc, test_table, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_loop_test(tc, test_round_trip, 0,
		sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_fields);
	tcase_add_test(tc, test_many_headers);
	tcase_add_test(tc, test_frame);
	tcase_add_test(tc, test_garbage);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return hr_check_run(suite());
}
