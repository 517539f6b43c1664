/* routing.c: see routing.h. */
#include "routing.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int sn_rt_init(struct sn_rt *rt, int family, const struct sn_node_id *self)
{
	if (sn_rt_family_index(family) < 0)
		return -EINVAL;
	memset(rt, 0, sizeof(*rt));
	rt->family = family;
	rt->self = *self;
	rt->n_buckets = 1;
	return 0;
}

bool sn_rt_addr_martian(const struct sn_node_addr *addr)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t zero[16];
	const uint8_t *a = addr->addr;

	if (addr->port == 0)
		return true;
	switch (addr->family) {
	case AF_INET:
		return a[0] == 0 || (a[0] & 0xe0) == 0xe0;
	case AF_INET6:
		return a[0] == 0xff || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) ||
		       memcmp(a, zero, 16) == 0 || memcmp(a, v4mapped, 12) == 0;
	default:
		return true;
	}
}

bool sn_rt_node_expired(const struct sn_rt_node *n)
{
	return n->failed >= SN_RT_MAX_FAILS;
}

/* t is recent when it happened at most window before now (or after now: clocks differ). */
static bool recent(uint64_t t, uint64_t now, uint64_t window)
{
	return t != 0 && (now <= t || now - t <= window);
}

bool sn_rt_node_good(const struct sn_rt_node *n, uint64_t now_ns)
{
	return !sn_rt_node_expired(n) && recent(n->last_reply_ns, now_ns, SN_RT_GOOD_REPLY_NS) &&
	       recent(n->last_seen_ns, now_ns, SN_RT_GOOD_SEEN_NS);
}

