/* herald serve: options, sockets, the loop, and a clean shutdown. */
#include <ctype.h>
#include <errno.h>
#include <malloc.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "cmd.h"
#include <libxml/parser.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include "admin/admin.h"
#include "auth/auth.h"
#include "events/events.h"
#include "packages/dialog.h"
#include "packages/mwi.h"
#include "packages/presence.h"
#include "packages/publish.h"
#include "packages/reg.h"
#include "redirect/redirect.h"
#include "registrar/registrar.h"
#include "sip/sip.h"
#include "store/store.h"

#define HR_LOG_MODULE "serve"

struct serve_cfg {
	struct hr_strlist listen;
	struct hr_strlist domains;
	const char *log_level;
	const char *log_format;
	const char *log_file;
	const char *config;
	const char *database_url;
	const char *node_id;
	unsigned node_lease_s;
	struct hr_strlist auth;
	struct hr_strlist md5_agents;
	struct hr_strlist trusted;
	unsigned max_msg;
	unsigned tcp_idle_s;
	unsigned tcp_max_conns;
	unsigned max_strans;
	unsigned overload_lag_ms;
	unsigned src_rate;
	unsigned src_max_tcp;
	const char *tls_cert;
	const char *tls_key;
	const char *tls_client_ca;
	unsigned hs_timeout_s;
	unsigned nonce_ttl_s;
	const char *digest_uri_check;
	unsigned store_wait_ms;
	unsigned store_queue;
	unsigned expires_default;
	unsigned expires_min;
	unsigned expires_max;
	unsigned max_contacts;
	struct hr_strlist redirect;
	bool redirect_auth;
	unsigned sub_expires_default;
	unsigned sub_expires_min;
	unsigned sub_expires_max;
	unsigned max_subs_watcher;
	unsigned max_subs_monitor;
	unsigned max_subs_resource;
	unsigned notify_throttle_ms;
	bool notify_to_source;
	unsigned notify_udp_max;
	unsigned pub_expires_default;
	unsigned pub_expires_min;
	unsigned pub_expires_max;
	const char *presence_local;
	const char *presence_remote;
	const char *dialog_privacy;
	bool dialog_unregistered;
	bool dialog_partial;
	bool presence_from_registrar;
	unsigned presence_interval_ms;
	unsigned max_pubs;
	unsigned max_doc;
	const char *admin_listen;
	const char *admin_token;
	const char *admin_token_file;
	const char *admin_tokens;
	unsigned admin_max_conns;
	unsigned admin_request_timeout_s;
	unsigned admin_max_streams;
	unsigned admin_stream_buffer;
	unsigned admin_stream_stall_s;
	unsigned admin_keepalive_s;
	unsigned feed_events;
};

#define LOG_LEVEL_DEFAULT "info"

static struct serve_cfg cfg = {
	.log_level = LOG_LEVEL_DEFAULT,
	.log_format = "text",
	.max_msg = HR_SIP_DEFAULT_MAX_MSG,
	.tcp_idle_s = 300,
	.tcp_max_conns = 4096,
	.max_strans = HR_SIP_DEFAULT_MAX_STRANS,
	.overload_lag_ms = HR_SIP_DEFAULT_OVERLOAD_LAG_MS,
	.src_rate = HR_SIP_DEFAULT_SRC_RATE,
	.src_max_tcp = HR_SIP_DEFAULT_SRC_MAX_TCP,
	.hs_timeout_s = 10,
	.nonce_ttl_s = 300,
	.digest_uri_check = "strict",
	.store_wait_ms = 5000,
	.node_lease_s = 10,
	.store_queue = 20000,
	.expires_default = 3600,
	.expires_min = 60,
	.expires_max = 86400,
	.max_contacts = 10,
	.sub_expires_default = 3600,
	.sub_expires_min = 60,
	.sub_expires_max = 86400,
	.max_subs_watcher = 200,
	.max_subs_monitor = 100000,
	.max_subs_resource = 10000,
	.notify_udp_max = HR_EVENTS_UDP_MAX,
	.pub_expires_default = 3600,
	.pub_expires_min = 10,
	.pub_expires_max = 86400,
	.presence_local = "allow",
	.presence_remote = "confirm",
	.dialog_privacy = "identity",
	.presence_interval_ms = 10,
	.max_pubs = 32,
	.max_doc = HR_PRES_DOC_DEFAULT,
	.admin_listen = "127.0.0.1:8080",
	.admin_token_file = "var/admin-token",
	.admin_max_conns = 64,
	.admin_request_timeout_s = 10,
	.admin_max_streams = 256,
	.admin_stream_buffer = 65536,
	.admin_stream_stall_s = 10,
	.admin_keepalive_s = 15,
	.feed_events = HR_CTL_FEED_EVENTS,
};

