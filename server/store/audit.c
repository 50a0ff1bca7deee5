/*
 * The admin API's audit log (schema/007_audit.sql): appended and read on
 * the admin's own reader connection, never on the writer's, so that
 * neither the SIP core nor its group commit ever waits for it. Times go
 * in and out as microseconds since the epoch, exactly (no float).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include "store/store_int.h"

#define HR_LOG_MODULE "store"

/* $n microseconds after the epoch, as a timestamptz */
#define AT(n) "(timestamptz 'epoch' + $" n "::bigint * interval " \
	"'1 microsecond')"

static int returned(const PGresult *res, int row, void *arg)
{
	(void)res;
	(void)row;
	(void)arg;
	return 0;
}

int hr_store_audit_add(struct hr_store_reader *r,
	const struct hr_store_audit *a)
{
	char at[HR_ROW_NUM_MAX], status[HR_ROW_NUM_MAX];
	const char *const v[] = { at, a->token, a->method, a->path, a->query,
		a->body, status, a->detail };

	if (!r || !a->token || !a->method || !a->path)
		return EINVAL;
	snprintf(at, sizeof(at), "%" PRId64, a->at_us);
	snprintf(status, sizeof(status), "%u", a->status);
	return hr_store_reader_each(r, "INSERT INTO audit_log (at, token, "
		"method, path, query, body, status, detail) VALUES (" AT("1")
		", $2, $3, $4, $5::jsonb, $6::jsonb, $7::int, $8) RETURNING id",
		8, v, returned, NULL);
}

struct audit_each {
	hr_store_audit_h *h;
	void *arg;
};

static const char *col(const PGresult *res, int row, int c)
{
	return PQgetisnull(res, row, c) ? NULL : PQgetvalue(res, row, c);
}

static int audit_row(const PGresult *res, int row, void *arg)
{
	const struct audit_each *e = arg;
	struct hr_store_audit a = {
		.id = strtoll(PQgetvalue(res, row, 0), NULL, 10),
		.at_us = strtoll(PQgetvalue(res, row, 1), NULL, 10),
		.token = col(res, row, 2), .method = col(res, row, 3),
		.path = col(res, row, 4), .query = col(res, row, 5),
		.body = col(res, row, 6),
		.status = (unsigned)strtoul(PQgetvalue(res, row, 7), NULL, 10),
		.detail = col(res, row, 8),
	};

	return e->h(&a, e->arg);
}

int hr_store_audit_page(struct hr_store_reader *r,
	const struct hr_store_audit_filter *f, hr_store_audit_h *h,
	void *arg)
{
	struct audit_each e = { h, arg };
	char since[HR_ROW_NUM_MAX], before[HR_ROW_NUM_MAX], lim[16];
	const char *const v[] = { f->token, f->since_us ? since : NULL,
		f->path, f->before > 0 ? before : NULL, lim };

	if (!r || !h)
		return EINVAL;
	snprintf(since, sizeof(since), "%" PRId64, f->since_us);
	snprintf(before, sizeof(before), "%" PRId64, f->before);
	snprintf(lim, sizeof(lim), "%u", f->limit);
	/* NULL filters match everything; a path is a prefix, compared as
	 * text (LIKE would take its '%' and '_' as patterns) */
	return hr_store_reader_each(r, "SELECT id, (extract(epoch FROM at) * "
		"1000000)::bigint, token, method, path, query::text, "
		"body::text, status, detail FROM audit_log "
		"WHERE ($1::text IS NULL OR token = $1) "
		"AND ($2::bigint IS NULL OR at >= " AT("2") ") "
		"AND ($3::text IS NULL OR left(path, length($3)) = $3) "
		"AND ($4::bigint IS NULL OR id < $4) "
		"ORDER BY id DESC LIMIT $5::int", 5, v, audit_row, &e);
}
