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

/* The lowest level any module logs at: the macros' first test. With no
 * module of its own level it is the default's, and the test is the
 * only one (hr_log_overrides false). */
_Atomic enum hr_log_level hr_log_level = HR_LOG_INFO;
_Atomic bool hr_log_overrides;

static const char *const names[] = { "debug", "info", "warn", "error" };

/*
 * The modules the log lines name (each file's HR_LOG_MODULE), which may
 * have a level of their own (the admin API sets them at run time). A
 * file whose module is not here logs at the default level;
 * tests/integration/test_observe.py checks that every HR_LOG_MODULE in
 * the tree is here.
 */
static const char *const modules[] = {
	"admin", "auth", "cluster", "control", "ctrans", "dialog", "dns",
	"events", "mwi", "presence", "publish", "redirect", "reg",
	"registrar", "serve", "sip", "store", "strans", "tcp", "tls", "udp",
	"winfo",
};
#define NMODULES (sizeof(modules) / sizeof(modules[0]))
#define NO_LEVEL (-1)

static _Atomic enum hr_log_level default_level = HR_LOG_INFO;
/* each module's level, or NO_LEVEL; written under set_lock, read by any
 * thread on the hot path (one atomic load) */
static _Atomic int mod_level[NMODULES] = {
	[0 ... NMODULES - 1] = NO_LEVEL
};
static pthread_mutex_t set_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic enum hr_log_format log_format = HR_LOG_TEXT;

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

/* The floor and the flag again, after a level changed (set_lock held). */
static void refloor(void)
{
	enum hr_log_level floor = default_level;
	bool any = false;

	for (size_t i = 0; i < NMODULES; i++) {
		int l = mod_level[i];

		if (l == NO_LEVEL)
			continue;
		any = true;
		if ((enum hr_log_level)l < floor)
			floor = (enum hr_log_level)l;
	}
	/* the flag first: a reader that sees the lower floor must also go
	 * on to the module's own level */
	if (any)
		hr_log_overrides = true;
	hr_log_level = floor;
	if (!any)
		hr_log_overrides = false;
}

void hr_log_set_default(enum hr_log_level lvl)
{
	pthread_mutex_lock(&set_lock);
	default_level = lvl;
	refloor();
	pthread_mutex_unlock(&set_lock);
}

enum hr_log_level hr_log_default(void)
{
	return default_level;
}

int hr_log_set_level(const char *name)
{
	enum hr_log_level lvl;
	int err = hr_log_level_decode(name, &lvl);

	if (!err)
		hr_log_set_default(lvl);
	return err;
}

static int module_index(const char *module)
{
	for (size_t i = 0; i < NMODULES; i++) {
		if (!strcmp(modules[i], module))
			return (int)i;
	}
	return -1;
}

int hr_log_module_set(const char *module, const enum hr_log_level *lvl)
{
	int i = module_index(module);

	if (i < 0)
		return ENOENT;
	pthread_mutex_lock(&set_lock);
	mod_level[i] = lvl ? (int)*lvl : NO_LEVEL;
	refloor();
	pthread_mutex_unlock(&set_lock);
	return 0;
}

unsigned hr_log_modules(void)
{
	return NMODULES;
}

const char *hr_log_module(unsigned i, bool *has, enum hr_log_level *lvl)
{
	int l;

	if (i >= NMODULES)
		return NULL;
	l = mod_level[i];
	*has = l != NO_LEVEL;
	*lvl = *has ? (enum hr_log_level)l : default_level;
	return modules[i];
}

bool hr_log_module_on(enum hr_log_level lvl, const char *module,
	_Atomic int *slot)
{
	int i = atomic_load_explicit(slot, memory_order_relaxed), l;

	/* the site's module looked up once: 0 not yet, then index + 1 */
	if (!i) {
		i = module_index(module) + 1;
		if (!i)
			i = (int)NMODULES + 1;
		atomic_store_explicit(slot, i, memory_order_relaxed);
	}
	l = i <= (int)NMODULES ? atomic_load_explicit(&mod_level[i - 1],
		memory_order_relaxed) : NO_LEVEL;
	return lvl >= (l == NO_LEVEL ? default_level : (enum hr_log_level)l);
}

