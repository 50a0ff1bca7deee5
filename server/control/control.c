/*
 * The door itself: a client's questions, read from PostgreSQL on its own
 * reader or asked of the core in one hr_call, and its changes, applied on
 * the core thread like SIP requests.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "control_int.h"

/* Core thread: the watch points it hooked are the core's. */
static void control_destroy(void *data)
{
	hr_ctl_traces_close(data);
	hr_ctl_feed_close(data);
}

int hr_control_alloc(struct hr_control **ctlp,
	const struct hr_control_cfg *cfg)
{
	struct hr_control *ctl = hr_mem_zalloc(sizeof(*ctl), control_destroy);
	int err;

	if (!ctl)
		return ENOMEM;
	ctl->cfg = *cfg;
	err = hr_ctl_feed_open(ctl);
	if (err) {
		hr_mem_deref(ctl);
		return err;
	}
	*ctlp = ctl;
	return 0;
}

/* ---- names ---- */

/* "sip:alice@example.test", "pres:…" or "alice@example.test" → the
 * last */
static const char *bare(const char *uri)
{
	static const char *const schemes[] = { "sip:", "sips:", "pres:" };

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t n = strlen(schemes[i]);

		if (!strncasecmp(uri, schemes[i], n))
			return uri + n;
	}
	return uri;
}

int hr_ctl_aor(const char *uri, char out[HR_CTL_NAME_MAX])
{
	char user[256], domain[256];

	if (hr_user_split(bare(uri), user, sizeof(user), domain,
		sizeof(domain)))
		return EINVAL;
	snprintf(out, HR_CTL_NAME_MAX, "%s@%s", user, domain);
	return 0;
}

int hr_ctl_watcher(const char *uri, char out[HR_CTL_NAME_MAX])
{
	const char *w = bare(uri);
	size_t i;

	if (strchr(w, '@'))
		return hr_ctl_aor(w, out);
	for (i = 0; w[i] && i + 1 < HR_CTL_NAME_MAX; i++)
		out[i] = (char)hr_lower[(unsigned char)w[i]];
	out[i] = '\0';
	return i && !w[i] ? 0 : EINVAL;
}

/* ---- health, readers ---- */

static void noop(void *arg)
{
	(void)arg;
}

int hr_ctl_ping(struct hr_control *ctl)
{
	(void)ctl;
	return hr_call(noop, NULL);
}

static void reader_destroy(void *data)
{
	struct hr_ctl_reader *rd = data;

	hr_mem_deref(rd->rd);
}

int hr_ctl_reader_alloc(struct hr_ctl_reader **rp, struct hr_control *ctl)
{
	struct hr_ctl_reader *rd = hr_mem_zalloc(sizeof(*rd),
		reader_destroy);
	int err;

	if (!rd)
		return ENOMEM;
	err = hr_store_reader_alloc(&rd->rd, ctl->cfg.database_url);
	if (err) {
		hr_mem_deref(rd);
		return err;
	}
	*rp = rd;
	return 0;
}

int hr_ctl_reader_ping(struct hr_ctl_reader *rd)
{
	return hr_store_reader_ping(rd->rd);
}

/* ---- subscriptions ---- */

struct subrows {
	hr_ctl_sub_h *h;
	void *arg;
};

static int sub_row(const struct hr_store_sub *s, void *arg)
{
	struct subrows *sr = arg;
	struct hr_ctl_sub c = { .id = s->id, .package = s->package,
		.event_id = s->event_id, .resource = s->resource,
		.watcher = s->watcher, .watcher_user = s->watcher_user,
		.state = hr_sub_state_name(s->state), .reason = s->reason,
		.expires_at = s->expires_at, .callid = s->callid,
		.local_tag = s->local_tag, .remote_tag = s->remote_tag,
		.remote_target = s->remote_target, .transport = s->transport };

	return sr->h(&c, sr->arg);
}

int hr_ctl_subs_page(struct hr_ctl_reader *rd,
	const struct hr_ctl_sub_filter *f, hr_ctl_sub_h *h, void *arg)
{
	struct hr_store_sub_filter sf = { .package = f->package,
		.state = f->state, .resource = f->resource,
		.watcher = f->watcher, .after = f->after, .limit = f->limit };
	struct subrows sr = { h, arg };

	return hr_store_subs_page(rd->rd, &sf, sub_row, &sr);
}

