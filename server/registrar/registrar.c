/*
 * REGISTER, RFC 3261 10.3 step by step. Changes are computed against the
 * bindings in memory, committed to the store, and only then applied,
 * announced (RFC 3680 events) and answered with 200 (durability rule).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "reg_int.h"

#define HR_LOG_MODULE "registrar"

#define MAX_WAITING 32        /* requests queued behind one busy AOR */
#define AOR_MAX 512
#define RETRY_AFTER "Retry-After: 5\r\n"
#define WHERE_CHANGES "registrar: the contacts' changes"

/* The strings a change owns for its binding: every field of sb that is
 * made for the request has its own slot. */
enum own_slot {
	OWN_KEY, OWN_ID, OWN_URI, OWN_PARAMS, OWN_DNAME, OWN_CALLID,
	OWN_INSTANCE, OWN_PATH, OWN_UA, OWN_RECEIVED, OWN__N
};

struct change {
	bool del;
	enum hr_reg_event ev;
	struct binding *old;          /* the binding it replaces or removes */
	struct binding *made;         /* the binding it made, once applied */
	struct hr_store_binding sb;   /* the new values (put) */
	char *own[OWN__N];            /* strings sb points to, one slot each:
				       * no count to outgrow */
};

struct regctx {
	struct hr_registrar *r;
	struct aor *aor;
	struct hr_strans *st;
	unsigned n;                   /* changes made */
	unsigned cap;                 /* slots; a slot past n may own strings
				       * of a contact that changed nothing */
	struct change ch[];
};

struct waiting {
	struct hr_le le;
	struct hr_strans *st;
};

static void handle(struct hr_registrar *r, struct hr_strans *st,
	const struct hr_msg *req, bool authorized);

void hr_registrar_cfg_default(struct hr_registrar_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->expires_default = 3600;
	cfg->expires_min = 60;
	cfg->expires_max = 86400;
	cfg->max_contacts = 10;
	cfg->flow_timer = 120;
}

static void notify(struct hr_registrar *r, const struct hr_binding *b,
	enum hr_reg_event ev)
{
	HR_DEBUG("%s %s %s", b->aor, b->uri, hr_reg_event_name(ev));
	for (unsigned i = 0; i < HR_REGISTRAR_WATCHERS; i++) {
		if (r->watch[i].h)
			((hr_binding_h *)r->watch[i].h)(b, ev,
				r->watch[i].arg);
	}
}

/* ---- replies ---- */

static int contact_line(struct hr_buf *buf, const struct hr_binding *b)
{
	int64_t left = b->expires_at - hr_wall_s();
	int err = 0;

	err |= hr_buf_puts(buf, "Contact: <");
	err |= hr_buf_puts(buf, b->uri);
	err |= hr_buf_puts(buf, ">");
	err |= hr_buf_puts(buf, b->params);
	err |= hr_buf_printf(buf, ";expires=%lld", (long long)(left > 0 ?
		left : 0));
	if (b->q >= 0)
		err |= hr_buf_printf(buf, ";q=%d.%03d", b->q / 1000, b->q % 1000);
	err |= hr_buf_puts(buf, "\r\n");
	return err;
}

/* RFC 5626 6: a REGISTER with a reg-id from a UA that supports outbound,
 * with us as its first hop (one Via), is answered with Require:
 * outbound; over a connection with a Flow-Timer (4.4.1): keep-alives
 * that often keep the flow open, well within --tcp-idle-timeout. */
static int outbound(const struct hr_registrar *r, const struct hr_msg *req,
	struct hr_buf *hdrs)
{
	const struct hr_hdr *h, *via = hr_msg_hdr(req, HR_HDR_VIA);
	struct hr_addr ct;
	struct hr_pl v;
	bool regid = false;
	int err;

	if (!hr_msg_hdr_has(req, HR_HDR_SUPPORTED, "outbound") || !via ||
	    hr_msg_hdr_next(req, via))
		return 0;
	for (h = hr_msg_hdr(req, HR_HDR_CONTACT); h && !regid;
	     h = hr_msg_hdr_next(req, h))
		regid = !hr_addr_decode(&ct, &h->val) &&
			!hr_param_get(&ct.params, "reg-id", &v);
	if (!regid)
		return 0;
	err = hr_buf_puts(hdrs, "Require: outbound\r\n");
	if (req->conn && r->cfg.flow_timer)
		err |= hr_buf_printf(hdrs, "Flow-Timer: %u\r\n",
			r->cfg.flow_timer);
	return err;
}

/* RFC 3261 10.3 step 8: the 200 lists every current binding. */
static void reply_ok(struct hr_registrar *r, struct aor *a,
	struct hr_strans *st)
{
	const struct hr_msg *req = hr_strans_msg(st);
	struct hr_buf hdrs;
	char date[64];
	time_t now = (time_t)hr_wall_s();
	struct tm tm;
	int err = 0;

