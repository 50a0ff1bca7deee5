/*
 * Mailboxes: an account's message summary (RFC 3842), copied out of the
 * core into the control's plain struct, and set as a voicemail system
 * speaking HTTP says it.
 */
#include <errno.h>
#include <string.h>
#include "control_int.h"

_Static_assert((int)HR_CTL_MWI_VOICE == (int)HR_MWI_VOICE &&
	(int)HR_CTL_MWI_NONE == (int)HR_MWI_NONE &&
	(int)HR_CTL_MWI_CLASSES == (int)HR_MWI_NCLASSES, "the core's classes");
_Static_assert(HR_CTL_ACCOUNT_MAX == HR_MWI_ACCOUNT_MAX, "account's room");

static const char *const class_names[HR_CTL_MWI_CLASSES] = {
	"voice", "fax", "pager", "multimedia", "text", "none",
};

const char *hr_ctl_mwi_class_name(enum hr_ctl_mwi_class c)
{
	return (unsigned)c < HR_CTL_MWI_CLASSES ? class_names[c] : NULL;
}

static void from_core(struct hr_ctl_mailbox *out, const struct hr_mwi *s)
{
	out->waiting = s->waiting;
	memcpy(out->account, s->account, sizeof(out->account));
	for (int c = 0; c < HR_CTL_MWI_CLASSES; c++) {
		const struct hr_mwi_count *k = &s->cls[c];

		out->cls[c].present = k->present;
		out->cls[c].new_msgs = k->new_msgs;
		out->cls[c].old_msgs = k->old_msgs;
		out->cls[c].urgent = k->urgent;
		out->cls[c].new_urgent = k->new_urgent;
		out->cls[c].old_urgent = k->old_urgent;
	}
}

struct boxcall {
	struct hr_control *ctl;
	const char *account;
	struct hr_ctl_mailbox *out;
};

static void box_core(void *arg)
{
	struct boxcall *c = arg;
	struct hr_mwi s;

	hr_mwipkg_summary(c->ctl->cfg.mwi, c->account, &s);
	from_core(c->out, &s);
}

int hr_ctl_mailbox(struct hr_control *ctl, const char *account,
	struct hr_ctl_mailbox *out)
{
	struct boxcall c = { ctl, account, out };

	memset(out, 0, sizeof(*out));
	return hr_call(box_core, &c);
}

static void to_core(struct hr_mwi *s, const struct hr_ctl_mailbox *m)
{
	memset(s, 0, sizeof(*s));
	s->waiting = m->waiting;
	memcpy(s->account, m->account, sizeof(s->account));
	s->account[sizeof(s->account) - 1] = '\0';
	for (int c = 0; c < HR_CTL_MWI_CLASSES; c++) {
		struct hr_mwi_count *k = &s->cls[c];

		k->present = m->cls[c].present;
		k->new_msgs = m->cls[c].new_msgs;
		k->old_msgs = m->cls[c].old_msgs;
		k->urgent = m->cls[c].urgent;
		k->new_urgent = m->cls[c].new_urgent;
		k->old_urgent = m->cls[c].old_urgent;
	}
}

struct putcall {
	struct hr_control *ctl;
	const char *account;
	struct hr_mwi s;
	struct hr_ctl_waiter w;
};

static void put_core(void *arg)
{
	struct putcall *c = arg;
	int err = hr_mwipkg_put(c->ctl->cfg.mwi, c->account, &c->s,
		hr_ctl_waiter_done, &c->w);

	if (err)
		hr_ctl_waiter_done(err, &c->w);
}

int hr_ctl_mailbox_set(struct hr_control *ctl, const char *account,
	const struct hr_ctl_mailbox *m)
{
	struct putcall c = { .ctl = ctl, .account = account };

	to_core(&c.s, m);
	return hr_ctl_call_wait(put_core, &c, &c.w);
}
