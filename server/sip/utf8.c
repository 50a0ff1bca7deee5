/* UTF-8 validation (RFC 3629): header text must be UTF-8 (RFC 3261 25.1). */
#include <string.h>
#include "sip_int.h"

static bool utf8_valid(const char *s, size_t n, bool *nul)
{
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *end = p + n;

	while (p < end) {
		unsigned c;
		unsigned need, min, cp;

		/* ASCII runs eight bytes at a time */
		while (end - p >= 8) {
			uint64_t w;

			memcpy(&w, p, 8);
			/* high bit set, or a zero byte (for the NUL check) */
			if ((w | ((w - 0x0101010101010101ull) & ~w)) &
			    0x8080808080808080ull)
				break;
			p += 8;
		}
		if (p >= end)
			break;
		c = *p;
		if (c < 0x80) {
			/* RFC 3261 25.1: quoted-pair may escape any
			 * octet, NUL too (RFC 4475 3.1.1.2) */
			if (!c && nul && (p == (const unsigned char *)s ||
				p[-1] != '\\'))
				*nul = true;
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			min = 0x80;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			min = 0x800;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			min = 0x10000;
			cp = c & 0x07;
		} else {
			return false;
		}
		if ((size_t)(end - p) <= need)
			return false;
		for (unsigned i = 1; i <= need; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		/* overlong forms, surrogates and beyond U+10FFFF */
		if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) ||
		    cp > 0x10ffff)
			return false;
		p += need + 1;
	}
	return true;
}

bool hr_utf8_valid(const char *s, size_t n)
{
	return utf8_valid(s, n, NULL);
}

bool hr_utf8_valid_nonul(const char *s, size_t n, bool *nul)
{
	*nul = false;
	return utf8_valid(s, n, nul);
}
