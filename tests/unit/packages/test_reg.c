/*
 * server/packages/reg.c: the reg event package (RFC 3680) end to end, with
 * the registrar (server/registrar) as its source and the notifier
 * (server/events) in front. SUBSCRIBEs, REGISTERs and the answers to our
 * NOTIFYs go through a socketless SIP stack into a real store (PostgreSQL
 * from HERALD_TEST_DATABASE_URL, one throwaway database per test; skipped
 * without one). Every reginfo body is validated against RFC 3680's schema
 * (HR_XSD_DIR/reginfo.xsd) and read with XPath. Authentication is off:
 * a watcher is its From URI's user@host.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "packages/reg.h"
#include "check_run.h"
#include "pgdb.h"
#include "events/evfix.h"
#include "xml/xsd.h"

#define CTYPE "application/reginfo+xml"
#define MAX_CAP 512
#define SPINS 5000

#define MD5 "0123456789abcdef0123456789abcdef"
#define SHA MD5 MD5

#define A "alice@example.test"
#define B "bob@example.test"
#define REG "/r:reginfo/r:registration"
#define CT(uri) REG "/r:contact[r:uri='" uri "']"
#define U1 "sip:alice@192.0.2.1:5060"
#define U2 "sip:alice@192.0.2.2:5060"
#define U3 "sip:alice@192.0.2.3:5060"
#define INST "\"<urn:uuid:00000000-0000-0000-0000-00000000000a>\""

static struct pgdb db;
static struct hr_store *store;
static struct hr_userdb *users;
static struct hr_sip *sip;
static struct hr_registrar *reg;
static struct hr_events *ev;
static struct hr_regpkg *pkg;
static xmlSchemaPtr schema;
static unsigned branch;
/* Documents being looked at: a failed check leaves them to teardown. */
static xmlDocPtr docs[32];

/* Everything the stack "sent", decoded; used once looked at. */
static struct {
	struct hr_msg *m;
	bool used;
} caps[MAX_CAP];
static unsigned ncaps;

/* One watcher's dialog, as the watcher sees it. */
struct watch {
	const char *user;       /* From: sip:user@example.test */
	const char *res;        /* Request-URI: sip:res@example.test */
	unsigned port;          /* our Contact: sip:user@192.0.2.10:port */
	char callid[48];
	char ftag[17];          /* our From tag */
	char ttag[64];          /* the notifier's To-tag (from the 200) */
	uint32_t cseq;          /* of our last SUBSCRIBE */
	uint32_t ncseq;         /* the CSeq the next NOTIFY must carry */
	unsigned version;       /* the version the next body must carry */
};

/* One NOTIFY received. */
struct note {
	const struct hr_msg *m;
	struct hr_substate ss;
	xmlDocPtr doc;          /* its body, validated; NULL without one */
};

static int capture(enum hr_tp tp, const struct hr_sa *dst,
	struct hr_conn *conn, const char *p, size_t len, void *arg)
{
	struct hr_msg *m;

	(void)tp;
	(void)dst;
	(void)conn;
	(void)arg;
	ck_assert_uint_lt(ncaps, MAX_CAP);
	ck_assert_int_eq(hr_msg_decode(&m, p, len, false), 0);
	caps[ncaps].m = m;
	caps[ncaps].used = false;
	ncaps++;
	return 0;
}

/* ---- fixture ---- */

static void start(unsigned reserve)
{
	struct hr_registrar_cfg rcfg;
	struct hr_events_cfg ecfg;
	struct hr_regpkg_cfg pcfg;
	struct hr_realm_cfg rlcfg = evfix_realm();
	struct hr_realm *realm;

	schema = xsd_load("reginfo.xsd");
	store = pgdb_open(&db, "tpkg_");
	ck_assert_int_eq(hr_userdb_alloc(&users), 0);
	ck_assert_int_eq(hr_userdb_put(users, "alice", "example.test", MD5,
		SHA), 0);
	ck_assert_int_eq(hr_userdb_put(users, "bob", "example.test", MD5,
		SHA), 0);
	ck_assert_int_eq(hr_userdb_put(users, "app", "example.test", MD5,
		SHA), 0);
	ck_assert_int_eq(hr_userdb_put(users, "app", "other.test", MD5,
		SHA), 0);
	ck_assert_int_eq(hr_sip_alloc(&sip, NULL), 0);
	hr_sip_set_send(sip, capture, NULL);

	rlcfg.existsh = hr_userdb_exists;
	rlcfg.monitorh = hr_userdb_is_monitor;
	rlcfg.users = users;
	ck_assert_int_eq(hr_realm_alloc(&realm, &rlcfg), 0);
	hr_registrar_cfg_default(&rcfg);
	rcfg.realm = realm;
	ck_assert_int_eq(hr_registrar_alloc(&reg, sip, store, &rcfg), 0);

	hr_events_cfg_default(&ecfg);
	ecfg.realm = realm;
	ecfg.reserve = reserve;
	ck_assert_int_eq(hr_events_alloc(&ev, sip, store, &ecfg), 0);

	hr_regpkg_cfg_default(&pcfg);
	pcfg.realm = realm;
	ck_assert_int_eq(hr_regpkg_alloc(&pkg, ev, reg, store, &pcfg), 0);
	realm = hr_mem_deref(realm);  /* theirs now */
	ck_assert_int_eq(hr_regpkg_load(pkg), 0);
	ck_assert_int_eq(hr_registrar_load(reg), 0);
	ck_assert_int_eq(hr_events_load(ev), 0);
}

static void setup(void)
{
	start(100);
}

/* Reservations of 2 CSeqs and versions at a time: NOTIFYs keep waiting
 * for the store to move the marks on. */
static void setup_small(void)
{
	start(2);
}

static void spin(void)
{
	hr_loop_once();
	usleep(1000);
}

/* Run the loop until the store has handed back every completion. */
static void drain(void)
{
	for (int i = 0; i < SPINS && hr_store_queue_depth(store); i++)
		spin();
	ck_assert_uint_eq(hr_store_queue_depth(store), 0);
	hr_loop_once();
}

