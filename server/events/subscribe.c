/*
 * SUBSCRIBE (RFC 6665 4.2.1): a new subscription, a refresh, an
 * unsubscribe or a fetch. Every change is committed to the store before
 * the 200 (DESIGN.md, durability rule); the NOTIFY follows the 200 at
 * once (RFC 6665 4.2.2).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "events_int.h"

#define HR_LOG_MODULE "events"

#define RETRY_AFTER "Retry-After: 5\r\n"
#define RES_MAX 512

/* "<name>: a, b, c" and CRLF in v's headers (cut at their size). */
static const char *list_hdr(struct hr_verdict *v, const char *name,
	const char *const *items, unsigned nitems)
{
	char *hdrs = v->hbuf;
	size_t size = sizeof(v->hbuf);
	size_t n = (size_t)snprintf(hdrs, size, "%s: ", name);

	for (unsigned i = 0; i < nitems && n < size; i++)
		n += (size_t)snprintf(hdrs + n, size - n, "%s%s",
			i ? ", " : "", items[i]);
	if (n < size)
		snprintf(hdrs + n, size - n, "\r\n");
	return hdrs;
}

/* RFC 6665 4.2.1.1 / 8.3.2: 489 names the packages we know. */
static bool bad_event(const struct hr_events *ev, struct hr_verdict *v)
{
	const char *names[HR_EVENTS_MAX_PKGS];

	for (unsigned i = 0; i < ev->npkgs; i++)
		names[i] = ev->pkgs[i]->name;
	return hr_verdict_refuse(v, 489, "Bad Event",
		list_hdr(v, "Allow-Events", names, ev->npkgs));
}

/* RFC 3261 21.4.7 / RFC 6665 4.1.1: the first type of the package that
 * Accept allows; the default when Accept is absent; NULL: 406. */
static const char *negotiate(const struct hr_pkg *pkg,
	const struct hr_msg *req)
{
	const struct hr_hdr *h = hr_msg_hdr(req, HR_HDR_ACCEPT);

	if (!h)
		return pkg->types[0];
	for (unsigned i = 0; i < pkg->ntypes; i++) {
		char type[64];
		const char *slash;

		snprintf(type, sizeof(type), "%s", pkg->types[i]);
		slash = strchr(type, '/');
		if (!slash)
			continue;
		type[slash - type] = '\0';
		for (h = hr_msg_hdr(req, HR_HDR_ACCEPT); h;
		     h = hr_msg_hdr_next(req, h)) {
			struct hr_ctype ct;

			/* an empty Accept accepts nothing (RFC 3261 20.1) */
			if (!h->val.len || hr_ctype_decode(&ct, &h->val))
				continue;
			if (hr_ctype_match(&ct, type, slash + 1))
				return pkg->types[i];
		}
	}
	return NULL;
}

static bool not_acceptable(const struct hr_pkg *pkg, struct hr_verdict *v)
{
	return hr_verdict_refuse(v, 406, "Not Acceptable",
		list_hdr(v, "Accept", pkg->types, pkg->ntypes));
}

/* RFC 6665 4.2.1.1 / 7.2: the package's default, 423 below its minimum
 * (0 is an unsubscribe or a fetch), clamped to its maximum. */
static bool expiry(const struct hr_pkg *pkg, const struct hr_msg *req,
	struct hr_verdict *v, uint32_t *exp)
{
	*exp = req->has_expires ? req->expires : pkg->expires_default;
	if (*exp && *exp < pkg->expires_min)
		return hr_verdict_refuse(v, 423, "Interval Too Brief",
			hr_verdict_hdrs(v, "Min-Expires: %u\r\n",
			pkg->expires_min));
	if (*exp > pkg->expires_max)
		*exp = pkg->expires_max;
	return true;
}

