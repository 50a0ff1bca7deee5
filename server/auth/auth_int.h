/* Private to server/auth: the verifier's state and the nonce helpers. */
#ifndef HR_AUTH_INT_H
#define HR_AUTH_INT_H

#include <openssl/types.h>
#include "auth.h"

/* nonce = hex(timestamp 8 || random 8 || HMAC-SHA256 truncated to 16) */
#define HR_NONCE_TS 8
/* the issuing node's tag (issue 21), then 8 random bytes */
#define HR_NONCE_NODE 4
#define HR_NONCE_RAND (HR_NONCE_NODE + 8)
#define HR_NONCE_MAC 16
#define HR_NONCE_RAW (HR_NONCE_TS + HR_NONCE_RAND + HR_NONCE_MAC)
#define HR_NONCE_HEX (2 * HR_NONCE_RAW)
#define HR_OPAQUE_HEX 32

struct hr_auth {
	EVP_MAC_CTX *mac;       /* HMAC-SHA256 keyed with the secret */
	EVP_MAC_CTX *work;      /* a copy of mac that each MAC re-inits */
	unsigned ttl_s;
	int64_t time_off;       /* tests move the wall clock */
	char opaque[HR_OPAQUE_HEX + 1];
	struct ncent **nct;     /* nonce -> highest nc seen (nonce.c) */
	uint32_t nct_mask;      /* its buckets - 1 */
	struct ncent *nc_head;  /* the same entries, oldest first */
	struct ncent *nc_tail;
	size_t nc_n;
	size_t nc_max;
	int64_t floor_ts;       /* nonces this old are no longer tracked */
	char **md5_agents;      /* copies of cfg->md5_agents */
	unsigned nmd5_agents;
	enum hr_auth_uri_check uri_check;
	char **domains;         /* copies of cfg->domains */
	unsigned ndomains;
	uint64_t failures[HR_AUTH_FAIL__N];  /* refused, by why */
	uint8_t node[HR_NONCE_NODE];  /* this node's tag: of its id, or 0 */
};

enum hr_nonce_state {
	HR_NONCE_VALID,
	HR_NONCE_STALE,         /* ours, but expired or another node's */
	HR_NONCE_FOREIGN,       /* not issued by us for this realm */
};

enum hr_nc_state {
	HR_NC_OK,               /* higher than any seen: recorded */
	HR_NC_REPLAY,           /* not higher: refuse */
	HR_NC_UNTRACKED,        /* evicted from the table: ask for a new one */
};

/** Does the digest uri duri stand for req's Request-URI? (a->uri_check
 * says how: see digest_uri.c) */
bool hr_auth_uri_ok(const struct hr_auth *a, const struct hr_msg *req,
	const struct hr_pl *duri, const char *realm);
/** Wall-clock seconds of this verifier. */
int64_t hr_auth_now(const struct hr_auth *a);
/** Make a fresh nonce for realm into out (HR_NONCE_HEX + 1 bytes). */
int hr_nonce_make(const struct hr_auth *a, const char *realm, char *out,
	size_t n);
/** Check nonce for realm; raw gets its bytes when not foreign. */
enum hr_nonce_state hr_nonce_check(const struct hr_auth *a,
	const struct hr_pl *nonce, const char *realm,
	uint8_t raw[HR_NONCE_RAW]);
/** Accept nc for a valid nonce only when it is above every one seen. */
enum hr_nc_state hr_nonce_nc(struct hr_auth *a,
	const uint8_t raw[HR_NONCE_RAW], uint32_t nc);
/** The nc table's buckets, about one for every four of nc_max. */
int hr_nonce_init(struct hr_auth *a);
/** Drop every nc table entry, and the buckets. */
void hr_nonce_flush(struct hr_auth *a);
/** HMAC-SHA256 of the n pieces under the secret, truncated to olen. */
int hr_auth_mac(const struct hr_auth *a, const struct hr_pl *part,
	size_t n, uint8_t *out, size_t olen);
/** Lowercase hex of n bytes into out (2n + 1). */
void hr_auth_hex(char *out, const uint8_t *p, size_t n);

#endif
