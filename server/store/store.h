/*
 * Herald store: PostgreSQL. Numbered migrations, the writer thread with
 * group commit, and the reads recovery and the CLI need. Knows core only;
 * never SIP. All SQL of the project lives in server/store/.
 *
 * Threads: the core thread queues transactions; the writer thread owns a
 * libpq connection, commits queued transactions in batches (one database
 * transaction per batch, pipeline mode) and hands each completion back to
 * the core loop, where its callback runs. A 2xx is sent only from there
 * (DESIGN.md, durability rule).
 */
#ifndef HR_STORE_H
#define HR_STORE_H

#include "core/core.h"

struct hr_store_cfg {
	const char *url;        /* libpq connection URI or conninfo */
	unsigned queue_max;     /* transactions queued at most (default 20000) */
	unsigned wait_ms;       /* how long one may wait for PostgreSQL
				 * (default 5000) before it fails ETIMEDOUT */
	unsigned batch_max;     /* transactions per database commit (500) */
	/* A node of a cluster (issue 21): its id, or NULL for a single
	 * node. With one, the node joins (the nodes table), holds a lease
	 * it renews every lease_ms / 5, and hands the other writers'
	 * changes to the core (hr_store_set_change_handler). */
	const char *node;
	const char *advertise;  /* what the node tells the others (its SIP
				 * address), or NULL */
	unsigned lease_ms;      /* 10000 */
};

/** Fill cfg with the defaults (url stays NULL). */
void hr_store_cfg_default(struct hr_store_cfg *cfg);

/** Apply the migrations not yet recorded in schema_migrations, in order,
 * each in its own transaction. *applied (may be NULL) gets how many.
 * ECONNREFUSED when it cannot connect: not logged, the caller says why
 * with hr_store_strerror(). */
int hr_store_migrate(const char *url, unsigned *applied);

/**
 * Whether libpq can read url (a postgresql:// URI or "key=value ..."):
 * 0 with desc "user@host:port/dbname" (never the password), or EINVAL
 * with libpq's reason in desc. Nothing is connected to.
 */
int hr_store_url_check(const char *url, char *desc, size_t size);
/** err in words; for ECONNREFUSED, why this thread's last connection to
 * PostgreSQL failed, in libpq's words (refused, bad password, no such
 * database...). */
const char *hr_store_strerror(int err);

struct hr_store;  /* refcounted; its destructor drains and stops the writer */

/**
 * Connect (synchronously; ECONNREFUSED when PostgreSQL does not answer),
 * and start the writer thread. Completions and notifications are
 * delivered on the core loop: hr_loop_init() first.
 */
int hr_store_alloc(struct hr_store **sp, const struct hr_store_cfg *cfg);

/**
 * A write's outcome, on the core thread: 0 committed; ETIMEDOUT when
 * PostgreSQL stayed away longer than wait_ms; ENOSPC when the queue was
 * full; ESTALE when a binding's put came out of order (another node
 * stored a higher CSeq of its Call-ID first: RFC 3261 10.3 step 7); EIO
 * when a statement failed (a bug or a constraint).
 */
typedef void (hr_store_done_h)(int err, void *arg);

/** One registrar binding, as stored (RFC 3261 10.3, RFC 5626, RFC 3327). */
struct hr_store_binding {
	const char *aor;          /* "alice@example.test" */
	const char *key;          /* what identifies the contact: the
				   * +sip.instance and reg-id, or its URI */
	const char *id;           /* stable contact id (reginfo) */
	const char *uri;          /* the contact URI */
	const char *params;       /* other contact parameters, or NULL */
	const char *dname;        /* display name, or NULL */
	int64_t expires_at;       /* absolute, seconds since the epoch */
	int64_t registered_at;    /* when first created */
	const char *callid;
	uint32_t cseq;
	int q;                    /* q-value x 1000; -1 when absent */
	const char *instance;     /* +sip.instance, or NULL */
	int reg_id;               /* reg-id; -1 when absent */
	const char *path;         /* Path values joined with ",", or NULL */
	const char *user_agent;   /* or NULL */
	const char *received;     /* "udp:192.0.2.1:5060": source of the
				   * REGISTER, where requests can reach it */
};

/* A subscription's state (RFC 6665 4.1.3), stored as its name: the
 * store and the notifier share it. */
enum hr_sub_state {
	HR_SUB_PENDING,
	HR_SUB_ACTIVE,
	HR_SUB_TERMINATED,
};

