#include "reload.h"
#include "admin.h"
#include "json.h"
#include "sn_log.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------- the report ---------- */

static void report_reset(struct ctl_reload_report *rep, const char *file)
{
	rep->rc = 0;
	rep->error[0] = '\0';
	rep->n_changes = 0;
	rep->n_restart = 0;
	rep->dropped = 0;
	snprintf(rep->file, sizeof(rep->file), "%s", file ? file : "");
}

static void report_vadd(struct ctl_reload_report *rep, bool restart, const char *fmt, va_list ap)
{
	int *n = restart ? &rep->n_restart : &rep->n_changes;
	char(*lines)[CTL_RELOAD_LINE] = restart ? rep->restart : rep->changes;

	if (*n >= CTL_RELOAD_MAX_LINES) {
		rep->dropped++;
		return;
	}
	vsnprintf(lines[*n], CTL_RELOAD_LINE, fmt, ap);
	(*n)++;
}

void ctl_reload_change(struct ctl_reload_report *rep, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_vadd(rep, false, fmt, ap);
	va_end(ap);
}

void ctl_reload_restart_field(struct ctl_reload_report *rep, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_vadd(rep, true, fmt, ap);
	va_end(ap);
}

void ctl_reload_refuse(struct ctl_reload_report *rep, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rep->error, sizeof(rep->error), fmt, ap);
	va_end(ap);
}

void ctl_reload_report_text(const struct ctl_reload_report *rep, struct ctl_buf *out)
{
	if (rep->rc < 0) {
		ctl_buf_printf(out,
			       "reload of %s rejected, the running config is unchanged:\n  %s\n",
			       rep->file, rep->error);
		return;
	}
	ctl_buf_printf(out, "reloaded %s\n", rep->file);
	if (rep->n_changes == 0)
		ctl_buf_puts(out, "applied: nothing changed\n");
	else
		ctl_buf_puts(out, "applied:\n");
	for (int i = 0; i < rep->n_changes; i++)
		ctl_buf_printf(out, "  %s\n", rep->changes[i]);
	if (rep->n_restart) {
		ctl_buf_puts(out, "not applied (the file differs from the running config):\n");
		for (int i = 0; i < rep->n_restart; i++)
			ctl_buf_printf(out, "  restart required for %s\n", rep->restart[i]);
	}
	if (rep->dropped)
		ctl_buf_printf(out, "(%d more lines not listed)\n", rep->dropped);
}

static void report_json(const struct ctl_reload_report *rep, struct ctl_json *j)
{
	ctl_json_kv_str(j, "file", rep->file);
	ctl_json_kv_bool(j, "applied", rep->rc == 0);
	if (rep->rc < 0) {
		ctl_json_kv_str(j, "error", rep->error);
		ctl_json_kv_i64(j, "errno", rep->rc);
	}
	ctl_json_key(j, "changes");
	ctl_json_arr_begin(j);
	for (int i = 0; i < rep->n_changes; i++)
		ctl_json_str(j, rep->changes[i]);
	ctl_json_arr_end(j);
	ctl_json_key(j, "restart_required");
	ctl_json_arr_begin(j);
	for (int i = 0; i < rep->n_restart; i++)
		ctl_json_str(j, rep->restart[i]);
	ctl_json_arr_end(j);
	ctl_json_kv_u64(j, "unlisted", (uint64_t)rep->dropped);
}

/* ---------- setup ---------- */

void ctl_reload_init(struct ctl_reload *r, struct sn_config *running, struct ctl_chan *chan,
		     struct ctl_counters *ctr)
{
	memset(r, 0, sizeof(*r));
	r->running = running;
	r->chan = chan;
	r->ctr = ctr;
	report_reset(&r->last, running ? running->path : "");
	if (ctr) {
		ctl_ctr_set(&ctr->config_last_success_ns, ctl_real_ns());
		ctl_ctr_set(&ctr->config_last_ok, 1);
	}
}

