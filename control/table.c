#include "table.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ctl_table_init(struct ctl_table *t, const char *heads, const char *align)
{
	const char *p = heads;
	size_t alen = strlen(align);

	memset(t, 0, sizeof(*t));
	while (*p && t->ncols < CTL_TABLE_MAX_COLS) {
		size_t n = strcspn(p, " ");

		if (n) {
			/* a short align string repeats its last letter */
			size_t a = (size_t)t->ncols < alen ? (size_t)t->ncols : alen - 1;

			snprintf(t->head[t->ncols], CTL_TABLE_CELL, "%.*s", (int)n, p);
			t->align[t->ncols] = alen && align[a] == 'r' ? 'r' : 'l';
			t->ncols++;
		}
		p += n;
		p += strspn(p, " ");
	}
}

void ctl_table_cell(struct ctl_table *t, const char *fmt, ...)
{
	va_list ap;

	if (t->err)
		return;
	if (t->ncells == t->cap) {
		int cap = t->cap ? t->cap * 2 : 64;
		void *p = realloc(t->cells, (size_t)cap * CTL_TABLE_CELL);

		if (!p) {
			t->err = -ENOMEM;
			return;
		}
		t->cells = p;
		t->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(t->cells[t->ncells], CTL_TABLE_CELL, fmt, ap);
	va_end(ap);
	t->ncells++;
}

static void pad(struct ctl_buf *out, size_t n)
{
	while (n--)
		ctl_buf_putc(out, ' ');
}

static void put_cell(struct ctl_buf *out, const char *s, size_t width, char align, bool last)
{
	size_t n = strlen(s);

	if (align == 'r')
		pad(out, width - n);
	ctl_buf_puts(out, s);
	if (align == 'l' && !last)
		pad(out, width - n);
}

int ctl_table_render(struct ctl_table *t, struct ctl_buf *out)
{
	size_t width[CTL_TABLE_MAX_COLS];

	if (t->err)
		return t->err;
	if (!t->ncols)
		return 0;
	for (int c = 0; c < t->ncols; c++)
		width[c] = strlen(t->head[c]);
	for (int i = 0; i < t->ncells; i++) {
		size_t n = strlen(t->cells[i]);

		if (n > width[i % t->ncols])
			width[i % t->ncols] = n;
	}
	for (int c = 0; c < t->ncols; c++) {
		if (c)
			ctl_buf_puts(out, "  ");
		put_cell(out, t->head[c], width[c], t->align[c], c == t->ncols - 1);
	}
	ctl_buf_putc(out, '\n');
	for (int i = 0; i < t->ncells; i++) {
		int c = i % t->ncols;

		if (c)
			ctl_buf_puts(out, "  ");
		put_cell(out, t->cells[i], width[c], t->align[c], c == t->ncols - 1);
		if (c == t->ncols - 1 || i == t->ncells - 1)
			ctl_buf_putc(out, '\n');
	}
	return out->err;
}

void ctl_table_free(struct ctl_table *t)
{
	free(t->cells);
	t->cells = NULL;
	t->ncells = 0;
	t->cap = 0;
}
