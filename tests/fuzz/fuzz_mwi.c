/*
 * Fuzz the message-summary body parser (RFC 3842 5.2, what PUBLISH and
 * NOTIFY bodies of Event: message-summary go through): a body is taken or
 * refused with a "Bad message-summary" reason, never crashes; a taken one
 * prints, and the print parses again into the same summary and prints the
 * same bytes. Summing it with itself never wraps a count.
 */
#include <errno.h>
#include <string.h>
#include "fuzz.h"
#include "packages/summary.h"

static void sum_check(const struct hr_mwi *m)
{
	struct hr_mwi sum = *m;

	hr_mwi_add(&sum, m);
	FUZZ_CHECK(sum.waiting == m->waiting);
	FUZZ_CHECK(!strcmp(sum.account, m->account));
	for (int c = 0; c < HR_MWI_NCLASSES; c++) {
		FUZZ_CHECK(sum.cls[c].present == m->cls[c].present);
		FUZZ_CHECK(sum.cls[c].new_msgs >= m->cls[c].new_msgs);
		FUZZ_CHECK(sum.cls[c].old_urgent >= m->cls[c].old_urgent);
	}
}

void fuzz_one(const uint8_t *data, size_t size)
{
	struct hr_mwi m, again;
	const char *why = NULL;
	struct hr_buf pr, pr2;
	char reason[128];
	int err;

	err = hr_mwi_parse(&m, (const char *)data, size, &why);
	FUZZ_CHECK(err == 0 || err == EBADMSG);
	if (err) {
		FUZZ_CHECK(why && !strncmp(why, "Bad message-summary: ", 21));
		return;
	}
	FUZZ_CHECK(!why);
	FUZZ_CHECK(strlen(m.account) < sizeof(m.account));
	hr_buf_init(&pr, FUZZ_PRINT_CAP);
	hr_buf_init(&pr2, FUZZ_PRINT_CAP);
	FUZZ_CHECK(!hr_mwi_print(&pr, &m));
	if (hr_mwi_parse(&again, pr.b, pr.len, &why)) {
		snprintf(reason, sizeof(reason), " (%s)", why ? why : "EINVAL");
		fuzz_undecodable(&pr, reason);
	}
	FUZZ_CHECK(hr_mwi_equal(&again, &m));
	FUZZ_CHECK(!hr_mwi_print(&pr2, &again));
	fuzz_same_print(&pr, &pr2);
	sum_check(&m);
	hr_buf_reset(&pr);
	hr_buf_reset(&pr2);
}
