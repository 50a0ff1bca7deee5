/* server/auth/auth.c: challenges and full verification of decoded
 * requests. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "auth/auth.h"
#include "check_run.h"
#include "sip/sipmock.h"

#define REALM "example.test"
#define RURI "sip:example.test"

static const uint8_t secret[32] = "0123456789abcdef0123456789abcdef";
static struct hr_auth *a;
static struct hr_msg *msg;
static unsigned ha1_calls;

static void setup(void)
{
	struct hr_auth_cfg cfg = { .secret = secret, .secret_len = 32 };

	ha1_calls = 0;
	ck_assert_int_eq(hr_auth_alloc(&a, &cfg), 0);
}

static void teardown(void)
{
	msg = hr_mem_deref(msg);
	a = hr_mem_deref(a);
	ck_assert_uint_eq(hr_mem_live(), 0);
}

/* The store: alice has password "secret" in REALM; the HA1 is made from
 * the username as given, so "alice@" (sipsak) is another user. */
static int ha1h(const struct hr_pl *username, const char *realm,
	enum hr_digest_alg alg, char *ha1, size_t n, void *arg)
{
	ha1_calls++;
	if (hr_pl_strcmp(username, "alice") || strcmp(realm, REALM))
		return ENOENT;
	return hr_digest_ha1(ha1, n, alg, "alice", realm, "secret");
}

/* What goes into one Authorization header. */
struct cred {
	const char *user, *pass, *realm, *uri, *nc, *alg, *qop, *opaque;
	const char *nonce;      /* NULL: a fresh one from a challenge */
	const char *hdr;        /* "Authorization" unless set */
	const char *ruri;       /* the Request-URI; RURI unless set */
	const char *hash_uri;   /* the uri the response covers; uri unless
				 * set */
	const char *dst;        /* the address it arrived on, if known */
	bool no_opaque;
};

static void challenge_parse(const struct hr_buf *b, unsigned idx,
	struct hr_digest *d)
{
	const char *p = b->b, *end = b->b + b->len;

	const char *eol, *colon;
	struct hr_pl val;

	for (unsigned i = 0; i < idx; i++) {
		p = memchr(p, '\n', (size_t)(end - p));
		ck_assert_ptr_nonnull(p);
		p++;
	}
	eol = memchr(p, '\r', (size_t)(end - p));
	colon = memchr(p, ':', (size_t)(end - p));
	ck_assert_ptr_nonnull(eol);
	ck_assert_ptr_nonnull(colon);
	val.p = colon + 1;
	val.len = (size_t)(eol - colon - 1);
	ck_assert_int_eq(hr_digest_decode(d, &val), 0);
}

/* A fresh nonce for realm, as a client would take it from our 401. */
static void fresh_nonce(const char *realm, char *out, size_t n)
{
	struct hr_buf b;
	struct hr_digest d;

	hr_buf_init(&b, 4096);
	ck_assert_int_eq(hr_auth_challenge(a, &b, realm, false, false), 0);
	challenge_parse(&b, 0, &d);
	ck_assert_int_eq(hr_pl_strcpy(&d.nonce, out, n), 0);
	hr_buf_reset(&b);
}

static void opaque_of(char *out, size_t n)
{
	struct hr_buf b;
	struct hr_digest d;

	hr_buf_init(&b, 4096);
	ck_assert_int_eq(hr_auth_challenge(a, &b, REALM, false, false), 0);
	challenge_parse(&b, 0, &d);
	ck_assert_int_eq(hr_pl_strcpy(&d.opaque, out, n), 0);
	hr_buf_reset(&b);
}

/* Build and decode a REGISTER carrying the credentials c; the response
 * is computed by the client side of the test. */
static struct hr_msg *mkreq(const struct cred *c, char *nonce, size_t nn)
{
	char resp[HR_DIGEST_HEX_MAX], ha1[HR_DIGEST_HEX_MAX];
	char opaque[64], text[2048];
	enum hr_digest_alg alg;
	struct hr_digest d = { 0 };
	struct hr_msg *m = NULL;
	const char *realm = c->realm ? c->realm : REALM;
	int len;

