/*
 * The admin API's users: user@domain with the HA1s and role `herald user
 * add` stores, written through the control like the CLI's writes (a
 * running core hears of each from the database); lists are read on the
 * admin's reader. Never a password or an HA1 back.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "admin_int.h"

#define HR_LOG_MODULE "admin"

/* The store's one-shot calls leave a failed connection for us to log. */
/* The database did not answer: the problem says why in libpq's words
 * (http.c logs every 5xx with its problem document). */
static void unavailable(struct reply *rp, const char *what, int err)
{
	char detail[256];

	snprintf(detail, sizeof(detail), "%s: %s", what,
		hr_ctl_strerror(err));
	hr_admin_problem(rp, 503, "Service Unavailable", detail);
}

/* The body's optional "role": true when absent or valid, else 400. */
static bool role_of(struct reply *rp, json_t *j, const char **role)
{
	json_t *v = json_object_get(j, "role");

	*role = json_string_value(v);
	if (!v || hr_ctl_role_valid(*role))
		return true;
	hr_admin_problem(rp, 400, "Bad Request", "role must be user or "
		"monitor");
	return false;
}

static void user_reply(struct reply *rp, int status, const char *user,
	const char *domain, const char *role)
{
	hr_admin_json(rp, status, json_pack("{s:s++, s:s}", "user", user, "@",
		domain, "role", role));
}

/* POST /v1/users: create, or replace the password (and the role, when
 * given) of, a user of a served domain. */
void hr_admin_user_add(struct req *r, struct reply *rp)
{
	static const char *const allowed[] = { "user", "password", "role",
		NULL };
	char user[256], domain[256];
	char role[HR_CTL_ROLE_MAX];
	struct hr_ctl_user u = { .user = user, .domain = domain };
	const char *name;
	json_t *j = hr_admin_body_json(r, rp, allowed);
	bool created = false;
	int err;

	if (!j)
		return;
	name = json_string_value(json_object_get(j, "user"));
	u.password = json_string_value(json_object_get(j, "password"));
	err = name ? hr_ctl_user_split(name, user, sizeof(user), domain,
		sizeof(domain)) : EINVAL;
	if (err == EILSEQ) {
		json_decref(j);
		hr_admin_problem(rp, 400, "Bad Request", "a user name may not "
			"contain control characters (CR, LF, tab...)");
		return;
	}
	if (err || !u.password || !*u.password) {
		json_decref(j);
		hr_admin_problem(rp, 400, "Bad Request", "user (user@domain) "
			"and password are required");
		return;
	}
	if (!hr_ctl_served(r->a->cfg.ctl, domain)) {
		json_decref(j);
		hr_admin_problem(rp, 400, "Bad Request",
			"not a domain this server serves");
		return;
	}
	if (!role_of(rp, j, &u.role)) {
		json_decref(j);
		return;
	}
	err = hr_ctl_user_put(r->a->cfg.ctl, &u, &created, role);
	json_decref(j);
	if (err) {
		unavailable(rp, "user add", err);
		return;
	}
	/* 201 for a new user, 200 when its password was replaced */
	user_reply(rp, created ? 201 : 200, user, domain, role);
}

/* PATCH /v1/users/{user}: its password, its role, or both. */
void hr_admin_user_patch(struct req *r, struct reply *rp, const char *name)
{
	static const char *const allowed[] = { "password", "role", NULL };
	char user[256], domain[256];
	char role[HR_CTL_ROLE_MAX];
	struct hr_ctl_user u = { .user = user, .domain = domain };
	json_t *j, *pwv;
	const char *pw;
	int err;

	if (hr_ctl_user_split(name, user, sizeof(user), domain, sizeof(domain))) {
		hr_admin_problem(rp, 400, "Bad Request", "not user@domain");
		return;
	}
	j = hr_admin_body_json(r, rp, allowed);
	if (!j)
		return;
	pwv = json_object_get(j, "password");
	pw = json_string_value(pwv);
	if (!role_of(rp, j, &u.role)) {
		json_decref(j);
		return;
	}
	if ((pwv && (!pw || !*pw)) || (!pw && !u.role)) {
		json_decref(j);
		hr_admin_problem(rp, 400, "Bad Request", "give a password, a "
			"role, or both");
		return;
	}
	u.password = pw;
	err = hr_ctl_user_update(r->a->cfg.ctl, &u, role);
	json_decref(j);
	if (err == ENOENT)
		hr_admin_problem(rp, 404, "Not Found", "no such user");
	else if (err)
		unavailable(rp, "user change", err);
	else
		user_reply(rp, 200, user, domain, role);
}

struct users {
	json_t *items;
	unsigned limit;
	char last[520];
	bool more;
};

static int user_one(const char *user, const char *domain, const char *role,
	void *arg)
{
	struct users *us = arg;

	/* the row past the page only says that more follow */
	if (json_array_size(us->items) == us->limit) {
		us->more = true;
		return 0;
	}
	snprintf(us->last, sizeof(us->last), "%s@%s", user, domain);
	return json_array_append_new(us->items, json_pack("{s:s, s:s}",
		"user", us->last, "role", role)) ? ENOMEM : 0;
}

/* GET /v1/users: by domain then user; the cursor is the last one shown. */
void hr_admin_users_list(struct req *r, struct reply *rp)
{
	const char *after = hr_admin_query(r, "cursor");
	char user[256] = "", domain[256] = "";
	struct users us = { 0 };
	json_t *j;

	if (!hr_admin_limit(r, rp, &us.limit))
		return;
	if (after && hr_ctl_user_split(after, user, sizeof(user), domain,
		sizeof(domain))) {
		hr_admin_problem(rp, 400, "Bad Request", "not a cursor");
		return;
	}
	us.items = json_array();
	if (!us.items || hr_ctl_users_page(r->a->rd, user, domain,
		us.limit + 1, user_one, &us)) {
		json_decref(us.items);
		hr_admin_problem(rp, 503, "Service Unavailable",
			"the database did not answer");
		return;
	}
	j = json_pack("{s:o}", "items", us.items);
	if (j && us.more)
		json_object_set_new(j, "next_cursor", json_string(us.last));
	hr_admin_json(rp, 200, j);
}

void hr_admin_user_del(struct req *r, struct reply *rp, const char *name)
{
	char user[256], domain[256];
	int err;

	if (hr_ctl_user_split(name, user, sizeof(user), domain,
		sizeof(domain))) {
		hr_admin_problem(rp, 400, "Bad Request", "not user@domain");
		return;
	}
	err = hr_ctl_user_del(r->a->cfg.ctl, user, domain);
	if (err == ENOENT)
		hr_admin_problem(rp, 404, "Not Found", "no such user");
	else if (err)
		unavailable(rp, "user delete", err);
	else
		rp->status = 204;
}
