/* test_msgpack.c: the strict msgpack reader and writer, checked against msgpack-c as an
 * independent oracle (its packer for encodings, its unpacker for decoding) and against
 * hostile headers, truncation and deep nesting. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "msgpack.h"

#ifdef SN_HAVE_MSGPACK_C
/* msgpack-c's headers by path: "msgpack.h" is ours */
#include <msgpack/object.h>
#include <msgpack/pack.h>
#include <msgpack/sbuffer.h>
#include <msgpack/unpack.h>
#endif

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* --- reader basics --- */

Test(msgpack_reader, scalars)
{
	static const uint8_t buf[] = {
	    0xc0,						  /* nil */
	    0xc3, 0xc2,						  /* true false */
	    0x7f,						  /* 127 */
	    0xcc, 0xff,						  /* 255 */
	    0xcd, 0x01, 0x00,					  /* 256 */
	    0xce, 0xff, 0xff, 0xff, 0xff,			  /* uint32 max */
	    0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* uint64 max */
	    0xe0,						  /* -32 */
	    0xd0, 0x80,						  /* -128 */
	    0xd1, 0x80, 0x00,					  /* -32768 */
	    0xd2, 0x80, 0x00, 0x00, 0x00,			  /* int32 min */
	    0xd3, 0x80, 0,    0,    0,	  0,	0,    0,    0,	  /* int64 min */
	    0xd0, 0x05,						  /* 5 as int8 */
	    0xa3, 'a',	'b',  'c',				  /* "abc" */
	    0xc4, 0x02, 0x01, 0x02,				  /* bin 2 */
	};
	struct sn_mp_reader r;
	uint64_t u;
	int64_t i;
	bool b;
	const char *s;
	const uint8_t *p;
	uint32_t len;

	sn_mp_reader_init(&r, buf, sizeof(buf));
	cr_assert_eq(sn_mp_peek(&r), SN_MP_NIL);
	cr_assert_eq(sn_mp_read_nil(&r), 0);
	cr_assert_eq(sn_mp_read_bool(&r, &b), 0);
	cr_assert(b);
	cr_assert_eq(sn_mp_read_bool(&r, &b), 0);
	cr_assert(!b);
	cr_assert_eq(sn_mp_read_uint(&r, &u), 0);
	cr_assert_eq(u, 127);
	cr_assert_eq(sn_mp_read_uint(&r, &u), 0);
	cr_assert_eq(u, 255);
	cr_assert_eq(sn_mp_read_uint_max(&r, 255, &u), -ERANGE);
	cr_assert_eq(sn_mp_read_uint(&r, &u), 0);
	cr_assert_eq(u, 256);
	cr_assert_eq(sn_mp_read_uint(&r, &u), 0);
	cr_assert_eq(u, UINT32_MAX);
	cr_assert_eq(sn_mp_read_int(&r, &i), -ERANGE);
	cr_assert_eq(sn_mp_read_uint(&r, &u), 0);
	cr_assert_eq(u, UINT64_MAX);
	cr_assert_eq(sn_mp_read_uint(&r, &u), -ERANGE);
	cr_assert_eq(sn_mp_read_int(&r, &i), 0);
	cr_assert_eq(i, -32);
	cr_assert_eq(sn_mp_read_int(&r, &i), 0);
	cr_assert_eq(i, -128);
	cr_assert_eq(sn_mp_read_int(&r, &i), 0);
	cr_assert_eq(i, -32768);
	cr_assert_eq(sn_mp_read_int(&r, &i), 0);
	cr_assert_eq(i, INT32_MIN);
	cr_assert_eq(sn_mp_read_int(&r, &i), 0);
	cr_assert_eq(i, INT64_MIN);
	cr_assert_eq(sn_mp_read_uint(&r, &u), 0); /* a signed encoding of a positive value */
	cr_assert_eq(u, 5);
	cr_assert_eq(sn_mp_read_bin(&r, &p, &len), -ENOMSG);
	cr_assert_eq(sn_mp_read_str(&r, &s, &len), 0);
	cr_assert_eq(len, 3);
	cr_assert(sn_mp_str_eq(s, len, "abc"));
	cr_assert(!sn_mp_str_eq(s, len, "ab"));
	cr_assert_eq(sn_mp_read_bin(&r, &p, &len), 0);
	cr_assert_eq(len, 2);
	cr_assert_eq(p[1], 2);
	cr_assert_eq(sn_mp_remaining(&r), 0);
	cr_assert_eq(sn_mp_peek(&r), -ENODATA);
	cr_assert_eq(sn_mp_read_nil(&r), -ENODATA);
}

