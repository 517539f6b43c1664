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

/* Type of the next value (enum sn_mp_type), or -ENODATA at the end, -EBADMSG for 0xc1. */
int sn_mp_peek(const struct sn_mp_reader *r);

int sn_mp_read_nil(struct sn_mp_reader *r);
int sn_mp_read_bool(struct sn_mp_reader *r, bool *v);
/* Any integer encoding holding a value >= 0. */
int sn_mp_read_uint(struct sn_mp_reader *r, uint64_t *v);
/* Any integer encoding holding a value that fits int64_t. */
int sn_mp_read_int(struct sn_mp_reader *r, int64_t *v);
/* uint read bounded by max (inclusive); -ERANGE above it. */
int sn_mp_read_uint_max(struct sn_mp_reader *r, uint64_t max, uint64_t *v);
int sn_mp_read_str(struct sn_mp_reader *r, const char **s, uint32_t *len);
int sn_mp_read_bin(struct sn_mp_reader *r, const uint8_t **p, uint32_t *len);
/* Container headers: *n elements (array) or key/value pairs (map) follow. */
int sn_mp_read_array(struct sn_mp_reader *r, uint32_t *n);
int sn_mp_read_map(struct sn_mp_reader *r, uint32_t *n);
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

void sn_mp_write_nil(struct sn_mp_writer *w);
void sn_mp_write_bool(struct sn_mp_writer *w, bool v);
void sn_mp_write_uint(struct sn_mp_writer *w, uint64_t v);
/* Non-negative values take the unsigned encodings, as msgpack-c does. */
void sn_mp_write_int(struct sn_mp_writer *w, int64_t v);
void sn_mp_write_str(struct sn_mp_writer *w, const char *s, uint32_t len);
void sn_mp_write_cstr(struct sn_mp_writer *w, const char *s);
void sn_mp_write_bin(struct sn_mp_writer *w, const void *p, uint32_t len);
/* Header only; the caller appends len bytes with sn_mp_write_raw(). */
void sn_mp_write_bin_header(struct sn_mp_writer *w, uint32_t len);
void sn_mp_write_array(struct sn_mp_writer *w, uint32_t n);
void sn_mp_write_map(struct sn_mp_writer *w, uint32_t n);
/* Bytes that are already MessagePack (or a bin body). */
void sn_mp_write_raw(struct sn_mp_writer *w, const void *p, size_t len);

#endif
