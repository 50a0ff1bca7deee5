/*
 * server/xml/dialoginfo.c: PUBLISH bodies read (RFC 4235's examples,
 * broken ones, hostile ones); documents composed from their dialogs,
 * parsed back, validated against RFC 4235's schema (HR_XSD_DIR, no
 * network), read with XPath and compared element by element with the
 * dialogs they come from. libxml2 may load nothing while a test runs.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "xml/xml.h"
#include "check_run.h"
#include "doc_check.h"

#define CAP 65536
#define ENTITY "sip:alice@example.test"
#define DI_NS "urn:ietf:params:xml:ns:dialog-info"
#define NWF "Bad dialog-info: not well-formed"
#define ROOT "<dialog-info xmlns='" DI_NS "' version='0' state='full' " \
	"entity='sip:a@example.test'>"
#define DLG(id, st) "<dialog id='" id "'><state>" st "</state></dialog>"

static xmlSchemaPtr schema;

static void schema_load(void)
{
	guard = false;
	schema = xsd_load("dialog-info.xsd");
	guard = true;
	loads = 0;
}

static void schema_free(void)
{
	xsd_free(&schema);
	ck_assert_uint_eq(loads, 0);
}

static struct hr_dinfo *parse_ok(const char *p, size_t len)
{
	struct hr_dinfo *d = NULL;
	const char *why = "unset";
	int err = hr_dinfo_parse(&d, p, len, &why);

	parsed_ok(err, d, why, p, len);
	return d;
}

static struct hr_dinfo *parse_str(const char *s)
{
	return parse_ok(s, strlen(s));
}

static void parse_bad(const char *p, size_t len, const char *want)
{
	struct hr_dinfo *d = NULL;
	const char *why = NULL;
	int err = hr_dinfo_parse(&d, p, len, &why);

	parsed_bad(err, d, why, want, p, len);
}

/* Every dialog of d, in document order, into v (room for 8). */
static unsigned refs_all(struct hr_dinfo_ref *v, const struct hr_dinfo *d)
{
	unsigned n = hr_dinfo_ndialogs(d);

	ck_assert_uint_le(n, 8);
	for (unsigned i = 0; i < n; i++)
		v[i] = (struct hr_dinfo_ref){ d, i };
	return n;
}

static void compose(struct hr_buf *buf, unsigned version, bool full,
	const struct hr_dinfo_ref *v, unsigned n, bool private_remote)
{
	hr_buf_init(buf, CAP);
	ck_assert_int_eq(hr_dinfo_compose(buf, ENTITY, version, full, v, n,
		private_remote), 0);
	ck_assert_uint_eq(loads, 0);
}

/* Composed, valid, with the root's attributes as asked. */
static xmlDocPtr compose_ok(struct hr_buf *buf, unsigned version,
	bool full, const struct hr_dinfo_ref *v, unsigned n,
	bool private_remote)
{
	char ver[16];
	xmlDocPtr doc;

	compose(buf, version, full, v, n, private_remote);
	doc = xsd_valid(schema, buf);
	snprintf(ver, sizeof(ver), "%u", version);
	xp_eq(doc, "/di:dialog-info/@version", ver);
	xp_eq(doc, "/di:dialog-info/@state", full ? "full" : "partial");
	xp_eq(doc, "/di:dialog-info/@entity", ENTITY);
	xp_count(doc, "/di:dialog-info/@*", 3);
	xp_count(doc, "/di:dialog-info/*", n);
	return doc;
}

/* Composing the composed document's dialogs again gives it back byte
 * for byte, and its dialogs read as those of src. */
static void fixpoint(const struct hr_buf *buf, unsigned version, bool full,
	const struct hr_dinfo *src)
{
	struct hr_dinfo *d = parse_ok(buf->b, buf->len);
	struct hr_dinfo_ref v[8];
	unsigned n = refs_all(v, d);
	struct hr_buf again;

	ck_assert_str_eq(hr_dinfo_entity(d), ENTITY);
	ck_assert(hr_dinfo_full(d) == full);
	if (src) {
		ck_assert_uint_eq(n, hr_dinfo_ndialogs(src));
		for (unsigned i = 0; i < n; i++) {
			ck_assert_str_eq(hr_dinfo_id(d, i),
				hr_dinfo_id(src, i));
			ck_assert_int_eq(hr_dinfo_state(d, i),
				hr_dinfo_state(src, i));
		}
	}
	compose(&again, version, full, v, n, false);
	ck_assert_msg(again.len == buf->len &&
		!memcmp(again.b, buf->b, buf->len), "%.*s\nthen\n%.*s",
		(int)buf->len, buf->b, (int)again.len, again.b);
	hr_buf_reset(&again);
	hr_mem_deref(d);
}

/* ---- reading ---- */

/*
 * RFC 4235's examples as printed (/work/shared/xsd/README.md lists their
 * faults). why: what the parser says of the ones that break a rule it
 * checks; valid: whether the example passes the RFC's own schema.
 */
