/* server/sip/ws.c: the WebSocket opening handshake and frames (RFC 6455)
 * with hand-made client frames masked with a fixed key, and the upgrade
 * SIP over WebSocket needs (RFC 7118). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "sip/ws.h"
#include "check_run.h"

/* RFC 6455 5.7's example key */
static const uint8_t KEY[4] = { 0x37, 0xfa, 0x21, 0x3d };

static struct hr_ws_rx *rx;
static struct hr_buf in, out;

/* What one hr_ws_rx_read call said. */
struct got {
	enum hr_ws_event ev;
	size_t used;
	enum hr_ws_op op;
	const uint8_t *data;
	size_t n;
	uint16_t code;
};

static void setup(void)
{
	hr_buf_init(&in, 1 << 20);
	hr_buf_init(&out, 1 << 20);
}

static void teardown(void)
{
	rx = hr_mem_deref(rx);
	hr_buf_reset(&in);
	hr_buf_reset(&out);
	ck_assert_uint_eq(hr_mem_live(), 0);
}

static void rx_new(size_t max)
{
	rx = hr_mem_deref(rx);
	ck_assert_int_eq(hr_ws_rx_alloc(&rx, max), 0);
}

static void raw(struct hr_buf *b, const void *p, size_t n)
{
	ck_assert_int_eq(hr_buf_write(b, p, n), 0);
}

/* A client frame by hand: first byte b0, the shortest length, the mask
 * bit, KEY and the payload masked with it. */
static void frame(struct hr_buf *b, uint8_t b0, const void *p, size_t n)
{
	uint8_t h[10] = { b0 };
	size_t hl = 2;

	if (n < 126) {
		h[1] = (uint8_t)(0x80 | n);
	} else if (n <= 0xffff) {
		h[1] = 0x80 | 126;
		h[2] = (uint8_t)(n >> 8);
		h[3] = (uint8_t)n;
		hl = 4;
	} else {
		h[1] = 0x80 | 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
		hl = 10;
	}
	raw(b, h, hl);
	raw(b, KEY, 4);
	for (size_t i = 0; i < n; i++) {
		uint8_t c = ((const uint8_t *)p)[i] ^ KEY[i % 4];

		raw(b, &c, 1);
	}
}

static void frame_s(struct hr_buf *b, uint8_t b0, const char *s)
{
	frame(b, b0, s, strlen(s));
}

static struct got rd_at(const struct hr_buf *b, size_t off, size_t len)
{
	struct got g;

	g.ev = hr_ws_rx_read(rx, (const uint8_t *)b->b + off, len, &g.used,
		&g.op, &g.data, &g.n, &g.code);
	ck_assert_uint_le(g.used, len);
	return g;
}

/* Read from in at *off, draining what was used. */
static struct got rd(size_t *off)
{
	struct got g = rd_at(&in, *off, in.len - *off);

	*off += g.used;
	return g;
}

static void ck_message(struct got g, enum hr_ws_op op, const void *p,
	size_t n)
{
	ck_assert_int_eq(g.ev, HR_WS_MESSAGE);
	ck_assert_int_eq(g.op, op);
	ck_assert_uint_eq(g.n, n);
	ck_assert_ptr_nonnull(g.data);
	ck_assert_mem_eq(g.data, p, n);
}

static void ck_fail(struct got g, uint16_t code)
{
	ck_assert_int_eq(g.ev, HR_WS_FAIL);
	ck_assert_uint_eq(g.code, code);
}

/* in as a whole must fail with code; and again after, consuming nothing */
static void ck_in_fails(uint16_t code)
{
	size_t off = 0;
	struct got g;

	do {
		g = rd(&off);
	} while (g.ev != HR_WS_FAIL && g.ev != HR_WS_AGAIN);
	ck_fail(g, code);
	g = rd(&off);
	ck_fail(g, code);
	ck_assert_uint_eq(g.used, 0);
}

/* ---- printing ---- */

