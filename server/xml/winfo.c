/* watcherinfo documents (RFC 3858): the body of the presence.winfo
 * event package. */
#include <errno.h>
#include "xml_int.h"

#define WINFO_NS "urn:ietf:params:xml:ns:watcherinfo"
#define NWORDS(a) (sizeof(a) / sizeof((a)[0]))

/* RFC 3858 5.1 and its schema (section 6): the status and event
 * attributes of a <watcher> */
static const char *const statuses[] = {
	"pending", "active", "waiting", "terminated",
};

static const char *const events[] = {
	"subscribe", "approved", "deactivated", "probation", "rejected",
	"timeout", "giveup", "noresource",
};

static bool watcher_ok(const struct hr_winfo_watcher *w)
{
	return hr_xml_req_ok(w->id) && hr_xml_req_ok(w->uri) &&
		hr_xml_opt_ok(w->display_name) &&
		hr_xml_word_ok(w->status, statuses, NWORDS(statuses)) &&
		hr_xml_word_ok(w->event, events, NWORDS(events));
}

/* Everything is checked before the first byte is written. */
static int doc_check(const char *resource, const char *package,
	const struct hr_winfo_watcher *w, unsigned n)
{
	/* RFC 3858 5.1: resource and package are required */
	if (!hr_xml_str_ok(resource) || !hr_xml_str_ok(package) ||
	    (n && !w))
		return EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (!watcher_ok(&w[i]))
			return EINVAL;
	}
	return 0;
}

/* the URI is the content; the rest are attributes */
static int watcher_write(xmlTextWriterPtr xw,
	const struct hr_winfo_watcher *w)
{
	if (xmlTextWriterStartElement(xw, BAD_CAST "watcher") < 0 ||
	    hr_xml_attr(xw, "id", w->id) < 0 ||
	    hr_xml_attr(xw, "status", w->status) < 0 ||
	    hr_xml_attr(xw, "event", w->event) < 0 ||
	    (w->display_name && *w->display_name &&
	     hr_xml_attr(xw, "display-name", w->display_name) < 0) ||
	    hr_xml_attr_opt(xw, "duration-subscribed",
		w->duration_subscribed) < 0 ||
	    hr_xml_attr_opt(xw, "expiration", w->expiration) < 0 ||
	    xmlTextWriterWriteString(xw, BAD_CAST w->uri) < 0)
		return -1;
	return xmlTextWriterEndElement(xw);
}

static int doc_write(xmlTextWriterPtr xw, unsigned version, bool full,
	const char *resource, const char *package,
	const struct hr_winfo_watcher *w, unsigned n)
{
	/* RFC 3858 5.1: version and state on <watcherinfo> */
	if (xmlTextWriterStartElementNS(xw, NULL, BAD_CAST "watcherinfo",
		BAD_CAST WINFO_NS) < 0 ||
	    hr_xml_attr_u64(xw, "version", version) < 0 ||
	    hr_xml_attr(xw, "state", full ? "full" : "partial") < 0 ||
	    xmlTextWriterStartElement(xw, BAD_CAST "watcher-list") < 0 ||
	    hr_xml_attr(xw, "resource", resource) < 0 ||
	    hr_xml_attr(xw, "package", package) < 0)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		if (watcher_write(xw, &w[i]) < 0)
			return -1;
	}
	if (xmlTextWriterEndElement(xw) < 0)
		return -1;
	return xmlTextWriterEndElement(xw);
}

int hr_winfo_write(struct hr_buf *buf, unsigned version, bool full,
	const char *resource, const char *package,
	const struct hr_winfo_watcher *w, unsigned n)
{
	struct hr_xml_out o;
	int err;

	if (!buf)
		return EINVAL;
	err = doc_check(resource, package, w, n);
	if (err)
		return err;
	err = hr_xml_out_open(&o, buf);
	if (err)
		return err;
	if (doc_write(o.w, version, full, resource, package, w, n) < 0)
		err = ENOMEM;
	return hr_xml_out_close(&o, err);
}
