/* test_routing.c: node ids, the k-bucket table's insertion rules, and closest-K answers
 * from snapshots checked against a brute-force oracle on random tables. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node_id.h"
#include "routing.h"

#define SEC 1000000000ull

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void rnd_id(struct sn_node_id *id)
{
	for (unsigned i = 0; i < SN_NODE_ID_LEN; i++)
		id->b[i] = (uint8_t)rnd();
}

static struct sn_node_id id_byte(uint8_t first)
{
	struct sn_node_id id;

	memset(&id, 0, sizeof(id));
	id.b[0] = first;
	id.b[19] = 1;
	return id;
}

static struct sn_node_addr addr4(uint32_t host, uint16_t port)
{
	struct sn_node_addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	a.port = htons(port);
	host = htonl(host);
	memcpy(a.addr, &host, 4);
	return a;
}

static struct sn_node_addr addr6(uint32_t n, uint16_t port)
{
	struct sn_node_addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET6;
	a.port = htons(port);
	a.addr[0] = 0x20;
	a.addr[1] = 0x01;
	a.addr[2] = 0x0d;
	a.addr[3] = 0xb8;
	memcpy(a.addr + 12, &n, 4);
	return a;
}

/* --- node ids --- */

Test(node_id, hex_round_trip)
{
	struct sn_node_id id, back;
	char hex[SN_NODE_ID_HEX_LEN + 1];

	for (int i = 0; i < 100; i++) {
		rnd_id(&id);
		sn_node_id_to_hex(&id, hex);
		cr_assert_eq(strlen(hex), 40);
		cr_assert_eq(sn_node_id_from_hex(hex, 40, &back), 0);
		cr_assert(sn_node_id_eq(&id, &back));
	}
	cr_assert_eq(sn_node_id_from_hex("1473FE55DB918ACC9AC1F96608B308D149B337D7", 40, &back), 0);
	sn_node_id_to_hex(&back, hex);
	cr_assert_str_eq(hex, "1473fe55db918acc9ac1f96608b308d149b337d7");
	cr_assert_eq(sn_node_id_from_hex(hex, 39, &back), -EINVAL);
	cr_assert_eq(sn_node_id_from_hex("1473fe55db918acc9ac1f96608b308d149b337dg", 40, &back),
		     -EINVAL);
	cr_assert_eq(sn_node_id_from_hex("1473fe55db918acc9ac1f96608b308d149b337d7aa", 42, &back),
		     -EINVAL);
}

/* The XOR distance of a and b to t compared as 160-bit numbers, byte by byte. */
static int xor_oracle(const struct sn_node_id *t, const struct sn_node_id *a,
		      const struct sn_node_id *b)
{
	struct sn_node_id da, db;

	sn_node_id_xor(t, a, &da);
	sn_node_id_xor(t, b, &db);
	return sn_node_id_cmp(&da, &db) < 0 ? -1 : sn_node_id_cmp(&da, &db) > 0 ? 1 : 0;
}

Test(node_id, xor_compare_and_prefix)
{
	struct sn_node_id t, a, b;

	for (int i = 0; i < 10000; i++) {
		unsigned bits;

		rnd_id(&t);
		rnd_id(&a);
		b = a;
		/* often ids that share a long prefix */
		if (i % 2)
			b.b[rnd() % 20] ^= (uint8_t)(1u << (rnd() % 8));
		else
			rnd_id(&b);
		cr_assert_eq(sn_node_id_xor_cmp(&t, &a, &b), xor_oracle(&t, &a, &b));
		cr_assert_eq(sn_node_id_xor_cmp(&t, &a, &a), 0);
		bits = sn_node_id_common_bits(&a, &b);
		for (unsigned k = 0; k < bits; k++)
			cr_assert_eq(sn_node_id_bit(&a, k), sn_node_id_bit(&b, k));
		if (bits < SN_NODE_ID_BITS)
			cr_assert_neq(sn_node_id_bit(&a, bits), sn_node_id_bit(&b, bits));
	}
	cr_assert_eq(sn_node_id_common_bits(&a, &a), 160);
	memset(&a, 0, sizeof(a));
	cr_assert(sn_node_id_is_zero(&a));
	a.b[19] = 1;
	cr_assert(!sn_node_id_is_zero(&a));
	cr_assert_eq(sn_node_id_bit(&a, 159), 1);
	cr_assert_eq(sn_node_id_bit(&a, 158), 0);
}

