/*
 * server/packages/presence.c and winfo.c: PUBLISH (RFC 3903), the composed
 * document, authorization rules (RFC 5025's actions) and their changes,
 * watcher info (RFC 3857). Requests go through a socketless SIP stack
 * into a real store (PostgreSQL from HERALD_TEST_DATABASE_URL, a throwaway
 * database per test; skipped without one); NOTIFYs are captured and
 * answered by hand. Authentication is off: a watcher is its From URI's
 * user@host.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "packages/presence.h"
#include "pgdb.h"
#include "events/evfix.h"

#define SIPCAP_MAX 256
#include "sip/sipcap.h"

#define MD5 "0123456789abcdef0123456789abcdef"
#define SHA MD5 MD5
#define ALICE "alice@example.test"

static struct pgdb db;
static struct hr_store *store;
static struct hr_userdb *users;
static struct hr_sip *sip;
static struct hr_events *ev;
static struct hr_presence *pres;
static struct hr_presence_cfg pcfg;
static const char *target = ALICE;   /* Request-URI and To */
static unsigned udp_max;             /* the notifier's; 0: its default */

#include "pkgfix.h"

static void open_all(void)
{
	struct hr_realm_cfg rl = evfix_realm();
	struct hr_events_cfg ecfg;

	rl.existsh = hr_userdb_exists;
	rl.users = users;
	hr_events_cfg_default(&ecfg);
	ck_assert_int_eq(hr_realm_alloc(&ecfg.realm, &rl), 0);
	if (udp_max)
		ecfg.udp_max = udp_max;
	ck_assert_int_eq(hr_events_alloc(&ev, sip, store, &ecfg), 0);
	pcfg.realm = ecfg.realm;
	ck_assert_int_eq(hr_presence_alloc(&pres, sip, store, ev, NULL,
		&pcfg), 0);
	hr_mem_deref(ecfg.realm);  /* theirs now */
	ck_assert_int_eq(hr_presence_load(pres), 0);
	ck_assert_int_eq(hr_events_load(ev), 0);
}

static void setup(void)
{
	store = pgdb_open(&db, "tpres_");
	ck_assert_int_eq(hr_userdb_alloc(&users), 0);
	ck_assert_int_eq(hr_userdb_put(users, "alice", "example.test", MD5,
		SHA), 0);
	ck_assert_int_eq(hr_userdb_put(users, "bob", "example.test", MD5,
		SHA), 0);
	ck_assert_int_eq(hr_userdb_put(users, "carol", "other.test", MD5,
		SHA), 0);
	sip = cap_sip(3000, true);
	hr_presence_cfg_default(&pcfg);
	pcfg.interval_ms = 0;
	open_all();
}

static void close_all(void)
{
	/* the store first: it delivers what is in flight */
	store = hr_mem_deref(store);
	ev = hr_mem_deref(ev);
	pres = hr_mem_deref(pres);
}

static void teardown(void)
{
	cap_clear();
	target = ALICE;
	udp_max = 0;
	close_all();
	sip = hr_mem_deref(sip);
	users = hr_mem_deref(users);
	pgdb_close(&db);
}

/* ---- messages ---- */

/* Answer every NOTIFY sent so far (no transaction left to time out). */
static void answer_all(void)
{
	drain();
	for (unsigned i = 0; i < cap.n; i++) {
		if (!cap.used[i] && is_notify(cap.out[i])) {
			cap.used[i] = true;
			answer(cap.out[i], 200);
		}
	}
}

/* The next NOTIFY of event, answering those of others on the way. */
static const char *notified_of(const char *event)
{
	char want[64];

	snprintf(want, sizeof(want), "\r\nEvent: %s\r\n", event);
	for (int i = 0; i < 6; i++) {
		const char *n = notified();

		if (strstr(n, want))
			return n;
	}
	ck_abort_msg("no NOTIFY of %s", event);
	return NULL;
}

#define DOC(tuple, basic) "<?xml version=\"1.0\"?><presence " \
	"xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"pres:" ALICE "\">" \
	"<tuple id=\"" tuple "\"><status><basic>" basic "</basic></status>" \
	"</tuple></presence>"
