/* server/control/journal.c: the ring of changes the live feeds read. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "control/control_int.h"
#include "check_run.h"

#define BASE 1000

static struct hr_journal *j;

static void setup(void)
{
	ck_assert_int_eq(hr_journal_alloc(&j, 4, BASE), 0);
}

static void teardown(void)
{
	hr_journal_free(j);
	j = NULL;
}

/* A rule event on resource "r<n>@example.test". */
static void add_n(unsigned n)
{
	char name[64];
	struct hr_ctl_event e = { .kind = HR_CTL_KIND_RULE, .op = "set",
		.name = name, .package = "presence" };

	snprintf(name, sizeof(name), "r%u@example.test", n);
	e.f[e.nf++] = (struct hr_ctl_field){ .name = "resource", .str = name };
	e.f[e.nf++] = (struct hr_ctl_field){ .name = "n", .num = n };
	ck_assert_int_eq(hr_journal_add(j, &e), 0);
}

START_TEST(test_ids_in_order)
{
	struct hr_ctl_event e;

	ck_assert_uint_eq(hr_journal_last(j), BASE);
	ck_assert_int_eq(hr_journal_next(j, BASE, &e), ENOENT);
	add_n(1);
	add_n(2);
	ck_assert_uint_eq(hr_journal_last(j), BASE + 2);
	ck_assert_int_eq(hr_journal_next(j, BASE, &e), 0);
	ck_assert_uint_eq(e.id, BASE + 1);
	ck_assert_str_eq(e.name, "r1@example.test");
	ck_assert_int_eq(e.f[1].num, 1);
	hr_journal_put(&e);
	ck_assert_int_eq(hr_journal_next(j, BASE + 1, &e), 0);
	ck_assert_uint_eq(e.id, BASE + 2);
	hr_journal_put(&e);
	ck_assert_int_eq(hr_journal_next(j, BASE + 2, &e), ENOENT);
}
END_TEST

/* The event holds copies: the caller's strings may go. */
START_TEST(test_copies)
{
	struct hr_ctl_event e;
	char op[] = "added", name[] = "alice@example.test", uri[] = "sip:a@b";
	struct hr_ctl_event in = { .kind = HR_CTL_KIND_BINDING, .op = op,
		.name = name };

	in.f[in.nf++] = (struct hr_ctl_field){ .name = "contact", .str = uri };
	ck_assert_int_eq(hr_journal_add(j, &in), 0);
	memset(op, 'x', sizeof(op) - 1);
	memset(name, 'x', sizeof(name) - 1);
	memset(uri, 'x', sizeof(uri) - 1);
	ck_assert_int_eq(hr_journal_next(j, BASE, &e), 0);
	ck_assert_int_eq(e.kind, HR_CTL_KIND_BINDING);
	ck_assert_str_eq(e.op, "added");
	ck_assert_str_eq(e.name, "alice@example.test");
	ck_assert_ptr_null(e.package);
	ck_assert_uint_eq(e.nf, 1);
	ck_assert_str_eq(e.f[0].name, "contact");
	ck_assert_str_eq(e.f[0].str, "sip:a@b");
	hr_journal_put(&e);
}
END_TEST

/* Every field comes back as it went in: strings (empty too), numbers
 * (the extremes), NULL op, name and package, all eight fields. */
START_TEST(test_packed_round_trip)
{
	static const int64_t nums[] = { INT64_MIN, -1, 0, INT64_MAX };
	struct hr_ctl_event in = { .kind = HR_CTL_KIND_TRACE }, e;

	for (unsigned i = 0; i < HR_CTL_FIELDS_MAX; i++) {
		static const char *const names[] = { "a", "bb", "", "ccc",
			"d", "e", "ff", "g" };

		in.f[in.nf].name = names[i];
		if (i % 2)
			in.f[in.nf].num = nums[i / 2];
		else
			in.f[in.nf].str = i == 4 ? "" : names[i + 1];
		in.nf++;
	}
	ck_assert_int_eq(hr_journal_add(j, &in), 0);
	ck_assert_int_eq(hr_journal_next(j, BASE, &e), 0);
	ck_assert_uint_eq(e.id, BASE + 1);
	ck_assert_int_eq(e.kind, HR_CTL_KIND_TRACE);
	ck_assert_ptr_null(e.op);
	ck_assert_ptr_null(e.name);
	ck_assert_ptr_null(e.package);
	ck_assert_uint_eq(e.nf, HR_CTL_FIELDS_MAX);
	for (unsigned i = 0; i < HR_CTL_FIELDS_MAX; i++) {
		ck_assert_str_eq(e.f[i].name, in.f[i].name);
		if (i % 2) {
			ck_assert_ptr_null(e.f[i].str);
			ck_assert_int_eq(e.f[i].num, nums[i / 2]);
		} else {
			ck_assert_str_eq(e.f[i].str, in.f[i].str);
		}
	}
	hr_journal_put(&e);
}
END_TEST

/* Four kept: what follows an older id is a gap, as is an id not of this
 * run (below the base, above the newest). */
