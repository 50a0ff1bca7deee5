/*
 * Herald auth layer: digest challenges and verification (RFC 3261 22.4,
 * RFC 7616, RFC 8760): MD5 and SHA-256, qop=auth, stateless nonces, nc
 * replay protection. Knows sip and core; never storage.
 */
#ifndef HR_AUTH_H
#define HR_AUTH_H

#include "sip/sip.h"

enum hr_digest_alg {
	HR_DIGEST_MD5,
	HR_DIGEST_SHA256,
};

/* Enough for a SHA-256 hex digest and its NUL. */
#define HR_DIGEST_HEX_MAX 65

/** Hex length of a digest of alg (32 or 64). */
size_t hr_digest_hexlen(enum hr_digest_alg alg);
/** Algorithm of an "algorithm" value; absent means MD5: 0 or ENOTSUP. */
int hr_digest_alg_decode(const struct hr_pl *pl, enum hr_digest_alg *alg);
/** "MD5" or "SHA-256". */
const char *hr_digest_alg_name(enum hr_digest_alg alg);

/** HA1 = H(username ":" realm ":" password), lowercase hex: 0 or ENOSPC. */
int hr_digest_ha1(char *out, size_t n, enum hr_digest_alg alg,
	const char *user, const char *realm, const char *password);
/**
 * Expected response (RFC 7616 3.4.1): with qop=auth
 * H(HA1:nonce:nc:cnonce:qop:H(method:uri)), without qop (RFC 2069)
 * H(HA1:nonce:H(method:uri)). 0, ENOSPC, or EINVAL for another qop.
 */
int hr_digest_response(char *out, size_t n, enum hr_digest_alg alg,
	const char *ha1, const struct hr_digest *cred,
	const struct hr_pl *method);

/** How the digest uri must match the Request-URI. */
enum hr_auth_uri_check {
	HR_AUTH_URI_STRICT = 0, /* the same URI (RFC 3261 19.1.4) */
	HR_AUTH_URI_LOOSE,      /* or one that names this server */
};

/** "strict" or "loose": 0 or EINVAL. */
int hr_auth_uri_check_decode(const char *name, enum hr_auth_uri_check *v);

struct hr_auth_cfg {
	const uint8_t *secret;  /* HMAC key; NULL: random (nonces then do
				 * not survive a restart) */
	size_t secret_len;
	unsigned nonce_ttl_s;   /* 0: 300 */
	unsigned max_nonces;    /* nc table size; 0: 65536 */
	const char *const *md5_agents;  /* User-Agent prefixes offered only
					 * MD5 (clients that read just the
					 * first challenge and know no
					 * SHA-256: Debian's sipsak) */
	unsigned nmd5_agents;
	enum hr_auth_uri_check uri_check;
	const char *const *domains;     /* served; loose uri check only */
	unsigned ndomains;
	const char *node;       /* a node of a cluster: its id, which its
				 * nonces carry (NULL: a single node) */
};

struct hr_auth;   /* refcounted (hr_mem) */

/** Create a verifier: 0, EINVAL or ENOMEM. */
int hr_auth_alloc(struct hr_auth **ap, const struct hr_auth_cfg *cfg);

/**
 * Append WWW-Authenticate (Proxy-Authenticate when proxy) lines for realm
 * to hdrs: SHA-256 first, then MD5 (RFC 8760 2.4), each with a fresh
 * nonce, opaque, qop="auth" and stale=true when asked.
 */
int hr_auth_challenge(struct hr_auth *a, struct hr_buf *hdrs,
	const char *realm, bool stale, bool proxy);

/**
 * The challenge for req: as hr_auth_challenge, but a client whose
 * User-Agent starts with one of cfg->md5_agents gets the MD5 one only.
 */
int hr_auth_challenge_req(struct hr_auth *a, struct hr_buf *hdrs,
	const struct hr_msg *req, const char *realm, bool stale, bool proxy);

/** How the server obtains a user's HA1: 0 and ha1 filled, ENOENT. */
typedef int (hr_auth_ha1_h)(const struct hr_pl *username, const char *realm,
	enum hr_digest_alg alg, char *ha1, size_t n, void *arg);

