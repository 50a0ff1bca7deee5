/* Synchronous reads on the store's own connection, at start: recovery of
 * the bindings and the server secrets. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "store/store_int.h"

#define HR_LOG_MODULE "store"

static const char *col(const PGresult *res, int row, int c)
{
	return PQgetisnull(res, row, c) ? NULL : PQgetvalue(res, row, c);
}

struct binding_each {
	hr_store_binding_h *h;
	void *arg;
};

static int binding_row(const PGresult *res, int row, void *arg)
{
	const struct binding_each *e = arg;
	struct hr_store_binding b;

	hr_row_decode(&hr_row_binding, &b, res, row);
	return e->h(&b, e->arg);
}

int hr_store_bindings_load(struct hr_store *s, hr_store_binding_h *h,
	void *arg)
{
	struct binding_each e = { h, arg };
	char sql[HR_ROW_SQL_MAX];
	int err;

	if (!s || !h)
		return EINVAL;
	err = hr_row_select(sql, sizeof(sql), &hr_row_binding,
		"ORDER BY aor, key");
	return err ? err : hr_pq_each(s->rd, sql, binding_row, &e);
}

struct pub_each {
	hr_store_pub_h *h;
	void *arg;
};

static int pub_row(const PGresult *res, int row, void *arg)
{
	const struct pub_each *e = arg;
	struct hr_store_pub u;

	hr_row_decode(&hr_row_pub, &u, res, row);
	return e->h(&u, e->arg);
}

int hr_store_pubs_load(struct hr_store *s, hr_store_pub_h *h, void *arg)
{
	struct pub_each e = { h, arg };
	char sql[HR_ROW_SQL_MAX];
	int err;

	if (!s || !h)
		return EINVAL;
	err = hr_row_select(sql, sizeof(sql), &hr_row_pub,
		"ORDER BY presentity, published_at, etag");
	return err ? err : hr_pq_each(s->rd, sql, pub_row, &e);
}

int hr_store_rule_row(const PGresult *res, int row, void *arg)
{
	const struct hr_store_rule_each *e = arg;

	return e->h(col(res, row, 0), col(res, row, 1), col(res, row, 2),
		e->arg);
}

int hr_store_rules_load(struct hr_store *s, const char *package,
	hr_store_rule_h *h, void *arg)
{
	struct hr_store_rule_each e = { h, arg };
	const char *v[] = { package };

	if (!s || !package || !h)
		return EINVAL;
	return hr_pq_each_params(s->rd, "SELECT resource, watcher, action "
		"FROM rules WHERE package = $1 ORDER BY resource, watcher", 1, v,
		hr_store_rule_row, &e);
}

int hr_store_sub_row(const PGresult *res, int row, void *arg)
{
	const struct hr_store_sub_each *e = arg;
	struct hr_store_sub u;

	hr_row_decode(&hr_row_sub, &u, res, row);
	return e->h(&u, e->arg);
}

int hr_store_subs_load(struct hr_store *s, hr_store_sub_h *h, void *arg)
{
	struct hr_store_sub_each e = { h, arg };
	char sql[HR_ROW_SQL_MAX];
	const char *v[1];
	int err;

	if (!s || !h)
		return EINVAL;
	/* a node of a cluster: its own (the others send theirs) */
	v[0] = s->cfg.node;
	err = hr_row_select(sql, sizeof(sql), &hr_row_sub, s->cfg.node ?
		"WHERE owner = $1 ORDER BY id" : "ORDER BY id");
	return err ? err : hr_pq_each_params(s->rd, sql, s->cfg.node ? 1 : 0,
		v, hr_store_sub_row, &e);
}

int hr_store_secret(struct hr_store *s, const char *name, uint8_t *out,
	size_t n)
{
	const char *v[2];
	int len[2], fmt[2] = { 0, 1 };
	uint8_t *rnd;
	PGresult *res;
	int err = 0;

	if (!s || !name || !out || !n || n > 4096)
		return EINVAL;
	rnd = malloc(n);
	if (!rnd)
		return ENOMEM;
	hr_rand_bytes(rnd, n);
	v[0] = name;
	v[1] = (const char *)rnd;
	len[0] = 0;
	len[1] = (int)n;
	/* the first start creates it; every other start reads that one */
	res = PQexecParams(s->rd, "INSERT INTO server_secrets (name, value) "
		"VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", 2, NULL, v,
		len, fmt, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		err = EIO;
	PQclear(res);
	memset(rnd, 0, n);
	free(rnd);
	if (err)
		return err;
	res = PQexecParams(s->rd, "SELECT value FROM server_secrets "
		"WHERE name = $1", 1, NULL, v, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		err = EIO;
	else if ((size_t)PQgetlength(res, 0, 0) != n)
		err = EINVAL;  /* created with another size */
	else
		memcpy(out, PQgetvalue(res, 0, 0), n);
	PQclear(res);
	return err;
}
