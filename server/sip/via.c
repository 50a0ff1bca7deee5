/* Via (RFC 3261 20.42 and 25.1; rport from RFC 3581). */
#include <errno.h>
#include <string.h>
#include "sip_int.h"

/* sent-protocol = protocol-name SLASH protocol-version SLASH transport */
static int sent_protocol(struct hr_via *via, struct cur *c)
{
	struct hr_pl name, ver;

	if (hr_cur_token(c, &name, 32) || !hr_cur_sep(c, '/') ||
	    hr_cur_token(c, &ver, 32) || !hr_cur_sep(c, '/') ||
	    hr_cur_token(c, &via->proto, 32))
		return EBADMSG;
	/* any version token parses, so that a 505 can still be routed */
	if (hr_pl_strcasecmp(&name, "SIP"))
		return EBADMSG;
	return 0;
}

static int param_u16(const struct hr_pl *v, uint16_t *out)
{
	uint64_t n;

	if (hr_pl_u64(v, 65535, &n))
		return EBADMSG;
	*out = (uint16_t)n;
	return 0;
}

/* One pass over the parameters the stack reads. */
static int via_param(struct hr_via *via, const struct hr_pl *name,
	const struct hr_pl *v)
{
	uint64_t n;

	if (!hr_pl_strcasecmp(name, "branch"))
		via->branch = *v;
	else if (!hr_pl_strcasecmp(name, "received")) {
		via->received = *v;
		/* RFC 3261 25.1 has it bare; some send [v6]: drop those */
		if (v->len > 2 && v->p[0] == '[' && v->p[v->len - 1] == ']') {
			via->received.p++;
			via->received.len -= 2;
		}
	}
	else if (!hr_pl_strcasecmp(name, "maddr"))
		via->maddr = *v;
	else if (!hr_pl_strcasecmp(name, "rport")) {
		via->rport = true;
		return v->len ? param_u16(v, &via->rport_val) : 0;
	} else if (!hr_pl_strcasecmp(name, "ttl")) {
		if (hr_pl_u64(v, 255, &n))
			return EBADMSG;
		via->ttl = (int)n;
		return 0;
	} else {
		return 0;
	}
	return v->len ? 0 : EBADMSG;
}

static int via_params(struct hr_via *via)
{
	struct hr_pl name, val;
	struct cur c;
	int err;

	via->ttl = -1;
	cur_init(&c, &via->params);
	while ((err = hr_param_next(&c, &name, &val)) == 0) {
		err = via_param(via, &name, &val);
		if (err)
			return err;
	}
	return err == ENOENT ? 0 : err;
}

/* sent-by = host [ COLON port ]; COLON allows LWS on both sides */
static int sent_by_port(struct hr_via *via, struct cur *c)
{
	const char *save = c->p;
	struct hr_pl num;

	cur_skip_lws(c);
	if (cur_eof(c) || *c->p != ':') {
		c->p = save;
		return 0;
	}
	c->p++;
	cur_skip_lws(c);
	num.p = c->p;
	while (c->p < c->end && cc_is(*c->p, CC_DIGIT))
		c->p++;
	num.len = (size_t)(c->p - num.p);
	if (param_u16(&num, &via->port) || via->port == 0)
		return EBADMSG;
	return 0;
}

int hr_via_decode(struct hr_via *via, const struct hr_pl *pl)
{
	struct hr_pl v = *pl;
	struct cur c;
	int err;

	memset(via, 0, sizeof(*via));
	hr_pl_trim(&v);
	via->raw = v;
	cur_init(&c, &v);
	err = sent_protocol(via, &c);
	if (err)
		return err;
	/* LWS is required between sent-protocol and sent-by */
	if (cur_eof(&c) || !is_lws(*c.p))
		return EBADMSG;
	cur_skip_lws(&c);
	err = hr_cur_host(&c, &via->host, &via->ipv6);
	if (!err)
		err = sent_by_port(via, &c);
	if (!err)
		err = hr_cur_params(&c, &via->params);
	if (!err)
		err = via_params(via);
	return err;
}

bool hr_via_rfc3261(const struct hr_via *via)
{
	return via->branch.len > 7 && memcmp(via->branch.p, "z9hG4bK", 7) == 0;
}
