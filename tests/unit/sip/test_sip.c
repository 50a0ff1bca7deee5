/* server/sip/sip.c and print.c: the router's answers in RFC 3261 8.2
 * order, stateless replies, and where responses go. */
#include <errno.h>
#include <stdio.h>
#include "sipmock.h"
#include "check_run.h"

#define REQL(line, meth, extra) line "\r\n" \
	"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKr1\r\n" \
	"Max-Forwards: 70\r\nTo: <sip:alice@example.test>\r\n" \
	"From: <sip:bob@example.test>;tag=b1\r\nCall-ID: r1@h\r\n" \
	"CSeq: 1 " meth "\r\n" extra "Content-Length: 0\r\n\r\n"
#define REQ(meth, extra) REQL(meth " sip:alice@example.test SIP/2.0", meth, \
	extra)

struct rcase {
	const char *name;
	const char *msg;
	unsigned scode;       /* 0: no response at all */
	const char *has;      /* text the response must contain */
};

static const struct rcase cases[] = {
	{ "OPTIONS", REQ("OPTIONS", ""), 200, "Allow: OPTIONS, ACK, CANCEL" },
	{ "OPTIONS lists Accept and Supported", REQ("OPTIONS", ""), 200,
	  "Supported:" },
	{ "INVITE", REQ("INVITE", ""), 405, "Allow: OPTIONS" },
	{ "BYE outside a dialog", REQ("BYE", ""), 481,
	  "Call/Transaction Does Not Exist" },
	{ "ACK", REQ("ACK", ""), 0, NULL },
	{ "CANCEL without a transaction", REQ("CANCEL", ""), 481,
	  "Call/Transaction Does Not Exist" },
	{ "unknown method", REQ("FOO", ""), 501, "Not Implemented" },
	{ "REGISTER before its issue", REQ("REGISTER", ""), 501, NULL },
	{ "SUBSCRIBE before its issue", REQ("SUBSCRIBE", ""), 501, NULL },
	{ "PUBLISH before its issue", REQ("PUBLISH", ""), 501, NULL },
	{ "NOTIFY before its issue", REQ("NOTIFY", ""), 501, NULL },
	{ "Require unknown", REQ("OPTIONS", "Require: foo, 100rel\r\n"), 420,
	  "Unsupported: foo\r\nUnsupported: 100rel\r\n" },
	{ "Max-Forwards 0 on REGISTER",
	  REQ("REGISTER", "Max-Forwards: 0\r\n"), 400, "Multiple Max-Forwards" },
	{ "unknown URI scheme", REQL("OPTIONS mailto:a@example.test SIP/2.0",
	  "OPTIONS", ""), 416, "Unsupported URI Scheme" },
	{ "bad CSeq", REQL("OPTIONS sip:a@example.test SIP/2.0", "x OPTIONS",
	  ""), 400, "400 Bad CSeq\r\n" },
	{ "SIP/3.0", REQL("OPTIONS sip:a@example.test SIP/3.0", "OPTIONS", ""),
	  505, "Version Not Supported" },
	{ "no Via: dropped", "OPTIONS sip:a@example.test SIP/2.0\r\n"
	  "To: <sip:a@example.test>\r\nFrom: <sip:b@example.test>;tag=1\r\n"
	  "Call-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n", 0, NULL },
	{ "response matching nothing: dropped", "SIP/2.0 200 OK\r\n"
	  "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKzz\r\n"
	  "To: <sip:a@example.test>\r\nFrom: <sip:b@example.test>;tag=1\r\n"
	  "Call-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n", 0, NULL },
	{ "malformed response: dropped", "SIP/2.0 200 OK\r\n"
	  "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKzz\r\n"
	  "Call-ID: x\r\nCSeq: x OPTIONS\r\n\r\n", 0, NULL },
};