Test(msgpack_reader, failed_read_leaves_cursor)
{
	static const uint8_t buf[] = {0xa2, 'h', 'i'};
	struct sn_mp_reader r;
	uint64_t u;
	uint32_t n;

	sn_mp_reader_init(&r, buf, sizeof(buf));
	cr_assert_eq(sn_mp_read_uint(&r, &u), -ENOMSG);
	cr_assert_eq(sn_mp_read_map(&r, &n), -ENOMSG);
	cr_assert_eq(sn_mp_read_array(&r, &n), -ENOMSG);
	cr_assert_eq(r.pos, buf);
}

Test(msgpack_reader, reserved_byte)
{
	static const uint8_t buf[] = {0xc1};
	struct sn_mp_reader r;

	sn_mp_reader_init(&r, buf, sizeof(buf));
	cr_assert_eq(sn_mp_peek(&r), -EBADMSG);
	cr_assert_eq(sn_mp_skip(&r, 4), -EBADMSG);
}

Test(msgpack_reader, declared_lengths_bounded)
{
	/* each declares more than the buffer holds */
	static const uint8_t str32[] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'x'};
	static const uint8_t bin16[] = {0xc5, 0x00, 0x10, 1, 2, 3};
	static const uint8_t fixstr[] = {0xa5, 'a', 'b'};
	static const uint8_t arr32[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0};
	static const uint8_t arr_fix[] = {0x93, 0xc0, 0xc0};
	static const uint8_t map16[] = {0xde, 0x00, 0x02, 0xc0, 0xc0, 0xc0};
	static const uint8_t map_fix[] = {0x81, 0xc0};
	static const uint8_t ext32[] = {0xc9, 0x00, 0x00, 0x00, 0x02, 0x01, 0xaa};
	static const uint8_t fixext[] = {0xd7, 0x01, 0, 0, 0};
	static const uint8_t uint32[] = {0xce, 0, 0};
	static const uint8_t len_cut[] = {0xc6, 0, 0};
	struct sn_mp_reader r;
	const char *s;
	const uint8_t *p;
	uint32_t n;

	sn_mp_reader_init(&r, str32, sizeof(str32));
	cr_assert_eq(sn_mp_read_str(&r, &s, &n), -EMSGSIZE);
	cr_assert_eq(sn_mp_skip(&r, 1), -EMSGSIZE);
	sn_mp_reader_init(&r, bin16, sizeof(bin16));
	cr_assert_eq(sn_mp_read_bin(&r, &p, &n), -EMSGSIZE);
	sn_mp_reader_init(&r, fixstr, sizeof(fixstr));
	cr_assert_eq(sn_mp_read_str(&r, &s, &n), -EMSGSIZE);
	sn_mp_reader_init(&r, arr32, sizeof(arr32));
	cr_assert_eq(sn_mp_read_array(&r, &n), -EMSGSIZE);
	sn_mp_reader_init(&r, arr_fix, sizeof(arr_fix));
	cr_assert_eq(sn_mp_read_array(&r, &n), -EMSGSIZE);
	sn_mp_reader_init(&r, map16, sizeof(map16));
	cr_assert_eq(sn_mp_read_map(&r, &n), -EMSGSIZE);
	sn_mp_reader_init(&r, map_fix, sizeof(map_fix));
	cr_assert_eq(sn_mp_read_map(&r, &n), -EMSGSIZE);
	sn_mp_reader_init(&r, ext32, sizeof(ext32));
	cr_assert_eq(sn_mp_skip(&r, 1), -EMSGSIZE);
	sn_mp_reader_init(&r, fixext, sizeof(fixext));
	cr_assert_eq(sn_mp_skip(&r, 1), -ENODATA);
	sn_mp_reader_init(&r, uint32, sizeof(uint32));
	cr_assert_eq(sn_mp_skip(&r, 1), -ENODATA);
	sn_mp_reader_init(&r, len_cut, sizeof(len_cut));
	cr_assert_eq(sn_mp_skip(&r, 1), -ENODATA);
	cr_assert_eq(r.pos, len_cut);
}

