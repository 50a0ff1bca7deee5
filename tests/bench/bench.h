/*
 * herald-bench: a SIP load generator.
 *
 * The engine (engine.c) keeps a fixed table of operations ("ops"). A
 * scenario (scen_*.c) is a small table of functions over one op: start()
 * writes the first request, on_response() and on_request() decide what an
 * incoming message means for the op. Transports (udp.c; tcp.c for the
 * streams, with tls.c and ws.c under it) move bytes in batches and hand
 * every received message to bench_recv().
 *
 * Matching is by identifiers we put into our own requests, so nothing is
 * looked up in a table: the Via branch of every request is
 * "z9hG4bK-<run>-<slot>-<seq>" (responses) and the Call-ID, From-tag and
 * dialog are "<run>-<slot>-<gen>" (requests the server sends us, such as
 * NOTIFY). <run> is random per process so that a second run never looks
 * like a retransmission of the first to the server.
 */
#ifndef HR_BENCH_H
#define HR_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include "core/core.h"

#define BENCH_RUNID_LEN 8
#define BENCH_LADDR_LEN 64
#define BENCH_MAX_MSG 16384     /* largest message we send or receive */

enum bench_tp {
	BENCH_UDP = 0,
	BENCH_TCP,
	BENCH_TLS,              /* RFC 3261 26 */
	BENCH_WS,               /* RFC 7118 */
	BENCH_WSS,
};

struct bench_cfg {
	const char *scenario;
	enum bench_tp tp;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char host[256];         /* the target's host as given (TLS, WS Host) */
	const char *ca;         /* tls, wss: verify the server with these CAs;
				 * NULL: no verification */
	double duration_s;
	uint64_t rate;          /* ops/s; 0: flat out, window ops in flight */
	uint32_t window;        /* ops in flight at most */
	uint32_t connections;   /* stream connections (tcp, tls, ws, wss) */
	uint32_t timeout_ms;    /* per exchange */
	int cpu;                /* -1: do not pin */
	const char *domain;
	uint64_t max_ops;       /* start at most this many ops; 0: no limit */
	uint32_t users;         /* register, subscribe: users u1..uN */
	const char *password;   /* register: every user's password */
	uint32_t watchers;      /* reg-fanout: subscriptions to u1 */
	uint32_t aors;          /* reg-storm: AORs u1..uN, one watched each */
	const char *monitor;    /* reg-storm: the watcher; "self": uK */
	double storm_s;         /* reg-storm: refresh all in this; 0: at once */
	double settle_s;        /* reg-storm: NOTIFYs due until then after it */
	uint32_t presentities;  /* publish-race: u1..uP */
	uint32_t devices;       /* publish-race: publishers of each */
	const char *admin;      /* publish-race: Herald's admin HOST:PORT */
	int pid;                /* soak: the process whose VmRSS to sample */
	const char *rss_log;    /* soak: where the samples go */
	uint32_t t1_ms;         /* register-overload: RFC 3261 T1 (T2 = 8 T1,
				 * Timer F = 64 T1) */
	bool verbose;
};

/*
 * Latency histogram (HdrHistogram's layout): values below 128 ns are exact,
 * above that each power of two is split into 64 buckets, so a percentile is
 * within 1/128 of the true value. 59 groups of 64 cover 0 .. 2^64-1.
 */
#define BENCH_HIST_N (59 * 64)

struct bench_hist {
	uint64_t n;
	uint64_t max;
	uint64_t count[BENCH_HIST_N];
};

/** Count one value (ns). */
void bench_hist_add(struct bench_hist *h, uint64_t v);
/** Value at percentile p (0-100], the middle of its bucket; 0 when empty. */
uint64_t bench_hist_pct(const struct bench_hist *h, double p);

/* ---- writing a message ---- */

/* A window into a send buffer. Writers never overrun it: they set full. */
struct bench_out {
	char *p;
	size_t len;
	size_t cap;
	bool full;
};

