/*
 * GET and PUT /v1/mailboxes/{aor}: an account's message summary (RFC
 * 3842) as JSON, read from the core through the control, and set by a
 * voicemail system that speaks HTTP rather than PUBLISH.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "admin_int.h"

static json_t *count_json(const struct hr_ctl_mailbox *m, int c)
{
	return json_pack("{s:I, s:I, s:I, s:I}",
		"new", (json_int_t)m->cls[c].new_msgs,
		"old", (json_int_t)m->cls[c].old_msgs,
		"new_urgent", (json_int_t)m->cls[c].new_urgent,
		"old_urgent", (json_int_t)m->cls[c].old_urgent);
}

/* {"aor":…, "waiting":…, "account":…, "voice":{…}, …}: the classes the
 * summary has only. */
static json_t *mailbox_json(const char *aor, const struct hr_ctl_mailbox *m)
{
	json_t *j = json_pack("{s:s, s:b}", "aor", aor, "waiting",
		m->waiting);

	if (j && *m->account)
		json_object_set_new(j, "account", json_string(m->account));
	for (int c = 0; j && c < HR_CTL_MWI_CLASSES; c++) {
		if (m->cls[c].present && json_object_set_new(j,
			hr_ctl_mwi_class_name((enum hr_ctl_mwi_class)c),
			count_json(m, c))) {
			json_decref(j);
			j = NULL;
		}
	}
	return j;
}

/* The summary of aor as the core has it now, answered with status. */
static void answer(struct req *r, struct reply *rp, unsigned status,
	const char *aor)
{
	struct hr_ctl_mailbox m;

	if (hr_ctl_mailbox(r->a->cfg.ctl, aor, &m)) {
		hr_admin_problem(rp, 503, "Service Unavailable",
			"the SIP core did not answer");
		return;
	}
	hr_admin_json(rp, status, mailbox_json(aor, &m));
}

void hr_admin_mailbox_get(struct req *r, struct reply *rp, const char *aor)
{
	char name[HR_CTL_NAME_MAX];

	if (hr_admin_aor(rp, aor, name))
		answer(r, rp, 200, name);
}

/* ---- PUT: {"new":2,"old":5,"new_urgent":0,"old_urgent":1,
 * "fax":{"new":1,"old":0},"waiting":true,"account":"sip:…"} ---- */

static const char *const count_fields[] = { "new", "old", "new_urgent",
	"old_urgent", NULL };

/* One count of o, if given: an integer 0..2^32-1 (RFC 3842 5.2's
 * counts fit an unsigned 32 bits); false after a 400. */
static bool count(struct reply *rp, json_t *o, const char *name,
	uint32_t *out, bool *given)
{
	json_t *v = json_object_get(o, name);
	json_int_t n = json_integer_value(v);
	char detail[96];

	if (!v)
		return true;
	if (json_is_integer(v) && n >= 0 && n <= (json_int_t)UINT32_MAX) {
		*out = (uint32_t)n;
		*given = true;
		return true;
	}
	snprintf(detail, sizeof(detail), "'%s' must be an integer from 0 to "
		"4294967295", name);
	hr_admin_problem(rp, 400, "Bad Request", detail);
	return false;
}

/* A class's counts from o (the body itself for voice); present when any
 * is given, urgent when either urgent count is. */
static bool counts(struct reply *rp, json_t *o, struct hr_ctl_mailbox *m,
	int c)
{
	bool given = false, urgent = false;

	if (!count(rp, o, "new", &m->cls[c].new_msgs, &given) ||
	    !count(rp, o, "old", &m->cls[c].old_msgs, &given) ||
	    !count(rp, o, "new_urgent", &m->cls[c].new_urgent, &urgent) ||
	    !count(rp, o, "old_urgent", &m->cls[c].old_urgent, &urgent))
		return false;
	m->cls[c].present |= given || urgent;
	m->cls[c].urgent = urgent;
	return true;
}

