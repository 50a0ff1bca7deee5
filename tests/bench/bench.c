/*
 * herald-bench: command line, CPU pinning and the scenario table.
 * The summary line is the one thing this program writes to stdout.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench.h"
#include "net.h"

#define DEFAULT_WINDOW 128
#define MAX_WINDOW (1u << 20)
#define MAX_RATE_WINDOW (1u << 18)
#define MAX_CONNECTIONS 4096
#define DEFAULT_USERS 100000    /* soak: its own (scen_soak.c) */

static const struct bench_scen *const scens[] = {
	&bench_scen_options,
	&bench_scen_parse,
	&bench_scen_register,
	&bench_scen_subscribe,
	&bench_scen_subscribe_hold,
	&bench_scen_fanout,
	&bench_scen_publish,
	&bench_scen_pres_fanout,
	&bench_scen_dlg_publish,
	&bench_scen_dlg_fanout,
	&bench_scen_storm,
	&bench_scen_pub_race,
	&bench_scen_soak,
	&bench_scen_redirect,
	&bench_scen_reg_overload,
};

enum {
	OPT_TIMEOUT = 256,
	OPT_CPU,
	OPT_DOMAIN,
	OPT_OPS,
	OPT_USERS,
	OPT_PASSWORD,
	OPT_WATCHERS,
	OPT_AORS,
	OPT_MONITOR,
	OPT_STORM,
	OPT_SETTLE,
	OPT_PRESENTITIES,
	OPT_DEVICES,
	OPT_ADMIN,
	OPT_PID,
	OPT_RSS_LOG,
	OPT_CA,
	OPT_T1,
};