	/* answered meanwhile (the transaction's guard): nothing to send */
	if (!req)
		return;
	hr_buf_init(&hdrs, 256 * 1024);
	for (struct hr_le *le = a ? a->bindings.head : NULL; le; le = le->next) {
		struct binding *b = le->data;

		if (hr_binding_live(b))
			err |= contact_line(&hdrs, &b->pub);
	}
	/* RFC 3327 5.3: the Path the registrar stored goes back to the UA */
	if (hr_msg_hdr_has(req, HR_HDR_SUPPORTED, "path")) {
		for (const struct hr_hdr *h = hr_msg_hdr(req, HR_HDR_PATH); h;
		     h = hr_msg_hdr_next(req, h))
			err |= hr_buf_printf(&hdrs, "Path: %.*s\r\n",
				HR_PL_ARG(h->val));
	}
	err |= outbound(r, req, &hdrs);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n",
		&tm);
	err |= hr_buf_puts(&hdrs, date);
	err |= hr_buf_write(&hdrs, "", 1);
	if (err)
		hr_strans_fail(st, err, "registrar: printing the 200");
	else
		hr_strans_replyh(st, 200, "OK", hdrs.b);
	hr_buf_reset(&hdrs);
}

/* ---- the AOR line: one change in flight per AOR ---- */

/* The change in flight is done: answer the waiting requests in order
 * until one starts a change again (a query or a refusal is answered at
 * once, and the next one's turn comes right away). */
static void next_waiting(struct aor *a)
{
	hr_mem_ref(a);  /* handle() may release it */
	a->busy = false;
	while (!a->busy && a->waiting.head) {
		struct hr_le *le = a->waiting.head;
		struct waiting *w = le->data;

		hr_list_unlink(le);
		/* one that waited so long it was answered (the transaction's
		 * guard) has nothing left to do */
		/* it was authenticated before it queued: checking again
		 * would see its own nonce-count as a replay */
		if (hr_strans_msg(w->st))
			handle(a->r, w->st, hr_strans_msg(w->st), true);
		hr_mem_deref(w->st);
		free(w);
	}
	hr_aor_release(a);
	hr_mem_deref(a);
}

static bool wait_in_line(struct aor *a, struct hr_strans *st)
{
	struct waiting *w;

	if (a->waiting.n >= MAX_WAITING)
		return false;
	w = calloc(1, sizeof(*w));
	if (!w)
		return false;
	w->st = hr_mem_ref(st);
	hr_list_append(&a->waiting, &w->le, w);
	return true;
}

/* ---- commit and apply ---- */

static void ctx_destroy(void *data)
{
	struct regctx *ctx = data;

	for (unsigned i = 0; i < ctx->cap; i++) {
		for (unsigned k = 0; k < OWN__N; k++)
			free(ctx->ch[i].own[k]);
	}
	hr_mem_deref(ctx->st);
}

/* Make the committed changes in memory; a removed binding is unlisted
 * (a watcher reading the AOR must not find it) and kept for announce(). */
static void apply(struct regctx *ctx)
{
	for (unsigned i = 0; i < ctx->n; i++) {
		struct change *c = &ctx->ch[i];
		struct binding *b;

		if (c->del) {
			hr_binding_unlist(c->old);
			continue;
		}
		/* new first: c->sb may point into the old binding's strings */
		b = hr_binding_new(ctx->aor, &c->sb);
		if (c->old)
			hr_mem_deref(c->old);
		c->old = NULL;
		if (!b) {
			HR_ERROR("out of memory applying a committed binding");
			continue;
		}
		hr_registrar_arm(ctx->r, b);
		c->made = b;
	}
}

/* After the 200: one RFC 3680 event per change (the REGISTER does not wait
 * for what watchers are told). */
static void announce(struct regctx *ctx)
{
	for (unsigned i = 0; i < ctx->n; i++) {
		struct change *c = &ctx->ch[i];

		if (c->del) {
			notify(ctx->r, &c->old->pub, c->ev);
			c->old = hr_mem_deref(c->old);
		} else if (c->made) {
			notify(ctx->r, &c->made->pub, c->ev);
			c->made = NULL;
		}
	}
}

/* RFC 5626 5.3: a REGISTER over a connection makes it the route to its
 * contacts: requests to them (NOTIFYs of subscriptions whose own
 * connection closed) go over it, and it stays open while they live. */
static void bind_flows(struct regctx *ctx)
{
	const struct hr_msg *req = hr_strans_msg(ctx->st);

	if (!req || !req->conn)
		return;
	for (unsigned i = 0; i < ctx->n; i++) {
		const struct change *c = &ctx->ch[i];
		int64_t left = c->sb.expires_at - hr_wall_s();

		if (!c->del && left > 0 && hr_sip_flow_bind(ctx->r->sip,
			req->conn, c->sb.instance, c->sb.uri, (uint32_t)left))
			HR_WARN("out of memory keeping the flow of %s",
				c->sb.uri);
	}
}