/* --- table --- */

Test(routing, martians)
{
	struct sn_node_addr a = addr4(0x7f000001, 4222);

	cr_assert(!sn_rt_addr_martian(&a)); /* loopback is fine, as in OpenDHT */
	a = addr4(0x7f000001, 0);
	cr_assert(sn_rt_addr_martian(&a));
	a = addr4(0x00000001, 4222);
	cr_assert(sn_rt_addr_martian(&a));
	a = addr4(0xe0000001, 4222);
	cr_assert(sn_rt_addr_martian(&a));
	a = addr4(0xdfffffff, 4222);
	cr_assert(!sn_rt_addr_martian(&a));
	a = addr6(1, 4222);
	cr_assert(!sn_rt_addr_martian(&a));
	a.addr[0] = 0xff;
	cr_assert(sn_rt_addr_martian(&a));
	a.addr[0] = 0xfe;
	a.addr[1] = 0x80;
	cr_assert(sn_rt_addr_martian(&a));
	memset(a.addr, 0, 16);
	cr_assert(sn_rt_addr_martian(&a));
	a.addr[10] = a.addr[11] = 0xff;
	a.addr[15] = 1;
	cr_assert(sn_rt_addr_martian(&a));
	a.family = AF_UNIX;
	cr_assert(sn_rt_addr_martian(&a));
}

/* Every node sits in the bucket that covers its id, buckets tile the id space in order. */
static void check_invariants(const struct sn_rt *rt)
{
	unsigned total = 0;

	cr_assert(sn_node_id_is_zero(&rt->buckets[0].first));
	for (unsigned i = 0; i < rt->n_buckets; i++) {
		const struct sn_rt_bucket *b = &rt->buckets[i];

		cr_assert_leq(b->count, SN_RT_K);
		for (unsigned j = b->depth; j < SN_NODE_ID_BITS; j++)
			cr_assert(!sn_node_id_bit(&b->first, j),
				  "bucket %u has bits past its depth", i);
		if (i + 1 < rt->n_buckets) {
			/* the next bucket starts where this one ends */
			struct sn_node_id end = b->first;
			int carry = 1;

			for (int k = b->depth - 1; k >= 0 && carry; k--) {
				unsigned byte = (unsigned)k / 8, bit = 7 - (unsigned)k % 8;

				if (end.b[byte] & (1u << bit)) {
					end.b[byte] &= (uint8_t) ~(1u << bit);
				} else {
					end.b[byte] |= (uint8_t)(1u << bit);
					carry = 0;
				}
			}
			cr_assert(sn_node_id_eq(&end, &rt->buckets[i + 1].first), "gap after %u",
				  i);
		}
		for (unsigned j = 0; j < b->count; j++) {
			cr_assert_eq(sn_rt_bucket_index(rt, &b->nodes[j].id), i);
			cr_assert_geq(sn_node_id_common_bits(&b->first, &b->nodes[j].id), b->depth);
		}
		total += b->count;
	}
	cr_assert_eq(total, rt->n_nodes);
}

Test(routing, rejects_bad_input)
{
	static struct sn_rt rt;
	struct sn_node_id self = id_byte(0x80), zero;
	struct sn_node_addr a4 = addr4(0x0a000001, 4222), a6 = addr6(1, 4222);

	memset(&zero, 0, sizeof(zero));
	cr_assert_eq(sn_rt_init(&rt, AF_UNIX, &self), -EINVAL);
	cr_assert_eq(sn_rt_init(&rt, AF_INET, &self), 0);
	cr_assert_eq(sn_rt_update(&rt, &zero, &a4, SN_RT_HEARD, SEC, NULL, NULL), -EINVAL);
	cr_assert_eq(sn_rt_update(&rt, &self, &a4, SN_RT_HEARD, SEC, NULL, NULL), SN_RT_SELF);
	cr_assert_eq(sn_rt_update(&rt, &zero, &a6, SN_RT_HEARD, SEC, NULL, NULL), -EINVAL);
	a4.port = 0;
	cr_assert_eq(sn_rt_update(&rt, &self, &a6, SN_RT_HEARD, SEC, NULL, NULL), -EINVAL);
	self.b[0] = 1;
	cr_assert_eq(sn_rt_update(&rt, &self, &a4, SN_RT_HEARD, SEC, NULL, NULL), -EADDRNOTAVAIL);
	cr_assert_eq(rt.n_nodes, 0);
}

