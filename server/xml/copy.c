/*
 * Elements of parsed documents copied into a document being written,
 * with their content intact: each copy declares the namespaces it needs,
 * so that documents that bind one prefix to different namespaces, or one
 * namespace to different prefixes, still give correct XML.
 */
#include <errno.h>
#include <stdlib.h>
#include "xml_int.h"

/* A namespace binding in scope in the output. */
struct hr_xml_binding {
	const xmlChar *prefix;  /* NULL: the default namespace */
	const xmlChar *href;    /* "": no namespace (xmlns="") */
};

/* The binding of prefix in scope, looking no further out than from. */
static const xmlChar *scope_find(const struct hr_xml_copy *c,
	const xmlChar *prefix, size_t from)
{
	for (size_t i = c->nscope; i-- > from;) {
		if (xmlStrEqual(c->scope[i].prefix, prefix))
			return c->scope[i].href;
	}
	return NULL;
}

static int scope_push(struct hr_xml_copy *c, const xmlChar *prefix,
	const xmlChar *href)
{
	struct hr_xml_binding *v;
	size_t size;

	if (c->nscope == c->sscope) {
		size = c->sscope ? c->sscope * 2 : 16;
		v = realloc(c->scope, size * sizeof(*v));
		if (!v)
			return ENOMEM;
		c->scope = v;
		c->sscope = size;
	}
	c->scope[c->nscope++] = (struct hr_xml_binding){ prefix, href };
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
static int ns_bind(struct hr_xml_copy *c, size_t base, const xmlChar *prefix,
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

/* Whether the subtree at n refers to the declaration ns. An element of
 * the output's namespace does not count: it is written unprefixed. */
static bool ns_used(const struct hr_xml_copy *c, const xmlNode *n,
	const xmlNs *ns)
{
	if (n->ns == ns && !xmlStrEqual(ns->href, c->ns))
		return true;
	for (const xmlAttr *a = n->properties; a; a = a->next) {
		if (a->ns == ns)
			return true;
	}
	for (const xmlNode *k = n->children; k; k = k->next) {
		if (k->type == XML_ELEMENT_NODE && ns_used(c, k, ns))
			return true;
	}
	return false;
}

/* What n's name and attributes need, then what the publisher declared
 * on it, then (for a child of the root) what it uses of the
 * declarations on the publication's root: once there rather than on
 * every descendant. */
static int declare_all(struct hr_xml_copy *c, size_t base, xmlNodePtr n,
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
		if (ns_used(c, n, ns))
			err = ns_bind(c, base, ns->prefix, ns->href, false);
	}
	return err;
}

static int attr_copy(struct hr_xml_copy *c, xmlAttrPtr a)
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

static int elem_copy(struct hr_xml_copy *c, xmlNodePtr n, bool top);

/* Comments and processing instructions are left out; there are no
 * entity references (no DTD). */
static int node_copy(struct hr_xml_copy *c, xmlNodePtr n)
{
	switch (n->type) {
	case XML_ELEMENT_NODE:
		if (c->skip && c->skip(n))
			return 0;
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

static int elem_body(struct hr_xml_copy *c, xmlNodePtr n)
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

/* An element of the output's namespace goes unprefixed; any other keeps
 * its prefix. */
static int elem_copy(struct hr_xml_copy *c, xmlNodePtr n, bool top)
{
	const xmlChar *prefix = NULL, *href = BAD_CAST "";
	size_t base = c->nscope;
	xmlChar mem[64], *q;
	int err, rc;

	if (n->ns) {
		href = n->ns->href;
		if (!xmlStrEqual(href, c->ns))
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

int hr_xml_copy_init(struct hr_xml_copy *c, xmlTextWriterPtr w,
	const char *ns, hr_xml_skip_h *skip)
{
	*c = (struct hr_xml_copy){ .w = w, .ns = BAD_CAST ns, .skip = skip };
	return scope_push(c, NULL, c->ns);
}

int hr_xml_copy_top(struct hr_xml_copy *c, xmlNodePtr n)
{
	return elem_copy(c, n, true);
}

void hr_xml_copy_free(struct hr_xml_copy *c)
{
	free(c->scope);
	c->scope = NULL;
	c->nscope = c->sscope = 0;
}
