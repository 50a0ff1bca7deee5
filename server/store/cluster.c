/*
 * A node of a cluster (issue 21): several Herald nodes on one database,
 * joined by PostgreSQL alone.
 *
 * The follower thread owns a connection of its own. It joins (the nodes
 * table, under the change log's lock: schema/008_cluster.sql), renews
 * the node's lease every lease_ms / 5, LISTENs on herald_changes and reads
 * the change log from the last change it read: the rows that other
 * writers changed, read again as they are now, go to the core thread
 * (hr_store_set_change_handler). Reading the row rather than carrying it
 * in the log keeps the log small and makes applying a change idempotent:
 * a change read twice, or a row changed twice, gives the row's last
 * state. The log is pruned past every live node's mark.
 *
 * After the connection was lost the follower goes on from its mark: the
 * log holds every change since (no gap: the ids are taken in commit
 * order), so nothing is missed and nothing is read again in full.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "store/store_int.h"

#define HR_LOG_MODULE "cluster"

#define READ_MAX "1000"        /* changes read per round */
#define PRUNE_MS 30000
#define REFETCH_MS 50          /* a busy resource's row: read again after */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

/* 0x6865726c, "herl": the change log's lock (schema/008_cluster.sql) */
#define LOG_LOCK "1751477868"

/* A node that (re)joins has let go of every move before it: what it
 * owns it loads after this (released). */
static const char join_sql[] =
	"INSERT INTO nodes (id, advertise, lease_until, mark, released) "
	"SELECT $1, $2, now() + $3::bigint * interval '1 ms', m, m "
	"FROM (SELECT coalesce(max(id), 0) AS m FROM changes) c "
	"ON CONFLICT (id) DO UPDATE SET epoch = nodes.epoch + 1, "
	"advertise = EXCLUDED.advertise, lease_until = EXCLUDED.lease_until, "
	"mark = EXCLUDED.mark, released = EXCLUDED.released, "
	"started_at = now() RETURNING epoch, mark";

/* The change log's triggers, made by each join in its transaction, under
 * the log's lock: the changes committed before it are in what the node
 * loads after it, those after it in the log (schema/008_cluster.sql). */
#define TRIGGER(t) "CREATE OR REPLACE TRIGGER " t "_change AFTER INSERT " \
	"OR UPDATE OR DELETE ON " t " FOR EACH ROW EXECUTE FUNCTION " \
	"herald_change()"
static const char *const join_pre[] = {
	"BEGIN",
	"SELECT pg_advisory_xact_lock(" LOG_LOCK ")",
	TRIGGER("bindings"),
	TRIGGER("publications"),
	TRIGGER("rules"),
	/* presence subscriptions made, ended, changing state: the others'
	 * watcher lists (schema/010_watchers.sql) */
	"CREATE OR REPLACE TRIGGER subscriptions_change AFTER INSERT OR "
	"DELETE OR UPDATE OF state ON subscriptions FOR EACH ROW EXECUTE "
	"FUNCTION herald_change()",
};

/* A single node on a cluster's database, none of whose nodes lives: the
 * log's triggers go (under the log's lock), and so do the nodes and the
 * log; the single node owns every subscription (it loads them all). */
static const char *const single_sql[] = {
	"BEGIN",
	"SELECT pg_advisory_xact_lock(" LOG_LOCK ")",
	"DROP TRIGGER IF EXISTS bindings_change ON bindings",
	"DROP TRIGGER IF EXISTS publications_change ON publications",
	"DROP TRIGGER IF EXISTS rules_change ON rules",
	"DROP TRIGGER IF EXISTS subscriptions_change ON subscriptions",
	"DELETE FROM nodes",
	"DELETE FROM changes",
	"UPDATE subscriptions SET owner = NULL WHERE owner IS NOT NULL",
	"COMMIT",
};

/* Statements without parameters in turn: 0 or EIO. */
static int exec_all(PGconn *c, const char *const *sql, size_t n)
{
	int err = 0;

	for (size_t i = 0; !err && i < n; i++)
		err = hr_pq_exec(c, NULL, sql[i], 0, NULL,
			strncmp(sql[i], "SELECT", 6) ? PGRES_COMMAND_OK :
			PGRES_TUPLES_OK);
	return err;
}

/* Held by the follower's connection while the node lives: the process
 * that holds it is that node; when it dies its connection closes and the
 * lock goes with it, so that a restart joins at once. */
static const char id_lock_sql[] =
	"SELECT pg_try_advisory_lock(1751477868, hashtext($1))";

static const char beat_sql[] =
	"UPDATE nodes SET lease_until = now() + $3::bigint * interval '1 ms', "
	"mark = $4::bigint WHERE id = $1 AND epoch = $2::bigint";

/* the log is kept for nodes alive within the hour: one away longer
 * starts again (and reads everything) */
static const char prune_sql[] =
	"DELETE FROM changes WHERE id <= (SELECT min(mark) FROM nodes "
	"WHERE lease_until > now() - interval '1 hour')";

static const char hi_sql[] =
	"SELECT max(id), count(*) FROM (SELECT id FROM changes "
	"WHERE id > $1::bigint ORDER BY id LIMIT " READ_MAX ") t";

/* the others' changes in (mark, hi]: each row as it is now */
#define RANGE(k) "RIGHT JOIN (SELECT DISTINCT res AS c_res, key AS c_key " \
	"FROM changes WHERE id > $1::bigint AND id <= $2::bigint " \
	"AND kind = '" k "' AND node IS DISTINCT FROM $3) c "
/* one row again */
#define ONE "RIGHT JOIN (SELECT $1::text AS c_res, $2::text AS c_key) c "
#define ON_BINDING "ON aor = c_res AND key = c_key"
#define ON_PUB "ON etag = c_key"
#define ON_WATCHER "ON id = c_key"

