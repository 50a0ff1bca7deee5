/*
 * The reg event package (RFC 3680): application/reginfo+xml about an
 * address-of-record's bindings, derived live from the registrar.
 */
#ifndef HR_PKG_REG_H
#define HR_PKG_REG_H

#include "events/events.h"
#include "registrar/registrar.h"

struct hr_regpkg_cfg {
	unsigned expires_default;     /* 3600 */
	unsigned expires_min;         /* 60 */
	unsigned expires_max;         /* 86400 */
	struct hr_realm *realm;       /* does the AOR's user exist? is the
				       * watcher a monitor? (may watch
				       * every AOR of its domain) */
};

/** Fill cfg with the defaults. */
void hr_regpkg_cfg_default(struct hr_regpkg_cfg *cfg);

struct hr_regpkg;   /* refcounted */

/** Create the package, add it to the notifier and watch the registrar;
 * its rules are kept in store. */
int hr_regpkg_alloc(struct hr_regpkg **pp, struct hr_events *ev,
	struct hr_registrar *r, struct hr_store *store,
	const struct hr_regpkg_cfg *cfg);
/** Load the stored rules (before hr_events_load). */
int hr_regpkg_load(struct hr_regpkg *p);
/** Its rules (another node's changes, hr_rules_sync). */
struct hr_rules *hr_regpkg_rules(struct hr_regpkg *p);

/**
 * Who may watch an AOR: its own user always; else the AOR's rule for the
 * watcher, or for the watcher's domain (allow, block); else a monitor of
 * the AOR's domain. Everyone else gets 403.
 */
enum hr_reg_rule {
	HR_REG_RULE_NONE,             /* no rule */
	HR_REG_RULE_ALLOW,
	HR_REG_RULE_BLOCK,
};

/** The rule of a name ("allow", "block"): 0 or EINVAL. */
int hr_reg_rule_decode(const char *name, enum hr_reg_rule *rule);

/** A change is done (0) or failed. */
typedef void (hr_regpkg_done_h)(int err, void *arg);

/**
 * Set (NONE: remove) aor's ("alice@example.test") rule for watcher
 * ("bob@example.test", or a domain "example.test" for all its users):
 * stored, then in force, then done. Subscriptions it no longer allows
 * end with terminated;reason=rejected. 0 when under way, else EINVAL or
 * ENOMEM (done is not called).
 */
int hr_regpkg_rule(struct hr_regpkg *p, const char *aor, const char *watcher,
	enum hr_reg_rule rule, hr_regpkg_done_h *done, void *arg);

/** The whole state of aor, as the first NOTIFY of a subscription would
 * carry it (version 0): the admin API's reginfo. */
int hr_regpkg_document(struct hr_regpkg *p, const char *aor,
	struct hr_buf *buf);

#endif
