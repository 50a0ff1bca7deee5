/*
 * Fuzz the Digest parser (Authorization, WWW-Authenticate and the Proxy-
 * forms): every field is a slice of the input.
 */
#include <string.h>
#include "fuzz.h"

void fuzz_one(const uint8_t *data, size_t size)
{
	struct hr_pl pl = { (const char *)data, size };
	struct hr_digest d;

	memset(&d, 0, sizeof(d));
	if (hr_digest_decode(&d, &pl))
		return;
	FUZZ_PL_IN(d.scheme, pl.p, pl.len);
	FUZZ_CHECK(d.scheme.len > 0);
	FUZZ_PL_IN(d.username, pl.p, pl.len);
	FUZZ_PL_IN(d.realm, pl.p, pl.len);
	FUZZ_PL_IN(d.nonce, pl.p, pl.len);
	FUZZ_PL_IN(d.uri, pl.p, pl.len);
	FUZZ_PL_IN(d.response, pl.p, pl.len);
	FUZZ_PL_IN(d.algorithm, pl.p, pl.len);
	FUZZ_PL_IN(d.cnonce, pl.p, pl.len);
	FUZZ_PL_IN(d.opaque, pl.p, pl.len);
	FUZZ_PL_IN(d.qop, pl.p, pl.len);
	FUZZ_PL_IN(d.nc, pl.p, pl.len);
	FUZZ_PL_IN(d.stale, pl.p, pl.len);
	FUZZ_PL_IN(d.domain, pl.p, pl.len);
	FUZZ_PL_IN(d.userhash, pl.p, pl.len);
}
