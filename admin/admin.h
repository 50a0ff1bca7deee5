/*
 * Herald's HTTP admin API (libmicrohttpd, jansson). It runs in
 * libmicrohttpd's thread and knows the core only through its one door,
 * control/control.h: it reads through its own PostgreSQL connection (a
 * control reader) and changes state only by the control's calls, which
 * the core applies like any SIP request (DESIGN.md). JSON, RFC 7807
 * problem+json errors, a bearer token for everything but /health.
 */
#ifndef HR_ADMIN_H
#define HR_ADMIN_H

#include "control/control.h"

struct hr_admin_cfg {
	const char *listen;          /* "127.0.0.1:8080"; port 0 picks one */
	const char *token;           /* the bearer token named "admin", or
				      * NULL with tokens_file */
	const char *tokens_file;     /* named tokens, "NAME TOKEN" lines
				      * (mode 0600), or NULL */
	size_t max_body;             /* request bodies, bytes (65536) */
	unsigned max_conns;          /* connections at once (64) */
	unsigned request_timeout_s;  /* to receive a request whole (10) */
	unsigned max_streams;        /* live feeds open at once (256) */
	size_t stream_buffer;        /* a feed's socket send buffer (65536) */
	unsigned stream_stall_s;     /* a feed whose client takes nothing
				      * this long while events wait is cut
				      * off (10) */
	unsigned keepalive_s;        /* a quiet feed's comment (15) */
	struct hr_control *ctl;      /* the core's door (a reference kept) */
};

struct hr_admin;

/** Start listening (its own thread). The listening address, with the
 * port chosen, is logged as "admin listening on http://…". hr_mem_deref
 * stops it: after hr_call_close(), and after the store has delivered
 * the completions its handlers may wait for. */
int hr_admin_start(struct hr_admin **ap, const struct hr_admin_cfg *cfg);

/** SIGHUP (core thread): read the tokens file again; on an error (logged)
 * the tokens stay as they were. 0 or the error. */
int hr_admin_reload(struct hr_admin *a);

/**
 * The token to use: tok when given; else the one kept in path, or a new
 * random one written there (mode 0600) on first start. out gets it.
 */
int hr_admin_token(const char *tok, const char *path, char *out, size_t n);

#endif
