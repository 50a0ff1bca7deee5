/* Log-linear latency histogram: fixed size, O(1) insert. */
#include "bench.h"

static unsigned hist_idx(uint64_t v)
{
	unsigned shift;

	if (v < 128)
		return (unsigned)v;
	shift = 63 - (unsigned)__builtin_clzll(v) - 6;
	/* v >> shift is in [64, 128): group `shift` starts at 64 * shift */
	return shift * 64 + (unsigned)(v >> shift);
}

/* The middle of the bucket at idx. */
static uint64_t hist_val(unsigned idx)
{
	unsigned shift;
	uint64_t lo;

	if (idx < 128)
		return idx;
	shift = idx / 64 - 1;
	lo = (uint64_t)(idx - shift * 64) << shift;
	return lo + (((uint64_t)1 << shift) >> 1);
}

void bench_hist_add(struct bench_hist *h, uint64_t v)
{
	h->count[hist_idx(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

uint64_t bench_hist_pct(const struct bench_hist *h, double p)
{
	uint64_t rank, seen = 0;
	unsigned i;

	if (h->n == 0)
		return 0;
	rank = (uint64_t)(p / 100.0 * (double)h->n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > h->n)
		rank = h->n;
	for (i = 0; i < BENCH_HIST_N; i++) {
		seen += h->count[i];
		if (seen >= rank)
			break;
	}
	if (i == BENCH_HIST_N)
		return h->max;
	/* The top bucket's middle may lie above anything we saw. */
	return hist_val(i) < h->max ? hist_val(i) : h->max;
}
