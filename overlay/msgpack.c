/* msgpack.c: see msgpack.h. */
#include "msgpack.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

/* The decoded header of the next value, before any of it is consumed. */
struct mp_head {
	int type;	/* enum sn_mp_type */
	uint32_t hlen;	/* tag byte plus length or value field */
	uint32_t body;	/* str/bin: payload bytes; ext: type byte plus payload */
	uint32_t count; /* array: elements; map: pairs */
	union {
		uint64_t u; /* SN_MP_UINT */
		int64_t i;  /* SN_MP_INT */
		bool b;	    /* SN_MP_BOOL */
	} v;
};

static uint64_t be_read(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Width in bytes of the length field of the str/bin/ext/array/map tags, 0 otherwise. */
static unsigned len_field(uint8_t tag)
{
	switch (tag) {
	case 0xc4: /* bin 8 */
	case 0xc7: /* ext 8 */
	case 0xd9: /* str 8 */
		return 1;
	case 0xc5:
	case 0xc8:
	case 0xda:
	case 0xdc: /* array 16 */
	case 0xde: /* map 16 */
		return 2;
	case 0xc6:
	case 0xc9:
	case 0xdb:
	case 0xdd:
	case 0xdf:
		return 4;
	default:
		return 0;
	}
}

static int head_sized(const uint8_t *p, size_t avail, struct mp_head *h)
{
	uint8_t tag = p[0];
	unsigned lf = len_field(tag);
	uint64_t n;

	if (avail < 1 + (size_t)lf)
		return -ENODATA;
	n = be_read(p + 1, lf);
	h->hlen = 1 + lf;
	switch (tag) {
	case 0xc4:
	case 0xc5:
	case 0xc6:
		h->type = SN_MP_BIN;
		break;
	case 0xd9:
	case 0xda:
	case 0xdb:
		h->type = SN_MP_STR;
		break;
	case 0xc7:
	case 0xc8:
	case 0xc9:
		h->type = SN_MP_EXT;
		n += 1; /* the ext type byte */
		break;
	case 0xdc:
	case 0xdd:
		h->type = SN_MP_ARRAY;
		if (n > avail - h->hlen)
			return -EMSGSIZE;
		h->count = (uint32_t)n;
		return 0;
	default: /* 0xde, 0xdf */
		h->type = SN_MP_MAP;
		if (n > (avail - h->hlen) / 2)
			return -EMSGSIZE;
		h->count = (uint32_t)n;
		return 0;
	}
	if (n > avail - h->hlen)
		return -EMSGSIZE;
	h->body = (uint32_t)n;
	return 0;
}

static int head(const struct sn_mp_reader *r, struct mp_head *h)
{
	size_t avail = sn_mp_remaining(r);
	const uint8_t *p = r->pos;
	uint8_t tag;
	unsigned w;

	if (avail == 0)
		return -ENODATA;
	memset(h, 0, sizeof(*h));
	h->hlen = 1;
	tag = p[0];
	if (tag <= 0x7f) {
		h->type = SN_MP_UINT;
		h->v.u = tag;
		return 0;
	}
	if (tag >= 0xe0) {
		h->type = SN_MP_INT;
		h->v.i = (int8_t)tag;
		return 0;
	}
	if (tag <= 0x8f) {
		h->type = SN_MP_MAP;
		h->count = tag & 0x0f;
		return h->count > (avail - 1) / 2 ? -EMSGSIZE : 0;
	}
	if (tag <= 0x9f) {
		h->type = SN_MP_ARRAY;
		h->count = tag & 0x0f;
		return h->count > avail - 1 ? -EMSGSIZE : 0;
	}
	if (tag <= 0xbf) {
		h->type = SN_MP_STR;
		h->body = tag & 0x1f;
		return h->body > avail - 1 ? -EMSGSIZE : 0;
	}
	switch (tag) {
	case 0xc0:
		h->type = SN_MP_NIL;
		return 0;
	case 0xc1:
		return -EBADMSG;
	case 0xc2:
	case 0xc3:
		h->type = SN_MP_BOOL;
		h->v.b = tag == 0xc3;
		return 0;
	case 0xca:
	case 0xcb:
		h->type = SN_MP_FLOAT;
		h->hlen = tag == 0xca ? 5 : 9;
		return avail < h->hlen ? -ENODATA : 0;
	case 0xcc:
	case 0xcd:
	case 0xce:
	case 0xcf:
		w = 1u << (tag - 0xcc);
		if (avail < 1 + w)
			return -ENODATA;
		h->type = SN_MP_UINT;
		h->hlen = 1 + w;
		h->v.u = be_read(p + 1, w);
		return 0;
	case 0xd0:
	case 0xd1:
	case 0xd2:
	case 0xd3:
		w = 1u << (tag - 0xd0);
		if (avail < 1 + w)
			return -ENODATA;
		h->type = SN_MP_INT;
		h->hlen = 1 + w;
		/* sign-extend from the field's width */
		h->v.i = (int64_t)(be_read(p + 1, w) << (64 - 8 * w)) >> (64 - 8 * w);
		return 0;
	case 0xd4:
	case 0xd5:
	case 0xd6:
	case 0xd7:
	case 0xd8:
		h->type = SN_MP_EXT;
		h->body = 1 + (1u << (tag - 0xd4));
		return h->body > avail - 1 ? -ENODATA : 0;
	default:
		return head_sized(p, avail, h);
	}
}

int sn_mp_peek_full(const struct sn_mp_reader *r)
{
	struct mp_head h;
	int rc = head(r, &h);

	return rc < 0 ? rc : h.type;
}

/* Reads the header of the next value if it is of type want; consumes header and body. */
static int take(struct sn_mp_reader *r, int want, struct mp_head *h)
{
	int rc = head(r, h);

	if (rc < 0)
		return rc;
	if (h->type != want)
		return -ENOMSG;
	r->pos += h->hlen + h->body;
	return 0;
}

int sn_mp_read_nil(struct sn_mp_reader *r)
{
	struct mp_head h;

	return take(r, SN_MP_NIL, &h);
}

int sn_mp_read_bool(struct sn_mp_reader *r, bool *v)
{
	struct mp_head h;
	int rc = take(r, SN_MP_BOOL, &h);

	if (rc == 0)
		*v = h.v.b;
	return rc;
}

int sn_mp_read_uint_max_full(struct sn_mp_reader *r, uint64_t max, uint64_t *v)
{
	struct mp_head h;
	uint64_t u;
	int rc = head(r, &h);

	if (rc < 0)
		return rc;
	if (h.type == SN_MP_UINT)
		u = h.v.u;
	else if (h.type == SN_MP_INT && h.v.i >= 0)
		u = (uint64_t)h.v.i;
	else if (h.type == SN_MP_INT)
		return -ERANGE;
	else
		return -ENOMSG;
	if (u > max)
		return -ERANGE;
	r->pos += h.hlen;
	*v = u;
	return 0;
}

int sn_mp_read_int(struct sn_mp_reader *r, int64_t *v)
{
	struct mp_head h;
	int rc = head(r, &h);

	if (rc < 0)
		return rc;
	if (h.type == SN_MP_UINT) {
		if (h.v.u > INT64_MAX)
			return -ERANGE;
		*v = (int64_t)h.v.u;
	} else if (h.type == SN_MP_INT) {
		*v = h.v.i;
	} else {
		return -ENOMSG;
	}
	r->pos += h.hlen;
	return 0;
}

int sn_mp_read_str_full(struct sn_mp_reader *r, const char **s, uint32_t *len)
{
	struct mp_head h;
	int rc = take(r, SN_MP_STR, &h);

	if (rc == 0) {
		*s = (const char *)r->pos - h.body;
		*len = h.body;
	}
	return rc;
}

int sn_mp_read_bin_full(struct sn_mp_reader *r, const uint8_t **p, uint32_t *len)
{
	struct mp_head h;
	int rc = take(r, SN_MP_BIN, &h);

	if (rc == 0) {
		*p = r->pos - h.body;
		*len = h.body;
	}
	return rc;
}

int sn_mp_read_array_full(struct sn_mp_reader *r, uint32_t *n)
{
	struct mp_head h;
	int rc = take(r, SN_MP_ARRAY, &h);

	if (rc == 0)
		*n = h.count;
	return rc;
}

int sn_mp_read_map_full(struct sn_mp_reader *r, uint32_t *n)
{
	struct mp_head h;
	int rc = take(r, SN_MP_MAP, &h);

	if (rc == 0)
		*n = h.count;
	return rc;
}

int sn_mp_skip(struct sn_mp_reader *r, unsigned max_depth)
{
	/* values still to skip in each open container; [0] is the value asked for */
	uint64_t pending[SN_MP_MAX_DEPTH + 1];
	struct sn_mp_reader c = *r;
	unsigned depth = 0;
	struct mp_head h;
	int rc;

	if (max_depth > SN_MP_MAX_DEPTH)
		max_depth = SN_MP_MAX_DEPTH;
	pending[0] = 1;
	for (;;) {
		while (pending[depth] == 0) {
			if (depth == 0) {
				*r = c;
				return 0;
			}
			depth--;
		}
		pending[depth]--;
		rc = head(&c, &h);
		if (rc < 0)
			return rc;
		c.pos += h.hlen + h.body;
		if (h.type != SN_MP_ARRAY && h.type != SN_MP_MAP)
			continue;
		if (depth + 1 > max_depth)
			return -ELOOP;
		depth++;
		pending[depth] = h.type == SN_MP_MAP ? 2 * (uint64_t)h.count : h.count;
	}
}

bool sn_mp_str_eq(const char *s, uint32_t len, const char *lit)
{
	size_t n = strlen(lit);

	return n == len && memcmp(s, lit, n) == 0;
}

void sn_mp_writer_init(struct sn_mp_writer *w, void *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	/* lengths are returned as int */
	w->err = cap > INT_MAX ? -EINVAL : 0;
}

int sn_mp_writer_result(const struct sn_mp_writer *w)
{
	return w->err ? w->err : (int)w->len;
}

void sn_mp_write_int(struct sn_mp_writer *w, int64_t v)
{
	if (v >= 0)
		sn_mp_write_uint(w, (uint64_t)v);
	else if (v >= -32)
		sn_mp_put_tag(w, (uint8_t)(int8_t)v, 0, 0);
	else if (v >= INT8_MIN)
		sn_mp_put_tag(w, 0xd0, (uint64_t)v, 1);
	else if (v >= INT16_MIN)
		sn_mp_put_tag(w, 0xd1, (uint64_t)v, 2);
	else if (v >= INT32_MIN)
		sn_mp_put_tag(w, 0xd2, (uint64_t)v, 4);
	else
		sn_mp_put_tag(w, 0xd3, (uint64_t)v, 8);
}

void sn_mp_write_cstr(struct sn_mp_writer *w, const char *s)
{
	size_t n = strlen(s);

	if (n > UINT32_MAX) {
		w->err = w->err ? w->err : -EMSGSIZE;
		return;
	}
	sn_mp_write_str(w, s, (uint32_t)n);
}
