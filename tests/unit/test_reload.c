/* Unit tests of config reload (control/reload.c): the diff of restart-only fields, the
 * dispatch list turned into TABLE_CMD ADD/DEL (control/chan.c's ctl_chan_set_dispatch), the
 * log level, the prepare/commit/abort protocol of hooks (any refusal changes nothing), the
 * rejection of an invalid file with the loader's file:line: field message, the counters on
 * /metrics and the admin commands `reload` and `config`. A fake dataplane behind the
 * channel's tx hook records every command and acknowledges it on request. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "chan.h"
#include "counters.h"
#include "metrics.h"
#include "reload.h"
#include "sn_channel.h"
#include "sn_config.h"
#include "sn_log.h"

/* ---------- configs ---------- */

static const char *const base_yaml = "runtime_dir: /tmp/sn-test-reload\n"
				     "log_level: info\n"
				     "dataplane:\n"
				     "  eal_args: [\"--no-huge\", \"-m\", \"512\"]\n"
				     "  workers: [1]\n"
				     "  burst: 32\n"
				     "  ports:\n"
				     "    - name: sn0\n"
				     "      device: \"net_tap0,iface=sn0\"\n"
				     "      ipv4: 198.18.0.1/24\n"
				     "      mtu: 1500\n"
				     "  dispatch:\n"
				     "    - {port: 7, handler: echo}\n"
				     "    - {port: 3478, handler: turn}\n"
				     "    - {port: 4222, handler: dht}\n"
				     "control:\n"
				     "  metrics:\n"
				     "    port: 9641\n"
				     "  reconnect_ms: 200\n"
				     "turn:\n"
				     "  max_allocations: 1000\n";

/* base_yaml with up to four "from", "to" replacements (each `from` must occur once). */
static char *yaml_with(const char *const *repl, int n)
{
	char *s = strdup(base_yaml);

	cr_assert_not_null(s);
	for (int i = 0; i < n; i++) {
		const char *from = repl[2 * i], *to = repl[2 * i + 1];
		char *at = strstr(s, from);
		char *t;

		cr_assert_not_null(at, "'%s' not in the base config", from);
		t = malloc(strlen(s) - strlen(from) + strlen(to) + 1);
		cr_assert_not_null(t);
		memcpy(t, s, (size_t)(at - s));
		strcpy(t + (at - s), to);
		strcat(t, at + strlen(from));
		free(s);
		s = t;
	}
	return s;
}

static char tmp_paths[4][64];
static int n_tmp;

/* Writes text to a new temporary file; returns its path (removed in fini). */
static const char *write_tmp(const char *text)
{
	char *p;
	int fd;

	cr_assert_lt(n_tmp, 4);
	p = tmp_paths[n_tmp++];
	snprintf(p, 64, "/tmp/sn-test-reload-XXXXXX");
	fd = mkstemp(p);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return p;
}

static void rewrite(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	cr_assert_eq(fputs(text, f) >= 0, true);
	cr_assert_eq(fclose(f), 0);
}

/* A config from base_yaml with replacements, loaded from a buffer. */
static struct sn_config *load_with(const char *const *repl, int n)
{
	struct sn_config *c = calloc(1, sizeof(*c));
	char err[512];
	char *text = yaml_with(repl, n);

	cr_assert_not_null(c);
	cr_assert_eq(sn_config_load_buffer("test.yaml", text, strlen(text), c, err, sizeof(err)), 0,
		     "%s", err);
	free(text);
	return c;
}

/* ---------- a fake dataplane behind the channel ---------- */

struct sent_cmd {
	uint32_t seq;
	uint8_t op;
	uint16_t port;
	uint8_t family;
	uint16_t handler;
	bool acked;
};

static struct sent_cmd sent[256];
static int n_sent;
static uint64_t mbuf[SN_CHANNEL_MAX_MSG / 8 + 8];

static int capture_tx(struct ctl_chan *ch, const void *msg, size_t len)
{
	struct sn_msg_view v;

	cr_assert_eq(sn_msg_parse(msg, len, &v), 0, "control sent a malformed message");
	if (v.hdr->type != SN_MSG_TABLE_CMD)
		return 0;
	cr_assert_lt(n_sent, 256);
	struct sent_cmd *c = &sent[n_sent++];
	struct sn_dispatch_key k;

	memset(c, 0, sizeof(*c));
	cr_assert_eq(v.u.table_cmd->table, SN_TABLE_UDP_DISPATCH);
	memcpy(&k, v.key, sizeof(k));
	c->seq = v.hdr->seq;
	c->op = v.u.table_cmd->op;
	c->port = ntohs(k.port);
	c->family = k.family;
	if (c->op == SN_TABLE_OP_ADD) {
		struct sn_dispatch_value val;

		cr_assert_eq(v.u.table_cmd->val_len, sizeof(val));
		memcpy(&val, v.val, sizeof(val));
		c->handler = val.handler;
	} else {
		cr_assert_eq(c->op, SN_TABLE_OP_DEL);
		cr_assert_eq(v.u.table_cmd->val_len, 0);
	}
	return 0;
}

