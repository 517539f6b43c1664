/* promotion_admin.c: the `promotions` admin command and the supernode_promotion_* /
 * supernode_load_* metric families (see promotion.h). */
#include "promotion.h"

#include "json.h"
#include "table.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define CLIENTS_SHOWN 64 /* most recently seen clients listed by `promotions` */

static const char *const reach_names[] = {"unknown", "probing", "open", "closed"};

static void ip_of(uint8_t family, const uint8_t *addr, char *s, size_t n)
{
	if (!inet_ntop(family, addr, s, (socklen_t)n))
		snprintf(s, n, "?");
}

static void hex20(const uint8_t *id, char out[41])
{
	for (int i = 0; i < 20; i++)
		snprintf(out + 2 * i, 3, "%02x", id[i]);
}

static void json_decision(struct ctl_json *j, const struct ctl_promo_decision *d)
{
	char ip[INET6_ADDRSTRLEN], node[41];

	ip_of(d->family, d->addr, ip, sizeof(ip));
	hex20(d->node, node);
	ctl_json_obj_begin(j);
	ctl_json_kv_u64(j, "seq", d->seq);
	ctl_json_kv_str(j, "reason", "invited");
	ctl_json_kv_str(j, "addr", ip);
	ctl_json_kv_str(j, "node_id", node);
	ctl_json_kv_u64(j, "issued", (uint64_t)(d->issued_real_ns / CTL_NS_PER_SEC));
	ctl_json_kv_u64(j, "expires", d->expires_real_ns / CTL_NS_PER_SEC);
	ctl_json_kv_u64(j, "load", d->load);
	ctl_json_kv_u64(j, "rank", d->rank);
	ctl_json_kv_u64(j, "candidates", d->candidates);
	ctl_json_kv_double(j, "score", d->score);
	ctl_json_key(j, "inputs");
	ctl_json_obj_begin(j);
	for (int i = 0; i < PI_MAX; i++)
		ctl_json_kv_double(j, ctl_promo_input_names[i], d->inputs[i]);
	ctl_json_obj_end(j);
	ctl_json_key(j, "weights");
	ctl_json_obj_begin(j);
	for (int i = 0; i < PI_MAX; i++)
		ctl_json_kv_u64(j, ctl_promo_input_names[i], d->weights[i]);
	ctl_json_obj_end(j);
	ctl_json_kv_bool(j, "stored", d->stored);
	ctl_json_obj_end(j);
}

