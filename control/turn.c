/* turn.c: TURN requests, allocation state, expiry and dataplane table upkeep (turn.h). */
#include "turn_int.h"
#include "channeldata.h"
#include "clients.h"
#include "reload.h"
#include "sn_log.h"
#include "trust.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ctl_turn_method_names[CTL_TURN_M_MAX] = {
#define CTL_X(name, label) [CTL_TURN_M_##name] = label,
    CTL_TURN_METHODS(CTL_X)
#undef CTL_X
};
const char *const ctl_turn_error_names[CTL_TURN_E_MAX] = {
#define CTL_X(name, code, label) [CTL_TURN_E_##name] = label,
    CTL_TURN_ERRORS(CTL_X)
#undef CTL_X
};
const uint16_t ctl_turn_error_codes[CTL_TURN_E_MAX] = {
#define CTL_X(name, code, label) [CTL_TURN_E_##name] = code,
    CTL_TURN_ERRORS(CTL_X)
#undef CTL_X
};
const char *const ctl_turn_auth_failure_names[CTL_TURN_AF_MAX] = {
#define CTL_X(name, label) [CTL_TURN_AF_##name] = label,
    CTL_TURN_AUTH_FAILURES(CTL_X)
#undef CTL_X
};
const char *const ctl_turn_drop_names[CTL_TURN_D_MAX] = {
#define CTL_X(name, label) [CTL_TURN_D_##name] = label,
    CTL_TURN_DROPS(CTL_X)
#undef CTL_X
};
const char *const ctl_turn_table_error_names[CTL_TURN_T_MAX] = {
#define CTL_X(name, label) [CTL_TURN_T_##name] = label,
    CTL_TURN_TABLE_ERRORS(CTL_X)
#undef CTL_X
};

/* coturn 4.6 sends ADDITIONAL-ADDRESS-FAMILY with its draft code point (comprehension-
 * optional, like RFC 8656's 0x8000), so it is read as an alias. */
#define ATTR_AAF_COTURN 0x8032

#define ID_PAGE_SHIFT 12
#define ID_PAGE_SIZE  (1u << ID_PAGE_SHIFT)

/* ---------------------------------------------------------------- helpers */

static uint64_t real_clock(void *arg)
{
	(void)arg;
	return ctl_real_ns();
}

uint64_t turn_now_real(const struct ctl_turn *t)
{
	return t->now_real(t->now_arg);
}

static size_t addr_len(uint8_t family)
{
	return family == AF_INET ? 4 : 16;
}

static int family_index(uint8_t family)
{
	return family == AF_INET ? 0 : family == AF_INET6 ? 1 : -1;
}

static bool tuple_eq(const struct sn_udp_tuple *a, const struct sn_udp_tuple *b)
{
	size_t n = addr_len(a->family);

	return a->family == b->family && a->src_port == b->src_port && a->dst_port == b->dst_port &&
	       !memcmp(a->src, b->src, n) && !memcmp(a->dst, b->dst, n);
}

static uint32_t fnv(uint32_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	return h;
}

static uint32_t tuple_hash(const struct sn_udp_tuple *tu)
{
	size_t n = addr_len(tu->family);
	uint32_t h = 2166136261u;

	h = fnv(h, &tu->family, 1);
	h = fnv(h, tu->src, n);
	h = fnv(h, &tu->src_port, 2);
	h = fnv(h, tu->dst, n);
	h = fnv(h, &tu->dst_port, 2);
	return h;
}

static const char *ip_str(uint8_t family, const uint8_t *addr, char *buf, size_t n)
{
	if (!inet_ntop(family == AF_INET ? AF_INET : AF_INET6, addr, buf, (socklen_t)n))
		snprintf(buf, n, "?");
	return buf;
}

static uint64_t rnd64(void)
{
	uint64_t v = 0;

	if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1) {
		/* not for secrets: ports and tokens only need to be hard to guess */
		v = ctl_mono_ns() * 6364136223846793005ull + (uint64_t)random();
	}
	return v;
}

static void gauges(struct ctl_turn *t)
{
	ctl_ctr_set(&t->ctr.allocations, t->n_allocs);
	ctl_ctr_set(&t->ctr.permissions, t->n_perms_total);
	ctl_ctr_set(&t->ctr.channels, t->n_chans_total);
}

/* ---------------------------------------------------------------- users */

static uint32_t str_hash(const char *s)
{
	return fnv(2166136261u, s, strlen(s));
}

static struct turn_user *user_get(struct ctl_turn *t, const char *identity)
{
	uint32_t b = str_hash(identity) & (TURN_USER_BUCKETS - 1);
	struct turn_user *u;

	for (u = t->users[b]; u; u = u->next)
		if (!strcmp(u->identity, identity))
			return u;
	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	snprintf(u->identity, sizeof(u->identity), "%s", identity);
	u->next = t->users[b];
	t->users[b] = u;
	return u;
}

static struct turn_user *user_find(struct ctl_turn *t, const char *identity)
{
	uint32_t b = str_hash(identity) & (TURN_USER_BUCKETS - 1);

	for (struct turn_user *u = t->users[b]; u; u = u->next)
		if (!strcmp(u->identity, identity))
			return u;
	return NULL;
}

static void user_release(struct ctl_turn *t, struct turn_user *u)
{
	uint32_t b;

	if (!u || --u->allocs)
		return;
	b = str_hash(u->identity) & (TURN_USER_BUCKETS - 1);
	for (struct turn_user **pp = &t->users[b]; *pp; pp = &(*pp)->next)
		if (*pp == u) {
			*pp = u->next;
			break;
		}
	free(u);
}

static uint32_t quota_of(const struct ctl_turn *t, const struct ctl_turn_cred *c)
{
	const struct sn_turn_config *tc = &t->cfg->turn;

	if (c->user_idx >= 0 && c->user_idx < tc->n_users && tc->users[c->user_idx].quota)
		return tc->users[c->user_idx].quota;
	return tc->user_quota;
}

/* ---------------------------------------------------------------- ids and ports */

struct turn_alloc *turn_alloc_by_id(const struct ctl_turn *t, uint32_t id)
{
	struct turn_alloc **page;

	if (id >= t->max_allocs)
		return NULL;
	page = t->id_pages[id >> ID_PAGE_SHIFT];
	return page ? page[id & (ID_PAGE_SIZE - 1)] : NULL;
}

static int id_store(struct ctl_turn *t, uint32_t id, struct turn_alloc *a)
{
	struct turn_alloc ***pp = &t->id_pages[id >> ID_PAGE_SHIFT];

	if (!*pp) {
		if (!a)
			return 0;
		*pp = calloc(ID_PAGE_SIZE, sizeof(**pp));
		if (!*pp)
			return -ENOMEM;
	}
	(*pp)[id & (ID_PAGE_SIZE - 1)] = a;
	if (a)
		t->id_used[id / 8] |= (uint8_t)(1u << (id % 8));
	else
		t->id_used[id / 8] &= (uint8_t) ~(1u << (id % 8));
	return 0;
}

/* A free id after the cursor (ids are not reused at once, so a late ack or a stale dataplane
 * entry of a freed id is not mistaken for a new allocation's). */
static int id_pick(struct ctl_turn *t, uint32_t *out)
{
	for (uint32_t n = 0; n < t->max_allocs; n++) {
		uint32_t id = t->id_cursor++;

		if (t->id_cursor >= t->max_allocs)
			t->id_cursor = 0;
		if (!(t->id_used[id / 8] & (1u << (id % 8)))) {
			*out = id;
			return 0;
		}
	}
	return -ENOSPC;
}

static bool port_used(const struct ctl_turn *t, int fi, uint32_t port)
{
	return t->relay_used[fi][port / 8] & (1u << (port % 8));
}

static void port_mark(struct ctl_turn *t, int fi, uint16_t port, bool used)
{
	const struct sn_turn_config *tc = &t->cfg->turn;
	bool in_range = port >= tc->relay_port_min && port <= tc->relay_port_max;

	if (fi < 0 || port_used(t, fi, port) == used)
		return;
	if (used)
		t->relay_used[fi][port / 8] |= (uint8_t)(1u << (port % 8));
	else
		t->relay_used[fi][port / 8] &= (uint8_t) ~(1u << (port % 8));
	if (in_range)
		t->relay_free[fi] += used ? (uint32_t)-1 : 1u;
}

/* Picks a free relay port at random: even when asked, with the next one free too when it is
 * to be reserved. Returns 0 or -ENOSPC. */
static int port_pick(struct ctl_turn *t, int fi, bool even, bool pair, uint16_t *out)
{
	uint32_t lo = t->cfg->turn.relay_port_min, hi = t->cfg->turn.relay_port_max;
	uint32_t span = hi - lo + 1, start;

	if (!t->relay_free[fi])
		return -ENOSPC;
	start = (uint32_t)(rnd64() % span);
	for (uint32_t i = 0; i < span; i++) {
		uint32_t p = lo + (start + i) % span;

		if ((even && (p & 1)) || port_used(t, fi, p))
			continue;
		if (pair && (p + 1 > hi || port_used(t, fi, p + 1)))
			continue;
		*out = (uint16_t)p;
		return 0;
	}
	return -ENOSPC;
}

bool turn_relay_addr(const struct ctl_turn *t, const struct turn_alloc *a, uint8_t family,
		     struct sn_stun_addr *out)
{
	const struct sn_port_config *pc;
	uint16_t port = family == AF_INET ? a->relay_port4 : a->relay_port6;

	if (!port || a->port_idx >= t->cfg->dataplane.n_ports)
		return false;
	pc = &t->cfg->dataplane.ports[a->port_idx];
	memset(out, 0, sizeof(*out));
	out->family = family;
	out->port = htons(port);
	if (family == AF_INET) {
		if (!pc->has_ipv4)
			return false;
		memcpy(out->addr, &pc->ipv4, 4);
	} else {
		if (!pc->has_ipv6)
			return false;
		memcpy(out->addr, pc->ipv6.s6_addr, 16);
	}
	return true;
}

/* ---------------------------------------------------------------- dataplane commands */

static void tomb_add(struct ctl_turn *t, uint8_t table, const void *key, uint16_t key_len)
{
	struct turn_tombstone *ts;

	for (uint32_t i = 0; i < t->n_tomb; i++)
		if (t->tomb[i].table == table && t->tomb[i].key_len == key_len &&
		    !memcmp(t->tomb[i].key, key, key_len))
			return;
	if (t->n_tomb == TURN_MAX_TOMBSTONES) {
		/* the next resync finds the entry and removes it (it has expired by then or is
		 * unknown to control) */
		return;
	}
	ts = &t->tomb[t->n_tomb++];
	ts->table = table;
	ts->key_len = key_len;
	memcpy(ts->key, key, key_len);
}

static bool tomb_has(const struct ctl_turn *t, uint8_t table, const void *key, uint16_t key_len)
{
	for (uint32_t i = 0; i < t->n_tomb; i++)
		if (t->tomb[i].table == table && t->tomb[i].key_len == key_len &&
		    !memcmp(t->tomb[i].key, key, key_len))
			return true;
	return false;
}

/* Forgets a DEL still waiting for the socket: the key is in use again, and a late DEL would
 * remove the new entry from the dataplane while control lists it. */
static void tomb_cancel(struct ctl_turn *t, uint8_t table, const void *key, uint16_t key_len)
{
	for (uint32_t i = 0; i < t->n_tomb; i++)
		if (t->tomb[i].table == table && t->tomb[i].key_len == key_len &&
		    !memcmp(t->tomb[i].key, key, key_len)) {
			t->tomb[i] = t->tomb[--t->n_tomb];
			return;
		}
}

static void txn_ack(struct ctl_turn *t, int32_t idx, uint32_t gen, int32_t result);

/* Forgets an in-flight slot (its ack will be ignored). */
static void inflight_clear(struct ctl_turn *t, struct turn_inflight *s)
{
	if (s->used) {
		s->used = false;
		t->n_inflight--;
	}
}

static struct turn_inflight *inflight_get(struct ctl_turn *t, uint32_t seq)
{
	struct turn_inflight *s = &t->inflight[seq & (TURN_INFLIGHT - 1)];

	return s->used && s->seq == seq ? s : NULL;
}

static bool chan_ready(const struct ctl_turn *t)
{
	return t->chan && t->chan->session && t->chan->state == CTL_CHAN_READY;
}

