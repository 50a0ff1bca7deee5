/* Writing XML into an hr_buf: libxml2's xmlTextWriter does the escaping.
 * Also the small checks and helpers the document files share. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include "xml_int.h"

/* A full buf is not reported to libxml2, which would print an I/O error
 * on stderr for it: the rest of the document is dropped here and
 * hr_xml_out_close() returns the error. */
static int out_write(void *ctx, const char *p, int len)
{
	struct hr_xml_out *o = ctx;

	if (!o->err)
		o->err = hr_buf_write(o->buf, p, (size_t)len);
	return len;
}

static int out_close(void *ctx)
{
	(void)ctx;
	return 0;
}

int hr_xml_out_open(struct hr_xml_out *o, struct hr_buf *buf)
{
	xmlOutputBufferPtr ob;

	/* idempotent; libxml2 2.9 does not initialise itself everywhere */
	xmlInitParser();
	o->buf = buf;
	o->start = buf->len;
	o->err = 0;
	ob = xmlOutputBufferCreateIO(out_write, out_close, o, NULL);
	if (!ob)
		return ENOMEM;
	o->w = xmlNewTextWriter(ob);  /* owns ob from here on */
	if (!o->w) {
		xmlOutputBufferClose(ob);
		return ENOMEM;
	}
	/* RFC 3680 5.1, RFC 3863 4.1: UTF-8 */
	if (xmlTextWriterStartDocument(o->w, "1.0", "UTF-8", NULL) < 0) {
		xmlFreeTextWriter(o->w);
		o->w = NULL;
		buf->len = o->start;
		return o->err ? o->err : ENOMEM;
	}
	return 0;
}

int hr_xml_out_close(struct hr_xml_out *o, int err)
{
	if (!err && (xmlTextWriterEndDocument(o->w) < 0 ||
		xmlTextWriterFlush(o->w) < 0))
		err = ENOMEM;
	xmlFreeTextWriter(o->w);
	o->w = NULL;
	/* a full buf (EMSGSIZE) or ENOMEM from out_write() */
	if (o->err)
		err = o->err;
	if (err)
		o->buf->len = o->start;
	return err;
}

/* Decode one UTF-8 sequence (RFC 3629: no overlong form, no surrogate,
 * nothing above U+10FFFF); 0 on error, else its length. */
static size_t utf8_decode(const unsigned char *p, uint32_t *cp)
{
	static const uint32_t min[4] = { 0, 0x80, 0x800, 0x10000 };
	size_t n, i;
	uint32_t c = p[0];

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c > 0xf4)
		return 0;
	if (c >= 0xf0)
		n = 4;
	else if (c >= 0xe0)
		n = 3;
	else if (c >= 0xc2)
		n = 2;
	else
		return 0;  /* a continuation byte, or overlong 0xc0/0xc1 */
	c &= 0x7fu >> n;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;  /* also stops at the NUL */
		c = (c << 6) | (p[i] & 0x3f);
	}
	if (c < min[n - 1] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* XML 1.0 (Fifth Edition) 2.2 Char, surrogates excluded by the decoder */
static bool xml_char(uint32_t c)
{
	if (c < 0x20)
		return c == 0x9 || c == 0xa || c == 0xd;
	return c != 0xfffe && c != 0xffff;
}

bool hr_xml_text_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t c;
	size_t n;

	while (*p) {
		n = utf8_decode(p, &c);
		if (!n || !xml_char(c))
			return false;
		p += n;
	}
	return true;
}

bool hr_xml_req_ok(const char *s)
{
	return s && hr_xml_text_ok(s);
}

bool hr_xml_str_ok(const char *s)
{
	return hr_xml_req_ok(s) && *s;
}

bool hr_xml_opt_ok(const char *s)
{
	return !s || hr_xml_text_ok(s);
}

bool hr_xml_word_ok(const char *s, const char *const *words, size_t n)
{
	if (!s)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(s, words[i]))
			return true;
	}
	return false;
}

/* Namespaces in XML 1.0 NCName: what xs:ID allows */
bool hr_xml_id_ok(const char *s)
{
	return hr_xml_req_ok(s) && xmlValidateNCName(BAD_CAST s, 0) == 0;
}

int hr_xml_attr(xmlTextWriterPtr w, const char *name, const char *v)
{
	return xmlTextWriterWriteAttribute(w, BAD_CAST name, BAD_CAST v);
}

int hr_xml_attr_u64(xmlTextWriterPtr w, const char *name, uint64_t v)
{
	char tmp[24];

	snprintf(tmp, sizeof(tmp), "%" PRIu64, v);
	return xmlTextWriterWriteAttribute(w, BAD_CAST name, BAD_CAST tmp);
}

int hr_xml_attr_opt(xmlTextWriterPtr w, const char *name, int64_t v)
{
	return v < 0 ? 0 : hr_xml_attr_u64(w, name, (uint64_t)v);
}

int hr_xml_elem(xmlTextWriterPtr w, const char *name, const char *text)
{
	return xmlTextWriterWriteElement(w, BAD_CAST name, BAD_CAST text);
}

bool hr_xml_is_elem(const xmlNode *n, const char *ns, const char *name)
{
	return n->type == XML_ELEMENT_NODE && n->ns &&
		xmlStrEqual(n->ns->href, BAD_CAST ns) &&
		xmlStrEqual(n->name, BAD_CAST name);
}
