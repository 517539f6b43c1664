/* turn_fastpath_bench.c: micro-benchmark of the TURN fast path (dataplane/turn.c).
 *
 * One lcore plays a worker without an rx port: it fills mbufs from prebuilt frames (the
 * "harness"), runs sn_l3_handle() on them as the worker does, then the TURN handlers, which
 * rewrite them and send them to a net_null port (tx burst of 64, net_null frees them, as a
 * NIC does after DMA). Allocations, permissions and channels are installed through the same
 * channel-table functions control's TABLE_CMDs reach (sn_dp_table_turn_*.apply).
 *
 * Scenarios, each over every allocation in random order:
 *   chandata_c2p   ChannelData client -> peer
 *   chandata_p2c   peer -> client on a bound channel (ChannelData out)
 *   dataind_p2c    peer -> client without a channel (Data indication out)
 *   send_c2p       Send indication client -> peer
 *   binding        STUN Binding request answered
 * Clients (100.64.0.0/10) and peers (10.0.0.0/8, 2001:db8:beef::/64) are off-link: every
 * next hop is the gateway, as in production. Allocations below 62057 have an IPv4 relayed
 * address and an IPv4 peer, the others an IPv6 relayed address and an IPv6 peer: one
 * address per family offers the relay ports 3479-65535 (above the TURN port, which keeps
 * its dispatch entry in any case, as worker.c decides).
 *
 * Reported per scenario: cycles per packet in L3 (validation) and in the TURN handler (table
 * lookups, checks, rewrite, checksums, tx), packets per second per core from those, and the
 * harness's own cost (mbuf alloc + frame copy), which a real rx path replaces.
 *
 * usage: turn_fastpath_bench [-a ALLOCATIONS] [-n PACKETS] [-s PAYLOAD] [-l LCORE] [-r RUNS] [-c]
 *                            [-o SCENARIO]
 *   -a allocations (default 100000), -n packets per scenario and run (5000000), -s payload
 *   bytes (182: SRTP with 20 ms of G.711), -l the lcore to run on, -r runs per scenario (the
 *   best is shown: on a shared machine other processes only ever add cycles), -c verify UDP
 *   checksums in software in L3 (a NIC without rx checksum offload), -o only that scenario
 *   (to profile one path with perf or callgrind).
 * The first 4096 packets each run sends are checked (IPv4 header and UDP checksums,
 * lengths); any bad one fails the run. */
#include "dataplane.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "channeldata.h"
#include "stun.h"
#include "turn_table.h"

struct sn_dp sn_dp;

#define MAX_PAYLOAD 1400 /* bytes of data per packet (-s) */
#define BURST	    32
#define N_ORDER	    (1u << 20)
#define RELAY_MIN   3479u
#define RELAY_SPAN  62057u
#define PEER_PORT   5004
#define NS	    1000000000ull

/* --- what main.c and worker.c give turn.c in the dataplane --- */

uint64_t sn_tsc_to_ns(uint64_t tsc)
{
	uint64_t d = tsc - sn_dp.epoch_tsc;
	return sn_dp.epoch_ns + (uint64_t)((double)d * 1e9 / (double)sn_dp.tsc_hz);
}

static uint64_t resolves;

void sn_dp_resolve(uint16_t port_idx, uint8_t family, const uint8_t *ip)
{
	resolves++;
}

void sn_dp_inject_frame(uint16_t port_idx, struct rte_mbuf *m)
{
	rte_pktmbuf_free(m);
}

static void tx_flush(struct sn_worker *w)
{
	struct sn_tx_buffer *tb = &w->tx[0];
	uint16_t sent = 0;
	while (sent < tb->count)
		sent +=
		    rte_eth_tx_burst(sn_dp.ports[0].port_id, 0, tb->pkts + sent, tb->count - sent);
	w->stats->counters[SN_CTR_TX_PACKETS] += sent;
	tb->count = 0;
}

