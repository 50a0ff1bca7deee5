/*
 * server/store against a real PostgreSQL: HERALD_TEST_DATABASE_URL (set
 * by script/test, which starts a throwaway cluster with script/pg). Each
 * test gets a fresh database. Without the variable the test is skipped
 * (exit 77). The outage test starts and stops a cluster of its own with
 * script/pg (HERALD_TEST_PG_SCRIPT, or the one in the source tree).
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/core.h"
#include "store/store.h"
#include "store/store_int.h"  /* hr_migrations_n */
#include "pgdb.h"

#ifndef HR_SOURCE_DIR
#define HR_SOURCE_DIR "."
#endif

static struct pgdb db;          /* this test's database */
static struct hr_store *store;
static size_t live0;
static char pg_dir[64];         /* test_outage's own cluster, or "" */
static char pg_script[512];

/* ---- helpers ---- */

/* Run the core loop until *flag or ms have passed. */
static bool run_until(const int *flag, unsigned ms)
{
	for (unsigned i = 0; i < ms && !*flag; i++) {
		hr_loop_once();
		usleep(1000);
	}
	hr_loop_once();
	return *flag;
}

static struct hr_store *store_new(unsigned queue_max, unsigned wait_ms,
	unsigned batch_max)
{
	struct hr_store_cfg cfg;
	struct hr_store *s = NULL;

	hr_store_cfg_default(&cfg);
	cfg.url = db.url;
	if (queue_max)
		cfg.queue_max = queue_max;
	if (wait_ms)
		cfg.wait_ms = wait_ms;
	if (batch_max)
		cfg.batch_max = batch_max;
	ck_assert_int_eq(hr_store_alloc(&s, &cfg), 0);
	return s;
}

static void setup(void)
{
	live0 = hr_mem_live();
	ck_assert_int_eq(hr_loop_init(), 0);
	ck_assert_uint_ge(pgdb_create(&db, "test_"), 1);
	store = store_new(0, 0, 0);
}

static void pg_cleanup(void)
{
	char cmd[1200];

	if (!pg_dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "'%s' stop '%s'; rm -rf '%s'", pg_script,
		pg_dir, pg_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "test_store: cleanup of %s failed\n", pg_dir);
	pg_dir[0] = '\0';
}

static void teardown(void)
{
	pg_cleanup();  /* also when test_outage failed half-way */
	store = hr_mem_deref(store);
	hr_loop_close();
	pgdb_drop(&db);
	ck_assert_uint_eq(hr_mem_live(), live0);
}

/* A completion: counts, and remembers the error of each. */
struct done {
	int n;          /* completions seen */
	int want;       /* set flag when n reaches want */
	int flag;
	int err[4096];
};

static void done_h(int err, void *arg)
{
	struct done *d = arg;

	d->err[d->n++] = err;
	if (d->n >= d->want)
		d->flag = 1;
}

static void binding_fill(struct hr_store_binding *b, const char *aor,
	const char *key)
{
	memset(b, 0, sizeof(*b));
	b->aor = aor;
	b->key = key;
	b->id = "c1";
	b->uri = "sip:alice@192.0.2.1:5060;transport=udp";
	b->expires_at = 1700003600;
	b->registered_at = 1700000000;
	b->callid = "a84b4c76e66710@pc33";
	b->cseq = 314159;
	b->q = -1;
	b->reg_id = -1;
}

static int put_one(struct hr_store *s, const struct hr_store_binding *b,
	struct done *d)
{
	struct hr_store_tx *tx;

	ck_assert_int_eq(hr_store_tx_alloc(&tx, s), 0);
	ck_assert_int_eq(hr_store_tx_binding_put(tx, b), 0);
	return hr_store_tx_commit(tx, done_h, d);
}

/* Collect loaded bindings as "aor|key|...", one line each. */
static int collect_h(const struct hr_store_binding *b, void *arg)
{
	struct hr_buf *buf = arg;

	hr_buf_printf(buf, "%s|%s|%s|%s|%s|%s|%" PRId64 "|%" PRId64
		"|%s|%u|%d|%s|%d|%s|%s|%s\n", b->aor, b->key, b->id, b->uri,
		b->params ? b->params : "(null)",
		b->dname ? b->dname : "(null)", b->expires_at,
		b->registered_at, b->callid, b->cseq, b->q,
		b->instance ? b->instance : "(null)", b->reg_id,
		b->path ? b->path : "(null)",
		b->user_agent ? b->user_agent : "(null)",
		b->received ? b->received : "(null)");
	return 0;
}

static int nbindings(struct hr_store *s)
{
	struct hr_buf buf;
	int n = 0;

	hr_buf_init(&buf, 1 << 24);
	ck_assert_int_eq(hr_store_bindings_load(s, collect_h, &buf), 0);
	for (size_t i = 0; i < buf.len; i++)
		n += buf.b[i] == '\n';
	hr_buf_reset(&buf);
	return n;
}

static void sub_fill(struct hr_store_sub *u, const char *id)
{
	memset(u, 0, sizeof(*u));
	u->id = id;
	u->package = "reg";
	u->event_id = "e1";
	u->resource = "sip:alice@example.test";
	u->watcher = "sip:bob@example.test";
	u->watcher_user = "bob@example.test";
	u->state = HR_SUB_ACTIVE;
	u->expires_at = 1700003600;
	u->accept = "application/reginfo+xml";
	u->callid = "sub-1@pc";
	u->local_tag = "lt";
	u->remote_tag = "rt";
	u->local_uri = "sip:alice@example.test";
	u->remote_uri = "sip:bob@example.test";
	u->remote_target = "sip:bob@192.0.2.9:5070;transport=tcp";
	u->route_set = "<sip:p1.example.test;lr>,<sip:p2.example.test;lr>";
	u->remote_cseq = 7;
	u->cseq_reserved = 100;
	u->version_reserved = 50;
	u->transport = "tcp";
	u->received = "tcp:192.0.2.9:40000";
	u->instance = "<urn:uuid:1>";
	u->local_contact = "<sip:192.0.2.1:5060;transport=tcp>";
}

