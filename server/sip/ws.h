/*
 * Herald WebSocket codec: the server side of RFC 6455 that SIP over
 * WebSocket (RFC 7118) needs. The opening handshake, frames in (whole
 * messages out), frames and CLOSE out. No I/O: the TCP connection code
 * feeds it bytes and sends what it prints. No extension is offered.
 */
#ifndef HR_SIP_WS_H
#define HR_SIP_WS_H

#include "sip.h"

/* Frame opcodes (RFC 6455 5.2). */
enum hr_ws_op {
	HR_WS_CONT = 0,
	HR_WS_TEXT = 1,
	HR_WS_BINARY = 2,
	HR_WS_CLOSE = 8,
	HR_WS_PING = 9,
	HR_WS_PONG = 10,
};

/* Close status codes sent by Herald (RFC 6455 7.4.1). */
enum hr_ws_code {
	HR_WS_NORMAL = 1000,
	HR_WS_PROTOCOL_ERROR = 1002,
	HR_WS_INVALID_DATA = 1007,     /* a text message not UTF-8 */
	HR_WS_TOO_BIG = 1009,
	HR_WS_INTERNAL_ERROR = 1011,
};

/* ---- the opening handshake (RFC 6455 4.2): an HTTP/1.1 upgrade ---- */

struct hr_ws_upgrade {
	size_t len;          /* bytes the request took, through its blank line */
	uint16_t status;     /* 101, or the HTTP status refused with */
	const char *why;     /* static text: why refused (for the log), NULL
			      * on 101 */
};

/**
 * Read the upgrade request at p[0..len): 0 with *u filled and the whole
 * HTTP response appended to resp: 101 with Sec-WebSocket-Accept and
 * "Sec-WebSocket-Protocol: <protocol>", or a refusal (400, 405, 426, 505)
 * with Connection: close and a short text body saying why. ENODATA while
 * the blank line has not come; EMSGSIZE when max bytes came without it;
 * EINVAL for no protocol or a server value with CR or LF; ENOMEM or
 * EMSGSIZE when resp is full (resp is then as it was). protocol: the
 * subprotocol required ("sip", RFC 7118 4; compared case-sensitively);
 * server: the Server header value, or NULL. Bytes after u->len are the
 * client's first frames.
 */
int hr_ws_upgrade(const char *p, size_t len, size_t max, const char *protocol,
	const char *server, struct hr_ws_upgrade *u, struct hr_buf *resp);

/* ---- receiving: frames in, whole messages out ---- */

struct hr_ws_rx;     /* a connection's receive side; hr_mem object */

/** New receive side taking messages of up to max_msg bytes: 0, EINVAL
 * (max_msg 0) or ENOMEM. */
int hr_ws_rx_alloc(struct hr_ws_rx **rxp, size_t max_msg);

enum hr_ws_event {
	HR_WS_AGAIN,     /* more bytes are needed */
	HR_WS_MESSAGE,   /* a whole data message in *data, *n; *op is TEXT
			  * or BINARY */
	HR_WS_PINGED,    /* answer with a PONG carrying *data, *n */
	HR_WS_PONGED,    /* nothing to do */
	HR_WS_CLOSED,    /* the peer closes (*data, *n: its reason): echo a
			  * CLOSE with *code, then close the connection */
	HR_WS_FAIL,      /* protocol error: send a CLOSE with *code, then
			  * close the connection */
};

/**
 * Read frames from p[0..len), one event per call. *used: the bytes
 * consumed, which the caller drains (also on HR_WS_AGAIN: the fragments
 * of a message are copied into rx as they come; a frame is consumed only
 * when its header and whole payload are there); it may call again at
 * once with the rest. *data, *n stay valid until the next call. *code:
 * on HR_WS_CLOSED the peer's code echoed (RFC 6455 5.5.1), 1000 when it
 * sent none; on HR_WS_FAIL 1002 (protocol error), 1007 (text not UTF-8),
 * 1009 (message over max_msg, decided from the frame header) or 1011 (out
 * of memory). After HR_WS_CLOSED or HR_WS_FAIL every call returns
 * HR_WS_FAIL with the same code and consumes nothing.
 */
enum hr_ws_event hr_ws_rx_read(struct hr_ws_rx *rx, const uint8_t *p,
	size_t len, size_t *used, enum hr_ws_op *op, const uint8_t **data,
	size_t *n, uint16_t *code);

/* ---- sending ---- */

/**
 * Append a whole frame (FIN set) of op (not CONT; a control frame carries
 * at most 125 bytes, else EINVAL) carrying p[0..n) to buf; masked with key
 * unless key is NULL (servers do not mask, RFC 6455 5.1; clients, the
 * tests and the benchmark, do). 0, EINVAL, ENOMEM or EMSGSIZE (buf is then
 * as it was).
 */
int hr_ws_frame_print(struct hr_buf *buf, enum hr_ws_op op, const void *p,
	size_t n, const uint8_t key[4]);

/** Append an unmasked CLOSE frame with code (0: no payload) to buf: 0,
 * EINVAL (a code that may not be sent, RFC 6455 7.4), ENOMEM or EMSGSIZE. */
int hr_ws_close_print(struct hr_buf *buf, uint16_t code);

#endif