static struct ctl_counters ctr;
static struct ctl_chan chan;
static struct sn_config running;
static struct ctl_reload rl;
static uint64_t now_ns = 1000000000ull;

static void handle(size_t len)
{
	cr_assert_eq(ctl_chan_handle(&chan, mbuf, len, now_ns), 0);
}

static size_t build_fixed(enum sn_msg_type type, const void *body, uint32_t len)
{
	memcpy((uint8_t *)mbuf + sizeof(struct sn_msg_hdr), body, len);
	return sn_msg_init(mbuf, type, 7, len);
}

static void dp_hello(void)
{
	struct sn_msg_hello h;

	memset(&h, 0, sizeof(h));
	h.role = SN_ROLE_DATAPLANE;
	h.pid = 1;
	h.epoch = 42;
	h.n_workers = 1;
	h.n_ports = 1;
	h.n_tables = 1;
	snprintf(h.build, sizeof(h.build), "%s", SN_VERSION);
	handle(build_fixed(SN_MSG_HELLO, &h, sizeof(h)));
}

static void dp_dump_entry(uint16_t port, uint8_t family, uint16_t handler)
{
	struct sn_dispatch_key k = {.port = htons(port), .family = family};
	struct sn_dispatch_value v = {.handler = handler};
	int n = sn_msg_build_table(mbuf, sizeof(mbuf), SN_MSG_DUMP_ENTRY, 8, SN_TABLE_UDP_DISPATCH,
				   SN_TABLE_OP_ADD, &k, sizeof(k), &v, sizeof(v));

	cr_assert_gt(n, 0);
	handle((size_t)n);
}

static void dp_dump_end(uint32_t entries)
{
	struct sn_msg_dump_end e = {.table = 0, .entries = entries};

	handle(build_fixed(SN_MSG_DUMP_END, &e, sizeof(e)));
}

/* Acknowledges every command not acknowledged yet. */
static void dp_ack_all(void)
{
	for (int i = 0; i < n_sent; i++) {
		struct sn_msg_table_ack a = {.cmd_seq = sent[i].seq, .result = 0, .entries = 1};

		if (sent[i].acked)
			continue;
		sent[i].acked = true;
		handle(build_fixed(SN_MSG_TABLE_ACK, &a, sizeof(a)));
	}
}

/* The dataplane's table as control's view has it (handler + 1, 0 absent). */
static unsigned view(uint16_t port, uint8_t family)
{
	return ctl_chan_dispatch_slot(&chan, family, port);
}

static int count_cmds(uint8_t op, uint16_t port, uint16_t handler)
{
	int n = 0;

	for (int i = 0; i < n_sent; i++)
		if (sent[i].op == op && sent[i].port == port &&
		    (op == SN_TABLE_OP_DEL || sent[i].handler == handler))
			n++;
	return n;
}

static void chan_start(const struct sn_config *c)
{
	struct ctl_chan_params p = {
	    .runtime_dir = "/tmp/sn-test-reload",
	    .reconnect_ms = c->control.reconnect_ms,
	    .keepalive_ms = c->control.keepalive_ms,
	    .dispatch = c->dataplane.dispatch,
	    .n_dispatch = c->dataplane.n_dispatch,
	    .epfd = -1,
	    .ctr = &ctr,
	    .tx = capture_tx,
	};

	cr_assert_eq(ctl_chan_init(&chan, &p), 0);
}

/* Session up, the dataplane already has the config's entries: READY, nothing sent. */
static void chan_ready_in_sync(void)
{
	ctl_chan_start_session(&chan, now_ns);
	dp_hello();
	dp_dump_entry(7, AF_INET, SN_UDP_HANDLER_ECHO);
	dp_dump_entry(7, AF_INET6, SN_UDP_HANDLER_ECHO);
	dp_dump_entry(3478, AF_INET, SN_UDP_HANDLER_TURN);
	dp_dump_entry(3478, AF_INET6, SN_UDP_HANDLER_TURN);
	dp_dump_entry(4222, AF_INET, SN_UDP_HANDLER_DHT);
	dp_dump_entry(4222, AF_INET6, SN_UDP_HANDLER_DHT);
	dp_dump_end(6);
	cr_assert_eq(chan.state, CTL_CHAN_READY);
	cr_assert_eq(n_sent, 0, "in sync: no command expected");
}

