/* scenario.c: frames and table contents of the harness's scenarios (see scenario.h). */
#include "scenario.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <srtp2/srtp.h>

#include "channeldata.h"
#include "dht_msg.h"
#include "stun.h"

const char *const bench_scenario_names[BENCH_SCENARIO_MAX] = {
    "channeldata", "send", "dht-ping", "dht-find", "dht-mix", "flood", "mixed"};

static const uint8_t app4[4] = {198, 18, 0, 1}, gw4[4] = {198, 18, 0, 254};
static const uint8_t app6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0x5e, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t gw6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0x5e, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe};
static const uint8_t gw_mac[6] = BENCH_GW_MAC_INIT;

/* libsrtp2 master key and salt of every stream (AES-CM-128 + HMAC-SHA1-80), so a receiver
 * of the relayed packets can check them; the same key as tests/lab/srtp_relay.c. */
static const uint8_t srtp_key[30] = {0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0, 0xd6, 0x4f,
				     0xa3, 0x2c, 0x06, 0xde, 0x41, 0x39, 0x0e, 0xc6, 0x75, 0xad,
				     0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6};

int bench_scenario_parse(const char *name)
{
	for (int i = 0; i < BENCH_SCENARIO_MAX; i++)
		if (!strcmp(name, bench_scenario_names[i]))
			return i;
	return -1;
}

bool bench_scenario_turn(enum bench_scenario s)
{
	return s == BENCH_CHANNELDATA || s == BENCH_SEND || s == BENCH_MIXED;
}

bool bench_scenario_dht(enum bench_scenario s)
{
	return s == BENCH_DHT_PING || s == BENCH_DHT_FIND || s == BENCH_DHT_MIX ||
	       s == BENCH_FLOOD || s == BENCH_MIXED;
}

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void seeded_bytes(uint64_t seed, uint64_t tag, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = splitmix(seed ^ splitmix(tag * 131 + i));
		size_t c = n - i < 8 ? n - i : 8;
		memcpy(out + i, &v, c);
	}
}

/* --- table contents --- */

static bool client_v6(uint32_t i)
{
	return i % 4 == 3;
}

static void client_of(uint32_t i, uint8_t ip[16], uint16_t *port)
{
	memset(ip, 0, 16);
	if (client_v6(i)) {
		static const uint8_t pfx[6] = {0x20, 0x01, 0x0d, 0xb8, 0, 0x0c};
		memcpy(ip, pfx, 6);
		ip[12] = (uint8_t)(i >> 24);
		ip[13] = (uint8_t)(i >> 16);
		ip[14] = (uint8_t)(i >> 8);
		ip[15] = (uint8_t)i;
		*port = 1024;
	} else {
		ip[0] = 198;
		ip[1] = 19;
		ip[2] = (uint8_t)(i >> 8);
		ip[3] = (uint8_t)i;
		*port = (uint16_t)(1024 + (i >> 16));
	}
}

static bool peer_v6(uint32_t i)
{
	return i % BENCH_PER_PORT >= BENCH_RELAY_SPAN;
}

/* The n-th relayed port (n < BENCH_RELAY_SPAN): the range without the service ports. */
static uint16_t relay_port(uint32_t n)
{
	uint32_t port = BENCH_RELAY_MIN + n;
	if (port >= BENCH_TURN_PORT)
		port++;
	if (port >= BENCH_DHT_PORT)
		port++;
	return (uint16_t)port;
}

/* Address of appliance port P: 198.18.P.1 or 2001:db8:5e:P::1. */
static void app_addr(uint32_t port, bool v6, uint8_t out[16])
{
	memset(out, 0, 16);
	if (v6) {
		memcpy(out, app6, 16);
		out[7] = (uint8_t)port;
	} else {
		memcpy(out, app4, 4);
		out[2] = (uint8_t)port;
	}
}

