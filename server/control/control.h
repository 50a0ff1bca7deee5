/*
 * The core's one door for its clients in other threads: the admin API
 * today, a console or a second node later (DESIGN.md). Every function is
 * called from the client's own thread. Reads go to PostgreSQL on the
 * client's own reader; whatever only the core knows, and every change,
 * is one call into the core thread (hr_call) made here, applied like a
 * SIP request (a terminated subscription gets its final NOTIFY). Plain C
 * only: no client's format (HTTP, JSON) appears here, and no core object
 * leaves the core thread: what a call returns is a copy, or a row read
 * from the database.
 *
 * Errors are 0 or an errno; ECANCELED: the core takes no more calls
 * (shutting down).
 */
#ifndef HR_CONTROL_H
#define HR_CONTROL_H

#include "core/core.h"

struct hr_realm;
struct hr_events;
struct hr_presence;
struct hr_regpkg;
struct hr_dlgpkg;
struct hr_mwipkg;
struct hr_redirect;
struct hr_registrar;
struct hr_store;
struct hr_sip;

/* What the control works on: made by `herald serve` (core thread). */
struct hr_control_cfg {
	const char *database_url;    /* for readers and users */
	struct hr_realm *realm;      /* served domains: users are made in
				      * these */
	struct hr_events *ev;        /* core objects: used in hr_call only */
	struct hr_presence *presence;
	struct hr_regpkg *reg;
	struct hr_dlgpkg *dialog;
	struct hr_mwipkg *mwi;
	struct hr_registrar *registrar;
	struct hr_redirect *redirect;  /* NULL: no redirect server */
	struct hr_store *store;
	struct hr_sip *sip;
	unsigned feed_events;        /* changes the journal keeps (0:
				      * HR_CTL_FEED_EVENTS) */
};

struct hr_control;  /* refcounted; borrows the core objects of its cfg */

/** Make the control (core thread); cfg's strings must outlive it. */
int hr_control_alloc(struct hr_control **ctlp,
	const struct hr_control_cfg *cfg);

/* ---- names as the core keys them ---- */

#define HR_CTL_NAME_MAX 520

/** An address-of-record or presentity ("sip:", "sips:", "pres:" or no
 * scheme) as user@domain, the domain lowercased: 0 or EINVAL. */
int hr_ctl_aor(const char *uri, char out[HR_CTL_NAME_MAX]);
/** A rule's watcher: a user as hr_ctl_aor, or a whole domain
 * (lowercased): 0 or EINVAL. */
int hr_ctl_watcher(const char *uri, char out[HR_CTL_NAME_MAX]);

/* ---- the core's state and its health ---- */

/** Does the core thread answer? 0 or ECANCELED. */
int hr_ctl_ping(struct hr_control *ctl);

/** One client's read connection to PostgreSQL (one thread at a time);
 * hr_mem_deref closes it. */
struct hr_ctl_reader;

/** Open a reader on the control's database (a connection of its own). */
int hr_ctl_reader_alloc(struct hr_ctl_reader **rp, struct hr_control *ctl);
/** Does PostgreSQL answer? 0, or an errno. */
int hr_ctl_reader_ping(struct hr_ctl_reader *rd);

/* ---- subscriptions ---- */

/** A subscription as stored; strings live during the callback. */
struct hr_ctl_sub {
	const char *id;
	const char *package;
	const char *event_id;        /* or NULL */
	const char *resource;
	const char *watcher;
	const char *watcher_user;    /* or NULL */
	const char *state;           /* "active", "pending", "terminated" */
	const char *reason;          /* or NULL */
	int64_t expires_at;          /* wall seconds */
	const char *callid;
	const char *local_tag;
	const char *remote_tag;
	const char *remote_target;
	const char *transport;
};

typedef int (hr_ctl_sub_h)(const struct hr_ctl_sub *sub, void *arg);

/** Which subscriptions a page lists: NULL matches any. */
struct hr_ctl_sub_filter {
	const char *package;
	const char *state;
	const char *resource;        /* as hr_ctl_aor makes it */
	const char *watcher;
	const char *after;           /* ids above this one (the cursor) */
	unsigned limit;
};

