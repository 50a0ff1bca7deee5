/* Private to admin/. */
#ifndef HR_ADMIN_INT_H
#define HR_ADMIN_INT_H

#include <jansson.h>
#include <microhttpd.h>
#include "admin.h"

/* A bearer token's name: letters, digits, '.', '_', '-' */
#define HR_ADMIN_NAME_MAX 64

struct hr_admin {
	struct hr_admin_cfg cfg;
	struct hr_admin_tokens *tokens;
	struct MHD_Daemon *d;
	struct hr_admin_conns *conns;
	struct hr_admin_feeds *feeds;
	struct hr_ctl_reader *rd;     /* used on the admin thread only */
	_Atomic uint64_t audit_written;  /* audit records written */
	_Atomic uint64_t audit_failed;   /* ... not written, logged */
	_Atomic uint64_t unauthorized;   /* requests answered 401 */
	char addr[HR_SA_STRLEN];      /* where it listens, port chosen */
};

/* One request: method, path split in segments, query, body. */
struct req {
	struct hr_admin *a;
	struct MHD_Connection *c;
	const char *method;
	char *path;                   /* a copy, split at '/' */
	const char *seg[8];
	unsigned nseg;
	struct hr_buf body;
	bool too_big;
	char who[HR_ADMIN_NAME_MAX + 1];  /* its token's name; "" before */
};

/* A reply to send. */
struct reply {
	unsigned status;
	const char *ctype;
	char *body;                   /* malloc */
	size_t len;
	char allow[64];               /* a 405's Allow */
	const char *headers[8][2];    /* more: name, value (static) */
	struct MHD_Response *resp;    /* a response of its own (a live
				       * feed), queued instead of body */
};

#define HR_ADMIN_LIMIT_DEFAULT 100
#define HR_ADMIN_LIMIT_MAX 1000

const char *hr_admin_query(const struct req *r, const char *name);
/** A list's page size from ?limit= (1..1000, default 100); false after
 * answering 400. */
bool hr_admin_limit(const struct req *r, struct reply *rp, unsigned *limit);
void hr_admin_json(struct reply *rp, unsigned status, json_t *j);
void hr_admin_problem(struct reply *rp, unsigned status, const char *title,
	const char *detail);
json_t *hr_admin_body_json(const struct req *r, struct reply *rp,
	const char *const *allowed);
/** Has object j only the allowed members? false after answering 400. */
bool hr_admin_fields_only(struct reply *rp, json_t *j,
	const char *const *allowed);

/* conn.c: each request's deadline, room kept for new connections */
struct hr_admin_conns;

/** Keep the connections of a daemon of max connections; a request
 * not received whole within timeout_s is cut. */
int hr_admin_conns_alloc(struct hr_admin_conns **csp, unsigned max,
	unsigned timeout_s);
/** Stop (after MHD_stop_daemon) and free. */
void hr_admin_conns_free(struct hr_admin_conns *cs);
/** MHD_OPTION_NOTIFY_CONNECTION's callback; cls is the conns. */
void hr_admin_conn_notify(void *cls, struct MHD_Connection *c,
	void **socket_context, enum MHD_ConnectionNotificationCode code);
/** c's request is all received (or answered before its body): no more
 * deadline. */
void hr_admin_conn_received(struct hr_admin_conns *cs,
	struct MHD_Connection *c);
/** c's request is done; a next one on the connection has the deadline
 * afresh. */
void hr_admin_conn_done(struct hr_admin_conns *cs, struct MHD_Connection *c);
/** c's answer is a live feed (no deadline, not counted against the
 * places kept free): its id for hr_admin_conn_cut (0: none). */
uint64_t hr_admin_conn_stream(struct hr_admin_conns *cs,
	struct MHD_Connection *c);
/** Shut connection id down (any thread): 0, or ENOENT when it is gone
 * already. */
int hr_admin_conn_cut(struct hr_admin_conns *cs, uint64_t id,
	const char *why);

/* routes.c */
void hr_admin_route(struct req *r, struct reply *rp);
/** An address-of-record or presentity as the core keys it (user@domain,
 * the domain lowercased); false after answering 400. */
bool hr_admin_aor(struct reply *rp, const char *uri,
	char out[HR_CTL_NAME_MAX]);

