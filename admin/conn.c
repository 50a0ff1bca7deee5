/*
 * The admin's connections: each request must arrive whole, headers and
 * body, within a deadline, and connections still waiting for their
 * request never take the last free places.
 *
 * libmicrohttpd's MHD_OPTION_CONNECTION_TIMEOUT is an idle timeout that
 * every byte restarts: a client sending one byte a second holds its
 * connection for ever, and as many such clients as the connection limit
 * hold the whole API, /health included (at the limit libmicrohttpd stops
 * accepting). It has no deadline of its own for a request, and no call
 * that closes a connection from outside its callbacks, so a thread of
 * ours keeps one: it shuts the socket down, and libmicrohttpd, which
 * then reads the end of the stream, closes the connection as it closes
 * any other.
 *
 * A live feed (feed.c) is a request received whole whose answer goes on:
 * no deadline, and not counted against the places kept free (the feeds
 * have --admin-max-streams places of their own); its thread cuts a feed
 * whose client does not read through the same shutdown.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include "admin_int.h"

#define HR_LOG_MODULE "admin"

/* the reaper looks again at least this often (the test clock may move) */
#define NAP_MAX_MS 1000

/* One connection, in the list in the order its current request began. */
struct conn {
	struct conn *prev, *next;
	int fd;
	uint64_t id;         /* never reused (hr_admin_conn_cut) */
	uint64_t since;      /* hr_now_ms() when its current request began */
	bool waiting;        /* the request is not all received yet */
	bool stream;         /* its answer is a live feed */
	bool cut;            /* shut down: closing */
};

struct hr_admin_conns {
	pthread_mutex_t lock;        /* guards all below */
	pthread_cond_t cond;         /* on CLOCK_MONOTONIC */
	pthread_t reaper;
	bool stop;
	struct conn *head, *tail;
	unsigned max;                /* connections but live feeds */
	uint64_t timeout_ms;
	uint64_t ids;                /* the last connection's id */
};

static void unlink_conn(struct hr_admin_conns *cs, struct conn *cn)
{
	if (cn->prev)
		cn->prev->next = cn->next;
	else
		cs->head = cn->next;
	if (cn->next)
		cn->next->prev = cn->prev;
	else
		cs->tail = cn->prev;
	cn->prev = cn->next = NULL;
}

static void append_conn(struct hr_admin_conns *cs, struct conn *cn)
{
	cn->prev = cs->tail;
	if (cs->tail)
		cs->tail->next = cn;
	else
		cs->head = cn;
	cs->tail = cn;
}

/*
 * Under the lock: libmicrohttpd closes the socket only after it has told
 * us (hr_admin_conn_notify, CLOSED), which unlinks it under the same
 * lock, so fd is still this connection's.
 */
static void cut(struct conn *cn, const char *why)
{
	cn->cut = true;
	cn->waiting = false;
	shutdown(cn->fd, SHUT_RDWR);
	HR_DEBUG("connection %d closed: %s", cn->fd, why);
}

/* Cut the requests past their deadline; the time to the next one. */
static uint64_t cut_late(struct hr_admin_conns *cs)
{
	uint64_t now = hr_now_ms(), nap = NAP_MAX_MS;

	for (struct conn *cn = cs->head; cn; cn = cn->next) {
		uint64_t due = cn->since + cs->timeout_ms;

		if (!cn->waiting)
			continue;
		if (due <= now)
			cut(cn, "its request did not arrive in time");
		else if (due - now < nap)
			nap = due - now;
	}
	return nap;
}

static void nap(struct hr_admin_conns *cs, uint64_t ms)
{
	struct timespec ts;

	hr_mono_deadline(&ts, ms);
	pthread_cond_timedwait(&cs->cond, &cs->lock, &ts);
}

static void *reap(void *arg)
{
	struct hr_admin_conns *cs = arg;

	pthread_mutex_lock(&cs->lock);
	while (!cs->stop)
		nap(cs, cut_late(cs));
	pthread_mutex_unlock(&cs->lock);
	return NULL;
}

/*
 * A connection came: when few places are left, the one waiting longest
 * for its request (a trickling client, an idle keep-alive) leaves. A
 * request that arrives at once (a health check sends it in one packet)
 * is answered before newer connections could push it out, so the slow
 * can never keep the quick out; a burst of more new connections than
 * the places kept free waits in the listen queue a moment.
 */
static void make_room(struct hr_admin_conns *cs, const struct conn *newest)
{
	unsigned spare = cs->max / 8 ? cs->max / 8 : 1, live = 0;
	struct conn *oldest = NULL;

	for (struct conn *cn = cs->head; cn; cn = cn->next) {
		if (cn->cut || cn->stream)
			continue;
		live++;
		if (!oldest && cn->waiting && cn != newest)
			oldest = cn;
	}
	if (live + spare > cs->max && oldest)
		cut(oldest, "making room for a new connection");
}

