/* frames.c: sn-lab-frames, a generator of malformed Ethernet frames for the lab.
 *
 *   sn-lab-frames [options] IFACE DST_MAC COUNT_PER_CATEGORY SEED [TOTAL]
 *
 * Sends deterministic (SEED) malformed frames out of IFACE (an AF_PACKET SOCK_RAW socket)
 * to DST_MAC, the dataplane port's MAC, from 198.18.0.2 / 2001:db8:5e::2 to 198.18.0.1 /
 * 2001:db8:5e::1 (options --src4 --dst4 --src6 --dst6 change them). Categories take turns,
 * COUNT_PER_CATEGORY frames each, or TOTAL frames in all when it is given. Each category
 * breaks one thing in an otherwise valid frame, so the dataplane must drop it with one
 * known reason (the labels of SN_DROP_REASONS in common/sn_stats.h):
 *
 *   truncated    cut inside the Ethernet, IPv4 or IPv6 header   runt / ipv4_truncated /
 *                                                               ipv6_truncated
 *   checksum     IPv4 header checksum wrong                     ipv4_checksum
 *   totlen       IPv4 total length past the frame, or < IHL     ipv4_total_length
 *   ihl          IPv4 IHL 0..4                                  ipv4_header_length
 *   version      ethertype IPv4, version 6, 5 or 0              ipv4_version
 *   ethertype    0x88cc (LLDP), 0x8100 (VLAN), 0x1234, 0x0000   ethertype
 *   fragment     IPv4 MF or offset; IPv6 fragment header        ipv4_fragment /
 *                                                               ipv6_ext_header
 *   ip6len       IPv6 payload length past the frame             ipv6_payload_length
 *   udpsum       UDP checksum wrong (IPv4, IPv6)                udp_checksum
 *   udplen       UDP length differs from the IP payload         udp_length
 *   icmp         ICMP echo with a bad checksum, or cut short    icmp_malformed
 *
 * Output: on stdout one line `reason count` per drop reason that frames were sent for; on
 * stderr one line per category. Exit 0 when every frame went out.
 *
 * Delivery: frames bypass the qdisc (PACKET_QDISC_BYPASS), so a tap device that drops a
 * frame because its queue to the dataplane is full counts it in tx_dropped at once; the
 * tool then waits a little and sends the frame again, so every frame it reports reached
 * the dataplane's queue. The kernel refuses frames shorter than an Ethernet header on an
 * Ethernet device (dev_validate_header), so runts are only counted when it takes them.
 *
 * Safety: it refuses to run outside a network namespace made with `ip netns add` (the lab
 * runs it with `ip netns exec`), unless --allow-init-netns. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ETH_HLEN_   14
#define IP4_HLEN    20
#define IP6_HLEN    40
#define UDP_HLEN    8
#define FRAME_MAX   1514
#define MAX_TOTAL   1000000 /* frames in one run at most */
#define MAX_RETRIES 2000    /* re-sends of one frame the tap dropped */

#define ET_IPV4 0x0800
#define ET_IPV6 0x86dd

#define P_ICMP 1
#define P_UDP  17
#define P_FRAG 44

#define DISCARD_PORT 9

#define REASONS(X)                                                                                 \
	X(RUNT, "runt")                                                                            \
	X(IPV4_TRUNCATED, "ipv4_truncated")                                                        \
	X(IPV6_TRUNCATED, "ipv6_truncated")                                                        \
	X(IPV4_CHECKSUM, "ipv4_checksum")                                                          \
	X(IPV4_TOTAL_LENGTH, "ipv4_total_length")                                                  \
	X(IPV4_HEADER_LENGTH, "ipv4_header_length")                                                \
	X(IPV4_VERSION, "ipv4_version")                                                            \
	X(ETHERTYPE, "ethertype")                                                                  \
	X(IPV4_FRAGMENT, "ipv4_fragment")                                                          \
	X(IPV6_EXT_HEADER, "ipv6_ext_header")                                                      \
	X(IPV6_PAYLOAD_LENGTH, "ipv6_payload_length")                                              \
	X(UDP_CHECKSUM, "udp_checksum")                                                            \
	X(UDP_LENGTH, "udp_length")                                                                \
	X(ICMP_MALFORMED, "icmp_malformed")

