/*
 * The admin endpoints. Lists and single subscriptions are read from
 * PostgreSQL; documents (reginfo, PIDF) are made by the core's own package
 * code, and changes are applied by the core (hr_call), like SIP requests.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "admin_int.h"

#define HR_LOG_MODULE "admin"

#define LIMIT_DEFAULT 100
#define LIMIT_MAX 1000
#define DOC_MAX (1024 * 1024)
#define WAIT_MS 10000

/* "sip:alice@example.test" or "alice@example.test" → the latter */
static const char *bare(const char *uri)
{
	if (!strncmp(uri, "sip:", 4))
		return uri + 4;
	if (!strncmp(uri, "pres:", 5))
		return uri + 5;
	return uri;
}

/* An address-of-record or presentity names a user: user@domain. */
static bool aor_ok(struct reply *rp, const char *aor)
{
	if (strchr(aor, '@'))
		return true;
	hr_admin_problem(rp, 400, "Bad Request", "not an address-of-record");
	return false;
}

/* A list's page size: limit=1..1000, else 400. */
static bool limit_of(const struct req *r, struct reply *rp, unsigned *limit)
{
	const char *lim = hr_admin_query(r, "limit");
	char *end;
	long v;

	*limit = LIMIT_DEFAULT;
	if (!lim)
		return true;
	v = strtol(lim, &end, 10);
	if (!*lim || *end || v < 1 || v > LIMIT_MAX) {
		hr_admin_problem(rp, 400, "Bad Request",
			"limit must be 1 to 1000");
		return false;
	}
	*limit = (unsigned)v;
	return true;
}

/* ---- GET /health ---- */

static void noop(void *arg)
{
	(void)arg;
}

static void health(struct req *r, struct reply *rp)
{
	bool core = hr_call(noop, NULL) == 0;
	bool db = hr_store_reader_ping(r->a->rd) == 0;

	if (core && db) {
		hr_admin_json(rp, 200, json_pack("{s:s}", "status", "ok"));
		return;
	}
	hr_admin_problem(rp, 503, "Service Unavailable", !core ?
		"the SIP core does not answer" : "PostgreSQL does not answer");
}

/* ---- subscriptions ---- */

static json_t *sub_json(const struct hr_store_sub *s)
{
	int64_t left = s->expires_at - hr_wall_s();
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:{s:s, s:s, "
		"s:s, s:s, s:s}}",
		"id", s->id, "event", s->package, "state", s->state,
		"resource", s->resource, "watcher", s->watcher,
		"expires_in", (json_int_t)(left > 0 ? left : 0),
		"dialog", "call_id", s->callid, "local_tag", s->local_tag,
		"remote_tag", s->remote_tag, "remote_target", s->remote_target,
		"transport", s->transport);

	if (j && s->event_id)
		json_object_set_new(j, "event_id", json_string(s->event_id));
	if (j && s->reason)
		json_object_set_new(j, "reason", json_string(s->reason));
	if (j && s->watcher_user)
		json_object_set_new(j, "watcher_user",
			json_string(s->watcher_user));
	return j;
}

struct page {
	json_t *items;
	unsigned limit;
	bool more;
	char last[64];
};

static int page_one(const struct hr_store_sub *s, void *arg)
{
	struct page *pg = arg;
	json_t *j;

	/* the row past the page only says that more follow */
	if (json_array_size(pg->items) == pg->limit) {
		pg->more = true;
		return 0;
	}
	j = sub_json(s);
	if (!j || json_array_append_new(pg->items, j))
		return ENOMEM;
	snprintf(pg->last, sizeof(pg->last), "%s", s->id);
	return 0;
}

/* Subscriptions, filtered by the query; resource given: the watchers of
 * that resource in package. */
static void subs_list(struct req *r, struct reply *rp, const char *package,
	const char *resource)
{
	struct hr_store_sub_filter f = { 0 };
	struct page pg = { 0 };
	json_t *j;
	int err;

	f.package = hr_admin_query(r, "event");
	f.state = hr_admin_query(r, "state");
	f.resource = hr_admin_query(r, "resource");
	f.watcher = hr_admin_query(r, "watcher");
	f.after = hr_admin_query(r, "cursor");
	if (f.resource)
		f.resource = bare(f.resource);
	if (resource) {
		f.package = package;
		f.resource = bare(resource);
		if (!aor_ok(rp, f.resource))
			return;
	}
	if (!limit_of(r, rp, &f.limit))
		return;
	pg.items = json_array();
	pg.limit = f.limit;
	f.limit++;
	err = pg.items ? hr_store_subs_page(r->a->rd, &f, page_one, &pg) :
		ENOMEM;
	if (err) {
		json_decref(pg.items);
		hr_admin_problem(rp, 503, "Service Unavailable",
			"PostgreSQL does not answer");
		return;
	}
	/* the cursor is the last id: opaque to clients */
	j = json_pack("{s:o}", "items", pg.items);
	if (j && pg.more)
		json_object_set_new(j, "next_cursor", json_string(pg.last));
	hr_admin_json(rp, 200, j);
}