static const struct hr_opt opts[] = {
	{ "sip-listen", HR_OPT_LIST, &cfg.listen, "PROTO:HOST:PORT",
	  "SIP socket, repeatable: udp:127.0.0.1:5060, tcp:[::1]:5060, "
	  "tls:0.0.0.0:5061, ws:127.0.0.1:8088, wss:0.0.0.0:8089 (tls and wss "
	  "need --tls-cert and --tls-key); ';advertise=HOST[:PORT]' after it "
	  "names what Contact and Via carry for it (NAT, Docker) (default: "
	  "UDP and TCP on 127.0.0.1:5060)", 0, 0 },
	{ "tls-cert", HR_OPT_STR, &cfg.tls_cert, "FILE",
	  "PEM certificate chain of tls: and wss: sockets (the server's "
	  "first); SIGHUP reads it again", 0, 0 },
	{ "tls-key", HR_OPT_STR, &cfg.tls_key, "FILE",
	  "PEM private key of --tls-cert; SIGHUP reads it again", 0, 0 },
	{ "tls-client-ca", HR_OPT_STR, &cfg.tls_client_ca, "FILE",
	  "PEM CA certificates: when given, TLS clients must present a "
	  "certificate signed by one of them (default: none asked for)", 0,
	  0 },
	{ "handshake-timeout", HR_OPT_UINT, &cfg.hs_timeout_s, "SECONDS",
	  "a TLS handshake and a WebSocket upgrade must end within this, or "
	  "the connection is closed (default 10)", 1, 3600 },
	{ "domain", HR_OPT_LIST, &cfg.domains, "DOMAIN",
	  "a domain served, repeatable (each its own digest realm)", 0, 0 },
	{ "log-level", HR_OPT_STR, &cfg.log_level, "LEVEL",
	  "debug, info, warn or error (default info); SIGHUP applies a "
	  "change in --config", 0, 0 },
	{ "log-format", HR_OPT_STR, &cfg.log_format, "FORMAT",
	  "text (time level module message) or json (one object a line: "
	  "time, level, module, message) (default text)", 0, 0 },
	{ "log-file", HR_OPT_STR, &cfg.log_file, "PATH",
	  "log to this file, appending (default stderr); SIGHUP reopens it "
	  "(logrotate) and applies a change in --config", 0, 0 },
	{ "config", HR_OPT_STR, &cfg.config, "FILE",
	  "options as 'name = value' lines, names as the flags' ('#' "
	  "comments); flags and environment variables win over it; SIGHUP "
	  "re-reads it for log-level and log-file", 0, 0 },
	{ "max-message-size", HR_OPT_UINT, &cfg.max_msg, "BYTES",
	  "largest SIP message accepted; larger get 513 (default 65535)",
	  1024, 1024 * 1024 },
	{ "tcp-idle-timeout", HR_OPT_UINT, &cfg.tcp_idle_s, "SECONDS",
	  "close TCP connections idle this long (default 300)", 1, 86400 },
	{ "tcp-max-connections", HR_OPT_UINT, &cfg.tcp_max_conns, "N",
	  "accepted TCP connections at once (default 4096; lowered at start "
	  "to fit the descriptor limit, ulimit -n, less 128)", 1, 1000000 },
	{ "max-transactions", HR_OPT_UINT, &cfg.max_strans, "N",
	  "server transactions at once (each kept 32 s after its answer "
	  "over UDP, about 2 kB); more requests get 503 (default 1000000)",
	  100, 100000000 },
	{ "overload-lag", HR_OPT_UINT, &cfg.overload_lag_ms, "MS",
	  "new UDP requests that waited longer than this in the socket's "
	  "queue get 503 with Retry-After at once, a share rising to all at "
	  "twice this, ahead of the work already started; 0 never "
	  "(default 100)", 0, 60000 },
	{ "max-requests-per-source", HR_OPT_UINT, &cfg.src_rate, "N",
	  "requests a second from one address (IPv6: one /64), in bursts of "
	  "twice that; more get a few 503s a second and are otherwise "
	  "dropped; 0 for no limit (default 200: raise it for a proxy or an "
	  "application server that speaks for many users)", 0, 1000000 },
	{ "max-tcp-per-source", HR_OPT_UINT, &cfg.src_max_tcp, "N",
	  "TCP connections open from one address (IPv6: one /64); more are "
	  "closed at accept; 0 for no limit (default 64)", 0, 1000000 },
	{ "database-url", HR_OPT_STR, &cfg.database_url, "URL",
	  "PostgreSQL connection URI (default: the URL in var/database-url, "
	  "which script/server writes)", 0, 0 },
	{ "node-id", HR_OPT_STR, &cfg.node_id, "NAME",
	  "run as this node of a cluster: several nodes share one database "
	  "and each applies the others' bindings and publications (README, "
	  "Cluster); each node needs its own (default: a single node)", 0, 0 },
	{ "node-lease", HR_OPT_UINT, &cfg.node_lease_s, "SECONDS",
	  "a node renews its lease every fifth of this; the others take over "
	  "the subscriptions of one whose lease ran out (default 10)", 2,
	  300 },
	{ "auth", HR_OPT_LIST, &cfg.auth, "METHOD",
	  "methods that need digest authentication, repeatable "
	  "(default REGISTER, SUBSCRIBE, PUBLISH; 'none' for none)", 0, 0 },
	{ "md5-only-agents", HR_OPT_LIST, &cfg.md5_agents, "PREFIX",
	  "User-Agent prefixes offered only the MD5 challenge, repeatable "
	  "(default sipsak, baresip: they read only the first challenge)", 0,
	  0 },
	{ "trusted-publisher", HR_OPT_LIST, &cfg.trusted, "ADDRESS[/BITS]",
	  "a proxy, PBX or voicemail system whose PUBLISHes (dialog, "
	  "message-summary, presence) are taken without credentials, for "
	  "any user of the served domains; repeatable (default none)", 0,
	  0 },
	{ "nonce-lifetime", HR_OPT_UINT, &cfg.nonce_ttl_s, "SECONDS",
	  "how long a digest nonce stays valid (default 300)", 10, 86400 },
	{ "digest-uri-check", HR_OPT_STR, &cfg.digest_uri_check, "MODE",
	  "strict: the digest uri is the Request-URI, compared as URIs; "
	  "loose: or any naming this server or the Request-URI's user, as "
	  "SIPp and rewriting proxies send (default strict)", 0, 0 },
	{ "store-wait", HR_OPT_UINT, &cfg.store_wait_ms, "MS",
	  "how long a change waits for PostgreSQL before 503 (default 5000; "
	  "below 32 s, when clients give up)", 100, 30000 },
	{ "store-queue", HR_OPT_UINT, &cfg.store_queue, "N",
	  "changes queued for PostgreSQL at most; more get 503 (default "
	  "20000)", 1, 10000000 },
	{ "default-expires", HR_OPT_UINT, &cfg.expires_default, "SECONDS",
	  "REGISTER expiry when the request gives none (default 3600)", 1,
	  86400 * 365 },
	{ "min-expires", HR_OPT_UINT, &cfg.expires_min, "SECONDS",
	  "shorter REGISTER expiries get 423 (default 60)", 1, 86400 },
	{ "max-expires", HR_OPT_UINT, &cfg.expires_max, "SECONDS",
	  "longer REGISTER expiries are cut to this (default 86400)", 1,
	  86400 * 365 },
	{ "max-contacts", HR_OPT_UINT, &cfg.max_contacts, "N",
	  "bindings per address-of-record; more get 403 (default 10)", 1,
	  1000 },
	{ "redirect", HR_OPT_LIST, &cfg.redirect, "METHOD",
	  "methods answered as a redirect server, repeatable: INVITE, "
	  "MESSAGE, OPTIONS (to a user), REFER; a request for a user of a "
	  "served domain gets 302 with its registered contacts, 480 when it "
	  "has none, 404 when there is no such user (default INVITE; 'none' "
	  "for none: 405)", 0, 0 },
	{ "redirect-auth", HR_OPT_FLAG, &cfg.redirect_auth, NULL,
	  "callers authenticate before a redirect is answered: 401 with a "
	  "digest challenge in the callee's domain (RFC 3261 22.3: a "
	  "redirect server is a UAS)", 0, 0 },
	{ "subscribe-default-expires", HR_OPT_UINT, &cfg.sub_expires_default,
	  "SECONDS", "SUBSCRIBE expiry when the request gives none "
	  "(default 3600)", 1, 86400 * 365 },
	{ "subscribe-min-expires", HR_OPT_UINT, &cfg.sub_expires_min,
	  "SECONDS", "shorter SUBSCRIBE expiries get 423 (default 60)", 1,
	  86400 },
	{ "subscribe-max-expires", HR_OPT_UINT, &cfg.sub_expires_max,
	  "SECONDS", "longer SUBSCRIBE expiries are cut to this "
	  "(default 86400)", 1, 86400 * 365 },
	{ "max-subscriptions-per-watcher", HR_OPT_UINT, &cfg.max_subs_watcher,
	  "N", "subscriptions one watcher URI may hold; more get 403 "
	  "(default 200)", 1, 10000000 },
	{ "max-subscriptions-per-monitor", HR_OPT_UINT, &cfg.max_subs_monitor,
	  "N", "the same for a user with the monitor role, which may watch "
	  "every AOR of its domain (default 100000)", 1, 10000000 },
	{ "max-subscriptions-per-resource", HR_OPT_UINT,
	  &cfg.max_subs_resource, "N", "subscriptions to one resource; more "
	  "get 403 (default 10000)", 1, 10000000 },
	{ "notify-throttle", HR_OPT_UINT, &cfg.notify_throttle_ms, "MS",
	  "least time between two NOTIFYs of one subscription; changes "
	  "meanwhile are merged (default 0)", 0, 3600000 },
	{ "notify-udp-max", HR_OPT_UINT, &cfg.notify_udp_max, "BYTES",
	  "a NOTIFY larger than this to a UDP watcher goes over TCP; where "
	  "TCP fails the subscription ends with terminated;reason=probation "
	  "(RFC 3261 18.1.1; default 65507, what one UDP datagram carries; "
	  "1300 follows the RFC to the letter for unknown path MTUs)", 512,
	  65507 },
	{ "notify-to-source", HR_OPT_FLAG, &cfg.notify_to_source, NULL,
	  "send NOTIFYs to the address the SUBSCRIBE came from, not to its "
	  "Contact (watchers behind NAT)", 0, 0 },
	{ "publish-default-expires", HR_OPT_UINT, &cfg.pub_expires_default,
	  "SECONDS", "PUBLISH expiry when the request gives none "
	  "(default 3600)", 1, 86400 * 365 },
	{ "publish-min-expires", HR_OPT_UINT, &cfg.pub_expires_min,
	  "SECONDS", "shorter PUBLISH expiries get 423 (default 10: baresip "
	  "publishes every pubint seconds, often 30, and never retries after "
	  "a 423)", 1, 86400 },
	{ "publish-max-expires", HR_OPT_UINT, &cfg.pub_expires_max,
	  "SECONDS", "longer PUBLISH expiries are cut to this "
	  "(default 86400)", 1, 86400 * 365 },
	{ "presence-default-local", HR_OPT_STR, &cfg.presence_local, "ACTION",
	  "watchers of the presentity's domain without a rule: allow, "
	  "confirm, polite-block or block (default allow)", 0, 0 },
	{ "presence-default-remote", HR_OPT_STR, &cfg.presence_remote,
	  "ACTION", "other watchers without a rule (default confirm)", 0, 0 },
	{ "dialog-default-privacy", HR_OPT_STR, &cfg.dialog_privacy,
	  "PRIVACY", "what a busy lamp's watcher without a rule sees of the "
	  "other party: identity (who calls) or state (only that the line "
	  "rings or is busy); rules per watcher in the admin API (default "
	  "identity)", 0, 0 },
	{ "dialog-partial", HR_OPT_FLAG, &cfg.dialog_partial, NULL,
	  "after its first NOTIFY, a busy lamp's watcher gets only the "
	  "dialogs that changed (RFC 4235 state=\"partial\"; the whole state "
	  "when a dialog went without ending); off: the whole state each time, "
	  "which every phone takes", 0, 0 },
	{ "dialog-unregistered", HR_OPT_FLAG, &cfg.dialog_unregistered, NULL,
	  "a busy lamp's line without calls and without a registered "
	  "contact shows unavailable (a dialog ended with 480), not idle", 0,
	  0 },
	{ "presence-from-registrar", HR_OPT_FLAG, &cfg.presence_from_registrar,
	  NULL, "a presentity that publishes nothing is open while it has "
	  "registered contacts", 0, 0 },
	{ "presence-notify-interval", HR_OPT_UINT, &cfg.presence_interval_ms,
	  "MS", "a presentity's watchers are told of changes at most this "
	  "often, a burst in one NOTIFY each (default 10)", 0, 60000 },
	{ "max-publications-per-presentity", HR_OPT_UINT, &cfg.max_pubs, "N",
	  "live publications of one presentity (its devices); a new one "
	  "past it gets 403 (default 32)", 1, 1024 },
	{ "max-presence-document", HR_OPT_UINT, &cfg.max_doc, "BYTES",
	  "largest composed presence document; a PUBLISH that would make "
	  "a larger one gets 413 (default 61440: a NOTIFY with it fits in "
	  "UDP)", 1024, 262144 },
	{ "admin-listen", HR_OPT_STR, &cfg.admin_listen, "HOST:PORT",
	  "the HTTP admin API (default 127.0.0.1:8080; port 0 picks one; "
	  "'off' for none)", 0, 0 },
	{ "admin-token", HR_OPT_STR, &cfg.admin_token, "TOKEN",
	  "bearer token of the admin API (default: generated at first start "
	  "and kept in --admin-token-file)", 0, 0 },
	{ "admin-token-file", HR_OPT_STR, &cfg.admin_token_file, "PATH",
	  "where a generated admin token is kept, mode 0600 (default "
	  "var/admin-token)", 0, 0 },
	{ "admin-tokens", HR_OPT_STR, &cfg.admin_tokens, "FILE",
	  "named bearer tokens of the admin API, one 'NAME TOKEN' a line ('#' "
	  "comments), the names the audit log records; mode 0600 or it is "
	  "refused; SIGHUP reads it again. --admin-token's is named admin; "
	  "with this file and no --admin-token none is generated", 0, 0 },
	{ "admin-max-connections", HR_OPT_UINT, &cfg.admin_max_conns, "N",
	  "admin connections at once; an eighth is kept free for new ones "
	  "(/health) by closing the oldest still sending its request "
	  "(default 64)", 8, 10000 },
	{ "admin-request-timeout", HR_OPT_UINT, &cfg.admin_request_timeout_s,
	  "SECONDS", "an admin request's headers and body must arrive within "
	  "this, or the connection is closed (default 10)", 1, 3600 },
	{ "admin-max-streams", HR_OPT_UINT, &cfg.admin_max_streams, "N",
	  "live feeds (Server-Sent Events) open at once, beside "
	  "--admin-max-connections; more get 503 (default 256)", 1, 20000 },
	{ "admin-stream-buffer", HR_OPT_UINT, &cfg.admin_stream_buffer,
	  "BYTES", "what a live feed may have on its way to a client that "
	  "reads slowly (its socket's send buffer; default 65536)", 4096,
	  16777216 },
	{ "admin-stream-stall", HR_OPT_UINT, &cfg.admin_stream_stall_s,
	  "SECONDS", "a live feed whose client takes nothing this long while "
	  "events wait for it is cut off (default 10)", 1, 3600 },
	{ "admin-stream-keepalive", HR_OPT_UINT, &cfg.admin_keepalive_s,
	  "SECONDS", "a quiet live feed sends a ': keep-alive' comment this "
	  "often (default 15)", 1, 15 },
	{ "feed-events", HR_OPT_UINT, &cfg.feed_events, "N",
	  "changes the core keeps for live feeds to resume from "
	  "(Last-Event-ID); an older one gets a reset (default 10000)", 16,
	  10000000 },
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

/* which options the environment or the command line gave */
static bool given[NOPTS];
/* --config as read at start: cfg's strings point into it */
static struct hr_conf *conf;

struct server;
static void on_hup(struct server *sv);

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	if (sig == SIGHUP) {
		on_hup(arg);
		return;
	}
	HR_INFO("%s: shutting down", strsignal((int)sig));
	hr_loop_stop();
}

