/* TURN tables (relay/turn_table.h): lookups by id, client 5-tuple and relayed address;
 * copy-on-write replacement of allocations, permissions and channels; the TABLE_CMD
 * semantics (ADD replaces, DEL removes, CLEAR empties; bounds); per-lcore traffic counters
 * with a baseline per allocation; memory per allocation; and an RCU stress test in which
 * reader threads look up allocations while the writer churns them (a torn read shows as an
 * object whose fields disagree, or change under the reader; a premature free as a
 * use-after-free under ASan, which the unit suite runs). */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "turn_table.h"

#define RELAY_MIN 49152
#define RELAY_MAX 65535
#define NS_S	  1000000000ull

static const struct sn_turn_port_addr ports[2] = {
    {.has_ipv4 = true,
     .has_ipv6 = true,
     .ipv4 = {198, 18, 0, 1},
     .ipv6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0x5e, [15] = 1}},
    {.has_ipv4 = true, .has_ipv6 = false, .ipv4 = {198, 18, 1, 1}},
};

static struct sn_turn_table_params params(uint32_t max_allocs)
{
	return (struct sn_turn_table_params){
	    .max_allocations = max_allocs,
	    .max_permissions = 4,
	    .max_channels = 4,
	    .relay_port_min = RELAY_MIN,
	    .relay_port_max = RELAY_MAX,
	    .n_ports = 2,
	    .ports = ports,
	    .n_lcores = 2,
	    .rfc5766_channels = false,
	    .seed = 0x5eed,
	};
}

static struct sn_turn_table T;

static void setup(void)
{
	struct sn_turn_table_params p = params(1024);
	cr_assert_eq(sn_turn_table_init(&T, &p), 0);
}

static void teardown(void)
{
	sn_turn_table_fini(&T);
}

/* IPv4 client 203.0.113.x:port talking to 198.18.0.1:3478 on port 0. */
static struct sn_turn_alloc_value v4_alloc(uint8_t host, uint16_t port, uint16_t relay4,
					   uint16_t relay6, uint64_t expires)
{
	struct sn_turn_alloc_value v;
	memset(&v, 0, sizeof(v));
	v.client.family = AF_INET;
	v.client.src_port = htons(port);
	v.client.dst_port = htons(3478);
	uint8_t src[4] = {203, 0, 113, host};
	memcpy(v.client.src, src, 4);
	memcpy(v.client.dst, ports[0].ipv4, 4);
	v.port_idx = 0;
	v.relay_port4 = relay4;
	v.relay_port6 = relay6;
	v.expires_ns = expires;
	return v;
}

static struct sn_turn_alloc_value v6_alloc(uint8_t host, uint16_t port, uint16_t relay6,
					   uint64_t expires)
{
	struct sn_turn_alloc_value v;
	memset(&v, 0, sizeof(v));
	v.client.family = AF_INET6;
	v.client.src_port = htons(port);
	v.client.dst_port = htons(3478);
	uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8, 0xc1, [15] = host};
	memcpy(v.client.src, src, 16);
	memcpy(v.client.dst, ports[0].ipv6, 16);
	v.relay_port6 = relay6;
	v.expires_ns = expires;
	return v;
}

static struct sn_turn_perm_key perm4(uint32_t id, uint8_t host)
{
	struct sn_turn_perm_key k = {.alloc_id = id, .family = AF_INET};
	uint8_t peer[4] = {192, 0, 2, host};
	memcpy(k.peer, peer, 4);
	return k;
}

static struct sn_turn_perm_key perm6(uint32_t id, uint8_t host)
{
	struct sn_turn_perm_key k = {.alloc_id = id, .family = AF_INET6};
	uint8_t peer[16] = {0x20, 0x01, 0x0d, 0xb8, 0xbe, 0xef, [15] = host};
	memcpy(k.peer, peer, 16);
	return k;
}

static struct sn_turn_channel_value chan4(uint8_t host, uint16_t port, uint64_t expires)
{
	struct sn_turn_channel_value v = {
	    .family = AF_INET, .peer_port = htons(port), .expires_ns = expires};
	uint8_t peer[4] = {192, 0, 2, host};
	memcpy(v.peer, peer, 4);
	return v;
}

static const struct sn_turn_alloc *by_client4(uint8_t host, uint16_t port)
{
	uint8_t ip[4] = {203, 0, 113, host};
	return sn_turn_lookup_client(&T, AF_INET, ip, htons(port), htons(3478));
}

TestSuite(turn_table, .init = setup, .fini = teardown);

Test(turn_table, init_refuses_bad_params)
{
	struct sn_turn_table t;
	struct sn_turn_table_params p = params(0);
	cr_expect_eq(sn_turn_table_init(&t, &p), -EINVAL);
	p = params(16);
	p.relay_port_min = 60000;
	p.relay_port_max = 50000;
	cr_expect_eq(sn_turn_table_init(&t, &p), -EINVAL);
	p = params(16);
	p.n_ports = SN_TURN_MAX_PORTS + 1;
	cr_expect_eq(sn_turn_table_init(&t, &p), -EINVAL);
	p = params(16);
	p.n_lcores = 0;
	cr_expect_eq(sn_turn_table_init(&t, &p), -EINVAL);
	cr_expect_eq(sn_turn_table_init(&t, NULL), -EINVAL);
}

