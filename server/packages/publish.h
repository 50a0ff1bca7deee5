/*
 * Publication (RFC 3903): the event state compositor's part that is the
 * same for every package. PUBLISH with its entity-tags (initial,
 * refresh, modify, remove), expiry, storage and recovery; a package fed
 * by PUBLISH (presence; later dialog, message-summary) gives only what
 * its documents mean, in a small table.
 */
#ifndef HR_PKG_PUBLISH_H
#define HR_PKG_PUBLISH_H

#include "auth/auth.h"
#include "store/store.h"

/** What a PUBLISH-fed package supplies. */
struct hr_pubpkg {
	const char *event;          /* "presence" */
	const char *ctype;          /* "application/pidf+xml": the only
				     * body accepted (415 otherwise) */
	unsigned expires_default;
	unsigned expires_min;       /* less gets 423 */
	unsigned expires_max;       /* more is clamped */
	size_t max_body;            /* bytes: more gets 413 */
	unsigned max_pubs;          /* of one resource: more get 403 */
	/* A published body for resource: true with *docp (an hr_mem
	 * object), else false with the answer in v (400, 500). */
	bool (*parse)(struct hr_verdict *v, const struct hr_pl *body,
		const char *resource, void **docp, void *arg);
	/* A stored body back: 0 with *docp, or an error and *why. */
	int (*load)(void **docp, const char *body, const char **why);
	/* The resource's document with the PUBLISHes in flight
	 * (hr_publish_docs ahead) is within the package's bounds: true,
	 * else false with the answer in v. May be NULL. */
	bool (*fits)(struct hr_verdict *v, const char *resource, void *arg);
	/* The resource's publications changed (committed, expired). */
	void (*changed)(const char *resource, void *arg);
	void *arg;
};

struct hr_publish;  /* refcounted */

/** Publications of one package (pkg is copied). */
int hr_publish_alloc(struct hr_publish **pubp, struct hr_store *store,
	struct hr_realm *realm, const struct hr_pubpkg *pkg);
/** Route PUBLISH of pub's event to pub (once allocated, when all else is
 * ready). Each package fed by PUBLISH is served so on the same sip: the
 * first one served routes by Event (an event none serves gets 489, its
 * Allow-Events listing them all) and keeps a reference to the others. */
void hr_publish_serve(struct hr_publish *pub, struct hr_sip *sip);
/** Load the stored publications of pub's event: expiry timers resume,
 * expired and unreadable ones are removed (those of another event are
 * its package's to load). */
int hr_publish_load(struct hr_publish *pub);
/**
 * Another node of a cluster changed publication etag of resource: sp is
 * its row now, NULL when it is gone (removed, refreshed under a new
 * entity-tag, expired). The package hears of each resource's changes of
 * a round once, and only when its documents changed: 0; EBUSY while a
 * PUBLISH of resource is being stored here (read it again).
 */
int hr_publish_sync(struct hr_publish *pub, const char *resource,
	const char *etag, const struct hr_store_pub *sp);
/** Shutting down: no new publications (503), no timers. */
void hr_publish_close(struct hr_publish *pub);

/** How a publication changed (RFC 3903 4: initial, refresh, modify,
 * remove; or it expired). */
enum hr_pub_change {
	HR_PUB_PUBLISHED,
	HR_PUB_REFRESHED,
	HR_PUB_MODIFIED,
	HR_PUB_REMOVED,
	HR_PUB_EXPIRED,
};

/** A publication of event for resource changed as ch says: committed
 * (etag is its entity-tag now; the last one when it is gone). Core
 * thread; not while shutting down. */
typedef void (hr_pub_watch_h)(const char *event, const char *resource,
	const char *etag, enum hr_pub_change ch, void *arg);

#define HR_PUBLISH_WATCHERS 2

/** Watch pub's publications (the control's journal): 0, or ENOSPC
 * beyond HR_PUBLISH_WATCHERS. */
int hr_publish_watch(struct hr_publish *pub, hr_pub_watch_h *h, void *arg);
/** Stop watching (h and arg as given to hr_publish_watch). */
void hr_publish_unwatch(struct hr_publish *pub, hr_pub_watch_h *h,
	void *arg);

typedef void (hr_publish_done_h)(int err, void *arg);

/**
 * Publish body for resource as the admin (an HTTP client: no PUBLISH, no
 * credentials): resource has one such publication, which this replaces
 * (PUBLISHed ones stay); expires 0 removes it. Stored, then in force,
 * then done on the core thread. 0 when under way; EINVAL (a body the
 * package refuses, or a bound), EBUSY (a change of it is being stored),
 * ENOENT (nothing to remove), ECANCELED (shutting down), ENOMEM.
 */
int hr_publish_put(struct hr_publish *pub, const char *resource,
	const char *body, size_t len, uint32_t expires,
	hr_publish_done_h *done, void *arg);

/** A published document's entity names resource ("alice@example.test"):
 * pres:, sip: or sips: and user@domain, the domain in any case. */
bool hr_publish_entity_ok(const char *entity, const char *resource);

typedef void (hr_pubdoc_h)(void *doc, void *arg);

/** At most how many documents hr_publish_docs gives for resource. */
size_t hr_publish_ndocs(const struct hr_publish *pub, const char *resource,
	bool ahead);
/** h for each document of resource's publications, oldest first; with
 * ahead those of the PUBLISHes in flight too, in place of those they
 * modify: what resource will have if they all succeed. */
void hr_publish_docs(const struct hr_publish *pub, const char *resource,
	bool ahead, hr_pubdoc_h *h, void *arg);
/** Live publications of resource, or of all with NULL. */
size_t hr_publish_count(const struct hr_publish *pub, const char *resource);
/** h for each resource with publications (stops at non-zero). */
int hr_publish_foreach(const struct hr_publish *pub,
	int (*h)(const char *resource, void *arg), void *arg);

#endif
