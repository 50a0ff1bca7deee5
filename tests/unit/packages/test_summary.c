/*
 * server/packages/summary.c: message-summary bodies (RFC 3842 5.2) as
 * real senders write them (Asterisk's chan_sip and res_pjsip,
 * FreeSWITCH's mod_voicemail via sofia) and as the ABNF allows them, each
 * checked field by field, printed and parsed back; broken ones refused
 * with their reason; sums that saturate; the class names. Needs no
 * database.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "packages/summary.h"
#include "check_run.h"

#define CAP 65536
#define U32MAX 4294967295u

/* a literal with the NULs inside it, and its length */
#define LIT(s) s, sizeof(s) - 1
#define CNT(n, o) { .present = true, .new_msgs = (n), .old_msgs = (o) }
#define URG(n, o, nu, ou) { .present = true, .new_msgs = (n), \
	.old_msgs = (o), .urgent = true, .new_urgent = (nu), \
	.old_urgent = (ou) }

struct good {
	const char *name;
	const char *body;
	size_t len;            /* 0: strlen(body) */
	struct hr_mwi want;
};

static const struct good goods[] = {
	{ "asterisk chan_sip",
		"Messages-Waiting: yes\r\nMessage-Account: sip:*97@pbx\r\n"
		"Voice-Message: 1/0 (0/0)\r\n", 0,
		{ .waiting = true, .account = "sip:*97@pbx",
		  .cls = { [HR_MWI_VOICE] = URG(1, 0, 0, 0) } } },
	{ "asterisk res_pjsip",
		"Messages-Waiting: no\r\nVoice-Message: 0/3 (0/0)\r\n", 0,
		{ .cls = { [HR_MWI_VOICE] = URG(0, 3, 0, 0) } } },
	{ "freeswitch mod_voicemail",
		"Messages-Waiting: yes\r\n"
		"Message-Account: sip:1000@192.0.2.10\r\n"
		"Voice-Message: 2/1 (0/0)\r\n", 0,
		{ .waiting = true, .account = "sip:1000@192.0.2.10",
		  .cls = { [HR_MWI_VOICE] = URG(2, 1, 0, 0) } } },
	{ "rfc 3842 style, urgent",
		"Messages-Waiting: yes\r\n"
		"Message-Account: sip:alice@vmail.example.com\r\n"
		"Voice-Message: 4/8 (1/2)\r\n", 0,
		{ .waiting = true, .account = "sip:alice@vmail.example.com",
		  .cls = { [HR_MWI_VOICE] = URG(4, 8, 1, 2) } } },
	{ "extension headers after the empty line are ignored",
		"Messages-Waiting: yes\r\nVoice-Message: 4/8 (1/2)\r\n\r\n"
		"To: <sip:alice@example.com>\r\nFrom: <sip:bob@example.org>\r\n"
		"Subject: Lunch\r\nVoice-Message: 9/9\r\nno colon here\r\n", 0,
		{ .waiting = true,
		  .cls = { [HR_MWI_VOICE] = URG(4, 8, 1, 2) } } },
	{ "status only",
		"Messages-Waiting: no\r\n", 0, { .waiting = false } },
	{ "no line end at the end",
		"Messages-Waiting: yes\r\nFax-Message: 1/2", 0,
		{ .waiting = true, .cls = { [HR_MWI_FAX] = CNT(1, 2) } } },
	{ "empty line at the end (sipXecs)",
		"Messages-Waiting: yes\r\nMessage-Account: sip:u@h\r\n"
		"Voice-Message: 1/2 (0/0)\r\n\r\n", 0,
		{ .waiting = true, .account = "sip:u@h",
		  .cls = { [HR_MWI_VOICE] = URG(1, 2, 0, 0) } } },
	{ "bare LF, any case, whitespace around every separator",
		"messages-waiting:YES\nMESSAGE-ACCOUNT :\tsips:a@b.test  \n"
		"voice-message : 1 / 2 ( 0 / 1 )\npager-MESSAGE\t:3/4\n", 0,
		{ .waiting = true, .account = "sips:a@b.test",
		  .cls = { [HR_MWI_VOICE] = URG(1, 2, 0, 1),
			   [HR_MWI_PAGER] = CNT(3, 4) } } },
	{ "every class",
		"Messages-Waiting: yes\r\nNone: 6/0\r\nText-Message: 5/0\r\n"
		"Multimedia-Message: 4/0 (1/0)\r\nPager-Message: 3/0\r\n"
		"Fax-Message: 2/0\r\nVoice-Message: 1/0\r\n", 0,
		{ .waiting = true, .cls = {
			[HR_MWI_VOICE] = CNT(1, 0), [HR_MWI_FAX] = CNT(2, 0),
			[HR_MWI_PAGER] = CNT(3, 0),
			[HR_MWI_MULTIMEDIA] = URG(4, 0, 1, 0),
			[HR_MWI_TEXT] = CNT(5, 0),
			[HR_MWI_NONE] = CNT(6, 0) } } },
	{ "largest counts, leading zeros",
		"Messages-Waiting: yes\r\n"
		"Voice-Message: 4294967295/0004294967295 (007/0)\r\n", 0,
		{ .waiting = true,
		  .cls = { [HR_MWI_VOICE] = URG(U32MAX, U32MAX, 7, 0) } } },
	{ "folded line (RFC 3261 7.3.1)",
		"Messages-Waiting:\r\n yes\r\nVoice-Message: 3/\r\n\t4\r\n"
		"   (1/1)\r\n", 0,
		{ .waiting = true,
		  .cls = { [HR_MWI_VOICE] = URG(3, 4, 1, 1) } } },
	{ "account among the summary lines",
		"Messages-Waiting: no\r\nVoice-Message: 0/1\r\n"
		"Message-Account: tel:+15551234567\r\n", 0,
		{ .account = "tel:+15551234567",
		  .cls = { [HR_MWI_VOICE] = CNT(0, 1) } } },
	{ "zero counts are present",
		"Messages-Waiting: no\r\nVoice-Message: 0/0\r\n", 0,
		{ .cls = { [HR_MWI_VOICE] = CNT(0, 0) } } },
	{ "a NUL after the empty line is ignored",
		LIT("Messages-Waiting: no\r\n\r\nX: a\0b\r\n"),
		{ .waiting = false } },
};