static int one(const struct hr_store_sub *s, void *arg)
{
	*(json_t **)arg = sub_json(s);
	return 0;
}

/* ---- calls into the core ---- */

/* What only the core knows of a subscription, and its end. */
struct subcall {
	struct hr_events *ev;
	const char *id;
	enum hr_sub_reason reason;   /* NONE: only read */
	bool found;
	uint64_t version;
	uint32_t notifies;
};

static void sub_core(void *arg)
{
	struct subcall *c = arg;
	struct hr_sub *sub = hr_events_find(c->ev, c->id);
	const struct hr_sub_info *si;

	if (!sub)
		return;
	si = hr_sub_info(sub);
	c->found = si->state != HR_SUB_TERMINATED;
	c->version = si->version;
	c->notifies = si->notifies;
	/* the final NOTIFY goes out before the API answers */
	if (c->reason != HR_REASON_NONE)
		hr_sub_terminate(sub, c->reason, 0);
}

static void sub_get(struct req *r, struct reply *rp, const char *id)
{
	struct subcall c = { .ev = r->a->cfg.ev, .id = id };
	json_t *j = NULL;

	if (hr_store_sub_get(r->a->rd, id, one, &j)) {
		hr_admin_problem(rp, 503, "Service Unavailable",
			"PostgreSQL does not answer");
		return;
	}
	if (!j) {
		hr_admin_problem(rp, 404, "Not Found", "no such subscription");
		return;
	}
	if (!hr_call(sub_core, &c) && c.found) {
		json_object_set_new(j, "version", json_integer(
			(json_int_t)c.version));
		json_object_set_new(j, "notifies", json_integer(c.notifies));
	}
	hr_admin_json(rp, 200, j);
}

static void sub_delete(struct req *r, struct reply *rp, const char *id)
{
	struct subcall c = { .ev = r->a->cfg.ev, .id = id,
		.reason = HR_REASON_DEACTIVATED };
	const char *reason = hr_admin_query(r, "reason");

	if (reason && (hr_sub_reason_decode(reason, &c.reason) ||
	    (c.reason != HR_REASON_DEACTIVATED &&
	     c.reason != HR_REASON_NORESOURCE &&
	     c.reason != HR_REASON_REJECTED))) {
		hr_admin_problem(rp, 400, "Bad Request", "reason must be "
			"deactivated, noresource or rejected");
		return;
	}
	if (hr_call(sub_core, &c)) {
		hr_admin_problem(rp, 503, "Service Unavailable",
			"shutting down");
		return;
	}
	if (!c.found) {
		hr_admin_problem(rp, 404, "Not Found", "no such subscription");
		return;
	}
	rp->status = 204;
}

/* ---- documents, made by the packages' own code ---- */

struct doccall {
	struct hr_admin *a;
	const char *name;
	bool reginfo;
	struct hr_buf buf;
	int err;
};

static void doc_core(void *arg)
{
	struct doccall *c = arg;

	c->err = c->reginfo ? hr_regpkg_document(c->a->cfg.reg, c->name,
		&c->buf) : hr_presence_document(c->a->cfg.presence, c->name,
		&c->buf);
}

static void document(struct req *r, struct reply *rp, const char *name,
	bool reginfo)
{
	struct doccall c = { .a = r->a, .name = bare(name),
		.reginfo = reginfo };
	const char *accept = MHD_lookup_connection_value(r->c,
		MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);

	if (!aor_ok(rp, c.name))
		return;
	hr_buf_init(&c.buf, DOC_MAX);
	if (hr_call(doc_core, &c) || c.err) {
		hr_buf_reset(&c.buf);
		hr_admin_problem(rp, 500, "Internal Server Error", NULL);
		return;
	}
	if (!reginfo && accept && strstr(accept, "application/json")) {
		json_t *j = json_pack("{s:s, s:s%}", "presentity", c.name,
			"pidf", c.buf.b, c.buf.len);

		hr_buf_reset(&c.buf);
		hr_admin_json(rp, 200, j);
		return;
	}
	rp->status = 200;
	rp->ctype = reginfo ? "application/reginfo+xml" :
		"application/pidf+xml";
	rp->body = c.buf.b;   /* malloc'd by the buffer */
	rp->len = c.buf.len;
}

