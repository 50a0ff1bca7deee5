/*
 * GET and PUT /v1/mailboxes/{aor}: an account's message summary (RFC
 * 3842) as JSON, read from the core through the control, and set by a
 * voicemail system that speaks HTTP rather than PUBLISH.
 */
#include <errno.h>
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
