/*
 * UDP transport: batched receive with recvmmsg and batched send with
 * sendmmsg. Responses produced while a receive batch is handled are
 * queued and leave in one sendmmsg at the end of the batch. What is sent
 * outside a receive batch (the 200s after a commit, NOTIFYs, Timer E's
 * retransmissions) is queued too and leaves in one sendmmsg per turn of
 * the loop: a flush event made active by the first datagram queued runs
 * after the callbacks already active in that turn (a store completion
 * fanning out to a thousand watchers is one callback). Every queue is
 * flushed when it fills, and when the socket closes.
 *
 * A queued request's send may fail after hr_udp_send() said 0: RFC 3261
 * 8.1.3.1 makes a transport error a failure now, not at Timer F, so each
 * datagram carries its client transaction's branch, and the error goes
 * to the transaction found by it once the flush is over (report()), never
 * from within a send: the sender may be walking a list the failure would
 * change.
 *
 * A socket bound to a wildcard address learns each datagram's local
 * address from its IP_PKTINFO / IPV6_PKTINFO control message (no extra
 * system call) and sends from a chosen local address the same way, so a
 * host with several addresses answers from the one it was asked on.
 *
 * Each datagram also carries the time the kernel received it
 * (SO_TIMESTAMPNS): its lag, the time it waited in the socket's queue
 * until Herald read it, is how the router sees overload (sip.c, shed()).
 * So is the queue's fill after each batch (SO_MEMINFO): a receive buffer
 * that net.core.rmem_max keeps small holds less than the lag limit's
 * worth of datagrams at a high rate, and the kernel would drop them
 * before their lag said anything.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "sip_int.h"

#define HR_LOG_MODULE "udp"

#define RX_BATCH 32
#define RX_ROUNDS 8        /* batches per wakeup before others get a turn */
#define TX_BATCH 64
#define TX_ARENA (256 * 1024)
#define FAILS_MAX 65536    /* failures kept for report() in one turn */
/* room for either pktinfo, and the arrival time */
#define CTL_LEN (CMSG_SPACE(sizeof(struct in6_pktinfo)) + \
	CMSG_SPACE(sizeof(struct timespec)))

union ctl {
	char buf[CTL_LEN];
	struct cmsghdr align;
};

struct hr_udp {
	struct hr_le le;
	struct hr_sip *sip;
	int fd;
	struct event *ev;
	struct hr_sa laddr;
	char *adv;                 /* advertised "host:port", or NULL */
	struct hr_sa adv_sa;       /* ...when it is an IP address */
	bool any;                  /* bound to a wildcard address */
	size_t slot;               /* max_msg + 1: one more shows truncation */
	char *rxbuf;
	struct mmsghdr rx[RX_BATCH];
	struct iovec rxiov[RX_BATCH];
	struct sockaddr_storage rxsrc[RX_BATCH];
	union ctl rxctl[RX_BATCH];
	bool batching;
	bool txarmed;              /* txev is active */
	struct event *txev;        /* flushes outside a receive batch */
	unsigned txn;
	size_t txused;
	struct mmsghdr tx[TX_BATCH];
	struct iovec txiov[TX_BATCH];
	struct hr_sa txdst[TX_BATCH];
	union ctl txctl[TX_BATCH];
	char txbranch[TX_BATCH][HR_BRANCH_SIZE]; /* "" for a response */
	char *txarena;
	struct txfail *fails;      /* requests whose send failed, to report */
	size_t nfail, failcap;
};

struct txfail {
	char branch[HR_BRANCH_SIZE];
	int err;
};

static void flush(struct hr_udp *u);

static void udp_destroy(void *data)
{
	struct hr_udp *u = data;

	hr_list_unlink(&u->le);
	/* what is queued still goes (a final NOTIFY, the last 200s); its
	 * transactions are gone (hr_sip_close()), nothing to report to */
	if (u->fd >= 0)
		flush(u);
	if (u->ev)
		event_free(u->ev);
	if (u->txev)
		event_free(u->txev);
	if (u->fd >= 0)
		close(u->fd);
	free(u->rxbuf);
	free(u->txarena);
	free(u->fails);
	hr_mem_deref(u->adv);
}

