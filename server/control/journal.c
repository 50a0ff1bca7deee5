/*
 * The change journal: a bounded ring of the core's changes, each with an
 * id one above the last, for the live feeds of other threads. The core
 * thread appends (a copy, under a mutex held for a few stores) and wakes
 * whoever sleeps in hr_journal_wait; readers take a reference to an event
 * and format it outside the lock, so no reader holds the core up for
 * longer than a pointer copy. An event leaves the ring when a newer one
 * takes its place; a reader's reference keeps it until put back.
 *
 * Ids: each run starts above every id an earlier run can have given (the
 * wall clock in microseconds at start: a run would have to make a
 * million changes a second to catch up), so an id from another run is
 * either below what the ring holds or above its newest: a gap, never a
 * wrong resume.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "control_int.h"

/*
 * The events come from the journal's own pool (fpool.c), under
 * pool_lock: the ring drops them in about the order they came, whichever
 * thread puts back the last reference. From malloc's heap, the 10,000
 * the ring holds were scattered among the requests of the traffic that
 * made them, and pinned those pages once they were freed (issue 20).
 */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;

/* An event as the ring and its readers share it. */
struct jev {
	atomic_uint refs;
	bool pooled;                 /* from the pool, else malloc */
	struct hr_ctl_event e;
	char strs[];
};

struct hr_journal {
	pthread_mutex_t lock;        /* guards all below */
	pthread_cond_t cond;         /* on CLOCK_MONOTONIC */
	struct jev **ring;           /* id i is at (i - base - 1) % cap */
	size_t cap;
	uint64_t base;               /* ids start above it */
	uint64_t last;               /* the newest id; base: none yet */
	uint64_t kicks;              /* hr_journal_kick calls */
	unsigned sleepers;           /* threads in hr_journal_wait */
	uint64_t added;
	uint64_t failed;             /* not added (no memory) */
	struct hr_fpool *pool;       /* the events' (under pool_lock) */
};

static void jev_put(struct jev *je)
{
	if (!je || atomic_fetch_sub(&je->refs, 1) != 1)
		return;
	if (!je->pooled) {
		free(je);
		return;
	}
	pthread_mutex_lock(&pool_lock);
	hr_fpool_put(je);
	pthread_mutex_unlock(&pool_lock);
}

void hr_journal_put(const struct hr_ctl_event *e)
{
	if (e)
		jev_put((struct jev *)((char *)e - offsetof(struct jev, e)));
}

static size_t slen(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

/* s copied to *p (NULL stays NULL). */
static const char *scopy(char **p, const char *s)
{
	char *d = *p;
	size_t n = slen(s);

	if (!n)
		return NULL;
	memcpy(d, s, n);
	*p += n;
	return d;
}

/* One block: the event and every string it points to. */
static struct jev *jev_new(struct hr_journal *j,
	const struct hr_ctl_event *e)
{
	size_t n = slen(e->op) + slen(e->name) + slen(e->package);
	struct jev *je;
	char *p;

	for (unsigned i = 0; i < e->nf; i++)
		n += slen(e->f[i].name) + slen(e->f[i].str);
	pthread_mutex_lock(&pool_lock);
	je = hr_fpool_get(j->pool, sizeof(*je) + n);
	pthread_mutex_unlock(&pool_lock);
	if (je) {
		je->pooled = true;
	} else {
		je = malloc(sizeof(*je) + n);
		if (!je)
			return NULL;
		je->pooled = false;
	}
	atomic_init(&je->refs, 1);
	je->e = *e;
	p = je->strs;
	je->e.op = scopy(&p, e->op);
	je->e.name = scopy(&p, e->name);
	je->e.package = scopy(&p, e->package);
	for (unsigned i = 0; i < e->nf; i++) {
		je->e.f[i].name = scopy(&p, e->f[i].name);
		je->e.f[i].str = scopy(&p, e->f[i].str);
	}
	return je;
}

int hr_journal_alloc(struct hr_journal **jp, size_t cap, uint64_t base)
{
	struct hr_journal *j;
	int err;

	if (!jp || !cap)
		return EINVAL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return ENOMEM;
	j->ring = calloc(cap, sizeof(*j->ring));
	if (!j->ring || hr_fpool_alloc(&j->pool)) {
		free(j->ring);
		free(j);
		return ENOMEM;
	}
	j->cap = cap;
	j->base = j->last = base;
	pthread_mutex_init(&j->lock, NULL);
	err = hr_cond_init(&j->cond);
	if (err) {
		pthread_mutex_destroy(&j->lock);
		hr_mem_deref(j->pool);
		free(j->ring);
		free(j);
		return err;
	}
	*jp = j;
	return 0;
}

void hr_journal_free(struct hr_journal *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->cap; i++)
		jev_put(j->ring[i]);
	/* an event a reader still holds keeps its block (fpool.c) */
	pthread_mutex_lock(&pool_lock);
	hr_mem_deref(j->pool);
	pthread_mutex_unlock(&pool_lock);
	pthread_cond_destroy(&j->cond);
	pthread_mutex_destroy(&j->lock);
	free(j->ring);
	free(j);
}

