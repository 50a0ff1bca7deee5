/*
 * publish: one op is the life of one publication (RFC 3903) by user uK
 * for sip:uK@DOMAIN, with a PIDF body (entity pres:uK@DOMAIN, one tuple):
 *
 *   PUBLISH, body basic open           -> 401
 *   the same with an MD5 digest (nc 1) -> 200, SIP-ETag e1
 *   refresh: SIP-If-Match e1, no body  -> 200, SIP-ETag e2   (nc 2)
 *   modify: SIP-If-Match e2, closed    -> 200, SIP-ETag e3   (nc 3)
 *   remove: SIP-If-Match e3, Expires 0 -> 200                (nc 4)
 *
 * Herald challenges every PUBLISH without credentials; the op answers the
 * first challenge and then reuses its nonce with nc 2, 3, 4 (Herald takes a
 * still valid nonce with a higher nc), so each step after the first is one
 * round trip. A 401 to a request with credentials (a stale nonce) is
 * answered once with the new challenge and counted (rechallenges).
 *
 * presence-fanout: --watchers W watchers subscribe to u1's presence before
 * the clock starts (presence-watch in scen_subscribe.c: watcher wK as user
 * u(K+1), From-tag "wK.<opid>"). Then one op is one PUBLISH by u1: the first
 * makes u1's publication, each later one modifies it (SIP-If-Match, basic
 * alternately closed and open), one in flight (--window 1). Every body's
 * tuple id is "p<seq>-<run>", so no two documents are equal and a NOTIFY
 * tells the newest PUBLISH it reflects. The engine answers the NOTIFYs;
 * this file counts them and, per watcher, times every PUBLISH from its
 * sending to the first NOTIFY to that watcher that reflects it or a newer
 * one (Herald merges the changes of --presence-notify-interval into one
 * NOTIFY, so one NOTIFY times several PUBLISHes). The teardown removes the
 * publication and ends the subscriptions (presence-unwatch).
 *
 * dialog-publish and dialog-fanout are the same for the dialog package
 * (RFC 4235): Event: dialog, application/dialog-info+xml bodies of one
 * dialog. A dialog-publish op is one call's lamp on line uK: initial
 * early, modify confirmed, modify terminated, remove. dialog-fanout's
 * PUBLISHes each carry a new dialog "d<seq>-<run>", early, confirmed and
 * terminated in turn; its watchers are dialog-watch's (scen_subscribe.c).
 * Both expect Herald to trust the generator's address (no credentials,
 * --trusted-publisher), but answer a 401 as publish does.
 *
 * The PUBLISH writer, the challenge kept and the entity-tag reader are
 * publish-race's too (scen_race.c; bench.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "auth/auth.h"
#include "bench.h"

#define BODY_MAX 512
#define NIL UINT32_MAX

static bool copy_pl(char *dst, size_t cap, uint8_t *len,
	const struct hr_pl *pl)
{
	if (pl->len > cap || pl->len > UINT8_MAX)
		return false;
	memcpy(dst, pl->p, pl->len);
	*len = (uint8_t)pl->len;
	return true;
}

bool bench_pub_auth_take(struct bench_pub_auth *a,
	const struct bench_msg *resp)
{
	struct hr_digest chal;

	if (!bench_find_md5(resp, &chal) ||
	    !copy_pl(a->nonce, sizeof(a->nonce), &a->nonce_len,
		&chal.nonce) ||
	    !copy_pl(a->realm, sizeof(a->realm), &a->realm_len,
		&chal.realm))
		return false;
	a->opaque_len = 0;
	if (hr_pl_isset(&chal.opaque) &&
	    !copy_pl(a->opaque, sizeof(a->opaque), &a->opaque_len,
		&chal.opaque))
		return false;
	a->nc = 0;
	return true;
}

void bench_pub_auth_chal(const struct bench_pub_auth *a,
	struct hr_digest *chal)
{
	memset(chal, 0, sizeof(*chal));
	chal->nonce = (struct hr_pl){ a->nonce, a->nonce_len };
	chal->realm = (struct hr_pl){ a->realm, a->realm_len };
	if (a->opaque_len)
		chal->opaque = (struct hr_pl){ a->opaque, a->opaque_len };
}

/* "<c><seq>-<run>": a tuple's or dialog's id that names its PUBLISH. */
static void put_seq_id(struct bench_out *o, const struct bench_op *op,
	const char *c, uint64_t seq)
{
	bench_out_puts(o, c);
	bench_out_putu(o, seq);
	bench_out_lit(o, "-");
	bench_out_put(o, bench_runid(op->b), BENCH_RUNID_LEN);
}

