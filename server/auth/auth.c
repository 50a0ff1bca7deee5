/*
 * Digest challenges and verification for one server (RFC 3261 22.4,
 * RFC 7616, RFC 8760).
 *
 * What each odd case answers, and why:
 * - no Digest credentials for our realm, or only ones whose nonce we did
 *   not issue (tampered, another secret, another realm): CHALLENGE, so a
 *   client holding an old nonce just starts again.
 * - a parameter missing (username, nonce, uri, response, or nc/cnonce
 *   with qop), nc not 8 hex digits or zero, response not hex of the
 *   algorithm's length, an unparsable header: BAD.
 * - no qop (RFC 2069): FORBIDDEN. We always offer qop="auth" and RFC 3261
 *   22.4 says a client MUST then send it; without nc there is no replay
 *   protection. qop=auth-int, the -sess algorithms, SHA-512-256 and
 *   userhash are never offered either: FORBIDDEN.
 * - uri not the Request-URI (compared as URIs; in loose mode, not one
 *   naming this server either: digest_uri.c): FORBIDDEN. RFC 3261 22.4
 *   item 6 makes this a policy (a MAY), not malformed input, so not 400.
 * - opaque echoed but different: FORBIDDEN; opaque absent: accepted, it
 *   proves nothing here (it is fixed per server).
 * - unknown user and wrong password: FORBIDDEN alike, after the same work.
 * - right password, expired nonce: STALE; wrong password, expired: FORBIDDEN.
 * - nc not above the highest seen for the nonce: FORBIDDEN. A nonce whose
 *   nc record was evicted from a full table: STALE.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include "auth_int.h"

#define HR_LOG_MODULE "auth"

#define DEFAULT_TTL_S 300
#define DEFAULT_MAX_NONCES 65536
#define SECRET_MIN 16
#define RANDOM_SECRET 32

static void strv_free(char **v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void auth_destroy(void *data)
{
	struct hr_auth *a = data;

	hr_nonce_flush(a);
	EVP_MAC_CTX_free(a->mac);
	EVP_MAC_CTX_free(a->work);
	strv_free(a->md5_agents, a->nmd5_agents);
	strv_free(a->domains, a->ndomains);
}

static int mac_init(struct hr_auth *a, const uint8_t *key, size_t len)
{
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
			digest, 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);

	if (!m)
		return ENOMEM;
	a->mac = EVP_MAC_CTX_new(m);
	EVP_MAC_free(m);  /* the context keeps its own reference */
	if (!a->mac || !EVP_MAC_init(a->mac, key, len, params))
		return ENOMEM;
	a->work = EVP_MAC_CTX_dup(a->mac);
	return a->work ? 0 : ENOMEM;
}

static int opaque_init(struct hr_auth *a)
{
	/* shorter than any nonce input, so never equal to one */
	struct hr_pl label = HR_PL("herald opaque");
	uint8_t raw[HR_OPAQUE_HEX / 2];
	int err;

	err = hr_auth_mac(a, &label, 1, raw, sizeof(raw));
	if (!err)
		hr_auth_hex(a->opaque, raw, sizeof(raw));
	return err;
}

/* Copies of n strings into *vp; *np counts those made, for the
 * destructor. */
static int strv_dup(char ***vp, unsigned *np, const char *const *src,
	unsigned n)
{
	if (!n)
		return 0;
	*vp = calloc(n, sizeof(**vp));
	if (!*vp)
		return ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		(*vp)[i] = strdup(src[i]);
		if (!(*vp)[i])
			return ENOMEM;
		*np = i + 1;
	}
	return 0;
}

static int cfg_init(struct hr_auth *a, const struct hr_auth_cfg *cfg)
{
	int err;

	a->uri_check = cfg->uri_check;
	err = strv_dup(&a->md5_agents, &a->nmd5_agents, cfg->md5_agents,
		cfg->nmd5_agents);
	if (!err)
		err = strv_dup(&a->domains, &a->ndomains, cfg->domains,
			cfg->ndomains);
	return err;
}

