/* sybil.c: trust graphs, edge-list loading, SybilLimit and SybilRank (see sybil.h). */
#include "sybil.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---------- randomness ---------- */

#define GOLDEN UINT64_C(0x9e3779b97f4a7c15)

static inline uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

uint64_t sybil_splitmix64(uint64_t *state)
{
	*state += GOLDEN;
	return mix64(*state);
}

void sybil_rng_seed(struct sybil_rng *rng, uint64_t seed)
{
	uint64_t st = seed;
	int i;

	for (i = 0; i < 4; i++)
		rng->s[i] = sybil_splitmix64(&st);
	if (!(rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3]))
		rng->s[0] = GOLDEN;
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t sybil_rng_next(struct sybil_rng *rng)
{
	uint64_t *s = rng->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t sybil_rng_below(struct sybil_rng *rng, uint64_t n)
{
	unsigned __int128 p;
	uint64_t lo, thresh;

	if (n <= 1)
		return 0;
	p = (unsigned __int128)sybil_rng_next(rng) * n;
	lo = (uint64_t)p;
	if (lo < n) {
		thresh = -n % n;
		while (lo < thresh) {
			p = (unsigned __int128)sybil_rng_next(rng) * n;
			lo = (uint64_t)p;
		}
	}
	return (uint64_t)(p >> 64);
}

double sybil_rng_double(struct sybil_rng *rng)
{
	return (double)(sybil_rng_next(rng) >> 11) * 0x1.0p-53;
}

/* ---------- edge lists ---------- */

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int sybil_edgelist_add(struct sybil_edgelist *el, uint64_t a, uint64_t b)
{
	if (a >= SYBIL_MAX_ID || b >= SYBIL_MAX_ID || el->n >= SYBIL_MAX_EDGES)
		return -E2BIG;
	if (el->n == el->cap) {
		size_t cap = el->cap ? el->cap * 2 : 1024;
		struct sybil_edge *e;

		if (cap > SYBIL_MAX_EDGES)
			cap = SYBIL_MAX_EDGES;
		e = realloc(el->e, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		el->e = e;
		el->cap = cap;
	}
	el->e[el->n].a = a;
	el->e[el->n].b = b;
	el->n++;
	return 0;
}

void sybil_edgelist_free(struct sybil_edgelist *el)
{
	free(el->e);
	memset(el, 0, sizeof(*el));
}

/* Undoes a refused parse: drops its edges, and its buffer when the list had none. */
static void restore(struct sybil_edgelist *el, size_t n0, bool had_buf)
{
	el->n = n0;
	if (!had_buf)
		sybil_edgelist_free(el);
}

static inline bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Reads one id at s[*i]; 0, or -EINVAL (no digit) / -E2BIG (too large). */
static int parse_id(const char *s, size_t len, size_t *i, uint64_t *out)
{
	uint64_t v = 0;
	size_t j = *i;

	if (j >= len || s[j] < '0' || s[j] > '9')
		return -EINVAL;
	while (j < len && s[j] >= '0' && s[j] <= '9') {
		unsigned dgt = (unsigned)(s[j] - '0');

		if (v > (SYBIL_MAX_ID - 1 - dgt) / 10)
			return -E2BIG;
		v = v * 10 + dgt;
		j++;
	}
	*i = j;
	*out = v;
	return 0;
}

/* One line without its '\n'. Returns 1 for an edge, 0 for a blank or comment line, or a
 * negative errno with *cause set. */
static int parse_line(const char *s, size_t len, uint64_t *a, uint64_t *b, const char **cause)
{
	size_t i = 0;
	int rc;

	if (memchr(s, '\0', len)) {
		*cause = "NUL byte";
		return -EINVAL;
	}
	if (len && s[len - 1] == '\r')
		len--;
	while (i < len && is_blank(s[i]))
		i++;
	if (i == len || s[i] == '#')
		return 0;
	rc = parse_id(s, len, &i, a);
	if (rc == 0) {
		if (i == len || !is_blank(s[i])) {
			*cause = i == len ? "expected two ids, found one"
					  : "expected a blank after the first id";
			return -EINVAL;
		}
		while (i < len && is_blank(s[i]))
			i++;
		rc = parse_id(s, len, &i, b);
	}
	if (rc == -E2BIG) {
		*cause = "id out of range (ids are 0 .. 2^63 - 1)";
		return rc;
	}
	if (rc) {
		*cause = "expected two non-negative decimal ids";
		return rc;
	}
	while (i < len && is_blank(s[i]))
		i++;
	if (i != len) {
		*cause = "unexpected text after the second id";
		return -EINVAL;
	}
	return 1;
}

/* Line-by-line parsing shared by the buffer and the file loader. */
struct line_parser {
	struct sybil_edgelist *el;
	uint64_t line; /* number of the line being parsed (1-based) */
	const char *cause;
	int rc;
};

static int feed_line(struct line_parser *lp, const char *s, size_t len, bool has_nl)
{
	uint64_t a, b;
	int rc;

	lp->line++;
	if (len + (has_nl ? 1 : 0) > SYBIL_MAX_LINE) {
		lp->cause = "line too long";
		return lp->rc = -E2BIG;
	}
	rc = parse_line(s, len, &a, &b, &lp->cause);
	if (rc <= 0)
		return lp->rc = rc;
	rc = sybil_edgelist_add(lp->el, a, b);
	if (rc == -E2BIG)
		lp->cause = "too many edges";
	else if (rc)
		lp->cause = "out of memory";
	return lp->rc = rc;
}

int sybil_edgelist_parse(const char *buf, size_t len, struct sybil_edgelist *el, char *err,
			 size_t errlen)
{
	struct line_parser lp = {.el = el};
	size_t n0 = el->n, pos = 0;
	bool had_buf = el->e != NULL;

	if (!buf && len)
		return -EINVAL;
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - (buf + pos)) : len - pos;

		if (feed_line(&lp, buf + pos, l, nl != NULL) < 0) {
			seterr(err, errlen, "line %llu: %s", (unsigned long long)lp.line, lp.cause);
			restore(el, n0, had_buf);
			return lp.rc;
		}
		pos += l + (nl ? 1 : 0);
	}
	return 0;
}

#define LOAD_CHUNK (64 * 1024)

