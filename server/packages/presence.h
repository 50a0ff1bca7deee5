/*
 * Presence (RFC 3856) with publication (RFC 3903) and watcher info
 * (RFC 3857/3858): PUBLISH of PIDF documents, the composed document of a
 * presentity, the presence package with authorization rules (RFC 5025's
 * actions), and the presence.winfo package.
 */
#ifndef HR_PKG_PRESENCE_H
#define HR_PKG_PRESENCE_H

#include "events/events.h"
#include "registrar/registrar.h"

/** What a rule does with a watcher (RFC 5025 3.2.1 sub-handling). */
enum hr_pres_action {
	HR_PRES_NONE = 0,       /* no rule */
	HR_PRES_BLOCK,          /* 403; an active watcher: rejected */
	HR_PRES_CONFIRM,        /* pending until a rule decides */
	HR_PRES_POLITE_BLOCK,   /* active, with a neutral document */
	HR_PRES_ALLOW,
};

/** The action of a name: 0 or EINVAL. */
int hr_pres_action_decode(const char *name, enum hr_pres_action *a);

struct hr_presence_cfg {
	struct hr_realm *realm;        /* served domains, digest, users */
	unsigned pub_expires_default;  /* 3600 */
	unsigned pub_expires_min;      /* 60: less gets 423 */
	unsigned pub_expires_max;      /* 86400 */
	unsigned sub_expires_default;  /* 3600 */
	unsigned sub_expires_min;      /* 60 */
	unsigned sub_expires_max;      /* 86400 */
	enum hr_pres_action local;     /* watchers of the presentity's domain
					* without a rule: ALLOW */
	enum hr_pres_action remote;    /* others without a rule: CONFIRM */
	bool from_registrar;           /* no publication: an open tuple per
					* binding */
	unsigned interval_ms;          /* rounds of NOTIFYs of a presentity
					* start at most this often (10) */
	size_t max_body;               /* PUBLISH body, bytes (65536) */
	unsigned max_pubs;             /* publications of one presentity:
					* more get 403 (32) */
	size_t max_doc;                /* a composed document, bytes: a
					* PUBLISH that would make a larger
					* one gets 413 (61440: with its
					* headers, a NOTIFY fits in UDP) */
};

/* 60 KB: with its headers (a few hundred bytes; more with a long route
 * set) a NOTIFY carrying it fits in one UDP datagram (65,507 bytes) */
#define HR_PRES_DOC_DEFAULT (60 * 1024)

/** Fill cfg with the defaults. */
void hr_presence_cfg_default(struct hr_presence_cfg *cfg);

struct hr_presence;   /* refcounted */

/** Create presence, route PUBLISH to it and add the presence and
 * presence.winfo packages to the notifier (before hr_events_load). */
int hr_presence_alloc(struct hr_presence **pp, struct hr_sip *sip,
	struct hr_store *store, struct hr_events *ev, struct hr_registrar *r,
	const struct hr_presence_cfg *cfg);
/** Load stored publications and rules (before hr_events_load): expiry
 * timers resume, expired publications are removed. */
int hr_presence_load(struct hr_presence *p);
/** Shutting down: no new publications (503), no timers. */
void hr_presence_close(struct hr_presence *p);

typedef void (hr_presence_done_h)(int err, void *arg);

/**
 * Set (or, with HR_PRES_NONE, remove) presentity's rule for watcher (a
 * user "bob@example.test" or a domain "example.test"). Stored first; then
 * the watcher's subscriptions follow at once: pending ones become active
 * (NOTIFY with the document) or end (terminated;reason=rejected), active
 * ones end when blocked or see the neutral document when politely
 * blocked. done (may be NULL) runs when that is done.
 */
int hr_presence_rule(struct hr_presence *p, const char *presentity,
	const char *watcher, enum hr_pres_action action,
	hr_presence_done_h *done, void *arg);
/** The rule in force for watcher (exact, else its domain's): NONE. */
enum hr_pres_action hr_presence_rule_get(const struct hr_presence *p,
	const char *presentity, const char *watcher);
/** What applies to the watcher of si (its rule, else the default of its
 * domain or of others; a presentity always sees itself). */
enum hr_pres_action hr_presence_decide(const struct hr_presence *p,
	const struct hr_sub_info *si);
/** May the watcher of si watch its resource: the presence package's
 * answer (404 for no such user, the action as the subscription state),
 * for packages authorized alike (dialog). */
enum hr_authz hr_presence_authorize(const struct hr_presence *p,
	const struct hr_sub_info *si);
/** h (NULL: none) runs after a rule of presentity was applied to its
 * presence watchers: another package's watchers follow it then. */
void hr_presence_rule_hook(struct hr_presence *p,
	void (*h)(const char *presentity, void *arg), void *arg);
/** The presentity's composed document (what a NOTIFY carries). */
int hr_presence_document(struct hr_presence *p, const char *presentity,
	struct hr_buf *buf);
/** Live publications (metrics, tests). */
size_t hr_presence_count(const struct hr_presence *p);
struct hr_publish;
/** Its publications (publish.h: to watch them). */
struct hr_publish *hr_presence_publish(struct hr_presence *p);
/** Its rules (another node's changes, hr_rules_sync). */
struct hr_rules *hr_presence_rules(struct hr_presence *p);
struct hr_store_sub;
/** Another node's presence subscription id (a cluster: the change log)
 * was made, changed state or ended (row NULL): the watcher lists
 * (presence.winfo) of its presentity tell of it. */
void hr_presence_watcher(struct hr_presence *p, const char *id,
	const struct hr_store_sub *row);

#endif
