/* turn.c: the TURN fast path (RFC 8656 over UDP) and its three channel tables.
 *
 * Worker side (no lock, no allocation, no system call):
 *   sn_turn_handle()  a datagram to a port dispatched to SN_UDP_HANDLER_TURN. First byte
 *                     demux (RFC 7983): STUN Binding request -> answered in place; Send
 *                     indication -> its DATA to the peer; ChannelData -> its data to the
 *                     channel's peer; other STUN requests (Allocate, Refresh,
 *                     CreatePermission, ChannelBind, a Binding the fast answer does not
 *                     give) -> punted to control; the rest is a counted drop.
 *   sn_turn_relay()   a datagram to a relayed transport address (a port in
 *                     turn.relay_port_min..max): from a peer with a permission, to the
 *                     client as ChannelData when a channel is bound to the peer's address,
 *                     else as a Data indication.
 * The handlers queue the packet; sn_turn_flush(), once per poll round, handles the round's
 * TURN packets in order behind a prefetch pipeline (table lookups are dependent cache misses
 * once there are 100,000 allocations).
 * Relayed packets are rewritten in their own mbuf: the data stays where it arrived and new
 * Ethernet/IP/UDP headers (and a ChannelData header or Data indication prefix) are written in
 * front of it; client and peer families may differ. The UDP checksum is derived from the one
 * the datagram arrived with, so the payload is never read. The next-hop MAC comes from the
 * neighbour table; when it is unknown the packet is dropped (neigh_unresolved) and the main
 * lcore is asked, through the learn ring, to send an ARP request / neighbour solicitation.
 * Expiry is checked on every packet against a per-worker CLOCK_REALTIME estimate derived
 * from the TSC once per poll round.
 *
 * Main lcore side: the TURN_ALLOC, TURN_PERM and TURN_CHANNEL tables of the channel
 * (struct sn_dp_table) over relay/turn_table.h; changes are in effect as each command is
 * applied, and publish() hands the replaced versions to sn_dp.rcu for freeing after a grace
 * period. */
#include "dataplane.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_cycles.h>
#include <rte_prefetch.h>
#include <rte_random.h>

#include "binding.h"
#include "channeldata.h"
#include "stun.h"
#include "turn_table.h"

#define RESOLVE_SLOTS 64	   /* per-worker memory of recent resolution requests */
#define TURN_BATCH    SN_MAX_BURST /* TURN packets handled together (prefetch pipeline) */

enum { KIND_TURN_PORT = 0, KIND_RELAY = 1 };

/* A TURN packet waiting for the end of its rx burst: what the L3 result said about it. */
struct turn_pending {
	struct rte_mbuf *m;
	struct sn_turn_alloc *const *slot; /* bucket or relay slot to prefetch (stage 1) */
	uint32_t hash;			   /* client-key hash, when stage 1 computed it */
	bool has_hash;
	uint16_t port_idx;
	uint8_t kind; /* KIND_TURN_PORT or KIND_RELAY */
	uint8_t family;
	uint16_t l3_off;
	uint16_t l4_off;
	uint16_t payload_off;
	uint16_t payload_len;
};

struct sn_turn_fast sn_turn_fast;

static struct sn_turn_table tt;
static bool tt_ready;

/* Per-worker state, indexed by worker index; one cache line each at least. */
struct turn_lcore {
	uint64_t now_tsc; /* TSC that now_ns was computed for */
	uint64_t now_ns;  /* CLOCK_REALTIME ns estimate */
	uint64_t rng;	  /* xorshift64* state for Data indication transaction ids */
	uint64_t resolve_tsc[RESOLVE_SLOTS]; /* last request per hashed next hop */
	uint32_t n_pending;
	struct turn_pending pending[TURN_BATCH]; /* this rx burst's TURN packets */
	/* The last next hop resolved in this sn_turn_flush() (every off-link packet goes to
	 * the same gateway). Valid only within one flush: the entry lives in an RCU snapshot,
	 * which this worker may hold only until its next quiescent state; cleared (snap NULL)
	 * at the start of every flush. */
	struct {
		const struct sn_neigh_snap *snap;
		const uint8_t *mac;
		uint16_t port_idx;
		uint8_t family;
		uint8_t ip[16];
	} hop;
} __rte_cache_aligned;
static struct turn_lcore tl[SN_CONFIG_MAX_WORKERS];

/* --- setup --- */

int sn_turn_init(void)
{
	const struct sn_turn_config *tc = &sn_dp.cfg.turn;
	struct sn_turn_port_addr pa[SN_TURN_MAX_PORTS];
	memset(pa, 0, sizeof(pa));
	if (sn_dp.n_ports > SN_TURN_MAX_PORTS || sn_dp.n_workers > SN_CONFIG_MAX_WORKERS) {
		SN_ERR("sn_turn_init: %u ports, %u workers: too many", sn_dp.n_ports,
		       sn_dp.n_workers);
		return -EINVAL;
	}
	for (uint16_t p = 0; p < sn_dp.n_ports; p++) {
		const struct sn_l3_port *l3 = &sn_dp.ports[p].l3;
		pa[p].has_ipv4 = l3->has_ipv4;
		pa[p].has_ipv6 = l3->has_ipv6;
		memcpy(pa[p].ipv4, &l3->ipv4, 4);
		memcpy(pa[p].ipv6, l3->ipv6.s6_addr, 16);
	}
	struct sn_turn_table_params prm = {
	    .max_allocations = tc->max_allocations,
	    .max_permissions = tc->max_permissions,
	    .max_channels = tc->max_channels,
	    .relay_port_min = tc->relay_port_min,
	    .relay_port_max = tc->relay_port_max,
	    .n_ports = sn_dp.n_ports,
	    .ports = pa,
	    .n_lcores = sn_dp.n_workers,
	    .rfc5766_channels = tc->rfc5766_channels,
	    .seed = (uint32_t)rte_rand(),
	};
	int rc = sn_turn_table_init(&tt, &prm);
	if (rc < 0) {
		SN_ERR("sn_turn_init: TURN tables for %u allocations: %s", tc->max_allocations,
		       strerror(-rc));
		return rc;
	}
	for (unsigned i = 0; i < SN_CONFIG_MAX_WORKERS; i++)
		tl[i].rng = rte_rand() | 1;
	sn_turn_fast.relay_min = tc->relay_port_min;
	sn_turn_fast.relay_span = (uint16_t)(tc->relay_port_max - tc->relay_port_min);
	sn_turn_fast.rfc5766 = tc->rfc5766_channels;
	sn_turn_fast.enabled = true;
	tt_ready = true;
	SN_INFO("TURN fast path: %u allocations, relay ports %u-%u, %u permissions and %u "
		"channels per allocation",
		tc->max_allocations, tc->relay_port_min, tc->relay_port_max, tc->max_permissions,
		tc->max_channels);
	return 0;
}

