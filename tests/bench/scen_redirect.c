/*
 * redirect: Herald as a redirect server (RFC 3261 8.3, 21.3.3). One op is
 * INVITE sip:uK@DOMAIN -> 302 Moved Temporarily, which must carry the
 * Contact uK registered; the ACK follows at once (RFC 3261 17.1.1.3), and
 * the latency is to the 302.
 *
 * Setup (untimed), one op per AOR uK, K = 1..--aors (default 1000, at
 * most --users): an authenticated REGISTER as in register, Contact
 * <sip:uK@OURHOST:OURPORT> (;transport=tcp over TCP, tls over TLS...),
 * Expires 3600; every one must get its 200. The run's INVITEs take the AORs round-robin.
 *
 * Over UDP the INVITE server transaction retransmits its 302 until the
 * ACK matches it (RFC 3261 17.2.1, Timer G from 500 ms): every 302 that
 * comes again is counted (retransmits=) and ACKed again; after the last
 * op the run waits RETRANS_WAIT for them. Not 0 means ACKs that did not
 * match, or datagrams lost.
 *
 * Teardown: each binding made goes (REGISTER Expires: 0 of the same
 * Contact), so that a next run in the same Herald starts from the same
 * bindings.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "bench.h"

#define REDIRECT_AORS 1000      /* the default --aors */
#define CONTACT_MAX (BENCH_LADDR_LEN + 40)
#define RETRANS_WAIT 1000000000ull      /* ns: Timer G's first is 500 ms */

/* The Contact URI uK registered, NUL-ended; "" when not bound. */
struct aor {
	char contact[CONTACT_MAX];
};

static struct {
	struct aor *a;          /* [1..n] */
	uint32_t n;
	uint32_t next_setup;    /* the last K each phase took */
	uint32_t next_call;
	uint32_t next_down;
	uint32_t bound;
	uint64_t last_final;    /* when an op's final response last came
				 * (not one sent again: the wait must end) */
	uint64_t retransmits;   /* final responses to INVITEs seen again */
	uint64_t no_contact;    /* 302s without uK's Contact */
	uint64_t acks;
} st;

static const char sdp[] =
	"v=0\r\n"
	"o=bench 1 1 IN IP4 127.0.0.1\r\n"
	"s=-\r\n"
	"c=IN IP4 127.0.0.1\r\n"
	"t=0 0\r\n"
	"m=audio 49170 RTP/AVP 0\r\n";

static bool table(const struct bench_cfg *cfg)
{
	if (st.a)
		return true;
	st.n = cfg->aors;
	st.a = calloc((size_t)st.n + 1, sizeof(*st.a));
	return st.a != NULL;
}

/* ---- setup and teardown: uK's one binding ---- */

/* What uK's binding is: "sip:uK@OURHOST:OURPORT[;transport=tcp]" (tls,
 * ws, wss). */
static bool contact_of(char *buf, size_t n, const struct bench_op *op,
	uint32_t k)
{
	struct bench_out o = { buf, 0, n - 1, false };

	bench_out_lit(&o, "sip:u");
	bench_out_putu(&o, k);
	bench_out_lit(&o, "@");
	bench_out_puts(&o, op->laddr);
	bench_put_tp_param(&o, op->b);
	buf[o.len] = '\0';
	return !o.full;
}

static enum bench_act setup_start(struct bench_op *op,
	struct bench_out *out)
{
	struct bench_reg *r = op->priv;
	struct aor *a;

	if (!table(bench_cfg(op->b)) || st.next_setup >= st.n)
		return BENCH_FAIL;
	r->user = ++st.next_setup;
	a = &st.a[r->user];
	if (!contact_of(a->contact, sizeof(a->contact), op, r->user))
		return BENCH_FAIL;
	r->contact = a->contact;
	return bench_reg_first(op, r, out);
}

static enum bench_act setup_response(struct bench_op *op,
	const struct bench_msg *resp, struct bench_out *out)
{
	const struct bench_reg *r = op->priv;
	enum bench_act act = bench_reg_response(op, resp, out);

	if (act == BENCH_DONE)
		st.bound++;
	else if (act == BENCH_FAIL)
		st.a[r->user].contact[0] = '\0';
	return act;
}

static uint64_t setup_ops(const struct bench_cfg *cfg)
{
	return cfg->aors;
}

static const struct bench_scen redirect_setup = {
	.name = "redirect-setup",
	.help = "register uK's one Contact",
	.op_size = sizeof(struct bench_reg),
	.start = setup_start,
	.on_response = setup_response,
};

static enum bench_act down_start(struct bench_op *op, struct bench_out *out)
{
	struct bench_reg *r = op->priv;

