/* Promotion decisions (control/promotion.h, control/clients.h): ranking, hysteresis on a
 * hovering load, exclusion of suspects, unreachable, short-lived and misbehaving clients,
 * the caps, and the bounded client table. No dataplane, no DHT: invitations are not stored. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "clients.h"
#include "promotion.h"
#include "util.h"

#define S CTL_NS_PER_SEC

static struct sn_promotion_config base_cfg(void)
{
	struct sn_promotion_config c;

	memset(&c, 0, sizeof(c));
	c.enabled = true;
	c.interval_ms = 1000;
	c.load_high = 500;
	c.load_low = 300;
	c.dwell_s = 10;
	c.capacity_clients = 10;
	c.capacity_kbps = 1000;
	c.weight_uptime = 30;
	c.weight_activity = 30;
	c.weight_history = 15;
	c.weight_bandwidth = 15;
	c.weight_trust = 10;
	c.min_uptime_s = 5;
	c.uptime_full_s = 100;
	c.activity_full = 100;
	c.bandwidth_full_kbps = 100;
	c.max_misbehaviour = 3;
	c.invites_per_interval = 2;
	c.max_invites = 3;
	c.probe_port = 4300;
	c.probe_timeout_ms = 1000;
	c.probes_per_interval = 8;
	c.probe_ttl_s = 600;
	c.max_clients = 64;
	c.invitation_lifetime_s = 3600;
	return c;
}

static struct ctl_promotion *new_promo(struct sn_promotion_config cfg)
{
	struct ctl_promotion *p = calloc(1, sizeof(*p));

	cr_assert(p);
	p->cfg = cfg;
	cr_assert_eq(ctl_clients_init(&p->clients, cfg.max_clients), 0);
	return p;
}

static void free_promo(struct ctl_promotion *p)
{
	ctl_clients_fini(&p->clients);
	free(p);
}

/* A client at 198.18.0.<host>, first seen at `first`, with `ops` DHT gets. */
static struct ctl_client *add(struct ctl_promotion *p, int host, uint64_t first, uint32_t ops,
			      uint8_t reach)
{
	uint8_t a[16] = {198, 18, 0, (uint8_t)host};
	struct ctl_client *c = ctl_clients_touch(&p->clients, AF_INET, a, first);

	cr_assert(c);
	c->last_ns = first + 100 * S; /* seen until 100 s after `first` */
	c->has_node = true;
	memset(c->node, host, sizeof(c->node));
	c->dht_port = htons(4222);
	c->dht_ops[2] = ops;
	c->reach = reach;
	return c;
}

static bool invited(struct ctl_promotion *p, int host)
{
	uint8_t a[16] = {198, 18, 0, (uint8_t)host};
	struct ctl_client *c = ctl_clients_find(&p->clients, AF_INET, a);

	return c && c->invited;
}

Test(promotion, hysteresis_does_not_flap_on_a_hovering_load)
{
	struct sn_promotion_config cfg = base_cfg();
	struct ctl_promo_hyst h = {0};
	uint64_t now = 100 * S;
	unsigned changes = 0;

	h.since_ns = 0;
	/* load alternates just above high and just below it (but above low) every second */
	for (int i = 0; i < 120; i++, now += S)
		changes += ctl_promo_hyst_step(&h, &cfg, i % 2 ? 499 : 501, now);
	cr_assert_eq(changes, 1, "entered high once, then stayed: %u changes", changes);
	cr_assert(h.high);
	/* around load_low: leaves once, after the dwell, and stays low while it hovers there */
	for (int i = 0; i < 120; i++, now += S)
		changes += ctl_promo_hyst_step(&h, &cfg, i % 2 ? 299 : 301, now);
	cr_assert_eq(changes, 2);
	cr_assert(!h.high);
}

Test(promotion, hysteresis_respects_the_dwell_time)
{
	struct sn_promotion_config cfg = base_cfg();
	struct ctl_promo_hyst h = {.since_ns = 0};

	cr_assert(ctl_promo_hyst_step(&h, &cfg, 900, 10 * S));
	/* even a load of 0 does not leave high before dwell_s */
	for (uint64_t t = 11; t < 20; t++)
		cr_assert(!ctl_promo_hyst_step(&h, &cfg, 0, t * S));
	cr_assert(ctl_promo_hyst_step(&h, &cfg, 0, 20 * S));
	cr_assert_eq(h.changes, 2);
}

