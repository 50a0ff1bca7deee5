/*
 * The SIP stack: its sockets, the method router and stateless replies.
 * A request goes: transport → decode → (retransmission? absorbed) →
 * router checks in RFC 3261 8.2 order → handler in a server transaction.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "sip_int.h"

#define HR_LOG_MODULE "sip"

#define LIST_MAX 512

struct handler {
	hr_req_h *h;
	void *arg;
};

struct hr_sip {
	struct hr_sip_cfg cfg;
	char server[128];
	struct hr_list udps;
	struct hr_list lsnrs;
	struct hr_list conns;
	struct hr_hash strans;
	struct hr_hash ctrans;
	struct hr_fpool *trans_pool;       /* strans.c: what Timer J keeps */
	struct handler hand[HR_METH__N];
	char allow[LIST_MAX];
	char supported[LIST_MAX];
	char events[LIST_MAX];
	char accept[LIST_MAX];
	char opt_hdrs[4 * LIST_MAX + 128]; /* OPTIONS answer headers */
	hr_send_h *send_h;
	void *send_arg;
	struct hr_sip_stats stats;
	struct hr_buf out;                 /* scratch for stateless replies */
	struct hr_srclim *srclim;          /* limits per source address */
	struct hr_tls *tls;                /* for tls: and wss:, or NULL */
	struct hr_hash flows;              /* RFC 5626 flows (flow.c) */
	struct hr_list traces;             /* trace.c */
	uint64_t shed_new, shed_cred;      /* shed(): shares carried over */
};

/* Methods answered in a server transaction even before their feature
 * exists (501 until then), so that retransmissions are absorbed. */
static bool routed(enum hr_method m)
{
	return m == HR_METH_REGISTER || m == HR_METH_SUBSCRIBE ||
		m == HR_METH_PUBLISH || m == HR_METH_NOTIFY;
}

static const char *const tp_names[HR_TP__N][2] = {
	[HR_TP_UDP] = { "UDP", "udp" },
	[HR_TP_TCP] = { "TCP", "tcp" },
	[HR_TP_TLS] = { "TLS", "tls" },
	[HR_TP_WS] = { "WS", "ws" },
	[HR_TP_WSS] = { "WSS", "wss" },
};

const char *hr_tp_name(enum hr_tp tp)
{
	return tp < HR_TP__N ? tp_names[tp][0] : "UDP";
}

const char *hr_tp_param(enum hr_tp tp)
{
	return tp < HR_TP__N ? tp_names[tp][1] : "udp";
}

int hr_tp_decode(const struct hr_pl *pl, enum hr_tp *tp)
{
	for (int i = 0; i < HR_TP__N; i++) {
		if (!hr_pl_strcasecmp(pl, tp_names[i][1])) {
			*tp = (enum hr_tp)i;
			return 0;
		}
	}
	return EINVAL;
}

void hr_sip_cfg_default(struct hr_sip_cfg *cfg)
{
	cfg->max_msg = HR_SIP_DEFAULT_MAX_MSG;
	cfg->tcp_idle_ms = 300 * 1000;
	cfg->tcp_msg_ms = 64 * HR_SIP_T1;
	cfg->tcp_max_out = 4 * 1024 * 1024;
	cfg->tcp_max_conns = 4096;
	cfg->max_strans = HR_SIP_DEFAULT_MAX_STRANS;
	cfg->src_rate = HR_SIP_DEFAULT_SRC_RATE;
	cfg->src_max_tcp = HR_SIP_DEFAULT_SRC_MAX_TCP;
	cfg->hs_ms = 10 * 1000;
	cfg->overload_lag_ms = HR_SIP_DEFAULT_OVERLOAD_LAG_MS;
	cfg->server = "Herald/" HR_VERSION;
}

const struct hr_sip_cfg *hr_sip_cfg(const struct hr_sip *sip)
{
	return &sip->cfg;
}

struct hr_list *hr_sip_traces(struct hr_sip *sip)
{
	return &sip->traces;
}

struct hr_list *hr_sip_conns(struct hr_sip *sip)
{
	return &sip->conns;
}

struct hr_list *hr_sip_udps(struct hr_sip *sip)
{
	return &sip->udps;
}

struct hr_list *hr_sip_lsnrs(struct hr_sip *sip)
{
	return &sip->lsnrs;
}

struct hr_fpool *hr_sip_trans_pool(struct hr_sip *sip)
{
	return sip->trans_pool;
}

void hr_sip_trim(struct hr_sip *sip)
{
	hr_fpool_trim(sip->trans_pool);
	hr_hash_trim(&sip->strans);
	hr_hash_trim(&sip->ctrans);
}

struct hr_hash *hr_sip_strans_tab(struct hr_sip *sip)
{
	return &sip->strans;
}

struct hr_hash *hr_sip_ctrans_tab(struct hr_sip *sip)
{
	return &sip->ctrans;
}

struct hr_hash *hr_sip_flows(struct hr_sip *sip)
{
	return &sip->flows;
}

