/*
 * A dialog (RFC 3261 12) made by a request Herald answers (the UAS side):
 * Call-ID, tags, local and remote URIs, route set, remote target, the
 * CSeqs and the flow the request came over. It prints the dialog's part
 * of each request sent inside it (Request-URI, Route, From, To, Call-ID,
 * CSeq, Contact), finds the next hop, and has a stored form.
 *
 * One allocation holds the struct and its strings; a refresh that moves
 * the remote target gives it its own string (target_own). A lookup of
 * the next hop has its own, while it runs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sip.h"

#define HR_LOG_MODULE "sip"

#define TAG_LEN 16
#define ROUTES_MAX (16 * 1024)

/* The dialog's strings, packed after it (issue 20: as offsets, not
 * pointers, they take 36 bytes instead of 72). */
enum dstr {
	D_CALLID,
	D_LOCAL_TAG,
	D_REMOTE_TAG,
	D_LOCAL_URI,
	D_REMOTE_URI,
	D_LOCAL_CONTACT,
	D_ROUTE_SET,                  /* "" when none */
	D_RECEIVED,                   /* "udp:192.0.2.1:5060", "" */
	D_INSTANCE,                   /* "" when none */
	D_NSTRS
};

#define DS(dlg, i) ((const char *)(dlg)->strs + (dlg)->off[i])

/* The next hop's lookup while it runs (hop()); the dialog holds it. */
struct lookup {
	struct hr_dns_query *q;
	char *host;                   /* the name looked up, or NULL */
	hr_dialog_resolved_h *h;
	void *arg;
};

struct hr_dialog {
	const char *target;           /* remote target: in strs[], or an
				       * hr_mem string once a refresh moved
				       * it (target_own) */
	struct hr_conn *conn;         /* the request's connection, or a flow
				       * adopted since (TCP, TLS, WS) */
	void *sock;                   /* the UDP socket it arrived on */
	int64_t cseq;                 /* the last local CSeq used */
	struct lookup *lk;            /* the next hop's, while it runs */
	uint32_t remote_cseq;
	uint32_t off[D_NSTRS];        /* in strs[] */
	enum hr_tp tp;
	sa_family_t sock_family;      /* the family of sock's address */
	bool target_own;
	char strs[];
};

static void destroy(void *data)
{
	struct hr_dialog *dlg = data;

	hr_dialog_cancel(dlg);
	hr_mem_deref(dlg->conn);
	if (dlg->target_own)
		hr_mem_deref((char *)dlg->target);
}

/* One dialog from the strings of its stored form (NULL packs as ""). */
static struct hr_dialog *alloc(const struct hr_dialog_rec *r)
{
	const char *const v[] = { r->callid, r->local_tag, r->remote_tag,
		r->local_uri, r->remote_uri, r->local_contact, r->route_set,
		r->received, r->instance, r->remote_target };
	size_t n = hr_strpack_size(v, sizeof(v) / sizeof(v[0]));
	struct hr_dialog *dlg = hr_mem_zalloc_long(sizeof(*dlg) + n, destroy);
	char *p;

	if (!dlg)
		return NULL;
	p = dlg->strs;
	for (size_t i = 0; i < D_NSTRS; i++) {
		dlg->off[i] = (uint32_t)(p - dlg->strs);
		hr_strpack(&p, v[i]);
	}
	dlg->target = hr_strpack(&p, r->remote_target);
	if (!r->transport || hr_tp_decode(&(struct hr_pl){ r->transport,
		strlen(r->transport) }, &dlg->tp))
		dlg->tp = HR_TP_UDP;
	dlg->remote_cseq = (uint32_t)r->remote_cseq;
	return dlg;
}

int hr_dialog_decode(struct hr_dialog **dlgp, const struct hr_dialog_rec *r)
{
	struct hr_dialog *dlg;

	if (!dlgp || !r)
		return EINVAL;
	dlg = alloc(r);
	if (!dlg)
		return ENOMEM;
	*dlgp = dlg;
	return 0;
}

