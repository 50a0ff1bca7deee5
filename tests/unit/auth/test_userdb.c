/* server/auth/userdb.c: the in-memory user directory. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include "auth/auth.h"
#include "check_run.h"

#define MD5 "0123456789abcdef0123456789abcdef"
#define SHA MD5 MD5

START_TEST(test_userdb)
{
	struct hr_userdb *db;
	struct hr_pl alice = HR_PL("alice"), full = HR_PL("alice@example.test"),
		sipsak = HR_PL("alice@"), bob = HR_PL("bob");
	char ha1[65];

	ck_assert_int_eq(hr_userdb_alloc(&db), 0);
	ck_assert_int_eq(hr_userdb_put(db, "alice", "example.test", MD5, SHA),
		0);
	ck_assert_int_eq(hr_userdb_put(db, "alice", "example.test", "short",
		SHA), EINVAL);
	ck_assert(hr_userdb_exists("alice", "example.test", db));
	ck_assert(hr_userdb_exists("alice", "EXAMPLE.test", db));
	ck_assert(!hr_userdb_exists("Alice", "example.test", db));
	ck_assert(!hr_userdb_exists("alice", "other.test", db));
	ck_assert_int_eq(hr_userdb_ha1(&alice, "example.test", HR_DIGEST_MD5,
		ha1, sizeof(ha1), db), 0);
	ck_assert_str_eq(ha1, MD5);
	ck_assert_int_eq(hr_userdb_ha1(&full, "example.test",
		HR_DIGEST_SHA256, ha1, sizeof(ha1), db), 0);
	ck_assert_str_eq(ha1, SHA);
	ck_assert_int_eq(hr_userdb_ha1(&sipsak, "example.test", HR_DIGEST_MD5,
		ha1, sizeof(ha1), db), 0);
	ck_assert_int_eq(hr_userdb_ha1(&bob, "example.test", HR_DIGEST_MD5,
		ha1, sizeof(ha1), db), ENOENT);
	ck_assert_int_eq(hr_userdb_ha1(&alice, "example.test",
		HR_DIGEST_SHA256, ha1, 10, db), ENOSPC);
	/* replace, then delete */
	ck_assert_int_eq(hr_userdb_put(db, "alice", "example.test", MD5, SHA),
		0);
	ck_assert_uint_eq(hr_userdb_count(db), 1);
	hr_userdb_del(db, "alice", "example.test");
	hr_userdb_del(db, "alice", "example.test");
	ck_assert(!hr_userdb_exists("alice", "example.test", db));
	ck_assert_uint_eq(hr_userdb_count(db), 0);
	for (int i = 0; i < 100; i++) {
		char u[16];

		snprintf(u, sizeof(u), "u%d", i);
		ck_assert_int_eq(hr_userdb_put(db, u, "example.test", MD5, SHA),
			0);
	}
	/* a full list after an outage: users it does not name are gone */
	hr_userdb_sync_begin(db);
	ck_assert_int_eq(hr_userdb_put(db, "u1", "example.test", MD5, SHA), 0);
	ck_assert_int_eq(hr_userdb_put(db, "new", "example.test", MD5, SHA),
		0);
	ck_assert_uint_eq(hr_userdb_sync_end(db), 99);
	ck_assert_uint_eq(hr_userdb_count(db), 2);
	ck_assert(hr_userdb_exists("u1", "example.test", db));
	ck_assert(hr_userdb_exists("new", "example.test", db));
	ck_assert(!hr_userdb_exists("u2", "example.test", db));
	/* roles, and a check of the user an AOR names */
	ck_assert_int_eq(hr_userdb_set_role(db, "u1", "example.test",
		HR_ROLE_MONITOR), 0);
	ck_assert_int_eq(hr_userdb_set_role(db, "u2", "example.test",
		HR_ROLE_MONITOR), ENOENT);
	ck_assert(hr_user_check(hr_userdb_is_monitor, "u1@Example.TEST", db));
	ck_assert(!hr_user_check(hr_userdb_is_monitor, "new@example.test",
		db));
	ck_assert(hr_user_check(hr_userdb_exists, "new@example.test", db));
	ck_assert(!hr_user_check(hr_userdb_exists, "new", db));
	ck_assert(!hr_user_check(hr_userdb_exists, "@example.test", db));
	ck_assert(hr_user_check(NULL, "anyone@example.test", db));
	ck_assert(!hr_user_check(NULL, "anyone", db));
	/* a user replaced is a user again */
	ck_assert_int_eq(hr_userdb_put(db, "u1", "example.test", MD5, SHA), 0);
	ck_assert(!hr_userdb_is_monitor("u1", "example.test", db));
	hr_mem_deref(db);
	ck_assert_uint_eq(hr_mem_live(), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("userdb");
	TCase *tc = tcase_create("userdb");

	tcase_add_test(tc, test_userdb);
	suite_add_tcase(s, tc);
	return hr_check_run(s);
}
