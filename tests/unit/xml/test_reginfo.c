/*
 * server/xml/reginfo.c: every document is parsed back, validated against
 * RFC 3680's schema (HR_XSD_DIR/reginfo.xsd, no network) and read with
 * XPath.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "xml/xml.h"
#include "check_run.h"
#include "xsd.h"

#define CAP 65536

static xmlSchemaPtr schema;

static void schema_load(void)
{
	schema = xsd_load("reginfo.xsd");
}

static void schema_free(void)
{
	xsd_free(&schema);
}

/* A contact with every optional part left out. */
static struct hr_reginfo_contact contact(const char *id, bool active,
	const char *event, const char *uri)
{
	return (struct hr_reginfo_contact){ .id = id, .active = active,
		.event = event, .uri = uri, .expires = -1,
		.duration_registered = -1, .q = -1, .cseq = -1,
		.retry_after = -1 };
}

static xmlDocPtr write_ok(struct hr_buf *buf, unsigned version,
	enum hr_reginfo_state state, const struct hr_reginfo_reg *regs,
	unsigned nregs)
{
	hr_buf_init(buf, CAP);
	ck_assert_int_eq(hr_reginfo_write(buf, version, state, regs, nregs),
		0);
	return xsd_valid(schema, buf);
}

START_TEST(test_full)
{
	struct hr_reginfo_contact bob[3], carol[1];
	struct hr_reginfo_reg regs[] = {
		{ .aor = "sip:alice@example.test", .id = "a1",
			.state = HR_REG_INIT },
		{ .aor = "sip:bob@example.test", .id = "b1",
			.state = HR_REG_ACTIVE, .contacts = bob,
			.ncontacts = 3 },
		{ .aor = "sip:carol@example.test", .id = "c1",
			.state = HR_REG_TERMINATED, .contacts = carol,
			.ncontacts = 1 },
	};
	struct hr_buf buf;
	xmlDocPtr doc;

	bob[0] = contact("b-76", true, "registered",
		"sip:bob@pc887.example.test");
	bob[0].expires = 3600;
	bob[0].duration_registered = 7322;
	bob[0].q = 800;
	bob[0].callid = "9f1c@pc887";
	bob[0].cseq = 2;
	bob[1] = contact("b-77", true, "refreshed",
		"sip:bob@192.0.2.7:5070;transport=tcp");
	bob[1].q = 1000;
	bob[2] = contact("b-78", false, "expired",
		"sip:bob@university.test");
	bob[2].duration_registered = 3600;
	carol[0] = contact("c-1", false, "unregistered",
		"sip:carol@home.test");

	doc = write_ok(&buf, 0, HR_REGINFO_FULL, regs, 3);
	xp_eq(doc, "/r:reginfo/@version", "0");
	xp_eq(doc, "/r:reginfo/@state", "full");
	xp_count(doc, "/r:reginfo/r:registration", 3);
	xp_eq(doc, "//r:registration[1]/@aor", "sip:alice@example.test");
	xp_eq(doc, "//r:registration[1]/@id", "a1");
	xp_eq(doc, "//r:registration[1]/@state", "init");
	xp_count(doc, "//r:registration[1]/*", 0);
	xp_eq(doc, "//r:registration[2]/@state", "active");
	xp_eq(doc, "//r:registration[3]/@state", "terminated");
	xp_count(doc, "//r:registration[2]/r:contact", 3);
	xp_eq(doc, "//r:contact[@id='b-76']/@state", "active");
	xp_eq(doc, "//r:contact[@id='b-76']/@event", "registered");
	xp_eq(doc, "//r:contact[@id='b-76']/@expires", "3600");
	xp_eq(doc, "//r:contact[@id='b-76']/@duration-registered", "7322");
	xp_eq(doc, "//r:contact[@id='b-76']/@q", "0.8");
	xp_eq(doc, "//r:contact[@id='b-76']/@callid", "9f1c@pc887");
	xp_eq(doc, "//r:contact[@id='b-76']/@cseq", "2");
	xp_eq(doc, "//r:contact[@id='b-76']/r:uri",
		"sip:bob@pc887.example.test");
	xp_eq(doc, "//r:contact[@id='b-77']/@q", "1");
	xp_eq(doc, "//r:contact[@id='b-77']/r:uri",
		"sip:bob@192.0.2.7:5070;transport=tcp");
	xp_eq(doc, "//r:contact[@id='b-78']/@state", "terminated");
	xp_eq(doc, "//r:contact[@id='b-78']/@event", "expired");
	xp_eq(doc, "//r:contact[@id='c-1']/@event", "unregistered");
	xp_count(doc, "//r:contact[@id='b-78']/@expires", 0);
	xsd_done(&buf, doc);
}
END_TEST