Test(promotion, ranking_prefers_long_lived_active_clients)
{
	struct sn_promotion_config cfg = base_cfg();
	struct ctl_client a = {0}, b = {0};
	double ia[PI_MAX], ib[PI_MAX];
	uint64_t now = 1000 * S;

	a.first_ns = now - 100 * S; /* full uptime */
	a.last_ns = now;
	a.dht_ops[2] = 100; /* full activity */
	b.first_ns = now - 10 * S;
	b.last_ns = now;
	b.dht_ops[2] = 5;
	ctl_promo_inputs(&cfg, &a, 0.5, now, ia);
	ctl_promo_inputs(&cfg, &b, 0.5, now, ib);
	cr_assert_float_eq(ia[PI_UPTIME], 1.0, 1e-9);
	cr_assert_float_eq(ia[PI_ACTIVITY], 1.0, 1e-9);
	cr_assert_float_eq(ib[PI_UPTIME], 0.1, 1e-9);
	cr_assert_gt(ctl_promo_score(&cfg, ia), ctl_promo_score(&cfg, ib));
	/* the score is the weighted mean: 30+30+15 of 100 full, bandwidth 0, trust 0.5 */
	cr_assert_float_eq(ctl_promo_score(&cfg, ia), (30 + 30 + 15 + 0 + 5) / 100.0, 1e-9);
	/* errors lower the history input */
	a.errors = 1;
	ctl_promo_inputs(&cfg, &a, 0.5, now, ia);
	cr_assert_float_eq(ia[PI_HISTORY], 0.5, 1e-9);
}

Test(promotion, classify_excludes_suspects_unreachable_short_lived_misbehaving)
{
	struct sn_promotion_config cfg = base_cfg();
	struct ctl_client c = {0};
	uint64_t now = 1000 * S;

	c.has_node = true;
	c.first_ns = now - 60 * S;
	c.last_ns = now;
	c.reach = CTL_REACH_OPEN;
	cr_assert_eq(ctl_promo_classify(&cfg, &c, 0, now), CTL_PROMO_ELIGIBLE);
	cr_assert_eq(ctl_promo_classify(&cfg, &c, -1, now), CTL_PROMO_ELIGIBLE);
	cr_assert_eq(ctl_promo_classify(&cfg, &c, 1, now), CTL_PROMO_SUSPECT);
	c.reach = CTL_REACH_CLOSED;
	cr_assert_eq(ctl_promo_classify(&cfg, &c, 0, now), CTL_PROMO_UNREACHABLE);
	c.reach = CTL_REACH_PROBING;
	cr_assert_eq(ctl_promo_classify(&cfg, &c, 0, now), CTL_PROMO_NOT_PROBED);
	c.reach = CTL_REACH_OPEN;
	c.first_ns = now - 2 * S;
	cr_assert_eq(ctl_promo_classify(&cfg, &c, 0, now), CTL_PROMO_SHORT_LIVED);
	c.first_ns = now - 60 * S;
	c.errors = 3;
	cr_assert_eq(ctl_promo_classify(&cfg, &c, 0, now), CTL_PROMO_MISBEHAVED);
	c.errors = 0;
	c.has_node = false;
	cr_assert_eq(ctl_promo_classify(&cfg, &c, 0, now), CTL_PROMO_NO_NODE_ID);
}

Test(promotion, decide_invites_the_best_eligible_within_the_caps)
{
	struct sn_promotion_config cfg = base_cfg();
	struct ctl_promotion *p;
	uint64_t t0 = 1000 * S, now = t0 + 200 * S;

	cfg.n_suspects = 1;
	cfg.suspects[0] = (struct sn_cidr){.family = AF_INET, .len = 32, .addr = {198, 18, 0, 40}};
	p = new_promo(cfg);
	p->hyst.since_ns = t0;
	add(p, 31, t0, 90, CTL_REACH_OPEN);			    /* long-lived, active */
	add(p, 32, t0, 60, CTL_REACH_OPEN);			    /* long-lived, less active */
	add(p, 33, t0 + 150 * S, 5, CTL_REACH_OPEN)->last_ns = now; /* younger, little activity */
	add(p, 34, now + S, 99, CTL_REACH_OPEN)->last_ns = now + 2 * S; /* short-lived */
	add(p, 35, t0, 99, CTL_REACH_CLOSED);				/* NATed */
	add(p, 40, t0, 99, CTL_REACH_OPEN);				/* suspect */
	add(p, 41, t0, 99, CTL_REACH_OPEN)->errors = 5;			/* misbehaved */

	/* low load: nothing */
	cr_assert_eq(ctl_promotion_decide(p, 100, now), 0);
	cr_assert(!p->hyst.high);
	/* high: the two best (per-interval cap 2) */
	cr_assert_eq(ctl_promotion_decide(p, 900, now + S), 2);
	cr_assert(invited(p, 31) && invited(p, 32));
	cr_assert_eq(p->log[0].rank, 1);
	cr_assert_eq(p->log[0].addr[3], 31);
	cr_assert_eq(p->log[0].candidates, 3);
	cr_assert_eq(p->log[0].weights[PI_UPTIME], 30);
	/* next interval: the third eligible one, then the total cap (3) holds */
	cr_assert_eq(ctl_promotion_decide(p, 900, now + 2 * S), 1);
	cr_assert(invited(p, 33));
	cr_assert_eq(ctl_promotion_decide(p, 900, now + 3 * S), 0);
	cr_assert(!invited(p, 34) && !invited(p, 35) && !invited(p, 40) && !invited(p, 41));
	cr_assert_eq(p->reasons[CTL_PROMO_SUSPECT], 1);
	cr_assert_eq(p->reasons[CTL_PROMO_UNREACHABLE], 1);
	cr_assert_eq(p->reasons[CTL_PROMO_MISBEHAVED], 1);
	cr_assert_eq(p->reasons[CTL_PROMO_SHORT_LIVED], 1);
	cr_assert_eq(p->reasons[CTL_PROMO_INVITED], 3);
	cr_assert_eq(p->n_decisions, 3);
	free_promo(p);
}

