/* Socket helpers: target parsing, socket creation, local addresses. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include "net.h"

static int resolve(struct bench_cfg *cfg, const char *host, const char *port,
	int type)
{
	struct addrinfo hints, *res;
	int err;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = type;
	hints.ai_flags = AI_NUMERICSERV;
	err = getaddrinfo(host, port, &hints, &res);
	if (err) {
		bench_err("target %s: %s", host, gai_strerror(err));
		return EINVAL;
	}
	memcpy(&cfg->addr, res->ai_addr, res->ai_addrlen);
	cfg->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static const struct {
	const char *prefix;
	enum bench_tp tp;
} schemes[] = {
	{ "udp:", BENCH_UDP },
	{ "tcp:", BENCH_TCP },
	{ "tls:", BENCH_TLS },
	{ "ws:", BENCH_WS },
	{ "wss:", BENCH_WSS },
};

int bench_net_target(struct bench_cfg *cfg, const char *spec)
{
	const char *rest = NULL, *colon, *hp;
	char *host = cfg->host;
	size_t i, hlen;

	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		if (strncmp(spec, schemes[i].prefix,
			    strlen(schemes[i].prefix)) == 0) {
			cfg->tp = schemes[i].tp;
			rest = spec + strlen(schemes[i].prefix);
			break;
		}
	}
	if (!rest) {
		bench_err("target %s: expected udp:, tcp:, tls:, ws: or "
			"wss:HOST:PORT", spec);
		return EINVAL;
	}
	colon = strrchr(rest, ':');
	if (!colon || colon == rest || colon[1] == '\0') {
		bench_err("target %s: no port", spec);
		return EINVAL;
	}
	hp = rest;
	hlen = (size_t)(colon - rest);
	if (hp[0] == '[' && hlen >= 2 && hp[hlen - 1] == ']') {
		hp++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(cfg->host)) {
		bench_err("target %s: bad host", spec);
		return EINVAL;
	}
	memcpy(host, hp, hlen);
	host[hlen] = '\0';
	return resolve(cfg, host, colon + 1,
		cfg->tp == BENCH_UDP ? SOCK_DGRAM : SOCK_STREAM);
}

int bench_net_socket(int *fdp, const struct bench_cfg *cfg, int type)
{
	int fd;

	fd = socket(cfg->addr.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC,
		0);
	if (fd < 0) {
		bench_err("socket: %s", strerror(errno));
		return errno;
	}
	*fdp = fd;
	return 0;
}

void bench_net_bufsize(int fd, int size)
{
	/* Best effort: net.core.[rw]mem_max caps what we get. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

int bench_net_laddr(int fd, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN];
	const void *a;
	unsigned port;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		bench_err("getsockname: %s", strerror(errno));
		return errno;
	}
	if (ss.ss_family == AF_INET6) {
		a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	} else {
		a = &((struct sockaddr_in *)&ss)->sin_addr;
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	if (!inet_ntop(ss.ss_family, a, host, sizeof(host)))
		return errno;
	snprintf(buf, size, ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u",
		host, port);
	return 0;
}
