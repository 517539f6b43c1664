/* turn_table.h: the TURN fast path's tables: allocations, their permissions and channels.
 *
 * No DPDK header: the unit tests (and the RCU stress test) run it on plain pthreads.
 *
 * Concurrency: liburcu QSBR, as dataplane/tables.h. Readers (workers) are registered QSBR
 * threads; every pointer they follow is loaded with rcu_dereference and every object they
 * reach stays valid until their next quiescent state. There is exactly one writer (the
 * table writer on the main lcore). Readers never lock, never allocate, never write to the
 * table; the only thing they write is their own row of per-allocation counters.
 *
 * Objects: one allocation is one immutable heap object (struct sn_turn_alloc) that holds its
 * permissions and channel bindings inline. Any change (refresh, a permission or a channel
 * added, refreshed or removed) builds a new copy and swaps the pointers to it (copy on
 * write); the old copy is retired to a batch that the caller frees after a grace period
 * (sn_turn_table_take_retired). A reader thus always sees one whole version of an
 * allocation: no torn reads. The one field the writer changes in a published object is
 * `next`, the hash-chain link (as an RCU hlist).
 *
 * Indexes (all point at the current object of an allocation):
 *   by id         direct-indexed array of max_allocations pointers (control's alloc_id);
 *   by client     chained hash of (client family, IP, port, server port), a bucket array of
 *                 pow2 >= max_allocations heads, chain link inside the object, seeded hash;
 *   by relay      direct-indexed array per (port_idx, family) of relay_port_max -
 *                 relay_port_min + 1 pointers.
 * Inside an allocation permissions (by peer IP) and channels (by number, by peer address)
 * are small arrays scanned linearly: turn.max_permissions and turn.max_channels are 16 by
 * default. Their limits cost copy time (a change copies the object), not lookup time for
 * the common case of one or two entries.
 *
 * Per-allocation traffic counters: one array of max_allocations struct sn_turn_counters per
 * reader lcore, written by that lcore only with plain stores; the writer sums them (minus a
 * baseline taken when the id was last (re)created) for DUMP_ENTRY.
 *
 * Command semantics (TABLE_CMD, common/sn_channel.h):
 *   ALLOC ADD   creates or replaces an allocation; replacing keeps its permissions and
 *               channels (a Refresh is an ADD with a new expiry). A client 5-tuple or a relay
 *               port held by another id: -EEXIST.
 *   ALLOC DEL   removes the allocation with its permissions and channels.
 *   ALLOC CLEAR removes every allocation (so every permission and channel).
 *   PERM/CHANNEL ADD  adds or replaces one entry of an existing allocation (-ENOENT when
 *               there is none); more than max_permissions/max_channels: -ENOSPC. A channel
 *               whose peer address is already bound to another channel number: -EEXIST.
 *   PERM/CHANNEL DEL  removes one entry (-ENOENT when absent).
 *   PERM/CHANNEL CLEAR  removes every permission / channel of every allocation.
 * Bad keys or values: -EINVAL (alloc id >= max_allocations, family not AF_INET/AF_INET6,
 * relay ports outside the range or none, a relay port of a family the port has no address
 * of, flags not zero, port_idx >= n_ports, client.dst not the port's own address of the
 * client's family, channel number outside the range, peer port 0). A failed command changes
 * nothing. Changes are visible to readers as soon as the call returns (each is a few pointer
 * stores), so "publish" only hands the retired versions over for freeing. */
#ifndef SN_TURN_TABLE_H
#define SN_TURN_TABLE_H

#ifndef _LGPL_SOURCE
#define _LGPL_SOURCE /* inline QSBR read side */
#endif
#include <urcu-qsbr.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "sn_channel.h"

/* One permission: a peer IP (RFC 8656 §9: permissions ignore the port). */
struct sn_turn_perm {
	uint64_t expires_ns; /* CLOCK_REALTIME ns; expired when now >= expires_ns */
	uint8_t family;	     /* AF_INET or AF_INET6 */
	uint8_t pad[7];
	uint8_t peer[16]; /* network order; IPv4 in the first 4 bytes, the rest zero */
};
_Static_assert(sizeof(struct sn_turn_perm) == 32, "permission is 32 bytes");

