/* Private to server/core. */
#ifndef HR_CORE_INT_H
#define HR_CORE_INT_H

#include "core.h"

/* The earliest timer is now due at `due`: re-arm the loop's timer. */
void hr_loop_tmr_changed(uint64_t due);
/* Earliest due time, when any timer runs. */
bool hr_tmr_next(uint64_t *due);
/* Free the heap storage (at loop close). */
void hr_tmr_close(void);

#endif
