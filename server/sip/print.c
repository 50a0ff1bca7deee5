/* The printer: responses to requests and new requests (RFC 3261 8.2.6,
 * 8.1.1). Every message gets a Content-Length. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "sip_int.h"

static int line(struct hr_buf *buf, const char *name, const struct hr_pl *v)
{
	int err = hr_buf_puts(buf, name);

	err |= hr_buf_puts(buf, ": ");
	err |= hr_buf_putpl(buf, v);
	err |= hr_buf_puts(buf, "\r\n");
	return err;
}

/* True when the Via host is the IP address the request came from. */
static bool via_is_src(const struct hr_via *via, const struct hr_sa *src)
{
	char host[64];
	struct hr_sa a;

	if (hr_pl_strcpy(&via->host, host, sizeof(host)) ||
	    hr_sa_set(&a, host, 0))
		return false;
	hr_sa_set_port(&a, hr_sa_port(src));
	return hr_sa_eq(&a, src);
}

/*
 * The top Via gets received (RFC 3261 18.2.1: when sent-by is not the
 * source address; RFC 3581 4: always when rport is asked for) and the
 * rport value (RFC 3581 4: the source port).
 */
static int top_via(struct hr_buf *buf, const struct hr_msg *req,
	const struct hr_hdr *h)
{
	const struct hr_via *via = &req->via;
	bool known = req->has_via && req->src.len;
	bool add_received, fill_rport;
	struct hr_pl rport;
	char ip[64];
	int err = 0;

	if (!known)
		return line(buf, "Via", &h->val);
	fill_rport = via->rport && !via->rport_val &&
		hr_param_get(&via->params, "rport", &rport) == 0;
	add_received = !via->received.p &&
		(via->rport || !via_is_src(via, &req->src));
	err |= hr_buf_puts(buf, "Via: ");
	if (fill_rport) {
		/* rport's empty value slice sits right after its name */
		struct hr_pl head = { h->val.p, (size_t)(rport.p - h->val.p) };
		struct hr_pl tail = { rport.p,
			(size_t)(h->val.p + h->val.len - rport.p) };

		err |= hr_buf_putpl(buf, &head);
		err |= hr_buf_puts(buf, "=");
		err |= hr_buf_putu(buf, hr_sa_port(&req->src));
		err |= hr_buf_putpl(buf, &tail);
	} else {
		err |= hr_buf_putpl(buf, &h->val);
	}
	if (add_received) {
		err |= hr_buf_puts(buf, ";received=");
		err |= hr_buf_puts(buf, hr_sa_ntop(&req->src, ip, sizeof(ip)));
	}
	err |= hr_buf_puts(buf, "\r\n");
	return err;
}

static const struct hr_pl *hval(const struct hr_msg *req, enum hr_hdr_id id)
{
	const struct hr_hdr *h = hr_msg_hdr(req, id);

	return h ? &h->val : NULL;
}

static bool creates_dialog(const struct hr_msg *req, uint16_t scode)
{
	/* RFC 3261 12.1.1: a dialog-creating 2xx copies Record-Route */
	return scode > 100 && scode < 300 &&
		(req->meth == HR_METH_SUBSCRIBE || req->meth == HR_METH_INVITE
		 || req->meth == HR_METH_REFER);
}

static int copied(struct hr_buf *buf, const struct hr_msg *req,
	const struct hr_resp *resp)
{
	const struct hr_pl *v;
	int err = 0;
	bool first = true;

	for (unsigned i = 0; i < req->hdrc; i++) {
		const struct hr_hdr *h = &req->hdrv[i];

		if (h->id == HR_HDR_VIA) {
			err |= first ? top_via(buf, req, h) :
				line(buf, "Via", &h->val);
			first = false;
		} else if (h->id == HR_HDR_RECORD_ROUTE &&
			creates_dialog(req, resp->scode)) {
			err |= line(buf, "Record-Route", &h->val);
		}
	}
	if ((v = hval(req, HR_HDR_FROM)))
		err |= line(buf, "From", v);
	if ((v = hval(req, HR_HDR_TO))) {
		err |= hr_buf_puts(buf, "To: ");
		err |= hr_buf_putpl(buf, v);
		/* RFC 3261 8.2.6.2: a tag unless the request had one; a 100
		 * does not need it */
		if (!req->to.tag.p && resp->scode > 100) {
			char tag[24];

			if (!resp->totag)
				hr_resp_totag(req, tag, sizeof(tag));
			err |= hr_buf_puts(buf, ";tag=");
			err |= hr_buf_puts(buf, resp->totag ? resp->totag :
				tag);
		}
		err |= hr_buf_puts(buf, "\r\n");
	}
	if ((v = hval(req, HR_HDR_CALL_ID)))
		err |= line(buf, "Call-ID", v);
	if ((v = hval(req, HR_HDR_CSEQ)))
		err |= line(buf, "CSeq", v);
	return err;
}

