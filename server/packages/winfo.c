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

/* ---- the watchers of other nodes (a cluster) ---- */

static void remote_destroy(void *data)
{
	struct remote *r = data;

	if (!r->pr)
		return;  /* never linked */
	hr_list_unlink(&r->le);
	hr_hash_unlink(&r->pr->p->remote, &r->le_id);
	hr_mem_deref(r->pr);
}

static struct remote *remote_find(const struct hr_presence *p,
	const char *id)
{
	return hr_hash_find_str(&p->remote, id, offsetof(struct remote, id));
}

static void remote_set(struct remote *r, enum hr_sub_state state,
	int64_t expires_at)
{
	r->state = state;
	r->expires_at = expires_at;
}

static struct remote *remote_add(struct hr_presence *p, const char *id,
	const char *resource, const char *watcher)
{
	size_t n = strlen(id) + 1, w = strlen(watcher) + 1;
	struct remote *r = hr_mem_zalloc(sizeof(*r) + n + w, remote_destroy);

	if (r)
		r->pr = hr_pres_get(p, resource);
	if (!r || !r->pr) {
		hr_mem_deref(r);
		HR_WARN("no memory: watcher %s of %s (another node's) not "
			"listed", watcher, resource);
		return NULL;
	}
	memcpy(r->id, id, n);
	memcpy(r->id + n, watcher, w);
	r->watcher = r->id + n;
	hr_list_append(&r->pr->remote, &r->le, r);
	hr_hash_append(&p->remote, hr_hash_bytes(id, n - 1), &r->le_id, r);
	return r;
}

static void remote_del(struct remote *r)
{
	struct presentity *pr = hr_mem_ref(r->pr);

	hr_mem_deref(r);
	hr_pres_release(pr);
	hr_mem_deref(pr);
}

static const char *status_name(enum hr_sub_state s)
{
	return s == HR_SUB_PENDING ? "pending" : s == HR_SUB_ACTIVE ?
		"active" : "terminated";
}

void hr_presence_watcher(struct hr_presence *p, const char *id,
	const struct hr_store_sub *row)
{
	struct remote *r;
	struct hr_sub *own;

	if (!p || p->closing)
		return;
	r = remote_find(p, id);
	/* ours (it came here meanwhile): our own changes tell of it */
	own = hr_events_find(p->ev, id);
	if (own && hr_sub_info(own)->state != HR_SUB_TERMINATED) {
		if (r)
			remote_del(r);
		return;
	}
	if (!row) {
		if (!r)
			return;
		/* RFC 3857 3.2.4: the row says no reason; most go by an
		 * un-SUBSCRIBE or expiry, which a node tells as timeout */
		hr_winfo_tell(p, r->pr->name, r->id, r->watcher, "terminated",
			"timeout", -1);
		remote_del(r);
		return;
	}
	if (!r) {
		r = remote_add(p, id, row->resource, row->watcher);
		if (!r)
			return;
		remote_set(r, row->state, row->expires_at);
		hr_winfo_tell(p, row->resource, id, r->watcher,
			status_name(row->state), "subscribe", row->expires_at);
		return;
	}
	if (r->state == HR_SUB_PENDING && row->state == HR_SUB_ACTIVE)
		hr_winfo_tell(p, row->resource, id, r->watcher, "active",
			"approved", row->expires_at);
	remote_set(r, row->state, row->expires_at);
}

void hr_winfo_remote_keep(struct hr_presence *p,
	const struct hr_sub_info *si)
{
	struct remote *r = remote_find(p, si->id);

	if (!r)
		r = remote_add(p, si->id, si->resource, si->watcher);
	if (r)
		remote_set(r, si->state, si->expires_at);
}

bool hr_winfo_remote_take(struct hr_presence *p, const char *id)
{
	struct remote *r = remote_find(p, id);

	if (!r)
		return false;
	remote_del(r);
	return true;
}

/* ---- the package ---- */

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
		for (struct hr_le *le = pr ? pr->remote.head : NULL;
		     !err && le; le = le->next) {
			const struct remote *r = le->data;

			err = grow(&f);
			if (!err)
				f.v[f.n++] = (struct hr_winfo_watcher){
					.id = r->id, .uri = r->watcher,
					.status = status_name(r->state),
					.event = "subscribe",
					.duration_subscribed = -1,
					.expiration = r->expires_at > f.now ?
						r->expires_at - f.now : 0 };
		}
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
