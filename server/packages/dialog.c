/*
 * The dialog package (RFC 4235). A line's publications (publish.c) are
 * merged into the dialogs its watchers see:
 *
 * - each dialog (by id) once, in the furthest state any publication gives
 *   it; of two publications giving one state, the newer one's content;
 * - a state never goes back: a dialog keeps the furthest state it has
 *   reached (trying < proceeding < early < confirmed < terminated) even
 *   when an earlier state arrives later (a PUBLISH overtaken on the way,
 *   or a stale publication still live), so a lamp never blinks again
 *   after its call ended;
 * - a terminated dialog is shown once, as terminated, then dropped; its
 *   id is remembered while any publication still names it (and 64*T1
 *   after), so that a late "early" cannot bring it back;
 * - a dialog whose publication went (expired, removed) is gone.
 *
 * Watchers get the whole state (state="full") in each NOTIFY, or with
 * cfg.partial only what changed after the first, at most once per
 * interval per line, and only when what they would see changed; with
 * cfg.unregistered a line without dialogs and bindings shows unavailable.
 * Who sees whom: privacy rules per line and watcher.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dialog.h"
#include "publish.h"
#include "xml/xml.h"

#define HR_LOG_MODULE "dialog"

#define DINFO "application/dialog-info+xml"
#define NAME_MAX_ 512
#define TOMB_MS (64 * HR_SIP_T1)

static const char *const types[] = { DINFO };

/* the rules table's names of enum hr_dlg_privacy */
static const char *const privacy_names[] = {
	[HR_DLG_PRIV_NONE] = "",
	[HR_DLG_PRIV_IDENTITY] = "identity",
	[HR_DLG_PRIV_STATE] = "state",
};

/* One dialog of a line as last merged. */
struct mdlg {
	struct hr_le le;          /* in line->dlgs, first seen first */
	struct hr_dinfo *doc;     /* the publication whose content is shown
				   * (referenced: it may have been replaced
				   * by one with an earlier state) */
	unsigned i;               /* its dialog in doc */
	enum hr_dlg_state state;  /* the furthest reached */
	bool told;                /* terminated and shown so: hidden now */
	bool present;             /* named by a live publication */
	uint64_t gone_ms;         /* told, and since when no publication
				   * names it (0: one does) */
	char id[];
};

/* A line with publications or remembered dialogs. */
struct line {
	struct hr_le le;          /* in d->lines */
	struct hr_dlgpkg *d;
	struct hr_list dlgs;      /* struct mdlg */
	struct hr_dinfo_ref *shown;  /* what watchers see, in order (each
				      * doc referenced) */
	unsigned nshown;
	uint64_t gen;             /* changes with shown */
	uint64_t told_gen;        /* the gen the watchers were told of */
	bool reg_check;           /* a binding changed: is the line still
				   * (un)available to its watchers? */
	bool round_due;           /* a change waits for the next round (the
				   * timer may also be only forgetting ended
				   * dialogs) */
	uint64_t round_ms;
	struct hr_tmr tmr;        /* the next round */
	char name[];
};

/* What the package keeps per subscription. */
struct dsub {
	enum hr_pres_action action;  /* ALLOW, POLITE_BLOCK or CONFIRM */
	uint64_t sent_gen;           /* the line's gen last sent, 0: none */
	bool sent_private;           /* that was without the other party */
	bool sent_unregistered;      /* that was the unavailable line */
	struct hr_dinfo_ref *seen;   /* with cfg.partial: the dialogs last
				      * sent (each doc referenced) */
	unsigned nseen;
	bool seen_ok;                /* seen is what was sent */
};

struct hr_dlgpkg {
	struct hr_dlgpkg_cfg cfg;
	struct hr_store *store;
	struct hr_events *ev;
	struct hr_presence *pres;
	struct hr_publish *pub;
	struct hr_pkg pkg;
	struct hr_hash lines;     /* name → line */
	struct hr_rules *rules;   /* enum hr_dlg_privacy per watcher */
	struct hr_dinfo *unavail; /* with cfg.unregistered: its one dialog
				   * is what an unregistered line shows */
	bool closing;
};

