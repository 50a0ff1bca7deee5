/*
 * Herald SIP layer: message parser and printer, URIs and headers,
 * transports (UDP, TCP), transactions, the method router and dialogs.
 * Knows core; never registrar, events or SQL.
 */
#ifndef HR_SIP_H
#define HR_SIP_H

#include "core/core.h"

/* RFC 3261 17.1.1.1 timer values, in ms. */
#define HR_SIP_T1 500
#define HR_SIP_T2 4000
#define HR_SIP_T4 5000

#define HR_SIP_MAX_HDRS 256      /* header values in one message (a list
				  * header's elements each count; the
				  * index of a first one is a uint8_t) */
#define HR_SIP_DEFAULT_MAX_MSG 65535
/* live server transactions: REGISTER at ~23,000/s holds ~740,000 for
 * Timer J's 32 s (the 401s keep none); each takes about 2 kB with its
 * response */
#define HR_SIP_DEFAULT_MAX_STRANS 1000000
/* a fifth of T1: answered in time, a request is not sent again */
#define HR_SIP_DEFAULT_OVERLOAD_LAG_MS 100
/* per source address: more than a phone, or an office of phones behind
 * one NAT, ever sends */
#define HR_SIP_DEFAULT_SRC_RATE 200
#define HR_SIP_DEFAULT_SRC_MAX_TCP 64

/* ---- methods ---- */

enum hr_method {
	HR_METH_OTHER = 0,
	HR_METH_ACK,
	HR_METH_BYE,
	HR_METH_CANCEL,
	HR_METH_INFO,
	HR_METH_INVITE,
	HR_METH_MESSAGE,
	HR_METH_NOTIFY,
	HR_METH_OPTIONS,
	HR_METH_PRACK,
	HR_METH_PUBLISH,
	HR_METH_REFER,
	HR_METH_REGISTER,
	HR_METH_SUBSCRIBE,
	HR_METH_UPDATE,
	HR_METH__N
};

/** Method enum of a method token (case-sensitive, RFC 3261 7.1). */
enum hr_method hr_method_id(const struct hr_pl *name);
/** Canonical name of a method enum ("OTHER" for HR_METH_OTHER). */
const char *hr_method_name(enum hr_method m);

/* ---- header names ---- */

enum hr_hdr_id {
	HR_HDR_OTHER = 0,
	HR_HDR_ACCEPT,
	HR_HDR_ACCEPT_ENCODING,
	HR_HDR_ACCEPT_LANGUAGE,
	HR_HDR_ALLOW,
	HR_HDR_ALLOW_EVENTS,
	HR_HDR_AUTHORIZATION,
	HR_HDR_CALL_ID,
	HR_HDR_CONTACT,
	HR_HDR_CONTENT_ENCODING,
	HR_HDR_CONTENT_LENGTH,
	HR_HDR_CONTENT_TYPE,
	HR_HDR_CSEQ,
	HR_HDR_DATE,
	HR_HDR_EVENT,
	HR_HDR_EXPIRES,
	HR_HDR_FROM,
	HR_HDR_MAX_FORWARDS,
	HR_HDR_MIN_EXPIRES,
	HR_HDR_PATH,
	HR_HDR_PROXY_AUTHENTICATE,
	HR_HDR_PROXY_AUTHORIZATION,
	HR_HDR_PROXY_REQUIRE,
	HR_HDR_RECORD_ROUTE,
	HR_HDR_REQUIRE,
	HR_HDR_RETRY_AFTER,
	HR_HDR_ROUTE,
	HR_HDR_SERVER,
	HR_HDR_SIP_ETAG,
	HR_HDR_SIP_IF_MATCH,
	HR_HDR_SUBJECT,
	HR_HDR_SUBSCRIPTION_STATE,
	HR_HDR_SUPPORTED,
	HR_HDR_TIMESTAMP,
	HR_HDR_TO,
	HR_HDR_UNSUPPORTED,
	HR_HDR_USER_AGENT,
	HR_HDR_VIA,
	HR_HDR_WARNING,
	HR_HDR_WWW_AUTHENTICATE,
	HR_HDR__N
};

/** Header id of a header name, long or compact, any case. */
enum hr_hdr_id hr_hdr_id(const struct hr_pl *name);
/** Canonical long name of a header id (NULL for HR_HDR_OTHER). */
const char *hr_hdr_name(enum hr_hdr_id id);
/** True when the header's values are a comma-separated list. */
bool hr_hdr_is_list(enum hr_hdr_id id);

/** One header value. List headers are split: one entry per element. */
struct hr_hdr {
	struct hr_pl name;  /* as received */
	struct hr_pl val;   /* LWS trimmed; may contain folded CRLF SP */
	enum hr_hdr_id id;
};

/* ---- parameters: ";a=b;c" lists ---- */

/**
 * Find parameter name (case-insensitive) in a ";name[=value]..." list.
 * Returns 0 and the value (empty for a flag, quotes kept), or ENOENT.
 */
int hr_param_get(const struct hr_pl *params, const char *name,
	struct hr_pl *val);
/** True when the parameter is present. */
bool hr_param_exists(const struct hr_pl *params, const char *name);

/* ---- URIs (RFC 3261 19.1, RFC 3966 tel) ---- */

enum hr_uri_scheme {
	HR_URI_OTHER = 0,
	HR_URI_SIP,
	HR_URI_SIPS,
	HR_URI_TEL,
};

struct hr_uri {
	enum hr_uri_scheme scheme;
	struct hr_pl scheme_pl;
	struct hr_pl user;      /* escaped as received; tel: the number */
	struct hr_pl password;
	struct hr_pl host;      /* IPv6 without the brackets */
	struct hr_pl params;    /* ";transport=tcp;lr", starting with ';' */
	struct hr_pl headers;   /* "?a=b&c=d", without the '?' */
	uint16_t port;          /* 0 when absent */
	bool ipv6;
	struct hr_pl raw;
};

