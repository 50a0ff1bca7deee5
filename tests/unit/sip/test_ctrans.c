/* server/sip/ctrans.c: the non-INVITE client transaction (RFC 3261
 * 17.1.2) on the fake clock: Timer E back-off, Timer F, Timer K. */
#include <errno.h>
#include <stdio.h>
#include "sipmock.h"
#include "sipreq.h"
#include "check_run.h"

static unsigned nresp, last_scode;
static int last_err;

static void on_resp(int err, const struct hr_msg *resp, void *arg)
{
	(void)arg;
	nresp++;
	last_err = err;
	last_scode = resp ? resp->scode : 0;
}

static struct hr_ctrans *send_notify(enum hr_tp tp)
{
	struct hr_ctrans *ct;

	ck_assert_int_eq(sipreq_notify(&ct, mock.sip, tp, "192.0.2.1", 5060,
		on_resp), 0);
	return ct;
}

/* Answer the captured request i with a response of this status. */
static void answer(unsigned i, unsigned scode)
{
	char buf[2048], branch[64];
	const char *b = strstr(mock.out[i], "branch=");

	ck_assert_ptr_nonnull(b);
	sscanf(b + 7, "%63[^;\r]", branch);
	snprintf(buf, sizeof(buf), "SIP/2.0 %u X\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=%s\r\n"
		"From: <sip:alice@example.test>;tag=n1\r\n"
		"To: <sip:bob@example.test>;tag=b1\r\nCall-ID: n@h\r\n"
		"CSeq: 5 NOTIFY\r\nContent-Length: 0\r\n\r\n", scode, branch);
	mock_recv(HR_TP_UDP, buf);
}

START_TEST(test_request_printed)
{
	struct hr_ctrans *ct = send_notify(HR_TP_UDP);
	struct hr_msg *m;

	ck_assert_uint_eq(mock.n, 1);
	ck_assert_int_eq(hr_msg_decode(&m, mock.out[0], mock.len[0], true), 0);
	ck_assert_uint_eq(m->err_scode, 0);
	ck_assert_int_eq(m->meth, HR_METH_NOTIFY);
	ck_assert(hr_via_rfc3261(&m->via));
	ck_assert(m->via.rport);
	ck_assert_int_eq(m->maxfwd, 70);
	ck_assert(!hr_pl_strcmp(&m->body, "<reginfo/>"));
	ck_assert(hr_ctype_match(&m->ctype, "application", "reginfo+xml"));
	hr_mem_deref(m);
	hr_ctrans_abandon(ct);
	hr_mem_deref(ct);
	mock_advance(64 * HR_SIP_T1);
	ck_assert_uint_eq(nresp, 0);
}
END_TEST

START_TEST(test_timer_e_backoff_and_f)
{
	/* retransmissions at 0.5, 1.5, 3.5, 7.5, then every T2 up to 32 s */
	static const uint64_t at[] = { 500, 1500, 3500, 7500, 11500, 15500,
		19500, 23500, 27500, 31500 };
	struct hr_ctrans *ct = send_notify(HR_TP_UDP);
	uint64_t now = 0;

	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		mock_advance(at[i] - 1 - now);
		ck_assert_uint_eq(mock.n, i + 1);
		mock_advance(1);
		ck_assert_uint_eq(mock.n, i + 2);
		ck_assert_str_eq(mock.out[0], mock.out[i + 1]);
		now = at[i];
	}
	ck_assert_uint_eq(nresp, 0);
	mock_advance(64 * HR_SIP_T1 - now);
	ck_assert_uint_eq(nresp, 1);
	ck_assert_int_eq(last_err, ETIMEDOUT);
	ck_assert_int_eq(hr_ctrans_state(ct), HR_CTRANS_TERMINATED);
	ck_assert_uint_eq(hr_sip_ctrans_count(mock.sip), 0);
	hr_mem_deref(ct);
}
END_TEST

