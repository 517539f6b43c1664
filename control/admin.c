#include "admin.h"
#include "dht.h"
#include "guard.h"
#include "json.h"
#include "metrics.h"
#include "promotion.h"
#include "trust.h"
#include "reload.h"
#include "turn.h"
#include "sn_log.h"
#include "table.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define DISPATCH_LIST_MAX 4096 /* entries listed by `dispatch` */

struct admin_cmd {
	const char *name;
	const char *args; /* for help */
	const char *help;
	int (*fn)(struct ctl_admin_ctx *ctx, int argc, char **argv, bool json, struct ctl_buf *out);
};

static const struct admin_cmd admin_cmds[];

/* ---------- helpers ---------- */

/* Replaces whatever the command wrote with an error reply. Returns err. */
static int __attribute__((format(printf, 4, 5)))
reply_error(struct ctl_buf *out, bool json, int err, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctl_buf_reset(out);
	if (json) {
		struct ctl_json j;

		ctl_json_init(&j, out);
		ctl_json_obj_begin(&j);
		ctl_json_kv_str(&j, "error", msg);
		ctl_json_kv_i64(&j, "errno", err);
		ctl_json_obj_end(&j);
		ctl_buf_putc(out, '\n');
	} else {
		ctl_buf_printf(out, "error: %s\n", msg);
	}
	return err;
}

static void fmt_duration(char *s, size_t n, uint64_t ns)
{
	uint64_t t = ns / CTL_NS_PER_SEC;
	unsigned d = (unsigned)(t / 86400), h = (unsigned)(t / 3600 % 24);
	unsigned m = (unsigned)(t / 60 % 60), sec = (unsigned)(t % 60);

	if (d)
		snprintf(s, n, "%ud%02uh%02um%02us", d, h, m, sec);
	else if (h)
		snprintf(s, n, "%uh%02um%02us", h, m, sec);
	else if (m)
		snprintf(s, n, "%um%02us", m, sec);
	else
		snprintf(s, n, "%us", sec);
}

static double ratio_pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* True when prev and cur can give rates; *dt_s gets the interval. */
static bool have_rates(const struct ctl_admin_ctx *ctx, uint64_t epoch, double *dt_s)
{
	const struct ctl_admin_sample *p = &ctx->prev, *c = &ctx->cur;

	if (!p->t_ns || !c->t_ns || c->t_ns <= p->t_ns || p->epoch != c->epoch || c->epoch != epoch)
		return false;
	*dt_s = (double)(c->t_ns - p->t_ns) / 1e9;
	return true;
}

static double rate(uint64_t a, uint64_t b, double dt_s)
{
	return b >= a ? (double)(b - a) / dt_s : 0.0;
}

/* ---------- status ---------- */

struct dp_info {
	bool known; /* HELLO or stats segment seen */
	bool up;    /* heartbeat recent */
	bool hello; /* values from the current HELLO */
	uint32_t pid;
	uint64_t epoch; /* ns since the Unix epoch */
	unsigned workers;
	unsigned ports;
	const char *build;
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes, drops, punts;
	bool have_stats;
};

static void dp_info_get(struct ctl_admin_ctx *ctx, const struct sn_stats_segment *seg,
			uint64_t now_real, struct dp_info *d)
{
	const struct ctl_chan *ch = ctx->chan;

	memset(d, 0, sizeof(*d));
	d->build = "";
	if (seg) {
		uint32_t n = ctl_stats_n_lcores(seg);

		d->known = true;
		d->have_stats = true;
		d->up = ctl_stats_alive(seg, now_real, CTL_DATAPLANE_MAX_HEARTBEAT_AGE_NS);
		d->pid = seg->pid;
		d->epoch = ctl_stats_load(&seg->epoch);
		d->ports = seg->n_ports > SN_STATS_MAX_PORTS ? SN_STATS_MAX_PORTS : seg->n_ports;
		for (uint32_t i = 0; i < n; i++) {
			const struct sn_stats_lcore *l = &seg->lcores[i];

			d->workers += seg->lcore_is_worker[i] ? 1 : 0;
			d->rx_packets += ctl_stats_load(&l->counters[SN_CTR_RX_PACKETS]);
			d->rx_bytes += ctl_stats_load(&l->counters[SN_CTR_RX_BYTES]);
			d->tx_packets += ctl_stats_load(&l->counters[SN_CTR_TX_PACKETS]);
			d->tx_bytes += ctl_stats_load(&l->counters[SN_CTR_TX_BYTES]);
			for (int r = 0; r < SN_DROP_MAX; r++)
				d->drops += ctl_stats_load(&l->drops[r]);
			for (int r = 0; r < SN_PUNT_MAX; r++)
				d->punts += ctl_stats_load(&l->punts[r]);
		}
	}
	/* the live HELLO wins over the segment for identity and sizes */
	if (ch && ch->have_hello && ch->state != CTL_CHAN_DISCONNECTED) {
		d->known = true;
		d->hello = true;
		d->pid = ch->dp_pid;
		d->epoch = ch->dp_epoch;
		d->workers = ch->dp_workers;
		d->ports = ch->dp_ports;
		d->build = ch->dp_build;
	}
}

