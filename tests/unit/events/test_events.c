/* server/events: the RFC 6665 subscription state machine, every
 * transition and reason, on the fake clock. SUBSCRIBEs go through a
 * socketless SIP stack into a real store (PostgreSQL from
 * HERALD_TEST_DATABASE_URL; skipped without one); NOTIFYs are captured and
 * answered by hand. A test package stands in for reg and presence. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "events/events.h"
#include "pgdb.h"
#include "events/evfix.h"
#include "sip/sipcap.h"

static struct pgdb db;
static struct hr_store *store;
static struct hr_sip *sip;
static struct hr_events *ev;
static struct hr_events_cfg ecfg;
static struct hr_auth *authn;

/* the test package */
static enum hr_authz authz;
static unsigned gone_calls;
static const char *const types[] = { "application/x-test", "text/plain" };

static enum hr_authz pkg_authorize(const struct hr_sub_info *si, void *arg)
{
	(void)si;
	(void)arg;
	return authz;
}

static int pkg_body(struct hr_sub *sub, const struct hr_sub_info *si,
	enum hr_body_kind kind, struct hr_buf *buf, void *arg)
{
	(void)sub;
	(void)arg;
	return hr_buf_printf(buf, "v=%llu %s", (unsigned long long)si->version,
		kind == HR_BODY_FULL ? "full" : "partial");
}

static void pkg_gone(struct hr_sub *sub, void *arg)
{
	(void)sub;
	(void)arg;
	gone_calls++;
}

static const struct hr_pkg pkg = {
	.name = "test",
	.types = types,
	.ntypes = 2,
	.expires_default = 600,
	.expires_min = 60,
	.expires_max = 3600,
	.authorize = pkg_authorize,
	.body = pkg_body,
	.gone = pkg_gone,
};

static long long count(const char *q)
{
	return pgdb_count(db.url, q);
}

static struct hr_realm_cfg rlcfg;

static void events_open(void)
{
	ck_assert_int_eq(hr_realm_alloc(&ecfg.realm, &rlcfg), 0);
	ck_assert_int_eq(hr_events_alloc(&ev, sip, store, &ecfg), 0);
	ecfg.realm = hr_mem_deref(ecfg.realm);  /* the notifier's now */
	ck_assert_int_eq(hr_events_package(ev, &pkg), 0);
	ck_assert_int_eq(hr_events_load(ev), 0);
}

static void setup(void)
{
	store = pgdb_open(&db, "tev_");
	sip = cap_sip(5000, false);
	hr_events_cfg_default(&ecfg);
	rlcfg = evfix_realm();
	authz = HR_AUTHZ_ACTIVE;
	gone_calls = 0;
	events_open();
}

static void teardown(void)
{
	cap_clear();
	/* the store first: it delivers what is in flight to the notifier */
	store = hr_mem_deref(store);
	ev = hr_mem_deref(ev);
	sip = hr_mem_deref(sip);
	authn = hr_mem_deref(authn);
	pgdb_close(&db);
}

/* ---- messages ---- */

/* Let the writer finish what is queued (commits with no answer). */
static void drain(void)
{
	pgdb_drain(store, 5000);
	ck_assert_uint_eq(hr_store_queue_depth(store), 0);
}

static bool starts(const char *m, const char *prefix)
{
	return !strncmp(m, prefix, strlen(prefix));
}

static unsigned branch;

/* Send a SUBSCRIBE; returns its response. */
/* Send a SUBSCRIBE without waiting for its answer. */
static void subscribe_send(const char *callid, const char *totag,
	unsigned cseq, const char *extra)
{
	char m[4096];

	snprintf(m, sizeof(m), "SUBSCRIBE sip:alice@example.test SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKt%u\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:bob@example.test>;tag=ft\r\n"
		"To: <sip:alice@example.test>%s%s\r\nCall-ID: %s\r\n"
		"CSeq: %u SUBSCRIBE\r\n%sContent-Length: 0\r\n\r\n", ++branch,
		totag ? ";tag=" : "", totag ? totag : "", callid, cseq, extra);
	cap_recv(m);
}

/* Send a SUBSCRIBE; returns its response. */
static const char *subscribe(const char *callid, const char *totag,
	unsigned cseq, const char *extra)
{
	subscribe_send(callid, totag, cseq, extra);
	return next_resp();
}

#define CONTACT "Contact: <sip:bob@192.0.2.1:5060>\r\n"
#define EVENT "Event: test\r\n"

static void totag_of(const char *resp, char *tag, size_t n)
{
	char to[512];
	const char *t;

	hdr(resp, "To", to, sizeof(to));
	t = strstr(to, ";tag=");
	ck_assert_ptr_nonnull(t);
	snprintf(tag, n, "%s", t + 5);
}

/* A new active subscription whose first NOTIFY was answered. */
static void subscribed(const char *callid, char *tag, size_t n)
{
	const char *r = subscribe(callid, NULL, 1, EVENT CONTACT
		"Expires: 600\r\n");

	ck_assert_msg(status(r) == 200, "%s", r);
	totag_of(r, tag, n);
	answer(next_notify(), 200);
}

static struct hr_sub *the_sub(void)
{
	return evfix_sub(ev, "test", "alice@example.test", NULL);
}

/* ---- tests ---- */