struct hr_tls *hr_sip_tls(struct hr_sip *sip)
{
	return sip->tls;
}

int hr_sip_tls_init(struct hr_sip *sip, const char *cert, const char *key,
	const char *client_ca)
{
	struct hr_tls *t;
	int err = hr_tls_alloc(&t, cert, key, client_ca);

	if (err)
		return err;
	hr_mem_deref(sip->tls);
	sip->tls = t;
	return 0;
}

int hr_sip_tls_reload(struct hr_sip *sip)
{
	return sip->tls ? hr_tls_reload(sip->tls) : 0;
}

struct hr_srclim *hr_sip_srclim(struct hr_sip *sip)
{
	return sip->srclim;
}

size_t hr_sip_strans_count(const struct hr_sip *sip)
{
	return sip->strans.n;
}

size_t hr_sip_ctrans_count(const struct hr_sip *sip)
{
	return sip->ctrans.n;
}

size_t hr_sip_conn_count(const struct hr_sip *sip)
{
	return sip->conns.n;
}

/* ---- advertised capabilities ---- */

static void list_add(char *list, const char *item)
{
	size_t n = strlen(list);

	snprintf(list + n, LIST_MAX - n, "%s%s", n ? ", " : "", item);
}

static bool list_has(const char *list, const struct hr_pl *item)
{
	const char *p = list;

	while (*p) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == item->len && !strncasecmp(p, item->p, len))
			return true;
		if (!e)
			break;
		p = e + 2;
	}
	return false;
}

static void opt_hdrs_build(struct hr_sip *sip)
{
	int n = snprintf(sip->opt_hdrs, sizeof(sip->opt_hdrs),
		"Allow: %s\r\nAccept: %s\r\nSupported: %s\r\n", sip->allow,
		sip->accept, sip->supported);

	/* Allow-Events needs at least one package (RFC 6665 8.2.2) */
	if (sip->events[0] && n > 0 && (size_t)n < sizeof(sip->opt_hdrs))
		snprintf(sip->opt_hdrs + n, sizeof(sip->opt_hdrs) - (size_t)n,
			"Allow-Events: %s\r\n", sip->events);
}

void hr_sip_handle(struct hr_sip *sip, enum hr_method meth, hr_req_h *h,
	void *arg)
{
	struct hr_pl name = hr_pl_str(hr_method_name(meth));

	if (meth <= HR_METH_OTHER || meth >= HR_METH__N)
		return;
	sip->hand[meth].h = h;
	sip->hand[meth].arg = arg;
	if (!list_has(sip->allow, &name))
		list_add(sip->allow, name.p);
	opt_hdrs_build(sip);
}

bool hr_sip_handler(const struct hr_sip *sip, enum hr_method meth,
	hr_req_h **h, void **arg)
{
	if (meth <= HR_METH_OTHER || meth >= HR_METH__N || !sip->hand[meth].h)
		return false;
	*h = sip->hand[meth].h;
	*arg = sip->hand[meth].arg;
	return true;
}

int hr_sip_options_answer(struct hr_sip *sip, struct hr_strans *st)
{
	return hr_strans_replyh(st, 200, "OK", sip->opt_hdrs);
}

void hr_sip_supported_add(struct hr_sip *sip, const char *tag)
{
	list_add(sip->supported, tag);
	opt_hdrs_build(sip);
}

void hr_sip_event_add(struct hr_sip *sip, const char *package)
{
	list_add(sip->events, package);
	opt_hdrs_build(sip);
}

void hr_sip_accept_add(struct hr_sip *sip, const char *ctype)
{
	list_add(sip->accept, ctype);
	opt_hdrs_build(sip);
}

void hr_sip_set_send(struct hr_sip *sip, hr_send_h *h, void *arg)
{
	sip->send_h = h;
	sip->send_arg = arg;
}

/* ---- lifetime ---- */

static void sip_destroy(void *data)
{
	struct hr_sip *sip = data;

	hr_sip_close(sip);
	/* a trace outliving the stack no longer points into it */
	while (sip->traces.head)
		hr_list_unlink(sip->traces.head);
	hr_hash_reset(&sip->strans);
	hr_hash_reset(&sip->ctrans);
	hr_hash_reset(&sip->flows);
	hr_mem_deref(sip->trans_pool);
	hr_mem_deref(sip->tls);
	hr_buf_reset(&sip->out);
	/* after the connections, which give their counts back to it */
	hr_mem_deref(sip->srclim);
}