Test(msgpack_reader, skip_depth_limit)
{
	uint8_t buf[64];
	struct sn_mp_reader r;

	/* [[[[...[nil]...]]]] with 40 arrays */
	for (unsigned i = 0; i < 40; i++)
		buf[i] = 0x91;
	buf[40] = 0xc0;
	for (unsigned d = 1; d <= 40; d++) {
		/* the innermost d arrays */
		const uint8_t *start = buf + 40 - d;

		sn_mp_reader_init(&r, start, d + 1);
		if (d <= SN_MP_MAX_DEPTH) {
			cr_assert_eq(sn_mp_skip(&r, d - 1), -ELOOP, "depth %u", d);
			cr_assert_eq(r.pos, start);
			cr_assert_eq(sn_mp_skip(&r, d), 0, "depth %u", d);
			cr_assert_eq(sn_mp_remaining(&r), 0);
		} else {
			cr_assert_eq(sn_mp_skip(&r, 1000), -ELOOP, "depth %u", d);
		}
	}
	/* scalars need no depth; an empty container still counts as one level */
	sn_mp_reader_init(&r, buf + 40, 1);
	cr_assert_eq(sn_mp_skip(&r, 0), 0);
	buf[0] = 0x80;
	sn_mp_reader_init(&r, buf, 1);
	cr_assert_eq(sn_mp_skip(&r, 0), -ELOOP);
	cr_assert_eq(sn_mp_skip(&r, 1), 0);
}

Test(msgpack_reader, skip_every_type)
{
	static const uint8_t buf[] = {
	    0x82,					       /* map of 2 */
	    0xa1, 'k',	0xca, 0x3f, 0x80, 0x00, 0x00,	       /* "k": 1.0f */
	    0xd4, 0x01, 0x02,				       /* fixext1 as a key */
	    0x92, 0xcb, 0,    0,    0,	  0,	0,    0, 0, 0, /* [0.0, */
	    0xc7, 0x02, 0x05, 0xaa, 0xbb,		       /*  ext8] */
	    0xff,					       /* then -1 */
	};
	struct sn_mp_reader r;
	int64_t i;

	sn_mp_reader_init(&r, buf, sizeof(buf));
	cr_assert_eq(sn_mp_skip(&r, 2), 0);
	cr_assert_eq(sn_mp_read_int(&r, &i), 0);
	cr_assert_eq(i, -1);
}

Test(msgpack_reader, every_prefix_fails)
{
	uint8_t buf[256];
	struct sn_mp_writer w;
	struct sn_mp_reader r;
	int len;

	sn_mp_writer_init(&w, buf, sizeof(buf));
	sn_mp_write_map(&w, 3);
	sn_mp_write_cstr(&w, "a");
	sn_mp_write_array(&w, 3);
	sn_mp_write_uint(&w, 70000);
	sn_mp_write_int(&w, -70000);
	sn_mp_write_bin(&w, "0123456789", 10);
	sn_mp_write_cstr(&w, "long key for str8 encoding, over 31 bytes");
	sn_mp_write_nil(&w);
	sn_mp_write_cstr(&w, "m");
	sn_mp_write_map(&w, 1);
	sn_mp_write_bool(&w, true);
	sn_mp_write_uint(&w, UINT64_MAX);
	len = sn_mp_writer_result(&w);
	cr_assert_gt(len, 0);
	sn_mp_reader_init(&r, buf, (size_t)len);
	cr_assert_eq(sn_mp_skip(&r, 4), 0);
	for (int cut = 0; cut < len; cut++) {
		int rc;

		sn_mp_reader_init(&r, buf, (size_t)cut);
		rc = sn_mp_skip(&r, 4);
		cr_assert(rc == -ENODATA || rc == -EMSGSIZE, "cut %d: %d", cut, rc);
		cr_assert_eq(r.pos, buf);
	}
}

/* --- writer --- */

Test(msgpack_writer, capacity_is_sticky)
{
	uint8_t buf[8];
	struct sn_mp_writer w;

	sn_mp_writer_init(&w, buf, sizeof(buf));
	sn_mp_write_cstr(&w, "abcd");  /* 5 bytes */
	sn_mp_write_uint(&w, 0x10000); /* 5 more: does not fit */
	sn_mp_write_nil(&w);	       /* would fit, but the error stays */
	cr_assert_eq(sn_mp_writer_result(&w), -EMSGSIZE);
	cr_assert_eq(w.len, 5);

	sn_mp_writer_init(&w, buf, sizeof(buf));
	sn_mp_write_bin(&w, "1234567", 6); /* 8 bytes exactly */
	cr_assert_eq(sn_mp_writer_result(&w), 8);
	sn_mp_writer_init(&w, NULL, 0);
	sn_mp_write_nil(&w);
	cr_assert_eq(sn_mp_writer_result(&w), -EMSGSIZE);
}

