/* flood.c: `supernode-bench flood`, the guard's lab flood (issue 5).
 *
 * Sends, from an AF_PACKET socket on an interface inside a lab namespace, OpenDHT ping and
 * find queries (msgpack, network id --network) and STUN Binding and Allocate requests to
 * the appliance, from --sources distinct spoofed addresses (IPv4 in --spoof4, the rest IPv6
 * spread over 4 /64s of --spoof6) plus --heavy heavy sources (198.18.200+h.1 and
 * 2001:db8:5d:h::1) that send --heavy-share percent of all packets. Bounded by --count and
 * --seconds; --rate caps packets per second (0: as fast as the socket takes them). Prints
 * one JSON line: what was sent, by kind, and the rate.
 *
 * Safety: refuses spoofed ranges outside 198.18.0.0/15 and 2001:db8::/32; run it only in a
 * namespace whose interface leads to the lab appliance (tests/lab/test_flood.sh). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/if_packet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int bench_flood_main(int argc, char **argv);

#define BATCH	  64
#define FRAME_MAX 256

enum kind { K_PING, K_FIND, K_BINDING, K_ALLOCATE, K_MAX };
static const char *const kind_names[K_MAX] = {"dht_ping", "dht_find", "stun_binding",
					      "stun_allocate"};

struct flood {
	int ifindex;
	uint8_t src_mac[6], dst_mac[6];
	uint8_t dst4[4], dst6[16];
	uint8_t spoof4[4], spoof6[16];
	unsigned spoof4_len, spoof6_len;
	uint32_t sources, heavy, heavy_share, network;
	uint16_t dht_port, stun_port;
	uint64_t sent[K_MAX], heavy_sent, sent4, sent6;
	uint64_t seq;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* splitmix64: ids and transaction ids that differ per packet */
static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void rnd_bytes(uint64_t *s, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = rnd(s);
		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
}

static size_t put_str(uint8_t *p, const char *s)
{
	size_t n = strlen(s);
	p[0] = (uint8_t)(0xa0 | n);
	memcpy(p + 1, s, n);
	return n + 1;
}

/* {"a":{"id":bin20[,"target":bin20]},"q":q,"t":uint16,"y":"q","v":"RNG1","n":network} */
static size_t dht_query(uint8_t *p, bool find, uint32_t network, uint64_t *s)
{
	size_t o = 0;
	p[o++] = network ? 0x86 : 0x85;
	o += put_str(p + o, "a");
	p[o++] = find ? 0x82 : 0x81;
	o += put_str(p + o, "id");
	p[o++] = 0xc4;
	p[o++] = 20;
	rnd_bytes(s, p + o, 20);
	o += 20;
	if (find) {
		o += put_str(p + o, "target");
		p[o++] = 0xc4;
		p[o++] = 20;
		rnd_bytes(s, p + o, 20);
		o += 20;
	}
	o += put_str(p + o, "q");
	o += put_str(p + o, find ? "find" : "ping");
	o += put_str(p + o, "t");
	p[o++] = 0xcd;
	put16(p + o, (uint16_t)(rnd(s) | 1));
	o += 2;
	o += put_str(p + o, "y");
	o += put_str(p + o, "q");
	o += put_str(p + o, "v");
	o += put_str(p + o, "RNG1");
	if (network) {
		o += put_str(p + o, "n");
		p[o++] = 0xce;
		put32(p + o, network);
		o += 4;
	}
	return o;
}

static size_t stun_request(uint8_t *p, bool allocate, uint64_t *s)
{
	put16(p, allocate ? 0x0003 : 0x0001);
	put16(p + 2, allocate ? 8 : 0);
	put32(p + 4, 0x2112a442);
	rnd_bytes(s, p + 8, 12);
	if (!allocate)
		return 20;
	put16(p + 20, 0x0019); /* REQUESTED-TRANSPORT: UDP */
	put16(p + 22, 4);
	p[24] = 17;
	p[25] = p[26] = p[27] = 0;
	return 28;
}