static bool same_str(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

int ctl_reload_register(struct ctl_reload *r, const struct ctl_reload_hook *h)
{
	if (!h || !h->name || !h->name[0] || !h->commit)
		return -EINVAL;
	for (int i = 0; i < r->n_hooks; i++)
		if (same_str(r->hooks[i].name, h->name) ||
		    (h->section && same_str(r->hooks[i].section, h->section)))
			return -EEXIST;
	if (r->n_hooks == CTL_RELOAD_MAX_HOOKS)
		return -ENOSPC;
	r->hooks[r->n_hooks++] = *h;
	return 0;
}

static bool section_claimed(const struct ctl_reload *r, const char *section)
{
	for (int i = 0; i < r->n_hooks; i++)
		if (same_str(r->hooks[i].section, section))
			return true;
	return false;
}

/* ---------- what needs a restart ---------- */

/* Scalar and fixed-array fields that only a restart applies. The loader memsets the config
 * first, so memcmp over a field (padding and unused string bytes included) is exact. */
struct restart_field {
	const char *path;
	const char *section; /* top-level section, for hooks that claim one; NULL: control's */
	size_t off;
	size_t size;
};

#define RF(p, sec, m)                                                                              \
	{                                                                                          \
		p, sec, offsetof(struct sn_config, m), sizeof(((struct sn_config *)0)->m)          \
	}
static const struct restart_field restart_fields[] = {
    RF("runtime_dir", NULL, runtime_dir),
    RF("lab_mode", NULL, lab_mode),
    RF("dataplane.main_lcore", NULL, dataplane.main_lcore),
    RF("dataplane.mbufs", NULL, dataplane.mbufs),
    RF("dataplane.mbuf_cache", NULL, dataplane.mbuf_cache),
    RF("dataplane.burst", NULL, dataplane.burst),
    RF("dataplane.idle.empty_polls", NULL, dataplane.idle_empty_polls),
    RF("dataplane.idle.sleep_us", NULL, dataplane.idle_sleep_us),
    RF("dataplane.punt.ring_size", NULL, dataplane.punt_ring_size),
    RF("dataplane.punt.rate_pps", NULL, dataplane.punt_rate_pps),
    RF("dataplane.punt.burst", NULL, dataplane.punt_burst),
    RF("dataplane.punt.source_rate_pps", NULL, dataplane.punt_source_rate_pps),
    RF("dataplane.punt.source_burst", NULL, dataplane.punt_source_burst),
    RF("dataplane.neigh_entries", NULL, dataplane.neigh_entries),
    RF("control.metrics.listen", NULL, control.metrics_listen),
    RF("control.metrics.port", NULL, control.metrics_port),
    /* the dataplane reads these at start (table sizes, relay port range, fast-path checks);
     * a TURN or DHT hook that claims its section takes them over */
    RF("turn.relay_port_min", "turn", turn.relay_port_min),
    RF("turn.relay_port_max", "turn", turn.relay_port_max),
    RF("turn.max_allocations", "turn", turn.max_allocations),
    RF("turn.max_permissions", "turn", turn.max_permissions),
    RF("turn.max_channels", "turn", turn.max_channels),
    RF("turn.rfc5766_channels", "turn", turn.rfc5766_channels),
    RF("dht.network_id", "dht", dht.network_id),
};
/* Sections read once at start (the guard's rates are the dataplane's, the Sybil and
 * promotion engines size their tables from theirs): a change is reported as needing a
 * restart and the running values stay, so `config` never shows what is not in effect.
 * They hold no pointers, so memcmp and a plain copy are exact. */
static const struct restart_field restart_sections[] = {
    RF("guard", "guard", guard),
    RF("sybil", "sybil", sybil),
    RF("promotion", "promotion", promotion),
};
#undef RF

static bool field_differs(const struct sn_config *a, const struct sn_config *b, size_t off,
			  size_t size)
{
	return memcmp((const char *)a + off, (const char *)b + off, size) != 0;
}

static bool eal_args_differ(const struct sn_dataplane_config *a,
			    const struct sn_dataplane_config *b)
{
	if (a->n_eal_args != b->n_eal_args)
		return true;
	for (int i = 0; i < a->n_eal_args && i < SN_CONFIG_MAX_EAL_ARGS; i++)
		if (!a->eal_args[i] || !b->eal_args[i] || strcmp(a->eal_args[i], b->eal_args[i]))
			return true;
	return false;
}

static bool workers_differ(const struct sn_dataplane_config *a, const struct sn_dataplane_config *b)
{
	return a->n_workers != b->n_workers ||
	       memcmp(a->worker_lcores, b->worker_lcores,
		      (size_t)a->n_workers * sizeof(a->worker_lcores[0])) != 0;
}

static bool ports_differ(const struct sn_dataplane_config *a, const struct sn_dataplane_config *b)
{
	return a->n_ports != b->n_ports ||
	       memcmp(a->ports, b->ports, (size_t)a->n_ports * sizeof(a->ports[0])) != 0;
}

int ctl_reload_restart_diff(const struct ctl_reload *r, const struct sn_config *a,
			    const struct sn_config *b, struct ctl_reload_report *rep)
{
	int n = 0;
	bool turn_known = false, dht_known = false;

	if (eal_args_differ(&a->dataplane, &b->dataplane)) {
		ctl_reload_restart_field(rep, "dataplane.eal_args");
		n++;
	}
	if (workers_differ(&a->dataplane, &b->dataplane)) {
		ctl_reload_restart_field(rep, "dataplane.workers");
		n++;
	}
	if (ports_differ(&a->dataplane, &b->dataplane)) {
		ctl_reload_restart_field(rep, "dataplane.ports");
		n++;
	}
	for (size_t i = 0; i < sizeof(restart_fields) / sizeof(restart_fields[0]); i++) {
		const struct restart_field *f = &restart_fields[i];

		if (f->section && section_claimed(r, f->section))
			continue;
		if (!field_differs(a, b, f->off, f->size))
			continue;
		ctl_reload_restart_field(rep, "%s", f->path);
		n++;
		if (f->section && !strcmp(f->section, "turn"))
			turn_known = true;
		if (f->section && !strcmp(f->section, "dht"))
			dht_known = true;
	}
	/* fields added to a section after this table was written: the section as a whole */
	if (!section_claimed(r, "turn") && !turn_known &&
	    memcmp(&a->turn, &b->turn, sizeof(a->turn))) {
		ctl_reload_restart_field(rep, "turn");
		n++;
	}
	if (!section_claimed(r, "dht") && !dht_known && memcmp(&a->dht, &b->dht, sizeof(a->dht))) {
		ctl_reload_restart_field(rep, "dht");
		n++;
	}
	for (size_t i = 0; i < sizeof(restart_sections) / sizeof(restart_sections[0]); i++) {
		const struct restart_field *f = &restart_sections[i];

		if (section_claimed(r, f->section) || !field_differs(a, b, f->off, f->size))
			continue;
		ctl_reload_restart_field(rep, "%s", f->path);
		n++;
	}
	return n;
}

/* Gives next the running values of everything a restart would apply (old gets next's, to be
 * freed with it), so the running config says what is in effect. Sections move whole, so
 * what the config owns (eal_args strings) changes hands rather than being copied. */
static void keep_restart_fields(const struct ctl_reload *r, struct sn_config *old,
				struct sn_config *next)
{
	struct sn_dataplane_config dp = next->dataplane;

	/* dataplane: everything but the dispatch list */
	next->dataplane = old->dataplane;
	old->dataplane = dp;
	next->dataplane.n_dispatch = dp.n_dispatch;
	memcpy(next->dataplane.dispatch, dp.dispatch, sizeof(dp.dispatch));

	memcpy(next->runtime_dir, old->runtime_dir, sizeof(next->runtime_dir));
	next->lab_mode = old->lab_mode;
	memcpy(next->control.metrics_listen, old->control.metrics_listen,
	       sizeof(next->control.metrics_listen));
	next->control.metrics_port = old->control.metrics_port;
	if (!section_claimed(r, "turn")) {
		struct sn_turn_config t = next->turn;

		next->turn = old->turn;
		old->turn = t;
	}
	if (!section_claimed(r, "dht")) {
		struct sn_dht_config d = next->dht;

		next->dht = old->dht;
		old->dht = d;
	}
	for (size_t i = 0; i < sizeof(restart_sections) / sizeof(restart_sections[0]); i++) {
		const struct restart_field *f = &restart_sections[i];

		if (!section_claimed(r, f->section))
			memcpy((char *)next + f->off, (const char *)old + f->off, f->size);
	}
}

/* ---------- what control applies itself ---------- */

static const char *log_level_name(int level)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};

	return level >= 0 && level <= 3 ? names[level] : "?";
}