/* Sends one TABLE_CMD and tracks its ack. Returns the seq (> 0) or a negative errno. */
static int64_t send_cmd(struct ctl_turn *t, uint8_t table, uint8_t op, const void *key,
			uint16_t key_len, const void *val, uint16_t val_len, int32_t txn,
			uint32_t txn_gen, uint64_t now)
{
	uint64_t buf[(sizeof(struct sn_msg_hdr) + sizeof(struct sn_msg_table_cmd) + 24 +
		      sizeof(struct sn_turn_alloc_value) + 8) /
		     8];
	struct turn_inflight *s;
	uint32_t seq;
	int len, rc;

	if (!chan_ready(t)) {
		ctl_ctr_inc(&t->ctr.table_errors[CTL_TURN_T_SEND_FAILED]);
		return -ENOTCONN;
	}
	seq = ctl_chan_next_seq(t->chan);
	len = sn_msg_build_table(buf, sizeof(buf), SN_MSG_TABLE_CMD, seq, table, op, key, key_len,
				 val, val_len);
	if (len < 0)
		return len;
	rc = ctl_chan_send(t->chan, buf, (size_t)len);
	if (rc < 0) {
		ctl_ctr_inc(&t->ctr.table_errors[CTL_TURN_T_SEND_FAILED]);
		return rc;
	}
	ctl_ctr_inc(&t->ctr.table_commands);
	s = &t->inflight[seq & (TURN_INFLIGHT - 1)];
	if (s->used) {
		/* a command TURN_INFLIGHT sends ago is still unanswered: count it as lost */
		ctl_ctr_inc(&t->ctr.table_errors[CTL_TURN_T_ACK_TIMEOUT]);
		txn_ack(t, s->txn, s->txn_gen, -ETIMEDOUT);
		inflight_clear(t, s);
		t->dirty = true;
	}
	memset(s, 0, sizeof(*s));
	s->used = true;
	s->table = table;
	s->op = op;
	s->seq = seq;
	s->sent_ns = now;
	s->txn = txn;
	s->txn_gen = txn_gen;
	s->key_len = key_len;
	memcpy(s->key, key, key_len);
	t->n_inflight++;
	return seq;
}

static void del_cmd(struct ctl_turn *t, uint8_t table, const void *key, uint16_t key_len,
		    uint64_t now)
{
	if (send_cmd(t, table, SN_TABLE_OP_DEL, key, key_len, NULL, 0, -1, 0, now) < 0)
		tomb_add(t, table, key, key_len);
}

static void alloc_key_val(const struct turn_alloc *a, struct sn_turn_alloc_key *k,
			  struct sn_turn_alloc_value *v)
{
	memset(k, 0, sizeof(*k));
	memset(v, 0, sizeof(*v));
	k->alloc_id = a->id;
	v->client = a->client;
	v->port_idx = a->port_idx;
	v->relay_port4 = a->relay_port4;
	v->relay_port6 = a->relay_port6;
	v->expires_ns = a->expires_ns;
}

static void perm_key(const struct turn_alloc *a, const struct turn_perm *p,
		     struct sn_turn_perm_key *k)
{
	memset(k, 0, sizeof(*k));
	k->alloc_id = a->id;
	k->family = p->family;
	memcpy(k->peer, p->addr, addr_len(p->family));
}

static void chan_key_val(const struct turn_alloc *a, const struct turn_chan *c,
			 struct sn_turn_channel_key *k, struct sn_turn_channel_value *v)
{
	memset(k, 0, sizeof(*k));
	k->alloc_id = a->id;
	k->channel = c->number;
	if (v) {
		memset(v, 0, sizeof(*v));
		v->family = c->peer.family;
		v->peer_port = c->peer.port;
		memcpy(v->peer, c->peer.addr, addr_len(c->peer.family));
		v->expires_ns = c->expires_ns;
	}
}

/* Sends ADD for an entry; on success the entry is PENDING and the txn (if any) waits. */
static int install(struct ctl_turn *t, uint8_t table, const void *key, uint16_t key_len,
		   const void *val, uint16_t val_len, struct turn_sync *sync, int32_t txn,
		   uint64_t now)
{
	uint32_t gen = txn >= 0 ? t->txns[txn].gen : 0;
	int64_t seq;

	tomb_cancel(t, table, key, key_len);
	seq = send_cmd(t, table, SN_TABLE_OP_ADD, key, key_len, val, val_len, txn, gen, now);

	if (seq < 0) {
		sync->state = TURN_DP_DIRTY;
		t->dirty = true;
		return (int)seq;
	}
	sync->state = TURN_DP_PENDING;
	sync->seq = (uint32_t)seq;
	if (txn >= 0)
		t->txns[txn].waiting++;
	return 0;
}

static int alloc_install(struct ctl_turn *t, struct turn_alloc *a, int32_t txn, uint64_t now)
{
	struct sn_turn_alloc_key k;
	struct sn_turn_alloc_value v;

	alloc_key_val(a, &k, &v);
	return install(t, SN_TABLE_TURN_ALLOC, &k, sizeof(k), &v, sizeof(v), &a->sync, txn, now);
}

static int perm_install(struct ctl_turn *t, struct turn_alloc *a, struct turn_perm *p, int32_t txn,
			uint64_t now)
{
	struct sn_turn_perm_key k;
	struct sn_turn_perm_value v = {.expires_ns = p->expires_ns};

	perm_key(a, p, &k);
	return install(t, SN_TABLE_TURN_PERM, &k, sizeof(k), &v, sizeof(v), &p->sync, txn, now);
}

static int chan_install(struct ctl_turn *t, struct turn_alloc *a, struct turn_chan *c, int32_t txn,
			uint64_t now)
{
	struct sn_turn_channel_key k;
	struct sn_turn_channel_value v;

	chan_key_val(a, c, &k, &v);
	return install(t, SN_TABLE_TURN_CHANNEL, &k, sizeof(k), &v, sizeof(v), &c->sync, txn, now);
}

/* ---------------------------------------------------------------- allocations */

static struct turn_alloc *alloc_find(const struct ctl_turn *t, const struct sn_udp_tuple *tu)
{
	for (struct turn_alloc *a = t->buckets[tuple_hash(tu) & t->bucket_mask]; a; a = a->next)
		if (tuple_eq(&a->client, tu))
			return a;
	return NULL;
}

static struct turn_alloc *alloc_new(struct ctl_turn *t, uint32_t id,
				    const struct sn_udp_tuple *client)
{
	struct turn_alloc *a = calloc(1, sizeof(*a));
	uint32_t b;

	if (!a)
		return NULL;
	if (id_store(t, id, a) < 0) {
		free(a);
		return NULL;
	}
	a->id = id;
	a->client = *client;
	b = tuple_hash(client) & t->bucket_mask;
	a->next = t->buckets[b];
	t->buckets[b] = a;
	t->n_allocs++;
	gauges(t);
	return a;
}

static void perm_remove_at(struct ctl_turn *t, struct turn_alloc *a, uint32_t i)
{
	a->perms[i] = a->perms[--a->n_perms];
	t->n_perms_total--;
}

static void chan_unbind(struct ctl_turn *t, struct turn_chan *c, uint64_t now_real)
{
	if (c->bound) {
		c->bound = false;
		c->quarantine_ns = now_real + TURN_CHANNEL_QUARANTINE_NS;
		t->n_chans_total--;
	}
}

static void chan_remove_at(struct ctl_turn *t, struct turn_alloc *a, uint32_t i)
{
	if (a->chans[i].bound)
		t->n_chans_total--;
	a->chans[i] = a->chans[--a->n_chans];
}

/* Frees an allocation; with dp, also removes it from the dataplane (an ALLOC DEL takes its
 * permissions and channels with it). */
static void alloc_free(struct ctl_turn *t, struct turn_alloc *a, bool dp, uint64_t now)
{
	uint32_t b = tuple_hash(&a->client) & t->bucket_mask;

	ctl_clients_turn(&a->client, CTL_CLIENT_FREE, a->to_peer_bytes + a->to_client_bytes);
	if (dp) {
		struct sn_turn_alloc_key k = {.alloc_id = a->id};

		del_cmd(t, SN_TABLE_TURN_ALLOC, &k, sizeof(k), now);
	}
	for (uint32_t i = 0; i < a->n_chans; i++)
		if (a->chans[i].bound)
			t->n_chans_total--;
	t->n_perms_total -= a->n_perms;
	for (struct turn_alloc **pp = &t->buckets[b]; *pp; pp = &(*pp)->next)
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	if (a->relay_port4)
		port_mark(t, 0, a->relay_port4, false);
	if (a->relay_port6)
		port_mark(t, 1, a->relay_port6, false);
	user_release(t, a->user);
	id_store(t, a->id, NULL);
	t->n_allocs--;
	free(a->perms);
	free(a->chans);
	free(a);
	gauges(t);
}

static struct turn_perm *perm_find(struct turn_alloc *a, uint8_t family, const uint8_t *addr)
{
	for (uint32_t i = 0; i < a->n_perms; i++)
		if (a->perms[i].family == family &&
		    !memcmp(a->perms[i].addr, addr, addr_len(family)))
			return &a->perms[i];
	return NULL;
}

static struct turn_perm *perm_add(struct ctl_turn *t, struct turn_alloc *a, uint8_t family,
				  const uint8_t *addr)
{
	struct turn_perm *p;

	if (a->n_perms == a->cap_perms) {
		uint32_t cap = a->cap_perms ? a->cap_perms * 2 : 4;
		struct turn_perm *n = realloc(a->perms, cap * sizeof(*n));

		if (!n)
			return NULL;
		a->perms = n;
		a->cap_perms = cap;
	}
	p = &a->perms[a->n_perms++];
	memset(p, 0, sizeof(*p));
	p->family = family;
	memcpy(p->addr, addr, addr_len(family));
	t->n_perms_total++;
	return p;
}

static struct turn_chan *chan_find_number(struct turn_alloc *a, uint16_t number)
{
	for (uint32_t i = 0; i < a->n_chans; i++)
		if (a->chans[i].number == number)
			return &a->chans[i];
	return NULL;
}

static bool stun_addr_eq(const struct sn_stun_addr *x, const struct sn_stun_addr *y)
{
	return x->family == y->family && x->port == y->port &&
	       !memcmp(x->addr, y->addr, addr_len(x->family));
}

static struct turn_chan *chan_find_peer(struct turn_alloc *a, const struct sn_stun_addr *peer)
{
	for (uint32_t i = 0; i < a->n_chans; i++)
		if (stun_addr_eq(&a->chans[i].peer, peer))
			return &a->chans[i];
	return NULL;
}

static struct turn_chan *chan_add(struct turn_alloc *a)
{
	if (a->n_chans == a->cap_chans) {
		uint32_t cap = a->cap_chans ? a->cap_chans * 2 : 4;
		struct turn_chan *n = realloc(a->chans, cap * sizeof(*n));

		if (!n)
			return NULL;
		a->chans = n;
		a->cap_chans = cap;
	}
	memset(&a->chans[a->n_chans], 0, sizeof(a->chans[0]));
	return &a->chans[a->n_chans++];
}

static uint32_t chans_bound(const struct turn_alloc *a)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < a->n_chans; i++)
		n += a->chans[i].bound;
	return n;
}

/* ---------------------------------------------------------------- answers */

/* Sends payload to the client of a punt: from the appliance address and port the request
 * came to, on the port it came in on. */
static int inject(struct ctl_turn *t, uint16_t port_id, const struct sn_udp_tuple *to,
		  const uint8_t *payload, size_t len)
{
	uint64_t
	    buf[(sizeof(struct sn_msg_hdr) + sizeof(struct sn_msg_inject) + TURN_RESP_MAX) / 8];
	struct sn_msg_inject *inj =
	    (struct sn_msg_inject *)((uint8_t *)buf + sizeof(struct sn_msg_hdr));
	int rc;

	if (len > TURN_RESP_MAX)
		return -EMSGSIZE;
	memset(inj, 0, sizeof(*inj));
	inj->port_id = port_id;
	inj->payload_len = (uint16_t)len;
	inj->tuple = *to;
	memcpy(inj->payload, payload, len);
	sn_msg_init(buf, SN_MSG_INJECT, ctl_chan_next_seq(t->chan), (uint32_t)(sizeof(*inj) + len));
	rc = ctl_chan_send(t->chan, buf, sizeof(struct sn_msg_hdr) + sizeof(*inj) + len);
	if (rc < 0)
		ctl_ctr_inc(&t->ctr.drops[CTL_TURN_D_INJECT_FAILED]);
	return rc;
}

static void reverse_tuple(const struct sn_udp_tuple *in, struct sn_udp_tuple *out)
{
	memset(out, 0, sizeof(*out));
	out->family = in->family;
	out->src_port = in->dst_port;
	out->dst_port = in->src_port;
	memcpy(out->src, in->dst, sizeof(out->src));
	memcpy(out->dst, in->src, sizeof(out->dst));
}