	if (c->nonce)
		snprintf(nonce, nn, "%s", c->nonce);
	else
		fresh_nonce(realm, nonce, nn);
	if (c->opaque)
		snprintf(opaque, sizeof(opaque), "%s", c->opaque);
	else
		opaque_of(opaque, sizeof(opaque));
	ck_assert_int_eq(hr_digest_alg_decode(&(struct hr_pl){ c->alg,
		c->alg ? strlen(c->alg) : 0 }, &alg), 0);
	d.uri = hr_pl_str(c->uri ? c->uri : RURI);
	d.nonce = hr_pl_str(nonce);
	d.nc = hr_pl_str(c->nc ? c->nc : "00000001");
	d.cnonce = HR_PL("0a4f113b");
	if (!c->qop || *c->qop)
		d.qop = hr_pl_str(c->qop ? c->qop : "auth");
	ck_assert_int_eq(hr_digest_ha1(ha1, sizeof(ha1), alg,
		c->user ? c->user : "alice", realm,
		c->pass ? c->pass : "secret"), 0);
	if (c->hash_uri)
		d.uri = hr_pl_str(c->hash_uri);
	ck_assert_int_eq(hr_digest_response(resp, sizeof(resp), alg, ha1, &d,
		&HR_PL("REGISTER")), 0);
	d.uri = hr_pl_str(c->uri ? c->uri : RURI);
	len = snprintf(text, sizeof(text),
		"REGISTER %s SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n"
		"Max-Forwards: 70\r\n"
		"From: <sip:alice@example.test>;tag=1\r\n"
		"To: <sip:alice@example.test>\r\n"
		"Call-ID: c1\r\n"
		"CSeq: 2 REGISTER\r\n"
		"%s: Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", "
		"uri=\"%.*s\", response=\"%s\"%s%s, cnonce=\"0a4f113b\", "
		"nc=%.*s%s%s%s%s%s\r\n"
		"Content-Length: 0\r\n\r\n",
		c->ruri ? c->ruri : RURI, c->hdr ? c->hdr : "Authorization",
		c->user ? c->user : "alice", realm, nonce, HR_PL_ARG(d.uri),
		resp, c->alg ? ", algorithm=" : "", c->alg ? c->alg : "",
		HR_PL_ARG(d.nc), d.qop.p ? ", qop=" : "",
		d.qop.p ? c->qop ? c->qop : "auth" : "",
		c->no_opaque ? "" : ", opaque=\"",
		c->no_opaque ? "" : opaque, c->no_opaque ? "" : "\"");
	ck_assert_int_lt(len, (int)sizeof(text));
	ck_assert_int_eq(hr_msg_decode(&m, text, (size_t)len, false), 0);
	ck_assert_uint_eq(m->err_scode, 0);
	if (c->dst)
		ck_assert_int_eq(hr_sa_decode(&m->dst, c->dst), 0);
	return m;
}

static enum hr_auth_result verify_msg(const struct hr_msg *m,
	struct hr_pl *user)
{
	enum hr_auth_result res = HR_AUTH_OK;
	struct hr_pl u = HR_PL_INIT;

	ck_assert_int_eq(hr_auth_verify(a, m, REALM, ha1h, NULL, &res,
		user ? user : &u), 0);
	return res;
}

static enum hr_auth_result verify(const struct cred *c)
{
	char nonce[128];

	msg = hr_mem_deref(msg);
	msg = mkreq(c, nonce, sizeof(nonce));
	return verify_msg(msg, NULL);
}

/* Decode raw request text. */
static enum hr_auth_result verify_text(const char *authz)
{
	char text[2048];
	int len;

	len = snprintf(text, sizeof(text),
		"REGISTER " RURI " SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n"
		"From: <sip:alice@example.test>;tag=1\r\n"
		"To: <sip:alice@example.test>\r\n"
		"Call-ID: c1\r\nCSeq: 2 REGISTER\r\n%s"
		"Content-Length: 0\r\n\r\n", authz);
	msg = hr_mem_deref(msg);
	ck_assert_int_eq(hr_msg_decode(&msg, text, (size_t)len, false), 0);
	return verify_msg(msg, NULL);
}

