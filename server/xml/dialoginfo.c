/*
 * dialog-info documents (RFC 4235): PUBLISH bodies read and checked, and
 * the documents a watcher gets, made of dialogs copied (copy.c) from the
 * publications.
 */
#include <errno.h>
#include <stdlib.h>
#include "xml_int.h"

#define DINFO_NS "urn:ietf:params:xml:ns:dialog-info"

/* RFC 4235 3.7.1, in the order of enum hr_dlg_state */
static const char *const state_names[] = {
	[HR_DLG_TRYING] = "trying",
	[HR_DLG_PROCEEDING] = "proceeding",
	[HR_DLG_EARLY] = "early",
	[HR_DLG_CONFIRMED] = "confirmed",
	[HR_DLG_TERMINATED] = "terminated",
};

#define NSTATES (sizeof(state_names) / sizeof(state_names[0]))

struct dlg {
	xmlNodePtr node;
	xmlChar *id;
	enum hr_dlg_state state;
};

struct hr_dinfo {
	xmlDocPtr doc;
	xmlChar *entity;
	bool full;
	unsigned n;
	struct dlg dlg[];
};

static const struct hr_xml_reasons reasons = {
	.nwf = "Bad dialog-info: not well-formed",
	.large = "Bad dialog-info: too large",
	.doctype = "Bad dialog-info: DOCTYPE not allowed",
};

static void dinfo_destroy(void *data)
{
	struct hr_dinfo *d = data;

	for (unsigned i = 0; i < d->n; i++)
		xmlFree(d->dlg[i].id);
	xmlFree(d->entity);
	xmlFreeDoc(d->doc);
}

static bool is_dialog(const xmlNode *n)
{
	return hr_xml_is_elem(n, DINFO_NS, "dialog");
}

