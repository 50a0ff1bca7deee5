/*
 * server/packages/publish.c with two packages fed by PUBLISH on one sip
 * (RFC 3903 4: a PUBLISH carries one event): each gets the PUBLISHes of
 * its own event, an event neither serves gets 489 listing both, and each
 * loads its own stored publications, leaving the other's alone. Requests
 * go through a socketless SIP stack into a real store (PostgreSQL from
 * HERALD_TEST_DATABASE_URL; skipped without one).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "packages/publish.h"
#include "pgdb.h"
#include "events/evfix.h"
#include "sip/sipcap.h"

#define MD5 "0123456789abcdef0123456789abcdef"
#define ALICE "alice@example.test"

/* A package whose documents are their text, counting its changes. */
struct fake {
	const char *event;
	struct hr_publish *pub;
	unsigned changed;
};

static struct pgdb db;
static struct hr_store *store;
static struct hr_userdb *users;
static struct hr_sip *sip;
static struct hr_realm *realm;
static struct fake fa = { "test-a", NULL, 0 }, fb = { "test-b", NULL, 0 };

static int text_load(void **docp, const char *body, const char **why)
{
	(void)why;
	*docp = hr_pl_strdup(&(struct hr_pl){ body, strlen(body) });
	return *docp ? 0 : ENOMEM;
}

static bool text_parse(struct hr_verdict *v, const struct hr_pl *body,
	const char *resource, void **docp, void *arg)
{
	(void)resource;
	(void)arg;
	*docp = hr_pl_strdup(body);
	return *docp || hr_verdict_fail(v, ENOMEM, "test: a document");
}

static void text_changed(const char *resource, void *arg)
{
	struct fake *f = arg;

	(void)resource;
	f->changed++;
}

static void fake_open(struct fake *f)
{
	struct hr_pubpkg pkg = { .event = f->event, .ctype = "text/plain",
		.expires_default = 3600, .expires_min = 60,
		.expires_max = 7200, .max_body = 1024, .max_pubs = 4,
		.parse = text_parse, .load = text_load,
		.changed = text_changed, .arg = f };

	ck_assert_int_eq(hr_publish_alloc(&f->pub, store, realm, &pkg), 0);
	ck_assert_int_eq(hr_publish_load(f->pub), 0);
	hr_publish_serve(f->pub, sip);
}

/* sip and both packages on it (the store is there) */
static void packages_open(void)
{
	sip = cap_sip(3000, true);
	fa.changed = fb.changed = 0;
	fake_open(&fa);
	fake_open(&fb);
}

static void packages_close(void)
{
	/* the store first: it delivers what is in flight */
	store = hr_mem_deref(store);
	fa.pub = hr_mem_deref(fa.pub);
	fb.pub = hr_mem_deref(fb.pub);
	sip = hr_mem_deref(sip);
}

static void setup(void)
{
	struct hr_realm_cfg rl = evfix_realm();

	store = pgdb_open(&db, "tpub_");
	ck_assert_int_eq(hr_userdb_alloc(&users), 0);
	ck_assert_int_eq(hr_userdb_put(users, "alice", "example.test", MD5,
		MD5 MD5), 0);
	rl.existsh = hr_userdb_exists;
	rl.users = users;
	ck_assert_int_eq(hr_realm_alloc(&realm, &rl), 0);
	packages_open();
}

static void teardown(void)
{
	cap_clear();
	packages_close();
	realm = hr_mem_deref(realm);
	users = hr_mem_deref(users);
	pgdb_close(&db);
}

/* alice PUBLISHes event with body: the response. */
static const char *publish(const char *event, const char *b)
{
	static unsigned k;
	char m[1024];

	k++;
	snprintf(m, sizeof(m), "PUBLISH sip:" ALICE " SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKpub%u\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:" ALICE ">;tag=t%u\r\n"
		"To: <sip:" ALICE ">\r\nCall-ID: pub%u\r\nCSeq: 1 PUBLISH\r\n"
		"Event: %s\r\nContent-Type: text/plain\r\nExpires: 600\r\n"
		"Content-Length: %zu\r\n\r\n%s", k, k, k, event, strlen(b), b);
	cap_recv(m);
	pgdb_drain(store, 3000);
	hr_loop_once();
	return next_resp();
}

START_TEST(test_each_its_event)
{
	ck_assert_uint_eq(status(publish("test-b", "b1")), 200);
	ck_assert_uint_eq(fb.changed, 1);
	ck_assert_uint_eq(fa.changed, 0);
	ck_assert_uint_eq(hr_publish_count(fb.pub, ALICE), 1);
	ck_assert_uint_eq(hr_publish_count(fa.pub, ALICE), 0);
	ck_assert_uint_eq(status(publish("test-a", "a1")), 200);
	ck_assert_uint_eq(fa.changed, 1);
	ck_assert_uint_eq(fb.changed, 1);
	ck_assert_uint_eq(hr_publish_count(fa.pub, ALICE), 1);
}
END_TEST

