/*
 * Flows (RFC 5626): the connections registered contacts came over. A
 * peer behind NAT, or a browser, cannot be reached at its Contact; once
 * a subscription's own connection is gone, its requests go over a flow
 * the same instance (or the same Contact URI) registered since.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sip_int.h"

struct flow {
	struct hr_le le_tab;          /* in the stack's table */
	struct hr_le le_conn;         /* in its connection's list */
	struct hr_hash *tab;
	struct hr_conn *conn;         /* not referenced: the flow is
				       * dropped when the connection closes */
	char key[];                   /* "i:<instance>" or "u:<uri>" */
};

static void flow_free(struct flow *f)
{
	hr_hash_unlink(f->tab, &f->le_tab);
	hr_list_unlink(&f->le_conn);
	free(f);
}

static int bind_key(struct hr_sip *sip, struct hr_conn *conn, char kind,
	const char *v)
{
	struct hr_hash *tab = hr_sip_flows(sip);
	size_t n = strlen(v) + 3;
	struct flow *f, *old;

	f = calloc(1, sizeof(*f) + n);
	if (!f)
		return ENOMEM;
	snprintf(f->key, n, "%c:%s", kind, v);
	/* the newest flow wins (RFC 5626 5.3: the most recent) */
	old = hr_hash_find_str(tab, f->key, offsetof(struct flow, key));
	if (old)
		flow_free(old);
	f->tab = tab;
	f->conn = conn;
	hr_hash_append(tab, hr_hash_bytes(f->key, strlen(f->key)),
		&f->le_tab, f);
	hr_list_append(hr_conn_flows(conn), &f->le_conn, f);
	return 0;
}

int hr_sip_flow_bind(struct hr_sip *sip, struct hr_conn *conn,
	const char *instance, const char *contact_uri, uint32_t expires)
{
	int err = 0;

	if (!hr_conn_isopen(conn))
		return 0;
	hr_conn_keep(conn, expires);
	if (instance && *instance)
		err = bind_key(sip, conn, 'i', instance);
	if (!err && contact_uri && *contact_uri)
		err = bind_key(sip, conn, 'u', contact_uri);
	return err;
}

static struct hr_conn *find(struct hr_sip *sip, char kind, const char *v)
{
	char key[1024];
	struct flow *f;

	if (!v || !*v || snprintf(key, sizeof(key), "%c:%s", kind, v) >=
	    (int)sizeof(key))
		return NULL;
	f = hr_hash_find_str(hr_sip_flows(sip), key,
		offsetof(struct flow, key));
	return f && hr_conn_isopen(f->conn) ? f->conn : NULL;
}

struct hr_conn *hr_sip_flow_find(struct hr_sip *sip, const char *instance,
	const char *uri)
{
	struct hr_conn *conn = find(sip, 'i', instance);

	return conn ? conn : find(sip, 'u', uri);
}

void hr_flows_drop(struct hr_list *flows)
{
	while (flows->head)
		flow_free(flows->head->data);
}
