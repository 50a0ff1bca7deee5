/*
 * WebSocket codec (RFC 6455), the server side SIP over WebSocket (RFC
 * 7118) needs: the opening handshake, frames in and out. Written here
 * rather than taken from libwebsockets (it takes over the event loop) or
 * wslay (its event API owns the I/O callbacks and allocates per message,
 * and it does not check UTF-8): what SIP needs is small, and the bytes
 * stay in the connection's evbuffer until a frame is whole.
 */
#include <errno.h>
#include <string.h>
#include <openssl/evp.h>
#include "ws.h"

/* RFC 6455 1.3: appended to the client's key before hashing */
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_KEY_LEN 24        /* base64 of 16 bytes */
#define WS_ACCEPT_LEN 28     /* base64 of a SHA-1 digest */
#define WS_CTL_MAX 125       /* RFC 6455 5.5: control frame payload */

/* ---- the opening handshake ---- */

/* What the request said, as far as the handshake cares. */
struct req {
	struct hr_pl method;
	struct hr_pl key;
	unsigned major, minor;
	unsigned hosts, keys, versions;
	bool upgrade, connection, version13, protocol, body;
	const char *protocol_name;
};

struct refusal {
	uint16_t status;
	const char *why;
};

static const struct refusal REFUSE_SYNTAX = { 400, "malformed request" };

