/*
 * Fuzz the message parser: the bytes are decoded as a datagram and as a
 * stream message, and framed as a stream. Every slice stays inside the
 * message's copy of the bytes; an accepted message prints, and its print
 * decodes and prints back to the same bytes; nothing leaks.
 */
#include <errno.h>
#include <string.h>
#include "fuzz.h"

static void msg_in(const struct hr_msg *m, size_t size)
{
	const char *b = m->buf;
	size_t n = m->len;
	unsigned i;

	FUZZ_CHECK(b != NULL);
	FUZZ_CHECK(n <= size);
	FUZZ_CHECK(m->hdrc <= HR_SIP_MAX_HDRS);
	FUZZ_CHECK(m->hdrc == 0 || m->hdrv != NULL);
	FUZZ_PL_IN(m->method, b, n);
	FUZZ_PL_IN(m->ruri_pl, b, n);
	fuzz_uri_in(&m->ruri, b, n);
	FUZZ_PL_IN(m->ver, b, n);
	FUZZ_PL_IN(m->reason, b, n);
	for (i = 0; i < m->hdrc; i++) {
		FUZZ_PL_IN(m->hdrv[i].name, b, n);
		FUZZ_PL_IN(m->hdrv[i].val, b, n);
		FUZZ_CHECK(m->hdrv[i].id == hr_hdr_id(&m->hdrv[i].name));
	}
	fuzz_via_in(&m->via, b, n);
	fuzz_addr_in(&m->from, b, n);
	fuzz_addr_in(&m->to, b, n);
	FUZZ_PL_IN(m->callid, b, n);
	FUZZ_PL_IN(m->cseq.method, b, n);
	FUZZ_PL_IN(m->ctype.type, b, n);
	FUZZ_PL_IN(m->ctype.subtype, b, n);
	FUZZ_PL_IN(m->ctype.params, b, n);
	FUZZ_PL_IN(m->body, b, n);
	if (m->err_scode) {
		FUZZ_CHECK(m->err_scode >= 400 && m->err_scode <= 699);
		FUZZ_CHECK(m->err_reason != NULL);
		return;
	}
	if (m->req)
		FUZZ_CHECK(m->meth == hr_method_id(&m->method));
	else
		FUZZ_CHECK(m->scode >= 100 && m->scode <= 699);
}

/* An accepted message prints; the print decodes and prints the same. */
static void round_trip(const struct hr_msg *m)
{
	struct hr_buf pr, pr2;
	struct hr_msg *m2 = NULL;
	char why[256];
	int err;

	hr_buf_init(&pr, FUZZ_PRINT_CAP);
	hr_buf_init(&pr2, FUZZ_PRINT_CAP);
	FUZZ_CHECK(hr_msg_print(&pr, m) == 0);
	err = hr_msg_decode(&m2, pr.b, pr.len, false);
	if (err || m2->err_scode) {
		snprintf(why, sizeof(why), " (%s, %u %s)", hr_strerror(err),
			err ? 0 : m2->err_scode,
			err || !m2->err_reason ? "" : m2->err_reason);
		fuzz_undecodable(&pr, why);
	}
	msg_in(m2, pr.len);
	FUZZ_CHECK(m2->hdrc == m->hdrc);
	FUZZ_CHECK(m2->req == m->req);
	FUZZ_CHECK(m2->body.len == m->body.len);
	FUZZ_CHECK(hr_msg_print(&pr2, m2) == 0);
	fuzz_same_print(&pr, &pr2);
	hr_mem_deref(m2);
	hr_buf_reset(&pr2);
	hr_buf_reset(&pr);
}

/* Decode; returns true when the message is accepted as valid. */
static bool decode(const char *p, size_t size, bool stream)
{
	struct hr_msg *m = NULL;
	bool ok;
	int err;

	err = hr_msg_decode(&m, p, size, stream);
	FUZZ_CHECK(err == 0 || err == EBADMSG || err == ENOMEM);
	if (err) {
		/* the out-pointer is set only on success */
		FUZZ_CHECK(m == NULL);
		return false;
	}
	FUZZ_CHECK(m != NULL);
	msg_in(m, size);
	ok = m->err_scode == 0;
	if (ok)
		round_trip(m);
	FUZZ_CHECK(hr_mem_deref(m) == NULL);
	return ok;
}

static void frame(const char *p, size_t size)
{
	size_t n = 0, n2 = 0;
	int err;

	err = hr_msg_frame(p, size, HR_SIP_DEFAULT_MAX_MSG, &n);
	FUZZ_CHECK(err == 0 || err == ENODATA || err == EBADMSG ||
		err == EMSGSIZE);
	if (err)
		return;
	FUZZ_CHECK(n > 0 && n <= size && n <= HR_SIP_DEFAULT_MAX_MSG);
	/* the end of a message does not depend on what follows it */
	FUZZ_CHECK(hr_msg_frame(p, n, HR_SIP_DEFAULT_MAX_MSG, &n2) == 0);
	FUZZ_CHECK(n2 == n);
	FUZZ_CHECK(hr_msg_frame(p, n - 1, HR_SIP_DEFAULT_MAX_MSG, &n2) ==
		ENODATA);
	/* a cap at least the message's size lets it through */
	FUZZ_CHECK(hr_msg_frame(p, size, n, &n2) == 0 && n2 == n);
	if (n > 1)
		FUZZ_CHECK(hr_msg_frame(p, size, n - 1, &n2) == EMSGSIZE);
	/* what the TCP transport does next */
	decode(p, n, true);
}

void fuzz_one(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	bool dgram, stream;

	dgram = decode(p, size, false);
	stream = decode(p, size, true);
	/* RFC 3261 18.3 asks more of a stream, never less */
	FUZZ_CHECK(!stream || dgram);
	frame(p, size);
}