static void ok(struct hr_sub *sub, struct hr_strans *st, uint32_t exp)
{
	char hdrs[1024];
	struct hr_resp resp = { .scode = 200, .reason = "OK",
		.totag = hr_dialog_local_tag(sub->dlg) };

	snprintf(hdrs, sizeof(hdrs), "Expires: %u\r\nContact: %s\r\n", exp,
		hr_dialog_local_contact(sub->dlg));
	resp.hdrs = hr_pl_str(hdrs);
	hr_strans_reply(st, &resp);
}

static void pend_free(struct hr_sub *sub)
{
	struct pend *p = sub->pend;

	if (!p)
		return;
	sub->pend = NULL;
	hr_mem_deref(p->st);
	hr_mem_deref(p->conn);
	hr_mem_deref(p->old);
	hr_mem_deref(p->target);
	hr_res_release(p->res);
	hr_watcher_release(p->w);
	free(p);
}

static void committed(int err, void *arg);
static bool claim(struct hr_events *ev, struct hr_strans *st,
	const struct hr_msg *req);

/* Queue the subscription's row (or its removal); the 200 waits. */
static int commit(struct hr_sub *sub)
{
	struct hr_store_tx *tx;
	struct hr_store_sub ss;
	int err;

	err = hr_store_tx_alloc(&tx, sub->ev->store);
	if (err)
		return err;
	if (sub->pend->del) {
		/* the owner epoch first (a cluster): a row another node has
		 * now is not this node's to end; the commit fails ESTALE */
		err = hr_store_tx_sub_reserve(tx, sub->info.id,
			sub->owner_epoch, 0, 0);
		if (!err)
			err = hr_store_tx_sub_del(tx, sub->info.id,
				sub->owner_epoch);
	} else {
		hr_sub_to_store(sub, &ss);
		ss.expires_at = sub->pend->expires_at;
		ss.remote_cseq = sub->pend->cseq;
		if (sub->pend->target)
			ss.remote_target = sub->pend->target;
		err = hr_store_tx_sub_put(tx, &ss);
		if (!err && sub->pend->old &&
		    sub->pend->old->life == HR_LIFE_LIVE)
			err = hr_store_tx_sub_del(tx,
				sub->pend->old->info.id,
				sub->pend->old->owner_epoch);
	}
	if (err) {
		hr_store_tx_abort(tx);
		return err;
	}
	hr_mem_ref(sub);
	err = hr_store_tx_commit(tx, committed, sub);
	if (err)
		hr_mem_deref(sub);
	return err;
}

