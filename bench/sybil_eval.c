/* supernode-bench sybil: evaluates SybilLimit or SybilRank (control/sybil.h) on an honest
 * trust graph with an attached Sybil region, and prints one JSON object.
 *
 * The honest graph comes from an edge list (--graph) or a generator (--synthetic); unless
 * --all-components, only its largest connected component is kept (a node the verifier
 * cannot reach at all can be accepted by no random-walk method). A Sybil region of N nodes
 * (its own BA or ER graph) is joined to it by G attack edges between uniformly random
 * honest and Sybil nodes. docs/sybil.md describes the adversary models and the output. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sybil.h"

int bench_sybil_main(int argc, char **argv);

#define PROG "supernode-bench sybil"

/* Independent streams derived from --seed, so one component's draws never shift another's. */
enum seed_label {
	SEED_HONEST_GRAPH = 1,
	SEED_SYBIL_GRAPH,
	SEED_ATTACK,
	SEED_VERIFIERS,
	SEED_ROUTES,
	SEED_RANK_SEEDS,
	SEED_MIXING,
	SEED_ORDER,
	SEED_BENCH_SAMPLE,
};

static uint64_t derive_seed(uint64_t seed, enum seed_label label)
{
	uint64_t st = seed ^ ((uint64_t)label * UINT64_C(0x9e3779b97f4a7c15));

	sybil_splitmix64(&st);
	return sybil_splitmix64(&st);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time of the process: wall time is noisy on a shared machine. */
static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---------- a small JSON writer ---------- */

struct jw {
	FILE *f;
	int depth;
	bool first[16];
};

static void jw_sep(struct jw *j, const char *key)
{
	if (!j->first[j->depth])
		fputc(',', j->f);
	j->first[j->depth] = false;
	if (j->depth)
		fprintf(j->f, "\n%*s", 2 * j->depth, "");
	if (key)
		fprintf(j->f, "\"%s\": ", key); /* keys are literals of this file */
}

static void jw_open(struct jw *j, const char *key, char c)
{
	if (j->depth || key)
		jw_sep(j, key);
	fputc(c, j->f);
	j->depth++;
	j->first[j->depth] = true;
}

static void jw_close(struct jw *j, char c)
{
	j->depth--;
	fprintf(j->f, "\n%*s%c", 2 * j->depth, "", c);
	if (!j->depth)
		fputc('\n', j->f);
}

static void jw_str(struct jw *j, const char *key, const char *s)
{
	jw_sep(j, key);
	fputc('"', j->f);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(j->f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(j->f, "\\u%04x", c);
		else
			fputc(c, j->f);
	}
	fputc('"', j->f);
}

static void jw_num(struct jw *j, const char *key, double v)
{
	jw_sep(j, key);
	if (isfinite(v))
		fprintf(j->f, "%.6g", v);
	else
		fputs("null", j->f);
}

static void jw_u64(struct jw *j, const char *key, uint64_t v)
{
	jw_sep(j, key);
	fprintf(j->f, "%" PRIu64, v);
}

static void jw_bool(struct jw *j, const char *key, bool v)
{
	jw_sep(j, key);
	fputs(v ? "true" : "false", j->f);
}

/* ---------- options ---------- */

enum method { M_SYBILLIMIT, M_SYBILRANK };
enum adversary { ADV_WORST, ADV_PROTOCOL };

struct opts {
	const char *graph;	 /* --graph FILE */
	const char *synthetic;	 /* --synthetic SPEC */
	const char *sybil_model; /* --sybil-graph SPEC */
	uint64_t sybils;	 /* N */
	uint64_t attack;	 /* G */
	uint64_t seeds;		 /* SybilRank seeds K */
	enum method method;
	uint64_t seed;
	bool all_components;
	/* SybilLimit */
	uint64_t w, w_max, r, verifiers, bench_sample;
	double r0, h, target, plateau;
	enum adversary adversary;
	/* mixing */
	uint64_t mix_sources, mix_tmax;
	double mix_eps;
	/* SybilRank */
	uint64_t iterations;
};

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: " PROG " (--graph FILE | --synthetic SPEC) --sybils N --attack-edges G\n"
	       "         [--method sybillimit|sybilrank] [--seeds K] [--seed S]\n"
	       "  --graph FILE          honest graph: 'a b' per line, '#' comments, gzip or plain\n"
	       "  --synthetic SPEC      ba:NODES:M | kleinberg:NODES:Q[:EXP] | er:NODES:DEGREE\n"
	       "  --sybils N            Sybil region size (>= 2)\n"
	       "  --attack-edges G      honest-Sybil edges (>= 1)\n"
	       "  --sybil-graph SPEC    Sybil region: ba:M (default ba:10) | er:DEGREE\n"
	       "  --all-components      keep every component (default: the largest only)\n"
	       "  --seed S              seed of every random choice (default 1)\n"
	       " SybilLimit:\n"
	       "  --w W                 route length (default 0: benchmark estimate)\n"
	       "  --w-max W             longest route the benchmark tries (default 64)\n"
	       "  --r0 X                r = ceil(r0 * sqrt(m_honest)) (default 4)\n"
	       "  --r R                 explicit r (overrides --r0)\n"
	       "  --h X                 balance condition constant (default 4)\n"
	       "  --target X            benchmark acceptance target for w (default 0.96)\n"
	       "  --plateau X           target never reached: smallest w within X of the best\n"
	       "                        benchmark rate (default 0.01)\n"
	       "  --bench-sample K      honest suspects in the benchmark (default 500)\n"
	       "  --verifiers K         random honest verifiers averaged over (default 1)\n"
	       "  --adversary MODEL     worst (default) | protocol\n"
	       " SybilRank:\n"
	       "  --seeds K             trust seeds, random honest nodes (default 20)\n"
	       "  --iterations T        power iterations (default 0: ceil(log2 n))\n"
	       " Mixing estimate:\n"
	       "  --mixing-sources K    walk sources (default 8)\n"
	       "  --mixing-eps X        total-variation threshold (default 0.25)\n"
	       "  --mixing-tmax T       longest walk (default 200)\n");
}

static int parse_u64(const char *name, const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (!s || *s < '0' || *s > '9')
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		goto bad;
	*out = v;
	return 0;
bad:
	fprintf(stderr, PROG ": %s: expected an integer in [%" PRIu64 ", %" PRIu64 "], got '%s'\n",
		name, lo, hi, s ? s : "");
	return -EINVAL;
}

