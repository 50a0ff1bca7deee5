/* server/sip/dialog.c: a dialog made by a SUBSCRIBE we answer (RFC 3261
 * 12.1.1), the requests sent inside it (12.2.1.1: loose and strict
 * routing, CSeq), and its stored form. */
#include <errno.h>
#include <stdio.h>
#include "sipmock.h"
#include "check_run.h"

#define SUB_HEAD "SUBSCRIBE sip:alice@example.test SIP/2.0\r\n" \
	"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKd1\r\n" \
	"Max-Forwards: 70\r\n" \
	"From: \"Bob\" <sip:bob@example.test>;tag=rt1\r\n" \
	"To: <sip:alice@example.test>\r\n" \
	"Call-ID: dlg1@192.0.2.1\r\nCSeq: 7 SUBSCRIBE\r\nEvent: presence\r\n"

static struct hr_msg *req;
static struct hr_dialog *dlg;
static struct hr_buf ruri, hdrs;

/* A request as if received by UDP from 192.0.2.1:5060 on 192.0.2.99. */
static struct hr_msg *request(const char *extra)
{
	char m[4096];
	struct hr_msg *msg;

	snprintf(m, sizeof(m), "%s%sContent-Length: 0\r\n\r\n", SUB_HEAD,
		extra);
	ck_assert_int_eq(hr_msg_decode(&msg, m, strlen(m), false), 0);
	ck_assert_uint_eq(msg->err_scode, 0);
	hr_sa_set(&msg->src, "192.0.2.1", 5060);
	hr_sa_set(&msg->dst, "192.0.2.99", 5060);
	return msg;
}

static void accept_req(const char *extra)
{
	req = request(extra);
	ck_assert_int_eq(hr_dialog_accept(&dlg, mock.sip, req,
		"example.test"), 0);
}

static void setup(void)
{
	mock_setup();
	hr_buf_init(&ruri, 4096);
	hr_buf_init(&hdrs, 64 * 1024);
}

static void teardown(void)
{
	hr_buf_reset(&ruri);
	hr_buf_reset(&hdrs);
	dlg = hr_mem_deref(dlg);
	req = hr_mem_deref(req);
	/* every request sent runs out (Timer F, K) */
	mock_advance(64 * HR_SIP_T1 + HR_SIP_T4);
	mock_teardown();
}

static void not_resolved(int err, const char *host, void *arg)
{
	(void)err;
	(void)host;
	(void)arg;
	ck_abort_msg("no name to look up here");
}

/* Prepare the next NOTIFY: 0 and NUL-terminated ruri and hdrs. */
static int prepare(struct hr_dest *d, bool to_source)
{
	int err;

	hr_buf_reset(&ruri);
	hr_buf_reset(&hdrs);
	err = hr_dialog_prepare(mock.sip, dlg, "NOTIFY", to_source, d, &ruri,
		&hdrs, not_resolved, NULL);
	if (!err)
		err = hr_buf_write(&ruri, "", 1) || hr_buf_write(&hdrs, "", 1);
	return err;
}

/* Send what prepare() made. */
static void send_prepared(const struct hr_dest *d)
{
	struct hr_req r = { .method = "NOTIFY" };

	r.ruri = (struct hr_pl){ ruri.b, ruri.len - 1 };
	r.hdrs = (struct hr_pl){ hdrs.b, hdrs.len - 1 };
	ck_assert_int_eq(hr_dialog_send(NULL, mock.sip, dlg, d, &r, NULL,
		NULL), 0);
}

START_TEST(test_accept)
{
	struct hr_dialog_rec r;

	accept_req("Contact: <sip:bob@192.0.2.1:5062>;+sip.instance="
		"\"<urn:uuid:1>\"\r\n"
		"Record-Route: <sip:192.0.2.10;lr>, <sip:192.0.2.11;lr>\r\n"
		"Record-Route: <sip:192.0.2.12;lr>\r\n");
	hr_dialog_encode(dlg, &r);
	ck_assert_str_eq(r.callid, "dlg1@192.0.2.1");
	ck_assert_uint_eq(strlen(r.local_tag), 16);
	ck_assert_str_eq(r.remote_tag, "rt1");
	ck_assert_str_eq(r.local_uri, "sip:alice@example.test");
	ck_assert_str_eq(r.remote_uri, "sip:bob@example.test");
	ck_assert_str_eq(r.remote_target, "sip:bob@192.0.2.1:5062");
	/* RFC 3261 12.1.1: the Record-Route values, in order */
	ck_assert_str_eq(r.route_set, "<sip:192.0.2.10;lr>,"
		"<sip:192.0.2.11;lr>,<sip:192.0.2.12;lr>");
	ck_assert_str_eq(r.transport, "udp");
	ck_assert_str_eq(r.received, "udp:192.0.2.1:5060");
	ck_assert_str_eq(r.instance, "\"<urn:uuid:1>\"");
	ck_assert_str_eq(r.local_contact, "<sip:192.0.2.99:5060>");
	ck_assert_int_eq(r.remote_cseq, 7);
	ck_assert_str_eq(hr_dialog_local_tag(dlg), r.local_tag);
	ck_assert_str_eq(hr_dialog_target(dlg), r.remote_target);
	ck_assert_int_eq(hr_dialog_cseq(dlg), 0);
}
END_TEST

