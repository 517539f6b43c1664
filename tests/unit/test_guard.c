/* test_guard.c: the dataplane guard (dataplane/guard.h) on plain timestamps: GCRA per
 * class, prefix limits, eviction under spoofed-source churn (bounded table, aggregate
 * bucket when full), bans and suspect marks with expiry, heavy-hitter reports. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "guard.h"

#define HZ 1000000000ull /* 1 tick = 1 ns */

static struct sn_guard_config base_cfg(void)
{
	struct sn_guard_config c;
	memset(&c, 0, sizeof(c));
	c.enabled = true;
	c.table_entries = 1024;
	for (int i = 0; i < 3; i++) {
		c.source_rate[i] = 100; /* interval 10 ms */
		c.source_burst[i] = 5;
		c.prefix_rate[i] = 1000000;
		c.prefix_burst[i] = 1000000;
	}
	c.aggregate_rate = 1000;
	c.aggregate_burst = 10;
	c.punt_rate = 1000;
	c.punt_burst = 10;
	c.report_ms = 1000;
	c.top_k = 8;
	c.suspect_factor = 5;
	c.max_bans = 64;
	return c;
}

static void v4(uint8_t out[16], const char *s)
{
	memset(out, 0, 16);
	cr_assert_eq(inet_pton(AF_INET, s, out), 1);
}

static void v6(uint8_t out[16], const char *s)
{
	cr_assert_eq(inet_pton(AF_INET6, s, out), 1);
}

Test(guard, entry_fits_in_a_cache_line)
{
	struct sn_guard g;
	cr_assert_leq(sizeof(struct sn_guard_entry), 64);
	cr_assert_eq(sn_guard_init(&g, 1000), 0);
	/* rounded up to a power of two; bytes = entries * sizeof(entry) */
	cr_assert_eq((g.set_mask + 1) * SN_GUARD_WAYS, 1024);
	cr_assert_eq(sn_guard_table_bytes(&g), 1024 * sizeof(struct sn_guard_entry));
	printf("guard: sizeof(entry) %zu, table bytes / capacity %llu\n",
	       sizeof(struct sn_guard_entry),
	       (unsigned long long)(sn_guard_table_bytes(&g) / 1024));
	sn_guard_fini(&g);
}

Test(guard, gcra_per_class)
{
	struct sn_guard_config c = base_cfg();
	struct sn_guard_params p;
	struct sn_guard g;
	uint8_t a[16];
	uint64_t t = 1000000;

	sn_guard_params_init(&p, &c, HZ);
	cr_assert_eq(sn_guard_init(&g, 64), 0);
	v4(a, "198.19.1.1");
	/* burst 5: six back-to-back packets conform (tolerance = 5 intervals), the 7th not */
	for (int i = 0; i < 6; i++)
		cr_assert_eq(sn_guard_check(&g, &p, NULL, AF_INET, a, SN_GUARD_DHT, t), SN_DROP_MAX,
			     "packet %d", i);
	cr_assert_eq(sn_guard_check(&g, &p, NULL, AF_INET, a, SN_GUARD_DHT, t),
		     SN_DROP_GUARD_SOURCE);
	/* other classes have their own buckets */
	cr_assert_eq(sn_guard_check(&g, &p, NULL, AF_INET, a, SN_GUARD_STUN, t), SN_DROP_MAX);
	cr_assert_eq(sn_guard_check(&g, &p, NULL, AF_INET, a, SN_GUARD_PUNT, t), SN_DROP_MAX);
	/* one interval later, one more DHT packet */
	t += HZ / 100;
	cr_assert_eq(sn_guard_check(&g, &p, NULL, AF_INET, a, SN_GUARD_DHT, t), SN_DROP_MAX);
	cr_assert_eq(sn_guard_check(&g, &p, NULL, AF_INET, a, SN_GUARD_DHT, t),
		     SN_DROP_GUARD_SOURCE);
	/* a steady 100 pps source is never dropped */
	for (int i = 0; i < 1000; i++) {
		t += HZ / 100;
		cr_assert_eq(sn_guard_check(&g, &p, NULL, AF_INET, a, SN_GUARD_DHT, t),
			     SN_DROP_MAX);
	}
	/* IPv6: the same address bytes of another family are another key */
	v6(a, "2001:db8:77::1");
	cr_assert_eq(sn_guard_check(&g, &p, NULL, AF_INET6, a, SN_GUARD_DHT, t), SN_DROP_MAX);
	sn_guard_fini(&g);
}

