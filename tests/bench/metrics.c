/*
 * One gauge from Herald's admin API: GET /metrics (Prometheus text, a
 * bearer token) over a blocking HTTP/1.0 connection. Used after a run,
 * never on the clock, so simple beats fast.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include "net.h"

#define RESP_MAX (1u << 20)     /* /metrics is a few kB */
#define IO_TIMEOUT_S 5

/* A blocking TCP connection to "HOST:PORT" ("[V6]:PORT"): 0 or errno. */
static int dial(const char *admin, int *fdp)
{
	struct timeval tv = { IO_TIMEOUT_S, 0 };
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV }, *res;
	const char *colon = strrchr(admin, ':');
	char host[256];
	size_t hlen;
	int fd;

	if (!colon || colon == admin)
		return EINVAL;
	hlen = (size_t)(colon - admin);
	if (admin[0] == '[' && hlen >= 2 && admin[hlen - 1] == ']') {
		admin++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return EINVAL;
	memcpy(host, admin, hlen);
	host[hlen] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &res))
		return EINVAL;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
		sizeof(tv)) || setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
		sizeof(tv)) || connect(fd, res->ai_addr, res->ai_addrlen)) {
		int err = errno;

		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return err;
	}
	freeaddrinfo(res);
	*fdp = fd;
	return 0;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? errno : EPIPE;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* The whole response (the server closes: HTTP/1.0), NUL-ended. */
static int recv_all(int fd, char *buf, size_t cap, size_t *len)
{
	*len = 0;
	for (;;) {
		ssize_t k;

		if (*len + 1 >= cap)
			return EMSGSIZE;
		k = recv(fd, buf + *len, cap - 1 - *len, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return errno == EAGAIN ? ETIMEDOUT : errno;
		if (k == 0)
			break;
		*len += (size_t)k;
	}
	buf[*len] = '\0';
	return 0;
}

/* The value of the sample line "name N" (no labels) in the body. */
static int find_sample(const char *body, const char *name, int64_t *val)
{
	size_t n = strlen(name);
	const char *p = body;
	char *end;

	while (p && *p) {
		if (!strncmp(p, name, n) && p[n] == ' ') {
			errno = 0;
			*val = strtoll(p + n + 1, &end, 10);
			return errno || end == p + n + 1 ? EBADMSG : 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return ENOENT;
}

int bench_net_metric(const char *admin, const char *token, const char *name,
	int64_t *val)
{
	char req[512];
	const char *body;
	size_t len;
	char *buf;
	int fd = -1, n, err;

	n = snprintf(req, sizeof(req), "GET /metrics HTTP/1.0\r\n"
		"Host: %s\r\nAuthorization: Bearer %s\r\n\r\n", admin,
		token ? token : "");
	if (n < 0 || (size_t)n >= sizeof(req))
		return EINVAL;
	buf = malloc(RESP_MAX);
	if (!buf)
		return ENOMEM;
	err = dial(admin, &fd);
	if (!err) {
		err = send_all(fd, req, (size_t)n);
		if (!err)
			err = recv_all(fd, buf, RESP_MAX, &len);
		close(fd);
	}
	if (!err && (strncmp(buf, "HTTP/1.", 7) || strncmp(buf + 8, " 200",
		4)))
		err = EACCES;   /* a token refused, most likely */
	if (!err) {
		body = strstr(buf, "\r\n\r\n");
		err = body ? find_sample(body + 4, name, val) : EBADMSG;
	}
	free(buf);
	return err;
}
