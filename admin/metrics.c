/*
 * GET /metrics: Prometheus text, from counters the core hands over in one
 * call (hr_call) and the store's.
 */
#include <stdio.h>
#include <string.h>
#include "admin_int.h"

struct metrics {
	struct hr_admin *a;
	size_t bindings;
	struct hr_events_count subs[HR_EVENTS_MAX_PKGS];
	unsigned npkgs;
	size_t pubs;
	size_t depth;
	struct hr_store_stats st;
	struct hr_sip_stats sip;
	struct hr_events_stats ev;
};

static void metrics_core(void *arg)
{
	struct metrics *m = arg;

	m->bindings = hr_registrar_count(m->a->cfg.registrar);
	m->npkgs = hr_events_counts(m->a->cfg.ev, m->subs);
	m->pubs = hr_presence_count(m->a->cfg.presence);
	m->depth = hr_store_queue_depth(m->a->cfg.store);
	hr_store_stats(m->a->cfg.store, &m->st);
	hr_sip_stats(m->a->cfg.sip, &m->sip);
	hr_events_stats(m->a->cfg.ev, &m->ev);
}

/* A Prometheus histogram from per-bucket counts (le bounds; +Inf). */
static int histogram(struct hr_buf *b, const char *name, const char *help,
	const uint64_t *bounds, const uint64_t *counts, unsigned n,
	uint64_t sum)
{
	uint64_t cum = 0;
	int err = hr_buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n",
		name, help, name);

	for (unsigned i = 0; i < n; i++) {
		cum += counts[i];
		if (i + 1 < n)
			err |= hr_buf_printf(b, "%s_bucket{le=\"%llu\"} %llu\n",
				name, (unsigned long long)bounds[i],
				(unsigned long long)cum);
		else
			err |= hr_buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n",
				name, (unsigned long long)cum);
	}
	err |= hr_buf_printf(b, "%s_sum %llu\n%s_count %llu\n", name,
		(unsigned long long)sum, name, (unsigned long long)cum);
	return err;
}

/* Every 5xx Herald sent, by status, reason, where it arose and errno
 * (the core keeps a bounded list of kinds; its last is "other causes"). */
static int sip_errors(struct hr_buf *b, const struct hr_sip_stats *s)
{
	int err = hr_buf_puts(b, "# HELP herald_sip_errors_total SIP 5xx "
		"responses sent, by cause.\n"
		"# TYPE herald_sip_errors_total counter\n");

	for (unsigned i = 0; i < s->nfails; i++) {
		const struct hr_sip_fail_count *k = &s->fails[i];
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
	struct metrics m = { .a = r->a };
	struct hr_buf b;
	int err = 0;

	if (hr_call(metrics_core, &m)) {
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
	GAUGE("herald_publications", "Live presence publications.", m.pubs);
	err |= hr_buf_puts(&b, "# HELP herald_sip_requests_total SIP requests "
		"received.\n# TYPE herald_sip_requests_total counter\n");
	for (int k = 1; k < HR_METH__N; k++)
		err |= hr_buf_printf(&b, "herald_sip_requests_total{method="
			"\"%s\"} %llu\n", hr_method_name((enum hr_method)k),
			(unsigned long long)m.sip.requests[k]);
	err |= hr_buf_puts(&b, "# HELP herald_sip_responses_total SIP "
		"responses sent.\n# TYPE herald_sip_responses_total counter\n");
	for (int k = 1; k <= 6; k++)
		err |= hr_buf_printf(&b, "herald_sip_responses_total{class="
			"\"%dxx\"} %llu\n", k,
			(unsigned long long)m.sip.responses[k]);
	err |= sip_errors(&b, &m.sip);
	GAUGE("herald_sip_server_transactions", "Live server transactions "
		"(at most --max-transactions).", m.sip.strans);
	GAUGE("herald_sip_sources", "Source addresses in the per-source "
		"limits' table (bounded).", m.sip.sources);
	COUNTER("herald_sip_requests_dropped_total", "Requests over "
		"--max-requests-per-source dropped unanswered (beyond the few "
		"answered with 503 each second).", m.sip.src_dropped);
	err |= hr_buf_printf(&b, "# HELP herald_sip_tcp_refused_total TCP "
		"connections closed at accept, by limit.\n# TYPE "
		"herald_sip_tcp_refused_total counter\n"
		"herald_sip_tcp_refused_total{limit=\"per-source\"} %llu\n"
		"herald_sip_tcp_refused_total{limit=\"total\"} %llu\n",
		(unsigned long long)m.sip.tcp_refused_src,
		(unsigned long long)m.sip.tcp_refused_max);
	COUNTER("herald_notifies_total", "NOTIFYs sent.", m.ev.notifies);
	COUNTER("herald_notifies_failed_total",
		"NOTIFYs answered with an error or never (Timer F).",
		m.ev.failed);
	COUNTER("herald_sip_retransmits_total",
		"Requests Herald sent again (Timer E).", m.sip.retransmits);
	GAUGE("herald_store_queue_depth", "Changes queued for PostgreSQL.",
		m.depth);
	GAUGE("herald_store_batch_max", "Most changes in one commit.",
		m.st.max_batch);
	COUNTER("herald_store_commits_total", "Database commits.",
		m.st.commits);
	COUNTER("herald_store_changes_total", "Changes committed.", m.st.txs);
	COUNTER("herald_store_failed_total", "Changes failed.", m.st.failed);
	COUNTER("herald_store_timedout_total",
		"Changes given up while PostgreSQL was away.", m.st.timedout);
	COUNTER("herald_store_outages_total",
		"Times the PostgreSQL connection was lost.", m.st.outages);
	err |= histogram(&b, "herald_store_batch_size",
		"Changes per database commit.", hr_store_batch_bounds,
		m.st.batch, HR_STORE_BATCH_BUCKETS, m.st.txs);
	err |= histogram(&b, "herald_store_commit_ms",
		"Database commit latency, ms.", hr_store_latency_bounds,
		m.st.latency, HR_STORE_LATENCY_BUCKETS, m.st.latency_ms_sum);
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