START_TEST(test_route)
{
	const struct rcase *c = &cases[_i];

	mock_recv(HR_TP_UDP, c->msg);
	if (!c->scode) {
		ck_assert_msg(mock.n == 0, "%s: answered", c->name);
	} else {
		ck_assert_msg(mock.n == 1, "%s: %u answers", c->name, mock.n);
		ck_assert_msg(mock_status(0) == c->scode, "%s: got %s", c->name,
			mock.out[0]);
		if (c->has)
			ck_assert_msg(strstr(mock.out[0], c->has), "%s: %s",
				c->name, mock.out[0]);
		ck_assert(strstr(mock.out[0], "Content-Length: 0\r\n\r\n"));
	}
	mock_advance(64 * HR_SIP_T1);
}
END_TEST

/* The Max-Forwards 0 row above has two Max-Forwards; here, one. */
START_TEST(test_max_forwards_zero)
{
	mock_recv(HR_TP_UDP, "REGISTER sip:example.test SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKm0\r\n"
		"Max-Forwards: 0\r\nTo: <sip:a@example.test>\r\n"
		"From: <sip:a@example.test>;tag=1\r\nCall-ID: m0\r\n"
		"CSeq: 1 REGISTER\r\n\r\n");
	ck_assert_uint_eq(mock_status(0), 483);
	/* RFC 3261 11: OPTIONS at zero is still answered by its target */
	mock_recv(HR_TP_UDP, "OPTIONS sip:example.test SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKm1\r\n"
		"Max-Forwards: 0\r\nTo: <sip:a@example.test>\r\n"
		"From: <sip:a@example.test>;tag=1\r\nCall-ID: m1\r\n"
		"CSeq: 1 OPTIONS\r\n\r\n");
	ck_assert_uint_eq(mock_status(1), 200);
}
END_TEST

START_TEST(test_stateless_totag_is_stable)
{
	mock_recv(HR_TP_UDP, REQ("OPTIONS", ""));
	mock_recv(HR_TP_UDP, REQ("OPTIONS", ""));
	ck_assert_uint_eq(mock.n, 2);
	ck_assert_str_eq(mock.out[0], mock.out[1]);
	ck_assert_ptr_nonnull(strstr(mock.out[0],
		"To: <sip:alice@example.test>;tag="));
	ck_assert_uint_eq(hr_sip_strans_count(mock.sip), 0);
}
END_TEST

START_TEST(test_existing_totag_kept)
{
	mock_recv(HR_TP_UDP, "OPTIONS sip:a@example.test SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKt1\r\n"
		"To: <sip:a@example.test>;tag=have\r\n"
		"From: <sip:b@example.test>;tag=1\r\n"
		"Call-ID: t1\r\nCSeq: 1 OPTIONS\r\n\r\n");
	ck_assert_ptr_nonnull(strstr(mock.out[0],
		"To: <sip:a@example.test>;tag=have\r\n"));
}
END_TEST

