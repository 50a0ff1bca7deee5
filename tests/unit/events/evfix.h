/* The notifier as the tests of server/events and server/packages set it
 * up, and how they find a subscription in it. */
#ifndef HR_TEST_EVFIX_H
#define HR_TEST_EVFIX_H

#include <check.h>
#include <string.h>
#include "events/events.h"

/* The notifier's defaults, serving example.test, authentication off
 * (digest has its own tests). */
static inline void evfix_cfg(struct hr_events_cfg *cfg)
{
	static const char *const domains[] = { "example.test" };

	hr_events_cfg_default(cfg);
	cfg->domains = domains;
	cfg->ndomains = 1;
	cfg->auth = false;
}

struct evfix_find {
	const char *watcher;    /* a part of the watcher's URI; NULL: any */
	struct hr_sub *sub;
};

static inline int evfix_grab(struct hr_sub *sub, void *arg)
{
	struct evfix_find *f = arg;

	if (f->watcher && !strstr(hr_sub_info(sub)->watcher, f->watcher))
		return 0;
	f->sub = sub;
	return 1;
}

/* The first subscription of ev to package and resource whose watcher
 * holds watcher (NULL: any); the test fails without one. */
static inline struct hr_sub *evfix_sub(struct hr_events *ev,
	const char *package, const char *resource, const char *watcher)
{
	struct evfix_find f = { watcher, NULL };

	hr_events_foreach(ev, package, resource, evfix_grab, &f);
	ck_assert_ptr_nonnull(f.sub);
	return f.sub;
}

#endif
