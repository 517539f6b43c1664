/* test_trust.c: the trust graph and its verdicts (control/trust.h) on small graphs with known
 * answers: a Sybil region behind one attack edge is suspect and the honest region trusted,
 * components without a seed and nodes in no graph are unknown (policy allow/deny), marks act
 * at once, vouches and observed relations add edges, the edge-list file grammar (plain and
 * gzip, errors), and the mixing warning on a slowly mixing graph. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "buf.h"
#include "sybil.h"
#include "trust.h"

#define N_HONEST 60
#define N_SYBIL	 30

static char path[64];

static void cleanup(void)
{
	ctl_trust_fini();
	if (path[0])
		unlink(path);
	path[0] = 0;
}

static void cfg_init(struct sn_config *cfg, const char *file, const char *seeds)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->sybil.enabled = true;
	snprintf(cfg->sybil.file, sizeof(cfg->sybil.file), "%s", file ? file : "");
	snprintf(cfg->sybil.seeds, sizeof(cfg->sybil.seeds), "%s", seeds ? seeds : "");
	cfg->sybil.interval_s = 300;
	cfg->sybil.r0 = 4;
	cfg->sybil.balance = 4;
	cfg->sybil.suspect_below_pct = 10;
	cfg->sybil.unknown = SN_SYBIL_UNKNOWN_ALLOW;
	cfg->sybil.decision = SN_SYBIL_DECIDE_EITHER;
	cfg->sybil.mixing_warn_factor = 2;
	cfg->sybil.max_dynamic_edges = 1000;
}

static void honest_tok(uint32_t i, char *s, size_t n)
{
	snprintf(s, n, "10.0.%u.%u", i / 200, i % 200 + 1);
}

static void sybil_id(uint32_t i, uint8_t id[20])
{
	memset(id, 0xaa, 20);
	id[18] = (uint8_t)(i >> 8);
	id[19] = (uint8_t)i;
}

static void sybil_tok(uint32_t i, char *s, size_t n)
{
	uint8_t id[20];

	sybil_id(i, id);
	for (int k = 0; k < 20 && (size_t)(2 * k + 2) < n; k++)
		snprintf(s + 2 * k, 3, "%02x", id[k]);
}

/* Honest region: Barabasi-Albert (m = 3) on addresses; Sybil region: a BA graph (m = 4) on
 * node ids; one attack edge between honest 7 and Sybil 0. */
static void write_attack_file(FILE *f)
{
	struct sybil_edgelist h = {0}, s = {0};
	char a[64], b[64];

	cr_assert_eq(sybil_gen_ba(N_HONEST, 3, 11, &h), 0);
	cr_assert_eq(sybil_gen_ba(N_SYBIL, 4, 12, &s), 0);
	fprintf(f, "# honest region\n");
	for (size_t i = 0; i < h.n; i++) {
		honest_tok((uint32_t)h.e[i].a, a, sizeof(a));
		honest_tok((uint32_t)h.e[i].b, b, sizeof(b));
		fprintf(f, "%s %s\n", a, b);
	}
	fprintf(f, "\n# sybil region\n");
	for (size_t i = 0; i < s.n; i++) {
		sybil_tok((uint32_t)s.e[i].a, a, sizeof(a));
		sybil_tok((uint32_t)s.e[i].b, b, sizeof(b));
		fprintf(f, "%s\t%s\r\n", a, b);
	}
	honest_tok(7, a, sizeof(a));
	sybil_tok(0, b, sizeof(b));
	fprintf(f, "%s %s\nseed 10.0.0.2\n", a, b);
	sybil_edgelist_free(&h);
	sybil_edgelist_free(&s);
}

static void make_file(void (*writer)(FILE *))
{
	int fd;
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/test_trust.XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	f = fdopen(fd, "w");
	cr_assert_not_null(f);
	writer(f);
	fclose(f);
}

static int addr_suspect(const char *s)
{
	uint8_t a[16] = {0};

	cr_assert_eq(inet_pton(AF_INET, s, a), 1);
	return ctl_trust_suspect_addr(AF_INET, a);
}

static void check_regions(int min_honest_ok, int min_sybil_caught, bool by_rank)
{
	int honest_ok = 0, sybil_caught = 0;
	char s[64];

	for (uint32_t i = 0; i < N_HONEST; i++) {
		honest_tok(i, s, sizeof(s));
		honest_ok += addr_suspect(s) == 0;
	}
	for (uint32_t i = 0; i < N_SYBIL; i++) {
		uint8_t id[20];

		sybil_id(i, id);
		sybil_caught += ctl_trust_suspect_node(id) == 1;
		if (by_rank && ctl_trust_suspect_node(id) == 1)
			cr_expect_lt(ctl_trust_score_node(id), 0.1);
	}
	cr_expect_geq(honest_ok, min_honest_ok, "honest trusted: %d of %d", honest_ok, N_HONEST);
	cr_expect_geq(sybil_caught, min_sybil_caught, "Sybils suspect: %d of %d", sybil_caught,
		      N_SYBIL);
}