/* The source of packet i: a heavy one for heavy_share percent, else the next spoofed one. */
static int pick_source(struct flood *f, uint64_t i, uint8_t addr[16], bool *heavy)
{
	memset(addr, 0, 16);
	*heavy = f->heavy && (i * 7919 % 100) < f->heavy_share;
	if (*heavy) {
		uint32_t h = (uint32_t)(i % f->heavy);
		if (h & 1) { /* odd heavy sources are IPv6 */
			static const uint8_t base[16] = {0x20, 0x01, 0x0d, 0xb8, 0x00, 0x5d};
			memcpy(addr, base, 16);
			addr[7] = (uint8_t)h;
			addr[15] = 1;
			return AF_INET6;
		}
		addr[0] = 198;
		addr[1] = 18;
		addr[2] = (uint8_t)(200 + h);
		addr[3] = 1;
		return AF_INET;
	}
	uint32_t span4 = f->spoof4_len >= 32 ? 1 : (1u << (32 - f->spoof4_len)) - 2;
	uint32_t n4 = f->sources * 6 / 10 < span4 ? f->sources * 6 / 10 : span4;
	uint32_t j = (uint32_t)(f->seq++ % f->sources);
	if (j < n4) {
		uint32_t base = (uint32_t)f->spoof4[0] << 24 | f->spoof4[1] << 16 |
				f->spoof4[2] << 8 | f->spoof4[3];
		put32(addr, base + 1 + j);
		return AF_INET;
	}
	j -= n4;
	memcpy(addr, f->spoof6, 16);
	addr[7] = (uint8_t)(j % 4); /* 4 /64s under a /48: the prefix limits show */
	put32(addr + 12, j + 1);
	return AF_INET6;
}

static size_t build(struct flood *f, uint64_t i, uint8_t *frame, uint64_t *s)
{
	uint8_t src[16];
	bool heavy;
	int fam = pick_source(f, i, src, &heavy);
	enum kind k;
	unsigned r = (unsigned)(i % 20);
	k = r < 10 ? K_PING : r < 12 ? K_FIND : r < 19 ? K_BINDING : K_ALLOCATE;
	size_t l3 = 14, ihl = fam == AF_INET ? 20 : 40, l4 = l3 + ihl, pl = l4 + 8;
	size_t n = k <= K_FIND ? dht_query(frame + pl, k == K_FIND, f->network, s)
			       : stun_request(frame + pl, k == K_ALLOCATE, s);
	uint16_t udp_len = (uint16_t)(8 + n);

	memcpy(frame, f->dst_mac, 6);
	memcpy(frame + 6, f->src_mac, 6);
	put16(frame + 12, fam == AF_INET ? 0x0800 : 0x86dd);
	uint8_t *ip = frame + l3, *udp = frame + l4;
	put16(udp, (uint16_t)(1024 + (i & 0x7fff)));
	put16(udp + 2, k <= K_FIND ? f->dht_port : f->stun_port);
	put16(udp + 4, udp_len);
	put16(udp + 6, 0);
	uint32_t ps;
	if (fam == AF_INET) {
		ip[0] = 0x45;
		ip[1] = 0;
		put16(ip + 2, (uint16_t)(20 + udp_len));
		put16(ip + 4, (uint16_t)i);
		put16(ip + 6, 0);
		ip[8] = 64;
		ip[9] = 17;
		put16(ip + 10, 0);
		memcpy(ip + 12, src, 4);
		memcpy(ip + 16, f->dst4, 4);
		put16(ip + 10, fold(sum16(ip, 20, 0)));
		ps = sum16(ip + 12, 8, 17u + udp_len);
		f->sent4++;
	} else {
		put32(ip, 0x60000000);
		put16(ip + 4, udp_len);
		ip[6] = 17;
		ip[7] = 64;
		memcpy(ip + 8, src, 16);
		memcpy(ip + 24, f->dst6, 16);
		ps = sum16(ip + 8, 32, 17u + udp_len);
		f->sent6++;
	}
	uint16_t c = fold(sum16(udp, udp_len, ps));
	put16(udp + 6, c ? c : 0xffff);
	f->sent[k]++;
	f->heavy_sent += heavy;
	return l4 + udp_len;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

static int parse_net(const char *s, int fam, uint8_t *addr, unsigned *len)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	if (!slash || (size_t)(slash - s) >= sizeof(buf))
		return -1;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = 0;
	*len = (unsigned)atoi(slash + 1);
	return inet_pton(fam, buf, addr) == 1 ? 0 : -1;
}

