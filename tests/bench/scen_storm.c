/*
 * reg-storm: a registration storm (every AOR re-registering at once, as
 * after a network outage) under a monitor watching every AOR, and what
 * the NOTIFYs (RFC 3680) of it tell: none lost, none duplicated, how late.
 *
 * Setup (untimed), one op per AOR uK, K = 1..--aors:
 *
 *   REGISTER uK (Call-ID "s<K>-<run>", Contact <sip:uK@OURHOST:OURPORT>,
 *   Expires 3600) -> 401, with an MD5 digest -> 200
 *   SUBSCRIBE sip:uK@DOMAIN (Event: reg) by the monitor -> 401, with a
 *   digest -> 200 and the first NOTIFY, full state, reporting the binding
 *
 * The monitor (--monitor, default mon: a user with the monitor role) is
 * the digest username and From <sip:mon@DOMAIN>;tag=wK.<opid>, Contact
 * <sip:mon@OURHOST:OURPORT> for every subscription (Herald replaces a
 * subscription from the same Contact to the same resource only);
 * --monitor self makes uK its own watcher. The From-tag's K names the AOR
 * of every later NOTIFY (bench_notify_watcher).
 *
 * The storm (the clock), one op per AOR: the refresh of its binding, same
 * Call-ID and Contact, CSeq + 1, with credentials at once (the setup's
 * nonce again, nc + 1; a 401 then, a stale nonce, is answered once),
 * paced evenly over --storm-seconds (the engine's --rate). Then, until
 * --settle seconds after the last REGISTER's 200, NOTIFYs are still
 * answered and counted.
 *
 * Every NOTIFY of a subscription is checked against the one before: a
 * CSeq already seen is a retransmission; else the reginfo version must
 * grow and the state of the AOR's contact (its cseq attribute; the
 * contact is the one with the AOR's Call-ID) must be new, or it is a
 * duplicate. An AOR whose storm REGISTER got its 200 is lost when no
 * NOTIFY reported that CSeq (or a later one) by the deadline. delay is
 * from sending that REGISTER to the first NOTIFY reporting it.
 *
 * Teardown: each subscription made ends (in-dialog SUBSCRIBE, Expires:
 * 0, 200), then each binding made (REGISTER Expires: 0, 200), so that a
 * next run in the same Herald starts from the same state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "auth/auth.h"
#include "bench.h"

#define NONCE_MAX 96
#define OPAQUE_MAX 64
#define REALM_MAX 128
#define OPID_MAX 32
#define TAG_MAX 64
#define TARGET_MAX 128
#define STORM_WINDOW 256       /* the default --window */
#define STORM_AORS 10000        /* the default --aors */

/* What one AOR is at: its binding, its subscription, its NOTIFYs. */
struct aor {
	/* the binding: Call-ID "s<K>-<run>@herald-bench" */
	uint32_t reg_cseq;      /* of the latest REGISTER sent */
	uint32_t nc;            /* the latest nonce count sent with nonce */
	uint8_t nonce_len;
	uint8_t contact_len;
	char nonce[NONCE_MAX];  /* of the REGISTER's last challenge */
	char contact[BENCH_LADDR_LEN];  /* OURHOST:OURPORT at the setup */
	/* the subscription: Call-ID "<opid>@herald-bench" */
	uint32_t sub_cseq;
	uint8_t opid_len;
	uint8_t totag_len;
	uint8_t target_len;
	bool bound;             /* the binding is made */
	bool dlg;               /* the SUBSCRIBE's 2xx came: a dialog */
	bool up;                /* 200 and the first NOTIFY seen */
	char opid[OPID_MAX];
	char totag[TAG_MAX];
	char target[TARGET_MAX + 1];    /* the 200's Contact URI */
	/* what its NOTIFYs said */
	uint32_t notify_cseq;   /* the highest NOTIFY CSeq */
	uint32_t told;          /* the newest contact cseq reported */
	uint64_t version1;      /* the highest reginfo version + 1; 0: none */
	/* the storm */
	uint32_t storm_cseq;    /* the refresh's CSeq; 0: not sent */
	bool reg_ok;            /* its 200 came */
	uint64_t t_sent;        /* when it was sent (with credentials) */
	uint64_t t_told;        /* the first NOTIFY reporting it; 0: none */
};

