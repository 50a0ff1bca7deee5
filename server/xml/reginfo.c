/* reginfo documents (RFC 3680 5): the body of the reg event package. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "xml_int.h"

#define REGINFO_NS "urn:ietf:params:xml:ns:reginfo"

/* RFC 3680 5.1: the values of the contact's event attribute */
static const char *const events[] = {
	"registered", "created", "refreshed", "shortened", "expired",
	"deactivated", "probation", "unregistered", "rejected",
};

static const char *const reg_states[] = {
	[HR_REG_INIT] = "init",
	[HR_REG_ACTIVE] = "active",
	[HR_REG_TERMINATED] = "terminated",
};

static int params_check(const struct hr_reginfo_contact *c)
{
	const char *v;

	if (c->n_unknown_params && !c->unknown_param_names)
		return EINVAL;
	for (unsigned i = 0; i < c->n_unknown_params; i++) {
		v = c->unknown_param_values ? c->unknown_param_values[i] :
			NULL;
		if (!hr_xml_req_ok(c->unknown_param_names[i]) ||
		    !hr_xml_opt_ok(v))
			return EINVAL;
	}
	return 0;
}

static int contact_check(const struct hr_reginfo_contact *c)
{
	if (!hr_xml_req_ok(c->id) || !hr_xml_req_ok(c->uri) ||
	    !hr_xml_word_ok(c->event, events,
		sizeof(events) / sizeof(events[0])) ||
	    !hr_xml_opt_ok(c->display_name) || !hr_xml_opt_ok(c->callid))
		return EINVAL;
	if (c->q > 1000)
		return EINVAL;
	/* RFC 3680 5.1: shortened MUST carry expires, probation
	 * retry-after */
	if (!strcmp(c->event, "shortened") && c->expires < 0)
		return EINVAL;
	if (!strcmp(c->event, "probation") && c->retry_after < 0)
		return EINVAL;
	return params_check(c);
}

static int reg_check(const struct hr_reginfo_reg *r)
{
	int err;

	if (!hr_xml_req_ok(r->aor) || !hr_xml_req_ok(r->id) ||
	    (unsigned)r->state > HR_REG_TERMINATED ||
	    (r->ncontacts && !r->contacts))
		return EINVAL;
	for (unsigned i = 0; i < r->ncontacts; i++) {
		err = contact_check(&r->contacts[i]);
		if (err)
			return err;
	}
	return 0;
}

/* Everything is checked before the first byte is written. */
static int doc_check(enum hr_reginfo_state state,
	const struct hr_reginfo_reg *regs, unsigned nregs)
{
	int err;

	if ((unsigned)state > HR_REGINFO_PARTIAL || (nregs && !regs))
		return EINVAL;
	for (unsigned i = 0; i < nregs; i++) {
		err = reg_check(&regs[i]);
		if (err)
			return err;
	}
	return 0;
}

/* RFC 3261 20.10 qvalue: "0.5", "1", "0.125" */
static int attr_q(xmlTextWriterPtr w, int q)
{
	char tmp[8];
	size_t n;

	if (q < 0)
		return 0;
	n = (size_t)snprintf(tmp, sizeof(tmp), "%d.%03d", q / 1000,
		q % 1000);
	while (tmp[n - 1] == '0')
		n--;
	if (tmp[n - 1] == '.')
		n--;
	tmp[n] = '\0';
	return hr_xml_attr(w, "q", tmp);
}

/* RFC 3680 5.1: name attribute, the value as content (empty if none) */
static int params_write(xmlTextWriterPtr w,
	const struct hr_reginfo_contact *c)
{
	const char *v;

	for (unsigned i = 0; i < c->n_unknown_params; i++) {
		v = c->unknown_param_values ? c->unknown_param_values[i] :
			NULL;
		if (xmlTextWriterStartElement(w,
			BAD_CAST "unknown-param") < 0 ||
		    hr_xml_attr(w, "name", c->unknown_param_names[i]) < 0 ||
		    (v && xmlTextWriterWriteString(w, BAD_CAST v) < 0) ||
		    xmlTextWriterEndElement(w) < 0)
			return -1;
	}
	return 0;
}

static int contact_attrs(xmlTextWriterPtr w,
	const struct hr_reginfo_contact *c)
{
	if (hr_xml_attr(w, "id", c->id) < 0 ||
	    hr_xml_attr(w, "state", c->active ? "active" :
		"terminated") < 0 ||
	    hr_xml_attr(w, "event", c->event) < 0 ||
	    hr_xml_attr_opt(w, "expires", c->expires) < 0 ||
	    hr_xml_attr_opt(w, "duration-registered",
		c->duration_registered) < 0 ||
	    attr_q(w, c->q) < 0 ||
	    (c->callid && hr_xml_attr(w, "callid", c->callid) < 0) ||
	    hr_xml_attr_opt(w, "cseq", c->cseq) < 0)
		return -1;
	if (!strcmp(c->event, "probation"))
		return hr_xml_attr_opt(w, "retry-after", c->retry_after);
	return 0;
}

/* children in the schema's order: uri, display-name, unknown-param */
static int contact_write(xmlTextWriterPtr w,
	const struct hr_reginfo_contact *c)
{
	if (xmlTextWriterStartElement(w, BAD_CAST "contact") < 0 ||
	    contact_attrs(w, c) < 0 || hr_xml_elem(w, "uri", c->uri) < 0)
		return -1;
	if (c->display_name && *c->display_name &&
	    hr_xml_elem(w, "display-name", c->display_name) < 0)
		return -1;
	if (params_write(w, c) < 0)
		return -1;
	return xmlTextWriterEndElement(w);
}

static int reg_write(xmlTextWriterPtr w, const struct hr_reginfo_reg *r)
{
	if (xmlTextWriterStartElement(w, BAD_CAST "registration") < 0 ||
	    hr_xml_attr(w, "aor", r->aor) < 0 ||
	    hr_xml_attr(w, "id", r->id) < 0 ||
	    hr_xml_attr(w, "state", reg_states[r->state]) < 0)
		return -1;
	for (unsigned i = 0; i < r->ncontacts; i++) {
		if (contact_write(w, &r->contacts[i]) < 0)
			return -1;
	}
	return xmlTextWriterEndElement(w);
}

static int doc_write(xmlTextWriterPtr w, unsigned version,
	enum hr_reginfo_state state, const struct hr_reginfo_reg *regs,
	unsigned nregs)
{
	/* RFC 3680 5.1: version and state MUST be present */
	if (xmlTextWriterStartElementNS(w, NULL, BAD_CAST "reginfo",
		BAD_CAST REGINFO_NS) < 0 ||
	    hr_xml_attr_u64(w, "version", version) < 0 ||
	    hr_xml_attr(w, "state", state == HR_REGINFO_FULL ? "full" :
		"partial") < 0)
		return -1;
	for (unsigned i = 0; i < nregs; i++) {
		if (reg_write(w, &regs[i]) < 0)
			return -1;
	}
	return xmlTextWriterEndElement(w);
}

int hr_reginfo_write(struct hr_buf *buf, unsigned version,
	enum hr_reginfo_state state, const struct hr_reginfo_reg *regs,
	unsigned nregs)
{
	struct hr_xml_out o;
	int err;

	if (!buf)
		return EINVAL;
	err = doc_check(state, regs, nregs);
	if (err)
		return err;
	err = hr_xml_out_open(&o, buf);
	if (err)
		return err;
	if (doc_write(o.w, version, state, regs, nregs) < 0)
		err = ENOMEM;
	return hr_xml_out_close(&o, err);
}
