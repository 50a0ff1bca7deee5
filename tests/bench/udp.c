/*
 * UDP: one connected, non-blocking socket. Requests are queued into a
 * batch of BATCH datagrams and sent with one sendmmsg(); datagrams are read
 * BATCH at a time with recvmmsg().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include "bench.h"
#include "net.h"

#define BATCH 64
#define RX_ROUNDS 4             /* recvmmsg calls per wake-up, at most */
#define SOCKBUF (4 << 20)

struct udp {
	int fd;
	bool want_out;
	char laddr[BENCH_LADDR_LEN];
	unsigned nq;            /* datagrams queued */
	unsigned sent;          /* of which already sent */
	struct mmsghdr smsg[BATCH];
	struct iovec siov[BATCH];
	struct mmsghdr rmsg[BATCH];
	struct iovec riov[BATCH];
	char sbuf[BATCH][BENCH_MAX_MSG];
	char rbuf[BATCH][BENCH_MAX_MSG];
};

static void udp_close(struct bench *b)
{
	struct udp *u = bench_tp_state(b);

	if (u->fd >= 0)
		close(u->fd);
	free(u);
	bench_tp_set_state(b, NULL);
}

static void udp_init_batches(struct udp *u)
{
	unsigned i;

	for (i = 0; i < BATCH; i++) {
		u->siov[i].iov_base = u->sbuf[i];
		u->smsg[i].msg_hdr.msg_iov = &u->siov[i];
		u->smsg[i].msg_hdr.msg_iovlen = 1;
		u->riov[i].iov_base = u->rbuf[i];
		u->riov[i].iov_len = BENCH_MAX_MSG;
		u->rmsg[i].msg_hdr.msg_iov = &u->riov[i];
		u->rmsg[i].msg_hdr.msg_iovlen = 1;
	}
}

static int udp_open(struct bench *b)
{
	const struct bench_cfg *cfg = bench_cfg(b);
	struct epoll_event ev = { .events = EPOLLIN };
	struct udp *u;
	int err;

	u = calloc(1, sizeof(*u));
	if (!u) {
		bench_err("udp: out of memory");
		return ENOMEM;
	}
	u->fd = -1;
	bench_tp_set_state(b, u);
	udp_init_batches(u);
	err = bench_net_socket(&u->fd, cfg, SOCK_DGRAM);
	if (err)
		return err;
	bench_net_bufsize(u->fd, SOCKBUF);
	/* Connected: the kernel filters other senders and skips a route
	 * lookup per datagram; ICMP errors come back as ECONNREFUSED. */
	if (connect(u->fd, (const struct sockaddr *)&cfg->addr,
		    cfg->addrlen) < 0) {
		err = errno;
		bench_err("udp: connect: %s", strerror(err));
		return err;
	}
	err = bench_net_laddr(u->fd, u->laddr, sizeof(u->laddr));
	if (err)
		return err;
	ev.data.u64 = 0;
	if (epoll_ctl(bench_epfd(b), EPOLL_CTL_ADD, u->fd, &ev) < 0) {
		err = errno;
		bench_err("udp: epoll_ctl: %s", strerror(err));
		return err;
	}
	return 0;
}

static void udp_want_out(struct bench *b, struct udp *u, bool on)
{
	struct epoll_event ev;

	if (u->want_out == on)
		return;
	ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
	ev.data.u64 = 0;
	if (epoll_ctl(bench_epfd(b), EPOLL_CTL_MOD, u->fd, &ev) == 0)
		u->want_out = on;
}

static int udp_flush(struct bench *b)
{
	struct udp *u = bench_tp_state(b);
	int n;

	while (u->sent < u->nq) {
		n = sendmmsg(u->fd, u->smsg + u->sent, u->nq - u->sent,
			MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == ENOBUFS) {
				udp_want_out(b, u, true);
				return 0;
			}
			return errno;
		}
		u->sent += (unsigned)n;
	}
	u->nq = u->sent = 0;
	udp_want_out(b, u, false);
	return 0;
}

static int udp_out_begin(struct bench *b, uint32_t conn,
	struct bench_out *out)
{
	struct udp *u = bench_tp_state(b);

	if (u->nq == BATCH && (udp_flush(b) || u->nq == BATCH))
		return ENOBUFS;
	out->p = u->sbuf[u->nq];
	out->len = 0;
	out->cap = BENCH_MAX_MSG;
	out->full = false;
	return 0;
}

static void udp_out_commit(struct bench *b, uint32_t conn,
	struct bench_out *out)
{
	struct udp *u = bench_tp_state(b);

	u->siov[u->nq].iov_len = out->len;
	u->nq++;
}

static int udp_read(struct bench *b, struct udp *u)
{
	int i, n, round;

	for (round = 0; round < RX_ROUNDS; round++) {
		n = recvmmsg(u->fd, u->rmsg, BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return errno;
		}
		for (i = 0; i < n; i++) {
			if (u->rmsg[i].msg_hdr.msg_flags & MSG_TRUNC)
				continue;
			bench_recv(b, 0, u->rbuf[i], u->rmsg[i].msg_len);
		}
		if (n < BATCH)
			return 0;
	}
	return 0;
}

static int udp_event(struct bench *b, uint32_t tag, uint32_t events)
{
	struct udp *u = bench_tp_state(b);
	int err;

	if (events & (EPOLLIN | EPOLLERR)) {
		err = udp_read(b, u);
		if (err)
			return err;
	}
	if (events & EPOLLOUT)
		return udp_flush(b);
	return 0;
}

static const char *udp_laddr(struct bench *b, uint32_t conn)
{
	struct udp *u = bench_tp_state(b);

	return u->laddr;
}

const struct bench_tp_ops bench_udp = {
	.name = "udp",
	.via = "UDP",
	.open = udp_open,
	.out_begin = udp_out_begin,
	.out_commit = udp_out_commit,
	.flush = udp_flush,
	.event = udp_event,
	.close = udp_close,
	.laddr = udp_laddr,
};