enum phase {
	PH_REG,         /* REGISTER: expect 401 (or 200) */
	PH_REG_AUTH,    /* with credentials: expect 200 */
	PH_SUB,         /* SUBSCRIBE: expect 401 (or 2xx) */
	PH_SUB_AUTH,    /* with credentials: expect 2xx and the NOTIFY */
	PH_STORM,       /* the refresh: expect 200 */
	PH_UNSUB,       /* SUBSCRIBE Expires: 0: expect 2xx */
	PH_UNREG,       /* REGISTER Expires: 0: expect 200 */
};

struct storm_op {
	uint32_t k;
	uint8_t phase;
	bool got_ok;
	bool got_notify;
	bool rechallenged;      /* a 401 to a request with credentials */
};

static struct {
	struct aor *a;          /* [1..n] */
	uint32_t n;
	uint32_t next_setup;    /* the last K each phase took */
	uint32_t next_storm;
	uint32_t next_down;
	uint32_t up;            /* subscriptions made */
	uint32_t bound;         /* AORs to clear in the teardown */
	char realm[REALM_MAX];  /* Herald's realm and opaque, the same in */
	char opaque[OPAQUE_MAX];        /* every challenge */
	bool have_opaque;
	/* the storm */
	uint64_t first_sent;    /* 0: the storm has not begun */
	uint64_t last_200;
	uint64_t notifies;      /* new NOTIFYs (not retransmissions) */
	uint64_t in_window;     /* of which came by the last 200 */
	uint64_t retransmits;
	uint64_t duplicates;
	uint64_t old_version;   /* duplicates by the version */
	uint64_t old_state;     /* by the contact's cseq */
	uint64_t version_gaps;  /* a version skipped: a NOTIFY we never saw */
	uint64_t no_contact;    /* the AOR's contact not in the body */
	uint64_t terminated;
	uint64_t late;          /* reported, but after the deadline */
	uint64_t other;         /* requests that are no NOTIFY of ours */
	uint64_t rechallenges;
	uint64_t setup_other;   /* NOTIFYs during the setup to no op */
	uint64_t unseen;        /* first NOTIFYs without the binding */
	uint64_t refused;       /* setup requests refused */
	bool settling;          /* the last REGISTER has its 200 */
	/* UDP datagrams the kernel dropped, any socket: /proc/net/snmp */
	uint64_t drops_setup, drops_storm;
	struct bench_hist delay;
} st;

/*
 * RcvbufErrors of /proc/net/snmp: UDP datagrams dropped for a full
 * receive buffer, on this machine, ours or the server's. 0: unknown.
 */
static uint64_t udp_drops(void)
{
	char line[2][1024], *p, *q, *save1, *save2;
	unsigned long long v = 0;
	int col = -1, i;
	FILE *f = fopen("/proc/net/snmp", "r");

	if (!f)
		return 0;
	while (fgets(line[0], sizeof(line[0]), f)) {
		if (strncmp(line[0], "Udp: ", 5) ||
		    !fgets(line[1], sizeof(line[1]), f))
			continue;
		p = strtok_r(line[0], " \n", &save1);
		q = strtok_r(line[1], " \n", &save2);
		for (i = 0; p && q; i++) {
			if (!strcmp(p, "RcvbufErrors")) {
				col = i;
				v = strtoull(q, NULL, 10);
				break;
			}
			p = strtok_r(NULL, " \n", &save1);
			q = strtok_r(NULL, " \n", &save2);
		}
		break;
	}
	fclose(f);
	return col < 0 ? 0 : (uint64_t)v;
}

static bool table(const struct bench_cfg *cfg)
{
	if (st.a)
		return true;
	st.drops_setup = udp_drops();
	st.n = cfg->aors;
	st.a = calloc((size_t)st.n + 1, sizeof(*st.a));
	return st.a != NULL;
}

static bool self_watch(const struct bench_cfg *cfg)
{
	return strcmp(cfg->monitor, "self") == 0;
}

/* "s<K>-<run>@herald-bench": the AOR's REGISTER Call-ID. */
static void put_reg_callid(struct bench_out *o, const struct bench *b,
	uint32_t k)
{
	bench_out_lit(o, "s");
	bench_out_putu(o, k);
	bench_out_lit(o, "-");
	bench_out_put(o, bench_runid(b), BENCH_RUNID_LEN);
	bench_out_lit(o, "@herald-bench");
}