static const struct {
	const char *file;
	const char *why;
	bool valid;
	bool full;
	unsigned n;
	const char *ids[2];
	enum hr_dlg_state states[2];
} examples[] = {
	{ "rfc4235-1.xml", NULL, true, true, 1, { "as7d900as8" },
		{ HR_DLG_CONFIRMED } },
	/* notify-state instead of state */
	{ .file = "rfc4235-2.xml",
		.why = "Bad dialog-info: state is neither full nor partial" },
	/* the RFC elides the dialog's content as "..." */
	{ .file = "rfc4235-3.xml",
		.why = "Bad dialog-info: dialog without state" },
	{ .file = "rfc4235-4.xml", .why = "Bad dialog-info: no entity" },
	{ "rfc4235-5.xml", NULL, true, true, 1, { "as7d900as8" },
		{ HR_DLG_TRYING } },
	{ "rfc4235-6.xml", NULL, true, true, 1, { "as7d900as8" },
		{ HR_DLG_EARLY } },
	/* two early dialogs, one id (RFC 4235 4.1.1: it identifies one) */
	{ .file = "rfc4235-7.xml",
		.why = "Bad dialog-info: two dialogs with one id" },
	{ "rfc4235-8.xml", NULL, true, false, 1, { "as7d900as8" },
		{ HR_DLG_CONFIRMED } },
	{ "rfc4235-9.xml", NULL, true, false, 1, { "as7d900as8" },
		{ HR_DLG_TERMINATED } },
	{ .file = "rfc4235-10.xml", .valid = true, .full = true },
	{ "rfc4235-11.xml", NULL, true, false, 1, { "as7d900as8" },
		{ HR_DLG_TRYING } },
	{ "rfc4235-12.xml", NULL, false, false, 1, { "as7d900as8" },
		{ HR_DLG_TRYING } },
	{ "rfc4235-13.xml", NULL, true, false, 1, { "as7d900as8" },
		{ HR_DLG_EARLY } },
	{ "rfc4235-14.xml", NULL, false, false, 2,
		{ "as7d900as8", "zxcvbnm3" },
		{ HR_DLG_TERMINATED, HR_DLG_CONFIRMED } },
	{ "rfc4235-15.xml", NULL, false, false, 2, { "zxcvbnm3", "sfhjsjk12" },
		{ HR_DLG_TERMINATED, HR_DLG_CONFIRMED } },
	{ "rfc4235-16.xml", NULL, false, false, 1, { "sfhjsjk12" },
		{ HR_DLG_CONFIRMED } },
	/* <target .../> then </target> */
	{ .file = "rfc4235-17.xml", .why = NWF },
	{ "rfc4235-18.xml", NULL, false, false, 2, { "sfhjsjk12", "08hjh1345" },
		{ HR_DLG_TERMINATED, HR_DLG_TRYING } },
	{ .file = "rfc4235-19.xml", .valid = true, .full = true },
	{ .file = "rfc4235-20.xml", .valid = true, .full = true },
	{ "rfc4235-21.xml", NULL, true, true, 1, { "1" },
		{ HR_DLG_CONFIRMED } },
	{ .file = "rfc4235-22.xml", .valid = true, .full = true },
};

static void example_check(const struct hr_dinfo *d, unsigned e)
{
	ck_assert_str_eq(hr_dinfo_entity(d), "sip:alice@example.com");
	ck_assert(hr_dinfo_full(d) == examples[e].full);
	ck_assert_uint_eq(hr_dinfo_ndialogs(d), examples[e].n);
	for (unsigned i = 0; i < examples[e].n; i++) {
		ck_assert_str_eq(hr_dinfo_id(d, i), examples[e].ids[i]);
		ck_assert_int_eq(hr_dinfo_state(d, i), examples[e].states[i]);
	}
	ck_assert_ptr_null(hr_dinfo_id(d, examples[e].n));
}

/*
 * Every example is read as the RFC means it, or refused for what is
 * wrong with it; composed alone, it comes back with the same dialogs,
 * valid where the example is.
 */
START_TEST(test_examples)
{
	char name[64], *p;
	struct hr_dinfo_ref v[8];
	struct hr_dinfo *d;
	struct hr_buf buf;
	const xmlNode *want[8];
	xmlDocPtr src, out;
	unsigned n;
	size_t len;

	snprintf(name, sizeof(name), "examples/%s", examples[_i].file);
	p = xsd_file(name, &len);
	if (examples[_i].why) {
		parse_bad(p, len, examples[_i].why);
		free(p);
		ck_assert_uint_eq(hr_mem_live(), 0);
		return;
	}
	d = parse_ok(p, len);
	example_check(d, _i);
	n = refs_all(v, d);
	compose(&buf, 7, examples[_i].full, v, n, false);
	out = xsd_parse(buf.b, buf.len);
	if (examples[_i].valid)
		xsd_check(schema, out, buf.b, buf.len);
	src = xsd_parse(p, len);
	for (unsigned i = 0; i < n; i++)
		want[i] = elem_at(src, i);
	tops_are(out, &buf, want, n);
	ck_assert(has(&buf, "<dialog-info xmlns=\"" DI_NS "\" version=\"7\""));
	fixpoint(&buf, 7, examples[_i].full, d);
	xmlFreeDoc(src);
	free(p);
	hr_mem_deref(d);
	done(&buf, out);
}
END_TEST