static void peer_of(uint32_t i, uint8_t ip[16], uint16_t *port)
{
	memset(ip, 0, 16);
	if (peer_v6(i)) {
		static const uint8_t pfx[6] = {0x20, 0x01, 0x0d, 0xb8, 0, 0x09};
		memcpy(ip, pfx, 6);
		ip[13] = (uint8_t)(i >> 16);
		ip[14] = (uint8_t)(i >> 8);
		ip[15] = (uint8_t)i;
	} else {
		ip[0] = 198;
		ip[1] = 18;
		ip[2] = (uint8_t)(64 + ((i >> 8) & 63));
		ip[3] = (uint8_t)i;
	}
	*port = (uint16_t)(20000 + i % 1000);
}

static uint16_t channel_of(uint32_t i)
{
	return (uint16_t)(SN_CHANNEL_MIN + i % 4096);
}

void bench_alloc_entry(uint32_t i, uint64_t expires_ns, struct sn_turn_alloc_key *ak,
		       struct sn_turn_alloc_value *av, struct sn_turn_perm_key *pk,
		       struct sn_turn_perm_value *pv, struct sn_turn_channel_key *ck,
		       struct sn_turn_channel_value *cv)
{
	uint8_t cip[16], pip[16];
	uint16_t cport, pport;
	client_of(i, cip, &cport);
	peer_of(i, pip, &pport);
	uint8_t pfam = peer_v6(i) ? AF_INET6 : AF_INET;

	memset(ak, 0, sizeof(*ak));
	ak->alloc_id = i;
	memset(av, 0, sizeof(*av));
	av->client.family = client_v6(i) ? AF_INET6 : AF_INET;
	av->client.src_port = htons(cport);
	av->client.dst_port = htons(BENCH_TURN_PORT);
	memcpy(av->client.src, cip, 16);
	app_addr(i / BENCH_PER_PORT, client_v6(i), av->client.dst);
	av->port_idx = (uint16_t)(i / BENCH_PER_PORT);
	uint32_t j = i % BENCH_PER_PORT;
	if (peer_v6(i))
		av->relay_port6 = relay_port(j - BENCH_RELAY_SPAN);
	else
		av->relay_port4 = relay_port(j);
	av->expires_ns = expires_ns;

	memset(pk, 0, sizeof(*pk));
	pk->alloc_id = i;
	pk->family = pfam;
	memcpy(pk->peer, pip, 16);
	pv->expires_ns = expires_ns;

	memset(ck, 0, sizeof(*ck));
	ck->alloc_id = i;
	ck->channel = channel_of(i);
	memset(cv, 0, sizeof(*cv));
	cv->family = pfam;
	cv->peer_port = htons(pport);
	memcpy(cv->peer, pip, 16);
	cv->expires_ns = expires_ns;
}

void bench_dht_state(const struct bench_plan *p, struct sn_dht_state_key *k,
		     struct sn_dht_state_value *v)
{
	memset(k, 0, sizeof(*k));
	memset(v, 0, sizeof(*v));
	seeded_bytes(p->seed, 1, v->node_id, sizeof(v->node_id));
	v->network_id = BENCH_NETWORK_ID;
	seeded_bytes(p->seed, 2, v->token_cur, sizeof(v->token_cur));
	seeded_bytes(p->seed, 3, v->token_prev, sizeof(v->token_prev));
}

void bench_dht_node(const struct bench_plan *p, uint32_t r, struct sn_dht_node_key *k,
		    struct sn_dht_node_value *v)
{
	memset(k, 0, sizeof(*k));
	memset(v, 0, sizeof(*v));
	seeded_bytes(p->seed, 0x100000000ull + r, k->id, sizeof(k->id));
	v->port = htons(BENCH_DHT_PORT);
	if (r % 2) {
		static const uint8_t pfx[6] = {0x20, 0x01, 0x0d, 0xb8, 0, 0x0d};
		k->family = AF_INET6;
		memcpy(v->addr, pfx, 6);
		v->addr[14] = (uint8_t)(r >> 8);
		v->addr[15] = (uint8_t)r;
	} else {
		k->family = AF_INET;
		v->addr[0] = 198;
		v->addr[1] = 19;
		v->addr[2] = (uint8_t)(200 + ((r >> 8) & 31));
		v->addr[3] = (uint8_t)r;
	}
}

