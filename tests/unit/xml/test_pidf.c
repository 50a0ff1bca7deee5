/*
 * server/xml/pidf.c: PUBLISH bodies read (RFC 3863's and RFC 4480's
 * examples, broken ones, hostile ones); documents composed and written,
 * each parsed back, validated against RFC 3863's schema (with RFC 4480's
 * where RPID is checked, HR_XSD_DIR, no network), read with XPath, and
 * compared element by element with the publications they come from.
 *
 * libxml2 may load nothing while a test runs (the entity loader counts
 * and refuses), and its allocations are counted to show that a hostile
 * DTD is refused before anything in it is read.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/xmlmemory.h>
#include "core/core.h"
#include "xml/xml.h"
#include "check_run.h"
#include "doc_check.h"

#define CAP 65536
#define ENTITY "sip:alice@example.test"
#define PIDF_NS "urn:ietf:params:xml:ns:pidf"
#define NWF "Bad PIDF: not well-formed"
#define PRE "<?xml version='1.0' encoding='UTF-8'?>" \
	"<presence xmlns='" PIDF_NS "' entity='sip:a@example.test'>"

static xmlSchemaPtr pidf_xsd, rpid_xsd;

/* Bytes libxml2 asks for (xmlMemSetup() in main()). */
static size_t alloc_bytes;

static void *count_malloc(size_t n)
{
	alloc_bytes += n;
	return malloc(n);
}

static void *count_realloc(void *p, size_t n)
{
	alloc_bytes += n;
	return realloc(p, n);
}

static char *count_strdup(const char *s)
{
	alloc_bytes += strlen(s) + 1;
	return strdup(s);
}

static void schemas_load(void)
{
	guard = false;
	pidf_xsd = xsd_load("pidf.xsd");
	rpid_xsd = xsd_load("pidf-rpid.xsd");
	guard = true;
	loads = 0;
}

static void schemas_free(void)
{
	xsd_free(&pidf_xsd);
	xsd_free(&rpid_xsd);
	ck_assert_uint_eq(loads, 0);
}

static struct hr_pidf *parse_ok(const char *p, size_t len)
{
	struct hr_pidf *d = NULL;
	const char *why = "unset";
	int err = hr_pidf_parse(&d, p, len, &why);

	parsed_ok(err, d, why, p, len);
	return d;
}

static struct hr_pidf *parse_str(const char *s)
{
	return parse_ok(s, strlen(s));
}

static void parse_bad(const char *p, size_t len, const char *want)
{
	struct hr_pidf *d = NULL;
	const char *why = NULL;
	int err = hr_pidf_parse(&d, p, len, &why);

	parsed_bad(err, d, why, want, p, len);
}

static xmlDocPtr compose_ok(struct hr_buf *buf, struct hr_pidf *const *docs,
	unsigned n, xmlSchemaPtr schema)
{
	xmlDocPtr doc;

	hr_buf_init(buf, CAP);
	ck_assert_int_eq(hr_pidf_compose(buf, ENTITY, docs, n), 0);
	doc = xsd_valid(schema, buf);
	xp_eq(doc, "/p:presence/@entity", ENTITY);
	xp_count(doc, "/p:presence/@*", 1);
	return doc;
}

static unsigned occurrences(const struct hr_buf *buf, const char *s)
{
	const char *p = buf->b, *end = buf->b + buf->len;
	unsigned n = 0;

	while ((p = memmem(p, (size_t)(end - p), s, strlen(s)))) {
		n++;
		p++;
	}
	return n;
}

/* Composing the composed document alone gives it back byte for byte. */
static void fixpoint(const struct hr_buf *buf)
{
	struct hr_pidf *d = parse_ok(buf->b, buf->len);
	struct hr_buf again;

	hr_buf_init(&again, CAP);
	ck_assert_int_eq(hr_pidf_compose(&again, ENTITY, &d, 1), 0);
	ck_assert_msg(again.len == buf->len &&
		!memcmp(again.b, buf->b, buf->len), "%.*s\nthen\n%.*s",
		(int)buf->len, buf->b, (int)again.len, again.b);
	hr_buf_reset(&again);
	hr_mem_deref(d);
}

/* ---- reading ---- */

static const char *const examples[] = {
	"examples/rfc3863-1.xml", "examples/rfc3863-2.xml",
	"examples/rfc3863-3.xml", "examples/rfc3863-4.xml",
	"examples/rfc3863-5.xml", "examples/rfc3863-6.xml",
	"examples/rfc4480-1.xml",
};

/*
 * Every example is accepted and, composed alone, comes back valid with
 * the same elements in the same namespaces, the PIDF ones unprefixed.
 * rfc4480-1.xml is checked against pidf.xsd only: its <rpid:sphere> has
 * text (RFC 4480 Errata ID 2961).
 */
START_TEST(test_examples)
{
	const char *name = examples[_i];
	struct hr_buf buf;
	struct hr_pidf *d;
	const xmlNode *want[16];
	xmlDocPtr src, out;
	unsigned n = 0;
	size_t len;
	char *p;

	p = xsd_file(name, &len);
	d = parse_ok(p, len);
	ck_assert_str_eq(hr_pidf_entity(d), "pres:someone@example.com");
	out = compose_ok(&buf, &d, 1, pidf_xsd);
	src = xsd_parse(p, len);
	for (const xmlNode *k = xsd_next(xmlDocGetRootElement(src)->children);
	     k; k = xsd_next(k->next))
		want[n++] = k;
	tops_are(out, &buf, want, n);
	ck_assert(has(&buf, "<basic>open</basic>"));
	ck_assert(!has(&buf, "<impp:"));
	ck_assert(has(&buf, "<presence xmlns=\"" PIDF_NS "\" entity=\""
		ENTITY "\">"));
	fixpoint(&buf);
	xmlFreeDoc(src);
	free(p);
	hr_mem_deref(d);
	done(&buf, out);
}
END_TEST

/* The extension attribute in PIDF's namespace on an extension element
 * (RFC 3863 4.3.3) keeps its namespace with its publisher's prefix. */
