/*
 * application/simple-message-summary (RFC 3842 5.2), read and written.
 *
 *   message-summary  = msg-status-line CRLF [msg-account CRLF]
 *                      [*(msg-summary-line CRLF)] [ *opt-msg-headers ]
 *   msg-status-line  = "Messages-Waiting" HCOLON msg-status
 *   msg-account      = "Message-Account" HCOLON Account-URI
 *   msg-summary-line = message-context-class HCOLON newmsgs SLASH oldmsgs
 *                      [ LPAREN new-urgentmsgs SLASH old-urgentmsgs RPAREN ]
 *   opt-msg-headers  = CRLF 1*(extension-header CRLF)
 *
 * HCOLON, SLASH, LPAREN and RPAREN are RFC 3261's (25.1), so whitespace,
 * folding included, may surround them; ABNF strings match in any case.
 * What real senders put there parses: Asterisk's "Messages-Waiting: yes
 * \r\nMessage-Account: sip:*97@pbx\r\nVoice-Message: 1/0 (0/0)\r\n",
 * FreeSWITCH's same three lines, bodies ending in an empty line, a last
 * line without its CRLF, bare LF line ends. The body is read in place:
 * nothing is copied but the account.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include "summary.h"

#define BAD "Bad message-summary: "

static const char *const class_names[HR_MWI_NCLASSES] = {
	[HR_MWI_VOICE] = "Voice-Message",
	[HR_MWI_FAX] = "Fax-Message",
	[HR_MWI_PAGER] = "Pager-Message",
	[HR_MWI_MULTIMEDIA] = "Multimedia-Message",
	[HR_MWI_TEXT] = "Text-Message",
	[HR_MWI_NONE] = "None",
};

const char *hr_mwi_class_name(enum hr_mwi_class c)
{
	return (unsigned)c < HR_MWI_NCLASSES ? class_names[c] : NULL;
}

int hr_mwi_class_id(const char *name, size_t len)
{
	struct hr_pl pl = { name, len };

	for (int c = 0; name && c < HR_MWI_NCLASSES; c++) {
		if (!hr_pl_strcasecmp(&pl, class_names[c]))
			return c;
	}
	return -1;
}

/* ---- reading ---- */

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The physical line at the front of body (its LF and a CR before it
 * dropped), or false at the end of the body. */
static bool phys_line(struct hr_pl *body, struct hr_pl *line)
{
	const char *lf;

	if (!body->len)
		return false;
	lf = hr_pl_chr(body, '\n');
	line->p = body->p;
	line->len = lf ? (size_t)(lf - body->p) : body->len;
	body->p += line->len + (lf != NULL);
	body->len -= line->len + (lf != NULL);
	if (line->len && line->p[line->len - 1] == '\r')
		line->len--;
	return true;
}

/* The next logical line: RFC 3261 7.3.1, a line that starts with SP or
 * HTAB continues the one before (the fold stays inside, as whitespace).
 * An empty line, which ends the summary part, takes no continuation. */
static bool next_line(struct hr_pl *body, struct hr_pl *line)
{
	struct hr_pl more;

	if (!phys_line(body, line))
		return false;
	while (line->len && body->len && is_wsp(body->p[0])) {
		phys_line(body, &more);
		line->len = (size_t)(more.p + more.len - line->p);
	}
	return true;
}

/* Split "name HCOLON value": the name without the whitespace before the
 * colon, the value without whitespace at its ends. */
static int header_split(const struct hr_pl *line, struct hr_pl *name,
	struct hr_pl *val, const char **why)
{
	const char *colon = hr_pl_chr(line, ':');

	if (!colon) {
		*why = BAD "line without a colon";
		return EBADMSG;
	}
	name->p = line->p;
	name->len = (size_t)(colon - line->p);
	while (name->len && is_wsp(name->p[name->len - 1]))
		name->len--;
	val->p = colon + 1;
	val->len = (size_t)(line->p + line->len - val->p);
	hr_pl_trim(val);
	return 0;
}

static void skip_lws(struct hr_pl *v)
{
	while (v->len && (is_wsp(v->p[0]) || v->p[0] == '\r' ||
		v->p[0] == '\n')) {
		v->p++;
		v->len--;
	}
}

/* msgcount = 1*DIGIT, at the front of v (after whitespace). */
static int count_scan(struct hr_pl *v, uint32_t *n, const char **why)
{
	struct hr_pl digits;
	uint64_t x;

	skip_lws(v);
	digits.p = v->p;
	digits.len = 0;
	while (digits.len < v->len && is_digit(v->p[digits.len]))
		digits.len++;
	if (!digits.len) {
		*why = BAD "bad message count";
		return EBADMSG;
	}
	/* RFC 3842 5.2: a msgcount MUST NOT exceed 2^32-1 */
	if (hr_pl_u64(&digits, UINT32_MAX, &x)) {
		*why = BAD "message count above 2^32-1";
		return EBADMSG;
	}
	v->p += digits.len;
	v->len -= digits.len;
	*n = (uint32_t)x;
	return 0;
}