/* A PIDF document of user with one tuple, basic r->basic. */
static void put_pidf(struct bench_out *bo, const struct bench_op *op,
	const struct bench_pub_req *r, const char *user)
{
	bench_out_lit(bo, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
		"<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" "
		"entity=\"pres:");
	bench_out_puts(bo, user);
	bench_out_lit(bo, "@");
	bench_out_puts(bo, bench_cfg(op->b)->domain);
	bench_out_lit(bo, "\">\r\n<tuple id=\"");
	if (r->seq)
		put_seq_id(bo, op, "p", r->seq);
	else
		bench_out_lit(bo, "t1");
	bench_out_lit(bo, "\"><status><basic>");
	bench_out_puts(bo, r->basic);
	bench_out_lit(bo, "</basic></status></tuple>\r\n</presence>\r\n");
}

/* A dialog-info document (RFC 4235) of line sip:user@DOMAIN, the whole
 * state: one dialog, in state r->basic (a call's lamp). */
static void put_dinfo(struct bench_out *bo, const struct bench_op *op,
	const struct bench_pub_req *r, const char *user)
{
	bench_out_lit(bo, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
		"<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" "
		"version=\"");
	bench_out_putu(bo, r->cseq);
	bench_out_lit(bo, "\" state=\"full\" entity=\"sip:");
	bench_out_puts(bo, user);
	bench_out_lit(bo, "@");
	bench_out_puts(bo, bench_cfg(op->b)->domain);
	bench_out_lit(bo, "\">\r\n<dialog id=\"");
	put_seq_id(bo, op, "d", r->seq);
	bench_out_lit(bo, "\" direction=\"recipient\"><state>");
	bench_out_puts(bo, r->basic);
	bench_out_lit(bo, "</state></dialog>\r\n</dialog-info>\r\n");
}

int bench_put_publish(struct bench_out *out, struct bench_op *op,
	const struct bench_pub_req *r, struct bench_pub_auth *a)
{
	const struct bench_cfg *cfg = bench_cfg(op->b);
	char user[16], aor[300], body[BODY_MAX];
	struct bench_out bo = { body, 0, sizeof(body), false };
	struct hr_digest chal;
	int err;

	bench_name_k(user, sizeof(user), 'u', r->user);
	if (bench_sip_uri(aor, sizeof(aor), user, cfg->domain))
		return ENOSPC;

	bench_put_reqline(out, op, "PUBLISH", aor);
	bench_put_from_to(out, op, aor);
	if (r->callid)
		bench_out_printf(out, "Call-ID: %s\r\n", r->callid);
	else
		bench_put_callid(out, op);
	bench_put_cseq(out, r->cseq, "PUBLISH");
	if (r->dialog)
		bench_out_lit(out, "Event: dialog\r\nExpires: ");
	else
		bench_out_lit(out, "Event: presence\r\nExpires: ");
	bench_out_putu(out, r->expires);
	bench_out_lit(out, "\r\n");
	if (r->etag) {
		bench_out_lit(out, "SIP-If-Match: ");
		bench_out_put(out, r->etag, r->etag_len);
		bench_out_lit(out, "\r\n");
	}
	if (a && a->nonce_len) {
		bench_pub_auth_chal(a, &chal);
		/* the digest uri is exactly the Request-URI */
		err = bench_put_auth_nc(out, op, user, "PUBLISH", aor, &chal,
			++a->nc);
		if (err)
			return err;
	}
	bench_out_lit(out, "User-Agent: herald-bench\r\n");
	if (!r->basic) {
		bench_put_end(out, NULL, NULL, 0);
		return out->full ? ENOSPC : 0;
	}
	if (r->dialog)
		put_dinfo(&bo, op, r, user);
	else
		put_pidf(&bo, op, r, user);
	if (bo.full)
		return ENOSPC;
	bench_put_end(out, r->dialog ? "application/dialog-info+xml" :
		"application/pidf+xml", body, bo.len);
	return out->full ? ENOSPC : 0;
}

