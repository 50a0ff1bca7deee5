/* server/core/call.c: other threads run functions on the core thread. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <unistd.h>
#include "core/core.h"
#include "check_run.h"

static pthread_t core_thread;
static volatile int ran;
static volatile int on_core;

static void bump(void *arg)
{
	(void)arg;
	ran++;
	on_core = pthread_equal(pthread_self(), core_thread);
}

struct caller {
	int err;
	int calls;
};

static void *caller(void *arg)
{
	struct caller *c = arg;

	for (int i = 0; i < c->calls && !c->err; i++)
		c->err = hr_call(bump, NULL);
	return NULL;
}

START_TEST(test_calls)
{
	struct caller c[4] = { { 0, 100 }, { 0, 100 }, { 0, 100 }, { 0, 100 } };
	pthread_t t[4];

	core_thread = pthread_self();
	ck_assert_int_eq(hr_loop_init(), 0);
	ck_assert_int_eq(hr_call_open(), 0);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, caller, &c[i]);
	for (int k = 0; k < 100000 && ran < 400; k++) {
		hr_loop_once();
		usleep(100);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(c[i].err, 0);
	}
	ck_assert_int_eq(ran, 400);
	ck_assert(on_core);
	hr_call_free();
	hr_loop_close();
}
END_TEST

/* Closing fails the calls the loop will never run; none is lost in a
 * wait. */
START_TEST(test_close)
{
	struct caller c = { 0, 1 };
	pthread_t t;

	ran = 0;
	ck_assert_int_eq(hr_loop_init(), 0);
	ck_assert_int_eq(hr_call_open(), 0);
	pthread_create(&t, NULL, caller, &c);
	usleep(100 * 1000);      /* queued; the loop does not run */
	hr_call_close();
	pthread_join(t, NULL);
	ck_assert_int_eq(c.err, ECANCELED);
	ck_assert_int_eq(hr_call(bump, NULL), ECANCELED);
	ck_assert_int_eq(ran, 0);
	hr_call_free();
	hr_loop_close();
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("call");
	TCase *tc = tcase_create("call");

	tcase_add_test(tc, test_calls);
	tcase_add_test(tc, test_close);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return hr_check_run(suite());
}