/* SLASH, LPAREN, RPAREN: SWS c SWS. */
static bool sep_scan(struct hr_pl *v, char c)
{
	skip_lws(v);
	if (!v->len || v->p[0] != c)
		return false;
	v->p++;
	v->len--;
	skip_lws(v);
	return true;
}

/* "a/b" at the front of v. */
static int pair_scan(struct hr_pl *v, uint32_t *a, uint32_t *b,
	const char **why)
{
	int err = count_scan(v, a, why);

	if (err)
		return err;
	if (!sep_scan(v, '/')) {
		*why = BAD "message counts without '/'";
		return EBADMSG;
	}
	return count_scan(v, b, why);
}

/* newmsgs SLASH oldmsgs [ LPAREN new-urgentmsgs SLASH old-urgentmsgs
 * RPAREN ], all of v. */
static int counts_parse(struct hr_mwi_count *c, struct hr_pl v,
	const char **why)
{
	int err = pair_scan(&v, &c->new_msgs, &c->old_msgs, why);

	if (err)
		return err;
	if (sep_scan(&v, '(')) {
		c->urgent = true;
		err = pair_scan(&v, &c->new_urgent, &c->old_urgent, why);
		if (err)
			return err;
		if (!sep_scan(&v, ')')) {
			*why = BAD "urgent counts without ')'";
			return EBADMSG;
		}
	}
	if (v.len) {
		*why = BAD "text after the message counts";
		return EBADMSG;
	}
	c->present = true;
	return 0;
}

/* Account-URI = SIP-URI / SIPS-URI / absoluteURI (RFC 3842 5.2): a
 * scheme (RFC 3986 3.1), a colon, then visible ASCII, no space: what every
 * URI is once escaped. The full grammar of each scheme is not checked. */
static bool account_ok(const char *p, size_t len)
{
	size_t i = 1;

	if (!len || !is_alpha(p[0]))
		return false;
	while (i < len && (is_alpha(p[i]) || is_digit(p[i]) || p[i] == '+' ||
		p[i] == '-' || p[i] == '.'))
		i++;
	if (i + 1 >= len || p[i] != ':')
		return false;
	for (; i < len; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch <= ' ' || ch >= 0x7f)
			return false;
	}
	return true;
}

static int account_parse(struct hr_mwi *m, const struct hr_pl *v,
	const char **why)
{
	if (m->account[0]) {
		*why = BAD "Message-Account given twice";
		return EBADMSG;
	}
	if (v->len >= sizeof(m->account)) {
		*why = BAD "Message-Account too long";
		return EBADMSG;
	}
	if (!account_ok(v->p, v->len)) {
		*why = BAD "Message-Account is not a URI";
		return EBADMSG;
	}
	hr_pl_strcpy(v, m->account, sizeof(m->account));
	return 0;
}

/* The first line. RFC 3842 5.2: the body starts with msg-status-line. */
static int status_parse(struct hr_mwi *m, struct hr_pl *body,
	const char **why)
{
	struct hr_pl line, name, val;

	if (!next_line(body, &line) ||
		header_split(&line, &name, &val, why) ||
		hr_pl_strcasecmp(&name, "Messages-Waiting")) {
		*why = BAD "no Messages-Waiting line first";
		return EBADMSG;
	}
	if (!hr_pl_strcasecmp(&val, "yes"))
		m->waiting = true;
	else if (hr_pl_strcasecmp(&val, "no")) {
		*why = BAD "Messages-Waiting is neither yes nor no";
		return EBADMSG;
	}
	return 0;
}

/* A line after the first and before the empty one: the account or a
 * summary line. The account is taken among the summary lines too (the
 * ABNF puts it first; nothing is lost by reading it where it is). */
static int line_parse(struct hr_mwi *m, const struct hr_pl *line,
	const char **why)
{
	struct hr_pl name, val;
	int err, c;

	err = header_split(line, &name, &val, why);
	if (err)
		return err;
	if (!hr_pl_strcasecmp(&name, "Message-Account"))
		return account_parse(m, &val, why);
	if (!hr_pl_strcasecmp(&name, "Messages-Waiting")) {
		*why = BAD "Messages-Waiting given twice";
		return EBADMSG;
	}
	c = hr_mwi_class_id(name.p, name.len);
	if (c < 0) {
		*why = BAD "unknown message class";
		return EBADMSG;
	}
	/* two lines for one class cannot both be right: refuse rather than
	 * drop one */
	if (m->cls[c].present) {
		*why = BAD "message class given twice";
		return EBADMSG;
	}
	return counts_parse(&m->cls[c], val, why);
}

