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
	hr_user_exists_h *existsh;    /* does the AOR's user exist? */
	void *users;
};

/** Fill cfg with the defaults. */
void hr_regpkg_cfg_default(struct hr_regpkg_cfg *cfg);

struct hr_regpkg;   /* refcounted */

/** Create the package, add it to the notifier and watch the registrar
 * (before hr_events_load). */
int hr_regpkg_alloc(struct hr_regpkg **pp, struct hr_events *ev,
	struct hr_registrar *r, const struct hr_regpkg_cfg *cfg);

/** Who, besides the AOR's own user, may watch it. */
enum hr_reg_rule {
	HR_REG_RULE_NONE,             /* no rule: refused */
	HR_REG_RULE_ALLOW,
	HR_REG_RULE_BLOCK,
};

/**
 * Set the rule for watcher ("bob@example.test", or a domain
 * "example.test" for all its users) on aor ("alice@example.test").
 * Taking a permission away ends the watcher's subscriptions to aor with
 * terminated;reason=rejected. Kept in memory (the admin API of a later
 * issue stores them).
 */
int hr_regpkg_rule(struct hr_regpkg *p, const char *aor, const char *watcher,
	enum hr_reg_rule rule);

/** The whole state of aor, as the first NOTIFY of a subscription would
 * carry it (version 0): the admin API's reginfo. */
int hr_regpkg_document(struct hr_regpkg *p, const char *aor,
	struct hr_buf *buf);

#endif