/* The tag of node's nonces: the first bytes of SHA-256 of its id. */
static void node_tag(struct hr_auth *a, const char *node)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	if (EVP_Digest(node, strlen(node), md, &len, EVP_sha256(), NULL) &&
	    len >= HR_NONCE_NODE)
		memcpy(a->node, md, HR_NONCE_NODE);
}

int hr_auth_alloc(struct hr_auth **ap, const struct hr_auth_cfg *cfg)
{
	uint8_t rnd[RANDOM_SECRET];
	const uint8_t *key = cfg ? cfg->secret : NULL;
	size_t keylen = cfg ? cfg->secret_len : 0;
	struct hr_auth *a;
	int err;

	if (!ap || (key && keylen < SECRET_MIN))
		return EINVAL;
	if (!key) {
		hr_rand_bytes(rnd, sizeof(rnd));
		key = rnd;
		keylen = sizeof(rnd);
	}
	a = hr_mem_zalloc(sizeof(*a), auth_destroy);
	if (!a)
		return ENOMEM;
	a->ttl_s = cfg && cfg->nonce_ttl_s ? cfg->nonce_ttl_s : DEFAULT_TTL_S;
	a->nc_max = cfg && cfg->max_nonces ? cfg->max_nonces :
		DEFAULT_MAX_NONCES;
	a->floor_ts = INT64_MIN;
	err = hr_nonce_init(a);
	if (!err && cfg)
		err = cfg_init(a, cfg);
	if (!err)
		err = mac_init(a, key, keylen);
	if (!err)
		err = opaque_init(a);
	if (!err && cfg && cfg->node)
		node_tag(a, cfg->node);
	OPENSSL_cleanse(rnd, sizeof(rnd));
	if (err) {
		hr_mem_deref(a);
		return err;
	}
	*ap = a;
	return 0;
}

/* The realm goes inside a quoted-string: refuse what would need escaping
 * or could end the header line. */
static bool realm_ok(const char *realm)
{
	if (!realm || !*realm)
		return false;
	for (const char *p = realm; *p; p++) {
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20 ||
		    *p == 0x7f)
			return false;
	}
	return true;
}

static int challenge_one(struct hr_auth *a, struct hr_buf *hdrs,
	const char *realm, enum hr_digest_alg alg, bool stale, bool proxy)
{
	char nonce[HR_NONCE_HEX + 1];
	int err;

	err = hr_nonce_make(a, realm, nonce, sizeof(nonce));
	if (err)
		return err;
	return hr_buf_printf(hdrs, "%s: Digest realm=\"%s\", nonce=\"%s\", "
		"opaque=\"%s\", algorithm=%s, qop=\"auth\"%s\r\n",
		proxy ? "Proxy-Authenticate" : "WWW-Authenticate", realm,
		nonce, a->opaque, hr_digest_alg_name(alg),
		stale ? ", stale=true" : "");
}

static int challenge(struct hr_auth *a, struct hr_buf *hdrs,
	const char *realm, bool stale, bool proxy, bool md5_only)
{
	size_t len;
	int err = 0;

	if (!a || !hdrs || !realm_ok(realm))
		return EINVAL;
	len = hdrs->len;
	/* RFC 8760 2.4: one challenge per algorithm, preferred first */
	if (!md5_only)
		err = challenge_one(a, hdrs, realm, HR_DIGEST_SHA256, stale,
			proxy);
	if (!err)
		err = challenge_one(a, hdrs, realm, HR_DIGEST_MD5, stale,
			proxy);
	if (err)
		hdrs->len = len;  /* all or nothing */
	return err;
}

int hr_auth_challenge(struct hr_auth *a, struct hr_buf *hdrs,
	const char *realm, bool stale, bool proxy)
{
	return challenge(a, hdrs, realm, stale, proxy, false);
}