START_TEST(test_subscribe)
{
	char v[512], tag[64];
	const char *r, *n;

	r = subscribe("c1", NULL, 1, EVENT CONTACT "Expires: 600\r\n");
	ck_assert_msg(status(r) == 200, "%s", r);
	ck_assert_str_eq(hdr(r, "Expires", v, sizeof(v)), "600");
	ck_assert_str_eq(hdr(r, "Contact", v, sizeof(v)),
		"<sip:example.test>");
	totag_of(r, tag, sizeof(tag));
	ck_assert_uint_eq(count("SELECT count(*) FROM subscriptions"), 1);
	/* RFC 6665 4.2.2: the NOTIFY at once */
	n = next_notify();
	ck_assert_ptr_nonnull(n);
	ck_assert_msg(starts(n, "NOTIFY sip:bob@192.0.2.1:5060 SIP/2.0"), "%s", n);
	ck_assert_str_eq(hdr(n, "Subscription-State", v, sizeof(v)),
		"active;expires=600");
	ck_assert_str_eq(hdr(n, "Event", v, sizeof(v)), "test");
	ck_assert_str_eq(hdr(n, "CSeq", v, sizeof(v)), "1 NOTIFY");
	ck_assert_str_eq(hdr(n, "Call-ID", v, sizeof(v)), "c1");
	ck_assert_str_eq(hdr(n, "To", v, sizeof(v)),
		"<sip:bob@example.test>;tag=ft");
	snprintf(v + 256, 256, "<sip:alice@example.test>;tag=%s", tag);
	ck_assert_str_eq(hdr(n, "From", v, 256), v + 256);
	ck_assert_str_eq(hdr(n, "Content-Type", v, sizeof(v)),
		"application/x-test");
	ck_assert_str_eq(body(n), "v=0 full");
	answer(n, 200);
	/* a change: the next NOTIFY, partial, with the next version */
	hr_sub_changed(the_sub());
	n = next_notify();
	ck_assert_str_eq(hdr(n, "CSeq", v, sizeof(v)), "2 NOTIFY");
	ck_assert_str_eq(body(n), "v=1 partial");
	answer(n, 200);
	/* a package that lost track of what changed asks for everything */
	hr_sub_changed_full(the_sub());
	n = next_notify();
	ck_assert_str_eq(body(n), "v=2 full");
	answer(n, 200);
	hr_sub_changed(the_sub());
	n = next_notify();
	ck_assert_str_eq(body(n), "v=3 partial");
	answer(n, 200);
}
END_TEST

START_TEST(test_pending_then_active)
{
	char v[512];
	const char *r, *n;

	authz = HR_AUTHZ_PENDING;
	r = subscribe("c1", NULL, 1, EVENT CONTACT);
	ck_assert_msg(status(r) == 200, "%s", r);
	/* RFC 6665 4.2.1.1 / 4.2.2: pending, and no state in it */
	n = next_notify();
	ck_assert_str_eq(hdr(n, "Subscription-State", v, sizeof(v)),
		"pending;expires=600");
	ck_assert_str_eq(hdr(n, "Content-Length", v, sizeof(v)), "0");
	ck_assert_str_eq(hdr(n, "Content-Type", v, sizeof(v)), "");
	answer(n, 200);
	/* changes are not told to a pending watcher */
	hr_sub_changed(the_sub());
	n = next_notify();
	ck_assert_str_eq(hdr(n, "Subscription-State", v, sizeof(v)),
		"pending;expires=600");
	answer(n, 200);
	ck_assert_int_eq(hr_sub_activate(the_sub()), 0);
	n = next_notify();
	ck_assert_str_eq(hdr(n, "Subscription-State", v, sizeof(v)),
		"active;expires=600");
	ck_assert_str_eq(body(n), "v=0 full");
	answer(n, 200);
	ck_assert_int_eq(count("SELECT count(*) FROM subscriptions WHERE "
		"state = 'active'"), 1);
}
END_TEST

/* One NOTIFY in flight; what changes meanwhile goes in one more. */
START_TEST(test_merge)
{
	char tag[64], v[64];
	const char *n;

	subscribed("c1", tag, sizeof(tag));
	hr_sub_changed(the_sub());
	n = next_notify();
	hr_sub_changed(the_sub());
	hr_sub_changed(the_sub());
	hr_sub_changed(the_sub());
	cap_wait(cap.n + 1);
	ck_assert_uint_eq(pending_notifies(), 0);
	answer(n, 200);
	n = next_notify();
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(hdr(n, "CSeq", v, sizeof(v)), "3 NOTIFY");
	answer(n, 200);
	cap_wait(cap.n + 1);
	ck_assert_uint_eq(pending_notifies(), 0);
}
END_TEST

/* RFC 6665 4.2.2: a NOTIFY failure ends the subscription, no retry. */
static const unsigned failures[] = { 481, 404, 408, 500, 503, 603, 401 };

START_TEST(test_notify_failure)
{
	char tag[64];
	const char *n;

	subscribed("c1", tag, sizeof(tag));
	hr_sub_changed(the_sub());
	n = next_notify();
	answer(n, failures[_i]);
	ck_assert_uint_eq(hr_events_count(ev), 0);
	ck_assert_uint_eq(gone_calls, 1);
	drain();
	ck_assert_int_eq(count("SELECT count(*) FROM subscriptions"), 0);
	ck_assert_uint_eq(status(subscribe("c1", tag, 2, EVENT CONTACT)), 481);
}
END_TEST