/* One channel binding: number <-> peer transport address. */
struct sn_turn_chan {
	uint64_t expires_ns; /* CLOCK_REALTIME ns */
	uint16_t number;     /* host order, 0x4000-0x4FFF (0x7FFF with RFC 5766 channels) */
	uint16_t peer_port;  /* network order */
	uint8_t family;	     /* AF_INET or AF_INET6 */
	uint8_t pad[3];
	uint8_t peer[16]; /* network order; IPv4 in the first 4 bytes, the rest zero */
};
_Static_assert(sizeof(struct sn_turn_chan) == 32, "channel is 32 bytes");

/* One version of an allocation. Immutable once published, except `next`. The permissions
 * come first in perm[], the channels right after them (sn_turn_alloc_chans()). */
struct sn_turn_alloc {
	struct sn_turn_alloc *next; /* client-hash chain (RCU; the writer updates it) */
	uint32_t id;		    /* control's alloc_id */
	uint32_t hash;		    /* client-key hash (writer: finds the chain again) */
	uint64_t expires_ns;	    /* CLOCK_REALTIME ns */
	uint8_t family;		    /* client's family: AF_INET or AF_INET6 */
	uint8_t pad;
	uint16_t port_idx;	    /* appliance port (config order) */
	uint16_t client_port;	    /* network order */
	uint16_t server_port;	    /* network order: the TURN port the client talks to */
	uint16_t relay_port4;	    /* host order; 0: no IPv4 relayed address */
	uint16_t relay_port6;	    /* host order; 0: no IPv6 relayed address */
	uint16_t n_perms;	    /* entries in perm[] */
	uint16_t n_chans;	    /* entries after them (struct sn_turn_chan) */
	uint8_t client_ip[16];	    /* network order; IPv4 in the first 4 bytes, rest zero.
				     * The server address is the port's own address of the
				     * client's family (checked on ADD), so it is not stored. */
	struct sn_turn_perm perm[]; /* n_perms permissions, then n_chans channels */
};
_Static_assert(sizeof(struct sn_turn_alloc) == 56, "allocation header is 56 bytes");
_Static_assert(sizeof(struct sn_turn_chan) == sizeof(struct sn_turn_perm),
	       "channels follow permissions without padding");

/* Traffic of one allocation as seen by one lcore (application data bytes). */
struct sn_turn_counters {
	uint64_t to_peer_packets;
	uint64_t to_peer_bytes;
	uint64_t to_client_packets;
	uint64_t to_client_bytes;
};

/* The appliance's addresses on one port: the server address of allocations on the port and
 * the address part of their relayed transport addresses. */
struct sn_turn_port_addr {
	bool has_ipv4;
	bool has_ipv6;
	uint8_t ipv4[4]; /* network order */
	uint8_t ipv6[16];
};

struct sn_turn_table_params {
	uint32_t max_allocations; /* ids are below this */
	uint16_t max_permissions; /* per allocation, 1..65535 */
	uint16_t max_channels;	  /* per allocation, 1..65535 */
	uint16_t relay_port_min;  /* relay ports are in [min, max] (host order) */
	uint16_t relay_port_max;
	uint16_t n_ports; /* appliance ports (port_idx below this), 1..SN_TURN_MAX_PORTS */
	const struct sn_turn_port_addr *ports; /* [n_ports], copied */
	uint16_t n_lcores;     /* reader lcores with a counter row (index below this) */
	bool rfc5766_channels; /* channel numbers up to 0x7FFF */
	uint32_t seed;	       /* client-hash seed (random at start) */
};

#define SN_TURN_MAX_PORTS 8

/* Objects retired by the writer since the last take, freed together. */
struct sn_turn_retired {
	uint32_t n;
	uint32_t cap;
	void *obj[];
};

struct sn_turn_table {
	struct sn_turn_table_params p;
	struct sn_turn_port_addr port[SN_TURN_MAX_PORTS]; /* copy of p.ports */
	uint32_t bucket_mask;				  /* buckets - 1 */
	uint32_t relay_span;				  /* relay_port_max - relay_port_min + 1 */
	struct sn_turn_alloc **by_id;			  /* [max_allocations] */
	struct sn_turn_alloc **bucket;			  /* [bucket_mask + 1] chain heads */
	struct sn_turn_alloc **by_relay; /* [(port_idx * 2 + is_ipv6) * relay_span + port - min] */
	struct sn_turn_counters **ctr;	 /* [n_lcores] rows of [max_allocations] */
	struct sn_turn_counters *base;	 /* [max_allocations] sums when the id was created */
	uint32_t n_allocs;		 /* allocations in the table */
	uint32_t n_perms;		 /* permissions over every allocation */
	uint32_t n_chans;		 /* channels over every allocation */
	uint32_t pad;
	struct sn_turn_retired *retired; /* old versions waiting for a grace period */
	uint64_t versions;		 /* objects published (counter) */
	size_t obj_bytes;		 /* heap bytes held by current objects (usable size) */
};

