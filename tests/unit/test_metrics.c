/* Unit tests of supernode-control's /metrics exposition (control/metrics.c), rendered from a
 * synthetic stats segment made with sn_stats_create in a temporary directory, of the stats
 * reader (re-mapping a replaced segment) and of the admin commands built on the same data.
 * When /usr/bin/promtool exists, `promtool check metrics` must accept the output silently. */
#include <criterion/criterion.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin.h"
#include "buf.h"
#include "counters.h"
#include "json.h"
#include "metrics.h"
#include "sn_log.h"
#include "sn_stats.h"
#include "stats_reader.h"
#include "util.h"

static char dir[64];
static struct sn_stats_segment *seg;
static struct ctl_counters ctr;
static struct ctl_buf out;

static void rm_dir(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", dir, SN_STATS_FILE);
	unlink(path);
	rmdir(dir);
}

static void fill_segment(struct sn_stats_segment *s, uint64_t now)
{
	s->epoch = (now / CTL_NS_PER_SEC - 3600) * CTL_NS_PER_SEC; /* whole seconds */
	s->heartbeat_ns = now - 100 * CTL_NS_PER_MS;
	s->pid = 4321;
	s->n_lcores = 3;
	s->lcore_ids[0] = 2;
	s->lcore_ids[1] = 3;
	s->lcore_ids[2] = 0; /* main lcore last */
	s->lcore_is_worker[0] = 1;
	s->lcore_is_worker[1] = 1;
	for (int i = 0; i < 3; i++) {
		for (int c = 0; c < SN_CTR_MAX; c++)
			s->lcores[i].counters[c] = 1000u * (unsigned)(i + 1) + (unsigned)c;
		s->lcores[i].poll_cycles_busy = 250 * (uint64_t)(i + 1);
		s->lcores[i].poll_cycles_total = 1000 * (uint64_t)(i + 1);
	}
	s->lcores[0].drops[SN_DROP_UDP_CHECKSUM] = 7;
	s->lcores[1].punts[SN_PUNT_ECHO] = 5;
	s->n_ports = 2;
	sn_stats_write_begin(s);
	snprintf(s->ports[0].name, sizeof(s->ports[0].name), "sn0");
	s->ports[0].ipackets = 11;
	s->ports[0].opackets = 12;
	s->ports[0].ibytes = 1300;
	s->ports[0].obytes = 1400;
	s->ports[0].imissed = 15;
	s->ports[0].ierrors = 16;
	s->ports[0].oerrors = 17;
	s->ports[0].rx_nombuf = 18;
	s->ports[0].link_up = 1;
	s->ports[0].link_speed_mbps = 10000;
	snprintf(s->ports[1].name, sizeof(s->ports[1].name), "we\"ird\\name");
	s->gauges.mempool_size = 8192;
	s->gauges.mempool_in_use = 512;
	s->gauges.channel_connected = 1;
	s->gauges.channel_connects = 2;
	s->gauges.dispatch_entries = 4;
	s->gauges.punt_ring_used = 3;
	sn_stats_write_end(s);
}