/* One punted request being handled. */
struct req {
	struct ctl_turn *t;
	const struct sn_msg_punt *punt;
	const uint8_t *buf;
	size_t len;
	struct sn_stun_msg m;
	enum ctl_turn_method method;
	struct sn_stun_addr client; /* the client's transport address (XOR-MAPPED-ADDRESS) */
	struct sn_udp_tuple to;	    /* appliance -> client, for INJECT */
	bool fp;		    /* the request carried FINGERPRINT */
	bool sha256;		    /* it was authenticated with MESSAGE-INTEGRITY-SHA256 */
	bool authed;
	struct ctl_turn_cred cred;
	uint64_t now;	   /* monotonic */
	uint64_t now_real; /* wall clock */
};

static void req_drop(struct req *r, enum ctl_turn_drop d)
{
	ctl_ctr_inc(&r->t->ctr.drops[d]);
}

static void req_send(struct req *r, const uint8_t *p, size_t len)
{
	inject(r->t, r->punt->port_id, &r->to, p, len);
}

static void resp_begin(struct req *r, struct sn_stun_writer *w, uint8_t *buf, size_t cap,
		       unsigned cls)
{
	sn_stun_writer_init(w, buf, cap, r->m.method, cls, sn_stun_tid(&r->m));
}

/* SOFTWARE when configured, integrity for an authenticated request, FINGERPRINT when the
 * request had one. Returns the length or a negative errno. */
static int resp_finish(struct req *r, struct sn_stun_writer *w)
{
	const char *sw = r->t->cfg->turn.software;
	unsigned flags = r->fp ? SN_STUN_FINISH_FINGERPRINT : 0;

	if (sw[0])
		sn_stun_put_attr(w, SN_STUN_ATTR_SOFTWARE, sw, strlen(sw));
	if (r->authed)
		flags |= r->sha256 ? SN_STUN_FINISH_INTEGRITY_SHA256 : SN_STUN_FINISH_INTEGRITY;
	return sn_stun_writer_finish(w, flags, r->authed ? r->cred.key : NULL,
				     r->authed ? r->cred.key_len : 0);
}

static void count_error(struct req *r, enum ctl_turn_error e)
{
	ctl_ctr_inc(&r->t->ctr.request_errors[r->method][e]);
}

/* An error answer to a sender that did not authenticate: never longer than the request.
 * Tried in full (reason phrase, SOFTWARE, FINGERPRINT if asked, a 24-character nonce for
 * challenges), then minimal (none of those, the nonce as long as fits, down to 4), else
 * dropped and counted. */
static void reply_unauth(struct req *r, enum ctl_turn_error e)
{
	struct ctl_turn *t = r->t;
	unsigned code = ctl_turn_error_codes[e];
	bool challenge = e == CTL_TURN_E_UNAUTHENTICATED || e == CTL_TURN_E_STALE_NONCE;
	const char *realm = t->cfg->turn.realm;
	const char *sw = t->cfg->turn.software;
	char nonce[CTL_TURN_NONCE_MAX];
	uint8_t out[TURN_RESP_MAX];
	struct sn_stun_writer w;

	count_error(r, e);
	for (int minimal = 0; minimal < 2; minimal++) {
		size_t nl = CTL_TURN_NONCE_MAX;

		for (;;) {
			resp_begin(r, &w, out, sizeof(out), SN_STUN_CLASS_ERROR);
			sn_stun_put_error(&w, code, minimal ? "" : NULL);
			if (challenge) {
				if (ctl_turn_nonce_make(&t->auth, &r->punt->tuple,
							r->now_real / CTL_NS_PER_SEC, nl,
							nonce) < 0) {
					req_drop(r, CTL_TURN_D_INTERNAL);
					return;
				}
				sn_stun_put_attr(&w, SN_STUN_ATTR_REALM, realm, strlen(realm));
				sn_stun_put_attr(&w, SN_STUN_ATTR_NONCE, nonce, nl);
			}
			if (!minimal && sw[0])
				sn_stun_put_attr(&w, SN_STUN_ATTR_SOFTWARE, sw, strlen(sw));
			if (!minimal && r->fp)
				sn_stun_put_fingerprint(&w);
			if (w.err) {
				req_drop(r, CTL_TURN_D_INTERNAL);
				return;
			}
			if (w.len <= r->len) {
				if (minimal)
					ctl_ctr_inc(&t->ctr.minimal_answers);
				req_send(r, out, w.len);
				return;
			}
			/* only a minimal challenge shortens its nonce */
			if (!challenge || !minimal || nl == CTL_TURN_NONCE_MIN)
				break;
			nl -= 4;
		}
	}
	req_drop(r, challenge ? CTL_TURN_D_CHALLENGE_TOO_LARGE : CTL_TURN_D_ERROR_TOO_LARGE);
}

/* An error answer: with integrity after authentication, else under the size rule.
 * reason NULL: the RFC phrase. unknown: UNKNOWN-ATTRIBUTES for 420. */
static void reply_error(struct req *r, enum ctl_turn_error e, const char *reason)
{
	uint8_t out[TURN_RESP_MAX];
	struct sn_stun_writer w;
	int len;

	if (!r->authed) {
		reply_unauth(r, e);
		return;
	}
	count_error(r, e);
	resp_begin(r, &w, out, sizeof(out), SN_STUN_CLASS_ERROR);
	sn_stun_put_error(&w, ctl_turn_error_codes[e], reason);
	if (e == CTL_TURN_E_UNKNOWN_ATTRIBUTE)
		sn_stun_put_unknown(&w, r->m.unknown, r->m.n_unknown);
	len = resp_finish(r, &w);
	if (len < 0) {
		req_drop(r, CTL_TURN_D_INTERNAL);
		return;
	}
	req_send(r, out, (size_t)len);
}