static const struct {
	const char *doc;
	const char *why;
} bad_docs[] = {
	{ "", NWF },
	{ "<dialog-info", NWF },
	{ ROOT DLG("a", "trying"), NWF },
	{ ROOT "<dialog id='a'><state>trying</dialog></dialog-info>", NWF },
	{ ROOT "<x:dialog id='a'/></dialog-info>", NWF },
	{ ROOT "<dialog id='a'><state>&nbsp;</state></dialog></dialog-info>",
		NWF },
	{ ROOT "<dialog id='a'><state>\x01</state></dialog></dialog-info>",
		NWF },
	{ "<dialog-info xmlns='" DI_NS "' version='0' state='full' "
		"entity='a' entity='b'/>", NWF },
	/* wrong root, wrong namespace */
	{ "<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='e'/>",
		"Bad dialog-info: root is not dialog-info" },
	{ "<dialog xmlns='" DI_NS "' id='a'><state>trying</state></dialog>",
		"Bad dialog-info: root is not dialog-info" },
	{ "<dialog-info version='0' state='full' entity='e'/>",
		"Bad dialog-info: not in the dialog-info namespace" },
	{ "<dialog-info xmlns='urn:ietf:params:xml:ns:pidf' version='0' "
		"state='full' entity='e'/>",
		"Bad dialog-info: not in the dialog-info namespace" },
	{ "<dialog-info xmlns='" DI_NS ":' version='0' state='full' "
		"entity='e'/>",
		"Bad dialog-info: not in the dialog-info namespace" },
	/* version */
	{ "<dialog-info xmlns='" DI_NS "' state='full' entity='e'/>",
		"Bad dialog-info: bad version" },
	{ "<dialog-info xmlns='" DI_NS "' version='' state='full' "
		"entity='e'/>", "Bad dialog-info: bad version" },
	{ "<dialog-info xmlns='" DI_NS "' version='-1' state='full' "
		"entity='e'/>", "Bad dialog-info: bad version" },
	{ "<dialog-info xmlns='" DI_NS "' version='1.0' state='full' "
		"entity='e'/>", "Bad dialog-info: bad version" },
	{ "<dialog-info xmlns='" DI_NS "' version='1 2' state='full' "
		"entity='e'/>", "Bad dialog-info: bad version" },
	{ "<dialog-info xmlns='" DI_NS "' xmlns:e='urn:x' e:version='1' "
		"state='full' entity='e'/>", "Bad dialog-info: bad version" },
	/* state */
	{ "<dialog-info xmlns='" DI_NS "' version='0' entity='e'/>",
		"Bad dialog-info: state is neither full nor partial" },
	{ "<dialog-info xmlns='" DI_NS "' version='0' state='Full' "
		"entity='e'/>",
		"Bad dialog-info: state is neither full nor partial" },
	{ "<dialog-info xmlns='" DI_NS "' version='0' state='' entity='e'/>",
		"Bad dialog-info: state is neither full nor partial" },
	/* entity */
	{ "<dialog-info xmlns='" DI_NS "' version='0' state='full'/>",
		"Bad dialog-info: no entity" },
	{ "<dialog-info xmlns='" DI_NS "' version='0' state='full' "
		"entity=''/>", "Bad dialog-info: no entity" },
	{ "<dialog-info xmlns='" DI_NS "' xmlns:e='urn:x' version='0' "
		"state='full' e:entity='a'/>", "Bad dialog-info: no entity" },
	/* dialogs */
	{ ROOT "<dialog><state>trying</state></dialog></dialog-info>",
		"Bad dialog-info: dialog without id" },
	{ ROOT "<dialog id=''><state>trying</state></dialog></dialog-info>",
		"Bad dialog-info: dialog without id" },
	{ ROOT "<dialog xmlns:e='urn:x' e:id='a'><state>trying</state>"
		"</dialog></dialog-info>",
		"Bad dialog-info: dialog without id" },
	{ ROOT "<dialog id='a'/></dialog-info>",
		"Bad dialog-info: dialog without state" },
	{ ROOT "<dialog id='a'><e:state xmlns:e='urn:x'>trying</e:state>"
		"</dialog></dialog-info>",
		"Bad dialog-info: dialog without state" },
	{ ROOT "<dialog id='a'><local><state>trying</state></local>"
		"</dialog></dialog-info>",
		"Bad dialog-info: dialog without state" },
	{ ROOT "<dialog id='a'><state>trying</state><state>early</state>"
		"</dialog></dialog-info>",
		"Bad dialog-info: dialog with two states" },
	{ ROOT DLG("a", "ringing") "</dialog-info>",
		"Bad dialog-info: unknown dialog state" },
	{ ROOT DLG("a", "") "</dialog-info>",
		"Bad dialog-info: unknown dialog state" },
	{ ROOT DLG("a", "confirmed terminated") "</dialog-info>",
		"Bad dialog-info: unknown dialog state" },
	{ ROOT DLG("a", "confirmed\xc2\xa0") "</dialog-info>",
		"Bad dialog-info: unknown dialog state" },
	{ ROOT DLG("a", "trying") DLG("b", "early") DLG("a", "trying")
		"</dialog-info>",
		"Bad dialog-info: two dialogs with one id" },
};

START_TEST(test_bad)
{
	parse_bad(bad_docs[_i].doc, strlen(bad_docs[_i].doc),
		bad_docs[_i].why);
	ck_assert_uint_eq(hr_mem_live(), 0);
}
END_TEST