/* --- setup (writer) --- */

/* Allocates the indexes and counter rows. Returns 0, -EINVAL (bad params) or -ENOMEM. */
int sn_turn_table_init(struct sn_turn_table *t, const struct sn_turn_table_params *p);
/* Frees everything, retired objects included. No reader may be using the table. */
void sn_turn_table_fini(struct sn_turn_table *t);

/* --- commands (writer) --- */

int sn_turn_alloc_put(struct sn_turn_table *t, uint32_t id, const struct sn_turn_alloc_value *v);
int sn_turn_alloc_del(struct sn_turn_table *t, uint32_t id);
int sn_turn_alloc_clear(struct sn_turn_table *t);
int sn_turn_perm_put(struct sn_turn_table *t, const struct sn_turn_perm_key *k,
		     const struct sn_turn_perm_value *v);
int sn_turn_perm_del(struct sn_turn_table *t, const struct sn_turn_perm_key *k);
int sn_turn_perm_clear(struct sn_turn_table *t);
int sn_turn_chan_put(struct sn_turn_table *t, const struct sn_turn_channel_key *k,
		     const struct sn_turn_channel_value *v);
int sn_turn_chan_del(struct sn_turn_table *t, const struct sn_turn_channel_key *k);
int sn_turn_chan_clear(struct sn_turn_table *t);

/* Hands over what was retired since the last call (NULL when nothing was): the caller frees
 * it with sn_turn_retired_free after a grace period (e.g. dataplane sn_rcu_retire). */
struct sn_turn_retired *sn_turn_table_take_retired(struct sn_turn_table *t);
void sn_turn_retired_free(void *retired);
/* Standalone use (tests, bench): synchronize_rcu() then frees what was retired. The caller
 * must not be an online QSBR reader. Returns how many objects were freed. */
uint32_t sn_turn_table_reclaim(struct sn_turn_table *t);

/* --- dump (writer) --- */

/* The value as control sent it, plus the traffic counters summed over lcores. */
void sn_turn_alloc_value_of(const struct sn_turn_table *t, const struct sn_turn_alloc *a,
			    struct sn_turn_alloc_value *v);
/* Traffic of allocation `id` since it was created (sum over lcores minus the baseline). */
void sn_turn_alloc_traffic(const struct sn_turn_table *t, uint32_t id,
			   struct sn_turn_counters *out);
/* Heap bytes of one allocation object as malloc gives them (usable size). */
size_t sn_turn_alloc_footprint(const struct sn_turn_alloc *a);

/* --- readers (workers; also the writer) --- */

static inline const struct sn_turn_chan *sn_turn_alloc_chans(const struct sn_turn_alloc *a)
{
	return (const struct sn_turn_chan *)(const void *)&a->perm[a->n_perms];
}

static inline bool sn_turn_ip_eq(uint8_t family, const uint8_t *a, const uint8_t *b)
{
	if (family == AF_INET)
		return memcmp(a, b, 4) == 0;
	return memcmp(a, b, 16) == 0;
}

static inline uint32_t sn_turn_rotl32(uint32_t x, unsigned r)
{
	return (x << r) | (x >> (32 - r));
}

static inline uint32_t sn_turn_mix(uint32_t h, uint32_t k)
{
	k *= 0xcc9e2d51u;
	k = sn_turn_rotl32(k, 15);
	k *= 0x1b873593u;
	h ^= k;
	h = sn_turn_rotl32(h, 13);
	return h * 5 + 0xe6546b64u;
}

