/*
 * Live feeds: Server-Sent Events (WHATWG HTML, "Server-sent events") of
 * the core's change journal (control.h): GET /v1/feed, every change with
 * filters; GET /v1/presentities/{uri}/presence/feed and
 * GET /v1/aors/{uri}/reginfo/feed, one document each time it changes,
 * made by the packages' own code through the control.
 *
 * Threads. Every feed is a connection of libmicrohttpd's one polling
 * thread (http.c), whose content reader fills it from the journal. A
 * feed with nothing to send is suspended (MHD_suspend_connection): out
 * of the poll set, no timer, no thread of its own, so a thousand open
 * feeds cost a thousand sockets and a few kilobytes each, not a thousand
 * threads or a busy loop. One thread of ours (the waker) sleeps in the
 * journal (hr_ctl_feed_wait; the core only appends and signals) and
 * resumes the feeds that have news or owe a keep-alive, and cuts those
 * whose client stopped reading.
 *
 * Slow clients. What a feed may have on its way is bounded: its socket's
 * send buffer (--admin-stream-buffer) and libmicrohttpd's block; the
 * events themselves wait in the journal, shared by all feeds. A feed that
 * is not suspended yet has not been asked for more for
 * --admin-stream-stall seconds cannot hand over what it has: its client
 * does not read, and it is cut (shutdown, as conn.c does). A feed that
 * fell so far behind that the journal no longer holds its next event is
 * told `reset` (re-read the state) and goes on from the newest.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "admin_int.h"

#define HR_LOG_MODULE "admin"

/* the waker looks at the feeds at least this often, and as often asks
 * the sockets of the suspended ones whether their client left (while
 * suspended, libmicrohttpd does not read them) */
#define NAP_MAX_MS 1000
/* ...and after news lets more come for this long: one resume of each
 * feed for a burst, not one per change (a dashboard does not need the
 * news sooner) */
#define COALESCE_MS 20
/* events kept formatted (libmicrohttpd's thread): a change is made into
 * text once, not once per feed */
#define TEXTS 1024
/* events looked at per call of a content reader, at most */
#define BATCH 1024
/* libmicrohttpd's block for a feed's content reader */
#define BLOCK (16 * 1024)
/* a document read for a feed, at most */
#define DOC_MAX (1024 * 1024)

enum feed_type {
	FEED_ALL,                     /* /v1/feed */
	FEED_PIDF,                    /* a presentity's composed PIDF */
	FEED_REGINFO,                 /* an AOR's reginfo */
};

struct stream {
	struct stream *prev, *next;   /* in the feeds' list (its lock) */
	struct hr_admin_feeds *f;
	struct MHD_Connection *c;
	uint64_t conn;                /* conn.c's id, to cut it */
	int fd;                       /* its socket, to peek at (or -1) */
	enum feed_type type;
	unsigned kinds;               /* a bit per enum hr_ctl_kind */
	char name[HR_CTL_NAME_MAX];   /* aor= or the document's; "": any */
	char event[32];               /* event=; "": any */

	/* the content reader's (libmicrohttpd's thread) */
	uint64_t cursor;              /* the last journal id looked at */
	bool opening;                 /* the position (or the document)
				       * not sent yet */
	struct hr_buf out;            /* formatted, not yet handed over */
	size_t off;
	struct hr_buf doc;            /* the document last sent */
	bool doc_sent;

	/* under the feeds' lock */
	bool suspended;               /* by the content reader */
	bool ending;                  /* cut, or its client left: its
				       * reader ends it */
	uint64_t since;               /* asked for more, or resumed */
	uint64_t due;                 /* its keep-alive */
	uint64_t wrote;               /* when it last handed bytes over (the
				       * content reader's) */
};