void hr_dlgpkg_cfg_default(struct hr_dlgpkg_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->pub_expires_default = 3600;
	cfg->pub_expires_min = 10;
	cfg->pub_expires_max = 86400;
	cfg->sub_expires_default = 3600;
	cfg->sub_expires_min = 60;
	cfg->sub_expires_max = 86400;
	cfg->privacy = HR_DLG_PRIV_IDENTITY;
	cfg->interval_ms = 10;
	cfg->max_body = 65536;
	cfg->max_pubs = 32;
	cfg->max_doc = HR_PRES_DOC_DEFAULT;
}

int hr_dlg_privacy_decode(const char *name, enum hr_dlg_privacy *p)
{
	for (unsigned i = HR_DLG_PRIV_IDENTITY; name &&
	     i <= HR_DLG_PRIV_STATE; i++) {
		if (!strcmp(name, privacy_names[i])) {
			*p = (enum hr_dlg_privacy)i;
			return 0;
		}
	}
	return EINVAL;
}

/* ---- lines and their dialogs ---- */

static void mdlg_destroy(void *data)
{
	struct mdlg *m = data;

	hr_list_unlink(&m->le);
	hr_mem_deref(m->doc);
}

static struct mdlg *mdlg_get(struct line *ln, const char *id)
{
	struct mdlg *m;
	size_t n = strlen(id);

	for (struct hr_le *le = ln->dlgs.head; le; le = le->next) {
		m = le->data;
		if (!strcmp(m->id, id))
			return m;
	}
	m = hr_mem_zalloc(sizeof(*m) + n + 1, mdlg_destroy);
	if (!m)
		return NULL;
	memcpy(m->id, id, n + 1);
	hr_list_append(&ln->dlgs, &m->le, m);
	return m;
}

static void shown_free(struct line *ln)
{
	for (unsigned i = 0; i < ln->nshown; i++)
		hr_mem_deref((void *)ln->shown[i].doc);
	free(ln->shown);
	ln->shown = NULL;
	ln->nshown = 0;
}

static void line_destroy(void *data)
{
	struct line *ln = data;

	hr_tmr_cancel(&ln->tmr);
	while (ln->dlgs.head)
		hr_mem_deref(ln->dlgs.head->data);
	shown_free(ln);
	if (ln->le.list)
		hr_hash_unlink(&ln->d->lines, &ln->le);
}

static struct line *line_find(const struct hr_dlgpkg *d, const char *name)
{
	return hr_hash_find_str(&d->lines, name, offsetof(struct line, name));
}

/* The line, made when needed; the table holds it while it has
 * publications, remembered dialogs or a round due. */
static struct line *line_get(struct hr_dlgpkg *d, const char *name)
{
	struct line *ln = line_find(d, name);
	size_t n = strlen(name);

	if (ln)
		return hr_mem_ref(ln);
	ln = hr_mem_zalloc(sizeof(*ln) + n + 1, line_destroy);
	if (!ln)
		return NULL;
	ln->d = d;
	memcpy(ln->name, name, n + 1);
	hr_hash_append(&d->lines, hr_hash_bytes(name, n), &ln->le, ln);
	hr_mem_ref(ln);  /* the table's */
	return ln;
}

static void line_release(struct line *ln)
{
	if (!ln->dlgs.n && ln->le.list && !hr_tmr_isrunning(&ln->tmr) &&
	    !hr_publish_count(ln->d->pub, ln->name)) {
		hr_hash_unlink(&ln->d->lines, &ln->le);
		hr_mem_deref(ln);
	}
}

/* One publication into the merge: each of its dialogs where it is no
 * earlier than what the dialog has reached. */
static void merge_doc(void *doc, void *arg)
{
	struct line *ln = arg;
	struct hr_dinfo *di = doc;

	for (unsigned i = 0; i < hr_dinfo_ndialogs(di); i++) {
		enum hr_dlg_state s = hr_dinfo_state(di, i);
		struct mdlg *m = mdlg_get(ln, hr_dinfo_id(di, i));

		if (!m)
			continue;  /* out of memory: shown at the next round */
		m->present = true;
		if (m->doc && s < m->state)
			continue;
		hr_mem_deref(m->doc);
		m->doc = hr_mem_ref(di);
		m->i = i;
		m->state = s;
	}
}

/* Forget what no publication names any more: a live dialog is gone with
 * its publication; a terminated one's id is kept TOMB_MS after the last
 * publication naming it went. True when a remembered id waits for that. */
