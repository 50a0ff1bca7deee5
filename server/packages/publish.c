/*
 * PUBLISH (RFC 3903 6) for any package: entity-tags, expiry, storage,
 * recovery. A resource's publications are kept oldest first (by
 * published_at); what their documents mean is the package's (struct
 * hr_pubpkg).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "publish.h"

#define HR_LOG_MODULE "publish"

#define RETRY_AFTER "Retry-After: 5\r\n"
#define ETAG_LEN 20

/* Entity-tags of the admin's publications start so (a PUBLISH's are
 * lowercase letters and digits): a resource has at most one, which the
 * admin's next change replaces. */
#define ADMIN_TAG "ADMIN"
#define NAME_MAX_ 512

/* A resource with publications, or with a PUBLISH being stored: while
 * one is, the entry stays in the table, where its commit adds to it. */
struct res {
	struct hr_le le;             /* in pub->res */
	struct hr_publish *pub;
	struct hr_list pubs;         /* oldest first (published_at) */
	unsigned pending;            /* PUBLISHes being stored */
	struct hr_list inflight;     /* those of them with a document
				      * (struct pubctx): the bounds count
				      * them as if stored already */
	struct hr_le le_sync;        /* in pub->synced (holds a reference) */
	uint64_t sync_sig;           /* its documents before the others'
				      * changes (docs_sig()) */
	char name[];
};

/* One publication (RFC 3903 4.1). */
struct pub {
	struct hr_le le;             /* in res->pubs */
	struct res *res;
	void *doc;                   /* the package's (hr_mem) */
	char *body;                  /* as published (hr_mem) */
	int64_t expires_at;
	int64_t published_at;
	struct hr_tmr tmr;           /* expiry */
	bool busy;                   /* a change of it is being stored */
	char etag[ETAG_LEN + 1];
};

/* A PUBLISH whose SIP-If-Match this node does not know (a cluster):
 * another node may have issued it a moment ago, before this one read
 * the change; it waits while the row is read. */
struct park {
	struct hr_le le;
	struct hr_strans *st;
	void *arg;                   /* on_publish's (the first package) */
	char etag[ETAG_LEN + 1];
};

/* A PUBLISH from its checks to its commit. */
struct pubctx {
	struct hr_le le;              /* in res->inflight while it has a doc */
	struct hr_publish *pub;
	struct hr_strans *st;
	struct res *res;
	struct pub *pb;               /* the publication changed, or NULL */
	void *doc;                    /* a new document, or NULL */
	char *body;                   /* its text (hr_mem) */
	char etag[ETAG_LEN + 1];      /* the new entity-tag */
	int64_t expires_at;
	int64_t published_at;
	uint32_t expires;
	bool del;
	hr_publish_done_h *done;      /* the admin's change: no st */
	void *done_arg;
};

struct hr_publish {
	struct hr_pubpkg pkg;
	struct hr_store *store;
	struct hr_realm *realm;
	struct hr_hash res;          /* name → struct res */
	size_t npubs;
	int64_t last_published;      /* published_at is strictly increasing */
	char type[32];               /* of pkg.ctype */
	char subtype[64];
	struct hr_sip *sip;          /* once served (a reference) */
	struct hr_publish *next;     /* the next package served by the same
				      * sip (a reference) */
	char allow[256];             /* "Allow-Events: <event>, …\r\n" of
				      * them all (the first's is used) */
	char accept[128];            /* "Accept: <ctype>\r\n" */
	struct hr_watch watch[HR_PUBLISH_WATCHERS];
	struct hr_list parked;       /* PUBLISHes naming an entity-tag read
				      * again from the store (struct park) */
	bool resuming;               /* ...one of them handled again */
	struct hr_list synced;       /* resources another node changed */
	struct hr_tmr sync_tmr;      /* ...told as one change, then */
	bool closing;
};

/* Failed with err at what: "<event>: what" for its log line; false. */
static bool fail(const struct hr_publish *pub, struct hr_verdict *v,
	int err, const char *what)
{
	return hr_verdict_fail(v, err, hr_verdict_where(v, "%s: %s",
		pub->pkg.event, what));
}

static bool fail_as(const struct hr_publish *pub, struct hr_verdict *v,
	uint16_t scode, const char *reason, const char *hdrs, const char *what,
	const char *why)
{
	return hr_verdict_refuse_why(v, scode, reason, hdrs,
		hr_verdict_where(v, "%s%s%s", pub->pkg.event,
		*what ? ": " : "", what), why);
}

/* A PUBLISH whose change could not be made or stored: answered. */
static void answer_fail(const struct hr_publish *pub, struct hr_strans *st,
	int err, const char *what)
{
	struct hr_verdict v;

	fail(pub, &v, err, what);
	hr_strans_answer(st, &v);
}

/* ---- resources and publications ---- */

static void res_destroy(void *data)
{
	struct res *r = data;

	if (r->le.list)
		hr_hash_unlink(&r->pub->res, &r->le);
}

static struct res *res_find(const struct hr_publish *pub, const char *name)
{
	return hr_hash_find_str(&pub->res, name, offsetof(struct res, name));
}

/* The resource, made when needed; the table holds it while it has
 * publications (others hold references while they use it). */
static struct res *res_get(struct hr_publish *pub, const char *name)
{
	struct res *r = res_find(pub, name);
	size_t n = strlen(name);

