/* json.h: a small streaming JSON writer into a struct ctl_buf (admin replies, supernodectl).
 *
 * The writer inserts commas and colons itself; the caller opens and closes containers and
 * writes keys and values in order. Strings are escaped per RFC 8259: quote, backslash and
 * control characters are escaped, valid UTF-8 passes through, every byte of an invalid
 * UTF-8 sequence becomes U+FFFD, so any input yields valid JSON. Misuse (unbalanced
 * containers, nesting deeper than CTL_JSON_MAX_DEPTH) is reported by ctl_json_finish(). */
#ifndef CTL_JSON_H
#define CTL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define CTL_JSON_MAX_DEPTH 16

struct ctl_json {
	struct ctl_buf *out;
	int depth;			    /* open containers */
	bool first[CTL_JSON_MAX_DEPTH + 1]; /* next member at this depth is the first */
	bool after_key;			    /* a key was written; its value comes next */
	int err;			    /* -EINVAL on misuse */
};

void ctl_json_init(struct ctl_json *j, struct ctl_buf *out);
void ctl_json_obj_begin(struct ctl_json *j);
void ctl_json_obj_end(struct ctl_json *j);
void ctl_json_arr_begin(struct ctl_json *j);
void ctl_json_arr_end(struct ctl_json *j);
void ctl_json_key(struct ctl_json *j, const char *key);
void ctl_json_str(struct ctl_json *j, const char *s);
/* A string of n bytes that may hold NULs or be unterminated (e.g. fixed-size fields). */
void ctl_json_strn(struct ctl_json *j, const char *s, size_t n);
void ctl_json_u64(struct ctl_json *j, uint64_t v);
void ctl_json_i64(struct ctl_json *j, int64_t v);
/* Non-finite values are written as null. */
void ctl_json_double(struct ctl_json *j, double v);
void ctl_json_bool(struct ctl_json *j, bool v);
void ctl_json_null(struct ctl_json *j);

/* key + value in one call */
void ctl_json_kv_str(struct ctl_json *j, const char *key, const char *v);
void ctl_json_kv_u64(struct ctl_json *j, const char *key, uint64_t v);
void ctl_json_kv_i64(struct ctl_json *j, const char *key, int64_t v);
void ctl_json_kv_double(struct ctl_json *j, const char *key, double v);
void ctl_json_kv_bool(struct ctl_json *j, const char *key, bool v);

/* Returns 0 when every container was closed and the buffer holds the whole text, else
 * -EINVAL (misuse) or the buffer's error. */
int ctl_json_finish(struct ctl_json *j);

/* Appends s[0..n) as a quoted, escaped JSON string (also usable without a writer). */
void ctl_json_escape(struct ctl_buf *out, const char *s, size_t n);

#endif
