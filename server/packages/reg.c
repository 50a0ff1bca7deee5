/*
 * The reg event package (RFC 3680). Each binding change of the registrar
 * becomes one shared change record; every active subscription to the AOR
 * keeps references to the records not yet sent (the newest per contact
 * id), so that a NOTIFY merged from several changes carries each contact
 * once, in its latest state. Full state is read from the registrar.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "reg.h"
#include "xml/xml.h"

#define HR_LOG_MODULE "reg"


static const char *const types[] = { "application/reginfo+xml" };

static const char *const rule_names[] = {
	[HR_REG_RULE_NONE] = "",
	[HR_REG_RULE_ALLOW] = "allow",
	[HR_REG_RULE_BLOCK] = "block",
};

struct hr_regpkg {
	struct hr_pkg pkg;
	struct hr_regpkg_cfg cfg;
	struct hr_events *ev;
	struct hr_registrar *r;
	struct hr_rules *rules;
	bool watching;
};

/* A binding as it was at one change. */
struct change {
	enum hr_reg_event ev;
	const char *id;
	const char *uri;
	const char *dname;
	const char *callid;
	const char *params;
	int64_t expires_at;
	int64_t registered_at;
	uint32_t cseq;
	int q;
	char strs[];
};

/* What one subscription has not been told yet. */
struct pending {
	struct change **v;
	unsigned n;
	unsigned cap;
};

void hr_regpkg_cfg_default(struct hr_regpkg_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->expires_default = 3600;
	cfg->expires_min = 60;
	cfg->expires_max = 86400;
}

/* ---- rules ---- */

int hr_reg_rule_decode(const char *name, enum hr_reg_rule *rule)
{
	for (unsigned i = HR_REG_RULE_ALLOW; name && i <= HR_REG_RULE_BLOCK;
	     i++) {
		if (!strcmp(name, rule_names[i])) {
			*rule = (enum hr_reg_rule)i;
			return 0;
		}
	}
	return EINVAL;
}

/* A monitor may watch every AOR of its own domain. */
static bool monitor_of(const struct hr_regpkg *p, const char *who,
	const char *aor)
{
	const char *at = strchr(who, '@'), *aat = strchr(aor, '@');

	return at && aat && !strcasecmp(at + 1, aat + 1) &&
		hr_realm_is_monitor(p->cfg.realm, who);
}

static bool allowed(const struct hr_regpkg *p, const struct hr_sub_info *si)
{
	char who[512];

	hr_sub_identity(si, who, sizeof(who));
	/* RFC 3680 6: the AOR's own user may always watch it */
	if (!strcmp(who, si->resource))
		return true;
	/* the AOR's rule (the watcher's, else its domain's) comes before
	 * the role: a block keeps a monitor out */
	switch (hr_rules_get(p->rules, si->resource, who)) {
	case HR_REG_RULE_ALLOW:
		return true;
	case HR_REG_RULE_BLOCK:
		return false;
	default:
		return monitor_of(p, who, si->resource);
	}
}

static void rule_applied(const char *aor, const char *watcher, int rule,
	void *arg)
{
	struct hr_regpkg *p = arg;

	(void)watcher;
	/* a permission taken away ends what it allowed (RFC 3680 6) */
	if (rule != HR_REG_RULE_ALLOW)
		hr_events_reauthorize(p->ev, p->pkg.name, aor, NULL);
}

int hr_regpkg_rule(struct hr_regpkg *p, const char *aor, const char *watcher,
	enum hr_reg_rule rule, hr_regpkg_done_h *done, void *arg)
{
	if (!p || (unsigned)rule > HR_REG_RULE_BLOCK)
		return EINVAL;
	return hr_rules_change(p->rules, aor, watcher, (int)rule, done, arg);
}

struct hr_rules *hr_regpkg_rules(struct hr_regpkg *p)
{
	return p->rules;
}

int hr_regpkg_load(struct hr_regpkg *p)
{
	return p ? hr_rules_load(p->rules) : EINVAL;
}

/* ---- the package's hooks ---- */

static enum hr_authz authorize(const struct hr_sub_info *si, void *arg)
{
	struct hr_regpkg *p = arg;

