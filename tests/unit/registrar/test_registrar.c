/* server/registrar: RFC 3261 10.3's rules as a table of cases, the RFC 3680
 * events they raise, and expiry on the fake clock. REGISTERs go through a
 * socketless SIP stack into a real store (PostgreSQL from
 * HERALD_TEST_DATABASE_URL; skipped without one). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "registrar/registrar.h"
#include "check_run.h"
#include "pgdb.h"

#define SIPCAP_MAX 16
#include "sip/sipcap.h"

static struct pgdb db;
static struct hr_store *store;
static struct hr_userdb *users;
static struct hr_auth *authn;
static struct hr_sip *sip;
static struct hr_registrar *reg;
static unsigned events[HR_REG_UNREGISTERED + 1];

static void on_binding(const struct hr_binding *b, enum hr_reg_event ev,
	void *arg)
{
	(void)b;
	(void)arg;
	events[ev]++;
}

static void user(const char *name)
{
	char md5[33], sha[65];

	hr_digest_ha1(md5, sizeof(md5), HR_DIGEST_MD5, name, "example.test",
		"pw");
	hr_digest_ha1(sha, sizeof(sha), HR_DIGEST_SHA256, name,
		"example.test", "pw");
	ck_assert_int_eq(hr_userdb_put(users, name, "example.test", md5, sha),
		0);
}

static void start(unsigned max_contacts)
{
	static const char *const domains[] = { "example.test" };
	static const uint8_t secret[32] = { 1, 2, 3 };
	struct hr_auth_cfg acfg = { .secret = secret,
		.secret_len = sizeof(secret), .nonce_ttl_s = 300 };
	struct hr_registrar_cfg cfg;

	store = pgdb_open(&db, "treg_");
	ck_assert_int_eq(hr_userdb_alloc(&users), 0);
	user("alice");
	user("bob");
	ck_assert_int_eq(hr_auth_alloc(&authn, &acfg), 0);
	sip = cap_sip(5000, false);
	hr_registrar_cfg_default(&cfg);
	cfg.max_contacts = max_contacts;
	/* challenge 0: the rules; auth has its own tests */
	ck_assert_int_eq(hr_realm_alloc(&cfg.realm, &(struct hr_realm_cfg){
		.domains = domains, .ndomains = 1, .authn = authn,
		.ha1h = hr_userdb_ha1, .existsh = hr_userdb_exists,
		.users = users }), 0);
	ck_assert_int_eq(hr_registrar_alloc(&reg, sip, store, &cfg), 0);
	hr_mem_deref(cfg.realm);  /* the registrar's now */
	ck_assert_int_eq(hr_registrar_watch(reg, on_binding, NULL), 0);
	memset(events, 0, sizeof(events));
}

static void setup(void)
{
	start(3);
}

static void teardown(void)
{
	cap_clear();
	reg = hr_mem_deref(reg);
	sip = hr_mem_deref(sip);
	store = hr_mem_deref(store);
	authn = hr_mem_deref(authn);
	users = hr_mem_deref(users);
	pgdb_close(&db);
}

/* Send a REGISTER and run the loop until it is answered. */
static const char *reg_send(const char *to, const char *callid,
	unsigned cseq, const char *extra)
{
	static unsigned branch;
	char m[2048];
	unsigned before = cap.n;

	snprintf(m, sizeof(m), "REGISTER sip:example.test SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK%s%u-%u\r\n"
		"Max-Forwards: 70\r\nTo: <sip:%s>\r\nFrom: <sip:%s>;tag=f\r\n"
		"Call-ID: %s\r\nCSeq: %u REGISTER\r\n%sContent-Length: 0\r\n\r\n",
		callid, cseq, ++branch, to, to, callid, cseq, extra);
	cap_recv(m);
	ck_assert_msg(cap_wait(before + 1), "no answer");
	return cap.out[cap.n - 1];
}

static unsigned ncontacts(const char *resp)
{
	unsigned n = 0;

	for (const char *p = resp; (p = strstr(p, "\r\nContact: ")); p++)
		n++;
	return n;
}

