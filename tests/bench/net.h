/* Socket helpers shared by the transports and the option parser. */
#ifndef HR_BENCH_NET_H
#define HR_BENCH_NET_H

#include "bench.h"

/** Parse "udp:HOST:PORT" / "tcp:[V6]:PORT" (tls:, ws:, wss:) into cfg:
 * 0 or EINVAL. */
int bench_net_target(struct bench_cfg *cfg, const char *spec);
/** A non-blocking, close-on-exec socket for cfg's address family. */
int bench_net_socket(int *fdp, const struct bench_cfg *cfg, int type);
/** Ask for socket buffers of size bytes (the kernel may grant less). */
void bench_net_bufsize(int fd, int size);
/** The socket's local "host:port" into buf. */
int bench_net_laddr(int fd, char *buf, size_t size);

/**
 * The sample "name N" of Herald's GET /metrics at admin ("HOST:PORT"),
 * with the bearer token: 0, or an errno (EACCES: not a 200).
 */
int bench_net_metric(const char *admin, const char *token, const char *name,
	int64_t *val);

#endif
