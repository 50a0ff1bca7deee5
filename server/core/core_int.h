/* Private to server/core. */
#ifndef HR_CORE_INT_H
#define HR_CORE_INT_H

#include "core.h"

/* Built with AddressSanitizer (gcc says so one way, clang another): the
 * allocators that keep freed memory for reuse (the spare blocks, the
 * slab) hand everything to malloc instead, so that a use after free or
 * an overflow is still caught. */
#if defined(__SANITIZE_ADDRESS__)
#define HR_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HR_ASAN 1
#endif
#endif

/* The earliest timer is now due at `due`: re-arm the loop's timer. */
void hr_loop_tmr_changed(uint64_t due);
/* Earliest due time, when any timer runs. */
bool hr_tmr_next(uint64_t *due);
/* Free the heap storage (at loop close). */
void hr_tmr_close(void);

#endif
