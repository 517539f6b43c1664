#include "l3.h"

#include <string.h>
#include <sys/socket.h>

#define ETH_P_IPV4 0x0800
#define ETH_P_ARP  0x0806
#define ETH_P_IPV6 0x86dd

#define IP_PROTO_ICMP	1
#define IP_PROTO_UDP	17
#define IP_PROTO_ICMPV6 58

#define ICMP_ECHO_REPLY	    0
#define ICMP_ECHO_REQUEST   8
#define ICMP6_ECHO_REQUEST  128
#define ICMP6_ECHO_REPLY    129
#define ND_NEIGHBOR_SOLICIT 135
#define ND_NEIGHBOR_ADVERT  136
#define ND_OPT_SOURCE_LL    1
#define ND_OPT_TARGET_LL    2

#define IPV4_HDR_LEN  20
#define IPV6_HDR_LEN  40
#define UDP_HDR_LEN   8
#define ARP_LEN	      28
#define ND_HDR_LEN    24 /* type, code, cksum, flags/reserved, target */
#define ND_OPT_LL_LEN 8

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void drop(struct sn_l3_result *res, enum sn_drop_reason reason)
{
	res->action = SN_L3_DROP;
	res->reason = (uint8_t)reason;
}

/* One's-complement sum in native byte order: storing the folded result with memcpy puts
 * the checksum in network byte order whatever the host's endianness. */
uint32_t sn_cksum_partial(const void *data, uint32_t len, uint32_t sum)
{
	return sn_cksum_partial_inline(data, len, sum);
}

uint16_t sn_cksum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t pseudo_ipv4(const uint8_t *ip_hdr, uint32_t l4_len, uint8_t proto)
{
	uint8_t ph[12];
	memcpy(ph, ip_hdr + 12, 8);
	ph[8] = 0;
	ph[9] = proto;
	wr16(ph + 10, (uint16_t)l4_len);
	return sn_cksum_partial_inline(ph, sizeof(ph), 0);
}

static uint32_t pseudo_ipv6(const uint8_t *ip_hdr, uint32_t l4_len, uint8_t proto)
{
	uint8_t ph[40];
	memcpy(ph, ip_hdr + 8, 32);
	ph[32] = (uint8_t)(l4_len >> 24);
	ph[33] = (uint8_t)(l4_len >> 16);
	ph[34] = (uint8_t)(l4_len >> 8);
	ph[35] = (uint8_t)l4_len;
	ph[36] = ph[37] = ph[38] = 0;
	ph[39] = proto;
	return sn_cksum_partial_inline(ph, sizeof(ph), 0);
}

uint16_t sn_l4_cksum_ipv4(const uint8_t *ip_hdr, const uint8_t *l4, uint16_t l4_len, uint8_t proto)
{
	return sn_cksum_fold(sn_cksum_partial(l4, l4_len, pseudo_ipv4(ip_hdr, l4_len, proto)));
}

uint16_t sn_l4_cksum_ipv6(const uint8_t *ip_hdr, const uint8_t *l4, uint32_t l4_len, uint8_t proto)
{
	return sn_cksum_fold(sn_cksum_partial(l4, l4_len, pseudo_ipv6(ip_hdr, l4_len, proto)));
}

static void set_ipv4_cksum(uint8_t *ip)
{
	ip[10] = ip[11] = 0;
	uint16_t c = sn_cksum_fold(sn_cksum_partial_inline(ip, IPV4_HDR_LEN, 0));
	memcpy(ip + 10, &c, 2);
}

void sn_l3_port_init(struct sn_l3_port *port, const uint8_t mac[SN_ETHER_ADDR_LEN],
		     const struct in_addr *ipv4, uint8_t ipv4_prefix, const struct in6_addr *ipv6,
		     uint8_t ipv6_prefix)
{
	memset(port, 0, sizeof(*port));
	memcpy(port->mac, mac, SN_ETHER_ADDR_LEN);
	if (ipv4) {
		port->has_ipv4 = true;
		port->ipv4 = ipv4->s_addr;
		port->ipv4_mask = ipv4_prefix ? htonl(~0u << (32 - ipv4_prefix)) : 0;
	}
	if (ipv6) {
		port->has_ipv6 = true;
		port->ipv6 = *ipv6;
		port->ipv6_prefix = ipv6_prefix;
		static const uint8_t sol[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};
		memcpy(port->ipv6_solicited.s6_addr, sol, sizeof(sol));
		memcpy(port->ipv6_solicited.s6_addr + 13, ipv6->s6_addr + 13, 3);
	}
}