static void committed(int err, void *arg)
{
	struct hr_sub *sub = arg;
	struct pend *p = sub->pend;
	bool fresh = p->fresh;

	if (err == ESTALE && !fresh) {
		/* a request of it reached another node of the cluster
		 * meanwhile, which has it now: this refresh claims it back
		 * and is handled again once it is ours */
		struct hr_events *ev = sub->ev;
		struct hr_strans *st = hr_mem_ref(p->st);
		const struct hr_msg *req = hr_strans_msg(st);

		HR_INFO("subscription %s: another node took it while its "
			"refresh was being stored here: taken back",
			sub->info.id);
		pend_free(sub);
		hr_sub_moved(sub);
		if (req && !claim(ev, st, req))
			hr_strans_replyh(st, 481,
				"Subscription Does Not Exist", NULL);
		hr_mem_deref(st);
		hr_mem_deref(sub);
		return;
	}
	if (err) {
		hr_strans_fail(p->st, err, "events: storing the subscription");
		pend_free(sub);
		hr_mem_deref(sub);
		return;
	}
	/* replaced or ended while this refresh was being stored: the row
	 * this refresh put back goes again */
	if (!fresh && hr_sub_over(sub)) {
		if (!p->del)
			hr_sub_store_del(sub);
		hr_strans_replyh(p->st, 481,
			"Subscription Does Not Exist", NULL);
		pend_free(sub);
		hr_mem_deref(sub);
		return;
	}
	if (p->del) {
		/* unsubscribe: the final NOTIFY with the last state (the
		 * row went in this commit) */
		hr_dialog_update(sub->dlg, p->cseq, NULL, NULL);
		ok(sub, p->st, 0);
		pend_free(sub);
		hr_sub_end(sub, HR_REASON_TIMEOUT, 0, false);
		hr_mem_deref(sub);
		return;
	}
	sub->info.expires_at = p->expires_at;
	hr_dialog_update(sub->dlg, p->cseq, p->target, p->conn);
	if (p->target) {
		p->target = NULL;  /* the dialog's now */
		hr_sub_rekey(sub);
	}
	if (fresh) {
		/* a watcher's new dialog replaces its old one: the old one
		 * just ends (its row went in this commit) */
		if (p->old)
			hr_sub_finish(p->old, false);
		if (hr_sub_link(sub)) {
			hr_strans_fail(p->st, ENOMEM,
				"events: linking the subscription");
			pend_free(sub);
			hr_mem_deref(sub);
			return;
		}
		hr_mem_ref(sub);  /* the tables' reference */
		hr_sub_life_set(sub, HR_LIFE_LIVE);
		if (sub->pkg->linked)
			sub->pkg->linked(sub, sub->pkg->arg);
		HR_DEBUG("subscription %s: %s to %s of %s, %s", sub->info.id,
			sub->info.watcher, sub->info.package,
			sub->info.resource, hr_sub_state_name(sub->info.state));
	}
	hr_sub_arm(sub, (int64_t)p->expires * 1000);
	ok(sub, p->st, p->expires);
	pend_free(sub);
	hr_sub_tell(sub, fresh ? HR_SUB_CREATED : HR_SUB_UPDATED);
	/* RFC 6665 4.2.2: a NOTIFY at once, with the whole state */
	sub->dirty = true;
	sub->full = true;
	hr_sub_kick(sub);
	hr_mem_deref(sub);
}

/* ---- in a dialog: refresh or unsubscribe ---- */

/* The subscription a refresh is for may take it now: true with the
 * expiry granted. */
static bool refresh_ok(const struct hr_sub *sub, const struct hr_msg *req,
	struct hr_verdict *v, uint32_t *exp)
{
	/* RFC 6665 4.1.2.2: no such subscription (or it is ending) */
	if (!sub || hr_sub_over(sub))
		return hr_verdict_refuse(v, 481, "Subscription Does Not Exist",
			NULL);
	/* RFC 3261 12.2.2: a lower CSeq is out of order */
	if (!hr_dialog_rcseq_valid(sub->dlg, req))
		return hr_verdict_refuse_why(v, 500, "Out of Order", NULL,
			"events: refresh", "CSeq not above the dialog's");
	if (sub->pend)
		return hr_verdict_refuse_why(v, 500, "Request Pending",
			"Retry-After: 1\r\n", "events: refresh",
			"the dialog's last request is being stored");
	return expiry(sub->pkg, req, v, exp);
}

/* RFC 6665 4.1.2.1: a refresh may move the remote target: the new one
 * (hr_mem), or NULL when it stays. */
static char *new_target(const struct hr_sub *sub, const struct hr_msg *req)
{
	const struct hr_hdr *h = hr_msg_hdr(req, HR_HDR_CONTACT);
	struct hr_addr a;
	char *target;

	if (!h || hr_addr_decode(&a, &h->val) || a.star)
		return NULL;
	target = hr_pl_strdup(&a.uri.raw);
	if (target && !strcmp(target, hr_dialog_target(sub->dlg)))
		target = hr_mem_deref(target);
	return target;
}

/* Queue the refresh (or removal) of sub's row; the 200 waits. */
static bool queue_refresh(struct hr_sub *sub, struct hr_strans *st,
	const struct hr_msg *req, uint32_t exp, struct hr_verdict *v)
{
	struct pend *p = calloc(1, sizeof(*p));
	int err;

	if (!p)
		return hr_verdict_fail(v, ENOMEM, "events: refresh");
	p->st = hr_mem_ref(st);
	p->expires = exp;
	p->expires_at = hr_wall_s() + exp;
	p->cseq = req->cseq.num;
	p->del = exp == 0;
	p->target = new_target(sub, req);
	if (req->conn)
		p->conn = hr_mem_ref(req->conn);
	sub->pend = p;
	err = commit(sub);
	if (err) {
		pend_free(sub);
		return hr_verdict_fail(v, err, "events: queueing the refresh");
	}
	return true;
}

