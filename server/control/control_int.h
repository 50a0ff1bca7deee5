/* Private to control/. */
#ifndef HR_CONTROL_INT_H
#define HR_CONTROL_INT_H

#include "control.h"
#include "events/events.h"
#include "packages/dialog.h"
#include "packages/mwi.h"
#include "packages/presence.h"
#include "packages/reg.h"
#include "redirect/redirect.h"
#include "registrar/registrar.h"
#include "sip/sip.h"
#include "store/store.h"

struct hr_journal;

struct hr_control {
	struct hr_control_cfg cfg;
	struct hr_journal *journal;
	bool watching;                /* the core's watch points hooked */
	struct hr_list traces;        /* SIP traces running (trace.c) */
};

struct hr_ctl_reader {
	struct hr_store_reader *rd;
};

/* A change the core stores before it applies it: the client's thread
 * waits for its completion (on the core thread) after the call. */
struct hr_ctl_waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int err;
};

/** Complete w with err (core thread). */
void hr_ctl_waiter_done(int err, void *arg);
/** hr_call(fn, arg), then wait for w: fn started the change (which ends
 * with hr_ctl_waiter_done), or failed it with hr_ctl_waiter_done. */
int hr_ctl_call_wait(hr_call_h *fn, void *arg, struct hr_ctl_waiter *w);

/* journal.c: the ring of changes (any thread; tests use it alone) */

/** A journal of cap events whose ids start above base. */
int hr_journal_alloc(struct hr_journal **jp, size_t cap, uint64_t base);
void hr_journal_free(struct hr_journal *j);
/** Append a copy of e, with the next id: 0 or ENOMEM (the event is
 * lost, and counted). */
int hr_journal_add(struct hr_journal *j, const struct hr_ctl_event *e);
/** As hr_ctl_feed_next. */
int hr_journal_next(struct hr_journal *j, uint64_t after,
	struct hr_ctl_event *e);
/** As hr_ctl_feed_put. */
void hr_journal_put(const struct hr_ctl_event *e);
uint64_t hr_journal_last(struct hr_journal *j);
/** As hr_ctl_feed_wait. */
uint64_t hr_journal_wait(struct hr_journal *j, uint64_t after,
	unsigned ms);
void hr_journal_kick(struct hr_journal *j);
void hr_journal_stats(struct hr_journal *j, struct hr_ctl_feed_stats *st);

/* feed.c: the core's watch points into the journal (core thread) */

/** Open the journal and hook the core's watch points. */
int hr_ctl_feed_open(struct hr_control *ctl);
/** Unhook them and free the journal. */
void hr_ctl_feed_close(struct hr_control *ctl);
/** Journal e (core thread): 0, or ENOMEM (lost, and counted). */
int hr_ctl_journal_add(struct hr_control *ctl, const struct hr_ctl_event *e);
/** End every trace (trace.c; core thread). */
void hr_ctl_traces_close(struct hr_control *ctl);
/** A rule was set (action NULL: removed) and is in force. */
void hr_ctl_feed_rule(struct hr_control *ctl, enum hr_ctl_pkg pkg,
	const char *resource, const char *watcher, const char *action);

#endif
