/*
 * The redirect server: 302 with the user's live bindings ordered by q,
 * 480 while it has none, 404 for no such user or domain. Answered from
 * the registrar's memory in the request's transaction: no database
 * round trip, nothing forwarded (RFC 3261 8.3).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "redirect.h"

#define HR_LOG_MODULE "redirect"

struct hr_redirect {
	struct hr_redirect_cfg cfg;
	struct hr_sip *sip;
	struct hr_registrar *reg;
	struct hr_redirect_stats stats;
};

/* The live bindings of one AOR, borrowed from the registrar while the
 * request is answered (nothing runs in between). */
struct targets {
	const struct hr_binding **v;
	size_t n, cap;
};

static int collect(const struct hr_binding *b, void *arg)
{
	struct targets *t = arg;

	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 8;
		const struct hr_binding **v = realloc(t->v, cap * sizeof(*v));

		if (!v)
			return ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n++] = b;
	return 0;
}

/* An absent q ranks as 1.0, the most preferred (RFC 3261 20.10 leaves
 * it to the server; what RFC 3261 16.6's order gives is unchanged). */
static int qvalue(const struct hr_binding *b)
{
	return b->q < 0 ? 1000 : b->q;
}

/* Highest q first; for equal q the most recently registered first. */
static int by_preference(const void *x, const void *y)
{
	const struct hr_binding *a = *(const struct hr_binding *const *)x;
	const struct hr_binding *b = *(const struct hr_binding *const *)y;

	if (qvalue(a) != qvalue(b))
		return qvalue(b) - qvalue(a);
	if (a->registered_at != b->registered_at)
		return a->registered_at < b->registered_at ? 1 : -1;
	return strcmp(a->id, b->id);
}

/* RFC 3261 25.1 hvalue: unreserved and hnv-unreserved as they are, the
 * rest escaped. */
static int put_hvalue(struct hr_buf *buf, const char *s)
{
	static const char keep[] = "-_.!~*'()[]/?:+$";
	int err = 0;

	for (; *s && !err; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c < 0x80 && isalnum(c)) || (c && strchr(keep, c)))
			err = hr_buf_write(buf, s, 1);
		else
			err = hr_buf_printf(buf, "%%%02X", c);
	}
	return err;
}

/* The registered parameters a caller may use: callee capabilities and
 * +sip.instance (RFC 3840, RFC 5626 4.1), not reg-id and ob, which only
 * mean something between the UA and its registrar (RFC 5626 4.2, 5.2). */
static int put_params(struct hr_buf *buf, const char *p)
{
	int err = 0;

	while (*p == ';' && !err) {
		const char *s = p++;
		size_t nlen = strcspn(p, "=;");
		bool quoted = false;

		while (*p && (quoted || *p != ';')) {
			if (*p == '"')
				quoted = !quoted;
			p++;
		}
		if ((nlen == 6 && !strncasecmp(s + 1, "reg-id", 6)) ||
		    (nlen == 2 && !strncasecmp(s + 1, "ob", 2)))
			continue;
		err = hr_buf_write(buf, s, (size_t)(p - s));
	}
	return err;
}

/*
 * One Contact of the 302: the registered URI, its q (as ranked: 1.0
 * when it registered none) and the seconds it has left (RFC 3261 20.10,
 * 21.3.3). A binding registered through a
 * Path (RFC 3327) is reached only through those proxies: they go with
 * it as a Route header of the URI (RFC 3261 19.1.1), which a caller may
 * choose not to honour (19.1.5).
 */
static int contact_line(struct hr_buf *buf, const struct hr_binding *b,
	int64_t left)
{
	int err = hr_buf_printf(buf, "Contact: <%s", b->uri);

	if (*b->path) {
		err |= hr_buf_puts(buf, strchr(b->uri, '?') ? "&Route=" :
			"?Route=");
		err |= put_hvalue(buf, b->path);
	}
	err |= hr_buf_puts(buf, ">");
	err |= put_params(buf, b->params);
	err |= hr_buf_printf(buf, ";q=%d.%03d;expires=%lld\r\n",
		qvalue(b) / 1000, qvalue(b) % 1000, (long long)left);
	return err;
}

/* RFC 3261 21.3.3: 302 with every live binding; Expires is the soonest
 * any of them ends (RFC 3261 20.19). */
