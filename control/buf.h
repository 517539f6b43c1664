/* buf.h: a growable text buffer for replies (metrics exposition, admin answers).
 *
 * Appends never fail loudly: the first allocation failure (or growth past CTL_BUF_MAX) is
 * remembered in `err` and every later append is ignored, so a writer checks once at the
 * end. While data is non-NULL it is NUL-terminated. */
#ifndef CTL_BUF_H
#define CTL_BUF_H

#include <stdarg.h>
#include <stddef.h>

#define CTL_BUF_MAX (64u << 20) /* a reply larger than this is refused (-EMSGSIZE) */

struct ctl_buf {
	char *data; /* NULL until the first append; NUL-terminated after it */
	size_t len; /* bytes of text, the NUL excluded */
	size_t cap; /* bytes allocated */
	int err;    /* 0, -ENOMEM or -EMSGSIZE: the first failure; appends stop after it */
};

void ctl_buf_init(struct ctl_buf *b);
/* Frees the memory and re-initialises the buffer. */
void ctl_buf_free(struct ctl_buf *b);
/* Empties the buffer (and clears err), keeping the memory. */
void ctl_buf_reset(struct ctl_buf *b);
void ctl_buf_append(struct ctl_buf *b, const void *p, size_t n);
void ctl_buf_puts(struct ctl_buf *b, const char *s);
void ctl_buf_putc(struct ctl_buf *b, char c);
void ctl_buf_printf(struct ctl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ctl_buf_vprintf(struct ctl_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Hands the text to the caller (free() it) and re-initialises the buffer. NULL if empty or on
 * error (the error is then in *err when err is not NULL). */
char *ctl_buf_detach(struct ctl_buf *b, size_t *len, int *err);

#endif