static int sub_collect(const struct hr_store_sub *u, void *arg)
{
	struct hr_buf *buf = arg;

#define S(x) ((x) ? (x) : "(null)")
	hr_buf_printf(buf, "%s|%s|%s|%s|%s|%s|%s|%s|%" PRId64 "|%s|%s|%s|%s|"
		"%s|%s|%s|%s|%" PRId64 "|%" PRId64 "|%" PRId64 "|%s|%s|%s|%s|%u\n",
		u->id, u->package, S(u->event_id), u->resource, u->watcher,
		S(u->watcher_user), hr_sub_state_name(u->state), S(u->reason),
		u->expires_at,
		S(u->accept), u->callid, u->local_tag, u->remote_tag,
		u->local_uri, u->remote_uri, u->remote_target, S(u->route_set),
		u->remote_cseq, u->cseq_reserved, u->version_reserved,
		u->transport, S(u->received), S(u->instance),
		S(u->local_contact), u->owner_epoch);
#undef S
	return 0;
}

static void sub_commit(struct hr_store_tx *tx, struct done *d)
{
	d->want = d->n + 1;
	d->flag = 0;
	ck_assert_int_eq(hr_store_tx_commit(tx, done_h, d), 0);
	ck_assert(run_until(&d->flag, 5000));
	ck_assert_int_eq(d->err[d->n - 1], 0);
}

/* ---- tests ---- */

START_TEST(test_subscriptions)
{
	static struct done d;
	struct hr_store_sub u;
	struct hr_store_tx *tx;
	struct hr_buf buf;

	sub_fill(&u, "s1");
	ck_assert_int_eq(hr_store_tx_alloc(&tx, store), 0);
	ck_assert_int_eq(hr_store_tx_sub_put(tx, &u), 0);
	sub_fill(&u, "s2");
	u.event_id = u.watcher_user = u.route_set = u.received = NULL;
	u.instance = u.accept = u.local_contact = NULL;
	u.state = HR_SUB_PENDING;
	u.reason = "timeout";
	ck_assert_int_eq(hr_store_tx_sub_put(tx, &u), 0);
	sub_commit(tx, &d);
	/* every field comes back as it went in */
	hr_buf_init(&buf, 1 << 20);
	ck_assert_int_eq(hr_store_subs_load(store, sub_collect, &buf), 0);
	ck_assert_int_eq(hr_buf_write(&buf, "", 1), 0);
	ck_assert_str_eq(buf.b,
		"s1|reg|e1|sip:alice@example.test|sip:bob@example.test|"
		"bob@example.test|active|(null)|1700003600|"
		"application/reginfo+xml|sub-1@pc|lt|rt|sip:alice@example.test|"
		"sip:bob@example.test|sip:bob@192.0.2.9:5070;transport=tcp|"
		"<sip:p1.example.test;lr>,<sip:p2.example.test;lr>|7|100|50|tcp|"
		"tcp:192.0.2.9:40000|<urn:uuid:1>|"
		"<sip:192.0.2.1:5060;transport=tcp>|0\n"
		"s2|reg|(null)|sip:alice@example.test|sip:bob@example.test|"
		"(null)|pending|timeout|1700003600|(null)|sub-1@pc|lt|rt|"
		"sip:alice@example.test|sip:bob@example.test|"
		"sip:bob@192.0.2.9:5070;transport=tcp|(null)|7|100|50|tcp|"
		"(null)|(null)|(null)|0\n");
	hr_buf_reset(&buf);
	/* the reserved marks move forward only: a reserve, then a put with
	 * lower marks (a refresh built from old state) */
	ck_assert_int_eq(hr_store_tx_alloc(&tx, store), 0);
	ck_assert_int_eq(hr_store_tx_sub_reserve(tx, "s1", 0, 200, 80), 0);
	ck_assert_int_eq(hr_store_tx_sub_reserve(tx, "s1", 0, 150, 60), 0);
	sub_fill(&u, "s1");
	u.remote_cseq = 8;
	ck_assert_int_eq(hr_store_tx_sub_put(tx, &u), 0);
	ck_assert_int_eq(hr_store_tx_sub_del(tx, "s2", 0), 0);
	ck_assert_int_eq(hr_store_tx_sub_del(tx, "nosuch", 0), 0);
	sub_commit(tx, &d);
	ck_assert_int_eq(pgdb_count(db.url, "SELECT cseq_reserved FROM "
		"subscriptions WHERE id = 's1'"), 200);
	ck_assert_int_eq(pgdb_count(db.url, "SELECT version_reserved FROM "
		"subscriptions WHERE id = 's1'"), 80);
	ck_assert_int_eq(pgdb_count(db.url, "SELECT remote_cseq FROM "
		"subscriptions WHERE id = 's1'"), 8);
	ck_assert_int_eq(pgdb_count(db.url, "SELECT count(*) FROM "
		"subscriptions"), 1);
	/* required fields */
	ck_assert_int_eq(hr_store_tx_alloc(&tx, store), 0);
	u.callid = NULL;
	ck_assert_int_eq(hr_store_tx_sub_put(tx, &u), EINVAL);
	ck_assert_int_eq(hr_store_tx_sub_del(tx, NULL, 0), EINVAL);
	hr_store_tx_abort(tx);
}
END_TEST

