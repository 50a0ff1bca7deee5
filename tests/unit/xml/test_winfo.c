/*
 * server/xml/winfo.c: every document is parsed back, validated against
 * RFC 3858's schema (HR_XSD_DIR/watcherinfo.xsd, no network), read with
 * XPath and, for RFC 3858's own example, compared with it.
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
#define RES "sip:professor@example.net"

static xmlSchemaPtr schema;

static const char *const statuses[] = {
	"pending", "active", "waiting", "terminated",
};

static const char *const events[] = {
	"subscribe", "approved", "deactivated", "probation", "rejected",
	"timeout", "giveup", "noresource",
};

static void schema_load(void)
{
	schema = xsd_load("watcherinfo.xsd");
}

static void schema_free(void)
{
	xsd_free(&schema);
}

/* A watcher with every optional part left out. */
static struct hr_winfo_watcher watcher(const char *id, const char *uri,
	const char *status, const char *event)
{
	return (struct hr_winfo_watcher){ .id = id, .uri = uri,
		.status = status, .event = event, .duration_subscribed = -1,
		.expiration = -1 };
}

static xmlDocPtr write_ok(struct hr_buf *buf, unsigned version, bool full,
	const struct hr_winfo_watcher *w, unsigned n)
{
	hr_buf_init(buf, CAP);
	ck_assert_int_eq(hr_winfo_write(buf, version, full, RES, "presence",
		w, n), 0);
	return xsd_valid(schema, buf);
}

/* RFC 3858 5's example, written from its parts: the same tree. */
START_TEST(test_rfc_example)
{
	struct hr_winfo_watcher w[2];
	struct hr_buf buf;
	xmlDocPtr doc, want;
	size_t len;
	char *p;

	w[0] = watcher("8ajksjda7s", "sip:userA@example.net", "active",
		"approved");
	w[0].duration_subscribed = 509;
	w[1] = watcher("hh8juja87s997-ass7", "sip:userB@example.org",
		"pending", "subscribe");
	w[1].display_name = "Mr. Subscriber";
	doc = write_ok(&buf, 0, true, w, 2);
	p = xsd_file("examples/rfc3858-1.xml", &len);
	want = xsd_parse(p, len);
	xsd_check(schema, want, p, len);
	ck_assert_msg(xsd_same(xmlDocGetRootElement(doc),
		xmlDocGetRootElement(want)), "%.*s", (int)buf.len, buf.b);
	xmlFreeDoc(want);
	free(p);
	xsd_done(&buf, doc);
}
END_TEST

/* Every status with every event, all optional parts. */
START_TEST(test_all)
{
	struct hr_winfo_watcher w[32];
	struct hr_buf buf;
	xmlDocPtr doc;
	char expr[128];

	for (unsigned i = 0; i < 32; i++) {
		char id[8];

		snprintf(id, sizeof(id), "w%u", i);
		w[i] = watcher(strdup(id), "sip:bob@example.test",
			statuses[i / 8], events[i % 8]);
		w[i].duration_subscribed = i;
		w[i].expiration = 3600 - (int64_t)i;
	}
	w[31].expiration = INT64_MAX;
	doc = write_ok(&buf, 7, true, w, 32);
	xp_eq(doc, "/w:watcherinfo/@version", "7");
	xp_eq(doc, "/w:watcherinfo/@state", "full");
	xp_count(doc, "/w:watcherinfo/w:watcher-list", 1);
	xp_eq(doc, "/w:watcherinfo/w:watcher-list/@resource", RES);
	xp_eq(doc, "/w:watcherinfo/w:watcher-list/@package", "presence");
	xp_count(doc, "//w:watcher", 32);
	for (unsigned i = 0; i < 32; i++) {
		snprintf(expr, sizeof(expr), "//w:watcher[@id='w%u']/@status",
			i);
		xp_eq(doc, expr, statuses[i / 8]);
		snprintf(expr, sizeof(expr), "//w:watcher[@id='w%u']/@event",
			i);
		xp_eq(doc, expr, events[i % 8]);
		free((char *)w[i].id);
	}
	xp_eq(doc, "//w:watcher[@id='w0']/@duration-subscribed", "0");
	xp_eq(doc, "//w:watcher[@id='w5']/@expiration", "3595");
	xp_eq(doc, "//w:watcher[@id='w31']/@expiration",
		"9223372036854775807");
	xp_eq(doc, "//w:watcher[@id='w3']", "sip:bob@example.test");
	xsd_done(&buf, doc);
}
END_TEST

