/*
 * /v1/log-levels: the log's default level and each module's own, read
 * and changed at run time, without a restart. The log is core's (which
 * the admin may include): its levels are atomics any thread may set, so
 * no call into the core thread is needed.
 */
#include <stdio.h>
#include <string.h>
#include "admin_int.h"

#define HR_LOG_MODULE "admin"

/* {"default":"info","overrides":{"store":"debug"},"modules":{"admin":
 * "info",…,"store":"debug",…}}: modules gives the level each logs at. */
static json_t *levels_json(void)
{
	json_t *j = json_pack("{s:s, s:{}, s:{}}", "default",
		hr_log_level_name(hr_log_default()), "overrides", "modules");
	json_t *ov = json_object_get(j, "overrides");
	json_t *mods = json_object_get(j, "modules");

	for (unsigned i = 0; j && i < hr_log_modules(); i++) {
		enum hr_log_level lvl;
		bool has;
		const char *m = hr_log_module(i, &has, &lvl);
		json_t *name = json_string(hr_log_level_name(lvl));

		if (json_object_set_new(mods, m, name) || (has &&
		    json_object_set_new(ov, m, json_string(
		    hr_log_level_name(lvl))))) {
			json_decref(j);
			j = NULL;
		}
	}
	return j;
}

void hr_admin_loglevels_get(struct req *r, struct reply *rp)
{
	(void)r;
	hr_admin_json(rp, 200, levels_json());
}

/* The member name of a body like {"level":"debug"}: a level's name;
 * false after a 400. */
static bool level_of(struct req *r, struct reply *rp, const char *name,
	enum hr_log_level *lvl)
{
	const char *const allowed[] = { name, NULL };
	json_t *j = hr_admin_body_json(r, rp, allowed);
	const char *v;
	bool ok;

	if (!j)
		return false;
	v = json_string_value(json_object_get(j, name));
	ok = v && !hr_log_level_decode(v, lvl);
	if (!ok) {
		char detail[96];

		snprintf(detail, sizeof(detail), "%s is debug, info, warn or "
			"error", name);
		hr_admin_problem(rp, 400, "Bad Request", detail);
	}
	json_decref(j);
	return ok;
}

/* PUT /v1/log-levels {"default":"debug"}: the default level. */
void hr_admin_loglevels_put(struct req *r, struct reply *rp)
{
	enum hr_log_level lvl, was = hr_log_default();

	if (!level_of(r, rp, "default", &lvl))
		return;
	hr_log_set_default(lvl);
	/* at any level, like SIGHUP's: the operator asked for it */
	hr_log(HR_LOG_INFO, HR_LOG_MODULE, "admin API: log-level %s, was %s",
		hr_log_level_name(lvl), hr_log_level_name(was));
	hr_admin_json(rp, 200, levels_json());
}

static bool known(struct reply *rp, const char *module)
{
	enum hr_log_level lvl;
	bool has;

	for (unsigned i = 0; i < hr_log_modules(); i++) {
		if (!strcmp(hr_log_module(i, &has, &lvl), module))
			return true;
	}
	hr_admin_problem(rp, 400, "Bad Request", "no such log module (GET "
		"/v1/log-levels lists them)");
	return false;
}

/* PUT /v1/log-levels/{module} {"level":"debug"}: the module's own. */
void hr_admin_loglevel_put(struct req *r, struct reply *rp)
{
	const char *module = r->seg[2];
	enum hr_log_level lvl;

	if (!known(rp, module) || !level_of(r, rp, "level", &lvl))
		return;
	hr_log_module_set(module, &lvl);
	hr_log(HR_LOG_INFO, HR_LOG_MODULE, "admin API: log-level of %s %s",
		module, hr_log_level_name(lvl));
	hr_admin_json(rp, 200, json_pack("{s:s, s:s}", "module", module,
		"level", hr_log_level_name(lvl)));
}

/* DELETE /v1/log-levels/{module}: back to the default. */
void hr_admin_loglevel_del(struct req *r, struct reply *rp)
{
	const char *module = r->seg[2];

	if (!known(rp, module))
		return;
	hr_log_module_set(module, NULL);
	hr_log(HR_LOG_INFO, HR_LOG_MODULE, "admin API: log-level of %s back "
		"to the default (%s)", module,
		hr_log_level_name(hr_log_default()));
	rp->status = 204;
}