/* The pktinfo control message that sends from src: its length, 0 when
 * the kernel chooses (a socket bound to one address, src unknown). */
static size_t src_ctl(const struct hr_udp *u, const struct hr_sa *src,
	union ctl *ctl)
{
	struct cmsghdr *c = &ctl->align;

	/* an advertised address is not necessarily ours (NAT) */
	if (!u->any || !src || !src->len ||
	    src->u.sa.sa_family != u->laddr.u.sa.sa_family ||
	    (u->adv_sa.len && hr_sa_eq(src, &u->adv_sa)))
		return 0;
	memset(ctl, 0, sizeof(*ctl));
	if (src->u.sa.sa_family == AF_INET) {
		struct in_pktinfo pi = { .ipi_spec_dst = src->u.in.sin_addr };

		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		return CMSG_SPACE(sizeof(pi));
	} else {
		struct in6_pktinfo pi = { .ipi6_addr = src->u.in6.sin6_addr };

		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		return CMSG_SPACE(sizeof(pi));
	}
}

/* A source address that is no longer ours (a dialog from before a
 * restart, an address gone): send from the kernel's choice instead. */
static bool bad_src(int err, const struct msghdr *h)
{
	return h->msg_controllen && (err == EINVAL || err == EADDRNOTAVAIL);
}

/* Whether a failed send is the peer's or the path's failure, which its
 * transaction must learn: a full buffer (EAGAIN, ENOBUFS) only loses the
 * datagram, as the network may, and Timer E sends it again (RFC 3261
 * 17.1.2). */
static bool fails_request(int err)
{
	return err != EAGAIN && err != EWOULDBLOCK && err != ENOBUFS &&
		err != ENOMEM;
}

/* Queued datagram i was not sent: a request's transaction learns why in
 * report(); a response is lost, the peer sends its request again. */
static void failed(struct hr_udp *u, unsigned i, int err)
{
	struct txfail *f;

	HR_DEBUG("sendmmsg: %s", hr_strerror(err));
	if (!u->txbranch[i][0] || !fails_request(err))
		return;
	if (u->nfail == u->failcap) {
		size_t cap = u->failcap ? 2 * u->failcap : TX_BATCH;

		f = cap <= FAILS_MAX ?
			realloc(u->fails, cap * sizeof(*f)) : NULL;
		if (!f) {
			/* Timer F ends it instead */
			HR_WARN("%s: send failed (%s), reported at Timer F",
				u->txbranch[i], hr_strerror(err));
			return;
		}
		u->fails = f;
		u->failcap = cap;
	}
	f = &u->fails[u->nfail++];
	memcpy(f->branch, u->txbranch[i], sizeof(f->branch));
	f->err = err;
}

/* The error of the datagram a sendmmsg that returned early stopped at:
 * some kernels keep it for the next call on the socket (which would fail
 * the next datagram with it), others make the next call meet it again;
 * SO_ERROR takes the kept one, 0 when there is none. */
static int kept_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return 0;
	return err;
}

/* Send what is queued; sendmmsg stops at a datagram that fails, which is
 * then either sent again from the kernel's choice of source or given up
 * (failed()), and the rest go on. */
static void flush(struct hr_udp *u)
{
	unsigned off = 0;

	while (off < u->txn) {
		int n = sendmmsg(u->fd, u->tx + off, u->txn - off, 0);
		int err;

		if (n > 0) {
			hr_sip_counters(u->sip)->udp_send_calls++;
			off += (unsigned)n;
			if (off == u->txn)
				break;
			err = kept_error(u->fd);
			if (!err)
				continue;
		} else {
			err = n < 0 ? errno : EIO;
		}
		if (err == EINTR)
			continue;
		if (bad_src(err, &u->tx[off].msg_hdr)) {
			u->tx[off].msg_hdr.msg_control = NULL;
			u->tx[off].msg_hdr.msg_controllen = 0;
			continue;
		}
		failed(u, off, err);
		off++;
	}
	u->txn = 0;
	u->txused = 0;
}