START_TEST(test_print_rfc_examples)
{
	static const uint8_t hello[] = { 0x81, 0x05, 'H', 'e', 'l', 'l', 'o' };
	static const uint8_t masked[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
		0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	static const uint8_t ping[] = { 0x89, 0x05, 'H', 'e', 'l', 'l', 'o' };
	static uint8_t big[65536];

	/* RFC 6455 5.7 */
	ck_assert_int_eq(hr_ws_frame_print(&out, HR_WS_TEXT, "Hello", 5,
		NULL), 0);
	ck_assert_uint_eq(out.len, sizeof(hello));
	ck_assert_mem_eq(out.b, hello, sizeof(hello));
	out.len = 0;
	ck_assert_int_eq(hr_ws_frame_print(&out, HR_WS_TEXT, "Hello", 5,
		KEY), 0);
	ck_assert_uint_eq(out.len, sizeof(masked));
	ck_assert_mem_eq(out.b, masked, sizeof(masked));
	out.len = 0;
	ck_assert_int_eq(hr_ws_frame_print(&out, HR_WS_PING, "Hello", 5,
		NULL), 0);
	ck_assert_mem_eq(out.b, ping, sizeof(ping));
	out.len = 0;
	ck_assert_int_eq(hr_ws_frame_print(&out, HR_WS_BINARY, big, 256,
		NULL), 0);
	ck_assert_uint_eq(out.len, 4 + 256);
	ck_assert_mem_eq(out.b, "\x82\x7e\x01\x00", 4);
	out.len = 0;
	ck_assert_int_eq(hr_ws_frame_print(&out, HR_WS_BINARY, big, 65536,
		NULL), 0);
	ck_assert_uint_eq(out.len, 10 + 65536);
	ck_assert_mem_eq(out.b, "\x82\x7f\0\0\0\0\0\x01\0\0", 10);
	out.len = 0;
	ck_assert_int_eq(hr_ws_frame_print(&out, HR_WS_BINARY, big, 65535,
		NULL), 0);
	ck_assert_mem_eq(out.b, "\x82\x7e\xff\xff", 4);
	out.len = 0;
	ck_assert_int_eq(hr_ws_frame_print(&out, HR_WS_TEXT, NULL, 0, NULL),
		0);
	ck_assert_uint_eq(out.len, 2);
	ck_assert_mem_eq(out.b, "\x81\x00", 2);
}
END_TEST

START_TEST(test_print_refused)
{
	static const uint8_t p[126];
	struct hr_buf small;

	ck_assert_int_eq(hr_ws_frame_print(&out, HR_WS_CONT, "x", 1, NULL),
		EINVAL);
	ck_assert_int_eq(hr_ws_frame_print(&out, (enum hr_ws_op)3, "x", 1,
		NULL), EINVAL);
	ck_assert_int_eq(hr_ws_frame_print(&out, HR_WS_PING, p, 126, NULL),
		EINVAL);
	ck_assert_int_eq(hr_ws_frame_print(&out, HR_WS_PONG, p, 125, NULL), 0);
	ck_assert_uint_eq(out.len, 127);
	/* a full buffer is left as it was */
	hr_buf_init(&small, 8);
	ck_assert_int_eq(hr_ws_frame_print(&small, HR_WS_TEXT, "abc", 3,
		NULL), 0);
	ck_assert_int_eq(hr_ws_frame_print(&small, HR_WS_TEXT, "abc", 3,
		NULL), EMSGSIZE);
	ck_assert_uint_eq(small.len, 5);
	hr_buf_reset(&small);
}
END_TEST

START_TEST(test_close_print)
{
	ck_assert_int_eq(hr_ws_close_print(&out, 1000), 0);
	ck_assert_int_eq(hr_ws_close_print(&out, 0), 0);
	ck_assert_int_eq(hr_ws_close_print(&out, HR_WS_TOO_BIG), 0);
	ck_assert_uint_eq(out.len, 10);
	ck_assert_mem_eq(out.b, "\x88\x02\x03\xe8\x88\x00\x88\x02\x03\xf1",
		10);
	/* RFC 6455 7.4.1: 1005, 1006 and 1015 are never sent */
	ck_assert_int_eq(hr_ws_close_print(&out, 1005), EINVAL);
	ck_assert_int_eq(hr_ws_close_print(&out, 1006), EINVAL);
	ck_assert_int_eq(hr_ws_close_print(&out, 1015), EINVAL);
	ck_assert_int_eq(hr_ws_close_print(&out, 999), EINVAL);
	ck_assert_uint_eq(out.len, 10);
}
END_TEST

/* ---- receiving ---- */

START_TEST(test_alloc)
{
	ck_assert_int_eq(hr_ws_rx_alloc(&rx, 0), EINVAL);
	ck_assert_ptr_null(rx);
}
END_TEST

START_TEST(test_rfc_hello)
{
	static const uint8_t masked[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
		0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	size_t off = 0;
	struct got g;

	rx_new(1000);
	raw(&in, masked, sizeof(masked));
	g = rd(&off);
	ck_message(g, HR_WS_TEXT, "Hello", 5);
	ck_assert_uint_eq(g.used, sizeof(masked));
	g = rd(&off);
	ck_assert_int_eq(g.ev, HR_WS_AGAIN);
	ck_assert_uint_eq(g.used, 0);
	/* the printer's masked frames read back */
	in.len = 0;
	ck_assert_int_eq(hr_ws_frame_print(&in, HR_WS_BINARY, "\0\xff", 2,
		KEY), 0);
	off = 0;
	ck_message(rd(&off), HR_WS_BINARY, "\0\xff", 2);
}
END_TEST

/* Every prefix of a frame waits and consumes nothing; then the whole. */
START_TEST(test_header_split)
{
	static const size_t sizes[] = { 5, 125, 126, 300, 65535, 65536,
		70000 };
	static char msg[70000];

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (char)('a' + i % 26);
	rx_new(sizeof(msg));
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = sizes[k];
		struct got g;

		in.len = 0;
		frame(&in, 0x81, msg, n);
		/* the header (2, 4 or 10 bytes and the key) a byte at a
		 * time, then a payload byte short */
		for (size_t len = 0; len < 16 && len < in.len; len++) {
			g = rd_at(&in, 0, len);
			ck_assert_int_eq(g.ev, HR_WS_AGAIN);
			ck_assert_uint_eq(g.used, 0);
		}
		g = rd_at(&in, 0, in.len - 1);
		ck_assert_int_eq(g.ev, HR_WS_AGAIN);
		ck_assert_uint_eq(g.used, 0);
		g = rd_at(&in, 0, in.len);
		ck_message(g, HR_WS_TEXT, msg, n);
		ck_assert_uint_eq(g.used, in.len);
	}
}
END_TEST

/* A caller fed one byte at a time: it drains what was used and reads
 * until AGAIN; the events come in order. */
START_TEST(test_byte_at_a_time)
{
	struct hr_buf wire, pend;
	enum hr_ws_event evs[4];
	unsigned nev = 0;
	struct got g;

	rx_new(1000);
	hr_buf_init(&wire, 4096);
	hr_buf_init(&pend, 4096);
	frame_s(&wire, 0x01, "SUBSCRIBE sip:");
	frame_s(&wire, 0x89, "are you there");
	frame_s(&wire, 0x00, "bob@example.test");
	frame_s(&wire, 0x80, " SIP/2.0\r\n");
	frame_s(&wire, 0x88, "");
	for (size_t i = 0; i < wire.len; i++) {
		raw(&pend, wire.b + i, 1);
		do {
			g = rd_at(&pend, 0, pend.len);
			memmove(pend.b, pend.b + g.used, pend.len - g.used);
			pend.len -= g.used;
			if (g.ev == HR_WS_AGAIN)
				continue;
			ck_assert_uint_lt(nev, 4);
			evs[nev++] = g.ev;
			if (g.ev == HR_WS_PINGED) {
				ck_assert_uint_eq(g.n, 13);
				ck_assert_mem_eq(g.data, "are you there", 13);
			} else if (g.ev == HR_WS_MESSAGE) {
				ck_message(g, HR_WS_TEXT, "SUBSCRIBE "
					"sip:bob@example.test SIP/2.0\r\n",
					40);
			}
		} while (g.ev != HR_WS_AGAIN && g.ev != HR_WS_CLOSED);
	}
	ck_assert_uint_eq(nev, 3);
	ck_assert_int_eq(evs[0], HR_WS_PINGED);
	ck_assert_int_eq(evs[1], HR_WS_MESSAGE);
	ck_assert_int_eq(evs[2], HR_WS_CLOSED);
	ck_assert_uint_eq(pend.len, 0);
	hr_buf_reset(&wire);
	hr_buf_reset(&pend);
}
END_TEST

/* RFC 6455 5.4: control frames between fragments; fragments are copied
 * into rx and consumed as they come (AGAIN with used > 0). */
START_TEST(test_fragments_ping)
{
	size_t off = 0, first;
	struct got g;

	rx_new(1000);
	frame_s(&in, 0x02, "NOTIFY ");
	first = in.len;
	frame_s(&in, 0x89, "p1");
	frame_s(&in, 0x00, "sip:a@b ");
	frame_s(&in, 0x8a, "");
	frame_s(&in, 0x00, "");
	frame_s(&in, 0x80, "SIP/2.0");
	frame_s(&in, 0x81, "next");
	g = rd(&off);
	ck_assert_int_eq(g.ev, HR_WS_PINGED);
	ck_assert_uint_eq(g.used, first + 8);
	ck_assert_uint_eq(g.n, 2);
	ck_assert_mem_eq(g.data, "p1", 2);
	g = rd(&off);
	ck_assert_int_eq(g.ev, HR_WS_PONGED);
	ck_assert_uint_eq(g.n, 0);
	ck_message(rd(&off), HR_WS_BINARY, "NOTIFY sip:a@b SIP/2.0", 22);
	ck_message(rd(&off), HR_WS_TEXT, "next", 4);
	ck_assert_uint_eq(off, in.len);
	/* fragments alone are consumed: the caller's buffer keeps only
	 * what is not yet a whole frame */
	in.len = 0;
	off = 0;
	frame_s(&in, 0x01, "abc");
	frame_s(&in, 0x00, "def");
	raw(&in, "\x80", 1);
	g = rd(&off);
	ck_assert_int_eq(g.ev, HR_WS_AGAIN);
	ck_assert_uint_eq(off, in.len - 1);
	in.len = off;
	frame_s(&in, 0x80, "g");
	ck_message(rd(&off), HR_WS_TEXT, "abcdefg", 7);
}
END_TEST

/* RFC 7118 5.2: SIP may come in binary frames (and need not be UTF-8) */
START_TEST(test_binary_sip)
{
	static const char sip[] = "REGISTER sip:example.test SIP/2.0\r\n"
		"Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKasudf\r\n"
		"From: <sip:alice@example.test>;tag=65bnmj.34asd\r\n"
		"To: <sip:alice@example.test>\r\nCall-ID: aiuy7k9njasd\r\n"
		"CSeq: 1 REGISTER\r\nSubject: \xff\xfe not UTF-8\r\n"
		"Contact: <sip:alice@df7jal23ls0d.invalid;transport=ws>\r\n"
		"Content-Length: 0\r\n\r\n";
	size_t off = 0;

	rx_new(4096);
	frame(&in, 0x82, sip, sizeof(sip) - 1);
	ck_message(rd(&off), HR_WS_BINARY, sip, sizeof(sip) - 1);
}
END_TEST

START_TEST(test_too_big)
{
	static char msg[101];
	size_t off = 0;

	memset(msg, 'x', sizeof(msg));
	rx_new(100);
	/* exactly max_msg, whole or in fragments, passes */
	frame(&in, 0x81, msg, 100);
	frame(&in, 0x01, msg, 60);
	frame(&in, 0x80, msg, 40);
	ck_message(rd(&off), HR_WS_TEXT, msg, 100);
	ck_message(rd(&off), HR_WS_TEXT, msg, 100);
	/* one byte over in one frame: 1009 from the header alone */
	rx_new(100);
	in.len = 0;
	frame(&in, 0x81, msg, 101);
	ck_fail(rd_at(&in, 0, 2), HR_WS_TOO_BIG);
	ck_fail(rd_at(&in, 0, in.len), HR_WS_TOO_BIG);
	/* the sum of the fragments over: 1009 at the header of the one
	 * that goes over, before its payload came */
	rx_new(100);
	in.len = 0;
	frame(&in, 0x01, msg, 60);
	frame(&in, 0x89, msg, 5);
	frame(&in, 0x80, msg, 41);
	off = 0;
	ck_assert_int_eq(rd(&off).ev, HR_WS_PINGED);
	ck_fail(rd_at(&in, off, 2), HR_WS_TOO_BIG);
	/* the 64-bit length of a huge frame */
	rx_new(100);
	in.len = 0;
	raw(&in, "\x82\xff\x00\x00\x01\x00\x00\x00\x00\x00", 10);
	ck_in_fails(HR_WS_TOO_BIG);
}
END_TEST

/* RFC 6455 8.1: a text message is UTF-8, checked when whole */
START_TEST(test_utf8)
{
	size_t off = 0;

	rx_new(100);
	/* U+00E9 split between two fragments is fine */
	frame_s(&in, 0x01, "caf\xc3");
	frame_s(&in, 0x80, "\xa9");
	ck_message(rd(&off), HR_WS_TEXT, "caf\xc3\xa9", 5);
	/* the same bytes ending a message are not */
	in.len = 0;
	off = 0;
	frame_s(&in, 0x81, "caf\xc3");
	ck_in_fails(HR_WS_INVALID_DATA);
	rx_new(100);
	in.len = 0;
	frame_s(&in, 0x81, "\xc0\xaf");          /* overlong '/' */
	ck_in_fails(HR_WS_INVALID_DATA);
	rx_new(100);
	in.len = 0;
	frame_s(&in, 0x81, "\xed\xa0\x80");      /* a surrogate */
	ck_in_fails(HR_WS_INVALID_DATA);
	/* binary: anything */
	rx_new(100);
	in.len = 0;
	off = 0;
	frame_s(&in, 0x82, "\xc0\xaf");
	ck_message(rd(&off), HR_WS_BINARY, "\xc0\xaf", 2);
}
END_TEST

/* Frames that MUST fail the connection with 1002 (RFC 6455 5.x). */
static const struct {
	const char *name;
	const char *bytes;
	size_t len;
} protocol_errors[] = {
#define B(name, s) { name, s, sizeof(s) - 1 }
	/* 5.1: a client's frames are masked */
	B("unmasked", "\x81\x05Hello"),
	/* 5.2: no extension, so RSV1-3 are 0 */
	B("rsv1", "\xc1\x80\0\0\0\0"),
	B("rsv2", "\xa1\x80\0\0\0\0"),
	B("rsv3", "\x91\x80\0\0\0\0"),
	/* 5.2: unknown opcodes */
	B("op 3", "\x83\x80\0\0\0\0"),
	B("op 7", "\x87\x80\0\0\0\0"),
	B("op 11", "\x8b\x80\0\0\0\0"),
	B("op 15", "\x8f\x80\0\0\0\0"),
	/* 5.5: control frames are not fragmented, carry 125 bytes at most */
	B("ping no fin", "\x09\x80\0\0\0\0"),
	B("close no fin", "\x08\x80\0\0\0\0"),
	B("ping 126", "\x89\xfe\x00\x7e"),
	B("pong 127", "\x8a\xff"),
	/* 5.4: a continuation with no message started */
	B("lone cont", "\x80\x80\0\0\0\0"),
	B("lone cont no fin", "\x00\x80\0\0\0\0"),
	/* 5.4: a new message inside an unfinished one */
	B("text in text", "\x01\x80\0\0\0\0\x81\x80\0\0\0\0"),
	B("binary in text", "\x01\x80\0\0\0\0\x02\x80\0\0\0\0"),
	/* 5.2: the 64-bit length's top bit is 0 */
	B("len top bit", "\x82\xff\x80\0\0\0\0\0\0\x01"),
	/* 5.2: the minimal number of bytes is used */
	B("len 16 for 125", "\x82\xfe\x00\x7d"),
	B("len 64 for 65535", "\x82\xff\0\0\0\0\0\0\xff\xff"),
	/* 5.5.1: a close body is empty or a code of two bytes first */
	B("close 1 byte", "\x88\x81\0\0\0\0\x03"),
#undef B
};

START_TEST(test_protocol_errors)
{
	rx_new(1 << 20);
	raw(&in, protocol_errors[_i].bytes, protocol_errors[_i].len);
	ck_in_fails(HR_WS_PROTOCOL_ERROR);
}
END_TEST

static struct got close_with(uint16_t code, const char *reason)
{
	uint8_t body[125] = { (uint8_t)(code >> 8), (uint8_t)code };
	size_t off = 0;

	rx_new(100);
	in.len = 0;
	memcpy(body + 2, reason, strlen(reason));
	frame(&in, 0x88, body, 2 + strlen(reason));
	return rd(&off);
}

/* RFC 6455 5.5.1: the close is echoed with the peer's code */
START_TEST(test_close_echo)
{
	static const uint16_t valid[] = { 1000, 1001, 1002, 1003, 1007, 1008,
		1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999 };
	static const uint16_t invalid[] = { 0, 1, 999, 1004, 1005, 1006,
		1015, 1016, 1100, 2000, 2999, 5000, 65535 };
	size_t off = 0;
	struct got g;

	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		g = close_with(valid[i], "");
		ck_assert_int_eq(g.ev, HR_WS_CLOSED);
		ck_assert_uint_eq(g.code, valid[i]);
		ck_assert_uint_eq(g.used, 8);
	}
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
		ck_fail(close_with(invalid[i], ""), HR_WS_PROTOCOL_ERROR);
	/* the reason is handed out, and is UTF-8 (7.1.6) */
	g = close_with(1001, "going \xc3\xa0 bed");
	ck_assert_int_eq(g.ev, HR_WS_CLOSED);
	ck_assert_uint_eq(g.code, 1001);
	ck_assert_uint_eq(g.n, 12);
	ck_assert_mem_eq(g.data, "going \xc3\xa0 bed", 12);
	ck_fail(close_with(1000, "bad \xc3"), HR_WS_INVALID_DATA);
	/* no code: answered with 1000; then nothing more is read */
	rx_new(100);
	in.len = 0;
	frame_s(&in, 0x88, "");
	frame_s(&in, 0x81, "late");
	g = rd(&off);
	ck_assert_int_eq(g.ev, HR_WS_CLOSED);
	ck_assert_uint_eq(g.code, HR_WS_NORMAL);
	ck_assert_uint_eq(g.n, 0);
	ck_assert_uint_eq(off, 6);
	g = rd(&off);
	ck_fail(g, HR_WS_NORMAL);
	ck_assert_uint_eq(g.used, 0);
	/* a close between fragments is read too */
	rx_new(100);
	in.len = 0;
	off = 0;
	frame_s(&in, 0x01, "half");
	frame_s(&in, 0x88, "\x03\xe9");
	g = rd(&off);
	ck_assert_int_eq(g.ev, HR_WS_CLOSED);
	ck_assert_uint_eq(g.code, 1001);
	/* echoing it */
	ck_assert_int_eq(hr_ws_close_print(&out, g.code), 0);
	ck_assert_mem_eq(out.b, "\x88\x02\x03\xe9", 4);
}
END_TEST

