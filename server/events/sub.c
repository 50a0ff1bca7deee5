/*
 * Subscriptions in memory: one allocation each (the struct and its
 * strings), found by id, by dialog, and per package and resource; a count
 * per watcher identity (hr_sub_who) for the limit. Built from the stored row, so that a new
 * subscription and a recovered one are made the same way.
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "events_int.h"

#define HR_LOG_MODULE "events"

static void sub_destroy(void *data)
{
	struct hr_sub *sub = data;

	hr_tmr_cancel(&sub->tmr_exp);
	hr_sub_thr_cancel(sub);
	hr_sub_unlink(sub);
	if (sub->ct) {
		hr_ctrans_abandon(sub->ct);
		hr_mem_deref(sub->ct);
	}
	hr_mem_deref(sub->dlg);
}

/* s, or NULL when it equals other (then other is used, not a copy) */
static const char *unless(const char *s, const char *other)
{
	return s && other && !strcmp(s, other) ? NULL : s;
}

static const char *pack(char **p, const char *s, const char *other)
{
	return s && other && !strcmp(s, other) ? other : hr_strpack(p, s);
}

/* The package's own spelling of a body type (no copy per subscription). */
static const char *pkg_type(const struct hr_pkg *pkg, const char *type)
{
	for (unsigned i = 0; type && i < pkg->ntypes; i++) {
		if (!strcmp(pkg->types[i], type))
			return pkg->types[i];
	}
	return pkg->types[0];
}

/*
 * A subscription from its stored form and its dialog (taken over): one
 * allocation with its strings (about 500 bytes and the strings; at
 * 100,000 subscriptions the memory goal is 1 KB each, so equal strings
 * are stored once: the id is the dialog's local tag, the watcher's user
 * is often the resource, the From URI often the watcher).
 */
struct hr_sub *hr_sub_new(struct hr_events *ev, const struct hr_pkg *pkg,
	const struct hr_store_sub *ss, struct hr_dialog *dlg)
{
	const char *user = ss->watcher_user ? ss->watcher_user : "";
	const char *ltag = hr_dialog_local_tag(dlg);
	const char *ruri = hr_dialog_remote_uri(dlg);
	const char *const strs[] = { unless(ss->id, ltag), ss->event_id,
		ss->resource, unless(ss->watcher, ruri),
		unless(user, ss->resource) };
	size_t n = hr_strpack_size(strs, sizeof(strs) / sizeof(strs[0]));
	struct hr_sub *sub = hr_mem_zalloc_long(sizeof(*sub) + n, sub_destroy);
	char *p;

	if (!sub) {
		hr_mem_deref(dlg);
		return NULL;
	}
	p = sub->strs;
	sub->ev = ev;
	sub->pkg = pkg;
	sub->dlg = dlg;
	sub->info.package = pkg->name;
	sub->info.accept = pkg_type(pkg, ss->accept);
	sub->info.id = pack(&p, ss->id, ltag);
	sub->info.event_id = hr_strpack(&p, ss->event_id);
	sub->info.resource = hr_strpack(&p, ss->resource);
	sub->info.watcher = pack(&p, ss->watcher, ruri);
	sub->info.watcher_user = pack(&p, user, sub->info.resource);
	hr_sub_rekey(sub);
	sub->info.expires_at = ss->expires_at;
	sub->info.state = ss->state;
	sub->cseq_res = ss->cseq_reserved;
	sub->ver_res = ss->version_reserved;
	sub->owner_epoch = ss->owner_epoch;
	return sub;
}

/* ---- the lifecycle (events_int.h has the diagram) ---- */

static const char *const life_names[] = {
	[HR_LIFE_NEW] = "new",
	[HR_LIFE_LIVE] = "live",
	[HR_LIFE_ENDING] = "ending",
	[HR_LIFE_GONE] = "gone",
};

#define NLIFE (sizeof(life_names) / sizeof(life_names[0]))

