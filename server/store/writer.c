/*
 * The writer thread: group commit. It takes up to batch_max queued
 * transactions and sends them in pipeline mode as one database
 * transaction (BEGIN, every statement, COMMIT, Sync): one round trip and
 * one WAL flush for the whole batch.
 *
 * A failing statement aborts the batch; the batch is then retried one
 * database transaction per tx, so only the bad tx fails (EIO). When the
 * connection is lost the batch stays and is sent again after reconnecting
 * (every statement is an idempotent upsert or delete, so a batch whose
 * COMMIT did reach the server is harmless to repeat). While PostgreSQL is
 * away, a tx queued longer than wait_ms completes ETIMEDOUT and is dropped
 * from the batch, so it is never committed afterwards.
 *
 * Between batches the thread waits in poll() on its eventfd and on the
 * connection's socket, where LISTEN herald_users notifications arrive.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "store/store_int.h"

#define HR_LOG_MODULE "store"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define AWAY_LOG_MS 10000     /* one line this often while it is away */
#define LOST ENOTCONN  /* run(): the connection went away, retry */

static const char *const stmt_name[STMT__N] = {
	[STMT_BINDING_PUT] = "binding_put",
	[STMT_BINDING_DEL] = "binding_del",
	[STMT_SUB_PUT] = "sub_put",
	[STMT_SUB_DEL] = "sub_del",
	[STMT_SUB_RESERVE] = "sub_reserve",
	[STMT_PUB_PUT] = "pub_put",
	[STMT_PUB_DEL] = "pub_del",
	[STMT_RULE_PUT] = "rule_put",
	[STMT_RULE_DEL] = "rule_del",
};

static const char binding_del_sql[] =
	"DELETE FROM bindings WHERE aor = $1 AND key = $2";

/* a subscription's writes carry its owner epoch (schema/009): a node
 * that lost it deletes nothing, and reserves nothing more */
static const char sub_del_sql[] =
	"DELETE FROM subscriptions WHERE id = $1 AND owner_epoch = $2::bigint";

static const char sub_reserve_sql[] =
	"UPDATE subscriptions SET "
	"cseq_reserved = GREATEST(cseq_reserved, $2::bigint), "
	"version_reserved = GREATEST(version_reserved, $3::bigint), "
	"owner_epoch = CASE WHEN owner_epoch = $4::bigint THEN owner_epoch "
	"ELSE herald_not_owner(id) END, updated_at = now() WHERE id = $1";

static const char pub_del_sql[] = "DELETE FROM publications WHERE etag = $1";

static const char rule_put_sql[] =
	"INSERT INTO rules (package, resource, watcher, action) "
	"VALUES ($1, $2, $3, $4) ON CONFLICT (package, resource, watcher) "
	"DO UPDATE SET action = EXCLUDED.action, updated_at = now()";

static const char rule_del_sql[] =
	"DELETE FROM rules WHERE package = $1 AND resource = $2 AND "
	"watcher = $3";

/* Every statement, prepared on each new writer connection: an upsert
 * made from its table's row, or its SQL. */
static const struct {
	const char *sql;
	int nparams;
	const struct hr_row *row;
} stmts[STMT__N] = {
	[STMT_BINDING_PUT] = { NULL, 0, &hr_row_binding },
	[STMT_BINDING_DEL] = { binding_del_sql, 2, NULL },
	[STMT_SUB_PUT] = { NULL, 0, &hr_row_sub },
	[STMT_SUB_DEL] = { sub_del_sql, 2, NULL },
	[STMT_SUB_RESERVE] = { sub_reserve_sql, 4, NULL },
	[STMT_PUB_PUT] = { NULL, 0, &hr_row_pub },
	[STMT_PUB_DEL] = { pub_del_sql, 1, NULL },
	[STMT_RULE_PUT] = { rule_put_sql, 4, NULL },
	[STMT_RULE_DEL] = { rule_del_sql, 3, NULL },
};

struct writer {
	struct hr_store *s;
	struct hr_store_tx **batch;  /* oldest first */
	size_t n;
	unsigned backoff_ms;
	uint64_t next_try;           /* when down: next connect attempt */
	uint64_t last_try;
	uint64_t down_since;
};

