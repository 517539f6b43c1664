/* sybil.h: random-walk Sybil detection on a trust graph (guard's join admission).
 *
 * A pure library (no DPDK, no I/O other than the edge-list loader):
 *
 * - an undirected trust graph in CSR form, built from an edge list whose node ids are
 *   arbitrary non-negative integers (mapped to dense indices in increasing id order),
 *   with self-loops and duplicate edges removed;
 * - a strict loader for `a b` per line edge lists (`#` comment lines, blank lines,
 *   gzip-compressed or plain), with line-numbered errors and size bounds;
 * - synthetic generators (Barabasi-Albert, Kleinberg small world, Erdos-Renyi G(n, M));
 * - SybilLimit (Yu, Gibbons, Kaminsky, Xiao, IEEE S&P 2008) with the super-node as the
 *   verifier: random routes driven by per-node, per-instance permutations, tail
 *   intersection, the balance condition, and the benchmarking estimate of the route
 *   length w;
 * - SybilRank (Cao, Sirivianos, Yang, Pregueiro, NSDI 2012): early-terminated power
 *   iteration of trust from seeds, degree-normalised ranking;
 * - a random-walk mixing-time estimate (total-variation distance to stationarity), and the
 *   AUC of a score.
 *
 * Everything is deterministic given a seed: the library's only randomness is its own
 * xoshiro256** generator (seeded through splitmix64) and keyed hashes of the seed.
 * Errors are negative errno values; text for the user goes into a caller-supplied buffer.
 * docs/sybil.md explains the methods and how to pick their parameters. */
#ifndef SN_SYBIL_H
#define SN_SYBIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds that refuse absurd inputs before they exhaust memory. Slots (directed edges)
 * are 32-bit, so 2 * SYBIL_MAX_EDGES must stay below 2^32. */
#define SYBIL_MAX_NODES (1u << 25)	    /* 33,554,432 nodes */
#define SYBIL_MAX_EDGES (1u << 26)	    /* 67,108,864 edges in a list or a graph */
#define SYBIL_MAX_ID	(UINT64_C(1) << 63) /* node ids are 0 .. SYBIL_MAX_ID - 1 */
#define SYBIL_MAX_LINE	1024		    /* bytes in one edge-list line, newline included */
#define SYBIL_ERR_LEN	160		    /* a good size for error buffers */

/* ---------- deterministic randomness ---------- */

/* xoshiro256** state; seed it with sybil_rng_seed(). */
struct sybil_rng {
	uint64_t s[4]; /* generator state, never all zero */
};

/* splitmix64 step: advances *state and returns the next output (used for seeding). */
uint64_t sybil_splitmix64(uint64_t *state);
void sybil_rng_seed(struct sybil_rng *rng, uint64_t seed);
uint64_t sybil_rng_next(struct sybil_rng *rng);
/* Uniform in [0, n) without bias (Lemire's method); n > 0. */
uint64_t sybil_rng_below(struct sybil_rng *rng, uint64_t n);
/* Uniform in [0, 1). */
double sybil_rng_double(struct sybil_rng *rng);

/* ---------- edge lists ---------- */

struct sybil_edge {
	uint64_t a; /* one endpoint's id */
	uint64_t b; /* the other endpoint's id */
};

/* A growable list of edges as read (self-loops and duplicates still present). */
struct sybil_edgelist {
	struct sybil_edge *e; /* edges [0, n) */
	size_t n;	      /* edges in use */
	size_t cap;	      /* edges allocated */
};

/* Appends one edge; -E2BIG past SYBIL_MAX_EDGES or an id >= SYBIL_MAX_ID, -ENOMEM. */
int sybil_edgelist_add(struct sybil_edgelist *el, uint64_t a, uint64_t b);
/* Frees the edges and zeroes the list (safe on a zeroed list). */
void sybil_edgelist_free(struct sybil_edgelist *el);

/* Parses an edge list held in memory and appends its edges to el. Grammar, per line (a
 * line ends at '\n' or at the end of the buffer): optional blanks (space, tab), then either
 * nothing, a comment starting with '#', or two decimal ids separated by blanks, then
 * optional blanks and an optional '\r'. Ids have no sign and are below SYBIL_MAX_ID; lines
 * are at most SYBIL_MAX_LINE bytes; a NUL byte is an error. On error returns -EINVAL (bad
 * line), -E2BIG (bounds) or -ENOMEM, writes "line N: cause" into err (when err != NULL)
 * and leaves el as it was before the call (edges dropped; a buffer the call allocated for a
 * list that had none is freed). */
int sybil_edgelist_parse(const char *buf, size_t len, struct sybil_edgelist *el, char *err,
			 size_t errlen);