/* ---- rules: presence's and reg's ---- */

/* A change the core stores before it applies it: the admin thread waits
 * for its completion (on the core thread) after the call. */
struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int err;
};

static void waiter_done(int err, void *arg)
{
	struct waiter *w = arg;

	pthread_mutex_lock(&w->lock);
	w->err = err;
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* hr_call(fn, arg), then wait for w (fn started the change, or failed
 * it with waiter_done). */
static int call_and_wait(hr_call_h *fn, void *arg, struct waiter *w)
{
	int err;

	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	err = hr_call(fn, arg);
	if (!err) {
		pthread_mutex_lock(&w->lock);
		while (!w->done)
			pthread_cond_wait(&w->cond, &w->lock);
		pthread_mutex_unlock(&w->lock);
		err = w->err;
	}
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	return err;
}

struct rulecall {
	struct hr_admin *a;
	bool reg;                     /* else presence */
	const char *resource;
	const char *watcher;
	int action;                   /* the package's; 0: remove */
	struct waiter w;
};

static void rule_core(void *arg)
{
	struct rulecall *c = arg;
	int err = c->reg ? hr_regpkg_rule(c->a->cfg.reg, c->resource,
		c->watcher, (enum hr_reg_rule)c->action, waiter_done, &c->w) :
		hr_presence_rule(c->a->cfg.presence, c->resource, c->watcher,
		(enum hr_pres_action)c->action, waiter_done, &c->w);

	if (err)
		waiter_done(err, &c->w);
}

/* The action named in a PUT's body: 0 or EINVAL. */
static int action_decode(const struct rulecall *c, const char *name,
	int *action)
{
	enum hr_reg_rule rr;
	enum hr_pres_action pa;
	int err;

	if (c->reg) {
		err = hr_reg_rule_decode(name, &rr);
		*action = (int)rr;
	} else {
		err = hr_pres_action_decode(name, &pa);
		*action = (int)pa;
	}
	return err;
}

/* PUT or DELETE a presentity's or AOR's rule for a watcher: a user
 * ("bob@example.test") or a whole domain ("example.test"). The change is
 * stored, then applied to the subscriptions, then answered. */
static void rule(struct req *r, struct reply *rp, bool reg,
	const char *resource, const char *watcher, bool put)
{
	static const char *const allowed[] = { "action", NULL };
	struct rulecall c = { .a = r->a, .reg = reg,
		.resource = bare(resource), .watcher = bare(watcher) };
	const char *name = NULL;
	json_t *j = NULL;
	int err;

	if (!aor_ok(rp, c.resource))
		return;
	if (!*c.watcher || strchr(c.watcher, '@') == c.watcher) {
		hr_admin_problem(rp, 400, "Bad Request", "the watcher is a "
			"user (user@domain) or a domain");
		return;
	}
	if (put) {
		j = hr_admin_body_json(r, rp, allowed);
		if (!j)
			return;
		name = json_string_value(json_object_get(j, "action"));
		if (!name || action_decode(&c, name, &c.action)) {
			json_decref(j);
			hr_admin_problem(rp, 400, "Bad Request", reg ?
				"action must be allow or block" : "action must "
				"be allow, block, polite-block or confirm");
			return;
		}
	}
	err = call_and_wait(rule_core, &c, &c.w);
	if (err == EINVAL)
		hr_admin_problem(rp, 400, "Bad Request", NULL);
	else if (err)
		hr_admin_problem(rp, 503, "Service Unavailable", NULL);
	else if (put)
		hr_admin_json(rp, 200, json_pack("{s:s, s:s, s:s}",
			reg ? "aor" : "presentity", c.resource, "watcher",
			c.watcher, "action", name));
	else
		rp->status = 204;
	json_decref(j);
}

struct rulepage {
	json_t *items;
	unsigned limit;
	bool more;
	char last[520];
};

static int rule_one(const char *resource, const char *watcher,
	const char *action, void *arg)
{
	struct rulepage *pg = arg;

	(void)resource;
	if (json_array_size(pg->items) == pg->limit) {
		pg->more = true;
		return 0;
	}
	snprintf(pg->last, sizeof(pg->last), "%s", watcher);
	return json_array_append_new(pg->items, json_pack("{s:s, s:s}",
		"watcher", watcher, "action", action)) ? ENOMEM : 0;
}

/* GET a presentity's or AOR's rules, by watcher; the cursor is the last
 * watcher shown. */
static void rules_list(struct req *r, struct reply *rp, bool reg,
	const char *resource)
{
	struct rulepage pg = { 0 };
	json_t *j;

	resource = bare(resource);
	if (!aor_ok(rp, resource) || !limit_of(r, rp, &pg.limit))
		return;
	pg.items = json_array();
	if (!pg.items || hr_store_rules_page(r->a->rd, reg ? "reg" :
		"presence", resource, hr_admin_query(r, "cursor"),
		pg.limit + 1, rule_one, &pg)) {
		json_decref(pg.items);
		hr_admin_problem(rp, 503, "Service Unavailable",
			"PostgreSQL does not answer");
		return;
	}
	j = json_pack("{s:s, s:o}", reg ? "aor" : "presentity", resource,
		"items", pg.items);
	if (j && pg.more)
		json_object_set_new(j, "next_cursor", json_string(pg.last));
	hr_admin_json(rp, 200, j);
}

/* ---- users: HA1s only, never a password back ---- */

static bool served(const struct hr_admin *a, const char *domain)
{
	for (unsigned i = 0; i < a->cfg.ndomains; i++) {
		if (!strcasecmp(a->cfg.domains[i], domain))
			return true;
	}
	return false;
}

/* The body's optional "role": true when absent or valid, else 400. */
static bool role_of(struct reply *rp, json_t *j, const char **role)
{
	json_t *v = json_object_get(j, "role");
	enum hr_user_role r;

	*role = json_string_value(v);
	if (!v || (*role && !hr_user_role_decode(*role, &r)))
		return true;
	hr_admin_problem(rp, 400, "Bad Request", "role must be user or "
		"monitor");
	return false;
}

static void user_reply(struct reply *rp, int status, const char *user,
	const char *domain, const char *role)
{
	hr_admin_json(rp, status, json_pack("{s:s++, s:s}", "user", user, "@",
		domain, "role", role));
}

/* POST /v1/users: create, or replace the password (and the role, when
 * given) of, a user of a served domain. */
static void user_add(struct req *r, struct reply *rp)
{
	static const char *const allowed[] = { "user", "password", "role",
		NULL };
	char user[256], domain[256], md5[33], sha[65];
	char role[HR_STORE_ROLE_MAX];
	struct hr_store_user u = { user, domain, md5, sha, HR_USER_CHANGED,
		NULL };
	const char *name, *pw;
	json_t *j = hr_admin_body_json(r, rp, allowed);
	bool created = false;
	int err;

	if (!j)
		return;
	name = json_string_value(json_object_get(j, "user"));
	pw = json_string_value(json_object_get(j, "password"));
	if (!name || !pw || !*pw || hr_user_split(name, user, sizeof(user),
		domain, sizeof(domain))) {
		json_decref(j);
		hr_admin_problem(rp, 400, "Bad Request", "user (user@domain) "
			"and password are required");
		return;
	}
	if (!served(r->a, domain)) {
		json_decref(j);
		hr_admin_problem(rp, 400, "Bad Request",
			"not a domain this server serves");
		return;
	}
	if (!role_of(rp, j, &u.role)) {
		json_decref(j);
		return;
	}
	/* the realm is the domain, as for herald user add */
	err = hr_digest_ha1s(user, domain, pw, md5, sha);
	if (!err)
		err = hr_store_user_put(r->a->cfg.database_url, &u, &created,
			role);
	json_decref(j);
	if (err) {
		hr_admin_problem(rp, 503, "Service Unavailable", NULL);
		return;
	}
	/* 201 for a new user, 200 when its password was replaced */
	user_reply(rp, created ? 201 : 200, user, domain, role);
}

/* PATCH /v1/users/{user}: its password, its role, or both. */
static void user_patch(struct req *r, struct reply *rp, const char *name)
{
	static const char *const allowed[] = { "password", "role", NULL };
	char user[256], domain[256], md5[33], sha[65];
	char role[HR_STORE_ROLE_MAX];
	struct hr_store_user u = { user, domain, NULL, NULL, HR_USER_CHANGED,
		NULL };
	json_t *j, *pwv;
	const char *pw;
	int err = 0;

	if (hr_user_split(name, user, sizeof(user), domain, sizeof(domain))) {
		hr_admin_problem(rp, 400, "Bad Request", "not user@domain");
		return;
	}
	j = hr_admin_body_json(r, rp, allowed);
	if (!j)
		return;
	pwv = json_object_get(j, "password");
	pw = json_string_value(pwv);
	if (!role_of(rp, j, &u.role)) {
		json_decref(j);
		return;
	}
	if ((pwv && (!pw || !*pw)) || (!pw && !u.role)) {
		json_decref(j);
		hr_admin_problem(rp, 400, "Bad Request", "give a password, a "
			"role, or both");
		return;
	}
	if (pw) {
		err = hr_digest_ha1s(user, domain, pw, md5, sha);
		u.ha1_md5 = md5;
		u.ha1_sha256 = sha;
	}
	if (!err)
		err = hr_store_user_update(r->a->cfg.database_url, &u, role);
	json_decref(j);
	if (err == ENOENT)
		hr_admin_problem(rp, 404, "Not Found", "no such user");
	else if (err)
		hr_admin_problem(rp, 503, "Service Unavailable", NULL);
	else
		user_reply(rp, 200, user, domain, role);
}

struct users {
	json_t *items;
	const char *after;
	unsigned limit;
	char last[520];
	bool more;
};

static int user_one(const struct hr_store_user *u, void *arg)
{
	struct users *us = arg;
	char name[520];

	snprintf(name, sizeof(name), "%s@%s", u->user, u->domain);
	/* listed by domain then user; the cursor is the last name shown */
	if (us->after && strcmp(name, us->after) <= 0)
		return 0;
	if (json_array_size(us->items) == us->limit) {
		us->more = true;
		return 0;
	}
	snprintf(us->last, sizeof(us->last), "%s", name);
	return json_array_append_new(us->items, json_pack("{s:s, s:s}",
		"user", name, "role", u->role)) ? ENOMEM : 0;
}

static void users_list(struct req *r, struct reply *rp)
{
	struct users us = { .items = json_array(), .limit = LIMIT_DEFAULT,
		.after = hr_admin_query(r, "cursor") };
	json_t *j;

	if (!limit_of(r, rp, &us.limit)) {
		json_decref(us.items);
		return;
	}
	if (!us.items || hr_store_user_list(r->a->cfg.database_url, user_one,
		&us)) {
		json_decref(us.items);
		hr_admin_problem(rp, 503, "Service Unavailable", NULL);
		return;
	}
	j = json_pack("{s:o}", "items", us.items);
	if (j && us.more)
		json_object_set_new(j, "next_cursor", json_string(us.last));
	hr_admin_json(rp, 200, j);
}

static void user_del(struct req *r, struct reply *rp, const char *name)
{
	char user[256], domain[256];
	int err;

	if (hr_user_split(name, user, sizeof(user), domain, sizeof(domain))) {
		hr_admin_problem(rp, 400, "Bad Request", "not user@domain");
		return;
	}
	err = hr_store_user_del(r->a->cfg.database_url, user, domain);
	if (err == ENOENT)
		hr_admin_problem(rp, 404, "Not Found", "no such user");
	else if (err)
		hr_admin_problem(rp, 503, "Service Unavailable", NULL);
	else
		rp->status = 204;
}

/* ---- bindings, from the registrar ---- */

struct bindcall {
	struct hr_registrar *r;
	const char *aor;
	json_t *items;
};

static int bind_one(const struct hr_binding *b, void *arg)
{
	struct bindcall *c = arg;
	int64_t left = b->expires_at - hr_wall_s();
	json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:I, s:s}", "id", b->id,
		"uri", b->uri, "expires_in", (json_int_t)(left > 0 ? left : 0),
		"callid", b->callid, "cseq", (json_int_t)b->cseq, "received",
		b->received);

	if (!j)
		return ENOMEM;
	if (b->q >= 0)
		json_object_set_new(j, "q", json_real(b->q / 1000.0));
	if (*b->instance)
		json_object_set_new(j, "instance", json_string(b->instance));
	if (*b->user_agent)
		json_object_set_new(j, "user_agent",
			json_string(b->user_agent));
	if (*b->path)
		json_object_set_new(j, "path", json_string(b->path));
	return json_array_append_new(c->items, j) ? ENOMEM : 0;
}

