/*
 * The admin HTTP server: libmicrohttpd with its own polling thread,
 * bearer-token authentication before any body is read, bodies capped,
 * each request's time bounded (conn.c), JSON answers and RFC 7807
 * problems.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include "admin_int.h"

#define HR_LOG_MODULE "admin"

const char *hr_admin_query(const struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->c, MHD_GET_ARGUMENT_KIND, name);
}

bool hr_admin_limit(const struct req *r, struct reply *rp, unsigned *limit)
{
	const char *lim = hr_admin_query(r, "limit");
	char *end;
	long v;

	*limit = HR_ADMIN_LIMIT_DEFAULT;
	if (!lim)
		return true;
	v = strtol(lim, &end, 10);
	if (!*lim || *end || v < 1 || v > HR_ADMIN_LIMIT_MAX) {
		hr_admin_problem(rp, 400, "Bad Request",
			"limit must be 1 to 1000");
		return false;
	}
	*limit = (unsigned)v;
	return true;
}

void hr_admin_json(struct reply *rp, unsigned status, json_t *j)
{
	rp->status = status;
	rp->ctype = "application/json";
	rp->body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	rp->len = rp->body ? strlen(rp->body) : 0;
	json_decref(j);
}

/* RFC 7807 */
void hr_admin_problem(struct reply *rp, unsigned status, const char *title,
	const char *detail)
{
	json_t *j = json_pack("{s:s, s:s, s:i}", "type", "about:blank",
		"title", title, "status", (int)status);

	if (j && detail)
		json_object_set_new(j, "detail", json_string(detail));
	hr_admin_json(rp, status, j);
	rp->ctype = "application/problem+json";
}

bool hr_admin_fields_only(struct reply *rp, json_t *j,
	const char *const *allowed)
{
	const char *k;
	json_t *v;

	json_object_foreach(j, k, v) {
		bool ok = false;

		for (unsigned i = 0; allowed[i]; i++)
			ok |= !strcmp(k, allowed[i]);
		if (!ok) {
			char detail[160];

			snprintf(detail, sizeof(detail), "unknown field '%.100s'",
				k);
			hr_admin_problem(rp, 400, "Bad Request", detail);
			return false;
		}
	}
	return true;
}

