/* server/core/conf.c: config file lines, and applying them as options
 * under the environment and the command line; the log file's reopen. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/core.h"
#include "check_run.h"

/* A line and what it splits into (NULL name: nothing; err: refused). */
static const struct {
	const char *line;
	const char *name;
	const char *value;
	int err;
} lines[] = {
	{ "", NULL, NULL, 0 },
	{ "   \t ", NULL, NULL, 0 },
	{ "# a comment = not a setting", NULL, NULL, 0 },
	{ "  # indented comment", NULL, NULL, 0 },
	{ "log-level = debug", "log-level", "debug", 0 },
	{ "log-level=debug", "log-level", "debug", 0 },
	{ "\tlog-level   =   warn  \r", "log-level", "warn", 0 },
	{ "domain = a.test, b.test", "domain", "a.test, b.test", 0 },
	{ "admin-token =", "admin-token", "", 0 },
	{ "admin-token = \" spaced \"", "admin-token", " spaced ", 0 },
	{ "database-url = postgresql://u@h/db?x=1", "database-url",
	  "postgresql://u@h/db?x=1", 0 },
	{ "log-level", NULL, NULL, EBADMSG },
	{ "= debug", NULL, NULL, EBADMSG },
	{ "log level = debug", NULL, NULL, EBADMSG },
	{ "--log-level = debug", "--log-level", "debug", 0 },
};

START_TEST(test_conf_line)
{
	char buf[128], *name, *value;
	int err;

	snprintf(buf, sizeof(buf), "%s", lines[_i].line);
	err = hr_conf_line(buf, &name, &value);
	ck_assert_msg(err == lines[_i].err, "'%s': %d", lines[_i].line, err);
	if (err)
		return;
	if (!lines[_i].name) {
		ck_assert_ptr_null(name);
		return;
	}
	ck_assert_str_eq(name, lines[_i].name);
	ck_assert_str_eq(value, lines[_i].value);
}
END_TEST

START_TEST(test_conf_parse)
{
	struct hr_conf *a = NULL, *b = NULL;
	char why[128] = "";

	ck_assert_int_eq(hr_conf_parse(&a, "# herald\n\nlog-level = debug\n"
		"domain = a.test\ndomain = b.test\n", why, sizeof(why)), 0);
	ck_assert_uint_eq(a->n, 3);
	ck_assert_uint_eq(a->v[0].line, 3);
	ck_assert_str_eq(hr_conf_get(a, "log-level"), "debug");
	ck_assert_str_eq(hr_conf_get(a, "domain"), "b.test");
	ck_assert_ptr_null(hr_conf_get(a, "log-file"));
	ck_assert_int_eq(hr_conf_parse(&b, "domain = a.test\n"
		"log-level = info\ndomain = b.test", why, sizeof(why)), 0);
	ck_assert(hr_conf_same(a, b, "domain"));
	ck_assert(!hr_conf_same(a, b, "log-level"));
	ck_assert(hr_conf_same(a, b, "log-file"));
	ck_assert(!hr_conf_same(a, NULL, "domain"));
	ck_assert(hr_conf_same(NULL, NULL, "domain"));
	hr_mem_deref(b);
	b = NULL;
	ck_assert_int_eq(hr_conf_parse(&b, "log-level = info\nnonsense\n",
		why, sizeof(why)), EBADMSG);
	ck_assert_ptr_null(b);
	ck_assert_str_eq(why, "line 2: not 'name = value'");
	hr_mem_deref(a);
}
END_TEST

START_TEST(test_conf_read)
{
	char path[] = "/tmp/herald-conf-XXXXXX", why[128];
	struct hr_conf *c = NULL;
	FILE *f;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fputs("log-level = warn\r\n", f);
	fclose(f);
	ck_assert_int_eq(hr_conf_read(&c, path, why, sizeof(why)), 0);
	ck_assert_str_eq(hr_conf_get(c, "log-level"), "warn");
	hr_mem_deref(c);
	unlink(path);
	ck_assert_int_eq(hr_conf_read(&c, path, why, sizeof(why)), ENOENT);
	ck_assert_str_eq(why, "No such file or directory");
}
END_TEST

/* The file under the environment under the command line. */
START_TEST(test_opt_conf)
{
	struct hr_strlist list = { { 0 }, 0 };
	const char *level = "info", *cfgfile = NULL;
	unsigned n = 5;
	bool flag = false, given[5] = { false };
	const struct hr_opt opts[] = {
		{ "domain", HR_OPT_LIST, &list, "D", "", 0, 0 },
		{ "log-level", HR_OPT_STR, &level, "L", "", 0, 0 },
		{ "max-contacts", HR_OPT_UINT, &n, "N", "", 1, 100 },
		{ "flag", HR_OPT_FLAG, &flag, NULL, "", 0, 0 },
		{ "config", HR_OPT_STR, &cfgfile, "FILE", "", 0, 0 },
	};
	char *argv[] = { "--max-contacts", "7" };
	struct hr_conf *c = NULL;
	char why[128] = "";

	setenv("HERALD_LOG_LEVEL", "warn", 1);
	ck_assert_int_eq(hr_opt_parse_given(opts, 5, 2, argv, given), 0);
	unsetenv("HERALD_LOG_LEVEL");
	ck_assert(!given[0] && given[1] && given[2] && !given[3]);
	ck_assert_int_eq(hr_conf_parse(&c, "log-level = debug\n"
		"max-contacts = 9\nflag = on\ndomain = a.test b.test\n"
		"domain = c.test\n", why, sizeof(why)), 0);
	ck_assert_int_eq(hr_opt_conf_apply(opts, 5, c, given, why,
		sizeof(why)), 0);
	ck_assert_str_eq(level, "warn");      /* the environment's */
	ck_assert_uint_eq(n, 7);              /* the command line's */
	ck_assert(flag);                      /* the file's */
	ck_assert_uint_eq(list.n, 3);
	ck_assert_str_eq(list.v[1], "b.test");
	ck_assert_str_eq(list.v[2], "c.test");
	hr_mem_deref(c);
}
END_TEST

