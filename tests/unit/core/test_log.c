/* server/core/log.c: escaped lines, the JSON format, module levels and
 * the rate limit, on the fake clock. */
#include <check.h>
#include <errno.h>
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
	for (unsigned i = 0; i < hr_log_modules(); i++) {
		enum hr_log_level l;
		bool has;

		hr_log_module_set(hr_log_module(i, &has, &l), NULL);
	}
	hr_log_set_format("text");
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

/* ---- --log-format json ---- */

START_TEST(test_json_fields)
{
	const char *t;

	ck_assert_int_eq(hr_log_set_format("json"), 0);
	hr_log(HR_LOG_WARN, "store", "commit failed: %s", "gone");
	t = logged();
	/* {"time":"2024-05-01T12:00:00.123Z",...}: RFC 3339, UTC, ms */
	ck_assert_int_eq(strncmp(t, "{\"time\":\"", 9), 0);
	ck_assert_int_eq(t[13], '-');
	ck_assert_int_eq(t[19], 'T');
	ck_assert_int_eq(t[28], '.');
	ck_assert_int_eq(t[32], 'Z');
	ck_assert_str_eq(t + 33, "\",\"level\":\"warn\",\"module\":\"store\","
		"\"message\":\"commit failed: gone\"}\n");
	ck_assert_int_eq(hr_log_set_format("xml"), EINVAL);
}
END_TEST

START_TEST(test_json_escapes)
{
	const char *t;

	hr_log_set_format("json");
	/* quote, backslash, CR LF tab, other controls, DEL */
	hr_log(HR_LOG_INFO, "sip", "%s", "a\"b\\c\r\n\t\x01\x1b\x7f" "d");
	t = strstr(logged(), "\"message\":\"");
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(t, "\"message\":\"a\\\"b\\\\c\\r\\n\\t\\u0001"
		"\\u001b\\u007fd\"}\n");
	ck_assert_uint_eq(lines(), 1);
}
END_TEST

