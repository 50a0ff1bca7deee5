/*
 * Writing and reading SIP messages on the generator's side. The reader
 * finds only what matching needs (status, top Via branch, Call-ID, CSeq);
 * the server's parser is what is being measured, not this one.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "bench.h"

void bench_out_put(struct bench_out *o, const char *s, size_t n)
{
	if (o->full || n > o->cap - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

void bench_out_puts(struct bench_out *o, const char *s)
{
	bench_out_put(o, s, strlen(s));
}

void bench_out_putpl(struct bench_out *o, const struct hr_pl *pl)
{
	bench_out_put(o, pl->p, pl->len);
}

void bench_out_putu(struct bench_out *o, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	bench_out_put(o, tmp + i, sizeof(tmp) - i);
}

void bench_out_printf(struct bench_out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len)
		o->full = true;
	else
		o->len += (size_t)n;
}

/* ---- writing the parts of a request ---- */

void bench_name_k(char *buf, size_t n, char c, uint32_t k)
{
	struct bench_out o = { buf, 0, n - 1, false };

	bench_out_put(&o, &c, 1);
	bench_out_putu(&o, k);
	buf[o.len] = '\0';
}

int bench_sip_uri(char *buf, size_t n, const char *user, const char *host)
{
	struct bench_out o = { buf, 0, n - 1, false };

	bench_out_lit(&o, "sip:");
	if (user) {
		bench_out_puts(&o, user);
		bench_out_lit(&o, "@");
	}
	bench_out_puts(&o, host);
	if (o.full)
		return ENOSPC;
	buf[o.len] = '\0';
	return 0;
}

void bench_put_reqline(struct bench_out *o, struct bench_op *op,
	const char *method, const char *ruri)
{
	bench_out_puts(o, method);
	bench_out_lit(o, " ");
	bench_out_puts(o, ruri);
	bench_out_lit(o, " SIP/2.0\r\n");
	bench_put_via(o, op);
	bench_out_lit(o, "Max-Forwards: 70\r\n");
}

void bench_put_from_to(struct bench_out *o, const struct bench_op *op,
	const char *aor)
{
	bench_out_lit(o, "From: <");
	bench_out_puts(o, aor);
	bench_out_lit(o, ">;tag=");
	bench_put_opid(o, op);
	bench_out_lit(o, "\r\nTo: <");
	bench_out_puts(o, aor);
	bench_out_lit(o, ">\r\n");
}

void bench_put_cseq(struct bench_out *o, uint32_t cseq, const char *method)
{
	bench_out_lit(o, "CSeq: ");
	bench_out_putu(o, cseq);
	bench_out_lit(o, " ");
	bench_out_puts(o, method);
	bench_out_lit(o, "\r\n");
}

void bench_put_contact(struct bench_out *o, const struct bench_op *op,
	const char *user, bool tp_param)
{
	bench_out_lit(o, "Contact: <sip:");
	bench_out_puts(o, user);
	bench_out_lit(o, "@");
	bench_out_puts(o, op->laddr);
	if (tp_param)
		bench_put_tp_param(o, op->b);
	bench_out_lit(o, ">\r\n");
}

/* ---- reading ---- */

static const char *find_crlf(const char *p, const char *end)
{
	const char *q;

	while ((q = memchr(p, '\r', (size_t)(end - p))) != NULL) {
		if (q + 1 < end && q[1] == '\n')
			return q;
		p = q + 1;
	}
	return NULL;
}

static void trim(struct hr_pl *pl)
{
	while (pl->len && (pl->p[0] == ' ' || pl->p[0] == '\t')) {
		pl->p++;
		pl->len--;
	}
	while (pl->len && (pl->p[pl->len - 1] == ' ' ||
			pl->p[pl->len - 1] == '\t' ||
			pl->p[pl->len - 1] == '\r' ||
			pl->p[pl->len - 1] == '\n'))
		pl->len--;
}

static bool name_is(const struct hr_pl *name, const char *longn, char c)
{
	if (name->len == 1)
		return c && (name->p[0] | 0x20) == c;
	return hr_pl_strcasecmp(name, longn) == 0;
}

