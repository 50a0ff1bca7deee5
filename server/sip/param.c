/* Parameter lookup in ";name[=value]" lists (header and URI parameters). */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include "sip_int.h"

/*
 * Walks the list without validating it (the decoders did that): names end
 * at '=', ';' or LWS; values run to the next ';' outside quotes.
 */
int hr_param_get(const struct hr_pl *params, const char *name,
	struct hr_pl *val)
{
	size_t nlen = strlen(name);
	struct cur c;

	if (!params || !params->p)
		return ENOENT;
	cur_init(&c, params);
	while (!cur_eof(&c)) {
		const char *ns, *ne, *vs = NULL, *ve = NULL;
		bool q = false;

		while (c.p < c.end && (*c.p == ';' || is_lws(*c.p)))
			c.p++;
		ns = c.p;
		while (c.p < c.end && *c.p != '=' && *c.p != ';' &&
		       !is_lws(*c.p))
			c.p++;
		ne = c.p;
		cur_skip_lws(&c);
		if (c.p < c.end && *c.p == '=') {
			c.p++;
			cur_skip_lws(&c);
			vs = c.p;
			while (c.p < c.end && (q || *c.p != ';')) {
				if (*c.p == '\\' && q && c.p + 1 < c.end)
					c.p++;
				else if (*c.p == '"')
					q = !q;
				c.p++;
			}
			ve = c.p;
			while (ve > vs && is_lws(ve[-1]))
				ve--;
		}
		if (ne > ns && (size_t)(ne - ns) == nlen &&
		    strncasecmp(ns, name, nlen) == 0) {
			if (val) {
				val->p = vs ? vs : ne;
				val->len = vs ? (size_t)(ve - vs) : 0;
			}
			return 0;
		}
	}
	return ENOENT;
}

bool hr_param_exists(const struct hr_pl *params, const char *name)
{
	return hr_param_get(params, name, NULL) == 0;
}
