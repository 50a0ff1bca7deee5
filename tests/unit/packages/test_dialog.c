/*
 * server/packages/dialog.c: the dialog package (RFC 4235), busy lamps.
 * alice's line is PUBLISHed (RFC 3903) as a proxy would, one publication
 * per call; bob watches it (Event: dialog) and the NOTIFYs he gets are
 * read back with hr_dinfo_parse: the merge of the publications, a state
 * that never goes back, a terminated dialog shown once, privacy of the
 * other party, and the rate limit of a line's NOTIFYs. Requests go
 * through a socketless SIP stack into a real store (PostgreSQL from
 * HERALD_TEST_DATABASE_URL, a throwaway database per test; skipped
 * without one). Authentication is off: a watcher is its From URI's
 * user@host.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "packages/dialog.h"
#include "xml/xml.h"
#include "pgdb.h"
#include "events/evfix.h"

#define SIPCAP_MAX 1024
#include "sip/sipcap.h"

#define MD5 "0123456789abcdef0123456789abcdef"
#define ALICE "alice@example.test"
#define BOB "bob@example.test"
#define TOMB_MS (64 * HR_SIP_T1)

static struct pgdb db;
static struct hr_store *store;
static struct hr_userdb *users;
static struct hr_sip *sip;
static struct hr_events *ev;
static struct hr_presence *pres;
static struct hr_dlgpkg *dlg;
static struct hr_dlgpkg_cfg dcfg;
static const char *target = ALICE;   /* Request-URI and To */

#include "pkgfix.h"

static void open_all(void)
{
	struct hr_realm_cfg rl = evfix_realm();
	struct hr_events_cfg ecfg;
	struct hr_presence_cfg pcfg;

	rl.existsh = hr_userdb_exists;
	rl.users = users;
	hr_events_cfg_default(&ecfg);
	ck_assert_int_eq(hr_realm_alloc(&ecfg.realm, &rl), 0);
	ck_assert_int_eq(hr_events_alloc(&ev, sip, store, &ecfg), 0);
	hr_presence_cfg_default(&pcfg);
	pcfg.realm = ecfg.realm;
	pcfg.interval_ms = 0;
	ck_assert_int_eq(hr_presence_alloc(&pres, sip, store, ev, NULL,
		&pcfg), 0);
	dcfg.realm = ecfg.realm;
	ck_assert_int_eq(hr_dlgpkg_alloc(&dlg, sip, store, ev, pres, &dcfg),
		0);
	hr_mem_deref(ecfg.realm);  /* theirs now */
	ck_assert_int_eq(hr_presence_load(pres), 0);
	ck_assert_int_eq(hr_dlgpkg_load(dlg), 0);
	ck_assert_int_eq(hr_events_load(ev), 0);
}

static void close_all(void)
{
	/* the store first: it delivers what is in flight */
	store = hr_mem_deref(store);
	ev = hr_mem_deref(ev);
	dlg = hr_mem_deref(dlg);
	pres = hr_mem_deref(pres);
}

/* Reopen the packages and the notifier with dcfg (on the same database). */
static void reopen(void)
{
	pgdb_drain(store, 3000);
	close_all();
	ck_assert_int_eq(hr_store_alloc(&store, &(struct hr_store_cfg){
		.url = db.url, .queue_max = 20000, .wait_ms = 5000,
		.batch_max = 500 }), 0);
	open_all();
}

static void setup(void)
{
	static const char *const who[] = { "alice", "bob", "dave" };

	store = pgdb_open(&db, "tdlg_");
	ck_assert_int_eq(hr_userdb_alloc(&users), 0);
	for (unsigned i = 0; i < sizeof(who) / sizeof(who[0]); i++)
		ck_assert_int_eq(hr_userdb_put(users, who[i], "example.test",
			MD5, MD5 MD5), 0);
	ck_assert_int_eq(hr_userdb_put(users, "carol", "other.test", MD5,
		MD5 MD5), 0);
	sip = cap_sip(3000, true);
	hr_dlgpkg_cfg_default(&dcfg);
	dcfg.interval_ms = 0;
	open_all();
}

