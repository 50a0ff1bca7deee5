/* Refcounted allocations: a small header sits in front of the data. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "core_int.h"

enum mem_from {
	FROM_HEAP,              /* malloc */
	FROM_POOL,              /* an hr_fpool */
	FROM_SPARE,             /* a block of HR_MEM_SPARE bytes */
	FROM_SLAB,              /* slab_size says its class */
};

/* 16 bytes: malloc's 16-byte alignment carries over to the data; a
 * piece of the slab is only 8-aligned (slab.c), and so is this. */
struct mem {
	uint32_t nrefs;
	uint8_t from;           /* enum mem_from */
	uint16_t slab_size;     /* FROM_SLAB: what it took, header included */
	hr_mem_destroy_h *dh;
};

_Static_assert(sizeof(struct mem) == 16, "the data 16-aligned from malloc");

/*
 * Blocks freed by hr_mem_alloc_spare's objects, kept for the next one
 * (issue 20): a decoded message is about 3 kB, past glibc's tcache and
 * fastbins, so each malloc of one searched the unsorted and large bins
 * and first consolidated the fastbins the request's small frees had
 * filled (_int_malloc and malloc_consolidate were 14 % of a core at the
 * REGISTER maximum). At most spare_keep blocks wait here; the rest go
 * back to malloc. Locked: a message may be freed on another thread.
 */
#ifdef HR_ASAN
static const unsigned spare_keep;       /* ASan sees every use after free */
#else
static const unsigned spare_keep = 256;
#endif

struct spare {
	struct spare *next;
};

static struct {
	pthread_mutex_t lock;
	struct spare *head;
	unsigned n;
	unsigned low;           /* the fewest waiting since hr_mem_trim */
} spares = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Counted atomically: the store thread allocates through hr_mem too. */
static atomic_size_t live;

static struct mem *mem_of(const void *data)
{
	return (struct mem *)((char *)data - sizeof(struct mem));
}

/* The header of a new allocation from where it came; its data. */
static void *born(struct mem *m, enum mem_from from, hr_mem_destroy_h *dh)
{
	m->nrefs = 1;
	m->from = (uint8_t)from;
	m->dh = dh;
	atomic_fetch_add(&live, 1);
	return m + 1;
}

void *hr_mem_alloc(size_t size, hr_mem_destroy_h *dh)
{
	struct mem *m;

	if (size > SIZE_MAX - sizeof(*m))
		return NULL;
	m = malloc(sizeof(*m) + size);
	if (!m)
		return NULL;
	return born(m, FROM_HEAP, dh);
}

static void *spare_get(void)
{
	struct spare *sp;

	pthread_mutex_lock(&spares.lock);
	sp = spares.head;
	if (sp) {
		spares.head = sp->next;
		spares.n--;
		if (spares.n < spares.low)
			spares.low = spares.n;
	}
	pthread_mutex_unlock(&spares.lock);
	return sp ? (void *)sp : malloc(HR_MEM_SPARE);
}

static void spare_put(void *p)
{
	struct spare *sp = p;

	pthread_mutex_lock(&spares.lock);
	if (spares.n < spare_keep) {
		sp->next = spares.head;
		spares.head = sp;
		spares.n++;
		sp = NULL;
	}
	pthread_mutex_unlock(&spares.lock);
	free(sp);
}

/*
 * The spare blocks none took since the last call go back to malloc
 * (issue 20): after a burst, up to spare_keep of them (1 MiB) stayed for
 * good; a steady load keeps those it takes.
 */
void hr_mem_trim(void)
{
	struct spare *idle = NULL, *sp;

	pthread_mutex_lock(&spares.lock);
	for (; spares.low; spares.low--) {
		sp = spares.head;
		spares.head = sp->next;
		spares.n--;
		sp->next = idle;
		idle = sp;
	}
	spares.low = spares.n;
	pthread_mutex_unlock(&spares.lock);
	while ((sp = idle)) {
		idle = sp->next;
		free(sp);
	}
}

size_t hr_mem_spares(void)
{
	size_t n;

	pthread_mutex_lock(&spares.lock);
	n = spares.n;
	pthread_mutex_unlock(&spares.lock);
	return n;
}

void *hr_mem_alloc_spare(size_t size, hr_mem_destroy_h *dh)
{
	struct mem *m;

	if (size > HR_MEM_SPARE - sizeof(*m))
		return hr_mem_alloc(size, dh);
	m = spare_get();
	if (!m)
		return NULL;
	return born(m, FROM_SPARE, dh);
}

void *hr_mem_zalloc(size_t size, hr_mem_destroy_h *dh)
{
	void *p = hr_mem_alloc(size, dh);

	if (p)
		memset(p, 0, size);
	return p;
}

void *hr_mem_zalloc_in(struct hr_fpool *pool, size_t size,
	hr_mem_destroy_h *dh)
{
	struct mem *m;

	if (size > SIZE_MAX - sizeof(*m))
		return NULL;
	m = hr_fpool_get(pool, sizeof(*m) + size);
	if (!m)
		return hr_mem_zalloc(size, dh);
	memset(m + 1, 0, size);
	return born(m, FROM_POOL, dh);
}

void *hr_mem_zalloc_long(size_t size, hr_mem_destroy_h *dh)
{
	struct mem *m;

	if (size > HR_SLAB_MAX - sizeof(*m))
		return hr_mem_zalloc(size, dh);
	m = hr_slab_get(sizeof(*m) + size);
	if (!m)
		return hr_mem_zalloc(size, dh);
	memset(m + 1, 0, size);
	m->slab_size = (uint16_t)(sizeof(*m) + size);
	return born(m, FROM_SLAB, dh);
}

void *hr_mem_ref(void *data)
{
	if (data)
		++mem_of(data)->nrefs;
	return data;
}

void *hr_mem_deref(void *data)
{
	struct mem *m;

	if (!data)
		return NULL;
	m = mem_of(data);
	if (--m->nrefs > 0)
		return NULL;
	if (m->dh)
		m->dh(data);
	/* A destructor may not resurrect the object. */
	if (m->from == FROM_POOL)
		hr_fpool_put(m);
	else if (m->from == FROM_SPARE)
		spare_put(m);
	else if (m->from == FROM_SLAB)
		hr_slab_put(m, m->slab_size);
	else
		free(m);
	atomic_fetch_sub(&live, 1);
	return NULL;
}

uint32_t hr_mem_nrefs(const void *data)
{
	return data ? mem_of(data)->nrefs : 0;
}

size_t hr_mem_live(void)
{
	return atomic_load(&live);
}