static int render_json(struct ctl_promotion *p, struct ctl_buf *out, uint64_t now)
{
	const struct ctl_promo_load *l = &p->load;
	struct ctl_json j;
	uint64_t first;
	int shown = 0;

	ctl_json_init(&j, out);
	ctl_json_obj_begin(&j);
	ctl_json_kv_bool(&j, "enabled", true);
	ctl_json_kv_str(&j, "state", p->hyst.high ? "high" : "low");
	ctl_json_kv_u64(&j, "state_for_s", (now - p->hyst.since_ns) / CTL_NS_PER_SEC);
	ctl_json_kv_u64(&j, "state_changes", p->hyst.changes);
	ctl_json_kv_u64(&j, "load_high", p->cfg.load_high);
	ctl_json_kv_u64(&j, "load_low", p->cfg.load_low);
	ctl_json_kv_u64(&j, "dwell_s", p->cfg.dwell_s);
	ctl_json_key(&j, "load");
	ctl_json_obj_begin(&j);
	ctl_json_kv_u64(&j, "permille", l->load);
	ctl_json_kv_u64(&j, "clients", l->clients);
	ctl_json_kv_u64(&j, "allocations", l->allocations);
	ctl_json_kv_u64(&j, "dht_clients", l->dht_clients);
	ctl_json_kv_u64(&j, "listeners", l->listeners);
	ctl_json_kv_double(&j, "media_kbps", l->media_kbps);
	ctl_json_kv_double(&j, "dht_answer_pps", l->dht_answer_pps);
	ctl_json_kv_double(&j, "dht_rpc_pps", l->dht_rpc_pps);
	ctl_json_kv_double(&j, "dht_maintenance_pps", l->dht_maint_pps);
	ctl_json_kv_u64(&j, "memory_clients_bytes", l->mem_clients);
	ctl_json_kv_u64(&j, "memory_dht_store_bytes", l->mem_dht_store);
	ctl_json_kv_u64(&j, "memory_turn_bytes", l->mem_turn);
	ctl_json_kv_double(&j, "busy_share", l->busy_share);
	ctl_json_obj_end(&j);
	ctl_json_key(&j, "weights");
	ctl_json_obj_begin(&j);
	ctl_json_kv_u64(&j, "uptime", p->cfg.weight_uptime);
	ctl_json_kv_u64(&j, "activity", p->cfg.weight_activity);
	ctl_json_kv_u64(&j, "history", p->cfg.weight_history);
	ctl_json_kv_u64(&j, "bandwidth", p->cfg.weight_bandwidth);
	ctl_json_kv_u64(&j, "trust", p->cfg.weight_trust);
	ctl_json_obj_end(&j);
	ctl_json_key(&j, "candidates");
	ctl_json_obj_begin(&j);
	for (int r = 0; r < CTL_PROMO_REASON_MAX; r++)
		ctl_json_kv_u64(&j, ctl_promo_reason_names[r], p->reasons[r]);
	ctl_json_obj_end(&j);
	ctl_json_kv_u64(&j, "invitations_active", p->active_invites);
	ctl_json_kv_u64(&j, "decisions_total", p->n_decisions);
	ctl_json_kv_u64(&j, "client_table_entries", p->clients.n);
	ctl_json_kv_u64(&j, "client_table_max", p->clients.max);
	ctl_json_kv_u64(&j, "client_entry_bytes", sizeof(struct ctl_client));
	ctl_json_kv_str(&j, "public_key", p->pub_pem);
	ctl_json_key(&j, "decisions");
	ctl_json_arr_begin(&j);
	first = p->n_decisions > CTL_PROMO_LOG ? p->n_decisions - CTL_PROMO_LOG : 0;
	for (uint64_t s = first; s < p->n_decisions; s++)
		json_decision(&j, &p->log[s % CTL_PROMO_LOG]);
	ctl_json_arr_end(&j);
	ctl_json_key(&j, "clients");
	ctl_json_arr_begin(&j);
	for (struct ctl_client *c = p->clients.head; c && shown < CLIENTS_SHOWN; c = c->next) {
		char ip[INET6_ADDRSTRLEN], node[41];
		double in[PI_MAX];
		int sus = ctl_promo_suspect(p, c);
		enum ctl_promo_reason r = ctl_promo_classify(&p->cfg, c, sus, now);

		ctl_promo_inputs(&p->cfg, c, ctl_promo_trust(c), now, in);
		ip_of(c->family, c->addr, ip, sizeof(ip));
		ctl_json_obj_begin(&j);
		ctl_json_kv_str(&j, "addr", ip);
		if (c->has_node) {
			hex20(c->node, node);
			ctl_json_kv_str(&j, "node_id", node);
		}
		ctl_json_kv_str(&j, "status", ctl_promo_reason_names[r]);
		ctl_json_kv_str(&j, "reach", reach_names[c->reach & 3]);
		ctl_json_kv_i64(&j, "suspect", sus);
		ctl_json_kv_u64(&j, "uptime_s",
				(uint64_t)((c->last_ns - c->first_ns) / CTL_NS_PER_SEC));
		ctl_json_kv_u64(&j, "idle_s", (uint64_t)((now - c->last_ns) / CTL_NS_PER_SEC));
		ctl_json_kv_u64(&j, "errors", c->errors);
		ctl_json_kv_u64(&j, "allocations", c->allocs);
		ctl_json_kv_u64(&j, "invitations", c->invitations);
		ctl_json_kv_double(&j, "score", ctl_promo_score(&p->cfg, in));
		ctl_json_key(&j, "inputs");
		ctl_json_obj_begin(&j);
		for (int i = 0; i < PI_MAX; i++)
			ctl_json_kv_double(&j, ctl_promo_input_names[i], in[i]);
		ctl_json_obj_end(&j);
		ctl_json_obj_end(&j);
		shown++;
	}
	ctl_json_arr_end(&j);
	ctl_json_obj_end(&j);
	ctl_buf_putc(out, '\n');
	return ctl_json_finish(&j);
}