int hr_sip_alloc(struct hr_sip **sipp, const struct hr_sip_cfg *cfg)
{
	struct hr_sip *sip;
	int err;

	sip = hr_mem_zalloc(sizeof(*sip), sip_destroy);
	if (!sip)
		return ENOMEM;
	if (cfg)
		sip->cfg = *cfg;
	else
		hr_sip_cfg_default(&sip->cfg);
	snprintf(sip->server, sizeof(sip->server), "%s",
		sip->cfg.server ? sip->cfg.server : "Herald");
	sip->cfg.server = sip->server;
	hr_buf_init(&sip->out, 4 * 1024 * 1024);
	err = hr_hash_init_grow(&sip->strans, 65536, hr_strans_key);
	if (!err)
		err = hr_hash_init_grow(&sip->ctrans, 65536, hr_ctrans_key);
	if (!err)
		err = hr_hash_init(&sip->flows, 4096);
	if (!err)
		err = hr_fpool_alloc(&sip->trans_pool);
	/* room for four times the connections that can hold an entry */
	if (!err && (sip->cfg.src_rate || sip->cfg.src_max_tcp))
		err = hr_srclim_alloc(&sip->srclim, sip->cfg.src_rate,
			sip->cfg.src_max_tcp, sip->cfg.tcp_max_conns > 4096 ?
			4 * sip->cfg.tcp_max_conns : 16384);
	if (err) {
		hr_mem_deref(sip);
		return err;
	}
	list_add(sip->allow, "OPTIONS");
	list_add(sip->allow, "ACK");
	list_add(sip->allow, "CANCEL");
	opt_hdrs_build(sip);
	*sipp = sip;
	return 0;
}

void hr_sip_close(struct hr_sip *sip)
{
	hr_trans_close_all(sip);
	while (sip->conns.head)
		hr_conn_close(sip->conns.head->data);
	while (sip->lsnrs.head)
		hr_mem_deref(sip->lsnrs.head->data);
	while (sip->udps.head)
		hr_mem_deref(sip->udps.head->data);
}

/* ---- sockets ---- */

/* A host to advertise: a name (RFC 3261 25.1 hostname, checked loosely:
 * letters, digits, '-', '.'), an IPv4 address or a bracketed IPv6 one. */
static bool adv_host_ok(const char *h, size_t n)
{
	char tmp[INET6_ADDRSTRLEN];
	struct in6_addr a6;

	if (!n)
		return false;
	if (h[0] == '[') {
		if (n < 3 || h[n - 1] != ']' || n - 2 >= sizeof(tmp))
			return false;
		memcpy(tmp, h + 1, n - 2);
		tmp[n - 2] = '\0';
		return inet_pton(AF_INET6, tmp, &a6) == 1;
	}
	for (size_t i = 0; i < n; i++) {
		if (!isalnum((unsigned char)h[i]) && h[i] != '-' &&
		    h[i] != '.')
			return false;
	}
	return true;
}

/* "host[:port]" into ls->adv_host and ls->adv_port. */
static int adv_decode(struct hr_listen *ls, const char *v, size_t n)
{
	const char *close = n && v[0] == '[' ? memchr(v, ']', n) : NULL;
	const char *colon = memchr(close ? close : v, ':',
		n - (size_t)((close ? close : v) - v));
	size_t hlen = colon ? (size_t)(colon - v) : n;
	unsigned long port = 0;

	if (hlen >= sizeof(ls->adv_host) || !adv_host_ok(v, hlen))
		return EINVAL;
	if (colon) {
		char num[8], *end;
		size_t plen = n - hlen - 1;

		if (!plen || plen >= sizeof(num))
			return EINVAL;
		memcpy(num, colon + 1, plen);
		num[plen] = '\0';
		port = strtoul(num, &end, 10);
		if (*end || !isdigit((unsigned char)num[0]) || !port ||
		    port > 65535)
			return EINVAL;
	}
	memcpy(ls->adv_host, v, hlen);
	ls->adv_host[hlen] = '\0';
	ls->adv_port = (uint16_t)port;
	return 0;
}

/* ";name=value" parameters after the address: advertise only. */
static int listen_params(struct hr_listen *ls, const char *p)
{
	while (*p == ';') {
		const char *end = strchr(p + 1, ';');
		size_t len = end ? (size_t)(end - p - 1) : strlen(p + 1);
		int err;

		if (len <= 10 || strncasecmp(p + 1, "advertise=", 10))
			return EINVAL;
		err = adv_decode(ls, p + 11, len - 10);
		if (err)
			return err;
		p += 1 + len;
	}
	return *p ? EINVAL : 0;
}

/* "PROTO:ADDR[;params]", PROTO one of "udp:", "tcp:", "tls:", "ws:",
 * "wss:" (any case) */
int hr_sip_listen_decode(struct hr_listen *ls, const char *spec)
{
	char addr[HR_SA_STRLEN];
	const char *semi;
	size_t n;
	int err;

	memset(ls, 0, sizeof(*ls));
	semi = strchr(spec, ':');
	if (!semi || hr_tp_decode(&(struct hr_pl){ spec,
		(size_t)(semi - spec) }, &ls->tp))
		return EINVAL;
	spec = semi + 1;
	semi = strchr(spec, ';');
	n = semi ? (size_t)(semi - spec) : strlen(spec);
	if (n >= sizeof(addr))
		return EINVAL;
	memcpy(addr, spec, n);
	addr[n] = '\0';
	err = hr_sa_decode(&ls->laddr, addr);
	if (!err && semi)
		err = listen_params(ls, semi);
	return err;
}

