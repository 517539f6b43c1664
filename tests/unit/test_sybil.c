/* Unit tests of control/sybil.c: the edge-list loader (strict, line-numbered errors, gzip),
 * the graph builder, the generators, SybilLimit's routes (permutations, reversibility,
 * convergence), verifier and balance condition, the registration view against direct
 * intersection, SybilRank on graphs with known answers, AUC, mixing and determinism. */
#include <criterion/criterion.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "sybil.h"

#ifndef SN_DATASETS
#define SN_DATASETS "../shared/datasets"
#endif

static struct sybil_graph *from_text(const char *text)
{
	struct sybil_edgelist el = {0};
	struct sybil_graph *g = NULL;
	char err[SYBIL_ERR_LEN];

	cr_assert_eq(sybil_edgelist_parse(text, strlen(text), &el, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sybil_graph_build(&el, &g), 0);
	sybil_edgelist_free(&el);
	return g;
}

static struct sybil_graph *ba(uint32_t n, uint32_t m, uint64_t seed)
{
	struct sybil_edgelist el = {0};
	struct sybil_graph *g = NULL;

	cr_assert_eq(sybil_gen_ba(n, m, seed, &el), 0);
	cr_assert_eq(sybil_graph_build_dense(n, el.e, el.n, &g), 0);
	sybil_edgelist_free(&el);
	return g;
}

/* Every structural invariant of the CSR form. */
static void check_graph(const struct sybil_graph *g)
{
	uint64_t sum = 0;
	uint32_t v, s;

	cr_assert_eq(g->off[0], 0);
	cr_assert_eq(g->off[g->n], 2 * g->m);
	for (v = 0; v < g->n; v++) {
		for (s = g->off[v]; s < g->off[v + 1]; s++) {
			cr_assert_neq(g->adj[s], v, "self-loop at %u", v);
			if (s > g->off[v])
				cr_assert_gt(g->adj[s], g->adj[s - 1], "unsorted or duplicate");
			cr_assert_eq(g->rev[g->rev[s]], s);
			cr_assert_eq(g->adj[g->rev[s]], v);
			cr_assert_eq(sybil_graph_slot_src(g, s), v);
		}
		sum += sybil_degree(g, v);
	}
	cr_assert_eq(sum, 2 * (uint64_t)g->m);
}

/* ---------- loader ---------- */

Test(sybil_parse, accepts_comments_blanks_crlf_tabs)
{
	const char *t = "# header\n\n0 1\n  1\t2  \r\n# x\n\t \n3 4\n5 6";
	struct sybil_edgelist el = {0};
	char err[SYBIL_ERR_LEN] = "";

	cr_assert_eq(sybil_edgelist_parse(t, strlen(t), &el, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(el.n, 4);
	cr_assert_eq(el.e[1].a, 1);
	cr_assert_eq(el.e[1].b, 2);
	cr_assert_eq(el.e[3].a, 5);
	cr_assert_eq(el.e[3].b, 6);
	sybil_edgelist_free(&el);
}

static void refuse(const char *text, size_t len, int want_rc, const char *want_line)
{
	struct sybil_edgelist el = {0};
	char err[SYBIL_ERR_LEN] = "";

	cr_assert_eq(sybil_edgelist_add(&el, 7, 8), 0);
	cr_assert_eq(sybil_edgelist_parse(text, len, &el, err, sizeof(err)), want_rc,
		     "input '%s': %s", text, err);
	cr_assert(strstr(err, want_line) == err, "error '%s' should start with '%s'", err,
		  want_line);
	cr_assert_eq(el.n, 1, "the list must be left as it was");
	sybil_edgelist_free(&el);
}

Test(sybil_parse, refuses_bad_lines_with_their_number)
{
	refuse("0 1\n2\n", 6, -EINVAL, "line 2:");
	refuse("0 1\n1 2\n3 4 5\n", 14, -EINVAL, "line 3:");
	refuse("-1 2\n", 5, -EINVAL, "line 1:");
	refuse("+1 2\n", 5, -EINVAL, "line 1:");
	refuse("# c\n1 b\n", 8, -EINVAL, "line 2:");
	refuse("1 2x\n", 5, -EINVAL, "line 1:");
	refuse("1,2\n", 4, -EINVAL, "line 1:");
	refuse("1 2 # trailing comment\n", 23, -EINVAL, "line 1:");
	refuse("1 0x10\n", 7, -EINVAL, "line 1:");
	refuse("0 1\n\n1 99999999999999999999\n", 27, -E2BIG, "line 3:");
	refuse("0 1\n9223372036854775808 1\n", 26, -E2BIG, "line 2:");
	refuse("0 1\n1 2\0\n", 9, -EINVAL, "line 2:");
}

Test(sybil_parse, largest_id_and_long_lines)
{
	struct sybil_edgelist el = {0};
	char err[SYBIL_ERR_LEN] = "", *big;
	const char *t = "9223372036854775807 0\n";

	cr_assert_eq(sybil_edgelist_parse(t, strlen(t), &el, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(el.e[0].a, UINT64_C(9223372036854775807));
	sybil_edgelist_free(&el);

	big = malloc(SYBIL_MAX_LINE + 8);
	cr_assert_not_null(big);
	memset(big, ' ', SYBIL_MAX_LINE + 8);
	memcpy(big, "0 1\n1", 5);
	big[SYBIL_MAX_LINE + 6] = '2';
	big[SYBIL_MAX_LINE + 7] = '\n';
	cr_assert_eq(sybil_edgelist_parse(big, SYBIL_MAX_LINE + 8, &el, err, sizeof(err)), -E2BIG);
	cr_assert(strstr(err, "line 2: line too long"), "%s", err);
	cr_assert_eq(el.n, 0);
	sybil_edgelist_free(&el); /* a refused parse may have grown the buffer */
	free(big);
}

static char *write_tmp(const char *content, size_t len, bool gz)
{
	char *path = strdup("/tmp/test_sybil_XXXXXX");
	int fd = mkstemp(path);

	cr_assert(fd >= 0);
	if (gz) {
		gzFile f = gzdopen(fd, "wb");

		cr_assert_not_null(f);
		cr_assert_eq(gzwrite(f, content, (unsigned)len), (int)len);
		cr_assert_eq(gzclose(f), Z_OK);
	} else {
		cr_assert_eq(write(fd, content, len), (ssize_t)len);
		close(fd);
	}
	return path;
}

Test(sybil_load, plain_and_gzip_files)
{
	const char *t = "# a graph\n10 20\n20 30\n30 10\n10 20\n40 40\n";
	struct sybil_graph *g;
	char err[SYBIL_ERR_LEN] = "";
	int gz;

	for (gz = 0; gz < 2; gz++) {
		char *path = write_tmp(t, strlen(t), gz);

		cr_assert_eq(sybil_graph_load(path, &g, err, sizeof(err)), 0, "%s", err);
		cr_assert_eq(g->n, 4); /* 40 appears only in a self-loop: isolated */
		cr_assert_eq(g->m, 3);
		cr_assert_eq(sybil_graph_index(g, 30), 2);
		cr_assert_eq(sybil_graph_index(g, 40), 3);
		cr_assert_eq(sybil_degree(g, 3), 0);
		check_graph(g);
		sybil_graph_free(g);
		unlink(path);
		free(path);
	}
}

Test(sybil_load, errors_name_file_and_line)
{
	const char *t = "0 1\n1 2\n2 three\n";
	struct sybil_edgelist el = {0};
	char err[SYBIL_ERR_LEN] = "", want[128];
	char *path = write_tmp(t, strlen(t), true);

	cr_assert_eq(sybil_edgelist_load(path, &el, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s: line 3:", path);
	cr_assert(strstr(err, want) == err, "%s", err);
	cr_assert_eq(el.n, 0);
	unlink(path);
	free(path);

	cr_assert_eq(sybil_edgelist_load("/nonexistent/graph.gz", &el, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "/nonexistent/graph.gz"), "%s", err);
}

Test(sybil_load, truncated_gzip_is_an_error)
{
	static char text[64 * 1024];
	struct sybil_edgelist el = {0};
	char err[SYBIL_ERR_LEN] = "", *path;
	size_t n = 0, i;
	FILE *f;
	long size;
	char *raw;

	for (i = 0; n + 32 < sizeof(text); i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%zu %zu\n", i, i * 7 + 1);
	path = write_tmp(text, n, true);
	f = fopen(path, "rb");
	cr_assert_not_null(f);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	raw = malloc((size_t)size);
	cr_assert_eq(fread(raw, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	unlink(path);
	free(path);
	path = write_tmp(raw, (size_t)size / 2, false); /* half a gzip stream */
	cr_assert_eq(sybil_edgelist_load(path, &el, err, sizeof(err)), -EIO, "%s", err);
	cr_assert_eq(el.n, 0);
	unlink(path);
	free(path);
	free(raw);
}

/* ---------- graphs ---------- */

Test(sybil_graph, dedup_selfloops_sparse_ids)
{
	struct sybil_graph *g = from_text("1000000000000 5\n5 1000000000000\n5 5\n7 5\n"
					  "9223372036854775807 7\n");

	cr_assert_eq(g->n, 4);
	cr_assert_eq(g->m, 3);
	cr_assert_eq(sybil_graph_id(g, 0), 5);
	cr_assert_eq(sybil_graph_id(g, 3), UINT64_C(9223372036854775807));
	cr_assert_eq(sybil_graph_index(g, 1000000000000), 2);
	cr_assert_eq(sybil_graph_index(g, 6), -ENOENT);
	cr_assert_eq(sybil_degree(g, 0), 2);
	check_graph(g);
	sybil_graph_free(g);
}

Test(sybil_graph, lcc_keeps_ids)
{
	struct sybil_graph *g = from_text("1 2\n2 3\n3 4\n4 5\n10 11\n11 12\n"), *l;
	uint32_t comp[8];

	cr_assert_eq(sybil_graph_components(g, comp), 2);
	cr_assert_eq(sybil_graph_lcc(g, &l), 0);
	cr_assert_eq(l->n, 5);
	cr_assert_eq(l->m, 4);
	cr_assert_eq(sybil_graph_id(l, 4), 5);
	cr_assert_eq(sybil_graph_index(l, 10), -ENOENT);
	check_graph(l);
	sybil_graph_free(l);
	sybil_graph_free(g);
}

Test(sybil_graph, empty_and_dense_errors)
{
	struct sybil_edgelist el = {0};
	struct sybil_graph *g = NULL;
	struct sybil_edge e = {.a = 0, .b = 3};

	cr_assert_eq(sybil_graph_build(&el, &g), -EINVAL);
	cr_assert_eq(sybil_graph_build_dense(3, &e, 1, &g), -EINVAL);
	cr_assert_null(g);
}

Test(sybil_graph, karate_club)
{
	struct sybil_graph *g = NULL;
	char err[SYBIL_ERR_LEN] = "";
	uint32_t comp[34], t_mix = 0, src = 0;

	if (access(SN_DATASETS "/karate.edges.gz", R_OK))
		cr_skip_test("%s not found", SN_DATASETS "/karate.edges.gz");
	cr_assert_eq(sybil_graph_load(SN_DATASETS "/karate.edges.gz", &g, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(g->n, 34);
	cr_assert_eq(g->m, 78);
	cr_assert_eq(sybil_degree(g, 0), 16);  /* Mr. Hi */
	cr_assert_eq(sybil_degree(g, 33), 17); /* the officer */
	cr_assert_eq(sybil_graph_components(g, comp), 1);
	check_graph(g);
	cr_assert_eq(sybil_mixing_tv(g, &src, 1, 100, 0.25, NULL, &t_mix), 0);
	cr_assert(t_mix >= 1 && t_mix <= 20, "t_mix %u", t_mix);
	sybil_graph_free(g);
}

/* ---------- generators and determinism ---------- */

Test(sybil_gen, ba_counts_and_determinism)
{
	struct sybil_edgelist a = {0}, b = {0}, c = {0};
	struct sybil_graph *g;

	cr_assert_eq(sybil_gen_ba(1000, 5, 42, &a), 0);
	cr_assert_eq(sybil_gen_ba(1000, 5, 42, &b), 0);
	cr_assert_eq(sybil_gen_ba(1000, 5, 43, &c), 0);
	cr_assert_eq(a.n, 15 + 994 * 5);
	cr_assert_eq(memcmp(a.e, b.e, a.n * sizeof(*a.e)), 0, "same seed, same graph");
	cr_assert_neq(memcmp(a.e, c.e, a.n * sizeof(*a.e)), 0, "other seed, other graph");
	cr_assert_eq(sybil_graph_build_dense(1000, a.e, a.n, &g), 0);
	cr_assert_eq(g->m, a.n, "BA picks distinct targets");
	check_graph(g);
	sybil_graph_free(g);
	sybil_edgelist_free(&a);
	sybil_edgelist_free(&b);
	sybil_edgelist_free(&c);
	cr_assert_eq(sybil_gen_ba(10, 10, 1, &a), -EINVAL);
}

Test(sybil_gen, kleinberg_and_er)
{
	struct sybil_edgelist el = {0};
	struct sybil_graph *g;
	uint32_t v;

	cr_assert_eq(sybil_gen_kleinberg(110, 1, 2.0, 7, &el), 0);
	cr_assert_eq(el.n, 100 * 3);
	cr_assert_eq(sybil_graph_build_dense(100, el.e, el.n, &g), 0);
	for (v = 0; v < 100; v++)
		cr_assert_geq(sybil_degree(g, v), 4);
	check_graph(g);
	sybil_graph_free(g);
	sybil_edgelist_free(&el);

	cr_assert_eq(sybil_gen_er(500, 8.0, 7, &el), 0);
	cr_assert_eq(el.n, 2000);
	sybil_edgelist_free(&el);
}

Test(sybil_rng, deterministic_and_bounded)
{
	struct sybil_rng a, b;
	int i;

	sybil_rng_seed(&a, 99);
	sybil_rng_seed(&b, 99);
	for (i = 0; i < 1000; i++) {
		uint64_t x = sybil_rng_below(&a, 7);

		cr_assert_eq(x, sybil_rng_below(&b, 7));
		cr_assert_lt(x, 7);
	}
}

/* ---------- SybilLimit routes ---------- */

Test(sybillimit, permutations_are_bijections)
{
	static const uint32_t ds[] = {1, 2, 3, 5, 16, 17, 64, 100, 1000};
	uint8_t *seen = malloc(1000);
	size_t k;

	cr_assert_not_null(seen);
	for (k = 0; k < sizeof(ds) / sizeof(ds[0]); k++) {
		uint32_t d = ds[k], inst, i;

		for (inst = 0; inst < 5; inst++) {
			memset(seen, 0, d);
			for (i = 0; i < d; i++) {
				uint32_t o = sybillimit_perm(3, inst, 77, d, i);

				cr_assert_lt(o, d);
				cr_assert_eq(seen[o], 0, "d %u: %u hit twice", d, o);
				seen[o] = 1;
				cr_assert_eq(sybillimit_perm_inv(3, inst, 77, d, o), i);
			}
		}
	}
	free(seen);
}

Test(sybillimit, small_permutations_are_uniform)
{
	/* d = 3: all 6 permutations, each about 1/6 of 6000 draws */
	int count[27] = {0}, inst, i;

	for (inst = 0; inst < 6000; inst++) {
		int key = 0;

		for (i = 0; i < 3; i++)
			key = key * 3 + (int)sybillimit_perm(11, (uint32_t)inst, 5, 3, (uint32_t)i);
		count[key]++;
	}
	for (i = 0, inst = 0; i < 27; i++) {
		if (!count[i])
			continue;
		inst++;
		cr_assert(count[i] > 850 && count[i] < 1150, "permutation %d drawn %d times", i,
			  count[i]);
	}
	cr_assert_eq(inst, 6);
}

Test(sybillimit, routes_are_reversible)
{
	struct sybil_graph *g = ba(300, 3, 5);
	uint32_t fwd[20], back[20], v, inst;

	for (v = 0; v < g->n; v += 7) {
		for (inst = 0; inst < 4; inst++) {
			cr_assert_eq(sybillimit_route(g, 9, inst, v, 20, fwd), 0);
			cr_assert_eq(g->off[v] <= fwd[0] && fwd[0] < g->off[v + 1], 1);
			cr_assert_eq(sybillimit_route_back(g, 9, inst, fwd[19], 20, back), 0);
			cr_assert_eq(memcmp(fwd, back, sizeof(fwd)), 0, "node %u instance %u", v,
				     inst);
		}
	}
	sybil_graph_free(g);
}

Test(sybillimit, routes_from_distinct_edges_never_converge)
{
	/* In one instance, routes of equal length from the 2m directed edges end on 2m
	 * distinct tails: the routing is a permutation of the directed edges. */
	struct sybil_graph *g = ba(200, 2, 8);
	uint32_t nslots = 2 * g->m, s, j;
	uint8_t *seen = calloc(nslots, 1);

	cr_assert_not_null(seen);
	for (s = 0; s < nslots; s++) {
		uint32_t t = s;

		for (j = 1; j < 12; j++) {
			uint32_t x = g->adj[t];
			uint32_t in = g->rev[t] - g->off[x];

			t = g->off[x] + sybillimit_perm(4, 2, x, sybil_degree(g, x), in);
		}
		cr_assert_eq(seen[t], 0);
		seen[t] = 1;
	}
	free(seen);
	sybil_graph_free(g);
}

Test(sybillimit, same_seed_same_tails)
{
	struct sybil_graph *g = ba(500, 4, 1);
	struct sybillimit_params p;
	struct sybillimit_verifier a, b, c;

	sybillimit_params_default(&p);
	p.w = 8;
	p.seed = 1234;
	cr_assert_eq(sybillimit_verifier_init(&a, g, &p, 10), 0);
	cr_assert_eq(sybillimit_verifier_init(&b, g, &p, 10), 0);
	p.seed = 1235;
	cr_assert_eq(sybillimit_verifier_init(&c, g, &p, 10), 0);
	cr_assert_eq(a.r, (uint32_t)ceil(4 * sqrt((double)g->m)));
	cr_assert_eq(memcmp(a.tail, b.tail, a.r * sizeof(*a.tail)), 0);
	cr_assert_neq(memcmp(a.tail, c.tail, a.r * sizeof(*a.tail)), 0);
	sybillimit_verifier_free(&a);
	sybillimit_verifier_free(&b);
	sybillimit_verifier_free(&c);
	sybil_graph_free(g);
}

Test(sybillimit, balance_condition_bounds_one_tail)
{
	struct sybil_graph *g = ba(500, 4, 2);
	struct sybillimit_params p;
	struct sybillimit_verifier v;
	uint32_t hit = 0, accepted = 0;
	double bound;

	sybillimit_params_default(&p);
	p.r = 100;
	p.h = 2;
	cr_assert_eq(sybillimit_verifier_init(&v, g, &p, 3), 0);
	bound = p.h * log(100.0); /* a = (1 + load) / r stays below ln r here */
	while (sybillimit_admit(&v, &hit, 1) == 1)
		accepted++;
	cr_assert_eq(accepted, (uint32_t)floor(bound));
	cr_assert_eq(v.load[0], accepted);
	cr_assert_eq(sybillimit_admit(&v, NULL, 0), 0, "no intersection, no acceptance");
	/* with two candidate tails the least loaded one takes the load */
	hit = 1;
	{
		uint32_t two[2] = {0, 1};

		cr_assert_eq(sybillimit_admit(&v, two, 2), 1);
		cr_assert_eq(v.load[1], 1);
	}
	sybillimit_verifier_free(&v);
	sybil_graph_free(g);
}

Test(sybillimit, view_matches_direct_intersection)
{
	/* The backtrace view must list exactly the registrations the suspects' own routes give */
	struct sybil_graph *g = ba(150, 3, 3);
	struct sybillimit_params p;
	struct sybillimit_verifier v;
	struct sybillimit_view view;
	uint32_t *hits, u;
	size_t ri = 0;

	sybillimit_params_default(&p);
	p.w = 6;
	p.seed = 77;
	cr_assert_eq(sybillimit_verifier_init(&v, g, &p, 0), 0);
	cr_assert_eq(sybillimit_collect(&v, NULL, &view), 0);
	hits = malloc(v.r * v.r * sizeof(*hits));
	cr_assert_not_null(hits);
	for (u = 0; u < g->n; u++) {
		int n = sybillimit_intersect(&v, u, hits, v.r * v.r), i;
		size_t start = ri;

		cr_assert_geq(n, 0);
		while (ri < view.n_reg && view.reg[ri].node == u)
			ri++;
		cr_assert_eq((size_t)n, ri - start, "node %u: %d hits, view has %zu", u, n,
			     ri - start);
		/* same multiset of tails: both sorted by tail */
		for (i = 0; i < n; i++) {
			size_t j;
			int found = 0;

			for (j = start; j < ri; j++)
				found += view.reg[j].tail == hits[i];
			cr_assert(found > 0);
		}
	}
	cr_assert_eq(ri, view.n_reg);
	sybillimit_view_free(&view);
	free(hits);
	sybillimit_verifier_free(&v);
	sybil_graph_free(g);
}

Test(sybillimit, marked_region_taints_but_never_registers)
{
	struct sybil_graph *g = ba(300, 3, 4);
	struct sybillimit_params p;
	struct sybillimit_verifier v;
	struct sybillimit_view view;
	uint8_t mark[300] = {0};
	uint64_t tainted = 0;
	uint32_t esc = 0, t;
	size_t i;

	for (i = 250; i < 300; i++)
		mark[i] = 1;
	sybillimit_params_default(&p);
	p.w = 8;
	cr_assert_eq(sybillimit_verifier_init(&v, g, &p, 1), 0);
	cr_assert_eq(sybillimit_collect(&v, mark, &view), 0);
	for (i = 0; i < view.n_reg; i++)
		cr_assert_eq(mark[view.reg[i].node], 0);
	for (t = 0; t < v.r; t++) {
		esc += view.escaped[t];
		if (!view.escaped[t])
			tainted += view.tainted[t];
	}
	cr_assert_gt(tainted, 0);
	cr_assert_gt(esc, 0);
	sybillimit_view_free(&view);
	sybillimit_verifier_free(&v);
	sybil_graph_free(g);
}

Test(sybillimit, karate_club_accepts_honest_members)
{
	struct sybil_graph *g = NULL;
	struct sybillimit_params p;
	struct sybillimit_verifier v;
	char err[SYBIL_ERR_LEN] = "";
	double rate[9];
	uint32_t sample[33], u, acc = 0;

	if (access(SN_DATASETS "/karate.edges.gz", R_OK))
		cr_skip_test("%s not found", SN_DATASETS "/karate.edges.gz");
	cr_assert_eq(sybil_graph_load(SN_DATASETS "/karate.edges.gz", &g, err, sizeof(err)), 0,
		     "%s", err);
	sybillimit_params_default(&p);
	p.seed = 5;
	for (u = 1; u < 34; u++)
		sample[u - 1] = u;
	cr_assert_eq(sybillimit_benchmark(g, &p, 0, sample, 33, 8, rate), 0);
	p.w = sybillimit_pick_w(rate, 8, 0.95);
	cr_assert(p.w >= 2 && p.w <= 8, "w %u", p.w);
	cr_assert_eq(sybillimit_verifier_init(&v, g, &p, 0), 0);
	for (u = 1; u < 34; u++)
		acc += sybillimit_verify(&v, u) == 1;
	cr_assert_geq(acc, 31, "only %u of 33 accepted", acc);
	sybillimit_verifier_free(&v);
	sybil_graph_free(g);
}

/* ---------- SybilRank ---------- */

static struct sybil_graph *two_cliques(uint32_t k)
{
	struct sybil_edgelist el = {0};
	struct sybil_graph *g;
	uint32_t a, b, c;

	for (c = 0; c < 2; c++)
		for (a = 0; a < k; a++)
			for (b = a + 1; b < k; b++)
				cr_assert_eq(sybil_edgelist_add(&el, c * k + a, c * k + b), 0);
	cr_assert_eq(sybil_edgelist_add(&el, 0, k), 0);
	cr_assert_eq(sybil_graph_build_dense(2 * k, el.e, el.n, &g), 0);
	sybil_edgelist_free(&el);
	return g;
}

Test(sybilrank, separates_two_cliques)
{
	struct sybil_graph *g = two_cliques(20);
	double score[40], lo_a = INFINITY, hi_b = 0;
	bool pos[40];
	uint32_t seeds[2] = {5, 9}, v;

	cr_assert_eq(sybilrank_iterations(40), 6);
	cr_assert_eq(sybilrank_run(g, seeds, 2, 0, score), 0);
	for (v = 0; v < 40; v++) {
		pos[v] = v < 20;
		if (v < 20 && score[v] < lo_a)
			lo_a = score[v];
		if (v >= 20 && score[v] > hi_b)
			hi_b = score[v];
	}
	cr_assert_gt(lo_a, hi_b, "every node of the seeded clique outranks the other clique");
	cr_assert_float_eq(sybil_auc(score, pos, 40), 1.0, 1e-12);
	sybil_graph_free(g);
}

Test(sybilrank, trust_is_conserved_and_errors)
{
	struct sybil_graph *g = two_cliques(6);
	double score[12], total = 0;
	uint32_t seed = 3, bad = 12, v;

	cr_assert_eq(sybilrank_run(g, &seed, 1, 2000, score), 0);
	for (v = 0; v < 12; v++)
		total += score[v] * sybil_degree(g, v);
	cr_assert_float_eq(total, 1.0, 1e-9);
	/* after many iterations trust is proportional to degree: equal scores */
	cr_assert_float_eq(score[1], score[7], 1e-3);
	cr_assert_eq(sybilrank_run(g, &bad, 1, 0, score), -EINVAL);
	cr_assert_eq(sybilrank_run(g, &seed, 0, 0, score), -EINVAL);
	sybil_graph_free(g);
}

Test(sybilrank, karate_factions)
{
	/* Zachary's split: Mr. Hi's faction vs the officer's. Trust seeded at Mr. Hi (0) and
	 * stopped after log2 n rounds ranks his faction above the officer's. */
	static const int hi[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 16, 17, 19, 21};
	struct sybil_graph *g = NULL;
	char err[SYBIL_ERR_LEN] = "";
	double score[34], auc;
	bool pos[34] = {false};
	uint32_t seed = 0;
	size_t i;

	if (access(SN_DATASETS "/karate.edges.gz", R_OK))
		cr_skip_test("%s not found", SN_DATASETS "/karate.edges.gz");
	cr_assert_eq(sybil_graph_load(SN_DATASETS "/karate.edges.gz", &g, err, sizeof(err)), 0,
		     "%s", err);
	for (i = 0; i < sizeof(hi) / sizeof(hi[0]); i++)
		pos[hi[i]] = true;
	cr_assert_eq(sybilrank_run(g, &seed, 1, 0, score), 0);
	auc = sybil_auc(score, pos, 34);
	cr_assert_gt(auc, 0.8, "auc %f", auc);
	sybil_graph_free(g);
}

/* ---------- AUC and mixing ---------- */

Test(sybil_auc, known_values)
{
	double s[4] = {0.9, 0.8, 0.1, 0.2}, t[4] = {1, 1, 1, 1};
	bool p[4] = {true, true, false, false}, q[4] = {false, false, true, true};

	cr_assert_float_eq(sybil_auc(s, p, 4), 1.0, 1e-12);
	cr_assert_float_eq(sybil_auc(s, q, 4), 0.0, 1e-12);
	cr_assert_float_eq(sybil_auc(t, p, 4), 0.5, 1e-12);
	cr_assert(isnan(sybil_auc(s, p, 2)));
}

Test(sybil_mixing, clique_fast_path_slow)
{
	struct sybil_edgelist el = {0};
	struct sybil_graph *k, *path;
	uint32_t src = 3, t_k, t_p, v, u;

	for (v = 0; v < 20; v++)
		for (u = v + 1; u < 20; u++)
			cr_assert_eq(sybil_edgelist_add(&el, v, u), 0);
	cr_assert_eq(sybil_graph_build_dense(20, el.e, el.n, &k), 0);
	sybil_edgelist_free(&el);
	cr_assert_eq(sybil_mixing_tv(k, &src, 1, 200, 0.25, NULL, &t_k), 0);
	for (v = 0; v + 1 < 60; v++)
		cr_assert_eq(sybil_edgelist_add(&el, v, v + 1), 0);
	cr_assert_eq(sybil_graph_build_dense(60, el.e, el.n, &path), 0);
	src = 0;
	cr_assert_eq(sybil_mixing_tv(path, &src, 1, 200, 0.25, NULL, &t_p), 0);
	cr_assert_leq(t_k, 2, "a clique mixes at once, t_mix %u", t_k);
	cr_assert_gt(t_p, 200, "a 60-node path does not mix in 200 steps");
	sybil_graph_free(k);
	sybil_graph_free(path);
	sybil_edgelist_free(&el);
}