static int listen_all(struct hr_sip *sip)
{
	static const char *const defaults[] = { "udp:127.0.0.1:5060",
		"tcp:127.0.0.1:5060" };
	const char *const *specs = cfg.listen.n ? cfg.listen.v : defaults;
	unsigned n = cfg.listen.n ? cfg.listen.n : 2;
	int err;

	/* the files are read when given, a tls: or wss: socket or not: a
	 * mistake in them shows at start */
	if (cfg.tls_cert || cfg.tls_key || cfg.tls_client_ca) {
		err = hr_sip_tls_init(sip, cfg.tls_cert, cfg.tls_key,
			cfg.tls_client_ca);
		if (err)
			return err;
	}

	for (unsigned i = 0; i < n; i++) {
		char addr[HR_SA_STRLEN], adv[HR_ADV_MAX + 16] = "";
		struct hr_listen ls;

		if (hr_sip_listen_decode(&ls, specs[i])) {
			HR_ERROR("bad --sip-listen '%s' (want PROTO:HOST:PORT, "
				"PROTO one of udp, tcp, tls, ws, wss, optionally "
				"followed by ;advertise=HOST[:PORT])", specs[i]);
			return EINVAL;
		}
		err = hr_sip_listen(sip, ls.tp, &ls.laddr, ls.adv_host,
			ls.adv_port);
		if (err) {
			HR_ERROR("cannot listen on %s: %s", specs[i],
				hr_strerror(err));
			return err;
		}
		if (*ls.adv_host && ls.adv_port)
			snprintf(adv, sizeof(adv), " advertising %s:%u",
				ls.adv_host, ls.adv_port);
		else if (*ls.adv_host)
			snprintf(adv, sizeof(adv), " advertising %s",
				ls.adv_host);
		/* startup lines print at any level: scripts wait for them */
		hr_log(HR_LOG_INFO, HR_LOG_MODULE, "listening on %s:%s%s",
			hr_tp_param(ls.tp),
			hr_sa_print(&ls.laddr, addr, sizeof(addr)), adv);
	}
	return 0;
}

