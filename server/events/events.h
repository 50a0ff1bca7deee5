/*
 * Herald events: SIP-specific event notification (RFC 6665). SUBSCRIBE in
 * and out of dialogs, the subscription state machine, expiry, NOTIFY
 * through client transactions, durability of subscriptions with their
 * dialogs, and the interface an event package implements. Knows sip,
 * auth and the store API; never what a package's body means.
 *
 * A package (packages/) is a table of functions registered with
 * hr_events_package(). It decides who may subscribe (authorize), writes
 * the NOTIFY body (body), and tells the notifier when a resource's state
 * changed (hr_sub_changed for each of its subscriptions).
 */
#ifndef HR_EVENTS_H
#define HR_EVENTS_H

#include "sip/sip.h"
#include "auth/auth.h"
#include "store/store.h"

/* enum hr_sub_state (RFC 6665 4.1.3) is the store's (store/store.h) */

/* RFC 6665 4.2.2 reasons, for terminated */
enum hr_sub_reason {
	HR_REASON_NONE = 0,
	HR_REASON_DEACTIVATED,
	HR_REASON_PROBATION,
	HR_REASON_REJECTED,
	HR_REASON_TIMEOUT,
	HR_REASON_GIVEUP,
	HR_REASON_NORESOURCE,
	HR_REASON_INVARIANT,
};

/** "deactivated", ..., NULL for NONE. */
const char *hr_sub_reason_name(enum hr_sub_reason r);
/** Reason of a name: 0 or EINVAL. */
int hr_sub_reason_decode(const char *name, enum hr_sub_reason *r);

/** A package's answer to a new subscription. */
enum hr_authz {
	HR_AUTHZ_ACTIVE,      /* allowed: active */
	HR_AUTHZ_PENDING,     /* waiting for a decision: pending */
	HR_AUTHZ_REJECT,      /* 403 */
	HR_AUTHZ_NOTFOUND,    /* 404: no such resource */
};

struct hr_sub;      /* one subscription; owned by the notifier */
struct hr_events;   /* the notifier; refcounted */

/** What a package sees of a subscription (strings live with it). */
struct hr_sub_info {
	const char *id;           /* stable, unguessable */
	const char *package;
	const char *event_id;     /* "" when none */
	const char *resource;     /* "alice@example.test" */
	const char *watcher;      /* "sip:bob@example.test": the
				   * authenticated user in From's scheme,
				   * else From's scheme:user@host */
	const char *watcher_user; /* "bob@example.test" authenticated, or
				   * "" without authentication */
	const char *accept;       /* the body type agreed */
	enum hr_sub_state state;
	enum hr_sub_reason reason;
	int64_t expires_at;       /* wall seconds */
	uint64_t version;         /* the next NOTIFY's body version */
	uint32_t notifies;        /* NOTIFYs sent since loaded or created */
	bool moved;               /* gone to another node of a cluster, not
				   * ended (its watcher is still one) */
};

/** The state the NOTIFY is about to carry. */
enum hr_body_kind {
	HR_BODY_FULL,             /* the whole state */
	HR_BODY_PARTIAL,          /* what changed since the last NOTIFY */
};

struct hr_pkg {
	const char *name;               /* "reg" */
	const char *const *types;       /* body types; types[0] is the
					 * default when Accept is absent */
	unsigned ntypes;
	unsigned expires_default;       /* RFC 6665 7.2: per package */
	unsigned expires_min;           /* less gets 423 */
	unsigned expires_max;           /* more is clamped */
	/* May the subscription be made? (watcher_user is set, or "" when
	 * SUBSCRIBE is not authenticated.) */
	enum hr_authz (*authorize)(const struct hr_sub_info *si, void *arg);
	/*
	 * Write the body of the NOTIFY about to go out with version
	 * si->version: the full state, or only what changed since the last
	 * body (a package that has no partial form writes full state).
	 * Pending and terminated subscriptions are not asked (RFC 6665
	 * 4.2.2: no state is leaked to a pending watcher); a final NOTIFY
	 * after unsubscribe or expiry is asked for the full state. 0 or an
	 * error (the NOTIFY then goes out without a body).
	 */
	int (*body)(struct hr_sub *sub, const struct hr_sub_info *si,
		enum hr_body_kind kind, struct hr_buf *buf, void *arg);
	/* A subscription was made (its 200 is going out), or loaded at
	 * start. May be NULL. */
	void (*linked)(struct hr_sub *sub, void *arg);
	/* The subscription is going away (info.reason says why: NONE when
	 * its NOTIFY failed, it was replaced, or the server stops): free what
	 * the package keeps for it (hr_sub_set_data). May be NULL. */
	void (*gone)(struct hr_sub *sub, void *arg);
	void *arg;
};

