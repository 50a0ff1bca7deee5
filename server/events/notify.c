/*
 * NOTIFY (RFC 6665 4.2.2): one client transaction in flight per
 * subscription, changes meanwhile merged into the next NOTIFY, an
 * optional throttle, expiry, and the end of a subscription.
 *
 * CSeqs and body versions are never written per NOTIFY: ranges are
 * reserved in the store ahead of use (hr_store_tx_sub_reserve), and a
 * NOTIFY goes out only within the committed range, so that a restart
 * continues past every CSeq and version a watcher may have seen.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "events_int.h"

#define HR_LOG_MODULE "events"

#define BODY_MAX (256 * 1024)
#define RETRY_MS 1000
#define GONE_LOG_MS 10000       /* one line this often of watchers gone */

static void on_resp(int err, const struct hr_msg *resp, void *arg);

/* ---- the store ---- */

static void del_done(int err, void *arg)
{
	char *id = arg;

	if (err)
		HR_WARN("subscription %s: delete not stored: %s", id,
			hr_strerror(err));
	free(id);
}

/* Remove the row; nothing waits for it (the subscription is already
 * gone from memory, and a row left behind only expires after a
 * restart). */
void hr_sub_store_del(struct hr_sub *sub)
{
	struct hr_store_tx *tx;
	char *id;

	id = strdup(sub->info.id);
	if (!id || hr_store_tx_alloc(&tx, sub->ev->store)) {
		free(id);
		return;
	}
	if (hr_store_tx_sub_del(tx, id, sub->owner_epoch)) {
		hr_store_tx_abort(tx);
		free(id);
		return;
	}
	if (hr_store_tx_commit(tx, del_done, id))
		free(id);
}

struct reserve {
	struct hr_sub *sub;
	int64_t cseq;
	int64_t ver;
};

#define FENCED_RETRY_MS 500

static void kick_tmr(void *arg)
{
	struct hr_sub *sub = arg;

	free(sub->tmr_thr);      /* fired: no longer in the timers' heap */
	sub->tmr_thr = NULL;
	hr_sub_kick(sub);
}

/* Kick sub after ms, unless its timer already runs. */
static void thr_start(struct hr_sub *sub, uint64_t ms)
{
	if (sub->tmr_thr)
		return;
	sub->tmr_thr = calloc(1, sizeof(*sub->tmr_thr));
	if (!sub->tmr_thr) {
		HR_WARN("subscription %s: no memory for a timer: its next "
			"NOTIFY waits for a change", sub->info.id);
		return;
	}
	hr_tmr_start(sub->tmr_thr, ms, kick_tmr, sub);
}

void hr_sub_thr_cancel(struct hr_sub *sub)
{
	if (!sub->tmr_thr)
		return;
	hr_tmr_cancel(sub->tmr_thr);
	free(sub->tmr_thr);
	sub->tmr_thr = NULL;
}

static void reserved(int err, void *arg)
{
	struct reserve *r = arg;
	struct hr_sub *sub = r->sub;

	sub->reserving = false;
	if (err == ESTALE) {
		/* the row's owner epoch moved on: another node has it */
		HR_INFO("subscription %s: another node has it now: dropped "
			"here", sub->info.id);
		hr_sub_moved(sub);
	} else if (err) {
		HR_WARN("subscription %s: CSeq reservation not stored: %s",
			sub->info.id, hr_strerror(err));
		if (sub->life != HR_LIFE_GONE)
			thr_start(sub, RETRY_MS);
	} else {
		if (r->cseq > sub->cseq_res)
			sub->cseq_res = r->cseq;
		if (r->ver > sub->ver_res)
			sub->ver_res = r->ver;
		hr_sub_kick(sub);
	}
	hr_mem_deref(sub);
	free(r);
}