/* The moves of the diagram: from -> the states it may go to. */
static const unsigned life_moves[] = {
	[HR_LIFE_NEW] = 1u << HR_LIFE_LIVE | 1u << HR_LIFE_ENDING,
	[HR_LIFE_LIVE] = 1u << HR_LIFE_ENDING | 1u << HR_LIFE_GONE,
	[HR_LIFE_ENDING] = 1u << HR_LIFE_GONE,
	[HR_LIFE_GONE] = 0,
};

static const char *life_name(enum hr_sub_life l)
{
	return (unsigned)l < NLIFE ? life_names[l] : "?";
}

void hr_sub_life_set(struct hr_sub *sub, enum hr_sub_life to)
{
	if ((unsigned)to >= NLIFE || !(life_moves[sub->life] & 1u << to)) {
		/* a bug: say which, and go on in the state asked for (one
		 * left in place would leak, or NOTIFY after its end) */
		HR_ERROR("subscription %s: no move from %s to %s",
			sub->info.id, life_name(sub->life), life_name(to));
		assert(!"a subscription moved out of its lifecycle");
	}
	sub->life = to;
}

/* The dialog's columns of a row: where each of its strings goes. */
#define COL(f) { offsetof(struct hr_dialog_rec, f), \
	offsetof(struct hr_store_sub, f) }
static const struct {
	size_t rec;
	size_t row;
} dialog_cols[] = {
	COL(callid), COL(local_tag), COL(remote_tag), COL(local_uri),
	COL(remote_uri), COL(local_contact), COL(remote_target),
	COL(route_set), COL(transport), COL(received), COL(instance),
};
#undef COL

#define STR_AT(p, off) (*(const char **)((char *)(p) + (off)))

struct hr_dialog *hr_sub_dialog_decode(const struct hr_store_sub *ss)
{
	struct hr_dialog_rec r = { .remote_cseq = ss->remote_cseq };
	struct hr_dialog *dlg = NULL;

	for (size_t i = 0; i < sizeof(dialog_cols) / sizeof(dialog_cols[0]);
	     i++)
		STR_AT(&r, dialog_cols[i].rec) = STR_AT(ss,
			dialog_cols[i].row);
	hr_dialog_decode(&dlg, &r);
	return dlg;
}

void hr_sub_to_store(const struct hr_sub *sub, struct hr_store_sub *ss)
{
	const struct hr_sub_info *si = &sub->info;
	struct hr_dialog_rec r;

	memset(ss, 0, sizeof(*ss));
	ss->id = si->id;
	ss->package = si->package;
	ss->event_id = *si->event_id ? si->event_id : NULL;
	ss->resource = si->resource;
	ss->watcher = si->watcher;
	ss->watcher_user = *si->watcher_user ? si->watcher_user : NULL;
	ss->state = si->state;
	ss->reason = hr_sub_reason_name(si->reason);
	ss->expires_at = si->expires_at;
	ss->accept = si->accept;
	ss->cseq_reserved = sub->cseq_res;
	ss->version_reserved = sub->ver_res;
	ss->owner_epoch = sub->owner_epoch;
	hr_dialog_encode(sub->dlg, &r);
	for (size_t i = 0; i < sizeof(dialog_cols) / sizeof(dialog_cols[0]);
	     i++)
		STR_AT(ss, dialog_cols[i].row) = STR_AT(&r,
			dialog_cols[i].rec);
	ss->remote_cseq = r.remote_cseq;
}

/* The device key, and a hash of it and the watcher (replacement looks
 * through every subscription to a resource: compare numbers first). */
void hr_sub_rekey(struct hr_sub *sub)
{
	const char *inst = hr_dialog_instance(sub->dlg);

	sub->contact_key = *inst ? inst : hr_dialog_target(sub->dlg);
	sub->key_hash = hr_hash_bytes(sub->contact_key,
		strlen(sub->contact_key)) ^ hr_hash_bytes(sub->info.watcher,
		strlen(sub->info.watcher));
}

/* ---- tables ---- */

static uint32_t res_hash(const char *package, const char *resource)
{
	return hr_hash_bytes(package, strlen(package)) * 31 +
		hr_hash_bytes(resource, strlen(resource));
}

static void res_destroy(void *data)
{
	struct res *r = data;

	hr_hash_unlink(&r->ev->res, &r->le);
}

