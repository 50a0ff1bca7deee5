/* name-addr / addr-spec with header parameters (RFC 3261 20.10, 20.20). */
#include <errno.h>
#include <string.h>
#include "sip_int.h"

/* display-name = *(token LWS) / quoted-string */
static int display_name(struct hr_addr *addr, struct cur *c)
{
	const char *s = c->p, *last = c->p;

	if (*c->p == '"')
		return hr_cur_quoted(c, &addr->dname, HR_QUOTED_MAX);
	while (c->p < c->end && *c->p != '<') {
		struct hr_pl tok;

		if (hr_cur_token(c, &tok, HR_TOKEN_MAX))
			return EBADMSG;
		last = c->p;
		cur_skip_lws(c);
	}
	addr->dname.p = s;
	addr->dname.len = (size_t)(last - s);
	return 0;
}

static int name_addr(struct hr_addr *addr, struct cur *c)
{
	struct hr_pl uri;
	const char *gt;
	int err;

	if (*c->p != '<') {
		err = display_name(addr, c);
		if (err)
			return err;
		cur_skip_lws(c);
	}
	if (cur_eof(c) || *c->p != '<')
		return EBADMSG;
	uri.p = ++c->p;
	gt = memchr(c->p, '>', (size_t)(c->end - c->p));
	if (!gt)
		return EBADMSG;
	uri.len = (size_t)(gt - uri.p);
	err = hr_uri_decode(&addr->uri, &uri);
	if (err)
		return err;
	addr->angle = true;
	c->p = gt + 1;
	return 0;
}

/* RFC 3261 20: without <>, parameters after the URI are header
 * parameters, so the URI ends at the first ';' (or LWS). */
static int addr_spec(struct hr_addr *addr, struct cur *c)
{
	struct hr_pl uri = { c->p, 0 };

	while (c->p < c->end && *c->p != ';' && !is_lws(*c->p))
		c->p++;
	uri.len = (size_t)(c->p - uri.p);
	return hr_uri_decode(&addr->uri, &uri);
}

static bool has_angle(const struct cur *c)
{
	/* a '<' outside a leading quoted display name means name-addr */
	const char *p = c->p;
	bool q = false;

	for (; p < c->end; p++) {
		if (*p == '\\' && q)
			p++;
		else if (*p == '"')
			q = !q;
		else if (*p == '<' && !q)
			return true;
	}
	return false;
}

int hr_addr_decode(struct hr_addr *addr, const struct hr_pl *pl)
{
	struct hr_pl v = *pl;
	struct cur c;
	int err;

	memset(addr, 0, sizeof(*addr));
	hr_pl_trim(&v);
	if (!v.len)
		return EBADMSG;
	addr->raw = v;
	cur_init(&c, &v);
	if (v.len == 1 && v.p[0] == '*') {
		addr->star = true;
		return 0;
	}
	err = has_angle(&c) ? name_addr(addr, &c) : addr_spec(addr, &c);
	if (err)
		return err;
	err = hr_cur_params(&c, &addr->params);
	if (err)
		return err;
	if (hr_param_get(&addr->params, "tag", &addr->tag) == 0 &&
	    addr->tag.len == 0)
		return EBADMSG;
	return 0;
}

int hr_addr_print(struct hr_buf *buf, const struct hr_addr *addr)
{
	int err = 0;

	if (addr->star)
		return hr_buf_puts(buf, "*");
	if (addr->dname.len) {
		err |= hr_buf_puts(buf, "\"");
		err |= hr_buf_putpl(buf, &addr->dname);
		err |= hr_buf_puts(buf, "\" ");
	}
	err |= hr_buf_puts(buf, "<");
	err |= hr_uri_print(buf, &addr->uri);
	err |= hr_buf_puts(buf, ">");
	err |= hr_buf_putpl(buf, &addr->params);
	return err ? ENOMEM : 0;
}