/* Reserve the next ranges of CSeqs and versions. */
static void reserve(struct hr_sub *sub)
{
	unsigned n = sub->ev->cfg.reserve;
	struct hr_store_tx *tx;
	struct reserve *r;
	int64_t cseq;

	if (sub->reserving || sub->life != HR_LIFE_LIVE || sub->ev->closing)
		return;
	r = calloc(1, sizeof(*r));
	if (!r)
		return;
	cseq = hr_dialog_cseq(sub->dlg);
	r->cseq = (cseq > sub->cseq_res ? cseq : sub->cseq_res) + n;
	r->ver = ((int64_t)sub->info.version > sub->ver_res ?
		(int64_t)sub->info.version : sub->ver_res) + n;
	if (hr_store_tx_alloc(&tx, sub->ev->store)) {
		free(r);
		return;
	}
	if (hr_store_tx_sub_reserve(tx, sub->info.id, sub->owner_epoch,
	    r->cseq, r->ver)) {
		hr_store_tx_abort(tx);
		free(r);
		return;
	}
	r->sub = hr_mem_ref(sub);
	if (hr_store_tx_commit(tx, reserved, r)) {
		hr_mem_deref(sub);
		free(r);
		thr_start(sub, RETRY_MS);
		return;
	}
	sub->reserving = true;
}

/* ---- where a NOTIFY goes ---- */

/* The next hop's name was looked up (the dialog's lookup held sub). */
static void resolved(int err, const char *host, void *arg)
{
	struct hr_sub *sub = arg;

	if (!err) {
		hr_sub_kick(sub);
	} else if (sub->life != HR_LIFE_GONE) {
		HR_INFO("subscription %s: %s does not resolve (%s): ended",
			sub->info.id, host, hr_strerror(err));
		hr_sub_finish(sub, true);   /* an ENDING one has no row */
	}
	hr_mem_deref(sub);
}

/* ---- sending ---- */

static int substate(struct hr_buf *b, const struct hr_sub *sub)
{
	int64_t left = sub->info.expires_at - hr_wall_s();

	if (sub->life == HR_LIFE_ENDING) {
		/* RFC 6665 4.1.3: terminated carries no expires */
		int err = hr_buf_printf(b, "terminated;reason=%s",
			hr_sub_reason_name(sub->info.reason));

		if (sub->final_retry)
			err |= hr_buf_printf(b, ";retry-after=%u",
				sub->final_retry);
		return err;
	}
	if (HR_BUF_PUTS(b, hr_sub_state_name(sub->info.state), ";expires="))
		return ENOMEM;
	return hr_buf_putu(b, (uint64_t)(left > 0 ? left : 0));
}

/* A body goes with active state, and with the final NOTIFY after an
 * unsubscribe or expiry of an active subscription (the last state);
 * never to a pending watcher, nor after a rejection. */
static bool has_body(const struct hr_sub *sub)
{
	if (sub->info.state != HR_SUB_ACTIVE || !sub->pkg->body)
		return false;
	return sub->life != HR_LIFE_ENDING ||
		sub->info.reason == HR_REASON_TIMEOUT;
}

/* What hr_req_print() makes of req, at most: its parts, and room for
 * Via, Max-Forwards, Content-Type and Content-Length. */
static size_t req_size(const struct hr_req *req)
{
	return strlen(req->method) + req->ruri.len + req->hdrs.len +
		(req->ctype ? strlen(req->ctype) + 16 + req->body.len : 0) +
		HR_ADV_MAX + 160;
}

/*
 * RFC 3261 18.1.1: a request too large for the path MUST go over a
 * congestion-controlled transport; every element implements TCP (RFC
 * 3261 18), so one that took the SUBSCRIBE by UDP is tried by TCP at
 * the same address. Too large: over --notify-udp-max, by default what
 * UDP carries at all (NOTIFYs of a few kilobytes over UDP are what
 * phones behind NAT, which take no TCP connection, live on). A final
 * NOTIFY that TCP cannot take goes without its body (send_final).
 */
static void over_udp(struct hr_sub *sub, struct hr_dest *d, size_t size)
{
	sub->over_tcp = false;
	if (d->tp != HR_TP_UDP || size <= sub->ev->cfg.udp_max)
		return;
	hr_dialog_set_tp(sub->dlg, d, HR_TP_TCP);
	sub->over_tcp = true;
	sub->big_len = (uint32_t)size;
	HR_DEBUG("subscription %s: NOTIFY of %zu bytes over TCP (over "
		"--notify-udp-max %u)", sub->info.id, size,
		sub->ev->cfg.udp_max);
}

/* The last NOTIFY: nothing waits for its answer. One too large for UDP
 * that TCP refuses at once goes again by UDP without its body. */
static int send_final(struct hr_sub *sub, struct hr_dest *d,
	struct hr_req *req)
{
	int err = hr_dialog_send(NULL, sub->ev->sip, sub->dlg, d, req, NULL,
		NULL);