/** Append n bytes. */
void bench_out_put(struct bench_out *o, const char *s, size_t n);
/** Append a C string. */
void bench_out_puts(struct bench_out *o, const char *s);
/** Append a slice. */
void bench_out_putpl(struct bench_out *o, const struct hr_pl *pl);
/** Append a decimal number. */
void bench_out_putu(struct bench_out *o, uint64_t v);
/** Append formatted text (slow path). */
void bench_out_printf(struct bench_out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define bench_out_lit(o, s) bench_out_put((o), (s), sizeof(s) - 1)

/* ---- reading a message: just enough to match it, not a validator ---- */

struct bench_msg {
	const char *p;
	size_t len;
	bool req;
	uint16_t scode;         /* responses */
	struct hr_pl reason;
	struct hr_pl method;    /* requests */
	struct hr_pl ruri;
	struct hr_pl branch;    /* of the top Via */
	struct hr_pl callid;
	struct hr_pl cseq;      /* "1 OPTIONS" */
	struct hr_pl hdrs;      /* all header lines, each ending in CRLF */
	struct hr_pl body;
};

/** Scan one whole message: 0 or EBADMSG. Slices point into p. */
int bench_msg_scan(struct bench_msg *msg, const char *p, size_t len);
/**
 * Walk the header lines: *cur starts at 0. Sets name and val (trimmed; a
 * folded value keeps its CRLF SP) and returns true, or false at the end.
 */
bool bench_msg_hdr_next(const struct bench_msg *msg, size_t *cur,
	struct hr_pl *name, struct hr_pl *val);
/** First header called name or its compact form (0: none): true if found. */
bool bench_msg_hdr(const struct bench_msg *msg, const char *name,
	char compact, struct hr_pl *val);
/** The URI in msg's Contact <...> (a 2xx's: where in-dialog requests
 * go) into out, NUL-ended: its length, or 0 when there is none, it is
 * shorter than 5 or it does not fit n. */
size_t bench_msg_contact_uri(const struct bench_msg *msg, char *out,
	size_t n);
/** The tag parameter of the first header called name (From, To). */
bool bench_msg_tag(const struct bench_msg *msg, const char *name,
	char compact, struct hr_pl *tag);
/**
 * A NOTIFY with a Subscription-State: true, and whether it says
 * terminated. false for any other request.
 */
bool bench_notify_state(const struct bench_msg *req, bool *terminated);
/** K of the To-tag "wK.<opid>" of a NOTIFY to watcher wK; 0: none. */
uint32_t bench_notify_watcher(const struct bench_msg *req);
struct bench;

/**
 * The newest of our requests a NOTIFY body reports: the highest <seq> of
 * the strings key<seq>-<run> in it (key "callid=\"r": reg-fanout's
 * REGISTERs; "id=\"p": presence-fanout's PUBLISHes). 0: none.
 */
uint64_t bench_body_seq(const struct bench *b, const struct hr_pl *body,
	const char *key);
/**
 * Length of the first message in a stream (RFC 3261 18.3: by
 * Content-Length): 0, ENODATA (need more bytes), EBADMSG or EMSGSIZE.
 */
int bench_msg_frame(const char *p, size_t len, size_t max, size_t *msglen);

/* ---- ops and scenarios ---- */

struct bench;

struct bench_op {
	struct bench *b;
	void *priv;             /* scenario state, zeroed at start */
	const char *laddr;      /* our "host:port" for Via and Contact */
	uint64_t t_start;       /* ns, CLOCK_MONOTONIC */
	uint64_t deadline;      /* ns */
	uint32_t slot;
	uint32_t gen;           /* bumped at each start: Call-ID, tags */
	uint32_t seq;           /* bumped by bench_put_via: the branch */
	uint32_t conn;          /* stream connection the op uses */
	uint32_t prev, next;    /* timeout list, in deadline order */
	bool busy;
	bool pending;           /* the latest request awaits its response */
	/* scen->retransmit over UDP: the latest request, sent again on
	 * Timer E (RFC 3261 17.1.2.2) while it awaits its final response */
	bool proceeding;        /* a 1xx came: Timer E is T2 from now on */
	uint8_t rtx_k;          /* the interval now armed: min(T1 << k, T2) */
	uint32_t req_len, req_cap;
	char *req;              /* its bytes (the slot keeps the buffer) */
	uint64_t rtx_at;        /* when Timer E fires (ns) */
};

/* What a scenario's own summary line is made of. */
struct bench_result {
	const char *tp;         /* "udp", "tcp", "tls", "ws", "wss" */
	double secs;            /* the measured run */
	uint64_t ok;            /* ops that succeeded */
	uint64_t failed;
	uint64_t started;
	const struct bench_hist *lat;   /* of the ops that succeeded */
	uint64_t retransmits;   /* requests sent again on Timer E */
	uint64_t in_flight;     /* ops neither done nor failed at the end */
	uint64_t in_flight_max;
	bool window_full;       /* --rate: a start waited for a free slot */
};

enum bench_act {
	BENCH_WAIT = 0,         /* nothing to send; keep waiting */
	BENCH_SEND,             /* out holds a request: send it, await reply */
	BENCH_DONE,             /* the op succeeded */
	BENCH_FAIL,             /* the op failed */
	/* out holds a last request that gets no response (an ACK): send
	 * it, and the op succeeded (DONE_SEND) or failed (FAIL_SEND) */
	BENCH_DONE_SEND,
	BENCH_FAIL_SEND,
};

struct bench_scen {
	const char *name;
	const char *help;
	size_t op_size;         /* bytes of op->priv */
	/* Write the op's first request into out; return BENCH_SEND. */
	enum bench_act (*start)(struct bench_op *op, struct bench_out *out);
	/*
	 * A final response (1xx never get here) to the op's latest request.
	 * out may receive the next request.
	 */
	enum bench_act (*on_response)(struct bench_op *op,
		const struct bench_msg *resp, struct bench_out *out);
	/*
	 * A request from the server in the op's dialog (Call-ID). The engine
	 * has already answered it 200 OK. NULL: ignore it.
	 */
	enum bench_act (*on_request)(struct bench_op *op,
		const struct bench_msg *req, struct bench_out *out);
	/* A scenario without the network runs whole here instead: exit code */
	int (*run)(const struct bench_cfg *cfg);
	/* Default --window, --rate or not (0: the engine's, which grows
	 * with --rate); as a set-up, check or
	 * teardown, ops in flight at most (0: as many as the table holds). */
	uint32_t window;
	/*
	 * Standing state made before the clock starts (subscriptions):
	 * setup_ops(cfg) ops of the scenario setup run untimed on the same
	 * sockets, flat out; the run fails if none of them succeeds. Then
	 * the counters start from zero. NULL: no setup.
	 */
	const struct bench_scen *setup;
	uint64_t (*setup_ops)(const struct bench_cfg *cfg);
	/* The same after the run and its summary (ending subscriptions). */
	const struct bench_scen *teardown;
	uint64_t (*teardown_ops)(const struct bench_cfg *cfg);
	/*
	 * A request from the server that belongs to no op in flight (a
	 * NOTIFY for a subscription the setup made). The engine has already
	 * answered it 200 OK. NULL: ignore it.
	 */
	void (*on_other_request)(struct bench *b, const struct bench_msg *req);
	/* Print the summary line instead of the engine. NULL: the engine's. */
	void (*summary)(const struct bench *b, const struct bench_result *r);
	/* Print more " key=value" at the end of the engine's summary line.
	 * NULL: none. */
	void (*summary_tail)(const struct bench *b);
	/*
	 * A response that belongs to no request in flight (a retransmitted
	 * final response): true when out then holds a request to send back
	 * on its connection (an ACK). NULL: ignore it.
	 */
	bool (*on_other_response)(struct bench *b, const struct bench_msg *resp,
		struct bench_out *out);
	/*
	 * Set the run's rate, --ops, duration from the scenario's own
	 * options, before --window gets its default. NULL: nothing.
	 */
	void (*configure)(struct bench_cfg *cfg);
	/* Every setup op must succeed, else the run fails (after teardown). */
	bool setup_all;
	/*
	 * After the run's last op, before the summary: keep receiving (and
	 * answering) while this returns a time in ns to wait at most; 0 ends
	 * it. NULL: none.
	 */
	uint64_t (*settle)(const struct bench *b);
	/* After the summary: true fails the run (exit 1). NULL: no check. */
	bool (*failed)(const struct bench *b);
	/*
	 * After the run (and settle), before the summary: check_ops(cfg)
	 * ops of check run untimed, flat out, on the same sockets; they do
	 * not count in the run's figures (the scenario counts what they
	 * find). NULL: none.
	 */
	const struct bench_scen *check;
	uint64_t (*check_ops)(const struct bench_cfg *cfg);
	/*
	 * Over UDP, behave as an RFC 3261 17.1.2 client transaction: send
	 * each request again on Timer E (T1, doubling to T2; T2 from a
	 * 1xx on) until its final response; the engine's timeout is then
	 * Timer F (the scenario's configure sets --timeout-ms to 64 T1).
	 */
	bool retransmit;
};

extern const struct bench_scen bench_scen_options;
extern const struct bench_scen bench_scen_parse;
extern const struct bench_scen bench_scen_register;
extern const struct bench_scen bench_scen_subscribe;
extern const struct bench_scen bench_scen_subscribe_hold;
extern const struct bench_scen bench_scen_fanout;
/* reg-fanout's setup and teardown (not in the list): watcher wK
 * subscribes to u1; then each subscribed watcher unsubscribes */
extern const struct bench_scen bench_scen_fanout_watch;
extern const struct bench_scen bench_scen_fanout_unwatch;
/** --watchers: the setup_ops of reg-fanout and presence-fanout. */
uint64_t bench_watch_ops(const struct bench_cfg *cfg);
/** How many fanout-watch ops made a dialog (fanout-unwatch ops to run). */
uint64_t bench_unwatch_ops(const struct bench_cfg *cfg);
/* scen_publish.c: PUBLISH cycles; presence NOTIFYs to many watchers;
 * the same for the dialog package (RFC 4235) */
extern const struct bench_scen bench_scen_publish;
extern const struct bench_scen bench_scen_pres_fanout;
extern const struct bench_scen bench_scen_dlg_publish;
extern const struct bench_scen bench_scen_dlg_fanout;
/* presence-fanout's setup and teardown (scen_subscribe.c): watcher wK
 * subscribes to u1's presence as user u(K+1); then unsubscribes */
extern const struct bench_scen bench_scen_pres_watch;
extern const struct bench_scen bench_scen_pres_unwatch;
/* dialog-fanout's: the same for Event: dialog */
extern const struct bench_scen bench_scen_dlg_watch;
extern const struct bench_scen bench_scen_dlg_unwatch;
/* scen_storm.c: every one of --aors watched AORs re-registers at once */
extern const struct bench_scen bench_scen_storm;
/* scen_race.c: many devices of few presentities PUBLISH at once */
extern const struct bench_scen bench_scen_pub_race;
/* scen_soak.c: a steady population refreshes, with churn, for long */
extern const struct bench_scen bench_scen_soak;
/* scen_redirect.c: INVITE to a registered AOR, 302 with its Contact, ACK */
extern const struct bench_scen bench_scen_redirect;
/* scen_overload.c: register's ops as RFC 3261 UDP clients at an offered
 * rate, with retransmissions: goodput under overload */
extern const struct bench_scen bench_scen_reg_overload;

/** Write "<run>-<slot>-<gen>": Call-ID and tag material of this op. */
void bench_put_opid(struct bench_out *o, const struct bench_op *op);
/** Write the Via line for a new request of op (bumps op->seq). */
void bench_put_via(struct bench_out *o, struct bench_op *op);
/** Write "Call-ID: <opid>@herald-bench". */
void bench_put_callid(struct bench_out *o, const struct bench_op *op);
/** Write Content-Type (if ctype), Content-Length, the blank line, body. */
void bench_put_end(struct bench_out *o, const char *ctype,
	const char *body, size_t blen);
/** "uK" or "wK" (c, k) into buf (at least 12 bytes). */
void bench_name_k(char *buf, size_t n, char c, uint32_t k);
/** "sip:user@host" ("sip:host" without user) into buf: 0 or ENOSPC. */
int bench_sip_uri(char *buf, size_t n, const char *user, const char *host);
/** Write "METHOD RURI SIP/2.0", the Via (bench_put_via), Max-Forwards. */
void bench_put_reqline(struct bench_out *o, struct bench_op *op,
	const char *method, const char *ruri);
/** Write "From: <aor>;tag=<opid>" and "To: <aor>" (out of dialog). */
void bench_put_from_to(struct bench_out *o, const struct bench_op *op,
	const char *aor);
/** Write "CSeq: <cseq> <method>". */
void bench_put_cseq(struct bench_out *o, uint32_t cseq, const char *method);
/**
 * Write "Contact: <sip:user@OURHOST:OURPORT>", with ";transport=tcp" (tls,
 * ws, wss) over a stream if tp_param (where the server sends requests to
 * it).
 */
void bench_put_contact(struct bench_out *o, const struct bench_op *op,
	const char *user, bool tp_param);
/** Write ";transport=tcp" (tls, ws, wss) over a stream, nothing over
 * UDP: a Contact URI's transport parameter. */
void bench_put_tp_param(struct bench_out *o, const struct bench *b);
/** The configuration of the run. */
const struct bench_cfg *bench_cfg(const struct bench *b);
/** The run id (BENCH_RUNID_LEN characters, not NUL-terminated). */
const char *bench_runid(const struct bench *b);

/* ---- digest authentication (scen_register.c) ---- */

struct hr_digest;

/**
 * Write the Authorization line answering chal, a decoded MD5 challenge,
 * for user with the run's --password (qop=auth, nc=00000001, the op's id
 * as cnonce). uri is the Request-URI. 0 or an errno.
 */
int bench_put_auth(struct bench_out *out, const struct bench_op *op,
	const char *user, const char *method, const char *uri,
	const struct hr_digest *chal);
/** The same with nonce count nc (a nonce used again: 2, 3, ...). */
int bench_put_auth_nc(struct bench_out *out, const struct bench_op *op,
	const char *user, const char *method, const char *uri,
	const struct hr_digest *chal, uint32_t nc);
/** The response's MD5 digest challenge (Herald sends SHA-256 first). */
bool bench_find_md5(const struct bench_msg *resp, struct hr_digest *chal);

/* ---- REGISTER (scen_register.c): register and reg-fanout ---- */

/* What one REGISTER of uK's Contact to sip:DOMAIN says. */
struct bench_reg {
	uint32_t user;          /* K of uK */
	uint32_t cseq;          /* 1; 2 with credentials */
	uint64_t callseq;       /* Call-ID "r<callseq>-<opid>"; 0: "<opid>" */
	const char *callid;     /* else this Call-ID (kept by the caller) */
	uint32_t nc;            /* the credentials' nonce count; 0: 1 */
	const char *contact;    /* the Contact URI; NULL: sip:uK@OURHOST:OURPORT */
	bool remove;            /* Expires: 0; else 3600 */
	bool tp_param;          /* the Contact's ;transport= over a stream */
};

/** The REGISTER of r; with chal, its Authorization answers it. */
int bench_put_register(struct bench_out *out, struct bench_op *op,
	const struct bench_reg *r, const struct hr_digest *chal);
/**
 * A final response other than 200 to r's REGISTER: the 401 to the first
 * one is answered (BENCH_SEND, cseq 2), anything else is BENCH_FAIL.
 */
enum bench_act bench_reg_challenged(struct bench_op *op,
	struct bench_reg *r, const struct bench_msg *resp,
	struct bench_out *out);
/** register's start: the next user round-robin, its first REGISTER. */
enum bench_act bench_reg_start(struct bench_op *op, struct bench_out *out);
/** The first REGISTER of r (cseq 1, no credentials): BENCH_SEND. */
enum bench_act bench_reg_first(struct bench_op *op, struct bench_reg *r,
	struct bench_out *out);
/** The final response to op's REGISTER (op->priv a struct bench_reg):
 * the 401 answered, the 200 to the one with credentials BENCH_DONE. */
enum bench_act bench_reg_response(struct bench_op *op,
	const struct bench_msg *resp, struct bench_out *out);

/* ---- PUBLISH (scen_publish.c): publish, presence-fanout, publish-race,
 * dialog-publish, dialog-fanout ---- */

#define BENCH_ETAG_MAX 64

/* A challenge kept to answer again: its nonce with nc 2, 3, ... */
struct bench_pub_auth {
	uint32_t nc;            /* the last nc sent; 0: no challenge yet */
	uint8_t nonce_len, realm_len, opaque_len;
	char nonce[160];
	char realm[128];
	char opaque[128];
};

/* What one PUBLISH of uK for sip:uK@DOMAIN says. */
struct bench_pub_req {
	uint32_t user;          /* K of uK */
	uint32_t cseq;
	uint32_t expires;
	const char *etag;       /* SIP-If-Match; NULL: initial */
	size_t etag_len;
	const char *basic;      /* "open", "closed"; NULL: no body */
	uint64_t seq;           /* tuple id "p<seq>-<run>"; 0: "t1" */
	/* Event: dialog; the body (with basic: its dialog's state, "early"
	 * ...) is a dialog-info of one dialog "d<seq>-<run>", version cseq */
	bool dialog;
	const char *callid;     /* NULL: the op's ("<opid>@herald-bench") */
};

/** The PUBLISH of r; with a kept challenge a (nonce_len set), its
 * Authorization with the next nc. 0 or ENOSPC. */
int bench_put_publish(struct bench_out *out, struct bench_op *op,
	const struct bench_pub_req *r, struct bench_pub_auth *a);
/** The kept challenge a as a decoded one (its slices point into a). */
void bench_pub_auth_chal(const struct bench_pub_auth *a,
	struct hr_digest *chal);
/** Keep the 401's MD5 challenge in a: false if it has none we can keep. */
bool bench_pub_auth_take(struct bench_pub_auth *a,
	const struct bench_msg *resp);
/** The 200's SIP-ETag into etag (BENCH_ETAG_MAX bytes): false if it has
 * none that fits. */
bool bench_pub_etag_take(char *etag, uint8_t *len,
	const struct bench_msg *resp);

/* ---- SUBSCRIBE (scen_subscribe.c): subscribe-*, watchers, soak ---- */

/* A dialog: Call-ID "<opid>@herald-bench", From-tag "[pre.]<opid>". */
struct bench_sub_dlg {
	uint32_t cseq;
	uint8_t opid_len;
	uint8_t totag_len;
	uint8_t target_len;
	char opid[32];
	char totag[64];
	char target[129];       /* the 200's Contact URI, NUL-ended */
};

/* What one SUBSCRIBE to sip:uK@DOMAIN says (its dialog aside). */
struct bench_sub_req {
	const char *from;       /* user part of From (and Contact) */
	const char *contact;    /* user part of Contact; NULL: from */
	const char *auth;       /* the credentials' user; NULL: from */
	const char *tag_pre;    /* From-tag "<tag_pre>.<opid>"; NULL: <opid> */
	uint32_t resource;      /* K of uK */
	uint32_t expires;
	uint32_t nc;            /* the credentials' nonce count; 0: 1 */
	bool presence;          /* Event: presence; else reg */
	bool dialog;            /* Event: dialog (before presence) */
	bool in_dialog;         /* To-tag; Request-URI the remote target */
};

/** The SUBSCRIBE r in (or making) dialog d; with chal, its Authorization
 * answers it. 0 or an errno. */
int bench_put_subscribe(struct bench_out *out, struct bench_op *op,
	const struct bench_sub_req *r, const struct bench_sub_dlg *d,
	const struct hr_digest *chal);
/** A new dialog made by op: the op's id, CSeq 1. */
void bench_sub_dlg_new(struct bench_sub_dlg *d, const struct bench_op *op);
/** The 2xx's To-tag and Contact into d: false if it has no To-tag. */
bool bench_sub_dlg_take(struct bench_sub_dlg *d,
	const struct bench_msg *resp);

/* ---- Herald's VmRSS over a run (rss.c): soak ---- */

/*
 * Samples of one process's VmRSS, every interval seconds of a run of
 * duration seconds; the figures a plateau verdict needs, kept as they
 * come (no series in memory): the first sample from 10% of the run on,
 * and the largest of all, of the middle third and of the last third.
 */
struct bench_rss {
	int pid;                /* 0: not sampling */
	FILE *log;              /* "t_seconds rss_kb" lines; NULL: none */
	double duration, interval, next;
	uint64_t start, end, max, mid, last;    /* kB; 0: no sample */
};

/** Sample pid (0: none) over a run of duration s, logging to path
 * (NULL: no log): 0 or an errno (said why). */
int bench_rss_open(struct bench_rss *r, int pid, const char *path,
	double duration);
/** Take a sample at t seconds into the run if one is due. */
void bench_rss_poll(struct bench_rss *r, double t);
/** The last sample (at t), then close the log. */
void bench_rss_close(struct bench_rss *r, double t);
/** 1: the last third's peak is within 10% of the middle third's; 0: it
 * is not; -1: no verdict (not sampled, a third without a sample). */
int bench_rss_plateau(const struct bench_rss *r);

/* ---- engine and transports ---- */

/** Nanoseconds on CLOCK_MONOTONIC. */
uint64_t bench_now(void);
/** Run a network scenario; print the summary: exit code. */
int bench_run(const struct bench_cfg *cfg, const struct bench_scen *scen);

struct bench_tp_ops {
	const char *name;       /* "udp", "tcp", "tls", "ws", "wss" */
	const char *via;        /* "UDP", "TCP", "TLS", "WS", "WSS" */
	const char *param;      /* Contact ;transport= (RFC 7118 5.2 for ws,
				 * wss); NULL: none (UDP) */
	int (*open)(struct bench *b);
	/* Room for one message on connection conn: 0 or ENOBUFS. */
	int (*out_begin)(struct bench *b, uint32_t conn,
		struct bench_out *out);
	/* The message in out is complete: queue it. */
	void (*out_commit)(struct bench *b, uint32_t conn,
		struct bench_out *out);
	/* Send what is queued. 0 or an errno that ends the run. */
	int (*flush)(struct bench *b);
	/* epoll readiness of the file descriptor registered with tag. */
	int (*event)(struct bench *b, uint32_t tag, uint32_t events);
	void (*close)(struct bench *b);
	/* Our address for the messages sent on conn. */
	const char *(*laddr)(struct bench *b, uint32_t conn);
};

extern const struct bench_tp_ops bench_udp;
extern const struct bench_tp_ops bench_tcp;
extern const struct bench_tp_ops bench_tls;
extern const struct bench_tp_ops bench_ws;
extern const struct bench_tp_ops bench_wss;

/** The engine's epoll descriptor (transports register their sockets). */
int bench_epfd(const struct bench *b);
/** The transport's private state. */
void *bench_tp_state(const struct bench *b);
/** Set the transport's private state (in open). */
void bench_tp_set_state(struct bench *b, void *st);
/** A whole message arrived on conn (transports call this). */
void bench_recv(struct bench *b, uint32_t conn, const char *p, size_t len);

/** Print to stderr, prefixed with "herald-bench: ". */
void bench_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