struct step {
	const char *to;
	const char *callid;
	unsigned cseq;
	const char *hdrs;
	unsigned scode;
	int bindings;        /* Contacts in the 200; -1: not checked */
	const char *has;     /* text the response must hold */
};

struct rcase {
	const char *name;
	struct step steps[4];
};

#define A "alice@example.test"
#define C1 "Contact: <sip:alice@192.0.2.1>\r\n"
#define C2 "Contact: <sip:alice@192.0.2.2>\r\n"
#define C3 "Contact: <sip:alice@192.0.2.3>\r\n"
#define C4 "Contact: <sip:alice@192.0.2.4>\r\n"
#define LONG_UA "Linphone-Desktop/5.1.65 (debian) debian/12 Qt/5.15.8 " \
	"LinphoneSDK/5.1.65 belle-sip/5.1.65 mediastreamer2/5.1.65 " \
	"ortp/5.1.65 bctoolbox/5.1.65 (a long User-Agent, as phones send)"

static const struct rcase cases[] = {
	{ "one contact, default expiry", {
		{ A, "c1", 1, C1, 200, 1, ";expires=3600\r\n" } } },
	{ "two contacts in one request", {
		{ A, "c1", 1, C1 C2 "Expires: 600\r\n", 200, 2,
		  ";expires=600\r\n" } } },
	{ "contact parameter beats the Expires header", {
		{ A, "c1", 1, "Contact: <sip:alice@192.0.2.1>;expires=300\r\n"
		  "Expires: 600\r\n", 200, 1, ";expires=300\r\n" } } },
	{ "query lists the bindings", {
		{ A, "c1", 1, C1 C2, 200, 2, NULL },
		{ A, "c1", 2, "", 200, 2, NULL } } },
	{ "star with Expires 0 removes all", {
		{ A, "c1", 1, C1 C2, 200, 2, NULL },
		{ A, "c1", 2, "Contact: *\r\nExpires: 0\r\n", 200, 0, NULL } } },
	{ "star needs Expires 0", {
		{ A, "c1", 1, "Contact: *\r\nExpires: 60\r\n", 400, -1,
		  "Invalid Contact *" },
		{ A, "c1", 2, "Contact: *\r\n", 400, -1, NULL } } },
	{ "star must be alone", {
		{ A, "c1", 1, "Contact: *\r\n" C1 "Expires: 0\r\n", 400, -1,
		  NULL } } },
	{ "too brief: 423 with Min-Expires", {
		{ A, "c1", 1, "Contact: <sip:alice@192.0.2.1>;expires=10\r\n",
		  423, -1, "Min-Expires: 60\r\n" },
		{ A, "c1", 2, C1 "Expires: 59\r\n", 423, -1, NULL },
		{ A, "c1", 3, "", 200, 0, NULL } } },
	{ "too long: clamped", {
		{ A, "c1", 1, C1 "Expires: 4294967295\r\n", 200, 1,
		  ";expires=86400\r\n" } } },
	{ "removing a contact that is not there", {
		{ A, "c1", 1, "Contact: <sip:alice@192.0.2.9>;expires=0\r\n",
		  200, 0, NULL } } },
	{ "same Call-ID, lower or equal CSeq: fails, nothing changes", {
		{ A, "c1", 5, C1, 200, 1, NULL },
		{ A, "c1", 4, "Contact: <sip:alice@192.0.2.1>;expires=0\r\n",
		  400, -1, "Out-Of-Order CSeq" },
		{ A, "c1", 5, "Contact: <sip:alice@192.0.2.1>;expires=0\r\n",
		  400, -1, NULL },
		{ A, "c1", 6, "", 200, 1, NULL } } },
	{ "another Call-ID may use a lower CSeq", {
		{ A, "c1", 5, C1, 200, 1, NULL },
		{ A, "c2", 1, "Contact: <sip:alice@192.0.2.1>;expires=0\r\n",
		  200, 0, NULL } } },
	{ "at most max-contacts bindings", {
		{ A, "c1", 1, C1 C2 C3, 200, 3, NULL },
		{ A, "c1", 2, C4, 403, -1, "Too Many Contacts" },
		{ A, "c1", 3, "Contact: <sip:alice@192.0.2.1>;expires=0\r\n" C4,
		  200, 3, NULL } } },
	{ "q-values", {
		{ A, "c1", 1, "Contact: <sip:alice@192.0.2.1>;q=0.5\r\n", 200,
		  1, ";q=0.500\r\n" },
		{ A, "c1", 2, "Contact: <sip:alice@192.0.2.1>;q=2\r\n", 400, -1,
		  "Bad Contact q" } } },
	{ "an instance keys the binding, whatever its URI", {
		{ A, "c1", 1, "Contact: <sip:alice@192.0.2.1>;+sip.instance="
		  "\"<urn:uuid:1>\";reg-id=1\r\n", 200, 1, NULL },
		{ A, "c2", 1, "Contact: <sip:alice@192.0.2.7>;+sip.instance="
		  "\"<urn:uuid:1>\";reg-id=1\r\n", 200, 1,
		  "<sip:alice@192.0.2.7>;+sip.instance" } } },
	{ "unknown AOR", {
		{ "carol@example.test", "c1", 1, C1, 404, -1, NULL } } },
	{ "AOR of another domain", {
		{ "alice@other.test", "c1", 1, C1, 404, -1, NULL } } },
	{ "a contact that is not SIP", {
		{ A, "c1", 1, "Contact: <mailto:alice@example.test>\r\n", 400,
		  -1, "Bad Contact URI" } } },
	/* every Contact parameter a real phone sends at once, a Path and a
	 * long User-Agent: each is a string the binding owns (a fixed list
	 * of eight of them once made this a silent 500) */
	{ "every parameter real clients send, Path and User-Agent", {
		{ A, "c1", 1, "Contact: \"Alice\" <sip:alice@192.0.2.1:5060;"
		  "transport=udp>;expires=600;q=0.7;+sip.instance="
		  "\"<urn:uuid:1f2e3d4c-0000-1111-2222-333344445555>\";"
		  "reg-id=1;+sip.ice;ob;methods=\"INVITE,ACK,OPTIONS,BYE,"
		  "CANCEL,SUBSCRIBE,NOTIFY,MESSAGE,REFER,INFO,PUBLISH,"
		  "UPDATE\";+sip.instance-extra=x\r\n"
		  "Path: <sip:edge.example.test;lr>\r\n"
		  "Supported: path, outbound, gruu\r\n"
		  "User-Agent: " LONG_UA "\r\n", 200, 1,
		  "reg-id=1;+sip.ice;ob;methods=" },
		{ A, "c1", 2, "", 200, 1, "+sip.instance=" } } },
	{ "Path is kept and echoed with Supported: path", {
		{ A, "c1", 1, C1 "Path: <sip:edge.example.test;lr>\r\n"
		  "Supported: path\r\n", 200, 1,
		  "Path: <sip:edge.example.test;lr>\r\n" } } },
};

