/*
 * PIDF documents (RFC 3863): PUBLISH bodies read and checked, and the
 * documents the server writes on its own. compose.c merges publications.
 */
#include <errno.h>
#include "xml_int.h"

#define NEUTRAL_ID "offline"

struct hr_pidf {
	xmlDocPtr doc;
	xmlChar *entity;
};

static void pidf_destroy(void *data)
{
	struct hr_pidf *d = data;

	xmlFree(d->entity);
	xmlFreeDoc(d->doc);
}

static xmlNodePtr first_child(const xmlNode *n, const char *ns,
	const char *name)
{
	for (xmlNodePtr k = n->children; k; k = k->next) {
		if (hr_xml_is_elem(k, ns, name))
			return k;
	}
	return NULL;
}

/* ---- reading (read.c keeps DOCTYPEs and entities out) ---- */

static const struct hr_xml_reasons reasons = {
	.nwf = "Bad PIDF: not well-formed",
	.large = "Bad PIDF: too large",
	.doctype = "Bad PIDF: DOCTYPE not allowed",
};

/* RFC 3863 4.1.4: <basic> is open or closed */
static int basic_check(xmlNodePtr status, const char **why)
{
	xmlNodePtr b = first_child(status, HR_PIDF_NS, "basic");
	xmlChar *v;
	bool ok;

	if (!b)
		return 0;
	v = xmlNodeGetContent(b);
	if (!v)
		return ENOMEM;
	ok = xmlStrEqual(v, BAD_CAST "open") ||
		xmlStrEqual(v, BAD_CAST "closed");
	xmlFree(v);
	if (!ok) {
		*why = "Bad PIDF: basic is neither open nor closed";
		return EBADMSG;
	}
	return 0;
}

/* RFC 3863 4.1.2: an id, and a <status> */
static int tuple_check(xmlNodePtr t, const char **why)
{
	xmlNodePtr status;

	if (!xmlHasNsProp(t, BAD_CAST "id", NULL)) {
		*why = "Bad PIDF: tuple without id";
		return EBADMSG;
	}
	status = first_child(t, HR_PIDF_NS, "status");
	if (!status) {
		*why = "Bad PIDF: tuple without status";
		return EBADMSG;
	}
	return basic_check(status, why);
}

/* RFC 3863 4.1.1: root <presence> in the PIDF namespace, with an
 * entity; *entity is its value (xmlFree() it) */
static int root_check(xmlDocPtr doc, xmlChar **entity, const char **why)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);

	if (!root || !xmlStrEqual(root->name, BAD_CAST "presence")) {
		*why = "Bad PIDF: root is not presence";
		return EBADMSG;
	}
	if (!root->ns || !xmlStrEqual(root->ns->href, BAD_CAST HR_PIDF_NS)) {
		*why = "Bad PIDF: not in the PIDF namespace";
		return EBADMSG;
	}
	if (hr_xml_prop(root, "entity", entity))
		return ENOMEM;
	if (!*entity || !**entity) {
		*why = "Bad PIDF: no entity";
		return EBADMSG;
	}
	return 0;
}

static int doc_check(xmlDocPtr doc, xmlChar **entity, const char **why)
{
	int err = root_check(doc, entity, why);

	if (err)
		return err;
	for (xmlNodePtr k = xmlDocGetRootElement(doc)->children; k;
	     k = k->next) {
		if (!hr_xml_is_elem(k, HR_PIDF_NS, "tuple"))
			continue;
		err = tuple_check(k, why);
		if (err)
			return err;
	}
	return 0;
}

