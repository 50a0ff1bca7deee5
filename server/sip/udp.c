/*
 * UDP transport: batched receive with recvmmsg and batched send with
 * sendmmsg. Responses produced while a receive batch is handled are
 * queued and leave in one sendmmsg at the end of the batch.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "sip_int.h"

#define HR_LOG_MODULE "udp"

#define RX_BATCH 32
#define RX_ROUNDS 8        /* batches per wakeup before others get a turn */
#define TX_BATCH 64
#define TX_ARENA (256 * 1024)

struct hr_udp {
	struct hr_le le;
	struct hr_sip *sip;
	int fd;
	struct event *ev;
	struct hr_sa laddr;
	size_t slot;               /* max_msg + 1: one more shows truncation */
	char *rxbuf;
	struct mmsghdr rx[RX_BATCH];
	struct iovec rxiov[RX_BATCH];
	struct sockaddr_storage rxsrc[RX_BATCH];
	bool batching;
	unsigned txn;
	size_t txused;
	struct mmsghdr tx[TX_BATCH];
	struct iovec txiov[TX_BATCH];
	struct hr_sa txdst[TX_BATCH];
	char *txarena;
};

static void udp_destroy(void *data)
{
	struct hr_udp *u = data;

	hr_list_unlink(&u->le);
	if (u->ev)
		event_free(u->ev);
	if (u->fd >= 0)
		close(u->fd);
	free(u->rxbuf);
	free(u->txarena);
}

static void flush(struct hr_udp *u)
{
	unsigned off = 0;

	while (off < u->txn) {
		int n = sendmmsg(u->fd, u->tx + off, u->txn - off, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* a full socket buffer loses this datagram: the peer
			 * retransmits (RFC 3261 17.1.2) */
			HR_DEBUG("sendmmsg: %s", hr_strerror(errno));
			n = 1;
		}
		off += (unsigned)n;
	}
	u->txn = 0;
	u->txused = 0;
}

int hr_udp_send(struct hr_udp *u, const struct hr_sa *dst, const char *p,
	size_t len)
{
	struct mmsghdr *m;

	if (!u->batching || len > TX_ARENA) {
		if (sendto(u->fd, p, len, 0, &dst->u.sa, dst->len) < 0) {
			HR_DEBUG("sendto: %s", hr_strerror(errno));
			return errno;
		}
		return 0;
	}
	if (u->txn == TX_BATCH || u->txused + len > TX_ARENA)
		flush(u);
	memcpy(u->txarena + u->txused, p, len);
	u->txdst[u->txn] = *dst;
	u->txiov[u->txn].iov_base = u->txarena + u->txused;
	u->txiov[u->txn].iov_len = len;
	m = &u->tx[u->txn];
	memset(m, 0, sizeof(*m));
	m->msg_hdr.msg_name = &u->txdst[u->txn].u.sa;
	m->msg_hdr.msg_namelen = dst->len;
	m->msg_hdr.msg_iov = &u->txiov[u->txn];
	m->msg_hdr.msg_iovlen = 1;
	u->txused += len;
	u->txn++;
	return 0;
}

static void deliver(struct hr_udp *u, unsigned i)
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
	msg->dst = u->laddr;
	msg->sock = u;
	hr_sip_recv(u->sip, msg);
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hr_udp *u = arg;

	(void)what;
	for (int round = 0; round < RX_ROUNDS; round++) {
		int n;

		for (unsigned i = 0; i < RX_BATCH; i++) {
			u->rx[i].msg_hdr.msg_namelen = sizeof(u->rxsrc[i]);
			u->rx[i].msg_hdr.msg_flags = 0;
		}
		n = recvmmsg(fd, u->rx, RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		u->batching = true;
		for (int i = 0; i < n; i++)
			deliver(u, (unsigned)i);
		flush(u);
		u->batching = false;
		if (n < RX_BATCH)
			break;
	}
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
	/* bursts of requests must not overflow the kernel queue */
	setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(u->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (bind(u->fd, &u->laddr.u.sa, u->laddr.len) < 0)
		return errno;
	if (getsockname(u->fd, &u->laddr.u.sa, &len) < 0)
		return errno;
	u->laddr.len = len;
	return 0;
}

int hr_udp_alloc(struct hr_udp **up, struct hr_sip *sip, struct hr_sa *laddr)
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
	}
	err = sock_open(u);
	if (err)
		goto out;
	u->ev = event_new(hr_loop_base(), u->fd, EV_READ | EV_PERSIST,
		read_cb, u);
	if (!u->ev || event_add(u->ev, NULL) < 0) {
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

