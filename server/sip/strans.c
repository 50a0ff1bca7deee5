/*
 * Non-INVITE server transaction (RFC 3261 17.2.2): Trying → Proceeding →
 * Completed → Terminated. Retransmitted requests are absorbed and the
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
	struct hr_msg *req;
	uint32_t hash;
	enum hr_strans_state state;
	struct hr_tmr tmr;      /* Timer J when Completed; a guard before */
	char *resp;             /* the last response sent */
	size_t resp_len;
	struct hr_dest dst;     /* dst.conn is referenced */
};

static void terminate(struct hr_strans *st)
{
	if (st->state == HR_STRANS_TERMINATED)
		return;
	st->state = HR_STRANS_TERMINATED;
	hr_tmr_cancel(&st->tmr);
	hr_hash_unlink(hr_sip_strans_tab(st->sip), &st->le);
	hr_mem_deref(st);  /* the table's reference */
}

static void destroy(void *data)
{
	struct hr_strans *st = data;

	hr_tmr_cancel(&st->tmr);
	hr_hash_unlink(hr_sip_strans_tab(st->sip), &st->le);
	free(st->resp);
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

static bool same_method(const struct hr_msg *a, const struct hr_msg *b,
	bool cancel)
{
	if (cancel)
		return a->meth != HR_METH_CANCEL && a->meth != HR_METH_ACK;
	return !hr_pl_cmp(&a->method, &b->method);
}

static bool match(const struct hr_msg *a, const struct hr_msg *b,
	bool cancel)
{
	if (!same_method(a, b, cancel))
		return false;
	if (hr_via_rfc3261(&b->via))
		return !hr_pl_cmp(&a->via.branch, &b->via.branch) &&
			!hr_pl_casecmp(&a->via.host, &b->via.host) &&
			a->via.port == b->via.port;
	return !hr_pl_cmp(&a->ruri_pl, &b->ruri_pl) &&
		!hr_pl_cmp(&a->to.tag, &b->to.tag) &&
		!hr_pl_cmp(&a->from.tag, &b->from.tag) &&
		!hr_pl_cmp(&a->callid, &b->callid) &&
		a->cseq.num == b->cseq.num &&
		!hr_pl_cmp(&a->via.raw, &b->via.raw);
}

struct hr_strans *hr_strans_find(struct hr_sip *sip, const struct hr_msg *req,
	bool cancel)
{
	struct hr_list *l = hr_hash_list(hr_sip_strans_tab(sip), key(req));

	for (struct hr_le *le = l->head; le; le = le->next) {
		struct hr_strans *st = le->data;

		if (match(st->req, req, cancel))
			return st;
	}
	return NULL;
}

/* No final response in time: whatever holds the transaction is stuck;
 * answer so the client is not left to time out without a word. */
static void guard(void *arg)
{
	struct hr_strans *st = arg;

	HR_WARN("no final response to %.*s in %u ms: 500",
		HR_PL_ARG(st->req->method), 64 * HR_SIP_T1);
	hr_strans_replys(st, 500, "Server Internal Error");
}

static void timer_j(void *arg)
{
	terminate(arg);
}

int hr_strans_alloc(struct hr_strans **stp, struct hr_sip *sip,
	struct hr_msg *req)
{
	struct hr_strans *st = hr_mem_zalloc(sizeof(*st), destroy);

	if (!st)
		return ENOMEM;
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

int hr_strans_reply(struct hr_strans *st, const struct hr_resp *resp)
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
	free(st->resp);
	st->resp = buf.b;     /* the buffer's storage moves to st */
	st->resp_len = buf.len;
	err = send_last(st);
	if (resp->scode < 200) {
		st->state = HR_STRANS_PROCEEDING;
		return err;
	}
	st->state = HR_STRANS_COMPLETED;
	/* Timer J: 64*T1 on UDP to absorb retransmissions, 0 on streams */
	if (hr_tp_reliable(st->dst.tp))
		terminate(st);
	else
		hr_tmr_start(&st->tmr, 64 * HR_SIP_T1, timer_j, st);
	return err;
}

int hr_strans_replys(struct hr_strans *st, uint16_t scode, const char *reason)
{
	struct hr_resp resp = { .scode = scode, .reason = reason };

	return hr_strans_reply(st, &resp);
}

void hr_strans_retransmit(struct hr_strans *st)
{
	/* RFC 3261 17.2.2: in Trying a retransmission is just discarded */
	if (st->resp && (st->state == HR_STRANS_PROCEEDING ||
		st->state == HR_STRANS_COMPLETED))
		send_last(st);
}

static void close_table(struct hr_hash *h, void (*term)(void *))
{
	for (uint32_t i = 0; h->bucket && i <= h->mask; i++) {
		while (h->bucket[i].head)
			term(h->bucket[i].head->data);
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
