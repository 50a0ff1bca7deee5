/*
 * Herald registrar: REGISTER (RFC 3261 10.3) with digest authentication,
 * bindings kept in memory and in the store, expiry timers, and a change
 * callback for each binding event of RFC 3680 (the reg package's source).
 */
#ifndef HR_REGISTRAR_H
#define HR_REGISTRAR_H

#include "sip/sip.h"
#include "auth/auth.h"
#include "store/store.h"

/** RFC 3680 5.2 contact events. */
enum hr_reg_event {
	HR_REG_REGISTERED,
	HR_REG_CREATED,
	HR_REG_REFRESHED,
	HR_REG_SHORTENED,
	HR_REG_EXPIRED,
	HR_REG_DEACTIVATED,
	HR_REG_UNREGISTERED,
};

/** "registered", "created", ... */
const char *hr_reg_event_name(enum hr_reg_event ev);

/** A binding as others may read it (strings owned by the registrar). */
struct hr_binding {
	const char *aor;
	const char *key;
	const char *id;           /* stable contact id */
	const char *uri;
	const char *params;       /* other contact parameters, "" when none */
	const char *dname;        /* "" when none */
	const char *callid;
	const char *instance;     /* "" when none */
	const char *path;         /* "" when none */
	const char *user_agent;   /* "" when none */
	const char *received;     /* "udp:192.0.2.1:5060" */
	int64_t expires_at;       /* wall seconds */
	int64_t registered_at;
	uint32_t cseq;
	int q;                    /* x 1000, -1 when absent */
	int reg_id;               /* -1 when absent */
};

struct hr_registrar_cfg {
	struct hr_realm *realm;       /* served domains, digest, users */
	unsigned expires_default;     /* 3600 */
	unsigned expires_min;         /* 60: less gets 423 */
	unsigned expires_max;         /* 86400: more is clamped */
	unsigned max_contacts;        /* per AOR: 10; more gets 403 */
	unsigned flow_timer;          /* RFC 5626 Flow-Timer for outbound
				       * flows over a connection: 120 s;
				       * 0: none */
};

/** Fill cfg with the defaults. */
void hr_registrar_cfg_default(struct hr_registrar_cfg *cfg);

struct hr_registrar;

/**
 * A binding changed: ev says how; b is its state after the change (for
 * EXPIRED, UNREGISTERED and DEACTIVATED, its last state). Core thread.
 */
typedef void (hr_binding_h)(const struct hr_binding *b, enum hr_reg_event ev,
	void *arg);

/** Create the registrar and route REGISTER to it. */
int hr_registrar_alloc(struct hr_registrar **rp, struct hr_sip *sip,
	struct hr_store *store, const struct hr_registrar_cfg *cfg);
/** Load the stored bindings: timers resume with their remaining time,
 * expired ones are removed. Before serving. */
int hr_registrar_load(struct hr_registrar *r);
/** Shutting down: no new changes (503) and no expiry timers, so that the
 * commits in flight can be drained before the registrar goes. */
void hr_registrar_close(struct hr_registrar *r);
#define HR_REGISTRAR_WATCHERS 6

/** Watch binding changes (the reg package, presence from the registrar,
 * the control's journal):
 * 0, or ENOSPC beyond HR_REGISTRAR_WATCHERS. */
int hr_registrar_watch(struct hr_registrar *r, hr_binding_h *h, void *arg);
/** Stop watching (h and arg as given to hr_registrar_watch). */
void hr_registrar_unwatch(struct hr_registrar *r, hr_binding_h *h, void *arg);
/** Call h for each live binding of aor (h's return stops at non-zero). */
int hr_registrar_bindings(struct hr_registrar *r, const char *aor,
	int (*h)(const struct hr_binding *b, void *arg), void *arg);
typedef void (hr_registrar_done_h)(int err, void *arg);

/**
 * Remove the binding with contact id id of aor (the admin API): stored,
 * then announced as DEACTIVATED; done runs on the core thread then.
 * ENOENT: no such live binding; EBUSY: a change of the AOR is being
 * stored (try again).
 */
int hr_registrar_deactivate(struct hr_registrar *r, const char *aor,
	const char *id, hr_registrar_done_h *done, void *arg);
/**
 * Another node of a cluster changed aor's binding key: sb is its row
 * now, NULL when it is gone. Applied as that node applied it, watchers
 * told (RFC 3680 events): 0; EBUSY while a change of aor is being
 * stored here (the row may be older than it: read it again).
 */
int hr_registrar_sync(struct hr_registrar *r, const char *aor,
	const char *key, const struct hr_store_binding *sb);
/** Number of live bindings (metrics, tests). */
size_t hr_registrar_count(const struct hr_registrar *r);

#endif
