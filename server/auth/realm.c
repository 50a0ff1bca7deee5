/*
 * The realm: the domains Herald serves, the digest verifier and the
 * users behind them, made once and shared by REGISTER, SUBSCRIBE and
 * PUBLISH, which open a request the same way: a served domain, then the
 * credentials (RFC 3261 22.4), then the identity they prove.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "auth_int.h"

#define HR_LOG_MODULE "auth"

struct hr_realm {
	char **domains;               /* lowercased copies */
	unsigned ndomains;
	unsigned challenge;
	struct hr_auth *authn;
	hr_auth_ha1_h *ha1h;
	hr_user_exists_h *existsh;
	hr_user_exists_h *monitorh;
	void *users;
	struct hr_net *trusted;       /* copies */
	unsigned ntrusted;
};

static void realm_destroy(void *data)
{
	struct hr_realm *r = data;

	hr_mem_deref(r->domains);
	hr_mem_deref(r->authn);
	free(r->trusted);
}

int hr_realm_alloc(struct hr_realm **rp, const struct hr_realm_cfg *cfg)
{
	struct hr_realm *r;

	if (!rp || !cfg || (cfg->challenge && (!cfg->authn || !cfg->ha1h)))
		return EINVAL;
	r = hr_mem_zalloc(sizeof(*r), realm_destroy);
	if (!r)
		return ENOMEM;
	r->domains = hr_strv_lower(cfg->domains, cfg->ndomains);
	if (!r->domains) {
		hr_mem_deref(r);
		return ENOMEM;
	}
	r->ndomains = cfg->ndomains;
	r->challenge = cfg->challenge;
	r->authn = hr_mem_ref(cfg->authn);
	r->ha1h = cfg->ha1h;
	r->existsh = cfg->existsh;
	r->monitorh = cfg->monitorh;
	r->users = cfg->users;
	if (cfg->ntrusted) {
		r->trusted = malloc(cfg->ntrusted * sizeof(*r->trusted));
		if (!r->trusted) {
			hr_mem_deref(r);
			return ENOMEM;
		}
		memcpy(r->trusted, cfg->trusted, cfg->ntrusted *
			sizeof(*r->trusted));
		r->ntrusted = cfg->ntrusted;
	}
	*rp = r;
	return 0;
}

unsigned hr_realm_ndomains(const struct hr_realm *r)
{
	return r->ndomains;
}

bool hr_realm_serves(const struct hr_realm *r, const char *domain)
{
	for (unsigned i = 0; i < r->ndomains; i++) {
		if (!strcasecmp(r->domains[i], domain))
			return true;
	}
	return false;
}

const char *hr_realm_domain(const struct hr_realm *r,
	const struct hr_msg *req)
{
	return hr_req_domain(req, (const char *const *)r->domains,
		r->ndomains);
}

/* The digest username's user part ("alice", "alice@example.test",
 * sipsak's "alice@") in domain: "alice@example.test"; false when it does
 * not fit in n. */
static bool identity(const struct hr_pl *username, const char *domain,
	char *id, size_t n)
{
	const char *at = hr_pl_chr(username, '@');
	size_t ulen = at ? (size_t)(at - username->p) : username->len;

	if (ulen + strlen(domain) + 2 > n)
		return false;
	snprintf(id, n, "%.*s@%s", (int)ulen, username->p, domain);
	return true;
}

/* A PUBLISH from a trusted publisher: the proxy or PBX that sees the
 * calls (dialog), the voicemail system (message-summary) publish for
 * their users, with no credentials of theirs. */
static bool trusted(const struct hr_realm *r, const struct hr_msg *req)
{
	if (req->meth != HR_METH_PUBLISH)
		return false;
	for (unsigned i = 0; i < r->ntrusted; i++) {
		if (hr_net_has(&r->trusted[i], &req->src))
			return true;
	}
	return false;
}

bool hr_realm_open(struct hr_realm *r, struct hr_strans *st,
	const struct hr_msg *req, const char *domain, const char *aor,
	char *id, size_t n)
{
	struct hr_pl user;
	bool mine;

	if (id && n)
		*id = '\0';
	if (!(r->challenge & HR_REALM_METH(req->meth)) || trusted(r, req))
		return true;
	if (!hr_auth_request(r->authn, st, req, domain, r->ha1h, r->users,
		&user))
		return false;
	/* RFC 3261 10.3 step 4, RFC 3903 14.1: a user changes only its own
	 * AOR's bindings and publications */
	mine = aor ? hr_auth_user_is(&user, aor, domain) :
		identity(&user, domain, id, n);
	if (!mine) {
		r->authn->failures[HR_AUTH_FAIL_IDENTITY]++;
		hr_strans_replyh(st, 403, "Forbidden", NULL);
	}
	return mine;
}

void hr_realm_auth_failures(const struct hr_realm *r,
	uint64_t out[HR_AUTH_FAIL__N])
{
	if (r->authn)
		hr_auth_failures(r->authn, out);
	else
		memset(out, 0, HR_AUTH_FAIL__N * sizeof(*out));
}

bool hr_realm_exists(const struct hr_realm *r, const char *aor)
{
	return hr_user_check(r->existsh, aor, r->users);
}

bool hr_realm_user_exists(const struct hr_realm *r, const char *user,
	const char *domain)
{
	return !r->existsh || r->existsh(user, domain, r->users);
}

bool hr_realm_is_monitor(const struct hr_realm *r, const char *aor)
{
	return r->monitorh && hr_user_check(r->monitorh, aor, r->users);
}