/* mailbox.c: an account's message summary (RFC 3842) */
void hr_admin_mailbox_get(struct req *r, struct reply *rp, const char *aor);
void hr_admin_mailbox_put(struct req *r, struct reply *rp, const char *aor);

/* users.c */
void hr_admin_user_add(struct req *r, struct reply *rp);
void hr_admin_users_list(struct req *r, struct reply *rp);
void hr_admin_user_patch(struct req *r, struct reply *rp, const char *name);
void hr_admin_user_del(struct req *r, struct reply *rp, const char *name);

/* tokens.c: the bearer tokens by name */
struct hr_admin_tokens;

/** The tokens: single (NULL or "": none) named "admin", and file's
 * "NAME TOKEN" lines (NULL: none); at least one. Errors are logged. */
int hr_admin_tokens_alloc(struct hr_admin_tokens **tp, const char *single,
	const char *file);
/** Read the file again (any thread); on error (logged) the tokens stay
 * as they were. */
int hr_admin_tokens_reload(struct hr_admin_tokens *t);
/** Is tok one of the tokens? name gets its name. Constant time. */
bool hr_admin_tokens_check(struct hr_admin_tokens *t, const char *tok,
	char name[HR_ADMIN_NAME_MAX + 1]);

/* audit.c: the audit log */

/** After r's answer rp is made, before it is sent: r's record, when r
 * asked for a change with a valid token (written on the admin's reader;
 * when PostgreSQL does not take it, logged at warn and counted). */
void hr_admin_audit(struct req *r, const struct reply *rp, const char *url);
/** GET /v1/audit */
void hr_admin_audit_list(struct req *r, struct reply *rp);
/** The audit's and the tokens' counters in Prometheus text. */
int hr_admin_audit_metrics(struct hr_admin *a, struct hr_buf *b);
/* loglevel.c: /v1/log-levels, and /v1/log-levels/{module} */
void hr_admin_loglevels_get(struct req *r, struct reply *rp);
void hr_admin_loglevels_put(struct req *r, struct reply *rp);
void hr_admin_loglevel_put(struct req *r, struct reply *rp);
void hr_admin_loglevel_del(struct req *r, struct reply *rp);

/* process.c: the process's figures (proc(5)) */
struct hr_admin_proc {
	double cpu_s;                 /* user and system CPU seconds */
	unsigned long long resident_bytes;
	unsigned long long virtual_bytes;
	unsigned open_fds;
	unsigned long long max_fds;   /* 0: no limit */
	double start_s;               /* since the epoch */
};

/** Read them: 0 or an errno. */
int hr_admin_proc_read(struct hr_admin_proc *p);
/** When the process started, seconds since the epoch (0: unknown). */
double hr_admin_start_time(void);

/* status.c: /v1/status */
void hr_admin_status(struct req *r, struct reply *rp);
void hr_admin_cluster(struct req *r, struct reply *rp);

/* metrics.c */
void hr_admin_metrics(struct req *r, struct reply *rp);

/* console.c: the web console's files */
/** GET of /, /console.css or /console.js: served without the token. */
bool hr_admin_console_public(const struct req *r);
void hr_admin_console(struct req *r, struct reply *rp);
/* trace.c: SIP traces (their messages go out on the live feed) */
void hr_admin_trace_start(struct req *r, struct reply *rp);
void hr_admin_traces(struct req *r, struct reply *rp);
void hr_admin_trace_stop(struct req *r, struct reply *rp, const char *id);

/* feed.c: live feeds (Server-Sent Events) */
struct hr_admin_feeds;

/** The feeds of a and their thread (before the daemon starts). */
int hr_admin_feeds_alloc(struct hr_admin_feeds **fp, struct hr_admin *a);
/** Before MHD_stop_daemon: the thread stopped, every feed resumed to
 * end. */
void hr_admin_feeds_stop(struct hr_admin_feeds *f);
/** After MHD_stop_daemon. */
void hr_admin_feeds_free(struct hr_admin_feeds *f);
void hr_admin_feed(struct req *r, struct reply *rp);
void hr_admin_feed_presence(struct req *r, struct reply *rp);
void hr_admin_feed_reginfo(struct req *r, struct reply *rp);
/** The feeds' and the journal's counters as Prometheus text. */
int hr_admin_feed_metrics(struct hr_admin *a, struct hr_buf *b);

#endif