Test(routing, own_bucket_splits_others_cache)
{
	static struct sn_rt rt;
	struct sn_node_id self = id_byte(0x00), id;
	struct sn_rt_node ping;
	bool has_ping;
	uint64_t now = 1000 * SEC;
	int rc;

	cr_assert_eq(sn_rt_init(&rt, AF_INET, &self), 0);
	/* 8 good nodes in the far half (first bit 1) fill the only bucket */
	for (unsigned i = 0; i < SN_RT_K; i++) {
		struct sn_node_addr a = addr4(0x0a000001 + i, 4222);

		id = id_byte((uint8_t)(0x80 | i));
		cr_assert_eq(sn_rt_update(&rt, &id, &a, SN_RT_REPLIED, now, NULL, NULL),
			     SN_RT_ADDED);
	}
	cr_assert_eq(rt.n_buckets, 1);
	/* a ninth in the far half: the bucket holds our id, so it splits (bit 0) and the
	 * far bucket is still full and no longer ours: the node is cached */
	id = id_byte(0xc0);
	{
		struct sn_node_addr a = addr4(0x0a0000ff, 4222);

		rc = sn_rt_update(&rt, &id, &a, SN_RT_REPLIED, now, &ping, &has_ping);
	}
	cr_assert_eq(rc, SN_RT_CACHED);
	cr_assert(!has_ping); /* all nodes good: nothing to ping */
	cr_assert_eq(rt.n_buckets, 2);
	cr_assert(rt.buckets[1].has_cached);
	check_invariants(&rt);
	/* nodes near us go into our (now empty) half */
	for (unsigned i = 0; i < 20; i++) {
		struct sn_node_addr a = addr4(0x0b000001 + i, 4222);

		id = id_byte((uint8_t)(0x01 + i));
		rc = sn_rt_update(&rt, &id, &a, SN_RT_REPLIED, now, NULL, NULL);
		cr_assert(rc == SN_RT_ADDED || rc == SN_RT_CACHED);
		check_invariants(&rt);
	}
	cr_assert_gt(rt.n_buckets, 2);

	/* later, the far nodes are dubious (not heard for long): a newcomer is cached and we
	 * are told whom to ping */
	now += 11 * 60 * SEC;
	id = id_byte(0xc1);
	{
		struct sn_node_addr a = addr4(0x0a0000fe, 4222);

		rc = sn_rt_update(&rt, &id, &a, SN_RT_HEARD, now, &ping, &has_ping);
	}
	cr_assert_eq(rc, SN_RT_CACHED);
	cr_assert(has_ping);
	cr_assert_eq(ping.id.b[0] & 0x80, 0x80);

	/* a node that fails SN_RT_MAX_FAILS times is expired and gets replaced */
	id = rt.buckets[sn_rt_bucket_index(&rt, &ping.id)].nodes[0].id;
	for (int i = 1; i <= SN_RT_MAX_FAILS; i++)
		cr_assert_eq(sn_rt_failed(&rt, &id), i);
	{
		struct sn_node_id fresh = id_byte(0xc2);
		struct sn_node_addr a = addr4(0x0a0000fd, 4222);

		cr_assert_eq(sn_rt_update(&rt, &fresh, &a, SN_RT_REPLIED, now, NULL, NULL),
			     SN_RT_REPLACED);
		cr_assert_null(sn_rt_find(&rt, &id));
		cr_assert_not_null(sn_rt_find(&rt, &fresh));
	}
	check_invariants(&rt);
	cr_assert_eq(sn_rt_failed(&rt, &id), -ENOENT);
}

