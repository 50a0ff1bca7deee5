/*
 * Each stored table described once: its columns in order, with their
 * types and where each one lives in the row struct of store.h. The
 * writer's upsert, the SELECT lists, the statement parameters and the
 * decoding of a result row are all made from these tables, so a new
 * column is one line here (and one field, and a migration).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store/store_int.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- a subscription's state: its name only in the database ---- */

static const char *const state_names[] = {
	[HR_SUB_PENDING] = "pending",
	[HR_SUB_ACTIVE] = "active",
	[HR_SUB_TERMINATED] = "terminated",
};

const char *hr_sub_state_name(enum hr_sub_state s)
{
	return (unsigned)s < N(state_names) ? state_names[s] : "?";
}

int hr_sub_state_decode(const char *name, enum hr_sub_state *s)
{
	for (unsigned i = 0; name && i < N(state_names); i++) {
		if (!strcmp(name, state_names[i])) {
			*s = (enum hr_sub_state)i;
			return 0;
		}
	}
	return EINVAL;
}

/* ---- the tables ---- */

#define BND(f, type, flags) { #f, type, \
	offsetof(struct hr_store_binding, f), flags }
static const struct hr_col binding_cols[] = {
	BND(aor, COL_TEXT, COL_KEY | COL_REQ),
	BND(key, COL_TEXT, COL_KEY | COL_REQ),
	BND(id, COL_TEXT, COL_REQ),
	BND(uri, COL_TEXT, COL_REQ),
	BND(params, COL_TEXT, 0),
	BND(dname, COL_TEXT, 0),
	BND(expires_at, COL_EPOCH, 0),
	BND(registered_at, COL_EPOCH, 0),
	BND(callid, COL_TEXT, COL_REQ),
	BND(cseq, COL_UINT32, COL_ORDER),
	BND(q, COL_INT_OPT, 0),
	BND(instance, COL_TEXT, 0),
	BND(reg_id, COL_INT_OPT, 0),
	BND(path, COL_TEXT, 0),
	BND(user_agent, COL_TEXT, 0),
	BND(received, COL_TEXT, 0),
};
#undef BND

const struct hr_row hr_row_binding = { "bindings", binding_cols,
	N(binding_cols) };

_Static_assert(N(binding_cols) <= STMT_PARAMS_MAX, "a row is one statement");

#define PUB(f, type, flags) { #f, type, offsetof(struct hr_store_pub, f), \
	flags }
static const struct hr_col pub_cols[] = {
	PUB(etag, COL_TEXT, COL_KEY | COL_REQ),
	PUB(presentity, COL_TEXT, COL_REQ),
	PUB(event, COL_TEXT, COL_REQ),
	PUB(ctype, COL_TEXT, COL_REQ),
	PUB(body, COL_TEXT, COL_REQ),
	PUB(expires_at, COL_EPOCH, 0),
	PUB(published_at, COL_INT64, 0),
};
#undef PUB

const struct hr_row hr_row_pub = { "publications", pub_cols, N(pub_cols) };

_Static_assert(N(pub_cols) <= STMT_PARAMS_MAX, "a row is one statement");

#define SUB(f, type, flags) { #f, type, offsetof(struct hr_store_sub, f), \
	flags }
static const struct hr_col sub_cols[] = {
	SUB(id, COL_TEXT, COL_KEY | COL_REQ),
	SUB(package, COL_TEXT, COL_REQ),
	SUB(event_id, COL_TEXT, 0),
	SUB(resource, COL_TEXT, COL_REQ),
	SUB(watcher, COL_TEXT, COL_REQ),
	SUB(watcher_user, COL_TEXT, 0),
	SUB(state, COL_SUB_STATE, COL_REQ),
	SUB(reason, COL_TEXT, 0),
	SUB(expires_at, COL_EPOCH, 0),
	SUB(accept, COL_TEXT, 0),
	SUB(callid, COL_TEXT, COL_REQ),
	SUB(local_tag, COL_TEXT, COL_REQ),
	SUB(remote_tag, COL_TEXT, COL_REQ),
	SUB(local_uri, COL_TEXT, COL_REQ),
	SUB(remote_uri, COL_TEXT, COL_REQ),
	SUB(remote_target, COL_TEXT, COL_REQ),
	SUB(route_set, COL_TEXT, 0),
	SUB(remote_cseq, COL_INT64, 0),
	/* NOTIFY CSeqs and versions reserved: a put never moves them back
	 * (a refresh may be built from state older than a reservation) */
	SUB(cseq_reserved, COL_INT64, COL_UP),
	SUB(version_reserved, COL_INT64, COL_UP),
	SUB(transport, COL_TEXT, COL_REQ),
	SUB(received, COL_TEXT, 0),
	SUB(instance, COL_TEXT, 0),
	SUB(local_contact, COL_TEXT, 0),
	SUB(owner_epoch, COL_UINT32, COL_FENCE),
};
#undef SUB

const struct hr_row hr_row_sub = { "subscriptions", sub_cols, N(sub_cols) };

_Static_assert(N(sub_cols) <= STMT_PARAMS_MAX, "a row is one statement");

/* ---- SQL ---- */

static int put(char *buf, size_t size, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int put(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len >= size)
		return E2BIG;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, size - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size - *len)
		return E2BIG;
	*len += (size_t)n;
	return 0;
}

int hr_row_select_with(char *buf, size_t size, const struct hr_row *row,
	const char *more, const char *suffix)
{
	size_t len = 0;
	int err = put(buf, size, &len, "SELECT ");

	for (unsigned i = 0; i < row->ncols && !err; i++) {
		const struct hr_col *c = &row->cols[i];

		err = put(buf, size, &len, c->type == COL_EPOCH ?
			"%sextract(epoch FROM %s)::bigint" : "%s%s",
			i ? ", " : "", c->name);
	}
	if (!err && more)
		err = put(buf, size, &len, ", %s", more);
	return err ? err : put(buf, size, &len, " FROM %s %s", row->table,
		suffix);
}