/* A message's bytes stay valid until the next call, which reuses them;
 * empty messages are messages. */
START_TEST(test_back_to_back)
{
	size_t off = 0;
	struct got g;

	rx_new(100);
	frame_s(&in, 0x81, "first");
	frame_s(&in, 0x81, "second");
	frame_s(&in, 0x01, "th");
	frame_s(&in, 0x80, "ird");
	frame_s(&in, 0x81, "");
	frame_s(&in, 0x82, "");
	g = rd(&off);
	ck_message(g, HR_WS_TEXT, "first", 5);
	ck_assert_uint_eq(g.used, 11);
	ck_message(rd(&off), HR_WS_TEXT, "second", 6);
	ck_message(rd(&off), HR_WS_TEXT, "third", 5);
	ck_message(rd(&off), HR_WS_TEXT, "", 0);
	ck_message(rd(&off), HR_WS_BINARY, "", 0);
	ck_assert_int_eq(rd(&off).ev, HR_WS_AGAIN);
}
END_TEST

/* ---- the opening handshake ---- */

/* A JsSIP (Chrome) upgrade, with its first frame behind it. */
static const char jssip[] =
	"GET / HTTP/1.1\r\n"
	"Host: sip.example.test:8443\r\n"
	"Connection: Upgrade\r\n"
	"Pragma: no-cache\r\n"
	"Cache-Control: no-cache\r\n"
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36\r\n"
	"Upgrade: websocket\r\n"
	"Origin: https://tryit.jssip.net\r\n"
	"Sec-WebSocket-Version: 13\r\n"
	"Accept-Encoding: gzip, deflate, br\r\n"
	"Accept-Language: en-US,en;q=0.9\r\n"
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	"Sec-WebSocket-Extensions: permessage-deflate; "
	"client_max_window_bits\r\n"
	"Sec-WebSocket-Protocol: sip\r\n"
	"\r\n";