/* Clients named in md5_agents get the MD5 challenge alone. */
START_TEST(test_md5_agents)
{
	static const char *const agents[] = { "sipsak" };
	struct hr_auth_cfg cfg = { .secret = secret, .secret_len = 32,
		.md5_agents = agents, .nmd5_agents = 1 };
	struct hr_auth *b;
	struct hr_buf hdrs;
	struct hr_msg *m;
	const char *t[2] = {
		"OPTIONS sip:example.test SIP/2.0\r\nVia: SIP/2.0/UDP h;"
		"branch=z9hG4bK1\r\nFrom: <sip:a@example.test>;tag=1\r\n"
		"To: <sip:a@example.test>\r\nCall-ID: x\r\n"
		"CSeq: 1 OPTIONS\r\nUser-Agent: sipsak 0.9.8.1\r\n\r\n",
		"OPTIONS sip:example.test SIP/2.0\r\nVia: SIP/2.0/UDP h;"
		"branch=z9hG4bK1\r\nFrom: <sip:a@example.test>;tag=1\r\n"
		"To: <sip:a@example.test>\r\nCall-ID: x\r\n"
		"CSeq: 1 OPTIONS\r\nUser-Agent: baresip\r\n\r\n",
	};

	ck_assert_int_eq(hr_auth_alloc(&b, &cfg), 0);
	for (int i = 0; i < 2; i++) {
		hr_buf_init(&hdrs, 4096);
		ck_assert_int_eq(hr_msg_decode(&m, t[i], strlen(t[i]), false), 0);
		ck_assert_int_eq(hr_auth_challenge_req(b, &hdrs, m,
			"example.test", false, false), 0);
		ck_assert_int_eq(hr_buf_write(&hdrs, "", 1), 0);
		ck_assert_ptr_nonnull(strstr(hdrs.b, "algorithm=MD5"));
		if (i == 0)
			ck_assert_ptr_null(strstr(hdrs.b, "SHA-256"));
		else
			ck_assert(strstr(hdrs.b, "SHA-256") <
				strstr(hdrs.b, "MD5"));
		hr_mem_deref(m);
		hr_buf_reset(&hdrs);
	}
	hr_mem_deref(b);
}
END_TEST

START_TEST(test_ok)
{
	struct hr_pl user = HR_PL_INIT;
	char nonce[128];

	msg = mkreq(&(struct cred){ 0 }, nonce, sizeof(nonce));
	ck_assert_int_eq(verify_msg(msg, &user), HR_AUTH_OK);
	ck_assert(!hr_pl_strcmp(&user, "alice"));
	ck_assert_int_eq(verify(&(struct cred){ .alg = "SHA-256" }),
		HR_AUTH_OK);
	ck_assert_int_eq(verify(&(struct cred){ .alg = "sha-256" }),
		HR_AUTH_OK);
	ck_assert_int_eq(verify(&(struct cred){ .alg = "MD5" }), HR_AUTH_OK);
	/* opaque left out: accepted */
	ck_assert_int_eq(verify(&(struct cred){ .no_opaque = true }),
		HR_AUTH_OK);
	/* the Proxy- form is read too */
	ck_assert_int_eq(verify(&(struct cred){
		.hdr = "Proxy-Authorization" }), HR_AUTH_OK);
}
END_TEST

START_TEST(test_no_credentials)
{
	ck_assert_int_eq(verify_text(""), HR_AUTH_CHALLENGE);
	ck_assert_int_eq(verify_text("Authorization: Basic YWxpY2U6c2VjcmV0"
		"\r\n"), HR_AUTH_CHALLENGE);
	ck_assert_uint_eq(ha1_calls, 0);
}
END_TEST

START_TEST(test_wrong_password_unknown_user)
{
	ck_assert_int_eq(verify(&(struct cred){ .pass = "guess" }),
		HR_AUTH_FORBIDDEN);
	ck_assert_int_eq(verify(&(struct cred){ .user = "mallory" }),
		HR_AUTH_FORBIDDEN);
	ck_assert_int_eq(verify(&(struct cred){ .user = "alice@" }),
		HR_AUTH_FORBIDDEN);
	ck_assert_int_eq(verify(&(struct cred){ .pass = "guess",
		.alg = "SHA-256" }), HR_AUTH_FORBIDDEN);
	ck_assert_uint_eq(ha1_calls, 4);
}
END_TEST