/* The running config from a temporary file, the channel and the reloader. */
static const char *setup_running(const char *text)
{
	const char *path = write_tmp(text);
	char err[512];

	cr_assert_eq(sn_config_load(path, &running, err, sizeof(err)), 0, "%s", err);
	chan_start(&running);
	ctl_reload_init(&rl, &running, &chan, &ctr);
	return path;
}

static void setup(void)
{
	memset(&ctr, 0, sizeof(ctr));
	memset(&running, 0, sizeof(running));
	n_sent = 0;
	n_tmp = 0;
	sn_log_level = SN_LOG_ERR; /* quiet; tests set it where they check it */
}

static void teardown(void)
{
	ctl_chan_fini(&chan);
	sn_config_free(&running);
	for (int i = 0; i < n_tmp; i++)
		unlink(tmp_paths[i]);
}

static bool report_has(const struct ctl_reload_report *rep, bool restart, const char *line)
{
	int n = restart ? rep->n_restart : rep->n_changes;

	for (int i = 0; i < n; i++)
		if (!strcmp(restart ? rep->restart[i] : rep->changes[i], line))
			return true;
	return false;
}

TestSuite(reload, .init = setup, .fini = teardown);

/* ---------- applying ---------- */

Test(reload, same_file_changes_nothing)
{
	const char *path = setup_running(base_yaml);

	chan_ready_in_sync();
	cr_assert_eq(ctl_reload_file(&rl, NULL, now_ns), 0, "%s", rl.last.error);
	cr_assert_str_eq(rl.last.file, path);
	cr_assert_eq(rl.last.n_changes, 0);
	cr_assert_eq(rl.last.n_restart, 0);
	cr_assert_eq(n_sent, 0);
	cr_assert_eq(ctr.config_reloads, 1);
	cr_assert_eq(ctr.config_reload_errors, 0);
	cr_assert_eq(ctr.config_last_ok, 1);
	cr_assert_eq(ctr.config_restart_required, 0);
	cr_assert_gt(ctr.config_last_success_ns, 0);
}

Test(reload, log_level_applied)
{
	const char *r[] = {"log_level: info", "log_level: warn"};
	const char *path = setup_running(base_yaml);
	char *text = yaml_with(r, 1);

	sn_log_level = SN_LOG_INFO;
	rewrite(path, text);
	free(text);
	cr_assert_eq(ctl_reload_file(&rl, NULL, now_ns), 0, "%s", rl.last.error);
	cr_assert_eq(sn_log_level, SN_LOG_WARN);
	cr_assert_eq(running.log_level, SN_LOG_WARN);
	cr_assert(report_has(&rl.last, false, "log_level: info -> warn"));
}

Test(reload, log_level_kept_with_verbose)
{
	const char *r[] = {"log_level: info", "log_level: error"};
	struct sn_config *next;

	setup_running(base_yaml);
	rl.log_level_locked = true;
	sn_log_level = SN_LOG_DEBUG;
	next = load_with(r, 1);
	cr_assert_eq(ctl_reload_apply(&rl, next, now_ns), 0);
	free(next);
	cr_assert_eq(sn_log_level, SN_LOG_DEBUG);
	cr_assert_eq(running.log_level, SN_LOG_ERR);
	sn_log_level = SN_LOG_ERR;
}