static void committed(int err, void *arg)
{
	struct regctx *ctx = arg;
	struct aor *a = ctx->aor;

	if (err == ESTALE) {
		/* RFC 3261 10.3 step 7: another node stored a later
		 * REGISTER of this Call-ID first */
		hr_strans_replys(ctx->st, 400, "Out-Of-Order CSeq");
	} else if (err) {
		/* the 5xx's warn line says why (EIO: PostgreSQL refused it;
		 * else it was away or the queue full: 503) */
		hr_strans_fail(ctx->st, err, "registrar: storing the change");
	} else {
		apply(ctx);
		bind_flows(ctx);
		reply_ok(ctx->r, a, ctx->st);
		announce(ctx);
	}
	hr_mem_deref(ctx);
	next_waiting(a);
}

static int commit(struct regctx *ctx)
{
	struct hr_store_tx *tx;
	int err = hr_store_tx_alloc(&tx, ctx->r->store);

	for (unsigned i = 0; !err && i < ctx->n; i++) {
		struct change *c = &ctx->ch[i];

		if (c->del)
			err = hr_store_tx_binding_del(tx, ctx->aor->name,
				c->old->pub.key);
		else
			err = hr_store_tx_binding_put(tx, &c->sb);
	}
	if (err) {
		hr_store_tx_abort(tx);
		return err;
	}
	return hr_store_tx_commit(tx, committed, ctx);
}

/* ---- computing the changes (RFC 3261 10.3 steps 6 and 7) ---- */

/* c owns s (which may be NULL) in its slot: returns s. */
static char *own(struct change *c, enum own_slot slot, char *s)
{
	free(c->own[slot]);
	c->own[slot] = s;
	return s;
}

static char *pldup(const struct hr_pl *pl)
{
	char *s = malloc(pl->len + 1);

	if (s) {
		if (pl->len)
			memcpy(s, pl->p, pl->len);
		s[pl->len] = '\0';
	}
	return s;
}

/* Contact parameters other than expires and q, which the 200 prints from
 * the binding's own values. */
static char *other_params(const struct hr_pl *params)
{
	char *out = malloc(params->len + 1), *o = out;
	const char *p = params->p, *end = params->p + params->len;

	if (!out)
		return NULL;
	while (p < end) {
		const char *s = p, *e;
		bool q = false;
		size_t nlen;

		p++;  /* past ';' */
		while (p < end && (q || *p != ';')) {
			if (*p == '"')
				q = !q;
			p++;
		}
		e = p;
		nlen = strcspn(s + 1, "=; \t");
		if ((nlen == 7 && !strncasecmp(s + 1, "expires", 7)) ||
		    (nlen == 1 && (s[1] == 'q' || s[1] == 'Q')))
			continue;
		memcpy(o, s, (size_t)(e - s));
		o += e - s;
	}
	*o = '\0';
	return out;
}

/* q-value: "0.5" → 500 */
static int qvalue(const struct hr_pl *v, int *q)
{
	unsigned ip = 0, fp = 0, digits = 0;
	size_t i = 0;

	if (!v->len || (v->p[0] != '0' && v->p[0] != '1'))
		return EBADMSG;
	ip = (unsigned)(v->p[i++] - '0');
	if (i < v->len) {
		if (v->p[i++] != '.')
			return EBADMSG;
		for (; i < v->len; i++, digits++) {
			if (v->p[i] < '0' || v->p[i] > '9' || digits >= 3)
				return EBADMSG;
			fp = fp * 10 + (unsigned)(v->p[i] - '0');
		}
	}
	while (digits++ < 3)
		fp *= 10;
	if (ip * 1000 + fp > 1000)
		return EBADMSG;
	*q = (int)(ip * 1000 + fp);
	return 0;
}

struct contact {
	struct hr_addr addr;
	uint32_t expires;
	int q;
	struct hr_pl instance;
	int reg_id;
};

static const char *contact_decode(struct hr_registrar *r,
	const struct hr_msg *req, const struct hr_hdr *h, struct contact *ct)
{
	struct hr_pl v;
	uint64_t n;

	memset(ct, 0, sizeof(*ct));
	ct->q = -1;
	ct->reg_id = -1;
	if (hr_addr_decode(&ct->addr, &h->val))
		return "Bad Contact";
	if (ct->addr.star)
		return NULL;
	if (ct->addr.uri.scheme == HR_URI_OTHER)
		return "Bad Contact URI";
	/* step 7: the expires parameter, else the Expires header, else the
	 * default */
	if (!hr_param_get(&ct->addr.params, "expires", &v)) {
		if (hr_delta_decode(&v, &ct->expires))
			return "Bad Contact expires";
	} else if (req->has_expires) {
		ct->expires = req->expires;
	} else {
		ct->expires = r->cfg.expires_default;
	}
	if (!hr_param_get(&ct->addr.params, "q", &v) && qvalue(&v, &ct->q))
		return "Bad Contact q";
	hr_param_get(&ct->addr.params, "+sip.instance", &ct->instance);
	if (!hr_param_get(&ct->addr.params, "reg-id", &v)) {
		if (hr_pl_u64(&v, 0x7fffffff, &n))
			return "Bad Contact reg-id";
		ct->reg_id = (int)n;
	}
	return NULL;
}