static int render_text(struct ctl_promotion *p, struct ctl_buf *out, uint64_t now)
{
	const struct ctl_promo_load *l = &p->load;
	struct ctl_table t;
	uint64_t first;
	int rc;

	ctl_buf_printf(out,
		       "state %s for %" PRIu64 " s (%" PRIu64 " changes); load %u permille "
		       "(high %u, low %u, dwell %u s)\n",
		       p->hyst.high ? "high" : "low",
		       (uint64_t)((now - p->hyst.since_ns) / CTL_NS_PER_SEC), p->hyst.changes,
		       l->load, p->cfg.load_high, p->cfg.load_low, p->cfg.dwell_s);
	ctl_buf_printf(out,
		       "load: clients %" PRIu64 " (allocations %" PRIu64 ", dht clients %" PRIu64
		       ", listeners %" PRIu64 "); media %.1f kbit/s; dht answers %.1f/s, rpc "
		       "%.1f/s, maintenance %.1f/s; busy %.1f%%\n",
		       l->clients, l->allocations, l->dht_clients, l->listeners, l->media_kbps,
		       l->dht_answer_pps, l->dht_rpc_pps, l->dht_maint_pps, l->busy_share * 100);
	ctl_buf_printf(out,
		       "memory: clients %" PRIu64 " B (%u of %u entries, %zu B each), dht store "
		       "%" PRIu64 " B, turn ~%" PRIu64 " B\n",
		       l->mem_clients, p->clients.n, p->clients.max, sizeof(struct ctl_client),
		       l->mem_dht_store, l->mem_turn);
	ctl_buf_printf(out,
		       "weights: uptime %u activity %u history %u bandwidth %u trust %u; "
		       "invitations active %u; decisions %" PRIu64 "\n",
		       p->cfg.weight_uptime, p->cfg.weight_activity, p->cfg.weight_history,
		       p->cfg.weight_bandwidth, p->cfg.weight_trust, p->active_invites,
		       p->n_decisions);
	ctl_buf_puts(out, "clients by status:");
	for (int r = 0; r < CTL_PROMO_REASON_MAX; r++)
		ctl_buf_printf(out, " %s %u", ctl_promo_reason_names[r], p->reasons[r]);
	ctl_buf_puts(out, "\n\n");
	ctl_table_init(&t,
		       "SEQ ADDR NODE LOAD RANK/OF SCORE UPTIME ACTIVITY HISTORY BANDWIDTH TRUST",
		       "rllrrrrrrrr");
	first = p->n_decisions > CTL_PROMO_LOG ? p->n_decisions - CTL_PROMO_LOG : 0;
	for (uint64_t s = first; s < p->n_decisions; s++) {
		const struct ctl_promo_decision *d = &p->log[s % CTL_PROMO_LOG];
		char ip[INET6_ADDRSTRLEN], node[41];

		ip_of(d->family, d->addr, ip, sizeof(ip));
		hex20(d->node, node);
		ctl_table_cell(&t, "%" PRIu64, d->seq);
		ctl_table_cell(&t, "%s", ip);
		ctl_table_cell(&t, "%.12s", node);
		ctl_table_cell(&t, "%u", d->load);
		ctl_table_cell(&t, "%u/%u", d->rank, d->candidates);
		ctl_table_cell(&t, "%.3f", d->score);
		for (int i = 0; i < PI_MAX; i++)
			ctl_table_cell(&t, "%.2fx%u", d->inputs[i], d->weights[i]);
	}
	rc = ctl_table_render(&t, out);
	ctl_table_free(&t);
	return rc;
}

int ctl_promotion_cmd(struct ctl_admin_ctx *ctx, int argc, char **argv, bool json,
		      struct ctl_buf *out)
{
	struct ctl_promotion *p = ctl_promotion_current();
	uint64_t now = ctl_mono_ns();

	(void)ctx;
	(void)argc;
	(void)argv;
	if (!p) {
		if (json) {
			ctl_buf_puts(out, "{\"enabled\":false}\n");
			return out->err;
		}
		ctl_buf_puts(out, "promotion is off (promotion.enabled: false)\n");
		return out->err;
	}
	return json ? render_json(p, out, now) : render_text(p, out, now);
}

/* ---------- metrics ---------- */