/** A page of subscriptions in id order. */
int hr_ctl_subs_page(struct hr_ctl_reader *rd,
	const struct hr_ctl_sub_filter *f, hr_ctl_sub_h *h, void *arg);
/** One subscription by id (h not called when there is none). */
int hr_ctl_sub_get(struct hr_ctl_reader *rd, const char *id,
	hr_ctl_sub_h *h, void *arg);

/* What only the core knows of a live subscription. */
struct hr_ctl_sub_live {
	uint64_t version;            /* of its last body */
	uint32_t notifies;           /* NOTIFYs sent */
};

/** The live state of subscription id: 0, ENOENT when the core has no
 * such subscription (or it is terminated), ECANCELED. */
int hr_ctl_sub_live(struct hr_control *ctl, const char *id,
	struct hr_ctl_sub_live *live);
/** End subscription id with reason (NULL: deactivated; else
 * deactivated, noresource or rejected): its final NOTIFY is sent before
 * this returns. 0, EINVAL (another reason), ENOENT, ECANCELED. */
int hr_ctl_sub_end(struct hr_control *ctl, const char *id,
	const char *reason);

/* ---- documents, made by the packages' own code ---- */

enum hr_ctl_doc {
	HR_CTL_DOC_PIDF,             /* a presentity's composed presence */
	HR_CTL_DOC_REGINFO,          /* an AOR's registrations (full) */
	HR_CTL_DOC_DIALOG,           /* a line's composed dialog-info, as a
				      * watcher seeing identities gets it */
};

/** The document of name (as hr_ctl_aor makes it), appended to b. 0,
 * ECANCELED, or the package's error. */
int hr_ctl_document(struct hr_control *ctl, enum hr_ctl_doc doc,
	const char *name, struct hr_buf *b);

/* ---- rules: who may watch a presentity (presence) or an AOR (reg), and
 * what a line's watcher sees of the other party (dialog) ---- */

enum hr_ctl_pkg {
	HR_CTL_PRESENCE,
	HR_CTL_REG,
	HR_CTL_DIALOG,
};

/** Is action one of pkg's (presence: allow, block, polite-block,
 * confirm; reg: allow, block; dialog: identity, state)? */
bool hr_ctl_rule_action_valid(enum hr_ctl_pkg pkg, const char *action);
/** Set resource's rule for watcher (action NULL: remove it). The change
 * is stored, then applied to the subscriptions, then this returns: 0,
 * EINVAL, ECANCELED, or the store's error. */
int hr_ctl_rule_set(struct hr_control *ctl, enum hr_ctl_pkg pkg,
	const char *resource, const char *watcher, const char *action);

typedef int (hr_ctl_rule_h)(const char *resource, const char *watcher,
	const char *action, void *arg);

/** A page of pkg's rules on resource, by watcher, after the watcher
 * after (NULL: from the first), at most limit. */
int hr_ctl_rules_page(struct hr_ctl_reader *rd, enum hr_ctl_pkg pkg,
	const char *resource, const char *after, unsigned limit,
	hr_ctl_rule_h *h, void *arg);

/* ---- mailboxes: an account's message summary (RFC 3842) ---- */

/* RFC 3842 5.2's message-context-classes, in the core's order. */
enum hr_ctl_mwi_class {
	HR_CTL_MWI_VOICE,
	HR_CTL_MWI_FAX,
	HR_CTL_MWI_PAGER,
	HR_CTL_MWI_MULTIMEDIA,
	HR_CTL_MWI_TEXT,
	HR_CTL_MWI_NONE,
	HR_CTL_MWI_CLASSES
};

#define HR_CTL_ACCOUNT_MAX 512

/* A summary: a plain copy of the core's. */
struct hr_ctl_mailbox {
	bool waiting;                /* Messages-Waiting: yes */
	char account[HR_CTL_ACCOUNT_MAX];  /* Message-Account, "" when none */
	struct {
		bool present;        /* the class is in the summary */
		uint32_t new_msgs, old_msgs;
		bool urgent;         /* with its urgent counts */
		uint32_t new_urgent, old_urgent;
	} cls[HR_CTL_MWI_CLASSES];
};

/** A class's short name ("voice", "fax", "pager", "multimedia", "text",
 * "none"). */
