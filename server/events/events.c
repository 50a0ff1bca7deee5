/*
 * The notifier: configuration, packages, recovery at start, shutdown, and
 * the state changes packages and the admin ask for.
 */
#include <errno.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include "events_int.h"

#define HR_LOG_MODULE "events"

static const char *const reason_names[] = {
	[HR_REASON_NONE] = NULL,
	[HR_REASON_DEACTIVATED] = "deactivated",
	[HR_REASON_PROBATION] = "probation",
	[HR_REASON_REJECTED] = "rejected",
	[HR_REASON_TIMEOUT] = "timeout",
	[HR_REASON_GIVEUP] = "giveup",
	[HR_REASON_NORESOURCE] = "noresource",
	[HR_REASON_INVARIANT] = "invariant",
};

#define NREASONS (sizeof(reason_names) / sizeof(reason_names[0]))

const char *hr_sub_reason_name(enum hr_sub_reason r)
{
	return (unsigned)r < NREASONS ? reason_names[r] : NULL;
}

int hr_sub_reason_decode(const char *name, enum hr_sub_reason *r)
{
	for (unsigned i = 1; name && i < NREASONS; i++) {
		if (!strcmp(name, reason_names[i])) {
			*r = (enum hr_sub_reason)i;
			return 0;
		}
	}
	return EINVAL;
}

void hr_events_cfg_default(struct hr_events_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_per_watcher = 200;
	cfg->max_per_monitor = 100000;
	cfg->max_per_resource = 10000;
	cfg->udp_max = HR_EVENTS_UDP_MAX;
	cfg->reserve = 100;
}

static void events_destroy(void *data)
{
	struct hr_events *ev = data;

	hr_events_close(ev);
	while (ev->claims.head) {
		struct claim *c = ev->claims.head->data;

		hr_list_unlink(&c->le);
		hr_mem_deref(c->st);
		free(c);
	}
	/* every subscription still held by the tables */
	for (uint32_t i = 0; ev->byid.bucket && i <= ev->byid.mask; i++) {
		while (ev->byid.bucket[i].head) {
			struct hr_sub *sub = ev->byid.bucket[i].head->data;

			/* finished subscriptions are never linked */
			hr_sub_finish(sub, false);
		}
	}
	hr_hash_reset(&ev->byid);
	hr_hash_reset(&ev->res);
	hr_hash_reset(&ev->watchers);
	hr_mem_deref(ev->cfg.realm);
}

int hr_events_alloc(struct hr_events **evp, struct hr_sip *sip,
	struct hr_store *store, const struct hr_events_cfg *cfg)
{
	struct hr_events *ev;
	int err;

	if (!evp || !sip || !store || !cfg || !cfg->realm ||
	    !hr_realm_ndomains(cfg->realm))
		return EINVAL;
	ev = hr_mem_zalloc(sizeof(*ev), events_destroy);
	if (!ev)
		return ENOMEM;
	ev->cfg = *cfg;
	if (!ev->cfg.reserve)
		ev->cfg.reserve = 100;
	if (!ev->cfg.udp_max)
		ev->cfg.udp_max = HR_EVENTS_UDP_MAX;
	ev->sip = sip;
	ev->store = store;
	err = hr_hash_init(&ev->byid, 4096);
	err |= hr_hash_init(&ev->res, 4096);
	err |= hr_hash_init(&ev->watchers, 4096);
	hr_mem_ref(ev->cfg.realm);
	if (err) {
		hr_mem_deref(ev);
		return ENOMEM;
	}
	hr_sip_handle(sip, HR_METH_SUBSCRIBE, hr_events_on_subscribe, ev);
	*evp = ev;
	return 0;
}

int hr_events_package(struct hr_events *ev, const struct hr_pkg *pkg)
{
	if (!ev || !pkg || !pkg->name || !pkg->ntypes || !pkg->types ||
	    !pkg->expires_default || pkg->expires_min > pkg->expires_max)
		return EINVAL;
	if (ev->npkgs == HR_EVENTS_MAX_PKGS)
		return ENOSPC;
	if (hr_events_pkg(ev, &(struct hr_pl){ pkg->name,
		strlen(pkg->name) }))
		return EEXIST;
	ev->pkgs[ev->npkgs++] = pkg;
	hr_sip_event_add(ev->sip, pkg->name);
	for (unsigned i = 0; i < pkg->ntypes; i++)
		hr_sip_accept_add(ev->sip, pkg->types[i]);
	return 0;
}

/* ---- recovery ---- */

struct load {
	struct hr_events *ev;
	struct hr_store_tx *gone;     /* rows to remove */
	unsigned loaded;
	unsigned expired;
	struct hr_sub *last;          /* the last one loaded */
};