START_TEST(test_events)
{
	static const char *const events[] = {
		"registered", "created", "refreshed", "shortened", "expired",
		"deactivated", "probation", "unregistered", "rejected",
	};
	struct hr_reginfo_contact c[9];
	struct hr_reginfo_reg reg = { .aor = "sip:dave@example.test",
		.id = "d", .state = HR_REG_ACTIVE, .contacts = c,
		.ncontacts = 9 };
	struct hr_buf buf;
	xmlDocPtr doc;
	char id[8], expr[64];

	for (unsigned i = 0; i < 9; i++) {
		snprintf(id, sizeof(id), "c%u", i);
		c[i] = contact(strdup(id), i < 4, events[i],
			"sip:dave@host.test");
	}
	c[3].expires = 30;          /* shortened: RFC 3680 5.1 MUST */
	c[6].retry_after = 120;     /* probation: RFC 3680 5.1 MUST */
	c[8].retry_after = 5;       /* not probation: not written */
	doc = write_ok(&buf, 3, HR_REGINFO_PARTIAL, &reg, 1);
	for (unsigned i = 0; i < 9; i++) {
		snprintf(expr, sizeof(expr), "//r:contact[@id='c%u']/@event",
			i);
		xp_eq(doc, expr, events[i]);
		snprintf(expr, sizeof(expr), "//r:contact[@id='c%u']/@state",
			i);
		xp_eq(doc, expr, i < 4 ? "active" : "terminated");
		free((char *)c[i].id);
	}
	xp_eq(doc, "//r:contact[@event='shortened']/@expires", "30");
	xp_eq(doc, "//r:contact[@event='probation']/@retry-after", "120");
	xp_count(doc, "//r:contact/@retry-after", 1);
	xsd_done(&buf, doc);
}
END_TEST

START_TEST(test_display_name)
{
	struct hr_reginfo_contact c[4];
	struct hr_reginfo_reg reg = { .aor = "sip:j\xc3\xa9r\xc3\xb4me@"
		"example.test", .id = "r&<\"'>", .state = HR_REG_ACTIVE,
		.contacts = c, .ncontacts = 4 };
	struct hr_buf buf;
	xmlDocPtr doc;

	c[0] = contact("1", true, "created", "sip:a@h.test");
	c[0].display_name = "A & \"B\" <c>";
	c[1] = contact("2", true, "created", "sip:b@h.test");
	c[1].display_name = "J\xc3\xa9r\xc3\xb4me \xe2\x98\x83 "
		"\xf0\x9f\x98\x80";
	c[2] = contact("3", true, "created", "sip:c@h.test");
	c[2].display_name = "";
	c[3] = contact("4", true, "created", "sip:d@h.test;a=<x>&y");
	c[3].callid = "a\"b'c<d>&e\tf";
	doc = write_ok(&buf, 1, HR_REGINFO_FULL, &reg, 1);
	ck_assert_ptr_nonnull(memmem(buf.b, buf.len, "A &amp; ", 8));
	ck_assert_ptr_nonnull(memmem(buf.b, buf.len, "&lt;c&gt;", 9));
	xp_eq(doc, "//r:contact[@id='1']/r:display-name", "A & \"B\" <c>");
	xp_eq(doc, "//r:contact[@id='2']/r:display-name",
		"J\xc3\xa9r\xc3\xb4me \xe2\x98\x83 \xf0\x9f\x98\x80");
	xp_count(doc, "//r:contact[@id='3']/r:display-name", 0);
	xp_count(doc, "//r:contact[@id='4']/r:display-name", 0);
	xp_eq(doc, "//r:contact[@id='4']/r:uri", "sip:d@h.test;a=<x>&y");
	xp_eq(doc, "//r:contact[@id='4']/@callid", "a\"b'c<d>&e\tf");
	xp_eq(doc, "//r:registration/@id", "r&<\"'>");
	xp_eq(doc, "//r:registration/@aor",
		"sip:j\xc3\xa9r\xc3\xb4me@example.test");
	xsd_done(&buf, doc);
}
END_TEST

