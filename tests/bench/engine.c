/*
 * The engine: a fixed table of ops, a stack of free slots, a list of busy
 * ops in deadline order, and one epoll loop that starts ops (flat out or at
 * a fixed rate), hands received messages to the scenario, expires ops and
 * flushes the transport's batches.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include "bench.h"

#define NIL UINT32_MAX
#define NS_PER_S 1000000000ull
#define MAX_EVENTS 64
#define PHASE_WINDOW 256        /* set-up, teardown ops in flight at most */

struct stats {
	uint64_t ok;
	uint64_t failed;
	uint64_t timeouts;
	uint64_t bad_status;
	uint16_t bad_code;      /* the last unwanted response's status */
	uint64_t send_fail;     /* no room to write or queue a request */
	uint64_t stray;         /* responses for no current request */
	uint64_t junk;          /* messages we could not scan */
	uint64_t requests;      /* requests from the server, answered */
	uint64_t started;
	uint64_t retransmits;   /* requests sent again on Timer E */
	uint64_t in_flight_max;
	bool window_full;       /* --rate: a start waited for a free slot */
	struct bench_hist lat;
};

/*
 * Timer E (RFC 3261 17.1.2.2): one FIFO per interval min(T1 << k, T2),
 * so each is in deadline order. An entry is stale when its op has moved
 * on (another request, a final response, the op ended): it is skipped.
 */
#define RTX_QUEUES 4            /* T1, 2 T1, 4 T1, T2 = 8 T1 */

struct rtx_ent {
	uint64_t at;
	uint32_t slot;
	uint32_t seq;
};

struct rtx_queue {
	struct rtx_ent *v;      /* a ring of cap entries */
	size_t head, n, cap;
};

struct bench {
	const struct bench_cfg *cfg;
	const struct bench_scen *scen;
	const struct bench_tp_ops *tp;
	void *tp_state;
	int epfd;
	bool no_pwait2;         /* epoll_pwait2 missing: ms timeouts */
	char runid[BENCH_RUNID_LEN + 1];

	struct bench_op *ops;
	char *priv;
	uint32_t nops;
	uint32_t window;        /* ops in flight at most (set-up: nops) */
	uint32_t *freev;        /* stack of free slots */
	uint32_t nfree;
	uint32_t head, tail;    /* busy ops, earliest deadline first */
	uint32_t rr;            /* next connection for a new op */

	uint64_t now;
	uint64_t last_done;     /* when the latest op succeeded */
	uint64_t timeout_ns;
	struct stats st;

	bool rtx_on;            /* scen->retransmit over UDP */
	uint64_t t1_ns;
	struct rtx_queue rtxq[RTX_QUEUES];
};

