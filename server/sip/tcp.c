/*
 * Connection transports: TCP, TLS, and WebSocket (RFC 7118) over either.
 * A listener and one bufferevent per connection (an OpenSSL one for TLS
 * and WSS). Over TCP and TLS messages are framed by Content-Length (RFC
 * 3261 18.3); over WebSocket each message is one WebSocket message, after
 * the HTTP upgrade (ws.c). Each connection's input and output are capped,
 * a TLS handshake and an upgrade must end within a deadline, so must a
 * started message, and idle connections are closed, so no peer can hold
 * others up.
 */
#include <errno.h>
#include <fcntl.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <string.h>
#include <unistd.h>
#include "sip_int.h"
#include "ws.h"

#define HR_LOG_MODULE "tcp"

/* Out of descriptors, accepting pauses this long, doubling up to the
 * most while it lasts: libevent would retry at once, for ever. */
#define PAUSE_MIN_MS 100
#define PAUSE_MAX_MS 1000
/* waiting connections closed in one go when out of descriptors */
#define SHED_MAX 64
/* an HTTP upgrade request at most (browsers send well under 2 KiB) */
#define WS_UPGRADE_MAX (16 * 1024)
/* a WebSocket frame header at most, with some room */
#define WS_HEAD_MAX 64

struct hr_tcp_lsnr {
	struct hr_le le;
	struct hr_sip *sip;
	enum hr_tp tp;
	struct evconnlistener *l;
	struct hr_sa laddr;
	char *adv;                 /* advertised "host:port", or NULL */
	int reserve;               /* /dev/null, given up to shed a peer when
				    * out of descriptors; -1 when not held */
	struct hr_tmr tmr_pause;   /* accepting again after EMFILE */
	unsigned pause_ms;         /* the next pause */
};

struct hr_conn {
	struct hr_le le;           /* in the stack's connection list */
	struct hr_sip *sip;
	struct bufferevent *bev;
	struct hr_sa peer;
	struct hr_sa laddr;
	char *adv;                 /* its listener's, referenced, or NULL */
	struct hr_tmr tmr_msg;     /* a started message, or the handshake,
				    * must end by then */
	bool closing;              /* close once the output has drained */
	bool tls_up;               /* TLS handshake done */
	bool ready;                /* TLS handshake and WebSocket upgrade
				    * done: SIP flows */
	enum hr_tp tp;
	struct hr_ws_rx *ws;       /* WS, WSS: the receive side, once
				    * upgraded */
	struct hr_list flows;      /* RFC 5626 flows over it (flow.c) */
	uint64_t keep_until;       /* hr_now_ms(): a registered flow's
				    * binding lives until then */
	bool pinged;               /* WS: a PING sent for idleness, no
				    * byte received since */
	uint32_t src_slot;         /* its count in the per-source table */
};

bool hr_conn_isopen(const struct hr_conn *conn)
{
	return conn && conn->bev && !conn->closing && conn->ready;
}

enum hr_tp hr_conn_tp(const struct hr_conn *conn)
{
	return conn->tp;
}

struct hr_list *hr_conn_flows(struct hr_conn *conn)
{
	return &conn->flows;
}

static bool conn_ws(const struct hr_conn *conn)
{
	return conn->tp == HR_TP_WS || conn->tp == HR_TP_WSS;
}

const struct hr_sa *hr_conn_laddr(const struct hr_conn *conn)
{
	return &conn->laddr;
}

const struct hr_sa *hr_conn_peer(const struct hr_conn *conn)
{
	return &conn->peer;
}

const char *hr_conn_adv(const struct hr_conn *conn)
{
	return conn->adv;
}

void hr_conn_close(struct hr_conn *conn)
{
	char peer[HR_SA_STRLEN];

	if (!conn->bev)
		return;
	HR_DEBUG("close %s", hr_sa_print(&conn->peer, peer, sizeof(peer)));
	hr_tmr_cancel(&conn->tmr_msg);
	hr_srclim_conn_close(hr_sip_srclim(conn->sip), conn->src_slot);
	conn->src_slot = 0;
	hr_flows_drop(&conn->flows);
	/* the peer's close_notify is not waited for (RFC 8446 6.1 allows
	 * it); said received, OpenSSL keeps the session for resumption */
	if (hr_tp_secure(conn->tp))
		SSL_set_shutdown(bufferevent_openssl_get_ssl(conn->bev),
			SSL_RECEIVED_SHUTDOWN);
	bufferevent_free(conn->bev);
	conn->bev = NULL;
	conn->closing = true;
	hr_list_unlink(&conn->le);
	hr_mem_ref(conn);
	hr_ctrans_conn_lost(conn->sip, conn);
	hr_mem_deref(conn);
	hr_mem_deref(conn);  /* the list's reference */
}