int hr_log_set_format(const char *name)
{
	if (!strcasecmp(name, "text"))
		log_format = HR_LOG_TEXT;
	else if (!strcasecmp(name, "json"))
		log_format = HR_LOG_JSON;
	else
		return EINVAL;
	return 0;
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

/* One UTF-8 sequence at p (of at most n bytes): its length, or 0 when
 * it is not well-formed (RFC 3629 4: no overlongs, no surrogates). */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	size_t len = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : 2;
	uint32_t cp;

	if (p[0] < 0xc2 || p[0] > 0xf4 || n < len)
		return 0;
	cp = p[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* msg as the inside of a JSON string (RFC 8259 7): quote, backslash and
 * control characters escaped, a byte that is not UTF-8 as U+FFFD (the
 * text must be UTF-8, RFC 8259 8.1); cut at a whole character when out
 * is full. Returns the length written. */
static size_t json_escape(char *out, size_t size, const char *msg)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)msg;
	size_t o = 0, left = strlen(msg);

	while (left) {
		char e[8];
		const char *src = e;
		size_t n = 2, adv = 1;
		unsigned char c = *p;

		if (c == '"' || c == '\\') {
			e[0] = '\\';
			e[1] = (char)c;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			e[0] = '\\';
			e[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(e, "\\u00", 4);
			e[4] = hex[c >> 4];
			e[5] = hex[c & 15];
			n = 6;
		} else if (c < 0x80) {
			e[0] = (char)c;
			n = 1;
		} else if ((adv = utf8_len(p, left))) {
			src = (const char *)p;
			n = adv;
		} else {
			src = "\xef\xbf\xbd";  /* U+FFFD */
			n = 3;
			adv = 1;
		}
		if (n > size - o)
			break;
		memcpy(out + o, src, n);
		o += n;
		p += adv;
		left -= adv;
	}
	return o;
}

size_t hr_log_json_escape(char *out, size_t size, const char *msg)
{
	return json_escape(out, size, msg);
}

/* "2024-05-01T12:00:00.123Z": RFC 3339 in UTC, milliseconds. */
static void timestamp(char *ts, size_t n)
{
	struct timespec now;
	struct tm tm;
	char s[24];

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts, n, "%s.%03dZ", s, (int)(now.tv_nsec / 1000000) % 1000);
}

/* The text line: time, level, module, message, and how many like it
 * were left out. Returns its length, newline excluded. */
static size_t text_line(char *line, size_t size, const char *ts,
	enum hr_log_level lvl, const char *module, const char *msg,
	unsigned quiet)
{
	int n = snprintf(line, size, "%s %-5s %-9s ", ts, names[lvl],
		module);
	size_t len;

	if (n < 0 || (size_t)n >= size)
		return 0;
	len = (size_t)n + escape(line + n, size - (size_t)n, msg);
	if (quiet) {
		n = snprintf(line + len, size - len,
			" [%u like it not logged]", quiet);
		if (n > 0 && (size_t)n < size - len)
			len += (size_t)n;
	}
	return len;
}

/* The JSON line: one object, its members the text line's fields; the
 * message cut to leave room for the rest. */
static size_t json_line(char *line, size_t size, const char *ts,
	enum hr_log_level lvl, const char *module, const char *msg,
	unsigned quiet)
{
	char tail[48] = "\"}";
	size_t len, tl;
	int n;

	n = snprintf(line, size, "{\"time\":\"%s\",\"level\":\"%s\","
		"\"module\":\"", ts, names[lvl]);
	if (n < 0 || (size_t)n >= size)
		return 0;
	len = (size_t)n + json_escape(line + n, size - (size_t)n, module);
	if (len + 16 > size)
		return 0;
	memcpy(line + len, "\",\"message\":\"", 13);
	len += 13;
	if (quiet)
		snprintf(tail, sizeof(tail), "\",\"suppressed\":%u}", quiet);
	tl = strlen(tail);
	if (len + tl > size)
		return 0;
	len += json_escape(line + len, size - len - tl, msg);
	memcpy(line + len, tail, tl);
	return len + tl;
}

static void vlog(enum hr_log_level lvl, const char *module, unsigned quiet,
	const char *fmt, va_list ap)
{
	char line[2048], msg[2048], ts[48];
	size_t len;

	timestamp(ts, sizeof(ts));
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	/* room kept for the newline (the line has no NUL) */
	if (log_format == HR_LOG_JSON)
		len = json_line(line, sizeof(line) - 1, ts, lvl, module, msg,
			quiet);
	else
		len = text_line(line, sizeof(line) - 1, ts, lvl, module, msg,
			quiet);
	if (!len)
		return;
	line[len++] = '\n';
	/* one write per line so lines from threads do not interleave */
	write_all(log_fd, line, len);
}

void hr_log(enum hr_log_level lvl, const char *module, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(lvl, module, 0, fmt, ap);
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
	unsigned quiet;
	va_list ap;

	if (!hr_log_rl_take(rl, max, window_ms, &quiet))
		return;
	va_start(ap, fmt);
	vlog(lvl, module, quiet, fmt, ap);
	va_end(ap);
}

const char *hr_strerror(int err)
{
	static __thread char buf[128];

	return strerror_r(err, buf, sizeof(buf));
}