/* The first packets a scenario sends are checked: IPv4 header and UDP checksums over the
 * whole datagram (the handlers derive them from the received checksum). */
static uint32_t verify_budget;
static uint64_t verified, bad_cksum;

static void verify(const struct rte_mbuf *m)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	uint16_t et = (uint16_t)(f[12] << 8 | f[13]);
	const uint8_t *ip = f + SN_ETHER_HDR_LEN;
	bool ok;
	if (et == 0x0800) {
		const uint8_t *udp = ip + 20;
		uint16_t ulen = (uint16_t)(udp[4] << 8 | udp[5]);
		ok = sn_cksum_fold(sn_cksum_partial(ip, 20, 0)) == 0 &&
		     sn_l4_cksum_ipv4(ip, udp, ulen, 17) == 0 && 34u + ulen == m->data_len;
	} else {
		const uint8_t *udp = ip + 40;
		uint16_t ulen = (uint16_t)(udp[4] << 8 | udp[5]);
		ok = et == 0x86dd && sn_l4_cksum_ipv6(ip, udp, ulen, 17) == 0 &&
		     54u + ulen == m->data_len;
	}
	verified++;
	bad_cksum += !ok;
}

void sn_worker_tx(struct sn_worker *w, uint16_t port_idx, struct rte_mbuf *m)
{
	struct sn_tx_buffer *tb = &w->tx[port_idx];
	if (verify_budget) {
		verify_budget--;
		verify(m);
	}
	tb->pkts[tb->count++] = m;
	if (tb->count == SN_MAX_BURST)
		tx_flush(w);
}

void sn_worker_drop(struct sn_worker *w, enum sn_drop_reason reason, struct rte_mbuf *m)
{
	w->stats->drops[reason]++;
	rte_pktmbuf_free(m);
}

void sn_worker_punt(struct sn_worker *w, struct rte_mbuf *m, uint16_t port_idx,
		    const struct sn_l3_result *res, enum sn_punt_reason reason, uint64_t now)
{
	w->stats->punts[reason]++;
	rte_pktmbuf_free(m);
}

/* --- setup --- */

static const uint8_t APP4[4] = {198, 18, 0, 1};
static const uint8_t APP6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0x5e, [15] = 1};
static const uint8_t GW4[4] = {198, 18, 0, 254};
static const uint8_t GW6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0x5e, [15] = 0xfe};
static const uint8_t GW_MAC[6] = {0x02, 0, 0, 0, 0, 0xfe};

static void client_of(uint32_t i, uint8_t ip[4], uint16_t *port)
{
	uint32_t a = (100u << 24 | 64u << 16) + i;
	ip[0] = (uint8_t)(a >> 24);
	ip[1] = (uint8_t)(a >> 16);
	ip[2] = (uint8_t)(a >> 8);
	ip[3] = (uint8_t)a;
	*port = (uint16_t)(20000 + (i & 0x7fff));
}

static bool peer_v6(uint32_t i)
{
	return i >= RELAY_SPAN;
}

static void peer_of(uint32_t i, uint8_t ip[16])
{
	memset(ip, 0, 16);
	if (!peer_v6(i)) {
		ip[0] = 10;
		ip[1] = (uint8_t)(i >> 16);
		ip[2] = (uint8_t)(i >> 8);
		ip[3] = (uint8_t)i;
	} else {
		static const uint8_t pfx[8] = {0x20, 0x01, 0x0d, 0xb8, 0xbe, 0xef};
		memcpy(ip, pfx, 8);
		ip[13] = (uint8_t)(i >> 16);
		ip[14] = (uint8_t)(i >> 8);
		ip[15] = (uint8_t)i;
	}
}

static uint16_t channel_of(uint32_t i)
{
	return (uint16_t)(0x4000 + (i % 0x1000));
}

