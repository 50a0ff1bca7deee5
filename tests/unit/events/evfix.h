/* The notifier as the tests of server/events and server/packages set it
 * up, and how they find a subscription in it. */
#ifndef HR_TEST_EVFIX_H
#define HR_TEST_EVFIX_H

#include <check.h>
#include <string.h>
#include "auth/auth.h"
#include "events/events.h"

/* The realm the tests serve: example.test, no method challenged (digest
 * has its own tests); a test adds its user handlers. */
static inline struct hr_realm_cfg evfix_realm(void)
{
	static const char *const domains[] = { "example.test" };

	return (struct hr_realm_cfg){ .domains = domains, .ndomains = 1 };
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
