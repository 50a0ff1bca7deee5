/*
 * The audit log: every request that asks for a change (POST, PUT, PATCH,
 * DELETE) with a valid bearer token is recorded once its answer is made,
 * success or not (a 400, a 404, a 413 too): the token's name, method,
 * path, query, a summary of the body with its secrets redacted, the
 * status and an error's detail. The record is written on the admin's own
 * reader, before the answer goes out (a client that got its answer finds
 * its record); never by the core. Not recorded: reads (GET, HEAD), and
 * requests refused 401, whose name is not known and which anyone who
 * reaches the port could send by the million: they are counted in
 * /metrics. When PostgreSQL does not take a record, the change stands
 * (the durability rule is SIP's) and the whole record is logged at warn
 * and counted.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "admin_int.h"

#define HR_LOG_MODULE "admin"

#define STR_MAX 200             /* a string value's bytes kept */
#define MEMBERS_MAX 32          /* an object's members, an array's items */
#define DEPTH_MAX 4
#define SUMMARY_MAX 1024        /* a body summary's JSON, bytes */
#define PATH_MAX_LEN 1024
#define DETAIL_MAX 500

#define REDACTED "[redacted]"

static bool changes(const char *method)
{
	static const char *const m[] = { "POST", "PUT", "PATCH", "DELETE" };

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		if (!strcmp(method, m[i]))
			return true;
	}
	return false;
}

/* A member whose value is never stored, by its name: a user's password
 * above all (POST /v1/users, PATCH /v1/users/{user}). */
static bool secret(const char *key)
{
	static const char *const words[] = { "password", "passwd", "secret",
		"token", "ha1", "authorization", "credential" };

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strcasestr(key, words[i]))
			return true;
	}
	return false;
}

/* s cut to STR_MAX bytes, not inside a UTF-8 sequence */
static json_t *short_string(const char *s, size_t len)
{
	char buf[STR_MAX + 4];
	size_t n = STR_MAX;

	if (len <= STR_MAX)
		return json_stringn(s, len);
	while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	memcpy(buf, s, n);
	memcpy(buf + n, "\xe2\x80\xa6", 3);   /* … */
	return json_stringn(buf, n + 3);
}

static json_t *summary(json_t *v, unsigned depth);

static json_t *object_summary(json_t *v, unsigned depth)
{
	json_t *o = json_object();
	const char *k;
	json_t *m;
	size_t n = 0;

	json_object_foreach(v, k, m) {
		if (!o || n++ == MEMBERS_MAX)
			break;
		json_object_set_new(o, k, secret(k) ? json_string(REDACTED) :
			summary(m, depth + 1));
	}
	if (o && json_object_size(v) > MEMBERS_MAX)
		json_object_set_new(o, "[more members]", json_integer(
			(json_int_t)(json_object_size(v) - MEMBERS_MAX)));
	return o;
}

static json_t *array_summary(json_t *v, unsigned depth)
{
	json_t *a = json_array();
	size_t i;
	json_t *m;

	json_array_foreach(v, i, m) {
		if (!a || i == MEMBERS_MAX)
			break;
		json_array_append_new(a, summary(m, depth + 1));
	}
	if (a && json_array_size(v) > MEMBERS_MAX)
		json_array_append_new(a, json_integer((json_int_t)
			(json_array_size(v) - MEMBERS_MAX)));
	return a;
}

/* v with secrets redacted, strings shortened, depth and width bounded */
static json_t *summary(json_t *v, unsigned depth)
{
	if (depth > DEPTH_MAX)
		return json_string("[nested]");
	if (json_is_object(v))
		return object_summary(v, depth);
	if (json_is_array(v))
		return array_summary(v, depth);
	if (json_is_string(v))
		return short_string(json_string_value(v),
			json_string_length(v));
	return json_incref(v);
}

/* What is kept of a body that is no JSON object: its size only. A bare
 * string or a broken document may well be a password. */
static json_t *opaque(const char *what, size_t len)
{
	return json_pack("{s:s, s:I}", "unparsed", what, "bytes",
		(json_int_t)len);
}

/* 413: refused on its Content-Length before a byte was read, or cut */
static json_t *body_summary(const struct req *r, const struct reply *rp)
{
	json_t *j, *s;
	char *text;
	size_t len;

	if (r->too_big || rp->status == 413)
		return json_pack("{s:s}", "unparsed", "too large");
	if (!r->body.len)
		return NULL;
	j = json_loadb(r->body.b, r->body.len, JSON_DECODE_ANY, NULL);
	if (!json_is_object(j)) {
		s = opaque(j ? "not an object" : "not JSON", r->body.len);
		json_decref(j);
		return s;
	}
	s = summary(j, 0);
	json_decref(j);
	text = s ? json_dumps(s, JSON_COMPACT) : NULL;
	len = text ? strlen(text) : 0;
	free(text);
	if (len <= SUMMARY_MAX)
		return s;
	json_decref(s);
	return opaque("summary too large", r->body.len);
}