/* A node of a cluster: the request's subscription may be another
 * node's (its refresh came here): it waits while it is made ours. */
static bool claim(struct hr_events *ev, struct hr_strans *st,
	const struct hr_msg *req)
{
	struct claim *c;

	if (!hr_store_node(ev->store) || !req->to.tag.len ||
	    req->to.tag.len > 64)
		return false;
	c = calloc(1, sizeof(*c) + req->to.tag.len + 1);
	if (!c)
		return false;
	memcpy(c->id, req->to.tag.p, req->to.tag.len);
	if (hr_store_sub_claim(ev->store, c->id)) {
		free(c);
		return false;
	}
	c->st = hr_mem_ref(st);
	hr_list_append(&ev->claims, &c->le, c);
	return true;
}

static void in_dialog(struct hr_events *ev, struct hr_strans *st,
	const struct hr_msg *req, const struct hr_event *event,
	bool may_claim)
{
	struct hr_verdict v;
	struct hr_sub *sub;
	uint32_t exp;

	sub = hr_sub_dialog(ev, &req->callid, &req->to.tag, &req->from.tag,
		&event->package, &event->id);
	if (!sub && may_claim && claim(ev, st, req))
		return;
	if (!refresh_ok(sub, req, &v, &exp) ||
	    !queue_refresh(sub, st, req, exp, &v))
		hr_strans_answer(st, &v);
}

/* ---- a new subscription ---- */

/* The resource: the Request-URI's AOR, or To's when the Request-URI
 * names the server's address rather than a user. */
static int resource_of(const struct hr_msg *req, const char *domain,
	char *out, size_t n)
{
	if (!hr_uri_aor(&req->ruri, domain, out, n))
		return 0;
	return hr_uri_aor(&req->to.uri, domain, out, n);
}

/* Its watcher, as lists and watcher info show it: the authenticated
 * user (user, "" without authentication) in the From URI's scheme, else
 * the From URI without parameters or headers. */
static char *watcher_of(const struct hr_msg *req, const char *user)
{
	const struct hr_uri *u = &req->from.uri;
	struct hr_buf b;
	int err;

	hr_buf_init(&b, 1024);
	err = hr_buf_putpl(&b, &u->scheme_pl) || hr_buf_puts(&b, ":");
	if (*user)
		err = err || hr_buf_puts(&b, user);
	else
		err = err || (u->user.len && (hr_buf_putpl(&b, &u->user) ||
			hr_buf_puts(&b, "@"))) || hr_buf_putpl(&b, &u->host);
	if (err || hr_buf_write(&b, "", 1)) {
		hr_buf_reset(&b);
		return NULL;
	}
	return b.b;
}

/* Does the From URI name user ("bob@example.test"): its user part as is
 * (RFC 3261 19.1.4), its host in any case? */
static bool from_names(const struct hr_msg *req, const char *user)
{
	const struct hr_uri *u = &req->from.uri;
	const char *at = strchr(user, '@');

	return at && u->user.len == (size_t)(at - user) &&
		!memcmp(u->user.p, user, u->user.len) &&
		!hr_pl_strcasecmp(&u->host, at + 1);
}

/*
 * RFC 3261 22.1 leaves it to the server to decide whether the
 * authenticated user may use the From it sent; here From must name that
 * user (a watcher is counted, shown and authorized by its credentials,
 * never by a From it may vary at will). A user with the monitor role (an
 * application server watching for the users of its domain, as a trusted
 * element of RFC 3325 asserts identities) may name any user of its own
 * domain. Without authentication (user ""), any From.
 */