enum reason {
#define X_ENUM(name, label) R_##name,
	REASONS(X_ENUM)
#undef X_ENUM
	    R_MAX
};

static const char *const reason_names[R_MAX] = {
#define X_NAME(name, label) label,
    REASONS(X_NAME)
#undef X_NAME
};

enum category {
	C_TRUNCATED,
	C_CHECKSUM,
	C_TOTLEN,
	C_IHL,
	C_VERSION,
	C_ETHERTYPE,
	C_FRAGMENT,
	C_IP6LEN,
	C_UDPSUM,
	C_UDPLEN,
	C_ICMP,
	C_MAX
};

static const struct {
	const char *name;
	const char *reasons;
} categories[C_MAX] = {
    [C_TRUNCATED] = {"truncated", "runt/ipv4_truncated/ipv6_truncated"},
    [C_CHECKSUM] = {"checksum", "ipv4_checksum"},
    [C_TOTLEN] = {"totlen", "ipv4_total_length"},
    [C_IHL] = {"ihl", "ipv4_header_length"},
    [C_VERSION] = {"version", "ipv4_version"},
    [C_ETHERTYPE] = {"ethertype", "ethertype"},
    [C_FRAGMENT] = {"fragment", "ipv4_fragment/ipv6_ext_header"},
    [C_IP6LEN] = {"ip6len", "ipv6_payload_length"},
    [C_UDPSUM] = {"udpsum", "udp_checksum"},
    [C_UDPLEN] = {"udplen", "udp_length"},
    [C_ICMP] = {"icmp", "icmp_malformed"},
};

struct gen {
	uint64_t rng;
	uint8_t dst_mac[6];
	uint8_t src_mac[6];
	uint8_t src4[4], dst4[4];
	uint8_t src6[16], dst6[16];
	bool runt_ok; /* false once the kernel refused a runt */
};

/* xorshift64*: deterministic for a seed, good enough to vary lengths and fields. */
static uint32_t rnd(struct gen *g)
{
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return (uint32_t)((g->rng * 0x2545f4914f6cdd1dull) >> 32);
}

static uint32_t rnd_range(struct gen *g, uint32_t lo, uint32_t hi) /* [lo, hi] */
{
	return lo + rnd(g) % (hi - lo + 1);
}

static void wr16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* RFC 1071 sum of big-endian 16-bit words. */
static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	while (len > 1) {
		sum += rd16(p);
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void ip4_set_cksum(uint8_t *ip)
{
	ip[10] = ip[11] = 0;
	wr16(ip + 10, fold(sum16(ip, IP4_HLEN, 0)));
}

static uint32_t pseudo4(const uint8_t *ip, uint32_t l4_len, uint8_t proto)
{
	uint32_t s = sum16(ip + 12, 8, 0);
	return s + proto + l4_len;
}

static uint32_t pseudo6(const uint8_t *ip, uint32_t l4_len, uint8_t proto)
{
	uint32_t s = sum16(ip + 8, 32, 0);
	return s + (l4_len >> 16) + (l4_len & 0xffff) + proto;
}

static void fill_random(struct gen *g, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd(g);
}

static void eth(struct gen *g, uint8_t *f, uint16_t type)
{
	memcpy(f, g->dst_mac, 6);
	memcpy(f + 6, g->src_mac, 6);
	wr16(f + 12, type);
}

/* A valid IPv4 header for l4_len bytes of protocol proto. */
static void ip4(struct gen *g, uint8_t *ip, uint16_t l4_len, uint8_t proto)
{
	ip[0] = 0x45;
	ip[1] = 0;
	wr16(ip + 2, (uint32_t)IP4_HLEN + l4_len);
	wr16(ip + 4, rnd(g));
	wr16(ip + 6, 0);
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, g->src4, 4);
	memcpy(ip + 16, g->dst4, 4);
	ip4_set_cksum(ip);
}

