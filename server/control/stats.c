/*
 * The core's counters, copied in one call on the core thread into a plain
 * snapshot the client formats as it likes (the admin: Prometheus text).
 */
#include <stdio.h>
#include <string.h>
#include "control_int.h"

_Static_assert(HR_EVENTS_MAX_PKGS <= HR_CTL_PKGS_MAX, "packages' room");
_Static_assert(HR_METH__N - 1 <= HR_CTL_METHODS_MAX, "methods' room");
_Static_assert(HR_SIP_FAIL_KINDS <= HR_CTL_FAILS_MAX, "failures' room");
_Static_assert(HR_TP__N <= HR_CTL_TPS_MAX, "transports' room");
_Static_assert(HR_AUTH_FAIL__N <= HR_CTL_AUTH_FAILS_MAX, "auth's room");
_Static_assert(HR_SIP_CAUSE__N + HR_SIP_5XX_KINDS <= HR_CTL_5XX_MAX,
	"5xx's room");
_Static_assert(HR_STORE_BATCH_BUCKETS <= HR_CTL_BUCKETS_MAX &&
	HR_STORE_LATENCY_BUCKETS <= HR_CTL_BUCKETS_MAX, "buckets' room");

struct statcall {
	struct hr_control *ctl;
	struct hr_ctl_stats *st;
};

static void histogram(struct hr_ctl_histogram *h, const uint64_t *bounds,
	const uint64_t *counts, unsigned n, uint64_t sum)
{
	h->bounds = bounds;
	memcpy(h->counts, counts, n * sizeof(*counts));
	h->n = n;
	h->sum = sum;
}

static void conn_stats(struct hr_ctl_stats *st, struct hr_sip *sip)
{
	size_t n[HR_TP__N];

	hr_sip_conn_counts(sip, n);
	for (int tp = HR_TP_TCP; tp < HR_TP__N; tp++) {
		st->conns_by[st->nconns_by].transport =
			hr_tp_param((enum hr_tp)tp);
		st->conns_by[st->nconns_by++].n = n[tp];
	}
	st->ctrans = hr_sip_ctrans_count(sip);
}

static void fail_stats(struct hr_ctl_stats *st, const struct hr_sip_stats *s,
	const struct hr_realm *realm)
{
	uint64_t auth[HR_AUTH_FAIL__N];

	unsigned n = 0;

	/* each cause with its usual status, then what else was sent */
	for (int c = 0; c < HR_SIP_CAUSE__N; c++) {
		st->server_errors[n].scode = hr_sip_cause_code(c);
		st->server_errors[n++].reason = hr_sip_cause_name(c);
	}
	for (unsigned i = 0; i < s->n5xx; i++) {
		const struct hr_sip_5xx *e = &s->server_errors[i];
		unsigned k = e->cause;

		if (e->scode != hr_sip_cause_code(e->cause)) {
			k = n++;
			st->server_errors[k].scode = e->scode;
			st->server_errors[k].reason =
				hr_sip_cause_name(e->cause);
		}
		st->server_errors[k].n = e->n;
	}
	st->nserver_errors = n;
	hr_realm_auth_failures(realm, auth);
	for (int f = 0; f < HR_AUTH_FAIL__N; f++) {
		st->auth_fails[f].reason = hr_auth_fail_name(
			(enum hr_auth_fail)f);
		st->auth_fails[f].n = auth[f];
	}
	st->nauth_fails = HR_AUTH_FAIL__N;
}