/* A commit's outcome. */
static int tx_wait(struct hr_store_tx *tx)
{
	struct done d = { .want = 1 };

	ck_assert_int_eq(hr_store_tx_commit(tx, done_h, &d), 0);
	ck_assert(run_until(&d.flag, 10000));
	return d.err[0];
}

static int reserve_wait(uint32_t epoch, int64_t cseq)
{
	struct hr_store_tx *tx;

	ck_assert_int_eq(hr_store_tx_alloc(&tx, store), 0);
	ck_assert_int_eq(hr_store_tx_sub_reserve(tx, "s1", epoch, cseq,
		cseq), 0);
	return tx_wait(tx);
}

/* Issue 21: a subscription's writes carry its owner epoch; once the row
 * has moved to another (a move to another node), a reservation and an
 * update fail ESTALE and a delete does nothing. */
START_TEST(test_owner_epoch)
{
	struct hr_store_sub u;
	struct hr_store_tx *tx;

	sub_fill(&u, "s1");
	ck_assert_int_eq(hr_store_tx_alloc(&tx, store), 0);
	ck_assert_int_eq(hr_store_tx_sub_put(tx, &u), 0);
	ck_assert_int_eq(tx_wait(tx), 0);
	ck_assert_int_eq(reserve_wait(0, 110), 0);
	pgdb_exec(db.url, "UPDATE subscriptions SET owner_epoch = 1");
	ck_assert_int_eq(reserve_wait(0, 120), ESTALE);
	ck_assert_int_eq(pgdb_count(db.url, "SELECT cseq_reserved FROM "
		"subscriptions"), 110);
	u.remote_cseq = 9;
	ck_assert_int_eq(hr_store_tx_alloc(&tx, store), 0);
	ck_assert_int_eq(hr_store_tx_sub_put(tx, &u), 0);
	ck_assert_int_eq(tx_wait(tx), ESTALE);
	ck_assert_int_eq(hr_store_tx_alloc(&tx, store), 0);
	ck_assert_int_eq(hr_store_tx_sub_del(tx, "s1", 0), 0);
	ck_assert_int_eq(tx_wait(tx), 0);
	ck_assert_int_eq(pgdb_count(db.url, "SELECT remote_cseq FROM "
		"subscriptions"), 7);
	/* the new epoch's writes go in */
	ck_assert_int_eq(reserve_wait(1, 130), 0);
	u.owner_epoch = 1;
	ck_assert_int_eq(hr_store_tx_alloc(&tx, store), 0);
	ck_assert_int_eq(hr_store_tx_sub_put(tx, &u), 0);
	ck_assert_int_eq(tx_wait(tx), 0);
	ck_assert_int_eq(pgdb_count(db.url, "SELECT remote_cseq FROM "
		"subscriptions"), 9);
	ck_assert_int_eq(hr_store_tx_alloc(&tx, store), 0);
	ck_assert_int_eq(hr_store_tx_sub_del(tx, "s1", 1), 0);
	ck_assert_int_eq(tx_wait(tx), 0);
	ck_assert_int_eq(pgdb_count(db.url, "SELECT count(*) FROM "
		"subscriptions"), 0);
}
END_TEST

static int pub_collect(const struct hr_store_pub *u, void *arg)
{
	hr_buf_printf(arg, "%s|%s|%s|%s|%s|%" PRId64 "|%" PRId64 "\n", u->etag,
		u->presentity, u->event, u->ctype, u->body, u->expires_at,
		u->published_at);
	return 0;
}

static int rule_collect(const char *resource, const char *watcher,
	const char *action, void *arg)
{
	hr_buf_printf(arg, "%s|%s|%s\n", resource, watcher, action);
	return 0;
}

/* Publications and the rules of two packages: written, replaced,
 * removed, loaded in order per package; a rule's action is checked by
 * the database, per package. */
