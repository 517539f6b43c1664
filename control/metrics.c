#include "metrics.h"
#include "dht.h"
#include "guard.h"
#include "promotion.h"
#include "trust.h"
#include "stats_reader.h"
#include "turn.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* "# HELP" and "# TYPE" lines of one family. Help texts are constants without '\' or '\n'. */
static void family(struct ctl_buf *b, const char *name, const char *type, const char *help)
{
	ctl_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value, escaped as the exposition format requires (\\, \", \n). */
static void label_value(struct ctl_buf *b, const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '\\':
			ctl_buf_puts(b, "\\\\");
			break;
		case '"':
			ctl_buf_puts(b, "\\\"");
			break;
		case '\n':
			ctl_buf_puts(b, "\\n");
			break;
		default:
			ctl_buf_putc(b, s[i]);
		}
	}
}

/* Nanoseconds as seconds with full precision. */
static void seconds(struct ctl_buf *b, uint64_t ns)
{
	ctl_buf_printf(b, "%" PRIu64 ".%09" PRIu64, (uint64_t)(ns / 1000000000u),
		       (uint64_t)(ns % 1000000000u));
}

static void sample_u64(struct ctl_buf *b, const char *name, uint64_t v)
{
	ctl_buf_printf(b, "%s %" PRIu64 "\n", name, v);
}

static void gauge_u64(struct ctl_buf *b, const char *name, const char *help, uint64_t v)
{
	family(b, name, "gauge", help);
	sample_u64(b, name, v);
}

static void counter_u64(struct ctl_buf *b, const char *name, const char *help, uint64_t v)
{
	family(b, name, "counter", help);
	sample_u64(b, name, v);
}

/* --- control's own --- */

static void render_control(struct ctl_buf *b, const struct ctl_counters *c)
{
	gauge_u64(b, "supernode_control_up", "1 while supernode-control is serving metrics", 1);
	family(b, "supernode_control_start_time_seconds", "gauge",
	       "Start time of supernode-control since the Unix epoch");
	ctl_buf_puts(b, "supernode_control_start_time_seconds ");
	seconds(b, c->start_time_ns);
	ctl_buf_putc(b, '\n');
	gauge_u64(b, "supernode_control_channel_connected",
		  "1 while control is connected to the dataplane's channel",
		  ctl_ctr_get(&c->channel_connected));
	counter_u64(b, "supernode_control_channel_connects_total",
		    "Channel connections established to the dataplane",
		    ctl_ctr_get(&c->channel_connects));
	counter_u64(b, "supernode_control_resyncs_total",
		    "Full table dumps received from the dataplane", ctl_ctr_get(&c->resyncs));
	counter_u64(b, "supernode_control_channel_rx_messages_total",
		    "Channel messages received from the dataplane", ctl_ctr_get(&c->rx_msgs));
	counter_u64(b, "supernode_control_channel_tx_messages_total",
		    "Channel messages sent to the dataplane", ctl_ctr_get(&c->tx_msgs));

	family(b, "supernode_control_channel_errors_total", "counter",
	       "Channel problems seen by control, by reason");
	for (int i = 0; i < CTL_ERR_MAX; i++)
		ctl_buf_printf(
		    b, "supernode_control_channel_errors_total{reason=\"%s\"} %" PRIu64 "\n",
		    ctl_chan_error_names[i], ctl_ctr_get(&c->errors[i]));
	family(b, "supernode_control_punts_received_total", "counter",
	       "Punted packets received from the dataplane, by reason");
	for (int i = 0; i < SN_PUNT_MAX; i++)
		ctl_buf_printf(
		    b, "supernode_control_punts_received_total{reason=\"%s\"} %" PRIu64 "\n",
		    sn_punt_reason_names[i], ctl_ctr_get(&c->punts[i]));
	family(b, "supernode_control_punts_unhandled_total", "counter",
	       "Punted packets no control handler took, by reason");
	for (int i = 0; i < SN_PUNT_MAX; i++)
		ctl_buf_printf(
		    b, "supernode_control_punts_unhandled_total{reason=\"%s\"} %" PRIu64 "\n",
		    sn_punt_reason_names[i], ctl_ctr_get(&c->punts_unhandled[i]));
	counter_u64(b, "supernode_control_echo_replies_total", "Diagnostic echo replies injected",
		    ctl_ctr_get(&c->echo_replies));
	gauge_u64(b, "supernode_control_dump_entries", "Table entries received in the last resync",
		  ctl_ctr_get(&c->dump_entries));
	counter_u64(b, "supernode_control_config_reloads_total",
		    "Config reloads applied (SIGHUP or supernodectl reload)",
		    ctl_ctr_get(&c->config_reloads));
	counter_u64(b, "supernode_control_config_reload_errors_total",
		    "Config reloads rejected: invalid file or a module refused",
		    ctl_ctr_get(&c->config_reload_errors));
	family(b, "supernode_control_config_last_reload_success_timestamp_seconds", "gauge",
	       "Time of the last successful config load or reload since the Unix epoch");
	ctl_buf_puts(b, "supernode_control_config_last_reload_success_timestamp_seconds ");
	seconds(b, ctl_ctr_get(&c->config_last_success_ns));
	ctl_buf_putc(b, '\n');
	gauge_u64(b, "supernode_control_config_last_reload_successful",
		  "1 when the last config load or reload succeeded, 0 when it was rejected",
		  ctl_ctr_get(&c->config_last_ok));
	gauge_u64(b, "supernode_control_config_restart_required",
		  "1 when the config file changes fields that only a restart applies",
		  ctl_ctr_get(&c->config_restart_required));
}

