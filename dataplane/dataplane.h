/* dataplane.h: the state of supernode-dataplane, shared by its modules.
 *
 * Threads: one worker per configured lcore runs worker_main() (rx burst > L2/L3 > police >
 * dispatch > tx burst); the main lcore runs main_loop(): the table writer (the one RCU
 * updater), the control channel server, the punt/inject path and the stats segment.
 *
 * Queues: every worker owns rx queue i and tx queue i of every port (i = its index), so no
 * queue is shared. Packets flow between threads only through rte_rings:
 *   punt_ring   workers -> main   packets for control (mbuf, metadata in the mbuf's private area)
 *   learn_ring  workers -> main   neighbours seen in ARP/NDP
 *   inject_ring main -> worker 0  per port: packets control asked to send (worker 0 owns tx 0) */
#ifndef SN_DATAPLANE_H
#define SN_DATAPLANE_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "guard.h"
#include "l3.h"
#include "sn_log.h"
#include "sn_config.h"
#include "sn_stats.h"
#include "tables.h"

#define SN_MAX_BURST	  64
#define SN_SOURCE_BUCKETS 1024 /* per-worker hashed per-source punt policers */

/* Metadata a worker leaves in a punted mbuf's private area for the main lcore. */
struct sn_pkt_meta {
	uint64_t arrival_tsc; /* rte_rdtsc() at rx */
	uint16_t reason;      /* enum sn_punt_reason */
	uint16_t port_idx;    /* index into sn_dp.ports */
	uint16_t lcore;	      /* worker lcore id */
	uint16_t l3_off;
	uint16_t l4_off;
	uint16_t payload_off;
	uint16_t payload_len;
	uint8_t family;
	uint8_t pad;
};

/* A neighbour learned by a worker, on its way to the table writer. With `resolve` set it
 * is instead a next hop a worker needs and does not know (learn.family and learn.ip only):
 * the main lcore sends an ARP request / neighbour solicitation for it (sn_dp_resolve). */
struct sn_learn_msg {
	struct sn_l3_learn learn;
	uint16_t port_idx;
	uint16_t resolve;
};

/* GCRA policer: tat is the theoretical arrival time in TSC cycles. */
struct sn_policer {
	uint64_t tat;
};

struct sn_tx_buffer {
	uint16_t count;
	struct rte_mbuf *pkts[SN_MAX_BURST];
};

/* Per-worker configuration and state, cache-aligned as l3fwd's lcore_conf. */
struct sn_worker {
	unsigned lcore_id;
	uint16_t index;		      /* queue id on every port */
	struct sn_stats_lcore *stats; /* this worker's block in the stats segment */
	struct sn_tx_buffer tx[SN_CONFIG_MAX_PORTS];
	struct sn_policer punt_reason[SN_PUNT_MAX];
	struct sn_policer punt_source[SN_SOURCE_BUCKETS];
	struct sn_policer punt_all; /* all punts of this worker (guard.punt_rate_pps) */
	struct sn_guard guard;	    /* per-source policers and heavy hitters (guard.h) */
} __rte_cache_aligned;

struct sn_dp_port {
	uint16_t port_id; /* DPDK port id */
	char name[SN_CONFIG_NAME_LEN];
	struct sn_l3_port l3;	      /* MAC and addresses */
	struct rte_ring *inject_ring; /* main -> worker 0 */
	const struct sn_port_config *cfg;
};

struct sn_dp {
	struct sn_config cfg;
	uint16_t n_ports;
	struct sn_dp_port ports[SN_CONFIG_MAX_PORTS];
	uint16_t n_workers;
	struct sn_worker *workers; /* n_workers, cache-aligned */
	struct rte_mempool *pool;
	struct rte_ring *punt_ring;
	struct rte_ring *learn_ring;
	struct sn_stats_segment *stats;
	struct sn_stats_lcore *main_stats; /* the main lcore's block */
	uint64_t tsc_hz;
	uint64_t epoch_ns;  /* wall clock at start */
	uint64_t epoch_tsc; /* TSC at start, to turn arrival_tsc into ns */
	/* policer parameters in TSC cycles */
	uint64_t punt_interval, punt_tolerance;
	uint64_t source_interval, source_tolerance;
	struct sn_guard_params guard;	 /* from cfg.guard (guard.h) */
	struct sn_guard_bans guard_bans; /* SN_TABLE_GUARD: bans and suspect marks */
	/* tables: written by the main lcore only */
	struct sn_dispatch_table dispatch;
	struct sn_neigh_table neigh;
	struct sn_rcu_writer rcu;
	volatile int quit;
};

extern struct sn_dp sn_dp;

static inline struct sn_pkt_meta *sn_meta(struct rte_mbuf *m)
{
	return (struct sn_pkt_meta *)rte_mbuf_to_priv(m);
}

/* A table control writes through the channel. The main lcore calls apply() for each
 * TABLE_CMD of a batch, then publish() once, then acks: an ack means "in effect". */
typedef int (*sn_dump_emit_fn)(uint16_t table, const void *key, uint16_t key_len, const void *val,
			       uint16_t val_len);
struct sn_dp_table {
	uint16_t id; /* enum sn_table_id */
	const char *name;
	/* Applies one command to a private draft; returns 0 or a negative errno. */
	int (*apply)(uint8_t op, const void *key, uint16_t key_len, const void *val,
		     uint16_t val_len);
	/* Makes the draft visible to workers, retiring old versions to sn_dp.rcu. */
	void (*publish)(void);
	/* Emits every entry; stops at the first emit error and returns it. */
	int (*dump)(sn_dump_emit_fn emit);
	uint32_t (*entries)(void);
};
/* The size rule every TABLE_CMD obeys: CLEAR carries nothing, DEL a key, ADD a key and a
 * value, each of the table's fixed size. */