/** "pending", "active", "terminated" (the database's, the admin's). */
const char *hr_sub_state_name(enum hr_sub_state s);
/** The state of a name: 0 or EINVAL. */
int hr_sub_state_decode(const char *name, enum hr_sub_state *s);

/** One event subscription with its dialog (RFC 6665, RFC 3261 12). */
struct hr_store_sub {
	const char *id;
	const char *package;
	const char *event_id;     /* or NULL */
	const char *resource;
	const char *watcher;
	const char *watcher_user; /* or NULL */
	enum hr_sub_state state;
	const char *reason;       /* or NULL */
	int64_t expires_at;       /* absolute, seconds since the epoch */
	const char *accept;       /* or NULL */
	const char *callid;
	const char *local_tag;
	const char *remote_tag;
	const char *local_uri;
	const char *remote_uri;
	const char *remote_target;
	const char *route_set;    /* or NULL */
	int64_t remote_cseq;
	int64_t cseq_reserved;    /* NOTIFY CSeqs used up to here */
	int64_t version_reserved; /* body versions used up to here */
	const char *transport;    /* "udp", "tcp" */
	const char *received;     /* or NULL */
	const char *instance;     /* or NULL */
	const char *local_contact; /* our Contact in the dialog, or NULL */
	uint32_t owner_epoch;     /* grows at each move to another node (a
				   * cluster): a put of an older one fails
				   * ESTALE */
};

/** One publication (RFC 3903) of a presentity's state. */
struct hr_store_pub {
	const char *etag;         /* the entity-tag, unguessable */
	const char *presentity;   /* "alice@example.test" */
	const char *event;        /* "presence" */
	const char *ctype;        /* "application/pidf+xml" */
	const char *body;         /* the document as published */
	int64_t expires_at;       /* absolute, seconds since the epoch */
	int64_t published_at;     /* order among the presentity's
				   * publications: newest wins */
};

/* ---- writes: a transaction of changes committed together ---- */

struct hr_store_tx;

/** Start a transaction (core thread). */
int hr_store_tx_alloc(struct hr_store_tx **txp, struct hr_store *s);
/** Insert or replace a binding (by aor and key). */
int hr_store_tx_binding_put(struct hr_store_tx *tx,
	const struct hr_store_binding *b);
/** Remove a binding (by aor and key); absent is not an error. */
int hr_store_tx_binding_del(struct hr_store_tx *tx, const char *aor,
	const char *key);
/** Insert or replace a subscription (by id). Its commit fails ESTALE
 * when the row's owner_epoch is not sub's (another node has it now). */
int hr_store_tx_sub_put(struct hr_store_tx *tx, const struct hr_store_sub *sub);
/** Remove a subscription of owner epoch epoch; absent (or another
 * epoch's: another node has it now) is not an error. */
int hr_store_tx_sub_del(struct hr_store_tx *tx, const char *id,
	uint32_t epoch);
/**
 * Move a subscription's reserved NOTIFY CSeq and version marks forward
 * (never back: the larger of stored and given is kept). Its commit fails
 * ESTALE when the row's owner epoch is not epoch.
 */
int hr_store_tx_sub_reserve(struct hr_store_tx *tx, const char *id,
	uint32_t epoch, int64_t cseq_reserved, int64_t version_reserved);

/** Insert or replace a publication (by etag). */
int hr_store_tx_pub_put(struct hr_store_tx *tx, const struct hr_store_pub *pub);
/** Remove a publication; absent is not an error. */
int hr_store_tx_pub_del(struct hr_store_tx *tx, const char *etag);
/** Set an event package's rule on resource for watcher (a user or a
 * domain): action is one the package knows, presence's "allow", "block",
 * "polite-block" or "confirm", reg's "allow" or "block" (else the commit
 * fails EIO). */
int hr_store_tx_rule_put(struct hr_store_tx *tx, const char *package,
	const char *resource, const char *watcher, const char *action);
/** Remove a rule; absent is not an error. */
int hr_store_tx_rule_del(struct hr_store_tx *tx, const char *package,
	const char *resource, const char *watcher);

/** Drop a transaction instead of committing it; NULL-safe. */
void hr_store_tx_abort(struct hr_store_tx *tx);
/**
 * Queue the transaction; done runs on the core thread once it has been
 * committed or has failed. Takes over tx (also on error, when done is
 * not called).
 */
