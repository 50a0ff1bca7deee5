/* server/sip/strans.c: the INVITE server transaction (RFC 3261 17.2.1),
 * CANCEL (9.2) and the methods that need a dialog, on the fake clock. */
#include <errno.h>
#include "sipmock.h"
#include "check_run.h"

#define VIA(branch) "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=" branch "\r\n"
#define HDRS(totag, meth) "Max-Forwards: 70\r\n" \
	"To: <sip:bob@example.test>" totag "\r\n" \
	"From: <sip:alice@example.test>;tag=a1\r\nCall-ID: i1@h\r\n" \
	"CSeq: 7 " meth "\r\nContent-Length: 0\r\n\r\n"
#define REQ(meth, branch, totag) meth " sip:bob@example.test SIP/2.0\r\n" \
	VIA(branch) HDRS(totag, meth)
#define INVITE(branch) REQ("INVITE", branch, "")
/* RFC 3261 17.1.1.3: the ACK of a 3xx-6xx keeps the INVITE's Via, and
 * its To has the response's tag */
#define ACK(branch) REQ("ACK", branch, ";tag=resp1")
#define CANCEL(branch) REQ("CANCEL", branch, "")

static struct hr_strans *held;
static unsigned calls;
static uint16_t answer;   /* the handler's final response; 0: later */

static void handler(struct hr_strans *st, const struct hr_msg *req,
	void *arg)
{
	(void)req;
	(void)arg;
	calls++;
	if (answer)
		hr_strans_replys(st, answer, "Answer");
	else
		held = hr_mem_ref(st);
}

/* The clock in steps, so that restarted timers come due on time. */
static void advance_by_steps(uint64_t ms)
{
	for (; ms >= 100; ms -= 100)
		mock_advance(100);
	mock_advance(ms);
}

static struct hr_sip_stats stats(void)
{
	struct hr_sip_stats s;

	hr_sip_stats(mock.sip, &s);
	return s;
}

/* A 3xx over UDP is sent again at T1, 2*T1, 4*T1, then every T2 until
 * the ACK; then Timer I (T4) absorbs the ACK's retransmissions. */
START_TEST(test_timer_g_until_ack)
{
	answer = 302;
	mock_recv(HR_TP_UDP, INVITE("z9hG4bKi1"));
	ck_assert_uint_eq(calls, 1);
	/* answered at once: no 100 Trying */
	ck_assert_uint_eq(mock.n, 1);
	ck_assert_uint_eq(mock_status(0), 302);
	mock_advance(HR_SIP_T1 - 1);
	ck_assert_uint_eq(mock.n, 1);
	mock_advance(1);                       /* G at T1 */
	ck_assert_uint_eq(mock.n, 2);
	ck_assert_str_eq(mock.out[1], mock.out[0]);
	mock_advance(2 * HR_SIP_T1);           /* then 2*T1 later */
	ck_assert_uint_eq(mock.n, 3);
	mock_advance(4 * HR_SIP_T1);           /* 4*T1 */
	ck_assert_uint_eq(mock.n, 4);
	mock_advance(HR_SIP_T2 - 1);           /* capped at T2 */
	ck_assert_uint_eq(mock.n, 4);
	mock_advance(1);
	ck_assert_uint_eq(mock.n, 5);
	ck_assert_uint_eq(stats().resp_retransmits, 4);
	/* the INVITE again: the 302 again, not handled again */
	mock_recv(HR_TP_UDP, INVITE("z9hG4bKi1"));
	ck_assert_uint_eq(mock.n, 6);
	ck_assert_str_eq(mock.out[5], mock.out[0]);
	ck_assert_uint_eq(calls, 1);
	/* the ACK stops Timer G */
	mock_recv(HR_TP_UDP, ACK("z9hG4bKi1"));
	ck_assert_uint_eq(mock.n, 6);
	ck_assert_uint_eq(hr_sip_strans_count(mock.sip), 1);
	mock_advance(HR_SIP_T2);
	ck_assert_uint_eq(mock.n, 6);
	/* Confirmed: the INVITE and the ACK again are absorbed */
	mock_recv(HR_TP_UDP, INVITE("z9hG4bKi1"));
	mock_recv(HR_TP_UDP, ACK("z9hG4bKi1"));
	ck_assert_uint_eq(mock.n, 6);
	ck_assert_uint_eq(calls, 1);
	/* Timer I: T4 after the ACK */
	mock_advance(HR_SIP_T4 - HR_SIP_T2 - 1);
	ck_assert_uint_eq(hr_sip_strans_count(mock.sip), 1);
	mock_advance(1);
	ck_assert_uint_eq(hr_sip_strans_count(mock.sip), 0);
	ck_assert_uint_eq(stats().acks_missing, 0);
}
END_TEST