Test(msgpack_writer, smallest_encodings)
{
	static const struct {
		uint64_t v;
		uint8_t len;
		uint8_t tag;
	} u[] = {
	    {0, 1, 0x00},     {127, 1, 0x7f},	     {128, 2, 0xcc},
	    {255, 2, 0xcc},   {256, 3, 0xcd},	     {65535, 3, 0xcd},
	    {65536, 5, 0xce}, {UINT32_MAX, 5, 0xce}, {1ull << 32, 9, 0xcf},
	};
	static const struct {
		int64_t v;
		uint8_t len;
		uint8_t tag;
	} s[] = {
	    {-1, 1, 0xff},     {-32, 1, 0xe0},	     {-33, 2, 0xd0},
	    {-128, 2, 0xd0},   {-129, 3, 0xd1},	     {-32768, 3, 0xd1},
	    {-32769, 5, 0xd2}, {INT32_MIN, 5, 0xd2}, {(int64_t)INT32_MIN - 1, 9, 0xd3},
	    {5, 1, 0x05},      {200, 2, 0xcc},
	};
	uint8_t buf[16];
	struct sn_mp_writer w;

	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
		sn_mp_writer_init(&w, buf, sizeof(buf));
		sn_mp_write_uint(&w, u[i].v);
		cr_assert_eq(sn_mp_writer_result(&w), u[i].len, "uint %lu", (unsigned long)u[i].v);
		cr_assert_eq(buf[0], u[i].tag);
	}
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		sn_mp_writer_init(&w, buf, sizeof(buf));
		sn_mp_write_int(&w, s[i].v);
		cr_assert_eq(sn_mp_writer_result(&w), s[i].len, "int %ld", (long)s[i].v);
		cr_assert_eq(buf[0], s[i].tag);
	}
}

#ifdef SN_HAVE_MSGPACK_C

/* One value written by us and by msgpack-c's packer must be the same bytes. */
enum kind { K_UINT, K_INT, K_STR, K_BIN, K_ARRAY, K_MAP, K_NIL, K_BOOL };

static void both(struct sn_mp_writer *w, msgpack_packer *pk, enum kind k, uint64_t v,
		 const char *data)
{
	switch (k) {
	case K_UINT:
		sn_mp_write_uint(w, v);
		msgpack_pack_uint64(pk, v);
		break;
	case K_INT:
		sn_mp_write_int(w, (int64_t)v);
		msgpack_pack_int64(pk, (int64_t)v);
		break;
	case K_STR:
		sn_mp_write_str(w, data, (uint32_t)v);
		msgpack_pack_str(pk, v);
		msgpack_pack_str_body(pk, data, v);
		break;
	case K_BIN:
		sn_mp_write_bin(w, data, (uint32_t)v);
		msgpack_pack_bin(pk, v);
		msgpack_pack_bin_body(pk, data, v);
		break;
	case K_ARRAY:
		sn_mp_write_array(w, (uint32_t)v);
		msgpack_pack_array(pk, v);
		break;
	case K_MAP:
		sn_mp_write_map(w, (uint32_t)v);
		msgpack_pack_map(pk, v);
		break;
	case K_NIL:
		sn_mp_write_nil(w);
		msgpack_pack_nil(pk);
		break;
	case K_BOOL:
		sn_mp_write_bool(w, v);
		if (v)
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
		break;
	}
}

Test(msgpack_oracle, writer_matches_msgpack_c)
{
	static const uint64_t uints[] = {
	    0,	       1,     31,    32,    127,	128,	    255,
	    256,       65535, 65536, 70000, UINT32_MAX, 1ull << 32, UINT64_MAX - 1,
	    UINT64_MAX};
	static const int64_t ints[] = {0,
				       -1,
				       -31,
				       -32,
				       -33,
				       -127,
				       -128,
				       -129,
				       -32767,
				       -32768,
				       -32769,
				       INT32_MIN,
				       (int64_t)INT32_MIN - 1,
				       INT64_MIN,
				       INT64_MAX,
				       100,
				       1000,
				       100000,
				       5000000000};
	static const uint64_t lens[] = {0, 1, 15, 16, 31, 32, 255, 256, 65535, 65536, 70000};
	char *data = malloc(70000);
	size_t cap = 1 << 20;
	uint8_t *buf = malloc(cap);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct sn_mp_writer w;

	cr_assert(data && buf);
	for (size_t i = 0; i < 70000; i++)
		data[i] = (char)rnd();
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	sn_mp_writer_init(&w, buf, cap);
	for (size_t i = 0; i < sizeof(uints) / sizeof(uints[0]); i++)
		both(&w, &pk, K_UINT, uints[i], NULL);
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		both(&w, &pk, K_INT, (uint64_t)ints[i], NULL);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		both(&w, &pk, K_STR, lens[i], data);
		both(&w, &pk, K_BIN, lens[i], data);
		both(&w, &pk, K_ARRAY, lens[i], NULL);
		both(&w, &pk, K_MAP, lens[i], NULL);
	}
	both(&w, &pk, K_NIL, 0, NULL);
	both(&w, &pk, K_BOOL, 0, NULL);
	both(&w, &pk, K_BOOL, 1, NULL);
	cr_assert_eq(sn_mp_writer_result(&w), (int)sb.size);
	cr_assert(memcmp(buf, sb.data, sb.size) == 0);
	msgpack_sbuffer_destroy(&sb);
	free(buf);
	free(data);
}

