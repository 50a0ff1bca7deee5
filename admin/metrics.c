/*
 * GET /metrics: Prometheus text (exposition format 0.0.4), from the
 * counters the control hands over in one call into the core, and the
 * process's own figures under the standard process_* names. Names carry
 * their unit (_seconds, _bytes) and counters end in _total, so that
 * `promtool check metrics` finds nothing to say
 * (tests/integration/test_observe.py).
 */
#include <stdio.h>
#include <string.h>
#include "admin_int.h"

/* A Prometheus histogram from per-bucket counts (le bounds; +Inf); the
 * bounds and the sum divided by scale (1000: ms counted, seconds
 * shown). */
static int histogram(struct hr_buf *b, const char *name, const char *help,
	const struct hr_ctl_histogram *h, double scale)
{
	uint64_t cum = 0;
	int err = hr_buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n",
		name, help, name);

	for (unsigned i = 0; i < h->n; i++) {
		cum += h->counts[i];
		if (i + 1 < h->n)
			err |= hr_buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n",
				name, (double)h->bounds[i] / scale,
				(unsigned long long)cum);
		else
			err |= hr_buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n",
				name, (unsigned long long)cum);
	}
	err |= hr_buf_printf(b, "%s_sum %.17g\n%s_count %llu\n", name,
		(double)h->sum / scale, name, (unsigned long long)cum);
	return err;
}

/* herald_build_info and the process's standard metrics. */
static int process(struct hr_buf *b)
{
	const struct hr_build_info *bi = hr_build_info();
	struct hr_admin_proc p;
	int err = hr_buf_printf(b, "# HELP herald_build_info The version "
		"and commit (git describe) of the running Herald.\n"
		"# TYPE herald_build_info gauge\n"
		"herald_build_info{version=\"%s\",commit=\"%s\"} 1\n",
		bi->version, bi->commit);

	if (hr_admin_proc_read(&p))
		return err;
	err |= hr_buf_printf(b, "# HELP process_cpu_seconds_total Total user "
		"and system CPU time spent in seconds.\n"
		"# TYPE process_cpu_seconds_total counter\n"
		"process_cpu_seconds_total %.6f\n"
		"# HELP process_resident_memory_bytes Resident memory size in "
		"bytes.\n# TYPE process_resident_memory_bytes gauge\n"
		"process_resident_memory_bytes %llu\n"
		"# HELP process_virtual_memory_bytes Virtual memory size in "
		"bytes.\n# TYPE process_virtual_memory_bytes gauge\n"
		"process_virtual_memory_bytes %llu\n"
		"# HELP process_open_fds Number of open file descriptors.\n"
		"# TYPE process_open_fds gauge\nprocess_open_fds %u\n",
		p.cpu_s, p.resident_bytes, p.virtual_bytes, p.open_fds);
	if (p.max_fds)
		err |= hr_buf_printf(b, "# HELP process_max_fds Maximum number "
			"of open file descriptors.\n# TYPE process_max_fds "
			"gauge\nprocess_max_fds %llu\n", p.max_fds);
	if (p.start_s)
		err |= hr_buf_printf(b, "# HELP process_start_time_seconds "
			"Start time of the process since unix epoch in "
			"seconds.\n# TYPE process_start_time_seconds gauge\n"
			"process_start_time_seconds %.2f\n", p.start_s);
	return err;
}

/* Credentials refused, by why (every reason, 0 too). */
static int auth_failures(struct hr_buf *b, const struct hr_ctl_stats *s)
{
	int err = hr_buf_puts(b, "# HELP herald_auth_failures_total Digest "
		"credentials refused, by reason.\n"
		"# TYPE herald_auth_failures_total counter\n");

	for (unsigned i = 0; i < s->nauth_fails; i++)
		err |= hr_buf_printf(b, "herald_auth_failures_total{reason="
			"\"%s\"} %llu\n", s->auth_fails[i].reason,
			(unsigned long long)s->auth_fails[i].n);
	return err;
}

/* Every 5xx by one of a few causes (each cause with its usual status
 * is there from the start, 0 too). */
static int server_errors(struct hr_buf *b, const struct hr_ctl_stats *s)
{
	int err = hr_buf_puts(b, "# HELP herald_sip_server_errors_total SIP "
		"5xx responses sent, by status and cause.\n"
		"# TYPE herald_sip_server_errors_total counter\n");

	for (unsigned i = 0; i < s->nserver_errors; i++)
		err |= hr_buf_printf(b, "herald_sip_server_errors_total{code="
			"\"%u\",reason=\"%s\"} %llu\n",
			s->server_errors[i].scode, s->server_errors[i].reason,
			(unsigned long long)s->server_errors[i].n);
	return err;
}

/* Every 5xx Herald sent, by status, reason, where it arose and errno
 * (the core keeps a bounded list of kinds; its last is "other causes"). */