START_TEST(test_accept_bad)
{
	static const char *const bad[] = { "", "Contact: *\r\n" };
	struct hr_dialog *d = NULL;
	const char *m = "SUBSCRIBE sip:alice@example.test SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKd2\r\n"
		"From: <sip:bob@example.test>\r\nTo: <sip:alice@example.test>\r\n"
		"Call-ID: x\r\nCSeq: 1 SUBSCRIBE\r\n"
		"Contact: <sip:bob@192.0.2.1>\r\nContent-Length: 0\r\n\r\n";

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		req = request(bad[i]);
		ck_assert_int_eq(hr_dialog_accept(&d, mock.sip, req,
			"example.test"), EBADMSG);
		ck_assert_ptr_null(d);
		req = hr_mem_deref(req);
	}
	/* RFC 3261 12.1.1: the remote tag is From's: none, no dialog */
	ck_assert_int_eq(hr_msg_decode(&req, m, strlen(m), false), 0);
	ck_assert_int_eq(hr_dialog_accept(&d, mock.sip, req, "example.test"),
		EBADMSG);
	ck_assert_ptr_null(d);
}
END_TEST

START_TEST(test_match)
{
	struct hr_pl ltag;

	accept_req("Contact: <sip:bob@192.0.2.1>\r\n");
	ltag = hr_pl_str(hr_dialog_local_tag(dlg));
	ck_assert(hr_dialog_match(dlg, &HR_PL("dlg1@192.0.2.1"), &ltag,
		&HR_PL("rt1")));
	ck_assert(!hr_dialog_match(dlg, &HR_PL("dlg2@192.0.2.1"), &ltag,
		&HR_PL("rt1")));
	ck_assert(!hr_dialog_match(dlg, &HR_PL("dlg1@192.0.2.1"), &ltag,
		&HR_PL("rt2")));
	ck_assert(!hr_dialog_match(dlg, &HR_PL("dlg1@192.0.2.1"),
		&HR_PL("other"), &HR_PL("rt1")));
}
END_TEST

/* RFC 3261 12.2.1.1: no route set, the request goes to the target. */
START_TEST(test_request_no_routes)
{
	char host[HR_SA_STRLEN];
	struct hr_dest d;

	accept_req("Contact: <sip:bob@192.0.2.1:5062>\r\n");
	ck_assert_int_eq(prepare(&d, false), 0);
	ck_assert_str_eq(ruri.b, "sip:bob@192.0.2.1:5062");
	ck_assert_ptr_null(strstr(hdrs.b, "Route:"));
	ck_assert_ptr_nonnull(strstr(hdrs.b, "CSeq: 1 NOTIFY\r\n"));
	ck_assert_uint_eq(d.tp, HR_TP_UDP);
	ck_assert_str_eq(hr_sa_print(&d.addr, host, sizeof(host)),
		"192.0.2.1:5062");
	/* the source is the dialog's local address (its Contact's) */
	ck_assert_str_eq(hr_sa_print(&d.laddr, host, sizeof(host)),
		"192.0.2.99:5060");
}
END_TEST

/* From, To, Call-ID, CSeq and Contact, and the CSeq goes up once a
 * request was sent (not when it was only prepared). */
START_TEST(test_request_headers)
{
	char want[512];
	struct hr_dest d;

	accept_req("Contact: <sip:bob@192.0.2.1:5062>\r\n");
	ck_assert_int_eq(prepare(&d, false), 0);
	snprintf(want, sizeof(want), "From: <sip:alice@example.test>;tag=%s\r\n"
		"To: <sip:bob@example.test>;tag=rt1\r\n"
		"Call-ID: dlg1@192.0.2.1\r\nCSeq: 1 NOTIFY\r\n"
		"Contact: <sip:192.0.2.99:5060>\r\n",
		hr_dialog_local_tag(dlg));
	ck_assert_str_eq(hdrs.b, want);
	ck_assert_int_eq(prepare(&d, false), 0);
	ck_assert_ptr_nonnull(strstr(hdrs.b, "CSeq: 1 NOTIFY\r\n"));
	send_prepared(&d);
	ck_assert_int_eq(hr_dialog_cseq(dlg), 1);
	ck_assert_uint_eq(mock.n, 1);
	ck_assert(!strncmp(mock.out[0], "NOTIFY sip:bob@192.0.2.1:5062 "
		"SIP/2.0\r\n", 39));
	ck_assert_ptr_nonnull(strstr(mock.out[0], "\r\nCSeq: 1 NOTIFY\r\n"));
	ck_assert_int_eq(prepare(&d, false), 0);
	ck_assert_ptr_nonnull(strstr(hdrs.b, "CSeq: 2 NOTIFY\r\n"));
	send_prepared(&d);
	ck_assert_int_eq(hr_dialog_cseq(dlg), 2);
	ck_assert_ptr_nonnull(strstr(mock.out[1], "\r\nCSeq: 2 NOTIFY\r\n"));
}
END_TEST

