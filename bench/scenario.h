/* scenario.h: the measurement harness's traffic model (issue 7), shared by `supernode-bench
 * pcap` (writes the frames), `dataplane` (loads the matching tables into the real dataplane)
 * and `latency`.
 *
 * Everything is a pure function of (scenario, allocations, routes, seed): the pcap writer and
 * the table loader rebuild the same allocations, permissions, channels and DHT routes from
 * those numbers, so no sidecar file has to be parsed (the pcap writer still writes one,
 * FILE.json, saying which numbers made the file, for humans and for Pktgen users).
 *
 * Addressing (benchmarking range 198.18.0.0/15 and documentation range 2001:db8::/32 only):
 *   appliance port     198.18.0.1/24, 2001:db8:5e::1/64, MAC BENCH_APP_MAC (net_pcap's own);
 *                      ports 1..7 (only with more than BENCH_PER_PORT allocations, no
 *                      traffic) 198.18.P.1/24, 2001:db8:5e:P::1/64
 *   gateway            198.18.0.254, 2001:db8:5e::fe, MAC 02:00:00:00:00:fe; every client,
 *                      peer and DHT node is behind it, so the dataplane needs one neighbour
 *                      per family (learned from the ARP request / neighbour solicitation the
 *                      gateway sends first in every pcap)
 *   TURN client i      198.19.(i>>8).(i&255) port 1024+(i>>16), or for i%4==3
 *                      2001:db8:c::(i>>16):(i&0xffff) port 1024; server port 3478
 *   relayed address i  on port P = i / BENCH_PER_PORT, j = i % BENCH_PER_PORT: j < span:
 *                      IPv4, the j-th port of 1024-65535 without 3478 and 4222; else IPv6,
 *                      the (j-span)-th (relayed ports are unique per family and address)
 *                      Frames go to port 0's allocations only (min(N, BENCH_PER_PORT)).
 *   peer i             same family as its relayed address (by j): 198.18.(64+((i>>8)&63)).(i&255)
 *                      or 2001:db8:9::(i>>16):(i&0xffff), port 20000+(i%1000); one
 *                      permission and one channel 0x4000+(i%4096) per allocation
 *   DHT node r         ids from the seed, 198.19.(200+(r>>8&31)).(r&255) or 2001:db8:d::r
 *   DHT query sources  198.19.(128+(k>>8&63)).(k&255) / 2001:db8:e::k, port 4222, ids from seed
 *   flood sources      k-th packet from 198.18.(128+(k>>8&127)).(k&255) or 2001:db8:f::k */
#ifndef SN_BENCH_SCENARIO_H
#define SN_BENCH_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sn_channel.h"

/* Relayed ports 1024-65535 less the TURN and DHT ports: 64,510 per address family and
 * appliance address, so one port holds BENCH_PER_PORT allocations and the dataplane's 8
 * ports (SN_TURN_MAX_PORTS) BENCH_MAX_ALLOCS; allocation i is on port i / BENCH_PER_PORT. */
#define BENCH_RELAY_MIN	   1024u
#define BENCH_RELAY_MAX	   65535u
#define BENCH_RELAY_SPAN   (BENCH_RELAY_MAX - BENCH_RELAY_MIN + 1u - 2u)
#define BENCH_PER_PORT	   (2u * BENCH_RELAY_SPAN)
#define BENCH_MAX_PORTS	   8u
#define BENCH_MAX_ALLOCS   (BENCH_MAX_PORTS * BENCH_PER_PORT)
#define BENCH_TURN_PORT	   3478u
#define BENCH_DHT_PORT	   4222u
#define BENCH_NETWORK_ID   94u
#define BENCH_MAX_FRAME	   1600u
#define BENCH_SRTP_BYTES   182u	 /* RTP header 12 + 160 bytes of audio + 10-byte auth tag */
#define BENCH_SRTP_STREAMS 1024u /* SSRCs (allocation % 1024) */
#define BENCH_GW_MAC_INIT                                                                          \
	{                                                                                          \
		0x02, 0x00, 0x00, 0x00, 0x00, 0xfe                                                 \
	}