struct bad {
	const char *name;
	const char *body;
	size_t len;
	const char *why;
};

static const char long_account[] = "Messages-Waiting: yes\r\n"
	"Message-Account: sip:"
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@h\r\n";

#define B "Bad message-summary: "
#define MW "Messages-Waiting: yes\r\n"

static const struct bad bads[] = {
	{ "empty", "", 0, B "no Messages-Waiting line first" },
	{ "empty line first", "\r\n" MW, 0,
		B "no Messages-Waiting line first" },
	{ "summary line first", "Voice-Message: 1/0\r\n" MW, 0,
		B "no Messages-Waiting line first" },
	{ "indented first line", " " MW, 0,
		B "no Messages-Waiting line first" },
	{ "status without colon", "Messages-Waiting yes\r\n", 0,
		B "no Messages-Waiting line first" },
	{ "status maybe", "Messages-Waiting: maybe\r\n", 0,
		B "Messages-Waiting is neither yes nor no" },
	{ "status empty", "Messages-Waiting:\r\n", 0,
		B "Messages-Waiting is neither yes nor no" },
	{ "status folded into the next line", MW "\tVoice-Message: 1/0\r\n", 0,
		B "Messages-Waiting is neither yes nor no" },
	{ "status twice", MW "Messages-Waiting: no\r\n", 0,
		B "Messages-Waiting given twice" },
	{ "old asterisk Voicemail:", "Messages-Waiting: yes\nVoicemail: 1/0\n",
		0, B "unknown message class" },
	{ "extension header before the empty line", MW "Subject: hi\r\n", 0,
		B "unknown message class" },
	{ "line without colon", MW "Voice-Message 1/0\r\n", 0,
		B "line without a colon" },
	{ "class twice", MW "Voice-Message: 1/0\r\nvoice-message: 2/0\r\n", 0,
		B "message class given twice" },
	{ "one count", MW "Voice-Message: 1\r\n", 0,
		B "message counts without '/'" },
	{ "no old count", MW "Voice-Message: 1/\r\n", 0,
		B "bad message count" },
	{ "no counts", MW "Voice-Message:\r\n", 0, B "bad message count" },
	{ "negative", MW "Voice-Message: -1/0\r\n", 0, B "bad message count" },
	{ "above 2^32-1", MW "Voice-Message: 4294967296/0\r\n", 0,
		B "message count above 2^32-1" },
	{ "far above 2^32-1", MW "Voice-Message: 0/99999999999999999999999\r\n",
		0, B "message count above 2^32-1" },
	{ "urgent without ')'", MW "Voice-Message: 1/2 (0/0\r\n", 0,
		B "urgent counts without ')'" },
	{ "one urgent count", MW "Voice-Message: 1/2 (0)\r\n", 0,
		B "message counts without '/'" },
	{ "words in the urgent part",
		MW "Voice-Message: 1/0 (1 new, 0 old)\r\n", 0,
		B "message counts without '/'" },
	{ "text after the counts", MW "Voice-Message: 1/2 x\r\n", 0,
		B "text after the message counts" },
	{ "text after the urgent part", MW "Voice-Message: 1/2 (0/0) (0/0)\r\n",
		0, B "text after the message counts" },
	{ "bare CR inside a count", MW "Voice-Message: 1\r2/0\r\n", 0,
		B "message counts without '/'" },
	{ "account twice", MW "Message-Account: sip:a@b\r\n"
		"Message-Account: sip:c@d\r\n", 0,
		B "Message-Account given twice" },
	{ "account empty", MW "Message-Account:\r\n", 0,
		B "Message-Account is not a URI" },
	{ "account without scheme", MW "Message-Account: alice@example.com\r\n",
		0, B "Message-Account is not a URI" },
	{ "account in brackets", MW "Message-Account: <sip:a@b>\r\n", 0,
		B "Message-Account is not a URI" },
	{ "account with space", MW "Message-Account: sip:a b@c\r\n", 0,
		B "Message-Account is not a URI" },
	{ "account scheme only", MW "Message-Account: sip:\r\n", 0,
		B "Message-Account is not a URI" },
	{ "account with NUL", LIT(MW "Message-Account: sip:a\0b@c\r\n"),
		B "Message-Account is not a URI" },
	{ "account with 8-bit bytes", MW "Message-Account: sip:\xc3\xa9@c\r\n",
		0, B "Message-Account is not a URI" },
	{ "account too long", long_account, 0, B "Message-Account too long" },
};