/* A loose router first: Request-URI the target, the route set in Route,
 * sent to the first route. */
START_TEST(test_request_loose)
{
	char host[HR_SA_STRLEN];
	struct hr_dest d;

	accept_req("Contact: <sip:bob@192.0.2.1:5062>\r\n"
		"Record-Route: <sip:192.0.2.10:5070;lr>\r\n"
		"Record-Route: <sip:192.0.2.11;lr;transport=tcp>\r\n");
	ck_assert_int_eq(prepare(&d, false), 0);
	ck_assert_str_eq(ruri.b, "sip:bob@192.0.2.1:5062");
	ck_assert(!strncmp(hdrs.b, "Route: <sip:192.0.2.10:5070;lr>,"
		"<sip:192.0.2.11;lr;transport=tcp>\r\nFrom: ", 71));
	ck_assert_uint_eq(d.tp, HR_TP_UDP);
	ck_assert_str_eq(hr_sa_print(&d.addr, host, sizeof(host)),
		"192.0.2.10:5070");
}
END_TEST

/* A strict router first: it is the Request-URI, the rest of the route
 * set and then the target are Route, sent to it. */
START_TEST(test_request_strict)
{
	char host[HR_SA_STRLEN];
	struct hr_dest d;

	accept_req("Contact: <sip:bob@192.0.2.1:5062>\r\n"
		"Record-Route: <sip:192.0.2.10;transport=tcp>, "
		"<sip:192.0.2.11;lr>\r\nRecord-Route: <sip:192.0.2.12;lr>\r\n");
	ck_assert_int_eq(prepare(&d, false), 0);
	ck_assert_str_eq(ruri.b, "sip:192.0.2.10;transport=tcp");
	ck_assert(!strncmp(hdrs.b, "Route: <sip:192.0.2.11;lr>,"
		"<sip:192.0.2.12;lr>,<sip:bob@192.0.2.1:5062>\r\nFrom: ", 73));
	ck_assert_uint_eq(d.tp, HR_TP_TCP);
	ck_assert_str_eq(hr_sa_print(&d.addr, host, sizeof(host)),
		"192.0.2.10:5060");
}
END_TEST

/* Behind NAT: to where the request came from, when asked. */
START_TEST(test_request_to_source)
{
	char host[HR_SA_STRLEN];
	struct hr_dest d;

	accept_req("Contact: <sip:bob@10.0.0.5:5062>\r\n");
	ck_assert_int_eq(prepare(&d, true), 0);
	ck_assert_str_eq(ruri.b, "sip:bob@10.0.0.5:5062");
	ck_assert_str_eq(hr_sa_print(&d.addr, host, sizeof(host)),
		"192.0.2.1:5060");
	ck_assert_int_eq(prepare(&d, false), 0);
	ck_assert_str_eq(hr_sa_print(&d.addr, host, sizeof(host)),
		"10.0.0.5:5062");
	hr_dialog_set_tp(dlg, &d, HR_TP_TCP);
	ck_assert_uint_eq(d.tp, HR_TP_TCP);
	ck_assert_ptr_null(d.sock);
}
END_TEST

/* A target without a host to send to: no request. */
START_TEST(test_request_bad_target)
{
	struct hr_dest d;

	accept_req("Contact: <tel:+15551234>\r\n");
	ck_assert_int_eq(prepare(&d, false), EHOSTUNREACH);
}
END_TEST

