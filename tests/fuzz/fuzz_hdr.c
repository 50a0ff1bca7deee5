/*
 * Fuzz the small header decoders. The first byte picks the decoder, the
 * rest is the header value: CSeq, Content-Type, Event, Subscription-State,
 * delta-seconds, parameter lists, UTF-8, method and header names.
 */
#include <string.h>
#include "fuzz.h"

enum {
	H_CSEQ,
	H_CTYPE,
	H_EVENT,
	H_SUBSTATE,
	H_DELTA,
	H_PARAM,
	H_UTF8,
	H_NAMES,
	H__N
};

static void cseq(const struct hr_pl *pl)
{
	struct hr_cseq c;

	memset(&c, 0, sizeof(c));
	if (hr_cseq_decode(&c, pl))
		return;
	FUZZ_PL_IN(c.method, pl->p, pl->len);
	/* RFC 3261 8.1.1.5: less than 2**31 */
	FUZZ_CHECK(c.num < 0x80000000u);
	FUZZ_CHECK(c.method.len > 0);
	FUZZ_CHECK(c.meth == hr_method_id(&c.method));
}

static void ctype(const struct hr_pl *pl)
{
	struct hr_ctype ct;
	struct hr_pl v;

	memset(&ct, 0, sizeof(ct));
	if (hr_ctype_decode(&ct, pl))
		return;
	FUZZ_PL_IN(ct.type, pl->p, pl->len);
	FUZZ_PL_IN(ct.subtype, pl->p, pl->len);
	FUZZ_PL_IN(ct.params, pl->p, pl->len);
	FUZZ_CHECK(ct.type.len > 0 && ct.subtype.len > 0);
	FUZZ_CHECK(hr_ctype_match(&ct, "*", "*"));
	hr_ctype_match(&ct, "application", "pidf+xml");
	hr_param_get(&ct.params, "charset", &v);
}

static void event(const struct hr_pl *pl)
{
	struct hr_event ev;
	struct hr_pl v;

	memset(&ev, 0, sizeof(ev));
	if (hr_event_decode(&ev, pl))
		return;
	FUZZ_PL_IN(ev.package, pl->p, pl->len);
	FUZZ_PL_IN(ev.id, pl->p, pl->len);
	FUZZ_PL_IN(ev.params, pl->p, pl->len);
	FUZZ_CHECK(ev.package.len > 0);
	if (hr_pl_isset(&ev.id))
		FUZZ_CHECK(hr_param_get(&ev.params, "id", &v) == 0);
}

static void substate(const struct hr_pl *pl)
{
	struct hr_substate ss;

	memset(&ss, 0, sizeof(ss));
	if (hr_substate_decode(&ss, pl))
		return;
	FUZZ_PL_IN(ss.state, pl->p, pl->len);
	FUZZ_PL_IN(ss.reason, pl->p, pl->len);
	FUZZ_PL_IN(ss.params, pl->p, pl->len);
	FUZZ_CHECK(ss.state.len > 0);
	if (!ss.has_expires)
		FUZZ_CHECK(ss.expires == 0);
	if (!ss.has_retry_after)
		FUZZ_CHECK(ss.retry_after == 0);
}

static void delta(const struct hr_pl *pl)
{
	uint32_t v = 0;

	if (hr_delta_decode(pl, &v))
		return;
	FUZZ_CHECK(pl->len > 0);
}

static void param(const struct hr_pl *pl)
{
	static const char *const names[] = {
		"tag", "branch", "expires", "q", "lr", "id", "received"
	};
	struct hr_pl v;
	unsigned i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		memset(&v, 0, sizeof(v));
		if (hr_param_get(pl, names[i], &v) == 0) {
			FUZZ_PL_IN(v, pl->p, pl->len);
			FUZZ_CHECK(hr_param_exists(pl, names[i]));
		}
	}
}

static void names(const struct hr_pl *pl)
{
	enum hr_method m = hr_method_id(pl);
	enum hr_hdr_id id = hr_hdr_id(pl);
	struct hr_pl canon;

	FUZZ_CHECK(m < HR_METH__N);
	FUZZ_CHECK(id < HR_HDR__N);
	FUZZ_CHECK(hr_method_name(m) != NULL);
	/* a known name maps back to itself through its canonical name */
	if (m != HR_METH_OTHER) {
		canon = hr_pl_str(hr_method_name(m));
		FUZZ_CHECK(hr_method_id(&canon) == m);
	}
	if (id != HR_HDR_OTHER) {
		canon = hr_pl_str(hr_hdr_name(id));
		FUZZ_CHECK(canon.p != NULL);
		FUZZ_CHECK(hr_hdr_id(&canon) == id);
		hr_hdr_is_list(id);
	}
}

void fuzz_one(const uint8_t *data, size_t size)
{
	struct hr_pl pl;

	if (size < 1)
		return;
	pl.p = (const char *)data + 1;
	pl.len = size - 1;
	switch (data[0] % H__N) {
	case H_CSEQ:
		cseq(&pl);
		break;
	case H_CTYPE:
		ctype(&pl);
		break;
	case H_EVENT:
		event(&pl);
		break;
	case H_SUBSTATE:
		substate(&pl);
		break;
	case H_DELTA:
		delta(&pl);
		break;
	case H_PARAM:
		param(&pl);
		break;
	case H_UTF8:
		hr_utf8_valid(pl.p, pl.len);
		break;
	case H_NAMES:
		names(&pl);
		break;
	}
}