START_TEST(test_rules)
{
	const struct rcase *c = &cases[_i];

	for (unsigned k = 0; k < 4 && c->steps[k].to; k++) {
		const struct step *s = &c->steps[k];
		const char *r = reg_send(s->to, s->callid, s->cseq, s->hdrs);

		ck_assert_msg(status(r) == s->scode, "%s, step %u: %s", c->name,
			k, r);
		if (s->bindings >= 0)
			ck_assert_msg(ncontacts(r) == (unsigned)s->bindings,
				"%s, step %u: %s", c->name, k, r);
		if (s->has)
			ck_assert_msg(strstr(r, s->has), "%s, step %u: %s",
				c->name, k, r);
	}
}
END_TEST

/* Requests for one AOR while a change of it is being committed wait in
 * line, and all of them are answered once it is: a query is answered at
 * once, the change after it in turn. */
START_TEST(test_waiting_line)
{
	static const char *const reqs[] = { C1, "", "", C2 };
	char m[1024];
	struct hr_sa src;

	hr_sa_set(&src, "192.0.2.1", 5060);
	for (unsigned i = 0; i < 4; i++) {
		snprintf(m, sizeof(m), "REGISTER sip:example.test SIP/2.0\r\n"
			"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKw%u\r\n"
			"To: <sip:" A ">\r\nFrom: <sip:" A ">;tag=f\r\n"
			"Call-ID: line\r\nCSeq: %u REGISTER\r\n%s"
			"Content-Length: 0\r\n\r\n", i, i + 1, reqs[i]);
		hr_sip_recv_raw(sip, HR_TP_UDP, m, strlen(m), &src, NULL);
	}
	for (int i = 0; i < 5000 && cap.n < 4; i++) {
		hr_loop_once();
		usleep(1000);
	}
	ck_assert_uint_eq(cap.n, 4);
	for (unsigned i = 0; i < 4; i++)
		ck_assert_uint_eq(status(cap.out[i]), 200);
	ck_assert_uint_eq(ncontacts(cap.out[3]), 2);
}
END_TEST