static size_t body_len(const char *body, size_t len)
{
	return len ? len : strlen(body);
}

static void print_or_fail(struct hr_buf *buf, const struct hr_mwi *m)
{
	int err = hr_mwi_print(buf, m);

	ck_assert_msg(!err, "print: %s", strerror(err));
}

/* parse, compare, print, parse again, compare */
START_TEST(good_bodies)
{
	const struct good *g = &goods[_i];
	struct hr_mwi m, again;
	const char *why = "unset";
	struct hr_buf out;
	int err;

	memset(&m, 0xa5, sizeof(m));
	err = hr_mwi_parse(&m, g->body, body_len(g->body, g->len), &why);
	ck_assert_msg(!err, "%s: %s (%s)", g->name, strerror(err),
		why ? why : "-");
	ck_assert_ptr_null(why);
	hr_buf_init(&out, CAP);
	print_or_fail(&out, &m);
	ck_assert_msg(hr_mwi_equal(&m, &g->want), "%s: parsed as\n%.*s",
		g->name, (int)out.len, out.b);
	memset(&again, 0, sizeof(again));
	err = hr_mwi_parse(&again, out.b, out.len, &why);
	ck_assert_msg(!err, "%s: print does not parse: %s\n%.*s", g->name,
		why ? why : "-", (int)out.len, out.b);
	ck_assert_msg(hr_mwi_equal(&again, &m), "%s: round trip", g->name);
	hr_buf_reset(&out);
}
END_TEST

