/*
 * Changes a client asks of the core that the core stores first: a rule
 * set or removed, a binding removed. The client's thread waits until the
 * change is committed and applied.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "control_int.h"

/* ---- rules ---- */

struct rulecall {
	struct hr_control *ctl;
	enum hr_ctl_pkg pkg;
	const char *resource;
	const char *watcher;
	const char *name;            /* the action's name; NULL: remove */
	int action;                  /* the package's; 0: remove */
	struct hr_ctl_waiter w;
};

/* Stored and in force (core thread): journalled, then the client hears. */
static void rule_done(int err, void *arg)
{
	struct rulecall *c = arg;

	if (!err)
		hr_ctl_feed_rule(c->ctl, c->pkg, c->resource, c->watcher,
			c->name);
	hr_ctl_waiter_done(err, &c->w);
}

static void rule_core(void *arg)
{
	struct rulecall *c = arg;
	const struct hr_control_cfg *cfg = &c->ctl->cfg;
	int err;

	switch (c->pkg) {
	case HR_CTL_REG:
		err = hr_regpkg_rule(cfg->reg, c->resource, c->watcher,
			(enum hr_reg_rule)c->action, rule_done, c);
		break;
	case HR_CTL_DIALOG:
		err = hr_dlgpkg_privacy(cfg->dialog, c->resource, c->watcher,
			(enum hr_dlg_privacy)c->action, rule_done, c);
		break;
	default:
		err = hr_presence_rule(cfg->presence, c->resource, c->watcher,
			(enum hr_pres_action)c->action, rule_done, c);
		break;
	}
	if (err)
		hr_ctl_waiter_done(err, &c->w);
}

/* The package's action named name: 0 or EINVAL. */
static int action_decode(enum hr_ctl_pkg pkg, const char *name, int *action)
{
	enum hr_reg_rule rr;
	enum hr_pres_action pa;
	enum hr_dlg_privacy dp;
	int err;

	switch (pkg) {
	case HR_CTL_REG:
		err = hr_reg_rule_decode(name, &rr);
		*action = (int)rr;
		return err;
	case HR_CTL_PRESENCE:
		err = hr_pres_action_decode(name, &pa);
		*action = (int)pa;
		return err;
	case HR_CTL_DIALOG:
		err = hr_dlg_privacy_decode(name, &dp);
		*action = (int)dp;
		return err;
	default:
		return EINVAL;
	}
}

bool hr_ctl_rule_action_valid(enum hr_ctl_pkg pkg, const char *action)
{
	int a;

	return action && !action_decode(pkg, action, &a);
}

int hr_ctl_rule_set(struct hr_control *ctl, enum hr_ctl_pkg pkg,
	const char *resource, const char *watcher, const char *action)
{
	struct rulecall c = { .ctl = ctl, .pkg = pkg, .resource = resource,
		.watcher = watcher, .name = action };

	if (action && action_decode(pkg, action, &c.action))
		return EINVAL;
	return hr_ctl_call_wait(rule_core, &c, &c.w);
}

int hr_ctl_rules_page(struct hr_ctl_reader *rd, enum hr_ctl_pkg pkg,
	const char *resource, const char *after, unsigned limit,
	hr_ctl_rule_h *h, void *arg)
{
	static const char *const names[] = { [HR_CTL_PRESENCE] = "presence",
		[HR_CTL_REG] = "reg", [HR_CTL_DIALOG] = "dialog" };

	return hr_store_rules_page(rd->rd, names[pkg], resource, after, limit,
		h, arg);
}

/* ---- bindings ---- */

/* The copies made on the core thread, handed over after the call. */
struct bindcall {
	struct hr_registrar *r;
	const char *aor;
	struct hr_ctl_binding *v;
	size_t n, size;
	int err;
};

static void binding_free(struct hr_ctl_binding *b)
{
	free((char *)b->id);
	free((char *)b->uri);
	free((char *)b->callid);
	free((char *)b->instance);
	free((char *)b->path);
	free((char *)b->user_agent);
	free((char *)b->received);
}

static int binding_copy(struct hr_ctl_binding *c, const struct hr_binding *b)
{
	*c = (struct hr_ctl_binding){ .id = strdup(b->id),
		.uri = strdup(b->uri), .callid = strdup(b->callid),
		.instance = strdup(b->instance), .path = strdup(b->path),
		.user_agent = strdup(b->user_agent),
		.received = strdup(b->received), .expires_at = b->expires_at,
		.cseq = b->cseq, .q = b->q };
	if (c->id && c->uri && c->callid && c->instance && c->path &&
	    c->user_agent && c->received)
		return 0;
	binding_free(c);
	return ENOMEM;
}

static int bind_one(const struct hr_binding *b, void *arg)
{
	struct bindcall *c = arg;

	if (c->n == c->size) {
		size_t size = c->size ? 2 * c->size : 8;
		struct hr_ctl_binding *v = realloc(c->v, size * sizeof(*v));

		if (!v)
			return ENOMEM;
		c->v = v;
		c->size = size;
	}
	if (binding_copy(&c->v[c->n], b))
		return ENOMEM;
	c->n++;
	return 0;
}

static void bind_core(void *arg)
{
	struct bindcall *c = arg;

	c->err = hr_registrar_bindings(c->r, c->aor, bind_one, c);
}

int hr_ctl_bindings(struct hr_control *ctl, const char *aor,
	hr_ctl_binding_h *h, void *arg)
{
	struct bindcall c = { .r = ctl->cfg.registrar, .aor = aor };
	int err = hr_call(bind_core, &c);

	if (!err)
		err = c.err;
	for (size_t i = 0; i < c.n; i++) {
		if (!err)
			err = h(&c.v[i], arg);
		binding_free(&c.v[i]);
	}
	free(c.v);
	return err;
}

struct deactcall {
	struct hr_registrar *r;
	const char *aor;
	const char *id;
	struct hr_ctl_waiter w;
};

static void deact_core(void *arg)
{
	struct deactcall *c = arg;
	int err = hr_registrar_deactivate(c->r, c->aor, c->id,
		hr_ctl_waiter_done, &c->w);

	if (err)
		hr_ctl_waiter_done(err, &c->w);
}

int hr_ctl_binding_remove(struct hr_control *ctl, const char *aor,
	const char *id)
{
	struct deactcall c = { .r = ctl->cfg.registrar, .aor = aor,
		.id = id };

	return hr_ctl_call_wait(deact_core, &c, &c.w);
}
