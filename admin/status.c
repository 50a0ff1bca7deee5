/*
 * GET /v1/status: what runs here. The build and the process's start are
 * the binary's and the kernel's; the SIP sockets and the store's state
 * are the core's, asked through the control in one call.
 */
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include "admin_int.h"

static json_t *build_json(void)
{
	const struct hr_build_info *b = hr_build_info();

	return json_pack("{s:s, s:s, s:s}", "commit", b->commit,
		"compiler", b->compiler, "type", b->build_type);
}

/* "2024-05-01T12:00:00Z" (RFC 3339, UTC) of t seconds since the epoch. */
static json_t *rfc3339(double t)
{
	time_t s = (time_t)t;
	struct tm tm;
	char buf[32];

	gmtime_r(&s, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

static json_t *listeners_json(const struct hr_admin *a,
	const struct hr_ctl_status *st)
{
	json_t *sip = json_array();

	for (unsigned i = 0; sip && i < st->nlisteners; i++) {
		const struct hr_ctl_listener *l = &st->listeners[i];
		json_t *j = json_pack("{s:s, s:s}", "transport", l->transport,
			"address", l->addr);

		if (j && *l->advertise)
			json_object_set_new(j, "advertise",
				json_string(l->advertise));
		if (!j || json_array_append_new(sip, j)) {
			json_decref(sip);
			return NULL;
		}
	}
	return json_pack("{s:o, s:s}", "sip", sip, "admin", a->addr);
}

static int node_json(const struct hr_ctl_node *n, void *arg)
{
	json_t *nodes = arg;
	json_t *j = json_pack("{s:s, s:I, s:o, s:b, s:I}", "id", n->id,
		"epoch", (json_int_t)n->epoch, "lease_until",
		rfc3339((double)n->lease_until), "live", n->live,
		"mark", (json_int_t)n->mark);

	if (j && n->advertise)
		json_object_set_new(j, "advertise", json_string(n->advertise));
	return !j || json_array_append_new(nodes, j) ? ENOMEM : 0;
}

/* GET /v1/cluster: this node and every node the database knows. */
void hr_admin_cluster(struct req *r, struct reply *rp)
{
	const char *me = hr_ctl_node_id(r->a->cfg.ctl);
	json_t *nodes = json_array();
	int err = nodes ? hr_ctl_nodes(r->a->rd, node_json, nodes) : ENOMEM;

	if (err) {
		json_decref(nodes);
		hr_admin_problem(rp, 503, "Service Unavailable",
			"PostgreSQL does not answer");
		return;
	}
	hr_admin_json(rp, 200, json_pack("{s:o, s:o}", "node",
		me ? json_string(me) : json_null(), "nodes", nodes));
}

void hr_admin_status(struct req *r, struct reply *rp)
{
	struct hr_ctl_status st;
	double start = hr_admin_start_time();
	int64_t up = start ? hr_wall_s() - (int64_t)start : 0;

	if (hr_ctl_status(r->a->cfg.ctl, &st)) {
		hr_admin_problem(rp, 503, "Service Unavailable",
			"the SIP core did not answer");
		return;
	}
	hr_admin_json(rp, 200, json_pack("{s:s, s:o, s:o, s:I, s:o, "
		"s:{s:b, s:I, s:I}}",
		"version", hr_build_info()->version,
		"build", build_json(),
		"started_at", rfc3339(start),
		"uptime_s", (json_int_t)(up > 0 ? up : 0),
		"listeners", listeners_json(r->a, &st),
		"store", "connected", st.store_connected,
		"queue_depth", (json_int_t)st.queue_depth,
		"outages", (json_int_t)st.store_outages));
}