Test(routing, only_the_node_itself_moves_its_entry)
{
	static struct sn_rt rt;
	struct sn_node_id self = id_byte(0x00), id = id_byte(0x42);
	struct sn_node_addr a = addr4(0x0a000001, 4222), b = addr4(0x0a000002, 5000);
	const struct sn_rt_node *n;

	sn_rt_init(&rt, AF_INET, &self);
	cr_assert_eq(sn_rt_update(&rt, &id, &a, SN_RT_LEARNED, 5 * SEC, NULL, NULL), SN_RT_ADDED);
	n = sn_rt_find(&rt, &id);
	cr_assert_not_null(n);
	cr_assert_eq(n->last_seen_ns, 0);
	cr_assert(!sn_rt_node_good(n, 5 * SEC)); /* never replied */
	cr_assert_eq(sn_rt_update(&rt, &id, &b, SN_RT_LEARNED, 6 * SEC, NULL, NULL), SN_RT_UPDATED);
	cr_assert(memcmp(&n->addr, &a, sizeof(a)) == 0);
	cr_assert_eq(sn_rt_update(&rt, &id, &b, SN_RT_REPLIED, 7 * SEC, NULL, NULL), SN_RT_UPDATED);
	cr_assert(memcmp(&n->addr, &b, sizeof(b)) == 0);
	cr_assert(sn_rt_node_good(n, 7 * SEC));
	cr_assert(sn_rt_node_good(n, 7 * SEC + SN_RT_GOOD_SEEN_NS));
	cr_assert(!sn_rt_node_good(n, 7 * SEC + SN_RT_GOOD_SEEN_NS + 1));
}

Test(routing, remove_promotes_cached)
{
	static struct sn_rt rt;
	struct sn_node_id self = id_byte(0x00), id;
	struct sn_node_addr a;

	sn_rt_init(&rt, AF_INET, &self);
	for (unsigned i = 0; i < SN_RT_K + 1; i++) {
		id = id_byte((uint8_t)(0x80 + i));
		a = addr4(0x0a000001 + i, 4222);
		sn_rt_update(&rt, &id, &a, SN_RT_REPLIED, SEC, NULL, NULL);
	}
	/* split once; the ninth is cached in the far bucket */
	cr_assert_eq(rt.n_nodes, SN_RT_K);
	id = id_byte(0x80);
	cr_assert_eq(sn_rt_remove(&rt, &id), 0);
	cr_assert_eq(rt.n_nodes, SN_RT_K);
	id = id_byte(0x80 + SN_RT_K);
	cr_assert_not_null(sn_rt_find(&rt, &id));
	id = id_byte(0x80);
	cr_assert_eq(sn_rt_remove(&rt, &id), -ENOENT);
	check_invariants(&rt);
}

Test(routing, random_inserts_keep_invariants)
{
	static struct sn_rt rt;
	struct sn_node_id self, id, r;
	struct sn_rt_node ping;
	bool has_ping;

	rnd_id(&self);
	sn_rt_init(&rt, AF_INET6, &self);
	for (unsigned i = 0; i < 5000; i++) {
		struct sn_node_addr a = addr6(i + 1, 4222);
		int rc;

		enum sn_rt_event ev = (enum sn_rt_event)(rnd() % 3);

		rnd_id(&id);
		/* a third of them close to us and verified, to grow deep buckets (unverified
		 * nodes are dubious, and a bucket with dubious nodes does not split) */
		if (i % 3 == 0) {
			memcpy(id.b, self.b, 1 + rnd() % 4);
			ev = SN_RT_REPLIED;
		}
		rc = sn_rt_update(&rt, &id, &a, ev, 1000 * SEC, &ping, &has_ping);
		cr_assert_geq(rc, 0);
		/* the ping we were asked to send is answered half of the time */
		if (has_ping && rnd() % 2) {
			rc = sn_rt_update(&rt, &ping.id, &ping.addr, SN_RT_REPLIED, 1000 * SEC,
					  NULL, NULL);
			cr_assert_eq(rc, SN_RT_UPDATED);
		} else if (has_ping) {
			for (int f = 0; f < SN_RT_MAX_FAILS; f++)
				cr_assert_eq(sn_rt_failed(&rt, &ping.id), f + 1);
		}
	}
	check_invariants(&rt);
	cr_assert_gt(rt.n_buckets, 8);
	for (unsigned i = 0; i < rt.n_buckets; i++) {
		rnd_id(&r);
		sn_rt_random_id(&rt, i, &r, &id);
		cr_assert_eq(sn_rt_bucket_index(&rt, &id), i);
	}
}