Test(promotion, no_new_decisions_when_load_hovers_at_the_threshold)
{
	struct sn_promotion_config cfg = base_cfg();
	struct ctl_promotion *p;
	uint64_t now = 1000 * S;
	uint32_t issued = 0;

	cfg.max_invites = 100;
	cfg.invites_per_interval = 1;
	p = new_promo(cfg);
	p->hyst.since_ns = 0;
	for (int h = 50; h < 60; h++)
		add(p, h, 0, 10, CTL_REACH_OPEN);
	/* hovering just under high: never enters, never invites */
	for (int i = 0; i < 60; i++, now += S)
		issued += ctl_promotion_decide(p, i % 2 ? 499 : 480, now);
	cr_assert_eq(issued, 0);
	cr_assert_eq(p->hyst.changes, 0);
	/* hovering across high, after entering: stays high (low is 300) */
	for (int i = 0; i < 60; i++, now += S)
		issued += ctl_promotion_decide(p, i % 2 ? 499 : 501, now);
	cr_assert_eq(p->hyst.changes, 1);
	cr_assert_eq(issued, 10, "one per interval until every eligible client is invited");
	free_promo(p);
}

Test(promotion, client_table_is_bounded_with_lru_eviction)
{
	struct ctl_clients t;
	uint8_t a[16] = {198, 18, 1, 0};

	cr_assert_eq(ctl_clients_init(&t, 16), 0);
	for (int i = 0; i < 100; i++) {
		a[3] = (uint8_t)i;
		cr_assert(ctl_clients_touch(&t, AF_INET, a, (uint64_t)i));
		/* keep client 0 fresh: it must survive */
		a[3] = 0;
		cr_assert(ctl_clients_touch(&t, AF_INET, a, (uint64_t)i));
	}
	cr_assert_eq(t.n, 16);
	cr_assert_eq(t.evictions, 100 - 16);
	a[3] = 0;
	cr_assert(ctl_clients_find(&t, AF_INET, a));
	a[3] = 99;
	cr_assert(ctl_clients_find(&t, AF_INET, a));
	a[3] = 50;
	cr_assert_null(ctl_clients_find(&t, AF_INET, a));
	cr_assert_leq(ctl_clients_bytes(&t), 16 * sizeof(struct ctl_client) + 16 * sizeof(void *));
	ctl_clients_fini(&t);
}

Test(promotion, hooks_feed_the_current_table)
{
	struct ctl_clients t;
	struct sn_udp_tuple tu = {.family = AF_INET, .src_port = htons(4222)};
	uint8_t node[20];
	struct ctl_client *c;

	memset(node, 7, sizeof(node));
	memcpy(tu.src, (uint8_t[]){198, 18, 0, 31}, 4);
	cr_assert_eq(ctl_clients_init(&t, 16), 0);
	ctl_clients_dht_request(&tu, node, 1); /* no current table: nothing */
	cr_assert_eq(t.n, 0);
	ctl_clients_set_current(&t);
	ctl_clients_dht_request(&tu, node, 3);
	ctl_clients_turn(&tu, CTL_CLIENT_ALLOC, 0);
	ctl_clients_turn(&tu, CTL_CLIENT_FREE, 1234);
	ctl_clients_dht_error(&tu);
	c = ctl_clients_find(&t, AF_INET, tu.src);
	cr_assert(c && c->has_node && c->dht_port == htons(4222));
	cr_assert_eq(c->dht_ops[2], 1);
	cr_assert_eq(c->turn_allocs, 1);
	cr_assert_eq(c->allocs, 0);
	cr_assert_eq(c->relay_bytes, 1234);
	cr_assert_eq(c->errors, 1);
	ctl_clients_fini(&t);
	ctl_clients_dht_request(&tu, node, 1); /* fini cleared the current table */
}