int hr_sip_adv_make(char **advp, const char *host, uint16_t port,
	const struct hr_sa *laddr)
{
	size_t n;

	*advp = NULL;
	if (!host || !*host)
		return 0;
	n = strlen(host) + 7;
	*advp = hr_mem_alloc(n, NULL);
	if (!*advp)
		return ENOMEM;
	snprintf(*advp, n, "%s:%u", host, port ? port : hr_sa_port(laddr));
	return 0;
}

int hr_sip_listen(struct hr_sip *sip, enum hr_tp tp, struct hr_sa *laddr,
	const char *adv_host, uint16_t adv_port)
{
	if (tp == HR_TP_UDP)
		return hr_udp_alloc(NULL, sip, laddr, adv_host, adv_port);
	return hr_tcp_listen(NULL, sip, tp, laddr, adv_host, adv_port);
}

/* ---- sending ---- */

/* A socket bound to la, or to the wildcard address on la's port. */
static bool udp_has(const struct hr_udp *u, const struct hr_sa *la)
{
	const struct hr_sa *ua = hr_udp_laddr(u);

	if (ua->u.sa.sa_family != la->u.sa.sa_family ||
	    hr_sa_port(ua) != hr_sa_port(la))
		return false;
	return hr_sa_isany(ua) || hr_sa_eq(ua, la);
}

/* The UDP socket to send from: the one named, else the one that has the
 * dialog's local address, else the first of the destination's family. */
static struct hr_udp *udp_for(struct hr_sip *sip, const struct hr_dest *dst)
{
	struct hr_udp *any = NULL;

	if (dst->sock)
		return dst->sock;
	for (struct hr_le *le = sip->udps.head; le; le = le->next) {
		struct hr_udp *u = le->data;

		if (dst->laddr.len && udp_has(u, &dst->laddr))
			return u;
		if (!any && hr_udp_laddr(u)->u.sa.sa_family ==
		    dst->addr.u.sa.sa_family)
			any = u;
	}
	return any;
}

/* The connection named, else an open one to the address, else a new one
 * (RFC 3261 18.1.1 for requests, 18.2.2 for responses whose connection
 * closed): TCP only, a TLS or WebSocket peer is reached over the
 * connection it opened or not at all (RFC 5626). */
static int send_tcp(struct hr_sip *sip, const struct hr_dest *dst,
	const char *p, size_t len, struct hr_conn **used)
{
	struct hr_conn *conn = hr_conn_isopen(dst->conn) ? dst->conn : NULL;
	int err;

	if (!conn && dst->addr.len)
		conn = hr_conn_find(sip, dst->tp, &dst->addr);
	if (!conn) {
		if (!dst->addr.len || hr_tp_flow_only(dst->tp))
			return ENOTCONN;
		err = hr_conn_connect(&conn, sip, &dst->addr);
		if (err)
			return err;
	}
	if (used)
		*used = conn;
	return hr_conn_send(conn, p, len);
}

int hr_sip_send(struct hr_sip *sip, const struct hr_dest *dst,
	const char *p, size_t len)
{
	return hr_sip_send_req(sip, dst, p, len, NULL, NULL);
}

static int send_any(struct hr_sip *sip, const struct hr_dest *dst,
	const char *p, size_t len, const char *branch, struct hr_conn **used)
{
	struct hr_udp *u;

	if (sip->send_h)
		return sip->send_h(dst->tp, &dst->addr, dst->conn, p, len,
			sip->send_arg);
	if (hr_tp_reliable(dst->tp))
		return send_tcp(sip, dst, p, len, used);
	u = udp_for(sip, dst);
	if (!u)
		return EAFNOSUPPORT;
	return hr_udp_send(u, &dst->addr, &dst->laddr, p, len, branch);
}

/* A queued datagram is traced when queued, as what Herald sends; one
 * that then fails to leave is reported by its transaction. */
int hr_sip_send_req(struct hr_sip *sip, const struct hr_dest *dst,
	const char *p, size_t len, const char *branch, struct hr_conn **used)
{
	struct hr_conn *conn = NULL;
	int err = send_any(sip, dst, p, len, branch, &conn);

	if (!err && sip->traces.head)
		hr_sip_trace_out(sip, dst->tp, conn ? hr_conn_peer(conn) :
			&dst->addr, p, len);
	if (used && conn)
		*used = conn;
	return err;
}

static struct hr_tcp_lsnr *lsnr_for(struct hr_sip *sip, enum hr_tp tp,
	sa_family_t af)
{
	for (struct hr_le *le = sip->lsnrs.head; le; le = le->next) {
		if (hr_tcp_lsnr_laddr(le->data)->u.sa.sa_family == af &&
		    hr_tcp_lsnr_tp(le->data) == tp)
			return le->data;
	}
	return NULL;
}