void bench_err(const char *fmt, ...)
{
	va_list ap;

	fputs("herald-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

uint64_t bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

const struct bench_cfg *bench_cfg(const struct bench *b)
{
	return b->cfg;
}

const char *bench_runid(const struct bench *b)
{
	return b->runid;
}

int bench_epfd(const struct bench *b)
{
	return b->epfd;
}

void *bench_tp_state(const struct bench *b)
{
	return b->tp_state;
}

void bench_tp_set_state(struct bench *b, void *st)
{
	b->tp_state = st;
}

/* ---- helpers for scenarios ---- */

void bench_put_opid(struct bench_out *o, const struct bench_op *op)
{
	bench_out_put(o, op->b->runid, BENCH_RUNID_LEN);
	bench_out_lit(o, "-");
	bench_out_putu(o, op->slot);
	bench_out_lit(o, "-");
	bench_out_putu(o, op->gen);
}

void bench_put_via(struct bench_out *o, struct bench_op *op)
{
	op->seq++;
	bench_out_lit(o, "Via: SIP/2.0/");
	bench_out_puts(o, op->b->tp->via);
	bench_out_lit(o, " ");
	bench_out_puts(o, op->laddr);
	bench_out_lit(o, ";rport;branch=z9hG4bK-");
	bench_out_put(o, op->b->runid, BENCH_RUNID_LEN);
	bench_out_lit(o, "-");
	bench_out_putu(o, op->slot);
	bench_out_lit(o, "-");
	bench_out_putu(o, op->seq);
	bench_out_lit(o, "\r\n");
}

void bench_put_tp_param(struct bench_out *o, const struct bench *b)
{
	if (!b->tp->param)
		return;
	bench_out_lit(o, ";transport=");
	bench_out_puts(o, b->tp->param);
}

void bench_put_callid(struct bench_out *o, const struct bench_op *op)
{
	bench_out_lit(o, "Call-ID: ");
	bench_put_opid(o, op);
	bench_out_lit(o, "@herald-bench\r\n");
}

void bench_put_end(struct bench_out *o, const char *ctype,
	const char *body, size_t blen)
{
	if (ctype) {
		bench_out_lit(o, "Content-Type: ");
		bench_out_puts(o, ctype);
		bench_out_lit(o, "\r\n");
	}
	bench_out_lit(o, "Content-Length: ");
	bench_out_putu(o, blen);
	bench_out_lit(o, "\r\n\r\n");
	if (blen)
		bench_out_put(o, body, blen);
}

/* ---- the timeout list ---- */

static void list_unlink(struct bench *b, struct bench_op *op)
{
	if (op->prev == NIL && b->head != op->slot)
		return;         /* not linked */
	if (op->prev != NIL)
		b->ops[op->prev].next = op->next;
	else
		b->head = op->next;
	if (op->next != NIL)
		b->ops[op->next].prev = op->prev;
	else
		b->tail = op->prev;
	op->prev = op->next = NIL;
}

/* Every deadline is now + the same timeout, so appending keeps order. */
static void list_append(struct bench *b, struct bench_op *op)
{
	op->deadline = b->now + b->timeout_ns;
	op->next = NIL;
	op->prev = b->tail;
	if (b->tail != NIL)
		b->ops[b->tail].next = op->slot;
	else
		b->head = op->slot;
	b->tail = op->slot;
}

/* ---- Timer E: sending a request again ---- */

static void out_get(struct bench *b, uint32_t conn, struct bench_out *out);

static uint64_t rtx_interval(const struct bench *b, unsigned k)
{
	return b->t1_ns << k;   /* k = RTX_QUEUES - 1 is T2 */
}

/* false: out of memory (the request is then not sent again) */
static bool rtx_push(struct bench *b, unsigned k, const struct bench_op *op)
{
	struct rtx_queue *q = &b->rtxq[k];
	struct rtx_ent *v;
	size_t i, cap;

	if (q->n == q->cap) {
		cap = q->cap ? q->cap * 2 : 4096;
		v = malloc(cap * sizeof(*v));
		if (!v)
			return false;
		for (i = 0; i < q->n; i++)
			v[i] = q->v[(q->head + i) % q->cap];
		free(q->v);
		q->v = v;
		q->cap = cap;
		q->head = 0;
	}
	q->v[(q->head + q->n) % q->cap] = (struct rtx_ent){ op->rtx_at,
		op->slot, op->seq };
	q->n++;
	return true;
}

static void rtx_arm(struct bench *b, struct bench_op *op, unsigned k)
{
	op->rtx_k = (uint8_t)k;
	op->rtx_at = b->now + rtx_interval(b, k);
	if (!rtx_push(b, k, op))
		op->rtx_at = 0;
}

/* A new request of op (in out): keep its bytes, arm Timer E at T1. */
static void rtx_start(struct bench *b, struct bench_op *op,
	const struct bench_out *out)
{
	char *p;

	op->rtx_at = 0;
	op->proceeding = false;
	if (out->len > op->req_cap) {
		p = realloc(op->req, out->len);
		if (!p)
			return;
		op->req = p;
		op->req_cap = (uint32_t)out->len;
	}
	memcpy(op->req, out->p, out->len);
	op->req_len = (uint32_t)out->len;
	rtx_arm(b, op, 0);
}

/* Send again every request whose Timer E fired, then arm it again:
 * doubled up to T2, or T2 once a 1xx came. */
static void rtx_run(struct bench *b)
{
	struct rtx_queue *q;
	struct rtx_ent *e;
	struct bench_op *op;
	struct bench_out out;
	unsigned k;

	for (k = 0; k < RTX_QUEUES; k++) {
		q = &b->rtxq[k];
		while (q->n && (e = &q->v[q->head])->at <= b->now) {
			op = &b->ops[e->slot];
			if (op->busy && op->pending && op->seq == e->seq &&
			    op->rtx_at == e->at) {
				out_get(b, op->conn, &out);
				if (out.full || out.cap < op->req_len)
					return; /* after a flush */
				memcpy(out.p, op->req, op->req_len);
				out.len = op->req_len;
				b->tp->out_commit(b, op->conn, &out);
				b->st.retransmits++;
				rtx_arm(b, op, op->proceeding ?
					RTX_QUEUES - 1 :
					k + 1 < RTX_QUEUES ? k + 1 : k);
			}
			q->head = (q->head + 1) % q->cap;
			q->n--;
		}
	}
}

/* The earliest Timer E (stale ones too: an early wake-up at worst). */
static uint64_t rtx_next(const struct bench *b)
{
	uint64_t next = UINT64_MAX;
	unsigned k;

	for (k = 0; k < RTX_QUEUES; k++) {
		if (b->rtxq[k].n &&
		    b->rtxq[k].v[b->rtxq[k].head].at < next)
			next = b->rtxq[k].v[b->rtxq[k].head].at;
	}
	return next;
}

/* ---- op life cycle ---- */

static void op_free(struct bench *b, struct bench_op *op)
{
	list_unlink(b, op);
	op->busy = false;
	b->freev[b->nfree++] = op->slot;
}

static void op_fail(struct bench *b, struct bench_op *op)
{
	b->st.failed++;
	op_free(b, op);
}

/* Carry out what the scenario decided; out is uncommitted until here. */
static void op_act(struct bench *b, struct bench_op *op, enum bench_act act,
	struct bench_out *out)
{
	switch (act) {
	case BENCH_SEND:
		if (out->full || out->len == 0) {
			b->st.send_fail++;
			op_fail(b, op);
			return;
		}
		if (b->rtx_on)
			rtx_start(b, op, out);
		b->tp->out_commit(b, op->conn, out);
		op->pending = true;
		/* the deadline restarts with each request */
		list_unlink(b, op);
		list_append(b, op);
		break;
	case BENCH_WAIT:
		list_unlink(b, op);
		list_append(b, op);
		break;
	case BENCH_DONE:
		b->st.ok++;
		b->last_done = bench_now();
		bench_hist_add(&b->st.lat, b->last_done - op->t_start);
		op_free(b, op);
		break;
	case BENCH_FAIL:
		op_fail(b, op);
		break;
	case BENCH_DONE_SEND:
	case BENCH_FAIL_SEND:
		if (out->full || out->len == 0)
			b->st.send_fail++;
		else
			b->tp->out_commit(b, op->conn, out);
		op_act(b, op, act == BENCH_DONE_SEND ? BENCH_DONE :
			BENCH_FAIL, out);
		break;
	}
}

/* Room for a message on conn, or a zero-sized window that reports full. */
static void out_get(struct bench *b, uint32_t conn, struct bench_out *out)
{
	memset(out, 0, sizeof(*out));
	if (b->tp->out_begin(b, conn, out)) {
		memset(out, 0, sizeof(*out));
		out->full = true;
	}
}

/* Start one op in a free slot: false when the transport has no room. */
static bool op_start(struct bench *b)
{
	struct bench_op *op;
	struct bench_out out;

	op = &b->ops[b->freev[b->nfree - 1]];
	op->conn = b->rr++ % b->cfg->connections;
	memset(&out, 0, sizeof(out));
	if (b->tp->out_begin(b, op->conn, &out))
		return false;
	b->nfree--;
	op->busy = true;
	op->pending = false;
	op->gen++;
	op->laddr = b->tp->laddr(b, op->conn);
	memset(op->priv, 0, b->scen->op_size);
	op->t_start = bench_now();
	b->now = op->t_start;
	b->st.started++;
	if (b->nops - b->nfree > b->st.in_flight_max)
		b->st.in_flight_max = b->nops - b->nfree;
	op_act(b, op, b->scen->start(op, &out), &out);
	return true;
}

static void expire(struct bench *b)
{
	while (b->head != NIL && b->ops[b->head].deadline <= b->now) {
		b->st.timeouts++;
		op_fail(b, &b->ops[b->head]);
	}
}

/* ---- matching received messages to ops ---- */

/* Parse "<run>-<slot>-<n>" at the start of pl; 0 or EBADMSG. */
static int opid_decode(const struct bench *b, const struct hr_pl *pl,
	uint32_t *slot, uint32_t *n)
{
	const char *p = pl->p, *end = pl->p + pl->len;
	uint64_t v[2] = { 0, 0 };
	int i;

	if (pl->len < BENCH_RUNID_LEN + 4 ||
	    memcmp(p, b->runid, BENCH_RUNID_LEN) != 0)
		return EBADMSG;
	p += BENCH_RUNID_LEN;
	for (i = 0; i < 2; i++) {
		if (p >= end || *p++ != '-' || p >= end ||
		    *p < '0' || *p > '9')
			return EBADMSG;
		while (p < end && *p >= '0' && *p <= '9' && v[i] < UINT32_MAX)
			v[i] = v[i] * 10 + (uint64_t)(*p++ - '0');
	}
	if (v[0] >= b->nops || v[1] > UINT32_MAX)
		return EBADMSG;
	*slot = (uint32_t)v[0];
	*n = (uint32_t)v[1];
	return 0;
}

static void recv_response(struct bench *b, uint32_t conn,
	const struct bench_msg *msg)
{
	struct hr_pl id = msg->branch;
	struct bench_out out;
	struct bench_op *op;
	uint32_t slot, seq;
	enum bench_act act;

	if (id.len < 8 || memcmp(id.p, "z9hG4bK-", 8) != 0)
		goto stray;
	id.p += 8;
	id.len -= 8;
	if (opid_decode(b, &id, &slot, &seq))
		goto stray;
	op = &b->ops[slot];
	if (!op->busy || !op->pending || op->seq != seq)
		goto stray;
	if (msg->scode < 200) {
		op->proceeding = true;  /* Timer E: T2 from now on */
		return;
	}
	/* a retransmitted final response is not news: see it once */
	op->pending = false;
	out_get(b, op->conn, &out);
	act = b->scen->on_response(op, msg, &out);
	if (act == BENCH_FAIL || act == BENCH_FAIL_SEND) {
		b->st.bad_status++;
		b->st.bad_code = msg->scode;
	}
	op_act(b, op, act, &out);
	return;
stray:
	b->st.stray++;
	if (!b->scen->on_other_response)
		return;
	out_get(b, conn, &out);
	if (b->scen->on_other_response(b, msg, &out) && !out.full)
		b->tp->out_commit(b, conn, &out);
}

/* RFC 3261 8.2.6: copy Via, From, To, Call-ID and CSeq into the answer. */
static void put_reply(struct bench_out *o, const struct bench_msg *req)
{
	struct hr_pl name, val;
	size_t cur = 0;
	bool to;

	bench_out_lit(o, "SIP/2.0 200 OK\r\n");
	while (bench_msg_hdr_next(req, &cur, &name, &val)) {
		to = hr_pl_strcasecmp(&name, "To") == 0 ||
			hr_pl_strcasecmp(&name, "t") == 0;
		if (!to && hr_pl_strcasecmp(&name, "Via") &&
		    hr_pl_strcasecmp(&name, "v") &&
		    hr_pl_strcasecmp(&name, "From") &&
		    hr_pl_strcasecmp(&name, "f") &&
		    hr_pl_strcasecmp(&name, "Call-ID") &&
		    hr_pl_strcasecmp(&name, "i") &&
		    hr_pl_strcasecmp(&name, "CSeq"))
			continue;
		bench_out_putpl(o, &name);
		bench_out_lit(o, ": ");
		bench_out_putpl(o, &val);
		if (to && !memmem(val.p, val.len, ";tag=", 5))
			bench_out_lit(o, ";tag=hb");
		bench_out_lit(o, "\r\n");
	}
	bench_out_lit(o, "Content-Length: 0\r\n\r\n");
}

static void recv_request(struct bench *b, uint32_t conn,
	const struct bench_msg *msg)
{
	struct bench_out out;
	struct bench_op *op;
	uint32_t slot, gen;

	if (hr_pl_strcmp(&msg->method, "ACK") == 0)
		return;
	b->st.requests++;
	out_get(b, conn, &out);
	put_reply(&out, msg);
	if (!out.full)
		b->tp->out_commit(b, conn, &out);
	if (opid_decode(b, &msg->callid, &slot, &gen) == 0) {
		op = &b->ops[slot];
		if (op->busy && op->gen == gen) {
			if (!b->scen->on_request)
				return;
			out_get(b, op->conn, &out);
			op_act(b, op, b->scen->on_request(op, msg, &out),
				&out);
			return;
		}
	}
	if (b->scen->on_other_request)
		b->scen->on_other_request(b, msg);
}

void bench_recv(struct bench *b, uint32_t conn, const char *p, size_t len)
{
	struct bench_msg msg;

	if (bench_msg_scan(&msg, p, len)) {
		b->st.junk++;
		return;
	}
	b->now = bench_now();
	if (msg.req)
		recv_request(b, conn, &msg);
	else
		recv_response(b, conn, &msg);
}

/* ---- the loop ---- */

/* Ops that should have started by now at the configured rate. */
static uint64_t rate_due(const struct bench *b, uint64_t t0)
{
	double el = (double)(b->now - t0) / 1e9;

	return (uint64_t)(el * (double)b->cfg->rate) + 1;
}

static void start_ops(struct bench *b, uint64_t t0)
{
	uint64_t want = UINT64_MAX;

	if (b->cfg->rate)
		want = rate_due(b, t0);
	if (b->cfg->max_ops && want > b->cfg->max_ops)
		want = b->cfg->max_ops;
	while (b->nfree && b->nops - b->nfree < b->window &&
	       b->st.started < want) {
		if (!op_start(b))
			break;
	}
	if (b->cfg->rate && b->st.started < want &&
	    (!b->nfree || b->nops - b->nfree >= b->window))
		b->st.window_full = true;
}

/*
 * How long epoll may sleep, in ns: until the next op is due or the next
 * deadline. Sleeping to the nanosecond (epoll_pwait2) rather than the
 * millisecond lets a paced run sleep between ops instead of spinning;
 * timer slack (50 us) then batches a few starts per wake-up.
 */
static uint64_t wait_ns(const struct bench *b, uint64_t t0, uint64_t end,
	bool draining)
{
	uint64_t next = end, due;

	if (b->head != NIL && b->ops[b->head].deadline < next)
		next = b->ops[b->head].deadline;
	if (b->rtx_on && rtx_next(b) < next)
		next = rtx_next(b);
	if (!draining && b->cfg->rate && b->nfree) {
		due = t0 + b->st.started / b->cfg->rate * NS_PER_S +
			b->st.started % b->cfg->rate * NS_PER_S /
			b->cfg->rate;
		if (due < next)
			next = due;
	}
	if (next <= b->now)
		return 0;
	next -= b->now;
	return next > 100000000 ? 100000000 : next;
}

static int loop_events(struct bench *b, uint64_t ns)
{
	struct epoll_event evs[MAX_EVENTS];
	struct timespec ts = { (time_t)(ns / NS_PER_S), (long)(ns % NS_PER_S) };
	int i, n, err;

	if (!b->no_pwait2) {
		n = epoll_pwait2(b->epfd, evs, MAX_EVENTS, &ts, NULL);
		if (n < 0 && errno == ENOSYS)
			b->no_pwait2 = true;    /* Linux < 5.11, valgrind */
	}
	if (b->no_pwait2)
		n = epoll_wait(b->epfd, evs, MAX_EVENTS,
			(int)((ns + 999999) / 1000000));
	if (n < 0)
		return errno == EINTR ? 0 : errno;
	for (i = 0; i < n; i++) {
		err = b->tp->event(b, (uint32_t)evs[i].data.u64,
			evs[i].events);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Start ops until the end, then stop starting and let the ops in flight
 * finish (bounded by the timeout), so none is counted as a failure just
 * because the run ended.
 */
static int loop(struct bench *b, uint64_t *elapsed)
{
	uint64_t t0 = bench_now(), end, hard_end;
	bool draining = false;
	int err = 0;

	end = t0 + (uint64_t)(b->cfg->duration_s * 1e9);
	hard_end = end + b->timeout_ns;
	for (;;) {
		b->now = bench_now();
		if (!draining && b->now >= end)
			draining = true;
		/* --ops: all started, so the run ends when they have */
		if (!draining && b->cfg->max_ops &&
		    b->st.started >= b->cfg->max_ops) {
			draining = true;
			end = b->now;
			hard_end = end + b->timeout_ns;
		}
		if (draining && (b->head == NIL || b->now >= hard_end))
			break;
		expire(b);
		if (b->rtx_on)
			rtx_run(b);
		if (!draining)
			start_ops(b, t0);
		err = b->tp->flush(b);
		if (err)
			break;
		b->now = bench_now();
		err = loop_events(b, wait_ns(b, t0, draining ? hard_end : end,
			draining));
		if (err)
			break;
		err = b->tp->flush(b);
		if (err)
			break;
	}
	/*
	 * The run lasts until the last success, at least the duration: ops
	 * that time out while draining must not stretch it, or a single lost
	 * datagram would cut ops/s by the timeout's share.
	 */
	*elapsed = (b->last_done > end ? b->last_done : end) - t0;
	return err;
}

/*
 * After the run: no op in flight, but the server still owes requests
 * (NOTIFYs); answer them for as long as the scenario wants.
 */
static int settle(struct bench *b)
{
	uint64_t ns;
	int err;

	for (;;) {
		b->now = bench_now();
		ns = b->scen->settle(b);
		if (!ns)
			return 0;
		err = b->tp->flush(b);
		if (!err)
			err = loop_events(b, ns > 100000000 ? 100000000 : ns);
		if (!err)
			err = b->tp->flush(b);
		if (err)
			return err;
	}
}

/* ---- set-up and the summary ---- */

static const struct bench_tp_ops *const tps[] = {
	[BENCH_UDP] = &bench_udp,
	[BENCH_TCP] = &bench_tcp,
	[BENCH_TLS] = &bench_tls,
	[BENCH_WS] = &bench_ws,
	[BENCH_WSS] = &bench_wss,
};

static int bench_alloc(struct bench *b)
{
	const struct bench_scen *setup = b->scen->setup;
	const struct bench_scen *down = b->scen->teardown;
	const struct bench_scen *check = b->scen->check;
	size_t psize = b->scen->op_size;
	uint32_t i;
	uint8_t rnd[BENCH_RUNID_LEN / 2];

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return errno ? errno : EIO;
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(b->runid + 2 * i, 3, "%02x", rnd[i]);
	b->window = b->nops = b->cfg->window;
	/* set-up, check and teardown ops share the table */
	if ((setup || down || check) && b->nops < PHASE_WINDOW)
		b->nops = PHASE_WINDOW;
	if (setup && setup->op_size > psize)
		psize = setup->op_size;
	if (down && down->op_size > psize)
		psize = down->op_size;
	if (check && check->op_size > psize)
		psize = check->op_size;
	/* each op's priv holds any scenario's struct: align it as malloc */
	psize = (psize + _Alignof(max_align_t) - 1) &
		~(_Alignof(max_align_t) - 1);
	b->ops = calloc(b->nops, sizeof(*b->ops));
	b->freev = calloc(b->nops, sizeof(*b->freev));
	b->priv = calloc(b->nops, psize ? psize : 1);
	if (!b->ops || !b->freev || !b->priv)
		return ENOMEM;
	for (i = 0; i < b->nops; i++) {
		b->ops[i].b = b;
		b->ops[i].slot = i;
		b->ops[i].prev = b->ops[i].next = NIL;
		b->ops[i].priv = b->priv + (size_t)i * psize;
		/* slot 0 on top of the stack: low slots are reused first */
		b->freev[i] = b->nops - 1 - i;
	}
	b->nfree = b->nops;
	b->head = b->tail = NIL;
	b->timeout_ns = (uint64_t)b->cfg->timeout_ms * 1000000;
	b->rtx_on = b->scen->retransmit && b->cfg->tp == BENCH_UDP;
	b->t1_ns = (uint64_t)(b->cfg->t1_ms ? b->cfg->t1_ms : 500) * 1000000;
	b->epfd = epoll_create1(EPOLL_CLOEXEC);
	return b->epfd < 0 ? errno : 0;
}

static void bench_free(struct bench *b)
{
	uint32_t i;

	if (b->tp_state)
		b->tp->close(b);
	if (b->epfd >= 0)
		close(b->epfd);
	for (i = 0; b->ops && i < b->nops; i++)
		free(b->ops[i].req);
	for (i = 0; i < RTX_QUEUES; i++)
		free(b->rtxq[i].v);
	free(b->ops);
	free(b->freev);
	free(b->priv);
}

/* The summary line: the scenario's own, or ops/s and latency. */
static void print_summary(const struct bench *b, uint64_t elapsed)
{
	const struct stats *st = &b->st;
	double secs = (double)elapsed / 1e9;
	struct bench_result r = {
		.tp = b->tp->name,
		.secs = secs,
		.ok = st->ok,
		.failed = st->failed,
		.started = st->started,
		.lat = &st->lat,
		.retransmits = st->retransmits,
		.in_flight = b->nops - b->nfree,
		.in_flight_max = st->in_flight_max,
		.window_full = st->window_full,
	};

	if (b->scen->summary) {
		b->scen->summary(b, &r);
	} else {
		printf("scenario=%s transport=%s duration=%.1fs ops=%llu "
			"ops/s=%.0f failures=%llu p50=%.3fms p99=%.3fms "
			"p99.9=%.3fms",
			b->scen->name, b->tp->name, secs,
			(unsigned long long)st->ok,
			secs > 0 ? (double)st->ok / secs : 0.0,
			(unsigned long long)st->failed,
			(double)bench_hist_pct(&st->lat, 50) / 1e6,
			(double)bench_hist_pct(&st->lat, 99) / 1e6,
			(double)bench_hist_pct(&st->lat, 99.9) / 1e6);
		if (b->scen->summary_tail)
			b->scen->summary_tail(b);
		putchar('\n');
	}
	fflush(stdout);
	if (!b->cfg->verbose)
		return;
	bench_err("started=%llu timeouts=%llu bad_status=%llu (last %u) "
		"send_fail=%llu stray=%llu junk=%llu server_requests=%llu "
		"max=%.3fms",
		(unsigned long long)st->started,
		(unsigned long long)st->timeouts,
		(unsigned long long)st->bad_status, st->bad_code,
		(unsigned long long)st->send_fail,
		(unsigned long long)st->stray, (unsigned long long)st->junk,
		(unsigned long long)st->requests, (double)st->lat.max / 1e6);
}

/* Why the loop stopped; transports return these without logging. */
static const char *loop_strerror(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return "connection refused: is the server listening?";
	case ECONNRESET:
		return "the server closed the connection";
	case EBADMSG:
		return "a message from the server has no usable Content-Length";
	case EMSGSIZE:
		return "a message from the server is too large";
	case EPROTO:
		return "the server broke the TLS or WebSocket protocol";
	default:
		return strerror(err);
	}
}

/*
 * A setup or teardown, untimed: n ops of scen, flat out (scen->window in
 * flight, else the table's), on the sockets the run uses (the server
 * sends its NOTIFYs there). 0, an errno from the loop, ENOENT when none
 * succeeded, or EAGAIN when strict and some did not. The counters are
 * zero after.
 */
static int run_phase(struct bench *b, const char *what,
	const struct bench_scen *scen, uint64_t n, bool strict)
{
	const struct bench_cfg *cfg = b->cfg;
	const struct bench_scen *main_scen = b->scen;
	struct bench_cfg pcfg = *cfg;
	uint64_t elapsed = 0;
	int err;

	memset(&b->st, 0, sizeof(b->st));
	b->last_done = 0;
	if (n == 0)
		return 0;
	pcfg.max_ops = n;
	pcfg.rate = 0;
	pcfg.duration_s = 86400;        /* --ops ends it */
	b->cfg = &pcfg;
	b->scen = scen;
	/* the phase's own window, if it has one (a burst the sockets hold) */
	b->window = scen->window && scen->window < b->nops ? scen->window :
		b->nops;
	err = loop(b, &elapsed);
	b->cfg = cfg;
	b->scen = main_scen;
	b->window = cfg->window;
	if (err) {
		bench_err("%s: %s: %s", what, b->tp->name, loop_strerror(err));
		return err;
	}
	if (b->st.ok < n || cfg->verbose)
		bench_err("%s: %llu of %llu %s ops succeeded in %.2fs "
			"(timeouts=%llu bad_status=%llu, last %u)", what,
			(unsigned long long)b->st.ok, (unsigned long long)n,
			scen->name, (double)elapsed / 1e9,
			(unsigned long long)b->st.timeouts,
			(unsigned long long)b->st.bad_status, b->st.bad_code);
	err = b->st.ok ? 0 : ENOENT;
	if (!err && strict && b->st.ok < n)
		err = EAGAIN;
	memset(&b->st, 0, sizeof(b->st));
	b->last_done = 0;
	return err;
}

/*
 * The scenario's check after the run: its ops must not count in the
 * run's figures, which the summary prints after it. 0 or an errno from
 * the loop (a check that found nothing right is the scenario's verdict).
 */
static int run_check(struct bench *b)
{
	const struct bench_scen *scen = b->scen;
	uint64_t last_done = b->last_done;
	struct stats *st;
	int err;

	st = malloc(sizeof(*st));       /* the histogram is 30 KB */
	if (!st) {
		bench_err("check: out of memory");
		return ENOMEM;
	}
	*st = b->st;
	err = run_phase(b, "check", scen->check, scen->check_ops(b->cfg),
		false);
	b->st = *st;
	b->last_done = last_done;
	free(st);
	return err == ENOENT ? 0 : err;
}

int bench_run(const struct bench_cfg *cfg, const struct bench_scen *scen)
{
	struct bench *b;
	uint64_t elapsed = 0;
	int err, rc = 1;

	/* The histogram is 30 KB: keep it off the stack. */
	b = calloc(1, sizeof(*b));
	if (!b) {
		bench_err("out of memory");
		return 1;
	}
	b->cfg = cfg;
	b->scen = scen;
	b->tp = tps[cfg->tp];
	b->epfd = -1;
	err = bench_alloc(b);
	if (err) {
		bench_err("setup: %s", strerror(err));
		goto out;
	}
	err = b->tp->open(b);
	if (err)
		goto out;       /* the transport said why */
	if (scen->setup) {
		err = run_phase(b, "setup", scen->setup,
			scen->setup_ops(cfg), scen->setup_all);
		if (err == EAGAIN) {
			bench_err("setup incomplete: not running %s",
				scen->name);
			goto teardown;
		}
		if (err) {
			if (err == ENOENT)
				bench_err("setup failed: is the server "
					"answering?");
			goto out;
		}
	}
	err = loop(b, &elapsed);
	if (!err && scen->settle)
		err = settle(b);
	if (!err && scen->check) {
		err = run_check(b);
		if (err)
			goto out;       /* said why */
	}
	if (err) {
		bench_err("%s: %s", b->tp->name, loop_strerror(err));
		goto out;
	}
	print_summary(b, elapsed);
	if (b->st.ok == 0)
		bench_err("no op succeeded: is the server answering?");
	else if (cfg->rate && b->st.started != cfg->max_ops &&
		 b->st.started * 100 < cfg->rate *
		 (uint64_t)(cfg->duration_s * 99))
		bench_err("started %llu ops, below the rate asked for: "
			"raise --window or lower --rate",
			(unsigned long long)b->st.started);
	rc = b->st.ok ? 0 : 1;
	if (scen->failed && scen->failed(b))
		rc = 1;
teardown:
	/* leave the server as we found it; its failure is only told */
	if (scen->teardown)
		(void)run_phase(b, "teardown", scen->teardown,
			scen->teardown_ops(cfg), false);
out:
	bench_free(b);
	free(b);
	return rc;
}