static bool auth_for(const char *method)
{
	if (!cfg.auth.n)
		return true;  /* default: every method that changes state */
	for (unsigned i = 0; i < cfg.auth.n; i++) {
		if (!strcasecmp(cfg.auth.v[i], method))
			return true;
	}
	return false;
}

/* The methods --redirect names (HR_REALM_METH bits); INVITE when it
 * names none. False: one Herald cannot redirect. */
static bool redirected(unsigned *bits)
{
	*bits = cfg.redirect.n ? 0 : HR_REALM_METH(HR_METH_INVITE);
	for (unsigned i = 0; i < cfg.redirect.n; i++) {
		const char *name = cfg.redirect.v[i];
		char upper[16];
		size_t n = strlen(name);
		struct hr_pl pl;

		if (!strcasecmp(name, "none"))
			continue;
		if (n >= sizeof(upper))
			return false;
		for (size_t k = 0; k <= n; k++)
			upper[k] = (char)toupper((unsigned char)name[k]);
		pl = hr_pl_str(upper);
		*bits |= HR_REALM_METH(hr_method_id(&pl));
	}
	return !(*bits & ~(unsigned)HR_REDIRECT_METHODS);
}

/* The methods --auth challenges, and with --redirect-auth those
 * redirected. */
static unsigned challenged(void)
{
	static const enum hr_method m[] = { HR_METH_REGISTER,
		HR_METH_SUBSCRIBE, HR_METH_PUBLISH };
	unsigned bits = 0, redirect;

	for (unsigned i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		if (auth_for(hr_method_name(m[i])))
			bits |= HR_REALM_METH(m[i]);
	}
	if (cfg.redirect_auth && redirected(&redirect))
		bits |= redirect;
	return bits;
}

struct server {
	struct hr_store *store;
	struct hr_userdb *users;
	struct hr_auth *auth;
	struct hr_realm *realm;
	struct hr_sip *sip;
	struct hr_registrar *registrar;
	struct hr_redirect *redirect;
	struct hr_events *events;
	struct hr_regpkg *regpkg;
	struct hr_presence *presence;
	struct hr_dlgpkg *dialog;
	struct hr_mwipkg *mwi;
	struct hr_admin *admin;
	struct hr_control *ctl;      /* the admin's door (a reference) */
	struct hr_tmr trim;          /* give the heap's free pages back */
};

static void on_hup(struct server *sv)
{
	hr_hup();
	hr_sip_tls_reload(sv->sip);
	hr_admin_reload(sv->admin);
}

/* A user and its role, into the directory. */
static int user_put(struct hr_userdb *db, const struct hr_store_user *u)
{
	enum hr_user_role role = HR_ROLE_USER;
	int err = hr_userdb_put(db, u->user, u->domain, u->ha1_md5,
		u->ha1_sha256);

	if (!err && u->role && !hr_user_role_decode(u->role, &role))
		err = hr_userdb_set_role(db, u->user, u->domain, role);
	return err;
}

/* A user changed in the database while we run (herald user add), or
 * every user again after the store's connection came back. */
static int user_changed(const struct hr_store_user *u, void *arg)
{
	static bool syncing;
	struct server *sv = arg;
	struct hr_userdb *db = sv->users;
	char who[520];
	bool was_monitor;
	int err;

	if (u->kind == HR_USER_SYNC_BEGIN) {
		hr_userdb_sync_begin(db);
		syncing = true;
		return 0;
	}
	if (u->kind == HR_USER_SYNC_END) {
		size_t gone = hr_userdb_sync_end(db);

		syncing = false;
		HR_INFO("users resynchronised: %zu, %zu gone",
			hr_userdb_count(db), gone);
		/* users and roles may have changed meanwhile */
		hr_events_reauthorize(sv->events, NULL, NULL, NULL);
		return 0;
	}
	snprintf(who, sizeof(who), "%s@%s", u->user, u->domain);
	was_monitor = hr_userdb_is_monitor(u->user, u->domain, db);
	if (!u->ha1_md5 || !u->ha1_sha256) {
		hr_userdb_del(db, u->user, u->domain);
		HR_INFO("user %s deleted", who);
		if (!syncing) {
			hr_events_user_gone(sv->events, who);
			hr_ctl_feed_user(sv->ctl, who, "removed");
		}
	} else {
		bool existed = hr_userdb_exists(u->user, u->domain, db);

		err = user_put(db, u);
		if (err)
			return err;
		if (!syncing) {
			HR_INFO("user %s changed (%s)", who, u->role ? u->role :
				"user");
			hr_ctl_feed_user(sv->ctl, who, existed ? "changed" :
				"added");
		}
	}
	/* a monitor no longer: what its role allowed ends */
	if (was_monitor && !syncing &&
	    !hr_userdb_is_monitor(u->user, u->domain, db))
		hr_events_reauthorize(sv->events, NULL, NULL, who);
	return 0;
}

static int user_load(const struct hr_store_user *u, void *arg)
{
	return user_put(arg, u);
}

static int open_store(struct server *sv)
{
	struct hr_store_cfg scfg;
	unsigned applied = 0;
	int err;

	err = hr_store_migrate(cfg.database_url, &applied);
	if (err == ECONNREFUSED)
		HR_ERROR("cannot connect to PostgreSQL: %s",
			hr_store_strerror(err));
	else if (err)
		HR_ERROR("database migration failed: %s", hr_strerror(err));
	if (err)
		return err;
	if (applied)
		HR_INFO("applied %u migration%s", applied, applied > 1 ? "s" :
			"");
	hr_store_cfg_default(&scfg);
	scfg.url = cfg.database_url;
	scfg.wait_ms = cfg.store_wait_ms;
	scfg.queue_max = cfg.store_queue;
	if (cfg.node_id && *cfg.node_id) {
		scfg.node = cfg.node_id;
		scfg.lease_ms = cfg.node_lease_s * 1000;
		scfg.advertise = cfg.listen.n ? cfg.listen.v[0] : NULL;
	}
	err = hr_store_alloc(&sv->store, &scfg);
	if (err)
		HR_ERROR("cannot open the database: %s", hr_strerror(err));
	return err;
}

