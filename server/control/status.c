/*
 * The server's status as the core has it: its SIP sockets and the
 * store's connection, copied in one call on the core thread.
 */
#include <stdio.h>
#include <string.h>
#include "control_int.h"

struct statuscall {
	struct hr_control *ctl;
	struct hr_ctl_status *st;
};

static void listeners(struct hr_ctl_status *st, struct hr_sip *sip)
{
	struct hr_sip_listener ls[HR_CTL_LISTENERS_MAX];
	unsigned n = hr_sip_listeners(sip, ls, HR_CTL_LISTENERS_MAX);

	if (n > HR_CTL_LISTENERS_MAX)
		n = HR_CTL_LISTENERS_MAX;
	for (unsigned i = 0; i < n; i++) {
		struct hr_ctl_listener *l = &st->listeners[i];

		l->transport = hr_tp_param(ls[i].tp);
		hr_sa_print(&ls[i].laddr, l->addr, sizeof(l->addr));
		snprintf(l->advertise, sizeof(l->advertise), "%s",
			ls[i].adv ? ls[i].adv : "");
	}
	st->nlisteners = n;
}

static void status_core(void *arg)
{
	struct statuscall *c = arg;
	struct hr_store_stats s;

	listeners(c->st, c->ctl->cfg.sip);
	hr_store_stats(c->ctl->cfg.store, &s);
	c->st->store_connected = !s.down;
	c->st->store_outages = s.outages;
	c->st->queue_depth = hr_store_queue_depth(c->ctl->cfg.store);
}

int hr_ctl_status(struct hr_control *ctl, struct hr_ctl_status *st)
{
	struct statuscall c = { ctl, st };

	memset(st, 0, sizeof(*st));
	return hr_call(status_core, &c);
}

/* ---- the cluster ---- */

const char *hr_ctl_node_id(const struct hr_control *ctl)
{
	/* set at start, never changed: read from any thread */
	return hr_store_node(ctl->cfg.store);
}

struct noderows {
	hr_ctl_node_h *h;
	void *arg;
};

static int node_row(const struct hr_store_node *sn, void *arg)
{
	const struct noderows *nr = arg;
	struct hr_ctl_node n = { sn->id, sn->advertise, sn->epoch,
		sn->lease_until, sn->mark, sn->live };

	return nr->h(&n, nr->arg);
}

int hr_ctl_nodes(struct hr_ctl_reader *rd, hr_ctl_node_h *h, void *arg)
{
	struct noderows nr = { h, arg };

	return hr_store_nodes(rd->rd, node_row, &nr);
}