static void teardown(void)
{
	cap_clear();
	target = ALICE;
	close_all();
	sip = hr_mem_deref(sip);
	users = hr_mem_deref(users);
	pgdb_close(&db);
}

/* ---- messages ---- */

static const char *watch(const char *who, const char *callid)
{
	return request("SUBSCRIBE", who, callid, "Event: dialog\r\n"
		"Contact: <sip:w@192.0.2.1:5060>\r\nExpires: 600\r\n", "");
}

/* ---- dialog-info ---- */

/* alice's line with one dialog id in state, alice's side named local
 * (<local><identity>), the other party carol. */
static const char *dlg_doc(const char *id, const char *state,
	const char *local)
{
	static char d[1024];

	snprintf(d, sizeof(d), "<?xml version=\"1.0\"?><dialog-info "
		"xmlns=\"urn:ietf:params:xml:ns:dialog-info\" version=\"0\" "
		"state=\"full\" entity=\"sip:" ALICE "\"><dialog id=\"%s\" "
		"direction=\"recipient\"><state>%s</state><local><identity>"
		"sip:%s</identity></local><remote><identity>sip:carol@"
		"other.test</identity></remote></dialog></dialog-info>", id,
		state, local);
	return d;
}

#define DLG_HDRS "Event: dialog\r\n" \
	"Content-Type: application/dialog-info+xml\r\n"

/* The proxy PUBLISHes for alice; its response is not waited for. */
static void publish_send(const char *ifmatch, const char *exp,
	const char *doc)
{
	publish_from(ALICE, DLG_HDRS, ifmatch, exp, doc);
}

/* A new publication (etag NULL) or a modify of etag's with dialog id in
 * state: 200, and etag (when not NULL) gets the new entity-tag. */
static void publish(char *etag, const char *id, const char *state,
	const char *local)
{
	char v[64];

	publish_send(etag && *etag ? etag : NULL, NULL,
		dlg_doc(id, state, local));
	published(200, v, sizeof(v));
	if (etag)
		strcpy(etag, v);
}

/* The publication of etag removed (Expires: 0). */
static void unpublish(const char *etag)
{
	publish_send(etag, "0", NULL);
	published(200, NULL, 0);
}

/* A NOTIFY's dialogs as "id=state id=state" in document order (the
 * body checked by hr_dinfo_parse; "" for none). */
static const char *lamps(const char *notify)
{
	static char s[1024];
	const char *b = body(notify);
	struct hr_dinfo *d;
	const char *why = NULL;
	size_t len = 0;

	ck_assert_msg(hr_dinfo_parse(&d, b, strlen(b), &why) == 0, "%s: %s",
		why ? why : "", notify);
	ck_assert_str_eq(hr_dinfo_entity(d), "sip:" ALICE);
	ck_assert(hr_dinfo_full(d));
	s[0] = '\0';
	for (unsigned i = 0; i < hr_dinfo_ndialogs(d); i++)
		len += (size_t)snprintf(s + len, sizeof(s) - len, "%s%s=%s",
			i ? " " : "", hr_dinfo_id(d, i),
			hr_dlg_state_name(hr_dinfo_state(d, i)));
	hr_mem_deref(d);
	return s;
}

/* A NOTIFY's <dialog-info version> */
static unsigned version(const char *notify)
{
	const char *p = strstr(body(notify), "<dialog-info ");

	ck_assert_ptr_nonnull(p);
	p = strstr(p, " version=\"");
	ck_assert_ptr_nonnull(p);
	return (unsigned)atoi(p + 10);
}

/* bob's next NOTIFY shows these lamps. */
static const char *sees(const char *want)
{
	const char *n = notified();

	ck_assert_msg(!strcmp(lamps(n), want), "want \"%s\", got \"%s\": %s",
		want, lamps(n), n);
	return n;
}

/* bob watches alice's line: its first NOTIFY shows these lamps. */
static void bob_watches(const char *want)
{
	ck_assert_uint_eq(status(watch(BOB, "w1")), 200);
	sees(want);
}

/* bob watches; call d1 reaches state first, then ends (publication etag,
 * modified): he sees each. */
