/*
 * subscribe-reg: one op is a whole subscription to the reg event package
 * (RFC 6665, RFC 3680) by a watcher of its own registrations:
 *
 *   SUBSCRIBE (Event: reg, Expires 3600) -> 401
 *   SUBSCRIBE with an MD5 digest         -> 200 (To-tag, Contact)
 *                                        <- NOTIFY active, answered 200
 *   SUBSCRIBE in the dialog, Expires: 0  -> 200
 *                                        <- NOTIFY terminated, answered 200
 *
 * The 200 and its NOTIFY may come in either order; the op is done when it
 * has seen all four. Ops take users u1..uN (--users) round-robin; user uK
 * subscribes to sip:uK@DOMAIN from Contact <sip:uK@OURHOST:OURPORT>. The
 * users must exist with password --password (register-setup.sh).
 *
 * subscribe-hold: the same up to the first NOTIFY, without unsubscribing:
 * --ops N leaves N active subscriptions (the memory figure).
 *
 * fanout-watch (reg-fanout's setup, scen_fanout.c): watcher wK subscribes
 * to u1, authenticated as u1 and so From <sip:u1@DOMAIN>;tag=wK.<opid>
 * (Herald answers another From 403), with Contact <sip:wK@OURHOST:OURPORT>:
 * every watcher has its own Contact, so none replaces another; they all
 * count against u1's --max-subscriptions-per-watcher, which script/bench
 * raises. The dialog is kept for fanout-unwatch (the teardown),
 * which ends each watcher's subscription with an in-dialog Expires: 0 and
 * waits for the 200 only (the NOTIFY goes to the watcher's old Call-ID).
 *
 * presence-watch, presence-unwatch (presence-fanout's setup and teardown,
 * scen_publish.c): the same for Event: presence (Accept
 * application/pidf+xml), except that watcher wK authenticates as user
 * u(K+1), its own identity (a same-domain watcher, allowed by default),
 * with From <sip:u(K+1)@DOMAIN>;tag=wK.<opid> and Contact
 * <sip:u(K+1)@OURHOST:OURPORT>.
 *
 * dialog-watch, dialog-unwatch (dialog-fanout's, scen_publish.c): the
 * same as presence-watch for Event: dialog (Accept
 * application/dialog-info+xml) to u1's line; Herald authorizes dialog
 * watchers by the presence rules.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "auth/auth.h"
#include "bench.h"

enum sub_kind {
	SUB_CYCLE,      /* subscribe, then unsubscribe */
	SUB_HOLD,       /* subscribe and keep it */
	SUB_WATCH,      /* a reg-fanout watcher */
	SUB_UNWATCH,    /* a reg-fanout watcher ends its subscription */
	SUB_PWATCH,     /* a presence-fanout watcher */
	SUB_PUNWATCH,   /* a presence-fanout watcher ends its subscription */
	SUB_DWATCH,     /* a dialog-fanout watcher */
	SUB_DUNWATCH,   /* a dialog-fanout watcher ends its subscription */
};

enum sub_phase {
	PH_CHAL,        /* the first SUBSCRIBE: expect 401 */
	PH_AUTH,        /* with credentials: expect 200 and NOTIFY active */
	PH_UNSUB,       /* Expires: 0: expect 200 and NOTIFY terminated */
};

struct sub_op {
	uint8_t kind;
	uint8_t phase;
	bool got_ok;            /* the 2xx of the phase's SUBSCRIBE */
	bool got_notify;        /* the NOTIFY the phase expects */
	uint32_t user;          /* K of uK: the resource, authenticated */
	uint32_t watcher;       /* K of wK; 0: uK watches itself */
	struct bench_sub_dlg d;
};

static uint32_t next_user;

static bool is_dlg(const struct sub_op *s)
{
	return s->kind == SUB_DWATCH || s->kind == SUB_DUNWATCH;
}

/* A watcher as its own user u(K+1): presence-fanout's, dialog-fanout's */
static bool is_peer(const struct sub_op *s)
{
	return s->kind == SUB_PWATCH || s->kind == SUB_PUNWATCH || is_dlg(s);
}

static bool is_watch(enum sub_kind kind)
{
	return kind == SUB_WATCH || kind == SUB_PWATCH || kind == SUB_DWATCH;
}

static bool is_unwatch(enum sub_kind kind)
{
	return kind == SUB_UNWATCH || kind == SUB_PUNWATCH ||
		kind == SUB_DUNWATCH;
}

