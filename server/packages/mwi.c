/*
 * The message-summary package (RFC 3842). Publications (publish.c) of an
 * account are summed: a voicemail system and a fax server may publish
 * for one account, and the phone's lamp shows both. Only the account's
 * own user may watch it (RFC 3842 8: the summary is private to it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mwi.h"
#include "publish.h"

#define HR_LOG_MODULE "mwi"

#define SMS "application/simple-message-summary"
#define NAME_MAX_ 512
#define BODY_MAX 4096

static const char *const types[] = { SMS };

struct hr_mwipkg {
	struct hr_mwipkg_cfg cfg;
	struct hr_store *store;
	struct hr_events *ev;
	struct hr_publish *pub;
	struct hr_pkg pkg;
};

/* What the package keeps per subscription: what it was told last. */
struct msub {
	uint64_t sent_hash;
};

void hr_mwipkg_cfg_default(struct hr_mwipkg_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->pub_expires_default = 3600;
	cfg->pub_expires_min = 10;
	cfg->pub_expires_max = 86400;
	cfg->sub_expires_default = 3600;
	cfg->sub_expires_min = 60;
	cfg->sub_expires_max = 86400;
	cfg->max_pubs = 32;
}

/* ---- the summary ---- */

static void add_doc(void *doc, void *arg)
{
	hr_mwi_add(arg, doc);
}

void hr_mwipkg_summary(const struct hr_mwipkg *m, const char *account,
	struct hr_mwi *out)
{
	memset(out, 0, sizeof(*out));
	hr_publish_docs(m->pub, account, false, add_doc, out);
	/* RFC 3842 5.2: the account the summary is of */
	if (!*out->account)
		snprintf(out->account, sizeof(out->account), "sip:%s",
			account);
}

/* The body for account, and its hash: a watcher is not told the same
 * summary twice in a row (phones misbehave on duplicates, INTEROP.md). */
static int print(const struct hr_mwipkg *m, const char *account,
	struct hr_buf *buf, uint64_t *hash)
{
	struct hr_mwi s;
	size_t at = buf->len;
	int err;

	hr_mwipkg_summary(m, account, &s);
	err = hr_mwi_print(buf, &s);
	if (!err)
		*hash = hr_hash64(buf->b + at, buf->len - at);
	return err;
}

size_t hr_mwipkg_count(const struct hr_mwipkg *m)
{
	return hr_publish_count(m->pub, NULL);
}

struct hr_publish *hr_mwipkg_publish(struct hr_mwipkg *m)
{
	return m->pub;
}

/* ---- the publication interface ---- */

static bool parse(struct hr_verdict *v, const struct hr_pl *body,
	const char *name, void **docp, void *arg)
{
	struct hr_mwi *doc = hr_mem_zalloc(sizeof(*doc), NULL);
	const char *why = NULL;
	int err;

	(void)name;
	(void)arg;
	if (!doc)
		return hr_verdict_fail(v, ENOMEM, "mwi: parsing the body");
	err = hr_mwi_parse(doc, body->p, body->len, &why);
	if (err) {
		hr_mem_deref(doc);
		/* why is a static "Bad message-summary: ..." (summary.h) */
		return hr_verdict_refuse(v, 400, why ? why :
			"Bad message-summary", NULL);
	}
	*docp = doc;
	return true;
}

static int load(void **docp, const char *body, const char **why)
{
	struct hr_mwi *doc = hr_mem_zalloc(sizeof(*doc), NULL);
	int err;

	if (!doc)
		return ENOMEM;
	err = hr_mwi_parse(doc, body, strlen(body), why);
	if (err)
		hr_mem_deref(doc);
	else
		*docp = doc;
	return err;
}

struct tellarg {
	uint64_t hash;
};

static int tell(struct hr_sub *sub, void *arg)
{
	const struct tellarg *t = arg;
	struct msub *ms = hr_sub_data(sub);

	if (ms && ms->sent_hash != t->hash &&
	    hr_sub_info(sub)->state == HR_SUB_ACTIVE)
		hr_sub_changed(sub);
	return 0;
}

/* The account's publications changed: tell its phones, if the summary
 * did. */
static void pub_changed(const char *name, void *arg)
{
	struct hr_mwipkg *m = arg;
	struct tellarg t;
	struct hr_buf b;

	hr_buf_init(&b, BODY_MAX);
	if (!print(m, name, &b, &t.hash))
		hr_events_foreach(m->ev, "message-summary", name, tell, &t);
	hr_buf_reset(&b);
}