/* What the schema allows, and what a lenient server takes. */
START_TEST(test_lenient)
{
	static const char doc[] = "<?xml version='1.0' encoding='UTF-8'?>"
		"<d:dialog-info xmlns:d='" DI_NS "' xmlns:e='urn:x' "
		"version=' +007 ' state='partial' entity='sip:b@example.test'>"
		"<!-- c --><?pi x?>"
		"<d:dialog id='a'>\n <d:state event='remote-bye'>\n"
		"\tterminated \r\n</d:state></d:dialog>"
		"<d:dialog id='b'><d:state><![CDATA[proceeding]]></d:state>"
		"<e:state>ignored</e:state></d:dialog>"
		/* neither is a dialog of the document */
		"<e:dialog/><e:x><d:dialog/></e:x>"
		"<d:dialog id='A'><d:state>early</d:state></d:dialog>"
		"<d:dialog id=' a'><d:state>trying</d:state></d:dialog>"
		"</d:dialog-info>";
	struct hr_dinfo *d = parse_str(doc);

	ck_assert_str_eq(hr_dinfo_entity(d), "sip:b@example.test");
	ck_assert(!hr_dinfo_full(d));
	ck_assert_uint_eq(hr_dinfo_ndialogs(d), 4);
	ck_assert_str_eq(hr_dinfo_id(d, 0), "a");
	ck_assert_int_eq(hr_dinfo_state(d, 0), HR_DLG_TERMINATED);
	ck_assert_str_eq(hr_dinfo_id(d, 1), "b");
	ck_assert_int_eq(hr_dinfo_state(d, 1), HR_DLG_PROCEEDING);
	ck_assert_str_eq(hr_dinfo_id(d, 2), "A");
	ck_assert_str_eq(hr_dinfo_id(d, 3), " a");
	ck_assert_int_eq(hr_dinfo_state(d, 3), HR_DLG_TRYING);
	ck_assert_ptr_null(hr_dinfo_id(d, 4));
	ck_assert_int_eq(hr_dinfo_state(d, 4), HR_DLG_TERMINATED);
	hr_mem_deref(d);
	/* no XML declaration, a large version */
	hr_mem_deref(parse_str("<dialog-info xmlns='" DI_NS "' "
		"version='123456789012345678901234567890' state='full' "
		"entity='e'/>"));
	ck_assert_uint_eq(hr_mem_live(), 0);
}
END_TEST

/* Nothing read, nothing answered with a crash: NULLs and out of range. */
START_TEST(test_args)
{
	struct hr_dinfo *d = NULL;
	const char *why = "unset";

	ck_assert_int_eq(hr_dinfo_parse(NULL, ROOT "</dialog-info>", 10,
		&why), EINVAL);
	ck_assert_ptr_null(why);
	ck_assert_int_eq(hr_dinfo_parse(&d, NULL, 3, &why), EINVAL);
	ck_assert_int_eq(hr_dinfo_parse(&d, NULL, 0, NULL), EBADMSG);
	ck_assert_ptr_null(d);
	ck_assert_ptr_null(hr_dinfo_entity(NULL));
	ck_assert(!hr_dinfo_full(NULL));
	ck_assert_uint_eq(hr_dinfo_ndialogs(NULL), 0);
	ck_assert_ptr_null(hr_dinfo_id(NULL, 0));
	ck_assert_int_eq(hr_dinfo_state(NULL, 0), HR_DLG_TERMINATED);
}
END_TEST

/* RFC 4235 3.7.1, in the order of the enum. */
START_TEST(test_state_names)
{
	static const char *const names[] = {
		"trying", "proceeding", "early", "confirmed", "terminated",
	};

	ck_assert_int_lt(HR_DLG_TRYING, HR_DLG_PROCEEDING);
	ck_assert_int_lt(HR_DLG_PROCEEDING, HR_DLG_EARLY);
	ck_assert_int_lt(HR_DLG_EARLY, HR_DLG_CONFIRMED);
	ck_assert_int_lt(HR_DLG_CONFIRMED, HR_DLG_TERMINATED);
	for (unsigned i = 0; i < 5; i++) {
		char doc[256];
		struct hr_dinfo *d;

		ck_assert_str_eq(hr_dlg_state_name((enum hr_dlg_state)i),
			names[i]);
		snprintf(doc, sizeof(doc), ROOT DLG("x", "%s")
			"</dialog-info>", names[i]);
		d = parse_str(doc);
		ck_assert_int_eq(hr_dinfo_state(d, 0), (int)i);
		hr_mem_deref(d);
	}
	ck_assert_ptr_null(hr_dlg_state_name((enum hr_dlg_state)5));
	ck_assert_ptr_null(hr_dlg_state_name((enum hr_dlg_state)-1));
}
END_TEST

/* ---- hostile documents: refused, nothing loaded, nothing expanded ---- */

static void hostile(const char *p, size_t len)
{
	double t0 = now_s();

	parse_bad(p, len, "Bad dialog-info: DOCTYPE not allowed");
	ck_assert_msg(now_s() - t0 < 1.0, "%f s", now_s() - t0);
	ck_assert_uint_eq(hr_mem_live(), 0);
}

#define BODY "<dialog-info xmlns='" DI_NS "' version='0' state='full' " \
	"entity='e'><dialog id='&x;'><state>trying</state></dialog>" \
	"</dialog-info>"

