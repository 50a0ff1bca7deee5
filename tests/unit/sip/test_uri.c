/* server/sip/uri.c and addr.c: decode → print → compare (libre
 * test_sip_addr style), and what must be refused. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "sip/sip.h"
#include "check_run.h"

struct ucase {
	const char *in;
	const char *out;       /* canonical print; NULL: decode must fail */
	const char *user;
	const char *host;
	uint16_t port;
};

static const struct ucase uris[] = {
	{ "sip:alice@example.test", "sip:alice@example.test", "alice",
	  "example.test", 0 },
	{ "SIP:alice@example.test:5070", "sip:alice@example.test:5070",
	  "alice", "example.test", 5070 },
	{ "sips:bob:secret@192.0.2.4;transport=tcp?subject=hi&x=y",
	  "sips:bob:secret@192.0.2.4;transport=tcp?subject=hi&x=y", "bob",
	  "192.0.2.4", 0 },
	{ "sip:example.test", "sip:example.test", "", "example.test", 0 },
	{ "sip:[2001:db8::10]:5060;lr", "sip:[2001:db8::10]:5060;lr", "",
	  "2001:db8::10", 5060 },
	{ "sip:user@[::ffff:192.0.2.1]", "sip:user@[::ffff:192.0.2.1]", "user",
	  "::ffff:192.0.2.1", 0 },
	{ "sip:%61lice@example.test", "sip:%61lice@example.test", "%61lice",
	  "example.test", 0 },
	/* RFC 4475 3.1.1.10: user part may hold ';' and escaped '@' */
	{ "sip:user;par=u%40example.net@example.com",
	  "sip:user;par=u%40example.net@example.com",
	  "user;par=u%40example.net", "example.com", 0 },
	{ "sip:*98#@example.test", "sip:*98#@example.test", "*98#",
	  "example.test", 0 },
	{ "tel:+1-201-555-0123;phone-context=example.test",
	  "tel:+1-201-555-0123;phone-context=example.test",
	  "+1-201-555-0123", "", 0 },
	{ "http://example.test/x", "http://example.test/x", "", "", 0 },
	{ "sip:", NULL, NULL, NULL, 0 },
	/* found by fuzz_addr: '>' inside an unknown-scheme URI */
	{ "Atel:+12015550100>", NULL, NULL, NULL, 0 },
	{ "x:a\"b", NULL, NULL, NULL, 0 },
	{ "sip:@example.test", NULL, NULL, NULL, 0 },
	{ "sip:alice@", NULL, NULL, NULL, 0 },
	{ "sip:alice@example.test:0", NULL, NULL, NULL, 0 },
	{ "sip:alice@example.test:65536", NULL, NULL, NULL, 0 },
	{ "sip:alice@example.test:50x", NULL, NULL, NULL, 0 },
	{ "sip:al ice@example.test", NULL, NULL, NULL, 0 },
	{ "sip:%zzlice@example.test", NULL, NULL, NULL, 0 },
	{ "sip:2001:db8::10", NULL, NULL, NULL, 0 },
	{ "sip:[2001:db8::10", NULL, NULL, NULL, 0 },
	{ "sip:[1]", NULL, NULL, NULL, 0 },
	{ "sip:a@b;x=\"y\"", NULL, NULL, NULL, 0 },
	{ "tel:", NULL, NULL, NULL, 0 },
	{ "nocolon", NULL, NULL, NULL, 0 },
	{ "1sip:a@b", NULL, NULL, NULL, 0 },
};

START_TEST(test_uri)
{
	const struct ucase *c = &uris[_i];
	struct hr_pl in = hr_pl_str(c->in);
	struct hr_uri uri;
	struct hr_buf b;
	int err = hr_uri_decode(&uri, &in);

	if (!c->out) {
		ck_assert_msg(err == EBADMSG, "%s decoded", c->in);
		return;
	}
	ck_assert_msg(err == 0, "%s: %d", c->in, err);
	hr_buf_init(&b, 4096);
	ck_assert_int_eq(hr_uri_print(&b, &uri), 0);
	ck_assert_msg(b.len == strlen(c->out) && !memcmp(b.b, c->out, b.len),
		"%s printed %.*s", c->in, (int)b.len, b.b);
	ck_assert_msg(!hr_pl_strcmp(&uri.user, c->user) ||
		(!*c->user && !uri.user.len), "%s: user", c->in);
	ck_assert_msg(!hr_pl_strcmp(&uri.host, c->host) ||
		(!*c->host && !uri.host.len), "%s: host", c->in);
	ck_assert_uint_eq(uri.port, c->port);
	hr_buf_reset(&b);
}
END_TEST

