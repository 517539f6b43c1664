#include "json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void ctl_json_init(struct ctl_json *j, struct ctl_buf *out)
{
	memset(j, 0, sizeof(*j));
	j->out = out;
	j->first[0] = true;
}

/* Separator before a value (or a key) at the current depth. */
static void json_sep(struct ctl_json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (!j->first[j->depth])
		ctl_buf_putc(j->out, ',');
	j->first[j->depth] = false;
}

static void json_open(struct ctl_json *j, char c)
{
	json_sep(j);
	if (j->depth >= CTL_JSON_MAX_DEPTH) {
		j->err = -EINVAL;
		return;
	}
	ctl_buf_putc(j->out, c);
	j->depth++;
	j->first[j->depth] = true;
}

static void json_close(struct ctl_json *j, char c)
{
	if (j->depth == 0 || j->after_key) {
		j->err = -EINVAL;
		return;
	}
	ctl_buf_putc(j->out, c);
	j->depth--;
}

void ctl_json_obj_begin(struct ctl_json *j)
{
	json_open(j, '{');
}

void ctl_json_obj_end(struct ctl_json *j)
{
	json_close(j, '}');
}

void ctl_json_arr_begin(struct ctl_json *j)
{
	json_open(j, '[');
}

void ctl_json_arr_end(struct ctl_json *j)
{
	json_close(j, ']');
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void ctl_json_escape(struct ctl_buf *out, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	ctl_buf_putc(out, '"');
	while (i < n) {
		unsigned char c = p[i];
		size_t run = i;

		/* copy the longest run that needs no escaping at once */
		while (run < n && p[run] >= 0x20 && p[run] < 0x7f && p[run] != '"' &&
		       p[run] != '\\')
			run++;
		if (run > i) {
			ctl_buf_append(out, p + i, run - i);
			i = run;
			continue;
		}
		switch (c) {
		case '"':
			ctl_buf_puts(out, "\\\"");
			break;
		case '\\':
			ctl_buf_puts(out, "\\\\");
			break;
		case '\n':
			ctl_buf_puts(out, "\\n");
			break;
		case '\r':
			ctl_buf_puts(out, "\\r");
			break;
		case '\t':
			ctl_buf_puts(out, "\\t");
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				ctl_buf_printf(out, "\\u%04x", c);
			} else {
				size_t len = utf8_len(p + i, n - i);
				if (len == 0) {
					ctl_buf_puts(out, "\\ufffd");
				} else {
					ctl_buf_append(out, p + i, len);
					i += len;
					continue;
				}
			}
			break;
		}
		i++;
	}
	ctl_buf_putc(out, '"');
}

void ctl_json_key(struct ctl_json *j, const char *key)
{
	if (j->depth == 0 || j->after_key) {
		j->err = -EINVAL;
		return;
	}
	json_sep(j);
	ctl_json_escape(j->out, key, strlen(key));
	ctl_buf_putc(j->out, ':');
	j->after_key = true;
}

void ctl_json_strn(struct ctl_json *j, const char *s, size_t n)
{
	json_sep(j);
	ctl_json_escape(j->out, s, strnlen(s, n));
}

void ctl_json_str(struct ctl_json *j, const char *s)
{
	json_sep(j);
	if (!s) {
		ctl_buf_puts(j->out, "null");
		return;
	}
	ctl_json_escape(j->out, s, strlen(s));
}

void ctl_json_u64(struct ctl_json *j, uint64_t v)
{
	json_sep(j);
	ctl_buf_printf(j->out, "%" PRIu64, v);
}

void ctl_json_i64(struct ctl_json *j, int64_t v)
{
	json_sep(j);
	ctl_buf_printf(j->out, "%" PRId64, v);
}

void ctl_json_double(struct ctl_json *j, double v)
{
	json_sep(j);
	if (!isfinite(v))
		ctl_buf_puts(j->out, "null");
	else
		ctl_buf_printf(j->out, "%.15g", v);
}

void ctl_json_bool(struct ctl_json *j, bool v)
{
	json_sep(j);
	ctl_buf_puts(j->out, v ? "true" : "false");
}

void ctl_json_null(struct ctl_json *j)
{
	json_sep(j);
	ctl_buf_puts(j->out, "null");
}

void ctl_json_kv_str(struct ctl_json *j, const char *key, const char *v)
{
	ctl_json_key(j, key);
	ctl_json_str(j, v);
}

void ctl_json_kv_u64(struct ctl_json *j, const char *key, uint64_t v)
{
	ctl_json_key(j, key);
	ctl_json_u64(j, v);
}

void ctl_json_kv_i64(struct ctl_json *j, const char *key, int64_t v)
{
	ctl_json_key(j, key);
	ctl_json_i64(j, v);
}

void ctl_json_kv_double(struct ctl_json *j, const char *key, double v)
{
	ctl_json_key(j, key);
	ctl_json_double(j, v);
}

void ctl_json_kv_bool(struct ctl_json *j, const char *key, bool v)
{
	ctl_json_key(j, key);
	ctl_json_bool(j, v);
}

int ctl_json_finish(struct ctl_json *j)
{
	if (j->err)
		return j->err;
	if (j->depth != 0 || j->after_key)
		return -EINVAL;
	return j->out->err;
}
