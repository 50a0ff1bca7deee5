/*
 * Presence: the presence package's documents. PUBLISH (RFC 3903, in
 * publish.c) stores PIDF documents per presentity; the presentity's
 * document is composed from all its live publications (server/xml) and
 * told to every active watcher of the presence package (RFC 3856), once
 * per burst of changes. Who may watch is decided by rules (RFC 5025's
 * actions) kept in PostgreSQL, and a default for watchers of the
 * presentity's own domain and for others.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "pres_int.h"
#include "xml/xml.h"

#define HR_LOG_MODULE "presence"

#define PIDF "application/pidf+xml"
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

/* ---- presentities ---- */

static void pres_destroy(void *data)
{
	struct presentity *pr = data;

	hr_tmr_cancel(&pr->tmr);
	while (pr->waiting.head)
		hr_mem_deref(pr->waiting.head->data);
	if (pr->le.list)
		hr_hash_unlink(&pr->p->pres, &pr->le);
	free(pr->doc);
}

struct presentity *hr_pres_find(const struct hr_presence *p,
	const char *name)
{
	return hr_hash_find_str(&p->pres, name,
		offsetof(struct presentity, name));
}

/* The presentity, made when needed; the table holds it while it has
 * publications, waiting watchers, other nodes' watchers or a round due
 * (others hold references while they use it). */
struct presentity *hr_pres_get(struct hr_presence *p, const char *name)
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

/* Drop the table's reference once nothing is published or waiting, no
 * other node's watcher is listed and no round is due (the document is
 * kept while publications are). */
void hr_pres_release(struct presentity *pr)
{
	if (!pr->waiting.n && !pr->remote.n && pr->le.list &&
	    !hr_tmr_isrunning(&pr->tmr) &&
	    !hr_publish_count(pr->p->pub, pr->name)) {
		hr_hash_unlink(&pr->p->pres, &pr->le);
		hr_mem_deref(pr);
	}
}

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

struct docs {
	struct hr_pidf **v;
	unsigned n;
};

static void doc_collect(void *doc, void *arg)
{
	struct docs *d = arg;

	d->v[d->n++] = doc;
}

/* The documents of presentity's publications, oldest first (every one:
 * their number is bounded when they are made): *docsp (free it) and
 * their number. With ahead, the documents of the PUBLISHes in flight
 * too: what the presentity will have if they all succeed. */
static int docs_of(struct hr_presence *p, const char *name, bool ahead,
	struct hr_pidf ***docsp, unsigned *np)
{
	size_t max = hr_publish_ndocs(p->pub, name, ahead);
	struct docs d = { .v = calloc(max ? max : 1, sizeof(*d.v)) };

	if (!d.v)
		return ENOMEM;
	if (max)
		hr_publish_docs(p->pub, name, ahead, doc_collect, &d);
	*docsp = d.v;
	*np = d.n;
	return 0;
}

/* Compose presentity's document into buf (RFC 3863: entity always);
 * ahead: as it will be once the PUBLISHes in flight are stored. */
static int compose_as(struct hr_presence *p, const char *name, bool ahead,
	struct hr_buf *buf)
{
	char entity[NAME_MAX_ + 8];
	struct hr_pidf **docs;
	unsigned n;
	int err;

	snprintf(entity, sizeof(entity), "sip:%s", name);
	err = docs_of(p, name, ahead, &docs, &n);
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
	struct hr_buf *buf)
{
	return compose_as(p, name, false, buf);
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
	err = compose(p, pr->name, &b);
	if (!err)
		err = hr_buf_write(&b, "", 1);
	if (err) {
		HR_WARN("%s: document not composed: %s", pr->name,
			hr_strerror(err));
		hr_buf_reset(&b);
		hr_pres_release(pr);
		return;
	}
	/* the same document again tells nobody anything */
	if (!pr->doc || pr->doclen != b.len - 1 ||
	    memcmp(pr->doc, b.b, b.len - 1)) {
		free(pr->doc);
		pr->doc = b.b;
		pr->doclen = b.len - 1;
		pr->doc_hash = hr_hash64(pr->doc, pr->doclen);
		hr_mem_ref(pr);
		hr_events_foreach(p->ev, "presence", pr->name, tell, pr);
		hr_mem_deref(pr);
	} else {
		hr_buf_reset(&b);
	}
	hr_pres_release(pr);
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
	pr = hr_pres_get(p, name);
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
	return compose(p, presentity, buf);
}

size_t hr_presence_count(const struct hr_presence *p)
{
	return hr_publish_count(p->pub, NULL);
}

struct hr_rules *hr_presence_rules(struct hr_presence *p)
{
	return p->rules;
}

struct hr_publish *hr_presence_publish(struct hr_presence *p)
{
	return p->pub;
}

/* ---- the publication interface: PIDF documents (publish.c) ---- */

