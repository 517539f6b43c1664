/* libFuzzer target for the edge-list parser (control/sybil.c).
 *
 * The input is an edge-list text for sybil_edgelist_parse(). A refused input must leave the
 * list untouched and name a line; an accepted one is built into a graph whose CSR
 * invariants are checked (sorted, no self-loop or duplicate, reverse slots consistent),
 * and whose largest component, SybilRank scores and a short SybilLimit route are computed.
 * Seeds: tests/fuzz/corpus/edgelist/. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sybil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct sybil_graph *g)
{
	uint32_t v, s;

	if (g->off[0] != 0 || g->off[g->n] != 2 * g->m)
		abort();
	for (v = 0; v < g->n; v++) {
		for (s = g->off[v]; s < g->off[v + 1]; s++) {
			if (g->adj[s] == v || g->adj[s] >= g->n)
				abort();
			if (s > g->off[v] && g->adj[s] <= g->adj[s - 1])
				abort();
			if (g->rev[g->rev[s]] != s || g->adj[g->rev[s]] != v)
				abort();
		}
		if (v && g->ids && g->ids[v] <= g->ids[v - 1])
			abort();
		if (sybil_graph_index(g, sybil_graph_id(g, v)) != (int64_t)v)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sybil_edgelist el = {0};
	struct sybil_graph *g = NULL, *lcc = NULL;
	char err[SYBIL_ERR_LEN];
	int rc;

	err[0] = '\0';
	rc = sybil_edgelist_add(&el, 1, 2); /* a refused input must leave this alone */
	if (rc)
		return 0;
	rc = sybil_edgelist_parse((const char *)data, size, &el, err, sizeof(err));
	if (rc) {
		if (el.n != 1 || el.e[0].a != 1 || el.e[0].b != 2 || strncmp(err, "line ", 5))
			abort();
		if (rc != -EINVAL && rc != -E2BIG && rc != -ENOMEM)
			abort();
		goto out;
	}
	if (sybil_graph_build(&el, &g))
		goto out;
	check(g);
	if (sybil_graph_lcc(g, &lcc) == 0) {
		double *score = malloc((size_t)lcc->n * sizeof(*score));
		uint32_t seed = 0, route[4], back[4];

		check(lcc);
		if (score && lcc->m && sybilrank_run(lcc, &seed, 1, 0, score))
			abort();
		free(score);
		if (lcc->m && sybillimit_route(lcc, 1, 0, 0, 4, route) == 0) {
			if (sybillimit_route_back(lcc, 1, 0, route[3], 4, back) ||
			    memcmp(route, back, sizeof(route)))
				abort();
		}
	}
out:
	sybil_graph_free(lcc);
	sybil_graph_free(g);
	sybil_edgelist_free(&el);
	return 0;
}
