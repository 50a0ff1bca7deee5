/*
 * The core's changes into the journal (journal.c): the control hooks the
 * watch points the layers below offer (the registrar's bindings, the
 * notifier's subscriptions, each PUBLISH-fed package's publications) and
 * journals the rules it applies itself and the users the core hears of.
 * Everything here runs on the core thread and only appends: the journal
 * never waits for a reader.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include "packages/publish.h"
#include "control_int.h"

#define HR_LOG_MODULE "control"

static const char *const kind_names[HR_CTL_KINDS] = {
	[HR_CTL_KIND_BINDING] = "binding",
	[HR_CTL_KIND_SUBSCRIPTION] = "subscription",
	[HR_CTL_KIND_PUBLICATION] = "publication",
	[HR_CTL_KIND_RULE] = "rule",
	[HR_CTL_KIND_USER] = "user",
	[HR_CTL_KIND_TRACE] = "trace",
};

const char *hr_ctl_kind_name(enum hr_ctl_kind k)
{
	return (unsigned)k < HR_CTL_KINDS ? kind_names[k] : NULL;
}

int hr_ctl_kind_decode(const char *name, enum hr_ctl_kind *k)
{
	for (unsigned i = 0; name && i < HR_CTL_KINDS; i++) {
		if (!strcmp(name, kind_names[i])) {
			*k = (enum hr_ctl_kind)i;
			return 0;
		}
	}
	return EINVAL;
}

/* ---- building an event ---- */

static void str(struct hr_ctl_event *e, const char *name, const char *v)
{
	if (v && e->nf < HR_CTL_FIELDS_MAX)
		e->f[e->nf++] = (struct hr_ctl_field){ .name = name, .str = v };
}

static void num(struct hr_ctl_event *e, const char *name, int64_t v)
{
	if (e->nf < HR_CTL_FIELDS_MAX)
		e->f[e->nf++] = (struct hr_ctl_field){ .name = name, .num = v };
}

static int64_t left(int64_t expires_at)
{
	int64_t s = expires_at - hr_wall_s();

	return s > 0 ? s : 0;
}

int hr_ctl_journal_add(struct hr_control *ctl, const struct hr_ctl_event *e)
{
	/* the journal counts what it loses */
	return ctl->journal ? hr_journal_add(ctl->journal, e) : ENOMEM;
}

static void add(struct hr_control *ctl, const struct hr_ctl_event *e)
{
	if (hr_ctl_journal_add(ctl, e))
		HR_DEBUG("journal: a %s event lost", hr_ctl_kind_name(e->kind));
}

/* ---- bindings (RFC 3680 5.2's events, as an operator names them) ---- */

static const char *binding_op(enum hr_reg_event ev)
{
	switch (ev) {
	case HR_REG_REGISTERED:
	case HR_REG_CREATED:
		return "added";
	case HR_REG_REFRESHED:
	case HR_REG_SHORTENED:
		return "refreshed";
	case HR_REG_EXPIRED:
		return "expired";
	default:
		return "removed";
	}
}

static void on_binding(const struct hr_binding *b, enum hr_reg_event ev,
	void *arg)
{
	struct hr_ctl_event e = { .kind = HR_CTL_KIND_BINDING,
		.op = binding_op(ev), .name = b->aor };
	bool gone = ev == HR_REG_EXPIRED || ev == HR_REG_DEACTIVATED ||
		ev == HR_REG_UNREGISTERED;

	str(&e, "aor", b->aor);
	str(&e, "id", b->id);
	str(&e, "contact", b->uri);
	num(&e, "expires_in", gone ? 0 : left(b->expires_at));
	add(arg, &e);
}

/* ---- subscriptions ---- */

static void on_sub(const struct hr_sub_info *si, enum hr_sub_change ch,
	void *arg)
{
	static const char *const ops[] = { [HR_SUB_CREATED] = "created",
		[HR_SUB_UPDATED] = "updated", [HR_SUB_ENDED] = "terminated" };
	bool ended = ch == HR_SUB_ENDED;
	struct hr_ctl_event e = { .kind = HR_CTL_KIND_SUBSCRIPTION,
		.op = ops[ch], .name = si->resource,
		.package = si->package };

	str(&e, "id", si->id);
	str(&e, "event", si->package);
	str(&e, "resource", si->resource);
	str(&e, "watcher", si->watcher);
	str(&e, "state", ended ? "terminated" :
		hr_sub_state_name(si->state));
	if (ended)
		str(&e, "reason", hr_sub_reason_name(si->reason));
	num(&e, "expires_in", ended ? 0 : left(si->expires_at));
	add(arg, &e);
}

/* ---- publications ---- */