#define PIDF_HDRS "Event: presence\r\nContent-Type: application/pidf+xml\r\n"

/* alice sends a PUBLISH */
static void publish_send(const char *ifmatch, const char *exp,
	const char *doc)
{
	publish_from(ALICE, PIDF_HDRS, ifmatch, exp, doc);
}

/* alice publishes: returns the new entity-tag */
static void publish(const char *ifmatch, const char *exp, const char *doc,
	unsigned want, char *etag, size_t n)
{
	publish_send(ifmatch, exp, doc);
	published(want, etag, n);
}

static const char *watch(const char *who, const char *callid,
	const char *event)
{
	char hdrs[256];

	snprintf(hdrs, sizeof(hdrs), "Event: %s\r\n"
		"Contact: <sip:w@192.0.2.1:5060>\r\nExpires: 600\r\n", event);
	return request("SUBSCRIBE", who, callid, hdrs, "");
}

static struct hr_sub *sub_of(const char *package, const char *watcher)
{
	return evfix_sub(ev, package, ALICE, watcher);
}

static void rule(const char *watcher, enum hr_pres_action a)
{
	ck_assert_int_eq(hr_presence_rule(pres, ALICE, watcher, a, NULL,
		NULL), 0);
	drain();
}

/* ---- tests ---- */

START_TEST(test_publish_compose)
{
	char e1[64], e2[64], v[128];
	const char *n;

	ck_assert_uint_eq(status(watch("bob@example.test", "w1", "presence")),
		200);
	n = notified();
	ck_assert_msg(strstr(body(n), "<basic>closed</basic>"), "%s", n);
	ck_assert(strstr(body(n), "entity=\"sip:" ALICE "\""));
	publish(NULL, NULL, DOC("t1", "open"), 200, e1, sizeof(e1));
	ck_assert_uint_eq(strlen(e1), 20);
	n = notified();
	ck_assert_msg(strstr(body(n), "<tuple id=\"t1\">"), "%s", n);
	/* a second device: both tuples */
	publish(NULL, NULL, DOC("t2", "closed"), 200, e2, sizeof(e2));
	n = notified();
	ck_assert_msg(strstr(body(n), "\"t1\"") && strstr(body(n), "\"t2\""),
		"%s", n);
	ck_assert_uint_eq(hr_presence_count(pres), 2);
	/* a refresh changes nothing: no NOTIFY, a new entity-tag */
	strcpy(v, e1);
	publish(v, "600", NULL, 200, e1, sizeof(e1));
	ck_assert_str_ne(v, e1);
	ck_assert_uint_eq(untaken_notifies(), 0);
	/* the old entity-tag is gone */
	publish(v, "600", NULL, 412, NULL, 0);
	/* modify: the same tuple id from the other device: newest wins */
	publish(e2, NULL, DOC("t1", "closed"), 200, e2, sizeof(e2));
	n = notified();
	ck_assert_msg(strstr(body(n), "<basic>closed</basic>") &&
		!strstr(body(n), "open"), "%s", n);
	/* remove */
	publish(e2, "0", NULL, 200, NULL, 0);
	n = notified();
	ck_assert_msg(strstr(body(n), "<basic>open</basic>"), "%s", n);
	ck_assert_uint_eq(hr_presence_count(pres), 1);
	ck_assert_int_eq(pgdb_count(db.url, "SELECT count(*) FROM "
		"publications"), 1);
	/* expiry (before the subscription's own, at 600 s) */
	publish(e1, "120", NULL, 200, e1, sizeof(e1));
	hr_clock_advance(121 * 1000);
	hr_tmr_poll();
	n = notified();
	ck_assert_msg(strstr(body(n), "<basic>closed</basic>"), "%s", n);
	ck_assert_uint_eq(hr_presence_count(pres), 0);
	drain();
	ck_assert_int_eq(pgdb_count(db.url, "SELECT count(*) FROM "
		"publications"), 0);
}
END_TEST

