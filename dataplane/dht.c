/* dht.c: the OpenDHT fast path (overlay issue) and its two channel tables.
 *
 * Tables (struct sn_dp_table, written by the main lcore only):
 *   SN_TABLE_DHT_NODE   nodes control vouches for (its routing table's good nodes). The writer
 *                       keeps them in a flat array; publish() turns the array into a routing
 *                       snapshot (sn_rt_snapshot_from_nodes: compact entries sorted by id) and
 *                       swaps it in under RCU; the old one is freed after a grace period.
 *   SN_TABLE_DHT_STATE  one entry: our node id, the network id and the token secrets
 *                       (current, previous). Published as one immutable object, so a worker
 *                       never sees a new id with old secrets. Until control installs it the
 *                       fast path answers nothing and punts every datagram (control answers).
 *
 * Fast handler (worker context, sn_dht_handle): sn_dht_fast_process() decides on the UDP
 * payload. REPLY: the answer is written over the request in the same mbuf (Ethernet, IP and
 * UDP headers rebuilt with addresses and ports swapped, lengths and checksums recomputed) and
 * sent back out the port it came in on. PUNT: to control (reason dht). DROP: one drop reason.
 * A sample of the answered pings and finds is copied to control (reason dht_seen) so that it
 * learns the nodes that contact us: at most one per source address and port per
 * DHT_SEEN_PERIOD_S per worker (a small hashed table of last-sample times), then policed like
 * every punt. No lock, no allocation but the sample's mbuf, no system call. */
#include "dataplane.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_lcore.h>

#include "fast.h"
#include "routing.h"
#include "token.h"

#define DHT_MAX_NODES	  8192 /* DHT_NODE entries; control pushes at most its good nodes */
#define DHT_SEEN_SLOTS	  1024 /* per-worker sample filter (power of 2) */
#define DHT_SEEN_PERIOD_S 5    /* one dht_seen sample per source per period per worker */

/* What workers read, published whole. */
struct dht_state {
	struct sn_node_id self;
	uint32_t network;
	struct sn_token_secrets tokens;
	struct sn_dht_state_value raw; /* as control sent it, for the dump */
};

/* Per-worker sample filter: last sample time (TSC) per hashed source. */
struct dht_worker {
	uint64_t seen_tsc[DHT_SEEN_SLOTS];
} __rte_cache_aligned;

static struct {
	/* read by workers through rcu_dereference */
	struct dht_state *state;
	struct sn_rt_snapshot *snap;
	/* writer (main lcore) side */
	struct sn_rt_node *nodes; /* DHT_NODE entries, unordered */
	uint32_t n_nodes;
	bool nodes_dirty;
	struct dht_state *state_draft; /* next state; NULL with state_dirty: remove it */
	bool state_dirty;
	uint64_t generation;
} dht;

static struct dht_worker dht_workers[SN_CONFIG_MAX_WORKERS];

/* ---------- DHT_NODE ---------- */

static int node_index(const struct sn_dht_node_key *k)
{
	for (uint32_t i = 0; i < dht.n_nodes; i++)
		if (dht.nodes[i].addr.family == k->family &&
		    memcmp(dht.nodes[i].id.b, k->id, SN_NODE_ID_LEN) == 0)
			return (int)i;
	return -1;
}

static int node_apply(uint8_t op, const void *key, uint16_t key_len, const void *val,
		      uint16_t val_len)
{
	struct sn_dht_node_key k;
	struct sn_dht_node_value v;
	int i;

	if (op == SN_TABLE_OP_CLEAR) {
		if (key_len || val_len)
			return -EINVAL;
		dht.n_nodes = 0;
		dht.nodes_dirty = true;
		return 0;
	}
	if (!sn_table_cmd_sizes_ok(op, key_len, sizeof(k), val_len, sizeof(v)))
		return -EINVAL;
	memcpy(&k, key, sizeof(k));
	if ((k.family != AF_INET && k.family != AF_INET6) || k.pad[0] || k.pad[1] || k.pad[2] ||
	    sn_node_id_is_zero((const struct sn_node_id *)k.id))
		return -EINVAL;
	i = node_index(&k);
	if (op == SN_TABLE_OP_DEL) {
		if (i < 0)
			return -ENOENT;
		dht.nodes[i] = dht.nodes[--dht.n_nodes];
		dht.nodes_dirty = true;
		return 0;
	}
	if (op != SN_TABLE_OP_ADD)
		return -EINVAL;
	memcpy(&v, val, sizeof(v));
	struct sn_node_addr a = {.family = k.family, .port = v.port};
	memcpy(a.addr, v.addr, sn_node_addr_len(k.family));
	if (v.flags || sn_rt_addr_martian(&a))
		return -EINVAL;
	if (i < 0) {
		if (dht.n_nodes >= DHT_MAX_NODES)
			return -ENOSPC;
		if (!dht.nodes) {
			dht.nodes = calloc(DHT_MAX_NODES, sizeof(*dht.nodes));
			if (!dht.nodes)
				return -ENOMEM;
		}
		i = (int)dht.n_nodes++;
		memset(&dht.nodes[i], 0, sizeof(dht.nodes[i]));
		memcpy(dht.nodes[i].id.b, k.id, SN_NODE_ID_LEN);
	}
	dht.nodes[i].addr = a;
	dht.nodes_dirty = true;
	return 0;
}