bool bench_pub_etag_take(char *etag, uint8_t *len,
	const struct bench_msg *resp)
{
	struct hr_pl val;

	return bench_msg_hdr(resp, "SIP-ETag", 0, &val) && val.len &&
		copy_pl(etag, BENCH_ETAG_MAX, len, &val);
}

/* ---- publish ---- */

enum pub_step {
	ST_INITIAL = 0,
	ST_REFRESH,             /* dialog-publish: modify to confirmed */
	ST_MODIFY,
	ST_REMOVE,
};

/* Each step's body (NULL: none): basic, or the dialog's state. */
static const char *const pres_body[] = { "open", NULL, "closed", NULL };
static const char *const dlg_body[] = {
	"early", "confirmed", "terminated", NULL,
};

struct pub_op {
	uint64_t seq;           /* dialog-publish: the dialog "d<seq>-<run>" */
	bool dialog;            /* dialog-publish */
	uint32_t user;
	uint32_t cseq;
	uint8_t step;
	bool retried;           /* this step was challenged already */
	uint8_t etag_len;
	char etag[BENCH_ETAG_MAX];
	struct bench_pub_auth a;
};

static struct {
	uint64_t next_user;     /* ops started */
	uint64_t ok200;         /* PUBLISHes answered 200 */
	uint64_t sent;          /* PUBLISHes sent, with the challenged */
	uint64_t challenges;    /* 401s to PUBLISHes without credentials */
	uint64_t rechallenges;  /* 401s to PUBLISHes with credentials */
	uint64_t no_etag;
	uint64_t status[7];     /* final statuses other than 200, 401: /100 */
} pub;

static enum bench_act pub_send(struct bench_op *op, struct pub_op *p,
	struct bench_out *out)
{
	struct bench_pub_req r = {
		.user = p->user,
		.cseq = ++p->cseq,
		.expires = p->step == ST_REMOVE ? 0 : 3600,
	};

	if (p->step != ST_INITIAL) {
		r.etag = p->etag;
		r.etag_len = p->etag_len;
	}
	r.basic = (p->dialog ? dlg_body : pres_body)[p->step];
	r.dialog = p->dialog;
	if (p->dialog)
		r.seq = p->seq;
	pub.sent++;
	if (bench_put_publish(out, op, &r, p->a.nonce_len ? &p->a : NULL))
		return BENCH_FAIL;
	return BENCH_SEND;
}

static enum bench_act pub_begin(struct bench_op *op, bool dialog,
	struct bench_out *out)
{
	struct pub_op *p = op->priv;

	p->dialog = dialog;
	p->user = pub.next_user % bench_cfg(op->b)->users + 1;
	p->seq = ++pub.next_user;
	return pub_send(op, p, out);
}

static enum bench_act pub_start(struct bench_op *op, struct bench_out *out)
{
	return pub_begin(op, false, out);
}

static enum bench_act dlg_pub_start(struct bench_op *op,
	struct bench_out *out)
{
	return pub_begin(op, true, out);
}

static enum bench_act pub_response(struct bench_op *op,
	const struct bench_msg *resp, struct bench_out *out)
{
	struct pub_op *p = op->priv;

	if (resp->scode == 401) {
		if (p->a.nonce_len)
			pub.rechallenges++;
		else
			pub.challenges++;
		if (p->retried || !bench_pub_auth_take(&p->a, resp))
			return BENCH_FAIL;
		p->retried = true;
		return pub_send(op, p, out);
	}
	if (resp->scode != 200) {
		pub.status[resp->scode / 100 < 7 ? resp->scode / 100 : 0]++;
		return BENCH_FAIL;
	}
	pub.ok200++;
	if (p->step == ST_REMOVE)
		return BENCH_DONE;
	if (!bench_pub_etag_take(p->etag, &p->etag_len, resp)) {
		pub.no_etag++;
		return BENCH_FAIL;
	}
	p->step++;
	p->retried = false;
	return pub_send(op, p, out);
}