static void bind_core(void *arg)
{
	struct bindcall *c = arg;

	hr_registrar_bindings(c->r, c->aor, bind_one, c);
}

static void bindings(struct req *r, struct reply *rp, const char *aor)
{
	struct bindcall c = { .r = r->a->cfg.registrar, .aor = bare(aor),
		.items = json_array() };

	if (!aor_ok(rp, c.aor)) {
		json_decref(c.items);
		return;
	}
	if (!c.items || hr_call(bind_core, &c)) {
		json_decref(c.items);
		hr_admin_problem(rp, 503, "Service Unavailable", NULL);
		return;
	}
	hr_admin_json(rp, 200, json_pack("{s:s, s:o}", "aor", c.aor,
		"bindings", c.items));
}

struct deactcall {
	struct hr_registrar *r;
	const char *aor;
	const char *id;
	struct waiter w;
};

static void deact_core(void *arg)
{
	struct deactcall *c = arg;
	int err = hr_registrar_deactivate(c->r, c->aor, c->id, waiter_done,
		&c->w);

	if (err)
		waiter_done(err, &c->w);
}

/* RFC 3680: the binding goes, its watchers hear "deactivated" */
static void binding_del(struct req *r, struct reply *rp, const char *aor,
	const char *id)
{
	struct deactcall c = { .r = r->a->cfg.registrar, .aor = bare(aor),
		.id = id };
	int err;

	if (!aor_ok(rp, c.aor))
		return;
	err = call_and_wait(deact_core, &c, &c.w);
	if (err == ENOENT)
		hr_admin_problem(rp, 404, "Not Found", "no such binding");
	else if (err == EBUSY)
		hr_admin_problem(rp, 409, "Conflict", "a registration of this "
			"address-of-record is being stored; try again");
	else if (err)
		hr_admin_problem(rp, 503, "Service Unavailable", NULL);
	else
		rp->status = 204;
}