static void setup(void)
{
	sn_log_level = getenv("SN_TEST_VERBOSE") ? SN_LOG_DEBUG : SN_LOG_ERR;
	snprintf(dir, sizeof(dir), "/tmp/sn-test-metrics-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	seg = sn_stats_create(dir);
	cr_assert_not_null(seg);
	fill_segment(seg, ctl_real_ns());
	memset(&ctr, 0, sizeof(ctr));
	ctr.start_time_ns = 1700000000ull * CTL_NS_PER_SEC + 500 * CTL_NS_PER_MS;
	ctr.channel_connected = 1;
	ctr.channel_connects = 3;
	ctr.resyncs = 2;
	ctr.errors[CTL_ERR_MALFORMED] = 9;
	ctr.punts[SN_PUNT_ECHO] = 6;
	ctr.echo_replies = 6;
	ctr.dump_entries = 4;
	ctl_buf_init(&out);
}

static void teardown(void)
{
	ctl_buf_free(&out);
	if (seg)
		munmap(seg, sizeof(*seg));
	rm_dir();
}

TestSuite(metrics, .init = setup, .fini = teardown);

static void has_line(const char *line)
{
	char *p = out.data;
	size_t n = strlen(line);

	while (p && (p = strstr(p, line))) {
		if ((p == out.data || p[-1] == '\n') && p[n] == '\n')
			return;
		p += n;
	}
	cr_assert_fail("line not found: %s", line);
}

static int count_prefix(const char *prefix)
{
	int n = 0;

	for (char *p = out.data; p && *p;) {
		if (!strncmp(p, prefix, strlen(prefix)))
			n++;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return n;
}

/* Checks the exposition's structure without promtool: every sample belongs to a family
 * announced by HELP then TYPE just before its samples, families appear once, names follow
 * supernode_<area>_..., counters end in _total and gauges do not, labels are only
 * lcore/port/reason/method. */
static void check_structure(void)
{
	char fam[128] = "", type[16] = "";
	char seen[256][128];
	int nseen = 0;
	char *text = strdup(out.data), *save = NULL;

	cr_assert_not_null(text);
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "# HELP ", 7)) {
			cr_assert_eq(sscanf(line + 7, "%127s", fam), 1);
			for (int i = 0; i < nseen; i++)
				cr_assert_str_neq(seen[i], fam, "family %s repeated", fam);
			cr_assert_lt(nseen, 256);
			snprintf(seen[nseen++], 128, "%s", fam);
			cr_assert_eq(strncmp(fam, "supernode_", 10), 0, "%s", fam);
			for (const char *c = fam; *c; c++)
				cr_assert(islower((unsigned char)*c) ||
					      isdigit((unsigned char)*c) || *c == '_',
					  "bad character in %s", fam);
			type[0] = '\0';
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7)) {
			char name[128];

			cr_assert_eq(sscanf(line + 7, "%127s %15s", name, type), 2);
			cr_assert_str_eq(name, fam, "TYPE not right after HELP");
			cr_assert(!strcmp(type, "counter") || !strcmp(type, "gauge"));
			size_t n = strlen(fam);
			bool total = n > 6 && !strcmp(fam + n - 6, "_total");
			cr_assert_eq(total, !strcmp(type, "counter"), "%s: %s", fam, type);
			continue;
		}
		cr_assert_neq(line[0], '#', "stray comment %s", line);
		cr_assert_neq(type[0], '\0', "sample before TYPE: %s", line);
		size_t n = strlen(fam);
		cr_assert_eq(strncmp(line, fam, n), 0, "sample %s outside family %s", line, fam);
		cr_assert(line[n] == ' ' || line[n] == '{', "%s", line);
		if (line[n] == '{') {
			/* label names */
			for (char *l = line + n + 1; *l && *l != '}';) {
				char *eq = strchr(l, '=');

				cr_assert_not_null(eq);
				*eq = '\0';
				cr_assert(!strcmp(l, "lcore") || !strcmp(l, "port") ||
					      !strcmp(l, "reason") || !strcmp(l, "method"),
					  "label %s", l);
				/* skip the quoted value */
				char *v = eq + 1;
				cr_assert_eq(*v, '"');
				for (v++; *v && *v != '"'; v++)
					if (*v == '\\')
						v++;
				cr_assert_eq(*v, '"');
				l = v + 1;
				if (*l == ',')
					l++;
			}
		}
	}
	free(text);
}

static void promtool_check(void)
{
	char tmp[] = "/tmp/sn-test-metrics-out-XXXXXX", cmd[128], msg[4096];
	int fd;
	FILE *p;
	size_t n;

	if (access("/usr/bin/promtool", X_OK) != 0) {
		cr_log_warn("promtool not installed: exposition checked by the unit test only");
		return;
	}
	fd = mkstemp(tmp);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, out.data, out.len), (ssize_t)out.len);
	close(fd);
	snprintf(cmd, sizeof(cmd), "/usr/bin/promtool check metrics < %s 2>&1", tmp);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	n = fread(msg, 1, sizeof(msg) - 1, p);
	msg[n] = '\0';
	int status = pclose(p);
	unlink(tmp);
	cr_assert_eq(n, 0, "promtool says: %s", msg);
	cr_assert_eq(status, 0, "promtool exit status %d", status);
}

