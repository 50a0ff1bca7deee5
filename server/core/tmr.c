/*
 * Timers on one clock. A binary min-heap ordered by due time; the loop keeps
 * one libevent timer armed for the earliest entry. Timers are ours rather
 * than libevent's so that tests can move hr_now_ms() forward and fire every
 * timer that became due (sofia-sip style fast-forward). Core thread only.
 */
#include <stdlib.h>
#include "core.h"
#include "core_int.h"

/*
 * Four children a node, and each entry carries its timer's due time
 * (issue 20): with 100,000 timers (a NOTIFY fan-out's Timer K) a binary
 * heap of pointers took 17 levels to sift, each a cache miss on the timer
 * it compared; heap_remove and sift_up were 10 % of a core. Now a level
 * compares keys in the array and only touches the timer it moves.
 */
#define ARITY 4

struct ent {
	uint64_t due;
	struct hr_tmr *t;
};

static struct ent *heap;
static size_t heap_n, heap_size;

static void place(size_t i, struct ent e)
{
	heap[i] = e;
	e.t->idx = i + 1;
}

static void sift_up(size_t i)
{
	struct ent e = heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / ARITY;

		if (e.due >= heap[parent].due)
			break;
		place(i, heap[parent]);
		i = parent;
	}
	place(i, e);
}

/* the earliest child of i, or i when none is before e */
static size_t least_child(size_t i, uint64_t due)
{
	size_t first = ARITY * i + 1, last = first + ARITY, m = i;

	if (last > heap_n)
		last = heap_n;
	for (size_t c = first; c < last; c++) {
		if (heap[c].due < due) {
			m = c;
			due = heap[c].due;
		}
	}
	return m;
}

static void sift_down(size_t i)
{
	struct ent e = heap[i];

	for (;;) {
		size_t m = least_child(i, e.due);

		if (m == i)
			break;
		place(i, heap[m]);
		i = m;
	}
	place(i, e);
}

static void heap_remove(size_t i)
{
	struct ent last = heap[--heap_n];

	if (i == heap_n)
		return;
	place(i, last);
	if (i > 0 && last.due < heap[(i - 1) / ARITY].due)
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
		struct ent *nh = realloc(heap, size * sizeof(*nh));

		if (!nh)
			abort(); /* no way to report it; a timer must not vanish */
		heap = nh;
		heap_size = size;
	}
	tmr->due = hr_now_ms() + delay_ms;
	tmr->h = h;
	tmr->arg = arg;
	place(heap_n++, (struct ent){ tmr->due, tmr });
	sift_up(heap_n - 1);
	if (heap[0].t == tmr)
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

	while (heap_n && heap[0].due <= now) {
		struct hr_tmr *t = heap[0].t;

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
	*due = heap[0].due;
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