/* Send what is queued, then close (after a final error response). */
static void close_after_flush(struct hr_conn *conn)
{
	if (!conn->bev)
		return;
	conn->closing = true;
	bufferevent_disable(conn->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(conn->bev)) == 0)
		hr_conn_close(conn);
}

static void conn_destroy(void *data)
{
	struct hr_conn *conn = data;

	hr_tmr_cancel(&conn->tmr_msg);
	if (conn->bev)
		bufferevent_free(conn->bev);
	/* 0 once closed: the stack may be gone by now */
	if (conn->src_slot)
		hr_srclim_conn_close(hr_sip_srclim(conn->sip), conn->src_slot);
	hr_mem_deref(conn->adv);
	hr_mem_deref(conn->ws);
}

/* Queue bytes as they are: 0, or EPIPE when the peer is cut off (the
 * connection is closed then), or ENOMEM. */
static int put(struct hr_conn *conn, const void *p, size_t len)
{
	const struct hr_sip_cfg *cfg = hr_sip_cfg(conn->sip);
	struct evbuffer *out = bufferevent_get_output(conn->bev);

	/* a peer that does not read its responses is cut off */
	if (evbuffer_get_length(out) + len > cfg->tcp_max_out) {
		HR_INFO("peer does not read: closing");
		hr_conn_close(conn);
		return EPIPE;
	}
	if (bufferevent_write(conn->bev, p, len) < 0)
		return ENOMEM;
	return 0;
}

/* One WebSocket frame (RFC 7118 5: a SIP message is one text message;
 * unmasked, as a server sends). */
static int put_frame(struct hr_conn *conn, enum hr_ws_op op, const void *p,
	size_t len)
{
	struct hr_buf b;
	int err;

	hr_buf_init(&b, len + 16);
	err = hr_ws_frame_print(&b, op, p, len, NULL);
	if (!err)
		err = put(conn, b.b, b.len);
	hr_buf_reset(&b);
	return err;
}

int hr_conn_send(struct hr_conn *conn, const char *p, size_t len)
{
	if (!conn->bev || !conn->ready)
		return ENOTCONN;
	if (conn_ws(conn))
		return put_frame(conn, HR_WS_TEXT, p, len);
	return put(conn, p, len);
}

static void set_origin(struct hr_conn *conn, struct hr_msg *msg)
{
	msg->tp = conn->tp;
	msg->src = conn->peer;
	msg->dst = conn->laddr;
	msg->conn = hr_mem_ref(conn);
}

/* A message that cannot be framed: answer from its headers if they route,
 * then close, since the stream has lost its framing. */
static void unframed(struct hr_conn *conn, const char *p, size_t len,
	int err)
{
	const struct hr_sip_cfg *cfg = hr_sip_cfg(conn->sip);
	struct hr_msg *msg;

	if (len > cfg->max_msg)
		len = cfg->max_msg;
	if (!hr_msg_decode(&msg, p, len, false)) {
		if (err == EMSGSIZE) {
			msg->err_scode = 513;
			msg->err_reason = "Message Too Large";
		} else if (!msg->err_scode) {
			msg->err_scode = 400;
			msg->err_reason = "Missing Content-Length";
		}
		set_origin(conn, msg);
		hr_sip_recv(conn->sip, msg);
	}
	close_after_flush(conn);
}

static void msg_timeout(void *arg)
{
	struct hr_conn *conn = arg;

	HR_DEBUG("message not complete in time: closing");
	hr_conn_close(conn);
}

/* Leading CRLFs: how many; a CRLFCRLF ping gets a CRLF pong (RFC 5626
 * 4.4.1). */
static size_t keepalive(struct hr_conn *conn, const char *p, size_t len)
{
	size_t k = 0;

	while (k < len && (p[k] == '\r' || p[k] == '\n'))
		k++;
	if (k >= 4 && memcmp(p, "\r\n\r\n", 4) == 0)
		hr_conn_send(conn, "\r\n", 2);
	return k;
}