/* net_pcap's MAC in DPDK 22.11 for a port without an interface: 02:70:63:61:70:<n>
 * ("\x02pcap" + port index); dataplane_main checks the dataplane's log says the same. */
#define BENCH_APP_MAC_INIT                                                                         \
	{                                                                                          \
		0x02, 0x70, 0x63, 0x61, 0x70, 0x00                                                 \
	}

enum bench_scenario {
	BENCH_CHANNELDATA = 0, /* ChannelData client -> peer */
	BENCH_SEND,	       /* Send indication client -> peer */
	BENCH_DHT_PING,	       /* OpenDHT ping, answered by the fast path */
	BENCH_DHT_FIND,	       /* OpenDHT find_node, answered by the fast path */
	BENCH_DHT_MIX,	       /* half ping, half find */
	BENCH_FLOOD,	       /* Allocate requests and DHT pings from spoofed sources */
	BENCH_MIXED,	       /* 60% ChannelData, 10% Send, 10% ping, 10% find, 10% flood */
	BENCH_SCENARIO_MAX
};

struct bench_plan {
	enum bench_scenario scenario;
	uint32_t allocations; /* TURN allocations (each with a permission and a channel) */
	uint32_t routes;      /* DHT routing entries pushed as DHT_NODE */
	uint32_t packets;     /* frames in the pcap (after the two neighbour frames) */
	uint64_t seed;	      /* node ids, tokens, allocation visiting order */
	bool srtp;	      /* TURN payloads are libsrtp2 SRTP packets (else random bytes) */
	uint8_t app_mac[6];   /* destination MAC of every frame */
};

extern const char *const bench_scenario_names[BENCH_SCENARIO_MAX];

/* Scenario by name; -1 when unknown. */
int bench_scenario_parse(const char *name);
/* Whether the scenario needs TURN tables / DHT tables loaded. */
bool bench_scenario_turn(enum bench_scenario s);
bool bench_scenario_dht(enum bench_scenario s);

/* Table contents of allocation i (TURN_ALLOC, TURN_PERM, TURN_CHANNEL commands). */
void bench_alloc_entry(uint32_t i, uint64_t expires_ns, struct sn_turn_alloc_key *ak,
		       struct sn_turn_alloc_value *av, struct sn_turn_perm_key *pk,
		       struct sn_turn_perm_value *pv, struct sn_turn_channel_key *ck,
		       struct sn_turn_channel_value *cv);
/* DHT_STATE and DHT_NODE r. */
void bench_dht_state(const struct bench_plan *p, struct sn_dht_state_key *k,
		     struct sn_dht_state_value *v);
void bench_dht_node(const struct bench_plan *p, uint32_t r, struct sn_dht_node_key *k,
		    struct sn_dht_node_value *v);

/* A frame generator: state for libsrtp2 and the visiting order. */
struct bench_gen;
/* Returns NULL with a message on stderr on failure. */
struct bench_gen *bench_gen_new(const struct bench_plan *p);
void bench_gen_free(struct bench_gen *g);
/* The k-th frame of the scenario into frame (BENCH_MAX_FRAME bytes); returns its length. */
uint16_t bench_gen_frame(struct bench_gen *g, uint32_t k, uint8_t *frame);
/* The gateway's ARP request (family 4) or neighbour solicitation (6) for the appliance's
 * address, which teaches the dataplane the gateway's MAC. */
uint16_t bench_gen_neigh_frame(const struct bench_plan *p, int family, uint8_t *frame);

/* pcap file writer (classic format, Ethernet link type, microsecond stamps). */
FILE *bench_pcap_open(const char *path);
int bench_pcap_write(FILE *f, const uint8_t *frame, uint16_t len, uint32_t k);
int bench_pcap_close(FILE *f);

/* Writes the scenario's pcap (neighbour frames first) and the FILE.json sidecar.
 * Returns 0 or a negative errno with a message on stderr. */
int bench_write_pcap(const struct bench_plan *p, const char *path);

#endif