/* ---- /metrics (Prometheus text) ---- */

static const char *const packages[] = { "reg", "presence",
	"presence.winfo" };
#define NPKG (sizeof(packages) / sizeof(packages[0]))

struct metrics {
	struct hr_admin *a;
	size_t bindings;
	size_t subs[NPKG][2];         /* active, pending */
	size_t pubs;
	size_t depth;
	struct hr_store_stats st;
	struct hr_sip_stats sip;
	struct hr_events_stats ev;
};

static void metrics_core(void *arg)
{
	struct metrics *m = arg;

	m->bindings = hr_registrar_count(m->a->cfg.registrar);
	for (unsigned i = 0; i < NPKG; i++) {
		m->subs[i][0] = hr_events_count_state(m->a->cfg.ev,
			packages[i], HR_SUB_ACTIVE);
		m->subs[i][1] = hr_events_count_state(m->a->cfg.ev,
			packages[i], HR_SUB_PENDING);
	}
	m->pubs = hr_presence_count(m->a->cfg.presence);
	m->depth = hr_store_queue_depth(m->a->cfg.store);
	hr_store_stats(m->a->cfg.store, &m->st);
	hr_sip_stats(m->a->cfg.sip, &m->sip);
	hr_events_stats(m->a->cfg.ev, &m->ev);
}