/* --- snapshots and closest-K --- */

/* Brute force: sort every entry of the family by XOR distance and take k. */
static const struct sn_node_id *oracle_target;

static int oracle_cmp(const void *a, const void *b)
{
	return sn_node_id_xor_cmp(oracle_target, *(const struct sn_node_id *const *)a,
				  *(const struct sn_node_id *const *)b);
}

static unsigned oracle(const struct sn_rt_snapshot *s, const struct sn_node_id *target, int family,
		       unsigned k, const uint8_t **out)
{
	int fi = sn_rt_family_index(family);
	unsigned len = sn_rt_compact_len(family), n = s->count[fi];
	const uint8_t **all = malloc(sizeof(*all) * (n + 1));

	for (unsigned i = 0; i < n; i++)
		all[i] = s->entries[fi] + (size_t)i * len;
	oracle_target = target;
	qsort(all, n, sizeof(*all), oracle_cmp);
	if (n > k)
		n = k;
	memcpy(out, all, n * sizeof(*all));
	free(all);
	return n;
}

static void check_closest(const struct sn_rt_snapshot *s, int family, unsigned trials)
{
	const uint8_t *got[40], *want[40];
	int fi = sn_rt_family_index(family);
	unsigned len = sn_rt_compact_len(family);

	for (unsigned t = 0; t < trials; t++) {
		struct sn_node_id target;
		unsigned k = 1 + (unsigned)(rnd() % 20), n, m;

		rnd_id(&target);
		/* sometimes exactly an entry's id, or next to one */
		if (s->count[fi] && t % 4 == 0) {
			memcpy(target.b, s->entries[fi] + (rnd() % s->count[fi]) * len, 20);
			if (t % 8 == 0)
				target.b[19] ^= 1;
		}
		n = sn_rt_closest_k(s, &target, family, k, got);
		m = oracle(s, &target, family, k, want);
		cr_assert_eq(n, m, "count %u k %u", s->count[fi], k);
		for (unsigned i = 0; i < n; i++)
			cr_assert_eq(got[i], want[i], "entry %u of %u (count %u, k %u)", i, n,
				     s->count[fi], k);
	}
}

Test(routing, closest_k_equals_brute_force)
{
	static const unsigned sizes[] = {0, 1, 2, 3, 7, 8, 9, 16, 17, 100, 1000, 5000};
	struct sn_rt_node *nodes = calloc(10000, sizeof(*nodes));

	cr_assert_not_null(nodes);
	for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
		for (int clustered = 0; clustered < 2; clustered++) {
			unsigned n = sizes[si];
			struct sn_rt_snapshot *s;

			for (unsigned i = 0; i < 2 * n; i++) {
				rnd_id(&nodes[i].id);
				/* clustered ids share long prefixes: deep splits */
				if (clustered) {
					memset(nodes[i].id.b, 0x5a, 12);
					nodes[i].id.b[12] &= 0x0f;
				}
				nodes[i].addr =
				    i % 2 ? addr6(i, 4222) : addr4(0x0a000000 + i, 4222);
			}
			s = sn_rt_snapshot_from_nodes(nodes, 2 * n, SEC, 7);
			cr_assert_not_null(s);
			cr_assert_eq(s->generation, 7);
			cr_assert_leq(s->count[0], n);
			check_closest(s, AF_INET, 200);
			check_closest(s, AF_INET6, 200);
			sn_rt_snapshot_free(s);
		}
	}
	free(nodes);
}