/* Reads a file with the grammar above, gzip-compressed or not (zlib's gzopen reads plain
 * files unchanged). Errors as sybil_edgelist_parse, plus -errno when the file cannot be
 * opened or read (-EIO for a corrupt gzip stream); err names the file and the line. */
int sybil_edgelist_load(const char *path, struct sybil_edgelist *el, char *err, size_t errlen);

/* ---------- graphs ---------- */

/* Undirected simple graph in CSR form. Every undirected edge {u, v} is stored as two
 * directed edges ("slots"): slot s in [off[u], off[u + 1]) goes from u to adj[s], and
 * rev[s] is the slot of the opposite direction. A node's slots are sorted by neighbour. */
struct sybil_graph {
	uint32_t n;    /* nodes, dense indices 0 .. n - 1 */
	uint32_t m;    /* undirected edges (no self-loops, no duplicates) */
	uint32_t *off; /* n + 1 offsets into adj; off[n] == 2 * m */
	uint32_t *adj; /* 2 * m neighbour indices */
	uint32_t *rev; /* 2 * m: slot of the reverse directed edge */
	uint64_t *ids; /* n external ids in increasing order, or NULL when index == id */
};

static inline uint32_t sybil_degree(const struct sybil_graph *g, uint32_t v)
{
	return g->off[v + 1] - g->off[v];
}

/* Builds a graph from edges with arbitrary ids: the distinct ids become nodes (numbered
 * in increasing id order), self-loops and duplicate edges are dropped (a node seen only in
 * a self-loop stays, isolated). -EINVAL on an empty list, -E2BIG past the bounds, -ENOMEM. */
int sybil_graph_build(const struct sybil_edgelist *el, struct sybil_graph **out);
/* Builds a graph on exactly n nodes 0 .. n - 1 (ids NULL) from edges whose ids are < n;
 * -EINVAL for an id >= n or n == 0. */
int sybil_graph_build_dense(uint32_t n, const struct sybil_edge *e, size_t ne,
			    struct sybil_graph **out);
void sybil_graph_free(struct sybil_graph *g);
/* Loads a file with sybil_edgelist_load and builds its graph. */
int sybil_graph_load(const char *path, struct sybil_graph **out, char *err, size_t errlen);
/* Dense index of an external id, or -ENOENT. */
int64_t sybil_graph_index(const struct sybil_graph *g, uint64_t id);
/* External id of a dense index. */
uint64_t sybil_graph_id(const struct sybil_graph *g, uint32_t v);
/* Node that owns slot s (binary search in off). */
uint32_t sybil_graph_slot_src(const struct sybil_graph *g, uint32_t s);
/* Connected components: comp[v] receives the component number of v (numbered in order
 * of their smallest node); returns the number of components or -ENOMEM. */
int64_t sybil_graph_components(const struct sybil_graph *g, uint32_t *comp);
/* The largest connected component as a new graph; its ids are the original external ids
 * (so sybil_graph_id still names the input's nodes). Ties go to the lowest component. */
int sybil_graph_lcc(const struct sybil_graph *g, struct sybil_graph **out);

/* ---------- synthetic graphs (edges appended to el; ids 0 .. n - 1) ---------- */

/* Barabasi-Albert preferential attachment: a clique on m + 1 nodes, then every new node
 * links to m distinct existing nodes chosen with probability proportional to degree.
 * Needs 1 <= m < n. */
int sybil_gen_ba(uint32_t n, uint32_t m, uint64_t seed, struct sybil_edgelist *el);
/* Kleinberg's navigable small world: an L x L torus (L = floor(sqrt(n)), so L * L nodes)
 * with edges to the 4 lattice neighbours and q long-range edges per node to a node at
 * lattice (Manhattan) distance d, 1 <= d <= L / 2, chosen with probability proportional
 * to d^-expo (Kleinberg's r; 2 is the navigable case). Needs n >= 9. */
int sybil_gen_kleinberg(uint32_t n, uint32_t q, double expo, uint64_t seed,
			struct sybil_edgelist *el);
/* Erdos-Renyi G(n, M) with M = n * avg_degree / 2 uniformly random pairs (duplicates are
 * dropped later by the graph builder, so the degree is slightly below avg_degree). */
int sybil_gen_er(uint32_t n, double avg_degree, uint64_t seed, struct sybil_edgelist *el);

/* ---------- mixing ---------- */

/* Total-variation distance to the stationary distribution (degree / 2m) of the simple
 * random walk started at each of the ns sources, t = 0 .. t_max steps. To cancel the
 * period-2 oscillation of near-bipartite graphs, step t uses the average of the
 * distributions after t and t + 1 steps. tv[t] (t_max + 1 entries, may be NULL) receives
 * the largest distance over the sources; *t_mix the first t with tv[t] <= eps, or
 * t_max + 1 when none is. The graph should be connected (otherwise the distance never
 * falls below the mass outside the source's component). Cost O(ns * t_max * m). */
