/*
 * SIP traces: the messages of one address-of-record or one peer, as they
 * were received and sent, handed to a tracer (the operator's live feed).
 * Only the core thread; nothing is done per message while no trace runs
 * but one list check. The text a tracer gets has the values of
 * Authorization and Proxy-Authorization replaced (a digest response is
 * open to an offline guess of the password).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "sip_int.h"

#define HR_LOG_MODULE "sip"

struct hr_sip_trace {
	struct hr_le le;             /* in the stack's traces */
	char aor[HR_SIP_TRACE_AOR_MAX];  /* "" : any */
	struct hr_sa peer;           /* len 0: any; port 0: any port */
	hr_sip_trace_h *h;
	void *arg;
};

static void trace_destroy(void *data)
{
	struct hr_sip_trace *t = data;

	hr_list_unlink(&t->le);
}

int hr_sip_trace_start(struct hr_sip_trace **tp, struct hr_sip *sip,
	const char *aor, const struct hr_sa *peer, hr_sip_trace_h *h,
	void *arg)
{
	struct hr_sip_trace *t;

	if (!tp || !sip || !h || ((!aor || !*aor) && (!peer || !peer->len)) ||
	    (aor && strlen(aor) >= sizeof(t->aor)))
		return EINVAL;
	t = hr_mem_zalloc(sizeof(*t), trace_destroy);
	if (!t)
		return ENOMEM;
	if (aor)
		strcpy(t->aor, aor);
	if (peer)
		t->peer = *peer;
	t->h = h;
	t->arg = arg;
	hr_list_append(hr_sip_traces(sip), &t->le, t);
	*tp = t;
	return 0;
}

/* The AOR a URI names: user@host, the host lowercased (as the core keys
 * names); false when it names none. */
static bool uri_aor(const struct hr_uri *uri, char out[HR_SIP_TRACE_AOR_MAX])
{
	char host[256];

	if (hr_pl_strcpy(&uri->host, host, sizeof(host)))
		return false;
	for (char *c = host; *c; c++)
		*c = (char)hr_lower[(unsigned char)*c];
	return hr_uri_aor(uri, host, out, HR_SIP_TRACE_AOR_MAX) == 0;
}

static bool names(const struct hr_uri *uri, const char *aor)
{
	char a[HR_SIP_TRACE_AOR_MAX];

	return uri_aor(uri, a) && !strcmp(a, aor);
}

/* The trace's peer: the same address, and the same port unless the
 * trace's is 0. */
static bool peer_is(const struct hr_sa *want, const struct hr_sa *peer)
{
	struct hr_sa p;

	if (!peer || !peer->len)
		return false;
	if (hr_sa_port(want))
		return hr_sa_eq(want, peer);
	p = *peer;
	hr_sa_set_port(&p, 0);
	return hr_sa_eq(want, &p);
}

static bool matches(const struct hr_sip_trace *t, const struct hr_msg *msg,
	const struct hr_sa *peer)
{
	if (t->peer.len && !peer_is(&t->peer, peer))
		return false;
	if (!t->aor[0])
		return true;
	return names(&msg->from.uri, t->aor) || names(&msg->to.uri, t->aor) ||
		(msg->req && names(&msg->ruri, t->aor));
}

/* A header line's name is one of the credentials'. */
static bool is_credentials(const char *line, size_t len)
{
	static const char *const creds[] = { "Authorization",
		"Proxy-Authorization" };

	for (size_t i = 0; i < sizeof(creds) / sizeof(creds[0]); i++) {
		size_t n = strlen(creds[i]);
		size_t j = n;

		if (len <= n || strncasecmp(line, creds[i], n))
			continue;
		while (j < len && (line[j] == ' ' || line[j] == '\t'))
			j++;
		if (j < len && line[j] == ':')
			return true;
	}
	return false;
}

int hr_sip_trace_redact(struct hr_buf *b, const char *p, size_t len)
{
	const char *end = p + len;
	const char *body = NULL;
	bool creds = false;
	int err = 0;

	/* headers end at the first empty line; the body is kept as is */
	for (const char *l = p; l < end && !err;) {
		const char *nl = memchr(l, '\n', (size_t)(end - l));
		const char *next = nl ? nl + 1 : end;
		size_t n = (size_t)(next - l);
		bool fold = l != p && (*l == ' ' || *l == '\t');

		if (n == 1 || (n == 2 && l[0] == '\r')) {
			body = l;
			break;
		}
		if (!fold)
			creds = is_credentials(l, n);
		if (!creds) {
			err = hr_buf_write(b, l, n);
		} else if (!fold) {
			/* "Authorization: Digest [redacted]" */
			const char *v = memchr(l, ':', n) + 1;
			const char *s;

			while (v < next && (*v == ' ' || *v == '\t'))
				v++;
			s = v;
			while (s < next && *s != ' ' && *s != '\t' &&
			       *s != '\r' && *s != '\n')
				s++;
			err = hr_buf_write(b, l, (size_t)(s - l));
			if (!err)
				err = hr_buf_printf(b, " [redacted]\r\n");
		}
		l = next;
	}
	if (!err && body)
		err = hr_buf_write(b, body, (size_t)(end - body));
	return err;
}

static void deliver(struct hr_sip *sip, const struct hr_msg *msg, bool out,
	enum hr_tp tp, const struct hr_sa *peer, const char *p, size_t len)
{
	struct hr_buf text;
	bool made = false;

	/* a redacted line is at most 12 bytes longer: "[redacted]" for a
	 * value of one byte or none; and a NUL for the tracers */
	hr_buf_init(&text, 2 * len + 64);
	for (struct hr_le *le = hr_sip_traces(sip)->head; le;) {
		struct hr_sip_trace *t = le->data;
		struct hr_sip_trace_msg m;

		/* a tracer may stop its trace from its handler */
		le = le->next;
		if (!matches(t, msg, peer))
			continue;
		if (!made && (hr_sip_trace_redact(&text, p, len) ||
		    hr_buf_write(&text, "", 1))) {
			HR_WARN("trace: out of memory");
			break;
		}
		made = true;
		m.out = out;
		m.tp = tp;
		m.peer = peer && peer->len ? peer : NULL;
		m.text = text.b;
		m.len = text.len - 1;
		t->h(&m, t->arg);
	}
	hr_buf_reset(&text);
}

void hr_sip_trace_in(struct hr_sip *sip, const struct hr_msg *msg)
{
	deliver(sip, msg, false, msg->tp, &msg->src, msg->buf, msg->len);
}

void hr_sip_trace_out(struct hr_sip *sip, enum hr_tp tp,
	const struct hr_sa *peer, const char *p, size_t len)
{
	struct hr_msg *msg;

	if (hr_msg_decode(&msg, p, len, false))
		return;
	deliver(sip, msg, true, tp, peer, p, len);
	hr_mem_deref(msg);
}