/* The challenge in resp: keep its nonce for K (realm, opaque for all). */
static bool keep_chal(struct aor *a, const struct bench_msg *resp)
{
	struct hr_digest chal;

	if (!bench_find_md5(resp, &chal) || chal.nonce.len >= NONCE_MAX ||
	    chal.realm.len >= REALM_MAX || chal.opaque.len >= OPAQUE_MAX)
		return false;
	if (!st.realm[0]) {
		memcpy(st.realm, chal.realm.p, chal.realm.len);
		st.realm[chal.realm.len] = '\0';
		if (hr_pl_isset(&chal.opaque)) {
			memcpy(st.opaque, chal.opaque.p, chal.opaque.len);
			st.opaque[chal.opaque.len] = '\0';
			st.have_opaque = true;
		}
	} else if (hr_pl_strcmp(&chal.realm, st.realm) ||
		   (st.have_opaque && hr_pl_strcmp(&chal.opaque,
			st.opaque))) {
		bench_err("reg-storm: challenges differ in realm or opaque");
		return false;
	}
	memcpy(a->nonce, chal.nonce.p, chal.nonce.len);
	a->nonce_len = (uint8_t)chal.nonce.len;
	a->nc = 0;
	return true;
}

/* The kept challenge of K, for its next request with credentials. */
static void kept_chal(const struct aor *a, struct hr_digest *chal)
{
	memset(chal, 0, sizeof(*chal));
	chal->realm = hr_pl_str(st.realm);
	chal->nonce.p = a->nonce;
	chal->nonce.len = a->nonce_len;
	if (st.have_opaque)
		chal->opaque = hr_pl_str(st.opaque);
}

/* REGISTER of uK's binding with CSeq a->reg_cseq; with credentials when
 * the AOR has a nonce (nc bumped). */
static int put_register(struct bench_out *out, struct bench_op *op,
	uint32_t k, uint32_t expires)
{
	const struct bench_cfg *cfg = bench_cfg(op->b);
	struct aor *a = &st.a[k];
	char user[16], aor[300], uri[300];
	struct hr_digest chal;
	int err;

	bench_name_k(user, sizeof(user), 'u', k);
	if (bench_sip_uri(aor, sizeof(aor), user, cfg->domain) ||
	    bench_sip_uri(uri, sizeof(uri), NULL, cfg->domain))
		return ENOSPC;
	bench_put_reqline(out, op, "REGISTER", uri);
	bench_put_from_to(out, op, aor);
	bench_out_lit(out, "Call-ID: ");
	put_reg_callid(out, op->b, k);
	bench_out_lit(out, "\r\n");
	bench_put_cseq(out, a->reg_cseq, "REGISTER");
	bench_out_lit(out, "Contact: <sip:");
	bench_out_puts(out, user);
	bench_out_lit(out, "@");
	bench_out_put(out, a->contact, a->contact_len);
	bench_put_tp_param(out, op->b);
	bench_out_lit(out, ">\r\nExpires: ");
	bench_out_putu(out, expires);
	bench_out_lit(out, "\r\n");
	if (a->nonce_len) {
		kept_chal(a, &chal);
		err = bench_put_auth_nc(out, op, user, "REGISTER", uri, &chal,
			++a->nc);
		if (err)
			return err;
	}
	bench_out_lit(out, "User-Agent: herald-bench\r\n");
	bench_put_end(out, NULL, NULL, 0);
	return 0;
}

/* SUBSCRIBE to uK's reg event by the watcher: out of the dialog (to the
 * AOR, with credentials when chal) or, ending it, in it. */
static int put_subscribe(struct bench_out *out, struct bench_op *op,
	uint32_t k, const struct hr_digest *chal, bool end)
{
	const struct bench_cfg *cfg = bench_cfg(op->b);
	const struct aor *a = &st.a[k];
	char user[16], aor[300];
	const char *w = cfg->monitor;
	int err;

	bench_name_k(user, sizeof(user), 'u', k);
	if (self_watch(cfg))
		w = user;
	if (bench_sip_uri(aor, sizeof(aor), user, cfg->domain))
		return ENOSPC;
	bench_put_reqline(out, op, "SUBSCRIBE",
		end && a->target_len ? a->target : aor);
	bench_out_lit(out, "From: <sip:");
	bench_out_puts(out, w);
	bench_out_lit(out, "@");
	bench_out_puts(out, cfg->domain);
	/* K in the tag: every NOTIFY of the dialog names its AOR */
	bench_out_lit(out, ">;tag=w");
	bench_out_putu(out, k);
	bench_out_lit(out, ".");
	bench_out_put(out, a->opid, a->opid_len);
	bench_out_lit(out, "\r\nTo: <");
	bench_out_puts(out, aor);
	bench_out_lit(out, ">");
	if (end) {
		bench_out_lit(out, ";tag=");
		bench_out_put(out, a->totag, a->totag_len);
	}
	bench_out_lit(out, "\r\nCall-ID: ");
	bench_out_put(out, a->opid, a->opid_len);
	bench_out_lit(out, "@herald-bench\r\n");
	bench_put_cseq(out, a->sub_cseq, "SUBSCRIBE");
	bench_put_contact(out, op, w, true);
	bench_out_lit(out, "Event: reg\r\nAccept: application/reginfo+xml\r\n"
		"Expires: ");
	bench_out_putu(out, end ? 0 : 3600);
	bench_out_lit(out, "\r\n");
	if (chal) {
		/* the digest uri is exactly the Request-URI */
		err = bench_put_auth(out, op, w, "SUBSCRIBE", aor, chal);
		if (err)
			return err;
	}
	bench_out_lit(out, "User-Agent: herald-bench\r\n");
	bench_put_end(out, NULL, NULL, 0);
	return 0;
}

