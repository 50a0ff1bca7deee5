/*
 * Bindings in memory: one allocation each (the struct and its strings),
 * grouped per address-of-record, with an expiry timer. An AOR is "busy"
 * while a change of it is being committed; requests for it wait in line,
 * so changes to one AOR are applied in the order they were committed.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include "reg_int.h"

const char *hr_reg_event_name(enum hr_reg_event ev)
{
	static const char *const names[] = {
		[HR_REG_REGISTERED] = "registered",
		[HR_REG_CREATED] = "created",
		[HR_REG_REFRESHED] = "refreshed",
		[HR_REG_SHORTENED] = "shortened",
		[HR_REG_EXPIRED] = "expired",
		[HR_REG_DEACTIVATED] = "deactivated",
		[HR_REG_UNREGISTERED] = "unregistered",
	};

	return (unsigned)ev < sizeof(names) / sizeof(names[0]) ? names[ev] :
		"?";
}

static void aor_destroy(void *data)
{
	struct aor *a = data;

	hr_hash_unlink(&a->r->aors, &a->le);
}

uint32_t hr_aor_key(const void *a)
{
	const char *name = ((const struct aor *)a)->name;

	return hr_hash_bytes(name, strlen(name));
}

struct aor *hr_aor_find(struct hr_registrar *r, const char *name)
{
	return hr_hash_find_str(&r->aors, name, offsetof(struct aor, name));
}

struct aor *hr_aor_get(struct hr_registrar *r, const char *name)
{
	struct aor *a = hr_aor_find(r, name);
	size_t n = strlen(name);

	if (a)
		return a;
	a = hr_mem_zalloc_long(sizeof(*a) + n + 1, aor_destroy);
	if (!a)
		return NULL;
	a->r = r;
	memcpy(a->name, name, n + 1);
	hr_hash_append(&r->aors, hr_hash_bytes(name, n), &a->le, a);
	return a;
}

void hr_aor_release(struct aor *a)
{
	/* an AOR stays in the table while it has bindings, a change or a
	 * waiting request; the table's reference goes once, with the entry
	 * (others may still hold references of their own) */
	if (a->bindings.n || a->busy || a->waiting.n || !a->le.list)
		return;
	hr_hash_unlink(&a->r->aors, &a->le);
	hr_mem_deref(a);
}

void hr_binding_unlist(struct binding *b)
{
	hr_tmr_cancel(&b->tmr);
	if (b->le.list) {
		hr_list_unlink(&b->le);
		b->aor->r->nbindings--;
	}
}

static void binding_destroy(void *data)
{
	hr_binding_unlist(data);
}

/* The strings of a binding's row, and where each goes in its public
 * form (the key apart: often the URI, then not stored twice). */
#define STR(f) { offsetof(struct hr_store_binding, f), \
	offsetof(struct hr_binding, f) }
static const struct {
	size_t row;
	size_t pub;
} strs[] = {
	STR(id), STR(uri), STR(params), STR(dname), STR(callid),
	STR(instance), STR(path), STR(user_agent), STR(received),
};
#undef STR
#define NSTRS (sizeof(strs) / sizeof(strs[0]))
#define STR_AT(p, off) (*(const char **)((char *)(p) + (off)))

struct binding *hr_binding_new(struct aor *a, const struct hr_store_binding *sb)
{
	/* without an instance the key is the URI: stored once */
	bool key_is_uri = sb->key && sb->uri && !strcmp(sb->key, sb->uri);
	const char *v[NSTRS + 1];
	struct binding *b;
	size_t n;
	char *p;

	for (size_t i = 0; i < NSTRS; i++)
		v[i] = STR_AT(sb, strs[i].row);
	v[NSTRS] = key_is_uri ? NULL : sb->key;
	n = hr_strpack_size(v, NSTRS + 1) - (key_is_uri ? 1 : 0);
	b = hr_mem_zalloc_long(sizeof(*b) + n, binding_destroy);
	if (!b)
		return NULL;
	p = b->strs;
	b->aor = a;
	b->pub.aor = a->name;
	for (size_t i = 0; i < NSTRS; i++)
		STR_AT(&b->pub, strs[i].pub) = hr_strpack(&p, v[i]);
	b->pub.key = key_is_uri ? b->pub.uri : hr_strpack(&p, sb->key);
	b->pub.expires_at = sb->expires_at;
	b->pub.registered_at = sb->registered_at;
	b->pub.cseq = sb->cseq;
	b->pub.q = sb->q;
	b->pub.reg_id = sb->reg_id;
	hr_list_append(&a->bindings, &b->le, b);
	a->r->nbindings++;
	return b;
}

struct binding *hr_binding_find(struct aor *a, const char *key)
{
	for (struct hr_le *le = a->bindings.head; le; le = le->next) {
		struct binding *b = le->data;

		if (!strcmp(b->pub.key, key))
			return b;
	}
	return NULL;
}

bool hr_binding_live(const struct binding *b)
{
	return b->pub.expires_at > hr_wall_s();
}

int hr_registrar_bindings(struct hr_registrar *r, const char *aor,
	int (*h)(const struct hr_binding *b, void *arg), void *arg)
{
	struct aor *a = hr_aor_find(r, aor);

	if (!a)
		return 0;
	for (struct hr_le *le = a->bindings.head; le; le = le->next) {
		struct binding *b = le->data;
		int err;

		if (!hr_binding_live(b))
			continue;
		err = h(&b->pub, arg);
		if (err)
			return err;
	}
	return 0;
}

size_t hr_registrar_count(const struct hr_registrar *r)
{
	return r->nbindings;
}