static void moved(struct hr_redirect *rd, struct hr_strans *st,
	struct targets *t)
{
	int64_t now = hr_wall_s(), soonest = INT64_MAX;
	struct hr_buf hdrs;
	int err = 0;

	qsort(t->v, t->n, sizeof(*t->v), by_preference);
	hr_buf_init(&hdrs, 1024 * 1024);
	for (size_t i = 0; i < t->n; i++) {
		int64_t left = t->v[i]->expires_at - now;

		err |= contact_line(&hdrs, t->v[i], left);
		if (left < soonest)
			soonest = left;
	}
	err |= hr_buf_printf(&hdrs, "Expires: %lld\r\n", (long long)soonest);
	err |= hr_buf_write(&hdrs, "", 1);
	if (err) {
		hr_strans_fail(st, ENOMEM, "redirect: printing the 302");
	} else {
		rd->stats.moved++;
		rd->stats.contacts += t->n;
		hr_strans_replyh(st, 302, "Moved Temporarily", hdrs.b);
	}
	hr_buf_reset(&hdrs);
}

static void not_found(struct hr_redirect *rd, struct hr_strans *st,
	const char *why)
{
	HR_DEBUG("404: %s", why);
	rd->stats.not_found++;
	hr_strans_replys(st, 404, "Not Found");
}

/* Where the user of aor is: 302, or 480 with none live (RFC 3261
 * 21.4.18: the callee is known but not reachable now). */
static void lookup(struct hr_redirect *rd, struct hr_strans *st,
	const char *aor)
{
	struct targets t = { 0 };
	int err = hr_registrar_bindings(rd->reg, aor, collect, &t);

	if (err) {
		hr_strans_fail(st, err, "redirect: listing the bindings");
	} else if (!t.n) {
		rd->stats.unavailable++;
		hr_strans_replys(st, 480, "Temporarily Unavailable");
	} else {
		/* still borrowed: the registrar changes nothing meanwhile */
		moved(rd, st, &t);
	}
	free(t.v);
}

static void on_request(struct hr_strans *st, const struct hr_msg *req,
	void *arg)
{
	struct hr_redirect *rd = arg;
	char aor[512], id[512];
	const char *domain;
	int err;

	/* RFC 3261 12.2.2: Herald is in no dialog a To-tag could name */
	if (req->to.tag.p) {
		hr_strans_replys(st, 481, "Call/Transaction Does Not Exist");
		return;
	}
	/* RFC 3261 11: an OPTIONS for no user asks about the server */
	if (req->meth == HR_METH_OPTIONS && !req->ruri.user.len) {
		hr_sip_options_answer(rd->sip, st);
		return;
	}
	/* Herald is no proxy: another domain's user is not found here */
	domain = hr_realm_domain(rd->cfg.realm, req);
	if (!domain) {
		not_found(rd, st, "not a served domain");
		return;
	}
	err = hr_uri_aor(&req->ruri, domain, aor, sizeof(aor));
	if (err) {
		not_found(rd, st, "the Request-URI names no user");
		return;
	}
	/* the caller proves who it is before learning who exists */
	if (!hr_realm_open(rd->cfg.realm, st, req, domain, NULL, id,
		sizeof(id)))
		return;
	if (!hr_realm_exists(rd->cfg.realm, aor))
		not_found(rd, st, "no such user");
	else
		lookup(rd, st, aor);
}

static void destroy(void *data)
{
	struct hr_redirect *rd = data;

	hr_mem_deref(rd->cfg.realm);
}

int hr_redirect_alloc(struct hr_redirect **rp, struct hr_sip *sip,
	struct hr_registrar *reg, const struct hr_redirect_cfg *cfg)
{
	struct hr_redirect *rd;

	if (cfg->methods & ~(unsigned)HR_REDIRECT_METHODS)
		return EINVAL;
	rd = hr_mem_zalloc(sizeof(*rd), destroy);
	if (!rd)
		return ENOMEM;
	rd->cfg = *cfg;
	hr_mem_ref(cfg->realm);
	rd->sip = sip;
	rd->reg = reg;
	for (int m = 0; m < HR_METH__N; m++) {
		if (cfg->methods & HR_REALM_METH(m))
			hr_sip_handle(sip, (enum hr_method)m, on_request, rd);
	}
	*rp = rd;
	return 0;
}

void hr_redirect_stats(const struct hr_redirect *rd,
	struct hr_redirect_stats *st)
{
	*st = rd->stats;
}
