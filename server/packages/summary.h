/*
 * The body of the message-summary event package (RFC 3842 5.2,
 * application/simple-message-summary): read and written. Self-contained:
 * it needs nothing of SIP but the buffer from core.
 */
#ifndef HR_PKG_SUMMARY_H
#define HR_PKG_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/core.h"

/* RFC 3842 5.2 / RFC 3458 message-context-class values. */
enum hr_mwi_class {
	HR_MWI_VOICE,       /* voice-message */
	HR_MWI_FAX,         /* fax-message */
	HR_MWI_PAGER,       /* pager-message */
	HR_MWI_MULTIMEDIA,  /* multimedia-message */
	HR_MWI_TEXT,        /* text-message */
	HR_MWI_NONE,        /* none */
	HR_MWI_NCLASSES
};

struct hr_mwi_count {
	bool present;              /* a line for this class was given */
	uint32_t new_msgs, old_msgs;
	bool urgent;               /* the (new/old) urgent part was given */
	uint32_t new_urgent, old_urgent;
};

#define HR_MWI_ACCOUNT_MAX 512

struct hr_mwi {
	bool waiting;                       /* Messages-Waiting: yes */
	char account[HR_MWI_ACCOUNT_MAX];   /* Message-Account URI, "" when none */
	struct hr_mwi_count cls[HR_MWI_NCLASSES];
};

/** Parse an application/simple-message-summary body (RFC 3842 5.2): the
 * Messages-Waiting line first (yes/no, any case), an optional
 * Message-Account, summary lines "Voice-Message: 2/8 (0/2)" (class names
 * case-insensitive, as RFC 3842's ABNF is built on RFC 3261's header rules:
 * whitespace around ':' and '/' allowed; a class given twice is refused),
 * then, after an empty line, optional extension headers, which are ignored.
 * CRLF or bare LF line ends; counts up to 2^32-1. 0; EBADMSG with *why a
 * static "Bad message-summary: ..." reason for a 400; EINVAL for bad
 * arguments. */
int hr_mwi_parse(struct hr_mwi *m, const char *p, size_t len,
	const char **why);
/** Print m as a body: "Messages-Waiting: yes|no\r\n",
 * "Message-Account: ...\r\n" when set, then one line per present class in
 * enum order ("Voice-Message: 2/8 (0/2)\r\n"; the urgent part when set).
 * 0, EINVAL (an account with CR/LF/control characters; also one that
 * hr_mwi_parse() would refuse: no scheme, spaces, non-ASCII, too long) or
 * ENOMEM/EMSGSIZE from the buffer, which is then left as it was. */
int hr_mwi_print(struct hr_buf *buf, const struct hr_mwi *m);
/** Sum of publications for one account: counts of each class added
 * (saturating at 2^32-1), present and urgent if any has them, waiting if any
 * is waiting; dst->account kept if set, else src's. */
void hr_mwi_add(struct hr_mwi *dst, const struct hr_mwi *src);
/** The class's header name, "Voice-Message"...; and the reverse
 * (case-insensitive), -1 when unknown. */
const char *hr_mwi_class_name(enum hr_mwi_class c);
int hr_mwi_class_id(const char *name, size_t len);
/** True when a and b say the same: every field, the account's text up to its
 * NUL (added: to tell a changed summary from a repeated one). */
bool hr_mwi_equal(const struct hr_mwi *a, const struct hr_mwi *b);

#endif
