/*
 * Authenticating a request in a server transaction, answering it when
 * that fails (RFC 3261 22.4): the common path of REGISTER, SUBSCRIBE and
 * PUBLISH.
 */
#include <string.h>
#include "auth_int.h"

#define HR_LOG_MODULE "auth"

/*
 * A refusal of credentials ends the transaction at once (RFC 3261 8.2.7,
 * 17.2.2): nothing changed, and a retransmission is refused again (a 401
 * with a new nonce, which is as good). Kept for Timer J, each challenge
 * held ~1.7 kB for 32 s: 150,000 unauthenticated SUBSCRIBEs in 5 s took
 * 260 MB.
 */
static void refuse(struct hr_strans *st, uint16_t scode, const char *reason,
	const char *hdrs)
{
	struct hr_resp resp = { .scode = scode, .reason = reason,
		.hdrs = hr_pl_str(hdrs ? hdrs : "") };

	hr_strans_reply_stateless(st, &resp);
}

bool hr_auth_request(struct hr_auth *a, struct hr_strans *st,
	const struct hr_msg *req, const char *realm, hr_auth_ha1_h *ha1h,
	void *arg, struct hr_pl *user)
{
	enum hr_auth_result res;
	struct hr_buf hdrs;
	int err;

	err = hr_auth_verify(a, req, realm, ha1h, arg, &res, user);
	if (err) {
		hr_strans_fail(st, err, "auth: verifying the credentials");
		return false;
	}
	switch (res) {
	case HR_AUTH_OK:
		return true;
	case HR_AUTH_CHALLENGE:
	case HR_AUTH_STALE:
		hr_buf_init(&hdrs, 4096);
		err = hr_auth_challenge_req(a, &hdrs, req, realm,
			res == HR_AUTH_STALE, false);
		if (!err)
			err = hr_buf_write(&hdrs, "", 1);
		if (err)
			hr_strans_fail(st, err, "auth: the challenge");
		else
			refuse(st, 401, "Unauthorized", hdrs.b);
		hr_buf_reset(&hdrs);
		return false;
	case HR_AUTH_BAD:
		refuse(st, 400, "Bad Authorization", NULL);
		return false;
	case HR_AUTH_FORBIDDEN:
	default:
		refuse(st, 403, "Forbidden", NULL);
		return false;
	}
}

/* The user part of the digest username ("alice", "alice@example.test",
 * sipsak's "alice@") names the user of the AOR user@realm. */
bool hr_auth_user_is(const struct hr_pl *username, const char *aor,
	const char *realm)
{
	const char *at = strchr(aor, '@');
	const char *uat = hr_pl_chr(username, '@');
	size_t ulen = uat ? (size_t)(uat - username->p) : username->len;

	if (!at || ulen != (size_t)(at - aor) || memcmp(username->p, aor, ulen))
		return false;
	return strcmp(at + 1, realm) == 0;
}
