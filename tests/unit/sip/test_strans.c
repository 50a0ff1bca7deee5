/* server/sip/strans.c: the non-INVITE server transaction (RFC 3261
 * 17.2.2) on the fake clock. */
#include <errno.h>
#include "sipmock.h"
#include "check_run.h"

#define REQ(meth, branch) meth " sip:alice@example.test SIP/2.0\r\n" \
	"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=" branch "\r\n" \
	"Max-Forwards: 70\r\nTo: <sip:alice@example.test>\r\n" \
	"From: <sip:alice@example.test>;tag=a1\r\nCall-ID: c1@h\r\n" \
	"CSeq: 1 " meth "\r\nContent-Length: 0\r\n\r\n"

/* One branch and sent-by, Call-ID and CSeq number as given. */
#define REQX(callid, cseq) "REGISTER sip:alice@example.test SIP/2.0\r\n" \
	"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKsame\r\n" \
	"Max-Forwards: 70\r\nTo: <sip:alice@example.test>\r\n" \
	"From: <sip:alice@example.test>;tag=a1\r\nCall-ID: " callid "\r\n" \
	"CSeq: " cseq " REGISTER\r\nContent-Length: 0\r\n\r\n"

static struct hr_strans *held;
static unsigned calls;

/* A handler that answers later, like one waiting for a commit. */
static void later(struct hr_strans *st, const struct hr_msg *req, void *arg)
{
	(void)req;
	(void)arg;
	calls++;
	held = hr_mem_ref(st);
}

static void proceeding(struct hr_strans *st, const struct hr_msg *req,
	void *arg)
{
	later(st, req, arg);
	hr_strans_replys(st, 100, "Trying");
}

START_TEST(test_completed_and_timer_j)
{
	mock_recv(HR_TP_UDP, REQ("REGISTER", "z9hG4bK1"));
	ck_assert_uint_eq(mock.n, 1);
	ck_assert_uint_eq(mock_status(0), 501);
	ck_assert_uint_eq(hr_sip_strans_count(mock.sip), 1);
	/* a retransmission gets the same bytes */
	mock_recv(HR_TP_UDP, REQ("REGISTER", "z9hG4bK1"));
	ck_assert_uint_eq(mock.n, 2);
	ck_assert_str_eq(mock.out[0], mock.out[1]);
	/* Timer J: 64*T1 */
	mock_advance(64 * HR_SIP_T1 - 1);
	ck_assert_uint_eq(hr_sip_strans_count(mock.sip), 1);
	mock_advance(1);
	ck_assert_uint_eq(hr_sip_strans_count(mock.sip), 0);
	/* now it is a new request again */
	mock_recv(HR_TP_UDP, REQ("REGISTER", "z9hG4bK1"));
	ck_assert_uint_eq(mock.n, 3);
	ck_assert_uint_eq(hr_sip_strans_count(mock.sip), 1);
}
END_TEST

START_TEST(test_reliable_terminates_at_once)
{
	mock_recv(HR_TP_TCP, REQ("REGISTER", "z9hG4bK2"));
	ck_assert_uint_eq(mock_status(0), 501);
	ck_assert_uint_eq(hr_sip_strans_count(mock.sip), 0);
}
END_TEST

START_TEST(test_trying_absorbs)
{
	hr_sip_handle(mock.sip, HR_METH_SUBSCRIBE, later, NULL);
	mock_recv(HR_TP_UDP, REQ("SUBSCRIBE", "z9hG4bK3"));
	ck_assert_uint_eq(calls, 1);
	ck_assert_int_eq(hr_strans_state(held), HR_STRANS_TRYING);
	ck_assert_uint_eq(mock.n, 0);
	mock_recv(HR_TP_UDP, REQ("SUBSCRIBE", "z9hG4bK3"));
	ck_assert_uint_eq(calls, 1);      /* absorbed, not handled again */
	ck_assert_uint_eq(mock.n, 0);     /* nothing to resend in Trying */
	/* same branch, other method: another transaction */
	mock_recv(HR_TP_UDP, REQ("REGISTER", "z9hG4bK3"));
	ck_assert_uint_eq(mock.n, 1);
	/* a CANCEL for it gets 200 and the transaction goes on */
	mock_recv(HR_TP_UDP, REQ("CANCEL", "z9hG4bK3"));
	ck_assert_uint_eq(mock_status(1), 200);
	ck_assert_int_eq(hr_strans_state(held), HR_STRANS_TRYING);
	ck_assert_int_eq(hr_strans_replys(held, 200, "OK"), 0);
	ck_assert_int_eq(hr_strans_state(held), HR_STRANS_COMPLETED);
	ck_assert_int_eq(hr_strans_replys(held, 200, "OK"), EALREADY);
	held = hr_mem_deref(held);
	mock_advance(64 * HR_SIP_T1);
	ck_assert_uint_eq(hr_sip_strans_count(mock.sip), 0);
}
END_TEST

