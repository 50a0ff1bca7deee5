/*
 * A heap of its own for what lives long (issue 20): subscriptions,
 * dialogs, bindings, nonce records. In malloc's heap they were scattered
 * among the requests, responses and transactions of the traffic that made
 * them, so once those were freed their pages stayed, each held by a few
 * long-lived bytes: a live subscription cost 1.8 kB of RSS over UDP, of
 * which 0.6 kB were holes. Here pieces are cut one after the other from
 * blocks mapped on their own, in classes of HR_SLAB_ALIGN bytes; a piece
 * put back waits on its class's free list for the next of its size.
 * Blocks are kept: the population they held is likely to come back.
 * One thread only (the SIP thread's). Under AddressSanitizer everything
 * comes from malloc, so that overflows and leaks are still caught.
 */
#include <stdint.h>
#include <sys/mman.h>
#include "core_int.h"

#define NCLASS (HR_SLAB_MAX / HR_SLAB_ALIGN)

#ifdef HR_ASAN
#define SLAB_ON false
#else
#define SLAB_ON true
#endif

/* A piece on its free list: its first bytes link it. */
struct freep {
	struct freep *next;
};

static struct {
	char *cur;              /* the block being cut, */
	size_t left;            /* ...and what it has left */
	struct freep *free[NCLASS];
	size_t mapped;          /* bytes mapped, for the tests */
} slab;

static size_t cls(size_t size)
{
	return (size + HR_SLAB_ALIGN - 1) / HR_SLAB_ALIGN - 1;
}

static bool cut_block(void)
{
	void *m = mmap(NULL, HR_SLAB_BLOCK, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		return false;
	/* the old block's tail is too small for this piece: left unused */
	slab.cur = m;
	slab.left = HR_SLAB_BLOCK;
	slab.mapped += HR_SLAB_BLOCK;
	return true;
}

void *hr_slab_get(size_t size)
{
	size_t c, need;
	void *p;

	if (!SLAB_ON || !size || size > HR_SLAB_MAX)
		return NULL;
	c = cls(size);
	if (slab.free[c]) {
		p = slab.free[c];
		slab.free[c] = slab.free[c]->next;
		return p;
	}
	need = (c + 1) * HR_SLAB_ALIGN;
	if (slab.left < need && !cut_block())
		return NULL;
	p = slab.cur;
	slab.cur += need;
	slab.left -= need;
	return p;
}

void hr_slab_put(void *p, size_t size)
{
	struct freep *f = p;
	size_t c;

	if (!p)
		return;
	c = cls(size);
	f->next = slab.free[c];
	slab.free[c] = f;
}

size_t hr_slab_mapped(void)
{
	return slab.mapped;
}