/*
 * What a socket advertises: its advertise=, else the local address of
 * the dialog or request (a socket bound to a wildcard address learns it
 * per message), else the socket's own address.
 */
static int advertise(const char *adv, const struct hr_sa *la,
	const struct hr_sa *sock, char *out, size_t n)
{
	if (adv) {
		snprintf(out, n, "%s", adv);
		return 0;
	}
	if (la && la->len && !hr_sa_isany(la)) {
		hr_sa_print(la, out, n);
		return 0;
	}
	if (sock && sock->len) {
		hr_sa_print(sock, out, n);
		return hr_sa_isany(sock) ? ENOENT : 0;
	}
	snprintf(out, n, "herald.invalid");
	return ENOENT;
}

int hr_sip_advertise(struct hr_sip *sip, const struct hr_dest *dst,
	char *out, size_t n)
{
	sa_family_t af = dst->laddr.len ? dst->laddr.u.sa.sa_family :
		dst->addr.u.sa.sa_family;
	struct hr_tcp_lsnr *l;
	struct hr_udp *u;

	if (hr_tp_reliable(dst->tp) && hr_conn_isopen(dst->conn))
		return advertise(hr_conn_adv(dst->conn), &dst->laddr,
			hr_conn_laddr(dst->conn), out, n);
	if (hr_tp_reliable(dst->tp)) {
		/* a new connection: our listener is where replies may come
		 * (RFC 3261 18.1.1) */
		l = lsnr_for(sip, dst->tp, af);
		return advertise(l ? hr_tcp_lsnr_adv(l) : NULL, &dst->laddr,
			l ? hr_tcp_lsnr_laddr(l) : NULL, out, n);
	}
	u = udp_for(sip, dst);
	return advertise(u ? hr_udp_adv(u) : NULL, &dst->laddr,
		u ? hr_udp_laddr(u) : NULL, out, n);
}

void hr_sip_contact_print(char *out, size_t n, const char *host,
	enum hr_tp tp, bool sips)
{
	char param[24] = "";

	/* RFC 5630 3.1.3: SIPS over TLS implies it, no transport=tls */
	if (tp != HR_TP_UDP && !(sips && tp == HR_TP_TLS))
		snprintf(param, sizeof(param), ";transport=%s",
			hr_tp_param(tp));
	snprintf(out, n, "<%s:%s%s>", sips ? "sips" : "sip", host, param);
}

int hr_sip_contact_for(struct hr_sip *sip, const char *transport,
	sa_family_t af, bool sips, char *out, size_t n)
{
	struct hr_pl pl = hr_pl_str(transport);
	struct hr_dest d = { 0 };
	char host[HR_ADV_MAX];
	int err;

	if (hr_tp_decode(&pl, &d.tp))
		return EINVAL;
	d.addr.u.sa.sa_family = af;
	/* no request: a wildcard socket without advertise= names nothing */
	err = hr_sip_advertise(sip, &d, host, sizeof(host));
	if (!err)
		hr_sip_contact_print(out, n, host, d.tp,
			sips && hr_tp_secure(d.tp));
	return err;
}

void hr_sip_resp_dest(const struct hr_msg *req, struct hr_dest *dst)
{
	const struct hr_via *via = &req->via;
	char host[64];

	memset(dst, 0, sizeof(*dst));
	dst->tp = req->tp;
	dst->conn = req->conn;
	dst->sock = req->sock;
	dst->addr = req->src;
	/* RFC 3581 4: sent from the address the request came to */
	dst->laddr = req->dst;
	/* RFC 3261 18.2.2: streams answer on the same connection; if it
	 * closed, on a new one to the source address and the sent-by port */
	if (hr_tp_reliable(req->tp)) {
		hr_sa_set_port(&dst->addr, via->port ? via->port : 5060);
		return;
	}
	/* maddr, when it is an address (no resolver on this path) */
	if (via->maddr.len && !hr_pl_strcpy(&via->maddr, host, sizeof(host))
	    && !hr_sa_set(&dst->addr, host, via->port ? via->port : 5060))
		return;
	/* RFC 3581 4: rport → the source port; otherwise the sent-by port
	 * at the source address (the received address) */
	if (!via->rport)
		hr_sa_set_port(&dst->addr, via->port ? via->port : 5060);
}

struct hr_sip_stats *hr_sip_counters(struct hr_sip *sip)
{
	return &sip->stats;
}

void hr_sip_stats(const struct hr_sip *sip, struct hr_sip_stats *st)
{
	*st = sip->stats;
	st->strans = sip->strans.n;
	st->sources = hr_srclim_count(sip->srclim);
}

const uint64_t hr_sip_lag_bounds[] = { 1000, 5000, 10000, 50000, 100000,
	200000, 500000, 1000000, 5000000 };
_Static_assert(sizeof(hr_sip_lag_bounds) ==
	(HR_SIP_LAG_BUCKETS - 1) * sizeof(uint64_t), "lag buckets");