struct hr_admin_feeds {
	struct hr_admin *a;
	pthread_mutex_t lock;         /* guards the list and the counters */
	pthread_t waker;
	bool started;
	bool stop;
	struct stream *head;
	unsigned n;
	struct MHD_Connection **resume;  /* the waker's, max_streams */
	uint64_t *cuts;
	uint64_t probed;              /* when the waker last peeked */
	/* the document last read (libmicrohttpd's thread only): the feeds
	 * of one presentity resumed by one change read it once */
	struct {
		enum feed_type type;
		char name[HR_CTL_NAME_MAX];
		uint64_t at;          /* the journal's id it is as new as */
		struct hr_buf doc;
		bool valid;
	} cache;
	struct {
		uint64_t id;          /* 0: empty */
		char *text;           /* "id: …\nevent: …\ndata: …\n\n" */
		size_t len;
	} texts[TEXTS];
	uint64_t opened, refused, cut, resets, sent;
};

/* ---- the waker ---- */

/* Has the client of a suspended feed closed its end? Its socket stays
 * open while the connection is suspended (libmicrohttpd closes it only
 * after a resume), and a peek takes nothing from it. */
static bool gone(const struct stream *s)
{
	char c;
	ssize_t n;

	if (s->fd < 0)
		return false;
	n = recv(s->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		errno != EINTR);
}

/* Under the lock: which feeds to resume and cut, and how long to sleep. */
static void look(struct hr_admin_feeds *f, uint64_t last, unsigned *nres,
	unsigned *ncut, unsigned *nap)
{
	uint64_t now = hr_now_ms();
	uint64_t stall = (uint64_t)f->a->cfg.stream_stall_s * 1000;
	bool probe = now - f->probed >= NAP_MAX_MS;

	*nres = *ncut = 0;
	*nap = NAP_MAX_MS;
	if (probe)
		f->probed = now;
	for (struct stream *s = f->head; s; s = s->next) {
		if (s->suspended && probe && gone(s))
			s->ending = true;
		if (s->suspended && (s->cursor != last || now >= s->due ||
		    s->ending)) {
			s->suspended = false;
			s->since = now;
			f->resume[(*nres)++] = s->c;
		} else if (s->suspended && s->due - now < *nap) {
			*nap = (unsigned)(s->due - now);
		} else if (!s->suspended && !s->ending &&
			   now - s->since >= stall) {
			s->ending = true;
			f->cut++;
			f->cuts[(*ncut)++] = s->conn;
		}
	}
}

static void *wake(void *arg)
{
	struct hr_admin_feeds *f = arg;
	struct hr_control *ctl = f->a->cfg.ctl;
	uint64_t seen = hr_ctl_feed_last(ctl), last;
	unsigned nres, ncut, nap = NAP_MAX_MS;

	for (;;) {
		last = hr_ctl_feed_wait(ctl, seen, nap);
		if (last != seen) {
			struct timespec ts = { 0, COALESCE_MS * 1000000L };

			nanosleep(&ts, NULL);
			last = hr_ctl_feed_last(ctl);
		}
		seen = last;
		pthread_mutex_lock(&f->lock);
		if (f->stop) {
			pthread_mutex_unlock(&f->lock);
			return NULL;
		}
		look(f, seen, &nres, &ncut, &nap);
		pthread_mutex_unlock(&f->lock);
		/* a suspended feed stays so (and alive) until resumed, and
		 * only this thread resumes while it runs */
		for (unsigned i = 0; i < nres; i++)
			MHD_resume_connection(f->resume[i]);
		for (unsigned i = 0; i < ncut; i++)
			hr_admin_conn_cut(f->a->conns, f->cuts[i],
				"its live feed's client does not read");
	}
}

int hr_admin_feeds_alloc(struct hr_admin_feeds **fp, struct hr_admin *a)
{
	struct hr_admin_feeds *f = calloc(1, sizeof(*f));
	int err;

	if (!f)
		return ENOMEM;
	f->a = a;
	f->resume = calloc(a->cfg.max_streams, sizeof(*f->resume));
	f->cuts = calloc(a->cfg.max_streams, sizeof(*f->cuts));
	pthread_mutex_init(&f->lock, NULL);
	err = f->resume && f->cuts ? pthread_create(&f->waker, NULL, wake,
		f) : ENOMEM;
	if (err) {
		hr_admin_feeds_free(f);
		return err;
	}
	f->started = true;
	*fp = f;
	return 0;
}