/* ten years: a mailbox the admin set stays until it is set again */
#define ADMIN_EXPIRES (3650u * 86400u)

int hr_mwipkg_put(struct hr_mwipkg *m, const char *account,
	const struct hr_mwi *s, hr_mwipkg_done_h *done, void *arg)
{
	struct hr_buf b;
	int err;

	hr_buf_init(&b, BODY_MAX);
	err = hr_mwi_print(&b, s);
	if (!err)
		err = hr_publish_put(m->pub, account, b.b, b.len,
			ADMIN_EXPIRES, done, arg);
	hr_buf_reset(&b);
	return err;
}

/* ---- the package's hooks ---- */

/* RFC 3842 8: a mailbox's summary is its owner's; RFC 6665 4.2.1.2:
 * others get 403. */
static enum hr_authz authorize(const struct hr_sub_info *si, void *arg)
{
	struct hr_mwipkg *m = arg;
	char who[NAME_MAX_];

	if (!hr_realm_exists(m->cfg.realm, si->resource))
		return HR_AUTHZ_NOTFOUND;
	hr_sub_identity(si, who, sizeof(who));
	return !strcmp(who, si->resource) ? HR_AUTHZ_ACTIVE : HR_AUTHZ_REJECT;
}

static void linked(struct hr_sub *sub, void *arg)
{
	(void)arg;
	hr_sub_set_data(sub, calloc(1, sizeof(struct msub)));
}

static void gone(struct hr_sub *sub, void *arg)
{
	(void)arg;
	free(hr_sub_data(sub));
	hr_sub_set_data(sub, NULL);
}

static int body(struct hr_sub *sub, const struct hr_sub_info *si,
	enum hr_body_kind kind, struct hr_buf *buf, void *arg)
{
	struct msub *ms = hr_sub_data(sub);
	uint64_t hash;
	int err;

	(void)kind;  /* a summary is always whole */
	err = print(arg, si->resource, buf, &hash);
	if (!err && ms)
		ms->sent_hash = hash;
	return err;
}

/* ---- lifetime ---- */

int hr_mwipkg_load(struct hr_mwipkg *m)
{
	return hr_publish_load(m->pub);
}

void hr_mwipkg_close(struct hr_mwipkg *m)
{
	hr_publish_close(m->pub);
}

static void mwipkg_destroy(void *data)
{
	struct hr_mwipkg *m = data;

	if (m->pub)
		hr_publish_close(m->pub);
	hr_mem_deref(m->pub);
	hr_mem_deref(m->cfg.realm);
}

int hr_mwipkg_alloc(struct hr_mwipkg **mp, struct hr_sip *sip,
	struct hr_store *store, struct hr_events *ev,
	const struct hr_mwipkg_cfg *cfg)
{
	struct hr_pubpkg pkg = {
		.event = "message-summary", .ctype = SMS,
		.expires_default = cfg->pub_expires_default,
		.expires_min = cfg->pub_expires_min,
		.expires_max = cfg->pub_expires_max,
		.max_body = BODY_MAX, .max_pubs = cfg->max_pubs,
		.parse = parse, .load = load, .changed = pub_changed,
	};
	struct hr_mwipkg *m;
	int err;

	if (!mp || !sip || !store || !ev || !cfg->realm)
		return EINVAL;
	m = hr_mem_zalloc(sizeof(*m), mwipkg_destroy);
	if (!m)
		return ENOMEM;
	m->cfg = *cfg;
	m->store = store;
	m->ev = ev;
	hr_mem_ref(m->cfg.realm);
	pkg.arg = m;
	err = hr_publish_alloc(&m->pub, store, cfg->realm, &pkg);
	if (!err) {
		m->pkg = (struct hr_pkg){ .name = "message-summary",
			.types = types, .ntypes = 1,
			.expires_default = cfg->sub_expires_default,
			.expires_min = cfg->sub_expires_min,
			.expires_max = cfg->sub_expires_max,
			.authorize = authorize, .body = body, .linked = linked,
			.gone = gone, .arg = m };
		err = hr_events_package(ev, &m->pkg);
	}
	if (err) {
		hr_mem_deref(m);
		return err;
	}
	hr_publish_serve(m->pub, sip);
	*mp = m;
	return 0;
}
