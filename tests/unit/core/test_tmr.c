/* server/core/tmr.c: the timer heap on the fake clock. */
#include <check.h>
#include <stdlib.h>
#include "core/core.h"
#include "check_run.h"

static int order[64];
static int nfired;

static void fire(void *arg)
{
	order[nfired++] = (int)(intptr_t)arg;
}

START_TEST(test_order_and_cancel)
{
	struct hr_tmr t[20] = { 0 };

	/* due at 100, 90, ..., in reverse of start order */
	for (int i = 0; i < 10; i++)
		hr_tmr_start(&t[i], (uint64_t)(100 - i * 10), fire,
			(void *)(intptr_t)i);
	ck_assert_uint_eq(hr_tmr_count(), 10);
	hr_tmr_cancel(&t[3]);
	hr_tmr_cancel(&t[3]);           /* twice is harmless */
	ck_assert(!hr_tmr_isrunning(&t[3]));
	hr_clock_advance(55);
	ck_assert_uint_eq(hr_tmr_poll(), 5);  /* 10..50 */
	ck_assert_int_eq(order[0], 9);
	ck_assert_int_eq(order[4], 5);
	hr_clock_advance(1000);
	ck_assert_uint_eq(hr_tmr_poll(), 4);
	ck_assert_int_eq(order[5], 4);
	ck_assert_int_eq(order[8], 0);
	ck_assert_uint_eq(hr_tmr_count(), 0);
}
END_TEST

START_TEST(test_restart_and_left)
{
	struct hr_tmr t = { 0 };

	hr_tmr_start(&t, 1000, fire, NULL);
	hr_clock_advance(400);
	ck_assert_uint_eq(hr_tmr_left(&t), 600);
	hr_tmr_start(&t, 1000, fire, NULL);   /* restart moves it */
	ck_assert_uint_eq(hr_tmr_count(), 1);
	hr_clock_advance(999);
	ck_assert_uint_eq(hr_tmr_poll(), 0);
	hr_clock_advance(1);
	ck_assert_uint_eq(hr_tmr_poll(), 1);
	ck_assert_uint_eq(hr_tmr_left(&t), 0);
}
END_TEST

static struct hr_tmr chain[3];

static void rearm(void *arg)
{
	int i = (int)(intptr_t)arg;

	nfired++;
	/* a handler may start and cancel other timers */
	if (i == 0) {
		hr_tmr_cancel(&chain[1]);
		hr_tmr_start(&chain[2], 0, rearm, (void *)2);
	}
}

START_TEST(test_handler_changes_heap)
{
	hr_tmr_start(&chain[0], 10, rearm, (void *)0);
	hr_tmr_start(&chain[1], 10, rearm, (void *)1);
	hr_clock_advance(10);
	hr_tmr_poll();
	ck_assert_int_eq(nfired, 2);       /* 0 and the 2 it started */
	ck_assert_uint_eq(hr_tmr_count(), 0);
}
END_TEST

static uint64_t last_due;
static bool in_order = true;

static void check_order(void *arg)
{
	const struct hr_tmr *t = arg;

	if (t->due < last_due)
		in_order = false;
	last_due = t->due;
	nfired++;
}

START_TEST(test_many)
{
	enum { N = 5000 };
	struct hr_tmr *t = calloc(N, sizeof(*t));

	srand(3);
	for (int i = 0; i < N; i++)
		hr_tmr_start(&t[i], (uint64_t)(rand() % 1000), check_order,
			&t[i]);
	/* restarts move entries up and down from the middle */
	for (int i = 1; i < N; i += 3)
		hr_tmr_start(&t[i], (uint64_t)(rand() % 1000), check_order,
			&t[i]);
	for (int i = 0; i < N; i += 2)
		hr_tmr_cancel(&t[i]);
	ck_assert_uint_eq(hr_tmr_count(), N / 2);
	hr_clock_advance(1000);
	ck_assert_uint_eq(hr_tmr_poll(), N / 2);
	ck_assert(in_order);
	ck_assert_int_eq(nfired, N / 2);
	free(t);
}
END_TEST

static void reset(void)
{
	hr_clock_freeze();
	nfired = 0;
}

static Suite *suite(void)
{
	Suite *s = suite_create("tmr");
	TCase *tc = tcase_create("tmr");

	tcase_add_checked_fixture(tc, reset, NULL);
	tcase_add_test(tc, test_order_and_cancel);
	tcase_add_test(tc, test_restart_and_left);
	tcase_add_test(tc, test_handler_changes_heap);
	tcase_add_test(tc, test_many);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return hr_check_run(suite());
}