/* A removal of the presentity's only publication and a new initial
 * PUBLISH in flight at once; the removal's commit completes first and
 * the presentity's round runs before the other's does. The new
 * publication stays where its entity-tag finds it, and watchers see it
 * (its presentity was unlinked while its commit waited: 412). */
START_TEST(test_publish_race)
{
	char e1[64], e2[64], e3[64];
	const char *n;

	ck_assert_uint_eq(status(watch("bob@example.test", "w1", "presence")),
		200);
	notified();
	publish(NULL, NULL, DOC("t1", "open"), 200, e1, sizeof(e1));
	notified();
	hr_store_hold(store, true);
	publish_send(e1, "0", NULL);
	publish_send(NULL, NULL, DOC("t2", "open"));
	pgdb_held(store, 2);
	ck_assert(hr_store_deliver_one(store));
	published(200, NULL, 0);
	/* the removal's round: nothing is published now */
	n = notified();
	ck_assert_msg(strstr(body(n), "<basic>closed</basic>"), "%s", n);
	ck_assert(hr_store_deliver_one(store));
	published(200, e2, sizeof(e2));
	hr_store_hold(store, false);
	n = notified();
	ck_assert_msg(strstr(body(n), "\"t2\"") &&
		strstr(body(n), "<basic>open</basic>"), "%s", n);
	ck_assert_uint_eq(hr_presence_count(pres), 1);
	/* the entity-tag the 200 gave out is honoured */
	publish(e2, NULL, DOC("t2", "closed"), 200, e3, sizeof(e3));
	n = notified();
	ck_assert_msg(strstr(body(n), "\"t2\"") &&
		strstr(body(n), "<basic>closed</basic>"), "%s", n);
	publish(e3, "0", NULL, 200, NULL, 0);
	notified();
	ck_assert_uint_eq(hr_presence_count(pres), 0);
}
END_TEST

static const struct {
	const char *name;
	const char *hdrs;
	const char *body;
	unsigned scode;
	const char *has;
} errors[] = {
	{ "no Event", "Content-Type: application/pidf+xml\r\n", DOC("t", "open"),
	  489, "Allow-Events: presence" },
	{ "another type", "Event: presence\r\nContent-Type: text/plain\r\n",
	  "hello", 415, "Accept: application/pidf+xml" },
	{ "not XML", PIDF_HDRS, "<presence", 400, "Bad PIDF" },
	{ "another entity", PIDF_HDRS, "<presence xmlns=\""
	  "urn:ietf:params:xml:ns:pidf\" entity=\"pres:bob@example.test\"/>",
	  400, "entity" },
	{ "a DOCTYPE", PIDF_HDRS, "<?xml version=\"1.0\"?><!DOCTYPE p ["
	  "<!ENTITY x SYSTEM \"file:///etc/passwd\">]><presence xmlns=\""
	  "urn:ietf:params:xml:ns:pidf\" entity=\"pres:" ALICE "\">&x;"
	  "</presence>", 400, "Bad PIDF" },
	{ "no body, no entity-tag", "Event: presence\r\n", "", 400, NULL },
	{ "unknown entity-tag", PIDF_HDRS "SIP-If-Match: nosuch\r\n", "", 412,
	  NULL },
	{ "too brief", PIDF_HDRS "Expires: 5\r\n", DOC("t", "open"), 423,
	  "Min-Expires: 10" },
	{ "removal without an entity-tag", PIDF_HDRS "Expires: 0\r\n",
	  DOC("t", "open"), 400, NULL },
};

START_TEST(test_publish_errors)
{
	const char *r = request("PUBLISH", ALICE, "e", errors[_i].hdrs,
		errors[_i].body);

	ck_assert_msg(status(r) == errors[_i].scode, "%s: %s", errors[_i].name,
		r);
	if (errors[_i].has)
		ck_assert_msg(strstr(r, errors[_i].has), "%s: %s",
			errors[_i].name, r);
	ck_assert_uint_eq(hr_presence_count(pres), 0);
}
END_TEST

/* confirm → pending; a rule allows → active with the document; then
 * polite-block → the neutral document; block → rejected. */
