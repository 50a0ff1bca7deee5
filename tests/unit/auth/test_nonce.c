/* server/auth/nonce.c: stateless nonces, expiry and the nc table. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "auth/auth_int.h"
#include "check_run.h"

static const uint8_t secret1[32] = "0123456789abcdef0123456789abcdef";
static const uint8_t secret2[32] = "fedcba9876543210fedcba9876543210";
static struct hr_auth *a;

static struct hr_auth *mkauth(const uint8_t *secret, unsigned max)
{
	struct hr_auth_cfg cfg = { .secret = secret, .secret_len = 32,
		.nonce_ttl_s = 300, .max_nonces = max };
	struct hr_auth *x = NULL;

	ck_assert_int_eq(hr_auth_alloc(&x, &cfg), 0);
	return x;
}

static void setup(void)
{
	a = mkauth(secret1, 0);
}

static void teardown(void)
{
	a = hr_mem_deref(a);
	ck_assert_uint_eq(hr_mem_live(), 0);
}

static enum hr_nonce_state check(const struct hr_auth *x, const char *nonce,
	const char *realm, uint8_t raw[HR_NONCE_RAW])
{
	struct hr_pl pl = hr_pl_str(nonce);

	return hr_nonce_check(x, &pl, realm, raw);
}

START_TEST(test_valid_and_expired)
{
	char n[HR_NONCE_HEX + 1];
	uint8_t raw[HR_NONCE_RAW];

	ck_assert_int_eq(hr_nonce_make(a, "example.test", n, sizeof(n)), 0);
	ck_assert_uint_eq(strlen(n), HR_NONCE_HEX);
	ck_assert_int_eq(check(a, n, "example.test", raw), HR_NONCE_VALID);
	hr_auth_time_advance(a, 298);
	ck_assert_int_eq(check(a, n, "example.test", raw), HR_NONCE_VALID);
	hr_auth_time_advance(a, 2);
	ck_assert_int_eq(check(a, n, "example.test", raw), HR_NONCE_STALE);
	/* a nonce from far in the future (a clock set back): start over */
	hr_auth_time_advance(a, -1000);
	ck_assert_int_eq(check(a, n, "example.test", raw), HR_NONCE_STALE);
	ck_assert_int_eq(hr_nonce_make(a, "example.test", n, HR_NONCE_HEX),
		ENOSPC);
}
END_TEST

START_TEST(test_not_ours)
{
	char n[HR_NONCE_HEX + 1], t[HR_NONCE_HEX + 1];
	uint8_t raw[HR_NONCE_RAW];
	struct hr_auth *b = mkauth(secret2, 0);

	ck_assert_int_eq(hr_nonce_make(a, "example.test", n, sizeof(n)), 0);
	/* every single character flipped is refused */
	for (size_t i = 0; i < HR_NONCE_HEX; i++) {
		memcpy(t, n, sizeof(t));
		t[i] = t[i] == '0' ? '1' : '0';
		ck_assert_int_eq(check(a, t, "example.test", raw),
			HR_NONCE_FOREIGN);
	}
	/* one spelling only: uppercase hex is not the nonce we sent */
	memcpy(t, n, sizeof(t));
	for (size_t i = 0; i < HR_NONCE_HEX; i++) {
		if (t[i] >= 'a' && t[i] <= 'f')
			t[i] = (char)(t[i] - 'a' + 'A');
	}
	if (strcmp(t, n))
		ck_assert_int_eq(check(a, t, "example.test", raw),
			HR_NONCE_FOREIGN);
	ck_assert_int_eq(check(a, n, "other.test", raw), HR_NONCE_FOREIGN);
	ck_assert_int_eq(check(b, n, "example.test", raw), HR_NONCE_FOREIGN);
	ck_assert_int_eq(check(a, "", "example.test", raw), HR_NONCE_FOREIGN);
	ck_assert_int_eq(check(a,
		"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "example.test",
		raw), HR_NONCE_FOREIGN);
	n[HR_NONCE_HEX - 1] = '\0';
	ck_assert_int_eq(check(a, n, "example.test", raw), HR_NONCE_FOREIGN);
	hr_mem_deref(b);
}
END_TEST

START_TEST(test_nc)
{
	char n1[HR_NONCE_HEX + 1], n2[HR_NONCE_HEX + 1];
	uint8_t r1[HR_NONCE_RAW], r2[HR_NONCE_RAW];

	ck_assert_int_eq(hr_nonce_make(a, "example.test", n1, sizeof(n1)), 0);
	ck_assert_int_eq(hr_nonce_make(a, "example.test", n2, sizeof(n2)), 0);
	ck_assert_str_ne(n1, n2);
	ck_assert_int_eq(check(a, n1, "example.test", r1), HR_NONCE_VALID);
	ck_assert_int_eq(check(a, n2, "example.test", r2), HR_NONCE_VALID);
	ck_assert_int_eq(hr_nonce_nc(a, r1, 1), HR_NC_OK);
	ck_assert_int_eq(hr_nonce_nc(a, r1, 2), HR_NC_OK);
	ck_assert_int_eq(hr_nonce_nc(a, r1, 2), HR_NC_REPLAY);
	ck_assert_int_eq(hr_nonce_nc(a, r1, 1), HR_NC_REPLAY);
	/* a different nonce has its own counter */
	ck_assert_int_eq(hr_nonce_nc(a, r2, 1), HR_NC_OK);
	ck_assert_int_eq(hr_nonce_nc(a, r2, 1), HR_NC_REPLAY);
	/* gaps are fine (Linphone reuses a nonce with a higher nc) */
	ck_assert_int_eq(hr_nonce_nc(a, r1, 7), HR_NC_OK);
	ck_assert_int_eq(hr_auth_nonce_count(a), 2);
}
END_TEST