/* The request body as a JSON object with only the allowed members. */
json_t *hr_admin_body_json(const struct req *r, struct reply *rp,
	const char *const *allowed)
{
	json_error_t e;
	json_t *j;

	/* a key given twice is refused: jansson would keep the last, and a
	 * request could name one user and change another */
	j = json_loadb(r->body.b ? r->body.b : "", r->body.len,
		JSON_REJECT_DUPLICATES, &e);
	if (!j || !json_is_object(j)) {
		hr_admin_problem(rp, 400, "Bad JSON", j ? "not an object" :
			e.text);
		json_decref(j);
		return NULL;
	}
	if (!hr_admin_fields_only(rp, j, allowed)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* RFC 6750 2.1; the scheme's name is case-insensitive (RFC 9110
 * 11.1). r->who gets the token's name. */
static bool authorized(struct req *r)
{
	const char *h = MHD_lookup_connection_value(r->c, MHD_HEADER_KIND,
		MHD_HTTP_HEADER_AUTHORIZATION);

	if (!h || strncasecmp(h, "Bearer ", 7))
		return false;
	return hr_admin_tokens_check(r->a->tokens, h + 7, r->who);
}

static void req_free(void *cls, struct MHD_Connection *c, void **con_cls,
	enum MHD_RequestTerminationCode toe)
{
	struct hr_admin *a = cls;
	struct req *r = *con_cls;

	(void)toe;
	hr_admin_conn_done(a->conns, c);
	if (!r)
		return;
	hr_buf_reset(&r->body);
	free(r->path);
	free(r);
	*con_cls = NULL;
}

static void split(struct req *r, const char *url)
{
	char *save = NULL;

	r->path = strdup(url);
	if (!r->path)
		return;
	for (char *s = strtok_r(r->path, "/", &save); s && r->nseg < 8;
	     s = strtok_r(NULL, "/", &save))
		r->seg[r->nseg++] = s;
}

static enum MHD_Result respond(struct MHD_Connection *c, struct reply *rp,
	const char *method, const char *url)
{
	struct MHD_Response *resp = rp->resp;
	enum MHD_Result ret;

	if (resp) {
		ret = MHD_queue_response(c, rp->status, resp);
		MHD_destroy_response(resp);
		return ret;
	}
	/* a 5xx is never silent: its problem document says why */
	if (rp->status >= 500)
		HR_WARN("%s %s: %u %.*s", method, url, rp->status,
			(int)(rp->len < 300 ? rp->len : 300),
			rp->body ? rp->body : "");
	resp = MHD_create_response_from_buffer(rp->len,
		rp->body ? rp->body : "", MHD_RESPMEM_MUST_COPY);
	free(rp->body);
	rp->body = NULL;
	if (!resp)
		return MHD_NO;
	if (rp->ctype)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
			rp->ctype);
	if (rp->status == 401)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
			"Bearer");
	if (rp->status == 405 && *rp->allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, rp->allow);
	for (size_t i = 0; i < sizeof(rp->headers) / sizeof(rp->headers[0]) &&
	     rp->headers[i][0]; i++)
		MHD_add_response_header(resp, rp->headers[i][0],
			rp->headers[i][1]);
	ret = MHD_queue_response(c, rp->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static bool is_health(const struct req *r)
{
	return r->nseg == 1 && !strcmp(r->seg[0], "health");
}

static bool body_too_big(const struct req *r)
{
	const char *cl = MHD_lookup_connection_value(r->c, MHD_HEADER_KIND,
		MHD_HTTP_HEADER_CONTENT_LENGTH);
	char *end;
	unsigned long long n;

	if (!cl)
		return false;
	errno = 0;
	n = strtoull(cl, &end, 10);
	return errno == ERANGE || n > r->a->cfg.max_body;
}

/*
 * The headers are in, no byte of the body has been read: refuse here
 * what would be refused after it, so that no one without the token has
 * a body read, however large or slow. libmicrohttpd sends an answer
 * queued now without reading the body (nor a 100 Continue), and closes
 * the connection after it.
 */
static bool refuse_early(struct req *r, struct reply *rp)
{
	if (!r->path) {
		hr_admin_problem(rp, 500, "Internal Server Error",
			"out of memory");
	/* the console's static files hold no data: no token for them */
	} else if (!is_health(r) && !hr_admin_console_public(r) &&
		   !authorized(r)) {
		r->a->unauthorized++;
		hr_admin_problem(rp, 401, "Unauthorized",
			"a bearer token is required");
	} else if (body_too_big(r))
		hr_admin_problem(rp, 413, "Payload Too Large", NULL);
	return rp->status != 0;
}

/* The first call for a request: its headers are complete. */
static enum MHD_Result begin(struct hr_admin *a, struct MHD_Connection *c,
	const char *url, const char *method, void **con_cls)
{
	struct req *r = calloc(1, sizeof(*r));
	struct reply rp = { 0 };

	if (!r)
		return MHD_NO;
	r->a = a;
	r->c = c;
	r->method = method;
	hr_buf_init(&r->body, a->cfg.max_body);
	split(r, url);
	*con_cls = r;
	if (!refuse_early(r, &rp))
		return MHD_YES;
	hr_admin_conn_received(a->conns, c);
	hr_admin_audit(r, &rp, url);
	return respond(c, &rp, method, url);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
	const char *url, const char *method, const char *version,
	const char *data, size_t *size, void **con_cls)
{
	struct hr_admin *a = cls;
	struct req *r = *con_cls;
	struct reply rp = { 0 };

	(void)version;
	if (!r)
		return begin(a, c, url, method, con_cls);
	if (*size) {
		if (hr_buf_write(&r->body, data, *size))
			r->too_big = true;
		*size = 0;
		return MHD_YES;
	}
	hr_admin_conn_received(a->conns, c);
	if (r->too_big)
		hr_admin_problem(&rp, 413, "Payload Too Large", NULL);
	else
		hr_admin_route(r, &rp);
	hr_admin_audit(r, &rp, url);
	return respond(c, &rp, method, url);
}

int hr_admin_token(const char *tok, const char *path, char *out, size_t n)
{
	char buf[128];
	ssize_t len;
	int fd;

	if (tok && *tok) {
		snprintf(out, n, "%s", tok);
		return 0;
	}
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
			len--;
		if (len >= 16) {
			buf[len] = '\0';
			snprintf(out, n, "%s", buf);
			return 0;
		}
	}
	/* first start: a new token, readable by this user alone */
	hr_rand_token(buf, 32);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return errno;
	len = write(fd, buf, strlen(buf));
	close(fd);
	if (len != (ssize_t)strlen(buf))
		return EIO;
	HR_INFO("admin token generated in %s", path);
	snprintf(out, n, "%s", buf);
	return 0;
}