START_TEST(test_uri_mismatch)
{
	ck_assert_int_eq(verify(&(struct cred){ .uri = "sip:other.test" }),
		HR_AUTH_FORBIDDEN);
	ck_assert_int_eq(verify(&(struct cred){ .uri = "sip:x.test",
		.ruri = "sip:x.test" }), HR_AUTH_OK);
}
END_TEST

/* The digest uri against the Request-URI in both modes (digest_uri.c);
 * the loose verifier serves example.test and example.org. */
struct uricase {
	const char *uri, *ruri, *dst;
	enum hr_auth_result strict, loose;
};

#define OK HR_AUTH_OK
#define NO HR_AUTH_FORBIDDEN
#define DST "192.0.2.10:5060"

static const struct uricase uricases[] = {
	/* the same URI (RFC 3261 19.1.4), however spelt */
	{ RURI, NULL, NULL, OK, OK },
	{ "sip:EXAMPLE.test", NULL, NULL, OK, OK },
	{ "SIP:example.test;newparam=5", NULL, NULL, OK, OK },
	{ "sip:example.test;transport=udp", "sip:example.test;transport=UDP",
	  NULL, OK, OK },
	{ "sip:%61lice@example.test", "sip:alice@example.test", NULL, OK, OK },
	/* another URI of a served domain */
	{ "sip:example.test:5060", NULL, NULL, NO, OK },
	{ "sip:example.test;transport=tcp", NULL, NULL, NO, OK },
	{ "sips:example.test", NULL, NULL, NO, OK },
	{ "sip:Example.ORG", NULL, NULL, NO, OK },
	{ "sip:other.test", NULL, NULL, NO, NO },
	/* SIPp: the address it sent to, which is where the request came in */
	{ "sip:192.0.2.10:5060", NULL, DST, NO, OK },
	{ "sip:192.0.2.10", NULL, DST, NO, OK },
	{ "sip:192.0.2.10:5070", NULL, DST, NO, NO },
	{ "sip:192.0.2.11:5060", NULL, DST, NO, NO },
	{ "sip:192.0.2.10:5060", NULL, NULL, NO, NO },
	{ "sip:[2001:DB8:0::1]:5060", NULL, "[2001:db8::1]:5060", NO, OK },
	/* the Request-URI's address-of-record, or its user at our address */
	{ "sip:bob@example.test", "sip:bob@192.0.2.10:5060;transport=tcp",
	  NULL, NO, OK },
	{ "sip:b%6Fb@example.test", "sip:bob@192.0.2.10", NULL, NO, OK },
	{ "sip:bob@192.0.2.10:5060", "sip:bob@example.test", DST, NO, OK },
	{ "sip:carol@example.test", "sip:bob@192.0.2.10", NULL, NO, NO },
	{ "sip:BOB@example.test", "sip:bob@example.test", NULL, NO, NO },
	{ "sip:bob@example.test", NULL, NULL, NO, NO },
	{ "sip:bob@other.test", "sip:bob@example.test", NULL, NO, NO },
	{ "sip:192.0.2.10:5060", "sip:bob@example.test", DST, NO, OK },
	/* no SIP URI: compared byte for byte, so never a match here */
	{ "tel:+15550100", NULL, NULL, NO, NO },
	{ "*", NULL, NULL, NO, NO },
	{ "/example.test", NULL, NULL, NO, NO },
};

static void loose_auth(void)
{
	static const char *const domains[] = { "example.test", "example.org" };
	struct hr_auth_cfg cfg = { .secret = secret, .secret_len = 32,
		.uri_check = HR_AUTH_URI_LOOSE, .domains = domains,
		.ndomains = 2 };

	a = hr_mem_deref(a);
	ck_assert_int_eq(hr_auth_alloc(&a, &cfg), 0);
}

