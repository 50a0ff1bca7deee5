/*
 * Shared by the fuzz targets: the entry point (fuzz_main.c) and invariant
 * checks. A broken invariant aborts, which libFuzzer reports as a crash
 * and corpus_main (the gcc build) as a failed test.
 */
#ifndef HR_FUZZ_H
#define HR_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "sip/sip.h"

/** The libFuzzer entry point, in fuzz_main.c for every target: it runs
 * fuzz_one() and checks that nothing is left allocated. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/** One input through the target's parser and invariants; each target
 * defines it. */
void fuzz_one(const uint8_t *data, size_t size);

/** A print that does not decode again: report it (why: "" or what the
 * decoder said) and abort. */
_Noreturn void fuzz_undecodable(const struct hr_buf *pr, const char *why);

/** Abort unless the second print has the bytes of the first. */
void fuzz_same_print(const struct hr_buf *pr, const struct hr_buf *pr2);

#define FUZZ_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: invariant broken: %s\n", \
			__FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

/* Big enough for any canonical print of a message under 64 KB. */
#define FUZZ_PRINT_CAP (4 * 1024 * 1024)

/* A slice is unset, or lies inside [base, base + len]. */
static inline bool fuzz_pl_in(const struct hr_pl *pl, const char *base,
	size_t len)
{
	if (!pl->p)
		return pl->len == 0;
	return pl->p >= base && pl->len <= len &&
		(size_t)(pl->p - base) <= len - pl->len;
}

#define FUZZ_PL_IN(pl, base, len) do { \
	if (!fuzz_pl_in(&(pl), (base), (len))) { \
		fprintf(stderr, "%s:%d: slice %s outside its buffer\n", \
			__FILE__, __LINE__, #pl); \
		abort(); \
	} \
} while (0)

static inline void fuzz_uri_in(const struct hr_uri *u, const char *base,
	size_t len)
{
	FUZZ_PL_IN(u->scheme_pl, base, len);
	FUZZ_PL_IN(u->user, base, len);
	FUZZ_PL_IN(u->password, base, len);
	FUZZ_PL_IN(u->host, base, len);
	FUZZ_PL_IN(u->params, base, len);
	FUZZ_PL_IN(u->headers, base, len);
	FUZZ_PL_IN(u->raw, base, len);
}

static inline void fuzz_addr_in(const struct hr_addr *a, const char *base,
	size_t len)
{
	FUZZ_PL_IN(a->dname, base, len);
	fuzz_uri_in(&a->uri, base, len);
	FUZZ_PL_IN(a->params, base, len);
	FUZZ_PL_IN(a->tag, base, len);
	FUZZ_PL_IN(a->raw, base, len);
}

static inline void fuzz_via_in(const struct hr_via *v, const char *base,
	size_t len)
{
	FUZZ_PL_IN(v->proto, base, len);
	FUZZ_PL_IN(v->host, base, len);
	FUZZ_PL_IN(v->params, base, len);
	FUZZ_PL_IN(v->branch, base, len);
	FUZZ_PL_IN(v->received, base, len);
	FUZZ_PL_IN(v->maddr, base, len);
	FUZZ_PL_IN(v->raw, base, len);
}

#endif
