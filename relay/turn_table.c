/* turn_table.c: TURN allocations, permissions and channels under RCU (see turn_table.h).
 *
 * Writer side only; the read side is inline in the header. Every command first builds what
 * it needs (new object, room in the retired list), so that a failure changes nothing, then
 * publishes with pointer stores (rcu_assign_pointer: the object is complete before it is
 * reachable) and retires what it replaced. */
#include "turn_table.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "channeldata.h"

/* --- small helpers --- */

static size_t obj_size(uint32_t n_perms, uint32_t n_chans)
{
	return sizeof(struct sn_turn_alloc) +
	       (size_t)(n_perms + n_chans) * sizeof(struct sn_turn_perm);
}

static struct sn_turn_chan *chans_of(struct sn_turn_alloc *a)
{
	return (struct sn_turn_chan *)(void *)&a->perm[a->n_perms];
}

static unsigned ip_len(uint8_t family)
{
	return family == AF_INET ? 4 : 16;
}

static bool family_ok(uint8_t family)
{
	return family == AF_INET || family == AF_INET6;
}

/* Copies an address, zeroing the unused tail of an IPv4 one. */
static void ip_copy(uint8_t dst[16], uint8_t family, const uint8_t *src)
{
	memset(dst, 0, 16);
	memcpy(dst, src, ip_len(family));
}

static uint32_t relay_slot(const struct sn_turn_table *t, uint16_t port_idx, bool v6,
			   uint16_t relay_port)
{
	return ((uint32_t)port_idx * 2 + v6) * t->relay_span +
	       (uint32_t)(relay_port - t->p.relay_port_min);
}

static bool relay_port_ok(const struct sn_turn_table *t, uint16_t port)
{
	return port == 0 || (port >= t->p.relay_port_min && port <= t->p.relay_port_max);
}

/* --- retired objects --- */

static int retired_reserve(struct sn_turn_table *t, uint32_t n)
{
	struct sn_turn_retired *r = t->retired;
	uint32_t have = r ? r->n : 0, cap = r ? r->cap : 0;
	if (have + (uint64_t)n <= cap)
		return 0;
	uint64_t want = (uint64_t)have + n;
	uint64_t next = cap ? (uint64_t)cap * 2 : 16;
	while (next < want)
		next *= 2;
	if (next > UINT32_MAX)
		return -ENOMEM;
	struct sn_turn_retired *nr = realloc(r, sizeof(*r) + next * sizeof(void *));
	if (!nr)
		return -ENOMEM;
	if (!r)
		nr->n = 0;
	nr->cap = (uint32_t)next;
	t->retired = nr;
	return 0;
}

/* Room was reserved by the caller. */
static void retire(struct sn_turn_table *t, struct sn_turn_alloc *a)
{
	t->obj_bytes -= malloc_usable_size(a);
	t->retired->obj[t->retired->n++] = a;
}

struct sn_turn_retired *sn_turn_table_take_retired(struct sn_turn_table *t)
{
	struct sn_turn_retired *r = t->retired;
	if (!r || r->n == 0)
		return NULL;
	t->retired = NULL;
	return r;
}

void sn_turn_retired_free(void *retired)
{
	struct sn_turn_retired *r = retired;
	if (!r)
		return;
	for (uint32_t i = 0; i < r->n; i++)
		free(r->obj[i]);
	free(r);
}

uint32_t sn_turn_table_reclaim(struct sn_turn_table *t)
{
	struct sn_turn_retired *r = sn_turn_table_take_retired(t);
	if (!r)
		return 0;
	uint32_t n = r->n;
	synchronize_rcu();
	sn_turn_retired_free(r);
	return n;
}

/* --- setup --- */