/* The handshake is over: SIP may flow. */
static void set_ready(struct hr_conn *conn)
{
	conn->ready = true;
	hr_tmr_cancel(&conn->tmr_msg);
}

/* Close with a WebSocket CLOSE frame first (RFC 6455 7.1.1). */
static void ws_close(struct hr_conn *conn, uint16_t code)
{
	struct hr_buf b;

	hr_buf_init(&b, 64);
	if (!hr_ws_close_print(&b, code))
		put(conn, b.b, b.len);
	hr_buf_reset(&b);
	if (conn->bev)
		close_after_flush(conn);
}

/* The HTTP upgrade to WebSocket (RFC 6455 4.2, RFC 7118 4): false when
 * nothing more can be done now. */
static bool ws_upgrade(struct hr_conn *conn, struct evbuffer *in,
	const char *p, size_t len)
{
	const struct hr_sip_cfg *cfg = hr_sip_cfg(conn->sip);
	char peer[HR_SA_STRLEN];
	struct hr_ws_upgrade u;
	struct hr_buf resp;
	int err;

	hr_buf_init(&resp, 4096);
	err = hr_ws_upgrade(p, len, WS_UPGRADE_MAX, "sip", cfg->server,
		&u, &resp);
	if (err == ENODATA) {
		hr_buf_reset(&resp);
		return false;
	}
	if (err) {
		HR_INFO_EVERY(1000, "WebSocket upgrade from %s: %s: closing",
			hr_sa_print(&conn->peer, peer, sizeof(peer)),
			err == EMSGSIZE ? "request too large" :
			hr_strerror(err));
		hr_buf_reset(&resp);
		hr_conn_close(conn);
		return false;
	}
	evbuffer_drain(in, u.len);
	put(conn, resp.b, resp.len);
	hr_buf_reset(&resp);
	if (!conn->bev)
		return false;
	if (u.status != 101 || hr_ws_rx_alloc(&conn->ws, cfg->max_msg)) {
		hr_sip_counters(conn->sip)->ws_refused++;
		HR_INFO_EVERY(1000, "WebSocket upgrade from %s refused: %u %s",
			hr_sa_print(&conn->peer, peer, sizeof(peer)), u.status,
			u.why ? u.why : "out of memory");
		close_after_flush(conn);
		return false;
	}
	set_ready(conn);
	return true;
}

/* One WebSocket message is one SIP message (RFC 7118 5): decoded as a
 * datagram is, Content-Length optional. */
static void ws_message(struct hr_conn *conn, const uint8_t *data, size_t n)
{
	const char *p = (const char *)data;
	size_t k = keepalive(conn, p, n);
	struct hr_msg *msg;

	/* a message of CRLFs only: a keep-alive (SIP.js sends them) */
	if (k == n || !conn->bev)
		return;
	if (hr_msg_decode(&msg, p + k, n - k, false))
		return;
	set_origin(conn, msg);
	hr_sip_recv(conn->sip, msg);
}

/* One WebSocket event from the input: false when nothing more can be done
 * now. */
static bool ws_read(struct hr_conn *conn, struct evbuffer *in,
	const uint8_t *p, size_t len)
{
	const struct hr_sip_cfg *cfg = hr_sip_cfg(conn->sip);
	const uint8_t *data;
	enum hr_ws_op op;
	uint16_t code;
	size_t used, n;
	enum hr_ws_event ev;

	ev = hr_ws_rx_read(conn->ws, p, len, &used, &op, &data, &n, &code);
	switch (ev) {
	case HR_WS_AGAIN:
		evbuffer_drain(in, used);
		if (len > used && !hr_tmr_isrunning(&conn->tmr_msg))
			hr_tmr_start(&conn->tmr_msg, cfg->tcp_msg_ms,
				msg_timeout, conn);
		return false;
	case HR_WS_MESSAGE:
		hr_tmr_cancel(&conn->tmr_msg);
		/* data may point into the input: routed before the drain */
		hr_mem_ref(conn);
		ws_message(conn, data, n);
		if (conn->bev)
			evbuffer_drain(in, used);
		hr_mem_deref(conn);
		return true;
	case HR_WS_PINGED:
		put_frame(conn, HR_WS_PONG, data, n);
		if (conn->bev)
			evbuffer_drain(in, used);
		return true;
	case HR_WS_PONGED:
		evbuffer_drain(in, used);
		return true;
	case HR_WS_CLOSED:
	case HR_WS_FAIL:
	default:
		if (ev != HR_WS_CLOSED)
			HR_DEBUG("WebSocket protocol error: closing with %u",
				code);
		evbuffer_drain(in, used);
		ws_close(conn, code);
		return false;
	}
}