static void commit_log_level(struct ctl_reload *r, const struct sn_config *old,
			     const struct sn_config *next, struct ctl_reload_report *rep)
{
	if (old->log_level == next->log_level)
		return;
	if (r->log_level_locked) {
		ctl_reload_change(rep, "log_level: %s -> %s (the log stays at debug: -v given)",
				  log_level_name(old->log_level), log_level_name(next->log_level));
		return;
	}
	__atomic_store_n(&sn_log_level, next->log_level, __ATOMIC_RELAXED);
	ctl_reload_change(rep, "log_level: %s -> %s", log_level_name(old->log_level),
			  log_level_name(next->log_level));
}

static const struct sn_dispatch_config *dispatch_find(const struct sn_dataplane_config *d,
						      uint16_t port)
{
	for (int i = 0; i < d->n_dispatch && i < SN_CONFIG_MAX_DISPATCH; i++)
		if (d->dispatch[i].port == port)
			return &d->dispatch[i];
	return NULL;
}

static void commit_channel(struct ctl_reload *r, const struct sn_config *old,
			   const struct sn_config *next, struct ctl_reload_report *rep,
			   uint64_t now)
{
	const struct sn_dataplane_config *o = &old->dataplane, *n = &next->dataplane;
	bool dispatch_changed = false;

	if (old->control.reconnect_ms != next->control.reconnect_ms) {
		ctl_reload_change(rep, "control.reconnect_ms: %u -> %u", old->control.reconnect_ms,
				  next->control.reconnect_ms);
		if (r->chan)
			r->chan->reconnect_ns =
			    (uint64_t)next->control.reconnect_ms * CTL_NS_PER_MS;
	}
	if (old->control.keepalive_ms != next->control.keepalive_ms) {
		ctl_reload_change(rep, "control.keepalive_ms: %u -> %u", old->control.keepalive_ms,
				  next->control.keepalive_ms);
		if (r->chan)
			r->chan->keepalive_ns =
			    (uint64_t)next->control.keepalive_ms * CTL_NS_PER_MS;
	}
	for (int i = 0; i < n->n_dispatch && i < SN_CONFIG_MAX_DISPATCH; i++) {
		const struct sn_dispatch_config *e = &n->dispatch[i];
		const struct sn_dispatch_config *was = dispatch_find(o, e->port);

		if (!was) {
			ctl_reload_change(rep, "dataplane.dispatch: +%u %s", e->port,
					  ctl_udp_handler_name(e->handler));
			dispatch_changed = true;
		} else if (was->handler != e->handler) {
			ctl_reload_change(rep, "dataplane.dispatch: %u %s -> %s", e->port,
					  ctl_udp_handler_name(was->handler),
					  ctl_udp_handler_name(e->handler));
			dispatch_changed = true;
		}
	}
	for (int i = 0; i < o->n_dispatch && i < SN_CONFIG_MAX_DISPATCH; i++) {
		if (dispatch_find(n, o->dispatch[i].port))
			continue;
		ctl_reload_change(rep, "dataplane.dispatch: -%u %s", o->dispatch[i].port,
				  ctl_udp_handler_name(o->dispatch[i].handler));
		dispatch_changed = true;
	}
	if (dispatch_changed && r->chan)
		ctl_chan_set_dispatch(r->chan, n->dispatch, n->n_dispatch, now);
}

