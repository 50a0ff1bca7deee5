/*
 * A presentity's PIDF document composed from its publications (RFC 3863
 * 4.1.1 order; RFC 4479 person and device): elements copied from the
 * parsed publications with the namespace declarations they need.
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

/* A namespace binding in scope in the output. */
struct binding {
	const xmlChar *prefix;  /* NULL: the default namespace */
	const xmlChar *href;    /* "": no namespace (xmlns="") */
};

struct compose {
	xmlTextWriterPtr w;
	struct key *keys;
	size_t nkeys;
	struct binding *scope;  /* a stack: innermost last */
	size_t nscope;
	size_t sscope;
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

/* The binding of prefix in scope, looking no further out than from. */
static const xmlChar *scope_find(const struct compose *c,
	const xmlChar *prefix, size_t from)
{
	for (size_t i = c->nscope; i-- > from;) {
		if (xmlStrEqual(c->scope[i].prefix, prefix))
			return c->scope[i].href;
	}
	return NULL;
}

static int scope_push(struct compose *c, const xmlChar *prefix,
	const xmlChar *href)
{
	struct binding *v;
	size_t size;

	if (c->nscope == c->sscope) {
		size = c->sscope ? c->sscope * 2 : 16;
		v = realloc(c->scope, size * sizeof(*v));
		if (!v)
			return ENOMEM;
		c->scope = v;
		c->sscope = size;
	}
	c->scope[c->nscope++] = (struct binding){ prefix, href };
	return 0;
}

/* name, or prefix:name in mem or allocated: free it with qname_free() */
static xmlChar *qname(const xmlChar *name, const xmlChar *prefix,
	xmlChar *mem, int len)
{
	return xmlBuildQName(name, prefix, mem, len);
}

static void qname_free(xmlChar *q, const xmlChar *name, const xmlChar *mem)
{
	if (q != name && q != mem)
		xmlFree(q);
}

/*
 * Bind prefix to href on the element just started, whose own bindings
 * begin at base in the scope, unless it binds that prefix already. What
 * its name and attributes need (need: they come first) is claimed on it
 * even when the binding is in scope already, so that no declaration
 * copied from the publication can rebind it there; anything else is
 * written only when the binding in scope differs.
 */
static int ns_bind(struct compose *c, size_t base, const xmlChar *prefix,
	const xmlChar *href, bool need)
{
	static const xmlChar xmlns[] = "xmlns";
	const xmlChar *cur;
	xmlChar mem[64], *q;
	bool same;
	int rc;

	/* the xml prefix is bound by definition, and never declared */
	if (prefix && xmlStrEqual(prefix, BAD_CAST "xml"))
		return 0;
	if (scope_find(c, prefix, base))
		return 0;
	cur = scope_find(c, prefix, 0);
	same = cur ? xmlStrEqual(cur, href) : !*href;
	if (same && !need)
		return 0;
	if (scope_push(c, prefix, href))
		return ENOMEM;
	if (same)
		return 0;
	q = prefix ? qname(prefix, xmlns, mem, sizeof(mem)) : (xmlChar *)xmlns;
	if (!q)
		return ENOMEM;
	rc = xmlTextWriterWriteAttribute(c->w, q, href);
	if (prefix)
		qname_free(q, prefix, mem);
	return rc < 0 ? ENOMEM : 0;
}

/* Whether the subtree at n refers to the declaration ns. A PIDF element
 * does not count: it is written unprefixed. */
static bool ns_used(const xmlNode *n, const xmlNs *ns)
{
	if (n->ns == ns && !is_pidf(ns->href))
		return true;
	for (const xmlAttr *a = n->properties; a; a = a->next) {
		if (a->ns == ns)
			return true;
	}
	for (const xmlNode *k = n->children; k; k = k->next) {
		if (k->type == XML_ELEMENT_NODE && ns_used(k, ns))
			return true;
	}
	return false;
}

/* What n's name and attributes need, then what the publisher declared
 * on it, then (for a child of <presence>) what it uses of the
 * declarations on the publication's root: once there rather than on
 * every descendant. */
static int declare_all(struct compose *c, size_t base, xmlNodePtr n,
	const xmlChar *prefix, const xmlChar *href, bool top)
{
	int err = ns_bind(c, base, prefix, href, true);

	for (xmlAttrPtr a = n->properties; !err && a; a = a->next) {
		if (a->ns)
			err = ns_bind(c, base, a->ns->prefix, a->ns->href,
				true);
	}
	for (xmlNsPtr ns = n->nsDef; !err && ns; ns = ns->next)
		err = ns_bind(c, base, ns->prefix, ns->href, false);
	for (xmlNsPtr ns = top ? n->parent->nsDef : NULL; !err && ns;
	     ns = ns->next) {
		if (ns_used(n, ns))
			err = ns_bind(c, base, ns->prefix, ns->href, false);
	}
	return err;
}

static int attr_copy(struct compose *c, xmlAttrPtr a)
{
	xmlChar mem[64], *q, *v;
	int rc;

	q = qname(a->name, a->ns ? a->ns->prefix : NULL, mem, sizeof(mem));
	if (!q)
		return ENOMEM;
	v = xmlNodeGetContent((xmlNodePtr)a);
	rc = v ? xmlTextWriterWriteAttribute(c->w, q, v) : -1;
	xmlFree(v);
	qname_free(q, a->name, mem);
	return rc < 0 ? ENOMEM : 0;
}

static int elem_copy(struct compose *c, xmlNodePtr n, bool top);

/* Comments and processing instructions are left out; there are no
 * entity references (no DTD). */
static int node_copy(struct compose *c, xmlNodePtr n)
{
	switch (n->type) {
	case XML_ELEMENT_NODE:
		return elem_copy(c, n, false);
	case XML_TEXT_NODE:
	case XML_CDATA_SECTION_NODE:
		if (n->content &&
		    xmlTextWriterWriteString(c->w, n->content) < 0)
			return ENOMEM;
		return 0;
	default:
		return 0;
	}
}

static int elem_body(struct compose *c, xmlNodePtr n)
{
	int err = 0;

	for (xmlAttrPtr a = n->properties; !err && a; a = a->next)
		err = attr_copy(c, a);
	for (xmlNodePtr k = n->children; !err && k; k = k->next)
		err = node_copy(c, k);
	if (!err && xmlTextWriterEndElement(c->w) < 0)
		err = ENOMEM;
	return err;
}

/* A PIDF element goes unprefixed; any other keeps its prefix. */
static int elem_copy(struct compose *c, xmlNodePtr n, bool top)
{
	const xmlChar *prefix = NULL, *href = BAD_CAST "";
	size_t base = c->nscope;
	xmlChar mem[64], *q;
	int err, rc;

	if (n->ns) {
		href = n->ns->href;
		if (!is_pidf(href))
			prefix = n->ns->prefix;
	}
	q = qname(n->name, prefix, mem, sizeof(mem));
	if (!q)
		return ENOMEM;
	rc = xmlTextWriterStartElement(c->w, q);
	qname_free(q, n->name, mem);
	err = rc < 0 ? ENOMEM : declare_all(c, base, n, prefix, href, top);
	if (!err)
		err = elem_body(c, n);
	c->nscope = base;
	return err;
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
				err = elem_copy(c, k, true);
		}
	}
	return err;
}

static int compose_write(struct compose *c, const char *entity,
	struct hr_pidf *const *docs, unsigned n)
{
	int err;

	if (hr_pidf_start(c->w, entity) < 0)
		return ENOMEM;
	err = scope_push(c, NULL, BAD_CAST HR_PIDF_NS);
	if (!err)
		err = group_write(c, docs, n, G_TUPLE);
	if (!err)
		err = group_write(c, docs, n, G_NOTE);
	if (!err)
		err = group_write(c, docs, n, G_EXT);
	if (!err && xmlTextWriterEndElement(c->w) < 0)
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
	if (!err) {
		c.w = o.w;
		err = hr_xml_out_close(&o, compose_write(&c, entity, docs,
			n));
	}
	keys_free(&c);
	free(c.scope);
	return err;
}