static void count_lag(struct hr_sip_stats *s, uint32_t us)
{
	unsigned i = 0;

	while (i < HR_SIP_LAG_BUCKETS - 1 && us > hr_sip_lag_bounds[i])
		i++;
	s->lag[i]++;
	s->lag_us_sum += us;
}

int hr_sip_reply(struct hr_sip *sip, const struct hr_msg *req,
	const struct hr_resp *resp)
{
	struct hr_dest dst;
	int err;

	sip->out.len = 0;
	err = hr_resp_print(&sip->out, req, resp, sip->server);
	if (err)
		return err;
	hr_sip_count_resp(sip, req, resp);
	hr_sip_resp_dest(req, &dst);
	return hr_sip_send(sip, &dst, sip->out.b, sip->out.len);
}

static void replys(struct hr_sip *sip, const struct hr_msg *req,
	uint16_t scode, const char *reason, const char *hdrs)
{
	struct hr_resp resp = { .scode = scode, .reason = reason,
		.hdrs = hr_pl_str(hdrs ? hdrs : "") };
	int err = hr_sip_reply(sip, req, &resp);

	if (err)
		HR_DEBUG("reply %u: %s", scode, hr_strerror(err));
}

/* A request the parser refused: 400, or 505, 513; the 5xx and the
 * refusals by a limit are logged with their cause (fail.c) */
static void reply_bad(struct hr_sip *sip, const struct hr_msg *msg)
{
	struct hr_resp resp = { .scode = msg->err_scode,
		.reason = msg->err_reason };

	if (msg->err_scode >= 500 || msg->err_limit) {
		resp.where = "sip: parser";
		resp.why = msg->err_limit;
	}
	if (msg->err_scode == 513)
		resp.why = "over --max-message-size";
	else if (msg->err_scode == 505)
		resp.why = "not SIP/2.0";
	else if (msg->err_scode == 500)
		resp.err = ENOMEM;
	hr_sip_reply(sip, msg, &resp);
}

/* ---- the router ---- */

/* RFC 3261 8.2.2.3: option tags in Require that we do not support. */
static bool unsupported(struct hr_sip *sip, const struct hr_msg *req,
	char *out, size_t n)
{
	size_t len = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < req->hdrc; i++) {
		const struct hr_hdr *h = &req->hdrv[i];

		if (h->id != HR_HDR_REQUIRE || list_has(sip->supported, &h->val))
			continue;
		len += (size_t)snprintf(out + len, len < n ? n - len : 0,
			"Unsupported: %.*s\r\n", HR_PL_ARG(h->val));
	}
	return len > 0 && len < n;
}

static void not_implemented(struct hr_strans *st, const struct hr_msg *req,
	void *arg)
{
	(void)req;
	(void)arg;
	hr_strans_fail_as(st, 501, "Not Implemented", NULL, "sip: router",
		"no handler for the method");
}

/* RFC 3261 21.5.4: 503 with Retry-After, without a transaction (8.2.7):
 * the server cannot take the request now. */
static void unavailable_for(struct hr_sip *sip, const struct hr_msg *req,
	unsigned retry_s, const char *where, const char *why)
{
	char hdr[32];
	struct hr_resp resp = { .scode = 503,
		.reason = "Service Unavailable", .where = where, .why = why };

	snprintf(hdr, sizeof(hdr), "Retry-After: %u\r\n", retry_s);
	resp.hdrs = hr_pl_str(hdr);
	hr_sip_reply(sip, req, &resp);
}

static void unavailable(struct hr_sip *sip, const struct hr_msg *req,
	const char *where, const char *why)
{
	unavailable_for(sip, req, 5, where, why);
}

static void transact(struct hr_sip *sip, struct hr_msg *msg)
{
	struct handler *hd = &sip->hand[msg->meth];
	struct hr_strans *st;
	int err;

	/* each holds up to ~1 kB for 32 s (Timer J): bound the sum */
	if (sip->strans.n >= sip->cfg.max_strans) {
		unavailable(sip, msg, "sip: transaction limit",
			"over --max-transactions");
		return;
	}
	err = hr_strans_alloc(&st, sip, msg);
	if (err) {
		struct hr_resp resp = { .scode = 500,
			.reason = "Server Internal Error",
			.where = "sip: server transaction", .err = err };

		hr_sip_reply(sip, msg, &resp);
		return;
	}
	/* held across the handler: a final response may end the
	 * transaction inside it */
	hr_mem_ref(st);
	if (hd->h)
		hd->h(st, msg, hd->arg);
	else
		not_implemented(st, msg, NULL);
	/* RFC 3261 17.2.1: 100 unless the TU answers within 200 ms; one
	 * that has not answered yet may take longer */
	if (msg->meth == HR_METH_INVITE &&
	    hr_strans_state(st) == HR_STRANS_TRYING)
		hr_strans_replys(st, 100, "Trying");
	hr_mem_deref(st);
}