int sn_turn_table_init(struct sn_turn_table *t, const struct sn_turn_table_params *p)
{
	memset(t, 0, sizeof(*t));
	if (!p || p->max_allocations == 0 || p->max_allocations > (1u << 24) ||
	    p->max_permissions == 0 || p->max_channels == 0 || p->relay_port_min == 0 ||
	    p->relay_port_min > p->relay_port_max || p->n_ports == 0 ||
	    p->n_ports > SN_TURN_MAX_PORTS || !p->ports || p->n_lcores == 0)
		return -EINVAL;
	t->p = *p;
	memcpy(t->port, p->ports, sizeof(t->port[0]) * p->n_ports);
	t->p.ports = t->port;
	uint32_t buckets = 1;
	while (buckets < p->max_allocations)
		buckets <<= 1;
	t->bucket_mask = buckets - 1;
	t->relay_span = (uint32_t)p->relay_port_max - p->relay_port_min + 1;

	/* calloc: large arrays come from fresh zero pages, touched only when used. */
	t->by_id = calloc(p->max_allocations, sizeof(*t->by_id));
	t->bucket = calloc(buckets, sizeof(*t->bucket));
	t->by_relay = calloc((size_t)p->n_ports * 2 * t->relay_span, sizeof(*t->by_relay));
	t->base = calloc(p->max_allocations, sizeof(*t->base));
	t->ctr = calloc(p->n_lcores, sizeof(*t->ctr));
	if (!t->by_id || !t->bucket || !t->by_relay || !t->base || !t->ctr)
		goto nomem;
	for (uint16_t i = 0; i < p->n_lcores; i++) {
		t->ctr[i] = calloc(p->max_allocations, sizeof(struct sn_turn_counters));
		if (!t->ctr[i])
			goto nomem;
	}
	return 0;
nomem:
	sn_turn_table_fini(t);
	return -ENOMEM;
}

void sn_turn_table_fini(struct sn_turn_table *t)
{
	if (t->by_id) {
		for (uint32_t i = 0; i < t->p.max_allocations; i++)
			free(t->by_id[i]);
	}
	sn_turn_retired_free(t->retired);
	if (t->ctr) {
		for (uint16_t i = 0; i < t->p.n_lcores; i++)
			free(t->ctr[i]);
	}
	free(t->ctr);
	free(t->base);
	free(t->by_relay);
	free(t->bucket);
	free(t->by_id);
	memset(t, 0, sizeof(*t));
}

/* --- publication --- */

/* The link that points at `a` in its chain (bucket head or a predecessor's next). */
static struct sn_turn_alloc **chain_link(struct sn_turn_table *t, const struct sn_turn_alloc *a)
{
	struct sn_turn_alloc **link = &t->bucket[a->hash & t->bucket_mask];
	while (*link && *link != a)
		link = &(*link)->next;
	return *link ? link : NULL;
}

static bool same_client(const struct sn_turn_alloc *a, const struct sn_turn_alloc *b)
{
	return a->hash == b->hash && a->family == b->family && a->client_port == b->client_port &&
	       a->server_port == b->server_port && memcmp(a->client_ip, b->client_ip, 16) == 0;
}

/* Sets the relay slots of `next` and clears those of `prev` that `next` does not reuse.
 * Either may be NULL. */
static void relay_swap(struct sn_turn_table *t, const struct sn_turn_alloc *prev,
		       struct sn_turn_alloc *next)
{
	uint32_t keep[2];
	int n_keep = 0;
	if (next) {
		if (next->relay_port4) {
			keep[n_keep] = relay_slot(t, next->port_idx, false, next->relay_port4);
			rcu_assign_pointer(t->by_relay[keep[n_keep]], next);
			n_keep++;
		}
		if (next->relay_port6) {
			keep[n_keep] = relay_slot(t, next->port_idx, true, next->relay_port6);
			rcu_assign_pointer(t->by_relay[keep[n_keep]], next);
			n_keep++;
		}
	}
	if (!prev)
		return;
	for (int f = 0; f < 2; f++) {
		uint16_t port = f ? prev->relay_port6 : prev->relay_port4;
		if (!port)
			continue;
		uint32_t s = relay_slot(t, prev->port_idx, f, port);
		bool kept = false;
		for (int i = 0; i < n_keep; i++)
			kept |= keep[i] == s;
		if (!kept && t->by_relay[s] == prev)
			CMM_STORE_SHARED(t->by_relay[s], NULL);
	}
}

/* Makes `next` the current version of its id in every index, in place of `prev` (NULL for a
 * new allocation), and retires `prev` (room reserved by the caller). */