/* A published PIDF document (RFC 3863) whose entity is the presentity. */
static bool parse(struct hr_verdict *v, const struct hr_pl *body,
	const char *name, void **docp, void *arg)
{
	struct hr_pidf *doc;
	const char *why = NULL;
	int err;

	(void)arg;
	err = hr_pidf_parse(&doc, body->p, body->len, &why);
	if (err == ENOMEM)
		return hr_verdict_fail(v, err, "presence: parsing the PIDF");
	/* why is a static "Bad PIDF: ..." (xml.h) */
	if (err)
		return hr_verdict_refuse(v, 400, why ? why : "Bad PIDF", NULL);
	if (!hr_publish_entity_ok(hr_pidf_entity(doc), name)) {
		hr_mem_deref(doc);
		return hr_verdict_refuse(v, 400, "Bad PIDF: entity is not "
			"the presentity", NULL);
	}
	*docp = doc;
	return true;
}

static int load(void **docp, const char *body, const char **why)
{
	struct hr_pidf *doc;
	int err = hr_pidf_parse(&doc, body, strlen(body), why);

	if (!err)
		*docp = doc;
	return err;
}

/*
 * The document the presentity would have with this one (and those in
 * flight) is composed now, to the bound: one past it gets 413 (RFC 3261
 * 21.4.11: a body larger than the server is willing to process, here
 * with what is published already; a smaller body would do). Not 503:
 * that asks to send the same again later (RFC 3903 9). Refused here, a
 * too large document never reaches a watcher: NOTIFYs stay deliverable.
 */
static bool fits(struct hr_verdict *v, const char *name, void *arg)
{
	struct hr_presence *p = arg;
	struct hr_buf b;
	int err;

	hr_buf_init(&b, p->cfg.max_doc);
	err = compose_as(p, name, true, &b);
	hr_buf_reset(&b);
	if (err == EMSGSIZE)
		return hr_verdict_refuse_why(v, 413,
			"Presence Document Too Large", NULL,
			"presence: PUBLISH", "the presentity's document would "
			"be over --max-presence-document");
	if (err)
		return hr_verdict_fail(v, err, "presence: composing ahead");
	return true;
}

