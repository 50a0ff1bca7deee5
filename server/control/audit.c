/*
 * The audit log through the door: plain copies between the client's
 * records and the store's, on the client's own reader (its thread, its
 * connection), so that writing one never waits on or for the core.
 */
#include "control_int.h"

int hr_ctl_audit_add(struct hr_ctl_reader *rd, const struct hr_ctl_audit *a)
{
	struct hr_store_audit s = { .at_us = a->at_us, .token = a->token,
		.method = a->method, .path = a->path, .query = a->query,
		.body = a->body, .status = a->status, .detail = a->detail };

	return hr_store_audit_add(rd->rd, &s);
}

struct auditrows {
	hr_ctl_audit_h *h;
	void *arg;
};

static int audit_row(const struct hr_store_audit *s, void *arg)
{
	struct auditrows *ar = arg;
	struct hr_ctl_audit a = { .id = s->id, .at_us = s->at_us,
		.token = s->token, .method = s->method, .path = s->path,
		.query = s->query, .body = s->body, .status = s->status,
		.detail = s->detail };

	return ar->h(&a, ar->arg);
}

int hr_ctl_audit_page(struct hr_ctl_reader *rd,
	const struct hr_ctl_audit_filter *f, hr_ctl_audit_h *h, void *arg)
{
	struct hr_store_audit_filter sf = { .token = f->token,
		.since_us = f->since_us, .path = f->path, .before = f->before,
		.limit = f->limit };
	struct auditrows ar = { h, arg };

	return hr_store_audit_page(rd->rd, &sf, audit_row, &ar);
}