void hr_dialog_encode(const struct hr_dialog *dlg, struct hr_dialog_rec *r)
{
	r->callid = DS(dlg, D_CALLID);
	r->local_tag = DS(dlg, D_LOCAL_TAG);
	r->remote_tag = DS(dlg, D_REMOTE_TAG);
	r->local_uri = DS(dlg, D_LOCAL_URI);
	r->remote_uri = DS(dlg, D_REMOTE_URI);
	r->local_contact = DS(dlg, D_LOCAL_CONTACT);
	r->remote_target = dlg->target;
	r->route_set = *DS(dlg, D_ROUTE_SET) ? DS(dlg, D_ROUTE_SET) : NULL;
	r->received = *DS(dlg, D_RECEIVED) ? DS(dlg, D_RECEIVED) : NULL;
	r->instance = *DS(dlg, D_INSTANCE) ? DS(dlg, D_INSTANCE) : NULL;
	r->transport = hr_tp_param(dlg->tp);
	r->remote_cseq = dlg->remote_cseq;
}

/* ---- made by a request ---- */

/* RFC 3261 12.1.1: the route set is the Record-Route values, in order. */
static char *route_set(const struct hr_msg *req)
{
	struct hr_buf b;
	bool first = true;

	hr_buf_init(&b, ROUTES_MAX);
	for (const struct hr_hdr *h = hr_msg_hdr(req, HR_HDR_RECORD_ROUTE); h;
	     h = hr_msg_hdr_next(req, h)) {
		if ((!first && hr_buf_puts(&b, ",")) ||
		    hr_buf_putpl(&b, &h->val)) {
			hr_buf_reset(&b);
			return NULL;
		}
		first = false;
	}
	if (hr_buf_write(&b, "", 1)) {
		hr_buf_reset(&b);
		return NULL;
	}
	return b.b;
}

/*
 * Our Contact in the dialog (RFC 6665 4.1.2.1 / RFC 3261 12.1.1): what
 * the socket the request came to advertises, else the address it came
 * to, with the transport it came over (RFC 7118 5: transport=ws). It is
 * stored with the dialog, and requests after a restart take their Via
 * and source address from it (local_side). The domain only when no
 * address is known at all. RFC 3261 12.1.1: a SIPS Request-URI over TLS
 * makes it a SIPS URI (TLS then implied: RFC 5630 3.1.3 deprecates
 * transport=tls).
 */
static void local_contact(struct hr_sip *sip, const struct hr_msg *req,
	const char *domain, char *out, size_t n)
{
	bool sips = req->ruri.scheme == HR_URI_SIPS && hr_tp_secure(req->tp);
	char host[HR_ADV_MAX];
	struct hr_dest d;

	hr_sip_resp_dest(req, &d);
	if (hr_sip_advertise(sip, &d, host, sizeof(host)))
		snprintf(host, sizeof(host), "%s", domain);
	hr_sip_contact_print(out, n, host, req->tp, sips);
}

/* What a request gives its dialog besides the Record-Route: strings
 * copied for the moment they are packed. */
struct accepted {
	char tag[TAG_LEN + 1];
	char rcv[HR_SA_STRLEN + 8];
	char contact[HR_ADV_MAX + 32];
	char *routes;
	char *callid, *local_uri, *remote_uri, *remote_tag, *target, *inst;
};

static void accepted_free(struct accepted *a)
{
	free(a->routes);
	hr_mem_deref(a->callid);
	hr_mem_deref(a->local_uri);
	hr_mem_deref(a->remote_uri);
	hr_mem_deref(a->remote_tag);
	hr_mem_deref(a->target);
	hr_mem_deref(a->inst);
}

static int accepted_fill(struct accepted *a, const struct hr_msg *req,
	const struct hr_addr *contact)
{
	struct hr_pl inst;

	hr_rand_token(a->tag, TAG_LEN);
	a->callid = hr_pl_strdup(&req->callid);
	a->local_uri = hr_pl_strdup(&req->to.uri.raw);
	a->remote_uri = hr_pl_strdup(&req->from.uri.raw);
	a->remote_tag = hr_pl_strdup(&req->from.tag);
	a->target = hr_pl_strdup(&contact->uri.raw);
	a->routes = route_set(req);
	if (!hr_param_get(&contact->params, "+sip.instance", &inst)) {
		a->inst = hr_pl_strdup(&inst);
		if (!a->inst)
			return ENOMEM;
	}
	snprintf(a->rcv, sizeof(a->rcv), "%s:", hr_tp_param(req->tp));
	hr_sa_print(&req->src, a->rcv + strlen(a->rcv), sizeof(a->rcv) -
		strlen(a->rcv));
	return a->callid && a->local_uri && a->remote_uri && a->remote_tag &&
		a->target && a->routes ? 0 : ENOMEM;
}