int sybil_mixing_tv(const struct sybil_graph *g, const uint32_t *sources, size_t ns, uint32_t t_max,
		    double eps, double *tv, uint32_t *t_mix);

/* ---------- SybilLimit ---------- */

/* Parameters (docs/sybil.md, "Picking SybilLimit's parameters"). */
struct sybillimit_params {
	uint32_t w;    /* route length: the graph's mixing time (estimate with the benchmark) */
	double r0;     /* r = ceil(r0 * sqrt(m)): tails per node; 4 (birthday paradox, docs) */
	uint32_t r;    /* explicit number of instances, overrides r0 when non-zero */
	double h;      /* balance condition constant: a tail's load stays <= h * max(ln r, a) */
	uint64_t m;    /* edge count for r (the honest graph's, estimated); 0: the graph's own */
	uint64_t seed; /* keys every permutation and start edge */
};

/* Fills in the defaults: w = 10, r0 = 4, r = 0, h = 4, m = 0, seed = 1. */
void sybillimit_params_default(struct sybillimit_params *p);
/* The number of instances r these parameters give on g. */
uint32_t sybillimit_r(const struct sybillimit_params *p, const struct sybil_graph *g);

/* Node v's permutation of its d incident slots in one instance: a route that enters v
 * through v's slot index i (the reverse of the edge it arrived on) leaves through index
 * sybillimit_perm(...). Uniformly random (Fisher-Yates) for small degrees, a keyed Feistel
 * network with cycle walking for large ones; sybillimit_perm_inv inverts it. */
uint32_t sybillimit_perm(uint64_t seed, uint32_t instance, uint32_t v, uint32_t d, uint32_t i);
uint32_t sybillimit_perm_inv(uint64_t seed, uint32_t instance, uint32_t v, uint32_t d, uint32_t o);
/* Index (0 .. d - 1) of the edge v's route of this instance starts on (uniformly random). */
uint32_t sybillimit_start(uint64_t seed, uint32_t instance, uint32_t v, uint32_t d);

/* v's random route of one instance: w slots written to slots[0 .. w) (the tail is
 * slots[w - 1]). -ENOENT when v has no edge, -EINVAL for w == 0. */
int sybillimit_route(const struct sybil_graph *g, uint64_t seed, uint32_t instance, uint32_t v,
		     uint32_t w, uint32_t *slots);
/* Walks a route backwards from its tail: slots[w - 1] = tail, slots[0] = the first slot.
 * Because routes follow permutations, exactly one route of length w of each instance ends
 * on a given directed edge, and this finds it. */
int sybillimit_route_back(const struct sybil_graph *g, uint64_t seed, uint32_t instance,
			  uint32_t tail, uint32_t w, uint32_t *slots);

/* The verifier: its r tails and the load counters of the balance condition. */
struct sybillimit_verifier {
	const struct sybil_graph *g; /* graph the routes run on (not owned) */
	struct sybillimit_params p;  /* parameters used */
	uint32_t node;		     /* the verifier's dense index */
	uint32_t r;		     /* instances = tails */
	uint32_t *tail;		     /* r: the verifier's tail (slot) in instance i */
	uint32_t *load;		     /* r: c_i, suspects accepted on tail i */
	uint64_t load_sum;	     /* sum of load[] */
	uint64_t *sorted;	     /* r: (tail slot << 32 | i), sorted, for intersection */
};

/* Runs the verifier's r routes. -ENOENT when the node has no edge, -EINVAL, -ENOMEM. */
int sybillimit_verifier_init(struct sybillimit_verifier *v, const struct sybil_graph *g,
			     const struct sybillimit_params *p, uint32_t node);
void sybillimit_verifier_free(struct sybillimit_verifier *v);
/* Indices of the verifier's tails equal to `slot` (any instance): writes up to max of them
 * to idx and returns how many there are. */
size_t sybillimit_tails_equal(const struct sybillimit_verifier *v, uint32_t slot, uint32_t *idx,
			      size_t max);
/* Intersection condition for a suspect: runs its r routes and writes the indices of the
 * verifier's tails that equal one of the suspect's tails (with multiplicity) to hits.
 * Returns the number of hits (<= max), -ENOENT for a node without edges. */
int sybillimit_intersect(const struct sybillimit_verifier *v, uint32_t suspect, uint32_t *hits,
			 size_t max);