int hr_row_select(char *buf, size_t size, const struct hr_row *row,
	const char *suffix)
{
	return hr_row_select_with(buf, size, row, NULL, suffix);
}

/* "INSERT INTO t (a, b) VALUES ($1, $2)" */
static int insert(char *buf, size_t size, size_t *len,
	const struct hr_row *row)
{
	int err = put(buf, size, len, "INSERT INTO %s (", row->table);

	for (unsigned i = 0; i < row->ncols && !err; i++)
		err = put(buf, size, len, "%s%s", i ? ", " : "",
			row->cols[i].name);
	err = err ? err : put(buf, size, len, ") VALUES (");
	for (unsigned i = 0; i < row->ncols && !err; i++)
		err = put(buf, size, len, row->cols[i].type == COL_EPOCH ?
			"%sto_timestamp($%u::bigint)" : "%s$%u",
			i ? ", " : "", i + 1);
	return err ? err : put(buf, size, len, ")");
}

/* " ON CONFLICT (keys) DO UPDATE SET every other column" */
static int conflict(char *buf, size_t size, size_t *len,
	const struct hr_row *row)
{
	const char *sep = "";
	int err = put(buf, size, len, " ON CONFLICT (");

	for (unsigned i = 0; i < row->ncols && !err; i++) {
		if (row->cols[i].flags & COL_KEY) {
			err = put(buf, size, len, "%s%s", sep,
				row->cols[i].name);
			sep = ", ";
		}
	}
	err = err ? err : put(buf, size, len, ") DO UPDATE SET ");
	for (unsigned i = 0; i < row->ncols && !err; i++) {
		const struct hr_col *c = &row->cols[i];

		if (c->flags & COL_KEY)
			continue;
		if (c->flags & COL_ORDER)
			err = put(buf, size, len, "%s = CASE WHEN %s.callid IS "
				"DISTINCT FROM EXCLUDED.callid OR %s.%s < "
				"EXCLUDED.%s THEN EXCLUDED.%s ELSE "
				"herald_out_of_order(%s.aor, %s.key) END, ",
				c->name, row->table, row->table, c->name,
				c->name, c->name, row->table, row->table);
		else if (c->flags & COL_FENCE)
			err = put(buf, size, len, "%s = CASE WHEN %s.%s = "
				"EXCLUDED.%s THEN EXCLUDED.%s ELSE "
				"herald_not_owner(%s.id) END, ", c->name,
				row->table, c->name, c->name, c->name,
				row->table);
		else if (c->flags & COL_UP)
			err = put(buf, size, len, "%s = GREATEST(%s.%s, "
				"EXCLUDED.%s), ", c->name, row->table,
				c->name, c->name);
		else
			err = put(buf, size, len, "%s = EXCLUDED.%s, ",
				c->name, c->name);
	}
	return err ? err : put(buf, size, len, "updated_at = now()");
}

int hr_row_upsert(char *buf, size_t size, const struct hr_row *row)
{
	size_t len = 0;
	int err = insert(buf, size, &len, row);

	return err ? err : conflict(buf, size, &len, row);
}

/* ---- values ---- */

#define AT(p, c, type) (*(type *)((char *)(p) + (c)->off))

/* v in decimal, at the end of buf (which holds any int64_t): where it
 * starts. Not snprintf: a put writes a few numbers per row, on the core
 * thread. */
static const char *decimal(char *buf, size_t size, int64_t v)
{
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	char *p = buf + size;

	*--p = '\0';
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	return p;
}

const char *hr_row_text(const struct hr_col *c, const void *p, char *buf,
	size_t size)
{
	int64_t v;

	switch (c->type) {
	case COL_TEXT:
		return AT(p, c, const char *);
	case COL_SUB_STATE:
		v = AT(p, c, enum hr_sub_state);
		return (uint64_t)v < N(state_names) ? state_names[v] : NULL;
	case COL_UINT32:
		v = AT(p, c, uint32_t);
		break;
	case COL_INT_OPT:
		v = AT(p, c, int);
		if (v < 0)
			return NULL;
		break;
	default:
		v = AT(p, c, int64_t);
		break;
	}
	return decimal(buf, size, v);
}

static void decode(const struct hr_col *c, void *p, const PGresult *res,
	int r, int i)
{
	const char *v = PQgetisnull(res, r, i) ? NULL : PQgetvalue(res, r, i);

	switch (c->type) {
	case COL_TEXT:
		AT(p, c, const char *) = v;
		break;
	case COL_SUB_STATE:
		/* what is not known to live is over */
		if (hr_sub_state_decode(v, &AT(p, c, enum hr_sub_state)))
			AT(p, c, enum hr_sub_state) = HR_SUB_TERMINATED;
		break;
	case COL_UINT32:
		AT(p, c, uint32_t) = v ? (uint32_t)strtoll(v, NULL, 10) : 0;
		break;
	case COL_INT_OPT:
		AT(p, c, int) = v ? (int)strtoll(v, NULL, 10) : -1;
		break;
	default:
		AT(p, c, int64_t) = v ? strtoll(v, NULL, 10) : 0;
		break;
	}
}

void hr_row_decode(const struct hr_row *row, void *p, const PGresult *res,
	int r)
{
	for (unsigned i = 0; i < row->ncols; i++)
		decode(&row->cols[i], p, res, r, (int)i);
}
