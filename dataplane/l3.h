/* l3.h: L2/L3 handling of one received frame, as a pure function on a byte buffer.
 *
 * The worker calls sn_l3_handle() on every frame. It validates Ethernet, ARP, IPv4, IPv6,
 * ICMP, ICMPv6 and UDP headers, answers ARP requests, IPv6 neighbour solicitations and
 * ICMP/ICMPv6 echo requests for the port's own addresses by rewriting the frame in place,
 * and for a UDP datagram to one of the port's addresses hands back the offsets the UDP
 * dispatcher needs. Everything else is a drop with exactly one reason from
 * SN_DROP_REASONS (common/sn_stats.h).
 *
 * No DPDK header here, so the unit tests and the fuzz target run it on plain buffers. */
#ifndef SN_L3_H
#define SN_L3_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "sn_stats.h"

#define SN_ETHER_ADDR_LEN 6
#define SN_ETHER_HDR_LEN  14

/* What the port owns; built once at start from the config. */
struct sn_l3_port {
	uint8_t mac[SN_ETHER_ADDR_LEN]; /* the DPDK port's MAC */
	bool has_ipv4;
	uint32_t ipv4;	    /* network byte order */
	uint32_t ipv4_mask; /* network byte order */
	bool has_ipv6;
	struct in6_addr ipv6;
	uint8_t ipv6_prefix;
	struct in6_addr ipv6_solicited; /* ff02::1:ffXX:XXXX of ipv6 */
};

enum sn_l3_action {
	SN_L3_DROP = 0,	    /* drop, count `reason` */
	SN_L3_REPLY = 1,    /* frame rewritten in place (length `len`): send it back out the port */
	SN_L3_UDP = 2,	    /* UDP datagram for us: dispatch by destination port */
	SN_L3_CONSUMED = 3, /* an ARP reply or neighbour advertisement: only `learn` matters */
};

/* A neighbour seen in ARP or NDP (sender of a request, or an advertisement). */
struct sn_l3_learn {
	bool valid;
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t mac[SN_ETHER_ADDR_LEN];
	uint8_t ip[16]; /* IPv4 in the first 4 bytes */
};

struct sn_l3_result {
	uint8_t action;		  /* enum sn_l3_action */
	uint8_t reason;		  /* enum sn_drop_reason when action is SN_L3_DROP */
	uint8_t family;		  /* SN_L3_UDP: AF_INET or AF_INET6 */
	uint16_t len;		  /* SN_L3_REPLY: new frame length */
	uint16_t l3_off;	  /* SN_L3_UDP: offset of the IP header */
	uint16_t l4_off;	  /* SN_L3_UDP: offset of the UDP header */
	uint16_t payload_off;	  /* SN_L3_UDP: offset of the UDP payload */
	uint16_t payload_len;	  /* SN_L3_UDP: UDP payload bytes */
	uint16_t reply_counter;	  /* SN_L3_REPLY: enum sn_lcore_counter to increment */
	struct sn_l3_learn learn; /* neighbour to learn, whatever the action */
};

/* Handles frame[0..len); cap is the writable size from frame[0] (a reply may grow the
 * frame, as an NA with the target link-layer option does). `verify_l4_cksum` false when
 * the NIC already verified the UDP/ICMP checksums. */
void sn_l3_handle(const struct sn_l3_port *port, uint8_t *frame, uint16_t len, uint16_t cap,
		  bool verify_l4_cksum, struct sn_l3_result *res);

/* Initialises a port description from addresses (network byte order for IPv4). */
void sn_l3_port_init(struct sn_l3_port *port, const uint8_t mac[SN_ETHER_ADDR_LEN],
		     const struct in_addr *ipv4, uint8_t ipv4_prefix, const struct in6_addr *ipv6,
		     uint8_t ipv6_prefix);

/* Internet checksum helpers, shared with packet builders. */
uint32_t sn_cksum_partial(const void *data, uint32_t len, uint32_t sum);
/* sn_cksum_partial, inlined: the fast paths sum a few fixed-size headers per packet, and
 * with a constant length the compiler unrolls this into a handful of adds instead of a
 * call and a loop. One's-complement sum in native byte order, 64-bit accumulator. */
