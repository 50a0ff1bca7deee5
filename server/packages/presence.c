/*
 * Presence: PUBLISH (RFC 3903) stores PIDF documents per presentity; the
 * presentity's document is composed from all its live publications
 * (server/xml) and told to every active watcher of the presence package
 * (RFC 3856), once per burst of changes. Who may watch is decided by
 * rules (RFC 5025's actions) kept in PostgreSQL, and a default for
 * watchers of the presentity's own domain and for others.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "pres_int.h"
#include "xml/xml.h"

#define HR_LOG_MODULE "presence"

#define PIDF "application/pidf+xml"
#define RETRY_AFTER "Retry-After: 5\r\n"
#define DOC_MAX (1024 * 1024)   /* composing for watchers: any bound in
				 * force when the publications were made */
#define NAME_MAX_ 512

static const char *const types[] = { PIDF };

static const char *const action_names[] = {
	[HR_PRES_NONE] = "",
	[HR_PRES_BLOCK] = "block",
	[HR_PRES_CONFIRM] = "confirm",
	[HR_PRES_POLITE_BLOCK] = "polite-block",
	[HR_PRES_ALLOW] = "allow",
};

int hr_pres_action_decode(const char *name, enum hr_pres_action *a)
{
	for (unsigned i = HR_PRES_BLOCK; name && i <= HR_PRES_ALLOW; i++) {
		if (!strcmp(name, action_names[i])) {
			*a = (enum hr_pres_action)i;
			return 0;
		}
	}
	return EINVAL;
}

void hr_presence_cfg_default(struct hr_presence_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->pub_expires_default = 3600;
	cfg->pub_expires_min = 10;
	cfg->pub_expires_max = 86400;
	cfg->sub_expires_default = 3600;
	cfg->sub_expires_min = 60;
	cfg->sub_expires_max = 86400;
	cfg->local = HR_PRES_ALLOW;
	cfg->remote = HR_PRES_CONFIRM;
	cfg->interval_ms = 10;
	cfg->max_body = 65536;
	cfg->max_pubs = 32;
	cfg->max_doc = HR_PRES_DOC_DEFAULT;
}

/* ---- presentities and publications ---- */

static void pres_destroy(void *data)
{
	struct presentity *pr = data;

	hr_tmr_cancel(&pr->tmr);
	while (pr->waiting.head)
		hr_mem_deref(pr->waiting.head->data);
	hr_hash_unlink(&pr->p->pres, &pr->le);
	free(pr->doc);
}

struct presentity *hr_pres_find(const struct hr_presence *p,
	const char *name)
{
	struct hr_list *l = hr_hash_list(&p->pres, hr_hash_bytes(name,
		strlen(name)));

	for (struct hr_le *le = l->head; le; le = le->next) {
		struct presentity *pr = le->data;

		if (!strcmp(pr->name, name))
			return pr;
	}
	return NULL;
}

/* The presentity, made when needed; the table holds it while it has
 * publications (others hold references while they use it). */
static struct presentity *pres_get(struct hr_presence *p, const char *name)
{
	struct presentity *pr = hr_pres_find(p, name);
	size_t n = strlen(name);

	if (pr)
		return hr_mem_ref(pr);
	pr = hr_mem_zalloc(sizeof(*pr) + n + 1, pres_destroy);
	if (!pr)
		return NULL;
	pr->p = p;
	memcpy(pr->name, name, n + 1);
	hr_hash_append(&p->pres, hr_hash_bytes(name, n), &pr->le, pr);
	hr_mem_ref(pr);  /* the table's */
	return pr;
}

/* Drop the table's reference once nothing is published, waiting or
 * pending. A PUBLISH being stored keeps its entry in the table: were it
 * unlinked, the commit would add the publication to an entry nobody
 * finds again (its entity-tag then gets 412, its watchers never hear). */
static void pres_release(struct presentity *pr)
{
	if (!pr->pubs.n && !pr->waiting.n && !pr->pending && pr->le.list &&
	    !hr_tmr_isrunning(&pr->tmr)) {
		hr_hash_unlink(&pr->p->pres, &pr->le);
		hr_mem_deref(pr);
	}
}

static void pub_destroy(void *data)
{
	struct pub *pb = data;

	hr_tmr_cancel(&pb->tmr);
	if (pb->le.list) {
		hr_list_unlink(&pb->le);
		pb->pr->p->npubs--;
	}
	hr_mem_deref(pb->doc);
	hr_mem_deref(pb->body);
	hr_mem_deref(pb->pr);
}

static struct pub *pub_find(const struct presentity *pr, const struct hr_pl *etag)
{
	for (struct hr_le *le = pr ? pr->pubs.head : NULL; le; le = le->next) {
		struct pub *pb = le->data;

		if (!hr_pl_strcmp(etag, pb->etag))
			return pb;
	}
	return NULL;
}

