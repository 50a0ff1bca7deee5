/*
 * One logging API: level check in the macro, one line per call, control
 * characters escaped, and each call site (or cause) held to a rate so a
 * failure that repeats cannot fill the disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
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

/* One byte of a message as the log shows it: control characters would
 * let a value from the network start a line of its own (CR, LF) or
 * drive the terminal (ESC). Returns the bytes written (0: no room). */
static size_t escape_one(char *out, size_t room, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	char e[4];
	size_t n = 2;

	if (c >= 0x20 && c != 0x7f) {
		e[0] = (char)c;
		n = 1;
	} else if (c == '\r' || c == '\n' || c == '\t') {
		e[0] = '\\';
		e[1] = c == '\r' ? 'r' : c == '\n' ? 'n' : 't';
	} else {
		e[0] = '\\';
		e[1] = 'x';
		e[2] = hex[c >> 4];
		e[3] = hex[c & 15];
		n = 4;
	}
	if (n > room)
		return 0;
	memcpy(out, e, n);
	return n;
}

/* msg into out with its control characters escaped, cut at a whole
 * escape when out is full; returns the length written. */
static size_t escape(char *out, size_t size, const char *msg)
{
	size_t o = 0;

	for (const char *p = msg; *p; p++) {
		size_t k = escape_one(out + o, size - o, (unsigned char)*p);

		if (!k)
			break;
		o += k;
	}
	return o;
}

static void vlog(enum hr_log_level lvl, const char *module,
	const char *more, const char *fmt, va_list ap)
{
	char line[2048], msg[2048], ts[32];
	struct timespec now;
	struct tm tm;
	size_t len, k;
	int n;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%03ldZ %-5s %-9s ", ts,
		now.tv_nsec / 1000000, names[lvl], module);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	/* room kept for the newline (the line has no NUL) */
	len = (size_t)n + escape(line + n, sizeof(line) - (size_t)n - 1, msg);
	k = strlen(more);
	if (len + k < sizeof(line)) {
		memcpy(line + len, more, k);
		len += k;
	}
	line[len++] = '\n';
	/* one write per line so lines from threads do not interleave */
	write_all(log_fd, line, len);
}

void hr_log(enum hr_log_level lvl, const char *module, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(lvl, module, "", fmt, ap);
	va_end(ap);
}

/* Limits are shared by threads (a call site in the store's code runs on
 * its thread and on the core's); a line out is rare enough for a lock. */
static pthread_mutex_t rl_lock = PTHREAD_MUTEX_INITIALIZER;

bool hr_log_rl_take(struct hr_log_rl *rl, unsigned max, uint64_t window_ms,
	unsigned *quiet)
{
	uint64_t now = hr_now_ms();
	bool ok;

	pthread_mutex_lock(&rl_lock);
	if (!rl->start || now - rl->start >= window_ms) {
		rl->start = now ? now : 1;
		rl->n = 0;
	}
	ok = rl->n < max;
	if (ok) {
		rl->n++;
		*quiet = rl->quiet;
		rl->quiet = 0;
	} else {
		rl->quiet++;
	}
	pthread_mutex_unlock(&rl_lock);
	return ok;
}

void hr_log_rl(struct hr_log_rl *rl, unsigned max, uint64_t window_ms,
	enum hr_log_level lvl, const char *module, const char *fmt, ...)
{
	char more[48] = "";
	unsigned quiet;
	va_list ap;

	if (!hr_log_rl_take(rl, max, window_ms, &quiet))
		return;
	if (quiet)
		snprintf(more, sizeof(more), " [%u like it not logged]",
			quiet);
	va_start(ap, fmt);
	vlog(lvl, module, more, fmt, ap);
	va_end(ap);
}

const char *hr_strerror(int err)
{
	static __thread char buf[128];

	return strerror_r(err, buf, sizeof(buf));
}