/* ---- reading reginfo (RFC 3680 5.1), as Herald writes it ---- */

/* The value of attribute name in the start tag at p (up to its '>'). */
static bool tag_attr(const char *p, const char *end, const char *name,
	struct hr_pl *val)
{
	size_t nlen = strlen(name);
	const char *gt = memchr(p, '>', (size_t)(end - p)), *q, *v, *e;

	if (!gt)
		return false;
	for (q = p; (q = memmem(q, (size_t)(gt - q), name, nlen)); q += nlen) {
		if (q[-1] != ' ' || q + nlen + 2 > gt || q[nlen] != '=' ||
		    (q[nlen + 1] != '"' && q[nlen + 1] != '\''))
			continue;
		v = q + nlen + 2;
		e = memchr(v, q[nlen + 1], (size_t)(gt - v));
		if (!e)
			return false;
		val->p = v;
		val->len = (size_t)(e - v);
		return true;
	}
	return false;
}

static bool attr_u64(const char *p, const char *end, const char *name,
	uint64_t *v)
{
	struct hr_pl val;

	return tag_attr(p, end, name, &val) &&
		hr_pl_u64(&val, UINT64_MAX, v) == 0;
}

/*
 * The document's version, and the cseq of the contact whose callid is K's
 * REGISTER Call-ID (0: none in the body).
 */
static bool reginfo_scan(const struct bench *b, const struct hr_pl *body,
	uint32_t k, uint64_t *version, uint64_t *cseq)
{
	const char *p = body->p, *end = body->p + body->len, *q;
	char cid[64];
	struct bench_out o = { cid, 0, sizeof(cid), false };
	struct hr_pl val;

	put_reg_callid(&o, b, k);
	*cseq = 0;
	q = memmem(p, body->len, "<reginfo", 8);
	if (o.full || !q || !attr_u64(q, end, "version", version))
		return false;
	for (p = q; (q = memmem(p, (size_t)(end - p), "<contact", 8));
	     p = q + 8) {
		if (q + 8 >= end || (q[8] != ' ' && q[8] != '>'))
			continue;
		if (!tag_attr(q, end, "callid", &val) || val.len != o.len ||
		    memcmp(val.p, cid, o.len))
			continue;
		return attr_u64(q, end, "cseq", cseq);
	}
	return true;
}

/* The number of a CSeq value "N NOTIFY"; 0 when it is not one. */
static uint32_t cseq_num(const struct hr_pl *cseq)
{
	struct hr_pl n = *cseq;
	const char *sp = memchr(cseq->p, ' ', cseq->len);
	uint64_t v;

	if (sp)
		n.len = (size_t)(sp - cseq->p);
	if (!cseq->p || hr_pl_u64(&n, UINT32_MAX, &v))
		return 0;
	return (uint32_t)v;
}

/* ---- the NOTIFYs ---- */

enum seen {
	SEEN_NEW,       /* news for the AOR */
	SEEN_AGAIN,     /* a retransmission */
	SEEN_DUP,       /* a new NOTIFY with nothing new */
	SEEN_BAD,       /* not a reg NOTIFY of ours */
};