	if (err && sub->over_tcp) {
		HR_WARN("subscription %s: final NOTIFY of %u bytes is over "
			"--notify-udp-max and TCP failed (%s): sent without "
			"its body", sub->info.id, sub->big_len,
			hr_strerror(err));
		sub->over_tcp = false;
		hr_dialog_set_tp(sub->dlg, d, HR_TP_UDP);
		req->ctype = NULL;
		req->body = (struct hr_pl){ NULL, 0 };
		err = hr_dialog_send(NULL, sub->ev->sip, sub->dlg, d, req,
			NULL, NULL);
	}
	return err;
}

static int send_notify(struct hr_sub *sub)
{
	struct hr_events *ev = sub->ev;
	struct hr_buf hdrs, body, ruri;
	struct hr_dest d;
	struct hr_req req = { .method = "NOTIFY" };
	bool with_body = has_body(sub);
	int err;

	sub->over_tcp = false;
	hr_buf_init(&hdrs, 64 * 1024);
	hr_buf_init(&body, BODY_MAX);
	hr_buf_init(&ruri, 4096);
	err = hr_dialog_prepare(ev->sip, sub->dlg, req.method,
		ev->cfg.notify_to_source, &d, &ruri, &hdrs, resolved, sub);
	if (err == EINPROGRESS)
		hr_mem_ref(sub);  /* the lookup's, until resolved() */
	if (err)
		goto out;
	err |= HR_BUF_PUTS(&hdrs, "Event: ", sub->info.package);
	if (*sub->info.event_id)
		err |= HR_BUF_PUTS(&hdrs, ";id=", sub->info.event_id);
	err |= hr_buf_puts(&hdrs, "\r\nSubscription-State: ");
	err |= substate(&hdrs, sub);
	err |= hr_buf_puts(&hdrs, "\r\n");
	if (err)
		goto out;
	if (with_body) {
		struct hr_sub_info si = sub->info;

		if (sub->pkg->body(sub, &si, sub->full ? HR_BODY_FULL :
			HR_BODY_PARTIAL, &body, sub->pkg->arg)) {
			hr_buf_reset(&body);
			with_body = false;
		}
	}
	req.ruri = (struct hr_pl){ ruri.b, ruri.len };
	req.hdrs = (struct hr_pl){ hdrs.b, hdrs.len };
	if (with_body) {
		req.ctype = sub->info.accept;
		req.body = (struct hr_pl){ body.b, body.len };
	}
	over_udp(sub, &d, req_size(&req));
	if (sub->life == HR_LIFE_ENDING) {
		/* nothing to wait for: the subscription ends now */
		err = send_final(sub, &d, &req);
		with_body = with_body && req.ctype;
	} else {
		err = hr_dialog_send(&sub->ct, ev->sip, sub->dlg, &d, &req,
			on_resp, sub);
		if (!err)
			hr_mem_ref(sub);  /* the transaction's, until on_resp() */
	}
	if (err)
		goto out;
	ev->stats.notifies++;
	if (with_body)
		sub->info.version++;
	sub->info.notifies++;
	sub->dirty = false;
	sub->full = false;
	sub->last_ms = hr_now_ms();
	HR_DEBUG("NOTIFY %s CSeq %lld %s", sub->info.id,
		(long long)hr_dialog_cseq(sub->dlg),
		sub->life == HR_LIFE_ENDING ? "final" :
		hr_sub_state_name(sub->info.state));
out:
	hr_buf_reset(&hdrs);
	hr_buf_reset(&body);
	hr_buf_reset(&ruri);
	return err;
}

/* A watcher that is gone (refused, reset, unreachable, silent) fails
 * every NOTIFY sent to it, and many subscriptions may have the same
 * watcher: such failures are said once an interval with a count. */
static bool gone(int err)
{
	return err == ECONNREFUSED || err == ECONNRESET || err == ETIMEDOUT ||
		err == EHOSTUNREACH || err == ENETUNREACH || err == ENOTCONN ||
		err == EPIPE;
}

static void log_failed(const struct hr_sub *sub, int err)
{
	if (gone(err))
		HR_INFO_EVERY(GONE_LOG_MS, "subscription %s: NOTIFY failed "
			"(%s): ended", sub->info.id, hr_strerror(err));
	else
		HR_INFO("subscription %s: NOTIFY failed (%s): ended",
			sub->info.id, hr_strerror(err));
}

