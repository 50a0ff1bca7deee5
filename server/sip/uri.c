/* SIP, SIPS and tel URIs (RFC 3261 19.1 and 25.1, RFC 3966). */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include "sip_int.h"


/* user: unreserved / escaped / "&" "=" "+" "$" "," ";" "?" "/"; '#' is
 * not allowed unescaped but phones send it in feature codes: accepted. */
static bool user_char(char c)
{
	return cc_is(c, CC_UNRES | CC_USERX);
}

static bool password_char(char c)
{
	return c && (cc_is(c, CC_UNRES) || strchr("&=+$,", c) != NULL);
}

/* paramchar / "=" / ";" : unreserved / escaped / "[]/:&+$" */
static bool param_char(char c)
{
	return cc_is(c, CC_UNRES | CC_PARAMX);
}

/* hvalue / hname / "=" / "&" : unreserved / escaped / "[]/?:+$" */
static bool header_char(char c)
{
	return c && (cc_is(c, CC_UNRES) || strchr("[]/?:+$=&", c) != NULL);
}

static int check_run(const struct hr_pl *pl, bool (*ok)(char))
{
	const char *p = pl->p, *end = pl->p + pl->len;

	while (p < end) {
		if (*p == '%') {
			if (end - p < 3 || !cc_is(p[1], CC_HEX) ||
			    !cc_is(p[2], CC_HEX))
				return EBADMSG;
			p += 3;
			continue;
		}
		if (!ok(*p))
			return EBADMSG;
		p++;
	}
	return 0;
}

static int scheme(struct hr_uri *uri, struct cur *c)
{
	const char *s = c->p;

	if (cur_eof(c) || !cc_is(*c->p, CC_HOST) || cc_is(*c->p, CC_DIGIT))
		return EBADMSG;
	while (c->p < c->end && (cc_is(*c->p, CC_HOST) || *c->p == '+'))
		c->p++;
	if (c->p >= c->end || *c->p != ':')
		return EBADMSG;
	uri->scheme_pl.p = s;
	uri->scheme_pl.len = (size_t)(c->p - s);
	c->p++;
	if (hr_pl_strcasecmp(&uri->scheme_pl, "sip") == 0)
		uri->scheme = HR_URI_SIP;
	else if (hr_pl_strcasecmp(&uri->scheme_pl, "sips") == 0)
		uri->scheme = HR_URI_SIPS;
	else if (hr_pl_strcasecmp(&uri->scheme_pl, "tel") == 0)
		uri->scheme = HR_URI_TEL;
	else
		uri->scheme = HR_URI_OTHER;
	return 0;
}

/* params and headers after the hostport, up to the end */
static int tail(struct hr_uri *uri, struct cur *c)
{
	const char *q;
	struct hr_pl rest = { c->p, (size_t)(c->end - c->p) };

	q = hr_pl_chr(&rest, '?');
	uri->params.p = c->p;
	uri->params.len = (size_t)((q ? q : c->end) - c->p);
	if (uri->params.len && uri->params.p[0] != ';')
		return EBADMSG;
	if (check_run(&uri->params, param_char))
		return EBADMSG;
	if (q) {
		uri->headers.p = q + 1;
		uri->headers.len = (size_t)(c->end - q - 1);
		if (check_run(&uri->headers, header_char))
			return EBADMSG;
	}
	c->p = c->end;
	return 0;
}

static int userinfo(struct hr_uri *uri, struct cur *c)
{
	/* '@' appears in no other part of a SIP URI (RFC 3261 25.1): the
	 * first one ends the userinfo, which may hold '?', ';' and '/' */
	const char *at = memchr(c->p, '@', (size_t)(c->end - c->p));
	const char *colon;

	if (!at)
		return 0;
	uri->user.p = c->p;
	uri->user.len = (size_t)(at - c->p);
	colon = hr_pl_chr(&uri->user, ':');
	if (colon) {
		uri->password.p = colon + 1;
		uri->password.len = (size_t)(at - colon - 1);
		uri->user.len = (size_t)(colon - c->p);
		if (check_run(&uri->password, password_char))
			return EBADMSG;
	}
	/* RFC 3261 25.1: user = 1*( unreserved / escaped / user-unreserved ) */
	if (uri->user.len == 0 || check_run(&uri->user, user_char))
		return EBADMSG;
	c->p = at + 1;
	return 0;
}

