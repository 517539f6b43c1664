/* RCU tables under load: reader threads registered with liburcu QSBR look up the dispatch
 * and neighbour tables in a tight loop while the writer swaps versions and reclaims after
 * grace periods. A torn read shows as a snapshot whose entries disagree with its version;
 * a premature free shows as a use-after-free under ASan (the unit suite runs sanitized). */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tables.h"

#define READERS 3
#define SWAPS	3000

static struct sn_dispatch_table dispatch;
static struct sn_neigh_table neigh;
static volatile int stop;
static uint64_t torn[READERS], lookups[READERS];

/* Every version v of the table maps ports 1000..1063 to handler (v % 4) + 1 (both families),
 * so a consistent snapshot has all 128 entries equal. */
static void *reader(void *arg)
{
	long id = (long)arg;
	rcu_register_thread();
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		const struct sn_dispatch_snap *s = rcu_dereference(dispatch.current);
		uint8_t first = sn_dispatch_lookup(s, 0, 1000);
		for (uint16_t p = 1000; p < 1064; p++) {
			if (sn_dispatch_lookup(s, 0, p) != first ||
			    sn_dispatch_lookup(s, 1, p) != first)
				torn[id]++;
		}
		uint8_t ip[4] = {198, 18, 0, 2};
		const struct sn_neigh_entry *e =
		    sn_neigh_lookup(rcu_dereference(neigh.current), AF_INET, ip);
		if (e && e->mac[0] != e->mac[5])
			torn[id]++;
		lookups[id]++;
		rcu_quiescent_state();
	}
	rcu_unregister_thread();
	return NULL;
}

Test(rcu_tables, swaps_under_concurrent_lookups)
{
	struct sn_rcu_writer w;
	cr_assert_eq(sn_rcu_writer_init(&w, 8), 0);
	cr_assert_eq(sn_dispatch_init(&dispatch), 0);
	cr_assert_eq(sn_neigh_init(&neigh, 64), 0);

	pthread_t th[READERS];
	for (long i = 0; i < READERS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, reader, (void *)i), 0);

	for (int v = 0; v < SWAPS; v++) {
		struct sn_dispatch_snap *draft = NULL;
		for (uint16_t p = 1000; p < 1064; p++) {
			for (int f = 0; f < 2; f++) {
				struct sn_dispatch_key k = {.port = htons(p),
							    .family = f ? AF_INET6 : AF_INET};
				struct sn_dispatch_value val = {.handler = (uint16_t)(v % 4 + 1)};
				cr_assert_eq(
				    sn_dispatch_apply(&dispatch, &draft, SN_TABLE_OP_ADD, &k, &val),
				    0);
			}
		}
		sn_dispatch_publish(&dispatch, draft, &w);
		uint8_t ip[4] = {198, 18, 0, (uint8_t)(2 + v % 3)};
		uint8_t b = (uint8_t)v;
		uint8_t mac[6] = {b, 1, 2, 3, 4, b};
		cr_assert_geq(sn_neigh_learn(&neigh, &w, 0, AF_INET, ip, mac), 0);
		if (v % 7 == 0)
			sn_rcu_reclaim(&w);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	uint64_t total = 0;
	for (int i = 0; i < READERS; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(torn[i], 0, "reader %d saw %lu torn snapshots", i,
			     (unsigned long)torn[i]);
		total += lookups[i];
	}
	sn_rcu_writer_fini(&w);
	cr_assert_gt(total, 0);
	cr_assert_gt(w.grace_periods, 0);
	cr_assert_eq(w.freed, (uint64_t)SWAPS * 2);
	cr_assert_eq(dispatch.current->entries, 128);
	cr_assert_eq(dispatch.current->version, SWAPS);
	sn_dispatch_fini(&dispatch);
	sn_neigh_fini(&neigh);
}

Test(rcu_tables, dispatch_rejects_bad_commands)
{
	struct sn_dispatch_table t;
	struct sn_rcu_writer w;
	cr_assert_eq(sn_rcu_writer_init(&w, 4), 0);
	cr_assert_eq(sn_dispatch_init(&t), 0);
	struct sn_dispatch_snap *draft = NULL;
	struct sn_dispatch_key k = {.port = htons(7), .family = 99};
	struct sn_dispatch_value v = {.handler = SN_UDP_HANDLER_ECHO};
	cr_assert_eq(sn_dispatch_apply(&t, &draft, SN_TABLE_OP_ADD, &k, &v), -EINVAL);
	k.family = AF_INET;
	v.handler = SN_UDP_HANDLER_MAX;
	cr_assert_eq(sn_dispatch_apply(&t, &draft, SN_TABLE_OP_ADD, &k, &v), -EINVAL);
	v.handler = SN_UDP_HANDLER_ECHO;
	cr_assert_eq(sn_dispatch_apply(&t, &draft, SN_TABLE_OP_ADD, &k, &v), 0);
	cr_assert_eq(sn_dispatch_apply(&t, &draft, SN_TABLE_OP_DEL, &k, NULL), 0);
	cr_assert_eq(sn_dispatch_apply(&t, &draft, SN_TABLE_OP_ADD, &k, &v), 0);
	sn_dispatch_publish(&t, draft, &w);
	cr_assert_eq(t.current->entries, 1);
	cr_assert_eq(sn_dispatch_lookup(t.current, 0, 7), SN_UDP_HANDLER_ECHO);
	draft = NULL;
	cr_assert_eq(sn_dispatch_apply(&t, &draft, SN_TABLE_OP_CLEAR, NULL, NULL), 0);
	sn_dispatch_publish(&t, draft, &w);
	cr_assert_eq(t.current->entries, 0);
	sn_rcu_writer_fini(&w);
	sn_dispatch_fini(&t);
}

Test(rcu_tables, neighbour_table_is_bounded)
{
	struct sn_neigh_table t;
	struct sn_rcu_writer w;
	cr_assert_eq(sn_rcu_writer_init(&w, 4), 0);
	cr_assert_eq(sn_neigh_init(&t, 4), 0);
	uint8_t mac[6] = {2, 0, 0, 0, 0, 9};
	for (uint8_t i = 0; i < 4; i++) {
		uint8_t ip[4] = {198, 18, 0, (uint8_t)(10 + i)};
		cr_assert_eq(sn_neigh_learn(&t, &w, 0, AF_INET, ip, mac), 1);
		cr_assert_eq(sn_neigh_learn(&t, &w, 0, AF_INET, ip, mac), 0);
	}
	uint8_t ip[4] = {198, 18, 0, 99};
	cr_assert_eq(sn_neigh_learn(&t, &w, 0, AF_INET, ip, mac), -ENOSPC);
	cr_assert_eq(t.current->entries, 4);
	sn_rcu_writer_fini(&w);
	sn_neigh_fini(&t);
}