/** Decode a URI: 0 or EBADMSG. Other schemes keep only scheme and raw. */
int hr_uri_decode(struct hr_uri *uri, const struct hr_pl *pl);
/** Print a decoded URI in its canonical form. */
int hr_uri_print(struct hr_buf *buf, const struct hr_uri *uri);
/** Look up a URI parameter. */
int hr_uri_param(const struct hr_uri *uri, const char *name,
	struct hr_pl *val);
/**
 * Undo %-escapes of pl into out (size n): 0, ENOSPC or EBADMSG for a bad
 * escape. *outlen gets the length.
 */
int hr_uri_unescape(const struct hr_pl *pl, char *out, size_t n,
	size_t *outlen);

/**
 * Are a and b equivalent (RFC 3261 19.1.4)? SIP and SIPS URIs by its
 * rules; tel and other schemes only when equal byte for byte after the
 * scheme (whose case does not count).
 */
bool hr_uri_eq(const struct hr_uri *a, const struct hr_uri *b);

/**
 * The address-of-record "user@domain" a SIP or SIPS URI names in domain:
 * its user part unescaped. 0, EBADMSG (a control character, NUL among
 * them, in the user) or EINVAL (no user, another scheme, an '@' in the
 * user, too long for n).
 */
int hr_uri_aor(const struct hr_uri *uri, const char *domain, char *out,
	size_t n);

/**
 * Is uri's host, with its port or else sa's, the address sa? Compared as
 * addresses: "::1" and "0:0::1" are one; a host name never is.
 */
bool hr_uri_is_addr(const struct hr_uri *uri, const struct hr_sa *sa);

/* ---- name-addr / addr-spec: From, To, Contact, Route ... ---- */

struct hr_addr {
	struct hr_pl dname;    /* display name: quotes removed, escapes kept */
	struct hr_uri uri;
	struct hr_pl params;   /* header parameters after the URI */
	struct hr_pl tag;      /* the tag parameter, when present */
	bool star;             /* Contact: * */
	bool angle;            /* the URI was in <...> */
	struct hr_pl raw;
};

/** Decode a name-addr or addr-spec with parameters: 0 or EBADMSG. */
int hr_addr_decode(struct hr_addr *addr, const struct hr_pl *pl);
/** Print an address canonically ("Name" <uri>;params). */
int hr_addr_print(struct hr_buf *buf, const struct hr_addr *addr);

/* ---- Via (RFC 3261 20.42, RFC 3581 rport) ---- */

struct hr_via {
	struct hr_pl proto;     /* "UDP", "TCP", ... */
	struct hr_pl host;      /* IPv6 without the brackets */
	uint16_t port;          /* 0 when absent */
	bool ipv6;
	struct hr_pl params;
	struct hr_pl branch;
	struct hr_pl received;
	struct hr_pl maddr;
	bool rport;             /* rport present */
	uint16_t rport_val;     /* its value, 0 when empty */
	int ttl;                /* -1 when absent */
	struct hr_pl raw;
};

/** Decode one Via value: 0 or EBADMSG. */
int hr_via_decode(struct hr_via *via, const struct hr_pl *pl);
/** True when the branch has the RFC 3261 magic cookie. */
bool hr_via_rfc3261(const struct hr_via *via);

/* ---- other typed headers ---- */

struct hr_cseq {
	uint32_t num;
	struct hr_pl method;
	enum hr_method meth;
};

/** Decode CSeq: number below 2^31 and a method (RFC 3261 8.1.1.5). */
int hr_cseq_decode(struct hr_cseq *cseq, const struct hr_pl *pl);

struct hr_ctype {
	struct hr_pl type;
	struct hr_pl subtype;
	struct hr_pl params;
};

/** Decode a media type with parameters (Content-Type, one Accept). */
int hr_ctype_decode(struct hr_ctype *ct, const struct hr_pl *pl);
/** True when ct is type/subtype, any case; "*" matches any. */
bool hr_ctype_match(const struct hr_ctype *ct, const char *type,
	const char *subtype);

struct hr_event {
	struct hr_pl package;   /* "presence", "presence.winfo", "reg" */
	struct hr_pl id;        /* the id parameter, when present */
	struct hr_pl params;
};

/** Decode Event / Allow-Events element (RFC 6665 8.2.1). */
int hr_event_decode(struct hr_event *ev, const struct hr_pl *pl);

struct hr_substate {
	struct hr_pl state;     /* active, pending, terminated, ... */
	struct hr_pl reason;
	struct hr_pl params;
	uint32_t expires;
	uint32_t retry_after;
	bool has_expires;
	bool has_retry_after;
};

/** Decode Subscription-State (RFC 6665 8.2.3). */
int hr_substate_decode(struct hr_substate *ss, const struct hr_pl *pl);

/** Digest credentials or challenge (RFC 3261 25.1, RFC 7616, RFC 8760). */
struct hr_digest {
	struct hr_pl scheme;    /* "Digest" */
	struct hr_pl username;  /* quotes removed (escapes kept) */
	struct hr_pl realm;
	struct hr_pl nonce;
	struct hr_pl uri;
	struct hr_pl response;
	struct hr_pl algorithm;
	struct hr_pl cnonce;
	struct hr_pl opaque;
	struct hr_pl qop;
	struct hr_pl nc;
	struct hr_pl stale;
	struct hr_pl domain;
	struct hr_pl userhash;
};

/** Decode Authorization / WWW-Authenticate and the Proxy- forms. */
int hr_digest_decode(struct hr_digest *d, const struct hr_pl *pl);

