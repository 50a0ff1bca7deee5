/* Users: username@domain with their HA1s (never a password). The CLI
 * writes the table on its own connection; the trigger of 001_init.sql
 * notifies running servers, whose writer thread reads the row. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "store/store_int.h"

#define HR_LOG_MODULE "store"

/* Not logged: the CLI and the admin report it (hr_store_strerror) */
static int cli_connect(PGconn **connp, const char *url)
{
	return hr_pq_connect(connp, url);
}

/* The role a statement RETURNING it left in column c. */
static void role_out(const PGresult *res, int c, char *role)
{
	if (role)
		snprintf(role, HR_STORE_ROLE_MAX, "%s", PQntuples(res) == 1 ?
			PQgetvalue(res, 0, c) : "");
}

int hr_store_user_put(const char *url, const struct hr_store_user *u,
	bool *created, char role[HR_STORE_ROLE_MAX])
{
	const char *v[5];
	PGresult *res = NULL;
	PGconn *conn;
	int err;

	if (!u || !u->user || !u->domain || !u->ha1_md5 || !u->ha1_sha256)
		return EINVAL;
	err = cli_connect(&conn, url);
	if (err)
		return err;
	v[0] = u->user;
	v[1] = u->domain;
	v[2] = u->ha1_md5;
	v[3] = u->ha1_sha256;
	v[4] = u->role;
	/* xmax is 0 on a row this statement inserted (not updated) */
	err = hr_pq_exec(conn, &res, "INSERT INTO users (username, domain, "
		"ha1_md5, ha1_sha256, role) VALUES ($1, $2, $3, $4, "
		"COALESCE($5, 'user')) ON CONFLICT (username, domain) DO UPDATE "
		"SET ha1_md5 = EXCLUDED.ha1_md5, "
		"ha1_sha256 = EXCLUDED.ha1_sha256, "
		"role = COALESCE($5, users.role), updated_at = now() "
		"RETURNING (xmax = 0), role", 5, v, PGRES_TUPLES_OK);
	if (!err && created)
		*created = PQntuples(res) == 1 &&
			!strcmp(PQgetvalue(res, 0, 0), "t");
	if (!err)
		role_out(res, 1, role);
	if (res)
		PQclear(res);
	PQfinish(conn);
	return err;
}

int hr_store_user_update(const char *url, const struct hr_store_user *u,
	char role[HR_STORE_ROLE_MAX])
{
	PGresult *res;
	PGconn *conn;
	int err;

	if (!u || !u->user || !u->domain || !u->ha1_md5 != !u->ha1_sha256)
		return EINVAL;
	err = cli_connect(&conn, url);
	if (err)
		return err;
	{
		const char *const v[] = { u->user, u->domain, u->ha1_md5,
			u->ha1_sha256, u->role };

		err = hr_pq_exec(conn, &res, "UPDATE users SET "
			"ha1_md5 = COALESCE($3, ha1_md5), "
			"ha1_sha256 = COALESCE($4, ha1_sha256), "
			"role = COALESCE($5, role), updated_at = now() "
			"WHERE username = $1 AND domain = $2 RETURNING role", 5,
			v, PGRES_TUPLES_OK);
	}
	if (!err) {
		if (PQntuples(res) != 1)
			err = ENOENT;
		else
			role_out(res, 0, role);
		PQclear(res);
	}
	PQfinish(conn);
	return err;
}

int hr_store_user_del(const char *url, const char *user, const char *domain)
{
	const char *v[] = { user, domain };
	PGresult *res;
	PGconn *conn;
	int err;

	if (!user || !domain)
		return EINVAL;
	err = cli_connect(&conn, url);
	if (err)
		return err;
	err = hr_pq_exec(conn, &res, "DELETE FROM users "
		"WHERE username = $1 AND domain = $2", 2, v, PGRES_COMMAND_OK);
	if (!err) {
		if (!strcmp(PQcmdTuples(res), "0"))
			err = ENOENT;
		PQclear(res);
	}
	PQfinish(conn);
	return err;
}

int hr_store_user_row(const PGresult *res, int row, void *arg)
{
	const struct hr_store_user_each *e = arg;
	struct hr_store_user u = {
		PQgetvalue(res, row, 0), PQgetvalue(res, row, 1),
		PQgetvalue(res, row, 2), PQgetvalue(res, row, 3),
		HR_USER_CHANGED, PQgetvalue(res, row, 4),
	};

	return e->h(&u, e->arg);
}

