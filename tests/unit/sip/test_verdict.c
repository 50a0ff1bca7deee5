/* server/sip/verdict.c: the one mapping from what a request's checks
 * found to the response (errno -> 500, or 503 with Retry-After), and
 * hr_strans_answer, which sends, logs and counts it. */
#include <errno.h>
#include "sipmock.h"
#include "check_run.h"

#define REQ(branch) "SUBSCRIBE sip:alice@example.test SIP/2.0\r\n" \
	"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=" branch "\r\n" \
	"Max-Forwards: 70\r\nTo: <sip:alice@example.test>\r\n" \
	"From: <sip:bob@example.test>;tag=b1\r\nCall-ID: v1@h\r\n" \
	"CSeq: 1 SUBSCRIBE\r\nContent-Length: 0\r\n\r\n"

/* The store away or its queue full: it will pass. */
static const int passing[] = { ETIMEDOUT, ENOSPC, EAGAIN, EBUSY, ENOTCONN,
	ECONNREFUSED };
/* Anything else is Herald's own failure. */
static const int internal[] = { ENOMEM, EIO, EPROTO, EINVAL, EMSGSIZE };

static void assert_hdrs(const struct hr_resp *resp, const char *want)
{
	ck_assert_uint_eq(resp->hdrs.len, strlen(want));
	ck_assert(!memcmp(resp->hdrs.p, want, resp->hdrs.len));
}

START_TEST(test_passing_err_is_503)
{
	struct hr_verdict v;
	struct hr_resp resp;

	ck_assert(!hr_verdict_fail(&v, passing[_i], "test: store"));
	hr_verdict_resp(&v, &resp);
	ck_assert_uint_eq(resp.scode, 503);
	ck_assert_str_eq(resp.reason, "Service Unavailable");
	/* RFC 3261 21.5.4 */
	assert_hdrs(&resp, "Retry-After: 5\r\n");
	ck_assert_int_eq(resp.err, passing[_i]);
	ck_assert_str_eq(resp.where, "test: store");
	ck_assert_ptr_null(resp.why);
}
END_TEST

START_TEST(test_internal_err_is_500)
{
	struct hr_verdict v;
	struct hr_resp resp;

	ck_assert(!hr_verdict_fail(&v, internal[_i], "test: inside"));
	hr_verdict_resp(&v, &resp);
	ck_assert_uint_eq(resp.scode, 500);
	ck_assert_str_eq(resp.reason, "Server Internal Error");
	assert_hdrs(&resp, "");
	ck_assert_int_eq(resp.err, internal[_i]);
	ck_assert_str_eq(resp.where, "test: inside");
}
END_TEST

/* A refusal keeps its status, reason and extra headers as given; one
 * without a cause is not a limit's (its where stays NULL: not logged). */
START_TEST(test_refusal_with_headers)
{
	struct hr_verdict v;
	struct hr_resp resp;

	ck_assert(!hr_verdict_refuse(&v, 423, "Interval Too Brief",
		hr_verdict_hdrs(&v, "Min-Expires: %u\r\n", 60u)));
	hr_verdict_resp(&v, &resp);
	ck_assert_uint_eq(resp.scode, 423);
	ck_assert_str_eq(resp.reason, "Interval Too Brief");
	assert_hdrs(&resp, "Min-Expires: 60\r\n");
	ck_assert_int_eq(resp.err, 0);
	ck_assert_ptr_null(resp.where);
	/* no headers: none printed */
	hr_verdict_refuse(&v, 400, "Missing Contact", NULL);
	hr_verdict_resp(&v, &resp);
	ck_assert_uint_eq(resp.scode, 400);
	assert_hdrs(&resp, "");
}
END_TEST

/* A refusal with a cause, even one that names an errno-like status
 * (500 Request Pending), keeps its own status: only scode 0 maps. */
START_TEST(test_refusal_with_cause)
{
	struct hr_verdict v;
	struct hr_resp resp;

	hr_verdict_fail(&v, ETIMEDOUT, "overwritten");
	ck_assert(!hr_verdict_refuse_why(&v, 500, "Request Pending",
		"Retry-After: 1\r\n", "test: refresh", "being stored"));
	hr_verdict_resp(&v, &resp);
	ck_assert_uint_eq(resp.scode, 500);
	ck_assert_str_eq(resp.reason, "Request Pending");
	assert_hdrs(&resp, "Retry-After: 1\r\n");
	ck_assert_int_eq(resp.err, 0);
	ck_assert_str_eq(resp.where, "test: refresh");
	ck_assert_str_eq(resp.why, "being stored");
}
END_TEST