static bool sweep(struct line *ln, uint64_t now)
{
	bool waiting = false;
	struct hr_le *le = ln->dlgs.head;

	while (le) {
		struct mdlg *m = le->data;

		le = le->next;
		if (m->present)
			m->gone_ms = 0;
		else if (m->told && !m->gone_ms)
			m->gone_ms = now;
		if (!m->present && (!m->told || now - m->gone_ms >= TOMB_MS)) {
			hr_mem_deref(m);
			continue;
		}
		waiting |= !m->present;
		m->present = false;
	}
	return waiting;
}

/* Is v (n of them) what was shown, but for terminated dialogs dropped
 * after being shown once (which tells a watcher nothing new)? */
static bool same_shown(const struct line *ln, const struct hr_dinfo_ref *v,
	unsigned n)
{
	unsigned k = 0;

	for (unsigned i = 0; i < ln->nshown; i++) {
		const struct hr_dinfo_ref *o = &ln->shown[i];

		if (k < n && o->doc == v[k].doc && o->i == v[k].i)
			k++;
		else if (hr_dinfo_state(o->doc, o->i) != HR_DLG_TERMINATED)
			return false;
	}
	return k == n;
}

/* The dialogs to show, in first-seen order. A terminated one is shown
 * in one round (every watcher told of it gets it), and hidden from the
 * next: a round marks it told; a merge between rounds (a NOTIFY composed
 * while a round is due) does not, or the watchers composed after it
 * would never see it ended. True when that differs from what was
 * shown. */
static bool show(struct line *ln, bool round)
{
	struct hr_dinfo_ref *v = calloc(ln->dlgs.n ? ln->dlgs.n : 1,
		sizeof(*v));
	unsigned n = 0;
	bool same;

	if (!v)
		return false;
	for (struct hr_le *le = ln->dlgs.head; le; le = le->next) {
		struct mdlg *m = le->data;

		if (m->told)
			continue;
		v[n].doc = hr_mem_ref(m->doc);
		v[n++].i = m->i;
		if (round && m->state == HR_DLG_TERMINATED)
			m->told = true;
	}
	same = same_shown(ln, v, n);
	shown_free(ln);
	ln->shown = v;
	ln->nshown = n;
	return !same;
}

static bool unavailable(const struct hr_dlgpkg *d, const struct line *ln,
	const char *name);

static int tell(struct hr_sub *sub, void *arg)
{
	const struct line *ln = arg;
	struct dsub *ds = hr_sub_data(sub);

	if (!ds || ds->action != HR_PRES_ALLOW ||
	    hr_sub_info(sub)->state != HR_SUB_ACTIVE)
		return 0;
	if (ds->sent_gen != ln->gen || (ln->reg_check &&
	    ds->sent_unregistered != unavailable(ln->d, ln, ln->name)))
		hr_sub_changed(sub);
	return 0;
}

static void round_fire(void *arg);

/* Merge the line's publications into what it shows (gen moves when that
 * changed); round: for a round (show()). */
static void merge(struct line *ln, bool round)
{
	uint64_t now = hr_now_ms();

	hr_publish_docs(ln->d->pub, ln->name, false, merge_doc, ln);
	if (sweep(ln, now) && !hr_tmr_isrunning(&ln->tmr))
		hr_tmr_start(&ln->tmr, TOMB_MS, round_fire, ln);
	if (show(ln, round))
		ln->gen++;
}

/* A round: merge, tell the watchers what changed (those that were sent
 * it meanwhile, a new subscription's first NOTIFY, are not told again). */
static void round_fire(void *arg)
{
	struct line *ln = arg;

	ln->round_ms = hr_now_ms();
	ln->round_due = false;
	hr_mem_ref(ln);
	merge(ln, true);
	if (ln->gen != ln->told_gen || ln->reg_check) {
		ln->told_gen = ln->gen;
		hr_events_foreach(ln->d->ev, "dialog", ln->name, tell, ln);
		ln->reg_check = false;
	}
	line_release(ln);
	hr_mem_deref(ln);
}

/* Something of the line changed: a round within the interval (a burst
 * makes one), as presence does (RFC 3856 6.10's rate limit). */