static enum MHD_Result query_arg(void *cls, enum MHD_ValueKind kind,
	const char *key, const char *value)
{
	json_t *q = cls;

	(void)kind;
	if (json_object_size(q) < MEMBERS_MAX)
		json_object_set_new(q, key, secret(key) ?
			json_string(REDACTED) : value ?
			short_string(value, strlen(value)) : json_null());
	return MHD_YES;
}

static json_t *query_summary(const struct req *r)
{
	json_t *q = json_object();

	if (q)
		MHD_get_connection_values(r->c, MHD_GET_ARGUMENT_KIND,
			query_arg, q);
	if (q && !json_object_size(q)) {
		json_decref(q);
		q = NULL;
	}
	return q;
}

/* A problem's detail, or its title (a 204 or a 200 has none). */
static char *detail_of(const struct reply *rp)
{
	json_t *j, *d;
	char *out = NULL;

	if (!rp->body || !rp->ctype ||
	    strcmp(rp->ctype, "application/problem+json"))
		return NULL;
	j = json_loadb(rp->body, rp->len, 0, NULL);
	d = json_object_get(j, "detail");
	if (!json_is_string(d))
		d = json_object_get(j, "title");
	if (json_is_string(d))
		out = strndup(json_string_value(d), DETAIL_MAX);
	json_decref(j);
	return out;
}

static int64_t wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* RFC 3339 5.6 "date-time" in UTC, to the microsecond */
static void rfc3339(int64_t us, char out[64])
{
	time_t s = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&s, &tm);
	snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
		tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		tm.tm_min, tm.tm_sec, (int)(us % 1000000));
}

/* The record as one log line, when PostgreSQL did not take it. */
static void log_lost(const struct hr_ctl_audit *a, json_t *query,
	json_t *body, int err)
{
	char at[64];
	json_t *j;
	char *text;

	rfc3339(a->at_us, at);
	j = json_pack("{s:s, s:s, s:s, s:s, s:i, s:O*, s:O*, s:s*}", "at", at,
		"token", a->token, "method", a->method, "path", a->path,
		"status", (int)a->status, "query", query, "body", body,
		"detail", a->detail);
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	/* every one, not rate-limited: only holders of a token make them */
	hr_log(HR_LOG_WARN, HR_LOG_MODULE, "audit record not written (%s): "
		"%s", hr_ctl_strerror(err), text ? text : "(out of memory)");
	free(text);
	json_decref(j);
}

void hr_admin_audit(struct req *r, const struct reply *rp, const char *url)
{
	struct hr_ctl_audit a = { .at_us = wall_us(), .token = r->who,
		.method = r->method, .status = rp->status };
	json_t *query, *body;
	char *qtext, *btext, *detail, path[PATH_MAX_LEN + 1];
	int err;

	if (!*r->who || !changes(r->method))
		return;
	snprintf(path, sizeof(path), "%s", url);
	query = query_summary(r);
	body = body_summary(r, rp);
	qtext = query ? json_dumps(query, JSON_COMPACT) : NULL;
	btext = body ? json_dumps(body, JSON_COMPACT) : NULL;
	detail = detail_of(rp);
	a.path = path;
	a.query = qtext;
	a.body = btext;
	a.detail = detail;
	err = hr_ctl_audit_add(r->a->rd, &a);
	if (!err) {
		r->a->audit_written++;
	} else {
		r->a->audit_failed++;
		log_lost(&a, query, body, err);
	}
	free(detail);
	free(btext);
	free(qtext);
	json_decref(body);
	json_decref(query);
}

/* ---- GET /v1/audit ---- */

static bool digits(const char **p, unsigned n, int *v)
{
	*v = 0;
	for (unsigned i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return false;
		*v = *v * 10 + (**p - '0');
	}
	return true;
}

static bool expect(const char **p, const char *chars)
{
	if (!**p || !strchr(chars, **p))
		return false;
	(*p)++;
	return true;
}

/* "2024-05-01T12:00:00Z", "2024-05-01t12:00:00.5+02:00" (RFC 3339 5.6;
 * a '+' decoded from an unencoded query is a space: taken for '+'). */