static uint64_t chan_errors(const struct ctl_counters *c)
{
	uint64_t n = 0;

	for (int i = 0; i < CTL_ERR_MAX; i++)
		n += ctl_ctr_get(&c->errors[i]);
	return n;
}

static int cmd_status(struct ctl_admin_ctx *ctx, int argc, char **argv, bool json,
		      struct ctl_buf *out)
{
	const struct sn_stats_segment *seg = ctl_stats_reader_get(&ctx->reader);
	const struct ctl_chan *ch = ctx->chan;
	uint64_t now = ctl_mono_ns(), now_real = ctl_real_ns();
	enum ctl_chan_state st = ch ? ch->state : CTL_CHAN_DISCONNECTED;
	uint64_t dp_uptime = 0;
	struct dp_info d;
	char t1[32], t2[32];

	dp_info_get(ctx, seg, now_real, &d);
	if (d.epoch && now_real > d.epoch)
		dp_uptime = now_real - d.epoch;
	if (json) {
		struct ctl_json j;

		ctl_json_init(&j, out);
		ctl_json_obj_begin(&j);
		ctl_json_key(&j, "control");
		ctl_json_obj_begin(&j);
		ctl_json_kv_u64(&j, "pid", (uint64_t)getpid());
		ctl_json_kv_str(&j, "version", SN_VERSION);
		ctl_json_kv_double(&j, "uptime_seconds", (double)(now - ctx->start_mono_ns) / 1e9);
		ctl_json_kv_double(&j, "start_time_seconds", (double)ctx->start_real_ns / 1e9);
		ctl_json_obj_end(&j);

		ctl_json_key(&j, "channel");
		ctl_json_obj_begin(&j);
		ctl_json_kv_str(&j, "state", ctl_chan_state_name(st));
		ctl_json_kv_bool(&j, "connected", st != CTL_CHAN_DISCONNECTED);
		ctl_json_kv_double(
		    &j, "connected_seconds",
		    st != CTL_CHAN_DISCONNECTED ? (double)(now - ch->connected_ns) / 1e9 : 0.0);
		ctl_json_kv_u64(&j, "connects", ctl_ctr_get(&ctx->ctr->channel_connects));
		ctl_json_kv_u64(&j, "resyncs", ctl_ctr_get(&ctx->ctr->resyncs));
		ctl_json_kv_u64(&j, "rx_messages", ctl_ctr_get(&ctx->ctr->rx_msgs));
		ctl_json_kv_u64(&j, "tx_messages", ctl_ctr_get(&ctx->ctr->tx_msgs));
		ctl_json_kv_u64(&j, "errors", chan_errors(ctx->ctr));
		ctl_json_obj_end(&j);

		ctl_json_key(&j, "dataplane");
		ctl_json_obj_begin(&j);
		ctl_json_kv_bool(&j, "known", d.known);
		ctl_json_kv_bool(&j, "up", d.up);
		if (d.known) {
			ctl_json_kv_u64(&j, "pid", d.pid);
			ctl_json_kv_u64(&j, "epoch_ns", d.epoch);
			ctl_json_kv_double(&j, "uptime_seconds", (double)dp_uptime / 1e9);
			ctl_json_kv_u64(&j, "workers", d.workers);
			ctl_json_kv_u64(&j, "ports", d.ports);
			if (d.hello)
				ctl_json_kv_str(&j, "build", d.build);
		}
		ctl_json_kv_bool(&j, "stats_segment", d.have_stats);
		ctl_json_obj_end(&j);

		ctl_json_key(&j, "dispatch");
		ctl_json_obj_begin(&j);
		ctl_json_kv_u64(&j, "last_resync_entries", ch ? ch->last_dump_entries : 0);
		ctl_json_kv_u64(&j, "udp_dispatch_entries", ch ? ch->dispatch_entries : 0);
		ctl_json_obj_end(&j);

		ctl_json_key(&j, "totals");
		ctl_json_obj_begin(&j);
		ctl_json_kv_u64(&j, "rx_packets", d.rx_packets);
		ctl_json_kv_u64(&j, "rx_bytes", d.rx_bytes);
		ctl_json_kv_u64(&j, "tx_packets", d.tx_packets);
		ctl_json_kv_u64(&j, "tx_bytes", d.tx_bytes);
		ctl_json_kv_u64(&j, "drops", d.drops);
		ctl_json_kv_u64(&j, "punts", d.punts);
		ctl_json_obj_end(&j);
		ctl_json_obj_end(&j);
		ctl_buf_putc(out, '\n');
		return ctl_json_finish(&j);
	}

