/* What a SIP stack on the event loop sends, captured as text (the stack is
 * real, only its sockets are not): each message taken once by a match,
 * read by header, and a NOTIFY answered by hand as a watcher would.
 * Define SIPCAP_MAX before including it for another capacity; the
 * fixture makes the stack with cap_sip(), which sets cap.sip, and
 * cap.spins (and cap.poll) for how long take() waits.
 * The readers keep the short names of the file-static helpers they
 * replace: a test includes this once, instead of its own. */
#ifndef HR_TEST_SIPCAP_H
#define HR_TEST_SIPCAP_H

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/core.h"
#include "sip/sip.h"

#ifndef SIPCAP_MAX
#define SIPCAP_MAX 512
#endif

struct sipcap {
	char *out[SIPCAP_MAX];          /* NUL-terminated copies */
	struct hr_sa dst[SIPCAP_MAX];
	enum hr_tp tp[SIPCAP_MAX];
	bool used[SIPCAP_MAX];          /* taken already */
	unsigned n;
	struct hr_sip *sip;     /* what answer() feeds */
	unsigned spins;         /* loop turns, 1 ms apart, take() waits */
	bool poll;              /* and polls the timers at each */
	int tcp_err;            /* what sending by TCP returns (0: it is
				 * captured like UDP) */
};

static struct sipcap cap;

/* The send hook: hr_sip_set_send(sip, cap_send, NULL). */
static inline int cap_send(enum hr_tp tp, const struct hr_sa *dst,
	struct hr_conn *conn, const char *p, size_t len, void *arg)
{
	(void)conn;
	(void)arg;
	if (tp == HR_TP_TCP && cap.tcp_err)
		return cap.tcp_err;
	ck_assert_uint_lt(cap.n, SIPCAP_MAX);
	cap.tp[cap.n] = tp;
	/* not strndup: p is not NUL-terminated and may fill its buffer */
	cap.out[cap.n] = malloc(len + 1);
	memcpy(cap.out[cap.n], p, len);
	cap.out[cap.n][len] = '\0';
	cap.dst[cap.n] = *dst;
	cap.n++;
	return 0;
}

/* A socketless SIP stack whose sends are captured and which cap_recv()
 * feeds; take() waits spins loop turns for a message, polling the
 * timers at each with poll. */
static inline struct hr_sip *cap_sip(unsigned spins, bool poll)
{
	ck_assert_int_eq(hr_sip_alloc(&cap.sip, NULL), 0);
	hr_sip_set_send(cap.sip, cap_send, NULL);
	cap.spins = spins;
	cap.poll = poll;
	return cap.sip;
}

/* Forget every message (the fixture's teardown). */
static inline void cap_clear(void)
{
	for (unsigned i = 0; i < cap.n; i++) {
		free(cap.out[i]);
		cap.used[i] = false;
	}
	cap.n = 0;
	cap.tcp_err = 0;
}

/* Run the loop until n messages were sent, or cap.spins turns. */
static inline bool cap_wait(unsigned n)
{
	for (unsigned i = 0; i < cap.spins && cap.n < n; i++) {
		hr_loop_once();
		if (cap.poll)
			hr_tmr_poll();
		if (cap.n < n)
			usleep(1000);
	}
	return cap.n >= n;
}

/* A header's value in a captured message ("" when absent). */
static inline const char *hdr(const char *msg, const char *name, char *v,
	size_t n)
{
	char key[64];
	const char *p, *e;

	snprintf(key, sizeof(key), "\r\n%s: ", name);
	p = strstr(msg, key);
	if (!p) {
		v[0] = '\0';
		return v;
	}
	p += strlen(key);
	e = strstr(p, "\r\n");
	snprintf(v, n, "%.*s", (int)(e - p), p);
	return v;
}

static inline const char *body(const char *msg)
{
	const char *p = strstr(msg, "\r\n\r\n");

	return p ? p + 4 : "";
}

/* A response's status code; 0 for a request. */
static inline unsigned status(const char *m)
{
	return strncmp(m, "SIP/2.0 ", 8) ? 0 : (unsigned)atoi(m + 8);
}

static inline bool is_notify(const char *m)
{
	return !strncmp(m, "NOTIFY ", 7);
}

static inline bool is_resp(const char *m)
{
	return status(m) != 0;
}

/* The next captured message that matches and was not taken yet,
 * waiting a little for it. */
static inline const char *take(bool (*match)(const char *m))
{
	for (unsigned k = 0; k < 2; k++) {
		for (unsigned i = 0; i < cap.n; i++) {
			if (!cap.used[i] && match(cap.out[i])) {
				cap.used[i] = true;
				return cap.out[i];
			}
		}
		cap_wait(cap.n + 1);
	}
	return NULL;
}

static inline const char *next_resp(void)
{
	return take(is_resp);
}

static inline const char *next_notify(void)
{
	return take(is_notify);
}

/* NOTIFYs captured and not taken yet. */
static inline unsigned pending_notifies(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < cap.n; i++)
		n += !cap.used[i] && is_notify(cap.out[i]);
	return n;
}

/* Feed m to cap.sip as if from the watcher at 192.0.2.1:5060 by UDP. */
static inline void cap_recv(const char *m)
{
	struct hr_sa src;

	hr_sa_set(&src, "192.0.2.1", 5060);
	hr_sip_recv_raw(cap.sip, HR_TP_UDP, m, strlen(m), &src, NULL);
}

/* Answer a NOTIFY with code, from its own Via, From, To, Call-ID and
 * CSeq (RFC 3261 8.2.6.2), and turn the loop once. */
static inline void answer(const char *notify, unsigned code)
{
	char m[4096], v[5][512];

	ck_assert_ptr_nonnull(notify);
	snprintf(m, sizeof(m), "SIP/2.0 %u %s\r\nVia: %s\r\nFrom: %s\r\n"
		"To: %s\r\nCall-ID: %s\r\nCSeq: %s\r\nContent-Length: 0\r\n\r\n",
		code, code == 200 ? "OK" : "X",
		hdr(notify, "Via", v[0], sizeof(v[0])),
		hdr(notify, "From", v[1], sizeof(v[1])),
		hdr(notify, "To", v[2], sizeof(v[2])),
		hdr(notify, "Call-ID", v[3], sizeof(v[3])),
		hdr(notify, "CSeq", v[4], sizeof(v[4])));
	cap_recv(m);
	hr_loop_once();
}

#endif