/*
 * A NOTIFY too large for UDP that TCP did not deliver either (no
 * connection, Timer F, 513): the watcher cannot have this state now.
 * RFC 6665 4.2.2: probation, "retry at some later time": the document
 * may shrink (publications expire or change), a retry at once would
 * only meet it again (deactivated), and nothing about authorization or
 * the resource changed (rejected, giveup, noresource). The final NOTIFY
 * has no body: it fits.
 */
static void too_large(struct hr_sub *sub, int err, unsigned scode)
{
	char why[64];

	if (err)
		snprintf(why, sizeof(why), "%s", hr_strerror(err));
	else
		snprintf(why, sizeof(why), "answered %u", scode);
	sub->ev->stats.failed++;
	HR_WARN("subscription %s: NOTIFY of %u bytes is over --notify-udp-max "
		"(%u) and TCP to the watcher failed (%s): ended with "
		"probation;retry-after=%u", sub->info.id, sub->big_len,
		sub->ev->cfg.udp_max, why, HR_EVENTS_PROBATION_S);
	sub->over_tcp = false;
	hr_sub_end(sub, HR_REASON_PROBATION, HR_EVENTS_PROBATION_S, true);
}

void hr_sub_kick(struct hr_sub *sub)
{
	struct hr_events *ev = sub->ev;
	unsigned half = ev->cfg.reserve / 2;
	int64_t cseq = hr_dialog_cseq(sub->dlg);
	int err;

	if (!sub->dirty || sub->ct || hr_dialog_resolving(sub->dlg) ||
	    sub->life == HR_LIFE_GONE || ev->closing)
		return;
	/* a node of a cluster past its lease: another may own this now */
	if (hr_store_fenced(ev->store)) {
		thr_start(sub, FENCED_RETRY_MS);
		return;
	}
	if (sub->life != HR_LIFE_ENDING) {
		uint64_t now = hr_now_ms();

		if (ev->cfg.throttle_ms && sub->last_ms &&
		    now - sub->last_ms < ev->cfg.throttle_ms) {
			thr_start(sub, ev->cfg.throttle_ms -
				(now - sub->last_ms));
			return;
		}
		/* only within the committed range; top it up early */
		if (cseq + 1 > sub->cseq_res ||
		    (int64_t)sub->info.version > sub->ver_res) {
			reserve(sub);
			return;
		}
		if (cseq + 1 + half > sub->cseq_res ||
		    (int64_t)sub->info.version + half > sub->ver_res)
			reserve(sub);
	}
	/* the final NOTIFY may go past the range: its row is gone, no later
	 * CSeq of this dialog can follow */
	hr_sub_thr_cancel(sub);
	err = send_notify(sub);
	if (err == EINPROGRESS)
		return;  /* a lookup first */
	if (sub->life == HR_LIFE_ENDING) {
		if (err)
			HR_INFO("subscription %s: final NOTIFY not sent: %s",
				sub->info.id, hr_strerror(err));
		hr_sub_finish(sub, false);
	} else if (err && sub->over_tcp) {
		too_large(sub, err, 0);
	} else if (err) {
		/* RFC 6665 4.2.2: a NOTIFY that cannot be delivered ends
		 * the subscription */
		log_failed(sub, err);
		hr_sub_finish(sub, true);
	}
}

/* RFC 6665 4.2.2: 481, Timer F or any failure ends the subscription;
 * nothing is retried. err may be the transport's, come after the send
 * returned (a UDP datagram queued for the end of the loop's turn that
 * did not leave, sip/udp.c): ended and logged as one hr_sub_kick() met
 * at once. */
static void on_resp(int err, const struct hr_msg *resp, void *arg)
{
	struct hr_sub *sub = arg;

	if (!err && resp->scode < 200)
		return;
	sub->ct = hr_mem_deref(sub->ct);
	if (sub->over_tcp && (err || resp->scode == 513)) {
		/* the watcher takes no TCP, or not this much */
		too_large(sub, err, err ? 0 : resp->scode);
	} else if (err || resp->scode >= 300) {
		sub->ev->stats.failed++;
		if (err)
			log_failed(sub, err);
		else
			HR_INFO("subscription %s: NOTIFY answered %u: ended",
				sub->info.id, resp->scode);
		hr_sub_finish(sub, true);
	} else {
		hr_sub_kick(sub);
	}
	hr_mem_deref(sub);
}

