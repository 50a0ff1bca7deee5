/* high's public header */
#include "low/low.h"
int high_one(void);