static void admin_destroy(void *data)
{
	struct hr_admin *a = data;

	hr_admin_feeds_stop(a->feeds);
	if (a->d)
		MHD_stop_daemon(a->d);
	hr_admin_feeds_free(a->feeds);
	hr_admin_conns_free(a->conns);
	hr_mem_deref(a->rd);
	hr_mem_deref(a->cfg.ctl);
	hr_mem_deref(a->tokens);
}

/*
 * One thread polls every connection (epoll on Linux) and runs the
 * handlers. libmicrohttpd stops accepting at max_conns; conn.c keeps
 * places free below it and gives each request its deadline, after which
 * the idle timeout, the same number of seconds, is left to bound a
 * client that stops reading its answer. Live feeds (feed.c) are
 * connections of the same thread, suspended while they have nothing to
 * send; they have --admin-max-streams places beside max_conns.
 */
static struct MHD_Daemon *daemon_start(struct hr_admin *a,
	const struct hr_sa *sa)
{
	return MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD |
		MHD_ALLOW_SUSPEND_RESUME |
		MHD_USE_ERROR_LOG | (sa->u.sa.sa_family == AF_INET6 ?
		MHD_USE_IPv6 : 0), 0, NULL, NULL, handle, a,
		MHD_OPTION_SOCK_ADDR, &sa->u.sa,
		MHD_OPTION_NOTIFY_COMPLETED, req_free, a,
		MHD_OPTION_NOTIFY_CONNECTION, hr_admin_conn_notify, a->conns,
		MHD_OPTION_CONNECTION_LIMIT,
		a->cfg.max_conns + a->cfg.max_streams,
		MHD_OPTION_CONNECTION_TIMEOUT, a->cfg.request_timeout_s,
		MHD_OPTION_END);
}

static void cfg_defaults(struct hr_admin_cfg *cfg)
{
	if (!cfg->max_body)
		cfg->max_body = 65536;
	if (!cfg->max_conns)
		cfg->max_conns = 64;
	if (!cfg->request_timeout_s)
		cfg->request_timeout_s = 10;
	if (!cfg->max_streams)
		cfg->max_streams = 256;
	if (!cfg->stream_buffer)
		cfg->stream_buffer = 65536;
	if (!cfg->stream_stall_s)
		cfg->stream_stall_s = 10;
	if (!cfg->keepalive_s)
		cfg->keepalive_s = 15;
}

int hr_admin_start(struct hr_admin **ap, const struct hr_admin_cfg *cfg)
{
	struct hr_admin *a;
	struct hr_sa sa;
	const union MHD_DaemonInfo *info;
	int err;

	if (!ap || !cfg || !cfg->ctl || !cfg->listen ||
	    ((!cfg->token || !*cfg->token) && !cfg->tokens_file) ||
	    hr_sa_decode(&sa, cfg->listen))
		return EINVAL;
	a = hr_mem_zalloc(sizeof(*a), admin_destroy);
	if (!a)
		return ENOMEM;
	a->cfg = *cfg;
	hr_mem_ref(a->cfg.ctl);
	cfg_defaults(&a->cfg);
	err = hr_admin_tokens_alloc(&a->tokens, cfg->token, cfg->tokens_file);
	if (!err)
		err = hr_ctl_reader_alloc(&a->rd, a->cfg.ctl);
	if (!err)
		err = hr_admin_conns_alloc(&a->conns, a->cfg.max_conns,
			a->cfg.request_timeout_s);
	if (!err)
		err = hr_admin_feeds_alloc(&a->feeds, a);
	if (err) {
		hr_mem_deref(a);
		return err;
	}
	a->d = daemon_start(a, &sa);
	if (!a->d) {
		HR_ERROR("admin: cannot listen on %s", cfg->listen);
		hr_mem_deref(a);
		return EADDRINUSE;
	}
	info = MHD_get_daemon_info(a->d, MHD_DAEMON_INFO_BIND_PORT);
	if (info)
		hr_sa_set_port(&sa, info->port);
	/* startup lines print at any level: scripts wait for them */
	hr_log(HR_LOG_INFO, HR_LOG_MODULE, "admin listening on http://%s",
		hr_sa_print(&sa, a->addr, sizeof(a->addr)));
	*ap = a;
	return 0;
}

int hr_admin_reload(struct hr_admin *a)
{
	return a ? hr_admin_tokens_reload(a->tokens) : 0;
}