/* Some clients read only the first challenge and stop at an algorithm
 * they do not know (RFC 8760 2.4 asks them to pick the first they
 * support); named by User-Agent, they are offered MD5 alone. */
static bool md5_agent(const struct hr_auth *a, const struct hr_msg *req)
{
	const struct hr_hdr *ua = hr_msg_hdr(req, HR_HDR_USER_AGENT);

	for (unsigned i = 0; ua && i < a->nmd5_agents; i++) {
		size_t n = strlen(a->md5_agents[i]);

		if (ua->val.len >= n && hr_ci_eq(ua->val.p, a->md5_agents[i], n))
			return true;
	}
	return false;
}

int hr_auth_challenge_req(struct hr_auth *a, struct hr_buf *hdrs,
	const struct hr_msg *req, const char *realm, bool stale, bool proxy)
{
	if (!a || !req)
		return EINVAL;
	return challenge(a, hdrs, realm, stale, proxy, md5_agent(a, req));
}

/* Is this header value a Digest one? Other schemes are not ours. */
static bool is_digest(const struct hr_pl *val)
{
	struct hr_pl v = *val;

	hr_pl_trim(&v);
	return v.len > 6 && hr_ci_eq(v.p, "Digest", 6) &&
		(v.p[6] == ' ' || v.p[6] == '\t' || v.p[6] == '\r' ||
		v.p[6] == '\n');
}