/* refused with its reason; the struct is left as it was */
START_TEST(bad_bodies)
{
	const struct bad *b = &bads[_i];
	struct hr_mwi m, before;
	const char *why = NULL;
	int err;

	memset(&m, 0, sizeof(m));
	m.waiting = true;
	strcpy(m.account, "sip:untouched@example.test");
	before = m;
	err = hr_mwi_parse(&m, b->body, body_len(b->body, b->len), &why);
	ck_assert_msg(err == EBADMSG, "%s: %s", b->name, strerror(err));
	ck_assert_msg(why && !strcmp(why, b->why), "%s: why %s", b->name,
		why ? why : "NULL");
	ck_assert(hr_mwi_equal(&m, &before));
	/* why is optional */
	ck_assert_int_eq(hr_mwi_parse(&m, b->body,
		body_len(b->body, b->len), NULL), EBADMSG);
}
END_TEST

START_TEST(parse_arguments)
{
	struct hr_mwi m;
	const char *why = "unset";

	ck_assert_int_eq(hr_mwi_parse(NULL, MW, strlen(MW), &why), EINVAL);
	ck_assert_ptr_null(why);
	ck_assert_int_eq(hr_mwi_parse(&m, NULL, 3, &why), EINVAL);
	ck_assert_int_eq(hr_mwi_parse(&m, NULL, 0, &why), EBADMSG);
	ck_assert_str_eq(why, B "no Messages-Waiting line first");
	/* only len bytes are read: the rest of the string is not there */
	ck_assert_int_eq(hr_mwi_parse(&m, "Messages-Waiting: nope", 20, &why),
		0);
	ck_assert(!m.waiting);
}
END_TEST

/* the canonical print, byte for byte */
START_TEST(print_exact)
{
	struct hr_mwi m = { .waiting = true,
		.account = "sip:alice@example.test",
		.cls = { [HR_MWI_FAX] = CNT(1, 0),
			 [HR_MWI_VOICE] = URG(2, 8, 0, 2),
			 [HR_MWI_NONE] = CNT(U32MAX, 0) } };
	static const char want[] = "Messages-Waiting: yes\r\n"
		"Message-Account: sip:alice@example.test\r\n"
		"Voice-Message: 2/8 (0/2)\r\n"
		"Fax-Message: 1/0\r\n"
		"None: 4294967295/0\r\n";
	struct hr_buf out;

	hr_buf_init(&out, CAP);
	hr_buf_puts(&out, "kept|");
	print_or_fail(&out, &m);
	ck_assert_uint_eq(out.len, 5 + strlen(want));
	ck_assert(!memcmp(out.b, "kept|", 5));
	ck_assert(!memcmp(out.b + 5, want, strlen(want)));
	hr_buf_reset(&out);

	memset(&m, 0, sizeof(m));
	hr_buf_init(&out, CAP);
	print_or_fail(&out, &m);
	ck_assert_uint_eq(out.len, strlen("Messages-Waiting: no\r\n"));
	ck_assert(!memcmp(out.b, "Messages-Waiting: no\r\n", out.len));
	hr_buf_reset(&out);
}
END_TEST

static const char *const bad_accounts[] = {
	"sip:a@b\r\nVoice-Message: 9/9", "sip:a@b\n", "sip:a\x01@b",
	"sip:a\x7f", "sip:a b", "alice", "sip:", ":a", "1sip:a",
};

/* an account that could not be read back is not written; the buffer is
 * left as it was */