static char *contact_key(const struct contact *ct)
{
	char *key;

	/* RFC 5626 6: with an instance, the binding is the instance and
	 * reg-id, whatever the URI */
	if (ct->instance.len) {
		if (asprintf(&key, "%.*s;reg-id=%d", HR_PL_ARG(ct->instance),
			ct->reg_id) < 0)
			return NULL;
		return key;
	}
	return pldup(&ct->addr.uri.raw);
}

static void received(const struct hr_msg *req, char *out, size_t n)
{
	char sa[HR_SA_STRLEN];

	snprintf(out, n, "%s:%s", hr_tp_param(req->tp),
		hr_sa_print(&req->src, sa, sizeof(sa)));
}

static char *joined_path(const struct hr_msg *req)
{
	struct hr_buf b;
	bool first = true;

	if (!hr_msg_hdr(req, HR_HDR_PATH))
		return NULL;
	hr_buf_init(&b, 64 * 1024);
	for (const struct hr_hdr *h = hr_msg_hdr(req, HR_HDR_PATH); h;
	     h = hr_msg_hdr_next(req, h)) {
		if (!first)
			hr_buf_puts(&b, ",");
		hr_buf_putpl(&b, &h->val);
		first = false;
	}
	if (hr_buf_write(&b, "", 1)) {
		hr_buf_reset(&b);
		return NULL;
	}
	return b.b;
}

static void slot_reset(struct change *c)
{
	for (unsigned k = 0; k < OWN__N; k++)
		free(c->own[k]);
	memset(c, 0, sizeof(*c));
}

/* RFC 3261 10.3 step 7: the same Call-ID with a CSeq not higher than
 * the binding's is out of order. */
static bool out_of_order(const struct hr_msg *req, const struct binding *b)
{
	return !hr_pl_strcmp(&req->callid, b->pub.callid) &&
		req->cseq.num <= b->pub.cseq;
}

/* The strings of c's binding made for the request: false when one could
 * not be made. */
static bool put_strings(struct change *c, const struct hr_msg *req,
	const struct contact *ct)
{
	const struct hr_hdr *uah = hr_msg_hdr(req, HR_HDR_USER_AGENT);
	char *ua = NULL, rcv[96];

	c->sb.uri = own(c, OWN_URI, pldup(&ct->addr.uri.raw));
	c->sb.params = own(c, OWN_PARAMS,
		other_params(&ct->addr.params));
	c->sb.dname = own(c, OWN_DNAME, pldup(&ct->addr.dname));
	c->sb.callid = own(c, OWN_CALLID, pldup(&req->callid));
	c->sb.instance = ct->instance.len ? own(c, OWN_INSTANCE,
		pldup(&ct->instance)) : NULL;
	c->sb.path = own(c, OWN_PATH, joined_path(req));
	if (uah)
		ua = own(c, OWN_UA, pldup(&uah->val));
	c->sb.user_agent = ua;
	received(req, rcv, sizeof(rcv));
	c->sb.received = own(c, OWN_RECEIVED, strdup(rcv));
	/* a string that is absent stays NULL; one that could not be made is
	 * out of memory, never a silently missing column */
	return !(!c->sb.uri || !c->sb.params || !c->sb.dname ||
	    !c->sb.callid || !c->sb.received ||
	    (ct->instance.len && !c->sb.instance) || (uah && !ua) ||
	    (hr_msg_hdr(req, HR_HDR_PATH) && !c->sb.path));
}

/* c puts the binding of ct under key, replacing old (or NULL): false
 * when out of memory. */
static bool put_change(struct regctx *ctx, struct change *c,
	const struct hr_msg *req, const struct contact *ct, char *key,
	struct binding *old)
{
	uint32_t exp = ct->expires;
	int64_t now = hr_wall_s();
	char id[17];

	if (exp > ctx->r->cfg.expires_max)
		exp = ctx->r->cfg.expires_max;
	c->old = old;
	c->sb.aor = ctx->aor->name;
	c->sb.key = key;
	if (old) {
		c->sb.id = old->pub.id;
		c->sb.registered_at = old->pub.registered_at;
		c->ev = now + exp < old->pub.expires_at ? HR_REG_SHORTENED :
			HR_REG_REFRESHED;
	} else {
		hr_rand_token(id, 16);
		c->sb.id = own(c, OWN_ID, strdup(id));
		c->sb.registered_at = now;
		c->ev = HR_REG_REGISTERED;
	}
	c->sb.expires_at = now + exp;
	c->sb.cseq = req->cseq.num;
	c->sb.q = ct->q;
	c->sb.reg_id = ct->reg_id;
	return c->sb.id && put_strings(c, req, ct);
}