Test(metrics, full_segment)
{
	char line[256];

	cr_assert_eq(ctl_metrics_render(&out, seg, &ctr, ctl_real_ns()), 0);
	has_line("supernode_dataplane_up 1");
	has_line("# TYPE supernode_dataplane_up gauge");
	snprintf(line, sizeof(line), "supernode_dataplane_start_time_seconds %llu.000000000",
		 (unsigned long long)(seg->epoch / CTL_NS_PER_SEC));
	has_line(line);
	/* every per-lcore counter, for every lcore, labelled with the DPDK lcore id */
	for (int c = 0; c < SN_CTR_MAX; c++) {
		snprintf(line, sizeof(line), "# TYPE supernode_dataplane_%s_total counter",
			 sn_lcore_counter_names[c]);
		has_line(line);
		snprintf(line, sizeof(line), "supernode_dataplane_%s_total{lcore=\"3\"} %d",
			 sn_lcore_counter_names[c], 2000 + c);
		has_line(line);
	}
	has_line("supernode_dataplane_rx_packets_total{lcore=\"2\"} 1000");
	has_line("supernode_dataplane_rx_bytes_total{lcore=\"0\"} 3001");
	/* every drop reason for every lcore, zeros included */
	cr_assert_eq(count_prefix("supernode_dataplane_drops_total{"), 3 * SN_DROP_MAX);
	has_line("supernode_dataplane_drops_total{lcore=\"2\",reason=\"udp_checksum\"} 7");
	has_line("supernode_dataplane_drops_total{lcore=\"3\",reason=\"runt\"} 0");
	cr_assert_eq(count_prefix("supernode_dataplane_punts_total{"), 3 * SN_PUNT_MAX);
	has_line("supernode_dataplane_punts_total{lcore=\"3\",reason=\"echo\"} 5");
	has_line("supernode_dataplane_busy_cycles_total{lcore=\"3\"} 500");
	has_line("supernode_dataplane_poll_cycles_total{lcore=\"0\"} 3000");
	/* gauges group */
	has_line("supernode_dataplane_mempool_mbufs 8192");
	has_line("supernode_dataplane_mempool_in_use_mbufs 512");
	has_line("supernode_dataplane_channel_connected 1");
	has_line("supernode_dataplane_channel_connects_total 2");
	has_line("supernode_dataplane_dispatch_entries 4");
	has_line("supernode_dataplane_punt_ring_packets 3");
	/* ports, with the label value escaped */
	has_line("supernode_port_rx_packets_total{port=\"sn0\"} 11");
	has_line("supernode_port_tx_packets_total{port=\"sn0\"} 12");
	has_line("supernode_port_rx_bytes_total{port=\"sn0\"} 1300");
	has_line("supernode_port_tx_bytes_total{port=\"sn0\"} 1400");
	has_line("supernode_port_rx_missed_packets_total{port=\"sn0\"} 15");
	has_line("supernode_port_rx_errors_total{port=\"sn0\"} 16");
	has_line("supernode_port_tx_errors_total{port=\"sn0\"} 17");
	has_line("supernode_port_rx_nombuf_total{port=\"sn0\"} 18");
	has_line("supernode_port_link_up{port=\"sn0\"} 1");
	has_line("supernode_port_link_speed_bytes{port=\"sn0\"} 1250000000");
	has_line("supernode_port_link_up{port=\"we\\\"ird\\\\name\"} 0");
	/* control's own */
	has_line("supernode_control_up 1");
	has_line("supernode_control_start_time_seconds 1700000000.500000000");
	has_line("supernode_control_channel_connected 1");
	has_line("supernode_control_channel_connects_total 3");
	has_line("supernode_control_resyncs_total 2");
	has_line("supernode_control_channel_errors_total{reason=\"malformed\"} 9");
	has_line("supernode_control_channel_errors_total{reason=\"tx_would_block\"} 0");
	cr_assert_eq(count_prefix("supernode_control_channel_errors_total{"), CTL_ERR_MAX);
	has_line("supernode_control_punts_received_total{reason=\"echo\"} 6");
	has_line("supernode_control_punts_received_total{reason=\"turn\"} 0");
	has_line("supernode_control_echo_replies_total 6");
	has_line("supernode_control_dump_entries 4");
	check_structure();
	promtool_check();
}