/* RFC 3261 12.2.2, and a refresh that moves the target. */
START_TEST(test_update)
{
	struct hr_msg *next;
	struct hr_dest d;

	accept_req("Contact: <sip:bob@192.0.2.1:5062>\r\n");
	ck_assert(!hr_dialog_rcseq_valid(dlg, req));
	hr_dialog_update(dlg, 6, NULL, NULL);
	ck_assert(hr_dialog_rcseq_valid(dlg, req));
	hr_dialog_update(dlg, 7, hr_pl_strdup(&HR_PL("sip:bob@192.0.2.2")),
		NULL);
	ck_assert(!hr_dialog_rcseq_valid(dlg, req));
	ck_assert_str_eq(hr_dialog_target(dlg), "sip:bob@192.0.2.2");
	hr_dialog_update(dlg, 7, hr_pl_strdup(&HR_PL("sip:bob@192.0.2.3")),
		NULL);
	ck_assert_int_eq(prepare(&d, false), 0);
	ck_assert_str_eq(ruri.b, "sip:bob@192.0.2.3");
	next = request("Contact: <sip:bob@192.0.2.1>\r\n");
	ck_assert(!hr_dialog_rcseq_valid(dlg, next));
	hr_mem_deref(next);
}
END_TEST

/* The stored form back: the same dialog, requests going on past the
 * CSeq it skips to. */
START_TEST(test_roundtrip)
{
	struct hr_dialog_rec a, b;
	struct hr_dialog *back = NULL;
	struct hr_dest d;
	char first[2048];

	accept_req("Contact: <sip:bob@192.0.2.1:5062>;+sip.instance="
		"\"<urn:uuid:2>\"\r\n"
		"Record-Route: <sip:192.0.2.10;lr>\r\n");
	ck_assert_int_eq(prepare(&d, false), 0);
	snprintf(first, sizeof(first), "%s", hdrs.b);
	hr_dialog_encode(dlg, &a);
	ck_assert_int_eq(hr_dialog_decode(&back, &a), 0);
	hr_dialog_encode(back, &b);
	ck_assert_str_eq(b.callid, a.callid);
	ck_assert_str_eq(b.local_tag, a.local_tag);
	ck_assert_str_eq(b.remote_tag, a.remote_tag);
	ck_assert_str_eq(b.local_uri, a.local_uri);
	ck_assert_str_eq(b.remote_uri, a.remote_uri);
	ck_assert_str_eq(b.local_contact, a.local_contact);
	ck_assert_str_eq(b.remote_target, a.remote_target);
	ck_assert_str_eq(b.route_set, a.route_set);
	ck_assert_str_eq(b.transport, a.transport);
	ck_assert_str_eq(b.received, a.received);
	ck_assert_str_eq(b.instance, a.instance);
	ck_assert_int_eq(b.remote_cseq, a.remote_cseq);
	/* the recovered dialog prints what the first one printed */
	hr_mem_deref(dlg);
	dlg = back;
	ck_assert_int_eq(prepare(&d, false), 0);
	ck_assert_str_eq(hdrs.b, first);
	hr_dialog_skip_cseq(dlg, 100);
	hr_dialog_skip_cseq(dlg, 50);   /* never back */
	ck_assert_int_eq(prepare(&d, false), 0);
	ck_assert_ptr_nonnull(strstr(hdrs.b, "CSeq: 101 NOTIFY\r\n"));
}
END_TEST

/* A row without the optional columns, and TCP. */
START_TEST(test_decode_minimal)
{
	const struct hr_dialog_rec r = { .callid = "c", .local_tag = "lt",
		.remote_tag = "rt", .local_uri = "sip:a@example.test",
		.remote_uri = "sip:b@example.test",
		.local_contact = "<sip:192.0.2.99;transport=tcp>",
		.remote_target = "sip:b@192.0.2.1", .transport = "tcp",
		.remote_cseq = 3 };
	struct hr_dialog_rec e;
	struct hr_dest d;

	ck_assert_int_eq(hr_dialog_decode(&dlg, &r), 0);
	hr_dialog_encode(dlg, &e);
	ck_assert_ptr_null(e.route_set);
	ck_assert_ptr_null(e.received);
	ck_assert_ptr_null(e.instance);
	ck_assert_str_eq(e.transport, "tcp");
	ck_assert_str_eq(hr_dialog_instance(dlg), "");
	ck_assert_int_eq(prepare(&d, true), 0);
	ck_assert_uint_eq(d.tp, HR_TP_TCP);
	ck_assert_int_eq(hr_dialog_decode(NULL, &r), EINVAL);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dialog");
	TCase *tc = tcase_create("dialog");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_accept);
	tcase_add_test(tc, test_accept_bad);
	tcase_add_test(tc, test_match);
	tcase_add_test(tc, test_request_no_routes);
	tcase_add_test(tc, test_request_headers);
	tcase_add_test(tc, test_request_loose);
	tcase_add_test(tc, test_request_strict);
	tcase_add_test(tc, test_request_to_source);
	tcase_add_test(tc, test_request_bad_target);
	tcase_add_test(tc, test_update);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_decode_minimal);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return hr_check_run(suite());
}
