/* dht.c: supernode-control's OpenDHT node (see dht.h). */
#include "dht.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "clients.h"
#include "dht_store.h"
#include "fast.h"
#include "json.h"
#include "msgpack.h"
#include "routing.h"
#include "sn_log.h"
#include "table.h"
#include "token.h"
#include "trust.h"
#include "util.h"

#define NODE_ID_FILE	    "dht_node_id"
#define REQ_MAX		    256 /* our outstanding pings/finds */
#define REQ_TIMEOUT_NS	    (3 * CTL_NS_PER_SEC)
#define ADMIT_PENDING_MAX   64 /* pings of unverified nodes at once */
#define PINGS_PER_TICK	    8
#define SYNC_PERIOD_NS	    CTL_NS_PER_SEC	  /* routing table -> DHT_NODE */
#define SYNC_CMDS_MAX	    256			  /* DHT_NODE commands per sync */
#define SYNC_GRACE_NS	    (30 * CTL_NS_PER_SEC) /* keep unverified dumped nodes that long */
#define CMD_TIMEOUT_NS	    (5 * CTL_NS_PER_SEC)
#define BOOTSTRAP_PERIOD_NS (30 * CTL_NS_PER_SEC) /* while no good node is known */
#define BUCKET_REFRESH_NS   (10 * 60 * CTL_NS_PER_SEC)
#define MAINT_PERIOD_NS	    (10 * CTL_NS_PER_SEC) /* bucket refresh checks */
#define EXPIRE_PERIOD_NS    CTL_NS_PER_SEC
#define ROTATE_MIN_S	    (10 * 60)
#define ROTATE_MAX_S	    (30 * 60)
#define PARTIAL_MAX	    64 /* fragmented puts being assembled */
#define PARTIAL_PER_SOURCE  4
#define PARTIAL_PARTS	    8			  /* values in fragments per put */
#define PARTIAL_BYTES_MAX   (8u << 20)		  /* buffered fragment bytes in all */
#define RX_TIMEOUT_NS	    (3 * CTL_NS_PER_SEC)  /* NetworkEngine::RX_TIMEOUT */
#define RX_MAX_PACKET_NS    (10 * CTL_NS_PER_SEC) /* NetworkEngine::RX_MAX_PACKET_TIME */
#define MAX_PACKET_VALUES   600			  /* NetworkEngine::MAX_PACKET_VALUE_SIZE */
#define MAX_VALUES_INLINE   50
#define GET_VALUES_MAX	    256	 /* values in one get answer */
#define PUSH_VALUES_MAX	    100	 /* values in one listener push */
#define TX_PAYLOAD_MAX	    1400 /* answers fit a 1500-byte MTU over IPv6 */
#define ABUSE_SLOTS	    1024 /* addresses whose bad messages are being counted */
#define ABUSE_PROBE	    8
#define ABUSE_WINDOW_NS	    (60 * CTL_NS_PER_SEC)
#define POLICE_PERIOD_NS    CTL_NS_PER_SEC /* routing table re-checked against the limits */

/* Bad messages from one address (port ignored) and its ban after an eviction. */
struct abuse {
	struct sn_node_addr addr;  /* port 0; family 0: free */
	uint32_t count;		   /* bad messages in the window */
	uint64_t window_ns;	   /* window start */
	uint64_t banned_until_ns;  /* not admitted before; 0: not banned */
	uint64_t policed_until_ns; /* handed to guard as a Sybil suspect until */
};

enum req_kind { REQ_PING = 1, REQ_FIND, REQ_UPDATE /* a listener push: its confirmation */ };

struct dht_req {
	uint32_t tid; /* 0: free */
	uint8_t kind;
	bool id_known;
	bool admit; /* a liveness check of a node that contacted us */
	struct sn_node_id id;
	struct sn_node_addr to;
	uint64_t sent_ns;
};

enum pushed_state { PUSH_FREE = 0, PUSH_ADDING, PUSH_PRESENT, PUSH_DELETING };

struct pushed_node {
	struct sn_node_id id;
	struct sn_node_addr addr;
	uint8_t state;
	uint32_t seq;
	uint64_t sent_ns;
	uint64_t mark; /* sync generation that wanted it */
};

struct partial {
	bool used;
	uint32_t tid;
	struct sn_udp_tuple tuple; /* of the first datagram */
	uint16_t port_id;
	uint64_t start_ns, last_ns;
	uint8_t *msg; /* the put as received */
	uint32_t msg_len;
	uint32_t n_parts;
	struct {
		uint32_t index, size, got;
		uint8_t *data;
	} parts[PARTIAL_PARTS];
};

/* Where a datagram came from and which of our addresses it went to (from the punt). */
struct peer {
	struct sn_udp_tuple tuple; /* src: peer; dst: us */
	uint16_t port_id;
	struct sn_node_addr from;
};

struct ctl_dht {
	struct ctl_chan *ch;
	char runtime_dir[SN_CONFIG_PATH_LEN];
	struct sn_node_id self;
	struct sn_node_id vouch_key; /* InfoHash(CTL_TRUST_VOUCH_KEY) */
	uint32_t network;
	struct sn_token_secrets tokens;
	uint64_t next_rotate_ns;
	/* our addresses for requests we start */
	bool have4, have6;
	uint8_t addr4[4], addr6[16];
	uint16_t port; /* network order */
	/* DHT_STATE in the dataplane */
	bool state_ok;	    /* the dataplane holds our current state */
	bool state_pending; /* a command is on its way */
	uint32_t state_seq;
	uint64_t state_sent_ns;
	bool dump_state; /* the last dump had a state ... */
	struct sn_dht_state_value dumped;
	bool adopted; /* secrets taken over from the dataplane once */
	bool ready;   /* channel READY since the last resync */
	uint64_t ready_ns;
	/* routing */
	struct sn_rt *rt[2];
	struct sn_rt_snapshot *snap; /* for our own answers; rebuilt when dirty */
	bool snap_dirty;
	uint64_t snap_gen;
	struct dht_req reqs[REQ_MAX];
	uint32_t next_tid;
	uint32_t n_boot;
	struct sn_node_addr boot[SN_CONFIG_MAX_DHT_BOOTSTRAP];
	uint64_t next_bootstrap_ns;
	uint64_t next_maint_ns;
	uint64_t next_sync_ns;
	uint64_t sync_mark;
	struct pushed_node *pushed;
	uint32_t n_pushed, cap_pushed;
	/* storage */
	struct dht_store store;
	struct partial partials[PARTIAL_MAX];
	uint64_t partial_bytes;
	uint64_t next_expire_ns;
	struct ctl_ratelimit rl;
	/* join admission (RFC 5765 2.4) */
	uint32_t admit_prefix[2]; /* nodes per /24 (IPv4) and /64 (IPv6) per bucket */
	bool admit_sybil;	  /* ask the trust module */
	uint32_t evict_bad;	  /* bad messages per window that evict; 0: never */
	uint64_t ban_ns;	  /* evicted addresses stay out this long */
	uint64_t recheck_ns;	  /* silent nodes are pinged after this */
	uint64_t trust_gen;	  /* ctl_trust_generation() at the last police pass */
	uint64_t next_police_ns;
	bool police_now; /* an address crossed the abuse threshold */
	struct abuse abuse[ABUSE_SLOTS];
	struct ctl_ratelimit evict_rl;
	/* scratch */
	uint64_t tx[SN_CHANNEL_MAX_MSG / 8];
};

static struct ctl_dht *g_dht; /* for the admin commands */

static void stat_inc(uint64_t *c)
{
	ctl_ctr_inc(c);
}

static void count_error(enum sn_dht_query q, enum ctl_dht_error e)
{
	if ((unsigned)q < SN_DHT_Q_MAX && (unsigned)e < CTL_DHT_E_MAX)
		stat_inc(&ctl_dht_stats.errors[q][e]);
}

static void count_drop(unsigned reason_index)
{
	if (reason_index < CTL_DHT_D_MAX)
		stat_inc(&ctl_dht_stats.dropped[reason_index]);
}

static void count_parse_drop(enum sn_dht_reason r)
{
	if (r > SN_DHT_R_OK && r < SN_DHT_R_MAX)
		count_drop((unsigned)r - 1);
}

static uint64_t rand_u64(void)
{
	uint64_t x = 0;

	if (getrandom(&x, sizeof(x), 0) != sizeof(x))
		x = ctl_mono_ns() * 6364136223846793005ull + (uint64_t)getpid();
	return x;
}

static void rand_bytes(void *p, size_t n)
{
	uint8_t *b = p;

	while (n) {
		ssize_t got = getrandom(b, n, 0);

		if (got <= 0) {
			for (size_t i = 0; i < n; i++)
				b[i] = (uint8_t)rand_u64();
			return;
		}
		b += got;
		n -= (size_t)got;
	}
}

/* ---------- addresses and sending ---------- */

static void tuple_to_addr(const struct sn_udp_tuple *t, struct sn_node_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->family = t->family;
	a->port = t->src_port;
	memcpy(a->addr, t->src, sn_node_addr_len(t->family));
}

static bool addr_eq(const struct sn_node_addr *a, const struct sn_node_addr *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->addr, b->addr, sn_node_addr_len(a->family)) == 0;
}

static void addr_str(const struct sn_node_addr *a, char *s, size_t n)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	inet_ntop(a->family, a->addr, ip, sizeof(ip));
	snprintf(s, n, a->family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, ntohs(a->port));
}

/* Sends payload to `to` from our address of its family (requests we start). */
static int send_to(struct ctl_dht *d, const struct sn_node_addr *to, const void *payload,
		   size_t len)
{
	struct sn_msg_inject *inj =
	    (struct sn_msg_inject *)((uint8_t *)d->tx + sizeof(struct sn_msg_hdr));

	if ((to->family == AF_INET && !d->have4) || (to->family == AF_INET6 && !d->have6) ||
	    len > TX_PAYLOAD_MAX || !d->ready)
		return -EADDRNOTAVAIL;
	memset(inj, 0, sizeof(*inj));
	inj->port_id = UINT16_MAX;
	inj->payload_len = (uint16_t)len;
	inj->tuple.family = to->family;
	inj->tuple.src_port = d->port;
	inj->tuple.dst_port = to->port;
	memcpy(inj->tuple.src, to->family == AF_INET ? d->addr4 : d->addr6,
	       sn_node_addr_len(to->family));
	memcpy(inj->tuple.dst, to->addr, sn_node_addr_len(to->family));
	memcpy(inj->payload, payload, len);
	sn_msg_init(d->tx, SN_MSG_INJECT, ctl_chan_next_seq(d->ch), (uint32_t)(sizeof(*inj) + len));
	return ctl_chan_send(d->ch, d->tx, sizeof(struct sn_msg_hdr) + sizeof(*inj) + len);
}

/* Sends payload back to a peer from the address and port it talked to. */
static int send_back(struct ctl_dht *d, const struct sn_udp_tuple *t, uint16_t port_id,
		     const void *payload, size_t len)
{
	struct sn_msg_inject *inj =
	    (struct sn_msg_inject *)((uint8_t *)d->tx + sizeof(struct sn_msg_hdr));

	if (len > TX_PAYLOAD_MAX || len > SN_CHANNEL_MAX_PAYLOAD)
		return -EMSGSIZE;
	memset(inj, 0, sizeof(*inj));
	inj->port_id = port_id;
	inj->payload_len = (uint16_t)len;
	inj->tuple.family = t->family;
	inj->tuple.src_port = t->dst_port;
	inj->tuple.dst_port = t->src_port;
	memcpy(inj->tuple.src, t->dst, sizeof(inj->tuple.src));
	memcpy(inj->tuple.dst, t->src, sizeof(inj->tuple.dst));
	memcpy(inj->payload, payload, len);
	sn_msg_init(d->tx, SN_MSG_INJECT, ctl_chan_next_seq(d->ch), (uint32_t)(sizeof(*inj) + len));
	return ctl_chan_send(d->ch, d->tx, sizeof(struct sn_msg_hdr) + sizeof(*inj) + len);
}

static void count_bad(struct ctl_dht *d, const struct sn_node_addr *a, uint64_t now);