/* --- TURN (control's side; relayed packets and bytes are dataplane lcore counters) --- */

static void render_turn(struct ctl_buf *b, const struct ctl_turn_counters *c)
{
	gauge_u64(b, "supernode_turn_allocations", "TURN allocations held",
		  ctl_ctr_get(&c->allocations));
	gauge_u64(b, "supernode_turn_permissions", "TURN permissions, all allocations",
		  ctl_ctr_get(&c->permissions));
	gauge_u64(b, "supernode_turn_channels", "TURN channel bindings, all allocations",
		  ctl_ctr_get(&c->channels));
	family(b, "supernode_turn_requests_total", "counter",
	       "TURN requests handled by control, by method");
	for (int m = 0; m < CTL_TURN_M_MAX; m++)
		ctl_buf_printf(b, "supernode_turn_requests_total{method=\"%s\"} %" PRIu64 "\n",
			       ctl_turn_method_names[m], ctl_ctr_get(&c->requests[m]));
	family(b, "supernode_turn_request_errors_total", "counter",
	       "TURN error responses sent, by method and error");
	for (int m = 0; m < CTL_TURN_M_MAX; m++)
		for (int e = 0; e < CTL_TURN_E_MAX; e++)
			ctl_buf_printf(b,
				       "supernode_turn_request_errors_total{method=\"%s\","
				       "reason=\"%s\"} %" PRIu64 "\n",
				       ctl_turn_method_names[m], ctl_turn_error_names[e],
				       ctl_ctr_get(&c->request_errors[m][e]));
	family(b, "supernode_turn_auth_failures_total", "counter",
	       "TURN requests that did not authenticate, by reason");
	for (int r = 0; r < CTL_TURN_AF_MAX; r++)
		ctl_buf_printf(b, "supernode_turn_auth_failures_total{reason=\"%s\"} %" PRIu64 "\n",
			       ctl_turn_auth_failure_names[r], ctl_ctr_get(&c->auth_failures[r]));
	family(b, "supernode_turn_dropped_total", "counter",
	       "Punted TURN messages control dropped without an answer, by reason");
	for (int r = 0; r < CTL_TURN_D_MAX; r++)
		ctl_buf_printf(b, "supernode_turn_dropped_total{reason=\"%s\"} %" PRIu64 "\n",
			       ctl_turn_drop_names[r], ctl_ctr_get(&c->drops[r]));
	counter_u64(b, "supernode_turn_minimal_answers_total",
		    "Unauthenticated TURN answers shrunk to fit under the request",
		    ctl_ctr_get(&c->minimal_answers));
	counter_u64(b, "supernode_turn_allocations_created_total", "TURN allocations created",
		    ctl_ctr_get(&c->allocations_created));
	counter_u64(b, "supernode_turn_allocations_expired_total",
		    "TURN allocations removed because their lifetime ended",
		    ctl_ctr_get(&c->allocations_expired));
	counter_u64(b, "supernode_turn_allocations_adopted_total",
		    "TURN allocations taken over from the dataplane's dump after a control restart",
		    ctl_ctr_get(&c->allocations_adopted));
	counter_u64(b, "supernode_turn_table_commands_total",
		    "TURN table commands sent to the dataplane", ctl_ctr_get(&c->table_commands));
	family(b, "supernode_turn_table_errors_total", "counter",
	       "Problems keeping the dataplane's TURN tables in step, by reason");
	for (int r = 0; r < CTL_TURN_T_MAX; r++)
		ctl_buf_printf(b, "supernode_turn_table_errors_total{reason=\"%s\"} %" PRIu64 "\n",
			       ctl_turn_table_error_names[r], ctl_ctr_get(&c->table_errors[r]));
}

