/* worker.c: the per-lcore poll loop (rx burst > L2/L3 > police > dispatch > tx burst).
 *
 * Hot-path rules: no locks, no allocation but mbufs, no system calls except the idle
 * sleep that lab mode asks for; counters are plain stores into this lcore's own block of
 * the stats segment; the dispatch snapshot is read once per burst under RCU QSBR and a
 * quiescent state is reported once per loop. */
#include "dataplane.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_prefetch.h>

#include <sys/socket.h>

static inline void count_drop(struct sn_worker *w, enum sn_drop_reason reason, struct rte_mbuf *m)
{
	w->stats->drops[reason]++;
	rte_pktmbuf_free(m);
}

static inline void tx_enqueue(struct sn_worker *w, uint16_t port_idx, struct rte_mbuf *m)
{
	struct sn_tx_buffer *tb = &w->tx[port_idx];
	tb->pkts[tb->count++] = m;
	if (tb->count == SN_MAX_BURST) {
		uint16_t port_id = sn_dp.ports[port_idx].port_id;
		uint64_t bytes = 0;
		for (uint16_t i = 0; i < tb->count; i++)
			bytes += tb->pkts[i]->pkt_len;
		uint16_t sent = rte_eth_tx_burst(port_id, w->index, tb->pkts, tb->count);
		for (uint16_t i = sent; i < tb->count; i++) {
			bytes -= tb->pkts[i]->pkt_len;
			count_drop(w, SN_DROP_TX_FULL, tb->pkts[i]);
		}
		w->stats->counters[SN_CTR_TX_PACKETS] += sent;
		w->stats->counters[SN_CTR_TX_BYTES] += bytes;
		tb->count = 0;
	}
}

static void tx_flush(struct sn_worker *w)
{
	for (uint16_t p = 0; p < sn_dp.n_ports; p++) {
		struct sn_tx_buffer *tb = &w->tx[p];
		if (!tb->count)
			continue;
		uint64_t bytes = 0;
		for (uint16_t i = 0; i < tb->count; i++)
			bytes += tb->pkts[i]->pkt_len;
		uint16_t sent =
		    rte_eth_tx_burst(sn_dp.ports[p].port_id, w->index, tb->pkts, tb->count);
		for (uint16_t i = sent; i < tb->count; i++) {
			bytes -= tb->pkts[i]->pkt_len;
			count_drop(w, SN_DROP_TX_FULL, tb->pkts[i]);
		}
		w->stats->counters[SN_CTR_TX_PACKETS] += sent;
		w->stats->counters[SN_CTR_TX_BYTES] += bytes;
		tb->count = 0;
	}
}

/* GCRA: one compare and one add per decision, no division on the hot path. */
static inline bool police(struct sn_policer *p, uint64_t now, uint64_t interval, uint64_t tolerance)
{
	uint64_t tat = p->tat > now ? p->tat : now;
	if (tat - now > tolerance)
		return false;
	p->tat = tat + interval;
	return true;
}

static inline uint32_t source_hash(const uint8_t *frame, const struct sn_l3_result *res)
{
	/* Source address only, so every port of one host shares a bucket. */
	const uint8_t *src = frame + res->l3_off + (res->family == AF_INET ? 12 : 8);
	unsigned n = res->family == AF_INET ? 4 : 16;
	uint32_t h = 2166136261u;
	for (unsigned i = 0; i < n; i++)
		h = (h ^ src[i]) * 16777619u;
	return h;
}

static void punt(struct sn_worker *w, struct rte_mbuf *m, uint16_t port_idx,
		 const struct sn_l3_result *res, enum sn_punt_reason reason, uint64_t now)
{
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	struct sn_policer *src_bucket =
	    &w->punt_source[source_hash(frame, res) & (SN_SOURCE_BUCKETS - 1)];
	if (!police(src_bucket, now, sn_dp.source_interval, sn_dp.source_tolerance) ||
	    !police(&w->punt_reason[reason], now, sn_dp.punt_interval, sn_dp.punt_tolerance) ||
	    !police(&w->punt_all, now, sn_dp.guard.punt_all.interval,
		    sn_dp.guard.punt_all.tolerance))
		return count_drop(w, SN_DROP_PUNT_POLICED, m);

	struct sn_pkt_meta *meta = sn_meta(m);
	meta->arrival_tsc = now;
	meta->reason = (uint16_t)reason;
	meta->port_idx = port_idx;
	meta->lcore = (uint16_t)w->lcore_id;
	meta->l3_off = res->l3_off;
	meta->l4_off = res->l4_off;
	meta->payload_off = res->payload_off;
	meta->payload_len = res->payload_len;
	meta->family = res->family;
	if (rte_ring_mp_enqueue(sn_dp.punt_ring, m) != 0)
		return count_drop(w, SN_DROP_PUNT_RING_FULL, m);
	w->stats->punts[reason]++;
	w->stats->counters[SN_CTR_PUNTED]++;
}