START_TEST(test_optional)
{
	static const struct {
		int q;
		const char *s;
	} qs[] = {
		{ 0, "0" }, { 5, "0.005" }, { 120, "0.12" }, { 500, "0.5" },
		{ 999, "0.999" }, { 1000, "1" },
	};
	struct hr_reginfo_contact c[7];
	struct hr_reginfo_reg reg = { .aor = "sip:e@example.test",
		.id = "e", .state = HR_REG_ACTIVE, .contacts = c,
		.ncontacts = 7 };
	struct hr_buf buf;
	xmlDocPtr doc;
	char id[8], expr[64];

	for (unsigned i = 0; i < 6; i++) {
		snprintf(id, sizeof(id), "q%u", i);
		c[i] = contact(strdup(id), true, "registered", "sip:e@h");
		c[i].q = qs[i].q;
		c[i].expires = 0;
		c[i].duration_registered = 0;
		c[i].cseq = 0;
		c[i].callid = "";
	}
	c[5].expires = INT64_MAX;
	c[5].cseq = 4294967295;
	c[6] = contact("none", true, "registered", "sip:e@h");
	doc = write_ok(&buf, 2, HR_REGINFO_FULL, &reg, 1);
	for (unsigned i = 0; i < 6; i++) {
		snprintf(expr, sizeof(expr), "//r:contact[@id='q%u']/@q", i);
		xp_eq(doc, expr, qs[i].s);
		free((char *)c[i].id);
	}
	xp_eq(doc, "//r:contact[@id='q0']/@expires", "0");
	xp_eq(doc, "//r:contact[@id='q0']/@duration-registered", "0");
	xp_eq(doc, "//r:contact[@id='q0']/@cseq", "0");
	xp_count(doc, "//r:contact[@id='q0']/@callid", 1);
	xp_eq(doc, "//r:contact[@id='q5']/@expires", "9223372036854775807");
	xp_eq(doc, "//r:contact[@id='q5']/@cseq", "4294967295");
	xp_count(doc, "//r:contact[@id='none']/@*", 3);  /* id state event */
	xp_count(doc, "//r:contact[@id='none']/*", 1);   /* uri */
	xsd_done(&buf, doc);
}
END_TEST

START_TEST(test_unknown_params)
{
	static const char *const names[] = {
		"+sip.instance", "audio", "x-ml", "reg-id",
	};
	static const char *const values[] = {
		"\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"", NULL,
		"a&b<c>\"d\" \xc3\xa9", "1",
	};
	struct hr_reginfo_contact c[2];
	struct hr_reginfo_reg reg = { .aor = "sip:f@example.test",
		.id = "f", .state = HR_REG_ACTIVE, .contacts = c,
		.ncontacts = 2 };
	struct hr_buf buf;
	xmlDocPtr doc;

	c[0] = contact("p", true, "created", "sip:f@h");
	c[0].unknown_param_names = names;
	c[0].unknown_param_values = values;
	c[0].n_unknown_params = 4;
	c[0].display_name = "F";
	c[1] = contact("novalues", true, "created", "sip:f@h2");
	c[1].unknown_param_names = names;
	c[1].n_unknown_params = 2;
	doc = write_ok(&buf, 9, HR_REGINFO_FULL, &reg, 1);
	xp_count(doc, "//r:contact[@id='p']/r:unknown-param", 4);
	xp_eq(doc, "//r:contact[@id='p']/r:unknown-param[1]/@name",
		"+sip.instance");
	xp_eq(doc, "//r:contact[@id='p']/r:unknown-param[1]", values[0]);
	xp_eq(doc, "//r:contact[@id='p']/r:unknown-param[@name='audio']",
		"");
	xp_count(doc, "//r:contact[@id='p']/r:unknown-param[2]/node()", 0);
	xp_eq(doc, "//r:contact[@id='p']/r:unknown-param[3]", values[2]);
	xp_eq(doc, "//r:contact[@id='p']/r:unknown-param[4]", "1");
	/* schema order: uri, display-name, unknown-param */
	xp_eq(doc, "local-name(//r:contact[@id='p']/*[2])", "display-name");
	xp_count(doc, "//r:contact[@id='novalues']/r:unknown-param", 2);
	xp_count(doc, "//r:contact[@id='novalues']/r:unknown-param/node()",
		0);
	xsd_done(&buf, doc);
}
END_TEST

