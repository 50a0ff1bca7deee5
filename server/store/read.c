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

static int64_t col_i64(const PGresult *res, int row, int c, int64_t def)
{
	return PQgetisnull(res, row, c) ? def :
		strtoll(PQgetvalue(res, row, c), NULL, 10);
}

static void binding_decode(struct hr_store_binding *b, const PGresult *res,
	int row)
{
	b->aor = col(res, row, 0);
	b->key = col(res, row, 1);
	b->id = col(res, row, 2);
	b->uri = col(res, row, 3);
	b->params = col(res, row, 4);
	b->dname = col(res, row, 5);
	b->expires_at = col_i64(res, row, 6, 0);
	b->registered_at = col_i64(res, row, 7, 0);
	b->callid = col(res, row, 8);
	b->cseq = (uint32_t)col_i64(res, row, 9, 0);
	b->q = (int)col_i64(res, row, 10, -1);
	b->instance = col(res, row, 11);
	b->reg_id = (int)col_i64(res, row, 12, -1);
	b->path = col(res, row, 13);
	b->user_agent = col(res, row, 14);
	b->received = col(res, row, 15);
}

struct binding_each {
	hr_store_binding_h *h;
	void *arg;
};

static int binding_row(const PGresult *res, int row, void *arg)
{
	const struct binding_each *e = arg;
	struct hr_store_binding b;

	binding_decode(&b, res, row);
	return e->h(&b, e->arg);
}

int hr_store_bindings_load(struct hr_store *s, hr_store_binding_h *h,
	void *arg)
{
	struct binding_each e = { h, arg };

	if (!s || !h)
		return EINVAL;
	return hr_pq_each(s->rd, "SELECT aor, key, id, uri, params, "
		"dname, extract(epoch FROM expires_at)::bigint, "
		"extract(epoch FROM registered_at)::bigint, callid, cseq, q, "
		"instance, reg_id, path, user_agent, received "
		"FROM bindings ORDER BY aor, key", binding_row, &e);
}

struct pub_each {
	hr_store_pub_h *h;
	void *arg;
};

static int pub_row(const PGresult *res, int row, void *arg)
{
	const struct pub_each *e = arg;
	struct hr_store_pub u = {
		.etag = col(res, row, 0),
		.presentity = col(res, row, 1),
		.event = col(res, row, 2),
		.ctype = col(res, row, 3),
		.body = col(res, row, 4),
		.expires_at = col_i64(res, row, 5, 0),
		.published_at = col_i64(res, row, 6, 0),
	};

	return e->h(&u, e->arg);
}

int hr_store_pubs_load(struct hr_store *s, hr_store_pub_h *h, void *arg)
{
	struct pub_each e = { h, arg };

	if (!s || !h)
		return EINVAL;
	return hr_pq_each(s->rd, "SELECT etag, presentity, event, ctype, body, "
		"extract(epoch FROM expires_at)::bigint, published_at "
		"FROM publications ORDER BY presentity, published_at, etag",
		pub_row, &e);
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
	int err;

	if (!s || !h)
		return EINVAL;
	err = hr_row_select(sql, sizeof(sql), &hr_row_sub, "ORDER BY id");
	return err ? err : hr_pq_each(s->rd, sql, hr_store_sub_row, &e);
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