/* Keep pubs ordered by published_at (oldest first). */
static void pub_place(struct presentity *pr, struct pub *pb)
{
	struct hr_le *le;

	if (pb->le.list) {
		hr_list_unlink(&pb->le);
		pr->p->npubs--;
	}
	for (le = pr->pubs.tail; le; le = le->prev) {
		const struct pub *o = le->data;

		if (o->published_at <= pb->published_at)
			break;
	}
	hr_list_insert_after(&pr->pubs, le, &pb->le, pb);
	pr->p->npubs++;
}

/* A publication ends: out of its presentity now, its list reference
 * goes (others may still hold one). */
static void pub_drop(struct pub *pb)
{
	hr_tmr_cancel(&pb->tmr);
	if (pb->le.list) {
		hr_list_unlink(&pb->le);
		pb->pr->p->npubs--;
		hr_mem_deref(pb);
	}
}

static int64_t next_published(struct hr_presence *p)
{
	int64_t now = hr_wall_s() * 1000000;

	p->last_published = now > p->last_published ? now :
		p->last_published + 1;
	return p->last_published;
}

/* A PUBLISH from its checks to its commit. */
struct pubctx {
	struct hr_le le;              /* in pr->inflight while it has a doc */
	struct hr_presence *p;
	struct hr_strans *st;
	struct presentity *pr;
	struct pub *pb;               /* the publication changed, or NULL */
	struct hr_pidf *doc;          /* a new document, or NULL */
	char *body;                   /* its text (hr_mem) */
	char etag[HR_ETAG_LEN + 1];   /* the new entity-tag */
	int64_t expires_at;
	int64_t published_at;
	uint32_t expires;
	bool del;
};

/* ---- the composed document and its notification ---- */

struct binds {
	char ids[64][48];             /* "c" + the contact id: an XML id */
	const char *idv[64];
	const char *uris[64];
	unsigned n;
};

static int bind_collect(const struct hr_binding *b, void *arg)
{
	struct binds *bs = arg;

	if (bs->n == 64)
		return 0;
	snprintf(bs->ids[bs->n], sizeof(bs->ids[0]), "c%s", b->id);
	bs->idv[bs->n] = bs->ids[bs->n];
	bs->uris[bs->n++] = b->uri;
	return 0;
}

/* A stored publication that a PUBLISH in flight gives a new document. */
static bool superseded(const struct presentity *pr, const struct pub *pb)
{
	for (struct hr_le *le = pr->inflight.head; le; le = le->next) {
		if (((const struct pubctx *)le->data)->pb == pb)
			return true;
	}
	return false;
}

/* The documents of presentity's publications, oldest first (every one:
 * their number is bounded when they are made): *docsp (free it) and
 * their number. With ahead, the documents of the PUBLISHes in flight
 * too, in place of those they modify: what the presentity will have if
 * they all succeed. */
static int docs_of(const struct presentity *pr, bool ahead,
	struct hr_pidf ***docsp, unsigned *np)
{
	size_t max = pr ? pr->pubs.n + (ahead ? pr->inflight.n : 0) : 0;
	struct hr_pidf **docs = calloc(max ? max : 1, sizeof(*docs));
	unsigned n = 0;

	if (!docs)
		return ENOMEM;
	for (struct hr_le *le = pr ? pr->pubs.head : NULL; le; le = le->next) {
		const struct pub *pb = le->data;

		if (!ahead || !superseded(pr, pb))
			docs[n++] = pb->doc;
	}
	for (struct hr_le *le = ahead && pr ? pr->inflight.head : NULL; le;
	     le = le->next)
		docs[n++] = ((const struct pubctx *)le->data)->doc;
	*docsp = docs;
	*np = n;
	return 0;
}

/* Compose presentity's document into buf (RFC 3863: entity always);
 * ahead: as it will be once the PUBLISHes in flight are stored. */
static int compose_as(struct hr_presence *p, const char *name,
	const struct presentity *pr, bool ahead, struct hr_buf *buf)
{
	char entity[NAME_MAX_ + 8];
	struct hr_pidf **docs;
	unsigned n;
	int err;

	snprintf(entity, sizeof(entity), "sip:%s", name);
	err = docs_of(pr, ahead, &docs, &n);
	if (err)
		return err;
	if (n)
		err = hr_pidf_compose(buf, entity, docs, n);
	free(docs);
	if (n)
		return err;
	if (p->cfg.from_registrar && p->r) {
		/* no publication: what the registrar knows (the strings
		 * stay while the loop does not turn) */
		struct binds bs = { .n = 0 };

		hr_registrar_bindings(p->r, name, bind_collect, &bs);
		if (bs.n)
			return hr_pidf_open_tuples(buf, entity, bs.idv,
				bs.uris, bs.n);
	}
	return hr_pidf_compose(buf, entity, NULL, 0);
}

static int compose(struct hr_presence *p, const char *name,
	const struct presentity *pr, struct hr_buf *buf)
{
	return compose_as(p, name, pr, false, buf);
}

/* FNV-1a, 64 bits: a watcher is never sent the same document twice in
 * a row (phones misbehave on duplicates, INTEROP.md) */
static uint64_t doc_hash(const char *p, size_t n)
{
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ULL;
	}
	return h ? h : 1;
}