/* reg-fanout's (or presence-fanout's) watchers: [K] is wK's dialog once it is up (cseq != 0) */
static struct {
	struct bench_sub_dlg *dlg;
	uint32_t n;             /* --watchers */
	uint32_t next;          /* the last wK started */
	uint32_t up;            /* dialogs made */
	uint32_t next_down;     /* the last wK ended */
} watch;

int bench_put_subscribe(struct bench_out *out, struct bench_op *op,
	const struct bench_sub_req *r, const struct bench_sub_dlg *d,
	const struct hr_digest *chal)
{
	const struct bench_cfg *cfg = bench_cfg(op->b);
	char user[16], aor[300];
	const char *ruri = aor;

	bench_name_k(user, sizeof(user), 'u', r->resource);
	if (bench_sip_uri(aor, sizeof(aor), user, cfg->domain))
		return ENOSPC;
	/* in the dialog, the remote target (RFC 3261 12.2.1.1) */
	if (r->in_dialog && d->target_len)
		ruri = d->target;

	bench_put_reqline(out, op, "SUBSCRIBE", ruri);
	bench_out_lit(out, "From: <sip:");
	bench_out_puts(out, r->from);
	bench_out_lit(out, "@");
	bench_out_puts(out, cfg->domain);
	bench_out_lit(out, ">;tag=");
	if (r->tag_pre) {
		/* scen_fanout.c counts NOTIFYs per watcher by this tag */
		bench_out_puts(out, r->tag_pre);
		bench_out_lit(out, ".");
	}
	bench_out_put(out, d->opid, d->opid_len);
	bench_out_lit(out, "\r\nTo: <");
	bench_out_puts(out, aor);
	bench_out_lit(out, ">");
	if (r->in_dialog) {
		bench_out_lit(out, ";tag=");
		bench_out_put(out, d->totag, d->totag_len);
	}
	bench_out_lit(out, "\r\nCall-ID: ");
	bench_out_put(out, d->opid, d->opid_len);
	bench_out_lit(out, "@herald-bench\r\n");
	bench_put_cseq(out, d->cseq, "SUBSCRIBE");
	bench_put_contact(out, op, r->contact ? r->contact : r->from, true);
	if (r->dialog)
		bench_out_lit(out, "Event: dialog\r\n"
			"Accept: application/dialog-info+xml\r\nExpires: ");
	else if (r->presence)
		bench_out_lit(out, "Event: presence\r\n"
			"Accept: application/pidf+xml\r\nExpires: ");
	else
		bench_out_lit(out, "Event: reg\r\n"
			"Accept: application/reginfo+xml\r\nExpires: ");
	bench_out_putu(out, r->expires);
	bench_out_lit(out, "\r\n");
	if (chal) {
		/* the digest uri is exactly the Request-URI */
		int err = bench_put_auth_nc(out, op,
			r->auth ? r->auth : r->from, "SUBSCRIBE", ruri, chal,
			r->nc ? r->nc : 1);

		if (err)
			return err;
	}
	bench_out_lit(out, "User-Agent: herald-bench\r\n");
	bench_put_end(out, NULL, NULL, 0);
	return 0;
}

/* SUBSCRIBE for the op's phase; with chal, Authorization answers it. */
static int put_subscribe(struct bench_out *out, struct bench_op *op,
	struct sub_op *s, const struct hr_digest *chal)
{
	char user[16], watcher[16], from[16];
	struct bench_sub_req r = {
		.from = from,
		.resource = s->user,
		.presence = is_peer(s) && !is_dlg(s),
		.dialog = is_dlg(s),
		.in_dialog = s->phase == PH_UNSUB,
		.expires = s->phase == PH_UNSUB ? 0 : 3600,
	};

	bench_name_k(user, sizeof(user), 'u', s->user);
	if (s->watcher) {
		bench_name_k(watcher, sizeof(watcher), 'w', s->watcher);
		r.tag_pre = watcher;
	}
	/* From: the user the credentials are (Herald refuses another From);
	 * Contact: wK (a reg-fanout watcher), else the same as From */
	memcpy(from, user, sizeof(from));
	if (is_peer(s))
		bench_name_k(from, sizeof(from), 'u', s->watcher + 1);
	else if (s->watcher)
		r.contact = watcher;
	return bench_put_subscribe(out, op, &r, &s->d, chal);
}

void bench_sub_dlg_new(struct bench_sub_dlg *d, const struct bench_op *op)
{
	struct bench_out o = { d->opid, 0, sizeof(d->opid), false };

	bench_put_opid(&o, op);
	d->opid_len = (uint8_t)o.len;
	d->cseq = 1;
}

