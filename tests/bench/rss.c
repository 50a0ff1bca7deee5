/*
 * A process's VmRSS over a long run (soak): sampled from
 * /proc/PID/status every interval seconds, each sample logged as
 * "t_seconds rss_kb", and the figures of a simple plateau verdict kept as
 * the samples come: is the peak of the run's last third within 10% of
 * the peak of its middle third?
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "bench.h"

#define INTERVAL_MAX 10.0       /* s between samples, at most */
#define INTERVAL_MIN 1.0
#define SAMPLES 60              /* a short run still gets this many */

/* VmRSS of pid in kB, or 0 (gone, or no such line). */
static uint64_t vmrss(int pid)
{
	char path[64], line[256];
	unsigned long long kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "VmRSS: %llu kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

int bench_rss_open(struct bench_rss *r, int pid, const char *path,
	double duration)
{
	memset(r, 0, sizeof(*r));
	if (!pid)
		return 0;
	if (!vmrss(pid)) {
		bench_err("--pid %d: no VmRSS in /proc/%d/status", pid, pid);
		return ESRCH;
	}
	if (path) {
		r->log = fopen(path, "we");
		if (!r->log) {
			bench_err("--rss-log %s: %s", path, strerror(errno));
			return errno;
		}
	}
	r->pid = pid;
	r->duration = duration;
	r->interval = duration / SAMPLES;
	if (r->interval > INTERVAL_MAX)
		r->interval = INTERVAL_MAX;
	if (r->interval < INTERVAL_MIN)
		r->interval = INTERVAL_MIN;
	return 0;
}

static void take(struct bench_rss *r, double t)
{
	uint64_t kb = vmrss(r->pid);

	if (!kb)
		return;
	if (r->log) {
		/* flushed, so that a long run can be watched */
		fprintf(r->log, "%.1f %llu\n", t, (unsigned long long)kb);
		fflush(r->log);
	}
	if (!r->start && t >= r->duration / 10)
		r->start = kb;
	r->end = kb;
	if (kb > r->max)
		r->max = kb;
	if (t >= r->duration * 2 / 3) {
		if (kb > r->last)
			r->last = kb;
	} else if (t >= r->duration / 3 && kb > r->mid) {
		r->mid = kb;
	}
}

void bench_rss_poll(struct bench_rss *r, double t)
{
	if (!r->pid || t < r->next)
		return;
	take(r, t);
	r->next += r->interval;
	if (r->next <= t)
		r->next = t + r->interval;
}

void bench_rss_close(struct bench_rss *r, double t)
{
	if (!r->pid)
		return;
	take(r, t);
	if (r->log)
		fclose(r->log);
	r->log = NULL;
}

int bench_rss_plateau(const struct bench_rss *r)
{
	if (!r->mid || !r->last)
		return -1;
	return r->last * 10 <= r->mid * 11;
}