/* A method that only has meaning in a dialog Herald is not in: BYE (RFC
 * 3261 15.1.2), PRACK (RFC 3262 3: Herald sends no reliable provisional
 * response to acknowledge), and INFO and UPDATE when their To-tag names
 * a dialog (RFC 3261 12.2.2; a subscription's dialog has no invite usage
 * for them, RFC 5057 5). Out of a dialog INFO and UPDATE get 405. */
static bool needs_dialog(const struct hr_sip *sip, const struct hr_msg *req)
{
	if (sip->hand[req->meth].h)
		return false;
	switch (req->meth) {
	case HR_METH_BYE:
	case HR_METH_PRACK:
		return true;
	case HR_METH_INFO:
	case HR_METH_UPDATE:
		return req->to.tag.p != NULL;
	default:
		return false;
	}
}

static void route(struct hr_sip *sip, struct hr_msg *msg)
{
	char hdrs[LIST_MAX + 16];
	enum hr_method m = msg->meth;

	sip->stats.requests[m]++;
	/* RFC 3261 8.2.1: method inspection first */
	if (m == HR_METH_OTHER) {
		struct hr_resp resp = { .scode = 501,
			.reason = "Not Implemented", .where = "sip: router",
			.why = "a method Herald does not know" };

		hr_sip_reply(sip, msg, &resp);
		return;
	}
	if (m != HR_METH_OPTIONS && !sip->hand[m].h && !routed(m) &&
	    !needs_dialog(sip, msg)) {
		snprintf(hdrs, sizeof(hdrs), "Allow: %s\r\n", sip->allow);
		replys(sip, msg, 405, "Method Not Allowed", hdrs);
		return;
	}
	/* RFC 3261 8.2.2.1 */
	if (msg->ruri.scheme == HR_URI_OTHER) {
		replys(sip, msg, 416, "Unsupported URI Scheme", NULL);
		return;
	}
	if (unsupported(sip, msg, hdrs, sizeof(hdrs))) {
		replys(sip, msg, 420, "Bad Extension", hdrs);
		return;
	}
	/* RFC 3261 16.3 step 3: at zero, only OPTIONS may still be answered
	 * by its final recipient (RFC 3261 11) */
	if (msg->maxfwd == 0 && m != HR_METH_OPTIONS) {
		replys(sip, msg, 483, "Too Many Hops", NULL);
		return;
	}
	if (needs_dialog(sip, msg)) {
		replys(sip, msg, 481, "Call/Transaction Does Not Exist", NULL);
		return;
	}
	/* RFC 3261 11.2 / 8.2.7: OPTIONS is answered statelessly; the To-tag
	 * is derived from the request, so a retransmission gets the same
	 * bytes without keeping a transaction per keep-alive ping */
	if (m == HR_METH_OPTIONS && !sip->hand[m].h) {
		replys(sip, msg, 200, "OK", sip->opt_hdrs);
		return;
	}
	transact(sip, msg);
}

/*
 * Over its source's rate: a few 503s a second tell a client that is only
 * too busy to back off (RFC 3261 21.5.4) and say why in the log; the
 * rest is dropped, since answering each would double what a flood costs
 * and send it back to a source that may be forged. False: drop it.
 */
static bool within_rate(struct hr_sip *sip, const struct hr_msg *msg)
{
	enum hr_srclim_verdict v = hr_srclim_request(sip->srclim, &msg->src);

	if (v == HR_SRC_PASS)
		return true;
	/* a request without a usable Via, or an ACK: nothing to answer */
	if (v == HR_SRC_REFUSE && msg->has_via && msg->meth != HR_METH_ACK)
		unavailable(sip, msg, "sip: per-source limit",
			"over --max-requests-per-source");
	else
		sip->stats.src_dropped++;
	return false;
}

/* RFC 3261 9.2: a matched CANCEL gets its 200, then an INVITE without
 * its final response its 487; a non-INVITE transaction is not cancelled.
 * No match: 481. */
static void cancel(struct hr_sip *sip, const struct hr_msg *msg)
{
	struct hr_strans *st = hr_strans_find(sip, msg, true);

	if (!st) {
		replys(sip, msg, 481, "Call/Transaction Does Not Exist", NULL);
		return;
	}
	replys(sip, msg, 200, "OK", NULL);
	if (hr_strans_cancelable(st))
		hr_strans_replys(st, 487, "Request Terminated");
}

static bool has_credentials(const struct hr_msg *msg)
{
	for (unsigned i = 0; i < msg->hdrc; i++) {
		if (msg->hdrv[i].id == HR_HDR_AUTHORIZATION ||
		    msg->hdrv[i].id == HR_HDR_PROXY_AUTHORIZATION)
			return true;
	}
	return false;
}

/* Whether to take one more of a share that rises with the lag: none up
 * to from, all from from + span, in between (lag - from) / span of them,
 * spread evenly (the share left over is carried in acc, no dice). */
