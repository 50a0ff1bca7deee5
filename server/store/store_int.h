/*
 * Herald store internals: the store object shared by the core thread and
 * the writer thread, queued transactions, and libpq helpers.
 *
 * Threads: fields under "core thread" are touched only there; "writer"
 * only by the writer thread (and by alloc/destroy while it does not run);
 * "locked" only with s->lock held.
 */
#ifndef HR_STORE_INT_H
#define HR_STORE_INT_H

#include <pthread.h>
#include <event2/event.h>
#include <libpq-fe.h>
#include "store/store.h"

/* ---- migrations compiled in from schema/ (migrations.c, generated) ---- */

struct hr_migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct hr_migration hr_migrations[];
extern const size_t hr_migrations_n;

/* ---- statements ---- */

enum stmt_kind {
	STMT_BINDING_PUT,
	STMT_BINDING_DEL,
	STMT_SUB_PUT,
	STMT_SUB_DEL,
	STMT_SUB_RESERVE,
	STMT_PUB_PUT,
	STMT_PUB_DEL,
	STMT_RULE_PUT,
	STMT_RULE_DEL,
	STMT__N
};

#define STMT_PARAMS_MAX 25

struct stmt {
	enum stmt_kind kind;
	int n;
	char *mem;                 /* one malloc holding every parameter */
	char *v[STMT_PARAMS_MAX];  /* text parameters in mem, NULL = NULL */
};

/* ---- a queued transaction ---- */

struct hr_store_tx {
	struct hr_le le;           /* in queue, or in done (locked) */
	struct hr_store *s;        /* not a reference: see store.c */
	struct stmt *stmts;
	size_t n, size;
	hr_store_done_h *done;
	void *arg;
	uint64_t queued_ms;        /* hr_store_mono_ms() at commit */
	int err;                   /* outcome, set by the writer */
};

/* A user row read after a notification (malloc'd strings). */
struct user_ev {
	struct hr_le le;
	char *user, *domain, *ha1_md5, *ha1_sha256, *role;
	enum hr_store_user_kind kind;
};

/* Rows another writer changed (cluster.c), to deliver on core: each
 * result has the columns of its table's row, then c_res and c_key (the
 * row's columns are NULL when it is gone). */
struct change_ev {
	struct hr_le le;
	PGresult *bindings;        /* or NULL */
	PGresult *pubs;            /* or NULL */
	PGresult *watchers;        /* presence subscriptions (rows of
				    * subscriptions, then c_res, c_key), or
				    * NULL */
	PGresult *rules;           /* package, resource, watcher, action,
				    * then c_pkg, c_res, c_key; or NULL */
	PGresult *subs;            /* subscriptions taken over, or NULL */
	PGresult *owned;           /* the ids still ours (unfencing), or
				    * NULL */
	PGresult *claimed;         /* a claim's row (none: nothing to take),
				    * or NULL */
	char *claim_id;            /* ...the subscription it was for */
	char *old_owner;           /* ...the node it was taken from, which
				    * must let go of it first, or NULL */
	int64_t change;            /* ...the claim's change in the log */
	uint64_t since_ms;         /* ...made then (hr_store_mono_ms) */
	PGresult *lost;            /* ids of ours the others took, or NULL */
	int64_t top;               /* the last change read for it */
};

/* A changed row to read again (its resource was busy here). */
struct refetch {
	struct hr_le le;
	enum hr_store_change_kind kind;
	uint64_t due_ms;           /* hr_store_mono_ms() */
	char *res, *key;
};

struct hr_store {
	struct hr_store_cfg cfg;   /* url is a copy (url_buf) */
	char *url_buf;
	char *node_buf, *adv_buf;  /* node and advertise, copied */

	/* core thread */
	PGconn *rd;                /* synchronous reads at start */
	struct event *ev;          /* made active by the writer */
	size_t depth;              /* committed, completion not delivered */
	hr_store_user_h *user_h;
	void *user_arg;
	hr_store_change_h *change_h;
	void *change_arg;
	uint64_t applied;          /* the others' changes handed over */
	uint64_t taken_over;       /* dead nodes' subscriptions handed over */
	bool hold;                 /* tests: completions wait (hr_store_hold) */

	/* writer thread */
	pthread_t thread;
	bool started;
	PGconn *wr;                /* NULL while PostgreSQL is away */
	int efd;                   /* eventfd: wakes the writer */
	struct hr_store_tx **batch; /* batch_max slots */