	fmt_duration(t1, sizeof(t1), now - ctx->start_mono_ns);
	ctl_buf_printf(out, "control    pid %d, version %s, up %s\n", (int)getpid(), SN_VERSION,
		       t1);
	if (st == CTL_CHAN_DISCONNECTED) {
		ctl_buf_printf(out,
			       "channel    disconnected (%" PRIu64 " connects, %" PRIu64
			       " resyncs, %" PRIu64 " errors)\n",
			       ctl_ctr_get(&ctx->ctr->channel_connects),
			       ctl_ctr_get(&ctx->ctr->resyncs), chan_errors(ctx->ctr));
	} else {
		fmt_duration(t2, sizeof(t2), now - ch->connected_ns);
		ctl_buf_printf(out,
			       "channel    %s for %s (%" PRIu64 " connects, %" PRIu64
			       " resyncs, %" PRIu64 " errors)\n",
			       ctl_chan_state_name(st), t2,
			       ctl_ctr_get(&ctx->ctr->channel_connects),
			       ctl_ctr_get(&ctx->ctr->resyncs), chan_errors(ctx->ctr));
	}
	if (!d.known) {
		ctl_buf_puts(out, "dataplane  not running (no stats segment, no channel)\n");
	} else {
		fmt_duration(t2, sizeof(t2), dp_uptime);
		ctl_buf_printf(out, "dataplane  %s, pid %u%s%s, up %s, %u workers, %u ports\n",
			       d.up ? "running" : "not responding (stale heartbeat)", d.pid,
			       d.hello ? ", build " : "", d.hello ? d.build : "", t2, d.workers,
			       d.ports);
	}
	ctl_buf_printf(out,
		       "dispatch   %u entries in the last resync, %u udp dispatch entries known\n",
		       ch ? ch->last_dump_entries : 0, ch ? ch->dispatch_entries : 0);
	if (d.have_stats)
		ctl_buf_printf(
		    out,
		    "totals     rx %" PRIu64 " packets (%" PRIu64 " bytes), tx %" PRIu64
		    " packets (%" PRIu64 " bytes), drops %" PRIu64 ", punts %" PRIu64 "\n",
		    d.rx_packets, d.rx_bytes, d.tx_packets, d.tx_bytes, d.drops, d.punts);
	return out->err;
}

/* ---------- ports ---------- */

static int cmd_ports(struct ctl_admin_ctx *ctx, int argc, char **argv, bool json,
		     struct ctl_buf *out)
{
	const struct sn_stats_segment *seg = ctl_stats_reader_get(&ctx->reader);
	struct sn_stats_gauges g;
	struct sn_stats_port ports[SN_STATS_MAX_PORTS];
	uint32_t n = 0;
	double dt = 0;
	bool rates;

	if (!seg)
		return reply_error(out, json, -ENOENT, "no dataplane stats segment in %s",
				   ctx->reader.dir);
	if (sn_stats_read_gauges(seg, &g, ports, &n) < 0)
		return reply_error(out, json, -EAGAIN,
				   "dataplane stats are being rewritten; retry");
	rates = have_rates(ctx, ctl_stats_load(&seg->epoch), &dt) && ctx->cur.n_ports == n &&
		ctx->prev.n_ports == n;
	if (json) {
		struct ctl_json j;

		ctl_json_init(&j, out);
		ctl_json_obj_begin(&j);
		ctl_json_key(&j, "ports");
		ctl_json_arr_begin(&j);
		for (uint32_t i = 0; i < n; i++) {
			const struct sn_stats_port *p = &ports[i];

			ctl_json_obj_begin(&j);
			ctl_json_kv_u64(&j, "index", i);
			ctl_json_key(&j, "name");
			ctl_json_strn(&j, p->name, sizeof(p->name));
			ctl_json_kv_bool(&j, "link_up", p->link_up != 0);
			ctl_json_kv_u64(&j, "link_speed_mbps", p->link_speed_mbps);
			ctl_json_kv_u64(&j, "rx_packets", p->ipackets);
			ctl_json_kv_u64(&j, "tx_packets", p->opackets);
			ctl_json_kv_u64(&j, "rx_bytes", p->ibytes);
			ctl_json_kv_u64(&j, "tx_bytes", p->obytes);
			ctl_json_kv_u64(&j, "rx_missed", p->imissed);
			ctl_json_kv_u64(&j, "rx_errors", p->ierrors);
			ctl_json_kv_u64(&j, "tx_errors", p->oerrors);
			ctl_json_kv_u64(&j, "rx_nombuf", p->rx_nombuf);
			if (rates) {
				ctl_json_kv_double(
				    &j, "rx_pps",
				    rate(ctx->prev.port_rx[i], ctx->cur.port_rx[i], dt));
				ctl_json_kv_double(
				    &j, "tx_pps",
				    rate(ctx->prev.port_tx[i], ctx->cur.port_tx[i], dt));
			}
			ctl_json_obj_end(&j);
		}
		ctl_json_arr_end(&j);
		ctl_json_obj_end(&j);
		ctl_buf_putc(out, '\n');
		return ctl_json_finish(&j);
	}

	struct ctl_table t;

	ctl_table_init(
	    &t,
	    "PORT LINK SPEED RX_PACKETS TX_PACKETS RX_BYTES TX_BYTES RX_MISSED RX_ERRORS "
	    "TX_ERRORS RX_NOMBUF RX_PPS TX_PPS",
	    "llr");
	for (uint32_t i = 0; i < n; i++) {
		const struct sn_stats_port *p = &ports[i];

		ctl_table_cell(&t, "%.*s", (int)strnlen(p->name, sizeof(p->name)), p->name);
		ctl_table_cell(&t, "%s", p->link_up ? "up" : "down");
		ctl_table_cell(&t, "%uM", p->link_speed_mbps);
		ctl_table_cell(&t, "%" PRIu64, p->ipackets);
		ctl_table_cell(&t, "%" PRIu64, p->opackets);
		ctl_table_cell(&t, "%" PRIu64, p->ibytes);
		ctl_table_cell(&t, "%" PRIu64, p->obytes);
		ctl_table_cell(&t, "%" PRIu64, p->imissed);
		ctl_table_cell(&t, "%" PRIu64, p->ierrors);
		ctl_table_cell(&t, "%" PRIu64, p->oerrors);
		ctl_table_cell(&t, "%" PRIu64, p->rx_nombuf);
		if (rates) {
			ctl_table_cell(&t, "%.0f",
				       rate(ctx->prev.port_rx[i], ctx->cur.port_rx[i], dt));
			ctl_table_cell(&t, "%.0f",
				       rate(ctx->prev.port_tx[i], ctx->cur.port_tx[i], dt));
		} else {
			ctl_table_cell(&t, "-");
			ctl_table_cell(&t, "-");
		}
	}
	int rc = ctl_table_render(&t, out);

