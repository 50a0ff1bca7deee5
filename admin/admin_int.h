/* Private to admin/. */
#ifndef HR_ADMIN_INT_H
#define HR_ADMIN_INT_H

#include <jansson.h>
#include <microhttpd.h>
#include "admin.h"
#include "auth/auth.h"
#include "registrar/registrar.h"

struct hr_admin {
	struct hr_admin_cfg cfg;
	char *token;
	struct MHD_Daemon *d;
	struct hr_store_reader *rd;   /* used on the admin thread only */
};

/* One request: method, path split in segments, query, body. */
struct req {
	struct hr_admin *a;
	struct MHD_Connection *c;
	const char *method;
	char *path;                   /* a copy, split at '/' */
	const char *seg[8];
	unsigned nseg;
	struct hr_buf body;
	bool too_big;
};

/* A reply to send. */
struct reply {
	unsigned status;
	const char *ctype;
	char *body;                   /* malloc */
	size_t len;
	char allow[64];               /* a 405's Allow */
};

const char *hr_admin_query(const struct req *r, const char *name);
void hr_admin_json(struct reply *rp, unsigned status, json_t *j);
void hr_admin_problem(struct reply *rp, unsigned status, const char *title,
	const char *detail);
json_t *hr_admin_body_json(const struct req *r, struct reply *rp,
	const char *const *allowed);

/* routes.c */
void hr_admin_route(struct req *r, struct reply *rp);

#endif
