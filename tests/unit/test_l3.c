/* L2/L3 handling: replies are correct packets (checked with an independent byte-wise
 * checksum), and every malformed case lands in its own drop reason. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "l3.h"

static const uint8_t our_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
static const uint8_t peer_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
static struct sn_l3_port port;
static uint8_t buf[2048];

static void setup(void)
{
	struct in_addr v4;
	struct in6_addr v6;
	inet_pton(AF_INET, "198.18.0.1", &v4);
	inet_pton(AF_INET6, "2001:db8:5e::1", &v6);
	sn_l3_port_init(&port, our_mac, &v4, 24, &v6, 64);
	memset(buf, 0, sizeof(buf));
}

TestSuite(l3, .init = setup);

/* Reference checksum: 16-bit big-endian words, written the slow obvious way. */
static uint16_t ref_sum(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static bool ipv4_hdr_ok(const uint8_t *ip)
{
	return ref_sum(ip, 20, 0) == 0xffff;
}

static bool l4_v4_ok(const uint8_t *ip, const uint8_t *l4, uint16_t len, uint8_t proto)
{
	uint8_t ph[12];
	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = proto;
	ph[10] = (uint8_t)(len >> 8);
	ph[11] = (uint8_t)len;
	return ref_sum(l4, len, ref_sum(ph, 12, 0)) == 0xffff;
}

static bool l4_v6_ok(const uint8_t *ip, const uint8_t *l4, uint16_t len, uint8_t proto)
{
	uint8_t ph[40] = {0};
	memcpy(ph, ip + 8, 32);
	ph[34] = (uint8_t)(len >> 8);
	ph[35] = (uint8_t)len;
	ph[39] = proto;
	return ref_sum(l4, len, ref_sum(ph, 40, 0)) == 0xffff;
}

static uint16_t eth(uint8_t *f, const uint8_t *dst, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, peer_mac, 6);
	f[12] = (uint8_t)(type >> 8);
	f[13] = (uint8_t)type;
	return 14;
}

static void put_cksum(uint8_t *at, uint16_t c)
{
	at[0] = (uint8_t)(c >> 8);
	at[1] = (uint8_t)c;
}

/* IPv4 + payload of `l4_len` bytes from 198.18.0.2 to `dst`; returns frame length. */
static uint16_t ipv4_frame(uint8_t proto, const char *dst, uint16_t l4_len)
{
	memset(buf, 0, sizeof(buf));
	uint16_t off = eth(buf, our_mac, 0x0800);
	uint8_t *ip = buf + off;
	ip[0] = 0x45;
	ip[2] = (uint8_t)((20 + l4_len) >> 8);
	ip[3] = (uint8_t)(20 + l4_len);
	ip[8] = 64;
	ip[9] = proto;
	inet_pton(AF_INET, "198.18.0.2", ip + 12);
	inet_pton(AF_INET, dst, ip + 16);
	put_cksum(ip + 10, (uint16_t)~ref_sum(ip, 20, 0));
	return (uint16_t)(off + 20 + l4_len);
}

static uint16_t icmp_echo_v4(void)
{
	uint16_t len = ipv4_frame(1, "198.18.0.1", 16);
	uint8_t *icmp = buf + 34;
	icmp[0] = 8;
	memcpy(icmp + 4, "\x12\x34\x00\x01hello!!!", 12);
	put_cksum(icmp + 2, (uint16_t)~ref_sum(icmp, 16, 0));
	return len;
}

static uint16_t udp_v4(uint16_t dport, const char *payload)
{
	uint16_t plen = (uint16_t)strlen(payload);
	uint16_t len = ipv4_frame(17, "198.18.0.1", (uint16_t)(8 + plen));
	uint8_t *ip = buf + 14, *udp = ip + 20;
	udp[0] = 0x30;
	udp[1] = 0x39;
	udp[2] = (uint8_t)(dport >> 8);
	udp[3] = (uint8_t)dport;
	udp[4] = (uint8_t)((8 + plen) >> 8);
	udp[5] = (uint8_t)(8 + plen);
	memcpy(udp + 8, payload, plen);
	uint8_t ph[12];
	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = 17;
	ph[10] = udp[4];
	ph[11] = udp[5];
	put_cksum(udp + 6, (uint16_t)~ref_sum(udp, 8u + plen, ref_sum(ph, 12, 0)));
	return len;
}

