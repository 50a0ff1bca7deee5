/* Event and Subscription-State (RFC 6665 8.2.1, 8.2.3). */
#include <errno.h>
#include <string.h>
#include "sip_int.h"

int hr_event_decode(struct hr_event *ev, const struct hr_pl *pl)
{
	struct hr_pl v = *pl;
	struct cur c;

	memset(ev, 0, sizeof(*ev));
	hr_pl_trim(&v);
	cur_init(&c, &v);
	/* event-type = event-package *( "." event-template ): token chars,
	 * dots included, neither first nor last nor doubled */
	if (hr_cur_token(&c, &ev->package, HR_TOKEN_MAX))
		return EBADMSG;
	if (ev->package.p[0] == '.' ||
	    ev->package.p[ev->package.len - 1] == '.' ||
	    memmem(ev->package.p, ev->package.len, "..", 2))
		return EBADMSG;
	if (hr_cur_params(&c, &ev->params))
		return EBADMSG;
	if (hr_param_get(&ev->params, "id", &ev->id) == 0 && !ev->id.len)
		return EBADMSG;
	return 0;
}

static int param_delta(const struct hr_pl *params, const char *name,
	uint32_t *v, bool *has)
{
	struct hr_pl val;

	if (hr_param_get(params, name, &val))
		return 0;
	*has = true;
	return hr_delta_decode(&val, v);
}

int hr_substate_decode(struct hr_substate *ss, const struct hr_pl *pl)
{
	struct hr_pl v = *pl;
	struct cur c;

	memset(ss, 0, sizeof(*ss));
	hr_pl_trim(&v);
	cur_init(&c, &v);
	if (hr_cur_token(&c, &ss->state, HR_TOKEN_MAX) ||
	    hr_cur_params(&c, &ss->params))
		return EBADMSG;
	hr_param_get(&ss->params, "reason", &ss->reason);
	if (param_delta(&ss->params, "expires", &ss->expires,
		&ss->has_expires) ||
	    param_delta(&ss->params, "retry-after", &ss->retry_after,
		&ss->has_retry_after))
		return EBADMSG;
	return 0;
}