static void send_error(struct ctl_dht *d, const struct peer *p, uint32_t tid, uint16_t code,
		       const char *text)
{
	uint8_t buf[256];
	int len = sn_dht_build_error(buf, sizeof(buf), tid, d->network, &d->self, code, text);

	ctl_clients_dht_error(&p->tuple); /* promotion history */
	count_bad(d, &p->from, ctl_mono_ns());
	if (len > 0)
		send_back(d, &p->tuple, p->port_id, buf, (size_t)len);
}

/* ---------- DHT_STATE ---------- */

static int load_node_id(struct ctl_dht *d, const struct sn_config *cfg)
{
	char path[SN_CONFIG_PATH_LEN + 32], hex[SN_NODE_ID_HEX_LEN + 2];
	ssize_t n;
	int fd;

	if (cfg->dht.has_node_id)
		return sn_node_id_from_hex(cfg->dht.node_id, SN_NODE_ID_HEX_LEN, &d->self);
	snprintf(path, sizeof(path), "%s/%s", cfg->runtime_dir, NODE_ID_FILE);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, hex, sizeof(hex));
		close(fd);
		if (n >= SN_NODE_ID_HEX_LEN &&
		    sn_node_id_from_hex(hex, SN_NODE_ID_HEX_LEN, &d->self) == 0 &&
		    !sn_node_id_is_zero(&d->self))
			return 0;
		SN_WARN("dht: %s does not hold a node id; making a new one", path);
	}
	do
		rand_bytes(d->self.b, sizeof(d->self.b));
	while (sn_node_id_is_zero(&d->self));
	sn_node_id_to_hex(&d->self, hex);
	hex[SN_NODE_ID_HEX_LEN] = '\n';
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, hex, SN_NODE_ID_HEX_LEN + 1) != SN_NODE_ID_HEX_LEN + 1)
		SN_WARN(
		    "dht: cannot keep the node id in %s: %s (a new one comes at the next start)",
		    path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return 0;
}

static void state_value(const struct ctl_dht *d, struct sn_dht_state_value *v)
{
	memset(v, 0, sizeof(*v));
	memcpy(v->node_id, d->self.b, SN_NODE_ID_LEN);
	v->network_id = d->network;
	memcpy(v->token_cur, d->tokens.current, sizeof(v->token_cur));
	memcpy(v->token_prev, d->tokens.previous, sizeof(v->token_prev));
}

static void state_push(struct ctl_dht *d, uint64_t now)
{
	uint64_t buf[(sizeof(struct sn_msg_hdr) + sizeof(struct sn_msg_table_cmd) + 128) / 8];
	struct sn_dht_state_key k = {0};
	struct sn_dht_state_value v;
	uint32_t seq = ctl_chan_next_seq(d->ch);
	int len;

	state_value(d, &v);
	len = sn_msg_build_table(buf, sizeof(buf), SN_MSG_TABLE_CMD, seq, SN_TABLE_DHT_STATE,
				 SN_TABLE_OP_ADD, &k, sizeof(k), &v, sizeof(v));
	d->state_ok = false;
	if (len < 0 || ctl_chan_send(d->ch, buf, (size_t)len) < 0) {
		d->state_pending = false; /* the next tick tries again */
		return;
	}
	d->state_pending = true;
	d->state_seq = seq;
	d->state_sent_ns = now;
}

static void schedule_rotation(struct ctl_dht *d, uint64_t now)
{
	uint64_t span = ROTATE_MAX_S - ROTATE_MIN_S;

	d->next_rotate_ns = now + (ROTATE_MIN_S + rand_u64() % (span + 1)) * CTL_NS_PER_SEC;
}

static void rotate_tokens(struct ctl_dht *d, uint64_t now)
{
	uint8_t secret[SN_TOKEN_SECRET_LEN];

	rand_bytes(secret, sizeof(secret));
	sn_token_rotate(&d->tokens, secret);
	stat_inc(&ctl_dht_stats.token_rotations);
	schedule_rotation(d, now);
	if (d->ready)
		state_push(d, now);
}

/* ---------- table hooks ---------- */

static struct pushed_node *pushed_find(struct ctl_dht *d, const struct sn_node_id *id,
				       uint8_t family)
{
	for (uint32_t i = 0; i < d->n_pushed; i++)
		if (d->pushed[i].state != PUSH_FREE && d->pushed[i].addr.family == family &&
		    sn_node_id_eq(&d->pushed[i].id, id))
			return &d->pushed[i];
	return NULL;
}

static struct pushed_node *pushed_new(struct ctl_dht *d)
{
	for (uint32_t i = 0; i < d->n_pushed; i++)
		if (d->pushed[i].state == PUSH_FREE)
			return &d->pushed[i];
	if (d->n_pushed == d->cap_pushed) {
		uint32_t nc = d->cap_pushed ? 2 * d->cap_pushed : 64;
		struct pushed_node *np = realloc(d->pushed, nc * sizeof(*np));

		if (!np)
			return NULL;
		d->pushed = np;
		d->cap_pushed = nc;
	}
	memset(&d->pushed[d->n_pushed], 0, sizeof(d->pushed[0]));
	return &d->pushed[d->n_pushed++];
}

static uint32_t pushed_count(const struct ctl_dht *d)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < d->n_pushed; i++)
		n += d->pushed[i].state == PUSH_PRESENT || d->pushed[i].state == PUSH_DELETING;
	return n;
}

static void hook_dump_entry(void *arg, uint16_t table, const void *key, uint16_t key_len,
			    const void *val, uint16_t val_len)
{
	struct ctl_dht *d = arg;

	if (table == SN_TABLE_DHT_STATE && val_len == sizeof(d->dumped)) {
		memcpy(&d->dumped, val, sizeof(d->dumped));
		d->dump_state = true;
	} else if (table == SN_TABLE_DHT_NODE && key_len == sizeof(struct sn_dht_node_key) &&
		   val_len == sizeof(struct sn_dht_node_value)) {
		struct sn_dht_node_key k;
		struct sn_dht_node_value v;
		struct pushed_node *p;

		memcpy(&k, key, sizeof(k));
		memcpy(&v, val, sizeof(v));
		if (sn_rt_family_index(k.family) < 0)
			return;
		p = pushed_find(d, (const struct sn_node_id *)k.id, k.family);
		if (!p)
			p = pushed_new(d);
		if (!p)
			return;
		memcpy(p->id.b, k.id, SN_NODE_ID_LEN);
		memset(&p->addr, 0, sizeof(p->addr));
		p->addr.family = k.family;
		p->addr.port = v.port;
		memcpy(p->addr.addr, v.addr, sn_node_addr_len(k.family));
		p->state = PUSH_PRESENT;
	}
}

static void send_ping(struct ctl_dht *d, const struct sn_node_addr *to, const struct sn_node_id *id,
		      bool admit, uint64_t now);

static void hook_ready(void *arg, uint64_t now)
{
	struct ctl_dht *d = arg;
	struct sn_dht_state_value mine;

	d->ready = true;
	d->ready_ns = now;
	d->next_sync_ns = now;
	/* a restarted control takes over the secrets the dataplane hands tokens out with */
	if (d->dump_state && !d->adopted &&
	    memcmp(d->dumped.node_id, d->self.b, SN_NODE_ID_LEN) == 0 &&
	    d->dumped.network_id == d->network) {
		memcpy(d->tokens.current, d->dumped.token_cur, SN_TOKEN_SECRET_LEN);
		memcpy(d->tokens.previous, d->dumped.token_prev, SN_TOKEN_SECRET_LEN);
		SN_INFO("dht: kept the dataplane's token secrets");
	}
	d->adopted = true;
	state_value(d, &mine);
	if (d->dump_state && memcmp(&mine, &d->dumped, sizeof(mine)) == 0) {
		d->state_ok = true;
		d->state_pending = false;
	} else {
		state_push(d, now);
	}
	d->dump_state = false;
	/* nodes the dataplane already hands out are verified during the grace period (tick) */
	d->next_bootstrap_ns = now;
}

static bool hook_ack(void *arg, uint32_t seq, int32_t result, uint32_t entries)
{
	struct ctl_dht *d = arg;

	if (d->state_pending && seq == d->state_seq) {
		d->state_pending = false;
		if (result == 0) {
			d->state_ok = true;
			stat_inc(&ctl_dht_stats.state_installs);
			SN_INFO("dht: node state installed in the dataplane");
		} else {
			SN_WARN("dht: dataplane refused the node state: %d", result);
		}
		return true;
	}
	for (uint32_t i = 0; i < d->n_pushed; i++) {
		struct pushed_node *p = &d->pushed[i];

		if ((p->state != PUSH_ADDING && p->state != PUSH_DELETING) || p->seq != seq)
			continue;
		if (p->state == PUSH_ADDING)
			p->state = result == 0 ? PUSH_PRESENT : PUSH_FREE;
		else
			p->state = (result == 0 || result == -ENOENT) ? PUSH_FREE : PUSH_PRESENT;
		ctl_ctr_set(&ctl_dht_stats.nodes_pushed, pushed_count(d));
		return true;
	}
	return false;
}

/* ---------- routing ---------- */

static struct sn_rt *rt_of(struct ctl_dht *d, int family)
{
	int fi = sn_rt_family_index(family);

	return fi < 0 ? NULL : d->rt[fi];
}

static void update_node_gauges(struct ctl_dht *d, uint64_t now)
{
	for (int f = 0; f < 2; f++)
		ctl_ctr_set(&ctl_dht_stats.nodes[f], sn_rt_good_count(d->rt[f], now));
}

static const struct sn_rt_snapshot *snapshot(struct ctl_dht *d, uint64_t now)
{
	if (d->snap_dirty || !d->snap) {
		struct sn_rt_snapshot *s =
		    sn_rt_snapshot_build(d->rt[0], d->rt[1], now, ++d->snap_gen);

		if (s) {
			sn_rt_snapshot_free(d->snap);
			d->snap = s;
			d->snap_dirty = false;
		}
	}
	return d->snap;
}

static struct dht_req *req_find(struct ctl_dht *d, uint32_t tid)
{
	for (int i = 0; i < REQ_MAX; i++)
		if (d->reqs[i].tid == tid && tid)
			return &d->reqs[i];
	return NULL;
}

static struct dht_req *req_new(struct ctl_dht *d, uint64_t now)
{
	for (int i = 0; i < REQ_MAX; i++)
		if (!d->reqs[i].tid) {
			memset(&d->reqs[i], 0, sizeof(d->reqs[i]));
			do
				d->reqs[i].tid = ++d->next_tid;
			while (!d->reqs[i].tid);
			d->reqs[i].sent_ns = now;
			return &d->reqs[i];
		}
	return NULL;
}

static bool ping_pending(struct ctl_dht *d, const struct sn_node_addr *to, unsigned *admits)
{
	bool found = false;

	*admits = 0;
	for (int i = 0; i < REQ_MAX; i++) {
		if (!d->reqs[i].tid)
			continue;
		*admits += d->reqs[i].admit;
		if (d->reqs[i].kind == REQ_PING && addr_eq(&d->reqs[i].to, to))
			found = true;
	}
	return found;
}

static void send_ping(struct ctl_dht *d, const struct sn_node_addr *to, const struct sn_node_id *id,
		      bool admit, uint64_t now)
{
	uint8_t buf[128];
	struct dht_req *r;
	unsigned admits;
	int len;

	if (sn_rt_addr_martian(to) || ping_pending(d, to, &admits) ||
	    (admit && admits >= ADMIT_PENDING_MAX))
		return;
	r = req_new(d, now);
	if (!r)
		return;
	len = sn_dht_build_ping(buf, sizeof(buf), r->tid, d->network, &d->self);
	if (len < 0 || send_to(d, to, buf, (size_t)len) < 0) {
		r->tid = 0;
		return;
	}
	r->kind = REQ_PING;
	r->to = *to;
	r->admit = admit;
	if (id) {
		r->id = *id;
		r->id_known = true;
	}
	stat_inc(&ctl_dht_stats.pings_sent);
}