static int scan_status(struct bench_msg *msg, const char *p, size_t n)
{
	unsigned i, v = 0;

	/* "SIP/2.0 200 OK" */
	if (n < 12 || p[11] != ' ')
		return EBADMSG;
	for (i = 8; i < 11; i++) {
		if (p[i] < '0' || p[i] > '9')
			return EBADMSG;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	msg->req = false;
	msg->scode = (uint16_t)v;
	msg->reason.p = p + 12;
	msg->reason.len = n - 12;
	return 0;
}

static int scan_reqline(struct bench_msg *msg, const char *p, size_t n)
{
	const char *sp1, *sp2;

	sp1 = memchr(p, ' ', n);
	if (!sp1 || sp1 == p)
		return EBADMSG;
	sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - p));
	if (!sp2)
		return EBADMSG;
	msg->req = true;
	msg->method.p = p;
	msg->method.len = (size_t)(sp1 - p);
	msg->ruri.p = sp1 + 1;
	msg->ruri.len = (size_t)(sp2 - sp1 - 1);
	return 0;
}

/* The branch of the first Via value in a Via header line. */
static void scan_branch(struct bench_msg *msg, const struct hr_pl *val)
{
	const char *p = val->p, *end = val->p + val->len, *comma;

	comma = memchr(p, ',', val->len);
	if (comma)
		end = comma;
	while ((p = memchr(p, ';', (size_t)(end - p))) != NULL) {
		p++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (end - p > 7 && strncasecmp(p, "branch=", 7) == 0) {
			msg->branch.p = p + 7;
			p += 7;
			while (p < end && *p != ';' && *p != ' ' && *p != '\t')
				p++;
			msg->branch.len = (size_t)(p - msg->branch.p);
			return;
		}
	}
}

static void scan_hdr(struct bench_msg *msg, const struct hr_pl *name,
	const struct hr_pl *val)
{
	if (!msg->branch.p && name_is(name, "Via", 'v'))
		scan_branch(msg, val);
	else if (!msg->callid.p && name_is(name, "Call-ID", 'i'))
		msg->callid = *val;
	else if (!msg->cseq.p && name_is(name, "CSeq", 0))
		msg->cseq = *val;
}

int bench_msg_scan(struct bench_msg *msg, const char *p, size_t len)
{
	const char *end = p + len, *eol, *hend;
	struct hr_pl name, val;
	size_t cur = 0;
	int err;

	memset(msg, 0, sizeof(*msg));
	msg->p = p;
	msg->len = len;
	eol = find_crlf(p, end);
	if (!eol)
		return EBADMSG;
	if ((size_t)(eol - p) >= 8 && memcmp(p, "SIP/2.0 ", 8) == 0)
		err = scan_status(msg, p, (size_t)(eol - p));
	else
		err = scan_reqline(msg, p, (size_t)(eol - p));
	if (err)
		return err;
	hend = memmem(eol, (size_t)(end - eol), "\r\n\r\n", 4);
	if (!hend)
		return EBADMSG;
	msg->hdrs.p = eol + 2;
	msg->hdrs.len = (size_t)(hend + 2 - msg->hdrs.p);
	msg->body.p = hend + 4;
	msg->body.len = (size_t)(end - msg->body.p);
	while (bench_msg_hdr_next(msg, &cur, &name, &val))
		scan_hdr(msg, &name, &val);
	return 0;
}

size_t bench_msg_contact_uri(const struct bench_msg *msg, char *out,
	size_t n)
{
	struct hr_pl val;
	const char *lt, *gt;
	size_t len;

	if (!bench_msg_hdr(msg, "Contact", 'm', &val))
		return 0;
	lt = memchr(val.p, '<', val.len);
	gt = lt ? memchr(lt, '>', val.len - (size_t)(lt - val.p)) : NULL;
	if (!lt || !gt)
		return 0;
	len = (size_t)(gt - lt - 1);
	if (len >= n || len < 5)
		return 0;
	memcpy(out, lt + 1, len);
	out[len] = '\0';
	return len;
}

bool bench_msg_hdr_next(const struct bench_msg *msg, size_t *cur,
	struct hr_pl *name, struct hr_pl *val)
{
	const char *p = msg->hdrs.p + *cur, *end = msg->hdrs.p + msg->hdrs.len;
	const char *eol, *colon, *lend = p;

	if (p >= end)
		return false;
	/* A line starting with SP or HTAB continues the one before. */
	do {
		eol = find_crlf(lend, end);
		if (!eol)
			eol = end;
		lend = eol + 2;
	} while (lend < end && (*lend == ' ' || *lend == '\t'));
	*cur = (size_t)((lend > end ? end : lend) - msg->hdrs.p);
	colon = memchr(p, ':', (size_t)(eol - p));
	if (!colon)
		return bench_msg_hdr_next(msg, cur, name, val);
	name->p = p;
	name->len = (size_t)(colon - p);
	trim(name);
	val->p = colon + 1;
	val->len = (size_t)(eol - colon - 1);
	trim(val);
	return true;
}

