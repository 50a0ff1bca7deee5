#include "low/low_int.h"  /* low's own tests may */
