/* Private to server/sip: scanner helpers and internal hooks. */
#ifndef HR_SIP_INT_H
#define HR_SIP_INT_H

#include "sip.h"

/* Character classes of RFC 3261 25.1, one table lookup each. */
enum {
	CC_TOKEN = 1,     /* token */
	CC_WORD = 2,      /* word (Call-ID) */
	CC_UNRES = 4,     /* unreserved: alphanum / mark */
	CC_HOST = 8,      /* hostname / IPv4: alphanum, '-', '.', '_' */
	CC_DIGIT = 16,
	CC_HEX = 32,
	CC_USERX = 64,    /* user-unreserved "&=+$,;?/" and '#' */
	CC_PARAMX = 128,  /* param-unreserved "[]/:&+$" and "=;" */
};

extern const unsigned char hr_cc[256];

static inline bool cc_is(char c, unsigned cls)
{
	return hr_cc[(unsigned char)c] & cls;
}

static inline bool is_ws(char c)
{
	return c == ' ' || c == '\t';
}

/* LWS inside a header value: a folded line keeps its CRLF (STYLE.md:
 * nothing writes into the receive buffer), so CR and LF count as blank. */
static inline bool is_lws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A cursor over a slice. Every scanner takes a maximum (curl strparse). */
struct cur {
	const char *p;
	const char *end;
};

static inline void cur_init(struct cur *c, const struct hr_pl *pl)
{
	c->p = pl->p;
	c->end = pl->p + pl->len;
}

static inline bool cur_eof(const struct cur *c)
{
	return c->p >= c->end;
}

static inline void cur_skip_lws(struct cur *c)
{
	while (c->p < c->end && is_lws(*c->p))
		c->p++;
}

/* Consume ch after optional LWS on both sides (SEMI, EQUAL, COMMA...). */
bool hr_cur_sep(struct cur *c, char ch);
/* Scan 1..max token characters. */
int hr_cur_token(struct cur *c, struct hr_pl *tok, size_t max);
/* Scan a quoted-string; tok gets the inside (escapes kept). */
int hr_cur_quoted(struct cur *c, struct hr_pl *tok, size_t max);
/* Scan a host: "[v6]" (brackets dropped, *ipv6 set) or hostname/IPv4. */
int hr_cur_host(struct cur *c, struct hr_pl *host, bool *ipv6);
/* Scan ":port" if present: 0, or EBADMSG for a bad port. */
int hr_cur_port(struct cur *c, uint16_t *port);
/*
 * Scan generic parameters *( SEMI token [ EQUAL gen-value ] ) up to the
 * end, validating them; params gets the whole run from the first ';'.
 */
int hr_cur_params(struct cur *c, struct hr_pl *params);

/* Next ";name[=value]" of a parameter list: 0, or ENOENT at the end. */
int hr_param_next(struct cur *c, struct hr_pl *name, struct hr_pl *val);

/* UTF-8 validity, and whether a NUL byte was seen, in one pass. */
bool hr_utf8_valid_nonul(const char *s, size_t n, bool *nul);

/* Limits of single elements. */
#define HR_TOKEN_MAX 256
#define HR_QUOTED_MAX 1024

/* Transport hooks used by the stack. */
struct hr_udp;
struct hr_tcp_lsnr;

/*
 * The advertised "host:port" (an hr_mem string) of a socket bound to
 * laddr: port 0 takes laddr's. *advp is NULL when host is NULL or "".
 */
int hr_sip_adv_make(char **advp, const char *host, uint16_t port,
	const struct hr_sa *laddr);
/* adv_host, adv_port: what hr_sip_listen() was given */
int hr_udp_alloc(struct hr_udp **up, struct hr_sip *sip, struct hr_sa *laddr,
	const char *adv_host, uint16_t adv_port);
/* A client transaction's branch with its NUL: "z9hG4bK" and 20 more. */
#define HR_BRANCH_SIZE 32
/* Queue a datagram for this turn of the loop (udp.c). src: the source
 * address when the socket is bound to a wildcard one (len 0: the
 * kernel's choice). branch: the client transaction whose request it is,
 * which fails if the send does (hr_ctrans_send_failed), or NULL. */
int hr_udp_send(struct hr_udp *u, const struct hr_sa *dst,
	const struct hr_sa *src, const char *p, size_t len, const char *branch);
const struct hr_sa *hr_udp_laddr(const struct hr_udp *u);
const char *hr_udp_adv(const struct hr_udp *u);
/* tp: TCP, TLS, WS or WSS (TLS and WSS need hr_sip_tls_init() first) */
int hr_tcp_listen(struct hr_tcp_lsnr **lp, struct hr_sip *sip, enum hr_tp tp,
	struct hr_sa *laddr, const char *adv_host, uint16_t adv_port);
const struct hr_sa *hr_tcp_lsnr_laddr(const struct hr_tcp_lsnr *l);
enum hr_tp hr_tcp_lsnr_tp(const struct hr_tcp_lsnr *l);
const char *hr_tcp_lsnr_adv(const struct hr_tcp_lsnr *l);
int hr_conn_send(struct hr_conn *conn, const char *p, size_t len);
const struct hr_sa *hr_conn_laddr(const struct hr_conn *conn);
const struct hr_sa *hr_conn_peer(const struct hr_conn *conn);
const char *hr_conn_adv(const struct hr_conn *conn);
void hr_conn_close(struct hr_conn *conn);
/* An open connection of transport tp to peer, or NULL. */
struct hr_conn *hr_conn_find(struct hr_sip *sip, enum hr_tp tp,
	const struct hr_sa *peer);
