/* Method names (RFC 3261 7.1: methods are case-sensitive). */
#include <string.h>
#include "sip_int.h"

static const char *const names[HR_METH__N] = {
	[HR_METH_OTHER] = "OTHER", [HR_METH_ACK] = "ACK",
	[HR_METH_BYE] = "BYE", [HR_METH_CANCEL] = "CANCEL",
	[HR_METH_INFO] = "INFO", [HR_METH_INVITE] = "INVITE",
	[HR_METH_MESSAGE] = "MESSAGE", [HR_METH_NOTIFY] = "NOTIFY",
	[HR_METH_OPTIONS] = "OPTIONS", [HR_METH_PRACK] = "PRACK",
	[HR_METH_PUBLISH] = "PUBLISH", [HR_METH_REFER] = "REFER",
	[HR_METH_REGISTER] = "REGISTER", [HR_METH_SUBSCRIBE] = "SUBSCRIBE",
	[HR_METH_UPDATE] = "UPDATE",
};

enum hr_method hr_method_id(const struct hr_pl *name)
{
	/* the first letter narrows it to one or two names */
	for (int m = 1; m < HR_METH__N && name->len; m++) {
		if (names[m][0] == name->p[0] &&
		    strlen(names[m]) == name->len &&
		    !memcmp(names[m], name->p, name->len))
			return (enum hr_method)m;
	}
	return HR_METH_OTHER;
}

const char *hr_method_name(enum hr_method m)
{
	if ((unsigned)m >= HR_METH__N)
		return names[HR_METH_OTHER];
	return names[m];
}