/* The change for one contact: true, or false with v when the request
 * fails as a whole. */
static bool contact_change(struct regctx *ctx, const struct hr_msg *req,
	const struct contact *ct, struct hr_verdict *v)
{
	struct change *c = &ctx->ch[ctx->n];
	char *key = contact_key(ct);
	struct binding *old;

	if (!own(c, OWN_KEY, key))
		return hr_verdict_fail(v, ENOMEM, WHERE_CHANGES);
	old = hr_binding_find(ctx->aor, key);
	/* step 7: the same Call-ID with a CSeq not higher aborts it all */
	if (old && out_of_order(req, old))
		return hr_verdict_refuse(v, 400, "Out-Of-Order CSeq", NULL);
	if (ct->expires == 0 && !old) {
		/* removing what is not there: nothing; the slot is free
		 * again for the next contact */
		slot_reset(c);
		return true;
	}
	if (ct->expires == 0) {
		c->del = true;
		c->old = old;
		c->ev = HR_REG_UNREGISTERED;
		ctx->n++;
		return true;
	}
	if (ct->expires < ctx->r->cfg.expires_min)
		return hr_verdict_refuse(v, 423, "Interval Too Brief",
			hr_verdict_hdrs(v, "Min-Expires: %u\r\n",
			ctx->r->cfg.expires_min));
	if (!put_change(ctx, c, req, ct, key, old))
		return hr_verdict_fail(v, ENOMEM, WHERE_CHANGES);
	ctx->n++;
	return true;
}

/* Contact: * with Expires: 0 removes every binding (step 6). */
static bool star_changes(struct regctx *ctx, const struct hr_msg *req,
	struct hr_verdict *v)
{
	for (struct hr_le *le = ctx->aor->bindings.head; le; le = le->next) {
		struct binding *b = le->data;
		struct change *c = &ctx->ch[ctx->n];

		if (out_of_order(req, b))
			return hr_verdict_refuse(v, 400, "Out-Of-Order CSeq",
				NULL);
		c->del = true;
		c->old = b;
		c->ev = HR_REG_UNREGISTERED;
		ctx->n++;
	}
	return true;
}

static unsigned live_after(const struct regctx *ctx)
{
	unsigned n = 0;

	for (struct hr_le *le = ctx->aor->bindings.head; le; le = le->next)
		n += hr_binding_live(le->data);
	for (unsigned i = 0; i < ctx->n; i++) {
		if (ctx->ch[i].del)
			n -= ctx->ch[i].old && hr_binding_live(ctx->ch[i].old);
		else if (!ctx->ch[i].old || !hr_binding_live(ctx->ch[i].old))
			n++;
	}
	return n;
}

/* Steps 6 and 7 for every contact: true with the changes, else false
 * with v. */
static bool changes(struct regctx *ctx, const struct hr_msg *req,
	struct hr_verdict *v)
{
	unsigned ncontacts = hr_msg_hdr_count(req, HR_HDR_CONTACT);
	bool star = false;
	struct contact ct;
	const char *bad;

	for (const struct hr_hdr *h = hr_msg_hdr(req, HR_HDR_CONTACT); h;
	     h = hr_msg_hdr_next(req, h)) {
		bad = contact_decode(ctx->r, req, h, &ct);
		if (bad)
			return hr_verdict_refuse(v, 400, bad, NULL);
		star |= ct.addr.star;
	}
	/* step 6: "*" only alone and with Expires: 0 */
	if (star && (ncontacts > 1 || !req->has_expires || req->expires))
		return hr_verdict_refuse(v, 400, "Invalid Contact *", NULL);
	if (star)
		return star_changes(ctx, req, v);
	for (const struct hr_hdr *h = hr_msg_hdr(req, HR_HDR_CONTACT); h;
	     h = hr_msg_hdr_next(req, h)) {
		contact_decode(ctx->r, req, h, &ct);
		if (!contact_change(ctx, req, &ct, v))
			return false;
	}
	if (live_after(ctx) > ctx->r->cfg.max_contacts)
		return hr_verdict_refuse(v, 403, "Too Many Contacts", NULL);
	return true;
}

/* ---- steps 1 to 5 ---- */

/* Steps 1 and 5 (syntax): the AOR (aor) in To of a domain we serve
 * (*realm); false with v. */