/* A NOTIFY to the subscription of K: what it is, and its accounting. */
static enum seen notify_seen(const struct bench *b, uint32_t k,
	const struct bench_msg *req)
{
	struct aor *a = &st.a[k];
	uint32_t cseq = cseq_num(&req->cseq);
	uint64_t version, ccseq, now = bench_now();
	bool terminated, dup = false, storm = st.first_sent != 0;

	if (!bench_notify_state(req, &terminated) || !cseq)
		return SEEN_BAD;
	if (cseq <= a->notify_cseq) {
		if (storm)
			st.retransmits++;
		return SEEN_AGAIN;
	}
	a->notify_cseq = cseq;
	if (terminated && storm)
		st.terminated++;
	if (!reginfo_scan(b, &req->body, k, &version, &ccseq))
		return SEEN_BAD;
	if (storm) {
		st.notifies++;
		if (!st.settling)
			st.in_window++;
	}
	if (a->version1 && version < a->version1) {
		dup = true;
		if (storm)
			st.old_version++;
	} else {
		if (a->version1 && version > a->version1 && storm)
			st.version_gaps++;
		a->version1 = version + 1;
	}
	if (!ccseq) {
		if (storm)
			st.no_contact++;
	} else if (ccseq <= a->told) {
		if (!dup && storm)
			st.old_state++;
		dup = true;
	} else {
		a->told = (uint32_t)ccseq;
		if (a->storm_cseq && ccseq >= a->storm_cseq && !a->t_told) {
			a->t_told = now;
			bench_hist_add(&st.delay, now > a->t_sent ?
				now - a->t_sent : 0);
		}
	}
	if (dup && storm)
		st.duplicates++;
	return dup ? SEEN_DUP : SEEN_NEW;
}

/* NOTIFYs to no op in flight: the storm's, and setup stragglers. */
static void storm_notify(struct bench *b, const struct bench_msg *req)
{
	uint32_t k = bench_notify_watcher(req);

	if (!k || k > st.n || !st.a) {
		st.other++;
		return;
	}
	if (!st.first_sent)
		st.setup_other++;
	if (notify_seen(b, k, req) == SEEN_BAD)
		st.other++;
}

/* ---- setup: register uK, subscribe to it ---- */

static void save_totag(struct aor *a, const struct hr_pl *tag)
{
	if (tag->len > TAG_MAX)
		return;
	memcpy(a->totag, tag->p, tag->len);
	a->totag_len = (uint8_t)tag->len;
}

/* The URI in the 200's Contact: where in-dialog requests go. */
static void save_target(struct aor *a, const struct bench_msg *resp)
{
	size_t n = bench_msg_contact_uri(resp, a->target, sizeof(a->target));

	if (n)
		a->target_len = (uint8_t)n;
}

static enum bench_act setup_start(struct bench_op *op, struct bench_out *out)
{
	const struct bench_cfg *cfg = bench_cfg(op->b);
	struct storm_op *s = op->priv;
	struct aor *a;
	size_t len = strlen(op->laddr);

	if (!table(cfg) || st.next_setup >= st.n ||
	    len >= sizeof(a->contact))
		return BENCH_FAIL;
	s->k = ++st.next_setup;
	s->phase = PH_REG;
	a = &st.a[s->k];
	memcpy(a->contact, op->laddr, len);
	a->contact_len = (uint8_t)len;
	a->reg_cseq = 1;
	if (put_register(out, op, s->k, 3600))
		return BENCH_FAIL;
	return BENCH_SEND;
}

/* The binding is made: the watcher subscribes. */
static enum bench_act setup_subscribe(struct bench_op *op,
	struct storm_op *s, struct bench_out *out)
{
	struct aor *a = &st.a[s->k];
	struct bench_out o = { a->opid, 0, sizeof(a->opid), false };

	a->bound = true;
	st.bound++;
	bench_put_opid(&o, op);
	if (o.full)
		return BENCH_FAIL;
	a->opid_len = (uint8_t)o.len;
	a->sub_cseq = 1;
	s->phase = PH_SUB;
	if (put_subscribe(out, op, s->k, NULL, false))
		return BENCH_FAIL;
	return BENCH_SEND;
}

/* The subscription is up: 200 and a first NOTIFY showing the binding. */
static enum bench_act setup_up(struct storm_op *s)
{
	struct aor *a = &st.a[s->k];

	if (a->told < a->reg_cseq) {
		if (!st.unseen++)
			bench_err("reg-storm: u%u: the first NOTIFY does not "
				"show the binding", s->k);
		return BENCH_FAIL;
	}
	a->up = true;
	st.up++;
	return BENCH_DONE;
}

/* The first setup failure by status says why (403: not a monitor, or
 * over Herald's --max-subscriptions-per-watcher). */
static enum bench_act setup_refused(const struct storm_op *s,
	const struct bench_msg *resp)
{
	if (!st.refused++)
		bench_err("reg-storm: u%u: %s: %u %.*s", s->k,
			s->phase <= PH_REG_AUTH ? "REGISTER" : "SUBSCRIBE",
			resp->scode, HR_PL_ARG(resp->reason));
	return BENCH_FAIL;
}

