#include "high.h"
#include "low/low_int.h"  /* another folder's private header */

int high_one(void) { return low_one(); }