/* UDP: Timer E retransmits, Timer F ends the transaction and the
 * subscription. */
START_TEST(test_notify_timeout)
{
	unsigned copies = 0;
	char tag[64];

	subscribed("c1", tag, sizeof(tag));
	hr_sub_changed(the_sub());
	ck_assert_ptr_nonnull(next_notify());
	for (int i = 0; i < 70; i++) {
		hr_clock_advance(500);
		hr_tmr_poll();
	}
	for (unsigned i = 0; i < cap.n; i++)
		copies += is_notify(cap.out[i]);
	ck_assert_uint_ge(copies, 6);
	ck_assert_uint_eq(hr_events_count(ev), 0);
	drain();
	ck_assert_int_eq(count("SELECT count(*) FROM subscriptions"), 0);
}
END_TEST

START_TEST(test_expiry)
{
	char tag[64], v[128];
	const char *n;

	subscribed("c1", tag, sizeof(tag));
	hr_clock_advance(599 * 1000);
	hr_tmr_poll();
	ck_assert_uint_eq(hr_events_count(ev), 1);
	hr_clock_advance(1000);
	hr_tmr_poll();
	n = next_notify();
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(hdr(n, "Subscription-State", v, sizeof(v)),
		"terminated;reason=timeout");
	ck_assert_str_eq(body(n), "v=1 full");
	ck_assert_uint_eq(hr_events_count(ev), 0);
	drain();
	ck_assert_int_eq(count("SELECT count(*) FROM subscriptions"), 0);
}
END_TEST

/* A second that ticks while the SUBSCRIBE is stored costs it nothing: it
 * lasts the whole time granted. */
START_TEST(test_expiry_whole)
{
	char v[128];
	const char *r;

	hr_clock_advance(999);
	subscribe_send("c1", NULL, 1, EVENT CONTACT "Expires: 600\r\n");
	hr_clock_advance(1);
	r = next_resp();
	ck_assert_msg(status(r) == 200, "%s", r);
	answer(next_notify(), 200);
	hr_clock_advance(599 * 1000 + 900);
	hr_tmr_poll();
	ck_assert_uint_eq(hr_events_count(ev), 1);
	hr_clock_advance(100);
	hr_tmr_poll();
	ck_assert_str_eq(hdr(next_notify(), "Subscription-State", v,
		sizeof(v)), "terminated;reason=timeout");
}
END_TEST

static const struct {
	enum hr_sub_reason reason;
	uint32_t retry;
	const char *state;
	bool body;
} reasons[] = {
	{ HR_REASON_DEACTIVATED, 0, "terminated;reason=deactivated", false },
	{ HR_REASON_PROBATION, 30, "terminated;reason=probation;retry-after=30",
	  false },
	{ HR_REASON_REJECTED, 0, "terminated;reason=rejected", false },
	{ HR_REASON_TIMEOUT, 0, "terminated;reason=timeout", true },
	{ HR_REASON_GIVEUP, 60, "terminated;reason=giveup;retry-after=60",
	  false },
	{ HR_REASON_NORESOURCE, 0, "terminated;reason=noresource", false },
	{ HR_REASON_INVARIANT, 0, "terminated;reason=invariant", false },
};

START_TEST(test_terminate)
{
	char tag[64], v[128];
	const char *n;

	subscribed("c1", tag, sizeof(tag));
	hr_sub_terminate(the_sub(), reasons[_i].reason, reasons[_i].retry);
	ck_assert_uint_eq(hr_events_count(ev), 0);
	n = next_notify();
	ck_assert_str_eq(hdr(n, "Subscription-State", v, sizeof(v)),
		reasons[_i].state);
	ck_assert_str_eq(body(n), reasons[_i].body ? "v=1 full" : "");
	drain();
	ck_assert_int_eq(count("SELECT count(*) FROM subscriptions"), 0);
	ck_assert_uint_eq(status(subscribe("c1", tag, 2, EVENT CONTACT)), 481);
}
END_TEST

/* While a NOTIFY is unanswered, the final one waits for it. */
START_TEST(test_terminate_in_flight)
{
	char tag[64], v[128];
	const char *n;

	subscribed("c1", tag, sizeof(tag));
	hr_sub_changed(the_sub());
	n = next_notify();
	hr_sub_terminate(the_sub(), HR_REASON_DEACTIVATED, 0);
	cap_wait(cap.n + 1);
	ck_assert_uint_eq(pending_notifies(), 0);
	ck_assert_uint_eq(status(subscribe("c1", tag, 2, EVENT CONTACT)), 481);
	answer(n, 200);
	n = next_notify();
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(hdr(n, "Subscription-State", v, sizeof(v)),
		"terminated;reason=deactivated");
	ck_assert_str_eq(hdr(n, "CSeq", v, sizeof(v)), "3 NOTIFY");
}
END_TEST