int hr_pidf_parse(struct hr_pidf **docp, const char *p, size_t len,
	const char **why)
{
	const char *reason = NULL;
	xmlChar *entity = NULL;
	xmlDocPtr doc = NULL;
	struct hr_pidf *d;
	int err;

	if (why)
		*why = NULL;
	if (!docp || (!p && len))
		return EINVAL;
	err = hr_xml_read(&doc, p, len, &reasons, &reason);
	if (!err)
		err = doc_check(doc, &entity, &reason);
	if (err)
		goto out;
	d = hr_mem_zalloc(sizeof(*d), pidf_destroy);
	if (!d) {
		err = ENOMEM;
		goto out;
	}
	d->doc = doc;
	d->entity = entity;
	*docp = d;
	return 0;
out:
	xmlFree(entity);
	xmlFreeDoc(doc);
	if (err == EBADMSG && why)
		*why = reason;
	return err;
}

const char *hr_pidf_entity(const struct hr_pidf *d)
{
	return d ? (const char *)d->entity : NULL;
}

xmlNodePtr hr_pidf_root(const struct hr_pidf *d)
{
	return xmlDocGetRootElement(d->doc);
}

/* ---- the documents the server writes itself ---- */

/* RFC 3863 4.1.1: PIDF is the default namespace (baresip) */
int hr_pidf_start(xmlTextWriterPtr w, const char *entity)
{
	if (xmlTextWriterStartElement(w, BAD_CAST "presence") < 0 ||
	    hr_xml_attr(w, "xmlns", HR_PIDF_NS) < 0 ||
	    hr_xml_attr(w, "entity", entity) < 0)
		return -1;
	return 0;
}

/* RFC 3863 4.1.2: <status><basic/></status>, then <contact> */
static int tuple_write(xmlTextWriterPtr w, const char *id,
	const char *basic, const char *contact)
{
	if (xmlTextWriterStartElement(w, BAD_CAST "tuple") < 0 ||
	    hr_xml_attr(w, "id", id) < 0 ||
	    xmlTextWriterStartElement(w, BAD_CAST "status") < 0 ||
	    hr_xml_elem(w, "basic", basic) < 0 ||
	    xmlTextWriterEndElement(w) < 0)
		return -1;
	if (contact && hr_xml_elem(w, "contact", contact) < 0)
		return -1;
	return xmlTextWriterEndElement(w);
}

int hr_pidf_neutral(struct hr_buf *buf, const char *entity)
{
	struct hr_xml_out o;
	int err;

	if (!buf || !hr_xml_str_ok(entity))
		return EINVAL;
	err = hr_xml_out_open(&o, buf);
	if (err)
		return err;
	if (hr_pidf_start(o.w, entity) < 0 ||
	    tuple_write(o.w, NEUTRAL_ID, "closed", NULL) < 0 ||
	    xmlTextWriterEndElement(o.w) < 0)
		err = ENOMEM;
	return hr_xml_out_close(&o, err);
}

static const char *contact_at(const char *const *contacts, unsigned i)
{
	return contacts ? contacts[i] : NULL;
}

static int open_check(const char *entity, const char *const *ids,
	const char *const *contacts, unsigned n)
{
	if (!hr_xml_str_ok(entity) || (n && !ids))
		return EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (!hr_xml_id_ok(ids[i]) ||
		    !hr_xml_opt_ok(contact_at(contacts, i)))
			return EINVAL;
	}
	return 0;
}

int hr_pidf_open_tuples(struct hr_buf *buf, const char *entity,
	const char *const *ids, const char *const *contacts, unsigned n)
{
	struct hr_xml_out o;
	int err;

	if (!buf)
		return EINVAL;
	err = open_check(entity, ids, contacts, n);
	if (err)
		return err;
	err = hr_xml_out_open(&o, buf);
	if (err)
		return err;
	if (hr_pidf_start(o.w, entity) < 0)
		err = ENOMEM;
	for (unsigned i = 0; !err && i < n; i++) {
		if (tuple_write(o.w, ids[i], "open",
			contact_at(contacts, i)) < 0)
			err = ENOMEM;
	}
	if (!err && xmlTextWriterEndElement(o.w) < 0)
		err = ENOMEM;
	return hr_xml_out_close(&o, err);
}