START_TEST(print_refuses)
{
	struct hr_mwi m = { .cls = { [HR_MWI_VOICE] = CNT(1, 1) } };
	struct hr_buf out;

	hr_buf_init(&out, CAP);
	hr_buf_puts(&out, "x");
	for (size_t i = 0; i < sizeof(bad_accounts) / sizeof(*bad_accounts);
		i++) {
		snprintf(m.account, sizeof(m.account), "%s", bad_accounts[i]);
		ck_assert_int_eq(hr_mwi_print(&out, &m), EINVAL);
		ck_assert_uint_eq(out.len, 1);
	}
	memset(m.account, 'a', sizeof(m.account));   /* no NUL */
	memcpy(m.account, "sip:", 4);
	ck_assert_int_eq(hr_mwi_print(&out, &m), EINVAL);
	ck_assert_int_eq(hr_mwi_print(NULL, &m), EINVAL);
	ck_assert_int_eq(hr_mwi_print(&out, NULL), EINVAL);
	ck_assert_uint_eq(out.len, 1);
	hr_buf_reset(&out);

	/* a full buffer: EMSGSIZE, and what was there stays */
	m.account[0] = '\0';
	hr_buf_init(&out, 30);
	hr_buf_puts(&out, "x");
	ck_assert_int_eq(hr_mwi_print(&out, &m), EMSGSIZE);
	ck_assert_uint_eq(out.len, 1);
	hr_buf_reset(&out);
}
END_TEST

START_TEST(add_sums)
{
	struct hr_mwi a = { .cls = { [HR_MWI_VOICE] = CNT(1, 2),
		[HR_MWI_FAX] = URG(0, 1, 0, 1) } };
	struct hr_mwi b = { .waiting = true, .account = "sip:vm@example.test",
		.cls = { [HR_MWI_VOICE] = URG(3, 4, 1, 0),
			 [HR_MWI_TEXT] = CNT(5, 0) } };
	struct hr_mwi want = { .waiting = true,
		.account = "sip:vm@example.test",
		.cls = { [HR_MWI_VOICE] = URG(4, 6, 1, 0),
			 [HR_MWI_FAX] = URG(0, 1, 0, 1),
			 [HR_MWI_TEXT] = CNT(5, 0) } };
	struct hr_mwi c = { .account = "sip:other@example.test" };

	hr_mwi_add(&a, &b);
	ck_assert(hr_mwi_equal(&a, &want));
	/* an account already set stays; not waiting stays waiting */
	hr_mwi_add(&c, &a);
	ck_assert_str_eq(c.account, "sip:other@example.test");
	ck_assert(c.waiting);
	ck_assert_uint_eq(c.cls[HR_MWI_VOICE].new_msgs, 4);
	/* nothing to add: unchanged */
	memset(&b, 0, sizeof(b));
	hr_mwi_add(&a, &b);
	ck_assert(hr_mwi_equal(&a, &want));
	hr_mwi_add(NULL, &b);
	hr_mwi_add(&a, NULL);
	ck_assert(hr_mwi_equal(&a, &want));
}
END_TEST

START_TEST(add_saturates)
{
	struct hr_mwi a = { .cls = {
		[HR_MWI_VOICE] = URG(U32MAX - 1, U32MAX, 7, U32MAX - 2) } };
	struct hr_mwi b = { .cls = { [HR_MWI_VOICE] = URG(5, 1, U32MAX, 1) } };
	const struct hr_mwi_count *v = &a.cls[HR_MWI_VOICE];

	hr_mwi_add(&a, &b);
	ck_assert_uint_eq(v->new_msgs, U32MAX);
	ck_assert_uint_eq(v->old_msgs, U32MAX);
	ck_assert_uint_eq(v->new_urgent, U32MAX);
	ck_assert_uint_eq(v->old_urgent, U32MAX - 1);
	/* a sum with itself */
	b.cls[HR_MWI_VOICE].new_msgs = U32MAX / 2 + 1;
	hr_mwi_add(&b, &b);
	ck_assert_uint_eq(b.cls[HR_MWI_VOICE].new_msgs, U32MAX);
	ck_assert_uint_eq(b.cls[HR_MWI_VOICE].old_msgs, 2);
}
END_TEST