static int prepare(PGconn *conn, int k)
{
	char sql[HR_ROW_SQL_MAX];
	const struct hr_row *row = stmts[k].row;
	PGresult *res;
	int err = 0;

	if (row)
		err = hr_row_upsert(sql, sizeof(sql), row);
	if (err)
		return err;
	res = PQprepare(conn, stmt_name[k], row ? sql : stmts[k].sql,
		row ? (int)row->ncols : stmts[k].nparams, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		err = EIO;
	PQclear(res);
	return err;
}

int hr_writer_setup(PGconn *conn, const char *node)
{
	const char *const v[] = { node };
	int err = 0;

	for (int k = 0; k < STMT__N && !err; k++)
		err = prepare(conn, k);
	if (!err)
		err = hr_pq_exec(conn, NULL, "LISTEN herald_users", 0, NULL,
			PGRES_COMMAND_OK);
	/* the change log says which node wrote (schema/008_cluster.sql) */
	if (!err && node)
		err = hr_pq_exec(conn, NULL,
			"SELECT set_config('herald.node', $1, false)", 1, v,
			PGRES_TUPLES_OK);
	return err;
}

/* Move queued txs into the batch; returns whether to stop. */
static bool fill(struct writer *w)
{
	struct hr_store *s = w->s;
	struct hr_le *le;
	bool stop;

	pthread_mutex_lock(&s->lock);
	while (w->n < s->cfg.batch_max && (le = s->queue.head)) {
		hr_list_unlink(le);
		w->batch[w->n++] = le->data;
	}
	stop = s->stop;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

/* Wait for the eventfd (and the connection's socket when pq): true when
 * the socket is readable. */
static bool wait_for(struct writer *w, int timeout_ms, bool pq)
{
	struct pollfd p[2] = {
		{ .fd = w->s->efd, .events = POLLIN },
		{ .fd = pq ? PQsocket(w->s->wr) : -1, .events = POLLIN },
	};
	uint64_t v;

	if (poll(p, 2, timeout_ms) <= 0)
		return false;
	if (p[0].revents && read(w->s->efd, &v, sizeof(v)) < 0)
		HR_DEBUG("eventfd: %s", hr_strerror(errno));
	return p[1].revents != 0;
}

static void lost(struct writer *w)
{
	struct hr_store *s = w->s;
	char msg[256];

	HR_WARN("lost the connection to PostgreSQL (%s); writes wait, "
		"reconnecting", hr_pq_errmsg(s->wr, msg, sizeof(msg)));
	PQfinish(s->wr);
	s->wr = NULL;
	pthread_mutex_lock(&s->lock);
	s->stats.outages++;
	s->stats.down = true;
	pthread_mutex_unlock(&s->lock);
	w->down_since = hr_store_mono_ms();
	w->last_try = w->down_since;
	w->backoff_ms = BACKOFF_MIN_MS;
	w->next_try = w->down_since + w->backoff_ms;
}

/* Complete the txs that waited too long for PostgreSQL; keep the order. */
static void expire(struct writer *w, uint64_t now)
{
	struct hr_store *s = w->s;
	size_t j = 0;

	for (size_t i = 0; i < w->n; i++) {
		struct hr_store_tx *tx = w->batch[i];

		if (now - tx->queued_ms >= s->cfg.wait_ms)
			hr_store_complete(s, tx, ETIMEDOUT);
		else
			w->batch[j++] = tx;
	}
	w->n = j;
}

static void reconnect(struct writer *w, uint64_t now)
{
	struct hr_store *s = w->s;
	PGconn *conn;

	w->last_try = now;
	if (!hr_pq_connect(&conn, s->cfg.url)) {
		if (!hr_writer_setup(conn, s->cfg.node)) {
			s->wr = conn;
			pthread_mutex_lock(&s->lock);
			s->stats.down = false;
			pthread_mutex_unlock(&s->lock);
			HR_INFO("PostgreSQL is back after %llu ms",
				(unsigned long long)(now - w->down_since));
			if (s->user_h && hr_store_users_resync(s, conn))
				HR_WARN("user resync after the outage failed");
			return;
		}
		PQfinish(conn);
	} else {
		/* every try fails alike while it is away: say why once an
		 * interval, not at every try */
		HR_WARN_EVERY(AWAY_LOG_MS, "PostgreSQL still away after %llu "
			"ms: %s", (unsigned long long)(now - w->down_since),
			hr_pq_connect_error());
	}
	w->backoff_ms = w->backoff_ms * 2 > BACKOFF_MAX_MS ?
		BACKOFF_MAX_MS : w->backoff_ms * 2;
	w->next_try = hr_store_mono_ms() + w->backoff_ms;
}

/* PostgreSQL is away: time out what waited too long, try again. A new
 * tx gets a prompt attempt (at most one per BACKOFF_MIN_MS) rather than
 * waiting out a long back-off, since it has only wait_ms. */
static void down(struct writer *w, bool new_work)
{
	uint64_t now = hr_store_mono_ms(), until;

	expire(w, now);
	if (new_work && w->last_try + BACKOFF_MIN_MS < w->next_try)
		w->next_try = w->last_try + BACKOFF_MIN_MS;
	if (now >= w->next_try) {
		reconnect(w, now);
		if (w->s->wr)
			return;
		now = hr_store_mono_ms();
	}
	until = w->next_try;
	if (w->n && w->batch[0]->queued_ms + w->s->cfg.wait_ms < until)
		until = w->batch[0]->queued_ms + w->s->cfg.wait_ms;
	if (until > now)
		wait_for(w, (int)(until - now), false);
}

/* One result of a pipelined query: 0, EIO (statement failed) or LOST.
 * A failure is logged only when quiet is false (the isolating retry). */
static int result(PGconn *c, bool quiet)
{
	PGresult *res = PQgetResult(c);
	int err = 0;

	if (!res)
		return LOST;
	switch (PQresultStatus(res)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
		break;
	case PGRES_PIPELINE_ABORTED:
		err = EIO;
		break;
	default:
		if (hr_pq_lost(c, res)) {
			err = LOST;
			break;
		}
		/* another node's REGISTER of the binding came first, or
		 * the subscription is another node's now */
		if (!strcmp(PQresultErrorField(res, PG_DIAG_SQLSTATE) ?
			PQresultErrorField(res, PG_DIAG_SQLSTATE) : "",
			"HR409")) {
			err = ESTALE;
			break;
		}
		/* the primary message names columns, not values */
		if (!quiet)
			HR_WARN("statement failed: %s: %s",
				PQresultErrorField(res, PG_DIAG_SQLSTATE),
				PQresultErrorField(res,
					PG_DIAG_MESSAGE_PRIMARY));
		err = EIO;
		break;
	}
	PQclear(res);
	if (err != LOST && (res = PQgetResult(c))) {
		/* each query's results end with NULL */
		PQclear(res);
		err = LOST;
	}
	return err;
}

static bool send_batch(PGconn *c, struct hr_store_tx **txs, size_t n,
	size_t *nq)
{
	bool ok = PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0);

	*nq = 1;
	for (size_t i = 0; ok && i < n; i++) {
		for (size_t k = 0; ok && k < txs[i]->n; k++) {
			const struct stmt *st = &txs[i]->stmts[k];

			ok = PQsendQueryPrepared(c, stmt_name[st->kind], st->n,
				(const char *const *)st->v, NULL, NULL, 0);
			++*nq;
		}
	}
	ok = ok && PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL,
		0);
	++*nq;
	return ok && PQpipelineSync(c);
}