Test(metrics, no_segment)
{
	cr_assert_eq(ctl_metrics_render(&out, NULL, &ctr, ctl_real_ns()), 0);
	has_line("supernode_dataplane_up 0");
	cr_assert_null(strstr(out.data, "supernode_dataplane_rx_packets_total"));
	cr_assert_null(strstr(out.data, "supernode_port_"));
	has_line("supernode_control_up 1");
	check_structure();
	promtool_check();
}

Test(metrics, stale_heartbeat_is_down)
{
	uint64_t now = ctl_real_ns();

	seg->heartbeat_ns = now - 2 * CTL_NS_PER_SEC - 1;
	cr_assert_eq(ctl_metrics_render(&out, seg, &ctr, now), 0);
	has_line("supernode_dataplane_up 0");
	has_line("supernode_dataplane_heartbeat_age_seconds 2.000000001");
	ctl_buf_reset(&out);
	seg->heartbeat_ns = now - 2 * CTL_NS_PER_SEC;
	cr_assert_eq(ctl_metrics_render(&out, seg, &ctr, now), 0);
	has_line("supernode_dataplane_up 1");
	ctl_buf_reset(&out);
	seg->heartbeat_ns = 0; /* never beat */
	cr_assert_eq(ctl_metrics_render(&out, seg, &ctr, now), 0);
	has_line("supernode_dataplane_up 0");
	promtool_check();
}

Test(metrics, stuck_writer_skips_the_gauge_group)
{
	sn_stats_write_begin(seg); /* the dataplane died mid-update: seq stays odd */
	cr_assert_eq(ctl_metrics_render(&out, seg, &ctr, ctl_real_ns()), 0);
	cr_assert_null(strstr(out.data, "supernode_port_"));
	cr_assert_null(strstr(out.data, "supernode_dataplane_mempool_mbufs"));
	has_line("supernode_dataplane_rx_packets_total{lcore=\"2\"} 1000");
	check_structure();
	promtool_check();
}

Test(metrics, lcore_and_port_counts_are_clamped)
{
	seg->n_lcores = 1000;
	seg->n_ports = 1000;
	cr_assert_eq(ctl_metrics_render(&out, seg, &ctr, ctl_real_ns()), 0);
	cr_assert_eq(count_prefix("supernode_dataplane_busy_cycles_total{"), SN_STATS_MAX_LCORES);
	cr_assert_eq(count_prefix("supernode_port_link_up{"), SN_STATS_MAX_PORTS);
	/* unterminated port names stay inside their field */
	memset(seg->ports[0].name, 'p', sizeof(seg->ports[0].name));
	ctl_buf_reset(&out);
	cr_assert_eq(ctl_metrics_render(&out, seg, &ctr, ctl_real_ns()), 0);
	has_line("supernode_port_link_up{port=\"pppppppppppppppppppppppppppppppp\"} 1");
}

