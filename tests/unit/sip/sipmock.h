/* A SIP stack without sockets for unit tests: what it sends is captured,
 * what it receives is fed in as raw bytes. */
#ifndef HR_TEST_SIPMOCK_H
#define HR_TEST_SIPMOCK_H

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "sip/sip.h"

#define MOCK_MAX 64

struct mock {
	struct hr_sip *sip;
	unsigned n;
	char *out[MOCK_MAX];
	size_t len[MOCK_MAX];
	enum hr_tp tp[MOCK_MAX];
	struct hr_sa src;
};

static struct mock mock;

static inline int mock_send(enum hr_tp tp, const struct hr_sa *dst,
	struct hr_conn *conn, const char *p, size_t len, void *arg)
{
	(void)dst;
	(void)conn;
	(void)arg;
	ck_assert_uint_lt(mock.n, MOCK_MAX);
	mock.out[mock.n] = malloc(len + 1);
	memcpy(mock.out[mock.n], p, len);
	mock.out[mock.n][len] = '\0';
	mock.len[mock.n] = len;
	mock.tp[mock.n] = tp;
	mock.n++;
	return 0;
}

static inline void mock_clear(void)
{
	for (unsigned i = 0; i < mock.n; i++)
		free(mock.out[i]);
	mock.n = 0;
}

static inline void mock_setup(void)
{
	hr_clock_freeze();
	ck_assert_int_eq(hr_sip_alloc(&mock.sip, NULL), 0);
	hr_sip_set_send(mock.sip, mock_send, NULL);
	hr_sa_set(&mock.src, "192.0.2.1", 5060);
}

static inline void mock_teardown(void)
{
	mock_clear();
	mock.sip = hr_mem_deref(mock.sip);
	ck_assert_uint_eq(hr_tmr_count(), 0);
	ck_assert_uint_eq(hr_mem_live(), 0);
}

static inline void mock_recv(enum hr_tp tp, const char *msg)
{
	hr_sip_recv_raw(mock.sip, tp, msg, strlen(msg), &mock.src, NULL);
}

/* Move the clock and fire what became due. */
static inline void mock_advance(uint64_t ms)
{
	hr_clock_advance(ms);
	hr_tmr_poll();
}

/* Status code of captured message i. */
static inline unsigned mock_status(unsigned i)
{
	ck_assert_uint_lt(i, mock.n);
	ck_assert(!strncmp(mock.out[i], "SIP/2.0 ", 8));
	return (unsigned)atoi(mock.out[i] + 8);
}

#endif
