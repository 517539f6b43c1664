/* msgpack.h: a strict, zero-allocation MessagePack reader and writer for the OpenDHT codec.
 *
 * Reader: a cursor over a caller's buffer. Every read checks the bytes it needs against the
 * end of the buffer, and every declared length or element count against the bytes that
 * remain (an array of n elements needs at least n bytes, a map of n pairs 2n), so a hostile
 * header can never make a caller loop or index past the datagram. A failed read leaves the
 * cursor where it was. Strings and binaries are returned as pointers into the buffer.
 *
 * Writer: appends into a caller's buffer of fixed capacity. The first write that does not
 * fit sets a sticky error and nothing more is written, so a builder can emit a whole message
 * and check once at the end (sn_mp_writer_result()). Integers, strings, binaries and
 * container headers use the smallest encoding, as msgpack-c's packer does, so that our
 * messages are byte-identical to what OpenDHT (which uses msgpack-c) sends.
 *
 * Errors (negative errno):
 *   -ENODATA   the buffer ends inside the value's header or fixed-size body
 *   -EMSGSIZE  a declared length or element count exceeds the bytes that remain
 *   -ENOMSG    the value is of another type than the one asked for
 *   -ERANGE    an integer does not fit the asked range
 *   -EBADMSG   a byte that is not a MessagePack type (0xc1)
 *   -ELOOP     containers nested deeper than the limit given to sn_mp_skip()
 */
#ifndef SN_MSGPACK_H
#define SN_MSGPACK_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest nesting sn_mp_skip() ever accepts, whatever the caller asks: bounds its stack. */
#define SN_MP_MAX_DEPTH 32

enum sn_mp_type {
	SN_MP_NIL = 1,
	SN_MP_BOOL,
	SN_MP_UINT,  /* positive fixint, uint 8..64 */
	SN_MP_INT,   /* negative fixint, int 8..64 (may hold a non-negative value) */
	SN_MP_FLOAT, /* float 32/64 */
	SN_MP_STR,
	SN_MP_BIN,
	SN_MP_ARRAY,
	SN_MP_MAP,
	SN_MP_EXT, /* fixext, ext 8..32 */
};

struct sn_mp_reader {
	const uint8_t *pos; /* next byte to read */
	const uint8_t *end; /* one past the last byte of the buffer */
};

static inline void sn_mp_reader_init(struct sn_mp_reader *r, const void *buf, size_t len)
{
	r->pos = buf;
	r->end = r->pos + len;
}

static inline size_t sn_mp_remaining(const struct sn_mp_reader *r)
{
	return (size_t)(r->end - r->pos);
}

/* The readers the DHT codec calls for every key and value are inline for the encodings
 * OpenDHT's messages use (fixstr keys, fixmap, bin 8 ids, fixint/uint 8-32 integers) and
 * call the full reader (the _full functions, which are the reference) for anything else,
 * errors included: same results, same cursor rules, without a call, a header struct and
 * a switch per value. */
int sn_mp_peek_full(const struct sn_mp_reader *r);
int sn_mp_read_uint_max_full(struct sn_mp_reader *r, uint64_t max, uint64_t *v);
int sn_mp_read_str_full(struct sn_mp_reader *r, const char **s, uint32_t *len);
int sn_mp_read_bin_full(struct sn_mp_reader *r, const uint8_t **p, uint32_t *len);
int sn_mp_read_array_full(struct sn_mp_reader *r, uint32_t *n);
int sn_mp_read_map_full(struct sn_mp_reader *r, uint32_t *n);

/* Type of the next value (enum sn_mp_type), or -ENODATA at the end, -EBADMSG for 0xc1. */
static inline int sn_mp_peek(const struct sn_mp_reader *r)
{
	size_t avail = sn_mp_remaining(r);

	if (avail) {
		uint8_t tag = r->pos[0];

		/* only where the full reader could not answer an error instead */
		if (tag <= 0x7f)
			return SN_MP_UINT;
		if ((tag & 0xe0) == 0xa0 && (tag & 0x1fu) <= avail - 1)
			return SN_MP_STR;
		if (tag == 0xc4 && avail >= 2 && r->pos[1] <= avail - 2)
			return SN_MP_BIN;
	}
	return sn_mp_peek_full(r);
}

int sn_mp_read_nil(struct sn_mp_reader *r);
int sn_mp_read_bool(struct sn_mp_reader *r, bool *v);
/* Any integer encoding holding a value that fits int64_t. */
int sn_mp_read_int(struct sn_mp_reader *r, int64_t *v);