	if (r)
		return hr_mem_ref(r);
	r = hr_mem_zalloc(sizeof(*r) + n + 1, res_destroy);
	if (!r)
		return NULL;
	r->pub = pub;
	memcpy(r->name, name, n + 1);
	hr_hash_append(&pub->res, hr_hash_bytes(name, n), &r->le, r);
	hr_mem_ref(r);  /* the table's */
	return r;
}

/* Drop the table's reference once nothing is published or pending. A
 * PUBLISH being stored keeps its entry in the table: were it unlinked,
 * the commit would add the publication to an entry nobody finds again
 * (its entity-tag then gets 412, its watchers never hear). */
static void res_release(struct res *r)
{
	if (!r->pubs.n && !r->pending && r->le.list) {
		hr_hash_unlink(&r->pub->res, &r->le);
		hr_mem_deref(r);
	}
}

static void pub_destroy(void *data)
{
	struct pub *pb = data;

	hr_tmr_cancel(&pb->tmr);
	if (pb->le.list) {
		hr_list_unlink(&pb->le);
		pb->res->pub->npubs--;
	}
	hr_mem_deref(pb->doc);
	hr_mem_deref(pb->body);
	hr_mem_deref(pb->res);
}

static struct pub *pub_find(const struct res *r, const struct hr_pl *etag)
{
	for (struct hr_le *le = r ? r->pubs.head : NULL; le; le = le->next) {
		struct pub *pb = le->data;

		if (!hr_pl_strcmp(etag, pb->etag))
			return pb;
	}
	return NULL;
}

/* Keep pubs ordered by published_at (oldest first). */
static void pub_place(struct res *r, struct pub *pb)
{
	struct hr_le *le;

	if (pb->le.list) {
		hr_list_unlink(&pb->le);
		r->pub->npubs--;
	}
	for (le = r->pubs.tail; le; le = le->prev) {
		const struct pub *o = le->data;

		if (o->published_at <= pb->published_at)
			break;
	}
	hr_list_insert_after(&r->pubs, le, &pb->le, pb);
	r->pub->npubs++;
}

/* A publication ends: out of its resource now, its list reference goes
 * (others may still hold one). */
static void pub_drop(struct pub *pb)
{
	hr_tmr_cancel(&pb->tmr);
	if (pb->le.list) {
		hr_list_unlink(&pb->le);
		pb->res->pub->npubs--;
		hr_mem_deref(pb);
	}
}

static int64_t next_published(struct hr_publish *pub)
{
	int64_t now = hr_wall_s() * 1000000;

	pub->last_published = now > pub->last_published ? now :
		pub->last_published + 1;
	return pub->last_published;
}

static void changed(struct hr_publish *pub, const char *name)
{
	if (!pub->closing)
		pub->pkg.changed(name, pub->pkg.arg);
}

/* Tell those watching how publication pb of name changed. */
static void tell(struct hr_publish *pub, const char *name,
	const struct pub *pb, enum hr_pub_change ch)
{
	if (pub->closing)
		return;
	for (unsigned i = 0; i < HR_PUBLISH_WATCHERS; i++) {
		if (pub->watch[i].h)
			((hr_pub_watch_h *)pub->watch[i].h)(pub->pkg.event,
				name, pb->etag, ch, pub->watch[i].arg);
	}
}

int hr_publish_watch(struct hr_publish *pub, hr_pub_watch_h *h, void *arg)
{
	return hr_watch_add(pub->watch, HR_PUBLISH_WATCHERS, (hr_watch_fn *)h,
		arg);
}

void hr_publish_unwatch(struct hr_publish *pub, hr_pub_watch_h *h,
	void *arg)
{
	hr_watch_del(pub->watch, HR_PUBLISH_WATCHERS, (hr_watch_fn *)h, arg);
}

/* ---- the documents, for the package ---- */

/* A stored publication that a PUBLISH in flight gives a new document. */
static bool superseded(const struct res *r, const struct pub *pb)
{
	for (struct hr_le *le = r->inflight.head; le; le = le->next) {
		if (((const struct pubctx *)le->data)->pb == pb)
			return true;
	}
	return false;
}

size_t hr_publish_ndocs(const struct hr_publish *pub, const char *resource,
	bool ahead)
{
	const struct res *r = res_find(pub, resource);

	return r ? r->pubs.n + (ahead ? r->inflight.n : 0) : 0;
}

void hr_publish_docs(const struct hr_publish *pub, const char *resource,
	bool ahead, hr_pubdoc_h *h, void *arg)
{
	const struct res *r = res_find(pub, resource);

	for (struct hr_le *le = r ? r->pubs.head : NULL; le; le = le->next) {
		const struct pub *pb = le->data;

		if (!ahead || !superseded(r, pb))
			h(pb->doc, arg);
	}
	for (struct hr_le *le = ahead && r ? r->inflight.head : NULL; le;
	     le = le->next)
		h(((const struct pubctx *)le->data)->doc, arg);
}

size_t hr_publish_count(const struct hr_publish *pub, const char *resource)
{
	const struct res *r;

	if (!resource)
		return pub->npubs;
	r = res_find(pub, resource);
	return r ? r->pubs.n : 0;
}

