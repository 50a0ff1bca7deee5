/* Digest computations: HA1 and the expected response (RFC 7616 3.4). */
#include <errno.h>
#include <string.h>
#include <openssl/evp.h>
#include "auth_int.h"

/* At most this many pieces are hashed together. */
#define PARTS_MAX 11

static const EVP_MD *md(enum hr_digest_alg alg)
{
	return alg == HR_DIGEST_SHA256 ? EVP_sha256() : EVP_md5();
}

size_t hr_digest_hexlen(enum hr_digest_alg alg)
{
	return alg == HR_DIGEST_SHA256 ? 64 : 32;
}

const char *hr_digest_alg_name(enum hr_digest_alg alg)
{
	return alg == HR_DIGEST_SHA256 ? "SHA-256" : "MD5";
}

/* RFC 7616 3.3: algorithm is case-insensitive; absent means MD5. The
 * -sess variants and SHA-512-256 are never offered, so not accepted. */
int hr_digest_alg_decode(const struct hr_pl *pl, enum hr_digest_alg *alg)
{
	if (!hr_pl_isset(pl) || !hr_pl_strcasecmp(pl, "MD5")) {
		*alg = HR_DIGEST_MD5;
		return 0;
	}
	if (!hr_pl_strcasecmp(pl, "SHA-256")) {
		*alg = HR_DIGEST_SHA256;
		return 0;
	}
	return ENOTSUP;
}

void hr_auth_hex(char *out, const uint8_t *p, size_t n)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[p[i] >> 4];
		out[2 * i + 1] = hx[p[i] & 0xf];
	}
	out[2 * n] = '\0';
}

/* Hash the pieces joined by ':' into lowercase hex. */
static int hash_hex(char *out, size_t n, enum hr_digest_alg alg,
	const struct hr_pl *part, size_t nparts)
{
	uint8_t d[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;
	EVP_MD_CTX *ctx;
	int ok;

	if (n < hr_digest_hexlen(alg) + 1)
		return ENOSPC;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return ENOMEM;
	ok = EVP_DigestInit_ex(ctx, md(alg), NULL);
	for (size_t i = 0; ok && i < nparts; i++) {
		if (i)
			ok = EVP_DigestUpdate(ctx, ":", 1);
		if (ok && part[i].len)
			ok = EVP_DigestUpdate(ctx, part[i].p, part[i].len);
	}
	if (ok)
		ok = EVP_DigestFinal_ex(ctx, d, &dlen);
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return ENOMEM;
	hr_auth_hex(out, d, dlen);
	return 0;
}

int hr_digest_ha1(char *out, size_t n, enum hr_digest_alg alg,
	const char *user, const char *realm, const char *password)
{
	struct hr_pl part[3];

	if (!out || !user || !realm || !password)
		return EINVAL;
	part[0] = hr_pl_str(user);
	part[1] = hr_pl_str(realm);
	part[2] = hr_pl_str(password);
	return hash_hex(out, n, alg, part, 3);
}

int hr_digest_response(char *out, size_t n, enum hr_digest_alg alg,
	const char *ha1, const struct hr_digest *cred,
	const struct hr_pl *method)
{
	char ha2[HR_DIGEST_HEX_MAX];
	struct hr_pl part[PARTS_MAX];
	size_t np = 0;
	int err;

	if (!out || !ha1 || !cred || !method)
		return EINVAL;
	/* A2 = Method ":" request-uri (qop=auth or none) */
	part[0] = *method;
	part[1] = cred->uri;
	err = hash_hex(ha2, sizeof(ha2), alg, part, 2);
	if (err)
		return err;
	part[np++] = hr_pl_str(ha1);
	part[np++] = cred->nonce;
	if (hr_pl_isset(&cred->qop)) {
		/* auth-int would need the body hashed: not offered */
		if (hr_pl_strcasecmp(&cred->qop, "auth"))
			return EINVAL;
		part[np++] = cred->nc;
		part[np++] = cred->cnonce;
		part[np++] = cred->qop;
	}
	part[np++] = hr_pl_str(ha2);
	return hash_hex(out, n, alg, part, np);
}
