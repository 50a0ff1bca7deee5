/*
 * Herald's redirect server (RFC 3261 8.3, 21.3): a request for an
 * address-of-record of a served domain, of a method Herald does not
 * serve itself, is answered with where the user can be reached, read
 * from the registrar's memory, and is forwarded nowhere.
 */
#ifndef HR_REDIRECT_H
#define HR_REDIRECT_H

#include "auth/auth.h"
#include "registrar/registrar.h"
#include "sip/sip.h"

struct hr_redirect_cfg {
	struct hr_realm *realm;   /* served domains and users; it challenges
				   * the methods in its challenge bits */
	unsigned methods;         /* HR_REALM_METH bits of the methods
				   * redirected: INVITE, MESSAGE, OPTIONS,
				   * REFER */
};

/** Counters (metrics): answers by kind. */
struct hr_redirect_stats {
	uint64_t moved;           /* 302 */
	uint64_t unavailable;     /* 480: the user has no live binding */
	uint64_t not_found;       /* 404: no such user or domain */
	uint64_t contacts;        /* Contacts offered in the 302s */
};

struct hr_redirect;

/** The methods that may be redirected (HR_REALM_METH bits). */
#define HR_REDIRECT_METHODS (HR_REALM_METH(HR_METH_INVITE) | \
	HR_REALM_METH(HR_METH_MESSAGE) | HR_REALM_METH(HR_METH_OPTIONS) | \
	HR_REALM_METH(HR_METH_REFER))

/** Route cfg->methods to a new redirect server: 0, or EINVAL for a
 * method outside HR_REDIRECT_METHODS, or ENOMEM. */
int hr_redirect_alloc(struct hr_redirect **rp, struct hr_sip *sip,
	struct hr_registrar *reg, const struct hr_redirect_cfg *cfg);
/** Copy the counters. */
void hr_redirect_stats(const struct hr_redirect *rd,
	struct hr_redirect_stats *st);

#endif