Test(turn_table, lookups_by_id_client_and_relay)
{
	struct sn_turn_alloc_value v = v4_alloc(7, 40000, 50000, 50001, 100 * NS_S);
	cr_assert_eq(sn_turn_alloc_put(&T, 3, &v), 0);
	struct sn_turn_alloc_value w = v6_alloc(9, 40001, 50002, 200 * NS_S);
	cr_assert_eq(sn_turn_alloc_put(&T, 1023, &w), 0);
	cr_expect_eq(T.n_allocs, 2);

	const struct sn_turn_alloc *a = sn_turn_lookup_id(&T, 3);
	cr_assert_not_null(a);
	cr_expect_eq(a->id, 3);
	cr_expect_eq(a->expires_ns, 100 * NS_S);
	cr_expect_eq(by_client4(7, 40000), a);
	cr_expect_null(by_client4(7, 40001), "other client port");
	cr_expect_null(by_client4(8, 40000), "other client address");
	uint8_t ip[4] = {203, 0, 113, 7};
	cr_expect_null(sn_turn_lookup_client(&T, AF_INET, ip, htons(40000), htons(3479)),
		       "other server port");
	cr_expect_eq(sn_turn_lookup_relay(&T, 0, AF_INET, 50000), a);
	cr_expect_eq(sn_turn_lookup_relay(&T, 0, AF_INET6, 50001), a);
	cr_expect_null(sn_turn_lookup_relay(&T, 0, AF_INET6, 50000), "relay port is per family");
	cr_expect_null(sn_turn_lookup_relay(&T, 1, AF_INET, 50000), "relay port is per port");
	cr_expect_null(sn_turn_lookup_relay(&T, 0, AF_INET, 1000), "below the range");
	cr_expect_null(sn_turn_lookup_relay(&T, 7, AF_INET, 50000), "no such port");

	const struct sn_turn_alloc *b = sn_turn_lookup_id(&T, 1023);
	cr_assert_not_null(b);
	uint8_t ip6[16] = {0x20, 0x01, 0x0d, 0xb8, 0xc1, [15] = 9};
	cr_expect_eq(sn_turn_lookup_client(&T, AF_INET6, ip6, htons(40001), htons(3478)), b);
	cr_expect_eq(sn_turn_lookup_relay(&T, 0, AF_INET6, 50002), b);
	cr_expect_null(sn_turn_lookup_id(&T, 4));
	cr_expect_null(sn_turn_lookup_id(&T, 1024));
}

Test(turn_table, many_allocations_share_buckets)
{
	/* 1000 allocations in 1024 buckets: chains form; every one is found. */
	for (uint32_t i = 0; i < 1000; i++) {
		struct sn_turn_alloc_value v = v4_alloc((uint8_t)(i % 200), (uint16_t)(1024 + i),
							(uint16_t)(RELAY_MIN + i), 0, 1);
		cr_assert_eq(sn_turn_alloc_put(&T, i, &v), 0, "alloc %u", i);
	}
	for (uint32_t i = 0; i < 1000; i++) {
		const struct sn_turn_alloc *a =
		    by_client4((uint8_t)(i % 200), (uint16_t)(1024 + i));
		cr_assert_not_null(a, "alloc %u", i);
		cr_expect_eq(a->id, i);
		cr_expect_eq(sn_turn_lookup_relay(&T, 0, AF_INET, (uint16_t)(RELAY_MIN + i)), a);
	}
	/* Delete every other one: the rest of each chain stays reachable. */
	for (uint32_t i = 0; i < 1000; i += 2)
		cr_assert_eq(sn_turn_alloc_del(&T, i), 0);
	for (uint32_t i = 0; i < 1000; i++) {
		const struct sn_turn_alloc *a =
		    by_client4((uint8_t)(i % 200), (uint16_t)(1024 + i));
		if (i % 2)
			cr_expect(a && a->id == i, "alloc %u", i);
		else
			cr_expect_null(a, "alloc %u deleted", i);
	}
	cr_expect_eq(T.n_allocs, 500);
	cr_expect_eq(sn_turn_table_reclaim(&T), 500);
}

Test(turn_table, refused_values)
{
	struct sn_turn_alloc_value v = v4_alloc(1, 1000, 50000, 0, 1);
	cr_expect_eq(sn_turn_alloc_put(&T, 1024, &v), -EINVAL, "id >= max_allocations");
	cr_expect_eq(sn_turn_alloc_put(&T, UINT32_MAX, &v), -EINVAL);
	v.client.family = 7;
	cr_expect_eq(sn_turn_alloc_put(&T, 1, &v), -EINVAL, "family");
	v = v4_alloc(1, 1000, 50000, 0, 1);
	v.port_idx = 2;
	cr_expect_eq(sn_turn_alloc_put(&T, 1, &v), -EINVAL, "port_idx");
	v = v4_alloc(1, 1000, 1000, 0, 1);
	cr_expect_eq(sn_turn_alloc_put(&T, 1, &v), -EINVAL, "relay port below the range");
	v = v4_alloc(1, 1000, 0, 0, 1);
	cr_expect_eq(sn_turn_alloc_put(&T, 1, &v), -EINVAL, "no relay port");
	v = v4_alloc(1, 1000, 50000, 0, 1);
	v.flags = 1;
	cr_expect_eq(sn_turn_alloc_put(&T, 1, &v), -EINVAL, "flags");
	v = v4_alloc(1, 1000, 50000, 0, 1);
	v.client.dst[3] = 99;
	cr_expect_eq(sn_turn_alloc_put(&T, 1, &v), -EINVAL, "server address not the port's");
	v = v4_alloc(1, 1000, 50000, 50000, 1);
	v.port_idx = 1;
	memcpy(v.client.dst, ports[1].ipv4, 4);
	cr_expect_eq(sn_turn_alloc_put(&T, 1, &v), -EINVAL, "IPv6 relay on an IPv4-only port");
	v.relay_port6 = 0;
	cr_expect_eq(sn_turn_alloc_put(&T, 1, &v), 0, "IPv4 relay on port 1");
	cr_expect_eq(T.n_allocs, 1);
	cr_expect_null(T.retired, "refusals retire nothing");
}

Test(turn_table, conflicts)
{
	struct sn_turn_alloc_value v = v4_alloc(1, 1000, 50000, 50000, 1);
	cr_assert_eq(sn_turn_alloc_put(&T, 1, &v), 0);
	struct sn_turn_alloc_value same_client = v4_alloc(1, 1000, 50001, 0, 1);
	cr_expect_eq(sn_turn_alloc_put(&T, 2, &same_client), -EEXIST, "client 5-tuple taken");
	struct sn_turn_alloc_value same_relay4 = v4_alloc(2, 1000, 50000, 0, 1);
	cr_expect_eq(sn_turn_alloc_put(&T, 2, &same_relay4), -EEXIST, "IPv4 relay port taken");
	struct sn_turn_alloc_value same_relay6 = v6_alloc(2, 1000, 50000, 1);
	cr_expect_eq(sn_turn_alloc_put(&T, 2, &same_relay6), -EEXIST, "IPv6 relay port taken");
	struct sn_turn_alloc_value ok = v4_alloc(2, 1000, 50001, 0, 1);
	cr_expect_eq(sn_turn_alloc_put(&T, 2, &ok), 0);
	cr_expect_eq(T.n_allocs, 2);
}