/** Decode a delta-seconds value; huge values clamp to 2^32-1. */
int hr_delta_decode(const struct hr_pl *pl, uint32_t *v);

/** True when pl is valid UTF-8 (RFC 3629). */
bool hr_utf8_valid(const char *p, size_t n);

/* ---- transports ---- */

enum hr_tp {
	HR_TP_UDP = 0,
	HR_TP_TCP,
	HR_TP_TLS,
	HR_TP_WS,          /* SIP over WebSocket (RFC 7118) */
	HR_TP_WSS,         /* ...over TLS */
	HR_TP__N
};

/** The Via transport: "UDP", "TCP", "TLS", "WS", "WSS". */
const char *hr_tp_name(enum hr_tp tp);
/** The URI transport parameter and the stored name: "udp", "tcp", "tls",
 * "ws", "wss". */
const char *hr_tp_param(enum hr_tp tp);
/** A transport from its name, any case: 0 or EINVAL. */
int hr_tp_decode(const struct hr_pl *pl, enum hr_tp *tp);
/** True for stream transports (Content-Length required, no retransmits). */
static inline bool hr_tp_reliable(enum hr_tp tp)
{
	return tp != HR_TP_UDP;
}
/** True for transports over TLS. */
static inline bool hr_tp_secure(enum hr_tp tp)
{
	return tp == HR_TP_TLS || tp == HR_TP_WSS;
}
/** True for transports whose connections only the peer opens (RFC 5626:
 * the connection is the route): Herald opens TCP, never TLS or WS. */
static inline bool hr_tp_flow_only(enum hr_tp tp)
{
	return tp == HR_TP_TLS || tp == HR_TP_WS || tp == HR_TP_WSS;
}

struct hr_conn;    /* a TCP, TLS or WebSocket connection; refcounted */
struct hr_sip;     /* one SIP stack: sockets, transactions, router */

/** Where to send a message. conn, when set and open, wins over addr. */
struct hr_dest {
	enum hr_tp tp;
	struct hr_sa addr;
	struct hr_conn *conn;   /* not referenced by the dest */
	void *sock;             /* UDP socket to send from; NULL: any */
	struct hr_sa laddr;     /* the local address of the dialog or request
				 * (len 0: unknown): the source of UDP sent
				 * from a wildcard socket, and what is
				 * advertised when the socket has no
				 * advertise= */
};

/** True while a connection can carry messages. */
bool hr_conn_isopen(const struct hr_conn *conn);
/** The transport a connection carries. */
enum hr_tp hr_conn_tp(const struct hr_conn *conn);

/* ---- messages ---- */

struct hr_msg {
	const char *buf;        /* the message bytes, owned by the msg */
	size_t len;
	bool req;

	/* request line */
	struct hr_pl method;
	enum hr_method meth;
	struct hr_pl ruri_pl;
	struct hr_uri ruri;
	struct hr_pl ver;

	/* status line */
	uint16_t scode;
	struct hr_pl reason;

	/* headers in order; list headers split into elements */
	struct hr_hdr *hdrv;
	unsigned hdrc;

	/* decoded at parse time */
	struct hr_via via;      /* the top Via */
	bool has_via;           /* top Via decoded: a response can be routed */
	struct hr_addr from;
	struct hr_addr to;
	struct hr_pl callid;
	struct hr_cseq cseq;
	int maxfwd;             /* -1 when absent */
	uint32_t expires;
	bool has_expires;
	struct hr_ctype ctype;
	bool has_ctype;
	struct hr_pl body;

	/*
	 * Set when the message is well framed but not valid: the status and
	 * reason phrase to answer with ("400 Bad CSeq", "505 ..."). A request
	 * with err_scode set and has_via gets that response; others are
	 * dropped.
	 */
	uint16_t err_scode;
	const char *err_reason;
	const char *err_limit;  /* set when a limit refused it: which */

	/* where it came from; filled by the transport */
	enum hr_tp tp;
	struct hr_sa src;
	struct hr_sa dst;       /* the local address it arrived on */
	struct hr_conn *conn;   /* referenced, for TCP */
	void *sock;             /* the UDP socket it arrived on */
	uint32_t lag_us;        /* from its arrival in the kernel to being
				 * handled (UDP); 0: unknown */
	bool queue_full;        /* the UDP socket's queue was over half full
				 * when it was read */
};

/**
 * Decode one message from p (len bytes). The bytes are copied once into
 * the message; all slices point into that copy (zero further copies).
 * stream: Content-Length is required (RFC 3261 18.3).
 * Returns 0 with *msgp set (check err_scode), EBADMSG when nothing usable
 * could be read, or ENOMEM.
 */
int hr_msg_decode(struct hr_msg **msgp, const char *p, size_t len,
	bool stream);
/**
 * Find where the first message in a stream ends: 0 and *msglen, ENODATA
 * when more bytes are needed, EBADMSG when it has no usable
 * Content-Length, EMSGSIZE when it would exceed max.
 * Leading CRLFs (keep-alives) must be removed by the caller.
 */
int hr_msg_frame(const char *p, size_t len, size_t max, size_t *msglen);
/** First header with this id, or NULL. */
const struct hr_hdr *hr_msg_hdr(const struct hr_msg *msg,
	enum hr_hdr_id id);
/** Next header after prev with prev's id (and name, for OTHER), or NULL. */
const struct hr_hdr *hr_msg_hdr_next(const struct hr_msg *msg,
	const struct hr_hdr *prev);
/** First header with this name, any case, long or compact, or NULL. */
const struct hr_hdr *hr_msg_hdr_byname(const struct hr_msg *msg,
	const char *name);