static int sip_uri(struct hr_uri *uri, struct cur *c)
{
	int err;

	err = userinfo(uri, c);
	if (!err)
		err = hr_cur_host(c, &uri->host, &uri->ipv6);
	if (!err)
		err = hr_cur_port(c, &uri->port);
	if (!err)
		err = tail(uri, c);
	return err;
}

/* tel: global-number / local-number, then parameters (RFC 3966) */
static int tel_uri(struct hr_uri *uri, struct cur *c)
{
	const char *s = c->p;

	while (c->p < c->end && *c->p != ';' && *c->p != '?') {
		if (!cc_is(*c->p, CC_HEX) && (!*c->p ||
			!strchr("+-.()*#pwPW", *c->p)))
			return EBADMSG;
		c->p++;
	}
	if (c->p == s)
		return EBADMSG;
	uri->user.p = s;
	uri->user.len = (size_t)(c->p - s);
	return tail(uri, c);
}

int hr_uri_decode(struct hr_uri *uri, const struct hr_pl *pl)
{
	struct cur c;
	int err;

	memset(uri, 0, sizeof(*uri));
	if (!pl->p || !pl->len)
		return EBADMSG;
	uri->raw = *pl;
	cur_init(&c, pl);
	err = scheme(uri, &c);
	if (err)
		return err;
	for (const char *p = c.p; p < c.end; p++) {
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return EBADMSG;
	}
	switch (uri->scheme) {
	case HR_URI_SIP:
	case HR_URI_SIPS:
		return sip_uri(uri, &c);
	case HR_URI_TEL:
		return tel_uri(uri, &c);
	default:
		/* absoluteURI (RFC 3261 25.1, RFC 3986 characters): kept
		 * whole for the router to refuse with 416 */
		for (const char *p = c.p; p < c.end; p++) {
			if (strchr("<>\"{}|\\^`", *p))
				return EBADMSG;
		}
		return cur_eof(&c) ? EBADMSG : 0;
	}
}

int hr_uri_print(struct hr_buf *buf, const struct hr_uri *uri)
{
	int err = 0;

	switch (uri->scheme) {
	case HR_URI_SIP:
		err |= hr_buf_puts(buf, "sip:");
		break;
	case HR_URI_SIPS:
		err |= hr_buf_puts(buf, "sips:");
		break;
	case HR_URI_TEL:
		err |= hr_buf_puts(buf, "tel:");
		err |= hr_buf_putpl(buf, &uri->user);
		err |= hr_buf_putpl(buf, &uri->params);
		goto headers;
	default:
		return hr_buf_putpl(buf, &uri->raw);
	}
	if (uri->user.len) {
		err |= hr_buf_putpl(buf, &uri->user);
		if (uri->password.p) {
			err |= hr_buf_puts(buf, ":");
			err |= hr_buf_putpl(buf, &uri->password);
		}
		err |= hr_buf_puts(buf, "@");
	}
	if (uri->ipv6)
		err |= hr_buf_puts(buf, "[");
	err |= hr_buf_putpl(buf, &uri->host);
	if (uri->ipv6)
		err |= hr_buf_puts(buf, "]");
	if (uri->port) {
		err |= hr_buf_puts(buf, ":");
		err |= hr_buf_putu(buf, uri->port);
	}
	err |= hr_buf_putpl(buf, &uri->params);
headers:
	if (uri->headers.p) {
		err |= hr_buf_puts(buf, "?");
		err |= hr_buf_putpl(buf, &uri->headers);
	}
	return err ? ENOMEM : 0;
}

