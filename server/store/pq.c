/* libpq helpers: connect, run a parameterized query, classify failures. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "store/store_int.h"

#define HR_LOG_MODULE "store"

/* Server notices (and libpq's own) go to our log, not to stderr raw. */
static void notice(void *arg, const char *message)
{
	size_t len = strlen(message);

	(void)arg;
	while (len && message[len - 1] == '\n')
		len--;
	HR_DEBUG("postgres: %.*s", (int)len, message);
}

/* Why this thread's last connect failed (libpq's words). */
static _Thread_local char connect_why[256];

const char *hr_pq_connect_error(void)
{
	return *connect_why ? connect_why : "unknown";
}

const char *hr_store_strerror(int err)
{
	if (err == ECONNREFUSED && *connect_why)
		return connect_why;
	return hr_strerror(err);
}

/* "user@host:port/dbname" of libpq's options, blank ones left out. */
static void describe(const PQconninfoOption *o, char *desc, size_t size)
{
	const char *user = "", *host = "", *port = "", *db = "";

	for (; o->keyword; o++) {
		const char *v = o->val ? o->val : "";

		if (!strcmp(o->keyword, "user"))
			user = v;
		else if (!strcmp(o->keyword, "host"))
			host = v;
		else if (!strcmp(o->keyword, "port"))
			port = v;
		else if (!strcmp(o->keyword, "dbname"))
			db = v;
	}
	snprintf(desc, size, "%s%s%s%s%s/%s", user, *user ? "@" : "",
		*host ? host : "(default host)", *port ? ":" : "", port, db);
}

/* libpq reads a port only when it connects: "5432" or "5432,5433". */
static int port_check(const PQconninfoOption *o, char *desc, size_t size)
{
	for (; o->keyword; o++) {
		const char *p = o->val;

		if (strcmp(o->keyword, "port") || !p || !*p)
			continue;
		while (*p) {
			char *end;
			unsigned long v = strtoul(p, &end, 10);

			if (end == p || v < 1 || v > 65535 ||
			    (*end && *end != ',')) {
				snprintf(desc, size, "invalid port number: "
					"\"%s\"", o->val);
				return EINVAL;
			}
			p = *end ? end + 1 : end;
		}
	}
	return 0;
}

int hr_store_url_check(const char *url, char *desc, size_t size)
{
	int err;

	PQconninfoOption *o;
	char *why = NULL;
	size_t len;

	if (!url || !*url) {
		snprintf(desc, size, "empty");
		return EINVAL;
	}
	o = PQconninfoParse(url, &why);
	if (!o) {
		err = why ? EINVAL : ENOMEM;
		snprintf(desc, size, "%s", why ? why : "out of memory");
		PQfreemem(why);
		/* one line: libpq ends its message with a newline */
		len = strlen(desc);
		while (len && (desc[len - 1] == '\n' || desc[len - 1] == ' '))
			desc[--len] = '\0';
		return err;
	}
	err = port_check(o, desc, size);
	if (!err)
		describe(o, desc, size);
	PQconninfoFree(o);
	return err;
}

/* "herald", or "herald/<node>" for a node of a cluster: its connections
 * in pg_stat_activity. Set before the store's threads start. */
static char app_name[80] = "herald";

void hr_pq_app_name(const char *node)
{
	snprintf(app_name, sizeof(app_name), node ? "herald/%s" : "herald",
		node);
}

int hr_pq_connect(PGconn **connp, const char *url)
{
	/* expand_dbname: url may be a URI or a conninfo string; the keywords
	 * after it override it, so a dead server does not hang a start.
	 * Keep-alives and tcp_user_timeout make a server that stops
	 * answering (host gone, network cut) a lost connection within about
	 * 15 s, instead of a writer blocked until the kernel gives up. */
	static const char *const keys[] = { "dbname", "connect_timeout",
		"application_name", "keepalives", "keepalives_idle",
		"keepalives_interval", "keepalives_count", "tcp_user_timeout",
		NULL };
	const char *const vals[] = { url, "5", app_name, "1", "5", "2", "3",
		"15000", NULL };
	PGconn *conn;

	if (!url)
		return EINVAL;
	conn = PQconnectdbParams(keys, vals, 1);
	if (!conn)
		return ENOMEM;
	if (PQstatus(conn) != CONNECTION_OK) {
		/* libpq's message names host and port, never the password */
		hr_pq_errmsg(conn, connect_why, sizeof(connect_why));
		HR_DEBUG("connect: %s", connect_why);
		PQfinish(conn);
		return ECONNREFUSED;
	}
	PQsetNoticeProcessor(conn, notice, NULL);
	*connp = conn;
	return 0;
}