static void teardown(void)
{
	/* completions in flight would reach objects freed below */
	if (store)
		drain();
	for (unsigned i = 0; i < ncaps; i++)
		hr_mem_deref(caps[i].m);
	ncaps = 0;
	/* the store first (it delivers what is in flight), the notifier
	 * (its subscriptions call the package), the package (it unwatches
	 * the registrar), the registrar */
	store = hr_mem_deref(store);
	ev = hr_mem_deref(ev);
	pkg = hr_mem_deref(pkg);
	reg = hr_mem_deref(reg);
	sip = hr_mem_deref(sip);
	users = hr_mem_deref(users);
	for (unsigned i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		xmlFreeDoc(docs[i]);
		docs[i] = NULL;
	}
	xmlSchemaFree(schema);
	schema = NULL;
	pgdb_close(&db);
}

/* ---- what the stack sent ---- */

static bool is(const struct hr_pl *pl, const char *s)
{
	return !hr_pl_strcmp(pl, s);
}

/* The final response to our request callid/cseq, running the loop until
 * it comes. */
static const struct hr_msg *resp_wait(const char *callid, uint32_t cseq,
	enum hr_method meth)
{
	for (int i = 0; i < SPINS; i++) {
		for (unsigned k = 0; k < ncaps; k++) {
			const struct hr_msg *m = caps[k].m;

			if (caps[k].used || m->req || m->cseq.num != cseq ||
			    m->cseq.meth != meth || !is(&m->callid, callid))
				continue;
			caps[k].used = true;
			if (m->scode >= 200)
				return m;
		}
		spin();
	}
	ck_abort_msg("no answer to %s CSeq %u", callid, cseq);
	return NULL;
}

/* The next NOTIFY of callid not looked at yet, or NULL. */
static const struct hr_msg *notify_find(const char *callid)
{
	for (unsigned k = 0; k < ncaps; k++) {
		const struct hr_msg *m = caps[k].m;

		if (caps[k].used || !m->req || m->meth != HR_METH_NOTIFY ||
		    !is(&m->callid, callid))
			continue;
		caps[k].used = true;
		return m;
	}
	return NULL;
}

/* Nothing more for w once the store is idle. */
static void quiet(const struct watch *w)
{
	const struct hr_msg *m;

	drain();
	m = notify_find(w->callid);
	ck_assert_msg(m == NULL, "unexpected NOTIFY: %.*s",
		m ? (int)m->len : 0, m ? m->buf : "");
}

/* Answer a NOTIFY as its watcher would (RFC 3261 8.2.6). */
static void answer(const struct hr_msg *m, unsigned scode)
{
	const struct hr_hdr *via = hr_msg_hdr(m, HR_HDR_VIA),
		*from = hr_msg_hdr(m, HR_HDR_FROM),
		*to = hr_msg_hdr(m, HR_HDR_TO),
		*callid = hr_msg_hdr(m, HR_HDR_CALL_ID),
		*cseq = hr_msg_hdr(m, HR_HDR_CSEQ);
	char r[2048];
	struct hr_sa src;

	ck_assert(via && from && to && callid && cseq);
	snprintf(r, sizeof(r), "SIP/2.0 %u %s\r\nVia: %.*s\r\nFrom: %.*s\r\n"
		"To: %.*s\r\nCall-ID: %.*s\r\nCSeq: %.*s\r\n"
		"Content-Length: 0\r\n\r\n", scode, scode == 200 ? "OK" : "No",
		HR_PL_ARG(via->val), HR_PL_ARG(from->val), HR_PL_ARG(to->val),
		HR_PL_ARG(callid->val), HR_PL_ARG(cseq->val));
	hr_sa_set(&src, "192.0.2.10", 5060);
	hr_sip_recv_raw(sip, HR_TP_UDP, r, strlen(r), &src, NULL);
}

/* ---- reginfo documents ---- */

static void doc_keep(xmlDocPtr doc)
{
	for (unsigned i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		if (!docs[i]) {
			docs[i] = doc;
			return;
		}
	}
	xmlFreeDoc(doc);
	ck_abort_msg("more than %zu documents at once",
		sizeof(docs) / sizeof(docs[0]));
}

static void doc_free(xmlDocPtr doc)
{
	for (unsigned i = 0; doc && i < sizeof(docs) / sizeof(docs[0]); i++) {
		if (docs[i] == doc)
			docs[i] = NULL;
	}
	xmlFreeDoc(doc);
}

/* Parse (no network, no entities) and validate; the document is freed
 * by doc_free(), or by teardown after a failed check. */
static xmlDocPtr doc_valid(const struct hr_pl *body)
{
	xmlDocPtr doc = xsd_parse(body->p, body->len);

	doc_keep(doc);
	xsd_check(schema, doc, body->p, body->len);
	return doc;
}

/* ---- the watcher's side ---- */

static void watch_init(struct watch *w, const char *user, const char *res,
	unsigned port)
{
	char tok[9];

	memset(w, 0, sizeof(*w));
	w->user = user;
	w->res = res;
	w->port = port;
	hr_rand_token(tok, 8);
	snprintf(w->callid, sizeof(w->callid), "%s-%s-%s", user, res, tok);
	hr_rand_token(w->ftag, 16);
	w->ncseq = 1;
}

/* Send a SUBSCRIBE (in the dialog once there is one) and wait for its
 * final response; a 200 to the first one gives the dialog its To-tag. */
