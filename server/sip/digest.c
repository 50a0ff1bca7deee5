/* Digest credentials and challenges (RFC 3261 25.1, RFC 7616 3.4). */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include "sip_int.h"

static struct hr_pl *field(struct hr_digest *d, const struct hr_pl *name)
{
	static const struct {
		const char *name;
		size_t off;
	} map[] = {
		{ "username", offsetof(struct hr_digest, username) },
		{ "realm", offsetof(struct hr_digest, realm) },
		{ "nonce", offsetof(struct hr_digest, nonce) },
		{ "uri", offsetof(struct hr_digest, uri) },
		{ "response", offsetof(struct hr_digest, response) },
		{ "algorithm", offsetof(struct hr_digest, algorithm) },
		{ "cnonce", offsetof(struct hr_digest, cnonce) },
		{ "opaque", offsetof(struct hr_digest, opaque) },
		{ "qop", offsetof(struct hr_digest, qop) },
		{ "nc", offsetof(struct hr_digest, nc) },
		{ "stale", offsetof(struct hr_digest, stale) },
		{ "domain", offsetof(struct hr_digest, domain) },
		{ "userhash", offsetof(struct hr_digest, userhash) },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (hr_pl_strcasecmp(name, map[i].name) == 0)
			return (struct hr_pl *)((char *)d + map[i].off);
	}
	return NULL;
}

/* value = quoted-string / token (nc and some algorithms are tokens) */
static int value(struct cur *c, struct hr_pl *val)
{
	if (!cur_eof(c) && *c->p == '"')
		return hr_cur_quoted(c, val, HR_QUOTED_MAX);
	return hr_cur_token(c, val, HR_TOKEN_MAX);
}

int hr_digest_decode(struct hr_digest *d, const struct hr_pl *pl)
{
	struct hr_pl v = *pl;
	struct cur c;
	bool first = true;

	memset(d, 0, sizeof(*d));
	hr_pl_trim(&v);
	cur_init(&c, &v);
	if (hr_cur_token(&c, &d->scheme, 32))
		return EBADMSG;
	if (cur_eof(&c) || !is_lws(*c.p))
		return EBADMSG;
	cur_skip_lws(&c);
	while (!cur_eof(&c)) {
		struct hr_pl name, val, *f;

		if (!first && !hr_cur_sep(&c, ','))
			return EBADMSG;
		first = false;
		if (hr_cur_token(&c, &name, HR_TOKEN_MAX) ||
		    !hr_cur_sep(&c, '=') || value(&c, &val))
			return EBADMSG;
		f = field(d, &name);
		if (f) {
			/* a parameter given twice is ambiguous: refuse it */
			if (f->p)
				return EBADMSG;
			*f = val;
		}
		cur_skip_lws(&c);
	}
	return first ? EBADMSG : 0;
}
