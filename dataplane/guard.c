#include "guard.h"
#include "sn_log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#define BAN_HASH_SEED 0x5bd1e9955bd1e995ull

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t mix(uint64_t a, uint64_t b, uint64_t seed)
{
	uint64_t h = (a ^ seed) * 0x9e3779b97f4a7c15ull;
	h ^= b + (h >> 29);
	h *= 0xc2b2ae3d27d4eb4full;
	return h ^ (h >> 32);
}

static inline unsigned addr_len(uint8_t family)
{
	return family == AF_INET ? 4 : 16;
}

static inline unsigned max_plen(uint8_t family)
{
	return family == AF_INET ? 32 : 128;
}

/* dst = the first plen bits of src, the rest of the 16 bytes zero. */
static void mask_prefix(uint8_t dst[16], const uint8_t *src, uint8_t family, unsigned plen)
{
	unsigned n = addr_len(family);
	memset(dst, 0, 16);
	memcpy(dst, src, n);
	for (unsigned i = 0; i < n; i++) {
		unsigned bit = i * 8;
		if (bit >= plen)
			dst[i] = 0;
		else if (bit + 8 > plen)
			dst[i] &= (uint8_t)(0xff << (8 - (plen - bit)));
	}
}

static bool host_bits_zero(const uint8_t addr[16], uint8_t family, unsigned plen)
{
	uint8_t m[16];
	mask_prefix(m, addr, family, plen);
	return memcmp(m, addr, 16) == 0;
}

static void rate_init(struct sn_guard_rate *r, uint64_t hz, uint32_t rate, uint32_t burst)
{
	r->interval = hz / (rate ? rate : 1);
	if (!r->interval)
		r->interval = 1;
	r->tolerance = r->interval * (burst ? burst : 1);
}

void sn_guard_params_init(struct sn_guard_params *p, const struct sn_guard_config *cfg, uint64_t hz)
{
	uint32_t f = cfg->suspect_factor ? cfg->suspect_factor : 1;

	memset(p, 0, sizeof(*p));
	p->enabled = cfg->enabled;
	for (int c = 0; c < SN_GUARD_CLASS_MAX; c++) {
		rate_init(&p->rate[SN_GUARD_KEY_SOURCE][c], hz, cfg->source_rate[c],
			  cfg->source_burst[c]);
		rate_init(&p->rate[SN_GUARD_KEY_PREFIX][c], hz, cfg->prefix_rate[c],
			  cfg->prefix_burst[c]);
		rate_init(&p->suspect[SN_GUARD_KEY_SOURCE][c], hz, cfg->source_rate[c] / f ?: 1,
			  cfg->source_burst[c] / f ?: 1);
		rate_init(&p->suspect[SN_GUARD_KEY_PREFIX][c], hz, cfg->prefix_rate[c] / f ?: 1,
			  cfg->prefix_burst[c] / f ?: 1);
		rate_init(&p->aggregate[c], hz, cfg->aggregate_rate, cfg->aggregate_burst);
	}
	rate_init(&p->punt_all, hz, cfg->punt_rate, cfg->punt_burst);
	p->report_tsc = hz / 1000 * (cfg->report_ms ? cfg->report_ms : 1000);
	p->top_k = (uint16_t)(cfg->top_k > SN_GUARD_MAX_TOPK ? SN_GUARD_MAX_TOPK : cfg->top_k);
}

/* --- per-worker table --- */

int sn_guard_init(struct sn_guard *g, uint32_t capacity)
{
	uint32_t n = SN_GUARD_WAYS;
	uint64_t seed = 0;

	memset(g, 0, sizeof(*g));
	while (n < capacity && n < (1u << 30))
		n <<= 1;
	g->sets = aligned_alloc(64, (size_t)n * sizeof(struct sn_guard_entry));
	if (!g->sets) {
		SN_ERR("sn_guard_init: no memory for %u policer entries", n);
		return -ENOMEM;
	}
	memset(g->sets, 0, (size_t)n * sizeof(struct sn_guard_entry));
	g->set_mask = n / SN_GUARD_WAYS - 1;
	/* A secret seed: an attacker cannot aim spoofed sources at a victim's set. */
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)(uintptr_t)g ^ 0x243f6a8885a308d3ull;
	g->seed = seed;
	return 0;
}

void sn_guard_fini(struct sn_guard *g)
{
	free(g->sets);
	g->sets = NULL;
}

static inline uint64_t max_tat(const struct sn_guard_entry *e)
{
	uint64_t m = e->tat[0];
	for (int c = 1; c < SN_GUARD_CLASS_MAX; c++)
		if (e->tat[c] > m)
			m = e->tat[c];
	return m;
}

