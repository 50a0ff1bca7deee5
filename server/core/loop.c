/* The core loop: one libevent base, and one libevent timer for our heap. */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include "core.h"
#include "core_int.h"

static struct event_base *base;
static struct event *tmr_ev;
static uint64_t armed_due; /* 0 when not armed */

static void arm(uint64_t due)
{
	uint64_t now = hr_now_ms();
	uint64_t d = due > now ? due - now : 0;
	struct timeval tv = { (time_t)(d / 1000), (suseconds_t)(d % 1000) * 1000 };

	if (!tmr_ev)
		return;
	evtimer_add(tmr_ev, &tv);
	armed_due = due;
}

void hr_loop_tmr_changed(uint64_t due)
{
	if (!armed_due || due < armed_due)
		arm(due);
}

static void tmr_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t due;

	(void)fd;
	(void)what;
	(void)arg;
	armed_due = 0;
	hr_tmr_poll();
	if (hr_tmr_next(&due))
		arm(due);
}

int hr_loop_init(void)
{
	struct event_config *cfg;

	/* other threads (the store writer) wake the loop with event_active */
	if (evthread_use_pthreads() < 0)
		return ENOSYS;
	cfg = event_config_new();
	if (!cfg)
		return ENOMEM;
	/* Our timers come from the heap; libevent's cached time is not ours. */
	event_config_set_flag(cfg, EVENT_BASE_FLAG_NO_CACHE_TIME);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (!base)
		return ENOMEM;
	tmr_ev = evtimer_new(base, tmr_cb, NULL);
	if (!tmr_ev) {
		hr_loop_close();
		return ENOMEM;
	}
	armed_due = 0;
	return 0;
}

void hr_loop_close(void)
{
	if (tmr_ev)
		event_free(tmr_ev);
	tmr_ev = NULL;
	if (base)
		event_base_free(base);
	base = NULL;
	hr_tmr_close();
}

struct event_base *hr_loop_base(void)
{
	return base;
}

int hr_loop_run(void)
{
	uint64_t due;

	if (hr_tmr_next(&due))
		arm(due);
	if (event_base_dispatch(base) < 0)
		return EIO;
	return 0;
}

void hr_loop_stop(void)
{
	event_base_loopbreak(base);
}

void hr_loop_once(void)
{
	uint64_t due;

	/* Timers first: a test may have moved the clock. */
	hr_tmr_poll();
	if (hr_tmr_next(&due))
		arm(due);
	event_base_loop(base, EVLOOP_NONBLOCK);
}