START_TEST(test_neither_event)
{
	const char *r = publish("presence", "x");
	char v[128];

	ck_assert_uint_eq(status(r), 489);
	ck_assert_str_eq(hdr(r, "Allow-Events", v, sizeof(v)),
		"test-a, test-b");
	ck_assert_uint_eq(fa.changed + fb.changed, 0);
}
END_TEST

/* The first package served goes: the other takes the route. */
START_TEST(test_first_goes)
{
	const char *r;
	char v[128];

	fa.pub = hr_mem_deref(fa.pub);
	ck_assert_uint_eq(status(publish("test-b", "b1")), 200);
	ck_assert_uint_eq(fb.changed, 1);
	r = publish("test-a", "a1");
	ck_assert_uint_eq(status(r), 489);
	ck_assert_str_eq(hdr(r, "Allow-Events", v, sizeof(v)), "test-b");
}
END_TEST

/* After a restart each package has its own back; none was removed. */
START_TEST(test_load_own)
{
	struct hr_store_cfg scfg;

	ck_assert_uint_eq(status(publish("test-a", "a1")), 200);
	ck_assert_uint_eq(status(publish("test-b", "b1")), 200);
	ck_assert_uint_eq(status(publish("test-b", "b2")), 200);
	packages_close();
	cap_clear();
	hr_store_cfg_default(&scfg);
	scfg.url = db.url;
	ck_assert_int_eq(hr_store_alloc(&store, &scfg), 0);
	packages_open();
	ck_assert_uint_eq(hr_publish_count(fa.pub, NULL), 1);
	ck_assert_uint_eq(hr_publish_count(fb.pub, NULL), 2);
	pgdb_drain(store, 3000);
	ck_assert_int_eq(pgdb_count(db.url, "SELECT count(*) FROM "
		"publications"), 3);
}
END_TEST

static int put_err = -1;

static void put_done(int err, void *arg)
{
	(void)arg;
	put_err = err;
}

/* The admin's change: under way, then done once stored. */
static void put(struct fake *f, const char *body, uint32_t expires)
{
	put_err = -1;
	ck_assert_int_eq(hr_publish_put(f->pub, ALICE, body, strlen(body),
		expires, put_done, NULL), 0);
	pgdb_drain(store, 3000);
	hr_loop_once();
	ck_assert_int_eq(put_err, 0);
}

struct docs {
	char text[128];
};

static void doc_cat(void *doc, void *arg)
{
	struct docs *d = arg;

	strncat(d->text, doc, sizeof(d->text) - strlen(d->text) - 1);
}

static const char *docs_of(struct fake *f)
{
	static struct docs d;

	d.text[0] = '\0';
	hr_publish_docs(f->pub, ALICE, false, doc_cat, &d);
	return d.text;
}

/* The admin's publication (an HTTP client's): one per resource, replaced
 * by the next, beside the PUBLISHed ones, stored, and gone with
 * expires 0; nothing to remove is ENOENT. */
START_TEST(test_admin_put)
{
	struct hr_store_cfg scfg;

	ck_assert_uint_eq(status(publish("test-a", "p")), 200);
	put(&fa, "x", 600);
	ck_assert_str_eq(docs_of(&fa), "px");
	put(&fa, "y", 600);
	ck_assert_str_eq(docs_of(&fa), "py");
	ck_assert_uint_eq(fa.changed, 3);
	ck_assert_int_eq(pgdb_count(db.url, "SELECT count(*) FROM "
		"publications"), 2);
	/* it comes back after a restart, and is still the admin's */
	packages_close();
	cap_clear();
	hr_store_cfg_default(&scfg);
	scfg.url = db.url;
	ck_assert_int_eq(hr_store_alloc(&store, &scfg), 0);
	packages_open();
	ck_assert_uint_eq(hr_publish_count(fa.pub, ALICE), 2);
	put(&fa, "z", 600);
	ck_assert_str_eq(docs_of(&fa), "pz");
	put(&fa, "", 0);
	ck_assert_str_eq(docs_of(&fa), "p");
	ck_assert_int_eq(hr_publish_put(fa.pub, ALICE, "", 0, 0, put_done,
		NULL), ENOENT);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("publish");
	TCase *tc = tcase_create("two packages");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_each_its_event);
	tcase_add_test(tc, test_neither_event);
	tcase_add_test(tc, test_first_goes);
	tcase_add_test(tc, test_load_own);
	tcase_add_test(tc, test_admin_put);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pgdb_main(suite);
}
