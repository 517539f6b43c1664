/* node_id.h: OpenDHT's 160-bit ids (InfoHash) and node addresses.
 *
 * Ids are compared as big-endian 160-bit numbers; the distance between two ids is their
 * XOR (Kademlia). On the wire an id is a msgpack bin of exactly 20 bytes; in compact node
 * lists it is the first 20 bytes of each entry, which is why the struct is a plain byte
 * array with alignment 1: a pointer into a packet may be cast to it.
 */
#ifndef SN_NODE_ID_H
#define SN_NODE_ID_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SN_NODE_ID_LEN	   20
#define SN_NODE_ID_BITS	   (8 * SN_NODE_ID_LEN)
#define SN_NODE_ID_HEX_LEN (2 * SN_NODE_ID_LEN)

struct sn_node_id {
	uint8_t b[SN_NODE_ID_LEN]; /* most significant byte first */
};
_Static_assert(sizeof(struct sn_node_id) == SN_NODE_ID_LEN, "id is 20 bytes");
_Static_assert(alignof(struct sn_node_id) == 1, "id may point into a packet");

/* Where a node is reachable. */
struct sn_node_addr {
	uint8_t family;	  /* AF_INET or AF_INET6 */
	uint8_t pad;	  /* zero */
	uint16_t port;	  /* network byte order, as on the wire */
	uint8_t addr[16]; /* IPv4: the first 4 bytes, the rest zero */
};
_Static_assert(sizeof(struct sn_node_addr) == 20, "address layout is fixed");

/* Bytes of the address proper: 4 for IPv4, 16 for IPv6, 0 for anything else. */
unsigned sn_node_addr_len(int family);

/* memcmp order (numeric order of the ids). */
int sn_node_id_cmp(const struct sn_node_id *a, const struct sn_node_id *b);
bool sn_node_id_eq(const struct sn_node_id *a, const struct sn_node_id *b);
bool sn_node_id_is_zero(const struct sn_node_id *id);

/* Which of a and b is closer to target by XOR distance: <0 a, >0 b, 0 same id. */
int sn_node_id_xor_cmp(const struct sn_node_id *target, const struct sn_node_id *a,
		       const struct sn_node_id *b);

/* Leading bits a and b have in common (160 when equal). */
unsigned sn_node_id_common_bits(const struct sn_node_id *a, const struct sn_node_id *b);

void sn_node_id_xor(const struct sn_node_id *a, const struct sn_node_id *b, struct sn_node_id *out);

/* Bit n, counted from the most significant bit (0) to the least (159). */
static inline bool sn_node_id_bit(const struct sn_node_id *id, unsigned n)
{
	return (id->b[n / 8] >> (7 - n % 8)) & 1;
}

/* Writes 40 lowercase hex digits and a NUL into out (at least 41 bytes). */
void sn_node_id_to_hex(const struct sn_node_id *id, char *out);

/* Parses exactly 40 hex digits (either case). Returns 0 or -EINVAL. */
int sn_node_id_from_hex(const char *s, size_t len, struct sn_node_id *id);

#endif