/* A Prometheus histogram from per-bucket counts (le bounds; +Inf). */
static int histogram(struct hr_buf *b, const char *name, const char *help,
	const uint64_t *bounds, const uint64_t *counts, unsigned n,
	uint64_t sum)
{
	uint64_t cum = 0;
	int err = hr_buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n",
		name, help, name);

	for (unsigned i = 0; i < n; i++) {
		cum += counts[i];
		if (i + 1 < n)
			err |= hr_buf_printf(b, "%s_bucket{le=\"%llu\"} %llu\n",
				name, (unsigned long long)bounds[i],
				(unsigned long long)cum);
		else
			err |= hr_buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n",
				name, (unsigned long long)cum);
	}
	err |= hr_buf_printf(b, "%s_sum %llu\n%s_count %llu\n", name,
		(unsigned long long)sum, name, (unsigned long long)cum);
	return err;
}

static void metrics(struct req *r, struct reply *rp)
{
	struct metrics m = { .a = r->a };
	struct hr_buf b;
	int err = 0;

	if (hr_call(metrics_core, &m)) {
		hr_admin_problem(rp, 503, "Service Unavailable", NULL);
		return;
	}
	hr_buf_init(&b, 64 * 1024);
#define GAUGE(name, help, v) \
	err |= hr_buf_printf(&b, "# HELP " name " " help "\n# TYPE " name \
		" gauge\n" name " %llu\n", (unsigned long long)(v))
#define COUNTER(name, help, v) \
	err |= hr_buf_printf(&b, "# HELP " name " " help "\n# TYPE " name \
		" counter\n" name " %llu\n", (unsigned long long)(v))
	GAUGE("herald_bindings", "Live registrar bindings.", m.bindings);
	err |= hr_buf_puts(&b, "# HELP herald_subscriptions Live event "
		"subscriptions.\n# TYPE herald_subscriptions gauge\n");
	for (unsigned i = 0; i < NPKG; i++)
		err |= hr_buf_printf(&b, "herald_subscriptions{event=\"%s\","
			"state=\"active\"} %zu\nherald_subscriptions{event=\"%s\","
			"state=\"pending\"} %zu\n", packages[i], m.subs[i][0],
			packages[i], m.subs[i][1]);
	GAUGE("herald_publications", "Live presence publications.", m.pubs);
	err |= hr_buf_puts(&b, "# HELP herald_sip_requests_total SIP requests "
		"received.\n# TYPE herald_sip_requests_total counter\n");
	for (int k = 1; k < HR_METH__N; k++)
		err |= hr_buf_printf(&b, "herald_sip_requests_total{method="
			"\"%s\"} %llu\n", hr_method_name((enum hr_method)k),
			(unsigned long long)m.sip.requests[k]);
	err |= hr_buf_puts(&b, "# HELP herald_sip_responses_total SIP "
		"responses sent.\n# TYPE herald_sip_responses_total counter\n");
	for (int k = 1; k <= 6; k++)
		err |= hr_buf_printf(&b, "herald_sip_responses_total{class="
			"\"%dxx\"} %llu\n", k,
			(unsigned long long)m.sip.responses[k]);
	COUNTER("herald_notifies_total", "NOTIFYs sent.", m.ev.notifies);
	COUNTER("herald_notifies_failed_total",
		"NOTIFYs answered with an error or never (Timer F).",
		m.ev.failed);
	COUNTER("herald_sip_retransmits_total",
		"Requests Herald sent again (Timer E).", m.sip.retransmits);
	GAUGE("herald_store_queue_depth", "Changes queued for PostgreSQL.",
		m.depth);
	GAUGE("herald_store_batch_max", "Most changes in one commit.",
		m.st.max_batch);
	COUNTER("herald_store_commits_total", "Database commits.",
		m.st.commits);
	COUNTER("herald_store_changes_total", "Changes committed.", m.st.txs);
	COUNTER("herald_store_failed_total", "Changes failed.", m.st.failed);
	COUNTER("herald_store_timedout_total",
		"Changes given up while PostgreSQL was away.", m.st.timedout);
	COUNTER("herald_store_outages_total",
		"Times the PostgreSQL connection was lost.", m.st.outages);
	{
		static const uint64_t bb[] = HR_STORE_BATCH_BOUNDS;
		static const uint64_t lb[] = HR_STORE_LATENCY_BOUNDS;

		err |= histogram(&b, "herald_store_batch_size",
			"Changes per database commit.", bb, m.st.batch,
			HR_STORE_BATCH_BUCKETS, m.st.txs);
		err |= histogram(&b, "herald_store_commit_ms",
			"Database commit latency, ms.", lb, m.st.latency,
			HR_STORE_LATENCY_BUCKETS, m.st.latency_ms_sum);
	}
#undef GAUGE
#undef COUNTER
	if (err) {
		hr_buf_reset(&b);
		hr_admin_problem(rp, 500, "Internal Server Error", NULL);
		return;
	}
	rp->status = 200;
	rp->ctype = "text/plain; version=0.0.4";
	rp->body = b.b;
	rp->len = b.len;
}


