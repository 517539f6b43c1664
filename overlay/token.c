/* token.c: see token.h. SipHash written from the paper's description. */
#include "token.h"

#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

static inline uint64_t rotl(uint64_t x, unsigned b)
{
	return (x << b) | (x >> (64 - b));
}

/* A load and a byte swap where needed: gcc left the byte-at-a-time loops as loops, 7
 * instructions a byte, most of a token's cost. */
static inline uint64_t le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

struct sip_state {
	uint64_t v0, v1, v2, v3;
};

static inline void sip_round(struct sip_state *s)
{
	s->v0 += s->v1;
	s->v1 = rotl(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = rotl(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = rotl(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = rotl(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = rotl(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = rotl(s->v2, 32);
}

static inline void sip_compress(struct sip_state *s, uint64_t m)
{
	s->v3 ^= m;
	sip_round(s);
	sip_round(s);
	s->v0 ^= m;
}

static inline uint64_t sip_finish(struct sip_state *s, uint8_t fin)
{
	s->v2 ^= fin;
	for (unsigned i = 0; i < 4; i++)
		sip_round(s);
	return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

/* Absorbs the message; wide selects the 128-bit variant's initialisation. */
static void sip_absorb(struct sip_state *s, const uint8_t key[16], const uint8_t *m, size_t len,
		       bool wide)
{
	uint64_t k0 = le64(key), k1 = le64(key + 8);
	uint8_t last[8] = {0};
	size_t full = len & ~(size_t)7;

	s->v0 = k0 ^ 0x736f6d6570736575ull;
	s->v1 = k1 ^ 0x646f72616e646f6dull;
	s->v2 = k0 ^ 0x6c7967656e657261ull;
	s->v3 = k1 ^ 0x7465646279746573ull;
	if (wide)
		s->v1 ^= 0xee;
	for (size_t i = 0; i < full; i += 8)
		sip_compress(s, le64(m + i));
	memcpy(last, m + full, len - full);
	last[7] = (uint8_t)len;
	sip_compress(s, le64(last));
}

uint64_t sn_siphash24_64(const uint8_t key[16], const void *msg, size_t len)
{
	struct sip_state s;

	sip_absorb(&s, key, msg, len, false);
	return sip_finish(&s, 0xff);
}

void sn_siphash24_128(const uint8_t key[16], const void *msg, size_t len, uint8_t out[16])
{
	struct sip_state s;

	sip_absorb(&s, key, msg, len, true);
	put_le64(out, sip_finish(&s, 0xee));
	s.v1 ^= 0xdd;
	for (unsigned i = 0; i < 4; i++)
		sip_round(&s);
	put_le64(out + 8, s.v0 ^ s.v1 ^ s.v2 ^ s.v3);
}

void sn_token_init(struct sn_token_secrets *s, const uint8_t secret[SN_TOKEN_SECRET_LEN])
{
	memcpy(s->current, secret, SN_TOKEN_SECRET_LEN);
	memcpy(s->previous, secret, SN_TOKEN_SECRET_LEN);
	s->rotations = 0;
}

void sn_token_rotate(struct sn_token_secrets *s, const uint8_t new_secret[SN_TOKEN_SECRET_LEN])
{
	memcpy(s->previous, s->current, SN_TOKEN_SECRET_LEN);
	memcpy(s->current, new_secret, SN_TOKEN_SECRET_LEN);
	s->rotations++;
}

static int token_with(const uint8_t secret[SN_TOKEN_SECRET_LEN], const struct sn_node_addr *addr,
		      uint8_t out[SN_TOKEN_LEN])
{
	unsigned alen = sn_node_addr_len(addr->family);
	uint8_t msg[18];

	if (alen == 0)
		return -EAFNOSUPPORT;
	memcpy(msg, addr->addr, alen);
	memcpy(msg + alen, &addr->port, 2);
	sn_siphash24_128(secret, msg, alen + 2, out);
	sn_siphash24_128(secret + 16, msg, alen + 2, out + 16);
	return 0;
}

int sn_token_make(const struct sn_token_secrets *s, const struct sn_node_addr *addr,
		  uint8_t out[SN_TOKEN_LEN])
{
	return token_with(s->current, addr, out);
}

/* No early exit, so the time taken does not tell how many leading bytes were right. */
static bool same(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= a[i] ^ b[i];
	return acc == 0;
}

int sn_token_check(const struct sn_token_secrets *s, const struct sn_node_addr *addr,
		   const uint8_t *token, size_t len)
{
	uint8_t want[SN_TOKEN_LEN];
	int rc;

	if (len != SN_TOKEN_LEN)
		return -EINVAL;
	rc = token_with(s->current, addr, want);
	if (rc < 0)
		return rc;
	if (same(want, token, SN_TOKEN_LEN))
		return 0;
	token_with(s->previous, addr, want);
	if (same(want, token, SN_TOKEN_LEN))
		return 1;
	return -EACCES;
}