static const char *const xxe[] = {
	"<?xml version='1.0'?><!DOCTYPE dialog-info [<!ENTITY x SYSTEM "
		"'file:///etc/passwd'>]>" BODY,
	"<!DOCTYPE dialog-info [<!ENTITY x SYSTEM 'http://127.0.0.1:9/x'>]>"
		BODY,
	"<!DOCTYPE dialog-info SYSTEM 'file:///etc/passwd'>" BODY,
	"<!DOCTYPE dialog-info [<!ENTITY % p SYSTEM 'http://127.0.0.1:9/p'>"
		"%p;]>" BODY,
	"<!DOCTYPE dialog-info [<!ENTITY x \"internal\">]>" BODY,
	"<!DOCTYPE dialog-info [<!ATTLIST dialog-info entity CDATA "
		"'sip:x@example.test'>]><dialog-info xmlns='" DI_NS "' "
		"version='0' state='full'/>",
};

START_TEST(test_xxe)
{
	hostile(xxe[_i], strlen(xxe[_i]));
}
END_TEST

/* Ten levels of ten: 10^9 "lol" if expanded; and in UTF-16. */
START_TEST(test_billion_laughs)
{
	struct hr_buf b;
	char *u;
	size_t n;

	hr_buf_init(&b, 1 << 20);
	laughs_dtd(&b, "dialog-info");
	ck_assert_int_eq(hr_buf_puts(&b, "<dialog-info xmlns='" DI_NS
		"' version='0' state='full' entity='&l9;'><dialog id='&l9;'>"
		"<state>&l9;</state></dialog></dialog-info>"), 0);
	hostile(b.b, b.len);
	/* UTF-16LE with a byte order mark */
	u = malloc(2 * b.len + 2);
	ck_assert_ptr_nonnull(u);
	u[0] = '\xff';
	u[1] = '\xfe';
	for (n = 0; n < b.len; n++) {
		u[2 + 2 * n] = b.b[n];
		u[3 + 2 * n] = '\0';
	}
	hostile(u, 2 * b.len + 2);
	free(u);
	hr_buf_reset(&b);
}
END_TEST

/* ---- composition ---- */

/* Alice's desk phone: two dialogs, default namespace. */
static const char pub_a[] = "<?xml version='1.0' encoding='UTF-8'?>\n"
	"<dialog-info xmlns='" DI_NS "' version='3' state='full'\n"
	"    entity='sip:alice@example.test'>\n"
	"  <dialog id='a1' call-id='c1' local-tag='l1' remote-tag='r1'\n"
	"      direction='initiator'>\n"
	"    <state event='remote-bye' code='200'>terminated</state>\n"
	"    <duration>274</duration>\n"
	"    <replaces call-id='c0' local-tag='l0' remote-tag='r0'/>\n"
	"    <referred-by display-name='Carol'>sip:carol@example.test"
	"</referred-by>\n"
	"    <route-set><hop>sip:p1.example.test;lr</hop></route-set>\n"
	"    <local><identity display-name='Alice'>sip:alice@example.test"
	"</identity><target uri='sip:alice@pc.example.test'>"
	"<param pname='isfocus' pval='true'/></target>"
	"<session-description type='application/sdp'>v=0</session-description>"
	"<cseq>7</cseq></local>\n"
	"    <remote><identity display-name='Bob'>sip:bob@example.test"
	"</identity><target uri='sip:bob@phone.example.test'/></remote>\n"
	"  </dialog>\n"
	"  <dialog id='a2' direction='recipient'>\n"
	"    <state>early</state>\n"
	"    <remote><identity>sip:dave@example.test</identity></remote>\n"
	"  </dialog>\n"
	"</dialog-info>\n";

/* Alice's softphone: the dialog-info namespace as d:, an extension as
 * e: (urn:example:x) declared on the root, one as the default inside. */
static const char pub_b[] = "<?xml version='1.0' encoding='UTF-8'?>\n"
	"<d:dialog-info xmlns:d='" DI_NS "' xmlns:e='urn:example:x'\n"
	"    version='0' state='partial' entity='sip:alice@example.test'>\n"
	"  <d:dialog id='b1' call-id='cb'>\n"
	"    <d:state>confirmed</d:state>\n"
	"    <d:local><d:target uri='sip:alice@soft.example.test'/>"
	"<e:rendering>yes</e:rendering></d:local>\n"
	"    <d:remote><d:identity>sip:erin@example.test</d:identity>"
	"<e:hint e:level='2'>private</e:hint></d:remote>\n"
	"    <e:park slot='7'><e:lot>A</e:lot></e:park>\n"
	"    <y xmlns='urn:example:y'><z xmlns=''>none</z></y>\n"
	"  </d:dialog>\n"
	"  <e:other>not a dialog</e:other>\n"
	"</d:dialog-info>\n";

/* A third one: e: is urn:example:y here, d: is the extension and the
 * dialog-info namespace is x:. */
static const char pub_c[] = "<x:dialog-info xmlns:x='" DI_NS "'"
	" xmlns:e='urn:example:y' xmlns:d='urn:example:x' version='1'"
	" state='full' entity='sip:alice@example.test'>"
	"<x:dialog id='c1'><x:state>proceeding</x:state>"
	"<x:referred-by>sip:frank@example.test</x:referred-by>"
	"<e:park>y</e:park><d:park slot='1'/><!-- c --><?pi dropped?>"
	"</x:dialog></x:dialog-info>";

struct pubs {
	struct hr_dinfo *d[3];
	xmlDocPtr s[3];
};