int hr_publish_foreach(const struct hr_publish *pub,
	int (*h)(const char *resource, void *arg), void *arg)
{
	int err = 0;

	for (uint32_t i = 0; pub->res.bucket && i <= pub->res.mask && !err;
	     i++) {
		for (struct hr_le *le = pub->res.bucket[i].head; le && !err;
		     le = le->next) {
			const struct res *r = le->data;

			if (r->pubs.n)
				err = h(r->name, arg);
		}
	}
	return err;
}

/* ---- expiry ---- */

static void pub_expire(void *arg);

static void pub_arm(struct pub *pb, int64_t ms)
{
	if (ms < 0)
		ms = (pb->expires_at - hr_wall_s()) * 1000;
	hr_tmr_start(&pb->tmr, ms > 0 ? (uint64_t)ms : 0, pub_expire, pb);
}

static void del_done(int err, void *arg)
{
	(void)arg;
	if (err)
		HR_WARN("expired publication not removed: %s",
			hr_strerror(err));
}

/* RFC 3903 4.1: a publication not refreshed in time is gone. */
static void pub_expire(void *arg)
{
	struct pub *pb = arg;
	struct res *r = pb->res;
	struct hr_store_tx *tx;

	if (r->pub->closing)
		return;
	if (pb->busy) {
		/* a refresh is being stored: it decides */
		hr_tmr_start(&pb->tmr, 100, pub_expire, pb);
		return;
	}
	HR_DEBUG("%s: publication %s expired", r->name, pb->etag);
	if (!hr_store_tx_alloc(&tx, r->pub->store)) {
		/* the commit takes over tx, also when it fails */
		if (hr_store_tx_pub_del(tx, pb->etag))
			hr_store_tx_abort(tx);
		else
			(void)hr_store_tx_commit(tx, del_done, NULL);
	}
	hr_mem_ref(r);
	tell(r->pub, r->name, pb, HR_PUB_EXPIRED);
	pub_drop(pb);
	changed(r->pub, r->name);
	res_release(r);
	hr_mem_deref(r);
}

/* ---- PUBLISH, RFC 3903 6 ---- */

static void ctx_destroy(void *data)
{
	struct pubctx *c = data;

	if (c->pb)
		c->pb->busy = false;
	if (c->le.list)
		hr_list_unlink(&c->le);
	hr_mem_deref(c->st);
	hr_mem_deref(c->pb);
	hr_mem_deref(c->doc);
	hr_mem_deref(c->body);
	if (c->res) {
		c->res->pending--;
		res_release(c->res);
		hr_mem_deref(c->res);
	}
}

/* RFC 3903 6 step 6: Expires, and SIP-ETag for a publication that
 * lives on (none after a removal) */
static void ok(struct hr_strans *st, const char *etag, uint32_t exp)
{
	char hdrs[128];

	if (etag)
		snprintf(hdrs, sizeof(hdrs), "SIP-ETag: %s\r\nExpires: %u\r\n",
			etag, exp);
	else
		snprintf(hdrs, sizeof(hdrs), "Expires: %u\r\n", exp);
	hr_strans_replyh(st, 200, "OK", hdrs);
}

/* A new publication, in its resource (whose list holds it). */
static struct pub *pub_new(struct res *r, int64_t published_at)
{
	struct pub *pb = hr_mem_zalloc(sizeof(*pb), pub_destroy);

	if (!pb)
		return NULL;
	pb->res = hr_mem_ref(r);
	pb->published_at = published_at;
	pub_place(r, pb);
	return pb;
}

/* The change is done: the PUBLISH answered, or the admin told. */
static void done_ok(struct pubctx *c, const char *etag, uint32_t exp)
{
	if (c->st)
		ok(c->st, etag, exp);
	else if (c->done)
		c->done(0, c->done_arg);
}

static void done_fail(struct pubctx *c, int err, const char *what)
{
	if (c->st)
		answer_fail(c->pub, c->st, err, what);
	else if (c->done)
		c->done(err, c->done_arg);
}

static void committed(int err, void *arg)
{
	struct pubctx *c = arg;
	struct pub *pb = c->pb;

	if (err) {
		done_fail(c, err, "storing the PUBLISH");
	} else if (c->del) {
		done_ok(c, NULL, 0);
		tell(c->pub, c->res->name, pb, HR_PUB_REMOVED);
		pub_drop(pb);
		changed(c->pub, c->res->name);
	} else if (!pb && !(pb = pub_new(c->res, c->published_at))) {
		done_fail(c, ENOMEM, "the publication");
	} else {
		enum hr_pub_change ch = !c->pb ? HR_PUB_PUBLISHED : c->doc ?
			HR_PUB_MODIFIED : HR_PUB_REFRESHED;

		snprintf(pb->etag, sizeof(pb->etag), "%s", c->etag);
		pb->expires_at = c->expires_at;
		pub_arm(pb, (int64_t)c->expires * 1000);
		done_ok(c, pb->etag, c->expires);
		if (c->doc) {
			/* a new or modified document: the newest */
			hr_mem_deref(pb->doc);
			hr_mem_deref(pb->body);
			pb->doc = hr_mem_ref(c->doc);
			pb->body = hr_mem_ref(c->body);
			pb->published_at = c->published_at;
			pub_place(c->res, pb);
			changed(c->pub, c->res->name);
		}
		tell(c->pub, c->res->name, pb, ch);
	}
	hr_mem_deref(c);
}

