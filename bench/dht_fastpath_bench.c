/* dht_fastpath_bench.c: cycles per OpenDHT answer of the dataplane's fast path
 * (dataplane/dht.c's sn_dht_handle) on one core.
 *
 * Runs the real handler on a real mbuf, as a worker does after L2/L3: a ping or a find
 * (IPv4, from one source) is copied into the mbuf, sn_dht_handle() parses it, answers it from
 * the routing snapshot (a find: the 8 closest of N nodes per family and a write token),
 * rewrites the frame in place (addresses, ports, lengths, checksums) and hands it to
 * sn_worker_tx(), stubbed here to keep the mbuf for the next round. The DHT tables are filled
 * through their channel-table functions (apply + publish), exactly as control's commands
 * fill them. The copy of the request into the mbuf is measured apart and subtracted.
 *
 *   dht_fastpath_bench [-n ITERATIONS] [-N NODES_PER_FAMILY]
 *
 * Prints cycles per answer (median of blocks of 32, so that preemption on a shared machine
 * does not count) and answers per second per core for ping and find, plus the parse and
 * answer alone (sn_dht_fast_process on a buffer, no frame rewrite). Needs no hugepages
 * (EAL --no-huge --no-pci, one lcore, its own file prefix). */
#include "dataplane.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "dht_msg.h"
#include "fast.h"

struct sn_dp sn_dp;

static struct rte_mbuf *last_tx;
static uint64_t n_tx, n_drop, n_punt;

void sn_worker_tx(struct sn_worker *w, uint16_t port_idx, struct rte_mbuf *m)
{
	(void)w;
	(void)port_idx;
	last_tx = m;
	n_tx++;
}

void sn_worker_drop(struct sn_worker *w, enum sn_drop_reason reason, struct rte_mbuf *m)
{
	(void)w;
	(void)reason;
	n_drop++;
	rte_pktmbuf_free(m);
}

void sn_worker_punt(struct sn_worker *w, struct rte_mbuf *m, uint16_t port_idx,
		    const struct sn_l3_result *res, enum sn_punt_reason reason, uint64_t now)
{
	(void)w;
	(void)port_idx;
	(void)res;
	(void)reason;
	(void)now;
	n_punt++;
	rte_pktmbuf_free(m);
}