Test(trust, sybil_region_behind_one_attack_edge_is_suspect, .fini = cleanup)
{
	struct sn_config cfg;

	make_file(write_attack_file);
	cfg_init(&cfg, path, "10.0.0.1, 10.0.0.3");
	cr_assert_eq(ctl_trust_init(&cfg), 0);
	cr_assert_eq(ctl_trust_run(1), 0);
	/* the default rule (either method rejects): nearly every honest node is trusted, and
	 * the Sybil region (its attack-edge end included) is suspect */
	check_regions(N_HONEST * 9 / 10, N_SYBIL - 1, true);
	cr_expect_eq(addr_suspect("10.0.0.1"), 0); /* a seed */
	cr_expect_geq(ctl_trust_score_addr(AF_INET, (const uint8_t[16]){10, 0, 0, 1}), 0.99);
}

Test(trust, decision_rules, .fini = cleanup)
{
	struct sn_config cfg;

	make_file(write_attack_file);
	cfg_init(&cfg, path, "10.0.0.1");
	cfg.sybil.decision = SN_SYBIL_DECIDE_SYBILRANK;
	cr_assert_eq(ctl_trust_init(&cfg), 0);
	cr_assert_eq(ctl_trust_run(1), 0);
	check_regions(N_HONEST - 3, N_SYBIL - 1, true);
	/* both must agree: on this small, slowly mixing graph SybilLimit's benchmarked w is
	 * long enough for routes to cross the attack edge, so few Sybils are caught */
	cfg.sybil.decision = SN_SYBIL_DECIDE_BOTH;
	cr_assert_eq(ctl_trust_reconfigure(&cfg), 0);
	cr_assert_eq(ctl_trust_run(2), 0);
	check_regions(N_HONEST - 1, 0, false);
	/* SybilLimit alone with a short route: the Sybil region is mostly rejected */
	cfg.sybil.decision = SN_SYBIL_DECIDE_SYBILLIMIT;
	cfg.sybil.walk_length = 4;
	cr_assert_eq(ctl_trust_reconfigure(&cfg), 0);
	cr_assert_eq(ctl_trust_run(3), 0);
	check_regions(N_HONEST / 2, N_SYBIL / 2, false);
}

Test(trust, unknown_nodes_and_policy, .fini = cleanup)
{
	struct sn_config cfg;
	uint8_t id[20] = {1, 2, 3};

	make_file(write_attack_file);
	cfg_init(&cfg, path, "");
	cr_assert_eq(ctl_trust_init(&cfg), 0);
	cr_assert_eq(ctl_trust_run(1), 0); /* the file's seed 10.0.0.2 anchors it */
	cr_expect_eq(ctl_trust_suspect_node(id), -ENOENT);
	cr_expect_lt(ctl_trust_score_node(id), 0);
	cr_expect_eq(addr_suspect("192.0.2.1"), -ENOENT);
	cfg.sybil.unknown = SN_SYBIL_UNKNOWN_DENY;
	cr_assert_eq(ctl_trust_reconfigure(&cfg), 0);
	cr_expect_eq(ctl_trust_suspect_node(id), 1);
	cr_expect_eq(ctl_trust_verdict_node(id, 0, NULL), CTL_TRUST_SUSPECT);
	cr_expect_eq(addr_suspect("10.0.0.2"), 0);
}

static void write_two_components(FILE *f)
{
	fprintf(f, "10.1.0.1 10.1.0.2\n10.1.0.2 10.1.0.3\n10.1.0.3 10.1.0.1\n");
	fprintf(f, "10.2.0.1 10.2.0.2\n10.2.0.2 10.2.0.3\n10.2.0.3 10.2.0.1\n");
	fprintf(f, "seed 10.1.0.1\n");
}

Test(trust, component_without_seed_is_unknown, .fini = cleanup)
{
	struct sn_config cfg;

	make_file(write_two_components);
	cfg_init(&cfg, path, NULL);
	cr_assert_eq(ctl_trust_init(&cfg), 0);
	cr_assert_eq(ctl_trust_run(1), 0);
	cr_expect_eq(addr_suspect("10.1.0.3"), 0);
	cr_expect_eq(addr_suspect("10.2.0.3"), -ENOENT);
}