static void send_find(struct ctl_dht *d, const struct sn_node_addr *to, const struct sn_node_id *id,
		      const struct sn_node_id *target, uint64_t now)
{
	uint8_t buf[160];
	struct dht_req *r = req_new(d, now);
	unsigned want = (d->have4 ? SN_DHT_WANT4 : 0) | (d->have6 ? SN_DHT_WANT6 : 0);
	int len;

	if (!r)
		return;
	len = sn_dht_build_find(buf, sizeof(buf), r->tid, d->network, &d->self, target,
				want == (SN_DHT_WANT4 | SN_DHT_WANT6) ? want : 0);
	if (len < 0 || send_to(d, to, buf, (size_t)len) < 0) {
		r->tid = 0;
		return;
	}
	r->kind = REQ_FIND;
	r->to = *to;
	if (id) {
		r->id = *id;
		r->id_known = true;
	}
	stat_inc(&ctl_dht_stats.finds_sent);
}

/* ---------- join admission (RFC 5765 2.4) ---------- */

/* Same /24 (IPv4) or /64 (IPv6): one operator, one subnet, one vote per bucket. */
static bool same_prefix(const struct sn_node_addr *a, const struct sn_node_addr *b)
{
	return a->family == b->family && !memcmp(a->addr, b->addr, a->family == AF_INET ? 3 : 8);
}

static uint32_t abuse_hash(const struct sn_node_addr *a)
{
	uint64_t h = 1469598103934665603ull;

	for (unsigned i = 0; i < sn_node_addr_len(a->family); i++)
		h = (h ^ a->addr[i]) * 1099511628211ull;
	return (uint32_t)(h >> 20);
}

static bool addr_only_eq(const struct sn_node_addr *a, const struct sn_node_addr *b)
{
	return a->family == b->family && !memcmp(a->addr, b->addr, sn_node_addr_len(a->family));
}

/* The entry of a's address; with create, a free, idle or the oldest probed slot. */
static struct abuse *abuse_slot(struct ctl_dht *d, const struct sn_node_addr *a, bool create,
				uint64_t now)
{
	uint32_t h = abuse_hash(a);
	struct abuse *victim = NULL;

	for (unsigned i = 0; i < ABUSE_PROBE; i++) {
		struct abuse *e = &d->abuse[(h + i) % ABUSE_SLOTS];

		if (e->addr.family && addr_only_eq(&e->addr, a))
			return e;
		if (!create)
			continue;
		if (!e->addr.family || (now - e->window_ns > ABUSE_WINDOW_NS &&
					now >= e->banned_until_ns && now >= e->policed_until_ns)) {
			if (!victim || victim->addr.family)
				victim = e;
		} else if (!victim || (victim->addr.family && e->window_ns < victim->window_ns)) {
			victim = e;
		}
	}
	if (!victim)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	victim->addr.family = a->family;
	memcpy(victim->addr.addr, a->addr, sn_node_addr_len(a->family));
	victim->window_ns = now;
	return victim;
}

/* A malformed or refused message from a: past dht.admission.evict_bad_msgs in a minute, the
 * address is banned and its nodes go at the next police pass. */
static void count_bad(struct ctl_dht *d, const struct sn_node_addr *a, uint64_t now)
{
	struct abuse *e;

	if (!d->evict_bad || sn_rt_family_index(a->family) < 0)
		return;
	e = abuse_slot(d, a, true, now);
	if (!e)
		return;
	if (now - e->window_ns > ABUSE_WINDOW_NS) {
		e->window_ns = now;
		e->count = 0;
	}
	if (++e->count >= d->evict_bad && now >= e->banned_until_ns) {
		e->banned_until_ns = now + d->ban_ns;
		d->police_now = true;
	}
}

static bool banned(struct ctl_dht *d, const struct sn_node_addr *a, uint64_t now)
{
	const struct abuse *e = abuse_slot(d, a, false, now);

	return e && now < e->banned_until_ns;
}

static void ban(struct ctl_dht *d, const struct sn_node_addr *a, uint64_t now)
{
	struct abuse *e = abuse_slot(d, a, true, now);

	if (e && d->ban_ns)
		e->banned_until_ns = now + d->ban_ns;
}

static bool suspect(struct ctl_dht *d, const struct sn_node_id *id, const struct sn_node_addr *a)
{
	return d->admit_sybil &&
	       ctl_trust_verdict_node(id->b, a->family, a->addr) == CTL_TRUST_SUSPECT;
}

/* Nodes of a's prefix in the bucket id falls into, id itself excluded. */
static unsigned prefix_count(const struct sn_rt *rt, const struct sn_node_id *id,
			     const struct sn_node_addr *a)
{
	const struct sn_rt_bucket *b = &rt->buckets[sn_rt_bucket_index(rt, id)];
	unsigned n = 0;

	for (unsigned i = 0; i < b->count; i++)
		n += !sn_node_id_eq(&b->nodes[i].id, id) && same_prefix(&b->nodes[i].addr, a);
	return n;
}

/* CTL_DHT_J_ADMITTED when a new node may enter (liveness is the caller's part). */
static enum ctl_dht_join admit_check(struct ctl_dht *d, const struct sn_rt *rt,
				     const struct sn_node_id *id, const struct sn_node_addr *a,
				     uint64_t now)
{
	if (banned(d, a, now))
		return CTL_DHT_J_REJECTED_BANNED;
	if (suspect(d, id, a))
		return CTL_DHT_J_REJECTED_SYBIL;
	if (prefix_count(rt, id, a) >= d->admit_prefix[sn_rt_family_index(a->family)])
		return CTL_DHT_J_REJECTED_PREFIX;
	return CTL_DHT_J_ADMITTED;
}

static void count_join(enum ctl_dht_join j)
{
	stat_inc(&ctl_dht_stats.joins[j]);
}

/* A Sybil suspect's address is policed harder by guard; once per ban period, not at every
 * message it sends. */
static void police_addr(struct ctl_dht *d, const struct sn_node_addr *a, const char *why,
			uint64_t now)
{
	struct abuse *e = abuse_slot(d, a, true, now);

	if (e && now < e->policed_until_ns)
		return;
	if (e)
		e->policed_until_ns = now + (d->ban_ns ? d->ban_ns : 60 * CTL_NS_PER_SEC);
	ctl_trust_police_addr(a->family, a->addr, why);
}

static void evict(struct ctl_dht *d, struct sn_rt *rt, const struct sn_rt_node *n,
		  enum ctl_dht_eviction why, uint64_t now)
{
	static const char *const names[CTL_DHT_EV_MAX] = {
#define CTL_X_NAME(name, label) label,
	    CTL_DHT_EVICTIONS(CTL_X_NAME)
#undef CTL_X_NAME
	};
	struct sn_node_id id = n->id;
	struct sn_node_addr a = n->addr;
	char hex[SN_NODE_ID_HEX_LEN + 1], as[64];
	uint64_t skipped;

	sn_rt_remove(rt, &id);
	d->snap_dirty = true;
	stat_inc(&ctl_dht_stats.evictions[why]);
	if (why == CTL_DHT_EV_SYBIL || why == CTL_DHT_EV_ABUSE)
		ban(d, &a, now);
	if (why == CTL_DHT_EV_SYBIL)
		police_addr(d, &a, "dht node suspect", now);
	if (ctl_ratelimit_ok(&d->evict_rl, now, &skipped)) {
		sn_node_id_to_hex(&id, hex);
		addr_str(&a, as, sizeof(as));
		SN_INFO("dht: evict: node %s at %s (%s)%s", hex, as, names[why],
			skipped ? " (more evictions not logged)" : "");
	}
}

/* Re-checks every node of the routing tables: suspects (the trust module changed its mind),
 * banned addresses, and prefixes over the limit (a cached replacement moved in) go. */
static void police(struct ctl_dht *d, uint64_t now)
{
	d->police_now = false;
	d->trust_gen = ctl_trust_generation();
	d->next_police_ns = now + POLICE_PERIOD_NS;
	for (int f = 0; f < 2; f++) {
		struct sn_rt *rt = d->rt[f];

		for (unsigned b = 0; b < rt->n_buckets; b++) {
			struct sn_rt_bucket *bk = &rt->buckets[b];

			for (unsigned j = 0; j < bk->count;) {
				const struct sn_rt_node *n = &bk->nodes[j];
				unsigned same = 0;
				int why = -1;

				for (unsigned i = 0; i < j; i++)
					same += same_prefix(&bk->nodes[i].addr, &n->addr);
				if (banned(d, &n->addr, now))
					why = CTL_DHT_EV_ABUSE;
				else if (suspect(d, &n->id, &n->addr))
					why = CTL_DHT_EV_SYBIL;
				else if (same >= d->admit_prefix[f])
					why = CTL_DHT_EV_PREFIX;
				if (why < 0) {
					j++;
					continue;
				}
				/* the cached replacement may take slot j: look at it again */
				evict(d, rt, n, (enum ctl_dht_eviction)why, now);
			}
		}
	}
}

/* A node answered us, or (heard) sent us a query. Unknown nodes that only sent a query are
 * pinged first: OpenDHT adds every node that contacts it after it answered. A new node also
 * has to pass admit_check (abuse ban, Sybil verdict, per-prefix limit), and a known node that
 * shows up at another address moves only after it answered there. */
static void node_seen(struct ctl_dht *d, const struct sn_node_id *id, const struct sn_node_addr *a,
		      enum sn_rt_event ev, uint64_t now)
{
	struct sn_rt *rt = rt_of(d, a->family);
	const struct sn_rt_node *known;
	struct sn_rt_node dubious;
	bool has_ping = false;
	int rc;

	if (!rt || sn_node_id_is_zero(id) || sn_node_id_eq(id, &d->self) || sn_rt_addr_martian(a))
		return;
	known = sn_rt_find(rt, id);
	if (!known || !addr_eq(&known->addr, a)) {
		enum ctl_dht_join j = admit_check(d, rt, id, a, now);

		if (j != CTL_DHT_J_ADMITTED) {
			count_join(j);
			if (j == CTL_DHT_J_REJECTED_SYBIL)
				police_addr(d, a, "dht node suspect", now);
			return;
		}
	}
	if (ev == SN_RT_HEARD && (!known || !addr_eq(&known->addr, a) || !known->last_reply_ns)) {
		send_ping(d, a, id, true, now);
		if (!known || !addr_eq(&known->addr, a))
			return;
	}
	rc = sn_rt_update(rt, id, a, ev, now, &dubious, &has_ping);
	if (rc == SN_RT_ADDED || rc == SN_RT_REPLACED)
		count_join(CTL_DHT_J_ADMITTED);
	if (rc >= 0 && (rc == SN_RT_ADDED || rc == SN_RT_REPLACED || ev == SN_RT_REPLIED))
		d->snap_dirty = true;
	if (has_ping)
		send_ping(d, &dubious.addr, &dubious.id, false, now);
}

/* Node lists of a find or get answer: unknown nodes get a ping before they count. */
static void learn_nodes(struct ctl_dht *d, const struct sn_dht_span *s, int family, uint64_t now)
{
	unsigned len = sn_rt_compact_len(family);
	struct sn_rt *rt = rt_of(d, family);

	if (!rt || !len)
		return;
	for (uint32_t off = 0; off + len <= s->len; off += len) {
		const uint8_t *e = s->p + off;
		struct sn_node_id id;
		struct sn_node_addr a = {.family = (uint8_t)family};

		memcpy(id.b, e, SN_NODE_ID_LEN);
		memcpy(a.addr, e + SN_NODE_ID_LEN, len - SN_NODE_ID_LEN - 2);
		memcpy(&a.port, e + len - 2, 2);
		if (sn_node_id_eq(&id, &d->self) || sn_rt_find(rt, &id))
			continue;
		send_ping(d, &a, &id, true, now);
	}
}

static void on_reply(struct ctl_dht *d, const struct sn_dht_msg *m, const struct peer *p,
		     uint64_t now)
{
	struct dht_req *r = req_find(d, m->tid);

	if (!r || !addr_eq(&r->to, &p->from)) {
		/* e.g. a listener confirming our update: still a sign of life */
		count_drop(CTL_DHT_D_UNEXPECTED_REPLY);
		if (m->type == SN_DHT_T_REPLY) {
			struct sn_rt *rt = rt_of(d, p->from.family);
			const struct sn_rt_node *n = rt ? sn_rt_find(rt, &m->id) : NULL;

			if (n && addr_eq(&n->addr, &p->from))
				sn_rt_update(rt, &m->id, &p->from, SN_RT_HEARD, now, NULL, NULL);
		}
		return;
	}
	r->tid = 0;
	if (m->type == SN_DHT_T_ERROR)
		return;
	if (r->kind == REQ_UPDATE) {
		node_seen(d, &m->id, &p->from, SN_RT_HEARD, now);
		return;
	}
	node_seen(d, &m->id, &p->from, SN_RT_REPLIED, now);
	if (m->has & SN_DHT_F_NODES4)
		learn_nodes(d, &m->nodes4, AF_INET, now);
	if (m->has & SN_DHT_F_NODES6)
		learn_nodes(d, &m->nodes6, AF_INET6, now);
}