START_TEST(test_rules)
{
	char v[128];
	const char *n;

	publish(NULL, NULL, DOC("t1", "open"), 200, NULL, 0);
	rule("bob@example.test", HR_PRES_CONFIRM);
	ck_assert_uint_eq(status(watch("bob@example.test", "w1", "presence")),
		200);
	n = notified();
	ck_assert_str_eq(hdr(n, "Subscription-State", v, sizeof(v)),
		"pending;expires=600");
	ck_assert_str_eq(body(n), "");
	rule("bob@example.test", HR_PRES_ALLOW);
	n = notified();
	ck_assert_str_eq(hdr(n, "Subscription-State", v, sizeof(v)),
		"active;expires=600");
	ck_assert_msg(strstr(body(n), "<basic>open</basic>"), "%s", n);
	ck_assert_int_eq(pgdb_count(db.url, "SELECT count(*) FROM "
		"subscriptions WHERE state = 'active'"), 1);
	rule("bob@example.test", HR_PRES_POLITE_BLOCK);
	n = notified();
	ck_assert_msg(strstr(body(n), "<basic>closed</basic>") &&
		!strstr(body(n), "t1"), "%s", n);
	/* what alice publishes stays hidden */
	publish(NULL, NULL, DOC("t2", "open"), 200, NULL, 0);
	ck_assert_uint_eq(untaken_notifies(), 0);
	rule("bob@example.test", HR_PRES_BLOCK);
	n = notified();
	ck_assert_str_eq(hdr(n, "Subscription-State", v, sizeof(v)),
		"terminated;reason=rejected");
	ck_assert_uint_eq(hr_events_count(ev), 0);
	/* and a new subscription is refused */
	ck_assert_uint_eq(status(watch("bob@example.test", "w2", "presence")),
		403);
	ck_assert_int_eq(pgdb_count(db.url, "SELECT count(*) FROM rules "
		"WHERE package = 'presence'"), 1);
	/* a domain rule, and the rule removed: the default again */
	rule("bob@example.test", HR_PRES_NONE);
	rule("example.test", HR_PRES_BLOCK);
	ck_assert_uint_eq(status(watch("bob@example.test", "w3", "presence")),
		403);
	ck_assert_int_eq(hr_presence_rule_get(pres, ALICE, "bob@example.test"),
		HR_PRES_BLOCK);
	rule("example.test", HR_PRES_NONE);
	ck_assert_uint_eq(status(watch("bob@example.test", "w4", "presence")),
		200);
	notified();
}
END_TEST

/* The defaults: the presentity's domain is allowed, others wait. */
START_TEST(test_defaults)
{
	char v[128];

	ck_assert_uint_eq(status(watch("carol@other.test", "w1", "presence")),
		200);
	ck_assert_str_eq(hdr(notified(), "Subscription-State", v, sizeof(v)),
		"pending;expires=600");
	ck_assert_uint_eq(status(watch(ALICE, "w2", "presence")), 200);
	ck_assert_str_eq(hdr(notified(), "Subscription-State", v, sizeof(v)),
		"active;expires=600");
	/* no such presentity */
	target = "nobody@example.test";
	ck_assert_uint_eq(status(watch("bob@example.test", "w3", "presence")),
		404);
}
END_TEST

/* A burst of changes within the interval: one NOTIFY, the newest. */
START_TEST(test_debounce)
{
	char e[64];
	const char *n;

	close_all();
	pcfg.interval_ms = 500;
	ck_assert_int_eq(hr_store_alloc(&store, &(struct hr_store_cfg){
		.url = db.url, .queue_max = 20000, .wait_ms = 5000,
		.batch_max = 500 }), 0);
	open_all();
	ck_assert_uint_eq(status(watch("bob@example.test", "w1", "presence")),
		200);
	notified();
	publish(NULL, NULL, DOC("t1", "open"), 200, e, sizeof(e));
	publish(e, NULL, DOC("t1", "closed"), 200, e, sizeof(e));
	publish(e, NULL, DOC("t9", "open"), 200, e, sizeof(e));
	ck_assert_uint_eq(untaken_notifies(), 0);
	hr_clock_advance(500);
	hr_tmr_poll();
	n = notified();
	ck_assert_msg(strstr(body(n), "t9") && !strstr(body(n), "t1"), "%s",
		n);
	ck_assert_uint_eq(untaken_notifies(), 0);
}
END_TEST

