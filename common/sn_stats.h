/* sn_stats.h: the stats segment, a shared-memory file the dataplane writes and control reads.
 *
 * Modelled on VPP's stats segment: one fixed layout, counters per lcore, each block written
 * by exactly one thread with plain stores (no atomics, no locks on the hot path), cache-line
 * aligned so that two lcores never share a line. Readers (supernode-control for /metrics,
 * supernodectl) map the file read-only and sum over lcores.
 *
 * Consistency: per-lcore counters are monotonic 64-bit values, so a reader needs no lock
 * to read them (an aligned 64-bit load is whole on the CPUs we run on). The gauges and port
 * block that the main lcore rewrites as a group are guarded by `seq`: odd while being
 * written; a reader copies, re-reads seq and retries if it changed or was odd. `epoch` is
 * the dataplane's start time; a reader that sees it change knows the counters restarted.
 *
 * The file lives at <runtime_dir>/stats. Its layout version and size are in the header;
 * a reader refuses a segment whose magic, version or size it does not know. */
#ifndef SN_STATS_H
#define SN_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SN_STATS_MAGIC	    0x31544154534e5355ull /* "USNSTAT1" */
#define SN_STATS_VERSION    1u
#define SN_STATS_MAX_LCORES 32
#define SN_STATS_MAX_PORTS  8
#define SN_STATS_FILE	    "stats"
#define SN_STATS_CACHE_LINE 64

/* Per-lcore event counters: enum name, metric suffix (supernode_dataplane_<suffix>_total),
 * help text. */
#define SN_LCORE_COUNTERS(X)                                                                       \
	X(RX_PACKETS, "rx_packets", "Packets received by the lcore")                               \
	X(RX_BYTES, "rx_bytes", "Bytes received by the lcore")                                     \
	X(TX_PACKETS, "tx_packets", "Packets sent by the lcore")                                   \
	X(TX_BYTES, "tx_bytes", "Bytes sent by the lcore")                                         \
	X(BUSY_POLLS, "busy_polls", "Poll rounds that received at least one packet")               \
	X(IDLE_POLLS, "idle_polls", "Poll rounds that received nothing")                           \
	X(IDLE_SLEEPS, "idle_sleeps", "Times the lcore slept after a run of empty polls")          \
	X(ARP_REPLIES, "arp_replies", "ARP requests for an appliance address answered")            \
	X(ND_ADVERTS, "nd_adverts", "IPv6 neighbour solicitations answered")                       \
	X(ICMP_ECHO_REPLIES, "icmp_echo_replies", "ICMP echo requests answered")                   \
	X(ICMP6_ECHO_REPLIES, "icmp6_echo_replies", "ICMPv6 echo requests answered")               \
	X(UDP_DISPATCHED, "udp_dispatched", "UDP datagrams handed to a handler")                   \
	X(PUNTED, "punted", "Packets punted to control")                                           \
	X(INJECTED, "injected", "Datagrams from control sent by the lcore")                        \
	X(NEIGH_LEARNED, "neigh_learned", "Neighbour addresses learned from traffic")              \
	X(NEIGH_REQUESTS, "neigh_requests", "ARP/NS requests sent to resolve a next hop")          \
	X(DHT_PING_ANSWERS, "dht_ping_answers", "OpenDHT pings answered by the fast path")         \
	X(DHT_FIND_ANSWERS, "dht_find_answers", "OpenDHT finds answered by the fast path")         \
	X(TURN_BINDING_ANSWERS, "turn_binding_answers",                                            \
	  "STUN Binding requests answered by the fast path")                                       \
	X(TURN_TO_PEER_PACKETS, "turn_to_peer_packets",                                            \
	  "Datagrams relayed from TURN clients to peers")                                          \
	X(TURN_TO_PEER_BYTES, "turn_to_peer_bytes",                                                \
	  "Application bytes relayed from TURN clients to peers")                                  \
	X(TURN_TO_CLIENT_PACKETS, "turn_to_client_packets",                                        \
	  "Datagrams relayed from peers to TURN clients")                                          \
	X(TURN_TO_CLIENT_BYTES, "turn_to_client_bytes",                                            \
	  "Application bytes relayed from peers to TURN clients")                                  \
	X(TURN_CHANNELDATA_IN, "turn_channeldata_in",                                              \
	  "ChannelData messages from clients relayed to peers")                                    \
	X(TURN_SEND_INDICATIONS, "turn_send_indications",                                          \
	  "Send indications from clients relayed to peers")                                        \
	X(TURN_CHANNELDATA_OUT, "turn_channeldata_out",                                            \
	  "Peer datagrams sent to clients as ChannelData")                                         \
	X(TURN_DATA_INDICATIONS, "turn_data_indications",                                          \
	  "Peer datagrams sent to clients as Data indications")                                    \
	X(GUARD_EVICTIONS, "guard_evictions",                                                      \
	  "Idle guard policer entries replaced by new sources")                                    \
	X(GUARD_TABLE_FULL, "guard_table_full",                                                    \
	  "Packets policed by the guard's aggregate bucket: no room in the policer table")         \
	X(GUARD_REPORTS, "guard_reports", "Guard heavy-hitter reports published by the worker")