START_TEST(test_presence)
{
	static struct done d;
	struct hr_store_pub u = { "e1", "alice@example.test", "presence",
		"application/pidf+xml", "<presence/>", 1700003600, 2 };
	struct hr_store_tx *tx;
	struct hr_buf buf;

	ck_assert_int_eq(hr_store_tx_alloc(&tx, store), 0);
	ck_assert_int_eq(hr_store_tx_pub_put(tx, &u), 0);
	u.etag = "e0";
	u.published_at = 1;
	u.body = "<old/>";
	ck_assert_int_eq(hr_store_tx_pub_put(tx, &u), 0);
	u.etag = "e9";
	u.presentity = "bob@example.test";
	ck_assert_int_eq(hr_store_tx_pub_put(tx, &u), 0);
	ck_assert_int_eq(hr_store_tx_rule_put(tx, "presence",
		"alice@example.test", "bob@example.test", "confirm"), 0);
	ck_assert_int_eq(hr_store_tx_rule_put(tx, "presence",
		"alice@example.test", "example.test", "polite-block"), 0);
	ck_assert_int_eq(hr_store_tx_rule_put(tx, "reg",
		"alice@example.test", "bob@example.test", "block"), 0);
	sub_commit(tx, &d);
	/* a modification: the old entity-tag goes, a new one comes */
	ck_assert_int_eq(hr_store_tx_alloc(&tx, store), 0);
	ck_assert_int_eq(hr_store_tx_pub_del(tx, "e0"), 0);
	u.etag = "e2";
	u.presentity = "alice@example.test";
	u.published_at = 3;
	u.body = "<new/>";
	ck_assert_int_eq(hr_store_tx_pub_put(tx, &u), 0);
	ck_assert_int_eq(hr_store_tx_rule_put(tx, "presence",
		"alice@example.test", "bob@example.test", "allow"), 0);
	ck_assert_int_eq(hr_store_tx_rule_del(tx, "presence",
		"alice@example.test", "nobody@example.test"), 0);
	ck_assert_int_eq(hr_store_tx_rule_put(tx, "reg",
		"alice@example.test", "example.test", "allow"), 0);
	sub_commit(tx, &d);
	hr_buf_init(&buf, 1 << 16);
	ck_assert_int_eq(hr_store_pubs_load(store, pub_collect, &buf), 0);
	ck_assert_int_eq(hr_store_rules_load(store, "presence", rule_collect,
		&buf), 0);
	ck_assert_int_eq(hr_store_rules_load(store, "reg", rule_collect,
		&buf), 0);
	ck_assert_int_eq(hr_buf_write(&buf, "", 1), 0);
	ck_assert_str_eq(buf.b,
		"e1|alice@example.test|presence|application/pidf+xml|"
		"<presence/>|1700003600|2\n"
		"e2|alice@example.test|presence|application/pidf+xml|<new/>|"
		"1700003600|3\n"
		"e9|bob@example.test|presence|application/pidf+xml|<old/>|"
		"1700003600|1\n"
		"alice@example.test|bob@example.test|allow\n"
		"alice@example.test|example.test|polite-block\n"
		"alice@example.test|bob@example.test|block\n"
		"alice@example.test|example.test|allow\n");
	hr_buf_reset(&buf);
	/* an action the database does not know (for that package) fails
	 * that transaction */
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(hr_store_tx_alloc(&tx, store), 0);
		ck_assert_int_eq(hr_store_tx_rule_put(tx, i ? "reg" :
			"presence", "alice@example.test", "carol@example.test",
			i ? "confirm" : "maybe"), 0);
		d.want = d.n + 1;
		d.flag = 0;
		ck_assert_int_eq(hr_store_tx_commit(tx, done_h, &d), 0);
		ck_assert(run_until(&d.flag, 5000));
		ck_assert_int_eq(d.err[d.n - 1], EIO);
	}
	/* required fields */
	ck_assert_int_eq(hr_store_tx_alloc(&tx, store), 0);
	u.body = NULL;
	ck_assert_int_eq(hr_store_tx_pub_put(tx, &u), EINVAL);
	ck_assert_int_eq(hr_store_tx_pub_del(tx, NULL), EINVAL);
	ck_assert_int_eq(hr_store_tx_rule_put(tx, "reg", "a", "b", NULL),
		EINVAL);
	ck_assert_int_eq(hr_store_tx_rule_put(tx, NULL, "a", "b", "allow"),
		EINVAL);
	ck_assert_int_eq(hr_store_tx_rule_del(tx, "reg", NULL, "b"), EINVAL);
	hr_store_tx_abort(tx);
}
END_TEST

