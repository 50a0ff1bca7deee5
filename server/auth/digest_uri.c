/*
 * Does a digest uri stand for the request it came with? (RFC 3261 22.4
 * item 6, RFC 7616 3.4.6)
 *
 * strict, the default: the uri is the Request-URI, compared as URIs
 * (RFC 3261 19.1.4: "sip:%61lice@HOST;transport=TCP" is
 * "sip:alice@host;transport=tcp", "sip:host" is not "sip:host:5060"). A
 * uri that is no URI at all (RFC 7616 allows other request-target forms)
 * is compared byte for byte: it matches only a Request-URI written alike.
 *
 * loose: also a SIP or SIPS uri whose host names this server, that is a
 * served domain (the realm among them) or, as an address, the one the
 * request arrived on, and whose user part, if it has one, is the
 * Request-URI's: the same address-of-record. SIPp signs
 * "sip:remote_ip:remote_port" whatever its Request-URI; a proxy in front
 * may rewrite the Request-URI. RFC 3261 22.4 item 6 lets a server accept
 * a uri naming "a user for whom the server is willing to accept forwarded
 * or direct requests". Port (for a domain), parameters and headers are not
 * looked at. A UDP socket bound to a wildcard address does not know its
 * own address: there only the domains count.
 *
 * The response still covers the uri the client sent. What loose costs: a
 * credential is no longer bound to one Request-URI, so one captured and
 * held back before it reached us can be used, within the nonce's
 * lifetime, for the same method towards another Request-URI of this
 * server (its nonce count is refused once it has been used).
 */
#include <errno.h>
#include <string.h>
#include "auth_int.h"

int hr_auth_uri_check_decode(const char *name, enum hr_auth_uri_check *v)
{
	if (!name || !v)
		return EINVAL;
	if (!strcmp(name, "strict"))
		*v = HR_AUTH_URI_STRICT;
	else if (!strcmp(name, "loose"))
		*v = HR_AUTH_URI_LOOSE;
	else
		return EINVAL;
	return 0;
}

static bool served(const struct hr_auth *a, const struct hr_pl *host,
	const char *realm)
{
	if (!hr_pl_strcasecmp(host, realm))
		return true;
	for (unsigned i = 0; i < a->ndomains; i++) {
		if (!hr_pl_strcasecmp(host, a->domains[i]))
			return true;
	}
	return false;
}

/* The same user in the realm: both user parts unescaped (RFC 3261
 * 19.1.4 compares them case-sensitively). */
static bool same_aor(const struct hr_uri *u, const struct hr_uri *ruri,
	const char *realm)
{
	char x[512], y[512];

	return !hr_uri_aor(u, realm, x, sizeof(x)) &&
		!hr_uri_aor(ruri, realm, y, sizeof(y)) && !strcmp(x, y);
}

static bool names_server(const struct hr_auth *a, const struct hr_msg *req,
	const struct hr_uri *u, const char *realm)
{
	if (u->scheme != HR_URI_SIP && u->scheme != HR_URI_SIPS)
		return false;
	if (u->user.len && !same_aor(u, &req->ruri, realm))
		return false;
	return served(a, &u->host, realm) || hr_uri_is_addr(u, &req->dst);
}

bool hr_auth_uri_ok(const struct hr_auth *a, const struct hr_msg *req,
	const struct hr_pl *duri, const char *realm)
{
	struct hr_uri u;

	if (hr_uri_decode(&u, duri))
		return !hr_pl_cmp(duri, &req->ruri_pl);
	if (hr_uri_eq(&u, &req->ruri))
		return true;
	return a->uri_check == HR_AUTH_URI_LOOSE &&
		names_server(a, req, &u, realm);
}