/* presence.winfo: only alice; bob coming, approved, going. */
START_TEST(test_winfo)
{
	char v[128];
	const char *n;

	ck_assert_uint_eq(status(watch("bob@example.test", "x", "presence."
		"winfo")), 403);
	ck_assert_uint_eq(status(watch(ALICE, "wi", "presence.winfo")), 200);
	n = notified();
	ck_assert_str_eq(hdr(n, "Content-Type", v, sizeof(v)),
		"application/watcherinfo+xml");
	ck_assert_msg(strstr(body(n), "state=\"full\"") &&
		!strstr(body(n), "<watcher "), "%s", n);
	rule("bob@example.test", HR_PRES_CONFIRM);
	ck_assert_uint_eq(status(watch("bob@example.test", "w1", "presence")),
		200);
	n = notified_of("presence.winfo");
	ck_assert_msg(strstr(body(n), "state=\"partial\"") &&
		strstr(body(n), "status=\"pending\"") &&
		strstr(body(n), "event=\"subscribe\"") &&
		strstr(body(n), "sip:bob@example.test"), "%s", n);
	rule("bob@example.test", HR_PRES_ALLOW);
	n = notified_of("presence.winfo");
	ck_assert_msg(strstr(body(n), "status=\"active\"") &&
		strstr(body(n), "event=\"approved\""), "%s", n);
	hr_sub_terminate(sub_of("presence", "bob"), HR_REASON_DEACTIVATED, 0);
	n = notified_of("presence.winfo");
	ck_assert_msg(strstr(body(n), "status=\"terminated\"") &&
		strstr(body(n), "event=\"deactivated\""), "%s", n);
	(void)v;
}
END_TEST

/* RFC 3857 4.1: a pending subscription that times out waits, and the
 * presentity still sees it, until a rule decides or the watcher comes
 * again. */
START_TEST(test_waiting)
{
	const char *n;

	const char *r;

	/* alice's watcher info lasts longer than bob's subscription */
	r = request("SUBSCRIBE", ALICE, "wi", "Event: presence.winfo\r\n"
		"Contact: <sip:w@192.0.2.1:5060>\r\nExpires: 3600\r\n", "");
	ck_assert_msg(r && status(r) == 200, "%s", r ? r : "no answer");
	notified();
	rule("bob@example.test", HR_PRES_CONFIRM);
	ck_assert_uint_eq(status(watch("bob@example.test", "w1", "presence")),
		200);
	notified_of("presence.winfo");
	answer_all();
	/* bob's runs out while pending */
	hr_clock_advance(601 * 1000);
	hr_tmr_poll();
	n = notified_of("presence.winfo");
	ck_assert_msg(strstr(body(n), "status=\"waiting\"") &&
		strstr(body(n), "event=\"timeout\""), "%s", n);
	/* a decision ends it */
	rule("bob@example.test", HR_PRES_ALLOW);
	n = notified_of("presence.winfo");
	ck_assert_msg(strstr(body(n), "status=\"terminated\"") &&
		strstr(body(n), "event=\"approved\""), "%s", n);
}
END_TEST