const char *hr_ctl_mwi_class_name(enum hr_ctl_mwi_class c);
/** account's (as hr_ctl_aor makes it) summary: the sum of its
 * publications and of what hr_ctl_mailbox_set said. 0 or ECANCELED. */
int hr_ctl_mailbox(struct hr_control *ctl, const char *account,
	struct hr_ctl_mailbox *out);
/** Set account's mailbox as a voicemail system speaking HTTP says it
 * (replacing what was set so before; PUBLISHed summaries stay): stored,
 * then its phones told, then this returns. 0, EINVAL, ECANCELED, or the
 * store's error. */
int hr_ctl_mailbox_set(struct hr_control *ctl, const char *account,
	const struct hr_ctl_mailbox *m);

/* ---- bindings ---- */

/** A contact bound to an AOR (a copy, made on the core thread). */
struct hr_ctl_binding {
	const char *id;              /* stable contact id */
	const char *uri;
	const char *callid;
	const char *instance;        /* "" when none */
	const char *path;            /* "" when none */
	const char *user_agent;      /* "" when none */
	const char *received;        /* "udp:192.0.2.1:5060" */
	int64_t expires_at;          /* wall seconds */
	uint32_t cseq;
	int q;                       /* x 1000, -1 when absent */
};

typedef int (hr_ctl_binding_h)(const struct hr_ctl_binding *b, void *arg);

/** aor's bindings, each given to h on the caller's thread: 0, ENOMEM,
 * ECANCELED, or h's error. */
int hr_ctl_bindings(struct hr_control *ctl, const char *aor,
	hr_ctl_binding_h *h, void *arg);
/** RFC 3680: remove aor's binding id; its watchers hear "deactivated".
 * 0, ENOENT, EBUSY (a REGISTER of aor is being stored), ECANCELED, or
 * the store's error. */
int hr_ctl_binding_remove(struct hr_control *ctl, const char *aor,
	const char *id);

/* ---- users: user@domain with the HA1s and role `herald user add`
 * stores; written on a connection of their own, a running core hears
 * of each from the database ---- */

#define HR_CTL_ROLE_MAX 16

/** user@domain (or a bare user@host) split: 0, EINVAL, or EILSEQ for a
 * control character. */
int hr_ctl_user_split(const char *name, char *user, size_t un,
	char *domain, size_t dn);
/** Is domain one the server serves? */
bool hr_ctl_served(const struct hr_control *ctl, const char *domain);
/** Is role a role's name (user, monitor)? */
bool hr_ctl_role_valid(const char *role);

/* A user to write; NULL password or role: unchanged (or the default). */
struct hr_ctl_user {
	const char *user;
	const char *domain;
	const char *password;
	const char *role;
};

/** Add or replace a user; *created tells which, role_out gets its role.
 * 0 or an errno (hr_ctl_strerror says why). */
int hr_ctl_user_put(struct hr_control *ctl, const struct hr_ctl_user *u,
	bool *created, char role_out[HR_CTL_ROLE_MAX]);
/** Change an existing user's password and/or role: 0, ENOENT, or an
 * errno. */
int hr_ctl_user_update(struct hr_control *ctl, const struct hr_ctl_user *u,
	char role_out[HR_CTL_ROLE_MAX]);
/** Delete a user: 0, ENOENT, or an errno. */
int hr_ctl_user_del(struct hr_control *ctl, const char *user,
	const char *domain);
/** Why a user call failed (the database's words when it did not
 * answer). */
const char *hr_ctl_strerror(int err);

typedef int (hr_ctl_user_h)(const char *user, const char *domain,
	const char *role, void *arg);

/** A page of users by domain then user, after after_user@after_domain
 * ("" and "": from the first), at most limit. */
int hr_ctl_users_page(struct hr_ctl_reader *rd, const char *after_user,
	const char *after_domain, unsigned limit, hr_ctl_user_h *h,
	void *arg);

/* ---- the change journal: every change the core makes (a binding, a
 * subscription, a publication, a rule, a user), in order, each with an
 * id one above the last, kept in a bounded ring for the clients' live
 * feeds. Ids of a run are above every id of an earlier run. ---- */

#define HR_CTL_FEED_EVENTS 10000