static size_t slot(const struct hr_journal *j, uint64_t id)
{
	return (size_t)((id - j->base - 1) % j->cap);
}

int hr_journal_add(struct hr_journal *j, const struct hr_ctl_event *e)
{
	struct jev *je = jev_new(j, e), *old;

	pthread_mutex_lock(&j->lock);
	if (!je) {
		j->failed++;
		pthread_mutex_unlock(&j->lock);
		return ENOMEM;
	}
	je->e.id = ++j->last;
	old = j->ring[slot(j, je->e.id)];
	j->ring[slot(j, je->e.id)] = je;
	j->added++;
	/* the core signals only when someone sleeps: a reader that is
	 * busy looks at the newest id again before it sleeps */
	if (j->sleepers)
		pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
	jev_put(old);
	return 0;
}

/* The oldest id held. */
static uint64_t oldest(const struct hr_journal *j)
{
	uint64_t held = j->last - j->base;

	if (held > j->cap)
		held = j->cap;
	return j->last - held + 1;
}

int hr_journal_next(struct hr_journal *j, uint64_t after,
	const struct hr_ctl_event **ep)
{
	struct jev *je;
	int err = 0;

	pthread_mutex_lock(&j->lock);
	if (after == j->last) {
		err = ENOENT;
	} else if (after > j->last || after + 1 < oldest(j)) {
		err = ERANGE;
	} else {
		je = j->ring[slot(j, after + 1)];
		atomic_fetch_add(&je->refs, 1);
		*ep = &je->e;
	}
	pthread_mutex_unlock(&j->lock);
	return err;
}

uint64_t hr_journal_last(struct hr_journal *j)
{
	uint64_t last;

	pthread_mutex_lock(&j->lock);
	last = j->last;
	pthread_mutex_unlock(&j->lock);
	return last;
}

uint64_t hr_journal_wait(struct hr_journal *j, uint64_t after, unsigned ms)
{
	struct timespec ts;
	uint64_t last, kicks;
	int err = 0;

	hr_mono_deadline(&ts, ms);
	pthread_mutex_lock(&j->lock);
	kicks = j->kicks;
	j->sleepers++;
	while (j->last == after && j->kicks == kicks && err != ETIMEDOUT)
		err = pthread_cond_timedwait(&j->cond, &j->lock, &ts);
	j->sleepers--;
	last = j->last;
	pthread_mutex_unlock(&j->lock);
	return last;
}

void hr_journal_kick(struct hr_journal *j)
{
	pthread_mutex_lock(&j->lock);
	j->kicks++;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
}

void hr_journal_stats(struct hr_journal *j, struct hr_ctl_feed_stats *st)
{
	pthread_mutex_lock(&j->lock);
	st->events = j->added;
	st->failed = j->failed;
	st->held = (size_t)(j->last - oldest(j) + 1);
	st->cap = j->cap;
	st->last = j->last;
	pthread_mutex_unlock(&j->lock);
}