/* The removal of an AOR's only binding and a REGISTER of a new one, in
 * flight at once (the shape of the presence race, RFC 3903's removal and
 * initial): the AOR's entry stays while the removal is stored (its line
 * holds the second REGISTER), each commit completes when the test says,
 * and the new binding is where the next query finds it. */
START_TEST(test_removal_and_new_in_flight)
{
	static const char *const reqs[] = {
		"Contact: <sip:alice@192.0.2.1>;expires=0\r\n", C2 };
	char m[1024];
	struct hr_sa src;

	reg_send(A, "c1", 1, C1);
	hr_store_hold(store, true);
	hr_sa_set(&src, "192.0.2.1", 5060);
	for (unsigned i = 0; i < 2; i++) {
		snprintf(m, sizeof(m), "REGISTER sip:example.test SIP/2.0\r\n"
			"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKrn%u\r\n"
			"To: <sip:" A ">\r\nFrom: <sip:" A ">;tag=f\r\n"
			"Call-ID: rn%u\r\nCSeq: 2 REGISTER\r\n%s"
			"Content-Length: 0\r\n\r\n", i, i, reqs[i]);
		hr_sip_recv_raw(sip, HR_TP_UDP, m, strlen(m), &src, NULL);
	}
	/* the expiry and announcement timers run in between */
	for (unsigned k = 0; k < 2; k++)
		pgdb_deliver_one(store);
	hr_store_hold(store, false);
	ck_assert_uint_eq(status(cap.out[cap.n - 2]), 200);
	ck_assert_uint_eq(status(cap.out[cap.n - 1]), 200);
	ck_assert_uint_eq(ncontacts(cap.out[cap.n - 1]), 1);
	ck_assert_uint_eq(ncontacts(reg_send(A, "c1", 2, "")), 1);
	ck_assert_uint_eq(hr_registrar_count(reg), 1);
}
END_TEST

START_TEST(test_events_and_expiry)
{
	reg_send(A, "c1", 1, "Contact: <sip:alice@192.0.2.1>;expires=600\r\n"
		"Contact: <sip:alice@192.0.2.2>;expires=60\r\n");
	ck_assert_uint_eq(events[HR_REG_REGISTERED], 2);
	reg_send(A, "c1", 2, "Contact: <sip:alice@192.0.2.1>;expires=900\r\n");
	ck_assert_uint_eq(events[HR_REG_REFRESHED], 1);
	reg_send(A, "c1", 3, "Contact: <sip:alice@192.0.2.1>;expires=100\r\n");
	ck_assert_uint_eq(events[HR_REG_SHORTENED], 1);
	ck_assert_uint_eq(hr_registrar_count(reg), 2);
	/* the 60 s one expires: removed from the store, then announced */
	hr_clock_advance(61 * 1000);
	for (int i = 0; i < 5000 && !events[HR_REG_EXPIRED]; i++) {
		hr_loop_once();
		usleep(1000);
	}
	ck_assert_uint_eq(events[HR_REG_EXPIRED], 1);
	ck_assert_uint_eq(hr_registrar_count(reg), 1);
	reg_send(A, "c1", 4, "Contact: <sip:alice@192.0.2.1>;expires=0\r\n");
	ck_assert_uint_eq(events[HR_REG_UNREGISTERED], 1);
	ck_assert_uint_eq(hr_registrar_count(reg), 0);
}
END_TEST

