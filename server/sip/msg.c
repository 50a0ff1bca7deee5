/*
 * SIP messages (RFC 3261 7, 20, 25): framing, the start line, header
 * lines with folding and compact forms, list splitting, and decoding of
 * the headers every request needs. The bytes are copied once into the
 * message; everything else is a slice of that copy.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "sip_int.h"

#define HDR_INLINE 32

struct msgm {
	struct hr_msg msg;
	struct hr_hdr *ext;             /* malloc'd when HDR_INLINE is short */
	unsigned hdr_cap;
	uint8_t first[HR_HDR__N];       /* index of the first of each id */
	uint8_t count[HR_HDR__N];       /* values of each id */
	struct hr_hdr inl[HDR_INLINE];
	char buf[];
};

static void msg_destroy(void *data)
{
	struct msgm *m = data;

	free(m->ext);
	hr_mem_deref(m->msg.conn);
}

#define STR_(x) #x
#define STR(x) STR_(x)

static void bad(struct hr_msg *msg, uint16_t scode, const char *reason)
{
	if (!msg->err_scode) {
		msg->err_scode = scode;
		msg->err_reason = reason;
	}
}

/* ---- lines ---- */

struct line {
	const char *p;     /* start */
	const char *e;     /* end, CR LF excluded */
	const char *next;  /* start of the next line */
	bool eol;          /* ended by LF (not by the end of the data) */
};

static void line_at(struct line *l, const char *p, const char *end)
{
	const char *lf = memchr(p, '\n', (size_t)(end - p));

	l->p = p;
	l->eol = lf != NULL;
	l->next = lf ? lf + 1 : end;
	l->e = lf ? lf : end;
	if (l->e > p && l->e[-1] == '\r')
		l->e--;
}

/* ---- start line ---- */

static bool version_ok(struct hr_msg *msg, const struct hr_pl *ver)
{
	const char *p = ver->p, *end = ver->p + ver->len;
	const char *dot;

	if (ver->len < 7 || strncasecmp(p, "SIP/", 4) != 0)
		return false;
	p += 4;
	dot = memchr(p, '.', (size_t)(end - p));
	if (!dot || dot == p || dot + 1 == end)
		return false;
	for (const char *q = p; q < end; q++) {
		if (q != dot && !cc_is(*q, CC_DIGIT))
			return false;
	}
	if (ver->len != 7 || memcmp(p, "2.0", 3) != 0)
		bad(msg, 505, "Version Not Supported");
	return true;
}

static void request_line(struct hr_msg *msg, const struct line *l)
{
	struct hr_pl line = { l->p, (size_t)(l->e - l->p) };
	const char *sp1, *sp2;
	struct cur c;

	msg->req = true;
	sp1 = hr_pl_chr(&line, ' ');
	if (!sp1)
		goto bad;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(l->e - sp1 - 1));
	if (!sp2 || memchr(sp2 + 1, ' ', (size_t)(l->e - sp2 - 1)))
		goto bad;
	msg->method.p = l->p;
	msg->method.len = (size_t)(sp1 - l->p);
	cur_init(&c, &msg->method);
	if (hr_cur_token(&c, &msg->method, HR_TOKEN_MAX) || !cur_eof(&c))
		goto bad;
	msg->meth = hr_method_id(&msg->method);
	msg->ruri_pl.p = sp1 + 1;
	msg->ruri_pl.len = (size_t)(sp2 - sp1 - 1);
	msg->ver.p = sp2 + 1;
	msg->ver.len = (size_t)(l->e - sp2 - 1);
	if (!msg->ruri_pl.len || !version_ok(msg, &msg->ver))
		goto bad;
	if (hr_uri_decode(&msg->ruri, &msg->ruri_pl))
		bad(msg, 400, "Bad Request-URI");
	return;
bad:
	bad(msg, 400, "Bad Request Line");
}