static enum bench_act setup_response(struct bench_op *op,
	const struct bench_msg *resp, struct bench_out *out)
{
	struct storm_op *s = op->priv;
	struct aor *a = &st.a[s->k];
	struct hr_digest chal;
	struct hr_pl tag;
	bool ok = resp->scode >= 200 && resp->scode < 300;

	switch (s->phase) {
	case PH_REG:
		if (resp->scode == 200)
			return setup_subscribe(op, s, out);
		if (resp->scode != 401 || !keep_chal(a, resp))
			return setup_refused(s, resp);
		s->phase = PH_REG_AUTH;
		a->reg_cseq++;
		if (put_register(out, op, s->k, 3600))
			return BENCH_FAIL;
		return BENCH_SEND;
	case PH_REG_AUTH:
		if (resp->scode != 200)
			return setup_refused(s, resp);
		return setup_subscribe(op, s, out);
	case PH_SUB:
		if (resp->scode == 401) {
			if (!bench_find_md5(resp, &chal))
				return BENCH_FAIL;
			s->phase = PH_SUB_AUTH;
			a->sub_cseq++;
			if (put_subscribe(out, op, s->k, &chal, false))
				return BENCH_FAIL;
			return BENCH_SEND;
		}
		/* a server that does not challenge */
		s->phase = PH_SUB_AUTH;
		/* fall through */
	case PH_SUB_AUTH:
		if (!ok || !bench_msg_tag(resp, "To", 't', &tag))
			return setup_refused(s, resp);
		save_totag(a, &tag);
		save_target(a, resp);
		s->got_ok = true;
		a->dlg = true;
		return s->got_notify ? setup_up(s) : BENCH_WAIT;
	}
	return BENCH_FAIL;
}

static enum bench_act setup_request(struct bench_op *op,
	const struct bench_msg *req, struct bench_out *out)
{
	struct storm_op *s = op->priv;
	struct aor *a = &st.a[s->k];
	struct hr_pl tag;
	bool terminated;
	enum seen seen;

	(void)out;
	if (!bench_notify_state(req, &terminated) ||
	    (s->phase != PH_SUB && s->phase != PH_SUB_AUTH))
		return BENCH_WAIT;
	seen = notify_seen(op->b, s->k, req);
	if (seen == SEEN_AGAIN || s->got_notify)
		return BENCH_WAIT;
	if (terminated || seen != SEEN_NEW)
		return BENCH_FAIL;
	s->got_notify = true;
	/* a NOTIFY that overtook the 200 has its To-tag as From-tag */
	if (!a->totag_len && bench_msg_tag(req, "From", 'f', &tag))
		save_totag(a, &tag);
	return s->got_ok ? setup_up(s) : BENCH_WAIT;
}

static uint64_t setup_ops(const struct bench_cfg *cfg)
{
	return cfg->aors;
}

static const struct bench_scen storm_setup = {
	.name = "reg-storm-setup",
	.help = "register uK, the monitor subscribes to it",
	.op_size = sizeof(struct storm_op),
	.start = setup_start,
	.on_response = setup_response,
	.on_request = setup_request,
	.on_other_request = storm_notify,
};

/* ---- the storm: every AOR refreshes its binding ---- */

static enum bench_act storm_start(struct bench_op *op, struct bench_out *out)
{
	struct storm_op *s = op->priv;
	struct aor *a;

	do
		s->k = ++st.next_storm;
	while (s->k <= st.n && !st.a[s->k].up);
	if (s->k > st.n)
		return BENCH_FAIL;
	a = &st.a[s->k];
	s->phase = PH_STORM;
	a->reg_cseq++;
	a->storm_cseq = a->reg_cseq;
	if (put_register(out, op, s->k, 3600))
		return BENCH_FAIL;
	/* the engine sends it as soon as this returns */
	a->t_sent = bench_now();
	if (!st.first_sent) {
		st.first_sent = a->t_sent;
		st.drops_storm = udp_drops();
		st.drops_setup = st.drops_storm - st.drops_setup;
	}
	return BENCH_SEND;
}

/* A 401 to a request with credentials (the nonce went stale): answer
 * the new challenge once. */
static enum bench_act rechallenge(struct bench_op *op, struct storm_op *s,
	const struct bench_msg *resp, struct bench_out *out,
	uint32_t expires)
{
	struct aor *a = &st.a[s->k];

	if (resp->scode != 401 || s->rechallenged || !keep_chal(a, resp))
		return BENCH_FAIL;
	s->rechallenged = true;
	st.rechallenges++;
	a->reg_cseq++;
	if (s->phase == PH_STORM)
		a->storm_cseq = a->reg_cseq;
	if (put_register(out, op, s->k, expires))
		return BENCH_FAIL;
	if (s->phase == PH_STORM)
		a->t_sent = bench_now();
	return BENCH_SEND;
}