/* Another node's change: to the registrar, to the package whose
 * publication it is (a publication gone names no event: each looks), or
 * to the package whose rule it is. */
static int node_changed(const struct hr_store_change *c, void *arg)
{
	struct server *sv = arg;
	struct hr_publish *pubs[] = {
		sv->presence ? hr_presence_publish(sv->presence) : NULL,
		sv->dialog ? hr_dlgpkg_publish(sv->dialog) : NULL,
		sv->mwi ? hr_mwipkg_publish(sv->mwi) : NULL,
	};
	struct hr_rules *rules[] = {
		sv->presence ? hr_presence_rules(sv->presence) : NULL,
		sv->regpkg ? hr_regpkg_rules(sv->regpkg) : NULL,
		sv->dialog ? hr_dlgpkg_rules(sv->dialog) : NULL,
	};
	int err = 0;

	if (c->kind == HR_CHANGE_BINDING)
		return hr_registrar_sync(sv->registrar, c->res, c->key,
			c->binding);
	if (c->kind == HR_CHANGE_CLAIMED) {
		hr_events_claimed(sv->events, c->key, c->sub);
		return 0;
	}
	if (c->kind == HR_CHANGE_LOST) {
		hr_events_lost(sv->events, c->key);
		return 0;
	}
	if (c->kind == HR_CHANGE_OWNED) {
		hr_events_keep(sv->events, c->ids, c->nids);
		return 0;
	}
	if (c->kind == HR_CHANGE_WATCHER) {
		hr_presence_watcher(sv->presence, c->key, c->sub);
		return 0;
	}
	if (c->kind == HR_CHANGE_SUB) {
		err = hr_events_adopt(sv->events, c->sub);
		if (err)
			HR_WARN("subscription %s not taken over: %s", c->key,
				hr_strerror(err));
		return 0;
	}
	if (c->kind == HR_CHANGE_RULE) {
		for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
			err = rules[i] ? hr_rules_sync(rules[i], c->package,
				c->res, c->key, c->action) : ENOENT;
			if (err != ENOENT)
				break;
		}
		if (err)
			HR_WARN("another node's %s rule of %s for %s not "
				"applied: %s", c->package, c->res, c->key,
				hr_strerror(err));
		return 0;
	}
	for (size_t i = 0; i < sizeof(pubs) / sizeof(pubs[0]) && !err; i++) {
		if (pubs[i])
			err = hr_publish_sync(pubs[i], c->res, c->key, c->pub);
	}
	return err;
}

/* The served domains, the digest and the users: one realm for REGISTER,
 * SUBSCRIBE and PUBLISH. */
static int open_realm(struct server *sv)
{
	struct hr_net nets[64];
	struct hr_realm_cfg rcfg = { 0 };

	for (unsigned i = 0; i < cfg.trusted.n; i++)
		hr_net_decode(&nets[i], cfg.trusted.v[i]);  /* check_auth */
	rcfg.trusted = nets;
	rcfg.ntrusted = cfg.trusted.n;

	rcfg.domains = cfg.domains.v;
	rcfg.ndomains = cfg.domains.n;
	rcfg.challenge = challenged();
	rcfg.authn = sv->auth;
	rcfg.ha1h = hr_userdb_ha1;
	rcfg.existsh = hr_userdb_exists;
	rcfg.monitorh = hr_userdb_is_monitor;
	rcfg.users = sv->users;
	return hr_realm_alloc(&sv->realm, &rcfg);
}

static int open_auth(struct server *sv)
{
	struct hr_auth_cfg acfg = { 0 };
	uint8_t secret[32];
	int err;

	/* kept in PostgreSQL: nonces stay valid across restarts */
	err = hr_store_secret(sv->store, "nonce", secret, sizeof(secret));
	if (!err)
		err = hr_userdb_alloc(&sv->users);
	if (!err)
		err = hr_store_users_load(sv->store, user_load, sv->users);
	if (err)
		return err;
	hr_store_set_user_handler(sv->store, user_changed, sv);
	acfg.secret = secret;
	acfg.secret_len = sizeof(secret);
	acfg.nonce_ttl_s = cfg.nonce_ttl_s;
	acfg.md5_agents = cfg.md5_agents.v;
	acfg.nmd5_agents = cfg.md5_agents.n;
	acfg.domains = cfg.domains.v;
	acfg.ndomains = cfg.domains.n;
	if (cfg.node_id && *cfg.node_id)
		acfg.node = cfg.node_id;
	if (hr_auth_uri_check_decode(cfg.digest_uri_check, &acfg.uri_check)) {
		HR_ERROR("--digest-uri-check takes strict or loose");
		return EINVAL;
	}
	err = hr_auth_alloc(&sv->auth, &acfg);
	memset(secret, 0, sizeof(secret));
	HR_INFO("%zu users", hr_userdb_count(sv->users));
	return err ? err : open_realm(sv);
}

static int open_registrar(struct server *sv)
{
	struct hr_registrar_cfg rcfg;
	int err;

	hr_registrar_cfg_default(&rcfg);
	rcfg.realm = sv->realm;
	rcfg.expires_default = cfg.expires_default;
	rcfg.expires_min = cfg.expires_min;
	rcfg.expires_max = cfg.expires_max;
	rcfg.max_contacts = cfg.max_contacts;
	/* RFC 5626 4.4.1: keep-alives well within the idle timeout */
	if (rcfg.flow_timer > cfg.tcp_idle_s / 2)
		rcfg.flow_timer = cfg.tcp_idle_s / 2;
	err = hr_registrar_alloc(&sv->registrar, sv->sip, sv->store, &rcfg);
	if (!err)
		err = hr_registrar_load(sv->registrar);
	/* the load's query results are gone: give their pages back */
	malloc_trim(0);
	return err;
}

/* The redirect server over the registrar, for the methods --redirect
 * names (checked by check_cfg()); none: they get 405. */
static int open_redirect(struct server *sv)
{
	struct hr_redirect_cfg rcfg = { .realm = sv->realm };

	redirected(&rcfg.methods);
	if (!rcfg.methods)
		return 0;
	return hr_redirect_alloc(&sv->redirect, sv->sip, sv->registrar,
		&rcfg);
}

static int open_presence(struct server *sv)
{
	struct hr_presence_cfg pcfg;

	hr_presence_cfg_default(&pcfg);
	/* both checked by check_cfg() */
	hr_pres_action_decode(cfg.presence_local, &pcfg.local);
	hr_pres_action_decode(cfg.presence_remote, &pcfg.remote);
	pcfg.realm = sv->realm;
	pcfg.pub_expires_default = cfg.pub_expires_default;
	pcfg.pub_expires_min = cfg.pub_expires_min;
	pcfg.pub_expires_max = cfg.pub_expires_max;
	pcfg.sub_expires_default = cfg.sub_expires_default;
	pcfg.sub_expires_min = cfg.sub_expires_min;
	pcfg.sub_expires_max = cfg.sub_expires_max;
	pcfg.from_registrar = cfg.presence_from_registrar;
	pcfg.interval_ms = cfg.presence_interval_ms;
	pcfg.max_pubs = cfg.max_pubs;
	pcfg.max_doc = cfg.max_doc;
	return hr_presence_alloc(&sv->presence, sv->sip, sv->store, sv->events,
		sv->registrar, &pcfg);
}

