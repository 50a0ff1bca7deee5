/* The one clock: monotonic milliseconds that tests may move forward. */
#include <stdatomic.h>
#include <time.h>
#include "core.h"

static atomic_uint_fast64_t advance_ms;

uint64_t hr_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 +
		atomic_load(&advance_ms);
}

void hr_clock_advance(uint64_t ms)
{
	atomic_fetch_add(&advance_ms, ms);
}

int64_t hr_wall_s(void)
{
	return (int64_t)time(NULL);
}