/* The entry of key, a new one in a free or idle way, or NULL when every way owes time. */
static struct sn_guard_entry *entry_get(struct sn_guard *g, uint8_t family, uint8_t kind,
					const uint8_t key[16], uint64_t now)
{
	uint64_t a = load64(key), b = load64(key + 8);
	uint64_t h = mix(a, b ^ ((uint64_t)family << 8 | kind), g->seed);
	struct sn_guard_entry *set = &g->sets[(size_t)(h & g->set_mask) * SN_GUARD_WAYS];
	struct sn_guard_entry *free_way = NULL, *victim = NULL;

	for (int i = 0; i < SN_GUARD_WAYS; i++) {
		struct sn_guard_entry *e = &set[i];
		if (!e->family) {
			if (!free_way)
				free_way = e;
			continue;
		}
		if (e->family == family && e->kind == kind && load64(e->addr) == a &&
		    load64(e->addr + 8) == b) {
			e->last = now;
			return e;
		}
		if (max_tat(e) <= now && (!victim || e->last < victim->last))
			victim = e;
	}
	struct sn_guard_entry *e = free_way ? free_way : victim;
	if (!e)
		return NULL;
	if (free_way)
		g->entries++;
	else
		g->evictions++;
	memset(e, 0, sizeof(*e));
	memcpy(e->addr, key, 16);
	e->family = family;
	e->kind = kind;
	e->last = now;
	return e;
}

/* GCRA without committing: true and the new tat when the packet conforms. */
static inline bool gcra(uint64_t tat, uint64_t now, const struct sn_guard_rate *r, uint64_t *next)
{
	uint64_t t = tat > now ? tat : now;
	if (t - now > r->tolerance)
		return false;
	*next = t + r->interval;
	return true;
}

/* Space-saving: a key not in the sketch replaces the smallest count and inherits it. */
static void hh_record(struct sn_guard *g, uint16_t top_k, uint8_t family, const uint8_t key[16],
		      uint8_t plen, uint8_t reason)
{
	struct sn_guard_report_entry *min = NULL;

	g->interval_drops++;
	for (uint16_t i = 0; i < g->n_top; i++) {
		struct sn_guard_report_entry *e = &g->top[i];
		if (e->family == family && e->prefix_len == plen && memcmp(e->addr, key, 16) == 0) {
			e->drops++;
			return;
		}
		if (!min || e->drops < min->drops)
			min = e;
	}
	if (g->n_top < top_k) {
		min = &g->top[g->n_top++];
		min->drops = 0;
	} else if (!min) {
		return;
	}
	min->family = family;
	min->prefix_len = plen;
	min->reason = reason;
	min->pad = 0;
	min->drops++;
	memcpy(min->addr, key, 16);
}

unsigned sn_guard_check(struct sn_guard *g, const struct sn_guard_params *p,
			const struct sn_guard_ban_snap *bans, uint8_t family, const uint8_t *src,
			enum sn_guard_class c, uint64_t now)
{
	uint8_t ks[16], kp[16];
	const unsigned pfx = family == AF_INET ? 24 : 64;
	bool suspect = false;

	if (!p->enabled)
		return SN_DROP_MAX;
	if (bans && bans->entries) {
		const struct sn_guard_ban *b = sn_guard_ban_lookup(bans, family, src, now);
		if (b && b->action == SN_GUARD_BAN) {
			hh_record(g, p->top_k, family, b->addr, b->plen, SN_GUARD_RR_BANNED);
			return SN_DROP_GUARD_BANNED;
		}
		suspect = b != NULL;
	}
	memset(ks, 0, sizeof(ks));
	memcpy(ks, src, addr_len(family));
	mask_prefix(kp, src, family, pfx);

	const struct sn_guard_rate(*rates)[SN_GUARD_CLASS_MAX] = suspect ? p->suspect : p->rate;
	struct sn_guard_entry *es = entry_get(g, family, SN_GUARD_KEY_SOURCE, ks, now);
	struct sn_guard_entry *ep = entry_get(g, family, SN_GUARD_KEY_PREFIX, kp, now);
	uint64_t ts = 0, tp = 0, ta = 0;