bool sn_l3_on_link(const struct sn_l3_port *port, uint8_t family, const uint8_t *ip)
{
	if (family == AF_INET) {
		uint32_t a;
		memcpy(&a, ip, 4);
		return port->has_ipv4 && (a & port->ipv4_mask) == (port->ipv4 & port->ipv4_mask);
	}
	if (!port->has_ipv6)
		return false;
	unsigned bits = port->ipv6_prefix;
	for (unsigned i = 0; i < 16 && bits; i++) {
		uint8_t m = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
		if ((ip[i] & m) != (port->ipv6.s6_addr[i] & m))
			return false;
		bits = bits >= 8 ? bits - 8 : 0;
	}
	return true;
}

static bool ipv4_source_ok(const struct sn_l3_port *port, uint32_t src_be)
{
	uint32_t a = ntohl(src_be);
	if (a == 0 || a == 0xffffffffu)
		return false;
	if ((a >> 24) == 127 || (a >> 28) == 0xe || (a >> 28) == 0xf)
		return false;
	return src_be != port->ipv4;
}

static void handle_arp(const struct sn_l3_port *port, uint8_t *frame, uint16_t len,
		       struct sn_l3_result *res)
{
	uint8_t *arp = frame + SN_ETHER_HDR_LEN;
	if (len < SN_ETHER_HDR_LEN + ARP_LEN || rd16(arp) != 1 || rd16(arp + 2) != ETH_P_IPV4 ||
	    arp[4] != 6 || arp[5] != 4)
		return drop(res, SN_DROP_ARP_MALFORMED);
	uint16_t op = rd16(arp + 6);
	uint8_t *sha = arp + 8, *spa = arp + 14, *tha = arp + 18, *tpa = arp + 24;
	if (op != 1 && op != 2)
		return drop(res, SN_DROP_ARP_MALFORMED);
	if (!port->has_ipv4 || memcmp(tpa, &port->ipv4, 4) != 0)
		return drop(res, SN_DROP_ARP_NOT_FOR_US);

	uint32_t spa_be;
	memcpy(&spa_be, spa, 4);
	if (ipv4_source_ok(port, spa_be) && sn_l3_on_link(port, AF_INET, spa) && !(sha[0] & 1)) {
		res->learn.valid = true;
		res->learn.family = AF_INET;
		memcpy(res->learn.mac, sha, 6);
		memcpy(res->learn.ip, spa, 4);
	}
	if (op == 2) {
		/* A reply to our own request: its only use is the neighbour it teaches. */
		res->action = SN_L3_CONSUMED;
		return;
	}
	/* Request for our address: turn it into the reply in place. */
	wr16(arp + 6, 2);
	memcpy(tha, sha, 6);
	memcpy(tpa, spa, 4);
	memcpy(sha, port->mac, 6);
	memcpy(spa, &port->ipv4, 4);
	memcpy(frame, tha, 6);
	memcpy(frame + 6, port->mac, 6);
	res->action = SN_L3_REPLY;
	res->len = len;
	res->reply_counter = SN_CTR_ARP_REPLIES;
}