/* Tell each failed request's transaction (RFC 3261 8.1.3.1). Its handler
 * may send again: queued, and reported in a later turn if it fails. */
static void report(struct hr_udp *u)
{
	for (size_t i = 0; i < u->nfail; i++) {
		struct txfail f = u->fails[i];

		hr_ctrans_send_failed(u->sip, f.branch, f.err);
	}
	u->nfail = 0;
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hr_udp *u = arg;

	(void)fd;
	(void)what;
	u->txarmed = false;
	flush(u);
	report(u);
}

/* One datagram now, too large for the queue's arena. */
static int send_one(struct hr_udp *u, const struct hr_sa *dst,
	const struct hr_sa *src, const char *p, size_t len)
{
	struct iovec iov = { (void *)p, len };
	union ctl ctl;
	struct msghdr h = { .msg_name = (void *)&dst->u.sa,
		.msg_namelen = dst->len, .msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = &ctl, .msg_controllen = src_ctl(u, src, &ctl) };

	if (!h.msg_controllen)
		h.msg_control = NULL;
	while (sendmsg(u->fd, &h, 0) < 0) {
		if (!bad_src(errno, &h)) {
			HR_DEBUG("sendmsg: %s", hr_strerror(errno));
			return errno;
		}
		h.msg_control = NULL;
		h.msg_controllen = 0;
	}
	hr_sip_counters(u->sip)->udp_send_calls++;
	return 0;
}

/* A request's branch (HR_BRANCH_SIZE at most, with its NUL), or "". */
static void branch_copy(char *to, const char *branch)
{
	size_t n = branch ? strnlen(branch, HR_BRANCH_SIZE - 1) : 0;

	memcpy(to, branch ? branch : "", n);
	to[n] = '\0';
}

int hr_udp_send(struct hr_udp *u, const struct hr_sa *dst,
	const struct hr_sa *src, const char *p, size_t len, const char *branch)
{
	struct mmsghdr *m;

	if (len > TX_ARENA)
		return send_one(u, dst, src, p, len);
	if (u->txn == TX_BATCH || u->txused + len > TX_ARENA)
		flush(u);
	/* outside a receive batch, which flushes at its end: at the end of
	 * this turn of the loop */
	if (!u->batching && !u->txarmed) {
		event_active(u->txev, EV_WRITE, 0);
		u->txarmed = true;
	}
	memcpy(u->txarena + u->txused, p, len);
	u->txdst[u->txn] = *dst;
	u->txiov[u->txn].iov_base = u->txarena + u->txused;
	u->txiov[u->txn].iov_len = len;
	branch_copy(u->txbranch[u->txn], branch);
	m = &u->tx[u->txn];
	memset(m, 0, sizeof(*m));
	m->msg_hdr.msg_name = &u->txdst[u->txn].u.sa;
	m->msg_hdr.msg_namelen = dst->len;
	m->msg_hdr.msg_iov = &u->txiov[u->txn];
	m->msg_hdr.msg_iovlen = 1;
	m->msg_hdr.msg_controllen = src_ctl(u, src, &u->txctl[u->txn]);
	if (m->msg_hdr.msg_controllen)
		m->msg_hdr.msg_control = &u->txctl[u->txn];
	u->txused += len;
	u->txn++;
	return 0;
}

/* Microseconds from arrival (the kernel's receive time, ts) to now,
 * held to what a uint32_t takes; 0 when either is unknown. */
static uint32_t lag_us(const struct timespec *ts, const struct timespec *now)
{
	int64_t us;

	if (!ts->tv_sec || !now->tv_sec)
		return 0;
	us = (int64_t)(now->tv_sec - ts->tv_sec) * 1000000 +
		(now->tv_nsec - ts->tv_nsec) / 1000;
	/* a clock stepped back reads as no lag */
	if (us <= 0)
		return 0;
	return us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* What datagram i's control messages say: the local address it was sent
 * to, from its pktinfo, with the socket's port (the socket's address
 * when there is none), and its lag against now. */
static void ctl_of(struct hr_udp *u, unsigned i, const struct timespec *now,
	struct hr_sa *la, uint32_t *lag)
{
	struct msghdr *h = &u->rx[i].msg_hdr;