static inline uint32_t sn_cksum_partial_inline(const void *data, uint32_t len, uint32_t sum)
{
	const uint8_t *p = (const uint8_t *)data;
	uint64_t acc = sum;
	while (len >= 4) {
		uint32_t w;
		__builtin_memcpy(&w, p, 4);
		acc += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t w;
		__builtin_memcpy(&w, p, 2);
		acc += w;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint8_t last[2] = {p[0], 0};
		uint16_t w;
		__builtin_memcpy(&w, last, 2);
		acc += w;
	}
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}
uint16_t sn_cksum_fold(uint32_t sum);
/* UDP/ICMPv6 checksum over the IPv4/IPv6 pseudo header and the L4 bytes. */
uint16_t sn_l4_cksum_ipv4(const uint8_t *ip_hdr, const uint8_t *l4, uint16_t l4_len, uint8_t proto);
uint16_t sn_l4_cksum_ipv6(const uint8_t *ip_hdr, const uint8_t *l4, uint32_t l4_len, uint8_t proto);

/* Builds Ethernet + IPv4/IPv6 + UDP headers for a datagram whose payload already sits at
 * frame + sn_udp_headroom(family). Returns the frame length. Addresses and ports in network
 * byte order, as in struct sn_udp_tuple. */
static inline uint16_t sn_udp_headroom(uint8_t family)
{
	return SN_ETHER_HDR_LEN + (family == AF_INET ? 20 : 40) + 8;
}
uint16_t sn_build_udp(uint8_t *frame, const uint8_t src_mac[6], const uint8_t dst_mac[6],
		      uint8_t family, const uint8_t *src_ip, const uint8_t *dst_ip,
		      uint16_t src_port, uint16_t dst_port, uint16_t payload_len);
/* As sn_build_udp, without reading the payload: payload_sum is the one's-complement sum of
 * its bytes as they sit at an even offset after the UDP header (sn_cksum_partial over
 * them, or any value congruent to it, folded or not). For relaying a payload whose sum
 * follows from the checksum it arrived with. */
uint16_t sn_build_udp_sum(uint8_t *frame, const uint8_t src_mac[6], const uint8_t dst_mac[6],
			  uint8_t family, const uint8_t *src_ip, const uint8_t *dst_ip,
			  uint16_t src_port, uint16_t dst_port, uint16_t payload_len,
			  uint32_t payload_sum);
/* One's-complement sum of the UDP pseudo header (RFC 768; RFC 8200 §8.1) for the IPv4/IPv6
 * header at ip_hdr and a UDP length (header included). */
static inline uint32_t sn_udp_pseudo_sum(const uint8_t *ip_hdr, uint8_t family, uint32_t udp_len)
{
	/* The addresses, then protocol and length as they sit in the pseudo header: every
	 * piece starts at an even offset, so their sums add up to the whole one's. */
	if (family == AF_INET) {
		const uint8_t tail[4] = {0, 17, (uint8_t)(udp_len >> 8), (uint8_t)udp_len};
		return sn_cksum_partial_inline(tail, 4, sn_cksum_partial_inline(ip_hdr + 12, 8, 0));
	}
	const uint8_t tail[8] = {(uint8_t)(udp_len >> 24),
				 (uint8_t)(udp_len >> 16),
				 (uint8_t)(udp_len >> 8),
				 (uint8_t)udp_len,
				 0,
				 0,
				 0,
				 17};
	return sn_cksum_partial_inline(tail, 8, sn_cksum_partial_inline(ip_hdr + 8, 32, 0));
}
/* Builds an ARP request or an IPv6 neighbour solicitation for `target`. Returns its length
 * (cap must be at least 86). */
uint16_t sn_build_neigh_request(uint8_t *frame, const struct sn_l3_port *port, uint8_t family,
				const uint8_t *target);

/* True when `ip` (family, 4 or 16 bytes) is on the port's connected prefix. */
bool sn_l3_on_link(const struct sn_l3_port *port, uint8_t family, const uint8_t *ip);

#endif
