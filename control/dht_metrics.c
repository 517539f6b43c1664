/* dht_metrics.c: the supernode_dht_* families of /metrics (see dht.h). Kept apart from dht.c
 * so that metrics.c needs nothing but the counters. */
#include "dht.h"

#include <inttypes.h>

#include "counters.h"

struct ctl_dht_stats ctl_dht_stats;

static const char *const error_names[CTL_DHT_E_MAX] = {
#define CTL_X_NAME(name, label) label,
    CTL_DHT_ERRORS(CTL_X_NAME)
#undef CTL_X_NAME
};

static const char *const drop_names[] = {
#define CTL_X_NAME(name, label) label,
    CTL_DHT_DROPS(CTL_X_NAME)
#undef CTL_X_NAME
};

static const char *const join_names[CTL_DHT_J_MAX] = {
#define CTL_X_NAME(name, label) label,
    CTL_DHT_JOINS(CTL_X_NAME)
#undef CTL_X_NAME
};

static const char *const eviction_names[CTL_DHT_EV_MAX] = {
#define CTL_X_NAME(name, label) label,
    CTL_DHT_EVICTIONS(CTL_X_NAME)
#undef CTL_X_NAME
};

static void head(struct ctl_buf *b, const char *name, const char *type, const char *help)
{
	ctl_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct ctl_buf *b, const char *name, const char *type, const char *help,
		const uint64_t *v)
{
	head(b, name, type, help);
	ctl_buf_printf(b, "%s %" PRIu64 "\n", name, ctl_ctr_get(v));
}

/* The reason label of drop index i (parse reasons without "ok", then control's). */
static const char *drop_label(unsigned i)
{
	if (i + 1 < SN_DHT_R_MAX)
		return sn_dht_reason_names[i + 1];
	return drop_names[i - (SN_DHT_R_MAX - 1)];
}

void ctl_dht_metrics_render(struct ctl_buf *b)
{
	struct ctl_dht_stats *s = &ctl_dht_stats;

	one(b, "supernode_dht_up", "gauge", "1 when control runs the OpenDHT node", &s->enabled);
	head(b, "supernode_dht_requests_total", "counter",
	     "OpenDHT queries handled by control, by method");
	for (int q = 1; q < SN_DHT_Q_MAX; q++)
		ctl_buf_printf(b, "supernode_dht_requests_total{method=\"%s\"} %" PRIu64 "\n",
			       sn_dht_query_names[q], ctl_ctr_get(&s->requests[q]));
	head(b, "supernode_dht_request_errors_total", "counter",
	     "OpenDHT queries control refused or could not fully serve, by method and reason");
	for (int q = 1; q < SN_DHT_Q_MAX; q++)
		for (int e = 0; e < CTL_DHT_E_MAX; e++)
			ctl_buf_printf(
			    b,
			    "supernode_dht_request_errors_total{method=\"%s\",reason=\"%s\"} "
			    "%" PRIu64 "\n",
			    sn_dht_query_names[q], error_names[e], ctl_ctr_get(&s->errors[q][e]));
	head(b, "supernode_dht_dropped_total", "counter",
	     "OpenDHT datagrams control dropped without an answer, by reason");
	for (unsigned i = 0; i < CTL_DHT_D_MAX; i++)
		ctl_buf_printf(b, "supernode_dht_dropped_total{reason=\"%s\"} %" PRIu64 "\n",
			       drop_label(i), ctl_ctr_get(&s->dropped[i]));
	one(b, "supernode_dht_nodes_ipv4", "gauge", "Good IPv4 nodes in the routing table",
	    &s->nodes[0]);
	one(b, "supernode_dht_nodes_ipv6", "gauge", "Good IPv6 nodes in the routing table",
	    &s->nodes[1]);
	one(b, "supernode_dht_dataplane_nodes", "gauge",
	    "Nodes the dataplane hands out in find answers", &s->nodes_pushed);
	head(b, "supernode_dht_joins_total", "counter",
	     "Nodes asking to enter the routing table (and the find answers), by decision");
	for (int i = 0; i < CTL_DHT_J_MAX; i++)
		ctl_buf_printf(b, "supernode_dht_joins_total{reason=\"%s\"} %" PRIu64 "\n",
			       join_names[i], ctl_ctr_get(&s->joins[i]));
	head(b, "supernode_dht_evictions_total", "counter",
	     "Nodes removed from the routing table (and the find answers), by reason");
	for (int i = 0; i < CTL_DHT_EV_MAX; i++)
		ctl_buf_printf(b, "supernode_dht_evictions_total{reason=\"%s\"} %" PRIu64 "\n",
			       eviction_names[i], ctl_ctr_get(&s->evictions[i]));
	one(b, "supernode_dht_vouches_total", "counter",
	    "Signed vouches (key supernode-vouch) passed to the trust graph", &s->vouches);
	one(b, "supernode_dht_stored_values", "gauge", "Values stored", &s->stored_values);
	one(b, "supernode_dht_stored_bytes", "gauge", "Bytes of stored values (Value::size)",
	    &s->stored_bytes);
	one(b, "supernode_dht_stored_keys", "gauge", "Keys holding values or listeners",
	    &s->stored_keys);
	one(b, "supernode_dht_listeners", "gauge", "Listeners being served", &s->listeners);
	one(b, "supernode_dht_pushes_total", "counter", "Update messages sent to listeners",
	    &s->pushes);
	one(b, "supernode_dht_expired_values_total", "counter", "Values removed at expiry",
	    &s->expired_values);
	one(b, "supernode_dht_state_installs_total", "counter",
	    "DHT_STATE (node id, token secrets) installed in the dataplane", &s->state_installs);
	one(b, "supernode_dht_token_rotations_total", "counter", "Write-token secret rotations",
	    &s->token_rotations);
	one(b, "supernode_dht_pings_sent_total", "counter",
	    "Pings sent for liveness checks and bootstrap", &s->pings_sent);
	one(b, "supernode_dht_finds_sent_total", "counter",
	    "Finds sent for bootstrap and bucket refresh", &s->finds_sent);
	one(b, "supernode_dht_request_timeouts_total", "counter",
	    "Requests of ours that got no answer", &s->request_timeouts);
	one(b, "supernode_dht_seen_total", "counter",
	    "Samples of dataplane-answered requests received", &s->seen);
	one(b, "supernode_dht_fragments_sent_total", "counter", "Value fragments (p) sent",
	    &s->fragments_sent);
}