/* The guard class of a datagram for `handler`, or -1 when the guard does not police it:
 * media (ChannelData, Send indications) is checked against the allocation table by turn.c
 * and must never be dropped here. Looks at two payload bytes at most. */
static inline int guard_class(uint8_t handler, const uint8_t *frame, const struct sn_l3_result *res)
{
	switch (handler) {
	case SN_UDP_HANDLER_DHT:
		return SN_GUARD_DHT;
	case SN_UDP_HANDLER_TURN: {
		if (res->payload_len < 2)
			return SN_GUARD_STUN; /* dropped as malformed later; cheap either way */
		const uint8_t *p = frame + res->payload_off;
		if ((p[0] & 0xc0) == 0x40)
			return -1; /* ChannelData */
		if (p[0] == 0x00 && p[1] == 0x16)
			return -1; /* Send indication */
		return SN_GUARD_STUN;
	}
	case SN_UDP_HANDLER_PUNT:
	case SN_UDP_HANDLER_ECHO:
		return SN_GUARD_PUNT;
	default:
		return -1;
	}
}

static void handle_udp(struct sn_worker *w, struct rte_mbuf *m, uint16_t port_idx,
		       const struct sn_l3_result *res, const struct sn_dispatch_snap *dispatch,
		       uint64_t now)
{
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	uint16_t dst_port = (uint16_t)(frame[res->l4_off + 2] << 8 | frame[res->l4_off + 3]);
	uint8_t handler = sn_dispatch_lookup(dispatch, res->family == AF_INET6, dst_port);
	if (handler == SN_UDP_HANDLER_DROP && sn_turn_is_relay_port(dst_port)) {
		/* A relayed transport address: peer data for a TURN client (turn.c). Ports with
		 * a dispatch entry keep it, so a relay range over 3478 or 4222 breaks nothing. */
		w->stats->counters[SN_CTR_UDP_DISPATCHED]++;
		return sn_turn_relay(w, m, port_idx, res, now);
	}
	if (sn_dp.guard.enabled) {
		/* Per-source policing before any handler parses a byte (guard.h). */
		int cls = guard_class(handler, frame, res);
		if (cls >= 0) {
			const uint8_t *src =
			    frame + res->l3_off + (res->family == AF_INET ? 12 : 8);
			unsigned r = sn_guard_check(
			    &w->guard, &sn_dp.guard, rcu_dereference(sn_dp.guard_bans.current),
			    res->family, src, (enum sn_guard_class)cls, now);
			if (unlikely(r != SN_DROP_MAX))
				return count_drop(w, (enum sn_drop_reason)r, m);
		}
	}
	switch (handler) {
	case SN_UDP_HANDLER_PUNT:
		w->stats->counters[SN_CTR_UDP_DISPATCHED]++;
		return punt(w, m, port_idx, res, SN_PUNT_UDP_HANDLER, now);
	case SN_UDP_HANDLER_ECHO:
		w->stats->counters[SN_CTR_UDP_DISPATCHED]++;
		return punt(w, m, port_idx, res, SN_PUNT_ECHO, now);
	case SN_UDP_HANDLER_DHT:
		w->stats->counters[SN_CTR_UDP_DISPATCHED]++;
		return sn_dht_handle(w, m, port_idx, res, now);
	case SN_UDP_HANDLER_TURN:
		w->stats->counters[SN_CTR_UDP_DISPATCHED]++;
		return sn_turn_handle(w, m, port_idx, res, now);
	default:
		return count_drop(w, SN_DROP_UDP_PORT_CLOSED, m);
	}
}