static const struct hr_msg *subscribe(struct watch *w, unsigned expires)
{
	char m[2048], totag[80] = "";
	const struct hr_msg *r;
	struct hr_sa src;

	w->cseq++;
	if (*w->ttag)
		snprintf(totag, sizeof(totag), ";tag=%s", w->ttag);
	snprintf(m, sizeof(m), "SUBSCRIBE sip:%s@example.test SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.10:%u;branch=z9hG4bKs%u\r\n"
		"Max-Forwards: 70\r\nTo: <sip:%s@example.test>%s\r\n"
		"From: <sip:%s@example.test>;tag=%s\r\nCall-ID: %s\r\n"
		"CSeq: %u SUBSCRIBE\r\nEvent: reg\r\nExpires: %u\r\n"
		"Contact: <sip:%s@192.0.2.10:%u>\r\nAccept: " CTYPE "\r\n"
		"Content-Length: 0\r\n\r\n", w->res, w->port, ++branch, w->res,
		totag, w->user, w->ftag, w->callid, w->cseq, expires, w->user,
		w->port);
	hr_sa_set(&src, "192.0.2.10", (uint16_t)w->port);
	hr_sip_recv_raw(sip, HR_TP_UDP, m, strlen(m), &src, NULL);
	r = resp_wait(w->callid, w->cseq, HR_METH_SUBSCRIBE);
	if (r->scode == 200 && !*w->ttag) {
		ck_assert_uint_gt(r->to.tag.len, 0);
		ck_assert_int_eq(hr_pl_strcpy(&r->to.tag, w->ttag,
			sizeof(w->ttag)), 0);
	}
	return r;
}

/* A 200 to a SUBSCRIBE: its To-tag, Expires and Contact (RFC 6665
 * 4.2.1.1, RFC 3261 12.1.1). */
static void subscribed(struct watch *w, unsigned expires)
{
	const struct hr_msg *r = subscribe(w, expires);

	ck_assert_msg(r->scode == 200, "%.*s", (int)r->len, r->buf);
	ck_assert(is(&r->to.tag, w->ttag));
	ck_assert(r->has_expires);
	ck_assert_uint_eq(r->expires, expires);
	ck_assert_ptr_nonnull(hr_msg_hdr(r, HR_HDR_CONTACT));
}

/*
 * The next NOTIFY in w's dialog, running the loop until it comes: its
 * dialog (From tag the To-tag of our 200, To tag our From tag, RFC 6665
 * 4.1.2), CSeqs one up each time, Event: reg, and a body that validates,
 * with versions 0, 1, 2, ... (RFC 3680 5.2).
 */
static void note_take(struct watch *w, struct note *n)
{
	const struct hr_msg *m = NULL;
	const struct hr_hdr *h;
	char ruri[128], want[16];

	for (int i = 0; i < SPINS && !(m = notify_find(w->callid)); i++)
		spin();
	ck_assert_msg(m != NULL, "%s: no NOTIFY", w->callid);
	memset(n, 0, sizeof(*n));
	n->m = m;
	snprintf(ruri, sizeof(ruri), "sip:%s@192.0.2.10:%u", w->user, w->port);
	ck_assert_msg(is(&m->ruri_pl, ruri), "%.*s", (int)m->len, m->buf);
	ck_assert_msg(is(&m->from.tag, w->ttag), "%.*s", (int)m->len, m->buf);
	ck_assert_msg(is(&m->to.tag, w->ftag), "%.*s", (int)m->len, m->buf);
	ck_assert_msg(m->cseq.num == w->ncseq, "CSeq %u, want %u",
		m->cseq.num, w->ncseq);
	w->ncseq++;
	h = hr_msg_hdr(m, HR_HDR_EVENT);
	ck_assert_ptr_nonnull(h);
	ck_assert(is(&h->val, "reg"));
	h = hr_msg_hdr(m, HR_HDR_SUBSCRIPTION_STATE);
	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(hr_substate_decode(&n->ss, &h->val), 0);
	if (!m->body.len) {
		ck_assert(!m->has_ctype);
		return;
	}
	ck_assert(m->has_ctype);
	ck_assert(hr_ctype_match(&m->ctype, "application", "reginfo+xml"));
	n->doc = doc_valid(&m->body);
	snprintf(want, sizeof(want), "%u", w->version++);
	xp_eq(n->doc, "/r:reginfo/@version", want);
	xp_count(n->doc, REG, 1);
	snprintf(ruri, sizeof(ruri), "sip:%s@example.test", w->res);
	xp_eq(n->doc, REG "/@aor", ruri);
}

static void note_state(const struct note *n, const char *state,
	int expires, const char *reason)
{
	ck_assert_msg(is(&n->ss.state, state), "Subscription-State %.*s",
		HR_PL_ARG(n->ss.state));
	/* -1: none; -2: not checked */
	if (expires >= 0) {
		ck_assert(n->ss.has_expires);
		ck_assert_uint_eq(n->ss.expires, (unsigned)expires);
	} else if (expires == -1) {
		ck_assert(!n->ss.has_expires);
	}
	if (reason)
		ck_assert_msg(is(&n->ss.reason, reason), "reason %.*s",
			HR_PL_ARG(n->ss.reason));
}

/* The document's state and its registration's. */
static void note_doc(const struct note *n, const char *state,
	const char *reg_state, unsigned ncontacts)
{
	ck_assert_ptr_nonnull(n->doc);
	xp_eq(n->doc, "/r:reginfo/@state", state);
	xp_eq(n->doc, REG "/@state", reg_state);
	xp_count(n->doc, REG "/r:contact", ncontacts);
}

static void note_done(struct note *n, bool reply)
{
	if (reply)
		answer(n->m, 200);
	doc_free(n->doc);
	n->doc = NULL;
}

/* Take the next NOTIFY of w, check its Subscription-State is active and
 * its body partial, and hand it back for more checks. */
static void partial(struct watch *w, struct note *n, const char *reg_state,
	unsigned ncontacts)
{
	note_take(w, n);
	ck_assert(is(&n->ss.state, "active"));
	note_doc(n, "partial", reg_state, ncontacts);
}

/*
 * Partial NOTIFYs, each answered, until every one of uris was told with
 * event: the changes of one REGISTER may be split over several (one
 * NOTIFY is in flight at a time; what follows the first is merged into
 * the next). reg_state, when set, is the last one's registration state.
 */