int hr_uri_param(const struct hr_uri *uri, const char *name,
	struct hr_pl *val)
{
	return hr_param_get(&uri->params, name, val);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return c - 'A' + 10;
}

int hr_uri_unescape(const struct hr_pl *pl, char *out, size_t n,
	size_t *outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < pl->len; i++) {
		char ch = pl->p[i];

		if (ch == '%') {
			if (i + 2 >= pl->len + 0 || !cc_is(pl->p[i + 1], CC_HEX)
			    || !cc_is(pl->p[i + 2], CC_HEX))
				return EBADMSG;
			ch = (char)(hexval(pl->p[i + 1]) * 16 +
				hexval(pl->p[i + 2]));
			i += 2;
		}
		if (o + 1 >= n)
			return ENOSPC;
		out[o++] = ch;
	}
	out[o] = '\0';
	*outlen = o;
	return 0;
}

/* ---- comparison (RFC 3261 19.1.4) ---- */

/* RFC 2396 2.2 reserved: an escape of one of these is not the character */
static bool reserved(char c)
{
	return c && strchr(";/?:@&=+$,", c) != NULL;
}

/* One character of an escaped run at *i, moved past it. */
struct uch {
	char c;
	bool esc;   /* a reserved character still escaped */
};

static struct uch uch_next(const struct hr_pl *pl, size_t *i)
{
	struct uch u = { pl->p[*i], false };

	if (u.c == '%' && *i + 2 < pl->len && cc_is(pl->p[*i + 1], CC_HEX) &&
	    cc_is(pl->p[*i + 2], CC_HEX)) {
		u.c = (char)(hexval(pl->p[*i + 1]) * 16 +
			hexval(pl->p[*i + 2]));
		u.esc = reserved(u.c);
		*i += 3;
		return u;
	}
	(*i)++;
	return u;
}

/* RFC 3261 19.1.4: characters other than reserved ones equal their
 * "%" HEX HEX escapes; ci: letters compare in any case */
static bool esc_eq(const struct hr_pl *a, const struct hr_pl *b, bool ci)
{
	size_t i = 0, j = 0;

	while (i < a->len && j < b->len) {
		struct uch x = uch_next(a, &i), y = uch_next(b, &j);

		if (x.esc != y.esc)
			return false;
		if (ci) {
			x.c = (char)hr_lower[(unsigned char)x.c];
			y.c = (char)hr_lower[(unsigned char)y.c];
		}
		if (x.c != y.c)
			return false;
	}
	return i == a->len && j == b->len;
}

/* RFC 3261 19.1.4: these may not be in one URI only, even with their
 * default value (the example pairs show transport among them) */
static bool param_must_match(const struct hr_pl *name)
{
	static const char *const names[] = {
		"transport", "user", "ttl", "method", "maddr",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct hr_pl n = hr_pl_str(names[i]);

		if (esc_eq(name, &n, true))
			return true;
	}
	return false;
}

/* Does b have a's parameter name=val? A name given twice matches on
 * any of its values, so that every URI equals itself. */
static bool param_find(const struct hr_pl *params, const struct hr_pl *name,
	const struct hr_pl *val, bool *named)
{
	struct hr_pl n, v;
	struct cur c;

	*named = false;
	cur_init(&c, params);
	while (hr_param_next(&c, &n, &v) == 0) {
		if (!esc_eq(&n, name, true))
			continue;
		*named = true;
		if (esc_eq(&v, val, true))
			return true;
	}
	return false;
}

/* Every parameter of a matches b's, or is one b may lack. */
static bool params_in(const struct hr_pl *a, const struct hr_pl *b)
{
	struct hr_pl n, v;
	struct cur c;
	bool named;

	cur_init(&c, a);
	while (hr_param_next(&c, &n, &v) == 0) {
		if (param_find(b, &n, &v, &named))
			continue;
		if (named || param_must_match(&n))
			return false;
	}
	return true;
}