/* ---- the table ---- */

static void r_health(struct req *r, struct reply *rp) { health(r, rp); }
static void r_metrics(struct req *r, struct reply *rp) { metrics(r, rp); }
static void r_subs(struct req *r, struct reply *rp)
{
	subs_list(r, rp, NULL, NULL);
}
static void r_sub_get(struct req *r, struct reply *rp)
{
	sub_get(r, rp, r->seg[2]);
}
static void r_sub_del(struct req *r, struct reply *rp)
{
	sub_delete(r, rp, r->seg[2]);
}
static void r_user_add(struct req *r, struct reply *rp) { user_add(r, rp); }
static void r_users(struct req *r, struct reply *rp) { users_list(r, rp); }
static void r_user_del(struct req *r, struct reply *rp)
{
	user_del(r, rp, r->seg[2]);
}
static void r_bindings(struct req *r, struct reply *rp)
{
	bindings(r, rp, r->seg[2]);
}
static void r_binding_del(struct req *r, struct reply *rp)
{
	binding_del(r, rp, r->seg[2], r->seg[4]);
}
static void r_reginfo(struct req *r, struct reply *rp)
{
	document(r, rp, r->seg[2], true);
}
static void r_presence(struct req *r, struct reply *rp)
{
	document(r, rp, r->seg[2], false);
}
static void r_watchers(struct req *r, struct reply *rp)
{
	subs_list(r, rp, "presence", r->seg[2]);
}
static void r_rule_put(struct req *r, struct reply *rp)
{
	rule(r, rp, false, r->seg[2], r->seg[4], true);
}
static void r_rule_del(struct req *r, struct reply *rp)
{
	rule(r, rp, false, r->seg[2], r->seg[4], false);
}
static void r_rules(struct req *r, struct reply *rp)
{
	rules_list(r, rp, false, r->seg[2]);
}
static void r_reg_rules(struct req *r, struct reply *rp)
{
	rules_list(r, rp, true, r->seg[2]);
}
static void r_reg_watchers(struct req *r, struct reply *rp)
{
	subs_list(r, rp, "reg", r->seg[2]);
}
static void r_reg_rule_put(struct req *r, struct reply *rp)
{
	rule(r, rp, true, r->seg[2], r->seg[4], true);
}
static void r_reg_rule_del(struct req *r, struct reply *rp)
{
	rule(r, rp, true, r->seg[2], r->seg[4], false);
}
static void r_user_patch(struct req *r, struct reply *rp)
{
	user_patch(r, rp, r->seg[2]);
}