/* reg-fanout's watchers: the table, on first use. */
static bool watch_table(const struct bench_cfg *cfg)
{
	if (watch.dlg)
		return true;
	watch.n = cfg->watchers;
	watch.dlg = calloc((size_t)watch.n + 1, sizeof(*watch.dlg));
	return watch.dlg != NULL;
}

static enum bench_act sub_start(struct bench_op *op, struct bench_out *out,
	enum sub_kind kind)
{
	const struct bench_cfg *cfg = bench_cfg(op->b);
	struct sub_op *s = op->priv;

	bool watch_kind = is_watch(kind);
	bool unwatch_kind = is_unwatch(kind);

	s->kind = (uint8_t)kind;
	s->phase = PH_CHAL;
	if (watch_kind || unwatch_kind) {
		if (!watch_table(cfg))
			return BENCH_FAIL;
		s->user = 1;
	} else {
		s->user = next_user % cfg->users + 1;
		next_user++;
	}
	if (unwatch_kind) {
		/* the next watcher whose dialog is up */
		do
			watch.next_down++;
		while (watch.next_down <= watch.n &&
		       !watch.dlg[watch.next_down].cseq);
		if (watch.next_down > watch.n)
			return BENCH_FAIL;
		s->watcher = watch.next_down;
		s->d = watch.dlg[s->watcher];
		s->d.cseq++;
		s->phase = PH_UNSUB;
	} else {
		if (watch_kind)
			s->watcher = ++watch.next;
		bench_sub_dlg_new(&s->d, op);
	}
	if (put_subscribe(out, op, s, NULL))
		return BENCH_FAIL;
	return BENCH_SEND;
}

static enum bench_act cycle_start(struct bench_op *op, struct bench_out *out)
{
	return sub_start(op, out, SUB_CYCLE);
}

static enum bench_act hold_start(struct bench_op *op, struct bench_out *out)
{
	return sub_start(op, out, SUB_HOLD);
}

static enum bench_act watch_start(struct bench_op *op, struct bench_out *out)
{
	return sub_start(op, out, SUB_WATCH);
}

static enum bench_act unwatch_start(struct bench_op *op,
	struct bench_out *out)
{
	return sub_start(op, out, SUB_UNWATCH);
}

static enum bench_act pwatch_start(struct bench_op *op, struct bench_out *out)
{
	return sub_start(op, out, SUB_PWATCH);
}

static enum bench_act punwatch_start(struct bench_op *op,
	struct bench_out *out)
{
	return sub_start(op, out, SUB_PUNWATCH);
}

static enum bench_act dwatch_start(struct bench_op *op, struct bench_out *out)
{
	return sub_start(op, out, SUB_DWATCH);
}

static enum bench_act dunwatch_start(struct bench_op *op,
	struct bench_out *out)
{
	return sub_start(op, out, SUB_DUNWATCH);
}

uint64_t bench_watch_ops(const struct bench_cfg *cfg)
{
	return cfg->watchers;
}

uint64_t bench_unwatch_ops(const struct bench_cfg *cfg)
{
	return watch.up;
}

/* The subscription is up (200 and NOTIFY seen): done, or unsubscribe. */
static enum bench_act sub_up(struct bench_op *op, struct sub_op *s,
	struct bench_out *out)
{
	if (is_watch(s->kind) && s->watcher <= watch.n) {
		watch.dlg[s->watcher] = s->d;
		watch.up++;
	}
	if (s->kind != SUB_CYCLE)
		return BENCH_DONE;
	s->phase = PH_UNSUB;
	s->got_ok = s->got_notify = false;
	s->d.cseq++;
	if (put_subscribe(out, op, s, NULL))
		return BENCH_FAIL;
	return BENCH_SEND;
}

static void save_totag(struct bench_sub_dlg *d, const struct hr_pl *tag)
{
	if (tag->len > sizeof(d->totag))
		return;
	memcpy(d->totag, tag->p, tag->len);
	d->totag_len = (uint8_t)tag->len;
}

bool bench_sub_dlg_take(struct bench_sub_dlg *d, const struct bench_msg *resp)
{
	struct hr_pl tag;
	size_t n;

	if (!bench_msg_tag(resp, "To", 't', &tag))
		return false;
	save_totag(d, &tag);
	/* the URI in the 200's Contact: where in-dialog requests go */
	n = bench_msg_contact_uri(resp, d->target, sizeof(d->target));
	if (n)
		d->target_len = (uint8_t)n;
	return true;
}