Test(turn_table, replace_keeps_permissions_and_channels)
{
	struct sn_turn_alloc_value v = v4_alloc(1, 1000, 50000, 0, 10 * NS_S);
	cr_assert_eq(sn_turn_alloc_put(&T, 5, &v), 0);
	struct sn_turn_perm_key pk = perm4(5, 10);
	struct sn_turn_perm_value pv = {.expires_ns = 20 * NS_S};
	cr_assert_eq(sn_turn_perm_put(&T, &pk, &pv), 0);
	struct sn_turn_channel_key ck = {.alloc_id = 5, .channel = 0x4001};
	struct sn_turn_channel_value cv = chan4(10, 5000, 30 * NS_S);
	cr_assert_eq(sn_turn_chan_put(&T, &ck, &cv), 0);
	const struct sn_turn_alloc *before = sn_turn_lookup_id(&T, 5);

	/* Refresh: new expiry, same everything else. */
	v.expires_ns = 99 * NS_S;
	cr_assert_eq(sn_turn_alloc_put(&T, 5, &v), 0);
	const struct sn_turn_alloc *a = sn_turn_lookup_id(&T, 5);
	cr_assert_not_null(a);
	cr_expect_neq(a, before, "a new version");
	cr_expect_eq(a->expires_ns, 99 * NS_S);
	cr_expect_eq(a->n_perms, 1);
	cr_expect_eq(a->n_chans, 1);
	cr_expect_eq(by_client4(1, 1000), a);
	cr_expect_eq(sn_turn_lookup_relay(&T, 0, AF_INET, 50000), a);
	cr_expect_eq(T.n_allocs, 1);
	cr_expect_eq(T.n_perms, 1);
	cr_expect_eq(T.n_chans, 1);

	/* New client tuple and relay port: the old keys find nothing. */
	v = v4_alloc(2, 2000, 50005, 0, 99 * NS_S);
	cr_assert_eq(sn_turn_alloc_put(&T, 5, &v), 0);
	a = sn_turn_lookup_id(&T, 5);
	cr_expect_null(by_client4(1, 1000));
	cr_expect_eq(by_client4(2, 2000), a);
	cr_expect_null(sn_turn_lookup_relay(&T, 0, AF_INET, 50000));
	cr_expect_eq(sn_turn_lookup_relay(&T, 0, AF_INET, 50005), a);
	uint8_t peer[4] = {192, 0, 2, 10};
	cr_expect_not_null(sn_turn_perm_find(a, AF_INET, peer));
	cr_expect_not_null(sn_turn_chan_find(a, 0x4001));
	cr_expect_eq(sn_turn_table_reclaim(&T), 4, "four versions replaced");
}

Test(turn_table, delete_removes_permissions_and_channels)
{
	struct sn_turn_alloc_value v = v4_alloc(1, 1000, 50000, 50001, 1);
	cr_assert_eq(sn_turn_alloc_put(&T, 5, &v), 0);
	for (uint8_t i = 0; i < 3; i++) {
		struct sn_turn_perm_key pk = perm4(5, i);
		struct sn_turn_perm_value pv = {.expires_ns = 1};
		cr_assert_eq(sn_turn_perm_put(&T, &pk, &pv), 0);
		struct sn_turn_channel_key ck = {.alloc_id = 5, .channel = (uint16_t)(0x4000 + i)};
		struct sn_turn_channel_value cv = chan4(i, 5000, 1);
		cr_assert_eq(sn_turn_chan_put(&T, &ck, &cv), 0);
	}
	cr_expect_eq(T.n_perms, 3);
	cr_expect_eq(T.n_chans, 3);
	cr_assert_eq(sn_turn_alloc_del(&T, 5), 0);
	cr_expect_null(sn_turn_lookup_id(&T, 5));
	cr_expect_null(by_client4(1, 1000));
	cr_expect_null(sn_turn_lookup_relay(&T, 0, AF_INET, 50000));
	cr_expect_null(sn_turn_lookup_relay(&T, 0, AF_INET6, 50001));
	cr_expect_eq(T.n_allocs, 0);
	cr_expect_eq(T.n_perms, 0);
	cr_expect_eq(T.n_chans, 0);
	cr_expect_eq(sn_turn_alloc_del(&T, 5), -ENOENT);
	cr_expect_eq(sn_turn_alloc_del(&T, 5000), -EINVAL);
	struct sn_turn_perm_key pk = perm4(5, 0);
	struct sn_turn_perm_value pv = {.expires_ns = 1};
	cr_expect_eq(sn_turn_perm_put(&T, &pk, &pv), -ENOENT, "no allocation");
	cr_expect_eq(T.obj_bytes, 0, "no current object left");
}

