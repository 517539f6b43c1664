#include "buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ctl_buf_init(struct ctl_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->err = 0;
}

void ctl_buf_free(struct ctl_buf *b)
{
	free(b->data);
	ctl_buf_init(b);
}

void ctl_buf_reset(struct ctl_buf *b)
{
	b->len = 0;
	b->err = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* Makes room for `extra` more bytes plus the NUL. Returns 0 or the (sticky) error. */
static int buf_grow(struct ctl_buf *b, size_t extra)
{
	if (b->err)
		return b->err;
	if (extra > CTL_BUF_MAX || b->len + extra + 1 > CTL_BUF_MAX) {
		b->err = -EMSGSIZE;
		return b->err;
	}
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 1024;
	while (cap < need)
		cap *= 2;
	char *p = realloc(b->data, cap);
	if (!p) {
		b->err = -ENOMEM;
		return b->err;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

void ctl_buf_append(struct ctl_buf *b, const void *p, size_t n)
{
	if (buf_grow(b, n) < 0)
		return;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void ctl_buf_puts(struct ctl_buf *b, const char *s)
{
	ctl_buf_append(b, s, strlen(s));
}

void ctl_buf_putc(struct ctl_buf *b, char c)
{
	ctl_buf_append(b, &c, 1);
}

void ctl_buf_vprintf(struct ctl_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;

	if (buf_grow(b, 64) < 0)
		return;
	va_copy(ap2, ap);
	int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
	va_end(ap2);
	if (n < 0) {
		b->err = -EINVAL;
		b->data[b->len] = '\0';
		return;
	}
	if ((size_t)n >= b->cap - b->len) {
		if (buf_grow(b, (size_t)n) < 0) {
			b->data[b->len] = '\0';
			return;
		}
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	}
	b->len += (size_t)n;
}

void ctl_buf_printf(struct ctl_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctl_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

char *ctl_buf_detach(struct ctl_buf *b, size_t *len, int *err)
{
	char *p = NULL;

	if (err)
		*err = b->err;
	if (len)
		*len = 0;
	if (b->err) {
		ctl_buf_free(b);
		return NULL;
	}
	p = b->data;
	if (len)
		*len = b->len;
	ctl_buf_init(b);
	return p;
}
