/* test_token.c: SipHash against the reference vectors; write tokens and their expiry with
 * secret rotation. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "token.h"

/* From the SipHash reference implementation (vectors.h): key 00..0f, message 00..len-1. */
static const struct {
	size_t len;
	uint8_t h64[8];
	uint8_t h128[16];
} vectors[] = {
    {0,
     {0x31, 0x0e, 0x0e, 0xdd, 0x47, 0xdb, 0x6f, 0x72},
     {0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6, 0x6d, 0xf6, 0x72, 0x14, 0xc7, 0x55, 0x02,
      0x93}},
    {1,
     {0xfd, 0x67, 0xdc, 0x93, 0xc5, 0x39, 0xf8, 0x74},
     {0xda, 0x87, 0xc1, 0xd8, 0x6b, 0x99, 0xaf, 0x44, 0x34, 0x76, 0x59, 0x11, 0x9b, 0x22, 0xfc,
      0x45}},
    {7,
     {0x37, 0xd1, 0x01, 0x8b, 0xf5, 0x00, 0x02, 0xab},
     {0xa1, 0xf1, 0xeb, 0xbe, 0xd8, 0xdb, 0xc1, 0x53, 0xc0, 0xb8, 0x4a, 0xa6, 0x1f, 0xf0, 0x82,
      0x39}},
    {8,
     {0x62, 0x24, 0x93, 0x9a, 0x79, 0xf5, 0xf5, 0x93},
     {0x3b, 0x62, 0xa9, 0xba, 0x62, 0x58, 0xf5, 0x61, 0x0f, 0x83, 0xe2, 0x64, 0xf3, 0x14, 0x97,
      0xb4}},
    {15,
     {0xe5, 0x45, 0xbe, 0x49, 0x61, 0xca, 0x29, 0xa1},
     {0x54, 0x93, 0xe9, 0x99, 0x33, 0xb0, 0xa8, 0x11, 0x7e, 0x08, 0xec, 0x0f, 0x97, 0xcf, 0xc3,
      0xd9}},
    {63,
     {0x72, 0x45, 0x06, 0xeb, 0x4c, 0x32, 0x8a, 0x95},
     {0x51, 0x50, 0xd1, 0x77, 0x2f, 0x50, 0x83, 0x4a, 0x50, 0x3e, 0x06, 0x9a, 0x97, 0x3f, 0xbd,
      0x7c}},
};