/* --- frames --- */

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)(p[n - 1] << 8);
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Ethernet + IPv4/IPv6 + UDP around payload[0..len) (already at frame + headroom). */
static uint16_t wrap_udp(const struct bench_plan *p, uint8_t *frame, int family, const uint8_t *src,
			 uint16_t sport, const uint8_t *dst, uint16_t dport, uint16_t len,
			 uint32_t k)
{
	uint16_t l3 = 14, hl = family == 6 ? 40 : 20, l4 = (uint16_t)(l3 + hl);
	uint16_t udp_len = (uint16_t)(8 + len);
	memcpy(frame, p->app_mac, 6);
	memcpy(frame + 6, gw_mac, 6);
	put16(frame + 12, family == 6 ? 0x86dd : 0x0800);
	uint8_t *ip = frame + l3;
	uint32_t sum;
	if (family == 6) {
		memset(ip, 0, 40);
		ip[0] = 0x60;
		put16(ip + 4, udp_len);
		ip[6] = 17;
		ip[7] = 64;
		memcpy(ip + 8, src, 16);
		memcpy(ip + 24, dst, 16);
		sum = sum16(ip + 8, 32, 0);
	} else {
		memset(ip, 0, 20);
		ip[0] = 0x45;
		put16(ip + 2, (uint16_t)(20 + udp_len));
		put16(ip + 4, (uint16_t)k);
		put16(ip + 6, 0x4000);
		ip[8] = 64;
		ip[9] = 17;
		memcpy(ip + 12, src, 4);
		memcpy(ip + 16, dst, 4);
		put16(ip + 10, fold(sum16(ip, 20, 0)));
		sum = sum16(ip + 12, 8, 0);
	}
	uint8_t *udp = frame + l4;
	put16(udp, sport);
	put16(udp + 2, dport);
	put16(udp + 4, udp_len);
	put16(udp + 6, 0);
	sum += 17u + udp_len;
	uint16_t c = fold(sum16(udp, udp_len, sum));
	put16(udp + 6, c ? c : 0xffff);
	uint16_t total = (uint16_t)(l4 + udp_len);
	if (total < 60) {
		memset(frame + total, 0, 60u - total);
		total = 60;
	}
	return total;
}

static uint16_t headroom(int family)
{
	return family == 6 ? 14 + 40 + 8 : 14 + 20 + 8;
}

struct bench_gen {
	struct bench_plan p;
	srtp_t srtp;
	uint32_t stride; /* allocation visiting order: k * stride mod N, stride coprime to N */
	uint32_t seq[BENCH_SRTP_STREAMS]; /* last RTP sequence number per SSRC */
};