/* Partial documents and versions; nothing optional; no watcher. */
START_TEST(test_partial)
{
	struct hr_winfo_watcher w = watcher("x", "sip:carol@example.test",
		"terminated", "timeout");
	struct hr_buf buf;
	xmlDocPtr doc;

	doc = write_ok(&buf, 1, false, &w, 1);
	xp_eq(doc, "/w:watcherinfo/@version", "1");
	xp_eq(doc, "/w:watcherinfo/@state", "partial");
	xp_count(doc, "//w:watcher/@*", 3);  /* id status event */
	xp_eq(doc, "//w:watcher", "sip:carol@example.test");
	xsd_done(&buf, doc);

	doc = write_ok(&buf, UINT_MAX, false, NULL, 0);
	xp_eq(doc, "/w:watcherinfo/@version", "4294967295");
	xp_count(doc, "/w:watcherinfo/w:watcher-list", 1);
	xp_count(doc, "//w:watcher", 0);
	xsd_done(&buf, doc);

	doc = write_ok(&buf, 0, true, NULL, 0);
	xp_eq(doc, "/w:watcherinfo/@state", "full");
	xsd_done(&buf, doc);
}
END_TEST

/* Escaping, non-ASCII; an empty display name is left out. */
START_TEST(test_text)
{
	struct hr_winfo_watcher w[3];
	struct hr_buf buf;
	xmlDocPtr doc;

	w[0] = watcher("a&<\"'>", "sip:a@h.test;x=<y>&z", "active",
		"approved");
	w[0].display_name = "J\xc3\xa9r\xc3\xb4me \"&\" <\xe2\x98\x83>";
	w[1] = watcher("b", "sip:b@h.test", "waiting", "subscribe");
	w[1].display_name = "";
	w[2] = watcher("c", "sip:c@h.test", "pending", "subscribe");
	hr_buf_init(&buf, CAP);
	ck_assert_int_eq(hr_winfo_write(&buf, 2, true, "sip:r@h.test",
		"presence;x=\"&\"", w, 3), 0);
	doc = xsd_parse(buf.b, buf.len);
	xsd_check(schema, doc, buf.b, buf.len);
	xp_eq(doc, "//w:watcher[1]/@id", "a&<\"'>");
	xp_eq(doc, "//w:watcher[1]", "sip:a@h.test;x=<y>&z");
	xp_eq(doc, "//w:watcher[1]/@display-name",
		"J\xc3\xa9r\xc3\xb4me \"&\" <\xe2\x98\x83>");
	xp_count(doc, "//w:watcher[2]/@display-name", 0);
	xp_count(doc, "//w:watcher[3]/@display-name", 0);
	xp_eq(doc, "//w:watcher-list/@package", "presence;x=\"&\"");
	xsd_done(&buf, doc);
}
END_TEST