static int port_setup(void)
{
	uint16_t port_id;
	if (rte_eth_dev_get_port_by_name("net_null0", &port_id) < 0)
		return -ENODEV;
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	if (rte_eth_dev_configure(port_id, 1, 1, &conf) < 0 ||
	    rte_eth_rx_queue_setup(port_id, 0, 512, (unsigned)rte_socket_id(), NULL, sn_dp.pool) <
		0 ||
	    rte_eth_tx_queue_setup(port_id, 0, 512, (unsigned)rte_socket_id(), NULL) < 0 ||
	    rte_eth_dev_start(port_id) < 0)
		return -EIO;
	struct rte_ether_addr mac;
	rte_eth_macaddr_get(port_id, &mac);
	struct sn_port_config *pc = &sn_dp.cfg.dataplane.ports[0];
	snprintf(pc->name, sizeof(pc->name), "bench0");
	pc->mtu = 1500;
	pc->has_ipv4 = pc->has_ipv6 = pc->has_gateway4 = pc->has_gateway6 = true;
	memcpy(&pc->ipv4, APP4, 4);
	pc->ipv4_prefix = 24;
	memcpy(pc->ipv6.s6_addr, APP6, 16);
	pc->ipv6_prefix = 64;
	memcpy(&pc->gateway4, GW4, 4);
	memcpy(pc->gateway6.s6_addr, GW6, 16);
	sn_dp.cfg.dataplane.n_ports = 1;
	struct sn_dp_port *p = &sn_dp.ports[0];
	p->port_id = port_id;
	p->cfg = pc;
	snprintf(p->name, sizeof(p->name), "bench0");
	sn_l3_port_init(&p->l3, mac.addr_bytes, &pc->ipv4, 24, &pc->ipv6, 64);
	sn_dp.n_ports = 1;
	return 0;
}

static int install(uint32_t n)
{
	uint64_t exp = sn_tsc_to_ns(rte_rdtsc()) + 3600 * NS;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t cip[4], pip[16];
		uint16_t cport;
		client_of(i, cip, &cport);
		peer_of(i, pip);
		struct sn_turn_alloc_key ak = {.alloc_id = i};
		struct sn_turn_alloc_value av;
		memset(&av, 0, sizeof(av));
		av.client.family = AF_INET;
		av.client.src_port = htons(cport);
		av.client.dst_port = htons(3478);
		memcpy(av.client.src, cip, 4);
		memcpy(av.client.dst, APP4, 4);
		if (peer_v6(i))
			av.relay_port6 = (uint16_t)(RELAY_MIN + i - RELAY_SPAN);
		else
			av.relay_port4 = (uint16_t)(RELAY_MIN + i);
		av.expires_ns = exp;
		uint8_t fam = peer_v6(i) ? AF_INET6 : AF_INET;
		struct sn_turn_perm_key pk = {.alloc_id = i, .family = fam};
		memcpy(pk.peer, pip, 16);
		struct sn_turn_perm_value pv = {.expires_ns = exp};
		struct sn_turn_channel_key ck = {.alloc_id = i, .channel = channel_of(i)};
		struct sn_turn_channel_value cv = {
		    .family = fam, .peer_port = htons(PEER_PORT), .expires_ns = exp};
		memcpy(cv.peer, pip, 16);
		int rc =
		    sn_dp_table_turn_alloc.apply(SN_TABLE_OP_ADD, &ak, sizeof(ak), &av, sizeof(av));
		if (!rc)
			rc = sn_dp_table_turn_perm.apply(SN_TABLE_OP_ADD, &pk, sizeof(pk), &pv,
							 sizeof(pv));
		if (!rc)
			rc = sn_dp_table_turn_channel.apply(SN_TABLE_OP_ADD, &ck, sizeof(ck), &cv,
							    sizeof(cv));
		if (rc < 0) {
			fprintf(stderr, "allocation %u: %s\n", i, strerror(-rc));
			return rc;
		}
		if (i % 64 == 63) {
			sn_dp_table_turn_alloc.publish();
			sn_rcu_reclaim(&sn_dp.rcu);
		}
	}
	sn_dp_table_turn_alloc.publish();
	sn_rcu_reclaim(&sn_dp.rcu);
	return 0;
}