static bool xml_space(xmlChar c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* ---- reading ---- */

/* XML Schema nonNegativeInteger, whitespace collapsed: [+]digits */
static bool version_ok(const xmlChar *v)
{
	const xmlChar *p = v;

	while (xml_space(*p))
		p++;
	if (*p == '+')
		p++;
	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9')
		p++;
	while (xml_space(*p))
		p++;
	return !*p;
}

/* RFC 4235 4.1: version, a nonNegativeInteger */
static int version_check(xmlNodePtr root, const char **why)
{
	xmlChar *v;
	bool ok;

	if (hr_xml_prop(root, "version", &v))
		return ENOMEM;
	ok = v && version_ok(v);
	xmlFree(v);
	if (!ok) {
		*why = "Bad dialog-info: bad version";
		return EBADMSG;
	}
	return 0;
}

/* RFC 4235 4.1: state, full or partial */
static int state_attr(xmlNodePtr root, bool *full, const char **why)
{
	xmlChar *v;
	bool ok;

	if (hr_xml_prop(root, "state", &v))
		return ENOMEM;
	*full = xmlStrEqual(v, BAD_CAST "full");
	ok = *full || xmlStrEqual(v, BAD_CAST "partial");
	xmlFree(v);
	if (!ok) {
		*why = "Bad dialog-info: state is neither full nor partial";
		return EBADMSG;
	}
	return 0;
}

/* RFC 4235 4.1: <dialog-info> with version, state and entity */
static int root_check(struct hr_dinfo *d, const char **why)
{
	xmlNodePtr root = xmlDocGetRootElement(d->doc);
	int err;

	if (!root || !xmlStrEqual(root->name, BAD_CAST "dialog-info")) {
		*why = "Bad dialog-info: root is not dialog-info";
		return EBADMSG;
	}
	if (!root->ns || !xmlStrEqual(root->ns->href, BAD_CAST DINFO_NS)) {
		*why = "Bad dialog-info: not in the dialog-info namespace";
		return EBADMSG;
	}
	err = version_check(root, why);
	if (!err)
		err = state_attr(root, &d->full, why);
	if (err)
		return err;
	if (hr_xml_prop(root, "entity", &d->entity))
		return ENOMEM;
	if (!d->entity || !*d->entity) {
		*why = "Bad dialog-info: no entity";
		return EBADMSG;
	}
	return 0;
}

/* The text of <state>, whitespace around it aside (RFC 4235 4.1.2), in
 * any case: RFC 4235 3.7.1's diagram writes "Trying", and Kamailio 5.6
 * publishes that. */
static int state_word(const xmlChar *v, enum hr_dlg_state *st,
	const char **why)
{
	const xmlChar *end;
	size_t len;

	while (xml_space(*v))
		v++;
	end = v + xmlStrlen(v);
	while (end > v && xml_space(end[-1]))
		end--;
	len = (size_t)(end - v);
	for (size_t i = 0; i < NSTATES; i++) {
		if (xmlStrlen(BAD_CAST state_names[i]) == (int)len &&
		    !xmlStrncasecmp(v, BAD_CAST state_names[i], (int)len)) {
			*st = (enum hr_dlg_state)i;
			return 0;
		}
	}
	*why = "Bad dialog-info: unknown dialog state";
	return EBADMSG;
}

/* RFC 4235 4.1.1: exactly one <state> in a <dialog> */
static int state_read(xmlNodePtr dialog, enum hr_dlg_state *st,
	const char **why)
{
	xmlNodePtr s = NULL;
	xmlChar *v;
	int err;

	for (xmlNodePtr k = dialog->children; k; k = k->next) {
		if (!hr_xml_is_elem(k, DINFO_NS, "state"))
			continue;
		if (s) {
			*why = "Bad dialog-info: dialog with two states";
			return EBADMSG;
		}
		s = k;
	}
	if (!s) {
		*why = "Bad dialog-info: dialog without state";
		return EBADMSG;
	}
	v = xmlNodeGetContent(s);
	if (!v)
		return ENOMEM;
	err = state_word(v, st, why);
	/* what a watcher gets is the state's name as RFC 4235 4.1.2's
	 * examples write it: phones compare it so */
	if (!err && !xmlStrEqual(v, BAD_CAST state_names[*st]))
		xmlNodeSetContent(s, BAD_CAST state_names[*st]);
	xmlFree(v);
	return err;
}

/* RFC 4235 4.4: a dialog's elements in the schema's order, other
 * namespaces' last (Kamailio 5.6 writes <remote> before <local>) */
static unsigned child_rank(const xmlNode *k)
{
	static const char *const order[] = { "state", "duration",
		"replaces", "referred-by", "route-set", "local", "remote" };
	unsigned n = sizeof(order) / sizeof(order[0]);

	for (unsigned i = 0; i < n; i++) {
		if (hr_xml_is_elem(k, DINFO_NS, order[i]))
			return i;
	}
	return n;
}

/* Put dialog's child elements in the schema's order, each rank's in the
 * order given; the text between them (white space: the schema has no
 * mixed content) goes. A published document is read once, so that what
 * is copied from it to watchers is valid. */
static void reorder(xmlNodePtr dialog)
{
	xmlNodePtr k = dialog->children, next, moved[8] = { 0 }, last[8];
	unsigned r;

	for (; k; k = next) {
		next = k->next;
		xmlUnlinkNode(k);
		if (k->type != XML_ELEMENT_NODE) {
			xmlFreeNode(k);
			continue;
		}
		r = child_rank(k);
		if (!moved[r])
			moved[r] = k;
		else
			xmlAddNextSibling(last[r], k);
		last[r] = k;
	}
	for (r = 0; r < 8; r++) {
		for (k = moved[r]; k; k = next) {
			next = k->next;
			xmlUnlinkNode(k);
			xmlAddChild(dialog, k);
		}
	}
}

/* RFC 4235 4.1.1: an id, and a state */
static int dialog_read(struct dlg *g, xmlNodePtr n, const char **why)
{
	g->node = n;
	if (hr_xml_prop(n, "id", &g->id))
		return ENOMEM;
	if (!g->id || !*g->id) {
		*why = "Bad dialog-info: dialog without id";
		return EBADMSG;
	}
	reorder(n);
	return state_read(n, &g->state, why);
}

static int by_id(const void *a, const void *b)
{
	const struct dlg *x = *(const struct dlg *const *)a;
	const struct dlg *y = *(const struct dlg *const *)b;

	return xmlStrcmp(x->id, y->id);
}

/* RFC 4235 4.1.1: the id identifies the dialog within the document;
 * sorted, so that many dialogs cost n log n */
static int ids_unique(const struct hr_dinfo *d, const char **why)
{
	const struct dlg **v;
	int err = 0;

	if (d->n < 2)
		return 0;
	v = calloc(d->n, sizeof(*v));
	if (!v)
		return ENOMEM;
	for (unsigned i = 0; i < d->n; i++)
		v[i] = &d->dlg[i];
	qsort(v, d->n, sizeof(*v), by_id);
	for (unsigned i = 1; i < d->n && !err; i++) {
		if (xmlStrEqual(v[i]->id, v[i - 1]->id)) {
			*why = "Bad dialog-info: two dialogs with one id";
			err = EBADMSG;
		}
	}
	free(v);
	return err;
}

static int dialogs_read(struct hr_dinfo *d, const char **why)
{
	int err = 0;

	for (xmlNodePtr k = xmlDocGetRootElement(d->doc)->children;
	     k && !err; k = k->next) {
		if (is_dialog(k))
			err = dialog_read(&d->dlg[d->n++], k, why);
	}
	return err ? err : ids_unique(d, why);
}

/* Dialogs among the root's children; none without a root */
static unsigned dialogs_count(xmlDocPtr doc)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);
	unsigned n = 0;

	for (xmlNodePtr k = root ? root->children : NULL; k; k = k->next)
		n += is_dialog(k);
	return n;
}