static void expire_requests(struct ctl_dht *d, uint64_t now)
{
	for (int i = 0; i < REQ_MAX; i++) {
		struct dht_req *r = &d->reqs[i];
		struct sn_rt *rt;

		if (!r->tid || now - r->sent_ns < REQ_TIMEOUT_NS)
			continue;
		if (r->kind == REQ_UPDATE) {
			r->tid = 0; /* OpenDHT does not resend updates either */
			continue;
		}
		stat_inc(&ctl_dht_stats.request_timeouts);
		rt = rt_of(d, r->to.family);
		if (r->admit && (!r->id_known || !rt || !sn_rt_find(rt, &r->id)))
			count_join(CTL_DHT_J_REJECTED_LIVENESS);
		if (r->id_known && rt) {
			const struct sn_rt_node *n = sn_rt_find(rt, &r->id);

			if (n && addr_eq(&n->addr, &r->to) &&
			    sn_rt_failed(rt, &r->id) >= SN_RT_MAX_FAILS)
				evict(d, rt, n, CTL_DHT_EV_LIVENESS, now);
		}
		r->tid = 0;
	}
}

static void bootstrap(struct ctl_dht *d, uint64_t now)
{
	for (uint32_t i = 0; i < d->n_boot; i++) {
		send_ping(d, &d->boot[i], NULL, false, now);
		send_find(d, &d->boot[i], NULL, &d->self, now);
	}
}

/* Pings nodes we have not heard from lately; refreshes buckets that did not change. */
static void maintain(struct ctl_dht *d, uint64_t now, bool buckets)
{
	unsigned pings = 0;

	for (int f = 0; f < 2; f++) {
		struct sn_rt *rt = d->rt[f];

		for (unsigned b = 0; b < rt->n_buckets; b++) {
			struct sn_rt_bucket *bk = &rt->buckets[b];

			for (unsigned j = 0; j < bk->count && pings < PINGS_PER_TICK; j++) {
				struct sn_rt_node *n = &bk->nodes[j];
				unsigned admits;

				if (now - n->last_seen_ns < d->recheck_ns ||
				    ping_pending(d, &n->addr, &admits))
					continue;
				send_ping(d, &n->addr, &n->id, false, now);
				pings++;
			}
			if (!buckets || !bk->count || now - bk->changed_ns < BUCKET_REFRESH_NS)
				continue;
			struct sn_node_id rnd, target;
			const struct sn_rt_node *to = &bk->nodes[rand_u64() % bk->count];

			rand_bytes(rnd.b, sizeof(rnd.b));
			sn_rt_random_id(rt, b, &rnd, &target);
			bk->changed_ns = now; /* one refresh per period */
			send_find(d, &to->addr, &to->id, &target, now);
		}
	}
}

static void node_cmd(struct ctl_dht *d, struct pushed_node *p, uint8_t op, uint64_t now)
{
	uint64_t buf[(sizeof(struct sn_msg_hdr) + sizeof(struct sn_msg_table_cmd) + 64) / 8];
	struct sn_dht_node_key k = {.family = p->addr.family};
	struct sn_dht_node_value v = {.port = p->addr.port};
	uint32_t seq = ctl_chan_next_seq(d->ch);
	int len;

	memcpy(k.id, p->id.b, SN_NODE_ID_LEN);
	memcpy(v.addr, p->addr.addr, sizeof(v.addr));
	len = sn_msg_build_table(buf, sizeof(buf), SN_MSG_TABLE_CMD, seq, SN_TABLE_DHT_NODE, op, &k,
				 sizeof(k), op == SN_TABLE_OP_ADD ? &v : NULL,
				 op == SN_TABLE_OP_ADD ? sizeof(v) : 0);
	if (len < 0 || ctl_chan_send(d->ch, buf, (size_t)len) < 0) {
		if (op == SN_TABLE_OP_ADD)
			p->state = PUSH_FREE;
		return;
	}
	p->seq = seq;
	p->sent_ns = now;
	p->state = op == SN_TABLE_OP_ADD ? PUSH_ADDING : PUSH_DELETING;
}

/* After a resync: pings the nodes the dataplane hands out that our table does not know (an
 * earlier control's), a few per tick; those that answer stay, the others go after the grace
 * period. */
static void verify_pushed(struct ctl_dht *d, uint64_t now)
{
	unsigned sent = 0;

	for (uint32_t i = 0; i < d->n_pushed && sent < PINGS_PER_TICK; i++) {
		const struct pushed_node *p = &d->pushed[i];
		int fi = sn_rt_family_index(p->addr.family);
		unsigned admits;

		if (p->state != PUSH_PRESENT || fi < 0 || sn_rt_find(d->rt[fi], &p->id) ||
		    ping_pending(d, &p->addr, &admits))
			continue;
		send_ping(d, &p->addr, &p->id, true, now);
		sent++;
	}
}

/* Makes the dataplane's DHT_NODE table the good nodes of our routing tables. */
static void sync_nodes(struct ctl_dht *d, uint64_t now)
{
	unsigned cmds = 0;
	uint64_t mark = ++d->sync_mark;

	for (int f = 0; f < 2; f++) {
		const struct sn_rt *rt = d->rt[f];

		for (unsigned b = 0; b < rt->n_buckets; b++)
			for (unsigned j = 0; j < rt->buckets[b].count; j++) {
				const struct sn_rt_node *n = &rt->buckets[b].nodes[j];
				struct pushed_node *p;

				if (!sn_rt_node_good(n, now))
					continue;
				p = pushed_find(d, &n->id, n->addr.family);
				if (p && p->state == PUSH_DELETING)
					continue; /* its ack comes first */
				if (p && addr_eq(&p->addr, &n->addr)) {
					p->mark = mark;
					continue;
				}
				if (cmds >= SYNC_CMDS_MAX)
					continue;
				if (!p && !(p = pushed_new(d)))
					continue;
				p->id = n->id;
				p->addr = n->addr;
				p->mark = mark;
				node_cmd(d, p, SN_TABLE_OP_ADD, now);
				cmds++;
			}
	}
	for (uint32_t i = 0; i < d->n_pushed; i++) {
		struct pushed_node *p = &d->pushed[i];

		if ((p->state == PUSH_ADDING || p->state == PUSH_DELETING) &&
		    now - p->sent_ns > CMD_TIMEOUT_NS)
			p->state = p->state == PUSH_ADDING ? PUSH_FREE : PUSH_PRESENT; /* retry */
		if (p->state != PUSH_PRESENT || p->mark == mark || cmds >= SYNC_CMDS_MAX)
			continue;
		/* nodes of an earlier control stay until they had time to answer our ping */
		if (!sn_rt_find(d->rt[sn_rt_family_index(p->addr.family)], &p->id) &&
		    now - d->ready_ns < SYNC_GRACE_NS)
			continue;
		node_cmd(d, p, SN_TABLE_OP_DEL, now);
		cmds++;
	}
	ctl_ctr_set(&ctl_dht_stats.nodes_pushed, pushed_count(d));
}

/* ---------- answers ---------- */

/* OpenDHT's bufferNodes: the closest good nodes of each wanted family; without w, the
 * family the request came over. */
static void add_nodes(struct ctl_dht *d, const struct sn_dht_msg *m, const struct peer *p,
		      const struct sn_node_id *target, struct sn_dht_reply *r, const uint8_t **n4,
		      const uint8_t **n6, uint64_t now)
{
	const struct sn_rt_snapshot *s = snapshot(d, now);
	unsigned want = (m->has & SN_DHT_F_WANT)    ? m->want
			: p->from.family == AF_INET ? SN_DHT_WANT4
						    : SN_DHT_WANT6;

	if (want & SN_DHT_WANT4)
		r->n_nodes4 = sn_rt_closest_k(s, target, AF_INET, SN_DHT_SEND_NODES, n4);
	if (want & SN_DHT_WANT6)
		r->n_nodes6 = sn_rt_closest_k(s, target, AF_INET6, SN_DHT_SEND_NODES, n6);
	r->nodes4 = n4;
	r->nodes6 = n6;
}

/* {n?, y: "p", t, p: {index: {o, d}}} messages for values too large for one datagram. */
static void send_parts(struct ctl_dht *d, const struct sn_udp_tuple *t, uint16_t port_id,
		       uint32_t tid, struct dht_stored *const *vals, uint32_t n)
{
	uint8_t buf[SN_DHT_FRAGMENT_MTU + 128];

	for (uint32_t i = 0; i < n; i++) {
		uint32_t start = 0;

		do {
			uint32_t end = vals[i]->packed_len - start > SN_DHT_FRAGMENT_MTU
					   ? start + SN_DHT_FRAGMENT_MTU
					   : vals[i]->packed_len;
			struct sn_mp_writer w;

			sn_mp_writer_init(&w, buf, sizeof(buf));
			sn_mp_write_map(&w, 3 + (d->network ? 1 : 0));
			if (d->network) {
				sn_mp_write_cstr(&w, "n");
				sn_mp_write_uint(&w, d->network);
			}
			sn_mp_write_cstr(&w, "y");
			sn_mp_write_cstr(&w, "p");
			sn_mp_write_cstr(&w, "t");
			sn_mp_write_uint(&w, tid);
			sn_mp_write_cstr(&w, "p");
			sn_mp_write_map(&w, 1);
			sn_mp_write_uint(&w, i);
			sn_mp_write_map(&w, 2);
			sn_mp_write_cstr(&w, "o");
			sn_mp_write_uint(&w, start);
			sn_mp_write_cstr(&w, "d");
			sn_mp_write_bin(&w, vals[i]->packed + start, end - start);
			if (sn_mp_writer_result(&w) > 0 &&
			    send_back(d, t, port_id, buf, (size_t)sn_mp_writer_result(&w)) == 0)
				stat_inc(&ctl_dht_stats.fragments_sent);
			start = end;
		} while (start < vals[i]->packed_len);
	}
}

/* packValueHeader: the values inline when they fit (under 600 bytes, under 50 values),
 * else their sizes (the values follow in p messages). Returns 1 when parts must follow. */
static int values_header(struct dht_stored *const *vals, uint32_t n, uint8_t *out, size_t cap,
			 uint32_t *len)
{
	struct sn_mp_writer w;
	uint64_t total = 0;
	bool inline_ = true;

	for (uint32_t i = 0; i < n; i++)
		total += vals[i]->packed_len;
	if (n >= MAX_VALUES_INLINE || total >= MAX_PACKET_VALUES)
		inline_ = false;
	sn_mp_writer_init(&w, out, cap);
	for (uint32_t i = 0; i < n; i++) {
		if (inline_)
			sn_mp_write_raw(&w, vals[i]->packed, vals[i]->packed_len);
		else
			sn_mp_write_uint(&w, vals[i]->packed_len);
	}
	*len = w.err ? 0 : (uint32_t)w.len;
	return inline_ ? 0 : 1;
}

/* A tid for an update we send to a listener, remembered so that its confirmation is
 * expected (a full request table only costs the bookkeeping). */
static uint32_t update_tid(struct ctl_dht *d, const struct sn_udp_tuple *t, uint64_t now)
{
	struct dht_req *r = req_new(d, now);

	if (!r) {
		uint32_t tid;

		do
			tid = ++d->next_tid;
		while (!tid);
		return tid;
	}
	r->kind = REQ_UPDATE;
	tuple_to_addr(t, &r->to);
	return r->tid;
}