/* ---------- reload ---------- */

/* Counts, logs and keeps the report of an attempt. */
static int finish(struct ctl_reload *r, int rc)
{
	struct ctl_reload_report *rep = &r->scratch;

	rep->rc = rc;
	r->attempts++;
	r->last_real_ns = ctl_real_ns();
	if (rc < 0) {
		rep->n_changes = rep->n_restart = rep->dropped = 0;
		if (!rep->error[0])
			snprintf(rep->error, sizeof(rep->error), "%s", strerror(-rc));
		SN_ERR("config reload of %s rejected, running config unchanged: %s", rep->file,
		       rep->error);
		if (r->ctr) {
			ctl_ctr_inc(&r->ctr->config_reload_errors);
			ctl_ctr_set(&r->ctr->config_last_ok, 0);
		}
	} else {
		SN_INFO("config reloaded from %s: %d change(s) applied, %d field(s) need a restart",
			rep->file, rep->n_changes, rep->n_restart);
		for (int i = 0; i < rep->n_changes; i++)
			SN_INFO("reload: %s", rep->changes[i]);
		for (int i = 0; i < rep->n_restart; i++)
			SN_WARN("reload: restart required for %s (not applied)", rep->restart[i]);
		if (r->ctr) {
			ctl_ctr_inc(&r->ctr->config_reloads);
			ctl_ctr_set(&r->ctr->config_last_success_ns, r->last_real_ns);
			ctl_ctr_set(&r->ctr->config_last_ok, 1);
			ctl_ctr_set(&r->ctr->config_restart_required, rep->n_restart ? 1 : 0);
		}
	}
	memcpy(&r->last, rep, sizeof(r->last));
	return rc;
}