/* --- frames --- */

enum scenario { CHANDATA_C2P, CHANDATA_P2C, DATAIND_P2C, SEND_C2P, BINDING, N_SCENARIOS };
static const char *const scenario_names[N_SCENARIOS] = {"chandata_c2p", "chandata_p2c",
							"dataind_p2c", "send_c2p", "binding"};

static size_t slot;	  /* bytes per prebuilt frame: headers, up to 48 B of STUN, payload */
static uint8_t *frames;	  /* n * slot */
static uint16_t *lengths; /* n */

static uint16_t build_frame(enum scenario sc, uint32_t i, uint8_t *f, uint16_t payload)
{
	uint8_t cip[4], pip[16], data[MAX_PAYLOAD];
	uint16_t cport;
	const uint8_t *mac = sn_dp.ports[0].l3.mac;
	client_of(i, cip, &cport);
	peer_of(i, pip);
	for (unsigned k = 0; k < payload; k++)
		data[k] = (uint8_t)(i + k);
	bool v6 = peer_v6(i);
	if (sc == CHANDATA_P2C || sc == DATAIND_P2C) {
		uint8_t fam = v6 ? AF_INET6 : AF_INET;
		uint16_t relay = (uint16_t)(RELAY_MIN + (v6 ? i - RELAY_SPAN : i));
		uint16_t sport = sc == CHANDATA_P2C ? PEER_PORT : PEER_PORT + 2; /* no channel */
		memcpy(f + sn_udp_headroom(fam), data, payload);
		return sn_build_udp(f, GW_MAC, mac, fam, pip, v6 ? APP6 : APP4, htons(sport),
				    htons(relay), payload);
	}
	uint8_t *p = f + sn_udp_headroom(AF_INET);
	size_t len;
	if (sc == CHANDATA_C2P) {
		/* Padded, as many clients send it: the relay drops the padding. */
		len = (size_t)sn_chandata_build(p, slot - 42, channel_of(i), data, payload,
						SN_CHANDATA_F_PAD);
	} else if (sc == SEND_C2P) {
		struct sn_stun_writer wr;
		uint8_t tid[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, (uint8_t)i};
		struct sn_stun_addr peer = {.family = v6 ? AF_INET6 : AF_INET,
					    .port = htons(PEER_PORT)};
		memcpy(peer.addr, pip, 16);
		sn_stun_writer_init(&wr, p, slot - 62, SN_STUN_METHOD_SEND,
				    SN_STUN_CLASS_INDICATION, tid);
		sn_stun_put_xor_addr(&wr, SN_STUN_ATTR_XOR_PEER_ADDRESS, &peer);
		sn_stun_put_attr(&wr, SN_STUN_ATTR_DATA, data, payload);
		len = (size_t)sn_stun_writer_finish(&wr, 0, NULL, 0);
	} else {
		struct sn_stun_writer wr;
		uint8_t tid[12] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0, (uint8_t)i};
		sn_stun_writer_init(&wr, p, slot - 62, SN_STUN_METHOD_BINDING,
				    SN_STUN_CLASS_REQUEST, tid);
		len = (size_t)sn_stun_writer_finish(&wr, 0, NULL, 0);
	}
	return sn_build_udp(f, GW_MAC, mac, AF_INET, cip, APP4, htons(cport), htons(3478),
			    (uint16_t)len);
}

/* --- the measured loop --- */

struct result {
	double l3, turn, harness; /* cycles per packet, mean over every burst */
	double l3_med, turn_med;  /* cycles per packet, median burst */
	double wall_mpps;
	uint64_t out, drops, punts;
};

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Median of n burst cycle counts, per packet. The mean counts every cycle the lcore spent,
 * time it was preempted by other processes included; the median burst does not, which is
 * what a dedicated (isolated) core would see. */