Test(turn_table, clear_empties)
{
	for (uint32_t i = 0; i < 10; i++) {
		struct sn_turn_alloc_value v =
		    v4_alloc((uint8_t)i, 1000, (uint16_t)(50000 + i), 0, 1);
		cr_assert_eq(sn_turn_alloc_put(&T, i * 100, &v), 0);
		struct sn_turn_perm_key pk = perm4(i * 100, 1);
		struct sn_turn_perm_value pv = {.expires_ns = 1};
		cr_assert_eq(sn_turn_perm_put(&T, &pk, &pv), 0);
		struct sn_turn_channel_key ck = {.alloc_id = i * 100, .channel = 0x4000};
		struct sn_turn_channel_value cv = chan4(1, 5000, 1);
		cr_assert_eq(sn_turn_chan_put(&T, &ck, &cv), 0);
	}
	/* Clearing permissions keeps channels, and the other way round. */
	cr_assert_eq(sn_turn_perm_clear(&T), 0);
	cr_expect_eq(T.n_perms, 0);
	cr_expect_eq(T.n_chans, 10);
	const struct sn_turn_alloc *a = sn_turn_lookup_id(&T, 300);
	cr_assert_not_null(a);
	cr_expect_eq(a->n_perms, 0);
	cr_expect_not_null(sn_turn_chan_find(a, 0x4000));
	cr_assert_eq(sn_turn_chan_clear(&T), 0);
	cr_expect_eq(T.n_chans, 0);
	cr_expect_eq(T.n_allocs, 10);
	cr_expect_eq(by_client4(3, 1000), sn_turn_lookup_id(&T, 300));

	cr_assert_eq(sn_turn_alloc_clear(&T), 0);
	cr_expect_eq(T.n_allocs, 0);
	for (uint32_t i = 0; i < 10; i++) {
		cr_expect_null(sn_turn_lookup_id(&T, i * 100));
		cr_expect_null(by_client4((uint8_t)i, 1000));
		cr_expect_null(sn_turn_lookup_relay(&T, 0, AF_INET, (uint16_t)(50000 + i)));
	}
	cr_expect_eq(sn_turn_alloc_clear(&T), 0, "clearing an empty table");
	cr_expect_eq(sn_turn_perm_clear(&T), 0);
	cr_expect_eq(sn_turn_chan_clear(&T), 0);
	/* 10 allocations x (put, perm, chan) = 20 replaced; 2 x 10 cleared copies; 10 removed. */
	cr_expect_eq(sn_turn_table_reclaim(&T), 20 + 20 + 10);
}

Test(turn_table, permissions)
{
	struct sn_turn_alloc_value v = v4_alloc(1, 1000, 50000, 50001, 1);
	cr_assert_eq(sn_turn_alloc_put(&T, 0, &v), 0);
	struct sn_turn_perm_key k4 = perm4(0, 1), k6 = perm6(0, 1);
	struct sn_turn_perm_value pv = {.expires_ns = 5 * NS_S};
	cr_assert_eq(sn_turn_perm_put(&T, &k4, &pv), 0);
	pv.expires_ns = 6 * NS_S;
	cr_assert_eq(sn_turn_perm_put(&T, &k6, &pv), 0);

	const struct sn_turn_alloc *a = sn_turn_lookup_id(&T, 0);
	const struct sn_turn_perm *p4 = sn_turn_perm_find(a, AF_INET, k4.peer);
	const struct sn_turn_perm *p6 = sn_turn_perm_find(a, AF_INET6, k6.peer);
	cr_assert_not_null(p4);
	cr_assert_not_null(p6);
	cr_expect_eq(p4->expires_ns, 5 * NS_S);
	cr_expect_eq(p6->expires_ns, 6 * NS_S);
	uint8_t other[4] = {192, 0, 2, 2};
	cr_expect_null(sn_turn_perm_find(a, AF_INET, other));
	cr_expect_null(sn_turn_perm_find(a, AF_INET6, k4.peer), "family is part of the key");

	/* Refresh: same entry, new expiry, visible in the new version only. */
	pv.expires_ns = 50 * NS_S;
	cr_assert_eq(sn_turn_perm_put(&T, &k4, &pv), 0);
	const struct sn_turn_alloc *b = sn_turn_lookup_id(&T, 0);
	cr_expect_eq(b->n_perms, 2);
	cr_expect_eq(sn_turn_perm_find(b, AF_INET, k4.peer)->expires_ns, 50 * NS_S);
	cr_expect_eq(sn_turn_perm_find(a, AF_INET, k4.peer)->expires_ns, 5 * NS_S,
		     "the old version is unchanged until it is freed");

	/* Bounds: 4 per allocation. */
	for (uint8_t i = 2; i <= 3; i++) {
		struct sn_turn_perm_key k = perm4(0, i);
		cr_assert_eq(sn_turn_perm_put(&T, &k, &pv), 0);
	}
	struct sn_turn_perm_key k5 = perm4(0, 9);
	cr_expect_eq(sn_turn_perm_put(&T, &k5, &pv), -ENOSPC);
	cr_expect_eq(sn_turn_perm_put(&T, &k4, &pv), 0, "refreshing one that exists still works");
	cr_expect_eq(T.n_perms, 4);

	cr_assert_eq(sn_turn_perm_del(&T, &k4), 0);
	cr_expect_null(sn_turn_perm_find(sn_turn_lookup_id(&T, 0), AF_INET, k4.peer));
	cr_expect_not_null(sn_turn_perm_find(sn_turn_lookup_id(&T, 0), AF_INET6, k6.peer));
	cr_expect_eq(sn_turn_perm_del(&T, &k4), -ENOENT);
	cr_expect_eq(sn_turn_perm_put(&T, &k5, &pv), 0, "room again");
	cr_expect_eq(T.n_perms, 4);

	struct sn_turn_perm_key bad = perm4(0, 1);
	bad.family = 0;
	cr_expect_eq(sn_turn_perm_put(&T, &bad, &pv), -EINVAL);
	bad = perm4(1024, 1);
	cr_expect_eq(sn_turn_perm_put(&T, &bad, &pv), -EINVAL);
	bad = perm4(1, 1);
	cr_expect_eq(sn_turn_perm_put(&T, &bad, &pv), -ENOENT);
	cr_expect_eq(sn_turn_perm_del(&T, &bad), -ENOENT);
}

Test(turn_table, ipv4_keys_ignore_garbage_after_four_bytes)
{
	struct sn_turn_alloc_value v = v4_alloc(1, 1000, 50000, 0, 1);
	memset(v.client.src + 4, 0xaa, 12);
	cr_assert_eq(sn_turn_alloc_put(&T, 0, &v), 0);
	cr_expect_not_null(by_client4(1, 1000));
	struct sn_turn_perm_key k = perm4(0, 1);
	memset(k.peer + 4, 0x55, 12);
	struct sn_turn_perm_value pv = {.expires_ns = 1};
	cr_assert_eq(sn_turn_perm_put(&T, &k, &pv), 0);
	uint8_t peer[4] = {192, 0, 2, 1};
	const struct sn_turn_perm *p = sn_turn_perm_find(sn_turn_lookup_id(&T, 0), AF_INET, peer);
	cr_assert_not_null(p);
	uint8_t zero[12] = {0};
	cr_expect_eq(memcmp(p->peer + 4, zero, 12), 0, "stored normalised");
}