/* RFC 3903 6 step 5: a body of the package's type, within bounds, that
 * the package understands. */
static bool body_ok(const struct hr_publish *pub, const struct hr_msg *req,
	struct pubctx *c, struct hr_verdict *v)
{
	if (!req->has_ctype || !hr_ctype_match(&req->ctype, pub->type,
		pub->subtype))
		return hr_verdict_refuse(v, 415, "Unsupported Media Type",
			pub->accept);
	if (req->body.len > pub->pkg.max_body)
		return fail_as(pub, v, 413, "Request Entity Too Large", NULL,
			"PUBLISH", "its body is over the limit (65536 bytes)");
	if (!pub->pkg.parse(v, &req->body, c->res->name, &c->doc,
		pub->pkg.arg))
		return false;
	c->body = hr_pl_strdup(&req->body);
	if (!c->body)
		return fail(pub, v, ENOMEM, "the PUBLISH body");
	return true;
}

/* A new publication while the resource has max_pubs (those being
 * stored count, so that a burst cannot pass the bound): 403, as for
 * Herald's other bounds (--max-contacts, subscriptions). Making it
 * smaller would not help; removing or letting another expire would. */
static bool count_ok(const struct hr_publish *pub, const struct pubctx *c,
	struct hr_verdict *v)
{
	size_t n = c->res->pubs.n;

	if (c->pb)
		return true;
	for (struct hr_le *le = c->res->inflight.head; le; le = le->next)
		n += !((const struct pubctx *)le->data)->pb;
	if (n < pub->pkg.max_pubs)
		return true;
	return fail_as(pub, v, 403, "Too Many Publications", NULL, "PUBLISH",
		"the presentity holds --max-publications-per-presentity "
		"already");
}

/* The package's bounds on the document this one (and those in flight)
 * would make. */
static bool fits(const struct hr_publish *pub, struct pubctx *c,
	struct hr_verdict *v)
{
	bool ok_;

	if (!pub->pkg.fits)
		return true;
	hr_list_append(&c->res->inflight, &c->le, c);
	ok_ = pub->pkg.fits(v, c->res->name, pub->pkg.arg);
	hr_list_unlink(&c->le);
	return ok_;
}

static int store(struct pubctx *c)
{
	struct hr_store_tx *tx;
	struct hr_store_pub sp = { 0 };
	int err = hr_store_tx_alloc(&tx, c->pub->store);

	if (err)
		return err;
	if (c->pb)
		err = hr_store_tx_pub_del(tx, c->pb->etag);
	if (!err && !c->del) {
		sp.etag = c->etag;
		sp.presentity = c->res->name;
		sp.event = c->pub->pkg.event;
		sp.ctype = c->pub->pkg.ctype;
		sp.body = c->body ? c->body : c->pb->body;
		sp.expires_at = c->expires_at;
		sp.published_at = c->doc ? c->published_at :
			c->pb->published_at;
		err = hr_store_tx_pub_put(tx, &sp);
	}
	if (err) {
		hr_store_tx_abort(tx);
		return err;
	}
	return hr_store_tx_commit(tx, committed, c);
}

/* The package of the first one, head, and those after it, that serves
 * req's Event; NULL when none does. */
static struct hr_publish *package_of(struct hr_publish *head,
	const struct hr_msg *req)
{
	const struct hr_hdr *ev = hr_msg_hdr(req, HR_HDR_EVENT);
	struct hr_event event;

	if (!ev || hr_event_decode(&event, &ev->val))
		return NULL;
	for (struct hr_publish *p = head; p; p = p->next) {
		if (!hr_pl_strcmp(&event.package, p->pkg.event))
			return p;
	}
	return NULL;
}

static bool shutting_down(const struct hr_publish *pub, struct hr_verdict *v)
{
	return fail_as(pub, v, 503, "Service Unavailable", RETRY_AFTER, "",
		"shutting down");
}

/* Steps 1 and 2: the resource (name) of a domain we serve (*domain) and
 * the package of its event (*pubp), head's or one after it; false with
 * v. */
static bool asked_ok(struct hr_publish *head, const struct hr_msg *req,
	struct hr_publish **pubp, const char **domain, char *name, size_t n,
	struct hr_verdict *v)
{
	if (head->closing)
		return shutting_down(head, v);
	/* RFC 3903 6 step 1: a resource of a domain we serve, that exists */
	*domain = hr_realm_domain(head->realm, req);
	if (!*domain || hr_uri_aor(&req->ruri, *domain, name, n) ||
	    !hr_realm_exists(head->realm, name))
		return hr_verdict_refuse(v, 404, "Not Found", NULL);
	/* RFC 3903 6 step 2: an event one of our packages serves */
	*pubp = package_of(head, req);
	if (!*pubp)
		return hr_verdict_refuse(v, 489, "Bad Event", head->allow);
	return !(*pubp)->closing || shutting_down(*pubp, v);
}

/* RFC 3903 6 step 3: the publication SIP-If-Match names, if any. */
static bool if_match(const struct hr_publish *pub, const struct hr_msg *req,
	struct pubctx *c, struct hr_verdict *v)
{
	const struct hr_hdr *im = hr_msg_hdr(req, HR_HDR_SIP_IF_MATCH);

