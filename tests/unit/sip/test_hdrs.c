/* server/sip/via.c, cseq.c, event.c, digest.c, ctype.c, param.c: typed
 * headers, valid and invalid. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "sip/sip.h"
#include "check_run.h"

#define PL(s) (&(struct hr_pl){ (s), sizeof(s) - 1 })

START_TEST(test_via)
{
	struct hr_via v;

	ck_assert_int_eq(hr_via_decode(&v,
		PL("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx;rport=5062;"
		"received=192.0.2.9")), 0);
	ck_assert(!hr_pl_strcmp(&v.proto, "UDP"));
	ck_assert_uint_eq(v.port, 5060);
	ck_assert(v.rport);
	ck_assert_uint_eq(v.rport_val, 5062);
	ck_assert(!hr_pl_strcmp(&v.received, "192.0.2.9"));
	ck_assert(hr_via_rfc3261(&v));
	ck_assert_int_eq(hr_via_decode(&v,
		PL("SIP / 2.0 / TCP\r\n host.example.test : 5070 ;branch=1")), 0);
	ck_assert(!hr_pl_strcmp(&v.host, "host.example.test"));
	ck_assert_uint_eq(v.port, 5070);
	ck_assert(!hr_via_rfc3261(&v));
	ck_assert_int_eq(hr_via_decode(&v, PL("SIP/2.0/UDP [::1]")), 0);
	ck_assert(v.ipv6);
	ck_assert_int_eq(v.ttl, -1);
	ck_assert_int_eq(hr_via_decode(&v, PL("SIP/2.0/UDP")), EBADMSG);
	ck_assert_int_eq(hr_via_decode(&v, PL("SIP/2.0/UDPhost")), EBADMSG);
	/* any version token: a 505 must still be routable */
	ck_assert_int_eq(hr_via_decode(&v, PL("SIP/3.0/UDP h")), 0);
	ck_assert_int_eq(hr_via_decode(&v, PL("SIPX/2.0/UDP h")), EBADMSG);
	ck_assert_int_eq(hr_via_decode(&v,
		PL("SIP/2.0/UDP h;received=2001:db8::9")), 0);
	ck_assert(!hr_pl_strcmp(&v.received, "2001:db8::9"));
	ck_assert_int_eq(hr_via_decode(&v,
		PL("SIP/2.0/UDP h;received=[2001:db8::9]")), 0);
	ck_assert(!hr_pl_strcmp(&v.received, "2001:db8::9"));
	ck_assert_int_eq(hr_via_decode(&v, PL("SIP/2.0/UDP h:99999")),
		EBADMSG);
	ck_assert_int_eq(hr_via_decode(&v, PL("SIP/2.0/UDP h;rport=x")),
		EBADMSG);
	ck_assert_int_eq(hr_via_decode(&v, PL("SIP/2.0/UDP h;branch=")),
		EBADMSG);
	ck_assert_int_eq(hr_via_decode(&v, PL("SIP/2.0/UDP h;ttl=300")),
		EBADMSG);
	ck_assert_int_eq(hr_via_decode(&v, PL("SIP/2.0/UDP ::1")), EBADMSG);
}
END_TEST

START_TEST(test_cseq)
{
	struct hr_cseq c;

	ck_assert_int_eq(hr_cseq_decode(&c, PL("  42   REGISTER ")), 0);
	ck_assert_uint_eq(c.num, 42);
	ck_assert_int_eq(c.meth, HR_METH_REGISTER);
	ck_assert_int_eq(hr_cseq_decode(&c, PL("0 FOO")), 0);
	ck_assert_int_eq(c.meth, HR_METH_OTHER);
	ck_assert_int_eq(hr_cseq_decode(&c, PL("42REGISTER")), EBADMSG);
	ck_assert_int_eq(hr_cseq_decode(&c, PL("42")), EBADMSG);
	ck_assert_int_eq(hr_cseq_decode(&c, PL("42 REG ISTER")), EBADMSG);
	ck_assert_int_eq(hr_cseq_decode(&c, PL("-42 REGISTER")), EBADMSG);
	ck_assert_int_eq(hr_cseq_decode(&c, PL("4294967296 REGISTER")),
		EBADMSG);
}
END_TEST