struct res *hr_res_find(struct hr_events *ev, const char *package,
	const char *resource)
{
	struct hr_le *le = hr_hash_first(&ev->res, res_hash(package,
		resource));
	size_t plen = strlen(package);

	for (; le; le = le->next) {
		struct res *r = le->data;

		if (!strcmp(r->key, package) &&
		    !strcmp(r->key + plen + 1, resource))
			return r;
	}
	return NULL;
}

static struct res *res_get(struct hr_events *ev, const char *package,
	const char *resource)
{
	struct res *r = hr_res_find(ev, package, resource);
	size_t plen = strlen(package), rlen = strlen(resource);

	if (r)
		return r;
	r = hr_mem_zalloc_long(sizeof(*r) + plen + rlen + 2, res_destroy);
	if (!r)
		return NULL;
	r->ev = ev;
	memcpy(r->key, package, plen + 1);
	memcpy(r->key + plen + 1, resource, rlen + 1);
	hr_hash_append(&ev->res, res_hash(package, resource), &r->le, r);
	return r;
}

static void watcher_destroy(void *data)
{
	struct watcher *w = data;

	hr_hash_unlink(&w->ev->watchers, &w->le);
}

static struct watcher *watcher_find(struct hr_events *ev, const char *uri)
{
	return hr_hash_find_str(&ev->watchers, uri,
		offsetof(struct watcher, uri));
}

unsigned hr_watcher_count(struct hr_events *ev, const char *uri)
{
	struct watcher *w = watcher_find(ev, uri);

	return w ? w->n + w->pending : 0;
}

static struct watcher *watcher_get(struct hr_events *ev, const char *uri)
{
	struct watcher *w = watcher_find(ev, uri);
	size_t n = strlen(uri);

	if (w)
		return w;
	w = hr_mem_zalloc_long(sizeof(*w) + n + 1, watcher_destroy);
	if (!w)
		return NULL;
	w->ev = ev;
	memcpy(w->uri, uri, n + 1);
	hr_hash_append(&ev->watchers, hr_hash_bytes(uri, n), &w->le, w);
	return w;
}

/* The tables drop a resource or watcher once nothing counts on it. */
static void res_put(struct res *r)
{
	if (!r->subs.n && !r->pending) {
		/* out of the table at once: someone may hold a reference */
		hr_hash_unlink(&r->ev->res, &r->le);
		hr_mem_deref(r);
	}
}

static void watcher_put(struct watcher *w)
{
	if (!w->n && !w->pending)
		hr_mem_deref(w);
}

struct res *hr_res_hold(struct hr_events *ev, const char *package,
	const char *resource)
{
	struct res *r = res_get(ev, package, resource);

	if (r)
		r->pending++;
	return r;
}

struct watcher *hr_watcher_hold(struct hr_events *ev, const char *uri)
{
	struct watcher *w = watcher_get(ev, uri);

	if (w)
		w->pending++;
	return w;
}

void hr_res_release(struct res *r)
{
	if (r) {
		r->pending--;
		res_put(r);
	}
}

void hr_watcher_release(struct watcher *w)
{
	if (w) {
		w->pending--;
		watcher_put(w);
	}
}

int hr_sub_link(struct hr_sub *sub)
{
	struct hr_events *ev = sub->ev;
	const char *ltag;

	if (sub->res)
		return 0;
	if (sub->life == HR_LIFE_GONE)
		return EINVAL;
	sub->res = res_get(ev, sub->info.package, sub->info.resource);
	sub->w = watcher_get(ev, hr_sub_who(&sub->info));
	if (!sub->res || !sub->w) {
		if (sub->res)
			res_put(sub->res);
		if (sub->w)
			watcher_put(sub->w);
		sub->res = NULL;
		sub->w = NULL;
		return ENOMEM;
	}
	hr_list_append(&sub->res->subs, &sub->le_res, sub);
	sub->w->n++;
	ltag = hr_dialog_local_tag(sub->dlg);
	hr_hash_append(&ev->byid, hr_hash_bytes(ltag, strlen(ltag)),
		&sub->le_id, sub);
	ev->n++;
	return 0;
}