Test(metrics, reader_follows_a_replaced_segment)
{
	struct ctl_stats_reader r;
	const struct sn_stats_segment *a, *b;
	char path[128];

	ctl_stats_reader_init(&r, dir);
	a = ctl_stats_reader_get(&r);
	cr_assert_not_null(a);
	cr_assert_eq(a->pid, 4321);
	cr_assert_eq(ctl_stats_reader_get(&r), a, "unchanged file is not re-mapped");

	/* a restarted dataplane creates a new file */
	struct sn_stats_segment *fresh = sn_stats_create(dir);
	cr_assert_not_null(fresh);
	fresh->pid = 777;
	b = ctl_stats_reader_get(&r);
	cr_assert_not_null(b);
	cr_assert_eq(b->pid, 777);
	munmap(fresh, sizeof(*fresh));

	/* gone: NULL, and back */
	snprintf(path, sizeof(path), "%s/%s", dir, SN_STATS_FILE);
	cr_assert_eq(unlink(path), 0);
	cr_assert_null(ctl_stats_reader_get(&r));
	/* a file of the wrong size is refused */
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("not a segment", f);
	fclose(f);
	cr_assert_null(ctl_stats_reader_get(&r));
	unlink(path);
	ctl_stats_reader_fini(&r);
	munmap(seg, sizeof(*seg));
	seg = NULL;
}

/* ---------- admin commands on the same synthetic segment ---------- */

/* JSON validity, checked by Python when it is there. */
static void json_valid(const char *text)
{
	char tmp[] = "/tmp/sn-test-json-XXXXXX", cmd[160];
	int fd;

	if (access("/usr/bin/python3", X_OK) != 0)
		return;
	fd = mkstemp(tmp);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 "/usr/bin/python3 -c 'import json,sys; json.load(sys.stdin)' < %s", tmp);
	int status = system(cmd);
	unlink(tmp);
	cr_assert_eq(status, 0, "invalid JSON: %s", text);
}

static struct ctl_admin_ctx actx;

static void admin_setup(void)
{
	setup();
	ctl_admin_ctx_init(&actx, dir, NULL, &ctr);
}

static void admin_teardown(void)
{
	ctl_admin_ctx_fini(&actx);
	teardown();
}

TestSuite(admin, .init = admin_setup, .fini = admin_teardown);

Test(admin, status_text_and_json)
{
	cr_assert_eq(ctl_admin_exec(&actx, "status", &out), 0);
	cr_assert_not_null(strstr(out.data, "pid 4321"), "%s", out.data);
	cr_assert_not_null(strstr(out.data, "2 workers, 2 ports"), "%s", out.data);
	cr_assert_not_null(strstr(out.data, "rx 6000 packets"), "%s", out.data);
	cr_assert_not_null(strstr(out.data, "drops 7"), "%s", out.data);
	ctl_buf_reset(&out);
	cr_assert_eq(ctl_admin_exec(&actx, "status json", &out), 0);
	cr_assert_not_null(strstr(out.data, "\"pid\":4321"), "%s", out.data);
	cr_assert_not_null(strstr(out.data, "\"drops\":7"), "%s", out.data);
	cr_assert_not_null(strstr(out.data, "\"up\":true"), "%s", out.data);
	json_valid(out.data);
}

Test(admin, ports_and_workers)
{
	cr_assert_eq(ctl_admin_exec(&actx, "ports text", &out), 0);
	cr_assert_not_null(strstr(out.data, "sn0"), "%s", out.data);
	cr_assert_eq(strncmp(out.data, "PORT", 4), 0, "%s", out.data);
	ctl_buf_reset(&out);
	cr_assert_eq(ctl_admin_exec(&actx, "ports json", &out), 0);
	cr_assert_not_null(strstr(out.data, "\"name\":\"we\\\"ird\\\\name\""), "%s", out.data);
	json_valid(out.data);

	ctl_buf_reset(&out);
	cr_assert_eq(ctl_admin_exec(&actx, "workers", &out), 0);
	cr_assert_not_null(strstr(out.data, "worker"), "%s", out.data);
	cr_assert_not_null(strstr(out.data, "25.0"), "%s", out.data); /* busy 250/1000 */

	/* two samples give rates */
	ctl_admin_sample(&actx, 1 * CTL_NS_PER_SEC);
	seg->lcores[0].counters[SN_CTR_RX_PACKETS] += 500;
	seg->lcores[0].poll_cycles_busy += 900;
	seg->lcores[0].poll_cycles_total += 1000;
	ctl_admin_sample(&actx, 3 * CTL_NS_PER_SEC);
	ctl_buf_reset(&out);
	cr_assert_eq(ctl_admin_exec(&actx, "workers json", &out), 0);
	cr_assert_not_null(strstr(out.data, "\"window_seconds\":2"), "%s", out.data);
	cr_assert_not_null(strstr(out.data, "\"rx_pps\":250"), "%s", out.data);
	cr_assert_not_null(strstr(out.data, "\"busy_percent\":90"), "%s", out.data);
	json_valid(out.data);
}

