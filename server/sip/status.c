/*
 * What the stack has open, for an operator's status page and metrics:
 * its listening sockets, and its connections by transport.
 */
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

void hr_sip_conn_counts(struct hr_sip *sip, size_t out[HR_TP__N])
{
	for (int tp = 0; tp < HR_TP__N; tp++)
		out[tp] = 0;
	for (struct hr_le *le = hr_sip_conns(sip)->head; le; le = le->next)
		out[hr_conn_tp(le->data)]++;
}