Test(guard, prefix_limit)
{
	struct sn_guard_config c = base_cfg();
	struct sn_guard_params p;
	struct sn_guard g;
	uint8_t a[16];
	char s[32];
	int drops = 0, other = 0;

	c.prefix_rate[SN_GUARD_STUN] = 10;
	c.prefix_burst[SN_GUARD_STUN] = 20;
	sn_guard_params_init(&p, &c, HZ);
	cr_assert_eq(sn_guard_init(&g, 1024), 0);
	/* 200 distinct sources of one /24, one packet each, in the same instant */
	for (int i = 0; i < 200; i++) {
		snprintf(s, sizeof(s), "198.19.7.%d", i);
		v4(a, s);
		unsigned r = sn_guard_check(&g, &p, NULL, AF_INET, a, SN_GUARD_STUN, 5);
		drops += r == SN_DROP_GUARD_PREFIX;
		other += r != SN_DROP_MAX && r != SN_DROP_GUARD_PREFIX;
	}
	cr_assert_eq(drops, 200 - 21);
	cr_assert_eq(other, 0);
	/* another /24 is untouched; so is a /64 neighbour in IPv6 */
	v4(a, "198.19.8.1");
	cr_assert_eq(sn_guard_check(&g, &p, NULL, AF_INET, a, SN_GUARD_STUN, 5), SN_DROP_MAX);
	sn_guard_fini(&g);
}

Test(guard, spoofed_churn_is_bounded)
{
	struct sn_guard_config c = base_cfg();
	struct sn_guard_params p;
	struct sn_guard g;
	uint8_t a[16], heavy[16], legit[16];
	uint64_t t = 1;
	unsigned legit_drops = 0, heavy_pass = 0, agg = 0;
	const uint32_t cap = 256;

	c.prefix_rate[SN_GUARD_DHT] = 1000000;
	c.aggregate_rate = 10000;
	c.aggregate_burst = 100;
	sn_guard_params_init(&p, &c, HZ);
	cr_assert_eq(sn_guard_init(&g, cap), 0);
	v4(heavy, "198.19.200.1");
	v4(legit, "198.18.0.2");
	/* 200,000 spoofed sources at 1 Mpps, a heavy source at 10x its rate, a legit one at
	 * half its rate: the table stays within capacity, the heavy source keeps its debt */
	for (uint32_t i = 0; i < 200000; i++) {
		t += 1000; /* 1 us */
		a[0] = 198;
		a[1] = 19;
		a[2] = (uint8_t)(i >> 8);
		a[3] = (uint8_t)i;
		memset(a + 4, 0, 12);
		if (i & 1)
			a[1] = 18, a[2] = (uint8_t)(100 + (i >> 16)); /* other prefixes too */
		unsigned r = sn_guard_check(&g, &p, NULL, AF_INET, a, SN_GUARD_DHT, t);
		agg += r == SN_DROP_GUARD_AGGREGATE;
		cr_assert_leq(g.entries, cap);
		if (i % 1000 == 0) /* 1000 pps: 10x */
			heavy_pass += sn_guard_check(&g, &p, NULL, AF_INET, heavy, SN_GUARD_DHT,
						     t) == SN_DROP_MAX;
		if (i % 20000 == 0) /* 50 pps */
			legit_drops += sn_guard_check(&g, &p, NULL, AF_INET, legit, SN_GUARD_DHT,
						      t) == SN_DROP_GUARD_SOURCE;
	}
	cr_assert_leq(g.entries, cap);
	cr_assert_gt(g.evictions, 1000, "idle spoofed entries are recycled");
	cr_assert_gt(g.full, 0, "a full set sends new sources to the aggregate bucket");
	cr_assert_gt(agg, 0);
	/* 200 ms at 100 pps + burst: about 26 of 200 heavy packets pass, never all */
	cr_assert_lt(heavy_pass, 60, "heavy source passed %u", heavy_pass);
	cr_assert_eq(legit_drops, 0);
	printf("guard churn: entries %u/%u evictions %llu full %llu aggregate drops %u heavy "
	       "passed %u/200\n",
	       g.entries, cap, (unsigned long long)g.evictions, (unsigned long long)g.full, agg,
	       heavy_pass);
	sn_guard_fini(&g);
}

