#include "low/low_int.h"  /* high's tests may not */
