/* Private to server/xml. */
#ifndef HR_XML_INT_H
#define HR_XML_INT_H

#include <stddef.h>
#include <libxml/xmlwriter.h>
#include "core/core.h"
#include "xml.h"

#define HR_PIDF_NS "urn:ietf:params:xml:ns:pidf"
#define HR_DM_NS "urn:ietf:params:xml:ns:pidf:data-model"

/* An xmlTextWriter whose output goes straight into an hr_buf. */
struct hr_xml_out {
	xmlTextWriterPtr w;
	struct hr_buf *buf;
	size_t start;   /* buf->len before: restored on error */
	int err;        /* first error of the output callback */
};

/** Start a UTF-8 document into buf: 0 or ENOMEM. */
int hr_xml_out_open(struct hr_xml_out *o, struct hr_buf *buf);
/** End the document and free the writer; on error (err, a failed libxml2
 *  call, or a full buf) buf is truncated back. Returns the error or 0. */
int hr_xml_out_close(struct hr_xml_out *o, int err);
/** True when s is UTF-8 (RFC 3629) made only of XML 1.0 Chars. */
bool hr_xml_text_ok(const char *s);
/** A required string: not NULL, and hr_xml_text_ok(). */
bool hr_xml_req_ok(const char *s);
/** A required, non-empty string. */
bool hr_xml_str_ok(const char *s);
/** An optional string: NULL, or hr_xml_text_ok(). */
bool hr_xml_opt_ok(const char *s);
/** True when s is one of the n strings of words (case-sensitive). */
bool hr_xml_word_ok(const char *s, const char *const *words, size_t n);
/** True when s may be an xs:ID (an XML NCName). */
bool hr_xml_id_ok(const char *s);
/** Write attribute name="v" (libxml2 escapes v): < 0 on error. */
int hr_xml_attr(xmlTextWriterPtr w, const char *name, const char *v);
/** Write attribute name="v" in decimal. */
int hr_xml_attr_u64(xmlTextWriterPtr w, const char *name, uint64_t v);
/** As hr_xml_attr_u64, but nothing is written when v is below zero. */
int hr_xml_attr_opt(xmlTextWriterPtr w, const char *name, int64_t v);
/** Write <name>text</name> in the namespace in scope. */
int hr_xml_elem(xmlTextWriterPtr w, const char *name, const char *text);
/** True when n is the element {ns}name. */
bool hr_xml_is_elem(const xmlNode *n, const char *ns, const char *name);

/* Reading (read.c) */
/** The static reasons for a 400 that a format gives for what
 *  hr_xml_read() refuses. */
struct hr_xml_reasons {
	const char *nwf;        /* empty or not well-formed */
	const char *large;      /* over INT_MAX bytes */
	const char *doctype;    /* any DOCTYPE */
};
/** Parse p safely (no network, no entities, a DOCTYPE refused before
 *  its content is read) into *docp: 0; EBADMSG with *why one of r's;
 *  ENOMEM. */
int hr_xml_read(xmlDocPtr *docp, const char *p, size_t len,
	const struct hr_xml_reasons *r, const char **why);
/** n's attribute name of no namespace into *v (xmlFree() it), NULL when
 *  n has none: 0 or ENOMEM. */
int hr_xml_prop(const xmlNode *n, const char *name, xmlChar **v);

/* Copying parsed elements into a writer (copy.c) */
/** True for an element left out of a copy, with its content. */
typedef bool (hr_xml_skip_h)(const xmlNode *n);
struct hr_xml_binding;
struct hr_xml_copy {
	xmlTextWriterPtr w;
	const xmlChar *ns;      /* the output's default namespace */
	hr_xml_skip_h *skip;    /* NULL: nothing left out */
	struct hr_xml_binding *scope;  /* a stack: innermost last */
	size_t nscope;
	size_t sscope;
};
/** Copy into w, below a root element just started there that declares
 *  ns as the default namespace; elements of ns go unprefixed, any other
 *  keeps its prefix. 0 or ENOMEM; hr_xml_copy_free() it either way. */
int hr_xml_copy_init(struct hr_xml_copy *c, xmlTextWriterPtr w,
	const char *ns, hr_xml_skip_h *skip);
/** Copy n, a child of its document's root, with its attributes and
 *  content (comments and PIs dropped), declaring the namespaces it
 *  needs: 0 or ENOMEM. */
int hr_xml_copy_top(struct hr_xml_copy *c, xmlNodePtr n);
void hr_xml_copy_free(struct hr_xml_copy *c);

/* PIDF, shared by pidf.c and compose.c */
/** The <presence> element of a publication. */
xmlNodePtr hr_pidf_root(const struct hr_pidf *d);
/** Start <presence xmlns=PIDF entity=...>: < 0 on error. */
int hr_pidf_start(xmlTextWriterPtr w, const char *entity);

#endif
