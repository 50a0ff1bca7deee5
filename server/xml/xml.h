/*
 * Herald xml: PIDF, reginfo and watcherinfo documents read and written
 * with libxml2. Knows nothing of SIP.
 *
 * Writers append to an hr_buf and leave it as it was on error. Every input
 * string must be UTF-8 made of XML 1.0 characters (no NUL, no C0 control
 * but TAB, LF and CR), else EINVAL. libxml2 is initialised on first use;
 * a threaded program calls xmlInitParser() once before its threads start.
 */
#ifndef HR_XML_H
#define HR_XML_H

#include <stdbool.h>
#include <stdint.h>

struct hr_buf;

/* ---- reginfo (RFC 3680 5), application/reginfo+xml ---- */

/** <reginfo state>: the whole state or only what changed. */
enum hr_reginfo_state {
	HR_REGINFO_FULL,
	HR_REGINFO_PARTIAL,
};

/** <registration state>. */
enum hr_reg_state {
	HR_REG_INIT,
	HR_REG_ACTIVE,
	HR_REG_TERMINATED,
};

/*
 * One <contact>. Numbers below zero are left out. RFC 3680 5.1: event
 * "shortened" needs expires (EINVAL without it); event "probation" needs
 * retry-after, which is written only then.
 */
struct hr_reginfo_contact {
	const char *id;             /* stable contact id */
	bool active;                /* state active / terminated */
	const char *event;          /* "registered", "created", "refreshed",
				     * "shortened", "expired", "deactivated",
				     * "probation", "unregistered",
				     * "rejected" */
	const char *uri;
	const char *display_name;   /* NULL or "" when none */
	int64_t expires;            /* remaining seconds; -1 to omit */
	int64_t duration_registered; /* -1 to omit */
	int q;                      /* x1000 (0..1000), -1 to omit: "0.5" */
	const char *callid;         /* NULL to omit */
	int64_t cseq;               /* -1 to omit */
	const char *const *unknown_param_names;  /* Contact parameters not
						  * in RFC 3261 */
	const char *const *unknown_param_values; /* NULL entry: no value;
						  * NULL array: none */
	unsigned n_unknown_params;
	int64_t retry_after;        /* seconds; written for "probation" */
};

/** One <registration>: an address-of-record and its contacts. */
struct hr_reginfo_reg {
	const char *aor;            /* "sip:alice@example.test" */
	const char *id;             /* registration id */
	enum hr_reg_state state;
	const struct hr_reginfo_contact *contacts;
	unsigned ncontacts;
};

/**
 * Append a reginfo document (RFC 3680 5) to buf: UTF-8, XML declaration,
 * default namespace urn:ietf:params:xml:ns:reginfo, version and state
 * attributes. 0, EINVAL, EMSGSIZE (buf's cap) or ENOMEM.
 */
int hr_reginfo_write(struct hr_buf *buf, unsigned version,
	enum hr_reginfo_state state, const struct hr_reginfo_reg *regs,
	unsigned nregs);

#endif