void hr_admin_feeds_stop(struct hr_admin_feeds *f)
{
	unsigned n = 0;

	if (!f || !f->started)
		return;
	pthread_mutex_lock(&f->lock);
	f->stop = true;
	pthread_mutex_unlock(&f->lock);
	hr_ctl_feed_kick(f->a->cfg.ctl);
	pthread_join(f->waker, NULL);
	f->started = false;
	/* libmicrohttpd must not stop with a connection suspended: each
	 * resumed one ends (its reader sees stop) */
	pthread_mutex_lock(&f->lock);
	for (struct stream *s = f->head; s; s = s->next) {
		if (s->suspended) {
			s->suspended = false;
			f->resume[n++] = s->c;
		}
	}
	pthread_mutex_unlock(&f->lock);
	for (unsigned i = 0; i < n; i++)
		MHD_resume_connection(f->resume[i]);
}

/* After MHD_stop_daemon: every feed has been freed. */
void hr_admin_feeds_free(struct hr_admin_feeds *f)
{
	if (!f)
		return;
	hr_admin_feeds_stop(f);
	pthread_mutex_destroy(&f->lock);
	hr_buf_reset(&f->cache.doc);
	for (size_t i = 0; i < TEXTS; i++)
		free(f->texts[i].text);
	free(f->resume);
	free(f->cuts);
	free(f);
}

/* ---- what a feed sends ---- */

static bool wanted(const struct stream *s, const struct hr_ctl_event *e)
{
	if (!(s->kinds & (1u << e->kind)))
		return false;
	if (*s->name && strcmp(s->name, e->name ? e->name : ""))
		return false;
	return !*s->event || (e->package && !strcmp(s->event, e->package));
}

static json_t *event_json(const struct hr_ctl_event *e)
{
	json_t *j = json_pack("{s:s, s:s}", "kind", hr_ctl_kind_name(e->kind),
		"op", e->op);

	for (unsigned i = 0; j && i < e->nf; i++) {
		const struct hr_ctl_field *fl = &e->f[i];

		json_object_set_new(j, fl->name, fl->str ?
			json_string(fl->str) : json_integer(fl->num));
	}
	return j;
}

/* One event (WHATWG 9.2.6): its id, type and one line of JSON. */
static int put_event(struct stream *s, uint64_t id, const char *type,
	json_t *j)
{
	char *data = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) :
		NULL;
	int err = data ? hr_buf_printf(&s->out, "id: %" PRIu64 "\nevent: "
		"%s\ndata: %s\n\n", id, type, data) : ENOMEM;

	free(data);
	json_decref(j);
	return err;
}

/* The journal no longer holds what follows the cursor: re-read. */
static void gap(struct stream *s)
{
	struct hr_admin_feeds *f = s->f;

	s->cursor = hr_ctl_feed_last(f->a->cfg.ctl);
	pthread_mutex_lock(&f->lock);
	f->resets++;
	pthread_mutex_unlock(&f->lock);
	put_event(s, s->cursor, "reset", json_pack("{s:s}", "reason",
		"gap"));
}

static void count_sent(struct stream *s, unsigned n)
{
	if (!n)
		return;
	pthread_mutex_lock(&s->f->lock);
	s->f->sent += n;
	pthread_mutex_unlock(&s->f->lock);
}

/* e as an event of the firehose, made once for all feeds. */
static int put_change(struct stream *s, const struct hr_ctl_event *e)
{
	struct hr_admin_feeds *f = s->f;
	size_t i = (size_t)(e->id % TEXTS), mark = s->out.len;
	int err;

	if (f->texts[i].id == e->id)
		return hr_buf_write(&s->out, f->texts[i].text,
			f->texts[i].len);
	err = put_event(s, e->id, hr_ctl_kind_name(e->kind), event_json(e));
	if (err)
		return err;
	free(f->texts[i].text);
	f->texts[i].len = s->out.len - mark;
	f->texts[i].text = malloc(f->texts[i].len);
	f->texts[i].id = f->texts[i].text ? e->id : 0;
	if (f->texts[i].text)
		memcpy(f->texts[i].text, s->out.b + mark, f->texts[i].len);
	return 0;
}