int ctl_reload_apply(struct ctl_reload *r, struct sn_config *next, uint64_t now)
{
	struct ctl_reload_report *rep = &r->scratch;
	struct sn_config *old = r->running;
	struct sn_config tmp;
	int prepared = 0, rc = 0;

	report_reset(rep, next->path);
	ctl_reload_restart_diff(r, old, next, rep);

	/* prepare: any refusal leaves everything as it was */
	for (int i = 0; i < r->n_hooks; i++) {
		const struct ctl_reload_hook *h = &r->hooks[i];

		if (h->prepare) {
			rep->error[0] = '\0';
			rc = h->prepare(h->arg, old, next, rep);
			if (rc < 0) {
				char why[sizeof(rep->error)];

				snprintf(why, sizeof(why), "%s",
					 rep->error[0] ? rep->error : strerror(-rc));
				snprintf(rep->error, sizeof(rep->error),
					 "%.32s refused the reload: %.400s", h->name, why);
				break;
			}
		}
		prepared++;
	}
	if (rc < 0) {
		for (int i = prepared - 1; i >= 0; i--)
			if (r->hooks[i].abort)
				r->hooks[i].abort(r->hooks[i].arg, old, next);
		sn_config_free(next);
		return finish(r, rc);
	}

	/* commit: cannot fail */
	commit_log_level(r, old, next, rep);
	for (int i = 0; i < r->n_hooks; i++)
		r->hooks[i].commit(r->hooks[i].arg, old, next, rep);
	commit_channel(r, old, next, rep, now);

	keep_restart_fields(r, old, next);
	tmp = *old;
	*old = *next;
	*next = tmp;
	sn_config_free(next);
	return finish(r, 0);
}

int ctl_reload_file(struct ctl_reload *r, const char *path, uint64_t now)
{
	struct sn_config *next;
	char file[SN_CONFIG_PATH_LEN];
	int rc;

	snprintf(file, sizeof(file), "%s", path ? path : r->running->path);
	report_reset(&r->scratch, file);
	next = calloc(1, sizeof(*next));
	if (!next) {
		ctl_reload_refuse(&r->scratch, "out of memory");
		return finish(r, -ENOMEM);
	}
	rc = sn_config_load(file, next, r->scratch.error, sizeof(r->scratch.error));
	if (rc < 0) {
		free(next);
		return finish(r, rc);
	}
	rc = ctl_reload_apply(r, next, now);
	free(next);
	return rc;
}

/* ---------- admin commands ---------- */

static int cmd_error(struct ctl_buf *out, bool json, int err, const char *msg)
{
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

int ctl_reload_cmd_reload(struct ctl_admin_ctx *ctx, int argc, char **argv, bool json,
			  struct ctl_buf *out)
{
	struct ctl_reload *r = ctx->reload;
	int rc;

	if (!r)
		return cmd_error(out, json, -ENOTSUP, "reload is not available");
	rc = ctl_reload_file(r, NULL, ctl_mono_ns());
	if (rc < 0) {
		/* an error reply (supernodectl exits 1) that carries the loader's message */
		char msg[sizeof(r->last.error) + 64];

		snprintf(msg, sizeof(msg), "%s (reload rejected, the running config is unchanged)",
			 r->last.error);
		if (!json)
			return cmd_error(out, false, rc, msg);
		struct ctl_json j;

		ctl_buf_reset(out);
		ctl_json_init(&j, out);
		ctl_json_obj_begin(&j);
		ctl_json_kv_str(&j, "error", msg);
		ctl_json_kv_i64(&j, "errno", rc);
		ctl_json_kv_str(&j, "file", r->last.file);
		ctl_json_kv_bool(&j, "applied", false);
		ctl_json_obj_end(&j);
		ctl_buf_putc(out, '\n');
		return rc;
	}
	if (json) {
		struct ctl_json j;

		ctl_json_init(&j, out);
		ctl_json_obj_begin(&j);
		report_json(&r->last, &j);
		ctl_json_obj_end(&j);
		ctl_buf_putc(out, '\n');
		return ctl_json_finish(&j);
	}
	ctl_reload_report_text(&r->last, out);
	return 0;
}

static void fmt_prefix4(char *s, size_t n, const struct in_addr *a, unsigned plen)
{
	char ip[INET_ADDRSTRLEN] = "?";

	inet_ntop(AF_INET, a, ip, sizeof(ip));
	if (plen)
		snprintf(s, n, "%s/%u", ip, plen);
	else
		snprintf(s, n, "%s", ip);
}

static void fmt_prefix6(char *s, size_t n, const struct in6_addr *a, unsigned plen)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	inet_ntop(AF_INET6, a, ip, sizeof(ip));
	if (plen)
		snprintf(s, n, "%s/%u", ip, plen);
	else
		snprintf(s, n, "%s", ip);
}

