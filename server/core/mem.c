/* Refcounted allocations: a small header sits in front of the data. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "core.h"

struct mem {
	uint32_t nrefs;
	bool pooled;            /* from an hr_fpool, not malloc */
	hr_mem_destroy_h *dh;
} __attribute__((aligned(16)));

/* Counted atomically: the store thread allocates through hr_mem too. */
static atomic_size_t live;

static struct mem *mem_of(const void *data)
{
	return (struct mem *)((char *)data - sizeof(struct mem));
}

void *hr_mem_alloc(size_t size, hr_mem_destroy_h *dh)
{
	struct mem *m;

	if (size > SIZE_MAX - sizeof(*m))
		return NULL;
	m = malloc(sizeof(*m) + size);
	if (!m)
		return NULL;
	m->nrefs = 1;
	m->pooled = false;
	m->dh = dh;
	atomic_fetch_add(&live, 1);
	return m + 1;
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
	m->nrefs = 1;
	m->pooled = true;
	m->dh = dh;
	atomic_fetch_add(&live, 1);
	return m + 1;
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
	if (m->pooled)
		hr_fpool_put(m);
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