/* Writes one random valid value, choosing wider encodings than needed at random so that
 * the reader meets every form a peer may send. */
static void gen(uint8_t *buf, size_t *len, size_t cap, unsigned depth)
{
	unsigned kind = (unsigned)(rnd() % (depth ? 12 : 9));
	uint8_t tmp[16];
	size_t n = 0, body = 0;
	uint64_t v = rnd(), payload = rnd();

	if (*len + 64 > cap)
		kind = 0;
	switch (kind) {
	case 0:
		tmp[n++] = 0xc0;
		break;
	case 1:
		tmp[n++] = (v & 1) ? 0xc3 : 0xc2;
		break;
	case 2: /* unsigned in some width */
		switch (v % 5) {
		case 0:
			tmp[n++] = (uint8_t)(v >> 8) & 0x7f;
			break;
		default: {
			unsigned wdt = 1u << (v % 5 - 1);

			tmp[n++] = (uint8_t)(0xcc + v % 5 - 1);
			for (unsigned i = 0; i < wdt; i++)
				tmp[n++] = (uint8_t)(payload >> (8 * i));
		}
		}
		break;
	case 3: /* signed in some width */
		switch (v % 5) {
		case 0:
			tmp[n++] = (uint8_t)(0xe0 | ((v >> 8) & 0x1f));
			break;
		default: {
			unsigned wdt = 1u << (v % 5 - 1);

			tmp[n++] = (uint8_t)(0xd0 + v % 5 - 1);
			for (unsigned i = 0; i < wdt; i++)
				tmp[n++] = (uint8_t)(payload >> (8 * i));
		}
		}
		break;
	case 4:
		tmp[n++] = 0xca;
		memset(tmp + n, 0x3f, 4);
		n += 4;
		break;
	case 5:
		tmp[n++] = 0xcb;
		memset(tmp + n, 0x40, 8);
		n += 8;
		break;
	case 6: /* str */
	case 7: /* bin */
		body = (v >> 8) % 40;
		if (kind == 6 && (v & 3) == 0 && body < 32) {
			tmp[n++] = (uint8_t)(0xa0 | body);
		} else {
			unsigned form = (unsigned)((v >> 4) % 3);

			tmp[n++] = (uint8_t)((kind == 6 ? 0xd9 : 0xc4) + form);
			for (unsigned i = 0; i < (1u << form); i++)
				tmp[n++] = (uint8_t)(body >> (8 * ((1u << form) - 1 - i)));
		}
		break;
	case 8: /* ext */
		if (v & 1) {
			tmp[n++] = (uint8_t)(0xd4 + (v >> 1) % 5);
			body = 1 + (1u << ((v >> 1) % 5));
		} else {
			body = 1 + (v >> 8) % 20;
			tmp[n++] = 0xc7;
			tmp[n++] = (uint8_t)(body - 1);
		}
		break;
	default: { /* array or map */
		bool map = kind == 11;
		unsigned cnt = (unsigned)((v >> 8) % 5);
		unsigned form = (unsigned)((v >> 4) % 3);

		if (form == 0) {
			tmp[n++] = (uint8_t)((map ? 0x80 : 0x90) | cnt);
		} else {
			tmp[n++] = (uint8_t)((map ? 0xde : 0xdc) + form - 1);
			for (unsigned i = 0; i < 2u * form; i++)
				tmp[n++] = (uint8_t)(cnt >> (8 * (2 * form - 1 - i)));
		}
		memcpy(buf + *len, tmp, n);
		*len += n;
		for (unsigned i = 0; i < cnt * (map ? 2u : 1u); i++)
			gen(buf, len, cap, depth - 1);
		return;
	}
	}
	memcpy(buf + *len, tmp, n);
	*len += n;
	for (size_t i = 0; i < body; i++)
		buf[(*len)++] = (uint8_t)rnd();
}