START_TEST(test_invalid)
{
	static const char *const bad[] = {
		"\xc3", "\xed\xa0\x80", "a\x01z", "\xef\xbf\xbe",
	};
	struct hr_winfo_watcher w;
	struct hr_buf buf;

	hr_buf_init(&buf, CAP);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (unsigned field = 0; field < 5; field++) {
			const char *res = RES, *pkg = "presence";

			w = watcher("1", "sip:i@h", "active", "approved");
			switch (field) {
			case 0: w.id = bad[i]; break;
			case 1: w.uri = bad[i]; break;
			case 2: w.display_name = bad[i]; break;
			case 3: res = bad[i]; break;
			default: pkg = bad[i]; break;
			}
			ck_assert_msg(hr_winfo_write(&buf, 0, true, res, pkg,
				&w, 1) == EINVAL, "bad[%u] field %u", i,
				field);
		}
	}
	w = watcher("1", "sip:i@h", "Active", "approved");
	ck_assert_int_eq(hr_winfo_write(&buf, 0, true, RES, "presence", &w,
		1), EINVAL);
	w = watcher("1", "sip:i@h", "active", "registered");
	ck_assert_int_eq(hr_winfo_write(&buf, 0, true, RES, "presence", &w,
		1), EINVAL);
	w = watcher("1", "sip:i@h", NULL, "approved");
	ck_assert_int_eq(hr_winfo_write(&buf, 0, true, RES, "presence", &w,
		1), EINVAL);
	w = watcher("1", "sip:i@h", "active", NULL);
	ck_assert_int_eq(hr_winfo_write(&buf, 0, true, RES, "presence", &w,
		1), EINVAL);
	w = watcher(NULL, "sip:i@h", "active", "approved");
	ck_assert_int_eq(hr_winfo_write(&buf, 0, true, RES, "presence", &w,
		1), EINVAL);
	w = watcher("1", NULL, "active", "approved");
	ck_assert_int_eq(hr_winfo_write(&buf, 0, true, RES, "presence", &w,
		1), EINVAL);
	w = watcher("1", "sip:i@h", "active", "approved");
	ck_assert_int_eq(hr_winfo_write(&buf, 0, true, "", "presence", &w,
		1), EINVAL);
	ck_assert_int_eq(hr_winfo_write(&buf, 0, true, RES, "", &w, 1),
		EINVAL);
	ck_assert_int_eq(hr_winfo_write(&buf, 0, true, NULL, "presence", &w,
		1), EINVAL);
	ck_assert_int_eq(hr_winfo_write(&buf, 0, true, RES, NULL, &w, 1),
		EINVAL);
	ck_assert_int_eq(hr_winfo_write(&buf, 0, true, RES, "presence", NULL,
		1), EINVAL);
	ck_assert_int_eq(hr_winfo_write(NULL, 0, true, RES, "presence", &w,
		1), EINVAL);
	ck_assert_uint_eq(buf.len, 0);
	ck_assert_ptr_null(buf.b);  /* checked before anything is written */
	xsd_done(&buf, NULL);
}
END_TEST

static int write_60(struct hr_buf *buf, void *w)
{
	return hr_winfo_write(buf, 1, true, RES, "presence", w, 60);
}

START_TEST(test_cap)
{
	struct hr_winfo_watcher w[60];
	struct hr_buf buf, small;
	size_t n;

	for (unsigned i = 0; i < 60; i++) {
		w[i] = watcher("id", "sip:watcher@example.test", "active",
			"approved");
		w[i].display_name = "W \xe2\x98\x83";
		w[i].expiration = 3600;
	}
	hr_buf_init(&buf, CAP);
	ck_assert_int_eq(hr_winfo_write(&buf, 1, true, RES, "presence", w,
		60), 0);
	n = buf.len;
	ck_assert_uint_gt(n, 4000);
	for (size_t cap = 0; cap < n; cap += cap < 64 ? 16 : 997) {
		hr_buf_init(&small, cap);
		ck_assert_int_eq(hr_winfo_write(&small, 1, true, RES,
			"presence", w, 60), EMSGSIZE);
		ck_assert_uint_eq(small.len, 0);
		hr_buf_reset(&small);
	}
	hr_buf_init(&small, n - 1);
	ck_assert_int_eq(hr_winfo_write(&small, 1, true, RES, "presence", w,
		60), EMSGSIZE);
	hr_buf_reset(&small);
	xsd_cap_append(write_60, w, &buf);
	xsd_done(&buf, NULL);
}
END_TEST

static Suite *winfo_suite(void)
{
	Suite *s = suite_create("winfo");
	TCase *tc = tcase_create("write");

	tcase_add_checked_fixture(tc, schema_load, schema_free);
	tcase_add_test(tc, test_rfc_example);
	tcase_add_test(tc, test_all);
	tcase_add_test(tc, test_partial);
	tcase_add_test(tc, test_text);
	tcase_add_test(tc, test_invalid);
	tcase_add_test(tc, test_cap);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* the schema's import of xml.xsd is local; nothing is fetched */
	xmlSetExternalEntityLoader(xmlNoNetExternalEntityLoader);
	return hr_check_run(winfo_suite());
}
