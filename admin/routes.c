/*
 * The admin endpoints. Lists and single subscriptions are read from
 * PostgreSQL; documents (reginfo, PIDF) are made by the core's own package
 * code, and changes are applied by the core, like SIP requests: all of
 * them asked through the control (control/control.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "admin_int.h"

#define HR_LOG_MODULE "admin"

#define DOC_MAX (1024 * 1024)

#define NAME_LEN HR_CTL_NAME_MAX

/* An address-of-record or presentity as the core keys it: user@domain,
 * the domain lowercased; false after a 400. */
bool hr_admin_aor(struct reply *rp, const char *uri, char out[NAME_LEN])
{
	if (!hr_ctl_aor(uri, out))
		return true;
	hr_admin_problem(rp, 400, "Bad Request",
		"not an address-of-record (user@domain)");
	return false;
}

/* A rule's watcher: a user as hr_admin_aor, or a whole domain
 * (lowercased). */
static bool watcher_of(struct reply *rp, const char *uri, char out[NAME_LEN])
{
	if (!hr_ctl_watcher(uri, out))
		return true;
	hr_admin_problem(rp, 400, "Bad Request", strchr(uri, '@') ?
		"not an address-of-record (user@domain)" : "the watcher is a "
		"user (user@domain) or a domain");
	return false;
}

/* ---- GET /health ---- */

static void health(struct req *r, struct reply *rp)
{
	bool core = hr_ctl_ping(r->a->cfg.ctl) == 0;
	bool db = hr_ctl_reader_ping(r->a->rd) == 0;

	if (core && db) {
		hr_admin_json(rp, 200, json_pack("{s:s}", "status", "ok"));
		return;
	}
	hr_admin_problem(rp, 503, "Service Unavailable", !core ?
		"the SIP core does not answer" : "PostgreSQL does not answer");
}

/* ---- subscriptions ---- */

static json_t *sub_json(const struct hr_ctl_sub *s)
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

static int page_one(const struct hr_ctl_sub *s, void *arg)
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
	struct hr_ctl_sub_filter f = { 0 };
	char res[NAME_LEN];
	struct page pg = { 0 };
	json_t *j;
	int err;

	f.package = hr_admin_query(r, "event");
	f.state = hr_admin_query(r, "state");
	f.resource = hr_admin_query(r, "resource");
	f.watcher = hr_admin_query(r, "watcher");
	f.after = hr_admin_query(r, "cursor");
	if (resource)
		f.package = package;
	else
		resource = f.resource;
	if (resource) {
		if (!hr_admin_aor(rp, resource, res))
			return;
		f.resource = res;
	}
	if (!hr_admin_limit(r, rp, &f.limit))
		return;
	pg.items = json_array();
	pg.limit = f.limit;
	f.limit++;
	err = pg.items ? hr_ctl_subs_page(r->a->rd, &f, page_one, &pg) :
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

static int one(const struct hr_ctl_sub *s, void *arg)
{
	*(json_t **)arg = sub_json(s);
	return 0;
}

static void sub_get(struct req *r, struct reply *rp, const char *id)
{
	struct hr_ctl_sub_live live;
	json_t *j = NULL;

	if (hr_ctl_sub_get(r->a->rd, id, one, &j)) {
		hr_admin_problem(rp, 503, "Service Unavailable",
			"PostgreSQL does not answer");
		return;
	}
	if (!j) {
		hr_admin_problem(rp, 404, "Not Found", "no such subscription");
		return;
	}
	if (!hr_ctl_sub_live(r->a->cfg.ctl, id, &live)) {
		json_object_set_new(j, "version", json_integer(
			(json_int_t)live.version));
		json_object_set_new(j, "notifies", json_integer(live.notifies));
	}
	hr_admin_json(rp, 200, j);
}

static int found(const struct hr_ctl_sub *s, void *arg)
{
	(void)s;
	*(bool *)arg = true;
	return 0;
}

/* Not live here but stored: a node of a cluster, and another owns it. */
static bool elsewhere(struct req *r, const char *id)
{
	bool is = false;

	return hr_ctl_node_id(r->a->cfg.ctl) &&
		!hr_ctl_sub_get(r->a->rd, id, found, &is) && is;
}