static void call_ends(char *etag, const char *first)
{
	char want[64];

	bob_watches("");
	publish(etag, "d1", first, ALICE);
	snprintf(want, sizeof(want), "d1=%s", first);
	sees(want);
	publish(etag, "d1", "terminated", ALICE);
	sees("d1=terminated");
}

/* ---- tests ---- */

/* Two calls, one publication each: both dialogs shown, each in its own
 * state (early and confirmed from two calls at once). */
START_TEST(test_two_calls)
{
	char e1[64] = "", e2[64] = "";
	unsigned v1, v2;
	char v[128];
	const char *n;

	bob_watches("");
	publish(e1, "d1", "early", ALICE);
	sees("d1=early");
	publish(e2, "d2", "confirmed", ALICE);
	n = sees("d1=early d2=confirmed");
	ck_assert_uint_eq(hr_dlgpkg_count(dlg), 2);
	v1 = version(n);
	/* the first call answered: both confirmed */
	publish(e1, "d1", "confirmed", ALICE);
	n = sees("d1=confirmed d2=confirmed");
	v2 = version(n);
	ck_assert_uint_gt(v2, v1);
	ck_assert_str_eq(hdr(n, "Content-Type", v, sizeof(v)),
		"application/dialog-info+xml");
	ck_assert_uint_eq(untaken_notifies(), 0);
}
END_TEST

/* A state never goes back: early, terminated, then a late early of the
 * same call changes nothing the watcher sees (no NOTIFY); a new call
 * afterwards shows alone, and keeps confirmed against a late early. */
START_TEST(test_no_going_back)
{
	char e1[64] = "", e2[64] = "";

	call_ends(e1, "early");
	/* the "early" overtaken on the way arrives last */
	publish(e1, "d1", "early", ALICE);
	ck_assert_uint_eq(untaken_notifies(), 0);
	publish(e2, "d2", "early", ALICE);
	sees("d2=early");
	/* nor does a live call's: answered, then a late early */
	publish(e2, "d2", "confirmed", ALICE);
	sees("d2=confirmed");
	publish(e2, "d2", "early", ALICE);
	ck_assert_uint_eq(untaken_notifies(), 0);
}
END_TEST

/* Two publications name one dialog: the furthest state wins whichever
 * came last; of two equal states, the newer publication's content. */
START_TEST(test_furthest_wins)
{
	char ea[64] = "", eb[64] = "";
	const char *n;

	bob_watches("");
	publish(eb, "d1", "confirmed", "from-b@example.test");
	n = sees("d1=confirmed");
	ck_assert_msg(strstr(body(n), "from-b"), "%s", n);
	/* a stale "early" from another publisher: nothing moves */
	publish(ea, "d1", "early", "from-a@example.test");
	ck_assert_uint_eq(untaken_notifies(), 0);
	/* the same state, newer: its content */
	publish(ea, "d1", "confirmed", "newer-a@example.test");
	n = sees("d1=confirmed");
	ck_assert_msg(strstr(body(n), "newer-a") && !strstr(body(n),
		"from-b"), "%s", n);
	/* and b's again once it is the newer */
	publish(eb, "d1", "confirmed", "newer-b@example.test");
	n = sees("d1=confirmed");
	ck_assert_msg(strstr(body(n), "newer-b") && !strstr(body(n),
		"newer-a"), "%s", n);
	/* the furthest wins over the newer */
	publish(eb, "d1", "terminated", "end-b@example.test");
	n = sees("d1=terminated");
	ck_assert_msg(strstr(body(n), "end-b"), "%s", n);
	publish(ea, "d1", "confirmed", "late-a@example.test");
	ck_assert_uint_eq(untaken_notifies(), 0);
}
END_TEST

/* A terminated dialog is shown once, then dropped at the next change;
 * its id is remembered while a publication names it (a late early does
 * not bring it back) and forgotten 64*T1 after none does: then the same
 * id is a new dialog. */