static bool is_tchar(unsigned char c)
{
	/* RFC 9110 5.6.2 */
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		(c >= 'A' && c <= 'Z') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token(const struct hr_pl *pl)
{
	for (size_t i = 0; i < pl->len; i++) {
		if (!is_tchar((unsigned char)pl->p[i]))
			return false;
	}
	return pl->len > 0;
}

/* RFC 9110 5.5: field-value is VCHAR, SP, HTAB and obs-text */
static bool is_field_value(const struct hr_pl *pl)
{
	for (size_t i = 0; i < pl->len; i++) {
		unsigned char c = (unsigned char)pl->p[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

/* Split pl at the first c: head before it, pl after it. False (pl left
 * whole in head) when there is no c. */
static bool split(struct hr_pl *pl, char c, struct hr_pl *head)
{
	const char *at = hr_pl_chr(pl, c);

	head->p = pl->p;
	if (!at) {
		head->len = pl->len;
		pl->p += pl->len;
		pl->len = 0;
		return false;
	}
	head->len = (size_t)(at - pl->p);
	pl->len -= head->len + 1;
	pl->p = at + 1;
	return true;
}

/* True when the comma list (RFC 9110 5.6.1) has an element equal to
 * name, ignoring ASCII case or not. */
static bool list_has(struct hr_pl list, const char *name, bool icase)
{
	struct hr_pl el;
	bool more;

	do {
		more = split(&list, ',', &el);
		hr_pl_trim(&el);
		if (icase ? !hr_pl_strcasecmp(&el, name) :
			!hr_pl_strcmp(&el, name))
			return true;
	} while (more);
	return false;
}

/* "HTTP/" DIGIT "." DIGIT (RFC 9112 2.3) */
static int version_decode(const struct hr_pl *v, struct req *r)
{
	if (v->len != 8 || memcmp(v->p, "HTTP/", 5) || v->p[6] != '.' ||
		v->p[5] < '0' || v->p[5] > '9' || v->p[7] < '0' ||
		v->p[7] > '9')
		return EBADMSG;
	r->major = (unsigned)(v->p[5] - '0');
	r->minor = (unsigned)(v->p[7] - '0');
	return 0;
}

/* method SP request-target SP HTTP-version (RFC 9112 3); the target is
 * not looked at: RFC 7118 names no resource. */
static int request_line(struct hr_pl line, struct req *r)
{
	struct hr_pl target;

	if (!split(&line, ' ', &r->method) || !is_token(&r->method) ||
		!split(&line, ' ', &target) || !target.len ||
		!is_field_value(&target) || hr_pl_chr(&target, '\t'))
		return EBADMSG;
	return version_decode(&line, r);
}

/* base64 of exactly 16 bytes: 22 characters, the last with its low four
 * bits zero, then "==" (RFC 4648 4, 3.5) */
static bool key_valid(const struct hr_pl *key)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		"0123456789+/";
	const char *at = NULL;

	if (key->len != WS_KEY_LEN || memcmp(key->p + 22, "==", 2))
		return false;
	for (size_t i = 0; i < 22; i++) {
		at = key->p[i] ? strchr(b64, key->p[i]) : NULL;
		if (!at)
			return false;
	}
	return at && ((at - b64) & 0x0f) == 0;
}

static void header(const struct hr_pl *name, const struct hr_pl *val,
	struct req *r)
{
	if (!hr_pl_strcasecmp(name, "Host")) {
		r->hosts++;
	} else if (!hr_pl_strcasecmp(name, "Upgrade")) {
		r->upgrade |= list_has(*val, "websocket", true);
	} else if (!hr_pl_strcasecmp(name, "Connection")) {
		r->connection |= list_has(*val, "upgrade", true);
	} else if (!hr_pl_strcasecmp(name, "Sec-WebSocket-Version")) {
		r->versions++;
		r->version13 = !hr_pl_strcmp(val, "13");
	} else if (!hr_pl_strcasecmp(name, "Sec-WebSocket-Key")) {
		r->keys++;
		r->key = *val;
	} else if (!hr_pl_strcasecmp(name, "Sec-WebSocket-Protocol")) {
		/* RFC 6455 4.1: subprotocol names are compared as given */
		r->protocol |= list_has(*val, r->protocol_name, false);
	} else if (!hr_pl_strcasecmp(name, "Content-Length")) {
		r->body |= hr_pl_strcmp(val, "0") != 0;
	} else if (!hr_pl_strcasecmp(name, "Transfer-Encoding")) {
		r->body = true;
	}
	/* Origin is not checked (RFC 6455 10.2 leaves it to the server):
	 * an operator restricts origins in front of Herald, and SIP
	 * digest authentication does not ride on browser cookies.
	 * Sec-WebSocket-Extensions is ignored: none is offered. */
}

/* name ":" OWS value OWS (RFC 9112 5). A line starting with white space
 * is obs-fold, refused (5.2 allows it); so is white space before the
 * colon (5.1: MUST reject). */
static int header_line(struct hr_pl line, struct req *r)
{
	struct hr_pl name;

	if (!split(&line, ':', &name) || !is_token(&name))
		return EBADMSG;
	hr_pl_trim(&line);
	if (!is_field_value(&line))
		return EBADMSG;
	header(&name, &line, r);
	return 0;
}

/* The request's lines in head, CRLF after each (the blank line not in). */
static int request_decode(struct hr_pl head, struct req *r)
{
	struct hr_pl line;
	const char *end;
	int err;

	end = memmem(head.p, head.len, "\r\n", 2);
	line = (struct hr_pl){ head.p, (size_t)(end - head.p) };
	err = request_line(line, r);
	head.p = end + 2;
	head.len -= line.len + 2;
	while (!err && head.len) {
		end = memmem(head.p, head.len, "\r\n", 2);
		line = (struct hr_pl){ head.p, (size_t)(end - head.p) };
		err = header_line(line, r);
		head.p = end + 2;
		head.len -= line.len + 2;
	}
	return err;
}

/* RFC 6455 4.2.1, in the order a client is best told about */
static struct refusal request_check(const struct req *r)
{
	if (hr_pl_strcmp(&r->method, "GET"))
		return (struct refusal){ 405, "method not GET" };
	if (r->major != 1)
		return (struct refusal){ 505, "HTTP version not 1.1" };
	if (r->minor < 1)
		return (struct refusal){ 400, "HTTP/1.1 or later required" };
	/* RFC 9112 3.2: 400 when Host is missing or repeated */
	if (r->hosts != 1)
		return (struct refusal){ 400, "Host missing or repeated" };
	if (r->body)
		return (struct refusal){ 400, "a body in the upgrade" };
	if (!r->upgrade || !r->connection)
		return (struct refusal){ 426,
			"not an upgrade to websocket" };
	/* RFC 6455 4.2.2: 426 with the versions served */
	if (r->versions != 1 || !r->version13)
		return (struct refusal){ 426,
			"Sec-WebSocket-Version not 13" };
	if (r->keys != 1 || !key_valid(&r->key))
		return (struct refusal){ 400,
			"Sec-WebSocket-Key not one base64 16-byte nonce" };
	/* RFC 7118 4: the "sip" subprotocol is required */
	if (!r->protocol)
		return (struct refusal){ 400,
			"the sip subprotocol is required" };
	return (struct refusal){ 101, NULL };
}

/* base64(SHA-1(key + GUID)), RFC 6455 4.2.2 */
static int accept_make(const struct hr_pl *key, char out[WS_ACCEPT_LEN + 1])
{
	unsigned char in[WS_KEY_LEN + sizeof(WS_GUID) - 1];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;

	memcpy(in, key->p, WS_KEY_LEN);
	memcpy(in + WS_KEY_LEN, WS_GUID, sizeof(WS_GUID) - 1);
	if (!EVP_Digest(in, sizeof(in), md, &mdlen, EVP_sha1(), NULL) ||
		mdlen != 20)
		return ENOMEM;
	EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
	return 0;
}

static const char *reason(uint16_t status)
{
	switch (status) {
	case 101: return "Switching Protocols";
	case 405: return "Method Not Allowed";
	case 426: return "Upgrade Required";
	case 505: return "HTTP Version Not Supported";
	default: return "Bad Request";
	}
}

static int switching_print(struct hr_buf *resp, const struct req *r,
	const char *server)
{
	char acc[WS_ACCEPT_LEN + 1];
	int err;

	err = accept_make(&r->key, acc);
	if (err)
		return err;
	return hr_buf_printf(resp, "HTTP/1.1 101 Switching Protocols\r\n"
		"Upgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: %s\r\n"
		"%s%s%s\r\n", acc, r->protocol_name,
		server ? "Server: " : "", server ? server : "",
		server ? "\r\n" : "");
}

static int refusal_print(struct hr_buf *resp, struct refusal f,
	const char *server)
{
	const char *extra = "";

	if (f.status == 405)
		extra = "Allow: GET\r\n";
	else if (f.status == 426)
		/* RFC 9110 15.5.22: a 426 MUST send Upgrade */
		extra = "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n";
	return hr_buf_printf(resp, "HTTP/1.1 %u %s\r\n%s%s%s%s"
		"Connection: close\r\nContent-Type: text/plain\r\n"
		"Content-Length: %zu\r\n\r\n%s\n", f.status, reason(f.status),
		extra, server ? "Server: " : "", server ? server : "",
		server ? "\r\n" : "", strlen(f.why) + 1, f.why);
}

int hr_ws_upgrade(const char *p, size_t len, size_t max, const char *protocol,
	const char *server, struct hr_ws_upgrade *u, struct hr_buf *resp)
{
	struct req r = { .protocol_name = protocol };
	struct refusal f;
	const char *end;
	size_t was = resp->len;
	int err;

	memset(u, 0, sizeof(*u));
	if (!protocol || (server && strpbrk(server, "\r\n")))
		return EINVAL;
	end = memmem(p, len < max ? len : max, "\r\n\r\n", 4);
	if (!end)
		return len >= max ? EMSGSIZE : ENODATA;
	u->len = (size_t)(end - p) + 4;
	f = REFUSE_SYNTAX;
	if (!request_decode((struct hr_pl){ p, u->len - 2 }, &r))
		f = request_check(&r);
	u->status = f.status;
	u->why = f.why;
	if (f.status == 101)
		err = switching_print(resp, &r, server);
	else
		err = refusal_print(resp, f, server);
	if (err)
		resp->len = was;
	return err;
}

/* ---- receiving ---- */

struct hr_ws_rx {
	struct hr_buf msg;        /* the message being received, unmasked;
				   * kept for the next one */
	enum hr_ws_op op;         /* of that message; CONT: none started */
	bool delivered;           /* msg was handed out: empty it first */
	uint16_t code;            /* after CLOSED or FAIL: the code; else 0 */
	uint8_t ctl[WS_CTL_MAX];  /* a control frame's payload, unmasked */
};

/* A frame's header, as far as the bytes went. */
struct frame {
	bool fin;
	enum hr_ws_op op;
	size_t hlen;              /* header bytes, mask key included */
	uint64_t plen;
	uint8_t key[4];
};

static void rx_destroy(void *data)
{
	struct hr_ws_rx *rx = data;

	hr_buf_reset(&rx->msg);
}

int hr_ws_rx_alloc(struct hr_ws_rx **rxp, size_t max_msg)
{
	struct hr_ws_rx *rx;

	if (!max_msg)
		return EINVAL;
	rx = hr_mem_zalloc(sizeof(*rx), rx_destroy);
	if (!rx)
		return ENOMEM;
	hr_buf_init(&rx->msg, max_msg);
	rx->op = HR_WS_CONT;
	*rxp = rx;
	return 0;
}

static bool is_control(enum hr_ws_op op)
{
	return op >= HR_WS_CLOSE;
}

/* RFC 6455 5.2: the first byte, alone. 0 or the code to fail with. */
static uint16_t first_byte(const struct hr_ws_rx *rx, uint8_t b,
	struct frame *f)
{
	f->fin = b & 0x80;
	f->op = (enum hr_ws_op)(b & 0x0f);
	/* RSV1-3 MUST be 0 unless an extension says otherwise: none does */
	if (b & 0x70)
		return HR_WS_PROTOCOL_ERROR;
	switch (f->op) {
	case HR_WS_CONT:
		/* 5.4: a continuation belongs to a message started */
		return rx->op == HR_WS_CONT ? HR_WS_PROTOCOL_ERROR : 0;
	case HR_WS_TEXT:
	case HR_WS_BINARY:
		/* 5.4: fragments of messages are not interleaved */
		return rx->op != HR_WS_CONT ? HR_WS_PROTOCOL_ERROR : 0;
	case HR_WS_CLOSE:
	case HR_WS_PING:
	case HR_WS_PONG:
		/* 5.5: control frames are not fragmented */
		return f->fin ? 0 : HR_WS_PROTOCOL_ERROR;
	default:
		/* 5.2: an unknown opcode MUST fail the connection */
		return HR_WS_PROTOCOL_ERROR;
	}
}

static uint64_t be_read(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* The length and mask key after the first byte. 0 with f->hlen set, or
 * ENODATA, or *code set. */
static int length_decode(const struct hr_ws_rx *rx, const uint8_t *p,
	size_t len, struct frame *f, uint16_t *code)
{
	size_t ext;

	/* 5.1: a server MUST close on an unmasked client frame */
	if (!(p[1] & 0x80) || (is_control(f->op) && (p[1] & 0x7f) > WS_CTL_MAX))
		goto proto;
	f->plen = p[1] & 0x7f;
	ext = f->plen == 126 ? 2 : f->plen == 127 ? 8 : 0;
	if (len < 2 + ext)
		return ENODATA;
	if (ext)
		f->plen = be_read(p + 2, ext);
	/* 5.2: the most significant bit MUST be 0; the minimal number of
	 * bytes MUST be used */
	if ((ext == 8 && (f->plen >> 63 || f->plen <= 0xffff)) ||
		(ext == 2 && f->plen < 126))
		goto proto;
	if (!is_control(f->op) && f->plen > rx->msg.cap - rx->msg.len) {
		*code = HR_WS_TOO_BIG;
		return EMSGSIZE;
	}
	f->hlen = 2 + ext + 4;
	if (len < f->hlen)
		return ENODATA;
	memcpy(f->key, p + 2 + ext, 4);
	return 0;
proto:
	*code = HR_WS_PROTOCOL_ERROR;
	return EPROTO;
}

/* The header of the frame at p: 0, ENODATA, or an error with *code. */
static int frame_decode(const struct hr_ws_rx *rx, const uint8_t *p,
	size_t len, struct frame *f, uint16_t *code)
{
	if (!len)
		return ENODATA;
	*code = first_byte(rx, p[0], f);
	if (*code)
		return EPROTO;
	if (len < 2)
		return ENODATA;
	return length_decode(rx, p, len, f, code);
}

static void unmask(uint8_t *dst, const uint8_t *src, size_t n,
	const uint8_t key[4])
{
	for (size_t i = 0; i < n; i++)
		dst[i] = src[i] ^ key[i & 3];
}

/* RFC 6455 7.4: the codes a peer may send (1012-1014 since registered
 * with IANA; 1005, 1006 and 1015 are never sent) */
static bool code_valid(uint16_t c)
{
	return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) ||
		(c >= 3000 && c <= 4999);
}

/* 5.5.1: the body is empty, or a code and a UTF-8 reason (7.1.6) */
static enum hr_ws_event close_read(struct hr_ws_rx *rx, size_t n,
	const uint8_t **data, size_t *len)
{
	uint16_t c = HR_WS_NORMAL;

	*data = rx->ctl + 2;
	*len = n > 2 ? n - 2 : 0;
	if (n == 1)
		c = 0;
	else if (n >= 2)
		c = (uint16_t)be_read(rx->ctl, 2);
	if (!code_valid(c)) {
		rx->code = HR_WS_PROTOCOL_ERROR;
		return HR_WS_FAIL;
	}
	if (!hr_utf8_valid((const char *)*data, *len)) {
		rx->code = HR_WS_INVALID_DATA;
		return HR_WS_FAIL;
	}
	/* no code: answer 1000 (1005 is never sent, 7.4.1) */
	rx->code = c;
	return HR_WS_CLOSED;
}

static enum hr_ws_event control_read(struct hr_ws_rx *rx,
	const struct frame *f, const uint8_t *payload, const uint8_t **data,
	size_t *n)
{
	unmask(rx->ctl, payload, (size_t)f->plen, f->key);
	if (f->op == HR_WS_CLOSE)
		return close_read(rx, (size_t)f->plen, data, n);
	*data = rx->ctl;
	*n = (size_t)f->plen;
	return f->op == HR_WS_PING ? HR_WS_PINGED : HR_WS_PONGED;
}

/* A data frame into rx->msg; HR_WS_AGAIN until the message is whole. */
static enum hr_ws_event data_read(struct hr_ws_rx *rx, const struct frame *f,
	const uint8_t *payload, enum hr_ws_op *op, const uint8_t **data,
	size_t *n)
{
	size_t at = rx->msg.len;
	const uint8_t *msg;

	/* room checked against the cap in length_decode */
	if (hr_buf_reserve(&rx->msg, (size_t)f->plen)) {
		rx->code = HR_WS_INTERNAL_ERROR;
		return HR_WS_FAIL;
	}
	if (f->plen)
		unmask((uint8_t *)rx->msg.b + at, payload, (size_t)f->plen,
			f->key);
	rx->msg.len += (size_t)f->plen;
	if (f->op != HR_WS_CONT)
		rx->op = f->op;
	if (!f->fin)
		return HR_WS_AGAIN;
	/* an empty message may have no storage: never hand out NULL */
	msg = rx->msg.b ? (const uint8_t *)rx->msg.b : rx->ctl;
	/* 8.1: a text message is UTF-8, else fail with 1007 */
	if (rx->op == HR_WS_TEXT &&
		!hr_utf8_valid((const char *)msg, rx->msg.len)) {
		rx->code = HR_WS_INVALID_DATA;
		return HR_WS_FAIL;
	}
	*op = rx->op;
	*data = msg;
	*n = rx->msg.len;
	rx->op = HR_WS_CONT;
	rx->delivered = true;
	return HR_WS_MESSAGE;
}

/* One whole frame at p (f decoded, its payload there): its event. */
static enum hr_ws_event frame_read(struct hr_ws_rx *rx, const struct frame *f,
	const uint8_t *p, enum hr_ws_op *op, const uint8_t **data, size_t *n)
{
	*op = f->op;
	if (is_control(f->op))
		return control_read(rx, f, p + f->hlen, data, n);
	return data_read(rx, f, p + f->hlen, op, data, n);
}

enum hr_ws_event hr_ws_rx_read(struct hr_ws_rx *rx, const uint8_t *p,
	size_t len, size_t *used, enum hr_ws_op *op, const uint8_t **data,
	size_t *n, uint16_t *code)
{
	enum hr_ws_event ev = HR_WS_AGAIN;
	struct frame f;

	*used = 0;
	*op = HR_WS_CONT;
	*data = NULL;
	*n = 0;
	*code = rx->code;
	if (rx->code)
		return HR_WS_FAIL;
	if (rx->delivered) {
		rx->msg.len = 0;
		rx->delivered = false;
	}
	if (!len)
		return HR_WS_AGAIN;
	while (ev == HR_WS_AGAIN) {
		int err = frame_decode(rx, p + *used, len - *used, &f,
			&rx->code);

		if (err == ENODATA || (!err && f.plen > len - *used - f.hlen))
			break;
		if (err)
			ev = HR_WS_FAIL;
		else
			ev = frame_read(rx, &f, p + *used, op, data, n);
		if (ev != HR_WS_FAIL)
			*used += f.hlen + (size_t)f.plen;
	}
	*code = rx->code;
	return ev;
}

/* ---- sending ---- */

/* The header of a frame with FIN set: its length in hdr */
static size_t header_print(uint8_t hdr[14], enum hr_ws_op op, size_t n,
	const uint8_t key[4])
{
	size_t h = 2, ext = n < 126 ? 0 : n <= 0xffff ? 2 : 8;
	uint64_t v = n;

	hdr[0] = (uint8_t)(0x80 | op);
	hdr[1] = (uint8_t)((key ? 0x80 : 0) |
		(ext == 0 ? n : ext == 2 ? 126 : 127));
	for (size_t i = ext; i > 0; i--, v >>= 8)
		hdr[1 + i] = (uint8_t)(v & 0xff);
	h += ext;
	if (key) {
		memcpy(hdr + h, key, 4);
		h += 4;
	}
	return h;
}

int hr_ws_frame_print(struct hr_buf *buf, enum hr_ws_op op, const void *p,
	size_t n, const uint8_t key[4])
{
	uint8_t hdr[14];
	size_t h;
	int err;

	if ((op != HR_WS_TEXT && op != HR_WS_BINARY && op != HR_WS_CLOSE &&
		op != HR_WS_PING && op != HR_WS_PONG) ||
		(is_control(op) && n > WS_CTL_MAX))
		return EINVAL;
	h = header_print(hdr, op, n, key);
	if (n > SIZE_MAX - h)
		return EMSGSIZE;
	err = hr_buf_reserve(buf, h + n);
	if (err)
		return err;
	memcpy(buf->b + buf->len, hdr, h);
	if (key)
		unmask((uint8_t *)buf->b + buf->len + h, p, n, key);
	else if (n)
		memcpy(buf->b + buf->len + h, p, n);
	buf->len += h + n;
	return 0;
}

int hr_ws_close_print(struct hr_buf *buf, uint16_t code)
{
	uint8_t body[2] = { (uint8_t)(code >> 8), (uint8_t)code };

	if (code && !code_valid(code))
		return EINVAL;
	return hr_ws_frame_print(buf, HR_WS_CLOSE, body, code ? 2 : 0, NULL);
}