static enum bench_act sub_response(struct bench_op *op,
	const struct bench_msg *resp, struct bench_out *out)
{
	struct sub_op *s = op->priv;
	struct hr_digest chal;
	bool ok = resp->scode >= 200 && resp->scode < 300;

	switch (s->phase) {
	case PH_CHAL:
		if (resp->scode == 401) {
			if (!bench_find_md5(resp, &chal))
				return BENCH_FAIL;
			s->phase = PH_AUTH;
			s->d.cseq = 2;
			if (put_subscribe(out, op, s, &chal))
				return BENCH_FAIL;
			return BENCH_SEND;
		}
		if (!ok)
			return BENCH_FAIL;
		/* a server that does not challenge (--auth none) */
		s->phase = PH_AUTH;
		/* fall through */
	case PH_AUTH:
		if (!ok || !bench_sub_dlg_take(&s->d, resp))
			return BENCH_FAIL;
		s->got_ok = true;
		return s->got_notify ? sub_up(op, s, out) : BENCH_WAIT;
	case PH_UNSUB:
		if (!ok)
			return BENCH_FAIL;
		s->got_ok = true;
		/* the teardown's NOTIFY goes to the watcher's first op */
		return s->got_notify || is_unwatch(s->kind) ? BENCH_DONE :
			BENCH_WAIT;
	}
	return BENCH_FAIL;
}

/* The NOTIFYs of the op's dialog (the engine has answered them 200). */
static enum bench_act sub_request(struct bench_op *op,
	const struct bench_msg *req, struct bench_out *out)
{
	struct sub_op *s = op->priv;
	struct hr_pl tag;
	bool terminated;

	if (!bench_notify_state(req, &terminated))
		return BENCH_WAIT;
	switch (s->phase) {
	case PH_CHAL:
		return BENCH_WAIT;
	case PH_AUTH:
		if (s->got_notify)
			return BENCH_WAIT;      /* retransmitted */
		if (terminated)
			return BENCH_FAIL;
		s->got_notify = true;
		/* a NOTIFY that overtook the 200 has its To-tag as From-tag */
		if (!s->d.totag_len && bench_msg_tag(req, "From", 'f', &tag))
			save_totag(&s->d, &tag);
		return s->got_ok ? sub_up(op, s, out) : BENCH_WAIT;
	case PH_UNSUB:
		if (!terminated || s->got_notify)
			return BENCH_WAIT;
		s->got_notify = true;
		return s->got_ok ? BENCH_DONE : BENCH_WAIT;
	}
	return BENCH_WAIT;
}

const struct bench_scen bench_scen_subscribe = {
	.name = "subscribe-reg",
	.help = "SUBSCRIBE reg, 401, digest, 200+NOTIFY; unsubscribe",
	.op_size = sizeof(struct sub_op),
	.start = cycle_start,
	.on_response = sub_response,
	.on_request = sub_request,
};

const struct bench_scen bench_scen_subscribe_hold = {
	.name = "subscribe-hold",
	.help = "subscribe-reg without unsubscribing (use --ops)",
	.op_size = sizeof(struct sub_op),
	.start = hold_start,
	.on_response = sub_response,
	.on_request = sub_request,
};

const struct bench_scen bench_scen_fanout_watch = {
	.name = "fanout-watch",
	.help = "watcher wK subscribes to u1",
	.op_size = sizeof(struct sub_op),
	.start = watch_start,
	.on_response = sub_response,
	.on_request = sub_request,
};

const struct bench_scen bench_scen_fanout_unwatch = {
	.name = "fanout-unwatch",
	.help = "watcher wK ends its subscription to u1",
	.op_size = sizeof(struct sub_op),
	.start = unwatch_start,
	.on_response = sub_response,
};

const struct bench_scen bench_scen_pres_watch = {
	.name = "presence-watch",
	.help = "watcher wK (as u(K+1)) subscribes to u1's presence",
	.op_size = sizeof(struct sub_op),
	.start = pwatch_start,
	.on_response = sub_response,
	.on_request = sub_request,
};

const struct bench_scen bench_scen_pres_unwatch = {
	.name = "presence-unwatch",
	.help = "watcher wK ends its subscription to u1's presence",
	.op_size = sizeof(struct sub_op),
	.start = punwatch_start,
	.on_response = sub_response,
};

const struct bench_scen bench_scen_dlg_watch = {
	.name = "dialog-watch",
	.help = "watcher wK (as u(K+1)) subscribes to u1's dialogs",
	.op_size = sizeof(struct sub_op),
	.start = dwatch_start,
	.on_response = sub_response,
	.on_request = sub_request,
};

const struct bench_scen bench_scen_dlg_unwatch = {
	.name = "dialog-unwatch",
	.help = "watcher wK ends its subscription to u1's dialogs",
	.op_size = sizeof(struct sub_op),
	.start = dunwatch_start,
	.on_response = sub_response,
};
