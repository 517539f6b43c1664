/* guard.h: per-source policing on the workers, before any parsing (issue 5).
 *
 * Every UDP datagram that costs the appliance work (DHT queries, STUN/TURN requests,
 * punts) passes sn_guard_check() first, right after the dispatch lookup. Media is never
 * policed here: ChannelData, Send indications and datagrams to relayed transport addresses
 * are checked by the TURN allocation table instead.
 *
 * State: each worker owns one sn_guard (no sharing, no atomics). RSS hashes on IP
 * addresses only (main.c), and the destination is one of the appliance's few addresses, so
 * a source always meets the same worker and its buckets live in one place.
 *
 * Table: a fixed array of SN_GUARD_WAYS-way sets (set = hash of key, 8 entries = 512 bytes,
 * eight cache lines), allocated once; nothing grows with traffic. Two kinds of keys share
 * it: a full source address, and its prefix (/24 for IPv4, /64 for IPv6). Each entry holds
 * one GCRA bucket (theoretical arrival time) per class. A new key takes a free way, or
 * evicts the way whose buckets are all refilled (every tat <= now: forgetting it loses
 * nothing, a new entry would start the same), the one idle longest first. When every way
 * of the set still owes time, evicting would forgive a source its debt, so the packet is
 * policed instead by the worker's aggregate bucket for unknown sources. Spoofed sources
 * thus cannot push a heavy source out of the table, and they cannot exhaust it: a one-packet
 * source owes one interval and is evictable right after.
 *
 * Bans and suspect marks come from control (SN_TABLE_GUARD, an RCU snapshot written by
 * the main lcore): a banned source or prefix is dropped before anything else; a suspect one
 * is policed with its class limits divided by guard.suspect_factor.
 *
 * Heavy hitters: every policed drop goes into a space-saving top-k (guard.top_k keys,
 * counts are upper bounds with the error of the key they replaced); every guard.report_ms
 * the worker publishes it under a sequence number (seqlock) and starts over; the main lcore
 * sends it to control as SN_MSG_GUARD_REPORT.
 *
 * No DPDK header: unit tests drive this with plain timestamps. */
#ifndef SN_GUARD_H
#define SN_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sn_channel.h"
#include "sn_config.h"
#include "sn_stats.h"
#include "tables.h"

#define SN_GUARD_WAYS	  8
#define SN_GUARD_MAX_TOPK 64

/* What a datagram costs: each class has its own buckets. */
enum sn_guard_class {
	SN_GUARD_DHT = 0,  /* OpenDHT query (DHT port) */
	SN_GUARD_STUN = 1, /* STUN/TURN request on the TURN port (not ChannelData, not Send) */
	SN_GUARD_PUNT = 2, /* datagram for a port control serves (punt, echo) */
	SN_GUARD_CLASS_MAX = 3,
};

enum sn_guard_kind {
	SN_GUARD_KEY_SOURCE = 0, /* full address */
	SN_GUARD_KEY_PREFIX = 1, /* /24 or /64 */
	SN_GUARD_KIND_MAX = 2,
};

/* One policed key. */
struct sn_guard_entry {
	uint8_t addr[16]; /* address or prefix, host bits zero; IPv4 first 4 */
	uint8_t family;	  /* 0: free slot; AF_INET or AF_INET6 */
	uint8_t kind;	  /* enum sn_guard_kind */
	uint16_t pad;
	uint32_t drops;			  /* drops charged to this key (wraps) */
	uint64_t last;			  /* TSC of the last packet */
	uint64_t tat[SN_GUARD_CLASS_MAX]; /* GCRA theoretical arrival time per class */
	uint64_t pad2;
};
_Static_assert(sizeof(struct sn_guard_entry) <= 64, "issue 7: at most 64 bytes per source");

/* GCRA parameters in TSC cycles: interval = hz / rate, tolerance = interval * burst. */
struct sn_guard_rate {
	uint64_t interval;
	uint64_t tolerance;
};

/* Everything sn_guard_check needs besides the worker's state; shared read-only. */
struct sn_guard_params {
	bool enabled;
	struct sn_guard_rate rate[SN_GUARD_KIND_MAX][SN_GUARD_CLASS_MAX];
	struct sn_guard_rate suspect[SN_GUARD_KIND_MAX][SN_GUARD_CLASS_MAX]; /* rate / factor */
	struct sn_guard_rate aggregate[SN_GUARD_CLASS_MAX]; /* unknown sources, table full */
	struct sn_guard_rate punt_all;			    /* all punts of a worker (worker.c) */
	uint64_t report_tsc;				    /* top-k publishing period */
	uint16_t top_k;					    /* keys in the heavy-hitter sketch */
};

/* Builds params from cfg->guard for a TSC of hz. */
void sn_guard_params_init(struct sn_guard_params *p, const struct sn_guard_config *cfg,
			  uint64_t hz);

/* --- ban / suspect table (SN_TABLE_GUARD), written by the main lcore --- */