static const char switching[] =
	"HTTP/1.1 101 Switching Protocols\r\n"
	"Upgrade: websocket\r\n"
	"Connection: Upgrade\r\n"
	"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
	"Sec-WebSocket-Protocol: sip\r\n";

static int upgrade(const char *req, size_t len, size_t max,
	struct hr_ws_upgrade *u)
{
	return hr_ws_upgrade(req, len, max, "sip", "Herald", u, &out);
}

START_TEST(test_upgrade_jssip)
{
	struct hr_ws_upgrade u;
	struct hr_buf req;

	hr_buf_init(&req, 4096);
	raw(&req, jssip, sizeof(jssip) - 1);
	ck_assert_int_eq(hr_ws_frame_print(&req, HR_WS_TEXT, "x", 1, KEY), 0);
	ck_assert_int_eq(upgrade(req.b, req.len, 4096, &u), 0);
	ck_assert_uint_eq(u.status, 101);
	ck_assert_ptr_null(u.why);
	ck_assert_uint_eq(u.len, sizeof(jssip) - 1);
	/* RFC 6455 1.3's key and accept; no extension offered */
	ck_assert_uint_eq(out.len, sizeof(switching) - 1 + 18);
	ck_assert_mem_eq(out.b, switching, sizeof(switching) - 1);
	ck_assert_mem_eq(out.b + sizeof(switching) - 1,
		"Server: Herald\r\n\r\n", 18);
	/* appended: what was there stays */
	ck_assert_int_eq(hr_ws_upgrade(req.b, req.len, 4096, "sip", NULL, &u,
		&out), 0);
	ck_assert_uint_eq(out.len, 2 * (sizeof(switching) - 1) + 18 + 2);
	ck_assert_mem_eq(out.b + out.len - 2, "\r\n", 2);
	hr_buf_reset(&req);
}
END_TEST

