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
	char last[64];
};

static int page_one(const struct hr_store_sub *s, void *arg)
{
	struct page *pg = arg;
	json_t *j = sub_json(s);

	if (!j || json_array_append_new(pg->items, j))
		return ENOMEM;
	snprintf(pg->last, sizeof(pg->last), "%s", s->id);
	return 0;
}

static void subs_list(struct req *r, struct reply *rp)
{
	struct hr_store_sub_filter f = { 0 };
	struct page pg = { .items = json_array() };
	const char *lim = hr_admin_query(r, "limit");
	json_t *j;
	int err;

	f.package = hr_admin_query(r, "event");
	f.state = hr_admin_query(r, "state");
	f.resource = hr_admin_query(r, "resource");
	f.watcher = hr_admin_query(r, "watcher");
	f.after = hr_admin_query(r, "cursor");
	f.limit = LIMIT_DEFAULT;
	if (f.resource)
		f.resource = bare(f.resource);
	if (lim) {
		char *end;
		long v = strtol(lim, &end, 10);

		if (*end || v < 1 || v > LIMIT_MAX) {
			json_decref(pg.items);
			hr_admin_problem(rp, 400, "Bad Request",
				"limit must be 1 to 1000");
			return;
		}
		f.limit = (unsigned)v;
	}
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
	if (j && json_array_size(pg.items) == f.limit)
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

	if (!strchr(c.name, '@')) {
		hr_admin_problem(rp, 400, "Bad Request",
			"not an address-of-record");
		return;
	}
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

/* ---- presence rules ---- */

struct rulecall {
	struct hr_presence *p;
	const char *presentity;
	const char *watcher;
	enum hr_pres_action action;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int err;
};

static void rule_done(int err, void *arg)
{
	struct rulecall *c = arg;

	pthread_mutex_lock(&c->lock);
	c->err = err;
	c->done = true;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void rule_core(void *arg)
{
	struct rulecall *c = arg;
	int err = hr_presence_rule(c->p, c->presentity, c->watcher, c->action,
		rule_done, c);

	if (err)
		rule_done(err, c);
}

static void rule(struct req *r, struct reply *rp, const char *presentity,
	const char *watcher, bool put)
{
	static const char *const allowed[] = { "action", NULL };
	struct rulecall c = { .p = r->a->cfg.presence,
		.presentity = bare(presentity), .watcher = bare(watcher),
		.action = HR_PRES_NONE };
	json_t *j;
	int err = 0;

	if (put) {
		j = hr_admin_body_json(r, rp, allowed);
		if (!j)
			return;
		if (!json_is_string(json_object_get(j, "action")) ||
		    hr_pres_action_decode(json_string_value(json_object_get(j,
		    "action")), &c.action)) {
			json_decref(j);
			hr_admin_problem(rp, 400, "Bad Request", "action must be "
				"allow, block, polite-block or confirm");
			return;
		}
		json_decref(j);
	}
	pthread_mutex_init(&c.lock, NULL);
	pthread_cond_init(&c.cond, NULL);
	if (hr_call(rule_core, &c)) {
		err = ECANCELED;
	} else {
		/* stored, then applied to the watcher's subscriptions */
		pthread_mutex_lock(&c.lock);
		while (!c.done)
			pthread_cond_wait(&c.cond, &c.lock);
		pthread_mutex_unlock(&c.lock);
		err = c.err;
	}
	pthread_cond_destroy(&c.cond);
	pthread_mutex_destroy(&c.lock);
	if (err == EINVAL)
		hr_admin_problem(rp, 400, "Bad Request", NULL);
	else if (err)
		hr_admin_problem(rp, 503, "Service Unavailable", NULL);
	else if (put)
		hr_admin_json(rp, 200, json_pack("{s:s, s:s, s:s}",
			"presentity", c.presentity, "watcher", c.watcher,
			"action", hr_pres_action_name(c.action)));
	else
		rp->status = 204;
}

/* ---- the table ---- */

static bool is(const struct req *r, const char *method, unsigned nseg)
{
	return r->nseg == nseg && !strcmp(r->method, method);
}

void hr_admin_route(struct req *r, struct reply *rp)
{
	const char *const *s = r->seg;

	if (r->nseg == 1 && !strcmp(s[0], "health")) {
		if (strcmp(r->method, "GET"))
			goto method;
		health(r, rp);
		return;
	}
	if (r->nseg < 2 || strcmp(s[0], "v1"))
		goto notfound;
	if (!strcmp(s[1], "subscriptions")) {
		if (is(r, "GET", 2))
			subs_list(r, rp);
		else if (is(r, "GET", 3))
			sub_get(r, rp, s[2]);
		else if (is(r, "DELETE", 3))
			sub_delete(r, rp, s[2]);
		else if (r->nseg <= 3)
			goto method;
		else
			goto notfound;
		return;
	}
	if (!strcmp(s[1], "aors") && r->nseg == 4 &&
	    !strcmp(s[3], "reginfo")) {
		if (strcmp(r->method, "GET"))
			goto method;
		document(r, rp, s[2], true);
		return;
	}
	if (!strcmp(s[1], "presentities") && r->nseg == 4 &&
	    !strcmp(s[3], "presence")) {
		if (strcmp(r->method, "GET"))
			goto method;
		document(r, rp, s[2], false);
		return;
	}
	if (!strcmp(s[1], "presentities") && r->nseg == 5 &&
	    !strcmp(s[3], "rules")) {
		if (!strcmp(r->method, "PUT"))
			rule(r, rp, s[2], s[4], true);
		else if (!strcmp(r->method, "DELETE"))
			rule(r, rp, s[2], s[4], false);
		else
			goto method;
		return;
	}
notfound:
	hr_admin_problem(rp, 404, "Not Found", NULL);
	return;
method:
	hr_admin_problem(rp, 405, "Method Not Allowed", NULL);
}
