/*
 * Fuzz the Via parser: slices stay inside the input and the decoded
 * fields agree with each other.
 */
#include <string.h>
#include "fuzz.h"

void fuzz_one(const uint8_t *data, size_t size)
{
	struct hr_pl pl = { (const char *)data, size };
	struct hr_via via;
	struct hr_pl v;

	memset(&via, 0, sizeof(via));
	if (hr_via_decode(&via, &pl))
		return;
	fuzz_via_in(&via, pl.p, pl.len);
	FUZZ_CHECK(via.proto.len > 0);
	FUZZ_CHECK(via.host.len > 0);
	FUZZ_CHECK(via.ttl >= -1 && via.ttl <= 255);
	if (!via.rport)
		FUZZ_CHECK(via.rport_val == 0);
	if (hr_pl_isset(&via.branch))
		FUZZ_CHECK(hr_param_get(&via.params, "branch", &v) == 0);
	hr_via_rfc3261(&via);
}