static bool is_hex(const struct hr_pl *pl, size_t len)
{
	if (pl->len != len)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = hr_lower[(unsigned char)pl->p[i]];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

static uint32_t hex_u32(const struct hr_pl *pl)
{
	uint32_t v = 0;

	for (size_t i = 0; i < pl->len; i++) {
		char c = hr_lower[(unsigned char)pl->p[i]];

		v = v << 4 | (uint32_t)(c <= '9' ? c - '0' : c - 'a' + 10);
	}
	return v;
}

/* What the credentials say, checked for shape. */
struct cred {
	const struct hr_digest *d;
	enum hr_digest_alg alg;
	uint32_t nc;
	uint8_t nonce[HR_NONCE_RAW];
	enum hr_nonce_state nstate;
	enum hr_auth_fail why;  /* when refused */
};

static enum hr_auth_result check_shape(const struct hr_digest *d)
{
	if (!hr_pl_isset(&d->username) || !hr_pl_isset(&d->nonce) ||
	    !hr_pl_isset(&d->uri) || !hr_pl_isset(&d->response))
		return HR_AUTH_BAD;
	if (hr_pl_isset(&d->qop) &&
	    (!hr_pl_isset(&d->cnonce) || !hr_pl_isset(&d->nc) ||
	    !is_hex(&d->nc, 8) || !hex_u32(&d->nc)))
		return HR_AUTH_BAD;
	return HR_AUTH_OK;
}

/* Refuse what we never offer (see the top of this file). */
static enum hr_auth_result check_offer(const struct hr_auth *a,
	struct cred *c)
{
	const struct hr_digest *d = c->d;

	c->why = HR_AUTH_FAIL_UNSUPPORTED;
	if (hr_digest_alg_decode(&d->algorithm, &c->alg))
		return HR_AUTH_FORBIDDEN;
	if (!is_hex(&d->response, hr_digest_hexlen(c->alg))) {
		c->why = HR_AUTH_FAIL_MALFORMED;
		return HR_AUTH_BAD;
	}
	if (!hr_pl_isset(&d->qop) || hr_pl_strcasecmp(&d->qop, "auth"))
		return HR_AUTH_FORBIDDEN;
	if (hr_pl_isset(&d->userhash) &&
	    hr_pl_strcasecmp(&d->userhash, "false"))
		return HR_AUTH_FORBIDDEN;
	if (hr_pl_isset(&d->opaque) && hr_pl_strcmp(&d->opaque, a->opaque))
		return HR_AUTH_FORBIDDEN;
	c->nc = hex_u32(&d->nc);
	return HR_AUTH_OK;
}

/* Same work for an unknown user as for a wrong password. */
static int response_ok(struct cred *c, const struct hr_msg *req,
	const char *realm, hr_auth_ha1_h *ha1h, void *arg, bool *ok)
{
	char ha1[HR_DIGEST_HEX_MAX], want[HR_DIGEST_HEX_MAX];
	char got[HR_DIGEST_HEX_MAX];
	size_t hl = hr_digest_hexlen(c->alg);
	bool known = true;
	int err;

	memset(ha1, 0, sizeof(ha1));
	err = ha1h(&c->d->username, realm, c->alg, ha1, sizeof(ha1), arg);
	if (err == ENOENT) {
		known = false;
		memset(ha1, '0', hl);
		ha1[hl] = '\0';
	}
	else if (err) {
		goto out;
	}
	else if (strnlen(ha1, sizeof(ha1)) != hl) {
		HR_WARN("HA1 of the wrong length for %s",
			hr_digest_alg_name(c->alg));
		err = EINVAL;
		goto out;
	}
	err = hr_digest_response(want, sizeof(want), c->alg, ha1, c->d,
		&req->method);
	if (err)
		goto out;
	for (size_t i = 0; i < hl; i++)
		got[i] = (char)hr_lower[(unsigned char)c->d->response.p[i]];
	*ok = !CRYPTO_memcmp(want, got, hl) && known;
	c->why = known ? HR_AUTH_FAIL_PASSWORD : HR_AUTH_FAIL_UNKNOWN_USER;
 out:
	OPENSSL_cleanse(ha1, sizeof(ha1));
	return err;
}

/* Recorded only now, after a correct response, so that a forged request
 * with a huge nc cannot lock the real client out of its nonce. */
static enum hr_auth_result nc_result(enum hr_nc_state st, struct cred *c)
{
	switch (st) {
	case HR_NC_OK:
		return HR_AUTH_OK;
	case HR_NC_REPLAY:
		c->why = HR_AUTH_FAIL_REPLAY;
		return HR_AUTH_FORBIDDEN;
	default:
		c->why = HR_AUTH_FAIL_STALE;
		return HR_AUTH_STALE;  /* untracked: take a fresh nonce */
	}
}

/* How much of the client's text to log: up to its first control byte
 * (a folded line break), at most 256. */
static int loggable(const struct hr_pl *pl)
{
	size_t n = 0;

	while (n < pl->len && n < 256 && (unsigned char)pl->p[n] >= 0x20 &&
	    pl->p[n] != 0x7f)
		n++;
	return (int)n;
}

/* One Digest credential for our realm: CHALLENGE means "not ours, look
 * further". */
static int verify_one(struct hr_auth *a, const struct hr_msg *req,
	const char *realm, const struct hr_digest *d, hr_auth_ha1_h *ha1h,
	void *arg, enum hr_auth_result *res, enum hr_auth_fail *why)
{
	struct cred c = { .d = d, .why = HR_AUTH_FAIL_MALFORMED };
	bool ok = false;
	int err;

	*why = c.why;
	*res = check_shape(d);
	if (*res != HR_AUTH_OK)
		return 0;
	c.nstate = hr_nonce_check(a, &d->nonce, realm, c.nonce);
	if (c.nstate == HR_NONCE_FOREIGN) {
		*res = HR_AUTH_CHALLENGE;
		return 0;
	}
	*res = check_offer(a, &c);
	*why = c.why;
	if (*res != HR_AUTH_OK)
		return 0;
	/* RFC 3261 22.4 item 6: a server MAY check it; we do */
	if (!hr_auth_uri_ok(a, req, &d->uri, realm)) {
		HR_INFO("digest uri \"%.*s\" is not the Request-URI %.*s "
			"(%s check): 403", loggable(&d->uri), d->uri.p,
			HR_PL_ARG(req->ruri_pl), a->uri_check ==
			HR_AUTH_URI_LOOSE ? "loose" : "strict");
		*res = HR_AUTH_FORBIDDEN;
		*why = HR_AUTH_FAIL_URI;
		return 0;
	}
	err = response_ok(&c, req, realm, ha1h, arg, &ok);
	if (err)
		return err;
	if (!ok) {
		*res = HR_AUTH_FORBIDDEN;
	} else if (c.nstate == HR_NONCE_STALE) {
		*res = HR_AUTH_STALE;
		c.why = HR_AUTH_FAIL_STALE;
	} else {
		*res = nc_result(hr_nonce_nc(a, c.nonce, c.nc), &c);
	}
	*why = c.why;
	return 0;
}

static int verify(struct hr_auth *a, const struct hr_msg *req,
	const char *realm, hr_auth_ha1_h *ha1h, void *arg,
	enum hr_auth_result *res, struct hr_pl *user, enum hr_auth_fail *why)
{
	static const enum hr_hdr_id ids[] = {
		HR_HDR_AUTHORIZATION, HR_HDR_PROXY_AUTHORIZATION,
	};

	*res = HR_AUTH_CHALLENGE;
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		const struct hr_hdr *h = hr_msg_hdr(req, ids[i]);

		for (; h; h = hr_msg_hdr_next(req, h)) {
			struct hr_digest d;
			int err;

			if (!is_digest(&h->val))
				continue;
			if (hr_digest_decode(&d, &h->val)) {
				*res = HR_AUTH_BAD;
				*why = HR_AUTH_FAIL_MALFORMED;
				return 0;
			}
			/* credentials for another realm are not for us */
			if (hr_pl_strcmp(&d.realm, realm))
				continue;
			err = verify_one(a, req, realm, &d, ha1h, arg, res,
				why);
			if (err)
				return err;
			if (*res == HR_AUTH_OK && user)
				*user = d.username;
			if (*res != HR_AUTH_CHALLENGE)
				return 0;
		}
	}
	return 0;
}

