/* server/sip/srclim.c: the per-source token buckets and connection
 * counts on the fake clock, and the table that stays bounded. */
#include <errno.h>
#include <stdio.h>
#include "sip/sip_int.h"
#include "sipmock.h"
#include "check_run.h"

static struct hr_srclim *sl;

static struct hr_sa addr(const char *ip)
{
	struct hr_sa sa;

	ck_assert_int_eq(hr_sa_set(&sa, ip, 5060), 0);
	return sa;
}

static unsigned passed(const char *ip, unsigned n)
{
	struct hr_sa sa = addr(ip);
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++)
		k += hr_srclim_request(sl, &sa) == HR_SRC_PASS;
	return k;
}

static void setup(void)
{
	hr_clock_freeze();
}

static void teardown(void)
{
	sl = hr_mem_deref(sl);
	ck_assert_uint_eq(hr_mem_live(), 0);
}

START_TEST(test_bucket)
{
	struct hr_sa a = addr("192.0.2.1");

	ck_assert_int_eq(hr_srclim_alloc(&sl, 10, 0, 64), 0);
	/* a burst of two seconds' worth, then nothing until it refills */
	ck_assert_uint_eq(passed("192.0.2.1", 20), 20);
	/* over: five 503s in this second, then dropped */
	for (unsigned i = 0; i < 5; i++)
		ck_assert_int_eq(hr_srclim_request(sl, &a), HR_SRC_REFUSE);
	ck_assert_int_eq(hr_srclim_request(sl, &a), HR_SRC_DROP);
	/* another source is not affected */
	ck_assert_uint_eq(passed("192.0.2.2", 20), 20);
	/* 10 a second come back, one every 100 ms */
	hr_clock_advance(99);
	ck_assert_int_ne(hr_srclim_request(sl, &a), HR_SRC_PASS);
	hr_clock_advance(1);
	ck_assert_int_eq(hr_srclim_request(sl, &a), HR_SRC_PASS);
	ck_assert_int_ne(hr_srclim_request(sl, &a), HR_SRC_PASS);
	hr_clock_advance(1000);
	ck_assert_uint_eq(passed("192.0.2.1", 20), 10);
	/* never more than the burst, however long it was quiet */
	hr_clock_advance(3600 * 1000);
	ck_assert_uint_eq(passed("192.0.2.1", 30), 20);
}
END_TEST

START_TEST(test_ipv6_prefix)
{
	ck_assert_int_eq(hr_srclim_alloc(&sl, 10, 0, 64), 0);
	/* one /64 is one source, whatever the interface id */
	ck_assert_uint_eq(passed("2001:db8::1", 15), 15);
	ck_assert_uint_eq(passed("2001:db8::2", 15), 5);
	ck_assert_uint_eq(passed("2001:db8:0:1::1", 15), 15);
	/* an IPv4-mapped address is its IPv4 address */
	ck_assert_uint_eq(passed("::ffff:192.0.2.9", 15), 15);
	ck_assert_uint_eq(passed("192.0.2.9", 15), 5);
}
END_TEST

START_TEST(test_unlimited)
{
	uint32_t slot;

	ck_assert_int_eq(hr_srclim_alloc(&sl, 0, 0, 64), 0);
	ck_assert_uint_eq(passed("192.0.2.1", 1000), 1000);
	for (unsigned i = 0; i < 1000; i++) {
		struct hr_sa a = addr("192.0.2.1");

		ck_assert_int_eq(hr_srclim_conn_open(sl, &a, &slot), 0);
		ck_assert_uint_eq(slot, 0);
	}
	ck_assert_uint_eq(hr_srclim_count(sl), 0);
	ck_assert_int_eq(hr_srclim_request(NULL, NULL), HR_SRC_PASS);
}
END_TEST