Test(reload, dispatch_add_change_remove)
{
	const char *r[] = {"    - {port: 7, handler: echo}\n", "    - {port: 9, handler: echo}\n",
			   "{port: 3478, handler: turn}", "{port: 3478, handler: echo}"};
	struct sn_config *next;

	setup_running(base_yaml);
	chan_ready_in_sync();
	next = load_with(r, 2);
	cr_assert_eq(ctl_reload_apply(&rl, next, now_ns), 0, "%s", rl.last.error);
	free(next);

	/* both families of each: ADD 9 echo, ADD 3478 echo, DEL 7; 4222 untouched */
	cr_assert_eq(count_cmds(SN_TABLE_OP_ADD, 9, SN_UDP_HANDLER_ECHO), 2);
	cr_assert_eq(count_cmds(SN_TABLE_OP_ADD, 3478, SN_UDP_HANDLER_ECHO), 2);
	cr_assert_eq(count_cmds(SN_TABLE_OP_DEL, 7, 0), 2);
	cr_assert_eq(n_sent, 6, "only what changed is sent");
	cr_assert(report_has(&rl.last, false, "dataplane.dispatch: +9 echo"));
	cr_assert(report_has(&rl.last, false, "dataplane.dispatch: 3478 turn -> echo"));
	cr_assert(report_has(&rl.last, false, "dataplane.dispatch: -7 echo"));
	cr_assert_eq(rl.last.n_restart, 0);

	/* removals stay wanted-absent until the dataplane acknowledges them */
	cr_assert_eq(chan.n_want, 8);
	dp_ack_all();
	cr_assert_eq(chan.n_want, 6);
	for (int i = 0; i < chan.n_want; i++) {
		cr_assert_eq(chan.want[i].state, CTL_WANT_OK);
		cr_assert_eq(chan.want[i].del, 0);
	}
	cr_assert_eq(view(9, AF_INET), SN_UDP_HANDLER_ECHO + 1u);
	cr_assert_eq(view(9, AF_INET6), SN_UDP_HANDLER_ECHO + 1u);
	cr_assert_eq(view(3478, AF_INET), SN_UDP_HANDLER_ECHO + 1u);
	cr_assert_eq(view(7, AF_INET), 0);
	cr_assert_eq(view(7, AF_INET6), 0);
	cr_assert_eq(view(4222, AF_INET6), SN_UDP_HANDLER_DHT + 1u);
	/* the running config has the new list */
	cr_assert_eq(running.dataplane.n_dispatch, 3);
	cr_assert_eq(running.dataplane.dispatch[0].port, 9);

	/* the same file again: nothing to send */
	next = load_with(r, 2);
	cr_assert_eq(ctl_reload_apply(&rl, next, now_ns), 0);
	free(next);
	cr_assert_eq(n_sent, 6);
	cr_assert_eq(rl.last.n_changes, 0);
	cr_assert_eq(ctr.config_reloads, 2);
}

Test(reload, dispatch_while_disconnected_goes_at_resync)
{
	const char *r[] = {"    - {port: 7, handler: echo}\n", "    - {port: 9, handler: echo}\n"};
	struct sn_config *next;

	setup_running(base_yaml);
	next = load_with(r, 1);
	cr_assert_eq(ctl_reload_apply(&rl, next, now_ns), 0);
	free(next);
	cr_assert_eq(n_sent, 0, "no session: nothing sent yet");

	/* the dataplane still has 7 (its config file was the old one when it started) */
	ctl_chan_start_session(&chan, now_ns);
	dp_hello();
	dp_dump_entry(7, AF_INET, SN_UDP_HANDLER_ECHO);
	dp_dump_entry(7, AF_INET6, SN_UDP_HANDLER_ECHO);
	dp_dump_entry(3478, AF_INET, SN_UDP_HANDLER_TURN);
	dp_dump_entry(3478, AF_INET6, SN_UDP_HANDLER_TURN);
	dp_dump_end(4);
	cr_assert_eq(count_cmds(SN_TABLE_OP_DEL, 7, 0), 2);
	cr_assert_eq(count_cmds(SN_TABLE_OP_ADD, 9, SN_UDP_HANDLER_ECHO), 2);
	cr_assert_eq(count_cmds(SN_TABLE_OP_ADD, 4222, SN_UDP_HANDLER_DHT), 2);
	cr_assert_eq(n_sent, 6);
	dp_ack_all();
	cr_assert_eq(view(7, AF_INET), 0);
	cr_assert_eq(view(9, AF_INET6), SN_UDP_HANDLER_ECHO + 1u);
	cr_assert_eq(chan.n_want, 6);
}

Test(reload, port_wanted_again_before_removal_acked)
{
	const char *r[] = {"    - {port: 7, handler: echo}\n", ""};
	struct sn_config *next;

	setup_running(base_yaml);
	chan_ready_in_sync();
	next = load_with(r, 1);
	cr_assert_eq(ctl_reload_apply(&rl, next, now_ns), 0);
	free(next);
	cr_assert_eq(count_cmds(SN_TABLE_OP_DEL, 7, 0), 2);
	/* back before the dataplane answered: re-added, the removal is forgotten */
	next = load_with(NULL, 0);
	cr_assert_eq(ctl_reload_apply(&rl, next, now_ns), 0);
	free(next);
	cr_assert_eq(count_cmds(SN_TABLE_OP_ADD, 7, SN_UDP_HANDLER_ECHO), 2);
	dp_ack_all();
	cr_assert_eq(chan.n_want, 6);
	cr_assert_eq(view(7, AF_INET), SN_UDP_HANDLER_ECHO + 1u);
	cr_assert_eq(view(7, AF_INET6), SN_UDP_HANDLER_ECHO + 1u);
}