	if (!im)
		return true;
	/* MUST: one entity-tag, else 400 */
	if (hr_msg_hdr_count(req, HR_HDR_SIP_IF_MATCH) > 1 ||
	    hr_pl_chr(&im->val, ','))
		return hr_verdict_refuse(v, 400, "Bad SIP-If-Match", NULL);
	/* MUST: none of ours (or expired): 412 */
	c->pb = pub_find(c->res, &im->val);
	if (!c->pb || c->pb->expires_at <= hr_wall_s()) {
		c->pb = NULL;
		return hr_verdict_refuse(v, 412, "Conditional Request Failed",
			NULL);
	}
	if (c->pb->busy) {
		c->pb = NULL;
		/* RFC 3903 has none: a change of this entity-tag is being
		 * stored; 500 with Retry-After, as RFC 3261 14.2 does for
		 * overlapping re-INVITEs */
		return fail_as(pub, v, 500, "Request Pending",
			"Retry-After: 1\r\n", "SIP-If-Match", "a change of this "
			"entity-tag is being stored");
	}
	hr_mem_ref(c->pb);
	return true;
}

/* RFC 3903 6 step 4: the expiry asked, else the default; MUST answer
 * too short a one with 423 and Min-Expires. */
static bool expiry(const struct hr_publish *pub, const struct hr_msg *req,
	struct hr_verdict *v, uint32_t *exp)
{
	*exp = req->has_expires ? req->expires : pub->pkg.expires_default;
	if (*exp && *exp < pub->pkg.expires_min)
		return hr_verdict_refuse(v, 423, "Interval Too Brief",
			hr_verdict_hdrs(v, "Min-Expires: %u\r\n",
			pub->pkg.expires_min));
	if (*exp > pub->pkg.expires_max)
		*exp = pub->pkg.expires_max;
	return true;
}

/* Step 5: a body (initial or modify), or none (refresh, remove);
 * baresip refreshes with an empty body and a Content-Type. */
static bool state_ok(const struct hr_publish *pub, const struct hr_msg *req,
	struct pubctx *c, uint32_t exp, struct hr_verdict *v)
{
	if (req->body.len && !body_ok(pub, req, c, v))
		return false;
	if (!c->pb && !c->doc)
		return hr_verdict_refuse(v, 400, "Missing Body", NULL);
	if (!exp && !c->pb)
		return hr_verdict_refuse(v, 400,
			"Expires 0 Without SIP-If-Match", NULL);
	return count_ok(pub, c, v) && (!c->doc || !exp || fits(pub, c, v));
}

/* The change checked: queue it for the store; false with v. */
static bool queue(struct hr_publish *pub, struct pubctx *c, uint32_t exp,
	struct hr_verdict *v)
{
	int err;

	/* RFC 3903 6 step 5: expires 0 MUST remove the state at once */
	c->del = exp == 0;
	c->expires = exp;
	c->expires_at = hr_wall_s() + exp;
	if (c->doc)
		c->published_at = next_published(pub);
	/* RFC 3903 6 step 6: a new entity-tag for every change; the
	 * admin's start with ADMIN_TAG */
	hr_rand_token(c->etag, ETAG_LEN);
	if (!c->st)
		memcpy(c->etag, ADMIN_TAG, sizeof(ADMIN_TAG) - 1);
	if (c->pb)
		c->pb->busy = true;
	/* counted by the bounds until its commit is done (ctx_destroy) */
	if (c->doc && !c->del)
		hr_list_append(&c->res->inflight, &c->le, c);
	err = store(c);
	return !err || fail(pub, v, err, "queueing the PUBLISH");
}

/* The state of a PUBLISH from its checks to its commit; NULL with v. */
static struct pubctx *ctx_new(struct hr_publish *pub, struct hr_strans *st,
	const char *name, struct hr_verdict *v)
{
	struct pubctx *c = hr_mem_zalloc(sizeof(*c), ctx_destroy);

	if (!c) {
		fail(pub, v, ENOMEM, "the request's state");
		return NULL;
	}
	c->pub = pub;
	c->st = hr_mem_ref(st);
	c->res = res_get(pub, name);
	if (!c->res) {
		fail(pub, v, ENOMEM, "the presentity");
		return hr_mem_deref(c);
	}
	c->res->pending++;   /* until ctx_destroy */
	return c;
}

/* A node of a cluster that does not know req's SIP-If-Match reads it
 * from the store first (RFC 3903's entity-tags hold across nodes): true
 * when the PUBLISH waits for it. */
static bool park(struct hr_publish *pub, struct hr_strans *st,
	const struct hr_msg *req, const char *name, void *arg)
{
	const struct hr_hdr *im = hr_msg_hdr(req, HR_HDR_SIP_IF_MATCH);
	struct park *p;

	if (pub->resuming || !im || im->val.len > ETAG_LEN ||
	    !hr_store_node(pub->store))
		return false;
	p = calloc(1, sizeof(*p));
	if (!p)
		return false;
	memcpy(p->etag, im->val.p, im->val.len);
	if (hr_store_pub_fetch(pub->store, name, p->etag)) {
		free(p);
		return false;
	}
	p->st = hr_mem_ref(st);
	p->arg = arg;
	hr_list_append(&pub->parked, &p->le, p);
	return true;
}

