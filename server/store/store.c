/*
 * The store object: connections, the writer thread, and the handover of
 * completions and user changes to the core loop (a mutex-protected list
 * and a libevent event made active from the writer thread; core's
 * hr_loop_init() calls evthread_use_pthreads() first).
 *
 * A tx holds no reference to its store: the store's destructor is what
 * drains the queue, so queued txs must not keep it alive. Its destructor
 * delivers every remaining completion (done runs with its outcome, after
 * the writer has stopped) so callers can free what their arg holds; a
 * done handler must not touch the store it came from then.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <event2/event.h>
#include "store/store_int.h"

#define HR_LOG_MODULE "store"

void hr_store_cfg_default(struct hr_store_cfg *cfg)
{
	cfg->url = NULL;
	cfg->queue_max = 20000;
	cfg->wait_ms = 5000;
	cfg->batch_max = 500;
	cfg->node = NULL;
	cfg->advertise = NULL;
	cfg->lease_ms = 10000;
}

void hr_store_user_ev_free(struct user_ev *ue)
{
	if (!ue)
		return;
	free(ue->user);
	free(ue->domain);
	free(ue->ha1_md5);
	free(ue->role);
	free(ue->ha1_sha256);
	free(ue);
}

void hr_store_wake(struct hr_store *s)
{
	event_active(s->ev, EV_READ, 0);
}

void hr_store_complete(struct hr_store *s, struct hr_store_tx *tx, int err)
{
	tx->err = err;
	pthread_mutex_lock(&s->lock);
	if (err == 0) {
		s->stats.txs++;
	} else if (err == ETIMEDOUT) {
		s->stats.timedout++;
	} else {
		s->stats.failed++;
	}
	hr_list_append(&s->done, &tx->le, tx);
	pthread_mutex_unlock(&s->lock);
	hr_store_wake(s);
}

void hr_store_user_event(struct hr_store *s, struct user_ev *ue)
{
	pthread_mutex_lock(&s->lock);
	hr_list_append(&s->users, &ue->le, ue);
	pthread_mutex_unlock(&s->lock);
	hr_store_wake(s);
}

static void take_list(struct hr_list *dst, struct hr_list *src)
{
	*dst = *src;
	for (struct hr_le *le = dst->head; le; le = le->next)
		le->list = dst;
	memset(src, 0, sizeof(*src));
}

static void complete(struct hr_store *s, struct hr_store_tx *tx)
{
	s->depth--;
	tx->done(tx->err, tx->arg);
	hr_mem_deref(tx);
}

void hr_store_hold(struct hr_store *s, bool hold)
{
	s->hold = hold;
	if (!hold)
		hr_store_wake(s);
}

size_t hr_store_held(struct hr_store *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->done.n;
	pthread_mutex_unlock(&s->lock);
	return n;
}

bool hr_store_deliver_one(struct hr_store *s)
{
	struct hr_le *le;

	pthread_mutex_lock(&s->lock);
	le = s->done.head;
	if (le)
		hr_list_unlink(le);
	pthread_mutex_unlock(&s->lock);
	if (le)
		complete(s, le->data);
	return le != NULL;
}

/* Core thread: run the handlers of everything the writer handed over. */
static void deliver(struct hr_store *s)
{
	struct hr_list done, users, changes;
	struct hr_le *le;

	pthread_mutex_lock(&s->lock);
	if (s->hold)
		memset(&done, 0, sizeof(done));
	else
		take_list(&done, &s->done);
	take_list(&users, &s->users);
	take_list(&changes, &s->changes);
	pthread_mutex_unlock(&s->lock);
	while ((le = done.head)) {
		hr_list_unlink(le);
		complete(s, le->data);
	}
	while ((le = users.head)) {
		struct user_ev *ue = le->data;
		struct hr_store_user u = { ue->user, ue->domain, ue->ha1_md5,
			ue->ha1_sha256, ue->kind, ue->role };

		hr_list_unlink(le);
		if (s->user_h)
			s->user_h(&u, s->user_arg);
		hr_store_user_ev_free(ue);
	}
	hr_cluster_deliver(s, &changes);
}

static void ev_cb(evutil_socket_t fd, short what, void *arg)
{
	/* a done handler may drop the last reference to the store */
	struct hr_store *s = hr_mem_ref(arg);

	(void)fd;
	(void)what;
	deliver(s);
	hr_mem_deref(s);
}