static void changed(struct hr_dlgpkg *d, const char *name)
{
	struct line *ln;
	uint64_t since;

	if (d->closing)
		return;
	ln = line_get(d, name);
	if (!ln)
		return;
	/* a round due within the interval takes this change too; one due
	 * later (forgetting ended dialogs) comes sooner */
	ln->round_due = true;
	if (hr_tmr_isrunning(&ln->tmr) &&
	    hr_tmr_left(&ln->tmr) <= d->cfg.interval_ms) {
		hr_mem_deref(ln);
		return;
	}
	hr_tmr_cancel(&ln->tmr);
	since = hr_now_ms() - ln->round_ms;
	hr_tmr_start(&ln->tmr, since >= d->cfg.interval_ms ?
		d->cfg.interval_ms : d->cfg.interval_ms - since, round_fire,
		ln);
	hr_mem_deref(ln);
}

/* ---- documents ---- */

/*
 * What an unregistered line without dialogs shows: one dialog ended as a
 * call to it would (RFC 4235 4.1.2's event "rejected", and 480, what the
 * redirect server answers for a user with no binding), so that a phone
 * shows the line unavailable rather than idle.
 */
static const char unavail_doc[] = "<dialog-info xmlns=\"urn:ietf:params:"
	"xml:ns:dialog-info\" version=\"0\" state=\"full\" entity=\"sip:"
	"line@invalid\"><dialog id=\"unregistered\"><state event=\"rejected"
	"\" code=\"480\">terminated</state></dialog></dialog-info>";

static int live_count(const struct hr_binding *b, void *arg)
{
	(void)b;
	++*(unsigned *)arg;
	return 0;
}

/* Is line unregistered (and so shown unavailable when it has no
 * dialogs)? */
static bool unregistered(const struct hr_dlgpkg *d, const char *line)
{
	unsigned n = 0;

	if (!d->unavail)
		return false;
	hr_registrar_bindings(d->cfg.unregistered, line, live_count, &n);
	return !n;
}

/* Does the line show unavailable: no dialogs, and unregistered? */
static bool unavailable(const struct hr_dlgpkg *d, const struct line *ln,
	const char *name)
{
	return (!ln || !ln->nshown) && unregistered(d, name);
}

static int compose(const struct hr_dlgpkg *d, const struct line *ln,
	const char *name, uint64_t version, bool private_remote,
	struct hr_buf *buf)
{
	struct hr_dinfo_ref unavail = { d->unavail, 0 };
	char entity[NAME_MAX_ + 8];

	snprintf(entity, sizeof(entity), "sip:%s", name);
	if (unavailable(d, ln, name))
		return hr_dinfo_compose(buf, entity, (unsigned)version, true,
			&unavail, 1, false);
	return hr_dinfo_compose(buf, entity, (unsigned)version, true,
		ln ? ln->shown : NULL, ln ? ln->nshown : 0, private_remote);
}

int hr_dlgpkg_document(struct hr_dlgpkg *d, const char *line,
	struct hr_buf *buf)
{
	return compose(d, line_find(d, line), line, 0, false, buf);
}

size_t hr_dlgpkg_count(const struct hr_dlgpkg *d)
{
	return hr_publish_count(d->pub, NULL);
}

struct hr_rules *hr_dlgpkg_rules(struct hr_dlgpkg *d)
{
	return d->rules;
}

struct hr_publish *hr_dlgpkg_publish(struct hr_dlgpkg *d)
{
	return d->pub;
}

/* ---- the publication interface ---- */

static bool parse(struct hr_verdict *v, const struct hr_pl *body,
	const char *name, void **docp, void *arg)
{
	struct hr_dinfo *doc;
	const char *why = NULL;
	int err;

	(void)arg;
	err = hr_dinfo_parse(&doc, body->p, body->len, &why);
	if (err == ENOMEM)
		return hr_verdict_fail(v, err, "dialog: parsing the body");
	/* why is a static "Bad dialog-info: ..." (xml.h) */
	if (err)
		return hr_verdict_refuse(v, 400, why ? why : "Bad dialog-info",
			NULL);
	if (!hr_publish_entity_ok(hr_dinfo_entity(doc), name)) {
		hr_mem_deref(doc);
		return hr_verdict_refuse(v, 400, "Bad dialog-info: entity is "
			"not the line", NULL);
	}
	*docp = doc;
	return true;
}