static int sip_errors(struct hr_buf *b, const struct hr_ctl_stats *s)
{
	int err = hr_buf_puts(b, "# HELP herald_sip_errors_total SIP 5xx "
		"responses sent, by cause.\n"
		"# TYPE herald_sip_errors_total counter\n");

	for (unsigned i = 0; i < s->nfails; i++) {
		const struct hr_ctl_fail *k = &s->fails[i];
		const char *en = k->err ? strerrorname_np(k->err) : "";

		err |= hr_buf_printf(b, "herald_sip_errors_total{code=\"%u\","
			"reason=\"%s\",where=\"%s\",errno=\"%s\"} %llu\n",
			k->scode, k->reason, k->where, en ? en : "",
			(unsigned long long)k->n);
	}
	return err;
}

void hr_admin_metrics(struct req *r, struct reply *rp)
{
	struct hr_ctl_stats m;
	struct hr_buf b;
	int err = 0;

	if (hr_ctl_stats(r->a->cfg.ctl, &m)) {
		hr_admin_problem(rp, 503, "Service Unavailable",
			"the SIP core did not answer");
		return;
	}
	hr_buf_init(&b, 64 * 1024);
#define GAUGE(name, help, v) \
	err |= hr_buf_printf(&b, "# HELP " name " " help "\n# TYPE " name \
		" gauge\n" name " %llu\n", (unsigned long long)(v))
#define COUNTER(name, help, v) \
	err |= hr_buf_printf(&b, "# HELP " name " " help "\n# TYPE " name \
		" counter\n" name " %llu\n", (unsigned long long)(v))
	GAUGE("herald_bindings", "Live registrar bindings.", m.bindings);
	err |= hr_buf_puts(&b, "# HELP herald_subscriptions Live event "
		"subscriptions.\n# TYPE herald_subscriptions gauge\n");
	for (unsigned i = 0; i < m.npkgs; i++)
		err |= hr_buf_printf(&b, "herald_subscriptions{event=\"%s\","
			"state=\"active\"} %zu\nherald_subscriptions{event=\"%s\","
			"state=\"pending\"} %zu\n", m.subs[i].package,
			m.subs[i].active, m.subs[i].package, m.subs[i].pending);
	GAUGE("herald_publications", "Live presence publications (every "
		"package's: herald_event_publications).", m.publications);
	err |= hr_buf_printf(&b, "# HELP herald_event_publications Live "
		"publications, by event package.\n# TYPE "
		"herald_event_publications gauge\n"
		"herald_event_publications{event=\"presence\"} %zu\n"
		"herald_event_publications{event=\"dialog\"} %zu\n"
		"herald_event_publications{event=\"message-summary\"} %zu\n",
		m.publications, m.dialog_publications, m.mwi_publications);
	err |= hr_buf_puts(&b, "# HELP herald_sip_requests_total SIP requests "
		"received.\n# TYPE herald_sip_requests_total counter\n");
	for (unsigned k = 0; k < m.nmethods; k++)
		err |= hr_buf_printf(&b, "herald_sip_requests_total{method="
			"\"%s\"} %llu\n", m.requests[k].method,
			(unsigned long long)m.requests[k].n);
	err |= hr_buf_puts(&b, "# HELP herald_sip_responses_total SIP "
		"responses sent.\n# TYPE herald_sip_responses_total counter\n");
	for (int k = 1; k <= 6; k++)
		err |= hr_buf_printf(&b, "herald_sip_responses_total{class="
			"\"%dxx\"} %llu\n", k,
			(unsigned long long)m.responses[k]);
	err |= sip_errors(&b, &m);
	GAUGE("herald_sip_server_transactions", "Live server transactions "
		"(at most --max-transactions).", m.strans);
	GAUGE("herald_sip_sources", "Source addresses in the per-source "
		"limits' table (bounded).", m.sources);
	COUNTER("herald_sip_requests_dropped_total", "Requests over "
		"--max-requests-per-source dropped unanswered (beyond the few "
		"answered with 503 each second).", m.src_dropped);
	COUNTER("herald_sip_overload_shed_total", "New requests answered "
		"503 at once because they waited in the UDP socket's queue "
		"longer than --overload-lag.", m.shed);
	err |= histogram(&b, "herald_sip_udp_lag_seconds", "Time a UDP "
		"message waited from its arrival in the kernel to its "
		"handling.", &m.lag_us, 1e6);
	err |= hr_buf_printf(&b, "# HELP herald_sip_tcp_refused_total TCP "
		"connections closed at accept, by limit.\n# TYPE "
		"herald_sip_tcp_refused_total counter\n"
		"herald_sip_tcp_refused_total{limit=\"per-source\"} %llu\n"
		"herald_sip_tcp_refused_total{limit=\"total\"} %llu\n",
		(unsigned long long)m.tcp_refused_src,
		(unsigned long long)m.tcp_refused_max);
	COUNTER("herald_sip_tls_failures_total", "TLS handshakes that "
		"failed (each said in the log at info, at most once a second).",
		m.tls_failed);
	COUNTER("herald_sip_handshake_timeouts_total", "TLS handshakes and "
		"WebSocket upgrades not done within --handshake-timeout.",
		m.hs_timeouts);
	COUNTER("herald_sip_ws_upgrades_refused_total", "WebSocket upgrade "
		"requests refused (no sip subprotocol, a bad version or key).",
		m.ws_refused);
	err |= hr_buf_puts(&b, "# HELP herald_sip_connections Open TCP, TLS "
		"and WebSocket connections, by transport.\n"
		"# TYPE herald_sip_connections gauge\n");
	for (unsigned i = 0; i < m.nconns_by; i++)
		err |= hr_buf_printf(&b, "herald_sip_connections{transport="
			"\"%s\"} %zu\n", m.conns_by[i].transport,
			m.conns_by[i].n);
	GAUGE("herald_sip_client_transactions", "Live client transactions "
		"(NOTIFYs and the like in flight).", m.ctrans);
	err |= auth_failures(&b, &m);
	err |= server_errors(&b, &m);
	COUNTER("herald_notifies_total", "NOTIFYs sent.", m.notifies);
	COUNTER("herald_notifies_failed_total",
		"NOTIFYs answered with an error or never (Timer F).",
		m.notifies_failed);
	COUNTER("herald_sip_retransmits_total",
		"Requests Herald sent again (Timer E).", m.retransmits);
	COUNTER("herald_sip_response_retransmits_total", "INVITE final "
		"responses (3xx-6xx) sent again until their ACK (Timer G).",
		m.resp_retransmits);
	COUNTER("herald_sip_acks_missing_total", "INVITE final responses "
		"(3xx-6xx) never ACKed (Timer H).", m.acks_missing);
	err |= hr_buf_printf(&b, "# HELP herald_redirect_responses_total "
		"Answers of the redirect server, by status.\n# TYPE "
		"herald_redirect_responses_total counter\n"
		"herald_redirect_responses_total{code=\"302\"} %llu\n"
		"herald_redirect_responses_total{code=\"404\"} %llu\n"
		"herald_redirect_responses_total{code=\"480\"} %llu\n",
		(unsigned long long)m.redirect_moved,
		(unsigned long long)m.redirect_not_found,
		(unsigned long long)m.redirect_unavailable);
	COUNTER("herald_redirect_contacts_total",
		"Contacts offered in the redirect server's 302s.",
		m.redirect_contacts);
	GAUGE("herald_store_connected", "1 while the store's connection to "
		"PostgreSQL is up, 0 while it is lost.", m.store_connected);
	GAUGE("herald_store_queue_depth", "Changes queued for PostgreSQL.",
		m.queue_depth);
	GAUGE("herald_store_batch_max", "Most changes in one commit.",
		m.max_batch);
	COUNTER("herald_store_commits_total", "Database commits.",
		m.commits);
	COUNTER("herald_store_changes_total", "Changes committed.", m.changes);
	COUNTER("herald_store_failed_total", "Changes failed.", m.failed);
	COUNTER("herald_store_timedout_total",
		"Changes given up while PostgreSQL was away.", m.timedout);
	COUNTER("herald_store_outages_total",
		"Times the PostgreSQL connection was lost.", m.outages);
	/* 0 for a single node, so that dashboards and alerts need not
	 * know which a Herald is */
	GAUGE("herald_cluster_node", "1 for a node of a cluster (--node-id), "
		"0 for a single node.", m.cluster);
	GAUGE("herald_cluster_fenced", "1 while this node has not renewed "
		"its lease for longer than the lease: it sends no NOTIFY.",
		m.fenced);
	GAUGE("herald_cluster_log_mark", "The last change of the cluster's "
		"change log this node has read: one node far below the others "
		"is behind.", m.cluster_mark);
	COUNTER("herald_cluster_changes_applied_total", "Other writers' "
		"changed bindings, publications and rules applied here.",
		m.cluster_applied);
	COUNTER("herald_cluster_subscriptions_taken_over_total", "Dead "
		"nodes' subscriptions this node took over.", m.taken_over);
	err |= histogram(&b, "herald_store_batch_size",
		"Changes per database commit.", &m.batch, 1);
	err |= histogram(&b, "herald_store_commit_seconds",
		"Database commit latency in seconds.", &m.commit_ms, 1000);
	err |= hr_admin_audit_metrics(r->a, &b);
	err |= hr_admin_feed_metrics(r->a, &b);
	err |= process(&b);
#undef GAUGE
#undef COUNTER
	if (err) {
		hr_buf_reset(&b);
		hr_admin_problem(rp, 500, "Internal Server Error",
			"out of memory");
		return;
	}
	rp->status = 200;
	rp->ctype = "text/plain; version=0.0.4";
	rp->body = b.b;
	rp->len = b.len;
}