static uint16_t ipv6_frame(const uint8_t *dst_mac, uint8_t nh, const char *src, const char *dst,
			   uint16_t plen, uint8_t hops)
{
	memset(buf, 0, sizeof(buf));
	uint16_t off = eth(buf, dst_mac, 0x86dd);
	uint8_t *ip = buf + off;
	ip[0] = 0x60;
	ip[4] = (uint8_t)(plen >> 8);
	ip[5] = (uint8_t)plen;
	ip[6] = nh;
	ip[7] = hops;
	inet_pton(AF_INET6, src, ip + 8);
	inet_pton(AF_INET6, dst, ip + 24);
	return (uint16_t)(off + 40 + plen);
}

static void icmp6_cksum(uint16_t plen)
{
	uint8_t *ip = buf + 14, *icmp = ip + 40;
	icmp[2] = icmp[3] = 0;
	uint8_t ph[40] = {0};
	memcpy(ph, ip + 8, 32);
	ph[34] = (uint8_t)(plen >> 8);
	ph[35] = (uint8_t)plen;
	ph[39] = 58;
	put_cksum(icmp + 2, (uint16_t)~ref_sum(icmp, plen, ref_sum(ph, 40, 0)));
}

static struct sn_l3_result run(uint16_t len)
{
	struct sn_l3_result res;
	sn_l3_handle(&port, buf, len, sizeof(buf), true, &res);
	return res;
}

Test(l3, arp_request_for_us_is_answered_and_teaches_neighbour)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	uint16_t off = eth(buf, bcast, 0x0806);
	uint8_t *arp = buf + off;
	memcpy(arp, "\x00\x01\x08\x00\x06\x04\x00\x01", 8);
	memcpy(arp + 8, peer_mac, 6);
	inet_pton(AF_INET, "198.18.0.2", arp + 14);
	inet_pton(AF_INET, "198.18.0.1", arp + 24);
	struct sn_l3_result r = run(60);
	cr_assert_eq(r.action, SN_L3_REPLY);
	cr_assert_eq(r.reply_counter, SN_CTR_ARP_REPLIES);
	cr_assert_eq(arp[7], 2);
	cr_assert_arr_eq(arp + 8, our_mac, 6);
	cr_assert_arr_eq(buf, peer_mac, 6);
	cr_assert_arr_eq(buf + 6, our_mac, 6);
	cr_assert(r.learn.valid);
	cr_assert_arr_eq(r.learn.mac, peer_mac, 6);

	setup();
	off = eth(buf, bcast, 0x0806);
	arp = buf + off;
	memcpy(arp, "\x00\x01\x08\x00\x06\x04\x00\x01", 8);
	inet_pton(AF_INET, "198.18.0.9", arp + 24);
	r = run(60);
	cr_assert_eq(r.action, SN_L3_DROP);
	cr_assert_eq(r.reason, SN_DROP_ARP_NOT_FOR_US);
}

Test(l3, icmp_echo_reply_is_valid)
{
	uint16_t len = icmp_echo_v4();
	struct sn_l3_result r = run(len);
	cr_assert_eq(r.action, SN_L3_REPLY);
	cr_assert_eq(r.len, len);
	uint8_t *ip = buf + 14;
	cr_assert(ipv4_hdr_ok(ip));
	cr_assert_eq(ip[20], 0);
	cr_assert_eq(ref_sum(ip + 20, 16, 0), 0xffff);
	uint8_t want[4];
	inet_pton(AF_INET, "198.18.0.2", want);
	cr_assert_arr_eq(ip + 16, want, 4);
	cr_assert_arr_eq(buf, peer_mac, 6);
}

Test(l3, udp_to_us_gives_offsets)
{
	uint16_t len = udp_v4(4222, "ping");
	struct sn_l3_result r = run(len);
	cr_assert_eq(r.action, SN_L3_UDP);
	cr_assert_eq(r.family, AF_INET);
	cr_assert_eq(r.payload_len, 4);
	cr_assert_arr_eq(buf + r.payload_off, "ping", 4);
	cr_assert_eq(r.l4_off, 34);
}