/* The dialog package: publications bounded as presence's, watchers
 * authorized by presence's rules. */
static int open_dialog(struct server *sv)
{
	struct hr_dlgpkg_cfg dcfg;

	hr_dlgpkg_cfg_default(&dcfg);
	dcfg.realm = sv->realm;
	/* checked by check_cfg() */
	hr_dlg_privacy_decode(cfg.dialog_privacy, &dcfg.privacy);
	dcfg.pub_expires_default = cfg.pub_expires_default;
	dcfg.pub_expires_min = cfg.pub_expires_min;
	dcfg.pub_expires_max = cfg.pub_expires_max;
	dcfg.sub_expires_default = cfg.sub_expires_default;
	dcfg.sub_expires_min = cfg.sub_expires_min;
	dcfg.sub_expires_max = cfg.sub_expires_max;
	dcfg.interval_ms = cfg.presence_interval_ms;
	dcfg.max_pubs = cfg.max_pubs;
	dcfg.max_doc = cfg.max_doc;
	if (cfg.dialog_unregistered)
		dcfg.unregistered = sv->registrar;
	dcfg.partial = cfg.dialog_partial;
	return hr_dlgpkg_alloc(&sv->dialog, sv->sip, sv->store, sv->events,
		sv->presence, &dcfg);
}

/* The message-summary package: publications bounded as presence's. */
static int open_mwi(struct server *sv)
{
	struct hr_mwipkg_cfg mcfg;

	hr_mwipkg_cfg_default(&mcfg);
	mcfg.realm = sv->realm;
	mcfg.pub_expires_default = cfg.pub_expires_default;
	mcfg.pub_expires_min = cfg.pub_expires_min;
	mcfg.pub_expires_max = cfg.pub_expires_max;
	mcfg.sub_expires_default = cfg.sub_expires_default;
	mcfg.sub_expires_min = cfg.sub_expires_min;
	mcfg.sub_expires_max = cfg.sub_expires_max;
	mcfg.max_pubs = cfg.max_pubs;
	return hr_mwipkg_alloc(&sv->mwi, sv->sip, sv->store, sv->events,
		&mcfg);
}

static int open_events(struct server *sv)
{
	struct hr_events_cfg ecfg;
	struct hr_regpkg_cfg pcfg;
	int err;

	hr_events_cfg_default(&ecfg);
	ecfg.realm = sv->realm;
	ecfg.max_per_watcher = cfg.max_subs_watcher;
	ecfg.max_per_monitor = cfg.max_subs_monitor;
	ecfg.max_per_resource = cfg.max_subs_resource;
	ecfg.throttle_ms = cfg.notify_throttle_ms;
	ecfg.notify_to_source = cfg.notify_to_source;
	ecfg.udp_max = cfg.notify_udp_max;
	err = hr_events_alloc(&sv->events, sv->sip, sv->store, &ecfg);
	if (err)
		return err;
	hr_regpkg_cfg_default(&pcfg);
	pcfg.expires_default = cfg.sub_expires_default;
	pcfg.expires_min = cfg.sub_expires_min;
	pcfg.expires_max = cfg.sub_expires_max;
	pcfg.realm = sv->realm;
	err = hr_regpkg_alloc(&sv->regpkg, sv->events, sv->registrar,
		sv->store, &pcfg);
	if (!err)
		err = open_presence(sv);
	if (!err)
		err = open_dialog(sv);
	if (!err)
		err = open_mwi(sv);
	/* publications and rules first: subscriptions are loaded into them */
	if (!err)
		err = hr_regpkg_load(sv->regpkg);
	if (!err)
		err = hr_presence_load(sv->presence);
	if (!err)
		err = hr_dlgpkg_load(sv->dialog);
	if (!err)
		err = hr_mwipkg_load(sv->mwi);
	if (!err)
		err = hr_events_load(sv->events);
	malloc_trim(0);
	return err;
}

/* The core's door for the admin API (the admin keeps a reference). */
static int open_control(struct server *sv, struct hr_control **ctlp)
{
	struct hr_control_cfg c = { .database_url = cfg.database_url,
		.realm = sv->realm, .ev = sv->events, .presence = sv->presence, .reg = sv->regpkg,
		.dialog = sv->dialog, .mwi = sv->mwi,
		.registrar = sv->registrar, .redirect = sv->redirect,
		.store = sv->store,
		.sip = sv->sip, .feed_events = cfg.feed_events };

	return hr_control_alloc(ctlp, &c);
}

/* --admin-token, or the one kept in (or generated into) its file. */
static int single_token(char *token, size_t n)
{
	int err;

	if (!cfg.admin_token || !*cfg.admin_token) {
		char dir[512];
		char *slash;

		/* the token file's directory (var/) may not exist yet */
		snprintf(dir, sizeof(dir), "%s", cfg.admin_token_file);
		slash = strrchr(dir, '/');
		if (slash) {
			*slash = '\0';
			mkdir(dir, 0700);
		}
	}
	err = hr_admin_token(cfg.admin_token, cfg.admin_token_file, token, n);
	if (err)
		HR_ERROR("admin token file %s: %s", cfg.admin_token_file,
			hr_strerror(err));
	return err;
}

static int open_admin(struct server *sv)
{
	struct hr_admin_cfg acfg = { 0 };
	char token[128] = "";
	bool named = cfg.admin_tokens && *cfg.admin_tokens;
	int err;

	if (!strcmp(cfg.admin_listen, "off"))
		return 0;
	/* with named tokens, no token is made up: "admin" is there only
	 * when --admin-token gives it */
	if (!named || (cfg.admin_token && *cfg.admin_token)) {
		err = single_token(token, sizeof(token));
		if (err)
			return err;
		acfg.token = token;
	}
	err = hr_call_open();
	if (err)
		return err;
	acfg.listen = cfg.admin_listen;
	acfg.tokens_file = named ? cfg.admin_tokens : NULL;
	acfg.max_conns = cfg.admin_max_conns;
	acfg.request_timeout_s = cfg.admin_request_timeout_s;
	acfg.max_streams = cfg.admin_max_streams;
	acfg.stream_buffer = cfg.admin_stream_buffer;
	acfg.stream_stall_s = cfg.admin_stream_stall_s;
	acfg.keepalive_s = cfg.admin_keepalive_s;
	err = open_control(sv, &sv->ctl);
	acfg.ctl = sv->ctl;
	if (!err)
		err = hr_admin_start(&sv->admin, &acfg);
	memset(token, 0, sizeof(token));
	return err;
}