START_TEST(test_refresh_unsubscribe)
{
	char tag[64], v[128];
	const char *r, *n;

	subscribed("c1", tag, sizeof(tag));
	hr_clock_advance(100 * 1000);
	r = subscribe("c1", tag, 2, EVENT "Expires: 300\r\n");
	ck_assert_msg(status(r) == 200, "%s", r);
	ck_assert_str_eq(hdr(r, "Expires", v, sizeof(v)), "300");
	/* a refresh gets the whole state again */
	n = next_notify();
	ck_assert_str_eq(hdr(n, "Subscription-State", v, sizeof(v)),
		"active;expires=300");
	ck_assert_str_eq(body(n), "v=1 full");
	answer(n, 200);
	/* RFC 3261 12.2.2: an old CSeq is out of order */
	ck_assert_uint_eq(status(subscribe("c1", tag, 2, EVENT)), 500);
	/* unknown dialog, or another package in it */
	ck_assert_uint_eq(status(subscribe("c1", "nosuch", 3, EVENT)), 481);
	ck_assert_uint_eq(status(subscribe("c2", tag, 3, EVENT)), 481);
	ck_assert_uint_eq(status(subscribe("c1", tag, 3,
		"Event: test;id=7\r\n")), 481);
	/* too brief */
	r = subscribe("c1", tag, 3, EVENT "Expires: 10\r\n");
	ck_assert_uint_eq(status(r), 423);
	/* unsubscribe: 200 and a final NOTIFY with the last state */
	r = subscribe("c1", tag, 4, EVENT "Expires: 0\r\n");
	ck_assert_msg(status(r) == 200, "%s", r);
	n = next_notify();
	ck_assert_str_eq(hdr(n, "Subscription-State", v, sizeof(v)),
		"terminated;reason=timeout");
	ck_assert_str_eq(body(n), "v=2 full");
	ck_assert_uint_eq(hr_events_count(ev), 0);
	ck_assert_int_eq(count("SELECT count(*) FROM subscriptions"), 0);
	ck_assert_uint_eq(status(subscribe("c1", tag, 5, EVENT)), 481);
}
END_TEST

/* The un-SUBSCRIBE of a resource's only subscription and a new
 * SUBSCRIBE to it in flight at once, each commit completed when the test
 * says, the timers run in between: the resource's entry is held for the
 * new one (a pending count), which is found, counted and refreshed. */
START_TEST(test_unsubscribe_and_new_in_flight)
{
	char tag[64], tag2[64];
	const char *r;

	subscribed("c1", tag, sizeof(tag));
	hr_store_hold(store, true);
	subscribe_send("c1", tag, 2, EVENT "Expires: 0\r\n");
	subscribe_send("c2", NULL, 1, EVENT "Expires: 600\r\n"
		"Contact: <sip:bob@192.0.2.2:5060>\r\n");
	for (int k = 0; k < 2; k++) {
		pgdb_deliver_one(store);
		r = next_resp();
		ck_assert_msg(status(r) == 200, "%s", r);
		answer(next_notify(), 200);
	}
	hr_store_hold(store, false);
	totag_of(r, tag2, sizeof(tag2));
	ck_assert_uint_eq(hr_events_count(ev), 1);
	ck_assert_str_eq(hr_sub_info(the_sub())->id, tag2);
	r = subscribe("c2", tag2, 2, EVENT "Expires: 300\r\n");
	ck_assert_msg(status(r) == 200, "%s", r);
	answer(next_notify(), 200);
}
END_TEST

/* RFC 6665 4.4.3: an initial SUBSCRIBE with Expires 0 fetches the state. */
START_TEST(test_fetch)
{
	char v[128];
	const char *r, *n;

	r = subscribe("c1", NULL, 1, EVENT CONTACT "Expires: 0\r\n");
	ck_assert_msg(status(r) == 200, "%s", r);
	ck_assert_str_eq(hdr(r, "Expires", v, sizeof(v)), "0");
	n = next_notify();
	ck_assert_str_eq(hdr(n, "Subscription-State", v, sizeof(v)),
		"terminated;reason=timeout");
	ck_assert_str_eq(body(n), "v=0 full");
	ck_assert_uint_eq(hr_events_count(ev), 0);
	drain();
	ck_assert_int_eq(count("SELECT count(*) FROM subscriptions"), 0);
}
END_TEST

static const struct {
	const char *name;
	const char *hdrs;
	enum hr_authz authz;
	unsigned scode;
	const char *has;
} errors[] = {
	{ "no Event", CONTACT, HR_AUTHZ_ACTIVE, 489, "Allow-Events: test\r\n" },
	{ "unknown package", "Event: foo\r\n" CONTACT, HR_AUTHZ_ACTIVE, 489,
	  "Allow-Events: test\r\n" },
	{ "nothing acceptable", EVENT CONTACT "Accept: text/html\r\n",
	  HR_AUTHZ_ACTIVE, 406,
	  "Accept: application/x-test, text/plain\r\n" },
	{ "the second type is fine", EVENT CONTACT "Accept: text/*\r\n",
	  HR_AUTHZ_ACTIVE, 200, NULL },
	{ "too brief", EVENT CONTACT "Expires: 59\r\n", HR_AUTHZ_ACTIVE, 423,
	  "Min-Expires: 60\r\n" },
	{ "too long is cut", EVENT CONTACT "Expires: 99999\r\n",
	  HR_AUTHZ_ACTIVE, 200, "Expires: 3600\r\n" },
	{ "no Contact", EVENT, HR_AUTHZ_ACTIVE, 400, "Missing Contact" },
	{ "refused", EVENT CONTACT, HR_AUTHZ_REJECT, 403, NULL },
	{ "no such resource", EVENT CONTACT, HR_AUTHZ_NOTFOUND, 404, NULL },
};