static void sub_delete(struct req *r, struct reply *rp, const char *id)
{
	int err = hr_ctl_sub_end(r->a->cfg.ctl, id,
		hr_admin_query(r, "reason"));

	if (err == EINVAL)
		hr_admin_problem(rp, 400, "Bad Request", "reason must be "
			"deactivated, noresource or rejected");
	else if (err == ENOENT && elsewhere(r, id))
		hr_admin_problem(rp, 409, "Conflict", "another node of the "
			"cluster owns it: end it through that node's admin API "
			"(GET /v1/cluster lists them)");
	else if (err == ENOENT)
		hr_admin_problem(rp, 404, "Not Found", "no such subscription");
	else if (err)
		hr_admin_problem(rp, 503, "Service Unavailable",
			"shutting down");
	else
		rp->status = 204;
}

/* ---- documents, made by the packages' own code ---- */

/* Each document's media type. */
static const char *const doc_types[] = {
	[HR_CTL_DOC_PIDF] = "application/pidf+xml",
	[HR_CTL_DOC_REGINFO] = "application/reginfo+xml",
	[HR_CTL_DOC_DIALOG] = "application/dialog-info+xml",
};

static void document(struct req *r, struct reply *rp, const char *name,
	enum hr_ctl_doc doc)
{
	char aor[NAME_LEN];
	struct hr_buf buf;
	const char *accept = MHD_lookup_connection_value(r->c,
		MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	int err;

	if (!hr_admin_aor(rp, name, aor))
		return;
	hr_buf_init(&buf, DOC_MAX);
	err = hr_ctl_document(r->a->cfg.ctl, doc, aor, &buf);
	if (err) {
		hr_buf_reset(&buf);
		hr_admin_problem(rp, 500, "Internal Server Error",
			err != ECANCELED ? hr_strerror(err) :
			"the SIP core did not answer");
		return;
	}
	if (doc == HR_CTL_DOC_PIDF && accept &&
	    strstr(accept, "application/json")) {
		json_t *j = json_pack("{s:s, s:s%}", "presentity", aor,
			"pidf", buf.b, buf.len);

		hr_buf_reset(&buf);
		hr_admin_json(rp, 200, j);
		return;
	}
	rp->status = 200;
	rp->ctype = doc_types[doc];
	rp->body = buf.b;   /* malloc'd by the buffer */
	rp->len = buf.len;
}

/* ---- rules: presence's, reg's and dialog's ---- */

/* How each package's rules read in JSON. */
static const struct rulekind {
	const char *resource;        /* the resource's member */
	const char *field;           /* the rule's */
	const char *why;             /* a bad one's 400 */
} kinds[] = {
	[HR_CTL_PRESENCE] = { "presentity", "action", "action must be "
		"allow, block, polite-block or confirm" },
	[HR_CTL_REG] = { "aor", "action", "action must be allow or block" },
	[HR_CTL_DIALOG] = { "presentity", "privacy", "privacy must be "
		"identity or state" },
};

/* PUT or DELETE a presentity's or AOR's rule for a watcher: a user
 * ("bob@example.test") or a whole domain ("example.test"). The change is
 * stored, then applied to the subscriptions, then answered. */
static void rule(struct req *r, struct reply *rp, enum hr_ctl_pkg pkg,
	const char *resource, const char *watcher, bool put)
{
	const struct rulekind *k = &kinds[pkg];
	const char *const allowed[] = { k->field, NULL };
	char res[NAME_LEN], who[NAME_LEN];
	const char *name = NULL;
	json_t *j = NULL;
	int err;

	if (!hr_admin_aor(rp, resource, res) || !watcher_of(rp, watcher, who))
		return;
	if (put) {
		j = hr_admin_body_json(r, rp, allowed);
		if (!j)
			return;
		name = json_string_value(json_object_get(j, k->field));
		if (!hr_ctl_rule_action_valid(pkg, name)) {
			json_decref(j);
			hr_admin_problem(rp, 400, "Bad Request", k->why);
			return;
		}
	}
	err = hr_ctl_rule_set(r->a->cfg.ctl, pkg, res, who, name);
	if (err == EINVAL)
		hr_admin_problem(rp, 400, "Bad Request", NULL);
	else if (err)
		hr_admin_problem(rp, 503, "Service Unavailable",
			hr_strerror(err));
	else if (put)
		hr_admin_json(rp, 200, json_pack("{s:s, s:s, s:s}",
			k->resource, res, "watcher", who, k->field, name));
	else
		rp->status = 204;
	json_decref(j);
}

struct rulepage {
	const char *field;
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
		"watcher", watcher, pg->field, action)) ? ENOMEM : 0;
}

/* GET a presentity's or AOR's rules, by watcher; the cursor is the last
 * watcher shown. */
