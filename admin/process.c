/*
 * The process's own figures, read from the kernel (proc(5), getrusage,
 * getrlimit): what Prometheus's client libraries export under the
 * standard process_* names, and the start time /v1/status counts the
 * uptime from.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "admin_int.h"

/* Seconds since the epoch at which the machine booted (/proc/stat's
 * btime): 0 when unknown. */
static long long boot_time(void)
{
	FILE *f = fopen("/proc/stat", "r");
	char line[256];
	long long bt = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "btime %lld", &bt) == 1)
			break;
	}
	fclose(f);
	return bt;
}

/* Field 22 of /proc/self/stat, starttime, in clock ticks after boot.
 * The command name (field 2) may hold spaces and ')': skip to its last
 * ')'. */
static int start_ticks(unsigned long long *ticks)
{
	char buf[1024], *p;
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n;

	if (!f)
		return errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p)
		return EINVAL;
	/* after ")": the space before field 3 (state), ... before 22 */
	for (int field = 3; field <= 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return EINVAL;
	}
	*ticks = strtoull(p + 1, NULL, 10);
	return 0;
}

static unsigned count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	/* less the one opendir holds */
	return n ? n - 1 : 0;
}

static double start;
static pthread_once_t start_once = PTHREAD_ONCE_INIT;

static void read_start(void)
{
	unsigned long long ticks;
	long hz = sysconf(_SC_CLK_TCK);

	if (hz > 0 && !start_ticks(&ticks))
		start = (double)boot_time() + (double)ticks / (double)hz;
}

double hr_admin_start_time(void)
{
	/* the same for the whole run: read once */
	pthread_once(&start_once, read_start);
	return start;
}

int hr_admin_proc_read(struct hr_admin_proc *p)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned long long size = 0, rss = 0;
	struct rusage ru;
	struct rlimit rl;
	FILE *f;

	memset(p, 0, sizeof(*p));
	if (getrusage(RUSAGE_SELF, &ru))
		return errno;
	p->cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
		(double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	f = fopen("/proc/self/statm", "r");
	if (!f)
		return errno;
	if (fscanf(f, "%llu %llu", &size, &rss) != 2) {
		fclose(f);
		return EINVAL;
	}
	fclose(f);
	p->virtual_bytes = size * (unsigned long long)page;
	p->resident_bytes = rss * (unsigned long long)page;
	p->open_fds = count_fds();
	p->max_fds = getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur ==
		RLIM_INFINITY ? 0 : (unsigned long long)rl.rlim_cur;
	p->start_s = hr_admin_start_time();
	return 0;
}