/* The closest-K search as it was before the prefix index (commit before "overlay: start
 * closest-K at the target's prefix run"): splits the whole sorted table. The indexed search
 * must give exactly its answers. */
static uint64_t ref_word(const struct sn_node_id *id, unsigned i)
{
	uint64_t v;

	memcpy(&v, id->b + 8 * i, 8);
	return be64toh(v);
}

static uint32_t ref_tail(const struct sn_node_id *id)
{
	uint32_t v;

	memcpy(&v, id->b + 16, 4);
	return be32toh(v);
}

static unsigned ref_common_bits(const struct sn_node_id *a, const struct sn_node_id *b)
{
	for (unsigned i = 0; i < 2; i++) {
		uint64_t x = ref_word(a, i) ^ ref_word(b, i);

		if (x)
			return 64 * i + (unsigned)__builtin_clzll(x);
	}
	uint32_t x = ref_tail(a) ^ ref_tail(b);

	return x ? 128 + (unsigned)__builtin_clz(x) : SN_NODE_ID_BITS;
}

static int ref_xor_cmp(const struct sn_node_id *target, const struct sn_node_id *a,
		       const struct sn_node_id *b)
{
	for (unsigned i = 0; i < 2; i++) {
		uint64_t t = ref_word(target, i), xa = ref_word(a, i) ^ t, xb = ref_word(b, i) ^ t;

		if (xa != xb)
			return xa < xb ? -1 : 1;
	}
	uint32_t t = ref_tail(target), xa = ref_tail(a) ^ t, xb = ref_tail(b) ^ t;

	return xa == xb ? 0 : xa < xb ? -1 : 1;
}

struct ref_run {
	uint32_t lo, hi;
};

static const struct sn_node_id *ref_entry_id(const uint8_t *base, unsigned len, uint32_t i)
{
	return (const struct sn_node_id *)(base + (size_t)i * len);
}

static unsigned ref_emit_sorted(const uint8_t *base, unsigned len, struct ref_run r,
				const struct sn_node_id *target, const uint8_t **out, unsigned n)
{
	for (uint32_t i = r.lo; i < r.hi; i++) {
		const uint8_t *e = base + (size_t)i * len;
		unsigned j = n++;

		while (j > 0 && ref_xor_cmp(target, (const struct sn_node_id *)e,
					    (const struct sn_node_id *)out[j - 1]) < 0) {
			out[j] = out[j - 1];
			j--;
		}
		out[j] = e;
	}
	return n;
}

static unsigned ref_closest_k(const struct sn_rt_snapshot *s, const struct sn_node_id *target,
			      int family, unsigned k, const uint8_t **out)
{
	struct ref_run stack[SN_NODE_ID_BITS + 1];
	int fi = sn_rt_family_index(family);
	unsigned len = sn_rt_compact_len(family), sp = 0, n = 0;
	const uint8_t *base;

	if (!s || fi < 0 || k == 0 || s->count[fi] == 0)
		return 0;
	base = s->entries[fi];
	stack[sp++] = (struct ref_run){0, s->count[fi]};
	while (sp > 0 && n < k) {
		struct ref_run r = stack[--sp];

		while (r.hi - r.lo > k - n) {
			unsigned d = ref_common_bits(ref_entry_id(base, len, r.lo),
						     ref_entry_id(base, len, r.hi - 1));
			uint32_t a = r.lo, b = r.hi;
			struct ref_run zero, one;

			while (a < b) {
				uint32_t mid = a + (b - a) / 2;

				if (sn_node_id_bit(ref_entry_id(base, len, mid), d))
					b = mid;
				else
					a = mid + 1;
			}
			zero = (struct ref_run){r.lo, a};
			one = (struct ref_run){a, r.hi};
			if (sn_node_id_bit(target, d)) {
				stack[sp++] = zero;
				r = one;
			} else {
				stack[sp++] = one;
				r = zero;
			}
		}
		n = ref_emit_sorted(base, len, r, target, out, n);
	}
	return n;
}