int sybil_edgelist_load(const char *path, struct sybil_edgelist *el, char *err, size_t errlen)
{
	struct line_parser lp = {.el = el};
	size_t n0 = el->n, have = 0;
	bool had_buf = el->e != NULL;
	char *buf = NULL;
	gzFile f;
	int rc = 0, zerr;

	/* gzread rather than gzgets: gzgets cannot tell an embedded NUL from the end of a
	 * line, and strict parsing must refuse NUL bytes. */
	errno = 0;
	f = gzopen(path, "rb");
	if (!f) {
		rc = errno ? -errno : -ENOMEM;
		seterr(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	buf = malloc(LOAD_CHUNK + SYBIL_MAX_LINE);
	if (!buf) {
		rc = -ENOMEM;
		seterr(err, errlen, "%s: out of memory", path);
		goto out;
	}
	gzbuffer(f, 128 * 1024);
	for (;;) {
		int got = gzread(f, buf + have, LOAD_CHUNK);
		size_t pos = 0;

		if (got < 0) {
			const char *msg = gzerror(f, &zerr);

			rc = zerr == Z_ERRNO ? -errno : -EIO;
			if (rc == 0)
				rc = -EIO;
			seterr(err, errlen, "%s: after line %llu: read error: %s", path,
			       (unsigned long long)lp.line, zerr == Z_ERRNO ? strerror(-rc) : msg);
			goto out;
		}
		have += (size_t)got;
		for (;;) {
			const char *nl = memchr(buf + pos, '\n', have - pos);

			if (!nl)
				break;
			if (feed_line(&lp, buf + pos, (size_t)(nl - (buf + pos)), true) < 0)
				goto bad_line;
			pos = (size_t)(nl - buf) + 1;
		}
		memmove(buf, buf + pos, have - pos);
		have -= pos;
		if (got == 0) {
			/* a truncated stream ends quietly; gzerror still says so */
			const char *msg = gzerror(f, &zerr);

			if (zerr != Z_OK && zerr != Z_STREAM_END) {
				rc = -EIO;
				seterr(err, errlen, "%s: after line %llu: read error: %s", path,
				       (unsigned long long)lp.line, msg);
				goto out;
			}
			if (have && feed_line(&lp, buf, have, false) < 0)
				goto bad_line;
			break;
		}
		if (have >= SYBIL_MAX_LINE) {
			lp.line++;
			lp.cause = "line too long";
			rc = -E2BIG;
			seterr(err, errlen, "%s: line %llu: %s", path, (unsigned long long)lp.line,
			       lp.cause);
			goto out;
		}
	}
	goto out;
bad_line:
	rc = lp.rc;
	seterr(err, errlen, "%s: line %llu: %s", path, (unsigned long long)lp.line, lp.cause);
out:
	free(buf);
	if (f && gzclose(f) != Z_OK && rc == 0) {
		rc = -EIO;
		seterr(err, errlen, "%s: read error at close", path);
	}
	if (rc)
		restore(el, n0, had_buf);
	return rc;
}

/* ---------- graphs ---------- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void sort_u32(uint32_t *a, size_t n)
{
	size_t i, j;

	if (n > 24) {
		qsort(a, n, sizeof(*a), cmp_u32);
		return;
	}
	for (i = 1; i < n; i++) {
		uint32_t x = a[i];

		for (j = i; j > 0 && a[j - 1] > x; j--)
			a[j] = a[j - 1];
		a[j] = x;
	}
}

void sybil_graph_free(struct sybil_graph *g)
{
	if (!g)
		return;
	free(g->off);
	free(g->adj);
	free(g->rev);
	free(g->ids);
	free(g);
}

/* CSR from ne pairs (p[2i], p[2i + 1]) of dense indices < n: drops self-loops and
 * duplicates, sorts neighbours, links reverse slots. */
static int csr_from_pairs(uint32_t n, const uint32_t *p, size_t ne, struct sybil_graph **out)
{
	struct sybil_graph *g;
	uint32_t *pos = NULL;
	uint64_t total = 0;
	uint32_t v, w;
	size_t i;
	int rc = -ENOMEM;

	*out = NULL;
	if (n == 0)
		return -EINVAL;
	if (n > SYBIL_MAX_NODES || ne > SYBIL_MAX_EDGES)
		return -E2BIG;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->n = n;
	g->off = calloc((size_t)n + 1, sizeof(*g->off));
	pos = malloc(((size_t)n + 1) * sizeof(*pos));
	if (!g->off || !pos)
		goto fail;
	for (i = 0; i < ne; i++) {
		if (p[2 * i] == p[2 * i + 1])
			continue;
		g->off[p[2 * i] + 1]++;
		g->off[p[2 * i + 1] + 1]++;
		total += 2;
	}
	for (v = 0; v < n; v++)
		g->off[v + 1] += g->off[v];
	g->adj = malloc((total ? total : 1) * sizeof(*g->adj));
	if (!g->adj)
		goto fail;
	memcpy(pos, g->off, ((size_t)n + 1) * sizeof(*pos));
	for (i = 0; i < ne; i++) {
		uint32_t a = p[2 * i], b = p[2 * i + 1];

		if (a == b)
			continue;
		g->adj[pos[a]++] = b;
		g->adj[pos[b]++] = a;
	}
	/* sort and deduplicate in place */
	w = 0;
	for (v = 0; v < n; v++) {
		uint32_t s, start = g->off[v], end = g->off[v + 1];
		uint32_t prev = UINT32_MAX;

		sort_u32(g->adj + start, end - start);
		g->off[v] = w;
		for (s = start; s < end; s++) {
			if (g->adj[s] != prev)
				g->adj[w++] = g->adj[s];
			prev = g->adj[s];
		}
	}
	g->off[n] = w;
	g->m = w / 2;
	if (w) {
		uint32_t *shrunk = realloc(g->adj, (size_t)w * sizeof(*g->adj));

		if (shrunk)
			g->adj = shrunk;
	}
	g->rev = malloc((w ? w : 1) * sizeof(*g->rev));
	if (!g->rev)
		goto fail;
	/* A node's smaller neighbours come first in its sorted list, in increasing order, and
	 * they visit it in that same order below. */
	memcpy(pos, g->off, (size_t)n * sizeof(*pos));
	for (v = 0; v < n; v++) {
		uint32_t s;

		for (s = g->off[v]; s < g->off[v + 1]; s++) {
			uint32_t x = g->adj[s];

			if (x > v) {
				uint32_t t = pos[x]++;

				g->rev[s] = t;
				g->rev[t] = s;
			}
		}
	}
	free(pos);
	*out = g;
	return 0;
fail:
	free(pos);
	sybil_graph_free(g);
	return rc;
}

int sybil_graph_build_dense(uint32_t n, const struct sybil_edge *e, size_t ne,
			    struct sybil_graph **out)
{
	uint32_t *p;
	size_t i;
	int rc;

	*out = NULL;
	if (n == 0)
		return -EINVAL;
	if (n > SYBIL_MAX_NODES || ne > SYBIL_MAX_EDGES)
		return -E2BIG;
	p = malloc((ne ? ne : 1) * 2 * sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (i = 0; i < ne; i++) {
		if (e[i].a >= n || e[i].b >= n) {
			free(p);
			return -EINVAL;
		}
		p[2 * i] = (uint32_t)e[i].a;
		p[2 * i + 1] = (uint32_t)e[i].b;
	}
	rc = csr_from_pairs(n, p, ne, out);
	free(p);
	return rc;
}

int sybil_graph_build(const struct sybil_edgelist *el, struct sybil_graph **out)
{
	uint64_t *ids = NULL, max_id = 0;
	uint32_t *p = NULL, *map = NULL;
	size_t i, nid = 0, ne = el->n;
	int rc = -ENOMEM;

	*out = NULL;
	if (ne == 0)
		return -EINVAL;
	if (ne > SYBIL_MAX_EDGES)
		return -E2BIG;
	for (i = 0; i < ne; i++) {
		if (el->e[i].a >= SYBIL_MAX_ID || el->e[i].b >= SYBIL_MAX_ID)
			return -E2BIG;
		if (el->e[i].a > max_id)
			max_id = el->e[i].a;
		if (el->e[i].b > max_id)
			max_id = el->e[i].b;
	}
	p = malloc(ne * 2 * sizeof(*p));
	if (!p)
		return -ENOMEM;
	if (max_id < 2 * (uint64_t)ne + 1024) {
		/* ids are small: a direct table, ids numbered in increasing order */
		map = calloc(max_id + 1, sizeof(*map));
		if (!map)
			goto out;
		for (i = 0; i < ne; i++) {
			map[el->e[i].a] = 1;
			map[el->e[i].b] = 1;
		}
		for (i = 0; i <= max_id; i++)
			nid += map[i];
		if (nid > SYBIL_MAX_NODES) {
			rc = -E2BIG;
			goto out;
		}
		ids = malloc(nid * sizeof(*ids));
		if (!ids)
			goto out;
		nid = 0;
		for (i = 0; i <= max_id; i++) {
			if (map[i]) {
				ids[nid] = i;
				map[i] = (uint32_t)nid++;
			}
		}
		for (i = 0; i < ne; i++) {
			p[2 * i] = map[el->e[i].a];
			p[2 * i + 1] = map[el->e[i].b];
		}
	} else {
		uint64_t *all = malloc(ne * 2 * sizeof(*all));

		if (!all)
			goto out;
		for (i = 0; i < ne; i++) {
			all[2 * i] = el->e[i].a;
			all[2 * i + 1] = el->e[i].b;
		}
		qsort(all, ne * 2, sizeof(*all), cmp_u64);
		for (i = 0; i < ne * 2; i++)
			if (i == 0 || all[i] != all[nid - 1])
				all[nid++] = all[i];
		if (nid > SYBIL_MAX_NODES) {
			free(all);
			rc = -E2BIG;
			goto out;
		}
		ids = realloc(all, nid * sizeof(*ids));
		if (!ids) {
			free(all);
			goto out;
		}
		for (i = 0; i < ne * 2; i++) {
			uint64_t id = i % 2 ? el->e[i / 2].b : el->e[i / 2].a;
			size_t lo = 0, hi = nid;

			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;

				if (ids[mid] < id)
					lo = mid + 1;
				else
					hi = mid;
			}
			p[i] = (uint32_t)lo;
		}
	}
	rc = csr_from_pairs((uint32_t)nid, p, ne, out);
	if (rc == 0) {
		(*out)->ids = ids;
		ids = NULL;
	}
out:
	free(map);
	free(p);
	free(ids);
	return rc;
}

int sybil_graph_load(const char *path, struct sybil_graph **out, char *err, size_t errlen)
{
	struct sybil_edgelist el = {0};
	int rc;

	*out = NULL;
	rc = sybil_edgelist_load(path, &el, err, errlen);
	if (rc == 0) {
		rc = sybil_graph_build(&el, out);
		if (rc == -EINVAL)
			seterr(err, errlen, "%s: no edges", path);
		else if (rc == -E2BIG)
			seterr(err, errlen, "%s: too many nodes (limit %u)", path, SYBIL_MAX_NODES);
		else if (rc)
			seterr(err, errlen, "%s: %s", path, strerror(-rc));
	}
	sybil_edgelist_free(&el);
	return rc;
}

int64_t sybil_graph_index(const struct sybil_graph *g, uint64_t id)
{
	size_t lo = 0, hi = g->n;

	if (!g->ids)
		return id < g->n ? (int64_t)id : -ENOENT;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (g->ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < g->n && g->ids[lo] == id ? (int64_t)lo : -ENOENT;
}

uint64_t sybil_graph_id(const struct sybil_graph *g, uint32_t v)
{
	return g->ids ? g->ids[v] : v;
}

uint32_t sybil_graph_slot_src(const struct sybil_graph *g, uint32_t s)
{
	uint32_t lo = 0, hi = g->n;

	/* last v with off[v] <= s and a non-empty range */
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (g->off[mid] <= s)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

int64_t sybil_graph_components(const struct sybil_graph *g, uint32_t *comp)
{
	uint32_t *queue = malloc((size_t)g->n * sizeof(*queue));
	uint32_t v, nc = 0;

	if (!queue)
		return -ENOMEM;
	for (v = 0; v < g->n; v++)
		comp[v] = UINT32_MAX;
	for (v = 0; v < g->n; v++) {
		uint32_t head = 0, tail = 0;

		if (comp[v] != UINT32_MAX)
			continue;
		comp[v] = nc;
		queue[tail++] = v;
		while (head < tail) {
			uint32_t u = queue[head++], s;

			for (s = g->off[u]; s < g->off[u + 1]; s++) {
				uint32_t x = g->adj[s];

				if (comp[x] == UINT32_MAX) {
					comp[x] = nc;
					queue[tail++] = x;
				}
			}
		}
		nc++;
	}
	free(queue);
	return nc;
}

int sybil_graph_lcc(const struct sybil_graph *g, struct sybil_graph **out)
{
	uint32_t *comp = NULL, *size = NULL, *p = NULL;
	uint32_t best = 0, v, nn = 0;
	uint64_t *ids = NULL;
	int64_t nc;
	size_t ne = 0;
	int rc = -ENOMEM;

	*out = NULL;
	comp = malloc((size_t)g->n * sizeof(*comp));
	if (!comp)
		return -ENOMEM;
	nc = sybil_graph_components(g, comp);
	if (nc < 0) {
		rc = (int)nc;
		goto out;
	}
	size = calloc((size_t)nc, sizeof(*size));
	if (!size)
		goto out;
	for (v = 0; v < g->n; v++)
		size[comp[v]]++;
	for (v = 1; v < (uint32_t)nc; v++)
		if (size[v] > size[best])
			best = v;
	ids = malloc((size_t)size[best] * sizeof(*ids));
	p = malloc(((size_t)g->m ? g->m : 1) * 2 * sizeof(*p));
	if (!ids || !p)
		goto out;
	/* reuse comp as the old -> new map (monotone, so ids stay sorted) */
	for (v = 0; v < g->n; v++) {
		if (comp[v] == best) {
			ids[nn] = sybil_graph_id(g, v);
			comp[v] = nn++;
		} else {
			comp[v] = UINT32_MAX;
		}
	}
	for (v = 0; v < g->n; v++) {
		uint32_t s;

		if (comp[v] == UINT32_MAX)
			continue;
		for (s = g->off[v]; s < g->off[v + 1]; s++) {
			if (g->adj[s] > v) {
				p[2 * ne] = comp[v];
				p[2 * ne + 1] = comp[g->adj[s]];
				ne++;
			}
		}
	}
	rc = csr_from_pairs(nn, p, ne, out);
	if (rc == 0) {
		(*out)->ids = ids;
		ids = NULL;
	}
out:
	free(comp);
	free(size);
	free(p);
	free(ids);
	return rc;
}

/* ---------- generators ---------- */

int sybil_gen_ba(uint32_t n, uint32_t m, uint64_t seed, struct sybil_edgelist *el)
{
	struct sybil_rng rng;
	uint64_t edges, nrep = 0;
	uint32_t *rep = NULL, *mark = NULL;
	uint32_t u, v;
	int rc = 0;

	if (m < 1 || m >= n)
		return -EINVAL;
	edges = (uint64_t)m * (m + 1) / 2 + (uint64_t)(n - m - 1) * m;
	if (n > SYBIL_MAX_NODES || edges + el->n > SYBIL_MAX_EDGES)
		return -E2BIG;
	rep = malloc(edges * 2 * sizeof(*rep));
	mark = malloc((size_t)n * sizeof(*mark));
	if (!rep || !mark) {
		rc = -ENOMEM;
		goto out;
	}
	for (v = 0; v < n; v++)
		mark[v] = UINT32_MAX;
	sybil_rng_seed(&rng, seed);
	for (u = 0; u <= m && !rc; u++) {
		for (v = u + 1; v <= m && !rc; v++) {
			rc = sybil_edgelist_add(el, u, v);
			rep[nrep++] = u;
			rep[nrep++] = v;
		}
	}
	for (v = m + 1; v < n && !rc; v++) {
		uint64_t base = nrep;
		uint32_t k = 0;

		while (k < m) {
			uint32_t t = rep[sybil_rng_below(&rng, base)];

			if (mark[t] == v)
				continue;
			mark[t] = v;
			rc = sybil_edgelist_add(el, v, t);
			if (rc)
				break;
			rep[nrep++] = v;
			rep[nrep++] = t;
			k++;
		}
	}
out:
	free(rep);
	free(mark);
	return rc;
}

int sybil_gen_kleinberg(uint32_t n, uint32_t q, double expo, uint64_t seed,
			struct sybil_edgelist *el)
{
	struct sybil_rng rng;
	uint32_t L, dmax, x, y, d, j;
	double *cum = NULL;
	int rc = 0;

	if (n < 9 || n > SYBIL_MAX_NODES || !(expo >= 0) || expo > 64)
		return -EINVAL;
	L = (uint32_t)sqrt((double)n);
	while ((uint64_t)(L + 1) * (L + 1) <= n)
		L++;
	while ((uint64_t)L * L > n)
		L--;
	if ((uint64_t)L * L * (2 + (uint64_t)q) + el->n > SYBIL_MAX_EDGES)
		return -E2BIG;
	dmax = L / 2;
	cum = malloc(((size_t)dmax + 1) * sizeof(*cum));
	if (!cum)
		return -ENOMEM;
	cum[0] = 0;
	for (d = 1; d <= dmax; d++)
		cum[d] = cum[d - 1] + 4.0 * d * pow((double)d, -expo);
	sybil_rng_seed(&rng, seed);
	for (y = 0; y < L && !rc; y++) {
		for (x = 0; x < L && !rc; x++) {
			uint64_t v = (uint64_t)y * L + x;

			rc = sybil_edgelist_add(el, v, (uint64_t)y * L + (x + 1) % L);
			if (!rc)
				rc = sybil_edgelist_add(el, v, (uint64_t)((y + 1) % L) * L + x);
			for (j = 0; j < q && !rc; j++) {
				double u = sybil_rng_double(&rng) * cum[dmax];
				uint32_t lo = 1, hi = dmax, t;
				int64_t dx, dy;

				while (lo < hi) {
					uint32_t mid = lo + (hi - lo) / 2;

					if (cum[mid] > u)
						hi = mid;
					else
						lo = mid + 1;
				}
				d = lo;
				t = (uint32_t)sybil_rng_below(&rng, 4ull * d);
				switch (t / d) {
				case 0:
					dx = d - t % d, dy = t % d;
					break;
				case 1:
					dx = -(int64_t)(t % d), dy = d - t % d;
					break;
				case 2:
					dx = -(int64_t)(d - t % d), dy = -(int64_t)(t % d);
					break;
				default:
					dx = t % d, dy = -(int64_t)(d - t % d);
					break;
				}
				dx = ((int64_t)x + dx + L) % L;
				dy = ((int64_t)y + dy + L) % L;
				rc = sybil_edgelist_add(el, v, (uint64_t)dy * L + (uint64_t)dx);
			}
		}
	}
	free(cum);
	return rc;
}

int sybil_gen_er(uint32_t n, double avg_degree, uint64_t seed, struct sybil_edgelist *el)
{
	struct sybil_rng rng;
	uint64_t me, i;
	int rc = 0;

	if (n < 2 || n > SYBIL_MAX_NODES || !(avg_degree > 0) || avg_degree > n)
		return -EINVAL;
	me = (uint64_t)llround((double)n * avg_degree / 2);
	if (me + el->n > SYBIL_MAX_EDGES)
		return -E2BIG;
	sybil_rng_seed(&rng, seed);
	for (i = 0; i < me && !rc; i++) {
		uint64_t a = sybil_rng_below(&rng, n), b = sybil_rng_below(&rng, n - 1);

		if (b >= a)
			b++;
		rc = sybil_edgelist_add(el, a, b);
	}
	return rc;
}

/* ---------- mixing ---------- */

int sybil_mixing_tv(const struct sybil_graph *g, const uint32_t *sources, size_t ns, uint32_t t_max,
		    double eps, double *tv, uint32_t *t_mix)
{
	double *cur = NULL, *nxt = NULL, *tmp = NULL, *worst = NULL, vol = 2.0 * g->m;
	uint32_t v, t;
	size_t k;
	int rc = -ENOMEM;

	if (!ns || !g->m)
		return -EINVAL;
	cur = malloc((size_t)g->n * sizeof(*cur));
	nxt = malloc((size_t)g->n * sizeof(*nxt));
	tmp = malloc((size_t)g->n * sizeof(*tmp));
	worst = calloc((size_t)t_max + 1, sizeof(*worst));
	if (!cur || !nxt || !tmp || !worst)
		goto out;
	for (k = 0; k < ns; k++) {
		double last = 1.0;

		if (sources[k] >= g->n) {
			rc = -EINVAL;
			goto out;
		}
		memset(cur, 0, (size_t)g->n * sizeof(*cur));
		cur[sources[k]] = 1.0;
		for (t = 0; t <= t_max; t++) {
			double d = 0;

			/* nxt = cur * P (pull form over cur / degree) */
			for (v = 0; v < g->n; v++) {
				uint32_t dg = sybil_degree(g, v);

				tmp[v] = dg ? cur[v] / dg : 0;
			}
			for (v = 0; v < g->n; v++) {
				uint32_t s;
				double acc = 0;

				if (!sybil_degree(g, v)) {
					nxt[v] = cur[v];
					continue;
				}
				for (s = g->off[v]; s < g->off[v + 1]; s++)
					acc += tmp[g->adj[s]];
				nxt[v] = acc;
			}
			for (v = 0; v < g->n; v++)
				d += fabs((cur[v] + nxt[v]) / 2 - sybil_degree(g, v) / vol);
			last = d / 2;
			if (last > worst[t])
				worst[t] = last;
			if (last <= eps) {
				/* distance to stationarity never increases: the rest is bounded */
				for (t = t + 1; t <= t_max; t++)
					if (last > worst[t])
						worst[t] = last;
				break;
			}
			{
				double *sw = cur;

				cur = nxt;
				nxt = sw;
			}
		}
	}
	rc = 0;
	if (t_mix) {
		*t_mix = t_max + 1;
		for (t = 0; t <= t_max; t++) {
			if (worst[t] <= eps) {
				*t_mix = t;
				break;
			}
		}
	}
	if (tv)
		memcpy(tv, worst, ((size_t)t_max + 1) * sizeof(*tv));
out:
	free(cur);
	free(nxt);
	free(tmp);
	free(worst);
	return rc;
}

/* ---------- SybilLimit ---------- */

void sybillimit_params_default(struct sybillimit_params *p)
{
	memset(p, 0, sizeof(*p));
	p->w = 10;
	p->r0 = 4.0;
	p->h = 4.0;
	p->seed = 1;
}

uint32_t sybillimit_r(const struct sybillimit_params *p, const struct sybil_graph *g)
{
	double m = p->m ? (double)p->m : (double)g->m, r;

	if (p->r)
		return p->r;
	r = ceil(p->r0 * sqrt(m));
	if (!(r >= 1))
		return 1;
	if (r > 1e7)
		return 10000000;
	return (uint32_t)r;
}

/* Key of node v's permutation and start edge in one instance. mix64 is a bijection, so
 * distinct (instance, node) pairs get distinct keys under one seed. */
static inline uint64_t node_key(uint64_t seed, uint32_t instance, uint32_t v)
{
	return mix64(((((uint64_t)instance << 32) | v) ^ seed) + GOLDEN);
}

/* Degrees up to PERM_SMALL get an (all but exactly) uniform Fisher-Yates permutation drawn
 * from one 64-bit word in the factorial number system (16! < 2^45, so the rounding bias of
 * each draw stays below 2^-19). */
#define PERM_SMALL 16

static void small_perm(uint64_t key, uint32_t d, uint8_t *perm)
{
	uint64_t u = mix64(key ^ UINT64_C(0xa0761d6478bd642f));
	uint32_t i;

	for (i = 0; i < d; i++)
		perm[i] = (uint8_t)i;
	for (i = d - 1; i > 0; i--) {
		unsigned __int128 t = (unsigned __int128)u * (i + 1);
		uint32_t j = (uint32_t)(t >> 64);
		uint8_t x = perm[i];

		u = (uint64_t)t;
		perm[i] = perm[j];
		perm[j] = x;
	}
}

/* Larger degrees: a 4-round Feistel network on b = ceil(log2 d) bits whose halves alternate
 * in width (so any b works and the cycle walk below needs fewer than 2 rounds on average),
 * with a multiply-shift round function keyed per round. Each round maps
 * (top, low) -> (low, top ^ F(low)). */
#define FEISTEL_ROUNDS 4

static inline uint32_t feistel_f(uint64_t key, unsigned round, uint32_t x)
{
	uint64_t k = key + (uint64_t)round * UINT64_C(0x9e3779b97f4a7c15);

	return (uint32_t)(((x ^ k) * UINT64_C(0xd6e8feb86659fd93)) >> 32) ^ (uint32_t)(k >> 40);
}

static inline uint32_t feistel_enc(uint64_t key, unsigned b, uint32_t x)
{
	unsigned lw = b / 2, r;

	for (r = 0; r < FEISTEL_ROUNDS; r++) {
		unsigned tw = b - lw;
		uint32_t low = x & ((1u << lw) - 1), top = x >> lw;

		top ^= feistel_f(key, r, low) & ((1u << tw) - 1);
		x = (low << tw) | top;
		lw = tw;
	}
	return x;
}

static inline uint32_t feistel_dec(uint64_t key, unsigned b, uint32_t y)
{
	/* the low width of round r is b / 2 for even r and b - b / 2 for odd r */
	int r;

	for (r = FEISTEL_ROUNDS - 1; r >= 0; r--) {
		unsigned lw = (r % 2) ? b - b / 2 : b / 2, tw = b - lw;
		uint32_t low = y >> tw, top = y & ((1u << tw) - 1);

		top ^= feistel_f(key, (unsigned)r, low) & ((1u << tw) - 1);
		y = (top << lw) | low;
	}
	return y;
}

static inline unsigned domain_bits(uint32_t d)
{
	return d <= 1 ? 1 : 32 - (unsigned)__builtin_clz(d - 1);
}

static inline uint32_t perm_key(uint64_t key, uint32_t d, uint32_t i)
{
	if (d <= 1)
		return 0;
	if (d <= PERM_SMALL) {
		uint8_t perm[PERM_SMALL];

		small_perm(key, d, perm);
		return perm[i];
	} else {
		unsigned b = domain_bits(d);
		uint32_t x = i;

		do
			x = feistel_enc(key, b, x);
		while (x >= d);
		return x;
	}
}

static inline uint32_t perm_inv_key(uint64_t key, uint32_t d, uint32_t o)
{
	if (d <= 1)
		return 0;
	if (d <= PERM_SMALL) {
		uint8_t perm[PERM_SMALL];
		uint32_t i;

		small_perm(key, d, perm);
		for (i = 0; i < d; i++)
			if (perm[i] == o)
				return i;
		return 0; /* not reached: o < d */
	} else {
		unsigned b = domain_bits(d);
		uint32_t x = o;

		do
			x = feistel_dec(key, b, x);
		while (x >= d);
		return x;
	}
}

static inline uint32_t start_key(uint64_t key, uint32_t d)
{
	return (uint32_t)(((unsigned __int128)mix64(key ^ UINT64_C(0xd6e8feb86659fd93)) * d) >> 64);
}

uint32_t sybillimit_perm(uint64_t seed, uint32_t instance, uint32_t v, uint32_t d, uint32_t i)
{
	return i < d ? perm_key(node_key(seed, instance, v), d, i) : i;
}

uint32_t sybillimit_perm_inv(uint64_t seed, uint32_t instance, uint32_t v, uint32_t d, uint32_t o)
{
	return o < d ? perm_inv_key(node_key(seed, instance, v), d, o) : o;
}

uint32_t sybillimit_start(uint64_t seed, uint32_t instance, uint32_t v, uint32_t d)
{
	return d ? start_key(node_key(seed, instance, v), d) : 0;
}

/* One forward step: the route arrived over slot s; returns the slot it leaves on. */
static inline uint32_t step_fwd(const struct sybil_graph *g, uint64_t seed, uint32_t instance,
				uint32_t s)
{
	uint32_t x = g->adj[s], in = g->rev[s] - g->off[x];

	return g->off[x] + perm_key(node_key(seed, instance, x), sybil_degree(g, x), in);
}

/* Route of v in one instance; returns its tail. *touched (when mark) tells whether any
 * node on it, the tail's far end included, is marked. d(v) > 0, w > 0. */
static uint32_t route_tail(const struct sybil_graph *g, uint64_t seed, uint32_t instance,
			   uint32_t v, uint32_t w, const uint8_t *mark, bool *touched)
{
	uint32_t s = g->off[v] + sybillimit_start(seed, instance, v, sybil_degree(g, v)), j;
	bool hit = mark && mark[v];

	for (j = 1; j < w; j++) {
		if (mark && mark[g->adj[s]])
			hit = true;
		s = step_fwd(g, seed, instance, s);
	}
	if (mark && mark[g->adj[s]])
		hit = true;
	if (touched)
		*touched = hit;
	return s;
}

int sybillimit_route(const struct sybil_graph *g, uint64_t seed, uint32_t instance, uint32_t v,
		     uint32_t w, uint32_t *slots)
{
	uint32_t j;

	if (w == 0 || v >= g->n)
		return -EINVAL;
	if (!sybil_degree(g, v))
		return -ENOENT;
	slots[0] = g->off[v] + sybillimit_start(seed, instance, v, sybil_degree(g, v));
	for (j = 1; j < w; j++)
		slots[j] = step_fwd(g, seed, instance, slots[j - 1]);
	return 0;
}

/* Walks back from tail (owned by y) over w - 1 steps; returns the first slot, *origin its
 * owner; *touched whether a marked node lies on the route (including the tail's far end). */
static uint32_t route_back(const struct sybil_graph *g, uint64_t seed, uint32_t instance,
			   uint32_t tail, uint32_t y, uint32_t w, const uint8_t *mark,
			   uint32_t *origin, bool *touched, uint32_t *slots)
{
	uint32_t s = tail, j;
	bool hit = mark && (mark[g->adj[tail]] || mark[y]);

	if (slots)
		slots[w - 1] = tail;
	for (j = w - 1; j > 0; j--) {
		uint32_t o = s - g->off[y];
		uint32_t i = perm_inv_key(node_key(seed, instance, y), sybil_degree(g, y), o);
		uint32_t t = g->off[y] + i;

		y = g->adj[t];
		s = g->rev[t];
		if (mark && mark[y])
			hit = true;
		if (slots)
			slots[j - 1] = s;
	}
	if (origin)
		*origin = y;
	if (touched)
		*touched = hit;
	return s;
}

/* LANES routes of consecutive instances first_inst .. first_inst + nl - 1, all ending on
 * `tail` (owned by y0), walked back in lockstep so that their cache misses overlap. */
#define LANES 8

static void route_back_lanes(const struct sybil_graph *g, uint64_t seed, uint32_t first_inst,
			     uint32_t nl, uint32_t tail, uint32_t y0, uint32_t w,
			     const uint8_t *mark, uint32_t *origin, uint32_t *first, bool *touched)
{
	uint32_t s[LANES], y[LANES], l, j;
	bool hit0 = mark && (mark[g->adj[tail]] || mark[y0]);

	for (l = 0; l < nl; l++) {
		s[l] = tail;
		y[l] = y0;
		touched[l] = hit0;
	}
	for (j = w - 1; j > 0; j--) {
		for (l = 0; l < nl; l++) {
			uint32_t yy = y[l], o = s[l] - g->off[yy];
			uint32_t i = perm_inv_key(node_key(seed, first_inst + l, yy),
						  g->off[yy + 1] - g->off[yy], o);
			uint32_t t = g->off[yy] + i;

			y[l] = g->adj[t];
			s[l] = g->rev[t];
			if (mark && mark[y[l]])
				touched[l] = true;
		}
	}
	for (l = 0; l < nl; l++) {
		origin[l] = y[l];
		first[l] = s[l];
	}
}

/* Forward routes of node v for instances first_inst .. first_inst + nl - 1 in lockstep:
 * slots[j * LANES + l] is lane l's slot after j + 1 hops (j < w). d(v) > 0. */
static void route_lanes(const struct sybil_graph *g, uint64_t seed, uint32_t first_inst,
			uint32_t nl, uint32_t v, uint32_t w, uint32_t *slots)
{
	uint32_t l, j, d = sybil_degree(g, v);

	for (l = 0; l < nl; l++)
		slots[l] = g->off[v] + sybillimit_start(seed, first_inst + l, v, d);
	for (j = 1; j < w; j++)
		for (l = 0; l < nl; l++)
			slots[j * LANES + l] =
			    step_fwd(g, seed, first_inst + l, slots[(j - 1) * LANES + l]);
}

int sybillimit_route_back(const struct sybil_graph *g, uint64_t seed, uint32_t instance,
			  uint32_t tail, uint32_t w, uint32_t *slots)
{
	if (w == 0 || tail >= g->off[g->n])
		return -EINVAL;
	route_back(g, seed, instance, tail, sybil_graph_slot_src(g, tail), w, NULL, NULL, NULL,
		   slots);
	return 0;
}

void sybillimit_verifier_free(struct sybillimit_verifier *v)
{
	free(v->tail);
	free(v->load);
	free(v->sorted);
	memset(v, 0, sizeof(*v));
}

int sybillimit_verifier_init(struct sybillimit_verifier *v, const struct sybil_graph *g,
			     const struct sybillimit_params *p, uint32_t node)
{
	uint32_t i;

	memset(v, 0, sizeof(*v));
	if (!p->w || node >= g->n || !(p->h > 0))
		return -EINVAL;
	if (!sybil_degree(g, node))
		return -ENOENT;
	v->g = g;
	v->p = *p;
	v->node = node;
	v->r = sybillimit_r(p, g);
	v->tail = malloc((size_t)v->r * sizeof(*v->tail));
	v->load = calloc(v->r, sizeof(*v->load));
	v->sorted = malloc((size_t)v->r * sizeof(*v->sorted));
	if (!v->tail || !v->load || !v->sorted) {
		sybillimit_verifier_free(v);
		return -ENOMEM;
	}
	for (i = 0; i < v->r; i++) {
		v->tail[i] = route_tail(g, p->seed, i, node, p->w, NULL, NULL);
		v->sorted[i] = ((uint64_t)v->tail[i] << 32) | i;
	}
	qsort(v->sorted, v->r, sizeof(*v->sorted), cmp_u64);
	return 0;
}

static size_t lower_bound_u64(const uint64_t *a, size_t n, uint64_t key)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (a[mid] < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

size_t sybillimit_tails_equal(const struct sybillimit_verifier *v, uint32_t slot, uint32_t *idx,
			      size_t max)
{
	size_t i = lower_bound_u64(v->sorted, v->r, (uint64_t)slot << 32), k = 0;

	for (; i < v->r && (v->sorted[i] >> 32) == slot; i++, k++)
		if (k < max)
			idx[k] = (uint32_t)v->sorted[i];
	return k;
}

int sybillimit_intersect(const struct sybillimit_verifier *v, uint32_t suspect, uint32_t *hits,
			 size_t max)
{
	const struct sybil_graph *g = v->g;
	size_t n = 0;
	uint32_t k;

	if (suspect >= g->n)
		return -EINVAL;
	if (!sybil_degree(g, suspect))
		return -ENOENT;
	for (k = 0; k < v->r; k++) {
		uint32_t t = route_tail(g, v->p.seed, k, suspect, v->p.w, NULL, NULL);

		if (hits && n < max)
			n += sybillimit_tails_equal(v, t, hits + n, max - n);
		else
			n += sybillimit_tails_equal(v, t, NULL, 0);
	}
	return (int)(n < max ? n : max);
}

double sybillimit_balance_bound(const struct sybillimit_verifier *v)
{
	double a = (1.0 + (double)v->load_sum) / v->r;

	return v->p.h * fmax(log((double)v->r), a);
}

int sybillimit_admit(struct sybillimit_verifier *v, const uint32_t *hits, size_t nhits)
{
	uint32_t best = UINT32_MAX;
	size_t i;

	for (i = 0; i < nhits; i++) {
		if (hits[i] >= v->r)
			return -EINVAL;
		if (best == UINT32_MAX || v->load[hits[i]] < v->load[best])
			best = hits[i];
	}
	if (best == UINT32_MAX)
		return 0;
	if ((double)v->load[best] + 1 > sybillimit_balance_bound(v))
		return 0;
	v->load[best]++;
	v->load_sum++;
	return 1;
}

int sybillimit_verify(struct sybillimit_verifier *v, uint32_t suspect)
{
	uint32_t *hits = malloc((size_t)v->r * sizeof(*hits));
	int n, rc;

	if (!hits)
		return -ENOMEM;
	n = sybillimit_intersect(v, suspect, hits, v->r);
	rc = n < 0 ? (n == -ENOENT ? 0 : n) : sybillimit_admit(v, hits, (size_t)n);
	free(hits);
	return rc;
}

void sybillimit_view_free(struct sybillimit_view *view)
{
	free(view->escaped);
	free(view->tainted);
	free(view->reg);
	memset(view, 0, sizeof(*view));
}

static int cmp_reg(const void *a, const void *b)
{
	const struct sybillimit_reg *x = a, *y = b;

	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	return (x->tail > y->tail) - (x->tail < y->tail);
}

int sybillimit_collect(const struct sybillimit_verifier *v, const uint8_t *mark,
		       struct sybillimit_view *view)
{
	const struct sybil_graph *g = v->g;
	uint64_t seed = v->p.seed;
	size_t cap = 1024;
	uint32_t i, k;

	memset(view, 0, sizeof(*view));
	view->escaped = calloc(v->r, sizeof(*view->escaped));
	view->tainted = calloc(v->r, sizeof(*view->tainted));
	view->reg = malloc(cap * sizeof(*view->reg));
	if (!view->escaped || !view->tainted || !view->reg)
		goto nomem;
	for (i = 0; i < v->r; i++) {
		uint32_t tail = v->tail[i], y;
		bool esc;

		route_tail(g, seed, i, v->node, v->p.w, mark, &esc);
		if (esc) {
			view->escaped[i] = 1;
			view->tainted[i] = v->r;
			continue;
		}
		y = sybil_graph_slot_src(g, tail);
		for (k = 0; k < v->r; k += LANES) {
			uint32_t origin[LANES], first[LANES], l, nl = v->r - k;
			bool touched[LANES];

			if (nl > LANES)
				nl = LANES;
			route_back_lanes(g, seed, k, nl, tail, y, v->p.w, mark, origin, first,
					 touched);
			for (l = 0; l < nl; l++) {
				uint32_t o = origin[l];

				if (touched[l]) {
					view->tainted[i]++;
					continue;
				}
				if (first[l] - g->off[o] !=
				    sybillimit_start(seed, k + l, o, sybil_degree(g, o)))
					continue;
				if (view->n_reg == cap) {
					struct sybillimit_reg *nr;

					cap *= 2;
					nr = realloc(view->reg, cap * sizeof(*nr));
					if (!nr)
						goto nomem;
					view->reg = nr;
				}
				view->reg[view->n_reg].node = o;
				view->reg[view->n_reg].tail = i;
				view->n_reg++;
			}
		}
	}
	qsort(view->reg, view->n_reg, sizeof(*view->reg), cmp_reg);
	return 0;
nomem:
	sybillimit_view_free(view);
	return -ENOMEM;
}

/* Open-addressing set of slots (linear probing), one table per route length. */
struct slot_set {
	uint32_t *t;   /* slot + 1, 0 for empty */
	unsigned bits; /* log2 of the table size */
};

static inline uint32_t slot_hash(uint32_t s, unsigned bits)
{
	return (uint32_t)(((uint64_t)s * UINT64_C(0x9e3779b97f4a7c15)) >> (64 - bits));
}

static void slot_set_add(uint32_t *t, unsigned bits, uint32_t s)
{
	uint32_t mask = (1u << bits) - 1, h = slot_hash(s, bits);

	while (t[h] && t[h] != s + 1)
		h = (h + 1) & mask;
	t[h] = s + 1;
}

static inline bool slot_set_has(const uint32_t *t, unsigned bits, uint32_t s)
{
	uint32_t mask = (1u << bits) - 1, h = slot_hash(s, bits);

	while (t[h]) {
		if (t[h] == s + 1)
			return true;
		h = (h + 1) & mask;
	}
	return false;
}

int sybillimit_benchmark(const struct sybil_graph *g, const struct sybillimit_params *p,
			 uint32_t verifier, const uint32_t *sample, size_t k, uint32_t w_max,
			 double *rate)
{
	uint32_t r = sybillimit_r(p, g), i, j, inst;
	uint32_t *sets = NULL, *route = NULL, *acc = NULL;
	unsigned bits = 1;
	bool *hit = NULL;
	size_t q, tsize;
	int rc = -ENOMEM;

	if (!w_max || !k || verifier >= g->n)
		return -EINVAL;
	if (!sybil_degree(g, verifier))
		return -ENOENT;
	while ((1u << bits) < 2 * r)
		bits++;
	tsize = (size_t)1 << bits;
	/* sets + (w - 1) * tsize: the verifier's tails at route length w */
	sets = calloc(tsize * w_max, sizeof(*sets));
	route = malloc((size_t)w_max * LANES * sizeof(*route));
	acc = calloc((size_t)w_max + 1, sizeof(*acc));
	hit = malloc(((size_t)w_max + 1) * sizeof(*hit));
	if (!sets || !route || !acc || !hit)
		goto out;
	for (inst = 0; inst < r; inst += LANES) {
		uint32_t l, nl = r - inst < LANES ? r - inst : LANES;

		route_lanes(g, p->seed, inst, nl, verifier, w_max, route);
		for (j = 0; j < w_max; j++)
			for (l = 0; l < nl; l++)
				slot_set_add(sets + j * tsize, bits, route[j * LANES + l]);
	}
	for (q = 0; q < k; q++) {
		uint32_t u = sample[q];

		if (u >= g->n) {
			rc = -EINVAL;
			goto out;
		}
		if (!sybil_degree(g, u))
			continue;
		memset(hit, 0, ((size_t)w_max + 1) * sizeof(*hit));
		for (inst = 0; inst < r; inst += LANES) {
			uint32_t l, nl = r - inst < LANES ? r - inst : LANES;

			route_lanes(g, p->seed, inst, nl, u, w_max, route);
			for (j = 0; j < w_max; j++)
				for (l = 0; l < nl && !hit[j + 1]; l++)
					if (slot_set_has(sets + j * tsize, bits,
							 route[j * LANES + l]))
						hit[j + 1] = true;
		}
		for (i = 1; i <= w_max; i++)
			acc[i] += hit[i];
	}
	rate[0] = 0;
	for (i = 1; i <= w_max; i++)
		rate[i] = (double)acc[i] / (double)k;
	rc = 0;
out:
	free(sets);
	free(route);
	free(acc);
	free(hit);
	return rc;
}

int sybillimit_estimate_w(const struct sybil_graph *g, const struct sybillimit_params *p,
			  uint32_t verifier, const uint32_t *sample, size_t k, double target,
			  uint32_t w_max, double *rate, uint32_t *w_done)
{
	uint32_t cap = w_max < 8 ? w_max : 8, w;
	int rc;

	for (;;) {
		rc = sybillimit_benchmark(g, p, verifier, sample, k, cap, rate);
		if (rc)
			return rc;
		*w_done = cap;
		w = sybillimit_pick_w(rate, cap, target);
		if (w || cap == w_max)
			return (int)w;
		cap = cap * 2 < w_max ? cap * 2 : w_max;
	}
}

uint32_t sybillimit_plateau_w(const double *rate, uint32_t w_max, double slack)
{
	double best = 0;
	uint32_t w;

	for (w = 1; w <= w_max; w++)
		if (rate[w] > best)
			best = rate[w];
	for (w = 1; w <= w_max; w++)
		if (rate[w] >= best - slack)
			return w;
	return w_max;
}

uint32_t sybillimit_pick_w(const double *rate, uint32_t w_max, double target)
{
	uint32_t w;

	for (w = 1; w <= w_max; w++)
		if (rate[w] >= target)
			return w;
	return 0;
}

/* ---------- SybilRank ---------- */

uint32_t sybilrank_iterations(uint32_t n)
{
	uint32_t it = 0;

	while (it < 32 && ((uint64_t)1 << it) < n)
		it++;
	return it ? it : 1;
}

int sybilrank_run(const struct sybil_graph *g, const uint32_t *seeds, size_t k, uint32_t iterations,
		  double *score)
{
	double *t = NULL, *per = NULL;
	uint32_t it, v;
	size_t i;
	int rc = -ENOMEM;

	if (!k)
		return -EINVAL;
	for (i = 0; i < k; i++)
		if (seeds[i] >= g->n)
			return -EINVAL;
	if (!iterations)
		iterations = sybilrank_iterations(g->n);
	t = calloc(g->n, sizeof(*t));
	per = malloc((size_t)g->n * sizeof(*per));
	if (!t || !per)
		goto out;
	for (i = 0; i < k; i++)
		t[seeds[i]] += 1.0 / (double)k;
	for (it = 0; it < iterations; it++) {
		for (v = 0; v < g->n; v++) {
			uint32_t d = sybil_degree(g, v);

			per[v] = d ? t[v] / d : 0;
		}
		for (v = 0; v < g->n; v++) {
			uint32_t s;
			double acc = 0;

			if (!sybil_degree(g, v))
				continue; /* an isolated node keeps its trust */
			for (s = g->off[v]; s < g->off[v + 1]; s++)
				acc += per[g->adj[s]];
			t[v] = acc;
		}
	}
	for (v = 0; v < g->n; v++) {
		uint32_t d = sybil_degree(g, v);

		score[v] = d ? t[v] / d : 0;
	}
	rc = 0;
out:
	free(t);
	free(per);
	return rc;
}

/* ---------- AUC ---------- */

struct scored {
	double s;
	bool pos;
};

static int cmp_scored(const void *a, const void *b)
{
	double x = ((const struct scored *)a)->s, y = ((const struct scored *)b)->s;

	if (isnan(x) || isnan(y))
		return isnan(y) - isnan(x);
	return (x > y) - (x < y);
}

double sybil_auc(const double *score, const bool *positive, size_t n)
{
	struct scored *a = malloc((n ? n : 1) * sizeof(*a));
	double npos = 0, nneg = 0, rank_sum = 0;
	size_t i, j;

	if (!a)
		return NAN;
	for (i = 0; i < n; i++) {
		a[i].s = score[i];
		a[i].pos = positive[i];
		if (positive[i])
			npos++;
		else
			nneg++;
	}
	if (!npos || !nneg) {
		free(a);
		return NAN;
	}
	qsort(a, n, sizeof(*a), cmp_scored);
	for (i = 0; i < n; i = j) {
		double mid, p = 0;

		for (j = i; j < n && cmp_scored(&a[i], &a[j]) == 0; j++)
			p += a[j].pos;
		mid = ((double)i + 1 + (double)j) / 2; /* average 1-based rank of the tie group */
		rank_sum += p * mid;
	}
	free(a);
	return (rank_sum - npos * (npos + 1) / 2) / (npos * nneg);
}