START_TEST(equal_fields)
{
	struct hr_mwi a = { .account = "sip:a@b",
		.cls = { [HR_MWI_PAGER] = URG(1, 2, 3, 4) } };
	struct hr_mwi b = a;

	ck_assert(hr_mwi_equal(&a, &b));
	/* bytes after the account's NUL do not count */
	b.account[20] = 'z';
	ck_assert(hr_mwi_equal(&a, &b));
	b = a, b.waiting = true;
	ck_assert(!hr_mwi_equal(&a, &b));
	b = a, b.account[6] = 'c';
	ck_assert(!hr_mwi_equal(&a, &b));
	b = a, b.cls[HR_MWI_PAGER].old_urgent = 5;
	ck_assert(!hr_mwi_equal(&a, &b));
	b = a, b.cls[HR_MWI_PAGER].urgent = false;
	ck_assert(!hr_mwi_equal(&a, &b));
	b = a, b.cls[HR_MWI_NONE].present = true;
	ck_assert(!hr_mwi_equal(&a, &b));
}
END_TEST

START_TEST(class_names)
{
	static const char *const names[HR_MWI_NCLASSES] = {
		"Voice-Message", "Fax-Message", "Pager-Message",
		"Multimedia-Message", "Text-Message", "None",
	};
	char lower[32];

	for (int c = 0; c < HR_MWI_NCLASSES; c++) {
		const char *n = hr_mwi_class_name(c);
		size_t k;

		ck_assert_str_eq(n, names[c]);
		ck_assert_int_eq(hr_mwi_class_id(n, strlen(n)), c);
		/* RFC 3458 writes them in lower case */
		for (k = 0; n[k]; k++)
			lower[k] = (char)(n[k] >= 'A' && n[k] <= 'Z' ?
				n[k] + 32 : n[k]);
		ck_assert_int_eq(hr_mwi_class_id(lower, k), c);
		/* a prefix, or more, is another name */
		ck_assert_int_eq(hr_mwi_class_id(n, strlen(n) - 1), -1);
		ck_assert_int_eq(hr_mwi_class_id("Voice-Messages", 14), -1);
	}
	ck_assert_ptr_null(hr_mwi_class_name(HR_MWI_NCLASSES));
	ck_assert_ptr_null(hr_mwi_class_name((enum hr_mwi_class)-1));
	ck_assert_int_eq(hr_mwi_class_id("Voicemail", 9), -1);
	ck_assert_int_eq(hr_mwi_class_id("", 0), -1);
	ck_assert_int_eq(hr_mwi_class_id(NULL, 4), -1);
	/* only len bytes count */
	ck_assert_int_eq(hr_mwi_class_id("None-such", 4), HR_MWI_NONE);
}
END_TEST

static Suite *summary_suite(void)
{
	Suite *s = suite_create("summary");
	TCase *tc = tcase_create("parse");

	tcase_add_loop_test(tc, good_bodies, 0,
		(int)(sizeof(goods) / sizeof(*goods)));
	tcase_add_loop_test(tc, bad_bodies, 0,
		(int)(sizeof(bads) / sizeof(*bads)));
	tcase_add_test(tc, parse_arguments);
	suite_add_tcase(s, tc);
	tc = tcase_create("print");
	tcase_add_test(tc, print_exact);
	tcase_add_test(tc, print_refuses);
	suite_add_tcase(s, tc);
	tc = tcase_create("sum");
	tcase_add_test(tc, add_sums);
	tcase_add_test(tc, add_saturates);
	tcase_add_test(tc, equal_fields);
	tcase_add_test(tc, class_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return hr_check_run(summary_suite());
}