static void on_publish(struct hr_strans *st, const struct hr_msg *req,
	void *arg)
{
	struct hr_publish *pub = NULL;  /* set when asked_ok is true */
	char name[NAME_MAX_];
	struct pubctx *c = NULL;
	struct hr_verdict v;
	const char *domain = NULL;  /* likewise */
	uint32_t exp;

	if (!asked_ok(arg, req, &pub, &domain, name, sizeof(name), &v))
		goto answer;
	/* RFC 3903 14.1: only the resource publishes for itself (one that
	 * waited for its entity-tag's row was let in before: its nonce
	 * count would now look replayed) */
	if (!pub->resuming &&
	    !hr_realm_open(pub->realm, st, req, domain, name, NULL, 0))
		return;
	c = ctx_new(pub, st, name, &v);
	/* the commit holds c from here; committed() answers */
	if (c && if_match(pub, req, c, &v) && expiry(pub, req, &v, &exp) &&
	    state_ok(pub, req, c, exp, &v) && queue(pub, c, exp, &v))
		return;
	/* 412: an entity-tag of another node, maybe not read yet (c goes
	 * first: while it lives the resource counts a PUBLISH pending) */
	if (c && v.scode == 412) {
		c = hr_mem_deref(c);
		if (park(pub, st, req, name, arg))
			return;
	}
answer:
	hr_strans_answer(st, &v);
	hr_mem_deref(c);
}

/* The PUBLISHes that waited for etag's row: handled again (412 now
 * when it is still unknown). */
static void resume(struct hr_publish *pub, const char *etag)
{
	struct hr_le *le, *next;

	for (le = pub->parked.head; le; le = next) {
		struct park *p = le->data;
		const struct hr_msg *req = hr_strans_msg(p->st);

		next = le->next;
		if (strcmp(p->etag, etag))
			continue;
		hr_list_unlink(le);
		if (req) {
			pub->resuming = true;
			on_publish(p->st, req, p->arg);
			pub->resuming = false;
		}
		hr_mem_deref(p->st);
		free(p);
	}
}

/* ---- the admin's publication: an HTTP client's, not a PUBLISH ---- */

static struct pub *admin_pub(const struct res *r)
{
	for (struct hr_le *le = r->pubs.head; le; le = le->next) {
		struct pub *pb = le->data;

		if (!strncmp(pb->etag, ADMIN_TAG, sizeof(ADMIN_TAG) - 1))
			return pb;
	}
	return NULL;
}

int hr_publish_put(struct hr_publish *pub, const char *resource,
	const char *body, size_t len, uint32_t expires,
	hr_publish_done_h *done, void *arg)
{
	struct hr_pl pl = { body, len };
	struct pubctx *c;
	struct hr_verdict v;

	if (pub->closing)
		return ECANCELED;
	c = ctx_new(pub, NULL, resource, &v);
	if (!c)
		return ENOMEM;
	c->done = done;
	c->done_arg = arg;
	c->pb = admin_pub(c->res);
	if (!c->pb ? !expires : c->pb->busy) {
		c->pb = NULL;
		hr_mem_deref(c);
		return expires ? EBUSY : ENOENT;
	}
	hr_mem_ref(c->pb);
	v.err = 0;
	if ((expires && (!pub->pkg.parse(&v, &pl, resource, &c->doc,
		pub->pkg.arg) || !(c->body = hr_pl_strdup(&pl)) ||
		!count_ok(pub, c, &v))) || !queue(pub, c, expires, &v)) {
		hr_mem_deref(c);
		return v.err ? v.err : EINVAL;
	}
	return 0;
}

/* ---- another node's changes (a cluster) ---- */

/* Which documents r has: a new document is a new published_at (RFC 3903
 * 4.1: a refresh keeps it under a new entity-tag). */
static uint64_t docs_sig(const struct res *r)
{
	uint64_t h = r->pubs.n;

	for (struct hr_le *le = r->pubs.head; le; le = le->next)
		h = h * 1099511628211ull +
			(uint64_t)((const struct pub *)le->data)->published_at;
	return h;
}

/* The changes of one round are one change of each resource: a refresh
 * (the old entity-tag gone, the new one there) changes no document. */
static void sync_flush(void *arg)
{
	struct hr_publish *pub = arg;
	struct hr_le *le;

	while ((le = pub->synced.head)) {
		struct res *r = le->data;

		hr_list_unlink(le);
		if (docs_sig(r) != r->sync_sig)
			changed(pub, r->name);
		res_release(r);
		hr_mem_deref(r);
	}
}

static void sync_touch(struct hr_publish *pub, struct res *r)
{
	if (r->le_sync.list)
		return;
	r->sync_sig = docs_sig(r);
	hr_list_append(&pub->synced, &r->le_sync, hr_mem_ref(r));
	if (!hr_tmr_isrunning(&pub->sync_tmr))
		hr_tmr_start(&pub->sync_tmr, 0, sync_flush, pub);
}

static struct pub *pub_find_str(const struct res *r, const char *etag)
{
	return pub_find(r, &(struct hr_pl){ etag, strlen(etag) });
}

static int sync_one(struct hr_publish *pub, const char *resource,
	const char *etag, const struct hr_store_pub *sp);

int hr_publish_sync(struct hr_publish *pub, const char *resource,
	const char *etag, const struct hr_store_pub *sp)
{
	int err = sync_one(pub, resource, etag, sp);

	if (!err)
		resume(pub, etag);
	return err;
}

