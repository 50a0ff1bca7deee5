/*
 * SIP traces over the admin API: POST /v1/traces starts one (an AOR, a
 * source address, or both, for a time), GET lists them, DELETE ends one.
 * The messages themselves are streamed by the live feed
 * (GET /v1/feed?kinds=trace), with credentials redacted by the sip layer.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "admin_int.h"

#define HR_LOG_MODULE "admin"

#define TRACE_SECS_DEFAULT 300

static json_t *trace_json(const struct hr_ctl_trace *t)
{
	int64_t left = t->ends_at - hr_wall_s();
	json_t *j = json_pack("{s:s, s:I, s:I}", "id", t->id,
		"expires_in", (json_int_t)(left > 0 ? left : 0),
		"messages", (json_int_t)t->messages);

	if (j && t->aor[0])
		json_object_set_new(j, "aor", json_string(t->aor));
	if (j && t->source[0])
		json_object_set_new(j, "source", json_string(t->source));
	return j;
}

/* An optional string member: true when absent or a non-empty string. */
static bool str_member(json_t *j, const char *name, const char **out)
{
	json_t *v = json_object_get(j, name);

	*out = json_string_value(v);
	return !v || (*out && **out);
}

/* POST /v1/traces {"aor": "alice@example.test", "source": "192.0.2.1",
 * "duration": 300} */
void hr_admin_trace_start(struct req *r, struct reply *rp)
{
	static const char *const allowed[] = { "aor", "source", "duration",
		NULL };
	json_t *j = hr_admin_body_json(r, rp, allowed);
	json_t *dur;
	const char *aor, *source;
	json_int_t secs = TRACE_SECS_DEFAULT;
	struct hr_ctl_trace t;
	int err;

	if (!j)
		return;
	dur = json_object_get(j, "duration");
	if (dur)
		secs = json_is_integer(dur) ? json_integer_value(dur) : -1;
	if (!str_member(j, "aor", &aor) || !str_member(j, "source", &source) ||
	    (!aor && !source)) {
		json_decref(j);
		hr_admin_problem(rp, 400, "Bad Request", "give aor (user@domain)"
			", source (an IP address, with a port or not), or both");
		return;
	}
	if (secs < 1 || secs > HR_CTL_TRACE_SECS_MAX) {
		json_decref(j);
		hr_admin_problem(rp, 400, "Bad Request", "duration is seconds, "
			"1 to 3600");
		return;
	}
	err = hr_ctl_trace_start(r->a->cfg.ctl, aor, source, (unsigned)secs,
		&t);
	json_decref(j);
	if (err == EINVAL)
		hr_admin_problem(rp, 400, "Bad Request", "aor is user@domain, "
			"source an IP address (192.0.2.1, 192.0.2.1:5060, "
			"[2001:db8::1]:5060)");
	else if (err == ENOSPC)
		hr_admin_problem(rp, 409, "Conflict", "8 traces run already: "
			"end one first");
	else if (err)
		hr_admin_problem(rp, 503, "Service Unavailable",
			"the SIP core does not answer");
	else
		hr_admin_json(rp, 201, trace_json(&t));
}

/* GET /v1/traces */
void hr_admin_traces(struct req *r, struct reply *rp)
{
	struct hr_ctl_trace t[HR_CTL_TRACES_MAX];
	json_t *items;
	unsigned n;

	if (hr_ctl_traces(r->a->cfg.ctl, t, &n)) {
		hr_admin_problem(rp, 503, "Service Unavailable",
			"the SIP core does not answer");
		return;
	}
	items = json_array();
	for (unsigned i = 0; items && i < n; i++)
		json_array_append_new(items, trace_json(&t[i]));
	hr_admin_json(rp, 200, json_pack("{s:o}", "items", items));
}

/* DELETE /v1/traces/{id} */
void hr_admin_trace_stop(struct req *r, struct reply *rp, const char *id)
{
	int err = hr_ctl_trace_stop(r->a->cfg.ctl, id);

	if (err == ENOENT)
		hr_admin_problem(rp, 404, "Not Found", "no such trace");
	else if (err)
		hr_admin_problem(rp, 503, "Service Unavailable",
			"the SIP core does not answer");
	else
		rp->status = 204;
}