struct hr_events_cfg {
	struct hr_realm *realm;       /* served domains, digest, users */
	unsigned max_per_watcher;     /* subscriptions of one watcher (its
				       * identity, hr_sub_identity): 200 */
	unsigned max_per_monitor;     /* ...of a monitor's: 100000 */
	/* a monitor (hr_realm_is_monitor) may also send a From of any user
	 * of its domain; others get 403 for a From not their own */
	unsigned max_per_resource;    /* subscriptions to one resource: 10000 */
	unsigned throttle_ms;         /* at least this between two NOTIFYs
				       * of one subscription (0) */
	bool notify_to_source;        /* send NOTIFYs to where the SUBSCRIBE
				       * came from (watchers behind NAT) */
	unsigned udp_max;             /* a NOTIFY larger than this goes
				       * over TCP, not UDP (RFC 3261
				       * 18.1.1): HR_EVENTS_UDP_MAX */
	unsigned reserve;             /* CSeqs and versions reserved in the
				       * store at a time (100) */
};

/* The most one UDP datagram carries over IPv4 (65,535 less the IP and
 * UDP headers) */
#define HR_EVENTS_UDP_MAX 65507
/* A watcher that can take a NOTIFY by neither UDP (too large) nor TCP is
 * told to come back this much later (terminated;reason=probation) */
#define HR_EVENTS_PROBATION_S 600

/** Fill cfg with the defaults. */
void hr_events_cfg_default(struct hr_events_cfg *cfg);

/** Create the notifier and route SUBSCRIBE to it. The store's
 * completions refer to it: free the store (which delivers what is in
 * flight) before the notifier. */
int hr_events_alloc(struct hr_events **evp, struct hr_sip *sip,
	struct hr_store *store, const struct hr_events_cfg *cfg);
/** Add a package (before hr_events_load); it joins Allow-Events. The
 * table must outlive the notifier. */
int hr_events_package(struct hr_events *ev, const struct hr_pkg *pkg);
/** Load stored subscriptions (before serving): expiry timers resume,
 * CSeqs and versions go on past the reserved marks, the next NOTIFY of
 * each carries full state. Expired ones are removed. */
int hr_events_load(struct hr_events *ev);
/**
 * A subscription of a dead node of the cluster, now this node's (its row
 * as claimed): made live as at a start (its NOTIFY CSeq and version go
 * on past those reserved), with this node's Contact, stored so, and its
 * whole state NOTIFYed at once. 0 or an error (an expired one is removed).
 */
int hr_events_adopt(struct hr_events *ev, const struct hr_store_sub *row);
/** A claim made at an in-dialog SUBSCRIBE for subscription id, which
 * another node owned (hr_store_sub_claim): its row now ours (NULL: none
 * to take), adopted without a NOTIFY of its own; the SUBSCRIBEs that
 * waited for it are then handled (481 when still none). */
void hr_events_claimed(struct hr_events *ev, const char *id,
	const struct hr_store_sub *row);
/** Another node took subscription id of ours (a request of it reached
 * that node): dropped here without a NOTIFY. */
void hr_events_lost(struct hr_events *ev, const char *id);
/** Back after its lease ran out (a cluster): the subscriptions not among
 * ids (sorted by strcmp) were taken over by other nodes: dropped here
 * without a NOTIFY (the new owner sends the whole state). */
void hr_events_keep(struct hr_events *ev, const char *const *ids, size_t n);
/** Shutting down: no new changes (503), no timers, no NOTIFYs. */
void hr_events_close(struct hr_events *ev);

/** Call h for each subscription of package to resource, or to any
 * resource when it is NULL (h may end the subscription it is given;
 * non-zero stops). */
int hr_events_foreach(struct hr_events *ev, const char *package,
	const char *resource, int (*h)(struct hr_sub *sub, void *arg),
	void *arg);
/**
 * What decides who may subscribe changed (a rule, a role, users while
 * the server was down): ask the package again for each subscription of
 * package to resource by watcher who (each NULL: any). One it now
 * rejects ends with terminated;reason=rejected, one whose resource is
 * gone with noresource; a pending verdict leaves an active one be.
 */
void hr_events_reauthorize(struct hr_events *ev, const char *package,
	const char *resource, const char *who);
/** user ("alice@example.test") was deleted: subscriptions to it end with
 * terminated;reason=noresource, its own (as the watcher) with rejected. */
void hr_events_user_gone(struct hr_events *ev, const char *user);
/** True when package has subscriptions to resource. */
bool hr_events_has(struct hr_events *ev, const char *package,
	const char *resource);
/** The subscription with this id, or NULL. */
struct hr_sub *hr_events_find(struct hr_events *ev, const char *id);
/** How a subscription changed, for those who watch the notifier. */
enum hr_sub_change {
	HR_SUB_CREATED,           /* made (its 200 is going out) */
	HR_SUB_UPDATED,           /* refreshed, or pending become active */
	HR_SUB_ENDED,             /* terminated (info.reason says why; NONE:
				   * its NOTIFY failed, or a new dialog of
				   * the watcher replaced it) */
};