static void handle_udp(uint8_t *frame, uint16_t l3_off, uint16_t l4_off, uint16_t l4_len,
		       uint8_t family, bool verify, struct sn_l3_result *res)
{
	const uint8_t *udp = frame + l4_off;
	if (l4_len < UDP_HDR_LEN)
		return drop(res, SN_DROP_UDP_TRUNCATED);
	uint16_t udp_len = rd16(udp + 4);
	if (udp_len != l4_len)
		return drop(res, SN_DROP_UDP_LENGTH);
	uint16_t field = rd16(udp + 6);
	if (family == AF_INET6 && field == 0)
		return drop(res, SN_DROP_UDP_CHECKSUM);
	if (verify && field != 0) {
		uint32_t sum = family == AF_INET
				   ? pseudo_ipv4(frame + l3_off, l4_len, IP_PROTO_UDP)
				   : pseudo_ipv6(frame + l3_off, l4_len, IP_PROTO_UDP);
		if (sn_cksum_fold(sn_cksum_partial(udp, l4_len, sum)) != 0)
			return drop(res, SN_DROP_UDP_CHECKSUM);
	}
	res->action = SN_L3_UDP;
	res->family = family;
	res->l3_off = l3_off;
	res->l4_off = l4_off;
	res->payload_off = (uint16_t)(l4_off + UDP_HDR_LEN);
	res->payload_len = (uint16_t)(l4_len - UDP_HDR_LEN);
}

static void handle_ipv4(const struct sn_l3_port *port, uint8_t *frame, uint16_t len, bool verify,
			struct sn_l3_result *res)
{
	const uint16_t l3 = SN_ETHER_HDR_LEN;
	uint8_t *ip = frame + l3;
	uint16_t avail = (uint16_t)(len - l3);
	if (len < l3 + IPV4_HDR_LEN)
		return drop(res, SN_DROP_IPV4_TRUNCATED);
	if ((ip[0] >> 4) != 4)
		return drop(res, SN_DROP_IPV4_VERSION);
	unsigned ihl = (ip[0] & 0xf) * 4u;
	if (ihl < IPV4_HDR_LEN || ihl > avail)
		return drop(res, SN_DROP_IPV4_HEADER_LENGTH);
	uint16_t total = rd16(ip + 2);
	if (total < ihl || total > avail)
		return drop(res, SN_DROP_IPV4_TOTAL_LENGTH);
	if (sn_cksum_fold(sn_cksum_partial(ip, ihl, 0)) != 0)
		return drop(res, SN_DROP_IPV4_CHECKSUM);
	if (ihl != IPV4_HDR_LEN)
		return drop(res, SN_DROP_IPV4_OPTIONS);
	if (rd16(ip + 6) & 0x3fff)
		return drop(res, SN_DROP_IPV4_FRAGMENT);
	uint32_t src, dst;
	memcpy(&src, ip + 12, 4);
	memcpy(&dst, ip + 16, 4);
	if (!port->has_ipv4 || dst != port->ipv4)
		return drop(res, SN_DROP_IPV4_NOT_FOR_US);
	if (!ipv4_source_ok(port, src))
		return drop(res, SN_DROP_IPV4_BAD_SOURCE);
	if (ip[8] == 0)
		return drop(res, SN_DROP_IPV4_TTL);

	uint16_t l4_off = (uint16_t)(l3 + IPV4_HDR_LEN);
	uint16_t l4_len = (uint16_t)(total - IPV4_HDR_LEN);
	if (ip[9] == IP_PROTO_UDP)
		return handle_udp(frame, l3, l4_off, l4_len, AF_INET, verify, res);
	if (ip[9] != IP_PROTO_ICMP)
		return drop(res, SN_DROP_PROTOCOL);

	uint8_t *icmp = frame + l4_off;
	if (l4_len < 8 || sn_cksum_fold(sn_cksum_partial(icmp, l4_len, 0)) != 0)
		return drop(res, SN_DROP_ICMP_MALFORMED);
	if (icmp[0] != ICMP_ECHO_REQUEST || icmp[1] != 0)
		return drop(res, SN_DROP_ICMP_TYPE);

	icmp[0] = ICMP_ECHO_REPLY;
	icmp[2] = icmp[3] = 0;
	uint16_t c = sn_cksum_fold(sn_cksum_partial(icmp, l4_len, 0));
	memcpy(icmp + 2, &c, 2);
	memcpy(ip + 16, &src, 4);
	memcpy(ip + 12, &dst, 4);
	ip[8] = 64;
	set_ipv4_cksum(ip);
	memcpy(frame, frame + 6, 6);
	memcpy(frame + 6, port->mac, 6);
	res->action = SN_L3_REPLY;
	res->len = (uint16_t)(l3 + total); /* trailing Ethernet padding is not echoed */
	res->reply_counter = SN_CTR_ICMP_ECHO_REPLIES;
}