Test(trust, marks_act_at_once, .fini = cleanup)
{
	struct sn_config cfg;
	uint8_t id[20];
	uint64_t gen;

	cfg_init(&cfg, NULL, NULL);
	cr_assert_eq(ctl_trust_init(&cfg), 0);
	memset(id, 0x42, sizeof(id));
	gen = ctl_trust_generation();
	cr_assert_eq(ctl_trust_mark("4242424242424242424242424242424242424242", CTL_TRUST_SUSPECT),
		     0);
	cr_expect_gt(ctl_trust_generation(), gen);
	cr_expect_eq(ctl_trust_suspect_node(id), 1);
	cr_assert_eq(ctl_trust_mark("2001:db8::7", CTL_TRUST_SUSPECT), 0);
	cr_expect_eq(
	    ctl_trust_suspect_addr(AF_INET6, (const uint8_t[16]){0x20, 0x01, 0x0d, 0xb8, [15] = 7}),
	    1);
	/* a node id is suspect when its address is */
	cr_expect_eq(ctl_trust_verdict_node((const uint8_t[20]){9}, AF_INET6,
					    (const uint8_t[16]){0x20, 0x01, 0x0d, 0xb8, [15] = 7}),
		     CTL_TRUST_SUSPECT);
	cr_assert_eq(ctl_trust_mark("4242424242424242424242424242424242424242", CTL_TRUST_UNKNOWN),
		     0);
	cr_expect_eq(ctl_trust_suspect_node(id), 1, "the verdict stays until the next run");
	cr_assert_eq(ctl_trust_run(1), 0);
	cr_expect_eq(ctl_trust_suspect_node(id), -ENOENT);
	cr_expect_eq(ctl_trust_mark("not-a-token", CTL_TRUST_SUSPECT), -EINVAL);
	cr_expect_eq(ctl_trust_mark("424242", CTL_TRUST_SUSPECT), -EINVAL);
}

Test(trust, vouch_parsing)
{
	uint8_t id[20];
	const char *hex = "0123456789abcdef0123456789ABCDEF01234567";
	char buf[128];

	snprintf(buf, sizeof(buf), "vouch:%s", hex);
	cr_expect_eq(ctl_trust_parse_vouch((const uint8_t *)buf, (uint32_t)strlen(buf), id), 0);
	cr_expect_eq(id[0], 0x01);
	cr_expect_eq(id[19], 0x67);
	snprintf(buf, sizeof(buf), "vouch %s\r\n", hex);
	cr_expect_eq(ctl_trust_parse_vouch((const uint8_t *)buf, (uint32_t)strlen(buf), id), 0);
	cr_expect_eq(ctl_trust_parse_vouch((const uint8_t *)hex, 40, id), 0);
	cr_expect_eq(ctl_trust_parse_vouch((const uint8_t *)hex, 39, id), -EINVAL);
	cr_expect_eq(ctl_trust_parse_vouch((const uint8_t *)"vouch", 5, id), -EINVAL);
	cr_expect_eq(ctl_trust_parse_vouch((const uint8_t *)"", 0, id), -EINVAL);
	snprintf(buf, sizeof(buf), "vouch:%.39sg", hex);
	cr_expect_eq(ctl_trust_parse_vouch((const uint8_t *)buf, (uint32_t)strlen(buf), id),
		     -EINVAL);
}

Test(trust, vouches_and_relations_join_the_graph, .fini = cleanup)
{
	struct sn_config cfg;
	uint8_t seed[20], a[20], b[20];
	const uint8_t c1[16] = {198, 51, 100, 1}, c2[16] = {198, 51, 100, 2};

	memset(seed, 0x11, 20);
	memset(a, 0x22, 20);
	memset(b, 0x33, 20);
	cfg_init(&cfg, NULL, "1111111111111111111111111111111111111111");
	cfg.sybil.max_dynamic_edges = 4;
	cr_assert_eq(ctl_trust_init(&cfg), 0);
	cr_expect_eq(ctl_trust_add_vouch(seed, a), 0);
	cr_expect_eq(ctl_trust_add_vouch(a, seed), 0, "a duplicate is fine");
	cr_expect_eq(ctl_trust_add_vouch(a, b), 0);
	cr_expect_eq(ctl_trust_add_vouch(b, seed), 0);
	cr_expect_eq(ctl_trust_add_vouch(a, a), -EINVAL);
	cr_expect_eq(ctl_trust_observe_relay(AF_INET, c1, AF_INET, c2), 0);
	cr_expect_eq(ctl_trust_observe_relay(AF_INET, c2, AF_INET, c1), 0);
	cr_expect_eq(ctl_trust_observe_relay(AF_INET, c1, AF_INET6, seed), -ENOSPC,
		     "max_dynamic_edges");
	cr_assert_eq(ctl_trust_run(1), 0);
	cr_expect_eq(ctl_trust_suspect_node(a), 0);
	cr_expect_eq(ctl_trust_suspect_node(b), 0);
	cr_expect_eq(ctl_trust_suspect_addr(AF_INET, c1), -ENOENT, "no seed in its component");
}