START_TEST(test_uri_modes)
{
	const struct uricase *u = &uricases[_i];
	struct cred c = { .uri = u->uri, .ruri = u->ruri, .dst = u->dst };

	ck_assert_msg(verify(&c) == u->strict, "strict: uri %s, Request-URI "
		"%s", u->uri, u->ruri ? u->ruri : RURI);
	loose_auth();
	ck_assert_msg(verify(&c) == u->loose, "loose: uri %s, Request-URI %s",
		u->uri, u->ruri ? u->ruri : RURI);
}
END_TEST

/* Loose takes another uri, but the response must still cover it. */
START_TEST(test_uri_loose_hash)
{
	enum hr_auth_uri_check v = HR_AUTH_URI_LOOSE;

	loose_auth();
	ck_assert_int_eq(verify(&(struct cred){ .uri = "sip:192.0.2.10:5060",
		.dst = DST }), HR_AUTH_OK);
	ck_assert_int_eq(verify(&(struct cred){ .uri = "sip:192.0.2.10:5060",
		.hash_uri = RURI, .dst = DST }), HR_AUTH_FORBIDDEN);
	ck_assert_int_eq(verify(&(struct cred){ .uri = RURI,
		.hash_uri = "sip:192.0.2.10:5060", .dst = DST }),
		HR_AUTH_FORBIDDEN);
	ck_assert_int_eq(hr_auth_uri_check_decode("strict", &v), 0);
	ck_assert_int_eq(v, HR_AUTH_URI_STRICT);
	ck_assert_int_eq(hr_auth_uri_check_decode("loose", &v), 0);
	ck_assert_int_eq(v, HR_AUTH_URI_LOOSE);
	ck_assert_int_eq(hr_auth_uri_check_decode("Loose", &v), EINVAL);
	ck_assert_int_eq(hr_auth_uri_check_decode("", &v), EINVAL);
}
END_TEST

START_TEST(test_other_realm)
{
	char n[128];

	/* a nonce of ours for other.test, credentials for other.test */
	ck_assert_int_eq(verify(&(struct cred){ .realm = "other.test" }),
		HR_AUTH_CHALLENGE);
	/* our realm but a nonce made for another realm: not ours */
	fresh_nonce("other.test", n, sizeof(n));
	ck_assert_int_eq(verify(&(struct cred){ .nonce = n }),
		HR_AUTH_CHALLENGE);
	ck_assert_uint_eq(ha1_calls, 0);
}
END_TEST

