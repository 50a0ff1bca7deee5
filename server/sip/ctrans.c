/*
 * Non-INVITE client transaction (RFC 3261 17.1.2): Trying → Proceeding →
 * Completed → Terminated. On UDP, Timer E retransmits with back-off to
 * T2; Timer F (64*T1) ends it with ETIMEDOUT; Timer K absorbs response
 * retransmissions. The table holds one reference until it terminates.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "sip_int.h"

#define HR_LOG_MODULE "ctrans"

#define REQ_MAX (1024 * 1024)

struct hr_ctrans {
	struct hr_le le;
	struct hr_sip *sip;
	char branch[HR_BRANCH_SIZE];
	char method[32];
	char *req;
	size_t len;
	struct hr_dest dst;     /* dst.conn is referenced */
	enum hr_ctrans_state state;
	struct hr_tmr tmr_e;
	struct hr_tmr tmr_f;
	struct hr_tmr tmr_k;
	uint64_t e_ms;
	hr_resp_h *h;
	void *arg;
};

void hr_ctrans_terminate(void *data)
{
	struct hr_ctrans *ct = data;

	if (ct->state == HR_CTRANS_TERMINATED)
		return;
	ct->state = HR_CTRANS_TERMINATED;
	hr_tmr_cancel(&ct->tmr_e);
	hr_tmr_cancel(&ct->tmr_f);
	hr_tmr_cancel(&ct->tmr_k);
	hr_hash_unlink(hr_sip_ctrans_tab(ct->sip), &ct->le);
	hr_mem_deref(ct);  /* the table's reference */
}

static void destroy(void *data)
{
	struct hr_ctrans *ct = data;

	hr_tmr_cancel(&ct->tmr_e);
	hr_tmr_cancel(&ct->tmr_f);
	hr_tmr_cancel(&ct->tmr_k);
	hr_hash_unlink(hr_sip_ctrans_tab(ct->sip), &ct->le);
	free(ct->req);
	hr_mem_deref(ct->dst.conn);
}

/* The handler may drop the last outside reference: hold one. */
static void report(struct hr_ctrans *ct, int err, const struct hr_msg *resp)
{
	hr_resp_h *h = ct->h;

	if (!h)
		return;
	hr_mem_ref(ct);
	h(err, resp, ct->arg);
	hr_mem_deref(ct);
}

static void fail(struct hr_ctrans *ct, int err)
{
	hr_mem_ref(ct);
	hr_ctrans_terminate(ct);
	report(ct, err, NULL);
	ct->h = NULL;
	hr_mem_deref(ct);
}

static void timer_e(void *arg)
{
	struct hr_ctrans *ct = arg;
	int err = hr_sip_send_req(ct->sip, &ct->dst, ct->req, ct->len,
		ct->branch, NULL);

	hr_sip_counters(ct->sip)->retransmits++;
	if (err) {
		fail(ct, err);
		return;
	}
	/* Trying doubles up to T2; Proceeding retransmits every T2 */
	if (ct->state == HR_CTRANS_TRYING)
		ct->e_ms = ct->e_ms * 2 < HR_SIP_T2 ? ct->e_ms * 2 : HR_SIP_T2;
	else
		ct->e_ms = HR_SIP_T2;
	hr_tmr_start(&ct->tmr_e, ct->e_ms, timer_e, ct);
}

static void timer_f(void *arg)
{
	fail(arg, ETIMEDOUT);
}

static void timer_k(void *arg)
{
	hr_ctrans_terminate(arg);
}

int hr_ctrans_request(struct hr_ctrans **ctp, struct hr_sip *sip,
	const struct hr_dest *dst, const struct hr_req *req,
	hr_resp_h *resph, void *arg)
{
	struct hr_ctrans *ct;
	char sentby[HR_ADV_MAX];
	struct hr_buf buf;
	int err;

	if (!req->method || strlen(req->method) >= sizeof(ct->method))
		return EINVAL;
	/* beside the server transactions: a NOTIFY's is kept for Timer K
	 * (T4) over UDP, then freed in the order it came (fpool.c) */
	ct = hr_mem_zalloc_in(hr_sip_trans_pool(sip), sizeof(*ct), destroy);
	if (!ct)
		return ENOMEM;
	ct->sip = sip;
	ct->dst = *dst;
	hr_mem_ref(ct->dst.conn);
	ct->h = resph;
	ct->arg = arg;
	strcpy(ct->method, req->method);
	memcpy(ct->branch, "z9hG4bK", 7);
	hr_rand_token(ct->branch + 7, 20);
	/* the Via sent-by: the address the dialog advertises */
	hr_sip_advertise(sip, dst, sentby, sizeof(sentby));
	hr_buf_init(&buf, REQ_MAX);
	err = hr_req_print(&buf, req, dst->tp, sentby, ct->branch);
	ct->req = buf.b;
	ct->len = buf.len;
	if (!err) {
		struct hr_conn *used = NULL;

		err = hr_sip_send_req(sip, &ct->dst, ct->req, ct->len,
			ct->branch, &used);
		/* remember the connection: if it fails, so do we */
		if (used && used != ct->dst.conn) {
			hr_mem_deref(ct->dst.conn);
			ct->dst.conn = hr_mem_ref(used);
		}
	}
	if (err) {
		hr_mem_deref(ct);
		return err;
	}
	hr_hash_append(hr_sip_ctrans_tab(sip), hr_ctrans_key(ct), &ct->le,
		ct);
	ct->state = HR_CTRANS_TRYING;
	hr_tmr_start(&ct->tmr_f, 64 * HR_SIP_T1, timer_f, ct);
	if (!hr_tp_reliable(dst->tp)) {
		ct->e_ms = HR_SIP_T1;
		hr_tmr_start(&ct->tmr_e, ct->e_ms, timer_e, ct);
	}
	if (ctp)
		*ctp = hr_mem_ref(ct);
	return 0;
}