static uint64_t ld(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void fam(struct ctl_buf *b, const char *name, const char *type, const char *help)
{
	ctl_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct ctl_buf *b, const char *name, const char *type, const char *help, uint64_t v)
{
	fam(b, name, type, help);
	ctl_buf_printf(b, "%s %" PRIu64 "\n", name, v);
}

void ctl_promotion_metrics_render(struct ctl_buf *out)
{
	struct ctl_promo_stats *s = &ctl_promo_stats;

	if (!ld(&s->enabled))
		return;
	one(out, "supernode_promotion_state", "gauge", "1 while the load state is high",
	    ld(&s->state));
	one(out, "supernode_promotion_state_changes_total", "counter",
	    "Changes between the low and high load states", ld(&s->state_changes));
	fam(out, "supernode_promotion_decisions_total", "counter",
	    "Promotion decisions taken, by reason");
	ctl_buf_printf(out, "supernode_promotion_decisions_total{reason=\"invited\"} %" PRIu64 "\n",
		       ld(&s->decisions[0]));
	one(out, "supernode_promotion_invitations_active", "gauge",
	    "Invitations issued and not yet expired", ld(&s->invitations_active));
	fam(out, "supernode_promotion_candidates", "gauge",
	    "Known clients by promotion status in the last round (eligible or why not)");
	for (int r = 0; r < CTL_PROMO_REASON_MAX; r++)
		ctl_buf_printf(out, "supernode_promotion_candidates{reason=\"%s\"} %" PRIu64 "\n",
			       ctl_promo_reason_names[r], ld(&s->candidates[r]));
	one(out, "supernode_promotion_clients", "gauge", "Entries in the per-client table",
	    ld(&s->clients));
	one(out, "supernode_promotion_client_evictions_total", "counter",
	    "Clients forgotten to make room in the per-client table", ld(&s->evictions));
	fam(out, "supernode_promotion_probes_total", "counter",
	    "Dial-back probes sent, and their outcomes (open, closed)");
	ctl_buf_printf(out, "supernode_promotion_probes_total{reason=\"sent\"} %" PRIu64 "\n",
		       ld(&s->probes_sent));
	ctl_buf_printf(out, "supernode_promotion_probes_total{reason=\"open\"} %" PRIu64 "\n",
		       ld(&s->probes_open));
	ctl_buf_printf(out, "supernode_promotion_probes_total{reason=\"closed\"} %" PRIu64 "\n",
		       ld(&s->probes_closed));
	one(out, "supernode_promotion_store_errors_total", "counter",
	    "Invitations that could not be signed or stored in the DHT storage",
	    ld(&s->store_errors));
	one(out, "supernode_load_permille", "gauge",
	    "Appliance load: the largest of clients, media and busy share against capacity",
	    ld(&s->load_permille));
	one(out, "supernode_load_clients", "gauge",
	    "Clients attached: TURN allocations + DHT clients + listeners", ld(&s->load_clients));
	one(out, "supernode_load_allocations", "gauge", "TURN allocations",
	    ld(&s->load_allocations));
	one(out, "supernode_load_dht_clients", "gauge",
	    "Clients that sent DHT requests in the last 2 minutes", ld(&s->load_dht_clients));
	one(out, "supernode_load_dht_listeners", "gauge", "DHT listeners", ld(&s->load_listeners));
	one(out, "supernode_load_media_kbps", "gauge",
	    "Relayed media over the last interval, kbit/s", ld(&s->load_media_kbps));
	fam(out, "supernode_load_dht_packets_per_second", "gauge",
	    "DHT traffic over the last interval by class (answer: fast path, rpc: control "
	    "answers, maintenance: control's own pings and finds)");
	ctl_buf_printf(
	    out,
	    "supernode_load_dht_packets_per_second{reason=\"answer\"} %" PRIu64 "\n"
	    "supernode_load_dht_packets_per_second{reason=\"rpc\"} %" PRIu64 "\n"
	    "supernode_load_dht_packets_per_second{reason=\"maintenance\"} %" PRIu64 "\n",
	    ld(&s->load_dht_answer_pps), ld(&s->load_dht_rpc_pps), ld(&s->load_dht_maint_pps));
	fam(out, "supernode_load_memory_bytes", "gauge", "Memory of control's tables, by table");
	ctl_buf_printf(out,
		       "supernode_load_memory_bytes{reason=\"clients\"} %" PRIu64 "\n"
		       "supernode_load_memory_bytes{reason=\"dht_store\"} %" PRIu64 "\n"
		       "supernode_load_memory_bytes{reason=\"turn\"} %" PRIu64 "\n",
		       ld(&s->mem_clients), ld(&s->mem_dht_store), ld(&s->mem_turn));
	one(out, "supernode_load_busy_permille", "gauge",
	    "Workers' busy polls per thousand polls over the last interval", ld(&s->busy_permille));
}
