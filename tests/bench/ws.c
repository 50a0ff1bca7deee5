/*
 * SIP over WebSocket (RFC 7118), the client side, for ws and wss: the
 * opening handshake (RFC 6455 4.1) before the clock starts, then one SIP
 * message a text frame out, masked (RFC 6455 5.3: a client masks every
 * frame), and frames in, unmasked, put together across reads and, when
 * fragmented, across frames. PINGs get their PONG; a CLOSE ends the run
 * as a closed TCP connection does.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include "stream.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  /* RFC 6455 1.3 */
#define WS_KEY_LEN 24           /* base64 of 16 bytes */
#define WS_ACCEPT_LEN 28        /* base64 of a SHA-1 digest */
#define WS_RESP_MAX 8192        /* the 101's header, at most */
#define WS_CTL_MAX 125          /* RFC 6455 5.5 */
/* Every message we send is 126..65535 bytes but the odd ACK: its header
 * is 2 + 2 (length) + 4 (mask) bytes, room kept before it. */
#define WS_HEAD 8

_Static_assert(BENCH_MAX_MSG <= 65535, "a 16-bit WebSocket length");

enum ws_op {
	WS_CONT = 0x0,
	WS_TEXT = 0x1,
	WS_BINARY = 0x2,
	WS_CLOSE = 0x8,
	WS_PING = 0x9,
	WS_PONG = 0xa,
};

/* ---- masking keys ---- */

/*
 * RFC 6455 10.3: keys must be unpredictable, from a strong source: they
 * come from OpenSSL's DRBG, 1024 of them at a time (one call per key
 * would cost more than the masking).
 */
static struct {
	uint8_t b[4096];
	size_t off;
	bool filled;
} keys;

static void mask_key(uint8_t key[4])
{
	if (!keys.filled || keys.off == sizeof(keys.b)) {
		/* RAND_bytes fails only without entropy at all */
		if (RAND_bytes(keys.b, sizeof(keys.b)) != 1)
			abort();
		keys.off = 0;
		keys.filled = true;
	}
	memcpy(key, keys.b + keys.off, 4);
	keys.off += 4;
}

static void mask(uint8_t *p, size_t len, const uint8_t key[4])
{
	uint64_t k8, v;
	size_t i = 0;

	memcpy(&k8, key, 4);
	memcpy((char *)&k8 + 4, key, 4);
	for (; i + 8 <= len; i += 8) {
		memcpy(&v, p + i, 8);
		v ^= k8;
		memcpy(p + i, &v, 8);
	}
	for (; i < len; i++)
		p[i] ^= key[i & 3];
}

/* ---- out ---- */

/* The message at msg becomes a masked text frame starting WS_HEAD
 * bytes before it. */
static size_t ws_seal(struct stream_conn *c, char *msg, size_t len)
{
	uint8_t *f = (uint8_t *)msg - WS_HEAD, *payload;
	size_t h;

	f[0] = 0x80 | WS_TEXT;          /* FIN: one frame a message */
	if (len < 126) {
		/* RFC 6455 5.2: the length in the fewest bytes */
		f[1] = 0x80 | (uint8_t)len;
		h = 2;
		memmove(f + h + 4, msg, len);
	} else {
		f[1] = 0x80 | 126;
		f[2] = (uint8_t)(len >> 8);
		f[3] = (uint8_t)len;
		h = 4;
	}
	mask_key(f + h);
	payload = f + h + 4;
	mask(payload, len, f + h);
	return h + 4 + len;
}

/* Queue a control frame (FIN, payload up to 125 bytes): 0 or ENOBUFS. */
static int ws_control(struct bench *b, struct stream_conn *c, enum ws_op op,
	const char *p, size_t len)
{
	uint8_t *f;

	f = (uint8_t *)bench_stream_room(b, c, 6 + len);
	if (!f)
		return ENOBUFS;
	f[0] = 0x80 | op;
	f[1] = 0x80 | (uint8_t)len;
	mask_key(f + 2);
	memcpy(f + 6, p, len);
	mask(f + 6, len, f + 2);
	bench_stream_queue(c, 6 + len);
	return 0;
}

/* RFC 6455 7.1.2: a client starts the closing handshake; 1000: done */
static void ws_bye(struct bench *b, struct stream_conn *c)
{
	static const char normal[2] = { 0x03, (char)0xe8 };

	(void)ws_control(b, c, WS_CLOSE, normal, sizeof(normal));
}

/* ---- in ---- */

static void deliver(struct bench *b, struct stream_conn *c, const char *p,
	size_t len)
{
	size_t i;

	/* a message of CRLFs is a keep-alive's answer (RFC 7118 and RFC
	 * 5626 3.5.1, as SIP.js sends them), not SIP */
	for (i = 0; i < len && (p[i] == '\r' || p[i] == '\n'); i++)
		;
	if (i < len)
		bench_recv(b, c->idx, p, len);
}