	ctl_table_free(&t);
	return rc;
}

/* ---------- workers ---------- */

static int cmd_workers(struct ctl_admin_ctx *ctx, int argc, char **argv, bool json,
		       struct ctl_buf *out)
{
	const struct sn_stats_segment *seg = ctl_stats_reader_get(&ctx->reader);
	const struct ctl_admin_sample *p = &ctx->prev, *c = &ctx->cur;
	uint32_t n;
	double dt = 0;
	bool rates;
	struct ctl_json j;
	struct ctl_table t;
	int rc;

	if (!seg)
		return reply_error(out, json, -ENOENT, "no dataplane stats segment in %s",
				   ctx->reader.dir);
	n = ctl_stats_n_lcores(seg);
	rates = have_rates(ctx, ctl_stats_load(&seg->epoch), &dt) && p->n_lcores == n &&
		c->n_lcores == n;
	if (json) {
		ctl_json_init(&j, out);
		ctl_json_obj_begin(&j);
		if (rates)
			ctl_json_kv_double(&j, "window_seconds", dt);
		ctl_json_key(&j, "lcores");
		ctl_json_arr_begin(&j);
	} else {
		ctl_table_init(&t,
			       "LCORE ROLE RX_PACKETS TX_PACKETS DROPS PUNTS RX_PPS TX_PPS BUSY% "
			       "BUSY%_TOTAL",
			       "lllr");
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct sn_stats_lcore *l = &seg->lcores[i];
		uint64_t rx = ctl_stats_load(&l->counters[SN_CTR_RX_PACKETS]);
		uint64_t tx = ctl_stats_load(&l->counters[SN_CTR_TX_PACKETS]);
		uint64_t busy = ctl_stats_load(&l->poll_cycles_busy);
		uint64_t total = ctl_stats_load(&l->poll_cycles_total);
		uint64_t drops = 0, punts = 0;
		double busy_win = 0;

		for (int r = 0; r < SN_DROP_MAX; r++)
			drops += ctl_stats_load(&l->drops[r]);
		for (int r = 0; r < SN_PUNT_MAX; r++)
			punts += ctl_stats_load(&l->punts[r]);
		if (rates)
			busy_win =
			    c->total[i] > p->total[i] && c->busy[i] >= p->busy[i]
				? ratio_pct(c->busy[i] - p->busy[i], c->total[i] - p->total[i])
				: 0.0;
		if (json) {
			ctl_json_obj_begin(&j);
			ctl_json_kv_u64(&j, "lcore", seg->lcore_ids[i]);
			ctl_json_kv_str(&j, "role", seg->lcore_is_worker[i] ? "worker" : "main");
			ctl_json_kv_u64(&j, "rx_packets", rx);
			ctl_json_kv_u64(&j, "tx_packets", tx);
			ctl_json_kv_u64(&j, "drops", drops);
			ctl_json_kv_u64(&j, "punts", punts);
			ctl_json_kv_u64(&j, "busy_cycles", busy);
			ctl_json_kv_u64(&j, "poll_cycles", total);
			ctl_json_kv_double(&j, "busy_percent_total", ratio_pct(busy, total));
			if (rates) {
				ctl_json_kv_double(&j, "rx_pps", rate(p->rx[i], c->rx[i], dt));
				ctl_json_kv_double(&j, "tx_pps", rate(p->tx[i], c->tx[i], dt));
				ctl_json_kv_double(&j, "busy_percent", busy_win);
			}
			ctl_json_obj_end(&j);
		} else {
			ctl_table_cell(&t, "%u", seg->lcore_ids[i]);
			ctl_table_cell(&t, "%s", seg->lcore_is_worker[i] ? "worker" : "main");
			ctl_table_cell(&t, "%" PRIu64, rx);
			ctl_table_cell(&t, "%" PRIu64, tx);
			ctl_table_cell(&t, "%" PRIu64, drops);
			ctl_table_cell(&t, "%" PRIu64, punts);
			if (rates) {
				ctl_table_cell(&t, "%.0f", rate(p->rx[i], c->rx[i], dt));
				ctl_table_cell(&t, "%.0f", rate(p->tx[i], c->tx[i], dt));
				ctl_table_cell(&t, "%.1f", busy_win);
			} else {
				ctl_table_cell(&t, "-");
				ctl_table_cell(&t, "-");
				ctl_table_cell(&t, "-");
			}
			ctl_table_cell(&t, "%.1f", ratio_pct(busy, total));
		}
	}
	if (json) {
		ctl_json_arr_end(&j);
		ctl_json_obj_end(&j);
		ctl_buf_putc(out, '\n');
		return ctl_json_finish(&j);
	}
	rc = ctl_table_render(&t, out);
	ctl_table_free(&t);
	return rc;
}