/* A publication around doc (its own from here on, freed on failure),
 * with room for its dialogs: n is below INT_MAX (a body is), so the size
 * cannot wrap */
static struct hr_dinfo *dinfo_alloc(xmlDocPtr doc)
{
	size_t n = dialogs_count(doc);
	struct hr_dinfo *d;

	d = hr_mem_zalloc(sizeof(*d) + n * sizeof(d->dlg[0]), dinfo_destroy);
	if (d)
		d->doc = doc;
	else
		xmlFreeDoc(doc);
	return d;
}

int hr_dinfo_parse(struct hr_dinfo **docp, const char *p, size_t len,
	const char **why)
{
	const char *reason = NULL;
	struct hr_dinfo *d = NULL;
	xmlDocPtr doc = NULL;
	int err;

	if (why)
		*why = NULL;
	if (!docp || (!p && len))
		return EINVAL;
	err = hr_xml_read(&doc, p, len, &reasons, &reason);
	if (!err) {
		d = dinfo_alloc(doc);
		err = d ? root_check(d, &reason) : ENOMEM;
	}
	if (!err)
		err = dialogs_read(d, &reason);
	if (!err) {
		*docp = d;
		return 0;
	}
	hr_mem_deref(d);
	if (err == EBADMSG && why)
		*why = reason;
	return err;
}

const char *hr_dinfo_entity(const struct hr_dinfo *d)
{
	return d ? (const char *)d->entity : NULL;
}

bool hr_dinfo_full(const struct hr_dinfo *d)
{
	return d && d->full;
}

unsigned hr_dinfo_ndialogs(const struct hr_dinfo *d)
{
	return d ? d->n : 0;
}

const char *hr_dinfo_id(const struct hr_dinfo *d, unsigned i)
{
	return d && i < d->n ? (const char *)d->dlg[i].id : NULL;
}

enum hr_dlg_state hr_dinfo_state(const struct hr_dinfo *d, unsigned i)
{
	return d && i < d->n ? d->dlg[i].state : HR_DLG_TERMINATED;
}

const char *hr_dlg_state_name(enum hr_dlg_state s)
{
	return (unsigned)s < NSTATES ? state_names[s] : NULL;
}

/* ---- writing ---- */

/* RFC 4235 4.1: dialog-info the default namespace (desk phones) */
static int root_start(xmlTextWriterPtr w, const char *entity,
	unsigned version, bool full)
{
	if (xmlTextWriterStartElement(w, BAD_CAST "dialog-info") < 0 ||
	    hr_xml_attr(w, "xmlns", DINFO_NS) < 0 ||
	    hr_xml_attr_u64(w, "version", version) < 0 ||
	    hr_xml_attr(w, "state", full ? "full" : "partial") < 0 ||
	    hr_xml_attr(w, "entity", entity) < 0)
		return -1;
	return 0;
}

/* Who the other party is (RFC 4235 4.1.5, 4.1.6) */
static bool is_remote(const xmlNode *n)
{
	return hr_xml_is_elem(n, DINFO_NS, "remote") ||
		hr_xml_is_elem(n, DINFO_NS, "referred-by");
}

static int compose_write(xmlTextWriterPtr w, const char *entity,
	unsigned version, bool full, const struct hr_dinfo_ref *v,
	unsigned n, bool private_remote)
{
	struct hr_xml_copy c;
	int err;

	if (root_start(w, entity, version, full) < 0)
		return ENOMEM;
	err = hr_xml_copy_init(&c, w, DINFO_NS,
		private_remote ? is_remote : NULL);
	for (unsigned i = 0; !err && i < n; i++)
		err = hr_xml_copy_top(&c, v[i].doc->dlg[v[i].i].node);
	hr_xml_copy_free(&c);
	if (!err && xmlTextWriterEndElement(w) < 0)
		err = ENOMEM;
	return err;
}

static int refs_check(const struct hr_dinfo_ref *v, unsigned n)
{
	if (n && !v)
		return EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (!v[i].doc || v[i].i >= v[i].doc->n)
			return EINVAL;
	}
	return 0;
}

int hr_dinfo_compose(struct hr_buf *buf, const char *entity,
	unsigned version, bool full, const struct hr_dinfo_ref *v, unsigned n,
	bool private_remote)
{
	struct hr_xml_out o;
	int err;

	if (!buf || !hr_xml_str_ok(entity) || refs_check(v, n))
		return EINVAL;
	err = hr_xml_out_open(&o, buf);
	if (err)
		return err;
	return hr_xml_out_close(&o, compose_write(o.w, entity, version, full,
		v, n, private_remote));
}