START_TEST(test_terminated_once)
{
	char e1[64] = "", e2[64] = "", e3[64] = "";

	call_ends(e1, "confirmed");
	/* the next change: d1 is gone */
	publish(e2, "d2", "early", ALICE);
	sees("d2=early");
	/* named by a live publication still: a late early stays hidden */
	publish(e3, "d1", "early", ALICE);
	ck_assert_uint_eq(untaken_notifies(), 0);
	hr_clock_advance(TOMB_MS / 2);
	drain();
	/* no publication names it now; half 64*T1 on, still remembered */
	unpublish(e3);
	publish(e1, "d9", "trying", ALICE);
	sees("d2=early d9=trying");
	e3[0] = '\0';
	publish(e3, "d1", "early", ALICE);
	ck_assert_uint_eq(untaken_notifies(), 0);
	unpublish(e3);
	ck_assert_uint_eq(untaken_notifies(), 0);
	/* 64*T1 after the last publication naming it went */
	hr_clock_advance(TOMB_MS + 1000);
	drain();
	ck_assert_uint_eq(untaken_notifies(), 0);
	e3[0] = '\0';
	publish(e3, "d1", "early", ALICE);
	sees("d2=early d9=trying d1=early");
}
END_TEST

/*
 * A terminated dialog's id is remembered while any publication still
 * names it and 64*T1 after the last one went, not 64*T1 after it was
 * shown: a terminated publication that stays live longer than 64*T1,
 * removed, then a late "early" of the same call: the lamp stays off.
 */
START_TEST(test_remembered_after_last_pub)
{
	char e1[64] = "", e2[64] = "";

	call_ends(e1, "early");
	/* the terminated publication stays live past 64*T1 */
	hr_clock_advance(TOMB_MS + 5000);
	drain();
	ck_assert_uint_eq(untaken_notifies(), 0);
	unpublish(e1);
	ck_assert_uint_eq(untaken_notifies(), 0);
	/* within 64*T1 of the last publication naming it */
	hr_clock_advance(1000);
	publish(e2, "d1", "early", ALICE);
	ck_assert_msg(untaken_notifies() == 0, "the ended call d1 shown "
		"again, 1 s after its last publication went: %s",
		lamps(take(is_notify)));
}
END_TEST

/* A publication removed takes its dialogs with it. */
START_TEST(test_removed)
{
	char e1[64] = "", e2[64] = "";

	bob_watches("");
	publish(e1, "d1", "confirmed", ALICE);
	sees("d1=confirmed");
	publish(e2, "d2", "early", ALICE);
	sees("d1=confirmed d2=early");
	unpublish(e1);
	sees("d2=early");
	ck_assert_uint_eq(hr_dlgpkg_count(dlg), 1);
	unpublish(e2);
	sees("");
	ck_assert_uint_eq(hr_dlgpkg_count(dlg), 0);
	drain();
	ck_assert_int_eq(pgdb_count(db.url, "SELECT count(*) FROM "
		"publications"), 0);
}
END_TEST

static int priv_err = -1;

static void priv_done(int err, void *arg)
{
	(void)arg;
	priv_err = err;
}

/* line's rule for watcher set, stored and in force */
static void privacy(const char *watcher, enum hr_dlg_privacy p)
{
	priv_err = -1;
	ck_assert_int_eq(hr_dlgpkg_privacy(dlg, ALICE, watcher, p, priv_done,
		NULL), 0);
	drain();
	ck_assert_int_eq(priv_err, 0);
}

/* A "state" rule takes the other party out of bob's NOTIFYs (at once),
 * "identity" brings it back; what applies to whom. */