static enum bench_act storm_response(struct bench_op *op,
	const struct bench_msg *resp, struct bench_out *out)
{
	struct storm_op *s = op->priv;

	if (resp->scode != 200)
		return rechallenge(op, s, resp, out, 3600);
	st.a[s->k].reg_ok = true;
	st.last_200 = bench_now();
	return BENCH_DONE;
}

static void storm_configure(struct bench_cfg *cfg)
{
	double r;

	if (!cfg->aors)
		cfg->aors = STORM_AORS;
	cfg->max_ops = cfg->aors;
	if (cfg->storm_s > 0) {
		r = (double)cfg->aors / cfg->storm_s + 0.5;
		cfg->rate = r < 1 ? 1 : (uint64_t)r;
	} else {
		cfg->rate = 0;
	}
	/* --ops ends the storm; this only bounds a schedule that slips */
	cfg->duration_s = cfg->storm_s + 60;
	/*
	 * Not rate x timeout: the setup and the teardown run this many
	 * ops at once, and 2000 over UDP overflow a 4 MB receive buffer
	 * with their NOTIFYs; at 1000/s a REGISTER would have to take
	 * 256 ms to hold back the storm.
	 */
	if (!cfg->window)
		cfg->window = STORM_WINDOW;
}

/* NOTIFYs still due: until --settle after the last 200. */
static uint64_t storm_settle(const struct bench *b)
{
	const struct bench_cfg *cfg = bench_cfg(b);
	uint64_t end, now = bench_now();

	st.settling = true;
	if (!st.last_200)
		return 0;
	end = st.last_200 + (uint64_t)(cfg->settle_s * 1e9);
	return now < end ? end - now : 0;
}

/* AORs whose refresh got its 200 and no NOTIFY by the deadline. */
static uint64_t lost(const struct bench_cfg *cfg, uint32_t *notified)
{
	uint64_t deadline = st.last_200 + (uint64_t)(cfg->settle_s * 1e9);
	uint64_t n = 0;
	uint32_t k;

	*notified = 0;
	st.late = 0;
	for (k = 1; k <= st.n; k++) {
		const struct aor *a = &st.a[k];

		if (a->t_told && a->t_told <= deadline)
			(*notified)++;
		else if (a->t_told && a->reg_ok)
			st.late++;
		if (a->reg_ok && (!a->t_told || a->t_told > deadline))
			n++;
	}
	return n;
}

static uint64_t nlost, nfailed;

/* Evidence: the first few AORs lost. */
static void print_lost(const struct bench_cfg *cfg)
{
	uint64_t deadline = st.last_200 + (uint64_t)(cfg->settle_s * 1e9);
	char buf[256];
	struct bench_out o = { buf, 0, sizeof(buf) - 1, false };
	unsigned n = 0;
	uint32_t k;

	for (k = 1; k <= st.n && n < 10; k++) {
		const struct aor *a = &st.a[k];

		if (!a->reg_ok || (a->t_told && a->t_told <= deadline))
			continue;
		bench_out_lit(&o, " u");
		bench_out_putu(&o, k);
		bench_out_lit(&o, " (cseq ");
		bench_out_putu(&o, a->storm_cseq);
		bench_out_lit(&o, ", told ");
		bench_out_putu(&o, a->told);
		bench_out_lit(&o, ")");
		n++;
	}
	buf[o.len] = '\0';
	bench_err("reg-storm: lost:%s%s", buf, nlost > n ? " ..." : "");
}