/* A listener push: v1 `update` query, or (v0) a reply whose tid is the listener's sid. */
static void push_values(struct ctl_dht *d, const struct sn_node_id *key,
			const struct dht_listener *l, struct dht_stored *const *vals, uint32_t n,
			uint64_t now)
{
	uint8_t hdr[PUSH_VALUES_MAX * 10 + 64];
	uint8_t buf[TX_PAYLOAD_MAX];
	uint8_t token[SN_TOKEN_LEN];
	struct sn_node_addr to;
	uint32_t hlen, tid;
	int parts, len;

	if (!n)
		return;
	if (n > PUSH_VALUES_MAX) {
		push_values(d, key, l, vals + PUSH_VALUES_MAX, n - PUSH_VALUES_MAX, now);
		n = PUSH_VALUES_MAX;
	}
	tuple_to_addr(&l->tuple, &to);
	sn_token_make(&d->tokens, &to, token);
	parts = values_header(vals, n, hdr, sizeof(hdr), &hlen);
	if (l->version >= 1) {
		struct sn_mp_writer w;

		tid = update_tid(d, &l->tuple, now);
		sn_mp_writer_init(&w, buf, sizeof(buf));
		sn_mp_write_map(&w, 5 + (d->network ? 1 : 0));
		sn_mp_write_cstr(&w, "a");
		sn_mp_write_map(&w, 6);
		sn_mp_write_cstr(&w, "id");
		sn_mp_write_bin(&w, d->self.b, SN_NODE_ID_LEN);
		sn_mp_write_cstr(&w, "ve");
		sn_mp_write_uint(&w, 1);
		sn_mp_write_cstr(&w, "h");
		sn_mp_write_bin(&w, key->b, SN_NODE_ID_LEN);
		sn_mp_write_cstr(&w, "sid");
		sn_mp_write_uint(&w, l->sid);
		sn_mp_write_cstr(&w, "values");
		sn_mp_write_array(&w, n);
		sn_mp_write_raw(&w, hdr, hlen);
		sn_mp_write_cstr(&w, "token");
		sn_mp_write_bin(&w, token, sizeof(token));
		sn_mp_write_cstr(&w, "q");
		sn_mp_write_cstr(&w, "update");
		sn_mp_write_cstr(&w, "t");
		sn_mp_write_uint(&w, tid);
		sn_mp_write_cstr(&w, "y");
		sn_mp_write_cstr(&w, "q");
		sn_mp_write_cstr(&w, "v");
		sn_mp_write_cstr(&w, SN_DHT_USER_AGENT);
		if (d->network) {
			sn_mp_write_cstr(&w, "n");
			sn_mp_write_uint(&w, d->network);
		}
		len = sn_mp_writer_result(&w);
	} else {
		struct sn_dht_reply r = {.tid = l->sid,
					 .network = d->network,
					 .id = &d->self,
					 .sa = &to,
					 .token = token,
					 .token_len = sizeof(token),
					 .values = hdr,
					 .values_len = hlen,
					 .n_values = n};

		tid = l->sid;
		len = sn_dht_build_reply(buf, sizeof(buf), &r);
	}
	if (len < 0 || send_back(d, &l->tuple, l->port_id, buf, (size_t)len) < 0)
		return;
	stat_inc(&ctl_dht_stats.pushes);
	if (parts)
		send_parts(d, &l->tuple, l->port_id, tid, vals, n);
	(void)now;
}

/* tellListenerRefreshed / tellListenerExpired (v1 `update` with re or exp). */
static void push_ids(struct ctl_dht *d, const struct dht_listener *l, const char *what,
		     const uint64_t *ids, uint32_t n)
{
	uint8_t buf[TX_PAYLOAD_MAX];
	uint8_t token[SN_TOKEN_LEN];
	struct sn_node_addr to;
	struct sn_mp_writer w;
	int len;

	if (l->version < 1 || !n)
		return; /* v0 listeners get these as `u` replies; 2.4 clients are all v1 */
	if (n > 100)
		n = 100;
	tuple_to_addr(&l->tuple, &to);
	sn_token_make(&d->tokens, &to, token);
	sn_mp_writer_init(&w, buf, sizeof(buf));
	sn_mp_write_map(&w, 5 + (d->network ? 1 : 0));
	sn_mp_write_cstr(&w, "a");
	sn_mp_write_map(&w, 4);
	sn_mp_write_cstr(&w, "id");
	sn_mp_write_bin(&w, d->self.b, SN_NODE_ID_LEN);
	sn_mp_write_cstr(&w, "sid");
	sn_mp_write_uint(&w, l->sid);
	sn_mp_write_cstr(&w, "token");
	sn_mp_write_bin(&w, token, sizeof(token));
	sn_mp_write_cstr(&w, what);
	sn_mp_write_array(&w, n);
	for (uint32_t i = 0; i < n; i++)
		sn_mp_write_uint(&w, ids[i]);
	sn_mp_write_cstr(&w, "y");
	sn_mp_write_cstr(&w, "q");
	sn_mp_write_cstr(&w, "v");
	sn_mp_write_cstr(&w, SN_DHT_USER_AGENT);
	if (d->network) {
		sn_mp_write_cstr(&w, "n");
		sn_mp_write_uint(&w, d->network);
	}
	sn_mp_write_cstr(&w, "q");
	sn_mp_write_cstr(&w, "update");
	sn_mp_write_cstr(&w, "t");
	sn_mp_write_uint(&w, update_tid(d, &l->tuple, ctl_mono_ns()));
	len = sn_mp_writer_result(&w);
	if (len > 0 && send_back(d, &l->tuple, l->port_id, buf, (size_t)len) == 0)
		stat_inc(&ctl_dht_stats.pushes);
}

/* storageChanged: a new or edited value goes to every listener whose filter it passes. */
static void notify_listeners(struct ctl_dht *d, const struct sn_node_id *key, struct dht_stored *v,
			     uint64_t now)
{
	struct dht_key *k = dht_store_find(&d->store, key);

	for (uint32_t i = 0; k && i < k->n_listeners; i++)
		if (dht_query_match(&k->listeners[i].query, v))
			push_values(d, key, &k->listeners[i], &v, 1, now);
}

static void notify_refreshed(struct ctl_dht *d, const struct sn_node_id *key, uint64_t vid)
{
	struct dht_key *k = dht_store_find(&d->store, key);

	for (uint32_t i = 0; k && i < k->n_listeners; i++)
		push_ids(d, &k->listeners[i], "re", &vid, 1);
}

static void on_expired(void *arg, struct dht_key *k, const uint64_t *ids, uint32_t n)
{
	struct ctl_dht *d = arg;

	for (uint32_t i = 0; i < k->n_listeners; i++)
		push_ids(d, &k->listeners[i], "exp", ids, n);
	for (uint32_t i = 0; i < n; i++)
		stat_inc(&ctl_dht_stats.expired_values);
}

static void update_store_gauges(struct ctl_dht *d)
{
	ctl_ctr_set(&ctl_dht_stats.stored_values, d->store.total_values);
	ctl_ctr_set(&ctl_dht_stats.stored_bytes, d->store.total_bytes);
	ctl_ctr_set(&ctl_dht_stats.stored_keys, d->store.n_keys);
	ctl_ctr_set(&ctl_dht_stats.listeners, d->store.total_listeners);
}

static bool token_ok(struct ctl_dht *d, const struct sn_dht_msg *m, const struct peer *p)
{
	return (m->has & SN_DHT_F_TOKEN) &&
	       sn_token_check(&d->tokens, &p->from, m->token.p, m->token.len) >= 0;
}

static void src_of(const struct peer *p, struct dht_src *s)
{
	memset(s, 0, sizeof(*s));
	s->family = p->from.family;
	memcpy(s->addr, p->from.addr, sizeof(s->addr));
}

/* The `fileds` answer of a get with a field selection. */
static int pack_fields(const struct dht_query *q, struct dht_stored *const *vals, uint32_t n,
		       uint8_t *out, size_t cap)
{
	static const uint8_t zero[20];
	struct sn_mp_writer w;

	sn_mp_writer_init(&w, out, cap);
	sn_mp_write_map(&w, 2);
	sn_mp_write_cstr(&w, "f");
	sn_mp_write_array(&w, q->n_select);
	for (unsigned i = 0; i < q->n_select; i++)
		sn_mp_write_uint(&w, q->select[i]);
	sn_mp_write_cstr(&w, "v");
	sn_mp_write_array(&w, n * q->n_select);
	for (uint32_t i = 0; i < n; i++)
		for (unsigned f = 0; f < q->n_select; f++) {
			const struct dht_stored *v = vals[i];

			switch (q->select[f]) {
			case DHT_FIELD_ID:
				sn_mp_write_uint(&w, v->id);
				break;
			case DHT_FIELD_TYPE:
				sn_mp_write_uint(&w, v->type);
				break;
			case DHT_FIELD_OWNER:
				if (v->is_signed)
					sn_mp_write_bin(&w, v->packed + v->owner_off, v->owner_len);
				else
					sn_mp_write_bin(&w, zero, sizeof(zero));
				break;
			case DHT_FIELD_SEQ:
				sn_mp_write_uint(&w, v->seq);
				break;
			case DHT_FIELD_UTYPE:
				sn_mp_write_str(&w, (const char *)v->packed + v->utype_off,
						v->utype_len);
				break;
			default:
				sn_mp_write_nil(&w);
			}
		}
	return sn_mp_writer_result(&w);
}

static void handle_get(struct ctl_dht *d, const struct sn_dht_msg *m, const struct peer *p,
		       uint64_t now)
{
	const uint8_t *n4[SN_DHT_SEND_NODES], *n6[SN_DHT_SEND_NODES];
	struct dht_stored *vals[GET_VALUES_MAX];
	uint8_t hdr[GET_VALUES_MAX * 10 + 64], out[TX_PAYLOAD_MAX], token[SN_TOKEN_LEN];
	struct dht_query q, *qp = NULL;
	struct dht_key *k;
	uint32_t n = 0, hlen = 0;
	int parts = 0, len;

	if (!(m->has & SN_DHT_F_HASH) || sn_node_id_is_zero(&m->info_hash)) {
		count_error(SN_DHT_Q_GET, CTL_DHT_E_NO_INFO_HASH);
		return send_error(d, p, m->tid, SN_DHT_ERR_NON_AUTHORITATIVE,
				  SN_DHT_TEXT_GET_NO_INFOHASH);
	}
	if (m->has & SN_DHT_F_FILTER) {
		if (dht_query_parse(m->filter.p, m->filter.len, &q) == 0)
			qp = &q;
		else
			count_error(SN_DHT_Q_GET, CTL_DHT_E_BAD_QUERY);
	}
	k = dht_store_find(&d->store, &m->info_hash);
	for (uint32_t i = 0; k && i < k->n_values && n < GET_VALUES_MAX; i++)
		if (dht_query_match(qp, k->values[i]))
			vals[n++] = k->values[i];

	struct sn_dht_reply r = {
	    .tid = m->tid, .network = d->network, .id = &d->self, .sa = &p->from};

	add_nodes(d, m, p, &m->info_hash, &r, n4, n6, now);
	if (sn_token_make(&d->tokens, &p->from, token) == 0) {
		r.token = token;
		r.token_len = sizeof(token);
	}
	if (n && qp && qp->n_select) {
		/* as many values' fields as fit one datagram */
		for (;;) {
			len = pack_fields(qp, vals, n, hdr, sizeof(hdr));
			if (len > 0 && (size_t)len + 700 <= sizeof(out))
				break;
			n /= 2;
			if (!n)
				break;
		}
		if (n) {
			r.fields = hdr;
			r.fields_len = (uint32_t)len;
		}
	} else if (n) {
		parts = values_header(vals, n, hdr, sizeof(hdr), &hlen);
		r.values = hdr;
		r.values_len = hlen;
		r.n_values = n;
	}
	len = sn_dht_build_reply(out, sizeof(out), &r);
	while (len < 0 && r.n_values) {
		/* too many values inline: their sizes (as many as fit), and parts */
		struct sn_mp_writer w;

		if (parts)
			n /= 2;
		sn_mp_writer_init(&w, hdr, sizeof(hdr));
		for (uint32_t i = 0; i < n; i++)
			sn_mp_write_uint(&w, vals[i]->packed_len);
		r.values_len = (uint32_t)w.len;
		r.n_values = n;
		parts = 1;
		len = n ? sn_dht_build_reply(out, sizeof(out), &r) : -EMSGSIZE;
	}
	if (len < 0)
		return;
	if (send_back(d, &p->tuple, p->port_id, out, (size_t)len) == 0 && parts)
		send_parts(d, &p->tuple, p->port_id, m->tid, vals, n);
}