static double median_per_pkt(uint32_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u32);
	return (double)v[n / 2] / BURST;
}

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static uint64_t sum(const uint64_t *a, unsigned n)
{
	uint64_t s = 0;
	for (unsigned i = 0; i < n; i++)
		s += a[i];
	return s;
}

static int run(enum scenario sc, uint32_t n, uint64_t packets, uint16_t payload, bool sw_cksum,
	       const uint32_t *order, struct result *r)
{
	struct sn_worker *w = &sn_dp.workers[0];
	struct sn_dp_port *port = &sn_dp.ports[0];
	for (uint32_t i = 0; i < n; i++)
		lengths[i] = build_frame(sc, i, frames + (size_t)i * slot, payload);
	struct sn_stats_lcore before = *w->stats;
	verify_budget = 4096;
	uint64_t bad0 = bad_cksum;
	struct rte_mbuf *mb[BURST];
	struct sn_l3_result res[BURST];
	uint64_t c_h = 0, c_l3 = 0, c_turn = 0, done = 0, t_start = wall_ns();
	size_t n_bursts = (size_t)((packets + BURST - 1) / BURST), b = 0;
	uint32_t *b_l3 = malloc(n_bursts * sizeof(uint32_t));
	uint32_t *b_turn = malloc(n_bursts * sizeof(uint32_t));
	if (!b_l3 || !b_turn) {
		free(b_l3);
		free(b_turn);
		return -ENOMEM;
	}
	uint32_t o = 0;
	const struct sn_dispatch_snap *dispatch = sn_dp.dispatch.current;
	while (done < packets) {
		if (rte_pktmbuf_alloc_bulk(sn_dp.pool, mb, BURST) < 0) {
			fprintf(stderr, "mempool empty\n");
			free(b_l3);
			free(b_turn);
			return -ENOMEM;
		}
		uint64_t t0 = rte_rdtsc();
		for (unsigned j = 0; j < BURST; j++) {
			uint32_t i = order[o++ & (N_ORDER - 1)];
			uint8_t *f = rte_pktmbuf_mtod(mb[j], uint8_t *);
			memcpy(f, frames + (size_t)i * slot, lengths[i]);
			mb[j]->data_len = lengths[i];
			mb[j]->pkt_len = lengths[i];
		}
		uint64_t t1 = rte_rdtsc();
		for (unsigned j = 0; j < BURST; j++) {
			struct rte_mbuf *m = mb[j];
			sn_l3_handle(&port->l3, rte_pktmbuf_mtod(m, uint8_t *), m->data_len,
				     (uint16_t)(m->buf_len - m->data_off), sw_cksum, &res[j]);
		}
		uint64_t t2 = rte_rdtsc();
		for (unsigned j = 0; j < BURST; j++) {
			struct rte_mbuf *m = mb[j];
			if (unlikely(res[j].action != SN_L3_UDP)) {
				sn_worker_drop(w, (enum sn_drop_reason)res[j].reason, m);
				continue;
			}
			const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
			uint16_t dport =
			    (uint16_t)(f[res[j].l4_off + 2] << 8 | f[res[j].l4_off + 3]);
			/* As worker.c's handle_udp: a dispatch entry first, else a relay port. */
			uint8_t h = sn_dispatch_lookup(dispatch, res[j].family == AF_INET6, dport);
			if (h == SN_UDP_HANDLER_TURN)
				sn_turn_handle(w, m, 0, &res[j], t2);
			else if (h == SN_UDP_HANDLER_DROP && sn_turn_is_relay_port(dport))
				sn_turn_relay(w, m, 0, &res[j], t2);
			else
				sn_worker_drop(w, SN_DROP_UDP_PORT_CLOSED, m);
		}
		sn_turn_flush(w, t2); /* as worker_main, once per poll round */
		uint64_t t3 = rte_rdtsc();
		c_h += t1 - t0;
		c_l3 += t2 - t1;
		c_turn += t3 - t2;
		b_l3[b] = (uint32_t)(t2 - t1);
		b_turn[b] = (uint32_t)(t3 - t2);
		b++;
		done += BURST;
	}
	uint64_t t4 = rte_rdtsc();
	tx_flush(w);
	c_turn += rte_rdtsc() - t4;
	uint64_t elapsed = wall_ns() - t_start;
	r->harness = (double)c_h / (double)done;
	r->l3 = (double)c_l3 / (double)done;
	r->turn = (double)c_turn / (double)done;
	r->wall_mpps = (double)done * 1e3 / (double)elapsed;
	r->l3_med = median_per_pkt(b_l3, b);
	r->turn_med = median_per_pkt(b_turn, b);
	free(b_l3);
	free(b_turn);
	r->out = w->stats->counters[SN_CTR_TX_PACKETS] - before.counters[SN_CTR_TX_PACKETS];
	r->drops = sum(w->stats->drops, SN_DROP_MAX) - sum(before.drops, SN_DROP_MAX);
	if (bad_cksum != bad0) {
		fprintf(stderr, "%s: %lu of the checked packets have a bad checksum or length\n",
			scenario_names[sc], (unsigned long)(bad_cksum - bad0));
		r->drops++;
	}
	r->punts = sum(w->stats->punts, SN_PUNT_MAX) - sum(before.punts, SN_PUNT_MAX);
	if (r->drops) {
		for (unsigned d = 0; d < SN_DROP_MAX; d++) {
			if (w->stats->drops[d] != before.drops[d])
				fprintf(stderr, "  %s: %lu drops (%s)\n", scenario_names[sc],
					(unsigned long)(w->stats->drops[d] - before.drops[d]),
					sn_drop_reason_names[d]);
		}
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: turn_fastpath_bench [-a ALLOCATIONS] [-n PACKETS] [-s PAYLOAD] "
			"[-l LCORE] [-r RUNS] [-c] [-o SCENARIO]\n");
}