/* Seeded murmur3-style hash of the client key (ports in network order). */
static inline uint32_t sn_turn_client_hash(uint32_t seed, uint8_t family, const uint8_t *ip,
					   uint16_t port, uint16_t server_port)
{
	uint32_t h = seed ^ family, w;
	unsigned n = family == AF_INET ? 1 : 4;
	for (unsigned i = 0; i < n; i++) {
		memcpy(&w, ip + 4 * i, 4);
		h = sn_turn_mix(h, w);
	}
	h = sn_turn_mix(h, (uint32_t)port << 16 | server_port);
	h ^= (uint32_t)(n * 4 + 4);
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* As sn_turn_lookup_client, with h = sn_turn_client_hash() of the key already computed
 * (the fast path's prefetch stage computed it to find the bucket). */
static inline const struct sn_turn_alloc *
sn_turn_lookup_client_hashed(const struct sn_turn_table *t, uint32_t h, uint8_t family,
			     const uint8_t *ip, uint16_t port, uint16_t server_port)
{
	const struct sn_turn_alloc *a = rcu_dereference(t->bucket[h & t->bucket_mask]);
	for (; a; a = rcu_dereference(a->next)) {
		if (a->hash == h && a->family == family && a->client_port == port &&
		    a->server_port == server_port && sn_turn_ip_eq(family, a->client_ip, ip))
			return a;
	}
	return NULL;
}

/* Allocation by client 5-tuple: family, client IP and port, server (TURN) port. */
static inline const struct sn_turn_alloc *sn_turn_lookup_client(const struct sn_turn_table *t,
								uint8_t family, const uint8_t *ip,
								uint16_t port, uint16_t server_port)
{
	return sn_turn_lookup_client_hashed(
	    t, sn_turn_client_hash(t->p.seed, family, ip, port, server_port), family, ip, port,
	    server_port);
}

/* Allocation by relayed transport address: port, family, relay port (host order). */
static inline const struct sn_turn_alloc *sn_turn_lookup_relay(const struct sn_turn_table *t,
							       uint16_t port_idx, uint8_t family,
							       uint16_t relay_port)
{
	uint32_t off = (uint32_t)(uint16_t)(relay_port - t->p.relay_port_min);
	if (off >= t->relay_span || port_idx >= t->p.n_ports)
		return NULL;
	uint32_t slot = ((uint32_t)port_idx * 2 + (family == AF_INET6)) * t->relay_span + off;
	return rcu_dereference(t->by_relay[slot]);
}

static inline const struct sn_turn_alloc *sn_turn_lookup_id(const struct sn_turn_table *t,
							    uint32_t id)
{
	if (id >= t->p.max_allocations)
		return NULL;
	return rcu_dereference(t->by_id[id]);
}

/* Permission of an allocation for a peer IP, or NULL (expiry is the caller's check). */
static inline const struct sn_turn_perm *sn_turn_perm_find(const struct sn_turn_alloc *a,
							   uint8_t family, const uint8_t *ip)
{
	for (uint16_t i = 0; i < a->n_perms; i++) {
		const struct sn_turn_perm *p = &a->perm[i];
		if (p->family == family && sn_turn_ip_eq(family, p->peer, ip))
			return p;
	}
	return NULL;
}

/* Channel by number, or NULL. */
static inline const struct sn_turn_chan *sn_turn_chan_find(const struct sn_turn_alloc *a,
							   uint16_t number)
{
	const struct sn_turn_chan *c = sn_turn_alloc_chans(a);
	for (uint16_t i = 0; i < a->n_chans; i++) {
		if (c[i].number == number)
			return &c[i];
	}
	return NULL;
}

/* Channel bound to a peer transport address (port in network order), or NULL. */
static inline const struct sn_turn_chan *sn_turn_chan_find_peer(const struct sn_turn_alloc *a,
								uint8_t family, const uint8_t *ip,
								uint16_t port)
{
	const struct sn_turn_chan *c = sn_turn_alloc_chans(a);
	for (uint16_t i = 0; i < a->n_chans; i++) {
		if (c[i].peer_port == port && c[i].family == family &&
		    sn_turn_ip_eq(family, c[i].peer, ip))
			return &c[i];
	}
	return NULL;
}

/* This lcore's counters of allocation `id` (lcore < n_lcores, id < max_allocations). */
static inline struct sn_turn_counters *sn_turn_ctr(const struct sn_turn_table *t, uint16_t lcore,
						   uint32_t id)
{
	return &t->ctr[lcore][id];
}

#endif