/* Frame, decode and route one message over TCP or TLS: false when
 * nothing more can be done now. */
static bool sip_read(struct hr_conn *conn, struct evbuffer *in,
	const char *p, size_t len)
{
	const struct hr_sip_cfg *cfg = hr_sip_cfg(conn->sip);
	size_t k = keepalive(conn, p, len), mlen;
	struct hr_msg *msg;
	int err;

	if (k) {
		evbuffer_drain(in, k);
		return conn->bev != NULL;
	}
	err = hr_msg_frame(p, len, cfg->max_msg, &mlen);
	if (err == ENODATA) {
		if (!hr_tmr_isrunning(&conn->tmr_msg))
			hr_tmr_start(&conn->tmr_msg, cfg->tcp_msg_ms,
				msg_timeout, conn);
		return false;
	}
	if (err) {
		unframed(conn, p, len, err);
		return false;
	}
	hr_tmr_cancel(&conn->tmr_msg);
	err = hr_msg_decode(&msg, p, mlen, true);
	/* drained before routing: routing may close the connection */
	evbuffer_drain(in, mlen);
	if (err)
		return true;
	set_origin(conn, msg);
	hr_sip_recv(conn->sip, msg);
	return true;
}

/* Read what can be read now: false when nothing more can be done. */
static bool read_one(struct hr_conn *conn)
{
	struct evbuffer *in = bufferevent_get_input(conn->bev);
	size_t len = evbuffer_get_length(in);
	const char *p;

	if (!len)
		return false;
	p = (const char *)evbuffer_pullup(in, -1);
	if (!p)
		return false;
	if (!conn_ws(conn))
		return sip_read(conn, in, p, len);
	if (!conn->ready)
		return ws_upgrade(conn, in, p, len);
	return ws_read(conn, in, (const uint8_t *)p, len);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct hr_conn *conn = hr_mem_ref(arg);

	(void)bev;
	conn->pinged = false;
	while (conn->bev && !conn->closing && read_one(conn))
		;
	hr_mem_deref(conn);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct hr_conn *conn = arg;

	if (conn->closing &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		hr_conn_close(conn);
}

/* Why a TLS connection failed, from OpenSSL's queue (emptied). */
static const char *tls_why(struct bufferevent *bev, char *out, size_t n)
{
	unsigned long e = bufferevent_get_openssl_error(bev);

	if (!e) {
		snprintf(out, n, "%s", EVUTIL_SOCKET_ERROR() ?
			evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()) :
			"connection closed");
		return out;
	}
	ERR_error_string_n(e, out, n);
	while (bufferevent_get_openssl_error(bev))
		;
	return out;
}

/*
 * Idle for --tcp-idle-timeout: is the connection kept? A registered flow
 * is, while its binding lives (RFC 5626: it is the only route to the UA;
 * Kamailio's tcp_persistent_flag does the same). A WebSocket connection
 * gets a PING (browsers send no keep-alives of their own, and JsSIP
 * ignores Flow-Timer): it is kept while it answers, and closed after a
 * whole idle period without a byte. True: reading goes on.
 */
static bool idle_kept(struct hr_conn *conn)
{
	bool flow = hr_now_ms() < conn->keep_until;

	if (conn_ws(conn) && conn->ready) {
		if (conn->pinged && !flow)
			return false;
		if (!conn->pinged && put_frame(conn, HR_WS_PING, "", 0))
			return false;
		conn->pinged = true;
	} else if (!flow) {
		return false;
	}
	bufferevent_enable(conn->bev, EV_READ);
	return true;
}