static const struct option longopts[] = {
	{ "scenario", required_argument, NULL, 's' },
	{ "target", required_argument, NULL, 't' },
	{ "duration", required_argument, NULL, 'd' },
	{ "rate", required_argument, NULL, 'r' },
	{ "window", required_argument, NULL, 'w' },
	{ "connections", required_argument, NULL, 'c' },
	{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
	{ "cpu", required_argument, NULL, OPT_CPU },
	{ "domain", required_argument, NULL, OPT_DOMAIN },
	{ "ops", required_argument, NULL, OPT_OPS },
	{ "users", required_argument, NULL, OPT_USERS },
	{ "password", required_argument, NULL, OPT_PASSWORD },
	{ "watchers", required_argument, NULL, OPT_WATCHERS },
	{ "aors", required_argument, NULL, OPT_AORS },
	{ "monitor", required_argument, NULL, OPT_MONITOR },
	{ "storm-seconds", required_argument, NULL, OPT_STORM },
	{ "settle", required_argument, NULL, OPT_SETTLE },
	{ "presentities", required_argument, NULL, OPT_PRESENTITIES },
	{ "devices", required_argument, NULL, OPT_DEVICES },
	{ "admin", required_argument, NULL, OPT_ADMIN },
	{ "pid", required_argument, NULL, OPT_PID },
	{ "rss-log", required_argument, NULL, OPT_RSS_LOG },
	{ "ca", required_argument, NULL, OPT_CA },
	{ "t1", required_argument, NULL, OPT_T1 },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	size_t i;

	fputs(
"Usage: herald-bench [OPTION]...\n"
"Drive a SIP server with one scenario for a fixed time, then print one\n"
"summary line on stdout:\n"
"  scenario=options transport=udp duration=10.0s ops=N ops/s=N failures=N\n"
"  p50=Xms p99=Xms p99.9=Xms\n"
"An op succeeds when every exchange in it gets the expected final response;\n"
"it fails on an unexpected status or when an exchange gets no final\n"
"response within the timeout. Latency is from the op's first request to its\n"
"last response (CLOCK_MONOTONIC). No UDP retransmissions (but in\n"
"register-overload): a lost datagram is a failure. Requests the server\n"
"sends (NOTIFY) are answered 200 OK.\n"
"\n"
"  -s, --scenario NAME    what one op is (default options):\n",
		f);
	for (i = 0; i < sizeof(scens) / sizeof(scens[0]); i++)
		fprintf(f, "        %-14s %s\n", scens[i]->name,
			scens[i]->help);
	fputs(
"  -t, --target T         udp:, tcp:, tls:, ws: or wss:HOST:PORT, IPv6 as\n"
"                         [ADDR] (default udp:127.0.0.1:5060); ws and wss\n"
"                         are SIP over WebSocket (RFC 7118), one message\n"
"                         a text frame\n"
"      --ca FILE          tls, wss: verify the server's certificate (and\n"
"                         that it names HOST) with the CA certificates in\n"
"                         FILE (PEM); without it the certificate is NOT\n"
"                         verified (any server, any name is accepted)\n"
"  -d, --duration SECS    how long to start ops, fractions allowed\n"
"                         (default 10); ops in flight then get up to the\n"
"                         timeout to finish and count\n"
"  -r, --rate N           start N ops per second (default: flat out,\n"
"                         keeping --window ops in flight; soak 2000)\n"
"  -w, --window W         ops in flight at most (default 128, *-fanout 1,\n"
"                         reg-storm 256; with --rate, enough for rate x\n"
"                         timeout, at most 262144)\n"
"  -c, --connections C    tcp, tls, ws, wss: connections, each opened (TLS\n"
"                         handshake, WebSocket upgrade) before the clock\n"
"                         starts; ops are spread round-robin and\n"
"                         pipelined on each (default 1)\n"
"      --timeout-ms MS    an exchange without a final response for this\n"
"                         long fails (default 2000)\n"
"      --cpu N            pin this process to CPU N\n"
"      --domain D         domain of request URIs and addresses\n"
"                         (default example.test)\n"
"      --ops N            start at most N ops, then finish (default: no\n"
"                         limit; the run still ends after --duration)\n"
"      --users N          register, subscribe-*, publish, dialog-publish:\n"
"                         users (lines) u1..uN, one per op round-robin\n"
"                         (default 100000; soak: its population, default\n"
"                         5000)\n"
"      --password PW      the users' password (default pw)\n"
"      --watchers W       reg-fanout, presence-fanout, dialog-fanout:\n"
"                         subscriptions to u1\n"
"                         made before the clock starts (default 1000)\n"
"      --aors N           reg-storm: AORs u1..uN, registered and watched\n"
"                         before the clock starts (default 10000);\n"
"                         redirect: registered, one Contact each, and\n"
"                         called round-robin (default 1000, at most\n"
"                         --users)\n"
"      --monitor USER     reg-storm: who watches them (default mon, a user\n"
"                         with the monitor role); self: uK watches uK\n"
"      --storm-seconds S  reg-storm: every AOR re-registers, paced evenly\n"
"                         over S seconds (default 10; 0: flat out, --window\n"
"                         in flight); --duration and --ops are not used\n"
"      --settle S         reg-storm: a refresh not reported by a NOTIFY S\n"
"                         seconds after the last REGISTER's 200 is lost\n"
"                         (default 5)\n"
"      --presentities P   publish-race: presentities u1..uP (default 8)\n"
"      --devices D        publish-race: publishers (devices) of each, one\n"
"                         PUBLISH in flight each (default 4; the window is\n"
"                         P x D, at most)\n"
"      --admin HOST:PORT  publish-race: Herald's admin API, whose\n"
"                         herald_publications it compares with what the\n"
"                         publishers believe live (bearer token from\n"
"                         HERALD_ADMIN_TOKEN; none: not compared)\n"
"      --pid PID          soak: sample this process's VmRSS (Herald's)\n"
"                         every 10 s (duration / 60 if less, at least 1 s)\n"
"      --rss-log FILE     soak: write the samples there, \"t_seconds rss_kb\"\n"
"      --t1 MS            register-overload: RFC 3261 T1 (default 500):\n"
"                         Timer E sends a request again after T1, 2 T1,\n"
"                         4 T1, then every T2 = 8 T1; Timer F (64 T1) is\n"
"                         its timeout, --timeout-ms is not used\n"
"  -v, --verbose          print more counters on stderr\n"
"  -h, --help             show this help\n"
"\n"
"The parse scenario uses only --duration (and --cpu) and prints\n"
"  scenario=parse msgs=N msgs/s=N bytes=N ns/msg=X\n"
"reg-fanout counts the NOTIFYs its watchers get while it registers u1:\n"
"  scenario=reg-fanout transport=udp duration=10.0s watchers=N notifies=N\n"
"  notifies/s=N registers=N registers/s=N failures=N delay_p50=Xms\n"
"  delay_p99=Xms reg_p50=Xms reg_p99=Xms\n"
"(delay: from sending the REGISTER a NOTIFY reports to its arrival)\n"
"presence-fanout and dialog-fanout the same while u1 PUBLISHes:\n"
"  scenario=dialog-fanout transport=udp duration=10.0s watchers=N\n"
"  notified=N notifies=N notifies/s=N publishes=N publishes/s=N\n"
"  failures=N delay_p50=Xms delay_p99=Xms pub_p50=Xms pub_p99=Xms\n"
"(delay: from sending a PUBLISH to each watcher's first NOTIFY showing it)\n"
"publish and dialog-publish count PUBLISHes answered 200 and sent:\n"
"  scenario=dialog-publish transport=udp duration=10.0s ops=N ops/s=N\n"
"  publishes/s=N requests/s=N failures=N p50=Xms p99=Xms p99.9=Xms\n"
"reg-storm re-registers --aors watched AORs and checks the NOTIFYs:\n"
"  scenario=reg-storm transport=udp aors=N storm=Xs registers=N notifies=N\n"
"  notifies/s=N notified=N lost=N duplicates=N retransmits=N failures=N\n"
"  delay_p50=Xms delay_p99=Xms delay_max=Xms reg_p50=Xms reg_p99=Xms\n"
"(exit status 1 also when lost, duplicates or failures are not 0)\n"
"publish-race checks every entity-tag believed live and Herald's count:\n"
"  scenario=publish-race transport=udp duration=10.0s presentities=N\n"
"  publishers=N publishes=N publishes/s=N races=N etags_checked=N\n"
"  etags_412=N live_expected=N live_herald=N failures=N p50=Xms p99=Xms\n"
"(exit status 1 also when etags_412 or failures are not 0 or the live\n"
"counts differ)\n"
"soak keeps --users bindings, publications and subscriptions refreshed\n"
"at --rate (default 2000), with churn, and samples --pid's VmRSS:\n"
"  scenario=soak transport=udp duration=3600.0s users=N ops=N ops/s=N\n"
"  failures=N p50=Xms p99=Xms registers=N publishes=N subscribes=N\n"
"  removals=N notifies=N rss_start=NkB rss_end=NkB rss_max=NkB\n"
"  rss_mid=NkB rss_last=NkB plateau=yes|no\n"
"(plateau: rss_last, the peak of the last third, within 10% of rss_mid,\n"
"the middle third's; not in the exit status)\n""redirect adds the final responses to its INVITEs that came again (over\n"
"UDP, until 1 s after the last: ACKs that did not match):\n"
"  scenario=redirect transport=udp duration=10.0s ops=N ops/s=N failures=N\n"
"  p50=Xms p99=Xms p99.9=Xms retransmits=N\n"
"(exit status 1 also when a 302 lacks the Contact the AOR registered)\n"
"register-overload offers --rate registrations per second (open loop, up\n"
"to 1000000 in flight) from RFC 3261 UDP clients that send again on\n"
"Timer E and give up at Timer F; a 503 fails the op (Retry-After or not):\n"
"  scenario=register-overload transport=udp duration=10.0s offered/s=N\n"
"  started=N started/s=N ops=N goodput/s=N failures=N failed%=X\n"
"  retransmits=N 503s=N 503s_retry_after=N p50=Xms p99=Xms\n"
"  in_flight_end=N in_flight_max=N window_full=yes|no t1=Nms\n"
"(goodput/s: ops that got their 200, per second from the first start to\n"
"the last 200; in_flight_end: neither done nor failed Timer F after the\n"
"last start)\n"
"\n"
"Exit status: 0 when the run completed and an op succeeded, 1 when it\n"
"could not run or nothing succeeded, 2 for a bad command line.\n",
		f);
}

static int num(const char *opt, const char *s, uint64_t min, uint64_t max,
	uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || *v < min || *v > max) {
		bench_err("--%s: expected a number from %llu to %llu, got '%s'",
			opt, (unsigned long long)min, (unsigned long long)max,
			s);
		return EINVAL;
	}
	return 0;
}

