/* trust.c: the trust graph and its verdicts (see trust.h, docs/sybil.md). */
#include "trust.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "counters.h"
#include "guard.h"
#include "json.h"
#include "reload.h"
#include "sn_log.h"
#include "sybil.h"
#include "table.h"
#include "util.h"

#define KEY_LEN	       21 /* kind byte + 20 bytes (node id, or address zero-padded) */
#define KIND_NODE      1
#define KIND_IPV4      4
#define KIND_IPV6      6
#define FILE_MAX_BYTES (256u << 20) /* decompressed edge list */
#define BENCH_SAMPLE   200	    /* best-ranked nodes the route length is benchmarked on */
#define BENCH_TARGET   0.96	    /* docs/sybil.md, "Benchmarking w" */
#define BENCH_W_MAX    64
#define MIX_SOURCES    8
#define MIX_EPS	       0.25
#define LIST_ROWS_TEXT 200 /* rows `sybil` prints as text; JSON has them all */
#define LIST_ROWS_JSON 100000
#define MARK_NONE      0

/* One vertex: a node id or an address. Indices are stable for the process's life. */
struct vert {
	uint8_t key[KEY_LEN];
	uint8_t verdict;   /* enum ctl_trust_verdict from the last run (marks applied) */
	uint8_t op_mark;   /* operator mark (admin), enum ctl_trust_verdict, 0: none */
	uint8_t file_mark; /* mark from the file's suspect/trust lines */
	bool cfg_seed;	   /* named in sybil.seeds */
	bool file_seed;	   /* `seed` line of the file */
	bool in_graph;	   /* has an edge in the last run's graph */
	bool limit_ok;	   /* SybilLimit accepted it (last run) */
	double score;	   /* normalised SybilRank score, -1: unknown */
	uint32_t degree;   /* in the last run's graph */
};

struct trust {
	struct sn_sybil_config cfg;
	bool have_self;
	uint8_t self[20];
	/* vertices and their hash index (open addressing, power-of-2 slots, value idx + 1) */
	struct vert *v;
	uint32_t n_v, cap_v;
	uint32_t *slot;
	uint32_t n_slot;
	/* dynamic edges (vouches, relays) and their dedup set */
	struct sybil_edge *dyn;
	uint32_t n_dyn;
	uint64_t *eset; /* (a << 32 | b) + 1, a < b; 0: empty */
	uint32_t n_eset;
	uint64_t n_vouch_edges, n_relay_edges;
	/* last run */
	bool dirty; /* inputs changed since the last run */
	uint64_t next_run_ns;
	uint64_t last_run_real_s;
	double last_run_s; /* duration */
	uint32_t g_nodes, g_edges, n_seeds, w, r, t_mix;
	int64_t verifier; /* vertex index or -1 */
	bool mixing_slow, bench_reached;
	uint32_t n_trusted, n_suspect, n_unknown;
	char last_error[512];
	uint64_t generation;
};

/* Gauges and counters for /metrics (any thread). */
static struct {
	uint64_t graph_nodes, graph_edges, seeds, suspects, trusted, marks;
	uint64_t runs, run_errors, run_us, last_run_ts, mixing_steps, mixing_slow, walk_length;
	uint64_t vouches, relations, dropped_edges, enabled, policed;
} stats;

static struct trust *g_trust;

/* ---------- keys and tokens ---------- */

static void key_node(uint8_t key[KEY_LEN], const uint8_t id[20])
{
	key[0] = KIND_NODE;
	memcpy(key + 1, id, 20);
}