static void log_client(struct req *r, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An info line about a client, rate-limited, naming the calling function. */
#define LOG_CLIENT(r, ...) log_client(r, __func__, __VA_ARGS__)

static void log_client(struct req *r, const char *func, const char *fmt, ...)
{
	char what[200], ip[INET6_ADDRSTRLEN];
	uint64_t skipped = 0;
	va_list ap;

	if (sn_log_level < SN_LOG_INFO || !ctl_ratelimit_ok(&r->t->rl, r->now, &skipped))
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	ip_str(r->punt->tuple.family, r->punt->tuple.src, ip, sizeof(ip));
	if (skipped)
		sn_log_line(SN_LOG_INFO, func, "%s %s port %u: %s (%llu similar lines suppressed)",
			    ctl_turn_method_names[r->method], ip, ntohs(r->punt->tuple.src_port),
			    what, (unsigned long long)skipped);
	else
		sn_log_line(SN_LOG_INFO, func, "%s %s port %u: %s",
			    ctl_turn_method_names[r->method], ip, ntohs(r->punt->tuple.src_port),
			    what);
}

/* ---------------------------------------------------------------- transactions */

static void txn_free(struct ctl_turn *t, int32_t idx)
{
	t->txns[idx].used = false;
	t->txns[idx].gen++;
	t->n_txns--;
}

static int32_t txn_new(struct ctl_turn *t, const struct req *r)
{
	struct turn_txn *x;
	int32_t idx = -1;

	if (t->n_txns == TURN_MAX_TXN)
		return -1;
	for (int32_t i = 0; i < TURN_MAX_TXN; i++)
		if (!t->txns[i].used) {
			idx = i;
			break;
		}
	if (idx < 0)
		return -1;
	x = &t->txns[idx];
	x->used = true;
	x->waiting = 0;
	x->result = 0;
	x->deadline_ns = r->now + TURN_TXN_TIMEOUT_NS;
	x->port_id = r->punt->port_id;
	x->to = r->to;
	x->method = (uint16_t)r->method;
	x->stun_method = r->m.method;
	memcpy(x->tid, sn_stun_tid(&r->m), SN_STUN_TID_LEN);
	x->fp = r->fp;
	x->sha256 = r->sha256;
	memcpy(x->key, r->cred.key, sizeof(x->key));
	x->alloc_id = 0;
	x->is_allocate = false;
	x->resp_len = 0;
	t->n_txns++;
	return idx;
}

/* Answers a transaction whose commands are all acknowledged (or failed). */
static void txn_finish(struct ctl_turn *t, int32_t idx)
{
	struct turn_txn *x = &t->txns[idx];
	uint64_t now = ctl_mono_ns();

	if (x->result == 0) {
		struct turn_alloc *a = x->is_allocate ? turn_alloc_by_id(t, x->alloc_id) : NULL;

		if (a)
			a->answered = true;
		inject(t, x->port_id, &x->to, x->resp, x->resp_len);
	} else if (x->result == -ENOTCONN || x->result == -EAGAIN || x->result == -ETIMEDOUT) {
		/* the channel is down or full: no answer, the client retransmits */
		ctl_ctr_inc(&t->ctr.drops[CTL_TURN_D_NOT_READY]);
		if (x->is_allocate) {
			struct turn_alloc *a = turn_alloc_by_id(t, x->alloc_id);

			if (a && !a->answered)
				alloc_free(t, a, true, now);
		}
	} else {
		enum ctl_turn_error e = x->result == -ENOSPC ? CTL_TURN_E_INSUFFICIENT_CAPACITY
							     : CTL_TURN_E_SERVER_ERROR;
		uint8_t out[TURN_RESP_MAX];
		struct sn_stun_writer w;
		int len;

		ctl_ctr_inc(&t->ctr.request_errors[x->method][e]);
		if (x->is_allocate) {
			struct turn_alloc *a = turn_alloc_by_id(t, x->alloc_id);

			if (a && !a->answered)
				alloc_free(t, a, true, now);
		}
		sn_stun_writer_init(&w, out, sizeof(out), x->stun_method, SN_STUN_CLASS_ERROR,
				    x->tid);
		sn_stun_put_error(&w, ctl_turn_error_codes[e], NULL);
		if (t->cfg->turn.software[0])
			sn_stun_put_attr(&w, SN_STUN_ATTR_SOFTWARE, t->cfg->turn.software,
					 strlen(t->cfg->turn.software));
		len = sn_stun_writer_finish(
		    &w,
		    (x->sha256 ? SN_STUN_FINISH_INTEGRITY_SHA256 : SN_STUN_FINISH_INTEGRITY) |
			(x->fp ? SN_STUN_FINISH_FINGERPRINT : 0),
		    x->key, sizeof(x->key));
		if (len > 0)
			inject(t, x->port_id, &x->to, out, (size_t)len);
	}
	txn_free(t, idx);
}

static void txn_ack(struct ctl_turn *t, int32_t idx, uint32_t gen, int32_t result)
{
	struct turn_txn *x;

	if (idx < 0 || idx >= TURN_MAX_TXN)
		return;
	x = &t->txns[idx];
	if (!x->used || x->gen != gen)
		return; /* answered or given up already */
	if (result < 0 && !x->result)
		x->result = result;
	if (x->waiting)
		x->waiting--;
	if (!x->waiting)
		txn_finish(t, idx);
}

/* Called when a handler sent what it had to: answers now if nothing is awaited. */
static void txn_commit(struct ctl_turn *t, int32_t idx)
{
	if (!t->txns[idx].waiting)
		txn_finish(t, idx);
}

/* A send of the txn's command failed. */
static void txn_fail(struct ctl_turn *t, int32_t idx, int rc)
{
	if (!t->txns[idx].result)
		t->txns[idx].result = rc;
}

/* ---------------------------------------------------------------- authentication */

static void auth_fail(struct req *r, enum ctl_turn_auth_failure f)
{
	ctl_ctr_inc(&r->t->ctr.auth_failures[f]);
}

/* Long-term credential check (RFC 8489 §9.2.4). Returns 0 (r->authed, r->cred), or -1 when
 * the request was answered (401/438/400) or dropped. */
static int authenticate(struct req *r)
{
	struct ctl_turn *t = r->t;
	const struct sn_turn_config *tc = &t->cfg->turn;
	const uint8_t *user, *realm, *nonce;
	uint16_t ulen, rlen, nlen;
	enum ctl_cred_result cr;

	if (!sn_stun_has(&r->m, SN_STUN_A_MESSAGE_INTEGRITY) &&
	    !sn_stun_has(&r->m, SN_STUN_A_MESSAGE_INTEGRITY_SHA256)) {
		auth_fail(r, CTL_TURN_AF_NO_INTEGRITY);
		reply_unauth(r, CTL_TURN_E_UNAUTHENTICATED);
		return -1;
	}
	user = sn_stun_get(&r->m, SN_STUN_A_USERNAME, &ulen);
	realm = sn_stun_get(&r->m, SN_STUN_A_REALM, &rlen);
	nonce = sn_stun_get(&r->m, SN_STUN_A_NONCE, &nlen);
	if (!user || !realm || !nonce) {
		auth_fail(r, CTL_TURN_AF_MISSING_ATTRIBUTES);
		reply_unauth(r, CTL_TURN_E_BAD_REQUEST);
		return -1;
	}
	if (rlen != strlen(tc->realm) || memcmp(realm, tc->realm, rlen)) {
		auth_fail(r, CTL_TURN_AF_WRONG_REALM);
		reply_unauth(r, CTL_TURN_E_UNAUTHENTICATED);
		return -1;
	}
	switch (ctl_turn_nonce_check(&t->auth, &r->punt->tuple, nonce, nlen,
				     r->now_real / CTL_NS_PER_SEC)) {
	case CTL_NONCE_OK:
		break;
	case CTL_NONCE_STALE:
		auth_fail(r, CTL_TURN_AF_STALE_NONCE);
		reply_unauth(r, CTL_TURN_E_STALE_NONCE);
		return -1;
	case CTL_NONCE_INVALID:
	default:
		auth_fail(r, CTL_TURN_AF_BAD_NONCE);
		reply_unauth(r, CTL_TURN_E_STALE_NONCE);
		return -1;
	}
	cr = ctl_turn_credential(&t->auth, user, ulen, r->now_real / CTL_NS_PER_SEC, &r->cred);
	if (cr != CTL_CRED_OK) {
		if (cr == CTL_CRED_INTERNAL) {
			SN_ERR("long-term key derivation failed (libcrypto)");
			req_drop(r, CTL_TURN_D_INTERNAL);
			return -1;
		}
		auth_fail(r, cr == CTL_CRED_REST_EXPIRED   ? CTL_TURN_AF_REST_EXPIRED
			     : cr == CTL_CRED_BAD_USERNAME ? CTL_TURN_AF_BAD_USERNAME
							   : CTL_TURN_AF_UNKNOWN_USER);
		LOG_CLIENT(r, "credentials refused: %s",
			   cr == CTL_CRED_REST_EXPIRED	 ? "REST username expired"
			   : cr == CTL_CRED_BAD_USERNAME ? "malformed username"
							 : "unknown user");
		reply_unauth(r, CTL_TURN_E_UNAUTHENTICATED);
		return -1;
	}
	if (sn_stun_check_integrity(&r->m, r->cred.key, r->cred.key_len) != SN_STUN_OK) {
		auth_fail(r, CTL_TURN_AF_BAD_INTEGRITY);
		LOG_CLIENT(r, "MESSAGE-INTEGRITY wrong for user %s", r->cred.identity);
		reply_unauth(r, CTL_TURN_E_UNAUTHENTICATED);
		return -1;
	}
	r->sha256 = sn_stun_has(&r->m, SN_STUN_A_MESSAGE_INTEGRITY_SHA256);
	r->authed = true;
	return 0;
}

/* Checks that the authenticated user owns allocation a; binds an adopted allocation (no
 * owner known since a control restart) to it. Returns 0, or -1 when answered (441). */
static int check_owner(struct req *r, struct turn_alloc *a)
{
	struct turn_user *u;

	if (!a->user) {
		u = user_get(r->t, r->cred.identity);
		if (!u) {
			reply_error(r, CTL_TURN_E_SERVER_ERROR, NULL);
			return -1;
		}
		u->allocs++;
		a->user = u;
		LOG_CLIENT(r, "allocation %u (adopted) now owned by %s", a->id, u->identity);
		return 0;
	}
	if (strcmp(a->user->identity, r->cred.identity)) {
		auth_fail(r, CTL_TURN_AF_WRONG_CREDENTIALS);
		reply_error(r, CTL_TURN_E_WRONG_CREDENTIALS, NULL);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- Allocate */

static uint32_t lifetime_s(const struct ctl_turn *t, const struct sn_stun_msg *m)
{
	const struct sn_turn_config *tc = &t->cfg->turn;
	uint32_t want;

	if (!sn_stun_has(m, SN_STUN_A_LIFETIME))
		return tc->default_lifetime;
	want = sn_stun_get_u32(m, SN_STUN_A_LIFETIME);
	if (want > tc->max_lifetime)
		want = tc->max_lifetime;
	return want > tc->default_lifetime ? want : tc->default_lifetime;
}

static uint32_t seconds_left(uint64_t expires_ns, uint64_t now_real)
{
	return expires_ns > now_real
		   ? (uint32_t)((expires_ns - now_real + CTL_NS_PER_SEC / 2) / CTL_NS_PER_SEC)
		   : 0;
}

/* The Allocate success answer (also regenerated for a retransmission). */
static int build_alloc_success(struct req *r, const struct turn_alloc *a, bool ipv6_refused,
			       uint8_t *out, size_t cap)
{
	struct sn_stun_writer w;
	struct sn_stun_addr ra;

	resp_begin(r, &w, out, cap, SN_STUN_CLASS_SUCCESS);
	if (turn_relay_addr(r->t, a, AF_INET, &ra))
		sn_stun_put_xor_addr(&w, SN_STUN_ATTR_XOR_RELAYED_ADDRESS, &ra);
	if (turn_relay_addr(r->t, a, AF_INET6, &ra))
		sn_stun_put_xor_addr(&w, SN_STUN_ATTR_XOR_RELAYED_ADDRESS, &ra);
	if (ipv6_refused) {
		/* ADDRESS-ERROR-CODE: family, then ERROR-CODE's class/number and reason */
		uint8_t v[4 + 28] = {SN_STUN_FAMILY_IPV6, 0, 4, 40};
		const char *why = sn_stun_error_reason(440);
		size_t n = strlen(why);

		memcpy(v + 4, why, n);
		sn_stun_put_attr(&w, SN_STUN_ATTR_ADDRESS_ERROR_CODE, v, 4 + n);
	}
	sn_stun_put_u32(&w, SN_STUN_ATTR_LIFETIME, seconds_left(a->expires_ns, r->now_real));
	if (a->reservation_token) {
		uint8_t tok[8];

		for (int i = 0; i < 8; i++)
			tok[i] = (uint8_t)(a->reservation_token >> (56 - 8 * i));
		sn_stun_put_attr(&w, SN_STUN_ATTR_RESERVATION_TOKEN, tok, sizeof(tok));
	}
	sn_stun_put_xor_addr(&w, SN_STUN_ATTR_XOR_MAPPED_ADDRESS, &r->client);
	return resp_finish(r, &w);
}

static struct turn_reservation *resv_find(struct ctl_turn *t, uint64_t token)
{
	for (uint32_t i = 0; i < t->n_resv; i++)
		if (t->resv[i].token == token)
			return &t->resv[i];
	return NULL;
}

static void resv_remove(struct ctl_turn *t, struct turn_reservation *rv, bool free_port)
{
	if (free_port)
		port_mark(t, family_index(rv->family), rv->port, false);
	*rv = t->resv[--t->n_resv];
}

/* Reads a 1-byte address family value (REQUESTED-/ADDITIONAL-ADDRESS-FAMILY). */
static uint8_t family_attr(const uint8_t *v)
{
	return v[0] == SN_STUN_FAMILY_IPV4 ? AF_INET : v[0] == SN_STUN_FAMILY_IPV6 ? AF_INET6 : 0;
}

static void handle_allocate(struct req *r)
{
	struct ctl_turn *t = r->t;
	const struct sn_port_config *pc = &t->cfg->dataplane.ports[r->punt->port_id];
	const uint8_t *v, *aaf = NULL, *raf, *rt, *ep;
	uint16_t len, aaf_len = 0;
	uint32_t cursor = 0;
	bool want4 = false, want6 = false, ipv6_refused = false, even = false, reserve = false;
	struct turn_reservation *resv = NULL;
	struct turn_alloc *a;
	struct turn_user *u;
	uint16_t p4 = 0, p6 = 0;
	uint64_t token = 0;
	uint32_t id, quota;
	int32_t txn;
	int len_out;

	a = alloc_find(t, &r->punt->tuple);
	if (a) {
		if (a->have_tid && !memcmp(a->tid, sn_stun_tid(&r->m), SN_STUN_TID_LEN)) {
			/* a retransmission: answer again once the dataplane has the entry */
			if (!a->answered && a->sync.state != TURN_DP_OK) {
				req_drop(r, CTL_TURN_D_IN_PROGRESS);
				return;
			}
			uint8_t out[TURN_RESP_MAX];

			len_out = build_alloc_success(r, a, false, out, sizeof(out));
			if (len_out < 0) {
				req_drop(r, CTL_TURN_D_INTERNAL);
				return;
			}
			a->answered = true;
			req_send(r, out, (size_t)len_out);
			return;
		}
		reply_error(r, CTL_TURN_E_ALLOCATION_MISMATCH, NULL);
		return;
	}

	v = sn_stun_get(&r->m, SN_STUN_A_REQUESTED_TRANSPORT, &len);
	if (!v) {
		reply_error(r, CTL_TURN_E_BAD_REQUEST, "REQUESTED-TRANSPORT missing");
		return;
	}
	if (v[0] != IPPROTO_UDP) {
		reply_error(r, CTL_TURN_E_UNSUPPORTED_TRANSPORT, NULL);
		return;
	}
	raf = sn_stun_get(&r->m, SN_STUN_A_REQUESTED_ADDRESS_FAMILY, &len);
	aaf = sn_stun_get(&r->m, SN_STUN_A_ADDITIONAL_ADDRESS_FAMILY, &aaf_len);
	if (!aaf && sn_stun_find_next(&r->m, ATTR_AAF_COTURN, &cursor, &aaf, &aaf_len) &&
	    aaf_len != 4)
		aaf = NULL;
	rt = sn_stun_get(&r->m, SN_STUN_A_RESERVATION_TOKEN, &len);
	ep = sn_stun_get(&r->m, SN_STUN_A_EVEN_PORT, &len);
	if (ep) {
		even = true;
		reserve = (ep[0] & 0x80) != 0;
	}
	if (rt && (ep || raf || aaf)) {
		reply_error(r, CTL_TURN_E_BAD_REQUEST,
			    "RESERVATION-TOKEN with EVEN-PORT or an address family");
		return;
	}
	if (raf && aaf) {
		reply_error(r, CTL_TURN_E_BAD_REQUEST,
			    "REQUESTED- and ADDITIONAL-ADDRESS-FAMILY together");
		return;
	}
	if (aaf && family_attr(aaf) != AF_INET6) {
		reply_error(r, CTL_TURN_E_BAD_REQUEST, "ADDITIONAL-ADDRESS-FAMILY must be IPv6");
		return;
	}
	if (aaf && reserve) {
		reply_error(r, CTL_TURN_E_BAD_REQUEST,
			    "EVEN-PORT reservation with dual allocation");
		return;
	}

	if (rt) {
		uint64_t tok = 0;

		for (int i = 0; i < 8; i++)
			tok = tok << 8 | rt[i];
		resv = resv_find(t, tok);
		if (!resv || resv->expires_ns <= r->now_real) {
			reply_error(r, CTL_TURN_E_INSUFFICIENT_CAPACITY,
				    "unknown reservation token");
			return;
		}
		want4 = resv->family == AF_INET;
		want6 = resv->family == AF_INET6;
	} else if (aaf) {
		want4 = true;
		want6 = true;
	} else if (raf) {
		uint8_t f = family_attr(raf);

		if (!f) {
			reply_error(r, CTL_TURN_E_ADDRESS_FAMILY, NULL);
			return;
		}
		want4 = f == AF_INET;
		want6 = f == AF_INET6;
	} else {
		want4 = true; /* RFC 8656: IPv4 unless asked otherwise */
	}
	if (want6 && !pc->has_ipv6) {
		if (!want4) {
			reply_error(r, CTL_TURN_E_ADDRESS_FAMILY, NULL);
			return;
		}
		want6 = false;
		ipv6_refused = true; /* dual allocation: IPv4 only, ADDRESS-ERROR-CODE for IPv6 */
	}
	if (want4 && !pc->has_ipv4) {
		if (!want6) {
			reply_error(r, CTL_TURN_E_ADDRESS_FAMILY, NULL);
			return;
		}
		want4 = false;
	}

	/* quotas: total, then the user's */
	if (t->n_allocs >= t->max_allocs) {
		LOG_CLIENT(r, "allocation quota: %u allocations in total", t->n_allocs);
		reply_error(r, CTL_TURN_E_ALLOCATION_QUOTA, NULL);
		return;
	}
	quota = quota_of(t, &r->cred);
	u = user_find(t, r->cred.identity);
	if (quota && u && u->allocs >= quota) {
		LOG_CLIENT(r, "allocation quota of %s reached (%u)", r->cred.identity, quota);
		reply_error(r, CTL_TURN_E_ALLOCATION_QUOTA, NULL);
		return;
	}

	/* relay ports */
	if (resv) {
		if (want4)
			p4 = resv->port;
		else
			p6 = resv->port;
	} else {
		if (want4 && port_pick(t, 0, even, reserve, &p4) < 0) {
			reply_error(r, CTL_TURN_E_INSUFFICIENT_CAPACITY, "no relay port free");
			return;
		}
		if (want6 && port_pick(t, 1, even && !want4, reserve && !want4, &p6) < 0) {
			reply_error(r, CTL_TURN_E_INSUFFICIENT_CAPACITY, "no relay port free");
			return;
		}
		if (reserve && t->n_resv == TURN_MAX_RESERVATIONS) {
			reply_error(r, CTL_TURN_E_INSUFFICIENT_CAPACITY, "no reservation free");
			return;
		}
	}
	if (id_pick(t, &id) < 0) {
		reply_error(r, CTL_TURN_E_ALLOCATION_QUOTA, NULL);
		return;
	}
	txn = txn_new(t, r);
	if (txn < 0) {
		req_drop(r, CTL_TURN_D_BUSY);
		return;
	}
	u = user_get(t, r->cred.identity);
	a = u ? alloc_new(t, id, &r->punt->tuple) : NULL;
	if (!a) {
		SN_ERR("out of memory for allocation %u", id);
		txn_free(t, txn);
		reply_error(r, CTL_TURN_E_SERVER_ERROR, NULL);
		return;
	}
	u->allocs++;
	a->user = u;
	ctl_clients_turn(&a->client, CTL_CLIENT_ALLOC, 0); /* promotion metrics */
	a->port_idx = r->punt->port_id;
	a->relay_port4 = p4;
	a->relay_port6 = p6;
	if (p4)
		port_mark(t, 0, p4, true);
	if (p6)
		port_mark(t, 1, p6, true);
	if (resv) {
		resv_remove(t, resv, false); /* the port passes to the allocation */
	} else if (reserve) {
		struct turn_reservation *rv;

		do
			token = rnd64();
		while (!token || resv_find(t, token));
		rv = &t->resv[t->n_resv++];
		rv->token = token;
		rv->family = p4 ? AF_INET : AF_INET6;
		rv->port = (uint16_t)((p4 ? p4 : p6) + 1);
		rv->port_idx = a->port_idx;
		rv->expires_ns = r->now_real + TURN_RESERVATION_NS;
		port_mark(t, family_index(rv->family), rv->port, true);
		a->reservation_token = token;
	}
	a->dont_fragment = sn_stun_has(&r->m, SN_STUN_A_DONT_FRAGMENT);
	a->have_tid = true;
	memcpy(a->tid, sn_stun_tid(&r->m), SN_STUN_TID_LEN);
	a->created_ns = r->now_real;
	a->expires_ns = r->now_real + (uint64_t)lifetime_s(t, &r->m) * CTL_NS_PER_SEC;
	ctl_ctr_inc(&t->ctr.allocations_created);

	len_out =
	    build_alloc_success(r, a, ipv6_refused, t->txns[txn].resp, sizeof(t->txns[txn].resp));
	if (len_out < 0) {
		txn_free(t, txn);
		alloc_free(t, a, false, r->now);
		req_drop(r, CTL_TURN_D_INTERNAL);
		return;
	}
	t->txns[txn].resp_len = (uint16_t)len_out;
	t->txns[txn].is_allocate = true;
	t->txns[txn].alloc_id = id;
	if (alloc_install(t, a, txn, r->now) < 0)
		txn_fail(t, txn, -ENOTCONN);
	txn_commit(t, txn);
}

/* ---------------------------------------------------------------- Refresh */

static void handle_refresh(struct req *r)
{
	struct ctl_turn *t = r->t;
	struct turn_alloc *a = alloc_find(t, &r->punt->tuple);
	const uint8_t *raf;
	uint8_t fam = 0;
	uint16_t len;
	uint32_t want;
	struct sn_stun_writer w;
	int32_t txn;
	int n;

	if (!a) {
		reply_error(r, CTL_TURN_E_ALLOCATION_MISMATCH, NULL);
		return;
	}
	if (check_owner(r, a) < 0)
		return;
	raf = sn_stun_get(&r->m, SN_STUN_A_REQUESTED_ADDRESS_FAMILY, &len);
	if (raf) {
		fam = family_attr(raf);
		if (!fam || (fam == AF_INET ? !a->relay_port4 : !a->relay_port6)) {
			reply_error(r, CTL_TURN_E_PEER_ADDRESS_FAMILY, NULL);
			return;
		}
	}
	want = sn_stun_has(&r->m, SN_STUN_A_LIFETIME) ? sn_stun_get_u32(&r->m, SN_STUN_A_LIFETIME)
						      : t->cfg->turn.default_lifetime;
	if (want == 0) {
		uint8_t out[TURN_RESP_MAX];

		if (fam && a->relay_port4 && a->relay_port6) {
			/* dual allocation: drop only the family asked for */
			if (fam == AF_INET) {
				port_mark(t, 0, a->relay_port4, false);
				a->relay_port4 = 0;
			} else {
				port_mark(t, 1, a->relay_port6, false);
				a->relay_port6 = 0;
			}
			alloc_install(t, a, -1, r->now);
		} else {
			alloc_free(t, a, true, r->now);
		}
		resp_begin(r, &w, out, sizeof(out), SN_STUN_CLASS_SUCCESS);
		sn_stun_put_u32(&w, SN_STUN_ATTR_LIFETIME, 0);
		n = resp_finish(r, &w);
		if (n < 0) {
			req_drop(r, CTL_TURN_D_INTERNAL);
			return;
		}
		req_send(r, out, (size_t)n);
		return;
	}
	txn = txn_new(t, r);
	if (txn < 0) {
		req_drop(r, CTL_TURN_D_BUSY);
		return;
	}
	a->expires_ns = r->now_real + (uint64_t)lifetime_s(t, &r->m) * CTL_NS_PER_SEC;
	ctl_clients_turn(&a->client, CTL_CLIENT_REFRESH, 0);
	resp_begin(r, &w, t->txns[txn].resp, sizeof(t->txns[txn].resp), SN_STUN_CLASS_SUCCESS);
	sn_stun_put_u32(&w, SN_STUN_ATTR_LIFETIME, seconds_left(a->expires_ns, r->now_real));
	n = resp_finish(r, &w);
	if (n < 0) {
		txn_free(t, txn);
		req_drop(r, CTL_TURN_D_INTERNAL);
		return;
	}
	t->txns[txn].resp_len = (uint16_t)n;
	if (alloc_install(t, a, txn, r->now) < 0)
		txn_fail(t, txn, -ENOTCONN);
	txn_commit(t, txn);
}

/* ---------------------------------------------------------------- permissions, channels */

/* Checks a peer for allocation a: family of a relayed address (443), policy (403).
 * Returns 0 or -1 when answered. */
static int check_peer(struct req *r, const struct turn_alloc *a, const struct sn_stun_addr *peer)
{
	enum ctl_peer_verdict pv;
	char ip[INET6_ADDRSTRLEN];

	if (peer->family == AF_INET ? !a->relay_port4 : !a->relay_port6) {
		reply_error(r, CTL_TURN_E_PEER_ADDRESS_FAMILY, NULL);
		return -1;
	}
	const struct sn_turn_config *tc = &r->t->cfg->turn;
	struct ctl_turn_policy pol = {
	    .allow = tc->allowed_peers,
	    .n_allow = tc->n_allowed_peers,
	    .deny = tc->denied_peers,
	    .n_deny = tc->n_denied_peers,
	};

	pv = ctl_turn_peer_check(&pol, peer->family, peer->addr);
	if (!ctl_peer_allowed(pv)) {
		LOG_CLIENT(r, "peer %s denied (%s)",
			   ip_str(peer->family, peer->addr, ip, sizeof(ip)),
			   ctl_peer_verdict_names[pv]);
		reply_error(r, CTL_TURN_E_FORBIDDEN, NULL);
		return -1;
	}
	return 0;
}

/* Trust graph (trust.h): a new permission naming another allocation's client address means
 * the two clients relay media to each other, an observed relation. O(allocations), and only
 * for new permissions. */
static void observe_relation(const struct ctl_turn *t, const struct turn_alloc *a, uint8_t family,
			     const uint8_t *addr)
{
	for (uint32_t b = 0; b <= t->bucket_mask; b++)
		for (const struct turn_alloc *x = t->buckets[b]; x; x = x->next)
			if (x != a && x->client.family == family &&
			    !memcmp(x->client.src, addr, family == AF_INET ? 4 : 16)) {
				ctl_trust_observe_relay(a->client.family, a->client.src, family,
							addr);
				return;
			}
}

/* Creates or refreshes the permission for peer IP; sends ADD within txn. */
static int perm_touch(struct req *r, struct turn_alloc *a, uint8_t family, const uint8_t *addr,
		      int32_t txn)
{
	struct turn_perm *p = perm_find(a, family, addr);

	if (!p) {
		p = perm_add(r->t, a, family, addr);
		if (!p)
			return -ENOMEM;
		gauges(r->t);
		observe_relation(r->t, a, family, addr);
	}
	p->expires_ns = r->now_real + TURN_PERM_LIFETIME_NS;
	ctl_clients_turn(&a->client, CTL_CLIENT_PERMISSION, 0);
	if (perm_install(r->t, a, p, txn, r->now) < 0)
		txn_fail(r->t, txn, -ENOTCONN);
	return 0;
}

#define MAX_PEERS_PER_REQUEST 32

static void handle_create_permission(struct req *r)
{
	struct ctl_turn *t = r->t;
	struct turn_alloc *a = alloc_find(t, &r->punt->tuple);
	struct sn_stun_addr peers[MAX_PEERS_PER_REQUEST];
	uint32_t n = 0, fresh = 0, cursor = 0;
	const uint8_t *v;
	uint16_t len;
	struct sn_stun_writer w;
	int32_t txn;
	int out_len;

	if (!a) {
		reply_error(r, CTL_TURN_E_ALLOCATION_MISMATCH, NULL);
		return;
	}
	if (check_owner(r, a) < 0)
		return;
	while (sn_stun_find_next(&r->m, SN_STUN_ATTR_XOR_PEER_ADDRESS, &cursor, &v, &len)) {
		if (n == MAX_PEERS_PER_REQUEST) {
			reply_error(r, CTL_TURN_E_BAD_REQUEST, "too many XOR-PEER-ADDRESS");
			return;
		}
		if (sn_stun_xor_addr_decode(v, len, sn_stun_tid(&r->m), &peers[n]) < 0) {
			reply_error(r, CTL_TURN_E_BAD_REQUEST, "bad XOR-PEER-ADDRESS");
			return;
		}
		if (check_peer(r, a, &peers[n]) < 0)
			return;
		bool dup = false;

		for (uint32_t i = 0; i < n; i++)
			if (peers[i].family == peers[n].family &&
			    !memcmp(peers[i].addr, peers[n].addr, addr_len(peers[n].family)))
				dup = true;
		if (!dup && !perm_find(a, peers[n].family, peers[n].addr))
			fresh++;
		if (!dup)
			n++;
	}
	if (!n) {
		reply_error(r, CTL_TURN_E_BAD_REQUEST, "XOR-PEER-ADDRESS missing");
		return;
	}
	if (a->n_perms + fresh > t->cfg->turn.max_permissions) {
		LOG_CLIENT(r, "allocation %u: permission limit %u reached", a->id,
			   t->cfg->turn.max_permissions);
		reply_error(r, CTL_TURN_E_INSUFFICIENT_CAPACITY, "too many permissions");
		return;
	}
	txn = txn_new(t, r);
	if (txn < 0) {
		req_drop(r, CTL_TURN_D_BUSY);
		return;
	}
	resp_begin(r, &w, t->txns[txn].resp, sizeof(t->txns[txn].resp), SN_STUN_CLASS_SUCCESS);
	out_len = resp_finish(r, &w);
	if (out_len < 0) {
		txn_free(t, txn);
		req_drop(r, CTL_TURN_D_INTERNAL);
		return;
	}
	t->txns[txn].resp_len = (uint16_t)out_len;
	for (uint32_t i = 0; i < n; i++)
		if (perm_touch(r, a, peers[i].family, peers[i].addr, txn) < 0)
			txn_fail(t, txn, -ENOMEM);
	txn_commit(t, txn);
}

static void handle_channel_bind(struct req *r)
{
	struct ctl_turn *t = r->t;
	struct turn_alloc *a = alloc_find(t, &r->punt->tuple);
	unsigned flags = t->cfg->turn.rfc5766_channels ? SN_CHANDATA_F_RFC5766 : 0;
	struct sn_stun_addr peer;
	struct turn_chan *c, *cp;
	const uint8_t *v;
	uint16_t len, number;
	struct sn_stun_writer w;
	int32_t txn;
	int out_len;

	if (!a) {
		reply_error(r, CTL_TURN_E_ALLOCATION_MISMATCH, NULL);
		return;
	}
	if (check_owner(r, a) < 0)
		return;
	v = sn_stun_get(&r->m, SN_STUN_A_CHANNEL_NUMBER, &len);
	if (!v) {
		reply_error(r, CTL_TURN_E_BAD_REQUEST, "CHANNEL-NUMBER missing");
		return;
	}
	number = (uint16_t)(v[0] << 8 | v[1]);
	if (!sn_channel_valid(number, flags)) {
		reply_error(r, CTL_TURN_E_BAD_REQUEST, "channel number out of range");
		return;
	}
	v = sn_stun_get(&r->m, SN_STUN_A_XOR_PEER_ADDRESS, &len);
	if (!v || sn_stun_xor_addr_decode(v, len, sn_stun_tid(&r->m), &peer) < 0) {
		reply_error(r, CTL_TURN_E_BAD_REQUEST, "XOR-PEER-ADDRESS missing or bad");
		return;
	}
	if (check_peer(r, a, &peer) < 0)
		return;
	c = chan_find_number(a, number);
	cp = chan_find_peer(a, &peer);
	if ((c && !stun_addr_eq(&c->peer, &peer)) || (cp && cp->number != number)) {
		/* RFC 8656 §11.2: a number or a peer belongs to one binding (also for 5 min
		 * after it expired) */
		reply_error(r, CTL_TURN_E_BAD_REQUEST, "channel or peer bound otherwise");
		return;
	}
	if ((!c || !c->bound) && chans_bound(a) >= t->cfg->turn.max_channels) {
		LOG_CLIENT(r, "allocation %u: channel limit %u reached", a->id,
			   t->cfg->turn.max_channels);
		reply_error(r, CTL_TURN_E_INSUFFICIENT_CAPACITY, "too many channels");
		return;
	}
	if (!c && !perm_find(a, peer.family, peer.addr) &&
	    a->n_perms >= t->cfg->turn.max_permissions) {
		reply_error(r, CTL_TURN_E_INSUFFICIENT_CAPACITY, "too many permissions");
		return;
	}
	txn = txn_new(t, r);
	if (txn < 0) {
		req_drop(r, CTL_TURN_D_BUSY);
		return;
	}
	resp_begin(r, &w, t->txns[txn].resp, sizeof(t->txns[txn].resp), SN_STUN_CLASS_SUCCESS);
	out_len = resp_finish(r, &w);
	if (out_len < 0) {
		txn_free(t, txn);
		req_drop(r, CTL_TURN_D_INTERNAL);
		return;
	}
	t->txns[txn].resp_len = (uint16_t)out_len;
	if (!c) {
		c = chan_add(a);
		if (!c) {
			txn_free(t, txn);
			reply_error(r, CTL_TURN_E_SERVER_ERROR, NULL);
			return;
		}
		c->number = number;
		c->peer = peer;
	}
	if (!c->bound) {
		c->bound = true;
		t->n_chans_total++;
		gauges(t);
	}
	c->expires_ns = r->now_real + TURN_CHANNEL_LIFETIME_NS;
	/* the permission first: the dataplane may check it when the channel is used */
	if (perm_touch(r, a, peer.family, peer.addr, txn) < 0)
		txn_fail(t, txn, -ENOMEM);
	if (chan_install(t, a, c, txn, r->now) < 0)
		txn_fail(t, txn, -ENOTCONN);
	txn_commit(t, txn);
}

/* ---------------------------------------------------------------- punts */

static enum ctl_turn_drop parse_drop(enum sn_stun_result res)
{
	switch (res) {
	case SN_STUN_TRUNCATED:
		return CTL_TURN_D_TRUNCATED;
	case SN_STUN_NOT_STUN:
	case SN_STUN_BAD_COOKIE:
		return CTL_TURN_D_NOT_STUN;
	case SN_STUN_LENGTH_ALIGN:
	case SN_STUN_LENGTH_MISMATCH:
		return CTL_TURN_D_BAD_LENGTH;
	case SN_STUN_FINGERPRINT_NOT_LAST:
	case SN_STUN_FINGERPRINT_MISMATCH:
		return CTL_TURN_D_FINGERPRINT;
	default:
		return CTL_TURN_D_BAD_ATTRIBUTE;
	}
}

static enum ctl_turn_method method_of(unsigned m)
{
	switch (m) {
	case SN_STUN_METHOD_ALLOCATE:
		return CTL_TURN_M_ALLOCATE;
	case SN_STUN_METHOD_REFRESH:
		return CTL_TURN_M_REFRESH;
	case SN_STUN_METHOD_CREATE_PERMISSION:
		return CTL_TURN_M_CREATE_PERMISSION;
	case SN_STUN_METHOD_CHANNEL_BIND:
		return CTL_TURN_M_CHANNEL_BIND;
	default:
		return CTL_TURN_M_OTHER;
	}
}

static int turn_punt(struct ctl_chan *ch, const struct sn_msg_view *v, void *arg)
{
	struct ctl_turn *t = arg;
	const struct sn_msg_punt *p = v->u.punt;
	struct req r;
	enum sn_stun_result res;

	memset(&r, 0, sizeof(r));
	r.t = t;
	r.punt = p;
	r.buf = v->payload;
	r.len = p->payload_len;
	r.now = ctl_mono_ns();
	r.now_real = turn_now_real(t);
	if (family_index(p->tuple.family) < 0 || p->port_id >= t->cfg->dataplane.n_ports) {
		ctl_ctr_inc(&t->ctr.drops[CTL_TURN_D_BAD_PUNT]);
		return -EINVAL;
	}
	res = sn_stun_parse(r.buf, r.len, &r.m);
	if (res == SN_STUN_OK)
		res = sn_stun_check_fingerprint(&r.m);
	if (res != SN_STUN_OK) {
		ctl_ctr_inc(&t->ctr.drops[parse_drop(res)]);
		return -EBADMSG;
	}
	if (r.m.cls != SN_STUN_CLASS_REQUEST) {
		ctl_ctr_inc(&t->ctr.drops[CTL_TURN_D_NOT_REQUEST]);
		return 0;
	}
	if (r.m.method == SN_STUN_METHOD_BINDING) {
		/* the fast path answers Binding; one it left alone stays unanswered */
		ctl_ctr_inc(&t->ctr.drops[CTL_TURN_D_BINDING]);
		return 0;
	}
	r.method = method_of(r.m.method);
	r.fp = sn_stun_has(&r.m, SN_STUN_A_FINGERPRINT);
	reverse_tuple(&p->tuple, &r.to);
	r.client.family = p->tuple.family;
	r.client.port = p->tuple.src_port;
	memcpy(r.client.addr, p->tuple.src, addr_len(p->tuple.family));
	if (!chan_ready(t)) {
		ctl_ctr_inc(&t->ctr.drops[CTL_TURN_D_NOT_READY]);
		return 0;
	}
	ctl_ctr_inc(&t->ctr.requests[r.method]);
	if (r.method == CTL_TURN_M_OTHER) {
		/* RFC 8489 §6.3.1: a request of an unknown method gets 400 (size rule applies) */
		reply_error(&r, CTL_TURN_E_BAD_REQUEST, NULL);
		return 0;
	}
	if (authenticate(&r) < 0)
		return 0;
	if (r.m.n_unknown) {
		reply_error(&r, CTL_TURN_E_UNKNOWN_ATTRIBUTE, NULL);
		return 0;
	}
	switch (r.method) {
	case CTL_TURN_M_ALLOCATE:
		handle_allocate(&r);
		break;
	case CTL_TURN_M_REFRESH:
		handle_refresh(&r);
		break;
	case CTL_TURN_M_CREATE_PERMISSION:
		handle_create_permission(&r);
		break;
	case CTL_TURN_M_CHANNEL_BIND:
		handle_channel_bind(&r);
		break;
	default:
		break;
	}
	return 0;
}

/* ---------------------------------------------------------------- acks */

/* The entry an in-flight command is about, as its sync record (NULL when gone). */
static struct turn_sync *sync_of(struct ctl_turn *t, const struct turn_inflight *s,
				 struct turn_alloc **pa)
{
	struct sn_turn_alloc_key ak;
	struct sn_turn_perm_key pk;
	struct sn_turn_channel_key ck;
	struct turn_alloc *a;

	memcpy(&ak, s->key, sizeof(ak));
	a = turn_alloc_by_id(t, ak.alloc_id);
	*pa = a;
	if (!a)
		return NULL;
	switch (s->table) {
	case SN_TABLE_TURN_ALLOC:
		return &a->sync;
	case SN_TABLE_TURN_PERM: {
		memcpy(&pk, s->key, sizeof(pk));
		struct turn_perm *p = perm_find(a, pk.family, pk.peer);

		return p ? &p->sync : NULL;
	}
	case SN_TABLE_TURN_CHANNEL: {
		memcpy(&ck, s->key, sizeof(ck));
		struct turn_chan *c = chan_find_number(a, ck.channel);

		return c && c->bound ? &c->sync : NULL;
	}
	default:
		return NULL;
	}
}

/* The dataplane refused an ADD: the entry cannot be served, so control forgets it. */
static void add_refused(struct ctl_turn *t, const struct turn_inflight *s, struct turn_alloc *a,
			int32_t result, uint64_t now)
{
	uint64_t skipped = 0;

	ctl_ctr_inc(&t->ctr.table_errors[CTL_TURN_T_NACK]);
	if (ctl_ratelimit_ok(&t->rl, now, &skipped))
		SN_WARN("dataplane refused TURN table %u entry of allocation %u: %s", s->table,
			a->id, result > -4096 ? strerror(-result) : "?");
	if (s->table == SN_TABLE_TURN_ALLOC) {
		alloc_free(t, a, true, now);
		return;
	} else if (s->table == SN_TABLE_TURN_PERM) {
		struct sn_turn_perm_key pk;

		memcpy(&pk, s->key, sizeof(pk));
		for (uint32_t i = 0; i < a->n_perms; i++)
			if (a->perms[i].family == pk.family &&
			    !memcmp(a->perms[i].addr, pk.peer, addr_len(pk.family))) {
				perm_remove_at(t, a, i);
				break;
			}
	} else {
		struct sn_turn_channel_key ck;

		memcpy(&ck, s->key, sizeof(ck));
		for (uint32_t i = 0; i < a->n_chans; i++)
			if (a->chans[i].number == ck.channel) {
				chan_remove_at(t, a, i);
				break;
			}
	}
	gauges(t);
}

static bool hook_ack(void *arg, uint32_t seq, int32_t result, uint32_t entries)
{
	struct ctl_turn *t = arg;
	struct turn_inflight *s = inflight_get(t, seq);
	struct turn_inflight copy;
	struct turn_alloc *a;
	struct turn_sync *sync;
	uint64_t now = ctl_mono_ns();

	(void)entries;
	if (!s)
		return false;
	copy = *s;
	inflight_clear(t, s);
	if (copy.op == SN_TABLE_OP_DEL) {
		if (result < 0 && result != -ENOENT) {
			ctl_ctr_inc(&t->ctr.table_errors[CTL_TURN_T_NACK]);
			SN_DEBUG("dataplane refused a TURN DEL (table %u): %d", copy.table, result);
		}
		return true;
	}
	sync = sync_of(t, &copy, &a);
	if (result < 0) {
		bool current = sync && sync->seq == seq;

		/* answer first (the txn may roll an Allocate back), then forget the entry */
		txn_ack(t, copy.txn, copy.txn_gen, result);
		if (current && sync_of(t, &copy, &a))
			add_refused(t, &copy, a, result, now);
		return true;
	}
	if (sync && sync->seq == seq && sync->state == TURN_DP_PENDING)
		sync->state = TURN_DP_OK;
	txn_ack(t, copy.txn, copy.txn_gen, 0);
	return true;
}

/* ---------------------------------------------------------------- resync */

static bool expired_entry(uint64_t expires_ns, uint64_t now_real)
{
	return expires_ns <= now_real;
}

static void dump_alloc(struct ctl_turn *t, const void *key, uint16_t klen, const void *val,
		       uint16_t vlen, uint64_t now_real, uint64_t now)
{
	struct sn_turn_alloc_key k;
	struct sn_turn_alloc_value v;
	struct turn_alloc *a;
	bool counters_only = t->chan->state == CTL_CHAN_READY;

	if (klen != sizeof(k) || vlen != sizeof(v)) {
		ctl_ctr_inc(&t->ctr.table_errors[CTL_TURN_T_BAD_DUMP_ENTRY]);
		return;
	}
	memcpy(&k, key, sizeof(k));
	memcpy(&v, val, sizeof(v));
	a = turn_alloc_by_id(t, k.alloc_id);
	if (a && tuple_eq(&a->client, &v.client)) {
		a->to_peer_packets = v.to_peer_packets;
		a->to_peer_bytes = v.to_peer_bytes;
		a->to_client_packets = v.to_client_packets;
		a->to_client_bytes = v.to_client_bytes;
		a->counters_mono_ns = now;
	}
	if (counters_only)
		return;
	if (a) {
		a->sync.dump_gen = t->dump_gen;
		a->sync.dump_equal = tuple_eq(&a->client, &v.client) && a->port_idx == v.port_idx &&
				     a->relay_port4 == v.relay_port4 &&
				     a->relay_port6 == v.relay_port6 &&
				     a->expires_ns == v.expires_ns;
		if (!tuple_eq(&a->client, &v.client)) {
			/* another allocation under our id: ours replaces it, its perms go */
			ctl_ctr_inc(&t->ctr.table_errors[CTL_TURN_T_CONFLICT]);
			a->sync.dump_gen = t->dump_gen | 0x80000000u;
		}
		return;
	}
	if (k.alloc_id >= t->max_allocs || family_index(v.client.family) < 0 ||
	    v.port_idx >= t->cfg->dataplane.n_ports) {
		ctl_ctr_inc(&t->ctr.table_errors[CTL_TURN_T_BAD_DUMP_ENTRY]);
		del_cmd(t, SN_TABLE_TURN_ALLOC, &k, sizeof(k), now);
		return;
	}
	if (expired_entry(v.expires_ns, now_real) ||
	    tomb_has(t, SN_TABLE_TURN_ALLOC, &k, sizeof(k))) {
		tomb_add(t, SN_TABLE_TURN_ALLOC, &k, sizeof(k));
		return;
	}
	if (alloc_find(t, &v.client) || (v.relay_port4 && port_used(t, 0, v.relay_port4)) ||
	    (v.relay_port6 && port_used(t, 1, v.relay_port6)) ||
	    (!v.relay_port4 && !v.relay_port6)) {
		ctl_ctr_inc(&t->ctr.table_errors[CTL_TURN_T_CONFLICT]);
		tomb_add(t, SN_TABLE_TURN_ALLOC, &k, sizeof(k));
		return;
	}
	/* adopt: the dataplane kept relaying while control was away */
	a = alloc_new(t, k.alloc_id, &v.client);
	if (!a) {
		SN_ERR("out of memory adopting allocation %u", k.alloc_id);
		return;
	}
	a->port_idx = v.port_idx;
	a->relay_port4 = v.relay_port4;
	a->relay_port6 = v.relay_port6;
	if (a->relay_port4)
		port_mark(t, 0, a->relay_port4, true);
	if (a->relay_port6)
		port_mark(t, 1, a->relay_port6, true);
	a->expires_ns = v.expires_ns;
	a->created_ns = now_real;
	a->answered = true;
	a->sync.state = TURN_DP_OK;
	a->sync.dump_gen = t->dump_gen;
	a->sync.dump_equal = 1;
	a->to_peer_packets = v.to_peer_packets;
	a->to_peer_bytes = v.to_peer_bytes;
	a->to_client_packets = v.to_client_packets;
	a->to_client_bytes = v.to_client_bytes;
	a->counters_mono_ns = now;
	ctl_ctr_inc(&t->ctr.allocations_adopted);
}

/* The allocation a dumped perm/channel belongs to, if it may take entries from this dump. */
static struct turn_alloc *dump_owner(struct ctl_turn *t, uint32_t id)
{
	struct turn_alloc *a = turn_alloc_by_id(t, id);

	return a && a->sync.dump_gen == t->dump_gen ? a : NULL;
}

static void dump_perm(struct ctl_turn *t, const void *key, uint16_t klen, const void *val,
		      uint16_t vlen, uint64_t now_real, uint64_t now)
{
	struct sn_turn_perm_key k;
	struct sn_turn_perm_value v;
	struct turn_alloc *a;
	struct turn_perm *p;

	if (klen != sizeof(k) || vlen != sizeof(v)) {
		ctl_ctr_inc(&t->ctr.table_errors[CTL_TURN_T_BAD_DUMP_ENTRY]);
		return;
	}
	memcpy(&k, key, sizeof(k));
	memcpy(&v, val, sizeof(v));
	a = dump_owner(t, k.alloc_id);
	if (!a || family_index(k.family) < 0) {
		tomb_add(t, SN_TABLE_TURN_PERM, &k, sizeof(k));
		return;
	}
	p = perm_find(a, k.family, k.peer);
	if (p) {
		p->sync.dump_gen = t->dump_gen;
		p->sync.dump_equal = p->expires_ns == v.expires_ns;
		return;
	}
	if (expired_entry(v.expires_ns, now_real) ||
	    tomb_has(t, SN_TABLE_TURN_PERM, &k, sizeof(k)) ||
	    a->n_perms >= t->cfg->turn.max_permissions) {
		tomb_add(t, SN_TABLE_TURN_PERM, &k, sizeof(k));
		return;
	}
	p = perm_add(t, a, k.family, k.peer);
	if (!p)
		return;
	p->expires_ns = v.expires_ns;
	p->sync.state = TURN_DP_OK;
	p->sync.dump_gen = t->dump_gen;
	p->sync.dump_equal = 1;
	gauges(t);
	(void)now;
}

static void dump_channel(struct ctl_turn *t, const void *key, uint16_t klen, const void *val,
			 uint16_t vlen, uint64_t now_real, uint64_t now)
{
	struct sn_turn_channel_key k;
	struct sn_turn_channel_value v;
	struct sn_stun_addr peer;
	struct turn_alloc *a;
	struct turn_chan *c;

	if (klen != sizeof(k) || vlen != sizeof(v)) {
		ctl_ctr_inc(&t->ctr.table_errors[CTL_TURN_T_BAD_DUMP_ENTRY]);
		return;
	}
	memcpy(&k, key, sizeof(k));
	memcpy(&v, val, sizeof(v));
	memset(&peer, 0, sizeof(peer));
	peer.family = v.family;
	peer.port = v.peer_port;
	memcpy(peer.addr, v.peer, 16);
	a = dump_owner(t, k.alloc_id);
	if (!a || family_index(v.family) < 0 ||
	    !sn_channel_valid(k.channel, SN_CHANDATA_F_RFC5766)) {
		tomb_add(t, SN_TABLE_TURN_CHANNEL, &k, sizeof(k));
		return;
	}
	if (v.family == AF_INET)
		memset(peer.addr + 4, 0, 12);
	c = chan_find_number(a, k.channel);
	if (c && c->bound) {
		c->sync.dump_gen = t->dump_gen;
		c->sync.dump_equal = stun_addr_eq(&c->peer, &peer) && c->expires_ns == v.expires_ns;
		return;
	}
	if (c || chan_find_peer(a, &peer) || expired_entry(v.expires_ns, now_real) ||
	    tomb_has(t, SN_TABLE_TURN_CHANNEL, &k, sizeof(k)) ||
	    chans_bound(a) >= t->cfg->turn.max_channels) {
		tomb_add(t, SN_TABLE_TURN_CHANNEL, &k, sizeof(k));
		return;
	}
	c = chan_add(a);
	if (!c)
		return;
	c->number = k.channel;
	c->peer = peer;
	c->bound = true;
	c->expires_ns = v.expires_ns;
	c->sync.state = TURN_DP_OK;
	c->sync.dump_gen = t->dump_gen;
	c->sync.dump_equal = 1;
	t->n_chans_total++;
	gauges(t);
	(void)now;
}

static void hook_dump_entry(void *arg, uint16_t table, const void *key, uint16_t key_len,
			    const void *val, uint16_t val_len)
{
	struct ctl_turn *t = arg;
	uint64_t now = ctl_mono_ns(), now_real = turn_now_real(t);

	switch (table) {
	case SN_TABLE_TURN_ALLOC:
		dump_alloc(t, key, key_len, val, val_len, now_real, now);
		break;
	case SN_TABLE_TURN_PERM:
		if (t->chan->state != CTL_CHAN_READY)
			dump_perm(t, key, key_len, val, val_len, now_real, now);
		break;
	case SN_TABLE_TURN_CHANNEL:
		if (t->chan->state != CTL_CHAN_READY)
			dump_channel(t, key, key_len, val, val_len, now_real, now);
		break;
	default:
		break;
	}
}

/* Sends ADD for every DIRTY entry and DEL for every tombstone (as far as the socket takes). */
static void reinstall(struct ctl_turn *t, uint64_t now)
{
	uint32_t sent = 0, j = 0;

	if (!chan_ready(t))
		return;
	t->dirty = false;
	for (uint32_t i = 0; i < t->n_tomb; i++) {
		struct turn_tombstone *ts = &t->tomb[i];

		if (send_cmd(t, ts->table, SN_TABLE_OP_DEL, ts->key, ts->key_len, NULL, 0, -1, 0,
			     now) < 0)
			t->tomb[j++] = *ts;
	}
	t->n_tomb = j;
	for (uint32_t page = 0; page < t->n_id_pages; page++) {
		struct turn_alloc **pg = t->id_pages[page];

		if (!pg)
			continue;
		for (uint32_t k = 0; k < ID_PAGE_SIZE; k++) {
			struct turn_alloc *a = pg[k];

			if (!a)
				continue;
			if (a->sync.state == TURN_DP_DIRTY) {
				alloc_install(t, a, -1, now);
				sent++;
			}
			for (uint32_t i = 0; i < a->n_perms; i++)
				if (a->perms[i].sync.state == TURN_DP_DIRTY) {
					perm_install(t, a, &a->perms[i], -1, now);
					sent++;
				}
			for (uint32_t i = 0; i < a->n_chans; i++)
				if (a->chans[i].bound && a->chans[i].sync.state == TURN_DP_DIRTY) {
					chan_install(t, a, &a->chans[i], -1, now);
					sent++;
				}
		}
	}
	if (sent)
		SN_INFO("%u TURN table entries (re)installed in the dataplane", sent);
}

static void hook_ready(void *arg, uint64_t now)
{
	struct ctl_turn *t = arg;
	uint32_t gen = t->dump_gen, allocs = 0, dirty = 0;

	/* commands of the old session will never be acknowledged, their requests never
	 * answered (the clients retransmit) */
	for (uint32_t i = 0; i < TURN_INFLIGHT; i++)
		inflight_clear(t, &t->inflight[i]);
	for (int32_t i = 0; i < TURN_MAX_TXN; i++)
		if (t->txns[i].used)
			txn_free(t, i);
	for (uint32_t page = 0; page < t->n_id_pages; page++) {
		struct turn_alloc **pg = t->id_pages[page];

		if (!pg)
			continue;
		for (uint32_t k = 0; k < ID_PAGE_SIZE; k++) {
			struct turn_alloc *a = pg[k];

			if (!a)
				continue;
			allocs++;
			if (a->sync.dump_gen != gen || !a->sync.dump_equal) {
				a->sync.state = TURN_DP_DIRTY;
				dirty++;
			} else {
				a->sync.state = TURN_DP_OK;
				a->answered = true;
			}
			for (uint32_t i = 0; i < a->n_perms; i++) {
				struct turn_sync *s = &a->perms[i].sync;

				s->state = s->dump_gen == gen && s->dump_equal ? TURN_DP_OK
									       : TURN_DP_DIRTY;
				dirty += s->state == TURN_DP_DIRTY;
			}
			for (uint32_t i = 0; i < a->n_chans; i++) {
				struct turn_sync *s = &a->chans[i].sync;

				if (!a->chans[i].bound)
					continue;
				s->state = s->dump_gen == gen && s->dump_equal ? TURN_DP_OK
									       : TURN_DP_DIRTY;
				dirty += s->state == TURN_DP_DIRTY;
			}
		}
	}
	SN_INFO("TURN resync: %u allocations (%llu adopted so far), %u entries to reinstall, %u "
		"to remove",
		allocs, (unsigned long long)ctl_ctr_get(&t->ctr.allocations_adopted), dirty,
		t->n_tomb);
	t->dump_gen = (t->dump_gen + 1) & 0x7fffffffu;
	if (!t->dump_gen)
		t->dump_gen = 1;
	t->counters_dump = false;
	reinstall(t, now);
}

/* ---------------------------------------------------------------- timers */

void turn_request_counters(struct ctl_turn *t, uint64_t now)
{
	if (!chan_ready(t) || (t->counters_req_ns && now - t->counters_req_ns < CTL_NS_PER_SEC))
		return;
	if (ctl_chan_request_dump(t->chan, SN_TABLE_TURN_ALLOC) == 0) {
		t->counters_dump = true;
		t->counters_req_ns = now;
	}
}

static void sweep(struct ctl_turn *t, uint64_t now)
{
	uint64_t now_real = turn_now_real(t);

	for (uint32_t page = 0; page < t->n_id_pages; page++) {
		struct turn_alloc **pg = t->id_pages[page];

		if (!pg)
			continue;
		for (uint32_t k = 0; k < ID_PAGE_SIZE; k++) {
			struct turn_alloc *a = pg[k];

			if (!a)
				continue;
			if (a->expires_ns <= now_real) {
				ctl_ctr_inc(&t->ctr.allocations_expired);
				alloc_free(t, a, true, now);
				continue;
			}
			for (uint32_t i = 0; i < a->n_perms;) {
				struct turn_perm *p = &a->perms[i];

				if (p->expires_ns > now_real) {
					i++;
					continue;
				}
				struct sn_turn_perm_key pk;

				perm_key(a, p, &pk);
				del_cmd(t, SN_TABLE_TURN_PERM, &pk, sizeof(pk), now);
				perm_remove_at(t, a, i);
			}
			for (uint32_t i = 0; i < a->n_chans;) {
				struct turn_chan *c = &a->chans[i];

				if (c->bound && c->expires_ns <= now_real) {
					struct sn_turn_channel_key ck;

					chan_key_val(a, c, &ck, NULL);
					del_cmd(t, SN_TABLE_TURN_CHANNEL, &ck, sizeof(ck), now);
					chan_unbind(t, c, now_real);
				}
				if (!c->bound && c->quarantine_ns <= now_real) {
					chan_remove_at(t, a, i);
					continue;
				}
				i++;
			}
		}
	}
	for (uint32_t i = 0; i < t->n_resv;) {
		if (t->resv[i].expires_ns <= now_real) {
			resv_remove(t, &t->resv[i], true);
			continue;
		}
		i++;
	}
	if (t->n_inflight) {
		for (uint32_t i = 0; i < TURN_INFLIGHT; i++) {
			struct turn_inflight *s = &t->inflight[i];
			struct turn_alloc *a;
			struct turn_sync *sync;
			struct turn_inflight copy;

			if (!s->used || now - s->sent_ns < CTL_CHAN_ACK_TIMEOUT_NS)
				continue;
			ctl_ctr_inc(&t->ctr.table_errors[CTL_TURN_T_ACK_TIMEOUT]);
			copy = *s;
			inflight_clear(t, s);
			if (copy.op == SN_TABLE_OP_DEL) {
				if (send_cmd(t, copy.table, SN_TABLE_OP_DEL, copy.key, copy.key_len,
					     NULL, 0, -1, 0, now) < 0)
					tomb_add(t, copy.table, copy.key, copy.key_len);
				continue;
			}
			sync = sync_of(t, &copy, &a);
			if (!sync || sync->seq != copy.seq) {
				txn_ack(t, copy.txn, copy.txn_gen, 0);
				continue;
			}
			/* resend the entry as it is now; the new command carries the waiting
			 * request, if it still waits */
			int32_t txn = copy.txn >= 0 && t->txns[copy.txn].used &&
					      t->txns[copy.txn].gen == copy.txn_gen
					  ? copy.txn
					  : -1;
			int rc;

			sync->state = TURN_DP_DIRTY;
			if (copy.table == SN_TABLE_TURN_ALLOC) {
				rc = alloc_install(t, a, txn, now);
			} else if (copy.table == SN_TABLE_TURN_PERM) {
				struct sn_turn_perm_key pk;

				memcpy(&pk, copy.key, sizeof(pk));
				rc = perm_install(t, a, perm_find(a, pk.family, pk.peer), txn, now);
			} else {
				struct sn_turn_channel_key ck;

				memcpy(&ck, copy.key, sizeof(ck));
				rc = chan_install(t, a, chan_find_number(a, ck.channel), txn, now);
			}
			if (txn >= 0) {
				if (rc == 0)
					t->txns[txn]
					    .waiting--; /* the old command no longer counts */
				else
					txn_ack(t, txn, copy.txn_gen, -ETIMEDOUT);
			}
		}
	}
	for (int32_t i = 0; i < TURN_MAX_TXN; i++)
		if (t->txns[i].used && now >= t->txns[i].deadline_ns) {
			ctl_ctr_inc(&t->ctr.drops[CTL_TURN_D_NOT_READY]);
			txn_free(t, i);
		}
	gauges(t);
}

void ctl_turn_tick(struct ctl_turn *t, uint64_t now)
{
	if (!t)
		return;
	if (t->dirty || t->n_tomb)
		reinstall(t, now);
	if (now >= t->next_sweep_ns) {
		t->next_sweep_ns = now + TURN_SWEEP_NS;
		sweep(t, now);
	}
}

/* ---------------------------------------------------------------- config reload */

/* Fields the dataplane sized itself for, or that relay ports and ids depend on. */
static int reload_prepare(void *arg, const struct sn_config *old, const struct sn_config *new,
			  struct ctl_reload_report *rep)
{
	const struct sn_turn_config *o = &old->turn, *n = &new->turn;

	(void)arg;
	if (o->relay_port_min != n->relay_port_min || o->relay_port_max != n->relay_port_max ||
	    o->max_allocations != n->max_allocations || o->max_permissions != n->max_permissions ||
	    o->max_channels != n->max_channels || o->rfc5766_channels != n->rfc5766_channels) {
		ctl_reload_refuse(rep, "turn: relay ports, max_allocations, max_permissions, "
				       "max_channels and rfc5766_channels need a restart");
		return -EINVAL;
	}
	return 0;
}

static void reload_commit(void *arg, const struct sn_config *old, const struct sn_config *new,
			  struct ctl_reload_report *rep)
{
	const struct sn_turn_config *o = &old->turn, *n = &new->turn;

	(void)arg;
	/* everything else is read from the running config on each request */
	if (strcmp(o->realm, n->realm))
		ctl_reload_change(rep, "turn.realm: %s -> %s", o->realm, n->realm);
	if (o->n_users != n->n_users ||
	    memcmp(o->users, n->users, sizeof(o->users[0]) * (size_t)n->n_users))
		ctl_reload_change(rep, "turn.users: %d -> %d entries", o->n_users, n->n_users);
	if (strcmp(o->rest_secret, n->rest_secret))
		ctl_reload_change(rep, "turn.rest_secret changed");
	if (o->nonce_lifetime != n->nonce_lifetime || o->default_lifetime != n->default_lifetime ||
	    o->max_lifetime != n->max_lifetime)
		ctl_reload_change(rep, "turn lifetimes: nonce %u, default %u, max %u s",
				  n->nonce_lifetime, n->default_lifetime, n->max_lifetime);
	if (o->user_quota != n->user_quota)
		ctl_reload_change(rep, "turn.user_quota: %u -> %u", o->user_quota, n->user_quota);
	if (o->n_allowed_peers != n->n_allowed_peers || o->n_denied_peers != n->n_denied_peers ||
	    memcmp(o->allowed_peers, n->allowed_peers, sizeof(o->allowed_peers)) ||
	    memcmp(o->denied_peers, n->denied_peers, sizeof(o->denied_peers)))
		ctl_reload_change(rep, "turn peer ranges: %d allowed, %d denied",
				  n->n_allowed_peers, n->n_denied_peers);
	if (strcmp(o->software, n->software))
		ctl_reload_change(rep, "turn.software: \"%s\" -> \"%s\"", o->software, n->software);
}

int ctl_turn_reload_register(struct ctl_turn *t, struct ctl_reload *r)
{
	struct ctl_reload_hook h = {
	    .name = "turn",
	    .section = "turn",
	    .prepare = reload_prepare,
	    .commit = reload_commit,
	    .arg = t,
	};

	return ctl_reload_register(r, &h);
}

/* ---------------------------------------------------------------- life cycle */

const struct ctl_turn_counters *ctl_turn_counters(const struct ctl_turn *t)
{
	return &t->ctr;
}

int ctl_turn_create(struct ctl_turn **out, const struct ctl_turn_params *p)
{
	const struct sn_turn_config *tc = &p->cfg->turn;
	struct ctl_table_hooks hooks = {
	    .tables = (1u << SN_TABLE_TURN_ALLOC) | (1u << SN_TABLE_TURN_PERM) |
		      (1u << SN_TABLE_TURN_CHANNEL),
	    .dump_entry = hook_dump_entry,
	    .ready = hook_ready,
	    .ack = hook_ack,
	};
	struct ctl_turn *t;
	uint32_t buckets = 1024;
	int rc;

	*out = NULL;
	if (tc->relay_port_min > tc->relay_port_max || !tc->max_allocations) {
		SN_ERR("turn: relay ports %u-%u or max_allocations %u unusable", tc->relay_port_min,
		       tc->relay_port_max, tc->max_allocations);
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		SN_ERR("turn: out of memory");
		return -ENOMEM;
	}
	t->cfg = p->cfg;
	t->chan = p->chan;
	t->now_real = p->now_real ? p->now_real : real_clock;
	t->now_arg = p->now_arg;
	t->auth.cfg = tc;
	t->rl = (struct ctl_ratelimit)CTL_RATELIMIT_INIT(10000, 20);
	t->max_allocs = tc->max_allocations;
	t->dump_gen = 1;
	while (buckets < t->max_allocs / 2 && buckets < (1u << 20))
		buckets <<= 1;
	t->bucket_mask = buckets - 1;
	t->n_id_pages = (t->max_allocs + ID_PAGE_SIZE - 1) / ID_PAGE_SIZE;
	t->buckets = calloc(buckets, sizeof(*t->buckets));
	t->id_pages = calloc(t->n_id_pages, sizeof(*t->id_pages));
	t->id_used = calloc((t->max_allocs + 7) / 8, 1);
	t->txns = calloc(TURN_MAX_TXN, sizeof(*t->txns));
	t->inflight = calloc(TURN_INFLIGHT, sizeof(*t->inflight));
	t->tomb = calloc(TURN_MAX_TOMBSTONES, sizeof(*t->tomb));
	if (!t->buckets || !t->id_pages || !t->id_used || !t->txns || !t->inflight || !t->tomb) {
		SN_ERR("turn: out of memory for %u allocations", t->max_allocs);
		rc = -ENOMEM;
		goto fail;
	}
	for (int i = 0; i < TURN_MAX_TXN; i++)
		t->txns[i].gen = 1;
	t->relay_free[0] = t->relay_free[1] = (uint32_t)tc->relay_port_max - tc->relay_port_min + 1;
	/* ports the dataplane serves itself are never relay ports */
	for (int i = 0; i < p->cfg->dataplane.n_dispatch; i++)
		for (int f = 0; f < 2; f++)
			port_mark(t, f, p->cfg->dataplane.dispatch[i].port, true);
	rc = ctl_turn_secret_load(t->auth.secret, p->secret_path);
	if (rc == -EIO)
		goto fail;
	if (p->chan) {
		hooks.arg = t;
		rc = ctl_chan_add_table_hooks(p->chan, &hooks);
		if (rc < 0) {
			SN_ERR("turn: cannot register table hooks: %s", strerror(-rc));
			goto fail;
		}
		ctl_chan_set_punt_handler(p->chan, SN_PUNT_TURN, turn_punt, t);
	}
	SN_INFO("TURN: realm %s, %d users, REST API %s, relay ports %u-%u, %u allocations at "
		"most, %d allowed and %d denied peer ranges",
		tc->realm, tc->n_users, tc->rest_secret[0] ? "on" : "off", tc->relay_port_min,
		tc->relay_port_max, t->max_allocs, tc->n_allowed_peers, tc->n_denied_peers);
	*out = t;
	return 0;
fail:
	ctl_turn_destroy(t);
	return rc ? rc : -ENOMEM;
}

void ctl_turn_destroy(struct ctl_turn *t)
{
	if (!t)
		return;
	if (t->chan)
		ctl_chan_set_punt_handler(t->chan, SN_PUNT_TURN, NULL, NULL);
	if (t->id_pages) {
		for (uint32_t page = 0; page < t->n_id_pages; page++) {
			struct turn_alloc **pg = t->id_pages[page];

			if (!pg)
				continue;
			for (uint32_t k = 0; k < ID_PAGE_SIZE; k++)
				if (pg[k])
					alloc_free(t, pg[k], false, 0);
			free(t->id_pages[page]);
		}
	}
	for (int b = 0; b < TURN_USER_BUCKETS; b++)
		while (t->users[b]) {
			struct turn_user *u = t->users[b];

			t->users[b] = u->next;
			free(u);
		}
	free(t->id_pages);
	free(t->buckets);
	free(t->id_used);
	free(t->txns);
	free(t->inflight);
	free(t->tomb);
	free(t);
}
