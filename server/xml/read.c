/*
 * Reading a body with libxml2 safely, for every document format: no
 * network, no entity substitution, no DTD loaded, and any DOCTYPE (so
 * any DTD or entity declaration) refused as soon as it is seen, before
 * its content is read: XXE and entity expansion ("billion laughs")
 * never start.
 */
#include <errno.h>
#include <limits.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include "xml_int.h"

/* ---- a DOCTYPE stops the parser before its subset is read ---- */

static void refuse(void *ctx)
{
	xmlParserCtxtPtr ctxt = ctx;
	bool *dtd = ctxt->_private;

	*dtd = true;
	xmlStopParser(ctxt);
}

/* <!DOCTYPE ...>: called once the name and external id are read, before
 * the internal subset; nothing is declared, loaded or expanded */
static void on_subset(void *ctx, const xmlChar *name, const xmlChar *ext,
	const xmlChar *sys)
{
	(void)name;
	(void)ext;
	(void)sys;
	refuse(ctx);
}

/* unreachable behind on_subset(); refused again should that change */
static void on_entity_decl(void *ctx, const xmlChar *name, int type,
	const xmlChar *pub, const xmlChar *sys, xmlChar *content)
{
	(void)name;
	(void)type;
	(void)pub;
	(void)sys;
	(void)content;
	refuse(ctx);
}

static xmlParserInputPtr on_resolve(void *ctx, const xmlChar *pub,
	const xmlChar *sys)
{
	(void)pub;
	(void)sys;
	refuse(ctx);
	return NULL;
}

/* libxml2 would print parse errors on stderr */
static void on_error(void *ctx, xmlErrorPtr e)
{
	(void)ctx;
	(void)e;
}

/* No XML_PARSE_NOENT (no entity substitution), DTDLOAD, DTDATTR,
 * XINCLUDE or HUGE (libxml2's depth and size limits stay). CDATA
 * becomes text. */
static const int parse_opts = XML_PARSE_NONET | XML_PARSE_NOERROR |
	XML_PARSE_NOWARNING | XML_PARSE_NOCDATA | XML_PARSE_COMPACT;

static void hooks_set(xmlParserCtxtPtr ctxt, bool *dtd)
{
	ctxt->_private = dtd;
	ctxt->sax->internalSubset = on_subset;
	ctxt->sax->externalSubset = on_subset;
	ctxt->sax->entityDecl = on_entity_decl;
	ctxt->sax->resolveEntity = on_resolve;
	ctxt->sax->serror = on_error;
}

int hr_xml_read(xmlDocPtr *docp, const char *p, size_t len,
	const struct hr_xml_reasons *r, const char **why)
{
	xmlParserCtxtPtr ctxt;
	bool dtd = false;
	int err = 0;

	if (!len) {
		*why = r->nwf;
		return EBADMSG;
	}
	if (len > INT_MAX) {
		*why = r->large;
		return EBADMSG;
	}
	xmlInitParser();
	ctxt = xmlCreateMemoryParserCtxt(p, (int)len);
	if (!ctxt)
		return ENOMEM;
	xmlCtxtUseOptions(ctxt, parse_opts);
	hooks_set(ctxt, &dtd);
	xmlParseDocument(ctxt);
	if (dtd) {
		*why = r->doctype;
		err = EBADMSG;
	} else if (ctxt->errNo == XML_ERR_NO_MEMORY) {
		err = ENOMEM;
	} else if (!ctxt->wellFormed || !ctxt->nsWellFormed ||
		!ctxt->myDoc) {
		/* nsWellFormed: an undeclared prefix would leave an element
		 * named "p:x" in no namespace */
		*why = r->nwf;
		err = EBADMSG;
	}
	if (err)
		xmlFreeDoc(ctxt->myDoc);
	else
		*docp = ctxt->myDoc;
	ctxt->myDoc = NULL;
	xmlFreeParserCtxt(ctxt);
	return err;
}

int hr_xml_prop(const xmlNode *n, const char *name, xmlChar **v)
{
	*v = NULL;
	if (!xmlHasNsProp(n, BAD_CAST name, NULL))
		return 0;
	*v = xmlGetNoNsProp(n, BAD_CAST name);
	return *v ? 0 : ENOMEM;
}
