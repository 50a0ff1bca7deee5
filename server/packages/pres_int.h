/* Private to the presence and presence.winfo packages. */
#ifndef HR_PRES_INT_H
#define HR_PRES_INT_H

#include "presence.h"
#include "publish.h"

/* One presentity with publications (publish.c keeps them), waiting
 * watchers or watchers on other nodes: its composed document, and the
 * debounce of its notifications. */
struct presentity {
	struct hr_le le;             /* in p->pres */
	struct hr_presence *p;
	struct hr_list waiting;      /* struct waiting */
	struct hr_list remote;       /* struct remote */
	char *doc;                   /* the composed document, NULL: not yet */
	size_t doclen;
	uint64_t doc_hash;           /* of doc: what a watcher was told */
	uint64_t round_ms;           /* when the last round started */
	struct hr_tmr tmr;           /* the next round */
	char name[];
};

/* RFC 3857 4.1: a pending subscription that timed out, kept so that the
 * presentity still learns of the attempt (status waiting). Ends when a
 * rule decides for the watcher, or when it subscribes again. In memory
 * only. */
struct waiting {
	struct hr_le le;             /* in presentity->waiting */
	const char *id;              /* the subscription's */
	const char *watcher;         /* its URI */
	const char *who;             /* its identity, for rules */
	char strs[];
};

/* A presence subscription another node of a cluster owns, for the
 * presentity's watcher list (RFC 3857): from the change log. */
struct remote {
	struct hr_le le;             /* in presentity->remote */
	struct hr_le le_id;          /* in p->remote */
	struct presentity *pr;       /* holds a reference */
	enum hr_sub_state state;
	int64_t expires_at;
	const char *watcher;
	char id[];                   /* then the watcher */
};

/* What presence keeps per presence subscription. */
struct psub {
	enum hr_pres_action action;  /* ALLOW, POLITE_BLOCK or CONFIRM */
	uint64_t sent_hash;          /* of the document last sent (0: none) */
	bool approved;               /* was pending, a rule allowed it */
};

struct hr_presence {
	struct hr_presence_cfg cfg;
	struct hr_store *store;
	struct hr_events *ev;
	struct hr_registrar *r;
	struct hr_publish *pub;      /* the presence package's PUBLISH */
	struct hr_pkg pkg;           /* presence */
	struct hr_pkg wpkg;          /* presence.winfo */
	struct hr_hash pres;         /* name → presentity */
	struct hr_hash remote;       /* id → struct remote (a cluster) */
	struct hr_rules *rules;      /* enum hr_pres_action per watcher */
	void (*rule_hook)(const char *presentity, void *arg);
	void *rule_hook_arg;         /* the dialog package's */
	bool watching;
	bool closing;
};

/* presence.c */
struct presentity *hr_pres_find(const struct hr_presence *p,
	const char *name);
/** The presentity, made when needed: a reference. */
struct presentity *hr_pres_get(struct hr_presence *p, const char *name);
/** The table lets go of pr once nothing keeps it there. */
void hr_pres_release(struct presentity *pr);

/* winfo.c: watcher information of presentity's presence subscriptions */
void hr_winfo_init(struct hr_presence *p);
void hr_winfo_tell(struct hr_presence *p, const char *resource,
	const char *id, const char *watcher, const char *status,
	const char *event, int64_t expires_at);
void hr_winfo_changed(struct hr_presence *p, struct hr_sub *psub,
	const char *status, const char *event);
/** A subscription of ours went to another node: its watcher stays in
 * the list, as another node's. */
void hr_winfo_remote_keep(struct hr_presence *p,
	const struct hr_sub_info *si);
/** A subscription came here from another node: true when it was in the
 * list as another node's (nothing to tell), now dropped from it. */
bool hr_winfo_remote_take(struct hr_presence *p, const char *id);

#endif