static void pubs_parse(struct pubs *p)
{
	const char *const src[] = { pub_a, pub_b, pub_c };

	for (unsigned i = 0; i < 3; i++) {
		p->d[i] = parse_str(src[i]);
		p->s[i] = xsd_parse(src[i], strlen(src[i]));
		xsd_check(schema, p->s[i], src[i], strlen(src[i]));
	}
}

static void pubs_free(struct pubs *p)
{
	for (unsigned i = 0; i < 3; i++) {
		xmlFreeDoc(p->s[i]);
		hr_mem_deref(p->d[i]);
	}
}

/* All of one publication, full: its dialogs as they were. */
START_TEST(test_full)
{
	struct hr_dinfo_ref v[8];
	struct pubs p;
	struct hr_buf buf;
	xmlDocPtr out;
	unsigned n;

	pubs_parse(&p);
	n = refs_all(v, p.d[0]);
	out = compose_ok(&buf, 12, true, v, n, false);
	{
		const xmlNode *want[] = { elem_at(p.s[0], 0),
			elem_at(p.s[0], 1) };

		tops_are(out, &buf, want, 2);
	}
	xp_eq(out, "/di:dialog-info/di:dialog[1]/di:state/@event",
		"remote-bye");
	xp_eq(out, "/di:dialog-info/di:dialog[1]/di:remote/di:identity",
		"sip:bob@example.test");
	xp_eq(out, "/di:dialog-info/di:dialog[1]/di:referred-by/"
		"@display-name", "Carol");
	xp_eq(out, "/di:dialog-info/di:dialog[2]/di:state", "early");
	ck_assert(has(&buf, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<dialog-info xmlns=\"" DI_NS "\" version=\"12\" "
		"state=\"full\" entity=\"" ENTITY "\">"));
	ck_assert(has(&buf, "<state event=\"remote-bye\" code=\"200\">"
		"terminated</state>"));
	ck_assert(has(&buf, "<param pname=\"isfocus\" pval=\"true\"/>"));
	fixpoint(&buf, 12, true, p.d[0]);
	pubs_free(&p);
	done(&buf, out);
}
END_TEST

/* Some dialogs of several publications that used other prefixes, in the
 * order given, partial: unprefixed dialog-info elements, extensions in
 * their own namespaces whatever their prefixes. */
START_TEST(test_partial_mixed)
{
	struct pubs p;
	struct hr_buf buf;
	xmlDocPtr out;

	pubs_parse(&p);
	{
		const struct hr_dinfo_ref v[] = {
			{ p.d[2], 0 }, { p.d[0], 1 }, { p.d[1], 0 },
		};
		const xmlNode *want[] = { elem_at(p.s[2], 0),
			elem_at(p.s[0], 1), elem_at(p.s[1], 0) };

		out = compose_ok(&buf, 0, false, v, 3, false);
		tops_are(out, &buf, want, 3);
	}
	xp_eq(out, "/di:dialog-info/di:dialog[1]/@id", "c1");
	xp_eq(out, "/di:dialog-info/di:dialog[1]/y:park", "y");
	xp_eq(out, "/di:dialog-info/di:dialog[1]/x:park/@slot", "1");
	xp_eq(out, "/di:dialog-info/di:dialog[3]/x:park/x:lot", "A");
	xp_eq(out, "/di:dialog-info/di:dialog[3]/di:remote/x:hint/@x:level",
		"2");
	xp_eq(out, "/di:dialog-info/di:dialog[3]/di:local/x:rendering",
		"yes");
	xp_eq(out, "/di:dialog-info/di:dialog[3]/y:y/z", "none");
	xp_count(out, "//*[local-name()='other']", 0);
	xp_count(out, "//comment()", 0);
	xp_count(out, "//processing-instruction()", 0);
	ck_assert(!has(&buf, "<d:dialog"));
	ck_assert(!has(&buf, "<x:dialog"));
	ck_assert(!has(&buf, "<d:state"));
	ck_assert(has(&buf, "<state>proceeding</state>"));
	ck_assert(has(&buf, "<state>confirmed</state>"));
	fixpoint(&buf, 0, false, NULL);
	pubs_free(&p);
	done(&buf, out);
}
END_TEST

/* No dialog: the idle line, full or partial. */
/* What Kamailio 5.6's pua_dialoginfo publishes: "Trying" capitalized
 * (RFC 4235 3.7.1's diagram) and <remote> before <local>, against the
 * schema's order. Read as trying; composed with the state's name as the
 * examples write it and the elements in the schema's order: valid. */
START_TEST(test_kamailio)
{
	static const char body[] = "<?xml version=\"1.0\"?>\n"
		"<dialog-info xmlns=\"" DI_NS "\" version=\"0\" "
		"state=\"full\" entity=\"sip:bob@example.test\">\n"
		"  <dialog id=\"padi-1\" call-id=\"c1\" direction=\"initiator\">"
		"\n    <state>Trying</state>\n"
		"    <remote><identity>sip:alice@example.test</identity></remote>\n"
		"    <local><identity>sip:bob@example.test</identity></local>\n"
		"  </dialog>\n</dialog-info>\n";
	struct hr_dinfo *d = parse_str(body);
	struct hr_dinfo_ref v = { d, 0 };
	struct hr_buf buf;
	xmlDocPtr out;

	ck_assert_int_eq(hr_dinfo_state(d, 0), HR_DLG_TRYING);
	out = compose_ok(&buf, 0, true, &v, 1, false);
	xp_eq(out, "/di:dialog-info/di:dialog/di:state", "trying");
	xp_eq(out, "name(/di:dialog-info/di:dialog/*[2])", "local");
	xp_eq(out, "name(/di:dialog-info/di:dialog/*[3])", "remote");
	hr_mem_deref(d);
	done(&buf, out);
}
END_TEST