static int duration(const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	if (errno || end == s || *end || !(*v > 0) || *v > 86400) {
		bench_err("--duration: expected seconds above 0, got '%s'", s);
		return EINVAL;
	}
	return 0;
}

/* Seconds from 0 (when zero_ok) or above 0, to a day. */
static int seconds(const char *opt, const char *s, bool zero_ok, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	if (errno || end == s || *end || *v < 0 || (!zero_ok && *v == 0) ||
	    !(*v <= 86400)) {
		bench_err("--%s: expected seconds from %s to 86400, got '%s'",
			opt, zero_ok ? "0" : "above 0", s);
		return EINVAL;
	}
	return 0;
}

static const struct bench_scen *scen_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(scens) / sizeof(scens[0]); i++) {
		if (strcmp(scens[i]->name, name) == 0)
			return scens[i];
	}
	bench_err("unknown scenario '%s' (see --help)", name);
	return NULL;
}

static int opt_one(struct bench_cfg *cfg, int c)
{
	uint64_t v;
	int err = 0;

	switch (c) {
	case 's':
		cfg->scenario = optarg;
		break;
	case 't':
		err = bench_net_target(cfg, optarg);
		break;
	case 'd':
		err = duration(optarg, &cfg->duration_s);
		break;
	case 'r':
		err = num("rate", optarg, 1, 100000000, &cfg->rate);
		break;
	case 'w':
		err = num("window", optarg, 1, MAX_WINDOW, &v);
		cfg->window = (uint32_t)v;
		break;
	case 'c':
		err = num("connections", optarg, 1, MAX_CONNECTIONS, &v);
		cfg->connections = (uint32_t)v;
		break;
	case OPT_TIMEOUT:
		err = num("timeout-ms", optarg, 1, 600000, &v);
		cfg->timeout_ms = (uint32_t)v;
		break;
	case OPT_CPU:
		err = num("cpu", optarg, 0, CPU_SETSIZE - 1, &v);
		cfg->cpu = (int)v;
		break;
	case OPT_DOMAIN:
		cfg->domain = optarg;
		break;
	case OPT_OPS:
		err = num("ops", optarg, 1, UINT64_MAX, &cfg->max_ops);
		break;
	case OPT_USERS:
		err = num("users", optarg, 1, UINT32_MAX, &v);
		cfg->users = (uint32_t)v;
		break;
	case OPT_PASSWORD:
		cfg->password = optarg;
		break;
	case OPT_WATCHERS:
		err = num("watchers", optarg, 1, 1000000, &v);
		cfg->watchers = (uint32_t)v;
		break;
	case OPT_AORS:
		err = num("aors", optarg, 1, 1000000, &v);
		cfg->aors = (uint32_t)v;
		break;
	case OPT_MONITOR:
		/* a user part as is in From, Contact and the digest */
		if (!*optarg || strlen(optarg) > 64 ||
		    strspn(optarg, "abcdefghijklmnopqrstuvwxyz"
			"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") !=
		    strlen(optarg)) {
			bench_err("--monitor: expected a user name, got '%s'",
				optarg);
			err = EINVAL;
		}
		cfg->monitor = optarg;
		break;
	case OPT_STORM:
		err = seconds("storm-seconds", optarg, true, &cfg->storm_s);
		break;
	case OPT_SETTLE:
		err = seconds("settle", optarg, false, &cfg->settle_s);
		break;
	case OPT_PRESENTITIES:
		err = num("presentities", optarg, 1, 100000, &v);
		cfg->presentities = (uint32_t)v;
		break;
	case OPT_DEVICES:
		err = num("devices", optarg, 1, 1000, &v);
		cfg->devices = (uint32_t)v;
		break;
	case OPT_ADMIN:
		cfg->admin = optarg;
		break;
	case OPT_PID:
		err = num("pid", optarg, 1, INT32_MAX, &v);
		cfg->pid = (int)v;
		break;
	case OPT_RSS_LOG:
		cfg->rss_log = optarg;
		break;
	case OPT_CA:
		cfg->ca = optarg;
		break;
	case OPT_T1:
		err = num("t1", optarg, 1, 60000, &v);
		cfg->t1_ms = (uint32_t)v;
		break;
	case 'v':
		cfg->verbose = true;
		break;
	default:
		err = EINVAL;
		break;
	}
	return err;
}