static void on_pub(const char *event, const char *resource,
	const char *etag, enum hr_pub_change ch, void *arg)
{
	static const char *const ops[] = {
		[HR_PUB_PUBLISHED] = "published",
		[HR_PUB_REFRESHED] = "refreshed",
		[HR_PUB_MODIFIED] = "modified", [HR_PUB_REMOVED] = "removed",
		[HR_PUB_EXPIRED] = "expired" };
	struct hr_ctl_event e = { .kind = HR_CTL_KIND_PUBLICATION,
		.op = ops[ch], .name = resource, .package = event };

	str(&e, "event", event);
	str(&e, "presentity", resource);
	str(&e, "etag", etag);
	add(arg, &e);
}

/* ---- rules and users: the control's own ---- */

void hr_ctl_feed_rule(struct hr_control *ctl, enum hr_ctl_pkg pkg,
	const char *resource, const char *watcher, const char *action)
{
	static const char *const pkgs[] = { [HR_CTL_PRESENCE] = "presence",
		[HR_CTL_REG] = "reg", [HR_CTL_DIALOG] = "dialog" };
	struct hr_ctl_event e = { .kind = HR_CTL_KIND_RULE,
		.op = action ? "set" : "removed", .name = resource,
		.package = pkgs[pkg] };

	str(&e, "event", pkgs[pkg]);
	str(&e, "resource", resource);
	str(&e, "watcher", watcher);
	str(&e, "action", action);
	add(ctl, &e);
}

void hr_ctl_feed_user(struct hr_control *ctl, const char *user,
	const char *op)
{
	struct hr_ctl_event e = { .kind = HR_CTL_KIND_USER, .op = op,
		.name = user };

	if (!ctl || !ctl->journal)
		return;
	str(&e, "user", user);
	add(ctl, &e);
}

/* ---- the journal's life ---- */

/* The publications of each PUBLISH-fed package the control has. */
static unsigned pubs(const struct hr_control *ctl, struct hr_publish *out[3])
{
	const struct hr_control_cfg *c = &ctl->cfg;
	unsigned n = 0;

	if (c->presence)
		out[n++] = hr_presence_publish(c->presence);
	if (c->dialog)
		out[n++] = hr_dlgpkg_publish(c->dialog);
	if (c->mwi)
		out[n++] = hr_mwipkg_publish(c->mwi);
	return n;
}

static int hook(struct hr_control *ctl)
{
	struct hr_publish *p[3];
	unsigned n = pubs(ctl, p);
	int err = 0;

	if (ctl->cfg.registrar)
		err = hr_registrar_watch(ctl->cfg.registrar, on_binding, ctl);
	if (!err && ctl->cfg.ev)
		err = hr_events_watch(ctl->cfg.ev, on_sub, ctl);
	for (unsigned i = 0; i < n && !err; i++)
		err = hr_publish_watch(p[i], on_pub, ctl);
	ctl->watching = true;
	return err;
}

static void unhook(struct hr_control *ctl)
{
	struct hr_publish *p[3];
	unsigned n = pubs(ctl, p);

	if (!ctl->watching)
		return;
	if (ctl->cfg.registrar)
		hr_registrar_unwatch(ctl->cfg.registrar, on_binding, ctl);
	if (ctl->cfg.ev)
		hr_events_unwatch(ctl->cfg.ev, on_sub, ctl);
	for (unsigned i = 0; i < n; i++)
		hr_publish_unwatch(p[i], on_pub, ctl);
	ctl->watching = false;
}

int hr_ctl_feed_open(struct hr_control *ctl)
{
	struct timeval tv;
	unsigned cap = ctl->cfg.feed_events ? ctl->cfg.feed_events :
		HR_CTL_FEED_EVENTS;
	int err;

	/* above every id an earlier run gave (journal.c) */
	gettimeofday(&tv, NULL);
	err = hr_journal_alloc(&ctl->journal, cap,
		(uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec);
	if (!err)
		err = hook(ctl);
	return err;
}

void hr_ctl_feed_close(struct hr_control *ctl)
{
	unhook(ctl);
	hr_journal_free(ctl->journal);
	ctl->journal = NULL;
}

/* ---- the readers' side ---- */

uint64_t hr_ctl_feed_last(struct hr_control *ctl)
{
	return hr_journal_last(ctl->journal);
}

int hr_ctl_feed_next(struct hr_control *ctl, uint64_t after,
	struct hr_ctl_event *e)
{
	return hr_journal_next(ctl->journal, after, e);
}

void hr_ctl_feed_put(const struct hr_ctl_event *e)
{
	hr_journal_put(e);
}

uint64_t hr_ctl_feed_wait(struct hr_control *ctl, uint64_t after,
	unsigned ms)
{
	return hr_journal_wait(ctl->journal, after, ms);
}

void hr_ctl_feed_kick(struct hr_control *ctl)
{
	hr_journal_kick(ctl->journal);
}

void hr_ctl_feed_stats(struct hr_control *ctl, struct hr_ctl_feed_stats *st)
{
	hr_journal_stats(ctl->journal, st);
}