/* Every change the filters let through, up to about max bytes. */
static void fill_events(struct stream *s, size_t max)
{
	struct hr_control *ctl = s->f->a->cfg.ctl;
	unsigned sent = 0;

	/* where it starts, so that a client reconnecting before any event
	 * resumes from here (an id alone dispatches no event) */
	if (s->opening)
		hr_buf_printf(&s->out, "id: %" PRIu64 "\n\n", s->cursor);
	s->opening = false;
	for (unsigned n = 0; n < BATCH && s->out.len < max; n++) {
		struct hr_ctl_event e;
		int err = hr_ctl_feed_next(ctl, s->cursor, &e);

		if (err == ERANGE) {
			gap(s);
			continue;
		}
		if (err)
			break;
		s->cursor = e.id;
		if (wanted(s, &e) && !put_change(s, &e))
			sent++;
		hr_ctl_feed_put(&e);
	}
	count_sent(s, sent);
}

/* Does e change the document of the feed? (A presentity's PIDF is made of
 * its publications, and of its bindings with --presence-from-registrar.) */
static bool touches(const struct stream *s, const struct hr_ctl_event *e)
{
	if (strcmp(s->name, e->name ? e->name : ""))
		return false;
	if (e->kind == HR_CTL_KIND_BINDING)
		return true;
	return s->type == FEED_PIDF && e->kind == HR_CTL_KIND_PUBLICATION &&
		e->package && !strcmp(e->package, "presence");
}

/* The feed's document as new as its cursor at least: read through the
 * control (a call into the core), or the one just read for another feed
 * of it at the same cursor (read after it, so as new). */
static const struct hr_buf *document(struct stream *s)
{
	struct hr_admin_feeds *f = s->f;
	int err;

	if (f->cache.valid && f->cache.type == s->type &&
	    f->cache.at == s->cursor && !strcmp(f->cache.name, s->name))
		return &f->cache.doc;
	f->cache.valid = false;
	if (!f->cache.doc.cap)
		hr_buf_init(&f->cache.doc, DOC_MAX);
	f->cache.doc.len = 0;
	err = hr_ctl_document(f->a->cfg.ctl, s->type == FEED_PIDF ?
		HR_CTL_DOC_PIDF : HR_CTL_DOC_REGINFO, s->name, &f->cache.doc);
	if (err) {
		if (err != ECANCELED)
			HR_WARN("feed of %s: %s", s->name, hr_strerror(err));
		return NULL;
	}
	f->cache.type = s->type;
	snprintf(f->cache.name, sizeof(f->cache.name), "%s", s->name);
	f->cache.at = s->cursor;
	f->cache.valid = true;
	return &f->cache.doc;
}

/* The document, sent when it is not the one sent last. */
static void send_doc(struct stream *s)
{
	bool pidf = s->type == FEED_PIDF;
	const struct hr_buf *b = document(s);

	if (!b || (s->doc_sent && b->len == s->doc.len &&
	    !memcmp(b->b, s->doc.b, b->len)))
		return;
	if (put_event(s, s->cursor, pidf ? "presence" : "reginfo",
		json_pack("{s:s, s:s%}", pidf ? "presentity" : "aor", s->name,
		pidf ? "pidf" : "reginfo", b->b ? b->b : "", b->len)))
		return;
	s->doc.len = 0;
	if (!hr_buf_write(&s->doc, b->b, b->len)) {
		s->doc_sent = true;
		count_sent(s, 1);
	}
}

/* A document feed: the document first, then again after each change of
 * its presentity or AOR (a burst read once). */
static void fill_doc(struct stream *s)
{
	struct hr_control *ctl = s->f->a->cfg.ctl;
	bool changed = s->opening;

	s->opening = false;
	for (unsigned n = 0; n < BATCH; n++) {
		struct hr_ctl_event e;
		int err = hr_ctl_feed_next(ctl, s->cursor, &e);

		if (err == ERANGE) {
			/* it may have missed a change: read it again */
			s->cursor = hr_ctl_feed_last(ctl);
			changed = true;
			continue;
		}
		if (err)
			break;
		s->cursor = e.id;
		changed |= touches(s, &e);
		hr_ctl_feed_put(&e);
	}
	if (changed)
		send_doc(s);
}