static bool ipv6_is_unspecified(const uint8_t *a)
{
	static const uint8_t zero[16];
	return memcmp(a, zero, 16) == 0;
}

static bool ipv6_is_loopback(const uint8_t *a)
{
	static const uint8_t one[16] = {[15] = 1};
	return memcmp(a, one, 16) == 0;
}

/* Walks ND options; returns false when one is malformed (zero length or past the end).
 * Sets *ll to the link-layer option of type `want`, if present. */
static bool nd_options(const uint8_t *opt, uint32_t len, uint8_t want, const uint8_t **ll)
{
	*ll = NULL;
	while (len > 0) {
		if (len < 2 || opt[1] == 0 || opt[1] * 8u > len)
			return false;
		if (opt[0] == want && opt[1] == 1)
			*ll = opt + 2;
		len -= opt[1] * 8u;
		opt += opt[1] * 8u;
	}
	return true;
}

static void handle_nd(const struct sn_l3_port *port, uint8_t *frame, uint16_t cap, uint8_t *ip,
		      uint8_t *icmp, uint32_t l4_len, struct sn_l3_result *res)
{
	const uint8_t *src = ip + 8;
	if (ip[7] != 255 || icmp[1] != 0 || l4_len < ND_HDR_LEN)
		return drop(res, SN_DROP_ND_MALFORMED);
	const uint8_t *target = icmp + 8;
	const uint8_t *ll;
	bool solicit = icmp[0] == ND_NEIGHBOR_SOLICIT;
	if (!nd_options(icmp + ND_HDR_LEN, l4_len - ND_HDR_LEN,
			solicit ? ND_OPT_SOURCE_LL : ND_OPT_TARGET_LL, &ll))
		return drop(res, SN_DROP_ND_MALFORMED);

	if (!solicit) {
		/* Advertisement: learn the target if it is on-link, nothing to answer. */
		if (ll && sn_l3_on_link(port, AF_INET6, target) && !(ll[0] & 1)) {
			res->learn.valid = true;
			res->learn.family = AF_INET6;
			memcpy(res->learn.mac, ll, 6);
			memcpy(res->learn.ip, target, 16);
		}
		res->action = SN_L3_CONSUMED;
		return;
	}
	if (memcmp(target, port->ipv6.s6_addr, 16) != 0)
		return drop(res, SN_DROP_ND_NOT_FOR_US);
	/* Duplicate address detection for our own address: nothing sensible to answer. */
	if (ipv6_is_unspecified(src))
		return drop(res, SN_DROP_ND_NOT_FOR_US);
	if (ll && !(ll[0] & 1)) {
		res->learn.valid = true;
		res->learn.family = AF_INET6;
		memcpy(res->learn.mac, ll, 6);
		memcpy(res->learn.ip, src, 16);
	}
	const uint16_t na_len = ND_HDR_LEN + ND_OPT_LL_LEN;
	const uint16_t frame_len = SN_ETHER_HDR_LEN + IPV6_HDR_LEN + na_len;
	if (cap < frame_len)
		return drop(res, SN_DROP_NO_MBUF);

	/* Solicited advertisement back to the asker, with our link-layer address. */
	memcpy(ip + 24, src, 16);
	memcpy(ip + 8, port->ipv6.s6_addr, 16);
	wr16(ip + 4, na_len);
	ip[6] = IP_PROTO_ICMPV6;
	ip[7] = 255;
	icmp[0] = ND_NEIGHBOR_ADVERT;
	icmp[1] = 0;
	icmp[2] = icmp[3] = 0;
	icmp[4] = 0x60; /* solicited, override */
	icmp[5] = icmp[6] = icmp[7] = 0;
	memcpy(icmp + 8, port->ipv6.s6_addr, 16);
	icmp[24] = ND_OPT_TARGET_LL;
	icmp[25] = 1;
	memcpy(icmp + 26, port->mac, 6);
	uint16_t c = sn_l4_cksum_ipv6(ip, icmp, na_len, IP_PROTO_ICMPV6);
	memcpy(icmp + 2, &c, 2);
	memcpy(frame, frame + 6, 6);
	memcpy(frame + 6, port->mac, 6);
	res->action = SN_L3_REPLY;
	res->len = frame_len;
	res->reply_counter = SN_CTR_ND_ADVERTS;
}