/* --- dataplane: per-lcore blocks --- */

static void render_lcores(struct ctl_buf *b, const struct sn_stats_segment *seg)
{
	uint32_t n = ctl_stats_n_lcores(seg);
	char name[128];

	for (int c = 0; c < SN_CTR_MAX; c++) {
		snprintf(name, sizeof(name), "supernode_dataplane_%s_total",
			 sn_lcore_counter_names[c]);
		family(b, name, "counter", sn_lcore_counter_help[c]);
		for (uint32_t i = 0; i < n; i++)
			ctl_buf_printf(b, "%s{lcore=\"%u\"} %" PRIu64 "\n", name, seg->lcore_ids[i],
				       ctl_stats_load(&seg->lcores[i].counters[c]));
	}
	family(b, "supernode_dataplane_drops_total", "counter", "Packets dropped, by reason");
	for (uint32_t i = 0; i < n; i++)
		for (int r = 0; r < SN_DROP_MAX; r++)
			ctl_buf_printf(
			    b,
			    "supernode_dataplane_drops_total{lcore=\"%u\",reason=\"%s\"} "
			    "%" PRIu64 "\n",
			    seg->lcore_ids[i], sn_drop_reason_names[r],
			    ctl_stats_load(&seg->lcores[i].drops[r]));
	family(b, "supernode_dataplane_punts_total", "counter",
	       "Packets punted to control, by reason");
	for (uint32_t i = 0; i < n; i++)
		for (int r = 0; r < SN_PUNT_MAX; r++)
			ctl_buf_printf(
			    b,
			    "supernode_dataplane_punts_total{lcore=\"%u\",reason=\"%s\"} "
			    "%" PRIu64 "\n",
			    seg->lcore_ids[i], sn_punt_reason_names[r],
			    ctl_stats_load(&seg->lcores[i].punts[r]));
	family(b, "supernode_dataplane_busy_cycles_total", "counter",
	       "TSC cycles spent in poll rounds that received packets");
	for (uint32_t i = 0; i < n; i++)
		ctl_buf_printf(b,
			       "supernode_dataplane_busy_cycles_total{lcore=\"%u\"} %" PRIu64 "\n",
			       seg->lcore_ids[i], ctl_stats_load(&seg->lcores[i].poll_cycles_busy));
	family(b, "supernode_dataplane_poll_cycles_total", "counter",
	       "TSC cycles spent in the poll loop");
	for (uint32_t i = 0; i < n; i++)
		ctl_buf_printf(
		    b, "supernode_dataplane_poll_cycles_total{lcore=\"%u\"} %" PRIu64 "\n",
		    seg->lcore_ids[i], ctl_stats_load(&seg->lcores[i].poll_cycles_total));
}

