/*
 * RFC 4475 and RFC 5118 torture messages, byte-exact from the RFCs'
 * archives: each one is decoded as a datagram and checked against what
 * the RFC's text says a receiver does with it; every accepted message is
 * printed, decoded again and printed again, and the two prints must match.
 *
 * The data directory comes from HR_TORTURE_DIR (CMake sets it to
 * tests/unit/sip/torture).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sip/sip.h"

#define PRINT_CAP (1024 * 1024)

/* What the RFC's text says a receiver does with the message. */
enum expect {
	X_VALID,      /* well formed: decode gives 0 and no err_scode */
	X_400,        /* 400, and the top Via decoded so it can be sent */
	X_400_NOVIA,  /* the top Via is what is broken: 400 or EBADMSG */
	X_505,        /* 505 Version Not Supported */
	X_501_400,    /* unknown method: accepted (router: 501) or 400 */
	X_DROP,       /* a response to discard: EBADMSG or any err_scode */
	X_REJECT,     /* not SIP at all: EBADMSG or any err_scode */
	X_CHOICE,     /* the RFC lets the receiver choose: no crash, same
		       * answer twice, and a round trip when accepted */
};

/* What hr_msg_frame() says about the same bytes on a stream. */
enum frame {
	F_ANY,        /* not checked */
	F_WHOLE,      /* 0, and the message is every byte */
	F_PREFIX,     /* 0, and bytes are left over (RFC 3261 18.3) */
	F_NODATA,     /* Content-Length beyond the bytes: wait for more */
	F_BADMSG,     /* no usable Content-Length: close the connection */
};

typedef void (check_h)(const struct hr_msg *msg, const struct hr_buf *pr);

struct torture {
	const char *dir;
	const char *name;
	enum expect x;
	enum frame f;
	check_h *check;    /* spot checks of decoded fields, or NULL */
};

static const char *tname = "";

/*
 * What a test holds. A failed assertion leaves the test by longjmp when
 * Check runs without fork (CK_FORK=no), so the teardown frees whatever
 * is still here and the next test starts with no hr_mem objects.
 */
static struct {
	struct hr_msg *msg[4];
	struct hr_buf pr[2];
	char *mem[2];
} hold;

/* hr_msg_decode, holding the message until release() */
static int decode(struct hr_msg **mp, const char *p, size_t len,
	bool stream)
{
	int err = hr_msg_decode(mp, p, len, stream);
	unsigned i;

	if (err)
		return err;
	for (i = 0; i < 4 && hold.msg[i]; i++)
		;
	ck_assert(i < 4);
	hold.msg[i] = *mp;
	return 0;
}

static void release(struct hr_msg *m)
{
	unsigned i;

	for (i = 0; i < 4; i++) {
		if (m && hold.msg[i] == m)
			hold.msg[i] = hr_mem_deref(m);
	}
}

static char *hold_mem(char *p)
{
	unsigned i;

	ck_assert(p != NULL);
	for (i = 0; i < 2 && hold.mem[i]; i++)
		;
	ck_assert(i < 2);
	hold.mem[i] = p;
	return p;
}

static void release_mem(char *p)
{
	unsigned i;

	for (i = 0; i < 2; i++) {
		if (p && hold.mem[i] == p) {
			free(p);
			hold.mem[i] = NULL;
		}
	}
}

static void teardown(void)
{
	unsigned i;

	for (i = 0; i < 4; i++)
		hold.msg[i] = hr_mem_deref(hold.msg[i]);
	for (i = 0; i < 2; i++) {
		hr_buf_reset(&hold.pr[i]);
		free(hold.mem[i]);
		hold.mem[i] = NULL;
	}
}

/* ---- helpers ---- */

static void ck_pl(const char *what, const struct hr_pl *pl, const char *want)
{
	ck_assert_msg(hr_pl_strcmp(pl, want) == 0,
		"%s: %s is \"%.*s\", want \"%s\"", tname, what,
		pl->p ? (int)pl->len : 0, pl->p ? pl->p : "", want);
}

static void ck_plmem(const char *what, const struct hr_pl *pl,
	const char *want, size_t n)
{
	ck_assert_msg(pl->p && pl->len == n && !memcmp(pl->p, want, n),
		"%s: %s has the wrong bytes (length %zu, want %zu)", tname,
		what, pl->p ? pl->len : 0, n);
}

#define CK_PL(pl, s) ck_pl(#pl, &(pl), (s))
#define CK_INT(a, b) ck_assert_msg((long long)(a) == (long long)(b), \
	"%s: %s is %lld, want %lld", tname, #a, (long long)(a), \
	(long long)(b))
#define CK(cond) ck_assert_msg((cond), "%s: %s", tname, #cond)

/* The n-th (0-based) value of a header. */
static const struct hr_hdr *nth_hdr(const struct hr_msg *msg,
	enum hr_hdr_id id, unsigned n)
{
	const struct hr_hdr *hdr = hr_msg_hdr(msg, id);
	unsigned i;

	for (i = 0; hdr && i < n; i++)
		hdr = hr_msg_hdr_next(msg, hdr);
	ck_assert_msg(hdr != NULL, "%s: no %s value #%u", tname,
		hr_hdr_name(id), n);
	return hdr;
}

static void nth_via(const struct hr_msg *msg, unsigned n, struct hr_via *via)
{
	const struct hr_hdr *hdr = nth_hdr(msg, HR_HDR_VIA, n);
	int err = hr_via_decode(via, &hdr->val);

	ck_assert_msg(err == 0, "%s: Via #%u \"%.*s\": %s", tname, n,
		HR_PL_ARG(hdr->val), hr_strerror(err));
}

static void nth_addr(const struct hr_msg *msg, enum hr_hdr_id id,
	unsigned n, struct hr_addr *addr)
{
	const struct hr_hdr *hdr = nth_hdr(msg, id, n);
	int err = hr_addr_decode(addr, &hdr->val);

	ck_assert_msg(err == 0, "%s: %s #%u \"%.*s\": %s", tname,
		hr_hdr_name(id), n, HR_PL_ARG(hdr->val), hr_strerror(err));
}