int hr_store_tx_commit(struct hr_store_tx *tx, hr_store_done_h *done,
	void *arg);

/** Transactions queued or in flight (for metrics and overload checks). */
size_t hr_store_queue_depth(const struct hr_store *s);

/** Tests: while held, the completions of committed changes wait, in
 * order, until delivered one by one or the hold ends (so a test sets the
 * exact interleaving of commits and requests). Core thread. */
void hr_store_hold(struct hr_store *s, bool hold);
/** Tests: completions waiting under the hold. */
size_t hr_store_held(struct hr_store *s);
/** Tests: run the oldest waiting completion; false when there is none. */
bool hr_store_deliver_one(struct hr_store *s);

/** Counters of the writer thread (metrics, tests). */
/* Histograms' buckets: batch sizes, and commit latency in ms; the upper
 * bounds of all but the last (+Inf), one fewer than the buckets (writer.c
 * asserts it). */
#define HR_STORE_BATCH_BUCKETS 10
#define HR_STORE_LATENCY_BUCKETS 11
extern const uint64_t hr_store_batch_bounds[];
extern const uint64_t hr_store_latency_bounds[];

struct hr_store_stats {
	uint64_t commits;       /* database transactions committed */
	uint64_t batch[HR_STORE_BATCH_BUCKETS];     /* commits by batch size,
						     * not cumulative */
	uint64_t latency[HR_STORE_LATENCY_BUCKETS]; /* commits by latency */
	uint64_t latency_ms_sum;
	uint64_t txs;           /* transactions committed */
	uint64_t max_batch;     /* most transactions in one commit */
	uint64_t failed;        /* transactions failed EIO */
	uint64_t timedout;      /* transactions failed ETIMEDOUT */
	uint64_t outages;       /* times the connection was lost */
	bool down;              /* the writer's connection is lost now */
	/* a node of a cluster (cfg.node) */
	bool node;
	bool fenced;            /* hr_store_fenced() */
	uint64_t applied;       /* the others' changes handed to the core */
	int64_t mark;           /* the last change of the log read */
	uint64_t taken_over;    /* dead nodes' subscriptions now ours */
};

/** Copy the counters (core thread). */
void hr_store_stats(struct hr_store *s, struct hr_store_stats *st);

/* ---- reads, synchronous: at start before serving, and in the CLI ---- */

typedef int (hr_store_binding_h)(const struct hr_store_binding *b,
	void *arg);

/** Every binding (recovery at start). The strings live during the call. */
int hr_store_bindings_load(struct hr_store *s, hr_store_binding_h *h,
	void *arg);

typedef int (hr_store_sub_h)(const struct hr_store_sub *sub, void *arg);

/** Every subscription (recovery at start). Strings live during the call. */
int hr_store_subs_load(struct hr_store *s, hr_store_sub_h *h, void *arg);

typedef int (hr_store_pub_h)(const struct hr_store_pub *pub, void *arg);

/** Every publication, oldest first per presentity (recovery). */
int hr_store_pubs_load(struct hr_store *s, hr_store_pub_h *h, void *arg);

/** One rule (strings live during the call). */
typedef int (hr_store_rule_h)(const char *resource, const char *watcher,
	const char *action, void *arg);

/** Every rule of an event package (recovery). */
int hr_store_rules_load(struct hr_store *s, const char *package,
	hr_store_rule_h *h, void *arg);

/** The server secret named name: read it, or create n random bytes once
 * (concurrent starts agree). */
int hr_store_secret(struct hr_store *s, const char *name, uint8_t *out,
	size_t n);

/* ---- readers: connections for other threads (admin): reads, and the
 * audit log's appends ---- */

struct hr_store_reader;   /* refcounted; one thread at a time */

/** A reader on url; it connects on first use and again after a loss. */
int hr_store_reader_alloc(struct hr_store_reader **rp, const char *url);
/** Does PostgreSQL answer? 0, or an errno. */
int hr_store_reader_ping(struct hr_store_reader *r);

/** Which subscriptions a page lists: NULL matches any. */
struct hr_store_sub_filter {
	const char *package;
	const char *state;
	const char *resource;
	const char *watcher;
	const char *after;        /* ids above this one (the cursor) */
	unsigned limit;
};

/** A page of subscriptions in id order. */
int hr_store_subs_page(struct hr_store_reader *r,
	const struct hr_store_sub_filter *f, hr_store_sub_h *h, void *arg);
