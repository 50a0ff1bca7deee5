/*
 * Fuzz the dialog-info parser (what dialog PUBLISH bodies go through)
 * and composition: a document is accepted or refused with a reason,
 * never crashes or leaks; an accepted one composes, with and without
 * the remote parties, into a document that parses again with the same
 * dialogs in the same states, and the private one has no <remote> or
 * <referred-by> left.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>
#include "fuzz.h"
#include "xml/xml.h"

#define ENTITY "sip:alice@example.test"
#define DINFO_NS "urn:ietf:params:xml:ns:dialog-info"

/* again holds d's dialogs, in order, in the same states. */
static void same_dialogs(const struct hr_dinfo *again,
	const struct hr_dinfo *d, bool full)
{
	unsigned n = hr_dinfo_ndialogs(d);

	FUZZ_CHECK(!strcmp(hr_dinfo_entity(again), ENTITY));
	FUZZ_CHECK(hr_dinfo_full(again) == full);
	FUZZ_CHECK(hr_dinfo_ndialogs(again) == n);
	for (unsigned i = 0; i < n; i++) {
		FUZZ_CHECK(!strcmp(hr_dinfo_id(again, i), hr_dinfo_id(d, i)));
		FUZZ_CHECK(hr_dinfo_state(again, i) == hr_dinfo_state(d, i));
		FUZZ_CHECK(hr_dlg_state_name(hr_dinfo_state(d, i)) != NULL);
	}
}

/* Whether the tree at n holds a <remote> or <referred-by> of
 * dialog-info's namespace. */
static bool remote_in(const xmlNode *n)
{
	for (; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (n->ns && xmlStrEqual(n->ns->href, BAD_CAST DINFO_NS) &&
		    (xmlStrEqual(n->name, BAD_CAST "remote") ||
		     xmlStrEqual(n->name, BAD_CAST "referred-by")))
			return true;
		if (remote_in(n->children))
			return true;
	}
	return false;
}

/* The composed document has none (no DOCTYPE in it: plain libxml2). */
static bool has_remote(const struct hr_buf *out)
{
	xmlDocPtr doc = xmlReadMemory(out->b, (int)out->len, NULL, NULL,
		XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	bool found;

	FUZZ_CHECK(doc != NULL);
	found = remote_in(xmlDocGetRootElement(doc));
	xmlFreeDoc(doc);
	return found;
}

static void compose_check(const struct hr_dinfo *d,
	const struct hr_dinfo_ref *v, bool private_remote)
{
	struct hr_dinfo *again = NULL;
	unsigned n = hr_dinfo_ndialogs(d);
	const char *why = NULL;
	struct hr_buf out;
	int err;

	hr_buf_init(&out, 1 << 22);
	err = hr_dinfo_compose(&out, ENTITY, 42, private_remote, v, n,
		private_remote);
	FUZZ_CHECK(err == 0 || err == EMSGSIZE);
	if (!err) {
		FUZZ_CHECK(!hr_dinfo_parse(&again, out.b, out.len, &why));
		same_dialogs(again, d, private_remote);
		FUZZ_CHECK(!private_remote || !has_remote(&out));
		hr_mem_deref(again);
	}
	hr_buf_reset(&out);
}

void fuzz_one(const uint8_t *data, size_t size)
{
	struct hr_dinfo *doc = NULL;
	struct hr_dinfo_ref *v;
	const char *why = NULL;
	unsigned n;
	int err;

	err = hr_dinfo_parse(&doc, (const char *)data, size, &why);
	FUZZ_CHECK(err == 0 || err == EBADMSG || err == ENOMEM);
	if (err == EBADMSG)
		FUZZ_CHECK(why && !strncmp(why, "Bad dialog-info: ", 17));
	if (err)
		return;
	FUZZ_CHECK(hr_dinfo_entity(doc) && *hr_dinfo_entity(doc));
	n = hr_dinfo_ndialogs(doc);
	v = calloc(n ? n : 1, sizeof(*v));
	FUZZ_CHECK(v != NULL);
	for (unsigned i = 0; i < n; i++)
		v[i] = (struct hr_dinfo_ref){ doc, i };
	compose_check(doc, v, false);
	compose_check(doc, v, true);
	free(v);
	hr_mem_deref(doc);
}