static void publish(struct sn_turn_table *t, struct sn_turn_alloc *prev, struct sn_turn_alloc *next)
{
	t->obj_bytes += malloc_usable_size(next);
	t->versions++;
	if (prev && same_client(prev, next)) {
		struct sn_turn_alloc **link = chain_link(t, prev);
		next->next = prev->next;
		rcu_assign_pointer(*link, next);
	} else {
		if (prev) {
			struct sn_turn_alloc **link = chain_link(t, prev);
			CMM_STORE_SHARED(*link, prev->next);
		}
		struct sn_turn_alloc **head = &t->bucket[next->hash & t->bucket_mask];
		next->next = *head;
		rcu_assign_pointer(*head, next);
	}
	relay_swap(t, prev, next);
	rcu_assign_pointer(t->by_id[next->id], next);
	if (prev)
		retire(t, prev);
}

/* Removes `a` from every index and retires it (room reserved by the caller). */
static void unpublish(struct sn_turn_table *t, struct sn_turn_alloc *a)
{
	struct sn_turn_alloc **link = chain_link(t, a);
	if (link)
		CMM_STORE_SHARED(*link, a->next);
	relay_swap(t, a, NULL);
	CMM_STORE_SHARED(t->by_id[a->id], NULL);
	t->n_allocs--;
	t->n_perms -= a->n_perms;
	t->n_chans -= a->n_chans;
	retire(t, a);
}

/* A copy of `a` with room for n_perms permissions and n_chans channels, counts set and
 * entries left for the caller to fill. */
static struct sn_turn_alloc *alloc_obj(uint32_t n_perms, uint32_t n_chans)
{
	struct sn_turn_alloc *a = malloc(obj_size(n_perms, n_chans));
	if (a) {
		memset(a, 0, sizeof(*a));
		a->n_perms = (uint16_t)n_perms;
		a->n_chans = (uint16_t)n_chans;
	}
	return a;
}

static void copy_header(struct sn_turn_alloc *dst, const struct sn_turn_alloc *src)
{
	uint16_t np = dst->n_perms, nc = dst->n_chans;
	memcpy(dst, src, sizeof(*dst));
	dst->next = NULL;
	dst->n_perms = np;
	dst->n_chans = nc;
}

static void counters_sum(const struct sn_turn_table *t, uint32_t id, struct sn_turn_counters *s)
{
	memset(s, 0, sizeof(*s));
	for (uint16_t l = 0; l < t->p.n_lcores; l++) {
		const struct sn_turn_counters *c = &t->ctr[l][id];
		/* Written by their lcore with plain stores; an aligned 64-bit load is whole. */
		s->to_peer_packets += __atomic_load_n(&c->to_peer_packets, __ATOMIC_RELAXED);
		s->to_peer_bytes += __atomic_load_n(&c->to_peer_bytes, __ATOMIC_RELAXED);
		s->to_client_packets += __atomic_load_n(&c->to_client_packets, __ATOMIC_RELAXED);
		s->to_client_bytes += __atomic_load_n(&c->to_client_bytes, __ATOMIC_RELAXED);
	}
}

/* --- allocations --- */