/* the others' presence subscriptions (their watcher lists), at a join:
 * as the change log's rows read them */
#define WATCHERS_NOW "WHERE package = 'presence' AND owner IS DISTINCT FROM $1"

/* the rules (a rule is its action: no row struct) */
static const char rules_sql[] =
	"SELECT package, resource, watcher, action, c_pkg, c_res, c_key "
	"FROM rules RIGHT JOIN (SELECT DISTINCT substr(kind, 6) AS c_pkg, "
	"res AS c_res, key AS c_key FROM changes WHERE id > $1::bigint "
	"AND id <= $2::bigint AND kind LIKE 'rule:%' "
	"AND node IS DISTINCT FROM $3) c "
	"ON package = c_pkg AND resource = c_res AND watcher = c_key";

/* dead nodes that own subscriptions */
static const char dead_sql[] =
	"SELECT n.id FROM nodes n WHERE n.lease_until < now() AND n.id <> $1 "
	"AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.owner = n.id)";

/* A chunk of dead node $2's subscriptions, now $1's: only while its
 * lease has run out and no connection holds its id (a restart of it
 * waits for this claim's commit, then loads what is left to it). */
#define CLAIM_CHUNK "200"
#define CLAIM_CHUNKS 10            /* at most, a round */
static const char claim_pre[] =
	"WITH l AS (SELECT pg_try_advisory_xact_lock(" LOG_LOCK ", "
	"hashtext($2)) AS ok), "
	"c AS (SELECT s.id FROM subscriptions s, l, nodes n WHERE l.ok "
	"AND s.owner = $2 AND n.id = $2 AND n.lease_until < now() "
	"ORDER BY s.id LIMIT " CLAIM_CHUNK " FOR UPDATE OF s SKIP LOCKED), "
	"u AS (UPDATE subscriptions SET owner = $1, "
	"owner_epoch = subscriptions.owner_epoch + 1 FROM c "
	"WHERE subscriptions.id = c.id RETURNING subscriptions.*) ";

/* A subscription another node owns, made this one's at one of its
 * requests, in a new owner epoch; the old owner reads its loss in the
 * log (kind 'owner', res the old owner, key the id), drops it and says
 * so (released, release_sql), and only then does this node answer the
 * request and notify (settle()). In one transaction under the log's
 * lock (move_pre, then the row with the old owner and the change, then
 * the notification). */
static const char move_pre[] =
	"WITH o AS (SELECT id, owner FROM subscriptions WHERE id = $1 "
	"AND owner IS DISTINCT FROM $2 FOR UPDATE), "
	"u AS (UPDATE subscriptions s SET owner = $2, "
	"owner_epoch = s.owner_epoch + 1 FROM o "
	"WHERE s.id = o.id RETURNING s.*, o.owner AS old_owner), "
	"l AS (INSERT INTO changes (node, kind, res, key) "
	"SELECT $2, 'owner', coalesce(old_owner, ''), id FROM u "
	"RETURNING id AS change) ";
#define MOVE_MORE "coalesce(old_owner, ''), (SELECT change FROM l)"

/* ...and the others' moves of subscriptions of ours, in a range */
static const char lost_sql[] =
	"SELECT key FROM changes WHERE id > $1::bigint AND id <= $2::bigint "
	"AND kind = 'owner' AND res = $3";

/* The moves up to $3 let go of: the new owners go on (settle()). */
static const char release_sql[] =
	"WITH u AS (UPDATE nodes SET released = GREATEST(released, "
	"$3::bigint) WHERE id = $1 AND epoch = $2::bigint RETURNING 1) "
	"SELECT pg_notify('herald_changes', '') FROM u";

/* Has the node a move took a subscription from let go of it? Or is it
 * dead (its lease ran out: it sends nothing, fenced), or gone? */
static const char settled_sql[] =
	"SELECT coalesce((SELECT released >= $2::bigint OR "
	"lease_until < now() FROM nodes WHERE id = $1), true)";
#define SETTLE_POLL_MS 100     /* a lease running out is looked for */

struct follower {
	struct hr_store *s;
	char move_sql[HR_ROW_SQL_MAX + sizeof(move_pre)];
	char claim_sql[HR_ROW_SQL_MAX + sizeof(claim_pre)];
	char bindings_sql[HR_ROW_SQL_MAX];
	char pubs_sql[HR_ROW_SQL_MAX];
	char watchers_sql[HR_ROW_SQL_MAX];
	char binding_sql[HR_ROW_SQL_MAX];
	char pub_sql[HR_ROW_SQL_MAX];
	char lease[24];
	uint64_t next_beat;
	uint64_t next_prune;
	uint64_t next_try;
	unsigned backoff_ms;
	bool taken;                /* the id was taken over: said once */
	int64_t released;          /* the last release said (release_sql) */
	struct hr_list waits;      /* claims waiting for their old owner
				    * (struct change_ev) */
};

/* The lease's last renewal (hr_store_mono_ms): s->renewed_ms, which the
 * core reads too. */
static void renewed(struct hr_store *s, uint64_t now)
{
	__atomic_store_n(&s->renewed_ms, now, __ATOMIC_RELEASE);
}

static uint64_t renewed_at(const struct hr_store *s)
{
	return __atomic_load_n(&s->renewed_ms, __ATOMIC_ACQUIRE);
}

void hr_change_ev_free(struct change_ev *ce)
{
	if (!ce)
		return;
	PQclear(ce->bindings);
	PQclear(ce->pubs);
	PQclear(ce->watchers);
	PQclear(ce->rules);
	PQclear(ce->subs);
	PQclear(ce->owned);
	PQclear(ce->claimed);
	PQclear(ce->lost);
	free(ce->claim_id);
	free(ce->old_owner);
	free(ce);
}

