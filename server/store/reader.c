/*
 * Read-only connections for threads other than the core (the admin API):
 * each reader owns its own libpq connection and reconnects when it was
 * lost. Every query is parameterized.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store/store_int.h"

#define HR_LOG_MODULE "store"

struct hr_store_reader {
	char *url;
	PGconn *conn;
};

static void reader_destroy(void *data)
{
	struct hr_store_reader *r = data;

	if (r->conn)
		PQfinish(r->conn);
	free(r->url);
}

int hr_store_reader_alloc(struct hr_store_reader **rp, const char *url)
{
	struct hr_store_reader *r;

	if (!rp || !url)
		return EINVAL;
	r = hr_mem_zalloc(sizeof(*r), reader_destroy);
	if (!r)
		return ENOMEM;
	r->url = strdup(url);
	if (!r->url) {
		hr_mem_deref(r);
		return ENOMEM;
	}
	*rp = r;
	return 0;
}

/* The connection, made again when it was lost. */
static PGconn *conn_of(struct hr_store_reader *r)
{
	if (r->conn && PQstatus(r->conn) == CONNECTION_OK)
		return r->conn;
	if (r->conn)
		PQfinish(r->conn);
	r->conn = NULL;
	if (hr_pq_connect(&r->conn, r->url))
		r->conn = NULL;
	return r->conn;
}

static int each(struct hr_store_reader *r, const char *sql, int n,
	const char *const *v,
	int (*row_h)(const PGresult *res, int row, void *arg), void *arg)
{
	PGconn *c = conn_of(r);
	int err;

	if (!c)
		return ECONNREFUSED;
	err = hr_pq_each_params(c, sql, n, v, row_h, arg);
	/* once more on a fresh connection when this one had died */
	if (err && hr_pq_lost(c, NULL) && (c = conn_of(r)))
		err = hr_pq_each_params(c, sql, n, v, row_h, arg);
	return err;
}

static int none(const PGresult *res, int row, void *arg)
{
	(void)res;
	(void)row;
	(void)arg;
	return 0;
}

int hr_store_reader_ping(struct hr_store_reader *r)
{
	return each(r, "SELECT 1", 0, NULL, none, NULL);
}

int hr_store_subs_page(struct hr_store_reader *r,
	const struct hr_store_sub_filter *f, hr_store_sub_h *h, void *arg)
{
	struct hr_store_sub_each e = { h, arg };
	char limit[16], sql[HR_ROW_SQL_MAX];
	const char *const v[] = { f->package, f->state, f->resource,
		f->watcher, f->after ? f->after : "", limit };
	/* NULL filters match everything; ids order the pages */
	int err = hr_row_select(sql, sizeof(sql), &hr_row_sub,
		"WHERE ($1::text IS NULL OR package = $1) "
		"AND ($2::text IS NULL OR state = $2) "
		"AND ($3::text IS NULL OR resource = $3) "
		"AND ($4::text IS NULL OR watcher = $4) "
		"AND id > $5 ORDER BY id LIMIT $6::int");

	if (err)
		return err;
	snprintf(limit, sizeof(limit), "%u", f->limit);
	return each(r, sql, 6, v, hr_store_sub_row, &e);
}

int hr_store_rules_page(struct hr_store_reader *r, const char *package,
	const char *resource, const char *after, unsigned limit,
	hr_store_rule_h *h, void *arg)
{
	struct hr_store_rule_each e = { h, arg };
	char lim[16];
	const char *const v[] = { package, resource, after ? after : "", lim };

	snprintf(lim, sizeof(lim), "%u", limit);
	return each(r, "SELECT resource, watcher, action FROM rules "
		"WHERE package = $1 AND resource = $2 AND watcher > $3 "
		"ORDER BY watcher LIMIT $4::int", 4, v, hr_store_rule_row, &e);
}

int hr_store_users_page(struct hr_store_reader *r, const char *after_user,
	const char *after_domain, unsigned limit, hr_store_user_h *h,
	void *arg)
{
	struct hr_store_user_each e = { h, arg };
	char lim[16];
	const char *const v[] = { after_domain ? after_domain : "",
		after_user ? after_user : "", lim };

	snprintf(lim, sizeof(lim), "%u", limit);
	/* the order of the key: a page goes on where the last one ended */
	return each(r, "SELECT " HR_STORE_USER_COLUMNS " FROM users "
		"WHERE (domain, username) > ($1, $2) ORDER BY domain, username "
		"LIMIT $3::int", 3, v, hr_store_user_row, &e);
}

int hr_store_sub_get(struct hr_store_reader *r, const char *id,
	hr_store_sub_h *h, void *arg)
{
	struct hr_store_sub_each e = { h, arg };
	const char *const v[] = { id };
	char sql[HR_ROW_SQL_MAX];
	int err = hr_row_select(sql, sizeof(sql), &hr_row_sub,
		"WHERE id = $1");

	return err ? err : each(r, sql, 1, v, hr_store_sub_row, &e);
}

int hr_store_reader_each(struct hr_store_reader *r, const char *sql, int n,
	const char *const *v,
	int (*row_h)(const PGresult *res, int row, void *arg), void *arg)
{
	return each(r, sql, n, v, row_h, arg);
}
