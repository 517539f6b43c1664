/* guard_dp.c: the guard's place in the dataplane (guard.h holds the logic): the
 * SN_TABLE_GUARD registry entry, per-worker tables, report collection and gauges. Main
 * lcore only. */
#include "dataplane.h"

#include <errno.h>
#include <string.h>

#include <rte_cycles.h>

static struct {
	uint32_t seen[SN_STATS_MAX_LCORES]; /* pub_seq of each worker's last report sent */
} gdp;

static uint64_t now_ns(uint64_t tsc)
{
	return sn_tsc_to_ns(tsc);
}

static int guard_apply(uint8_t op, const void *key, uint16_t key_len, const void *val,
		       uint16_t val_len)
{
	struct sn_guard_key k;
	struct sn_guard_value v;

	if (!sn_table_cmd_sizes_ok(op, key_len, sizeof(k), val_len, sizeof(v)))
		return -EINVAL;
	if (key_len)
		memcpy(&k, key, sizeof(k));
	if (val_len)
		memcpy(&v, val, sizeof(v));
	uint64_t tsc = rte_rdtsc();
	return sn_guard_bans_apply(&sn_dp.guard_bans, op, key_len ? &k : NULL, val_len ? &v : NULL,
				   now_ns(tsc), tsc, sn_dp.tsc_hz);
}

static void guard_publish(void)
{
	/* on -ENOMEM the previous snapshot stays and the next command retries */
	sn_guard_bans_publish(&sn_dp.guard_bans, &sn_dp.rcu);
}

static int guard_dump(sn_dump_emit_fn emit)
{
	const struct sn_guard_bans *b = &sn_dp.guard_bans;
	for (uint32_t i = 0; i < b->n; i++) {
		const struct sn_guard_ban *e = &b->list[i];
		struct sn_guard_key k = {.family = e->family, .prefix_len = e->plen};
		struct sn_guard_value v = {.action = e->action, .expires_ns = e->expires_ns};
		memcpy(k.addr, e->addr, sizeof(k.addr));
		int rc = emit(SN_TABLE_GUARD, &k, sizeof(k), &v, sizeof(v));
		if (rc < 0)
			return rc;
	}
	return 0;
}

static uint32_t guard_entries(void)
{
	return sn_dp.guard_bans.n;
}

const struct sn_dp_table sn_dp_table_guard = {
    .id = SN_TABLE_GUARD,
    .name = "guard",
    .apply = guard_apply,
    .publish = guard_publish,
    .dump = guard_dump,
    .entries = guard_entries,
};

int sn_dp_guard_init(void)
{
	const struct sn_guard_config *gc = &sn_dp.cfg.guard;
	int rc;

	sn_guard_params_init(&sn_dp.guard, gc, sn_dp.tsc_hz);
	rc = sn_guard_bans_init(&sn_dp.guard_bans, gc->max_bans);
	if (rc < 0)
		return rc;
	for (uint16_t i = 0; i < sn_dp.n_workers; i++) {
		rc = sn_guard_init(&sn_dp.workers[i].guard, gc->table_entries);
		if (rc < 0)
			return rc;
	}
	SN_INFO("guard %s: %u policer entries of %zu bytes per worker (%" PRIu64
		" bytes), %u bans at most",
		gc->enabled ? "on" : "off",
		sn_dp.workers[0].guard.set_mask * SN_GUARD_WAYS + SN_GUARD_WAYS,
		sizeof(struct sn_guard_entry), sn_guard_table_bytes(&sn_dp.workers[0].guard),
		gc->max_bans);
	return 0;
}

void sn_dp_guard_fini(void)
{
	if (sn_dp.workers)
		for (uint16_t i = 0; i < sn_dp.n_workers; i++)
			sn_guard_fini(&sn_dp.workers[i].guard);
	sn_guard_bans_fini(&sn_dp.guard_bans);
}

void sn_dp_guard_poll(void)
{
	struct sn_guard_report_entry e[SN_GUARD_MAX_TOPK];
	uint64_t drops = 0;

	for (uint16_t i = 0; i < sn_dp.n_workers && i < SN_STATS_MAX_LCORES; i++) {
		const struct sn_worker *w = &sn_dp.workers[i];
		uint32_t before = gdp.seen[i];
		uint16_t n = sn_guard_collect(&w->guard, &gdp.seen[i], e, &drops);
		if (gdp.seen[i] != before)
			channel_send_guard_report((uint16_t)w->lcore_id, e, n, drops,
						  sn_dp.cfg.guard.report_ms);
	}
}

void sn_dp_guard_gauges(struct sn_stats_gauges *g)
{
	uint64_t entries = 0, cap = 0, bytes = 0;
	for (uint16_t i = 0; i < sn_dp.n_workers; i++) {
		const struct sn_guard *gd = &sn_dp.workers[i].guard;
		if (!gd->sets)
			continue;
		entries += __atomic_load_n(&gd->entries, __ATOMIC_RELAXED);
		cap += (uint64_t)(gd->set_mask + 1) * SN_GUARD_WAYS;
		bytes += sn_guard_table_bytes(gd);
	}
	g->guard_entries = entries;
	g->guard_capacity = cap;
	g->guard_table_bytes = bytes;
	g->guard_bans = sn_dp.guard_bans.n;
}