/* No ACK: Timer H ends the transaction at 64*T1, counted. */
START_TEST(test_timer_h)
{
	answer = 480;
	mock_recv(HR_TP_UDP, INVITE("z9hG4bKi2"));
	advance_by_steps(64 * HR_SIP_T1 - 1);
	ck_assert_uint_eq(hr_sip_strans_count(mock.sip), 1);
	/* sent at 0, then 0.5, 1.5, 3.5, 7.5, 11.5, ... 31.5 s */
	ck_assert_uint_eq(mock.n, 11);
	mock_advance(1);
	ck_assert_uint_eq(hr_sip_strans_count(mock.sip), 0);
	ck_assert_uint_eq(stats().acks_missing, 1);
	ck_assert_uint_eq(stats().resp_retransmits, 10);
	/* the late ACK matches nothing and is dropped */
	mock_recv(HR_TP_UDP, ACK("z9hG4bKi2"));
	ck_assert_uint_eq(mock.n, 11);
}
END_TEST

/* Over TCP nothing is sent again; the ACK ends the transaction. */
START_TEST(test_reliable)
{
	answer = 302;
	mock_recv(HR_TP_TCP, INVITE("z9hG4bKi3"));
	mock_advance(10 * HR_SIP_T1);
	ck_assert_uint_eq(mock.n, 1);
	ck_assert_uint_eq(hr_sip_strans_count(mock.sip), 1);
	mock_recv(HR_TP_TCP, ACK("z9hG4bKi3"));
	ck_assert_uint_eq(hr_sip_strans_count(mock.sip), 0);
}
END_TEST

/* A 2xx ends the INVITE transaction at once (17.2.1). */
START_TEST(test_2xx_terminates)
{
	answer = 200;
	mock_recv(HR_TP_UDP, INVITE("z9hG4bKi4"));
	ck_assert_uint_eq(mock_status(0), 200);
	ck_assert_uint_eq(hr_sip_strans_count(mock.sip), 0);
}
END_TEST

/* A TU that has not answered: 100 Trying; a CANCEL then gets 200 and the
 * INVITE 487, whose ACK is absorbed; the TU's late answer is refused. */
START_TEST(test_cancel_pending)
{
	answer = 0;
	mock_recv(HR_TP_UDP, INVITE("z9hG4bKi5"));
	ck_assert_uint_eq(mock.n, 1);
	ck_assert_uint_eq(mock_status(0), 100);
	/* the INVITE again: the 100 again */
	mock_recv(HR_TP_UDP, INVITE("z9hG4bKi5"));
	ck_assert_uint_eq(mock_status(1), 100);
	mock_recv(HR_TP_UDP, CANCEL("z9hG4bKi5"));
	ck_assert_uint_eq(mock.n, 4);
	ck_assert_uint_eq(mock_status(2), 200);
	ck_assert_ptr_nonnull(strstr(mock.out[2], "CSeq: 7 CANCEL\r\n"));
	ck_assert_uint_eq(mock_status(3), 487);
	ck_assert_ptr_nonnull(strstr(mock.out[3], "CSeq: 7 INVITE\r\n"));
	ck_assert_int_eq(hr_strans_state(held), HR_STRANS_COMPLETED);
	ck_assert_int_eq(hr_strans_replys(held, 302, "Late"), EALREADY);
	mock_recv(HR_TP_UDP, ACK("z9hG4bKi5"));
	ck_assert_int_eq(hr_strans_state(held), HR_STRANS_CONFIRMED);
	/* the CANCEL again: it still matches, 200, and no second 487 */
	mock_recv(HR_TP_UDP, CANCEL("z9hG4bKi5"));
	ck_assert_uint_eq(mock.n, 5);
	ck_assert_uint_eq(mock_status(4), 200);
	held = hr_mem_deref(held);
	mock_advance(HR_SIP_T4);
	ck_assert_uint_eq(hr_sip_strans_count(mock.sip), 0);
}
END_TEST