Test(siphash, reference_vectors)
{
	uint8_t key[16], msg[64], out[16];

	for (unsigned i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (unsigned i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	for (size_t v = 0; v < sizeof(vectors) / sizeof(vectors[0]); v++) {
		uint64_t h = sn_siphash24_64(key, msg, vectors[v].len);
		uint8_t le[8];

		for (unsigned i = 0; i < 8; i++)
			le[i] = (uint8_t)(h >> (8 * i));
		cr_assert(memcmp(le, vectors[v].h64, 8) == 0, "siphash64 len %zu", vectors[v].len);
		sn_siphash24_128(key, msg, vectors[v].len, out);
		cr_assert(memcmp(out, vectors[v].h128, 16) == 0, "siphash128 len %zu",
			  vectors[v].len);
	}
}

static void secret(uint8_t s[SN_TOKEN_SECRET_LEN], uint8_t seed)
{
	for (unsigned i = 0; i < SN_TOKEN_SECRET_LEN; i++)
		s[i] = (uint8_t)(seed * 31 + i * 7);
}

static struct sn_node_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
	struct sn_node_addr x = {.family = AF_INET, .port = __builtin_bswap16(port)};

	x.addr[0] = a;
	x.addr[1] = b;
	x.addr[2] = c;
	x.addr[3] = d;
	return x;
}

Test(token, deterministic_and_address_bound)
{
	struct sn_token_secrets s;
	uint8_t sec[SN_TOKEN_SECRET_LEN], t1[SN_TOKEN_LEN], t2[SN_TOKEN_LEN];
	struct sn_node_addr a = v4(198, 18, 0, 2, 4222), b;

	secret(sec, 1);
	sn_token_init(&s, sec);
	cr_assert_eq(sn_token_make(&s, &a, t1), 0);
	cr_assert_eq(sn_token_make(&s, &a, t2), 0);
	cr_assert(memcmp(t1, t2, SN_TOKEN_LEN) == 0);
	cr_assert_eq(sn_token_check(&s, &a, t1, sizeof(t1)), 0);

	/* another port, another address, another family: another token, refused */
	b = v4(198, 18, 0, 2, 4223);
	cr_assert_eq(sn_token_check(&s, &b, t1, sizeof(t1)), -EACCES);
	sn_token_make(&s, &b, t2);
	cr_assert(memcmp(t1, t2, SN_TOKEN_LEN) != 0);
	b = v4(198, 18, 0, 3, 4222);
	cr_assert_eq(sn_token_check(&s, &b, t1, sizeof(t1)), -EACCES);
	memset(&b, 0, sizeof(b));
	b.family = AF_INET6;
	b.port = a.port;
	memcpy(b.addr, a.addr, 4);
	cr_assert_eq(sn_token_check(&s, &b, t1, sizeof(t1)), -EACCES);

	/* every single-bit change is refused */
	for (unsigned i = 0; i < 8 * SN_TOKEN_LEN; i++) {
		memcpy(t2, t1, SN_TOKEN_LEN);
		t2[i / 8] ^= (uint8_t)(1u << (i % 8));
		cr_assert_eq(sn_token_check(&s, &a, t2, sizeof(t2)), -EACCES);
	}
	cr_assert_eq(sn_token_check(&s, &a, t1, SN_TOKEN_LEN - 1), -EINVAL);
	cr_assert_eq(sn_token_check(&s, &a, t1, 0), -EINVAL);
	b.family = AF_UNIX;
	cr_assert_eq(sn_token_make(&s, &b, t2), -EAFNOSUPPORT);
	cr_assert_eq(sn_token_check(&s, &b, t1, sizeof(t1)), -EAFNOSUPPORT);
}

Test(token, another_secret_another_token)
{
	struct sn_token_secrets s1, s2;
	uint8_t sec[SN_TOKEN_SECRET_LEN], t1[SN_TOKEN_LEN], t2[SN_TOKEN_LEN];
	struct sn_node_addr a = v4(10, 1, 2, 3, 4222);

	secret(sec, 1);
	sn_token_init(&s1, sec);
	secret(sec, 2);
	sn_token_init(&s2, sec);
	sn_token_make(&s1, &a, t1);
	sn_token_make(&s2, &a, t2);
	cr_assert(memcmp(t1, t2, SN_TOKEN_LEN) != 0);
	cr_assert_eq(sn_token_check(&s2, &a, t1, sizeof(t1)), -EACCES);
}

Test(token, expires_after_two_rotations)
{
	struct sn_token_secrets s;
	uint8_t sec[SN_TOKEN_SECRET_LEN], t0[SN_TOKEN_LEN], t1[SN_TOKEN_LEN];
	struct sn_node_addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET6;
	a.port = __builtin_bswap16(4222);
	a.addr[0] = 0x20;
	a.addr[1] = 0x01;
	a.addr[2] = 0x0d;
	a.addr[3] = 0xb8;
	a.addr[15] = 2;
	secret(sec, 1);
	sn_token_init(&s, sec);
	sn_token_make(&s, &a, t0);
	cr_assert_eq(sn_token_check(&s, &a, t0, sizeof(t0)), 0);

	secret(sec, 2);
	sn_token_rotate(&s, sec);
	cr_assert_eq(s.rotations, 1);
	/* one rotation ago: still accepted, as the previous secret */
	cr_assert_eq(sn_token_check(&s, &a, t0, sizeof(t0)), 1);
	sn_token_make(&s, &a, t1);
	cr_assert(memcmp(t0, t1, SN_TOKEN_LEN) != 0);
	cr_assert_eq(sn_token_check(&s, &a, t1, sizeof(t1)), 0);

	secret(sec, 3);
	sn_token_rotate(&s, sec);
	/* two rotations ago: refused */
	cr_assert_eq(sn_token_check(&s, &a, t0, sizeof(t0)), -EACCES);
	cr_assert_eq(sn_token_check(&s, &a, t1, sizeof(t1)), 1);

	secret(sec, 4);
	sn_token_rotate(&s, sec);
	cr_assert_eq(sn_token_check(&s, &a, t1, sizeof(t1)), -EACCES);
}
