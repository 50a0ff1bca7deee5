/* Schema migrations: apply schema/NNN_*.sql not yet recorded, in order. */
#include <errno.h>
#include <stdio.h>
#include "store/store_int.h"

#define HR_LOG_MODULE "store"

/* pg_advisory_lock key: concurrent starts migrate one after the other */
#define MIGRATE_LOCK "7310563412"

static int applied_versions(PGconn *conn, int version, bool *done)
{
	char v[16];
	const char *p[] = { v };
	PGresult *res;
	int err;

	snprintf(v, sizeof(v), "%d", version);
	err = hr_pq_exec(conn, &res,
		"SELECT 1 FROM schema_migrations WHERE version = $1", 1, p,
		PGRES_TUPLES_OK);
	if (err)
		return err;
	*done = PQntuples(res) > 0;
	PQclear(res);
	return 0;
}

/* One migration and its schema_migrations row in one transaction. The
 * SQL is our own compiled-in text, never input, so it runs unparameterized
 * (a multi-statement script cannot be a prepared statement). */
static int apply(PGconn *conn, const struct hr_migration *m)
{
	char v[16], msg[256];
	const char *p[] = { v };
	int err;

	snprintf(v, sizeof(v), "%d", m->version);
	err = hr_pq_exec(conn, NULL, "BEGIN", 0, NULL, PGRES_COMMAND_OK);
	if (err)
		return err;
	PQclear(PQexec(conn, "SET LOCAL client_min_messages = warning"));
	{
		PGresult *res = PQexec(conn, m->sql);

		if (PQresultStatus(res) != PGRES_COMMAND_OK &&
			PQresultStatus(res) != PGRES_TUPLES_OK) {
			HR_ERROR("migration %s failed: %s", m->name,
				hr_pq_errmsg(conn, msg, sizeof(msg)));
			err = EIO;
		}
		PQclear(res);
	}
	if (!err)
		err = hr_pq_exec(conn, NULL, "INSERT INTO schema_migrations "
			"(version, applied_at) VALUES ($1, now())", 1, p,
			PGRES_COMMAND_OK);
	if (!err)
		err = hr_pq_exec(conn, NULL, "COMMIT", 0, NULL,
			PGRES_COMMAND_OK);
	if (err) {
		PQclear(PQexec(conn, "ROLLBACK"));
		return err;
	}
	HR_INFO("applied migration %s", m->name);
	return 0;
}

static int migrate(PGconn *conn, unsigned *applied)
{
	bool done;
	int err;

	PQclear(PQexec(conn, "SET client_min_messages = warning"));
	err = hr_pq_exec(conn, NULL, "SELECT pg_advisory_lock("
		MIGRATE_LOCK ")", 0, NULL, PGRES_TUPLES_OK);
	if (err)
		return err;
	err = hr_pq_exec(conn, NULL, "CREATE TABLE IF NOT EXISTS "
		"schema_migrations (version int PRIMARY KEY, "
		"applied_at timestamptz NOT NULL DEFAULT now())", 0, NULL,
		PGRES_COMMAND_OK);
	for (size_t i = 0; !err && i < hr_migrations_n; i++) {
		err = applied_versions(conn, hr_migrations[i].version, &done);
		if (err || done)
			continue;
		err = apply(conn, &hr_migrations[i]);
		if (!err)
			++*applied;
	}
	/* the lock also goes with the session; unlock for pooled setups */
	PQclear(PQexec(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK ")"));
	return err;
}

int hr_store_migrate(const char *url, unsigned *applied)
{
	unsigned n = 0;
	PGconn *conn;
	char msg[256];
	int err;

	/* a failed connection is the caller's to report */
	err = hr_pq_connect(&conn, url);
	if (err)
		return err;
	err = migrate(conn, &n);
	if (err)
		HR_ERROR("migrate: %s", hr_pq_errmsg(conn, msg, sizeof(msg)));
	PQfinish(conn);
	if (applied)
		*applied = n;
	return err;
}