/* uint read bounded by max (inclusive); -ERANGE above it. */
static inline int sn_mp_read_uint_max(struct sn_mp_reader *r, uint64_t max, uint64_t *v)
{
	size_t avail = sn_mp_remaining(r);

	if (avail) {
		const uint8_t *p = r->pos;
		uint64_t u = 0;
		unsigned hlen = 0;

		if (p[0] <= 0x7f) {
			u = p[0];
			hlen = 1;
		} else if (p[0] == 0xcc && avail >= 2) {
			u = p[1];
			hlen = 2;
		} else if (p[0] == 0xcd && avail >= 3) {
			u = (uint64_t)p[1] << 8 | p[2];
			hlen = 3;
		} else if (p[0] == 0xce && avail >= 5) {
			u = (uint64_t)p[1] << 24 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 8 |
			    p[4];
			hlen = 5;
		}
		if (hlen && u <= max) {
			r->pos += hlen;
			*v = u;
			return 0;
		}
	}
	return sn_mp_read_uint_max_full(r, max, v);
}

/* Any integer encoding holding a value >= 0. */
static inline int sn_mp_read_uint(struct sn_mp_reader *r, uint64_t *v)
{
	return sn_mp_read_uint_max(r, UINT64_MAX, v);
}

static inline int sn_mp_read_str(struct sn_mp_reader *r, const char **s, uint32_t *len)
{
	size_t avail = sn_mp_remaining(r);

	if (avail && (r->pos[0] & 0xe0) == 0xa0) {
		uint32_t n = r->pos[0] & 0x1fu;

		if (n <= avail - 1) {
			*s = (const char *)r->pos + 1;
			*len = n;
			r->pos += 1 + n;
			return 0;
		}
	}
	return sn_mp_read_str_full(r, s, len);
}

static inline int sn_mp_read_bin(struct sn_mp_reader *r, const uint8_t **p, uint32_t *len)
{
	size_t avail = sn_mp_remaining(r);

	if (avail >= 2 && r->pos[0] == 0xc4) {
		uint32_t n = r->pos[1];

		if (n <= avail - 2) {
			*p = r->pos + 2;
			*len = n;
			r->pos += 2 + n;
			return 0;
		}
	}
	return sn_mp_read_bin_full(r, p, len);
}

/* Container headers: *n elements (array) or key/value pairs (map) follow. */
static inline int sn_mp_read_array(struct sn_mp_reader *r, uint32_t *n)
{
	size_t avail = sn_mp_remaining(r);

	if (avail && (r->pos[0] & 0xf0) == 0x90 && (r->pos[0] & 0x0fu) <= avail - 1) {
		*n = r->pos[0] & 0x0fu;
		r->pos++;
		return 0;
	}
	return sn_mp_read_array_full(r, n);
}

static inline int sn_mp_read_map(struct sn_mp_reader *r, uint32_t *n)
{
	size_t avail = sn_mp_remaining(r);

	if (avail && (r->pos[0] & 0xf0) == 0x80 && (r->pos[0] & 0x0fu) <= (avail - 1) / 2) {
		*n = r->pos[0] & 0x0fu;
		r->pos++;
		return 0;
	}
	return sn_mp_read_map_full(r, n);
}

/* Skips one whole value. max_depth: containers that may nest (0: scalars only); capped at
 * SN_MP_MAX_DEPTH. */
int sn_mp_skip(struct sn_mp_reader *r, unsigned max_depth);

/* True when (s, len) is exactly the NUL-terminated literal lit. */
bool sn_mp_str_eq(const char *s, uint32_t len, const char *lit);

struct sn_mp_writer {
	uint8_t *buf; /* caller's buffer */
	size_t cap;   /* its size */
	size_t len;   /* bytes written so far */
	int err;      /* 0, or the first error (-EMSGSIZE); sticky */
};

void sn_mp_writer_init(struct sn_mp_writer *w, void *buf, size_t cap);
/* Bytes written, or the sticky error. */
int sn_mp_writer_result(const struct sn_mp_writer *w);

/* The writer's primitives are inline: a builder's keys and small integers are constants,
 * and inlined they become a few byte stores instead of a call and a memcpy each (callgrind:
 * two thirds of a find answer's instructions were in the writer). */