static bool rfc3339_parse(const char *s, int64_t *us)
{
	struct tm tm = { 0 };
	int y, mo, d, h, mi, sec, oh = 0, om = 0, frac = 0, sign = 0;
	unsigned fd = 0;
	time_t t;

	if (!digits(&s, 4, &y) || !expect(&s, "-") || !digits(&s, 2, &mo) ||
	    !expect(&s, "-") || !digits(&s, 2, &d) || !expect(&s, "Tt") ||
	    !digits(&s, 2, &h) || !expect(&s, ":") || !digits(&s, 2, &mi) ||
	    !expect(&s, ":") || !digits(&s, 2, &sec))
		return false;
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++, fd++) {
			if (fd < 6)
				frac = frac * 10 + (*s - '0');
		}
		if (!fd || fd > 9)
			return false;
		for (unsigned i = fd; i < 6; i++)
			frac *= 10;
	}
	if (*s == '+' || *s == ' ' || *s == '-') {
		sign = *s++ == '-' ? -1 : 1;
		if (!digits(&s, 2, &oh) || !expect(&s, ":") ||
		    !digits(&s, 2, &om) || oh > 23 || om > 59)
			return false;
	} else if (!expect(&s, "Zz")) {
		return false;
	}
	if (*s || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 60)
		return false;
	tm = (struct tm){ .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
		.tm_hour = h, .tm_min = mi, .tm_sec = sec };
	t = timegm(&tm);
	/* a day the month does not have (02-30) came back another day */
	if (tm.tm_mday != d && sec != 60)
		return false;
	t -= sign * (oh * 3600 + om * 60);
	*us = (int64_t)t * 1000000 + frac;
	return true;
}

struct auditpage {
	json_t *items;
	unsigned limit;
	bool more;
	int64_t last;
};

/* A stored JSON text as JSON (NULL: none, or unreadable) */
static json_t *stored(const char *text)
{
	return text ? json_loads(text, 0, NULL) : NULL;
}

static int audit_one(const struct hr_ctl_audit *a, void *arg)
{
	struct auditpage *pg = arg;
	char at[64];
	json_t *j;

	/* the row past the page only says that more follow */
	if (json_array_size(pg->items) == pg->limit) {
		pg->more = true;
		return 0;
	}
	rfc3339(a->at_us, at);
	j = json_pack("{s:I, s:s, s:s, s:s, s:s, s:i, s:o*, s:o*, s:s*}",
		"id", (json_int_t)a->id, "at", at, "token", a->token,
		"method", a->method, "path", a->path, "status", (int)a->status,
		"query", stored(a->query), "body", stored(a->body),
		"detail", a->detail);
	if (!j || json_array_append_new(pg->items, j))
		return ENOMEM;
	pg->last = a->id;
	return 0;
}

/* The filters of the query: false after a 400. */
static bool audit_filter(struct req *r, struct reply *rp,
	struct hr_ctl_audit_filter *f)
{
	const char *since = hr_admin_query(r, "since");
	const char *cursor = hr_admin_query(r, "cursor");
	char *end;

	f->token = hr_admin_query(r, "token");
	f->path = hr_admin_query(r, "path");
	if (since && !rfc3339_parse(since, &f->since_us)) {
		hr_admin_problem(rp, 400, "Bad Request", "since must be an RFC "
			"3339 date-time, as 2024-05-01T12:00:00Z");
		return false;
	}
	if (cursor) {
		errno = 0;
		f->before = strtoll(cursor, &end, 10);
		if (!*cursor || *end || errno || f->before < 1) {
			hr_admin_problem(rp, 400, "Bad Request", "not a cursor "
				"of this list");
			return false;
		}
	}
	return hr_admin_limit(r, rp, &f->limit);
}

void hr_admin_audit_list(struct req *r, struct reply *rp)
{
	struct hr_ctl_audit_filter f = { 0 };
	struct auditpage pg = { 0 };
	char cursor[24];
	json_t *j;

	if (!audit_filter(r, rp, &f))
		return;
	pg.items = json_array();
	pg.limit = f.limit;
	f.limit++;
	if (!pg.items || hr_ctl_audit_page(r->a->rd, &f, audit_one, &pg)) {
		json_decref(pg.items);
		hr_admin_problem(rp, 503, "Service Unavailable",
			"PostgreSQL does not answer");
		return;
	}
	j = json_pack("{s:o}", "items", pg.items);
	snprintf(cursor, sizeof(cursor), "%" PRId64, pg.last);
	if (j && pg.more)
		json_object_set_new(j, "next_cursor", json_string(cursor));
	hr_admin_json(rp, 200, j);
}

int hr_admin_audit_metrics(struct hr_admin *a, struct hr_buf *b)
{
	return hr_buf_printf(b,
		"# HELP herald_admin_audit_records_total Admin changes "
		"written to the audit log.\n"
		"# TYPE herald_admin_audit_records_total counter\n"
		"herald_admin_audit_records_total %" PRIu64 "\n"
		"# HELP herald_admin_audit_failures_total Admin changes whose "
		"audit record PostgreSQL did not take (logged at warn "
		"instead).\n"
		"# TYPE herald_admin_audit_failures_total counter\n"
		"herald_admin_audit_failures_total %" PRIu64 "\n"
		"# HELP herald_admin_unauthorized_total Admin requests "
		"refused 401 for a missing or wrong token (not in the audit "
		"log).\n"
		"# TYPE herald_admin_unauthorized_total counter\n"
		"herald_admin_unauthorized_total %" PRIu64 "\n",
		(uint64_t)a->audit_written, (uint64_t)a->audit_failed,
		(uint64_t)a->unauthorized);
}