START_TEST(test_errors)
{
	const char *r;

	authz = errors[_i].authz;
	r = subscribe("c1", NULL, 1, errors[_i].hdrs);
	ck_assert_msg(status(r) == errors[_i].scode, "%s: %s", errors[_i].name,
		r);
	if (errors[_i].has)
		ck_assert_msg(strstr(r, errors[_i].has), "%s: %s",
			errors[_i].name, r);
	if (errors[_i].scode != 200)
		ck_assert_uint_eq(hr_events_count(ev), 0);
}
END_TEST

START_TEST(test_other_domain)
{
	const char *m = "SUBSCRIBE sip:alice@other.test SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKod\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:bob@example.test>;tag=ft\r\n"
		"To: <sip:alice@other.test>\r\nCall-ID: od\r\n"
		"CSeq: 1 SUBSCRIBE\r\n" EVENT CONTACT
		"Content-Length: 0\r\n\r\n";

	cap_recv(m);
	ck_assert_uint_eq(status(next_resp()), 404);
}
END_TEST

START_TEST(test_limits)
{
	char tag[64];
	char c[128];

	drain();
	hr_mem_deref(ev);
	ecfg.max_per_watcher = 2;
	events_open();
	for (int i = 0; i < 2; i++) {
		snprintf(c, sizeof(c), "Contact: <sip:bob@192.0.2.%d>\r\n"
			EVENT, 10 + i);
		ck_assert_uint_eq(status(subscribe(i ? "c2" : "c1", NULL, 1,
			c)), 200);
		answer(next_notify(), 200);
	}
	ck_assert_uint_eq(status(subscribe("c3", NULL, 1, EVENT
		"Contact: <sip:bob@192.0.2.12>\r\n")), 403);
	/* a replacement does not count twice */
	ck_assert_uint_eq(status(subscribe("c4", NULL, 1, EVENT
		"Contact: <sip:bob@192.0.2.11>\r\n")), 200);
	answer(next_notify(), 200);
	ck_assert_uint_eq(hr_events_count(ev), 2);
	drain();
	hr_mem_deref(ev);
	ecfg.max_per_watcher = 200;
	ecfg.max_per_resource = 1;
	events_open();
	ck_assert_uint_eq(hr_events_count(ev), 2);
	ck_assert_uint_eq(status(subscribe("c5", NULL, 1, EVENT
		"Contact: <sip:bob@192.0.2.13>\r\n")), 403);
	(void)tag;
}
END_TEST

/* ---- with digest: bob and mon (a monitor) of example.test ---- */

static int test_ha1(const struct hr_pl *username, const char *realm,
	enum hr_digest_alg alg, char *ha1, size_t n, void *arg)
{
	(void)arg;
	if (hr_pl_strcmp(username, "bob") && hr_pl_strcmp(username, "mon"))
		return ENOENT;
	return hr_digest_ha1(ha1, n, alg, username->p[0] == 'b' ? "bob" :
		"mon", realm, "secret");
}

static bool test_monitor(const char *user, const char *domain, void *arg)
{
	(void)arg;
	return !strcmp(user, "mon") && !strcmp(domain, "example.test");
}

/* The notifier again, challenging SUBSCRIBE. */
static void events_open_auth(void)
{
	static const uint8_t secret[32] = "0123456789abcdef0123456789abcdef";
	struct hr_auth_cfg acfg = { .secret = secret, .secret_len = 32 };

	drain();
	ev = hr_mem_deref(ev);
	ck_assert_int_eq(hr_auth_alloc(&authn, &acfg), 0);
	rlcfg.challenge = HR_REALM_METH(HR_METH_SUBSCRIBE);
	rlcfg.authn = authn;
	rlcfg.ha1h = test_ha1;
	rlcfg.monitorh = test_monitor;
	events_open();
}

/* "Authorization: ...\r\n" of user (password secret) for a SUBSCRIBE to
 * alice, answering a fresh challenge (its first: SHA-256). */
static void credentials(const char *user, char *out, size_t n)
{
	char nonce[128], opaque[128], ha1[HR_DIGEST_HEX_MAX];
	char resp[HR_DIGEST_HEX_MAX];
	struct hr_digest d = { 0 };
	enum hr_digest_alg alg;
	const char *colon, *eol;
	struct hr_buf b;

	hr_buf_init(&b, 4096);
	ck_assert_int_eq(hr_auth_challenge(authn, &b, "example.test", false,
		false), 0);
	colon = memchr(b.b, ':', b.len);
	eol = memchr(b.b, '\r', b.len);
	ck_assert_int_eq(hr_digest_decode(&d, &(struct hr_pl){ colon + 1,
		(size_t)(eol - colon - 1) }), 0);
	ck_assert_int_eq(hr_digest_alg_decode(&d.algorithm, &alg), 0);
	ck_assert_int_eq(hr_pl_strcpy(&d.nonce, nonce, sizeof(nonce)), 0);
	ck_assert_int_eq(hr_pl_strcpy(&d.opaque, opaque, sizeof(opaque)), 0);
	hr_buf_reset(&b);
	d.nonce = hr_pl_str(nonce);
	d.uri = HR_PL("sip:alice@example.test");
	d.nc = HR_PL("00000001");
	d.cnonce = HR_PL("0a4f113b");
	d.qop = HR_PL("auth");
	ck_assert_int_eq(hr_digest_ha1(ha1, sizeof(ha1), alg, user,
		"example.test", "secret"), 0);
	ck_assert_int_eq(hr_digest_response(resp, sizeof(resp), alg, ha1, &d,
		&HR_PL("SUBSCRIBE")), 0);
	snprintf(out, n, "Authorization: Digest username=\"%s\", "
		"realm=\"example.test\", nonce=\"%s\", "
		"uri=\"sip:alice@example.test\", response=\"%s\", "
		"algorithm=%s, cnonce=\"0a4f113b\", nc=00000001, qop=auth, "
		"opaque=\"%s\"\r\n", user, nonce, resp,
		hr_digest_alg_name(alg), opaque);
}