void hr_refetch_free(struct refetch *rf)
{
	if (!rf)
		return;
	free(rf->res);
	free(rf->key);
	free(rf);
}

static int setup(struct hr_store *s)
{
	const char *const v[] = { s->cfg.node };
	int err = hr_pq_exec(s->cl, NULL,
		"SELECT set_config('herald.node', $1, false)", 1, v,
		PGRES_TUPLES_OK);

	return err ? err : hr_pq_exec(s->cl, NULL, "LISTEN herald_changes",
		0, NULL, PGRES_COMMAND_OK);
}

static void deliver_ev(struct hr_store *s, struct change_ev *ce);

int hr_cluster_join(struct hr_store *s)
{
	char lease[24], msg[256], watchers[HR_ROW_SQL_MAX];
	const char *const v[] = { s->cfg.node, s->cfg.advertise, lease };
	uint64_t until = hr_store_mono_ms() + s->cfg.lease_ms;
	struct change_ev *ce = NULL;
	PGresult *res = NULL;
	bool said = false;
	int err = hr_pq_connect(&s->cl, s->cfg.url);

	if (err) {
		HR_ERROR("cannot connect to PostgreSQL: %s",
			hr_pq_connect_error());
		return err;
	}
	snprintf(lease, sizeof(lease), "%u", s->cfg.lease_ms);
	for (;;) {
		bool mine;

		err = hr_pq_exec(s->cl, &res, id_lock_sql, 1, v,
			PGRES_TUPLES_OK);
		if (err)
			goto failed;
		mine = !strcmp(PQgetvalue(res, 0, 0), "t");
		PQclear(res);
		if (mine)
			break;
		/* another process is that node, or one that was cut off
		 * and whose connection PostgreSQL has not closed yet */
		if (hr_store_mono_ms() >= until) {
			HR_ERROR("node %s is alive (another process holds its "
				"id): each node needs an id of its own",
				s->cfg.node);
			return EADDRINUSE;
		}
		if (!said)
			HR_WARN("node %s is held by another connection: waiting "
				"(at most %u ms)", s->cfg.node, s->cfg.lease_ms);
		said = true;
		usleep(500 * 1000);
	}
	err = exec_all(s->cl, join_pre, sizeof(join_pre) / sizeof(*join_pre));
	if (!err)
		err = hr_pq_exec(s->cl, &res, join_sql, 3, v, PGRES_TUPLES_OK);
	if (!err) {
		s->epoch = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		s->mark = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
		PQclear(res);
		/* a single node's subscriptions before: the first node's */
		err = hr_pq_exec(s->cl, NULL, "UPDATE subscriptions SET "
			"owner = $1 WHERE owner IS NULL", 1, v,
			PGRES_COMMAND_OK);
	}
	/* the others' presence subscriptions as they are now: the log has
	 * what changes after */
	if (!err)
		err = hr_row_select_with(watchers, sizeof(watchers),
			&hr_row_sub, "resource, id", WATCHERS_NOW);
	if (!err && !(ce = calloc(1, sizeof(*ce))))
		err = ENOMEM;
	if (!err)
		err = hr_pq_exec(s->cl, &ce->watchers, watchers, 1, v,
			PGRES_TUPLES_OK);
	if (!err)
		err = hr_pq_exec(s->cl, NULL, "COMMIT", 0, NULL,
			PGRES_COMMAND_OK);
	if (err) {
		hr_change_ev_free(ce);
		PQclear(PQexec(s->cl, "ROLLBACK"));
		goto failed;
	}
	if (PQntuples(ce->watchers))
		deliver_ev(s, ce);
	else
		hr_change_ev_free(ce);
	renewed(s, hr_store_mono_ms());
	err = setup(s);
	if (err) {
		HR_ERROR("cannot listen for changes: %s",
			hr_pq_errmsg(s->cl, msg, sizeof(msg)));
		return err;
	}
	HR_INFO("joined as node %s (epoch %" PRId64 ") from change %" PRId64,
		s->cfg.node, s->epoch, s->mark);
	return 0;
 failed:
	HR_ERROR("cannot join as node %s: %s", s->cfg.node,
		hr_pq_errmsg(s->cl, msg, sizeof(msg)));
	return err;
}

static void lost(struct follower *f)
{
	struct hr_store *s = f->s;
	char msg[256];

	HR_WARN("lost the connection to PostgreSQL (%s); the others' changes "
		"wait, reconnecting", hr_pq_errmsg(s->cl, msg, sizeof(msg)));
	PQfinish(s->cl);
	s->cl = NULL;
	f->backoff_ms = BACKOFF_MIN_MS;
	f->next_try = hr_store_mono_ms() + f->backoff_ms;
}

/* The node's id again on a new connection: said when another process
 * took it while this one was cut off. */
static void held(struct follower *f)
{
	struct hr_store *s = f->s;
	const char *const v[] = { s->cfg.node };
	PGresult *res = NULL;

	if (hr_pq_exec(s->cl, &res, id_lock_sql, 1, v, PGRES_TUPLES_OK))
		return;
	if (strcmp(PQgetvalue(res, 0, 0), "t") && !f->taken) {
		HR_ERROR("node %s was taken over by another process while "
			"this one was cut off: two processes with one id",
			s->cfg.node);
		f->taken = true;
	}
	PQclear(res);
}

static void reconnect(struct follower *f)
{
	struct hr_store *s = f->s;

	if (hr_pq_connect(&s->cl, s->cfg.url) || setup(s)) {
		PQfinish(s->cl);
		s->cl = NULL;
		f->backoff_ms = f->backoff_ms * 2 < BACKOFF_MAX_MS ?
			f->backoff_ms * 2 : BACKOFF_MAX_MS;
		f->next_try = hr_store_mono_ms() + f->backoff_ms;
		return;
	}
	HR_INFO("reconnected: reading the changes after %" PRId64, s->mark);
	f->next_beat = 0;
	held(f);
}

