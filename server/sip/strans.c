/*
 * Server transactions. Non-INVITE (RFC 3261 17.2.2): Trying → Proceeding
 * → Completed → Terminated. INVITE (17.2.1): Proceeding → Completed on a
 * 3xx-6xx, which Timer G sends again over UDP until the ACK comes (Timer
 * H gives up) → Confirmed, absorbing ACKs for Timer I → Terminated; a
 * 2xx terminates it at once. Retransmitted requests are absorbed and the
 * last response is sent again. The table holds one reference until the
 * transaction terminates.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "sip_int.h"

#define HR_LOG_MODULE "strans"

#define RESP_MAX (1024 * 1024)

struct hr_strans {
	struct hr_le le;
	struct hr_sip *sip;
	struct hr_msg *req;     /* until the final response: then only the
				 * match key is needed for 32 s (Timer J) */
	char *mkey;             /* RFC 3261 17.2.3 match key, method aside */
	size_t mkey_len;
	enum hr_method meth;
	uint32_t hash;
	enum hr_strans_state state;
	struct hr_tmr tmr;      /* a guard before the final response; then
				 * Timer J, or for INVITE Timer H and I */
	struct hr_tmr tmr_g;    /* INVITE over UDP: Timer G */
	uint32_t g_ms;          /* its next interval */
	char *resp;             /* the last response sent */
	size_t resp_len;
	bool mkey_pooled;       /* in the stack's pool (kept()), or malloc'd */
	bool resp_pooled;
	struct hr_dest dst;     /* dst.conn is referenced */
};

/* A copy of b (malloc'd, len bytes) in the stack's pool, b freed; or b
 * itself when the pool cannot take it. *pooled says which. A burst's
 * transactions thus give their memory back as they expire, instead of
 * leaving holes in malloc's heap among what outlives them (fpool.c). */
static char *kept(struct hr_sip *sip, char *b, size_t len, bool *pooled)
{
	char *p = hr_fpool_get(hr_sip_trans_pool(sip), len);

	*pooled = p != NULL;
	if (!p)
		return b;
	memcpy(p, b, len);
	free(b);
	return p;
}

static void kept_free(char *p, bool pooled)
{
	if (pooled)
		hr_fpool_put(p);
	else
		free(p);
}

static void terminate(struct hr_strans *st)
{
	if (st->state == HR_STRANS_TERMINATED)
		return;
	st->state = HR_STRANS_TERMINATED;
	hr_tmr_cancel(&st->tmr);
	hr_tmr_cancel(&st->tmr_g);
	hr_hash_unlink(hr_sip_strans_tab(st->sip), &st->le);
	hr_mem_deref(st);  /* the table's reference */
}

static void destroy(void *data)
{
	struct hr_strans *st = data;

	hr_tmr_cancel(&st->tmr);
	hr_tmr_cancel(&st->tmr_g);
	hr_hash_unlink(hr_sip_strans_tab(st->sip), &st->le);
	kept_free(st->resp, st->resp_pooled);
	kept_free(st->mkey, st->mkey_pooled);
	hr_mem_deref(st->dst.conn);
	hr_mem_deref(st->req);
}

/* RFC 3261 17.2.3: with a magic-cookie branch, branch + sent-by + method;
 * otherwise (RFC 2543 peers) the Call-ID keys the bucket and the full
 * comparison of 17.2.3's list decides. */
static uint32_t key(const struct hr_msg *req)
{
	if (hr_via_rfc3261(&req->via))
		return hr_hash_bytes(req->via.branch.p, req->via.branch.len);
	return hr_hash_bytes(req->callid.p, req->callid.len);
}

