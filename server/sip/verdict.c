/*
 * What a check of a request found, and the one mapping from a verdict
 * to a response: the handlers above sip refuse through it, so an errno
 * means the same status wherever it arose.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include "sip/sip_int.h"

#define RETRY_AFTER "Retry-After: 5\r\n"

bool hr_verdict_refuse(struct hr_verdict *v, uint16_t scode,
	const char *reason, const char *hdrs)
{
	return hr_verdict_refuse_why(v, scode, reason, hdrs, NULL, NULL);
}

bool hr_verdict_refuse_why(struct hr_verdict *v, uint16_t scode,
	const char *reason, const char *hdrs, const char *where,
	const char *why)
{
	v->scode = scode;
	v->reason = reason;
	v->hdrs = hdrs;
	v->where = where;
	v->why = why;
	v->err = 0;
	return false;
}

bool hr_verdict_fail(struct hr_verdict *v, int err, const char *where)
{
	hr_verdict_refuse_why(v, 0, NULL, NULL, where, NULL);
	v->err = err;
	return false;
}

const char *hr_verdict_hdrs(struct hr_verdict *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->hbuf, sizeof(v->hbuf), fmt, ap);
	va_end(ap);
	return v->hbuf;
}

const char *hr_verdict_where(struct hr_verdict *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->wbuf, sizeof(v->wbuf), fmt, ap);
	va_end(ap);
	return v->wbuf;
}

/* Causes that pass: the store away or its queue full. */
static bool passing(int err)
{
	switch (err) {
	case ETIMEDOUT:
	case ENOSPC:
	case EAGAIN:
	case EBUSY:
	case ENOTCONN:
	case ECONNREFUSED:
		return true;
	default:
		return false;
	}
}

void hr_verdict_resp(const struct hr_verdict *v, struct hr_resp *resp)
{
	/* RFC 3261 21.5.4: 503 with Retry-After when it will pass */
	bool later = !v->scode && passing(v->err);

	*resp = (struct hr_resp){ .scode = v->scode, .reason = v->reason,
		.hdrs = hr_pl_str(v->hdrs ? v->hdrs : ""), .where = v->where,
		.err = v->err, .why = v->why };
	if (v->scode)
		return;
	resp->scode = later ? 503 : 500;
	resp->reason = later ? "Service Unavailable" : "Server Internal Error";
	resp->hdrs = hr_pl_str(later ? RETRY_AFTER : "");
}
