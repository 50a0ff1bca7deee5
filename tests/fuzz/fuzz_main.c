/*
 * The entry point every fuzz target shares (libFuzzer calls it, and so
 * does corpus_main in gcc builds): one input through the target's
 * fuzz_one(), then nothing it allocated may be left. And the reports of
 * the round trips (decode, print, decode, print) that the targets make.
 */
#include <string.h>
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t live = hr_mem_live();

	fuzz_one(data, size);
	FUZZ_CHECK(hr_mem_live() == live);
	return 0;
}

_Noreturn void fuzz_undecodable(const struct hr_buf *pr, const char *why)
{
	fprintf(stderr, "print does not decode%s:\n%.*s\n", why, (int)pr->len,
		pr->b);
	abort();
}

void fuzz_same_print(const struct hr_buf *pr, const struct hr_buf *pr2)
{
	if (pr2->len == pr->len && !memcmp(pr2->b, pr->b, pr->len))
		return;
	fprintf(stderr, "prints differ:\n%.*s\n----\n%.*s\n", (int)pr->len,
		pr->b, (int)pr2->len, pr2->b);
	abort();
}