START_TEST(test_delta)
{
	uint32_t v;

	ck_assert_int_eq(hr_delta_decode(PL(" 3600 "), &v), 0);
	ck_assert_uint_eq(v, 3600);
	ck_assert_int_eq(hr_delta_decode(PL("99999999999999999999999"), &v),
		0);
	ck_assert_uint_eq(v, UINT32_MAX);
	ck_assert_int_eq(hr_delta_decode(PL("1h"), &v), EBADMSG);
	ck_assert_int_eq(hr_delta_decode(PL(""), &v), EBADMSG);
}
END_TEST

START_TEST(test_event)
{
	struct hr_event e;
	struct hr_substate s;

	ck_assert_int_eq(hr_event_decode(&e, PL("presence.winfo;id=a1")), 0);
	ck_assert(!hr_pl_strcmp(&e.package, "presence.winfo"));
	ck_assert(!hr_pl_strcmp(&e.id, "a1"));
	ck_assert_int_eq(hr_event_decode(&e, PL("reg")), 0);
	ck_assert(!e.id.p);
	ck_assert_int_eq(hr_event_decode(&e, PL(".reg")), EBADMSG);
	ck_assert_int_eq(hr_event_decode(&e, PL("reg;id=")), EBADMSG);
	ck_assert_int_eq(hr_event_decode(&e, PL("pres ence")), EBADMSG);
	ck_assert_int_eq(hr_substate_decode(&s,
		PL("terminated;reason=probation;retry-after=30")), 0);
	ck_assert(!hr_pl_strcmp(&s.state, "terminated"));
	ck_assert(!hr_pl_strcmp(&s.reason, "probation"));
	ck_assert(s.has_retry_after);
	ck_assert_uint_eq(s.retry_after, 30);
	ck_assert(!s.has_expires);
	ck_assert_int_eq(hr_substate_decode(&s, PL("active;expires=599")), 0);
	ck_assert_uint_eq(s.expires, 599);
	ck_assert_int_eq(hr_substate_decode(&s, PL("active;expires=x")),
		EBADMSG);
}
END_TEST

START_TEST(test_digest)
{
	struct hr_digest d;

	ck_assert_int_eq(hr_digest_decode(&d,
		PL("Digest username=\"alice\", realm=\"example.test\",\r\n "
		"nonce=\"abc\", uri=\"sip:example.test\", response=\"0123\","
		" algorithm=SHA-256, cnonce=\"xyz\", qop=auth, nc=00000001,"
		" opaque=\"op\"")), 0);
	ck_assert(!hr_pl_strcmp(&d.scheme, "Digest"));
	ck_assert(!hr_pl_strcmp(&d.username, "alice"));
	ck_assert(!hr_pl_strcmp(&d.realm, "example.test"));
	ck_assert(!hr_pl_strcmp(&d.uri, "sip:example.test"));
	ck_assert(!hr_pl_strcmp(&d.algorithm, "SHA-256"));
	ck_assert(!hr_pl_strcmp(&d.qop, "auth"));
	ck_assert(!hr_pl_strcmp(&d.nc, "00000001"));
	ck_assert(!hr_pl_strcmp(&d.opaque, "op"));
	/* sipsak without -u: username="alice@" */
	ck_assert_int_eq(hr_digest_decode(&d,
		PL("Digest username=\"alice@\",realm=\"r\"")), 0);
	ck_assert(!hr_pl_strcmp(&d.username, "alice@"));
	ck_assert_int_eq(hr_digest_decode(&d, PL("Digest")), EBADMSG);
	ck_assert_int_eq(hr_digest_decode(&d, PL("Digest realm")), EBADMSG);
	ck_assert_int_eq(hr_digest_decode(&d,
		PL("Digest realm=\"a\" nonce=\"b\"")), EBADMSG);
	ck_assert_int_eq(hr_digest_decode(&d,
		PL("Digest realm=\"a\", realm=\"b\"")), EBADMSG);
	ck_assert_int_eq(hr_digest_decode(&d, PL("Digest realm=\"a")),
		EBADMSG);
}
END_TEST