static bool from_allowed(const struct hr_events *ev, const struct hr_msg *req,
	const char *user, const char *domain, struct hr_verdict *v)
{
	if (!*user || from_names(req, user))
		return true;
	if (!hr_pl_strcasecmp(&req->from.uri.host, domain) &&
	    hr_realm_is_monitor(ev->cfg.realm, user))
		return true;
	return hr_verdict_refuse_why(v, 403,
		"From Is Not the Authenticated User", NULL, "events: SUBSCRIBE",
		"its From names another user than its digest credentials");
}

/* The subscription of the same watcher device to the same resource and
 * event that this one replaces (same +sip.instance, or Contact URI). */
static struct hr_sub *replaced(struct hr_events *ev, const struct hr_sub *sub)
{
	struct res *r = hr_res_find(ev, sub->info.package,
		sub->info.resource);

	if (!r)
		return NULL;
	for (struct hr_le *le = r->subs.head; le; le = le->next) {
		struct hr_sub *o = le->data;

		if (o->key_hash != sub->key_hash || hr_sub_over(o) || o->pend ||
		    strcmp(o->info.watcher, sub->info.watcher) ||
		    strcmp(hr_dialog_remote_uri(o->dlg),
		    hr_dialog_remote_uri(sub->dlg)) ||
		    strcmp(o->info.event_id, sub->info.event_id) ||
		    strcmp(o->contact_key, sub->contact_key))
			continue;
		return o;
	}
	return NULL;
}

struct newsub {
	char resource[RES_MAX];
	char user[RES_MAX];
	char *watcher;
	char *event_id;
	struct hr_dialog *dlg;
};

static void newsub_free(struct newsub *n)
{
	free(n->watcher);
	hr_mem_deref(n->event_id);
	hr_mem_deref(n->dlg);
}

/* How many subscriptions this watcher may hold: a monitor (an
 * application server watching every AOR of its domain) many more. */
static unsigned watcher_limit(const struct hr_events *ev,
	const struct hr_sub_info *si)
{
	return hr_realm_is_monitor(ev->cfg.realm, si->watcher_user) ?
		ev->cfg.max_per_monitor :
		ev->cfg.max_per_watcher;
}

/* What an initial SUBSCRIBE asks for, once checked. */
struct asked {
	const char *domain;           /* the served domain it is for */
	const char *accept;           /* the type its NOTIFYs carry */
	uint32_t exp;                 /* the expiry granted; 0: a fetch */
};

/* Before its credentials: a resource of ours (n->resource), what makes
 * a dialog, a type it accepts and its expiry. */
static bool asked_ok(const struct hr_events *ev, const struct hr_msg *req,
	const struct hr_pkg *pkg, struct newsub *n, struct asked *a,
	struct hr_verdict *v)
{
	const struct hr_hdr *ch = hr_msg_hdr(req, HR_HDR_CONTACT);
	struct hr_addr contact;

	a->domain = hr_realm_domain(ev->cfg.realm, req);
	if (!a->domain || resource_of(req, a->domain, n->resource,
		sizeof(n->resource)))
		return hr_verdict_refuse(v, 404, "Not Found", NULL);
	/* RFC 6665 4.1.2.1 / RFC 3261 8.1.1.8: a Contact, one URI */
	if (!ch || hr_addr_decode(&contact, &ch->val) || contact.star)
		return hr_verdict_refuse(v, 400, "Missing Contact", NULL);
	if (!req->from.tag.len)
		return hr_verdict_refuse(v, 400, "Missing From Tag", NULL);
	a->accept = negotiate(pkg, req);
	if (!a->accept)
		return not_acceptable(pkg, v);
	return expiry(pkg, req, v, &a->exp);
}

/* The new subscription with its dialog, not yet authorized; NULL with
 * v. */
static struct hr_sub *sub_make(struct hr_events *ev, const struct hr_msg *req,
	const struct hr_pkg *pkg, const struct hr_event *event,
	struct newsub *n, const struct asked *a, struct hr_verdict *v)
{
	struct hr_store_sub ss = { 0 };
	struct hr_sub *sub;
	int err;

