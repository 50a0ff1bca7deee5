/* Growable byte buffer that never grows past its cap (curl dynbuf). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core.h"

void hr_buf_init(struct hr_buf *buf, size_t cap)
{
	buf->b = NULL;
	buf->len = 0;
	buf->size = 0;
	buf->cap = cap;
}

void hr_buf_reset(struct hr_buf *buf)
{
	free(buf->b);
	buf->b = NULL;
	buf->len = 0;
	buf->size = 0;
}

int hr_buf_reserve(struct hr_buf *buf, size_t n)
{
	size_t need, size;
	char *b;

	if (n > buf->cap || buf->len > buf->cap - n)
		return EMSGSIZE;
	need = buf->len + n;
	if (need <= buf->size)
		return 0;
	size = buf->size ? buf->size : 256;
	while (size < need)
		size *= 2;
	if (size > buf->cap)
		size = buf->cap;
	b = realloc(buf->b, size);
	if (!b)
		return ENOMEM;
	buf->b = b;
	buf->size = size;
	return 0;
}

int hr_buf_write(struct hr_buf *buf, const void *p, size_t n)
{
	int err = hr_buf_reserve(buf, n);

	if (err)
		return err;
	if (n)
		memcpy(buf->b + buf->len, p, n);
	buf->len += n;
	return 0;
}

int hr_buf_puts(struct hr_buf *buf, const char *s)
{
	return hr_buf_write(buf, s, strlen(s));
}

int hr_buf_putsv(struct hr_buf *buf, const char *const *s, size_t n)
{
	int err = 0;

	for (size_t i = 0; i < n && !err; i++)
		err = hr_buf_puts(buf, s[i]);
	return err;
}

int hr_buf_putpl(struct hr_buf *buf, const struct hr_pl *pl)
{
	return hr_buf_write(buf, pl->p, pl->len);
}

/* Formatted into the buffer's room, not through vasprintf's malloc and
 * free (issue 20: a response's printing took three of each). */
static int buf_vprintf(struct hr_buf *buf, const char *fmt, va_list ap)
{
	size_t room = buf->size - buf->len;
	va_list aq;
	char *s;
	int n, err;

	va_copy(aq, ap);
	n = vsnprintf(room ? buf->b + buf->len : NULL, room, fmt, aq);
	va_end(aq);
	if (n < 0)
		return ENOMEM;
	if ((size_t)n < room || n == 0) {
		buf->len += (size_t)n;
		return 0;
	}
	/* vsnprintf writes a NUL after the text */
	err = hr_buf_reserve(buf, (size_t)n + 1);
	if (!err) {
		vsnprintf(buf->b + buf->len, (size_t)n + 1, fmt, ap);
		buf->len += (size_t)n;
		return 0;
	}
	if (err != EMSGSIZE)
		return err;
	/* the text may still end exactly at the cap */
	s = malloc((size_t)n + 1);
	if (!s)
		return ENOMEM;
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	err = hr_buf_write(buf, s, (size_t)n);
	free(s);
	return err;
}

int hr_buf_printf(struct hr_buf *buf, const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = buf_vprintf(buf, fmt, ap);
	va_end(ap);
	return err;
}

int hr_buf_putu(struct hr_buf *buf, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return hr_buf_write(buf, tmp + i, sizeof(tmp) - i);
}