	if (es && !gcra(es->tat[c], now, &rates[SN_GUARD_KEY_SOURCE][c], &ts)) {
		es->drops++;
		hh_record(g, p->top_k, family, ks, (uint8_t)max_plen(family),
			  suspect ? SN_GUARD_RR_SUSPECT : SN_GUARD_RR_SOURCE);
		return suspect ? SN_DROP_GUARD_SUSPECT : SN_DROP_GUARD_SOURCE;
	}
	if (ep && !gcra(ep->tat[c], now, &rates[SN_GUARD_KEY_PREFIX][c], &tp)) {
		ep->drops++;
		hh_record(g, p->top_k, family, kp, (uint8_t)pfx,
			  suspect ? SN_GUARD_RR_SUSPECT : SN_GUARD_RR_PREFIX);
		return suspect ? SN_DROP_GUARD_SUSPECT : SN_DROP_GUARD_PREFIX;
	}
	if (!es || !ep) {
		g->full++;
		if (!gcra(g->agg_tat[c], now, &p->aggregate[c], &ta))
			return SN_DROP_GUARD_AGGREGATE;
		g->agg_tat[c] = ta;
	}
	if (es)
		es->tat[c] = ts;
	if (ep)
		ep->tat[c] = tp;
	return SN_DROP_MAX;
}

void sn_guard_tick(struct sn_guard *g, const struct sn_guard_params *p, uint64_t now)
{
	if (now < g->report_end)
		return;
	if (g->report_end && g->interval_drops) {
		/* most drops first: insertion sort of at most SN_GUARD_MAX_TOPK */
		for (uint16_t i = 1; i < g->n_top; i++) {
			struct sn_guard_report_entry e = g->top[i];
			uint16_t j = i;
			while (j > 0 && g->top[j - 1].drops < e.drops) {
				g->top[j] = g->top[j - 1];
				j--;
			}
			g->top[j] = e;
		}
		__atomic_store_n(&g->pub_seq, g->pub_seq + 1, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_RELEASE);
		memcpy(g->pub, g->top, g->n_top * sizeof(g->top[0]));
		g->pub_n = g->n_top;
		g->pub_drops = g->interval_drops;
		g->pub_end = now;
		__atomic_store_n(&g->pub_seq, g->pub_seq + 1, __ATOMIC_RELEASE);
		g->reports++;
	}
	g->n_top = 0;
	g->interval_drops = 0;
	g->report_end = now + p->report_tsc;
}

uint16_t sn_guard_collect(const struct sn_guard *g, uint32_t *seen,
			  struct sn_guard_report_entry *out, uint64_t *drops)
{
	uint32_t s1 = __atomic_load_n(&g->pub_seq, __ATOMIC_ACQUIRE);
	if ((s1 & 1) || s1 == *seen)
		return 0;
	uint16_t n = g->pub_n;
	if (n > SN_GUARD_MAX_TOPK)
		return 0;
	memcpy(out, g->pub, n * sizeof(out[0]));
	*drops = g->pub_drops;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (__atomic_load_n(&g->pub_seq, __ATOMIC_RELAXED) != s1)
		return 0;
	*seen = s1;
	return n;
}

/* --- ban / suspect table --- */

int sn_guard_bans_init(struct sn_guard_bans *b, uint32_t cap)
{
	memset(b, 0, sizeof(*b));
	b->list = calloc(cap, sizeof(*b->list));
	b->cap = cap;
	b->dirty = true;
	if (!b->list) {
		SN_ERR("sn_guard_bans_init: no memory for %u bans", cap);
		return -ENOMEM;
	}
	return sn_guard_bans_publish(b, NULL);
}

void sn_guard_bans_fini(struct sn_guard_bans *b)
{
	free(b->current);
	free(b->list);
	memset(b, 0, sizeof(*b));
}

static uint64_t ban_hash(uint8_t family, uint8_t plen, const uint8_t addr[16])
{
	return mix(load64(addr), load64(addr + 8) ^ ((uint64_t)family << 8 | plen), BAN_HASH_SEED);
}

static struct sn_guard_ban *list_find(struct sn_guard_bans *b, uint8_t family, uint8_t plen,
				      const uint8_t addr[16])
{
	for (uint32_t i = 0; i < b->n; i++)
		if (b->list[i].family == family && b->list[i].plen == plen &&
		    memcmp(b->list[i].addr, addr, 16) == 0)
			return &b->list[i];
	return NULL;
}