Test(reload, restart_fields_reported_not_applied)
{
	const char *r[] = {"mtu: 1500",
			   "mtu: 9000",
			   "burst: 32",
			   "burst: 64",
			   "port: 9641",
			   "port: 9650",
			   "max_allocations: 1000",
			   "max_allocations: 2000"};
	const char *r2[] = {"workers: [1]",
			    "workers: [1, 2]",
			    "\"-m\", \"512\"",
			    "\"-m\", \"1024\"",
			    "runtime_dir: /tmp/sn-test-reload",
			    "runtime_dir: /tmp/elsewhere",
			    "log_level: info",
			    "log_level: debug"};
	struct sn_config *next;
	char *eal1 = NULL;

	setup_running(base_yaml);
	eal1 = running.dataplane.eal_args[2];
	next = load_with(r, 4);
	cr_assert_eq(ctl_reload_apply(&rl, next, now_ns), 0, "%s", rl.last.error);
	free(next);
	cr_assert(report_has(&rl.last, true, "dataplane.ports"));
	cr_assert(report_has(&rl.last, true, "dataplane.burst"));
	cr_assert(report_has(&rl.last, true, "control.metrics.port"));
	cr_assert(report_has(&rl.last, true, "turn.max_allocations"));
	cr_assert_eq(rl.last.n_restart, 4);
	cr_assert_eq(rl.last.n_changes, 0);
	/* the running config keeps what is in effect */
	cr_assert_eq(running.dataplane.ports[0].mtu, 1500);
	cr_assert_eq(running.dataplane.burst, 32);
	cr_assert_eq(running.control.metrics_port, 9641);
	cr_assert_eq(running.turn.max_allocations, 1000);
	cr_assert_eq(ctr.config_restart_required, 1);

	next = load_with(r2, 4);
	cr_assert_eq(ctl_reload_apply(&rl, next, now_ns), 0, "%s", rl.last.error);
	free(next);
	cr_assert(report_has(&rl.last, true, "dataplane.workers"));
	cr_assert(report_has(&rl.last, true, "dataplane.eal_args"));
	cr_assert(report_has(&rl.last, true, "runtime_dir"));
	cr_assert(report_has(&rl.last, false, "log_level: info -> debug"));
	cr_assert_eq(rl.last.n_restart, 3);
	cr_assert_eq(running.dataplane.n_workers, 1);
	cr_assert_str_eq(running.runtime_dir, "/tmp/sn-test-reload");
	cr_assert_eq(running.dataplane.eal_args[2], eal1, "eal_args must stay the running ones");
	cr_assert_str_eq(running.dataplane.eal_args[2], "512");
	cr_assert_eq(running.log_level, SN_LOG_DEBUG);
	sn_log_level = SN_LOG_ERR;

	/* back to the start file: nothing pending any more */
	next = load_with(NULL, 0);
	cr_assert_eq(ctl_reload_apply(&rl, next, now_ns), 0);
	free(next);
	cr_assert_eq(rl.last.n_restart, 0);
	cr_assert_eq(ctr.config_restart_required, 0);
}

/* The guard, Sybil and promotion sections are read at start: a change is pending, not
 * applied, and the running config keeps the values in effect. */
Test(reload, start_only_sections_reported_not_applied)
{
	const char *r[] = {"  max_allocations: 1000\n",
			   "  max_allocations: 1000\nguard:\n  suspect_factor: 8\n"
			   "sybil:\n  interval_s: 120\n"};
	struct sn_config *next;
	uint32_t factor, interval;

	setup_running(base_yaml);
	factor = running.guard.suspect_factor;
	interval = running.sybil.interval_s;
	cr_assert_neq(factor, 8);
	next = load_with(r, 1);
	cr_assert_eq(ctl_reload_apply(&rl, next, now_ns), 0, "%s", rl.last.error);
	free(next);
	cr_assert(report_has(&rl.last, true, "guard"));
	cr_assert(report_has(&rl.last, true, "sybil"));
	cr_assert_eq(rl.last.n_restart, 2);
	cr_assert_eq(running.guard.suspect_factor, factor);
	cr_assert_eq(running.sybil.interval_s, interval);
	cr_assert_eq(ctr.config_restart_required, 1);
}

/* ---------- rejecting ---------- */