static int key_addr(uint8_t key[KEY_LEN], int family, const uint8_t addr[16])
{
	memset(key, 0, KEY_LEN);
	if (family == AF_INET) {
		key[0] = KIND_IPV4;
		memcpy(key + 1, addr, 4);
	} else if (family == AF_INET6) {
		/* an IPv4-mapped address is the IPv4 address: one client, one vertex */
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

		if (!memcmp(addr, mapped, 12)) {
			key[0] = KIND_IPV4;
			memcpy(key + 1, addr + 12, 4);
		} else {
			key[0] = KIND_IPV6;
			memcpy(key + 1, addr, 16);
		}
	} else {
		return -EINVAL;
	}
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int parse_hex_id(const char *s, size_t n, uint8_t id[20])
{
	if (n != 40)
		return -EINVAL;
	for (size_t i = 0; i < 20; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		id[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* A token of n bytes: 40 hex digits (node id) or an IPv4/IPv6 address. */
static int parse_token(const char *s, size_t n, uint8_t key[KEY_LEN])
{
	char buf[INET6_ADDRSTRLEN + 1];
	uint8_t a[16];

	if (n == 40) {
		uint8_t id[20];

		if (parse_hex_id(s, n, id) == 0) {
			key_node(key, id);
			return 0;
		}
	}
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = 0;
	if (inet_pton(AF_INET, buf, a) == 1)
		return key_addr(key, AF_INET, a);
	if (inet_pton(AF_INET6, buf, a) == 1)
		return key_addr(key, AF_INET6, a);
	return -EINVAL;
}

static void key_str(const uint8_t key[KEY_LEN], char *out, size_t n)
{
	if (key[0] == KIND_NODE) {
		for (int i = 0; i < 20 && 2 * i + 2 < (int)n; i++)
			snprintf(out + 2 * i, 3, "%02x", key[1 + i]);
	} else if (!inet_ntop(key[0] == KIND_IPV4 ? AF_INET : AF_INET6, key + 1, out,
			      (socklen_t)n)) {
		snprintf(out, n, "?");
	}
}

/* ---------- vertex index ---------- */

static uint64_t key_hash(const uint8_t key[KEY_LEN])
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a, then a final mix */

	for (int i = 0; i < KEY_LEN; i++)
		h = (h ^ key[i]) * 1099511628211ull;
	h ^= h >> 29;
	return h * 0xbf58476d1ce4e5b9ull;
}

static int64_t vert_find(const struct trust *t, const uint8_t key[KEY_LEN])
{
	if (!t->n_slot)
		return -ENOENT;
	for (uint64_t i = key_hash(key) & (t->n_slot - 1);; i = (i + 1) & (t->n_slot - 1)) {
		uint32_t s = t->slot[i];

		if (!s)
			return -ENOENT;
		if (!memcmp(t->v[s - 1].key, key, KEY_LEN))
			return s - 1;
	}
}

static int rehash(struct trust *t, uint32_t n_slot)
{
	uint32_t *ns = calloc(n_slot, sizeof(*ns));

	if (!ns)
		return -ENOMEM;
	for (uint32_t v = 0; v < t->n_v; v++) {
		uint64_t i = key_hash(t->v[v].key) & (n_slot - 1);

		while (ns[i])
			i = (i + 1) & (n_slot - 1);
		ns[i] = v + 1;
	}
	free(t->slot);
	t->slot = ns;
	t->n_slot = n_slot;
	return 0;
}

/* Index of key, added (unknown, unmarked) when new. */
static int64_t vert_get(struct trust *t, const uint8_t key[KEY_LEN])
{
	int64_t v = vert_find(t, key);

	if (v >= 0)
		return v;
	if (t->n_v >= SYBIL_MAX_NODES)
		return -E2BIG;
	if (t->n_v == t->cap_v) {
		uint32_t nc = t->cap_v ? 2 * t->cap_v : 256;
		struct vert *nv = realloc(t->v, (size_t)nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		t->v = nv;
		t->cap_v = nc;
	}
	if ((uint64_t)(t->n_v + 1) * 2 > t->n_slot &&
	    rehash(t, t->n_slot ? 2 * t->n_slot : 512) < 0)
		return -ENOMEM;
	memset(&t->v[t->n_v], 0, sizeof(t->v[0]));
	memcpy(t->v[t->n_v].key, key, KEY_LEN);
	t->v[t->n_v].score = -1;
	t->n_v++;
	{
		uint64_t i = key_hash(key) & (t->n_slot - 1);

		while (t->slot[i])
			i = (i + 1) & (t->n_slot - 1);
		t->slot[i] = t->n_v;
	}
	return t->n_v - 1;
}

/* ---------- dynamic edges ---------- */

static bool eset_insert(struct trust *t, uint64_t e)
{
	if ((uint64_t)(t->n_dyn + 1) * 2 > t->n_eset) {
		uint32_t n = t->n_eset ? 2 * t->n_eset : 1024;
		uint64_t *ns = calloc(n, sizeof(*ns));

		if (!ns)
			return false;
		for (uint32_t i = 0; i < t->n_eset; i++) {
			uint64_t x = t->eset[i], j;

			if (!x)
				continue;
			for (j = (x * 0x9e3779b97f4a7c15ull) >> 40 & (n - 1); ns[j];
			     j = (j + 1) & (n - 1))
				;
			ns[j] = x;
		}
		free(t->eset);
		t->eset = ns;
		t->n_eset = n;
	}
	for (uint64_t j = ((e + 1) * 0x9e3779b97f4a7c15ull) >> 40 & (t->n_eset - 1);;
	     j = (j + 1) & (t->n_eset - 1)) {
		if (t->eset[j] == e + 1)
			return false;
		if (!t->eset[j]) {
			t->eset[j] = e + 1;
			return true;
		}
	}
}

/* 0 added, 1 already known, negative errno. */
static int dyn_add(struct trust *t, const uint8_t ka[KEY_LEN], const uint8_t kb[KEY_LEN])
{
	int64_t a, b;
	uint64_t e;

	if (!memcmp(ka, kb, KEY_LEN))
		return -EINVAL;
	a = vert_find(t, ka);
	b = vert_find(t, kb);
	if (a >= 0 && b >= 0) {
		e = a < b ? (uint64_t)a << 32 | (uint64_t)b : (uint64_t)b << 32 | (uint64_t)a;
		for (uint64_t j = ((e + 1) * 0x9e3779b97f4a7c15ull) >> 40 & (t->n_eset - 1);
		     t->n_eset && t->eset[j]; j = (j + 1) & (t->n_eset - 1))
			if (t->eset[j] == e + 1)
				return 1;
	}
	if (t->n_dyn >= t->cfg.max_dynamic_edges) {
		ctl_ctr_inc(&stats.dropped_edges);
		return -ENOSPC;
	}
	a = vert_get(t, ka);
	b = a >= 0 ? vert_get(t, kb) : a;
	if (b < 0)
		return (int)b;
	e = a < b ? (uint64_t)a << 32 | (uint64_t)b : (uint64_t)b << 32 | (uint64_t)a;
	if (t->n_dyn % 1024 == 0) {
		struct sybil_edge *nd = realloc(t->dyn, ((size_t)t->n_dyn + 1024) * sizeof(*nd));

		if (!nd)
			return -ENOMEM;
		t->dyn = nd;
	}
	if (!eset_insert(t, e))
		return 1;
	t->dyn[t->n_dyn].a = (uint64_t)a;
	t->dyn[t->n_dyn].b = (uint64_t)b;
	t->n_dyn++;
	t->dirty = true;
	return 0;
}

/* ---------- the operator's file ---------- */

static size_t span_token(const char *p, const char *end)
{
	size_t n = 0;

	while (p + n < end && p[n] != ' ' && p[n] != '\t' && p[n] != '\r' && p[n] != ',')
		n++;
	return n;
}

static const char *skip_blanks(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == ','))
		p++;
	return p;
}

/* Parses the file's text: `A B` edges, `seed X`, `suspect X`, `trust X`, # comments.
 * Edges go to el as vertex indices. -EINVAL with "line N: cause" in err. */
static int parse_file(struct trust *t, const char *buf, size_t len, struct sybil_edgelist *el,
		      char *err, size_t errlen)
{
	const char *p = buf, *end = buf + len;
	unsigned line = 0;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *q, *tok[3];
		size_t tl[3];
		int nt = 0;

		if (!eol)
			eol = end;
		line++;
		q = skip_blanks(p, eol);
		if (q < eol && *q == '#')
			q = eol;
		while (q < eol && nt < 3) {
			tok[nt] = q;
			tl[nt] = span_token(q, eol);
			q = skip_blanks(q + tl[nt], eol);
			nt++;
		}
		if (q < eol || nt == 1 || nt == 3) {
			snprintf(err, errlen,
				 "line %u: expected `A B`, `seed X`, `suspect X` or "
				 "`trust X`",
				 line);
			return -EINVAL;
		}
		if (nt == 2) {
			uint8_t ka[KEY_LEN], kb[KEY_LEN];
			int64_t a, b;
			int kw = 0;

			if (tl[0] == 4 && !memcmp(tok[0], "seed", 4))
				kw = 1;
			else if (tl[0] == 7 && !memcmp(tok[0], "suspect", 7))
				kw = 2;
			else if (tl[0] == 5 && !memcmp(tok[0], "trust", 5))
				kw = 3;
			if (parse_token(tok[1], tl[1], kb) < 0 ||
			    (!kw && parse_token(tok[0], tl[0], ka) < 0)) {
				snprintf(err, errlen,
					 "line %u: not a 40-hex node id or an IP address", line);
				return -EINVAL;
			}
			b = vert_get(t, kb);
			if (b < 0)
				return (int)b;
			if (kw == 1) {
				t->v[b].file_seed = true;
			} else if (kw) {
				t->v[b].file_mark = kw == 2 ? CTL_TRUST_SUSPECT : CTL_TRUST_TRUSTED;
			} else {
				int rc;

				a = vert_get(t, ka);
				if (a < 0)
					return (int)a;
				rc = sybil_edgelist_add(el, (uint64_t)a, (uint64_t)b);
				if (rc < 0) {
					snprintf(err, errlen, "line %u: too many edges", line);
					return rc;
				}
			}
		}
		p = eol + 1;
	}
	return 0;
}

/* Reads the whole (gzip or plain) file. */
static int read_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	gzFile f = gzopen(path, "rb");
	size_t cap = 1 << 16, n = 0;
	char *buf;

	if (!f) {
		snprintf(err, errlen, "%s: cannot open", path);
		return -ENOENT;
	}
	buf = malloc(cap);
	for (;;) {
		int got;

		if (!buf) {
			gzclose(f);
			return -ENOMEM;
		}
		if (n == cap) {
			char *nb = cap >= FILE_MAX_BYTES ? NULL : realloc(buf, cap * 2);

			if (!nb) {
				free(buf);
				gzclose(f);
				snprintf(err, errlen, "%s: too large", path);
				return -E2BIG;
			}
			buf = nb;
			cap *= 2;
		}
		got = gzread(f, buf + n, (unsigned)(cap - n));
		if (got < 0) {
			free(buf);
			gzclose(f);
			snprintf(err, errlen, "%s: read error (corrupt gzip?)", path);
			return -EIO;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	gzclose(f);
	*out = buf;
	*len = n;
	return 0;
}

static int load_file(struct trust *t, struct sybil_edgelist *el)
{
	char err[SN_CONFIG_PATH_LEN + SYBIL_ERR_LEN + 64] = "";
	char *buf = NULL;
	size_t len = 0;
	int rc;

	for (uint32_t v = 0; v < t->n_v; v++) {
		t->v[v].file_seed = false;
		t->v[v].file_mark = MARK_NONE;
	}
	if (!t->cfg.file[0])
		return 0;
	rc = read_file(t->cfg.file, &buf, &len, err, sizeof(err));
	if (rc == 0) {
		char perr[SYBIL_ERR_LEN];

		rc = parse_file(t, buf, len, el, perr, sizeof(perr));
		if (rc < 0)
			snprintf(err, sizeof(err), "%s: %s", t->cfg.file, perr);
		free(buf);
	}
	if (rc < 0) {
		SN_WARN("trust: load_file: %s (%d)", err, rc);
		snprintf(t->last_error, sizeof(t->last_error), "%s", err);
	}
	return rc;
}

/* sybil.seeds: tokens separated by blanks or commas. */
static int mark_cfg_seeds(struct trust *t)
{
	const char *p = t->cfg.seeds, *end = p + strlen(p);

	for (uint32_t v = 0; v < t->n_v; v++)
		t->v[v].cfg_seed = false;
	for (p = skip_blanks(p, end); p < end;) {
		size_t n = span_token(p, end);
		uint8_t key[KEY_LEN];
		int64_t v;

		if (parse_token(p, n, key) < 0) {
			SN_WARN("trust: mark_cfg_seeds: sybil.seeds: '%.*s' is not a node id or "
				"address",
				(int)n, p);
		} else if ((v = vert_get(t, key)) >= 0) {
			t->v[v].cfg_seed = true;
		}
		p = skip_blanks(p + n, end);
	}
	return 0;
}

/* ---------- the run ---------- */

static uint8_t effective_mark(const struct vert *v)
{
	return v->op_mark ? v->op_mark : v->file_mark;
}

static void police(int family, const uint8_t *addr, double score, const char *why);

static double log2n(uint32_t n)
{
	return n > 1 ? log2((double)n) : 1.0;
}

static int cmp_desc(const void *a, const void *b, const double *score)
{
	double x = score[*(const uint32_t *)a], y = score[*(const uint32_t *)b];

	return x < y ? 1 : x > y ? -1 : (int)(*(const uint32_t *)a > *(const uint32_t *)b) * 2 - 1;
}

static const double *g_sort_score;
static int cmp_rank(const void *a, const void *b)
{
	return cmp_desc(a, b, g_sort_score);
}

/* SybilLimit with `verifier` on g restricted to the nodes with comp[] == vc: fills ok[]. */
static int run_sybillimit(struct trust *t, const struct sybil_graph *g, uint32_t verifier,
			  const uint32_t *order, uint32_t n_order, bool *ok)
{
	struct sybillimit_params p;
	struct sybillimit_verifier ver;
	struct sybillimit_view view;
	uint32_t *hits = NULL;
	size_t cap_hits = 0;
	int rc;

	sybillimit_params_default(&p);
	p.r0 = t->cfg.r0;
	p.h = t->cfg.balance;
	p.w = t->cfg.walk_length;
	p.seed = 1;
	t->bench_reached = true;
	if (!p.w) {
		double rate[BENCH_W_MAX + 1];
		uint32_t k = n_order < BENCH_SAMPLE ? n_order : BENCH_SAMPLE, done = 0;
		int64_t w = sybillimit_estimate_w(g, &p, verifier, order, k, BENCH_TARGET,
						  BENCH_W_MAX, rate, &done);

		if (w < 0)
			return (int)w;
		if (w == 0) {
			t->bench_reached = false;
			w = sybillimit_plateau_w(rate, done, 0.01);
		}
		p.w = w ? (uint32_t)w : 1;
	}
	t->w = p.w;
	rc = sybillimit_verifier_init(&ver, g, &p, verifier);
	if (rc < 0)
		return rc;
	t->r = ver.r;
	rc = sybillimit_collect(&ver, NULL, &view);
	if (rc < 0) {
		sybillimit_verifier_free(&ver);
		return rc;
	}
	/* Registrations are sorted by node: find each suspect's run by binary search. In
	 * rank order (best first), so that the balance condition's limited room goes to the
	 * nodes most likely honest rather than to whoever comes first in id order. */
	for (uint32_t i = 0; i < n_order; i++) {
		uint32_t s = order[i];
		size_t lo = 0, hi = view.n_reg, nh = 0;

		if (s == verifier) {
			ok[s] = true;
			continue;
		}
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (view.reg[mid].node < s)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (size_t j = lo; j < view.n_reg && view.reg[j].node == s; j++) {
			if (nh == cap_hits) {
				size_t nc = cap_hits ? 2 * cap_hits : 64;
				uint32_t *nhp = realloc(hits, nc * sizeof(*nhp));

				if (!nhp) {
					rc = -ENOMEM;
					goto out;
				}
				hits = nhp;
				cap_hits = nc;
			}
			hits[nh++] = view.reg[j].tail;
		}
		ok[s] = sybillimit_admit(&ver, hits, nh) == 1;
	}
	rc = 0;
out:
	free(hits);
	sybillimit_view_free(&view);
	sybillimit_verifier_free(&ver);
	return rc;
}

static void set_verdicts(struct trust *t, const struct sybil_graph *g, const uint32_t *comp,
			 const uint8_t *seeded, const double *rank, const bool *ok, bool have_limit,
			 double two_m)
{
	double cut = t->cfg.suspect_below_pct / 100.0;

	for (uint32_t v = 0; v < t->n_v; v++) {
		t->v[v].in_graph = false;
		t->v[v].score = -1;
		t->v[v].limit_ok = false;
		t->v[v].degree = 0;
	}
	for (uint32_t i = 0; g && i < g->n; i++) {
		struct vert *x = &t->v[sybil_graph_id(g, i)];

		x->in_graph = true;
		x->degree = sybil_degree(g, i);
		if (!seeded[comp[i]])
			continue;
		x->score = fmin(1.0, rank[i] * two_m);
		x->limit_ok = have_limit && ok[i];
	}
	t->n_trusted = t->n_suspect = t->n_unknown = 0;
	for (uint32_t v = 0; v < t->n_v; v++) {
		struct vert *x = &t->v[v];
		uint8_t old = x->verdict, m = effective_mark(x);

		if (m) {
			x->verdict = m;
		} else if (x->score < 0) {
			x->verdict = CTL_TRUST_UNKNOWN;
		} else if (x->cfg_seed || x->file_seed) {
			x->verdict = CTL_TRUST_TRUSTED;
		} else {
			bool rank_bad = x->score < cut, limit_bad = have_limit && !x->limit_ok;
			bool bad;

			switch (t->cfg.decision) {
			case SN_SYBIL_DECIDE_EITHER:
				bad = rank_bad || limit_bad;
				break;
			case SN_SYBIL_DECIDE_SYBILLIMIT:
				bad = have_limit ? limit_bad : rank_bad;
				break;
			case SN_SYBIL_DECIDE_SYBILRANK:
				bad = rank_bad;
				break;
			default:
				bad = rank_bad && (limit_bad || !have_limit);
				break;
			}
			x->verdict = bad ? CTL_TRUST_SUSPECT : CTL_TRUST_TRUSTED;
		}
		t->n_trusted += x->verdict == CTL_TRUST_TRUSTED;
		t->n_suspect += x->verdict == CTL_TRUST_SUSPECT;
		t->n_unknown += x->verdict == CTL_TRUST_UNKNOWN;
		/* addresses again at every run: guard's mark expires after sybil.police_s */
		if (x->verdict == CTL_TRUST_SUSPECT &&
		    (old != CTL_TRUST_SUSPECT || x->key[0] != KIND_NODE)) {
			if (x->key[0] == KIND_NODE)
				police(0, x->key + 1, x->score, "sybil suspect node");
			else
				police(x->key[0] == KIND_IPV4 ? AF_INET : AF_INET6, x->key + 1,
				       x->score, "sybil suspect address");
		}
	}
}

static void publish_stats(struct trust *t)
{
	uint32_t marks = 0, seeds = 0;

	for (uint32_t v = 0; v < t->n_v; v++) {
		marks += effective_mark(&t->v[v]) != MARK_NONE;
		seeds += t->v[v].in_graph && (t->v[v].cfg_seed || t->v[v].file_seed);
	}
	ctl_ctr_set(&stats.graph_nodes, t->g_nodes);
	ctl_ctr_set(&stats.graph_edges, t->g_edges);
	ctl_ctr_set(&stats.seeds, seeds);
	ctl_ctr_set(&stats.suspects, t->n_suspect);
	ctl_ctr_set(&stats.trusted, t->n_trusted);
	ctl_ctr_set(&stats.marks, marks);
	ctl_ctr_set(&stats.mixing_steps, t->t_mix);
	ctl_ctr_set(&stats.mixing_slow, t->mixing_slow);
	ctl_ctr_set(&stats.walk_length, t->w);
}

/* Mixing of the walk on the region the verdicts call honest (seeded components without the
 * suspects: the whole graph always mixes slowly across a Sybil region's few attack edges,
 * which is what the methods exploit), from the seeds inside its largest component. The
 * guarantees need this region to mix in O(log n) steps. */
static void check_mixing(struct trust *t, const struct sybil_edgelist *el, bool have_limit)
{
	struct sybil_edgelist h = {0};
	struct sybil_graph *hg = NULL, *lcc = NULL;
	uint32_t src[MIX_SOURCES], ns = 0, t_max;
	double bound;

	uint32_t scored = 0, kept = 0;
	bool all;

	for (uint32_t v = 0; v < t->n_v; v++) {
		scored += t->v[v].score >= 0;
		kept += t->v[v].score >= 0 && t->v[v].verdict != CTL_TRUST_SUSPECT;
	}
	/* when most of the graph is suspect, the "trusted region" says nothing: either a huge
	 * Sybil region or a graph too slow for the seeds' trust to reach; measure all of it */
	all = (uint64_t)kept * 2 < scored;
	for (size_t i = 0; i < el->n; i++) {
		const struct vert *a = &t->v[el->e[i].a], *b = &t->v[el->e[i].b];

		if (a->score >= 0 && b->score >= 0 &&
		    (all || (a->verdict != CTL_TRUST_SUSPECT && b->verdict != CTL_TRUST_SUSPECT)) &&
		    sybil_edgelist_add(&h, el->e[i].a, el->e[i].b) < 0)
			goto out;
	}
	if (!h.n || sybil_graph_build(&h, &hg) < 0 || sybil_graph_lcc(hg, &lcc) < 0)
		goto out;
	t_max = (uint32_t)(4 * t->cfg.mixing_warn_factor * ceil(log2n(lcc->n)));
	if (t_max > 512)
		t_max = 512;
	bound = t->cfg.mixing_warn_factor * log2n(lcc->n);
	for (uint32_t i = 0; i < lcc->n && ns < MIX_SOURCES; i++) {
		const struct vert *x = &t->v[sybil_graph_id(lcc, i)];

		if (x->cfg_seed || x->file_seed)
			src[ns++] = i;
	}
	if (!ns || lcc->n <= 2 ||
	    sybil_mixing_tv(lcc, src, ns, t_max, MIX_EPS, NULL, &t->t_mix) < 0)
		goto out;
	t->mixing_slow = t->t_mix > bound || (have_limit && (t->w > bound || !t->bench_reached));
	if (t->mixing_slow)
		SN_WARN(
		    "trust: check_mixing: the trusted region mixes slowly (t_mix %u%s, SybilLimit "
		    "w %u%s, bound %.1f steps for %u nodes): SybilLimit accepts O(w) Sybils per "
		    "attack edge and honest nodes far from the seeds rank low (docs/sybil.md)",
		    t->t_mix, t->t_mix > t_max ? "+" : "", t->w,
		    t->bench_reached ? "" : ", benchmark target not reached", bound, lcc->n);
out:
	sybil_graph_free(lcc);
	sybil_graph_free(hg);
	sybil_edgelist_free(&h);
}

static int run(struct trust *t, uint64_t now)
{
	struct sybil_edgelist el = {0};
	struct sybil_graph *g = NULL;
	uint32_t *comp = NULL, *seeds = NULL, *order = NULL, n_seeds = 0, n_order = 0;
	uint8_t *seeded = NULL;
	double *rank = NULL, two_m = 0;
	bool *ok = NULL, have_limit = false;
	uint64_t t0 = ctl_mono_ns(), m_seeded = 0;
	int64_t ncomp = 0;
	int rc;

	t->dirty = false;
	t->next_run_ns = now + (uint64_t)t->cfg.interval_s * CTL_NS_PER_SEC;
	t->last_error[0] = 0;
	t->verifier = -1;
	t->w = t->r = t->t_mix = 0;
	t->mixing_slow = false;
	t->g_nodes = t->g_edges = 0;
	if (load_file(t, &el) < 0) {
		/* a bad file contributes nothing; dynamic edges and seeds still count */
		sybil_edgelist_free(&el);
		for (uint32_t v = 0; v < t->n_v; v++) {
			t->v[v].file_seed = false;
			t->v[v].file_mark = MARK_NONE;
		}
		ctl_ctr_inc(&stats.run_errors);
	}
	mark_cfg_seeds(t);
	for (uint32_t i = 0; i < t->n_dyn; i++)
		if ((rc = sybil_edgelist_add(&el, t->dyn[i].a, t->dyn[i].b)) < 0)
			goto verdicts;
	rc = 0;
	if (!el.n)
		goto verdicts;
	rc = sybil_graph_build(&el, &g);
	if (rc < 0)
		goto verdicts;
	t->g_nodes = g->n;
	t->g_edges = g->m;
	comp = calloc(g->n, sizeof(*comp));
	seeds = calloc(g->n, sizeof(*seeds));
	order = calloc(g->n, sizeof(*order));
	rank = calloc(g->n, sizeof(*rank));
	ok = calloc(g->n, sizeof(*ok));
	if (!comp || !seeds || !order || !rank || !ok) {
		rc = -ENOMEM;
		goto verdicts;
	}
	ncomp = sybil_graph_components(g, comp);
	if (ncomp < 0) {
		rc = (int)ncomp;
		goto verdicts;
	}
	seeded = calloc((size_t)ncomp, 1);
	if (!seeded) {
		rc = -ENOMEM;
		goto verdicts;
	}
	for (uint32_t i = 0; i < g->n; i++) {
		const struct vert *x = &t->v[sybil_graph_id(g, i)];

		if ((x->cfg_seed || x->file_seed) && sybil_degree(g, i)) {
			seeds[n_seeds++] = i;
			seeded[comp[i]] = 1;
		}
	}
	if (!n_seeds)
		goto verdicts; /* nothing to anchor trust: everyone unknown */
	for (uint32_t i = 0; i < g->n; i++)
		if (seeded[comp[i]]) {
			order[n_order++] = i;
			m_seeded += sybil_degree(g, i);
		}
	two_m = (double)m_seeded; /* sum of degrees = 2 * edges of the seeded components */
	/* the mean of iterations k and k + 1: early-terminated power iteration oscillates with
	 * period 2 on (near-)bipartite graphs such as a star of vouches, leaving every other
	 * hop with no trust at all */
	{
		uint32_t k = sybilrank_iterations(g->n);
		double *r2 = calloc(g->n, sizeof(*r2));

		rc = r2 ? sybilrank_run(g, seeds, n_seeds, k, rank) : -ENOMEM;
		if (rc == 0)
			rc = sybilrank_run(g, seeds, n_seeds, k + 1, r2);
		for (uint32_t i = 0; rc == 0 && i < g->n; i++)
			rank[i] = (rank[i] + r2[i]) / 2;
		free(r2);
		if (rc < 0)
			goto verdicts;
	}
	g_sort_score = rank;
	qsort(order, n_order, sizeof(*order), cmp_rank);

	/* verifier: this node when it is in the graph, else the best-connected seed */
	{
		uint8_t key[KEY_LEN];
		int64_t sv = -1, vi = -1;

		if (t->have_self) {
			key_node(key, t->self);
			sv = vert_find(t, key);
		}
		if (sv >= 0) {
			int64_t i = sybil_graph_index(g, (uint64_t)sv);

			if (i >= 0 && seeded[comp[i]] && sybil_degree(g, (uint32_t)i))
				vi = i;
		}
		for (uint32_t i = 0; sv >= 0 && vi < 0 && i < n_seeds; i++)
			if (vi < 0 || sybil_degree(g, seeds[i]) > sybil_degree(g, (uint32_t)vi))
				vi = seeds[i];
		if (vi < 0)
			for (uint32_t i = 0; i < n_seeds; i++)
				if (vi < 0 ||
				    sybil_degree(g, seeds[i]) > sybil_degree(g, (uint32_t)vi))
					vi = seeds[i];
		t->verifier = (int64_t)sybil_graph_id(g, (uint32_t)vi);
		/* the verifier's own component: routes never leave it */
		{
			uint32_t n_same = 0;

			for (uint32_t i = 0; i < n_order; i++)
				if (comp[order[i]] == comp[vi])
					order[n_same++] = order[i];
			rc = run_sybillimit(t, g, (uint32_t)vi, order, n_same, ok);
			if (rc < 0) {
				SN_WARN("trust: run: SybilLimit failed: %d", rc);
				rc = 0;
			} else {
				have_limit = true;
			}
		}
	}

verdicts:
	t->n_seeds = n_seeds;
	set_verdicts(t, seeded && rank && ok ? g : NULL, comp, seeded, rank, ok, have_limit, two_m);
	if (g && n_seeds && rc == 0)
		check_mixing(t, &el, have_limit);
	if (rc < 0) {
		ctl_ctr_inc(&stats.run_errors);
		if (!t->last_error[0])
			snprintf(t->last_error, sizeof(t->last_error), "%s", strerror(-rc));
	}
	t->last_run_s = (double)(ctl_mono_ns() - t0) / 1e9;
	t->last_run_real_s = ctl_real_ns() / CTL_NS_PER_SEC;
	t->generation++;
	ctl_ctr_inc(&stats.runs);
	ctl_ctr_set(&stats.run_us, (uint64_t)(t->last_run_s * 1e6));
	ctl_ctr_set(&stats.last_run_ts, t->last_run_real_s);
	publish_stats(t);
	SN_INFO("trust: run: %u nodes, %u edges, %u seeds: %u trusted, %u suspect, %u unknown "
		"(w %u, r %u, t_mix %u) in %.3f s",
		t->g_nodes, t->g_edges, n_seeds, t->n_trusted, t->n_suspect, t->n_unknown, t->w,
		t->r, t->t_mix, t->last_run_s);
	sybil_graph_free(g);
	sybil_edgelist_free(&el);
	free(comp);
	free(seeds);
	free(order);
	free(rank);
	free(ok);
	free(seeded);
	return rc;
}

/* ---------- policing hook ---------- */

/* Tells guard to police a new suspect harder. Node ids have no address of their own here:
 * DHT admission evicts them and hands their address to ctl_trust_police_addr. */
static void police(int family, const uint8_t *addr, double score, const char *why)
{
	char s[64];
	uint8_t k[KEY_LEN];

	if (family == 0) {
		key_node(k, addr);
	} else {
		uint8_t a[16] = {0};

		memcpy(a, addr, family == AF_INET ? 4 : 16);
		key_addr(k, family, a);
		ctl_trust_police_addr(family, a, why);
	}
	key_str(k, s, sizeof(s));
	SN_DEBUG("trust: police: %s %s (score %.3f)", why, s, score);
}

void ctl_trust_police_addr(int family, const uint8_t addr[16], const char *why)
{
	int rc;

	if (!g_trust || (family != AF_INET && family != AF_INET6))
		return;
	/* guard divides the source's limits by guard.suspect_factor for the period */
	rc = ctl_guard_suspect(family, addr, family == AF_INET ? 32 : 128, g_trust->cfg.police_s,
			       why);
	if (rc < 0) {
		SN_DEBUG("trust: ctl_trust_police_addr: guard refused: %d", rc);
		return;
	}
	ctl_ctr_inc(&stats.policed);
}

/* ---------- API ---------- */

static int64_t lookup(const uint8_t key[KEY_LEN])
{
	return g_trust ? vert_find(g_trust, key) : -ENODEV;
}

static int suspect_of(int64_t v)
{
	const struct trust *t = g_trust;

	if (!t)
		return -ENODEV;
	if (v >= 0 && t->v[v].verdict != CTL_TRUST_UNKNOWN)
		return t->v[v].verdict == CTL_TRUST_SUSPECT;
	if (t->cfg.unknown == SN_SYBIL_UNKNOWN_DENY)
		return 1;
	return -ENOENT;
}

int ctl_trust_suspect_node(const uint8_t node_id[20])
{
	uint8_t k[KEY_LEN];

	key_node(k, node_id);
	return suspect_of(lookup(k));
}

int ctl_trust_suspect_addr(int family, const uint8_t addr[16])
{
	uint8_t k[KEY_LEN];

	if (key_addr(k, family, addr) < 0)
		return -EINVAL;
	return suspect_of(lookup(k));
}

static double score_of(int64_t v)
{
	if (!g_trust)
		return -ENODEV;
	if (v < 0)
		return -ENOENT;
	return g_trust->v[v].score;
}

double ctl_trust_score_node(const uint8_t node_id[20])
{
	uint8_t k[KEY_LEN];

	key_node(k, node_id);
	return score_of(lookup(k));
}

double ctl_trust_score_addr(int family, const uint8_t addr[16])
{
	uint8_t k[KEY_LEN];

	if (key_addr(k, family, addr) < 0)
		return -EINVAL;
	return score_of(lookup(k));
}

enum ctl_trust_verdict ctl_trust_verdict_node(const uint8_t node_id[20], int family,
					      const uint8_t addr[16])
{
	const struct trust *t = g_trust;
	uint8_t k[KEY_LEN];
	int64_t a = -1, b;
	uint8_t va = CTL_TRUST_UNKNOWN, vb;

	if (!t)
		return CTL_TRUST_UNKNOWN;
	key_node(k, node_id);
	b = vert_find(t, k);
	vb = b >= 0 ? t->v[b].verdict : CTL_TRUST_UNKNOWN;
	if (family && key_addr(k, family, addr) == 0 && (a = vert_find(t, k)) >= 0)
		va = t->v[a].verdict;
	if (va == CTL_TRUST_SUSPECT || vb == CTL_TRUST_SUSPECT)
		return CTL_TRUST_SUSPECT;
	if (va == CTL_TRUST_TRUSTED || vb == CTL_TRUST_TRUSTED)
		return CTL_TRUST_TRUSTED;
	return t->cfg.unknown == SN_SYBIL_UNKNOWN_DENY ? CTL_TRUST_SUSPECT : CTL_TRUST_UNKNOWN;
}

uint64_t ctl_trust_generation(void)
{
	return g_trust ? g_trust->generation : 0;
}

void ctl_trust_set_self(const uint8_t node_id[20])
{
	if (!g_trust)
		return;
	memcpy(g_trust->self, node_id, 20);
	g_trust->have_self = true;
}

int ctl_trust_add_vouch(const uint8_t signer[20], const uint8_t vouched[20])
{
	uint8_t ka[KEY_LEN], kb[KEY_LEN];
	int rc;

	if (!g_trust)
		return -ENODEV;
	key_node(ka, signer);
	key_node(kb, vouched);
	rc = dyn_add(g_trust, ka, kb);
	if (rc == 0) {
		g_trust->n_vouch_edges++;
		ctl_ctr_inc(&stats.vouches);
	}
	return rc < 0 ? rc : 0;
}

int ctl_trust_parse_vouch(const uint8_t *data, uint32_t len, uint8_t vouched[20])
{
	const char *p = (const char *)data;

	/* `dhtnode` puts one word, so "vouch:<hex>" and a bare id are accepted too */
	if (len >= 6 && (!memcmp(p, "vouch ", 6) || !memcmp(p, "vouch:", 6))) {
		p += 6;
		len -= 6;
	}
	while (len && (p[len - 1] == '\n' || p[len - 1] == '\r' || p[len - 1] == ' ' ||
		       p[len - 1] == '\t'))
		len--;
	return parse_hex_id(p, len, vouched);
}

int ctl_trust_observe_relay(int fa, const uint8_t a[16], int fb, const uint8_t b[16])
{
	uint8_t ka[KEY_LEN], kb[KEY_LEN];
	int rc;

	if (!g_trust)
		return -ENODEV;
	if (key_addr(ka, fa, a) < 0 || key_addr(kb, fb, b) < 0)
		return -EINVAL;
	rc = dyn_add(g_trust, ka, kb);
	if (rc == 0) {
		g_trust->n_relay_edges++;
		ctl_ctr_inc(&stats.relations);
	}
	return rc < 0 ? rc : 0;
}

int ctl_trust_mark(const char *token, enum ctl_trust_verdict v)
{
	struct trust *t = g_trust;
	uint8_t key[KEY_LEN];
	int64_t x;
	uint8_t old;

	if (!t)
		return -ENODEV;
	if (!token || parse_token(token, strlen(token), key) < 0)
		return -EINVAL;
	x = vert_get(t, key);
	if (x < 0)
		return (int)x;
	t->v[x].op_mark = (uint8_t)v;
	old = t->v[x].verdict;
	/* marks act at once; the methods themselves rerun at the next interval */
	if (v != CTL_TRUST_UNKNOWN)
		t->v[x].verdict = (uint8_t)v;
	else if (t->v[x].file_mark)
		t->v[x].verdict = t->v[x].file_mark;
	t->generation++;
	if (t->v[x].verdict == CTL_TRUST_SUSPECT && old != CTL_TRUST_SUSPECT) {
		t->n_suspect++;
		police(key[0] == KIND_NODE   ? 0
		       : key[0] == KIND_IPV4 ? AF_INET
					     : AF_INET6,
		       key + 1, t->v[x].score, "operator mark");
	}
	t->dirty = true;
	t->next_run_ns = 0;
	publish_stats(t);
	SN_INFO("trust: mark: %s %s", token,
		v == CTL_TRUST_SUSPECT	 ? "suspect"
		: v == CTL_TRUST_TRUSTED ? "trusted"
					 : "unmarked");
	return 0;
}

int ctl_trust_init(const struct sn_config *cfg)
{
	struct trust *t;

	ctl_trust_fini();
	ctl_ctr_set(&stats.enabled, 0);
	if (!cfg->sybil.enabled)
		return 0;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cfg = cfg->sybil;
	t->verifier = -1;
	t->next_run_ns = 0; /* first run at the first tick */
	g_trust = t;
	ctl_ctr_set(&stats.enabled, 1);
	SN_INFO("trust: graph file %s, seeds '%s', every %u s, unknown %s",
		t->cfg.file[0] ? t->cfg.file : "(none)", t->cfg.seeds, t->cfg.interval_s,
		t->cfg.unknown == SN_SYBIL_UNKNOWN_DENY ? "deny" : "allow");
	return 0;
}

int ctl_trust_reconfigure(const struct sn_config *cfg)
{
	if (!g_trust || !cfg->sybil.enabled)
		return ctl_trust_init(cfg);
	g_trust->cfg = cfg->sybil;
	g_trust->next_run_ns = 0;
	return 0;
}

static void reload_commit(void *arg, const struct sn_config *old, const struct sn_config *new,
			  struct ctl_reload_report *rep)
{
	(void)arg;
	if (!memcmp(&old->sybil, &new->sybil, sizeof(old->sybil)))
		return;
	ctl_trust_reconfigure(new);
	ctl_reload_change(rep, "sybil");
}

int ctl_trust_reload_register(struct ctl_reload *r)
{
	struct ctl_reload_hook h = {.name = "trust", .section = "sybil", .commit = reload_commit};

	return ctl_reload_register(r, &h);
}

void ctl_trust_fini(void)
{
	struct trust *t = g_trust;

	if (!t)
		return;
	g_trust = NULL;
	free(t->v);
	free(t->slot);
	free(t->dyn);
	free(t->eset);
	free(t);
	ctl_ctr_set(&stats.enabled, 0);
}

void ctl_trust_tick(uint64_t now_ns)
{
	if (g_trust && now_ns >= g_trust->next_run_ns)
		run(g_trust, now_ns);
}

int ctl_trust_run(uint64_t now_ns)
{
	return g_trust ? run(g_trust, now_ns) : -ENODEV;
}

/* ---------- admin ---------- */

static const char *verdict_name(uint8_t v)
{
	return v == CTL_TRUST_SUSPECT ? "suspect" : v == CTL_TRUST_TRUSTED ? "trusted" : "unknown";
}

static int not_running(bool json, struct ctl_buf *out)
{
	if (json)
		ctl_buf_puts(out, "{\"error\":\"Sybil detection is off (sybil.enabled)\","
				  "\"errno\":-19}\n");
	else
		ctl_buf_puts(out, "error: Sybil detection is off (sybil.enabled)\n");
	return -ENODEV;
}

static int cmp_rows(const void *a, const void *b)
{
	const struct vert *x = &g_trust->v[*(const uint32_t *)a];
	const struct vert *y = &g_trust->v[*(const uint32_t *)b];

	/* suspects first, then trusted, then unknown; lowest score first within */
	static const int rank[] = {
	    [CTL_TRUST_SUSPECT] = 0, [CTL_TRUST_TRUSTED] = 1, [CTL_TRUST_UNKNOWN] = 2};

	if (rank[x->verdict] != rank[y->verdict])
		return rank[x->verdict] - rank[y->verdict];
	if (x->score != y->score)
		return x->score < y->score ? -1 : 1;
	return memcmp(x->key, y->key, KEY_LEN);
}

int ctl_trust_cmd_sybil(struct ctl_admin_ctx *ctx, int argc, char **argv, bool json,
			struct ctl_buf *out)
{
	struct trust *t = g_trust;
	uint32_t *rows, n = 0;
	char vk[64] = "-";
	uint64_t now_s = ctl_real_ns() / CTL_NS_PER_SEC;
	long age = -1;

	(void)ctx;
	if (!t)
		return not_running(json, out);
	if (argc > 1 && !strcmp(argv[1], "--run"))
		ctl_trust_run(ctl_mono_ns());
	if (t->last_run_real_s)
		age = (long)(now_s - t->last_run_real_s);
	if (t->verifier >= 0)
		key_str(t->v[t->verifier].key, vk, sizeof(vk));
	rows = malloc(((size_t)t->n_v + 1) * sizeof(*rows));
	if (!rows) {
		ctl_buf_puts(out, json ? "{\"error\":\"out of memory\",\"errno\":-12}\n"
				       : "error: out of memory\n");
		return -ENOMEM;
	}
	for (uint32_t v = 0; v < t->n_v; v++)
		if (t->v[v].in_graph || effective_mark(&t->v[v]) || t->v[v].verdict)
			rows[n++] = v;
	qsort(rows, n, sizeof(*rows), cmp_rows);
	if (json) {
		struct ctl_json j;

		ctl_json_init(&j, out);
		ctl_json_obj_begin(&j);
		ctl_json_kv_str(&j, "file", t->cfg.file);
		ctl_json_kv_u64(&j, "nodes", t->g_nodes);
		ctl_json_kv_u64(&j, "edges", t->g_edges);
		ctl_json_kv_u64(&j, "vouch_edges", t->n_vouch_edges);
		ctl_json_kv_u64(&j, "relay_edges", t->n_relay_edges);
		ctl_json_kv_u64(&j, "seeds", t->n_seeds);
		ctl_json_kv_str(&j, "verifier", vk);
		ctl_json_kv_u64(&j, "walk_length", t->w);
		ctl_json_kv_u64(&j, "instances", t->r);
		ctl_json_kv_bool(&j, "benchmark_reached", t->bench_reached);
		ctl_json_kv_u64(&j, "mixing_steps", t->t_mix);
		ctl_json_kv_bool(&j, "mixing_slow", t->mixing_slow);
		ctl_json_kv_i64(&j, "last_run_age_s", age);
		ctl_json_kv_double(&j, "last_run_s", t->last_run_s);
		ctl_json_kv_str(&j, "last_error", t->last_error);
		ctl_json_kv_u64(&j, "trusted", t->n_trusted);
		ctl_json_kv_u64(&j, "suspect", t->n_suspect);
		ctl_json_kv_u64(&j, "unknown", t->n_unknown);
		ctl_json_kv_str(&j, "unknown_policy",
				t->cfg.unknown == SN_SYBIL_UNKNOWN_DENY ? "deny" : "allow");
		ctl_json_key(&j, "nodes_list");
		ctl_json_arr_begin(&j);
		for (uint32_t i = 0; i < n && i < LIST_ROWS_JSON; i++) {
			const struct vert *x = &t->v[rows[i]];
			char s[64];
			uint8_t m = effective_mark(x);

			key_str(x->key, s, sizeof(s));
			ctl_json_obj_begin(&j);
			ctl_json_kv_str(&j, "id", s);
			ctl_json_kv_str(&j, "kind", x->key[0] == KIND_NODE ? "node" : "address");
			ctl_json_kv_str(&j, "verdict", verdict_name(x->verdict));
			ctl_json_kv_double(&j, "score", x->score);
			ctl_json_kv_bool(&j, "sybillimit_accepted", x->limit_ok);
			ctl_json_kv_u64(&j, "degree", x->degree);
			ctl_json_kv_bool(&j, "seed", x->cfg_seed || x->file_seed);
			ctl_json_kv_str(&j, "mark", m ? verdict_name(m) : "");
			ctl_json_obj_end(&j);
		}
		ctl_json_arr_end(&j);
		ctl_json_obj_end(&j);
		ctl_buf_putc(out, '\n');
		free(rows);
		return ctl_json_finish(&j);
	}
	ctl_buf_printf(out,
		       "graph: %u nodes, %u edges (%" PRIu64 " vouch, %" PRIu64
		       " relay edges), %u seeds, file %s\n",
		       t->g_nodes, t->g_edges, t->n_vouch_edges, t->n_relay_edges, t->n_seeds,
		       t->cfg.file[0] ? t->cfg.file : "(none)");
	ctl_buf_printf(
	    out, "last run: %ld s ago, %.3f s; verifier %s, w %u%s, r %u; mixing %u steps%s\n", age,
	    t->last_run_s, vk, t->w, t->bench_reached ? "" : " (target missed)", t->r, t->t_mix,
	    t->mixing_slow ? " (TOO SLOW: see docs/sybil.md)" : "");
	if (t->last_error[0])
		ctl_buf_printf(out, "last error: %s\n", t->last_error);
	ctl_buf_printf(out, "decisions: %u trusted, %u suspect, %u unknown (unknown: %s)\n",
		       t->n_trusted, t->n_suspect, t->n_unknown,
		       t->cfg.unknown == SN_SYBIL_UNKNOWN_DENY ? "deny" : "allow");
	if (n) {
		struct ctl_table tb;

		ctl_table_init(&tb, "ID VERDICT SCORE SYBILLIMIT DEGREE SEED MARK", "llrlrll");
		for (uint32_t i = 0; i < n && i < LIST_ROWS_TEXT; i++) {
			const struct vert *x = &t->v[rows[i]];
			char s[64];
			uint8_t m = effective_mark(x);

			key_str(x->key, s, sizeof(s));
			ctl_table_cell(&tb, "%s", s);
			ctl_table_cell(&tb, "%s", verdict_name(x->verdict));
			if (x->score >= 0)
				ctl_table_cell(&tb, "%.3f", x->score);
			else
				ctl_table_cell(&tb, "-");
			ctl_table_cell(&tb, "%s",
				       x->score < 0  ? "-"
				       : x->limit_ok ? "accepted"
						     : "rejected");
			ctl_table_cell(&tb, "%u", x->degree);
			ctl_table_cell(&tb, "%s", x->cfg_seed || x->file_seed ? "yes" : "");
			ctl_table_cell(&tb, "%s", m ? verdict_name(m) : "");
		}
		ctl_table_render(&tb, out);
		ctl_table_free(&tb);
		if (n > LIST_ROWS_TEXT)
			ctl_buf_printf(out, "(%u more; --json lists them all)\n",
				       n - LIST_ROWS_TEXT);
	}
	free(rows);
	return 0;
}

static int cmd_mark(int argc, char **argv, bool json, struct ctl_buf *out, enum ctl_trust_verdict v)
{
	int rc;

	if (!g_trust)
		return not_running(json, out);
	if (argc < 2) {
		ctl_buf_puts(out, json ? "{\"error\":\"usage: ID|ADDR [clear]\",\"errno\":-22}\n"
				       : "error: usage: ID|ADDR [clear]\n");
		return -EINVAL;
	}
	if (argc > 2 && !strcmp(argv[2], "clear"))
		v = CTL_TRUST_UNKNOWN;
	rc = ctl_trust_mark(argv[1], v);
	if (rc < 0) {
		if (json)
			ctl_buf_printf(out,
				       "{\"error\":\"not a 40-hex node id or an IP address\","
				       "\"errno\":%d}\n",
				       rc);
		else
			ctl_buf_puts(out, "error: not a 40-hex node id or an IP address\n");
		return rc;
	}
	if (json) {
		struct ctl_json j;

		ctl_json_init(&j, out);
		ctl_json_obj_begin(&j);
		ctl_json_kv_str(&j, "id", argv[1]);
		ctl_json_kv_str(&j, "mark", v ? verdict_name((uint8_t)v) : "");
		ctl_json_obj_end(&j);
		ctl_buf_putc(out, '\n');
		return ctl_json_finish(&j);
	}
	ctl_buf_printf(out, "%s: %s\n", argv[1], v ? verdict_name((uint8_t)v) : "mark cleared");
	return 0;
}

int ctl_trust_cmd_suspect(struct ctl_admin_ctx *ctx, int argc, char **argv, bool json,
			  struct ctl_buf *out)
{
	(void)ctx;
	return cmd_mark(argc, argv, json, out, CTL_TRUST_SUSPECT);
}

int ctl_trust_cmd_trust(struct ctl_admin_ctx *ctx, int argc, char **argv, bool json,
			struct ctl_buf *out)
{
	(void)ctx;
	return cmd_mark(argc, argv, json, out, CTL_TRUST_TRUSTED);
}

/* ---------- metrics ---------- */

static void one(struct ctl_buf *b, const char *name, const char *type, const char *help,
		const uint64_t *v)
{
	ctl_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help, name, type,
		       name, ctl_ctr_get(v));
}

void ctl_trust_metrics_render(struct ctl_buf *b)
{
	one(b, "supernode_sybil_enabled", "gauge", "1 when the trust graph is kept (sybil.enabled)",
	    &stats.enabled);
	one(b, "supernode_sybil_graph_nodes", "gauge", "Nodes (ids and addresses) with an edge",
	    &stats.graph_nodes);
	one(b, "supernode_sybil_graph_edges", "gauge", "Edges of the trust graph",
	    &stats.graph_edges);
	one(b, "supernode_sybil_seeds", "gauge", "SybilRank seeds in the graph", &stats.seeds);
	one(b, "supernode_sybil_suspects", "gauge", "Ids and addresses whose verdict is suspect",
	    &stats.suspects);
	one(b, "supernode_sybil_trusted", "gauge", "Ids and addresses whose verdict is trusted",
	    &stats.trusted);
	one(b, "supernode_sybil_marks", "gauge", "Operator marks (file and supernodectl)",
	    &stats.marks);
	one(b, "supernode_sybil_runs_total", "counter", "Runs of SybilLimit and SybilRank",
	    &stats.runs);
	one(b, "supernode_sybil_run_errors_total", "counter",
	    "Runs that failed (unreadable edge list, out of memory)", &stats.run_errors);
	ctl_buf_printf(b,
		       "# HELP supernode_sybil_last_run_seconds Duration of the last run\n"
		       "# TYPE supernode_sybil_last_run_seconds gauge\n"
		       "supernode_sybil_last_run_seconds %.6f\n",
		       (double)ctl_ctr_get(&stats.run_us) / 1e6);
	one(b, "supernode_sybil_last_run_timestamp_seconds", "gauge",
	    "Wall-clock time of the last run (Unix seconds)", &stats.last_run_ts);
	one(b, "supernode_sybil_mixing_steps", "gauge",
	    "Random-walk steps to come within 0.25 of stationarity from the seeds (t_mix)",
	    &stats.mixing_steps);
	one(b, "supernode_sybil_mixing_slow", "gauge",
	    "1 when t_mix or SybilLimit's w exceed sybil.mixing_warn_factor * log2(nodes)",
	    &stats.mixing_slow);
	one(b, "supernode_sybil_walk_length", "gauge", "SybilLimit route length w of the last run",
	    &stats.walk_length);
	one(b, "supernode_sybil_vouches_total", "counter", "Signed vouch edges added",
	    &stats.vouches);
	one(b, "supernode_sybil_relations_total", "counter",
	    "Observed relay relations added as edges", &stats.relations);
	one(b, "supernode_sybil_policed_total", "counter",
	    "Suspect addresses handed to guard to be policed harder", &stats.policed);
	one(b, "supernode_sybil_dropped_edges_total", "counter",
	    "Vouch and relay edges dropped at sybil.max_dynamic_edges", &stats.dropped_edges);
}