static void status_line(struct hr_msg *msg, const struct line *l)
{
	struct hr_pl line = { l->p, (size_t)(l->e - l->p) };
	const char *sp = hr_pl_chr(&line, ' ');
	const char *code;
	uint64_t v;
	struct hr_pl num;

	msg->req = false;
	if (!sp)
		goto bad;
	msg->ver.p = l->p;
	msg->ver.len = (size_t)(sp - l->p);
	if (!version_ok(msg, &msg->ver))
		goto bad;
	code = sp + 1;
	num.p = code;
	num.len = 3;
	if (l->e - code < 3 || (l->e - code > 3 && code[3] != ' ') ||
	    hr_pl_u64(&num, 699, &v) || v < 100)
		goto bad;
	msg->scode = (uint16_t)v;
	if (l->e - code > 4) {
		msg->reason.p = code + 4;
		msg->reason.len = (size_t)(l->e - code - 4);
	}
	return;
bad:
	bad(msg, 400, "Bad Status Line");
}

/* ---- header lines ---- */

static inline int hdr_add(struct hr_msg *msg, const struct hr_pl *name,
	const struct hr_pl *val, enum hr_hdr_id id)
{
	struct msgm *m = (struct msgm *)msg;
	struct hr_hdr *h;

	if (msg->hdrc == m->hdr_cap) {
		if (m->hdr_cap >= HR_SIP_MAX_HDRS)
			return EMSGSIZE;
		m->ext = malloc(HR_SIP_MAX_HDRS * sizeof(*m->ext));
		if (!m->ext)
			return ENOMEM;
		memcpy(m->ext, m->inl, sizeof(m->inl));
		msg->hdrv = m->ext;
		m->hdr_cap = HR_SIP_MAX_HDRS;
	}
	if (id != HR_HDR_OTHER) {
		if (!m->count[id])
			m->first[id] = (uint8_t)msg->hdrc;
		m->count[id]++;
	}
	h = &msg->hdrv[msg->hdrc++];
	h->name = *name;
	h->val = *val;
	h->id = id;
	return 0;
}

static const bool split_special[256] = {
	['\\'] = true, ['"'] = true, ['<'] = true, ['>'] = true, [','] = true,
};

/* RFC 3261 7.3.1: a list header is split at commas outside quoted strings
 * and <...> (a URI in angle brackets may hold commas). */
static int hdr_split(struct hr_msg *msg, const struct hr_pl *name,
	const struct hr_pl *val, enum hr_hdr_id id)
{
	const char *p = val->p, *end = val->p + val->len, *s = p;
	bool q = false, angle = false;
	int err = 0;

	/* most list headers hold one element */
	if (!memchr(p, ',', val->len))
		return val->len ? hdr_add(msg, name, val, id) : 0;
	for (; p <= end && !err; p++) {
		struct hr_pl elem;

		if (p < end) {
			/* skip the plain characters in one run */
			while (p < end && !split_special[(unsigned char)*p])
				p++;
			if (p == end)
				goto last;
			if (q && *p == '\\' && p + 1 < end) {
				p++;
				continue;
			}
			if (*p == '"' && !angle)
				q = !q;
			else if (*p == '<' && !q)
				angle = true;
			else if (*p == '>' && !q)
				angle = false;
			if (q || angle || *p != ',')
				continue;
		}
last:
		elem.p = s;
		elem.len = (size_t)(p - s);
		hr_pl_trim(&elem);
		if (elem.len)
			err = hdr_add(msg, name, &elem, id);
		s = p + 1;
	}
	return err;
}

static int header_line(struct hr_msg *msg, const char *p, const char *e)
{
	const char *colon = memchr(p, ':', (size_t)(e - p));
	struct hr_pl name = { p, 0 }, val;
	enum hr_hdr_id id;

	if (!colon)
		return EBADMSG;
	name.len = (size_t)(colon - p);
	while (name.len && is_ws(name.p[name.len - 1]))
		name.len--;
	if (!name.len || name.len > HR_TOKEN_MAX)
		return EBADMSG;
	/* a known name is all letters and '-': only others need checking */
	id = hr_hdr_id(&name);
	if (id == HR_HDR_OTHER) {
		for (size_t i = 0; i < name.len; i++) {
			if (!cc_is(name.p[i], CC_TOKEN))
				return EBADMSG;
		}
	}
	val.p = colon + 1;
	val.len = (size_t)(e - val.p);
	hr_pl_trim(&val);
	if (hr_hdr_is_list(id))
		return hdr_split(msg, &name, &val, id);
	return hdr_add(msg, &name, &val, id);
}

