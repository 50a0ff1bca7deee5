/* One logging API: level check in the macro, one line per call. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "core.h"

_Atomic enum hr_log_level hr_log_level = HR_LOG_INFO;

static const char *const names[] = { "debug", "info", "warn", "error" };

/*
 * Where lines go: stderr until hr_log_open() gives a file. The number is
 * set once, by the first open, and that descriptor is never closed:
 * later opens dup2() the new file onto it, which swaps the file for
 * every thread at once (a write in progress ends in the old file), so
 * writers need no lock. Atomic because that first open may come from
 * SIGHUP while other threads log.
 */
static _Atomic int log_fd = STDERR_FILENO;

int hr_log_level_decode(const char *name, enum hr_log_level *lvl)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(name, names[i]) == 0) {
			*lvl = (enum hr_log_level)i;
			return 0;
		}
	}
	if (strcasecmp(name, "warning") == 0) {
		*lvl = HR_LOG_WARN;
		return 0;
	}
	return EINVAL;
}

int hr_log_set_level(const char *name)
{
	enum hr_log_level lvl;
	int err = hr_log_level_decode(name, &lvl);

	if (!err)
		hr_log_level = lvl;
	return err;
}

const char *hr_log_level_name(enum hr_log_level lvl)
{
	return (unsigned)lvl < sizeof(names) / sizeof(names[0]) ?
		names[lvl] : "?";
}

int hr_log_open(const char *path)
{
	int fd = log_fd, nfd;

	if (!path) {
		if (fd != STDERR_FILENO && dup2(STDERR_FILENO, fd) < 0)
			return errno;
		return 0;
	}
	nfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (nfd < 0)
		return errno;
	if (fd == STDERR_FILENO) {
		/* the first file: its descriptor is the log's from now on */
		log_fd = nfd;
		return 0;
	}
	if (dup3(nfd, fd, O_CLOEXEC) < 0) {
		int err = errno;

		close(nfd);
		return err;
	}
	close(nfd);
	return 0;
}

/* All of buf, or as much as the file takes (a full disk loses lines). */
static void write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

void hr_log(enum hr_log_level lvl, const char *module, const char *fmt, ...)
{
	char line[2048], ts[32];
	struct timespec now;
	struct tm tm;
	va_list ap;
	int n, m;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%03ldZ %-5s %-9s ", ts,
		now.tv_nsec / 1000000, names[lvl], module);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n = (size_t)(n + m) < sizeof(line) - 1 ? n + m :
		(int)sizeof(line) - 2;
	line[n++] = '\n';
	/* one write per line so lines from threads do not interleave */
	write_all(log_fd, line, (size_t)n);
}

const char *hr_strerror(int err)
{
	static __thread char buf[128];

	return strerror_r(err, buf, sizeof(buf));
}
