/* Private to server/xml. */
#ifndef HR_XML_INT_H
#define HR_XML_INT_H

#include <stddef.h>
#include <libxml/xmlwriter.h>
#include "core/core.h"
#include "xml.h"

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
/** Write attribute name="v" in decimal. */
int hr_xml_attr_u64(xmlTextWriterPtr w, const char *name, uint64_t v);

#endif