Test(turn_table, channels)
{
	struct sn_turn_alloc_value v = v4_alloc(1, 1000, 50000, 0, 1);
	cr_assert_eq(sn_turn_alloc_put(&T, 0, &v), 0);
	struct sn_turn_channel_key ck = {.alloc_id = 0, .channel = 0x4000};
	struct sn_turn_channel_value cv = chan4(1, 5000, 7 * NS_S);
	cr_assert_eq(sn_turn_chan_put(&T, &ck, &cv), 0);

	const struct sn_turn_alloc *a = sn_turn_lookup_id(&T, 0);
	const struct sn_turn_chan *c = sn_turn_chan_find(a, 0x4000);
	cr_assert_not_null(c);
	cr_expect_eq(c->peer_port, htons(5000));
	cr_expect_eq(c->expires_ns, 7 * NS_S);
	cr_expect_eq(sn_turn_chan_find_peer(a, AF_INET, cv.peer, htons(5000)), c);
	cr_expect_null(sn_turn_chan_find_peer(a, AF_INET, cv.peer, htons(5001)), "port matters");
	cr_expect_null(sn_turn_chan_find(a, 0x4001));

	/* Another number for the same peer address: refused (one channel per peer). */
	struct sn_turn_channel_key ck2 = {.alloc_id = 0, .channel = 0x4001};
	cr_expect_eq(sn_turn_chan_put(&T, &ck2, &cv), -EEXIST);
	/* Same number, refreshed. */
	cv.expires_ns = 70 * NS_S;
	cr_assert_eq(sn_turn_chan_put(&T, &ck, &cv), 0);
	a = sn_turn_lookup_id(&T, 0);
	cr_expect_eq(a->n_chans, 1);
	cr_expect_eq(sn_turn_chan_find(a, 0x4000)->expires_ns, 70 * NS_S);

	/* Channel numbers: RFC 8656 range only (rfc5766_channels off). */
	struct sn_turn_channel_key bad = {.alloc_id = 0, .channel = 0x5000};
	struct sn_turn_channel_value cv2 = chan4(2, 5000, 1);
	cr_expect_eq(sn_turn_chan_put(&T, &bad, &cv2), -EINVAL);
	bad.channel = 0x3fff;
	cr_expect_eq(sn_turn_chan_put(&T, &bad, &cv2), -EINVAL);
	cv2.peer_port = 0;
	cr_expect_eq(sn_turn_chan_put(&T, &ck2, &cv2), -EINVAL, "peer port 0");
	cv2 = chan4(2, 5000, 1);
	cv2.family = 3;
	cr_expect_eq(sn_turn_chan_put(&T, &ck2, &cv2), -EINVAL, "family");

	/* Bounds: 4 per allocation. */
	for (uint16_t i = 1; i < 4; i++) {
		struct sn_turn_channel_key k = {.alloc_id = 0, .channel = (uint16_t)(0x4000 + i)};
		struct sn_turn_channel_value val = chan4((uint8_t)(10 + i), 5000, 1);
		cr_assert_eq(sn_turn_chan_put(&T, &k, &val), 0);
	}
	struct sn_turn_channel_key k5 = {.alloc_id = 0, .channel = 0x4fff};
	struct sn_turn_channel_value v5 = chan4(50, 5000, 1);
	cr_expect_eq(sn_turn_chan_put(&T, &k5, &v5), -ENOSPC);
	cr_assert_eq(sn_turn_chan_del(&T, &ck), 0);
	cr_expect_null(sn_turn_chan_find(sn_turn_lookup_id(&T, 0), 0x4000));
	cr_expect_eq(sn_turn_chan_del(&T, &ck), -ENOENT);
	cr_expect_eq(sn_turn_chan_put(&T, &k5, &v5), 0);
	cr_expect_eq(T.n_chans, 4);
	struct sn_turn_channel_key none = {.alloc_id = 9, .channel = 0x4000};
	cr_expect_eq(sn_turn_chan_put(&T, &none, &v5), -ENOENT);
}

Test(turn_table, rfc5766_channel_range)
{
	struct sn_turn_table t;
	struct sn_turn_table_params p = params(16);
	p.rfc5766_channels = true;
	cr_assert_eq(sn_turn_table_init(&t, &p), 0);
	struct sn_turn_alloc_value v = v4_alloc(1, 1000, 50000, 0, 1);
	cr_assert_eq(sn_turn_alloc_put(&t, 0, &v), 0);
	struct sn_turn_channel_key ck = {.alloc_id = 0, .channel = 0x7fff};
	struct sn_turn_channel_value cv = chan4(1, 5000, 1);
	cr_expect_eq(sn_turn_chan_put(&t, &ck, &cv), 0);
	ck.channel = 0x8000;
	cr_expect_eq(sn_turn_chan_put(&t, &ck, &cv), -EINVAL);
	sn_turn_table_fini(&t);
}

Test(turn_table, permissions_and_channels_are_independent)
{
	/* Several permissions and channels in one object: each list is read where it is. */
	struct sn_turn_alloc_value v = v6_alloc(1, 1000, 50000, 1);
	cr_assert_eq(sn_turn_alloc_put(&T, 0, &v), 0);
	for (uint8_t i = 0; i < 3; i++) {
		struct sn_turn_channel_key ck = {.alloc_id = 0, .channel = (uint16_t)(0x4100 + i)};
		struct sn_turn_channel_value cv = chan4(i, (uint16_t)(6000 + i), 100 + i);
		cr_assert_eq(sn_turn_chan_put(&T, &ck, &cv), 0);
		struct sn_turn_perm_key pk = perm6(0, i);
		struct sn_turn_perm_value pv = {.expires_ns = 200 + i};
		cr_assert_eq(sn_turn_perm_put(&T, &pk, &pv), 0);
	}
	struct sn_turn_perm_key mid = perm6(0, 1);
	cr_assert_eq(sn_turn_perm_del(&T, &mid), 0);
	const struct sn_turn_alloc *a = sn_turn_lookup_id(&T, 0);
	cr_expect_eq(a->n_perms, 2);
	cr_expect_eq(a->n_chans, 3);
	for (uint8_t i = 0; i < 3; i++) {
		const struct sn_turn_chan *c = sn_turn_chan_find(a, (uint16_t)(0x4100 + i));
		cr_assert_not_null(c);
		cr_expect_eq(c->expires_ns, 100 + i);
		cr_expect_eq(c->peer_port, htons(6000 + i));
		struct sn_turn_perm_key pk = perm6(0, i);
		const struct sn_turn_perm *p = sn_turn_perm_find(a, AF_INET6, pk.peer);
		if (i == 1)
			cr_expect_null(p);
		else
			cr_expect(p && p->expires_ns == 200u + i);
	}
}