START_TEST(test_idle)
{
	struct hr_buf buf;
	xmlDocPtr out;

	out = compose_ok(&buf, 5, true, NULL, 0, false);
	ck_assert(has(&buf, "<dialog-info xmlns=\"" DI_NS "\" version=\"5\" "
		"state=\"full\" entity=\"" ENTITY "\"/>"));
	fixpoint(&buf, 5, true, NULL);
	xmlFreeDoc(out);
	hr_buf_reset(&buf);
	out = compose_ok(&buf, 4294967295u, false, NULL, 0, true);
	xp_eq(out, "/di:dialog-info/@version", "4294967295");
	done(&buf, out);
}
END_TEST

/* private_remote: no <remote>, no <referred-by>; the rest intact. */
START_TEST(test_private)
{
	struct hr_dinfo_ref v[3];
	struct pubs p;
	struct hr_buf buf, buf2;
	xmlDocPtr out, full;

	pubs_parse(&p);
	v[0] = (struct hr_dinfo_ref){ p.d[0], 0 };
	v[1] = (struct hr_dinfo_ref){ p.d[1], 0 };
	v[2] = (struct hr_dinfo_ref){ p.d[2], 0 };
	out = compose_ok(&buf, 9, true, v, 3, true);
	xp_count(out, "//di:remote", 0);
	xp_count(out, "//di:referred-by", 0);
	ck_assert(!has(&buf, "bob"));
	ck_assert(!has(&buf, "carol"));
	ck_assert(!has(&buf, "sip:erin"));
	ck_assert(!has(&buf, "frank"));
	ck_assert(!has(&buf, "private"));
	xp_eq(out, "/di:dialog-info/di:dialog[1]/di:state", "terminated");
	xp_eq(out, "/di:dialog-info/di:dialog[1]/di:local/di:identity",
		"sip:alice@example.test");
	xp_eq(out, "/di:dialog-info/di:dialog[1]/di:duration", "274");
	xp_eq(out, "/di:dialog-info/di:dialog[1]/di:route-set/di:hop",
		"sip:p1.example.test;lr");
	xp_eq(out, "/di:dialog-info/di:dialog[1]/di:replaces/@call-id", "c0");
	xp_eq(out, "/di:dialog-info/di:dialog[1]/@remote-tag", "r1");
	xp_eq(out, "/di:dialog-info/di:dialog[2]/x:park/x:lot", "A");
	xp_eq(out, "/di:dialog-info/di:dialog[3]/y:park", "y");
	/* the same as without, the two elements taken out */
	full = compose_ok(&buf2, 9, true, v, 3, false);
	xp_count(full, "//di:remote", 2);
	xp_count(full, "//di:referred-by", 2);
	for (xmlNodePtr k = xmlDocGetRootElement(full)->children; k;
	     k = k->next) {
		for (xmlNodePtr c = k->children, next; c; c = next) {
			next = c->next;
			if (c->type == XML_ELEMENT_NODE &&
			    (xmlStrEqual(c->name, BAD_CAST "remote") ||
			     xmlStrEqual(c->name, BAD_CAST "referred-by"))) {
				xmlUnlinkNode(c);
				xmlFreeNode(c);
			}
		}
	}
	ck_assert(xsd_same(xmlDocGetRootElement(out),
		xmlDocGetRootElement(full)));
	xmlFreeDoc(full);
	hr_buf_reset(&buf2);
	pubs_free(&p);
	done(&buf, out);
}
END_TEST

START_TEST(test_invalid)
{
	struct hr_dinfo *d = parse_str(pub_a);
	struct hr_dinfo_ref ok = { d, 1 }, bad[] = { { d, 2 }, { NULL, 0 } };
	struct hr_buf buf;

	hr_buf_init(&buf, CAP);
	ck_assert_int_eq(hr_dinfo_compose(NULL, ENTITY, 0, true, &ok, 1,
		false), EINVAL);
	ck_assert_int_eq(hr_dinfo_compose(&buf, NULL, 0, true, &ok, 1,
		false), EINVAL);
	ck_assert_int_eq(hr_dinfo_compose(&buf, "", 0, true, &ok, 1,
		false), EINVAL);
	ck_assert_int_eq(hr_dinfo_compose(&buf, "a\x01", 0, true, &ok, 1,
		false), EINVAL);
	ck_assert_int_eq(hr_dinfo_compose(&buf, "\xc3\x28", 0, true, &ok, 1,
		false), EINVAL);
	ck_assert_int_eq(hr_dinfo_compose(&buf, ENTITY, 0, true, NULL, 1,
		false), EINVAL);
	ck_assert_int_eq(hr_dinfo_compose(&buf, ENTITY, 0, true, &bad[0], 1,
		false), EINVAL);
	ck_assert_int_eq(hr_dinfo_compose(&buf, ENTITY, 0, true, &bad[1], 1,
		false), EINVAL);
	ck_assert_uint_eq(buf.len, 0);
	/* an entity is escaped */
	ck_assert_int_eq(hr_dinfo_compose(&buf, "sip:a&b<c>\"@x", 0, true,
		&ok, 1, false), 0);
	ck_assert(has(&buf, "entity=\"sip:a&amp;b&lt;c&gt;&quot;@x\""));
	hr_mem_deref(d);
	done(&buf, NULL);
}
END_TEST