static int load_one(const struct hr_store_sub *ss, void *arg)
{
	struct load *l = arg;
	struct hr_events *ev = l->ev;
	const struct hr_pkg *pkg = hr_events_pkg(ev, &(struct hr_pl){
		ss->package, strlen(ss->package) });
	struct hr_dialog *dlg;
	struct hr_sub *sub;

	/* expired while we were down, or of a package no longer served */
	if (!pkg || ss->expires_at <= hr_wall_s() ||
	    ss->state == HR_SUB_TERMINATED) {
		l->expired++;
		return hr_store_tx_sub_del(l->gone, ss->id,
			ss->owner_epoch);
	}
	dlg = hr_sub_dialog_decode(ss);
	sub = dlg ? hr_sub_new(ev, pkg, ss, dlg) : NULL;
	if (!sub)
		return ENOMEM;
	/* go on past everything that may have been sent: the next NOTIFY
	 * waits for a fresh reservation, and carries the whole state */
	hr_dialog_skip_cseq(dlg, ss->cseq_reserved);
	sub->info.version = (uint64_t)(ss->version_reserved + 1);
	sub->full = true;
	if (hr_sub_link(sub)) {
		hr_mem_deref(sub);
		return ENOMEM;
	}
	hr_sub_life_set(sub, HR_LIFE_LIVE);
	hr_sub_arm(sub, -1);
	if (pkg->linked)
		pkg->linked(sub, pkg->arg);
	l->loaded++;
	l->last = sub;
	return 0;
}

static void load_committed(int err, void *arg)
{
	(void)arg;
	if (err)
		HR_WARN("expired subscriptions not removed: %s",
			hr_strerror(err));
}

int hr_events_load(struct hr_events *ev)
{
	struct load l = { .ev = ev };
	int err;

	err = hr_store_tx_alloc(&l.gone, ev->store);
	if (err)
		return err;
	err = hr_store_subs_load(ev->store, load_one, &l);
	if (err) {
		hr_store_tx_abort(l.gone);
		return err;
	}
	err = hr_store_tx_commit(l.gone, load_committed, NULL);
	if (err)
		HR_WARN("expired subscriptions not removed: %s",
			hr_strerror(err));
	HR_INFO("%u subscriptions loaded, %u expired", l.loaded, l.expired);
	return 0;
}

static void adopted(int err, void *arg)
{
	(void)arg;
	if (err)
		HR_WARN("an adopted subscription not stored: %s",
			hr_strerror(err));
}

static int adopt(struct hr_events *ev, const struct hr_store_sub *row,
	bool tell);

int hr_events_adopt(struct hr_events *ev, const struct hr_store_sub *row)
{
	return adopt(ev, row, true);
}

void hr_events_claimed(struct hr_events *ev, const char *id,
	const struct hr_store_sub *row)
{
	struct hr_le *le, *next;
	int err;

	/* its refresh (waiting below) sends the whole state */
	if (row && (err = adopt(ev, row, false)))
		HR_WARN("subscription %s not taken: %s", id,
			hr_strerror(err));
	else if (row)
		HR_INFO("subscription %s: a request of it came here: this "
			"node's now", id);
	for (le = ev->claims.head; le; le = next) {
		struct claim *c = le->data;

		next = le->next;
		if (strcmp(c->id, id))
			continue;
		hr_list_unlink(le);
		hr_events_in_dialog_again(ev, c->st);
		hr_mem_deref(c->st);
		free(c);
	}
}

void hr_events_lost(struct hr_events *ev, const char *id)
{
	struct hr_sub *sub = hr_events_find(ev, id);

	if (!sub || sub->life != HR_LIFE_LIVE)
		return;
	HR_INFO("subscription %s: a request of it reached another node, "
		"which has it now: dropped here", id);
	hr_sub_moved(sub);
}

static int adopt(struct hr_events *ev, const struct hr_store_sub *row,
	bool tell)
{
	struct hr_store_sub ss = *row;
	char contact[HR_ADV_MAX + 32];
	struct load l = { .ev = ev };
	int err;

	if (ev->closing)
		return 0;
	/* RFC 6665 4.1.2.1: a NOTIFY's Contact is the watcher's new remote
	 * target: its refreshes come here */
	if (!hr_sip_contact_for(ev->sip, ss.transport, ss.received &&
		strchr(ss.received, '[') ? AF_INET6 : AF_INET,
		ss.local_contact && !strncmp(ss.local_contact, "<sips:", 6),
		contact, sizeof(contact)))
		ss.local_contact = contact;
	else
		HR_WARN("subscription %s: no Contact of this node to give "
			"it (a wildcard socket needs advertise=): it keeps "
			"the old one", ss.id);
	err = hr_store_tx_alloc(&l.gone, ev->store);
	if (err)
		return err;
	err = load_one(&ss, &l);
	if (!err && l.last) {
		struct hr_store_sub now;

		hr_sub_to_store(l.last, &now);
		err = hr_store_tx_sub_put(l.gone, &now);
		/* the whole state, at once, from here */
		if (tell)
			hr_sub_changed_full(l.last);
		HR_INFO("subscription %s of %s to %s of %s: taken over",
			ss.id, ss.watcher, ss.package, ss.resource);
	}
	if (err) {
		hr_store_tx_abort(l.gone);
		return err;
	}
	return hr_store_tx_commit(l.gone, adopted, NULL);
}