static int load(void **docp, const char *body, const char **why)
{
	struct hr_dinfo *doc;
	int err = hr_dinfo_parse(&doc, body, strlen(body), why);

	if (!err)
		*docp = doc;
	return err;
}

struct ahead {
	struct hr_dinfo_ref *v;
	unsigned n, max;
};

/* Each dialog once, in its furthest state: what the line would show
 * with the PUBLISHes in flight (without what it remembers). */
static void ahead_doc(void *doc, void *arg)
{
	struct ahead *a = arg;
	struct hr_dinfo *di = doc;

	for (unsigned i = 0; i < hr_dinfo_ndialogs(di); i++) {
		unsigned k;

		for (k = 0; k < a->n; k++) {
			if (!strcmp(hr_dinfo_id(a->v[k].doc, a->v[k].i),
				hr_dinfo_id(di, i)))
				break;
		}
		if (k == a->n && a->n == a->max)
			continue;
		if (k == a->n)
			a->n++;
		else if (hr_dinfo_state(di, i) < hr_dinfo_state(a->v[k].doc,
			a->v[k].i))
			continue;
		a->v[k].doc = di;
		a->v[k].i = i;
	}
}

/* The line's document with this PUBLISH fits --max-presence-document: a
 * NOTIFY carrying it stays deliverable (413 otherwise, as presence). */
static bool fits(struct hr_verdict *v, const char *name, void *arg)
{
	struct hr_dlgpkg *d = arg;
	struct ahead a = { .max = 4096 };
	char entity[NAME_MAX_ + 8];
	struct hr_buf b;
	int err;

	a.v = calloc(a.max, sizeof(*a.v));
	if (!a.v)
		return hr_verdict_fail(v, ENOMEM, "dialog: composing ahead");
	hr_publish_docs(d->pub, name, true, ahead_doc, &a);
	snprintf(entity, sizeof(entity), "sip:%s", name);
	hr_buf_init(&b, d->cfg.max_doc);
	err = hr_dinfo_compose(&b, entity, 0, true, a.v, a.n, false);
	hr_buf_reset(&b);
	free(a.v);
	if (err == EMSGSIZE)
		return hr_verdict_refuse_why(v, 413,
			"Dialog Document Too Large", NULL, "dialog: PUBLISH",
			"the line's document would be over "
			"--max-presence-document");
	if (err)
		return hr_verdict_fail(v, err, "dialog: composing ahead");
	return true;
}

static void pub_changed(const char *name, void *arg)
{
	changed(arg, name);
}

/* ---- the package's hooks ---- */

static enum hr_authz authorize(const struct hr_sub_info *si, void *arg)
{
	struct hr_dlgpkg *d = arg;

	return hr_presence_authorize(d->pres, si);
}

static void linked(struct hr_sub *sub, void *arg)
{
	struct hr_dlgpkg *d = arg;
	struct dsub *ds = calloc(1, sizeof(*ds));
	const struct hr_sub_info *si = hr_sub_info(sub);

	if (ds) {
		ds->action = si->state == HR_SUB_PENDING ? HR_PRES_CONFIRM :
			hr_presence_decide(d->pres, si);
		/* active already, or loaded and blocked since (it ends at
		 * start, hr_events_reauthorize): as allowed until then */
		if (si->state == HR_SUB_ACTIVE &&
		    ds->action != HR_PRES_POLITE_BLOCK)
			ds->action = HR_PRES_ALLOW;
	}
	hr_sub_set_data(sub, ds);
}

static void refs_free(struct hr_dinfo_ref *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		hr_mem_deref((void *)v[i].doc);
	free(v);
}

static void gone(struct hr_sub *sub, void *arg)
{
	struct dsub *ds = hr_sub_data(sub);

	(void)arg;
	if (ds)
		refs_free(ds->seen, ds->nseen);
	free(ds);
	hr_sub_set_data(sub, NULL);
}

/* ---- privacy ---- */

enum hr_dlg_privacy hr_dlgpkg_privacy_get(const struct hr_dlgpkg *d,
	const char *line, const char *watcher)
{
	enum hr_dlg_privacy p;

	if (!strcmp(watcher, line))
		return HR_DLG_PRIV_IDENTITY;
	p = (enum hr_dlg_privacy)hr_rules_get(d->rules, line, watcher);
	return p != HR_DLG_PRIV_NONE ? p : d->cfg.privacy;
}