/*
 * The RFC 3261 17.2.3 match key without the method, fields joined by LF
 * (no field can hold one): with a magic-cookie branch, the branch, the
 * sent-by, the Call-ID and the CSeq number; otherwise (RFC 2543 peers)
 * Request-URI, tags, Call-ID, CSeq number and the top Via. 0 and the key
 * in buf, or ENOMEM.
 *
 * 17.2.3 matches on branch and sent-by alone, trusting clients to make
 * branches unique; some do not (RFC 4475 cparam01/cparam02 and
 * escnull/regescrt share one). A request whose Call-ID or CSeq differs
 * cannot be a retransmission (RFC 3261 17.1.1.3: those are identical),
 * so it is a new request, not one to answer with another's response. A
 * CANCEL keeps both of the request it names (RFC 3261 9.1), and so does
 * the ACK of a 3xx-6xx (17.1.1.3); that ACK's To-tag is the response's,
 * which the INVITE did not have, so it is left out of an ACK's key.
 */
static int match_key(const struct hr_msg *req, struct hr_buf *buf)
{
	const struct hr_via *v = &req->via;
	int err = 0;

	if (hr_via_rfc3261(v)) {
		err |= hr_buf_puts(buf, "1\n");
		err |= hr_buf_putpl(buf, &v->branch);
		err |= hr_buf_puts(buf, "\n");
		for (size_t i = 0; i < v->host.len && !err; i++) {
			char c = (char)hr_lower[(unsigned char)v->host.p[i]];

			err |= hr_buf_write(buf, &c, 1);
		}
		err |= hr_buf_puts(buf, "\n");
		err |= hr_buf_putu(buf, v->port);
		err |= hr_buf_puts(buf, "\n");
		err |= hr_buf_putpl(buf, &req->callid);
		err |= hr_buf_puts(buf, "\n");
		err |= hr_buf_putu(buf, req->cseq.num);
		return err ? ENOMEM : 0;
	}
	err |= hr_buf_puts(buf, "2\n");
	err |= hr_buf_putpl(buf, &req->ruri_pl);
	err |= hr_buf_puts(buf, "\n");
	if (req->meth != HR_METH_ACK)
		err |= hr_buf_putpl(buf, &req->to.tag);
	err |= hr_buf_puts(buf, "\n");
	err |= hr_buf_putpl(buf, &req->from.tag);
	err |= hr_buf_puts(buf, "\n");
	err |= hr_buf_putpl(buf, &req->callid);
	err |= hr_buf_puts(buf, "\n");
	err |= hr_buf_putu(buf, req->cseq.num);
	err |= hr_buf_puts(buf, "\n");
	err |= hr_buf_putpl(buf, &v->raw);
	return err ? ENOMEM : 0;
}

static bool same_method(const struct hr_strans *st, const struct hr_msg *req,
	bool cancel)
{
	/* RFC 3261 9.2: a CANCEL names the request it cancels */
	if (cancel)
		return st->meth != HR_METH_CANCEL && st->meth != HR_METH_ACK;
	/* 17.2.3: an ACK matches the INVITE it acknowledges */
	if (req->meth == HR_METH_ACK)
		return st->meth == HR_METH_INVITE;
	return st->meth == req->meth;
}

struct hr_strans *hr_strans_find(struct hr_sip *sip, const struct hr_msg *req,
	bool cancel)
{
	struct hr_le *first = hr_hash_first(hr_sip_strans_tab(sip), key(req));
	struct hr_strans *found = NULL;
	struct hr_buf k;

	if (!first)
		return NULL;
	hr_buf_init(&k, 1 << 20);
	if (match_key(req, &k))
		goto out;
	for (struct hr_le *le = first; le; le = le->next) {
		struct hr_strans *st = le->data;

		if (same_method(st, req, cancel) && st->mkey_len == k.len &&
		    !memcmp(st->mkey, k.b, k.len)) {
			found = st;
			break;
		}
	}
out:
	hr_buf_reset(&k);
	return found;
}

/* No final response in time: whatever holds the transaction is stuck;
 * answer so the client is not left to time out without a word. */
static void guard(void *arg)
{
	struct hr_strans *st = arg;

	hr_strans_fail_as(st, 500, "Server Internal Error", NULL,
		"sip: transaction guard", "no final response in 64*T1");
}

/* Timer J (non-INVITE) or I (INVITE): no more retransmissions to absorb */
static void timer_end(void *arg)
{
	terminate(arg);
}

