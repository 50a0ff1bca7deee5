/*
 * The dialog package (RFC 4235): busy lamps. The proxy or PBX that sees
 * the calls PUBLISHes application/dialog-info+xml for a line (RFC 3903,
 * publish.c); every publication of the line is merged into one document,
 * each dialog once in its newest state, and told to the line's watchers.
 * Who may watch is presence's decision (its rules and defaults).
 */
#ifndef HR_PKG_DIALOG_H
#define HR_PKG_DIALOG_H

#include "events/events.h"
#include "registrar/registrar.h"
#include "presence.h"

/** Who sees whom on the lamp: a rule per line and watcher (a user, or a
 * whole domain). */
enum hr_dlg_privacy {
	HR_DLG_PRIV_NONE = 0,      /* no rule: the default */
	HR_DLG_PRIV_IDENTITY,      /* the watcher sees who the other party is */
	HR_DLG_PRIV_STATE,         /* only the states */
};

/** "identity" or "state": 0 or EINVAL. */
int hr_dlg_privacy_decode(const char *name, enum hr_dlg_privacy *p);

struct hr_dlgpkg_cfg {
	struct hr_realm *realm;        /* served domains, digest, users */
	enum hr_dlg_privacy privacy;   /* watchers without a rule:
					* IDENTITY */
	unsigned pub_expires_default;  /* 3600 */
	unsigned pub_expires_min;      /* 10: less gets 423 */
	unsigned pub_expires_max;      /* 86400 */
	unsigned sub_expires_default;  /* 3600 */
	unsigned sub_expires_min;      /* 60 */
	unsigned sub_expires_max;      /* 86400 */
	unsigned interval_ms;          /* a line's watchers are told at most
					* this often (10) */
	size_t max_body;               /* PUBLISH body, bytes (65536) */
	unsigned max_pubs;             /* publications of one line (32) */
	size_t max_doc;                /* a composed document, bytes */
	bool partial;                  /* after the first (full) NOTIFY, a
					* watcher gets only what changed
					* (RFC 4235 state="partial") */
	struct hr_registrar *unregistered;  /* set: a line without dialogs
					* and without a live binding in it
					* is shown unavailable, not idle */
};

/** Fill cfg with the defaults. */
void hr_dlgpkg_cfg_default(struct hr_dlgpkg_cfg *cfg);

struct hr_dlgpkg;   /* refcounted */

/** Create the dialog package: PUBLISH of Event: dialog goes to it, and
 * the notifier serves SUBSCRIBE to it (before hr_events_load). Watchers
 * are authorized by pres. */
int hr_dlgpkg_alloc(struct hr_dlgpkg **dp, struct hr_sip *sip,
	struct hr_store *store, struct hr_events *ev, struct hr_presence *pres,
	const struct hr_dlgpkg_cfg *cfg);
/** Load the stored publications (before hr_events_load). */
int hr_dlgpkg_load(struct hr_dlgpkg *d);
/** Shutting down: no new publications (503), no timers. */
void hr_dlgpkg_close(struct hr_dlgpkg *d);
/** The line's composed document as a watcher that sees identities would
 * get it (version 0). */
int hr_dlgpkg_document(struct hr_dlgpkg *d, const char *line,
	struct hr_buf *buf);
/** Live publications (metrics, tests). */
size_t hr_dlgpkg_count(const struct hr_dlgpkg *d);
struct hr_publish;
/** Its publications (publish.h: to watch them). */
struct hr_publish *hr_dlgpkg_publish(struct hr_dlgpkg *d);
/** Its rules (another node's changes, hr_rules_sync); NULL when none. */
struct hr_rules *hr_dlgpkg_rules(struct hr_dlgpkg *d);

typedef void (hr_dlgpkg_done_h)(int err, void *arg);

/**
 * Set (HR_DLG_PRIV_NONE: remove) line's privacy rule for watcher (a user
 * "bob@example.test" or a domain "example.test"): stored (the rules
 * table, package "dialog", actions "identity" and "state"), then in force
 * for the line's watchers (those it changes for get a NOTIFY), then done
 * (may be NULL) on the core thread. 0 when under way, else EINVAL or
 * ENOMEM.
 */
int hr_dlgpkg_privacy(struct hr_dlgpkg *d, const char *line,
	const char *watcher, enum hr_dlg_privacy p, hr_dlgpkg_done_h *done,
	void *arg);
/** The privacy that applies to watcher (a user) on line: its rule, its
 * domain's, else the default; a line's own user sees identities. */
enum hr_dlg_privacy hr_dlgpkg_privacy_get(const struct hr_dlgpkg *d,
	const char *line, const char *watcher);

#endif