/* A fragment of a data message: the message once its last one is in. */
static int frag_add(struct bench *b, struct stream_conn *c, const char *p,
	size_t len, bool fin)
{
	if (!c->frag) {
		c->frag = malloc(STREAM_RX_CAP);
		if (!c->frag)
			return ENOMEM;
	}
	if (len > STREAM_RX_CAP - c->fraglen)
		return EMSGSIZE;
	memcpy(c->frag + c->fraglen, p, len);
	c->fraglen += len;
	if (!fin)
		return 0;
	c->in_frag = false;
	deliver(b, c, c->frag, c->fraglen);
	c->fraglen = 0;
	return 0;
}

static int ws_frame(struct bench *b, struct stream_conn *c, enum ws_op op,
	bool fin, const char *p, size_t len)
{
	switch (op) {
	case WS_TEXT:
	case WS_BINARY:
		/* RFC 6455 5.4: data messages do not interleave */
		if (c->in_frag)
			return EPROTO;
		if (fin) {
			deliver(b, c, p, len);
			return 0;
		}
		c->in_frag = true;
		c->fraglen = 0;
		return frag_add(b, c, p, len, false);
	case WS_CONT:
		return c->in_frag ? frag_add(b, c, p, len, fin) : EPROTO;
	case WS_PING:
		/* RFC 6455 5.5.3: the PONG carries the PING's payload */
		return ws_control(b, c, WS_PONG, p, len);
	case WS_PONG:
		return 0;
	case WS_CLOSE:
		return ECONNRESET;
	default:
		return EPROTO;
	}
}

/*
 * One frame's header at f (avail bytes there): its length into *hlen and
 * the payload's into *plen; ENODATA when not all of it is there, EPROTO
 * or EMSGSIZE when it cannot be taken.
 */
static int frame_head(const uint8_t *f, size_t avail, size_t *hlen,
	uint64_t *plen)
{
	uint64_t n;
	int i;

	if (avail < 2)
		return ENODATA;
	/* no extension was agreed: no reserved bit may be set (5.2); a
	 * server must not mask (5.1) */
	if ((f[0] & 0x70) || (f[1] & 0x80))
		return EPROTO;
	n = f[1] & 0x7f;
	*hlen = 2;
	if (n == 126) {
		*hlen = 4;
		if (avail < 4)
			return ENODATA;
		n = (uint64_t)f[2] << 8 | f[3];
	} else if (n == 127) {
		*hlen = 10;
		if (avail < 10)
			return ENODATA;
		for (n = 0, i = 2; i < 10; i++)
			n = n << 8 | f[i];
	}
	/* control frames: FIN and 125 bytes at most (5.5) */
	if ((f[0] & 0x08) && (!(f[0] & 0x80) || n > WS_CTL_MAX))
		return EPROTO;
	if (n > STREAM_RX_CAP - *hlen)
		return EMSGSIZE;
	*plen = n;
	return avail - *hlen < n ? ENODATA : 0;
}

static int ws_decode(struct bench *b, struct stream_conn *c)
{
	const uint8_t *f;
	size_t off = 0, hlen;
	uint64_t plen;
	int err;

	for (;;) {
		f = (const uint8_t *)c->rx + off;
		err = frame_head(f, c->rxlen - off, &hlen, &plen);
		if (!err)
			err = ws_frame(b, c, (enum ws_op)(f[0] & 0x0f),
				f[0] & 0x80, (const char *)f + hlen,
				(size_t)plen);
		if (err)
			break;
		off += hlen + (size_t)plen;
	}
	if (off)
		memmove(c->rx, c->rx + off, c->rxlen - off);
	c->rxlen -= off;
	if (err == EPROTO)
		bench_err("ws: a frame from the server breaks RFC 6455");
	return err == ENODATA ? 0 : err;
}

/* ---- the opening handshake ---- */

/* base64 of n bytes into out (4 * ((n + 2) / 3) + 1 bytes). */
static void b64(char *out, const uint8_t *p, size_t n)
{
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
}

/* RFC 6455 4.2.2: base64(SHA-1(key GUID)) */
static void accept_of(char out[WS_ACCEPT_LEN + 1], const char *key)
{
	char in[WS_KEY_LEN + sizeof(WS_GUID)];
	uint8_t md[SHA_DIGEST_LENGTH];

	snprintf(in, sizeof(in), "%s%s", key, WS_GUID);
	SHA1((const uint8_t *)in, strlen(in), md);
	b64(out, md, sizeof(md));
}

/* Does the comma list val hold token (any case)? */
static bool list_has(const char *val, size_t len, const char *token)
{
	size_t tl = strlen(token), i = 0, j;

	while (i < len) {
		while (i < len && (val[i] == ' ' || val[i] == '\t' ||
			val[i] == ','))
			i++;
		for (j = i; j < len && val[j] != ','; j++)
			;
		while (j > i && (val[j - 1] == ' ' || val[j - 1] == '\t'))
			j--;
		if (j - i == tl && strncasecmp(val + i, token, tl) == 0)
			return true;
		while (i < len && val[i] != ',')
			i++;
	}
	return false;
}