/* RFC 3261 17.2.1: the 3xx-6xx again, at T1, 2*T1, ... at most T2 */
static void timer_g(void *arg)
{
	struct hr_strans *st = arg;

	hr_sip_counters(st->sip)->resp_retransmits++;
	(void)hr_sip_send(st->sip, &st->dst, st->resp, st->resp_len);
	st->g_ms = st->g_ms * 2 < HR_SIP_T2 ? st->g_ms * 2 : HR_SIP_T2;
	hr_tmr_start(&st->tmr_g, st->g_ms, timer_g, st);
}

/* RFC 3261 17.2.1: no ACK in 64*T1; the transaction ends (the caller
 * is gone, or its ACKs do not reach us) */
static void timer_h(void *arg)
{
	struct hr_strans *st = arg;

	hr_sip_counters(st->sip)->acks_missing++;
	HR_DEBUG("INVITE answered %.3s: no ACK within 64*T1", st->resp + 8);
	terminate(st);
}

/* RFC 3261 17.2.1: a 2xx ends the INVITE transaction (its core sends the
 * 2xx again); a 3xx-6xx waits for the ACK for Timer H, and over UDP is
 * sent again by Timer G. */
static void invite_completed(struct hr_strans *st, uint16_t scode)
{
	if (scode < 300) {
		terminate(st);
		return;
	}
	hr_tmr_start(&st->tmr, 64 * HR_SIP_T1, timer_h, st);
	if (hr_tp_reliable(st->dst.tp))
		return;
	st->g_ms = HR_SIP_T1;
	hr_tmr_start(&st->tmr_g, st->g_ms, timer_g, st);
}

void hr_strans_ack(struct hr_strans *st)
{
	/* in Confirmed, ACKs are absorbed */
	if (st->meth != HR_METH_INVITE || st->state != HR_STRANS_COMPLETED)
		return;
	st->state = HR_STRANS_CONFIRMED;
	hr_tmr_cancel(&st->tmr_g);
	/* nothing is sent again from here: only the match key is kept */
	kept_free(st->resp, st->resp_pooled);
	st->resp = NULL;
	st->resp_len = 0;
	/* Timer I: T4 on UDP for the ACK's retransmissions, 0 on streams */
	if (hr_tp_reliable(st->dst.tp))
		terminate(st);
	else
		hr_tmr_start(&st->tmr, HR_SIP_T4, timer_end, st);
}

bool hr_strans_cancelable(const struct hr_strans *st)
{
	return st->meth == HR_METH_INVITE && st->state < HR_STRANS_COMPLETED;
}

int hr_strans_alloc(struct hr_strans **stp, struct hr_sip *sip,
	struct hr_msg *req)
{
	struct hr_strans *st = hr_mem_zalloc_in(hr_sip_trans_pool(sip),
		sizeof(*st), destroy);
	struct hr_buf k;

	if (!st)
		return ENOMEM;
	hr_buf_init(&k, 1 << 20);
	if (match_key(req, &k)) {
		hr_buf_reset(&k);
		hr_mem_deref(st);
		return ENOMEM;
	}
	st->mkey = kept(sip, k.b, k.len, &st->mkey_pooled);
	st->mkey_len = k.len;
	st->meth = req->meth;
	st->sip = sip;
	st->req = hr_mem_ref(req);
	st->hash = key(req);
	st->state = HR_STRANS_TRYING;
	hr_sip_resp_dest(req, &st->dst);
	hr_mem_ref(st->dst.conn);
	hr_hash_append(hr_sip_strans_tab(sip), st->hash, &st->le, st);
	hr_tmr_start(&st->tmr, 64 * HR_SIP_T1, guard, st);
	*stp = st;
	return 0;
}

const struct hr_msg *hr_strans_msg(const struct hr_strans *st)
{
	return st->req;
}

enum hr_strans_state hr_strans_state(const struct hr_strans *st)
{
	return st->state;
}

static int send_last(struct hr_strans *st)
{
	return hr_sip_send(st->sip, &st->dst, st->resp, st->resp_len);
}

/* Send resp; a final one completes the transaction, which then absorbs
 * retransmissions for Timer J unless keep is false. */