/* The values of a put: inline ones (spans of m->values that are maps), then assembled
 * fragments. Answers as Dht::onAnnounce and NetworkEngine::process do. */
/* A stored signed value under InfoHash("supernode-vouch") is a vouch (trust.h): the store
 * checked its signature, so its owner's key id vouches for the node id in its data. */
static void vouch_seen(struct ctl_dht *d, const struct sn_node_id *key, const struct dht_value *v)
{
	uint8_t owner[20], vouched[20];

	if (!v->has_owner || !sn_node_id_eq(key, &d->vouch_key) ||
	    ctl_trust_parse_vouch(v->data, v->data_len, vouched) < 0)
		return;
	dht_value_owner_id(v, owner);
	if (ctl_trust_add_vouch(owner, vouched) == 0)
		stat_inc(&ctl_dht_stats.vouches);
}

static void handle_put(struct ctl_dht *d, const struct sn_dht_msg *m, const struct peer *p,
		       const struct partial *pa, uint64_t now)
{
	struct {
		const uint8_t *p;
		uint32_t len;
	} spans[SN_DHT_MAX_KEYS + PARTIAL_PARTS];
	struct dht_value vals[SN_DHT_MAX_KEYS + PARTIAL_PARTS];
	uint32_t n_spans = 0, n_vals = 0;
	uint64_t age = 0;
	struct dht_src src;
	struct sn_mp_reader r;

	if (!(m->has & SN_DHT_F_HASH) || sn_node_id_is_zero(&m->info_hash)) {
		count_error(SN_DHT_Q_PUT, CTL_DHT_E_NO_INFO_HASH);
		return send_error(d, p, m->tid, SN_DHT_ERR_NON_AUTHORITATIVE,
				  SN_DHT_TEXT_PUT_NO_INFOHASH);
	}
	if (!token_ok(d, m, p)) {
		count_error(SN_DHT_Q_PUT, CTL_DHT_E_WRONG_TOKEN);
		return send_error(d, p, m->tid, SN_DHT_ERR_UNAUTHORIZED,
				  SN_DHT_TEXT_PUT_WRONG_TOKEN);
	}
	sn_mp_reader_init(&r, m->values.p, m->values.len);
	for (uint32_t i = 0; i < m->n_values && n_spans < SN_DHT_MAX_KEYS; i++) {
		const uint8_t *start = r.pos;

		if (sn_mp_peek(&r) == SN_MP_UINT) {
			uint64_t x;

			sn_mp_read_uint(&r, &x);
			continue;
		}
		if (sn_mp_skip(&r, SN_DHT_MAX_DEPTH) < 0)
			break;
		spans[n_spans].p = start;
		spans[n_spans++].len = (uint32_t)(r.pos - start);
	}
	for (uint32_t i = 0; pa && i < pa->n_parts; i++) {
		spans[n_spans].p = pa->parts[i].data;
		spans[n_spans++].len = pa->parts[i].size;
	}
	for (uint32_t i = 0; i < n_spans; i++) {
		if (dht_value_parse(spans[i].p, spans[i].len, &vals[n_vals]) < 0) {
			count_error(SN_DHT_Q_PUT, CTL_DHT_E_BAD_VALUE); /* OpenDHT skips it */
			continue;
		}
		if (vals[n_vals].id == DHT_VALUE_INVALID_ID) {
			count_error(SN_DHT_Q_PUT, CTL_DHT_E_INVALID_ID);
			return send_error(d, p, m->tid, SN_DHT_ERR_NON_AUTHORITATIVE,
					  SN_DHT_TEXT_PUT_INVALID_ID);
		}
		n_vals++;
	}
	if (m->has & SN_DHT_F_CREATED) {
		int64_t real_s = (int64_t)(ctl_real_ns() / CTL_NS_PER_SEC);

		if (m->created < real_s)
			age = (uint64_t)(real_s - m->created) * CTL_NS_PER_SEC;
	}
	src_of(p, &src);
	for (uint32_t i = 0; i < n_vals; i++) {
		struct dht_stored *st = NULL;
		enum dht_put_status s =
		    dht_store_put(&d->store, &m->info_hash, &vals[i], &src, age, now, &st);
		static const enum ctl_dht_error err_of[DHT_PUT_STATUS_MAX] = {
		    [DHT_PUT_EDIT_DENIED] = CTL_DHT_E_EDIT_DENIED,
		    [DHT_PUT_BAD_SIGNATURE] = CTL_DHT_E_BAD_SIGNATURE,
		    [DHT_PUT_TOO_LARGE] = CTL_DHT_E_TOO_LARGE,
		    [DHT_PUT_QUOTA] = CTL_DHT_E_QUOTA,
		    [DHT_PUT_FULL] = CTL_DHT_E_STORAGE_FULL,
		    [DHT_PUT_EXPIRED] = CTL_DHT_E_EXPIRED,
		    [DHT_PUT_NOMEM] = CTL_DHT_E_NO_MEMORY,
		};

		if (s == DHT_PUT_STORED || s == DHT_PUT_EDITED) {
			notify_listeners(d, &m->info_hash, st, now);
			vouch_seen(d, &m->info_hash, &vals[i]);
		} else if (s == DHT_PUT_REFRESHED)
			notify_refreshed(d, &m->info_hash, vals[i].id);
		else
			count_error(SN_DHT_Q_PUT, err_of[s]);
	}
	update_store_gauges(d);
	/* "if storageStore failed, we lie to the requestor" (network_engine.cpp): one
	 * confirmation per value */
	for (uint32_t i = 0; i < n_vals; i++) {
		uint8_t out[128];
		struct sn_dht_reply rep = {.tid = m->tid,
					   .network = d->network,
					   .id = &d->self,
					   .sa = &p->from,
					   .has_vid = true,
					   .vid = vals[i].id};
		int len = sn_dht_build_reply(out, sizeof(out), &rep);

		if (len > 0)
			send_back(d, &p->tuple, p->port_id, out, (size_t)len);
	}
}

static void partial_free(struct ctl_dht *d, struct partial *pa)
{
	for (uint32_t i = 0; i < pa->n_parts; i++) {
		d->partial_bytes -= pa->parts[i].size;
		free(pa->parts[i].data);
	}
	d->partial_bytes -= pa->msg_len;
	free(pa->msg);
	memset(pa, 0, sizeof(*pa));
}

/* A put whose values come in fragments: keep it until they are all there. */
static void partial_start(struct ctl_dht *d, const struct sn_dht_msg *m, const struct peer *p,
			  const struct sn_msg_view *v, uint64_t now)
{
	struct partial *pa = NULL;
	unsigned same_src = 0;
	struct sn_mp_reader r;
	uint64_t need = v->u.punt->payload_len;

	for (int i = 0; i < PARTIAL_MAX; i++) {
		struct partial *x = &d->partials[i];

		if (!x->used) {
			if (!pa)
				pa = x;
			continue;
		}
		if (x->tuple.family == p->tuple.family &&
		    memcmp(x->tuple.src, p->tuple.src, 16) == 0)
			same_src++;
		if (x->tid == m->tid && memcmp(&x->tuple, &p->tuple, sizeof(p->tuple)) == 0)
			return; /* "Partial message with given TID already exists" */
	}
	if (!pa || same_src >= PARTIAL_PER_SOURCE) {
		count_error(SN_DHT_Q_PUT, CTL_DHT_E_FRAGMENTS);
		return;
	}
	memset(pa, 0, sizeof(*pa));
	sn_mp_reader_init(&r, m->values.p, m->values.len);
	for (uint32_t i = 0; i < m->n_values; i++) {
		uint64_t size;

		if (sn_mp_peek(&r) != SN_MP_UINT) {
			if (sn_mp_skip(&r, SN_DHT_MAX_DEPTH) < 0)
				break;
			continue;
		}
		sn_mp_read_uint(&r, &size);
		if (size > SN_DHT_MAX_VALUE_SIZE + 32 || size == 0)
			continue; /* "Skip oversize values" */
		if (pa->n_parts == PARTIAL_PARTS) {
			count_error(SN_DHT_Q_PUT, CTL_DHT_E_FRAGMENTS);
			break;
		}
		pa->parts[pa->n_parts].index = i;
		pa->parts[pa->n_parts].size = (uint32_t)size;
		pa->n_parts++;
		need += size;
	}
	if (!pa->n_parts) {
		memset(pa, 0, sizeof(*pa));
		handle_put(d, m, p, NULL, now); /* only inline values are left */
		return;
	}
	if (d->partial_bytes + need > PARTIAL_BYTES_MAX) {
		count_error(SN_DHT_Q_PUT, CTL_DHT_E_FRAGMENTS);
		memset(pa, 0, sizeof(*pa));
		return;
	}
	pa->msg = malloc(v->u.punt->payload_len);
	for (uint32_t i = 0; pa->msg && i < pa->n_parts; i++) {
		pa->parts[i].data = malloc(pa->parts[i].size);
		if (!pa->parts[i].data) {
			free(pa->msg);
			pa->msg = NULL;
		}
	}
	if (!pa->msg) {
		for (uint32_t i = 0; i < pa->n_parts; i++)
			free(pa->parts[i].data);
		memset(pa, 0, sizeof(*pa));
		count_error(SN_DHT_Q_PUT, CTL_DHT_E_NO_MEMORY);
		return;
	}
	memcpy(pa->msg, v->payload, v->u.punt->payload_len);
	pa->msg_len = v->u.punt->payload_len;
	pa->used = true;
	pa->tid = m->tid;
	pa->tuple = v->u.punt->tuple;
	pa->port_id = v->u.punt->port_id;
	pa->start_ns = pa->last_ns = now;
	d->partial_bytes += need;
}

/* A p message: {index: {o, d}} appended in order (OpenDHT skips out-of-order blocks). */
static void partial_data(struct ctl_dht *d, const struct sn_dht_msg *m, const struct peer *p,
			 uint64_t now)
{
	struct partial *pa = NULL;
	struct sn_mp_reader r;
	bool done = true;

	for (int i = 0; i < PARTIAL_MAX; i++) {
		struct partial *x = &d->partials[i];

		if (x->used && x->tid == m->tid && x->tuple.family == p->tuple.family &&
		    x->tuple.src_port == p->tuple.src_port &&
		    memcmp(x->tuple.src, p->tuple.src, 16) == 0) {
			pa = x;
			break;
		}
	}
	if (!pa) {
		uint64_t skipped = 0;
		char a[64];

		count_drop(CTL_DHT_D_ORPHAN_FRAGMENT);
		addr_str(&p->from, a, sizeof(a));
		if (ctl_ratelimit_ok(&d->rl, now, &skipped))
			SN_DEBUG("dht: value fragment tid %u from %s with no put waiting for it",
				 m->tid, a);
		return;
	}
	sn_mp_reader_init(&r, m->parts.p, m->parts.len);
	for (uint32_t i = 0; i < m->n_parts; i++) {
		uint64_t idx, off = UINT64_MAX;
		const uint8_t *data = NULL;
		uint32_t n, dlen = 0, kl;
		const char *k;

		if (sn_mp_read_uint(&r, &idx) < 0 || sn_mp_read_map(&r, &n) < 0)
			return;
		for (uint32_t j = 0; j < n; j++) {
			if (sn_mp_read_str(&r, &k, &kl) < 0)
				return;
			if (kl == 1 && k[0] == 'o') {
				if (sn_mp_read_uint(&r, &off) < 0)
					return;
			} else if (sn_mp_read_bin(&r, &data, &dlen) < 0) {
				return;
			}
		}
		for (uint32_t j = 0; j < pa->n_parts; j++) {
			typeof(pa->parts[0]) *part = &pa->parts[j];

			if (part->index != idx || off != part->got || part->got + dlen > part->size)
				continue;
			memcpy(part->data + part->got, data, dlen);
			part->got += dlen;
			pa->last_ns = now;
		}
	}
	for (uint32_t j = 0; j < pa->n_parts; j++)
		done &= pa->parts[j].got == pa->parts[j].size;
	if (!done)
		return;
	/* the whole put: parse the first datagram again, then store */
	struct sn_dht_msg pm;
	struct peer pp = {.tuple = pa->tuple, .port_id = pa->port_id};

	tuple_to_addr(&pp.tuple, &pp.from);
	if (sn_dht_parse(pa->msg, pa->msg_len, &pm) == SN_DHT_R_OK)
		handle_put(d, &pm, &pp, pa, now);
	partial_free(d, pa);
}