/* ---- the end of a subscription ---- */

/* Stop waiting for a NOTIFY's answer or a lookup: their references go. */
static void release(struct hr_sub *sub)
{
	if (sub->ct) {
		hr_ctrans_abandon(sub->ct);
		sub->ct = hr_mem_deref(sub->ct);
		hr_mem_deref(sub);
	}
	if (hr_dialog_resolving(sub->dlg)) {
		hr_dialog_cancel(sub->dlg);
		hr_mem_deref(sub);
	}
}

void hr_sub_finish(struct hr_sub *sub, bool del)
{
	bool stored = sub->life == HR_LIFE_LIVE;

	if (sub->life == HR_LIFE_GONE)
		return;
	hr_mem_ref(sub);
	/* ended without its final NOTIFY (failed, replaced) */
	if (stored)
		hr_sub_tell(sub, HR_SUB_ENDED);
	hr_sub_life_set(sub, HR_LIFE_GONE);
	release(sub);
	hr_tmr_cancel(&sub->tmr_exp);
	hr_sub_thr_cancel(sub);
	if (del && stored)
		hr_sub_store_del(sub);
	if (sub->pkg->gone)
		sub->pkg->gone(sub, sub->pkg->arg);
	sub->data = NULL;
	if (sub->res) {
		hr_sub_unlink(sub);
		hr_mem_deref(sub);  /* the tables' reference */
	}
	hr_mem_deref(sub);
}

void hr_sub_moved(struct hr_sub *sub)
{
	if (sub->life == HR_LIFE_GONE)
		return;
	sub->info.moved = true;
	hr_ctrans_silence(sub->ct);
	hr_sub_finish(sub, false);
}

void hr_sub_end(struct hr_sub *sub, enum hr_sub_reason reason,
	uint32_t retry_after, bool del)
{
	bool live = sub->life == HR_LIFE_LIVE;

	if (hr_sub_over(sub))
		return;
	hr_tmr_cancel(&sub->tmr_exp);
	if (del && live)
		hr_sub_store_del(sub);
	hr_sub_life_set(sub, HR_LIFE_ENDING);
	sub->info.reason = reason;
	if (live)
		hr_sub_tell(sub, HR_SUB_ENDED);
	sub->final_retry = retry_after;
	sub->dirty = true;
	sub->full = true;
	hr_mem_ref(sub);
	hr_sub_kick(sub);
	/* closing: no NOTIFY can go; the subscription stays stored */
	if (sub->ev->closing)
		hr_sub_finish(sub, false);
	hr_mem_deref(sub);
}

static void expire_fire(void *arg)
{
	struct hr_sub *sub = arg;

	HR_DEBUG("subscription %s expired", sub->info.id);
	hr_sub_end(sub, HR_REASON_TIMEOUT, 0, true);
}

/* Expire in ms; from the stored whole seconds when ms is negative (at
 * recovery). A subscription just granted N seconds gets N * 1000 ms: the
 * wall clock's seconds would cut up to one off. */
void hr_sub_arm(struct hr_sub *sub, int64_t ms)
{
	if (ms < 0)
		ms = (sub->info.expires_at - hr_wall_s()) * 1000;
	hr_tmr_start(&sub->tmr_exp, ms > 0 ? (uint64_t)ms : 0, expire_fire,
		sub);
}

/* ---- what packages call ---- */

void hr_sub_changed(struct hr_sub *sub)
{
	if (hr_sub_over(sub))
		return;
	sub->dirty = true;
	hr_sub_kick(sub);
}

void hr_sub_changed_full(struct hr_sub *sub)
{
	if (hr_sub_over(sub))
		return;
	sub->full = true;
	hr_sub_changed(sub);
}

void hr_sub_terminate(struct hr_sub *sub, enum hr_sub_reason reason,
	uint32_t retry_after)
{
	hr_sub_end(sub, reason, retry_after, true);
}

/* Shutting down: NOTIFYs and lookups in flight are abandoned (their
 * subscriptions stay stored and go on after the restart). Every one of
 * them is linked: a finished subscription waits for nothing. */
void hr_notify_close_all(struct hr_events *ev)
{
	for (uint32_t i = 0; ev->byid.bucket && i <= ev->byid.mask; i++) {
		for (struct hr_le *le = ev->byid.bucket[i].head; le;
		     le = le->next)
			release(le->data);
	}
}