Test(l3, ipv4_malformed_reasons)
{
	uint16_t len;
	struct sn_l3_result r;

	len = icmp_echo_v4();
	r = run(30);
	cr_assert_eq(r.reason, SN_DROP_IPV4_TRUNCATED);

	len = icmp_echo_v4();
	buf[14] = 0x65;
	r = run(len);
	cr_assert_eq(r.reason, SN_DROP_IPV4_VERSION);

	len = icmp_echo_v4();
	buf[14] = 0x44;
	r = run(len);
	cr_assert_eq(r.reason, SN_DROP_IPV4_HEADER_LENGTH);

	len = icmp_echo_v4();
	buf[16] = 0x05; /* total length 1300+ */
	r = run(len);
	cr_assert_eq(r.reason, SN_DROP_IPV4_TOTAL_LENGTH);

	len = icmp_echo_v4();
	buf[24] ^= 0x55;
	r = run(len);
	cr_assert_eq(r.reason, SN_DROP_IPV4_CHECKSUM);

	len = icmp_echo_v4();
	buf[20] = 0x20; /* MF */
	put_cksum(buf + 24, 0);
	put_cksum(buf + 24, (uint16_t)~ref_sum(buf + 14, 20, 0));
	r = run(len);
	cr_assert_eq(r.reason, SN_DROP_IPV4_FRAGMENT);

	len = icmp_echo_v4();
	buf[14 + 20 + 5] ^= 1; /* icmp checksum now wrong */
	r = run(len);
	cr_assert_eq(r.reason, SN_DROP_ICMP_MALFORMED);

	len = ipv4_frame(1, "198.18.0.7", 16);
	r = run(len);
	cr_assert_eq(r.reason, SN_DROP_IPV4_NOT_FOR_US);

	len = udp_v4(7, "abc");
	buf[14 + 20 + 7] ^= 1;
	r = run(len);
	cr_assert_eq(r.reason, SN_DROP_UDP_CHECKSUM);

	len = udp_v4(7, "abc");
	buf[14 + 20 + 5] = 20; /* UDP length past the IP payload */
	r = run(len);
	cr_assert_eq(r.reason, SN_DROP_UDP_LENGTH);

	len = ipv4_frame(6, "198.18.0.1", 20);
	r = run(len);
	cr_assert_eq(r.reason, SN_DROP_PROTOCOL);

	r = run(10);
	cr_assert_eq(r.reason, SN_DROP_RUNT);

	len = icmp_echo_v4();
	buf[12] = 0x88;
	buf[13] = 0xcc;
	r = run(len);
	cr_assert_eq(r.reason, SN_DROP_ETHERTYPE);

	len = icmp_echo_v4();
	buf[0] = 0x04;
	r = run(len);
	cr_assert_eq(r.reason, SN_DROP_NOT_FOR_US_L2);
}

Test(l3, icmp6_echo_reply_is_valid)
{
	uint16_t plen = 16;
	uint16_t len = ipv6_frame(our_mac, 58, "2001:db8:5e::2", "2001:db8:5e::1", plen, 64);
	uint8_t *icmp = buf + 54;
	icmp[0] = 128;
	memcpy(icmp + 4, "\x00\x01\x00\x01payload!", 12);
	icmp6_cksum(plen);
	struct sn_l3_result r = run(len);
	cr_assert_eq(r.action, SN_L3_REPLY);
	cr_assert_eq(r.reply_counter, SN_CTR_ICMP6_ECHO_REPLIES);
	cr_assert_eq(icmp[0], 129);
	cr_assert(l4_v6_ok(buf + 14, icmp, plen, 58));
	uint8_t want[16];
	inet_pton(AF_INET6, "2001:db8:5e::2", want);
	cr_assert_arr_eq(buf + 14 + 24, want, 16);
}

Test(l3, neighbour_solicitation_gets_advertisement)
{
	static const uint8_t mcast[6] = {0x33, 0x33, 0xff, 0x00, 0x00, 0x01};
	uint16_t plen = 32;
	uint16_t len = ipv6_frame(mcast, 58, "2001:db8:5e::2", "ff02::1:ff00:1", plen, 255);
	uint8_t *icmp = buf + 54;
	icmp[0] = 135;
	inet_pton(AF_INET6, "2001:db8:5e::1", icmp + 8);
	icmp[24] = 1;
	icmp[25] = 1;
	memcpy(icmp + 26, peer_mac, 6);
	icmp6_cksum(plen);
	struct sn_l3_result r = run(len);
	cr_assert_eq(r.action, SN_L3_REPLY);
	cr_assert_eq(r.reply_counter, SN_CTR_ND_ADVERTS);
	cr_assert_eq(icmp[0], 136);
	cr_assert_eq(icmp[4], 0x60);
	cr_assert_eq(icmp[24], 2);
	cr_assert_arr_eq(icmp + 26, our_mac, 6);
	cr_assert(l4_v6_ok(buf + 14, icmp, 32, 58));
	cr_assert(r.learn.valid);
	cr_assert_eq(r.learn.family, AF_INET6);

	/* Hop limit other than 255: not a real on-link NS. */
	setup();
	len = ipv6_frame(mcast, 58, "2001:db8:5e::2", "ff02::1:ff00:1", plen, 64);
	icmp[0] = 135;
	inet_pton(AF_INET6, "2001:db8:5e::1", icmp + 8);
	icmp6_cksum(plen);
	r = run(len);
	cr_assert_eq(r.reason, SN_DROP_ND_MALFORMED);
}