int main(int argc, char **argv)
{
	uint32_t n_alloc = 100000;
	uint64_t packets = 5000000;
	unsigned payload = 182, lcore = 0, runs = 1;
	bool sw_cksum = false;
	const char *only = NULL;
	int opt;
	while ((opt = getopt(argc, argv, "a:n:s:l:r:co:h")) != -1) {
		switch (opt) {
		case 'o':
			only = optarg;
			break;
		case 'r':
			runs = (unsigned)strtoul(optarg, NULL, 0);
			runs = runs ? runs : 1;
			break;
		case 'a':
			n_alloc = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'n':
			packets = strtoull(optarg, NULL, 0);
			break;
		case 's':
			payload = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'l':
			lcore = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'c':
			sw_cksum = true;
			break;
		default:
			usage();
			return opt == 'h' ? 0 : 2;
		}
	}
	if (n_alloc == 0 || n_alloc > 2 * RELAY_SPAN || payload == 0 || payload > MAX_PAYLOAD) {
		fprintf(stderr, "allocations 1..%u, payload 1..%u bytes\n", 2 * RELAY_SPAN,
			MAX_PAYLOAD);
		return 2;
	}
	char lc[16];
	snprintf(lc, sizeof(lc), "%u", lcore);
	char *eal[] = {"turn_fastpath_bench",
		       "--no-huge",
		       "-m",
		       "1024",
		       "--no-pci",
		       "--file-prefix=sn_turn_bench",
		       "--vdev=net_null0",
		       "--log-level=*:warning",
		       "-l",
		       lc,
		       NULL};
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])) - 1, eal) < 0) {
		fprintf(stderr, "EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	int exit_code = 1;
	uint32_t *order = NULL;
	sn_dp.tsc_hz = rte_get_tsc_hz();
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	sn_dp.epoch_ns = (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
	sn_dp.epoch_tsc = rte_rdtsc();
	sn_dp.pool = rte_pktmbuf_pool_create(
	    "bench_pkt", 8191, 256,
	    (uint16_t)RTE_ALIGN(sizeof(struct sn_pkt_meta), RTE_MBUF_PRIV_ALIGN),
	    RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	sn_dp.learn_ring = rte_ring_create_elem("bench_learn", sizeof(struct sn_learn_msg), 1024,
						(int)rte_socket_id(), 0);
	sn_dp.workers = rte_zmalloc("bench_worker", sizeof(struct sn_worker), RTE_CACHE_LINE_SIZE);
	struct sn_stats_lcore *st = rte_zmalloc("bench_stats", sizeof(*st), RTE_CACHE_LINE_SIZE);
	if (!sn_dp.pool || !sn_dp.learn_ring || !sn_dp.workers || !st || port_setup() < 0) {
		fprintf(stderr, "setup failed: %s\n", rte_strerror(rte_errno));
		goto out;
	}
	sn_dp.n_workers = 1;
	sn_dp.workers[0].lcore_id = lcore;
	sn_dp.workers[0].stats = st;
	struct sn_turn_config *tc = &sn_dp.cfg.turn;
	tc->relay_port_min = RELAY_MIN;
	tc->relay_port_max = RELAY_MIN + RELAY_SPAN - 1;
	tc->max_allocations = 131072;
	tc->max_permissions = 16;
	tc->max_channels = 16;
	tc->rfc5766_channels = true;
	if (sn_rcu_writer_init(&sn_dp.rcu, 256) < 0 || sn_neigh_init(&sn_dp.neigh, 64) < 0 ||
	    sn_dispatch_init(&sn_dp.dispatch) < 0 || sn_turn_init() < 0)
		goto out;
	for (int f = 0; f < 2; f++) {
		struct sn_dispatch_snap *draft = NULL;
		struct sn_dispatch_key dk = {.port = htons(3478), .family = f ? AF_INET6 : AF_INET};
		struct sn_dispatch_value dv = {.handler = SN_UDP_HANDLER_TURN};
		sn_dispatch_apply(&sn_dp.dispatch, &draft, SN_TABLE_OP_ADD, &dk, &dv);
		sn_dispatch_publish(&sn_dp.dispatch, draft, &sn_dp.rcu);
	}
	sn_neigh_learn(&sn_dp.neigh, &sn_dp.rcu, 0, AF_INET, GW4, GW_MAC);
	sn_neigh_learn(&sn_dp.neigh, &sn_dp.rcu, 0, AF_INET6, GW6, GW_MAC);

	uint64_t t0 = wall_ns();
	if (install(n_alloc) < 0)
		goto out;
	double install_s = (double)(wall_ns() - t0) / 1e9;
	const struct sn_turn_table *tt = sn_turn_table();

	slot = RTE_ALIGN(payload + 62 + 48 + 8, RTE_CACHE_LINE_SIZE);
	frames = malloc((size_t)n_alloc * slot);
	lengths = malloc(n_alloc * sizeof(*lengths));
	order = malloc(N_ORDER * sizeof(*order));
	if (!frames || !lengths || !order)
		goto out;
	uint64_t x = 88172645463325252ull;
	for (uint32_t i = 0; i < N_ORDER; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		order[i] = (uint32_t)(x % n_alloc);
	}

	printf("turn_fastpath_bench: best of %u run(s); %u allocations (1 permission, 1 channel "
	       "each; %u IPv4, %u "
	       "IPv6 relayed), payload %u B, %lu packets per scenario, lcore %u, TSC %.3f GHz, "
	       "UDP checksum check in L3: %s\n",
	       runs, n_alloc, n_alloc < RELAY_SPAN ? n_alloc : RELAY_SPAN,
	       n_alloc > RELAY_SPAN ? n_alloc - RELAY_SPAN : 0, payload, (unsigned long)packets,
	       lcore, (double)sn_dp.tsc_hz / 1e9, sw_cksum ? "software" : "offloaded (skipped)");
	printf("install: %u x (alloc, perm, channel) commands in %.3f s: %.0f commands/s\n",
	       n_alloc, install_s, 3.0 * n_alloc / install_s);
	size_t idx = (size_t)tt->p.max_allocations * sizeof(void *) * 2 +
		     (size_t)tt->p.n_ports * 2 * tt->relay_span * sizeof(void *);
	size_t ctr =
	    (size_t)tt->p.max_allocations * sizeof(struct sn_turn_counters) * (tt->p.n_lcores + 1u);
	printf(
	    "table memory: objects %zu B (%.1f B/allocation, malloc usable size), indexes "
	    "%.1f MiB and counters %.1f MiB for max_allocations %u (%.1f B per allocation slot)\n",
	    tt->obj_bytes, (double)tt->obj_bytes / n_alloc, (double)idx / 1048576.0,
	    (double)ctr / 1048576.0, tt->p.max_allocations,
	    (double)(idx + ctr) / tt->p.max_allocations);
	printf("Mpps/core and cyc/pkt: L3 + TURN handler (tx burst to net_null included), median "
	       "burst; mean: every cycle, preemption by other processes included\n");
	printf("%-14s %9s %8s %6s %6s | %9s %8s | %8s %9s %9s\n", "scenario", "Mpps/core",
	       "cyc/pkt", "l3", "turn", "Mpps mean", "cyc mean", "harness", "wall Mpps", "sent");
	for (int sc = 0; sc < N_SCENARIOS; sc++) {
		struct result r;
		if (only && strcmp(only, scenario_names[sc]) != 0)
			continue;
		for (unsigned k = 0; k < runs; k++) {
			struct result rk;
			if (run((enum scenario)sc, n_alloc, packets, (uint16_t)payload, sw_cksum,
				order, &rk) < 0)
				goto out;
			if (k == 0 || rk.l3_med + rk.turn_med < r.l3_med + r.turn_med)
				r = rk;
		}
		double cyc = r.l3_med + r.turn_med, mean = r.l3 + r.turn;
		printf("%-14s %9.2f %8.1f %6.1f %6.1f | %9.2f %8.1f | %8.1f %9.2f %9lu\n",
		       scenario_names[sc], (double)sn_dp.tsc_hz / cyc / 1e6, cyc, r.l3_med,
		       r.turn_med, (double)sn_dp.tsc_hz / mean / 1e6, mean, r.harness, r.wall_mpps,
		       (unsigned long)r.out);
		if (r.drops || r.punts) {
			fprintf(stderr, "%s: %lu drops, %lu punts\n", scenario_names[sc],
				(unsigned long)r.drops, (unsigned long)r.punts);
			goto out;
		}
	}
	printf("checked: %lu transmitted packets, IPv4 header and UDP checksums and lengths "
	       "all good\n",
	       (unsigned long)verified);
	struct sn_turn_counters c;
	sn_turn_alloc_traffic(tt, 0, &c);
	printf("allocation 0: to peer %lu packets %lu bytes, to client %lu packets %lu bytes\n",
	       (unsigned long)c.to_peer_packets, (unsigned long)c.to_peer_bytes,
	       (unsigned long)c.to_client_packets, (unsigned long)c.to_client_bytes);
	exit_code = 0;
out:
	free(order);
	free(frames);
	free(lengths);
	sn_turn_fini();
	sn_rcu_writer_fini(&sn_dp.rcu);
	if (sn_dp.dispatch.current)
		sn_dispatch_fini(&sn_dp.dispatch);
	rte_eal_cleanup();
	return exit_code;
}