START_TEST(test_unescape)
{
	struct hr_pl in = HR_PL("%61l%69ce%00x");
	char out[32];
	size_t n;

	ck_assert_int_eq(hr_uri_unescape(&in, out, sizeof(out), &n), 0);
	ck_assert_uint_eq(n, 7);
	ck_assert(memcmp(out, "alice\0x", 7) == 0);
	in = hr_pl_str("%6");
	ck_assert_int_eq(hr_uri_unescape(&in, out, sizeof(out), &n), EBADMSG);
	in = hr_pl_str("abcdef");
	ck_assert_int_eq(hr_uri_unescape(&in, out, 4, &n), ENOSPC);
}
END_TEST

struct acase {
	const char *in;
	const char *out;   /* NULL: must fail */
	const char *dname;
	const char *tag;
};

static const struct acase addrs[] = {
	{ "<sip:alice@example.test>", "<sip:alice@example.test>", "", NULL },
	{ "Alice <sip:alice@example.test>;tag=88",
	  "\"Alice\" <sip:alice@example.test>;tag=88", "Alice", "88" },
	{ "Alice  Smith   <sip:a@example.test>",
	  "\"Alice  Smith\" <sip:a@example.test>", "Alice  Smith", NULL },
	{ "\"J\xc3\xa9r\xc3\xb4me\" <sip:j@example.test>",
	  "\"J\xc3\xa9r\xc3\xb4me\" <sip:j@example.test>",
	  "J\xc3\xa9r\xc3\xb4me", NULL },
	{ "\"<sip:fake@x>\" <sip:real@example.test>",
	  "\"<sip:fake@x>\" <sip:real@example.test>", "<sip:fake@x>", NULL },
	{ "sip:alice@example.test;tag=1", "<sip:alice@example.test>;tag=1", "",
	  "1" },
	{ "<sip:a@example.test;transport=tcp>;expires=60;q=0.7",
	  "<sip:a@example.test;transport=tcp>;expires=60;q=0.7", "", NULL },
	{ "<sip:a@example.test> ; tag = x", "<sip:a@example.test>; tag = x", "",
	  "x" },
	{ "*", "*", "", NULL },
	{ "<sip:a@example.test", NULL, NULL, NULL },
	{ "Alice <sip:a@example.test>;tag=", NULL, NULL, NULL },
	{ "Alice <sip:a@example.test>;tag", NULL, NULL, NULL },
	{ "\"unterminated <sip:a@example.test>", NULL, NULL, NULL },
	{ "<sip:a@example.test> junk", NULL, NULL, NULL },
	{ "", NULL, NULL, NULL },
	{ "Atel:+12015550100>;tag=t1", NULL, NULL, NULL },
};

START_TEST(test_addr)
{
	const struct acase *c = &addrs[_i];
	struct hr_pl in = hr_pl_str(c->in);
	struct hr_addr a;
	struct hr_buf b;
	int err = hr_addr_decode(&a, &in);

	if (!c->out) {
		ck_assert_msg(err == EBADMSG, "%s decoded", c->in);
		return;
	}
	ck_assert_msg(err == 0, "%s: %d", c->in, err);
	hr_buf_init(&b, 4096);
	ck_assert_int_eq(hr_addr_print(&b, &a), 0);
	ck_assert_msg(b.len == strlen(c->out) && !memcmp(b.b, c->out, b.len),
		"%s printed %.*s", c->in, (int)b.len, b.b);
	ck_assert_msg(!hr_pl_strcmp(&a.dname, c->dname) ||
		(!*c->dname && !a.dname.len), "%s: dname", c->in);
	if (c->tag)
		ck_assert(!hr_pl_strcmp(&a.tag, c->tag));
	else
		ck_assert(!a.tag.p);
	hr_buf_reset(&b);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("uri");
	TCase *tc = tcase_create("uri");

	tcase_add_loop_test(tc, test_uri, 0, sizeof(uris) / sizeof(uris[0]));
	tcase_add_test(tc, test_unescape);
	tcase_add_loop_test(tc, test_addr, 0, sizeof(addrs) / sizeof(addrs[0]));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return hr_check_run(suite());
}