START_TEST(test_final_then_timer_k)
{
	struct hr_ctrans *ct = send_notify(HR_TP_UDP);

	answer(0, 200);
	ck_assert_uint_eq(nresp, 1);
	ck_assert_uint_eq(last_scode, 200);
	ck_assert_int_eq(hr_ctrans_state(ct), HR_CTRANS_COMPLETED);
	answer(0, 200);                  /* retransmitted 200: absorbed */
	ck_assert_uint_eq(nresp, 1);
	mock_advance(HR_SIP_T1 * 10);
	ck_assert_uint_eq(mock.n, 1);    /* no retransmission after it */
	mock_advance(HR_SIP_T4);
	ck_assert_int_eq(hr_ctrans_state(ct), HR_CTRANS_TERMINATED);
	answer(0, 200);                  /* now matches nothing */
	ck_assert_uint_eq(nresp, 1);
	hr_mem_deref(ct);
}
END_TEST

START_TEST(test_proceeding_retransmits_at_t2)
{
	struct hr_ctrans *ct = send_notify(HR_TP_UDP);

	mock_advance(500);
	ck_assert_uint_eq(mock.n, 2);
	answer(0, 100);
	ck_assert_int_eq(hr_ctrans_state(ct), HR_CTRANS_PROCEEDING);
	ck_assert_uint_eq(nresp, 1);
	mock_advance(1000);              /* the E armed in Trying fires */
	ck_assert_uint_eq(mock.n, 3);
	mock_advance(HR_SIP_T2 - 1);
	ck_assert_uint_eq(mock.n, 3);
	mock_advance(1);
	ck_assert_uint_eq(mock.n, 4);
	answer(0, 481);
	ck_assert_uint_eq(nresp, 2);
	ck_assert_uint_eq(last_scode, 481);
	mock_advance(HR_SIP_T4);
	hr_mem_deref(ct);
}
END_TEST

START_TEST(test_reliable_no_retransmit)
{
	struct hr_ctrans *ct = send_notify(HR_TP_TCP);

	mock_advance(64 * HR_SIP_T1 - 1);
	ck_assert_uint_eq(mock.n, 1);
	ck_assert_uint_eq(nresp, 0);
	mock_advance(1);
	ck_assert_int_eq(last_err, ETIMEDOUT);
	hr_mem_deref(ct);
}
END_TEST

START_TEST(test_wrong_method_does_not_match)
{
	struct hr_ctrans *ct = send_notify(HR_TP_TCP);
	char buf[1024];
	const char *b = strstr(mock.out[0], "branch=") + 7;
	int n = (int)strcspn(b, ";\r");

	snprintf(buf, sizeof(buf), "SIP/2.0 200 OK\r\n"
		"Via: SIP/2.0/UDP h;branch=%.*s\r\nFrom: <sip:a@b>;tag=1\r\n"
		"To: <sip:b@b>\r\nCall-ID: n@h\r\nCSeq: 5 OPTIONS\r\n\r\n", n, b);
	mock_recv(HR_TP_UDP, buf);
	ck_assert_uint_eq(nresp, 0);
	hr_ctrans_abandon(ct);
	hr_mem_deref(ct);
	hr_sip_close(mock.sip);
	ck_assert_uint_eq(hr_sip_ctrans_count(mock.sip), 0);
}
END_TEST

static void reset(void)
{
	mock_setup();
	nresp = 0;
	last_scode = 0;
	last_err = 0;
}

static Suite *suite(void)
{
	Suite *s = suite_create("ctrans");
	TCase *tc = tcase_create("ctrans");

	tcase_add_checked_fixture(tc, reset, mock_teardown);
	tcase_add_test(tc, test_request_printed);
	tcase_add_test(tc, test_timer_e_backoff_and_f);
	tcase_add_test(tc, test_final_then_timer_k);
	tcase_add_test(tc, test_proceeding_retransmits_at_t2);
	tcase_add_test(tc, test_reliable_no_retransmit);
	tcase_add_test(tc, test_wrong_method_does_not_match);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return hr_check_run(suite());
}
