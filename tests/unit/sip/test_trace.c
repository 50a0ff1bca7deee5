/* server/sip/trace.c: which messages a trace sees (its AOR in From, To or
 * the Request-URI; its peer, with or without a port), in and out, and the
 * credentials' values redacted, folded lines too. */
#include <errno.h>
#include <stdio.h>
#include "sipmock.h"
#include "check_run.h"

#define MAXSEEN 16

static struct {
	unsigned n;
	bool out[MAXSEEN];
	char *text[MAXSEEN];
} seen;

static void on_msg(const struct hr_sip_trace_msg *m, void *arg)
{
	(void)arg;
	ck_assert_uint_lt(seen.n, MAXSEEN);
	seen.out[seen.n] = m->out;
	seen.text[seen.n] = strndup(m->text, m->len);
	seen.n++;
}

static void seen_clear(void)
{
	for (unsigned i = 0; i < seen.n; i++)
		free(seen.text[i]);
	seen.n = 0;
}

static void teardown(void)
{
	seen_clear();
	mock_teardown();
}

static const char *opt(const char *from, const char *extra)
{
	static char m[1024];
	static unsigned n;

	snprintf(m, sizeof(m),
		"OPTIONS sip:herald.example.test SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK%u\r\n"
		"Max-Forwards: 70\r\n"
		"From: <sip:%s>;tag=1\r\n"
		"To: <sip:herald.example.test>\r\n"
		"Call-ID: c-%s\r\n"
		"CSeq: 1 OPTIONS\r\n"
		"%s"
		"Content-Length: 0\r\n\r\n", ++n, from, from, extra);
	return m;
}

START_TEST(test_aor)
{
	struct hr_sip_trace *t;

	ck_assert_int_eq(hr_sip_trace_start(&t, mock.sip, "alice@example.test",
		NULL, on_msg, NULL), 0);
	/* the domain compares lowercased; the answer goes out traced too */
	mock_recv(HR_TP_UDP, opt("alice@EXAMPLE.test", ""));
	ck_assert_uint_eq(seen.n, 2);
	ck_assert(!seen.out[0]);
	ck_assert(seen.out[1]);
	ck_assert(!strncmp(seen.text[0], "OPTIONS ", 8));
	ck_assert(!strncmp(seen.text[1], "SIP/2.0 200", 11));
	mock_recv(HR_TP_UDP, opt("bob@example.test", ""));
	ck_assert_uint_eq(seen.n, 2);
	t = hr_mem_deref(t);
	mock_recv(HR_TP_UDP, opt("alice@example.test", ""));
	ck_assert_uint_eq(seen.n, 2);
}
END_TEST

START_TEST(test_peer)
{
	struct hr_sip_trace *t, *t2;
	struct hr_sa any, other;

	hr_sa_set(&any, "192.0.2.1", 0);
	hr_sa_set(&other, "192.0.2.1", 5999);
	ck_assert_int_eq(hr_sip_trace_start(&t, mock.sip, NULL, &any, on_msg,
		NULL), 0);
	ck_assert_int_eq(hr_sip_trace_start(&t2, mock.sip, NULL, &other,
		on_msg, NULL), 0);
	/* mock.src is 192.0.2.1:5060: the first sees in and out, the second
	 * (another port) nothing */
	mock_recv(HR_TP_UDP, opt("bob@example.test", ""));
	ck_assert_uint_eq(seen.n, 2);
	hr_mem_deref(t2);
	hr_mem_deref(t);
	ck_assert_int_eq(hr_sip_trace_start(&t, mock.sip, NULL, NULL, on_msg,
		NULL), EINVAL);
}
END_TEST

START_TEST(test_redact)
{
	struct hr_sip_trace *t;
	const char *secret;

	ck_assert_int_eq(hr_sip_trace_start(&t, mock.sip, "alice@example.test",
		NULL, on_msg, NULL), 0);
	mock_recv(HR_TP_UDP, opt("alice@example.test",
		"Authorization: Digest username=\"alice\",\r\n"
		" response=\"6629fae49393a05397450978507c4ef1\"\r\n"
		"proxy-authorization : Digest nonce=\"n\", response=\"abcd\"\r\n"
		"X-Authorization-Note: kept\r\n"));
	ck_assert_uint_eq(seen.n, 2);
	secret = seen.text[0];
	ck_assert_ptr_null(strstr(secret, "6629fae4"));
	ck_assert_ptr_null(strstr(secret, "abcd"));
	ck_assert_ptr_null(strstr(secret, "username"));
	ck_assert_ptr_nonnull(strstr(secret,
		"\r\nAuthorization: Digest [redacted]\r\n"));
	ck_assert_ptr_nonnull(strstr(secret,
		"\r\nproxy-authorization : Digest [redacted]\r\n"));
	ck_assert_ptr_nonnull(strstr(secret, "\r\nX-Authorization-Note: kept"));
	ck_assert_ptr_nonnull(strstr(secret, "Content-Length: 0\r\n\r\n"));
	hr_mem_deref(t);
}
END_TEST

START_TEST(test_redact_body)
{
	struct hr_buf b;
	const char *m = "NOTIFY sip:a@b SIP/2.0\r\nAuthorization: Basic x\r\n"
		"Content-Length: 26\r\n\r\nAuthorization: in the body";

	hr_buf_init(&b, 1024);
	ck_assert_int_eq(hr_sip_trace_redact(&b, m, strlen(m)), 0);
	ck_assert_uint_eq(b.len, strlen(m) - 1 + strlen("[redacted]"));
	ck_assert(!memcmp(b.b + b.len - 26, "Authorization: in the body",
		26));
	hr_buf_reset(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("trace");
	TCase *tc = tcase_create("trace");

	tcase_add_checked_fixture(tc, mock_setup, teardown);
	tcase_add_test(tc, test_aor);
	tcase_add_test(tc, test_peer);
	tcase_add_test(tc, test_redact);
	tcase_add_test(tc, test_redact_body);
	suite_add_tcase(s, tc);
	return hr_check_run(s);
}