START_TEST(test_overflow_is_a_gap)
{
	struct hr_ctl_event e;
	struct hr_ctl_feed_stats st;

	for (unsigned i = 1; i <= 10; i++)
		add_n(i);
	ck_assert_int_eq(hr_journal_next(j, BASE + 5, &e), ERANGE);
	ck_assert_int_eq(hr_journal_next(j, BASE + 6, &e), 0);
	ck_assert_uint_eq(e.id, BASE + 7);
	ck_assert_int_eq(e.f[1].num, 7);
	hr_journal_put(&e);
	ck_assert_int_eq(hr_journal_next(j, BASE + 9, &e), 0);
	ck_assert_uint_eq(e.id, BASE + 10);
	hr_journal_put(&e);
	ck_assert_int_eq(hr_journal_next(j, BASE + 10, &e), ENOENT);
	ck_assert_int_eq(hr_journal_next(j, BASE + 11, &e), ERANGE);
	ck_assert_int_eq(hr_journal_next(j, 3, &e), ERANGE);
	hr_journal_stats(j, &st);
	ck_assert_uint_eq(st.events, 10);
	ck_assert_uint_eq(st.held, 4);
	ck_assert_uint_eq(st.cap, 4);
	ck_assert_uint_eq(st.last, BASE + 10);
	ck_assert_uint_eq(st.failed, 0);
}
END_TEST

/* Before any event, an id below the base is another run's. */
START_TEST(test_empty_other_run)
{
	struct hr_ctl_event e;
	struct hr_ctl_feed_stats st;

	ck_assert_int_eq(hr_journal_next(j, BASE - 1, &e), ERANGE);
	hr_journal_stats(j, &st);
	ck_assert_uint_eq(st.held, 0);
}
END_TEST

/* A reader's reference outlives the event's place in the ring (ASan
 * would see a use after free). */
START_TEST(test_reference_outlives_slot)
{
	struct hr_ctl_event e;

	add_n(1);
	ck_assert_int_eq(hr_journal_next(j, BASE, &e), 0);
	for (unsigned i = 2; i <= 9; i++)
		add_n(i);
	ck_assert_str_eq(e.name, "r1@example.test");
	ck_assert_str_eq(e.f[0].str, "r1@example.test");
	hr_journal_put(&e);
	hr_journal_put(NULL);
}
END_TEST

static uint64_t ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)((t.tv_sec - t0->tv_sec) * 1000 +
		(t.tv_nsec - t0->tv_nsec) / 1000000);
}

START_TEST(test_wait_times_out)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_uint_eq(hr_journal_wait(j, BASE, 100), BASE);
	ck_assert_uint_ge(ms_since(&t0), 90);
	/* news already there: no wait */
	add_n(1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_uint_eq(hr_journal_wait(j, BASE, 5000), BASE + 1);
	ck_assert_uint_lt(ms_since(&t0), 1000);
}
END_TEST

static void *adder(void *arg)
{
	(void)arg;
	usleep(50000);
	add_n(1);
	return NULL;
}

static void *kicker(void *arg)
{
	(void)arg;
	usleep(50000);
	hr_journal_kick(j);
	return NULL;
}

/* A sleeper wakes for an event, and for a kick (a reader stopping). */
START_TEST(test_wait_wakes)
{
	struct timespec t0;
	pthread_t t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(pthread_create(&t, NULL, adder, NULL), 0);
	ck_assert_uint_eq(hr_journal_wait(j, BASE, 5000), BASE + 1);
	pthread_join(t, NULL);
	ck_assert_uint_lt(ms_since(&t0), 2000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(pthread_create(&t, NULL, kicker, NULL), 0);
	ck_assert_uint_eq(hr_journal_wait(j, BASE + 1, 5000), BASE + 1);
	pthread_join(t, NULL);
	ck_assert_uint_lt(ms_since(&t0), 2000);
}
END_TEST

/* One thread appends while another reads everything, in order. */
static void *writer(void *arg)
{
	unsigned n = *(unsigned *)arg;

	for (unsigned i = 1; i <= n; i++)
		add_n(i);
	return NULL;
}

START_TEST(test_concurrent_reader)
{
	unsigned n = 20000, got = 0;
	uint64_t cursor = BASE, last = BASE;
	pthread_t t;

	hr_journal_free(j);
	ck_assert_int_eq(hr_journal_alloc(&j, 64, BASE), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, writer, &n), 0);
	while (cursor < BASE + n) {
		struct hr_ctl_event e;
		int err = hr_journal_next(j, cursor, &e);

		if (err == ENOENT) {
			last = hr_journal_wait(j, cursor, 1000);
			continue;
		}
		if (err == ERANGE) {
			/* overtaken: go on from the newest */
			cursor = hr_journal_last(j);
			continue;
		}
		ck_assert_int_eq(err, 0);
		ck_assert_uint_eq(e.id, cursor + 1);
		ck_assert_int_eq(e.f[1].num, (int64_t)(e.id - BASE));
		cursor = e.id;
		got++;
		hr_journal_put(&e);
	}
	pthread_join(t, NULL);
	ck_assert_uint_gt(got, 0);
	ck_assert_uint_le(last, BASE + n);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("journal");
	TCase *tc = tcase_create("ring");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_ids_in_order);
	tcase_add_test(tc, test_copies);
	tcase_add_test(tc, test_packed_round_trip);
	tcase_add_test(tc, test_overflow_is_a_gap);
	tcase_add_test(tc, test_empty_other_run);
	tcase_add_test(tc, test_reference_outlives_slot);
	tcase_add_test(tc, test_wait_times_out);
	tcase_add_test(tc, test_wait_wakes);
	tcase_add_test(tc, test_concurrent_reader);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return hr_check_run(suite());
}