static bool take_share(uint64_t *acc, uint64_t lag, uint64_t from,
	uint64_t span)
{
	if (lag <= from)
		return false;
	if (lag >= from + span)
		return true;
	*acc += lag - from;
	if (*acc < span)
		return false;
	*acc -= span;
	return true;
}

/*
 * Overload (RFC 6357): past its capacity a UDP server that queues every
 * request answers each one too late; its clients send them again on
 * Timer E, the copies crowd out new work, and goodput collapses. A
 * request that starts new work and waited in the socket's queue longer
 * than overload_lag_ms (L) is answered at once, without a transaction,
 * with a 503 whose Retry-After (RFC 3261 21.5.4) ends its client
 * transaction: no copies follow. What finishes work already started goes
 * ahead: ACKs, responses, copies of requests being handled or answered
 * (matched before this), CANCELs and in-dialog requests (a To-tag) are
 * never shed, nor an OPTIONS Herald answers without a transaction;
 * requests with credentials, the second half of a challenge, only past
 * 2 L.
 *
 * The share shed rises with the lag, from none at L to all at 2 L (3 L
 * with credentials), spread evenly: shedding every new request as soon
 * as the lag passed L emptied the queue in one sweep, turning away many
 * more than the excess and leaving Herald idle until the queue filled
 * again (at 1 x its clean maximum a fifth of the registrations got 503
 * while it had room for them all). A steady overload finds the lag
 * where the share shed matches the excess. While the socket's queue is
 * over half full every new request without credentials is shed, whatever
 * its lag: a receive buffer that net.core.rmem_max keeps small, or a
 * high rate, would have the kernel drop them first. The Retry-After is
 * spread over 2 to 9 s so that the clients turned away together do not
 * come back together.
 */
static bool shed(struct hr_sip *sip, const struct hr_msg *msg)
{
	uint64_t lim = (uint64_t)sip->cfg.overload_lag_ms * 1000;
	char why[96];

	if (!lim || (msg->lag_us <= lim && !msg->queue_full) ||
	    msg->to.tag.p || msg->meth == HR_METH_CANCEL ||
	    (msg->meth == HR_METH_OPTIONS && !sip->hand[HR_METH_OPTIONS].h))
		return false;
	if (has_credentials(msg) ?
	    !take_share(&sip->shed_cred, msg->lag_us, 2 * lim, lim) :
	    !msg->queue_full &&
	    !take_share(&sip->shed_new, msg->lag_us, lim, lim))
		return false;
	sip->stats.shed++;
	if (msg->lag_us > lim)
		snprintf(why, sizeof(why), "waited %u ms in the socket's "
			"queue, over --overload-lag %u ms", msg->lag_us / 1000,
			sip->cfg.overload_lag_ms);
	else
		snprintf(why, sizeof(why), "the socket's queue over half "
			"full (waited %u ms)", msg->lag_us / 1000);
	unavailable_for(sip, msg, 2 + (unsigned)(hr_rand_u64() % 8),
		"sip: overload", why);
	return true;
}

static void recv_request(struct hr_sip *sip, struct hr_msg *msg)
{
	struct hr_strans *st;

	if (!within_rate(sip, msg))
		return;
	if (msg->err_scode) {
		/* no usable Via: no way to route a response; drop it */
		if (msg->has_via)
			reply_bad(sip, msg);
		else
			HR_DEBUG("dropped request: %s", msg->err_reason);
		return;
	}
	st = hr_strans_find(sip, msg, false);
	/* RFC 3261 17.2.1: the ACK of a 3xx-6xx goes to its INVITE's
	 * transaction; one for a response sent statelessly ends here */
	if (msg->meth == HR_METH_ACK) {
		if (st)
			hr_strans_ack(st);
		return;
	}
	if (st) {
		hr_strans_retransmit(st);
		return;
	}
	if (shed(sip, msg))
		return;
	if (msg->meth == HR_METH_CANCEL) {
		cancel(sip, msg);
		return;
	}
	route(sip, msg);
}

void hr_sip_recv(struct hr_sip *sip, struct hr_msg *msg)
{
	if (sip->traces.head)
		hr_sip_trace_in(sip, msg);
	if (msg->tp == HR_TP_UDP)
		count_lag(&sip->stats, msg->lag_us);
	if (msg->req)
		recv_request(sip, msg);
	else if (msg->err_scode || !msg->has_via)
		HR_DEBUG("dropped malformed response: %s", msg->err_reason);
	else if (!hr_ctrans_recv(sip, msg))
		HR_DEBUG("dropped response matching no transaction");
	hr_mem_deref(msg);
}

void hr_sip_recv_raw(struct hr_sip *sip, enum hr_tp tp, const char *p,
	size_t len, const struct hr_sa *src, const struct hr_sa *dst)
{
	struct hr_msg *msg;

	if (hr_msg_decode(&msg, p, len, hr_tp_reliable(tp)))
		return;
	msg->tp = tp;
	if (src)
		msg->src = *src;
	if (dst)
		msg->dst = *dst;
	hr_sip_recv(sip, msg);
}
