#include "tables.h"
#include "sn_log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

int sn_rcu_writer_init(struct sn_rcu_writer *w, uint32_t cap)
{
	memset(w, 0, sizeof(*w));
	w->pending = calloc(cap, sizeof(*w->pending));
	if (!w->pending) {
		SN_ERR("no memory for %u retired objects", cap);
		return -ENOMEM;
	}
	w->cap = cap;
	return 0;
}

void sn_rcu_writer_fini(struct sn_rcu_writer *w)
{
	sn_rcu_reclaim(w);
	free(w->pending);
	w->pending = NULL;
}

uint32_t sn_rcu_reclaim(struct sn_rcu_writer *w)
{
	uint32_t n = w->n_pending;
	if (n == 0)
		return 0;
	synchronize_rcu();
	w->grace_periods++;
	for (uint32_t i = 0; i < n; i++)
		w->pending[i].free_fn(w->pending[i].ptr);
	w->freed += n;
	w->n_pending = 0;
	return n;
}

void sn_rcu_retire(struct sn_rcu_writer *w, void *ptr, void (*free_fn)(void *))
{
	if (!ptr)
		return;
	if (w->n_pending == w->cap)
		sn_rcu_reclaim(w);
	w->pending[w->n_pending].ptr = ptr;
	w->pending[w->n_pending].free_fn = free_fn;
	w->n_pending++;
}

/* --- dispatch --- */

int sn_dispatch_init(struct sn_dispatch_table *t)
{
	struct sn_dispatch_snap *snap = calloc(1, sizeof(*snap));
	if (!snap) {
		SN_ERR("no memory for the dispatch table");
		return -ENOMEM;
	}
	rcu_assign_pointer(t->current, snap);
	return 0;
}

void sn_dispatch_fini(struct sn_dispatch_table *t)
{
	free(t->current);
	t->current = NULL;
}

int sn_dispatch_apply(struct sn_dispatch_table *t, struct sn_dispatch_snap **draft, uint8_t op,
		      const struct sn_dispatch_key *key, const struct sn_dispatch_value *val)
{
	int fam = 0;
	if (op != SN_TABLE_OP_CLEAR) {
		if (!key || (key->family != AF_INET && key->family != AF_INET6) || key->pad)
			return -EINVAL;
		fam = key->family == AF_INET6;
	}
	if (op == SN_TABLE_OP_ADD && (!val || val->handler >= SN_UDP_HANDLER_MAX || val->pad))
		return -EINVAL;
	if (!*draft) {
		*draft = malloc(sizeof(**draft));
		if (!*draft)
			return -ENOMEM;
		memcpy(*draft, t->current, sizeof(**draft));
	}
	struct sn_dispatch_snap *d = *draft;
	switch (op) {
	case SN_TABLE_OP_CLEAR:
		memset(d->handler, 0, sizeof(d->handler));
		d->entries = 0;
		return 0;
	case SN_TABLE_OP_ADD:
	case SN_TABLE_OP_DEL: {
		uint8_t *slot = &d->handler[fam][ntohs(key->port)];
		uint8_t next = op == SN_TABLE_OP_ADD ? (uint8_t)val->handler : SN_UDP_HANDLER_DROP;
		if (*slot == SN_UDP_HANDLER_DROP && next != SN_UDP_HANDLER_DROP)
			d->entries++;
		else if (*slot != SN_UDP_HANDLER_DROP && next == SN_UDP_HANDLER_DROP)
			d->entries--;
		*slot = next;
		return 0;
	}
	default:
		return -EINVAL;
	}
}

void sn_dispatch_publish(struct sn_dispatch_table *t, struct sn_dispatch_snap *draft,
			 struct sn_rcu_writer *w)
{
	if (!draft)
		return;
	draft->version = t->current->version + 1;
	struct sn_dispatch_snap *old = rcu_xchg_pointer(&t->current, draft);
	sn_rcu_retire(w, old, free);
}

/* --- neighbours --- */

static uint32_t neigh_hash(uint8_t family, const uint8_t *ip)
{
	/* FNV-1a: the table is small and filled from traffic we answered, not attacker-sized. */
	uint32_t h = 2166136261u ^ family;
	unsigned n = family == AF_INET ? 4 : 16;
	for (unsigned i = 0; i < n; i++)
		h = (h ^ ip[i]) * 16777619u;
	return h;
}

static struct sn_neigh_snap *neigh_alloc(uint32_t slots)
{
	struct sn_neigh_snap *s =
	    calloc(1, sizeof(*s) + (size_t)slots * sizeof(struct sn_neigh_entry));
	if (s)
		s->mask = slots - 1;
	return s;
}

int sn_neigh_init(struct sn_neigh_table *t, uint32_t capacity)
{
	uint32_t slots = 16;
	while (slots < capacity * 2)
		slots <<= 1;
	t->capacity = capacity;
	struct sn_neigh_snap *s = neigh_alloc(slots);
	if (!s) {
		SN_ERR("no memory for %u neighbour slots", slots);
		return -ENOMEM;
	}
	rcu_assign_pointer(t->current, s);
	return 0;
}

void sn_neigh_fini(struct sn_neigh_table *t)
{
	free(t->current);
	t->current = NULL;
}

static struct sn_neigh_entry *neigh_find_slot(struct sn_neigh_snap *snap, uint8_t family,
					      const uint8_t *ip, bool *found)
{
	unsigned n = family == AF_INET ? 4 : 16;
	uint32_t i = neigh_hash(family, ip) & snap->mask;
	for (;;) {
		struct sn_neigh_entry *e = &snap->slot[i];
		if (!e->used) {
			*found = false;
			return e;
		}
		if (e->family == family && memcmp(e->ip, ip, n) == 0) {
			*found = true;
			return e;
		}
		i = (i + 1) & snap->mask;
	}
}

const struct sn_neigh_entry *sn_neigh_lookup(const struct sn_neigh_snap *snap, uint8_t family,
					     const uint8_t *ip)
{
	bool found;
	/* Lookup never writes: the cast only reuses the probe loop. */
	struct sn_neigh_entry *e =
	    neigh_find_slot((struct sn_neigh_snap *)snap, family, ip, &found);
	return found ? e : NULL;
}

int sn_neigh_learn(struct sn_neigh_table *t, struct sn_rcu_writer *w, uint16_t port_id,
		   uint8_t family, const uint8_t *ip, const uint8_t *mac)
{
	struct sn_neigh_snap *cur = t->current;
	const struct sn_neigh_entry *known = sn_neigh_lookup(cur, family, ip);
	if (known && memcmp(known->mac, mac, 6) == 0 && known->port_id == port_id)
		return 0;
	if (!known && cur->entries >= t->capacity)
		return -ENOSPC;

	size_t bytes = sizeof(*cur) + (size_t)(cur->mask + 1) * sizeof(struct sn_neigh_entry);
	struct sn_neigh_snap *next = malloc(bytes);
	if (!next)
		return -ENOMEM;
	memcpy(next, cur, bytes);
	bool found;
	struct sn_neigh_entry *e = neigh_find_slot(next, family, ip, &found);
	if (!found) {
		memset(e, 0, sizeof(*e));
		e->used = 1;
		e->family = family;
		memcpy(e->ip, ip, family == AF_INET ? 4 : 16);
		next->entries++;
	}
	memcpy(e->mac, mac, 6);
	e->port_id = port_id;
	struct sn_neigh_snap *old = rcu_xchg_pointer(&t->current, next);
	sn_rcu_retire(w, old, free);
	return 1;
}
