/*
 * A pool for memory freed in about the order it was taken (issue 20): a
 * completed UDP transaction's match key and response, kept for Timer J
 * (32 s) and then freed. Taken from malloc's heap, a burst of them is
 * freed into holes among what outlived them (nonces, bindings, the
 * journal's events): glibc keeps those pages, and RSS stays at the
 * burst's peak. Here pieces are cut one after the other from blocks
 * mapped on their own (HR_FPOOL_BLOCK), and a block is unmapped when the
 * last piece cut from it is put back: memory goes back to the system as
 * the transactions expire. One thread only (the SIP thread's).
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include "core.h"

#define ALIGN 16

struct block {
	size_t used;            /* bytes cut, header included */
	size_t live;            /* pieces not put back */
	bool cur;               /* the pool still cuts from it */
} __attribute__((aligned(ALIGN)));

/* in front of each piece: its block */
struct piece {
	struct block *b;
} __attribute__((aligned(ALIGN)));

struct hr_fpool {
	struct block *cur;
};

static void unmap(struct block *b)
{
	munmap(b, HR_FPOOL_BLOCK);
}

static void pool_destroy(void *data)
{
	struct hr_fpool *p = data;

	if (!p->cur)
		return;
	p->cur->cur = false;
	/* the last piece put back unmaps it */
	if (!p->cur->live)
		unmap(p->cur);
}

int hr_fpool_alloc(struct hr_fpool **pp)
{
	struct hr_fpool *p = hr_mem_zalloc(sizeof(*p), pool_destroy);

	if (!p)
		return ENOMEM;
	*pp = p;
	return 0;
}

void *hr_fpool_get(struct hr_fpool *p, size_t size)
{
	size_t need = sizeof(struct piece) + ((size + ALIGN - 1) & ~(size_t)
		(ALIGN - 1));
	struct block *b = p->cur;
	struct piece *pc;

	if (size > HR_FPOOL_MAX)
		return NULL;
	if (!b || b->used + need > HR_FPOOL_BLOCK) {
		void *m = mmap(NULL, HR_FPOOL_BLOCK, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (m == MAP_FAILED)
			return NULL;
		if (b) {
			b->cur = false;
			if (!b->live)
				unmap(b);
		}
		b = m;
		b->used = sizeof(*b);
		b->live = 0;
		b->cur = true;
		p->cur = b;
	}
	pc = (struct piece *)((char *)b + b->used);
	pc->b = b;
	b->used += need;
	b->live++;
	return pc + 1;
}

void hr_fpool_trim(struct hr_fpool *p)
{
	/* an empty block is cut from its start again, its pages kept for
	 * the traffic: once that is gone, so are they */
	if (!p || !p->cur || p->cur->live)
		return;
	unmap(p->cur);
	p->cur = NULL;
}

void hr_fpool_put(void *ptr)
{
	struct block *b;

	if (!ptr)
		return;
	b = ((struct piece *)ptr - 1)->b;
	if (--b->live)
		return;
	if (b->cur) {
		/* empty: cut from its start again */
		b->used = sizeof(*b);
		return;
	}
	unmap(b);
}