static void expire_partials(struct ctl_dht *d, uint64_t now)
{
	for (int i = 0; i < PARTIAL_MAX; i++) {
		struct partial *pa = &d->partials[i];

		if (pa->used &&
		    (now - pa->start_ns > RX_MAX_PACKET_NS || now - pa->last_ns > RX_TIMEOUT_NS)) {
			count_error(SN_DHT_Q_PUT, CTL_DHT_E_FRAGMENTS);
			partial_free(d, pa);
		}
	}
}

static void handle_listen(struct ctl_dht *d, const struct sn_dht_msg *m, const struct peer *p,
			  uint64_t now)
{
	struct dht_listener l;
	struct dht_src src;
	uint8_t out[128];
	bool is_new = false;
	int rc, len;

	if (!(m->has & SN_DHT_F_HASH) || sn_node_id_is_zero(&m->info_hash)) {
		count_error(SN_DHT_Q_LISTEN, CTL_DHT_E_NO_INFO_HASH);
		return send_error(d, p, m->tid, SN_DHT_ERR_NON_AUTHORITATIVE,
				  SN_DHT_TEXT_LISTEN_NO_INFOHASH);
	}
	if (!token_ok(d, m, p)) {
		count_error(SN_DHT_Q_LISTEN, CTL_DHT_E_WRONG_TOKEN);
		return send_error(d, p, m->tid, SN_DHT_ERR_UNAUTHORIZED,
				  SN_DHT_TEXT_LISTEN_WRONG_TOKEN);
	}
	memset(&l, 0, sizeof(l));
	l.node = m->id;
	l.tuple = p->tuple;
	l.port_id = p->port_id;
	l.sid = m->sid;
	l.version = (m->has & SN_DHT_F_VERSION) ? m->version : 0;
	if ((m->has & SN_DHT_F_FILTER) && dht_query_parse(m->filter.p, m->filter.len, &l.query) < 0)
		count_error(SN_DHT_Q_LISTEN, CTL_DHT_E_BAD_QUERY);
	src_of(p, &src);
	rc = dht_store_listen(&d->store, &m->info_hash, &l, &src, now, &is_new);
	if (rc == -EDQUOT)
		count_error(SN_DHT_Q_LISTEN, CTL_DHT_E_QUOTA);
	else if (rc == -ENOSPC)
		count_error(SN_DHT_Q_LISTEN, CTL_DHT_E_STORAGE_FULL);
	else if (rc < 0)
		count_error(SN_DHT_Q_LISTEN, CTL_DHT_E_NO_MEMORY);
	update_store_gauges(d);
	len = sn_dht_build_pong(out, sizeof(out), m->tid, d->network, &d->self, &p->from);
	if (len > 0)
		send_back(d, &p->tuple, p->port_id, out, (size_t)len);
	if (rc == 0 && is_new) {
		/* storageAddListener: what is there already goes to the new listener */
		struct dht_key *k = dht_store_find(&d->store, &m->info_hash);
		struct dht_stored *vals[GET_VALUES_MAX];
		uint32_t n = 0;

		for (uint32_t i = 0; k && i < k->n_values && n < GET_VALUES_MAX; i++)
			if (dht_query_match(&l.query, k->values[i]))
				vals[n++] = k->values[i];
		push_values(d, &m->info_hash, &l, vals, n, now);
	}
}

static void handle_refresh(struct ctl_dht *d, const struct sn_dht_msg *m, const struct peer *p,
			   uint64_t now)
{
	uint8_t out[128];
	int len;

	if (!token_ok(d, m, p)) {
		count_error(SN_DHT_Q_REFRESH, CTL_DHT_E_WRONG_TOKEN);
		return send_error(d, p, m->tid, SN_DHT_ERR_UNAUTHORIZED,
				  SN_DHT_TEXT_PUT_WRONG_TOKEN);
	}
	if (!(m->has & SN_DHT_F_HASH) ||
	    dht_store_refresh(&d->store, &m->info_hash, m->vid, now) < 0) {
		count_error(SN_DHT_Q_REFRESH, CTL_DHT_E_NOT_FOUND);
		return send_error(d, p, m->tid, SN_DHT_ERR_NOT_FOUND,
				  SN_DHT_TEXT_STORAGE_NOT_FOUND);
	}
	notify_refreshed(d, &m->info_hash, m->vid);
	struct sn_dht_reply rep = {.tid = m->tid,
				   .network = d->network,
				   .id = &d->self,
				   .sa = &p->from,
				   .has_vid = true,
				   .vid = m->vid};

	len = sn_dht_build_reply(out, sizeof(out), &rep);
	if (len > 0)
		send_back(d, &p->tuple, p->port_id, out, (size_t)len);
}

/* ping and find while the dataplane has no state (or is behind): the fast path's own
 * answers, from our routing snapshot. */
static void handle_fast(struct ctl_dht *d, const struct sn_dht_msg *m, const struct peer *p,
			uint64_t now)
{
	const struct sn_dht_fast_ctx ctx = {.self = &d->self,
					    .network = d->network,
					    .snap = snapshot(d, now),
					    .tokens = &d->tokens};
	uint8_t out[SN_DHT_FAST_REPLY_MAX];
	struct sn_dht_fast_result res;

	sn_dht_fast_answer(&ctx, m, &p->from, out, sizeof(out), &res);
	if (res.verdict == SN_DHT_REPLY)
		send_back(d, &p->tuple, p->port_id, out, res.len);
}

static int on_punt(struct ctl_chan *ch, const struct sn_msg_view *v, void *arg)
{
	struct ctl_dht *d = arg;
	const struct sn_msg_punt *pu = v->u.punt;
	uint64_t now = ctl_mono_ns();
	struct sn_dht_msg m;
	struct peer p;
	enum sn_dht_reason why;
	bool seen = pu->reason == SN_PUNT_DHT_SEEN;

	(void)ch;
	memset(&p, 0, sizeof(p));
	p.tuple = pu->tuple;
	p.port_id = pu->port_id;
	tuple_to_addr(&pu->tuple, &p.from);
	if (seen)
		stat_inc(&ctl_dht_stats.seen);
	why = sn_dht_parse(v->payload, pu->payload_len, &m);
	if (why == SN_DHT_R_OK) {
		if (sn_rt_addr_martian(&p.from))
			why = SN_DHT_R_MARTIAN;
		else if (m.network != d->network)
			why = SN_DHT_R_WRONG_NETWORK;
		else if (m.type != SN_DHT_T_VALUE_DATA && sn_node_id_eq(&m.id, &d->self))
			why = SN_DHT_R_SELF_ID;
	}
	if (why != SN_DHT_R_OK) {
		count_parse_drop(why);
		if (why != SN_DHT_R_WRONG_NETWORK && why != SN_DHT_R_MARTIAN)
			count_bad(d, &p.from, now);
		return 0;
	}
	switch (m.type) {
	case SN_DHT_T_QUERY:
		node_seen(d, &m.id, &p.from, SN_RT_HEARD, now);
		ctl_clients_dht_request(&p.tuple, m.id.b, m.query); /* promotion metrics */
		if (seen)
			return 0; /* the dataplane answered it */
		stat_inc(&ctl_dht_stats.requests[m.query]);
		switch (m.query) {
		case SN_DHT_Q_PING:
		case SN_DHT_Q_FIND:
			handle_fast(d, &m, &p, now);
			break;
		case SN_DHT_Q_GET:
			handle_get(d, &m, &p, now);
			break;
		case SN_DHT_Q_PUT:
			if (m.n_value_sizes)
				partial_start(d, &m, &p, v, now);
			else
				handle_put(d, &m, &p, NULL, now);
			break;
		case SN_DHT_Q_LISTEN:
			handle_listen(d, &m, &p, now);
			break;
		case SN_DHT_Q_REFRESH:
			handle_refresh(d, &m, &p, now);
			break;
		case SN_DHT_Q_UPDATE: {
			/* we listen to nobody: confirm, as OpenDHT does, and drop */
			uint8_t out[128];
			int len = sn_dht_build_pong(out, sizeof(out), m.tid, d->network, &d->self,
						    &p.from);

			if (len > 0)
				send_back(d, &p.tuple, p.port_id, out, (size_t)len);
			break;
		}
		default:
			break;
		}
		break;
	case SN_DHT_T_REPLY:
	case SN_DHT_T_ERROR:
		on_reply(d, &m, &p, now);
		break;
	case SN_DHT_T_VALUE_DATA:
		partial_data(d, &m, &p, now);
		break;
	default:
		count_drop(CTL_DHT_D_UNEXPECTED_REPLY);
		break;
	}
	return 0;
}

/* ---------- tick ---------- */

void ctl_dht_tick(struct ctl_dht *d, uint64_t now)
{
	if (!d)
		return;
	if (d->ready && d->ch->state != CTL_CHAN_READY) {
		d->ready = false; /* the next resync calls hook_ready */
		d->state_ok = false;
		d->state_pending = false;
		for (int i = 0; i < REQ_MAX; i++)
			d->reqs[i].tid = 0;
		for (uint32_t i = 0; i < d->n_pushed; i++)
			d->pushed[i].state = PUSH_FREE; /* the dump tells again */
	}
	if (now >= d->next_rotate_ns)
		rotate_tokens(d, now);
	if (d->ready && !d->state_ok &&
	    (!d->state_pending || now - d->state_sent_ns > CMD_TIMEOUT_NS))
		state_push(d, now);
	expire_requests(d, now);
	if (now >= d->next_expire_ns) {
		d->next_expire_ns = now + EXPIRE_PERIOD_NS;
		dht_store_expire(&d->store, now, on_expired, d);
		expire_partials(d, now);
		update_store_gauges(d);
		update_node_gauges(d, now);
		d->snap_dirty = true; /* nodes stop being good with time */
	}
	if (!d->ready)
		return;
	if (now >= d->next_bootstrap_ns) {
		d->next_bootstrap_ns = now + BOOTSTRAP_PERIOD_NS;
		if (!sn_rt_good_count(d->rt[0], now) && !sn_rt_good_count(d->rt[1], now))
			bootstrap(d, now);
	}
	bool buckets = now >= d->next_maint_ns;

	if (buckets)
		d->next_maint_ns = now + MAINT_PERIOD_NS;
	maintain(d, now, buckets);
	if (now - d->ready_ns < SYNC_GRACE_NS)
		verify_pushed(d, now);
	if (now >= d->next_police_ns || d->police_now || ctl_trust_generation() != d->trust_gen)
		police(d, now);
	if (now >= d->next_sync_ns && d->state_ok) {
		d->next_sync_ns = now + SYNC_PERIOD_NS;
		sync_nodes(d, now);
	}
}

/* ---------- admin ---------- */

/* The trust module's verdict on a routing-table node (its id or its address). */
static const char *trust_name(const struct sn_rt_node *n)
{
	switch (ctl_trust_verdict_node(n->id.b, n->addr.family, n->addr.addr)) {
	case CTL_TRUST_TRUSTED:
		return "trusted";
	case CTL_TRUST_SUSPECT:
		return "suspect";
	default:
		return "unknown";
	}
}

int ctl_dht_cmd_routes(struct ctl_admin_ctx *ctx, int argc, char **argv, bool json,
		       struct ctl_buf *out)
{
	struct ctl_dht *d = g_dht;
	uint64_t now = ctl_mono_ns();
	struct ctl_json j;
	struct ctl_table t;
	int rc = 0;

