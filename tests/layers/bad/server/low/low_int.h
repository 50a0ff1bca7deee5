/* Private to low/. */
#include "low.h"