static void told(struct watch *w, const char *const *uris, unsigned n,
	const char *event, const char *reg_state)
{
	bool seen[8] = { false };
	unsigned left = n;
	struct note nt;
	char x[256];

	ck_assert_uint_le(n, 8);
	for (unsigned k = 0; left && k < n; k++) {
		note_take(w, &nt);
		note_state(&nt, "active", -2, NULL);
		xp_eq(nt.doc, "/r:reginfo/@state", "partial");
		for (unsigned i = 0; i < n; i++) {
			char cnt[16];

			snprintf(x, sizeof(x), "count(" REG "/r:contact[r:uri="
				"'%s'][@event='%s'])", uris[i], event);
			xp_str(nt.doc, x, cnt, sizeof(cnt));
			if (!strcmp(cnt, "1") && !seen[i]) {
				seen[i] = true;
				left--;
			}
		}
		if (!left && reg_state)
			xp_eq(nt.doc, REG "/@state", reg_state);
		note_done(&nt, true);
	}
	ck_assert_msg(!left, "%u of %u contacts not told %s", left, n, event);
}

/* ---- the registrar's side ---- */

static void reg_send(const char *callid, unsigned cseq, const char *hdrs)
{
	char m[16384];
	const struct hr_msg *r;
	struct hr_sa src;

	snprintf(m, sizeof(m), "REGISTER sip:example.test SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKr%u\r\n"
		"Max-Forwards: 70\r\nTo: <sip:" A ">\r\n"
		"From: <sip:" A ">;tag=rf\r\nCall-ID: %s\r\n"
		"CSeq: %u REGISTER\r\n%sContent-Length: 0\r\n\r\n", ++branch,
		callid, cseq, hdrs);
	hr_sa_set(&src, "192.0.2.1", 5060);
	hr_sip_recv_raw(sip, HR_TP_UDP, m, strlen(m), &src, NULL);
	r = resp_wait(callid, cseq, HR_METH_REGISTER);
	ck_assert_msg(r->scode == 200, "%.*s", (int)r->len, r->buf);
}

/* alice subscribed to herself, her first NOTIFY answered. */
static void alice_watches(struct watch *w)
{
	struct note n;

	watch_init(w, "alice", "alice", 5070);
	subscribed(w, 600);
	note_take(w, &n);
	note_state(&n, "active", 600, NULL);
	note_done(&n, true);
}

/* ---- tests ---- */

static void rule_done(int err, void *arg)
{
	*(int *)arg = err;
}

/* Set aor's rule for watcher and wait until it is stored and in force. */
static void rule(const char *aor, const char *watcher, enum hr_reg_rule r)
{
	int err = -1;

	ck_assert_int_eq(hr_regpkg_rule(pkg, aor, watcher, r, rule_done,
		&err), 0);
	for (int i = 0; i < SPINS && err < 0; i++)
		spin();
	ck_assert_int_eq(err, 0);
}

START_TEST(test_initial)
{
	struct watch w;
	const struct hr_msg *r;
	struct note n;

	watch_init(&w, "alice", "alice", 5070);
	r = subscribe(&w, 600);
	ck_assert_msg(r->scode == 200, "%.*s", (int)r->len, r->buf);
	ck_assert_uint_gt(r->to.tag.len, 0);
	ck_assert(r->has_expires);
	ck_assert_uint_eq(r->expires, 600);
	ck_assert_ptr_nonnull(hr_msg_hdr(r, HR_HDR_CONTACT));
	ck_assert_uint_eq(hr_events_count(ev), 1);

	/* RFC 6665 4.2.2: at once, with the whole (empty) state */
	note_take(&w, &n);
	ck_assert_uint_eq(n.m->cseq.num, 1);
	note_state(&n, "active", 600, NULL);
	note_doc(&n, "full", "init", 0);
	xp_eq(n.doc, "/r:reginfo/@version", "0");
	/* RFC 6665 4.1.2 / 8.1.1.8 of RFC 3261: the notifier's Contact */
	ck_assert_ptr_nonnull(hr_msg_hdr(n.m, HR_HDR_CONTACT));
	note_done(&n, true);
	quiet(&w);
}
END_TEST

/* RFC 3680 5.1 / 5.2: one partial document per change, with the contact's
 * new state and the event that made it. */
/* Twenty parameters on each of ten contacts, one of them longer than a
 * kilobyte: every one of them is in the document (a list of sixteen and
 * a buffer of 1024 bytes dropped the rest, and a growing list of
 * contacts left the first ones' parameters behind). */
#define P10 ";p0=0;p1=1;p2=2;p3=3;p4=4;p5=5;p6=6;p7=7;p8=8;p9=9"
#define P20 P10 ";q0=0;q1=1;q2=2;q3=3;q4=4;q5=5;q6=6;q7=7;q8=8"
#define LONGV "\"<urn:uuid:" X64 X64 X64 X64 X64 X64 X64 X64 ">\""
#define X64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

START_TEST(test_many_params)
{
	char hdrs[12000], xp[128];
	size_t len = 0;
	struct watch w;
	struct note n;

	for (unsigned i = 1; i <= 10; i++)
		len += (size_t)snprintf(hdrs + len, sizeof(hdrs) - len,
			"Contact: <sip:alice@192.0.2.%u:5060>" P20 ";long="
			LONGV "\r\n", i);
	ck_assert_uint_lt(len, sizeof(hdrs));
	reg_send("many", 1, hdrs);
	watch_init(&w, "alice", "alice", 5070);
	subscribed(&w, 600);
	note_take(&w, &n);
	note_state(&n, "active", 600, NULL);
	xp_count(n.doc, REG "/r:contact", 10);
	for (unsigned i = 1; i <= 10; i++) {
		snprintf(xp, sizeof(xp), REG "/r:contact[r:uri='sip:alice@"
			"192.0.2.%u:5060']/r:unknown-param", i);
		xp_count(n.doc, xp, 20);
	}
	xp_eq(n.doc, CT(U1) "/r:unknown-param[@name='q8']", "8");
	xp_eq(n.doc, CT(U1) "/r:unknown-param[@name='long']",
		"<urn:uuid:" X64 X64 X64 X64 X64 X64 X64 X64 ">");
	note_done(&n, true);
}
END_TEST