static void storm_summary(const struct bench *b, const struct bench_result *r)
{
	const struct bench_cfg *cfg = bench_cfg(b);
	double secs = st.last_200 > st.first_sent ?
		(double)(st.last_200 - st.first_sent) / 1e9 : 0;
	uint32_t notified = 0;

	if (st.a)
		nlost = lost(cfg, &notified);
	st.drops_storm = udp_drops() - st.drops_storm;
	nfailed = r->failed;
	printf("scenario=reg-storm transport=%s aors=%u storm=%.1fs "
		"registers=%llu notifies=%llu notifies/s=%.0f notified=%u "
		"lost=%llu duplicates=%llu retransmits=%llu failures=%llu "
		"delay_p50=%.3fms delay_p99=%.3fms delay_max=%.3fms "
		"reg_p50=%.3fms reg_p99=%.3fms\n",
		r->tp, st.up, secs, (unsigned long long)r->ok,
		(unsigned long long)st.notifies,
		secs > 0 ? (double)st.in_window / secs : 0.0, notified,
		(unsigned long long)nlost,
		(unsigned long long)st.duplicates,
		(unsigned long long)st.retransmits,
		(unsigned long long)r->failed,
		(double)bench_hist_pct(&st.delay, 50) / 1e6,
		(double)bench_hist_pct(&st.delay, 99) / 1e6,
		(double)st.delay.max / 1e6,
		(double)bench_hist_pct(r->lat, 50) / 1e6,
		(double)bench_hist_pct(r->lat, 99) / 1e6);
	if (cfg->verbose || nlost || st.duplicates)
		bench_err("reg-storm: watcher=%s rate=%llu/s started=%llu "
			"in_window=%llu late=%llu old_version=%llu "
			"old_state=%llu version_gaps=%llu no_contact=%llu "
			"terminated=%llu rechallenges=%llu other=%llu "
			"setup_other=%llu udp_rcvbuf_drops setup=%llu "
			"storm=%llu", cfg->monitor,
			(unsigned long long)cfg->rate,
			(unsigned long long)r->started,
			(unsigned long long)st.in_window,
			(unsigned long long)st.late,
			(unsigned long long)st.old_version,
			(unsigned long long)st.old_state,
			(unsigned long long)st.version_gaps,
			(unsigned long long)st.no_contact,
			(unsigned long long)st.terminated,
			(unsigned long long)st.rechallenges,
			(unsigned long long)st.other,
			(unsigned long long)st.setup_other,
			(unsigned long long)st.drops_setup,
			(unsigned long long)st.drops_storm);
	if (nlost)
		print_lost(cfg);
}

static bool storm_failed(const struct bench *b)
{
	(void)b;
	return nlost || st.duplicates || nfailed || st.up < st.n;
}

/* ---- teardown: end each subscription, then the binding ---- */

/* The binding goes: REGISTER Expires: 0. */
static enum bench_act unregister(struct bench_op *op, struct storm_op *s,
	struct bench_out *out)
{
	struct aor *a = &st.a[s->k];

	s->phase = PH_UNREG;
	a->up = false;
	a->reg_cseq++;
	if (put_register(out, op, s->k, 0))
		return BENCH_FAIL;
	return BENCH_SEND;
}

static enum bench_act down_start(struct bench_op *op, struct bench_out *out)
{
	struct storm_op *s = op->priv;

	do
		s->k = ++st.next_down;
	while (s->k <= st.n && !st.a[s->k].bound);
	if (s->k > st.n)
		return BENCH_FAIL;
	if (!st.a[s->k].dlg)
		return unregister(op, s, out);
	s->phase = PH_UNSUB;
	st.a[s->k].sub_cseq++;
	if (put_subscribe(out, op, s->k, NULL, true))
		return BENCH_FAIL;
	return BENCH_SEND;
}

static enum bench_act down_response(struct bench_op *op,
	const struct bench_msg *resp, struct bench_out *out)
{
	struct storm_op *s = op->priv;

	if (s->phase == PH_UNSUB) {
		/* the NOTIFY terminated goes to no op: not waited for */
		if (resp->scode < 200 || resp->scode >= 300)
			return BENCH_FAIL;
		return unregister(op, s, out);
	}
	if (resp->scode != 200)
		return rechallenge(op, s, resp, out, 0);
	return BENCH_DONE;
}

static uint64_t down_ops(const struct bench_cfg *cfg)
{
	(void)cfg;
	return st.bound;
}

static const struct bench_scen storm_down = {
	.name = "reg-storm-teardown",
	.help = "the monitor unsubscribes from uK, uK unregisters",
	.op_size = sizeof(struct storm_op),
	.start = down_start,
	.on_response = down_response,
};

const struct bench_scen bench_scen_storm = {
	.name = "reg-storm",
	.help = "--aors watched AORs all re-register: NOTIFYs lost, late",
	.op_size = sizeof(struct storm_op),
	.start = storm_start,
	.on_response = storm_response,
	.setup = &storm_setup,
	.setup_ops = setup_ops,
	.setup_all = true,
	.teardown = &storm_down,
	.teardown_ops = down_ops,
	.on_other_request = storm_notify,
	.summary = storm_summary,
	.configure = storm_configure,
	.settle = storm_settle,
	.failed = storm_failed,
};