static bool aor_ok(const struct hr_registrar *r, const struct hr_msg *req,
	const char **realm, char *aor, size_t n, struct hr_verdict *v)
{
	int err;

	if (r->closing)
		return hr_verdict_refuse_why(v, 503, "Service Unavailable",
			RETRY_AFTER, "registrar", "shutting down");
	/* step 1: a domain we serve; a UA configured with the server's
	 * address rather than the domain names us: the domain is To's */
	*realm = hr_realm_domain(r->cfg.realm, req);
	if (!*realm)
		return hr_verdict_refuse(v, 404, "Not Found", NULL);
	/* step 5 (syntax): To names an AOR of that domain */
	err = hr_uri_aor(&req->to.uri, *realm, aor, n);
	if (err == EBADMSG)
		return hr_verdict_refuse(v, 400,
			"Control Character in User Part", NULL);
	if (err || hr_pl_strcasecmp(&req->to.uri.host, *realm))
		return hr_verdict_refuse(v, 404, "Not Found", NULL);
	return true;
}

/* Step 5: the AOR exists; false with v. */
static bool aor_exists(const struct hr_registrar *r, const char *realm,
	const char *aor, struct hr_verdict *v)
{
	char user[256];

	snprintf(user, sizeof(user), "%.*s", (int)(strchr(aor, '@') - aor), aor);
	if (!hr_realm_user_exists(r->cfg.realm, user, realm))
		return hr_verdict_refuse(v, 404, "Not Found", NULL);
	return true;
}

static struct regctx *ctx_new(struct hr_registrar *r, struct aor *a,
	struct hr_strans *st, const struct hr_msg *req)
{
	unsigned n = hr_msg_hdr_count(req, HR_HDR_CONTACT) + a->bindings.n + 1;
	struct regctx *ctx = hr_mem_zalloc(sizeof(*ctx) +
		n * sizeof(ctx->ch[0]), ctx_destroy);

	if (!ctx)
		return NULL;
	ctx->r = r;
	ctx->aor = a;
	ctx->cap = n;
	ctx->st = hr_mem_ref(st);
	return ctx;
}

/* Queue the changes for the store; the AOR's line is taken until
 * committed(). */
static bool start(struct regctx *ctx, struct hr_verdict *v)
{
	int err;

	ctx->aor->busy = true;
	err = commit(ctx);
	if (!err)
		return true;
	ctx->aor->busy = false;
	return hr_verdict_fail(v, err, "registrar: queueing the change");
}

/* Steps 6 to 8 for a, whose line is free: answered here, or by
 * committed() once the change is stored. */
static void change(struct hr_registrar *r, struct aor *a,
	struct hr_strans *st, const struct hr_msg *req)
{
	struct regctx *ctx = ctx_new(r, a, st, req);
	struct hr_verdict v;

	if (!ctx) {
		hr_verdict_fail(&v, ENOMEM, "registrar: the request's state");
		goto answer;
	}
	if (!changes(ctx, req, &v))
		goto answer;
	/* a query (no Contact), or nothing to change */
	if (!ctx->n) {
		reply_ok(r, a, st);
		goto done;
	}
	if (start(ctx, &v))
		return;
answer:
	hr_strans_answer(st, &v);
done:
	hr_mem_deref(ctx);
	hr_aor_release(a);
}

static void handle(struct hr_registrar *r, struct hr_strans *st,
	const struct hr_msg *req, bool authorized)
{
	char aor[AOR_MAX];
	const char *realm = NULL;  /* set when aor_ok is true */
	struct hr_verdict v;
	struct aor *a;

	if (!aor_ok(r, req, &realm, aor, sizeof(aor), &v))
		goto answer;
	/* steps 3 and 4: a user may register only its own AOR */
	if (!authorized && !hr_realm_open(r->cfg.realm, st, req, realm, aor,
		NULL, 0))
		return;
	if (!aor_exists(r, realm, aor, &v))
		goto answer;
	a = hr_aor_get(r, aor);
	if (!a) {
		hr_verdict_fail(&v, ENOMEM, "registrar: the AOR's entry");
		goto answer;
	}
	if (!a->busy) {
		change(r, a, st, req);
		return;
	}
	if (wait_in_line(a, st))
		return;
	hr_verdict_refuse_why(&v, 503, "Service Unavailable", RETRY_AFTER,
		"registrar: the AOR's line",
		"too many REGISTERs waiting for this AOR");
answer:
	hr_strans_answer(st, &v);
}

static void on_register(struct hr_strans *st, const struct hr_msg *req,
	void *arg)
{
	handle(arg, st, req, false);
}

/* ---- expiry ---- */

struct expiry {
	struct hr_registrar *r;
	struct binding *b;
};

static void expire_fire(void *arg);

static void expired_committed(int err, void *arg)
{
	struct expiry *x = arg;
	struct binding *b = x->b;
	struct aor *a = b->aor;

	if (err) {
		/* try again; the binding is listed nowhere meanwhile */
		HR_WARN("expiry of %s not stored: %s", b->pub.uri,
			hr_strerror(err));
		hr_tmr_start(&b->tmr, 1000, expire_fire, b);
	} else {
		notify(x->r, &b->pub, HR_REG_EXPIRED);
		hr_mem_deref(b);
	}
	free(x);
	next_waiting(a);
}