void hr_sub_unlink(struct hr_sub *sub)
{
	struct hr_events *ev = sub->ev;

	if (!sub->res)
		return;
	ev->n--;
	hr_hash_unlink(&ev->byid, &sub->le_id);
	hr_list_unlink(&sub->le_res);
	sub->w->n--;
	res_put(sub->res);
	watcher_put(sub->w);
	sub->res = NULL;
	sub->w = NULL;
}

/* RFC 6665 4.1.2 / 8.2.1: a dialog and the Event's package and id. */
struct hr_sub *hr_sub_dialog(struct hr_events *ev, const struct hr_pl *callid,
	const struct hr_pl *local_tag, const struct hr_pl *remote_tag,
	const struct hr_pl *package, const struct hr_pl *event_id)
{
	struct hr_le *le = hr_hash_first(&ev->byid,
		hr_hash_bytes(local_tag->p, local_tag->len));

	for (; le; le = le->next) {
		struct hr_sub *sub = le->data;

		if (!hr_dialog_match(sub->dlg, callid, local_tag, remote_tag) ||
		    hr_pl_strcmp(package, sub->info.package))
			continue;
		if (event_id->len ? hr_pl_strcmp(event_id, sub->info.event_id) :
		    *sub->info.event_id != '\0')
			continue;
		return sub;
	}
	return NULL;
}

struct hr_sub *hr_events_find(struct hr_events *ev, const char *id)
{
	struct hr_le *le = hr_hash_first(&ev->byid, hr_hash_bytes(id,
		strlen(id)));

	for (; le; le = le->next) {
		struct hr_sub *sub = le->data;

		if (!strcmp(sub->info.id, id))
			return sub;
	}
	return NULL;
}

/* Every subscription of package: held first, as h may end any. */
static int foreach_all(struct hr_events *ev, const char *package,
	int (*h)(struct hr_sub *sub, void *arg), void *arg)
{
	struct hr_sub **v = NULL;
	size_t n = 0, cap = 0;
	int err = 0;

	for (uint32_t i = 0; ev->byid.bucket && i <= ev->byid.mask; i++) {
		for (struct hr_le *le = ev->byid.bucket[i].head; le;
		     le = le->next) {
			struct hr_sub *sub = le->data;

			if (strcmp(sub->info.package, package) ||
			    hr_sub_over(sub))
				continue;
			if (n == cap) {
				struct hr_sub **nv;

				cap = cap ? cap * 2 : 64;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv) {
					err = ENOMEM;
					goto out;
				}
				v = nv;
			}
			v[n++] = hr_mem_ref(sub);
		}
	}
	for (size_t i = 0; i < n && !err; i++) {
		if (v[i]->res && !hr_sub_over(v[i]))  /* linked, live */
			err = h(v[i], arg);
	}
out:
	for (size_t i = 0; i < n; i++)
		hr_mem_deref(v[i]);
	free(v);
	return err;
}

int hr_events_foreach(struct hr_events *ev, const char *package,
	const char *resource, int (*h)(struct hr_sub *sub, void *arg),
	void *arg)
{
	struct res *r;
	struct hr_le *le;
	int err = 0;

	if (!resource)
		return foreach_all(ev, package, h, arg);
	r = hr_res_find(ev, package, resource);
	if (!r)
		return 0;
	/* h may unlink the subscription it is given, and so the last one
	 * may free the resource: hold it */
	hr_mem_ref(r);
	le = r->subs.head;
	while (le && !err) {
		struct hr_sub *sub = le->data;

		le = le->next;
		err = h(sub, arg);
	}
	hr_mem_deref(r);
	return err;
}

bool hr_events_has(struct hr_events *ev, const char *package,
	const char *resource)
{
	const struct res *r = hr_res_find(ev, package, resource);

	return r && r->subs.n;
}

void hr_events_stats(const struct hr_events *ev, struct hr_events_stats *st)
{
	*st = ev->stats;
}