/* Unescape pl into out (NUL-terminated) and return the length. */
static size_t unesc(const struct hr_pl *pl, char *out, size_t n)
{
	size_t len = 0;
	int err = hr_uri_unescape(pl, out, n - 1, &len);

	ck_assert_msg(err == 0, "%s: unescape \"%.*s\": %s", tname,
		HR_PL_ARG(*pl), hr_strerror(err));
	ck_assert(len < n);
	out[len] = '\0';
	return len;
}

static void ck_param(const struct hr_pl *params, const char *name,
	const char *want)
{
	struct hr_pl v = HR_PL_INIT;
	int err = hr_param_get(params, name, &v);

	ck_assert_msg(err == 0, "%s: no parameter %s in \"%.*s\"", tname,
		name, params->p ? (int)params->len : 0,
		params->p ? params->p : "");
	ck_pl(name, &v, want);
}

static void ck_uparam(const struct hr_uri *uri, const char *name,
	const char *want)
{
	struct hr_pl v = HR_PL_INIT;
	int err = hr_uri_param(uri, name, &v);

	ck_assert_msg(err == 0, "%s: no URI parameter %s in \"%.*s\"", tname,
		name, HR_PL_ARG(uri->raw));
	ck_pl(name, &v, want);
}

/* s repeated n times after pre and before post, into a static buffer. */
static const char *rep(const char *pre, const char *s, unsigned n,
	const char *post)
{
	static char out[4][1024];
	static unsigned k;
	char *o = out[k++ % 4];
	size_t len;

	ck_assert(strlen(pre) + n * strlen(s) + strlen(post) < sizeof(out[0]));
	strcpy(o, pre);
	len = strlen(o);
	while (n--) {
		strcpy(o + len, s);
		len += strlen(s);
	}
	strcpy(o + len, post);
	return o;
}

static bool pr_has(const struct hr_buf *pr, const char *s)
{
	return memmem(pr->b, pr->len, s, strlen(s)) != NULL;
}

/* ---- RFC 4475 3.1.1: valid messages ---- */

static void check_wsinv(const struct hr_msg *m, const struct hr_buf *pr)
{
	struct hr_addr a;
	struct hr_via v;
	const struct hr_hdr *h;

	CK_INT(m->meth, HR_METH_INVITE);
	CK_PL(m->ruri.user, "vivekg");
	CK_PL(m->ruri.host, "chair-dnrc.example.com");
	CK_PL(m->ruri.params, ";unknownparam");
	/* quotes removed, the quoted-pairs \\ and \" kept */
	CK_PL(m->from.dname, "J Rosenberg \\\\\\\"");
	CK_PL(m->from.tag, "98asjd8");
	CK_PL(m->to.tag, "1918181833n");
	CK_PL(m->to.uri.user, "vivekg");
	CK_PL(m->callid, "wsinv.ndaksdj@192.0.2.1");
	CK_INT(m->cseq.num, 9);
	CK_INT(m->cseq.meth, HR_METH_INVITE);
	CK_INT(m->maxfwd, 68);
	/* one Via line and a "v:" line with two values */
	CK_INT(hr_msg_hdr_count(m, HR_HDR_VIA), 3);
	CK(m->has_via);
	CK_PL(m->via.proto, "UDP");
	CK_PL(m->via.host, "192.0.2.2");
	CK_PL(m->via.branch, "390skdjuw");
	nth_via(m, 1, &v);
	CK_PL(v.proto, "TCP");
	CK_PL(v.host, "spindle.example.com");
	CK_PL(v.branch, "z9hG4bK9ikj8");
	nth_via(m, 2, &v);
	CK_PL(v.proto, "UDP");
	CK_PL(v.host, "192.168.255.111");
	CK_PL(v.branch, "z9hG4bK30239");
	/* "s :" is an empty Subject */
	h = hr_msg_hdr(m, HR_HDR_SUBJECT);
	CK(h != NULL);
	CK_INT(h->val.len, 0);
	h = hr_msg_hdr_byname(m, "UnknownHeaderWithUnusualValue");
	CK(h != NULL);
	CK_INT(h->id, HR_HDR_OTHER);
	CK_PL(h->val, ";;,,;;,;");
	h = hr_msg_hdr_byname(m, "NewFangledHeader");
	CK(h != NULL);
	CK(h->val.len > 16 && !memcmp(h->val.p, "newfangled value", 16));
	CK_INT(hr_msg_hdr_count(m, HR_HDR_CONTACT), 1);
	nth_addr(m, HR_HDR_CONTACT, 0, &a);
	CK_PL(a.dname, "Quoted string \\\"\\\"");
	CK_PL(a.uri.user, "jdrosen");
	ck_param(&a.params, "newparam", "newvalue");
	ck_param(&a.params, "q", "0.33");
	CK(hr_param_exists(&a.params, "secondparam"));
	nth_addr(m, HR_HDR_ROUTE, 0, &a);
	CK_PL(a.uri.host, "services.example.com");
	ck_uparam(&a.uri, "lr", "");
	ck_uparam(&a.uri, "unknownwith", "value");
	ck_uparam(&a.uri, "unknown-no-value", "");
	CK(m->has_ctype);
	CK(hr_ctype_match(&m->ctype, "application", "sdp"));
	CK_INT(m->body.len, 150);
}