/* --- dataplane: gauges group --- */

static void render_gauges(struct ctl_buf *b, const struct sn_stats_gauges *g)
{
	static const struct {
		const char *name;
		const char *type;
		const char *help;
		size_t off;
	} rows[] = {
#define ROW(n, t, h, f) {n, t, h, offsetof(struct sn_stats_gauges, f)}
	    ROW("supernode_dataplane_mempool_mbufs", "gauge", "Mbufs in the packet pool",
		mempool_size),
	    ROW("supernode_dataplane_mempool_in_use_mbufs", "gauge",
		"Mbufs of the packet pool in use", mempool_in_use),
	    ROW("supernode_dataplane_channel_connected", "gauge",
		"1 while a control is connected to the dataplane", channel_connected),
	    ROW("supernode_dataplane_channel_connects_total", "counter",
		"Controls accepted by the dataplane", channel_connects),
	    ROW("supernode_dataplane_channel_rx_messages_total", "counter",
		"Channel messages the dataplane received", channel_rx_msgs),
	    ROW("supernode_dataplane_channel_tx_messages_total", "counter",
		"Channel messages the dataplane sent", channel_tx_msgs),
	    ROW("supernode_dataplane_channel_rx_errors_total", "counter",
		"Malformed channel messages the dataplane received", channel_rx_errors),
	    ROW("supernode_dataplane_channel_tx_errors_total", "counter",
		"Channel sends of the dataplane that failed", channel_tx_errors),
	    ROW("supernode_dataplane_table_commands_total", "counter",
		"Table commands the dataplane applied", table_cmds),
	    ROW("supernode_dataplane_table_command_errors_total", "counter",
		"Table commands the dataplane refused", table_cmd_errors),
	    ROW("supernode_dataplane_rcu_grace_periods_total", "counter",
		"RCU grace periods waited for by the table writer", rcu_grace_periods),
	    ROW("supernode_dataplane_rcu_deferred_frees_total", "counter",
		"Old table versions freed after a grace period", rcu_deferred_frees),
	    ROW("supernode_dataplane_dispatch_entries", "gauge",
		"Entries in the UDP dispatch table", dispatch_entries),
	    ROW("supernode_dataplane_neigh_entries", "gauge", "Entries in the neighbour table",
		neigh_entries),
	    ROW("supernode_dataplane_punt_ring_packets", "gauge",
		"Punted packets waiting for the main lcore", punt_ring_used),
	    ROW("supernode_guard_policer_entries", "gauge",
		"Guard policer entries in use, all workers (bounded by the capacity)",
		guard_entries),
	    ROW("supernode_guard_policer_capacity", "gauge",
		"Guard policer entries allocated at start, all workers", guard_capacity),
	    ROW("supernode_guard_policer_bytes", "gauge",
		"Bytes of the guard policer tables, all workers", guard_table_bytes),
	    ROW("supernode_guard_dataplane_bans", "gauge",
		"Bans and suspect marks in the dataplane's guard table", guard_bans),
#undef ROW
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint64_t v;

		memcpy(&v, (const char *)g + rows[i].off, sizeof(v));
		family(b, rows[i].name, rows[i].type, rows[i].help);
		sample_u64(b, rows[i].name, v);
	}
}

/* --- ports --- */