static void pub_summary(const struct bench *b, const struct bench_result *r)
{
	double s = r->secs > 0 ? r->secs : 1;

	printf("scenario=%s transport=%s duration=%.1fs ops=%llu "
		"ops/s=%.0f publishes/s=%.0f requests/s=%.0f failures=%llu "
		"p50=%.3fms p99=%.3fms p99.9=%.3fms\n",
		bench_cfg(b)->scenario, r->tp, r->secs, (unsigned long long)r->ok,
		(double)r->ok / s, (double)pub.ok200 / s,
		(double)pub.sent / s, (unsigned long long)r->failed,
		(double)bench_hist_pct(r->lat, 50) / 1e6,
		(double)bench_hist_pct(r->lat, 99) / 1e6,
		(double)bench_hist_pct(r->lat, 99.9) / 1e6);
	if (bench_cfg(b)->verbose)
		bench_err("%s: sent=%llu ok200=%llu challenges=%llu "
			"rechallenges=%llu no_etag=%llu 3xx=%llu 4xx=%llu "
			"5xx=%llu 6xx=%llu", bench_cfg(b)->scenario,
			(unsigned long long)pub.sent,
			(unsigned long long)pub.ok200,
			(unsigned long long)pub.challenges,
			(unsigned long long)pub.rechallenges,
			(unsigned long long)pub.no_etag,
			(unsigned long long)pub.status[3],
			(unsigned long long)pub.status[4],
			(unsigned long long)pub.status[5],
			(unsigned long long)pub.status[6]);
}

const struct bench_scen bench_scen_publish = {
	.name = "publish",
	.help = "PUBLISH, 401, digest, 200; refresh, modify, remove",
	.op_size = sizeof(struct pub_op),
	.start = pub_start,
	.on_response = pub_response,
	.summary = pub_summary,
};

const struct bench_scen bench_scen_dlg_publish = {
	.name = "dialog-publish",
	.help = "PUBLISH dialog early; confirmed, terminated, remove",
	.op_size = sizeof(struct pub_op),
	.start = dlg_pub_start,
	.on_response = pub_response,
	.summary = pub_summary,
};

/* ---- presence-fanout ---- */

#define RING (1u << 16)         /* PUBLISHes whose sending we remember */

struct pf_op {
	uint64_t seq;
	bool retried;
};

static struct {
	bool dialog;            /* dialog-fanout: u1's line, Event: dialog */
	/* u1's publication: its etag, the challenge we answer again */
	char etag[BENCH_ETAG_MAX];
	uint8_t etag_len;
	uint32_t cseq;
	struct bench_pub_auth a;
	uint64_t next_seq;
	uint64_t seq[RING];     /* which PUBLISH the entry is about */
	uint64_t t_req[RING];   /* when it was last sent */
	uint64_t notifies;
	uint64_t terminated;
	uint64_t untimed;       /* report no PUBLISH of ours in the ring */
	uint64_t old;           /* report nothing newer than the last */
	uint64_t other;
	uint64_t rechallenges;
	uint64_t pairs;         /* (PUBLISH, watcher) delays counted */
	uint64_t *last;         /* the newest seq wK has heard of, at [K] */
	uint32_t *count;        /* NOTIFYs of wK */
	uint32_t nwatchers;
	struct bench_hist delay;        /* per (PUBLISH, watcher) */
	struct bench_hist newest;       /* from the newest PUBLISH reported */
	/* the teardown's remove */
	bool rm_started;
	uint32_t rm_slot, rm_gen;
} pf;

/* u1's PUBLISH for op: initial, modify, or (remove) Expires 0. Its
 * body: basic alternately open and closed, or one new dialog early,
 * confirmed, terminated in turn. */
static enum bench_act pf_send(struct bench_op *op, uint64_t seq, bool remove,
	struct bench_out *out)
{
	struct bench_pub_req r = {
		.user = 1,
		.cseq = ++pf.cseq,
		.expires = remove ? 0 : 3600,
		.seq = seq,
		.dialog = pf.dialog,
	};

	if (pf.etag_len) {
		r.etag = pf.etag;
		r.etag_len = pf.etag_len;
	}
	if (!remove && pf.dialog)
		r.basic = dlg_body[(seq - 1) % 3];
	else if (!remove)
		r.basic = seq & 1 ? "open" : "closed";
	if (bench_put_publish(out, op, &r, pf.a.nonce_len ? &pf.a : NULL))
		return BENCH_FAIL;
	if (seq) {
		pf.seq[seq % RING] = seq;
		pf.t_req[seq % RING] = bench_now();
	}
	return BENCH_SEND;
}