/* Current balance bound h * max(ln r, a), a = (1 + sum of loads) / r. */
double sybillimit_balance_bound(const struct sybillimit_verifier *v);
/* Balance condition: among the intersecting tails hits[0 .. nhits) take the least loaded
 * one; accept (return 1 and increment its load) when load + 1 <= the bound, else return 0.
 * No hit: 0. */
int sybillimit_admit(struct sybillimit_verifier *v, const uint32_t *hits, size_t nhits);
/* Intersection then balance for one suspect: 1 accepted, 0 rejected, negative on error. */
int sybillimit_verify(struct sybillimit_verifier *v, uint32_t suspect);

/* One registration found by sybillimit_collect. */
struct sybillimit_reg {
	uint32_t node; /* the suspect registered (its route's origin) */
	uint32_t tail; /* index of the verifier's tail it intersects */
};

/* What every node's registrations look like from the verifier's tails, computed without
 * walking every node's routes: for each verifier tail and each instance the unique route
 * of length w ending there is walked back (r * r * w steps in all). `mark` (n bytes, may
 * be NULL) flags nodes the caller distrusts (in the evaluation: the Sybil region). */
struct sybillimit_view {
	uint8_t *escaped;	    /* r: the verifier's route i touched a marked node */
	uint32_t *tainted;	    /* r: instances whose route ending on tail i touched a
				     * marked node (the adversary owns that registration) */
	struct sybillimit_reg *reg; /* registrations of unmarked routes, sorted by node */
	size_t n_reg;		    /* entries in reg */
};

/* Fills view (free with sybillimit_view_free). Registrations are those of routes that
 * start on their origin's chosen start edge (sybillimit_start) and touch no marked node;
 * tails of escaped verifier routes are skipped (no registration, tainted = r). */
int sybillimit_collect(const struct sybillimit_verifier *v, const uint8_t *mark,
		       struct sybillimit_view *view);
void sybillimit_view_free(struct sybillimit_view *view);

/* Benchmarking (SybilLimit section 6): the fraction of the k sample suspects whose tails
 * intersect the verifier's, for every route length 1 .. w_max (p->w is ignored).
 * rate[w] for w = 0 .. w_max (rate[0] = 0). Nodes without edges in the sample count as not
 * intersecting. Cost O(k * r * w_max). */
int sybillimit_benchmark(const struct sybil_graph *g, const struct sybillimit_params *p,
			 uint32_t verifier, const uint32_t *sample, size_t k, uint32_t w_max,
			 double *rate);
/* Smallest w in 1 .. w_max with rate[w] >= target, or 0 when none reaches it. */
uint32_t sybillimit_pick_w(const double *rate, uint32_t w_max, double target);
/* Fallback for a verifier that never reaches its target (it sits in a poorly connected part
 * of the graph, SybilLimit's epsilon fraction of verifiers): the smallest w whose rate is
 * within `slack` of the best rate in 1 .. w_max. Longer routes would not help honest
 * suspects there but would still let more Sybils in. */
uint32_t sybillimit_plateau_w(const double *rate, uint32_t w_max, double slack);
/* The benchmark with a doubling cap (8, 16, 32, ... w_max), so that a fast-mixing graph
 * costs only short routes: returns the smallest w reaching target (0 when even w_max
 * does not), *w_done the cap of the last run, whose rates are in rate[0 .. *w_done]
 * (rate needs w_max + 1 entries). Negative errno on error. */
int sybillimit_estimate_w(const struct sybil_graph *g, const struct sybillimit_params *p,
			  uint32_t verifier, const uint32_t *sample, size_t k, double target,
			  uint32_t w_max, double *rate, uint32_t *w_done);

/* ---------- SybilRank ---------- */

/* Early-terminated power iteration: the total trust (1.0) starts evenly on the k seeds,
 * each iteration every node sends its trust split evenly over its edges, and after
 * `iterations` rounds (0: ceil(log2 n), the paper's O(log n)) score[v] receives v's trust
 * divided by its degree (0 for an isolated node). Higher = more trusted. -EINVAL for no
 * seed or a seed out of range, -ENOMEM. Cost O(iterations * m). */
int sybilrank_run(const struct sybil_graph *g, const uint32_t *seeds, size_t k, uint32_t iterations,
		  double *score);
/* ceil(log2 n), at least 1. */
uint32_t sybilrank_iterations(uint32_t n);

/* ---------- evaluation helpers ---------- */

/* Area under the ROC curve of score separating positives (positive[i] true) from
 * negatives: the probability that a random positive scores higher than a random negative,
 * ties counting half. NAN when either class is empty; -ENOMEM is reported as NAN too. */
double sybil_auc(const double *score, const bool *positive, size_t n);

#endif
