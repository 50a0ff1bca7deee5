/*
 * TCP transport: a listener and one bufferevent per connection. Messages
 * are framed by Content-Length (RFC 3261 18.3). Each connection's input
 * and output are capped, a message must arrive whole within a deadline,
 * and idle connections are closed, so no peer can hold others up.
 */
#include <errno.h>
#include <fcntl.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>
#include "sip_int.h"

#define HR_LOG_MODULE "tcp"

/* Out of descriptors, accepting pauses this long, doubling up to the
 * most while it lasts: libevent would retry at once, for ever. */
#define PAUSE_MIN_MS 100
#define PAUSE_MAX_MS 1000
/* waiting connections closed in one go when out of descriptors */
#define SHED_MAX 64

struct hr_tcp_lsnr {
	struct hr_le le;
	struct hr_sip *sip;
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
	struct hr_tmr tmr_msg;     /* a started message must end by then */
	bool closing;              /* close once the output has drained */
	uint32_t src_slot;         /* its count in the per-source table */
};

bool hr_conn_isopen(const struct hr_conn *conn)
{
	return conn && conn->bev && !conn->closing;
}

const struct hr_sa *hr_conn_laddr(const struct hr_conn *conn)
{
	return &conn->laddr;
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
}

int hr_conn_send(struct hr_conn *conn, const char *p, size_t len)
{
	const struct hr_sip_cfg *cfg;
	struct evbuffer *out;

	if (!conn->bev)
		return ENOTCONN;
	cfg = hr_sip_cfg(conn->sip);
	out = bufferevent_get_output(conn->bev);
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

static void set_origin(struct hr_conn *conn, struct hr_msg *msg)
{
	msg->tp = HR_TP_TCP;
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

/* Leading CRLFs: a CRLFCRLF ping gets a CRLF pong (RFC 5626 4.4.1). */
static bool keepalive(struct hr_conn *conn, struct evbuffer *in,
	const char *p, size_t len)
{
	size_t k = 0;

	while (k < len && (p[k] == '\r' || p[k] == '\n'))
		k++;
	if (!k)
		return false;
	if (k >= 4 && memcmp(p, "\r\n\r\n", 4) == 0)
		hr_conn_send(conn, "\r\n", 2);
	evbuffer_drain(in, k);
	return true;
}

/* Frame, decode and route one message: false when nothing more can be
 * done now. */
static bool read_one(struct hr_conn *conn)
{
	const struct hr_sip_cfg *cfg = hr_sip_cfg(conn->sip);
	struct evbuffer *in = bufferevent_get_input(conn->bev);
	size_t len = evbuffer_get_length(in), mlen;
	struct hr_msg *msg;
	const char *p;
	int err;

	if (!len)
		return false;
	p = (const char *)evbuffer_pullup(in, -1);
	if (!p)
		return false;
	if (keepalive(conn, in, p, len))
		return true;
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

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct hr_conn *conn = hr_mem_ref(arg);

	(void)bev;
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

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct hr_conn *conn = arg;

	(void)bev;
	if (what & BEV_EVENT_TIMEOUT)
		HR_DEBUG("idle timeout");
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		hr_conn_close(conn);
}

/* Wrap a connected (or connecting) socket; the stack's list holds the
 * allocation's reference. */
static struct hr_conn *conn_new(struct hr_sip *sip, evutil_socket_t fd,
	const struct hr_sa *peer, char *adv)
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
	conn->peer = *peer;
	conn->adv = hr_mem_ref(adv);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	conn->bev = bufferevent_socket_new(hr_loop_base(), fd,
		BEV_OPT_CLOSE_ON_FREE);
	if (!conn->bev) {
		close(fd);
		hr_mem_deref(conn);
		return NULL;
	}
	if (getsockname(fd, &conn->laddr.u.sa, &len) == 0)
		conn->laddr.len = len;
	/* input never grows far past one message: framing fails first */
	bufferevent_setwatermark(conn->bev, EV_READ, 0, cfg->max_msg + 1);
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
	conn = conn_new(lsnr->sip, fd, &peer, lsnr->adv);
	if (conn)
		conn->src_slot = slot;
	else
		hr_srclim_conn_close(hr_sip_srclim(lsnr->sip), slot);
}

struct hr_conn *hr_conn_find(struct hr_sip *sip, const struct hr_sa *peer)
{
	for (struct hr_le *le = hr_sip_conns(sip)->head; le; le = le->next) {
		struct hr_conn *conn = le->data;

		if (hr_conn_isopen(conn) && hr_sa_eq(&conn->peer, peer))
			return conn;
	}
	return NULL;
}

/* The advertised address of our listener of family af, or NULL. */
static char *lsnr_adv(struct hr_sip *sip, sa_family_t af)
{
	for (struct hr_le *le = hr_sip_lsnrs(sip)->head; le; le = le->next) {
		struct hr_tcp_lsnr *l = le->data;

		if (l->laddr.u.sa.sa_family == af)
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
	conn = conn_new(sip, fd, peer, lsnr_adv(sip, peer->u.sa.sa_family));
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

int hr_tcp_listen(struct hr_tcp_lsnr **lp, struct hr_sip *sip,
	struct hr_sa *laddr, const char *adv_host, uint16_t adv_port)
{
	struct hr_tcp_lsnr *lsnr;
	socklen_t len;
	int on = 1, fd, err;

	lsnr = hr_mem_zalloc(sizeof(*lsnr), lsnr_destroy);
	if (!lsnr)
		return ENOMEM;
	lsnr->sip = sip;
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