static int ban(struct sn_guard_bans *b, uint8_t op, uint8_t family, const char *addr, uint8_t plen,
	       uint8_t action, uint64_t expires_ns, uint64_t now)
{
	struct sn_guard_key k = {.family = family, .prefix_len = plen};
	struct sn_guard_value v = {.action = action, .expires_ns = expires_ns};
	cr_assert_eq(inet_pton(family, addr, k.addr), 1);
	/* clock: ns == tsc in this test */
	return sn_guard_bans_apply(b, op, &k, &v, now, now, HZ);
}

Test(guard, bans_and_suspects)
{
	struct sn_guard_config c = base_cfg();
	struct sn_guard_params p;
	struct sn_guard_bans b;
	struct sn_guard g;
	uint8_t a[16];
	uint64_t now = 5 * HZ;

	sn_guard_params_init(&p, &c, HZ);
	cr_assert_eq(sn_guard_init(&g, 64), 0);
	cr_assert_eq(sn_guard_bans_init(&b, 4), 0);
	cr_assert_eq(
	    ban(&b, SN_TABLE_OP_ADD, AF_INET, "198.19.5.0", 24, SN_GUARD_BAN, now + HZ, now), 0);
	cr_assert_eq(ban(&b, SN_TABLE_OP_ADD, AF_INET, "198.19.6.9", 32, SN_GUARD_SUSPECT,
			 now + 10 * HZ, now),
		     0);
	cr_assert_eq(ban(&b, SN_TABLE_OP_ADD, AF_INET6, "2001:db8:66::", 48, SN_GUARD_BAN,
			 now + 10 * HZ, now),
		     0);
	/* host bits set, bad length, bad action */
	cr_assert_eq(ban(&b, SN_TABLE_OP_ADD, AF_INET, "198.19.5.1", 24, SN_GUARD_BAN, now, now),
		     -EINVAL);
	cr_assert_eq(ban(&b, SN_TABLE_OP_ADD, AF_INET, "198.19.5.0", 33, SN_GUARD_BAN, now, now),
		     -EINVAL);
	cr_assert_eq(ban(&b, SN_TABLE_OP_ADD, AF_INET, "198.19.5.0", 24, 9, now, now), -EINVAL);
	cr_assert_eq(sn_guard_bans_publish(&b, NULL), 0);
	const struct sn_guard_ban_snap *s = b.current;
	cr_assert_eq(s->entries, 3);

	v4(a, "198.19.5.77");
	cr_assert_eq(sn_guard_check(&g, &p, s, AF_INET, a, SN_GUARD_DHT, now),
		     SN_DROP_GUARD_BANNED);
	v6(a, "2001:db8:66:1::5");
	cr_assert_eq(sn_guard_check(&g, &p, s, AF_INET6, a, SN_GUARD_STUN, now),
		     SN_DROP_GUARD_BANNED);
	v6(a, "2001:db8:67::5");
	cr_assert_eq(sn_guard_check(&g, &p, s, AF_INET6, a, SN_GUARD_STUN, now), SN_DROP_MAX);
	/* suspect: 100/5 = 20 pps, burst 5/5 = 1: two packets, then dropped as suspect */
	v4(a, "198.19.6.9");
	cr_assert_eq(sn_guard_check(&g, &p, s, AF_INET, a, SN_GUARD_DHT, now), SN_DROP_MAX);
	cr_assert_eq(sn_guard_check(&g, &p, s, AF_INET, a, SN_GUARD_DHT, now), SN_DROP_MAX);
	cr_assert_eq(sn_guard_check(&g, &p, s, AF_INET, a, SN_GUARD_DHT, now),
		     SN_DROP_GUARD_SUSPECT);
	/* expiry: the /24 ban ends after 1 s */
	v4(a, "198.19.5.77");
	cr_assert_eq(sn_guard_check(&g, &p, s, AF_INET, a, SN_GUARD_DHT, now + 2 * HZ),
		     SN_DROP_MAX);
	/* full table: a new key only fits once expired entries can be dropped */
	cr_assert_eq(
	    ban(&b, SN_TABLE_OP_ADD, AF_INET, "198.19.9.0", 24, SN_GUARD_BAN, now + 3 * HZ, now),
	    0);
	cr_assert_eq(
	    ban(&b, SN_TABLE_OP_ADD, AF_INET, "198.19.10.0", 24, SN_GUARD_BAN, now + 3 * HZ, now),
	    -ENOSPC);
	cr_assert_eq(ban(&b, SN_TABLE_OP_ADD, AF_INET, "198.19.10.0", 24, SN_GUARD_BAN,
			 now + 3 * HZ, now + 2 * HZ),
		     0, "the expired /24 ban made room");
	/* DEL and CLEAR */
	cr_assert_eq(ban(&b, SN_TABLE_OP_DEL, AF_INET, "198.19.6.9", 32, 0, 0, now), 0);
	cr_assert_eq(ban(&b, SN_TABLE_OP_DEL, AF_INET, "198.19.6.9", 32, 0, 0, now), -ENOENT);
	cr_assert_eq(sn_guard_bans_publish(&b, NULL), 0);
	s = b.current;
	v4(a, "198.19.6.9");
	cr_assert_null(sn_guard_ban_lookup(s, AF_INET, a, now));
	cr_assert_eq(sn_guard_bans_apply(&b, SN_TABLE_OP_CLEAR, NULL, NULL, now, now, HZ), 0);
	cr_assert_eq(sn_guard_bans_publish(&b, NULL), 0);
	cr_assert_eq(b.current->entries, 0);
	sn_guard_bans_fini(&b);
	sn_guard_fini(&g);
}