/* RFC 3261 8.1.3.1: a transport error is a failure now, not at Timer F. */
void hr_ctrans_conn_lost(struct hr_sip *sip, const struct hr_conn *conn)
{
	struct hr_hash *h = hr_sip_ctrans_tab(sip);
	uint32_t mask = h->mask;

	for (uint32_t i = 0; h->bucket && i <= h->mask; i++) {
		struct hr_le *le = h->bucket[i].head;

		while (le) {
			struct hr_ctrans *ct = le->data;

			le = le->next;
			if (ct->dst.conn != conn ||
			    ct->state >= HR_CTRANS_COMPLETED)
				continue;
			fail(ct, ECONNRESET);
			/* its owner's new requests grew the table, whose
			 * entries moved: walk it again */
			if (h->mask != mask) {
				mask = h->mask;
				i = UINT32_MAX;  /* 0 after i++ */
				break;
			}
		}
	}
}

/* A datagram queued by udp.c did not leave. A transaction that is gone,
 * or has its answer, finds nothing to do. */
void hr_ctrans_send_failed(struct hr_sip *sip, const char *branch, int err)
{
	struct hr_le *le = hr_hash_first(hr_sip_ctrans_tab(sip),
		hr_hash_bytes(branch, strlen(branch)));

	for (; le; le = le->next) {
		struct hr_ctrans *ct = le->data;

		if (strcmp(ct->branch, branch))
			continue;
		HR_DEBUG("%s %s: %s", ct->method, branch, hr_strerror(err));
		if (ct->state < HR_CTRANS_COMPLETED)
			fail(ct, err);
		return;
	}
}

void hr_ctrans_abandon(struct hr_ctrans *ct)
{
	if (ct)
		ct->h = NULL;
}

void hr_ctrans_silence(struct hr_ctrans *ct)
{
	if (!ct)
		return;
	ct->h = NULL;
	hr_tmr_cancel(&ct->tmr_e);
}

enum hr_ctrans_state hr_ctrans_state(const struct hr_ctrans *ct)
{
	return ct->state;
}

static void final(struct hr_ctrans *ct, const struct hr_msg *resp)
{
	hr_tmr_cancel(&ct->tmr_e);
	hr_tmr_cancel(&ct->tmr_f);
	ct->state = HR_CTRANS_COMPLETED;
	/* Completed only absorbs responses: the request is not sent again */
	free(ct->req);
	ct->req = NULL;
	ct->len = 0;
	hr_mem_ref(ct);
	report(ct, 0, resp);
	ct->h = NULL;
	/* Timer K: T4 on UDP to absorb retransmitted responses, 0 on
	 * streams */
	if (ct->state == HR_CTRANS_COMPLETED) {
		if (hr_tp_reliable(ct->dst.tp))
			hr_ctrans_terminate(ct);
		else
			hr_tmr_start(&ct->tmr_k, HR_SIP_T4, timer_k, ct);
	}
	hr_mem_deref(ct);
}

uint32_t hr_ctrans_key(const void *ct)
{
	const char *b = ((const struct hr_ctrans *)ct)->branch;

	return hr_hash_bytes(b, strlen(b));
}

/* RFC 3261 17.1.3: the top Via branch and the CSeq method match. */
bool hr_ctrans_recv(struct hr_sip *sip, const struct hr_msg *resp)
{
	const struct hr_pl *b = &resp->via.branch;
	struct hr_le *le = hr_hash_first(hr_sip_ctrans_tab(sip),
		hr_hash_bytes(b->p, b->len));

	for (; le; le = le->next) {
		struct hr_ctrans *ct = le->data;

		if (hr_pl_strcmp(b, ct->branch) ||
		    hr_pl_strcmp(&resp->cseq.method, ct->method))
			continue;
		if (ct->state == HR_CTRANS_COMPLETED)
			return true;  /* a retransmission: absorbed */
		if (resp->scode < 200) {
			ct->state = HR_CTRANS_PROCEEDING;
			report(ct, 0, resp);
		} else {
			final(ct, resp);
		}
		return true;
	}
	return false;
}