Test(turn_table, dump_value_and_traffic_counters)
{
	struct sn_turn_alloc_value v = v6_alloc(4, 1234, 50010, 77 * NS_S);
	cr_assert_eq(sn_turn_alloc_put(&T, 8, &v), 0);
	const struct sn_turn_alloc *a = sn_turn_lookup_id(&T, 8);

	/* Two lcores count traffic into their own rows. */
	sn_turn_ctr(&T, 0, 8)->to_peer_packets += 3;
	sn_turn_ctr(&T, 0, 8)->to_peer_bytes += 300;
	sn_turn_ctr(&T, 1, 8)->to_peer_packets += 1;
	sn_turn_ctr(&T, 1, 8)->to_client_packets += 2;
	sn_turn_ctr(&T, 1, 8)->to_client_bytes += 2000;

	struct sn_turn_alloc_value d;
	sn_turn_alloc_value_of(&T, a, &d);
	cr_expect_eq(memcmp(&d.client, &v.client, sizeof(d.client)), 0, "client tuple round trip");
	cr_expect_eq(d.port_idx, 0);
	cr_expect_eq(d.relay_port4, 0);
	cr_expect_eq(d.relay_port6, 50010);
	cr_expect_eq(d.expires_ns, 77 * NS_S);
	cr_expect_eq(d.to_peer_packets, 4);
	cr_expect_eq(d.to_peer_bytes, 300);
	cr_expect_eq(d.to_client_packets, 2);
	cr_expect_eq(d.to_client_bytes, 2000);

	/* A refresh keeps the counts; a new life of the id starts from zero. */
	v.expires_ns = 88 * NS_S;
	cr_assert_eq(sn_turn_alloc_put(&T, 8, &v), 0);
	sn_turn_alloc_value_of(&T, sn_turn_lookup_id(&T, 8), &d);
	cr_expect_eq(d.to_peer_packets, 4);
	cr_assert_eq(sn_turn_alloc_del(&T, 8), 0);
	struct sn_turn_alloc_value w = v4_alloc(9, 999, 50011, 0, 1);
	cr_assert_eq(sn_turn_alloc_put(&T, 8, &w), 0);
	sn_turn_alloc_value_of(&T, sn_turn_lookup_id(&T, 8), &d);
	cr_expect_eq(d.to_peer_packets, 0);
	cr_expect_eq(d.to_peer_bytes, 0);
	cr_expect_eq(d.to_client_packets, 0);
	cr_expect_eq(d.to_client_bytes, 0);
	sn_turn_ctr(&T, 1, 8)->to_client_packets++;
	sn_turn_alloc_value_of(&T, sn_turn_lookup_id(&T, 8), &d);
	cr_expect_eq(d.to_client_packets, 1);
	cr_expect_eq(d.client.family, AF_INET);
	cr_expect_eq(memcmp(d.client.dst, ports[0].ipv4, 4), 0);
}

Test(turn_table, expiry_is_visible_to_readers)
{
	/* The table stores expiry; readers compare with their clock. Every change shows. */
	struct sn_turn_alloc_value v = v4_alloc(1, 1000, 50000, 0, 10 * NS_S);
	cr_assert_eq(sn_turn_alloc_put(&T, 0, &v), 0);
	struct sn_turn_perm_key pk = perm4(0, 1);
	struct sn_turn_perm_value pv = {.expires_ns = 5 * NS_S};
	cr_assert_eq(sn_turn_perm_put(&T, &pk, &pv), 0);
	uint64_t now = 6 * NS_S;
	const struct sn_turn_alloc *a = by_client4(1, 1000);
	cr_expect_gt(a->expires_ns, now, "allocation alive");
	cr_expect_leq(sn_turn_perm_find(a, AF_INET, pk.peer)->expires_ns, now,
		      "permission expired");
	pv.expires_ns = 300 * NS_S;
	cr_assert_eq(sn_turn_perm_put(&T, &pk, &pv), 0);
	a = by_client4(1, 1000);
	cr_expect_gt(sn_turn_perm_find(a, AF_INET, pk.peer)->expires_ns, now, "refreshed");
	v.expires_ns = 1 * NS_S;
	cr_assert_eq(sn_turn_alloc_put(&T, 0, &v), 0);
	cr_expect_leq(by_client4(1, 1000)->expires_ns, now, "allocation expired");
}

Test(turn_table, retired_versions_are_handed_over)
{
	struct sn_turn_alloc_value v = v4_alloc(1, 1000, 50000, 0, 1);
	cr_assert_eq(sn_turn_alloc_put(&T, 0, &v), 0);
	cr_expect_null(sn_turn_table_take_retired(&T), "a new allocation replaces nothing");
	const struct sn_turn_alloc *first = sn_turn_lookup_id(&T, 0);
	struct sn_turn_perm_key pk = perm4(0, 1);
	struct sn_turn_perm_value pv = {.expires_ns = 1};
	cr_assert_eq(sn_turn_perm_put(&T, &pk, &pv), 0);
	cr_assert_eq(sn_turn_perm_put(&T, &pk, &pv), 0);
	struct sn_turn_retired *r = sn_turn_table_take_retired(&T);
	cr_assert_not_null(r);
	cr_expect_eq(r->n, 2);
	cr_expect_eq(r->obj[0], first, "the version readers saw first");
	cr_expect_null(sn_turn_table_take_retired(&T));
	sn_turn_retired_free(r);
}