/* Why a packet was dropped: enum name, `reason` label. Every drop increments exactly one. */
#define SN_DROP_REASONS(X)                                                                         \
	X(RUNT, "runt")				    /* shorter than an Ethernet header */          \
	X(MULTI_SEGMENT, "multi_segment")	    /* frame spread over several mbufs */          \
	X(ETHERTYPE, "ethertype")		    /* not IPv4, IPv6 or ARP */                    \
	X(NOT_FOR_US_L2, "l2_not_for_us")	    /* unicast to another MAC */                   \
	X(ARP_MALFORMED, "arp_malformed")	    /* short or not Ethernet/IPv4 */               \
	X(ARP_NOT_FOR_US, "arp_not_for_us")	    /* asks for an address we do not hold */       \
	X(IPV4_TRUNCATED, "ipv4_truncated")	    /* shorter than its header claims */           \
	X(IPV4_VERSION, "ipv4_version")		    /* version field not 4 */                      \
	X(IPV4_HEADER_LENGTH, "ipv4_header_length") /* IHL < 5 or past the data */                 \
	X(IPV4_TOTAL_LENGTH, "ipv4_total_length")   /* total length inconsistent with frame */     \
	X(IPV4_CHECKSUM, "ipv4_checksum")	    /* header checksum wrong */                    \
	X(IPV4_FRAGMENT, "ipv4_fragment")	    /* fragments are not reassembled */            \
	X(IPV4_OPTIONS, "ipv4_options")		    /* options are not accepted */                 \
	X(IPV4_BAD_SOURCE, "ipv4_bad_source")	    /* multicast, broadcast, loopback, ours */     \
	X(IPV4_NOT_FOR_US, "ipv4_not_for_us")	    /* destination is not ours */                  \
	X(IPV4_TTL, "ipv4_ttl")			    /* TTL zero */                                 \
	X(IPV6_TRUNCATED, "ipv6_truncated")                                                        \
	X(IPV6_VERSION, "ipv6_version")                                                            \
	X(IPV6_PAYLOAD_LENGTH, "ipv6_payload_length")                                              \
	X(IPV6_EXT_HEADER, "ipv6_ext_header") /* extension headers incl. fragments */              \
	X(IPV6_BAD_SOURCE, "ipv6_bad_source")                                                      \
	X(IPV6_NOT_FOR_US, "ipv6_not_for_us")                                                      \
	X(IPV6_HOP_LIMIT, "ipv6_hop_limit")                                                        \
	X(PROTOCOL, "protocol")		    /* not ICMP/ICMPv6/UDP */                              \
	X(ICMP_MALFORMED, "icmp_malformed") /* short or bad checksum */                            \
	X(ICMP_TYPE, "icmp_type")	    /* not echo request (counted, ignored) */              \
	X(ICMP6_MALFORMED, "icmp6_malformed")                                                      \
	X(ICMP6_TYPE, "icmp6_type")                                                                \
	X(ND_MALFORMED, "nd_malformed") /* NS/NA fails RFC 4861 checks */                          \
	X(ND_NOT_FOR_US, "nd_not_for_us")                                                          \
	X(UDP_TRUNCATED, "udp_truncated")                                                          \
	X(UDP_LENGTH, "udp_length") /* UDP length inconsistent with IP */                          \
	X(UDP_CHECKSUM, "udp_checksum")                                                            \
	X(UDP_PORT_CLOSED, "udp_port_closed")	  /* no dispatch entry */                          \
	X(PUNT_POLICED, "punt_policed")		  /* over the punt rate for its reason/source */   \
	X(PUNT_RING_FULL, "punt_ring_full")	  /* main lcore behind */                          \
	X(PUNT_NO_CONTROL, "punt_no_control")	  /* no control connected */                       \
	X(PUNT_CHANNEL_FULL, "punt_channel_full") /* control's socket full */                      \
	X(TX_FULL, "tx_full")			  /* port tx queue full */                         \
	X(NO_MBUF, "no_mbuf")			  /* mempool empty when building a packet */       \
	X(NEIGH_UNRESOLVED, "neigh_unresolved")	  /* next hop MAC not known yet */                 \
	X(INJECT_INVALID, "inject_invalid")	  /* INJECT from control refused */                \
	X(HANDLER_UNAVAILABLE, "handler_unavailable") /* dispatch to a handler not built in */     \
	X(DHT_TRUNCATED, "dht_truncated")	  /* OpenDHT: value or length past the datagram */ \
	X(DHT_TOO_DEEP, "dht_too_deep")		  /* OpenDHT: nesting or map size over limits */   \
	X(DHT_MALFORMED, "dht_malformed")	  /* OpenDHT: not msgpack, or wrong types */       \
	X(DHT_WRONG_NETWORK, "dht_wrong_network") /* OpenDHT: n is not our network id */           \
	X(DHT_MARTIAN, "dht_martian_source")	  /* OpenDHT: source OpenDHT would not answer */   \
	X(DHT_SELF_ID, "dht_self_id")		  /* OpenDHT: sender claims our node id */         \
	X(DHT_REPLY_TOO_LARGE, "dht_reply_too_large") /* OpenDHT: answer did not fit (a bug) */    \
	X(TURN_DEMUX, "turn_demux")		    /* TURN port: neither STUN nor ChannelData */  \
	X(STUN_MALFORMED, "stun_malformed")	    /* TURN port: fails the STUN checks */         \
	X(STUN_UNEXPECTED, "stun_unexpected")	    /* a response, or an indication not for us */  \
	X(STUN_KEEPALIVE, "stun_keepalive")	    /* Binding indication: nothing to answer */    \
	X(CHANDATA_MALFORMED, "chandata_malformed") /* ChannelData length or channel number bad */ \
	X(TURN_NO_ALLOCATION, "turn_no_allocation") /* no allocation for the 5-tuple/relay port */ \
	X(TURN_NO_PERMISSION, "turn_no_permission") /* no permission for the peer IP */            \
	X(TURN_NO_CHANNEL, "turn_no_channel")	    /* ChannelData on an unbound channel */        \
	X(TURN_EXPIRED, "turn_expired")		/* allocation, permission or channel expired */    \
	X(TURN_PEER_FAMILY, "turn_peer_family") /* no relayed address of the peer's family */      \
	X(TURN_TOO_BIG, "turn_too_big")		/* relayed datagram over the port MTU */           \
	X(GUARD_BANNED, "guard_banned")		/* guard: source or prefix banned by control */    \
	X(GUARD_SUSPECT, "guard_suspect")	/* guard: over a suspect source's tighter limit */ \
	X(GUARD_SOURCE, "guard_source")	      /* guard: over the per-source limit of its class */  \
	X(GUARD_PREFIX, "guard_prefix")	      /* guard: over the /24 or /64 limit of its class */  \
	X(GUARD_AGGREGATE, "guard_aggregate") /* guard: table full, over the aggregate limit */