START_TEST(test_upgrade_partial)
{
	struct hr_ws_upgrade u;
	size_t len = sizeof(jssip) - 1;

	for (size_t i = 0; i < len; i++) {
		ck_assert_int_eq(upgrade(jssip, i, 4096, &u), ENODATA);
		ck_assert_uint_eq(out.len, 0);
	}
	/* max bytes without the blank line */
	ck_assert_int_eq(upgrade(jssip, len, len - 1, &u), EMSGSIZE);
	ck_assert_int_eq(upgrade(jssip, 100, 100, &u), EMSGSIZE);
	ck_assert_int_eq(upgrade(jssip, 99, 100, &u), ENODATA);
	ck_assert_uint_eq(out.len, 0);
	ck_assert_int_eq(upgrade(jssip, len, len, &u), 0);
	ck_assert_uint_eq(u.status, 101);
	/* bad arguments */
	ck_assert_int_eq(hr_ws_upgrade(jssip, len, 4096, NULL, NULL, &u,
		&out), EINVAL);
	ck_assert_int_eq(hr_ws_upgrade(jssip, len, 4096, "sip", "a\r\nb", &u,
		&out), EINVAL);
}
END_TEST

/* The headers of a good request, each but `drop` used by build(). */
static const char *const base_hdrs[] = {
	"Host: example.test\r\n",
	"Upgrade: websocket\r\n",
	"Connection: Upgrade\r\n",
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
	"Sec-WebSocket-Version: 13\r\n",
	"Sec-WebSocket-Protocol: sip\r\n",
};