	if (!hr_realm_exists(p->cfg.realm, si->resource))
		return HR_AUTHZ_NOTFOUND;
	return allowed(p, si) ? HR_AUTHZ_ACTIVE : HR_AUTHZ_REJECT;
}

static void pending_clear(struct pending *pd)
{
	for (unsigned i = 0; i < pd->n; i++)
		hr_mem_deref(pd->v[i]);
	pd->n = 0;
}

static void gone(struct hr_sub *sub, void *arg)
{
	struct pending *pd = hr_sub_data(sub);

	(void)arg;
	if (!pd)
		return;
	pending_clear(pd);
	free(pd->v);
	free(pd);
	hr_sub_set_data(sub, NULL);
}

/* One contact for the document; its parameters are split in storage of
 * its own (the array of contacts may move while it grows). */
struct wcontact {
	struct hr_reginfo_contact c;
	char *pbuf;           /* the parameters, split in place */
	const char **pv;      /* names, then values */
};

/* Unknown contact parameters (RFC 3680 5.1) from ";a=b;c", every one of
 * them however many a phone sends: 0 or ENOMEM. */
static int split_params(struct wcontact *w, const char *params)
{
	struct hr_reginfo_contact *c = &w->c;
	const char **names, **values;
	size_t max = 1;
	unsigned k = 0;
	char *s;

	for (const char *p = params; *p; p++)
		max += *p == ';';   /* at least one ';' before each */
	w->pbuf = strdup(params);
	w->pv = calloc(2 * max, sizeof(*w->pv));
	if (!w->pbuf || !w->pv)
		return ENOMEM;
	names = w->pv;
	values = w->pv + max;
	s = w->pbuf;
	while (*s) {
		char *end, *eq;
		bool quoted = false;

		while (*s == ';' || *s == ' ')
			s++;
		if (!*s)
			break;
		for (end = s; *end && (quoted || *end != ';'); end++) {
			if (*end == '"')
				quoted = !quoted;
		}
		if (*end)
			*end++ = '\0';
		eq = strchr(s, '=');
		names[k] = s;
		values[k] = NULL;
		if (eq) {
			size_t vl;

			*eq = '\0';
			values[k] = eq + 1;
			vl = strlen(eq + 1);
			if (vl >= 2 && eq[1] == '"' && eq[vl] == '"') {
				eq[vl] = '\0';
				values[k] = eq + 2;
			}
		}
		k++;
		s = end;
	}
	c->n_unknown_params = k;
	c->unknown_param_names = names;
	c->unknown_param_values = values;
	return 0;
}

static void wcontacts_free(struct wcontact *w, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		free(w[i].pbuf);
		free(w[i].pv);
	}
	free(w);
}

static int contact_fill(struct wcontact *w, const char *id, const char *uri,
	const char *dname, const char *callid, const char *params,
	int64_t expires_at, int64_t registered_at, uint32_t cseq, int q,
	enum hr_reg_event ev)
{
	int64_t now = hr_wall_s();
	struct hr_reginfo_contact *c = &w->c;

	memset(w, 0, sizeof(*w));
	c->id = id;
	c->uri = uri;
	c->display_name = dname;
	c->callid = callid;
	c->cseq = cseq;
	c->q = q;
	c->event = hr_reg_event_name(ev);
	c->active = ev == HR_REG_REGISTERED || ev == HR_REG_CREATED ||
		ev == HR_REG_REFRESHED || ev == HR_REG_SHORTENED;
	/* RFC 3680 5.1: what is left of an active contact; none once
	 * terminated */
	c->expires = c->active ? (expires_at > now ? expires_at - now : 0) :
		-1;
	c->duration_registered = registered_at && now >= registered_at ?
		now - registered_at : -1;
	c->retry_after = -1;
	return split_params(w, params ? params : "");
}

struct full {
	struct wcontact *w;
	unsigned n;
	unsigned cap;
};