/** Number of header values with this id. */
unsigned hr_msg_hdr_count(const struct hr_msg *msg, enum hr_hdr_id id);
/** True when a list header (Supported, Require, ...) holds token. */
bool hr_msg_hdr_has(const struct hr_msg *msg, enum hr_hdr_id id,
	const char *token);
/**
 * The served domain a request is for (RFC 3261 10.3 step 1): the one its
 * Request-URI host names, or To's when the Request-URI names the address
 * the request arrived on (a UA configured with the server's address).
 * Returns the matching entry of domains (lowercase), or NULL.
 */
const char *hr_req_domain(const struct hr_msg *req,
	const char *const *domains, unsigned n);
/** Print the whole message canonically (long names, one value a line). */
int hr_msg_print(struct hr_buf *buf, const struct hr_msg *msg);

/* ---- the printer ---- */

/** What goes into a response besides what is copied from the request. */
struct hr_resp {
	uint16_t scode;
	const char *reason;
	const char *totag;      /* NULL: derive one from the request */
	struct hr_pl hdrs;      /* extra header lines, each ending in CRLF */
	const char *ctype;      /* NULL: no body */
	struct hr_pl body;
	/* a 5xx's cause, for its warn line and its count in /metrics: */
	const char *where;      /* where it arose, "module: step" (a static
				 * string); NULL: "no cause recorded" */
	int err;                /* the errno behind it, or 0 */
	const char *why;        /* what happened, in words, or NULL */
};

/**
 * Print a response to req: Via (top one with received/rport per RFC 3261
 * 18.2.1 and RFC 3581), From, To (with a To-tag unless 100), Call-ID,
 * CSeq, the extra headers, Server, Content-Type and Content-Length.
 */
int hr_resp_print(struct hr_buf *buf, const struct hr_msg *req,
	const struct hr_resp *resp, const char *server);
/** The stateless To-tag for req: the same request always gets the same. */
void hr_resp_totag(const struct hr_msg *req, char *out, size_t n);

/* ---- verdicts: what a check of a request found (verdict.c) ---- */

/**
 * A request's checks return true to go on, or false with a verdict that
 * one call answers (hr_strans_answer): a status, its reason and extra
 * headers, or an errno that hr_verdict_resp maps to one. where and why
 * are its cause: a 5xx, and a 4xx by which a limit refused the request,
 * is logged at warn and counted with them (hr_resp's where, err, why).
 */
struct hr_verdict {
	uint16_t scode;         /* 0: the status comes from err */
	const char *reason;
	const char *hdrs;       /* extra header lines, each ending in CRLF;
				 * NULL: none */
	const char *where;      /* "module: step"; NULL: no cause recorded
				 * (a 4xx that is no limit's) */
	const char *why;        /* what happened, in words, or NULL */
	int err;                /* the errno behind it, or 0 */
	char hbuf[512];         /* hdrs made for this request */
	char wbuf[96];          /* a where made for this request */
};

/** Refuse with scode, reason and extra headers (NULL: none); false. */
bool hr_verdict_refuse(struct hr_verdict *v, uint16_t scode,
	const char *reason, const char *hdrs);
/** Refuse for a cause that is logged and counted (a limit's 4xx, a 5xx
 * the protocol calls for); false. */
bool hr_verdict_refuse_why(struct hr_verdict *v, uint16_t scode,
	const char *reason, const char *hdrs, const char *where,
	const char *why);
