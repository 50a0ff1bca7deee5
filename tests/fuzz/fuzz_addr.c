/*
 * Fuzz the name-addr / addr-spec parser (From, To, Contact, Route):
 * slices stay inside the input, and a decoded address prints, decodes
 * again and prints back to the same bytes.
 */
#include <string.h>
#include "fuzz.h"

void fuzz_one(const uint8_t *data, size_t size)
{
	struct hr_pl pl = { (const char *)data, size };
	struct hr_addr a, a2;
	struct hr_buf pr, pr2;
	struct hr_pl v;

	memset(&a, 0, sizeof(a));
	if (hr_addr_decode(&a, &pl))
		return;
	fuzz_addr_in(&a, pl.p, pl.len);
	if (hr_pl_isset(&a.tag))
		FUZZ_CHECK(hr_param_get(&a.params, "tag", &v) == 0);
	hr_param_get(&a.params, "expires", &v);
	hr_param_exists(&a.params, "q");

	hr_buf_init(&pr, FUZZ_PRINT_CAP);
	hr_buf_init(&pr2, FUZZ_PRINT_CAP);
	FUZZ_CHECK(hr_addr_print(&pr, &a) == 0);
	pl.p = pr.b;
	pl.len = pr.len;
	memset(&a2, 0, sizeof(a2));
	if (hr_addr_decode(&a2, &pl))
		fuzz_undecodable(&pr, "");
	fuzz_addr_in(&a2, pl.p, pl.len);
	FUZZ_CHECK(a2.star == a.star);
	FUZZ_CHECK(a2.uri.scheme == a.uri.scheme);
	FUZZ_CHECK(a2.tag.len == a.tag.len);
	FUZZ_CHECK(hr_addr_print(&pr2, &a2) == 0);
	fuzz_same_print(&pr, &pr2);
	hr_buf_reset(&pr2);
	hr_buf_reset(&pr);
}