Test(reload, invalid_file_rejected_whole)
{
	/* a dispatch change and a log level change next to an error: none of it applies */
	const char *r[] = {"    - {port: 7, handler: echo}\n",
			   "    - {port: 9, handler: echo}\n",
			   "log_level: info",
			   "log_level: debug",
			   "mtu: 1500",
			   "mtu: 99999"};
	const char *path = setup_running(base_yaml);
	char *text = yaml_with(r, 3);
	char want[128];

	chan_ready_in_sync();
	sn_log_level = SN_LOG_INFO;
	rewrite(path, text);
	free(text);
	cr_assert_eq(ctl_reload_file(&rl, NULL, now_ns), -EINVAL);
	/* mtu is on line 11 of the base config */
	snprintf(want, sizeof(want), "%s:11: dataplane.ports[0].mtu", path);
	cr_assert_not_null(strstr(rl.last.error, want), "error '%s' does not name %s",
			   rl.last.error, want);
	cr_assert_eq(rl.last.rc, -EINVAL);
	cr_assert_eq(n_sent, 0);
	cr_assert_eq(sn_log_level, SN_LOG_INFO);
	cr_assert_eq(running.log_level, SN_LOG_INFO);
	cr_assert_eq(running.dataplane.dispatch[0].port, 7);
	cr_assert_eq(chan.n_want, 6);
	cr_assert_eq(ctr.config_reloads, 0);
	cr_assert_eq(ctr.config_reload_errors, 1);
	cr_assert_eq(ctr.config_last_ok, 0);
	sn_log_level = SN_LOG_ERR;

	/* fixed: applies, and the gauge says so */
	rewrite(path, base_yaml);
	cr_assert_eq(ctl_reload_file(&rl, NULL, now_ns), 0, "%s", rl.last.error);
	cr_assert_eq(ctr.config_last_ok, 1);
	cr_assert_eq(ctr.config_reloads, 1);
}

Test(reload, missing_file_rejected)
{
	setup_running(base_yaml);
	cr_assert_eq(ctl_reload_file(&rl, "/nonexistent/sn.yaml", now_ns), -ENOENT);
	cr_assert_not_null(strstr(rl.last.error, "/nonexistent/sn.yaml:0: (file)"), "%s",
			   rl.last.error);
	cr_assert_eq(ctr.config_reload_errors, 1);
	cr_assert_str_eq(running.path, tmp_paths[0]);
}

/* ---------- hooks ---------- */

struct fake_module {
	const char *name;
	int refuse; /* prepare returns this */
	int prepares, commits, aborts;
	int order;		     /* commit order stamp */
	uint32_t seen_old, seen_new; /* turn.max_allocations in the configs it was given */
};

static int stamp;

static int fake_prepare(void *arg, const struct sn_config *old, const struct sn_config *new,
			struct ctl_reload_report *rep)
{
	struct fake_module *m = arg;

	m->prepares++;
	if (m->refuse) {
		ctl_reload_refuse(rep, "%s says no", m->name);
		return m->refuse;
	}
	return 0;
}

static void fake_commit(void *arg, const struct sn_config *old, const struct sn_config *new,
			struct ctl_reload_report *rep)
{
	struct fake_module *m = arg;

	m->commits++;
	m->order = ++stamp;
	m->seen_old = old->turn.max_allocations;
	m->seen_new = new->turn.max_allocations;
	if (old->turn.max_allocations != new->turn.max_allocations)
		ctl_reload_change(rep, "turn.max_allocations: %u -> %u", old->turn.max_allocations,
				  new->turn.max_allocations);
}

static void fake_abort(void *arg, const struct sn_config *old, const struct sn_config *new)
{
	((struct fake_module *)arg)->aborts++;
}

static struct ctl_reload_hook fake_hook(struct fake_module *m, const char *section)
{
	struct ctl_reload_hook h = {
	    .name = m->name,
	    .section = section,
	    .prepare = fake_prepare,
	    .commit = fake_commit,
	    .abort = fake_abort,
	    .arg = m,
	};
	return h;
}