START_TEST(test_privacy)
{
	char e1[64] = "";
	const char *n;

	bob_watches("");
	publish(e1, "d1", "confirmed", ALICE);
	n = sees("d1=confirmed");
	ck_assert_msg(strstr(body(n), "<remote>") &&
		strstr(body(n), "carol@other.test"), "%s", n);
	ck_assert_int_eq(hr_dlgpkg_privacy_get(dlg, ALICE, BOB),
		HR_DLG_PRIV_IDENTITY);
	privacy(BOB, HR_DLG_PRIV_STATE);
	n = sees("d1=confirmed");
	ck_assert_msg(!strstr(body(n), "<remote") &&
		!strstr(body(n), "carol@other.test") &&
		strstr(body(n), "<local>"), "%s", n);
	publish(e1, "d1", "terminated", ALICE);
	n = sees("d1=terminated");
	ck_assert_msg(!strstr(body(n), "carol@other.test"), "%s", n);
	ck_assert_int_eq(pgdb_count(db.url, "SELECT count(*) FROM rules "
		"WHERE package = 'dialog'"), 1);
	/* what applies: the own line, the watcher's rule, the domain's */
	ck_assert_int_eq(hr_dlgpkg_privacy_get(dlg, ALICE, BOB),
		HR_DLG_PRIV_STATE);
	privacy("example.test", HR_DLG_PRIV_STATE);
	privacy(BOB, HR_DLG_PRIV_IDENTITY);
	ck_assert_int_eq(hr_dlgpkg_privacy_get(dlg, ALICE, BOB),
		HR_DLG_PRIV_IDENTITY);
	ck_assert_int_eq(hr_dlgpkg_privacy_get(dlg, ALICE,
		"dave@example.test"), HR_DLG_PRIV_STATE);
	ck_assert_int_eq(hr_dlgpkg_privacy_get(dlg, ALICE, ALICE),
		HR_DLG_PRIV_IDENTITY);
	ck_assert_int_eq(hr_dlgpkg_privacy_get(dlg, ALICE, "carol@other.test"),
		HR_DLG_PRIV_IDENTITY);
	ck_assert_int_eq(hr_dlgpkg_privacy_get(dlg, "dave@example.test", BOB),
		HR_DLG_PRIV_IDENTITY);
	/* the default, and the rules back after a restart */
	dcfg.privacy = HR_DLG_PRIV_STATE;
	reopen();
	ck_assert_int_eq(hr_dlgpkg_privacy_get(dlg, ALICE, "carol@other.test"),
		HR_DLG_PRIV_STATE);
	ck_assert_int_eq(hr_dlgpkg_privacy_get(dlg, ALICE, BOB),
		HR_DLG_PRIV_IDENTITY);
	ck_assert_int_eq(hr_dlgpkg_privacy_get(dlg, ALICE,
		"dave@example.test"), HR_DLG_PRIV_STATE);
	privacy("example.test", HR_DLG_PRIV_NONE);
	ck_assert_int_eq(hr_dlgpkg_privacy_get(dlg, ALICE,
		"dave@example.test"), HR_DLG_PRIV_STATE);
	ck_assert_int_eq(hr_dlgpkg_privacy(dlg, ALICE, BOB,
		(enum hr_dlg_privacy)7, NULL, NULL), EINVAL);
}
END_TEST

#define INTERVAL 100

/* A burst of PUBLISHes within the interval: one NOTIFY, the newest. */
START_TEST(test_burst)
{
	char e1[64] = "", e2[64] = "";

	dcfg.interval_ms = INTERVAL;
	reopen();
	bob_watches("");
	publish(e1, "d1", "trying", ALICE);
	publish(e1, "d1", "early", ALICE);
	publish(e2, "d2", "confirmed", ALICE);
	publish(e1, "d1", "confirmed", ALICE);
	ck_assert_uint_eq(untaken_notifies(), 0);
	hr_clock_advance(INTERVAL);
	hr_tmr_poll();
	/* first seen first: in one round, the older publication's first */
	sees("d2=confirmed d1=confirmed");
	ck_assert_uint_eq(untaken_notifies(), 0);
	/* the next change: its own round, an interval on */
	publish(e2, "d2", "terminated", ALICE);
	ck_assert_uint_eq(untaken_notifies(), 0);
	hr_clock_advance(INTERVAL);
	hr_tmr_poll();
	sees("d2=terminated d1=confirmed");
	ck_assert_uint_eq(untaken_notifies(), 0);
}
END_TEST

/* A NOTIFY composed while a round is due (a new watcher's first) does
 * not use up a terminated dialog: the watchers the round tells see it
 * ended too (dialog-fanout's benchmark saw a third of its NOTIFYs empty:
 * the terminated dialog hidden from all but the first composed). */