int sn_guard_bans_apply(struct sn_guard_bans *b, uint8_t op, const struct sn_guard_key *key,
			const struct sn_guard_value *val, uint64_t now_ns, uint64_t now_tsc,
			uint64_t hz)
{
	if (op == SN_TABLE_OP_CLEAR) {
		b->n = 0;
		b->dirty = true;
		return 0;
	}
	if (!key || (key->family != AF_INET && key->family != AF_INET6) || key->pad ||
	    key->prefix_len == 0 || key->prefix_len > max_plen(key->family) ||
	    !host_bits_zero(key->addr, key->family, key->prefix_len))
		return -EINVAL;
	struct sn_guard_ban *e = list_find(b, key->family, key->prefix_len, key->addr);
	if (op == SN_TABLE_OP_DEL) {
		if (!e)
			return -ENOENT;
		*e = b->list[--b->n];
		b->dirty = true;
		return 0;
	}
	if (op != SN_TABLE_OP_ADD || !val ||
	    (val->action != SN_GUARD_BAN && val->action != SN_GUARD_SUSPECT))
		return -EINVAL;
	for (unsigned i = 0; i < sizeof(val->pad); i++)
		if (val->pad[i])
			return -EINVAL;
	if (!e) {
		if (b->n == b->cap) {
			/* make room from entries control let expire without deleting them */
			for (uint32_t i = 0; i < b->n;)
				if (b->list[i].expires_tsc <= now_tsc)
					b->list[i] = b->list[--b->n];
				else
					i++;
		}
		if (b->n == b->cap)
			return -ENOSPC;
		e = &b->list[b->n++];
		memset(e, 0, sizeof(*e));
		e->family = key->family;
		e->plen = key->prefix_len;
		memcpy(e->addr, key->addr, 16);
	}
	e->action = val->action;
	e->expires_ns = val->expires_ns;
	if (val->expires_ns <= now_ns) {
		e->expires_tsc = now_tsc;
	} else {
		unsigned __int128 d = (unsigned __int128)(val->expires_ns - now_ns) * hz;
		uint64_t cycles = (uint64_t)(d / 1000000000u);
		e->expires_tsc = cycles > UINT64_MAX - now_tsc ? UINT64_MAX : now_tsc + cycles;
	}
	b->dirty = true;
	return 0;
}

static void ban_insert(struct sn_guard_ban_snap *s, const struct sn_guard_ban *e)
{
	uint32_t i = (uint32_t)ban_hash(e->family, e->plen, e->addr) & s->mask;
	while (s->slot[i].family)
		i = (i + 1) & s->mask;
	s->slot[i] = *e;
}

int sn_guard_bans_publish(struct sn_guard_bans *b, struct sn_rcu_writer *w)
{
	uint32_t slots = 16;

	if (!b->dirty)
		return 0;
	while (slots < 2 * b->n)
		slots <<= 1;
	struct sn_guard_ban_snap *s = calloc(1, sizeof(*s) + slots * sizeof(s->slot[0]));
	if (!s) {
		SN_ERR("sn_guard_bans_publish: no memory for %u slots", slots);
		return -ENOMEM;
	}
	s->mask = slots - 1;
	s->entries = b->n;
	for (uint32_t i = 0; i < b->n; i++) {
		const struct sn_guard_ban *e = &b->list[i];
		int fi = e->family == AF_INET6;
		uint8_t k = 0;
		ban_insert(s, e);
		while (k < s->n_lens[fi] && s->lens[fi][k] > e->plen)
			k++;
		if (k < s->n_lens[fi] && s->lens[fi][k] == e->plen)
			continue;
		memmove(&s->lens[fi][k + 1], &s->lens[fi][k], s->n_lens[fi] - k);
		s->lens[fi][k] = e->plen;
		s->n_lens[fi]++;
	}
	struct sn_guard_ban_snap *old = b->current;
	rcu_assign_pointer(b->current, s);
	if (w)
		sn_rcu_retire(w, old, free);
	else
		free(old);
	b->dirty = false;
	return 0;
}

const struct sn_guard_ban *sn_guard_ban_lookup(const struct sn_guard_ban_snap *s, uint8_t family,
					       const uint8_t *addr, uint64_t now)
{
	const struct sn_guard_ban *best = NULL;
	int fi = family == AF_INET6;
	uint8_t key[16];

	for (uint8_t k = 0; k < s->n_lens[fi]; k++) {
		uint8_t plen = s->lens[fi][k];
		mask_prefix(key, addr, family, plen);
		uint32_t i = (uint32_t)ban_hash(family, plen, key) & s->mask;
		for (; s->slot[i].family; i = (i + 1) & s->mask) {
			const struct sn_guard_ban *e = &s->slot[i];
			if (e->family != family || e->plen != plen || memcmp(e->addr, key, 16) != 0)
				continue;
			if (e->expires_tsc > now) {
				if (e->action == SN_GUARD_BAN)
					return e;
				best = e;
			}
			break;
		}
	}
	return best;
}
