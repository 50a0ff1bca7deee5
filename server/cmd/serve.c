/* herald serve: options, sockets, the loop, and a clean shutdown. */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include "cmd.h"
#include "sip/sip.h"

#define HR_LOG_MODULE "serve"

struct serve_cfg {
	struct hr_strlist listen;
	struct hr_strlist domains;
	const char *log_level;
	unsigned max_msg;
	unsigned tcp_idle_s;
	unsigned tcp_max_conns;
};

static struct serve_cfg cfg = {
	.log_level = "info",
	.max_msg = HR_SIP_DEFAULT_MAX_MSG,
	.tcp_idle_s = 300,
	.tcp_max_conns = 4096,
};

static const struct hr_opt opts[] = {
	{ "sip-listen", HR_OPT_LIST, &cfg.listen, "PROTO:HOST:PORT",
	  "SIP socket, repeatable: udp:127.0.0.1:5060, tcp:[::1]:5060 "
	  "(default: UDP and TCP on 127.0.0.1:5060)", 0, 0 },
	{ "domain", HR_OPT_LIST, &cfg.domains, "DOMAIN",
	  "a domain served, repeatable (each its own digest realm)", 0, 0 },
	{ "log-level", HR_OPT_STR, &cfg.log_level, "LEVEL",
	  "debug, info, warn or error (default info)", 0, 0 },
	{ "max-message-size", HR_OPT_UINT, &cfg.max_msg, "BYTES",
	  "largest SIP message accepted; larger get 513 (default 65535)",
	  1024, 1024 * 1024 },
	{ "tcp-idle-timeout", HR_OPT_UINT, &cfg.tcp_idle_s, "SECONDS",
	  "close TCP connections idle this long (default 300)", 1, 86400 },
	{ "tcp-max-connections", HR_OPT_UINT, &cfg.tcp_max_conns, "N",
	  "accepted TCP connections at once (default 4096)", 1, 1000000 },
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	HR_INFO("%s: shutting down", strsignal((int)sig));
	hr_loop_stop();
}

static int listen_all(struct hr_sip *sip)
{
	static const char *const defaults[] = { "udp:127.0.0.1:5060",
		"tcp:127.0.0.1:5060" };
	const char *const *specs = cfg.listen.n ? cfg.listen.v : defaults;
	unsigned n = cfg.listen.n ? cfg.listen.n : 2;

	for (unsigned i = 0; i < n; i++) {
		char addr[HR_SA_STRLEN];
		struct hr_sa sa;
		enum hr_tp tp;
		int err;

		if (hr_sip_listen_decode(specs[i], &tp, &sa)) {
			HR_ERROR("bad --sip-listen '%s' (want udp:HOST:PORT or "
				"tcp:HOST:PORT)", specs[i]);
			return EINVAL;
		}
		err = hr_sip_listen(sip, tp, &sa);
		if (err) {
			HR_ERROR("cannot listen on %s: %s", specs[i],
				hr_strerror(err));
			return err;
		}
		/* startup lines print at any level: scripts wait for them */
		hr_log(HR_LOG_INFO, HR_LOG_MODULE, "listening on %s:%s",
			tp == HR_TP_UDP ? "udp" : "tcp",
			hr_sa_print(&sa, addr, sizeof(addr)));
	}
	return 0;
}

static int run(void)
{
	struct hr_sip_cfg scfg;
	struct hr_sip *sip = NULL;
	struct event *sigs[2] = { NULL, NULL };
	int err;

	hr_sip_cfg_default(&scfg);
	scfg.max_msg = cfg.max_msg;
	scfg.tcp_idle_ms = cfg.tcp_idle_s * 1000;
	scfg.tcp_max_conns = cfg.tcp_max_conns;
	err = hr_loop_init();
	if (err)
		return err;
	err = hr_sip_alloc(&sip, &scfg);
	if (err)
		goto out;
	err = listen_all(sip);
	if (err)
		goto out;
	sigs[0] = evsignal_new(hr_loop_base(), SIGTERM, on_signal, NULL);
	sigs[1] = evsignal_new(hr_loop_base(), SIGINT, on_signal, NULL);
	if (!sigs[0] || !sigs[1] || evsignal_add(sigs[0], NULL) ||
	    evsignal_add(sigs[1], NULL)) {
		err = ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < cfg.domains.n; i++)
		HR_INFO("serving domain %s", cfg.domains.v[i]);
	hr_log(HR_LOG_INFO, HR_LOG_MODULE, "ready");
	err = hr_loop_run();
out:
	for (int i = 0; i < 2; i++) {
		if (sigs[i])
			event_free(sigs[i]);
	}
	hr_mem_deref(sip);
	hr_loop_close();
	return err;
}

int hr_cmd_serve(int argc, char **argv)
{
	int err;

	err = hr_opt_parse(opts, NOPTS, argc, argv);
	if (err == EAGAIN) {
		printf("usage: herald serve [OPTIONS]\n\noptions (each also "
			"from its environment variable):\n");
		hr_opt_usage(opts, NOPTS, stdout);
		return 0;
	}
	if (err)
		return 2;
	if (hr_log_set_level(cfg.log_level)) {
		fprintf(stderr, "herald: unknown log level '%s'\n",
			cfg.log_level);
		return 2;
	}
	/* a peer closing its socket must not kill the server */
	signal(SIGPIPE, SIG_IGN);
	err = run();
	if (err) {
		HR_ERROR("stopped: %s", hr_strerror(err));
		return 1;
	}
	HR_INFO("stopped");
	return 0;
}