static void ip6(struct gen *g, uint8_t *ip, uint16_t plen, uint8_t nh)
{
	ip[0] = 0x60;
	ip[1] = ip[2] = ip[3] = 0;
	wr16(ip + 4, plen);
	ip[6] = nh;
	ip[7] = 64;
	memcpy(ip + 8, g->src6, 16);
	memcpy(ip + 24, g->dst6, 16);
}

/* Valid UDP datagram (to the discard port) in IPv4 or IPv6; returns the frame length. */
static uint16_t udp_frame(struct gen *g, uint8_t *f, bool v6, uint16_t payload)
{
	uint16_t l4_len = (uint16_t)(UDP_HLEN + payload);
	uint8_t *ip = f + ETH_HLEN_;
	uint8_t *udp = ip + (v6 ? IP6_HLEN : IP4_HLEN);
	eth(g, f, v6 ? ET_IPV6 : ET_IPV4);
	if (v6)
		ip6(g, ip, l4_len, P_UDP);
	else
		ip4(g, ip, l4_len, P_UDP);
	wr16(udp, rnd_range(g, 1024, 65535));
	wr16(udp + 2, DISCARD_PORT);
	wr16(udp + 4, l4_len);
	udp[6] = udp[7] = 0;
	fill_random(g, udp + UDP_HLEN, payload);
	uint32_t s = v6 ? pseudo6(ip, l4_len, P_UDP) : pseudo4(ip, l4_len, P_UDP);
	uint16_t c = fold(sum16(udp, l4_len, s));
	wr16(udp + 6, c ? c : 0xffff);
	return (uint16_t)(udp - f + l4_len);
}

/* Valid ICMP echo request in IPv4; returns the frame length. */
static uint16_t icmp_frame(struct gen *g, uint8_t *f, uint16_t payload)
{
	uint16_t l4_len = (uint16_t)(8 + payload);
	uint8_t *ip = f + ETH_HLEN_;
	uint8_t *icmp = ip + IP4_HLEN;
	eth(g, f, ET_IPV4);
	ip4(g, ip, l4_len, P_ICMP);
	icmp[0] = 8;
	icmp[1] = 0;
	icmp[2] = icmp[3] = 0;
	wr16(icmp + 4, rnd(g));
	wr16(icmp + 6, rnd(g));
	fill_random(g, icmp + 8, payload);
	wr16(icmp + 2, fold(sum16(icmp, l4_len, 0)));
	return (uint16_t)(ETH_HLEN_ + IP4_HLEN + l4_len);
}

/* A valid IPv4 frame, UDP or ICMP. */
static uint16_t v4_frame(struct gen *g, uint8_t *f)
{
	uint16_t payload = (uint16_t)rnd_range(g, 0, 64);
	return rnd(g) & 1 ? udp_frame(g, f, false, payload) : icmp_frame(g, f, payload);
}

/* Changes the 16-bit field at p so that a checksum over [start, start+len) plus `pseudo`
 * no longer verifies (a one's-complement check, as the receiver does it). */
static void break_cksum(struct gen *g, uint8_t *p, const uint8_t *start, size_t len,
			uint32_t pseudo, bool avoid_zero)
{
	uint16_t orig = rd16(p);
	for (int i = 0; i < 64; i++) {
		uint16_t v = (uint16_t)(orig ^ (uint16_t)rnd_range(g, 1, 0xffff));
		if (avoid_zero && v == 0)
			continue;
		wr16(p, v);
		if (fold(sum16(start, len, pseudo)) != 0)
			return;
	}
	wr16(p, (uint16_t)(orig + 0x1111)); /* practically never reached */
}