static void build(struct hr_buf *b, const char *line, const char *drop,
	const char *extra)
{
	b->len = 0;
	ck_assert_int_eq(hr_buf_printf(b, "%s\r\n", line), 0);
	for (size_t i = 0; i < sizeof(base_hdrs) / sizeof(base_hdrs[0]);
		i++) {
		if (!drop || strncmp(base_hdrs[i], drop, strlen(drop)))
			ck_assert_int_eq(hr_buf_puts(b, base_hdrs[i]), 0);
	}
	ck_assert_int_eq(hr_buf_printf(b, "%s\r\n", extra), 0);
}

static const struct {
	const char *line, *drop, *extra;
	uint16_t status;
	const char *has;    /* in the response */
} upgrades[] = {
	/* good ones: lists, case, repeated headers */
	{ "GET /ws HTTP/1.1", NULL, "Origin: http://evil.example\r\n", 101,
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" },
	{ "GET / HTTP/1.1", "Connection",
		"connection: keep-alive,  UPGRADE\r\n", 101, NULL },
	{ "GET / HTTP/1.1", "Upgrade", "UPGRADE:\tWebSocket \r\n", 101, NULL },
	{ "GET / HTTP/1.1", "Sec-WebSocket-Protocol",
		"sec-websocket-protocol: foo, sip,bar\r\n", 101,
		"\r\nSec-WebSocket-Protocol: sip\r\n" },
	{ "GET / HTTP/1.1", "Sec-WebSocket-Protocol",
		"Sec-WebSocket-Protocol: foo\r\nSec-WebSocket-Protocol: sip\r\n",
		101, NULL },
	{ "GET / HTTP/1.1", "Connection",
		"Connection: keep-alive\r\nConnection: Upgrade\r\n", 101, NULL },
	{ "GET / HTTP/1.2", NULL, "", 101, NULL },
	{ "GET http://example.test/ HTTP/1.1", NULL, "Content-Length: 0\r\n",
		101, NULL },
	/* RFC 7118 4: the sip subprotocol is required, as spelt */
	{ "GET / HTTP/1.1", "Sec-WebSocket-Protocol", "", 400,
		"sip subprotocol" },
	{ "GET / HTTP/1.1", "Sec-WebSocket-Protocol",
		"Sec-WebSocket-Protocol: SIP\r\n", 400, "sip subprotocol" },
	{ "GET / HTTP/1.1", "Sec-WebSocket-Protocol",
		"Sec-WebSocket-Protocol: sips, xsip\r\n", 400, NULL },
	/* RFC 6455 4.2.2: version 13, else 426 saying so */
	{ "GET / HTTP/1.1", "Sec-WebSocket-Version",
		"Sec-WebSocket-Version: 8\r\n", 426,
		"\r\nSec-WebSocket-Version: 13\r\n" },
	{ "GET / HTTP/1.1", "Sec-WebSocket-Version", "", 426,
		"\r\nUpgrade: websocket\r\n" },
	{ "GET / HTTP/1.1", NULL, "Sec-WebSocket-Version: 13\r\n", 426, NULL },
	/* not an upgrade */
	{ "GET / HTTP/1.1", "Upgrade", "", 426, "\r\nUpgrade: websocket\r\n" },
	{ "GET / HTTP/1.1", "Upgrade", "Upgrade: h2c\r\n", 426, NULL },
	{ "GET / HTTP/1.1", "Connection", "Connection: keep-alive\r\n", 426,
		"Sec-WebSocket-Version: 13\r\n" },
	/* the method and the version */
	{ "POST / HTTP/1.1", NULL, "", 405, "\r\nAllow: GET\r\n" },
	{ "get / HTTP/1.1", NULL, "", 405, NULL },
	{ "GET / HTTP/1.0", NULL, "", 400, "or later" },
	{ "GET / HTTP/2.0", NULL, "", 505, NULL },
	{ "GET / HTTP/1.10", NULL, "", 400, NULL },
	{ "GET / http/1.1", NULL, "", 400, NULL },
	{ "GET /  HTTP/1.1", NULL, "", 400, NULL },
	{ "GET HTTP/1.1", NULL, "", 400, NULL },
	/* Host: one */
	{ "GET / HTTP/1.1", "Host", "", 400, "Host" },
	{ "GET / HTTP/1.1", NULL, "Host: other.test\r\n", 400, "Host" },
	/* RFC 6455 4.1: the key is base64 of 16 bytes, sent once */
	{ "GET / HTTP/1.1", "Sec-WebSocket-Key", "", 400, "Sec-WebSocket-Key" },
	{ "GET / HTTP/1.1", "Sec-WebSocket-Key",
		"Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA\r\n", 400, NULL },
	{ "GET / HTTP/1.1", "Sec-WebSocket-Key",
		"Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAA=\r\n", 400, NULL },
	{ "GET / HTTP/1.1", "Sec-WebSocket-Key",
		"Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n", 400,
		NULL },
	{ "GET / HTTP/1.1", "Sec-WebSocket-Key",
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==\r\n", 400, NULL },
	{ "GET / HTTP/1.1", "Sec-WebSocket-Key",
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j*Q==\r\n", 400, NULL },
	{ "GET / HTTP/1.1", NULL,
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", 400, NULL },
	/* no obs-fold, no space before the colon, no body */
	{ "GET / HTTP/1.1", NULL, "X-Folded: a\r\n b\r\n", 400, NULL },
	{ "GET / HTTP/1.1", NULL, "Bad : x\r\n", 400, NULL },
	{ "GET / HTTP/1.1", NULL, "NoColon\r\n", 400, NULL },
	{ "GET / HTTP/1.1", NULL, "X-Ctl: a\x01z\r\n", 400, NULL },
	{ "GET / HTTP/1.1", NULL, "X-Bare: a\nb\r\n", 400, NULL },
	{ "GET / HTTP/1.1", NULL, "Content-Length: 5\r\n", 400, "body" },
	{ "GET / HTTP/1.1", NULL, "Transfer-Encoding: chunked\r\n", 400,
		"body" },
};

/* The status line, and a refusal's Content-Length, Connection: close
 * and body. */
static void ck_response(const struct hr_ws_upgrade *u)
{
	char line[64];
	const char *body, *cl;

	snprintf(line, sizeof(line), "HTTP/1.1 %u ", u->status);
	ck_assert_int_eq(hr_buf_write(&out, "", 1), 0);    /* a C string */
	ck_assert_int_eq(strncmp(out.b, line, strlen(line)), 0);
	body = strstr(out.b, "\r\n\r\n") + 4;
	if (u->status == 101) {
		ck_assert_ptr_null(u->why);
		ck_assert_str_eq(body, "");
		ck_assert_ptr_null(strstr(out.b, "Extensions"));
		return;
	}
	ck_assert_ptr_nonnull(u->why);
	ck_assert_ptr_nonnull(strstr(out.b, "\r\nConnection: close\r\n"));
	ck_assert_ptr_nonnull(strstr(out.b, "\r\nServer: Herald\r\n"));
	cl = strstr(out.b, "\r\nContent-Length: ");
	ck_assert_ptr_nonnull(cl);
	ck_assert_uint_eq(strtoul(cl + 18, NULL, 10), strlen(body));
	ck_assert_int_eq(strncmp(body, u->why, strlen(u->why)), 0);
}

START_TEST(test_upgrade_table)
{
	struct hr_ws_upgrade u;
	struct hr_buf req;

	hr_buf_init(&req, 4096);
	build(&req, upgrades[_i].line, upgrades[_i].drop, upgrades[_i].extra);
	ck_assert_int_eq(upgrade(req.b, req.len, 4096, &u), 0);
	ck_assert_uint_eq(u.len, req.len);
	ck_assert_msg(u.status == upgrades[_i].status, "%u for:\n%.*s",
		u.status, (int)req.len, req.b);
	ck_response(&u);
	if (upgrades[_i].has)
		ck_assert_msg(strstr(out.b, upgrades[_i].has), "no %s in:\n%s",
			upgrades[_i].has, out.b);
	hr_buf_reset(&req);
}
END_TEST

START_TEST(test_refusal_exact)
{
	static const char req[] = "POST / HTTP/1.1\r\nHost: a\r\n\r\n";
	static const char resp[] = "HTTP/1.1 405 Method Not Allowed\r\n"
		"Allow: GET\r\nConnection: close\r\nContent-Type: text/plain\r\n"
		"Content-Length: 15\r\n\r\nmethod not GET\n";
	struct hr_ws_upgrade u;
	struct hr_buf small;

	ck_assert_int_eq(hr_ws_upgrade(req, sizeof(req) - 1, 4096, "sip",
		NULL, &u, &out), 0);
	ck_assert_uint_eq(u.status, 405);
	ck_assert_str_eq(u.why, "method not GET");
	ck_assert_uint_eq(out.len, sizeof(resp) - 1);
	ck_assert_mem_eq(out.b, resp, sizeof(resp) - 1);
	/* garbage is a 400 too */
	out.len = 0;
	ck_assert_int_eq(upgrade("\x16\x03\x01\r\n\r\n", 7, 4096, &u), 0);
	ck_assert_uint_eq(u.status, 400);
	ck_assert_uint_eq(u.len, 7);
	/* a full resp is left as it was */
	hr_buf_init(&small, 64);
	ck_assert_int_eq(hr_buf_puts(&small, "kept"), 0);
	ck_assert_int_eq(hr_ws_upgrade(jssip, sizeof(jssip) - 1, 4096, "sip",
		NULL, &u, &small), EMSGSIZE);
	ck_assert_uint_eq(small.len, 4);
	hr_buf_reset(&small);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ws");
	TCase *pr = tcase_create("print");
	TCase *rd_tc = tcase_create("read");
	TCase *up = tcase_create("upgrade");

	tcase_add_checked_fixture(pr, setup, teardown);
	tcase_add_test(pr, test_print_rfc_examples);
	tcase_add_test(pr, test_print_refused);
	tcase_add_test(pr, test_close_print);
	suite_add_tcase(s, pr);
	tcase_add_checked_fixture(rd_tc, setup, teardown);
	tcase_add_test(rd_tc, test_alloc);
	tcase_add_test(rd_tc, test_rfc_hello);
	tcase_add_test(rd_tc, test_header_split);
	tcase_add_test(rd_tc, test_byte_at_a_time);
	tcase_add_test(rd_tc, test_fragments_ping);
	tcase_add_test(rd_tc, test_binary_sip);
	tcase_add_test(rd_tc, test_too_big);
	tcase_add_test(rd_tc, test_utf8);
	tcase_add_loop_test(rd_tc, test_protocol_errors, 0,
		sizeof(protocol_errors) / sizeof(protocol_errors[0]));
	tcase_add_test(rd_tc, test_close_echo);
	tcase_add_test(rd_tc, test_back_to_back);
	suite_add_tcase(s, rd_tc);
	tcase_add_checked_fixture(up, setup, teardown);
	tcase_add_test(up, test_upgrade_jssip);
	tcase_add_test(up, test_upgrade_partial);
	tcase_add_loop_test(up, test_upgrade_table, 0,
		sizeof(upgrades) / sizeof(upgrades[0]));
	tcase_add_test(up, test_refusal_exact);
	suite_add_tcase(s, up);
	return hr_check_run(s);
}