/* Walks our reader over the bytes msgpack-c decoded into o; every value must agree. */
static void walk(struct sn_mp_reader *r, const msgpack_object *o)
{
	uint64_t u;
	int64_t i;
	bool b;
	const char *s;
	const uint8_t *p;
	uint32_t n;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		cr_assert_eq(sn_mp_read_nil(r), 0);
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		cr_assert_eq(sn_mp_read_bool(r, &b), 0);
		cr_assert_eq(b, o->via.boolean);
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		cr_assert_eq(sn_mp_read_uint(r, &u), 0);
		cr_assert_eq(u, o->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		cr_assert_eq(sn_mp_read_int(r, &i), 0);
		cr_assert_eq(i, o->via.i64);
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		cr_assert_eq(sn_mp_peek(r), SN_MP_FLOAT);
		cr_assert_eq(sn_mp_skip(r, 0), 0);
		break;
	case MSGPACK_OBJECT_STR:
		cr_assert_eq(sn_mp_read_str(r, &s, &n), 0);
		cr_assert_eq(n, o->via.str.size);
		cr_assert(n == 0 || memcmp(s, o->via.str.ptr, n) == 0);
		break;
	case MSGPACK_OBJECT_BIN:
		cr_assert_eq(sn_mp_read_bin(r, &p, &n), 0);
		cr_assert_eq(n, o->via.bin.size);
		cr_assert(n == 0 || memcmp(p, o->via.bin.ptr, n) == 0);
		break;
	case MSGPACK_OBJECT_EXT:
		cr_assert_eq(sn_mp_peek(r), SN_MP_EXT);
		cr_assert_eq(sn_mp_skip(r, 0), 0);
		break;
	case MSGPACK_OBJECT_ARRAY:
		cr_assert_eq(sn_mp_read_array(r, &n), 0);
		cr_assert_eq(n, o->via.array.size);
		for (uint32_t k = 0; k < n; k++)
			walk(r, &o->via.array.ptr[k]);
		break;
	case MSGPACK_OBJECT_MAP:
		cr_assert_eq(sn_mp_read_map(r, &n), 0);
		cr_assert_eq(n, o->via.map.size);
		for (uint32_t k = 0; k < n; k++) {
			walk(r, &o->via.map.ptr[k].key);
			walk(r, &o->via.map.ptr[k].val);
		}
		break;
	}
}

Test(msgpack_oracle, reader_matches_msgpack_c)
{
	static uint8_t buf[1 << 16];
	msgpack_unpacked res;
	unsigned checked = 0;

	msgpack_unpacked_init(&res);
	for (unsigned iter = 0; iter < 3000; iter++) {
		size_t len = 0, off = 0;
		struct sn_mp_reader r;
		msgpack_unpack_return ret;

		gen(buf, &len, sizeof(buf), 5);
		ret = msgpack_unpack_next(&res, (const char *)buf, len, &off);
		cr_assert_eq(ret, MSGPACK_UNPACK_SUCCESS, "iter %u", iter);
		cr_assert_eq(off, len);
		sn_mp_reader_init(&r, buf, len);
		walk(&r, &res.data);
		cr_assert_eq(sn_mp_remaining(&r), 0);
		sn_mp_reader_init(&r, buf, len);
		cr_assert_eq(sn_mp_skip(&r, 8), 0);
		cr_assert_eq(sn_mp_remaining(&r), 0);

		/* truncated anywhere: msgpack-c wants more, we refuse */
		for (size_t cut = 0; cut < len; cut += 1 + len / 16) {
			int rc;

			off = 0;
			ret = msgpack_unpack_next(&res, (const char *)buf, cut, &off);
			cr_assert_eq(ret, MSGPACK_UNPACK_CONTINUE, "iter %u cut %zu", iter, cut);
			sn_mp_reader_init(&r, buf, cut);
			rc = sn_mp_skip(&r, 8);
			cr_assert(rc == -ENODATA || rc == -EMSGSIZE, "iter %u cut %zu", iter, cut);
		}
		checked++;
	}
	msgpack_unpacked_destroy(&res);
	cr_assert_eq(checked, 3000);
}

#endif /* SN_HAVE_MSGPACK_C */
