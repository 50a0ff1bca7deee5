/*
 * The message-summary package (RFC 3842): voicemail lamps. A voicemail
 * system PUBLISHes application/simple-message-summary for an account
 * (RFC 3903, publish.c); the account's publications are summed into one
 * summary and told to the account's own phones that SUBSCRIBE to it.
 */
#ifndef HR_PKG_MWI_H
#define HR_PKG_MWI_H

#include "events/events.h"
#include "summary.h"

struct hr_mwipkg_cfg {
	struct hr_realm *realm;        /* served domains, digest, users */
	unsigned pub_expires_default;  /* 3600 */
	unsigned pub_expires_min;      /* 10: less gets 423 */
	unsigned pub_expires_max;      /* 86400 */
	unsigned sub_expires_default;  /* 3600 */
	unsigned sub_expires_min;      /* 60 */
	unsigned sub_expires_max;      /* 86400 */
	unsigned max_pubs;             /* publications of one account (32) */
};

/** Fill cfg with the defaults. */
void hr_mwipkg_cfg_default(struct hr_mwipkg_cfg *cfg);

struct hr_mwipkg;   /* refcounted */

/** Create the package: PUBLISH of Event: message-summary goes to it, and
 * the notifier serves SUBSCRIBE to it (before hr_events_load). */
int hr_mwipkg_alloc(struct hr_mwipkg **mp, struct hr_sip *sip,
	struct hr_store *store, struct hr_events *ev,
	const struct hr_mwipkg_cfg *cfg);
/** Load the stored publications (before hr_events_load). */
int hr_mwipkg_load(struct hr_mwipkg *m);
/** Shutting down: no new publications (503). */
void hr_mwipkg_close(struct hr_mwipkg *m);
/** The account's summary (the sum of its publications). */
void hr_mwipkg_summary(const struct hr_mwipkg *m, const char *account,
	struct hr_mwi *out);
/** Live publications (metrics, tests). */
size_t hr_mwipkg_count(const struct hr_mwipkg *m);
struct hr_publish;
/** Its publications (publish.h: to watch them). */
struct hr_publish *hr_mwipkg_publish(struct hr_mwipkg *m);

typedef void (hr_mwipkg_done_h)(int err, void *arg);

/**
 * Set account's mailbox as a voicemail system speaking HTTP says it:
 * replaces what the admin said before for it (publications made by
 * PUBLISH stay; the account's summary is the sum), and lasts until the
 * next change. Stored, then its phones told, then done on the core
 * thread. 0 when under way, else EINVAL (an account it cannot print) or
 * ENOMEM, EBUSY (the last change is being stored), ECANCELED.
 */
int hr_mwipkg_put(struct hr_mwipkg *m, const char *account,
	const struct hr_mwi *s, hr_mwipkg_done_h *done, void *arg);

#endif
