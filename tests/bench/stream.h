/*
 * The stream transports: tcp, tls, ws and wss share one connection table,
 * connect, buffers, epoll and flushing (tcp.c). A connection is two
 * layers over its non-blocking socket:
 *
 *   bytes     plain send()/recv(), or OpenSSL on the same socket (tls.c);
 *   framing   SIP's own, by Content-Length (RFC 3261 18.3, tcp.c), or one
 *             SIP message a WebSocket frame (RFC 7118, ws.c).
 *
 * rx holds bytes as read (decrypted), not yet framed; tx holds whole
 * frames, not yet written (encrypted). The engine writes each message
 * straight into tx, `head` bytes after the end of what is queued, and the
 * codec frames it in place when the message is committed.
 */
#ifndef HR_BENCH_STREAM_H
#define HR_BENCH_STREAM_H

#include <openssl/ssl.h>
#include "bench.h"

#define STREAM_RX_CAP (256 * 1024)
#define STREAM_TX_CAP (1024 * 1024)

struct stream_conn {
	int fd;
	uint32_t idx;           /* the engine's conn and the epoll tag */
	bool open;              /* connected, shaken hands, in epoll */
	bool want_out;          /* EPOLLOUT is asked for */
	bool write_blocked;     /* the last write could not finish */
	bool read_wants_out;    /* TLS: SSL_read waits for the socket to
				 * be writable */
	bool write_wants_in;    /* TLS: SSL_write waits for it to be
				 * readable */
	char laddr[BENCH_LADDR_LEN];
	SSL *ssl;               /* NULL: plain TCP */
	char *rx;
	size_t rxlen;
	char *tx;
	size_t txoff, txlen;    /* unsent bytes are tx[txoff, txoff+txlen) */
	/* WebSocket (ws.c): a fragmented message being put together */
	char *frag;
	size_t fraglen;
	bool in_frag;
};

/* How SIP messages are framed on the byte stream. */
struct stream_codec {
	/* After connect (and the TLS handshake), before the run: 0 or an
	 * errno (said why). NULL: nothing to do. */
	int (*open)(struct bench *b, struct stream_conn *c,
		uint64_t deadline);
	/* Room kept before each message for its frame header. */
	size_t head;
	/* Frame the message of len bytes at msg in place (head bytes of
	 * room before it): the frame's length; it starts at msg - head. */
	size_t (*seal)(struct stream_conn *c, char *msg, size_t len);
	/* Hand every whole message in rx to the engine (bench_recv) and
	 * drop its bytes: 0 or an errno that ends the run. */
	int (*decode)(struct bench *b, struct stream_conn *c);
	/* Before the connection closes: queue a goodbye. NULL: none. */
	void (*bye)(struct bench *b, struct stream_conn *c);
};

extern const struct stream_codec bench_ws_codec;

/* ---- tcp.c, for the layers ---- */

/** Room for n bytes at the end of c's queue (flushing to make it):
 * where to write them, or NULL. Then bench_stream_queue(c, n). */
char *bench_stream_room(struct bench *b, struct stream_conn *c, size_t n);
/** Queue the n bytes written at bench_stream_room()'s place. */
void bench_stream_queue(struct stream_conn *c, size_t n);
/** Before the run: send len bytes by deadline (ns), blocking in poll():
 * 0, ETIMEDOUT or an errno. */
int bench_stream_send_all(struct stream_conn *c, const char *p, size_t len,
	uint64_t deadline);
/** Before the run: read at least one more byte into c->rx by deadline:
 * 0, ETIMEDOUT, ECONNRESET (closed), EMSGSIZE (rx full) or an errno. */
int bench_stream_recv_more(struct stream_conn *c, uint64_t deadline);
/** poll() fd for events until deadline (ns): 0, ETIMEDOUT or an errno. */
int bench_stream_wait(int fd, short events, uint64_t deadline);

/* ---- tls.c: the byte layer over OpenSSL ---- */

/** The client context for cfg (--ca: verify; else not): 0 or an errno
 * (said why). */
int bench_tls_ctx(SSL_CTX **ctxp, const struct bench_cfg *cfg);
/** The TLS handshake on c's connected socket, by deadline (ns): 0 or an
 * errno (said why). c->ssl is set, to be freed with c. */
int bench_tls_connect(SSL_CTX *ctx, struct stream_conn *c,
	const struct bench_cfg *cfg, uint64_t deadline);
/** Like recv(): *n bytes into buf (0: none now; see read_wants_out):
 * 0, ECONNRESET (closed) or EPROTO (said why). */
int bench_tls_read(struct stream_conn *c, char *buf, size_t cap,
	size_t *n);
/** Like send(): *n of len bytes written (0: none now; see
 * write_wants_in): 0, ECONNRESET or EPROTO (said why). */
int bench_tls_write(struct stream_conn *c, const char *p, size_t len,
	size_t *n);

#endif
