/* node_id.c: see node_id.h. */
#include "node_id.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

unsigned sn_node_addr_len(int family)
{
	switch (family) {
	case AF_INET:
		return 4;
	case AF_INET6:
		return 16;
	default:
		return 0;
	}
}

int sn_node_id_cmp(const struct sn_node_id *a, const struct sn_node_id *b)
{
	return memcmp(a->b, b->b, SN_NODE_ID_LEN);
}

bool sn_node_id_eq(const struct sn_node_id *a, const struct sn_node_id *b)
{
	return memcmp(a->b, b->b, SN_NODE_ID_LEN) == 0;
}

bool sn_node_id_is_zero(const struct sn_node_id *id)
{
	uint8_t acc = 0;

	for (unsigned i = 0; i < SN_NODE_ID_LEN; i++)
		acc |= id->b[i];
	return acc == 0;
}

int sn_node_id_xor_cmp(const struct sn_node_id *target, const struct sn_node_id *a,
		       const struct sn_node_id *b)
{
	for (unsigned i = 0; i < SN_NODE_ID_LEN; i++) {
		uint8_t xa, xb;

		if (a->b[i] == b->b[i])
			continue;
		xa = a->b[i] ^ target->b[i];
		xb = b->b[i] ^ target->b[i];
		return xa < xb ? -1 : 1;
	}
	return 0;
}

unsigned sn_node_id_common_bits(const struct sn_node_id *a, const struct sn_node_id *b)
{
	for (unsigned i = 0; i < SN_NODE_ID_LEN; i++) {
		uint8_t x = a->b[i] ^ b->b[i];

		if (x)
			return 8 * i + (unsigned)__builtin_clz(x) - 24;
	}
	return SN_NODE_ID_BITS;
}

void sn_node_id_xor(const struct sn_node_id *a, const struct sn_node_id *b, struct sn_node_id *out)
{
	for (unsigned i = 0; i < SN_NODE_ID_LEN; i++)
		out->b[i] = a->b[i] ^ b->b[i];
}

void sn_node_id_to_hex(const struct sn_node_id *id, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (unsigned i = 0; i < SN_NODE_ID_LEN; i++) {
		out[2 * i] = digits[id->b[i] >> 4];
		out[2 * i + 1] = digits[id->b[i] & 0x0f];
	}
	out[SN_NODE_ID_HEX_LEN] = '\0';
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int sn_node_id_from_hex(const char *s, size_t len, struct sn_node_id *id)
{
	struct sn_node_id tmp;

	if (len != SN_NODE_ID_HEX_LEN)
		return -EINVAL;
	for (unsigned i = 0; i < SN_NODE_ID_LEN; i++) {
		int hi = hex_digit(s[2 * i]);
		int lo = hex_digit(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		tmp.b[i] = (uint8_t)(hi << 4 | lo);
	}
	*id = tmp;
	return 0;
}