/* A restart keeps publications, their entity-tags and the rules. */
START_TEST(test_recovery)
{
	char e[64];
	struct hr_buf b;

	publish(NULL, NULL, DOC("t1", "open"), 200, e, sizeof(e));
	rule("carol@other.test", HR_PRES_POLITE_BLOCK);
	drain();
	close_all();
	ck_assert_int_eq(hr_store_alloc(&store, &(struct hr_store_cfg){
		.url = db.url, .queue_max = 20000, .wait_ms = 5000,
		.batch_max = 500 }), 0);
	open_all();
	ck_assert_uint_eq(hr_presence_count(pres), 1);
	ck_assert_int_eq(hr_presence_rule_get(pres, ALICE, "carol@other.test"),
		HR_PRES_POLITE_BLOCK);
	hr_buf_init(&b, 65536);
	ck_assert_int_eq(hr_presence_document(pres, ALICE, &b), 0);
	ck_assert_int_eq(hr_buf_write(&b, "", 1), 0);
	ck_assert_msg(strstr(b.b, "<basic>open</basic>"), "%s", b.b);
	hr_buf_reset(&b);
	publish(e, "600", NULL, 200, NULL, 0);
}
END_TEST

/* A document of alice's with tuple id, its note n bytes long (free it). */
static char *big_doc(const char *id, size_t n)
{
	static const char head[] = "<?xml version=\"1.0\"?><presence "
		"xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"pres:" ALICE
		"\"><tuple id=\"%s\"><status><basic>open</basic></status>"
		"<note>";
	static const char tail[] = "</note></tuple></presence>";
	size_t size = sizeof(head) + strlen(id) + n + sizeof(tail);
	char *d = malloc(size);
	int len;

	ck_assert_ptr_nonnull(d);
	len = snprintf(d, size, head, id);
	memset(d + len, 'x', n);
	memcpy(d + len + n, tail, sizeof(tail));
	return d;
}

/* Reopen presence and the notifier with this configuration. */
static void reopen(void)
{
	drain();
	close_all();
	ck_assert_int_eq(hr_store_alloc(&store, &(struct hr_store_cfg){
		.url = db.url, .queue_max = 20000, .wait_ms = 5000,
		.batch_max = 500 }), 0);
	open_all();
}

/* --max-publications-per-presentity: a new publication past it is
 * refused (403), those being stored counting too; a change of one that
 * exists is not. */
START_TEST(test_publication_cap)
{
	char e1[64], e2[64];
	const char *r;

	pcfg.max_pubs = 2;
	reopen();
	publish(NULL, NULL, DOC("t1", "open"), 200, e1, sizeof(e1));
	publish(NULL, NULL, DOC("t2", "open"), 200, e2, sizeof(e2));
	publish_send(NULL, NULL, DOC("t3", "open"));
	r = next_resp();
	ck_assert_msg(status(r) == 403 &&
		strstr(r, " 403 Too Many Publications\r\n"), "%s", r);
	ck_assert_uint_eq(hr_presence_count(pres), 2);
	publish(e2, NULL, DOC("t2", "closed"), 200, e2, sizeof(e2));
	publish(e2, "0", NULL, 200, NULL, 0);
	/* a burst, all waiting for the store: one more passes, not two */
	hr_store_hold(store, true);
	publish_send(NULL, NULL, DOC("t4", "open"));
	publish_send(NULL, NULL, DOC("t5", "open"));
	r = next_resp();
	ck_assert_msg(status(r) == 403, "%s", r);
	pgdb_held(store, 1);
	hr_store_hold(store, false);
	published(200, NULL, 0);
	ck_assert_uint_eq(hr_presence_count(pres), 2);
}
END_TEST

/* --max-presence-document: a PUBLISH whose body, or the document it
 * would make with what is published (and being stored), is over it gets
 * 413; what is published stays as it was. */