int sn_turn_alloc_put(struct sn_turn_table *t, uint32_t id, const struct sn_turn_alloc_value *v)
{
	const struct sn_udp_tuple *c = &v->client;
	if (id >= t->p.max_allocations || !family_ok(c->family) || v->port_idx >= t->p.n_ports ||
	    v->flags != 0 || !relay_port_ok(t, v->relay_port4) ||
	    !relay_port_ok(t, v->relay_port6) || (v->relay_port4 == 0 && v->relay_port6 == 0))
		return -EINVAL;
	const struct sn_turn_port_addr *pa = &t->port[v->port_idx];
	if ((v->relay_port4 && !pa->has_ipv4) || (v->relay_port6 && !pa->has_ipv6))
		return -EINVAL;
	bool ok_dst = c->family == AF_INET ? pa->has_ipv4 && memcmp(c->dst, pa->ipv4, 4) == 0
					   : pa->has_ipv6 && memcmp(c->dst, pa->ipv6, 16) == 0;
	if (!ok_dst)
		return -EINVAL;

	struct sn_turn_alloc *prev = t->by_id[id];
	const struct sn_turn_alloc *other =
	    sn_turn_lookup_client(t, c->family, c->src, c->src_port, c->dst_port);
	if (other && other != prev)
		return -EEXIST;
	if (v->relay_port4) {
		const struct sn_turn_alloc *r =
		    t->by_relay[relay_slot(t, v->port_idx, false, v->relay_port4)];
		if (r && r != prev)
			return -EEXIST;
	}
	if (v->relay_port6) {
		const struct sn_turn_alloc *r =
		    t->by_relay[relay_slot(t, v->port_idx, true, v->relay_port6)];
		if (r && r != prev)
			return -EEXIST;
	}
	if (prev && retired_reserve(t, 1) < 0)
		return -ENOMEM;
	struct sn_turn_alloc *a = alloc_obj(prev ? prev->n_perms : 0, prev ? prev->n_chans : 0);
	if (!a)
		return -ENOMEM;
	a->id = id;
	a->family = c->family;
	ip_copy(a->client_ip, c->family, c->src);
	a->client_port = c->src_port;
	a->server_port = c->dst_port;
	a->hash =
	    sn_turn_client_hash(t->p.seed, a->family, a->client_ip, a->client_port, a->server_port);
	a->port_idx = v->port_idx;
	a->relay_port4 = v->relay_port4;
	a->relay_port6 = v->relay_port6;
	a->expires_ns = v->expires_ns;
	if (prev)
		memcpy(a->perm, prev->perm,
		       (size_t)(prev->n_perms + prev->n_chans) * sizeof(a->perm[0]));
	else {
		/* A new life for this id: its traffic starts from what the lcores count now. */
		counters_sum(t, id, &t->base[id]);
		t->n_allocs++;
	}
	publish(t, prev, a);
	return 0;
}

int sn_turn_alloc_del(struct sn_turn_table *t, uint32_t id)
{
	if (id >= t->p.max_allocations)
		return -EINVAL;
	struct sn_turn_alloc *a = t->by_id[id];
	if (!a)
		return -ENOENT;
	if (retired_reserve(t, 1) < 0)
		return -ENOMEM;
	unpublish(t, a);
	return 0;
}

int sn_turn_alloc_clear(struct sn_turn_table *t)
{
	if (retired_reserve(t, t->n_allocs) < 0)
		return -ENOMEM;
	for (uint32_t id = 0; id < t->p.max_allocations && t->n_allocs; id++) {
		struct sn_turn_alloc *a = t->by_id[id];
		if (a)
			unpublish(t, a);
	}
	return 0;
}

/* --- permissions and channels: copy on write --- */

static int perm_key_check(const struct sn_turn_table *t, const struct sn_turn_perm_key *k,
			  struct sn_turn_alloc **a)
{
	if (k->alloc_id >= t->p.max_allocations || !family_ok(k->family))
		return -EINVAL;
	*a = t->by_id[k->alloc_id];
	return *a ? 0 : -ENOENT;
}

static int perm_index(const struct sn_turn_alloc *a, uint8_t family, const uint8_t *ip)
{
	const struct sn_turn_perm *p = sn_turn_perm_find(a, family, ip);
	return p ? (int)(p - a->perm) : -1;
}

/* A copy of `a` without permission `drop_p` (-1: none) and channel `drop_c` (-1: none),
 * with `add_p` more permission slots and `add_c` more channel slots at the ends of their
 * lists (left for the caller). */
static struct sn_turn_alloc *cow(const struct sn_turn_alloc *a, int drop_p, int drop_c,
				 unsigned add_p, unsigned add_c)
{
	uint32_t np = a->n_perms - (drop_p >= 0) + add_p;
	uint32_t nc = a->n_chans - (drop_c >= 0) + add_c;
	struct sn_turn_alloc *n = alloc_obj(np, nc);
	if (!n)
		return NULL;
	copy_header(n, a);
	uint32_t j = 0;
	for (uint32_t i = 0; i < a->n_perms; i++) {
		if ((int)i != drop_p)
			n->perm[j++] = a->perm[i];
	}
	const struct sn_turn_chan *src = sn_turn_alloc_chans(a);
	struct sn_turn_chan *dst = chans_of(n);
	j = 0;
	for (uint32_t i = 0; i < a->n_chans; i++) {
		if ((int)i != drop_c)
			dst[j++] = src[i];
	}
	return n;
}

