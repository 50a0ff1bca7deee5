/* Private to server/events. */
#ifndef HR_EVENTS_INT_H
#define HR_EVENTS_INT_H

#include "events.h"


struct hr_events {
	struct hr_events_cfg cfg;
	struct hr_sip *sip;
	struct hr_store *store;
	const struct hr_pkg *pkgs[HR_EVENTS_MAX_PKGS];
	unsigned npkgs;
	struct hr_hash byid;          /* id (= local tag) → sub */
	struct hr_hash res;           /* package + resource → struct res */
	struct hr_hash watchers;      /* identity → struct watcher */
	size_t n;                     /* linked subscriptions */
	struct hr_events_stats stats;
	struct hr_watch watch[HR_EVENTS_WATCHERS];
	struct hr_list claims;        /* in-dialog SUBSCRIBEs waiting for
				       * their subscription to be made ours
				       * (a cluster; struct claim) */
	bool closing;
};

/* An in-dialog SUBSCRIBE for a subscription another node owns. */
struct claim {
	struct hr_le le;
	struct hr_strans *st;
	char id[];
};

/* subscribe.c: an in-dialog SUBSCRIBE again, once its subscription is
 * ours or none could be had (no further claim). */
void hr_events_in_dialog_again(struct hr_events *ev, struct hr_strans *st);

/* The subscriptions of one package to one resource. */
struct res {
	struct hr_le le;              /* in ev->res */
	struct hr_events *ev;
	struct hr_list subs;
	unsigned pending;             /* new ones being stored (the limit) */
	char key[];                   /* "package\0resource" */
};

/* How many subscriptions one watcher holds (the limit), by its identity
 * (hr_sub_who): the authenticated user, whatever its From says. */
struct watcher {
	struct hr_le le;              /* in ev->watchers */
	struct hr_events *ev;
	unsigned n;
	unsigned pending;             /* new ones being stored */
	char uri[];                   /* the identity */
};

/* What a SUBSCRIBE waiting for its commit will change. */
struct pend {
	struct hr_strans *st;         /* referenced */
	int64_t expires_at;
	uint32_t expires;             /* granted, for the 200 */
	uint32_t cseq;
	char *target;                 /* new remote target (hr_mem), or NULL */
	struct hr_conn *conn;         /* referenced */
	struct hr_sub *old;           /* replaced by this new one, referenced */
	bool del;                     /* unsubscribe */
	bool fresh;                   /* a new subscription */
	struct res *res;              /* counted there while it is stored */
	struct watcher *w;            /* (hr_res_hold, hr_watcher_hold) */
};

/*
 * A subscription's lifecycle, one state at a time (hr_sub_life_set checks
 * each move against this diagram). Beside it, info.state is what RFC 6665
 * 4.1.3 calls the subscription's state (pending or active) as the
 * NOTIFYs carry it; it stays as it was in ENDING, where the final NOTIFY
 * says terminated.
 *
 *      SUBSCRIBE without a To tag (RFC 6665 4.2.1.1), or a stored row
 *                |
 *                v
 *               NEW -------- a fetch, Expires: 0 (4.4.3): ----------+
 *                |           nothing stored, one final NOTIFY       |
 *   authorized, its row committed and linked                        |
 *   (the 200 goes); a row loaded at start                           |
 *                v                                                  v
 *              LIVE -- expired, unsubscribed (4.2.1.4), ended ---> ENDING
 *                |     by the package or the admin (4.2.2): the     |
 *                |     row deleted, a final NOTIFY owed,            |
 *                |     terminated;reason=...                        |
 *   its NOTIFY failed: an error, 481,                               |
 *   Timer F (4.2.2); the watcher's new                              |
 *   dialog replaced it; shutdown                                    |
 *                v                                                  |
 *              GONE <--------- the final NOTIFY sent, or failed ----+
 *                              (nothing waits for its answer);
 *                              shutdown
 *
 * NEW:    made, not yet stored nor linked; no NOTIFY.
 * LIVE:   stored (its row is there to delete) and linked in the
 *         tables; refreshes and NOTIFYs (4.2.1.4, 4.2.2).
 * ENDING: no row, no refresh (481), only the final NOTIFY; still
 *         linked when it was LIVE.
 * GONE:   the package was told (gone()), unlinked, nothing in flight.
 *         At shutdown the row stays for the next start.
 */
enum hr_sub_life {
	HR_LIFE_NEW = 0,
	HR_LIFE_LIVE,
	HR_LIFE_ENDING,
	HR_LIFE_GONE,
};

struct hr_sub {
	struct hr_le le_id;           /* ev->byid */
	struct hr_le le_res;          /* res->subs */
	struct hr_events *ev;
	const struct hr_pkg *pkg;
	struct res *res;              /* set while linked */
	struct watcher *w;            /* set while linked */
	struct hr_sub_info info;

