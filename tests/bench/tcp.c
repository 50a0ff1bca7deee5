/*
 * TCP: --connections non-blocking connections, requests pipelined on each.
 * Every connection has a fixed receive buffer, framed by Content-Length
 * (RFC 3261 18.3), and a fixed send buffer written when the loop flushes.
 * A connection the server closes ends the run: a benchmark that silently
 * reconnects would hide exactly what it should show.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include "bench.h"
#include "net.h"

#define RX_CAP (256 * 1024)
#define TX_CAP (1024 * 1024)
#define RX_ROUNDS 4

struct conn {
	int fd;
	bool want_out;
	char laddr[BENCH_LADDR_LEN];
	char *rx;
	size_t rxlen;
	char *tx;
	size_t txoff, txlen;    /* unsent bytes are tx[txoff, txoff+txlen) */
};

struct tcp {
	uint32_t n;
	struct conn *c;
};

static void tcp_close(struct bench *b)
{
	struct tcp *t = bench_tp_state(b);
	uint32_t i;

	for (i = 0; t->c && i < t->n; i++) {
		if (t->c[i].fd >= 0)
			close(t->c[i].fd);
		free(t->c[i].rx);
		free(t->c[i].tx);
	}
	free(t->c);
	free(t);
	bench_tp_set_state(b, NULL);
}

/* Wait for a non-blocking connect, up to the exchange timeout. */
static int connect_wait(int fd, const struct bench_cfg *cfg)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	socklen_t len = sizeof(int);
	int n, soerr = 0;

	if (connect(fd, (const struct sockaddr *)&cfg->addr,
		    cfg->addrlen) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return errno;
	n = poll(&pfd, 1, (int)cfg->timeout_ms);
	if (n == 0)
		return ETIMEDOUT;
	if (n < 0)
		return errno;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		return errno;
	return soerr;
}