static void check_intmeth(const struct hr_msg *m, const struct hr_buf *pr)
{
	static const char meth[] =
		"!interesting-Method0123456789_*+`.%indeed'~";
	static const char user[] =
		"1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*";
	/* the quoted-pairs \BEL \NUL \DEL, escapes kept */
	static const char todn[] = "BEL:\\\x07 NUL:\\\0 DEL:\\\x7f";
	const struct hr_hdr *h;

	CK_PL(m->method, meth);
	/* % is not an escape in a method: this is no INVITE */
	CK_INT(m->meth, HR_METH_OTHER);
	CK_PL(m->cseq.method, meth);
	CK_INT(m->cseq.num, 139122385);
	CK_PL(m->ruri.user, user);
	CK_PL(m->ruri.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
	CK_PL(m->ruri.host, "example.com");
	CK_PL(m->via.proto, "TCP");
	CK_PL(m->via.branch, "z9hG4bK-.!%66*_+`'~");
	ck_plmem("to.dname", &m->to.dname, todn, sizeof(todn) - 1);
	CK_PL(m->to.uri.user, user);
	CK_PL(m->from.dname, "token1~` token2'+_ token3*%!.-");
	CK_PL(m->from.tag, "_token~1'+`*%!-.");
	ck_param(&m->from.params, "fromParam''~+*_!.-%",
		"\"\xd1\x80\xd0\xb0\xd0\xb1\xd0\xbe\xd1\x82\xd0\xb0\xd1\x8e"
		"\xd1\x89\xd0\xb8\xd0\xb9\"");
	CK_PL(m->callid, "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
	CK_INT(m->maxfwd, 255);
	h = hr_msg_hdr_byname(m, "extensionHeader-!.%*+_`'~");
	CK(h != NULL);
	CK_PL(h->val, "\xef\xbb\xbf\xe5\xa4\xa7\xe5\x81\x9c\xe9\x9b\xbb");
	CK_INT(m->body.len, 0);
}

static void check_esc01(const struct hr_msg *m, const struct hr_buf *pr)
{
	char out[128];
	struct hr_addr a;
	struct hr_pl v = HR_PL_INIT;

	/* escaped as received; the application unescapes */
	CK_PL(m->ruri.user, "sips%3Auser%40example.com");
	CK_PL(m->ruri.host, "example.net");
	unesc(&m->ruri.user, out, sizeof(out));
	ck_assert_str_eq(out, "sips:user@example.com");
	CK_PL(m->to.uri.user, "%75se%72");
	unesc(&m->to.uri.user, out, sizeof(out));
	ck_assert_str_eq(out, "user");
	unesc(&m->from.uri.user, out, sizeof(out));
	ck_assert_str_eq(out, "I have spaces");
	CK_PL(m->from.tag, "938");
	CK_PL(m->callid, "esc01.239409asdfakjkn23onasd0-3234");
	nth_addr(m, HR_HDR_CONTACT, 0, &a);
	unesc(&a.uri.user, out, sizeof(out));
	ck_assert_str_eq(out, "caller");
	CK_PL(a.uri.params, ";%6C%72;n%61me=v%61lue%25%34%31");
	ck_assert_int_eq(hr_param_get(&a.uri.params, "n%61me", &v), 0);
	/* RFC 3986: never unescaped twice, so not "valueA" */
	unesc(&v, out, sizeof(out));
	ck_assert_str_eq(out, "value%41");
	CK(m->has_ctype);
	CK(hr_ctype_match(&m->ctype, "application", "sdp"));
	CK_INT(m->body.len, 150);
}

static void check_escnull(const struct hr_msg *m, const struct hr_buf *pr)
{
	char out[64];
	struct hr_addr a;

	CK_INT(m->meth, HR_METH_REGISTER);
	CK_PL(m->to.uri.user, "null-%00-null");
	/* the AOR keeps all of its bytes */
	CK_INT(unesc(&m->to.uri.user, out, sizeof(out)), 11);
	CK(!memcmp(out, "null-\0-null", 11));
	CK_INT(hr_msg_hdr_count(m, HR_HDR_CONTACT), 2);
	nth_addr(m, HR_HDR_CONTACT, 0, &a);
	CK_INT(unesc(&a.uri.user, out, sizeof(out)), 1);
	nth_addr(m, HR_HDR_CONTACT, 1, &a);
	CK_INT(unesc(&a.uri.user, out, sizeof(out)), 2);
	CK_INT(m->body.len, 0);
}

static void check_esc02(const struct hr_msg *m, const struct hr_buf *pr)
{
	const struct hr_hdr *h;

	CK_PL(m->method, "RE%47IST%45R");
	CK_INT(m->meth, HR_METH_OTHER);
	CK_PL(m->cseq.method, "RE%47IST%45R");
	CK_PL(m->to.dname, "%Z%45");
	CK_PL(m->from.dname, "%Z%45");
	CK_PL(m->via.proto, "TCP");
	CK_PL(m->via.branch, "z9hG4bK209%fzsnel234");
	/* two Contacts, not three: C%6Fntact is an unknown header */
	CK_INT(hr_msg_hdr_count(m, HR_HDR_CONTACT), 2);
	h = hr_msg_hdr_byname(m, "C%6Fntact");
	CK(h != NULL);
	CK_INT(h->id, HR_HDR_OTHER);
}

static void check_lwsdisp(const struct hr_msg *m, const struct hr_buf *pr)
{
	CK_INT(m->meth, HR_METH_OPTIONS);
	CK_PL(m->from.dname, "caller");
	CK_PL(m->from.uri.user, "caller");
	CK_PL(m->from.tag, "323");
}

static void check_longreq(const struct hr_msg *m, const struct hr_buf *pr)
{
	struct hr_via v;
	struct hr_addr a;

	CK_INT(hr_msg_hdr_count(m, HR_HDR_VIA), 34);
	CK_PL(m->via.host, "sip33.example.com");
	nth_via(m, 33, &v);
	CK_PL(v.host, "host.example.com");
	CK_PL(v.received, "192.0.2.5");
	CK_PL(v.branch, rep("very", "long", 50, "branchvalue"));
	CK_PL(m->to.dname, rep("I have a user name of ", "extreme", 10,
		" proportion"));
	CK_INT(m->to.uri.port, 6000);
	ck_uparam(&m->to.uri, "unknownparam1", rep("very", "long", 20,
		"value"));
	CK_PL(m->from.uri.user, rep("", "amazinglylongcallername", 5, ""));
	CK_PL(m->from.tag, rep("12", "982", 50, "424"));
	CK_PL(m->callid, rep("longreq.one", "really", 20, "longcallid"));
	CK(hr_msg_hdr_byname(m, rep("Unknown-", "Long", 20, "-Name")));
	nth_addr(m, HR_HDR_CONTACT, 0, &a);
	CK_PL(a.uri.host, "host5.example.net");
	CK_INT(m->maxfwd, 70);
	CK_INT(m->body.len, 150);
}

static void check_dblreq(const struct hr_msg *m, const struct hr_buf *pr)
{
	CK_INT(m->meth, HR_METH_REGISTER);
	CK_PL(m->callid, "dblreq.0ha0isndaksdj99sdfafnl3lk233412");
	CK_INT(m->body.len, 0);
	/* RFC 3261 18.3: the octets after the body are noise */
	CK(!pr_has(pr, "INVITE"));
}

static void check_semiuri(const struct hr_msg *m, const struct hr_buf *pr)
{
	char out[64];

	CK_PL(m->ruri.user, "user;par=u%40example.net");
	CK_PL(m->ruri.host, "example.com");
	CK_INT(m->ruri.params.len, 0);
	unesc(&m->ruri.user, out, sizeof(out));
	ck_assert_str_eq(out, "user;par=u@example.net");
	CK_INT(hr_msg_hdr_count(m, HR_HDR_ACCEPT), 6);
	CK_INT(m->maxfwd, 3);
}

static void check_transports(const struct hr_msg *m,
	const struct hr_buf *pr)
{
	static const char *const proto[] = {
		"UDP", "SCTP", "TLS", "UNKNOWN", "TCP"
	};
	char host[32];
	struct hr_via v;
	unsigned i;

	CK_INT(hr_msg_hdr_count(m, HR_HDR_VIA), 5);
	for (i = 0; i < 5; i++) {
		nth_via(m, i, &v);
		CK_PL(v.proto, proto[i]);
		snprintf(host, sizeof(host), "t%u.example.com", i + 1);
		CK_PL(v.host, host);
	}
	CK_PL(m->callid, "transports.kijh4akdnaqjkwendsasfdj");
}

static void check_mpart01(const struct hr_msg *m, const struct hr_buf *pr)
{
	static const char end[] = "--7a9cbec02ceef655--\r\n";

	CK_INT(m->meth, HR_METH_MESSAGE);
	CK_PL(m->via.host, "127.0.0.1");
	CK_INT(m->via.port, 5070);
	CK(m->via.rport);
	CK_INT(m->via.rport_val, 0);
	CK(hr_ctype_match(&m->ctype, "multipart", "mixed"));
	ck_param(&m->ctype.params, "boundary", "7a9cbec02ceef655");
	/* the binary part holds NULs: framing is by Content-Length only */
	CK_INT(m->body.len, 553);
	CK(memchr(m->body.p, '\0', m->body.len) != NULL);
	CK(!memcmp(m->body.p + m->body.len - (sizeof(end) - 1), end,
		sizeof(end) - 1));
}

static void check_unreason(const struct hr_msg *m, const struct hr_buf *pr)
{
	CK(!m->req);
	CK_INT(m->scode, 200);
	CK_PL(m->reason, "= 2**3 * 5**2 \xd0\xbd\xd0\xbe \xd1\x81\xd1\x82"
		"\xd0\xbe \xd0\xb4\xd0\xb5\xd0\xb2\xd1\x8f\xd0\xbd\xd0\xbe"
		"\xd1\x81\xd1\x82\xd0\xbe \xd0\xb4\xd0\xb5\xd0\xb2\xd1\x8f"
		"\xd1\x82\xd1\x8c - \xd0\xbf\xd1\x80\xd0\xbe\xd1\x81\xd1\x82"
		"\xd0\xbe\xd0\xb5");
	CK(hr_utf8_valid(m->reason.p, m->reason.len));
	CK_INT(m->cseq.num, 35);
	CK_INT(m->body.len, 154);
}

static void check_noreason(const struct hr_msg *m, const struct hr_buf *pr)
{
	CK(!m->req);
	CK_INT(m->scode, 100);
	CK_INT(m->reason.len, 0);
}

/* ---- RFC 4475 3.1.2, 3.2, 3.3, 3.4 ---- */

static void check_ltgtruri(const struct hr_msg *m, const struct hr_buf *pr)
{
	/* accepting it is allowed, forwarding the brackets is not */
	CK(m->ruri.scheme == HR_URI_SIP);
	CK(!pr_has(pr, "INVITE <"));
}

static void check_mismatch02(const struct hr_msg *m,
	const struct hr_buf *pr)
{
	CK_PL(m->method, "NEWMETHOD");
	CK_INT(m->meth, HR_METH_OTHER);
	CK_INT(m->cseq.meth, HR_METH_INVITE);
}

static void check_unkscm(const struct hr_msg *m, const struct hr_buf *pr)
{
	/* the parser accepts it; the router answers 416 (RFC 4475 3.3.2) */
	CK_INT(m->ruri.scheme, HR_URI_OTHER);
	CK_PL(m->ruri_pl, "nobodyKnowsThisScheme:totallyopaquecontent");
	CK_PL(m->ruri.scheme_pl, "nobodyKnowsThisScheme");
}

static void check_novelsc(const struct hr_msg *m, const struct hr_buf *pr)
{
	CK_INT(m->ruri.scheme, HR_URI_OTHER);
	CK_PL(m->ruri_pl, "soap.beep://192.0.2.103:3002");
	CK_PL(m->ruri.scheme_pl, "soap.beep");
}

static void check_unksm2(const struct hr_msg *m, const struct hr_buf *pr)
{
	struct hr_addr a;

	CK_INT(m->to.uri.scheme, HR_URI_OTHER);
	CK_PL(m->to.uri.scheme_pl, "isbn");
	CK_INT(m->from.uri.scheme, HR_URI_OTHER);
	CK_PL(m->from.tag, "3234233");
	nth_addr(m, HR_HDR_CONTACT, 0, &a);
	CK_INT(a.uri.scheme, HR_URI_OTHER);
	CK_PL(a.uri.scheme_pl, "name");
}

static void check_bext01(const struct hr_msg *m, const struct hr_buf *pr)
{
	CK_INT(hr_msg_hdr_count(m, HR_HDR_REQUIRE), 2);
	CK(hr_msg_hdr_has(m, HR_HDR_REQUIRE, "nothingSupportsThis"));
	CK(hr_msg_hdr_has(m, HR_HDR_REQUIRE, "nothingSupportsThisEither"));
	CK_INT(hr_msg_hdr_count(m, HR_HDR_PROXY_REQUIRE), 2);
	CK(hr_msg_hdr_has(m, HR_HDR_PROXY_REQUIRE,
		"norDoAnyProxiesSupportThis"));
	CK_PL(m->via.proto, "TLS");
}

static void check_invut(const struct hr_msg *m, const struct hr_buf *pr)
{
	CK(hr_ctype_match(&m->ctype, "application", "unknownformat"));
	CK_INT(m->body.len, 40);
}

static void check_regaut01(const struct hr_msg *m,
	const struct hr_buf *pr)
{
	const struct hr_hdr *h = hr_msg_hdr(m, HR_HDR_AUTHORIZATION);

	CK(h != NULL);
	CK_PL(h->val, "NoOneKnowsThisScheme opaque-data=here");
	CK_INT(m->body.len, 0);
}

static void check_bcast(const struct hr_msg *m, const struct hr_buf *pr)
{
	struct hr_via v;

	CK(!m->req);
	CK_INT(m->scode, 200);
	CK_INT(hr_msg_hdr_count(m, HR_HDR_VIA), 2);
	nth_via(m, 1, &v);
	CK_PL(v.host, "255.255.255.255");
}

static void check_zeromf(const struct hr_msg *m, const struct hr_buf *pr)
{
	CK_INT(m->maxfwd, 0);
}

static void check_cparam01(const struct hr_msg *m,
	const struct hr_buf *pr)
{
	struct hr_addr a;

	/* an addr-spec: ";unknownparam" belongs to the header, not the URI */
	nth_addr(m, HR_HDR_CONTACT, 0, &a);
	CK(!a.angle);
	CK_PL(a.uri.user, "+19725552222");
	CK_INT(a.uri.params.len, 0);
	CK(hr_param_exists(&a.params, "unknownparam"));
}

static void check_cparam02(const struct hr_msg *m,
	const struct hr_buf *pr)
{
	struct hr_addr a;

	nth_addr(m, HR_HDR_CONTACT, 0, &a);
	CK(a.angle);
	ck_uparam(&a.uri, "unknownparam", "");
	CK(!hr_param_exists(&a.params, "unknownparam"));
}

static void check_regescrt(const struct hr_msg *m,
	const struct hr_buf *pr)
{
	struct hr_addr a;

	nth_addr(m, HR_HDR_CONTACT, 0, &a);
	CK_PL(a.uri.headers, "Route=%3Csip:sip.example.com%3E");
}

static void check_sdp01(const struct hr_msg *m, const struct hr_buf *pr)
{
	CK_INT(hr_msg_hdr_count(m, HR_HDR_ACCEPT), 1);
	CK_PL(hr_msg_hdr(m, HR_HDR_ACCEPT)->val, "text/nobodyKnowsThis");
	CK_INT(m->body.len, 150);
}

static void check_inv2543(const struct hr_msg *m, const struct hr_buf *pr)
{
	/* no Content-Length on UDP: the body is the rest of the datagram */
	CK(hr_msg_hdr(m, HR_HDR_CONTENT_LENGTH) == NULL);
	CK_INT(m->body.len, 105);
	CK_INT(m->maxfwd, -1);
	CK(m->has_via);
	CK(!hr_via_rfc3261(&m->via));
	CK_INT(m->from.tag.len, 0);
	CK(hr_msg_hdr(m, HR_HDR_RECORD_ROUTE) != NULL);
}

/* ---- RFC 5118 ---- */

static void check_ipv6_good(const struct hr_msg *m, const struct hr_buf *pr)
{
	struct hr_addr a;

	CK(m->ruri.ipv6);
	CK_PL(m->ruri.host, "2001:db8::10");
	CK_INT(m->ruri.port, 0);
	CK(m->via.ipv6);
	CK_PL(m->via.host, "2001:db8::9:1");
	nth_addr(m, HR_HDR_CONTACT, 0, &a);
	CK_PL(a.dname, "Caller");
	CK(a.uri.ipv6);
	CK_PL(a.uri.host, "2001:db8::1");
}

static void check_port_amb(const struct hr_msg *m, const struct hr_buf *pr)
{
	/* well formed, but 5070 is the last group of the address */
	CK(m->ruri.ipv6);
	CK_PL(m->ruri.host, "2001:db8::10:5070");
	CK_INT(m->ruri.port, 0);
}

static void check_port_unamb(const struct hr_msg *m,
	const struct hr_buf *pr)
{
	CK(m->ruri.ipv6);
	CK_PL(m->ruri.host, "2001:db8::10");
	CK_INT(m->ruri.port, 5070);
}

/* RFC 5118 4.5: received with or without brackets */
static void ck_received(const struct hr_via *v, const char *addr)
{
	struct hr_pl r = v->received;

	if (r.len >= 2 && r.p[0] == '[' && r.p[r.len - 1] == ']') {
		r.p++;
		r.len -= 2;
	}
	ck_pl("via.received", &r, addr);
}

static void check_rcvd_delim(const struct hr_msg *m,
	const struct hr_buf *pr)
{
	CK_INT(m->meth, HR_METH_BYE);
	CK(m->has_via);
	CK_PL(m->via.host, "2001:db8::9:1");
	ck_received(&m->via, "2001:db8::9:255");
	CK_PL(m->via.branch, "z9hG4bKas3-111");
}

static void check_rcvd_nodelim(const struct hr_msg *m,
	const struct hr_buf *pr)
{
	CK(m->has_via);
	CK_PL(m->via.host, "2001:db8::9:1");
	CK_PL(m->via.received, "2001:db8::9:255");
	CK_PL(m->via.branch, "z9hG4bKas3");
}

static void check_mult_hdr(const struct hr_msg *m, const struct hr_buf *pr)
{
	struct hr_via v;

	CK_INT(hr_msg_hdr_count(m, HR_HDR_VIA), 3);
	CK(m->via.ipv6);
	CK_PL(m->via.host, "2001:db8::9:1");
	CK_INT(m->via.port, 6050);
	nth_via(m, 1, &v);
	CK(!v.ipv6);
	CK_PL(v.host, "192.0.2.1");
	nth_via(m, 2, &v);
	CK(v.ipv6);
	CK_PL(v.proto, "TCP");
	CK_PL(v.host, "2001:db8::9:255");
	CK_PL(v.received, "192.0.2.200");
}

static void check_mult_sdp(const struct hr_msg *m, const struct hr_buf *pr)
{
	CK_PL(m->ruri.host, "2001:db8::10");
	CK_INT(m->body.len, 181);
}

static void check_v4mapped(const struct hr_msg *m, const struct hr_buf *pr)
{
	struct hr_via v;
	struct hr_addr a;

	CK(m->via.ipv6);
	CK_PL(m->via.host, "::ffff:192.0.2.10");
	CK_INT(m->via.port, 19823);
	nth_via(m, 1, &v);
	CK_PL(v.host, "::ffff:192.0.2.2");
	CK_INT(v.port, 0);
	nth_addr(m, HR_HDR_CONTACT, 0, &a);
	CK_PL(a.dname, "T. desk phone");
	CK_PL(a.uri.host, "::ffff:192.0.2.2");
	CK_INT(m->body.len, 236);
}

static void check_3colons(const struct hr_msg *m, const struct hr_buf *pr)
{
	/* tolerated (RFC 5118 4.10): the address must still be there */
	CK(m->ruri.ipv6);
	CK(hr_pl_chr(&m->ruri.host, '.') != NULL);
}

static void check_2colons(const struct hr_msg *m, const struct hr_buf *pr)
{
	CK(m->ruri.ipv6);
	CK_PL(m->ruri.host, "2001:db8::192.0.2.1");
	CK(m->to.uri.ipv6);
	CK_PL(m->to.uri.host, "2001:db8::192.0.2.1");
}

/* ---- the table ---- */

#define R4(name, x, f, check) { "rfc4475", name, x, f, check }
#define R5(name, x, f, check) { "rfc5118", name, x, f, check }

static const struct torture tab[] = {
	/* 3.1.1 valid messages */
	R4("wsinv", X_VALID, F_WHOLE, check_wsinv),
	R4("intmeth", X_VALID, F_WHOLE, check_intmeth),
	R4("esc01", X_VALID, F_WHOLE, check_esc01),
	R4("escnull", X_VALID, F_WHOLE, check_escnull),
	R4("esc02", X_VALID, F_WHOLE, check_esc02),
	R4("lwsdisp", X_VALID, F_WHOLE, check_lwsdisp),
	R4("longreq", X_VALID, F_WHOLE, check_longreq),
	R4("dblreq", X_VALID, F_PREFIX, check_dblreq),
	R4("semiuri", X_VALID, F_WHOLE, check_semiuri),
	R4("transports", X_VALID, F_WHOLE, check_transports),
	R4("mpart01", X_VALID, F_WHOLE, check_mpart01),
	R4("unreason", X_VALID, F_WHOLE, check_unreason),
	R4("noreason", X_VALID, F_WHOLE, check_noreason),
	/* 3.1.2 invalid messages */
	R4("badinv01", X_400_NOVIA, F_ANY, NULL),
	R4("clerr", X_400, F_NODATA, NULL),
	R4("ncl", X_400, F_BADMSG, NULL),
	R4("scalar02", X_400, F_ANY, NULL),
	R4("scalarlg", X_DROP, F_ANY, NULL),
	/* "should return 400"; inferring a quote leaves To without a URI */
	R4("quotbal", X_400, F_ANY, NULL),
	R4("ltgtruri", X_CHOICE, F_ANY, check_ltgtruri),
	R4("lwsruri", X_CHOICE, F_ANY, NULL),
	R4("lwsstart", X_CHOICE, F_ANY, NULL),
	R4("trws", X_CHOICE, F_ANY, NULL),
	R4("escruri", X_CHOICE, F_ANY, NULL),
	R4("baddate", X_CHOICE, F_ANY, NULL),
	R4("regbadct", X_CHOICE, F_ANY, NULL),
	R4("badaspec", X_CHOICE, F_ANY, NULL),
	/* the archive's copy also lacks the empty line after the headers */
	R4("baddn", X_CHOICE, F_ANY, NULL),
	R4("badvers", X_505, F_ANY, NULL),
	R4("mismatch01", X_400, F_ANY, NULL),
	R4("mismatch02", X_501_400, F_WHOLE, check_mismatch02),
	R4("bigcode", X_DROP, F_ANY, NULL),
	/* 3.2 transaction layer */
	R4("badbranch", X_CHOICE, F_WHOLE, NULL),
	/* 3.3 application layer: the parser passes most of these on */
	R4("insuf", X_400, F_ANY, NULL),
	R4("unkscm", X_VALID, F_WHOLE, check_unkscm),
	R4("novelsc", X_VALID, F_WHOLE, check_novelsc),
	R4("unksm2", X_VALID, F_WHOLE, check_unksm2),
	R4("bext01", X_VALID, F_WHOLE, check_bext01),
	R4("invut", X_VALID, F_WHOLE, check_invut),
	R4("regaut01", X_VALID, F_WHOLE, check_regaut01),
	R4("multi01", X_400, F_ANY, NULL),
	R4("mcl01", X_400, F_BADMSG, NULL),
	R4("bcast", X_VALID, F_WHOLE, check_bcast),
	R4("zeromf", X_VALID, F_WHOLE, check_zeromf),
	R4("cparam01", X_VALID, F_WHOLE, check_cparam01),
	R4("cparam02", X_VALID, F_WHOLE, check_cparam02),
	R4("regescrt", X_VALID, F_WHOLE, check_regescrt),
	R4("sdp01", X_VALID, F_WHOLE, check_sdp01),
	/* 3.4: RFC 2543 syntax, no Content-Length on UDP (INTEROP.md) */
	R4("inv2543", X_VALID, F_BADMSG, check_inv2543),
	/* in the archive, not in the text: no SIP-Version, no Via */
	R4("test", X_REJECT, F_ANY, NULL),

	/*
	 * RFC 5118. The archive has bare LF line ends; the rows check the
	 * messages with CRLF as SIP requires (RFC 3261 7), which is how the
	 * RFC prints them. The archive's own bytes get the X_CHOICE checks.
	 */
	R5("ipv6-good", X_VALID, F_WHOLE, check_ipv6_good),
	R5("ipv6-bad", X_400, F_WHOLE, NULL),
	R5("port-ambiguous", X_VALID, F_WHOLE, check_port_amb),
	R5("port-unambiguous", X_VALID, F_WHOLE, check_port_unamb),
	R5("via-received-param-with-delim", X_VALID, F_WHOLE,
		check_rcvd_delim),
	R5("via-received-param-no-delim", X_VALID, F_WHOLE,
		check_rcvd_nodelim),
	/*
	 * 4.6 calls it valid, but its Content-Length of 268 exceeds the
	 * 251-byte body (242 with the archive's LFs): on UDP that is the
	 * same error as RFC 4475 clerr (RFC 3261 18.3).
	 */
	R5("ipv6-in-sdp", X_400, F_NODATA, NULL),
	R5("mult-ip-in-header", X_VALID, F_WHOLE, check_mult_hdr),
	/* the body is 189 bytes with CRLF, Content-Length 181 */
	R5("mult-ip-in-sdp", X_VALID, F_PREFIX, check_mult_sdp),
	/* the body is 245 bytes with CRLF, Content-Length 236 */
	R5("ipv4-mapped-ipv6", X_VALID, F_PREFIX, check_v4mapped),
	R5("ipv6-bug-abnf-3-colons", X_CHOICE, F_WHOLE, check_3colons),
	R5("ipv6-correct-abnf-2-colons", X_VALID, F_WHOLE, check_2colons),
};

#define TAB_N (sizeof(tab) / sizeof(tab[0]))

/* ---- running one message ---- */

static char *load(const char *dir, const char *name, size_t *lenp)
{
	const char *root = getenv("HR_TORTURE_DIR");
	char path[1024];
	char *p = NULL;
	long n = -1;
	FILE *f;
	bool ok;

	ck_assert_msg(root != NULL, "HR_TORTURE_DIR is not set");
	snprintf(path, sizeof(path), "%s/%s/%s.dat", root, dir, name);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	if (!fseek(f, 0, SEEK_END))
		n = ftell(f);
	rewind(f);
	if (n >= 0)
		p = malloc((size_t)n + 1);
	ok = p && fread(p, 1, (size_t)n, f) == (size_t)n;
	fclose(f);
	hold_mem(p);
	ck_assert_msg(ok, "%s: cannot read", path);
	*lenp = (size_t)n;
	return p;
}

/*
 * Bare LF to CRLF, and close the header section if the archive left it
 * open (RFC 5118's two ABNF messages end after Content-Length).
 */
static char *crlf(const char *p, size_t len, size_t *outlen)
{
	char *q = hold_mem(malloc(2 * len + 3));
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			q[n++] = '\r';
		q[n++] = p[i];
	}
	if (!memmem(q, n, "\r\n\r\n", 4)) {
		q[n++] = '\r';
		q[n++] = '\n';
	}
	*outlen = n;
	return q;
}

static void print_msg(struct hr_buf *pr, const struct hr_msg *m)
{
	int err;

	hr_buf_init(pr, PRINT_CAP);
	err = hr_msg_print(pr, m);
	ck_assert_msg(err == 0, "%s: print: %s", tname, hr_strerror(err));
}

/*
 * decode -> print -> decode -> print: the prints are byte-identical and
 * the second decode sees what the first saw. pr gets the first print.
 */
static void round_trip(const struct hr_msg *m, struct hr_buf *pr)
{
	struct hr_buf *pr2 = &hold.pr[1];
	struct hr_msg *m2 = NULL;
	const char *sp;
	int err;

	print_msg(pr, m);
	err = decode(&m2, pr->b, pr->len, false);
	ck_assert_msg(err == 0, "%s: decoding the print: %s\n%.*s", tname,
		hr_strerror(err), (int)pr->len, pr->b);
	ck_assert_msg(m2->err_scode == 0, "%s: print decodes as %u %s\n%.*s",
		tname, m2->err_scode, m2->err_reason ? m2->err_reason : "",
		(int)pr->len, pr->b);
	CK_INT(m2->hdrc, m->hdrc);
	CK_INT(m2->req, m->req);
	CK_INT(m2->meth, m->meth);
	CK_INT(m2->scode, m->scode);
	CK_INT(m2->body.len, m->body.len);
	CK(!m->body.len || !memcmp(m2->body.p, m->body.p, m->body.len));
	print_msg(pr2, m2);
	ck_assert_msg(pr2->len == pr->len && !memcmp(pr2->b, pr->b, pr->len),
		"%s: prints differ:\n%.*s\n----\n%.*s", tname, (int)pr->len,
		pr->b, (int)pr2->len, pr2->b);
	/* RFC 4475 3.1.2.9/10: a forwarded request line has single SPs */
	if (m->req) {
		sp = memchr(pr->b, ' ', pr->len);
		CK(sp != NULL && sp[1] != ' ');
		sp = memchr(sp + 1, ' ', pr->len - (size_t)(sp + 1 - pr->b));
		CK(sp != NULL && !memcmp(sp, " SIP/2.0\r\n", 10));
	}
	hr_buf_reset(pr2);
	release(m2);
}

static void ck_outcome(const struct torture *t, int err,
	const struct hr_msg *m)
{
	unsigned sc = err ? 0 : m->err_scode;

	ck_assert_msg(err == 0 || err == EBADMSG, "%s: decode: %s", tname,
		hr_strerror(err));
	if (!err && m->err_scode) {
		ck_assert_msg(m->err_scode >= 400 && m->err_scode < 600,
			"%s: err_scode %u", tname, m->err_scode);
		CK(m->err_reason != NULL);
	}
	if (!err)
		ck_assert_uint_le(m->hdrc, HR_SIP_MAX_HDRS);
	switch (t->x) {
	case X_VALID:
		ck_assert_msg(!err && sc == 0,
			"%s: want valid, got %s / %u %s", tname,
			hr_strerror(err), sc,
			!err && m->err_reason ? m->err_reason : "");
		break;
	case X_400:
	case X_505:
		ck_assert_msg(!err && sc == (t->x == X_400 ? 400 : 505),
			"%s: want %u, got %s / %u", tname,
			t->x == X_400 ? 400 : 505, hr_strerror(err), sc);
		ck_assert_msg(m->has_via, "%s: %u but no Via to send it",
			tname, sc);
		break;
	case X_400_NOVIA:
		ck_assert_msg(err == EBADMSG || sc == 400,
			"%s: want 400 or EBADMSG, got %u", tname, sc);
		break;
	case X_501_400:
		ck_assert_msg(!err && (sc == 0 || sc == 400),
			"%s: want 0 or 400, got %s / %u", tname,
			hr_strerror(err), sc);
		CK(m->has_via);
		break;
	case X_DROP:
	case X_REJECT:
		ck_assert_msg(err == EBADMSG || sc != 0,
			"%s: accepted, want it dropped", tname);
		break;
	case X_CHOICE:
		break;
	}
}

/* The same bytes always give the same answer. */
static void ck_same(const char *p, size_t len, int err,
	const struct hr_msg *m)
{
	struct hr_msg *m2 = NULL;
	int err2 = decode(&m2, p, len, false);

	CK_INT(err2, err);
	if (!err) {
		CK_INT(m2->err_scode, m->err_scode);
		CK_INT(m2->hdrc, m->hdrc);
		CK_INT(m2->has_via, m->has_via);
	}
	release(m2);
}

static void ck_frame(const struct torture *t, const char *p, size_t len,
	const struct hr_msg *m)
{
	struct hr_msg *m2 = NULL;
	size_t n = 0;
	int err = hr_msg_frame(p, len, HR_SIP_DEFAULT_MAX_MSG, &n);

	switch (t->f) {
	case F_ANY:
		if (!err)
			ck_assert_msg(n > 0 && n <= len, "%s: frame %zu of %zu",
				tname, n, len);
		return;
	case F_WHOLE:
	case F_PREFIX:
		ck_assert_msg(err == 0, "%s: frame: %s", tname,
			hr_strerror(err));
		if (t->f == F_WHOLE)
			ck_assert_msg(n == len, "%s: frame %zu of %zu", tname,
				n, len);
		else
			ck_assert_msg(n > 0 && n < len, "%s: frame %zu of %zu",
				tname, n, len);
		break;
	case F_NODATA:
		ck_assert_msg(err == ENODATA, "%s: frame: %s, want ENODATA",
			tname, hr_strerror(err));
		return;
	case F_BADMSG:
		ck_assert_msg(err == EBADMSG, "%s: frame: %s, want EBADMSG",
			tname, hr_strerror(err));
		return;
	}
	/* a framed valid message decodes the same way from a stream */
	if (!m || m->err_scode)
		return;
	err = decode(&m2, p, n, true);
	ck_assert_msg(err == 0, "%s: stream decode: %s", tname,
		hr_strerror(err));
	ck_assert_msg(m2->err_scode == 0, "%s: stream decode: %u %s", tname,
		m2->err_scode, m2->err_reason ? m2->err_reason : "");
	CK_INT(m2->hdrc, m->hdrc);
	CK_INT(m2->body.len, m->body.len);
	release(m2);
}

/* Decode p as a datagram and hold it to t's expectations. */
static void run(const struct torture *t, const char *p, size_t len)
{
	struct hr_buf *pr = &hold.pr[0];
	struct hr_msg *m = NULL;
	int err;

	err = decode(&m, p, len, false);
	CK(err || m != NULL);
	ck_outcome(t, err, m);
	ck_same(p, len, err, m);
	if (!err && m->err_scode == 0) {
		round_trip(m, pr);
		/* for X_CHOICE: what a liberal parser accepts must be right */
		if (t->check)
			t->check(m, pr);
		hr_buf_reset(pr);
	}
	ck_frame(t, p, len, err ? NULL : m);
	release(m);
}

START_TEST(test_message)
{
	const struct torture *t = &tab[_i];
	struct torture raw;
	size_t len, n;
	char *p, *q;

	tname = t->name;
	p = load(t->dir, t->name, &len);
	if (!strcmp(t->dir, "rfc5118")) {
		/* the archive's bytes: any answer, but a consistent one */
		raw = (struct torture){ t->dir, t->name, X_CHOICE, F_ANY,
			NULL };
		run(&raw, p, len);
		q = crlf(p, len, &n);
		run(t, q, n);
		release_mem(q);
	} else {
		run(t, p, len);
	}
	release_mem(p);
	ck_assert_uint_eq(hr_mem_live(), 0);
}
END_TEST

/* Every data file has a row, so a new file cannot go unchecked. */
static void ck_dir(const char *dir, unsigned *rows)
{
	const char *root = getenv("HR_TORTURE_DIR");
	char path[1024], name[256];
	struct dirent *de;
	size_t i, n;
	DIR *d;

	ck_assert_msg(root != NULL, "HR_TORTURE_DIR is not set");
	snprintf(path, sizeof(path), "%s/%s", root, dir);
	d = opendir(path);
	ck_assert_msg(d != NULL, "%s: %s", path, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n < 5 || strcmp(de->d_name + n - 4, ".dat"))
			continue;
		ck_assert(n - 4 < sizeof(name));
		memcpy(name, de->d_name, n - 4);
		name[n - 4] = '\0';
		for (i = 0; i < TAB_N; i++)
			if (!strcmp(tab[i].dir, dir) &&
			    !strcmp(tab[i].name, name))
				break;
		ck_assert_msg(i < TAB_N, "%s/%s has no row", dir, de->d_name);
		(*rows)++;
	}
	closedir(d);
}

START_TEST(test_every_file)
{
	unsigned rows = 0;

	ck_dir("rfc4475", &rows);
	ck_dir("rfc5118", &rows);
	/* and every row has a file (distinct names, so counts suffice) */
	ck_assert_uint_eq(rows, TAB_N);
	ck_assert_uint_eq(hr_mem_live(), 0);
}
END_TEST

static Suite *torture_suite(void)
{
	Suite *s = suite_create("torture");
	TCase *tc = tcase_create("messages");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_loop_test(tc, test_message, 0, (int)TAB_N);
	suite_add_tcase(s, tc);
	tc = tcase_create("files");
	tcase_add_test(tc, test_every_file);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(torture_suite());
	int nfail;

	srunner_run_all(sr, CK_NORMAL);
	nfail = srunner_ntests_failed(sr);
	srunner_free(sr);
	/* and none are left in this process either (CK_FORK=no) */
	if (hr_mem_live() != 0) {
		fprintf(stderr, "%zu hr_mem objects leaked\n", hr_mem_live());
		nfail++;
	}
	return nfail ? EXIT_FAILURE : EXIT_SUCCESS;
}
