/*
 * Herald's HTTP admin API (libmicrohttpd, jansson). It runs in
 * libmicrohttpd's thread: it reads through its own PostgreSQL connection
 * (the store's readers) and changes state only by calls into the core
 * thread (hr_call), where they are applied like any SIP request
 * (DESIGN.md). JSON, RFC 7807 problem+json errors, a bearer token for
 * everything but /health.
 */
#ifndef HR_ADMIN_H
#define HR_ADMIN_H

#include "events/events.h"
#include "packages/presence.h"
#include "packages/reg.h"
#include "store/store.h"

struct hr_admin_cfg {
	const char *listen;          /* "127.0.0.1:8080"; port 0 picks one */
	const char *token;           /* the bearer token */
	const char *database_url;
	size_t max_body;             /* request bodies, bytes (65536) */
	unsigned max_conns;          /* connections at once (64) */
	unsigned request_timeout_s;  /* to receive a request whole (10) */
	const char *const *domains;  /* served: users are made in these */
	unsigned ndomains;
	struct hr_events *ev;        /* core objects: used in hr_call only */
	struct hr_presence *presence;
	struct hr_regpkg *reg;
	struct hr_registrar *registrar;
	struct hr_store *store;
	struct hr_sip *sip;
};

struct hr_admin;

/** Start listening (its own thread). The listening address, with the
 * port chosen, is logged as "admin listening on http://…". hr_mem_deref
 * stops it: after hr_call_close(), and after the store has delivered
 * the completions its handlers may wait for. */
int hr_admin_start(struct hr_admin **ap, const struct hr_admin_cfg *cfg);

/**
 * The token to use: tok when given; else the one kept in path, or a new
 * random one written there (mode 0600) on first start. out gets it.
 */
int hr_admin_token(const char *tok, const char *path, char *out, size_t n);

#endif