static int tell(struct hr_sub *sub, void *arg)
{
	const struct presentity *pr = arg;
	struct psub *ps = hr_sub_data(sub);

	if (ps && ps->action == HR_PRES_ALLOW &&
	    ps->sent_hash != pr->doc_hash &&
	    hr_sub_info(sub)->state == HR_SUB_ACTIVE)
		hr_sub_changed(sub);
	return 0;
}

/* A round: compose once, tell every watcher that has not seen it. */
static void round_fire(void *arg)
{
	struct presentity *pr = arg;
	struct hr_presence *p = pr->p;
	struct hr_buf b;
	int err;

	pr->round_ms = hr_now_ms();
	hr_buf_init(&b, DOC_MAX);
	err = compose(p, pr->name, pr, &b);
	if (!err)
		err = hr_buf_write(&b, "", 1);
	if (err) {
		HR_WARN("%s: document not composed: %s", pr->name,
			hr_strerror(err));
		hr_buf_reset(&b);
		pres_release(pr);
		return;
	}
	/* the same document again tells nobody anything */
	if (!pr->doc || pr->doclen != b.len - 1 ||
	    memcmp(pr->doc, b.b, b.len - 1)) {
		free(pr->doc);
		pr->doc = b.b;
		pr->doclen = b.len - 1;
		pr->doc_hash = doc_hash(pr->doc, pr->doclen);
		hr_mem_ref(pr);
		hr_events_foreach(p->ev, "presence", pr->name, tell, pr);
		hr_mem_deref(pr);
	} else {
		hr_buf_reset(&b);
	}
	pres_release(pr);
}

/*
 * Something of the presentity changed. RFC 3856 6.10 rate limit: rounds
 * start at most once per interval. After a quiet spell the round waits
 * one interval (a burst makes one round); under a stream of changes it
 * comes one interval after the previous round started.
 */
static void changed(struct hr_presence *p, const char *name)
{
	struct presentity *pr;
	uint64_t since, delay;

	if (p->closing)
		return;
	pr = pres_get(p, name);
	if (!pr)
		return;
	if (!hr_tmr_isrunning(&pr->tmr)) {
		since = hr_now_ms() - pr->round_ms;
		delay = since >= p->cfg.interval_ms ? p->cfg.interval_ms :
			p->cfg.interval_ms - since;
		hr_tmr_start(&pr->tmr, delay, round_fire, pr);
	}
	hr_mem_deref(pr);
}

int hr_presence_document(struct hr_presence *p, const char *presentity,
	struct hr_buf *buf)
{
	const struct presentity *pr = hr_pres_find(p, presentity);

	if (pr && pr->doc && !hr_tmr_isrunning(&pr->tmr))
		return hr_buf_write(buf, pr->doc, pr->doclen);
	return compose(p, presentity, pr, buf);
}

size_t hr_presence_count(const struct hr_presence *p)
{
	return p->npubs;
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
	if (c->pr) {
		c->pr->pending--;
		pres_release(c->pr);
		hr_mem_deref(c->pr);
	}
}

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
	struct presentity *pr = pb->pr;
	struct hr_store_tx *tx;

	if (pr->p->closing)
		return;
	if (pb->busy) {
		/* a refresh is being stored: it decides */
		hr_tmr_start(&pb->tmr, 100, pub_expire, pb);
		return;
	}
	HR_DEBUG("%s: publication %s expired", pr->name, pb->etag);
	if (!hr_store_tx_alloc(&tx, pr->p->store)) {
		/* the commit takes over tx, also when it fails */
		if (hr_store_tx_pub_del(tx, pb->etag))
			hr_store_tx_abort(tx);
		else
			(void)hr_store_tx_commit(tx, del_done, NULL);
	}
	hr_mem_ref(pr);
	pub_drop(pb);
	changed(pr->p, pr->name);
	pres_release(pr);
	hr_mem_deref(pr);
}

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

static void committed(int err, void *arg)
{
	struct pubctx *c = arg;
	struct presentity *pr = c->pr;
	struct pub *pb = c->pb;

	if (err) {
		hr_strans_fail(c->st, err, "presence: storing the PUBLISH");
		hr_mem_deref(c);
		return;
	}
	if (c->del) {
		ok(c->st, NULL, 0);
		pub_drop(pb);
		changed(c->p, pr->name);
		hr_mem_deref(c);
		return;
	}
	if (!pb) {
		pb = hr_mem_zalloc(sizeof(*pb), pub_destroy);
		if (!pb) {
			hr_strans_fail(c->st, ENOMEM,
				"presence: the publication");
			hr_mem_deref(c);
			return;
		}
		pb->pr = hr_mem_ref(pr);
		pb->published_at = c->published_at;
		pub_place(pr, pb);
	}
	snprintf(pb->etag, sizeof(pb->etag), "%s", c->etag);
	pb->expires_at = c->expires_at;
	pub_arm(pb, (int64_t)c->expires * 1000);
	ok(c->st, pb->etag, c->expires);
	if (c->doc) {
		/* a new or modified document: the newest of the presentity */
		hr_mem_deref(pb->doc);
		hr_mem_deref(pb->body);
		pb->doc = hr_mem_ref(c->doc);
		pb->body = hr_mem_ref(c->body);
		pb->published_at = c->published_at;
		pub_place(pr, pb);
		changed(c->p, pr->name);
	}
	hr_mem_deref(c);
}