/* Headers made for a verdict are cut at its buffer, never past it. */
START_TEST(test_hdrs_bounded)
{
	struct hr_verdict v;
	char big[1024];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_ptr_eq(hr_verdict_hdrs(&v, "Accept: %s\r\n", big), v.hbuf);
	ck_assert_uint_eq(strlen(v.hbuf), sizeof(v.hbuf) - 1);
	ck_assert_ptr_eq(hr_verdict_where(&v, "%s", big), v.wbuf);
	ck_assert_uint_eq(strlen(v.wbuf), sizeof(v.wbuf) - 1);
}
END_TEST

static struct hr_strans *held;

static void later(struct hr_strans *st, const struct hr_msg *req, void *arg)
{
	(void)req;
	(void)arg;
	held = hr_mem_ref(st);
}

/* Through a transaction: the bytes sent, and the count keeps a where
 * made in the verdict's own buffer after that buffer is gone. */
START_TEST(test_answer_sends_and_counts)
{
	struct hr_sip_stats stats;
	struct hr_verdict v;

	hr_sip_handle(mock.sip, HR_METH_SUBSCRIBE, later, NULL);
	mock_recv(HR_TP_UDP, REQ("z9hG4bKv1"));
	hr_verdict_fail(&v, ENOSPC, hr_verdict_where(&v, "%s: %s",
		"presence", "queueing the PUBLISH"));
	ck_assert_int_eq(hr_strans_answer(held, &v), 0);
	ck_assert_uint_eq(mock_status(0), 503);
	ck_assert(!strncmp(mock.out[0], "SIP/2.0 503 Service Unavailable\r\n",
		33));
	ck_assert_ptr_nonnull(strstr(mock.out[0], "\r\nRetry-After: 5\r\n"));
	memset(v.wbuf, 0, sizeof(v.wbuf));
	hr_sip_stats(mock.sip, &stats);
	ck_assert_uint_eq(stats.nfails, 1);
	ck_assert_uint_eq(stats.fails[0].scode, 503);
	ck_assert_int_eq(stats.fails[0].err, ENOSPC);
	ck_assert_str_eq(stats.fails[0].where,
		"presence: queueing the PUBLISH");
	held = hr_mem_deref(held);
	/* the same cause again is the same kind */
	mock_recv(HR_TP_UDP, REQ("z9hG4bKv2"));
	hr_verdict_fail(&v, ENOSPC, hr_verdict_where(&v, "%s: %s",
		"presence", "queueing the PUBLISH"));
	hr_strans_answer(held, &v);
	hr_sip_stats(mock.sip, &stats);
	ck_assert_uint_eq(stats.nfails, 1);
	ck_assert_uint_eq(stats.fails[0].n, 2);
	held = hr_mem_deref(held);
	mock_advance(64 * HR_SIP_T1);
}
END_TEST

/* hr_strans_fail is the same mapping. */
START_TEST(test_strans_fail_maps_alike)
{
	hr_sip_handle(mock.sip, HR_METH_SUBSCRIBE, later, NULL);
	mock_recv(HR_TP_UDP, REQ("z9hG4bKv3"));
	hr_strans_fail(held, ENOMEM, "test: alloc");
	ck_assert(!strncmp(mock.out[0],
		"SIP/2.0 500 Server Internal Error\r\n", 35));
	ck_assert_ptr_null(strstr(mock.out[0], "Retry-After"));
	held = hr_mem_deref(held);
	mock_advance(64 * HR_SIP_T1);
}
END_TEST

static void setup(void)
{
	mock_setup();
	held = NULL;
}

static Suite *suite(void)
{
	Suite *s = suite_create("verdict");
	TCase *tc = tcase_create("mapping");
	TCase *tx = tcase_create("answer");

	tcase_add_loop_test(tc, test_passing_err_is_503, 0,
		sizeof(passing) / sizeof(passing[0]));
	tcase_add_loop_test(tc, test_internal_err_is_500, 0,
		sizeof(internal) / sizeof(internal[0]));
	tcase_add_test(tc, test_refusal_with_headers);
	tcase_add_test(tc, test_refusal_with_cause);
	tcase_add_test(tc, test_hdrs_bounded);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tx, setup, mock_teardown);
	tcase_add_test(tx, test_answer_sends_and_counts);
	tcase_add_test(tx, test_strans_fail_maps_alike);
	suite_add_tcase(s, tx);
	return s;
}

int main(void)
{
	return hr_check_run(suite());
}