START_TEST(test_foreign_nonce)
{
	char n[128];

	fresh_nonce(REALM, n, sizeof(n));
	n[10] = n[10] == 'a' ? 'b' : 'a';
	ck_assert_int_eq(verify(&(struct cred){ .nonce = n }),
		HR_AUTH_CHALLENGE);
	ck_assert_int_eq(verify(&(struct cred){
		.nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v" }),
		HR_AUTH_CHALLENGE);
	ck_assert_uint_eq(ha1_calls, 0);
}
END_TEST

START_TEST(test_stale)
{
	char n[128];

	fresh_nonce(REALM, n, sizeof(n));
	hr_auth_time_advance(a, 301);
	ck_assert_int_eq(verify(&(struct cred){ .nonce = n }),
		HR_AUTH_STALE);
	ck_assert_int_eq(verify(&(struct cred){ .nonce = n, .pass = "x" }),
		HR_AUTH_FORBIDDEN);
	ck_assert_int_eq(verify(&(struct cred){ .nonce = n, .user = "bob" }),
		HR_AUTH_FORBIDDEN);
}
END_TEST

START_TEST(test_nc_replay)
{
	char n[128];

	fresh_nonce(REALM, n, sizeof(n));
	ck_assert_int_eq(verify(&(struct cred){ .nonce = n, .nc = "00000001" }),
		HR_AUTH_OK);
	ck_assert_int_eq(verify(&(struct cred){ .nonce = n, .nc = "00000002" }),
		HR_AUTH_OK);
	ck_assert_int_eq(verify(&(struct cred){ .nonce = n, .nc = "00000002" }),
		HR_AUTH_FORBIDDEN);
	ck_assert_int_eq(verify(&(struct cred){ .nonce = n, .nc = "00000001" }),
		HR_AUTH_FORBIDDEN);
	/* Linphone's un-REGISTER: the same nonce, a higher nc, later */
	hr_auth_time_advance(a, 200);
	ck_assert_int_eq(verify(&(struct cred){ .nonce = n, .nc = "0000000A" }),
		HR_AUTH_OK);
	/* a wrong response with a high nc must not burn the counter */
	ck_assert_int_eq(verify(&(struct cred){ .nonce = n, .nc = "ffffffff",
		.pass = "x" }), HR_AUTH_FORBIDDEN);
	ck_assert_int_eq(verify(&(struct cred){ .nonce = n, .nc = "0000000b" }),
		HR_AUTH_OK);
	/* a different nonce has its own counter */
	ck_assert_int_eq(verify(&(struct cred){ .nc = "00000001" }),
		HR_AUTH_OK);
}
END_TEST

START_TEST(test_refused_modes)
{
	/* RFC 2069 style, no qop: refused */
	ck_assert_int_eq(verify(&(struct cred){ .qop = "" }),
		HR_AUTH_FORBIDDEN);
	ck_assert_int_eq(verify(&(struct cred){ .opaque = "0000" }),
		HR_AUTH_FORBIDDEN);
	ck_assert_int_eq(verify_text("Authorization: Digest username=\"alice\""
		", realm=\"" REALM "\", nonce=\"x\", uri=\"" RURI "\", "
		"response=\"00\", algorithm=MD5-sess\r\n"), HR_AUTH_CHALLENGE);
	ck_assert_uint_eq(ha1_calls, 0);
}
END_TEST

static void refused_alg(const char *alg)
{
	char n[128], text[1024];

	fresh_nonce(REALM, n, sizeof(n));
	snprintf(text, sizeof(text), "Authorization: Digest username=\"alice\""
		", realm=\"" REALM "\", nonce=\"%s\", uri=\"" RURI "\", "
		"response=\"0123456789abcdef0123456789abcdef\", cnonce=\"c\", "
		"nc=00000001, qop=auth, algorithm=%s\r\n", n, alg);
	ck_assert_int_eq(verify_text(text), HR_AUTH_FORBIDDEN);
}

START_TEST(test_refused_alg)
{
	refused_alg("MD5-sess");
	refused_alg("SHA-256-sess");
	refused_alg("SHA-512-256");
	ck_assert_uint_eq(ha1_calls, 0);
}
END_TEST

static void bad(const char *params)
{
	char n[128], text[1024];

	fresh_nonce(REALM, n, sizeof(n));
	snprintf(text, sizeof(text), "Authorization: Digest realm=\"" REALM
		"\", nonce=\"%s\"%s\r\n", n, params);
	ck_assert_msg(verify_text(text) == HR_AUTH_BAD, "%s", params);
}

START_TEST(test_malformed)
{
	static const char resp[] =
		"response=\"0123456789abcdef0123456789abcdef\"";
	static const char *const tail[] = {
		", qop=auth, nc=00000001",                 /* no cnonce */
		", qop=auth, cnonce=\"c\"",                /* no nc */
		", qop=auth, cnonce=\"c\", nc=1",          /* short nc */
		", qop=auth, cnonce=\"c\", nc=0000000g",   /* not hex */
		", qop=auth, cnonce=\"c\", nc=00000000",   /* zero */
	};
	char p[512];

	ck_assert_int_eq(verify_text("Authorization: Digest realm\r\n"),
		HR_AUTH_BAD);
	ck_assert_int_eq(verify_text("Authorization: Digest realm=\""
		REALM "\", realm=\"x\"\r\n"), HR_AUTH_BAD);
	bad(", uri=\"" RURI "\", response=\"00\"");       /* no username */
	bad(", username=\"alice\", response=\"00\"");     /* no uri */
	bad(", username=\"alice\", uri=\"" RURI "\"");    /* no response */
	for (size_t i = 0; i < sizeof(tail) / sizeof(tail[0]); i++) {
		snprintf(p, sizeof(p), ", username=\"alice\", uri=\""
			RURI "\", %s%s", resp, tail[i]);
		bad(p);
	}
	/* a response of the wrong length for the algorithm */
	snprintf(p, sizeof(p), ", username=\"alice\", uri=\"" RURI
		"\", %s, algorithm=SHA-256, qop=auth, cnonce=\"c\", "
		"nc=00000001", resp);
	bad(p);
	bad(", username=\"alice\", uri=\"" RURI "\", response=\"xyz\","
		" qop=auth, cnonce=\"c\", nc=00000001");
	ck_assert_uint_eq(ha1_calls, 0);
}
END_TEST

/* An error from the store is passed up, not turned into a 403. */
static int ha1_fail(const struct hr_pl *username, const char *realm,
	enum hr_digest_alg alg, char *ha1, size_t n, void *arg)
{
	return EIO;
}

START_TEST(test_store_error)
{
	enum hr_auth_result res;
	struct hr_pl user;
	char nonce[128];

	msg = mkreq(&(struct cred){ 0 }, nonce, sizeof(nonce));
	ck_assert_int_eq(hr_auth_verify(a, msg, REALM, ha1_fail, NULL, &res,
		&user), EIO);
	ck_assert_int_eq(hr_auth_verify(a, msg, REALM, NULL, NULL, &res,
		&user), EINVAL);
}
END_TEST

START_TEST(test_challenge)
{
	struct hr_buf b;
	struct hr_digest d1, d2;
	char n1[128];

	hr_buf_init(&b, 4096);
	ck_assert_int_eq(hr_auth_challenge(a, &b, REALM, false, false), 0);
	ck_assert(!strncmp(b.b, "WWW-Authenticate: Digest ", 25));
	challenge_parse(&b, 0, &d1);
	challenge_parse(&b, 1, &d2);
	ck_assert(!hr_pl_strcmp(&d1.algorithm, "SHA-256"));
	ck_assert(!hr_pl_strcmp(&d2.algorithm, "MD5"));
	ck_assert(!hr_pl_strcmp(&d1.realm, REALM));
	ck_assert(!hr_pl_strcmp(&d1.qop, "auth"));
	ck_assert(!hr_pl_isset(&d1.stale));
	ck_assert(hr_pl_isset(&d1.opaque));
	ck_assert(!hr_pl_cmp(&d1.opaque, &d2.opaque));
	ck_assert(hr_pl_cmp(&d1.nonce, &d2.nonce));
	ck_assert_int_eq(hr_pl_strcpy(&d1.nonce, n1, sizeof(n1)), 0);
	ck_assert(!memcmp(b.b + b.len - 2, "\r\n", 2));
	hr_buf_reset(&b);

	hr_buf_init(&b, 4096);
	ck_assert_int_eq(hr_auth_challenge(a, &b, REALM, true, true), 0);
	ck_assert(!strncmp(b.b, "Proxy-Authenticate: Digest ", 27));
	challenge_parse(&b, 1, &d2);
	ck_assert(!hr_pl_strcmp(&d2.stale, "true"));
	ck_assert_int_eq(hr_auth_challenge(a, &b, "bad\"realm", 0, 0), EINVAL);
	ck_assert_int_eq(hr_auth_challenge(a, &b, "bad\r\nX: y", 0, 0),
		EINVAL);
	hr_buf_reset(&b);

	/* a cap too small: nothing half-written */
	hr_buf_init(&b, 200);
	ck_assert_int_eq(hr_auth_challenge(a, &b, REALM, false, false),
		EMSGSIZE);
	ck_assert_uint_eq(b.len, 0);
	hr_buf_reset(&b);

	/* what we issue verifies */
	ck_assert_int_eq(verify(&(struct cred){ .nonce = n1,
		.alg = "SHA-256" }), HR_AUTH_OK);
}
END_TEST

/* Several credentials: the one for our realm with our nonce wins. */
START_TEST(test_several)
{
	char text[2048], nonce[128];
	struct hr_msg *good;
	const char *authz;
	int len;

	good = mkreq(&(struct cred){ 0 }, nonce, sizeof(nonce));
	authz = strstr(good->buf, "Authorization:");
	ck_assert_ptr_nonnull(authz);
	len = snprintf(text, sizeof(text), "Authorization: Digest username="
		"\"alice\", realm=\"elsewhere.test\", nonce=\"x\", uri=\"" RURI
		"\", response=\"00\"\r\n"
		"Authorization: Digest username=\"alice\", realm=\"" REALM
		"\", nonce=\"abcd\", uri=\"" RURI "\", response=\"00\"\r\n"
		"%.*s", (int)(strstr(authz, "\r\n") + 2 - authz), authz);
	ck_assert_int_lt(len, (int)sizeof(text));
	ck_assert_int_eq(verify_text(text), HR_AUTH_OK);
	hr_mem_deref(good);
}
END_TEST

static unsigned handled;

static void reg_handler(struct hr_strans *st, const struct hr_msg *req,
	void *arg)
{
	struct hr_pl user;

	(void)arg;
	handled++;
	ck_assert(!hr_auth_request(a, st, req, REALM, ha1h, NULL, &user));
}

#define UNAUTH(authz) "REGISTER " RURI " SIP/2.0\r\n" \
	"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKch1\r\n" \
	"Max-Forwards: 70\r\nTo: <sip:alice@" REALM ">\r\n" \
	"From: <sip:alice@" REALM ">;tag=a1\r\nCall-ID: ch1@h\r\n" \
	"CSeq: 1 REGISTER\r\n" authz "Content-Length: 0\r\n\r\n"

/* A refusal of credentials keeps no server transaction (not even Timer
 * J's 32 s over UDP): a retransmission is a new request, refused again. */
START_TEST(test_refusal_is_stateless)
{
	static const unsigned codes[] = { 401, 403, 400 };
	char nonce[128], bob[2048];
	const char *reqs[] = { UNAUTH(""), bob,
		UNAUTH("Authorization: Digest username=\r\n") };

	/* a user we do not know, with a nonce of ours: 403 */
	fresh_nonce(REALM, nonce, sizeof(nonce));
	snprintf(bob, sizeof(bob), UNAUTH("Authorization: Digest username="
		"\"bob\", realm=\"" REALM "\", nonce=\"%s\", uri=\"" RURI
		"\", response=\"00000000000000000000000000000000\", qop=auth, "
		"nc=00000001, cnonce=\"c\"\r\n"), nonce);
	handled = 0;
	mock_setup();
	hr_sip_handle(mock.sip, HR_METH_REGISTER, reg_handler, NULL);
	for (unsigned i = 0; i < 3; i++) {
		for (unsigned k = 0; k < 2; k++) {
			mock_recv(HR_TP_UDP, reqs[i]);
			ck_assert_uint_eq(mock_status(mock.n - 1), codes[i]);
			ck_assert_uint_eq(hr_sip_strans_count(mock.sip), 0);
		}
	}
	ck_assert_uint_eq(handled, 6);
	ck_assert_uint_eq(hr_tmr_count(), 0);
	mock_clear();
	mock.sip = hr_mem_deref(mock.sip);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("auth");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_ok);
	tcase_add_test(tc, test_md5_agents);
	tcase_add_test(tc, test_no_credentials);
	tcase_add_test(tc, test_wrong_password_unknown_user);
	tcase_add_test(tc, test_uri_mismatch);
	tcase_add_loop_test(tc, test_uri_modes, 0,
		sizeof(uricases) / sizeof(uricases[0]));
	tcase_add_test(tc, test_uri_loose_hash);
	tcase_add_test(tc, test_other_realm);
	tcase_add_test(tc, test_foreign_nonce);
	tcase_add_test(tc, test_stale);
	tcase_add_test(tc, test_nc_replay);
	tcase_add_test(tc, test_refused_modes);
	tcase_add_test(tc, test_refused_alg);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_store_error);
	tcase_add_test(tc, test_challenge);
	tcase_add_test(tc, test_several);
	tcase_add_test(tc, test_refusal_is_stateless);
	suite_add_tcase(s, tc);
	return hr_check_run(s);
}