/* Paths as segments; "*" matches any one segment. */
static const struct route {
	const char *method;
	const char *path[5];
	void (*h)(struct req *r, struct reply *rp);
} routes[] = {
	{ "GET", { "health" }, r_health },
	{ "GET", { "metrics" }, r_metrics },
	{ "GET", { "v1", "subscriptions" }, r_subs },
	{ "GET", { "v1", "subscriptions", "*" }, r_sub_get },
	{ "DELETE", { "v1", "subscriptions", "*" }, r_sub_del },
	{ "GET", { "v1", "users" }, r_users },
	{ "POST", { "v1", "users" }, r_user_add },
	{ "PATCH", { "v1", "users", "*" }, r_user_patch },
	{ "DELETE", { "v1", "users", "*" }, r_user_del },
	{ "GET", { "v1", "aors", "*", "bindings" }, r_bindings },
	{ "DELETE", { "v1", "aors", "*", "bindings", "*" }, r_binding_del },
	{ "GET", { "v1", "aors", "*", "reginfo" }, r_reginfo },
	{ "GET", { "v1", "aors", "*", "watchers" }, r_reg_watchers },
	{ "GET", { "v1", "aors", "*", "rules" }, r_reg_rules },
	{ "PUT", { "v1", "aors", "*", "rules", "*" }, r_reg_rule_put },
	{ "DELETE", { "v1", "aors", "*", "rules", "*" }, r_reg_rule_del },
	{ "GET", { "v1", "presentities", "*", "presence" }, r_presence },
	{ "GET", { "v1", "presentities", "*", "watchers" }, r_watchers },
	{ "GET", { "v1", "presentities", "*", "rules" }, r_rules },
	{ "PUT", { "v1", "presentities", "*", "rules", "*" }, r_rule_put },
	{ "DELETE", { "v1", "presentities", "*", "rules", "*" }, r_rule_del },
};

static bool matches(const struct route *rt, const struct req *r)
{
	unsigned n = 0;

	while (n < 5 && rt->path[n])
		n++;
	if (n != r->nseg)
		return false;
	for (unsigned i = 0; i < n; i++) {
		if (strcmp(rt->path[i], "*") && strcmp(rt->path[i], r->seg[i]))
			return false;
	}
	return true;
}

void hr_admin_route(struct req *r, struct reply *rp)
{
	size_t n = 0;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!matches(&routes[i], r))
			continue;
		if (!strcmp(routes[i].method, r->method)) {
			routes[i].h(r, rp);
			return;
		}
		/* RFC 9110 15.5.6: a 405 lists what the path allows */
		n += (size_t)snprintf(rp->allow + n, sizeof(rp->allow) - n,
			"%s%s", n ? ", " : "", routes[i].method);
		if (n >= sizeof(rp->allow))
			n = sizeof(rp->allow) - 1;
	}
	if (n)
		hr_admin_problem(rp, 405, "Method Not Allowed", NULL);
	else
		hr_admin_problem(rp, 404, "Not Found", NULL);
}