uint64_t sn_tsc_to_ns(uint64_t tsc)
{
	return (uint64_t)((double)tsc * 1e9 / (double)sn_dp.tsc_hz);
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static void rnd_bytes(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

static void fill_tables(unsigned per_family)
{
	struct sn_dht_state_key sk = {0};
	struct sn_dht_state_value sv;

	memset(&sv, 0, sizeof(sv));
	rnd_bytes(sv.node_id, sizeof(sv.node_id));
	sv.network_id = 94;
	rnd_bytes(sv.token_cur, sizeof(sv.token_cur));
	rnd_bytes(sv.token_prev, sizeof(sv.token_prev));
	if (sn_dp_table_dht_state.apply(SN_TABLE_OP_ADD, &sk, sizeof(sk), &sv, sizeof(sv)) < 0)
		exit(1);
	sn_dp_table_dht_state.publish();
	for (unsigned i = 0; i < 2 * per_family; i++) {
		struct sn_dht_node_key k = {.family = i % 2 ? AF_INET6 : AF_INET};
		struct sn_dht_node_value v = {.port = htons((uint16_t)(1024 + i % 60000))};

		rnd_bytes(k.id, sizeof(k.id));
		if (k.family == AF_INET) {
			v.addr[0] = 198;
			v.addr[1] = 18;
			v.addr[2] = (uint8_t)(i >> 8);
			v.addr[3] = (uint8_t)i | 1;
		} else {
			v.addr[0] = 0x20;
			v.addr[1] = 0x01;
			v.addr[2] = 0x0d;
			v.addr[3] = 0xb8;
			rnd_bytes(v.addr + 4, 12);
		}
		if (sn_dp_table_dht_node.apply(SN_TABLE_OP_ADD, &k, sizeof(k), &v, sizeof(v)) < 0) {
			fprintf(stderr, "node %u refused\n", i);
			exit(1);
		}
	}
	sn_dp_table_dht_node.publish();
	sn_rcu_reclaim(&sn_dp.rcu);
}

/* An Ethernet/IPv4/UDP frame from 198.18.0.2:40000 to 198.18.0.1:4222 carrying payload. */
static uint16_t make_frame(uint8_t *frame, const uint8_t *payload, uint16_t len,
			   struct sn_l3_result *res)
{
	static const uint8_t app_mac[6] = {2, 0, 0, 0, 0, 1}, peer_mac[6] = {2, 0, 0, 0, 0, 2};
	static const uint8_t app[4] = {198, 18, 0, 1}, peer[4] = {198, 18, 0, 2};
	uint16_t hdr = sn_udp_headroom(AF_INET);

	memcpy(frame + hdr, payload, len);
	memset(res, 0, sizeof(*res));
	res->action = SN_L3_UDP;
	res->family = AF_INET;
	res->l3_off = SN_ETHER_HDR_LEN;
	res->l4_off = SN_ETHER_HDR_LEN + 20;
	res->payload_off = hdr;
	res->payload_len = len;
	return sn_build_udp(frame, peer_mac, app_mac, AF_INET, peer, app, htons(40000), htons(4222),
			    len);
}

struct result {
	double cycles;
	double per_sec;
};

#define BLOCK 32 /* iterations timed together: the median block is the figure */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Median over blocks of BLOCK iterations, per iteration. The mean would count every cycle
 * the core spent elsewhere (preemption by other processes on a shared machine); the median
 * block is what a dedicated core sees. */
static double median_block(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return (double)v[n / 2] / BLOCK;
}

static struct result run(struct sn_worker *w, struct rte_mbuf *m, const uint8_t *tmpl,
			 uint16_t flen, const struct sn_l3_result *res, unsigned iters)
{
	uint8_t *data = rte_pktmbuf_mtod(m, uint8_t *);
	uint64_t tx0 = n_tx;
	size_t nb = (iters + BLOCK - 1) / BLOCK;
	uint64_t *bc = malloc(nb * sizeof(*bc)), *bh = malloc(nb * sizeof(*bh));
	struct result r;

	if (!bc || !bh)
		exit(1);
	/* the copy alone, to subtract */
	for (size_t b = 0; b < nb; b++) {
		uint64_t t0 = rte_rdtsc_precise();
		for (unsigned i = 0; i < BLOCK; i++) {
			memcpy(data, tmpl, flen);
			m->data_len = m->pkt_len = flen;
			__asm__ volatile("" ::: "memory");
		}
		bc[b] = rte_rdtsc_precise() - t0;
	}
	for (size_t b = 0; b < nb; b++) {
		uint64_t t0 = rte_rdtsc_precise();
		for (unsigned i = 0; i < BLOCK; i++) {
			memcpy(data, tmpl, flen);
			m->data_len = m->pkt_len = flen;
			sn_dht_handle(w, m, 0, res, t0);
		}
		bh[b] = rte_rdtsc_precise() - t0;
	}
	if (n_tx - tx0 != nb * BLOCK) {
		fprintf(stderr, "only %lu of %zu answered (drops %lu, punts %lu)\n",
			(unsigned long)(n_tx - tx0), nb * BLOCK, (unsigned long)n_drop,
			(unsigned long)n_punt);
		exit(1);
	}
	r.cycles = median_block(bh, nb) - median_block(bc, nb);
	r.per_sec = (double)sn_dp.tsc_hz / r.cycles;
	free(bc);
	free(bh);
	return r;
}

static double run_pure(const struct sn_dht_fast_ctx *ctx, const uint8_t *payload, uint16_t len,
		       unsigned iters)
{
	struct sn_node_addr from = {
	    .family = AF_INET, .port = htons(40000), .addr = {198, 18, 0, 2}};
	uint8_t out[SN_DHT_FAST_REPLY_MAX];
	struct sn_dht_fast_result res;
	size_t nb = (iters + BLOCK - 1) / BLOCK;
	uint64_t *bt = malloc(nb * sizeof(*bt));

	if (!bt)
		exit(1);
	for (size_t b = 0; b < nb; b++) {
		uint64_t t0 = rte_rdtsc_precise();
		for (unsigned i = 0; i < BLOCK; i++) {
			sn_dht_fast_process(ctx, payload, len, &from, out, sizeof(out), &res);
			__asm__ volatile("" ::: "memory");
		}
		bt[b] = rte_rdtsc_precise() - t0;
	}
	double c = median_block(bt, nb);
	free(bt);
	return c;
}

int main(int argc, char **argv)
{
	char *eal[] = {argv[0],
		       "--no-huge",
		       "-m",
		       "256",
		       "--no-pci",
		       "-l",
		       "0",
		       "--file-prefix=sn-dht-bench",
		       "--log-level=*:error",
		       NULL};
	unsigned iters = 2000000, nodes = 4096;
	static struct sn_stats_lcore stats;
	struct sn_worker *w;
	uint8_t ping[128], find[256], tmpl_ping[256], tmpl_find[256];
	struct sn_l3_result res_ping, res_find;
	struct sn_node_id me, target;
	int opt, lp, lf;

	while ((opt = getopt(argc, argv, "n:N:")) != -1) {
		if (opt == 'n')
			iters = (unsigned)strtoul(optarg, NULL, 10);
		else if (opt == 'N')
			nodes = (unsigned)strtoul(optarg, NULL, 10);
		else {
			fprintf(stderr, "usage: %s [-n ITERATIONS] [-N NODES_PER_FAMILY]\n",
				argv[0]);
			return 2;
		}
	}
	if (nodes > 4096)
		nodes = 4096; /* the DHT_NODE table holds 8192 */
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])) - 1, eal) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	sn_dp.tsc_hz = rte_get_tsc_hz();
	sn_dp.pool = rte_pktmbuf_pool_create(
	    "bench", 1023, 0, (uint16_t)RTE_ALIGN(sizeof(struct sn_pkt_meta), RTE_MBUF_PRIV_ALIGN),
	    RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (!sn_dp.pool || sn_rcu_writer_init(&sn_dp.rcu, 64) < 0)
		return 1;
	rcu_register_thread();
	fill_tables(nodes);

	w = rte_zmalloc(NULL, sizeof(*w), RTE_CACHE_LINE_SIZE);
	if (!w)
		return 1;
	w->stats = &stats;
	rnd_bytes(me.b, sizeof(me.b));
	rnd_bytes(target.b, sizeof(target.b));
	lp = sn_dht_build_ping(ping, sizeof(ping), 7, 94, &me);
	lf = sn_dht_build_find(find, sizeof(find), 8, 94, &me, &target, 0);
	if (lp < 0 || lf < 0)
		return 1;
	uint16_t fp = make_frame(tmpl_ping, ping, (uint16_t)lp, &res_ping);
	uint16_t ff = make_frame(tmpl_find, find, (uint16_t)lf, &res_find);
	struct rte_mbuf *m = rte_pktmbuf_alloc(sn_dp.pool);

	if (!m)
		return 1;
	/* warm up (and take the one dht_seen sample of this source out of the way) */
	run(w, m, tmpl_ping, fp, &res_ping, 1000);
	struct result rp = run(w, m, tmpl_ping, fp, &res_ping, iters);
	uint32_t pong_len = m->pkt_len;
	struct result rf = run(w, m, tmpl_find, ff, &res_find, iters);
	uint32_t found_len = m->pkt_len;

	struct sn_token_secrets tok;
	const struct sn_rt_snapshot *snap = NULL;
	struct sn_node_id self;
	struct sn_dht_fast_ctx ctx;

	/* the pure answer on a snapshot of the same size: parse + closest nodes + token + build */
	rnd_bytes(self.b, sizeof(self.b));
	memset(&tok, 0, sizeof(tok));
	rnd_bytes(tok.current, sizeof(tok.current));
	snap = NULL;
	{
		struct sn_rt_node *list = calloc(2 * nodes, sizeof(*list));

		for (unsigned i = 0; list && i < 2 * nodes; i++) {
			rnd_bytes(list[i].id.b, sizeof(list[i].id.b));
			list[i].addr.family = i % 2 ? AF_INET6 : AF_INET;
			list[i].addr.port = htons(4222);
			list[i].addr.addr[0] = 198;
		}
		snap = list ? sn_rt_snapshot_from_nodes(list, 2 * nodes, 0, 1) : NULL;
		free(list);
	}
	ctx = (struct sn_dht_fast_ctx){.self = &self, .network = 94, .snap = snap, .tokens = &tok};
	double pure_ping = run_pure(&ctx, ping, (uint16_t)lp, iters);
	double pure_find = run_pure(&ctx, find, (uint16_t)lf, iters);

	printf("dht fast path, one core, TSC %.2f GHz, %u iterations, %u nodes per family\n",
	       (double)sn_dp.tsc_hz / 1e9, iters, nodes);
	printf("  %-34s %10s %14s\n", "", "cycles", "answers/s");
	printf("  %-34s %10.0f %14.0f\n", "ping (mbuf in, answer rewritten)", rp.cycles,
	       rp.per_sec);
	printf("  %-34s %10.0f %14.0f\n", "find (mbuf in, answer rewritten)", rf.cycles,
	       rf.per_sec);
	printf("  %-34s %10.0f %14.0f\n", "ping (parse + answer, buffer)", pure_ping,
	       (double)sn_dp.tsc_hz / pure_ping);
	printf("  %-34s %10.0f %14.0f\n", "find (parse + answer, buffer)", pure_find,
	       (double)sn_dp.tsc_hz / pure_find);
	printf("  frames: ping %u -> pong %u bytes, find %u -> answer %u bytes\n", fp, pong_len, ff,
	       found_len);
	sn_rt_snapshot_free((struct sn_rt_snapshot *)snap);
	rte_pktmbuf_free(m);
	rcu_unregister_thread();
	rte_eal_cleanup();
	return 0;
}