static enum bench_act pf_begin(struct bench_op *op, bool dialog,
	struct bench_out *out)
{
	struct pf_op *f = op->priv;

	pf.dialog = dialog;
	f->seq = ++pf.next_seq;
	return pf_send(op, f->seq, false, out);
}

static enum bench_act pf_start(struct bench_op *op, struct bench_out *out)
{
	return pf_begin(op, false, out);
}

static enum bench_act df_start(struct bench_op *op, struct bench_out *out)
{
	return pf_begin(op, true, out);
}

/* A response to u1's PUBLISH (seq; 0: the remove). */
static enum bench_act pf_reply(struct bench_op *op, bool *retried,
	uint64_t seq, const struct bench_msg *resp, struct bench_out *out)
{
	if (resp->scode == 401) {
		if (pf.a.nonce_len)
			pf.rechallenges++;
		if (*retried || !bench_pub_auth_take(&pf.a, resp))
			return BENCH_FAIL;
		*retried = true;
		return pf_send(op, seq, seq == 0, out);
	}
	if (resp->scode == 412)
		pf.etag_len = 0;        /* gone: the next op publishes anew */
	if (resp->scode != 200)
		return BENCH_FAIL;
	if (seq && !bench_pub_etag_take(pf.etag, &pf.etag_len, resp))
		return BENCH_FAIL;
	if (!seq)
		pf.etag_len = 0;
	return BENCH_DONE;
}

static enum bench_act pf_response(struct bench_op *op,
	const struct bench_msg *resp, struct bench_out *out)
{
	struct pf_op *f = op->priv;

	return pf_reply(op, &f->retried, f->seq, resp, out);
}

static void pf_notify(struct bench *b, const struct bench_msg *req)
{
	const struct bench_cfg *cfg = bench_cfg(b);
	uint64_t seq, s, from, now = bench_now(), t;
	bool terminated;
	uint32_t k;

	if (!(k = bench_notify_watcher(req))) {
		pf.other++;
		return;
	}
	if (!pf.last) {
		pf.nwatchers = cfg->watchers;
		pf.last = calloc((size_t)pf.nwatchers + 1, sizeof(*pf.last));
		pf.count = calloc((size_t)pf.nwatchers + 1,
			sizeof(*pf.count));
		if (!pf.last || !pf.count)
			abort();
	}
	pf.notifies++;
	if (k <= pf.nwatchers)
		pf.count[k]++;
	if (bench_notify_state(req, &terminated) && terminated)
		pf.terminated++;
	seq = bench_body_seq(b, &req->body, pf.dialog ? "id=\"d" : "id=\"p");
	if (!seq || pf.seq[seq % RING] != seq) {
		pf.untimed++;
		return;
	}
	t = pf.t_req[seq % RING];
	bench_hist_add(&pf.newest, now > t ? now - t : 0);
	if (k > pf.nwatchers)
		return;
	if (seq <= pf.last[k]) {
		pf.old++;
		return;
	}
	/* every PUBLISH this watcher hears of first in this NOTIFY */
	from = pf.last[k] + 1;
	if (seq - from >= RING)
		from = seq - RING + 1;
	for (s = from; s <= seq; s++) {
		if (pf.seq[s % RING] != s)
			continue;
		t = pf.t_req[s % RING];
		bench_hist_add(&pf.delay, now > t ? now - t : 0);
		pf.pairs++;
	}
	pf.last[k] = seq;
}