/** sub changed as ch says (core thread; si lives during the call). Not
 * called for subscriptions loaded at start nor while shutting down. */
typedef void (hr_sub_watch_h)(const struct hr_sub_info *si,
	enum hr_sub_change ch, void *arg);

#define HR_EVENTS_WATCHERS 2

/** Watch subscriptions' changes (the control's journal): 0, or ENOSPC
 * beyond HR_EVENTS_WATCHERS. */
int hr_events_watch(struct hr_events *ev, hr_sub_watch_h *h, void *arg);
/** Stop watching (h and arg as given to hr_events_watch). */
void hr_events_unwatch(struct hr_events *ev, hr_sub_watch_h *h, void *arg);

/** Counters (metrics). */
struct hr_events_stats {
	uint64_t notifies;        /* NOTIFYs sent */
	uint64_t failed;          /* NOTIFYs that failed (error, Timer F) */
};

void hr_events_stats(const struct hr_events *ev, struct hr_events_stats *st);
/** Live subscriptions of each package by state (metrics), in one pass:
 * out[0 .. the return value - 1], in the order packages were added. */
#define HR_EVENTS_MAX_PKGS 8
struct hr_events_count {
	const char *package;
	size_t active;
	size_t pending;
};
unsigned hr_events_counts(const struct hr_events *ev,
	struct hr_events_count out[HR_EVENTS_MAX_PKGS]);
/** Number of live subscriptions (metrics, tests). */
size_t hr_events_count(const struct hr_events *ev);

/** The watcher's identity: its authenticated user ("bob@example.test"),
 * or without authentication its From URI's user@host. */
const char *hr_sub_identity(const struct hr_sub_info *si, char *out,
	size_t n);

/** What a package sees of sub. */
const struct hr_sub_info *hr_sub_info(const struct hr_sub *sub);
/** The package's own data for sub (NULL at first). */
void *hr_sub_data(const struct hr_sub *sub);
void hr_sub_set_data(struct hr_sub *sub, void *data);

/**
 * The resource changed for sub: a NOTIFY follows, at once when none is
 * in flight and the throttle allows, else merged into the next one.
 */
void hr_sub_changed(struct hr_sub *sub);
/** The same, and the next NOTIFY carries the whole state (the package
 * could not keep track of what changed). */
void hr_sub_changed_full(struct hr_sub *sub);
/** Move a pending subscription to active (NOTIFY with full state). */
int hr_sub_activate(struct hr_sub *sub);
/**
 * End sub with a final NOTIFY terminated;reason=reason (retry_after
 * seconds, 0 for none: RFC 6665 4.1.3 for probation and giveup). The
 * subscription is gone from memory and the store when this returns.
 */
void hr_sub_terminate(struct hr_sub *sub, enum hr_sub_reason reason,
	uint32_t retry_after);

/* ---- a package's rules: an action per resource and watcher ---- */

struct hr_rules;   /* refcounted */

/** A rule is in force (action 0: removed); the package applies it to
 * the subscriptions it concerns. */
typedef void (hr_rules_applied_h)(const char *resource, const char *watcher,
	int action, void *arg);
/** A change is done: 0 once stored and in force, else why not. */
typedef void (hr_rules_done_h)(int err, void *arg);

/**
 * An empty table of package's rules, kept in store (may be NULL: memory
 * only). Action a (1 .. nnames - 1) is stored as names[a]; names and
 * package must outlive the table. applied (may be NULL) runs after each
 * stored change.
 */
int hr_rules_alloc(struct hr_rules **rsp, struct hr_store *store,
	const char *package, const char *const *names, unsigned nnames,
	hr_rules_applied_h *applied, void *arg);
/** Load the package's stored rules (at start, before subscriptions). */
int hr_rules_load(struct hr_rules *rs);
/**
 * Store resource's action for watcher (0 removes the rule), then put it
 * in force and tell applied, then done (both on the core thread). 0 when
 * the change is under way (done follows), else EINVAL or ENOMEM.
 */
int hr_rules_change(struct hr_rules *rs, const char *resource,
	const char *watcher, int action, hr_rules_done_h *done, void *arg);
/** Set resource's action for watcher (a user "bob@example.test" or a
 * domain "example.test") in memory only; action 0 removes the rule. 0 or
 * ENOMEM. */
int hr_rules_set(struct hr_rules *rs, const char *resource,
	const char *watcher, int action);
/** Another node changed package's rule (a cluster): action is its stored
 * name, NULL when removed. Put in force and told to applied, as a
 * change of this node's: 0; ENOENT when package is not rs's; EINVAL for
 * an action it does not know. */
int hr_rules_sync(struct hr_rules *rs, const char *package,
	const char *resource, const char *watcher, const char *action);
/** The action for who (a user): its own rule, else its domain's; 0. */
int hr_rules_get(const struct hr_rules *rs, const char *resource,
	const char *who);

#endif