static int users_each(PGconn *conn, hr_store_user_h *h, void *arg)
{
	struct hr_store_user_each e = { h, arg };

	return hr_pq_each(conn, "SELECT " HR_STORE_USER_COLUMNS " FROM users "
		"ORDER BY domain, username", hr_store_user_row, &e);
}

int hr_store_user_list(const char *url, hr_store_user_h *h, void *arg)
{
	PGconn *conn;
	int err;

	if (!h)
		return EINVAL;
	err = cli_connect(&conn, url);
	if (err)
		return err;
	err = users_each(conn, h, arg);
	PQfinish(conn);
	return err;
}

int hr_store_users_load(struct hr_store *s, hr_store_user_h *h, void *arg)
{
	if (!s || !h)
		return EINVAL;
	return users_each(s->rd, h, arg);
}

static char *dup_or_null(const PGresult *res, int c)
{
	if (PQntuples(res) < 1 || PQgetisnull(res, 0, c))
		return NULL;
	return strdup(PQgetvalue(res, 0, c));
}

int hr_store_user_fetch(PGconn *conn, const char *payload,
	struct user_ev **uep)
{
	const char *at = strrchr(payload, '@');  /* domains have no '@' */
	struct user_ev *ue;
	const char *v[2];
	PGresult *res;
	int err;

	if (!at)
		return EBADMSG;
	ue = calloc(1, sizeof(*ue));
	if (!ue)
		return ENOMEM;
	ue->user = strndup(payload, (size_t)(at - payload));
	ue->domain = strdup(at + 1);
	if (!ue->user || !ue->domain) {
		hr_store_user_ev_free(ue);
		return ENOMEM;
	}
	v[0] = ue->user;
	v[1] = ue->domain;
	err = hr_pq_exec(conn, &res, "SELECT ha1_md5, ha1_sha256, role FROM "
		"users WHERE username = $1 AND domain = $2", 2, v,
		PGRES_TUPLES_OK);
	if (err) {
		hr_store_user_ev_free(ue);
		return err;
	}
	/* no row: deleted, the HA1s stay NULL */
	ue->ha1_md5 = dup_or_null(res, 0);
	ue->ha1_sha256 = dup_or_null(res, 1);
	ue->role = dup_or_null(res, 2);
	PQclear(res);
	*uep = ue;
	return 0;
}

static struct user_ev *ev_new(enum hr_store_user_kind kind, const char *user,
	const char *domain, const char *md5, const char *sha, const char *role)
{
	struct user_ev *ue = calloc(1, sizeof(*ue));

	if (!ue)
		return NULL;
	ue->kind = kind;
	if (user && (!(ue->user = strdup(user)) ||
		!(ue->domain = strdup(domain)) ||
		!(ue->ha1_md5 = strdup(md5)) ||
		!(ue->ha1_sha256 = strdup(sha)) ||
		!(ue->role = strdup(role)))) {
		hr_store_user_ev_free(ue);
		return NULL;
	}
	return ue;
}

/* Writer thread, after a reconnect: the notifications sent while the
 * connection was down are lost, so the core gets every user again, framed
 * so that it can drop the ones that are no longer there. */
int hr_store_users_resync(struct hr_store *s, PGconn *conn)
{
	struct user_ev *ue;
	PGresult *res;
	int err;

	err = hr_pq_exec(conn, &res, "SELECT " HR_STORE_USER_COLUMNS
		" FROM users", 0, NULL, PGRES_TUPLES_OK);
	if (err)
		return err;
	ue = ev_new(HR_USER_SYNC_BEGIN, NULL, NULL, NULL, NULL, NULL);
	if (!ue) {
		PQclear(res);
		return ENOMEM;
	}
	hr_store_user_event(s, ue);
	for (int i = 0; i < PQntuples(res); i++) {
		ue = ev_new(HR_USER_CHANGED, PQgetvalue(res, i, 0),
			PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
			PQgetvalue(res, i, 3), PQgetvalue(res, i, 4));
		if (!ue) {
			/* no END after a partial list: it would drop users
			 * that are still there */
			PQclear(res);
			return ENOMEM;
		}
		hr_store_user_event(s, ue);
	}
	PQclear(res);
	ue = ev_new(HR_USER_SYNC_END, NULL, NULL, NULL, NULL, NULL);
	if (!ue)
		return ENOMEM;
	hr_store_user_event(s, ue);
	return 0;
}
