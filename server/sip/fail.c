/*
 * Every response is counted by class; every 5xx, and every 4xx by which
 * a limit refused a request, is also logged at warn with its cause and
 * counted by it (status, reason, where, errno). A 500
 * nobody can explain is a defect: the one that kept real phones from
 * registering said nothing at any log level.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "sip/sip_int.h"

#define HR_LOG_MODULE "sip"

#define LOG_PER_S 10     /* warn lines a second for one cause; the rest
			  * are counted and said in the next line */
#define UNRECORDED "no cause recorded"

static bool same_kind(const struct hr_sip_fail_count *k,
	const struct hr_resp *resp, const char *where)
{
	return k->scode == resp->scode && k->err == resp->err &&
		!strncmp(k->where, where, sizeof(k->wbuf) - 1) &&
		!strncmp(k->reason, resp->reason ? resp->reason : "",
			sizeof(k->reason) - 1);
}

/* The count of resp's kind; once every slot is taken, the last one counts
 * all other kinds (the list stays bounded whatever the causes). */
static struct hr_sip_fail_count *kind(struct hr_sip_stats *s,
	const struct hr_resp *resp)
{
	const char *where = resp->where ? resp->where : UNRECORDED;
	struct hr_sip_fail_count *k;

	for (unsigned i = 0; i < s->nfails; i++) {
		if (same_kind(&s->fails[i], resp, where))
			return &s->fails[i];
	}
	if (s->nfails == HR_SIP_FAIL_KINDS)
		return &s->fails[HR_SIP_FAIL_KINDS - 1];
	k = &s->fails[s->nfails++];
	if (s->nfails == HR_SIP_FAIL_KINDS) {
		k->where = "other causes";
		return k;
	}
	k->scode = resp->scode;
	k->err = resp->err;
	/* a where may be made for the request (a verdict's buffer): the
	 * count keeps its own copy */
	snprintf(k->wbuf, sizeof(k->wbuf), "%s", where);
	k->where = k->wbuf;
	snprintf(k->reason, sizeof(k->reason), "%s",
		resp->reason ? resp->reason : "");
	return k;
}

/* Held to LOG_PER_S lines a second per cause by the log's rate limit,
 * not per call site: one busy cause must not hide another. */
static void log_fail(const struct hr_msg *req, const struct hr_resp *resp,
	struct hr_sip_fail_count *k)
{
	static _Atomic int hr_log_slot_;
	char src[HR_SA_STRLEN], errs[96] = "";

	if (!HR_LOG_ON(HR_LOG_WARN))
		return;
	if (resp->err)
		snprintf(errs, sizeof(errs), "%s%s (%s)",
			resp->why ? ", " : "", hr_strerror(resp->err),
			strerrorname_np(resp->err) ? strerrorname_np(resp->err)
			: "?");
	hr_log_rl(&k->rl, LOG_PER_S, 1000, HR_LOG_WARN, HR_LOG_MODULE,
		"%u %s to %.*s from %s over %s, Call-ID %.*s: %s%s%s%s",
		resp->scode, resp->reason ? resp->reason : "",
		HR_PL_ARG(req->method),
		hr_sa_print(&req->src, src, sizeof(src)), hr_tp_name(req->tp),
		HR_PL_ARG(req->callid),
		resp->where ? resp->where : UNRECORDED,
		resp->why || resp->err ? ": " : "",
		resp->why ? resp->why : "", errs);
}

static const struct {
	const char *name;
	uint16_t scode;
} causes[HR_SIP_CAUSE__N] = {
	[HR_SIP_CAUSE_STORE] = { "store", 503 },
	[HR_SIP_CAUSE_UNAVAILABLE] = { "unavailable", 503 },
	[HR_SIP_CAUSE_NOT_IMPLEMENTED] = { "not_implemented", 501 },
	[HR_SIP_CAUSE_PROTOCOL] = { "protocol", 500 },
	[HR_SIP_CAUSE_MEMORY] = { "out_of_memory", 500 },
	[HR_SIP_CAUSE_INTERNAL] = { "internal", 500 },
};

const char *hr_sip_cause_name(enum hr_sip_cause c)
{
	return (unsigned)c < HR_SIP_CAUSE__N ? causes[c].name : "?";
}

uint16_t hr_sip_cause_code(enum hr_sip_cause c)
{
	return (unsigned)c < HR_SIP_CAUSE__N ? causes[c].scode : 500;
}

/* A 5xx's cause: from its errno (hr_verdict_resp makes a passing one a
 * 503), else from its status and reason. */
static enum hr_sip_cause cause_of(const struct hr_resp *resp)
{
	bool plain = !resp->reason ||
		!strcmp(resp->reason, "Server Internal Error");

	if (resp->err == ENOMEM)
		return HR_SIP_CAUSE_MEMORY;
	switch (resp->scode) {
	case 503:
		return resp->err ? HR_SIP_CAUSE_STORE :
			HR_SIP_CAUSE_UNAVAILABLE;
	case 501:
		return HR_SIP_CAUSE_NOT_IMPLEMENTED;
	case 505:
	case 513:
		return HR_SIP_CAUSE_PROTOCOL;
	case 500:
		return !resp->err && !plain ? HR_SIP_CAUSE_PROTOCOL :
			HR_SIP_CAUSE_INTERNAL;
	default:
		return HR_SIP_CAUSE_INTERNAL;
	}
}

static void count_5xx(struct hr_sip_stats *s, const struct hr_resp *resp)
{
	enum hr_sip_cause c = cause_of(resp);
	unsigned i;

	for (i = 0; i < s->n5xx; i++) {
		if (s->server_errors[i].scode == resp->scode &&
		    s->server_errors[i].cause == c)
			break;
	}
	if (i == s->n5xx) {
		/* a few causes by a few statuses: never this many */
		if (s->n5xx == HR_SIP_5XX_KINDS)
			i = HR_SIP_5XX_KINDS - 1;
		else
			s->server_errors[s->n5xx++] = (struct hr_sip_5xx){
				.scode = resp->scode, .cause = c };
	}
	s->server_errors[i].n++;
}

void hr_sip_count_resp(struct hr_sip *sip, const struct hr_msg *req,
	const struct hr_resp *resp)
{
	struct hr_sip_stats *s = hr_sip_counters(sip);
	struct hr_sip_fail_count *k;

	if (resp->scode < 100 || resp->scode >= 700)
		return;
	s->responses[resp->scode / 100]++;
	if (resp->scode >= 500 && resp->scode < 600)
		count_5xx(s, resp);
	/* a 4xx is logged when it names its cause: a limit refused it */
	if (resp->scode < 500 && !resp->where)
		return;
	k = kind(s, resp);
	k->n++;
	if (req)
		log_fail(req, resp, k);
}