static const char *header_section(struct hr_msg *msg, const char *p,
	const char *end)
{
	struct line l;
	const char *body;

	while (p < end) {
		const char *hs;
		int err;

		line_at(&l, p, end);
		if (l.e == l.p)
			return l.eol ? l.next : NULL;
		if (is_ws(*l.p)) {
			bad(msg, 400, "Malformed Header");
			p = l.next;
			continue;
		}
		hs = l.p;
		p = l.next;
		while (p < end && is_ws(*p)) {
			line_at(&l, p, end);
			p = l.next;
		}
		err = header_line(msg, hs, l.e);
		if (err == EMSGSIZE) {
			bad(msg, 400, "Too Many Headers");
			msg->err_limit = "more than " STR(HR_SIP_MAX_HDRS)
				" header values";
			break;
		}
		if (err == ENOMEM) {
			bad(msg, 500, "Out Of Memory");
			break;
		}
		if (err)
			bad(msg, 400, "Malformed Header");
	}
	/* keep looking for the empty line after an early stop */
	body = NULL;
	while (p < end) {
		line_at(&l, p, end);
		if (l.e == l.p && l.eol) {
			body = l.next;
			break;
		}
		p = l.next;
	}
	return body;
}

/* ---- typed headers ---- */

/* Exactly one header with this id: 0, ENOENT when absent, EEXIST when
 * repeated (RFC 4475 3.1.2.19: two values in a single-value header). */
static int single(const struct hr_msg *msg, enum hr_hdr_id id,
	const struct hr_hdr **hp)
{
	unsigned n = hr_msg_hdr_count(msg, id);

	if (!n)
		return ENOENT;
	if (n > 1)
		return EEXIST;
	*hp = hr_msg_hdr(msg, id);
	return 0;
}

static void check_addr(struct hr_msg *msg, enum hr_hdr_id id,
	struct hr_addr *addr, const char *missing, const char *multiple,
	const char *badr)
{
	const struct hr_hdr *h;
	int err = single(msg, id, &h);

	if (err == ENOENT)
		bad(msg, 400, missing);
	else if (err)
		bad(msg, 400, multiple);
	else if (hr_addr_decode(addr, &h->val) || addr->star)
		bad(msg, 400, badr);
}

static void check_callid(struct hr_msg *msg)
{
	const struct hr_hdr *h;
	int err = single(msg, HR_HDR_CALL_ID, &h);
	const char *at;

	if (err) {
		bad(msg, 400, err == ENOENT ? "Missing Call-ID" :
			"Multiple Call-ID");
		return;
	}
	msg->callid = h->val;
	/* callid = word [ "@" word ] */
	at = NULL;
	for (size_t i = 0; i < h->val.len; i++) {
		char c = h->val.p[i];

		if (c == '@' && !at && i > 0 && i + 1 < h->val.len)
			at = h->val.p + i;
		else if (!cc_is(c, CC_WORD))
			goto badid;
	}
	if (h->val.len)
		return;
badid:
	bad(msg, 400, "Bad Call-ID");
}

static void check_cseq(struct hr_msg *msg)
{
	const struct hr_hdr *h;
	int err = single(msg, HR_HDR_CSEQ, &h);

	if (err) {
		bad(msg, 400, err == ENOENT ? "Missing CSeq" : "Multiple CSeq");
		return;
	}
	if (hr_cseq_decode(&msg->cseq, &h->val)) {
		bad(msg, 400, "Bad CSeq");
		return;
	}
	/* RFC 3261 8.1.1.5: the CSeq method MUST match the request's */
	if (msg->req && msg->method.p &&
	    hr_pl_cmp(&msg->cseq.method, &msg->method))
		bad(msg, 400, "CSeq Method Mismatch");
}