/* The entity of a published document names the presentity: pres:, sip:
 * or sips: and user@domain (the domain in any case). */
static bool entity_ok(const char *entity, const char *presentity)
{
	const char *colon = strchr(entity, ':');
	const char *at = strchr(presentity, '@');
	size_t ulen;

	if (!colon || !at)
		return false;
	if (strncmp(entity, "pres:", 5) && strncmp(entity, "sip:", 4) &&
	    strncmp(entity, "sips:", 5))
		return false;
	entity = colon + 1;
	ulen = (size_t)(at - presentity);
	return !strncmp(entity, presentity, ulen + 1) &&
		!strcasecmp(entity + ulen + 1, at + 1);
}

static bool body_ok(struct hr_presence *p, struct hr_strans *st,
	const struct hr_msg *req, const char *name, struct pubctx *c)
{
	char reason[128];
	const char *why = NULL;
	int err;

	/* RFC 3903 6 step 5: a body of the package's type only */
	if (!req->has_ctype || !hr_ctype_match(&req->ctype, "application",
		"pidf+xml")) {
		hr_strans_replyh(st, 415, "Unsupported Media Type",
			"Accept: " PIDF "\r\n");
		return false;
	}
	if (req->body.len > p->cfg.max_body) {
		hr_strans_fail_as(st, 413, "Request Entity Too Large", NULL,
			"presence: PUBLISH", "its body is over the limit "
			"(65536 bytes)");
		return false;
	}
	err = hr_pidf_parse(&c->doc, req->body.p, req->body.len, &why);
	if (err == ENOMEM) {
		hr_strans_fail(st, err, "presence: parsing the PIDF");
		return false;
	}
	if (err) {
		snprintf(reason, sizeof(reason), "%s", why ? why :
			"Bad PIDF");
		hr_strans_replyh(st, 400, reason, NULL);
		return false;
	}
	if (!entity_ok(hr_pidf_entity(c->doc), name)) {
		hr_strans_replyh(st, 400, "Bad PIDF: entity is not the "
			"presentity", NULL);
		return false;
	}
	c->body = hr_pl_strdup(&req->body);
	if (!c->body) {
		hr_strans_fail(st, ENOMEM, "presence: the PUBLISH body");
		return false;
	}
	return true;
}

/* A new publication while the presentity has max_pubs (those being
 * stored count, so that a burst cannot pass the bound): 403, as for
 * Herald's other bounds (--max-contacts, subscriptions). Making it
 * smaller would not help; removing or letting another expire would. */
static bool count_ok(struct hr_presence *p, struct hr_strans *st,
	const struct pubctx *c)
{
	size_t n = c->pr->pubs.n;

	if (c->pb)
		return true;
	for (struct hr_le *le = c->pr->inflight.head; le; le = le->next)
		n += !((const struct pubctx *)le->data)->pb;
	if (n < p->cfg.max_pubs)
		return true;
	hr_strans_fail_as(st, 403, "Too Many Publications", NULL,
		"presence: PUBLISH", "the presentity holds "
		"--max-publications-per-presentity already");
	return false;
}

/*
 * The document the presentity would have with this one (and those in
 * flight) is composed now, to the bound: one past it gets 413 (RFC 3261
 * 21.4.11: a body larger than the server is willing to process, here
 * with what is published already; a smaller body would do). Not 503:
 * that asks to send the same again later (RFC 3903 9). Refused here, a
 * too large document never reaches a watcher: NOTIFYs stay deliverable.
 */
static bool size_ok(struct hr_presence *p, struct hr_strans *st,
	struct pubctx *c)
{
	struct hr_buf b;
	int err;

	hr_buf_init(&b, p->cfg.max_doc);
	hr_list_append(&c->pr->inflight, &c->le, c);
	err = compose_as(p, c->pr->name, c->pr, true, &b);
	hr_list_unlink(&c->le);
	hr_buf_reset(&b);
	if (err == EMSGSIZE) {
		hr_strans_fail_as(st, 413, "Presence Document Too Large",
			NULL, "presence: PUBLISH", "the presentity's document "
			"would be over --max-presence-document");
		return false;
	}
	if (err) {
		hr_strans_fail(st, err, "presence: composing ahead");
		return false;
	}
	return true;
}