static void render_ports(struct ctl_buf *b, const struct sn_stats_port *ports, uint32_t n)
{
	static const struct {
		const char *name;
		const char *type;
		const char *help;
		size_t off;
		int kind; /* 0: uint64_t field, 1: link_up, 2: link speed (Mbit/s -> bytes/s) */
	} rows[] = {
#define ROW(n, t, h, f) {n, t, h, offsetof(struct sn_stats_port, f), 0}
	    ROW("supernode_port_rx_packets_total", "counter", "Packets received by the port",
		ipackets),
	    ROW("supernode_port_tx_packets_total", "counter", "Packets sent by the port", opackets),
	    ROW("supernode_port_rx_bytes_total", "counter", "Bytes received by the port", ibytes),
	    ROW("supernode_port_tx_bytes_total", "counter", "Bytes sent by the port", obytes),
	    ROW("supernode_port_rx_missed_packets_total", "counter",
		"Packets the port dropped because the rx queues were full", imissed),
	    ROW("supernode_port_rx_errors_total", "counter", "Erroneous packets received", ierrors),
	    ROW("supernode_port_tx_errors_total", "counter", "Packets the port failed to send",
		oerrors),
	    ROW("supernode_port_rx_nombuf_total", "counter",
		"Receive mbuf allocation failures of the port", rx_nombuf),
#undef ROW
	    {"supernode_port_link_up", "gauge", "1 when the port's link is up", 0, 1},
	    {"supernode_port_link_speed_bytes", "gauge",
	     "Link speed of the port in bytes per second", 0, 2},
	};

	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		family(b, rows[r].name, rows[r].type, rows[r].help);
		for (uint32_t i = 0; i < n; i++) {
			uint64_t v;

			if (rows[r].kind == 1)
				v = ports[i].link_up ? 1 : 0;
			else if (rows[r].kind == 2)
				v = (uint64_t)ports[i].link_speed_mbps * 125000ull;
			else
				memcpy(&v, (const char *)&ports[i] + rows[r].off, sizeof(v));
			ctl_buf_printf(b, "%s{port=\"", rows[r].name);
			if (ports[i].name[0])
				label_value(b, ports[i].name, sizeof(ports[i].name));
			else
				ctl_buf_printf(b, "%u", i);
			ctl_buf_printf(b, "\"} %" PRIu64 "\n", v);
		}
	}
}

int ctl_metrics_render(struct ctl_buf *out, const struct sn_stats_segment *seg,
		       const struct ctl_counters *ctr, uint64_t now_real_ns)
{
	struct sn_stats_gauges g;
	struct sn_stats_port ports[SN_STATS_MAX_PORTS];
	uint32_t n_ports = 0;
	bool up = seg && ctl_stats_alive(seg, now_real_ns, CTL_DATAPLANE_MAX_HEARTBEAT_AGE_NS);

	gauge_u64(out, "supernode_dataplane_up",
		  "1 when the dataplane's stats segment exists and its heartbeat is recent", up);
	if (seg) {
		uint64_t epoch = ctl_stats_load(&seg->epoch);
		uint64_t hb = ctl_stats_load(&seg->heartbeat_ns);

		family(out, "supernode_dataplane_start_time_seconds", "gauge",
		       "Start time of the dataplane since the Unix epoch");
		ctl_buf_puts(out, "supernode_dataplane_start_time_seconds ");
		seconds(out, epoch);
		ctl_buf_putc(out, '\n');
		if (hb) {
			family(out, "supernode_dataplane_heartbeat_age_seconds", "gauge",
			       "Time since the dataplane last updated its stats segment");
			ctl_buf_puts(out, "supernode_dataplane_heartbeat_age_seconds ");
			seconds(out, now_real_ns > hb ? now_real_ns - hb : 0);
			ctl_buf_putc(out, '\n');
		}
		render_lcores(out, seg);
		/* A writer stuck mid-update (dataplane died) leaves seq odd: skip the group. */
		if (sn_stats_read_gauges(seg, &g, ports, &n_ports) == 0) {
			render_gauges(out, &g);
			render_ports(out, ports, n_ports);
		}
	}
	render_control(out, ctr);
	ctl_dht_metrics_render(out);
	ctl_guard_metrics_render(out);
	ctl_promotion_metrics_render(out);
	ctl_trust_metrics_render(out);
	if (ctr->turn)
		render_turn(out, ctr->turn);
	return out->err;
}
