/* table.h: aligned text tables for supernodectl's human output (built by control).
 *
 *   struct ctl_table t;
 *   ctl_table_init(&t, "PORT LINK RX_PACKETS", "llr");
 *   ctl_table_cell(&t, "%s", name); ...           one call per cell, row by row
 *   ctl_table_render(&t, out); ctl_table_free(&t);
 * Columns are separated by two spaces; 'l' columns are left-aligned, 'r' right-aligned. */
#ifndef CTL_TABLE_H
#define CTL_TABLE_H

#include "buf.h"

#define CTL_TABLE_MAX_COLS 16
#define CTL_TABLE_CELL	   96 /* longer cells are cut */

struct ctl_table {
	int ncols;
	char head[CTL_TABLE_MAX_COLS][CTL_TABLE_CELL];
	char align[CTL_TABLE_MAX_COLS]; /* 'l' or 'r' */
	char (*cells)[CTL_TABLE_CELL];	/* row-major */
	int ncells;
	int cap;
	int err; /* -ENOMEM once a cell could not be stored */
};

/* heads: column titles separated by spaces; align: one 'l'/'r' per column. */
void ctl_table_init(struct ctl_table *t, const char *heads, const char *align);
void ctl_table_cell(struct ctl_table *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends the table to out. Returns 0 or a negative errno. */
int ctl_table_render(struct ctl_table *t, struct ctl_buf *out);
void ctl_table_free(struct ctl_table *t);

#endif