static void store_destroy(void *data)
{
	struct hr_store *s = data;
	uint64_t one = 1;
	struct hr_le *le;

	if (s->started) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_mutex_unlock(&s->lock);
		if (write(s->efd, &one, sizeof(one)) < 0)
			HR_WARN("wake writer: %s", hr_strerror(errno));
		/* bounded: it commits what is queued, or fails it
		 * ETIMEDOUT after wait_ms while PostgreSQL is away */
		pthread_join(s->thread, NULL);
	}
	if (s->cl_started) {
		if (write(s->cl_efd, &one, sizeof(one)) < 0)
			HR_WARN("wake follower: %s", hr_strerror(errno));
		pthread_join(s->cl_thread, NULL);
	}
	s->hold = false;
	deliver(s);
	while ((le = s->queue.head)) {  /* only when the thread never ran */
		hr_list_unlink(le);
		hr_mem_deref(le->data);
	}
	while ((le = s->refetch.head)) {
		hr_list_unlink(le);
		hr_refetch_free(le->data);
	}
	if (s->ev)
		event_free(s->ev);
	if (s->rel_ev)
		event_free(s->rel_ev);
	if (s->wr)
		PQfinish(s->wr);
	if (s->rd)
		PQfinish(s->rd);
	if (s->cl)
		PQfinish(s->cl);
	if (s->cl_efd >= 0)
		close(s->cl_efd);
	if (s->efd >= 0)
		close(s->efd);
	pthread_mutex_destroy(&s->lock);
	free(s->batch);
	free(s->url_buf);
	free(s->node_buf);
	free(s->adv_buf);
}

static int connect_all(struct hr_store *s)
{
	char msg[256];
	int err;

	err = hr_pq_connect(&s->rd, s->cfg.url);
	if (!err)
		err = hr_pq_connect(&s->wr, s->cfg.url);
	if (err) {
		HR_ERROR("cannot connect to PostgreSQL: %s",
			hr_pq_connect_error());
		return err;
	}
	err = hr_writer_setup(s->wr, s->cfg.node);
	if (err)
		HR_ERROR("cannot prepare statements: %s",
			hr_pq_errmsg(s->wr, msg, sizeof(msg)));
	return err;
}

/* A node's join and its follower. */
static int cluster_start(struct hr_store *s)
{
	int err;

	s->cl_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->rel_ev = event_new(hr_loop_base(), -1, 0, hr_cluster_released,
		s);
	if (s->cl_efd < 0 || !s->rel_ev)
		return ENOMEM;
	err = hr_cluster_join(s);
	if (!err)
		err = pthread_create(&s->cl_thread, NULL, hr_cluster_main, s);
	if (!err)
		s->cl_started = true;
	return err;
}

int hr_store_alloc(struct hr_store **sp, const struct hr_store_cfg *cfg)
{
	struct hr_store *s;
	int err;

	if (!sp || !cfg || !cfg->url || !hr_loop_base())
		return EINVAL;
	s = hr_mem_zalloc(sizeof(*s), store_destroy);
	if (!s)
		return ENOMEM;
	s->efd = -1;
	s->cl_efd = -1;
	pthread_mutex_init(&s->lock, NULL);
	s->cfg = *cfg;
	if (!s->cfg.queue_max)
		s->cfg.queue_max = 20000;
	if (!s->cfg.batch_max)
		s->cfg.batch_max = 500;
	if (!s->cfg.wait_ms)
		s->cfg.wait_ms = 5000;
	if (!s->cfg.lease_ms)
		s->cfg.lease_ms = 10000;
	s->url_buf = strdup(cfg->url);
	s->node_buf = cfg->node ? strdup(cfg->node) : NULL;
	s->adv_buf = cfg->advertise ? strdup(cfg->advertise) : NULL;
	s->cfg.node = s->node_buf;
	s->cfg.advertise = s->adv_buf;
	s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->ev = event_new(hr_loop_base(), -1, 0, ev_cb, s);
	s->batch = calloc(s->cfg.batch_max, sizeof(*s->batch));
	if (!s->url_buf || s->efd < 0 || !s->ev || !s->batch ||
	    (cfg->node && !s->node_buf) || (cfg->advertise && !s->adv_buf)) {
		err = ENOMEM;
		goto out;
	}
	s->cfg.url = s->url_buf;
	if (s->cfg.node)
		hr_pq_app_name(s->cfg.node);
	err = connect_all(s);
	if (err)
		goto out;
	err = pthread_create(&s->thread, NULL, hr_writer_main, s);
	if (err)
		goto out;
	s->started = true;
	err = s->cfg.node ? cluster_start(s) : hr_cluster_single(s);
	if (err)
		goto out;
	*sp = s;
	return 0;
 out:
	hr_mem_deref(s);
	return err;
}

void hr_store_stats(struct hr_store *s, struct hr_store_stats *st)
{
	pthread_mutex_lock(&s->lock);
	*st = s->stats;
	pthread_mutex_unlock(&s->lock);
	st->node = s->cfg.node != NULL;
	st->fenced = hr_store_fenced(s);
	st->applied = s->applied;
	st->mark = __atomic_load_n(&s->mark, __ATOMIC_RELAXED);
	st->taken_over = s->taken_over;
}

void hr_store_set_user_handler(struct hr_store *s, hr_store_user_h *h,
	void *arg)
{
	s->user_h = h;
	s->user_arg = arg;
}