static void check_maxfwd(struct hr_msg *msg)
{
	const struct hr_hdr *h;
	int err = single(msg, HR_HDR_MAX_FORWARDS, &h);
	uint64_t v;

	if (err == ENOENT)
		return;
	if (err) {
		bad(msg, 400, "Multiple Max-Forwards");
		return;
	}
	/* RFC 4475 3.1.2.2: an overlarge value may be taken as absent;
	 * clamping it to 255 keeps the hop limit meaningful */
	if (hr_pl_u64_clamp(&h->val, 255, &v)) {
		bad(msg, 400, "Bad Max-Forwards");
		return;
	}
	msg->maxfwd = (int)v;
}

static void check_expires(struct hr_msg *msg)
{
	const struct hr_hdr *h;
	int err = single(msg, HR_HDR_EXPIRES, &h);

	if (err == ENOENT)
		return;
	if (err)
		bad(msg, 400, "Multiple Expires");
	else if (hr_delta_decode(&h->val, &msg->expires))
		bad(msg, 400, "Bad Expires");
	else
		msg->has_expires = true;
}

static void check_ctype(struct hr_msg *msg)
{
	const struct hr_hdr *h;
	int err = single(msg, HR_HDR_CONTENT_TYPE, &h);

	if (err == ENOENT)
		return;
	if (err)
		bad(msg, 400, "Multiple Content-Type");
	else if (hr_ctype_decode(&msg->ctype, &h->val))
		bad(msg, 400, "Bad Content-Type");
	else
		msg->has_ctype = true;
}

/* Content-Length: all values must agree. 0 and *clen, ENOENT, EBADMSG. */
static int content_length(const struct hr_msg *msg, uint64_t *clen)
{
	const struct hr_hdr *h = hr_msg_hdr(msg, HR_HDR_CONTENT_LENGTH);
	bool seen = false;

	for (; h; h = hr_msg_hdr_next(msg, h)) {
		uint64_t v;

		if (hr_pl_u64(&h->val, UINT32_MAX, &v))
			return EBADMSG;
		if (seen && v != *clen)
			return EBADMSG;
		*clen = v;
		seen = true;
	}
	return seen ? 0 : ENOENT;
}

/* RFC 3261 18.3: on a datagram the body runs to the end unless
 * Content-Length says less (extra bytes are dropped); a stream needs
 * Content-Length. */
static void body(struct hr_msg *msg, const char *b, const char *end,
	bool stream)
{
	uint64_t clen = 0;
	int err = content_length(msg, &clen);

	msg->body.p = b ? b : end;
	msg->body.len = b ? (size_t)(end - b) : 0;
	if (err == ENOENT) {
		if (stream)
			bad(msg, 400, "Missing Content-Length");
		return;
	}
	if (err || clen > msg->body.len) {
		bad(msg, 400, "Bad Content-Length");
		return;
	}
	msg->body.len = (size_t)clen;
}

static void check_via(struct hr_msg *msg)
{
	const struct hr_hdr *h = hr_msg_hdr(msg, HR_HDR_VIA);

	if (!h) {
		bad(msg, 400, "Missing Via");
		return;
	}
	if (hr_via_decode(&msg->via, &h->val)) {
		bad(msg, 400, "Bad Via");
		return;
	}
	msg->has_via = true;
}

static void check_text(struct hr_msg *msg, const char *p, const char *end)
{
	bool nul;
	bool ok = hr_utf8_valid_nonul(p, (size_t)(end - p), &nul);

	if (nul)
		bad(msg, 400, "NUL In Headers");
	else if (!ok)
		bad(msg, 400, "Invalid UTF-8");
}