static inline bool sn_table_cmd_sizes_ok(uint8_t op, uint16_t key_len, size_t key_size,
					 uint16_t val_len, size_t val_size)
{
	if (op == SN_TABLE_OP_CLEAR)
		return key_len == 0 && val_len == 0;
	return key_len == key_size && val_len == (op == SN_TABLE_OP_ADD ? val_size : 0);
}

/* Indexed by enum sn_table_id; NULL where the table is not built in (command refused with
 * -EOPNOTSUPP). channel.c holds the list. */
extern const struct sn_dp_table *const sn_dp_tables[SN_TABLE_MAX];
extern const struct sn_dp_table sn_dp_table_dispatch;			     /* dispatch.c */
extern const struct sn_dp_table sn_dp_table_dht_node, sn_dp_table_dht_state; /* dht.c */
extern const struct sn_dp_table sn_dp_table_turn_alloc, sn_dp_table_turn_perm,
    sn_dp_table_turn_channel;			   /* turn.c */
extern const struct sn_dp_table sn_dp_table_guard; /* guard_dp.c */

/* Fast handlers for UDP datagrams the dispatcher gives them (worker context). They own m
 * from then on: send it (tx_enqueue), punt it or count a drop. */
struct sn_worker;
void sn_worker_tx(struct sn_worker *w, uint16_t port_idx, struct rte_mbuf *m);
void sn_worker_drop(struct sn_worker *w, enum sn_drop_reason reason, struct rte_mbuf *m);
void sn_worker_punt(struct sn_worker *w, struct rte_mbuf *m, uint16_t port_idx,
		    const struct sn_l3_result *res, enum sn_punt_reason reason, uint64_t now);

/* worker.c */
int worker_main(void *arg);

/* dht.c: the OpenDHT fast handler (SN_UDP_HANDLER_DHT). */
void sn_dht_handle(struct sn_worker *w, struct rte_mbuf *m, uint16_t port_idx,
		   const struct sn_l3_result *res, uint64_t now);

/* turn.c: the TURN fast path. sn_turn_handle: datagrams to a port dispatched to
 * SN_UDP_HANDLER_TURN (Binding answers, Send indications, ChannelData; other requests are
 * punted); sn_turn_relay: datagrams to a relayed transport address (worker.c: ports in the
 * relay range that have no dispatch entry). Both take the mbuf and queue it; the worker
 * calls sn_turn_flush once per poll round, before tx_flush, which handles the queued
 * packets in order with a prefetch pipeline. init/fini on the main lcore, after the ports
 * are up and before the workers start / after they stopped. */
struct sn_turn_fast {
	uint16_t relay_min;  /* turn.relay_port_min */
	uint16_t relay_span; /* relay_port_max - relay_port_min */
	bool rfc5766;	     /* turn.rfc5766_channels */
	bool enabled;	     /* the TURN tables are up */
};
extern struct sn_turn_fast sn_turn_fast;
static inline bool sn_turn_is_relay_port(uint16_t port_host)
{
	return sn_turn_fast.enabled &&
	       (uint16_t)(port_host - sn_turn_fast.relay_min) <= sn_turn_fast.relay_span;
}
int sn_turn_init(void);
void sn_turn_fini(void);
void sn_turn_handle(struct sn_worker *w, struct rte_mbuf *m, uint16_t port_idx,
		    const struct sn_l3_result *res, uint64_t now);
void sn_turn_relay(struct sn_worker *w, struct rte_mbuf *m, uint16_t port_idx,
		   const struct sn_l3_result *res, uint64_t now);
void sn_turn_flush(struct sn_worker *w, uint64_t now);
struct sn_turn_table;
const struct sn_turn_table *sn_turn_table(void);

/* channel.c: the control channel server, run from the main loop. */
int channel_init(void);
void channel_fini(void);
/* Polls the channel sockets once: accepts, reads and applies messages. Returns the number
 * of messages handled. */
int channel_poll(void);
/* Sends punted packets waiting in punt_ring. Returns how many were taken off the ring. */
int channel_send_punts(void);
/* File descriptors to wait on when idle (up to 2). */
int channel_fds(int fds[2]);

/* guard_dp.c: the guard's dataplane glue (main lcore): init after the workers are laid
 * out and before they start; poll sends the workers' heavy-hitter reports to control;
 * gauges fills the guard gauges of the stats segment (inside a write group). */
int sn_dp_guard_init(void);
void sn_dp_guard_fini(void);
void sn_dp_guard_poll(void);
void sn_dp_guard_gauges(struct sn_stats_gauges *g);
/* channel.c: sends one GUARD_REPORT (dropped and counted when the socket is full or no
 * control is connected). Returns 0 or a negative errno. */
int channel_send_guard_report(uint16_t lcore, const struct sn_guard_report_entry *e, uint16_t n,
			      uint64_t drops, uint32_t interval_ms);

/* main.c */
uint64_t sn_tsc_to_ns(uint64_t tsc);
/* Sends an ARP request or neighbour solicitation for `ip` on port_idx (main lcore). */
void sn_dp_resolve(uint16_t port_idx, uint8_t family, const uint8_t *ip);
/* Queues a built frame for port_idx via worker 0. Frees it and counts when full. */
void sn_dp_inject_frame(uint16_t port_idx, struct rte_mbuf *m);

#endif