/* Targets near the table's ids and far from them, k from 1 to past the table size. */
static void check_against_ref(const struct sn_rt_snapshot *s, int family, unsigned trials)
{
	const uint8_t *got[70], *want[70];
	int fi = sn_rt_family_index(family);
	unsigned len = sn_rt_compact_len(family), cnt = s->count[fi];

	for (unsigned t = 0; t < trials; t++) {
		struct sn_node_id target;
		unsigned k = t % 5 == 0 ? 64 : 1 + (unsigned)(rnd() % 20), n, m;

		rnd_id(&target);
		if (cnt && t % 3 == 0) {
			memcpy(target.b, s->entries[fi] + (rnd() % cnt) * len, 20);
			/* the entry itself, a neighbour, or one differing in a prefix bit */
			if (t % 6 == 3)
				target.b[19] ^= 1;
			else if (t % 9 == 0)
				target.b[rnd() % 2] ^= (uint8_t)(1u << (rnd() % 8));
		}
		n = sn_rt_closest_k(s, &target, family, k, got);
		m = ref_closest_k(s, &target, family, k, want);
		cr_assert_eq(n, m, "count %u k %u", cnt, k);
		for (unsigned i = 0; i < n; i++)
			cr_assert_eq(got[i], want[i], "entry %u of %u (count %u, k %u)", i, n, cnt,
				     k);
	}
}

Test(routing, closest_k_equals_unindexed_search)
{
	static const unsigned sizes[] = {0, 1, 2, 3, 7, 8, 9, 15, 16, 100, 4096, 4097, 8192};
	struct sn_rt_node *nodes = calloc(2 * 8192, sizeof(*nodes));

	cr_assert_not_null(nodes);
	for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
		/* 0: uniform; 1: long shared prefix; 2: all in one 12-bit prefix but not the
		 * rest; 3: a few tight clusters spread over the space; 4: half the ids repeated */
		for (int mode = 0; mode < 5; mode++) {
			unsigned n = sizes[si];
			struct sn_rt_snapshot *s;

			for (unsigned i = 0; i < 2 * n; i++) {
				rnd_id(&nodes[i].id);
				if (mode == 1) {
					memset(nodes[i].id.b, 0x5a, 12);
					nodes[i].id.b[12] &= 0x0f;
				} else if (mode == 2) {
					nodes[i].id.b[0] = 0xc3;
					nodes[i].id.b[1] =
					    (uint8_t)((nodes[i].id.b[1] & 0x0f) | 0x70);
				} else if (mode == 3) {
					memset(nodes[i].id.b, (uint8_t)(0x11 * (i % 5)), 6);
				} else if (mode == 4 && i >= 2 && i % 3 == 0) {
					nodes[i].id = nodes[i - 2].id;
				}
				nodes[i].addr =
				    i % 2 ? addr6(i, 4222) : addr4(0x0a000000 + i, 4222);
			}
			s = sn_rt_snapshot_from_nodes(nodes, 2 * n, SEC, 7);
			cr_assert_not_null(s);
			for (int fi = 0; fi < 2; fi++) {
				unsigned len = fi ? SN_RT_COMPACT6_LEN : SN_RT_COMPACT4_LEN;
				unsigned bits = s->prefix_bits[fi];

				cr_assert_leq(bits, 12);
				cr_assert(bits == 0 || (1u << bits) <= s->count[fi]);
				/* every entry lies in its prefix's run */
				for (uint32_t i = 0; bits && i < s->count[fi]; i++) {
					const uint8_t *e = s->entries[fi] + (size_t)i * len;
					unsigned p = ((unsigned)e[0] << 8 | e[1]) >> (16 - bits);

					cr_assert(s->prefix_start[fi][p] <= i &&
						  i < s->prefix_start[fi][p + 1]);
				}
			}
			check_against_ref(s, AF_INET, n > 1000 ? 400 : 200);
			check_against_ref(s, AF_INET6, n > 1000 ? 400 : 200);
			sn_rt_snapshot_free(s);
		}
	}
	free(nodes);
}

