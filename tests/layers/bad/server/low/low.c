#include <stdio.h>
#include "low_int.h"
#include "low/low.h"
#include "high/high.h"  /* upward: low may include nothing */

int low_one(void) { return 1; }
