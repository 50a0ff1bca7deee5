/*
 * presence.winfo (RFC 3857, RFC 3858): a presentity watches who watches
 * it. Full state first (every presence subscription to it, pending or
 * active), then what changed: a watcher came (subscribe), was approved,
 * or went (timeout, rejected, deactivated...). Only the presentity itself
 * may subscribe.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pres_int.h"
#include "xml/xml.h"

#define HR_LOG_MODULE "winfo"

#define MAX_PENDING 1024

static const char *const types[] = { "application/watcherinfo+xml" };

/* One watcher change not yet told; strings packed behind it. */
struct wchange {
	const char *id;
	const char *uri;
	const char *status;
	const char *event;
	int64_t expires_at;
	char strs[];
};

/* What one presence.winfo subscription has not been told yet. */
struct wsub {
	struct wchange **v;
	unsigned n;
	unsigned cap;
	bool overflow;                /* too many: the next one is full */
};

static const char *status_of(const struct hr_sub_info *si)
{
	return si->state == HR_SUB_PENDING ? "pending" : "active";
}

static void wsub_clear(struct wsub *w)
{
	for (unsigned i = 0; i < w->n; i++)
		hr_mem_deref(w->v[i]);
	w->n = 0;
	w->overflow = false;
}

/* Keep the newest change per watcher subscription. */
static void wsub_add(struct wsub *w, struct wchange *c)
{
	for (unsigned i = 0; i < w->n; i++) {
		if (!strcmp(w->v[i]->id, c->id)) {
			hr_mem_deref(w->v[i]);
			w->v[i] = hr_mem_ref(c);
			return;
		}
	}
	if (w->n == w->cap) {
		unsigned cap = w->cap ? w->cap * 2 : 4;
		struct wchange **v;

		if (cap > MAX_PENDING ||
		    !(v = realloc(w->v, cap * sizeof(*v)))) {
			w->overflow = true;
			return;
		}
		w->v = v;
		w->cap = cap;
	}
	w->v[w->n++] = hr_mem_ref(c);
}

static int tell(struct hr_sub *wsub, void *arg)
{
	struct wsub *w = hr_sub_data(wsub);

	if (!w || hr_sub_info(wsub)->state != HR_SUB_ACTIVE)
		return 0;
	wsub_add(w, arg);
	hr_sub_changed(wsub);
	return 0;
}

void hr_winfo_tell(struct hr_presence *p, const char *resource,
	const char *id, const char *watcher, const char *status,
	const char *event, int64_t expires_at)
{
	const char *const strs[] = { id, watcher, status, event };
	struct wchange *c;
	char *s;

	if (!hr_events_has(p->ev, "presence.winfo", resource))
		return;
	c = hr_mem_zalloc(sizeof(*c) + hr_strpack_size(strs, 4), NULL);
	if (!c)
		return;
	s = c->strs;
	c->id = hr_strpack(&s, id);
	c->uri = hr_strpack(&s, watcher);
	c->status = hr_strpack(&s, status);
	c->event = hr_strpack(&s, event);
	c->expires_at = expires_at;
	hr_events_foreach(p->ev, "presence.winfo", resource, tell, c);
	hr_mem_deref(c);
}

void hr_winfo_changed(struct hr_presence *p, struct hr_sub *psub,
	const char *status, const char *event)
{
	const struct hr_sub_info *si = hr_sub_info(psub);

	hr_winfo_tell(p, si->resource, si->id, si->watcher, status, event,
		si->expires_at);
}

static enum hr_authz authorize(const struct hr_sub_info *si, void *arg)
{
	char who[512];

	(void)arg;
	/* RFC 3857 5.1: the presentity's own watcher list */
	return strcmp(hr_sub_identity(si, who, sizeof(who)), si->resource) ?
		HR_AUTHZ_REJECT : HR_AUTHZ_ACTIVE;
}

static void linked(struct hr_sub *sub, void *arg)
{
	(void)arg;
	hr_sub_set_data(sub, calloc(1, sizeof(struct wsub)));
}

