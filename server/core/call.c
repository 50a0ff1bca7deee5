/*
 * Calls into the core thread from other threads (the admin API): the
 * caller queues a function and waits; the core loop runs it between its
 * other callbacks, so everything it touches is the core's alone (no locks
 * on the SIP side). Woken with event_active, which libevent makes safe
 * across threads (hr_loop_init turned pthreads on).
 */
#include <errno.h>
#include <pthread.h>
#include <event2/event.h>
#include "core.h"

struct call {
	struct hr_le le;
	hr_call_h *fn;
	void *arg;
	bool running;
	bool done;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct hr_list queue;
static struct event *ev;
static bool open_;

static void run(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	for (;;) {
		struct call *c;

		pthread_mutex_lock(&lock);
		c = queue.head ? queue.head->data : NULL;
		if (c) {
			hr_list_unlink(&c->le);
			c->running = true;
		}
		pthread_mutex_unlock(&lock);
		if (!c)
			return;
		c->fn(c->arg);
		pthread_mutex_lock(&lock);
		c->done = true;
		pthread_cond_broadcast(&cond);
		pthread_mutex_unlock(&lock);
	}
}

int hr_call_open(void)
{
	if (ev)
		return 0;
	ev = event_new(hr_loop_base(), -1, 0, run, NULL);
	if (!ev)
		return ENOMEM;
	pthread_mutex_lock(&lock);
	open_ = true;
	pthread_mutex_unlock(&lock);
	return 0;
}

int hr_call(hr_call_h *fn, void *arg)
{
	struct call c = { .fn = fn, .arg = arg };
	int err = 0;

	pthread_mutex_lock(&lock);
	if (!open_) {
		pthread_mutex_unlock(&lock);
		return ECANCELED;
	}
	hr_list_append(&queue, &c.le, &c);
	event_active(ev, EV_READ, 0);
	/* a call the core has taken is waited for even when closing: it
	 * lives on this stack */
	while (!c.done && (open_ || c.running))
		pthread_cond_wait(&cond, &lock);
	if (!c.done) {
		/* closed while waiting: it will never run */
		hr_list_unlink(&c.le);
		err = ECANCELED;
	}
	pthread_mutex_unlock(&lock);
	return err;
}

void hr_call_close(void)
{
	pthread_mutex_lock(&lock);
	open_ = false;
	/* calls that never ran fail; a call running now finishes first */
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

void hr_call_free(void)
{
	hr_call_close();
	if (ev)
		event_free(ev);
	ev = NULL;
}