/* The other classes, as objects named by their class ("fax": {…}). */
static bool classes(struct reply *rp, json_t *j, struct hr_ctl_mailbox *m)
{
	for (int c = 0; c < HR_CTL_MWI_CLASSES; c++) {
		const char *name = hr_ctl_mwi_class_name(
			(enum hr_ctl_mwi_class)c);
		json_t *o = json_object_get(j, name);
		char detail[96];

		if (!o)
			continue;
		if (!json_is_object(o)) {
			snprintf(detail, sizeof(detail), "'%s' must be an "
				"object of counts", name);
			hr_admin_problem(rp, 400, "Bad Request", detail);
			return false;
		}
		if (c == HR_CTL_MWI_VOICE && m->cls[c].present) {
			hr_admin_problem(rp, 400, "Bad Request", "voice's "
				"counts are given at the top or in 'voice', "
				"not both");
			return false;
		}
		if (!hr_admin_fields_only(rp, o, count_fields) ||
		    !counts(rp, o, m, c))
			return false;
		m->cls[c].present = true;
	}
	return true;
}

/* Messages-Waiting as given, or yes when a class has new messages. */
static bool waiting(struct reply *rp, json_t *j, struct hr_ctl_mailbox *m)
{
	json_t *w = json_object_get(j, "waiting");

	if (w && !json_is_boolean(w)) {
		hr_admin_problem(rp, 400, "Bad Request",
			"'waiting' must be true or false");
		return false;
	}
	for (int c = 0; !w && c < HR_CTL_MWI_CLASSES; c++)
		m->waiting |= m->cls[c].new_msgs || m->cls[c].new_urgent;
	if (w)
		m->waiting = json_is_true(w);
	return true;
}

/* Message-Account: a URI (the core refuses one a phone could not
 * read); none: the account's own. */
static bool account(struct reply *rp, json_t *j, struct hr_ctl_mailbox *m)
{
	json_t *a = json_object_get(j, "account");

	if (!a)
		return true;
	/* no NUL inside: the core keeps a C string */
	if (json_is_string(a) && json_string_length(a) > 0 &&
	    json_string_length(a) < sizeof(m->account) &&
	    strlen(json_string_value(a)) == json_string_length(a)) {
		memcpy(m->account, json_string_value(a), json_string_length(a));
		return true;
	}
	hr_admin_problem(rp, 400, "Bad Request", "'account' must be a URI");
	return false;
}

static bool mailbox_of(struct req *r, struct reply *rp,
	struct hr_ctl_mailbox *m)
{
	static const char *const allowed[] = { "new", "old", "new_urgent",
		"old_urgent", "waiting", "account", "voice", "fax", "pager",
		"multimedia", "text", "none", NULL };
	json_t *j = hr_admin_body_json(r, rp, allowed);
	bool ok;

	if (!j)
		return false;
	memset(m, 0, sizeof(*m));
	ok = counts(rp, j, m, HR_CTL_MWI_VOICE) && classes(rp, j, m) &&
		waiting(rp, j, m) && account(rp, j, m);
	json_decref(j);
	return ok;
}

/* Replaces what the admin said of the mailbox before (publications made
 * by PUBLISH stay): stored, its phones told, then the summary now. */
void hr_admin_mailbox_put(struct req *r, struct reply *rp, const char *aor)
{
	char name[HR_CTL_NAME_MAX];
	struct hr_ctl_mailbox m;
	int err;

	if (!hr_admin_aor(rp, aor, name) || !mailbox_of(r, rp, &m))
		return;
	err = hr_ctl_mailbox_set(r->a->cfg.ctl, name, &m);
	if (err == EINVAL)
		hr_admin_problem(rp, 400, "Bad Request",
			"'account' is not a URI a phone could read");
	else if (err == EBUSY)
		hr_admin_problem(rp, 409, "Conflict", "the mailbox's last "
			"change is being stored; try again");
	else if (err)
		hr_admin_problem(rp, 503, "Service Unavailable",
			hr_strerror(err));
	else
		answer(r, rp, 200, name);
}