unsigned hr_events_counts(const struct hr_events *ev,
	struct hr_events_count out[HR_EVENTS_MAX_PKGS])
{
	for (unsigned k = 0; k < ev->npkgs; k++)
		out[k] = (struct hr_events_count){ ev->pkgs[k]->name, 0, 0 };
	for (uint32_t i = 0; ev->byid.bucket && i <= ev->byid.mask; i++) {
		for (struct hr_le *le = ev->byid.bucket[i].head; le;
		     le = le->next) {
			const struct hr_sub *sub = le->data;
			unsigned k = 0;

			while (k < ev->npkgs && ev->pkgs[k] != sub->pkg)
				k++;
			if (k == ev->npkgs || hr_sub_over(sub))
				continue;
			out[k].active += sub->info.state == HR_SUB_ACTIVE;
			out[k].pending += sub->info.state == HR_SUB_PENDING;
		}
	}
	return ev->npkgs;
}

/* Ask the package again; what it no longer allows ends (RFC 6665
 * 4.2.2: rejected; a resource gone: noresource). */
static int reauthorize_one(struct hr_sub *sub, void *arg)
{
	const struct hr_sub_info *si = hr_sub_info(sub);
	const char *who = arg;
	char id[512];

	if (!sub->pkg->authorize || (who && strcmp(hr_sub_identity(si, id,
	    sizeof(id)), who)))
		return 0;
	switch (sub->pkg->authorize(si, sub->pkg->arg)) {
	case HR_AUTHZ_REJECT:
		hr_sub_terminate(sub, HR_REASON_REJECTED, 0);
		break;
	case HR_AUTHZ_NOTFOUND:
		hr_sub_terminate(sub, HR_REASON_NORESOURCE, 0);
		break;
	default:
		break;   /* allowed, or waiting: an active one stays */
	}
	return 0;
}

void hr_events_reauthorize(struct hr_events *ev, const char *package,
	const char *resource, const char *who)
{
	for (unsigned i = 0; ev && i < ev->npkgs; i++) {
		if (!package || !strcmp(package, ev->pkgs[i]->name))
			hr_events_foreach(ev, ev->pkgs[i]->name, resource,
				reauthorize_one, (void *)who);
	}
}

/* A deleted user: what it watched, and what watched it, ends. */
static int user_gone_one(struct hr_sub *sub, void *arg)
{
	const struct hr_sub_info *si = hr_sub_info(sub);
	char who[512];

	/* RFC 6665 4.2.2: the resource is gone; its watcher is no more */
	if (!strcmp(si->resource, arg))
		hr_sub_terminate(sub, HR_REASON_NORESOURCE, 0);
	else if (!strcmp(hr_sub_identity(si, who, sizeof(who)), arg))
		hr_sub_terminate(sub, HR_REASON_REJECTED, 0);
	return 0;
}

void hr_events_user_gone(struct hr_events *ev, const char *user)
{
	for (unsigned i = 0; ev && user && i < ev->npkgs; i++)
		hr_events_foreach(ev, ev->pkgs[i]->name, NULL, user_gone_one,
			(void *)user);
}

size_t hr_events_count(const struct hr_events *ev)
{
	return ev->n;
}

const char *hr_sub_who(const struct hr_sub_info *si)
{
	const char *colon = strchr(si->watcher, ':');

	return *si->watcher_user ? si->watcher_user : colon ? colon + 1 :
		si->watcher;
}

const char *hr_sub_identity(const struct hr_sub_info *si, char *out,
	size_t n)
{
	snprintf(out, n, "%s", hr_sub_who(si));
	return out;
}

const struct hr_sub_info *hr_sub_info(const struct hr_sub *sub)
{
	return &sub->info;
}

void *hr_sub_data(const struct hr_sub *sub)
{
	return sub->data;
}

void hr_sub_set_data(struct hr_sub *sub, void *data)
{
	sub->data = data;
}

const struct hr_pkg *hr_events_pkg(const struct hr_events *ev,
	const struct hr_pl *name)
{
	for (unsigned i = 0; i < ev->npkgs; i++) {
		if (!hr_pl_strcmp(name, ev->pkgs[i]->name))
			return ev->pkgs[i];
	}
	return NULL;
}
