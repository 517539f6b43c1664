/* routing.h: the XOR routing table (Kademlia k-buckets, as OpenDHT 2.4.12 keeps them) and
 * the immutable snapshot the fast path answers `find` from.
 *
 * Table (writer side, one per address family, like OpenDHT's dht4/dht6): an ordered list of
 * buckets that partition the 160-bit id space; bucket i covers every id sharing its first
 * `depth` bits with `first`. Each bucket holds up to SN_RT_K nodes plus one cached
 * replacement. Insertion follows OpenDHT's RoutingTable::onNewNode:
 *   - a known id is refreshed in place (its address moves only when the node itself spoke);
 *   - a bucket with room takes the node;
 *   - a full bucket first replaces an expired node;
 *   - else, if it is the bucket holding our own id and it has no dubious node (or it is the
 *     only bucket), it splits in two and the insertion is retried;
 *   - else the node becomes the bucket's cached replacement and the caller is told which
 *     dubious node to ping (a reply makes it good, silence expires it).
 * Nothing here allocates after sn_rt_init(); the table is plain memory owned by the caller.
 *
 * Snapshot (reader side): sn_rt_snapshot_build() copies the good nodes of both tables into
 * one malloc'ed block: per family a flat array of wire-format compact entries (id, address,
 * port: 26 bytes for IPv4, 38 for IPv6, as they go into n4/n6), sorted by id. It is never
 * written after it is built, so the dataplane publishes it with rcu_assign_pointer() and
 * frees the old one with sn_rt_snapshot_free() after a QSBR grace period. Workers call
 * sn_rt_closest_k() on it: no allocation, no lock, O(k log n) using the sorted order (the
 * nodes sharing a prefix with the target form one contiguous run), started from a prefix
 * index built with the snapshot (at most 4 * (2^12 + 1) bytes per family).
 */
#ifndef SN_ROUTING_H
#define SN_ROUTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "node_id.h"

#define SN_RT_K		  8			/* bucket size, OpenDHT's TARGET_NODES */
#define SN_RT_MAX_BUCKETS (SN_NODE_ID_BITS + 1) /* every split adds one */
#define SN_RT_MAX_FAILS	  3 /* unanswered requests in a row after which a node is expired */
/* A node is good when it replied within SN_RT_GOOD_REPLY_NS and was heard from within
 * SN_RT_GOOD_SEEN_NS (OpenDHT's NODE_GOOD_TIME and NODE_EXPIRE_TIME). */
#define SN_RT_GOOD_REPLY_NS (120ull * 60 * 1000000000ull)
#define SN_RT_GOOD_SEEN_NS  (10ull * 60 * 1000000000ull)

#define SN_RT_COMPACT4_LEN 26 /* id, IPv4 address, port */
#define SN_RT_COMPACT6_LEN 38 /* id, IPv6 address, port */

struct sn_rt_node {
	struct sn_node_id id;
	struct sn_node_addr addr; /* where it answers */
	uint8_t failed;		  /* requests in a row it left unanswered */
	uint8_t pad[7];
	uint64_t last_seen_ns;	/* last message of any kind from it; 0: never */
	uint64_t last_reply_ns; /* last reply to one of our requests; 0: never */
};

struct sn_rt_bucket {
	struct sn_node_id first; /* lowest id it covers; bits from `depth` on are zero */
	uint8_t depth;		 /* prefix length shared by the ids it covers (0..160) */
	uint8_t count;		 /* nodes in use at the front of nodes[] */
	bool has_cached;	 /* cached holds a replacement candidate */
	uint8_t pad[5];
	uint64_t changed_ns; /* last time one of its nodes replied: drives bucket refresh */
	struct sn_rt_node nodes[SN_RT_K];
	struct sn_rt_node cached;
};

struct sn_rt {
	int family;		/* AF_INET or AF_INET6: every node in it has that family */
	struct sn_node_id self; /* our id; decides which bucket may split */
	unsigned n_buckets;	/* buckets in use, ordered by first */
	unsigned n_nodes;	/* nodes over all buckets (cached ones not counted) */
	struct sn_rt_bucket buckets[SN_RT_MAX_BUCKETS];
};

/* How a message or a node list told us about a node. */
enum sn_rt_event {
	SN_RT_LEARNED = 0, /* listed in another node's n4/n6: unverified */
	SN_RT_HEARD = 1,   /* it sent us a query */
	SN_RT_REPLIED = 2, /* it answered one of our requests */
};

/* What sn_rt_update() did. */
enum sn_rt_result {
	SN_RT_UPDATED = 0, /* already in the table; times refreshed */
	SN_RT_ADDED,	   /* put into a bucket with room (after splits, if any) */
	SN_RT_REPLACED,	   /* took the place of an expired node */
	SN_RT_CACHED,	   /* bucket full: kept as its replacement candidate */
	SN_RT_SELF,	   /* our own id: ignored */
};