void hr_conn_keep(struct hr_conn *conn, uint32_t secs)
{
	uint64_t until = hr_now_ms() + (uint64_t)secs * 1000;

	if (until > conn->keep_until)
		conn->keep_until = until;
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct hr_conn *conn = arg;
	char peer[HR_SA_STRLEN], why[256];

	if (what & BEV_EVENT_CONNECTED) {
		/* the TLS handshake is done; a WebSocket upgrade follows */
		conn->tls_up = true;
		if (!conn_ws(conn))
			set_ready(conn);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) &&
	    idle_kept(conn))
		return;
	if (what & BEV_EVENT_TIMEOUT)
		HR_DEBUG("idle timeout");
	if (hr_tp_secure(conn->tp) && (what & BEV_EVENT_ERROR) &&
	    !conn->tls_up) {
		hr_sip_counters(conn->sip)->tls_failed++;
		HR_INFO_EVERY(1000, "TLS handshake with %s failed: %s",
			hr_sa_print(&conn->peer, peer, sizeof(peer)),
			tls_why(bev, why, sizeof(why)));
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		hr_conn_close(conn);
}

static void hs_timeout(void *arg)
{
	struct hr_conn *conn = arg;
	char peer[HR_SA_STRLEN];

	hr_sip_counters(conn->sip)->hs_timeouts++;
	HR_INFO_EVERY(1000, "%s handshake with %s not done in %u ms: closing",
		hr_tp_name(conn->tp), hr_sa_print(&conn->peer, peer,
		sizeof(peer)), hr_sip_cfg(conn->sip)->hs_ms);
	hr_conn_close(conn);
}

/* The bufferevent of a socket: over TLS for tls: and wss: listeners,
 * the handshake accepted (a server's side; Herald opens only TCP). */
static struct bufferevent *bev_new(struct hr_sip *sip, evutil_socket_t fd,
	enum hr_tp tp)
{
	struct ssl_st *ssl;
	struct bufferevent *bev;

	if (!hr_tp_secure(tp))
		return bufferevent_socket_new(hr_loop_base(), fd,
			BEV_OPT_CLOSE_ON_FREE);
	ssl = hr_tls_ssl(hr_sip_tls(sip));
	if (!ssl)
		return NULL;
	bev = bufferevent_openssl_socket_new(hr_loop_base(), fd, ssl,
		BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (!bev)
		SSL_free(ssl);
	return bev;
}

/* Wrap a connected (or connecting) socket; the stack's list holds the
 * allocation's reference. */
static struct hr_conn *conn_new(struct hr_sip *sip, evutil_socket_t fd,
	enum hr_tp tp, const struct hr_sa *peer, char *adv)
{
	const struct hr_sip_cfg *cfg = hr_sip_cfg(sip);
	struct timeval idle = { cfg->tcp_idle_ms / 1000,
		(cfg->tcp_idle_ms % 1000) * 1000 };
	socklen_t len = sizeof(struct sockaddr_storage);
	struct hr_conn *conn;
	int on = 1;

	conn = hr_mem_zalloc(sizeof(*conn), conn_destroy);
	if (!conn) {
		close(fd);
		return NULL;
	}
	conn->sip = sip;
	conn->tp = tp;
	conn->peer = *peer;
	conn->adv = hr_mem_ref(adv);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	conn->bev = bev_new(sip, fd, tp);
	if (!conn->bev) {
		close(fd);
		hr_mem_deref(conn);
		return NULL;
	}
	/* TCP is ready at once; the others after their handshake, within
	 * its deadline */
	if (tp == HR_TP_TCP)
		conn->ready = true;
	else
		hr_tmr_start(&conn->tmr_msg, cfg->hs_ms, hs_timeout, conn);
	if (getsockname(fd, &conn->laddr.u.sa, &len) == 0)
		conn->laddr.len = len;
	/* input never grows far past one message: framing fails first (a
	 * WebSocket frame has a header of up to 14 bytes besides) */
	bufferevent_setwatermark(conn->bev, EV_READ, 0, cfg->max_msg +
		(tp == HR_TP_WS || tp == HR_TP_WSS ? WS_HEAD_MAX : 1));
	bufferevent_setcb(conn->bev, read_cb, write_cb, event_cb, conn);
	bufferevent_set_timeouts(conn->bev, &idle, &idle);
	bufferevent_enable(conn->bev, EV_READ);
	hr_list_append(hr_sip_conns(sip), &conn->le, conn);
	return conn;
}

/* A connection closed at accept: counted, and said at most once a
 * second (a flood of connections must not flood the log too). */
static void refuse(struct hr_sip *sip, evutil_socket_t fd,
	const struct hr_sa *peer, bool per_source)
{
	const struct hr_sip_cfg *cfg = hr_sip_cfg(sip);
	struct hr_sip_stats *st = hr_sip_counters(sip);
	char addr[HR_SA_STRLEN];

	close(fd);
	if (per_source)
		st->tcp_refused_src++;
	else
		st->tcp_refused_max++;
	HR_WARN_EVERY(1000, "connection from %s refused: %s (%u)",
		hr_sa_print(peer, addr, sizeof(addr)), per_source ?
		"over --max-tcp-per-source" : "over --tcp-max-connections",
		per_source ? cfg->src_max_tcp : cfg->tcp_max_conns);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd,
	struct sockaddr *sa, int salen, void *arg)
{
	struct hr_tcp_lsnr *lsnr = arg;
	const struct hr_sip_cfg *cfg = hr_sip_cfg(lsnr->sip);
	struct hr_conn *conn;
	struct hr_sa peer;
	uint32_t slot;