/* Commit txs[0..n) in one database transaction: 0, EIO or LOST. */
static int run(PGconn *c, struct hr_store_tx **txs, size_t n, bool quiet)
{
	PGresult *res;
	size_t nq;
	int err = 0;

	if (PQenterPipelineMode(c) != 1)
		return LOST;
	if (!send_batch(c, txs, n, &nq))
		return LOST;
	for (size_t i = 0; i < nq && err != LOST; i++) {
		int e = result(c, quiet);

		if (e)
			err = e == LOST ? LOST : (err ? err : e);
	}
	if (err == LOST)
		return LOST;
	res = PQgetResult(c);
	if (PQresultStatus(res) != PGRES_PIPELINE_SYNC)
		err = LOST;
	PQclear(res);
	if (err == LOST || PQexitPipelineMode(c) != 1)
		return LOST;
	if (err) {
		/* the explicit transaction is still open, in failed state */
		res = PQexec(c, "ROLLBACK");
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			err = LOST;
		PQclear(res);
	}
	return err;
}

static unsigned bucket(uint64_t v, const uint64_t *bounds, unsigned n)
{
	unsigned i = 0;

	while (i < n && v > bounds[i])
		i++;
	return i;
}

const uint64_t hr_store_batch_bounds[] = { 1, 2, 5, 10, 20, 50, 100, 200,
	500 };
