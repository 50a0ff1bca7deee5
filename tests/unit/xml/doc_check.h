/* Shared by the tests of the parsers and composers of PUBLISH bodies
 * (PIDF, dialog-info): a guard on what libxml2 loads, the checks on a
 * parse, a hostile DTD, a clock, and the checks on a composed document. main() installs loader() with
 * xmlSetExternalEntityLoader() first; a fixture raises guard once the
 * schemas are loaded. */
#ifndef HR_TEST_DOC_CHECK_H
#define HR_TEST_DOC_CHECK_H

#include <time.h>
#include "xsd.h"

/* Whatever libxml2 tries to load while guard is up is counted, refused. */
static bool guard;
static unsigned loads;

static inline xmlParserInputPtr loader(const char *url, const char *id,
	xmlParserCtxtPtr ctxt)
{
	if (guard) {
		loads++;
		return NULL;
	}
	return xmlNoNetExternalEntityLoader(url, id, ctxt);
}

/* A parse of p that succeeded: 0, *why cleared, a document, nothing
 * loaded. */
static inline void parsed_ok(int err, const void *doc, const char *why,
	const char *p, size_t len)
{
	ck_assert_msg(err == 0, "%d (%s): %.*s", err, why ? why : "-",
		(int)len, p);
	ck_assert_ptr_null(why);
	ck_assert_ptr_nonnull(doc);
	ck_assert_uint_eq(loads, 0);
}

/* A parse of p refused as malformed for the reason want, nothing
 * loaded. */
static inline void parsed_bad(int err, const void *doc, const char *why,
	const char *want, const char *p, size_t len)
{
	ck_assert_msg(err == EBADMSG, "%d, want EBADMSG: %.*s", err,
		(int)len, p);
	ck_assert_ptr_null(doc);
	ck_assert_msg(why && !strcmp(why, want), "\"%s\", want \"%s\": %.*s",
		why ? why : "(null)", want, (int)len, p);
	ck_assert_uint_eq(loads, 0);
}

/* Into b: an XML declaration and a DOCTYPE for root declaring l9, ten
 * levels of ten entities: 10^9 "lol" if expanded. The document that
 * refers to &l9; follows. */
static inline void laughs_dtd(struct hr_buf *b, const char *root)
{
	ck_assert_int_eq(hr_buf_printf(b, "<?xml version='1.0'?>"
		"<!DOCTYPE %s [<!ENTITY l0 'lol'>", root), 0);
	for (unsigned i = 1; i < 10; i++) {
		ck_assert_int_eq(hr_buf_printf(b, "<!ENTITY l%u '", i), 0);
		for (unsigned j = 0; j < 10; j++)
			ck_assert_int_eq(hr_buf_printf(b, "&l%u;", i - 1), 0);
		ck_assert_int_eq(hr_buf_puts(b, "'>"), 0);
	}
	ck_assert_int_eq(hr_buf_puts(b, "]>"), 0);
}

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline bool has(const struct hr_buf *buf, const char *s)
{
	return memmem(buf->b, buf->len, s, strlen(s)) != NULL;
}

/* The i-th element (from 0) under the root of doc. */
static inline const xmlNode *elem_at(xmlDocPtr doc, unsigned i)
{
	const xmlNode *k = xmlDocGetRootElement(doc)->children;

	for (;; k = k->next) {
		ck_assert_ptr_nonnull(k);
		if (k->type == XML_ELEMENT_NODE && !i--)
			return k;
	}
}

/* The elements under out's root are want[0..n-1], in this order. */
static inline void tops_are(xmlDocPtr out, const struct hr_buf *buf,
	const xmlNode *const *want, unsigned n)
{
	const xmlNode *k = xsd_next(xmlDocGetRootElement(out)->children);

	for (unsigned i = 0; i < n; i++) {
		ck_assert_msg(k != NULL, "element %u missing: %.*s", i,
			(int)buf->len, buf->b);
		ck_assert_msg(xsd_same(k, want[i]), "element %u differs: %.*s",
			i, (int)buf->len, buf->b);
		k = xsd_next(k->next);
	}
	ck_assert_msg(k == NULL, "more than %u elements: %.*s", n,
		(int)buf->len, buf->b);
}

/* The end of a test: xsd_done(), and nothing was loaded. */
static inline void done(struct hr_buf *buf, xmlDocPtr doc)
{
	xsd_done(buf, doc);
	ck_assert_uint_eq(loads, 0);
}

#endif
