/* Private to control/. */
#ifndef HR_CONTROL_INT_H
#define HR_CONTROL_INT_H

#include "control.h"
#include "events/events.h"
#include "packages/dialog.h"
#include "packages/mwi.h"
#include "packages/presence.h"
#include "packages/reg.h"
#include "redirect/redirect.h"
#include "registrar/registrar.h"
#include "sip/sip.h"
#include "store/store.h"

struct hr_control {
	struct hr_control_cfg cfg;
};

struct hr_ctl_reader {
	struct hr_store_reader *rd;
};

/* A change the core stores before it applies it: the client's thread
 * waits for its completion (on the core thread) after the call. */
struct hr_ctl_waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int err;
};

/** Complete w with err (core thread). */
void hr_ctl_waiter_done(int err, void *arg);
/** hr_call(fn, arg), then wait for w: fn started the change (which ends
 * with hr_ctl_waiter_done), or failed it with hr_ctl_waiter_done. */
int hr_ctl_call_wait(hr_call_h *fn, void *arg, struct hr_ctl_waiter *w);

#endif
