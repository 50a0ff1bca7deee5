/*
 * What the stack has open, for an operator's status page and metrics:
 * its listening sockets, and its connections by transport.
 */
#include <errno.h>
#include <stdio.h>
#include "sip_int.h"

unsigned hr_sip_listeners(struct hr_sip *sip, struct hr_sip_listener *out,
	unsigned max)
{
	unsigned n = 0;

	for (struct hr_le *le = hr_sip_udps(sip)->head; le; le = le->next) {
		if (n < max)
			out[n] = (struct hr_sip_listener){ .tp = HR_TP_UDP,
				.laddr = *hr_udp_laddr(le->data),
				.adv = hr_udp_adv(le->data) };
		n++;
	}
	for (struct hr_le *le = hr_sip_lsnrs(sip)->head; le; le = le->next) {
		if (n < max)
			out[n] = (struct hr_sip_listener){
				.tp = hr_tcp_lsnr_tp(le->data),
				.laddr = *hr_tcp_lsnr_laddr(le->data),
				.adv = hr_tcp_lsnr_adv(le->data) };
		n++;
	}
	return n;
}

int hr_sip_contact_for(struct hr_sip *sip, const char *transport,
	char *out, size_t n)
{
	struct hr_sip_listener ls[16];
	unsigned nl = hr_sip_listeners(sip, ls, 16);
	struct hr_pl pl = hr_pl_str(transport);
	enum hr_tp tp;

	if (hr_tp_decode(&pl, &tp))
		return EINVAL;
	for (unsigned i = 0; i < nl && i < 16; i++) {
		char host[HR_ADV_MAX];

		if (ls[i].tp != tp)
			continue;
		if (ls[i].adv)
			snprintf(host, sizeof(host), "%s", ls[i].adv);
		else
			hr_sa_print(&ls[i].laddr, host, sizeof(host));
		snprintf(out, n, "<sip:%s%s%s>", host, tp == HR_TP_UDP ? "" :
			";transport=", tp == HR_TP_UDP ? "" : hr_tp_param(tp));
		return 0;
	}
	return ENOENT;
}

void hr_sip_conn_counts(struct hr_sip *sip, size_t out[HR_TP__N])
{
	for (int tp = 0; tp < HR_TP__N; tp++)
		out[tp] = 0;
	for (struct hr_le *le = hr_sip_conns(sip)->head; le; le = le->next)
		out[hr_conn_tp(le->data)]++;
}
