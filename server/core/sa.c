/* Socket addresses: parse and print IPv4 and IPv6 with ports. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core.h"

int hr_sa_set(struct hr_sa *sa, const char *host, uint16_t port)
{
	char tmp[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(host);

	memset(sa, 0, sizeof(*sa));
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		if (n - 2 >= sizeof(tmp))
			return EINVAL;
		memcpy(tmp, host + 1, n - 2);
		tmp[n - 2] = '\0';
		host = tmp;
	}
	if (inet_pton(AF_INET, host, &sa->u.in.sin_addr) == 1) {
		sa->u.in.sin_family = AF_INET;
		sa->u.in.sin_port = htons(port);
		sa->len = sizeof(sa->u.in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sa->u.in6.sin6_addr) == 1) {
		sa->u.in6.sin6_family = AF_INET6;
		sa->u.in6.sin6_port = htons(port);
		sa->len = sizeof(sa->u.in6);
		return 0;
	}
	return EINVAL;
}

int hr_sa_decode(struct hr_sa *sa, const char *str)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(str, ':');
	char *end;
	unsigned long port;
	size_t n;

	if (!colon || colon == str)
		return EINVAL;
	n = (size_t)(colon - str);
	if (n >= sizeof(host))
		return EINVAL;
	memcpy(host, str, n);
	host[n] = '\0';
	/* A bare IPv6 address needs brackets to carry a port. */
	if (host[0] != '[' && strchr(host, ':'))
		return EINVAL;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port > 65535)
		return EINVAL;
	return hr_sa_set(sa, host, (uint16_t)port);
}

uint16_t hr_sa_port(const struct hr_sa *sa)
{
	if (sa->u.sa.sa_family == AF_INET6)
		return ntohs(sa->u.in6.sin6_port);
	return ntohs(sa->u.in.sin_port);
}

void hr_sa_set_port(struct hr_sa *sa, uint16_t port)
{
	if (sa->u.sa.sa_family == AF_INET6)
		sa->u.in6.sin6_port = htons(port);
	else
		sa->u.in.sin_port = htons(port);
}

/* Decimal digits of v at p; the end. */
static char *put_dec(char *p, unsigned v)
{
	char tmp[10];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* An IPv4 address, and ":port" when port is not negative, without
 * inet_ntop's and snprintf's vfprintf (issue 20: about 1 % of a core
 * at the REGISTER maximum); the end. p has 22 bytes. */
static char *put_in4(char *p, const struct sockaddr_in *in, long port)
{
	const uint8_t *b = (const uint8_t *)&in->sin_addr;

	for (int i = 0; i < 4; i++) {
		if (i)
			*p++ = '.';
		p = put_dec(p, b[i]);
	}
	if (port >= 0) {
		*p++ = ':';
		p = put_dec(p, (unsigned)port);
	}
	return p;
}

/* s, of len bytes, into buf of size, truncated as snprintf would */
static const char *put_str(char *buf, size_t size, const char *s, size_t len)
{
	if (!size)
		return buf;
	if (len > size - 1)
		len = size - 1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return buf;
}

const char *hr_sa_ntop(const struct hr_sa *sa, char *buf, size_t size)
{
	const void *a = sa->u.sa.sa_family == AF_INET6 ?
		(const void *)&sa->u.in6.sin6_addr :
		(const void *)&sa->u.in.sin_addr;
	char tmp[24];

	if (sa->u.sa.sa_family == AF_INET)
		return put_str(buf, size, tmp,
			(size_t)(put_in4(tmp, &sa->u.in, -1) - tmp));
	if (!inet_ntop(sa->u.sa.sa_family, a, buf, (socklen_t)size))
		snprintf(buf, size, "?");
	return buf;
}

const char *hr_sa_print(const struct hr_sa *sa, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN], tmp[24];

	if (sa->u.sa.sa_family == AF_INET)
		return put_str(buf, size, tmp, (size_t)(put_in4(tmp,
			&sa->u.in, hr_sa_port(sa)) - tmp));
	hr_sa_ntop(sa, host, sizeof(host));
	if (sa->u.sa.sa_family == AF_INET6)
		snprintf(buf, size, "[%s]:%u", host, hr_sa_port(sa));
	else
		snprintf(buf, size, "%s:%u", host, hr_sa_port(sa));
	return buf;
}

bool hr_sa_eq(const struct hr_sa *a, const struct hr_sa *b)
{
	if (a->u.sa.sa_family != b->u.sa.sa_family)
		return false;
	if (a->u.sa.sa_family == AF_INET)
		return a->u.in.sin_port == b->u.in.sin_port &&
			a->u.in.sin_addr.s_addr == b->u.in.sin_addr.s_addr;
	if (a->u.sa.sa_family == AF_INET6)
		return a->u.in6.sin6_port == b->u.in6.sin6_port &&
			memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr,
				sizeof(a->u.in6.sin6_addr)) == 0;
	return false;
}

bool hr_sa_isany(const struct hr_sa *sa)
{
	if (!sa->len)
		return true;
	if (sa->u.sa.sa_family == AF_INET)
		return sa->u.in.sin_addr.s_addr == htonl(INADDR_ANY);
	if (sa->u.sa.sa_family == AF_INET6)
		return !memcmp(&sa->u.in6.sin6_addr, &in6addr_any,
			sizeof(in6addr_any));
	return true;
}

int hr_net_decode(struct hr_net *net, const char *str)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *slash = strchr(str, '/');
	size_t n = slash ? (size_t)(slash - str) : strlen(str);
	unsigned max;
	char *end;

	if (n >= sizeof(host))
		return EINVAL;
	memcpy(host, str, n);
	host[n] = '\0';
	if (hr_sa_set(&net->addr, host, 0))
		return EINVAL;
	max = net->addr.u.sa.sa_family == AF_INET ? 32 : 128;
	net->prefix = max;
	if (slash) {
		unsigned long p = strtoul(slash + 1, &end, 10);

		if (!slash[1] || *end || p > max)
			return EINVAL;
		net->prefix = (unsigned)p;
	}
	return 0;
}

/* The address's bytes, an IPv4-mapped IPv6 one as its IPv4 four. */
static const uint8_t *addr_bytes(const struct hr_sa *sa, int *family)
{
	const uint8_t *b6 = sa->u.in6.sin6_addr.s6_addr;

	*family = sa->u.sa.sa_family;
	if (*family == AF_INET)
		return (const uint8_t *)&sa->u.in.sin_addr;
	if (*family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&sa->u.in6.sin6_addr)) {
		*family = AF_INET;
		return b6 + 12;
	}
	return b6;
}

bool hr_net_has(const struct hr_net *net, const struct hr_sa *sa)
{
	int nf, af;
	const uint8_t *nb = addr_bytes(&net->addr, &nf);
	const uint8_t *ab = addr_bytes(sa, &af);
	unsigned full = net->prefix / 8, rest = net->prefix % 8;

	if (nf != af || (af != AF_INET && af != AF_INET6))
		return false;
	if (memcmp(nb, ab, full))
		return false;
	return !rest || !((nb[full] ^ ab[full]) & (0xff00u >> rest));
}