Test(guard, heavy_hitter_report)
{
	struct sn_guard_config c = base_cfg();
	struct sn_guard_params p;
	struct sn_guard g;
	struct sn_guard_report_entry out[SN_GUARD_MAX_TOPK];
	uint8_t a[16];
	uint64_t drops = 0, t = 10;
	uint32_t seen = 0;

	c.top_k = 4;
	sn_guard_params_init(&p, &c, HZ);
	cr_assert_eq(sn_guard_init(&g, 1024), 0);
	sn_guard_tick(&g, &p, t); /* starts the first interval */
	v4(a, "198.19.0.9");
	for (int i = 0; i < 500; i++) /* 494 drops */
		sn_guard_check(&g, &p, NULL, AF_INET, a, SN_GUARD_DHT, t);
	for (int k = 0; k < 50; k++) { /* many small droppers churn the sketch */
		v4(a, "198.19.1.0");
		a[3] = (uint8_t)k;
		for (int i = 0; i < 10; i++)
			sn_guard_check(&g, &p, NULL, AF_INET, a, SN_GUARD_DHT, t);
	}
	cr_assert_eq(sn_guard_collect(&g, &seen, out, &drops), 0, "nothing published yet");
	sn_guard_tick(&g, &p, t + HZ);
	uint16_t n = sn_guard_collect(&g, &seen, out, &drops);
	cr_assert_eq(n, 4);
	cr_assert_eq(drops, 494 + 50 * 4);
	cr_assert_eq(out[0].family, AF_INET);
	cr_assert_eq(out[0].prefix_len, 32);
	cr_assert_eq(out[0].reason, SN_GUARD_RR_SOURCE);
	cr_assert_geq(out[0].drops, 494);
	v4(a, "198.19.0.9");
	cr_assert_eq(memcmp(out[0].addr, a, 16), 0);
	cr_assert_eq(sn_guard_collect(&g, &seen, out, &drops), 0, "read once");
	sn_guard_fini(&g);
}
