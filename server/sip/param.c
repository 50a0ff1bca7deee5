/* Parameter lookup in ";name[=value]" lists (header and URI parameters). */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include "sip_int.h"

/*
 * Walks the list without validating it (the decoders did that): names end
 * at '=', ';' or LWS; values run to the next ';' outside quotes.
 */
int hr_param_next(struct cur *c, struct hr_pl *name, struct hr_pl *val)
{
	const char *vs = NULL, *ve = NULL;
	bool q = false;

	while (c->p < c->end && (*c->p == ';' || is_lws(*c->p)))
		c->p++;
	if (c->p >= c->end)
		return ENOENT;
	name->p = c->p;
	while (c->p < c->end && *c->p != '=' && *c->p != ';' && !is_lws(*c->p))
		c->p++;
	name->len = (size_t)(c->p - name->p);
	cur_skip_lws(c);
	if (c->p < c->end && *c->p == '=') {
		c->p++;
		cur_skip_lws(c);
		vs = c->p;
		while (c->p < c->end && (q || *c->p != ';')) {
			if (*c->p == '\\' && q && c->p + 1 < c->end)
				c->p++;
			else if (*c->p == '"')
				q = !q;
			c->p++;
		}
		ve = c->p;
		while (ve > vs && is_lws(ve[-1]))
			ve--;
	}
	/* a flag's empty value sits right after its name */
	val->p = vs ? vs : name->p + name->len;
	val->len = vs ? (size_t)(ve - vs) : 0;
	return 0;
}

/*
 * Walks the list without validating it (the decoders did that): names end
 * at '=', ';' or LWS; values run to the next ';' outside quotes.
 */
int hr_param_get(const struct hr_pl *params, const char *name,
	struct hr_pl *val)
{
	size_t nlen = strlen(name);
	struct hr_pl n, v;
	struct cur c;

	if (!params || !params->p)
		return ENOENT;
	cur_init(&c, params);
	while (hr_param_next(&c, &n, &v) == 0) {
		if (n.len == nlen && hr_ci_eq(n.p, name, nlen)) {
			if (val)
				*val = v;
			return 0;
		}
	}
	return ENOENT;
}

bool hr_param_exists(const struct hr_pl *params, const char *name)
{
	return hr_param_get(params, name, NULL) == 0;
}