/* An authenticated SUBSCRIBE from user with this From, from a Contact
 * of its own (no replacement) unless contact is given: its status. */
static unsigned subscribe_as(const char *user, const char *from,
	const char *contact, const char **resp)
{
	static unsigned k;
	char m[4096], cred[1024], c[128];
	const char *r;

	credentials(user, cred, sizeof(cred));
	snprintf(c, sizeof(c), "<sip:%s@192.0.2.%u>", user, 100 + ++k % 100);
	snprintf(m, sizeof(m), "SUBSCRIBE sip:alice@example.test SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa%u\r\n"
		"Max-Forwards: 70\r\nFrom: %s;tag=ft%u\r\n"
		"To: <sip:alice@example.test>\r\nCall-ID: auth%u\r\n"
		"CSeq: 1 SUBSCRIBE\r\nContact: %s\r\n" EVENT
		"Expires: 600\r\n%sContent-Length: 0\r\n\r\n", k, from, k,
		k, contact ? contact : c, cred);
	cap_recv(m);
	r = next_resp();
	ck_assert_ptr_nonnull(r);
	if (resp)
		*resp = r;
	if (status(r) == 200)
		answer(next_notify(), 200);
	return status(r);
}

/* The watcher is who the credentials say: a From varied in scheme, case
 * or display name counts once against the cap, and a From naming
 * another user is refused (403) before it is counted at all. */
START_TEST(test_auth_watcher)
{
	const char *r;

	ecfg.max_per_watcher = 2;
	events_open_auth();
	ck_assert_uint_eq(subscribe_as("bob", "<sip:bob@example.test>", NULL,
		NULL), 200);
	ck_assert_uint_eq(subscribe_as("bob", "\"Bob\" <sips:bob@EXAMPLE."
		"test>", NULL, NULL), 200);
	ck_assert_uint_eq(subscribe_as("bob", "<sip:bob@Example.Test>", NULL,
		&r), 403);
	ck_assert_msg(strstr(r, " 403 Too Many Subscriptions\r\n"), "%s", r);
	/* another user's From, whatever the cap */
	ck_assert_uint_eq(subscribe_as("bob", "<sip:carol@example.test>",
		NULL, &r), 403);
	ck_assert_msg(strstr(r, " 403 From Is Not the Authenticated User\r\n"),
		"%s", r);
	ck_assert_uint_eq(subscribe_as("bob", "<sip:bob@other.test>", NULL,
		NULL), 403);
	ck_assert_uint_eq(hr_events_count(ev), 2);
	/* shown and stored as the authenticated user */
	ck_assert_str_eq(hr_sub_info(the_sub())->watcher,
		"sip:bob@example.test");
	drain();
	ck_assert_int_eq(count("SELECT count(*) FROM subscriptions WHERE "
		"watcher_user = 'bob@example.test' AND watcher IN "
		"('sip:bob@example.test', 'sips:bob@example.test')"), 2);
}
END_TEST

/* A monitor may name any user of its domain in From (one Contact, and
 * no subscription replaces another: they act for different users), and
 * is counted once, against its own cap. */
START_TEST(test_auth_monitor)
{
	static const char *const users[] = { "alice", "carol", "dave" };
	char from[128];
	const char *r;

	ecfg.max_per_watcher = 1;
	ecfg.max_per_monitor = 3;
	events_open_auth();
	for (unsigned i = 0; i < 3; i++) {
		snprintf(from, sizeof(from), "<sip:%s@example.test>", users[i]);
		ck_assert_uint_eq(subscribe_as("mon", from, "<sip:mon@192.0.2."
			"9>", NULL), 200);
	}
	ck_assert_uint_eq(hr_events_count(ev), 3);
	ck_assert_uint_eq(subscribe_as("mon", "<sip:erin@example.test>", NULL,
		&r), 403);
	ck_assert_msg(strstr(r, " 403 Too Many Subscriptions\r\n"), "%s", r);
	ck_assert_uint_eq(subscribe_as("mon", "<sip:erin@other.test>", NULL,
		&r), 403);
	ck_assert_msg(strstr(r, " 403 From Is Not the Authenticated User\r\n"),
		"%s", r);
	drain();
	ck_assert_int_eq(count("SELECT count(*) FROM subscriptions WHERE "
		"watcher = 'sip:mon@example.test'"), 3);
}
END_TEST

/* A burst of SUBSCRIBEs, all waiting for the store at once: those being
 * stored count against the limits, so no more than the limit pass. */