bool bench_msg_hdr(const struct bench_msg *msg, const char *name,
	char compact, struct hr_pl *val)
{
	struct hr_pl n;
	size_t cur = 0;

	while (bench_msg_hdr_next(msg, &cur, &n, val)) {
		if (name_is(&n, name, compact))
			return true;
	}
	return false;
}

bool bench_msg_tag(const struct bench_msg *msg, const char *name,
	char compact, struct hr_pl *tag)
{
	struct hr_pl val;
	const char *p, *end, *gt;

	if (!bench_msg_hdr(msg, name, compact, &val))
		return false;
	p = val.p;
	end = val.p + val.len;
	/* parameters of the URI inside <> are not the header's */
	gt = memchr(p, '>', val.len);
	if (gt)
		p = gt + 1;
	while ((p = memchr(p, ';', (size_t)(end - p))) != NULL) {
		p++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (end - p > 4 && strncasecmp(p, "tag=", 4) == 0) {
			tag->p = p + 4;
			p += 4;
			while (p < end && *p != ';' && *p != ',' &&
			       *p != ' ' && *p != '\t')
				p++;
			tag->len = (size_t)(p - tag->p);
			return tag->len > 0;
		}
	}
	return false;
}

/* The value of Content-Length (or "l") in a header block. */
static int frame_clen(const char *p, const char *end, size_t *clen)
{
	const char *eol, *colon;
	struct hr_pl name, val;
	uint64_t v;

	for (; p < end; p = eol + 2) {
		eol = find_crlf(p, end);
		if (!eol)
			eol = end;
		colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon)
			continue;
		name.p = p;
		name.len = (size_t)(colon - p);
		trim(&name);
		if (!name_is(&name, "Content-Length", 'l'))
			continue;
		val.p = colon + 1;
		val.len = (size_t)(eol - colon - 1);
		trim(&val);
		if (hr_pl_u64(&val, BENCH_MAX_MSG * 64, &v))
			return EBADMSG;
		*clen = (size_t)v;
		return 0;
	}
	return EBADMSG;
}

int bench_msg_frame(const char *p, size_t len, size_t max, size_t *msglen)
{
	const char *hend;
	size_t hlen, clen;
	int err;

	hend = memmem(p, len, "\r\n\r\n", 4);
	if (!hend)
		return len > max ? EMSGSIZE : ENODATA;
	hlen = (size_t)(hend + 4 - p);
	err = frame_clen(p, hend + 2, &clen);
	if (err)
		return err;
	if (hlen + clen > max)
		return EMSGSIZE;
	if (hlen + clen > len)
		return ENODATA;
	*msglen = hlen + clen;
	return 0;
}

/* ---- NOTIFYs to reg-fanout's and presence-fanout's watchers ---- */

bool bench_notify_state(const struct bench_msg *req, bool *terminated)
{
	struct hr_pl state;

	if (hr_pl_strcmp(&req->method, "NOTIFY") ||
	    !bench_msg_hdr(req, "Subscription-State", 0, &state))
		return false;
	*terminated = state.len >= 10 &&
		strncasecmp(state.p, "terminated", 10) == 0;
	return true;
}

/* Parse digits at *p (up to end) into v: false when there are none. */
static bool digits(const char **p, const char *end, uint64_t *v)
{
	const char *s = *p;

	*v = 0;
	while (*p < end && **p >= '0' && **p <= '9' && *v < UINT64_MAX / 10)
		*v = *v * 10 + (uint64_t)(*(*p)++ - '0');
	return *p > s;
}

uint32_t bench_notify_watcher(const struct bench_msg *req)
{
	struct hr_pl tag;
	const char *p;
	uint64_t k;

	if (hr_pl_strcmp(&req->method, "NOTIFY") ||
	    !bench_msg_tag(req, "To", 't', &tag) || tag.len < 3 ||
	    tag.p[0] != 'w')
		return 0;
	p = tag.p + 1;
	if (!digits(&p, tag.p + tag.len, &k) || p == tag.p + tag.len ||
	    *p != '.' || k == 0 || k > UINT32_MAX)
		return 0;
	return (uint32_t)k;
}

uint64_t bench_body_seq(const struct bench *b, const struct hr_pl *body,
	const char *key)
{
	size_t klen = strlen(key);
	const char *p = body->p, *end = body->p + body->len, *q;
	uint64_t v, best = 0;

	while ((q = memmem(p, (size_t)(end - p), key, klen))) {
		p = q + klen;
		if (!digits(&p, end, &v) || end - p < BENCH_RUNID_LEN + 1 ||
		    *p != '-' ||
		    memcmp(p + 1, bench_runid(b), BENCH_RUNID_LEN) != 0)
			continue;
		if (v > best)
			best = v;
	}
	return best;
}