/* With --rate, room for every op of one timeout period, within reason. */
static uint32_t rate_window(const struct bench_cfg *cfg)
{
	uint64_t w = cfg->rate * cfg->timeout_ms / 1000 + 1;

	if (w < DEFAULT_WINDOW)
		return DEFAULT_WINDOW;
	return w > MAX_RATE_WINDOW ? MAX_RATE_WINDOW : (uint32_t)w;
}

/* Leaves cfg->window 0 when not given: it depends on the scenario. */
static int opts_parse(struct bench_cfg *cfg, int argc, char **argv)
{
	bool target_set = false;
	int c;

	while ((c = getopt_long(argc, argv, "s:t:d:r:w:c:vh", longopts,
			NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		if (c == 't')
			target_set = true;
		if (opt_one(cfg, c))
			return EINVAL;
	}
	if (optind < argc) {
		bench_err("unexpected argument '%s'", argv[optind]);
		return EINVAL;
	}
	if (!target_set && bench_net_target(cfg, "udp:127.0.0.1:5060"))
		return EINVAL;
	if (cfg->ca && cfg->tp != BENCH_TLS && cfg->tp != BENCH_WSS) {
		bench_err("--ca: only for tls: and wss: targets");
		return EINVAL;
	}
	return 0;
}

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0) {
		bench_err("--cpu %d: %s", cpu, strerror(errno));
		return errno;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct bench_cfg cfg = {
		.scenario = "options",
		.duration_s = 10,
		.connections = 1,
		.timeout_ms = 2000,
		.cpu = -1,
		.domain = "example.test",
		.users = 0,     /* the scenario's default, else DEFAULT_USERS */
		.password = "pw",
		.watchers = 1000,
		.aors = 0,      /* the scenario's default */
		.monitor = "mon",
		.storm_s = 10,
		.settle_s = 5,
		.presentities = 8,
		.devices = 4,
	};
	const struct bench_scen *scen;

	if (opts_parse(&cfg, argc, argv)) {
		fputs("Try 'herald-bench --help'.\n", stderr);
		return 2;
	}
	scen = scen_find(cfg.scenario);
	if (!scen)
		return 2;
	if (scen->configure)
		scen->configure(&cfg);
	if (!cfg.users)
		cfg.users = DEFAULT_USERS;
	if (!cfg.window)
		/* a scenario's own window holds under --rate too: one
		 * publisher may have one PUBLISH in flight (RFC 3903 4.1),
		 * one UA one REGISTER (RFC 3261 10.2) */
		cfg.window = scen->window ? scen->window : cfg.rate ?
			rate_window(&cfg) : DEFAULT_WINDOW;
	if (cfg.cpu >= 0 && pin(cfg.cpu))
		return 1;
	signal(SIGPIPE, SIG_IGN);
	if (scen->run)
		return scen->run(&cfg);
	return bench_run(&cfg, scen);
}