static void sip_stats(struct hr_ctl_stats *st, const struct hr_sip *sip,
	const struct hr_realm *realm)
{
	struct hr_sip_stats s;

	hr_sip_stats(sip, &s);
	for (int k = 1; k < HR_METH__N; k++) {
		st->requests[k - 1].method = hr_method_name((enum hr_method)k);
		st->requests[k - 1].n = s.requests[k];
	}
	st->nmethods = HR_METH__N - 1;
	memcpy(st->responses, s.responses, sizeof(st->responses));
	for (unsigned i = 0; i < s.nfails; i++) {
		const struct hr_sip_fail_count *f = &s.fails[i];
		struct hr_ctl_fail *c = &st->fails[i];

		c->scode = f->scode;
		memcpy(c->reason, f->reason, sizeof(c->reason));
		snprintf(c->where, sizeof(c->where), "%s", f->where);
		c->err = f->err;
		c->n = f->n;
	}
	st->nfails = s.nfails;
	st->strans = s.strans;
	st->sources = s.sources;
	st->src_dropped = s.src_dropped;
	st->shed = s.shed;
	histogram(&st->lag_us, hr_sip_lag_bounds, s.lag, HR_SIP_LAG_BUCKETS,
		s.lag_us_sum);
	st->tcp_refused_src = s.tcp_refused_src;
	st->tcp_refused_max = s.tcp_refused_max;
	st->tls_failed = s.tls_failed;
	st->hs_timeouts = s.hs_timeouts;
	st->ws_refused = s.ws_refused;
	st->conns = hr_sip_conn_count(sip);
	st->retransmits = s.retransmits;
	st->resp_retransmits = s.resp_retransmits;
	st->acks_missing = s.acks_missing;
	fail_stats(st, &s, realm);
}

static void redirect_stats(struct hr_ctl_stats *st,
	const struct hr_redirect *rd)
{
	struct hr_redirect_stats s;

	if (!rd)
		return;
	hr_redirect_stats(rd, &s);
	st->redirect_moved = s.moved;
	st->redirect_unavailable = s.unavailable;
	st->redirect_not_found = s.not_found;
	st->redirect_contacts = s.contacts;
}

static void store_stats(struct hr_ctl_stats *st, struct hr_store *store)
{
	struct hr_store_stats s;

	hr_store_stats(store, &s);
	st->queue_depth = hr_store_queue_depth(store);
	st->max_batch = s.max_batch;
	st->commits = s.commits;
	st->changes = s.txs;
	st->failed = s.failed;
	st->timedout = s.timedout;
	st->outages = s.outages;
	st->store_connected = !s.down;
	st->cluster = s.node;
	st->fenced = s.fenced;
	st->cluster_applied = s.applied;
	st->cluster_mark = s.mark;
	st->taken_over = s.taken_over;
	histogram(&st->batch, hr_store_batch_bounds, s.batch,
		HR_STORE_BATCH_BUCKETS, s.txs);
	histogram(&st->commit_ms, hr_store_latency_bounds, s.latency,
		HR_STORE_LATENCY_BUCKETS, s.latency_ms_sum);
}

static void events_stats(struct hr_ctl_stats *st, struct hr_events *ev)
{
	struct hr_events_count subs[HR_EVENTS_MAX_PKGS];
	struct hr_events_stats s;

	st->npkgs = hr_events_counts(ev, subs);
	for (unsigned i = 0; i < st->npkgs; i++) {
		st->subs[i].package = subs[i].package;
		st->subs[i].active = subs[i].active;
		st->subs[i].pending = subs[i].pending;
	}
	hr_events_stats(ev, &s);
	st->notifies = s.notifies;
	st->notifies_failed = s.failed;
}

static void stats_core(void *arg)
{
	struct statcall *c = arg;
	const struct hr_control_cfg *cfg = &c->ctl->cfg;

	c->st->bindings = hr_registrar_count(cfg->registrar);
	c->st->publications = hr_presence_count(cfg->presence);
	c->st->dialog_publications = hr_dlgpkg_count(cfg->dialog);
	c->st->mwi_publications = hr_mwipkg_count(cfg->mwi);
	events_stats(c->st, cfg->ev);
	sip_stats(c->st, cfg->sip, cfg->realm);
	conn_stats(c->st, cfg->sip);
	redirect_stats(c->st, cfg->redirect);
	store_stats(c->st, cfg->store);
}

int hr_ctl_stats(struct hr_control *ctl, struct hr_ctl_stats *st)
{
	struct statcall c = { ctl, st };

	memset(st, 0, sizeof(*st));
	return hr_call(stats_core, &c);
}