	do
		r->user = ++st.next_down;
	while (r->user <= st.n && !st.a[r->user].contact[0]);
	if (r->user > st.n)
		return BENCH_FAIL;
	r->remove = true;
	r->contact = st.a[r->user].contact;
	return bench_reg_first(op, r, out);
}

static uint64_t down_ops(const struct bench_cfg *cfg)
{
	(void)cfg;
	return st.bound;
}

static const struct bench_scen redirect_down = {
	.name = "redirect-teardown",
	.help = "uK's binding goes",
	.op_size = sizeof(struct bench_reg),
	.start = down_start,
	.on_response = bench_reg_response,
};

/* ---- the run: INVITE, 302, ACK ---- */

struct call {
	uint32_t k;
};

static enum bench_act call_start(struct bench_op *op, struct bench_out *out)
{
	const char *domain = bench_cfg(op->b)->domain;
	struct call *c = op->priv;
	char user[16], aor[300];

	if (!st.n)
		return BENCH_FAIL;
	c->k = st.next_call++ % st.n + 1;
	bench_name_k(user, sizeof(user), 'u', c->k);
	if (bench_sip_uri(aor, sizeof(aor), user, domain))
		return BENCH_FAIL;
	bench_put_reqline(out, op, "INVITE", aor);
	bench_out_lit(out, "From: <sip:bench@");
	bench_out_puts(out, domain);
	bench_out_lit(out, ">;tag=");
	bench_put_opid(out, op);
	bench_out_printf(out, "\r\nTo: <%s>\r\n", aor);
	bench_put_callid(out, op);
	bench_put_cseq(out, 1, "INVITE");
	bench_put_contact(out, op, "bench", true);
	bench_out_lit(out, "User-Agent: herald-bench\r\n");
	bench_put_end(out, "application/sdp", sdp, sizeof(sdp) - 1);
	return BENCH_SEND;
}

/*
 * Copy the top Via of resp as we sent it: without the received and the
 * rport value the server added (RFC 3261 18.2.1, RFC 3581 4).
 */
static void put_via(struct bench_out *o, const struct bench_msg *resp)
{
	struct hr_pl val;
	const char *p, *end, *semi;
	size_t n;

	if (!bench_msg_hdr(resp, "Via", 'v', &val)) {
		o->full = true;
		return;
	}
	end = val.p + val.len;
	semi = memchr(val.p, ';', val.len);
	p = semi ? semi : end;
	bench_out_lit(o, "Via: ");
	bench_out_put(o, val.p, (size_t)(p - val.p));
	while (p < end) {
		semi = memchr(p + 1, ';', (size_t)(end - p - 1));
		n = (size_t)((semi ? semi : end) - p);
		if (n > 6 && strncmp(p, ";rport=", 7) == 0)
			bench_out_lit(o, ";rport");
		else if (!(n > 9 && strncmp(p, ";received=", 10) == 0))
			bench_out_put(o, p, n);
		p += n;
	}
	bench_out_lit(o, "\r\n");
}

/* Copy the header called name (or compact) from resp: false if none. */
static bool put_copy(struct bench_out *o, const struct bench_msg *resp,
	const char *name, char compact)
{
	struct hr_pl val;

	if (!bench_msg_hdr(resp, name, compact, &val))
		return false;
	bench_out_puts(o, name);
	bench_out_lit(o, ": ");
	bench_out_putpl(o, &val);
	bench_out_lit(o, "\r\n");
	return true;
}

/*
 * RFC 3261 17.1.1.3: the ACK for a non-2xx final response has the
 * INVITE's Request-URI (ours is its To URI), Call-ID, From and top Via,
 * the response's To (with the tag) and the INVITE's CSeq number with
 * method ACK. Built from resp alone, so that a retransmitted response to
 * an op that is gone is ACKed the same. false if resp lacks a part.
 */
static bool put_ack(struct bench_out *o, const struct bench_msg *resp)
{
	struct hr_pl to, tag;
	const char *lt, *gt;
	size_t num = 0;

	if (!bench_msg_hdr(resp, "To", 't', &to) ||
	    !bench_msg_tag(resp, "To", 't', &tag))
		return false;
	lt = memchr(to.p, '<', to.len);
	gt = lt ? memchr(lt, '>', to.len - (size_t)(lt - to.p)) : NULL;
	while (num < resp->cseq.len && resp->cseq.p[num] >= '0' &&
	       resp->cseq.p[num] <= '9')
		num++;
	if (!gt || num == 0)
		return false;
	bench_out_lit(o, "ACK ");
	bench_out_put(o, lt + 1, (size_t)(gt - lt - 1));
	bench_out_lit(o, " SIP/2.0\r\n");
	put_via(o, resp);
	bench_out_lit(o, "Max-Forwards: 70\r\n");
	if (!put_copy(o, resp, "From", 'f') || !put_copy(o, resp, "To", 't') ||
	    !put_copy(o, resp, "Call-ID", 'i'))
		return false;
	bench_out_lit(o, "CSeq: ");
	bench_out_put(o, resp->cseq.p, num);
	bench_out_lit(o, " ACK\r\n");
	bench_put_end(o, NULL, NULL, 0);
	if (o->full)
		return false;
	st.acks++;
	return true;
}