START_TEST(test_migrate_twice)
{
	unsigned n = 99;

	ck_assert_int_eq(hr_store_migrate(db.url, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(pgdb_count(db.url, "SELECT count(*) FROM "
		"schema_migrations"), (int)hr_migrations_n);
	ck_assert_int_eq(hr_store_migrate("host=/nonexistent port=1", &n),
		ECONNREFUSED);
}
END_TEST

START_TEST(test_alloc_refused)
{
	struct hr_store_cfg cfg;
	struct hr_store *s = NULL;

	hr_store_cfg_default(&cfg);
	cfg.url = "postgresql://postgres@127.0.0.1:1/herald";
	ck_assert_int_eq(hr_store_alloc(&s, &cfg), ECONNREFUSED);
	ck_assert_ptr_null(s);
}
END_TEST

START_TEST(test_bindings_roundtrip)
{
	struct hr_store_binding a, b;
	struct hr_store_tx *tx;
	struct done d = { .want = 1 };
	struct hr_buf buf;
	const char *want;

	binding_fill(&a, "alice@example.test", "<urn:uuid:f81d>;1");
	a.params = "+sip.ice;expires=3600";
	a.dname = "Alice \"A\" Smith";
	a.q = 700;
	a.instance = "<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>";
	a.reg_id = 1;
	a.path = "<sip:p1.example.test;lr>,<sip:p2.example.test;lr>";
	a.user_agent = "baresip v2.0 \xc3\xa9";
	a.received = "udp:192.0.2.1:5060";
	binding_fill(&b, "alice@example.test", "sip:alice@192.0.2.2");
	b.id = "c2";
	b.cseq = UINT32_MAX;

	ck_assert_int_eq(hr_store_tx_alloc(&tx, store), 0);
	ck_assert_int_eq(hr_store_tx_binding_put(tx, &a), 0);
	ck_assert_int_eq(hr_store_tx_binding_put(tx, &b), 0);
	ck_assert_int_eq(hr_store_tx_commit(tx, done_h, &d), 0);
	ck_assert_uint_eq(hr_store_queue_depth(store), 1);
	ck_assert(run_until(&d.flag, 10000));
	ck_assert_int_eq(d.err[0], 0);
	ck_assert_uint_eq(hr_store_queue_depth(store), 0);

	hr_buf_init(&buf, 1 << 16);
	ck_assert_int_eq(hr_store_bindings_load(store, collect_h, &buf), 0);
	want = "alice@example.test|<urn:uuid:f81d>;1|c1|"
		"sip:alice@192.0.2.1:5060;transport=udp|+sip.ice;expires=3600|"
		"Alice \"A\" Smith|1700003600|1700000000|a84b4c76e66710@pc33|"
		"314159|700|<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>|1|"
		"<sip:p1.example.test;lr>,<sip:p2.example.test;lr>|"
		"baresip v2.0 \xc3\xa9|udp:192.0.2.1:5060\n"
		"alice@example.test|sip:alice@192.0.2.2|c2|"
		"sip:alice@192.0.2.1:5060;transport=udp|(null)|(null)|"
		"1700003600|1700000000|a84b4c76e66710@pc33|4294967295|-1|"
		"(null)|-1|(null)|(null)|(null)\n";
	ck_assert_uint_eq(buf.len, strlen(want));
	ck_assert(!memcmp(buf.b, want, buf.len));
	hr_buf_reset(&buf);

	/* refresh one (upsert), remove the other, remove an absent one */
	a.expires_at = 1700007200;
	a.cseq = 314160;
	d.flag = 0;
	d.want = 2;
	ck_assert_int_eq(hr_store_tx_alloc(&tx, store), 0);
	ck_assert_int_eq(hr_store_tx_binding_put(tx, &a), 0);
	ck_assert_int_eq(hr_store_tx_binding_del(tx, b.aor, b.key), 0);
	ck_assert_int_eq(hr_store_tx_binding_del(tx, "nobody@x", "k"), 0);
	ck_assert_int_eq(hr_store_tx_commit(tx, done_h, &d), 0);
	ck_assert_int_eq(hr_store_tx_alloc(&tx, store), 0);
	ck_assert_int_eq(hr_store_tx_commit(tx, done_h, &d), 0);  /* empty */
	ck_assert(run_until(&d.flag, 10000));
	ck_assert_int_eq(d.err[1], 0);
	ck_assert_int_eq(d.err[2], 0);
	hr_buf_init(&buf, 1 << 16);
	ck_assert_int_eq(hr_store_bindings_load(store, collect_h, &buf), 0);
	ck_assert_int_eq(hr_buf_write(&buf, "", 1), 0);  /* NUL */
	ck_assert_ptr_nonnull(strstr(buf.b, "|1700007200|1700000000|"
		"a84b4c76e66710@pc33|314160|700|"));
	ck_assert_ptr_null(strstr(buf.b, "sip:alice@192.0.2.2"));
	hr_buf_reset(&buf);
	ck_assert_int_eq(hr_store_tx_alloc(&tx, store), 0);
	ck_assert_int_eq(hr_store_tx_binding_put(tx, &b), 0);
	hr_store_tx_abort(tx);  /* never committed */
	hr_store_tx_abort(NULL);
	ck_assert_int_eq(hr_store_tx_binding_put(NULL, &a), EINVAL);
	ck_assert_int_eq(hr_store_tx_commit(NULL, done_h, &d), EINVAL);
}
END_TEST

/* One binding put in its own commit: its outcome. */
static int put_wait(const struct hr_store_binding *b)
{
	struct done d = { .want = 1 };

	ck_assert_int_eq(put_one(store, b, &d), 0);
	ck_assert(run_until(&d.flag, 10000));
	return d.err[0];
}

/* RFC 3261 10.3 step 7 in the database (issue 21: two nodes may take
 * REGISTERs of one binding): the same Call-ID needs a higher CSeq. */
START_TEST(test_binding_order)
{
	struct hr_store_binding b;

	binding_fill(&b, "alice@example.test", "sip:alice@192.0.2.1");
	b.cseq = 10;
	ck_assert_int_eq(put_wait(&b), 0);
	b.cseq = 10;
	ck_assert_int_eq(put_wait(&b), ESTALE);
	b.cseq = 9;
	ck_assert_int_eq(put_wait(&b), ESTALE);
	b.cseq = 11;
	ck_assert_int_eq(put_wait(&b), 0);
	/* another Call-ID: a new registration, whatever its CSeq */
	b.callid = "other@pc34";
	b.cseq = 1;
	ck_assert_int_eq(put_wait(&b), 0);
}
END_TEST

START_TEST(test_group_commit)
{
	static struct done d;
	struct hr_store_binding b;
	struct hr_store_stats st;
	char aor[64];
	int ntx = 3000;

	memset(&d, 0, sizeof(d));
	d.want = ntx;
	for (int i = 0; i < ntx; i++) {
		snprintf(aor, sizeof(aor), "user%d@example.test", i);
		binding_fill(&b, aor, "k");
		ck_assert_int_eq(put_one(store, &b, &d), 0);
		if (i % 100 == 0)
			hr_loop_once();
	}
	ck_assert(run_until(&d.flag, 60000));
	for (int i = 0; i < ntx; i++)
		ck_assert_int_eq(d.err[i], 0);
	hr_store_stats(store, &st);
	ck_assert_uint_eq(st.txs, (uint64_t)ntx);
	ck_assert_uint_gt(st.max_batch, 1);
	ck_assert_uint_le(st.max_batch, 500);
	ck_assert_uint_lt(st.commits, (uint64_t)ntx);
	ck_assert_int_eq(nbindings(store), ntx);
	ck_assert_uint_eq(hr_store_queue_depth(store), 0);
}
END_TEST

START_TEST(test_queue_full)
{
	struct hr_store *s = store_new(5, 0, 0);
	struct hr_store_binding b;
	struct hr_store_tx *tx;
	struct done d = { .want = 5 };

	binding_fill(&b, "bob@example.test", "k");
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(put_one(s, &b, &d), 0);
	/* nothing delivered until the loop runs: the queue stays full */
	ck_assert_uint_eq(hr_store_queue_depth(s), 5);
	ck_assert_int_eq(put_one(s, &b, &d), ENOSPC);
	ck_assert_int_eq(hr_store_tx_alloc(&tx, s), 0);
	ck_assert_int_eq(hr_store_tx_commit(tx, done_h, &d), ENOSPC);
	ck_assert(run_until(&d.flag, 10000));
	ck_assert_int_eq(d.n, 5);
	ck_assert_uint_eq(hr_store_queue_depth(s), 0);
	ck_assert_int_eq(put_one(s, &b, &d), 0);
	d.want = 6;
	d.flag = 0;
	ck_assert(run_until(&d.flag, 10000));
	hr_mem_deref(s);
}
END_TEST

START_TEST(test_destroy_drains)
{
	static struct done d;
	struct hr_store *s = store_new(0, 0, 0);
	struct hr_store_binding b;
	char aor[64];

	memset(&d, 0, sizeof(d));
	d.want = 300;
	for (int i = 0; i < 300; i++) {
		snprintf(aor, sizeof(aor), "drain%d@example.test", i);
		binding_fill(&b, aor, "k");
		ck_assert_int_eq(put_one(s, &b, &d), 0);
	}
	/* the destructor commits what is queued and runs every done */
	hr_mem_deref(s);
	ck_assert_int_eq(d.n, 300);
	for (int i = 0; i < 300; i++)
		ck_assert_int_eq(d.err[i], 0);
	ck_assert_int_eq(pgdb_count(db.url, "SELECT count(*) FROM bindings"),
		300);
}
END_TEST

START_TEST(test_failing_statement)
{
	static struct done d;
	struct hr_store_binding b;
	struct hr_store_stats st;
	char aor[64];
	int ntx = 200, bad = 120;

	memset(&d, 0, sizeof(d));
	d.want = ntx;
	for (int i = 0; i < ntx; i++) {
		snprintf(aor, sizeof(aor), "user%d@example.test", i);
		binding_fill(&b, aor, "k");
		if (i == bad)  /* to_timestamp(): timestamp out of range */
			b.expires_at = INT64_MAX;
		ck_assert_int_eq(put_one(store, &b, &d), 0);
	}
	ck_assert(run_until(&d.flag, 30000));
	for (int i = 0; i < ntx; i++)
		ck_assert_int_eq(d.err[i], i == bad ? EIO : 0);
	hr_store_stats(store, &st);
	ck_assert_uint_eq(st.failed, 1);
	ck_assert_uint_eq(st.txs, (uint64_t)ntx - 1);
	ck_assert_int_eq(nbindings(store), ntx - 1);
}
END_TEST

START_TEST(test_secret)
{
	uint8_t a[32], b[32], c[32], z[32] = { 0 };
	struct hr_store *s2 = store_new(0, 0, 0);

	ck_assert_int_eq(hr_store_secret(store, "nonce", a, sizeof(a)), 0);
	ck_assert(memcmp(a, z, sizeof(a)));
	ck_assert_int_eq(hr_store_secret(store, "nonce", b, sizeof(b)), 0);
	ck_assert(!memcmp(a, b, sizeof(a)));
	ck_assert_int_eq(hr_store_secret(s2, "nonce", b, sizeof(b)), 0);
	ck_assert(!memcmp(a, b, sizeof(a)));
	ck_assert_int_eq(hr_store_secret(s2, "other", c, sizeof(c)), 0);
	ck_assert(memcmp(a, c, sizeof(a)));
	ck_assert_int_eq(hr_store_secret(s2, "nonce", c, 16), EINVAL);
	ck_assert_int_eq(pgdb_count(db.url, "SELECT count(*) FROM "
		"server_secrets"), 2);
	hr_mem_deref(s2);
}
END_TEST

struct users {
	int n;
	char line[8][160];
	int flag;
};

static int user_h(const struct hr_store_user *u, void *arg)
{
	struct users *us = arg;

	if (us->n < 8)
		snprintf(us->line[us->n], sizeof(us->line[0]),
			"%s@%s %s %s %s", u->user, u->domain,
			u->ha1_md5 ? u->ha1_md5 : "-",
			u->ha1_sha256 ? u->ha1_sha256 : "-",
			u->role ? u->role : "-");
	us->n++;
	us->flag = 1;
	return 0;
}

START_TEST(test_users)
{
	struct hr_store_user u1 = { "alice", "b.test", "m1", "s1",
		HR_USER_CHANGED, NULL };
	struct hr_store_user u2 = { "bob", "a.test", "m2", "s2",
		HR_USER_CHANGED, "monitor" };
	struct hr_store_user u3 = { "carol", "b.test", "m3", "s3",
		HR_USER_CHANGED, NULL };
	struct hr_store_user up = { "bob", "a.test", NULL, NULL,
		HR_USER_CHANGED, NULL };
	struct users list = { 0 }, ev = { 0 }, load = { 0 };
	char role[HR_STORE_ROLE_MAX];
	bool created = false;

	hr_store_set_user_handler(store, user_h, &ev);
	ck_assert_int_eq(hr_store_user_put(db.url, &u1, &created,
		role), 0);
	ck_assert(created);
	ck_assert(run_until(&ev.flag, 10000));
	ck_assert_str_eq(ev.line[0], "alice@b.test m1 s1 user");
	ck_assert_int_eq(hr_store_user_put(db.url, &u2, NULL, role), 0);
	ck_assert_str_eq(role, "monitor");
	ck_assert_int_eq(hr_store_user_put(db.url, &u3, NULL, NULL), 0);
	u1.ha1_md5 = "m1b";
	ck_assert_int_eq(hr_store_user_put(db.url, &u1, &created,
		role), 0);
	ck_assert(!created);  /* replaced */
	ck_assert_int_eq(hr_store_user_list(db.url, user_h, &list), 0);
	ck_assert_int_eq(list.n, 3);
	ck_assert_str_eq(list.line[0], "bob@a.test m2 s2 monitor");
	ck_assert_str_eq(list.line[1], "alice@b.test m1b s1 user");
	ck_assert_str_eq(list.line[2], "carol@b.test m3 s3 user");
	ck_assert_int_eq(hr_store_users_load(store, user_h, &load), 0);
	ck_assert_int_eq(load.n, 3);
	for (int i = 0; i < 10000 && ev.n < 4; i++) {
		hr_loop_once();
		usleep(1000);
	}
	ck_assert_int_eq(ev.n, 4);
	ck_assert_str_eq(ev.line[1], "bob@a.test m2 s2 monitor");
	ck_assert_str_eq(ev.line[2], "carol@b.test m3 s3 user");
	/* the row is read when the notification arrives: the latest one */
	ck_assert_str_eq(ev.line[3], "alice@b.test m1b s1 user");

	ck_assert_int_eq(hr_store_user_del(db.url, "carol", "b.test"), 0);
	ck_assert_int_eq(hr_store_user_del(db.url, "carol", "b.test"),
		ENOENT);
	for (int i = 0; i < 10000 && ev.n < 5; i++) {
		hr_loop_once();
		usleep(1000);
	}
	ck_assert_int_eq(ev.n, 5);
	ck_assert_str_eq(ev.line[4], "carol@b.test - - -");
	/* an update changes what it names: the role, keeping the HA1s */
	up.role = "user";
	ck_assert_int_eq(hr_store_user_update(db.url, &up, role), 0);
	for (int i = 0; i < 10000 && ev.n < 6; i++) {
		hr_loop_once();
		usleep(1000);
	}
	ck_assert_int_eq(ev.n, 6);
	ck_assert_str_eq(ev.line[5], "bob@a.test m2 s2 user");
	ck_assert_str_eq(role, "user");
	/* a put without a role keeps the one there */
	up.role = "monitor";
	ck_assert_int_eq(hr_store_user_update(db.url, &up, role), 0);
	u2.role = NULL;
	u2.ha1_md5 = "m2b";
	ck_assert_int_eq(hr_store_user_put(db.url, &u2, NULL, role), 0);
	ck_assert_str_eq(role, "monitor");
	list.n = 0;
	ck_assert_int_eq(hr_store_user_list(db.url, user_h, &list), 0);
	ck_assert_str_eq(list.line[0], "bob@a.test m2b s2 monitor");
	/* the database knows the roles; an update of nobody is ENOENT */
	up.role = "admin";
	ck_assert_int_eq(hr_store_user_update(db.url, &up, role), EIO);
	up.role = "user";
	up.user = "nobody";
	ck_assert_int_eq(hr_store_user_update(db.url, &up, role), ENOENT);
	up.ha1_md5 = "m";    /* both HA1s or neither */
	ck_assert_int_eq(hr_store_user_update(db.url, &up, role), EINVAL);
	ck_assert_int_eq(hr_store_user_list("host=/nonexistent", user_h,
		&list), ECONNREFUSED);
	/* notifications still on their way must not reach ev after this */
	hr_store_set_user_handler(store, NULL, NULL);
}
END_TEST

/* ---- PostgreSQL goes away and comes back (a cluster of our own) ---- */


static void pg(const char *cmd, char *url, size_t size)
{
	char line[1024];
	FILE *f;

	snprintf(line, sizeof(line), "'%s' %s '%s'", pg_script, cmd, pg_dir);
	f = popen(line, "r");
	ck_assert_ptr_nonnull(f);
	if (url) {
		ck_assert_ptr_nonnull(fgets(url, (int)size, f));
		url[strcspn(url, "\n")] = '\0';
	}
	while (fgets(line, sizeof(line), f))
		;  /* read all: the script must not get SIGPIPE */
	ck_assert_int_eq(pclose(f), 0);
}

START_TEST(test_outage)
{
	struct hr_store_binding b;
	struct hr_store *s;
	struct hr_store_stats st;
	struct done d = { 0 };
	char url[256];
	const char *script = getenv("HERALD_TEST_PG_SCRIPT");
	uint64_t t0;
	unsigned n;

	snprintf(pg_script, sizeof(pg_script), "%s",
		script ? script : HR_SOURCE_DIR "/script/pg");
	snprintf(pg_dir, sizeof(pg_dir), "/tmp/herald-test-pg-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(pg_dir));
	pg("start", url, sizeof(url));
	ck_assert_int_eq(hr_store_migrate(url, &n), 0);
	/* the fixture's store is on the shared cluster; this one is ours */
	s = NULL;
	{
		struct hr_store_cfg cfg;

		hr_store_cfg_default(&cfg);
		cfg.url = url;
		cfg.wait_ms = 1500;
		ck_assert_int_eq(hr_store_alloc(&s, &cfg), 0);
	}

	binding_fill(&b, "acked@example.test", "k");
	d.want = 1;
	ck_assert_int_eq(put_one(s, &b, &d), 0);
	ck_assert(run_until(&d.flag, 10000));
	ck_assert_int_eq(d.err[0], 0);

	/* away: the write waits wait_ms, then ETIMEDOUT */
	pg("stop", NULL, 0);
	binding_fill(&b, "timedout@example.test", "k");
	d.want = 2;
	d.flag = 0;
	t0 = hr_now_ms();
	ck_assert_int_eq(put_one(s, &b, &d), 0);
	ck_assert(run_until(&d.flag, 10000));
	ck_assert_int_eq(d.err[1], ETIMEDOUT);
	ck_assert_uint_ge(hr_now_ms() - t0, 1400);
	ck_assert_uint_eq(hr_store_queue_depth(s), 0);

	/* queued while away, PostgreSQL back within wait_ms: committed */
	binding_fill(&b, "waited@example.test", "k");
	d.want = 3;
	d.flag = 0;
	ck_assert_int_eq(put_one(s, &b, &d), 0);
	pg("start", NULL, 0);
	binding_fill(&b, "after@example.test", "k");
	ck_assert_int_eq(put_one(s, &b, &d), 0);
	d.want = 4;
	ck_assert(run_until(&d.flag, 10000));
	ck_assert_int_eq(d.err[2], 0);
	ck_assert_int_eq(d.err[3], 0);

	hr_store_stats(s, &st);
	ck_assert_uint_eq(st.outages, 1);
	ck_assert_uint_eq(st.timedout, 1);
	/* nothing acknowledged lost; the timed-out one never committed */
	ck_assert_int_eq(pgdb_count(url, "SELECT count(*) FROM bindings WHERE "
		"aor IN ('acked@example.test', 'waited@example.test', "
		"'after@example.test')"), 3);
	ck_assert_int_eq(pgdb_count(url, "SELECT count(*) FROM bindings"), 3);
	hr_mem_deref(s);
}
END_TEST

/* ---- the audit log, on a reader ---- */

struct audit_seen {
	int64_t ids[8];
	char tokens[8][16];
	unsigned n;
};

static int audit_one(const struct hr_store_audit *a, void *arg)
{
	struct audit_seen *seen = arg;

	ck_assert_uint_lt(seen->n, 8);
	seen->ids[seen->n] = a->id;
	snprintf(seen->tokens[seen->n], sizeof(seen->tokens[0]), "%s",
		a->token);
	seen->n++;
	return 0;
}

static struct audit_seen audit_page(struct hr_store_reader *r,
	const struct hr_store_audit_filter *f)
{
	struct audit_seen seen = { 0 };

	ck_assert_int_eq(hr_store_audit_page(r, f, audit_one, &seen), 0);
	return seen;
}

static int audit_exact(const struct hr_store_audit *a, void *arg)
{
	const struct hr_store_audit *want = arg;

	ck_assert_int_eq(a->at_us, want->at_us);
	ck_assert_str_eq(a->method, want->method);
	ck_assert_str_eq(a->path, want->path);
	ck_assert_str_eq(a->query, want->query);
	ck_assert_ptr_null(a->body);
	ck_assert_uint_eq(a->status, want->status);
	ck_assert_str_eq(a->detail, want->detail);
	return 0;
}

START_TEST(test_audit)
{
	/* 2024-05-01T12:00:00.123456Z, then one second apart */
	const int64_t t0 = INT64_C(1714564800123456);
	struct hr_store_reader *r = NULL;
	struct hr_store_audit a = { .method = "PUT", .path = "/v1/a%b",
		.query = "{\"reason\": \"rejected\"}", .status = 404,
		.detail = "no such subscription" };
	struct hr_store_audit_filter f = { .limit = 10 };
	struct audit_seen seen;

	ck_assert_int_eq(hr_store_reader_alloc(&r, db.url), 0);
	for (unsigned i = 0; i < 5; i++) {
		a.at_us = t0 + i * INT64_C(1000000);
		a.token = i % 2 ? "ci" : "ops";
		ck_assert_int_eq(hr_store_audit_add(r, &a), 0);
	}
	/* newest first */
	seen = audit_page(r, &f);
	ck_assert_uint_eq(seen.n, 5);
	for (unsigned i = 1; i < 5; i++)
		ck_assert_int_lt(seen.ids[i], seen.ids[i - 1]);
	/* the times come back to the microsecond */
	f.limit = 1;
	f.before = seen.ids[4] + 1;
	a.at_us = t0;
	ck_assert_int_eq(hr_store_audit_page(r, &f, audit_exact, &a), 0);
	/* the cursor: ids below it */
	f = (struct hr_store_audit_filter){ .limit = 10,
		.before = seen.ids[1] };
	ck_assert_uint_eq(audit_page(r, &f).n, 3);
	/* by token, since (at or after), and a path prefix taken as text */
	f = (struct hr_store_audit_filter){ .limit = 10, .token = "ci" };
	seen = audit_page(r, &f);
	ck_assert_uint_eq(seen.n, 2);
	ck_assert_str_eq(seen.tokens[0], "ci");
	f = (struct hr_store_audit_filter){ .limit = 10,
		.since_us = t0 + 3000000 };
	ck_assert_uint_eq(audit_page(r, &f).n, 2);
	f.since_us = t0 + 3000001;
	ck_assert_uint_eq(audit_page(r, &f).n, 1);
	f = (struct hr_store_audit_filter){ .limit = 10, .path = "/v1/a%" };
	ck_assert_uint_eq(audit_page(r, &f).n, 5);
	f.path = "/v1/%";
	ck_assert_uint_eq(audit_page(r, &f).n, 0);
	f.path = "/v1/a_b";
	ck_assert_uint_eq(audit_page(r, &f).n, 0);
	/* the body is JSON: not JSON is refused by PostgreSQL */
	a.body = "{not json";
	ck_assert_int_eq(hr_store_audit_add(r, &a), EIO);
	a.token = NULL;
	ck_assert_int_eq(hr_store_audit_add(r, &a), EINVAL);
	ck_assert_int_eq(pgdb_count(db.url, "SELECT count(*) FROM "
		"audit_log"), 5);
	hr_mem_deref(r);
}
END_TEST

static Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("pg");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_migrate_twice);
	tcase_add_test(tc, test_alloc_refused);
	tcase_add_test(tc, test_bindings_roundtrip);
	tcase_add_test(tc, test_subscriptions);
	tcase_add_test(tc, test_owner_epoch);
	tcase_add_test(tc, test_presence);
	tcase_add_test(tc, test_binding_order);
	tcase_add_test(tc, test_group_commit);
	tcase_add_test(tc, test_queue_full);
	tcase_add_test(tc, test_destroy_drains);
	tcase_add_test(tc, test_failing_statement);
	tcase_add_test(tc, test_secret);
	tcase_add_test(tc, test_users);
	tcase_add_test(tc, test_outage);
	tcase_add_test(tc, test_audit);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pgdb_main(store_suite);
}
