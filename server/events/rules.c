/*
 * Who may watch what: a package's rules, an action per resource and
 * watcher (a user, or a whole domain). The packages decide what the
 * actions mean; this is the table and its lookup.
 */
#include <errno.h>
#include <string.h>
#include "events_int.h"

struct rule {
	struct hr_le le;
	int action;
	char key[];                   /* "resource\0watcher" */
};

struct hr_rules {
	struct hr_hash tab;
};

static uint32_t key_hash(const char *resource, const char *watcher)
{
	return hr_hash_bytes(resource, strlen(resource)) * 31 +
		hr_hash_bytes(watcher, strlen(watcher));
}

static struct rule *find(const struct hr_rules *rs, const char *resource,
	const char *watcher)
{
	struct hr_list *l = hr_hash_list(&rs->tab, key_hash(resource,
		watcher));
	size_t n = strlen(resource);

	for (struct hr_le *le = l->head; le; le = le->next) {
		struct rule *r = le->data;

		if (!strcmp(r->key, resource) && !strcmp(r->key + n + 1, watcher))
			return r;
	}
	return NULL;
}

static void rule_destroy(void *data)
{
	hr_list_unlink(&((struct rule *)data)->le);
}

static void rules_destroy(void *data)
{
	struct hr_rules *rs = data;

	for (uint32_t i = 0; rs->tab.bucket && i <= rs->tab.mask; i++) {
		while (rs->tab.bucket[i].head) {
			struct rule *r = rs->tab.bucket[i].head->data;

			hr_hash_unlink(&rs->tab, &r->le);
			hr_mem_deref(r);
		}
	}
	hr_hash_reset(&rs->tab);
}

int hr_rules_alloc(struct hr_rules **rsp)
{
	struct hr_rules *rs = hr_mem_zalloc(sizeof(*rs), rules_destroy);

	if (!rs)
		return ENOMEM;
	if (hr_hash_init(&rs->tab, 1024)) {
		hr_mem_deref(rs);
		return ENOMEM;
	}
	*rsp = rs;
	return 0;
}

int hr_rules_set(struct hr_rules *rs, const char *resource,
	const char *watcher, int action)
{
	struct rule *r = find(rs, resource, watcher);
	size_t n = strlen(resource), m = strlen(watcher);

	if (!action) {
		if (r) {
			hr_hash_unlink(&rs->tab, &r->le);
			hr_mem_deref(r);
		}
		return 0;
	}
	if (!r) {
		r = hr_mem_zalloc(sizeof(*r) + n + m + 2, rule_destroy);
		if (!r)
			return ENOMEM;
		memcpy(r->key, resource, n + 1);
		memcpy(r->key + n + 1, watcher, m + 1);
		hr_hash_append(&rs->tab, key_hash(resource, watcher), &r->le,
			r);
	}
	r->action = action;
	return 0;
}

int hr_rules_get(const struct hr_rules *rs, const char *resource,
	const char *who)
{
	const char *at = strchr(who, '@');
	const struct rule *r = find(rs, resource, who);

	/* the user's own rule, else its domain's */
	if (!r && at)
		r = find(rs, resource, at + 1);
	return r ? r->action : 0;
}