unsigned sn_rt_bucket_index(const struct sn_rt *rt, const struct sn_node_id *id)
{
	unsigned lo = 0, hi = rt->n_buckets;

	/* last bucket whose first id is <= id; bucket 0 starts at zero */
	while (hi - lo > 1) {
		unsigned mid = lo + (hi - lo) / 2;

		if (sn_node_id_cmp(&rt->buckets[mid].first, id) <= 0)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static bool bucket_contains(const struct sn_rt_bucket *b, const struct sn_node_id *id)
{
	return sn_node_id_common_bits(&b->first, id) >= b->depth;
}

static struct sn_rt_node *bucket_find(struct sn_rt_bucket *b, const struct sn_node_id *id)
{
	for (unsigned i = 0; i < b->count; i++)
		if (sn_node_id_eq(&b->nodes[i].id, id))
			return &b->nodes[i];
	return NULL;
}

const struct sn_rt_node *sn_rt_find(const struct sn_rt *rt, const struct sn_node_id *id)
{
	/* bucket_find serves the writer too; nothing is written through this pointer */
	struct sn_rt *w = (struct sn_rt *)rt;

	return bucket_find(&w->buckets[sn_rt_bucket_index(rt, id)], id);
}

static void touch(struct sn_rt_node *n, struct sn_rt_bucket *b, const struct sn_node_addr *addr,
		  enum sn_rt_event ev, uint64_t now)
{
	/* Only the node itself may move its entry: a third party listing another address
	 * for a known id must not redirect traffic. */
	if (ev == SN_RT_LEARNED)
		return;
	n->addr = *addr;
	n->last_seen_ns = now;
	if (ev == SN_RT_REPLIED) {
		n->last_reply_ns = now;
		n->failed = 0;
		b->changed_ns = now;
	}
}

/* Splits bucket i at its next prefix bit; nodes and the cached one follow their ids. */
static void split(struct sn_rt *rt, unsigned i)
{
	struct sn_rt_bucket *b = &rt->buckets[i], *nb = &rt->buckets[i + 1];
	unsigned d = b->depth, keep = 0;
	struct sn_rt_node moved[SN_RT_K];
	unsigned n_moved = 0;

	memmove(nb, b, (rt->n_buckets - i) * sizeof(*b));
	rt->n_buckets++;
	b->depth = (uint8_t)(d + 1);
	memset(nb, 0, sizeof(*nb));
	nb->first = b->first;
	nb->first.b[d / 8] |= (uint8_t)(0x80 >> (d % 8));
	nb->depth = (uint8_t)(d + 1);
	nb->changed_ns = b->changed_ns;
	for (unsigned j = 0; j < b->count; j++) {
		if (sn_node_id_bit(&b->nodes[j].id, d))
			moved[n_moved++] = b->nodes[j];
		else
			b->nodes[keep++] = b->nodes[j];
	}
	b->count = (uint8_t)keep;
	memcpy(nb->nodes, moved, n_moved * sizeof(moved[0]));
	nb->count = (uint8_t)n_moved;
	if (b->has_cached && sn_node_id_bit(&b->cached.id, d)) {
		nb->cached = b->cached;
		nb->has_cached = true;
		b->has_cached = false;
	}
}

int sn_rt_update(struct sn_rt *rt, const struct sn_node_id *id, const struct sn_node_addr *addr,
		 enum sn_rt_event ev, uint64_t now_ns, struct sn_rt_node *ping_out, bool *has_ping)
{
	struct sn_rt_node node, *n, *dubious;
	struct sn_rt_bucket *b;
	unsigned i;

	if (has_ping)
		*has_ping = false;
	if (addr->family != rt->family || sn_node_id_is_zero(id))
		return -EINVAL;
	if (sn_rt_addr_martian(addr))
		return -EADDRNOTAVAIL;
	if (sn_node_id_eq(id, &rt->self))
		return SN_RT_SELF;

	memset(&node, 0, sizeof(node));
	node.id = *id;
	node.addr = *addr;
	if (ev != SN_RT_LEARNED)
		node.last_seen_ns = now_ns;
	if (ev == SN_RT_REPLIED)
		node.last_reply_ns = now_ns;

	for (;;) {
		i = sn_rt_bucket_index(rt, id);
		b = &rt->buckets[i];
		n = bucket_find(b, id);
		if (n) {
			touch(n, b, addr, ev, now_ns);
			return SN_RT_UPDATED;
		}
		if (ev == SN_RT_REPLIED)
			b->changed_ns = now_ns;
		if (b->count < SN_RT_K) {
			b->nodes[b->count++] = node;
			rt->n_nodes++;
			return SN_RT_ADDED;
		}
		for (unsigned j = 0; j < b->count; j++) {
			if (sn_rt_node_expired(&b->nodes[j])) {
				b->nodes[j] = node;
				return SN_RT_REPLACED;
			}
		}
		dubious = NULL;
		for (unsigned j = 0; j < b->count && !dubious; j++)
			if (!sn_rt_node_good(&b->nodes[j], now_ns))
				dubious = &b->nodes[j];
		if (bucket_contains(b, &rt->self) && (!dubious || rt->n_buckets == 1) &&
		    b->depth < SN_NODE_ID_BITS && rt->n_buckets < SN_RT_MAX_BUCKETS) {
			split(rt, i);
			continue;
		}
		if (dubious && ping_out) {
			*ping_out = *dubious;
			if (has_ping)
				*has_ping = true;
		}
		/* an unverified node must not push out a candidate we heard from */
		if (ev != SN_RT_LEARNED || !b->has_cached) {
			b->cached = node;
			b->has_cached = true;
		}
		return SN_RT_CACHED;
	}
}

int sn_rt_failed(struct sn_rt *rt, const struct sn_node_id *id)
{
	struct sn_rt_node *n = bucket_find(&rt->buckets[sn_rt_bucket_index(rt, id)], id);

	if (!n)
		return -ENOENT;
	if (n->failed < UINT8_MAX)
		n->failed++;
	return n->failed;
}

int sn_rt_remove(struct sn_rt *rt, const struct sn_node_id *id)
{
	struct sn_rt_bucket *b = &rt->buckets[sn_rt_bucket_index(rt, id)];
	struct sn_rt_node *n = bucket_find(b, id);
	unsigned j;

	if (!n)
		return -ENOENT;
	j = (unsigned)(n - b->nodes);
	memmove(&b->nodes[j], &b->nodes[j + 1], (b->count - j - 1) * sizeof(*n));
	b->count--;
	rt->n_nodes--;
	if (b->has_cached) {
		b->nodes[b->count++] = b->cached;
		b->has_cached = false;
		rt->n_nodes++;
	}
	return 0;
}

void sn_rt_random_id(const struct sn_rt *rt, unsigned i, const struct sn_node_id *random,
		     struct sn_node_id *out)
{
	const struct sn_rt_bucket *b = &rt->buckets[i < rt->n_buckets ? i : 0];
	unsigned d = b->depth;

	for (unsigned j = 0; j < SN_NODE_ID_LEN; j++) {
		uint8_t keep;

		if (8 * (j + 1) <= d)
			keep = 0xff;
		else if (8 * j >= d)
			keep = 0;
		else
			keep = (uint8_t)(0xff00 >> (d - 8 * j));
		out->b[j] = (uint8_t)((b->first.b[j] & keep) | (random->b[j] & ~keep));
	}
}

unsigned sn_rt_good_count(const struct sn_rt *rt, uint64_t now_ns)
{
	unsigned n = 0;

	for (unsigned i = 0; i < rt->n_buckets; i++)
		for (unsigned j = 0; j < rt->buckets[i].count; j++)
			n += sn_rt_node_good(&rt->buckets[i].nodes[j], now_ns);
	return n;
}

/* --- snapshot --- */

unsigned sn_rt_compact_len(int family)
{
	switch (family) {
	case AF_INET:
		return SN_RT_COMPACT4_LEN;
	case AF_INET6:
		return SN_RT_COMPACT6_LEN;
	default:
		return 0;
	}
}

/* Bits of the prefix index for n entries: about one entry per prefix, so a search starts
 * at a run of a few entries; capped so the index stays at most 16 KiB per family. */
#define SN_RT_PREFIX_BITS_MAX 12

static unsigned prefix_bits(size_t n)
{
	unsigned b = 0;

	while (b < SN_RT_PREFIX_BITS_MAX && ((size_t)2 << b) <= n)
		b++;
	return b;
}

static size_t prefix_len(unsigned bits)
{
	return bits ? ((size_t)1 << bits) + 1 : 0;
}

static struct sn_rt_snapshot *snap_alloc(size_t n4, size_t n6, uint64_t now, uint64_t gen)
{
	/* sized for the counts before repeated ids are dropped: never fewer bits than needed */
	size_t idx4 = prefix_len(prefix_bits(n4)), idx6 = prefix_len(prefix_bits(n6));
	size_t idx_bytes = (idx4 + idx6) * sizeof(uint32_t);
	struct sn_rt_snapshot *s;

	s = malloc(sizeof(*s) + idx_bytes + n4 * SN_RT_COMPACT4_LEN + n6 * SN_RT_COMPACT6_LEN);
	if (!s)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->generation = gen;
	s->built_ns = now;
	/* data[] follows 8-byte fields, so the uint32_t index at its start is aligned */
	s->prefix_start[0] = idx4 ? (const uint32_t *)(void *)s->data : NULL;
	s->prefix_start[1] = idx6 ? (const uint32_t *)(void *)s->data + idx4 : NULL;
	s->entries[0] = s->data + idx_bytes;
	s->entries[1] = s->entries[0] + n4 * SN_RT_COMPACT4_LEN;
	return s;
}

static void snap_append(struct sn_rt_snapshot *s, const struct sn_rt_node *n)
{
	int fi = sn_rt_family_index(n->addr.family);
	unsigned len = sn_rt_compact_len(n->addr.family);
	uint8_t *e;

	if (fi < 0)
		return;
	e = (uint8_t *)s->entries[fi] + (size_t)s->count[fi] * len;
	memcpy(e, n->id.b, SN_NODE_ID_LEN);
	memcpy(e + SN_NODE_ID_LEN, n->addr.addr, len - SN_NODE_ID_LEN - 2);
	memcpy(e + len - 2, &n->addr.port, 2);
	s->count[fi]++;
}

static int cmp_entry(const void *a, const void *b)
{
	return memcmp(a, b, SN_NODE_ID_LEN);
}

/* Fills prefix_start[fi] for the final (sorted, deduplicated) entries. */
static void build_prefix_index(struct sn_rt_snapshot *s, int fi)
{
	unsigned len = fi == 0 ? SN_RT_COMPACT4_LEN : SN_RT_COMPACT6_LEN;
	unsigned bits = prefix_bits(s->count[fi]);
	uint32_t *idx = (uint32_t *)(uintptr_t)s->prefix_start[fi];
	uint32_t i = 0;

	/* fewer entries than allocated for: fewer bits, the smaller index fits */
	if (bits == 0 || !idx) {
		s->prefix_bits[fi] = 0;
		return;
	}
	s->prefix_bits[fi] = (uint8_t)bits;
	for (uint32_t p = 0; p < (1u << bits); p++) {
		while (i < s->count[fi]) {
			const uint8_t *e = s->entries[fi] + (size_t)i * len;

			if (((unsigned)e[0] << 8 | e[1]) >> (16 - bits) >= p)
				break;
			i++;
		}
		idx[p] = i;
	}
	idx[1u << bits] = s->count[fi];
}

/* Sorts each family's entries by id and drops repeated ids. */
static void snap_finish(struct sn_rt_snapshot *s)
{
	for (int fi = 0; fi < 2; fi++) {
		unsigned len = fi == 0 ? SN_RT_COMPACT4_LEN : SN_RT_COMPACT6_LEN;
		uint8_t *e = (uint8_t *)s->entries[fi];
		uint32_t out = 0;

		if (s->count[fi] == 0)
			continue;
		qsort(e, s->count[fi], len, cmp_entry);
		for (uint32_t i = 0; i < s->count[fi]; i++) {
			if (out > 0 && memcmp(e + (size_t)(out - 1) * len, e + (size_t)i * len,
					      SN_NODE_ID_LEN) == 0)
				continue;
			if (out != i)
				memcpy(e + (size_t)out * len, e + (size_t)i * len, len);
			out++;
		}
		s->count[fi] = out;
		build_prefix_index(s, fi);
	}
}

struct sn_rt_snapshot *sn_rt_snapshot_from_nodes(const struct sn_rt_node *nodes, size_t n,
						 uint64_t now_ns, uint64_t generation)
{
	size_t cnt[2] = {0, 0};
	struct sn_rt_snapshot *s;

	for (size_t i = 0; i < n; i++) {
		int fi = sn_rt_family_index(nodes[i].addr.family);

		if (fi >= 0)
			cnt[fi]++;
	}
	if (cnt[0] > UINT32_MAX || cnt[1] > UINT32_MAX)
		return NULL;
	s = snap_alloc(cnt[0], cnt[1], now_ns, generation);
	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++)
		snap_append(s, &nodes[i]);
	snap_finish(s);
	return s;
}

struct sn_rt_snapshot *sn_rt_snapshot_build(const struct sn_rt *rt4, const struct sn_rt *rt6,
					    uint64_t now_ns, uint64_t generation)
{
	const struct sn_rt *tables[2] = {rt4, rt6};
	size_t cnt[2] = {0, 0};
	struct sn_rt_snapshot *s;

	for (int t = 0; t < 2; t++) {
		int fi = tables[t] ? sn_rt_family_index(tables[t]->family) : -1;

		if (fi >= 0)
			cnt[fi] += sn_rt_good_count(tables[t], now_ns);
	}
	s = snap_alloc(cnt[0], cnt[1], now_ns, generation);
	if (!s)
		return NULL;
	for (int t = 0; t < 2; t++) {
		const struct sn_rt *rt = tables[t];

		for (unsigned i = 0; rt && i < rt->n_buckets; i++)
			for (unsigned j = 0; j < rt->buckets[i].count; j++)
				if (sn_rt_node_good(&rt->buckets[i].nodes[j], now_ns))
					snap_append(s, &rt->buckets[i].nodes[j]);
	}
	snap_finish(s);
	return s;
}

void sn_rt_snapshot_free(struct sn_rt_snapshot *s)
{
	free(s);
}

/* The snapshot search compares ids a word at a time (inline, big-endian words compare as
 * the bytes do): the byte loops of node_id.c, called per step, were a third of a find. */
static inline uint64_t id_word(const struct sn_node_id *id, unsigned i)
{
	uint64_t v;

	memcpy(&v, id->b + 8 * i, 8);
	return be64toh(v);
}

static inline uint32_t id_tail(const struct sn_node_id *id)
{
	uint32_t v;

	memcpy(&v, id->b + 16, 4);
	return be32toh(v);
}

/* sn_node_id_common_bits */
static inline unsigned common_bits(const struct sn_node_id *a, const struct sn_node_id *b)
{
	for (unsigned i = 0; i < 2; i++) {
		uint64_t x = id_word(a, i) ^ id_word(b, i);

		if (x)
			return 64 * i + (unsigned)__builtin_clzll(x);
	}
	uint32_t x = id_tail(a) ^ id_tail(b);

	return x ? 128 + (unsigned)__builtin_clz(x) : SN_NODE_ID_BITS;
}

/* sn_node_id_xor_cmp: a's and b's distances to target, compared */
static inline int xor_cmp(const struct sn_node_id *target, const struct sn_node_id *a,
			  const struct sn_node_id *b)
{
	for (unsigned i = 0; i < 2; i++) {
		uint64_t t = id_word(target, i), xa = id_word(a, i) ^ t, xb = id_word(b, i) ^ t;

		if (xa != xb)
			return xa < xb ? -1 : 1;
	}
	uint32_t t = id_tail(target), xa = id_tail(a) ^ t, xb = id_tail(b) ^ t;

	return xa == xb ? 0 : xa < xb ? -1 : 1;
}

/* A run [lo, hi) of entries whose ids share their first `depth` bits. */
struct run {
	uint32_t lo, hi;
};

static const struct sn_node_id *entry_id(const uint8_t *base, unsigned len, uint32_t i)
{
	return (const struct sn_node_id *)(base + (size_t)i * len);
}

/* Appends the entries of a run (at most the room left) to out in XOR order. */
static unsigned emit_sorted(const uint8_t *base, unsigned len, struct run r,
			    const struct sn_node_id *target, const uint8_t **out, unsigned n)
{
	for (uint32_t i = r.lo; i < r.hi; i++) {
		const uint8_t *e = base + (size_t)i * len;
		unsigned j = n++;

		while (j > 0 && xor_cmp(target, (const struct sn_node_id *)e,
					(const struct sn_node_id *)out[j - 1]) < 0) {
			out[j] = out[j - 1];
			j--;
		}
		out[j] = e;
	}
	return n;
}

/* The old whole-table search, on one run: appends to out[n..k) the run's closest entries
 * in XOR order. Every entry of the run is farther from target than out[0..n). */
static unsigned closest_in_run(const uint8_t *base, unsigned len, struct run r,
			       const struct sn_node_id *target, unsigned k, const uint8_t **out,
			       unsigned n)
{
	/* Runs still to visit, nearest on top. Each push is at a deeper split bit than the
	 * one below it, so there are never more than 160. */
	struct run stack[SN_NODE_ID_BITS + 1];
	unsigned sp = 0;

	stack[sp++] = r;
	while (sp > 0 && n < k) {
		r = stack[--sp];
		while (r.hi - r.lo > k - n) {
			/* ids are unique and sorted: the first and the last differ, and every id
			 * between shares their common prefix, so the run splits at bit d into two
			 * non-empty halves: ids with bit d clear, then ids with bit d set */
			unsigned d =
			    common_bits(entry_id(base, len, r.lo), entry_id(base, len, r.hi - 1));
			uint32_t a = r.lo, b = r.hi;
			struct run zero, one;

			while (a < b) {
				uint32_t mid = a + (b - a) / 2;

				if (sn_node_id_bit(entry_id(base, len, mid), d))
					b = mid;
				else
					a = mid + 1;
			}
			zero = (struct run){r.lo, a};
			one = (struct run){a, r.hi};
			if (sn_node_id_bit(target, d)) {
				stack[sp++] = zero;
				r = one;
			} else {
				stack[sp++] = one;
				r = zero;
			}
		}
		n = emit_sorted(base, len, r, target, out, n);
	}
	return n;
}

unsigned sn_rt_closest_k(const struct sn_rt_snapshot *s, const struct sn_node_id *target,
			 int family, unsigned k, const uint8_t **out)
{
	int fi = sn_rt_family_index(family);
	unsigned len = sn_rt_compact_len(family), n = 0, bits, lvl;
	const uint32_t *idx;
	const uint8_t *base;
	uint32_t p = 0;
	struct run r;

	if (!s || fi < 0 || k == 0 || s->count[fi] == 0)
		return 0;
	base = s->entries[fi];
	bits = s->prefix_bits[fi];
	idx = s->prefix_start[fi];
	if (bits == 0) {
		r = (struct run){0, s->count[fi]};
	} else {
		p = (uint32_t)(id_word(target, 0) >> (64 - bits));
		r = (struct run){idx[p], idx[p + 1]};
	}
	/* Widen outward: the target's B-bit run, then the run differing first at bit B-1,
	 * then at bit B-2, ... bit 0. Each is strictly farther than all before it, so this
	 * visits entries in the same XOR order as splitting the whole table would. */
	for (lvl = bits;; lvl--) {
		if (r.lo < r.hi)
			n = closest_in_run(base, len, r, target, k, out, n);
		if (n >= k || lvl == 0)
			break;
		unsigned shift = bits - lvl;
		uint32_t q = ((p >> shift) ^ 1) << shift;

		r = (struct run){idx[q], idx[q + (1u << shift)]};
	}
	return n;
}