static int conn_open(struct bench *b, struct conn *c, uint32_t idx)
{
	const struct bench_cfg *cfg = bench_cfg(b);
	struct epoll_event ev = { .events = EPOLLIN };
	int one = 1, err;

	c->rx = malloc(RX_CAP);
	c->tx = malloc(TX_CAP);
	if (!c->rx || !c->tx) {
		bench_err("tcp: out of memory");
		return ENOMEM;
	}
	err = bench_net_socket(&c->fd, cfg, SOCK_STREAM);
	if (err)
		return err;
	/* We batch writes ourselves; Nagle would only add delay. */
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	err = connect_wait(c->fd, cfg);
	if (err) {
		bench_err("tcp: connect: %s", strerror(err));
		return err;
	}
	err = bench_net_laddr(c->fd, c->laddr, sizeof(c->laddr));
	if (err)
		return err;
	ev.data.u64 = idx;
	if (epoll_ctl(bench_epfd(b), EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		err = errno;
		bench_err("tcp: epoll_ctl: %s", strerror(err));
		return err;
	}
	return 0;
}

static int tcp_open(struct bench *b)
{
	const struct bench_cfg *cfg = bench_cfg(b);
	struct tcp *t;
	uint32_t i;
	int err;

	t = calloc(1, sizeof(*t));
	if (!t) {
		bench_err("tcp: out of memory");
		return ENOMEM;
	}
	bench_tp_set_state(b, t);
	t->c = calloc(cfg->connections, sizeof(*t->c));
	if (!t->c) {
		bench_err("tcp: out of memory");
		return ENOMEM;
	}
	t->n = cfg->connections;
	for (i = 0; i < t->n; i++)
		t->c[i].fd = -1;
	for (i = 0; i < t->n; i++) {
		err = conn_open(b, &t->c[i], i);
		if (err)
			return err;
	}
	return 0;
}

static void conn_want_out(struct bench *b, struct conn *c, uint32_t idx,
	bool on)
{
	struct epoll_event ev;

	if (c->want_out == on)
		return;
	ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
	ev.data.u64 = idx;
	if (epoll_ctl(bench_epfd(b), EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->want_out = on;
}

static int conn_flush(struct bench *b, struct conn *c, uint32_t idx)
{
	ssize_t n;

	while (c->txlen) {
		n = send(c->fd, c->tx + c->txoff, c->txlen,
			MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				conn_want_out(b, c, idx, true);
				return 0;
			}
			return errno;
		}
		c->txoff += (size_t)n;
		c->txlen -= (size_t)n;
	}
	c->txoff = 0;
	conn_want_out(b, c, idx, false);
	return 0;
}

static int tcp_flush(struct bench *b)
{
	struct tcp *t = bench_tp_state(b);
	uint32_t i;
	int err;

	for (i = 0; i < t->n; i++) {
		if (!t->c[i].txlen)
			continue;
		err = conn_flush(b, &t->c[i], i);
		if (err)
			return err;
	}
	return 0;
}

static int tcp_out_begin(struct bench *b, uint32_t idx,
	struct bench_out *out)
{
	struct tcp *t = bench_tp_state(b);
	struct conn *c = &t->c[idx];

	if (c->txoff + c->txlen + BENCH_MAX_MSG > TX_CAP && c->txoff) {
		memmove(c->tx, c->tx + c->txoff, c->txlen);
		c->txoff = 0;
	}
	if (c->txlen + BENCH_MAX_MSG > TX_CAP &&
	    (conn_flush(b, c, idx) || c->txlen + BENCH_MAX_MSG > TX_CAP))
		return ENOBUFS;
	out->p = c->tx + c->txoff + c->txlen;
	out->len = 0;
	out->cap = BENCH_MAX_MSG;
	out->full = false;
	return 0;
}

static void tcp_out_commit(struct bench *b, uint32_t idx,
	struct bench_out *out)
{
	struct tcp *t = bench_tp_state(b);

	t->c[idx].txlen += out->len;
}

/* Hand every whole message in rx to the engine; keep the rest. */
static int conn_frame(struct bench *b, struct conn *c, uint32_t idx)
{
	size_t off = 0, mlen;
	int err = 0;

	while (off < c->rxlen) {
		/* RFC 5626 3.5.1: CRLFs between messages are keep-alives */
		if (c->rx[off] == '\r' || c->rx[off] == '\n') {
			off++;
			continue;
		}
		/* max below RX_CAP: a message must fit with room to spare */
		err = bench_msg_frame(c->rx + off, c->rxlen - off,
			RX_CAP - 1, &mlen);
		if (err)
			break;
		bench_recv(b, idx, c->rx + off, mlen);
		off += mlen;
	}
	if (off)
		memmove(c->rx, c->rx + off, c->rxlen - off);
	c->rxlen -= off;
	return err == ENODATA ? 0 : err;
}

static int conn_read(struct bench *b, struct conn *c, uint32_t idx)
{
	ssize_t n;
	int round, err;

	for (round = 0; round < RX_ROUNDS; round++) {
		n = recv(c->fd, c->rx + c->rxlen, RX_CAP - c->rxlen,
			MSG_DONTWAIT);
		if (n == 0)
			return ECONNRESET;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : errno;
		}
		c->rxlen += (size_t)n;
		err = conn_frame(b, c, idx);
		if (err)
			return err;
	}
	return 0;
}

static int tcp_event(struct bench *b, uint32_t idx, uint32_t events)
{
	struct tcp *t = bench_tp_state(b);
	struct conn *c = &t->c[idx];
	int err;

	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		err = conn_read(b, c, idx);
		if (err)
			return err;
	}
	if (events & EPOLLOUT)
		return conn_flush(b, c, idx);
	return 0;
}

static const char *tcp_laddr(struct bench *b, uint32_t idx)
{
	struct tcp *t = bench_tp_state(b);

	return t->c[idx].laddr;
}

const struct bench_tp_ops bench_tcp = {
	.name = "tcp",
	.via = "TCP",
	.open = tcp_open,
	.out_begin = tcp_out_begin,
	.out_commit = tcp_out_commit,
	.flush = tcp_flush,
	.event = tcp_event,
	.close = tcp_close,
	.laddr = tcp_laddr,
};