static void snap_free(void *p)
{
	sn_rt_snapshot_free(p);
}

static void node_publish(void)
{
	struct sn_rt_snapshot *next, *old;

	if (!dht.nodes_dirty)
		return;
	next = sn_rt_snapshot_from_nodes(dht.nodes, dht.n_nodes, sn_tsc_to_ns(rte_rdtsc()),
					 ++dht.generation);
	if (!next) {
		/* the commands stay applied; the next publish retries */
		SN_ERR("dht: no memory for a routing snapshot of %u nodes", dht.n_nodes);
		return;
	}
	dht.nodes_dirty = false;
	old = rcu_xchg_pointer(&dht.snap, next);
	sn_rcu_retire(&sn_dp.rcu, old, snap_free);
}

static int node_dump(sn_dump_emit_fn emit)
{
	for (uint32_t i = 0; i < dht.n_nodes; i++) {
		const struct sn_rt_node *n = &dht.nodes[i];
		struct sn_dht_node_key k = {.family = n->addr.family};
		struct sn_dht_node_value v = {.port = n->addr.port};
		int rc;

		memcpy(k.id, n->id.b, SN_NODE_ID_LEN);
		memcpy(v.addr, n->addr.addr, sizeof(v.addr));
		rc = emit(SN_TABLE_DHT_NODE, &k, sizeof(k), &v, sizeof(v));
		if (rc < 0)
			return rc;
	}
	return 0;
}

static uint32_t node_entries(void)
{
	return dht.n_nodes;
}

const struct sn_dp_table sn_dp_table_dht_node = {
    .id = SN_TABLE_DHT_NODE,
    .name = "dht_node",
    .apply = node_apply,
    .publish = node_publish,
    .dump = node_dump,
    .entries = node_entries,
};

/* ---------- DHT_STATE ---------- */

static int state_apply(uint8_t op, const void *key, uint16_t key_len, const void *val,
		       uint16_t val_len)
{
	struct sn_dht_state_key k;
	struct sn_dht_state_value v;
	struct dht_state *s;

	if (op == SN_TABLE_OP_CLEAR || op == SN_TABLE_OP_DEL) {
		if (!sn_table_cmd_sizes_ok(op, key_len, sizeof(k), val_len, sizeof(v)))
			return -EINVAL;
		if (op == SN_TABLE_OP_DEL && !dht.state && !dht.state_draft)
			return -ENOENT;
		free(dht.state_draft);
		dht.state_draft = NULL;
		dht.state_dirty = true;
		return 0;
	}
	if (op != SN_TABLE_OP_ADD ||
	    !sn_table_cmd_sizes_ok(op, key_len, sizeof(k), val_len, sizeof(v)))
		return -EINVAL;
	memcpy(&k, key, sizeof(k));
	memcpy(&v, val, sizeof(v));
	if (k.zero || sn_node_id_is_zero((const struct sn_node_id *)v.node_id))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	memcpy(s->self.b, v.node_id, SN_NODE_ID_LEN);
	s->network = v.network_id;
	sn_token_init(&s->tokens, v.token_prev);
	sn_token_rotate(&s->tokens, v.token_cur);
	s->raw = v;
	free(dht.state_draft);
	dht.state_draft = s;
	dht.state_dirty = true;
	return 0;
}

static void state_publish(void)
{
	struct dht_state *old;

	if (!dht.state_dirty)
		return;
	old = rcu_xchg_pointer(&dht.state, dht.state_draft);
	dht.state_draft = NULL;
	dht.state_dirty = false;
	sn_rcu_retire(&sn_dp.rcu, old, free);
}

static int state_dump(sn_dump_emit_fn emit)
{
	struct sn_dht_state_key k = {0};

	if (!dht.state)
		return 0;
	return emit(SN_TABLE_DHT_STATE, &k, sizeof(k), &dht.state->raw, sizeof(dht.state->raw));
}

static uint32_t state_entries(void)
{
	return dht.state ? 1 : 0;
}

const struct sn_dp_table sn_dp_table_dht_state = {
    .id = SN_TABLE_DHT_STATE,
    .name = "dht_state",
    .apply = state_apply,
    .publish = state_publish,
    .dump = state_dump,
    .entries = state_entries,
};

/* ---------- fast path ---------- */