enum hr_ctl_kind {
	HR_CTL_KIND_BINDING,
	HR_CTL_KIND_SUBSCRIPTION,
	HR_CTL_KIND_PUBLICATION,
	HR_CTL_KIND_RULE,
	HR_CTL_KIND_USER,
	HR_CTL_KIND_TRACE,           /* a SIP trace's messages (not a change:
				      * a feed has them when it asks) */
	HR_CTL_KINDS
};

/** "binding", "subscription", "publication", "rule", "user", "trace". */
const char *hr_ctl_kind_name(enum hr_ctl_kind k);
/** The kind of a name: 0 or EINVAL. */
int hr_ctl_kind_decode(const char *name, enum hr_ctl_kind *k);

/* One of an event's fields: a string, or (str NULL) a number. */
struct hr_ctl_field {
	const char *name;            /* journalled: NULL comes back "" */
	const char *str;
	int64_t num;
};

#define HR_CTL_FIELDS_MAX 8

/* A change, as plain names and values (the client formats them). */
struct hr_ctl_event {
	uint64_t id;
	enum hr_ctl_kind kind;
	const char *op;              /* binding: added, refreshed, removed,
				      * expired; subscription: created,
				      * updated, terminated; publication:
				      * published, refreshed, modified,
				      * removed, expired; rule: set,
				      * removed; user: added, changed,
				      * removed */
	const char *name;            /* the AOR, presentity, resource or
				      * user it is about (user@domain) */
	const char *package;         /* its event package; NULL: none
				      * (bindings, users) */
	struct hr_ctl_field f[HR_CTL_FIELDS_MAX];  /* in order */
	unsigned nf;
	void *held;                  /* hr_ctl_feed_next's: the journal's
				      * copy, until hr_ctl_feed_put */
};

/** The newest event's id (where a new reader starts). */
uint64_t hr_ctl_feed_last(struct hr_control *ctl);
/** The event after id after: 0 with *e (its strings the journal's: give
 * them back with hr_ctl_feed_put), ENOENT when there is none yet, ERANGE
 * when the events after `after` are no longer held (or after is another
 * run's). */
int hr_ctl_feed_next(struct hr_control *ctl, uint64_t after,
	struct hr_ctl_event *e);
/** Give back an event hr_ctl_feed_next gave (NULL: nothing). */
void hr_ctl_feed_put(const struct hr_ctl_event *e);
/** Sleep until there is an event after id after, ms have passed, or
 * hr_ctl_feed_kick: the newest id. The core never waits for it. */
uint64_t hr_ctl_feed_wait(struct hr_control *ctl, uint64_t after,
	unsigned ms);
/** Wake every thread in hr_ctl_feed_wait (a client stopping). */
void hr_ctl_feed_kick(struct hr_control *ctl);
/** A user changed in the database, heard by the core (core thread): op
 * is added, changed or removed. */
void hr_ctl_feed_user(struct hr_control *ctl, const char *user,
	const char *op);

/* ---- SIP traces: the messages of one AOR or one source address,
 * received and sent, with the values of Authorization and
 * Proxy-Authorization redacted, journalled as events of kind trace (op
 * started, received, sent, then expired or stopped); each ends by itself
 * after its time. ---- */

#define HR_CTL_TRACES_MAX 8
#define HR_CTL_TRACE_SECS_MAX 3600
#define HR_CTL_TRACE_ID_MAX 17

/* A trace running. */
struct hr_ctl_trace {
	char id[HR_CTL_TRACE_ID_MAX];
	char aor[HR_CTL_NAME_MAX];   /* "" : any */
	char source[HR_SA_STRLEN];   /* as given ("192.0.2.1", any port, or
				      * "192.0.2.1:5060"); "" : any */
	int64_t ends_at;             /* wall seconds */
	uint64_t messages;           /* traced so far */
};

/** Trace aor's messages (as hr_ctl_aor takes it; NULL: any) and/or
 * source's (NULL: any; one of the two at least) for secs (1 to
 * HR_CTL_TRACE_SECS_MAX): 0 with info, EINVAL, ENOSPC (HR_CTL_TRACES_MAX
 * run), ECANCELED. */
int hr_ctl_trace_start(struct hr_control *ctl, const char *aor,
	const char *source, unsigned secs, struct hr_ctl_trace *info);
