/*
 * server/core/dns.c: IP literals, /etc/hosts, a name that cannot exist,
 * cancel and close. The machine may have no working nameserver, so a
 * lookup that goes out may end in ENOENT or ETIMEDOUT; every wait is
 * bounded.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "core/core.h"
#include "check_run.h"

/* RFC 6761 6.4: names under .invalid never resolve */
#define NX_HOST "no-such-host.herald.invalid"
#define WAIT_MS 10000

static unsigned ncalls;
static int last_err;
static struct hr_sa last_addr;
static bool last_had_addr;

static void on_dns(int err, const struct hr_sa *addr, void *arg)
{
	(void)arg;
	ncalls++;
	last_err = err;
	last_had_addr = addr != NULL;
	if (addr)
		last_addr = *addr;
}

/* Real milliseconds, not hr_now_ms(): evdns runs on libevent's clock. */
static uint64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Run the loop until *n reaches want or WAIT_MS passes. */
static void run_until(const unsigned *n, unsigned want)
{
	uint64_t end = real_ms() + WAIT_MS;

	while (*n < want && real_ms() < end) {
		hr_loop_once();
		usleep(1000);
	}
}

/* Run the loop until no hr_mem object is left (a cancelled query is freed
 * when evdns hands it back) or WAIT_MS passes. */
static void run_until_freed(void)
{
	uint64_t end = real_ms() + WAIT_MS;

	while (hr_mem_live() && real_ms() < end) {
		hr_loop_once();
		usleep(1000);
	}
}

static void setup(void)
{
	ck_assert_int_eq(hr_loop_init(), 0);
	ncalls = 0;
	last_err = -1;
	last_had_addr = false;
	memset(&last_addr, 0, sizeof(last_addr));
}

static void teardown(void)
{
	hr_dns_close();
	hr_loop_close();
	ck_assert_uint_eq(hr_mem_live(), 0);
}

static void check_literal(const char *host, const char *want, int family)
{
	struct hr_dns_query *q = (void *)1;
	struct hr_sa sa, exp;
	char buf[HR_SA_STRLEN];

	ck_assert_int_eq(hr_dns_resolve(host, 5062, &sa, on_dns, NULL, &q), 0);
	ck_assert_ptr_null(q);
	ck_assert_int_eq(sa.u.sa.sa_family, family);
	ck_assert_uint_eq(hr_sa_port(&sa), 5062);
	ck_assert_int_eq(hr_sa_set(&exp, want, 5062), 0);
	ck_assert_msg(hr_sa_eq(&sa, &exp), "%s gave %s", host,
		hr_sa_print(&sa, buf, sizeof(buf)));
}

START_TEST(test_literals)
{
	check_literal("192.0.2.7", "192.0.2.7", AF_INET);
	check_literal("2001:db8::1", "2001:db8::1", AF_INET6);
	check_literal("[2001:db8::1]", "2001:db8::1", AF_INET6);
	check_literal("[::1]", "::1", AF_INET6);
	hr_loop_once();
	ck_assert_uint_eq(ncalls, 0);
	/* nothing was looked up: closing twice has nothing to free */
	hr_dns_close();
	hr_dns_close();
}
END_TEST

START_TEST(test_bad_args)
{
	struct hr_dns_query *q = (void *)1;
	struct hr_sa sa;
	char longname[300];

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(hr_dns_resolve(NULL, 1, &sa, on_dns, NULL, &q),
		EINVAL);
	ck_assert_ptr_null(q);
	ck_assert_int_eq(hr_dns_resolve("", 1, &sa, on_dns, NULL, NULL),
		EINVAL);
	ck_assert_int_eq(hr_dns_resolve("a.invalid", 1, NULL, on_dns, NULL,
		NULL), EINVAL);
	ck_assert_int_eq(hr_dns_resolve("a.invalid", 1, &sa, NULL, NULL,
		NULL), EINVAL);
	ck_assert_int_eq(hr_dns_resolve(longname, 1, &sa, on_dns, NULL, NULL),
		EINVAL);
	hr_dns_cancel(NULL);
}
END_TEST

/* /etc/hosts names localhost; evdns answers it from inside the call */
START_TEST(test_localhost)
{
	struct hr_dns_query *q = NULL;
	struct hr_sa sa, v4, v6;
	int err;

	err = hr_dns_resolve("localhost", 5060, &sa, on_dns, NULL, &q);
	if (err == EINPROGRESS) {
		ck_assert_ptr_nonnull(q);
		run_until(&ncalls, 1);
		ck_assert_uint_eq(ncalls, 1);
		ck_assert_int_eq(last_err, 0);
		ck_assert(last_had_addr);
		sa = last_addr;
	} else {
		ck_assert_int_eq(err, 0);
		ck_assert_ptr_null(q);
		ck_assert_uint_eq(ncalls, 0);
	}
	hr_sa_set(&v4, "127.0.0.1", 5060);
	hr_sa_set(&v6, "::1", 5060);
	ck_assert(hr_sa_eq(&sa, &v4) || hr_sa_eq(&sa, &v6));
	/* a sync answer leaves nothing behind */
	ck_assert_uint_eq(hr_mem_live(), 0);
	hr_loop_once();
	ck_assert_uint_eq(ncalls, err == EINPROGRESS ? 1 : 0);
}
END_TEST