/* Swaps `n` in for `a` (same allocation, same keys). */
static void replace(struct sn_turn_table *t, struct sn_turn_alloc *a, struct sn_turn_alloc *n)
{
	t->n_perms += (uint32_t)n->n_perms - a->n_perms;
	t->n_chans += (uint32_t)n->n_chans - a->n_chans;
	publish(t, a, n);
}

int sn_turn_perm_put(struct sn_turn_table *t, const struct sn_turn_perm_key *k,
		     const struct sn_turn_perm_value *v)
{
	struct sn_turn_alloc *a;
	int rc = perm_key_check(t, k, &a);
	if (rc < 0)
		return rc;
	int i = perm_index(a, k->family, k->peer);
	if (i < 0 && a->n_perms >= t->p.max_permissions)
		return -ENOSPC;
	if (retired_reserve(t, 1) < 0)
		return -ENOMEM;
	struct sn_turn_alloc *n = cow(a, -1, -1, i < 0, 0);
	if (!n)
		return -ENOMEM;
	struct sn_turn_perm *p = &n->perm[i < 0 ? n->n_perms - 1u : (uint32_t)i];
	memset(p, 0, sizeof(*p));
	p->family = k->family;
	ip_copy(p->peer, k->family, k->peer);
	p->expires_ns = v->expires_ns;
	replace(t, a, n);
	return 0;
}

int sn_turn_perm_del(struct sn_turn_table *t, const struct sn_turn_perm_key *k)
{
	struct sn_turn_alloc *a;
	int rc = perm_key_check(t, k, &a);
	if (rc < 0)
		return rc;
	int i = perm_index(a, k->family, k->peer);
	if (i < 0)
		return -ENOENT;
	if (retired_reserve(t, 1) < 0)
		return -ENOMEM;
	struct sn_turn_alloc *n = cow(a, i, -1, 0, 0);
	if (!n)
		return -ENOMEM;
	replace(t, a, n);
	return 0;
}

/* Rebuilds every allocation that has permissions (perms) or channels (!perms) without them.
 * All copies are made before the first is published, so -ENOMEM changes nothing. */
static int clear_entries(struct sn_turn_table *t, bool perms)
{
	uint32_t n = 0, k = 0;
	for (uint32_t id = 0; id < t->p.max_allocations; id++) {
		const struct sn_turn_alloc *a = t->by_id[id];
		n += a && (perms ? a->n_perms : a->n_chans);
	}
	if (n == 0)
		return 0;
	struct sn_turn_alloc **fresh = calloc(n, sizeof(*fresh));
	if (!fresh || retired_reserve(t, n) < 0) {
		free(fresh);
		return -ENOMEM;
	}
	for (uint32_t id = 0; id < t->p.max_allocations && k < n; id++) {
		const struct sn_turn_alloc *a = t->by_id[id];
		if (!a || !(perms ? a->n_perms : a->n_chans))
			continue;
		struct sn_turn_alloc *c = alloc_obj(perms ? 0 : a->n_perms, perms ? a->n_chans : 0);
		if (!c) {
			for (uint32_t i = 0; i < k; i++)
				free(fresh[i]);
			free(fresh);
			return -ENOMEM;
		}
		copy_header(c, a);
		if (perms)
			memcpy(c->perm, sn_turn_alloc_chans(a), a->n_chans * sizeof(c->perm[0]));
		else
			memcpy(c->perm, a->perm, a->n_perms * sizeof(c->perm[0]));
		fresh[k++] = c;
	}
	for (uint32_t i = 0; i < k; i++)
		replace(t, t->by_id[fresh[i]->id], fresh[i]);
	free(fresh);
	return 0;
}

int sn_turn_perm_clear(struct sn_turn_table *t)
{
	return clear_entries(t, true);
}

static int chan_key_check(const struct sn_turn_table *t, const struct sn_turn_channel_key *k,
			  struct sn_turn_alloc **a)
{
	if (k->alloc_id >= t->p.max_allocations ||
	    !sn_channel_valid(k->channel, t->p.rfc5766_channels ? SN_CHANDATA_F_RFC5766 : 0))
		return -EINVAL;
	*a = t->by_id[k->alloc_id];
	return *a ? 0 : -ENOENT;
}