static int parse_dbl(const char *name, const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi)) {
		fprintf(stderr, PROG ": %s: expected a number in [%g, %g], got '%s'\n", name, lo,
			hi, s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* Splits "kind:a:b[:c]" into kind and up to 3 fields; returns the field count or -EINVAL. */
static int split_spec(const char *spec, char *kind, size_t klen, char fields[3][32])
{
	const char *p = strchr(spec, ':');
	int n = 0;

	if (!p || (size_t)(p - spec) >= klen)
		return -EINVAL;
	memcpy(kind, spec, (size_t)(p - spec));
	kind[p - spec] = '\0';
	while (p) {
		const char *q = strchr(p + 1, ':');
		size_t l = q ? (size_t)(q - p - 1) : strlen(p + 1);

		if (n == 3 || l == 0 || l >= 32)
			return -EINVAL;
		memcpy(fields[n], p + 1, l);
		fields[n][l] = '\0';
		n++;
		p = q;
	}
	return n;
}

/* Synthetic honest graph (ids 0 .. n - 1) from SPEC. */
static int gen_synthetic(const char *spec, uint64_t seed, struct sybil_graph **out)
{
	struct sybil_edgelist el = {0};
	char kind[16], f[3][32];
	uint64_t nodes, a;
	double x = 2.0;
	int nf = split_spec(spec, kind, sizeof(kind), f), rc = -EINVAL;

	*out = NULL;
	if (nf < 2 || (strcmp(kind, "ba") && strcmp(kind, "kleinberg") && strcmp(kind, "er")))
		goto bad;
	if (parse_u64("--synthetic NODES", f[0], 9, SYBIL_MAX_NODES, &nodes))
		return -EINVAL;
	if (!strcmp(kind, "ba") && nf == 2) {
		if (parse_u64("--synthetic M", f[1], 1, nodes - 1, &a))
			return -EINVAL;
		rc = sybil_gen_ba((uint32_t)nodes, (uint32_t)a, seed, &el);
	} else if (!strcmp(kind, "kleinberg") && nf <= 3) {
		if (parse_u64("--synthetic Q", f[1], 0, 64, &a) ||
		    (nf == 3 && parse_dbl("--synthetic EXP", f[2], 0, 16, &x)))
			return -EINVAL;
		rc = sybil_gen_kleinberg((uint32_t)nodes, (uint32_t)a, x, seed, &el);
		nodes = (uint64_t)floor(sqrt((double)nodes));
		nodes *= nodes;
	} else if (!strcmp(kind, "er") && nf == 2) {
		if (parse_dbl("--synthetic DEGREE", f[1], 0.5, 1000, &x))
			return -EINVAL;
		rc = sybil_gen_er((uint32_t)nodes, x, seed, &el);
	} else {
		goto bad;
	}
	if (rc == 0)
		rc = sybil_graph_build_dense((uint32_t)nodes, el.e, el.n, out);
	if (rc)
		fprintf(stderr, PROG ": --synthetic %s: %s\n", spec, strerror(-rc));
	sybil_edgelist_free(&el);
	return rc;
bad:
	fprintf(stderr,
		PROG ": --synthetic: expected ba:NODES:M, kleinberg:NODES:Q[:EXP] or "
		     "er:NODES:DEGREE, got '%s'\n",
		spec);
	return -EINVAL;
}

/* Sybil region edges (ids 0 .. n - 1) appended to el. */
static int gen_sybil_region(const char *spec, uint32_t n, uint64_t seed, struct sybil_edgelist *el)
{
	char kind[16], f[3][32];
	int nf = split_spec(spec, kind, sizeof(kind), f);
	uint64_t m;
	double deg;

	if (nf == 1 && !strcmp(kind, "ba")) {
		if (parse_u64("--sybil-graph M", f[0], 1, n - 1, &m))
			return -EINVAL;
		return sybil_gen_ba(n, (uint32_t)m, seed, el);
	}
	if (nf == 1 && !strcmp(kind, "er")) {
		if (parse_dbl("--sybil-graph DEGREE", f[0], 0.5, n - 1, &deg))
			return -EINVAL;
		return sybil_gen_er(n, deg, seed, el);
	}
	fprintf(stderr, PROG ": --sybil-graph: expected ba:M or er:DEGREE, got '%s'\n", spec);
	return -EINVAL;
}

/* k distinct uniformly random nodes of [0, n) with an edge in g, none equal to `avoid`. */
static int pick_nodes(const struct sybil_graph *g, uint32_t n, size_t k, uint32_t avoid,
		      uint64_t seed, uint32_t *out)
{
	struct sybil_rng rng;
	uint8_t *used = calloc(n, 1);
	size_t got = 0, tries = 0;

	if (!used)
		return -ENOMEM;
	sybil_rng_seed(&rng, seed);
	while (got < k && tries < 64 * (size_t)n + 1024) {
		uint32_t v = (uint32_t)sybil_rng_below(&rng, n);

		tries++;
		if (used[v] || v == avoid || !sybil_degree(g, v))
			continue;
		used[v] = 1;
		out[got++] = v;
	}
	free(used);
	return got == k ? 0 : -ENOSPC;
}

/* ---------- scenario ---------- */

struct scenario {
	struct sybil_graph *honest; /* honest graph as evaluated (LCC unless --all-components) */
	uint32_t input_nodes;	    /* honest graph before the LCC cut */
	uint32_t input_edges;
	struct sybil_graph *g; /* honest nodes 0 .. nh - 1, then the Sybil nodes */
	uint32_t nh;	       /* honest nodes */
	uint32_t ns;	       /* Sybil nodes */
	uint64_t sybil_edges;  /* undirected edges inside the Sybil region */
	uint8_t *mark;	       /* g->n: 1 for a Sybil node */
};

static void scenario_free(struct scenario *sc)
{
	sybil_graph_free(sc->honest);
	sybil_graph_free(sc->g);
	free(sc->mark);
	memset(sc, 0, sizeof(*sc));
}

static int cmp_pair(const void *a, const void *b)
{
	const struct sybil_edge *x = a, *y = b;

	if (x->a != y->a)
		return x->a < y->a ? -1 : 1;
	return (x->b > y->b) - (x->b < y->b);
}

static int build_scenario(const struct opts *o, struct scenario *sc)
{
	char err[SYBIL_ERR_LEN];
	struct sybil_graph *in = NULL, *s = NULL;
	struct sybil_edgelist el = {0}, sel = {0};
	struct sybil_edge *att = NULL;
	struct sybil_rng rng;
	uint32_t v, t;
	size_t i, k;
	int rc;

	memset(sc, 0, sizeof(*sc));
	if (o->graph) {
		rc = sybil_graph_load(o->graph, &in, err, sizeof(err));
		if (rc) {
			fprintf(stderr, PROG ": %s\n", err);
			return rc;
		}
	} else {
		rc = gen_synthetic(o->synthetic, derive_seed(o->seed, SEED_HONEST_GRAPH), &in);
		if (rc)
			return rc;
	}
	sc->input_nodes = in->n;
	sc->input_edges = in->m;
	if (o->all_components) {
		sc->honest = in;
		in = NULL;
	} else {
		rc = sybil_graph_lcc(in, &sc->honest);
		sybil_graph_free(in);
		in = NULL;
		if (rc)
			goto fail;
	}
	sc->nh = sc->honest->n;
	sc->ns = (uint32_t)o->sybils;
	if ((uint64_t)sc->nh + sc->ns > SYBIL_MAX_NODES) {
		rc = -E2BIG;
		goto fail;
	}
	if (o->attack > (uint64_t)sc->nh * sc->ns) {
		fprintf(stderr, PROG ": --attack-edges %" PRIu64 " exceeds honest x Sybil pairs\n",
			o->attack);
		rc = -EINVAL;
		goto fail;
	}
	rc = gen_sybil_region(o->sybil_model, sc->ns, derive_seed(o->seed, SEED_SYBIL_GRAPH), &sel);
	if (rc)
		goto fail;
	rc = sybil_graph_build_dense(sc->ns, sel.e, sel.n, &s);
	if (rc)
		goto fail;
	sc->sybil_edges = s->m;
	/* attack edges: G distinct honest-Sybil pairs */
	att = malloc(o->attack * sizeof(*att));
	if (!att) {
		rc = -ENOMEM;
		goto fail;
	}
	sybil_rng_seed(&rng, derive_seed(o->seed, SEED_ATTACK));
	k = 0;
	while (k < o->attack) {
		size_t j;

		while (k < o->attack) {
			att[k].a = sybil_rng_below(&rng, sc->nh);
			att[k].b = sc->nh + sybil_rng_below(&rng, sc->ns);
			k++;
		}
		qsort(att, k, sizeof(*att), cmp_pair);
		for (i = 0, j = 0; i < k; i++)
			if (i == 0 || cmp_pair(&att[i], &att[j - 1]))
				att[j++] = att[i];
		k = j;
	}
	/* combined edge list */
	for (v = 0; v < sc->nh && !rc; v++)
		for (t = sc->honest->off[v]; t < sc->honest->off[v + 1] && !rc; t++)
			if (sc->honest->adj[t] > v)
				rc = sybil_edgelist_add(&el, v, sc->honest->adj[t]);
	for (v = 0; v < sc->ns && !rc; v++)
		for (t = s->off[v]; t < s->off[v + 1] && !rc; t++)
			if (s->adj[t] > v)
				rc = sybil_edgelist_add(&el, sc->nh + v, sc->nh + s->adj[t]);
	for (i = 0; i < o->attack && !rc; i++)
		rc = sybil_edgelist_add(&el, att[i].a, att[i].b);
	if (!rc)
		rc = sybil_graph_build_dense(sc->nh + sc->ns, el.e, el.n, &sc->g);
	if (rc)
		goto fail;
	sc->mark = calloc(sc->g->n, 1);
	if (!sc->mark) {
		rc = -ENOMEM;
		goto fail;
	}
	memset(sc->mark + sc->nh, 1, sc->ns);
	goto out;
fail:
	if (rc != -EINVAL) /* -EINVAL was explained where it arose */
		fprintf(stderr, PROG ": building the scenario: %s\n", strerror(-rc));
	scenario_free(sc);
out:
	sybil_graph_free(in);
	sybil_graph_free(s);
	sybil_edgelist_free(&el);
	sybil_edgelist_free(&sel);
	free(att);
	return rc;
}

/* ---------- mixing ---------- */

struct mixing {
	uint32_t sources;      /* walk sources (random honest nodes) */
	uint32_t t_max;	       /* longest walk */
	double eps;	       /* total-variation threshold */
	uint32_t t_mix;	       /* worst source; t_max + 1: not reached */
	uint32_t t_mix_median; /* median source */
	double *tv;	       /* t_max + 1: worst distance over the sources */
	double log2n;
};

static int cmp_u32v(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static int estimate_mixing(const struct opts *o, const struct scenario *sc, struct mixing *mx)
{
	uint32_t *src, *tm;
	double *tv1;
	size_t i;
	int rc;

	memset(mx, 0, sizeof(*mx));
	mx->sources = (uint32_t)(o->mix_sources < sc->nh ? o->mix_sources : sc->nh);
	mx->t_max = (uint32_t)o->mix_tmax;
	mx->eps = o->mix_eps;
	mx->log2n = log2((double)sc->nh);
	src = malloc(mx->sources * sizeof(*src));
	tm = malloc(mx->sources * sizeof(*tm));
	tv1 = malloc(((size_t)mx->t_max + 1) * sizeof(*tv1));
	mx->tv = calloc((size_t)mx->t_max + 1, sizeof(*mx->tv));
	if (!src || !tm || !tv1 || !mx->tv) {
		rc = -ENOMEM;
		goto out;
	}
	rc = pick_nodes(sc->honest, sc->nh, mx->sources, UINT32_MAX,
			derive_seed(o->seed, SEED_MIXING), src);
	for (i = 0; i < mx->sources && !rc; i++) {
		uint32_t t;

		rc = sybil_mixing_tv(sc->honest, src + i, 1, mx->t_max, mx->eps, tv1, &tm[i]);
		for (t = 0; t <= mx->t_max && !rc; t++)
			if (tv1[t] > mx->tv[t])
				mx->tv[t] = tv1[t];
	}
	if (!rc) {
		qsort(tm, mx->sources, sizeof(*tm), cmp_u32v);
		mx->t_mix = tm[mx->sources - 1];
		mx->t_mix_median = tm[(mx->sources - 1) / 2];
	}
out:
	free(src);
	free(tm);
	free(tv1);
	return rc;
}

/* Slow mixing: the median walk is not near stationarity within 2 log2 n steps, or the worst
 * one (a node in a poorly connected pocket) within 4 log2 n. */
static bool mixing_slow(const struct mixing *mx)
{
	return mx->t_mix_median > 2 * ceil(mx->log2n) || mx->t_mix > 4 * ceil(mx->log2n);
}

static void mixing_text(const struct mixing *mx, char *buf, size_t len)
{
	snprintf(buf, len, "random-walk t_mix(%.2g) median %s%u, worst %s%u steps", mx->eps,
		 mx->t_mix_median > mx->t_max ? "> " : "",
		 mx->t_mix_median > mx->t_max ? mx->t_max : mx->t_mix_median,
		 mx->t_mix > mx->t_max ? "> " : "", mx->t_mix > mx->t_max ? mx->t_max : mx->t_mix);
}

static void json_mixing(struct jw *j, const struct mixing *mx, uint32_t w_used, uint32_t w_bench,
			bool warn, const char *msg)
{
	jw_open(j, "mixing", '{');
	jw_u64(j, "sources", mx->sources);
	jw_num(j, "tv_eps", mx->eps);
	if (mx->t_mix <= mx->t_max)
		jw_u64(j, "t_mix", mx->t_mix);
	else
		jw_str(j, "t_mix", "not reached");
	if (mx->t_mix_median <= mx->t_max)
		jw_u64(j, "t_mix_median", mx->t_mix_median);
	else
		jw_str(j, "t_mix_median", "not reached");
	jw_u64(j, "t_max", mx->t_max);
	jw_num(j, "log2_n", mx->log2n);
	if (w_used)
		jw_num(j, "tv_at_w", mx->tv[w_used <= mx->t_max ? w_used : mx->t_max]);
	if (w_bench)
		jw_u64(j, "benchmark_w", w_bench);
	jw_num(
	    j, "tv_at_log2_n",
	    mx->tv[(uint32_t)ceil(mx->log2n) <= mx->t_max ? (uint32_t)ceil(mx->log2n) : mx->t_max]);
	jw_bool(j, "warning", warn);
	if (warn)
		jw_str(j, "message", msg);
	jw_close(j, '}');
}

/* ---------- SybilLimit ---------- */

struct sl_result {
	uint32_t verifier; /* dense index */
	uint32_t w;	   /* route length used */
	uint32_t w_bench;  /* benchmark estimate (0: target not reached) */
	uint32_t w_done;   /* longest route length the benchmark measured */
	double bench_rate; /* benchmark acceptance at w */
	uint64_t honest_suspects, honest_accepted, honest_intersecting;
	uint64_t sybil_accepted;
	uint32_t escaped;	/* verifier tails that escaped into the Sybil region */
	uint64_t tainted;	/* adversary-held registrations on honest verifier tails */
	uint64_t registrations; /* honest registrations on the verifier's tails */
	double final_bound;	/* balance bound after everyone was verified */
	uint32_t max_load;
	double auc;
};

/* Suspect of the acceptance simulation: hits into a shared index array. */
struct suspect {
	size_t first; /* first hit in hits[] */
	uint32_t n;   /* hits */
	bool honest;
	bool accepted;
};

static int run_verifier(const struct opts *o, const struct scenario *sc,
			struct sybillimit_params *p, uint32_t verifier, const double *rate,
			struct sl_result *res)
{
	struct sybillimit_verifier v;
	struct sybillimit_view view;
	struct suspect *sus = NULL;
	uint32_t *hits = NULL, *order = NULL, *esc = NULL;
	double *score = NULL;
	bool *pos = NULL;
	size_t nsus = (size_t)sc->nh - 1 + sc->ns, nhits = 0, cap, i, k, ri;
	struct sybil_rng rng;
	uint32_t nesc = 0, t;
	int rc;

	rc = sybillimit_verifier_init(&v, sc->g, p, verifier);
	if (rc)
		return rc;
	rc = sybillimit_collect(&v, o->adversary == ADV_WORST ? sc->mark : NULL, &view);
	if (rc) {
		sybillimit_verifier_free(&v);
		return rc;
	}
	res->verifier = verifier;
	res->w = p->w;
	res->bench_rate = rate ? rate[p->w] : NAN;
	res->registrations = view.n_reg;
	esc = malloc((size_t)v.r * sizeof(*esc));
	sus = calloc(nsus, sizeof(*sus));
	cap = view.n_reg + 1024;
	hits = malloc(cap * sizeof(*hits));
	if (!esc || !sus || !hits)
		goto nomem;
	for (t = 0; t < v.r; t++) {
		if (view.escaped[t])
			esc[nesc++] = t;
		else
			res->tainted += view.tainted[t];
	}
	res->escaped = nesc;
	/* Suspects 0 .. nh - 2 are the honest nodes but the verifier, then the Sybils. Honest
	 * hits (and, in the protocol model, Sybil hits) are their registrations. */
	for (i = 0, k = 0, ri = 0; i < sc->g->n; i++) {
		size_t si;

		while (ri < view.n_reg && view.reg[ri].node < i)
			ri++;
		if (i == verifier)
			continue; /* the verifier is registered on all its own tails */
		si = k++;
		sus[si].honest = i < sc->nh;
		sus[si].first = nhits;
		if (i >= sc->nh && o->adversary == ADV_WORST)
			continue;
		for (; ri < view.n_reg && view.reg[ri].node == i; ri++) {
			hits[nhits++] = view.reg[ri].tail;
			sus[si].n++;
		}
	}
	if (o->adversary == ADV_WORST) {
		/* Worst case: every Sybil identity claims every escaped tail, and the adversary's
		 * registrations on honest tails (one identity each, round robin) are spread over
		 * the identities. */
		size_t base = (size_t)sc->nh - 1,
		       need = nhits + (size_t)sc->ns * nesc + res->tainted;
		uint32_t *more;

		if (need > cap) {
			more = realloc(hits, need * sizeof(*hits));
			if (!more)
				goto nomem;
			hits = more;
			cap = need;
		}
		/* tainted slots per identity: identity j gets the j-th, (j + N)-th, ... */
		for (i = 0; i < sc->ns; i++) {
			struct suspect *s = &sus[base + i];
			uint64_t idx = 0, want = i;

			s->first = nhits;
			memcpy(hits + nhits, esc, nesc * sizeof(*esc));
			nhits += nesc;
			s->n = nesc;
			for (t = 0; t < v.r && want < res->tainted; t++) {
				if (view.escaped[t])
					continue;
				while (want < idx + view.tainted[t] && want < res->tainted) {
					hits[nhits++] = t;
					s->n++;
					want += sc->ns;
				}
				idx += view.tainted[t];
			}
		}
	}
	/* Acceptance: Sybils first (worst for honest suspects), the honest suspects in random
	 * order, then every rejected Sybil retries (worst for the count of Sybils). */
	order = malloc(((size_t)sc->nh - 1) * sizeof(*order));
	if (!order)
		goto nomem;
	for (i = 0; i + 1 < sc->nh; i++)
		order[i] = (uint32_t)i;
	sybil_rng_seed(&rng, derive_seed(o->seed, SEED_ORDER) ^ verifier);
	for (i = sc->nh - 1; i > 1; i--) {
		size_t j = sybil_rng_below(&rng, i);
		uint32_t x = order[i - 1];

		order[i - 1] = order[j];
		order[j] = x;
	}
	for (i = sc->nh - 1; i < nsus; i++)
		sus[i].accepted = sybillimit_admit(&v, hits + sus[i].first, sus[i].n) == 1;
	for (i = 0; i + 1 < sc->nh; i++) {
		struct suspect *s = &sus[order[i]];

		s->accepted = sybillimit_admit(&v, hits + s->first, s->n) == 1;
	}
	for (i = sc->nh - 1; i < nsus; i++)
		if (!sus[i].accepted)
			sus[i].accepted = sybillimit_admit(&v, hits + sus[i].first, sus[i].n) == 1;
	score = malloc(nsus * sizeof(*score));
	pos = malloc(nsus * sizeof(*pos));
	if (!score || !pos)
		goto nomem;
	for (i = 0; i < nsus; i++) {
		/* the decision alone: the adversary can inflate any intersection count */
		score[i] = sus[i].accepted;
		pos[i] = sus[i].honest;
		if (sus[i].honest) {
			res->honest_suspects++;
			res->honest_accepted += sus[i].accepted;
			res->honest_intersecting += sus[i].n > 0;
		} else {
			res->sybil_accepted += sus[i].accepted;
		}
	}
	res->auc = sybil_auc(score, pos, nsus);
	res->final_bound = sybillimit_balance_bound(&v);
	for (t = 0; t < v.r; t++)
		if (v.load[t] > res->max_load)
			res->max_load = v.load[t];
	rc = 0;
	goto out;
nomem:
	rc = -ENOMEM;
out:
	free(esc);
	free(sus);
	free(hits);
	free(order);
	free(score);
	free(pos);
	sybillimit_view_free(&view);
	sybillimit_verifier_free(&v);
	return rc;
}

static int run_sybillimit(const struct opts *o, const struct scenario *sc, struct mixing *mx,
			  double t_start)
{
	struct sybillimit_params p;
	struct sl_result *res = NULL;
	uint32_t *ver = NULL, *sample = NULL, wmax = (uint32_t)o->w_max, i;
	double *rate = NULL, *rate_all = NULL, t0 = now_s(), c0 = cpu_s(), secs, csecs;
	double sum_h = 0, min_h = 1, sum_s = 0, sum_auc = 0, sum_w = 0, reach_h = 0, reach_s = 0;
	size_t n_reach = 0;
	uint32_t w_max_used = 0, w_bench_max = 0;
	size_t n_unreached = 0;
	bool warn;
	char msg[512] = "";
	size_t nv = o->verifiers, ks;
	struct jw j = {.f = stdout, .first = {true}};
	int rc;

	sybillimit_params_default(&p);
	p.r0 = o->r0;
	p.r = (uint32_t)o->r;
	p.h = o->h;
	p.m = sc->honest->m; /* the verifier sizes r on the honest graph, not on Sybil edges */
	p.seed = derive_seed(o->seed, SEED_ROUTES);
	ks = o->bench_sample < sc->nh - 1 ? o->bench_sample : sc->nh - 1;
	ver = malloc(nv * sizeof(*ver));
	res = calloc(nv, sizeof(*res));
	sample = malloc((ks ? ks : 1) * sizeof(*sample));
	rate = malloc(((size_t)wmax + 1) * sizeof(*rate));
	rate_all = calloc(((size_t)wmax + 1) * nv, sizeof(*rate_all));
	if (!ver || !res || !sample || !rate || !rate_all) {
		rc = -ENOMEM;
		goto out;
	}
	rc = pick_nodes(sc->honest, sc->nh, nv, UINT32_MAX, derive_seed(o->seed, SEED_VERIFIERS),
			ver);
	if (rc)
		goto out;
	for (i = 0; i < nv; i++) {
		/* benchmark: honest suspects known to the verifier, on the attacked graph */
		rc = pick_nodes(sc->honest, sc->nh, ks, ver[i],
				derive_seed(o->seed, SEED_BENCH_SAMPLE) ^ ver[i], sample);
		if (rc)
			goto out;
		if (o->w) {
			/* fixed w: the benchmark only reports how it fares */
			rc = sybillimit_benchmark(sc->g, &p, ver[i], sample, ks, (uint32_t)o->w,
						  rate);
			res[i].w_done = (uint32_t)o->w;
			res[i].w_bench =
			    rc ? 0 : sybillimit_pick_w(rate, (uint32_t)o->w, o->target);
		} else {
			rc = sybillimit_estimate_w(sc->g, &p, ver[i], sample, ks, o->target, wmax,
						   rate, &res[i].w_done);
			res[i].w_bench = rc > 0 ? (uint32_t)rc : 0;
			rc = rc > 0 ? 0 : rc;
		}
		if (rc)
			goto out;
		memcpy(rate_all + (size_t)i * (wmax + 1), rate, ((size_t)wmax + 1) * sizeof(*rate));
		if (!o->w && !res[i].w_bench)
			n_unreached++;
		if (res[i].w_bench > w_bench_max)
			w_bench_max = res[i].w_bench;
		if (o->w)
			p.w = (uint32_t)o->w;
		else if (res[i].w_bench)
			p.w = res[i].w_bench;
		else
			p.w = sybillimit_plateau_w(rate, res[i].w_done, o->plateau);
		rc = run_verifier(o, sc, &p, ver[i], rate, &res[i]);
		if (rc)
			goto out;
		if (p.w > w_max_used)
			w_max_used = p.w;
	}
	secs = now_s() - t0;
	csecs = cpu_s() - c0;
	for (i = 0; i < nv; i++) {
		double hr = (double)res[i].honest_accepted / (double)res[i].honest_suspects;

		if (res[i].w_bench || o->w) {
			n_reach++;
			reach_h += hr;
			reach_s += (double)res[i].sybil_accepted;
		}
		sum_h += hr;
		if (hr < min_h)
			min_h = hr;
		sum_s += (double)res[i].sybil_accepted;
		sum_auc += res[i].auc;
		sum_w += res[i].w;
	}
	/* Guarantees need w near the mixing time, itself O(log n). */
	warn = n_unreached || w_max_used > 2 * ceil(mx->log2n) || mixing_slow(mx);
	if (warn) {
		char mix[96], unreached[128] = "";

		mixing_text(mx, mix, sizeof(mix));
		if (n_unreached)
			snprintf(
			    unreached, sizeof(unreached),
			    "%zu of %zu verifiers never reached the %.2f benchmark target with "
			    "w <= %u, ",
			    n_unreached, nv, o->target, wmax);
		snprintf(msg, sizeof(msg),
			 "graph mixes slowly for SybilLimit: w up to %u (log2 n = %.1f), %s%s; "
			 "SybilLimit accepts O(w) Sybils per attack edge, so its bound is weaker "
			 "than O(log n) here",
			 w_max_used, mx->log2n, unreached, mix);
		fprintf(stderr, PROG ": warning: %s\n", msg);
	}
	jw_open(&j, NULL, '{');
	jw_str(&j, "method", "sybillimit");
	jw_str(&j, "graph", o->graph ? o->graph : o->synthetic);
	jw_u64(&j, "seed", o->seed);
	jw_u64(&j, "nodes", sc->g->n);
	jw_u64(&j, "edges", sc->g->m);
	jw_u64(&j, "honest_nodes", sc->nh);
	jw_u64(&j, "honest_edges", sc->honest->m);
	jw_u64(&j, "input_nodes", sc->input_nodes);
	jw_u64(&j, "input_edges", sc->input_edges);
	jw_bool(&j, "largest_component_only", !o->all_components);
	jw_u64(&j, "sybil_nodes", sc->ns);
	jw_u64(&j, "sybil_edges", sc->sybil_edges);
	jw_str(&j, "sybil_graph", o->sybil_model);
	jw_u64(&j, "attack_edges", o->attack);
	jw_num(&j, "honest_accept_rate", sum_h / nv);
	jw_num(&j, "honest_accept_rate_min", min_h);
	jw_u64(&j, "verifiers_reaching_target", nv - n_unreached);
	if (n_reach) {
		/* the same means over the verifiers whose benchmark reached the target */
		jw_num(&j, "honest_accept_rate_reaching", reach_h / n_reach);
		jw_num(&j, "sybils_accepted_per_attack_edge_reaching",
		       reach_s / n_reach / (double)o->attack);
	}
	jw_num(&j, "sybils_accepted", sum_s / nv);
	jw_num(&j, "sybils_accepted_per_attack_edge", sum_s / nv / (double)o->attack);
	jw_num(&j, "auc", sum_auc / nv);
	jw_num(&j, "seconds", secs);
	jw_num(&j, "cpu_seconds", csecs);
	jw_num(&j, "seconds_total", now_s() - t_start);
	jw_num(&j, "cpu_seconds_total", cpu_s());
	jw_open(&j, "params", '{');
	jw_str(&j, "adversary", o->adversary == ADV_WORST ? "worst" : "protocol");
	jw_num(&j, "w", sum_w / nv);
	jw_bool(&j, "w_estimated", o->w == 0);
	jw_num(&j, "r0", p.r ? NAN : p.r0);
	jw_u64(&j, "r", sybillimit_r(&p, sc->g));
	jw_u64(&j, "m_for_r", p.m);
	jw_num(&j, "h", p.h);
	jw_num(&j, "target", o->target);
	jw_num(&j, "plateau", o->plateau);
	jw_u64(&j, "bench_sample", ks);
	jw_u64(&j, "w_max", wmax);
	jw_u64(&j, "verifiers", nv);
	jw_close(&j, '}');
	json_mixing(&j, mx, (uint32_t)lround(sum_w / nv), w_bench_max, warn, msg);
	jw_open(&j, "per_verifier", '[');
	for (i = 0; i < nv; i++) {
		jw_open(&j, NULL, '{');
		jw_u64(&j, "verifier_id", sybil_graph_id(sc->honest, res[i].verifier));
		jw_u64(&j, "verifier_degree", sybil_degree(sc->g, res[i].verifier));
		jw_u64(&j, "w", res[i].w);
		jw_u64(&j, "w_benchmark", res[i].w_bench);
		jw_num(&j, "benchmark_rate_at_w", res[i].bench_rate);
		jw_u64(&j, "honest_suspects", res[i].honest_suspects);
		jw_u64(&j, "honest_accepted", res[i].honest_accepted);
		jw_u64(&j, "honest_intersecting", res[i].honest_intersecting);
		jw_u64(&j, "sybils_accepted", res[i].sybil_accepted);
		jw_u64(&j, "escaped_tails", res[i].escaped);
		jw_u64(&j, "tainted_registrations", res[i].tainted);
		jw_u64(&j, "honest_registrations", res[i].registrations);
		jw_num(&j, "balance_bound", res[i].final_bound);
		jw_u64(&j, "max_load", res[i].max_load);
		jw_num(&j, "auc", res[i].auc);
		jw_open(&j, "benchmark_rate", '[');
		for (uint32_t w = 1; w <= res[i].w_done; w++)
			jw_num(&j, NULL, rate_all[(size_t)i * (wmax + 1) + w]);
		jw_close(&j, ']');
		jw_close(&j, '}');
	}
	jw_close(&j, ']');
	jw_close(&j, '}');
out:
	if (rc)
		fprintf(stderr, PROG ": sybillimit: %s\n", strerror(-rc));
	free(ver);
	free(res);
	free(sample);
	free(rate);
	free(rate_all);
	return rc;
}

/* ---------- SybilRank ---------- */

static int cmp_desc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x < y) - (x > y);
}

/* Accepts every node scoring >= thr; counts honest and Sybil nodes accepted. */
static void count_cut(const struct scenario *sc, const double *score, double thr, uint64_t *h,
		      uint64_t *s)
{
	uint32_t v;

	*h = *s = 0;
	for (v = 0; v < sc->g->n; v++) {
		if (score[v] < thr)
			continue;
		if (v < sc->nh)
			(*h)++;
		else
			(*s)++;
	}
}

static void json_cut(struct jw *j, const char *key, const struct scenario *sc, uint64_t attack,
		     uint64_t h, uint64_t s)
{
	jw_open(j, key, '{');
	jw_num(j, "honest_accept_rate", (double)h / sc->nh);
	jw_u64(j, "sybils_accepted", s);
	jw_num(j, "sybils_accepted_per_attack_edge", (double)s / (double)attack);
	jw_close(j, '}');
}

static int run_sybilrank(const struct opts *o, const struct scenario *sc, struct mixing *mx,
			 double t_start)
{
	uint32_t *seeds = NULL,
		 it = o->iterations ? (uint32_t)o->iterations : sybilrank_iterations(sc->g->n);
	double *score = NULL, *sorted = NULL, t0 = now_s(), c0 = cpu_s(), secs, csecs, auc;
	double thr_oracle, thr95;
	uint64_t h_or, s_or, h95, s95;
	bool *pos = NULL, warn;
	char msg[256] = "";
	struct jw j = {.f = stdout, .first = {true}};
	uint32_t v;
	int rc = -ENOMEM;

	seeds = malloc(o->seeds * sizeof(*seeds));
	score = malloc((size_t)sc->g->n * sizeof(*score));
	sorted = malloc((size_t)sc->g->n * sizeof(*sorted));
	pos = malloc((size_t)sc->g->n * sizeof(*pos));
	if (!seeds || !score || !sorted || !pos)
		goto out;
	rc = pick_nodes(sc->honest, sc->nh, o->seeds, UINT32_MAX,
			derive_seed(o->seed, SEED_RANK_SEEDS), seeds);
	if (!rc)
		rc = sybilrank_run(sc->g, seeds, o->seeds, it, score);
	if (rc)
		goto out;
	for (v = 0; v < sc->g->n; v++)
		pos[v] = v < sc->nh;
	auc = sybil_auc(score, pos, sc->g->n);
	secs = now_s() - t0;
	csecs = cpu_s() - c0;
	/* oracle cut: accept the nh best-ranked nodes */
	memcpy(sorted, score, (size_t)sc->g->n * sizeof(*sorted));
	qsort(sorted, sc->g->n, sizeof(*sorted), cmp_desc);
	thr_oracle = sorted[sc->nh - 1];
	count_cut(sc, score, thr_oracle, &h_or, &s_or);
	/* 95 % cut: the threshold that accepts 95 % of the honest nodes */
	memcpy(sorted, score, (size_t)sc->nh * sizeof(*sorted));
	qsort(sorted, sc->nh, sizeof(*sorted), cmp_desc);
	thr95 = sorted[(size_t)ceil(0.95 * sc->nh) - 1];
	count_cut(sc, score, thr95, &h95, &s95);
	warn = mixing_slow(mx);
	if (warn) {
		char mix[96];

		mixing_text(mx, mix, sizeof(mix));
		snprintf(msg, sizeof(msg),
			 "graph mixes slowly: %s vs %u power iterations; honest nodes far from "
			 "every seed rank low, spread more seeds over the graph",
			 mix, it);
		fprintf(stderr, PROG ": warning: %s\n", msg);
	}
	jw_open(&j, NULL, '{');
	jw_str(&j, "method", "sybilrank");
	jw_str(&j, "graph", o->graph ? o->graph : o->synthetic);
	jw_u64(&j, "seed", o->seed);
	jw_u64(&j, "nodes", sc->g->n);
	jw_u64(&j, "edges", sc->g->m);
	jw_u64(&j, "honest_nodes", sc->nh);
	jw_u64(&j, "honest_edges", sc->honest->m);
	jw_u64(&j, "input_nodes", sc->input_nodes);
	jw_u64(&j, "input_edges", sc->input_edges);
	jw_bool(&j, "largest_component_only", !o->all_components);
	jw_u64(&j, "sybil_nodes", sc->ns);
	jw_u64(&j, "sybil_edges", sc->sybil_edges);
	jw_str(&j, "sybil_graph", o->sybil_model);
	jw_u64(&j, "attack_edges", o->attack);
	jw_num(&j, "honest_accept_rate", (double)h_or / sc->nh);
	jw_u64(&j, "sybils_accepted", s_or);
	jw_num(&j, "sybils_accepted_per_attack_edge", (double)s_or / (double)o->attack);
	jw_num(&j, "auc", auc);
	jw_num(&j, "seconds", secs);
	jw_num(&j, "cpu_seconds", csecs);
	jw_num(&j, "seconds_total", now_s() - t_start);
	jw_num(&j, "cpu_seconds_total", cpu_s());
	jw_open(&j, "params", '{');
	jw_u64(&j, "seeds", o->seeds);
	jw_u64(&j, "iterations", it);
	jw_close(&j, '}');
	json_cut(&j, "cut_top_honest_count", sc, o->attack, h_or, s_or);
	json_cut(&j, "cut_honest_95", sc, o->attack, h95, s95);
	json_mixing(&j, mx, 0, 0, warn, msg);
	jw_close(&j, '}');
out:
	if (rc)
		fprintf(stderr, PROG ": sybilrank: %s\n", strerror(-rc));
	free(seeds);
	free(score);
	free(sorted);
	free(pos);
	return rc;
}

/* ---------- main ---------- */

enum {
	O_GRAPH = 256,
	O_SYNTH,
	O_SYBILS,
	O_ATTACK,
	O_SEEDS,
	O_METHOD,
	O_SEED,
	O_SYBIL_GRAPH,
	O_ALL,
	O_W,
	O_WMAX,
	O_R0,
	O_R,
	O_H,
	O_TARGET,
	O_PLATEAU,
	O_BENCH,
	O_VERIFIERS,
	O_ADV,
	O_ITER,
	O_MSRC,
	O_MEPS,
	O_MTMAX,
	O_HELP,
};

static const struct option long_opts[] = {
    {"graph", required_argument, NULL, O_GRAPH},
    {"synthetic", required_argument, NULL, O_SYNTH},
    {"sybils", required_argument, NULL, O_SYBILS},
    {"attack-edges", required_argument, NULL, O_ATTACK},
    {"seeds", required_argument, NULL, O_SEEDS},
    {"method", required_argument, NULL, O_METHOD},
    {"seed", required_argument, NULL, O_SEED},
    {"sybil-graph", required_argument, NULL, O_SYBIL_GRAPH},
    {"all-components", no_argument, NULL, O_ALL},
    {"w", required_argument, NULL, O_W},
    {"w-max", required_argument, NULL, O_WMAX},
    {"r0", required_argument, NULL, O_R0},
    {"r", required_argument, NULL, O_R},
    {"h", required_argument, NULL, O_H},
    {"target", required_argument, NULL, O_TARGET},
    {"plateau", required_argument, NULL, O_PLATEAU},
    {"bench-sample", required_argument, NULL, O_BENCH},
    {"verifiers", required_argument, NULL, O_VERIFIERS},
    {"adversary", required_argument, NULL, O_ADV},
    {"iterations", required_argument, NULL, O_ITER},
    {"mixing-sources", required_argument, NULL, O_MSRC},
    {"mixing-eps", required_argument, NULL, O_MEPS},
    {"mixing-tmax", required_argument, NULL, O_MTMAX},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	bool have_n = false, have_g = false;
	int c, rc = 0;

	memset(o, 0, sizeof(*o));
	o->sybil_model = "ba:10";
	o->seeds = 20;
	o->seed = 1;
	o->w_max = 64;
	o->r0 = 4;
	o->h = 4;
	o->target = 0.96;
	o->plateau = 0.01;
	o->bench_sample = 500;
	o->verifiers = 1;
	o->mix_sources = 8;
	o->mix_eps = 0.25;
	o->mix_tmax = 200;
	optind = 1;
	opterr = 0;
	while (!rc && (c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		switch (c) {
		case O_GRAPH:
			o->graph = optarg;
			break;
		case O_SYNTH:
			o->synthetic = optarg;
			break;
		case O_SYBILS:
			rc = parse_u64("--sybils", optarg, 2, SYBIL_MAX_NODES / 2, &o->sybils);
			have_n = true;
			break;
		case O_ATTACK:
			rc =
			    parse_u64("--attack-edges", optarg, 1, SYBIL_MAX_EDGES / 2, &o->attack);
			have_g = true;
			break;
		case O_SEEDS:
			rc = parse_u64("--seeds", optarg, 1, 1000000, &o->seeds);
			break;
		case O_METHOD:
			if (!strcmp(optarg, "sybillimit")) {
				o->method = M_SYBILLIMIT;
			} else if (!strcmp(optarg, "sybilrank")) {
				o->method = M_SYBILRANK;
			} else {
				fprintf(stderr, PROG ": --method: sybillimit or sybilrank\n");
				rc = -EINVAL;
			}
			break;
		case O_SEED:
			rc = parse_u64("--seed", optarg, 0, UINT64_MAX, &o->seed);
			break;
		case O_SYBIL_GRAPH:
			o->sybil_model = optarg;
			break;
		case O_ALL:
			o->all_components = true;
			break;
		case O_W:
			rc = parse_u64("--w", optarg, 0, 4096, &o->w);
			break;
		case O_WMAX:
			rc = parse_u64("--w-max", optarg, 1, 4096, &o->w_max);
			break;
		case O_R0:
			rc = parse_dbl("--r0", optarg, 0.01, 100, &o->r0);
			break;
		case O_R:
			rc = parse_u64("--r", optarg, 0, 1000000, &o->r);
			break;
		case O_H:
			rc = parse_dbl("--h", optarg, 0.01, 1e6, &o->h);
			break;
		case O_TARGET:
			rc = parse_dbl("--target", optarg, 0, 1, &o->target);
			break;
		case O_PLATEAU:
			rc = parse_dbl("--plateau", optarg, 0, 1, &o->plateau);
			break;
		case O_BENCH:
			rc = parse_u64("--bench-sample", optarg, 1, 1000000, &o->bench_sample);
			break;
		case O_VERIFIERS:
			rc = parse_u64("--verifiers", optarg, 1, 1000, &o->verifiers);
			break;
		case O_ADV:
			if (!strcmp(optarg, "worst")) {
				o->adversary = ADV_WORST;
			} else if (!strcmp(optarg, "protocol")) {
				o->adversary = ADV_PROTOCOL;
			} else {
				fprintf(stderr, PROG ": --adversary: worst or protocol\n");
				rc = -EINVAL;
			}
			break;
		case O_ITER:
			rc = parse_u64("--iterations", optarg, 0, 100000, &o->iterations);
			break;
		case O_MSRC:
			rc = parse_u64("--mixing-sources", optarg, 1, 10000, &o->mix_sources);
			break;
		case O_MEPS:
			rc = parse_dbl("--mixing-eps", optarg, 1e-6, 1, &o->mix_eps);
			break;
		case O_MTMAX:
			rc = parse_u64("--mixing-tmax", optarg, 1, 100000, &o->mix_tmax);
			break;
		case O_HELP:
			usage(stdout);
			return 1;
		default:
			fprintf(stderr, PROG ": unknown or incomplete option '%s'\n",
				argv[optind - 1]);
			rc = -EINVAL;
			break;
		}
	}
	if (rc)
		return rc;
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (!o->graph == !o->synthetic) {
		fprintf(stderr, PROG ": give exactly one of --graph and --synthetic\n");
		return -EINVAL;
	}
	if (!have_n || !have_g) {
		fprintf(stderr, PROG ": --sybils and --attack-edges are required\n");
		return -EINVAL;
	}
	if (o->w > o->w_max)
		o->w_max = o->w;
	return 0;
}

int bench_sybil_main(int argc, char **argv)
{
	struct scenario sc;
	struct mixing mx = {0};
	struct opts o;
	double t0 = now_s();
	int rc;

	rc = parse_opts(argc, argv, &o);
	if (rc) {
		if (rc < 0)
			usage(stderr);
		return rc < 0 ? 64 : 0;
	}
	rc = build_scenario(&o, &sc);
	if (rc)
		return 1;
	if (sc.nh < 2) {
		fprintf(stderr, PROG ": the honest graph needs at least 2 connected nodes\n");
		scenario_free(&sc);
		return 1;
	}
	if (o.method == M_SYBILRANK && o.seeds > sc.nh)
		o.seeds = sc.nh;
	if (o.method == M_SYBILLIMIT && o.verifiers > sc.nh)
		o.verifiers = sc.nh;
	rc = estimate_mixing(&o, &sc, &mx);
	if (rc)
		fprintf(stderr, PROG ": mixing estimate: %s\n", strerror(-rc));
	else if (o.method == M_SYBILLIMIT)
		rc = run_sybillimit(&o, &sc, &mx, t0);
	else
		rc = run_sybilrank(&o, &sc, &mx, t0);
	free(mx.tv);
	scenario_free(&sc);
	return rc ? 1 : 0;
}