/* ---- the content reader ---- */

/* Nothing to send: suspended until the waker resumes it, unless news
 * came meanwhile (looked at under the lock the waker takes after each
 * change: none is missed). True when suspended. */
static bool rest(struct stream *s)
{
	struct hr_admin_feeds *f = s->f;
	bool idle;

	pthread_mutex_lock(&f->lock);
	idle = !f->stop && hr_ctl_feed_last(f->a->cfg.ctl) == s->cursor;
	if (idle) {
		s->suspended = true;
		s->due = s->wrote + (uint64_t)f->a->cfg.keepalive_s * 1000;
		MHD_suspend_connection(s->c);
	}
	pthread_mutex_unlock(&f->lock);
	return idle;
}

/* Asked for more: 0, or how the feed ends (cut or left: at once; the
 * server stopping: the end of its body). */
static ssize_t asked(struct stream *s, uint64_t now)
{
	struct hr_admin_feeds *f = s->f;
	ssize_t end = 0;

	pthread_mutex_lock(&f->lock);
	s->since = now;
	if (s->ending)
		end = MHD_CONTENT_READER_END_WITH_ERROR;
	else if (f->stop)
		end = MHD_CONTENT_READER_END_OF_STREAM;
	pthread_mutex_unlock(&f->lock);
	return end;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *s = cls;
	uint64_t now = hr_now_ms();
	ssize_t end = asked(s, now);

	(void)pos;
	if (end)
		return end;
	for (;;) {
		if (s->off == s->out.len) {
			s->out.len = s->off = 0;
			if (s->type == FEED_ALL)
				fill_events(s, max);
			else
				fill_doc(s);
		}
		if (s->off == s->out.len &&
		    now >= s->wrote + (uint64_t)s->f->a->cfg.keepalive_s *
		    1000)
			hr_buf_puts(&s->out, ": keep-alive\n\n");
		if (s->off < s->out.len) {
			size_t n = s->out.len - s->off;

			if (n > max)
				n = max;
			memcpy(buf, s->out.b + s->off, n);
			s->off += n;
			s->wrote = now;
			return (ssize_t)n;
		}
		if (rest(s))
			return 0;
		end = asked(s, now);
		if (end)
			return end;
	}
}

static void stream_free(void *cls)
{
	struct stream *s = cls;
	struct hr_admin_feeds *f = s->f;

	pthread_mutex_lock(&f->lock);
	if (s->prev)
		s->prev->next = s->next;
	else
		f->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	f->n--;
	pthread_mutex_unlock(&f->lock);
	hr_buf_reset(&s->out);
	hr_buf_reset(&s->doc);
	free(s);
}

/* ---- opening a feed ---- */

/* Last-Event-ID (WHATWG 9.2.4): where the client left off; false when it
 * is not an id of ours (it then gets a reset). */
static bool resume_at(const struct req *r, uint64_t *id)
{
	const char *v = MHD_lookup_connection_value(r->c, MHD_HEADER_KIND,
		"Last-Event-ID");
	char *end;

	if (!v)
		return false;
	errno = 0;
	*id = strtoull(v, &end, 10);
	return *v >= '0' && *v <= '9' && !*end && !errno;
}

/* The client's start: a resumed firehose goes on after its id (a gap
 * gives a reset); a new one, and every document feed (its first event
 * is the whole state), from the newest. */
static void start_at(struct stream *s, const struct req *r)
{
	struct hr_control *ctl = s->f->a->cfg.ctl;
	const char *v = MHD_lookup_connection_value(r->c, MHD_HEADER_KIND,
		"Last-Event-ID");
	uint64_t id;

	s->cursor = hr_ctl_feed_last(ctl);
	s->opening = true;
	if (s->type != FEED_ALL || !v)
		return;
	s->opening = false;
	if (!resume_at(r, &id))
		gap(s);
	else
		s->cursor = id;
}