int hr_ctl_sub_get(struct hr_ctl_reader *rd, const char *id,
	hr_ctl_sub_h *h, void *arg)
{
	struct subrows sr = { h, arg };

	return hr_store_sub_get(rd->rd, id, sub_row, &sr);
}

/* What only the core knows of a subscription, and its end. */
struct subcall {
	struct hr_events *ev;
	const char *id;
	enum hr_sub_reason reason;   /* NONE: only read */
	bool found;
	struct hr_ctl_sub_live live;
};

static void sub_core(void *arg)
{
	struct subcall *c = arg;
	struct hr_sub *sub = hr_events_find(c->ev, c->id);
	const struct hr_sub_info *si;

	if (!sub)
		return;
	si = hr_sub_info(sub);
	c->found = si->state != HR_SUB_TERMINATED;
	c->live.version = si->version;
	c->live.notifies = si->notifies;
	/* the final NOTIFY goes out before the client hears back */
	if (c->reason != HR_REASON_NONE)
		hr_sub_terminate(sub, c->reason, 0);
}

int hr_ctl_sub_live(struct hr_control *ctl, const char *id,
	struct hr_ctl_sub_live *live)
{
	struct subcall c = { .ev = ctl->cfg.ev, .id = id };
	int err = hr_call(sub_core, &c);

	if (err)
		return err;
	if (!c.found)
		return ENOENT;
	*live = c.live;
	return 0;
}

/* The reasons a client may give (RFC 6665 4.2.2's, as a notifier's). */
static int end_reason(const char *name, enum hr_sub_reason *r)
{
	if (!name) {
		*r = HR_REASON_DEACTIVATED;
		return 0;
	}
	if (hr_sub_reason_decode(name, r))
		return EINVAL;
	return *r == HR_REASON_DEACTIVATED || *r == HR_REASON_NORESOURCE ||
		*r == HR_REASON_REJECTED ? 0 : EINVAL;
}

int hr_ctl_sub_end(struct hr_control *ctl, const char *id,
	const char *reason)
{
	struct subcall c = { .ev = ctl->cfg.ev, .id = id };
	int err = end_reason(reason, &c.reason);

	if (!err)
		err = hr_call(sub_core, &c);
	if (!err && !c.found)
		err = ENOENT;
	return err;
}

/* ---- documents ---- */

struct doccall {
	struct hr_control *ctl;
	enum hr_ctl_doc doc;
	const char *name;
	struct hr_buf *buf;
	int err;
};

static void doc_core(void *arg)
{
	struct doccall *c = arg;

	const struct hr_control_cfg *cfg = &c->ctl->cfg;

	switch (c->doc) {
	case HR_CTL_DOC_REGINFO:
		c->err = hr_regpkg_document(cfg->reg, c->name, c->buf);
		break;
	case HR_CTL_DOC_DIALOG:
		c->err = hr_dlgpkg_document(cfg->dialog, c->name, c->buf);
		break;
	default:
		c->err = hr_presence_document(cfg->presence, c->name, c->buf);
		break;
	}
}

int hr_ctl_document(struct hr_control *ctl, enum hr_ctl_doc doc,
	const char *name, struct hr_buf *b)
{
	struct doccall c = { ctl, doc, name, b, 0 };
	int err = hr_call(doc_core, &c);

	return err ? err : c.err;
}

/* ---- waiting for a change the core stores ---- */

void hr_ctl_waiter_done(int err, void *arg)
{
	struct hr_ctl_waiter *w = arg;

	pthread_mutex_lock(&w->lock);
	w->err = err;
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

int hr_ctl_call_wait(hr_call_h *fn, void *arg, struct hr_ctl_waiter *w)
{
	int err;

	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	err = hr_call(fn, arg);
	if (!err) {
		pthread_mutex_lock(&w->lock);
		while (!w->done)
			pthread_cond_wait(&w->cond, &w->lock);
		pthread_mutex_unlock(&w->lock);
		err = w->err;
	}
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	return err;
}