	/* the id is the dialog's local tag (To-tag): one hash finds a
	 * dialog and an id */
	n->watcher = watcher_of(req, n->user);
	n->event_id = hr_pl_strdup(&event->id);
	err = hr_dialog_accept(&n->dlg, ev->sip, req, a->domain);
	if (err || !n->watcher || !n->event_id) {
		hr_verdict_fail(v, err ? err : ENOMEM, "events: the new dialog");
		return NULL;
	}
	ss.id = hr_dialog_local_tag(n->dlg);
	ss.package = pkg->name;
	ss.event_id = n->event_id;
	ss.resource = n->resource;
	ss.watcher = n->watcher;
	ss.watcher_user = n->user;
	ss.state = HR_SUB_PENDING;
	ss.expires_at = hr_wall_s() + a->exp;
	ss.accept = a->accept;
	/* versions 0..reserve-1 and CSeqs 1..reserve are ours */
	ss.cseq_reserved = ev->cfg.reserve;
	ss.version_reserved = (int64_t)ev->cfg.reserve - 1;
	sub = hr_sub_new(ev, pkg, &ss, hr_mem_ref(n->dlg));
	if (!sub)
		hr_verdict_fail(v, ENOMEM, "events: the new subscription");
	return sub;
}

/* The package's word on the watcher: the subscription's first state. */
static bool authorized(struct hr_sub *sub, const struct hr_pkg *pkg,
	struct hr_verdict *v)
{
	enum hr_authz az = pkg->authorize ?
		pkg->authorize(&sub->info, pkg->arg) : HR_AUTHZ_ACTIVE;

	switch (az) {
	case HR_AUTHZ_ACTIVE:
		sub->info.state = HR_SUB_ACTIVE;
		return true;
	case HR_AUTHZ_PENDING:
		sub->info.state = HR_SUB_PENDING;
		return true;
	case HR_AUTHZ_NOTFOUND:
		return hr_verdict_refuse(v, 404, "Not Found", NULL);
	case HR_AUTHZ_REJECT:
	default:
		return hr_verdict_refuse(v, 403, "Forbidden", NULL);
	}
}

/* The bounds a new subscription stays within; old, which it replaces,
 * does not count. */
static bool within_limits(struct hr_events *ev, const struct hr_sub *sub,
	const struct hr_sub *old, struct hr_verdict *v)
{
	struct res *r = hr_res_find(ev, sub->info.package,
		sub->info.resource);

	/* the watcher is who its credentials say: a From varied at will
	 * counts as the same watcher */
	if (hr_watcher_count(ev, hr_sub_who(&sub->info)) - (old ? 1 : 0) >=
	    watcher_limit(ev, &sub->info))
		return hr_verdict_refuse_why(v, 403, "Too Many Subscriptions",
			NULL, "events: SUBSCRIBE", "the watcher holds "
			"--max-subscriptions-per-watcher (or -monitor) already");
	/* those being stored count too: a burst of SUBSCRIBEs must not pass
	 * the limit while it waits for the store */
	if (r && r->subs.n + r->pending - (old ? 1 : 0) >=
	    ev->cfg.max_per_resource)
		return hr_verdict_refuse_why(v, 403, "Too Many Subscriptions",
			NULL, "events: SUBSCRIBE", "the resource has "
			"--max-subscriptions-per-resource already");
	return true;
}

