/*
 * Fuzz the PIDF parser (what PUBLISH bodies go through) and composition:
 * a document is accepted or refused with a reason, never crashes or
 * leaks, and an accepted one composes into a document that parses again
 * with the same entity.
 */
#include <errno.h>
#include <string.h>
#include "fuzz.h"
#include "xml/xml.h"

void fuzz_one(const uint8_t *data, size_t size)
{
	struct hr_pidf *doc = NULL, *again = NULL;
	const char *why = NULL;
	struct hr_buf out;
	int err;

	err = hr_pidf_parse(&doc, (const char *)data, size, &why);
	FUZZ_CHECK(err == 0 || err == EBADMSG || err == ENOMEM);
	if (err == EBADMSG)
		FUZZ_CHECK(why && !strncmp(why, "Bad PIDF", 8));
	if (err)
		return;
	hr_buf_init(&out, 1 << 22);
	err = hr_pidf_compose(&out, "sip:alice@example.test", &doc, 1);
	/* publishers' odd ids or texts may not be writable; never a crash */
	FUZZ_CHECK(err == 0 || err == EINVAL || err == EMSGSIZE);
	if (!err) {
		FUZZ_CHECK(!hr_pidf_parse(&again, out.b, out.len, &why));
		FUZZ_CHECK(!strcmp(hr_pidf_entity(again),
			"sip:alice@example.test"));
		hr_mem_deref(again);
	}
	hr_buf_reset(&out);
	hr_mem_deref(doc);
}
