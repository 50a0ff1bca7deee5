/* server/sip/tcp.c: outgoing connections, with real sockets on
 * 127.0.0.1. Stack B sends NOTIFYs in client transactions to stack A over
 * TCP: the first opens a connection (RFC 3261 18.1.1), the next reuse it,
 * and A's 200s come back on it. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include "check_run.h"
#include "sip/sip.h"

static struct hr_sip *a, *b;
static struct hr_sa a_addr;
static unsigned got_notify, got_200, got_err;
static int last_err;

static void on_notify(struct hr_strans *st, const struct hr_msg *req,
	void *arg)
{
	(void)req;
	(void)arg;
	got_notify++;
	hr_strans_replys(st, 200, "OK");
}

static void on_resp(int err, const struct hr_msg *resp, void *arg)
{
	(void)arg;
	if (err) {
		got_err++;
		last_err = err;
	}
	else if (resp->scode == 200)
		got_200++;
}

static void send_notify(unsigned cseq)
{
	char hdrs[256];
	struct hr_req req = {
		.method = "NOTIFY",
		.ruri = HR_PL("sip:a@127.0.0.1"),
		.ctype = NULL,
	};
	struct hr_dest dst = { .tp = HR_TP_TCP, .addr = a_addr };

	snprintf(hdrs, sizeof(hdrs), "From: <sip:b@example.test>;tag=b\r\n"
		"To: <sip:a@example.test>;tag=a\r\nCall-ID: tcp-test\r\n"
		"CSeq: %u NOTIFY\r\nEvent: reg\r\n"
		"Subscription-State: active;expires=60\r\n", cseq);
	req.hdrs = hr_pl_str(hdrs);
	ck_assert_int_eq(hr_ctrans_request(NULL, b, &dst, &req, on_resp, NULL),
		0);
}

static void run_until(const unsigned *n, unsigned want)
{
	for (int i = 0; i < 3000 && *n < want; i++) {
		hr_loop_once();
		usleep(1000);
	}
}

static void setup(void)
{
	ck_assert_int_eq(hr_loop_init(), 0);
	ck_assert_int_eq(hr_sip_alloc(&a, NULL), 0);
	ck_assert_int_eq(hr_sip_alloc(&b, NULL), 0);
	hr_sa_set(&a_addr, "127.0.0.1", 0);
	ck_assert_int_eq(hr_sip_listen(a, HR_TP_TCP, &a_addr, NULL, 0), 0);
	hr_sip_handle(a, HR_METH_NOTIFY, on_notify, NULL);
	got_notify = got_200 = got_err = 0;
}

static void teardown(void)
{
	a = hr_mem_deref(a);
	b = hr_mem_deref(b);
	hr_loop_close();
	ck_assert_uint_eq(hr_mem_live(), 0);
}

START_TEST(test_connect_and_reuse)
{
	send_notify(1);
	run_until(&got_200, 1);
	ck_assert_uint_eq(got_notify, 1);
	ck_assert_uint_eq(got_200, 1);
	send_notify(2);
	send_notify(3);
	run_until(&got_200, 3);
	ck_assert_uint_eq(got_200, 3);
	ck_assert_uint_eq(got_err, 0);
	/* one connection carried all three */
	ck_assert_uint_eq(hr_sip_conn_count(b), 1);
	ck_assert_uint_eq(hr_sip_conn_count(a), 1);
}
END_TEST

START_TEST(test_refused)
{
	struct hr_sa dead;
	struct hr_req req = { .method = "NOTIFY",
		.ruri = HR_PL("sip:a@127.0.0.1"),
		.hdrs = HR_PL("From: <sip:b@x>;tag=1\r\nTo: <sip:a@x>\r\n"
			"Call-ID: r\r\nCSeq: 1 NOTIFY\r\n") };
	struct hr_dest dst = { .tp = HR_TP_TCP };

	/* a port nobody listens on: the connection fails and closes, and
	 * the transaction fails at once (RFC 3261 8.1.3.1), not at Timer F;
	 * its handler is told once */
	hr_sa_set(&dead, "127.0.0.1", 0);
	ck_assert_int_eq(hr_sip_listen(b, HR_TP_TCP, &dead, NULL, 0), 0);
	hr_sip_close(b);
	dst.addr = dead;
	ck_assert_int_eq(hr_ctrans_request(NULL, b, &dst, &req, on_resp, NULL),
		0);
	run_until(&got_err, 1);
	ck_assert_uint_eq(got_err, 1);
	ck_assert_int_eq(last_err, ECONNRESET);
	ck_assert_uint_eq(hr_sip_conn_count(b), 0);
	ck_assert_uint_eq(hr_sip_ctrans_count(b), 0);
	hr_clock_advance(64 * HR_SIP_T1);
	hr_loop_once();
	ck_assert_uint_eq(got_err, 1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tcp");
	TCase *tc = tcase_create("tcp");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_connect_and_reuse);
	tcase_add_test(tc, test_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return hr_check_run(suite());
}