enum sn_lcore_counter {
#define SN_X_ENUM(name, suffix, help) SN_CTR_##name,
	SN_LCORE_COUNTERS(SN_X_ENUM)
#undef SN_X_ENUM
	    SN_CTR_MAX
};

enum sn_drop_reason {
#define SN_X_ENUM(name, label) SN_DROP_##name,
	SN_DROP_REASONS(SN_X_ENUM)
#undef SN_X_ENUM
	    SN_DROP_MAX
};

extern const char *const sn_lcore_counter_names[SN_CTR_MAX];
extern const char *const sn_lcore_counter_help[SN_CTR_MAX];
extern const char *const sn_drop_reason_names[SN_DROP_MAX];

/* Punt reasons count in the same block; sizes come from sn_channel.h. */
#include "sn_channel.h"

/* One lcore's counters; written only by that lcore. */
struct sn_stats_lcore {
	uint64_t counters[SN_CTR_MAX]; /* enum sn_lcore_counter */
	uint64_t drops[SN_DROP_MAX];   /* enum sn_drop_reason */
	uint64_t punts[SN_PUNT_MAX];   /* punted packets by enum sn_punt_reason */
	uint64_t poll_cycles_busy;     /* TSC cycles spent in rounds that got packets */
	uint64_t poll_cycles_total;    /* TSC cycles in the poll loop */
} __attribute__((aligned(SN_STATS_CACHE_LINE)));
_Static_assert(sizeof(struct sn_stats_lcore) % SN_STATS_CACHE_LINE == 0,
	       "lcore blocks must not share cache lines");