	struct hr_dialog *dlg;        /* the subscription's dialog: its
				       * local tag is the id */
	const char *contact_key;      /* +sip.instance, or the remote
				       * target (the dialog's) */
	enum hr_sub_life life;        /* (beside key_hash: no hole) */
	uint32_t key_hash;            /* of watcher and contact_key */

	/* NOTIFY sequencing (the last CSeq used is the dialog's), not the
	 * lifecycle: what the next NOTIFY carries and when it may go */
	int64_t cseq_res;             /* reserved in the store, committed */
	int64_t ver_res;
	bool reserving;               /* a reservation is being stored */
	bool dirty;                   /* a NOTIFY is owed (in ENDING: the
				       * final one) */
	bool full;                    /* ...with full state */
	bool over_tcp;                /* the NOTIFY in flight went over TCP,
				       * being too large for UDP */
	uint32_t final_retry;
	uint32_t big_len;             /* ...and its size, for the log */
	uint32_t owner_epoch;         /* the row's, which this node's writes
				       * carry (a cluster: a move raises it) */
	struct hr_ctrans *ct;         /* NOTIFY in flight (holds a ref; so
				       * does the dialog's next-hop lookup) */
	uint64_t last_ms;             /* when the last NOTIFY went out */
	struct hr_tmr tmr_exp;
	struct hr_tmr *tmr_thr;       /* throttle, or retry a reservation:
				       * allocated while it runs (issue 20:
				       * most subscriptions never wait) */
	struct pend *pend;            /* a SUBSCRIBE's commit in flight */
	void *data;                   /* the package's */
	char strs[];
};

/* sub.c: objects and tables */
/** Move sub to state to: a move not in the diagram is logged (and
 * aborts a debug build). */
void hr_sub_life_set(struct hr_sub *sub, enum hr_sub_life to);
/** Ending or gone: no refresh, no NOTIFY but the final one. */
static inline bool hr_sub_over(const struct hr_sub *sub)
{
	return sub->life >= HR_LIFE_ENDING;
}
struct hr_sub *hr_sub_new(struct hr_events *ev, const struct hr_pkg *pkg,
	const struct hr_store_sub *ss, struct hr_dialog *dlg);
/** The dialog of a stored row; NULL on ENOMEM. */
struct hr_dialog *hr_sub_dialog_decode(const struct hr_store_sub *ss);
void hr_sub_to_store(const struct hr_sub *sub, struct hr_store_sub *ss);
void hr_sub_rekey(struct hr_sub *sub);
int hr_sub_link(struct hr_sub *sub);
void hr_sub_unlink(struct hr_sub *sub);
struct hr_sub *hr_sub_dialog(struct hr_events *ev, const struct hr_pl *callid,
	const struct hr_pl *local_tag, const struct hr_pl *remote_tag,
	const struct hr_pl *package, const struct hr_pl *event_id);
struct res *hr_res_find(struct hr_events *ev, const char *package,
	const char *resource);
/** The watcher's identity, borrowed from si: its authenticated user, or
 * without authentication its From URI's user@host. */
const char *hr_sub_who(const struct hr_sub_info *si);
/** Subscriptions of a watcher identity: linked and being stored. */
unsigned hr_watcher_count(struct hr_events *ev, const char *who);
/** Count one more subscription being stored (so that limits hold while
 * SUBSCRIBEs wait for their commits); NULL on ENOMEM. */
struct res *hr_res_hold(struct hr_events *ev, const char *package,
	const char *resource);
struct watcher *hr_watcher_hold(struct hr_events *ev, const char *uri);
/** ...and it is linked or given up: NULL-safe. */
void hr_res_release(struct res *r);
void hr_watcher_release(struct watcher *w);
const struct hr_pkg *hr_events_pkg(const struct hr_events *ev,
	const struct hr_pl *name);

/** Tell those watching the notifier that sub changed (not while
 * closing). */
void hr_sub_tell(struct hr_sub *sub, enum hr_sub_change ch);

/* notify.c: NOTIFYs, expiry, reservations */
void hr_sub_arm(struct hr_sub *sub, int64_t ms);
/** Stop the throttle or retry timer, if it runs. */
void hr_sub_thr_cancel(struct hr_sub *sub);
void hr_sub_kick(struct hr_sub *sub);
void hr_sub_finish(struct hr_sub *sub, bool store_del);
/** Another node of a cluster has sub now: dropped at once, its NOTIFY
 * in flight not sent again (the new owner's CSeqs are above it). */
void hr_sub_moved(struct hr_sub *sub);
void hr_sub_store_del(struct hr_sub *sub);
void hr_sub_end(struct hr_sub *sub, enum hr_sub_reason reason,
	uint32_t retry_after, bool store_del);
void hr_notify_close_all(struct hr_events *ev);

/* subscribe.c */
void hr_events_on_subscribe(struct hr_strans *st, const struct hr_msg *req,
	void *arg);

#endif