const uint64_t hr_store_latency_bounds[] = { 1, 2, 5, 10, 20, 50, 100, 200,
	500, 1000 };
_Static_assert(sizeof(hr_store_batch_bounds) ==
	(HR_STORE_BATCH_BUCKETS - 1) * sizeof(uint64_t), "batch buckets");
_Static_assert(sizeof(hr_store_latency_bounds) ==
	(HR_STORE_LATENCY_BUCKETS - 1) * sizeof(uint64_t), "latency buckets");

/* A commit of n transactions that took ms (metrics). */
static void committed(struct writer *w, size_t n, uint64_t ms)
{
	struct hr_store *s = w->s;

	pthread_mutex_lock(&s->lock);
	s->stats.commits++;
	if (n > s->stats.max_batch)
		s->stats.max_batch = n;
	s->stats.batch[bucket(n, hr_store_batch_bounds,
		HR_STORE_BATCH_BUCKETS - 1)]++;
	s->stats.latency[bucket(ms, hr_store_latency_bounds,
		HR_STORE_LATENCY_BUCKETS - 1)]++;
	s->stats.latency_ms_sum += ms;
	pthread_mutex_unlock(&s->lock);
}

/* A statement failed: one database transaction per tx finds which. */
static void isolate(struct writer *w)
{
	size_t i;

	for (i = 0; i < w->n; i++) {
		uint64_t t0 = hr_store_mono_ms();
		int err = run(w->s->wr, &w->batch[i], 1, false);

		if (err == LOST)
			break;
		if (!err)
			committed(w, 1, hr_store_mono_ms() - t0);
		hr_store_complete(w->s, w->batch[i], err);
	}
	if (i < w->n) {
		memmove(w->batch, w->batch + i, (w->n - i) * sizeof(*w->batch));
		w->n -= i;
		lost(w);
		return;
	}
	w->n = 0;
}

static void commit_batch(struct writer *w)
{
	uint64_t t0 = hr_store_mono_ms();
	int err = run(w->s->wr, w->batch, w->n, true);

	if (err == LOST) {
		lost(w);
		return;
	}
	if (err) {
		isolate(w);
		return;
	}
	committed(w, w->n, hr_store_mono_ms() - t0);
	for (size_t i = 0; i < w->n; i++)
		hr_store_complete(w->s, w->batch[i], 0);
	w->n = 0;
}

/* Read the rows of users that changed and hand them to the core. */
static void notifies(struct writer *w)
{
	struct hr_store *s = w->s;
	PGnotify *nf;

	if (!PQconsumeInput(s->wr) || PQstatus(s->wr) != CONNECTION_OK) {
		lost(w);
		return;
	}
	while ((nf = PQnotifies(s->wr))) {
		struct user_ev *ue = NULL;
		int err = 0;

		if (!strcmp(nf->relname, "herald_users"))
			err = hr_store_user_fetch(s->wr, nf->extra, &ue);
		PQfreemem(nf);
		if (ue)
			hr_store_user_event(s, ue);
		if (err && hr_pq_lost(s->wr, NULL)) {
			lost(w);
			return;
		}
	}
}

void *hr_writer_main(void *arg)
{
	struct writer w = { .s = arg, .backoff_ms = BACKOFF_MIN_MS };
	struct hr_store *s = w.s;

	w.batch = s->batch;
	for (;;) {
		size_t before = w.n;
		bool stop = fill(&w);

		if (stop && !w.n)
			break;
		if (!s->wr)
			down(&w, w.n > before);
		else if (w.n)
			commit_batch(&w);
		else
			wait_for(&w, -1, true);
		if (s->wr)
			notifies(&w);
	}
	return NULL;
}