int hr_dialog_accept(struct hr_dialog **dlgp, struct hr_sip *sip,
	const struct hr_msg *req, const char *domain)
{
	const struct hr_hdr *ch = hr_msg_hdr(req, HR_HDR_CONTACT);
	struct accepted a = { 0 };
	struct hr_addr contact;
	struct hr_dialog *dlg;
	int err;

	/* RFC 3261 12.1.1: the remote target is the Contact's URI, and the
	 * dialog's remote tag the From tag */
	if (!ch || hr_addr_decode(&contact, &ch->val) || contact.star ||
	    !req->from.tag.len)
		return EBADMSG;
	err = accepted_fill(&a, req, &contact);
	if (err)
		goto out;
	local_contact(sip, req, domain, a.contact, sizeof(a.contact));
	dlg = alloc(&(struct hr_dialog_rec){ .callid = a.callid,
		.local_tag = a.tag, .remote_tag = a.remote_tag,
		.local_uri = a.local_uri, .remote_uri = a.remote_uri,
		.local_contact = a.contact, .remote_target = a.target,
		.route_set = a.routes, .received = a.rcv, .instance = a.inst,
		.transport = hr_tp_param(req->tp),
		.remote_cseq = req->cseq.num });
	if (!dlg) {
		err = ENOMEM;
		goto out;
	}
	dlg->sock = req->sock;
	dlg->sock_family = req->src.u.sa.sa_family;
	dlg->conn = hr_mem_ref(req->conn);
	*dlgp = dlg;
out:
	accepted_free(&a);
	return err;
}

/* ---- what the dialog holds ---- */

const char *hr_dialog_local_tag(const struct hr_dialog *dlg)
{
	return DS(dlg, D_LOCAL_TAG);
}

const char *hr_dialog_remote_uri(const struct hr_dialog *dlg)
{
	return DS(dlg, D_REMOTE_URI);
}

const char *hr_dialog_local_contact(const struct hr_dialog *dlg)
{
	return DS(dlg, D_LOCAL_CONTACT);
}

const char *hr_dialog_target(const struct hr_dialog *dlg)
{
	return dlg->target;
}

const char *hr_dialog_instance(const struct hr_dialog *dlg)
{
	return DS(dlg, D_INSTANCE);
}

int64_t hr_dialog_cseq(const struct hr_dialog *dlg)
{
	return dlg->cseq;
}

bool hr_dialog_match(const struct hr_dialog *dlg, const struct hr_pl *callid,
	const struct hr_pl *local_tag, const struct hr_pl *remote_tag)
{
	return !hr_pl_strcmp(callid, DS(dlg, D_CALLID)) &&
		!hr_pl_strcmp(local_tag, DS(dlg, D_LOCAL_TAG)) &&
		!hr_pl_strcmp(remote_tag, DS(dlg, D_REMOTE_TAG));
}

/* RFC 3261 12.2.2: a CSeq lower than the last one is out of order */
bool hr_dialog_rcseq_valid(const struct hr_dialog *dlg,
	const struct hr_msg *req)
{
	return req->cseq.num > dlg->remote_cseq;
}

void hr_dialog_update(struct hr_dialog *dlg, uint32_t cseq, char *target,
	struct hr_conn *conn)
{
	dlg->remote_cseq = cseq;
	if (target) {
		if (dlg->target_own)
			hr_mem_deref((char *)dlg->target);
		dlg->target = target;
		dlg->target_own = true;
	}
	if (conn) {
		hr_mem_deref(dlg->conn);
		dlg->conn = hr_mem_ref(conn);
	}
}

void hr_dialog_skip_cseq(struct hr_dialog *dlg, int64_t cseq)
{
	if (cseq > dlg->cseq)
		dlg->cseq = cseq;
}

/* ---- where a request goes ---- */

/* The next element of a "<a>,<b>" list (commas inside <> or quotes do
 * not split). */
static bool next_elem(struct hr_pl *list, struct hr_pl *elem)
{
	bool quoted = false;
	int angle = 0;
	size_t i;

	while (list->len && (*list->p == ',' || *list->p == ' ')) {
		list->p++;
		list->len--;
	}
	if (!list->len)
		return false;
	for (i = 0; i < list->len; i++) {
		char c = list->p[i];

		if (c == '"' && (i == 0 || list->p[i - 1] != '\\'))
			quoted = !quoted;
		else if (!quoted && c == '<')
			angle++;
		else if (!quoted && c == '>')
			angle--;
		else if (!quoted && !angle && c == ',')
			break;
	}
	elem->p = list->p;
	elem->len = i;
	list->p += i;
	list->len -= i;
	return true;
}