	*la = u->laddr;
	*lag = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;

			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			*lag = lag_us(&ts, now);
		} else if (!u->any) {
			continue;
		} else if (c->cmsg_level == IPPROTO_IP &&
			   c->cmsg_type == IP_PKTINFO &&
			   la->u.sa.sa_family == AF_INET) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			/* the address to answer from: the destination of a
			 * unicast datagram */
			la->u.in.sin_addr = pi.ipi_spec_dst;
		} else if (c->cmsg_level == IPPROTO_IPV6 &&
			   c->cmsg_type == IPV6_PKTINFO &&
			   la->u.sa.sa_family == AF_INET6) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			la->u.in6.sin6_addr = pi.ipi6_addr;
		}
	}
}

/* Whether the socket's queue is over half full: the kernel is about to
 * drop datagrams, whatever their lag. */
static bool queue_full(const struct hr_udp *u)
{
	uint32_t mi[SK_MEMINFO_VARS];
	socklen_t len = sizeof(mi);

	if (getsockopt(u->fd, SOL_SOCKET, SO_MEMINFO, mi, &len) < 0 ||
	    len <= SK_MEMINFO_RCVBUF * sizeof(*mi))
		return false;
	return mi[SK_MEMINFO_RMEM_ALLOC] > mi[SK_MEMINFO_RCVBUF] / 2;
}

static void deliver(struct hr_udp *u, unsigned i, const struct timespec *now,
	bool full)
{
	const struct hr_sip_cfg *cfg = hr_sip_cfg(u->sip);
	struct mmsghdr *m = &u->rx[i];
	size_t len = m->msg_len;
	bool oversize = (m->msg_hdr.msg_flags & MSG_TRUNC) || len > cfg->max_msg;
	struct hr_msg *msg;

	if (len > cfg->max_msg)
		len = cfg->max_msg;
	if (hr_msg_decode(&msg, u->rxbuf + i * u->slot, len, false))
		return;
	if (oversize) {
		/* RFC 3261 21.5.14; the headers at the front still route it */
		msg->err_scode = 513;
		msg->err_reason = "Message Too Large";
	}
	msg->tp = HR_TP_UDP;
	memcpy(&msg->src.u.ss, &u->rxsrc[i], m->msg_hdr.msg_namelen);
	msg->src.len = m->msg_hdr.msg_namelen;
	ctl_of(u, i, now, &msg->dst, &msg->lag_us);
	msg->queue_full = full;
	msg->sock = u;
	hr_sip_recv(u->sip, msg);
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hr_udp *u = arg;

	(void)what;
	for (int round = 0; round < RX_ROUNDS; round++) {
		struct timespec now;
		bool full;
		int n;

		for (unsigned i = 0; i < RX_BATCH; i++) {
			u->rx[i].msg_hdr.msg_namelen = sizeof(u->rxsrc[i]);
			u->rx[i].msg_hdr.msg_flags = 0;
			u->rx[i].msg_hdr.msg_controllen = CTL_LEN;
		}
		n = recvmmsg(fd, u->rx, RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		u->batching = true;
		/* what is left behind this batch, once per batch (a
		 * system call for up to RX_BATCH datagrams) */
		full = n == RX_BATCH && queue_full(u);
		for (int i = 0; i < n; i++) {
			/* the kernel's timestamps are on this clock (vDSO:
			 * no system call) */
			clock_gettime(CLOCK_REALTIME, &now);
			deliver(u, (unsigned)i, &now, full);
		}
		u->batching = false;
		flush(u);
		if (n < RX_BATCH)
			break;
	}
	report(u);
}

/* Say so when the kernel gave a smaller receive buffer than asked for
 * (it reports twice what it granted, the rest for its bookkeeping). */
static void rcvbuf_check(int fd, int want)
{
	int got = 0;
	socklen_t len = sizeof(got);

	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len) < 0 ||
	    got / 2 >= want)
		return;
	HR_WARN("UDP receive buffer %d kB, not the %d kB asked for "
		"(net.core.rmem_max): a burst beyond it is lost before Herald "
		"can answer it; raise net.core.rmem_max to %d", got / 2 / 1024,
		want / 1024, want);
}