enum hr_auth_result {
	HR_AUTH_OK,        /* credentials valid: user is set */
	HR_AUTH_CHALLENGE, /* no credentials for this realm: 401 */
	HR_AUTH_STALE,     /* right password, expired nonce: 401 stale=true */
	HR_AUTH_FORBIDDEN, /* unknown user, wrong password, replay...: 403 */
	HR_AUTH_BAD,       /* malformed credentials: 400 */
};

/* Why credentials were refused (counted for the metrics; the client is
 * told no more than its status). */
enum hr_auth_fail {
	HR_AUTH_FAIL_MALFORMED = 0, /* 400: unparsable, a parameter missing */
	HR_AUTH_FAIL_STALE,         /* 401 stale=true: an expired nonce */
	HR_AUTH_FAIL_UNKNOWN_USER,  /* 403: no such user */
	HR_AUTH_FAIL_PASSWORD,      /* 403: a wrong password */
	HR_AUTH_FAIL_REPLAY,        /* 403: nc not above the last seen */
	HR_AUTH_FAIL_URI,           /* 403: digest uri not the Request-URI */
	HR_AUTH_FAIL_UNSUPPORTED,   /* 403: an algorithm, qop, userhash or
				     * opaque never offered */
	HR_AUTH_FAIL_IDENTITY,      /* 403: valid, but another user than
				     * the one whose AOR it changes */
	HR_AUTH_FAIL__N
};

/** "malformed", "stale_nonce", "unknown_user", "wrong_password",
 * "replay", "uri_mismatch", "unsupported", "wrong_identity". */
const char *hr_auth_fail_name(enum hr_auth_fail f);
/** Credentials refused so far, by why (core thread). */
void hr_auth_failures(const struct hr_auth *a,
	uint64_t out[HR_AUTH_FAIL__N]);

/**
 * Check req's Authorization, then Proxy-Authorization, credentials for
 * realm. Returns 0 with *res set (and *user, borrowed from req, on
 * HR_AUTH_OK), or an error from ha1h other than ENOENT, or EINVAL.
 */
int hr_auth_verify(struct hr_auth *a, const struct hr_msg *req,
	const char *realm, hr_auth_ha1_h *ha1h, void *arg,
	enum hr_auth_result *res, struct hr_pl *user);

/**
 * Authenticate req for realm inside its server transaction st. True with
 * *user (borrowed from req) when the credentials are valid; otherwise st
 * has been answered: 401 with the challenge (stale=true after an expired
 * nonce), 403, 400 for malformed credentials, or 500. The 401, 403 and
 * 400 end st at once, keeping no state for retransmissions.
 */
bool hr_auth_request(struct hr_auth *a, struct hr_strans *st,
	const struct hr_msg *req, const char *realm, hr_auth_ha1_h *ha1h,
	void *arg, struct hr_pl *user);

/** True when a digest username ("alice", "alice@realm") is the user of
 * aor ("alice@example.test") in realm. */
bool hr_auth_user_is(const struct hr_pl *username, const char *aor,
	const char *realm);

/** Does user@domain exist? (RFC 3261 10.3 step 5; a presentity or an
 * AOR a subscription names) */
typedef bool (hr_user_exists_h)(const char *user, const char *domain,
	void *arg);

/** "alice@example.test" → user and domain (lowercased): 0, EINVAL (not
 * user@domain, too long) or EILSEQ (a control character in it). */
int hr_user_split(const char *aor, char *user, size_t un, char *domain,
	size_t dn);
/** h (exists, is a monitor...) of the user aor names: false when aor is
 * not user@domain; true for every well-formed one when h is NULL. */
bool hr_user_check(hr_user_exists_h *h, const char *aor, void *arg);
/** Both HA1s of a user in its realm (its domain): 0 or an error. The
 * password is not kept. */
int hr_digest_ha1s(const char *user, const char *realm, const char *password,
	char md5[33], char sha256[65]);

/* ---- the users the server knows (in memory; filled from the store) ---- */

/** What a user may do besides its own things. */
enum hr_user_role {
	HR_ROLE_USER = 0,
	HR_ROLE_MONITOR,          /* may watch the registrations of every
				   * address-of-record of its domain */
};

/** The role of a name: 0 or EINVAL. */
int hr_user_role_decode(const char *name, enum hr_user_role *role);

struct hr_userdb;  /* refcounted */

/** An empty user directory. */
int hr_userdb_alloc(struct hr_userdb **dbp);
/** Add or replace user@domain with its HA1s (32 and 64 hex digits). */
int hr_userdb_put(struct hr_userdb *db, const char *user, const char *domain,
	const char *ha1_md5, const char *ha1_sha256);