static int full_one(const struct hr_binding *b, void *arg)
{
	struct full *f = arg;

	if (f->n == f->cap) {
		unsigned cap = f->cap ? f->cap * 2 : 8;
		struct wcontact *w = realloc(f->w, cap * sizeof(*w));

		if (!w)
			return ENOMEM;
		f->w = w;
		f->cap = cap;
	}
	return contact_fill(&f->w[f->n++], b->id, b->uri, b->dname,
		b->callid, b->params, b->expires_at, b->registered_at, b->cseq,
		b->q, HR_REG_REGISTERED);
}

static int count_one(const struct hr_binding *b, void *arg)
{
	(void)b;
	(*(unsigned *)arg)++;
	return 0;
}

/* A stable registration id: the same AOR always gets the same one. */
static void reg_id(const char *aor, char *out, size_t n)
{
	snprintf(out, n, "r%08x", hr_hash_bytes(aor, strlen(aor)));
}

/* A document about resource: the whole state (the changes pending for
 * a subscription: pd) with this version. */
static int write_doc(struct hr_regpkg *p, const char *resource,
	uint64_t version, enum hr_body_kind kind, struct pending *pd,
	struct hr_buf *buf)
{
	struct full f = { 0 };
	struct hr_reginfo_reg reg = { 0 };
	struct hr_reginfo_contact *cv = NULL;
	char rid[16], aor[600];
	unsigned live = 0;
	int err;

	snprintf(aor, sizeof(aor), "sip:%s", resource);
	reg_id(resource, rid, sizeof(rid));
	reg.aor = aor;
	reg.id = rid;
	if (kind == HR_BODY_FULL || !pd) {
		err = hr_registrar_bindings(p->r, resource, full_one, &f);
		live = f.n;
	} else {
		err = hr_registrar_bindings(p->r, resource, count_one,
			&live);
		f.w = calloc(pd->n ? pd->n : 1, sizeof(*f.w));
		if (!f.w)
			err = ENOMEM;
		for (unsigned i = 0; !err && i < pd->n; i++) {
			const struct change *c = pd->v[i];

			err = contact_fill(&f.w[f.n++], c->id, c->uri,
				c->dname, c->callid, c->params, c->expires_at,
				c->registered_at, c->cseq, c->q, c->ev);
		}
	}
	if (!err && f.n) {
		cv = calloc(f.n, sizeof(*cv));
		if (!cv)
			err = ENOMEM;
		for (unsigned i = 0; cv && i < f.n; i++)
			cv[i] = f.w[i].c;
	}
	if (!err) {
		reg.contacts = cv;
		reg.ncontacts = f.n;
		/* RFC 3680 5.2: init with no contacts (full state), active
		 * with some, terminated when the last one just went */
		reg.state = live ? HR_REG_ACTIVE : kind == HR_BODY_FULL ?
			HR_REG_INIT : HR_REG_TERMINATED;
		err = hr_reginfo_write(buf, (unsigned)version,
			kind == HR_BODY_FULL || !pd ? HR_REGINFO_FULL :
			HR_REGINFO_PARTIAL, &reg, 1);
	}
	/* told: what was pending is now known to the watcher */
	if (!err && pd)
		pending_clear(pd);
	free(cv);
	wcontacts_free(f.w, f.n);
	return err;
}

static int body(struct hr_sub *sub, const struct hr_sub_info *si,
	enum hr_body_kind kind, struct hr_buf *buf, void *arg)
{
	return write_doc(arg, si->resource, si->version, kind,
		hr_sub_data(sub), buf);
}

int hr_regpkg_document(struct hr_regpkg *p, const char *aor,
	struct hr_buf *buf)
{
	return write_doc(p, aor, 0, HR_BODY_FULL, NULL, buf);
}

/* ---- binding changes ---- */

static struct change *change_new(const struct hr_binding *b,
	enum hr_reg_event ev)
{
	const char *const strs[] = { b->id, b->uri, b->dname, b->callid,
		b->params };
	struct change *c = hr_mem_zalloc(sizeof(*c) + hr_strpack_size(strs,
		sizeof(strs) / sizeof(strs[0])), NULL);
	char *s;