/* After the final response a CANCEL has no effect but its 200 (9.2);
 * with no transaction it gets 481. */
START_TEST(test_cancel_late_and_unknown)
{
	answer = 302;
	mock_recv(HR_TP_UDP, INVITE("z9hG4bKi6"));
	mock_recv(HR_TP_UDP, CANCEL("z9hG4bKi6"));
	ck_assert_uint_eq(mock.n, 2);
	ck_assert_uint_eq(mock_status(1), 200);
	mock_recv(HR_TP_UDP, CANCEL("z9hG4bKnone"));
	ck_assert_uint_eq(mock.n, 3);
	ck_assert_uint_eq(mock_status(2), 481);
	mock_recv(HR_TP_UDP, ACK("z9hG4bKi6"));
	mock_advance(HR_SIP_T4);
	ck_assert_uint_eq(hr_sip_strans_count(mock.sip), 0);
}
END_TEST

/* RFC 2543 peers (no magic cookie): the ACK, with the response's To-tag,
 * still finds its INVITE. */
START_TEST(test_rfc2543_ack)
{
	answer = 404;
	mock_recv(HR_TP_UDP, INVITE("oldstyle"));
	mock_recv(HR_TP_UDP, ACK("oldstyle"));
	mock_advance(HR_SIP_T1);
	ck_assert_uint_eq(mock.n, 1);
	ck_assert_uint_eq(stats().resp_retransmits, 0);
	mock_advance(HR_SIP_T4);
	ck_assert_uint_eq(hr_sip_strans_count(mock.sip), 0);
}
END_TEST

/* BYE and PRACK, and INFO and UPDATE naming a dialog: 481; INFO and
 * UPDATE outside a dialog: 405 with Allow. All without a transaction. */
START_TEST(test_methods_needing_dialog)
{
	mock_recv(HR_TP_UDP, REQ("BYE", "z9hG4bKd1", ";tag=x"));
	mock_recv(HR_TP_UDP, REQ("BYE", "z9hG4bKd2", ""));
	mock_recv(HR_TP_UDP, REQ("PRACK", "z9hG4bKd3", ";tag=x"));
	mock_recv(HR_TP_UDP, REQ("INFO", "z9hG4bKd4", ";tag=x"));
	mock_recv(HR_TP_UDP, REQ("UPDATE", "z9hG4bKd5", ";tag=x"));
	for (unsigned i = 0; i < 5; i++)
		ck_assert_uint_eq(mock_status(i), 481);
	mock_recv(HR_TP_UDP, REQ("INFO", "z9hG4bKd6", ""));
	mock_recv(HR_TP_UDP, REQ("UPDATE", "z9hG4bKd7", ""));
	for (unsigned i = 5; i < 7; i++) {
		ck_assert_uint_eq(mock_status(i), 405);
		ck_assert_ptr_nonnull(strstr(mock.out[i], "\r\nAllow: "));
	}
	ck_assert_uint_eq(hr_sip_strans_count(mock.sip), 0);
}
END_TEST

static void setup(void)
{
	mock_setup();
	hr_sip_handle(mock.sip, HR_METH_INVITE, handler, NULL);
	held = NULL;
	calls = 0;
}

static Suite *suite(void)
{
	Suite *s = suite_create("istrans");
	TCase *tc = tcase_create("istrans");

	tcase_add_checked_fixture(tc, setup, mock_teardown);
	tcase_add_test(tc, test_timer_g_until_ack);
	tcase_add_test(tc, test_timer_h);
	tcase_add_test(tc, test_reliable);
	tcase_add_test(tc, test_2xx_terminates);
	tcase_add_test(tc, test_cancel_pending);
	tcase_add_test(tc, test_cancel_late_and_unknown);
	tcase_add_test(tc, test_rfc2543_ack);
	tcase_add_test(tc, test_methods_needing_dialog);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return hr_check_run(suite());
}