Test(routing, snapshot_entries_are_wire_format)
{
	struct sn_rt_node nodes[4];
	struct sn_rt_snapshot *s;
	const uint8_t *out[4];
	struct sn_node_id target;

	memset(nodes, 0, sizeof(nodes));
	nodes[0].id = id_byte(0x10);
	nodes[0].addr = addr4(0xc6120002, 4222);
	nodes[1].id = id_byte(0x20);
	nodes[1].addr = addr6(7, 4223);
	nodes[2].id = id_byte(0x10); /* repeated id: left out */
	nodes[2].addr = addr4(0xc6120003, 4222);
	nodes[3].id = id_byte(0x30);
	nodes[3].addr.family = AF_UNIX; /* other family: left out */
	s = sn_rt_snapshot_from_nodes(nodes, 4, SEC, 1);
	cr_assert_not_null(s);
	cr_assert_eq(s->count[0], 1);
	cr_assert_eq(s->count[1], 1);
	target = id_byte(0x11);
	cr_assert_eq(sn_rt_closest_k(s, &target, AF_INET, 8, out), 1);
	cr_assert(memcmp(out[0], nodes[0].id.b, 20) == 0);
	cr_assert(memcmp(out[0] + 20, "\xc6\x12\x00", 3) == 0);
	cr_assert_eq(out[0][25], 4222 & 0xff);
	cr_assert_eq(out[0][24], 4222 >> 8);
	cr_assert_eq(sn_rt_closest_k(s, &target, AF_INET6, 8, out), 1);
	cr_assert(memcmp(out[0] + 20, nodes[1].addr.addr, 16) == 0);
	cr_assert_eq(out[0][37], 4223 & 0xff);
	cr_assert_eq(sn_rt_closest_k(s, &target, AF_INET6, 0, out), 0);
	cr_assert_eq(sn_rt_closest_k(s, &target, AF_UNIX, 8, out), 0);
	cr_assert_eq(sn_rt_closest_k(NULL, &target, AF_INET, 8, out), 0);
	sn_rt_snapshot_free(s);
	sn_rt_snapshot_free(NULL);
}

Test(routing, snapshot_holds_only_good_nodes)
{
	static struct sn_rt rt4, rt6;
	struct sn_node_id self, id;
	struct sn_rt_snapshot *s;
	uint64_t now = 100000 * SEC;
	unsigned good4 = 0;

	rnd_id(&self);
	sn_rt_init(&rt4, AF_INET, &self);
	sn_rt_init(&rt6, AF_INET6, &self);
	for (unsigned i = 0; i < 300; i++) {
		struct sn_node_addr a4 = addr4(0x0a000001 + i, 4222), a6 = addr6(i + 1, 4222);
		enum sn_rt_event ev = i % 3 == 0 ? SN_RT_LEARNED : SN_RT_REPLIED;

		rnd_id(&id);
		if (sn_rt_update(&rt4, &id, &a4, ev, now - (i % 5) * 200 * SEC, NULL, NULL) ==
		    SN_RT_ADDED)
			good4 += ev == SN_RT_REPLIED && (i % 5) * 200 <= 600;
		rnd_id(&id);
		sn_rt_update(&rt6, &id, &a6, ev, now, NULL, NULL);
	}
	s = sn_rt_snapshot_build(&rt4, &rt6, now, 3);
	cr_assert_not_null(s);
	cr_assert_eq(s->count[0], sn_rt_good_count(&rt4, now));
	cr_assert_eq(s->count[0], good4);
	cr_assert_eq(s->count[1], sn_rt_good_count(&rt6, now));
	cr_assert_lt(s->count[0], rt4.n_nodes);
	for (unsigned i = 0; i < s->count[0]; i++) {
		const struct sn_rt_node *n =
		    sn_rt_find(&rt4, (const struct sn_node_id *)(s->entries[0] + 26 * i));

		cr_assert_not_null(n);
		cr_assert(sn_rt_node_good(n, now));
	}
	check_closest(s, AF_INET, 100);
	check_closest(s, AF_INET6, 100);
	sn_rt_snapshot_free(s);
	s = sn_rt_snapshot_build(NULL, &rt6, now, 4);
	cr_assert_eq(s->count[0], 0);
	sn_rt_snapshot_free(s);
}
