/* server/auth/digest.c: HA1 and responses against RFC 7616 3.9.1. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "auth/auth.h"
#include "check_run.h"

#define PL(s) (&(struct hr_pl){ (s), sizeof(s) - 1 })

/* RFC 7616 3.9.1 */
static const struct hr_digest rfc7616 = {
	.username = HR_PL("Mufasa"),
	.realm = HR_PL("http-auth@example.org"),
	.uri = HR_PL("/dir/index.html"),
	.nonce = HR_PL("7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"),
	.nc = HR_PL("00000001"),
	.cnonce = HR_PL("f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"),
	.qop = HR_PL("auth"),
	.opaque = HR_PL("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"),
};

static void rfc_response(enum hr_digest_alg alg, const char *want)
{
	char ha1[HR_DIGEST_HEX_MAX], resp[HR_DIGEST_HEX_MAX];

	ck_assert_int_eq(hr_digest_ha1(ha1, sizeof(ha1), alg, "Mufasa",
		"http-auth@example.org", "Circle of Life"), 0);
	ck_assert_uint_eq(strlen(ha1), hr_digest_hexlen(alg));
	ck_assert_int_eq(hr_digest_response(resp, sizeof(resp), alg, ha1,
		&rfc7616, PL("GET")), 0);
	ck_assert_str_eq(resp, want);
}

START_TEST(test_rfc7616_md5)
{
	rfc_response(HR_DIGEST_MD5, "8ca523f5e9506fed4657c9700eebdbec");
	ck_assert_uint_eq(hr_mem_live(), 0);
}
END_TEST

START_TEST(test_rfc7616_sha256)
{
	rfc_response(HR_DIGEST_SHA256, "753927fa0e85d155564e2e272a28d180"
		"2ca10daf4496794697cf8db5856cb6c1");
	ck_assert_uint_eq(hr_mem_live(), 0);
}
END_TEST

START_TEST(test_ha1)
{
	char ha1[HR_DIGEST_HEX_MAX];

	/* printf "Mufasa:http-auth@example.org:Circle of Life" | md5sum */
	ck_assert_int_eq(hr_digest_ha1(ha1, sizeof(ha1), HR_DIGEST_MD5,
		"Mufasa", "http-auth@example.org", "Circle of Life"), 0);
	ck_assert_str_eq(ha1, "3d78807defe7de2157e2b0b6573a855f");
	ck_assert_int_eq(hr_digest_ha1(ha1, 32, HR_DIGEST_MD5, "a", "b", "c"),
		ENOSPC);
	ck_assert_int_eq(hr_digest_ha1(ha1, 64, HR_DIGEST_SHA256, "a", "b",
		"c"), ENOSPC);
	ck_assert_int_eq(hr_digest_ha1(ha1, sizeof(ha1), HR_DIGEST_MD5, NULL,
		"b", "c"), EINVAL);
	ck_assert_uint_eq(hr_mem_live(), 0);
}
END_TEST

/* Without qop (RFC 2069 style), inputs of RFC 2069 2.4 */
START_TEST(test_no_qop)
{
	struct hr_digest d = {
		.username = HR_PL("Mufasa"),
		.uri = HR_PL("/dir/index.html"),
		.nonce = HR_PL("dcd98b7102dd2f0e8b11d0f600bfb0c093"),
	};
	char ha1[HR_DIGEST_HEX_MAX], resp[HR_DIGEST_HEX_MAX];

	ck_assert_int_eq(hr_digest_ha1(ha1, sizeof(ha1), HR_DIGEST_MD5,
		"Mufasa", "testrealm@host.com", "Circle Of Life"), 0);
	ck_assert_int_eq(hr_digest_response(resp, sizeof(resp), HR_DIGEST_MD5,
		ha1, &d, PL("GET")), 0);
	/* RFC 2069 2.4's inputs; its printed response is a known erratum,
	 * so the value is from Python hashlib: H(HA1:nonce:H(A2)) */
	ck_assert_str_eq(resp, "670fd8c2df070c60b045671b8b24ff02");
	d.qop = HR_PL("auth-int");
	ck_assert_int_eq(hr_digest_response(resp, sizeof(resp), HR_DIGEST_MD5,
		ha1, &d, PL("GET")), EINVAL);
	ck_assert_uint_eq(hr_mem_live(), 0);
}
END_TEST

START_TEST(test_alg)
{
	enum hr_digest_alg alg = HR_DIGEST_SHA256;

	ck_assert_int_eq(hr_digest_alg_decode(&(struct hr_pl)HR_PL_INIT,
		&alg), 0);
	ck_assert_int_eq(alg, HR_DIGEST_MD5);
	ck_assert_int_eq(hr_digest_alg_decode(PL("sha-256"), &alg), 0);
	ck_assert_int_eq(alg, HR_DIGEST_SHA256);
	ck_assert_int_eq(hr_digest_alg_decode(PL("md5"), &alg), 0);
	ck_assert_int_eq(alg, HR_DIGEST_MD5);
	ck_assert_int_eq(hr_digest_alg_decode(PL("MD5-sess"), &alg),
		ENOTSUP);
	ck_assert_int_eq(hr_digest_alg_decode(PL("SHA-256-sess"), &alg),
		ENOTSUP);
	ck_assert_int_eq(hr_digest_alg_decode(PL("SHA-512-256"), &alg),
		ENOTSUP);
	ck_assert_str_eq(hr_digest_alg_name(HR_DIGEST_SHA256), "SHA-256");
	ck_assert_uint_eq(hr_mem_live(), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("digest");
	TCase *tc = tcase_create("digest");

	tcase_add_test(tc, test_rfc7616_md5);
	tcase_add_test(tc, test_rfc7616_sha256);
	tcase_add_test(tc, test_ha1);
	tcase_add_test(tc, test_no_qop);
	tcase_add_test(tc, test_alg);
	suite_add_tcase(s, tc);
	return hr_check_run(s);
}