START_TEST(test_proceeding_resends_provisional)
{
	hr_sip_handle(mock.sip, HR_METH_PUBLISH, proceeding, NULL);
	mock_recv(HR_TP_UDP, REQ("PUBLISH", "z9hG4bK4"));
	ck_assert_int_eq(hr_strans_state(held), HR_STRANS_PROCEEDING);
	ck_assert_uint_eq(mock_status(0), 100);
	mock_recv(HR_TP_UDP, REQ("PUBLISH", "z9hG4bK4"));
	ck_assert_uint_eq(mock.n, 2);
	ck_assert_str_eq(mock.out[0], mock.out[1]);
	hr_strans_replys(held, 200, "OK");
	mock_recv(HR_TP_UDP, REQ("PUBLISH", "z9hG4bK4"));
	ck_assert_uint_eq(mock_status(3), 200);
	ck_assert_str_eq(mock.out[2], mock.out[3]);
	held = hr_mem_deref(held);
	mock_advance(64 * HR_SIP_T1);
}
END_TEST

START_TEST(test_guard_answers_stuck_request)
{
	hr_sip_handle(mock.sip, HR_METH_SUBSCRIBE, later, NULL);
	mock_recv(HR_TP_UDP, REQ("SUBSCRIBE", "z9hG4bK5"));
	mock_advance(64 * HR_SIP_T1);
	ck_assert_uint_eq(mock.n, 1);
	ck_assert_uint_eq(mock_status(0), 500);
	/* the late answer is refused, not sent */
	ck_assert_int_eq(hr_strans_replys(held, 200, "OK"), EALREADY);
	ck_assert_uint_eq(mock.n, 1);
	held = hr_mem_deref(held);
	mock_advance(64 * HR_SIP_T1);
}
END_TEST

START_TEST(test_rfc2543_matching)
{
	/* no magic cookie: matched on Call-ID, CSeq, tags, Request-URI, Via */
	mock_recv(HR_TP_UDP, REQ("NOTIFY", "oldstyle1"));
	mock_recv(HR_TP_UDP, REQ("NOTIFY", "oldstyle1"));
	ck_assert_uint_eq(mock.n, 2);
	ck_assert_str_eq(mock.out[0], mock.out[1]);
	ck_assert_uint_eq(hr_sip_strans_count(mock.sip), 1);
	mock_advance(64 * HR_SIP_T1);
}
END_TEST

/* RFC 4475 cparam01/cparam02, escnull/regescrt: the same branch and
 * sent-by in requests that differ in Call-ID or CSeq are new requests,
 * each handled, not retransmissions answered with the first response. */
START_TEST(test_branch_reused)
{
	hr_sip_handle(mock.sip, HR_METH_REGISTER, later, NULL);
	mock_recv(HR_TP_UDP, REQX("c1@h", "1"));
	ck_assert_uint_eq(calls, 1);
	hr_strans_replys(held, 200, "OK");
	held = hr_mem_deref(held);
	/* a retransmission: absorbed, the 200 again */
	mock_recv(HR_TP_UDP, REQX("c1@h", "1"));
	ck_assert_uint_eq(calls, 1);
	ck_assert_uint_eq(mock.n, 2);
	/* another CSeq number */
	mock_recv(HR_TP_UDP, REQX("c1@h", "2"));
	ck_assert_uint_eq(calls, 2);
	ck_assert_uint_eq(mock.n, 2);
	hr_strans_replys(held, 200, "OK");
	held = hr_mem_deref(held);
	/* another Call-ID */
	mock_recv(HR_TP_UDP, REQX("c2@h", "1"));
	ck_assert_uint_eq(calls, 3);
	hr_strans_replys(held, 200, "OK");
	held = hr_mem_deref(held);
	ck_assert_uint_eq(hr_sip_strans_count(mock.sip), 3);
	/* a CANCEL names the request by its Call-ID and CSeq number */
	mock_recv(HR_TP_UDP, "CANCEL sip:alice@example.test SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKsame\r\n"
		"Max-Forwards: 70\r\nTo: <sip:alice@example.test>\r\n"
		"From: <sip:alice@example.test>;tag=a1\r\nCall-ID: c3@h\r\n"
		"CSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n");
	ck_assert_uint_eq(mock_status(mock.n - 1), 481);
	mock_advance(64 * HR_SIP_T1);
	ck_assert_uint_eq(hr_sip_strans_count(mock.sip), 0);
}
END_TEST