static uint16_t gen_truncated(struct gen *g, uint8_t *f, enum reason *r)
{
	uint32_t v = rnd(g) % 3;
	if (v == 0 && g->runt_ok) {
		fill_random(g, f, 13);
		memcpy(f, g->dst_mac, 6);
		*r = R_RUNT;
		return (uint16_t)rnd_range(g, 7, 13);
	}
	if (v == 1 || v == 0) {
		udp_frame(g, f, false, 16);
		*r = R_IPV4_TRUNCATED;
		return (uint16_t)rnd_range(g, ETH_HLEN_, ETH_HLEN_ + IP4_HLEN - 1);
	}
	udp_frame(g, f, true, 16);
	*r = R_IPV6_TRUNCATED;
	return (uint16_t)rnd_range(g, ETH_HLEN_, ETH_HLEN_ + IP6_HLEN - 1);
}

static uint16_t gen_frame(struct gen *g, enum category c, uint8_t *f, enum reason *r)
{
	uint8_t *ip = f + ETH_HLEN_;
	uint16_t len;

	switch (c) {
	case C_TRUNCATED:
		return gen_truncated(g, f, r);
	case C_CHECKSUM:
		len = v4_frame(g, f);
		break_cksum(g, ip + 10, ip, IP4_HLEN, 0, false);
		*r = R_IPV4_CHECKSUM;
		return len;
	case C_TOTLEN:
		len = v4_frame(g, f);
		if (rnd(g) % 4)
			wr16(ip + 2, (uint32_t)(len - ETH_HLEN_) + rnd_range(g, 1, 200));
		else
			wr16(ip + 2, rnd_range(g, 0, IP4_HLEN - 1));
		ip4_set_cksum(ip);
		*r = R_IPV4_TOTAL_LENGTH;
		return len;
	case C_IHL:
		len = v4_frame(g, f);
		ip[0] = (uint8_t)(0x40 | rnd_range(g, 0, 4));
		ip4_set_cksum(ip);
		*r = R_IPV4_HEADER_LENGTH;
		return len;
	case C_VERSION: {
		static const uint8_t versions[] = {6, 5, 0};
		len = v4_frame(g, f);
		ip[0] = (uint8_t)(versions[rnd(g) % 3] << 4 | 5);
		ip4_set_cksum(ip);
		*r = R_IPV4_VERSION;
		return len;
	}
	case C_ETHERTYPE: {
		static const uint16_t types[] = {0x88cc, 0x8100, 0x1234, 0x0000};
		uint16_t type = types[rnd(g) % 4];
		len = (uint16_t)rnd_range(g, 60, 200);
		eth(g, f, type);
		fill_random(g, f + ETH_HLEN_, (size_t)(len - ETH_HLEN_));
		if (type == 0x8100) {
			wr16(f + 14, rnd(g) & 0x0fff); /* TCI: VLAN id */
			wr16(f + 16, 0x88b5);	       /* inner: local experimental ethertype */
		}
		*r = R_ETHERTYPE;
		return len;
	}
	case C_FRAGMENT:
		if (rnd(g) % 3 == 2) {
			/* IPv6 + fragment header + the start of a UDP datagram */
			uint16_t payload = (uint16_t)rnd_range(g, 8, 64);
			uint8_t *fh = ip + IP6_HLEN;
			eth(g, f, ET_IPV6);
			ip6(g, ip, (uint16_t)(8 + payload), P_FRAG);
			fh[0] = P_UDP;
			fh[1] = 0;
			wr16(fh + 2,
			     rnd(g) % 2 ? 1 : (rnd_range(g, 1, 0x1fff) << 3)); /* M or offset */
			wr16(fh + 4, rnd(g));
			wr16(fh + 6, rnd(g));
			fill_random(g, fh + 8, payload);
			*r = R_IPV6_EXT_HEADER;
			return (uint16_t)(ETH_HLEN_ + IP6_HLEN + 8 + payload);
		}
		len = v4_frame(g, f);
		if (rnd(g) & 1)
			wr16(ip + 6, 0x2000); /* MF, offset 0 */
		else
			wr16(ip + 6, (rnd(g) & 0x2000) | rnd_range(g, 1, 0x1fff));
		ip4_set_cksum(ip);
		*r = R_IPV4_FRAGMENT;
		return len;
	case C_IP6LEN:
		len = udp_frame(g, f, true, (uint16_t)rnd_range(g, 0, 64));
		wr16(ip + 4, (uint32_t)(len - ETH_HLEN_ - IP6_HLEN) + rnd_range(g, 1, 200));
		*r = R_IPV6_PAYLOAD_LENGTH;
		return len;
	case C_UDPSUM: {
		bool v6 = rnd(g) & 1;
		len = udp_frame(g, f, v6, (uint16_t)rnd_range(g, 0, 64));
		uint8_t *udp = ip + (v6 ? IP6_HLEN : IP4_HLEN);
		uint16_t l4_len = rd16(udp + 4);
		uint32_t s = v6 ? pseudo6(ip, l4_len, P_UDP) : pseudo4(ip, l4_len, P_UDP);
		/* zero means "no checksum" in IPv4: keep it non-zero */
		break_cksum(g, udp + 6, udp, l4_len, s, true);
		*r = R_UDP_CHECKSUM;
		return len;
	}
	case C_UDPLEN: {
		bool v6 = rnd(g) & 1;
		len = udp_frame(g, f, v6, (uint16_t)rnd_range(g, 0, 64));
		uint8_t *udp = ip + (v6 ? IP6_HLEN : IP4_HLEN);
		uint16_t l4_len = rd16(udp + 4);
		uint16_t bad;
		do
			bad = rnd(g) % 2 ? (uint16_t)(l4_len + rnd_range(g, 1, 100))
					 : (uint16_t)rnd_range(g, 0, l4_len);
		while (bad == l4_len);
		wr16(udp + 4, bad);
		*r = R_UDP_LENGTH;
		return len;
	}
	case C_ICMP:
		if (rnd(g) % 4 == 0) {
			/* shorter than an ICMP header */
			uint16_t l4_len = (uint16_t)rnd_range(g, 1, 7);
			eth(g, f, ET_IPV4);
			ip4(g, ip, l4_len, P_ICMP);
			fill_random(g, ip + IP4_HLEN, l4_len);
			ip[IP4_HLEN] = 8;
			*r = R_ICMP_MALFORMED;
			return (uint16_t)(ETH_HLEN_ + IP4_HLEN + l4_len);
		}
		len = icmp_frame(g, f, (uint16_t)rnd_range(g, 0, 64));
		break_cksum(g, ip + IP4_HLEN + 2, ip + IP4_HLEN,
			    (size_t)(len - ETH_HLEN_ - IP4_HLEN), 0, false);
		*r = R_ICMP_MALFORMED;
		return len;
	case C_MAX:
		break;
	}
	*r = R_ETHERTYPE;
	return 0;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char tail;
	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
		return -1;
	for (int i = 0; i < 6; i++) {
		if (v[i] > 0xff)
			return -1;
		mac[i] = (uint8_t)v[i];
	}
	return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-')
		return -1;
	*out = v;
	return 0;
}