static bool kinds_of(struct reply *rp, const char *list, unsigned *kinds)
{
	char buf[128], *save = NULL;
	enum hr_ctl_kind k;

	/* every change; a trace's messages only when asked for */
	*kinds = ((1u << HR_CTL_KINDS) - 1) & ~(1u << HR_CTL_KIND_TRACE);
	if (!list)
		return true;
	if (strlen(list) >= sizeof(buf))
		goto bad;
	snprintf(buf, sizeof(buf), "%s", list);
	*kinds = 0;
	for (char *t = strtok_r(buf, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		if (hr_ctl_kind_decode(t, &k))
			goto bad;
		*kinds |= 1u << k;
	}
	if (*kinds)
		return true;
bad:
	hr_admin_problem(rp, 400, "Bad Request", "kinds is a comma list of "
		"binding, subscription, publication, rule, user, trace");
	return false;
}

static bool event_of(struct reply *rp, const char *ev, char out[32])
{
	static const char *const pkgs[] = { "presence", "reg", "dialog",
		"message-summary", "presence.winfo" };

	*out = '\0';
	if (!ev)
		return true;
	for (size_t i = 0; i < sizeof(pkgs) / sizeof(pkgs[0]); i++) {
		if (!strcmp(ev, pkgs[i])) {
			snprintf(out, 32, "%s", ev);
			return true;
		}
	}
	hr_admin_problem(rp, 400, "Bad Request", "event is one of presence, "
		"reg, dialog, message-summary, presence.winfo");
	return false;
}

/* A place among --admin-max-streams, linked: false when none is left. */
static bool admit(struct hr_admin_feeds *f, struct stream *s)
{
	bool ok;

	pthread_mutex_lock(&f->lock);
	ok = f->n < f->a->cfg.max_streams && !f->stop;
	if (ok) {
		f->n++;
		f->opened++;
		s->next = f->head;
		if (f->head)
			f->head->prev = s;
		f->head = s;
		s->since = s->wrote = hr_now_ms();
	} else {
		f->refused++;
	}
	pthread_mutex_unlock(&f->lock);
	return ok;
}

/* Its socket, bounded for a client that reads slowly: -1 when unknown. */
static int bound(const struct req *r)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->c,
		MHD_CONNECTION_INFO_CONNECTION_FD);
	int size = (int)r->a->cfg.stream_buffer;

	if (!ci)
		return -1;
	setsockopt(ci->connect_fd, SOL_SOCKET, SO_SNDBUF, &size,
		sizeof(size));
	return ci->connect_fd;
}

static struct MHD_Response *response(struct stream *s)
{
	struct MHD_Response *resp = MHD_create_response_from_callback(
		MHD_SIZE_UNKNOWN, BLOCK, stream_read, s, stream_free);

	if (!resp)
		return NULL;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		"text/event-stream");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
		"no-store");
	/* a reverse proxy (nginx) must pass each event on at once */
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	return resp;
}

static void open_feed(struct req *r, struct reply *rp, struct stream *s)
{
	struct hr_admin_feeds *f = r->a->feeds;

	s->f = f;
	s->c = r->c;
	s->fd = bound(r);
	hr_buf_init(&s->out, 2 * DOC_MAX);
	hr_buf_init(&s->doc, DOC_MAX);
	start_at(s, r);
	if (!admit(f, s)) {
		hr_buf_reset(&s->out);
		free(s);
		hr_admin_problem(rp, 503, "Service Unavailable", "as many live "
			"feeds are open as --admin-max-streams allows");
		return;
	}
	rp->resp = response(s);
	if (!rp->resp) {
		stream_free(s);
		hr_admin_problem(rp, 500, "Internal Server Error",
			"out of memory");
		return;
	}
	rp->status = 200;
	s->conn = hr_admin_conn_stream(r->a->conns, r->c);
	/* its stall is ours to judge (the waker), not the idle timeout's */
	MHD_set_connection_option(r->c, MHD_CONNECTION_OPTION_TIMEOUT, 0);
}