/** A page of an event package's rules on resource, by watcher, after
 * the watcher after (NULL: from the first), at most limit. */
int hr_store_rules_page(struct hr_store_reader *r, const char *package,
	const char *resource, const char *after, unsigned limit,
	hr_store_rule_h *h, void *arg);
/** One subscription by id (h not called when there is none). */
int hr_store_sub_get(struct hr_store_reader *r, const char *id,
	hr_store_sub_h *h, void *arg);

/* ---- users: username@domain with HA1s, never a password ---- */

/* What a user notification is (hr_store_set_user_handler). */
enum hr_store_user_kind {
	HR_USER_CHANGED = 0,      /* added, changed, or deleted (no HA1s) */
	HR_USER_SYNC_BEGIN,       /* after an outage: every user follows... */
	HR_USER_SYNC_END,         /* ...and users not among them are gone */
};

struct hr_store_user {
	const char *user;         /* user part */
	const char *domain;
	const char *ha1_md5;      /* 32 hex digits */
	const char *ha1_sha256;   /* 64 hex digits */
	enum hr_store_user_kind kind;
	const char *role;         /* "user" or "monitor"; NULL in a put:
				   * "user" for a new one, else unchanged */
};

typedef int (hr_store_user_h)(const struct hr_store_user *u, void *arg);

/* Enough for a role's name and its NUL. */
#define HR_STORE_ROLE_MAX 16

/** Add or replace a user (CLI, admin; own connection); *created (may be
 * NULL) tells which, role (may be NULL) gets the role it now has. These
 * one-shot calls do not log a failed connection (ECONNREFUSED): their
 * caller does, with hr_store_strerror(). */
int hr_store_user_put(const char *url, const struct hr_store_user *u,
	bool *created, char role[HR_STORE_ROLE_MAX]);
/** Change an existing user (own connection): its HA1s unless NULL, its
 * role unless NULL; role (may be NULL) gets the role it now has. 0, or
 * ENOENT when there is none. */
int hr_store_user_update(const char *url, const struct hr_store_user *u,
	char role[HR_STORE_ROLE_MAX]);
/** Delete a user: 0, or ENOENT when there was none. */
int hr_store_user_del(const char *url, const char *user, const char *domain);
/** List users ordered by domain and user (CLI; own connection). */
int hr_store_user_list(const char *url, hr_store_user_h *h, void *arg);
/** A page of users (admin; a reader) by domain then user, after after_user@after_domain
 * (NULL: from the first), at most limit. */
int hr_store_users_page(struct hr_store_reader *r, const char *after_user,
	const char *after_domain, unsigned limit, hr_store_user_h *h,
	void *arg);
/** Every user, at start. */
int hr_store_users_load(struct hr_store *s, hr_store_user_h *h, void *arg);

/**
 * A user was added, changed or deleted while the server runs (the CLI
 * writes the table; a trigger notifies; the writer thread LISTENs and
 * reads the row). u->ha1_* and u->role are NULL when the user was deleted. After
 * the connection was lost and came back (notifications in between are
 * lost), a SYNC_BEGIN, every user as CHANGED, and a SYNC_END follow.
 * Runs on the core thread.
 */
void hr_store_set_user_handler(struct hr_store *s, hr_store_user_h *h,
	void *arg);

/* ---- a cluster's changes (cluster.c) ---- */

/** What changed: a binding or a publication (the change log's kinds). */
enum hr_store_change_kind {
	HR_CHANGE_BINDING,
	HR_CHANGE_PUBLICATION,
	HR_CHANGE_RULE,
	HR_CHANGE_SUB,            /* a dead node's subscription, now ours */
	HR_CHANGE_OWNED,          /* back after the lease ran out: the ids
				   * of the subscriptions still ours */
	HR_CHANGE_CLAIMED,        /* hr_store_sub_claim's outcome: key the
				   * id, sub its row now ours (NULL: none
				   * to take) */
	HR_CHANGE_LOST,           /* key: a subscription of ours another
				   * node took (a request of it reached
				   * that node) */
	HR_CHANGE_WATCHER,        /* another node's presence subscription
				   * (res the presentity, key the id): sub
				   * its row, NULL when it is gone */
};