void sn_turn_fini(void)
{
	if (!tt_ready)
		return;
	sn_turn_fast.enabled = false;
	sn_turn_table_fini(&tt);
	tt_ready = false;
}

const struct sn_turn_table *sn_turn_table(void)
{
	return &tt;
}

/* --- channel tables (main lcore) --- */

static int alloc_apply(uint8_t op, const void *key, uint16_t key_len, const void *val,
		       uint16_t val_len)
{
	struct sn_turn_alloc_key k;
	struct sn_turn_alloc_value v;
	if (!tt_ready)
		return -EOPNOTSUPP;
	if (!sn_table_cmd_sizes_ok(op, key_len, sizeof(k), val_len, sizeof(v)))
		return -EINVAL;
	if (key_len)
		memcpy(&k, key, sizeof(k));
	switch (op) {
	case SN_TABLE_OP_ADD:
		memcpy(&v, val, sizeof(v));
		return sn_turn_alloc_put(&tt, k.alloc_id, &v);
	case SN_TABLE_OP_DEL:
		return sn_turn_alloc_del(&tt, k.alloc_id);
	case SN_TABLE_OP_CLEAR:
		return sn_turn_alloc_clear(&tt);
	default:
		return -EINVAL;
	}
}

static int perm_apply(uint8_t op, const void *key, uint16_t key_len, const void *val,
		      uint16_t val_len)
{
	struct sn_turn_perm_key k;
	struct sn_turn_perm_value v;
	if (!tt_ready)
		return -EOPNOTSUPP;
	if (!sn_table_cmd_sizes_ok(op, key_len, sizeof(k), val_len, sizeof(v)))
		return -EINVAL;
	if (key_len)
		memcpy(&k, key, sizeof(k));
	switch (op) {
	case SN_TABLE_OP_ADD:
		memcpy(&v, val, sizeof(v));
		return sn_turn_perm_put(&tt, &k, &v);
	case SN_TABLE_OP_DEL:
		return sn_turn_perm_del(&tt, &k);
	case SN_TABLE_OP_CLEAR:
		return sn_turn_perm_clear(&tt);
	default:
		return -EINVAL;
	}
}

static int channel_apply(uint8_t op, const void *key, uint16_t key_len, const void *val,
			 uint16_t val_len)
{
	struct sn_turn_channel_key k;
	struct sn_turn_channel_value v;
	if (!tt_ready)
		return -EOPNOTSUPP;
	if (!sn_table_cmd_sizes_ok(op, key_len, sizeof(k), val_len, sizeof(v)))
		return -EINVAL;
	if (key_len)
		memcpy(&k, key, sizeof(k));
	switch (op) {
	case SN_TABLE_OP_ADD:
		memcpy(&v, val, sizeof(v));
		return sn_turn_chan_put(&tt, &k, &v);
	case SN_TABLE_OP_DEL:
		return sn_turn_chan_del(&tt, &k);
	case SN_TABLE_OP_CLEAR:
		return sn_turn_chan_clear(&tt);
	default:
		return -EINVAL;
	}
}

/* Every command is in effect when applied; what it replaced is freed after a grace period. */
static void turn_publish(void)
{
	struct sn_turn_retired *r = tt_ready ? sn_turn_table_take_retired(&tt) : NULL;
	if (r)
		sn_rcu_retire(&sn_dp.rcu, r, sn_turn_retired_free);
}

