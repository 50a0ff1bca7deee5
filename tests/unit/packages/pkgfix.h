/* The requests a test of server/packages sends through sipcap.h's stack,
 * and the NOTIFYs it answers (test_presence.c, test_dialog.c). Include it
 * after pgdb.h and sip/sipcap.h, once the test has declared
 *     static struct hr_store *store;   the store the packages use
 *     static const char *target;       the Request-URI's and To's user@host
 * The readers keep the short names of the file-static helpers they
 * replace, as sipcap.h's do. */
#ifndef HR_TEST_PKGFIX_H
#define HR_TEST_PKGFIX_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "store/store.h"

/* Let the store and the timers run what is under way. */
static inline void drain(void)
{
	pgdb_drain(store, 3000);
	hr_loop_once();
	hr_tmr_poll();
}

/* NOTIFYs sent and not taken, once what is under way ran (twice: a
 * round's NOTIFY may wait for its subscription's CSeq reservation). */
static inline unsigned untaken_notifies(void)
{
	drain();
	drain();
	return pending_notifies();
}

/* The next NOTIFY, answered 200. */
static inline const char *notified(void)
{
	const char *n = take(is_notify);

	ck_assert_ptr_nonnull(n);
	answer(n, 200);
	return n;
}

/* Send a request to target; its response is not waited for. */
static inline void request_send(const char *method, const char *from,
	const char *callid, const char *hdrs, const char *b)
{
	static unsigned branch;
	size_t size = strlen(b) + 4096;
	char *m = malloc(size);

	ck_assert_ptr_nonnull(m);
	snprintf(m, size, "%s sip:%s SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKp%u\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:%s>;tag=%s\r\n"
		"To: <sip:%s>\r\nCall-ID: %s\r\nCSeq: 1 %s\r\n%s"
		"Content-Length: %zu\r\n\r\n%s", method, target, ++branch, from,
		callid, target, callid, method, hdrs, strlen(b), b);
	cap_recv(m);
	free(m);
}

/* Send a request: its response. */
static inline const char *request(const char *method, const char *from,
	const char *callid, const char *hdrs, const char *b)
{
	request_send(method, from, callid, hdrs, b);
	return next_resp();
}

/* from PUBLISHes to target with hdrs (Event, Content-Type), SIP-If-Match
 * ifmatch and Expires exp when not NULL, and doc (NULL: no body), a new
 * Call-ID each time as baresip does; its response is not waited for. */
static inline void publish_from(const char *from, const char *hdrs,
	const char *ifmatch, const char *exp, const char *doc)
{
	static unsigned k;
	char h[256], callid[32];

	snprintf(h, sizeof(h), "%s%s%s%s%s%s%s", hdrs,
		ifmatch ? "SIP-If-Match: " : "", ifmatch ? ifmatch : "",
		ifmatch ? "\r\n" : "", exp ? "Expires: " : "", exp ? exp : "",
		exp ? "\r\n" : "");
	snprintf(callid, sizeof(callid), "pub%u", ++k);
	request_send("PUBLISH", from, callid, h, doc ? doc : "");
}

/* The next response is want; etag (when not NULL) gets its SIP-ETag. */
static inline void published(unsigned want, char *etag, size_t n)
{
	const char *r = next_resp();
	char v[64];

	ck_assert_msg(r && status(r) == want, "%s", r ? r : "no answer");
	if (etag)
		snprintf(etag, n, "%s", hdr(r, "SIP-ETag", v, sizeof(v)));
}

#endif