static int parse(struct hr_msg *msg, bool stream)
{
	const char *p = msg->buf, *end = msg->buf + msg->len, *b;
	struct line l;

	/* RFC 3261 7.5: CRLFs before the start line are ignored */
	while (p < end && (*p == '\r' || *p == '\n'))
		p++;
	if (p == end)
		return EBADMSG;
	line_at(&l, p, end);
	if (l.e - l.p >= 4 && strncasecmp(l.p, "SIP/", 4) == 0)
		status_line(msg, &l);
	else
		request_line(msg, &l);
	b = header_section(msg, l.next, end);
	check_text(msg, p, b ? b : end);
	if (!b)
		bad(msg, 400, "Missing Empty Line");
	check_via(msg);
	check_addr(msg, HR_HDR_FROM, &msg->from, "Missing From",
		"Multiple From", "Bad From");
	check_addr(msg, HR_HDR_TO, &msg->to, "Missing To", "Multiple To",
		"Bad To");
	check_callid(msg);
	check_cseq(msg);
	check_maxfwd(msg);
	check_expires(msg);
	check_ctype(msg);
	body(msg, b, end, stream);
	return 0;
}

int hr_msg_decode(struct hr_msg **msgp, const char *p, size_t len,
	bool stream)
{
	struct msgm *m;
	int err;

	if (!msgp || (!p && len))
		return EINVAL;
	m = hr_mem_alloc_spare(sizeof(*m) + len + 1, msg_destroy);
	if (!m)
		return ENOMEM;
	memset(m, 0, sizeof(*m) - sizeof(m->inl));
	if (len)
		memcpy(m->buf, p, len);
	m->buf[len] = '\0';
	m->hdr_cap = HDR_INLINE;
	m->msg.buf = m->buf;
	m->msg.len = len;
	m->msg.hdrv = m->inl;
	m->msg.maxfwd = -1;
	err = parse(&m->msg, stream);
	if (err) {
		hr_mem_deref(m);
		return err;
	}
	*msgp = &m->msg;
	return 0;
}

/* ---- stream framing ---- */

static bool is_clen_name(const char *p, const char *colon)
{
	const char *e = colon;

	while (e > p && is_ws(e[-1]))
		e--;
	return (e - p == 1 && (*p == 'l' || *p == 'L')) ||
		(e - p == 14 && strncasecmp(p, "Content-Length", 14) == 0);
}

int hr_msg_frame(const char *p, size_t len, size_t max, size_t *msglen)
{
	const char *s = p, *end = p + len;
	bool have = false;
	uint64_t clen = 0;
	struct line l;

	while (s < end) {
		line_at(&l, s, end);
		if (!l.eol)
			break;
		if (l.e == l.p) {
			size_t hlen = (size_t)(l.next - p);

			if (!have)
				return EBADMSG;
			if (clen > max || hlen > max - clen)
				return EMSGSIZE;
			if (hlen + clen > len)
				return ENODATA;
			*msglen = hlen + (size_t)clen;
			return 0;
		}
		if (s != p) {
			const char *colon = memchr(l.p, ':',
				(size_t)(l.e - l.p));

			if (colon && is_clen_name(l.p, colon)) {
				struct hr_pl v = { colon + 1,
					(size_t)(l.e - colon - 1) };
				uint64_t x;

				hr_pl_trim(&v);
				/* RFC 4475 3.3.9: values that disagree */
				if (hr_pl_u64(&v, UINT32_MAX, &x) ||
				    (have && x != clen))
					return EBADMSG;
				clen = x;
				have = true;
			}
		}
		s = l.next;
	}
	return len > max ? EMSGSIZE : ENODATA;
}

/* ---- header access ---- */

const struct hr_hdr *hr_msg_hdr(const struct hr_msg *msg, enum hr_hdr_id id)
{
	const struct msgm *m = (const struct msgm *)msg;

	if (id > HR_HDR_OTHER && id < HR_HDR__N)
		return m->count[id] ? &msg->hdrv[m->first[id]] : NULL;
	for (unsigned i = 0; i < msg->hdrc; i++) {
		if (msg->hdrv[i].id == id)
			return &msg->hdrv[i];
	}
	return NULL;
}