/* Initialises an empty table (one bucket covering everything). Returns 0 or -EINVAL. */
int sn_rt_init(struct sn_rt *rt, int family, const struct sn_node_id *self);

/* OpenDHT's isMartian(): port 0; IPv4 0.0.0.0/8 or 224.0.0.0/3; IPv6 multicast, link-local
 * fe80::/10, :: and ::ffff:0:0/96. Loopback is accepted, as OpenDHT does. */
bool sn_rt_addr_martian(const struct sn_node_addr *addr);

/* Good: not expired, replied recently, heard from recently (see SN_RT_GOOD_*). */
bool sn_rt_node_good(const struct sn_rt_node *n, uint64_t now_ns);
bool sn_rt_node_expired(const struct sn_rt_node *n);

/* Adds or refreshes a node. ping_out (optional) receives the dubious node to ping when the
 * result is SN_RT_CACHED and such a node exists (*has_ping set accordingly).
 * Returns enum sn_rt_result, or -EINVAL (zero id, family mismatch), -EADDRNOTAVAIL (martian
 * address). */
int sn_rt_update(struct sn_rt *rt, const struct sn_node_id *id, const struct sn_node_addr *addr,
		 enum sn_rt_event ev, uint64_t now_ns, struct sn_rt_node *ping_out, bool *has_ping);

/* A request to id went unanswered. Returns the new failure count or -ENOENT. */
int sn_rt_failed(struct sn_rt *rt, const struct sn_node_id *id);

/* Removes id; the bucket's cached replacement, if any, takes its place. 0 or -ENOENT. */
int sn_rt_remove(struct sn_rt *rt, const struct sn_node_id *id);

/* The node with that id, or NULL. */
const struct sn_rt_node *sn_rt_find(const struct sn_rt *rt, const struct sn_node_id *id);

/* Index of the bucket covering id. */
unsigned sn_rt_bucket_index(const struct sn_rt *rt, const struct sn_node_id *id);

/* A random id inside bucket i (for bucket refresh): the bucket's prefix followed by bits
 * from random. */
void sn_rt_random_id(const struct sn_rt *rt, unsigned i, const struct sn_node_id *random,
		     struct sn_node_id *out);

/* Good nodes in the table at now_ns. */
unsigned sn_rt_good_count(const struct sn_rt *rt, uint64_t now_ns);

/* --- snapshot --- */

struct sn_rt_snapshot {
	uint64_t generation;	/* caller's sequence number, for logs and metrics */
	uint64_t built_ns;	/* the `now` it was built with */
	uint32_t count[2];	/* entries: [0] IPv4, [1] IPv6 */
	uint8_t prefix_bits[2]; /* B per family: 0 (no index) or floor(log2(count)), max 12 */
	uint8_t pad[6];
	const uint8_t *entries[2]; /* compact entries sorted by id, inside data[] */
	/* Per family, 2^B + 1 entries inside data[] (NULL when B is 0): prefix_start[p] is the
	 * index of the first entry whose first B id bits are >= p, so the entries with prefix
	 * p are [prefix_start[p], prefix_start[p + 1]). Lets sn_rt_closest_k() start at the
	 * target's run instead of splitting the whole table. */
	const uint32_t *prefix_start[2];
	uint8_t data[];
};

/* Index into count[]/entries[] for a family, or -1. */
static inline int sn_rt_family_index(int family)
{
	return family == AF_INET ? 0 : family == AF_INET6 ? 1 : -1;
}

/* Builds a snapshot of the good nodes of rt4 and rt6 (either may be NULL). NULL when out
 * of memory. */
struct sn_rt_snapshot *sn_rt_snapshot_build(const struct sn_rt *rt4, const struct sn_rt *rt6,
					    uint64_t now_ns, uint64_t generation);

/* Builds a snapshot of exactly the given nodes (any mix of families; other families and
 * repeated ids are left out). For control-fed tables and tests. NULL when out of memory. */
struct sn_rt_snapshot *sn_rt_snapshot_from_nodes(const struct sn_rt_node *nodes, size_t n,
						 uint64_t now_ns, uint64_t generation);

/* Frees a snapshot; with RCU, only after a grace period. NULL is fine. */
void sn_rt_snapshot_free(struct sn_rt_snapshot *s);

/* Bytes of one compact entry for a family (26/38), 0 for others. */
unsigned sn_rt_compact_len(int family);

/* The up to k entries of family closest to target by XOR distance, closest first, as
 * pointers to compact entries in the snapshot (valid while the snapshot is). Returns how
 * many were written to out[] (at most k). s may be NULL (empty). */
unsigned sn_rt_closest_k(const struct sn_rt_snapshot *s, const struct sn_node_id *target,
			 int family, unsigned k, const uint8_t **out);

#endif