/* Renew the lease (and say how far this node has read). */
static int beat(struct follower *f)
{
	struct hr_store *s = f->s;
	char epoch[24], mark[24];
	const char *const v[] = { s->cfg.node, epoch, f->lease, mark };
	PGresult *res = NULL;
	int err;

	snprintf(epoch, sizeof(epoch), "%" PRId64, s->epoch);
	snprintf(mark, sizeof(mark), "%" PRId64, s->mark);
	err = hr_pq_exec(s->cl, &res, beat_sql, 4, v, PGRES_COMMAND_OK);
	if (err)
		return err;
	if (!strcmp(PQcmdTuples(res), "0") && !f->taken) {
		/* a process that joined as this node since took it over */
		HR_ERROR("node %s was taken over (epoch %" PRId64 " is not "
			"the nodes table's): two processes with one id",
			s->cfg.node, s->epoch);
		f->taken = true;
	}
	PQclear(res);
	return 0;
}

static void deliver_ev(struct hr_store *s, struct change_ev *ce)
{
	pthread_mutex_lock(&s->lock);
	hr_list_append(&s->changes, &ce->le, ce);
	pthread_mutex_unlock(&s->lock);
	hr_store_wake(s);
}

/* The rows of the changes in a range (v: lo, hi, this node), in one
 * round trip: 0, or EIO. */
static int read_range(struct follower *f, struct change_ev *ce,
	const char *const *v)
{
	const char *const sql[] = { f->bindings_sql, f->pubs_sql,
		f->watchers_sql, rules_sql, lost_sql };
	PGresult *res[5];
	int err = hr_pq_exec_each(f->s->cl, res, sql, 5, 3, v);

	ce->bindings = res[0];
	ce->pubs = res[1];
	ce->watchers = res[2];
	ce->rules = res[3];
	ce->lost = res[4];
	return err;
}

/* The others' changes after the mark, READ_MAX at a time: 0, or EIO. */
static int read_changes(struct follower *f)
{
	struct hr_store *s = f->s;

	for (;;) {
		char lo[24], hi[24];
		const char *const v[] = { lo, hi, s->cfg.node };
		PGresult *res = NULL;
		struct change_ev *ce;
		int64_t top;
		bool full;
		int err;

		snprintf(lo, sizeof(lo), "%" PRId64, s->mark);
		err = hr_pq_exec(s->cl, &res, hi_sql, 1, v, PGRES_TUPLES_OK);
		if (err)
			return err;
		if (PQgetisnull(res, 0, 0)) {
			PQclear(res);
			return 0;
		}
		top = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		full = !strcmp(PQgetvalue(res, 0, 1), READ_MAX);
		PQclear(res);
		snprintf(hi, sizeof(hi), "%" PRId64, top);
		ce = calloc(1, sizeof(*ce));
		if (!ce)
			return ENOMEM;
		err = read_range(f, ce, v);
		if (err) {
			hr_change_ev_free(ce);
			return err;
		}
		/* atomic: the core reads it for /metrics */
		__atomic_store_n(&s->mark, top, __ATOMIC_RELAXED);
		ce->top = top;
		if (PQntuples(ce->bindings) || PQntuples(ce->pubs) ||
		    PQntuples(ce->watchers) || PQntuples(ce->rules) ||
		    PQntuples(ce->lost))
			deliver_ev(s, ce);
		else
			hr_change_ev_free(ce);  /* only this node's own */
		if (!full)
			return 0;
	}
}

/* A subscription made this node's (hr_store_sub_claim): its row into
 * ce (none when there was nothing to take), with the node it was taken
 * from: 0, or EIO. */
static int move(struct follower *f, const char *id, struct change_ev *ce)
{
	struct hr_store *s = f->s;
	const char *const v[] = { id, s->cfg.node };
	int ncols = (int)hr_row_sub.ncols;
	int err;

	ce->claim_id = strdup(id);
	if (!ce->claim_id)
		return ENOMEM;
	err = hr_pq_exec(s->cl, NULL, "BEGIN", 0, NULL, PGRES_COMMAND_OK);
	if (!err)
		err = hr_pq_exec(s->cl, NULL, "SELECT pg_advisory_xact_lock("
			LOG_LOCK ")", 0, NULL, PGRES_TUPLES_OK);
	if (!err)
		err = hr_pq_exec(s->cl, &ce->claimed, f->move_sql, 2, v,
			PGRES_TUPLES_OK);
	if (!err && PQntuples(ce->claimed))
		err = hr_pq_exec(s->cl, NULL, "SELECT pg_notify("
			"'herald_changes', '')", 0, NULL, PGRES_TUPLES_OK);
	if (!err)
		err = hr_pq_exec(s->cl, NULL, "COMMIT", 0, NULL,
			PGRES_COMMAND_OK);
	if (err) {
		PQclear(PQexec(s->cl, "ROLLBACK"));
		return err;
	}
	if (PQntuples(ce->claimed) && *PQgetvalue(ce->claimed, 0, ncols)) {
		ce->old_owner = strdup(PQgetvalue(ce->claimed, 0, ncols));
		if (!ce->old_owner)
			return ENOMEM;
		ce->change = strtoll(PQgetvalue(ce->claimed, 0, ncols + 1),
			NULL, 10);
		ce->since_ms = hr_store_mono_ms();
	}
	return 0;
}

/* Say that the core let go of the subscriptions moved away up to
 * s->released: 0, or EIO. */
static int release(struct follower *f)
{
	struct hr_store *s = f->s;
	int64_t to = __atomic_load_n(&s->released, __ATOMIC_ACQUIRE);
	char epoch[24], rel[24];
	const char *const v[] = { s->cfg.node, epoch, rel };
	int err;

	if (to <= f->released)
		return 0;
	snprintf(epoch, sizeof(epoch), "%" PRId64, s->epoch);
	snprintf(rel, sizeof(rel), "%" PRId64, to);
	err = hr_pq_exec(s->cl, NULL, release_sql, 3, v, PGRES_TUPLES_OK);
	if (!err)
		f->released = to;
	return err;
}