/* Memory per allocation with one permission and one channel: the object (as malloc sizes
 * it), its slots in the id array, the bucket array and the relay array, its traffic counters
 * (one row per lcore) and its counter baseline. */
Test(turn_table, memory_per_allocation)
{
	struct sn_turn_table t;
	struct sn_turn_table_params p = params(131072);
	p.n_lcores = 1;
	p.n_ports = 1;
	cr_assert_eq(sn_turn_table_init(&t, &p), 0);
	struct sn_turn_alloc_value v = v4_alloc(1, 1000, 50000, 0, 1);
	cr_assert_eq(sn_turn_alloc_put(&t, 0, &v), 0);
	struct sn_turn_perm_key pk = perm4(0, 1);
	struct sn_turn_perm_value pv = {.expires_ns = 1};
	cr_assert_eq(sn_turn_perm_put(&t, &pk, &pv), 0);
	struct sn_turn_channel_key ck = {.alloc_id = 0, .channel = 0x4000};
	struct sn_turn_channel_value cv = chan4(1, 5000, 1);
	cr_assert_eq(sn_turn_chan_put(&t, &ck, &cv), 0);
	const struct sn_turn_alloc *a = sn_turn_lookup_id(&t, 0);
	size_t obj = sn_turn_alloc_footprint(a);
	size_t raw = sizeof(*a) + 2 * sizeof(struct sn_turn_perm);
	size_t buckets = (size_t)(t.bucket_mask + 1) / p.max_allocations;
	size_t idx = sizeof(void *) /* by id */ + buckets * sizeof(void *) /* bucket */ +
		     sizeof(void *) /* one relayed address */;
	size_t ctr = sizeof(struct sn_turn_counters) * (p.n_lcores + 1 /* baseline */);
	size_t total = obj + idx + ctr;
	cr_log_info("memory per allocation (1 permission, 1 channel, 1 worker): object %zu B "
		    "(%zu requested, malloc usable %zu), indexes %zu B, counters %zu B: %zu B; "
		    "each further worker +%zu B, IPv4+IPv6 relay +%zu B",
		    obj + 0, raw, obj, idx, ctr, total, sizeof(struct sn_turn_counters),
		    sizeof(void *));
	printf("memory per allocation: object %zu B (raw %zu), indexes %zu B, counters %zu B, "
	       "total %zu B\n",
	       obj, raw, idx, ctr, total);
	cr_expect_eq(raw, 120);
	cr_expect_leq(total, 256);
	sn_turn_table_fini(&t);
}

/* --- RCU stress: readers look up while the writer churns --- */

#define S_READERS 3
#define S_IDS	  256
#define S_OPS	  120000

static struct sn_turn_table S;
static volatile int s_stop;
static uint64_t s_bad[S_READERS], s_hits[S_READERS];

/* Every version the writer makes of allocation `id` satisfies: client 203.0.(id>>8).(id&255)
 * port 1000+id or 30000+id; relay port RELAY_MIN+id; every permission's peer is
 * 2001:db8:: with id in bytes 2..3 and its own expiry in bytes 4..11; every channel's peer
 * port equals its number and its peer IPv4 is 10.0.(id>>8).(id&255). */
static struct sn_turn_alloc_value s_alloc(uint32_t id, bool alt, uint64_t expires)
{
	struct sn_turn_alloc_value v;
	memset(&v, 0, sizeof(v));
	v.client.family = AF_INET;
	v.client.src_port = htons((uint16_t)((alt ? 30000 : 1000) + id));
	v.client.dst_port = htons(3478);
	uint8_t src[4] = {203, 0, (uint8_t)(id >> 8), (uint8_t)id};
	memcpy(v.client.src, src, 4);
	memcpy(v.client.dst, ports[0].ipv4, 4);
	v.relay_port4 = (uint16_t)(RELAY_MIN + id);
	v.expires_ns = expires;
	return v;
}

static bool s_check(const struct sn_turn_alloc *a, uint32_t id)
{
	bool ok = a->id == id && a->family == AF_INET && a->relay_port4 == RELAY_MIN + id &&
		  (a->client_port == htons((uint16_t)(1000 + id)) ||
		   a->client_port == htons((uint16_t)(30000 + id))) &&
		  a->client_ip[2] == (uint8_t)(id >> 8) && a->client_ip[3] == (uint8_t)id &&
		  a->n_perms <= 4 && a->n_chans <= 4;
	if (!ok)
		return false;
	for (uint16_t i = 0; i < a->n_perms; i++) {
		const struct sn_turn_perm *p = &a->perm[i];
		uint64_t e;
		memcpy(&e, p->peer + 4, 8);
		ok &= p->family == AF_INET6 && p->peer[2] == (uint8_t)(id >> 8) &&
		      p->peer[3] == (uint8_t)id && e == p->expires_ns;
	}
	const struct sn_turn_chan *c = sn_turn_alloc_chans(a);
	for (uint16_t i = 0; i < a->n_chans; i++) {
		ok &= c[i].family == AF_INET && c[i].peer_port == htons(c[i].number) &&
		      c[i].peer[2] == (uint8_t)(id >> 8) && c[i].peer[3] == (uint8_t)id &&
		      c[i].number >= 0x4000 && c[i].number < 0x4004;
	}
	return ok;
}

