/*
 * Which served domain a request is for, and the address-of-record a URI
 * names in it (RFC 3261 10.3 steps 1 and 5). Shared by REGISTER,
 * SUBSCRIBE and PUBLISH.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "sip_int.h"

/* A control character (escaped in the URI: %0D%0A): no user has one,
 * and it would let a name forge log lines or database rows' text. */
static bool has_ctl(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	}
	return false;
}

int hr_uri_aor(const struct hr_uri *uri, const char *domain, char *out,
	size_t n)
{
	char user[256];
	size_t len;

	if (uri->scheme != HR_URI_SIP && uri->scheme != HR_URI_SIPS)
		return EINVAL;
	/* RFC 3261 19.1.4: user parts compare after unescaping */
	if (!uri->user.len || hr_uri_unescape(&uri->user, user, sizeof(user),
		&len) || memchr(user, '@', len))
		return EINVAL;
	if (has_ctl(user, len))
		return EBADMSG;
	if ((size_t)snprintf(out, n, "%.*s@%s", (int)len, user, domain) >= n)
		return EINVAL;
	return 0;
}

bool hr_uri_is_addr(const struct hr_uri *uri, const struct hr_sa *sa)
{
	char host[64];
	struct hr_sa u;

	if (!sa->len || hr_pl_strcpy(&uri->host, host, sizeof(host)))
		return false;
	return !hr_sa_set(&u, host, uri->port ? uri->port : hr_sa_port(sa)) &&
		hr_sa_eq(&u, sa);
}

/* Is the Request-URI host the address this request arrived on? */
static bool names_us(const struct hr_msg *req)
{
	return hr_uri_is_addr(&req->ruri, &req->dst);
}

static const char *served(const struct hr_pl *host,
	const char *const *domains, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (!hr_pl_strcasecmp(host, domains[i]))
			return domains[i];
	}
	return NULL;
}

const char *hr_req_domain(const struct hr_msg *req,
	const char *const *domains, unsigned n)
{
	const char *d = served(&req->ruri.host, domains, n);

	/* a UA configured with the server's address rather than the
	 * domain names us: the domain is To's */
	if (!d && names_us(req))
		d = served(&req->to.uri.host, domains, n);
	return d;
}