static void expire_fire(void *arg)
{
	struct binding *b = arg;
	struct aor *a = b->aor;
	struct hr_registrar *r = a->r;
	struct hr_store_tx *tx;
	struct expiry *x;

	if (r->closing)
		return;
	/* a change of this AOR is in flight: it may refresh this binding */
	if (a->busy || hr_binding_live(b)) {
		hr_registrar_arm(r, b);
		if (!hr_tmr_isrunning(&b->tmr))
			hr_tmr_start(&b->tmr, 100, expire_fire, b);
		return;
	}
	x = calloc(1, sizeof(*x));
	if (!x || hr_store_tx_alloc(&tx, r->store)) {
		free(x);
		hr_tmr_start(&b->tmr, 1000, expire_fire, b);
		return;
	}
	x->r = r;
	x->b = b;
	if (hr_store_tx_binding_del(tx, a->name, b->pub.key)) {
		hr_store_tx_abort(tx);
		free(x);
		hr_tmr_start(&b->tmr, 1000, expire_fire, b);
		return;
	}
	if (hr_store_tx_commit(tx, expired_committed, x)) {
		free(x);
		hr_tmr_start(&b->tmr, 1000, expire_fire, b);
		return;
	}
	a->busy = true;
}

void hr_registrar_arm(struct hr_registrar *r, struct binding *b)
{
	int64_t left = b->pub.expires_at - hr_wall_s();

	(void)r;
	if (left <= 0)
		hr_tmr_start(&b->tmr, 0, expire_fire, b);
	else
		hr_tmr_start(&b->tmr, (uint64_t)left * 1000, expire_fire, b);
}

/* ---- deactivation (the admin API) ---- */

struct deact {
	struct hr_registrar *r;
	struct binding *b;
	hr_registrar_done_h *done;
	void *arg;
};

static void deact_committed(int err, void *arg)
{
	struct deact *x = arg;
	struct aor *a = x->b->aor;

	if (!err) {
		/* RFC 3680 5.2: deactivated (the UA should register again) */
		hr_binding_unlist(x->b);
		notify(x->r, &x->b->pub, HR_REG_DEACTIVATED);
		hr_mem_deref(x->b);
	}
	if (x->done)
		x->done(err, x->arg);
	free(x);
	next_waiting(a);
}

int hr_registrar_deactivate(struct hr_registrar *r, const char *aor,
	const char *id, hr_registrar_done_h *done, void *arg)
{
	struct aor *a = hr_aor_find(r, aor);
	struct binding *b = NULL;
	struct hr_store_tx *tx;
	struct deact *x;
	int err;

	if (r->closing)
		return ECANCELED;
	for (struct hr_le *le = a ? a->bindings.head : NULL; le; le = le->next) {
		struct binding *c = le->data;

		if (!strcmp(c->pub.id, id) && hr_binding_live(c))
			b = c;
	}
	if (!b)
		return ENOENT;
	if (a->busy)
		return EBUSY;
	x = calloc(1, sizeof(*x));
	if (!x)
		return ENOMEM;
	*x = (struct deact){ r, b, done, arg };
	err = hr_store_tx_alloc(&tx, r->store);
	if (!err) {
		err = hr_store_tx_binding_del(tx, a->name, b->pub.key);
		if (!err)
			err = hr_store_tx_commit(tx, deact_committed, x);
		else
			hr_store_tx_abort(tx);
	}
	if (err) {
		free(x);
		return err;
	}
	a->busy = true;
	return 0;
}

/* ---- another node's changes (a cluster) ---- */

/* The row says what b says already (this node's own change read back,
 * or a change read twice). */
static bool same(const struct binding *b, const struct hr_store_binding *sb)
{
	return b->pub.expires_at == sb->expires_at && b->pub.cseq == sb->cseq &&
		!strcmp(b->pub.callid, sb->callid) &&
		!strcmp(b->pub.uri, sb->uri);
}

int hr_registrar_sync(struct hr_registrar *r, const char *aor,
	const char *key, const struct hr_store_binding *sb)
{
	struct aor *a = hr_aor_find(r, aor);
	struct binding *old = a ? hr_binding_find(a, key) : NULL;
	enum hr_reg_event ev;
	struct binding *b;

	if (r->closing)
		return 0;
	/* a change of the AOR is being stored here: the row read may be
	 * older than it */
	if (a && a->busy)
		return EBUSY;
	if (!sb || sb->expires_at <= hr_wall_s()) {
		/* gone there (an expired row is gone to whoever removes it
		 * first: each node's timer, RFC 3680 "expired") */
		if (!old || (sb && !hr_binding_live(old)))
			return 0;
		ev = hr_binding_live(old) ? HR_REG_UNREGISTERED :
			HR_REG_EXPIRED;
		hr_binding_unlist(old);
		notify(r, &old->pub, ev);
		hr_mem_deref(old);
		hr_aor_release(a);
		return 0;
	}
	if (old && same(old, sb))
		return 0;
	ev = !old ? HR_REG_REGISTERED : sb->expires_at < old->pub.expires_at ?
		HR_REG_SHORTENED : HR_REG_REFRESHED;
	if (!a)
		a = hr_aor_get(r, aor);
	b = a ? hr_binding_new(a, sb) : NULL;
	if (!b) {
		HR_ERROR("out of memory applying another node's binding of %s",
			aor);
		if (a)
			hr_aor_release(a);
		return 0;
	}
	if (old)
		hr_mem_deref(old);
	hr_registrar_arm(r, b);
	notify(r, &b->pub, ev);
	return 0;
}