/* One port, copied from rte_eth_stats by the main lcore once a second. */
struct sn_stats_port {
	char name[32];	   /* the port's name from the config (metric label port) */
	uint64_t ipackets; /* rte_eth_stats fields */
	uint64_t opackets;
	uint64_t ibytes;
	uint64_t obytes;
	uint64_t imissed;
	uint64_t ierrors;
	uint64_t oerrors;
	uint64_t rx_nombuf;
	uint32_t link_up; /* 1 when the link is up */
	uint32_t link_speed_mbps;
};

/* Written by the main lcore only, under seq. */
struct sn_stats_gauges {
	uint64_t mempool_size;	     /* mbufs in the packet pool */
	uint64_t mempool_in_use;     /* mbufs allocated */
	uint64_t channel_connected;  /* 1 while a control is connected */
	uint64_t channel_connects;   /* controls accepted since start (counter) */
	uint64_t channel_rx_msgs;    /* messages received from control (counter) */
	uint64_t channel_tx_msgs;    /* messages sent to control (counter) */
	uint64_t channel_rx_errors;  /* malformed messages from control (counter) */
	uint64_t channel_tx_errors;  /* sends that failed, e.g. socket full (counter) */
	uint64_t table_cmds;	     /* table commands applied (counter) */
	uint64_t table_cmd_errors;   /* table commands refused (counter) */
	uint64_t rcu_grace_periods;  /* synchronize_rcu calls by the writer (counter) */
	uint64_t rcu_deferred_frees; /* old table versions freed after a grace period (counter) */
	uint64_t dispatch_entries;   /* entries in the UDP dispatch table */
	uint64_t neigh_entries;	     /* entries in the neighbour table */
	uint64_t punt_ring_used;     /* punted packets waiting for the main lcore */
	uint64_t guard_entries;	     /* guard policer entries in use, all workers */
	uint64_t guard_capacity;     /* guard policer entries allocated, all workers */
	uint64_t guard_table_bytes;  /* bytes of those tables */
	uint64_t guard_bans;	     /* bans and suspect marks in the dataplane's table */
};

struct sn_stats_segment {
	uint64_t magic;	       /* SN_STATS_MAGIC */
	uint32_t version;      /* SN_STATS_VERSION */
	uint32_t size;	       /* sizeof(struct sn_stats_segment) */
	uint64_t epoch;	       /* dataplane start, ns since the Unix epoch */
	uint64_t heartbeat_ns; /* main lcore's clock at its last update (every ~100 ms) */
	uint32_t pid;	       /* dataplane pid */
	uint32_t n_lcores;     /* lcores[] in use: workers, then the main lcore last */
	uint32_t n_ports;      /* ports[] in use */
	uint32_t pad;
	uint32_t lcore_ids[SN_STATS_MAX_LCORES]; /* DPDK lcore id of each lcores[] block */
	uint8_t lcore_is_worker[SN_STATS_MAX_LCORES];
	volatile uint64_t seq; /* odd while gauges/ports are being rewritten */
	struct sn_stats_gauges gauges;
	struct sn_stats_port ports[SN_STATS_MAX_PORTS];
	struct sn_stats_lcore lcores[SN_STATS_MAX_LCORES];
};

/* Writer side (dataplane): creates <dir>/stats with the layout, mapped read-write. */
struct sn_stats_segment *sn_stats_create(const char *dir);
/* Reader side: maps <dir>/stats read-only after checking magic, version and size.
 * Returns NULL with errno set (ENOENT: no dataplane has run; EPROTO: layout unknown). */
const struct sn_stats_segment *sn_stats_open(const char *dir);
void sn_stats_close(const struct sn_stats_segment *seg);

/* Begin/end a group update of gauges and ports (main lcore). */
void sn_stats_write_begin(struct sn_stats_segment *seg);
void sn_stats_write_end(struct sn_stats_segment *seg);
/* Consistent copy of gauges and ports for a reader; retries while a write is in progress.
 * Returns 0, or -EAGAIN if the writer seems stuck. */
int sn_stats_read_gauges(const struct sn_stats_segment *seg, struct sn_stats_gauges *gauges,
			 struct sn_stats_port *ports, uint32_t *n_ports);

#endif