/* Hold the new subscription's place and queue its row; the 200 waits. */
static bool queue_new(struct hr_events *ev, struct hr_strans *st,
	const struct hr_msg *req, struct hr_sub *sub, struct hr_sub *old,
	uint32_t exp, struct hr_verdict *v)
{
	struct pend *p = calloc(1, sizeof(*p));
	int err;

	if (!p)
		return hr_verdict_fail(v, ENOMEM,
			"events: the new subscription");
	p->st = hr_mem_ref(st);
	p->expires = exp;
	p->expires_at = sub->info.expires_at;
	p->cseq = req->cseq.num;
	p->old = hr_mem_ref(old);
	p->fresh = true;
	p->res = hr_res_hold(ev, sub->info.package, sub->info.resource);
	p->w = hr_watcher_hold(ev, hr_sub_who(&sub->info));
	sub->pend = p;
	err = p->res && p->w ? commit(sub) : ENOMEM;
	if (err) {
		pend_free(sub);
		return hr_verdict_fail(v, err,
			"events: queueing the subscription");
	}
	return true;
}

/* A fetch: 200, the state in a final NOTIFY, nothing stored. */
static void fetch(struct hr_sub *sub, struct hr_strans *st)
{
	ok(sub, st, 0);
	hr_sub_end(sub, HR_REASON_TIMEOUT, 0, false);
	hr_sub_finish(sub, false);
}

static void initial(struct hr_events *ev, struct hr_strans *st,
	const struct hr_msg *req, const struct hr_pkg *pkg,
	const struct hr_event *event)
{
	struct newsub n = { 0 };
	struct hr_sub *sub = NULL, *old;
	struct hr_verdict v;
	struct asked a;

	if (!asked_ok(ev, req, pkg, &n, &a, &v))
		goto answer;
	/* the digest username names a user of the realm: n.user */
	if (!hr_realm_open(ev->cfg.realm, st, req, a.domain, NULL, n.user,
		sizeof(n.user)))
		goto out;
	if (!from_allowed(ev, req, n.user, a.domain, &v))
		goto answer;
	sub = sub_make(ev, req, pkg, event, &n, &a, &v);
	if (!sub || !authorized(sub, pkg, &v))
		goto answer;
	if (!a.exp) {
		fetch(sub, st);
		goto out;
	}
	old = replaced(ev, sub);
	if (within_limits(ev, sub, old, &v) &&
	    queue_new(ev, st, req, sub, old, a.exp, &v))
		goto out;
answer:
	hr_strans_answer(st, &v);
out:
	hr_mem_deref(sub);
	newsub_free(&n);
}

/* The package a SUBSCRIBE names; NULL with v. */
static const struct hr_pkg *package_of(const struct hr_events *ev,
	const struct hr_msg *req, struct hr_event *event,
	struct hr_verdict *v)
{
	const struct hr_hdr *h = hr_msg_hdr(req, HR_HDR_EVENT);
	const struct hr_pkg *pkg = NULL;

	if (ev->closing) {
		hr_verdict_refuse_why(v, 503, "Service Unavailable",
			RETRY_AFTER, "events", "shutting down");
		return NULL;
	}
	/* RFC 6665 4.2.3: no Event (and no PINT here) is a bad event */
	if (h && !hr_event_decode(event, &h->val))
		pkg = hr_events_pkg(ev, &event->package);
	if (!pkg)
		bad_event(ev, v);
	return pkg;
}

void hr_events_in_dialog_again(struct hr_events *ev, struct hr_strans *st)
{
	const struct hr_msg *req = hr_strans_msg(st);
	const struct hr_pkg *pkg;
	struct hr_event event;
	struct hr_verdict v;

	if (!req)
		return;  /* answered meanwhile (the transaction's guard) */
	pkg = package_of(ev, req, &event, &v);
	if (!pkg)
		hr_strans_answer(st, &v);
	else
		in_dialog(ev, st, req, &event, false);
}

void hr_events_on_subscribe(struct hr_strans *st, const struct hr_msg *req,
	void *arg)
{
	struct hr_events *ev = arg;
	const struct hr_pkg *pkg;
	struct hr_event event;
	struct hr_verdict v;

	pkg = package_of(ev, req, &event, &v);
	if (!pkg)
		hr_strans_answer(st, &v);
	else if (req->to.tag.len)
		in_dialog(ev, st, req, &event, true);
	else
		initial(ev, st, req, pkg, &event);
}