static void close_all(struct server *sv)
{
	uint64_t until = hr_now_ms() + cfg.store_wait_ms + 1000;

	/* the admin takes no more calls into the core; a handler may still
	 * wait for a change it started (a rule, a binding removed), whose
	 * completion the store delivers below: the admin stops after it */
	hr_call_close();
	/* no new traffic; then let every commit in flight complete while
	 * the registrar that waits for it still exists (bounded: the store
	 * fails what waits longer than --store-wait) */
	if (sv->sip)
		hr_sip_close(sv->sip);
	if (sv->presence)
		hr_presence_close(sv->presence);
	if (sv->dialog)
		hr_dlgpkg_close(sv->dialog);
	if (sv->mwi)
		hr_mwipkg_close(sv->mwi);
	if (sv->events)
		hr_events_close(sv->events);
	if (sv->registrar)
		hr_registrar_close(sv->registrar);
	while (sv->store && hr_store_queue_depth(sv->store) &&
	       hr_now_ms() < until) {
		hr_loop_once();
		usleep(2000);
	}
	/* the store first: its destructor delivers what is still in flight
	 * to the notifier and the registrar, which must still exist */
	sv->store = hr_mem_deref(sv->store);
	sv->admin = hr_mem_deref(sv->admin);
	/* it unhooks from the core objects below */
	sv->ctl = hr_mem_deref(sv->ctl);
	sv->events = hr_mem_deref(sv->events);
	sv->dialog = hr_mem_deref(sv->dialog);
	sv->mwi = hr_mem_deref(sv->mwi);
	sv->presence = hr_mem_deref(sv->presence);
	sv->regpkg = hr_mem_deref(sv->regpkg);
	sv->redirect = hr_mem_deref(sv->redirect);
	sv->registrar = hr_mem_deref(sv->registrar);
	sv->sip = hr_mem_deref(sv->sip);
	sv->realm = hr_mem_deref(sv->realm);
	sv->auth = hr_mem_deref(sv->auth);
	sv->users = hr_mem_deref(sv->users);
}

/* Descriptors kept for what is not a TCP connection (besides the admin's
 * live feeds, --admin-max-streams): the admin API's 64 connections and
 * its listener, PostgreSQL's connections (the writer,
 * the reader, the admin's), the UDP sockets and TCP listeners with their
 * reserves, the log, stdio, epoll, eventfds, DNS. */
#define FD_MARGIN 128

static bool given_opt(const char *name)
{
	for (size_t i = 0; i < NOPTS; i++) {
		if (!strcmp(opts[i].name, name))
			return given[i] || (conf && hr_conf_get(conf, name));
	}
	return false;
}

/* --tcp-max-connections as the descriptor limit allows: more would end
 * in accept() failing with EMFILE, and PostgreSQL and the admin API
 * starved of descriptors, long before the limit refuses anyone. */
static unsigned tcp_max_conns(void)
{
	unsigned n = cfg.tcp_max_conns;
	enum hr_log_level lvl;
	struct rlimit rl;
	rlim_t fit, margin = FD_MARGIN;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY)
		return n;
	if (strcmp(cfg.admin_listen, "off"))
		margin += cfg.admin_max_streams;
	fit = rl.rlim_cur > 2 * margin ? rl.rlim_cur - margin :
		rl.rlim_cur / 2;
	if (!fit)
		fit = 1;
	if (n <= fit)
		return n;
	/* a value given is a mistake worth a warning; the default is not */
	lvl = given_opt("tcp-max-connections") ? HR_LOG_WARN : HR_LOG_INFO;
	HR_LOG_AT(lvl, "--tcp-max-connections %u lowered to %u: the "
		"descriptor limit is %llu (ulimit -n), %llu kept for "
		"PostgreSQL, the admin API, UDP and files", n, (unsigned)fit,
		(unsigned long long)rl.rlim_cur,
		(unsigned long long)(rl.rlim_cur - fit));
	return (unsigned)fit;
}

/*
 * The heap's free pages back to the system, now and then (issue 20). The
 * traffic's requests, responses and store queries come and go in
 * malloc's heap (what lives long is in the slab, transactions in their
 * pool): once a burst of them is freed, glibc gives back only the
 * heap's top, and the freed pages below it stay in RSS. malloc_trim(0)
 * releases every whole free page (madvise); it runs when at least
 * TRIM_MIN bytes and an eighth of the heap are free, which a steady
 * load, reusing what it frees, does not reach often. It runs on the SIP
 * thread, so its time is logged (debug): during and after a 30 s
 * REGISTER burst at the clean maximum (script/bench -d 30 burst-mem,
 * RSS peak 598 MB) the heap stayed at 41 MB, transactions and messages
 * being in their pools, and no trim took over 0.11 ms (mallinfo2 0.25 ms).
 */
#define TRIM_MS 10000
#define TRIM_MIN (1u << 20)

static void on_trim(void *arg)
{
	struct server *sv = arg;
	struct mallinfo2 mi;

	/* the caches that kept what the last burst freed, first */
	hr_mem_trim();
	hr_sip_trim(sv->sip);
	mi = mallinfo2();
	if (mi.fordblks >= TRIM_MIN && mi.fordblks > mi.uordblks / 8) {
		struct timespec t0, t1;
		long us;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		malloc_trim(0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		us = (t1.tv_sec - t0.tv_sec) * 1000000L +
			(t1.tv_nsec - t0.tv_nsec) / 1000;
		HR_DEBUG("heap: %zu bytes free of %zu, trimmed in %ld us",
			mi.fordblks, mi.arena, us);
	}
	hr_tmr_start(&sv->trim, TRIM_MS, on_trim, sv);
}

static int run(void)
{
	struct hr_sip_cfg scfg;
	struct server sv = { 0 };
	static const int signos[] = { SIGTERM, SIGINT, SIGHUP };
	struct event *sigs[3] = { NULL, NULL, NULL };
	int err;

	hr_sip_cfg_default(&scfg);
	scfg.max_msg = cfg.max_msg;
	scfg.tcp_idle_ms = cfg.tcp_idle_s * 1000;
	scfg.tcp_max_conns = tcp_max_conns();
	scfg.max_strans = cfg.max_strans;
	scfg.overload_lag_ms = cfg.overload_lag_ms;
	scfg.src_rate = cfg.src_rate;
	scfg.src_max_tcp = cfg.src_max_tcp;
	scfg.hs_ms = cfg.hs_timeout_s * 1000;
	if (!cfg.md5_agents.n) {
		/* both stop at the first challenge they cannot answer */
		cfg.md5_agents.v[0] = "sipsak";
		cfg.md5_agents.v[1] = "baresip";
		cfg.md5_agents.n = 2;
	}
	err = hr_loop_init();
	if (err)
		return err;
	/* before the store's thread starts (xml.h) */
	xmlInitParser();
	err = open_store(&sv);
	if (!err)
		err = open_auth(&sv);
	if (!err)
		err = hr_sip_alloc(&sv.sip, &scfg);
	/* recovery before the sockets open: no traffic until all is loaded */
	if (!err)
		err = open_registrar(&sv);
	if (!err)
		err = open_redirect(&sv);
	if (!err)
		err = open_events(&sv);
	/* the others' changes since the join, once all is loaded */
	if (!err)
		hr_store_set_change_handler(sv.store, node_changed, &sv);
	if (!err)
		err = listen_all(sv.sip);
	if (!err)
		err = open_admin(&sv);
	if (err)
		goto out;
	for (int i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(hr_loop_base(), signos[i], on_signal,
			&sv);
		if (!sigs[i] || evsignal_add(sigs[i], NULL)) {
			err = ENOMEM;
			goto out;
		}
	}
	for (unsigned i = 0; i < cfg.domains.n; i++)
		HR_INFO("serving domain %s", cfg.domains.v[i]);
	/* rules, roles and users may have changed since the subscriptions
	 * were stored (while down, or in a crash between a rule's commit
	 * and the end it brings): what is no longer allowed ends now */
	hr_events_reauthorize(sv.events, NULL, NULL, NULL);
	hr_tmr_start(&sv.trim, TRIM_MS, on_trim, &sv);
	hr_log(HR_LOG_INFO, HR_LOG_MODULE, "ready");
	err = hr_loop_run();
out:
	hr_tmr_cancel(&sv.trim);
	for (int i = 0; i < 3; i++) {
		if (sigs[i])
			event_free(sigs[i]);
	}
	close_all(&sv);
	hr_call_free();
	hr_dns_close();
	hr_loop_close();
	return err;
}

/* A min/default/max triple of options. */
struct range {
	const char *min, *def, *max;
	const unsigned *vmin, *vdef, *vmax;
};

static int check_order(const char *a, unsigned va, const char *b,
	unsigned vb)
{
	if (va <= vb)
		return 0;
	fprintf(stderr, "herald: --%s %u is above --%s %u\n", a, va, b, vb);
	return EINVAL;
}

/* Each triple in order: min <= default <= max. */
static int check_ranges(void)
{
	static const struct range r[] = {
		{ "min-expires", "default-expires", "max-expires",
		  &cfg.expires_min, &cfg.expires_default, &cfg.expires_max },
		{ "subscribe-min-expires", "subscribe-default-expires",
		  "subscribe-max-expires", &cfg.sub_expires_min,
		  &cfg.sub_expires_default, &cfg.sub_expires_max },
		{ "publish-min-expires", "publish-default-expires",
		  "publish-max-expires", &cfg.pub_expires_min,
		  &cfg.pub_expires_default, &cfg.pub_expires_max },
	};

	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		if (check_order(r[i].min, *r[i].vmin, r[i].max, *r[i].vmax) ||
		    check_order(r[i].min, *r[i].vmin, r[i].def, *r[i].vdef) ||
		    check_order(r[i].def, *r[i].vdef, r[i].max, *r[i].vmax))
			return EINVAL;
	}
	return 0;
}