START_TEST(test_via_received_rport)
{
	/* RFC 3581 4: rport gets the source port, received always added */
	hr_sa_set(&mock.src, "192.0.2.77", 40000);
	mock_recv(HR_TP_UDP, "OPTIONS sip:a@example.test SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bKv1\r\n"
		"Via: SIP/2.0/UDP 10.0.0.2\r\n"
		"To: <sip:a@example.test>\r\nFrom: <sip:b@example.test>;tag=1\r\n"
		"Call-ID: v1\r\nCSeq: 1 OPTIONS\r\n\r\n");
	ck_assert_ptr_nonnull(strstr(mock.out[0],
		"Via: SIP/2.0/UDP 10.0.0.1:5060;rport=40000;branch=z9hG4bKv1;"
		"received=192.0.2.77\r\nVia: SIP/2.0/UDP 10.0.0.2\r\n"));
	/* RFC 3261 18.2.1: sent-by equal to the source: no received */
	hr_sa_set(&mock.src, "192.0.2.1", 5060);
	mock_recv(HR_TP_UDP, REQ("OPTIONS", ""));
	ck_assert_ptr_nonnull(strstr(mock.out[1],
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKr1\r\n"));
	/* a host name always gets received */
	mock_recv(HR_TP_UDP, "OPTIONS sip:a@example.test SIP/2.0\r\n"
		"Via: SIP/2.0/UDP pc.example.test;branch=z9hG4bKv3\r\n"
		"To: <sip:a@example.test>\r\nFrom: <sip:b@example.test>;tag=1\r\n"
		"Call-ID: v3\r\nCSeq: 1 OPTIONS\r\n\r\n");
	ck_assert_ptr_nonnull(strstr(mock.out[2],
		"branch=z9hG4bKv3;received=192.0.2.1\r\n"));
}
END_TEST

static void dest_of(const char *via, struct hr_dest *dst)
{
	char buf[1024];
	struct hr_msg *m;

	snprintf(buf, sizeof(buf), "OPTIONS sip:a@example.test SIP/2.0\r\n"
		"Via: %s\r\nTo: <sip:a@example.test>\r\n"
		"From: <sip:b@example.test>;tag=1\r\nCall-ID: d\r\n"
		"CSeq: 1 OPTIONS\r\n\r\n", via);
	ck_assert_int_eq(hr_msg_decode(&m, buf, strlen(buf), false), 0);
	m->tp = HR_TP_UDP;
	hr_sa_set(&m->src, "192.0.2.77", 40000);
	hr_sip_resp_dest(m, dst);
	hr_mem_deref(m);
}

/* The served domain: the Request-URI's host, or To's when the
 * Request-URI names the address the request came in on, in any
 * spelling of that address. */
static const char *domain_of(const char *ruri, const char *local,
	uint16_t port)
{
	static const char *const domains[] = { "example.test" };
	char buf[512];
	struct hr_msg *m;
	const char *d;

	snprintf(buf, sizeof(buf), "REGISTER %s SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKd\r\n"
		"To: <sip:a@Example.TEST>\r\nFrom: <sip:a@example.test>;tag=1"
		"\r\nCall-ID: d\r\nCSeq: 1 REGISTER\r\n\r\n", ruri);
	ck_assert_int_eq(hr_msg_decode(&m, buf, strlen(buf), false), 0);
	ck_assert_int_eq(hr_sa_set(&m->dst, local, port), 0);
	d = hr_req_domain(m, domains, 1);
	hr_mem_deref(m);
	return d;
}

START_TEST(test_req_domain)
{
	ck_assert_str_eq(domain_of("sip:EXAMPLE.test", "::1", 5060),
		"example.test");
	ck_assert_ptr_null(domain_of("sip:other.test", "::1", 5060));
	ck_assert_str_eq(domain_of("sip:[::1]", "::1", 5060), "example.test");
	ck_assert_str_eq(domain_of("sip:[0:0::1]:5060", "::1", 5060),
		"example.test");
	ck_assert_str_eq(domain_of("sip:127.0.0.1", "127.0.0.1", 5060),
		"example.test");
	/* another address, or another port, is not this one */
	ck_assert_ptr_null(domain_of("sip:127.0.0.2", "127.0.0.1", 5060));
	ck_assert_ptr_null(domain_of("sip:127.0.0.1:5070", "127.0.0.1",
		5060));
}
END_TEST

START_TEST(test_resp_dest)
{
	struct hr_dest d;
	char s[HR_SA_STRLEN];

	dest_of("SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1;rport", &d);
	ck_assert_str_eq(hr_sa_print(&d.addr, s, sizeof(s)), "192.0.2.77:40000");
	/* RFC 3261 18.2.2: the received address and the sent-by port */
	dest_of("SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1", &d);
	ck_assert_str_eq(hr_sa_print(&d.addr, s, sizeof(s)), "192.0.2.77:5070");
	dest_of("SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1", &d);
	ck_assert_str_eq(hr_sa_print(&d.addr, s, sizeof(s)), "192.0.2.77:5060");
	dest_of("SIP/2.0/UDP 10.0.0.1:5070;maddr=192.0.2.200;branch=z9hG4bK1",
		&d);
	ck_assert_str_eq(hr_sa_print(&d.addr, s, sizeof(s)),
		"192.0.2.200:5070");
}
END_TEST

START_TEST(test_handler_gets_allow)
{
	mock_recv(HR_TP_UDP, REQ("OPTIONS", ""));
	ck_assert(!strstr(mock.out[0], "Allow-Events"));
	hr_sip_event_add(mock.sip, "presence");
	hr_sip_supported_add(mock.sip, "path");
	hr_sip_accept_add(mock.sip, "application/pidf+xml");
	mock_recv(HR_TP_UDP, REQL("OPTIONS sip:alice@example.test SIP/2.0",
		"OPTIONS", "Require: path\r\n"));
	ck_assert_uint_eq(mock_status(1), 200);
	ck_assert(strstr(mock.out[1], "Allow-Events: presence\r\n"));
	ck_assert(strstr(mock.out[1], "Supported: path\r\n"));
	ck_assert(strstr(mock.out[1], "Accept: application/pidf+xml\r\n"));
}
END_TEST


/* --sip-listen specs: the address, and advertise= (a name, IPv4 or
 * bracketed IPv6, with or without a port). */
static const struct {
	const char *spec;
	int err;
	enum hr_tp tp;
	const char *laddr;
	const char *host;
	uint16_t port;
} specs[] = {
	{ "udp:127.0.0.1:5060", 0, HR_TP_UDP, "127.0.0.1:5060", "", 0 },
	{ "TCP:[::]:5061", 0, HR_TP_TCP, "[::]:5061", "", 0 },
	{ "udp:0.0.0.0:5060;advertise=sip.example.com:5080", 0, HR_TP_UDP,
	  "0.0.0.0:5060", "sip.example.com", 5080 },
	{ "tcp:0.0.0.0:5060;ADVERTISE=sip.example.com", 0, HR_TP_TCP,
	  "0.0.0.0:5060", "sip.example.com", 0 },
	{ "udp:0.0.0.0:5060;advertise=203.0.113.7", 0, HR_TP_UDP,
	  "0.0.0.0:5060", "203.0.113.7", 0 },
	{ "udp:[::]:5060;advertise=[2001:db8::1]:5070", 0, HR_TP_UDP,
	  "[::]:5060", "[2001:db8::1]", 5070 },
	{ "udp:[::]:5060;advertise=[2001:db8::1]", 0, HR_TP_UDP,
	  "[::]:5060", "[2001:db8::1]", 0 },
	{ "sctp:0.0.0.0:5060", EINVAL, 0, NULL, NULL, 0 },
	{ "udp:0.0.0.0", EINVAL, 0, NULL, NULL, 0 },
	{ "udp:0.0.0.0:5060;", EINVAL, 0, NULL, NULL, 0 },
	{ "udp:0.0.0.0:5060;advertise=", EINVAL, 0, NULL, NULL, 0 },
	{ "udp:0.0.0.0:5060;advertise=a b", EINVAL, 0, NULL, NULL, 0 },
	{ "udp:0.0.0.0:5060;advertise=h:0", EINVAL, 0, NULL, NULL, 0 },
	{ "udp:0.0.0.0:5060;advertise=h:65536", EINVAL, 0, NULL, NULL, 0 },
	{ "udp:0.0.0.0:5060;advertise=h:", EINVAL, 0, NULL, NULL, 0 },
	{ "udp:0.0.0.0:5060;advertise=h:+5", EINVAL, 0, NULL, NULL, 0 },
	{ "udp:0.0.0.0:5060;advertise=2001:db8::1", EINVAL, 0, NULL, NULL,
	  0 },
	{ "udp:0.0.0.0:5060;advertise=[2001:db8::1", EINVAL, 0, NULL, NULL,
	  0 },
	{ "udp:0.0.0.0:5060;advertise=[nope]:5", EINVAL, 0, NULL, NULL, 0 },
	{ "udp:0.0.0.0:5060;maddr=h", EINVAL, 0, NULL, NULL, 0 },
};

START_TEST(test_listen_decode)
{
	struct hr_listen ls;
	char s[HR_SA_STRLEN];

	ck_assert_int_eq(hr_sip_listen_decode(&ls, specs[_i].spec),
		specs[_i].err);
	if (specs[_i].err)
		return;
	ck_assert_int_eq(ls.tp, specs[_i].tp);
	ck_assert_str_eq(hr_sa_print(&ls.laddr, s, sizeof(s)),
		specs[_i].laddr);
	ck_assert_str_eq(ls.adv_host, specs[_i].host);
	ck_assert_uint_eq(ls.adv_port, specs[_i].port);
}
END_TEST

/* What Contact and Via name for a socket: advertise= first, else the
 * local address of the request or dialog, else the socket's own one. */
static struct hr_sip *real;

static void real_setup(void)
{
	ck_assert_int_eq(hr_loop_init(), 0);
	ck_assert_int_eq(hr_sip_alloc(&real, NULL), 0);
}

static void real_teardown(void)
{
	real = hr_mem_deref(real);
	hr_loop_close();
	ck_assert_uint_eq(hr_mem_live(), 0);
}

static uint16_t listen_on(enum hr_tp tp, const char *spec)
{
	struct hr_listen ls;

	ck_assert_int_eq(hr_sip_listen_decode(&ls, spec), 0);
	ck_assert_int_eq(hr_sip_listen(real, tp, &ls.laddr, ls.adv_host,
		ls.adv_port), 0);
	return hr_sa_port(&ls.laddr);
}

static int advertised(enum hr_tp tp, const char *laddr, uint16_t port,
	char *out, size_t n)
{
	struct hr_dest d = { .tp = tp };

	hr_sa_set(&d.addr, "127.0.0.1", 9);
	if (laddr)
		ck_assert_int_eq(hr_sa_set(&d.laddr, laddr, port), 0);
	return hr_sip_advertise(real, &d, out, n);
}

START_TEST(test_advertise_wildcard)
{
	char out[HR_ADV_MAX], want[64];
	uint16_t port = listen_on(HR_TP_UDP, "udp:0.0.0.0:0");

	snprintf(want, sizeof(want), "127.0.0.2:%u", port);
	ck_assert_int_eq(advertised(HR_TP_UDP, "127.0.0.2", port, out,
		sizeof(out)), 0);
	ck_assert_str_eq(out, want);
	/* nothing known but the wildcard address */
	snprintf(want, sizeof(want), "0.0.0.0:%u", port);
	ck_assert_int_eq(advertised(HR_TP_UDP, NULL, 0, out, sizeof(out)),
		ENOENT);
	ck_assert_str_eq(out, want);
}
END_TEST

START_TEST(test_advertise_specific)
{
	char out[HR_ADV_MAX], want[64];
	uint16_t port = listen_on(HR_TP_TCP, "tcp:127.0.0.1:0");

	snprintf(want, sizeof(want), "127.0.0.1:%u", port);
	ck_assert_int_eq(advertised(HR_TP_TCP, NULL, 0, out, sizeof(out)), 0);
	ck_assert_str_eq(out, want);
}
END_TEST

START_TEST(test_advertise_given)
{
	char out[HR_ADV_MAX], want[64];
	uint16_t port = listen_on(HR_TP_UDP,
		"udp:0.0.0.0:0;advertise=sip.example.com");

	snprintf(want, sizeof(want), "sip.example.com:%u", port);
	/* it wins over the local address */
	ck_assert_int_eq(advertised(HR_TP_UDP, "127.0.0.2", port, out,
		sizeof(out)), 0);
	ck_assert_str_eq(out, want);
	listen_on(HR_TP_TCP, "tcp:0.0.0.0:0;advertise=[2001:db8::1]:5070");
	ck_assert_int_eq(advertised(HR_TP_TCP, NULL, 0, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "[2001:db8::1]:5070");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sip");
	TCase *tc = tcase_create("sip");

	tcase_add_checked_fixture(tc, mock_setup, mock_teardown);
	tcase_add_loop_test(tc, test_route, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_max_forwards_zero);
	tcase_add_test(tc, test_stateless_totag_is_stable);
	tcase_add_test(tc, test_existing_totag_kept);
	tcase_add_test(tc, test_via_received_rport);
	tcase_add_test(tc, test_resp_dest);
	tcase_add_test(tc, test_req_domain);
	tcase_add_test(tc, test_handler_gets_allow);
	tcase_add_loop_test(tc, test_listen_decode, 0,
		sizeof(specs) / sizeof(specs[0]));
	suite_add_tcase(s, tc);
	tc = tcase_create("advertise");
	tcase_add_checked_fixture(tc, real_setup, real_teardown);
	tcase_add_test(tc, test_advertise_wildcard);
	tcase_add_test(tc, test_advertise_specific);
	tcase_add_test(tc, test_advertise_given);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return hr_check_run(suite());
}