static int reply(struct hr_strans *st, const struct hr_resp *resp, bool keep)
{
	const struct hr_sip_cfg *cfg = hr_sip_cfg(st->sip);
	struct hr_buf buf;
	int err;

	if (st->state >= HR_STRANS_COMPLETED)
		return EALREADY;
	hr_buf_init(&buf, RESP_MAX);
	err = hr_resp_print(&buf, st->req, resp, cfg->server);
	if (err) {
		hr_buf_reset(&buf);
		return err;
	}
	hr_sip_count_resp(st->sip, st->req, resp);
	kept_free(st->resp, st->resp_pooled);
	st->resp = kept(st->sip, buf.b, buf.len, &st->resp_pooled);
	st->resp_len = buf.len;
	err = send_last(st);
	if (resp->scode < 200) {
		st->state = HR_STRANS_PROCEEDING;
		return err;
	}
	st->state = HR_STRANS_COMPLETED;
	/* the request is not needed to absorb retransmissions: drop it */
	st->req = hr_mem_deref(st->req);
	if (keep && st->meth == HR_METH_INVITE)
		invite_completed(st, resp->scode);
	/* Timer J: 64*T1 on UDP to absorb retransmissions, 0 on streams */
	else if (!keep || hr_tp_reliable(st->dst.tp))
		terminate(st);
	else
		hr_tmr_start(&st->tmr, 64 * HR_SIP_T1, timer_end, st);
	return err;
}

int hr_strans_reply(struct hr_strans *st, const struct hr_resp *resp)
{
	return reply(st, resp, true);
}

int hr_strans_reply_stateless(struct hr_strans *st,
	const struct hr_resp *resp)
{
	if (resp->scode < 200)
		return EINVAL;
	return reply(st, resp, false);
}

int hr_strans_replys(struct hr_strans *st, uint16_t scode, const char *reason)
{
	return hr_strans_replyh(st, scode, reason, NULL);
}

int hr_strans_replyh(struct hr_strans *st, uint16_t scode, const char *reason,
	const char *hdrs)
{
	struct hr_resp resp = { .scode = scode, .reason = reason,
		.hdrs = hr_pl_str(hdrs ? hdrs : "") };

	return hr_strans_reply(st, &resp);
}

int hr_strans_answer(struct hr_strans *st, const struct hr_verdict *v)
{
	struct hr_resp resp;

	hr_verdict_resp(v, &resp);
	return hr_strans_reply(st, &resp);
}

int hr_strans_fail(struct hr_strans *st, int err, const char *where)
{
	struct hr_verdict v;

	hr_verdict_fail(&v, err, where);
	return hr_strans_answer(st, &v);
}

int hr_strans_fail_as(struct hr_strans *st, uint16_t scode,
	const char *reason, const char *hdrs, const char *where,
	const char *why)
{
	struct hr_verdict v;

	hr_verdict_refuse_why(&v, scode, reason, hdrs, where, why);
	return hr_strans_answer(st, &v);
}

void hr_strans_retransmit(struct hr_strans *st)
{
	/* RFC 3261 17.2.2: in Trying a retransmission is just discarded;
	 * 17.2.1: in Confirmed, the ACK has come */
	if (st->resp && (st->state == HR_STRANS_PROCEEDING ||
		st->state == HR_STRANS_COMPLETED))
		send_last(st);
}

uint32_t hr_strans_key(const void *st)
{
	return ((const struct hr_strans *)st)->hash;
}

static void close_table(struct hr_hash *h, void (*term)(void *))
{
	/* a transaction ended may start another, and the table grow under
	 * the walk: again until none is left */
	while (h->n) {
		for (uint32_t i = 0; h->bucket && i <= h->mask; i++) {
			while (h->bucket[i].head)
				term(h->bucket[i].head->data);
		}
	}
}

static void term_strans(void *data)
{
	terminate(data);
}

void hr_trans_close_all(struct hr_sip *sip)
{
	close_table(hr_sip_strans_tab(sip), term_strans);
	close_table(hr_sip_ctrans_tab(sip), hr_ctrans_terminate);
}