static int store(struct pubctx *c)
{
	struct hr_store_tx *tx;
	struct hr_store_pub sp = { 0 };
	int err = hr_store_tx_alloc(&tx, c->p->store);

	if (err)
		return err;
	if (c->pb)
		err = hr_store_tx_pub_del(tx, c->pb->etag);
	if (!err && !c->del) {
		sp.etag = c->etag;
		sp.presentity = c->pr->name;
		sp.event = "presence";
		sp.ctype = PIDF;
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

static void on_publish(struct hr_strans *st, const struct hr_msg *req,
	void *arg)
{
	struct hr_presence *p = arg;
	const struct hr_hdr *ev = hr_msg_hdr(req, HR_HDR_EVENT);
	const struct hr_hdr *im = hr_msg_hdr(req, HR_HDR_SIP_IF_MATCH);
	struct hr_event event;
	char name[NAME_MAX_], hdrs[64];
	const char *domain;
	struct pubctx *c;
	uint32_t exp;
	int err;

	if (p->closing) {
		hr_strans_fail_as(st, 503, "Service Unavailable", RETRY_AFTER,
			"presence", "shutting down");
		return;
	}
	/* step 1: a presentity of a domain we serve */
	domain = hr_realm_domain(p->cfg.realm, req);
	if (!domain || hr_uri_aor(&req->ruri, domain, name, sizeof(name))) {
		hr_strans_replyh(st, 404, "Not Found", NULL);
		return;
	}
	/* step 1: a presentity that exists */
	if (!hr_realm_exists(p->cfg.realm, name)) {
		hr_strans_replyh(st, 404, "Not Found", NULL);
		return;
	}
	/* step 2 */
	if (!ev || hr_event_decode(&event, &ev->val) ||
	    hr_pl_strcmp(&event.package, "presence")) {
		hr_strans_replyh(st, 489, "Bad Event",
			"Allow-Events: presence\r\n");
		return;
	}
	/* only the presentity publishes for itself */
	if (!hr_realm_open(p->cfg.realm, st, req, domain, name, NULL, 0))
		return;
	c = hr_mem_zalloc(sizeof(*c), ctx_destroy);
	if (!c) {
		hr_strans_fail(st, ENOMEM, "presence: the request's state");
		return;
	}
	c->p = p;
	c->st = hr_mem_ref(st);
	c->pr = pres_get(p, name);
	if (!c->pr) {
		hr_strans_fail(st, ENOMEM, "presence: the presentity");
		goto out;
	}
	c->pr->pending++;   /* until ctx_destroy */
	/* step 3 */
	if (im) {
		if (hr_msg_hdr_count(req, HR_HDR_SIP_IF_MATCH) > 1 ||
		    hr_pl_chr(&im->val, ',')) {
			hr_strans_replyh(st, 400, "Bad SIP-If-Match", NULL);
			goto out;
		}
		c->pb = pub_find(c->pr, &im->val);
		if (!c->pb || c->pb->expires_at <= hr_wall_s()) {
			c->pb = NULL;
			hr_strans_replyh(st, 412, "Conditional Request Failed",
				NULL);
			goto out;
		}
		if (c->pb->busy) {
			c->pb = NULL;
			/* RFC 3903 has none: a change of this entity-tag is
			 * being stored; 500 with Retry-After, as RFC 3261
			 * 14.2 does for overlapping re-INVITEs */
			hr_strans_fail_as(st, 500, "Request Pending",
				"Retry-After: 1\r\n", "presence: SIP-If-Match",
				"a change of this entity-tag is being stored");
			goto out;
		}
		hr_mem_ref(c->pb);
	}
	/* step 4 */
	exp = req->has_expires ? req->expires : p->cfg.pub_expires_default;
	if (exp && exp < p->cfg.pub_expires_min) {
		snprintf(hdrs, sizeof(hdrs), "Min-Expires: %u\r\n",
			p->cfg.pub_expires_min);
		hr_strans_replyh(st, 423, "Interval Too Brief", hdrs);
		goto out;
	}
	if (exp > p->cfg.pub_expires_max)
		exp = p->cfg.pub_expires_max;
	/* step 5: a body (initial or modify), or none (refresh, remove);
	 * baresip refreshes with an empty body and a Content-Type */
	if (req->body.len && !body_ok(p, st, req, name, c))
		goto out;
	if (!c->pb && !c->doc) {
		hr_strans_replyh(st, 400, "Missing Body", NULL);
		goto out;
	}
	if (!exp && !c->pb) {
		hr_strans_replyh(st, 400, "Expires 0 Without SIP-If-Match",
			NULL);
		goto out;
	}
	if (!c->pb && !count_ok(p, st, c))
		goto out;
	if (c->doc && exp && !size_ok(p, st, c))
		goto out;
	c->del = exp == 0;
	c->expires = exp;
	c->expires_at = hr_wall_s() + exp;
	if (c->doc)
		c->published_at = next_published(p);
	/* RFC 3903 6 step 3: a new entity-tag for every change */
	hr_rand_token(c->etag, HR_ETAG_LEN);
	if (c->pb)
		c->pb->busy = true;
	/* counted by the bounds until its commit is done (ctx_destroy) */
	if (c->doc && !c->del)
		hr_list_append(&c->pr->inflight, &c->le, c);
	err = store(c);
	if (err) {
		hr_strans_fail(st, err, "presence: queueing the PUBLISH");
		goto out;
	}
	return;
out:
	hr_mem_deref(c);
}

/* ---- RFC 3857 4.1: waiting ---- */

static void waiting_destroy(void *data)
{
	hr_list_unlink(&((struct waiting *)data)->le);
}

static void waiting_add(struct hr_presence *p, const struct hr_sub_info *si)
{
	char who[NAME_MAX_];
	const char *const strs[] = { si->id, si->watcher,
		hr_sub_identity(si, who, sizeof(who)) };
	struct presentity *pr = pres_get(p, si->resource);
	struct waiting *w;
	char *s;

	if (!pr)
		return;
	w = hr_mem_zalloc(sizeof(*w) + hr_strpack_size(strs, 3),
		waiting_destroy);
	if (w) {
		s = w->strs;
		w->id = hr_strpack(&s, strs[0]);
		w->watcher = hr_strpack(&s, strs[1]);
		w->who = hr_strpack(&s, strs[2]);
		hr_list_append(&pr->waiting, &w->le, w);
		hr_winfo_tell(p, si->resource, w->id, w->watcher, "waiting",
			"timeout", -1);
	}
	hr_mem_deref(pr);
}

/* The waiting records of who (a user, or every user of a domain) end:
 * decided (approved, rejected) or subscribed again (giveup). */
static void waiting_end(struct hr_presence *p, const char *resource,
	const char *who, const char *event)
{
	struct presentity *pr = hr_pres_find(p, resource);
	struct hr_le *le;

	if (!pr)
		return;
	hr_mem_ref(pr);
	le = pr->waiting.head;
	while (le) {
		struct waiting *w = le->data;
		const char *at = strchr(w->who, '@');

		le = le->next;
		if (strcmp(w->who, who) && (!at || strcmp(at + 1, who)))
			continue;
		hr_winfo_tell(p, resource, w->id, w->watcher, "terminated",
			event, -1);
		hr_mem_deref(w);
	}
	pres_release(pr);
	hr_mem_deref(pr);
}

/* ---- rules ---- */

enum hr_pres_action hr_presence_rule_get(const struct hr_presence *p,
	const char *presentity, const char *watcher)
{
	return (enum hr_pres_action)hr_rules_get(p->rules, presentity,
		watcher);
}

/* What applies to this watcher: the presentity itself always sees
 * itself; then its rules; then the default for its domain or others. */
static enum hr_pres_action decide(const struct hr_presence *p,
	const struct hr_sub_info *si)
{
	char who[NAME_MAX_];
	const char *at, *rat;
	enum hr_pres_action a;

	hr_sub_identity(si, who, sizeof(who));
	if (!strcmp(who, si->resource))
		return HR_PRES_ALLOW;
	a = hr_presence_rule_get(p, si->resource, who);
	if (a != HR_PRES_NONE)
		return a;
	at = strchr(who, '@');
	rat = strchr(si->resource, '@');
	return at && rat && !strcasecmp(at + 1, rat + 1) ? p->cfg.local :
		p->cfg.remote;
}

/* A rule changed: move the watcher's subscriptions at once. */
static int reapply(struct hr_sub *sub, void *arg)
{
	struct hr_presence *p = arg;
	const struct hr_sub_info *si = hr_sub_info(sub);
	struct psub *ps = hr_sub_data(sub);
	enum hr_pres_action a = decide(p, si);

	if (!ps || a == ps->action)
		return 0;
	switch (a) {
	case HR_PRES_BLOCK:
		/* RFC 5025 3.2.1: rejected */
		hr_sub_terminate(sub, HR_REASON_REJECTED, 0);
		return 0;
	case HR_PRES_CONFIRM:
		/* an active watcher stays; only new ones wait */
		return 0;
	case HR_PRES_ALLOW:
	case HR_PRES_POLITE_BLOCK:
	default:
		ps->action = a;
		if (si->state == HR_SUB_PENDING) {
			ps->approved = true;
			if (!hr_sub_activate(sub))
				hr_winfo_changed(p, sub, "active", "approved");
		} else {
			ps->sent_hash = 0;
			hr_sub_changed(sub);
		}
		return 0;
	}
}

/* A rule is stored and in force: move the subscriptions it concerns. */
static void rule_applied(const char *presentity, const char *watcher,
	int action, void *arg)
{
	struct hr_presence *p = arg;

	hr_events_foreach(p->ev, "presence", presentity, reapply, p);
	/* RFC 3857 4.1: a decision ends a waiting subscription */
	if (action == HR_PRES_ALLOW || action == HR_PRES_BLOCK ||
	    action == HR_PRES_POLITE_BLOCK)
		waiting_end(p, presentity, watcher, action == HR_PRES_BLOCK ?
			"rejected" : "approved");
}

int hr_presence_rule(struct hr_presence *p, const char *presentity,
	const char *watcher, enum hr_pres_action action,
	hr_presence_done_h *done, void *arg)
{
	if (!p || (unsigned)action > HR_PRES_ALLOW)
		return EINVAL;
	return hr_rules_change(p->rules, presentity, watcher, (int)action,
		done, arg);
}

/* ---- the presence package's hooks ---- */

static enum hr_authz authorize(const struct hr_sub_info *si, void *arg)
{
	struct hr_presence *p = arg;

	/* RFC 3856 6.5: a presentity that does not exist */
	if (!hr_realm_exists(p->cfg.realm, si->resource))
		return HR_AUTHZ_NOTFOUND;
	switch (decide(p, si)) {
	case HR_PRES_BLOCK:
		return HR_AUTHZ_REJECT;
	case HR_PRES_CONFIRM:
		return HR_AUTHZ_PENDING;
	default:
		return HR_AUTHZ_ACTIVE;
	}
}

static void linked(struct hr_sub *sub, void *arg)
{
	struct hr_presence *p = arg;
	struct psub *ps = calloc(1, sizeof(*ps));
	const struct hr_sub_info *si = hr_sub_info(sub);
	char who[NAME_MAX_];

	if (ps) {
		ps->action = si->state == HR_SUB_PENDING ? HR_PRES_CONFIRM :
			decide(p, si);
		if (ps->action == HR_PRES_CONFIRM &&
		    si->state == HR_SUB_ACTIVE)
			ps->action = HR_PRES_ALLOW;
		/* loaded, and blocked by a rule since: it ends at start
		 * (hr_events_reauthorize) */
		if (ps->action == HR_PRES_BLOCK)
			ps->action = HR_PRES_ALLOW;
	}
	hr_sub_set_data(sub, ps);
	/* RFC 3857 4.1: a new subscription makes its waiting one redundant */
	waiting_end(p, si->resource, hr_sub_identity(si, who, sizeof(who)),
		"giveup");
	hr_winfo_changed(p, sub, si->state == HR_SUB_PENDING ? "pending" :
		"active", "subscribe");
}

static void gone(struct hr_sub *sub, void *arg)
{
	struct hr_presence *p = arg;
	const char *ev = hr_sub_reason_name(hr_sub_info(sub)->reason);

	/* RFC 3857 3.2.4: why the watcher went; a NOTIFY that failed and a
	 * replaced subscription: deactivated (the watcher may come back) */
	const struct hr_sub_info *si = hr_sub_info(sub);

	/* RFC 3857 4.1: a pending subscription timing out waits on */
	if (hr_sub_data(sub) && si->state == HR_SUB_PENDING &&
	    si->reason == HR_REASON_TIMEOUT && !p->closing)
		waiting_add(p, si);
	else if (hr_sub_data(sub))
		hr_winfo_changed(p, sub, "terminated", ev ? ev : "deactivated");
	free(hr_sub_data(sub));
	hr_sub_set_data(sub, NULL);
}

static int body(struct hr_sub *sub, const struct hr_sub_info *si,
	enum hr_body_kind kind, struct hr_buf *buf, void *arg)
{
	struct hr_presence *p = arg;
	struct psub *ps = hr_sub_data(sub);
	char entity[NAME_MAX_ + 8];
	size_t at = buf->len;
	int err;

	(void)kind;  /* PIDF has no partial form here: always the whole */
	if (ps && ps->action == HR_PRES_POLITE_BLOCK) {
		snprintf(entity, sizeof(entity), "sip:%s", si->resource);
		err = hr_pidf_neutral(buf, entity);
	} else {
		err = hr_presence_document(p, si->resource, buf);
	}
	if (!err && ps)
		ps->sent_hash = doc_hash(buf->b + at, buf->len - at);
	return err;
}

/* presence from the registrar: a binding change changes the document */
static void binding_changed(const struct hr_binding *b, enum hr_reg_event ev,
	void *arg)
{
	struct hr_presence *p = arg;
	const struct presentity *pr = hr_pres_find(p, b->aor);

	(void)ev;
	if (!pr || !pr->pubs.n)
		changed(p, b->aor);
}

/* ---- recovery ---- */

struct load {
	struct hr_presence *p;
	struct hr_store_tx *gone;
	unsigned loaded;
	unsigned expired;
};

static int load_pub(const struct hr_store_pub *sp, void *arg)
{
	struct load *l = arg;
	struct hr_presence *p = l->p;
	struct presentity *pr;
	struct pub *pb;
	const char *why;

	if (sp->expires_at <= hr_wall_s() || strcmp(sp->event, "presence")) {
		l->expired++;
		return hr_store_tx_pub_del(l->gone, sp->etag);
	}
	pr = pres_get(p, sp->presentity);
	pb = hr_mem_zalloc(sizeof(*pb), pub_destroy);
	if (!pr || !pb) {
		hr_mem_deref(pr);
		hr_mem_deref(pb);
		return ENOMEM;
	}
	pb->pr = pr;
	if (hr_pidf_parse(&pb->doc, sp->body, strlen(sp->body), &why)) {
		HR_WARN("%s: stored publication %s unreadable (%s): removed",
			sp->presentity, sp->etag, why ? why : "?");
		hr_mem_deref(pb);
		pres_release(pr);
		l->expired++;
		return hr_store_tx_pub_del(l->gone, sp->etag);
	}
	pb->body = hr_pl_strdup(&(struct hr_pl){ sp->body, strlen(sp->body) });
	if (!pb->body) {
		hr_mem_deref(pb);
		return ENOMEM;
	}
	snprintf(pb->etag, sizeof(pb->etag), "%s", sp->etag);
	pb->expires_at = sp->expires_at;
	pb->published_at = sp->published_at;
	if (sp->published_at > p->last_published)
		p->last_published = sp->published_at;
	pub_place(pr, pb);
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

int hr_presence_load(struct hr_presence *p)
{
	struct load l = { .p = p };
	int err;

	err = hr_rules_load(p->rules);
	if (!err)
		err = hr_store_tx_alloc(&l.gone, p->store);
	if (err)
		return err;
	err = hr_store_pubs_load(p->store, load_pub, &l);
	if (err) {
		hr_store_tx_abort(l.gone);
		return err;
	}
	if (hr_store_tx_commit(l.gone, load_committed, NULL))
		HR_WARN("expired publications not removed");
	/* compose every loaded presentity's document now */
	for (uint32_t i = 0; p->pres.bucket && i <= p->pres.mask; i++) {
		for (struct hr_le *le = p->pres.bucket[i].head; le;
		     le = le->next) {
			struct presentity *pr = le->data;
			struct hr_buf b;

			hr_buf_init(&b, DOC_MAX);
			if (!compose(p, pr->name, pr, &b) &&
			    !hr_buf_write(&b, "", 1)) {
				pr->doc = b.b;
				pr->doclen = b.len - 1;
				pr->doc_hash = doc_hash(pr->doc,
					pr->doclen);
			} else {
				hr_buf_reset(&b);
			}
		}
	}
	HR_INFO("%u publications loaded, %u expired", l.loaded, l.expired);
	return 0;
}

/* ---- lifetime ---- */

void hr_presence_close(struct hr_presence *p)
{
	p->closing = true;
	for (uint32_t i = 0; p->pres.bucket && i <= p->pres.mask; i++) {
		for (struct hr_le *le = p->pres.bucket[i].head; le;
		     le = le->next) {
			struct presentity *pr = le->data;

			hr_tmr_cancel(&pr->tmr);
			for (struct hr_le *k = pr->pubs.head; k; k = k->next)
				hr_tmr_cancel(&((struct pub *)k->data)->tmr);
		}
	}
}

static void presence_destroy(void *data)
{
	struct hr_presence *p = data;

	hr_presence_close(p);
	if (p->watching)
		hr_registrar_unwatch(p->r, binding_changed, p);
	for (uint32_t i = 0; p->pres.bucket && i <= p->pres.mask; i++) {
		while (p->pres.bucket[i].head) {
			struct presentity *pr = p->pres.bucket[i].head->data;

			hr_mem_ref(pr);
			while (pr->pubs.head)
				pub_drop(pr->pubs.head->data);
			hr_hash_unlink(&p->pres, &pr->le);
			hr_mem_deref(pr);  /* the table's */
			hr_mem_deref(pr);
		}
	}
	hr_hash_reset(&p->pres);
	hr_mem_deref(p->rules);
	hr_mem_deref(p->cfg.realm);
}

int hr_presence_alloc(struct hr_presence **pp, struct hr_sip *sip,
	struct hr_store *store, struct hr_events *ev, struct hr_registrar *r,
	const struct hr_presence_cfg *cfg)
{
	struct hr_presence *p;
	int err;

	if (!pp || !sip || !store || !ev || !cfg || !cfg->realm ||
	    !hr_realm_ndomains(cfg->realm))
		return EINVAL;
	p = hr_mem_zalloc(sizeof(*p), presence_destroy);
	if (!p)
		return ENOMEM;
	p->cfg = *cfg;
	p->store = store;
	p->ev = ev;
	p->r = r;
	err = hr_hash_init(&p->pres, 4096);
	err |= hr_rules_alloc(&p->rules, store, "presence", action_names,
		HR_PRES_ALLOW + 1, rule_applied, p);
	hr_mem_ref(p->cfg.realm);
	if (err) {
		hr_mem_deref(p);
		return ENOMEM;
	}
	p->pkg.name = "presence";
	p->pkg.types = types;
	p->pkg.ntypes = 1;
	p->pkg.expires_default = cfg->sub_expires_default;
	p->pkg.expires_min = cfg->sub_expires_min;
	p->pkg.expires_max = cfg->sub_expires_max;
	p->pkg.authorize = authorize;
	p->pkg.body = body;
	p->pkg.linked = linked;
	p->pkg.gone = gone;
	p->pkg.arg = p;
	hr_winfo_init(p);
	err = hr_events_package(ev, &p->pkg);
	if (!err)
		err = hr_events_package(ev, &p->wpkg);
	if (!err && cfg->from_registrar && r) {
		err = hr_registrar_watch(r, binding_changed, p);
		p->watching = !err;
	}
	if (err) {
		hr_mem_deref(p);
		return err;
	}
	hr_sip_handle(sip, HR_METH_PUBLISH, on_publish, p);
	*pp = p;
	return 0;
}