Test(admin, errors)
{
	cr_assert_eq(ctl_admin_exec(&actx, "frobnicate", &out), -ENOENT);
	cr_assert_eq(strncmp(out.data, "error: unknown command \"frobnicate\"", 35), 0, "%s",
		     out.data);
	ctl_buf_reset(&out);
	cr_assert_eq(ctl_admin_exec(&actx, "fr\"ob\x01 json", &out), -ENOENT);
	cr_assert_eq(strncmp(out.data, "{\"error\":", 9), 0, "%s", out.data);
	json_valid(out.data);
	ctl_buf_reset(&out);
	cr_assert_lt(ctl_admin_exec(&actx, "", &out), 0);
	ctl_buf_reset(&out);
	cr_assert_lt(ctl_admin_exec(&actx, "   \t ", &out), 0);
	ctl_buf_reset(&out);
	cr_assert_lt(ctl_admin_exec(&actx, "status extra words", &out), 0);
	ctl_buf_reset(&out);
	cr_assert_lt(ctl_admin_exec(&actx, "a b c d e f g h i j k l m n o p q r", &out), 0);
	ctl_buf_reset(&out);
	cr_assert_lt(ctl_admin_exec(&actx, "dispatch", &out), 0); /* no channel in this test */
	ctl_buf_reset(&out);
	cr_assert_eq(ctl_admin_exec(&actx, "help json", &out), 0);
	json_valid(out.data);
}

Test(admin, without_dataplane)
{
	munmap(seg, sizeof(*seg));
	seg = NULL;
	rm_dir();
	cr_assert_eq(ctl_admin_exec(&actx, "status", &out), 0);
	cr_assert_not_null(strstr(out.data, "not running"), "%s", out.data);
	ctl_buf_reset(&out);
	cr_assert_eq(ctl_admin_exec(&actx, "status json", &out), 0);
	json_valid(out.data);
	ctl_buf_reset(&out);
	cr_assert_eq(ctl_admin_exec(&actx, "ports json", &out), -ENOENT);
	json_valid(out.data);
}

Test(json, escaping)
{
	struct ctl_json j;

	ctl_json_init(&j, &out);
	ctl_json_obj_begin(&j);
	ctl_json_kv_str(&j, "s", "q\"b\\n\nt\tc\x01\x7f é \xff\xc3");
	ctl_json_key(&j, "a");
	ctl_json_arr_begin(&j);
	ctl_json_u64(&j, UINT64_MAX);
	ctl_json_i64(&j, INT64_MIN);
	ctl_json_double(&j, 1.0 / 0.0);
	ctl_json_bool(&j, false);
	ctl_json_null(&j);
	ctl_json_arr_end(&j);
	ctl_json_obj_end(&j);
	cr_assert_eq(ctl_json_finish(&j), 0);
	cr_assert_str_eq(out.data, "{\"s\":\"q\\\"b\\\\n\\nt\\tc\\u0001\\u007f é \\ufffd\\ufffd\","
				   "\"a\":[18446744073709551615,-9223372036854775808,null,false,"
				   "null]}");
	json_valid(out.data);

	/* misuse is reported */
	ctl_buf_reset(&out);
	ctl_json_init(&j, &out);
	ctl_json_obj_begin(&j);
	cr_assert_lt(ctl_json_finish(&j), 0);
	ctl_json_init(&j, &out);
	ctl_json_arr_end(&j);
	cr_assert_lt(ctl_json_finish(&j), 0);
	ctl_json_init(&j, &out);
	for (int i = 0; i < CTL_JSON_MAX_DEPTH + 1; i++)
		ctl_json_arr_begin(&j);
	cr_assert_lt(ctl_json_finish(&j), 0);
}
