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

/*
 * An event as the ring and its readers share it, packed (issue 20: as a
 * struct hr_ctl_event with room for every field, and its strings, each
 * of the 10,000 held took 437 bytes for a subscription's change; 212
 * now): the op, the name and the package (those not NULL), then each
 * field's name and its string or its number (8 bytes, unaligned), one
 * after the other. A reader's hr_ctl_event points into it (jev_read).
 */
enum {
	JEV_POOLED = 1,              /* from the pool, else malloc */
	JEV_OP = 2,                  /* these are not NULL */
	JEV_NAME = 4,
	JEV_PACKAGE = 8,
};

struct jev {
	uint64_t id;
	atomic_uint refs;
	uint8_t flags;               /* JEV_* */
	uint8_t kind;                /* enum hr_ctl_kind */
	uint8_t nf;
	uint8_t nums;                /* bit i: field i is a number */
	char data[];
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
	if (!(je->flags & JEV_POOLED)) {
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
		jev_put(e->held);
}

static size_t slen(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

/* s (not NULL) to *p. */
static void spack(char **p, const char *s)
{
	size_t n = strlen(s) + 1;

	memcpy(*p, s, n);
	*p += n;
}

/* The string at *p, which moves past it. */
static const char *sread(const char **p)
{
	const char *s = *p;

	*p += strlen(s) + 1;
	return s;
}

static size_t packed_size(const struct hr_ctl_event *e)
{
	size_t n = slen(e->op) + slen(e->name) + slen(e->package);

	for (unsigned i = 0; i < e->nf; i++) {
		n += slen(e->f[i].name ? e->f[i].name : "");
		n += e->f[i].str ? slen(e->f[i].str) : sizeof(int64_t);
	}
	return n;
}

static void pack(struct jev *je, const struct hr_ctl_event *e)
{
	char *p = je->data;

	je->kind = (uint8_t)e->kind;
	je->nf = (uint8_t)e->nf;
	je->nums = 0;
	if (e->op) {
		je->flags |= JEV_OP;
		spack(&p, e->op);
	}
	if (e->name) {
		je->flags |= JEV_NAME;
		spack(&p, e->name);
	}
	if (e->package) {
		je->flags |= JEV_PACKAGE;
		spack(&p, e->package);
	}
	for (unsigned i = 0; i < e->nf; i++) {
		spack(&p, e->f[i].name ? e->f[i].name : "");
		if (e->f[i].str) {
			spack(&p, e->f[i].str);
		} else {
			je->nums |= (uint8_t)(1u << i);
			memcpy(p, &e->f[i].num, sizeof(int64_t));
			p += sizeof(int64_t);
		}
	}
}

/* The reader's view of je (a reference it holds). */
static void jev_read(struct jev *je, struct hr_ctl_event *e)
{
	const char *p = je->data;

	memset(e, 0, sizeof(*e));
	e->held = je;
	e->id = je->id;
	e->kind = (enum hr_ctl_kind)je->kind;
	e->nf = je->nf;
	if (je->flags & JEV_OP)
		e->op = sread(&p);
	if (je->flags & JEV_NAME)
		e->name = sread(&p);
	if (je->flags & JEV_PACKAGE)
		e->package = sread(&p);
	for (unsigned i = 0; i < je->nf; i++) {
		e->f[i].name = sread(&p);
		if (je->nums & (1u << i)) {
			memcpy(&e->f[i].num, p, sizeof(int64_t));
			p += sizeof(int64_t);
		} else {
			e->f[i].str = sread(&p);
		}
	}
}

/* One block: the event packed. */
static struct jev *jev_new(struct hr_journal *j,
	const struct hr_ctl_event *e)
{
	size_t n = sizeof(struct jev) + packed_size(e);
	struct jev *je;

	if (e->nf > HR_CTL_FIELDS_MAX)
		return NULL;
	pthread_mutex_lock(&pool_lock);
	je = hr_fpool_get(j->pool, n);
	pthread_mutex_unlock(&pool_lock);
	if (je) {
		je->flags = JEV_POOLED;
	} else {
		je = malloc(n);
		if (!je)
			return NULL;
		je->flags = 0;
	}
	atomic_init(&je->refs, 1);
	pack(je, e);
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
	je->id = ++j->last;
	old = j->ring[slot(j, je->id)];
	j->ring[slot(j, je->id)] = je;
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
	struct hr_ctl_event *e)
{
	struct jev *je = NULL;
	int err = 0;

	pthread_mutex_lock(&j->lock);
	if (after == j->last) {
		err = ENOENT;
	} else if (after > j->last || after + 1 < oldest(j)) {
		err = ERANGE;
	} else {
		je = j->ring[slot(j, after + 1)];
		atomic_fetch_add(&je->refs, 1);
	}
	pthread_mutex_unlock(&j->lock);
	if (je)
		jev_read(je, e);
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