START_TEST(test_contact_events)
{
	struct watch w;
	struct note n;
	char id1[64], id2[64];

	alice_watches(&w);

	/* registered: every attribute the binding has */
	reg_send("r1", 1, "Contact: \"Alice\" <" U1 ">;foo=bar;"
		"+sip.instance=" INST ";q=0.5;expires=3600\r\n");
	partial(&w, &n, "active", 1);
	note_state(&n, "active", 600, NULL);
	xp_eq(n.doc, CT(U1) "/@state", "active");
	xp_eq(n.doc, CT(U1) "/@event", "registered");
	xp_eq(n.doc, CT(U1) "/@expires", "3600");
	xp_eq(n.doc, CT(U1) "/@duration-registered", "0");
	xp_eq(n.doc, CT(U1) "/@callid", "r1");
	xp_eq(n.doc, CT(U1) "/@cseq", "1");
	xp_eq(n.doc, CT(U1) "/@q", "0.5");
	xp_eq(n.doc, CT(U1) "/r:display-name", "Alice");
	/* RFC 3680 5.1: parameters RFC 3261 does not define, not expires
	 * nor q */
	xp_count(n.doc, CT(U1) "/r:unknown-param", 2);
	xp_eq(n.doc, CT(U1) "/r:unknown-param[@name='foo']", "bar");
	xp_eq(n.doc, CT(U1) "/r:unknown-param[@name='+sip.instance']",
		"<urn:uuid:00000000-0000-0000-0000-00000000000a>");
	xp_str(n.doc, CT(U1) "/@id", id1, sizeof(id1));
	ck_assert_uint_gt(strlen(id1), 0);
	note_done(&n, true);

	/* the same Call-ID, a higher CSeq, the same expiry: refreshed */
	reg_send("r1", 2, "Contact: \"Alice\" <" U1 ">;foo=bar;"
		"+sip.instance=" INST ";q=0.5;expires=3600\r\n");
	partial(&w, &n, "active", 1);
	xp_eq(n.doc, CT(U1) "/@id", id1);
	xp_eq(n.doc, CT(U1) "/@state", "active");
	xp_eq(n.doc, CT(U1) "/@event", "refreshed");
	xp_eq(n.doc, CT(U1) "/@cseq", "2");
	xp_eq(n.doc, CT(U1) "/@expires", "3600");
	note_done(&n, true);

	/* a shorter expiry: shortened, which MUST carry expires */
	reg_send("r1", 3, "Contact: \"Alice\" <" U1 ">;foo=bar;"
		"+sip.instance=" INST ";q=0.5;expires=1800\r\n");
	partial(&w, &n, "active", 1);
	xp_eq(n.doc, CT(U1) "/@id", id1);
	xp_eq(n.doc, CT(U1) "/@event", "shortened");
	xp_eq(n.doc, CT(U1) "/@expires", "1800");
	note_done(&n, true);

	/* a second contact: the partial document names only it */
	reg_send("r2", 1, "Contact: <" U2 ">;expires=60\r\n");
	partial(&w, &n, "active", 1);
	xp_eq(n.doc, CT(U2) "/@event", "registered");
	xp_eq(n.doc, CT(U2) "/@state", "active");
	xp_eq(n.doc, CT(U2) "/@expires", "60");
	xp_count(n.doc, CT(U2) "/@q", 0);
	xp_count(n.doc, CT(U2) "/r:display-name", 0);
	xp_count(n.doc, CT(U2) "/r:unknown-param", 0);
	xp_str(n.doc, CT(U2) "/@id", id2, sizeof(id2));
	ck_assert_str_ne(id1, id2);
	note_done(&n, true);

	/* removed by its owner: terminated, unregistered, no expires */
	reg_send("r1", 4, "Contact: <" U1 ">;+sip.instance=" INST
		";expires=0\r\n");
	partial(&w, &n, "active", 1);
	xp_eq(n.doc, CT(U1) "/@id", id1);
	xp_eq(n.doc, CT(U1) "/@state", "terminated");
	xp_eq(n.doc, CT(U1) "/@event", "unregistered");
	xp_count(n.doc, CT(U1) "/@expires", 0);
	note_done(&n, true);
	quiet(&w);

	/* the last one runs out: expired, and the registration is over */
	hr_clock_advance(61 * 1000);
	hr_tmr_poll();
	partial(&w, &n, "terminated", 1);
	note_state(&n, "active", 600 - 61, NULL);
	xp_eq(n.doc, CT(U2) "/@id", id2);
	xp_eq(n.doc, CT(U2) "/@state", "terminated");
	xp_eq(n.doc, CT(U2) "/@event", "expired");
	note_done(&n, true);
	ck_assert_uint_eq(hr_registrar_count(reg), 0);
	quiet(&w);
}
END_TEST

/* RFC 6665 4.2.2: an expired subscription ends with the whole state and
 * terminated;reason=timeout. */
START_TEST(test_subscription_expires)
{
	struct watch w;
	struct note n;

	alice_watches(&w);
	reg_send("r1", 1, "Contact: <" U1 ">;expires=3600\r\n");
	partial(&w, &n, "active", 1);
	note_done(&n, true);
	quiet(&w);
	hr_clock_advance(601 * 1000);
	hr_tmr_poll();
	note_take(&w, &n);
	note_state(&n, "terminated", -1, "timeout");
	note_doc(&n, "full", "active", 1);
	xp_eq(n.doc, CT(U1) "/@event", "registered");
	xp_eq(n.doc, CT(U1) "/@expires", "2999");
	note_done(&n, true);
	quiet(&w);
	ck_assert_uint_eq(hr_events_count(ev), 0);
	/* and nothing more is told */
	reg_send("r1", 2, "Contact: <" U1 ">;expires=0\r\n");
	quiet(&w);
}
END_TEST

/*
 * RFC 3680 5.2: the registration is terminated once its last contact is
 * gone, also when its owner removes it (the registrar announces the
 * removal only once the binding is no longer listed).
 */
