/* CSeq (RFC 3261 20.16) and delta-seconds. */
#include <errno.h>
#include <string.h>
#include "sip_int.h"

int hr_cseq_decode(struct hr_cseq *cseq, const struct hr_pl *pl)
{
	struct hr_pl v = *pl, num;
	struct cur c;
	uint64_t n;

	memset(cseq, 0, sizeof(*cseq));
	hr_pl_trim(&v);
	cur_init(&c, &v);
	num.p = c.p;
	while (c.p < c.end && cc_is(*c.p, CC_DIGIT))
		c.p++;
	num.len = (size_t)(c.p - num.p);
	/* RFC 3261 8.1.1.5: the sequence number MUST be less than 2**31 */
	if (hr_pl_u64(&num, 0x7fffffff, &n))
		return EBADMSG;
	if (cur_eof(&c) || !is_lws(*c.p))
		return EBADMSG;
	cur_skip_lws(&c);
	if (hr_cur_token(&c, &cseq->method, HR_TOKEN_MAX) || !cur_eof(&c))
		return EBADMSG;
	cseq->num = (uint32_t)n;
	cseq->meth = hr_method_id(&cseq->method);
	return 0;
}

int hr_delta_decode(const struct hr_pl *pl, uint32_t *v)
{
	struct hr_pl t = *pl;
	uint64_t n;

	hr_pl_trim(&t);
	/* RFC 3261 20.19: values beyond 2**32-1 are taken as 2**32-1 */
	if (hr_pl_u64_clamp(&t, UINT32_MAX, &n))
		return EBADMSG;
	*v = (uint32_t)n;
	return 0;
}