/* ---- lifetime ---- */

static void registrar_destroy(void *data)
{
	struct hr_registrar *r = data;

	for (uint32_t i = 0; r->aors.bucket && i <= r->aors.mask; i++) {
		while (r->aors.bucket[i].head) {
			struct aor *a = r->aors.bucket[i].head->data;

			while (a->bindings.head)
				hr_mem_deref(a->bindings.head->data);
			while (a->waiting.head) {
				struct waiting *w = a->waiting.head->data;

				hr_list_unlink(&w->le);
				hr_mem_deref(w->st);
				free(w);
			}
			hr_hash_unlink(&r->aors, &a->le);
			hr_mem_deref(a);  /* the table's reference */
		}
	}
	hr_hash_reset(&r->aors);
	hr_mem_deref(r->cfg.realm);
}

int hr_registrar_alloc(struct hr_registrar **rp, struct hr_sip *sip,
	struct hr_store *store, const struct hr_registrar_cfg *cfg)
{
	struct hr_registrar *r;
	int err;

	if (!cfg->realm)
		return EINVAL;
	r = hr_mem_zalloc(sizeof(*r), registrar_destroy);
	if (!r)
		return ENOMEM;
	r->cfg = *cfg;
	r->sip = sip;
	r->store = store;
	hr_mem_ref(r->cfg.realm);
	err = hr_hash_init_grow(&r->aors, 65536, hr_aor_key);
	if (err) {
		hr_mem_deref(r);
		return err;
	}
	hr_sip_handle(sip, HR_METH_REGISTER, on_register, r);
	hr_sip_supported_add(sip, "path");
	*rp = r;
	return 0;
}

void hr_registrar_close(struct hr_registrar *r)
{
	r->closing = true;
	for (uint32_t i = 0; r->aors.bucket && i <= r->aors.mask; i++) {
		for (struct hr_le *le = r->aors.bucket[i].head; le;
		     le = le->next) {
			struct aor *a = le->data;

			for (struct hr_le *bl = a->bindings.head; bl;
			     bl = bl->next)
				hr_tmr_cancel(&((struct binding *)bl->data)->tmr);
		}
	}
}

int hr_registrar_watch(struct hr_registrar *r, hr_binding_h *h, void *arg)
{
	return hr_watch_add(r->watch, HR_REGISTRAR_WATCHERS, (hr_watch_fn *)h,
		arg);
}

void hr_registrar_unwatch(struct hr_registrar *r, hr_binding_h *h, void *arg)
{
	hr_watch_del(r->watch, HR_REGISTRAR_WATCHERS, (hr_watch_fn *)h, arg);
}

/* ---- recovery ---- */

struct load {
	struct hr_registrar *r;
	struct hr_store_tx *tx;   /* deletes of bindings expired meanwhile */
	unsigned live, gone;
	int err;
};

static int load_one(const struct hr_store_binding *sb, void *arg)
{
	struct load *l = arg;
	struct aor *a;
	struct binding *b;

	if (sb->expires_at <= hr_wall_s()) {
		l->gone++;
		return hr_store_tx_binding_del(l->tx, sb->aor, sb->key);
	}
	a = hr_aor_get(l->r, sb->aor);
	b = a ? hr_binding_new(a, sb) : NULL;
	if (!b)
		return ENOMEM;
	hr_registrar_arm(l->r, b);
	l->live++;
	return 0;
}

static void load_committed(int err, void *arg)
{
	(void)arg;
	if (err)
		HR_WARN("removing expired bindings failed: %s", hr_strerror(err));
}

int hr_registrar_load(struct hr_registrar *r)
{
	struct load l = { .r = r };
	int err = hr_store_tx_alloc(&l.tx, r->store);

	if (err)
		return err;
	err = hr_store_bindings_load(r->store, load_one, &l);
	if (err || !l.gone) {
		hr_store_tx_abort(l.tx);
		if (!err)
			HR_INFO("loaded %u bindings", l.live);
		return err;
	}
	HR_INFO("loaded %u bindings (%u expired while down)", l.live, l.gone);
	return hr_store_tx_commit(l.tx, load_committed, NULL);
}