/* What a file may not say; the options stay as they were. */
static const struct {
	const char *text;
	const char *why;
} bad[] = {
	{ "max-contacts = 0\n", "line 1: --max-contacts wants a number "
	  "from 1 to 100, not '0'" },
	{ "\nmax-contacts = lots\n", "line 2: --max-contacts wants a number "
	  "from 1 to 100, not 'lots'" },
	{ "log-levle = debug\n", "line 1: unknown option 'log-levle'" },
	{ "config = other.conf\n", "line 1: a config file cannot name "
	  "another: 'config'" },
	{ "log-level = a\nlog-level = b\n", "line 2: log-level already "
	  "given on line 1" },
	{ "flag = maybe\n", "line 1: --flag is on or off, not 'maybe'" },
};

START_TEST(test_opt_conf_bad)
{
	struct hr_strlist list = { { 0 }, 0 };
	const char *level = "info", *cfgfile = NULL;
	unsigned n = 5;
	bool flag = false;
	const struct hr_opt opts[] = {
		{ "domain", HR_OPT_LIST, &list, "D", "", 0, 0 },
		{ "log-level", HR_OPT_STR, &level, "L", "", 0, 0 },
		{ "max-contacts", HR_OPT_UINT, &n, "N", "", 1, 100 },
		{ "flag", HR_OPT_FLAG, &flag, NULL, "", 0, 0 },
		{ "config", HR_OPT_STR, &cfgfile, "FILE", "", 0, 0 },
	};
	struct hr_conf *c = NULL;
	char why[128] = "";

	ck_assert_int_eq(hr_conf_parse(&c, bad[_i].text, why, sizeof(why)),
		0);
	ck_assert_int_eq(hr_opt_conf_check(opts, 5, c, why, sizeof(why)),
		EINVAL);
	ck_assert_str_eq(why, bad[_i].why);
	ck_assert_int_eq(hr_opt_conf_apply(opts, 5, c, NULL, why,
		sizeof(why)), EINVAL);
	ck_assert_str_eq(level, "info");
	ck_assert_uint_eq(n, 5);
	ck_assert(!flag);
	hr_mem_deref(c);
}
END_TEST

static size_t file_text(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t len;

	ck_assert_ptr_nonnull(f);
	len = fread(buf, 1, size - 1, f);
	buf[len] = '\0';
	fclose(f);
	return len;
}

/* logrotate's way: move the file, reopen, the next line is in a new one */
START_TEST(test_log_reopen)
{
	char dir[] = "/tmp/herald-log-XXXXXX", path[64], moved[64];
	char buf[4096];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/herald.log", dir);
	snprintf(moved, sizeof(moved), "%s/herald.log.1", dir);
	ck_assert_int_eq(hr_log_open(path), 0);
	hr_log(HR_LOG_INFO, "test", "first %d", 1);
	ck_assert_int_eq(rename(path, moved), 0);
	hr_log(HR_LOG_INFO, "test", "second");
	ck_assert_int_eq(hr_log_open(path), 0);
	hr_log(HR_LOG_WARN, "test", "third");
	file_text(moved, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "info  test      first 1\n"));
	ck_assert_ptr_nonnull(strstr(buf, "second\n"));
	ck_assert_ptr_null(strstr(buf, "third"));
	file_text(path, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "warn  test      third\n"));
	ck_assert_ptr_null(strstr(buf, "second"));
	/* a file that cannot be opened leaves the log where it was */
	ck_assert_int_eq(hr_log_open("/nonexistent/dir/herald.log"), ENOENT);
	hr_log(HR_LOG_INFO, "test", "fourth");
	file_text(path, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "fourth\n"));
	ck_assert_int_eq(hr_log_open(NULL), 0);
	unlink(path);
	unlink(moved);
	rmdir(dir);
}
END_TEST

START_TEST(test_log_level)
{
	enum hr_log_level l;

	ck_assert_int_eq(hr_log_level_decode("Warning", &l), 0);
	ck_assert_int_eq(l, HR_LOG_WARN);
	ck_assert_str_eq(hr_log_level_name(l), "warn");
	ck_assert_int_eq(hr_log_level_decode("loud", &l), EINVAL);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("conf");

	tcase_add_loop_test(tc, test_conf_line, 0,
		sizeof(lines) / sizeof(lines[0]));
	tcase_add_test(tc, test_conf_parse);
	tcase_add_test(tc, test_conf_read);
	tcase_add_test(tc, test_opt_conf);
	tcase_add_loop_test(tc, test_opt_conf_bad, 0,
		sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_log_reopen);
	tcase_add_test(tc, test_log_level);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return hr_check_run(suite());
}