START_TEST(test_json_utf8)
{
	char out[64];
	size_t n;

	/* well-formed UTF-8 passes: 2, 3 and 4 bytes */
	n = hr_log_json_escape(out, sizeof(out), "J\xc3\xbcrgen \xe2\x82\xac "
		"\xf0\x9f\x98\x80");
	ck_assert_uint_eq(n, 16);
	ck_assert_int_eq(memcmp(out, "J\xc3\xbcrgen \xe2\x82\xac "
		"\xf0\x9f\x98\x80", n), 0);
	/* not UTF-8: a stray byte, a cut sequence, an overlong '/', a
	 * surrogate, past U+10FFFF: each bad byte U+FFFD */
	n = hr_log_json_escape(out, sizeof(out), "\xff|\xc3|\xc0\xaf|"
		"\xed\xa0\x80|\xf4\x90\x80\x80");
	out[n] = '\0';
	ck_assert_str_eq(out, "\xef\xbf\xbd|\xef\xbf\xbd|\xef\xbf\xbd"
		"\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
		"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	/* cut at a whole character or escape, never inside one */
	ck_assert_uint_eq(hr_log_json_escape(out, 2, "a\xc3\xbc"), 1);
	ck_assert_uint_eq(hr_log_json_escape(out, 5, "ab\x01"), 2);
	ck_assert_uint_eq(hr_log_json_escape(out, 3, "a\""), 3);
	ck_assert_uint_eq(hr_log_json_escape(out, 2, "a\""), 1);
}
END_TEST

START_TEST(test_json_long_line_is_whole)
{
	char big[4000];
	const char *t;
	size_t n;

	hr_log_set_format("json");
	memset(big, '"', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	hr_log(HR_LOG_ERROR, "sip", "%s", big);
	ck_assert_uint_eq(lines(), 1);
	t = logged();
	n = strlen(t);
	/* the object is closed, the message cut at a whole escape */
	ck_assert_int_eq(strcmp(t + n - 5, "\\\"\"}\n"), 0);
	ck_assert_uint_le(n, 2048);
}
END_TEST

START_TEST(test_json_suppressed)
{
	hr_log_set_format("json");
	flood(30);
	hr_clock_advance(1000);
	flood(1);
	ck_assert_ptr_nonnull(strstr(logged(), "\"message\":\"connect to "
		"127.0.0.1:9: refused\",\"suppressed\":20}\n"));
}
END_TEST

/* ---- a module's own level ---- */

#undef HR_LOG_MODULE
#define HR_LOG_MODULE "store"
static void store_lines(void)
{
	HR_DEBUG("store debug");
	HR_INFO("store info");
}
#undef HR_LOG_MODULE
#define HR_LOG_MODULE "sip"
static void sip_lines(void)
{
	HR_DEBUG("sip debug");
	HR_INFO("sip info");
}
#undef HR_LOG_MODULE
#define HR_LOG_MODULE "test"

START_TEST(test_module_level)
{
	enum hr_log_level dbg = HR_LOG_DEBUG, err = HR_LOG_ERROR, l;
	bool has = true;

	hr_log_set_level("info");
	ck_assert(!hr_log_overrides);
	ck_assert_int_eq(hr_log_module_set("store", &dbg), 0);
	ck_assert(hr_log_overrides);
	ck_assert_int_eq(hr_log_level, HR_LOG_DEBUG);
	ck_assert_int_eq(hr_log_default(), HR_LOG_INFO);
	store_lines();
	sip_lines();
	HR_DEBUG("test debug");
	ck_assert_ptr_nonnull(strstr(logged(), "store debug"));
	ck_assert_ptr_nonnull(strstr(logged(), "store info"));
	ck_assert_ptr_nonnull(strstr(logged(), "sip info"));
	ck_assert_ptr_null(strstr(logged(), "sip debug"));
	ck_assert_ptr_null(strstr(logged(), "test debug"));
	ck_assert_uint_eq(lines(), 3);
	/* quieter than the default */
	ck_assert_int_eq(hr_log_module_set("store", &err), 0);
	ck_assert_int_eq(hr_log_level, HR_LOG_INFO);
	store_lines();
	sip_lines();
	ck_assert_uint_eq(lines(), 4);
	/* back to the default */
	ck_assert_int_eq(hr_log_module_set("store", NULL), 0);
	ck_assert(!hr_log_overrides);
	store_lines();
	ck_assert_uint_eq(lines(), 5);
	ck_assert_int_eq(hr_log_module_set("nosuch", &dbg), ENOENT);
	for (unsigned i = 0; i < hr_log_modules(); i++) {
		const char *m = hr_log_module(i, &has, &l);

		ck_assert_ptr_nonnull(m);
		ck_assert(!has);
		ck_assert_int_eq(l, HR_LOG_INFO);
	}
	ck_assert_ptr_null(hr_log_module(hr_log_modules(), &has, &l));
}
END_TEST

START_TEST(test_default_with_modules)
{
	enum hr_log_level warn = HR_LOG_WARN, l;
	bool has;
	unsigned i;

	hr_log_set_level("debug");
	ck_assert_int_eq(hr_log_module_set("sip", &warn), 0);
	store_lines();
	sip_lines();
	ck_assert_uint_eq(lines(), 2);
	/* a new default leaves a module's own level */
	hr_log_set_default(HR_LOG_ERROR);
	ck_assert_int_eq(hr_log_level, HR_LOG_WARN);
	store_lines();
	sip_lines();
	ck_assert_uint_eq(lines(), 2);
	for (i = 0; strcmp(hr_log_module(i, &has, &l), "sip"); i++)
		;
	ck_assert(has);
	ck_assert_int_eq(l, HR_LOG_WARN);
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
	tcase_add_test(tc, test_json_fields);
	tcase_add_test(tc, test_json_escapes);
	tcase_add_test(tc, test_json_utf8);
	tcase_add_test(tc, test_json_long_line_is_whole);
	tcase_add_test(tc, test_json_suppressed);
	tcase_add_test(tc, test_module_level);
	tcase_add_test(tc, test_default_with_modules);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return hr_check_run(suite());
}