static int sync_one(struct hr_publish *pub, const char *resource,
	const char *etag, const struct hr_store_pub *sp)
{
	struct res *r = res_find(pub, resource);
	struct pub *pb;
	const char *why = NULL;
	void *doc;

	if (pub->closing || (sp && strcmp(sp->event, pub->pkg.event)))
		return 0;
	/* a PUBLISH of it is being stored here */
	if (r && r->pending)
		return EBUSY;
	pb = r ? pub_find_str(r, etag) : NULL;
	if (!sp || sp->expires_at <= hr_wall_s()) {
		/* removed, or refreshed under a new entity-tag, or expired
		 * (whoever removes it first; each node has its timer) */
		if (!pb || (sp && pb->expires_at > hr_wall_s()))
			return 0;
		sync_touch(pub, r);
		tell(pub, r->name, pb, pb->expires_at <= hr_wall_s() ?
			HR_PUB_EXPIRED : HR_PUB_REMOVED);
		pub_drop(pb);
		return 0;
	}
	if (pb) {
		/* this node's own, read back: only its expiry may differ */
		pb->expires_at = sp->expires_at;
		pub_arm(pb, -1);
		return 0;
	}
	if (pub->pkg.load(&doc, sp->body, &why)) {
		HR_WARN("%s: another node's publication %s unreadable (%s)",
			resource, etag, why ? why : "?");
		return 0;
	}
	r = res_get(pub, resource);
	if (r)
		sync_touch(pub, r);  /* its documents before this one */
	pb = r ? pub_new(r, sp->published_at) : NULL;
	if (pb)
		pb->body = hr_pl_strdup(&(struct hr_pl){ sp->body,
			strlen(sp->body) });
	if (!pb || !pb->body) {
		HR_ERROR("out of memory applying another node's publication "
			"of %s", resource);
		hr_mem_deref(doc);
		if (pb)
			pub_drop(pb);
		if (r) {
			res_release(r);
			hr_mem_deref(r);
		}
		return 0;
	}
	pb->doc = doc;
	snprintf(pb->etag, sizeof(pb->etag), "%s", sp->etag);
	pb->expires_at = sp->expires_at;
	if (sp->published_at > pub->last_published)
		pub->last_published = sp->published_at;
	pub_arm(pb, -1);
	tell(pub, r->name, pb, HR_PUB_PUBLISHED);
	hr_mem_deref(r);
	return 0;
}

/* ---- recovery ---- */

struct load {
	struct hr_publish *pub;
	struct hr_store_tx *gone;
	unsigned loaded;
	unsigned expired;
};

/* A stored publication that cannot be read back: removed. */
static int unreadable(struct load *l, const struct hr_store_pub *sp,
	const char *why)
{
	HR_WARN("%s: stored publication %s unreadable (%s): removed",
		sp->presentity, sp->etag, why ? why : "?");
	l->expired++;
	return hr_store_tx_pub_del(l->gone, sp->etag);
}

static int load_pub(const struct hr_store_pub *sp, void *arg)
{
	struct load *l = arg;
	struct hr_publish *pub = l->pub;
	const char *why = NULL;
	struct pub *pb;
	struct res *r;
	void *doc;

	if (strcmp(sp->event, pub->pkg.event))
		return 0;  /* another package's */
	if (sp->expires_at <= hr_wall_s()) {
		l->expired++;
		return hr_store_tx_pub_del(l->gone, sp->etag);
	}
	if (pub->pkg.load(&doc, sp->body, &why))
		return unreadable(l, sp, why);
	r = res_get(pub, sp->presentity);
	pb = r ? pub_new(r, sp->published_at) : NULL;
	hr_mem_deref(r);
	if (!pb) {
		hr_mem_deref(doc);
		return ENOMEM;
	}
	pb->doc = doc;
	pb->body = hr_pl_strdup(&(struct hr_pl){ sp->body, strlen(sp->body) });
	if (!pb->body) {
		pub_drop(pb);
		return ENOMEM;
	}
	snprintf(pb->etag, sizeof(pb->etag), "%s", sp->etag);
	pb->expires_at = sp->expires_at;
	if (sp->published_at > pub->last_published)
		pub->last_published = sp->published_at;
	pub_arm(pb, -1);
	l->loaded++;
	return 0;
}

static void load_committed(int err, void *arg)
{
	(void)arg;
	if (err)
		HR_WARN("expired publications not removed: %s",
			hr_strerror(err));
}

int hr_publish_load(struct hr_publish *pub)
{
	struct load l = { .pub = pub };
	int err;

	err = hr_store_tx_alloc(&l.gone, pub->store);
	if (err)
		return err;
	err = hr_store_pubs_load(pub->store, load_pub, &l);
	if (err) {
		hr_store_tx_abort(l.gone);
		return err;
	}
	if (hr_store_tx_commit(l.gone, load_committed, NULL))
		HR_WARN("expired publications not removed");
	HR_INFO("%u publications loaded, %u expired", l.loaded, l.expired);
	return 0;
}

/* ---- lifetime ---- */

void hr_publish_close(struct hr_publish *pub)
{
	pub->closing = true;
	hr_tmr_cancel(&pub->sync_tmr);
	for (uint32_t i = 0; pub->res.bucket && i <= pub->res.mask; i++) {
		for (struct hr_le *le = pub->res.bucket[i].head; le;
		     le = le->next) {
			struct res *r = le->data;

			for (struct hr_le *k = r->pubs.head; k; k = k->next)
				hr_tmr_cancel(&((struct pub *)k->data)->tmr);
		}
	}
}

