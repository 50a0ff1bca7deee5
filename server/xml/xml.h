/*
 * Herald xml: PIDF, reginfo, watcherinfo and dialog-info documents read
 * and written with libxml2. Knows nothing of SIP.
 *
 * Writers append to an hr_buf and leave it as it was on error. Every input
 * string must be UTF-8 made of XML 1.0 characters (no NUL, no C0 control
 * but TAB, LF and CR), else EINVAL. libxml2 is initialised on first use;
 * a threaded program calls xmlInitParser() once before its threads start.
 */
#ifndef HR_XML_H
#define HR_XML_H

#include <stdbool.h>
#include <stddef.h>
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

/* ---- PIDF (RFC 3863), application/pidf+xml ---- */

/*
 * A parsed, checked publication: refcounted with hr_mem_ref/hr_mem_deref,
 * immutable, and holding its libxml2 tree.
 */
struct hr_pidf;

/**
 * Parse a PUBLISH body (RFC 3903) into *docp. libxml2 runs without
 * network, without entity substitution and without loading a DTD, and
 * any DOCTYPE (so any DTD or entity declaration) is refused as soon as
 * it is seen, before its content is read: XXE and entity expansion
 * ("billion laughs") never start. The root must be <presence> in
 * urn:ietf:params:xml:ns:pidf with a non-empty entity attribute; every
 * <tuple> needs an id and a <status>, and a <basic> says open or closed.
 * Tuple ids are not checked to be xs:IDs (RFC 3863 4.1.2 calls them
 * arbitrary strings). 0; EBADMSG with *why (if why is not NULL) a static
 * "Bad PIDF: ..." reason for a 400 response; EINVAL or ENOMEM. The size
 * limit is the caller's.
 */
int hr_pidf_parse(struct hr_pidf **docp, const char *p, size_t len,
	const char **why);

/** The publication's entity attribute, as written. */
const char *hr_pidf_entity(const struct hr_pidf *d);

/**
 * Append the presentity's document composed from its live publications,
 * docs[0] the oldest, each once: <presence entity=ENTITY> with PIDF as
 * the default namespace and unprefixed PIDF elements (baresip reads only
 * an unprefixed <basic>), then every <tuple>, then every <note>, then
 * every other element of another namespace (RFC 4479 <dm:person>,
 * <dm:device>, extensions), as RFC 3863 4.1.1 orders them. Within each
 * group the newest publication comes first (a client that reads only the
 * first tuple sees the latest change), each in its document order.
 * Tuples, persons and devices share one id space (all are xs:ID): of the
 * elements with one id, only the newest publication's (its first, in one
 * publication) is kept. Elements of no namespace and unknown PIDF
 * elements are dropped, as are comments and processing instructions.
 * Everything else is copied with its content intact, keeping the
 * publisher's prefixes; each copy declares the namespaces it needs, so
 * publications that bind one prefix to different namespaces, or one
 * namespace to different prefixes, still give correct XML. n == 0: the
 * neutral document. 0, EINVAL, EMSGSIZE (buf's cap) or ENOMEM.
 */
int hr_pidf_compose(struct hr_buf *buf, const char *entity,
	struct hr_pidf *const *docs, unsigned n);

/**
 * Append the neutral document (RFC 5025 3.2.1 polite block; also a
 * presentity with nothing to say): one tuple, id "offline", with
 * <basic>closed</basic>, nothing else. 0, EINVAL, EMSGSIZE or ENOMEM.
 */
int hr_pidf_neutral(struct hr_buf *buf, const char *entity);

/**
 * Append the registrar's view of a presentity: one tuple per contact,
 * id ids[i], <basic>open</basic> and <contact>contacts[i]</contact>
 * (left out when contacts or contacts[i] is NULL). Each id must be an
 * xs:ID, an XML NCName: a registrar id that may start with a digit
 * needs a prefix ("c" + id), else EINVAL (hr_rand_token() ids start with
 * a digit one time in 3.6). 0, EINVAL, EMSGSIZE or ENOMEM.
 */
int hr_pidf_open_tuples(struct hr_buf *buf, const char *entity,
	const char *const *ids, const char *const *contacts, unsigned n);

/* ---- dialog-info (RFC 4235), application/dialog-info+xml ---- */

/** RFC 4235 3.7.1 dialog states, in the order a dialog moves through
 *  them. */
enum hr_dlg_state {
	HR_DLG_TRYING,
	HR_DLG_PROCEEDING,
	HR_DLG_EARLY,
	HR_DLG_CONFIRMED,
	HR_DLG_TERMINATED,
};