static int compose_pub(struct hr_buf *buf, void *arg)
{
	struct hr_dinfo_ref v[8];

	return hr_dinfo_compose(buf, ENTITY, 1, true, v, refs_all(v, arg),
		true);
}

/* Too small a buffer: EMSGSIZE, and what was there is left as it was. */
START_TEST(test_cap)
{
	struct hr_dinfo *d = parse_str(pub_a);
	struct hr_buf buf, small;
	size_t n;

	hr_buf_init(&buf, CAP);
	ck_assert_int_eq(compose_pub(&buf, d), 0);
	n = buf.len;
	for (size_t cap = 0; cap < n; cap += cap < 64 ? 8 : 37) {
		hr_buf_init(&small, cap);
		ck_assert_int_eq(compose_pub(&small, d), EMSGSIZE);
		ck_assert_uint_eq(small.len, 0);
		hr_buf_reset(&small);
	}
	xsd_cap_append(compose_pub, d, &buf);
	hr_mem_deref(d);
	done(&buf, NULL);
}
END_TEST

/* A publication is refcounted; it outlives its body. */
START_TEST(test_ref)
{
	char *body = strdup(pub_b);
	struct hr_dinfo *d, *r;
	struct hr_dinfo_ref v;
	struct hr_buf buf;
	xmlDocPtr out;

	d = parse_str(body);
	free(body);
	r = hr_mem_ref(d);
	ck_assert_uint_eq(hr_mem_nrefs(d), 2);
	ck_assert_ptr_null(hr_mem_deref(d));
	ck_assert_str_eq(hr_dinfo_entity(r), "sip:alice@example.test");
	v = (struct hr_dinfo_ref){ r, 0 };
	out = compose_ok(&buf, 1, false, &v, 1, false);
	xp_eq(out, "/di:dialog-info/di:dialog/@id", "b1");
	hr_mem_deref(r);
	done(&buf, out);
}
END_TEST

/* Many dialogs: ids checked in n log n, all kept in order. */
START_TEST(test_many)
{
	struct hr_dinfo *d;
	struct hr_buf b;
	char id[16];

	hr_buf_init(&b, 1 << 24);
	ck_assert_int_eq(hr_buf_puts(&b, ROOT), 0);
	for (unsigned i = 0; i < 20000; i++)
		ck_assert_int_eq(hr_buf_printf(&b, DLG("d%u", "early"),
			(i * 7919u) % 20000), 0);
	ck_assert_int_eq(hr_buf_puts(&b, "</dialog-info>"), 0);
	d = parse_ok(b.b, b.len);
	ck_assert_uint_eq(hr_dinfo_ndialogs(d), 20000);
	snprintf(id, sizeof(id), "d%u", (19999u * 7919u) % 20000);
	ck_assert_str_eq(hr_dinfo_id(d, 19999), id);
	hr_mem_deref(d);
	b.len -= strlen("</dialog-info>");
	ck_assert_int_eq(hr_buf_puts(&b, DLG("d5", "early")
		"</dialog-info>"), 0);
	parse_bad(b.b, b.len, "Bad dialog-info: two dialogs with one id");
	hr_buf_reset(&b);
	ck_assert_uint_eq(hr_mem_live(), 0);
}
END_TEST

static Suite *dinfo_suite(void)
{
	Suite *s = suite_create("dialoginfo");
	TCase *rd = tcase_create("parse");
	TCase *ev = tcase_create("hostile");
	TCase *wr = tcase_create("write");

	tcase_add_checked_fixture(rd, schema_load, schema_free);
	tcase_add_loop_test(rd, test_examples, 0,
		sizeof(examples) / sizeof(examples[0]));
	tcase_add_loop_test(rd, test_bad, 0,
		sizeof(bad_docs) / sizeof(bad_docs[0]));
	tcase_add_test(rd, test_lenient);
	tcase_add_test(rd, test_args);
	tcase_add_test(rd, test_state_names);
	tcase_add_test(rd, test_many);
	suite_add_tcase(s, rd);

	tcase_add_checked_fixture(ev, schema_load, schema_free);
	tcase_add_loop_test(ev, test_xxe, 0, sizeof(xxe) / sizeof(xxe[0]));
	tcase_add_test(ev, test_billion_laughs);
	suite_add_tcase(s, ev);

	tcase_add_checked_fixture(wr, schema_load, schema_free);
	tcase_add_test(wr, test_full);
	tcase_add_test(wr, test_partial_mixed);
	tcase_add_test(wr, test_idle);
	tcase_add_test(wr, test_kamailio);
	tcase_add_test(wr, test_private);
	tcase_add_test(wr, test_invalid);
	tcase_add_test(wr, test_cap);
	tcase_add_test(wr, test_ref);
	suite_add_tcase(s, wr);
	return s;
}

int main(void)
{
	/* a schema's imports are local; while a test runs, nothing loads */
	xmlSetExternalEntityLoader(loader);
	return hr_check_run(dinfo_suite());
}