static void handle_ipv6(const struct sn_l3_port *port, uint8_t *frame, uint16_t len, uint16_t cap,
			bool verify, struct sn_l3_result *res)
{
	const uint16_t l3 = SN_ETHER_HDR_LEN;
	uint8_t *ip = frame + l3;
	if (len < l3 + IPV6_HDR_LEN)
		return drop(res, SN_DROP_IPV6_TRUNCATED);
	if ((ip[0] >> 4) != 6)
		return drop(res, SN_DROP_IPV6_VERSION);
	uint16_t plen = rd16(ip + 4);
	if ((uint32_t)plen + IPV6_HDR_LEN > (uint32_t)(len - l3))
		return drop(res, SN_DROP_IPV6_PAYLOAD_LENGTH);
	const uint8_t *src = ip + 8, *dst = ip + 24;
	bool to_us = port->has_ipv6 && memcmp(dst, port->ipv6.s6_addr, 16) == 0;
	bool to_solicited = port->has_ipv6 && memcmp(dst, port->ipv6_solicited.s6_addr, 16) == 0;
	if (!to_us && !to_solicited)
		return drop(res, SN_DROP_IPV6_NOT_FOR_US);
	uint8_t nh = ip[6];
	if (nh != IP_PROTO_UDP && nh != IP_PROTO_ICMPV6) {
		/* Hop-by-hop, routing, fragment, destination options, AH, ESP, mobility, ... */
		static const uint8_t ext[] = {0, 43, 44, 50, 51, 60, 135, 139, 140, 253, 254};
		return drop(res, memchr(ext, nh, sizeof(ext)) ? SN_DROP_IPV6_EXT_HEADER
							      : SN_DROP_PROTOCOL);
	}
	if (src[0] == 0xff || ipv6_is_loopback(src) || memcmp(src, port->ipv6.s6_addr, 16) == 0)
		return drop(res, SN_DROP_IPV6_BAD_SOURCE);
	if (ip[7] == 0)
		return drop(res, SN_DROP_IPV6_HOP_LIMIT);

	uint16_t l4_off = (uint16_t)(l3 + IPV6_HDR_LEN);
	if (nh == IP_PROTO_UDP) {
		if (!to_us)
			return drop(res, SN_DROP_IPV6_NOT_FOR_US);
		if (ipv6_is_unspecified(src))
			return drop(res, SN_DROP_IPV6_BAD_SOURCE);
		return handle_udp(frame, l3, l4_off, plen, AF_INET6, verify, res);
	}

	uint8_t *icmp = frame + l4_off;
	if (plen < 8 || sn_l4_cksum_ipv6(ip, icmp, plen, IP_PROTO_ICMPV6) != 0)
		return drop(res, SN_DROP_ICMP6_MALFORMED);
	if (icmp[0] == ND_NEIGHBOR_SOLICIT || icmp[0] == ND_NEIGHBOR_ADVERT)
		return handle_nd(port, frame, cap, ip, icmp, plen, res);
	if (icmp[0] != ICMP6_ECHO_REQUEST || icmp[1] != 0 || !to_us)
		return drop(res, SN_DROP_ICMP6_TYPE);
	if (ipv6_is_unspecified(src))
		return drop(res, SN_DROP_IPV6_BAD_SOURCE);

	uint8_t tmp[16];
	memcpy(tmp, src, 16);
	memcpy(ip + 8, dst, 16);
	memcpy(ip + 24, tmp, 16);
	ip[7] = 64;
	icmp[0] = ICMP6_ECHO_REPLY;
	icmp[2] = icmp[3] = 0;
	uint16_t c = sn_l4_cksum_ipv6(ip, icmp, plen, IP_PROTO_ICMPV6);
	memcpy(icmp + 2, &c, 2);
	memcpy(frame, frame + 6, 6);
	memcpy(frame + 6, port->mac, 6);
	res->action = SN_L3_REPLY;
	res->len = (uint16_t)(l3 + IPV6_HDR_LEN + plen);
	res->reply_counter = SN_CTR_ICMP6_ECHO_REPLIES;
}