/*
 * A parsed, checked publication: refcounted with hr_mem_ref/hr_mem_deref,
 * immutable, holding its libxml2 tree.
 */
struct hr_dinfo;

/**
 * Parse a PUBLISH body into *docp, with the same safety as hr_pidf_parse
 * (no network, no entities, any DOCTYPE refused before its content is
 * read). The root must be <dialog-info> in
 * urn:ietf:params:xml:ns:dialog-info with version (non-negative
 * integer), state ("full"/"partial") and a non-empty entity; each
 * <dialog> of that namespace needs a non-empty id and exactly one
 * <state> whose text (trimmed) is trying, proceeding, early, confirmed
 * or terminated; two dialogs with one id: refused. 0; EBADMSG with *why
 * (if why is not NULL) a static "Bad dialog-info: ..." reason for a 400;
 * EINVAL or ENOMEM. Nothing else is checked against RFC 4235's schema
 * (the RFC's own examples break it), and the size limit is the caller's.
 */
int hr_dinfo_parse(struct hr_dinfo **docp, const char *p, size_t len,
	const char **why);
/** The publication's entity attribute, as written. */
const char *hr_dinfo_entity(const struct hr_dinfo *d);
/** state="full"? */
bool hr_dinfo_full(const struct hr_dinfo *d);
/** Number of <dialog> elements, and each one's id and state
 *  (i < that number; else NULL and HR_DLG_TERMINATED), in document
 *  order. */
unsigned hr_dinfo_ndialogs(const struct hr_dinfo *d);
const char *hr_dinfo_id(const struct hr_dinfo *d, unsigned i);
enum hr_dlg_state hr_dinfo_state(const struct hr_dinfo *d, unsigned i);
/** "trying" ... "terminated"; NULL for a value outside the enum. */
const char *hr_dlg_state_name(enum hr_dlg_state s);

/** One dialog of a parsed publication. */
struct hr_dinfo_ref {
	const struct hr_dinfo *doc;
	unsigned i;
};

/**
 * Append a dialog-info document: XML declaration, default namespace
 * urn:ietf:params:xml:ns:dialog-info with unprefixed dialog-info
 * elements (desk phones read unprefixed ones), version, state full or
 * partial, entity; then the n dialogs given, in that order, each copied
 * as published with its attributes and content intact (elements of
 * other namespaces kept with the namespaces they need, as
 * hr_pidf_compose does; comments and PIs dropped). With private_remote,
 * each copy leaves out its <remote> and <referred-by> elements (those of
 * the dialog-info namespace, wherever they are in it): the watcher sees
 * the states, not who the other party is. n == 0: a document with no
 * dialog (the line is idle). The result must validate against
 * dialog-info.xsd (it does when the dialogs copied do). Ids are not made
 * unique here: the caller picks the dialogs. 0, EINVAL (also for a ref
 * whose doc is NULL or whose i is out of range), EMSGSIZE (buf's cap) or
 * ENOMEM.
 */
int hr_dinfo_compose(struct hr_buf *buf, const char *entity,
	unsigned version, bool full, const struct hr_dinfo_ref *v, unsigned n,
	bool private_remote);

/* ---- watcherinfo (RFC 3858), application/watcherinfo+xml ---- */

/** One <watcher> (RFC 3858 5.1); numbers below zero are left out. */
struct hr_winfo_watcher {
	const char *id;             /* stable per subscription */
	const char *uri;            /* the watcher */
	const char *display_name;   /* NULL or "" when none */
	const char *status;         /* "pending", "active", "waiting",
				     * "terminated" */
	const char *event;          /* "subscribe", "approved",
				     * "deactivated", "probation",
				     * "rejected", "timeout", "giveup",
				     * "noresource" */
	int64_t duration_subscribed; /* seconds; -1 to omit */
	int64_t expiration;          /* seconds; -1 to omit */
};

/**
 * Append a watcherinfo document (RFC 3858 5) to buf: UTF-8, XML
 * declaration, default namespace urn:ietf:params:xml:ns:watcherinfo,
 * version, state full or partial, and one <watcher-list> for resource
 * and package holding the n watchers. 0, EINVAL, EMSGSIZE or ENOMEM.
 */
int hr_winfo_write(struct hr_buf *buf, unsigned version, bool full,
	const char *resource, const char *package,
	const struct hr_winfo_watcher *w, unsigned n);

#endif