/* The claims whose old owners have let go (or died): to the core, whose
 * request waits for them (never two nodes notifying one subscription).
 * 0, or EIO. */
static int settle(struct follower *f, uint64_t *next)
{
	struct hr_store *s = f->s;
	struct hr_le *le = f->waits.head;
	int err = 0;

	while (le && !err) {
		struct change_ev *ce = le->data;
		uint64_t now = hr_store_mono_ms();
		char change[24];
		const char *const v[] = { ce->old_owner, change };
		PGresult *res = NULL;
		bool done;

		le = le->next;
		snprintf(change, sizeof(change), "%" PRId64, ce->change);
		err = hr_pq_exec(s->cl, &res, settled_sql, 2, v,
			PGRES_TUPLES_OK);
		if (err)
			break;
		done = !strcmp(PQgetvalue(res, 0, 0), "t");
		PQclear(res);
		if (!done && now - ce->since_ms > s->cfg.lease_ms) {
			/* its follower renews the lease but its core does not
			 * let go: a stuck process; the claim waits no more */
			HR_WARN("node %s has not let go of subscription %s in "
				"%u ms: this node notifies it from now on",
				ce->old_owner, ce->claim_id, s->cfg.lease_ms);
			done = true;
		}
		if (done) {
			hr_list_unlink(&ce->le);
			deliver_ev(s, ce);
		} else if (now + SETTLE_POLL_MS < *next) {
			*next = now + SETTLE_POLL_MS;
		}
	}
	return err;
}

/* The rows of busy resources, due again: 0 or EIO. */
static int refetch(struct follower *f, uint64_t now, uint64_t *next)
{
	struct hr_store *s = f->s;
	struct hr_list due = { 0 };
	struct hr_le *le;
	int err = 0;

	pthread_mutex_lock(&s->lock);
	le = s->refetch.head;
	while (le) {
		struct refetch *rf = le->data;

		le = le->next;
		if (rf->due_ms <= now) {
			hr_list_unlink(&rf->le);
			hr_list_append(&due, &rf->le, rf);
		} else if (rf->due_ms < *next) {
			*next = rf->due_ms;
		}
	}
	pthread_mutex_unlock(&s->lock);
	while ((le = due.head)) {
		struct refetch *rf = le->data;
		const char *const v[] = { rf->res, rf->key };
		struct change_ev *ce = err ? NULL : calloc(1, sizeof(*ce));
		bool binding = rf->kind == HR_CHANGE_BINDING;

		hr_list_unlink(le);
		if (ce && rf->kind == HR_CHANGE_CLAIMED)
			err = move(f, rf->key, ce);
		else if (ce)
			err = hr_pq_exec(s->cl, binding ? &ce->bindings :
				&ce->pubs, binding ? f->binding_sql :
				f->pub_sql, 2, v, PGRES_TUPLES_OK);
		if (ce && !err && ce->old_owner) {
			/* moved: the old owner lets go first */
			hr_list_append(&f->waits, &ce->le, ce);
			hr_refetch_free(rf);
			continue;
		}
		if (ce && !err) {
			deliver_ev(s, ce);
			hr_refetch_free(rf);
			continue;
		}
		hr_change_ev_free(ce);
		/* not read: back in the list for the next round */
		pthread_mutex_lock(&s->lock);
		hr_list_append(&s->refetch, &rf->le, rf);
		pthread_mutex_unlock(&s->lock);
		if (!err)
			err = ENOMEM;
	}
	return err;
}

/* Past the lease without renewing it: the others may take over this
 * node's subscriptions, so it stops notifying them (self-fencing). */
static void fence(struct follower *f, uint64_t now)
{
	struct hr_store *s = f->s;

	if (__atomic_load_n(&s->fenced, __ATOMIC_ACQUIRE) ||
	    now - renewed_at(s) <= s->cfg.lease_ms)
		return;
	__atomic_store_n(&s->fenced, true, __ATOMIC_RELEASE);
	HR_WARN("node %s has not renewed its lease for %u ms: no NOTIFY "
		"until it has (the others may take over its subscriptions)",
		s->cfg.node, s->cfg.lease_ms);
}

/* Renewed after being fenced: the subscriptions still this node's go to
 * the core, which drops the others and lifts the fence. */
static int unfence(struct follower *f)
{
	struct hr_store *s = f->s;
	const char *const v[] = { s->cfg.node };
	struct change_ev *ce = calloc(1, sizeof(*ce));
	int err;

	if (!ce)
		return ENOMEM;
	err = hr_pq_exec(s->cl, &ce->owned, "SELECT id FROM subscriptions "
		"WHERE owner = $1 ORDER BY id COLLATE \"C\"", 1, v,
		PGRES_TUPLES_OK);
	if (err) {
		hr_change_ev_free(ce);
		return err;
	}
	deliver_ev(s, ce);
	return 0;
}

/* The subscriptions of dead nodes: this node's share, in chunks. */
static int take_over(struct follower *f)
{
	struct hr_store *s = f->s;
	const char *const me[] = { s->cfg.node };
	PGresult *dead = NULL;
	int err = hr_pq_exec(s->cl, &dead, dead_sql, 1, me, PGRES_TUPLES_OK);

	for (int i = 0; !err && i < PQntuples(dead); i++) {
		const char *const v[] = { s->cfg.node, PQgetvalue(dead, i, 0) };
		int taken = 0;

		for (int k = 0; !err && k < CLAIM_CHUNKS; k++) {
			struct change_ev *ce = calloc(1, sizeof(*ce));
			int n;

			if (!ce) {
				err = ENOMEM;
				break;
			}
			err = hr_pq_exec(s->cl, &ce->subs, f->claim_sql, 2, v,
				PGRES_TUPLES_OK);
			n = err ? 0 : PQntuples(ce->subs);
			taken += n;
			if (n)
				deliver_ev(s, ce);
			else
				hr_change_ev_free(ce);
			if (n < atoi(CLAIM_CHUNK))
				break;
		}
		if (taken)
			HR_INFO("node %s is dead (its lease ran out): %d of its "
				"subscriptions are this node's now", v[1],
				taken);
	}
	PQclear(dead);
	return err;
}

