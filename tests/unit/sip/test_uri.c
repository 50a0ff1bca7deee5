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

/* RFC 3261 19.1.4: every example pair, then the rules they leave out */
struct eqcase {
	const char *a;
	const char *b;
	bool eq;
};

static const struct eqcase eqs[] = {
	/* "The URIs within each of the following sets are equivalent" */
	{ "sip:%61lice@atlanta.com;transport=TCP",
	  "sip:alice@AtLanTa.CoM;Transport=tcp", true },
	{ "sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5", true },
	{ "sip:carol@chicago.com", "sip:carol@chicago.com;security=on", true },
	{ "sip:carol@chicago.com;newparam=5",
	  "sip:carol@chicago.com;security=on", true },
	{ "sip:biloxi.com;transport=tcp;method=REGISTER"
	  "?to=sip:bob%40biloxi.com",
	  "sip:biloxi.com;method=REGISTER;transport=tcp"
	  "?to=sip:bob%40biloxi.com", true },
	{ "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
	  "sip:alice@atlanta.com?priority=urgent&subject=project%20x", true },
	/* "...are not equivalent" */
	{ "SIP:ALICE@AtLanTa.CoM;Transport=udp",
	  "sip:alice@AtLanTa.CoM;Transport=UDP", false },
	{ "sip:bob@biloxi.com", "sip:bob@biloxi.com:5060", false },
	{ "sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp", false },
	{ "sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp",
	  false },
	{ "sip:carol@chicago.com",
	  "sip:carol@chicago.com?Subject=next%20meeting", false },
	{ "sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4", false },
	/* "equality is not transitive" */
	{ "sip:carol@chicago.com", "sip:carol@chicago.com;security=off", true },
	{ "sip:carol@chicago.com;security=on",
	  "sip:carol@chicago.com;security=off", false },
	/* the other rules of 19.1.4 */
	{ "sip:alice@atlanta.com", "sips:alice@atlanta.com", false },
	{ "sip:atlanta.com", "sip:alice@atlanta.com", false },
	{ "sip:alice@atlanta.com", "sip:alice:pw@atlanta.com", false },
	{ "sip:alice:pw@atlanta.com", "sip:alice:PW@atlanta.com", false },
	{ "sip:alice:p%77@atlanta.com", "sip:alice:pw@atlanta.com", true },
	{ "sip:alice@atlanta.com", "sip:alice@atlanta.com;user=ip", false },
	{ "sip:alice@atlanta.com", "sip:alice@atlanta.com;ttl=1", false },
	{ "sip:alice@atlanta.com", "sip:alice@atlanta.com;method=INVITE",
	  false },
	{ "sip:alice@atlanta.com",
	  "sip:alice@atlanta.com;maddr=239.255.255.1", false },
	{ "sip:alice@atlanta.com;lr", "sip:alice@atlanta.com;LR", true },
	{ "sip:alice@atlanta.com;lr", "sip:alice@atlanta.com;lr=on", false },
	{ "sip:alice@atlanta.com;maddr=a.test",
	  "sip:alice@atlanta.com;maddr=b.test", false },
	{ "sip:%41lice@atlanta.com", "sip:alice@atlanta.com", false },
	{ "sip:atlanta.com;transport=t%63p", "sip:atlanta.com;transport=TCP",
	  true },
	/* a reserved character and its escape differ; hex digits any case */
	{ "sip:a%3Bb@atlanta.com", "sip:a;b@atlanta.com", false },
	{ "sip:a%3Bb@atlanta.com", "sip:a%3bb@atlanta.com", true },
	{ "sip:atlanta.com:5060", "sip:atlanta.com:5070", false },
	{ "sip:[2001:db8::1]:5060", "sip:[2001:DB8:0::1]:5060", true },
	{ "sip:[2001:db8::1]", "sip:[2001:db8::2]", false },
	{ "sip:atlanta.com?a=1&a=1", "sip:atlanta.com?a=1", false },
	{ "sip:atlanta.com?a=x", "sip:atlanta.com?A=x", true },
	{ "sip:atlanta.com?a=x", "sip:atlanta.com?a=X", false },
	/* a parameter given twice: each value must be in the other URI */
	{ "sip:atlanta.com;a=1;a=2", "sip:atlanta.com;a=2;a=1", true },
	{ "sip:atlanta.com;a=1;a=2", "sip:atlanta.com;a=2", false },
	{ "tel:+1-201-555-0123", "TEL:+1-201-555-0123", true },
	{ "tel:+1-201-555-0123", "tel:+12015550123", false },
	{ "tel:+12015550123", "sip:+12015550123@atlanta.com;user=phone",
	  false },
};

START_TEST(test_eq)
{
	const struct eqcase *c = &eqs[_i];
	struct hr_pl pa = hr_pl_str(c->a), pb = hr_pl_str(c->b);
	struct hr_uri a, b;

	ck_assert_msg(!hr_uri_decode(&a, &pa), "%s", c->a);
	ck_assert_msg(!hr_uri_decode(&b, &pb), "%s", c->b);
	ck_assert_msg(hr_uri_eq(&a, &b) == c->eq, "%s %s %s", c->a,
		c->eq ? "!=" : "==", c->b);
	ck_assert_msg(hr_uri_eq(&b, &a) == c->eq, "%s %s %s", c->b,
		c->eq ? "!=" : "==", c->a);
	ck_assert_msg(hr_uri_eq(&a, &a) && hr_uri_eq(&b, &b), "%s or %s "
		"is not itself", c->a, c->b);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("uri");
	TCase *tc = tcase_create("uri");

	tcase_add_loop_test(tc, test_uri, 0, sizeof(uris) / sizeof(uris[0]));
	tcase_add_test(tc, test_unescape);
	tcase_add_loop_test(tc, test_addr, 0, sizeof(addrs) / sizeof(addrs[0]));
	tcase_add_loop_test(tc, test_eq, 0, sizeof(eqs) / sizeof(eqs[0]));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return hr_check_run(suite());
}