/* --auth none with a method is a contradiction, not a list; so is
 * --redirect none with one, and a method not redirected. */
static int check_auth(void)
{
	unsigned bits;

	for (unsigned i = 0; cfg.redirect.n > 1 && i < cfg.redirect.n; i++) {
		if (!strcasecmp(cfg.redirect.v[i], "none")) {
			fprintf(stderr, "herald: --redirect none cannot go "
				"with --redirect %s\n", cfg.redirect.v[i ? 0 :
				1]);
			return EINVAL;
		}
	}
	for (unsigned i = 0; i < cfg.trusted.n; i++) {
		struct hr_net net;

		if (i == 64 || hr_net_decode(&net, cfg.trusted.v[i])) {
			fprintf(stderr, "herald: --trusted-publisher takes an "
				"address or ADDRESS/BITS, at most 64 of them, "
				"not '%s'\n", cfg.trusted.v[i]);
			return EINVAL;
		}
	}
	if (!redirected(&bits)) {
		fprintf(stderr, "herald: --redirect takes INVITE, MESSAGE, "
			"OPTIONS, REFER or none\n");
		return EINVAL;
	}
	for (unsigned i = 0; cfg.auth.n > 1 && i < cfg.auth.n; i++) {
		if (!strcasecmp(cfg.auth.v[i], "none")) {
			fprintf(stderr, "herald: --auth none cannot go with "
				"--auth %s\n", cfg.auth.v[i ? 0 : 1]);
			return EINVAL;
		}
	}
	return 0;
}

/* What can be known wrong before anything starts: usage errors, exit 2. */
static int check_cfg(char *db_desc, size_t size)
{
	enum hr_pres_action act;
	enum hr_dlg_privacy priv;
	bool from_file;

	if (hr_log_set_level(cfg.log_level)) {
		fprintf(stderr, "herald: --log-level is debug, info, warn or "
			"error, not '%s'\n", cfg.log_level);
		return EINVAL;
	}
	if (hr_log_set_format(cfg.log_format)) {
		fprintf(stderr, "herald: --log-format is text or json, not "
			"'%s'\n", cfg.log_format);
		return EINVAL;
	}
	if (hr_dlg_privacy_decode(cfg.dialog_privacy, &priv)) {
		fprintf(stderr, "herald: --dialog-default-privacy takes "
			"identity or state\n");
		return EINVAL;
	}
	if (hr_pres_action_decode(cfg.presence_local, &act) ||
	    hr_pres_action_decode(cfg.presence_remote, &act)) {
		fprintf(stderr, "herald: --presence-default-local and "
			"--presence-default-remote take allow, confirm, "
			"polite-block or block\n");
		return EINVAL;
	}
	if (check_ranges() || check_auth())
		return EINVAL;
	if (!cfg.domains.n) {
		fprintf(stderr, "herald: no --domain given: Herald would serve "
			"no domain\n");
		return EINVAL;
	}
	if (hr_cmd_database_url(&cfg.database_url, db_desc, size,
		&from_file))
		return EINVAL;
	if (from_file)
		snprintf(db_desc + strlen(db_desc), size - strlen(db_desc),
			" (from var/database-url)");
	return 0;
}

/* Options: flags and environment, then --config under them. 0 to go on,
 * EAGAIN after --help, EINVAL (said on stderr). */
static int parse(int argc, char **argv)
{
	char why[320];
	int err;

	err = hr_opt_parse_given(opts, NOPTS, argc, argv, given);
	if (err == EAGAIN) {
		printf("usage: herald serve [OPTIONS]\n\nRun the server until "
			"SIGTERM or SIGINT; SIGHUP reopens --log-file and "
			"applies\n--config's log-level and log-file.\n\noptions "
			"(each also from its environment variable):\n");
		hr_opt_usage(opts, NOPTS, stdout);
		return EAGAIN;
	}
	if (err)
		return EINVAL;
	if (!cfg.config || !*cfg.config) {
		cfg.config = NULL;
		return 0;
	}
	err = hr_conf_read(&conf, cfg.config, why, sizeof(why));
	if (!err)
		err = hr_opt_conf_apply(opts, NOPTS, conf, given, why,
			sizeof(why));
	if (err) {
		fprintf(stderr, "herald: %s: %s\n", cfg.config, why);
		return EINVAL;
	}
	return 0;
}

static int serve(const char *db_desc)
{
	int err;

	/* a peer closing its socket must not kill the server */
	signal(SIGPIPE, SIG_IGN);
	/* nor SIGHUP, before the loop handles it and after */
	signal(SIGHUP, SIG_IGN);
	err = hr_log_open(cfg.log_file && *cfg.log_file ? cfg.log_file :
		NULL);
	if (err) {
		fprintf(stderr, "herald: cannot open --log-file %s: %s\n",
			cfg.log_file, hr_strerror(err));
		return 1;
	}
	HR_INFO("database %s", db_desc);
	hr_hup_init(&(struct hr_hup_cfg){ opts, NOPTS, given, cfg.config,
		conf, cfg.log_level, LOG_LEVEL_DEFAULT, cfg.log_file });
	err = run();
	hr_hup_close();
	if (err) {
		HR_ERROR("stopped: %s", hr_strerror(err));
		return 1;
	}
	HR_INFO("stopped");
	return 0;
}

int hr_cmd_serve(int argc, char **argv)
{
	char db_desc[512];
	int rc, err = parse(argc, argv);

	if (!err)
		err = check_cfg(db_desc, sizeof(db_desc));
	if (err == EAGAIN)
		rc = 0;
	else if (err)
		rc = 2;   /* usage: nothing was opened */
	else
		rc = serve(db_desc);
	conf = hr_mem_deref(conf);
	return rc;
}