int hr_mwi_parse(struct hr_mwi *m, const char *p, size_t len,
	const char **why)
{
	struct hr_pl body = { p, len }, line;
	const char *reason = NULL;
	struct hr_mwi tmp;
	int err;

	if (why)
		*why = NULL;
	if (!m || (!p && len))
		return EINVAL;
	memset(&tmp, 0, sizeof(tmp));
	err = status_parse(&tmp, &body, &reason);
	/* an empty line ends the summary: extension headers follow, ignored
	 * (RFC 3842 5.2 opt-msg-headers) */
	while (!err && next_line(&body, &line) && line.len)
		err = line_parse(&tmp, &line, &reason);
	if (err) {
		if (why)
			*why = reason;
		return err;
	}
	memcpy(m, &tmp, sizeof(*m));
	return 0;
}

/* ---- writing ---- */

static int count_print(struct hr_buf *buf, enum hr_mwi_class c,
	const struct hr_mwi_count *n)
{
	int err = hr_buf_printf(buf, "%s: %" PRIu32 "/%" PRIu32,
		class_names[c], n->new_msgs, n->old_msgs);

	if (!err && n->urgent)
		err = hr_buf_printf(buf, " (%" PRIu32 "/%" PRIu32 ")",
			n->new_urgent, n->old_urgent);
	return err ? err : hr_buf_puts(buf, "\r\n");
}

static int summary_print(struct hr_buf *buf, const struct hr_mwi *m)
{
	int err = hr_buf_printf(buf, "Messages-Waiting: %s\r\n",
		m->waiting ? "yes" : "no");

	if (!err && m->account[0])
		err = hr_buf_printf(buf, "Message-Account: %s\r\n",
			m->account);
	for (int c = 0; !err && c < HR_MWI_NCLASSES; c++) {
		if (m->cls[c].present)
			err = count_print(buf, c, &m->cls[c]);
	}
	return err;
}

int hr_mwi_print(struct hr_buf *buf, const struct hr_mwi *m)
{
	size_t start, alen;
	int err;

	if (!buf || !m)
		return EINVAL;
	/* what is printed must parse again: an account that would not (a CR
	 * or LF would even end the line early) is refused */
	alen = strnlen(m->account, sizeof(m->account));
	if (alen == sizeof(m->account) ||
		(alen && !account_ok(m->account, alen)))
		return EINVAL;
	start = buf->len;
	err = summary_print(buf, m);
	if (err)
		buf->len = start;
	return err;
}

/* ---- summing ---- */

static uint32_t sat_add(uint32_t a, uint32_t b)
{
	return a > UINT32_MAX - b ? UINT32_MAX : a + b;
}

static void count_add(struct hr_mwi_count *d, const struct hr_mwi_count *s)
{
	d->present |= s->present;
	d->urgent |= s->urgent;
	d->new_msgs = sat_add(d->new_msgs, s->new_msgs);
	d->old_msgs = sat_add(d->old_msgs, s->old_msgs);
	d->new_urgent = sat_add(d->new_urgent, s->new_urgent);
	d->old_urgent = sat_add(d->old_urgent, s->old_urgent);
}

void hr_mwi_add(struct hr_mwi *dst, const struct hr_mwi *src)
{
	if (!dst || !src)
		return;
	dst->waiting |= src->waiting;
	for (int c = 0; c < HR_MWI_NCLASSES; c++)
		count_add(&dst->cls[c], &src->cls[c]);
	if (!dst->account[0] && dst != src) {
		memcpy(dst->account, src->account, sizeof(dst->account));
		dst->account[sizeof(dst->account) - 1] = '\0';
	}
}

static bool count_equal(const struct hr_mwi_count *a,
	const struct hr_mwi_count *b)
{
	return a->present == b->present && a->urgent == b->urgent &&
		a->new_msgs == b->new_msgs && a->old_msgs == b->old_msgs &&
		a->new_urgent == b->new_urgent &&
		a->old_urgent == b->old_urgent;
}

bool hr_mwi_equal(const struct hr_mwi *a, const struct hr_mwi *b)
{
	if (a->waiting != b->waiting ||
		strncmp(a->account, b->account, sizeof(a->account)))
		return false;
	for (int c = 0; c < HR_MWI_NCLASSES; c++) {
		if (!count_equal(&a->cls[c], &b->cls[c]))
			return false;
	}
	return true;
}