static void rules_list(struct req *r, struct reply *rp, enum hr_ctl_pkg pkg,
	const char *resource)
{
	struct rulepage pg = { .field = kinds[pkg].field };
	char res[NAME_LEN];
	json_t *j;

	if (!hr_admin_aor(rp, resource, res) ||
	    !hr_admin_limit(r, rp, &pg.limit))
		return;
	resource = res;
	pg.items = json_array();
	if (!pg.items || hr_ctl_rules_page(r->a->rd, pkg, resource,
		hr_admin_query(r, "cursor"), pg.limit + 1, rule_one, &pg)) {
		json_decref(pg.items);
		hr_admin_problem(rp, 503, "Service Unavailable",
			"PostgreSQL does not answer");
		return;
	}
	j = json_pack("{s:s, s:o}", kinds[pkg].resource, resource,
		"items", pg.items);
	if (j && pg.more)
		json_object_set_new(j, "next_cursor", json_string(pg.last));
	hr_admin_json(rp, 200, j);
}

/* ---- bindings, from the registrar ---- */

/* The +sip.instance value as the phone means it: "<urn:uuid:...>" is
 * a quoted-string on the wire (RFC 5626 4.1), the quotes are not its. */
static json_t *instance(const char *v)
{
	size_t n = strlen(v);

	if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
		return json_stringn(v + 1, n - 2);
	return json_string(v);
}

static int bind_one(const struct hr_ctl_binding *b, void *arg)
{
	json_t *items = arg;
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
		json_object_set_new(j, "instance", instance(b->instance));
	if (*b->user_agent)
		json_object_set_new(j, "user_agent",
			json_string(b->user_agent));
	if (*b->path)
		json_object_set_new(j, "path", json_string(b->path));
	return json_array_append_new(items, j) ? ENOMEM : 0;
}

static void bindings(struct req *r, struct reply *rp, const char *aor)
{
	char name[NAME_LEN];
	json_t *items;

	if (!hr_admin_aor(rp, aor, name))
		return;
	items = json_array();
	if (!items || hr_ctl_bindings(r->a->cfg.ctl, name, bind_one, items)) {
		json_decref(items);
		hr_admin_problem(rp, 503, "Service Unavailable",
			"the SIP core did not answer");
		return;
	}
	hr_admin_json(rp, 200, json_pack("{s:s, s:o}", "aor", name,
		"bindings", items));
}

/* RFC 3680: the binding goes, its watchers hear "deactivated" */
static void binding_del(struct req *r, struct reply *rp, const char *aor,
	const char *id)
{
	char name[NAME_LEN];
	int err;

	if (!hr_admin_aor(rp, aor, name))
		return;
	err = hr_ctl_binding_remove(r->a->cfg.ctl, name, id);
	if (err == ENOENT)
		hr_admin_problem(rp, 404, "Not Found", "no such binding");
	else if (err == EBUSY)
		hr_admin_problem(rp, 409, "Conflict", "a registration of this "
			"address-of-record is being stored; try again");
	else if (err)
		hr_admin_problem(rp, 503, "Service Unavailable",
			hr_strerror(err));
	else
		rp->status = 204;
}

/* ---- the table ---- */

