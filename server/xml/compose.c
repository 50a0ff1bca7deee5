/*
 * A presentity's PIDF document composed from its publications (RFC 3863
 * 4.1.1 order; RFC 4479 person and device): elements copied (copy.c)
 * from the parsed publications with the namespace declarations they
 * need.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include "xml_int.h"

/* An element with an id (tuple, person, device) and its precedence:
 * rank 0 is the newest publication's first element. */
struct key {
	xmlNodePtr node;
	xmlChar *id;
	unsigned rank;
	bool lost;      /* a newer element has the same id */
};

struct compose {
	struct hr_xml_copy copy;
	struct key *keys;
	size_t nkeys;
};

static bool is_pidf(const xmlChar *href)
{
	return xmlStrEqual(href, BAD_CAST HR_PIDF_NS);
}

/* tuple (RFC 3863), person and device (RFC 4479): ids are xs:ID, one
 * space for all three */
static bool has_key(const xmlNode *n)
{
	return (hr_xml_is_elem(n, HR_PIDF_NS, "tuple") ||
		hr_xml_is_elem(n, HR_DM_NS, "person") ||
		hr_xml_is_elem(n, HR_DM_NS, "device")) &&
		xmlHasNsProp(n, BAD_CAST "id", NULL);
}

static int key_by_id(const void *a, const void *b)
{
	const struct key *x = a, *y = b;
	int r = xmlStrcmp(x->id, y->id);

	if (r)
		return r;
	return (x->rank > y->rank) - (x->rank < y->rank);
}

static int key_by_node(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)((const struct key *)a)->node;
	uintptr_t y = (uintptr_t)((const struct key *)b)->node;

	return (x > y) - (x < y);
}

static size_t keys_count(struct hr_pidf *const *docs, unsigned n)
{
	size_t count = 0;

	for (unsigned i = 0; i < n; i++) {
		for (xmlNodePtr k = hr_pidf_root(docs[i])->children; k;
		     k = k->next)
			count += has_key(k);
	}
	return count;
}

/* Newest first, each in document order: rank is precedence. */
static int keys_fill(struct compose *c, struct hr_pidf *const *docs,
	unsigned n)
{
	for (unsigned i = n; i-- > 0;) {
		for (xmlNodePtr k = hr_pidf_root(docs[i])->children; k;
		     k = k->next) {
			struct key *key = &c->keys[c->nkeys];

			if (!has_key(k))
				continue;
			key->node = k;
			key->rank = (unsigned)c->nkeys;
			key->id = xmlGetNoNsProp(k, BAD_CAST "id");
			if (!key->id)
				return ENOMEM;
			c->nkeys++;
		}
	}
	return 0;
}

/* Mark every element that a newer one with the same id overrides. */
static int keys_build(struct compose *c, struct hr_pidf *const *docs,
	unsigned n)
{
	size_t count = keys_count(docs, n);
	int err;

	if (!count)
		return 0;
	c->keys = calloc(count, sizeof(*c->keys));
	if (!c->keys)
		return ENOMEM;
	err = keys_fill(c, docs, n);
	if (err)
		return err;
	qsort(c->keys, c->nkeys, sizeof(*c->keys), key_by_id);
	for (size_t i = 1; i < c->nkeys; i++)
		c->keys[i].lost = xmlStrEqual(c->keys[i].id, c->keys[i - 1].id);
	qsort(c->keys, c->nkeys, sizeof(*c->keys), key_by_node);
	return 0;
}

static void keys_free(struct compose *c)
{
	for (size_t i = 0; i < c->nkeys; i++)
		xmlFree(c->keys[i].id);
	free(c->keys);
}

static bool lost(const struct compose *c, xmlNodePtr n)
{
	struct key k = { .node = n };
	const struct key *found;

	if (!has_key(n))
		return false;
	found = bsearch(&k, c->keys, c->nkeys, sizeof(k), key_by_node);
	return found && found->lost;
}

enum group {
	G_NONE,
	G_TUPLE,
	G_NOTE,
	G_EXT,
};

/* RFC 3863 4.1.1: tuples, then notes, then other namespaces; neither
 * PIDF's unknown elements nor those of no namespace may be there */
static enum group group_of(const xmlNode *n)
{
	if (n->type != XML_ELEMENT_NODE || !n->ns)
		return G_NONE;
	if (!is_pidf(n->ns->href))
		return G_EXT;
	if (xmlStrEqual(n->name, BAD_CAST "tuple"))
		return G_TUPLE;
	if (xmlStrEqual(n->name, BAD_CAST "note"))
		return G_NOTE;
	return G_NONE;
}

static int group_write(struct compose *c, struct hr_pidf *const *docs,
	unsigned n, enum group g)
{
	int err = 0;

	for (unsigned i = n; !err && i-- > 0;) {
		for (xmlNodePtr k = hr_pidf_root(docs[i])->children; !err && k;
		     k = k->next) {
			if (group_of(k) == g && !lost(c, k))
				err = hr_xml_copy_top(&c->copy, k);
		}
	}
	return err;
}

static int compose_write(struct compose *c, xmlTextWriterPtr w,
	const char *entity, struct hr_pidf *const *docs, unsigned n)
{
	int err;

	if (hr_pidf_start(w, entity) < 0)
		return ENOMEM;
	err = hr_xml_copy_init(&c->copy, w, HR_PIDF_NS, NULL);
	if (!err)
		err = group_write(c, docs, n, G_TUPLE);
	if (!err)
		err = group_write(c, docs, n, G_NOTE);
	if (!err)
		err = group_write(c, docs, n, G_EXT);
	if (!err && xmlTextWriterEndElement(w) < 0)
		err = ENOMEM;
	return err;
}

int hr_pidf_compose(struct hr_buf *buf, const char *entity,
	struct hr_pidf *const *docs, unsigned n)
{
	struct compose c = { 0 };
	struct hr_xml_out o;
	int err;

	if (!buf || !hr_xml_str_ok(entity) || (n && !docs))
		return EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (!docs[i])
			return EINVAL;
	}
	if (!n)
		return hr_pidf_neutral(buf, entity);
	err = keys_build(&c, docs, n);
	if (!err)
		err = hr_xml_out_open(&o, buf);
	if (!err)
		err = hr_xml_out_close(&o, compose_write(&c, o.w, entity,
			docs, n));
	keys_free(&c);
	hr_xml_copy_free(&c.copy);
	return err;
}