static int first_id(const struct hr_binding *b, void *arg)
{
	snprintf(arg, 64, "%s", b->id);
	return 1;
}

static void deact_done(int err, void *arg)
{
	*(int *)arg = err + 1000;
}

/* The admin takes a binding away: stored, then announced deactivated. */
START_TEST(test_deactivate)
{
	char id[64] = "";
	int done = 0;

	reg_send(A, "c1", 1, "Contact: <sip:alice@192.0.2.1>;expires=600\r\n"
		"Contact: <sip:alice@192.0.2.2>;expires=600\r\n");
	hr_registrar_bindings(reg, A, first_id, id);
	ck_assert_str_ne(id, "");
	ck_assert_int_eq(hr_registrar_deactivate(reg, A, "nosuch", NULL,
		NULL), ENOENT);
	ck_assert_int_eq(hr_registrar_deactivate(reg, "bob@example.test", id,
		NULL, NULL), ENOENT);
	ck_assert_int_eq(hr_registrar_deactivate(reg, A, id, deact_done,
		&done), 0);
	/* one change of an AOR at a time */
	ck_assert_int_eq(hr_registrar_deactivate(reg, A, id, NULL, NULL),
		EBUSY);
	for (int i = 0; i < 5000 && !done; i++) {
		hr_loop_once();
		usleep(1000);
	}
	ck_assert_int_eq(done, 1000);
	ck_assert_uint_eq(events[HR_REG_DEACTIVATED], 1);
	ck_assert_uint_eq(hr_registrar_count(reg), 1);
	ck_assert_int_eq(hr_registrar_deactivate(reg, A, id, NULL, NULL),
		ENOENT);
	/* the store agrees: a query lists the other one only */
	ck_assert_uint_eq(ncontacts(reg_send(A, "c1", 2, "")), 1);
}
END_TEST

START_TEST(test_recovery)
{
	const char *r;

	reg_send(A, "c1", 1, "Contact: <sip:alice@192.0.2.1>;expires=600\r\n"
		"Contact: <sip:alice@192.0.2.2>;expires=60\r\n");
	/* a new registrar on the same database, 100 s later: one binding
	 * left, with its remaining time */
	reg = hr_mem_deref(reg);
	hr_clock_advance(100 * 1000);
	{
		static const char *const domains[] = { "example.test" };
		struct hr_registrar_cfg cfg;

		hr_registrar_cfg_default(&cfg);
		ck_assert_int_eq(hr_realm_alloc(&cfg.realm,
			&(struct hr_realm_cfg){ .domains = domains,
			.ndomains = 1, .existsh = hr_userdb_exists,
			.users = users }), 0);
		ck_assert_int_eq(hr_registrar_alloc(&reg, sip, store, &cfg), 0);
		hr_mem_deref(cfg.realm);
	}
	ck_assert_int_eq(hr_registrar_load(reg), 0);
	ck_assert_uint_eq(hr_registrar_count(reg), 1);
	r = reg_send(A, "c1", 2, "");
	ck_assert_uint_eq(ncontacts(r), 1);
	ck_assert_ptr_nonnull(strstr(r, "<sip:alice@192.0.2.1>;expires=500"));
}
END_TEST

int main(void)
{
	Suite *s;
	TCase *tc;

	if (!pgdb_base())
		return 77;
	s = suite_create("registrar");
	tc = tcase_create("registrar");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_rules, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_waiting_line);
	tcase_add_test(tc, test_removal_and_new_in_flight);
	tcase_add_test(tc, test_events_and_expiry);
	tcase_add_test(tc, test_deactivate);
	tcase_add_test(tc, test_recovery);
	suite_add_tcase(s, tc);
	return hr_check_run(s);
}