START_TEST(test_last_unregistered)
{
	struct watch w;
	struct note n;

	alice_watches(&w);
	reg_send("r1", 1, "Contact: <" U1 ">;expires=3600\r\n");
	partial(&w, &n, "active", 1);
	note_done(&n, true);
	reg_send("r1", 2, "Contact: <" U1 ">;expires=0\r\n");
	note_take(&w, &n);
	xp_eq(n.doc, CT(U1) "/@event", "unregistered");
	xp_eq(n.doc, CT(U1) "/@state", "terminated");
	xp_eq(n.doc, REG "/@state", "terminated");
	note_done(&n, true);
	quiet(&w);
}
END_TEST

/* The same, with the removal of all (Contact: *, RFC 3261 10.3 step 6). */
START_TEST(test_star_unregistered)
{

	static const char *const both[] = { U1, U2 };
	struct watch w;

	alice_watches(&w);
	reg_send("r1", 1, "Contact: <" U1 ">\r\nContact: <" U2 ">\r\n");
	told(&w, both, 2, "registered", "active");
	quiet(&w);
	reg_send("r1", 2, "Contact: *\r\nExpires: 0\r\n");
	told(&w, both, 2, "unregistered", "terminated");
	quiet(&w);
}
END_TEST

/* RFC 6665 4.2.2 / RFC 3680 5.2: changes while a NOTIFY is unanswered
 * wait, and go out together: each contact once, in its latest state. */
START_TEST(test_merge)
{
	struct watch w;
	struct note n1, n2;

	alice_watches(&w);
	reg_send("r1", 1, "Contact: <" U1 ">;expires=3600\r\n");
	partial(&w, &n1, "active", 1);
	xp_eq(n1.doc, CT(U1) "/@event", "registered");

	/* n1 is not answered yet */
	reg_send("r1", 2, "Contact: <" U1 ">;expires=1800\r\n");
	reg_send("r2", 1, "Contact: <" U2 ">;expires=3600\r\n");
	reg_send("r1", 3, "Contact: <" U1 ">;expires=1800\r\n");
	quiet(&w);

	note_done(&n1, true);
	partial(&w, &n2, "active", 2);
	xp_count(n2.doc, CT(U1), 1);
	xp_count(n2.doc, CT(U2), 1);
	xp_eq(n2.doc, CT(U1) "/@event", "refreshed");
	xp_eq(n2.doc, CT(U1) "/@cseq", "3");
	xp_eq(n2.doc, CT(U1) "/@expires", "1800");
	xp_eq(n2.doc, CT(U2) "/@event", "registered");
	xp_eq(n2.doc, CT(U2) "/@expires", "3600");
	note_done(&n2, true);
	quiet(&w);

	/* a contact that came and went meanwhile is told as gone */
	reg_send("r3", 1, "Contact: <" U3 ">;expires=3600\r\n");
	partial(&w, &n1, "active", 1);
	reg_send("r3", 2, "Contact: <" U3 ">;expires=0\r\n");
	reg_send("r1", 4, "Contact: <" U1 ">;expires=600\r\n");
	quiet(&w);
	note_done(&n1, true);
	partial(&w, &n2, "active", 2);
	xp_eq(n2.doc, CT(U3) "/@event", "unregistered");
	xp_eq(n2.doc, CT(U3) "/@state", "terminated");
	xp_eq(n2.doc, CT(U1) "/@event", "shortened");
	xp_eq(n2.doc, CT(U1) "/@expires", "600");
	note_done(&n2, true);
	quiet(&w);
}
END_TEST

/* RFC 6665 4.2.1.2: a refresh is answered with the whole state; RFC 3680
 * 5.2: every live contact as registered. An unsubscribe ends with the
 * whole state too. */
START_TEST(test_refresh_full)
{
	static const char *const all[] = { U1, U2, U3 };
	struct watch w;
	struct note n;

	alice_watches(&w);
	reg_send("r1", 1, "Contact: <" U1 ">;expires=3600\r\n"
		"Contact: <" U2 ">;expires=3600\r\n"
		"Contact: <" U3 ">;expires=3600\r\n");
	told(&w, all, 3, "registered", "active");
	quiet(&w);
	reg_send("r1", 2, "Contact: <" U1 ">;expires=1200\r\n");
	partial(&w, &n, "active", 1);
	xp_eq(n.doc, CT(U1) "/@event", "shortened");
	note_done(&n, true);
	reg_send("r1", 3, "Contact: <" U3 ">;expires=0\r\n");
	partial(&w, &n, "active", 1);
	note_done(&n, true);

	hr_clock_advance(100 * 1000);
	subscribed(&w, 600);
	note_take(&w, &n);
	note_state(&n, "active", 600, NULL);
	note_doc(&n, "full", "active", 2);
	xp_eq(n.doc, CT(U1) "/@event", "registered");
	xp_eq(n.doc, CT(U1) "/@state", "active");
	xp_eq(n.doc, CT(U1) "/@expires", "1100");
	xp_eq(n.doc, CT(U1) "/@duration-registered", "100");
	xp_eq(n.doc, CT(U2) "/@event", "registered");
	xp_eq(n.doc, CT(U2) "/@expires", "3500");
	xp_count(n.doc, CT(U3), 0);
	note_done(&n, true);
	quiet(&w);

	/* unsubscribe: the last state, in full, with the final NOTIFY */
	subscribed(&w, 0);
	note_take(&w, &n);
	note_state(&n, "terminated", -1, "timeout");
	note_doc(&n, "full", "active", 2);
	note_done(&n, true);
	quiet(&w);
	ck_assert_uint_eq(hr_events_count(ev), 0);
}
END_TEST