/* Does the watcher of si see the states only (RFC 4235 4.1.6's remote
 * party left out)? */
static bool private_for(const struct hr_dlgpkg *d,
	const struct hr_sub_info *si)
{
	char who[NAME_MAX_];

	hr_sub_identity(si, who, sizeof(who));
	return hr_dlgpkg_privacy_get(d, si->resource, who) ==
		HR_DLG_PRIV_STATE;
}

/* A privacy rule changed: a watcher it changes for is told again. */
static int privacy_reapply(struct hr_sub *sub, void *arg)
{
	const struct hr_sub_info *si = hr_sub_info(sub);
	struct dsub *ds = hr_sub_data(sub);

	if (ds && ds->sent_gen && ds->sent_private != private_for(arg, si) &&
	    si->state == HR_SUB_ACTIVE) {
		ds->sent_gen = 0;
		hr_sub_changed(sub);
	}
	return 0;
}

static void privacy_applied(const char *line, const char *watcher,
	int action, void *arg)
{
	struct hr_dlgpkg *d = arg;

	(void)watcher;
	(void)action;
	hr_events_foreach(d->ev, "dialog", line, privacy_reapply, d);
}

int hr_dlgpkg_privacy(struct hr_dlgpkg *d, const char *line,
	const char *watcher, enum hr_dlg_privacy p, hr_dlgpkg_done_h *done,
	void *arg)
{
	if (!d || (unsigned)p > HR_DLG_PRIV_STATE)
		return EINVAL;
	return hr_rules_change(d->rules, line, watcher, (int)p, done, arg);
}

/* ---- an unregistered line ---- */

/* A binding came or went: the line's watchers are told at its next
 * round if that moves the line between unavailable and not (by then
 * the registrar's change is done). */
static void binding_changed(const struct hr_binding *b, enum hr_reg_event ev,
	void *arg)
{
	struct hr_dlgpkg *d = arg;
	struct line *ln;

	if (ev == HR_REG_REFRESHED || ev == HR_REG_SHORTENED)
		return;
	ln = line_get(d, b->aor);
	if (ln) {
		ln->reg_check = true;
		changed(d, b->aor);
		hr_mem_deref(ln);
	}
}

/* RFC 4235 has a partial form; every NOTIFY here has the whole state,
 * which every watcher can take. */
/* ---- partial state (RFC 4235 4.1: state="partial") ---- */

static bool shown_has(const struct line *ln, const struct hr_dinfo_ref *r,
	bool same_ref)
{
	const char *id = hr_dinfo_id(r->doc, r->i);

	for (unsigned i = 0; i < ln->nshown; i++) {
		const struct hr_dinfo_ref *s = &ln->shown[i];

		if (same_ref ? s->doc == r->doc && s->i == r->i :
		    !strcmp(hr_dinfo_id(s->doc, s->i), id))
			return true;
	}
	return false;
}

static bool seen_has(const struct dsub *ds, const struct hr_dinfo_ref *r)
{
	for (unsigned i = 0; i < ds->nseen; i++) {
		if (ds->seen[i].doc == r->doc && ds->seen[i].i == r->i)
			return true;
	}
	return false;
}

/* What changed for ds since it was last sent: the shown dialogs it has
 * not seen as they are, into *v (n of them). False when only the whole
 * state will do: a dialog it saw went without being shown terminated
 * (a partial document cannot take it away, RFC 4235 4.1). */
static bool changes(const struct dsub *ds, const struct line *ln,
	struct hr_dinfo_ref **v, unsigned *n)
{
	for (unsigned i = 0; i < ds->nseen; i++) {
		const struct hr_dinfo_ref *r = &ds->seen[i];

		if (hr_dinfo_state(r->doc, r->i) != HR_DLG_TERMINATED &&
		    !shown_has(ln, r, false))
			return false;
	}
	*v = calloc(ln->nshown ? ln->nshown : 1, sizeof(**v));
	if (!*v)
		return false;
	*n = 0;
	for (unsigned i = 0; i < ln->nshown; i++) {
		if (!seen_has(ds, &ln->shown[i]))
			(*v)[(*n)++] = ln->shown[i];
	}
	return true;
}

