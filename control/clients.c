/* clients.c: the per-client table (see clients.h). */
#include "clients.h"

#include "dht_msg.h"
#include "sn_log.h"
#include "token.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

static struct ctl_clients *g_clients;

static size_t alen(uint8_t family)
{
	return family == AF_INET6 ? 16 : 4;
}

static uint32_t bucket_of(const struct ctl_clients *t, uint8_t family, const uint8_t *addr)
{
	uint8_t k[17];

	k[0] = family;
	memcpy(k + 1, addr, alen(family));
	return (uint32_t)sn_siphash24_64(t->hash_key, k, 1 + alen(family)) & t->mask;
}

int ctl_clients_init(struct ctl_clients *t, uint32_t max)
{
	uint32_t nb = 16;

	memset(t, 0, sizeof(*t));
	while (nb < max && nb < (1u << 30))
		nb <<= 1;
	t->slab = calloc(max, sizeof(*t->slab));
	t->buckets = calloc(nb, sizeof(*t->buckets));
	if (!t->slab || !t->buckets) {
		SN_ERR("ctl_clients_init: no memory for %u clients", max);
		free(t->slab);
		free(t->buckets);
		memset(t, 0, sizeof(*t));
		return -ENOMEM;
	}
	t->max = max;
	t->mask = nb - 1;
	for (uint32_t i = max; i-- > 0;) {
		t->slab[i].hnext = t->free;
		t->free = &t->slab[i];
	}
	if (getrandom(t->hash_key, sizeof(t->hash_key), 0) != (ssize_t)sizeof(t->hash_key))
		for (size_t i = 0; i < sizeof(t->hash_key); i++)
			t->hash_key[i] = (uint8_t)(ctl_mono_ns() >> (i % 8));
	return 0;
}

void ctl_clients_fini(struct ctl_clients *t)
{
	if (g_clients == t)
		g_clients = NULL;
	free(t->slab);
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

void ctl_clients_set_current(struct ctl_clients *t)
{
	g_clients = t;
}

struct ctl_clients *ctl_clients_current(void)
{
	return g_clients;
}

uint64_t ctl_clients_bytes(const struct ctl_clients *t)
{
	return (uint64_t)t->max * sizeof(struct ctl_client) +
	       ((uint64_t)t->mask + 1) * sizeof(struct ctl_client *);
}

struct ctl_client *ctl_clients_find(struct ctl_clients *t, uint8_t family, const uint8_t *addr)
{
	if (!t->max)
		return NULL;
	for (struct ctl_client *c = t->buckets[bucket_of(t, family, addr)]; c; c = c->hnext)
		if (c->family == family && memcmp(c->addr, addr, alen(family)) == 0)
			return c;
	return NULL;
}

static void lru_unlink(struct ctl_clients *t, struct ctl_client *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		t->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		t->tail = c->prev;
	c->prev = c->next = NULL;
}

static void lru_push(struct ctl_clients *t, struct ctl_client *c)
{
	c->prev = NULL;
	c->next = t->head;
	if (t->head)
		t->head->prev = c;
	t->head = c;
	if (!t->tail)
		t->tail = c;
}

static void evict(struct ctl_clients *t, struct ctl_client *c)
{
	uint32_t b = bucket_of(t, c->family, c->addr);

	for (struct ctl_client **pp = &t->buckets[b]; *pp; pp = &(*pp)->hnext)
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
	lru_unlink(t, c);
	memset(c, 0, sizeof(*c));
	c->hnext = t->free;
	t->free = c;
	t->n--;
	t->evictions++;
}

struct ctl_client *ctl_clients_touch(struct ctl_clients *t, uint8_t family, const uint8_t *addr,
				     uint64_t now)
{
	struct ctl_client *c;
	uint32_t b;

	if (!t->max || (family != AF_INET && family != AF_INET6))
		return NULL;
	c = ctl_clients_find(t, family, addr);
	if (c) {
		c->last_ns = now;
		if (t->head != c) {
			lru_unlink(t, c);
			lru_push(t, c);
		}
		return c;
	}
	if (!t->free)
		evict(t, t->tail);
	c = t->free;
	t->free = c->hnext;
	memset(c, 0, sizeof(*c));
	c->family = family;
	memcpy(c->addr, addr, alen(family));
	c->first_ns = c->last_ns = now;
	b = bucket_of(t, family, addr);
	c->hnext = t->buckets[b];
	t->buckets[b] = c;
	lru_push(t, c);
	t->n++;
	return c;
}

static uint32_t sat_inc(uint32_t v)
{
	return v == UINT32_MAX ? v : v + 1;
}

void ctl_clients_dht_request(const struct sn_udp_tuple *tuple, const uint8_t node[20],
			     unsigned method)
{
	struct ctl_client *c;
	unsigned i;

	if (!g_clients)
		return;
	c = ctl_clients_touch(g_clients, tuple->family, tuple->src, ctl_mono_ns());
	if (!c)
		return;
	/* a node id or port change (restart behind the same address) keeps the history but
	 * asks for a new reachability verdict */
	if (!c->has_node || memcmp(c->node, node, 20) != 0 || c->dht_port != tuple->src_port) {
		if (c->has_node && c->reach != CTL_REACH_PROBING)
			c->reach = CTL_REACH_UNKNOWN;
		memcpy(c->node, node, 20);
		c->has_node = true;
		c->dht_port = tuple->src_port;
	}
	switch (method) {
	case SN_DHT_Q_PING:
		i = 0;
		break;
	case SN_DHT_Q_FIND:
		i = 1;
		break;
	case SN_DHT_Q_GET:
		i = 2;
		break;
	case SN_DHT_Q_PUT:
		i = 3;
		break;
	case SN_DHT_Q_LISTEN:
		i = 4;
		break;
	default:
		i = 5;
		break;
	}
	c->dht_ops[i] = sat_inc(c->dht_ops[i]);
}

void ctl_clients_dht_error(const struct sn_udp_tuple *tuple)
{
	struct ctl_client *c;

	if (!g_clients)
		return;
	c = ctl_clients_touch(g_clients, tuple->family, tuple->src, ctl_mono_ns());
	if (c)
		c->errors = sat_inc(c->errors);
}

void ctl_clients_turn(const struct sn_udp_tuple *tuple, enum ctl_client_turn_event ev,
		      uint64_t bytes)
{
	struct ctl_client *c;

	if (!g_clients)
		return;
	c = ctl_clients_touch(g_clients, tuple->family, tuple->src, ctl_mono_ns());
	if (!c)
		return;
	switch (ev) {
	case CTL_CLIENT_ALLOC:
		c->turn_allocs = sat_inc(c->turn_allocs);
		if (c->allocs < UINT16_MAX)
			c->allocs++;
		break;
	case CTL_CLIENT_REFRESH:
		c->turn_refreshes = sat_inc(c->turn_refreshes);
		break;
	case CTL_CLIENT_PERMISSION:
		c->turn_perms = sat_inc(c->turn_perms);
		break;
	case CTL_CLIENT_FREE:
		if (c->allocs)
			c->allocs--;
		c->relay_bytes += bytes;
		break;
	case CTL_CLIENT_ERROR:
		c->errors = sat_inc(c->errors);
		break;
	}
}
