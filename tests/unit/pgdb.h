/* A throwaway PostgreSQL database for each test, on the cluster that
 * HERALD_TEST_DATABASE_URL names (script/test starts one with script/pg).
 * Without the variable the test is skipped (exit 77). */
#ifndef HR_TEST_PGDB_H
#define HR_TEST_PGDB_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libpq-fe.h>
#include "core/core.h"
#include "store/store.h"
#include "check_run.h"

#define PGDB_ENV "HERALD_TEST_DATABASE_URL"

struct pgdb {
	char name[32];          /* the prefix and 12 random characters */
	char url[512];          /* the base URL with dbname=name */
};

/* The base URL, or NULL after saying the test is skipped (return 77). */
static inline const char *pgdb_base(void)
{
	const char *url = getenv(PGDB_ENV);

	if (!url || !*url) {
		printf("skipped: " PGDB_ENV " is not set (script/test sets "
			"it)\n");
		return NULL;
	}
	return url;
}

/* A connection to url, or the test fails. */
static inline PGconn *pgdb_connect(const char *url)
{
	PGconn *c = PQconnectdb(url);

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	return c;
}

/* Run q on url; an error fails the test. */
static inline void pgdb_exec(const char *url, const char *q)
{
	PGconn *c = pgdb_connect(url);
	PGresult *r = PQexec(c, q);

	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK ||
		PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", q,
		PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
}

/* The number q answers on url with one row of one column: a count(*),
 * or one field of one row. */
static inline long long pgdb_count(const char *url, const char *q)
{
	PGconn *c = pgdb_connect(url);
	PGresult *r = PQexec(c, q);
	long long n;

	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK &&
		PQntuples(r) == 1, "%s: %s", q, PQresultErrorMessage(r));
	n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	PQfinish(c);
	return n;
}

/* A fresh database named prefix and 12 random characters, migrated; the
 * number of migrations applied. db->url is the base URL with its dbname
 * overridden (a later keyword or URI parameter wins in libpq), so the
 * base's host, user, password and options carry over in either form. */
static inline unsigned pgdb_create(struct pgdb *db, const char *prefix)
{
	const char *base = getenv(PGDB_ENV);
	size_t len = strlen(prefix);
	const char *sep = " ";
	unsigned n = 0;
	char q[128];
	int w;

	ck_assert_ptr_nonnull(base);
	ck_assert_uint_lt(len + 12, sizeof(db->name));
	memcpy(db->name, prefix, len);
	hr_rand_token(db->name + len, 12);
	snprintf(q, sizeof(q), "CREATE DATABASE %s", db->name);
	pgdb_exec(base, q);
	if (!strncmp(base, "postgres://", 11) ||
	    !strncmp(base, "postgresql://", 13))
		sep = strchr(base, '?') ? "&" : "?";
	w = snprintf(db->url, sizeof(db->url), "%s%sdbname=%s", base, sep,
		db->name);
	ck_assert_uint_lt((unsigned)w, sizeof(db->url));
	ck_assert_int_eq(hr_store_migrate(db->url, &n), 0);
	return n;
}

/* Drop db, closing what is still connected to it. */
static inline void pgdb_drop(const struct pgdb *db)
{
	char q[128];

	snprintf(q, sizeof(q), "DROP DATABASE IF EXISTS %s WITH (FORCE)",
		db->name);
	pgdb_exec(getenv(PGDB_ENV), q);
}

/* A fresh database (prefix as for pgdb_create) and a store on it with the
 * default settings. */
static inline struct hr_store *pgdb_store(struct pgdb *db, const char *prefix)
{
	struct hr_store_cfg scfg;
	struct hr_store *store = NULL;

	pgdb_create(db, prefix);
	hr_store_cfg_default(&scfg);
	scfg.url = db->url;
	ck_assert_int_eq(hr_store_alloc(&store, &scfg), 0);
	return store;
}

/* What a test against the store starts from: the loop on the frozen
 * clock, and a fresh database (prefix as for pgdb_create) with a store
 * on it. */
static inline struct hr_store *pgdb_open(struct pgdb *db, const char *prefix)
{
	hr_clock_freeze();
	ck_assert_int_eq(hr_loop_init(), 0);
	return pgdb_store(db, prefix);
}

/* Once the test freed what it made (the store first: it delivers what
 * is in flight): no timer may be left; close the loop, drop db, and no
 * allocation may be left. */
static inline void pgdb_close(const struct pgdb *db)
{
	ck_assert_uint_eq(hr_tmr_count(), 0);
	hr_loop_close();
	pgdb_drop(db);
	ck_assert_uint_eq(hr_mem_live(), 0);
}

/* main() of a test against PostgreSQL: the suite, or skipped (77)
 * without a cluster. */
static inline int pgdb_main(Suite *(*suite)(void))
{
	if (!pgdb_base())
		return 77;
	return hr_check_run(suite());
}

/* Turn the loop, 1 ms apart, while store has work queued: spins times
 * at the most. */
static inline void pgdb_drain(struct hr_store *store, int spins)
{
	for (int i = 0; i < spins && hr_store_queue_depth(store); i++) {
		hr_loop_once();
		usleep(1000);
	}
}

/* Under hr_store_hold: run the loop until n commits wait to complete. */
static inline void pgdb_held(struct hr_store *store, size_t n)
{
	for (int i = 0; i < 5000 && hr_store_held(store) < n; i++) {
		hr_loop_once();
		usleep(1000);
	}
	ck_assert_uint_ge(hr_store_held(store), n);
}

/* Under hr_store_hold: complete the oldest commit once it waits, then
 * let the timers it armed run (the interleaving tests build on). */
static inline void pgdb_deliver_one(struct hr_store *store)
{
	pgdb_held(store, 1);
	ck_assert(hr_store_deliver_one(store));
	hr_tmr_poll();
	hr_loop_once();
}

#endif