/* ---------- dispatch ---------- */

static const char *const want_state_names[] = {
    [CTL_WANT_UNKNOWN] = "unknown",
    [CTL_WANT_OK] = "installed",
    [CTL_WANT_PENDING] = "pending",
    [CTL_WANT_FAILED] = "refused",
};

static int cmd_dispatch(struct ctl_admin_ctx *ctx, int argc, char **argv, bool json,
			struct ctl_buf *out)
{
	const struct ctl_chan *ch = ctx->chan;
	unsigned listed = 0;
	bool truncated = false;
	struct ctl_json j;
	struct ctl_table t;
	int rc;

	if (!ch)
		return reply_error(out, json, -ENOTCONN, "no channel");
	if (json) {
		ctl_json_init(&j, out);
		ctl_json_obj_begin(&j);
		ctl_json_kv_str(&j, "channel", ctl_chan_state_name(ch->state));
		ctl_json_key(&j, "entries");
		ctl_json_arr_begin(&j);
	} else {
		ctl_buf_printf(out,
			       "udp dispatch entries in the dataplane (as of the last resync, "
			       "channel %s):\n",
			       ctl_chan_state_name(ch->state));
		ctl_table_init(&t, "PORT FAMILY HANDLER", "rll");
	}
	for (unsigned f = 0; f < 2; f++) {
		uint8_t fam = f == 0 ? AF_INET : AF_INET6;

		for (unsigned port = 0; port < 65536; port++) {
			unsigned slot = ctl_chan_dispatch_slot(ch, fam, (uint16_t)port);

			if (!slot)
				continue;
			if (listed == DISPATCH_LIST_MAX) {
				truncated = true;
				break;
			}
			listed++;
			if (json) {
				ctl_json_obj_begin(&j);
				ctl_json_kv_u64(&j, "port", port);
				ctl_json_kv_str(&j, "family", f == 0 ? "ipv4" : "ipv6");
				ctl_json_kv_str(&j, "handler", ctl_udp_handler_name(slot - 1));
				ctl_json_obj_end(&j);
			} else {
				ctl_table_cell(&t, "%u", port);
				ctl_table_cell(&t, "%s", f == 0 ? "ipv4" : "ipv6");
				ctl_table_cell(&t, "%s", ctl_udp_handler_name(slot - 1));
			}
		}
	}
	if (json) {
		ctl_json_arr_end(&j);
		ctl_json_kv_bool(&j, "truncated", truncated);
		ctl_json_key(&j, "wanted");
		ctl_json_arr_begin(&j);
		for (int i = 0; i < ch->n_want; i++) {
			const struct ctl_dispatch_want *w = &ch->want[i];

			ctl_json_obj_begin(&j);
			ctl_json_kv_u64(&j, "port", w->port);
			ctl_json_kv_str(&j, "family", w->family == AF_INET ? "ipv4" : "ipv6");
			ctl_json_kv_str(&j, "handler",
					w->del ? "(remove)" : ctl_udp_handler_name(w->handler));
			ctl_json_kv_str(&j, "state", want_state_names[w->state & 3]);
			ctl_json_obj_end(&j);
		}
		ctl_json_arr_end(&j);
		ctl_json_obj_end(&j);
		ctl_buf_putc(out, '\n');
		return ctl_json_finish(&j);
	}
	rc = ctl_table_render(&t, out);
	ctl_table_free(&t);
	if (truncated)
		ctl_buf_printf(out, "(first %u entries shown)\n", DISPATCH_LIST_MAX);
	ctl_buf_puts(out, "\nwanted by the config:\n");
	ctl_table_init(&t, "PORT FAMILY HANDLER STATE", "rlll");
	for (int i = 0; i < ch->n_want; i++) {
		const struct ctl_dispatch_want *w = &ch->want[i];

		ctl_table_cell(&t, "%u", w->port);
		ctl_table_cell(&t, "%s", w->family == AF_INET ? "ipv4" : "ipv6");
		ctl_table_cell(&t, "%s", w->del ? "(remove)" : ctl_udp_handler_name(w->handler));
		ctl_table_cell(&t, "%s", want_state_names[w->state & 3]);
	}
	if (rc == 0)
		rc = ctl_table_render(&t, out);
	ctl_table_free(&t);
	return rc;
}

/* ---------- help ---------- */

static int cmd_help(struct ctl_admin_ctx *ctx, int argc, char **argv, bool json,
		    struct ctl_buf *out)
{
	struct ctl_json j;
	struct ctl_table t;
	int rc;