static void pub_changed(const char *name, void *arg)
{
	changed(arg, name);
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
	struct presentity *pr = hr_pres_get(p, si->resource);
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
	hr_pres_release(pr);
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
enum hr_pres_action hr_presence_decide(const struct hr_presence *p,
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
	enum hr_pres_action a = hr_presence_decide(p, si);

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
	if (p->rule_hook)
		p->rule_hook(presentity, p->rule_hook_arg);
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

void hr_presence_rule_hook(struct hr_presence *p,
	void (*h)(const char *presentity, void *arg), void *arg)
{
	p->rule_hook = h;
	p->rule_hook_arg = arg;
}

enum hr_authz hr_presence_authorize(const struct hr_presence *p,
	const struct hr_sub_info *si)
{
	/* RFC 3856 6.5: a presentity that does not exist */
	if (!hr_realm_exists(p->cfg.realm, si->resource))
		return HR_AUTHZ_NOTFOUND;
	switch (hr_presence_decide(p, si)) {
	case HR_PRES_BLOCK:
		return HR_AUTHZ_REJECT;
	case HR_PRES_CONFIRM:
		return HR_AUTHZ_PENDING;
	default:
		return HR_AUTHZ_ACTIVE;
	}
}

static enum hr_authz authorize(const struct hr_sub_info *si, void *arg)
{
	return hr_presence_authorize(arg, si);
}

static void linked(struct hr_sub *sub, void *arg)
{
	struct hr_presence *p = arg;
	struct psub *ps = calloc(1, sizeof(*ps));
	const struct hr_sub_info *si = hr_sub_info(sub);
	char who[NAME_MAX_];

	if (ps) {
		ps->action = si->state == HR_SUB_PENDING ? HR_PRES_CONFIRM :
			hr_presence_decide(p, si);
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
	/* one that came from another node of a cluster is no new watcher */
	if (!hr_winfo_remote_take(p, si->id))
		hr_winfo_changed(p, sub, si->state == HR_SUB_PENDING ?
			"pending" : "active", "subscribe");
}

static void gone(struct hr_sub *sub, void *arg)
{
	struct hr_presence *p = arg;
	const char *ev = hr_sub_reason_name(hr_sub_info(sub)->reason);

	/* RFC 3857 3.2.4: why the watcher went; a NOTIFY that failed and a
	 * replaced subscription: deactivated (the watcher may come back) */
	const struct hr_sub_info *si = hr_sub_info(sub);

	/* gone to another node of a cluster: its watcher stays, there */
	if (hr_sub_data(sub) && si->moved && !p->closing)
		hr_winfo_remote_keep(p, si);
	/* RFC 3857 4.1: a pending subscription timing out waits on */
	else if (hr_sub_data(sub) && si->state == HR_SUB_PENDING &&
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
		ps->sent_hash = hr_hash64(buf->b + at, buf->len - at);
	return err;
}

/* presence from the registrar: a binding change changes the document */
static void binding_changed(const struct hr_binding *b, enum hr_reg_event ev,
	void *arg)
{
	struct hr_presence *p = arg;
	(void)ev;
	if (!hr_publish_count(p->pub, b->aor))
		changed(p, b->aor);
}

/* ---- recovery ---- */

/* A loaded presentity's document, composed now. */
static int load_doc(const char *name, void *arg)
{
	struct hr_presence *p = arg;
	struct presentity *pr = hr_pres_get(p, name);
	struct hr_buf b;

	if (!pr)
		return ENOMEM;
	hr_buf_init(&b, DOC_MAX);
	if (!compose(p, pr->name, &b) && !hr_buf_write(&b, "", 1)) {
		free(pr->doc);
		pr->doc = b.b;
		pr->doclen = b.len - 1;
		pr->doc_hash = hr_hash64(pr->doc, pr->doclen);
	} else {
		hr_buf_reset(&b);
	}
	hr_mem_deref(pr);
	return 0;
}

int hr_presence_load(struct hr_presence *p)
{
	int err = hr_rules_load(p->rules);

	if (!err)
		err = hr_publish_load(p->pub);
	if (!err)
		err = hr_publish_foreach(p->pub, load_doc, p);
	return err;
}

/* ---- lifetime ---- */

void hr_presence_close(struct hr_presence *p)
{
	p->closing = true;
	hr_publish_close(p->pub);
	for (uint32_t i = 0; p->pres.bucket && i <= p->pres.mask; i++) {
		for (struct hr_le *le = p->pres.bucket[i].head; le;
		     le = le->next)
			hr_tmr_cancel(&((struct presentity *)le->data)->tmr);
	}
}

static void presence_destroy(void *data)
{
	struct hr_presence *p = data;

	if (p->pub)
		hr_presence_close(p);
	if (p->watching)
		hr_registrar_unwatch(p->r, binding_changed, p);
	for (uint32_t i = 0; p->remote.bucket && i <= p->remote.mask; i++) {
		while (p->remote.bucket[i].head)
			hr_mem_deref(p->remote.bucket[i].head->data);
	}
	hr_hash_reset(&p->remote);
	for (uint32_t i = 0; p->pres.bucket && i <= p->pres.mask; i++) {
		while (p->pres.bucket[i].head) {
			struct presentity *pr = p->pres.bucket[i].head->data;

			hr_hash_unlink(&p->pres, &pr->le);
			hr_mem_deref(pr);  /* the table's */
		}
	}
	hr_hash_reset(&p->pres);
	hr_mem_deref(p->pub);
	hr_mem_deref(p->rules);
	hr_mem_deref(p->cfg.realm);
}

/* PUBLISH of PIDF documents (publish.c does the rest of RFC 3903). */
static int publication(struct hr_presence *p)
{
	const struct hr_pubpkg pkg = {
		.event = "presence", .ctype = PIDF,
		.expires_default = p->cfg.pub_expires_default,
		.expires_min = p->cfg.pub_expires_min,
		.expires_max = p->cfg.pub_expires_max,
		.max_body = p->cfg.max_body, .max_pubs = p->cfg.max_pubs,
		.parse = parse, .load = load, .fits = fits,
		.changed = pub_changed, .arg = p,
	};

	return hr_publish_alloc(&p->pub, p->store, p->cfg.realm, &pkg);
}

/* The presence package for the notifier. */
static void package(struct hr_presence *p)
{
	p->pkg.name = "presence";
	p->pkg.types = types;
	p->pkg.ntypes = 1;
	p->pkg.expires_default = p->cfg.sub_expires_default;
	p->pkg.expires_min = p->cfg.sub_expires_min;
	p->pkg.expires_max = p->cfg.sub_expires_max;
	p->pkg.authorize = authorize;
	p->pkg.body = body;
	p->pkg.linked = linked;
	p->pkg.gone = gone;
	p->pkg.arg = p;
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
	hr_mem_ref(p->cfg.realm);
	err = hr_hash_init(&p->pres, 4096);
	err |= hr_hash_init(&p->remote, 4096);
	err |= hr_rules_alloc(&p->rules, store, "presence", action_names,
		HR_PRES_ALLOW + 1, rule_applied, p);
	if (!err)
		err = publication(p);
	if (err) {
		hr_mem_deref(p);
		return err == EINVAL ? EINVAL : ENOMEM;
	}
	package(p);
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
	hr_publish_serve(p->pub, sip);
	*pp = p;
	return 0;
}