/* The flows (flow.c) registered over conn. */
struct hr_list *hr_conn_flows(struct hr_conn *conn);
/* Keep conn open through idleness for secs more (a registered flow). */
void hr_conn_keep(struct hr_conn *conn, uint32_t secs);
/* Open a connection to peer (RFC 3261 18.1.1); the list owns it. */
int hr_conn_connect(struct hr_conn **connp, struct hr_sip *sip,
	const struct hr_sa *peer);

/* TLS (tls.c): the server context, made again on reload. */
struct hr_tls;
struct ssl_st;
int hr_tls_alloc(struct hr_tls **tp, const char *cert, const char *key,
	const char *client_ca);
int hr_tls_reload(struct hr_tls *t);
/* A new server-side SSL for one connection, or NULL. */
struct ssl_st *hr_tls_ssl(struct hr_tls *t);
/* The stack's TLS, or NULL when hr_sip_tls_init() was not called. */
struct hr_tls *hr_sip_tls(struct hr_sip *sip);

/* Flows (flow.c): the table, and dropping a closed connection's. */
struct hr_hash *hr_sip_flows(struct hr_sip *sip);
void hr_flows_drop(struct hr_list *flows);

/* The stack's parts seen by transports and transactions. */
const struct hr_sip_cfg *hr_sip_cfg(const struct hr_sip *sip);
/* The counters, to add to (core thread). */
struct hr_sip_stats *hr_sip_counters(struct hr_sip *sip);
/* A response to req went out: counted; a 5xx is logged at warn with its
 * cause (fail.c). */
void hr_sip_count_resp(struct hr_sip *sip, const struct hr_msg *req,
	const struct hr_resp *resp);
/* The traces running (trace.c), and a message to them. */
struct hr_list *hr_sip_traces(struct hr_sip *sip);
void hr_sip_trace_in(struct hr_sip *sip, const struct hr_msg *msg);
void hr_sip_trace_out(struct hr_sip *sip, enum hr_tp tp,
	const struct hr_sa *peer, const char *p, size_t len);
struct hr_list *hr_sip_conns(struct hr_sip *sip);
struct hr_list *hr_sip_udps(struct hr_sip *sip);
struct hr_list *hr_sip_lsnrs(struct hr_sip *sip);

/* Send a client transaction's request (branch), telling which connection
 * carried it (TCP). Over UDP it is queued: an error may come later, to
 * the transaction (hr_ctrans_send_failed). */
int hr_sip_send_req(struct hr_sip *sip, const struct hr_dest *dst,
	const char *p, size_t len, const char *branch, struct hr_conn **used);
/* A connection closed: its client transactions fail at once. */
void hr_ctrans_conn_lost(struct hr_sip *sip, const struct hr_conn *conn);
/* The request of branch could not be sent (err): its transaction fails,
 * if it is still there and waiting (RFC 3261 8.1.3.1). */
void hr_ctrans_send_failed(struct hr_sip *sip, const char *branch, int err);

/* Limits per source address (srclim.c). */
struct hr_srclim;

enum hr_srclim_verdict {
	HR_SRC_PASS,       /* within the limit */
	HR_SRC_REFUSE,     /* over it: answer 503 */
	HR_SRC_DROP,       /* over it, and told enough this second: drop */
};

/**
 * A table of at least size sources (rounded up to a power of two): rate
 * requests a second and max_tcp accepted connections each (0: no
 * limit). 0 or ENOMEM.
 */
int hr_srclim_alloc(struct hr_srclim **slp, unsigned rate, unsigned max_tcp,
	unsigned size);
/** A request from src: may it pass? (sl NULL: yes) */
enum hr_srclim_verdict hr_srclim_request(struct hr_srclim *sl,
	const struct hr_sa *src);
/** A connection accepted from src: 0 and *slot to give back on close (0
 * when not counted), or EBUSY when src has max_tcp open. */
int hr_srclim_conn_open(struct hr_srclim *sl, const struct hr_sa *src,
	uint32_t *slot);
/** A counted connection closed. */
void hr_srclim_conn_close(struct hr_srclim *sl, uint32_t slot);
/** Entries holding a source. */
size_t hr_srclim_count(const struct hr_srclim *sl);
/** The stack's table. */
struct hr_srclim *hr_sip_srclim(struct hr_sip *sip);

/* Transactions. */
struct hr_strans *hr_strans_find(struct hr_sip *sip, const struct hr_msg *req,
	bool cancel);
void hr_strans_retransmit(struct hr_strans *st);
/* The ACK of an INVITE transaction's 3xx-6xx came (RFC 3261 17.2.1). */
void hr_strans_ack(struct hr_strans *st);
/* An INVITE without its final response yet: a CANCEL ends it (9.2). */
bool hr_strans_cancelable(const struct hr_strans *st);
int hr_strans_alloc(struct hr_strans **stp, struct hr_sip *sip,
	struct hr_msg *req);
bool hr_ctrans_recv(struct hr_sip *sip, const struct hr_msg *resp);
void hr_trans_close_all(struct hr_sip *sip);
void hr_ctrans_terminate(void *ct);
struct hr_hash *hr_sip_strans_tab(struct hr_sip *sip);
struct hr_hash *hr_sip_ctrans_tab(struct hr_sip *sip);
/* A transaction's key in its table (which grows, hr_hash_init_grow). */
uint32_t hr_strans_key(const void *st);
uint32_t hr_ctrans_key(const void *ct);

/* where server transactions are kept, with their match key and response */
struct hr_fpool *hr_sip_trans_pool(struct hr_sip *sip);

#endif
