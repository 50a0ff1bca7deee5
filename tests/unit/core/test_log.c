/* server/core/log.c: escaped lines and the rate limit, on the fake clock. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/core.h"
#include "check_run.h"

#define HR_LOG_MODULE "test"

static char path[] = "/tmp/herald-test-log-XXXXXX";
static char text[16384];

/* The log file's whole text so far. */
static const char *logged(void)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	ck_assert_int_ge(n, 0);
	text[n] = '\0';
	return text;
}

static unsigned lines(void)
{
	unsigned n = 0;

	for (const char *p = logged(); (p = strchr(p, '\n')); p++)
		n++;
	return n;
}

static void setup(void)
{
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(hr_log_open(path), 0);
	hr_log_set_level("debug");
	hr_clock_freeze();
}

static void teardown(void)
{
	hr_log_open(NULL);
	unlink(path);
	strcpy(path, "/tmp/herald-test-log-XXXXXX");
}

START_TEST(test_escape_forged_line)
{
	const char *user = "alice\r\n2024-01-01T00:00:00.000Z info  admin "
		"user root added";

	hr_log(HR_LOG_INFO, "admin", "user %s changed", user);
	ck_assert_uint_eq(lines(), 1);
	ck_assert_ptr_nonnull(strstr(logged(), "user alice\\r\\n2024-01-01"));
	ck_assert_ptr_nonnull(strstr(logged(), " added changed\n"));
}
END_TEST

START_TEST(test_escape_controls)
{
	hr_log(HR_LOG_WARN, "sip", "[%s]", "a\tb\x1b[31mc\x7f\x01" "d\\n");
	ck_assert_ptr_nonnull(strstr(logged(),
		"[a\\tb\\x1b[31mc\\x7f\\x01d\\n]\n"));
	/* UTF-8 is text, not control */
	hr_log(HR_LOG_WARN, "sip", "%s", "J\xc3\xbcrgen");
	ck_assert_ptr_nonnull(strstr(logged(), "J\xc3\xbcrgen\n"));
}
END_TEST

START_TEST(test_escape_long_line_ends)
{
	char big[4000];

	memset(big, '\n', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	hr_log(HR_LOG_ERROR, "sip", "%s", big);
	/* cut at a whole escape, still one line */
	ck_assert_uint_eq(lines(), 1);
	ck_assert_ptr_nonnull(strstr(logged(), "\\n\\n\n"));
}
END_TEST

START_TEST(test_site_limit_summarizes)
{
	for (int i = 0; i < 25; i++)
		HR_WARN("accept: %s", "Too many open files");
	ck_assert_uint_eq(lines(), HR_LOG_PER_S);
	hr_clock_advance(999);
	/* another site: a limit of its own */
	HR_WARN("accept: %s", "Too many open files");
	for (int i = 0; i < 5; i++)
		HR_INFO("once more");
	ck_assert_uint_eq(lines(), HR_LOG_PER_S + 6);
	ck_assert_ptr_null(strstr(logged(), "like it not logged"));
}
END_TEST

static void flood(int n)
{
	for (int i = 0; i < n; i++)
		HR_WARN("connect to %s: %s", "127.0.0.1:9", "refused");
}

START_TEST(test_site_limit_next_window_says_count)
{
	flood(100);
	ck_assert_uint_eq(lines(), HR_LOG_PER_S);
	hr_clock_advance(1000);
	flood(1);
	ck_assert_uint_eq(lines(), HR_LOG_PER_S + 1);
	ck_assert_ptr_nonnull(strstr(logged(),
		"refused [90 like it not logged]\n"));
	flood(1);
	ck_assert_uint_eq(lines(), HR_LOG_PER_S + 2);
	/* said once: the next line has nothing to add */
	ck_assert_ptr_nonnull(strstr(logged(),
		"not logged]\n"));
	ck_assert_int_eq(text[strlen(text) - 2], 'd');
}
END_TEST

static void refused(void)
{
	HR_WARN_EVERY(10000, "PostgreSQL still away");
}

START_TEST(test_every)
{
	for (int t = 0; t < 30; t++) {
		refused();
		refused();
		hr_clock_advance(1000);
	}
	/* 0 s, 10 s, 20 s */
	ck_assert_uint_eq(lines(), 3);
	ck_assert_ptr_nonnull(strstr(logged(),
		"still away [19 like it not logged]\n"));
}
END_TEST

START_TEST(test_debug_not_limited)
{
	for (int i = 0; i < 50; i++)
		HR_DEBUG("trace %d", i);
	ck_assert_uint_eq(lines(), 50);
}
END_TEST

START_TEST(test_below_level_not_counted)
{
	struct hr_log_rl rl = { 0 };
	unsigned quiet = 7;

	hr_log_set_level("error");
	for (int i = 0; i < 50; i++)
		HR_WARN("not at this level");
	ck_assert_uint_eq(lines(), 0);
	ck_assert(hr_log_rl_take(&rl, 2, 1000, &quiet));
	ck_assert_uint_eq(quiet, 0);
	ck_assert(hr_log_rl_take(&rl, 2, 1000, &quiet));
	ck_assert(!hr_log_rl_take(&rl, 2, 1000, &quiet));
	ck_assert(!hr_log_rl_take(&rl, 2, 1000, &quiet));
	hr_clock_advance(1000);
	ck_assert(hr_log_rl_take(&rl, 2, 1000, &quiet));
	ck_assert_uint_eq(quiet, 2);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_escape_forged_line);
	tcase_add_test(tc, test_escape_controls);
	tcase_add_test(tc, test_escape_long_line_ends);
	tcase_add_test(tc, test_site_limit_summarizes);
	tcase_add_test(tc, test_site_limit_next_window_says_count);
	tcase_add_test(tc, test_every);
	tcase_add_test(tc, test_debug_not_limited);
	tcase_add_test(tc, test_below_level_not_counted);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return hr_check_run(suite());
}