	(void)ctx;
	(void)argc;
	(void)argv;
	if (!d) {
		if (json)
			ctl_buf_puts(out,
				     "{\"error\":\"the DHT node is not running\",\"errno\":-2}\n");
		else
			ctl_buf_puts(out, "error: the DHT node is not running\n");
		return -ENOENT;
	}
	if (json) {
		ctl_json_init(&j, out);
		ctl_json_obj_begin(&j);
		ctl_json_key(&j, "families");
		ctl_json_arr_begin(&j);
	}
	for (int f = 0; f < 2; f++) {
		const struct sn_rt *rt = d->rt[f];

		if (json) {
			ctl_json_obj_begin(&j);
			ctl_json_kv_str(&j, "family", f ? "ipv6" : "ipv4");
			ctl_json_kv_u64(&j, "buckets", rt->n_buckets);
			ctl_json_kv_u64(&j, "nodes", rt->n_nodes);
			ctl_json_kv_u64(&j, "good", sn_rt_good_count(rt, now));
			ctl_json_key(&j, "routes");
			ctl_json_arr_begin(&j);
		} else {
			ctl_buf_printf(out, "%s: %u buckets, %u nodes, %u good\n",
				       f ? "ipv6" : "ipv4", rt->n_buckets, rt->n_nodes,
				       sn_rt_good_count(rt, now));
			ctl_table_init(&t, "BUCKET ID ADDRESS SEEN_S REPLY_S FAILED GOOD DATAPLANE",
				       "rllrrrll");
		}
		for (unsigned b = 0; b < rt->n_buckets; b++)
			for (unsigned i = 0; i < rt->buckets[b].count; i++) {
				const struct sn_rt_node *n = &rt->buckets[b].nodes[i];
				const struct pushed_node *p =
				    pushed_find(d, &n->id, n->addr.family);
				char hex[SN_NODE_ID_HEX_LEN + 1], addr[64];
				long seen = n->last_seen_ns
						? (long)((now - n->last_seen_ns) / CTL_NS_PER_SEC)
						: -1;
				long reply = n->last_reply_ns
						 ? (long)((now - n->last_reply_ns) / CTL_NS_PER_SEC)
						 : -1;
				bool good = sn_rt_node_good(n, now);
				bool in_dp = p && p->state == PUSH_PRESENT;

				sn_node_id_to_hex(&n->id, hex);
				addr_str(&n->addr, addr, sizeof(addr));
				if (json) {
					ctl_json_obj_begin(&j);
					ctl_json_kv_u64(&j, "bucket", b);
					ctl_json_kv_str(&j, "id", hex);
					ctl_json_kv_str(&j, "address", addr);
					ctl_json_kv_i64(&j, "seen_s", seen);
					ctl_json_kv_i64(&j, "reply_s", reply);
					ctl_json_kv_u64(&j, "failed", n->failed);
					ctl_json_kv_bool(&j, "good", good);
					ctl_json_kv_bool(&j, "dataplane", in_dp);
					ctl_json_kv_str(&j, "trust", trust_name(n));
					ctl_json_obj_end(&j);
				} else {
					ctl_table_cell(&t, "%u", b);
					ctl_table_cell(&t, "%s", hex);
					ctl_table_cell(&t, "%s", addr);
					ctl_table_cell(&t, "%ld", seen);
					ctl_table_cell(&t, "%ld", reply);
					ctl_table_cell(&t, "%u", n->failed);
					ctl_table_cell(&t, "%s", good ? "yes" : "no");
					ctl_table_cell(&t, "%s", in_dp ? "yes" : "no");
				}
			}
		if (json) {
			ctl_json_arr_end(&j);
			ctl_json_obj_end(&j);
		} else {
			if (rc == 0)
				rc = ctl_table_render(&t, out);
			ctl_table_free(&t);
		}
	}
	if (json) {
		ctl_json_arr_end(&j);
		ctl_json_kv_u64(&j, "dataplane_nodes", pushed_count(d));
		ctl_json_obj_end(&j);
		ctl_buf_putc(out, '\n');
		return ctl_json_finish(&j);
	}
	ctl_buf_printf(out, "dataplane: %u nodes\n", pushed_count(d));
	return rc;
}

int ctl_dht_cmd_summary(struct ctl_admin_ctx *ctx, int argc, char **argv, bool json,
			struct ctl_buf *out)
{
	struct ctl_dht *d = g_dht;
	char hex[SN_NODE_ID_HEX_LEN + 1];
	unsigned partials = 0, reqs = 0;
	uint64_t now = ctl_mono_ns();

	(void)ctx;
	(void)argc;
	(void)argv;
	if (!d) {
		if (json)
			ctl_buf_puts(out,
				     "{\"error\":\"the DHT node is not running\",\"errno\":-2}\n");
		else
			ctl_buf_puts(out, "error: the DHT node is not running\n");
		return -ENOENT;
	}
	for (int i = 0; i < PARTIAL_MAX; i++)
		partials += d->partials[i].used;
	for (int i = 0; i < REQ_MAX; i++)
		reqs += d->reqs[i].tid != 0;
	sn_node_id_to_hex(&d->self, hex);
	const struct {
		const char *name;
		uint64_t v;
	} rows[] = {
	    {"network_id", d->network},
	    {"dataplane_state", d->state_ok},
	    {"token_rotations", d->tokens.rotations},
	    {"next_rotation_s",
	     d->next_rotate_ns > now ? (d->next_rotate_ns - now) / CTL_NS_PER_SEC : 0},
	    {"keys", d->store.n_keys},
	    {"values", d->store.total_values},
	    {"bytes", d->store.total_bytes},
	    {"listeners", d->store.total_listeners},
	    {"sources", d->store.n_quotas},
	    {"fragmented_puts", partials},
	    {"requests_pending", reqs},
	    {"nodes_ipv4", sn_rt_good_count(d->rt[0], now)},
	    {"nodes_ipv6", sn_rt_good_count(d->rt[1], now)},
	    {"dataplane_nodes", pushed_count(d)},
	    {"max_store_bytes", d->store.lim.max_bytes},
	    {"quota_bytes", d->store.lim.quota_bytes},
	    {"quota_values", d->store.lim.quota_values},
	    {"quota_listeners", d->store.lim.quota_listeners},
	};
	if (json) {
		struct ctl_json j;

		ctl_json_init(&j, out);
		ctl_json_obj_begin(&j);
		ctl_json_kv_str(&j, "node_id", hex);
		for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
			ctl_json_kv_u64(&j, rows[i].name, rows[i].v);
		ctl_json_obj_end(&j);
		ctl_buf_putc(out, '\n');
		return ctl_json_finish(&j);
	}
	ctl_buf_printf(out, "node_id          %s\n", hex);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		ctl_buf_printf(out, "%-16s %" PRIu64 "\n", rows[i].name, rows[i].v);
	return 0;
}

/* ---------- init ---------- */

int ctl_dht_init(struct ctl_dht **out, const struct sn_config *cfg, struct ctl_chan *ch)
{
	const struct sn_dht_config *c = &cfg->dht;
	struct ctl_dht *d;
	uint8_t secret[SN_TOKEN_SECRET_LEN], hkey[16];
	uint16_t dht_port = 0;
	uint64_t now = ctl_mono_ns();
	int rc;

	*out = NULL;
	for (int i = 0; i < cfg->dataplane.n_dispatch; i++)
		if (cfg->dataplane.dispatch[i].handler == SN_UDP_HANDLER_DHT) {
			dht_port = cfg->dataplane.dispatch[i].port;
			break;
		}
	if (!dht_port) {
		SN_INFO("dht: no UDP port is dispatched to the dht handler; the DHT node is off");
		return 0;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->ch = ch;
	d->network = c->network_id;
	d->port = htons(dht_port);
	snprintf(d->runtime_dir, sizeof(d->runtime_dir), "%s", cfg->runtime_dir);
	for (int i = 0; i < cfg->dataplane.n_ports; i++) {
		const struct sn_port_config *p = &cfg->dataplane.ports[i];

		if (p->has_ipv4 && !d->have4) {
			memcpy(d->addr4, &p->ipv4, 4);
			d->have4 = true;
		}
		if (p->has_ipv6 && !d->have6) {
			memcpy(d->addr6, &p->ipv6, 16);
			d->have6 = true;
		}
	}
	rc = load_node_id(d, cfg);
	if (rc < 0) {
		SN_ERR("dht: node id: %s", strerror(-rc));
		goto fail;
	}
	rand_bytes(secret, sizeof(secret));
	sn_token_init(&d->tokens, secret);
	schedule_rotation(d, now);
	d->next_tid = (uint32_t)rand_u64();
	rc = -ENOMEM;
	d->rt[0] = malloc(sizeof(struct sn_rt));
	d->rt[1] = malloc(sizeof(struct sn_rt));
	if (!d->rt[0] || !d->rt[1] || sn_rt_init(d->rt[0], AF_INET, &d->self) < 0 ||
	    sn_rt_init(d->rt[1], AF_INET6, &d->self) < 0)
		goto fail;
	for (int i = 0; i < c->n_bootstrap; i++) {
		struct sn_node_addr *a = &d->boot[d->n_boot];
		int family;
		uint16_t port;

		memset(a, 0, sizeof(*a));
		if (sn_config_parse_endpoint(c->bootstrap[i], &family, a->addr, &port) < 0)
			continue;
		a->family = (uint8_t)family;
		a->port = htons(port);
		d->n_boot++;
	}
	struct dht_store_limits lim = {
	    .max_bytes = c->max_store_bytes,
	    .max_keys = c->max_keys,
	    .max_values_per_key = c->max_values_per_key,
	    .max_value_size = c->max_value_size,
	    .quota_bytes = c->quota_bytes,
	    .quota_values = c->quota_values,
	    .max_listeners = c->max_listeners,
	    .quota_listeners = c->quota_listeners,
	};
	rand_bytes(hkey, sizeof(hkey));
	if (dht_store_init(&d->store, &lim, hkey) < 0)
		goto fail;
	d->rl = (struct ctl_ratelimit)CTL_RATELIMIT_INIT(10000, 10);
	d->evict_rl = (struct ctl_ratelimit)CTL_RATELIMIT_INIT(10000, 20);
	d->admit_prefix[0] = c->admit_per_prefix4;
	d->admit_prefix[1] = c->admit_per_prefix6;
	d->admit_sybil = c->admit_sybil;
	d->evict_bad = c->evict_bad_msgs;
	d->ban_ns = (uint64_t)c->evict_ban_s * CTL_NS_PER_SEC;
	d->recheck_ns = (uint64_t)c->recheck_s * CTL_NS_PER_SEC;
	ctl_trust_set_self(d->self.b);
	SHA1((const uint8_t *)CTL_TRUST_VOUCH_KEY, strlen(CTL_TRUST_VOUCH_KEY), d->vouch_key.b);

	struct ctl_table_hooks h = {
	    .tables = (1u << SN_TABLE_DHT_NODE) | (1u << SN_TABLE_DHT_STATE),
	    .dump_entry = hook_dump_entry,
	    .ready = hook_ready,
	    .ack = hook_ack,
	    .arg = d,
	};
	rc = ctl_chan_add_table_hooks(ch, &h);
	if (rc < 0)
		goto fail_store;
	ctl_chan_set_punt_handler(ch, SN_PUNT_DHT, on_punt, d);
	ctl_chan_set_punt_handler(ch, SN_PUNT_DHT_SEEN, on_punt, d);
	char hex[SN_NODE_ID_HEX_LEN + 1];

	sn_node_id_to_hex(&d->self, hex);
	SN_INFO("dht: node %s, network %u, udp port %u, %u bootstrap node(s)", hex, d->network,
		dht_port, d->n_boot);
	ctl_ctr_set(&ctl_dht_stats.enabled, 1);
	g_dht = d;
	*out = d;
	return 0;
fail_store:
	dht_store_fini(&d->store);
fail:
	free(d->rt[0]);
	free(d->rt[1]);
	free(d);
	return rc;
}

void ctl_dht_fini(struct ctl_dht *d)
{
	if (!d)
		return;
	if (g_dht == d)
		g_dht = NULL;
	ctl_ctr_set(&ctl_dht_stats.enabled, 0);
	for (int i = 0; i < PARTIAL_MAX; i++)
		if (d->partials[i].used)
			partial_free(d, &d->partials[i]);
	dht_store_fini(&d->store);
	sn_rt_snapshot_free(d->snap);
	free(d->pushed);
	free(d->rt[0]);
	free(d->rt[1]);
	free(d);
}

const struct sn_node_id *ctl_dht_self(const struct ctl_dht *d)
{
	return d ? &d->self : NULL;
}

struct dht_store *ctl_dht_storage(struct ctl_dht *d)
{
	return d ? &d->store : NULL;
}