Test(l3, ipv6_malformed_reasons)
{
	uint16_t len;
	struct sn_l3_result r;

	len = ipv6_frame(our_mac, 44, "2001:db8:5e::2", "2001:db8:5e::1", 16, 64);
	r = run(len);
	cr_assert_eq(r.reason, SN_DROP_IPV6_EXT_HEADER);

	len = ipv6_frame(our_mac, 17, "2001:db8:5e::2", "2001:db8:5e::1", 16, 64);
	buf[18] = 0x10; /* payload length 4096 */
	r = run(len);
	cr_assert_eq(r.reason, SN_DROP_IPV6_PAYLOAD_LENGTH);

	len = ipv6_frame(our_mac, 17, "2001:db8:5e::2", "2001:db8:5e::1", 16, 64);
	buf[14] = 0x40;
	r = run(len);
	cr_assert_eq(r.reason, SN_DROP_IPV6_VERSION);

	r = run(40);
	cr_assert_eq(r.reason, SN_DROP_IPV6_TRUNCATED);

	len = ipv6_frame(our_mac, 17, "2001:db8:5e::2", "2001:db8:5e::1", 16, 64);
	buf[54 + 5] = 16; /* UDP length right, checksum zero: not allowed in IPv6 */
	r = run(len);
	cr_assert_eq(r.reason, SN_DROP_UDP_CHECKSUM);

	len = ipv6_frame(our_mac, 17, "ff02::1", "2001:db8:5e::1", 16, 64);
	r = run(len);
	cr_assert_eq(r.reason, SN_DROP_IPV6_BAD_SOURCE);

	len = ipv6_frame(our_mac, 17, "2001:db8:5e::2", "2001:db8:5e::99", 16, 64);
	r = run(len);
	cr_assert_eq(r.reason, SN_DROP_IPV6_NOT_FOR_US);
}

Test(l3, built_udp_and_neighbour_requests_are_valid)
{
	uint8_t src[16], dst[16];
	inet_pton(AF_INET, "198.18.0.1", src);
	inet_pton(AF_INET, "198.18.0.2", dst);
	uint16_t hr = sn_udp_headroom(AF_INET);
	memcpy(buf + hr, "hello", 5);
	uint16_t len =
	    sn_build_udp(buf, our_mac, peer_mac, AF_INET, src, dst, htons(7), htons(5555), 5);
	cr_assert_eq(len, hr + 5);
	cr_assert(ipv4_hdr_ok(buf + 14));
	cr_assert(l4_v4_ok(buf + 14, buf + 34, 13, 17));

	inet_pton(AF_INET6, "2001:db8:5e::1", src);
	inet_pton(AF_INET6, "2001:db8:5e::2", dst);
	hr = sn_udp_headroom(AF_INET6);
	memcpy(buf + hr, "hello", 5);
	len = sn_build_udp(buf, our_mac, peer_mac, AF_INET6, src, dst, htons(7), htons(5555), 5);
	cr_assert(l4_v6_ok(buf + 14, buf + 54, 13, 17));

	len = sn_build_neigh_request(buf, &port, AF_INET6, dst);
	cr_assert_eq(len, 86);
	cr_assert(l4_v6_ok(buf + 14, buf + 54, 32, 58));
	cr_assert_eq(buf[0], 0x33);
	len = sn_build_neigh_request(buf, &port, AF_INET, dst);
	cr_assert_eq(len, 60);
}

Test(l3, on_link)
{
	uint8_t a[16];
	inet_pton(AF_INET, "198.18.0.200", a);
	cr_assert(sn_l3_on_link(&port, AF_INET, a));
	inet_pton(AF_INET, "198.18.1.2", a);
	cr_assert_not(sn_l3_on_link(&port, AF_INET, a));
	inet_pton(AF_INET6, "2001:db8:5e::abcd", a);
	cr_assert(sn_l3_on_link(&port, AF_INET6, a));
	inet_pton(AF_INET6, "2001:db8:5f::1", a);
	cr_assert_not(sn_l3_on_link(&port, AF_INET6, a));
}