void sn_l3_handle(const struct sn_l3_port *port, uint8_t *frame, uint16_t len, uint16_t cap,
		  bool verify_l4_cksum, struct sn_l3_result *res)
{
	memset(res, 0, sizeof(*res));
	if (len < SN_ETHER_HDR_LEN)
		return drop(res, SN_DROP_RUNT);
	const uint8_t *dst = frame;
	bool unicast_us = memcmp(dst, port->mac, 6) == 0;
	bool broadcast = (dst[0] & dst[1] & dst[2] & dst[3] & dst[4] & dst[5]) == 0xff;
	bool v6_multicast = dst[0] == 0x33 && dst[1] == 0x33;
	uint16_t type = rd16(frame + 12);

	switch (type) {
	case ETH_P_ARP:
		if (!unicast_us && !broadcast)
			return drop(res, SN_DROP_NOT_FOR_US_L2);
		return handle_arp(port, frame, len, res);
	case ETH_P_IPV4:
		if (!unicast_us)
			return drop(res, SN_DROP_NOT_FOR_US_L2);
		return handle_ipv4(port, frame, len, verify_l4_cksum, res);
	case ETH_P_IPV6:
		if (!unicast_us && !v6_multicast)
			return drop(res, SN_DROP_NOT_FOR_US_L2);
		return handle_ipv6(port, frame, len, cap, verify_l4_cksum, res);
	default:
		return drop(res, SN_DROP_ETHERTYPE);
	}
}

static uint16_t build_udp(uint8_t *frame, const uint8_t src_mac[6], const uint8_t dst_mac[6],
			  uint8_t family, const uint8_t *src_ip, const uint8_t *dst_ip,
			  uint16_t src_port, uint16_t dst_port, uint16_t payload_len, bool have_sum,
			  uint32_t payload_sum);

uint16_t sn_build_udp(uint8_t *frame, const uint8_t src_mac[6], const uint8_t dst_mac[6],
		      uint8_t family, const uint8_t *src_ip, const uint8_t *dst_ip,
		      uint16_t src_port, uint16_t dst_port, uint16_t payload_len)
{
	return build_udp(frame, src_mac, dst_mac, family, src_ip, dst_ip, src_port, dst_port,
			 payload_len, false, 0);
}

uint16_t sn_build_udp_sum(uint8_t *frame, const uint8_t src_mac[6], const uint8_t dst_mac[6],
			  uint8_t family, const uint8_t *src_ip, const uint8_t *dst_ip,
			  uint16_t src_port, uint16_t dst_port, uint16_t payload_len,
			  uint32_t payload_sum)
{
	return build_udp(frame, src_mac, dst_mac, family, src_ip, dst_ip, src_port, dst_port,
			 payload_len, true, payload_sum);
}