static void r_health(struct req *r, struct reply *rp) { health(r, rp); }
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
static void r_user_del(struct req *r, struct reply *rp)
{
	hr_admin_user_del(r, rp, r->seg[2]);
}
static void r_trace_del(struct req *r, struct reply *rp)
{
	hr_admin_trace_stop(r, rp, r->seg[2]);
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
	document(r, rp, r->seg[2], HR_CTL_DOC_REGINFO);
}
static void r_presence(struct req *r, struct reply *rp)
{
	document(r, rp, r->seg[2], HR_CTL_DOC_PIDF);
}
static void r_dialog(struct req *r, struct reply *rp)
{
	document(r, rp, r->seg[2], HR_CTL_DOC_DIALOG);
}
static void r_dialog_watchers(struct req *r, struct reply *rp)
{
	subs_list(r, rp, "dialog", r->seg[2]);
}
static void r_dialog_rules(struct req *r, struct reply *rp)
{
	rules_list(r, rp, HR_CTL_DIALOG, r->seg[2]);
}
static void r_dialog_rule_put(struct req *r, struct reply *rp)
{
	rule(r, rp, HR_CTL_DIALOG, r->seg[2], r->seg[4], true);
}
static void r_dialog_rule_del(struct req *r, struct reply *rp)
{
	rule(r, rp, HR_CTL_DIALOG, r->seg[2], r->seg[4], false);
}
static void r_mailbox_put(struct req *r, struct reply *rp)
{
	hr_admin_mailbox_put(r, rp, r->seg[2]);
}
static void r_mailbox(struct req *r, struct reply *rp)
{
	hr_admin_mailbox_get(r, rp, r->seg[2]);
}
static void r_mailbox_watchers(struct req *r, struct reply *rp)
{
	subs_list(r, rp, "message-summary", r->seg[2]);
}
static void r_watchers(struct req *r, struct reply *rp)
{
	subs_list(r, rp, "presence", r->seg[2]);
}
static void r_rule_put(struct req *r, struct reply *rp)
{
	rule(r, rp, HR_CTL_PRESENCE, r->seg[2], r->seg[4], true);
}
static void r_rule_del(struct req *r, struct reply *rp)
{
	rule(r, rp, HR_CTL_PRESENCE, r->seg[2], r->seg[4], false);
}
static void r_rules(struct req *r, struct reply *rp)
{
	rules_list(r, rp, HR_CTL_PRESENCE, r->seg[2]);
}
static void r_reg_rules(struct req *r, struct reply *rp)
{
	rules_list(r, rp, HR_CTL_REG, r->seg[2]);
}
static void r_reg_watchers(struct req *r, struct reply *rp)
{
	subs_list(r, rp, "reg", r->seg[2]);
}
static void r_reg_rule_put(struct req *r, struct reply *rp)
{
	rule(r, rp, HR_CTL_REG, r->seg[2], r->seg[4], true);
}
static void r_reg_rule_del(struct req *r, struct reply *rp)
{
	rule(r, rp, HR_CTL_REG, r->seg[2], r->seg[4], false);
}
static void r_user_patch(struct req *r, struct reply *rp)
{
	hr_admin_user_patch(r, rp, r->seg[2]);
}

/* Paths as segments; "*" matches any one segment. */
static const struct route {
	const char *method;
	const char *path[5];
	void (*h)(struct req *r, struct reply *rp);
} routes[] = {
	{ "GET", { "health" }, r_health },
	{ "GET", { "metrics" }, hr_admin_metrics },
	{ "GET", { NULL }, hr_admin_console },          /* "/" */
	{ "GET", { "console.css" }, hr_admin_console },
	{ "GET", { "console.js" }, hr_admin_console },
	{ "GET", { "v1", "subscriptions" }, r_subs },
	{ "GET", { "v1", "subscriptions", "*" }, r_sub_get },
	{ "DELETE", { "v1", "subscriptions", "*" }, r_sub_del },
	{ "GET", { "v1", "users" }, hr_admin_users_list },
	{ "POST", { "v1", "users" }, hr_admin_user_add },
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
	{ "GET", { "v1", "presentities", "*", "dialog" }, r_dialog },
	{ "GET", { "v1", "presentities", "*", "dialog-watchers" },
		r_dialog_watchers },
	{ "GET", { "v1", "presentities", "*", "dialog-rules" },
		r_dialog_rules },
	{ "PUT", { "v1", "presentities", "*", "dialog-rules", "*" },
		r_dialog_rule_put },
	{ "DELETE", { "v1", "presentities", "*", "dialog-rules", "*" },
		r_dialog_rule_del },
	{ "GET", { "v1", "mailboxes", "*" }, r_mailbox },
	{ "PUT", { "v1", "mailboxes", "*" }, r_mailbox_put },
	{ "GET", { "v1", "mailboxes", "*", "watchers" }, r_mailbox_watchers },
	{ "GET", { "v1", "audit" }, hr_admin_audit_list },
	{ "GET", { "v1", "status" }, hr_admin_status },
	{ "GET", { "v1", "cluster" }, hr_admin_cluster },
	{ "GET", { "v1", "log-levels" }, hr_admin_loglevels_get },
	{ "PUT", { "v1", "log-levels" }, hr_admin_loglevels_put },
	{ "PUT", { "v1", "log-levels", "*" }, hr_admin_loglevel_put },
	{ "DELETE", { "v1", "log-levels", "*" }, hr_admin_loglevel_del },
	{ "GET", { "v1", "feed" }, hr_admin_feed },
	{ "GET", { "v1", "traces" }, hr_admin_traces },
	{ "POST", { "v1", "traces" }, hr_admin_trace_start },
	{ "DELETE", { "v1", "traces", "*" }, r_trace_del },
	{ "GET", { "v1", "presentities", "*", "presence", "feed" },
		hr_admin_feed_presence },
	{ "GET", { "v1", "aors", "*", "reginfo", "feed" },
		hr_admin_feed_reginfo },
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