START_TEST(test_must_understand)
{
	struct hr_buf buf;
	struct hr_pidf *d;
	xmlDocPtr out;
	size_t len;
	char *p = xsd_file("examples/rfc3863-6.xml", &len);

	d = parse_ok(p, len);
	out = compose_ok(&buf, &d, 1, pidf_xsd);
	xp_eq(out, "//*[local-name()='ex1']/@p:mustUnderstand", "1");
	xp_eq(out, "//*[local-name()='ex1']", "val1");
	ck_assert(has(&buf, "impp:mustUnderstand=\"1\""));
	xp_eq(out, "/p:presence/*[local-name()='mytag']",
		"My extended presentity information");
	free(p);
	hr_mem_deref(d);
	done(&buf, out);
}
END_TEST

/* RFC 4480's example with the erratum fixed: every RPID element is
 * checked against rpid.xsd after the copy. */
START_TEST(test_rpid_example)
{
	static const char bad[] = "<rpid:sphere>bowling league</rpid:sphere>";
	static const char good[] = "<rpid:sphere><rpid:work/></rpid:sphere>";
	struct hr_buf buf;
	struct hr_pidf *d;
	xmlDocPtr out;
	size_t len;
	char *p = xsd_file("examples/rfc4480-1.xml", &len), *at, *fixed;

	at = strstr(p, bad);
	ck_assert_ptr_nonnull(at);
	fixed = malloc(len + sizeof(good));
	ck_assert_ptr_nonnull(fixed);
	sprintf(fixed, "%.*s%s%s", (int)(at - p), p, good, at + strlen(bad));
	d = parse_str(fixed);
	out = compose_ok(&buf, &d, 1, rpid_xsd);
	xp_count(out, "/p:presence/p:tuple", 3);
	xp_count(out, "/p:presence/p:note", 1);
	xp_eq(out, "/p:presence/dm:device/@id", "pc147");
	xp_eq(out, "/p:presence/dm:person/@id", "p1");
	xp_count(out, "//dm:person/rpid:activities/rpid:away", 1);
	xp_eq(out, "//dm:person/rpid:activities/@from",
		"2005-05-30T12:00:00+05:00");
	xp_count(out, "//rpid:place-type/*[local-name()='residence' and "
		"namespace-uri()='urn:ietf:params:xml:ns:location-type']", 1);
	xp_eq(out, "//dm:device/rpid:user-input/@idle-threshold", "600");
	xp_eq(out, "//p:tuple[@id='eg92n8']/rpid:class", "email");
	ck_assert(has(&buf, "<rpid:away/>"));
	free(fixed);
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
	{ "<presence", NWF },
	{ "just text", NWF },
	{ PRE "<tuple id='a'><status></tuple></presence>", NWF },
	{ PRE "</presence><presence/>", NWF },
	{ PRE "<tuple id='a'><status/><x:y/></tuple></presence>", NWF },
	{ PRE "<tuple id='a' x:z='1'><status/></tuple></presence>", NWF },
	{ PRE "<note>&nbsp;</note></presence>", NWF },
	{ PRE "<note>&#1;</note></presence>", NWF },
	{ PRE "<note>\x01</note></presence>", NWF },
	{ PRE "<note>\xc3\x28</note></presence>", NWF },
	{ "<presence xmlns='" PIDF_NS "' entity='a' entity='b'/>", NWF },
	{ "<presence xmlns='" PIDF_NS "' xmlns:a='urn:x' xmlns:b='urn:x' "
		"a:z='1' b:z='2' entity='e'/>", NWF },
	{ "<presence xmlns='" PIDF_NS "' xmlns:a='' entity='e'/>", NWF },
	{ "<foo xmlns='" PIDF_NS "' entity='e'/>",
		"Bad PIDF: root is not presence" },
	{ "<reginfo xmlns='urn:ietf:params:xml:ns:reginfo' version='0' "
		"state='full'/>", "Bad PIDF: root is not presence" },
	{ "<presence entity='e'/>", "Bad PIDF: not in the PIDF namespace" },
	{ "<presence xmlns='" PIDF_NS ":' entity='e'/>",
		"Bad PIDF: not in the PIDF namespace" },
	{ "<presence xmlns='urn:ietf:params:xml:ns:PIDF' entity='e'/>",
		"Bad PIDF: not in the PIDF namespace" },
	{ "<presence xmlns='" PIDF_NS "'/>", "Bad PIDF: no entity" },
	{ "<presence xmlns='" PIDF_NS "' entity=''/>", "Bad PIDF: no entity" },
	{ "<presence xmlns='" PIDF_NS "' xmlns:e='urn:x' e:entity='a'/>",
		"Bad PIDF: no entity" },
	{ PRE "<tuple><status/></tuple></presence>",
		"Bad PIDF: tuple without id" },
	{ PRE "<tuple xmlns:e='urn:x' e:id='a'><status/></tuple></presence>",
		"Bad PIDF: tuple without id" },
	{ PRE "<tuple id='a'/></presence>", "Bad PIDF: tuple without status" },
	{ PRE "<tuple id='a'><contact>sip:a@b</contact></tuple></presence>",
		"Bad PIDF: tuple without status" },
	{ PRE "<tuple id='a'><status xmlns='urn:x'/></tuple></presence>",
		"Bad PIDF: tuple without status" },
	{ PRE "<tuple id='a'><status><basic>busy</basic></status></tuple>"
		"</presence>", "Bad PIDF: basic is neither open nor closed" },
	{ PRE "<tuple id='a'><status><basic> open</basic></status></tuple>"
		"</presence>", "Bad PIDF: basic is neither open nor closed" },
	{ PRE "<tuple id='a'><status/></tuple><tuple id='b'><status><basic>"
		"OPEN</basic></status></tuple></presence>",
		"Bad PIDF: basic is neither open nor closed" },
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
	static const char *const ok[] = {
		PRE "</presence>",
		PRE "<tuple id='a'><status/></tuple></presence>",
		/* no XML declaration (RFC 3863 4.1 wants one) */
		"<presence xmlns='" PIDF_NS "' entity='e'/>",
		/* not an xs:ID (RFC 3863 4.1.2: an arbitrary string) */
		PRE "<tuple id='1 2'><status><basic>closed</basic></status>"
			"</tuple></presence>",
		/* a person without id (RFC 4479 wants one) */
		PRE "<dm:person xmlns:dm='urn:ietf:params:xml:ns:pidf:"
			"data-model'/></presence>",
		/* tuples nested in extensions are not PIDF's */
		PRE "<e:x xmlns:e='urn:x'><tuple/></e:x></presence>",
		PRE "<![CDATA[x]]><?pi x?><!-- c --></presence>",
	};

	for (unsigned i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		hr_mem_deref(parse_str(ok[i]));
	ck_assert_uint_eq(hr_mem_live(), 0);
}
END_TEST

/* libxml2's depth limit (no XML_PARSE_HUGE) is kept. */
START_TEST(test_deep)
{
	struct hr_buf b;

	hr_buf_init(&b, 1 << 20);
	ck_assert_int_eq(hr_buf_puts(&b, PRE), 0);
	for (unsigned i = 0; i < 300; i++)
		ck_assert_int_eq(hr_buf_puts(&b, "<e:x xmlns:e='urn:x'>"), 0);
	for (unsigned i = 0; i < 300; i++)
		ck_assert_int_eq(hr_buf_puts(&b, "</e:x>"), 0);
	ck_assert_int_eq(hr_buf_puts(&b, "</presence>"), 0);
	parse_bad(b.b, b.len, NWF);
	hr_buf_reset(&b);
	ck_assert_uint_eq(hr_mem_live(), 0);
}
END_TEST

/* Encodings other than UTF-8 are read; what is written is UTF-8. */
START_TEST(test_encodings)
{
	static const char latin1[] = "<?xml version='1.0' "
		"encoding='ISO-8859-1'?><presence xmlns='" PIDF_NS "' "
		"entity='sip:j\xe9r\xf4me@example.test'><note>caf\xe9</note>"
		"</presence>";
	static const char ascii[] = "<?xml version='1.0' encoding='UTF-8'?>"
		"<presence xmlns='" PIDF_NS "' entity='e'><tuple id='u'>"
		"<status><basic>open</basic></status></tuple></presence>";
	char utf16[2 * sizeof(ascii) + 2], *q = utf16;
	struct hr_pidf *d[2];
	struct hr_buf buf;
	xmlDocPtr out;

	/* UTF-16LE with a byte order mark, declaration saying UTF-16 */
	*q++ = '\xff';
	*q++ = '\xfe';
	for (const char *s = ascii; *s; s++) {
		if (!strncmp(s, "UTF-8", 5)) {
			memcpy(q, "U\0T\0F\0-\0" "1\0" "6\0", 12);
			q += 12;
			s += 4;
			continue;
		}
		*q++ = *s;
		*q++ = '\0';
	}
	d[0] = parse_ok(utf16, (size_t)(q - utf16));
	d[1] = parse_str(latin1);
	ck_assert_str_eq(hr_pidf_entity(d[1]),
		"sip:j\xc3\xa9r\xc3\xb4me@example.test");
	out = compose_ok(&buf, d, 2, pidf_xsd);
	xp_eq(out, "/p:presence/p:note", "caf\xc3\xa9");
	xp_eq(out, "//p:tuple/@id", "u");
	ck_assert(has(&buf, "caf\xc3\xa9"));
	hr_mem_deref(d[0]);
	hr_mem_deref(d[1]);
	done(&buf, out);
}
END_TEST

/* ---- hostile documents: refused, nothing loaded, nothing expanded ---- */

/* Refused as a DOCTYPE, fast, in little memory, loading nothing. */
static void hostile(const char *p, size_t len)
{
	double t0 = now_s();
	size_t bytes;

	alloc_bytes = 0;
	parse_bad(p, len, "Bad PIDF: DOCTYPE not allowed");
	bytes = alloc_bytes;
	ck_assert_msg(bytes < 32 * 1024 + 2 * len, "%zu bytes", bytes);
	ck_assert_msg(now_s() - t0 < 1.0, "%f s", now_s() - t0);
	ck_assert_uint_eq(loads, 0);
	ck_assert_uint_eq(hr_mem_live(), 0);
}

#define BODY "<presence xmlns='" PIDF_NS "' entity='e'><note>&x;</note>" \
	"</presence>"

static const char *const xxe[] = {
	"<?xml version='1.0'?><!DOCTYPE presence [<!ENTITY x SYSTEM "
		"'file:///etc/passwd'>]>" BODY,
	"<?xml version='1.0'?><!DOCTYPE presence [<!ENTITY x SYSTEM "
		"'http://127.0.0.1:9/x'>]>" BODY,
	"<!DOCTYPE presence SYSTEM 'file:///etc/passwd'>" BODY,
	"<!DOCTYPE presence PUBLIC '-//X//Y' 'http://127.0.0.1:9/x.dtd'>"
		BODY,
	"<!DOCTYPE presence [<!ENTITY % p SYSTEM 'http://127.0.0.1:9/p'>"
		"%p;]>" BODY,
	"<!DOCTYPE presence [<!ENTITY % p SYSTEM 'file:///etc/passwd'>"
		"<!ENTITY % q \"<!ENTITY x SYSTEM 'http://127.0.0.1:9/?%p;'>\">"
		"%q;]>" BODY,
	"<!DOCTYPE presence [<!ENTITY x \"internal\">]>" BODY,
	"<!DOCTYPE presence>" "<presence xmlns='" PIDF_NS "' entity='e'/>",
	"<!DOCTYPE presence [<!ATTLIST presence entity CDATA "
		"'sip:x@example.test'>]><presence xmlns='" PIDF_NS "'/>",
};

START_TEST(test_xxe)
{
	hostile(xxe[_i], strlen(xxe[_i]));
}
END_TEST

/* The test's loader would see an attempt: without NONET and with entity
 * substitution, plain libxml2 tries to load the file. */
START_TEST(test_xxe_control)
{
	xmlDocPtr doc;

	doc = xmlReadMemory(xxe[0], (int)strlen(xxe[0]), NULL, NULL,
		XML_PARSE_NOENT | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	xmlFreeDoc(doc);
	ck_assert_uint_gt(loads, 0);
	loads = 0;
}
END_TEST

/* UTF-16 does not hide a DOCTYPE: libxml2 sees it after decoding. */
START_TEST(test_xxe_utf16)
{
	const char *s = xxe[0];
	char p[1024], *q = p;

	*q++ = '\xff';
	*q++ = '\xfe';
	for (; *s; s++) {
		*q++ = *s;
		*q++ = '\0';
	}
	hostile(p, (size_t)(q - p));
}
END_TEST

/* Ten levels of ten: 10^9 "lol" if expanded, and the quadratic blowup:
 * one 32 KiB entity referenced 1000 times. */
START_TEST(test_billion_laughs)
{
	struct hr_buf b;

	hr_buf_init(&b, 1 << 20);
	laughs_dtd(&b, "presence");
	ck_assert_int_eq(hr_buf_puts(&b, "<presence xmlns='" PIDF_NS
		"' entity='&l9;'><note>&l9;</note></presence>"), 0);
	hostile(b.b, b.len);
	hr_buf_reset(&b);

	hr_buf_init(&b, 1 << 20);
	ck_assert_int_eq(hr_buf_puts(&b, "<!DOCTYPE presence [<!ENTITY a '"),
		0);
	for (unsigned i = 0; i < 32768; i++)
		ck_assert_int_eq(hr_buf_puts(&b, "a"), 0);
	ck_assert_int_eq(hr_buf_puts(&b, "'>]><presence xmlns='" PIDF_NS
		"' entity='e'><note>"), 0);
	for (unsigned i = 0; i < 1000; i++)
		ck_assert_int_eq(hr_buf_puts(&b, "&a;"), 0);
	ck_assert_int_eq(hr_buf_puts(&b, "</note></presence>"), 0);
	hostile(b.b, b.len);
	hr_buf_reset(&b);
}
END_TEST

/* ---- composition ---- */

#define DM_NS "urn:ietf:params:xml:ns:pidf:data-model"
#define RPID_NS "urn:ietf:params:xml:ns:pidf:rpid"

/* oldest: two tuples, a note, a person */
static const char pub_a[] = "<?xml version='1.0' encoding='UTF-8'?>\n"
	"<presence xmlns='" PIDF_NS "'\n"
	"    xmlns:dm='" DM_NS "'\n"
	"    xmlns:rpid='" RPID_NS "'\n"
	"    entity='sip:alice@example.test'>\n"
	"  <tuple id='t1'><status><basic>open</basic></status>\n"
	"    <contact>sip:alice@pc.example.test</contact></tuple>\n"
	"  <tuple id='t2'><status><basic>closed</basic></status></tuple>\n"
	"  <note>A note</note>\n"
	"  <dm:person id='p1'><rpid:activities><rpid:away/>"
	"</rpid:activities></dm:person>\n"
	"</presence>\n";

/* baresip's order (person or device before the tuple): t1 again */
static const char pub_b[] = "<?xml version='1.0' encoding='UTF-8'?>\n"
	"<presence xmlns='" PIDF_NS "' xmlns:dm='" DM_NS "'\n"
	"    xmlns:rpid='" RPID_NS "' entity='sip:other@example.test'>\n"
	"  <dm:device id='d1'><dm:deviceID>urn:uuid:0f6d1a2c-0000-4000-8000-"
	"000000000001</dm:deviceID></dm:device>\n"
	"  <tuple id='t1'><status><basic>closed</basic></status>"
	"<dm:deviceID>urn:uuid:0f6d1a2c-0000-4000-8000-000000000001"
	"</dm:deviceID></tuple>\n"
	"  <note xml:lang='en'>B note</note>\n"
	"</presence>\n";

/* newest, every namespace under another prefix: p1 again */
static const char pub_c[] = "<?xml version='1.0' encoding='UTF-8'?>\n"
	"<p:presence xmlns:p='" PIDF_NS "' xmlns:d='" DM_NS "'\n"
	"    xmlns:r='" RPID_NS "' entity='sip:alice@example.test'>\n"
	"  <p:tuple id='t3'><p:status><p:basic>open</p:basic></p:status>\n"
	"    <p:contact priority='0.8'>sip:alice@phone.example.test"
	"</p:contact></p:tuple>\n"
	"  <d:person id='p1'><r:activities><r:on-the-phone/></r:activities>"
	"<d:note>Calling</d:note></d:person>\n"
	"</p:presence>\n";

/* Distinct tuples merged, the newest of one id kept, person from one
 * publication and device from another, notes of all. */
START_TEST(test_merge)
{
	const char *const src[] = { pub_a, pub_b, pub_c };
	struct hr_pidf *d[3];
	xmlDocPtr s[3], out;
	struct hr_buf buf;

	for (unsigned i = 0; i < 3; i++) {
		d[i] = parse_str(src[i]);
		s[i] = xsd_parse(src[i], strlen(src[i]));
	}
	out = compose_ok(&buf, d, 3, rpid_xsd);
	{
		/* tuples, notes, others; newest publication first */
		const xmlNode *want[] = {
			elem_at(s[2], 0), elem_at(s[1], 1), elem_at(s[0], 1),
			elem_at(s[1], 2), elem_at(s[0], 2),
			elem_at(s[2], 1), elem_at(s[1], 0),
		};

		tops_are(out, &buf, want, 7);
	}
	xp_count(out, "/p:presence/p:tuple", 3);
	xp_eq(out, "/p:presence/p:tuple[@id='t1']/p:status/p:basic", "closed");
	xp_eq(out, "/p:presence/p:tuple[1]/@id", "t3");
	xp_eq(out, "/p:presence/p:tuple[@id='t3']/p:contact/@priority", "0.8");
	xp_count(out, "/p:presence/dm:person", 1);
	xp_count(out, "//rpid:away", 0);
	xp_count(out, "/p:presence/dm:person/rpid:activities/rpid:on-the-phone",
		1);
	xp_eq(out, "/p:presence/dm:person/dm:note", "Calling");
	xp_eq(out, "/p:presence/dm:device/dm:deviceID",
		"urn:uuid:0f6d1a2c-0000-4000-8000-000000000001");
	xp_eq(out, "/p:presence/p:note[1]", "B note");
	xp_eq(out, "/p:presence/p:note[1]/@xml:lang", "en");
	xp_eq(out, "/p:presence/p:note[2]", "A note");
	ck_assert_uint_eq(occurrences(&buf, "<basic>"), 3);
	ck_assert(!has(&buf, "<p:"));
	ck_assert(has(&buf, "<r:on-the-phone/>"));
	fixpoint(&buf);
	xmlFreeDoc(out);
	hr_buf_reset(&buf);

	/* the other way round: a's t1 and p1 are now the newest */
	{
		struct hr_pidf *rev[] = { d[2], d[1], d[0] };

		out = compose_ok(&buf, rev, 3, rpid_xsd);
		xp_eq(out, "/p:presence/p:tuple[@id='t1']/p:status/p:basic",
			"open");
		xp_eq(out, "/p:presence/p:tuple[1]/@id", "t1");
		xp_count(out, "//rpid:away", 1);
		xp_count(out, "//rpid:on-the-phone", 0);
		xp_count(out, "/p:presence/p:tuple", 3);
	}
	for (unsigned i = 0; i < 3; i++) {
		xmlFreeDoc(s[i]);
		hr_mem_deref(d[i]);
	}
	done(&buf, out);
}
END_TEST

/* e: is urn:example:x in one publication and urn:example:y in another;
 * urn:example:x is also z:; PIDF is prefixed, or not; the default
 * namespace is an extension's; a subtree undeclares it. */
static const char ns_1[] = "<presence xmlns='" PIDF_NS "' "
	"xmlns:e='urn:example:x' entity='sip:alice@example.test'>"
	"<tuple id='a'><status><basic>open</basic><e:mood>x1</e:mood>"
	"</status></tuple>"
	"<e:thing e:attr='1'>A</e:thing>"
	"</presence>";

static const char ns_2[] = "<p:presence xmlns:p='" PIDF_NS "' "
	"xmlns:e='urn:example:y' xmlns:z='urn:example:x' "
	"xmlns='urn:example:y' entity='sip:alice@example.test'>"
	"<p:tuple id='b'><p:status><p:basic>closed</p:basic>"
	"<e:mood>y2</e:mood><z:mood z:attr='2'>x2</z:mood>"
	"<mood>y-default</mood></p:status>"
	"<p:note xml:lang='en'>hi</p:note></p:tuple>"
	"<p:note>top</p:note>"
	"<e:thing>B</e:thing>"
	"<thing p:mustUnderstand='true'><sub xmlns=''>none</sub>"
	"<p:note>pidf inside</p:note></thing>"
	"</p:presence>";

static const char ns_3[] = "<presence xmlns='" PIDF_NS "' "
	"entity='sip:alice@example.test'>"
	"<tuple id='c'><status><basic>open</basic>"
	"<x xmlns='urn:example:x'><inner/></x></status></tuple>"
	"<foo xmlns=''>dropped</foo>"
	"<bogus>dropped too</bogus>"
	"<!-- dropped --><?pi dropped?>"
	"<y:thing xmlns:y='urn:example:y' xmlns:e='urn:example:x'>"
	"<e:q>C</e:q></y:thing>"
	"</presence>";

START_TEST(test_namespaces)
{
	const char *const src[] = { ns_1, ns_2, ns_3 };
	struct hr_pidf *d[3];
	xmlDocPtr s[3], out;
	struct hr_buf buf;

	for (unsigned i = 0; i < 3; i++) {
		d[i] = parse_str(src[i]);
		s[i] = xsd_parse(src[i], strlen(src[i]));
	}
	out = compose_ok(&buf, d, 3, pidf_xsd);
	{
		const xmlNode *want[] = {
			elem_at(s[2], 0), elem_at(s[1], 0), elem_at(s[0], 0),
			elem_at(s[1], 1),
			elem_at(s[2], 3), elem_at(s[1], 2), elem_at(s[1], 3),
			elem_at(s[0], 1),
		};

		tops_are(out, &buf, want, 8);
	}
	xp_count(out, "//x:mood", 2);
	xp_count(out, "//y:mood", 2);
	xp_eq(out, "//p:tuple[@id='a']//x:mood", "x1");
	xp_eq(out, "//p:tuple[@id='b']//x:mood[@x:attr='2']", "x2");
	xp_eq(out, "//p:tuple[@id='b']//y:mood[1]", "y2");
	xp_eq(out, "//p:tuple[@id='b']//y:mood[2]", "y-default");
	xp_eq(out, "//p:tuple[@id='b']/p:note/@xml:lang", "en");
	xp_eq(out, "//p:tuple[@id='c']/p:status/x:x/x:inner", "");
	xp_count(out, "//p:tuple[@id='c']/p:status/x:x/x:inner", 1);
	xp_eq(out, "/p:presence/x:thing/@x:attr", "1");
	xp_eq(out, "/p:presence/x:thing", "A");
	xp_eq(out, "/p:presence/y:thing[1]/x:q", "C");
	xp_eq(out, "/p:presence/y:thing[2]", "B");
	xp_eq(out, "/p:presence/y:thing[3]/sub", "none");
	xp_eq(out, "/p:presence/y:thing[3]/p:note", "pidf inside");
	xp_eq(out, "/p:presence/y:thing[3]/@p:mustUnderstand", "true");
	xp_count(out, "//*[local-name()='foo' or local-name()='bogus']", 0);
	xp_count(out, "//comment()", 0);
	xp_count(out, "//processing-instruction()", 0);
	ck_assert(!has(&buf, "dropped"));
	ck_assert(!has(&buf, "<p:"));
	ck_assert(has(&buf, "<basic>closed</basic>"));
	ck_assert(has(&buf, "<sub xmlns=\"\">none</sub>"));
	fixpoint(&buf);
	for (unsigned i = 0; i < 3; i++) {
		xmlFreeDoc(s[i]);
		hr_mem_deref(d[i]);
	}
	done(&buf, out);
}
END_TEST

/* A declaration on the publication's root is written once on each
 * element that uses it, not on every descendant, nor where unused. */
START_TEST(test_declarations)
{
	static const char src[] = "<presence xmlns='" PIDF_NS "' "
		"xmlns:dm='" DM_NS "' xmlns:rpid='" RPID_NS "' "
		"xmlns:unused='urn:example:unused' entity='e'>"
		"<tuple id='t'><status><basic>open</basic></status></tuple>"
		"<dm:person id='p'><rpid:activities><rpid:busy/>"
		"</rpid:activities><rpid:mood><rpid:happy/></rpid:mood>"
		"</dm:person></presence>";
	struct hr_pidf *d = parse_str(src);
	struct hr_buf buf;
	xmlDocPtr out;

	out = compose_ok(&buf, &d, 1, rpid_xsd);
	ck_assert_uint_eq(occurrences(&buf, "xmlns:rpid="), 1);
	ck_assert_uint_eq(occurrences(&buf, "xmlns:dm="), 1);
	ck_assert_uint_eq(occurrences(&buf, "xmlns="), 1);
	ck_assert(!has(&buf, "unused"));
	ck_assert(has(&buf, "<tuple id=\"t\"><status><basic>open</basic>"
		"</status></tuple>"));
	xp_count(out, "/p:presence/dm:person/rpid:mood/rpid:happy", 1);
	hr_mem_deref(d);
	done(&buf, out);
}
END_TEST

/* Values come out as they went in: references, white space, non-BMP. */
START_TEST(test_values)
{
	static const char src[] = PRE "<tuple id='t'><status>"
		"<basic>open</basic></status><note>a&#13;b\r\nc&#x1F600;"
		"\xf0\x9f\x98\x80 ]]&gt; &lt;&amp;</note></tuple>"
		"<e:x xmlns:e='urn:example:x' e:a='l1&#10;l2&#9;x\ty "
		"&lt;&amp;&quot;&apos;'><![CDATA[<not> & markup]]></e:x>"
		"</presence>";
	struct hr_pidf *d = parse_str(src);
	struct hr_buf buf;
	xmlDocPtr out, in;

	out = compose_ok(&buf, &d, 1, pidf_xsd);
	in = xsd_parse(src, strlen(src));
	xp_eq(out, "//p:note",
		"a\rb\nc\xf0\x9f\x98\x80\xf0\x9f\x98\x80 ]]> <&");
	xp_eq(out, "/p:presence/x:x/@x:a", "l1\nl2\tx y <&\"'");
	xp_eq(out, "/p:presence/x:x", "<not> & markup");
	ck_assert(xsd_same(elem_at(out, 0), elem_at(in, 0)));
	ck_assert(xsd_same(elem_at(out, 1), elem_at(in, 1)));
	fixpoint(&buf);
	xmlFreeDoc(in);
	hr_mem_deref(d);
	done(&buf, out);
}
END_TEST

/* Tuple, person and device ids are one space (xs:ID): the newest
 * publication's element wins whatever its kind; in one publication the
 * first; elements without an id are all kept. */
START_TEST(test_ids)
{
	static const char old[] = PRE
		"<tuple id='x1'><status><basic>open</basic></status></tuple>"
		"<tuple id='dup'><status><basic>open</basic></status></tuple>"
		"<dm:person xmlns:dm='" DM_NS "'><dm:note>old</dm:note>"
		"</dm:person>"
		"<dm:device xmlns:dm='" DM_NS "' id='z'/>"
		"</presence>";
	static const char new[] = PRE
		"<tuple id='dup'><status><basic>closed</basic></status></tuple>"
		"<tuple id='dup'><status><basic>open</basic></status></tuple>"
		"<tuple id='z'><status><basic>closed</basic></status></tuple>"
		"<dm:person xmlns:dm='" DM_NS "' id='x1'/>"
		"<dm:person xmlns:dm='" DM_NS "'><dm:note>new</dm:note>"
		"</dm:person>"
		"</presence>";
	struct hr_pidf *d[2] = { parse_str(old), parse_str(new) };
	struct hr_buf buf;
	xmlDocPtr out;

	out = compose_ok(&buf, d, 2, pidf_xsd);
	xp_count(out, "/p:presence/p:tuple", 2);
	xp_eq(out, "/p:presence/p:tuple[1]/@id", "dup");
	xp_eq(out, "/p:presence/p:tuple[1]//p:basic", "closed");
	xp_eq(out, "/p:presence/p:tuple[2]/@id", "z");
	xp_count(out, "//*[@id='x1']", 1);
	xp_count(out, "/p:presence/dm:person[@id='x1']", 1);
	xp_count(out, "/p:presence/dm:device", 0);
	xp_count(out, "/p:presence/dm:person", 3);
	xp_eq(out, "/p:presence/dm:person[2]/dm:note", "new");
	xp_eq(out, "/p:presence/dm:person[3]/dm:note", "old");
	hr_mem_deref(d[0]);
	hr_mem_deref(d[1]);
	done(&buf, out);
}
END_TEST

/* Many publications and many tuples. */
START_TEST(test_many)
{
	struct hr_pidf *d[50];
	struct hr_buf src, buf;
	xmlDocPtr out;

	for (unsigned i = 0; i < 50; i++) {
		hr_buf_init(&src, CAP);
		ck_assert_int_eq(hr_buf_printf(&src, PRE "<tuple id='t%u'>"
			"<status><basic>open</basic></status></tuple>"
			"<tuple id='shared'><status><basic>closed</basic>"
			"</status><note>%u</note></tuple>"
			"<dm:person xmlns:dm='" DM_NS "' id='p'>"
			"<dm:note>%u</dm:note></dm:person></presence>",
			i, i, i), 0);
		d[i] = parse_ok(src.b, src.len);
		hr_buf_reset(&src);
	}
	hr_buf_init(&buf, 1 << 20);
	ck_assert_int_eq(hr_pidf_compose(&buf, ENTITY, d, 50), 0);
	out = xsd_valid(pidf_xsd, &buf);
	xp_count(out, "/p:presence/p:tuple", 51);
	xp_eq(out, "/p:presence/p:tuple[1]/@id", "t49");
	xp_eq(out, "/p:presence/p:tuple[2]/p:note", "49");
	xp_eq(out, "/p:presence/p:tuple[51]/@id", "t0");
	xp_count(out, "/p:presence/dm:person", 1);
	xp_eq(out, "/p:presence/dm:person", "49");
	for (unsigned i = 0; i < 50; i++)
		hr_mem_deref(d[i]);
	done(&buf, out);
}
END_TEST

/* RFC 5025 3.2.1: one tuple, closed, nothing else; so is n == 0. */
START_TEST(test_neutral)
{
	static const char want[] = XSD_DECL "\n<presence xmlns=\"" PIDF_NS "\" "
		"entity=\"sip:a&amp;b@example.test\"><tuple id=\"offline\">"
		"<status><basic>closed</basic></status></tuple></presence>\n";
	struct hr_buf buf, none;
	xmlDocPtr out;

	hr_buf_init(&buf, CAP);
	ck_assert_int_eq(hr_pidf_neutral(&buf, "sip:a&b@example.test"), 0);
	ck_assert_msg(buf.len == strlen(want) && !memcmp(buf.b, want, buf.len),
		"%.*s", (int)buf.len, buf.b);
	out = xsd_valid(pidf_xsd, &buf);
	xp_eq(out, "/p:presence/@entity", "sip:a&b@example.test");
	xp_count(out, "/p:presence/*", 1);
	xp_eq(out, "/p:presence/p:tuple/p:status/p:basic", "closed");
	hr_buf_init(&none, CAP);
	ck_assert_int_eq(hr_pidf_compose(&none, "sip:a&b@example.test", NULL,
		0), 0);
	ck_assert_uint_eq(none.len, buf.len);
	ck_assert_int_eq(memcmp(none.b, buf.b, buf.len), 0);
	hr_buf_reset(&none);
	done(&buf, out);
}
END_TEST

START_TEST(test_open_tuples)
{
	static const char *const ids[] = { "c1", "c-2", "c_3.x", "\xc3\xa9t" };
	static const char *const contacts[] = {
		"sip:alice@192.0.2.1:5060;transport=udp", NULL,
		"sip:alice@pc.example.test;ob", "sips:alice@example.test",
	};
	struct hr_buf buf;
	xmlDocPtr out;

	hr_buf_init(&buf, CAP);
	ck_assert_int_eq(hr_pidf_open_tuples(&buf, ENTITY, ids, contacts, 4),
		0);
	out = xsd_valid(pidf_xsd, &buf);
	xp_eq(out, "/p:presence/@entity", ENTITY);
	xp_count(out, "/p:presence/p:tuple", 4);
	xp_count(out, "/p:presence/p:tuple/p:status/p:basic[.='open']", 4);
	xp_eq(out, "/p:presence/p:tuple[@id='c1']/p:contact", contacts[0]);
	xp_count(out, "/p:presence/p:tuple[@id='c-2']/p:contact", 0);
	xp_eq(out, "/p:presence/p:tuple[3]/@id", "c_3.x");
	xp_eq(out, "/p:presence/p:tuple[4]/@id", "\xc3\xa9t");
	ck_assert_uint_eq(occurrences(&buf, "<basic>open</basic>"), 4);
	xmlFreeDoc(out);
	hr_buf_reset(&buf);

	/* no contacts at all; no tuple at all */
	ck_assert_int_eq(hr_pidf_open_tuples(&buf, ENTITY, ids, NULL, 2), 0);
	out = xsd_valid(pidf_xsd, &buf);
	xp_count(out, "//p:contact", 0);
	xp_count(out, "//p:tuple", 2);
	xmlFreeDoc(out);
	hr_buf_reset(&buf);
	ck_assert_int_eq(hr_pidf_open_tuples(&buf, ENTITY, NULL, NULL, 0), 0);
	out = xsd_valid(pidf_xsd, &buf);
	xp_count(out, "/p:presence/*", 0);
	done(&buf, out);
}
END_TEST

/* An IPv6 reference is a SIP URI but not an RFC 2396 one: libxml2's
 * xs:anyURI refuses it; the document is still well-formed and reads
 * back (as for reginfo). */
START_TEST(test_open_ipv6)
{
	static const char *const ids[] = { "v6" };
	static const char *const contacts[] = {
		"sip:alice@[2001:db8::1]:5070;transport=tcp",
	};
	struct hr_buf buf;
	xmlDocPtr out;

	hr_buf_init(&buf, CAP);
	ck_assert_int_eq(hr_pidf_open_tuples(&buf, ENTITY, ids, contacts, 1),
		0);
	out = xsd_parse(buf.b, buf.len);
	xp_eq(out, "//p:contact", contacts[0]);
	done(&buf, out);
}
END_TEST

START_TEST(test_invalid)
{
	static const char *const bad_ids[] = {
		"1abc", "a b", "a:b", "", "-a", "\xc3", "a\x01",
	};
	static const char *const good[] = { "a" };
	static const char *const bad_contact[] = { "sip:\xff" };
	static const char *const null_id[] = { NULL };
	struct hr_pidf *d = parse_str(pub_a), *none[] = { d, NULL };
	struct hr_buf buf;

	hr_buf_init(&buf, CAP);
	for (unsigned i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++)
		ck_assert_msg(hr_pidf_open_tuples(&buf, ENTITY, &bad_ids[i],
			NULL, 1) == EINVAL, "id %u", i);
	ck_assert_int_eq(hr_pidf_open_tuples(&buf, ENTITY, null_id, NULL, 1),
		EINVAL);
	ck_assert_int_eq(hr_pidf_open_tuples(&buf, ENTITY, good, bad_contact,
		1), EINVAL);
	ck_assert_int_eq(hr_pidf_open_tuples(&buf, ENTITY, NULL, NULL, 1),
		EINVAL);
	ck_assert_int_eq(hr_pidf_open_tuples(&buf, "", good, NULL, 1), EINVAL);
	ck_assert_int_eq(hr_pidf_open_tuples(&buf, NULL, good, NULL, 1),
		EINVAL);
	ck_assert_int_eq(hr_pidf_open_tuples(NULL, ENTITY, good, NULL, 1),
		EINVAL);
	ck_assert_int_eq(hr_pidf_neutral(&buf, "a\x1b"), EINVAL);
	ck_assert_int_eq(hr_pidf_neutral(&buf, ""), EINVAL);
	ck_assert_int_eq(hr_pidf_neutral(NULL, ENTITY), EINVAL);
	ck_assert_int_eq(hr_pidf_compose(&buf, ENTITY, none, 2), EINVAL);
	ck_assert_int_eq(hr_pidf_compose(&buf, ENTITY, NULL, 1), EINVAL);
	ck_assert_int_eq(hr_pidf_compose(&buf, "\xc0\xaf", &d, 1), EINVAL);
	ck_assert_int_eq(hr_pidf_compose(&buf, NULL, &d, 1), EINVAL);
	ck_assert_int_eq(hr_pidf_compose(NULL, ENTITY, &d, 1), EINVAL);
	ck_assert_uint_eq(buf.len, 0);
	ck_assert_ptr_null(buf.b);  /* checked before anything is written */
	ck_assert_int_eq(hr_pidf_parse(NULL, "x", 1, NULL), EINVAL);
	ck_assert_int_eq(hr_pidf_parse(&d, NULL, 1, NULL), EINVAL);
	/* why is optional */
	ck_assert_int_eq(hr_pidf_parse(&d, "<x/>", 4, NULL), EBADMSG);
	ck_assert_ptr_null(hr_pidf_entity(NULL));
	hr_mem_deref(d);
	done(&buf, NULL);
}
END_TEST

static int compose_3(struct hr_buf *buf, void *d)
{
	return hr_pidf_compose(buf, ENTITY, d, 3);
}

/* Too small a buffer: EMSGSIZE, and what was there is left as it was. */
START_TEST(test_cap)
{
	const char *const src[] = { pub_a, pub_b, pub_c };
	struct hr_pidf *d[3];
	struct hr_buf buf, small;
	size_t n, nn;

	for (unsigned i = 0; i < 3; i++)
		d[i] = parse_str(src[i]);
	hr_buf_init(&buf, CAP);
	ck_assert_int_eq(hr_pidf_neutral(&buf, ENTITY), 0);
	nn = buf.len;
	hr_buf_reset(&buf);
	ck_assert_int_eq(hr_pidf_compose(&buf, ENTITY, d, 3), 0);
	n = buf.len;
	for (size_t cap = 0; cap < n; cap += cap < 64 ? 8 : 97) {
		hr_buf_init(&small, cap);
		ck_assert_int_eq(hr_pidf_compose(&small, ENTITY, d, 3),
			EMSGSIZE);
		ck_assert_uint_eq(small.len, 0);
		ck_assert_int_eq(hr_pidf_neutral(&small, ENTITY),
			cap < nn ? EMSGSIZE : 0);
		hr_buf_reset(&small);
	}
	hr_buf_init(&small, n - 1);
	ck_assert_int_eq(hr_pidf_compose(&small, ENTITY, d, 3), EMSGSIZE);
	hr_buf_reset(&small);
	xsd_cap_append(compose_3, d, &buf);
	for (unsigned i = 0; i < 3; i++)
		hr_mem_deref(d[i]);
	done(&buf, NULL);
}
END_TEST

/* A publication is refcounted; it outlives its body. */
START_TEST(test_ref)
{
	char *body = strdup(pub_c);
	struct hr_pidf *d, *r;
	struct hr_buf buf;
	xmlDocPtr out;

	d = parse_str(body);
	free(body);
	r = hr_mem_ref(d);
	ck_assert_uint_eq(hr_mem_nrefs(d), 2);
	ck_assert_ptr_null(hr_mem_deref(d));
	ck_assert_str_eq(hr_pidf_entity(r), "sip:alice@example.test");
	out = compose_ok(&buf, &r, 1, rpid_xsd);
	xp_eq(out, "/p:presence/p:tuple/@id", "t3");
	hr_mem_deref(r);
	done(&buf, out);
}
END_TEST

static Suite *pidf_suite(void)
{
	Suite *s = suite_create("pidf");
	TCase *rd = tcase_create("parse");
	TCase *ev = tcase_create("hostile");
	TCase *wr = tcase_create("write");

	tcase_add_checked_fixture(rd, schemas_load, schemas_free);
	tcase_add_loop_test(rd, test_examples, 0,
		sizeof(examples) / sizeof(examples[0]));
	tcase_add_test(rd, test_must_understand);
	tcase_add_test(rd, test_rpid_example);
	tcase_add_loop_test(rd, test_bad, 0,
		sizeof(bad_docs) / sizeof(bad_docs[0]));
	tcase_add_test(rd, test_lenient);
	tcase_add_test(rd, test_deep);
	tcase_add_test(rd, test_encodings);
	suite_add_tcase(s, rd);

	tcase_add_checked_fixture(ev, schemas_load, schemas_free);
	tcase_add_loop_test(ev, test_xxe, 0, sizeof(xxe) / sizeof(xxe[0]));
	tcase_add_test(ev, test_xxe_control);
	tcase_add_test(ev, test_xxe_utf16);
	tcase_add_test(ev, test_billion_laughs);
	suite_add_tcase(s, ev);

	tcase_add_checked_fixture(wr, schemas_load, schemas_free);
	tcase_add_test(wr, test_merge);
	tcase_add_test(wr, test_namespaces);
	tcase_add_test(wr, test_declarations);
	tcase_add_test(wr, test_values);
	tcase_add_test(wr, test_ids);
	tcase_add_test(wr, test_many);
	tcase_add_test(wr, test_neutral);
	tcase_add_test(wr, test_open_tuples);
	tcase_add_test(wr, test_open_ipv6);
	tcase_add_test(wr, test_invalid);
	tcase_add_test(wr, test_cap);
	tcase_add_test(wr, test_ref);
	suite_add_tcase(s, wr);
	return s;
}

int main(void)
{
	/* before libxml2 allocates anything */
	xmlMemSetup(free, count_malloc, count_realloc, count_strdup);
	/* a schema's imports are local; while a test runs, nothing loads */
	xmlSetExternalEntityLoader(loader);
	return hr_check_run(pidf_suite());
}
