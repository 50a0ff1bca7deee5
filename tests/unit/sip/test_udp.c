/* server/sip/udp.c: the send queue, with real sockets on 127.0.0.1.
 * Requests sent outside a receive batch leave together at the end of the
 * loop's turn, in as few sendmmsg as the queue's size allows; one that
 * the kernel refuses fails its client transaction then (RFC 3261
 * 8.1.3.1), not at Timer F. 192.0.2.0/24 is not reachable from a socket
 * bound to 127.0.0.1: the kernel refuses it with EINVAL. */
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
#include "check_run.h"
#include "sip/sip.h"
#include "sipreq.h"

#define MANY 100   /* over one queue (TX_BATCH, 64): two sendmmsg */

static struct hr_sip *sip;
static struct hr_sa peer;   /* a plain socket's address */
static int peer_fd;
static unsigned nerr;
static int last_err;
static struct hr_ctrans *kept;
static bool again;          /* on_resp sends once more */

static void send_to(const char *host, uint16_t port, hr_resp_h *h);

static void on_resp(int err, const struct hr_msg *resp, void *arg)
{
	(void)resp;
	(void)arg;
	if (!err)
		return;
	nerr++;
	last_err = err;
	if (again) {
		again = false;
		send_to("127.0.0.1", hr_sa_port(&peer), on_resp);
	}
}

static void send_to(const char *host, uint16_t port, hr_resp_h *h)
{
	/* queued: no error yet, whatever becomes of it */
	ck_assert_int_eq(sipreq_notify(NULL, sip, HR_TP_UDP, host, port, h),
		0);
}

/* Datagrams waiting at the plain socket. */
static unsigned arrived(void)
{
	char buf[2048];
	unsigned n = 0;

	while (recv(peer_fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		n++;
	return n;
}

static uint64_t send_calls(void)
{
	struct hr_sip_stats st;

	hr_sip_stats(sip, &st);
	return st.udp_send_calls;
}

static void setup(void)
{
	struct hr_sa la;
	socklen_t len = sizeof(peer.u.ss);

	ck_assert_int_eq(hr_loop_init(), 0);
	ck_assert_int_eq(hr_sip_alloc(&sip, NULL), 0);
	hr_sa_set(&la, "127.0.0.1", 0);
	ck_assert_int_eq(hr_sip_listen(sip, HR_TP_UDP, &la, NULL, 0), 0);
	peer_fd = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(peer_fd, 0);
	hr_sa_set(&peer, "127.0.0.1", 0);
	ck_assert_int_eq(bind(peer_fd, &peer.u.sa, peer.len), 0);
	ck_assert_int_eq(getsockname(peer_fd, &peer.u.sa, &len), 0);
	peer.len = len;
	nerr = 0;
	last_err = 0;
	again = false;
}

static void teardown(void)
{
	kept = hr_mem_deref(kept);
	sip = hr_mem_deref(sip);
	close(peer_fd);
	hr_loop_close();
	ck_assert_uint_eq(hr_mem_live(), 0);
}

/* One change's NOTIFYs to many watchers: none leaves while the callback
 * that made them runs, unless the queue is full; then all of them. */
START_TEST(test_requests_leave_together)
{
	for (unsigned i = 0; i < 10; i++)
		send_to("127.0.0.1", hr_sa_port(&peer), on_resp);
	ck_assert_uint_eq(arrived(), 0);
	ck_assert_uint_eq(send_calls(), 0);
	for (unsigned i = 10; i < MANY; i++)
		send_to("127.0.0.1", hr_sa_port(&peer), on_resp);
	ck_assert_uint_eq(send_calls(), 1);    /* the first queue, full */
	hr_loop_once();
	ck_assert_uint_eq(send_calls(), 2);
	ck_assert_uint_eq(arrived(), MANY);
	ck_assert_uint_eq(nerr, 0);
	ck_assert_uint_eq(hr_sip_ctrans_count(sip), MANY);
}
END_TEST

/* A NOTIFY the kernel refuses fails its transaction in that turn, with
 * the kernel's error; the datagrams around it still go. */
START_TEST(test_refused_fails_its_transaction)
{
	send_to("127.0.0.1", hr_sa_port(&peer), on_resp);
	send_to("192.0.2.99", 5060, on_resp);
	send_to("127.0.0.1", hr_sa_port(&peer), on_resp);
	ck_assert_uint_eq(nerr, 0);
	hr_loop_once();
	ck_assert_uint_eq(nerr, 1);
	ck_assert_int_eq(last_err, EINVAL);
	ck_assert_uint_eq(arrived(), 2);
	ck_assert_uint_eq(hr_sip_ctrans_count(sip), 2);
}
END_TEST

/* The failure of a full queue's flush, met while another request is
 * queued, is told at the end of the turn, not within that send. */
START_TEST(test_refused_in_a_full_queue)
{
	send_to("192.0.2.99", 5060, on_resp);
	for (unsigned i = 0; i < MANY; i++)
		send_to("127.0.0.1", hr_sa_port(&peer), on_resp);
	ck_assert_uint_eq(nerr, 0);
	hr_loop_once();
	ck_assert_uint_eq(nerr, 1);
	ck_assert_uint_eq(arrived(), MANY);
}
END_TEST

/* The handler of a failed request may send again: that one is queued
 * and leaves in a later turn. */
START_TEST(test_handler_sends_again)
{
	again = true;
	send_to("192.0.2.99", 5060, on_resp);
	hr_loop_once();
	ck_assert_uint_eq(nerr, 1);
	hr_loop_once();
	ck_assert_uint_eq(arrived(), 1);
	ck_assert_uint_eq(nerr, 1);
}
END_TEST

/* A transaction abandoned before its request failed: it ends, with no
 * handler to tell; the others' handlers are told. */
START_TEST(test_gone_before_the_flush)
{
	ck_assert_int_eq(sipreq_notify(&kept, sip, HR_TP_UDP, "192.0.2.99",
		5060, on_resp), 0);
	hr_ctrans_abandon(kept);
	send_to("192.0.2.98", 5060, on_resp);
	hr_loop_once();
	ck_assert_uint_eq(nerr, 1);
	ck_assert_uint_eq(hr_ctrans_state(kept), HR_CTRANS_TERMINATED);
	ck_assert_uint_eq(hr_sip_ctrans_count(sip), 0);
}
END_TEST

/* Closing the stack sends what is queued (a final NOTIFY at shutdown). */
START_TEST(test_close_flushes)
{
	for (unsigned i = 0; i < 3; i++)
		send_to("127.0.0.1", hr_sa_port(&peer), NULL);
	ck_assert_uint_eq(arrived(), 0);
	hr_sip_close(sip);
	ck_assert_uint_eq(arrived(), 3);
	ck_assert_uint_eq(hr_sip_ctrans_count(sip), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("udp");
	TCase *tc = tcase_create("send queue");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_requests_leave_together);
	tcase_add_test(tc, test_refused_fails_its_transaction);
	tcase_add_test(tc, test_refused_in_a_full_queue);
	tcase_add_test(tc, test_handler_sends_again);
	tcase_add_test(tc, test_gone_before_the_flush);
	tcase_add_test(tc, test_close_flushes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return hr_check_run(suite());
}