	if (json) {
		ctl_json_init(&j, out);
		ctl_json_obj_begin(&j);
		ctl_json_key(&j, "commands");
		ctl_json_arr_begin(&j);
		for (const struct admin_cmd *c = admin_cmds; c->name; c++) {
			ctl_json_obj_begin(&j);
			ctl_json_kv_str(&j, "name", c->name);
			ctl_json_kv_str(&j, "args", c->args);
			ctl_json_kv_str(&j, "help", c->help);
			ctl_json_obj_end(&j);
		}
		ctl_json_arr_end(&j);
		ctl_json_obj_end(&j);
		ctl_buf_putc(out, '\n');
		return ctl_json_finish(&j);
	}
	ctl_table_init(&t, "COMMAND ARGS DESCRIPTION", "l");
	for (const struct admin_cmd *c = admin_cmds; c->name; c++) {
		ctl_table_cell(&t, "%s", c->name);
		ctl_table_cell(&t, "%s", c->args[0] ? c->args : "-");
		ctl_table_cell(&t, "%s", c->help);
	}
	rc = ctl_table_render(&t, out);
	ctl_table_free(&t);
	return rc;
}

/* ---------- allocations (turn.h) ---------- */

static int cmd_allocations(struct ctl_admin_ctx *ctx, int argc, char **argv, bool json,
			   struct ctl_buf *out)
{
	if (!ctx->turn)
		return reply_error(out, json, -ENOTSUP, "TURN is not running in this control");
	return ctl_turn_cmd_allocations(ctx->turn, argc, argv, json, out);
}

/* The command table: later issues add allocations, routes, bans, promotions, reload. */
static const struct admin_cmd admin_cmds[] = {
    {"help", "", "list the commands", cmd_help},
    {"status", "", "control, channel and dataplane state, traffic totals", cmd_status},
    {"ports", "", "per-port counters, link state and rates", cmd_ports},
    {"workers", "", "per-lcore counters, rates and busy share", cmd_workers},
    {"dispatch", "", "UDP dispatch entries known from the dataplane", cmd_dispatch},
    {"config", "", "the running config (what is in effect) and the last reload",
     ctl_reload_cmd_config},
    {"reload", "", "re-read the config file and apply what can change at runtime",
     ctl_reload_cmd_reload},
    {"allocations", "[ID]",
     "TURN allocations: owner, client, relayed addresses, lifetime, permissions, channels, "
     "relay counters",
     cmd_allocations},
    {"routes", "", "DHT routing table: nodes by family and bucket, liveness, in the dataplane",
     ctl_dht_cmd_routes},
    {"dht", "", "DHT node: id, network, token rotation, storage and listener totals",
     ctl_dht_cmd_summary},
    {"promotions", "",
     "load (RFC 5765 7.1.2), state, client promotion status and decisions with their inputs",
     ctl_promotion_cmd},
    {"sybil", "[--run]",
     "trust graph and Sybil verdicts: summary (graph, last run, mixing), then scores and "
     "decisions, suspects first",
     ctl_trust_cmd_sybil},
    {"suspect", "ID|ADDR [clear]", "mark a node id or address as a Sybil suspect (or clear it)",
     ctl_trust_cmd_suspect},
    {"trust", "ID|ADDR [clear]", "mark a node id or address as trusted (or clear the mark)",
     ctl_trust_cmd_trust},
    {"bans", "", "guard: bans and suspect marks with reason, expiry and hits", ctl_guard_cmd_bans},
    {"ban", "[ADDR[/LEN] SECONDS [suspect]]",
     "guard: ban a source or prefix (or mark it suspect) for SECONDS", ctl_guard_cmd_ban},
    {"unban", "[ADDR[/LEN]]", "guard: lift a ban or suspect mark", ctl_guard_cmd_unban},
    {NULL, NULL, NULL, NULL},
};

const char *ctl_admin_command(int i, const char **args, const char **help)
{
	int n = (int)(sizeof(admin_cmds) / sizeof(admin_cmds[0])) - 1;

	if (i < 0 || i >= n)
		return NULL;
	if (args)
		*args = admin_cmds[i].args;
	if (help)
		*help = admin_cmds[i].help;
	return admin_cmds[i].name;
}

/* ---------- request handling ---------- */

void ctl_admin_ctx_init(struct ctl_admin_ctx *ctx, const char *runtime_dir, struct ctl_chan *chan,
			struct ctl_counters *ctr)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->chan = chan;
	ctx->ctr = ctr;
	ctx->start_mono_ns = ctl_mono_ns();
	ctx->start_real_ns = ctr && ctr->start_time_ns ? ctr->start_time_ns : ctl_real_ns();
	ctl_stats_reader_init(&ctx->reader, runtime_dir);
}

void ctl_admin_ctx_fini(struct ctl_admin_ctx *ctx)
{
	ctl_stats_reader_fini(&ctx->reader);
}

void ctl_admin_sample(struct ctl_admin_ctx *ctx, uint64_t now)
{
	const struct sn_stats_segment *seg = ctl_stats_reader_get(&ctx->reader);
	struct ctl_admin_sample *c = &ctx->cur;
	struct sn_stats_gauges g;
	struct sn_stats_port ports[SN_STATS_MAX_PORTS];
	uint32_t np = 0;

	ctx->prev = ctx->cur;
	memset(c, 0, sizeof(*c));
	if (!seg)
		return;
	c->t_ns = now;
	c->epoch = ctl_stats_load(&seg->epoch);
	c->n_lcores = ctl_stats_n_lcores(seg);
	for (uint32_t i = 0; i < c->n_lcores; i++) {
		c->rx[i] = ctl_stats_load(&seg->lcores[i].counters[SN_CTR_RX_PACKETS]);
		c->tx[i] = ctl_stats_load(&seg->lcores[i].counters[SN_CTR_TX_PACKETS]);
		c->busy[i] = ctl_stats_load(&seg->lcores[i].poll_cycles_busy);
		c->total[i] = ctl_stats_load(&seg->lcores[i].poll_cycles_total);
	}
	if (sn_stats_read_gauges(seg, &g, ports, &np) == 0) {
		c->n_ports = np;
		for (uint32_t i = 0; i < np; i++) {
			c->port_rx[i] = ports[i].ipackets;
			c->port_tx[i] = ports[i].opackets;
		}
	}
}