static void pf_summary(const struct bench *b, const struct bench_result *r)
{
	const struct bench_cfg *cfg = bench_cfg(b);
	double s = r->secs > 0 ? r->secs : 1;
	uint32_t k, got = 0, lo = UINT32_MAX, hi = 0, behind = 0;

	for (k = 1; pf.count && k <= pf.nwatchers; k++) {
		if (pf.count[k])
			got++;
		if (pf.count[k] < lo)
			lo = pf.count[k];
		if (pf.count[k] > hi)
			hi = pf.count[k];
		if (pf.last[k] < pf.next_seq)
			behind++;
	}
	if (lo == UINT32_MAX)
		lo = 0;
	printf("scenario=%s transport=%s duration=%.1fs "
		"watchers=%u notified=%u notifies=%llu notifies/s=%.0f "
		"publishes=%llu publishes/s=%.0f failures=%llu "
		"delay_p50=%.3fms delay_p99=%.3fms pub_p50=%.3fms "
		"pub_p99=%.3fms\n",
		cfg->scenario, r->tp, r->secs, cfg->watchers, got,
		(unsigned long long)pf.notifies, (double)pf.notifies / s,
		(unsigned long long)r->ok, (double)r->ok / s,
		(unsigned long long)r->failed,
		(double)bench_hist_pct(&pf.delay, 50) / 1e6,
		(double)bench_hist_pct(&pf.delay, 99) / 1e6,
		(double)bench_hist_pct(r->lat, 50) / 1e6,
		(double)bench_hist_pct(r->lat, 99) / 1e6);
	if (cfg->verbose)
		bench_err("%s: per watcher min=%u max=%u "
			"behind_at_end=%u pairs=%llu terminated=%llu "
			"untimed=%llu old=%llu other=%llu rechallenges=%llu "
			"newest_p50=%.3fms newest_p99=%.3fms "
			"delay_max=%.3fms", cfg->scenario,
			lo, hi, behind, (unsigned long long)pf.pairs,
			(unsigned long long)pf.terminated,
			(unsigned long long)pf.untimed,
			(unsigned long long)pf.old,
			(unsigned long long)pf.other,
			(unsigned long long)pf.rechallenges,
			(double)bench_hist_pct(&pf.newest, 50) / 1e6,
			(double)bench_hist_pct(&pf.newest, 99) / 1e6,
			(double)pf.delay.max / 1e6);
}

/*
 * The teardown: its first op removes u1's publication (Expires: 0), the
 * others are presence-unwatch (dialog-unwatch) ops (their state is the
 * set-up's size, which the engine allocated; this table has none of its
 * own).
 */
static const struct bench_scen *pf_unwatch(void)
{
	return pf.dialog ? &bench_scen_dlg_unwatch : &bench_scen_pres_unwatch;
}

static uint64_t pf_down_ops(const struct bench_cfg *cfg)
{
	return bench_unwatch_ops(cfg) + (pf.etag_len ? 1 : 0);
}

static enum bench_act pf_down_start(struct bench_op *op,
	struct bench_out *out)
{
	if (!pf.rm_started && pf.etag_len) {
		pf.rm_started = true;
		pf.rm_slot = op->slot;
		pf.rm_gen = op->gen;
		return pf_send(op, 0, true, out);
	}
	memset(op->priv, 0, pf_unwatch()->op_size);
	return pf_unwatch()->start(op, out);
}

static enum bench_act pf_down_response(struct bench_op *op,
	const struct bench_msg *resp, struct bench_out *out)
{
	static bool retried;

	if (pf.rm_started && op->slot == pf.rm_slot && op->gen == pf.rm_gen)
		return pf_reply(op, &retried, 0, resp, out);
	return pf_unwatch()->on_response(op, resp, out);
}

static const struct bench_scen pf_down = {
	.name = "presence-fanout-down",
	.help = "remove u1's publication (presence or dialog); watchers "
		"unsubscribe",
	.start = pf_down_start,
	.on_response = pf_down_response,
};

const struct bench_scen bench_scen_pres_fanout = {
	.name = "presence-fanout",
	.help = "--watchers watch u1's presence; u1 PUBLISHes: NOTIFYs/s",
	.op_size = sizeof(struct pf_op),
	.start = pf_start,
	.on_response = pf_response,
	.window = 1,
	.setup = &bench_scen_pres_watch,
	.setup_ops = bench_watch_ops,
	.teardown = &pf_down,
	.teardown_ops = pf_down_ops,
	.on_other_request = pf_notify,
	.summary = pf_summary,
};

const struct bench_scen bench_scen_dlg_fanout = {
	.name = "dialog-fanout",
	.help = "--watchers watch u1's dialogs; u1 PUBLISHes: NOTIFYs/s",
	.op_size = sizeof(struct pf_op),
	.start = df_start,
	.on_response = pf_response,
	.window = 1,
	.setup = &bench_scen_dlg_watch,
	.setup_ops = bench_watch_ops,
	.teardown = &pf_down,
	.teardown_ops = pf_down_ops,
	.on_other_request = pf_notify,
	.summary = pf_summary,
};