/** End trace id: 0, ENOENT, ECANCELED. */
int hr_ctl_trace_stop(struct hr_control *ctl, const char *id);
/** The traces running, into out: *n of them. */
int hr_ctl_traces(struct hr_control *ctl,
	struct hr_ctl_trace out[HR_CTL_TRACES_MAX], unsigned *n);

/* The journal's counters. */
struct hr_ctl_feed_stats {
	uint64_t events;             /* journalled since start */
	uint64_t failed;             /* lost for want of memory */
	size_t held;                 /* in the ring now */
	size_t cap;                  /* --feed-events */
	uint64_t last;               /* the newest id */
};

/** The journal's counters (any thread, no call into the core). */
void hr_ctl_feed_stats(struct hr_control *ctl, struct hr_ctl_feed_stats *st);

/* ---- statistics ---- */

#define HR_CTL_PKGS_MAX 8
#define HR_CTL_METHODS_MAX 16
#define HR_CTL_FAILS_MAX 48
#define HR_CTL_BUCKETS_MAX 16
#define HR_CTL_TPS_MAX 8
#define HR_CTL_AUTH_FAILS_MAX 16
#define HR_CTL_5XX_MAX 32

/* Counts by bucket (not cumulative); the last bucket is +Inf. */
struct hr_ctl_histogram {
	const uint64_t *bounds;      /* n - 1 upper bounds, static */
	uint64_t counts[HR_CTL_BUCKETS_MAX];
	unsigned n;
	uint64_t sum;
};

/* Every 5xx sent of one kind. */
struct hr_ctl_fail {
	unsigned scode;
	char reason[48];
	char where[64];              /* a copy: the core's may be a buffer */
	int err;
	uint64_t n;
};

/* The core's counters at one moment. */
struct hr_ctl_stats {
	size_t bindings;
	struct {
		const char *package; /* static */
		size_t active, pending;
	} subs[HR_CTL_PKGS_MAX];
	unsigned npkgs;
	size_t publications;         /* presence's */
	size_t dialog_publications;
	size_t mwi_publications;     /* message-summary's */
	struct {
		const char *method;  /* static */
		uint64_t n;
	} requests[HR_CTL_METHODS_MAX];
	unsigned nmethods;
	uint64_t responses[7];       /* by class: [2] is 2xx */
	struct hr_ctl_fail fails[HR_CTL_FAILS_MAX];
	unsigned nfails;             /* the last one is "other" when full */
	size_t strans;               /* live server transactions */
	size_t sources;              /* in the per-source table */
	uint64_t src_dropped;
	uint64_t shed;               /* new requests 503 over --overload-lag */
	struct hr_ctl_histogram lag_us; /* UDP messages' lag */
	uint64_t tcp_refused_src;
	uint64_t tcp_refused_max;
	uint64_t tls_failed;         /* TLS handshakes that failed */
	uint64_t hs_timeouts;        /* handshakes and upgrades too slow */
	uint64_t ws_refused;         /* WebSocket upgrades refused */
	size_t conns;                /* open TCP, TLS, WS connections */
	uint64_t retransmits;
	uint64_t resp_retransmits;   /* INVITE 3xx-6xx sent again (Timer G) */
	uint64_t acks_missing;       /* ... never ACKed (Timer H) */
	uint64_t redirect_moved;     /* the redirect server's 302s */
	uint64_t redirect_unavailable;  /* its 480s */
	uint64_t redirect_not_found;    /* its 404s */
	uint64_t redirect_contacts;  /* Contacts in its 302s */
	uint64_t notifies;
	uint64_t notifies_failed;
	size_t queue_depth;          /* changes queued for PostgreSQL */
	uint64_t max_batch;
	uint64_t commits;
	uint64_t changes;
	uint64_t failed;
	uint64_t timedout;
	uint64_t outages;
	struct hr_ctl_histogram batch;       /* changes per commit */
	struct hr_ctl_histogram commit_ms;   /* commit latency */
	bool store_connected;        /* the writer's connection is up */
	bool cluster;                /* a node of a cluster: then these */
	bool fenced;                 /* past its lease: no NOTIFY */
	uint64_t cluster_applied;    /* the others' changes applied */
	int64_t cluster_mark;        /* the last change of the log read */
	uint64_t taken_over;         /* dead nodes' subscriptions taken */
	size_t ctrans;               /* live client transactions */
	struct {
		const char *transport;  /* static: "tcp", "tls", "ws"... */
		size_t n;
	} conns_by[HR_CTL_TPS_MAX];  /* open connections, by transport */
	unsigned nconns_by;
	struct {
		const char *reason;  /* static: "wrong_password"... */
		uint64_t n;
	} auth_fails[HR_CTL_AUTH_FAILS_MAX];  /* credentials refused */
	unsigned nauth_fails;
	struct {
		unsigned scode;
		const char *reason;  /* static: a cause, "store"... */
		uint64_t n;
	} server_errors[HR_CTL_5XX_MAX];      /* every 5xx, by cause: each
					       * cause with its usual status
					       * first, 0 too */
	unsigned nserver_errors;
};