static void write_bad(FILE *f)
{
	fprintf(f, "10.0.0.1 10.0.0.2\n10.0.0.1 10.0.0.2 10.0.0.3\n");
}

Test(trust, bad_file_is_refused_and_dynamic_edges_still_count, .fini = cleanup)
{
	struct sn_config cfg;
	struct ctl_buf b;
	uint8_t s[20], a[20];

	memset(s, 0x11, 20);
	memset(a, 0x22, 20);
	make_file(write_bad);
	cfg_init(&cfg, path, "1111111111111111111111111111111111111111");
	cr_assert_eq(ctl_trust_init(&cfg), 0);
	cr_assert_eq(ctl_trust_add_vouch(s, a), 0);
	cr_assert_eq(ctl_trust_add_vouch(a, (const uint8_t[20]){7}), 0);
	cr_assert_eq(ctl_trust_add_vouch((const uint8_t[20]){7}, s), 0);
	ctl_trust_run(1);
	cr_expect_eq(addr_suspect("10.0.0.1"), -ENOENT);
	cr_expect_eq(ctl_trust_suspect_node(a), 0);
	ctl_buf_init(&b);
	cr_assert_eq(ctl_trust_cmd_sybil(NULL, 1, (char *[]){"sybil"}, false, &b), 0);
	cr_assert_not_null(b.data);
	cr_expect_not_null(strstr(b.data, "line 2"), "%s", b.data);
	ctl_buf_free(&b);
}

static void write_gzip(const char *p)
{
	gzFile g = gzopen(p, "wb");

	cr_assert_not_null(g);
	gzprintf(g, "10.3.0.1 10.3.0.2\n10.3.0.2 10.3.0.3\n10.3.0.3 10.3.0.1\nseed 10.3.0.1\n"
		    "suspect 10.3.0.2\n");
	gzclose(g);
}

Test(trust, gzip_file_and_file_marks, .fini = cleanup)
{
	struct sn_config cfg;

	snprintf(path, sizeof(path), "/tmp/test_trust_gz.%d", (int)getpid());
	write_gzip(path);
	cfg_init(&cfg, path, NULL);
	cr_assert_eq(ctl_trust_init(&cfg), 0);
	cr_assert_eq(ctl_trust_run(1), 0);
	cr_expect_eq(addr_suspect("10.3.0.3"), 0);
	cr_expect_eq(addr_suspect("10.3.0.2"), 1, "file mark");
}

static void write_cycle(FILE *f)
{
	for (int i = 0; i < 400; i++)
		fprintf(f, "10.4.%d.%d 10.4.%d.%d\n", i / 200, i % 200 + 1, (i + 1) % 400 / 200,
			(i + 1) % 400 % 200 + 1);
	fprintf(f, "seed 10.4.0.1\n");
}

Test(trust, slow_mixing_is_reported, .fini = cleanup)
{
	struct sn_config cfg;
	struct ctl_buf b;

	make_file(write_cycle);
	cfg_init(&cfg, path, NULL);
	cfg.sybil.walk_length = 10;
	cr_assert_eq(ctl_trust_init(&cfg), 0);
	cr_assert_eq(ctl_trust_run(1), 0);
	ctl_buf_init(&b);
	ctl_trust_metrics_render(&b);
	cr_assert_not_null(b.data);
	cr_expect_not_null(strstr(b.data, "supernode_sybil_mixing_slow 1\n"), "%s", b.data);
	cr_expect_not_null(strstr(b.data, "supernode_sybil_graph_nodes 400\n"));
	ctl_buf_reset(&b);
	cr_assert_eq(ctl_trust_cmd_sybil(NULL, 1, (char *[]){"sybil"}, true, &b), 0);
	cr_expect_not_null(strstr(b.data, "\"mixing_slow\":true"), "%s", b.data);
	ctl_buf_free(&b);
}

Test(trust, off_means_enodev)
{
	struct sn_config cfg;
	uint8_t id[20] = {0};

	cfg_init(&cfg, NULL, NULL);
	cfg.sybil.enabled = false;
	cr_assert_eq(ctl_trust_init(&cfg), 0);
	cr_expect_eq(ctl_trust_suspect_node(id), -ENODEV);
	cr_expect_eq(ctl_trust_mark("10.0.0.1", CTL_TRUST_SUSPECT), -ENODEV);
	ctl_trust_fini();
}
