/*
 * Timers on one clock. A binary min-heap ordered by due time; the loop keeps
 * one libevent timer armed for the earliest entry. Timers are ours rather
 * than libevent's so that tests can move hr_now_ms() forward and fire every
 * timer that became due (sofia-sip style fast-forward). Core thread only.
 */
#include <stdlib.h>
#include "core.h"
#include "core_int.h"

static struct hr_tmr **heap;
static size_t heap_n, heap_size;

static bool before(const struct hr_tmr *a, const struct hr_tmr *b)
{
	return a->due < b->due;
}

static void place(size_t i, struct hr_tmr *t)
{
	heap[i] = t;
	t->idx = i + 1;
}

static void sift_up(size_t i)
{
	struct hr_tmr *t = heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!before(t, heap[parent]))
			break;
		place(i, heap[parent]);
		i = parent;
	}
	place(i, t);
}

static void sift_down(size_t i)
{
	struct hr_tmr *t = heap[i];

	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		const struct hr_tmr *best = t;

		if (l < heap_n && before(heap[l], best)) {
			m = l;
			best = heap[l];
		}
		if (r < heap_n && before(heap[r], best))
			m = r;
		if (m == i)
			break;
		place(i, heap[m]);
		i = m;
	}
	place(i, t);
}

static void heap_remove(size_t i)
{
	struct hr_tmr *last = heap[--heap_n];

	if (i == heap_n)
		return;
	place(i, last);
	if (i > 0 && before(last, heap[(i - 1) / 2]))
		sift_up(i);
	else
		sift_down(i);
}

void hr_tmr_cancel(struct hr_tmr *tmr)
{
	if (!tmr || !tmr->idx)
		return;
	heap_remove(tmr->idx - 1);
	tmr->idx = 0;
}

void hr_tmr_start(struct hr_tmr *tmr, uint64_t delay_ms, hr_tmr_h *h,
	void *arg)
{
	hr_tmr_cancel(tmr);
	if (heap_n == heap_size) {
		size_t size = heap_size ? heap_size * 2 : 1024;
		struct hr_tmr **nh = realloc(heap, size * sizeof(*nh));

		if (!nh)
			abort(); /* no way to report it; a timer must not vanish */
		heap = nh;
		heap_size = size;
	}
	tmr->due = hr_now_ms() + delay_ms;
	tmr->h = h;
	tmr->arg = arg;
	place(heap_n++, tmr);
	sift_up(heap_n - 1);
	if (heap[0] == tmr)
		hr_loop_tmr_changed(tmr->due);
}

uint64_t hr_tmr_left(const struct hr_tmr *tmr)
{
	uint64_t now = hr_now_ms();

	if (!tmr->idx || tmr->due <= now)
		return 0;
	return tmr->due - now;
}

unsigned hr_tmr_poll(void)
{
	uint64_t now = hr_now_ms();
	unsigned n = 0;

	while (heap_n && heap[0]->due <= now) {
		struct hr_tmr *t = heap[0];

		heap_remove(0);
		t->idx = 0;
		/* The handler may start, cancel or free any timer. */
		t->h(t->arg);
		n++;
	}
	return n;
}

bool hr_tmr_next(uint64_t *due)
{
	if (!heap_n)
		return false;
	*due = heap[0]->due;
	return true;
}

size_t hr_tmr_count(void)
{
	return heap_n;
}

void hr_tmr_close(void)
{
	free(heap);
	heap = NULL;
	heap_n = heap_size = 0;
}