START_TEST(test_empty)
{
	struct hr_reginfo_reg reg = { .aor = "sip:g@example.test",
		.id = "g", .state = HR_REG_TERMINATED };
	struct hr_buf buf;
	xmlDocPtr doc;

	/* no registration at all */
	doc = write_ok(&buf, UINT_MAX, HR_REGINFO_PARTIAL, NULL, 0);
	xp_eq(doc, "/r:reginfo/@version", "4294967295");
	xp_eq(doc, "/r:reginfo/@state", "partial");
	xp_count(doc, "/r:reginfo/*", 0);
	xsd_done(&buf, doc);

	/* a registration with zero contacts */
	doc = write_ok(&buf, 5, HR_REGINFO_PARTIAL, &reg, 1);
	xp_eq(doc, "/r:reginfo/@version", "5");
	xp_eq(doc, "//r:registration/@state", "terminated");
	xp_count(doc, "//r:contact", 0);
	xsd_done(&buf, doc);
}
END_TEST

/* More than libxml2's 4000-byte output chunk: several flushes. */
START_TEST(test_large)
{
	struct hr_reginfo_contact c[200];
	struct hr_reginfo_reg reg = { .aor = "sip:h@example.test",
		.id = "h", .state = HR_REG_ACTIVE, .contacts = c,
		.ncontacts = 200 };
	struct hr_buf buf;
	xmlDocPtr doc;
	char id[8];

	for (unsigned i = 0; i < 200; i++) {
		snprintf(id, sizeof(id), "%u", i);
		c[i] = contact(strdup(id), true, "registered",
			"sip:h@host.example.test;transport=tcp");
		c[i].display_name = "H \xe2\x98\x83 & co";
	}
	doc = write_ok(&buf, 1, HR_REGINFO_FULL, &reg, 1);
	ck_assert_uint_gt(buf.len, 20000);
	xp_count(doc, "//r:contact", 200);
	xp_eq(doc, "//r:contact[@id='199']/r:display-name",
		"H \xe2\x98\x83 & co");
	for (unsigned i = 0; i < 200; i++)
		free((char *)c[i].id);
	xsd_done(&buf, doc);
}
END_TEST

/*
 * An IPv6 reference (RFC 3261 19.1.1) is written as given: it is a SIP
 * URI, but not an RFC 2396/2732 URI (brackets only in an authority), so
 * libxml2 rejects it as xs:anyURI. The document is still well-formed and
 * reads back; a receiver that validates strictly may refuse it.
 */
START_TEST(test_ipv6)
{
	struct hr_reginfo_contact c = contact("v6", true, "created",
		"sip:bob@[2001:db8::1]:5070;transport=tcp");
	struct hr_reginfo_reg reg = { .aor = "sip:bob@example.test",
		.id = "b", .state = HR_REG_ACTIVE, .contacts = &c,
		.ncontacts = 1 };
	struct hr_buf buf;
	xmlDocPtr doc;

	hr_buf_init(&buf, CAP);
	ck_assert_int_eq(hr_reginfo_write(&buf, 0, HR_REGINFO_FULL, &reg, 1),
		0);
	doc = xmlReadMemory(buf.b, (int)buf.len, NULL, NULL, XML_PARSE_NONET);
	ck_assert_ptr_nonnull(doc);
	xp_eq(doc, "//r:contact/r:uri",
		"sip:bob@[2001:db8::1]:5070;transport=tcp");
	xsd_done(&buf, doc);
}
END_TEST