/* GET /v1/feed?kinds=&aor=&event= */
void hr_admin_feed(struct req *r, struct reply *rp)
{
	struct stream *s = calloc(1, sizeof(*s));
	const char *aor = hr_admin_query(r, "aor");

	if (!s) {
		hr_admin_problem(rp, 500, "Internal Server Error",
			"out of memory");
		return;
	}
	s->type = FEED_ALL;
	if (!kinds_of(rp, hr_admin_query(r, "kinds"), &s->kinds) ||
	    (aor && !hr_admin_aor(rp, aor, s->name)) ||
	    !event_of(rp, hr_admin_query(r, "event"), s->event)) {
		free(s);
		return;
	}
	open_feed(r, rp, s);
}

static void doc_feed(struct req *r, struct reply *rp, enum feed_type type)
{
	struct stream *s = calloc(1, sizeof(*s));

	if (!s) {
		hr_admin_problem(rp, 500, "Internal Server Error",
			"out of memory");
		return;
	}
	s->type = type;
	if (!hr_admin_aor(rp, r->seg[2], s->name)) {
		free(s);
		return;
	}
	open_feed(r, rp, s);
}

/* GET /v1/presentities/{uri}/presence/feed */
void hr_admin_feed_presence(struct req *r, struct reply *rp)
{
	doc_feed(r, rp, FEED_PIDF);
}

/* GET /v1/aors/{uri}/reginfo/feed */
void hr_admin_feed_reginfo(struct req *r, struct reply *rp)
{
	doc_feed(r, rp, FEED_REGINFO);
}

/* ---- metrics ---- */

int hr_admin_feed_metrics(struct hr_admin *a, struct hr_buf *b)
{
	struct hr_admin_feeds *f = a->feeds;
	struct hr_ctl_feed_stats js;
	uint64_t v[6];

	hr_ctl_feed_stats(a->cfg.ctl, &js);
	pthread_mutex_lock(&f->lock);
	v[0] = f->n;
	v[1] = f->opened;
	v[2] = f->refused;
	v[3] = f->cut;
	v[4] = f->resets;
	v[5] = f->sent;
	pthread_mutex_unlock(&f->lock);
	return hr_buf_printf(b,
		"# HELP herald_admin_feeds Live feeds (Server-Sent Events) "
		"open.\n# TYPE herald_admin_feeds gauge\n"
		"herald_admin_feeds %" PRIu64 "\n"
		"# HELP herald_admin_feeds_opened_total Live feeds opened.\n"
		"# TYPE herald_admin_feeds_opened_total counter\n"
		"herald_admin_feeds_opened_total %" PRIu64 "\n"
		"# HELP herald_admin_feeds_refused_total Live feeds refused "
		"(503) at --admin-max-streams.\n"
		"# TYPE herald_admin_feeds_refused_total counter\n"
		"herald_admin_feeds_refused_total %" PRIu64 "\n"
		"# HELP herald_admin_feeds_cut_total Live feeds cut off: their "
		"client did not read for --admin-stream-stall.\n"
		"# TYPE herald_admin_feeds_cut_total counter\n"
		"herald_admin_feeds_cut_total %" PRIu64 "\n"
		"# HELP herald_admin_feeds_resets_total Resets sent: the events "
		"a feed missed were no longer held (events dropped for it).\n"
		"# TYPE herald_admin_feeds_resets_total counter\n"
		"herald_admin_feeds_resets_total %" PRIu64 "\n"
		"# HELP herald_admin_feed_events_sent_total Events written to "
		"live feeds.\n"
		"# TYPE herald_admin_feed_events_sent_total counter\n"
		"herald_admin_feed_events_sent_total %" PRIu64 "\n"
		"# HELP herald_feed_journal_events_total Changes journalled "
		"for live feeds.\n"
		"# TYPE herald_feed_journal_events_total counter\n"
		"herald_feed_journal_events_total %" PRIu64 "\n"
		"# HELP herald_feed_journal_lost_total Changes not journalled "
		"(out of memory).\n"
		"# TYPE herald_feed_journal_lost_total counter\n"
		"herald_feed_journal_lost_total %" PRIu64 "\n"
		"# HELP herald_feed_journal_held Changes held to resume from "
		"(at most --feed-events).\n"
		"# TYPE herald_feed_journal_held gauge\n"
		"herald_feed_journal_held %zu\n",
		v[0], v[1], v[2], v[3], v[4], v[5], js.events, js.failed,
		js.held);
}