	if (!c)
		return NULL;
	s = c->strs;
	c->ev = ev;
	c->id = hr_strpack(&s, b->id);
	c->uri = hr_strpack(&s, b->uri);
	c->dname = hr_strpack(&s, b->dname);
	c->callid = hr_strpack(&s, b->callid);
	c->params = hr_strpack(&s, b->params);
	c->expires_at = b->expires_at;
	c->registered_at = b->registered_at;
	c->cseq = b->cseq;
	c->q = b->q;
	return c;
}

/* Keep the newest change per contact id. */
static int pending_add(struct hr_sub *sub, struct change *c)
{
	struct pending *pd = hr_sub_data(sub);

	if (!pd) {
		pd = calloc(1, sizeof(*pd));
		if (!pd)
			return ENOMEM;
		hr_sub_set_data(sub, pd);
	}
	for (unsigned i = 0; i < pd->n; i++) {
		if (!strcmp(pd->v[i]->id, c->id)) {
			hr_mem_deref(pd->v[i]);
			pd->v[i] = hr_mem_ref(c);
			return 0;
		}
	}
	if (pd->n == pd->cap) {
		unsigned cap = pd->cap ? pd->cap * 2 : 4;
		struct change **v = realloc(pd->v, cap * sizeof(*v));

		if (!v)
			return ENOMEM;
		pd->v = v;
		pd->cap = cap;
	}
	pd->v[pd->n++] = hr_mem_ref(c);
	return 0;
}

static int tell(struct hr_sub *sub, void *arg)
{
	const struct hr_sub_info *si = hr_sub_info(sub);

	if (si->state != HR_SUB_ACTIVE)
		return 0;
	if (pending_add(sub, arg)) {
		/* cannot remember the change: send the whole state */
		HR_WARN("subscription %s: out of memory, full state next",
			si->id);
		hr_sub_changed_full(sub);
		return 0;
	}
	hr_sub_changed(sub);
	return 0;
}

static void binding_changed(const struct hr_binding *b, enum hr_reg_event ev,
	void *arg)
{
	struct hr_regpkg *p = arg;
	struct change *c = change_new(b, ev);

	if (!c) {
		HR_WARN("%s: change of %s lost: out of memory", b->aor, b->uri);
		return;
	}
	hr_events_foreach(p->ev, p->pkg.name, b->aor, tell, c);
	hr_mem_deref(c);
}

/* ---- lifetime ---- */

static void regpkg_destroy(void *data)
{
	struct hr_regpkg *p = data;

	hr_mem_deref(p->rules);
	hr_mem_deref(p->cfg.realm);
	if (p->watching)
		hr_registrar_unwatch(p->r, binding_changed, p);
}

int hr_regpkg_alloc(struct hr_regpkg **pp, struct hr_events *ev,
	struct hr_registrar *r, struct hr_store *store,
	const struct hr_regpkg_cfg *cfg)
{
	struct hr_regpkg *p;
	int err;

	if (!pp || !ev || !r || !cfg || !cfg->realm)
		return EINVAL;
	p = hr_mem_zalloc(sizeof(*p), regpkg_destroy);
	if (!p)
		return ENOMEM;
	p->cfg = *cfg;
	hr_mem_ref(p->cfg.realm);
	p->ev = ev;
	p->r = r;
	p->pkg.name = "reg";
	p->pkg.types = types;
	p->pkg.ntypes = 1;
	p->pkg.expires_default = cfg->expires_default;
	p->pkg.expires_min = cfg->expires_min;
	p->pkg.expires_max = cfg->expires_max;
	p->pkg.authorize = authorize;
	p->pkg.body = body;
	p->pkg.gone = gone;
	p->pkg.arg = p;
	err = hr_rules_alloc(&p->rules, store, p->pkg.name, rule_names,
		HR_REG_RULE_BLOCK + 1, rule_applied, p);
	if (!err)
		err = hr_events_package(ev, &p->pkg);
	if (err) {
		hr_mem_deref(p);
		return err;
	}
	err = hr_registrar_watch(r, binding_changed, p);
	if (err) {
		hr_mem_deref(p);
		return err;
	}
	p->watching = true;
	*pp = p;
	return 0;
}