const struct hr_hdr *hr_msg_hdr_next(const struct hr_msg *msg,
	const struct hr_hdr *prev)
{
	for (const struct hr_hdr *h = prev + 1; h < msg->hdrv + msg->hdrc; h++) {
		if (h->id != prev->id)
			continue;
		if (h->id != HR_HDR_OTHER || !hr_pl_casecmp(&h->name,
			&prev->name))
			return h;
	}
	return NULL;
}

const struct hr_hdr *hr_msg_hdr_byname(const struct hr_msg *msg,
	const char *name)
{
	struct hr_pl n = hr_pl_str(name);
	enum hr_hdr_id id = hr_hdr_id(&n);

	if (id != HR_HDR_OTHER)
		return hr_msg_hdr(msg, id);
	for (unsigned i = 0; i < msg->hdrc; i++) {
		if (msg->hdrv[i].id == HR_HDR_OTHER &&
		    !hr_pl_strcasecmp(&msg->hdrv[i].name, name))
			return &msg->hdrv[i];
	}
	return NULL;
}

unsigned hr_msg_hdr_count(const struct hr_msg *msg, enum hr_hdr_id id)
{
	const struct msgm *m = (const struct msgm *)msg;
	unsigned n = 0;

	if (id > HR_HDR_OTHER && id < HR_HDR__N)
		return m->count[id];

	for (unsigned i = 0; i < msg->hdrc; i++)
		n += msg->hdrv[i].id == id;
	return n;
}

bool hr_msg_hdr_has(const struct hr_msg *msg, enum hr_hdr_id id,
	const char *token)
{
	for (unsigned i = 0; i < msg->hdrc; i++) {
		if (msg->hdrv[i].id == id &&
		    !hr_pl_strcasecmp(&msg->hdrv[i].val, token))
			return true;
	}
	return false;
}

/* ---- printing ---- */

/* A folded value is printed on one line: a run of CR and LF goes, and
 * where no blank follows it a space stands in (the decoder read the run
 * as blank, so the print must keep a blank there). */
static int put_value(struct hr_buf *buf, const struct hr_pl *v)
{
	const char *p = v->p, *end = v->p + v->len;
	int err = 0;

	while (p < end && !err) {
		const char *s = p;

		while (p < end && *p != '\r' && *p != '\n')
			p++;
		err = hr_buf_write(buf, s, (size_t)(p - s));
		if (p == end)
			break;
		while (p < end && (*p == '\r' || *p == '\n'))
			p++;
		if (!err && p < end && *p != ' ' && *p != '\t')
			err = hr_buf_write(buf, " ", 1);
	}
	return err;
}

int hr_msg_print(struct hr_buf *buf, const struct hr_msg *msg)
{
	int err = 0;

	if (msg->req) {
		err |= hr_buf_putpl(buf, &msg->method);
		err |= hr_buf_puts(buf, " ");
		err |= hr_buf_putpl(buf, &msg->ruri_pl);
		err |= hr_buf_puts(buf, " SIP/2.0\r\n");
	} else {
		err |= hr_buf_puts(buf, "SIP/2.0 ");
		err |= hr_buf_putu(buf, msg->scode);
		err |= hr_buf_puts(buf, " ");
		err |= hr_buf_putpl(buf, &msg->reason);
		err |= hr_buf_puts(buf, "\r\n");
	}
	for (unsigned i = 0; i < msg->hdrc && !err; i++) {
		const struct hr_hdr *h = &msg->hdrv[i];
		const char *name = hr_hdr_name(h->id);

		if (name)
			err |= hr_buf_puts(buf, name);
		else
			err |= hr_buf_putpl(buf, &h->name);
		err |= hr_buf_puts(buf, ": ");
		err |= put_value(buf, &h->val);
		err |= hr_buf_puts(buf, "\r\n");
	}
	err |= hr_buf_puts(buf, "\r\n");
	err |= hr_buf_putpl(buf, &msg->body);
	return err ? ENOMEM : 0;
}