/** A row another writer changed, as it is now. */
struct hr_store_change {
	enum hr_store_change_kind kind;
	const char *res;          /* the AOR, the presentity, the rule's
				   * resource */
	const char *key;          /* the binding's key, the entity-tag, the
				   * rule's watcher */
	/* the row now, or NULL when it is gone (by kind) */
	const struct hr_store_binding *binding;
	const struct hr_store_pub *pub;
	const char *package;      /* a rule's */
	const char *action;       /* ...its action, or NULL: gone */
	const struct hr_store_sub *sub;  /* a subscription taken over, or a
					  * watcher's */
	const char *const *ids;   /* HR_CHANGE_OWNED: sorted (strcmp) */
	size_t nids;
};

/** A change applied: 0; EBUSY when a change of the same resource is
 * being stored here, so that the row read may be older than what this
 * node commits: the store reads it again a little later. */
typedef int (hr_store_change_h)(const struct hr_store_change *c, void *arg);

/**
 * Another writer's changes of bindings, publications and rules, in the
 * order they were committed (each row read again after its commit), on
 * the core thread; not this node's own. Only with cfg.node. After an
 * outage the node goes on from the last change it had applied. And the
 * subscriptions of dead nodes this node took over (HR_CHANGE_SUB): a
 * node whose lease ran out and whose id no connection holds any more
 * (it is not running) loses its subscriptions to the living nodes, which
 * claim them in chunks (each its share, SKIP LOCKED).
 */
void hr_store_set_change_handler(struct hr_store *s, hr_store_change_h *h,
	void *arg);

/**
 * A request of subscription id reached this node, which does not hold it
 * (a node of a cluster): make it ours, whoever owns it now. The outcome
 * comes as HR_CHANGE_CLAIMED (the row, as for a take-over); the old owner
 * hears HR_CHANGE_LOST through the change log and drops it. 0 or ENOMEM.
 */
int hr_store_sub_claim(struct hr_store *s, const char *id);
/** Read publication etag of resource again now (a node of a cluster: a
 * PUBLISH names an entity-tag another node may have issued a moment
 * ago): it comes as an HR_CHANGE_PUBLICATION, its row or none. 0,
 * EINVAL (a single node) or ENOMEM. */
int hr_store_pub_fetch(struct hr_store *s, const char *resource,
	const char *etag);

/** A node of the cluster as the nodes table has it. */
struct hr_store_node {
	const char *id;
	const char *advertise;    /* or NULL */
	int64_t epoch;
	int64_t lease_until;      /* wall seconds */
	int64_t mark;             /* the last change it applied */
	bool live;                /* its lease has not run out */
};

typedef int (hr_store_node_h)(const struct hr_store_node *n, void *arg);

/** This node's id, or NULL for a single node. */
const char *hr_store_node(const struct hr_store *s);
/**
 * Fenced: this node has not renewed its lease for longer than the lease
 * (cut off from PostgreSQL), so the others may have taken its
 * subscriptions: it sends no NOTIFY until it has renewed it and handed
 * the core the subscriptions still its own (HR_CHANGE_OWNED). Any
 * thread; false for a single node.
 */
bool hr_store_fenced(const struct hr_store *s);
/** Every node (admin; a reader), by id. */
int hr_store_nodes(struct hr_store_reader *r, hr_store_node_h *h,
	void *arg);

/* ---- the admin API's audit log (audit.c), on a reader ---- */

/** One audit record: an admin change and its answer. */
struct hr_store_audit {
	int64_t id;               /* reads: its id; ignored when added */
	int64_t at_us;            /* wall microseconds since the epoch */
	const char *token;        /* the bearer token's name */
	const char *method;
	const char *path;
	const char *query;        /* JSON text, or NULL */
	const char *body;         /* JSON text (secrets redacted), or NULL */
	unsigned status;
	const char *detail;       /* or NULL */
};

typedef int (hr_store_audit_h)(const struct hr_store_audit *a, void *arg);

/** Which records a page lists, newest first: NULL or 0 matches any. */
struct hr_store_audit_filter {
	const char *token;        /* this token name's */
	int64_t since_us;         /* at or after (0: any) */
	const char *path;         /* paths that start with it */
	int64_t before;           /* ids below it (the cursor; 0: from the
				   * newest) */
	unsigned limit;
};

/** Append a record on reader r's connection: 0, ECONNREFUSED, EIO. */
int hr_store_audit_add(struct hr_store_reader *r,
	const struct hr_store_audit *a);
/** A page of records, newest first (strings live during the call). */
int hr_store_audit_page(struct hr_store_reader *r,
	const struct hr_store_audit_filter *f, hr_store_audit_h *h,
	void *arg);

#endif
