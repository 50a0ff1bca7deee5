/* XML documents checked against a schema from HR_XSD_DIR (no network) and
 * read with XPath, prefix r: for RFC 3680's reginfo namespace. main()
 * calls xmlSetExternalEntityLoader(xmlNoNetExternalEntityLoader) first:
 * a schema's imports are local copies. */
#ifndef HR_TEST_XSD_H
#define HR_TEST_XSD_H

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/xmlIO.h>
#include <libxml/xmlschemas.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#define XSD_NS_REGINFO "urn:ietf:params:xml:ns:reginfo"

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

/* XPath 1.0 string() of expr; free it with xmlXPathFreeObject(). */
static inline xmlXPathObjectPtr xp_string(xmlDocPtr doc, const char *expr)
{
	xmlXPathContextPtr xc = xmlXPathNewContext(doc);
	xmlXPathObjectPtr res;
	char full[512];

	ck_assert_ptr_nonnull(xc);
	ck_assert_int_eq(xmlXPathRegisterNs(xc, BAD_CAST "r",
		BAD_CAST XSD_NS_REGINFO), 0);
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

#endif