/* RFC 3680 6: others watch an AOR only when its owner allows them. */
START_TEST(test_authorization)
{
	struct watch a, b;
	const struct hr_msg *r;
	struct note n;

	alice_watches(&a);

	/* no rule: 403 */
	watch_init(&b, "bob", "alice", 5080);
	r = subscribe(&b, 600);
	ck_assert_msg(r->scode == 403, "%.*s", (int)r->len, r->buf);
	ck_assert_uint_eq(hr_events_count(ev), 1);

	/* allowed by name */
	rule(A, B, HR_REG_RULE_ALLOW);
	watch_init(&b, "bob", "alice", 5080);
	subscribed(&b, 600);
	note_take(&b, &n);
	note_state(&n, "active", 600, NULL);
	note_doc(&n, "full", "init", 0);
	note_done(&n, true);
	ck_assert_uint_eq(hr_events_count(ev), 2);

	/* both are told */
	reg_send("r1", 1, "Contact: <" U1 ">;expires=3600\r\n");
	partial(&a, &n, "active", 1);
	note_done(&n, true);
	partial(&b, &n, "active", 1);
	note_done(&n, true);

	/* taken away: a final NOTIFY without state (RFC 6665 4.2.2) */
	rule(A, B, HR_REG_RULE_NONE);
	note_take(&b, &n);
	note_state(&n, "terminated", -1, "rejected");
	ck_assert_ptr_null(n.doc);
	note_done(&n, true);
	quiet(&b);
	quiet(&a);
	ck_assert_uint_eq(hr_events_count(ev), 1);
	watch_init(&b, "bob", "alice", 5080);
	r = subscribe(&b, 600);
	ck_assert_msg(r->scode == 403, "%.*s", (int)r->len, r->buf);

	/* allowed by domain; taken away by blocking it, while a NOTIFY is
	 * unanswered: the final one follows the answer */
	rule(A, "example.test",
		HR_REG_RULE_ALLOW);
	watch_init(&b, "bob", "alice", 5080);
	subscribed(&b, 600);
	note_take(&b, &n);
	note_doc(&n, "full", "active", 1);
	xp_eq(n.doc, CT(U1) "/@event", "registered");
	note_done(&n, true);
	reg_send("r1", 2, "Contact: <" U1 ">;expires=3600\r\n");
	partial(&a, &n, "active", 1);
	note_done(&n, true);
	partial(&b, &n, "active", 1);
	/* one more change waits for bob behind the unanswered NOTIFY */
	reg_send("r3", 1, "Contact: <" U3 ">;expires=3600\r\n");
	{
		struct note na;

		partial(&a, &na, "active", 1);
		xp_eq(na.doc, CT(U3) "/@event", "registered");
		note_done(&na, true);
	}
	rule(A, "example.test",
		HR_REG_RULE_BLOCK);
	quiet(&b);
	note_done(&n, true);
	note_take(&b, &n);
	note_state(&n, "terminated", -1, "rejected");
	ck_assert_ptr_null(n.doc);
	note_done(&n, true);
	quiet(&b);
	ck_assert_uint_eq(hr_events_count(ev), 1);

	/* a user's own rule beats its domain's */
	rule(A, "example.test",
		HR_REG_RULE_ALLOW);
	rule(A, B, HR_REG_RULE_BLOCK);
	watch_init(&b, "bob", "alice", 5080);
	r = subscribe(&b, 600);
	ck_assert_msg(r->scode == 403, "%.*s", (int)r->len, r->buf);

	/* the owner is never refused, whatever the rules, and still told */
	rule(A, A, HR_REG_RULE_BLOCK);
	quiet(&a);
	ck_assert_uint_eq(hr_events_count(ev), 1);
	reg_send("r2", 1, "Contact: <" U2 ">;expires=3600\r\n");
	partial(&a, &n, "active", 1);
	xp_eq(n.doc, CT(U2) "/@event", "registered");
	note_done(&n, true);
	quiet(&a);
}
END_TEST

/* A monitor (a role of user@domain) watches every AOR of its domain; a
 * block rule keeps it out of one; losing the role ends what only the
 * role allowed, with rejected. */
START_TEST(test_monitor)
{
	struct watch ma, mb;
	const struct hr_msg *r;
	struct note n;

	/* not a monitor: 403; a monitor of another domain is not one here */
	ck_assert_int_eq(hr_userdb_set_role(users, "app", "other.test",
		HR_ROLE_MONITOR), 0);
	watch_init(&ma, "app", "alice", 5090);
	r = subscribe(&ma, 600);
	ck_assert_msg(r->scode == 403, "%.*s", (int)r->len, r->buf);

	ck_assert_int_eq(hr_userdb_set_role(users, "app", "example.test",
		HR_ROLE_MONITOR), 0);
	ck_assert(hr_userdb_is_monitor("app", "example.test", users));
	watch_init(&ma, "app", "alice", 5090);
	subscribed(&ma, 600);
	note_take(&ma, &n);
	note_state(&n, "active", 600, NULL);
	note_done(&n, true);
	watch_init(&mb, "app", "bob", 5091);
	subscribed(&mb, 600);
	note_take(&mb, &n);
	note_state(&n, "active", 600, NULL);
	note_done(&n, true);
	ck_assert_uint_eq(hr_events_count(ev), 2);

	/* the AOR's rule comes before the role */
	rule(A, "app@example.test", HR_REG_RULE_BLOCK);
	note_take(&ma, &n);
	note_state(&n, "terminated", -1, "rejected");
	note_done(&n, true);
	quiet(&mb);
	ck_assert_uint_eq(hr_events_count(ev), 1);
	rule(A, "app@example.test", HR_REG_RULE_NONE);
	watch_init(&ma, "app", "alice", 5090);
	subscribed(&ma, 600);
	note_take(&ma, &n);
	note_done(&n, true);

	/* the role goes: what a rule allows stays, the rest ends */
	rule(B, "example.test", HR_REG_RULE_ALLOW);
	ck_assert_int_eq(hr_userdb_set_role(users, "app", "example.test",
		HR_ROLE_USER), 0);
	hr_events_reauthorize(ev, "reg", NULL, "app@example.test");
	note_take(&ma, &n);
	note_state(&n, "terminated", -1, "rejected");
	note_done(&n, true);
	quiet(&mb);
	ck_assert_uint_eq(hr_events_count(ev), 1);
	/* told of someone else: nothing changes */
	hr_events_reauthorize(ev, "reg", NULL, "bob@example.test");
	hr_events_reauthorize(ev, NULL, NULL, NULL);
	quiet(&mb);
	ck_assert_uint_eq(hr_events_count(ev), 1);
}
END_TEST

