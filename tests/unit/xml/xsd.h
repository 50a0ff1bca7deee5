/* XML documents checked against a schema from HR_XSD_DIR (no network) and
 * read with XPath: prefix r: for RFC 3680's reginfo namespace, p: PIDF,
 * dm: RFC 4479's data model, rpid: RPID, w: watcherinfo, di: RFC 4235's
 * dialog-info, and x: and y:
 * for the tests' own urn:example:x and urn:example:y. main() calls
 * xmlSetExternalEntityLoader(xmlNoNetExternalEntityLoader) first: a
 * schema's imports are local copies. */
#ifndef HR_TEST_XSD_H
#define HR_TEST_XSD_H

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/xmlIO.h>
#include <libxml/xmlschemas.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include "core/core.h"

#define XSD_NS_REGINFO "urn:ietf:params:xml:ns:reginfo"
/* What every document the writers under test write begins with. */
#define XSD_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"

static const char *const xsd_ns[][2] = {
	{ "r", XSD_NS_REGINFO },
	{ "p", "urn:ietf:params:xml:ns:pidf" },
	{ "dm", "urn:ietf:params:xml:ns:pidf:data-model" },
	{ "rpid", "urn:ietf:params:xml:ns:pidf:rpid" },
	{ "w", "urn:ietf:params:xml:ns:watcherinfo" },
	{ "di", "urn:ietf:params:xml:ns:dialog-info" },
	{ "x", "urn:example:x" },
	{ "y", "urn:example:y" },
};

/* HR_XSD_DIR/file read whole and NUL-terminated; free() it. */
static inline char *xsd_file(const char *file, size_t *len)
{
	const char *dir = getenv("HR_XSD_DIR");
	char path[PATH_MAX], *p;
	FILE *f;
	long n;

	ck_assert_msg(dir != NULL, "HR_XSD_DIR is not set");
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "%s: cannot open", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ck_assert_int_ge(n, 0);
	rewind(f);
	p = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	p[n] = '\0';
	*len = (size_t)n;
	return p;
}

/* HR_XSD_DIR/file, compiled; free it with xmlSchemaFree(). */
static inline xmlSchemaPtr xsd_load(const char *file)
{
	const char *dir = getenv("HR_XSD_DIR");
	char path[PATH_MAX];
	xmlSchemaParserCtxtPtr pc;
	xmlSchemaPtr schema;

	ck_assert_msg(dir != NULL, "HR_XSD_DIR is not set");
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	pc = xmlSchemaNewParserCtxt(path);
	ck_assert_ptr_nonnull(pc);
	schema = xmlSchemaParse(pc);
	xmlSchemaFreeParserCtxt(pc);
	ck_assert_msg(schema != NULL, "%s does not compile", path);
	return schema;
}

/* *schema freed, and NULL (a fixture's teardown). */
static inline void xsd_free(xmlSchemaPtr *schema)
{
	xmlSchemaFree(*schema);
	*schema = NULL;
}

/* p parsed (no network, no entities); free it with xmlFreeDoc(). */
static inline xmlDocPtr xsd_parse(const char *p, size_t len)
{
	xmlDocPtr doc = xmlReadMemory(p, (int)len, "doc.xml", NULL,
		XML_PARSE_NONET);

	ck_assert_msg(doc != NULL, "not well-formed: %.*s", (int)len, p);
	return doc;
}

/* doc, parsed from p, is valid against schema, or the test fails. */
static inline void xsd_check(xmlSchemaPtr schema, xmlDocPtr doc,
	const char *p, size_t len)
{
	xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(schema);
	int rc;

	ck_assert_ptr_nonnull(vc);
	rc = xmlSchemaValidateDoc(vc, doc);
	xmlSchemaFreeValidCtxt(vc);
	ck_assert_msg(rc == 0, "invalid (%d): %.*s", rc, (int)len, p);
}

/* buf holds one document, XSD_DECL first: parsed back and validated
 * against schema; the tree is the caller's. */
static inline xmlDocPtr xsd_valid(xmlSchemaPtr schema,
	const struct hr_buf *buf)
{
	xmlDocPtr doc;

	ck_assert_uint_gt(buf->len, strlen(XSD_DECL));
	ck_assert_int_eq(memcmp(buf->b, XSD_DECL, strlen(XSD_DECL)), 0);
	doc = xsd_parse(buf->b, buf->len);
	xsd_check(schema, doc, buf->b, buf->len);
	return doc;
}

/* The end of a test: doc (or NULL) and buf freed, nothing left live. */
static inline void xsd_done(struct hr_buf *buf, xmlDocPtr doc)
{
	xmlFreeDoc(doc);
	hr_buf_reset(buf);
	ck_assert_uint_eq(hr_mem_live(), 0);
}

typedef int (xsd_write_h)(struct hr_buf *buf, void *arg);

/* write appends to what a buffer holds, and on EMSGSIZE leaves it as it
 * was: whole is what it writes into an empty buffer (n bytes). */