static int write_one(struct hr_buf *buf, const struct hr_reginfo_contact *c)
{
	struct hr_reginfo_reg reg = { .aor = "sip:i@example.test",
		.id = "i", .state = HR_REG_ACTIVE, .contacts = c,
		.ncontacts = 1 };

	return hr_reginfo_write(buf, 0, HR_REGINFO_FULL, &reg, 1);
}

START_TEST(test_invalid)
{
	static const char *const bad[] = {
		"\xc3",                 /* truncated */
		"a\xc3(",               /* bad continuation */
		"\x80",                 /* lone continuation */
		"\xc0\xaf",             /* overlong '/' */
		"\xe0\x80\xaf",         /* overlong, 3 bytes */
		"\xed\xa0\x80",         /* surrogate U+D800 */
		"\xf4\x90\x80\x80",     /* above U+10FFFF */
		"\xf8\x88\x80\x80\x80", /* 5 bytes */
		"\xff",
		"a\x01z",               /* not an XML Char */
		"\x1b[0m",
		"\xef\xbf\xbe",         /* U+FFFE */
	};
	static const char *name[1], *value[1];
	struct hr_reginfo_contact c;
	struct hr_reginfo_reg reg = { .aor = "sip:i@example.test",
		.id = "i", .state = HR_REG_ACTIVE, .contacts = &c,
		.ncontacts = 1 };
	struct hr_buf buf;

	hr_buf_init(&buf, CAP);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (unsigned field = 0; field < 8; field++) {
			c = contact("1", true, "registered", "sip:i@h");
			name[0] = "n";
			value[0] = "v";
			c.unknown_param_names = name;
			c.unknown_param_values = value;
			c.n_unknown_params = 1;
			reg.aor = "sip:i@example.test";
			reg.id = "i";
			switch (field) {
			case 0: c.display_name = bad[i]; break;
			case 1: c.uri = bad[i]; break;
			case 2: c.id = bad[i]; break;
			case 3: c.callid = bad[i]; break;
			case 4: name[0] = bad[i]; break;
			case 5: value[0] = bad[i]; break;
			case 6: reg.aor = bad[i]; break;
			default: reg.id = bad[i]; break;
			}
			ck_assert_msg(hr_reginfo_write(&buf, 0,
				HR_REGINFO_FULL, &reg, 1) == EINVAL,
				"bad[%u] in field %u", i, field);
			ck_assert_uint_eq(buf.len, 0);
		}
	}
	ck_assert_ptr_null(buf.b);  /* checked before anything is written */

	/* what RFC 3680 5.1 and the schema forbid */
	c = contact("1", true, "bogus", "sip:i@h");
	ck_assert_int_eq(write_one(&buf, &c), EINVAL);
	c.event = "Registered";
	ck_assert_int_eq(write_one(&buf, &c), EINVAL);
	c.event = NULL;
	ck_assert_int_eq(write_one(&buf, &c), EINVAL);
	c = contact("1", true, "shortened", "sip:i@h");
	ck_assert_int_eq(write_one(&buf, &c), EINVAL);
	c = contact("1", false, "probation", "sip:i@h");
	ck_assert_int_eq(write_one(&buf, &c), EINVAL);
	c = contact("1", true, "registered", "sip:i@h");
	c.q = 1001;
	ck_assert_int_eq(write_one(&buf, &c), EINVAL);
	c = contact(NULL, true, "registered", "sip:i@h");
	ck_assert_int_eq(write_one(&buf, &c), EINVAL);
	c = contact("1", true, "registered", NULL);
	ck_assert_int_eq(write_one(&buf, &c), EINVAL);
	c = contact("1", true, "registered", "sip:i@h");
	c.n_unknown_params = 1;
	ck_assert_int_eq(write_one(&buf, &c), EINVAL);
	ck_assert_int_eq(write_one(NULL, &c), EINVAL);
	reg.aor = "sip:i@example.test";
	reg.id = "i";
	reg.state = (enum hr_reg_state)3;
	c = contact("1", true, "registered", "sip:i@h");
	ck_assert_int_eq(hr_reginfo_write(&buf, 0, HR_REGINFO_FULL, &reg, 1),
		EINVAL);
	reg.state = HR_REG_ACTIVE;
	ck_assert_int_eq(hr_reginfo_write(&buf, 0,
		(enum hr_reginfo_state)2, &reg, 1), EINVAL);
	ck_assert_int_eq(hr_reginfo_write(&buf, 0, HR_REGINFO_FULL, NULL, 1),
		EINVAL);
	reg.contacts = NULL;
	ck_assert_int_eq(hr_reginfo_write(&buf, 0, HR_REGINFO_FULL, &reg, 1),
		EINVAL);
	ck_assert_uint_eq(buf.len, 0);
	xsd_done(&buf, NULL);
}
END_TEST