static void *s_reader(void *arg)
{
	long me = (long)arg;
	uint32_t x = (uint32_t)me * 2654435761u + 1;
	rcu_register_thread();
	while (!__atomic_load_n(&s_stop, __ATOMIC_RELAXED)) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		uint32_t id = x % S_IDS;
		const struct sn_turn_alloc *a = sn_turn_lookup_id(&S, id);
		if (a) {
			s_hits[me]++;
			/* Read it twice with a pause between: an object freed and reused, or
			 * written after publication, shows as a difference. */
			struct sn_turn_alloc h1;
			memcpy(&h1, a, sizeof(h1));
			if (!s_check(a, id))
				s_bad[me]++;
			for (volatile int spin = 0; spin < 50; spin++)
				;
			if (memcmp(&h1.id, &a->id, sizeof(h1) - sizeof(h1.next)) != 0 ||
			    !s_check(a, id))
				s_bad[me]++;
			/* The other indexes give a whole version of the same allocation. */
			const struct sn_turn_alloc *r =
			    sn_turn_lookup_relay(&S, 0, AF_INET, (uint16_t)(RELAY_MIN + id));
			if (r && !s_check(r, id))
				s_bad[me]++;
		}
		uint8_t ip[4] = {203, 0, (uint8_t)(id >> 8), (uint8_t)id};
		for (int alt = 0; alt < 2; alt++) {
			uint16_t port = htons((uint16_t)((alt ? 30000 : 1000) + id));
			const struct sn_turn_alloc *c =
			    sn_turn_lookup_client(&S, AF_INET, ip, port, htons(3478));
			if (c && (!s_check(c, id) || c->client_port != port))
				s_bad[me]++;
			if (c) {
				/* A reader bumps its own counters, as workers do. */
				sn_turn_ctr(&S, (uint16_t)me, id)->to_peer_packets++;
			}
		}
		rcu_quiescent_state();
	}
	rcu_unregister_thread();
	return NULL;
}

Test(turn_table_rcu, churn_under_concurrent_lookups, .timeout = 120)
{
	struct sn_turn_table_params p = params(S_IDS);
	p.n_lcores = S_READERS;
	p.n_ports = 1;
	cr_assert_eq(sn_turn_table_init(&S, &p), 0);
	pthread_t th[S_READERS];
	for (long i = 0; i < S_READERS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, s_reader, (void *)i), 0);

	uint32_t x = 12345;
	uint64_t applied = 0, refused = 0, reclaims = 0;
	for (uint64_t op = 0; op < S_OPS; op++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		uint32_t id = (x >> 8) % S_IDS;
		uint64_t e = op + 1;
		int rc = 0;
		switch (x % 16) {
		case 0 ... 3: {
			struct sn_turn_alloc_value v = s_alloc(id, x & 0x10000, e);
			rc = sn_turn_alloc_put(&S, id, &v);
			break;
		}
		case 4 ... 7: {
			struct sn_turn_perm_key k = {.alloc_id = id, .family = AF_INET6};
			k.peer[0] = 0x20;
			k.peer[1] = 0x01;
			k.peer[2] = (uint8_t)(id >> 8);
			k.peer[3] = (uint8_t)id;
			k.peer[12] = (uint8_t)(x >> 20) & 7; /* 8 peers: some refused, ENOSPC */
			/* The expiry is part of the address pattern: rewrite the stored one. */
			struct sn_turn_perm_value pv = {.expires_ns = e};
			const struct sn_turn_alloc *a = S.by_id[id];
			const struct sn_turn_perm *old = NULL;
			if (a) {
				for (uint16_t i = 0; i < a->n_perms; i++) {
					if (a->perm[i].peer[12] == k.peer[12])
						old = &a->perm[i];
				}
			}
			if (old) {
				/* Same peer, new expiry would break the pattern: delete and add. */
				struct sn_turn_perm_key dk = k;
				memcpy(dk.peer, old->peer, 16);
				rc = sn_turn_perm_del(&S, &dk);
				if (rc < 0)
					break;
			}
			memcpy(k.peer + 4, &e, 8);
			rc = sn_turn_perm_put(&S, &k, &pv);
			break;
		}
		case 8 ... 10: {
			uint16_t num = (uint16_t)(0x4000 + ((x >> 20) & 3));
			struct sn_turn_channel_key k = {.alloc_id = id, .channel = num};
			struct sn_turn_channel_value v = {
			    .family = AF_INET, .peer_port = htons(num), .expires_ns = e};
			v.peer[0] = 10;
			v.peer[2] = (uint8_t)(id >> 8);
			v.peer[3] = (uint8_t)id;
			rc = sn_turn_chan_put(&S, &k, &v);
			break;
		}
		case 11: {
			struct sn_turn_channel_key k = {
			    .alloc_id = id, .channel = (uint16_t)(0x4000 + ((x >> 20) & 3))};
			rc = sn_turn_chan_del(&S, &k);
			break;
		}
		case 12 ... 13:
			rc = sn_turn_alloc_del(&S, id);
			break;
		case 14:
			rc = (x >> 20) % 64 == 0 ? sn_turn_perm_clear(&S) : 0;
			break;
		default:
			rc = (x >> 20) % 256 == 0 ? sn_turn_alloc_clear(&S) : 0;
			break;
		}
		cr_assert(rc == 0 || rc == -ENOENT || rc == -ENOSPC, "op %lu: %d",
			  (unsigned long)op, rc);
		if (rc == 0)
			applied++;
		else
			refused++;
		/* A batch of commands, then one grace period, as the main loop does (up to 64
		 * messages per poll). */
		if (op % 64 == 63)
			reclaims += sn_turn_table_reclaim(&S) ? 1 : 0;
	}
	__atomic_store_n(&s_stop, 1, __ATOMIC_RELAXED);
	uint64_t bad = 0, hits = 0;
	for (long i = 0; i < S_READERS; i++) {
		pthread_join(th[i], NULL);
		bad += s_bad[i];
		hits += s_hits[i];
	}
	/* The writer's view of the counts agrees with the objects. */
	uint32_t na = 0, np = 0, nc = 0;
	for (uint32_t id = 0; id < S_IDS; id++) {
		const struct sn_turn_alloc *a = S.by_id[id];
		if (!a)
			continue;
		na++;
		np += a->n_perms;
		nc += a->n_chans;
		cr_expect(s_check(a, id));
	}
	cr_expect_eq(na, S.n_allocs);
	cr_expect_eq(np, S.n_perms);
	cr_expect_eq(nc, S.n_chans);
	cr_log_info("rcu stress: %lu commands applied, %lu refused, %lu grace periods, %lu reader "
		    "hits, %lu bad reads",
		    (unsigned long)applied, (unsigned long)refused, (unsigned long)reclaims,
		    (unsigned long)hits, (unsigned long)bad);
	cr_expect_eq(bad, 0, "torn or stale reads");
	cr_expect_gt(hits, 1000, "readers ran");
	sn_turn_table_reclaim(&S);
	sn_turn_table_fini(&S);
}