static inline void xsd_cap_append(xsd_write_h *write, void *arg,
	const struct hr_buf *whole)
{
	size_t n = whole->len;
	struct hr_buf small;

	hr_buf_init(&small, n + 5);
	ck_assert_int_eq(hr_buf_puts(&small, "head:"), 0);
	ck_assert_int_eq(write(&small, arg), 0);
	ck_assert_uint_eq(small.len, n + 5);
	ck_assert_int_eq(memcmp(small.b + 5, whole->b, n), 0);
	small.len = 5;
	small.cap = n + 4;
	ck_assert_int_eq(write(&small, arg), EMSGSIZE);
	ck_assert_uint_eq(small.len, 5);
	ck_assert_int_eq(memcmp(small.b, "head:", 5), 0);
	hr_buf_reset(&small);
}

/* XPath 1.0 string() of expr; free it with xmlXPathFreeObject(). */
static inline xmlXPathObjectPtr xp_string(xmlDocPtr doc, const char *expr)
{
	xmlXPathContextPtr xc = xmlXPathNewContext(doc);
	xmlXPathObjectPtr res;
	char full[512];

	ck_assert_ptr_nonnull(xc);
	for (size_t i = 0; i < sizeof(xsd_ns) / sizeof(xsd_ns[0]); i++)
		ck_assert_int_eq(xmlXPathRegisterNs(xc, BAD_CAST xsd_ns[i][0],
			BAD_CAST xsd_ns[i][1]), 0);
	snprintf(full, sizeof(full), "string(%s)", expr);
	res = xmlXPathEvalExpression(BAD_CAST full, xc);
	xmlXPathFreeContext(xc);
	ck_assert_ptr_nonnull(res);
	ck_assert_int_eq(res->type, XPATH_STRING);
	return res;
}

static inline void xp_str(xmlDocPtr doc, const char *expr, char *out,
	size_t n)
{
	xmlXPathObjectPtr res = xp_string(doc, expr);

	snprintf(out, n, "%s", (const char *)res->stringval);
	xmlXPathFreeObject(res);
}

static inline void xp_eq(xmlDocPtr doc, const char *expr, const char *want)
{
	xmlXPathObjectPtr res = xp_string(doc, expr);

	ck_assert_msg(!strcmp((const char *)res->stringval, want),
		"%s: \"%s\", want \"%s\"", expr, res->stringval, want);
	xmlXPathFreeObject(res);
}

static inline void xp_count(xmlDocPtr doc, const char *expr, unsigned want)
{
	char full[512], n[16];

	snprintf(full, sizeof(full), "count(%s)", expr);
	snprintf(n, sizeof(n), "%u", want);
	xp_eq(doc, full, n);
}

/* ---- the same tree, whatever the prefixes and declarations ---- */

static inline bool xsd_text(const xmlNode *n)
{
	return n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE;
}

static inline bool xsd_blank(const xmlNode *n)
{
	if (!xsd_text(n))
		return n->type != XML_ELEMENT_NODE;  /* comments, PIs */
	for (const xmlChar *c = n->content; c && *c; c++) {
		if (*c != ' ' && *c != '\t' && *c != '\n' && *c != '\r')
			return false;
	}
	return true;
}

static inline const xmlNode *xsd_next(const xmlNode *n)
{
	while (n && xsd_blank(n))
		n = n->next;
	return n;
}

static inline const xmlChar *xsd_uri(const xmlNs *ns)
{
	return ns ? ns->href : NULL;
}

static inline bool xsd_attr_in(const xmlAttr *a, const xmlNode *e)
{
	xmlChar *v = xmlNodeGetContent((const xmlNode *)a), *w;
	bool ok = false;

	for (const xmlAttr *b = e->properties; b && !ok; b = b->next) {
		if (!xmlStrEqual(a->name, b->name) ||
		    !xmlStrEqual(xsd_uri(a->ns), xsd_uri(b->ns)))
			continue;
		w = xmlNodeGetContent((const xmlNode *)b);
		ok = xmlStrEqual(v, w);
		xmlFree(w);
	}
	xmlFree(v);
	return ok;
}

static inline unsigned xsd_nattrs(const xmlNode *e)
{
	unsigned n = 0;

	for (const xmlAttr *a = e->properties; a; a = a->next)
		n++;
	return n;
}

/*
 * a and b are the same element: expanded names (namespace URI and local
 * name) of it and of all its descendants and attributes, attribute
 * values, and text; prefixes, namespace declarations, attribute order,
 * CDATA sections (as text), comments, processing instructions and
 * whitespace-only text aside.
 */
static inline bool xsd_same(const xmlNode *a, const xmlNode *b)
{
	if (xsd_text(a) || xsd_text(b))  /* CDATA is text */
		return xsd_text(a) && xsd_text(b) &&
			xmlStrEqual(a->content, b->content);
	if (a->type != b->type)
		return false;
	if (!xmlStrEqual(a->name, b->name) ||
	    !xmlStrEqual(xsd_uri(a->ns), xsd_uri(b->ns)) ||
	    xsd_nattrs(a) != xsd_nattrs(b))
		return false;
	for (const xmlAttr *x = a->properties; x; x = x->next) {
		if (!xsd_attr_in(x, b))
			return false;
	}
	a = xsd_next(a->children);
	b = xsd_next(b->children);
	while (a && b) {
		if (!xsd_same(a, b))
			return false;
		a = xsd_next(a->next);
		b = xsd_next(b->next);
	}
	return !a && !b;
}

#endif