static enum sn_drop_reason drop_reason(enum sn_dht_reason r)
{
	switch (r) {
	case SN_DHT_R_TRUNCATED:
	case SN_DHT_R_LENGTH:
		return SN_DROP_DHT_TRUNCATED;
	case SN_DHT_R_TOO_DEEP:
	case SN_DHT_R_TOO_MANY_KEYS:
		return SN_DROP_DHT_TOO_DEEP;
	case SN_DHT_R_WRONG_NETWORK:
		return SN_DROP_DHT_WRONG_NETWORK;
	case SN_DHT_R_MARTIAN:
		return SN_DROP_DHT_MARTIAN;
	case SN_DHT_R_SELF_ID:
		return SN_DROP_DHT_SELF_ID;
	case SN_DHT_R_NO_ROOM:
		return SN_DROP_DHT_REPLY_TOO_LARGE;
	default:
		return SN_DROP_DHT_MALFORMED;
	}
}

/* True when this source has not been sampled by this worker for DHT_SEEN_PERIOD_S. */
static inline bool seen_sample(struct sn_worker *w, const struct sn_node_addr *from, uint64_t now)
{
	struct dht_worker *dw = &dht_workers[w->index];
	const uint8_t *p = (const uint8_t *)from;
	uint32_t h = 2166136261u;
	uint64_t *slot;

	for (unsigned i = 0; i < sizeof(*from); i++)
		h = (h ^ p[i]) * 16777619u;
	slot = &dw->seen_tsc[h & (DHT_SEEN_SLOTS - 1)];
	if (*slot && now - *slot < DHT_SEEN_PERIOD_S * sn_dp.tsc_hz)
		return false;
	*slot = now ? now : 1;
	return true;
}

void sn_dht_handle(struct sn_worker *w, struct rte_mbuf *m, uint16_t port_idx,
		   const struct sn_l3_result *res, uint64_t now)
{
	const struct dht_state *st = rcu_dereference(dht.state);
	uint8_t out[SN_DHT_FAST_REPLY_MAX];
	struct sn_dht_fast_result r;
	struct sn_node_addr from;
	uint8_t *frame, *ip, *udp;
	uint8_t our_mac[6], peer_mac[6], our_ip[16], peer_ip[16];
	uint16_t our_port, peer_port, hdr;
	unsigned alen;

	if (unlikely(!st))
		return sn_worker_punt(w, m, port_idx, res, SN_PUNT_DHT, now);

	frame = rte_pktmbuf_mtod(m, uint8_t *);
	ip = frame + res->l3_off;
	udp = frame + res->l4_off;
	alen = res->family == AF_INET ? 4 : 16;
	memset(&from, 0, sizeof(from));
	from.family = res->family;
	memcpy(from.addr, ip + (res->family == AF_INET ? 12 : 8), alen);
	memcpy(&from.port, udp, 2);

	const struct sn_dht_fast_ctx ctx = {
	    .self = &st->self,
	    .network = st->network,
	    .snap = rcu_dereference(dht.snap),
	    .tokens = &st->tokens,
	};
	sn_dht_fast_process(&ctx, frame + res->payload_off, res->payload_len, &from, out,
			    sizeof(out), &r);
	switch (r.verdict) {
	case SN_DHT_PUNT:
		return sn_worker_punt(w, m, port_idx, res, SN_PUNT_DHT, now);
	case SN_DHT_REPLY:
		break;
	default:
		return sn_worker_drop(w, drop_reason(r.reason), m);
	}

	hdr = sn_udp_headroom(res->family);
	if (unlikely(hdr != res->payload_off ||
		     (uint32_t)hdr + r.len > (uint32_t)(m->buf_len - m->data_off)))
		return sn_worker_drop(w, SN_DROP_DHT_REPLY_TOO_LARGE, m);

	/* control learns who talks to us: a copy of the request, sampled and policed */
	if (seen_sample(w, &from, now)) {
		struct rte_mbuf *c = rte_pktmbuf_copy(m, sn_dp.pool, 0, UINT32_MAX);

		if (c)
			sn_worker_punt(w, c, port_idx, res, SN_PUNT_DHT_SEEN, now);
	}

	memcpy(our_mac, frame, 6);
	memcpy(peer_mac, frame + 6, 6);
	memcpy(our_ip, ip + (res->family == AF_INET ? 16 : 24), alen);
	memcpy(peer_ip, from.addr, alen);
	memcpy(&our_port, udp + 2, 2);
	peer_port = from.port;
	memcpy(frame + hdr, out, r.len);
	uint16_t len = sn_build_udp(frame, our_mac, peer_mac, res->family, our_ip, peer_ip,
				    our_port, peer_port, (uint16_t)r.len);
	m->data_len = len;
	m->pkt_len = len;
	m->ol_flags = 0;
	w->stats->counters[r.query == SN_DHT_Q_PING ? SN_CTR_DHT_PING_ANSWERS
						    : SN_CTR_DHT_FIND_ANSWERS]++;
	sn_worker_tx(w, port_idx, m);
}