	/* follower thread (cluster.c), with cfg.node */
	pthread_t cl_thread;
	bool cl_started;
	PGconn *cl;                /* NULL while PostgreSQL is away */
	int cl_efd;                /* eventfd: wakes the follower */
	int64_t epoch;             /* this node's, from its join */
	int64_t mark;              /* the last change read (written by the
				    * follower, atomically once it runs) */
	bool fenced;               /* atomic: set by the follower, cleared
				    * on core once the owned set is in */
	uint64_t renewed_ms;       /* atomic: the lease's last renewal
				    * (hr_store_mono_ms) */
	int64_t released;          /* atomic: the last change whose moves
				    * of this node's subscriptions the core
				    * has let go of (nodes.released) */
	struct event *rel_ev;      /* core: says so to the follower */

	/* locked */
	pthread_mutex_t lock;
	struct hr_list queue;      /* committed, not yet taken */
	struct hr_list done;       /* completed, to deliver on core */
	struct hr_list users;      /* struct user_ev, to deliver on core */
	struct hr_list changes;    /* struct change_ev, to deliver on core */
	struct hr_list refetch;    /* struct refetch, for the follower */
	bool stop;
	struct hr_store_stats stats;
};

/* ---- rows: each table's columns, once (rows.c) ---- */

enum col_type {
	COL_TEXT,              /* const char *; NULL is SQL NULL */
	COL_INT64,             /* int64_t, a bigint */
	COL_EPOCH,             /* int64_t seconds since the epoch, stored
				* as a timestamptz */
	COL_UINT32,            /* uint32_t, a bigint */
	COL_INT_OPT,           /* int; -1 (absent) is SQL NULL */
	COL_SUB_STATE,         /* enum hr_sub_state, stored as its name */
};

enum col_flag {
	COL_KEY = 1,           /* the conflict target: never updated */
	COL_REQ = 2,           /* a put must set it (a text, a state) */
	COL_UP = 4,            /* a mark that a put never moves back */
	COL_ORDER = 8,         /* a binding's CSeq: a put with the same
				* callid must raise it (RFC 3261 10.3 step
				* 7), else herald_out_of_order() fails it */
	COL_FENCE = 16,        /* a subscription's owner epoch: a put of
				* another fails (herald_not_owner()) */
};

struct hr_col {
	const char *name;      /* the column */
	enum col_type type;
	size_t off;            /* of its field in the row struct */
	unsigned flags;        /* enum col_flag */
};

/* A table and its columns, in the order of statements and results. */
struct hr_row {
	const char *table;
	const struct hr_col *cols;
	unsigned ncols;
};

extern const struct hr_row hr_row_binding; /* struct hr_store_binding */
extern const struct hr_row hr_row_sub;     /* struct hr_store_sub */
extern const struct hr_row hr_row_pub;     /* struct hr_store_pub */

/* Room for any statement made from a table */
#define HR_ROW_SQL_MAX 4096

/** "SELECT <the columns> FROM <table> <suffix>" into buf: 0 or E2BIG. */
int hr_row_select(char *buf, size_t size, const struct hr_row *row,
	const char *suffix);
/** ...with more columns (SQL, e.g. "c.a, c.b") after the row's. */
int hr_row_select_with(char *buf, size_t size, const struct hr_row *row,
	const char *more, const char *suffix);
/** The upsert of a row, its columns as $1..$n: 0 or E2BIG. */
int hr_row_upsert(char *buf, size_t size, const struct hr_row *row);
/* Room for the text of any number column, and its NUL */
#define HR_ROW_NUM_MAX 24
/** Column c of row struct p as a statement parameter: its text (numbers
 * written into buf, of HR_ROW_NUM_MAX), or NULL: SQL NULL, or for a
 * state, none there is. */
const char *hr_row_text(const struct hr_col *c, const void *p, char *buf,
	size_t size);
/** Result row r (columns as hr_row_select) into row struct p; its
 * strings are res's. */
void hr_row_decode(const struct hr_row *row, void *p, const PGresult *res,
	int r);

/* ---- the follower (cluster.c) ---- */

/** Wake the core thread to deliver what was handed over (any thread). */
void hr_store_wake(struct hr_store *s);
/** Join the cluster as s->cfg.node on a new connection (s->cl): 0, or
 * EADDRINUSE when a live node holds the id past a lease's wait. */
int hr_cluster_join(struct hr_store *s);
void *hr_cluster_main(void *arg);
/** A single node's start: a cluster's change log left behind (its
 * triggers, nodes, log) removed when none of its nodes lives (warned
 * when one does). 0, or EIO. */
