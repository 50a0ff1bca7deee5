/*
 * SIP traces for operators: the messages of one address-of-record or one
 * source address, with credentials redacted (sip/trace.c), into the
 * journal as events of kind "trace" that a live feed streams. Each trace
 * ends by itself after its time; at most HR_CTL_TRACES_MAX run at once,
 * so that a forgotten trace costs nothing for long. The traces live on
 * the core thread; clients reach them through hr_call.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "control_int.h"

#define HR_LOG_MODULE "control"

struct trace {
	struct hr_le le;              /* in the control's traces */
	struct hr_control *ctl;
	struct hr_sip_trace *st;
	struct hr_tmr tmr;            /* its end */
	struct hr_ctl_trace info;
};

static void journal(struct trace *t, const char *op,
	const struct hr_sip_trace_msg *m)
{
	struct hr_ctl_event e = { .kind = HR_CTL_KIND_TRACE, .op = op,
		.name = t->info.aor };
	char peer[HR_SA_STRLEN] = "";

	e.f[e.nf++] = (struct hr_ctl_field){ "trace", t->info.id, 0 };
	if (t->info.aor[0])
		e.f[e.nf++] = (struct hr_ctl_field){ "aor", t->info.aor, 0 };
	if (t->info.source[0])
		e.f[e.nf++] = (struct hr_ctl_field){ "source", t->info.source,
			0 };
	if (m) {
		if (m->peer)
			hr_sa_print(m->peer, peer, sizeof(peer));
		e.f[e.nf++] = (struct hr_ctl_field){ "transport",
			hr_tp_param(m->tp), 0 };
		e.f[e.nf++] = (struct hr_ctl_field){ "peer", peer, 0 };
		e.f[e.nf++] = (struct hr_ctl_field){ "message", m->text, 0 };
	} else {
		e.f[e.nf++] = (struct hr_ctl_field){ "ends_at", NULL,
			t->info.ends_at };
	}
	if (hr_ctl_journal_add(t->ctl, &e))
		HR_DEBUG("journal: a trace event lost");
}

static void on_msg(const struct hr_sip_trace_msg *m, void *arg)
{
	struct trace *t = arg;

	t->info.messages++;
	journal(t, m->out ? "sent" : "received", m);
}

static void trace_end(struct trace *t, const char *why)
{
	hr_tmr_cancel(&t->tmr);
	hr_list_unlink(&t->le);
	t->st = hr_mem_deref(t->st);
	journal(t, why, NULL);
	HR_INFO("trace %s ended (%s) after %llu messages", t->info.id, why,
		(unsigned long long)t->info.messages);
	hr_mem_deref(t);
}

static void on_expired(void *arg)
{
	trace_end(arg, "expired");
}

/* ---- calls from the clients' threads ---- */

struct startcall {
	struct hr_control *ctl;
	const char *aor;
	const struct hr_sa *source;
	const char *source_text;
	unsigned secs;
	int err;
	struct hr_ctl_trace info;
};

static void start_core(void *arg)
{
	struct startcall *c = arg;
	struct hr_control *ctl = c->ctl;
	struct trace *t;

	if (ctl->traces.n >= HR_CTL_TRACES_MAX) {
		c->err = ENOSPC;
		return;
	}
	t = hr_mem_zalloc(sizeof(*t), NULL);
	if (!t) {
		c->err = ENOMEM;
		return;
	}
	t->ctl = ctl;
	hr_rand_token(t->info.id, HR_CTL_TRACE_ID_MAX - 1);
	snprintf(t->info.aor, sizeof(t->info.aor), "%s", c->aor ? c->aor : "");
	snprintf(t->info.source, sizeof(t->info.source), "%s",
		c->source_text ? c->source_text : "");
	t->info.ends_at = hr_wall_s() + c->secs;
	c->err = hr_sip_trace_start(&t->st, ctl->cfg.sip, c->aor, c->source,
		on_msg, t);
	if (c->err) {
		hr_mem_deref(t);
		return;
	}
	hr_list_append(&ctl->traces, &t->le, t);
	hr_tmr_start(&t->tmr, (uint64_t)c->secs * 1000, on_expired, t);
	journal(t, "started", NULL);
	HR_INFO("trace %s started: aor %s source %s, %u s", t->info.id,
		t->info.aor[0] ? t->info.aor : "any",
		t->info.source[0] ? t->info.source : "any", c->secs);
	c->info = t->info;
}

int hr_ctl_trace_start(struct hr_control *ctl, const char *aor,
	const char *source, unsigned secs, struct hr_ctl_trace *info)
{
	struct startcall c = { .ctl = ctl, .secs = secs };
	char name[HR_CTL_NAME_MAX];
	struct hr_sa sa;
	int err;

	if ((!aor && !source) || secs < 1 || secs > HR_CTL_TRACE_SECS_MAX)
		return EINVAL;
	if (aor) {
		if (hr_ctl_aor(aor, name))
			return EINVAL;
		c.aor = name;
	}
	/* "192.0.2.1" (any port), "192.0.2.1:5060", "[2001:db8::1]:5060" */
	if (source) {
		if (strlen(source) >= sizeof(c.info.source) ||
		    (hr_sa_decode(&sa, source) && hr_sa_set(&sa, source, 0)))
			return EINVAL;
		c.source = &sa;
		c.source_text = source;
	}
	err = hr_call(start_core, &c);
	if (!err)
		err = c.err;
	if (!err)
		*info = c.info;
	return err;
}

struct stopcall {
	struct hr_control *ctl;
	const char *id;
	bool found;
};

static void stop_core(void *arg)
{
	struct stopcall *c = arg;

	for (struct hr_le *le = c->ctl->traces.head; le; le = le->next) {
		struct trace *t = le->data;

		if (!strcmp(t->info.id, c->id)) {
			c->found = true;
			trace_end(t, "stopped");
			return;
		}
	}
}

int hr_ctl_trace_stop(struct hr_control *ctl, const char *id)
{
	struct stopcall c = { .ctl = ctl, .id = id };
	int err = hr_call(stop_core, &c);

	return err ? err : c.found ? 0 : ENOENT;
}

struct listcall {
	struct hr_control *ctl;
	struct hr_ctl_trace *out;
	unsigned n;
};

static void list_core(void *arg)
{
	struct listcall *c = arg;

	for (struct hr_le *le = c->ctl->traces.head;
	     le && c->n < HR_CTL_TRACES_MAX; le = le->next)
		c->out[c->n++] = ((struct trace *)le->data)->info;
}

int hr_ctl_traces(struct hr_control *ctl,
	struct hr_ctl_trace out[HR_CTL_TRACES_MAX], unsigned *n)
{
	struct listcall c = { .ctl = ctl, .out = out };
	int err = hr_call(list_core, &c);

	*n = err ? 0 : c.n;
	return err;
}

void hr_ctl_traces_close(struct hr_control *ctl)
{
	while (ctl->traces.head)
		trace_end(ctl->traces.head->data, "stopped");
}