struct sn_guard_ban {
	uint8_t family; /* 0: free slot */
	uint8_t plen;	/* prefix length */
	uint8_t action; /* enum sn_guard_action */
	uint8_t pad[5];
	uint8_t addr[16];     /* host bits zero */
	uint64_t expires_tsc; /* worker clock; expired entries are ignored */
	uint64_t expires_ns;  /* CLOCK_REALTIME, as control sent it */
};

struct sn_guard_ban_snap {
	uint32_t mask;	      /* slots - 1; open addressing, linear probing */
	uint32_t entries;     /* unexpired or not, as held */
	uint8_t n_lens[2];    /* [0] IPv4, [1] IPv6: distinct prefix lengths held */
	uint8_t lens[2][129]; /* those lengths, longest first */
	struct sn_guard_ban slot[];
};

/* The writer keeps the entries in a flat list and rebuilds the snapshot on publish. */
struct sn_guard_bans {
	struct sn_guard_ban_snap *current; /* read by workers via rcu_dereference */
	struct sn_guard_ban *list;	   /* writer's entries */
	uint32_t n, cap;		   /* cap: guard.max_bans */
	bool dirty;
};

int sn_guard_bans_init(struct sn_guard_bans *b, uint32_t cap);
void sn_guard_bans_fini(struct sn_guard_bans *b);
/* Applies one TABLE_CMD to the list; expires_tsc = now_tsc + (expires_ns - now_ns) in
 * cycles of hz. Returns 0, -EINVAL (bad key/value), -ENOENT (DEL of a missing key) or
 * -ENOSPC. */
int sn_guard_bans_apply(struct sn_guard_bans *b, uint8_t op, const struct sn_guard_key *key,
			const struct sn_guard_value *val, uint64_t now_ns, uint64_t now_tsc,
			uint64_t hz);
/* Builds and publishes a new snapshot if anything changed; old one retired to w. Returns 0
 * or -ENOMEM (the old snapshot stays). */
int sn_guard_bans_publish(struct sn_guard_bans *b, struct sn_rcu_writer *w);
/* The strongest unexpired entry covering addr (ban over suspect), or NULL. */
const struct sn_guard_ban *sn_guard_ban_lookup(const struct sn_guard_ban_snap *s, uint8_t family,
					       const uint8_t *addr, uint64_t now);

/* --- per-worker state --- */

struct sn_guard {
	struct sn_guard_entry *sets; /* n_sets * SN_GUARD_WAYS */
	uint32_t set_mask;	     /* n_sets - 1 */
	uint64_t seed;		     /* secret hash seed (getrandom) */
	uint32_t entries;	     /* ways in use (gauge) */
	uint64_t evictions;	     /* idle entries replaced */
	uint64_t full;		     /* packets sent to the aggregate bucket */
	uint64_t reports;	     /* intervals published */
	uint64_t agg_tat[SN_GUARD_CLASS_MAX];
	/* heavy hitters of the current interval (space-saving) */
	uint64_t report_end; /* TSC when the interval ends; 0: start at the first packet */
	uint16_t n_top;
	uint64_t interval_drops;
	struct sn_guard_report_entry top[SN_GUARD_MAX_TOPK];
	/* last finished interval, published for the main lcore (seqlock: odd while written) */
	uint32_t pub_seq;
	uint16_t pub_n;
	uint64_t pub_drops;
	uint64_t pub_end; /* TSC of the interval's end */
	struct sn_guard_report_entry pub[SN_GUARD_MAX_TOPK];
};

/* capacity: entries, rounded up to a power of 2 of at least SN_GUARD_WAYS. Returns 0 or
 * -ENOMEM. The memory is calloc'd once: table bytes = capacity * sizeof(entry). */
int sn_guard_init(struct sn_guard *g, uint32_t capacity);
void sn_guard_fini(struct sn_guard *g);
static inline uint64_t sn_guard_table_bytes(const struct sn_guard *g)
{
	return (uint64_t)(g->set_mask + 1) * SN_GUARD_WAYS * sizeof(struct sn_guard_entry);
}

/* Decides one datagram from src (IPv4 in the first 4 bytes) of class c at TSC now.
 * Returns SN_DROP_MAX to let it through, else the drop reason (guard_banned,
 * guard_source, guard_prefix, guard_aggregate); the caller counts and frees. */
unsigned sn_guard_check(struct sn_guard *g, const struct sn_guard_params *p,
			const struct sn_guard_ban_snap *bans, uint8_t family, const uint8_t *src,
			enum sn_guard_class c, uint64_t now);

/* Publishes the interval's heavy hitters if it ended (the worker calls it once per poll
 * round). */
void sn_guard_tick(struct sn_guard *g, const struct sn_guard_params *p, uint64_t now);

/* Main lcore: copies worker g's last published report if its seq differs from *seen.
 * Returns the number of entries copied (0: nothing new or a write in progress). */
uint16_t sn_guard_collect(const struct sn_guard *g, uint32_t *seen,
			  struct sn_guard_report_entry *out, uint64_t *drops);

#endif