/* Remember what ds was sent (cfg.partial). */
static void seen_set(struct dsub *ds, const struct line *ln)
{
	refs_free(ds->seen, ds->nseen);
	ds->seen = NULL;
	ds->nseen = 0;
	ds->seen_ok = !ln || !ln->nshown;
	if (ds->seen_ok)
		return;
	ds->seen = calloc(ln->nshown, sizeof(*ds->seen));
	if (!ds->seen)
		return;   /* the next NOTIFY has the whole state */
	ds->seen_ok = true;
	for (unsigned i = 0; i < ln->nshown; i++) {
		ds->seen[i].doc = hr_mem_ref((void *)ln->shown[i].doc);
		ds->seen[i].i = ln->shown[i].i;
	}
	ds->nseen = ln->nshown;
}

/* A partial document for ds, if it can have one (cfg.partial, it was
 * sent the whole state before, and nothing but dialogs changed since):
 * true with the document in buf. */
static bool body_partial(struct hr_dlgpkg *d, struct dsub *ds,
	const struct line *ln, const struct hr_sub_info *si, bool private_,
	struct hr_buf *buf, int *err)
{
	char entity[NAME_MAX_ + 8];
	struct hr_dinfo_ref *v;
	unsigned n;

	if (!d->cfg.partial || !ds || !ln || ds->action != HR_PRES_ALLOW ||
	    !ds->seen_ok || ds->sent_private != private_ ||
	    ds->sent_unregistered || unavailable(d, ln, si->resource) ||
	    !changes(ds, ln, &v, &n))
		return false;
	snprintf(entity, sizeof(entity), "sip:%s", si->resource);
	*err = hr_dinfo_compose(buf, entity, (unsigned)si->version, false, v,
		n, private_);
	free(v);
	return true;
}

static int body(struct hr_sub *sub, const struct hr_sub_info *si,
	enum hr_body_kind kind, struct hr_buf *buf, void *arg)
{
	struct hr_dlgpkg *d = arg;
	struct dsub *ds = hr_sub_data(sub);
	struct line *ln = line_find(d, si->resource);
	bool private_ = private_for(d, si);
	int err = 0;

	/* a round is due: what it will show, now (it tells the others) */
	if (ln && ln->round_due)
		merge(ln, false);
	if (ds && ds->action == HR_PRES_POLITE_BLOCK)
		ln = NULL;   /* RFC 5025 3.2.1: nothing to see */
	if (!(kind == HR_BODY_PARTIAL && body_partial(d, ds, ln, si,
		private_, buf, &err)))
		err = compose(d, ln, si->resource, si->version, private_,
			buf);
	if (ds && !err) {
		ds->sent_gen = ln ? ln->gen : 0;
		ds->sent_private = private_;
		ds->sent_unregistered = unavailable(d, ln, si->resource);
		if (d->cfg.partial)
			seen_set(ds, ln);
	}
	return err;
}

/* A presence rule changed: the line's watchers follow it at once. */
static int reapply(struct hr_sub *sub, void *arg)
{
	struct hr_dlgpkg *d = arg;
	const struct hr_sub_info *si = hr_sub_info(sub);
	struct dsub *ds = hr_sub_data(sub);
	enum hr_pres_action a = hr_presence_decide(d->pres, si);

	if (!ds || a == ds->action || a == HR_PRES_CONFIRM)
		return 0;
	if (a == HR_PRES_BLOCK) {
		hr_sub_terminate(sub, HR_REASON_REJECTED, 0);
		return 0;
	}
	ds->action = a;
	ds->sent_gen = 0;
	if (si->state == HR_SUB_PENDING)
		hr_sub_activate(sub);
	else
		hr_sub_changed(sub);
	return 0;
}

static void rule_applied(const char *presentity, void *arg)
{
	struct hr_dlgpkg *d = arg;

	hr_events_foreach(d->ev, "dialog", presentity, reapply, d);
}

/* ---- recovery and lifetime ---- */

static int load_line(const char *name, void *arg)
{
	struct hr_dlgpkg *d = arg;
	struct line *ln = line_get(d, name);

	if (!ln)
		return ENOMEM;
	merge(ln, true);
	ln->told_gen = ln->gen;
	hr_mem_deref(ln);
	return 0;
}