static void gone(struct hr_sub *sub, void *arg)
{
	struct wsub *w = hr_sub_data(sub);

	(void)arg;
	if (!w)
		return;
	wsub_clear(w);
	free(w->v);
	free(w);
	hr_sub_set_data(sub, NULL);
}

struct full {
	struct hr_winfo_watcher *v;
	unsigned n;
	unsigned cap;
	int64_t now;
};

static int grow(struct full *f)
{
	unsigned cap;
	struct hr_winfo_watcher *v;

	if (f->n < f->cap)
		return 0;
	cap = f->cap ? f->cap * 2 : 16;
	v = realloc(f->v, cap * sizeof(*v));
	if (!v)
		return ENOMEM;
	f->v = v;
	f->cap = cap;
	return 0;
}

static int full_one(struct hr_sub *psub, void *arg)
{
	struct full *f = arg;
	const struct hr_sub_info *si = hr_sub_info(psub);
	const struct psub *ps = hr_sub_data(psub);

	if (si->state == HR_SUB_TERMINATED || !ps)
		return 0;
	if (grow(f))
		return ENOMEM;
	f->v[f->n++] = (struct hr_winfo_watcher){
		.id = si->id,
		.uri = si->watcher,
		.status = status_of(si),
		.event = ps->approved ? "approved" : "subscribe",
		.duration_subscribed = -1,
		.expiration = si->expires_at > f->now ?
			si->expires_at - f->now : 0,
	};
	return 0;
}

static int body(struct hr_sub *sub, const struct hr_sub_info *si,
	enum hr_body_kind kind, struct hr_buf *buf, void *arg)
{
	struct hr_presence *p = arg;
	struct wsub *w = hr_sub_data(sub);
	struct full f = { .now = hr_wall_s() };
	char resource[520];
	bool full = kind == HR_BODY_FULL || !w || w->overflow;
	int err = 0;

	snprintf(resource, sizeof(resource), "sip:%s", si->resource);
	if (full) {
		const struct presentity *pr = hr_pres_find(p, si->resource);

		err = hr_events_foreach(p->ev, "presence", si->resource,
			full_one, &f);
		for (struct hr_le *le = pr ? pr->waiting.head : NULL;
		     !err && le; le = le->next) {
			const struct waiting *wt = le->data;

			err = grow(&f);
			if (!err)
				f.v[f.n++] = (struct hr_winfo_watcher){
					.id = wt->id, .uri = wt->watcher,
					.status = "waiting", .event = "timeout",
					.duration_subscribed = -1,
					.expiration = -1 };
		}
	} else {
		f.v = calloc(w->n ? w->n : 1, sizeof(*f.v));
		if (!f.v)
			err = ENOMEM;
		for (unsigned i = 0; !err && i < w->n; i++) {
			const struct wchange *c = w->v[i];

			f.v[f.n++] = (struct hr_winfo_watcher){
				.id = c->id,
				.uri = c->uri,
				.status = c->status,
				.event = c->event,
				.duration_subscribed = -1,
				.expiration = !strcmp(c->status, "terminated") ?
					-1 : c->expires_at > f.now ?
					c->expires_at - f.now : 0,
			};
		}
	}
	if (!err)
		err = hr_winfo_write(buf, (unsigned)si->version, full, resource,
			"presence", f.v, f.n);
	if (!err && w)
		wsub_clear(w);
	free(f.v);
	return err;
}

void hr_winfo_init(struct hr_presence *p)
{
	struct hr_pkg *k = &p->wpkg;

	k->name = "presence.winfo";
	k->types = types;
	k->ntypes = 1;
	k->expires_default = p->cfg.sub_expires_default;
	k->expires_min = p->cfg.sub_expires_min;
	k->expires_max = p->cfg.sub_expires_max;
	k->authorize = authorize;
	k->body = body;
	k->linked = linked;
	k->gone = gone;
	k->arg = p;
}