/* Notifications only wake the follower: what they say is in the log. */
static int drain(struct hr_store *s)
{
	PGnotify *nf;

	if (!PQconsumeInput(s->cl))
		return EIO;
	while ((nf = PQnotifies(s->cl)))
		PQfreemem(nf);
	return 0;
}

static bool stopping(struct hr_store *s)
{
	bool stop;

	pthread_mutex_lock(&s->lock);
	stop = s->stop;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

static void wait_for(struct follower *f, uint64_t until)
{
	struct hr_store *s = f->s;
	uint64_t now = hr_store_mono_ms();
	struct pollfd p[2] = {
		{ .fd = s->cl_efd, .events = POLLIN },
		{ .fd = s->cl ? PQsocket(s->cl) : -1, .events = POLLIN },
	};
	uint64_t v;
	PGnotify *nf;

	if (until <= now)
		return;
	/* a notification read in with a query's results since drain() is
	 * in libpq's queue, not on the socket: go round again at once */
	if (s->cl && (nf = PQnotifies(s->cl))) {
		PQfreemem(nf);
		return;
	}
	if (poll(p, 2, (int)(until - now)) > 0 && p[0].revents &&
	    read(s->cl_efd, &v, sizeof(v)) < 0)
		HR_DEBUG("eventfd: %s", hr_strerror(errno));
}

static int sqls(struct follower *f)
{
	/* the claimed rows, as the row's own SELECT reads them */
	struct hr_row claimed = hr_row_sub;
	size_t pre = sizeof(claim_pre) - 1;
	int err = hr_row_select_with(f->bindings_sql, sizeof(f->bindings_sql),
		&hr_row_binding, "c_res, c_key", RANGE("binding") ON_BINDING);

	claimed.table = "u";
	memcpy(f->claim_sql, claim_pre, pre);
	if (!err)
		err = hr_row_select(f->claim_sql + pre,
			sizeof(f->claim_sql) - pre, &claimed, "");
	pre = sizeof(move_pre) - 1;
	memcpy(f->move_sql, move_pre, pre);
	if (!err)
		err = hr_row_select_with(f->move_sql + pre,
			sizeof(f->move_sql) - pre, &claimed, MOVE_MORE, "");

	if (!err)
		err = hr_row_select_with(f->pubs_sql, sizeof(f->pubs_sql),
			&hr_row_pub, "c_res, c_key",
			RANGE("publication") ON_PUB);
	if (!err)
		err = hr_row_select_with(f->watchers_sql,
			sizeof(f->watchers_sql), &hr_row_sub, "c_res, c_key",
			RANGE("watcher") ON_WATCHER);
	if (!err)
		err = hr_row_select_with(f->binding_sql,
			sizeof(f->binding_sql), &hr_row_binding,
			"c_res, c_key", ONE ON_BINDING);
	if (!err)
		err = hr_row_select_with(f->pub_sql, sizeof(f->pub_sql),
			&hr_row_pub, "c_res, c_key", ONE ON_PUB);
	return err;
}

void *hr_cluster_main(void *arg)
{
	struct follower f = { .s = arg, .backoff_ms = BACKOFF_MIN_MS };
	struct hr_store *s = f.s;

	if (sqls(&f)) {
		HR_ERROR("the change log's queries do not fit");
		return NULL;
	}
	snprintf(f.lease, sizeof(f.lease), "%u", s->cfg.lease_ms);
	f.next_prune = hr_store_mono_ms() + PRUNE_MS;
	while (!stopping(s)) {
		uint64_t now = hr_store_mono_ms();
		uint64_t next;
		int err = 0;

		fence(&f, now);
		if (!s->cl) {
			if (now >= f.next_try)
				reconnect(&f);
			if (!s->cl) {
				/* the fence comes on time while away */
				wait_for(&f, f.next_try < renewed_at(s) +
					s->cfg.lease_ms + 1 ? f.next_try :
					renewed_at(s) + s->cfg.lease_ms + 1);
				continue;
			}
		}
		next = f.next_beat ? f.next_beat : now;
		err = drain(s);
		if (!err && now >= f.next_beat) {
			err = beat(&f);
			if (!err) {
				renewed(s, now);
				if (__atomic_load_n(&s->fenced,
					__ATOMIC_ACQUIRE) && !f.taken)
					err = unfence(&f);
			}
			if (!err)
				err = take_over(&f);
			f.next_beat = now + s->cfg.lease_ms / 5;
			next = f.next_beat;
		}
		if (!err && now >= f.next_prune) {
			err = hr_pq_exec(s->cl, NULL, prune_sql, 0, NULL,
				PGRES_COMMAND_OK);
			f.next_prune = now + PRUNE_MS;
		}
		if (!err)
			err = read_changes(&f);
		if (!err)
			err = refetch(&f, now, &next);
		if (!err)
			err = release(&f);
		if (!err)
			err = settle(&f, &next);
		if (err && hr_pq_lost(s->cl, NULL)) {
			lost(&f);
			continue;
		}
		if (err) {
			char msg[256];

			HR_WARN("reading the change log: %s",
				hr_pq_errmsg(s->cl, msg, sizeof(msg)));
		}
		wait_for(&f, next);
	}
	while (f.waits.head) {
		struct change_ev *ce = f.waits.head->data;

		hr_list_unlink(&ce->le);
		hr_change_ev_free(ce);
	}
	return NULL;
}

/* ---- core thread ---- */

/* A row to read again (a claim to make) in ms: 0 or ENOMEM. */
static int again_in(struct hr_store *s, enum hr_store_change_kind kind,
	const char *res, const char *key, uint64_t ms)
{
	struct refetch *rf = calloc(1, sizeof(*rf));
	uint64_t one = 1;

	if (rf) {
		rf->res = strdup(res);
		rf->key = strdup(key);
	}
	if (!rf || !rf->res || !rf->key) {
		hr_refetch_free(rf);
		return ENOMEM;
	}
	rf->kind = kind;
	rf->due_ms = hr_store_mono_ms() + ms;
	pthread_mutex_lock(&s->lock);
	hr_list_append(&s->refetch, &rf->le, rf);
	pthread_mutex_unlock(&s->lock);
	if (write(s->cl_efd, &one, sizeof(one)) < 0)
		HR_DEBUG("eventfd: %s", hr_strerror(errno));
	return 0;
}

static void again(struct hr_store *s, enum hr_store_change_kind kind,
	const char *res, const char *key)
{
	if (again_in(s, kind, res, key, REFETCH_MS))
		HR_ERROR("out of memory: a change of %s is not applied", res);
}

int hr_store_pub_fetch(struct hr_store *s, const char *resource,
	const char *etag)
{
	if (!s->cfg.node)
		return EINVAL;
	return again_in(s, HR_CHANGE_PUBLICATION, resource, etag, 0);
}

int hr_store_sub_claim(struct hr_store *s, const char *id)
{
	if (!s->cfg.node)
		return EINVAL;
	return again_in(s, HR_CHANGE_CLAIMED, "", id, 0);
}

/* The rows another writer changed (bindings, publications, presence
 * subscriptions), as they are now: a busy resource's read again. */
static void apply(struct hr_store *s, enum hr_store_change_kind kind,
	const PGresult *res)
{
	static const char *const names[] = {
		[HR_CHANGE_BINDING] = "binding",
		[HR_CHANGE_PUBLICATION] = "publication",
		[HR_CHANGE_WATCHER] = "presence subscription",
	};
	const struct hr_row *row = kind == HR_CHANGE_BINDING ?
		&hr_row_binding : kind == HR_CHANGE_WATCHER ? &hr_row_sub :
		&hr_row_pub;
	int ncols = (int)row->ncols;

	for (int r = 0; res && r < PQntuples(res); r++) {
		union {
			struct hr_store_binding b;
			struct hr_store_pub p;
			struct hr_store_sub sub;
		} u;
		struct hr_store_change c = { .kind = kind,
			.res = PQgetvalue(res, r, ncols),
			.key = PQgetvalue(res, r, ncols + 1) };
		/* the row's first column is a key: NULL when it is gone */
		bool gone = PQgetisnull(res, r, 0);

		if (!gone) {
			hr_row_decode(row, &u, res, r);
			c.binding = kind == HR_CHANGE_BINDING ? &u.b : NULL;
			c.pub = kind == HR_CHANGE_PUBLICATION ? &u.p : NULL;
			c.sub = kind == HR_CHANGE_WATCHER ? &u.sub : NULL;
		}
		HR_DEBUG("another writer's %s %s of %s: %s", names[kind],
			c.key, c.res, gone ? "gone" : "changed");
		s->applied++;
		if (s->change_h && s->change_h(&c, s->change_arg) == EBUSY)
			again(s, kind, c.res, c.key);
	}
}

/* A rule is in force at once: a change of it here at the same moment
 * is the admin's race to lose, as on one node. */
static void apply_rules(struct hr_store *s, const PGresult *res)
{
	for (int r = 0; res && r < PQntuples(res); r++) {
		struct hr_store_change c = { .kind = HR_CHANGE_RULE,
			.package = PQgetvalue(res, r, 4),
			.res = PQgetvalue(res, r, 5),
			.key = PQgetvalue(res, r, 6),
			.action = PQgetisnull(res, r, 3) ? NULL :
				PQgetvalue(res, r, 3) };

		HR_DEBUG("another writer's %s rule of %s for %s: %s",
			c.package, c.res, c.key, c.action ? c.action : "gone");
		s->applied++;
		if (s->change_h)
			(void)s->change_h(&c, s->change_arg);
	}
}

/* The ids still this node's, then the fence lifted. */
static void apply_owned(struct hr_store *s, const PGresult *res)
{
	int n = res ? PQntuples(res) : 0;
	const char **ids;

	if (!res)
		return;
	ids = calloc((size_t)n + 1, sizeof(*ids));
	if (!ids) {
		HR_ERROR("out of memory: the fence stays until the next renewal");
		return;
	}
	for (int r = 0; r < n; r++)
		ids[r] = PQgetvalue(res, r, 0);
	if (s->change_h)
		(void)s->change_h(&(struct hr_store_change){
			.kind = HR_CHANGE_OWNED, .ids = ids,
			.nids = (size_t)n }, s->change_arg);
	free(ids);
	__atomic_store_n(&s->fenced, false, __ATOMIC_RELEASE);
	HR_INFO("node %s renewed its lease: %d subscriptions are still its "
		"own, NOTIFYs go on", s->cfg.node, n);
}

static void apply_subs(struct hr_store *s, const PGresult *res)
{
	for (int r = 0; res && r < PQntuples(res); r++) {
		struct hr_store_sub ss;
		struct hr_store_change c = { .kind = HR_CHANGE_SUB, .sub = &ss };

		hr_row_decode(&hr_row_sub, &ss, res, r);
		c.res = ss.resource;
		c.key = ss.id;
		s->taken_over++;
		if (s->change_h)
			(void)s->change_h(&c, s->change_arg);
	}
}

/* A claim's outcome: the row (taken over as a dead node's), or none. */
static void apply_claimed(struct hr_store *s, const PGresult *res,
	const char *id)
{
	struct hr_store_sub ss;
	struct hr_store_change c = { .kind = HR_CHANGE_CLAIMED, .key = id };

	if (!res)
		return;
	if (PQntuples(res)) {
		hr_row_decode(&hr_row_sub, &ss, res, 0);
		c.res = ss.resource;
		c.sub = &ss;
	}
	if (s->change_h)
		(void)s->change_h(&c, s->change_arg);
}

/* Subscriptions moved away up to change top: dropped (the handler lets
 * go of them at once), then said, once this turn of the loop is over
 * (hr_cluster_released). */
static void apply_lost(struct hr_store *s, const PGresult *res,
	int64_t top)
{
	if (!res || !PQntuples(res))
		return;
	for (int r = 0; r < PQntuples(res); r++) {
		struct hr_store_change c = { .kind = HR_CHANGE_LOST,
			.key = PQgetvalue(res, r, 0) };

		if (s->change_h)
			(void)s->change_h(&c, s->change_arg);
	}
	if (top > __atomic_load_n(&s->released, __ATOMIC_RELAXED))
		__atomic_store_n(&s->released, top, __ATOMIC_RELEASE);
	/* active events run in the order they were made active: a NOTIFY
	 * queued for one of them before this has left by then (sip/udp.c) */
	event_active(s->rel_ev, 0, 1);
}

void hr_cluster_released(evutil_socket_t fd, short what, void *arg)
{
	struct hr_store *s = arg;
	uint64_t one = 1;

	(void)fd;
	(void)what;
	if (write(s->cl_efd, &one, sizeof(one)) < 0)
		HR_DEBUG("eventfd: %s", hr_strerror(errno));
}

void hr_cluster_deliver(struct hr_store *s, struct hr_list *evs)
{
	struct hr_le *le;

	while ((le = evs->head)) {
		struct change_ev *ce = le->data;

		hr_list_unlink(le);
		apply(s, HR_CHANGE_BINDING, ce->bindings);
		apply(s, HR_CHANGE_PUBLICATION, ce->pubs);
		apply(s, HR_CHANGE_WATCHER, ce->watchers);
		apply_rules(s, ce->rules);
		apply_subs(s, ce->subs);
		apply_owned(s, ce->owned);
		apply_lost(s, ce->lost, ce->top);
		apply_claimed(s, ce->claimed, ce->claim_id);
		hr_change_ev_free(ce);
	}
}

void hr_store_set_change_handler(struct hr_store *s, hr_store_change_h *h,
	void *arg)
{
	s->change_h = h;
	s->change_arg = arg;
}

int hr_cluster_single(struct hr_store *s)
{
	PGresult *res = NULL;
	char msg[256];
	long live, trig;
	int err = hr_pq_exec(s->rd, &res, "SELECT (SELECT count(*) FROM nodes "
		"WHERE lease_until > now()), (SELECT count(*) FROM pg_trigger "
		"WHERE tgname IN ('bindings_change', 'publications_change', "
		"'rules_change', 'subscriptions_change'))", 0, NULL, PGRES_TUPLES_OK);

	if (err)
		return err;
	live = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	trig = strtol(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	if (live) {
		HR_WARN("%ld node(s) of a cluster are alive on this database: "
			"start this one with --node-id too, or two nodes will "
			"notify one subscription", live);
		return 0;
	}
	if (!trig)
		return 0;
	err = exec_all(s->rd, single_sql, sizeof(single_sql) /
		sizeof(*single_sql));
	if (err) {
		HR_ERROR("cannot leave the cluster's change log: %s",
			hr_pq_errmsg(s->rd, msg, sizeof(msg)));
		PQclear(PQexec(s->rd, "ROLLBACK"));
		return err;
	}
	HR_INFO("the database was a cluster's, none of whose nodes lives: "
		"a single node's now (no change log)");
	return 0;
}

/* ---- the nodes (admin) ---- */

const char *hr_store_node(const struct hr_store *s)
{
	return s->cfg.node;
}

bool hr_store_fenced(const struct hr_store *s)
{
	/* the time too: a process stopped and resumed (SIGSTOP, a VM
	 * paused) must not notify before its follower has looked */
	return s && s->cfg.node && (__atomic_load_n(&s->fenced,
		__ATOMIC_ACQUIRE) || hr_store_mono_ms() - __atomic_load_n(
		&s->renewed_ms, __ATOMIC_ACQUIRE) > s->cfg.lease_ms);
}

struct node_each {
	hr_store_node_h *h;
	void *arg;
};

static int node_row(const PGresult *res, int row, void *arg)
{
	const struct node_each *e = arg;
	struct hr_store_node n = {
		.id = PQgetvalue(res, row, 0),
		.advertise = PQgetisnull(res, row, 1) ? NULL :
			PQgetvalue(res, row, 1),
		.epoch = strtoll(PQgetvalue(res, row, 2), NULL, 10),
		.lease_until = strtoll(PQgetvalue(res, row, 3), NULL, 10),
		.mark = strtoll(PQgetvalue(res, row, 4), NULL, 10),
		.live = !strcmp(PQgetvalue(res, row, 5), "t"),
	};

	return e->h(&n, e->arg);
}

int hr_store_nodes(struct hr_store_reader *r, hr_store_node_h *h, void *arg)
{
	struct node_each e = { h, arg };

	return hr_store_reader_each(r, "SELECT id, advertise, epoch, "
		"extract(epoch FROM lease_until)::bigint, mark, "
		"lease_until > now() FROM nodes ORDER BY id", 0, NULL,
		node_row, &e);
}