/* A stateless final response ends the transaction at once over UDP. */
START_TEST(test_reply_stateless)
{
	struct hr_resp resp = { .scode = 401, .reason = "Unauthorized" };

	hr_sip_handle(mock.sip, HR_METH_SUBSCRIBE, later, NULL);
	mock_recv(HR_TP_UDP, REQ("SUBSCRIBE", "z9hG4bK7"));
	resp.scode = 100;
	ck_assert_int_eq(hr_strans_reply_stateless(held, &resp), EINVAL);
	resp.scode = 401;
	ck_assert_int_eq(hr_strans_reply_stateless(held, &resp), 0);
	ck_assert_uint_eq(mock_status(0), 401);
	ck_assert_int_eq(hr_strans_state(held), HR_STRANS_TERMINATED);
	ck_assert_uint_eq(hr_sip_strans_count(mock.sip), 0);
	held = hr_mem_deref(held);
	/* the retransmission is a new request */
	mock_recv(HR_TP_UDP, REQ("SUBSCRIBE", "z9hG4bK7"));
	ck_assert_uint_eq(calls, 2);
	hr_strans_reply_stateless(held, &resp);
	held = hr_mem_deref(held);
	ck_assert_uint_eq(hr_tmr_count(), 0);
}
END_TEST

/* Beyond the cap a request gets a stateless 503 with Retry-After,
 * logged and counted with its cause; room comes back with Timer J. */
START_TEST(test_cap)
{
	struct hr_sip_cfg cfg;
	struct hr_sip_stats stats;

	mock.sip = hr_mem_deref(mock.sip);
	hr_sip_cfg_default(&cfg);
	cfg.max_strans = 2;
	ck_assert_int_eq(hr_sip_alloc(&mock.sip, &cfg), 0);
	hr_sip_set_send(mock.sip, mock_send, NULL);
	mock_recv(HR_TP_UDP, REQ("REGISTER", "z9hG4bKc1"));
	mock_recv(HR_TP_UDP, REQ("REGISTER", "z9hG4bKc2"));
	ck_assert_uint_eq(hr_sip_strans_count(mock.sip), 2);
	mock_recv(HR_TP_UDP, REQ("REGISTER", "z9hG4bKc3"));
	ck_assert_uint_eq(mock_status(2), 503);
	ck_assert_ptr_nonnull(strstr(mock.out[2], "\r\nRetry-After: "));
	ck_assert_uint_eq(hr_sip_strans_count(mock.sip), 2);
	/* a retransmission of a kept one is still absorbed */
	mock_recv(HR_TP_UDP, REQ("REGISTER", "z9hG4bKc1"));
	ck_assert_str_eq(mock.out[3], mock.out[0]);
	hr_sip_stats(mock.sip, &stats);
	ck_assert_uint_eq(stats.nfails, 2);
	ck_assert_uint_eq(stats.fails[1].scode, 503);
	ck_assert_str_eq(stats.fails[1].where, "sip: transaction limit");
	mock_advance(64 * HR_SIP_T1);
	mock_recv(HR_TP_UDP, REQ("REGISTER", "z9hG4bKc3"));
	ck_assert_uint_eq(mock_status(4), 501);
	mock_advance(64 * HR_SIP_T1);
}
END_TEST

START_TEST(test_close_drops_pending)
{
	hr_sip_handle(mock.sip, HR_METH_SUBSCRIBE, later, NULL);
	mock_recv(HR_TP_UDP, REQ("SUBSCRIBE", "z9hG4bK6"));
	hr_sip_close(mock.sip);
	ck_assert_uint_eq(hr_sip_strans_count(mock.sip), 0);
	ck_assert_int_eq(hr_strans_state(held), HR_STRANS_TERMINATED);
	held = hr_mem_deref(held);
}
END_TEST

static void reset(void)
{
	mock_setup();
	held = NULL;
	calls = 0;
}

static Suite *suite(void)
{
	Suite *s = suite_create("strans");
	TCase *tc = tcase_create("strans");

	tcase_add_checked_fixture(tc, reset, mock_teardown);
	tcase_add_test(tc, test_completed_and_timer_j);
	tcase_add_test(tc, test_reliable_terminates_at_once);
	tcase_add_test(tc, test_trying_absorbs);
	tcase_add_test(tc, test_proceeding_resends_provisional);
	tcase_add_test(tc, test_guard_answers_stuck_request);
	tcase_add_test(tc, test_rfc2543_matching);
	tcase_add_test(tc, test_branch_reused);
	tcase_add_test(tc, test_reply_stateless);
	tcase_add_test(tc, test_cap);
	tcase_add_test(tc, test_close_drops_pending);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return hr_check_run(suite());
}
