/*
 * The stream transports (stream.h): --connections non-blocking
 * connections, requests pipelined on each. Every connection has a fixed
 * receive buffer, decoded by its codec (here SIP's Content-Length framing,
 * RFC 3261 18.3; ws.c for WebSocket), and a fixed send buffer written when
 * the loop flushes, through OpenSSL for tls and wss (tls.c). Connections
 * are opened (connect, TLS handshake, WebSocket upgrade) before the
 * clock starts. A connection the server closes ends the run: a benchmark
 * that silently reconnects would hide exactly what it should show.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include "net.h"
#include "stream.h"

#define RX_ROUNDS 4

struct stream {
	uint32_t n;
	struct stream_conn *c;
	const struct stream_codec *codec;
	SSL_CTX *tls;           /* NULL: plain TCP */
};

static void conn_close(struct bench *b, struct stream *s,
	struct stream_conn *c);

static void stream_close(struct bench *b)
{
	struct stream *s = bench_tp_state(b);
	uint32_t i;

	for (i = 0; s->c && i < s->n; i++)
		conn_close(b, s, &s->c[i]);
	free(s->c);
	SSL_CTX_free(s->tls);
	free(s);
	bench_tp_set_state(b, NULL);
}

int bench_stream_wait(int fd, short events, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	uint64_t now;
	int n;

	for (;;) {
		now = bench_now();
		if (now >= deadline)
			return ETIMEDOUT;
		n = poll(&pfd, 1, (int)((deadline - now + 999999) / 1000000));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return errno;
	}
}