static int tail(struct hr_buf *buf, const struct hr_pl *hdrs,
	const char *ctype, const struct hr_pl *body)
{
	int err = 0;
	size_t blen = ctype ? body->len : 0;

	err |= hr_buf_putpl(buf, hdrs);
	if (ctype) {
		err |= hr_buf_puts(buf, "Content-Type: ");
		err |= hr_buf_puts(buf, ctype);
		err |= hr_buf_puts(buf, "\r\n");
	}
	err |= hr_buf_puts(buf, "Content-Length: ");
	err |= hr_buf_putu(buf, blen);
	err |= hr_buf_puts(buf, "\r\n\r\n");
	if (blen)
		err |= hr_buf_write(buf, body->p, blen);
	return err;
}

/* Room for about n bytes at once, not by doubling from 256 (issue 20:
 * two or three reallocs a message); over the cap, writing says so. */
static void guess(struct hr_buf *buf, size_t n)
{
	(void)hr_buf_reserve(buf, n);
}

int hr_resp_print(struct hr_buf *buf, const struct hr_msg *req,
	const struct hr_resp *resp, const char *server)
{
	int err = 0;

	if (resp->scode < 100 || resp->scode > 699 || !resp->reason)
		return EINVAL;
	/* the status line and what 8.2.6.2 copies from the request */
	guess(buf, 512 + resp->hdrs.len + (resp->ctype ? resp->body.len : 0));
	err |= hr_buf_puts(buf, "SIP/2.0 ");
	err |= hr_buf_putu(buf, resp->scode);
	err |= hr_buf_puts(buf, " ");
	err |= hr_buf_puts(buf, resp->reason);
	err |= hr_buf_puts(buf, "\r\n");
	err |= copied(buf, req, resp);
	if (server) {
		err |= hr_buf_puts(buf, "Server: ");
		err |= hr_buf_puts(buf, server);
		err |= hr_buf_puts(buf, "\r\n");
	}
	err |= tail(buf, &resp->hdrs, resp->ctype, &resp->body);
	return err ? ENOMEM : 0;
}

/* ---- stateless To-tags (RFC 3261 8.2.7) ---- */

static uint64_t secret[2];

static uint64_t mix(uint64_t h, const struct hr_pl *pl)
{
	for (size_t i = 0; i < pl->len; i++) {
		h ^= (unsigned char)pl->p[i];
		h *= 0x100000001b3ull;
	}
	/* a separator so "ab"+"c" and "a"+"bc" differ */
	h ^= 0xff;
	return h * 0x100000001b3ull;
}

void hr_resp_totag(const struct hr_msg *req, char *out, size_t n)
{
	uint64_t h;
	const struct hr_pl *cseq = hval(req, HR_HDR_CSEQ);
	struct hr_pl empty = HR_PL_INIT;

	while (!secret[0] && !secret[1])
		hr_rand_bytes(secret, sizeof(secret));
	h = 0xcbf29ce484222325ull ^ secret[0];
	h = mix(h, &req->via.branch);
	h = mix(h, &req->callid);
	h = mix(h, &req->from.tag);
	h = mix(h, cseq ? cseq : &empty);
	h ^= secret[1];
	h *= 0x9e3779b97f4a7c15ull;
	h ^= h >> 29;
	snprintf(out, n, "%016llx", (unsigned long long)h);
}

/* ---- requests ---- */

int hr_req_print(struct hr_buf *buf, const struct hr_req *req,
	enum hr_tp tp, const char *sentby, const char *branch)
{
	int err = 0;

	if (!req->method || !req->ruri.len)
		return EINVAL;
	guess(buf, 256 + req->ruri.len + req->hdrs.len +
		(req->ctype ? req->body.len : 0));
	err |= hr_buf_puts(buf, req->method);
	err |= hr_buf_puts(buf, " ");
	err |= hr_buf_putpl(buf, &req->ruri);
	err |= hr_buf_puts(buf, " SIP/2.0\r\nVia: SIP/2.0/");
	err |= hr_buf_puts(buf, hr_tp_name(tp));
	err |= hr_buf_puts(buf, " ");
	err |= hr_buf_puts(buf, sentby);
	err |= hr_buf_puts(buf, ";branch=");
	err |= hr_buf_puts(buf, branch);
	err |= hr_buf_puts(buf, ";rport\r\nMax-Forwards: 70\r\n");
	err |= tail(buf, &req->hdrs, req->ctype, &req->body);
	return err ? ENOMEM : 0;
}