static void handle_packet(struct sn_worker *w, struct rte_mbuf *m, uint16_t port_idx,
			  const struct sn_dispatch_snap *dispatch, uint64_t now)
{
	struct sn_dp_port *port = &sn_dp.ports[port_idx];
	struct sn_l3_result res;

	if (unlikely(m->nb_segs != 1))
		return count_drop(w, SN_DROP_MULTI_SEGMENT, m);
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	uint16_t cap = (uint16_t)(m->buf_len - m->data_off);
	bool l4_verified =
	    (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD;
	sn_l3_handle(&port->l3, frame, m->data_len, cap, !l4_verified, &res);

	if (unlikely(res.learn.valid)) {
		struct sn_learn_msg msg = {.learn = res.learn, .port_idx = port_idx};
		/* A full ring only delays learning: the neighbour asks again. */
		rte_ring_mp_enqueue_elem(sn_dp.learn_ring, &msg, sizeof(msg));
	}
	switch (res.action) {
	case SN_L3_REPLY:
		m->data_len = res.len;
		m->pkt_len = res.len;
		w->stats->counters[res.reply_counter]++;
		return tx_enqueue(w, port_idx, m);
	case SN_L3_UDP:
		return handle_udp(w, m, port_idx, &res, dispatch, now);
	case SN_L3_CONSUMED:
		rte_pktmbuf_free(m);
		return;
	default:
		return count_drop(w, (enum sn_drop_reason)res.reason, m);
	}
}

void sn_worker_tx(struct sn_worker *w, uint16_t port_idx, struct rte_mbuf *m)
{
	tx_enqueue(w, port_idx, m);
}

void sn_worker_drop(struct sn_worker *w, enum sn_drop_reason reason, struct rte_mbuf *m)
{
	count_drop(w, reason, m);
}

void sn_worker_punt(struct sn_worker *w, struct rte_mbuf *m, uint16_t port_idx,
		    const struct sn_l3_result *res, enum sn_punt_reason reason, uint64_t now)
{
	punt(w, m, port_idx, res, reason, now);
}

/* Worker 0 owns tx queue 0 of every port and sends what control asked the main lcore to
 * inject, so the main lcore never touches a worker's queue. */
static unsigned drain_injects(struct sn_worker *w)
{
	struct rte_mbuf *pkts[SN_MAX_BURST];
	unsigned total = 0;
	for (uint16_t p = 0; p < sn_dp.n_ports; p++) {
		unsigned n = rte_ring_sc_dequeue_burst(sn_dp.ports[p].inject_ring, (void **)pkts,
						       SN_MAX_BURST, NULL);
		for (unsigned i = 0; i < n; i++)
			tx_enqueue(w, p, pkts[i]);
		w->stats->counters[SN_CTR_INJECTED] += n;
		total += n;
	}
	return total;
}

int worker_main(void *arg)
{
	struct sn_worker *w = arg;
	struct sn_stats_lcore *st = w->stats;
	const struct sn_dataplane_config *dcfg = &sn_dp.cfg.dataplane;
	const uint16_t burst = dcfg->burst;
	uint32_t empty_run = 0;
	struct rte_mbuf *pkts[SN_MAX_BURST];

	rcu_register_thread();
	SN_INFO("worker %u (queue %u) polling %u port(s)", w->lcore_id, w->index, sn_dp.n_ports);
	uint64_t last = rte_rdtsc();
	while (!__atomic_load_n(&sn_dp.quit, __ATOMIC_RELAXED)) {
		unsigned got = 0;
		const struct sn_dispatch_snap *dispatch = rcu_dereference(sn_dp.dispatch.current);
		uint64_t now = rte_rdtsc();
		for (uint16_t p = 0; p < sn_dp.n_ports; p++) {
			uint16_t n =
			    rte_eth_rx_burst(sn_dp.ports[p].port_id, w->index, pkts, burst);
			if (!n)
				continue;
			got += n;
			st->counters[SN_CTR_RX_PACKETS] += n;
			for (uint16_t i = 0; i < n; i++) {
				if (i + 1 < n)
					rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
				st->counters[SN_CTR_RX_BYTES] += pkts[i]->pkt_len;
				handle_packet(w, pkts[i], p, dispatch, now);
			}
		}
		sn_turn_flush(w, now); /* TURN packets of this round (turn.c) */
		sn_guard_tick(&w->guard, &sn_dp.guard, now);
		st->counters[SN_CTR_GUARD_EVICTIONS] = w->guard.evictions;
		st->counters[SN_CTR_GUARD_TABLE_FULL] = w->guard.full;
		st->counters[SN_CTR_GUARD_REPORTS] = w->guard.reports;
		if (w->index == 0)
			got += drain_injects(w);
		tx_flush(w);
		sn_rcu_quiescent();

		uint64_t end = rte_rdtsc();
		st->poll_cycles_total += end - last;
		if (got) {
			st->poll_cycles_busy += end - last;
			st->counters[SN_CTR_BUSY_POLLS]++;
			empty_run = 0;
		} else {
			st->counters[SN_CTR_IDLE_POLLS]++;
			if (dcfg->idle_empty_polls && ++empty_run >= dcfg->idle_empty_polls) {
				/* Lab mode on a small machine: give the core back to the clients.
				 * Offline, so the table writer's grace periods do not wait on us.
				 */
				rcu_thread_offline();
				rte_delay_us_sleep(dcfg->idle_sleep_us);
				rcu_thread_online();
				st->counters[SN_CTR_IDLE_SLEEPS]++;
				empty_run = 0;
			}
		}
		last = end;
	}
	rcu_unregister_thread();
	SN_INFO("worker %u stopped", w->lcore_id);
	return 0;
}