int ctl_admin_exec(struct ctl_admin_ctx *ctx, const char *line, struct ctl_buf *out)
{
	char copy[CTL_ADMIN_MAX_LINE + 1];
	char *argv[CTL_ADMIN_MAX_ARGS + 1];
	char *save = NULL, *tok;
	int argc = 0;
	bool json = false;
	size_t n = strnlen(line, sizeof(copy));

	if (n >= sizeof(copy))
		return reply_error(out, false, -E2BIG, "request longer than %d bytes",
				   CTL_ADMIN_MAX_LINE);
	memcpy(copy, line, n + 1);
	for (tok = strtok_r(copy, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
		if (argc == CTL_ADMIN_MAX_ARGS)
			return reply_error(out, false, -E2BIG, "more than %d words in the request",
					   CTL_ADMIN_MAX_ARGS);
		argv[argc++] = tok;
	}
	argv[argc] = NULL;
	if (argc > 1 && (!strcmp(argv[argc - 1], "json") || !strcmp(argv[argc - 1], "text"))) {
		json = !strcmp(argv[argc - 1], "json");
		argv[--argc] = NULL;
	}
	if (argc == 0)
		return reply_error(out, json, -EINVAL, "empty request; try 'help'");
	for (const struct admin_cmd *c = admin_cmds; c->name; c++) {
		if (strcmp(c->name, argv[0]) != 0)
			continue;
		if (argc > 1 && !c->args[0])
			return reply_error(out, json, -EINVAL, "%s takes no arguments", c->name);
		int rc = c->fn(ctx, argc, argv, json, out);

		if (rc < 0 && !out->err)
			return rc; /* the command wrote its own error reply */
		if (out->err)
			return reply_error(out, json, out->err, "reply could not be built: %s",
					   strerror(-out->err));
		return 0;
	}
	/* the command name is echoed escaped (it may hold any bytes) */
	if (json) {
		struct ctl_json j;

		ctl_buf_reset(out);
		ctl_json_init(&j, out);
		ctl_json_obj_begin(&j);
		ctl_json_kv_str(&j, "error", "unknown command");
		ctl_json_kv_str(&j, "command", argv[0]);
		ctl_json_kv_i64(&j, "errno", -ENOENT);
		ctl_json_obj_end(&j);
		ctl_buf_putc(out, '\n');
		return -ENOENT;
	}
	ctl_buf_reset(out);
	ctl_buf_puts(out, "error: unknown command ");
	ctl_json_escape(out, argv[0], strlen(argv[0]));
	ctl_buf_puts(out, "; try 'help'\n");
	return -ENOENT;
}

/* ---------- socket ---------- */

int ctl_admin_open(struct ctl_admin *a, const char *runtime_dir, int epfd, struct ctl_chan *chan,
		   struct ctl_counters *ctr)
{
	struct sockaddr_un sa;
	struct epoll_event ev;
	struct stat st;
	int n, rc = 0, probe = -1;

	memset(a, 0, sizeof(*a));
	a->fd = -1;
	a->epfd = epfd;
	a->ev.kind = CTL_EV_ADMIN_LISTEN;
	a->ev.obj = a;
	ctl_admin_ctx_init(&a->ctx, runtime_dir, chan, ctr);
	n = snprintf(a->path, sizeof(a->path), "%s/%s", runtime_dir, CTL_ADMIN_SOCKET);
	if (n < 0 || (size_t)n >= sizeof(a->path)) {
		SN_ERR("runtime dir %s: admin socket path too long", runtime_dir);
		rc = -ENAMETOOLONG;
		goto fail;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, a->path, sizeof(sa.sun_path));

	if (lstat(a->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			SN_ERR("%s exists and is not a socket; not touching it", a->path);
			rc = -EEXIST;
			goto fail;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (probe < 0) {
			rc = -errno;
			SN_ERR("socket: %s", strerror(errno));
			goto fail;
		}
		if (connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN) {
			SN_ERR("another supernode-control is running (it answers on %s)", a->path);
			rc = -EADDRINUSE;
			goto fail;
		}
		if (errno != ECONNREFUSED) {
			rc = -errno;
			SN_ERR("probe %s: %s", a->path, strerror(errno));
			goto fail;
		}
		SN_INFO("removing stale %s", a->path);
		if (unlink(a->path) < 0 && errno != ENOENT) {
			rc = -errno;
			SN_ERR("unlink %s: %s", a->path, strerror(errno));
			goto fail;
		}
	}
	a->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->fd < 0) {
		rc = -errno;
		SN_ERR("socket: %s", strerror(errno));
		goto fail;
	}
	if (bind(a->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		SN_ERR("bind %s: %s", a->path, strerror(errno));
		goto fail;
	}
	/* admin commands will change state (bans, reload): owner and group only */
	if (chmod(a->path, 0660) < 0 || listen(a->fd, CTL_ADMIN_MAX_CONNS) < 0) {
		rc = -errno;
		SN_ERR("chmod/listen %s: %s", a->path, strerror(errno));
		unlink(a->path);
		goto fail;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = &a->ev;
	if (epfd >= 0 && epoll_ctl(epfd, EPOLL_CTL_ADD, a->fd, &ev) < 0) {
		rc = -errno;
		SN_ERR("epoll_ctl add admin socket: %s", strerror(errno));
		unlink(a->path);
		goto fail;
	}
	if (probe >= 0)
		close(probe);
	SN_INFO("admin socket %s", a->path);
	return 0;
fail:
	if (probe >= 0)
		close(probe);
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
	ctl_admin_ctx_fini(&a->ctx);
	return rc;
}

static void conn_close(struct ctl_admin *a, struct ctl_admin_conn *c)
{
	a->conns[c->slot] = NULL;
	close(c->fd);
	ctl_buf_free(&c->out);
	free(c);
}

void ctl_admin_close(struct ctl_admin *a)
{
	for (int i = 0; i < CTL_ADMIN_MAX_CONNS; i++)
		if (a->conns[i])
			conn_close(a, a->conns[i]);
	if (a->fd >= 0) {
		close(a->fd);
		unlink(a->path);
		ctl_admin_ctx_fini(&a->ctx);
	}
	a->fd = -1;
}

void ctl_admin_on_accept(struct ctl_admin *a, uint64_t now)
{
	for (;;) {
		struct epoll_event ev;
		struct ctl_admin_conn *c;
		int slot = -1;
		int fd = accept4(a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				SN_WARN("accept %s: %s", a->path, strerror(errno));
			return;
		}
		for (int i = 0; i < CTL_ADMIN_MAX_CONNS; i++)
			if (!a->conns[i]) {
				slot = i;
				break;
			}
		if (slot < 0) {
			SN_WARN("admin: %d connections open, refusing another",
				CTL_ADMIN_MAX_CONNS);
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			SN_ERR("admin connection: out of memory");
			close(fd);
			continue;
		}
		c->ev.kind = CTL_EV_ADMIN_CONN;
		c->ev.obj = c;
		c->fd = fd;
		c->slot = slot;
		c->deadline_ns = now + CTL_ADMIN_TIMEOUT_NS;
		ctl_buf_init(&c->out);
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.ptr = &c->ev;
		if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			SN_ERR("epoll_ctl add admin connection: %s", strerror(errno));
			close(fd);
			free(c);
			continue;
		}
		a->conns[slot] = c;
	}
}

/* Writes what is left of the reply; closes the connection when done or broken. */
static void conn_write(struct ctl_admin *a, struct ctl_admin_conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = &c->ev};

				if (epoll_ctl(a->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
					break;
				return;
			}
			break; /* client went away */
		}
		c->out_off += (size_t)n;
	}
	conn_close(a, c);
}

