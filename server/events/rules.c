/*
 * Who may watch what: a package's rules, an action per resource and
 * watcher (a user, or a whole domain), kept in PostgreSQL and in memory.
 * The packages decide what the actions mean; this is the table, its
 * lookup and its durable changes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "events_int.h"

struct rule {
	struct hr_le le;
	int action;
	char key[];                   /* "resource\0watcher" */
};

struct hr_rules {
	struct hr_hash tab;
	struct hr_store *store;
	const char *package;
	const char *const *names;     /* the store's name of each action */
	unsigned nnames;
	hr_rules_applied_h *applied;
	void *arg;
};

static uint32_t key_hash(const char *resource, const char *watcher)
{
	return hr_hash_bytes(resource, strlen(resource)) * 31 +
		hr_hash_bytes(watcher, strlen(watcher));
}

static struct rule *find(const struct hr_rules *rs, const char *resource,
	const char *watcher)
{
	struct hr_le *le = hr_hash_first(&rs->tab, key_hash(resource,
		watcher));
	size_t n = strlen(resource);

	for (; le; le = le->next) {
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

int hr_rules_alloc(struct hr_rules **rsp, struct hr_store *store,
	const char *package, const char *const *names, unsigned nnames,
	hr_rules_applied_h *applied, void *arg)
{
	struct hr_rules *rs;

	if (!rsp || !package || !names || nnames < 2)
		return EINVAL;
	rs = hr_mem_zalloc(sizeof(*rs), rules_destroy);
	if (!rs)
		return ENOMEM;
	rs->store = store;
	rs->package = package;
	rs->names = names;
	rs->nnames = nnames;
	rs->applied = applied;
	rs->arg = arg;
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

int hr_rules_sync(struct hr_rules *rs, const char *package,
	const char *resource, const char *watcher, const char *action)
{
	const struct rule *r;
	int a = 0;
	int err;

	if (!rs || strcmp(package, rs->package))
		return ENOENT;
	if (action) {
		for (a = (int)rs->nnames - 1; a > 0; a--) {
			if (!strcmp(action, rs->names[a]))
				break;
		}
		if (!a)
			return EINVAL;
	}
	r = find(rs, resource, watcher);
	if ((r ? r->action : 0) == a)
		return 0;  /* in force already */
	err = hr_rules_set(rs, resource, watcher, a);
	if (!err && rs->applied)
		rs->applied(resource, watcher, a, rs->arg);
	return err;
}

/* ---- durable: stored first, then in force ---- */

static int load_one(const char *resource, const char *watcher,
	const char *action, void *arg)
{
	struct hr_rules *rs = arg;

	for (unsigned a = 1; a < rs->nnames; a++) {
		if (!strcmp(action, rs->names[a]))
			return hr_rules_set(rs, resource, watcher, (int)a);
	}
	return 0;   /* the schema allows no other: skip */
}

int hr_rules_load(struct hr_rules *rs)
{
	if (!rs || !rs->store)
		return EINVAL;
	return hr_store_rules_load(rs->store, rs->package, load_one, rs);
}

struct change {
	struct hr_rules *rs;          /* referenced */
	int action;
	hr_rules_done_h *done;
	void *arg;
	char *watcher;                /* points into resource */
	char resource[];
};

static void committed(int err, void *arg)
{
	struct change *c = arg;

	if (!err)
		err = hr_rules_set(c->rs, c->resource, c->watcher, c->action);
	if (!err && c->rs->applied)
		c->rs->applied(c->resource, c->watcher, c->action, c->rs->arg);
	if (c->done)
		c->done(err, c->arg);
	hr_mem_deref(c->rs);
	free(c);
}

int hr_rules_change(struct hr_rules *rs, const char *resource,
	const char *watcher, int action, hr_rules_done_h *done, void *arg)
{
	size_t n, m;
	struct hr_store_tx *tx;
	struct change *c;
	int err;

	if (!rs || !rs->store || !resource || !watcher || !*resource ||
	    !*watcher || action < 0 || (unsigned)action >= rs->nnames)
		return EINVAL;
	n = strlen(resource);
	m = strlen(watcher);
	c = calloc(1, sizeof(*c) + n + m + 2);
	if (!c)
		return ENOMEM;
	memcpy(c->resource, resource, n + 1);
	c->watcher = c->resource + n + 1;
	memcpy(c->watcher, watcher, m + 1);
	c->action = action;
	c->done = done;
	c->arg = arg;
	err = hr_store_tx_alloc(&tx, rs->store);
	if (err) {
		free(c);
		return err;
	}
	err = action ? hr_store_tx_rule_put(tx, rs->package, resource, watcher,
		rs->names[action]) : hr_store_tx_rule_del(tx, rs->package,
		resource, watcher);
	if (err) {
		hr_store_tx_abort(tx);
		free(c);
		return err;
	}
	c->rs = hr_mem_ref(rs);
	/* takes over tx; committed() runs unless this fails */
	err = hr_store_tx_commit(tx, committed, c);
	if (err) {
		hr_mem_deref(c->rs);
		free(c);
	}
	return err;
}