START_TEST(test_limits_burst)
{
	unsigned ok = 0, refused = 0;
	char c[128], id[16];

	drain();
	hr_mem_deref(ev);
	ecfg.max_per_watcher = _i ? 200 : 3;
	ecfg.max_per_resource = _i ? 2 : 10000;
	events_open();
	for (int i = 0; i < 6; i++) {
		snprintf(c, sizeof(c), "Contact: <sip:bob@192.0.2.%d>\r\n"
			EVENT, 30 + i);
		snprintf(id, sizeof(id), "b%d", i);
		subscribe_send(id, NULL, 1, c);
	}
	for (int i = 0; i < 6; i++) {
		unsigned st = status(next_resp());

		ok += st == 200;
		refused += st == 403;
	}
	ck_assert_uint_eq(ok, _i ? 2 : 3);
	ck_assert_uint_eq(refused, _i ? 4 : 3);
	ck_assert_uint_eq(hr_events_count(ev), ok);
	drain();
	ck_assert_int_eq(count("SELECT count(*) FROM subscriptions"), ok);
}
END_TEST

/* The same watcher device with a new Call-ID replaces its subscription. */
START_TEST(test_replace)
{
	char tag1[64], tag2[64];
	const char *n;

	subscribed("c1", tag1, sizeof(tag1));
	subscribed("c2", tag2, sizeof(tag2));
	ck_assert_uint_eq(hr_events_count(ev), 1);
	drain();
	ck_assert_int_eq(count("SELECT count(*) FROM subscriptions"), 1);
	ck_assert_uint_eq(status(subscribe("c1", tag1, 2, EVENT)), 481);
	hr_sub_changed(the_sub());
	n = next_notify();
	ck_assert(strstr(n, "\r\nCall-ID: c2\r\n"));
	answer(n, 200);
	/* a +sip.instance identifies the device whatever its Contact */
	ck_assert_uint_eq(status(subscribe("c3", NULL, 1, EVENT
		"Contact: <sip:bob@192.0.2.20>;+sip.instance=\"<urn:uuid:9>\"\r\n")),
		200);
	answer(next_notify(), 200);
	ck_assert_uint_eq(status(subscribe("c4", NULL, 1, EVENT
		"Contact: <sip:bob@192.0.2.21>;+sip.instance=\"<urn:uuid:9>\"\r\n")),
		200);
	answer(next_notify(), 200);
	ck_assert_uint_eq(hr_events_count(ev), 2);
}
END_TEST

/* An unsubscribe of a dialog being replaced meanwhile: it no longer
 * exists once its replacement is stored (481, not a 200 with no final
 * NOTIFY), and a refresh does not bring its row back. */
START_TEST(test_replace_race)
{
	char tag[64], hdrs[64];
	const char *r1, *r2;

	subscribed("c1", tag, sizeof(tag));
	/* _i: an unsubscribe, then a refresh */
	snprintf(hdrs, sizeof(hdrs), EVENT "Expires: %d\r\n", _i ? 300 : 0);
	subscribe_send("c2", NULL, 1, EVENT CONTACT);
	subscribe_send("c1", tag, 2, hdrs);
	r1 = next_resp();
	r2 = next_resp();
	ck_assert_ptr_nonnull(r1);
	ck_assert_ptr_nonnull(r2);
	ck_assert_msg(strstr(r1, "Call-ID: c2\r\n") && status(r1) == 200, "%s",
		r1);
	ck_assert_msg(status(r2) == 481, "%s", r2);
	drain();
	ck_assert_int_eq(count("SELECT count(*) FROM subscriptions"), 1);
	ck_assert_uint_eq(hr_events_count(ev), 1);
}
END_TEST

START_TEST(test_throttle)
{
	char tag[64];

	drain();
	hr_mem_deref(ev);
	ecfg.throttle_ms = 1000;
	events_open();
	subscribed("c1", tag, sizeof(tag));
	hr_sub_changed(the_sub());
	hr_sub_changed(the_sub());
	cap_wait(cap.n + 1);
	ck_assert_uint_eq(pending_notifies(), 0);
	hr_clock_advance(999);
	hr_tmr_poll();
	ck_assert_uint_eq(pending_notifies(), 0);
	hr_clock_advance(1);
	hr_tmr_poll();
	ck_assert_uint_eq(pending_notifies(), 1);
	answer(next_notify(), 200);
}
END_TEST

/* A restart: the dialog goes on, CSeq and version past what was
 * reserved, and the next NOTIFY has the whole state. */
START_TEST(test_recovery)
{
	char tag[64], v[128];
	const char *r, *n;

	subscribed("c1", tag, sizeof(tag));
	drain();
	ev = hr_mem_deref(ev);
	ck_assert_int_eq(count("SELECT count(*) FROM subscriptions"), 1);
	events_open();
	ck_assert_uint_eq(hr_events_count(ev), 1);
	hr_sub_changed(the_sub());
	n = next_notify();
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(hdr(n, "CSeq", v, sizeof(v)), "101 NOTIFY");
	ck_assert_str_eq(body(n), "v=100 full");
	answer(n, 200);
	ck_assert_int_ge(count("SELECT cseq_reserved FROM subscriptions"), 101);
	ck_assert_int_ge(count("SELECT version_reserved FROM subscriptions"),
		100);
	r = subscribe("c1", tag, 2, EVENT);
	ck_assert_msg(status(r) == 200, "%s", r);
	n = next_notify();
	ck_assert_str_eq(hdr(n, "CSeq", v, sizeof(v)), "102 NOTIFY");
	answer(n, 200);
	/* the expiry timer came back too */
	hr_clock_advance(601 * 1000);
	hr_tmr_poll();
	n = next_notify();
	ck_assert_str_eq(hdr(n, "Subscription-State", v, sizeof(v)),
		"terminated;reason=timeout");
}
END_TEST