static struct hr_auth *mknode(const char *node)
{
	struct hr_auth_cfg cfg = { .secret = secret1, .secret_len = 32,
		.nonce_ttl_s = 300, .node = node };
	struct hr_auth *x = NULL;

	ck_assert_int_eq(hr_auth_alloc(&x, &cfg), 0);
	return x;
}

/* Issue 21: nodes share the secret, not their nc tables: a nonce of one
 * node is stale on another (a new challenge, stale=true), so a nonce
 * counted on one cannot be replayed on the other. */
START_TEST(test_other_node)
{
	struct hr_auth *n1 = mknode("n1"), *n1b = mknode("n1"),
		*n2 = mknode("n2");
	char n[HR_NONCE_HEX + 1];
	uint8_t raw[HR_NONCE_RAW];

	ck_assert_int_eq(hr_nonce_make(n1, "example.test", n, sizeof(n)), 0);
	ck_assert_int_eq(check(n1, n, "example.test", raw), HR_NONCE_VALID);
	ck_assert_int_eq(hr_nonce_nc(n1, raw, 1), HR_NC_OK);
	ck_assert_int_eq(check(n2, n, "example.test", raw), HR_NONCE_STALE);
	/* the single node's (no id) is another's too */
	ck_assert_int_eq(check(a, n, "example.test", raw), HR_NONCE_STALE);
	/* the same node restarted takes it */
	ck_assert_int_eq(check(n1b, n, "example.test", raw), HR_NONCE_VALID);
	hr_mem_deref(n1);
	hr_mem_deref(n1b);
	hr_mem_deref(n2);
}
END_TEST

START_TEST(test_nc_expiry)
{
	char n[HR_NONCE_HEX + 1];
	uint8_t r1[HR_NONCE_RAW], r2[HR_NONCE_RAW];

	ck_assert_int_eq(hr_nonce_make(a, "example.test", n, sizeof(n)), 0);
	ck_assert_int_eq(check(a, n, "example.test", r1), HR_NONCE_VALID);
	ck_assert_int_eq(hr_nonce_nc(a, r1, 1), HR_NC_OK);
	hr_auth_time_advance(a, 301);
	ck_assert_int_eq(hr_nonce_make(a, "example.test", n, sizeof(n)), 0);
	ck_assert_int_eq(check(a, n, "example.test", r2), HR_NONCE_VALID);
	ck_assert_int_eq(hr_nonce_nc(a, r2, 1), HR_NC_OK);
	/* the expired entry was dropped on the way */
	ck_assert_int_eq(hr_auth_nonce_count(a), 1);
}
END_TEST

/* A full table evicts its oldest entry and never reopens its replay. */
START_TEST(test_nc_bound)
{
	char n[HR_NONCE_HEX + 1];
	uint8_t r[5][HR_NONCE_RAW];
	struct hr_auth *b = mkauth(secret2, 4);

	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(hr_nonce_make(b, "r", n, sizeof(n)), 0);
		ck_assert_int_eq(check(b, n, "r", r[i]), HR_NONCE_VALID);
		if (i < 4)
			hr_auth_time_advance(b, 1);
	}
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(hr_nonce_nc(b, r[i], 1), HR_NC_OK);
	ck_assert_uint_eq(hr_auth_nonce_count(b), 4);
	ck_assert_int_eq(hr_nonce_nc(b, r[0], 1), HR_NC_UNTRACKED);
	ck_assert_int_eq(hr_nonce_nc(b, r[0], 2), HR_NC_UNTRACKED);
	ck_assert_int_eq(hr_nonce_nc(b, r[4], 1), HR_NC_REPLAY);
	ck_assert_int_eq(hr_nonce_nc(b, r[4], 2), HR_NC_OK);
	hr_mem_deref(b);
}
END_TEST

START_TEST(test_alloc)
{
	struct hr_auth *x = NULL;
	struct hr_auth_cfg cfg = { .secret = secret1, .secret_len = 8 };

	ck_assert_int_eq(hr_auth_alloc(&x, &cfg), EINVAL);
	ck_assert_ptr_null(x);
	ck_assert_int_eq(hr_auth_alloc(NULL, &cfg), EINVAL);
	/* no secret: a random one */
	ck_assert_int_eq(hr_auth_alloc(&x, NULL), 0);
	ck_assert_ptr_nonnull(x);
	ck_assert_uint_eq(x->ttl_s, 300);
	hr_mem_deref(x);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("nonce");
	TCase *tc = tcase_create("nonce");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_valid_and_expired);
	tcase_add_test(tc, test_not_ours);
	tcase_add_test(tc, test_nc);
	tcase_add_test(tc, test_other_node);
	tcase_add_test(tc, test_nc_expiry);
	tcase_add_test(tc, test_nc_bound);
	tcase_add_test(tc, test_alloc);
	suite_add_tcase(s, tc);
	return hr_check_run(s);
}