static void conn_request(struct ctl_admin *a, struct ctl_admin_conn *c)
{
	c->in[c->in_len] = '\0';
	c->replying = true;
	if (memchr(c->in, '\0', c->in_len))
		reply_error(&c->out, false, -EINVAL, "request contains a NUL byte");
	else
		ctl_admin_exec(&a->ctx, c->in, &c->out);
	if (c->out.err) {
		/* not even an error reply fits: say so in a static line */
		ctl_buf_free(&c->out);
		ctl_buf_puts(&c->out, "error: out of memory\n");
	}
	SN_DEBUG("admin request '%.64s': %zu bytes of reply", c->in, c->out.len);
	conn_write(a, c);
}

void ctl_admin_on_conn(struct ctl_admin *a, struct ctl_admin_conn *c, uint32_t events, uint64_t now)
{
	if (c->replying) {
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			conn_write(a, c);
		return;
	}
	for (;;) {
		ssize_t n =
		    recv(c->fd, c->in + c->in_len, CTL_ADMIN_MAX_LINE - c->in_len, MSG_DONTWAIT);
		char *nl;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				conn_close(a, c);
			return;
		}
		if (n == 0) {
			/* EOF: take an unterminated line as the request */
			if (c->in_len)
				conn_request(a, c);
			else
				conn_close(a, c);
			return;
		}
		nl = memchr(c->in + c->in_len, '\n', (size_t)n);
		c->in_len += (size_t)n;
		if (nl) {
			c->in_len = (size_t)(nl - c->in);
			conn_request(a, c);
			return;
		}
		if (c->in_len >= CTL_ADMIN_MAX_LINE) {
			c->replying = true;
			reply_error(&c->out, false, -E2BIG, "request longer than %d bytes",
				    CTL_ADMIN_MAX_LINE);
			conn_write(a, c);
			return;
		}
	}
}

void ctl_admin_tick(struct ctl_admin *a, uint64_t now)
{
	for (int i = 0; i < CTL_ADMIN_MAX_CONNS; i++) {
		struct ctl_admin_conn *c = a->conns[i];

		if (c && now >= c->deadline_ns) {
			SN_DEBUG("admin connection timed out");
			conn_close(a, c);
		}
	}
}