static void resolved(int err, const struct hr_sa *addr, void *arg)
{
	struct hr_dialog *dlg = arg;
	struct lookup lk = *dlg->lk;

	(void)addr;  /* in the cache now: the request asks again */
	free(dlg->lk);
	dlg->lk = NULL;
	lk.h(err, lk.host ? lk.host : "the next hop", lk.arg);
	free(lk.host);
}

/* Address and transport of a next-hop URI (RFC 3263 without SRV: an IP
 * literal or a name's A/AAAA record, port 5060 by default; the transport
 * parameter, else the one the dialog was made over). EINPROGRESS while a
 * name is looked up. */
static int hop(struct hr_dialog *dlg, const struct hr_uri *uri,
	struct hr_dest *d, const struct lookup *ask)
{
	uint16_t port = uri->port ? uri->port : 5060;
	char host[256];
	struct hr_pl tp;
	int err;

	if (hr_pl_strcpy(&uri->host, host, sizeof(host)) || !*host)
		return EHOSTUNREACH;
	d->tp = dlg->tp;
	if (!hr_uri_param(uri, "transport", &tp) && hr_tp_decode(&tp, &d->tp))
		d->tp = HR_TP_UDP;
	/* RFC 7118, RFC 5626: a browser's or TLS peer's Contact is not
	 * reachable; only the connection it opens is */
	if (hr_tp_flow_only(d->tp))
		return ENOTCONN;
	if (hr_sa_set(&d->addr, host, port)) {
		struct lookup *lk = malloc(sizeof(*lk));

		if (!lk)
			return ENOMEM;
		*lk = *ask;
		err = hr_dns_lookup(host, port, &d->addr, resolved, dlg,
			&lk->q);
		if (err == EINPROGRESS) {
			lk->host = strdup(host);  /* for h; NULL: unnamed */
			dlg->lk = lk;
		} else {
			free(lk);
		}
		if (err)
			return err;
	}
	return 0;
}

/* The dialog's local address: its Contact's when that is an IP address
 * (the one the request came to, unless the socket advertises another),
 * so that Via and the source address match the Contact, after a restart
 * too. */
static void local_side(const struct hr_dialog *dlg, struct hr_dest *d)
{
	struct hr_pl pl = hr_pl_str(DS(dlg, D_LOCAL_CONTACT));
	char host[HR_SA_STRLEN];
	struct hr_addr a;

	if (hr_addr_decode(&a, &pl) || hr_pl_strcpy(&a.uri.host, host,
		sizeof(host)) || hr_sa_set(&d->laddr, host, a.uri.port ?
		a.uri.port : 5060))
		memset(&d->laddr, 0, sizeof(d->laddr));
	else if (!d->conn && d->laddr.u.sa.sa_family !=
		 d->addr.u.sa.sa_family)
		memset(&d->laddr, 0, sizeof(d->laddr));
}

void hr_dialog_set_tp(const struct hr_dialog *dlg, struct hr_dest *d,
	enum hr_tp tp)
{
	d->tp = tp;
	d->sock = NULL;
	local_side(dlg, d);
	/* over UDP, from the socket the request came to (the address the
	 * peer knows), when it can reach the destination */
	if (tp == HR_TP_UDP && dlg->sock &&
	    d->addr.u.sa.sa_family == dlg->sock_family)
		d->sock = dlg->sock;
}

/*
 * RFC 3261 12.2.1.1: with no route set the request goes to the remote
 * target; with a loose-routing first hop (lr) to that hop, the route set
 * in Route; with a strict router, the first route becomes the
 * Request-URI and the remote target the last Route.
 */
static int route(const struct hr_dialog *dlg, struct hr_uri *next,
	struct hr_buf *ruri, struct hr_buf *hdrs)
{
	struct hr_pl list = hr_pl_str(DS(dlg, D_ROUTE_SET)), first, rest;
	struct hr_addr a;
	int err = 0;