static struct conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c,
		MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

static void started(struct hr_admin_conns *cs, struct MHD_Connection *c,
	void **socket_context)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c,
		MHD_CONNECTION_INFO_CONNECTION_FD);
	struct conn *cn = calloc(1, sizeof(*cn));

	/* without its record a connection has only the idle timeout */
	if (!cn || !ci) {
		free(cn);
		return;
	}
	cn->fd = ci->connect_fd;
	cn->since = hr_now_ms();
	cn->waiting = true;
	pthread_mutex_lock(&cs->lock);
	cn->id = ++cs->ids;
	append_conn(cs, cn);
	make_room(cs, cn);
	pthread_cond_signal(&cs->cond);
	pthread_mutex_unlock(&cs->lock);
	*socket_context = cn;
}

void hr_admin_conn_notify(void *cls, struct MHD_Connection *c,
	void **socket_context, enum MHD_ConnectionNotificationCode code)
{
	struct hr_admin_conns *cs = cls;
	struct conn *cn = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		started(cs, c, socket_context);
		return;
	}
	if (!cn)
		return;
	pthread_mutex_lock(&cs->lock);
	unlink_conn(cs, cn);
	pthread_mutex_unlock(&cs->lock);
	free(cn);
	*socket_context = NULL;
}

void hr_admin_conn_received(struct hr_admin_conns *cs,
	struct MHD_Connection *c)
{
	struct conn *cn = conn_of(c);

	if (!cn)
		return;
	pthread_mutex_lock(&cs->lock);
	cn->waiting = false;
	pthread_mutex_unlock(&cs->lock);
}

void hr_admin_conn_done(struct hr_admin_conns *cs, struct MHD_Connection *c)
{
	struct conn *cn = conn_of(c);

	if (!cn)
		return;
	pthread_mutex_lock(&cs->lock);
	cn->stream = false;
	if (!cn->cut) {
		/* kept alive: its next request has the same time */
		unlink_conn(cs, cn);
		append_conn(cs, cn);
		cn->since = hr_now_ms();
		cn->waiting = true;
	}
	pthread_mutex_unlock(&cs->lock);
}

uint64_t hr_admin_conn_stream(struct hr_admin_conns *cs,
	struct MHD_Connection *c)
{
	struct conn *cn = conn_of(c);
	uint64_t id;

	if (!cn)
		return 0;
	pthread_mutex_lock(&cs->lock);
	cn->stream = true;
	cn->waiting = false;
	id = cn->id;
	pthread_mutex_unlock(&cs->lock);
	return id;
}

int hr_admin_conn_cut(struct hr_admin_conns *cs, uint64_t id,
	const char *why)
{
	int err = ENOENT;

	pthread_mutex_lock(&cs->lock);
	for (struct conn *cn = cs->head; cn; cn = cn->next) {
		if (cn->id == id && !cn->cut) {
			cut(cn, why);
			err = 0;
			break;
		}
	}
	pthread_mutex_unlock(&cs->lock);
	return err;
}

int hr_admin_conns_alloc(struct hr_admin_conns **csp, unsigned max,
	unsigned timeout_s)
{
	struct hr_admin_conns *cs;
	int err;

	if (!csp || !max || !timeout_s)
		return EINVAL;
	cs = calloc(1, sizeof(*cs));
	if (!cs)
		return ENOMEM;
	cs->max = max;
	cs->timeout_ms = (uint64_t)timeout_s * 1000;
	pthread_mutex_init(&cs->lock, NULL);
	err = hr_cond_init(&cs->cond);
	if (!err) {
		err = pthread_create(&cs->reaper, NULL, reap, cs);
		if (err)
			pthread_cond_destroy(&cs->cond);
	}
	if (err) {
		pthread_mutex_destroy(&cs->lock);
		free(cs);
		return err;
	}
	*csp = cs;
	return 0;
}

/* After MHD_stop_daemon: every connection has been told CLOSED. */
void hr_admin_conns_free(struct hr_admin_conns *cs)
{
	if (!cs)
		return;
	pthread_mutex_lock(&cs->lock);
	cs->stop = true;
	pthread_cond_signal(&cs->cond);
	pthread_mutex_unlock(&cs->lock);
	pthread_join(cs->reaper, NULL);
	while (cs->head) {
		struct conn *cn = cs->head;

		unlink_conn(cs, cn);
		free(cn);
	}
	pthread_cond_destroy(&cs->cond);
	pthread_mutex_destroy(&cs->lock);
	free(cs);
}