Test(reload, refusal_leaves_everything_as_it_was)
{
	const char *r[] = {"    - {port: 7, handler: echo}\n", "    - {port: 9, handler: echo}\n",
			   "log_level: info", "log_level: debug"};
	struct fake_module a = {.name = "a"}, b = {.name = "b", .refuse = -EBUSY},
			   c = {.name = "c"};
	struct ctl_reload_hook ha = fake_hook(&a, NULL), hb = fake_hook(&b, NULL),
			       hc = fake_hook(&c, NULL);
	struct sn_config *next;

	setup_running(base_yaml);
	chan_ready_in_sync();
	cr_assert_eq(ctl_reload_register(&rl, &ha), 0);
	cr_assert_eq(ctl_reload_register(&rl, &hb), 0);
	cr_assert_eq(ctl_reload_register(&rl, &hc), 0);
	sn_log_level = SN_LOG_INFO;
	next = load_with(r, 2);
	cr_assert_eq(ctl_reload_apply(&rl, next, now_ns), -EBUSY);
	free(next);
	cr_assert_eq(a.prepares, 1);
	cr_assert_eq(a.aborts, 1, "a prepared, so it is aborted");
	cr_assert_eq(b.prepares, 1);
	cr_assert_eq(b.aborts, 0, "b refused: nothing to undo");
	cr_assert_eq(c.prepares, 0, "nobody after the refusal is asked");
	cr_assert_eq(a.commits + b.commits + c.commits, 0);
	cr_assert_str_eq(rl.last.error, "b refused the reload: b says no");
	cr_assert_eq(n_sent, 0);
	cr_assert_eq(sn_log_level, SN_LOG_INFO);
	cr_assert_eq(running.log_level, SN_LOG_INFO);
	cr_assert_eq(running.dataplane.dispatch[0].port, 7);
	cr_assert_eq(ctr.config_reload_errors, 1);
	cr_assert_eq(ctr.config_reloads, 0);
	sn_log_level = SN_LOG_ERR;

	/* b changes its mind: all commit, in registration order */
	b.refuse = 0;
	next = load_with(r, 2);
	cr_assert_eq(ctl_reload_apply(&rl, next, now_ns), 0, "%s", rl.last.error);
	free(next);
	cr_assert_eq(a.commits, 1);
	cr_assert_eq(b.commits, 1);
	cr_assert_eq(c.commits, 1);
	cr_assert(a.order < b.order && b.order < c.order);
	cr_assert_eq(count_cmds(SN_TABLE_OP_ADD, 9, SN_UDP_HANDLER_ECHO), 2);
	sn_log_level = SN_LOG_ERR;
}

Test(reload, hook_claims_its_section)
{
	const char *r[] = {"max_allocations: 1000", "max_allocations: 5000"};
	struct fake_module t = {.name = "turn"};
	struct ctl_reload_hook ht = fake_hook(&t, "turn");
	struct sn_config *next;

	setup_running(base_yaml);
	cr_assert_eq(ctl_reload_register(&rl, &ht), 0);
	next = load_with(r, 1);
	cr_assert_eq(ctl_reload_apply(&rl, next, now_ns), 0, "%s", rl.last.error);
	free(next);
	cr_assert_eq(rl.last.n_restart, 0, "the turn hook applies turn.*");
	cr_assert(report_has(&rl.last, false, "turn.max_allocations: 1000 -> 5000"));
	cr_assert_eq(t.seen_old, 1000);
	cr_assert_eq(t.seen_new, 5000);
	cr_assert_eq(running.turn.max_allocations, 5000);
}

Test(reload, register_errors)
{
	struct fake_module m[CTL_RELOAD_MAX_HOOKS + 1];
	char names[CTL_RELOAD_MAX_HOOKS + 1][8];
	struct ctl_reload_hook h;

	setup_running(base_yaml);
	memset(m, 0, sizeof(m));
	h = (struct ctl_reload_hook){.name = "x"};
	cr_assert_eq(ctl_reload_register(&rl, &h), -EINVAL, "no commit");
	h = (struct ctl_reload_hook){.commit = fake_commit};
	cr_assert_eq(ctl_reload_register(&rl, &h), -EINVAL, "no name");
	for (int i = 0; i < CTL_RELOAD_MAX_HOOKS; i++) {
		snprintf(names[i], sizeof(names[i]), "m%d", i);
		m[i].name = names[i];
		h = fake_hook(&m[i], i == 0 ? "turn" : NULL);
		cr_assert_eq(ctl_reload_register(&rl, &h), 0);
	}
	h = fake_hook(&m[0], NULL);
	cr_assert_eq(ctl_reload_register(&rl, &h), -EEXIST, "same name");
	snprintf(names[CTL_RELOAD_MAX_HOOKS], 8, "other");
	m[CTL_RELOAD_MAX_HOOKS].name = names[CTL_RELOAD_MAX_HOOKS];
	h = fake_hook(&m[CTL_RELOAD_MAX_HOOKS], "turn");
	cr_assert_eq(ctl_reload_register(&rl, &h), -EEXIST, "section taken");
	h = fake_hook(&m[CTL_RELOAD_MAX_HOOKS], NULL);
	cr_assert_eq(ctl_reload_register(&rl, &h), -ENOSPC);
}

/* ---------- metrics and admin commands ---------- */