/* The running config as "path: value" lines (text) or one nested object (JSON). Both writers
 * go through these two helpers so they list the same keys. */
struct cfg_out {
	bool json;
	struct ctl_json j;
	struct ctl_buf *out;
};

static void __attribute__((format(printf, 3, 4)))
kv(struct cfg_out *o, const char *key, const char *fmt, ...)
{
	char v[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	if (o->json)
		ctl_json_kv_str(&o->j, key, v);
	else
		ctl_buf_printf(o->out, "%s: %s\n", key, v);
}

static void kv_u64(struct cfg_out *o, const char *text_key, const char *key, uint64_t v)
{
	if (o->json)
		ctl_json_kv_u64(&o->j, key, v);
	else
		ctl_buf_printf(o->out, "%s: %" PRIu64 "\n", text_key, v);
}

static void kv_bool(struct cfg_out *o, const char *text_key, const char *key, bool v)
{
	if (o->json)
		ctl_json_kv_bool(&o->j, key, v);
	else
		ctl_buf_printf(o->out, "%s: %s\n", text_key, v ? "true" : "false");
}

static void kv_str(struct cfg_out *o, const char *text_key, const char *key, const char *v)
{
	if (o->json)
		ctl_json_kv_str(&o->j, key, v);
	else
		ctl_buf_printf(o->out, "%s: %s\n", text_key, v);
}

static void obj_begin(struct cfg_out *o, const char *key)
{
	if (!o->json)
		return;
	if (key)
		ctl_json_key(&o->j, key);
	ctl_json_obj_begin(&o->j);
}

static void obj_end(struct cfg_out *o)
{
	if (o->json)
		ctl_json_obj_end(&o->j);
}

static void show_config(struct cfg_out *o, const struct sn_config *c)
{
	const struct sn_dataplane_config *d = &c->dataplane;
	char s[512], k[96];
	size_t n;

	kv_str(o, "runtime_dir", "runtime_dir", c->runtime_dir);
	kv_str(o, "log_level", "log_level", log_level_name(c->log_level));
	kv_bool(o, "lab_mode", "lab_mode", c->lab_mode);

	obj_begin(o, "dataplane");
	if (o->json) {
		ctl_json_key(&o->j, "eal_args");
		ctl_json_arr_begin(&o->j);
		for (int i = 0; i < d->n_eal_args && i < SN_CONFIG_MAX_EAL_ARGS; i++)
			ctl_json_str(&o->j, d->eal_args[i] ? d->eal_args[i] : "");
		ctl_json_arr_end(&o->j);
		ctl_json_key(&o->j, "workers");
		ctl_json_arr_begin(&o->j);
		for (int i = 0; i < d->n_workers && i < SN_CONFIG_MAX_WORKERS; i++)
			ctl_json_u64(&o->j, d->worker_lcores[i]);
		ctl_json_arr_end(&o->j);
	} else {
		n = 0;
		s[0] = '\0';
		for (int i = 0; i < d->n_eal_args && i < SN_CONFIG_MAX_EAL_ARGS && n < sizeof(s);
		     i++)
			n += (size_t)snprintf(s + n, sizeof(s) - n, "%s\"%s\"", i ? ", " : "",
					      d->eal_args[i] ? d->eal_args[i] : "");
		kv(o, "dataplane.eal_args", "[%s]", s);
		n = 0;
		s[0] = '\0';
		for (int i = 0; i < d->n_workers && i < SN_CONFIG_MAX_WORKERS && n < sizeof(s); i++)
			n += (size_t)snprintf(s + n, sizeof(s) - n, "%s%u", i ? ", " : "",
					      d->worker_lcores[i]);
		kv(o, "dataplane.workers", "[%s]", s);
	}
	kv_u64(o, "dataplane.main_lcore", "main_lcore", d->main_lcore);
	kv_u64(o, "dataplane.mbufs", "mbufs", d->mbufs);
	kv_u64(o, "dataplane.mbuf_cache", "mbuf_cache", d->mbuf_cache);
	kv_u64(o, "dataplane.burst", "burst", d->burst);
	obj_begin(o, "idle");
	kv_u64(o, "dataplane.idle.empty_polls", "empty_polls", d->idle_empty_polls);
	kv_u64(o, "dataplane.idle.sleep_us", "sleep_us", d->idle_sleep_us);
	obj_end(o);
	obj_begin(o, "punt");
	kv_u64(o, "dataplane.punt.ring_size", "ring_size", d->punt_ring_size);
	kv_u64(o, "dataplane.punt.rate_pps", "rate_pps", d->punt_rate_pps);
	kv_u64(o, "dataplane.punt.burst", "burst", d->punt_burst);
	kv_u64(o, "dataplane.punt.source_rate_pps", "source_rate_pps", d->punt_source_rate_pps);
	kv_u64(o, "dataplane.punt.source_burst", "source_burst", d->punt_source_burst);
	obj_end(o);
	kv_u64(o, "dataplane.neigh_entries", "neigh_entries", d->neigh_entries);
	if (o->json) {
		ctl_json_key(&o->j, "ports");
		ctl_json_arr_begin(&o->j);
	}
	for (int i = 0; i < d->n_ports && i < SN_CONFIG_MAX_PORTS; i++) {
		const struct sn_port_config *p = &d->ports[i];

#define PK(name) (snprintf(k, sizeof(k), "dataplane.ports[%d].%s", i, name), k)
		obj_begin(o, NULL);
		kv_str(o, PK("name"), "name", p->name);
		kv_str(o, PK("device"), "device", p->device);
		if (p->has_ipv4) {
			fmt_prefix4(s, sizeof(s), &p->ipv4, p->ipv4_prefix);
			kv_str(o, PK("ipv4"), "ipv4", s);
		}
		if (p->has_gateway4) {
			fmt_prefix4(s, sizeof(s), &p->gateway4, 0);
			kv_str(o, PK("gateway4"), "gateway4", s);
		}
		if (p->has_ipv6) {
			fmt_prefix6(s, sizeof(s), &p->ipv6, p->ipv6_prefix);
			kv_str(o, PK("ipv6"), "ipv6", s);
		}
		if (p->has_gateway6) {
			fmt_prefix6(s, sizeof(s), &p->gateway6, 0);
			kv_str(o, PK("gateway6"), "gateway6", s);
		}
		kv_u64(o, PK("mtu"), "mtu", p->mtu);
		kv_u64(o, PK("rx_desc"), "rx_desc", p->rx_desc);
		kv_u64(o, PK("tx_desc"), "tx_desc", p->tx_desc);
		obj_end(o);
#undef PK
	}
	if (o->json) {
		ctl_json_arr_end(&o->j);
		ctl_json_key(&o->j, "dispatch");
		ctl_json_arr_begin(&o->j);
	}
	for (int i = 0; i < d->n_dispatch && i < SN_CONFIG_MAX_DISPATCH; i++) {
		if (o->json) {
			ctl_json_obj_begin(&o->j);
			ctl_json_kv_u64(&o->j, "port", d->dispatch[i].port);
			ctl_json_kv_str(&o->j, "handler",
					ctl_udp_handler_name(d->dispatch[i].handler));
			ctl_json_obj_end(&o->j);
		} else {
			snprintf(k, sizeof(k), "dataplane.dispatch[%d]", i);
			kv(o, k, "{port: %u, handler: %s}", d->dispatch[i].port,
			   ctl_udp_handler_name(d->dispatch[i].handler));
		}
	}
	if (o->json)
		ctl_json_arr_end(&o->j);
	obj_end(o);

	obj_begin(o, "control");
	obj_begin(o, "metrics");
	kv_str(o, "control.metrics.listen", "listen", c->control.metrics_listen);
	kv_u64(o, "control.metrics.port", "port", c->control.metrics_port);
	obj_end(o);
	kv_u64(o, "control.reconnect_ms", "reconnect_ms", c->control.reconnect_ms);
	kv_u64(o, "control.keepalive_ms", "keepalive_ms", c->control.keepalive_ms);
	obj_end(o);

	obj_begin(o, "turn");
	kv_u64(o, "turn.relay_port_min", "relay_port_min", c->turn.relay_port_min);
	kv_u64(o, "turn.relay_port_max", "relay_port_max", c->turn.relay_port_max);
	kv_u64(o, "turn.max_allocations", "max_allocations", c->turn.max_allocations);
	kv_u64(o, "turn.max_permissions", "max_permissions", c->turn.max_permissions);
	kv_u64(o, "turn.max_channels", "max_channels", c->turn.max_channels);
	kv_bool(o, "turn.rfc5766_channels", "rfc5766_channels", c->turn.rfc5766_channels);
	obj_end(o);

	obj_begin(o, "dht");
	kv_u64(o, "dht.network_id", "network_id", c->dht.network_id);
	obj_end(o);
}

int ctl_reload_cmd_config(struct ctl_admin_ctx *ctx, int argc, char **argv, bool json,
			  struct ctl_buf *out)
{
	struct ctl_reload *r = ctx->reload;
	const struct sn_config *c;
	struct cfg_out o = {.json = json, .out = out};
	uint64_t last_ok_ns;

	if (!r || !r->running)
		return cmd_error(out, json, -ENOTSUP, "the running config is not available");
	c = r->running;
	last_ok_ns = r->ctr ? ctl_ctr_get(&r->ctr->config_last_success_ns) : 0;
	if (json) {
		ctl_json_init(&o.j, out);
		ctl_json_obj_begin(&o.j);
		ctl_json_kv_str(&o.j, "file", c->path);
		ctl_json_key(&o.j, "reload");
		ctl_json_obj_begin(&o.j);
		ctl_json_kv_u64(&o.j, "attempts", r->attempts);
		ctl_json_kv_u64(&o.j, "reloads", r->ctr ? ctl_ctr_get(&r->ctr->config_reloads) : 0);
		ctl_json_kv_u64(&o.j, "errors",
				r->ctr ? ctl_ctr_get(&r->ctr->config_reload_errors) : 0);
		ctl_json_kv_double(&o.j, "last_success_seconds", (double)last_ok_ns / 1e9);
		if (r->attempts) {
			ctl_json_key(&o.j, "last");
			ctl_json_obj_begin(&o.j);
			report_json(&r->last, &o.j);
			ctl_json_obj_end(&o.j);
		}
		ctl_json_key(&o.j, "hooks");
		ctl_json_arr_begin(&o.j);
		for (int i = 0; i < r->n_hooks; i++)
			ctl_json_str(&o.j, r->hooks[i].name);
		ctl_json_arr_end(&o.j);
		ctl_json_obj_end(&o.j);
		ctl_json_key(&o.j, "config");
		ctl_json_obj_begin(&o.j);
		show_config(&o, c);
		ctl_json_obj_end(&o.j);
		ctl_json_obj_end(&o.j);
		ctl_buf_putc(out, '\n');
		return ctl_json_finish(&o.j);
	}
	ctl_buf_printf(out, "# running config, from %s\n", c->path);
	if (r->attempts == 0)
		ctl_buf_puts(out, "# not reloaded since start\n");
	else if (r->last.rc == 0)
		ctl_buf_printf(out, "# last reload applied (%d change(s), %d need a restart)\n",
			       r->last.n_changes, r->last.n_restart);
	else
		ctl_buf_printf(out, "# last reload rejected: %s\n", r->last.error);
	if (r->attempts && r->last.rc == 0)
		for (int i = 0; i < r->last.n_restart; i++)
			ctl_buf_printf(out, "# restart required for %s\n", r->last.restart[i]);
	if (r->n_hooks) {
		ctl_buf_puts(out, "# reload hooks:");
		for (int i = 0; i < r->n_hooks; i++)
			ctl_buf_printf(out, " %s%s%s%s", r->hooks[i].name,
				       r->hooks[i].section ? " (" : "",
				       r->hooks[i].section ? r->hooks[i].section : "",
				       r->hooks[i].section ? ")" : "");
		ctl_buf_putc(out, '\n');
	}
	show_config(&o, c);
	return 0;
}