static int sock_open(struct hr_udp *u)
{
	int on = 1, size = 4 * 1024 * 1024;
	socklen_t len = u->laddr.len;

	u->fd = socket(u->laddr.u.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK |
		SOCK_CLOEXEC, 0);
	if (u->fd < 0)
		return errno;
	if (u->laddr.u.sa.sa_family == AF_INET6)
		setsockopt(u->fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	/* bursts of requests must not overflow the kernel queue: past
	 * net.core.rmem_max when allowed (CAP_NET_ADMIN) */
	if (setsockopt(u->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size,
		sizeof(size)) < 0)
		setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	rcvbuf_check(u->fd, size);
	setsockopt(u->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	/* each datagram's arrival time: its lag is the overload signal;
	 * without it (an old kernel) Herald does not shed on lag */
	if (setsockopt(u->fd, SOL_SOCKET, SO_TIMESTAMPNS, &on,
		sizeof(on)) < 0)
		HR_WARN("SO_TIMESTAMPNS: %s: no overload shedding over UDP",
			hr_strerror(errno));
	if (bind(u->fd, &u->laddr.u.sa, u->laddr.len) < 0)
		return errno;
	if (getsockname(u->fd, &u->laddr.u.sa, &len) < 0)
		return errno;
	u->laddr.len = len;
	u->any = hr_sa_isany(&u->laddr);
	if (u->any && u->laddr.u.sa.sa_family == AF_INET &&
	    setsockopt(u->fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on)) < 0)
		return errno;
	if (u->any && u->laddr.u.sa.sa_family == AF_INET6 &&
	    setsockopt(u->fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on,
		sizeof(on)) < 0)
		return errno;
	return 0;
}

int hr_udp_alloc(struct hr_udp **up, struct hr_sip *sip, struct hr_sa *laddr,
	const char *adv_host, uint16_t adv_port)
{
	const struct hr_sip_cfg *cfg = hr_sip_cfg(sip);
	struct hr_udp *u;
	int err;

	u = hr_mem_zalloc(sizeof(*u), udp_destroy);
	if (!u)
		return ENOMEM;
	u->fd = -1;
	u->sip = sip;
	u->laddr = *laddr;
	u->slot = cfg->max_msg + 1;
	u->rxbuf = malloc(RX_BATCH * u->slot);
	u->txarena = malloc(TX_ARENA);
	if (!u->rxbuf || !u->txarena) {
		err = ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < RX_BATCH; i++) {
		u->rxiov[i].iov_base = u->rxbuf + i * u->slot;
		u->rxiov[i].iov_len = u->slot;
		u->rx[i].msg_hdr.msg_iov = &u->rxiov[i];
		u->rx[i].msg_hdr.msg_iovlen = 1;
		u->rx[i].msg_hdr.msg_name = &u->rxsrc[i];
		u->rx[i].msg_hdr.msg_control = &u->rxctl[i];
	}
	err = sock_open(u);
	if (!err)
		err = hr_sip_adv_make(&u->adv, adv_host, adv_port, &u->laddr);
	if (err)
		goto out;
	if (u->adv && hr_sa_decode(&u->adv_sa, u->adv))
		memset(&u->adv_sa, 0, sizeof(u->adv_sa));
	u->ev = event_new(hr_loop_base(), u->fd, EV_READ | EV_PERSIST,
		read_cb, u);
	u->txev = event_new(hr_loop_base(), -1, 0, flush_cb, u);
	if (!u->ev || !u->txev || event_add(u->ev, NULL) < 0) {
		err = ENOMEM;
		goto out;
	}
	*laddr = u->laddr;
	/* the stack's list holds the allocation's reference */
	hr_list_append(hr_sip_udps(sip), &u->le, u);
	if (up)
		*up = u;
	return 0;
out:
	hr_mem_deref(u);
	return err;
}

const struct hr_sa *hr_udp_laddr(const struct hr_udp *u)
{
	return &u->laddr;
}


const char *hr_udp_adv(const struct hr_udp *u)
{
	return u->adv;
}
