/* The one clock: monotonic milliseconds that tests may move forward. */
#include <stdatomic.h>
#include <time.h>
#include "core.h"

static atomic_uint_fast64_t advance_ms;
static atomic_uint_fast64_t frozen_ms;  /* 0: the real clock runs */
static atomic_int_fast64_t frozen_wall;

static uint64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t hr_now_ms(void)
{
	uint64_t f = atomic_load(&frozen_ms);

	return (f ? f : real_ms()) + atomic_load(&advance_ms);
}

void hr_clock_freeze(void)
{
	atomic_store(&frozen_wall, (int64_t)time(NULL));
	atomic_store(&frozen_ms, real_ms());
}

void hr_clock_advance(uint64_t ms)
{
	atomic_fetch_add(&advance_ms, ms);
}

/* Wall time moves with the test clock too: expiries stored as absolute
 * times must come due when tests move the clock. */
int64_t hr_wall_s(void)
{
	int64_t base = atomic_load(&frozen_ms) ? atomic_load(&frozen_wall) :
		(int64_t)time(NULL);

	return base + (int64_t)(atomic_load(&advance_ms) / 1000);
}

int hr_cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t attr;
	int err = pthread_condattr_init(&attr);

	if (err)
		return err;
	err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (!err)
		err = pthread_cond_init(cond, &attr);
	pthread_condattr_destroy(&attr);
	return err;
}

void hr_mono_deadline(struct timespec *ts, uint64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}
