/* Private to server/registrar. */
#ifndef HR_REG_INT_H
#define HR_REG_INT_H

#include "registrar.h"

struct hr_registrar {
	struct hr_registrar_cfg cfg;
	struct hr_sip *sip;
	struct hr_store *store;
	struct hr_hash aors;
	size_t nbindings;
	struct hr_watch watch[HR_REGISTRAR_WATCHERS];
	bool closing;             /* shutting down: no new commits */
};

struct aor {
	struct hr_le le;          /* in r->aors */
	struct hr_registrar *r;
	struct hr_list bindings;
	struct hr_list waiting;   /* requests waiting for the busy AOR */
	bool busy;                /* a change is being committed */
	char name[];
};

struct binding {
	struct hr_le le;          /* in aor->bindings */
	struct aor *aor;
	struct hr_binding pub;
	struct hr_tmr tmr;        /* expiry */
	char strs[];
};

/* An AOR's key in r->aors (which grows, hr_hash_init_grow). */
uint32_t hr_aor_key(const void *a);
struct aor *hr_aor_find(struct hr_registrar *r, const char *name);
struct aor *hr_aor_get(struct hr_registrar *r, const char *name);
void hr_aor_release(struct aor *a);
struct binding *hr_binding_new(struct aor *a,
	const struct hr_store_binding *sb);
struct binding *hr_binding_find(struct aor *a, const char *key);
bool hr_binding_live(const struct binding *b);
/* Take b out of its AOR (no timer) while it stays readable. */
void hr_binding_unlist(struct binding *b);
/* (Re)start the expiry timer from expires_at. */
void hr_registrar_arm(struct hr_registrar *r, struct binding *b);

#endif