START_TEST(test_terminated_for_all)
{
	char e1[64] = "";
	const char *n;

	dcfg.interval_ms = INTERVAL;
	reopen();
	bob_watches("");
	publish(e1, "d1", "early", ALICE);
	hr_clock_advance(INTERVAL);
	hr_tmr_poll();
	sees("d1=early");
	publish(e1, "d1", "terminated", ALICE);
	ck_assert_uint_eq(untaken_notifies(), 0);
	/* dave comes while the round is due: his first NOTIFY has it */
	ck_assert_uint_eq(status(watch("dave@example.test", "w2")), 200);
	n = notified();
	ck_assert_str_eq(lamps(n), "d1=terminated");
	hr_clock_advance(INTERVAL);
	hr_tmr_poll();
	/* bob, told at the round, sees the call end */
	sees("d1=terminated");
	ck_assert_uint_eq(untaken_notifies(), 0);
}
END_TEST

/* While an ended dialog's id waits to be forgotten (the line's timer
 * runs for that), a NOTIFY composed with no round due shows what the
 * last round showed: the call that just ended, not an empty line. */
START_TEST(test_compose_between_rounds)
{
	char e1[64] = "";

	dcfg.interval_ms = INTERVAL;
	reopen();
	bob_watches("");
	publish(e1, "d1", "terminated", ALICE);
	hr_clock_advance(INTERVAL);
	hr_tmr_poll();
	sees("d1=terminated");
	/* the same publication, a new call: d1 waits to be forgotten */
	publish(e1, "d2", "confirmed", ALICE);
	hr_clock_advance(INTERVAL);
	hr_tmr_poll();
	sees("d2=confirmed");
	publish(e1, "d2", "terminated", ALICE);
	hr_clock_advance(INTERVAL);
	hr_tmr_poll();
	sees("d2=terminated");
	/* no round due: dave gets what bob got */
	ck_assert_uint_eq(status(watch("dave@example.test", "w2")), 200);
	ck_assert_str_eq(lamps(notified()), "d2=terminated");
	ck_assert_uint_eq(untaken_notifies(), 0);
}
END_TEST

/* PUBLISHes 5 ms apart for 2 s: still a NOTIFY at least every interval
 * (each change must not push the line's round back). */
START_TEST(test_stream)
{
	uint64_t start, last, gap = 0;
	unsigned notifies = 0;
	char e1[64] = "", id[16];

	dcfg.interval_ms = INTERVAL;
	reopen();
	bob_watches("");
	start = last = hr_now_ms();
	for (unsigned i = 0; i < 400; i++) {
		snprintf(id, sizeof(id), "s%u", i);
		publish(e1, id, "confirmed", ALICE);
		hr_clock_advance(5);
		drain();
		while (pending_notifies()) {
			notified();
			notifies++;
			if (hr_now_ms() - last > gap)
				gap = hr_now_ms() - last;
			last = hr_now_ms();
		}
	}
	/* and none missing at the end */
	if (hr_now_ms() - last > gap)
		gap = hr_now_ms() - last;
	ck_assert_msg(gap <= INTERVAL + 5, "%u NOTIFYs in %u ms, one gap of "
		"%u ms", notifies, (unsigned)(hr_now_ms() - start),
		(unsigned)gap);
	ck_assert_uint_ge(notifies, 2000 / INTERVAL - 1);
	ck_assert_uint_le(notifies, 2000 / INTERVAL + 1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dialog");
	TCase *tc = tcase_create("pg");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_two_calls);
	tcase_add_test(tc, test_no_going_back);
	tcase_add_test(tc, test_furthest_wins);
	tcase_add_test(tc, test_terminated_once);
	tcase_add_test(tc, test_remembered_after_last_pub);
	tcase_add_test(tc, test_removed);
	tcase_add_test(tc, test_privacy);
	tcase_add_test(tc, test_burst);
	tcase_add_test(tc, test_terminated_for_all);
	tcase_add_test(tc, test_compose_between_rounds);
	tcase_add_test(tc, test_stream);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pgdb_main(suite);
}