START_TEST(test_ctype)
{
	struct hr_ctype c;
	struct hr_pl v;

	ck_assert_int_eq(hr_ctype_decode(&c,
		PL("application/pidf+xml ; charset=\"utf-8\"")), 0);
	ck_assert(hr_ctype_match(&c, "application", "pidf+xml"));
	ck_assert(hr_ctype_match(&c, "APPLICATION", "*"));
	ck_assert(!hr_ctype_match(&c, "application", "sdp"));
	ck_assert_int_eq(hr_param_get(&c.params, "charset", &v), 0);
	ck_assert(!hr_pl_strcmp(&v, "\"utf-8\""));
	ck_assert_int_eq(hr_ctype_decode(&c, PL("*/*")), 0);
	ck_assert(hr_ctype_match(&c, "text", "plain"));
	ck_assert_int_eq(hr_ctype_decode(&c, PL("application")), EBADMSG);
	ck_assert_int_eq(hr_ctype_decode(&c, PL("a/b;")), EBADMSG);
}
END_TEST

START_TEST(test_params)
{
	struct hr_pl v, p = HR_PL(";a=1; b ;c=\"x;y\";D=4");

	ck_assert_int_eq(hr_param_get(&p, "a", &v), 0);
	ck_assert(!hr_pl_strcmp(&v, "1"));
	ck_assert_int_eq(hr_param_get(&p, "b", &v), 0);
	ck_assert_uint_eq(v.len, 0);
	ck_assert_int_eq(hr_param_get(&p, "c", &v), 0);
	ck_assert(!hr_pl_strcmp(&v, "\"x;y\""));
	ck_assert_int_eq(hr_param_get(&p, "d", &v), 0);
	ck_assert(!hr_pl_strcmp(&v, "4"));
	ck_assert_int_eq(hr_param_get(&p, "y", &v), ENOENT);
	ck_assert(!hr_param_exists(&p, "x"));
}
END_TEST

START_TEST(test_names)
{
	ck_assert_int_eq(hr_hdr_id(PL("v")), HR_HDR_VIA);
	ck_assert_int_eq(hr_hdr_id(PL("O")), HR_HDR_EVENT);
	ck_assert_int_eq(hr_hdr_id(PL("u")), HR_HDR_ALLOW_EVENTS);
	ck_assert_int_eq(hr_hdr_id(PL("sip-etag")), HR_HDR_SIP_ETAG);
	ck_assert_int_eq(hr_hdr_id(PL("SUBSCRIPTION-STATE")),
		HR_HDR_SUBSCRIPTION_STATE);
	ck_assert_int_eq(hr_hdr_id(PL("X-Foo")), HR_HDR_OTHER);
	ck_assert_int_eq(hr_hdr_id(PL("q")), HR_HDR_OTHER);
	ck_assert_str_eq(hr_hdr_name(HR_HDR_CALL_ID), "Call-ID");
	for (int id = 1; id < HR_HDR__N; id++) {
		struct hr_pl n = hr_pl_str(hr_hdr_name((enum hr_hdr_id)id));

		ck_assert_int_eq(hr_hdr_id(&n), id);
	}
	ck_assert_int_eq(hr_method_id(PL("SUBSCRIBE")), HR_METH_SUBSCRIBE);
	/* RFC 3261 7.1: methods are case-sensitive */
	ck_assert_int_eq(hr_method_id(PL("subscribe")), HR_METH_OTHER);
}
END_TEST

START_TEST(test_utf8)
{
	ck_assert(hr_utf8_valid("plain", 5));
	ck_assert(hr_utf8_valid("\xc3\xa9\xe2\x98\x83\xf0\x9f\x98\x80", 9));
	ck_assert(!hr_utf8_valid("\xe9", 1));
	ck_assert(!hr_utf8_valid("\xc0\xaf", 2));          /* overlong */
	ck_assert(!hr_utf8_valid("\xed\xa0\x80", 3));      /* surrogate */
	ck_assert(!hr_utf8_valid("\xf4\x90\x80\x80", 4));  /* > U+10FFFF */
	ck_assert(!hr_utf8_valid("\xe2\x98", 2));          /* truncated */
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("hdrs");
	TCase *tc = tcase_create("hdrs");

	tcase_add_test(tc, test_via);
	tcase_add_test(tc, test_cseq);
	tcase_add_test(tc, test_delta);
	tcase_add_test(tc, test_event);
	tcase_add_test(tc, test_digest);
	tcase_add_test(tc, test_ctype);
	tcase_add_test(tc, test_params);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_utf8);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return hr_check_run(suite());
}