/** The counters, read in one call on the core thread: 0 or ECANCELED. */
int hr_ctl_stats(struct hr_control *ctl, struct hr_ctl_stats *st);

/* ---- the audit log: every admin change, who made it (the bearer
 * token's name), what, when and its answer; written and read on the
 * client's own reader, never by the core ---- */

/** One record; strings live during the call (a read's callback). */
struct hr_ctl_audit {
	int64_t id;                  /* reads: its id */
	int64_t at_us;               /* wall microseconds since the epoch */
	const char *token;           /* the bearer token's name */
	const char *method;
	const char *path;
	const char *query;           /* JSON text, or NULL */
	const char *body;            /* JSON text, secrets redacted, or
				      * NULL */
	unsigned status;             /* the answer's */
	const char *detail;          /* or NULL */
};

typedef int (hr_ctl_audit_h)(const struct hr_ctl_audit *a, void *arg);

/** Which records a page lists, newest first: NULL or 0 matches any. */
struct hr_ctl_audit_filter {
	const char *token;
	int64_t since_us;            /* at or after */
	const char *path;            /* a prefix of the path */
	int64_t before;              /* ids below it (the cursor) */
	unsigned limit;
};

/** Append a record: 0, or an errno (PostgreSQL did not take it). */
int hr_ctl_audit_add(struct hr_ctl_reader *rd, const struct hr_ctl_audit *a);
/** A page of records, newest first. */
int hr_ctl_audit_page(struct hr_ctl_reader *rd,
	const struct hr_ctl_audit_filter *f, hr_ctl_audit_h *h, void *arg);
/* ---- the server's status ---- */

#define HR_CTL_LISTENERS_MAX 32

/* A SIP listening socket. */
struct hr_ctl_listener {
	const char *transport;       /* static: "udp", "tcp", "tls", "ws",
				      * "wss" */
	char addr[HR_SA_STRLEN];     /* "127.0.0.1:5060", "[::1]:5060" */
	char advertise[272];         /* its advertise= host:port, or "" */
};

/* What the core runs with now. */
struct hr_ctl_status {
	struct hr_ctl_listener listeners[HR_CTL_LISTENERS_MAX];
	unsigned nlisteners;
	bool store_connected;        /* the store's writer connection */
	size_t queue_depth;          /* changes queued for PostgreSQL */
	uint64_t store_outages;      /* times its connection was lost */
};

/** The core's status, read in one call on the core thread: 0 or
 * ECANCELED. */
int hr_ctl_status(struct hr_control *ctl, struct hr_ctl_status *st);

/* ---- the cluster (issue 21) ---- */

/* A node as the database has it. */
struct hr_ctl_node {
	const char *id;
	const char *advertise;       /* or NULL */
	int64_t epoch;               /* how many times it joined */
	int64_t lease_until;         /* wall seconds */
	int64_t mark;                /* the last change it read */
	bool live;                   /* its lease runs */
};

typedef int (hr_ctl_node_h)(const struct hr_ctl_node *n, void *arg);

/** This node's id, or NULL for a single node. */
const char *hr_ctl_node_id(const struct hr_control *ctl);
/** Every node of the cluster, by id (none for a single node). */
int hr_ctl_nodes(struct hr_ctl_reader *rd, hr_ctl_node_h *h, void *arg);

#endif