/* True when this process runs in a namespace made with `ip netns add` (bound under
 * /run/netns), where the lab lives; false in the initial namespace or when unknown. */
static bool in_named_netns(void)
{
	struct stat self, st;
	char path[300];
	bool found = false;
	if (stat("/proc/self/ns/net", &self) < 0)
		return false;
	DIR *d = opendir("/run/netns");
	if (!d)
		return false;
	for (struct dirent *e; !found && (e = readdir(d)) != NULL;) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/run/netns/%s", e->d_name);
		found =
		    stat(path, &st) == 0 && st.st_ino == self.st_ino && st.st_dev == self.st_dev;
	}
	closedir(d);
	return found;
}

/* tx_dropped of the interface (sysfs), or -1 when it cannot be read. */
static long long read_dropped(int fd)
{
	char buf[32];
	if (fd < 0)
		return -1;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return strtoll(buf, NULL, 10);
}

static void pause_us(long us)
{
	struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

struct sender {
	int fd;
	int dropped_fd;
	struct sockaddr_ll sll;
	uint64_t resent; /* frames sent again after the tap dropped them */
};

/* Sends one frame; 0, or -EINVAL when the kernel refuses it, or another -errno. */
static int send_frame(struct sender *s, const uint8_t *f, uint16_t len)
{
	for (int attempt = 0; attempt < MAX_RETRIES; attempt++) {
		long long before = read_dropped(s->dropped_fd);
		ssize_t n =
		    sendto(s->fd, f, len, 0, (const struct sockaddr *)&s->sll, sizeof(s->sll));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS || errno == EAGAIN) {
				pause_us(200);
				continue;
			}
			return -errno;
		}
		if ((size_t)n != len)
			return -EIO;
		long long after = read_dropped(s->dropped_fd);
		if (before < 0 || after <= before)
			return 0;
		s->resent++; /* the tap's queue to the dataplane was full: wait, send again */
		pause_us(500);
	}
	return -ETIMEDOUT;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: sn-lab-frames [--src4 A] [--dst4 A] [--src6 A] [--dst6 A] [--batch N]\n"
		"                     [--allow-init-netns] IFACE DST_MAC COUNT_PER_CATEGORY SEED "
		"[TOTAL]\n"
		"Sends malformed frames out of IFACE; prints `reason count` per drop reason.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"src4", required_argument, NULL, '4'},  {"dst4", required_argument, NULL, 'd'},
	    {"src6", required_argument, NULL, '6'},  {"dst6", required_argument, NULL, 'D'},
	    {"batch", required_argument, NULL, 'b'}, {"allow-init-netns", no_argument, NULL, 'A'},
	    {"help", no_argument, NULL, 'h'},	     {NULL, 0, NULL, 0},
	};
	const char *src4 = "198.18.0.2", *dst4 = "198.18.0.1";
	const char *src6 = "2001:db8:5e::2", *dst6 = "2001:db8:5e::1";
	bool allow_init = false;
	uint64_t batch = 64, per_cat, seed, total;
	struct gen g;
	struct sender s = {.fd = -1, .dropped_fd = -1};
	int opt, status = 1;

	memset(&g, 0, sizeof(g));
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case '4':
			src4 = optarg;
			break;
		case 'd':
			dst4 = optarg;
			break;
		case '6':
			src6 = optarg;
			break;
		case 'D':
			dst6 = optarg;
			break;
		case 'b':
			if (parse_u64(optarg, &batch) < 0 || batch == 0) {
				fprintf(stderr, "sn-lab-frames: bad --batch %s\n", optarg);
				return 2;
			}
			break;
		case 'A':
			allow_init = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 4 && argc - optind != 5) {
		usage(stderr);
		return 2;
	}
	const char *ifname = argv[optind];
	if (parse_mac(argv[optind + 1], g.dst_mac) < 0 ||
	    parse_u64(argv[optind + 2], &per_cat) < 0 || parse_u64(argv[optind + 3], &seed) < 0 ||
	    inet_pton(AF_INET, src4, g.src4) != 1 || inet_pton(AF_INET, dst4, g.dst4) != 1 ||
	    inet_pton(AF_INET6, src6, g.src6) != 1 || inet_pton(AF_INET6, dst6, g.dst6) != 1) {
		fprintf(stderr, "sn-lab-frames: bad MAC, number or address\n");
		usage(stderr);
		return 2;
	}
	total = per_cat * C_MAX;
	if (argc - optind == 5 && parse_u64(argv[optind + 4], &total) < 0) {
		fprintf(stderr, "sn-lab-frames: bad TOTAL %s\n", argv[optind + 4]);
		return 2;
	}
	if (total > MAX_TOTAL || per_cat > MAX_TOTAL) {
		fprintf(stderr, "sn-lab-frames: at most %d frames\n", MAX_TOTAL);
		return 2;
	}
	if (!allow_init && !in_named_netns()) {
		fprintf(stderr,
			"sn-lab-frames: refusing to send outside a namespace made by "
			"`ip netns add` (run it with ip netns exec, or --allow-init-netns)\n");
		return 2;
	}
	g.rng = seed ? seed : 0x9e3779b97f4a7c15ull;
	g.runt_ok = true;

	unsigned ifindex = if_nametoindex(ifname);
	if (ifindex == 0) {
		fprintf(stderr, "sn-lab-frames: no interface %s: %s\n", ifname, strerror(errno));
		return 1;
	}
	s.fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0); /* protocol 0: send only */
	if (s.fd < 0) {
		fprintf(stderr, "sn-lab-frames: socket(AF_PACKET): %s\n", strerror(errno));
		return 1;
	}
	int one = 1;
	if (setsockopt(s.fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) < 0)
		fprintf(stderr, "sn-lab-frames: PACKET_QDISC_BYPASS: %s (continuing)\n",
			strerror(errno));
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(s.fd, SIOCGIFHWADDR, &ifr) < 0) {
		fprintf(stderr, "sn-lab-frames: SIOCGIFHWADDR %s: %s\n", ifname, strerror(errno));
		goto out;
	}
	memcpy(g.src_mac, ifr.ifr_hwaddr.sa_data, 6);
	s.sll.sll_family = AF_PACKET;
	s.sll.sll_ifindex = (int)ifindex;
	s.sll.sll_halen = 6;
	memcpy(s.sll.sll_addr, g.dst_mac, 6);

	char path[128];
	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/tx_dropped", ifname);
	s.dropped_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s.dropped_fd < 0)
		fprintf(stderr, "sn-lab-frames: %s: %s (frames the tap drops go unnoticed)\n", path,
			strerror(errno));

	uint64_t by_reason[R_MAX] = {0}, by_cat[C_MAX] = {0}, sent = 0;
	uint8_t frame[FRAME_MAX];
	for (uint64_t i = 0; i < total; i++) {
		enum category c = (enum category)(i % C_MAX);
		enum reason r;
		uint16_t len = gen_frame(&g, c, frame, &r);
		int rc = send_frame(&s, frame, len);
		if (rc == -EINVAL && r == R_RUNT) {
			fprintf(stderr,
				"sn-lab-frames: %s refuses frames shorter than an Ethernet "
				"header; no runts sent\n",
				ifname);
			g.runt_ok = false;
			len = gen_frame(&g, c, frame, &r);
			rc = send_frame(&s, frame, len);
		}
		if (rc < 0) {
			fprintf(stderr, "sn-lab-frames: send (%s, %u bytes): %s\n",
				categories[c].name, len, strerror(-rc));
			goto report;
		}
		by_reason[r]++;
		by_cat[c]++;
		sent++;
		if ((i + 1) % batch == 0)
			pause_us(1000); /* pace: at most `batch` frames per millisecond */
	}
	status = 0;
report:
	for (int c = 0; c < C_MAX; c++)
		fprintf(stderr, "category %-10s sent %6llu -> %s\n", categories[c].name,
			(unsigned long long)by_cat[c], categories[c].reasons);
	fprintf(stderr, "total sent %llu, re-sent after a tap drop %llu\n",
		(unsigned long long)sent, (unsigned long long)s.resent);
	for (int r = 0; r < R_MAX; r++)
		if (by_reason[r])
			printf("%s %llu\n", reason_names[r], (unsigned long long)by_reason[r]);
	fflush(stdout);
out:
	if (s.dropped_fd >= 0)
		close(s.dropped_fd);
	close(s.fd);
	return status;
}
