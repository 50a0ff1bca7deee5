/* low's public header */
int low_one(void);
