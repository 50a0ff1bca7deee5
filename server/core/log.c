/* One logging API: level check in the macro, one line per call. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "core.h"

enum hr_log_level hr_log_level = HR_LOG_INFO;

static const char *const names[] = { "debug", "info", "warn", "error" };

int hr_log_set_level(const char *name)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(name, names[i]) == 0) {
			hr_log_level = (enum hr_log_level)i;
			return 0;
		}
	}
	if (strcasecmp(name, "warning") == 0) {
		hr_log_level = HR_LOG_WARN;
		return 0;
	}
	return EINVAL;
}

void hr_log(enum hr_log_level lvl, const char *module, const char *fmt, ...)
{
	char line[2048], ts[32];
	struct timespec now;
	struct tm tm;
	va_list ap;
	int n;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%03ldZ %-5s %-9s ", ts,
		now.tv_nsec / 1000000, names[lvl], module);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	/* One write per line so lines from threads do not interleave. */
	fprintf(stderr, "%s\n", line);
}

const char *hr_strerror(int err)
{
	static __thread char buf[128];

	return strerror_r(err, buf, sizeof(buf));
}
