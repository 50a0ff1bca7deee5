/*
 * Fuzz the WebSocket codec. The first byte chooses: odd, the rest is an
 * upgrade request; even, client frames read until they run out, close
 * or fail. Bit 7 picks a small limit (max bytes, max_msg) so that the
 * size checks are reached.
 */
#include <errno.h>
#include <string.h>
#include "fuzz.h"
#include "sip/ws.h"

static bool close_code_ok(uint16_t c)
{
	return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) ||
		(c >= 3000 && c <= 4999);
}

/* A message printed masked reads back the same from a new rx. */
static void message_again(enum hr_ws_op op, const uint8_t *data, size_t n,
	size_t max)
{
	static const uint8_t key[4] = { 1, 2, 3, 4 };
	struct hr_ws_rx *rx2;
	struct hr_buf b;
	const uint8_t *d2;
	enum hr_ws_op op2;
	size_t used, n2;
	uint16_t code;

	hr_buf_init(&b, max + 14);
	FUZZ_CHECK(hr_ws_rx_alloc(&rx2, max) == 0);
	FUZZ_CHECK(hr_ws_frame_print(&b, op, data, n, key) == 0);
	FUZZ_CHECK(hr_ws_rx_read(rx2, (const uint8_t *)b.b, b.len, &used,
		&op2, &d2, &n2, &code) == HR_WS_MESSAGE);
	FUZZ_CHECK(used == b.len && op2 == op && n2 == n);
	FUZZ_CHECK(!n || !memcmp(d2, data, n));
	hr_mem_deref(rx2);
	hr_buf_reset(&b);
}

static void check_event(enum hr_ws_event ev, size_t used, enum hr_ws_op op,
	const uint8_t *data, size_t n, uint16_t code, size_t max)
{
	switch (ev) {
	case HR_WS_AGAIN:
		FUZZ_CHECK(n == 0 && code == 0);
		break;
	case HR_WS_MESSAGE:
		FUZZ_CHECK(used > 0 && data && n <= max);
		FUZZ_CHECK(op == HR_WS_TEXT || op == HR_WS_BINARY);
		FUZZ_CHECK(op != HR_WS_TEXT ||
			hr_utf8_valid((const char *)data, n));
		message_again(op, data, n, max);
		break;
	case HR_WS_PINGED:
	case HR_WS_PONGED:
		FUZZ_CHECK(used > 0 && n <= 125 && (data || !n));
		break;
	case HR_WS_CLOSED:
		FUZZ_CHECK(used > 0 && n <= 123 && close_code_ok(code));
		FUZZ_CHECK(hr_utf8_valid((const char *)data, n));
		break;
	case HR_WS_FAIL:
		FUZZ_CHECK(code == HR_WS_PROTOCOL_ERROR ||
			code == HR_WS_INVALID_DATA || code == HR_WS_TOO_BIG ||
			code == HR_WS_INTERNAL_ERROR);
		break;
	}
}

static void frames(const uint8_t *p, size_t len, size_t max)
{
	enum hr_ws_event ev, last;
	struct hr_ws_rx *rx;
	const uint8_t *data;
	enum hr_ws_op op;
	size_t used, n, off = 0;
	uint16_t code, last_code;

	FUZZ_CHECK(hr_ws_rx_alloc(&rx, max) == 0);
	do {
		ev = hr_ws_rx_read(rx, p + off, len - off, &used, &op, &data,
			&n, &code);
		FUZZ_CHECK(used <= len - off);
		check_event(ev, used, op, data, n, code, max);
		off += used;
	} while (ev != HR_WS_AGAIN && ev != HR_WS_CLOSED && ev != HR_WS_FAIL);
	last = ev;
	last_code = code;
	/* what is left is read the same way again: nothing, or the end */
	ev = hr_ws_rx_read(rx, p + off, len - off, &used, &op, &data, &n,
		&code);
	FUZZ_CHECK(used == 0);
	if (last == HR_WS_AGAIN)
		FUZZ_CHECK(ev == HR_WS_AGAIN);
	else
		FUZZ_CHECK(ev == HR_WS_FAIL && code == last_code);
	hr_mem_deref(rx);
}

/* The Content-Length of a refusal is its body's. */
static void check_refusal(const struct hr_buf *resp)
{
	const char *end, *cl;
	struct hr_pl v;
	uint64_t clen;

	end = memmem(resp->b, resp->len, "\r\n\r\n", 4);
	cl = memmem(resp->b, resp->len, "\r\nContent-Length: ", 18);
	FUZZ_CHECK(end && cl && cl < end);
	v.p = cl + 18;
	v.len = (size_t)((const char *)memchr(v.p, '\r', (size_t)(end - v.p)
		+ 1) - v.p);
	FUZZ_CHECK(hr_pl_u64(&v, 1000, &clen) == 0);
	FUZZ_CHECK(clen == resp->len - (size_t)(end + 4 - resp->b));
}

static void upgrade(const uint8_t *data, size_t len, size_t max)
{
	const char *p = (const char *)data;
	struct hr_ws_upgrade u, u2;
	struct hr_buf resp, resp2;
	char line[32];
	int err;

	hr_buf_init(&resp, 4096);
	hr_buf_init(&resp2, 4096);
	err = hr_ws_upgrade(p, len, max, "sip", "Herald", &u, &resp);
	if (err) {
		FUZZ_CHECK(err == (len >= max ? EMSGSIZE : ENODATA));
		FUZZ_CHECK(resp.len == 0);
		goto out;
	}
	FUZZ_CHECK(u.len >= 4 && u.len <= len && u.len <= max);
	FUZZ_CHECK(!memcmp(p + u.len - 4, "\r\n\r\n", 4));
	FUZZ_CHECK(u.status == 101 || u.status == 400 || u.status == 405 ||
		u.status == 426 || u.status == 505);
	FUZZ_CHECK((u.status == 101) == !u.why);
	snprintf(line, sizeof(line), "HTTP/1.1 %u ", u.status);
	FUZZ_CHECK(resp.len > strlen(line) &&
		!memcmp(resp.b, line, strlen(line)));
	if (u.status == 101)
		FUZZ_CHECK(!memcmp(resp.b + resp.len - 4, "\r\n\r\n", 4));
	else
		check_refusal(&resp);
	/* the request alone says the same; a byte less is not there yet */
	FUZZ_CHECK(hr_ws_upgrade(p, u.len, max, "sip", "Herald", &u2,
		&resp2) == 0);
	FUZZ_CHECK(u2.len == u.len && u2.status == u.status);
	FUZZ_CHECK(resp2.len == resp.len && !memcmp(resp2.b, resp.b,
		resp.len));
	FUZZ_CHECK(hr_ws_upgrade(p, u.len - 1, max, "sip", "Herald", &u2,
		&resp2) == ENODATA);
out:
	hr_buf_reset(&resp);
	hr_buf_reset(&resp2);
}

void fuzz_one(const uint8_t *data, size_t size)
{
	bool small;

	if (!size)
		return;
	small = data[0] & 0x80;
	if (data[0] & 1)
		upgrade(data + 1, size - 1, small ? 128 : 8192);
	else
		frames(data + 1, size - 1, small ? 64 : 65536);
}
