/* Scanners shared by the header decoders (RFC 3261 25.1 grammar). */
#include <errno.h>
#include <string.h>
#include "sip_int.h"

#define T CC_TOKEN
#define W CC_WORD
#define U CC_UNRES
#define H CC_HOST
#define D CC_DIGIT
#define X CC_HEX

/*
 * token: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"
 * word:  token chars and "(" ")" "<" ">" ":" "\" DQUOTE "/" "[" "]" "?" "{" "}"
 * unreserved: alphanum / "-" "_" "." "!" "~" "*" "'" "(" ")"
 */
#define UX CC_USERX
#define PX CC_PARAMX

const unsigned char hr_cc[256] = {
	['!'] = T | W | U, ['"'] = W, ['%'] = T | W, ['\''] = T | W | U,
	['('] = W | U, [')'] = W | U, ['*'] = T | W | U, ['+'] = T | W | UX | PX,
	['-'] = T | W | U | H, ['.'] = T | W | U | H, ['/'] = W | UX | PX,
	['0'] = T | W | U | H | D | X, ['1'] = T | W | U | H | D | X,
	['2'] = T | W | U | H | D | X, ['3'] = T | W | U | H | D | X,
	['4'] = T | W | U | H | D | X, ['5'] = T | W | U | H | D | X,
	['6'] = T | W | U | H | D | X, ['7'] = T | W | U | H | D | X,
	['8'] = T | W | U | H | D | X, ['9'] = T | W | U | H | D | X,
	[':'] = W | PX, ['<'] = W, ['>'] = W, ['?'] = W | UX,
	['A'] = T | W | U | H | X, ['B'] = T | W | U | H | X,
	['C'] = T | W | U | H | X, ['D'] = T | W | U | H | X,
	['E'] = T | W | U | H | X, ['F'] = T | W | U | H | X,
	['G'] = T | W | U | H, ['H'] = T | W | U | H, ['I'] = T | W | U | H,
	['J'] = T | W | U | H, ['K'] = T | W | U | H, ['L'] = T | W | U | H,
	['M'] = T | W | U | H, ['N'] = T | W | U | H, ['O'] = T | W | U | H,
	['P'] = T | W | U | H, ['Q'] = T | W | U | H, ['R'] = T | W | U | H,
	['S'] = T | W | U | H, ['T'] = T | W | U | H, ['U'] = T | W | U | H,
	['V'] = T | W | U | H, ['W'] = T | W | U | H, ['X'] = T | W | U | H,
	['Y'] = T | W | U | H, ['Z'] = T | W | U | H,
	['['] = W | PX, ['\\'] = W, [']'] = W | PX, ['_'] = T | W | U | H, ['`'] = T | W,
	['a'] = T | W | U | H | X, ['b'] = T | W | U | H | X,
	['c'] = T | W | U | H | X, ['d'] = T | W | U | H | X,
	['e'] = T | W | U | H | X, ['f'] = T | W | U | H | X,
	['g'] = T | W | U | H, ['h'] = T | W | U | H, ['i'] = T | W | U | H,
	['j'] = T | W | U | H, ['k'] = T | W | U | H, ['l'] = T | W | U | H,
	['m'] = T | W | U | H, ['n'] = T | W | U | H, ['o'] = T | W | U | H,
	['p'] = T | W | U | H, ['q'] = T | W | U | H, ['r'] = T | W | U | H,
	['s'] = T | W | U | H, ['t'] = T | W | U | H, ['u'] = T | W | U | H,
	['v'] = T | W | U | H, ['w'] = T | W | U | H, ['x'] = T | W | U | H,
	['y'] = T | W | U | H, ['z'] = T | W | U | H,
	['&'] = UX | PX,
	['='] = UX | PX,
	['$'] = UX | PX,
	[','] = UX,
	[';'] = UX | PX,
	['#'] = UX,
	['{'] = W, ['}'] = W, ['~'] = T | W | U,
};

bool hr_cur_sep(struct cur *c, char ch)
{
	const char *save = c->p;

	cur_skip_lws(c);
	if (c->p < c->end && *c->p == ch) {
		c->p++;
		cur_skip_lws(c);
		return true;
	}
	c->p = save;
	return false;
}