	(void)l;
	lsnr->pause_ms = PAUSE_MIN_MS;
	memset(&peer, 0, sizeof(peer));
	memcpy(&peer.u.ss, sa, (size_t)salen);
	peer.len = (socklen_t)salen;
	if (hr_sip_conns(lsnr->sip)->n >= cfg->tcp_max_conns) {
		refuse(lsnr->sip, fd, &peer, false);
		return;
	}
	if (hr_srclim_conn_open(hr_sip_srclim(lsnr->sip), &peer, &slot)) {
		refuse(lsnr->sip, fd, &peer, true);
		return;
	}
	conn = conn_new(lsnr->sip, fd, lsnr->tp, &peer, lsnr->adv);
	if (conn)
		conn->src_slot = slot;
	else
		hr_srclim_conn_close(hr_sip_srclim(lsnr->sip), slot);
}

struct hr_conn *hr_conn_find(struct hr_sip *sip, enum hr_tp tp,
	const struct hr_sa *peer)
{
	for (struct hr_le *le = hr_sip_conns(sip)->head; le; le = le->next) {
		struct hr_conn *conn = le->data;

		if (hr_conn_isopen(conn) && conn->tp == tp &&
		    hr_sa_eq(&conn->peer, peer))
			return conn;
	}
	return NULL;
}

/* The advertised address of our TCP listener of family af, or NULL. */
static char *lsnr_adv(struct hr_sip *sip, sa_family_t af)
{
	for (struct hr_le *le = hr_sip_lsnrs(sip)->head; le; le = le->next) {
		struct hr_tcp_lsnr *l = le->data;

		if (l->laddr.u.sa.sa_family == af && l->tp == HR_TP_TCP)
			return l->adv;
	}
	return NULL;
}

int hr_conn_connect(struct hr_conn **connp, struct hr_sip *sip,
	const struct hr_sa *peer)
{
	struct hr_conn *conn;
	evutil_socket_t fd;

	fd = socket(peer->u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK |
		SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	/* connect() assigns the local address at once; bufferevent queues
	 * what is written until the connection is up */
	if (connect(fd, &peer->u.sa, peer->len) < 0 && errno != EINPROGRESS) {
		int err = errno;

		close(fd);
		return err;
	}
	conn = conn_new(sip, fd, HR_TP_TCP, peer,
		lsnr_adv(sip, peer->u.sa.sa_family));
	if (!conn)
		return ENOMEM;
	*connp = conn;
	return 0;
}

static int reserve_open(void)
{
	return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/*
 * Out of descriptors: the reserve is given up so that the peers waiting
 * in the backlog can be accepted and closed at once, one at a time: they
 * see a clean close rather than a handshake that never ends. Another
 * thread (the store's, the admin's) may take the freed slot first: the
 * reserve is then taken back when accepting resumes. Returns the number
 * closed.
 */
static unsigned shed(struct hr_tcp_lsnr *lsnr)
{
	evutil_socket_t lfd = evconnlistener_get_fd(lsnr->l);
	unsigned n = 0;
	int fd;

	if (lsnr->reserve < 0)
		return 0;
	close(lsnr->reserve);
	lsnr->reserve = -1;
	while (n < SHED_MAX &&
	       (fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		close(fd);
		n++;
	}
	lsnr->reserve = reserve_open();
	return n;
}

static void resume(void *arg)
{
	struct hr_tcp_lsnr *lsnr = arg;

	if (lsnr->reserve < 0)
		lsnr->reserve = reserve_open();
	evconnlistener_enable(lsnr->l);
}

static bool out_of_fds(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS ||
		err == ENOMEM;
}

static void lsnr_error(struct evconnlistener *l, void *arg)
{
	struct hr_tcp_lsnr *lsnr = arg;
	int err = errno;
	unsigned n;

	if (!out_of_fds(err)) {
		HR_WARN("accept: %s", hr_strerror(err));
		return;
	}
	/* libevent would call again at once while the backlog is not
	 * empty: a core spent and the log flooded */
	evconnlistener_disable(l);
	n = shed(lsnr);
	HR_WARN("accept: %s: %u waiting connection%s closed, accepting again "
		"in %u ms", hr_strerror(err), n, n == 1 ? "" : "s",
		lsnr->pause_ms);
	hr_tmr_start(&lsnr->tmr_pause, lsnr->pause_ms, resume, lsnr);
	lsnr->pause_ms = lsnr->pause_ms * 2 > PAUSE_MAX_MS ? PAUSE_MAX_MS :
		lsnr->pause_ms * 2;
}

static void lsnr_destroy(void *data)
{
	struct hr_tcp_lsnr *lsnr = data;

	hr_list_unlink(&lsnr->le);
	hr_tmr_cancel(&lsnr->tmr_pause);
	if (lsnr->l)
		evconnlistener_free(lsnr->l);
	if (lsnr->reserve >= 0)
		close(lsnr->reserve);
	hr_mem_deref(lsnr->adv);
}

int hr_tcp_listen(struct hr_tcp_lsnr **lp, struct hr_sip *sip, enum hr_tp tp,
	struct hr_sa *laddr, const char *adv_host, uint16_t adv_port)
{
	struct hr_tcp_lsnr *lsnr;
	socklen_t len;
	int on = 1, fd, err;

	if (hr_tp_secure(tp) && !hr_sip_tls(sip)) {
		HR_ERROR("%s: listening needs --tls-cert and --tls-key",
			hr_tp_param(tp));
		return EINVAL;
	}
	lsnr = hr_mem_zalloc(sizeof(*lsnr), lsnr_destroy);
	if (!lsnr)
		return ENOMEM;
	lsnr->sip = sip;
	lsnr->tp = tp;
	lsnr->pause_ms = PAUSE_MIN_MS;
	lsnr->reserve = reserve_open();
	if (lsnr->reserve < 0) {
		err = errno;
		goto out;
	}
	fd = socket(laddr->u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK |
		SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (laddr->u.sa.sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	len = laddr->len;
	if (bind(fd, &laddr->u.sa, laddr->len) < 0 || listen(fd, 1024) < 0 ||
	    getsockname(fd, &laddr->u.sa, &len) < 0) {
		err = errno;
		close(fd);
		goto out;
	}
	laddr->len = len;
	lsnr->laddr = *laddr;
	err = hr_sip_adv_make(&lsnr->adv, adv_host, adv_port, laddr);
	if (err) {
		close(fd);
		goto out;
	}
	lsnr->l = evconnlistener_new(hr_loop_base(), accept_cb, lsnr,
		LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (!lsnr->l) {
		close(fd);
		err = ENOMEM;
		goto out;
	}
	evconnlistener_set_error_cb(lsnr->l, lsnr_error);
	hr_list_append(hr_sip_lsnrs(sip), &lsnr->le, lsnr);
	if (lp)
		*lp = lsnr;
	return 0;
out:
	hr_mem_deref(lsnr);
	return err;
}

const struct hr_sa *hr_tcp_lsnr_laddr(const struct hr_tcp_lsnr *l)
{
	return &l->laddr;
}

const char *hr_tcp_lsnr_adv(const struct hr_tcp_lsnr *l)
{
	return l->adv;
}

enum hr_tp hr_tcp_lsnr_tp(const struct hr_tcp_lsnr *l)
{
	return l->tp;
}