int sn_turn_chan_put(struct sn_turn_table *t, const struct sn_turn_channel_key *k,
		     const struct sn_turn_channel_value *v)
{
	struct sn_turn_alloc *a;
	if (!family_ok(v->family) || v->peer_port == 0)
		return -EINVAL;
	int rc = chan_key_check(t, k, &a);
	if (rc < 0)
		return rc;
	const struct sn_turn_chan *cur = sn_turn_chan_find(a, k->channel);
	const struct sn_turn_chan *bound =
	    sn_turn_chan_find_peer(a, v->family, v->peer, v->peer_port);
	if (bound && bound != cur)
		return -EEXIST; /* RFC 8656 §11: one channel per peer address */
	if (!cur && a->n_chans >= t->p.max_channels)
		return -ENOSPC;
	if (retired_reserve(t, 1) < 0)
		return -ENOMEM;
	int i = cur ? (int)(cur - sn_turn_alloc_chans(a)) : -1;
	struct sn_turn_alloc *n = cow(a, -1, -1, 0, cur == NULL);
	if (!n)
		return -ENOMEM;
	struct sn_turn_chan *c = &chans_of(n)[i < 0 ? n->n_chans - 1u : (uint32_t)i];
	memset(c, 0, sizeof(*c));
	c->number = k->channel;
	c->family = v->family;
	c->peer_port = v->peer_port;
	ip_copy(c->peer, v->family, v->peer);
	c->expires_ns = v->expires_ns;
	replace(t, a, n);
	return 0;
}

int sn_turn_chan_del(struct sn_turn_table *t, const struct sn_turn_channel_key *k)
{
	struct sn_turn_alloc *a;
	int rc = chan_key_check(t, k, &a);
	if (rc < 0)
		return rc;
	const struct sn_turn_chan *cur = sn_turn_chan_find(a, k->channel);
	if (!cur)
		return -ENOENT;
	if (retired_reserve(t, 1) < 0)
		return -ENOMEM;
	struct sn_turn_alloc *n = cow(a, -1, (int)(cur - sn_turn_alloc_chans(a)), 0, 0);
	if (!n)
		return -ENOMEM;
	replace(t, a, n);
	return 0;
}

int sn_turn_chan_clear(struct sn_turn_table *t)
{
	return clear_entries(t, false);
}

/* --- dump --- */

void sn_turn_alloc_traffic(const struct sn_turn_table *t, uint32_t id, struct sn_turn_counters *out)
{
	counters_sum(t, id, out);
	const struct sn_turn_counters *b = &t->base[id];
	out->to_peer_packets -= b->to_peer_packets;
	out->to_peer_bytes -= b->to_peer_bytes;
	out->to_client_packets -= b->to_client_packets;
	out->to_client_bytes -= b->to_client_bytes;
}

void sn_turn_alloc_value_of(const struct sn_turn_table *t, const struct sn_turn_alloc *a,
			    struct sn_turn_alloc_value *v)
{
	memset(v, 0, sizeof(*v));
	const struct sn_turn_port_addr *pa = &t->port[a->port_idx];
	v->client.family = a->family;
	v->client.src_port = a->client_port;
	v->client.dst_port = a->server_port;
	memcpy(v->client.src, a->client_ip, 16);
	if (a->family == AF_INET)
		memcpy(v->client.dst, pa->ipv4, 4);
	else
		memcpy(v->client.dst, pa->ipv6, 16);
	v->port_idx = a->port_idx;
	v->relay_port4 = a->relay_port4;
	v->relay_port6 = a->relay_port6;
	v->expires_ns = a->expires_ns;
	struct sn_turn_counters c;
	sn_turn_alloc_traffic(t, a->id, &c);
	v->to_peer_packets = c.to_peer_packets;
	v->to_peer_bytes = c.to_peer_bytes;
	v->to_client_packets = c.to_client_packets;
	v->to_client_bytes = c.to_client_bytes;
}

size_t sn_turn_alloc_footprint(const struct sn_turn_alloc *a)
{
	return malloc_usable_size((void *)a);
}