static void allow_build(struct hr_publish *head);

/* pub goes: when PUBLISH is routed to it, the next package takes the
 * route (none: no route). */
static void unroute(struct hr_publish *pub)
{
	hr_req_h *h;
	void *arg;

	if (!pub->sip || !hr_sip_handler(pub->sip, HR_METH_PUBLISH, &h, &arg) ||
	    h != on_publish || arg != pub)
		return;
	hr_sip_handle(pub->sip, HR_METH_PUBLISH, pub->next ? on_publish : NULL,
		pub->next);
	if (pub->next)
		allow_build(pub->next);
}

static void publish_destroy(void *data)
{
	struct hr_publish *pub = data;

	hr_publish_close(pub);
	while (pub->parked.head) {
		struct park *p = pub->parked.head->data;

		hr_list_unlink(&p->le);
		hr_mem_deref(p->st);
		free(p);
	}
	while (pub->synced.head) {
		struct res *r = pub->synced.head->data;

		hr_list_unlink(&r->le_sync);
		hr_mem_deref(r);
	}
	for (uint32_t i = 0; pub->res.bucket && i <= pub->res.mask; i++) {
		while (pub->res.bucket[i].head) {
			struct res *r = pub->res.bucket[i].head->data;

			hr_mem_ref(r);
			while (r->pubs.head)
				pub_drop(r->pubs.head->data);
			hr_hash_unlink(&pub->res, &r->le);
			hr_mem_deref(r);  /* the table's */
			hr_mem_deref(r);
		}
	}
	hr_hash_reset(&pub->res);
	hr_mem_deref(pub->realm);
	unroute(pub);
	hr_mem_deref(pub->next);
	hr_mem_deref(pub->sip);
}

/* "application/pidf+xml": type and subtype, and the Accept of a 415. */
static int ctype_split(struct hr_publish *pub)
{
	const char *slash = strchr(pub->pkg.ctype, '/');

	if (!slash || (size_t)(slash - pub->pkg.ctype) >= sizeof(pub->type) ||
	    strlen(slash + 1) >= sizeof(pub->subtype))
		return EINVAL;
	snprintf(pub->type, sizeof(pub->type), "%.*s",
		(int)(slash - pub->pkg.ctype), pub->pkg.ctype);
	snprintf(pub->subtype, sizeof(pub->subtype), "%s", slash + 1);
	snprintf(pub->accept, sizeof(pub->accept), "Accept: %s\r\n",
		pub->pkg.ctype);
	return 0;
}

/* The Allow-Events of a 489: every package served with head. */
static void allow_build(struct hr_publish *head)
{
	size_t len = (size_t)snprintf(head->allow, sizeof(head->allow),
		"Allow-Events: ");

	for (struct hr_publish *p = head; p && len < sizeof(head->allow);
	     p = p->next)
		len += (size_t)snprintf(head->allow + len,
			sizeof(head->allow) - len, "%s%s", p->pkg.event,
			p->next ? ", " : "\r\n");
}

int hr_publish_alloc(struct hr_publish **pubp, struct hr_store *store,
	struct hr_realm *realm, const struct hr_pubpkg *pkg)
{
	struct hr_publish *pub;
	int err;

	if (!pubp || !store || !realm || !pkg || !pkg->event || !pkg->ctype ||
	    !pkg->parse || !pkg->load || !pkg->changed)
		return EINVAL;
	pub = hr_mem_zalloc(sizeof(*pub), publish_destroy);
	if (!pub)
		return ENOMEM;
	pub->pkg = *pkg;
	pub->store = store;
	pub->realm = hr_mem_ref(realm);
	err = ctype_split(pub);
	if (!err)
		err = hr_hash_init(&pub->res, 4096);
	if (err) {
		hr_mem_deref(pub);
		return err;
	}
	*pubp = pub;
	return 0;
}

void hr_publish_serve(struct hr_publish *pub, struct hr_sip *sip)
{
	struct hr_publish *head = pub;
	hr_req_h *h;
	void *arg;

	pub->sip = hr_mem_ref(sip);
	/* RFC 3903 4: PUBLISH carries one event; each package fed by it
	 * gets those of its own */
	if (hr_sip_handler(sip, HR_METH_PUBLISH, &h, &arg) &&
	    h == on_publish) {
		struct hr_publish *last = head = arg;

		while (last->next)
			last = last->next;
		last->next = hr_mem_ref(pub);
	} else {
		hr_sip_handle(sip, HR_METH_PUBLISH, on_publish, pub);
	}
	allow_build(head);
}

bool hr_publish_entity_ok(const char *entity, const char *resource)
{
	const char *colon = strchr(entity, ':');
	const char *at = strchr(resource, '@');
	size_t ulen;

	if (!colon || !at)
		return false;
	if (strncmp(entity, "pres:", 5) && strncmp(entity, "sip:", 4) &&
	    strncmp(entity, "sips:", 5))
		return false;
	entity = colon + 1;
	ulen = (size_t)(at - resource);
	return !strncmp(entity, resource, ulen + 1) &&
		!strcasecmp(entity + ulen + 1, at + 1);
}