/* Room for n more bytes at the end: their start, or NULL (sticky error set). */
static inline uint8_t *sn_mp_reserve(struct sn_mp_writer *w, size_t n)
{
	if (w->err)
		return NULL;
	if (n > w->cap - w->len) {
		w->err = -EMSGSIZE;
		return NULL;
	}
	uint8_t *p = w->buf + w->len;
	w->len += n;
	return p;
}

/* Bytes that are already MessagePack (or a bin body). */
static inline void sn_mp_write_raw(struct sn_mp_writer *w, const void *p, size_t len)
{
	uint8_t *d = sn_mp_reserve(w, len);

	if (d && len)
		__builtin_memcpy(d, p, len);
}

/* Tag byte followed by an n-byte big-endian field. */
static inline void sn_mp_put_tag(struct sn_mp_writer *w, uint8_t tag, uint64_t v, unsigned n)
{
	uint8_t *d = sn_mp_reserve(w, 1 + (size_t)n);

	if (!d)
		return;
	d[0] = tag;
	for (unsigned i = 0; i < n; i++)
		d[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static inline void sn_mp_write_nil(struct sn_mp_writer *w)
{
	sn_mp_put_tag(w, 0xc0, 0, 0);
}

static inline void sn_mp_write_bool(struct sn_mp_writer *w, bool v)
{
	sn_mp_put_tag(w, v ? 0xc3 : 0xc2, 0, 0);
}

static inline void sn_mp_write_uint(struct sn_mp_writer *w, uint64_t v)
{
	if (v <= 0x7f)
		sn_mp_put_tag(w, (uint8_t)v, 0, 0);
	else if (v <= UINT8_MAX)
		sn_mp_put_tag(w, 0xcc, v, 1);
	else if (v <= UINT16_MAX)
		sn_mp_put_tag(w, 0xcd, v, 2);
	else if (v <= UINT32_MAX)
		sn_mp_put_tag(w, 0xce, v, 4);
	else
		sn_mp_put_tag(w, 0xcf, v, 8);
}

/* Non-negative values take the unsigned encodings, as msgpack-c does. */
void sn_mp_write_int(struct sn_mp_writer *w, int64_t v);

static inline void sn_mp_write_str(struct sn_mp_writer *w, const char *s, uint32_t len)
{
	if (len <= 31) {
		/* tag and body in one reservation: a fixstr key is one check and two stores */
		uint8_t *d = sn_mp_reserve(w, 1 + (size_t)len);

		if (d) {
			d[0] = (uint8_t)(0xa0 | len);
			if (len)
				__builtin_memcpy(d + 1, s, len);
		}
		return;
	}
	if (len <= UINT8_MAX)
		sn_mp_put_tag(w, 0xd9, len, 1);
	else if (len <= UINT16_MAX)
		sn_mp_put_tag(w, 0xda, len, 2);
	else
		sn_mp_put_tag(w, 0xdb, len, 4);
	sn_mp_write_raw(w, s, len);
}

void sn_mp_write_cstr(struct sn_mp_writer *w, const char *s);

/* Header only; the caller appends len bytes with sn_mp_write_raw(). */
static inline void sn_mp_write_bin_header(struct sn_mp_writer *w, uint32_t len)
{
	if (len <= UINT8_MAX)
		sn_mp_put_tag(w, 0xc4, len, 1);
	else if (len <= UINT16_MAX)
		sn_mp_put_tag(w, 0xc5, len, 2);
	else
		sn_mp_put_tag(w, 0xc6, len, 4);
}

static inline void sn_mp_write_bin(struct sn_mp_writer *w, const void *p, uint32_t len)
{
	sn_mp_write_bin_header(w, len);
	sn_mp_write_raw(w, p, len);
}

/* Container headers. */
static inline void sn_mp_write_array(struct sn_mp_writer *w, uint32_t n)
{
	if (n <= 15)
		sn_mp_put_tag(w, (uint8_t)(0x90 | n), 0, 0);
	else if (n <= UINT16_MAX)
		sn_mp_put_tag(w, 0xdc, n, 2);
	else
		sn_mp_put_tag(w, 0xdd, n, 4);
}

static inline void sn_mp_write_map(struct sn_mp_writer *w, uint32_t n)
{
	if (n <= 15)
		sn_mp_put_tag(w, (uint8_t)(0x80 | n), 0, 0);
	else if (n <= UINT16_MAX)
		sn_mp_put_tag(w, 0xde, n, 2);
	else
		sn_mp_put_tag(w, 0xdf, n, 4);
}

#endif