int hr_cluster_single(struct hr_store *s);
/** Core thread: hand the changes over to s->change_h. */
void hr_cluster_deliver(struct hr_store *s, struct hr_list *evs);
/** Core thread, s->rel_ev: the subscriptions lost up to s->released are
 * let go of (and what was sent for them in this turn of the loop has
 * left): the follower says so in the database. */
void hr_cluster_released(evutil_socket_t fd, short what, void *arg);
void hr_change_ev_free(struct change_ev *ce);
void hr_refetch_free(struct refetch *rf);

/* ---- helpers (pq.c) ---- */

/** The application_name of the connections made from now on: "herald",
 * or "herald/<node>" (before the store's threads start). */
void hr_pq_app_name(const char *node);
/** Connect to url: 0, or ECONNREFUSED (logged once by the caller). */
int hr_pq_connect(PGconn **connp, const char *url);
/** Why this thread's last hr_pq_connect failed: libpq's message (a bad
 * password, no such database, refused...), for one-shot callers' logs. */
const char *hr_pq_connect_error(void);
struct hr_store_sub_each {
	hr_store_sub_h *h;
	void *arg;
};
int hr_store_sub_row(const PGresult *res, int row, void *arg);
/* A users row (these columns) to an hr_store_user_h. */
#define HR_STORE_USER_COLUMNS "username, domain, ha1_md5, ha1_sha256, role"
struct hr_store_user_each {
	hr_store_user_h *h;
	void *arg;
};
int hr_store_user_row(const PGresult *res, int row, void *arg);
/* A row (resource, watcher, action) to an hr_store_rule_h. */
struct hr_store_rule_each {
	hr_store_rule_h *h;
	void *arg;
};
int hr_store_rule_row(const PGresult *res, int row, void *arg);
/** Run a query (with n text parameters v) and call row_h on each row in
 * turn (a non-zero return stops): 0, EIO, or row_h's error. */
int hr_pq_each_params(PGconn *conn, const char *sql, int n,
	const char *const *v,
	int (*row_h)(const PGresult *res, int row, void *arg), void *arg);
int hr_pq_each(PGconn *conn, const char *sql,
	int (*row_h)(const PGresult *res, int row, void *arg), void *arg);
/** Run a query with text parameters, expecting status want: 0 or EIO. */
int hr_pq_exec(PGconn *conn, PGresult **resp, const char *sql, int n,
	const char *const *v, ExecStatusType want);
/** nsql queries of the same n parameters v in one round trip (a
 * pipeline): 0 with each one's rows in out[i], or EIO (out all NULL). */
int hr_pq_exec_each(PGconn *conn, PGresult **out, const char *const *sql,
	int nsql, int n, const char *const *v);
/** PQerrorMessage without its trailing newline, for logs. */
const char *hr_pq_errmsg(const PGconn *conn, char *buf, size_t size);
/** True when the connection or server went away (retry elsewhere). */
bool hr_pq_lost(const PGconn *conn, const PGresult *res);
/** A query on reader r's connection (made again when it was lost, and
 * the query run once more when it died under it), as hr_pq_each_params. */
int hr_store_reader_each(struct hr_store_reader *r, const char *sql, int n,
	const char *const *v,
	int (*row_h)(const PGresult *res, int row, void *arg), void *arg);
/** Monotonic milliseconds (real clock; any thread). */
uint64_t hr_store_mono_ms(void);

/* ---- store.c: the handover to the core thread ---- */

/** Queue a completed tx for delivery on the core thread (writer). */
void hr_store_complete(struct hr_store *s, struct hr_store_tx *tx, int err);
/** Queue a user change for delivery on the core thread (writer). */
void hr_store_user_event(struct hr_store *s, struct user_ev *ue);
/** Free a user_ev. */
void hr_store_user_ev_free(struct user_ev *ue);

/* ---- writer.c ---- */

/** Prepare the statements and LISTEN on a fresh writer connection. */
int hr_writer_setup(PGconn *conn, const char *node);
/** The writer thread's body. */
void *hr_writer_main(void *arg);

/* ---- users.c ---- */

/** Read one user row for a notification payload "user@domain" (writer). */
int hr_store_user_fetch(PGconn *conn, const char *payload,
	struct user_ev **uep);

/** After a reconnect: post SYNC_BEGIN, every user, SYNC_END. */
int hr_store_users_resync(struct hr_store *s, PGconn *conn);

/* ---- tx.c ---- */

/** Free a statement's parameters. */
void hr_stmt_reset(struct stmt *st);

#endif