int hr_cur_token(struct cur *c, struct hr_pl *tok, size_t max)
{
	const char *s = c->p, *p = s;
	const char *lim = (size_t)(c->end - s) > max ? s + max : c->end;

	/* a local cursor: the compiler need not store c->p every step */
	while (p < lim && cc_is(*p, CC_TOKEN))
		p++;
	c->p = p;
	if (p == s || (p == lim && lim < c->end && cc_is(*p, CC_TOKEN)))
		return EBADMSG;
	tok->p = s;
	tok->len = (size_t)(c->p - s);
	return 0;
}

int hr_cur_quoted(struct cur *c, struct hr_pl *tok, size_t max)
{
	const char *s;

	if (cur_eof(c) || *c->p != '"')
		return EBADMSG;
	s = ++c->p;
	while (c->p < c->end) {
		char ch = *c->p;

		if ((size_t)(c->p - s) > max)
			return EBADMSG;
		if (ch == '"') {
			tok->p = s;
			tok->len = (size_t)(c->p - s);
			c->p++;
			return 0;
		}
		if (ch == '\\') {
			/* quoted-pair: any char but CR and LF */
			if (c->p + 1 >= c->end || c->p[1] == '\r' ||
			    c->p[1] == '\n')
				return EBADMSG;
			c->p += 2;
			continue;
		}
		/* qdtext excludes CTLs other than LWS */
		if ((unsigned char)ch < 0x20 && !is_lws(ch))
			return EBADMSG;
		c->p++;
	}
	return EBADMSG;
}

static bool ipv6_char(char c)
{
	return cc_is(c, CC_HEX) || c == ':' || c == '.';
}

int hr_cur_host(struct cur *c, struct hr_pl *host, bool *ipv6)
{
	const char *s = c->p;

	*ipv6 = false;
	if (c->p < c->end && *c->p == '[') {
		unsigned colons = 0;

		s = ++c->p;
		while (c->p < c->end && ipv6_char(*c->p)) {
			colons += *c->p == ':';
			c->p++;
		}
		/* RFC 5118 4.4: an IPv6 reference needs its brackets */
		if (c->p >= c->end || *c->p != ']' || c->p == s ||
		    colons < 2)
			return EBADMSG;
		host->p = s;
		host->len = (size_t)(c->p - s);
		c->p++;
		*ipv6 = true;
		return 0;
	}
	while (c->p < c->end && cc_is(*c->p, CC_HOST))
		c->p++;
	if (c->p == s || (size_t)(c->p - s) > 255)
		return EBADMSG;
	host->p = s;
	host->len = (size_t)(c->p - s);
	return 0;
}

int hr_cur_port(struct cur *c, uint16_t *port)
{
	struct hr_pl num;
	const char *s;
	uint64_t v;

	*port = 0;
	if (cur_eof(c) || *c->p != ':')
		return 0;
	s = ++c->p;
	while (c->p < c->end && cc_is(*c->p, CC_DIGIT))
		c->p++;
	num.p = s;
	num.len = (size_t)(c->p - s);
	if (hr_pl_u64(&num, 65535, &v) || v == 0)
		return EBADMSG;
	*port = (uint16_t)v;
	return 0;
}

/* gen-value = token / host / quoted-string */
static int gen_value(struct cur *c)
{
	struct hr_pl v;
	bool v6;

	if (cur_eof(c))
		return EBADMSG;
	if (*c->p == '"')
		return hr_cur_quoted(c, &v, HR_QUOTED_MAX);
	if (*c->p == '[')
		return hr_cur_host(c, &v, &v6);
	/* a bare IPv6 address (Via received, RFC 3261 25.1): token
	 * characters and colons */
	{
		const char *s = c->p;

		while (c->p < c->end && (cc_is(*c->p, CC_TOKEN) || *c->p == ':'))
			c->p++;
		return c->p > s ? 0 : EBADMSG;
	}
}

int hr_cur_params(struct cur *c, struct hr_pl *params)
{
	const char *s;
	int err;

	cur_skip_lws(c);
	s = c->p;
	while (!cur_eof(c)) {
		struct hr_pl name;

		if (!hr_cur_sep(c, ';'))
			return EBADMSG;
		err = hr_cur_token(c, &name, HR_TOKEN_MAX);
		if (err)
			return err;
		if (hr_cur_sep(c, '=')) {
			err = gen_value(c);
			if (err)
				return err;
		}
		cur_skip_lws(c);
	}
	params->p = s;
	params->len = (size_t)(c->p - s);
	return 0;
}