int hr_dlgpkg_load(struct hr_dlgpkg *d)
{
	int err = hr_rules_load(d->rules);

	if (!err)
		err = hr_publish_load(d->pub);
	return err ? err : hr_publish_foreach(d->pub, load_line, d);
}

void hr_dlgpkg_close(struct hr_dlgpkg *d)
{
	d->closing = true;
	hr_publish_close(d->pub);
	for (uint32_t i = 0; d->lines.bucket && i <= d->lines.mask; i++) {
		for (struct hr_le *le = d->lines.bucket[i].head; le;
		     le = le->next)
			hr_tmr_cancel(&((struct line *)le->data)->tmr);
	}
}

static void dlgpkg_destroy(void *data)
{
	struct hr_dlgpkg *d = data;

	if (d->pub)
		hr_dlgpkg_close(d);
	hr_presence_rule_hook(d->pres, NULL, NULL);
	if (d->unavail)
		hr_registrar_unwatch(d->cfg.unregistered, binding_changed, d);
	hr_mem_deref(d->unavail);
	for (uint32_t i = 0; d->lines.bucket && i <= d->lines.mask; i++) {
		while (d->lines.bucket[i].head) {
			struct line *ln = d->lines.bucket[i].head->data;

			hr_hash_unlink(&d->lines, &ln->le);
			hr_mem_deref(ln);
		}
	}
	hr_hash_reset(&d->lines);
	hr_mem_deref(d->rules);
	hr_mem_deref(d->pub);
	hr_mem_deref(d->pres);
	hr_mem_deref(d->cfg.realm);
}

static int publication(struct hr_dlgpkg *d)
{
	const struct hr_pubpkg pkg = {
		.event = "dialog", .ctype = DINFO,
		.expires_default = d->cfg.pub_expires_default,
		.expires_min = d->cfg.pub_expires_min,
		.expires_max = d->cfg.pub_expires_max,
		.max_body = d->cfg.max_body, .max_pubs = d->cfg.max_pubs,
		.parse = parse, .load = load, .fits = fits,
		.changed = pub_changed, .arg = d,
	};

	return hr_publish_alloc(&d->pub, d->store, d->cfg.realm, &pkg);
}

/* --dialog-unregistered: the unavailable line's document, and binding
 * changes. */
static int unavail_open(struct hr_dlgpkg *d)
{
	int err = hr_dinfo_parse(&d->unavail, unavail_doc,
		sizeof(unavail_doc) - 1, NULL);

	if (!err)
		err = hr_registrar_watch(d->cfg.unregistered,
			binding_changed, d);
	if (err)
		d->unavail = hr_mem_deref(d->unavail);
	return err;
}

int hr_dlgpkg_alloc(struct hr_dlgpkg **dp, struct hr_sip *sip,
	struct hr_store *store, struct hr_events *ev, struct hr_presence *pres,
	const struct hr_dlgpkg_cfg *cfg)
{
	struct hr_dlgpkg *d;
	int err;

	if (!dp || !sip || !store || !ev || !pres || !cfg || !cfg->realm)
		return EINVAL;
	d = hr_mem_zalloc(sizeof(*d), dlgpkg_destroy);
	if (!d)
		return ENOMEM;
	d->cfg = *cfg;
	d->store = store;
	d->ev = ev;
	d->pres = hr_mem_ref(pres);
	hr_mem_ref(d->cfg.realm);
	err = hr_hash_init(&d->lines, 4096);
	if (!err)
		err = hr_rules_alloc(&d->rules, store, "dialog", privacy_names,
			HR_DLG_PRIV_STATE + 1, privacy_applied, d);
	if (!err)
		err = publication(d);
	if (!err && cfg->unregistered)
		err = unavail_open(d);
	if (!err) {
		d->pkg = (struct hr_pkg){ .name = "dialog", .types = types,
			.ntypes = 1,
			.expires_default = cfg->sub_expires_default,
			.expires_min = cfg->sub_expires_min,
			.expires_max = cfg->sub_expires_max,
			.authorize = authorize, .body = body, .linked = linked,
			.gone = gone, .arg = d };
		err = hr_events_package(ev, &d->pkg);
	}
	if (err) {
		hr_mem_deref(d);
		return err;
	}
	hr_presence_rule_hook(pres, rule_applied, d);
	hr_publish_serve(d->pub, sip);
	*dp = d;
	return 0;
}