int hr_auth_verify(struct hr_auth *a, const struct hr_msg *req,
	const char *realm, hr_auth_ha1_h *ha1h, void *arg,
	enum hr_auth_result *res, struct hr_pl *user)
{
	enum hr_auth_fail why = HR_AUTH_FAIL_MALFORMED;
	int err;

	if (!a || !req || !realm || !ha1h || !res)
		return EINVAL;
	err = verify(a, req, realm, ha1h, arg, res, user, &why);
	/* a challenge is the first step of every client, not a failure */
	if (!err && *res != HR_AUTH_OK && *res != HR_AUTH_CHALLENGE)
		a->failures[why]++;
	return err;
}

const char *hr_auth_fail_name(enum hr_auth_fail f)
{
	static const char *const names[HR_AUTH_FAIL__N] = {
		[HR_AUTH_FAIL_MALFORMED] = "malformed",
		[HR_AUTH_FAIL_STALE] = "stale_nonce",
		[HR_AUTH_FAIL_UNKNOWN_USER] = "unknown_user",
		[HR_AUTH_FAIL_PASSWORD] = "wrong_password",
		[HR_AUTH_FAIL_REPLAY] = "replay",
		[HR_AUTH_FAIL_URI] = "uri_mismatch",
		[HR_AUTH_FAIL_UNSUPPORTED] = "unsupported",
		[HR_AUTH_FAIL_IDENTITY] = "wrong_identity",
	};

	return (unsigned)f < HR_AUTH_FAIL__N ? names[f] : "?";
}

void hr_auth_failures(const struct hr_auth *a, uint64_t out[HR_AUTH_FAIL__N])
{
	memcpy(out, a->failures, sizeof(a->failures));
}
