/* SIP, SIPS and tel URIs (RFC 3261 19.1 and 25.1, RFC 3966). */
#include <errno.h>
#include <string.h>
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