static int alloc_dump(sn_dump_emit_fn emit)
{
	for (uint32_t id = 0; tt_ready && id < tt.p.max_allocations; id++) {
		const struct sn_turn_alloc *a = tt.by_id[id];
		if (!a)
			continue;
		struct sn_turn_alloc_key k = {.alloc_id = id};
		struct sn_turn_alloc_value v;
		sn_turn_alloc_value_of(&tt, a, &v);
		int rc = emit(SN_TABLE_TURN_ALLOC, &k, sizeof(k), &v, sizeof(v));
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int perm_dump(sn_dump_emit_fn emit)
{
	for (uint32_t id = 0; tt_ready && id < tt.p.max_allocations; id++) {
		const struct sn_turn_alloc *a = tt.by_id[id];
		for (uint16_t i = 0; a && i < a->n_perms; i++) {
			const struct sn_turn_perm *p = &a->perm[i];
			struct sn_turn_perm_key k = {.alloc_id = id, .family = p->family};
			memcpy(k.peer, p->peer, sizeof(k.peer));
			struct sn_turn_perm_value v = {.expires_ns = p->expires_ns};
			int rc = emit(SN_TABLE_TURN_PERM, &k, sizeof(k), &v, sizeof(v));
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static int channel_dump(sn_dump_emit_fn emit)
{
	for (uint32_t id = 0; tt_ready && id < tt.p.max_allocations; id++) {
		const struct sn_turn_alloc *a = tt.by_id[id];
		if (!a)
			continue;
		const struct sn_turn_chan *c = sn_turn_alloc_chans(a);
		for (uint16_t i = 0; i < a->n_chans; i++) {
			struct sn_turn_channel_key k = {.alloc_id = id, .channel = c[i].number};
			struct sn_turn_channel_value v = {.family = c[i].family,
							  .peer_port = c[i].peer_port,
							  .expires_ns = c[i].expires_ns};
			memcpy(v.peer, c[i].peer, sizeof(v.peer));
			int rc = emit(SN_TABLE_TURN_CHANNEL, &k, sizeof(k), &v, sizeof(v));
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static uint32_t alloc_entries(void)
{
	return tt.n_allocs;
}

static uint32_t perm_entries(void)
{
	return tt.n_perms;
}

static uint32_t channel_entries(void)
{
	return tt.n_chans;
}

const struct sn_dp_table sn_dp_table_turn_alloc = {
    .id = SN_TABLE_TURN_ALLOC,
    .name = "turn_alloc",
    .apply = alloc_apply,
    .publish = turn_publish,
    .dump = alloc_dump,
    .entries = alloc_entries,
};

const struct sn_dp_table sn_dp_table_turn_perm = {
    .id = SN_TABLE_TURN_PERM,
    .name = "turn_perm",
    .apply = perm_apply,
    .publish = turn_publish,
    .dump = perm_dump,
    .entries = perm_entries,
};

const struct sn_dp_table sn_dp_table_turn_channel = {
    .id = SN_TABLE_TURN_CHANNEL,
    .name = "turn_channel",
    .apply = channel_apply,
    .publish = turn_publish,
    .dump = channel_dump,
    .entries = channel_entries,
};

/* --- fast path helpers (workers) --- */

static inline struct turn_lcore *lcore_state(const struct sn_worker *w)
{
	return &tl[w->index];
}

/* CLOCK_REALTIME ns for this poll round (one conversion per round, not per packet). */
static inline uint64_t now_ns(struct turn_lcore *l, uint64_t tsc)
{
	if (unlikely(tsc != l->now_tsc)) {
		l->now_tsc = tsc;
		l->now_ns = sn_tsc_to_ns(tsc);
	}
	return l->now_ns;
}

static inline bool expired(uint64_t expires_ns, uint64_t now)
{
	return now >= expires_ns;
}

static inline void drop(struct sn_worker *w, enum sn_drop_reason reason, struct rte_mbuf *m)
{
	sn_worker_drop(w, reason, m);
}

static inline const uint8_t *port_ip(const struct sn_dp_port *port, uint8_t family)
{
	return family == AF_INET ? (const uint8_t *)&port->l3.ipv4 : port->l3.ipv6.s6_addr;
}

/* Asks the main lcore to resolve `ip` on port_idx, at most every 100 ms per hashed slot, so
 * a stream of packets to an unknown neighbour costs one ARP/NS, not one per packet. */
static void request_resolve(struct sn_worker *w, uint16_t port_idx, uint8_t family,
			    const uint8_t *ip, uint64_t tsc)
{
	struct turn_lcore *l = lcore_state(w);
	uint32_t h = 2166136261u;
	for (unsigned i = 0; i < (family == AF_INET ? 4u : 16u); i++)
		h = (h ^ ip[i]) * 16777619u;
	uint64_t *last = &l->resolve_tsc[h % RESOLVE_SLOTS];
	if (*last && tsc - *last < sn_dp.tsc_hz / 10)
		return;
	*last = tsc;
	struct sn_learn_msg msg;
	memset(&msg, 0, sizeof(msg));
	msg.learn.family = family;
	memcpy(msg.learn.ip, ip, family == AF_INET ? 4 : 16);
	msg.port_idx = port_idx;
	msg.resolve = 1;
	/* A full ring only delays resolution: the next packet asks again. */
	rte_ring_mp_enqueue_elem(sn_dp.learn_ring, &msg, sizeof(msg));
}

/* MAC of the next hop towards dst (dst itself when on-link, else the port's gateway), or
 * NULL when it is not known yet (resolution requested) or there is no route. */
static inline const uint8_t *next_hop_mac(struct sn_worker *w, uint16_t port_idx, uint8_t family,
					  const uint8_t *dst, uint64_t tsc)
{
	const struct sn_dp_port *port = &sn_dp.ports[port_idx];
	const uint8_t *hop = dst;
	if (!sn_l3_on_link(&port->l3, family, dst)) {
		const struct sn_port_config *pc = port->cfg;
		if (family == AF_INET) {
			if (!pc->has_gateway4)
				return NULL;
			hop = (const uint8_t *)&pc->gateway4;
		} else {
			if (!pc->has_gateway6)
				return NULL;
			hop = pc->gateway6.s6_addr;
		}
	}
	const struct sn_neigh_snap *snap = rcu_dereference(sn_dp.neigh.current);
	struct turn_lcore *l = lcore_state(w);
	unsigned n = family == AF_INET ? 4 : 16;
	if (likely(l->hop.snap == snap && l->hop.port_idx == port_idx && l->hop.family == family &&
		   (family == AF_INET ? memcmp(l->hop.ip, hop, 4) == 0
				      : memcmp(l->hop.ip, hop, 16) == 0)))
		return l->hop.mac;
	const struct sn_neigh_entry *ne = sn_neigh_lookup(snap, family, hop);
	if (likely(ne != NULL)) {
		l->hop.snap = snap;
		l->hop.mac = ne->mac;
		l->hop.port_idx = port_idx;
		l->hop.family = family;
		memcpy(l->hop.ip, hop, n);
		return ne->mac;
	}
	request_resolve(w, port_idx, family, hop, tsc);
	return NULL;
}

/* Re-frames m so that it holds exactly Ethernet/IP/UDP headers for `family` followed by
 * udp_payload_len bytes starting at udp_payload (already inside m's buffer): moves the data
 * start and sets the length, growing into headroom/tailroom as needed. Returns the frame
 * start, or NULL when the buffer has no room for it. */
static inline uint8_t *reframe(struct rte_mbuf *m, const uint8_t *udp_payload,
			       uint32_t udp_payload_len, uint8_t family)
{
	const uint8_t *base = (const uint8_t *)m->buf_addr;
	int64_t start = (udp_payload - base) - (int64_t)sn_udp_headroom(family);
	uint32_t total = sn_udp_headroom(family) + udp_payload_len;
	if (unlikely(start < 0 || (uint64_t)start + total > m->buf_len || total > UINT16_MAX))
		return NULL;
	m->data_off = (uint16_t)start;
	m->data_len = (uint16_t)total;
	m->pkt_len = total;
	return rte_pktmbuf_mtod(m, uint8_t *);
}

static inline bool fits_mtu(uint16_t port_idx, uint8_t family, uint32_t udp_payload_len)
{
	uint32_t ip_len = sn_udp_headroom(family) - SN_ETHER_HDR_LEN + udp_payload_len;
	return ip_len <= sn_dp.ports[port_idx].cfg->mtu;
}

/* The packet's source address and ports (ports in network order). */
struct pkt_addr {
	bool has_hash; /* hash holds sn_turn_client_hash() of the client key */
	uint32_t hash;
	uint8_t family;
	const uint8_t *src_ip;
	const uint8_t *dst_ip;
	uint16_t src_port;
	uint16_t dst_port;
};

static inline void pkt_addr(const uint8_t *frame, const struct sn_l3_result *res,
			    struct pkt_addr *pa)
{
	const uint8_t *ip = frame + res->l3_off;
	const uint8_t *udp = frame + res->l4_off;
	pa->has_hash = false;
	pa->family = res->family;
	pa->src_ip = ip + (res->family == AF_INET ? 12 : 8);
	pa->dst_ip = ip + (res->family == AF_INET ? 16 : 24);
	memcpy(&pa->src_port, udp, 2);
	memcpy(&pa->dst_port, udp + 2, 2);
}

/* --- checksums without reading the payload (RFC 1071 arithmetic on 16-bit sums) ---
 * A datagram reaches a handler with a valid UDP checksum (L3 verified it, or the NIC did),
 * so the one's-complement sum of its payload is ~(pseudo header + UDP header): relaying
 * costs the same for 40 bytes of audio as for 1200 bytes of video. */

static inline uint32_t fold16(uint32_t s)
{
	s = (s & 0xffff) + (s >> 16);
	return (s & 0xffff) + (s >> 16);
}

static inline uint32_t csum_add(uint32_t a, uint32_t b)
{
	return fold16(fold16(a) + fold16(b));
}

static inline uint32_t csum_sub(uint32_t a, uint32_t b)
{
	return fold16(fold16(a) + (~fold16(b) & 0xffff));
}

/* Sum of p[off, off + n), in the byte lanes it has at an even offset. */
static inline uint32_t part_sum(const uint8_t *p, uint32_t off, uint32_t n)
{
	uint32_t s = fold16(sn_cksum_partial_inline(p + off, n, 0));
	return (off & 1) ? ((s & 0xff) << 8 | s >> 8) : s;
}

/* Sum of the received UDP payload, from the checksum it arrived with; read and summed only
 * when it came without one (IPv4 checksum 0; L3 refuses that for IPv6). */
static inline uint32_t rx_payload_sum(const uint8_t *frame, const struct sn_l3_result *res)
{
	const uint8_t *udp = frame + res->l4_off;
	if (unlikely(udp[6] == 0 && udp[7] == 0))
		return fold16(sn_cksum_partial(frame + res->payload_off, res->payload_len, 0));
	uint32_t ph = sn_udp_pseudo_sum(frame + res->l3_off, res->family, 8u + res->payload_len);
	return ~fold16(sn_cksum_partial_inline(udp, 8, ph)) & 0xffff;
}

/* Sum of payload[off, off + n) given the sum of the whole payload (len bytes): the whole
 * minus what comes before and after (each at most a STUN prefix or padding). */
static inline uint32_t inner_sum(uint32_t whole, const uint8_t *payload, uint32_t len, uint32_t off,
				 uint32_t n)
{
	uint32_t s = csum_sub(whole, part_sum(payload, 0, off));
	if (off + n < len)
		s = csum_sub(s, part_sum(payload, off + n, len - off - n));
	return s;
}

/* Sends data[0..len) (inside m, its one's-complement sum data_sum) from the allocation's
 * relayed address of the peer's family to the peer. The caller checked allocation,
 * permission and expiry. */
static void to_peer(struct sn_worker *w, struct rte_mbuf *m, const struct sn_turn_alloc *a,
		    uint8_t family, const uint8_t *peer_ip, uint16_t peer_port, const uint8_t *data,
		    uint16_t len, uint32_t data_sum, uint64_t tsc)
{
	uint16_t relay_port = family == AF_INET ? a->relay_port4 : a->relay_port6;
	if (unlikely(relay_port == 0))
		return drop(w, SN_DROP_TURN_PEER_FAMILY, m);
	if (unlikely(!fits_mtu(a->port_idx, family, len)))
		return drop(w, SN_DROP_TURN_TOO_BIG, m);
	const uint8_t *mac = next_hop_mac(w, a->port_idx, family, peer_ip, tsc);
	if (unlikely(!mac))
		return drop(w, SN_DROP_NEIGH_UNRESOLVED, m);
	uint8_t *frame = reframe(m, data, len, family);
	if (unlikely(!frame))
		return drop(w, SN_DROP_TURN_TOO_BIG, m);
	const struct sn_dp_port *port = &sn_dp.ports[a->port_idx];
	sn_build_udp_sum(frame, port->l3.mac, mac, family, port_ip(port, family), peer_ip,
			 rte_cpu_to_be_16(relay_port), peer_port, len, data_sum);
	uint64_t *c = w->stats->counters;
	c[SN_CTR_TURN_TO_PEER_PACKETS]++;
	c[SN_CTR_TURN_TO_PEER_BYTES] += len;
	struct sn_turn_counters *ac = sn_turn_ctr(&tt, w->index, a->id);
	ac->to_peer_packets++;
	ac->to_peer_bytes += len;
	sn_worker_tx(w, a->port_idx, m);
}

/* Allocation of the client that sent this packet on port_idx, alive; NULL after counting
 * the drop. */
static inline const struct sn_turn_alloc *client_alloc(struct sn_worker *w, struct rte_mbuf *m,
						       uint16_t port_idx, const struct pkt_addr *pa,
						       uint64_t now)
{
	const struct sn_turn_alloc *a =
	    pa->has_hash
		? sn_turn_lookup_client_hashed(&tt, pa->hash, pa->family, pa->src_ip, pa->src_port,
					       pa->dst_port)
		: sn_turn_lookup_client(&tt, pa->family, pa->src_ip, pa->src_port, pa->dst_port);
	if (unlikely(!a || a->port_idx != port_idx)) {
		drop(w, SN_DROP_TURN_NO_ALLOCATION, m);
		return NULL;
	}
	if (unlikely(expired(a->expires_ns, now))) {
		drop(w, SN_DROP_TURN_EXPIRED, m);
		return NULL;
	}
	return a;
}

/* True when the allocation holds a live permission for the peer IP; counts the drop if not. */
static inline bool permitted(struct sn_worker *w, struct rte_mbuf *m, const struct sn_turn_alloc *a,
			     uint8_t family, const uint8_t *ip, uint64_t now)
{
	const struct sn_turn_perm *p = sn_turn_perm_find(a, family, ip);
	if (unlikely(!p)) {
		drop(w, SN_DROP_TURN_NO_PERMISSION, m);
		return false;
	}
	if (unlikely(expired(p->expires_ns, now))) {
		drop(w, SN_DROP_TURN_EXPIRED, m);
		return false;
	}
	return true;
}

/* --- client -> peer --- */

static void chandata_from_client(struct sn_worker *w, struct rte_mbuf *m, uint16_t port_idx,
				 const struct sn_l3_result *res, const struct pkt_addr *pa,
				 const uint8_t *p, uint16_t len, uint64_t tsc)
{
	struct sn_chandata cd;
	if (unlikely(sn_chandata_parse(p, len, sn_turn_fast.rfc5766 ? SN_CHANDATA_F_RFC5766 : 0,
				       &cd) != SN_CHANDATA_OK))
		return drop(w, SN_DROP_CHANDATA_MALFORMED, m);
	uint64_t now = now_ns(lcore_state(w), tsc);
	const struct sn_turn_alloc *a = client_alloc(w, m, port_idx, pa, now);
	if (!a)
		return;
	const struct sn_turn_chan *c = sn_turn_chan_find(a, cd.channel);
	if (unlikely(!c))
		return drop(w, SN_DROP_TURN_NO_CHANNEL, m);
	if (unlikely(expired(c->expires_ns, now)))
		return drop(w, SN_DROP_TURN_EXPIRED, m);
	if (!permitted(w, m, a, c->family, c->peer, now))
		return;
	uint32_t sum = inner_sum(rx_payload_sum(rte_pktmbuf_mtod(m, const uint8_t *), res), p, len,
				 SN_CHANDATA_HDR_LEN, cd.len);
	w->stats->counters[SN_CTR_TURN_CHANNELDATA_IN]++;
	to_peer(w, m, a, c->family, c->peer, c->peer_port, cd.data, cd.len, sum, tsc);
}

static void send_indication(struct sn_worker *w, struct rte_mbuf *m, uint16_t port_idx,
			    const struct sn_l3_result *res, const struct pkt_addr *pa,
			    const uint8_t *p, uint16_t len, uint64_t tsc)
{
	struct sn_stun_msg msg;
	const uint8_t *xpa, *data;
	uint16_t xpa_len, data_len;
	struct sn_stun_addr peer;
	/* RFC 8489 §6.3.2: an indication with unknown comprehension-required attributes is
	 * discarded. */
	if (unlikely(sn_stun_parse(p, len, &msg) != SN_STUN_OK || msg.n_unknown ||
		     sn_stun_check_fingerprint(&msg) != SN_STUN_OK))
		return drop(w, SN_DROP_STUN_MALFORMED, m);
	xpa = sn_stun_get(&msg, SN_STUN_A_XOR_PEER_ADDRESS, &xpa_len);
	data = sn_stun_get(&msg, SN_STUN_A_DATA, &data_len);
	if (unlikely(!xpa || !data ||
		     sn_stun_xor_addr_decode(xpa, xpa_len, sn_stun_tid(&msg), &peer) < 0))
		return drop(w, SN_DROP_STUN_MALFORMED, m);
	uint64_t now = now_ns(lcore_state(w), tsc);
	const struct sn_turn_alloc *a = client_alloc(w, m, port_idx, pa, now);
	if (!a)
		return;
	if (!permitted(w, m, a, peer.family, peer.addr, now))
		return;
	uint32_t sum = inner_sum(rx_payload_sum(rte_pktmbuf_mtod(m, const uint8_t *), res), p, len,
				 (uint32_t)(data - p), data_len);
	w->stats->counters[SN_CTR_TURN_SEND_INDICATIONS]++;
	to_peer(w, m, a, peer.family, peer.addr, peer.port, data, data_len, sum, tsc);
}

/* Binding request: the answer (XOR-MAPPED-ADDRESS, FINGERPRINT) replaces the request and
 * goes back the way it came. Requests the fast answer does not give (400, 420, too large)
 * go to control, which applies its policy to unauthenticated error answers. */
static void binding(struct sn_worker *w, struct rte_mbuf *m, uint16_t port_idx,
		    const struct sn_l3_result *res, const struct pkt_addr *pa, uint8_t *p,
		    uint16_t len, uint64_t tsc)
{
	struct sn_stun_addr client = {.family = pa->family, .port = pa->src_port};
	uint8_t out[64];
	size_t out_len;
	memcpy(client.addr, pa->src_ip, pa->family == AF_INET ? 4 : 16);
	enum sn_binding_result r =
	    sn_binding_answer(NULL, p, len, &client, out, sizeof(out), &out_len, NULL);
	switch (r) {
	case SN_BINDING_SUCCESS:
		break;
	case SN_BINDING_BAD_REQUEST:
	case SN_BINDING_UNKNOWN_ATTRIBUTE:
	case SN_BINDING_NO_ROOM:
	case SN_BINDING_TOO_LARGE:
		return sn_worker_punt(w, m, port_idx, res, SN_PUNT_TURN, tsc);
	case SN_BINDING_INDICATION:
		return drop(w, SN_DROP_STUN_KEEPALIVE, m);
	case SN_BINDING_NOT_REQUEST:
		return drop(w, SN_DROP_STUN_UNEXPECTED, m);
	default:
		return drop(w, SN_DROP_STUN_MALFORMED, m);
	}
	const struct sn_dp_port *port = &sn_dp.ports[port_idx];
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	uint8_t mac[6], cip[16], sip[16];
	uint16_t cport = pa->src_port, sport = pa->dst_port;
	unsigned n = pa->family == AF_INET ? 4 : 16;
	memcpy(mac, frame + 6, 6);
	memcpy(cip, pa->src_ip, n);
	memcpy(sip, pa->dst_ip, n);
	memcpy(p, out, out_len);
	frame = reframe(m, p, (uint32_t)out_len, pa->family);
	if (unlikely(!frame))
		return drop(w, SN_DROP_TURN_TOO_BIG, m);
	sn_build_udp(frame, port->l3.mac, mac, pa->family, sip, cip, sport, cport,
		     (uint16_t)out_len);
	w->stats->counters[SN_CTR_TURN_BINDING_ANSWERS]++;
	sn_worker_tx(w, port_idx, m);
}

static void stun_from_client(struct sn_worker *w, struct rte_mbuf *m, uint16_t port_idx,
			     const struct sn_l3_result *res, const struct pkt_addr *pa, uint8_t *p,
			     uint16_t len, uint64_t tsc)
{
	if (unlikely(sn_stun_check_header(p, len) != SN_STUN_OK))
		return drop(w, SN_DROP_STUN_MALFORMED, m);
	uint16_t type = (uint16_t)(p[0] << 8 | p[1]);
	unsigned method = sn_stun_type_method(type), cls = sn_stun_type_class(type);
	if (cls == SN_STUN_CLASS_INDICATION) {
		if (method == SN_STUN_METHOD_SEND)
			return send_indication(w, m, port_idx, res, pa, p, len, tsc);
		if (method == SN_STUN_METHOD_BINDING)
			return drop(w, SN_DROP_STUN_KEEPALIVE, m);
		return drop(w, SN_DROP_STUN_UNEXPECTED, m);
	}
	if (cls != SN_STUN_CLASS_REQUEST)
		return drop(w, SN_DROP_STUN_UNEXPECTED, m);
	if (method == SN_STUN_METHOD_BINDING)
		return binding(w, m, port_idx, res, pa, p, len, tsc);
	/* Allocate, Refresh, CreatePermission, ChannelBind and anything else: control. */
	sn_worker_punt(w, m, port_idx, res, SN_PUNT_TURN, tsc);
}

static void turn_port_packet(struct sn_worker *w, struct rte_mbuf *m, uint16_t port_idx,
			     const struct sn_l3_result *res, const struct turn_pending *tp,
			     uint64_t tsc)
{
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	uint8_t *p = frame + res->payload_off;
	uint16_t len = res->payload_len;
	struct pkt_addr pa;
	if (unlikely(!tt_ready || len == 0))
		return drop(w, SN_DROP_TURN_DEMUX, m);
	pkt_addr(frame, res, &pa);
	pa.has_hash = tp->has_hash;
	pa.hash = tp->hash;
	switch (sn_demux_first_byte(p[0])) {
	case SN_DEMUX_CHANNEL:
		return chandata_from_client(w, m, port_idx, res, &pa, p, len, tsc);
	case SN_DEMUX_STUN:
		return stun_from_client(w, m, port_idx, res, &pa, p, len, tsc);
	case SN_DEMUX_CHANNEL_RFC5766:
		if (sn_turn_fast.rfc5766)
			return chandata_from_client(w, m, port_idx, res, &pa, p, len, tsc);
		return drop(w, SN_DROP_CHANDATA_MALFORMED, m);
	default:
		return drop(w, SN_DROP_TURN_DEMUX, m);
	}
}

/* --- peer -> client --- */

static inline uint64_t rng_next(struct turn_lcore *l)
{
	uint64_t x = l->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	l->rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

static void relay_packet(struct sn_worker *w, struct rte_mbuf *m, uint16_t port_idx,
			 const struct sn_l3_result *res, uint64_t tsc)
{
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	uint8_t *data = frame + res->payload_off;
	uint16_t len = res->payload_len;
	struct pkt_addr pa;
	if (unlikely(!tt_ready))
		return drop(w, SN_DROP_TURN_NO_ALLOCATION, m);
	pkt_addr(frame, res, &pa);
	const struct sn_turn_alloc *a =
	    sn_turn_lookup_relay(&tt, port_idx, pa.family, rte_be_to_cpu_16(pa.dst_port));
	if (unlikely(!a))
		return drop(w, SN_DROP_TURN_NO_ALLOCATION, m);
	struct turn_lcore *l = lcore_state(w);
	uint64_t now = now_ns(l, tsc);
	if (unlikely(expired(a->expires_ns, now)))
		return drop(w, SN_DROP_TURN_EXPIRED, m);
	if (!permitted(w, m, a, pa.family, pa.src_ip, now))
		return;

	/* The peer's address and the checksum live in the headers about to be overwritten. */
	uint32_t sum = rx_payload_sum(frame, res);
	struct sn_stun_addr peer = {.family = pa.family, .port = pa.src_port};
	memcpy(peer.addr, pa.src_ip, pa.family == AF_INET ? 4 : 16);
	const struct sn_turn_chan *c = sn_turn_chan_find_peer(a, peer.family, peer.addr, peer.port);
	bool chan = c && !expired(c->expires_ns, now);
	uint32_t prefix = chan ? SN_CHANDATA_HDR_LEN : (pa.family == AF_INET ? 36u : 48u);
	uint32_t pad = chan ? 0 : (uint32_t)sn_stun_pad(len);
	uint32_t out_len = prefix + len + pad;
	if (unlikely(!fits_mtu(a->port_idx, a->family, out_len)))
		return drop(w, SN_DROP_TURN_TOO_BIG, m);
	const uint8_t *mac = next_hop_mac(w, a->port_idx, a->family, a->client_ip, tsc);
	if (unlikely(!mac))
		return drop(w, SN_DROP_NEIGH_UNRESOLVED, m);
	uint8_t *out = data - prefix;
	frame = reframe(m, out, out_len, a->family);
	if (unlikely(!frame))
		return drop(w, SN_DROP_TURN_TOO_BIG, m);
	uint64_t *ctr = w->stats->counters;
	if (chan) {
		sn_chandata_write_header(out, c->number, len);
		ctr[SN_CTR_TURN_CHANNELDATA_OUT]++;
	} else {
		uint8_t tid[SN_STUN_TID_LEN];
		uint64_t r1 = rng_next(l), r2 = rng_next(l);
		memcpy(tid, &r1, 8);
		memcpy(tid + 8, &r2, 4);
		if (unlikely(sn_stun_data_indication_prefix(out, prefix, tid, &peer, len) !=
			     (int)prefix))
			return drop(w, SN_DROP_TURN_TOO_BIG, m);
		memset(data + len, 0, pad);
		ctr[SN_CTR_TURN_DATA_INDICATIONS]++;
	}
	/* Prefix and data both start at even offsets; padding zeros add nothing. */
	sum = csum_add(sum, part_sum(out, 0, prefix));
	const struct sn_dp_port *port = &sn_dp.ports[a->port_idx];
	sn_build_udp_sum(frame, port->l3.mac, mac, a->family, port_ip(port, a->family),
			 a->client_ip, a->server_port, a->client_port, (uint16_t)out_len, sum);
	ctr[SN_CTR_TURN_TO_CLIENT_PACKETS]++;
	ctr[SN_CTR_TURN_TO_CLIENT_BYTES] += len;
	struct sn_turn_counters *ac = sn_turn_ctr(&tt, w->index, a->id);
	ac->to_client_packets++;
	ac->to_client_bytes += len;
	sn_worker_tx(w, a->port_idx, m);
}

/* --- burst pipeline ---
 * With 100,000 allocations the tables do not fit in cache and each packet's lookups are a
 * chain of dependent misses (bucket or relay slot, allocation, counter row). The handlers
 * therefore only queue a burst's TURN packets; sn_turn_flush() then walks them in stages
 * that start every packet's next miss before waiting for any (as VPP's and l3fwd's
 * multi-packet loops do), and handles them in arrival order. The prefetch stages only read
 * and hint: what a packet becomes is decided in the last stage, as if it were alone. */

static inline void enqueue(struct sn_worker *w, struct rte_mbuf *m, uint16_t port_idx,
			   const struct sn_l3_result *res, uint8_t kind, uint64_t tsc)
{
	struct turn_lcore *l = lcore_state(w);
	if (unlikely(l->n_pending == TURN_BATCH))
		sn_turn_flush(w, tsc);
	struct turn_pending *p = &l->pending[l->n_pending++];
	p->m = m;
	p->port_idx = port_idx;
	p->kind = kind;
	p->family = res->family;
	p->l3_off = res->l3_off;
	p->l4_off = res->l4_off;
	p->payload_off = res->payload_off;
	p->payload_len = res->payload_len;
	p->has_hash = false;
}

void sn_turn_handle(struct sn_worker *w, struct rte_mbuf *m, uint16_t port_idx,
		    const struct sn_l3_result *res, uint64_t tsc)
{
	enqueue(w, m, port_idx, res, KIND_TURN_PORT, tsc);
}

void sn_turn_relay(struct sn_worker *w, struct rte_mbuf *m, uint16_t port_idx,
		   const struct sn_l3_result *res, uint64_t tsc)
{
	enqueue(w, m, port_idx, res, KIND_RELAY, tsc);
}

/* The table slot the packet's lookup starts from, or NULL (Binding, requests: no lookup). */
static inline struct sn_turn_alloc *const *first_slot(struct turn_pending *p)
{
	const uint8_t *frame = rte_pktmbuf_mtod(p->m, const uint8_t *);
	const uint8_t *ip = frame + p->l3_off;
	const uint8_t *src = ip + (p->family == AF_INET ? 12 : 8);
	uint16_t src_port, dst_port;
	memcpy(&src_port, frame + p->l4_off, 2);
	memcpy(&dst_port, frame + p->l4_off + 2, 2);
	if (p->kind == KIND_RELAY) {
		uint32_t off =
		    (uint32_t)(uint16_t)(rte_be_to_cpu_16(dst_port) - tt.p.relay_port_min);
		if (off >= tt.relay_span)
			return NULL;
		return &tt.by_relay[((uint32_t)p->port_idx * 2 + (p->family == AF_INET6)) *
					tt.relay_span +
				    off];
	}
	const uint8_t *pl = frame + p->payload_off;
	enum sn_demux d = p->payload_len ? sn_demux_first_byte(pl[0]) : SN_DEMUX_UNKNOWN;
	bool lookup = d == SN_DEMUX_CHANNEL || d == SN_DEMUX_CHANNEL_RFC5766 ||
		      (d == SN_DEMUX_STUN && p->payload_len >= 2 && pl[0] == 0x00 && pl[1] == 0x16);
	if (!lookup)
		return NULL;
	uint32_t h = sn_turn_client_hash(tt.p.seed, p->family, src, src_port, dst_port);
	p->hash = h;
	p->has_hash = true;
	return &tt.bucket[h & tt.bucket_mask];
}

void sn_turn_flush(struct sn_worker *w, uint64_t tsc)
{
	struct turn_lcore *l = lcore_state(w);
	uint32_t n = l->n_pending;
	const struct sn_turn_alloc *obj[TURN_BATCH];
	if (!n)
		return;
	l->n_pending = 0;
	l->hop.snap = NULL;
	if (likely(tt_ready) && n > 1) {
		/* 1: the slot each lookup starts from (the frames are in cache: L3 read them). */
		for (uint32_t i = 0; i < n; i++) {
			l->pending[i].slot = first_slot(&l->pending[i]);
			if (l->pending[i].slot)
				rte_prefetch0(l->pending[i].slot);
		}
		/* 2: the allocation it points to. malloc aligns it to 16 bytes only, so the
		 * 128 bytes of a small one (1 permission, 1 channel) span up to three lines:
		 * without the third, the channel read missed in every other packet. */
		for (uint32_t i = 0; i < n; i++) {
			obj[i] = l->pending[i].slot ? rcu_dereference(*l->pending[i].slot) : NULL;
			if (obj[i]) {
				const uint8_t *o = (const uint8_t *)obj[i];
				rte_prefetch0(o);
				rte_prefetch0(o + RTE_CACHE_LINE_SIZE);
				rte_prefetch0(o + 2 * RTE_CACHE_LINE_SIZE - 1);
			}
		}
		/* 3: its counters in this lcore's row, the rest of a larger allocation (its
		 * permissions and channels are searched), and the next allocation of a hash
		 * chain (the head is not always the one: the table runs at load up to 1). */
		for (uint32_t i = 0; i < n; i++) {
			if (!obj[i])
				continue;
			rte_prefetch0(sn_turn_ctr(&tt, w->index, obj[i]->id));
			const uint8_t *o = (const uint8_t *)obj[i];
			uint32_t size = (uint32_t)sizeof(struct sn_turn_alloc) +
					(uint32_t)sizeof(struct sn_turn_perm) *
					    ((uint32_t)obj[i]->n_perms + obj[i]->n_chans);
			for (uint32_t off = 2 * RTE_CACHE_LINE_SIZE;
			     off < size && off < 8 * RTE_CACHE_LINE_SIZE;
			     off += RTE_CACHE_LINE_SIZE)
				rte_prefetch0(o + off + RTE_CACHE_LINE_SIZE - 1);
			const struct sn_turn_alloc *next = rcu_dereference(obj[i]->next);
			if (l->pending[i].kind == KIND_TURN_PORT && next)
				rte_prefetch0(next);
		}
	}
	/* 4: each packet in arrival order. */
	for (uint32_t i = 0; i < n; i++) {
		const struct turn_pending *p = &l->pending[i];
		struct sn_l3_result res = {.action = SN_L3_UDP,
					   .family = p->family,
					   .l3_off = p->l3_off,
					   .l4_off = p->l4_off,
					   .payload_off = p->payload_off,
					   .payload_len = p->payload_len};
		if (p->kind == KIND_RELAY)
			relay_packet(w, p->m, p->port_idx, &res, tsc);
		else
			turn_port_packet(w, p->m, p->port_idx, &res, p, tsc);
	}
}