/* Only the benchmarking and documentation ranges may be spoofed. */
static bool lab_range(const struct flood *f)
{
	bool ok4 = f->spoof4_len >= 15 && f->spoof4[0] == 198 && (f->spoof4[1] & 0xfe) == 18;
	bool ok6 = f->spoof6_len >= 32 && f->spoof6[0] == 0x20 && f->spoof6[1] == 0x01 &&
		   f->spoof6[2] == 0x0d && f->spoof6[3] == 0xb8;
	return ok4 && ok6;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: supernode-bench flood --iface IF --dst-mac MAC [options]\n"
		"  --dst4 A / --dst6 A     appliance addresses (198.18.0.1, 2001:db8:5e::1)\n"
		"  --spoof4 NET --spoof6 NET  spoofed ranges (198.19.0.0/16, 2001:db8:5f::/48)\n"
		"  --sources N             distinct spoofed sources (100000)\n"
		"  --heavy K --heavy-share PCT  heavy sources and their share of packets (4, 20)\n"
		"  --count N --seconds S --rate PPS  bounds (1000000, 10, 0 = unpaced)\n"
		"  --network N             OpenDHT network id (94); --dht-port, --stun-port\n");
}

int bench_flood_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"iface", required_argument, NULL, 'i'},
	    {"dst-mac", required_argument, NULL, 'm'},
	    {"dst4", required_argument, NULL, '4'},
	    {"dst6", required_argument, NULL, '6'},
	    {"spoof4", required_argument, NULL, 'a'},
	    {"spoof6", required_argument, NULL, 'b'},
	    {"sources", required_argument, NULL, 's'},
	    {"heavy", required_argument, NULL, 'k'},
	    {"heavy-share", required_argument, NULL, 'p'},
	    {"count", required_argument, NULL, 'c'},
	    {"seconds", required_argument, NULL, 't'},
	    {"rate", required_argument, NULL, 'r'},
	    {"network", required_argument, NULL, 'n'},
	    {"dht-port", required_argument, NULL, 'd'},
	    {"stun-port", required_argument, NULL, 'u'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct flood f = {.sources = 100000,
			  .heavy = 4,
			  .heavy_share = 20,
			  .network = 94,
			  .dht_port = 4222,
			  .stun_port = 3478};
	const char *iface = NULL, *dst_mac = NULL;
	uint64_t count = 1000000, rate = 0;
	double seconds = 10;
	int opt;

	inet_pton(AF_INET, "198.18.0.1", f.dst4);
	inet_pton(AF_INET6, "2001:db8:5e::1", f.dst6);
	parse_net("198.19.0.0/16", AF_INET, f.spoof4, &f.spoof4_len);
	parse_net("2001:db8:5f::/48", AF_INET6, f.spoof6, &f.spoof6_len);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			iface = optarg;
			break;
		case 'm':
			dst_mac = optarg;
			break;
		case '4':
			if (inet_pton(AF_INET, optarg, f.dst4) != 1)
				goto bad;
			break;
		case '6':
			if (inet_pton(AF_INET6, optarg, f.dst6) != 1)
				goto bad;
			break;
		case 'a':
			if (parse_net(optarg, AF_INET, f.spoof4, &f.spoof4_len))
				goto bad;
			break;
		case 'b':
			if (parse_net(optarg, AF_INET6, f.spoof6, &f.spoof6_len))
				goto bad;
			break;
		case 's':
			f.sources = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'k':
			f.heavy = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'p':
			f.heavy_share = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			count = strtoull(optarg, NULL, 10);
			break;
		case 't':
			seconds = atof(optarg);
			break;
		case 'r':
			rate = strtoull(optarg, NULL, 10);
			break;
		case 'n':
			f.network = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			f.dht_port = (uint16_t)atoi(optarg);
			break;
		case 'u':
			f.stun_port = (uint16_t)atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (!iface || !dst_mac || parse_mac(dst_mac, f.dst_mac) || !f.sources || f.heavy > 50 ||
	    f.heavy_share > 100 || seconds <= 0 || seconds > 600)
		goto bad;
	if (!lab_range(&f)) {
		fprintf(stderr,
			"flood: spoofed ranges must lie in 198.18.0.0/15 and 2001:db8::/32\n");
		return 2;
	}
	int fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		fprintf(stderr, "flood: AF_PACKET socket: %s\n", strerror(errno));
		return 1;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", iface);
	if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0 || (f.ifindex = ifr.ifr_ifindex, 0) ||
	    ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		fprintf(stderr, "flood: interface %s: %s\n", iface, strerror(errno));
		close(fd);
		return 1;
	}
	memcpy(f.src_mac, ifr.ifr_hwaddr.sa_data, 6);
	struct sockaddr_ll sll = {
	    .sll_family = AF_PACKET, .sll_ifindex = f.ifindex, .sll_halen = 6};
	memcpy(sll.sll_addr, f.dst_mac, 6);

	static uint8_t frames[BATCH][FRAME_MAX];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	uint64_t seed = now_ns(), sent = 0, dropped = 0, i = 0;
	uint64_t start = now_ns(), deadline = start + (uint64_t)(seconds * 1e9);

	while (sent < count) {
		uint64_t t = now_ns();
		if (t >= deadline)
			break;
		unsigned n = BATCH;
		if (count - sent < n)
			n = (unsigned)(count - sent);
		if (rate) {
			uint64_t allowed = (uint64_t)((double)(t - start) * (double)rate / 1e9) + 1;
			if (allowed <= sent) {
				struct timespec ts = {0, 50000};
				nanosleep(&ts, NULL);
				continue;
			}
			if (allowed - sent < n)
				n = (unsigned)(allowed - sent);
		}
		for (unsigned b = 0; b < n; b++) {
			size_t len = build(&f, i++, frames[b], &seed);
			iov[b] = (struct iovec){frames[b], len};
			msgs[b] = (struct mmsghdr){.msg_hdr = {.msg_name = &sll,
							       .msg_namelen = sizeof(sll),
							       .msg_iov = &iov[b],
							       .msg_iovlen = 1}};
		}
		int r = sendmmsg(fd, msgs, n, 0);
		if (r < 0) {
			if (errno == ENOBUFS || errno == EAGAIN) {
				dropped += n;
				continue;
			}
			fprintf(stderr, "flood: sendmmsg: %s\n", strerror(errno));
			break;
		}
		sent += (unsigned)r;
		dropped += n - (unsigned)r;
	}
	double el = (double)(now_ns() - start) / 1e9;
	close(fd);
	printf("{\"sent\":%" PRIu64 ",\"send_errors\":%" PRIu64 ",\"seconds\":%.3f,\"pps\":%.0f,"
	       "\"ipv4\":%" PRIu64 ",\"ipv6\":%" PRIu64 ",\"heavy\":%" PRIu64
	       ",\"distinct_spoofed\":%" PRIu64,
	       sent, dropped, el, el > 0 ? (double)sent / el : 0.0, f.sent4, f.sent6, f.heavy_sent,
	       f.seq < f.sources ? f.seq : (uint64_t)f.sources);
	for (int k = 0; k < K_MAX; k++)
		printf(",\"%s\":%" PRIu64, kind_names[k], f.sent[k]);
	printf("}\n");
	return 0;
bad:
	usage(stderr);
	return 2;
}