START_TEST(test_document_cap)
{
	char *d1 = big_doc("t1", 2500), *d2 = big_doc("t2", 2500);
	char *d3 = big_doc("t3", 5000), *small = big_doc("s", 10);
	char *mid = big_doc("s", 1200), *more = big_doc("t9", 1000);
	char e1[64], e2[64];
	const char *r;
	struct hr_buf b;

	pcfg.max_doc = 4096;
	reopen();
	publish(NULL, NULL, d1, 200, e1, sizeof(e1));
	publish_send(NULL, NULL, d2);
	r = next_resp();
	ck_assert_msg(status(r) == 413 &&
		strstr(r, " 413 Presence Document Too Large\r\n"), "%s", r);
	publish_send(NULL, NULL, d3);
	ck_assert_uint_eq(status(next_resp()), 413);
	ck_assert_uint_eq(hr_presence_count(pres), 1);
	/* a modify is measured without the document it replaces */
	publish(e1, NULL, d2, 200, e1, sizeof(e1));

	publish(NULL, NULL, small, 200, e2, sizeof(e2));

	/* alone each fits; with the one being stored, the second does not */
	hr_store_hold(store, true);
	publish_send(e2, NULL, mid);
	pgdb_held(store, 1);
	publish_send(NULL, NULL, more);
	r = next_resp();

	ck_assert_msg(status(r) == 413, "%s", r);
	hr_store_hold(store, false);
	published(200, NULL, 0);
	ck_assert_uint_eq(hr_presence_count(pres), 2);
	drain();
	hr_buf_init(&b, 65536);
	ck_assert_int_eq(hr_presence_document(pres, ALICE, &b), 0);
	ck_assert_uint_le(b.len, 4096);
	ck_assert_uint_gt(b.len, 3000);
	hr_buf_reset(&b);
	free(d1);
	free(d2);
	free(d3);
	free(small);
	free(mid);
	free(more);
}
END_TEST

/* The transport a captured message went by. */
static enum hr_tp tp_of(const char *m)
{
	for (unsigned i = 0; i < cap.n; i++) {
		if (cap.out[i] == m)
			return cap.tp[i];
	}
	ck_abort_msg("not captured");
	return HR_TP_UDP;
}

/* A NOTIFY over --notify-udp-max goes by TCP; where TCP fails, at once
 * (_i 0) or by Timer F (_i 1), the subscription ends with a final
 * NOTIFY that fits UDP: terminated;reason=probation, no body. */
START_TEST(test_notify_too_large)
{
	const char *n;
	char v[128], *d;

	udp_max = 2048;
	reopen();
	d = big_doc("t1", 3000);
	ck_assert_uint_eq(status(watch("bob@example.test", "w1", "presence")),
		200);
	notified();
	/* TCP takes it: the subscription goes on */
	publish(NULL, NULL, d, 200, NULL, 0);
	free(d);
	n = notified();
	ck_assert_uint_eq(tp_of(n), HR_TP_TCP);
	ck_assert_msg(strstr(n, "\r\nVia: SIP/2.0/TCP "), "%s", n);
	ck_assert_msg(strstr(body(n), "xxxx"), "%s", n);
	ck_assert_uint_eq(hr_events_count(ev), 1);
	/* now it does not */
	if (_i == 0)
		cap.tcp_err = ECONNREFUSED;
	publish(NULL, NULL, DOC("t2", "open"), 200, NULL, 0);
	if (_i == 1) {
		ck_assert_ptr_nonnull(take(is_notify));
		for (int i = 0; i < 70; i++) {
			hr_clock_advance(500);
			hr_tmr_poll();
		}
	}
	n = take(is_notify);
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(hdr(n, "Subscription-State", v, sizeof(v)),
		"terminated;reason=probation;retry-after=600");
	ck_assert_str_eq(body(n), "");
	ck_assert_uint_le(strlen(n), 2048);
	ck_assert_msg(strstr(n, "\r\nVia: SIP/2.0/UDP "), "%s", n);
	ck_assert_uint_eq(hr_events_count(ev), 0);
	drain();
	ck_assert_int_eq(pgdb_count(db.url, "SELECT count(*) FROM "
		"subscriptions"), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("presence");
	TCase *tc = tcase_create("pg");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_publish_compose);
	tcase_add_test(tc, test_publish_race);
	tcase_add_loop_test(tc, test_publish_errors, 0,
		sizeof(errors) / sizeof(errors[0]));
	tcase_add_test(tc, test_rules);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_debounce);
	tcase_add_test(tc, test_winfo);
	tcase_add_test(tc, test_waiting);
	tcase_add_test(tc, test_recovery);
	tcase_add_test(tc, test_publication_cap);
	tcase_add_test(tc, test_document_cap);
	tcase_add_loop_test(tc, test_notify_too_large, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pgdb_main(suite);
}