/** Set user@domain's role (a new or replaced user has HR_ROLE_USER): 0
 * or ENOENT. */
int hr_userdb_set_role(struct hr_userdb *db, const char *user,
	const char *domain, enum hr_user_role role);
/** Is user@domain a monitor? (an hr_user_exists_h; arg: the hr_userdb) */
bool hr_userdb_is_monitor(const char *user, const char *domain, void *arg);
/** Remove user@domain, if present. */
void hr_userdb_del(struct hr_userdb *db, const char *user,
	const char *domain);
/** Number of users. */
size_t hr_userdb_count(const struct hr_userdb *db);
/** A full list of users follows (hr_userdb_put each)... */
void hr_userdb_sync_begin(struct hr_userdb *db);
/** ...and users it did not name are removed: returns how many. */
size_t hr_userdb_sync_end(struct hr_userdb *db);
/** Does user@domain exist? (arg: the hr_userdb) */
bool hr_userdb_exists(const char *user, const char *domain, void *arg);
/** An hr_auth_ha1_h over the directory (arg: the hr_userdb); the digest
 * username's part before any '@' names the user in the realm. */
int hr_userdb_ha1(const struct hr_pl *username, const char *realm,
	enum hr_digest_alg alg, char *ha1, size_t n, void *arg);

/* ---- the realm: served domains, digest and users (one per server) ---- */

#define HR_REALM_METH(m) (1u << (m))  /* a method in challenge */

struct hr_realm_cfg {
	const char *const *domains;   /* served domains (digest realms) */
	unsigned ndomains;
	unsigned challenge;           /* methods challenged (HR_REALM_METH
				       * bits); 0: none */
	struct hr_auth *authn;        /* needed when challenge is not 0 */
	hr_auth_ha1_h *ha1h;
	hr_user_exists_h *existsh;    /* NULL: every user@domain exists */
	hr_user_exists_h *monitorh;   /* NULL: nobody is a monitor */
	void *users;                  /* arg of ha1h, existsh, monitorh */
	const struct hr_net *trusted; /* publishers not challenged (a proxy,
				       * a PBX, a voicemail system), who
				       * publish for any user */
	unsigned ntrusted;
};

struct hr_realm;  /* refcounted */

/** Credentials refused by the realm's verifier so far (all 0 without
 * one). */
void hr_realm_auth_failures(const struct hr_realm *r,
	uint64_t out[HR_AUTH_FAIL__N]);
/** Create the realm (it copies the domains, references authn). */
int hr_realm_alloc(struct hr_realm **rp, const struct hr_realm_cfg *cfg);
/** Number of served domains. */
unsigned hr_realm_ndomains(const struct hr_realm *r);
/** Is domain one the realm serves (any case)? The list is fixed once
 * made: any thread may ask. */
bool hr_realm_serves(const struct hr_realm *r, const char *domain);
/** The served domain req is for (lowercase; hr_req_domain), or NULL. */
const char *hr_realm_domain(const struct hr_realm *r,
	const struct hr_msg *req);
/**
 * Authenticate req for domain when its method is challenged (a PUBLISH
 * from a trusted publisher is not: it may publish for anyone). With aor,
 * the credentials must be aor's user's; else id (n bytes) gets the
 * authenticated identity "user@domain" ("" when not challenged). False:
 * st has been answered (hr_auth_request's 401, 403, 400 or 500, or 403
 * Forbidden for another user or too long an identity).
 */
bool hr_realm_open(struct hr_realm *r, struct hr_strans *st,
	const struct hr_msg *req, const char *domain, const char *aor,
	char *id, size_t n);
/** Does the user aor names exist? (hr_user_check with existsh) */
bool hr_realm_exists(const struct hr_realm *r, const char *aor);
/** Does user@domain exist? (existsh as it is; true without one) */
bool hr_realm_user_exists(const struct hr_realm *r, const char *user,
	const char *domain);
/** Is the user aor names a monitor? */
bool hr_realm_is_monitor(const struct hr_realm *r, const char *aor);

/** Move this verifier's wall clock by s seconds (tests). */
void hr_auth_time_advance(struct hr_auth *a, int64_t s);
/** Number of nonces in the nc table (tests). */
size_t hr_auth_nonce_count(const struct hr_auth *a);

#endif