/* The next "hname=hvalue" of a header list at *i, without the '&'. */
static bool header_next(const struct hr_pl *hdrs, size_t *i,
	struct hr_pl *name, struct hr_pl *val)
{
	const char *s, *e, *eq;

	if (*i >= hdrs->len)
		return false;
	s = hdrs->p + *i;
	e = memchr(s, '&', hdrs->len - *i);
	if (!e)
		e = hdrs->p + hdrs->len;
	*i = (size_t)(e - hdrs->p) + 1;
	eq = memchr(s, '=', (size_t)(e - s));
	name->p = s;
	name->len = (size_t)((eq ? eq : e) - s);
	val->p = eq ? eq + 1 : e;
	val->len = eq ? (size_t)(e - eq - 1) : 0;
	return true;
}

/*
 * Every header of a is in b with the same value. Names compare in any
 * case; values exactly after unescaping: RFC 3261 19.1.4 leaves their
 * rules to each header field, and exact never calls unequal ones equal.
 */
static bool headers_in(const struct hr_pl *a, const struct hr_pl *b,
	unsigned *n)
{
	struct hr_pl an, av, bn, bv;
	size_t i = 0;

	*n = 0;
	while (header_next(a, &i, &an, &av)) {
		size_t j = 0;
		bool found = false;

		while (!found && header_next(b, &j, &bn, &bv))
			found = esc_eq(&an, &bn, true) &&
				esc_eq(&av, &bv, false);
		if (!found)
			return false;
		(*n)++;
	}
	return true;
}

static bool headers_eq(const struct hr_pl *a, const struct hr_pl *b)
{
	unsigned na, nb;

	/* RFC 3261 19.1.4: headers are never ignored; order does not count */
	return headers_in(a, b, &na) && headers_in(b, a, &nb) && na == nb;
}

/* IPv6 references compare as addresses: [::1] is [0:0::1] */
static bool host_eq(const struct hr_uri *a, const struct hr_uri *b)
{
	struct in6_addr x, y;
	char s[64], t[64];

	if (a->ipv6 != b->ipv6)
		return false;
	if (!a->ipv6)
		return !hr_pl_casecmp(&a->host, &b->host);
	if (hr_pl_strcpy(&a->host, s, sizeof(s)) ||
	    hr_pl_strcpy(&b->host, t, sizeof(t)) ||
	    inet_pton(AF_INET6, s, &x) != 1 || inet_pton(AF_INET6, t, &y) != 1)
		return !hr_pl_casecmp(&a->host, &b->host);
	return !memcmp(&x, &y, sizeof(x));
}

/* RFC 3261 19.1.4: userinfo is case-sensitive; a part in one URI only
 * never matches */
static bool userinfo_eq(const struct hr_uri *a, const struct hr_uri *b)
{
	if (!esc_eq(&a->user, &b->user, false))
		return false;
	if (!a->password.p != !b->password.p)
		return false;
	return !a->password.p || esc_eq(&a->password, &b->password, false);
}

/* tel and other schemes: their own rules (RFC 3966 4) are not ours to
 * guess, so only the scheme's case may differ */
static bool other_eq(const struct hr_uri *a, const struct hr_uri *b)
{
	size_t sa = a->scheme_pl.len, sb = b->scheme_pl.len;

	return !hr_pl_casecmp(&a->scheme_pl, &b->scheme_pl) &&
		a->raw.len - sa == b->raw.len - sb &&
		!memcmp(a->raw.p + sa, b->raw.p + sb, a->raw.len - sa);
}

bool hr_uri_eq(const struct hr_uri *a, const struct hr_uri *b)
{
	if (a->scheme != b->scheme)
		return false;  /* RFC 3261 19.1.4: SIP and SIPS never equal */
	if (a->scheme != HR_URI_SIP && a->scheme != HR_URI_SIPS)
		return other_eq(a, b);
	return userinfo_eq(a, b) && host_eq(a, b) && a->port == b->port &&
		params_in(&a->params, &b->params) &&
		params_in(&b->params, &a->params) &&
		headers_eq(&a->headers, &b->headers);
}