struct upgrade {
	bool upgrade, connection, accept, protocol, extensions;
};

static void resp_header(struct upgrade *u, const char *name, size_t nlen,
	const char *val, size_t vlen, const char *want)
{
#define IS(n) (nlen == sizeof(n) - 1 && strncasecmp(name, n, nlen) == 0)
	if (IS("Upgrade"))
		u->upgrade = list_has(val, vlen, "websocket");
	else if (IS("Connection"))
		u->connection = list_has(val, vlen, "upgrade");
	else if (IS("Sec-WebSocket-Accept"))
		u->accept = vlen == WS_ACCEPT_LEN &&
			memcmp(val, want, vlen) == 0;
	else if (IS("Sec-WebSocket-Protocol"))
		u->protocol = vlen == 3 && memcmp(val, "sip", 3) == 0;
	else if (IS("Sec-WebSocket-Extensions"))
		u->extensions = true;
#undef IS
}

/* The 101's header lines (after the status line, up to end). */
static void resp_headers(struct upgrade *u, const char *p, const char *end,
	const char *want)
{
	const char *eol, *colon, *v, *ve;

	for (; p < end; p = eol + 2) {
		eol = memmem(p, (size_t)(end - p) + 2, "\r\n", 2);
		if (!eol || eol == p)
			break;
		colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon)
			continue;
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		for (ve = eol; ve > v && (ve[-1] == ' ' || ve[-1] == '\t');
		     ve--)
			;
		resp_header(u, p, (size_t)(colon - p), v, (size_t)(ve - v),
			want);
	}
}

/* The server's answer, its header ending at end (its blank line):
 * 0, or EPROTO said why. */
static int check_101(const struct stream_conn *c, const char *end,
	const char *want)
{
	const char *eol = memmem(c->rx, (size_t)(end - c->rx) + 2, "\r\n", 2);
	struct upgrade u = { 0 };
	const char *why = NULL;

	if (!eol || (size_t)(eol - c->rx) < 13 ||
	    memcmp(c->rx, "HTTP/1.1 101 ", 13) != 0) {
		bench_err("ws: upgrade refused: %.*s",
			eol ? (int)(eol - c->rx) : 0, c->rx);
		return EPROTO;
	}
	resp_headers(&u, eol + 2, end, want);
	/* RFC 6455 4.1: what the client must check, or fail */
	if (!u.upgrade)
		why = "no Upgrade: websocket";
	else if (!u.connection)
		why = "no Connection: Upgrade";
	else if (!u.accept)
		why = "Sec-WebSocket-Accept does not match the key";
	else if (!u.protocol)
		why = "Sec-WebSocket-Protocol is not sip (RFC 7118)";
	else if (u.extensions)
		why = "an extension that was not offered";
	if (!why)
		return 0;
	bench_err("ws: 101 not accepted: %s", why);
	return EPROTO;
}

static void host_hdr(char *buf, size_t n, const struct bench_cfg *cfg)
{
	const struct sockaddr_storage *ss = &cfg->addr;
	unsigned port = ntohs(ss->ss_family == AF_INET6 ?
		((const struct sockaddr_in6 *)ss)->sin6_port :
		((const struct sockaddr_in *)ss)->sin_port);

	snprintf(buf, n, strchr(cfg->host, ':') ? "[%s]:%u" : "%s:%u",
		cfg->host, port);
}

static int ws_open(struct bench *b, struct stream_conn *c,
	uint64_t deadline)
{
	const struct bench_cfg *cfg = bench_cfg(b);
	char key[WS_KEY_LEN + 1], want[WS_ACCEPT_LEN + 1], host[300];
	char req[1024];
	uint8_t nonce[16];
	const char *end;
	int len, err;

	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		return EIO;
	b64(key, nonce, sizeof(nonce));
	accept_of(want, key);
	host_hdr(host, sizeof(host), cfg);
	len = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: %s\r\n"
		"Upgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
		"Sec-WebSocket-Protocol: sip\r\n"
		"User-Agent: herald-bench\r\n\r\n", host, key);
	err = bench_stream_send_all(c, req, (size_t)len, deadline);
	while (!err && !(end = memmem(c->rx, c->rxlen, "\r\n\r\n", 4))) {
		if (c->rxlen > WS_RESP_MAX)
			err = EMSGSIZE;
		else
			err = bench_stream_recv_more(c, deadline);
	}
	if (err) {
		bench_err("ws: upgrade: %s", err == ECONNRESET ?
			"the server closed the connection" : strerror(err));
		return err;
	}
	err = check_101(c, end, want);
	if (err)
		return err;
	/* frames the server sent at once stay for the decoder */
	c->rxlen -= (size_t)(end + 4 - c->rx);
	memmove(c->rx, end + 4, c->rxlen);
	return 0;
}

const struct stream_codec bench_ws_codec = {
	.open = ws_open,
	.head = WS_HEAD,
	.seal = ws_seal,
	.decode = ws_decode,
	.bye = ws_bye,
};