Test(reload, metrics_exported)
{
	struct ctl_buf b;
	const char *r[] = {"mtu: 1500", "mtu: 99999"};
	struct sn_config *bad = calloc(1, sizeof(*bad));
	char *text = yaml_with(r, 1);
	char err[256];

	setup_running(base_yaml);
	cr_assert_lt(sn_config_load_buffer("bad.yaml", text, strlen(text), bad, err, sizeof(err)),
		     0);
	free(text);
	free(bad);
	cr_assert_eq(ctl_reload_file(&rl, NULL, now_ns), 0);
	cr_assert_eq(ctl_reload_file(&rl, "/nonexistent.yaml", now_ns), -ENOENT);
	ctl_buf_init(&b);
	cr_assert_eq(ctl_metrics_render(&b, NULL, &ctr, 0), 0);
	cr_assert_not_null(strstr(b.data, "\nsupernode_control_config_reloads_total 1\n"));
	cr_assert_not_null(strstr(b.data, "\nsupernode_control_config_reload_errors_total 1\n"));
	cr_assert_not_null(
	    strstr(b.data, "# TYPE supernode_control_config_last_reload_success_timestamp_seconds "
			   "gauge\n"));
	cr_assert_not_null(strstr(b.data, "\nsupernode_control_config_last_reload_successful 0\n"));
	cr_assert_not_null(strstr(b.data, "\nsupernode_control_config_restart_required 0\n"));
	ctl_buf_free(&b);
}

Test(reload, admin_reload_and_config)
{
	const char *r[] = {"    - {port: 7, handler: echo}\n", "    - {port: 9, handler: echo}\n"};
	const char *bad[] = {"burst: 32", "burst: 0"};
	struct ctl_admin_ctx ctx;
	struct ctl_buf out;
	const char *path = setup_running(base_yaml);
	char *text;

	chan_ready_in_sync();
	ctl_admin_ctx_init(&ctx, "/tmp/sn-test-reload", &chan, &ctr);
	ctl_buf_init(&out);

	/* without the reloader: a clear error */
	cr_assert_lt(ctl_admin_exec(&ctx, "config", &out), 0);
	cr_assert_eq(strncmp(out.data, "error: ", 7), 0);
	ctx.reload = &rl;

	ctl_buf_reset(&out);
	cr_assert_eq(ctl_admin_exec(&ctx, "config", &out), 0);
	cr_assert_not_null(strstr(out.data, "dataplane.dispatch[0]: {port: 7, handler: echo}\n"),
			   "%s", out.data);
	cr_assert_not_null(strstr(out.data, "dataplane.ports[0].ipv4: 198.18.0.1/24\n"));
	cr_assert_not_null(strstr(out.data, "control.metrics.port: 9641\n"));
	cr_assert_not_null(strstr(out.data, "log_level: info\n"));

	ctl_buf_reset(&out);
	cr_assert_eq(ctl_admin_exec(&ctx, "config json", &out), 0);
	cr_assert_eq(out.data[0], '{');
	cr_assert_not_null(strstr(out.data, "\"dispatch\":[{\"port\":7,\"handler\":\"echo\"}"),
			   "%s", out.data);

	text = yaml_with(r, 1);
	rewrite(path, text);
	free(text);
	ctl_buf_reset(&out);
	cr_assert_eq(ctl_admin_exec(&ctx, "reload", &out), 0, "%s", out.data);
	cr_assert_not_null(strstr(out.data, "dataplane.dispatch: +9 echo\n"), "%s", out.data);
	cr_assert_not_null(strstr(out.data, "dataplane.dispatch: -7 echo\n"), "%s", out.data);

	text = yaml_with(bad, 1);
	rewrite(path, text);
	free(text);
	ctl_buf_reset(&out);
	cr_assert_lt(ctl_admin_exec(&ctx, "reload", &out), 0);
	cr_assert_eq(strncmp(out.data, "error: ", 7), 0, "%s", out.data);
	cr_assert_not_null(strstr(out.data, ":6: dataplane.burst"), "%s", out.data);
	cr_assert_not_null(strstr(out.data, "running config is unchanged"), "%s", out.data);
	ctl_buf_reset(&out);
	cr_assert_lt(ctl_admin_exec(&ctx, "reload json", &out), 0);
	cr_assert_eq(strncmp(out.data, "{\"error\":", 9), 0, "%s", out.data);

	/* config says what is in effect and that the last reload was rejected */
	ctl_buf_reset(&out);
	cr_assert_eq(ctl_admin_exec(&ctx, "config", &out), 0);
	cr_assert_not_null(strstr(out.data, "dataplane.dispatch[0]: {port: 9, handler: echo}\n"));
	cr_assert_not_null(strstr(out.data, "# last reload rejected: "), "%s", out.data);

	ctl_buf_free(&out);
	ctl_admin_ctx_fini(&ctx);
}
