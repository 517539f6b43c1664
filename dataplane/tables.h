/* tables.h: the dataplane's RCU-protected tables and the rules that keep them safe.
 *
 * RCU flavour: liburcu QSBR. Every worker is a registered reader that reports a quiescent
 * state once per poll loop (sn_rcu_quiescent) and goes offline while it sleeps. The only
 * writer is the table-writer on the main lcore: it builds a new version of a table,
 * publishes it with one pointer store, and frees the old version only after a grace period
 * (sn_rcu_reclaim, one synchronize_rcu for everything retired since the last call). Readers
 * never lock, never allocate and never see a half-written table.
 *
 * Tables here are immutable snapshots replaced whole (copy on write): the UDP dispatch
 * table (direct-indexed by port, 128 KiB) and the neighbour table (a few hundred on-link
 * hosts at most: in production the next hop is nearly always the gateway). Larger tables
 * that change per client (TURN allocations) use liburcu's lock-free hash under the same
 * reader/writer rules.
 *
 * No DPDK header: the RCU stress test runs this on plain pthreads. */
#ifndef SN_TABLES_H
#define SN_TABLES_H

#ifndef _LGPL_SOURCE
#define _LGPL_SOURCE /* inline QSBR fast paths: quiescent state is a store, not a call */
#endif
#include <urcu-qsbr.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sn_channel.h"

/* --- reader side (workers) --- */
static inline void sn_rcu_quiescent(void)
{
	rcu_quiescent_state();
}

/* --- writer side (main lcore) --- */

/* Objects retired by the writer, freed after the next grace period. */
struct sn_rcu_writer {
	uint32_t n_pending; /* retired objects waiting for a grace period */
	uint32_t cap;	    /* capacity of pending[] */
	struct sn_rcu_retired {
		void *ptr;
		void (*free_fn)(void *);
	} * pending;
	uint64_t grace_periods; /* synchronize_rcu calls */
	uint64_t freed;		/* objects freed after a grace period */
};

int sn_rcu_writer_init(struct sn_rcu_writer *w, uint32_t cap);
void sn_rcu_writer_fini(struct sn_rcu_writer *w);
/* Retires ptr; if the list is full it waits for a grace period first (never drops it). */
void sn_rcu_retire(struct sn_rcu_writer *w, void *ptr, void (*free_fn)(void *));
/* Waits for one grace period if anything is retired and frees it all. Returns how many. */
uint32_t sn_rcu_reclaim(struct sn_rcu_writer *w);

/* --- UDP dispatch table --- */

struct sn_dispatch_snap {
	uint64_t version; /* bumped on every publish */
	uint32_t entries; /* ports with a handler other than DROP */
	uint32_t pad;
	uint8_t handler[2][65536]; /* [0] IPv4, [1] IPv6; indexed by port in host order */
};

struct sn_dispatch_table {
	struct sn_dispatch_snap *current; /* read by workers via rcu_dereference */
};

static inline uint8_t sn_dispatch_lookup(const struct sn_dispatch_snap *snap, int is_ipv6,
					 uint16_t port_host)
{
	return snap->handler[is_ipv6][port_host];
}

int sn_dispatch_init(struct sn_dispatch_table *t);
void sn_dispatch_fini(struct sn_dispatch_table *t);
/* Applies one command to a private copy that the writer publishes with
 * sn_dispatch_publish (so a batch of commands costs one copy and one grace period).
 * Returns 0 or a negative errno (-EINVAL for a bad key/value). */
int sn_dispatch_apply(struct sn_dispatch_table *t, struct sn_dispatch_snap **draft, uint8_t op,
		      const struct sn_dispatch_key *key, const struct sn_dispatch_value *val);
void sn_dispatch_publish(struct sn_dispatch_table *t, struct sn_dispatch_snap *draft,
			 struct sn_rcu_writer *w);

/* --- neighbour table --- */

struct sn_neigh_entry {
	uint8_t used;
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t mac[6];
	uint8_t ip[16]; /* IPv4 in the first 4 bytes */
	uint16_t port_id;
	uint16_t pad;
	uint32_t pad2;
};
_Static_assert(sizeof(struct sn_neigh_entry) == 32, "neighbour entry is half a cache line");

struct sn_neigh_snap {
	uint32_t mask; /* slots - 1; open addressing, linear probing */
	uint32_t entries;
	struct sn_neigh_entry slot[];
};

struct sn_neigh_table {
	struct sn_neigh_snap *current;
	uint32_t capacity; /* most entries kept; learning past it evicts nothing and is counted */
};

int sn_neigh_init(struct sn_neigh_table *t, uint32_t capacity);
void sn_neigh_fini(struct sn_neigh_table *t);
const struct sn_neigh_entry *sn_neigh_lookup(const struct sn_neigh_snap *snap, uint8_t family,
					     const uint8_t *ip);
/* Learns (family, ip) -> mac on port_id. Publishes a new snapshot only when something
 * changed. Returns 1 if changed, 0 if already known, -ENOSPC when full. */
int sn_neigh_learn(struct sn_neigh_table *t, struct sn_rcu_writer *w, uint16_t port_id,
		   uint8_t family, const uint8_t *ip, const uint8_t *mac);

#endif