START_TEST(test_nxdomain)
{
	struct hr_dns_query *q = NULL;
	struct hr_sa sa;
	int err;

	err = hr_dns_resolve(NX_HOST, 5060, &sa, on_dns, NULL, &q);
	if (err == EINPROGRESS) {
		ck_assert_ptr_nonnull(q);
		run_until(&ncalls, 1);
		ck_assert_uint_eq(ncalls, 1);
		err = last_err;
		ck_assert(!last_had_addr);
	} else {
		ck_assert_uint_eq(ncalls, 0);
	}
	ck_assert_msg(err == ENOENT || err == ETIMEDOUT, "err %d (%s)", err,
		hr_strerror(err));
	ck_assert_uint_eq(hr_mem_live(), 0);
}
END_TEST

START_TEST(test_cancel)
{
	struct hr_dns_query *q = NULL;
	struct hr_sa sa;

	ck_assert_int_eq(hr_dns_resolve(NX_HOST, 5060, &sa, on_dns, NULL, &q),
		EINPROGRESS);
	ck_assert_ptr_nonnull(q);
	hr_dns_cancel(q);
	hr_dns_cancel(q);  /* twice: still pending in evdns, harmless */
	/* evdns still hands the query back; h must not run */
	run_until_freed();
	ck_assert_uint_eq(hr_mem_live(), 0);
	ck_assert_uint_eq(ncalls, 0);
}
END_TEST

/* cancel one of two; the other still ends */
START_TEST(test_cancel_one)
{
	struct hr_dns_query *q1 = NULL, *q2 = NULL;
	struct hr_sa sa;

	ck_assert_int_eq(hr_dns_resolve(NX_HOST, 5060, &sa, on_dns,
		(void *)1, &q1), EINPROGRESS);
	ck_assert_int_eq(hr_dns_resolve("other." NX_HOST, 5060, &sa, on_dns,
		(void *)2, &q2), EINPROGRESS);
	hr_dns_cancel(q1);
	run_until(&ncalls, 1);
	ck_assert_uint_eq(ncalls, 1);
	ck_assert(last_err == ENOENT || last_err == ETIMEDOUT);
	run_until_freed();
	ck_assert_uint_eq(ncalls, 1);
}
END_TEST

static struct hr_dns_query *held;

static void on_dns_cancel(int err, const struct hr_sa *addr, void *arg)
{
	on_dns(err, addr, arg);
	hr_dns_cancel(held);  /* too late: a no-op, not a use after free */
	held = NULL;
}

START_TEST(test_cancel_in_handler)
{
	struct hr_sa sa;

	ck_assert_int_eq(hr_dns_resolve(NX_HOST, 5060, &sa, on_dns_cancel,
		NULL, &held), EINPROGRESS);
	run_until(&ncalls, 1);
	ck_assert_uint_eq(ncalls, 1);
	ck_assert_ptr_null(held);
	ck_assert_uint_eq(hr_mem_live(), 0);
}
END_TEST

START_TEST(test_close_in_flight)
{
	struct hr_sa sa;
	int err;

	ck_assert_int_eq(hr_dns_resolve(NX_HOST, 5060, &sa, on_dns, NULL,
		NULL), EINPROGRESS);
	ck_assert_int_eq(hr_dns_resolve("x." NX_HOST, 5060, &sa, on_dns, NULL,
		NULL), EINPROGRESS);
	/* no loop pass before the close: the answers (an ICMP error where
	 * no name server is reachable) may be in by then, and the queries
	 * no longer in flight (seen on a loaded machine: ncalls == 2) */
	hr_dns_close();
	ck_assert_uint_eq(hr_mem_live(), 0);
	ck_assert_uint_eq(ncalls, 0);
	hr_loop_once();
	ck_assert_uint_eq(ncalls, 0);
	/* the resolver comes back on first use (teardown closes it again) */
	err = hr_dns_resolve("localhost", 1, &sa, on_dns, NULL, NULL);
	ck_assert(err == 0 || err == EINPROGRESS);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dns");
	TCase *tc = tcase_create("dns");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_literals);
	tcase_add_test(tc, test_bad_args);
	tcase_add_test(tc, test_localhost);
	tcase_add_test(tc, test_nxdomain);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_cancel_one);
	tcase_add_test(tc, test_cancel_in_handler);
	tcase_add_test(tc, test_close_in_flight);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return hr_check_run(suite());
}