/** Fail inside Herald with err (mapped by hr_verdict_resp); false. */
bool hr_verdict_fail(struct hr_verdict *v, int err, const char *where);
/** Print extra header lines into v's own buffer (cut at its size). */
const char *hr_verdict_hdrs(struct hr_verdict *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/** Print a where into v's own buffer (cut at its size). */
const char *hr_verdict_where(struct hr_verdict *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/**
 * The response a verdict calls for. An errno (scode 0) is mapped in this
 * one place: 503 Service Unavailable with Retry-After when the cause
 * passes (the store away or full: ETIMEDOUT, ENOSPC, EAGAIN, EBUSY,
 * ENOTCONN, ECONNREFUSED), 500 Server Internal Error otherwise.
 */
void hr_verdict_resp(const struct hr_verdict *v, struct hr_resp *resp);

/** A request to send through a client transaction. */
struct hr_req {
	const char *method;
	struct hr_pl ruri;
	struct hr_pl hdrs;      /* every header but Via, Max-Forwards,
				 * Content-Type and Content-Length, each line
				 * ending in CRLF */
	const char *ctype;      /* NULL: no body */
	struct hr_pl body;
	/* a 5xx's cause, for its warn line and its count in /metrics: */
	const char *where;      /* where it arose, "module: step" (a static
				 * string); NULL: "no cause recorded" */
	int err;                /* the errno behind it, or 0 */
	const char *why;        /* what happened, in words, or NULL */
};

/**
 * Print a request: request line, a Via with sent-by and branch,
 * Max-Forwards 70, the headers, Content-Type and Content-Length.
 */
int hr_req_print(struct hr_buf *buf, const struct hr_req *req,
	enum hr_tp tp, const char *sentby, const char *branch);

/* ---- the stack: sockets, router, transactions ---- */

struct hr_sip_cfg {
	size_t max_msg;          /* message size limit, bytes */
	unsigned tcp_idle_ms;    /* close an idle TCP connection after this */
	unsigned tcp_msg_ms;     /* a message must arrive whole within this */
	size_t tcp_max_out;      /* unsent bytes before a slow peer is cut */
	unsigned tcp_max_conns;  /* accepted connections at once */
	unsigned max_strans;     /* live server transactions at most; more
				  * requests get a stateless 503 */
	unsigned src_rate;       /* requests a second from one source
				  * address (IPv6: one /64); 0: no limit */
	unsigned src_max_tcp;    /* accepted connections from one source
				  * address; 0: no limit */
	unsigned hs_ms;          /* a TLS handshake and a WebSocket upgrade
				  * must end within this */
	unsigned overload_lag_ms; /* a new request that waited longer in
				  * the UDP socket's queue gets a stateless
				  * 503 (sip.c, shed()); 0: never */
	const char *server;      /* Server / User-Agent value */
};

/** Fill cfg with the defaults. */
void hr_sip_cfg_default(struct hr_sip_cfg *cfg);

struct hr_strans;   /* server transaction (INVITE or not) */
struct hr_ctrans;   /* non-INVITE client transaction */

/**
 * A request handler. st is the server transaction (the handler answers
 * through it, now or later); req stays valid while st is referenced and
 * has no final response: hr_strans_msg(st).
 */
typedef void (hr_req_h)(struct hr_strans *st, const struct hr_msg *req,
	void *arg);

/** A response, or err (ETIMEDOUT for Timer F, or a transport error). */
typedef void (hr_resp_h)(int err, const struct hr_msg *resp, void *arg);

/** Send hook for tests: replaces the sockets. */
typedef int (hr_send_h)(enum hr_tp tp, const struct hr_sa *dst,
	struct hr_conn *conn, const char *p, size_t len, void *arg);

/** Create a stack on the core loop (hr_loop_init() first). */
int hr_sip_alloc(struct hr_sip **sipp, const struct hr_sip_cfg *cfg);
#define HR_ADV_HOST_MAX 256   /* an advertised host, IPv6 with brackets */
#define HR_ADV_MAX (HR_ADV_HOST_MAX + 8)  /* "host:port" */

/** A listen spec: "udp:0.0.0.0:5060;advertise=sip.example.com:5060". */
struct hr_listen {
	enum hr_tp tp;
	struct hr_sa laddr;
	char adv_host[HR_ADV_HOST_MAX];  /* "" when not given */
	uint16_t adv_port;               /* 0: the socket's own port */
};

/**
 * Parse a "udp:host:port" / "tcp:[v6]:port" listen spec with an optional
 * ";advertise=host[:port]" (host a name, an IPv4 or a [v6] address):
 * 0 or EINVAL.
 */
int hr_sip_listen_decode(struct hr_listen *ls, const char *spec);
/**
 * Listen on laddr; port 0 picks one, written back into laddr. advertise:
 * NULL, or the host (and port, 0 for laddr's) that Contact and Via name
 * for this socket instead of its local address (behind NAT, in Docker).
 */
int hr_sip_listen(struct hr_sip *sip, enum hr_tp tp, struct hr_sa *laddr,
	const char *adv_host, uint16_t adv_port);
/**
 * The "host:port" to advertise (Contact, Via sent-by, Record-Route) for
 * messages sent to dst, or for a dialog made by the request dst answers
 * (hr_sip_resp_dest): the socket's advertise=, else dst->laddr, else the
 * socket's address. ENOENT (with the wildcard address in out) when the
 * socket is bound to a wildcard address and dst->laddr is unknown.
 */
int hr_sip_advertise(struct hr_sip *sip, const struct hr_dest *dst,
	char *out, size_t n);
/**
 * TLS for tls: and wss: sockets (TLS 1.2 and later, the system's
 * ciphers): a PEM certificate chain and its key; client_ca (NULL: none)
 * makes a client certificate signed by it required. 0, or EINVAL with
 * the cause logged (a file that does not read, a key that does not
 * match).
 */
int hr_sip_tls_init(struct hr_sip *sip, const char *cert, const char *key,
	const char *client_ca);
/** Read the files of hr_sip_tls_init() again (SIGHUP): new connections
 * get them, open ones keep theirs. On an error the old ones stay (it is
 * logged): 0 or EINVAL. */
int hr_sip_tls_reload(struct hr_sip *sip);
/** Give back what the transactions left idle: their pool's block, their
 * tables' buckets (every few seconds, with the heap's trim). */
void hr_sip_trim(struct hr_sip *sip);

/* ---- flows (RFC 5626) ---- */

/**
 * A REGISTER that came over conn bound contact_uri with instance (""
 * when none) for expires seconds: requests to that instance or that URI
 * may go over conn while it is open (RFC 5626 5.3), and idleness does not
 * close it meanwhile. The newest flow wins. 0 or ENOMEM.
 */
int hr_sip_flow_bind(struct hr_sip *sip, struct hr_conn *conn,
	const char *instance, const char *contact_uri, uint32_t expires);
/** An open flow of instance (when not empty), else of uri, or NULL. */
struct hr_conn *hr_sip_flow_find(struct hr_sip *sip, const char *instance,
	const char *uri);

/** Route requests of this method to h (NULL: to none); the method joins
 * Allow. */
void hr_sip_handle(struct hr_sip *sip, enum hr_method meth, hr_req_h *h,
	void *arg);
/** The handler requests of meth go to: true with *h and *arg, false when
 * there is none. */
bool hr_sip_handler(const struct hr_sip *sip, enum hr_method meth,
	hr_req_h **h, void **arg);
/** Answer an OPTIONS for the server itself in st: 200 with Allow,
 * Accept, Supported and Allow-Events (RFC 3261 11.2), as the stack does
 * when OPTIONS has no handler. */
int hr_sip_options_answer(struct hr_sip *sip, struct hr_strans *st);
/** Add an option tag to Supported (and to what Require may ask for). */
void hr_sip_supported_add(struct hr_sip *sip, const char *tag);
/** Add an event package to Allow-Events. */
void hr_sip_event_add(struct hr_sip *sip, const char *package);
/** Add a media type to Accept. */
void hr_sip_accept_add(struct hr_sip *sip, const char *ctype);
/* ---- traces: the messages of one AOR or one peer (trace.c) ---- */

#define HR_SIP_TRACE_AOR_MAX 520

/* One message as received or sent. */
struct hr_sip_trace_msg {
	bool out;                    /* sent by Herald */
	enum hr_tp tp;
	const struct hr_sa *peer;    /* where it came from or went, or NULL */
	const char *text;            /* the message, the values of
				      * Authorization and Proxy-Authorization
				      * replaced by "[redacted]", NUL-ended */
	size_t len;
};

typedef void (hr_sip_trace_h)(const struct hr_sip_trace_msg *m, void *arg);

struct hr_sip_trace;  /* hr_mem_deref ends it */

/**
 * Trace the messages received and sent whose From, To or Request-URI
 * names aor (user@domain, the domain lowercased; NULL or "": any) and
 * whose peer is peer (port 0: any port; NULL: any); one of the two at
 * least. h may end the trace. Core thread. 0, EINVAL or ENOMEM.
 */
int hr_sip_trace_start(struct hr_sip_trace **tp, struct hr_sip *sip,
	const char *aor, const struct hr_sa *peer, hr_sip_trace_h *h,
	void *arg);
/** Append message p (len bytes) to b with the credentials' values
 * redacted: 0 or ENOMEM. */
int hr_sip_trace_redact(struct hr_buf *b, const char *p, size_t len);

/** Replace the sockets with a send hook (tests). */
void hr_sip_set_send(struct hr_sip *sip, hr_send_h *h, void *arg);
/** Feed raw bytes as if received (tests and the transports). */
void hr_sip_recv_raw(struct hr_sip *sip, enum hr_tp tp, const char *p,
	size_t len, const struct hr_sa *src, const struct hr_sa *dst);
/** Hand a decoded message to the router; takes over the msg ref. */
void hr_sip_recv(struct hr_sip *sip, struct hr_msg *msg);
/** Send bytes to a destination; over UDP they leave at the end of the
 * loop's turn, and an error then is only logged (debug). */
int hr_sip_send(struct hr_sip *sip, const struct hr_dest *dst,
	const char *p, size_t len);
/** Where responses to req go (RFC 3261 18.2.2, RFC 3581 4). */
void hr_sip_resp_dest(const struct hr_msg *req, struct hr_dest *dst);
/** Answer req without a transaction (RFC 3261 8.2.7). */
int hr_sip_reply(struct hr_sip *sip, const struct hr_msg *req,
	const struct hr_resp *resp);
/** 5xx responses sent for one cause: status, reason, where, errno. */
struct hr_sip_fail_count {
	uint16_t scode;
	char reason[48];
	const char *where;              /* static, or wbuf */
	char wbuf[64];                  /* a where made for one request
					 * (a verdict's) kept here */
	int err;
	uint64_t n;
	struct hr_log_rl rl;            /* rate limit of the warn lines */
};

#define HR_SIP_FAIL_KINDS 48

/* The few causes every 5xx is also counted by, whatever its where: what
 * an operator's alert and dashboard tell apart. */
enum hr_sip_cause {
	HR_SIP_CAUSE_STORE = 0,         /* 503: a change not stored in time
					 * (PostgreSQL away, queue full) */
	HR_SIP_CAUSE_UNAVAILABLE,       /* 503: a limit (transactions, a
					 * source's rate, an AOR's line) or
					 * shutting down */
	HR_SIP_CAUSE_NOT_IMPLEMENTED,   /* 501 */
	HR_SIP_CAUSE_PROTOCOL,          /* what the protocol calls for: 500
					 * Out of Order, 500 Request Pending,
					 * 505, 513 */
	HR_SIP_CAUSE_MEMORY,            /* 500: out of memory */
	HR_SIP_CAUSE_INTERNAL,          /* 500: anything else */
	HR_SIP_CAUSE__N
};

/** "store", "unavailable", "not_implemented", "protocol",
 * "out_of_memory", "internal". */
const char *hr_sip_cause_name(enum hr_sip_cause c);
/** The status a cause is usually sent with (500, 501, 503). */
uint16_t hr_sip_cause_code(enum hr_sip_cause c);

/* 5xx sent with one status for one cause. */
struct hr_sip_5xx {
	uint16_t scode;
	enum hr_sip_cause cause;
	uint64_t n;
};

#define HR_SIP_5XX_KINDS 16

/** Counters of the stack (metrics). */
/* The lag histogram's buckets: from a UDP message's arrival in the
 * kernel to its handling, in µs; the upper bounds of all but the last
 * (+Inf). */
#define HR_SIP_LAG_BUCKETS 10
extern const uint64_t hr_sip_lag_bounds[];

struct hr_sip_stats {
	uint64_t requests[HR_METH__N];  /* received, by method */
	uint64_t responses[7];          /* sent, by class: [2] is 2xx */
	uint64_t retransmits;           /* client requests sent again
					 * (Timer E) */
	uint64_t resp_retransmits;      /* INVITE 3xx-6xx sent again
					 * (Timer G) */
	uint64_t acks_missing;          /* INVITE 3xx-6xx never ACKed
					 * (Timer H) */
	struct hr_sip_fail_count fails[HR_SIP_FAIL_KINDS];
	unsigned nfails;                /* kinds in use; the last one is
					 * "other" once they are all used */
	struct hr_sip_5xx server_errors[HR_SIP_5XX_KINDS];
	unsigned n5xx;                  /* kinds in use (the last one takes
					 * any further, never reached) */
	size_t strans;                  /* live server transactions */
	size_t sources;                 /* sources in the per-source table */
	uint64_t src_dropped;           /* requests over src_rate dropped
					 * unanswered */
	uint64_t shed;                  /* new requests answered 503 over
					 * overload_lag_ms */
	uint64_t lag[HR_SIP_LAG_BUCKETS]; /* UDP messages by lag (bounds:
					 * hr_sip_lag_bounds), not
					 * cumulative */
	uint64_t lag_us_sum;
	uint64_t tcp_refused_src;       /* connections refused at accept:
					 * over src_max_tcp... */
	uint64_t tcp_refused_max;       /* ...over tcp_max_conns */
	uint64_t tls_failed;            /* TLS handshakes that failed */
	uint64_t hs_timeouts;           /* TLS handshakes and WebSocket
					 * upgrades not done in time */
	uint64_t ws_refused;            /* WebSocket upgrades refused */
	uint64_t udp_send_calls;        /* system calls that sent UDP
					 * datagrams (sendmmsg, sendmsg) */
};

/** Copy the counters. */
void hr_sip_stats(const struct hr_sip *sip, struct hr_sip_stats *st);
/** Number of live server and client transactions. */
size_t hr_sip_strans_count(const struct hr_sip *sip);
size_t hr_sip_ctrans_count(const struct hr_sip *sip);
/** Number of open TCP, TLS and WebSocket connections. */
size_t hr_sip_conn_count(const struct hr_sip *sip);
/* A listening socket (status.c). */
struct hr_sip_listener {
	enum hr_tp tp;
	struct hr_sa laddr;             /* with the port chosen */
	const char *adv;                /* its advertise= "host:port", or
					 * NULL; lives as long as the socket */
};

/** A dialog's Contact of ours, "<sip:host;transport=tcp>" (sips: a
 * SIPS URI; RFC 5630 3.1.3: no transport=tls then). */
void hr_sip_contact_print(char *out, size_t n, const char *host,
	enum hr_tp tp, bool sips);
/** Our Contact ("<sip:host:port;transport=tcp>") for a peer of family
 * af over transport ("udp", "tcp"...), without a request: what
 * hr_sip_advertise() gives, written as a dialog's (sips: a SIPS dialog).
 * 0, EINVAL (no such transport) or ENOENT (no such socket, or a wildcard
 * one without advertise=). */
int hr_sip_contact_for(struct hr_sip *sip, const char *transport,
	sa_family_t af, bool sips, char *out, size_t n);
/** The listening sockets, UDP first, up to max of them into out;
 * returns how many there are. */
unsigned hr_sip_listeners(struct hr_sip *sip, struct hr_sip_listener *out,
	unsigned max);
/** Open connections by transport (UDP's is 0). */
void hr_sip_conn_counts(struct hr_sip *sip, size_t out[HR_TP__N]);
/** Close every socket and connection; pending transactions are dropped. */
void hr_sip_close(struct hr_sip *sip);

/* server transactions, RFC 3261 17.2.1 (INVITE) and 17.2.2 */

/** The request that opened the transaction; NULL once it has its final
 * response (Completed keeps only what matching retransmissions needs). */
const struct hr_msg *hr_strans_msg(const struct hr_strans *st);
/** Send a response (1xx keeps the transaction open, final completes it). */
int hr_strans_reply(struct hr_strans *st, const struct hr_resp *resp);
/**
 * Send a final response and end the transaction at once, keeping no
 * state for Timer J (RFC 3261 8.2.7, 17.2.2): a retransmission of the
 * request is then a new request, answered again. For answers that
 * changed nothing and are cheap to give again (a digest challenge), so
 * that a flood of them costs no memory. EINVAL for a 1xx.
 */
int hr_strans_reply_stateless(struct hr_strans *st,
	const struct hr_resp *resp);
/** Short form: status and reason only. */
int hr_strans_replys(struct hr_strans *st, uint16_t scode,
	const char *reason);
/** Status, reason and extra header lines (each ending in CRLF; NULL for
 * none). */
int hr_strans_replyh(struct hr_strans *st, uint16_t scode, const char *reason,
	const char *hdrs);
/**
 * Answer a request that failed inside Herald: err picks the status by
 * hr_verdict_resp's mapping (503 with Retry-After when the cause passes,
 * 500 otherwise). The response is logged at warn with err and where, and
 * counted (every 5xx is; see hr_resp's where, err and why).
 */
int hr_strans_fail(struct hr_strans *st, int err, const char *where);
/** A 5xx the protocol calls for (500 Out of Order...): why says what
 * happened; logged and counted like hr_strans_fail's. */
int hr_strans_fail_as(struct hr_strans *st, uint16_t scode,
	const char *reason, const char *hdrs, const char *where,
	const char *why);
/** Answer the request with what a check found (hr_verdict_resp). */
int hr_strans_answer(struct hr_strans *st, const struct hr_verdict *v);

enum hr_strans_state {
	HR_STRANS_TRYING,
	HR_STRANS_PROCEEDING,
	HR_STRANS_COMPLETED,
	HR_STRANS_CONFIRMED,     /* INVITE: the ACK came (RFC 3261 17.2.1) */
	HR_STRANS_TERMINATED,
};

/** Current state (tests). */
enum hr_strans_state hr_strans_state(const struct hr_strans *st);

/* client transactions, RFC 3261 17.1.2 */

/**
 * Send req to dst in a new client transaction. resph gets every
 * response (1xx too) and then, once, a final response or an error: a
 * transport error is returned at once, or (UDP, whose datagrams leave at
 * the end of the loop's turn) given to resph in that turn.
 * *ctp (may be NULL) gets a reference the caller must drop.
 */
int hr_ctrans_request(struct hr_ctrans **ctp, struct hr_sip *sip,
	const struct hr_dest *dst, const struct hr_req *req,
	hr_resp_h *resph, void *arg);
/** Stop reporting to the handler; the transaction runs out quietly. */
void hr_ctrans_abandon(struct hr_ctrans *ct);
/** Abandon ct and send its request no more (Timer E stops): its sender
 * no longer speaks for the dialog (a subscription moved to another node
 * of a cluster, whose requests follow with higher CSeqs). */
void hr_ctrans_silence(struct hr_ctrans *ct);

enum hr_ctrans_state {
	HR_CTRANS_TRYING,
	HR_CTRANS_PROCEEDING,
	HR_CTRANS_COMPLETED,
	HR_CTRANS_TERMINATED,
};

/** Current state (tests). */
enum hr_ctrans_state hr_ctrans_state(const struct hr_ctrans *ct);

/* ---- dialogs (RFC 3261 12), made by a request we answer ---- */

struct hr_dialog;   /* refcounted */

/** A dialog's stored form: its strings borrowed (NULL reads as ""). */
struct hr_dialog_rec {
	const char *callid;
	const char *local_tag;
	const char *remote_tag;
	const char *local_uri;
	const char *remote_uri;
	const char *local_contact; /* our Contact in the dialog */
	const char *remote_target;
	const char *route_set;     /* "<a>,<b>", or NULL for none */
	const char *transport;     /* hr_tp_param(): "udp", "tcp", "tls",
				    * "ws", "wss" */
	const char *received;      /* "udp:192.0.2.1:5060", or NULL */
	const char *instance;      /* the peer's +sip.instance, or NULL */
	int64_t remote_cseq;
};

/** A request reached the next hop's name: 0 (the request can be
 * prepared again) or why not. host: the name looked up. */
typedef void (hr_dialog_resolved_h)(int err, const char *host, void *arg);

/**
 * The dialog req makes, as its UAS (RFC 3261 12.1.1): a new local tag,
 * the route set from Record-Route, the remote target from Contact, our
 * Contact from what sip advertises for req (domain when nothing), and the
 * flow req came over. 0, EBADMSG (no Contact, "*", no From tag), ENOMEM.
 */
int hr_dialog_accept(struct hr_dialog **dlgp, struct hr_sip *sip,
	const struct hr_msg *req, const char *domain);
/** A dialog from its stored form (no flow: requests go to the next hop
 * by its transport). 0, EINVAL or ENOMEM. */
int hr_dialog_decode(struct hr_dialog **dlgp, const struct hr_dialog_rec *r);
/** The stored form of dlg (strings borrowed from it). */
void hr_dialog_encode(const struct hr_dialog *dlg, struct hr_dialog_rec *r);

/** The dialog's parts (the local tag is ours: unguessable). */
const char *hr_dialog_local_tag(const struct hr_dialog *dlg);
const char *hr_dialog_remote_uri(const struct hr_dialog *dlg);
const char *hr_dialog_local_contact(const struct hr_dialog *dlg);
const char *hr_dialog_target(const struct hr_dialog *dlg);
/** The peer's +sip.instance, "" when none. */
const char *hr_dialog_instance(const struct hr_dialog *dlg);
/** The last local CSeq used (0: none yet). */
int64_t hr_dialog_cseq(const struct hr_dialog *dlg);
/** Is this the dialog of a request with these Call-ID and tags (ours
 * the local one, To's in a request to us)? */
bool hr_dialog_match(const struct hr_dialog *dlg, const struct hr_pl *callid,
	const struct hr_pl *local_tag, const struct hr_pl *remote_tag);
/** RFC 3261 12.2.2: is req's CSeq above the dialog's remote CSeq? */
bool hr_dialog_rcseq_valid(const struct hr_dialog *dlg,
	const struct hr_msg *req);
/** A request in the dialog was accepted: its CSeq becomes the remote
 * one; target (an hr_mem string, taken over; NULL: unchanged) the remote
 * target (RFC 6665 4.1.2.1 for a refresh); conn (NULL: unchanged) the
 * connection requests go over. */
void hr_dialog_update(struct hr_dialog *dlg, uint32_t cseq, char *target,
	struct hr_conn *conn);
/** Go on past cseq: the next request carries a higher one (recovery). */
void hr_dialog_skip_cseq(struct hr_dialog *dlg, int64_t cseq);

/**
 * The next request in dlg (RFC 3261 12.2.1.1): its destination in d (the
 * connection the dialog was made over while open, else a flow the peer
 * registered (hr_sip_flow_bind); the request's source when to_source;
 * else the next hop; ENOTCONN for a TLS or WebSocket peer with no flow), its Request-URI in ruri, and
 * appended to hdrs Route (loose or strict routing), From, To, Call-ID,
 * CSeq (the next local one) and Contact. EINPROGRESS while the next
 * hop's name is looked up: h follows once (unless hr_dialog_cancel()),
 * then prepare again. EALREADY while a lookup is in flight,
 * EHOSTUNREACH for an unusable target or route, or another error.
 */
int hr_dialog_prepare(struct hr_sip *sip, struct hr_dialog *dlg,
	const char *method, bool to_source, struct hr_dest *d,
	struct hr_buf *ruri, struct hr_buf *hdrs, hr_dialog_resolved_h *h,
	void *arg);
/** True while the next hop's name is looked up. */
bool hr_dialog_resolving(const struct hr_dialog *dlg);
/** Stop a lookup: its h will not be called. */
void hr_dialog_cancel(struct hr_dialog *dlg);
/** Send d by tp instead, from the dialog's UDP socket when it can. */
void hr_dialog_set_tp(const struct hr_dialog *dlg, struct hr_dest *d,
	enum hr_tp tp);
/** Send a prepared request (hr_ctrans_request); once sent the local CSeq
 * moves on. */
int hr_dialog_send(struct hr_ctrans **ctp, struct hr_sip *sip,
	struct hr_dialog *dlg, const struct hr_dest *d,
	const struct hr_req *req, hr_resp_h *resph, void *arg);

#endif