static int idcmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void hr_events_keep(struct hr_events *ev, const char *const *ids, size_t n)
{
	struct hr_list lost = { 0 };
	struct hr_le *le;

	for (uint32_t i = 0; ev->byid.bucket && i <= ev->byid.mask; i++) {
		for (le = ev->byid.bucket[i].head; le; le = le->next) {
			struct hr_sub *sub = le->data;
			const char *id = sub->info.id;

			if (sub->life == HR_LIFE_LIVE &&
			    !bsearch(&id, ids, n, sizeof(*ids), idcmp)) {
				struct hr_le *e = calloc(1, sizeof(*e));

				if (e)
					hr_list_append(&lost, e,
						hr_mem_ref(sub));
			}
		}
	}
	while ((le = lost.head)) {
		struct hr_sub *sub = le->data;

		hr_list_unlink(le);
		free(le);
		HR_INFO("subscription %s: taken over by another node while "
			"this one was cut off: dropped here", sub->info.id);
		hr_sub_moved(sub);
		hr_mem_deref(sub);
	}
}

void hr_events_close(struct hr_events *ev)
{
	if (ev->closing)
		return;
	ev->closing = true;
	hr_notify_close_all(ev);
	/* no expiry or throttle timers: the stored rows stay as they are */
	for (uint32_t i = 0; ev->byid.bucket && i <= ev->byid.mask; i++) {
		for (struct hr_le *le = ev->byid.bucket[i].head; le;
		     le = le->next) {
			struct hr_sub *sub = le->data;

			hr_tmr_cancel(&sub->tmr_exp);
			hr_sub_thr_cancel(sub);
		}
	}
}

/* ---- watching ---- */

int hr_events_watch(struct hr_events *ev, hr_sub_watch_h *h, void *arg)
{
	return hr_watch_add(ev->watch, HR_EVENTS_WATCHERS, (hr_watch_fn *)h,
		arg);
}

void hr_events_unwatch(struct hr_events *ev, hr_sub_watch_h *h, void *arg)
{
	hr_watch_del(ev->watch, HR_EVENTS_WATCHERS, (hr_watch_fn *)h, arg);
}

void hr_sub_tell(struct hr_sub *sub, enum hr_sub_change ch)
{
	struct hr_events *ev = sub->ev;

	if (ev->closing)
		return;
	for (unsigned i = 0; i < HR_EVENTS_WATCHERS; i++) {
		if (ev->watch[i].h)
			((hr_sub_watch_h *)ev->watch[i].h)(&sub->info, ch,
				ev->watch[i].arg);
	}
}

/* ---- state changes ---- */

static void activated(int err, void *arg)
{
	struct hr_sub *sub = arg;

	if (err) {
		HR_WARN("subscription %s: activation not stored: %s",
			sub->info.id, hr_strerror(err));
	} else if (!hr_sub_over(sub)) {
		sub->info.state = HR_SUB_ACTIVE;
		sub->dirty = true;
		sub->full = true;
		hr_sub_tell(sub, HR_SUB_UPDATED);
		hr_sub_kick(sub);
	}
	hr_mem_deref(sub);
}

int hr_sub_activate(struct hr_sub *sub)
{
	struct hr_store_tx *tx;
	struct hr_store_sub ss;
	int err;

	if (hr_sub_over(sub))
		return ENOENT;
	if (sub->info.state == HR_SUB_ACTIVE)
		return 0;
	err = hr_store_tx_alloc(&tx, sub->ev->store);
	if (err)
		return err;
	hr_sub_to_store(sub, &ss);
	ss.state = HR_SUB_ACTIVE;
	err = hr_store_tx_sub_put(tx, &ss);
	if (err) {
		hr_store_tx_abort(tx);
		return err;
	}
	hr_mem_ref(sub);
	err = hr_store_tx_commit(tx, activated, sub);
	if (err)
		hr_mem_deref(sub);
	return err;
}
