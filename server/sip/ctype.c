/* Media types: Content-Type and Accept elements (RFC 3261 20.15). */
#include <errno.h>
#include <string.h>
#include "sip_int.h"

int hr_ctype_decode(struct hr_ctype *ct, const struct hr_pl *pl)
{
	struct hr_pl v = *pl;
	struct cur c;

	memset(ct, 0, sizeof(*ct));
	hr_pl_trim(&v);
	cur_init(&c, &v);
	if (hr_cur_token(&c, &ct->type, HR_TOKEN_MAX) || !hr_cur_sep(&c, '/')
	    || hr_cur_token(&c, &ct->subtype, HR_TOKEN_MAX))
		return EBADMSG;
	return hr_cur_params(&c, &ct->params);
}

static bool part_match(const struct hr_pl *have, const char *want)
{
	return strcmp(want, "*") == 0 || hr_pl_strcmp(have, "*") == 0 ||
		hr_pl_strcasecmp(have, want) == 0;
}

bool hr_ctype_match(const struct hr_ctype *ct, const char *type,
	const char *subtype)
{
	return part_match(&ct->type, type) && part_match(&ct->subtype, subtype);
}