static uint16_t build_udp(uint8_t *frame, const uint8_t src_mac[6], const uint8_t dst_mac[6],
			  uint8_t family, const uint8_t *src_ip, const uint8_t *dst_ip,
			  uint16_t src_port, uint16_t dst_port, uint16_t payload_len, bool have_sum,
			  uint32_t payload_sum)
{
	uint8_t *ip = frame + SN_ETHER_HDR_LEN;
	uint16_t udp_len = (uint16_t)(UDP_HDR_LEN + payload_len);
	uint8_t *udp;
	memcpy(frame, dst_mac, 6);
	memcpy(frame + 6, src_mac, 6);
	if (family == AF_INET) {
		wr16(frame + 12, ETH_P_IPV4);
		ip[0] = 0x45;
		ip[1] = 0;
		wr16(ip + 2, (uint16_t)(IPV4_HDR_LEN + udp_len));
		wr16(ip + 4, 0);
		wr16(ip + 6, 0x4000); /* don't fragment */
		ip[8] = 64;
		ip[9] = IP_PROTO_UDP;
		memcpy(ip + 12, src_ip, 4);
		memcpy(ip + 16, dst_ip, 4);
		set_ipv4_cksum(ip);
		udp = ip + IPV4_HDR_LEN;
	} else {
		wr16(frame + 12, ETH_P_IPV6);
		ip[0] = 0x60;
		ip[1] = ip[2] = ip[3] = 0;
		wr16(ip + 4, udp_len);
		ip[6] = IP_PROTO_UDP;
		ip[7] = 64;
		memcpy(ip + 8, src_ip, 16);
		memcpy(ip + 24, dst_ip, 16);
		udp = ip + IPV6_HDR_LEN;
	}
	memcpy(udp, &src_port, 2);
	memcpy(udp + 2, &dst_port, 2);
	wr16(udp + 4, udp_len);
	udp[6] = udp[7] = 0;
	uint16_t c;
	if (have_sum) {
		/* The payload is not read: its sum comes with it (a 32-bit partial sum; the
		 * 64-bit accumulator of sn_cksum_partial takes it as the starting value). */
		uint32_t ph = sn_udp_pseudo_sum(ip, family, udp_len);
		uint64_t s64 = (uint64_t)ph + payload_sum;
		uint32_t s = (uint32_t)((s64 & 0xffffffffu) + (s64 >> 32));
		c = sn_cksum_fold(sn_cksum_partial_inline(udp, UDP_HDR_LEN, s));
	} else {
		c = family == AF_INET ? sn_l4_cksum_ipv4(ip, udp, udp_len, IP_PROTO_UDP)
				      : sn_l4_cksum_ipv6(ip, udp, udp_len, IP_PROTO_UDP);
	}
	if (c == 0)
		c = 0xffff; /* zero means "no checksum" in UDP */
	memcpy(udp + 6, &c, 2);
	return (uint16_t)(udp - frame + udp_len);
}

uint16_t sn_build_neigh_request(uint8_t *frame, const struct sn_l3_port *port, uint8_t family,
				const uint8_t *target)
{
	if (family == AF_INET) {
		uint8_t *arp = frame + SN_ETHER_HDR_LEN;
		memset(frame, 0xff, 6);
		memcpy(frame + 6, port->mac, 6);
		wr16(frame + 12, ETH_P_ARP);
		wr16(arp, 1);
		wr16(arp + 2, ETH_P_IPV4);
		arp[4] = 6;
		arp[5] = 4;
		wr16(arp + 6, 1);
		memcpy(arp + 8, port->mac, 6);
		memcpy(arp + 14, &port->ipv4, 4);
		memset(arp + 18, 0, 6);
		memcpy(arp + 24, target, 4);
		memset(arp + ARP_LEN, 0, 60 - SN_ETHER_HDR_LEN - ARP_LEN);
		return 60;
	}
	uint8_t *ip = frame + SN_ETHER_HDR_LEN;
	uint8_t *icmp = ip + IPV6_HDR_LEN;
	const uint16_t ns_len = ND_HDR_LEN + ND_OPT_LL_LEN;
	/* To the target's solicited-node group, as RFC 4861 7.2.2 asks. */
	uint8_t group[16] = {0xff, 0x02, [11] = 1, [12] = 0xff};
	memcpy(group + 13, target + 13, 3);
	frame[0] = 0x33;
	frame[1] = 0x33;
	memcpy(frame + 2, group + 12, 4);
	memcpy(frame + 6, port->mac, 6);
	wr16(frame + 12, ETH_P_IPV6);
	ip[0] = 0x60;
	ip[1] = ip[2] = ip[3] = 0;
	wr16(ip + 4, ns_len);
	ip[6] = IP_PROTO_ICMPV6;
	ip[7] = 255;
	memcpy(ip + 8, port->ipv6.s6_addr, 16);
	memcpy(ip + 24, group, 16);
	memset(icmp, 0, ns_len);
	icmp[0] = ND_NEIGHBOR_SOLICIT;
	memcpy(icmp + 8, target, 16);
	icmp[24] = ND_OPT_SOURCE_LL;
	icmp[25] = 1;
	memcpy(icmp + 26, port->mac, 6);
	uint16_t c = sn_l4_cksum_ipv6(ip, icmp, ns_len, IP_PROTO_ICMPV6);
	memcpy(icmp + 2, &c, 2);
	return (uint16_t)(SN_ETHER_HDR_LEN + IPV6_HDR_LEN + ns_len);
}