static uint32_t gcd32(uint32_t a, uint32_t b)
{
	while (b) {
		uint32_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* Frames visit port 0's allocations (the only port with traffic). */
static uint32_t traffic_allocs(const struct bench_plan *p)
{
	uint32_t n = p->allocations ? p->allocations : 1;
	return n < BENCH_PER_PORT ? n : BENCH_PER_PORT;
}

struct bench_gen *bench_gen_new(const struct bench_plan *p)
{
	static bool srtp_ready;
	struct bench_gen *g = calloc(1, sizeof(*g));
	if (!g) {
		fprintf(stderr, "bench_gen_new: out of memory\n");
		return NULL;
	}
	g->p = *p;
	uint32_t n = traffic_allocs(p);
	/* A golden-ratio stride spreads consecutive packets over the whole table. */
	uint32_t s = (uint32_t)((uint64_t)n * 40503u / 65536u) | 1u;
	while (n > 1 && gcd32(s, n) != 1)
		s++;
	g->stride = n > 1 ? s % n : 0;
	if (p->srtp && bench_scenario_turn(p->scenario)) {
		if (!srtp_ready && srtp_init() != srtp_err_status_ok) {
			fprintf(stderr, "bench_gen_new: srtp_init failed\n");
			free(g);
			return NULL;
		}
		srtp_ready = true;
		srtp_policy_t pol;
		memset(&pol, 0, sizeof(pol));
		srtp_crypto_policy_set_rtp_default(&pol.rtp);
		srtp_crypto_policy_set_rtcp_default(&pol.rtcp);
		pol.ssrc.type = ssrc_any_outbound;
		pol.key = (unsigned char *)srtp_key;
		pol.window_size = 128;
		if (srtp_create(&g->srtp, &pol) != srtp_err_status_ok) {
			fprintf(stderr, "bench_gen_new: srtp_create failed\n");
			free(g);
			return NULL;
		}
	}
	return g;
}

void bench_gen_free(struct bench_gen *g)
{
	if (!g)
		return;
	if (g->srtp)
		srtp_dealloc(g->srtp);
	free(g);
}

/* The media payload of packet k to allocation a: an SRTP packet (SSRC per allocation). */
static uint16_t media(struct bench_gen *g, uint32_t a, uint32_t k, uint8_t *out)
{
	uint8_t rtp[BENCH_SRTP_BYTES + 16];
	/* libsrtp2 keeps its per-SSRC streams on a list, so allocations share
	 * BENCH_SRTP_STREAMS SSRCs; each stream's sequence numbers still only go up. */
	uint32_t stream = a % BENCH_SRTP_STREAMS, round = ++g->seq[stream];
	rtp[0] = 0x80;
	rtp[1] = 0; /* PCMU */
	put16(rtp + 2, (uint16_t)round);
	uint32_t ts = round * 160u, ssrc = 0x10000000u + stream;
	for (int i = 0; i < 4; i++) {
		rtp[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
		rtp[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
	}
	for (int i = 0; i < 160; i++)
		rtp[12 + i] = (uint8_t)(0xff ^ (uint8_t)(k + (uint32_t)i)); /* mu-law "noise" */
	int len = 172;
	if (g->srtp) {
		if (srtp_protect(g->srtp, rtp, &len) != srtp_err_status_ok) {
			fprintf(stderr, "media: libsrtp2 failed for SSRC %08x\n", ssrc);
			return 0;
		}
	} else {
		memset(rtp + 172, 0xa5, 10);
		len = BENCH_SRTP_BYTES;
	}
	memcpy(out, rtp, (size_t)len);
	return (uint16_t)len;
}

static uint32_t alloc_of(const struct bench_gen *g, uint32_t k)
{
	uint32_t n = traffic_allocs(&g->p);
	return (uint32_t)(((uint64_t)k * g->stride + k / n) % n);
}

static uint16_t turn_frame(struct bench_gen *g, uint32_t k, uint8_t *frame, bool send)
{
	uint32_t a = alloc_of(g, k);
	uint8_t cip[16], pip[16];
	uint16_t cport, pport;
	client_of(a, cip, &cport);
	peer_of(a, pip, &pport);
	int fam = client_v6(a) ? 6 : 4;
	uint8_t *pl = frame + headroom(fam);
	uint8_t data[BENCH_SRTP_BYTES + 16];
	uint16_t dlen = media(g, a, k, data);
	if (!dlen)
		return 0;
	int len;
	if (send) {
		struct sn_stun_writer w;
		uint8_t tid[SN_STUN_TID_LEN];
		seeded_bytes(g->p.seed, 0x200000000ull + k, tid, sizeof(tid));
		sn_stun_writer_init(&w, pl, BENCH_MAX_FRAME - headroom(fam), SN_STUN_METHOD_SEND,
				    SN_STUN_CLASS_INDICATION, tid);
		struct sn_stun_addr peer = {.family = peer_v6(a) ? AF_INET6 : AF_INET,
					    .port = htons(pport)};
		memcpy(peer.addr, pip, 16);
		sn_stun_put_xor_addr(&w, SN_STUN_ATTR_XOR_PEER_ADDRESS, &peer);
		sn_stun_put_attr(&w, SN_STUN_ATTR_DATA, data, dlen);
		len = sn_stun_writer_finish(&w, 0, NULL, 0);
	} else {
		len = sn_chandata_build(pl, BENCH_MAX_FRAME - headroom(fam), channel_of(a), data,
					dlen, 0);
	}
	if (len < 0)
		return 0;
	return wrap_udp(&g->p, frame, fam, cip, cport, fam == 6 ? app6 : app4, BENCH_TURN_PORT,
			(uint16_t)len, k);
}

/* A DHT query source k: id, address, port. */
static void dht_source(const struct bench_gen *g, uint32_t k, bool spoofed, int *fam,
		       uint8_t ip[16], uint16_t *port)
{
	memset(ip, 0, 16);
	*fam = k % 4 == 3 ? 6 : 4;
	if (*fam == 6) {
		static const uint8_t dht6[6] = {0x20, 0x01, 0x0d, 0xb8, 0, 0x0e};
		static const uint8_t flood6[6] = {0x20, 0x01, 0x0d, 0xb8, 0, 0x0f};
		memcpy(ip, spoofed ? flood6 : dht6, 6);
		ip[12] = (uint8_t)(k >> 24);
		ip[13] = (uint8_t)(k >> 16);
		ip[14] = (uint8_t)(k >> 8);
		ip[15] = (uint8_t)k;
	} else if (spoofed) {
		ip[0] = 198;
		ip[1] = 18;
		ip[2] = (uint8_t)(128 + ((k >> 8) & 127));
		ip[3] = (uint8_t)k;
	} else {
		ip[0] = 198;
		ip[1] = 19;
		ip[2] = (uint8_t)(128 + ((k >> 8) & 63));
		ip[3] = (uint8_t)k;
	}
	*port = spoofed ? (uint16_t)(40000 + ((k >> 15) & 0x3fff)) : BENCH_DHT_PORT;
	(void)g;
}

static uint16_t dht_frame(struct bench_gen *g, uint32_t k, uint8_t *frame, bool find, bool spoofed)
{
	int fam;
	uint8_t src[16];
	uint16_t sport;
	dht_source(g, k, spoofed, &fam, src, &sport);
	struct sn_node_id me, target;
	seeded_bytes(g->p.seed, 0x300000000ull + k, me.b, sizeof(me.b));
	seeded_bytes(g->p.seed, 0x400000000ull + k, target.b, sizeof(target.b));
	uint8_t *pl = frame + headroom(fam);
	size_t cap = BENCH_MAX_FRAME - headroom(fam);
	int len = find ? sn_dht_build_find(pl, cap, k, BENCH_NETWORK_ID, &me, &target, 0)
		       : sn_dht_build_ping(pl, cap, k, BENCH_NETWORK_ID, &me);
	if (len < 0)
		return 0;
	return wrap_udp(&g->p, frame, fam, src, sport, fam == 6 ? app6 : app4, BENCH_DHT_PORT,
			(uint16_t)len, k);
}

/* Flood: an unauthenticated Allocate (punted to control, policed) or a DHT ping, each from
 * its own spoofed source. */
static uint16_t flood_frame(struct bench_gen *g, uint32_t k, uint8_t *frame)
{
	if ((g->p.scenario == BENCH_MIXED ? k / 10 : k) % 2)
		return dht_frame(g, k, frame, false, true);
	int fam;
	uint8_t src[16];
	uint16_t sport;
	dht_source(g, k, true, &fam, src, &sport);
	uint8_t *pl = frame + headroom(fam);
	uint8_t tid[SN_STUN_TID_LEN];
	seeded_bytes(g->p.seed, 0x500000000ull + k, tid, sizeof(tid));
	struct sn_stun_writer w;
	sn_stun_writer_init(&w, pl, BENCH_MAX_FRAME - headroom(fam), SN_STUN_METHOD_ALLOCATE,
			    SN_STUN_CLASS_REQUEST, tid);
	sn_stun_put_u32(&w, 0x0019, 17u << 24); /* REQUESTED-TRANSPORT: UDP */
	int len = sn_stun_writer_finish(&w, SN_STUN_FINISH_FINGERPRINT, NULL, 0);
	if (len < 0)
		return 0;
	return wrap_udp(&g->p, frame, fam, src, sport, fam == 6 ? app6 : app4, BENCH_TURN_PORT,
			(uint16_t)len, k);
}

uint16_t bench_gen_frame(struct bench_gen *g, uint32_t k, uint8_t *frame)
{
	switch (g->p.scenario) {
	case BENCH_CHANNELDATA:
		return turn_frame(g, k, frame, false);
	case BENCH_SEND:
		return turn_frame(g, k, frame, true);
	case BENCH_DHT_PING:
		return dht_frame(g, k, frame, false, false);
	case BENCH_DHT_FIND:
		return dht_frame(g, k, frame, true, false);
	case BENCH_DHT_MIX:
		return dht_frame(g, k, frame, k % 2, false);
	case BENCH_FLOOD:
		return flood_frame(g, k, frame);
	case BENCH_MIXED:
		switch (k % 10) {
		case 6:
			return turn_frame(g, k, frame, true);
		case 7:
			return dht_frame(g, k, frame, false, false);
		case 8:
			return dht_frame(g, k, frame, true, false);
		case 9:
			return flood_frame(g, k, frame);
		default:
			return turn_frame(g, k, frame, false);
		}
	default:
		return 0;
	}
}

uint16_t bench_gen_neigh_frame(const struct bench_plan *p, int family, uint8_t *f)
{
	memset(f, 0, 86);
	if (family == 4) {
		memset(f, 0xff, 6);
		memcpy(f + 6, gw_mac, 6);
		put16(f + 12, 0x0806);
		uint8_t *a = f + 14;
		put16(a, 1);
		put16(a + 2, 0x0800);
		a[4] = 6;
		a[5] = 4;
		put16(a + 6, 1);
		memcpy(a + 8, gw_mac, 6);
		memcpy(a + 14, gw4, 4);
		memcpy(a + 24, app4, 4);
		return 60;
	}
	/* Neighbour solicitation for our address with the gateway's link-layer address. */
	uint8_t sol[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};
	memcpy(sol + 13, app6 + 13, 3);
	f[0] = f[1] = 0x33;
	memcpy(f + 2, sol + 12, 4);
	memcpy(f + 6, gw_mac, 6);
	put16(f + 12, 0x86dd);
	uint8_t *ip = f + 14, *icmp = f + 54;
	ip[0] = 0x60;
	put16(ip + 4, 32);
	ip[6] = 58;
	ip[7] = 255;
	memcpy(ip + 8, gw6, 16);
	memcpy(ip + 24, sol, 16);
	icmp[0] = 135;
	memcpy(icmp + 8, app6, 16);
	icmp[24] = 1; /* source link-layer address option */
	icmp[25] = 1;
	memcpy(icmp + 26, gw_mac, 6);
	uint32_t sum = sum16(ip + 8, 32, 0) + 32u + 58u;
	put16(icmp + 2, fold(sum16(icmp, 32, sum)));
	(void)p;
	return 86;
}

/* --- pcap --- */

FILE *bench_pcap_open(const char *path)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return NULL;
	struct {
		uint32_t magic;
		uint16_t major, minor;
		int32_t zone;
		uint32_t sigfigs, snaplen, linktype;
	} h = {0xa1b2c3d4u, 2, 4, 0, 0, 65535, 1};
	if (fwrite(&h, sizeof(h), 1, f) != 1) {
		fclose(f);
		return NULL;
	}
	return f;
}

int bench_pcap_write(FILE *f, const uint8_t *frame, uint16_t len, uint32_t k)
{
	/* Stamps 1 us apart: only the order matters to replay tools. */
	uint32_t rec[4] = {k / 1000000u, k % 1000000u, len, len};
	if (fwrite(rec, sizeof(rec), 1, f) != 1 || fwrite(frame, len, 1, f) != 1)
		return -EIO;
	return 0;
}

int bench_pcap_close(FILE *f)
{
	return fclose(f) == 0 ? 0 : -EIO;
}

int bench_write_pcap(const struct bench_plan *p, const char *path)
{
	uint8_t frame[BENCH_MAX_FRAME];
	FILE *f = bench_pcap_open(path);
	if (!f) {
		fprintf(stderr, "bench_write_pcap: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	struct bench_gen *g = bench_gen_new(p);
	if (!g) {
		fclose(f);
		return -ENOMEM;
	}
	int rc = 0;
	uint32_t k = 0;
	for (int fam = 4; fam <= 6 && !rc; fam += 2)
		rc = bench_pcap_write(f, frame, bench_gen_neigh_frame(p, fam, frame), k++);
	uint64_t bytes = 0;
	for (uint32_t i = 0; i < p->packets && !rc; i++) {
		uint16_t len = bench_gen_frame(g, i, frame);
		if (!len) {
			fprintf(stderr, "bench_write_pcap: frame %u did not build\n", i);
			rc = -EINVAL;
			break;
		}
		bytes += len;
		rc = bench_pcap_write(f, frame, len, k++);
	}
	bench_gen_free(g);
	if (bench_pcap_close(f) < 0 && !rc)
		rc = -EIO;
	if (rc < 0) {
		fprintf(stderr, "bench_write_pcap: %s: %s\n", path, strerror(-rc));
		return rc;
	}
	char side[4096];
	snprintf(side, sizeof(side), "%s.json", path);
	FILE *s = fopen(side, "w");
	if (!s) {
		fprintf(stderr, "bench_write_pcap: %s: %s\n", side, strerror(errno));
		return -errno;
	}
	fprintf(s,
		"{\"scenario\":\"%s\",\"allocations\":%u,\"routes\":%u,\"packets\":%u,"
		"\"neighbour_frames\":2,\"seed\":%llu,\"srtp\":%s,\"avg_frame_bytes\":%.1f,"
		"\"app_mac\":\"%02x:%02x:%02x:%02x:%02x:%02x\",\"app4\":\"198.18.0.1\","
		"\"app6\":\"2001:db8:5e::1\",\"gateway4\":\"198.18.0.254\","
		"\"gateway6\":\"2001:db8:5e::fe\",\"gateway_mac\":\"02:00:00:00:00:fe\","
		"\"relay_port_min\":%u,\"relay_port_max\":%u,\"relay_ports_skipped\":[%u,%u],"
		"\"allocations_per_port\":%u,\"network_id\":%u}\n",
		bench_scenario_names[p->scenario], p->allocations, p->routes, p->packets,
		(unsigned long long)p->seed, p->srtp ? "true" : "false",
		p->packets ? (double)bytes / p->packets : 0.0, p->app_mac[0], p->app_mac[1],
		p->app_mac[2], p->app_mac[3], p->app_mac[4], p->app_mac[5], BENCH_RELAY_MIN,
		BENCH_RELAY_MAX, BENCH_TURN_PORT, BENCH_DHT_PORT, BENCH_PER_PORT, BENCH_NETWORK_ID);
	return fclose(s) == 0 ? 0 : -EIO;
}