START_TEST(test_tcp)
{
	struct hr_sa a = addr("192.0.2.1"), b = addr("192.0.2.2");
	uint32_t slots[3], other;

	ck_assert_int_eq(hr_srclim_alloc(&sl, 10, 2, 64), 0);
	ck_assert_int_eq(hr_srclim_conn_open(sl, &a, &slots[0]), 0);
	ck_assert_int_eq(hr_srclim_conn_open(sl, &a, &slots[1]), 0);
	ck_assert_int_eq(hr_srclim_conn_open(sl, &a, &slots[2]), EBUSY);
	ck_assert_int_eq(hr_srclim_conn_open(sl, &b, &other), 0);
	ck_assert_uint_ne(slots[0], 0);
	ck_assert_uint_eq(slots[0], slots[1]);
	hr_srclim_conn_close(sl, slots[0]);
	ck_assert_int_eq(hr_srclim_conn_open(sl, &a, &slots[2]), 0);
	ck_assert_int_eq(hr_srclim_conn_open(sl, &a, &slots[0]), EBUSY);
	/* a flood of other sources does not take over an entry with
	 * connections: the count stays right */
	for (unsigned i = 0; i < 5000; i++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "10.%u.%u.1", i / 256, i % 256);
		passed(ip, 30);
	}
	ck_assert_int_eq(hr_srclim_conn_open(sl, &a, &slots[0]), EBUSY);
	hr_srclim_conn_close(sl, slots[1]);
	hr_srclim_conn_close(sl, slots[2]);
	hr_srclim_conn_close(sl, other);
	ck_assert_int_eq(hr_srclim_conn_open(sl, &a, &slots[0]), 0);
	hr_srclim_conn_close(sl, slots[0]);
}
END_TEST

/* 100,000 sources through a table of 64: it stays at 64, and a source
 * that lost its entry starts again with a full bucket (no one is refused
 * for another's sake). */
START_TEST(test_bounded)
{
	ck_assert_int_eq(hr_srclim_alloc(&sl, 10, 0, 64), 0);
	for (unsigned i = 0; i < 100000; i++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "10.%u.%u.%u", i >> 16,
			(i >> 8) & 255, i & 255);
		ck_assert_uint_eq(passed(ip, 1), 1);
	}
	ck_assert_uint_eq(hr_srclim_count(sl), 64);
	/* with the clock still, every entry is busy: an old source may
	 * have been pushed out, but it is never refused for it */
	ck_assert_uint_eq(passed("10.0.0.0", 20), 20);
}
END_TEST

/* Through the router: over the rate a source gets 503 with Retry-After,
 * logged and counted by cause, then silence; another source goes on. */
START_TEST(test_router)
{
	struct hr_sip_cfg cfg;
	struct hr_sip_stats st;
	struct hr_sa other = addr("192.0.2.77");
	const char *opt = "OPTIONS sip:example.test SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKr1\r\n"
		"Max-Forwards: 70\r\nTo: <sip:example.test>\r\n"
		"From: <sip:a@example.test>;tag=1\r\nCall-ID: r1@h\r\n"
		"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

	hr_sip_cfg_default(&cfg);
	cfg.src_rate = 5;
	ck_assert_int_eq(hr_sip_alloc(&mock.sip, &cfg), 0);
	hr_sip_set_send(mock.sip, mock_send, NULL);
	hr_sa_set(&mock.src, "192.0.2.1", 5060);
	for (unsigned i = 0; i < 20; i++)
		mock_recv(HR_TP_UDP, opt);
	ck_assert_uint_eq(mock.n, 15);
	ck_assert_uint_eq(mock_status(9), 200);
	ck_assert_uint_eq(mock_status(10), 503);
	ck_assert_ptr_nonnull(strstr(mock.out[14], "\r\nRetry-After: 5\r\n"));
	hr_sip_recv_raw(mock.sip, HR_TP_UDP, opt, strlen(opt), &other, NULL);
	ck_assert_uint_eq(mock_status(15), 200);
	hr_sip_stats(mock.sip, &st);
	ck_assert_uint_eq(st.src_dropped, 5);
	ck_assert_uint_eq(st.sources, 2);
	ck_assert_uint_eq(st.nfails, 1);
	ck_assert_str_eq(st.fails[0].where, "sip: per-source limit");
	ck_assert_uint_eq(st.fails[0].n, 5);
	mock_clear();
	mock.sip = hr_mem_deref(mock.sip);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("srclim");
	TCase *tc = tcase_create("srclim");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_bucket);
	tcase_add_test(tc, test_ipv6_prefix);
	tcase_add_test(tc, test_unlimited);
	tcase_add_test(tc, test_tcp);
	tcase_add_test(tc, test_bounded);
	tcase_add_test(tc, test_router);
	suite_add_tcase(s, tc);
	return hr_check_run(s);
}