	if (hr_uri_decode(next, &(struct hr_pl){ dlg->target,
		strlen(dlg->target) }))
		return EHOSTUNREACH;
	if (!next_elem(&list, &first))
		return hr_buf_puts(ruri, dlg->target);
	if (hr_addr_decode(&a, &first))
		return EHOSTUNREACH;
	*next = a.uri;
	rest = list;
	if (hr_uri_param(&a.uri, "lr", &(struct hr_pl){ 0 }) == 0) {
		err |= hr_buf_puts(ruri, dlg->target);
		err |= HR_BUF_PUTS(hdrs, "Route: ", DS(dlg, D_ROUTE_SET),
			"\r\n");
		return err;
	}
	err |= hr_buf_putpl(ruri, &a.uri.raw);
	err |= hr_buf_puts(hdrs, "Route: ");
	if (next_elem(&rest, &first)) {
		err |= hr_buf_putpl(hdrs, &first);
		err |= hr_buf_putpl(hdrs, &rest);
		err |= hr_buf_puts(hdrs, ",");
	}
	err |= HR_BUF_PUTS(hdrs, "<", dlg->target, ">\r\n");
	return err;
}

/* Where the request goes: the connection the dialog was made over while
 * it is open, else a flow the peer registered since, the request's
 * source when asked, else the next hop. */
static int dest(struct hr_sip *sip, struct hr_dialog *dlg,
	const struct hr_uri *next, bool to_source, struct hr_dest *d,
	const struct lookup *ask)
{
	struct hr_conn *flow;
	int err;

	/* RFC 3261 18.2.2 applies to requests too in practice: the
	 * connection the peer opened is the one it listens on */
	if (!hr_conn_isopen(dlg->conn)) {
		/* RFC 5626 5.3: gone; a flow of the same instance (or
		 * Contact) registered since carries it */
		flow = hr_sip_flow_find(sip, DS(dlg, D_INSTANCE), dlg->target);
		if (flow)
			hr_dialog_update(dlg, dlg->remote_cseq, NULL, flow);
	}
	if (hr_conn_isopen(dlg->conn)) {
		d->tp = hr_conn_tp(dlg->conn);
		d->conn = dlg->conn;
		local_side(dlg, d);
		return 0;
	}
	if (hr_tp_flow_only(dlg->tp))
		return ENOTCONN;
	/* a peer behind NAT: where its request came from */
	if (to_source && *DS(dlg, D_RECEIVED)) {
		const char *colon = strchr(DS(dlg, D_RECEIVED), ':');

		if (colon && !hr_sa_decode(&d->addr, colon + 1)) {
			hr_dialog_set_tp(dlg, d, dlg->tp);
			return 0;
		}
	}
	err = hop(dlg, next, d, ask);
	if (!err)
		hr_dialog_set_tp(dlg, d, d->tp);
	return err;
}

int hr_dialog_prepare(struct hr_sip *sip, struct hr_dialog *dlg,
	const char *method, bool to_source, struct hr_dest *d,
	struct hr_buf *ruri, struct hr_buf *hdrs, hr_dialog_resolved_h *h,
	void *arg)
{
	struct hr_uri next;
	int err;

	if (dlg->lk)
		return EALREADY;
	memset(d, 0, sizeof(*d));
	err = route(dlg, &next, ruri, hdrs);
	if (err)
		return err;
	err = dest(sip, dlg, &next, to_source, d,
		&(struct lookup){ .h = h, .arg = arg });
	if (err)
		return err;
	/* RFC 3261 12.2.1.1: the local URI and tag in From, the remote
	 * ones in To, the next local CSeq */
	err |= HR_BUF_PUTS(hdrs, "From: <", DS(dlg, D_LOCAL_URI), ">;tag=",
		DS(dlg, D_LOCAL_TAG), "\r\nTo: <", DS(dlg, D_REMOTE_URI),
		">;tag=", DS(dlg, D_REMOTE_TAG), "\r\nCall-ID: ",
		DS(dlg, D_CALLID), "\r\nCSeq: ");
	err |= hr_buf_putu(hdrs, (uint64_t)dlg->cseq + 1);
	err |= HR_BUF_PUTS(hdrs, " ", method, "\r\nContact: ",
		DS(dlg, D_LOCAL_CONTACT), "\r\n");
	return err;
}

bool hr_dialog_resolving(const struct hr_dialog *dlg)
{
	return dlg->lk != NULL;
}

void hr_dialog_cancel(struct hr_dialog *dlg)
{
	if (!dlg->lk)
		return;
	hr_dns_cancel(dlg->lk->q);
	free(dlg->lk->host);
	free(dlg->lk);
	dlg->lk = NULL;
}

int hr_dialog_send(struct hr_ctrans **ctp, struct hr_sip *sip,
	struct hr_dialog *dlg, const struct hr_dest *d,
	const struct hr_req *req, hr_resp_h *resph, void *arg)
{
	int err = hr_ctrans_request(ctp, sip, d, req, resph, arg);

	if (!err)
		dlg->cseq++;
	return err;
}