/* Rules are stored before they are in force, and loaded at start. */
START_TEST(test_rules_stored)
{
	struct watch b;
	const struct hr_msg *r;
	struct note n;

	rule(A, B, HR_REG_RULE_ALLOW);
	ck_assert_int_eq(pgdb_count(db.url, "SELECT count(*) FROM rules "
		"WHERE package = 'reg' AND resource = '" A "' AND "
		"watcher = '" B "' AND action = 'allow'"), 1);
	rule(A, B, HR_REG_RULE_BLOCK);
	ck_assert_int_eq(pgdb_count(db.url, "SELECT count(*) FROM rules "
		"WHERE package = 'reg' AND action = 'block'"), 1);
	rule(A, B, HR_REG_RULE_NONE);
	ck_assert_int_eq(pgdb_count(db.url, "SELECT count(*) FROM rules"), 0);
	/* what the database holds is what a start loads */
	ck_assert_int_eq(pgdb_count(db.url, "WITH i AS (INSERT INTO rules "
		"(package, resource, watcher, action) VALUES ('reg', '" A "', "
		"'example.test', 'allow') RETURNING 1) SELECT count(*) FROM i"),
		1);
	watch_init(&b, "bob", "alice", 5080);
	r = subscribe(&b, 600);
	ck_assert_msg(r->scode == 403, "%.*s", (int)r->len, r->buf);
	ck_assert_int_eq(hr_regpkg_load(pkg), 0);
	watch_init(&b, "bob", "alice", 5080);
	subscribed(&b, 600);
	note_take(&b, &n);
	note_state(&n, "active", 600, NULL);
	note_done(&n, true);
	/* a bad change is refused before anything is stored */
	ck_assert_int_eq(hr_regpkg_rule(pkg, A, "", HR_REG_RULE_ALLOW, NULL,
		NULL), EINVAL);
	ck_assert_int_eq(hr_regpkg_rule(pkg, A, B, (enum hr_reg_rule)7, NULL,
		NULL), EINVAL);
}
END_TEST

/* RFC 6665 4.2.1.2 / RFC 3680 6: a user that does not exist is 404. */
START_TEST(test_unknown_user)
{
	struct watch w;
	const struct hr_msg *r;

	watch_init(&w, "alice", "carol", 5070);
	r = subscribe(&w, 600);
	ck_assert_msg(r->scode == 404, "%.*s", (int)r->len, r->buf);
	ck_assert_uint_eq(hr_events_count(ev), 0);
	drain();
	ck_assert_ptr_null(notify_find(w.callid));
}
END_TEST

/* Versions go on without a gap across many NOTIFYs (and, with tiny
 * reservations, across many waits for the store), through a refresh and
 * a merge. */
START_TEST(test_versions)
{
	struct watch w;
	struct note n;
	char q[256];

	alice_watches(&w);
	for (unsigned i = 1; i <= 12; i++) {
		char hdrs[128];

		snprintf(hdrs, sizeof(hdrs), "Contact: <" U1 ">;expires=%u\r\n",
			3600 - (i % 2) * 60);
		reg_send("r1", i, hdrs);
		partial(&w, &n, "active", 1);
		xp_eq(n.doc, CT(U1) "/@event", i == 1 ? "registered" :
			i % 2 ? "shortened" : "refreshed");
		note_done(&n, true);
		if (i == 6) {
			subscribed(&w, 600);
			note_take(&w, &n);
			note_doc(&n, "full", "active", 1);
			note_done(&n, true);
		}
	}
	/* merged: one version for two changes */
	reg_send("r2", 1, "Contact: <" U2 ">;expires=3600\r\n");
	partial(&w, &n, "active", 1);
	reg_send("r2", 2, "Contact: <" U2 ">;expires=600\r\n");
	reg_send("r1", 13, "Contact: <" U1 ">;expires=0\r\n");
	note_done(&n, true);
	partial(&w, &n, "active", 2);
	note_done(&n, true);
	quiet(&w);
	ck_assert_uint_eq(w.version, 16);
	ck_assert_uint_eq(w.ncseq, 17);
	/* every CSeq and version sent lies within the stored reservation:
	 * a restart goes on past them */
	snprintf(q, sizeof(q), "SELECT cseq_reserved FROM subscriptions "
		"WHERE callid = '%s'", w.callid);
	ck_assert_int_ge(pgdb_count(db.url, q), w.ncseq - 1);
	snprintf(q, sizeof(q), "SELECT version_reserved FROM subscriptions "
		"WHERE callid = '%s'", w.callid);
	ck_assert_int_ge(pgdb_count(db.url, q), w.version - 1);
}
END_TEST

int main(void)
{
	Suite *s;
	TCase *tc;

	if (!pgdb_base())
		return 77;
	/* the schema's import of xml.xsd is local; nothing is fetched */
	xmlSetExternalEntityLoader(xmlNoNetExternalEntityLoader);
	s = suite_create("reg");
	tc = tcase_create("reg");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_initial);
	tcase_add_test(tc, test_contact_events);
	tcase_add_test(tc, test_many_params);
	tcase_add_test(tc, test_last_unregistered);
	tcase_add_test(tc, test_subscription_expires);
	tcase_add_test(tc, test_star_unregistered);
	tcase_add_test(tc, test_merge);
	tcase_add_test(tc, test_refresh_full);
	tcase_add_test(tc, test_authorization);
	tcase_add_test(tc, test_monitor);
	tcase_add_test(tc, test_rules_stored);
	tcase_add_test(tc, test_unknown_user);
	tcase_add_test(tc, test_versions);
	suite_add_tcase(s, tc);
	tc = tcase_create("reserve");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup_small, teardown);
	tcase_add_test(tc, test_versions);
	tcase_add_test(tc, test_merge);
	suite_add_tcase(s, tc);
	return hr_check_run(s);
}