/* Does any Contact of resp name uri (as <uri>)? */
static bool has_contact(const struct bench_msg *resp, const char *uri)
{
	size_t len = strlen(uri), cur = 0;
	struct hr_pl name, val;
	const char *p;

	while (bench_msg_hdr_next(resp, &cur, &name, &val)) {
		if (hr_pl_strcasecmp(&name, "Contact") &&
		    hr_pl_strcasecmp(&name, "m"))
			continue;
		for (p = val.p; (p = memchr(p, '<', (size_t)(val.p +
		     val.len - p))) != NULL; p++) {
			if ((size_t)(val.p + val.len - p) >= len + 2 &&
			    memcmp(p + 1, uri, len) == 0 && p[len + 1] == '>')
				return true;
		}
	}
	return false;
}

static bool cseq_invite(const struct bench_msg *resp)
{
	const struct hr_pl *c = &resp->cseq;

	return c->len > 7 && memcmp(c->p + c->len - 7, " INVITE", 7) == 0;
}

static enum bench_act call_response(struct bench_op *op,
	const struct bench_msg *resp, struct bench_out *out)
{
	const struct call *c = op->priv;
	bool acked;

	st.last_final = bench_now();
	if (resp->scode < 300)
		return BENCH_FAIL;      /* a 2xx would need a dialog */
	acked = put_ack(out, resp);
	if (resp->scode != 302 || !acked)
		return acked ? BENCH_FAIL_SEND : BENCH_FAIL;
	if (!has_contact(resp, st.a[c->k].contact)) {
		st.no_contact++;
		return BENCH_FAIL_SEND;
	}
	return BENCH_DONE_SEND;
}

/* RFC 3261 17.1.1.2: a retransmitted final response is ACKed again. */
static bool call_other_response(struct bench *b,
	const struct bench_msg *resp, struct bench_out *out)
{
	(void)b;
	if (resp->scode < 300 || !cseq_invite(resp))
		return false;
	st.retransmits++;
	return put_ack(out, resp);
}

/* UDP: the 302s of the last ops may still come again. */
static uint64_t call_settle(const struct bench *b)
{
	uint64_t end = st.last_final + RETRANS_WAIT, now = bench_now();

	if (bench_cfg(b)->tp != BENCH_UDP || !st.last_final)
		return 0;
	return now < end ? end - now : 0;
}

static void call_summary_tail(const struct bench *b)
{
	(void)b;
	printf(" retransmits=%llu", (unsigned long long)st.retransmits);
}

/* After the summary: a 302 without uK's Contact fails the run;
 * retransmissions are only told (a datagram may be lost). */
static bool call_failed(const struct bench *b)
{
	if (bench_cfg(b)->verbose || st.no_contact)
		bench_err("redirect: aors=%u acks=%llu no_contact=%llu",
			st.bound, (unsigned long long)st.acks,
			(unsigned long long)st.no_contact);
	if (st.retransmits)
		bench_err("redirect: %llu final responses came again: "
			"ACKs that did not match, or datagrams lost",
			(unsigned long long)st.retransmits);
	return st.no_contact > 0;
}

static void call_configure(struct bench_cfg *cfg)
{
	if (!cfg->aors)
		cfg->aors = REDIRECT_AORS;
	if (cfg->users && cfg->aors > cfg->users)
		cfg->aors = cfg->users;
}

const struct bench_scen bench_scen_redirect = {
	.name = "redirect",
	.help = "INVITE uK, expect 302 with uK's Contact, ACK",
	.op_size = sizeof(struct call),
	.start = call_start,
	.on_response = call_response,
	.setup = &redirect_setup,
	.setup_ops = setup_ops,
	.setup_all = true,
	.teardown = &redirect_down,
	.teardown_ops = down_ops,
	.on_other_response = call_other_response,
	.settle = call_settle,
	.summary_tail = call_summary_tail,
	.failed = call_failed,
	.configure = call_configure,
};