static int write_full(struct hr_buf *buf, void *reg)
{
	return hr_reginfo_write(buf, 1, HR_REGINFO_FULL, reg, 1);
}

START_TEST(test_cap)
{
	struct hr_reginfo_contact c[40];
	struct hr_reginfo_reg reg = { .aor = "sip:k@example.test",
		.id = "k", .state = HR_REG_ACTIVE, .contacts = c,
		.ncontacts = 40 };
	struct hr_buf buf, small;
	size_t n;

	for (unsigned i = 0; i < 40; i++) {
		c[i] = contact("k", true, "registered", "sip:k@host.test");
		c[i].display_name = "K \xe2\x98\x83";
	}
	hr_buf_init(&buf, CAP);
	ck_assert_int_eq(hr_reginfo_write(&buf, 1, HR_REGINFO_FULL, &reg, 1),
		0);
	n = buf.len;
	ck_assert_uint_gt(n, 4000);

	/* too small at the start, in the middle, by one byte */
	for (size_t cap = 0; cap <= n; cap += cap < 64 ? 16 : 997) {
		hr_buf_init(&small, cap);
		ck_assert_int_eq(hr_reginfo_write(&small, 1, HR_REGINFO_FULL,
			&reg, 1), EMSGSIZE);
		ck_assert_uint_eq(small.len, 0);
		hr_buf_reset(&small);
	}
	hr_buf_init(&small, n - 1);
	ck_assert_int_eq(hr_reginfo_write(&small, 1, HR_REGINFO_FULL, &reg,
		1), EMSGSIZE);
	ck_assert_uint_eq(small.len, 0);
	hr_buf_reset(&small);

	/* exactly enough */
	hr_buf_init(&small, n);
	ck_assert_int_eq(hr_reginfo_write(&small, 1, HR_REGINFO_FULL, &reg,
		1), 0);
	ck_assert_uint_eq(small.len, n);
	ck_assert_int_eq(memcmp(small.b, buf.b, n), 0);
	hr_buf_reset(&small);

	/* appends, and leaves what was there on error */
	xsd_cap_append(write_full, &reg, &buf);
	xsd_done(&buf, NULL);
}
END_TEST

static Suite *reginfo_suite(void)
{
	Suite *s = suite_create("reginfo");
	TCase *tc = tcase_create("write");

	tcase_add_checked_fixture(tc, schema_load, schema_free);
	tcase_add_test(tc, test_full);
	tcase_add_test(tc, test_events);
	tcase_add_test(tc, test_display_name);
	tcase_add_test(tc, test_optional);
	tcase_add_test(tc, test_unknown_params);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_large);
	tcase_add_test(tc, test_ipv6);
	tcase_add_test(tc, test_invalid);
	tcase_add_test(tc, test_cap);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* the schema's import of xml.xsd is local; nothing is fetched */
	xmlSetExternalEntityLoader(xmlNoNetExternalEntityLoader);
	return hr_check_run(reginfo_suite());
}