/* Wait for a non-blocking connect, up to deadline. */
static int connect_wait(int fd, const struct bench_cfg *cfg,
	uint64_t deadline)
{
	socklen_t len = sizeof(int);
	int err, soerr = 0;

	if (connect(fd, (const struct sockaddr *)&cfg->addr,
		    cfg->addrlen) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return errno;
	err = bench_stream_wait(fd, POLLOUT, deadline);
	if (err)
		return err;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		return errno;
	return soerr;
}

/* ---- the byte layer: plain, or TLS ---- */

/* *n bytes into buf, 0 when none are there now: 0 or an errno. */
static int io_read(struct stream_conn *c, char *buf, size_t cap, size_t *n)
{
	ssize_t r;

	*n = 0;
	if (c->ssl)
		return bench_tls_read(c, buf, cap, n);
	for (;;) {
		r = recv(c->fd, buf, cap, MSG_DONTWAIT);
		if (r > 0) {
			*n = (size_t)r;
			return 0;
		}
		if (r == 0)
			return ECONNRESET;
		if (errno != EINTR)
			return errno == EAGAIN ? 0 : errno;
	}
}

/* *n of len bytes written, 0 when the socket takes none now. */
static int io_write(struct stream_conn *c, const char *p, size_t len,
	size_t *n)
{
	ssize_t r;

	*n = 0;
	if (c->ssl)
		return bench_tls_write(c, p, len, n);
	for (;;) {
		r = send(c->fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r >= 0) {
			*n = (size_t)r;
			return 0;
		}
		if (errno != EINTR)
			return errno == EAGAIN ? 0 : errno;
	}
}

int bench_stream_send_all(struct stream_conn *c, const char *p, size_t len,
	uint64_t deadline)
{
	size_t n;
	int err;

	while (len) {
		err = io_write(c, p, len, &n);
		if (!err && !n)
			err = bench_stream_wait(c->fd,
				c->write_wants_in ? POLLIN : POLLOUT,
				deadline);
		if (err)
			return err;
		p += n;
		len -= n;
	}
	return 0;
}

int bench_stream_recv_more(struct stream_conn *c, uint64_t deadline)
{
	size_t n;
	int err;

	if (c->rxlen == STREAM_RX_CAP)
		return EMSGSIZE;
	for (;;) {
		err = io_read(c, c->rx + c->rxlen, STREAM_RX_CAP - c->rxlen,
			&n);
		if (err)
			return err;
		if (n) {
			c->rxlen += n;
			return 0;
		}
		err = bench_stream_wait(c->fd,
			c->read_wants_out ? POLLOUT : POLLIN, deadline);
		if (err)
			return err;
	}
}

/* ---- SIP's framing: by Content-Length ---- */

static size_t sip_seal(struct stream_conn *c, char *msg, size_t len)
{
	return len;
}

/* Hand every whole message in rx to the engine; keep the rest. */
static int sip_decode(struct bench *b, struct stream_conn *c)
{
	size_t off = 0, mlen;
	int err = 0;

	while (off < c->rxlen) {
		/* RFC 5626 3.5.1: CRLFs between messages are keep-alives */
		if (c->rx[off] == '\r' || c->rx[off] == '\n') {
			off++;
			continue;
		}
		/* max below the buffer: a message must fit with room */
		err = bench_msg_frame(c->rx + off, c->rxlen - off,
			STREAM_RX_CAP - 1, &mlen);
		if (err)
			break;
		bench_recv(b, c->idx, c->rx + off, mlen);
		off += mlen;
	}
	if (off)
		memmove(c->rx, c->rx + off, c->rxlen - off);
	c->rxlen -= off;
	return err == ENODATA ? 0 : err;
}

static const struct stream_codec sip_codec = {
	.head = 0,
	.seal = sip_seal,
	.decode = sip_decode,
};

/* ---- connections ---- */

static int conn_open(struct bench *b, struct stream *s,
	struct stream_conn *c)
{
	const struct bench_cfg *cfg = bench_cfg(b);
	struct epoll_event ev = { .events = EPOLLIN };
	uint64_t deadline = bench_now() + (uint64_t)cfg->timeout_ms * 1000000;
	int one = 1, err;

	c->rx = malloc(STREAM_RX_CAP);
	c->tx = malloc(STREAM_TX_CAP);
	if (!c->rx || !c->tx) {
		bench_err("out of memory");
		return ENOMEM;
	}
	err = bench_net_socket(&c->fd, cfg, SOCK_STREAM);
	if (err)
		return err;
	/* We batch writes ourselves; Nagle would only add delay. */
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	err = connect_wait(c->fd, cfg, deadline);
	if (err) {
		bench_err("connect to %s: %s", cfg->host, strerror(err));
		return err;
	}
	err = bench_net_laddr(c->fd, c->laddr, sizeof(c->laddr));
	if (err)
		return err;
	if (s->tls) {
		err = bench_tls_connect(s->tls, c, cfg, deadline);
		if (err)
			return err;     /* said why */
	}
	if (s->codec->open) {
		err = s->codec->open(b, c, deadline);
		if (err)
			return err;     /* said why */
	}
	ev.data.u64 = c->idx;
	if (epoll_ctl(bench_epfd(b), EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		err = errno;
		bench_err("epoll_ctl: %s", strerror(err));
		return err;
	}
	c->open = true;
	return 0;
}

static int stream_open(struct bench *b, bool tls,
	const struct stream_codec *codec)
{
	const struct bench_cfg *cfg = bench_cfg(b);
	struct stream *s;
	uint32_t i;
	int err;

	s = calloc(1, sizeof(*s));
	if (!s) {
		bench_err("out of memory");
		return ENOMEM;
	}
	bench_tp_set_state(b, s);
	s->codec = codec;
	if (tls) {
		err = bench_tls_ctx(&s->tls, cfg);
		if (err)
			return err;
	}
	s->c = calloc(cfg->connections, sizeof(*s->c));
	if (!s->c) {
		bench_err("out of memory");
		return ENOMEM;
	}
	s->n = cfg->connections;
	for (i = 0; i < s->n; i++) {
		s->c[i].fd = -1;
		s->c[i].idx = i;
	}
	for (i = 0; i < s->n; i++) {
		err = conn_open(b, s, &s->c[i]);
		if (err)
			return err;
	}
	return 0;
}

static void conn_want_out(struct bench *b, struct stream_conn *c, bool on)
{
	struct epoll_event ev;

	if (c->want_out == on)
		return;
	ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
	ev.data.u64 = c->idx;
	if (epoll_ctl(bench_epfd(b), EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->want_out = on;
}

/* EPOLLOUT while a write waits for room or a TLS read for a write. */
static void conn_update_out(struct bench *b, struct stream_conn *c)
{
	conn_want_out(b, c, c->write_blocked || c->read_wants_out);
}

static int conn_flush(struct bench *b, struct stream_conn *c)
{
	size_t n;
	int err;

	c->write_blocked = false;
	while (c->txlen) {
		err = io_write(c, c->tx + c->txoff, c->txlen, &n);
		if (err)
			return err;
		if (!n) {
			/* a TLS write waiting for input waits for EPOLLIN */
			c->write_blocked = !c->write_wants_in;
			break;
		}
		c->txoff += n;
		c->txlen -= n;
	}
	if (!c->txlen)
		c->txoff = 0;
	conn_update_out(b, c);
	return 0;
}

static int stream_flush(struct bench *b)
{
	struct stream *s = bench_tp_state(b);
	uint32_t i;
	int err;

	for (i = 0; i < s->n; i++) {
		if (!s->c[i].txlen)
			continue;
		err = conn_flush(b, &s->c[i]);
		if (err)
			return err;
	}
	return 0;
}

char *bench_stream_room(struct bench *b, struct stream_conn *c, size_t n)
{
	if (c->txlen + n > STREAM_TX_CAP &&
	    (conn_flush(b, c) || c->txlen + n > STREAM_TX_CAP))
		return NULL;
	if (c->txoff + c->txlen + n > STREAM_TX_CAP) {
		/* TLS: SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER allows this */
		memmove(c->tx, c->tx + c->txoff, c->txlen);
		c->txoff = 0;
	}
	return c->tx + c->txoff + c->txlen;
}

void bench_stream_queue(struct stream_conn *c, size_t n)
{
	c->txlen += n;
}

static int stream_out_begin(struct bench *b, uint32_t idx,
	struct bench_out *out)
{
	struct stream *s = bench_tp_state(b);
	char *p;

	p = bench_stream_room(b, &s->c[idx], s->codec->head + BENCH_MAX_MSG);
	if (!p)
		return ENOBUFS;
	out->p = p + s->codec->head;
	out->len = 0;
	out->cap = BENCH_MAX_MSG;
	out->full = false;
	return 0;
}

static void stream_out_commit(struct bench *b, uint32_t idx,
	struct bench_out *out)
{
	struct stream *s = bench_tp_state(b);
	struct stream_conn *c = &s->c[idx];

	bench_stream_queue(c, s->codec->seal(c, out->p, out->len));
}

static int conn_read(struct bench *b, struct stream *s,
	struct stream_conn *c)
{
	size_t n;
	int round, err;

	/* OpenSSL may hold the rest of a record already read: take it,
	 * or nothing would wake us for it */
	for (round = 0; round < RX_ROUNDS ||
	     (c->ssl && SSL_pending(c->ssl) > 0); round++) {
		if (c->rxlen == STREAM_RX_CAP)
			return EMSGSIZE;
		err = io_read(c, c->rx + c->rxlen, STREAM_RX_CAP - c->rxlen,
			&n);
		if (err)
			return err;
		if (!n)
			break;
		c->rxlen += n;
		err = s->codec->decode(b, c);
		if (err)
			return err;
	}
	conn_update_out(b, c);
	return 0;
}

static int stream_event(struct bench *b, uint32_t idx, uint32_t events)
{
	struct stream *s = bench_tp_state(b);
	struct stream_conn *c = &s->c[idx];
	bool in = events & (EPOLLIN | EPOLLERR | EPOLLHUP);
	bool out = events & EPOLLOUT;
	int err;

	if (in || (out && c->read_wants_out)) {
		err = conn_read(b, s, c);
		if (err)
			return err;
	}
	if (out || (in && c->write_wants_in))
		return conn_flush(b, c);
	return 0;
}

/* Say goodbye (WebSocket CLOSE, TLS close_notify) as far as the socket
 * takes it at once: the run is over, nothing waits for the answer. */
static void conn_close(struct bench *b, struct stream *s,
	struct stream_conn *c)
{
	if (c->open && s->codec->bye) {
		s->codec->bye(b, c);
		(void)conn_flush(b, c);
	}
	if (c->ssl) {
		if (c->open)
			(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->fd >= 0)
		close(c->fd);
	free(c->rx);
	free(c->tx);
	free(c->frag);
}

static const char *stream_laddr(struct bench *b, uint32_t idx)
{
	struct stream *s = bench_tp_state(b);

	return s->c[idx].laddr;
}

static int tcp_open(struct bench *b)
{
	return stream_open(b, false, &sip_codec);
}

static int tls_open(struct bench *b)
{
	return stream_open(b, true, &sip_codec);
}

static int ws_open(struct bench *b)
{
	return stream_open(b, false, &bench_ws_codec);
}

static int wss_open(struct bench *b)
{
	return stream_open(b, true, &bench_ws_codec);
}

#define STREAM_OPS \
	.out_begin = stream_out_begin, \
	.out_commit = stream_out_commit, \
	.flush = stream_flush, \
	.event = stream_event, \
	.close = stream_close, \
	.laddr = stream_laddr

const struct bench_tp_ops bench_tcp = {
	.name = "tcp", .via = "TCP", .param = "tcp", .open = tcp_open,
	STREAM_OPS,
};

const struct bench_tp_ops bench_tls = {
	.name = "tls", .via = "TLS", .param = "tls", .open = tls_open,
	STREAM_OPS,
};

/* RFC 7118 5.2: Via "SIP/2.0/WS" ("WSS" over TLS), ;transport=ws|wss */
const struct bench_tp_ops bench_ws = {
	.name = "ws", .via = "WS", .param = "ws", .open = ws_open,
	STREAM_OPS,
};

const struct bench_tp_ops bench_wss = {
	.name = "wss", .via = "WSS", .param = "wss", .open = wss_open,
	STREAM_OPS,
};
