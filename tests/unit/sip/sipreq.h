/* A NOTIFY in a reg subscription's dialog, sent in a client transaction:
 * what the client transaction tests send. */
#ifndef HR_TEST_SIPREQ_H
#define HR_TEST_SIPREQ_H

#include "sip/sip.h"

static inline int sipreq_notify(struct hr_ctrans **ctp, struct hr_sip *sip,
	enum hr_tp tp, const char *host, uint16_t port, hr_resp_h *h)
{
	struct hr_req req = {
		.method = "NOTIFY",
		.ruri = HR_PL("sip:bob@192.0.2.1:5060"),
		.hdrs = HR_PL("From: <sip:alice@example.test>;tag=n1\r\n"
			"To: <sip:bob@example.test>;tag=b1\r\n"
			"Call-ID: n@h\r\nCSeq: 5 NOTIFY\r\nEvent: reg\r\n"
			"Subscription-State: active;expires=60\r\n"),
		.ctype = "application/reginfo+xml",
		.body = HR_PL("<reginfo/>"),
	};
	struct hr_dest dst = { .tp = tp };

	hr_sa_set(&dst.addr, host, port);
	return hr_ctrans_request(ctp, sip, &dst, &req, h, NULL);
}

#endif