int hr_pq_exec(PGconn *conn, PGresult **resp, const char *sql, int n,
	const char *const *v, ExecStatusType want)
{
	PGresult *res = PQexecParams(conn, sql, n, NULL, v, NULL, NULL, 0);

	if (PQresultStatus(res) != want) {
		PQclear(res);
		return EIO;
	}
	if (resp)
		*resp = res;
	else
		PQclear(res);
	return 0;
}

int hr_pq_exec_each(PGconn *conn, PGresult **out, const char *const *sql,
	int nsql, int n, const char *const *v)
{
	int err = 0;

	for (int i = 0; i < nsql; i++)
		out[i] = NULL;
	if (PQenterPipelineMode(conn) != 1)
		return EIO;
	for (int i = 0; !err && i < nsql; i++) {
		if (!PQsendQueryParams(conn, sql[i], n, NULL, v, NULL, NULL,
			0))
			err = EIO;
	}
	/* the sync even after a failed send: the pipeline ends there */
	if (!PQpipelineSync(conn))
		err = EIO;
	/* each query's result, then NULL; then the sync's */
	for (int i = 0; !err && i < nsql; i++) {
		PGresult *res = PQgetResult(conn);

		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			PQclear(res);
			err = EIO;
			break;
		}
		out[i] = res;
		while ((res = PQgetResult(conn)))
			PQclear(res);
	}
	/* what is left, up to the sync (a failed query aborts the rest);
	 * two NULLs in a row: nothing more will come */
	for (bool none = false;;) {
		PGresult *res = PQgetResult(conn);
		ExecStatusType st = PQresultStatus(res);

		PQclear(res);
		if (st == PGRES_PIPELINE_SYNC || (!res && none) ||
		    PQstatus(conn) == CONNECTION_BAD)
			break;
		none = !res;
	}
	if (PQexitPipelineMode(conn) != 1)
		err = EIO;
	if (err) {
		for (int i = 0; i < nsql; i++) {
			PQclear(out[i]);
			out[i] = NULL;
		}
	}
	return err;
}

const char *hr_pq_errmsg(const PGconn *conn, char *buf, size_t size)
{
	size_t len;

	snprintf(buf, size, "%s",
		conn ? PQerrorMessage(conn) : "no connection");
	/* one log line: libpq's messages span lines ("...refused\n\tIs
	 * the server running...") */
	len = 0;
	for (char *p = buf; *p; p++) {
		char c = *p == '\n' || *p == '\t' ? ' ' : *p;

		if (c != ' ' || (len && buf[len - 1] != ' '))
			buf[len++] = c;
	}
	buf[len] = '\0';
	while (len && buf[len - 1] == ' ')
		buf[--len] = '\0';
	return buf;
}

bool hr_pq_lost(const PGconn *conn, const PGresult *res)
{
	const char *state;

	if (!conn || PQstatus(conn) == CONNECTION_BAD)
		return true;
	state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	/* 08: connection exception; 57: operator intervention (shutdown,
	 * admin_shutdown, cannot_connect_now) */
	return state && (!strncmp(state, "08", 2) || !strncmp(state, "57", 2));
}

uint64_t hr_store_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int hr_pq_each(PGconn *conn, const char *sql,
	int (*row_h)(const PGresult *res, int row, void *arg), void *arg)
{
	return hr_pq_each_params(conn, sql, 0, NULL, row_h, arg);
}

int hr_pq_each_params(PGconn *conn, const char *sql, int n,
	const char *const *v,
	int (*row_h)(const PGresult *res, int row, void *arg), void *arg)
{
	PGresult *res = NULL;
	int err = hr_pq_exec(conn, &res, sql, n, v, PGRES_TUPLES_OK);

	for (int i = 0; !err && i < PQntuples(res); i++)
		err = row_h(res, i, arg);
	if (res)
		PQclear(res);
	return err;
}