/* CSeqs run on through many reservations, each one in the store first. */
START_TEST(test_reservations)
{
	char tag[64], v[64], want[64];

	subscribed("c1", tag, sizeof(tag));
	for (unsigned i = 2; i <= 350; i++) {
		const char *n;

		hr_sub_changed(the_sub());
		n = next_notify();
		ck_assert_ptr_nonnull(n);
		snprintf(want, sizeof(want), "%u NOTIFY", i);
		ck_assert_str_eq(hdr(n, "CSeq", v, sizeof(v)), want);
		ck_assert_int_ge(count("SELECT cseq_reserved FROM "
			"subscriptions"), i);
		answer(n, 200);
	}
}
END_TEST

START_TEST(test_routes)
{
	char v[256], a[64];
	const char *n, *r;

	/* loose routing: to the first route, the Contact as Request-URI */
	r = subscribe("c1", NULL, 1, EVENT CONTACT
		"Record-Route: <sip:192.0.2.50;lr>\r\n"
		"Record-Route: <sip:192.0.2.51:5070;lr>\r\n");
	ck_assert_msg(status(r) == 200, "%s", r);
	ck_assert(strstr(r, "Record-Route: <sip:192.0.2.50;lr>\r\n"));
	n = next_notify();
	ck_assert_msg(starts(n, "NOTIFY sip:bob@192.0.2.1:5060 "), "%s", n);
	ck_assert_str_eq(hdr(n, "Route", v, sizeof(v)),
		"<sip:192.0.2.50;lr>,<sip:192.0.2.51:5070;lr>");
	ck_assert_str_eq(hr_sa_print(&cap.dst[cap.n - 1], a, sizeof(a)),
		"192.0.2.50:5060");
	answer(n, 200);
	/* a strict router becomes the Request-URI */
	r = subscribe("c2", NULL, 1, EVENT
		"Contact: <sip:bob@192.0.2.2:5060>\r\n"
		"Record-Route: <sip:192.0.2.60>\r\n");
	n = next_notify();
	ck_assert_msg(starts(n, "NOTIFY sip:192.0.2.60 "), "%s", n);
	ck_assert_str_eq(hdr(n, "Route", v, sizeof(v)),
		"<sip:bob@192.0.2.2:5060>");
	answer(n, 200);
}
END_TEST

START_TEST(test_to_source)
{
	char a[64];
	const char *n;

	drain();
	hr_mem_deref(ev);
	ecfg.notify_to_source = true;
	events_open();
	ck_assert_uint_eq(status(subscribe("c1", NULL, 1, EVENT
		"Contact: <sip:bob@10.0.0.5:5099>\r\n")), 200);
	n = next_notify();
	ck_assert_msg(starts(n, "NOTIFY sip:bob@10.0.0.5:5099 "), "%s", n);
	ck_assert_str_eq(hr_sa_print(&cap.dst[cap.n - 1], a, sizeof(a)),
		"192.0.2.1:5060");
	answer(n, 200);
}
END_TEST

/* Two subscriptions in one dialog, told apart by the Event id. */
START_TEST(test_event_id)
{
	char tag[64];
	const char *r, *n;

	r = subscribe("c1", NULL, 1, "Event: test;id=1\r\n" CONTACT);
	ck_assert_uint_eq(status(r), 200);
	totag_of(r, tag, sizeof(tag));
	n = next_notify();
	ck_assert(strstr(n, "\r\nEvent: test;id=1\r\n"));
	answer(n, 200);
	ck_assert_uint_eq(status(subscribe("c1", tag, 2,
		"Event: test;id=2\r\n")), 481);
	ck_assert_uint_eq(status(subscribe("c1", tag, 2,
		"Event: test;id=1\r\n")), 200);
	answer(next_notify(), 200);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("events");
	TCase *tc = tcase_create("pg");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_subscribe);
	tcase_add_test(tc, test_pending_then_active);
	tcase_add_test(tc, test_merge);
	tcase_add_loop_test(tc, test_notify_failure, 0,
		sizeof(failures) / sizeof(failures[0]));
	tcase_add_test(tc, test_notify_timeout);
	tcase_add_test(tc, test_unsubscribe_and_new_in_flight);
	tcase_add_test(tc, test_expiry);
	tcase_add_test(tc, test_expiry_whole);
	tcase_add_loop_test(tc, test_terminate, 0,
		sizeof(reasons) / sizeof(reasons[0]));
	tcase_add_test(tc, test_terminate_in_flight);
	tcase_add_test(tc, test_refresh_unsubscribe);
	tcase_add_test(tc, test_fetch);
	tcase_add_loop_test(tc, test_errors, 0,
		sizeof(errors) / sizeof(errors[0]));
	tcase_add_test(tc, test_other_domain);
	tcase_add_test(tc, test_limits);
	tcase_add_loop_test(tc, test_limits_burst, 0, 2);
	tcase_add_test(tc, test_auth_watcher);
	tcase_add_test(tc, test_auth_monitor);
	tcase_add_test(tc, test_replace);
	tcase_add_loop_test(tc, test_replace_race, 0, 2);
	tcase_add_test(tc, test_throttle);
	tcase_add_test(tc, test_recovery);
	tcase_add_test(tc, test_reservations);
	tcase_add_test(tc, test_routes);
	tcase_add_test(tc, test_to_source);
	tcase_add_test(tc, test_event_id);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pgdb_main(suite);
}
