/* test_dht_msg.c: the OpenDHT codec against real python3-opendht 2.4.12 traffic
 * (tests/fuzz/corpus/dht, made by tests/fuzz/capture_dht.py), every refusal reason, and the
 * fast answers.
 *
 * Corpus files are named NNN_<direction>_<kind>.bin; direction probe2b marks requests the
 * capture script made by hand (not OpenDHT output), every other file is a real message. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dht_msg.h"
#include "fast.h"
#include "msgpack.h"
#include "routing.h"
#include "token.h"

#ifndef SN_DHT_CORPUS_DIR
#error "SN_DHT_CORPUS_DIR must name tests/fuzz/corpus/dht"
#endif

#define MAX_FILES 256
#define NETID	  94

struct corpus_file {
	char name[256];
	char dir[16];  /* a2b, b2a, probe2b, b2probe */
	char kind[32]; /* q-ping, r-find, e-401, p, ... */
	uint8_t *data;
	size_t len;
};

static struct corpus_file files[MAX_FILES];
static unsigned n_files;

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct corpus_file *)a)->name, ((const struct corpus_file *)b)->name);
}

static void load_corpus(void)
{
	DIR *d = opendir(SN_DHT_CORPUS_DIR);
	struct dirent *e;

	cr_assert_not_null(d, "corpus %s", SN_DHT_CORPUS_DIR);
	n_files = 0;
	while ((e = readdir(d)) && n_files < MAX_FILES) {
		struct corpus_file *f = &files[n_files];
		char path[1024], *p, *q;
		FILE *fp;
		long sz;

		if (!strstr(e->d_name, ".bin"))
			continue;
		snprintf(f->name, sizeof(f->name), "%s", e->d_name);
		p = strchr(f->name, '_');
		cr_assert_not_null(p);
		q = strchr(p + 1, '_');
		cr_assert_not_null(q);
		snprintf(f->dir, sizeof(f->dir), "%.*s", (int)(q - p - 1), p + 1);
		snprintf(f->kind, sizeof(f->kind), "%.*s", (int)(strlen(q + 1) - 4), q + 1);
		snprintf(path, sizeof(path), "%s/%s", SN_DHT_CORPUS_DIR, e->d_name);
		fp = fopen(path, "rb");
		cr_assert_not_null(fp);
		fseek(fp, 0, SEEK_END);
		sz = ftell(fp);
		fseek(fp, 0, SEEK_SET);
		f->data = malloc((size_t)sz + 1);
		f->len = fread(f->data, 1, (size_t)sz, fp);
		fclose(fp);
		cr_assert_eq(f->len, (size_t)sz);
		n_files++;
	}
	closedir(d);
	qsort(files, n_files, sizeof(files[0]), cmp_name);
}

static void free_corpus(void)
{
	for (unsigned i = 0; i < n_files; i++)
		free(files[i].data);
	n_files = 0;
}

TestSuite(dht_corpus, .init = load_corpus, .fini = free_corpus);

static enum sn_dht_type kind_type(const char *kind)
{
	switch (kind[0]) {
	case 'q':
		return SN_DHT_T_QUERY;
	case 'r':
		return SN_DHT_T_REPLY;
	case 'e':
		return SN_DHT_T_ERROR;
	case 'p':
		return SN_DHT_T_VALUE_DATA;
	default:
		return SN_DHT_T_VALUE_UPDATE;
	}
}

Test(dht_corpus, every_real_message_parses)
{
	unsigned kinds[8] = {0};

	cr_assert_geq(n_files, 50, "corpus has %u messages", n_files);
	for (unsigned i = 0; i < n_files; i++) {
		const struct corpus_file *f = &files[i];
		struct sn_dht_msg m;
		enum sn_dht_reason rs = sn_dht_parse(f->data, f->len, &m);

		cr_assert_eq(rs, SN_DHT_R_OK, "%s: %s", f->name, sn_dht_reason_names[rs]);
		cr_assert_eq(m.type, kind_type(f->kind), "%s", f->name);
		kinds[m.type]++;
		if (m.type == SN_DHT_T_QUERY)
			cr_assert_str_eq(sn_dht_query_names[m.query], f->kind + 2, "%s", f->name);
		if (m.type == SN_DHT_T_ERROR)
			cr_assert_eq(m.error_code, atoi(f->kind + 2), "%s", f->name);
		if (m.type != SN_DHT_T_VALUE_DATA)
			cr_assert(m.has & SN_DHT_F_ID);
		if (strcmp(f->dir, "probe2b") != 0) {
			/* OpenDHT sends our network in everything, its user agent in everything
			 * but value fragments */
			cr_assert_eq(m.network, NETID, "%s", f->name);
			cr_assert_eq(m.ua.len, m.type == SN_DHT_T_VALUE_DATA ? 0 : 4, "%s",
				     f->name);
			if (m.ua.len)
				cr_assert(memcmp(m.ua.p, "RNG1", 4) == 0);
		}
		if (m.type == SN_DHT_T_VALUE_DATA)
			cr_assert_geq(m.n_parts, 1);
	}
	cr_assert_gt(kinds[SN_DHT_T_QUERY], 0);
	cr_assert_gt(kinds[SN_DHT_T_REPLY], 0);
	cr_assert_gt(kinds[SN_DHT_T_ERROR], 0);
	cr_assert_gt(kinds[SN_DHT_T_VALUE_DATA], 0);
}

Test(dht_corpus, prefixes_are_refused)
{
	for (unsigned i = 0; i < n_files; i++) {
		const struct corpus_file *f = &files[i];
		struct sn_dht_msg m;

		for (size_t cut = 0; cut < f->len; cut++) {
			/* a fresh copy of exactly cut bytes, so ASan sees any overread */
			uint8_t *p = malloc(cut ? cut : 1);
			enum sn_dht_reason rs;

			memcpy(p, f->data, cut);
			rs = sn_dht_parse(p, cut, &m);
			cr_assert(rs == SN_DHT_R_TRUNCATED || rs == SN_DHT_R_LENGTH,
				  "%s cut %zu: %s", f->name, cut, sn_dht_reason_names[rs]);
			free(p);
		}
	}
}

/* Rebuilds a real message with our builders; returns the length, 0 if we have no builder
 * for its kind. */
static int rebuild(const struct sn_dht_msg *m, uint8_t *out, size_t cap)
{
	const uint8_t *n4[64], *n6[64];
	struct sn_node_addr sa;
	struct sn_dht_reply r;
	char text[256];

	switch (m->type) {
	case SN_DHT_T_REPLY:
		memset(&r, 0, sizeof(r));
		memset(&sa, 0, sizeof(sa));
		r.tid = m->tid;
		r.network = m->network;
		r.id = &m->id;
		if (m->has & SN_DHT_F_SA) {
			sa.family = m->sa_family;
			memcpy(sa.addr, m->sa, sn_node_addr_len(sa.family));
			r.sa = &sa;
		}
		if (m->has & SN_DHT_F_VID) {
			r.has_vid = true;
			r.vid = m->vid;
		}
		r.n_nodes4 = m->nodes4.len / SN_DHT_NODE4_LEN;
		r.n_nodes6 = m->nodes6.len / SN_DHT_NODE6_LEN;
		cr_assert_leq(r.n_nodes4, 64);
		cr_assert_leq(r.n_nodes6, 64);
		for (unsigned i = 0; i < r.n_nodes4; i++)
			n4[i] = m->nodes4.p + i * SN_DHT_NODE4_LEN;
		for (unsigned i = 0; i < r.n_nodes6; i++)
			n6[i] = m->nodes6.p + i * SN_DHT_NODE6_LEN;
		r.nodes4 = n4;
		r.nodes6 = n6;
		r.token = m->token.p;
		r.token_len = m->token.len;
		r.values = m->values.p;
		r.values_len = m->values.len;
		r.n_values = m->n_values;
		r.fields = m->fields.p;
		r.fields_len = m->fields.len;
		return sn_dht_build_reply(out, cap, &r);
	case SN_DHT_T_ERROR:
		cr_assert_lt(m->error_text.len, sizeof(text));
		memcpy(text, m->error_text.p, m->error_text.len);
		text[m->error_text.len] = '\0';
		return sn_dht_build_error(out, cap, m->tid, m->network, &m->id, m->error_code,
					  text);
	case SN_DHT_T_QUERY:
		if (m->query == SN_DHT_Q_PING)
			return sn_dht_build_ping(out, cap, m->tid, m->network, &m->id);
		if (m->query == SN_DHT_Q_FIND)
			return sn_dht_build_find(out, cap, m->tid, m->network, &m->id, &m->target,
						 m->has & SN_DHT_F_WANT ? m->want : 0);
		return 0;
	default:
		return 0;
	}
}

Test(dht_corpus, builders_match_opendht_byte_for_byte)
{
	unsigned rebuilt = 0, by_kind[3] = {0};

	for (unsigned i = 0; i < n_files; i++) {
		const struct corpus_file *f = &files[i];
		uint8_t out[2048];
		struct sn_dht_msg m;
		int len;

		if (strcmp(f->dir, "probe2b") == 0)
			continue;
		cr_assert_eq(sn_dht_parse(f->data, f->len, &m), SN_DHT_R_OK);
		len = rebuild(&m, out, sizeof(out));
		cr_assert_geq(len, 0, "%s", f->name);
		if (len == 0)
			continue;
		cr_assert_eq((size_t)len, f->len, "%s: %d bytes, OpenDHT sent %zu", f->name, len,
			     f->len);
		cr_assert(memcmp(out, f->data, f->len) == 0, "%s differs", f->name);
		rebuilt++;
		by_kind[m.type == SN_DHT_T_QUERY ? 0 : m.type == SN_DHT_T_REPLY ? 1 : 2]++;
		/* and the builder refuses a buffer one byte short */
		cr_assert_eq(rebuild(&m, out, f->len - 1), -EMSGSIZE, "%s", f->name);
	}
	cr_assert_geq(by_kind[0], 2, "queries rebuilt");
	cr_assert_geq(by_kind[1], 15, "replies rebuilt");
	cr_assert_geq(by_kind[2], 3, "errors rebuilt");
	cr_assert_eq(rebuilt, by_kind[0] + by_kind[1] + by_kind[2]);
}

Test(dht_corpus, real_find_reply_fields)
{
	bool seen4 = false, seen6 = false;

	for (unsigned i = 0; i < n_files; i++) {
		const struct corpus_file *f = &files[i];
		struct sn_dht_msg m;

		if (strcmp(f->kind, "r-find") != 0)
			continue;
		cr_assert_eq(sn_dht_parse(f->data, f->len, &m), SN_DHT_R_OK);
		/* OpenDHT gives a 32-byte token with every find answer and says where it saw us */
		cr_assert(m.has & SN_DHT_F_TOKEN);
		cr_assert_eq(m.token.len, SN_TOKEN_LEN);
		cr_assert(m.has & SN_DHT_F_SA);
		if (m.sa_family == AF_INET)
			cr_assert(memcmp(m.sa, "\x7f\x00\x00\x01", 4) == 0);
		cr_assert_leq(m.nodes4.len / SN_DHT_NODE4_LEN, SN_DHT_SEND_NODES);
		cr_assert_leq(m.nodes6.len / SN_DHT_NODE6_LEN, SN_DHT_SEND_NODES);
		seen4 |= m.nodes4.len > 0;
		seen6 |= m.nodes6.len > 0;
	}
	cr_assert(seen4 && seen6, "the corpus has find replies with n4 and with n6");
}

/* --- hand-made messages, one per refusal reason --- */

static const uint8_t ID[20] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa,
			       0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01, 0x02, 0x03, 0x04, 0x05};

static void k(struct sn_mp_writer *w, const char *key)
{
	sn_mp_write_cstr(w, key);
}

static void kid(struct sn_mp_writer *w, const char *key)
{
	k(w, key);
	sn_mp_write_bin(w, ID, 20);
}

/* {<body key>: {id, <extra>...}, q: <q>, t: 7, y: <y>, v: "RNG1", n: 94}: the caller writes
 * `extra` pairs after this returns and must have counted them in n_extra. */
static void head(struct sn_mp_writer *w, const char *body, unsigned n_extra, const char *q,
		 const char *y)
{
	sn_mp_write_map(w, 5 + (q != NULL) - (y == NULL));
	if (q) {
		k(w, "q");
		sn_mp_write_cstr(w, q);
	}
	k(w, "t");
	sn_mp_write_uint(w, 7);
	if (y) {
		k(w, "y");
		sn_mp_write_cstr(w, y);
	}
	k(w, "v");
	sn_mp_write_cstr(w, "RNG1");
	k(w, "n");
	sn_mp_write_uint(w, NETID);
	k(w, body);
	sn_mp_write_map(w, 1 + n_extra);
	kid(w, "id");
}

#define N_CASES 62

/* Writes case c into w; returns the reason the parser must give. */
static enum sn_dht_reason make_case(int c, struct sn_mp_writer *w)
{
	uint8_t zero[40] = {0};

	switch (c) {
	case 0:
		sn_mp_write_array(w, 0);
		return SN_DHT_R_NOT_MAP;
	case 1:
		sn_mp_write_raw(w, "\xc1", 1);
		return SN_DHT_R_MALFORMED;
	case 2:
		head(w, "a", 0, "ping", "q");
		sn_mp_write_nil(w);
		return SN_DHT_R_TRAILING;
	case 3:
		sn_mp_write_map(w, 1);
		sn_mp_write_uint(w, 1);
		sn_mp_write_nil(w);
		return SN_DHT_R_KEY_TYPE;
	case 4:
		sn_mp_write_map(w, 2);
		k(w, "t");
		sn_mp_write_uint(w, 1);
		k(w, "t");
		sn_mp_write_uint(w, 2);
		return SN_DHT_R_DUPLICATE_KEY;
	case 5:
		head(w, "a", 1, "ping", "q");
		kid(w, "id");
		return SN_DHT_R_DUPLICATE_KEY;
	case 6:
		sn_mp_write_map(w, 1);
		k(w, "y");
		sn_mp_write_uint(w, 5);
		return SN_DHT_R_BAD_Y;
	case 7:
		head(w, "a", 0, "ping", "r");
		return SN_DHT_R_BAD_Y;
	case 8:
		sn_mp_write_map(w, 1);
		k(w, "t");
		sn_mp_write_int(w, -1);
		return SN_DHT_R_BAD_TID;
	case 9:
		sn_mp_write_map(w, 1);
		k(w, "t");
		sn_mp_write_uint(w, 1ull << 32);
		return SN_DHT_R_BAD_TID;
	case 10:
		sn_mp_write_map(w, 1);
		k(w, "t");
		sn_mp_write_bin(w, "abc", 3);
		return SN_DHT_R_BAD_TID;
	case 11:
		sn_mp_write_map(w, 1);
		k(w, "n");
		sn_mp_write_cstr(w, "x");
		return SN_DHT_R_BAD_NETWORK;
	case 12:
		sn_mp_write_map(w, 1);
		k(w, "n");
		sn_mp_write_uint(w, 1ull << 32);
		return SN_DHT_R_BAD_NETWORK;
	case 13:
		sn_mp_write_map(w, 1);
		k(w, "v");
		sn_mp_write_uint(w, 1);
		return SN_DHT_R_BAD_UA;
	case 14:
		sn_mp_write_map(w, 1);
		k(w, "s");
		sn_mp_write_uint(w, 1);
		return SN_DHT_R_BAD_CLIENT;
	case 15:
		sn_mp_write_map(w, 1);
		k(w, "q");
		sn_mp_write_uint(w, 1);
		return SN_DHT_R_BAD_QUERY_NAME;
	case 16:
		head(w, "a", 0, "nope", "q");
		return SN_DHT_R_UNKNOWN_QUERY;
	case 17:
		head(w, "a", 0, NULL, "q");
		return SN_DHT_R_UNKNOWN_QUERY;
	case 18:
		sn_mp_write_map(w, 2);
		k(w, "t");
		sn_mp_write_uint(w, 1);
		k(w, "y");
		sn_mp_write_cstr(w, "q");
		return SN_DHT_R_NO_BODY;
	case 19:
		sn_mp_write_map(w, 1);
		k(w, "a");
		sn_mp_write_array(w, 0);
		return SN_DHT_R_BAD_BODY;
	case 20:
		sn_mp_write_map(w, 2);
		k(w, "a");
		sn_mp_write_map(w, 0);
		k(w, "r");
		sn_mp_write_map(w, 0);
		return SN_DHT_R_BAD_BODY;
	case 21:
		sn_mp_write_map(w, 1);
		k(w, "e");
		sn_mp_write_array(w, 1);
		sn_mp_write_uint(w, 401);
		return SN_DHT_R_BAD_ERROR;
	case 22:
		sn_mp_write_map(w, 1);
		k(w, "e");
		sn_mp_write_array(w, 2);
		sn_mp_write_uint(w, 70000);
		sn_mp_write_cstr(w, "x");
		return SN_DHT_R_BAD_ERROR;
	case 23:
		sn_mp_write_map(w, 1);
		k(w, "a");
		sn_mp_write_map(w, 1);
		k(w, "id");
		sn_mp_write_bin(w, ID, 19);
		return SN_DHT_R_BAD_ID;
	case 24:
		head(w, "a", 1, "get", "q");
		k(w, "h");
		sn_mp_write_str(w, (const char *)ID, 20);
		return SN_DHT_R_BAD_HASH;
	case 25:
		head(w, "a", 1, "find", "q");
		k(w, "target");
		sn_mp_write_bin(w, zero, 21);
		return SN_DHT_R_BAD_TARGET;
	case 26:
		head(w, "a", 1, "listen", "q");
		k(w, "sid");
		sn_mp_write_cstr(w, "abc");
		return SN_DHT_R_BAD_SID;
	case 27:
		head(w, "a", 1, "put", "q");
		k(w, "token");
		sn_mp_write_cstr(w, "token");
		return SN_DHT_R_BAD_TOKEN;
	case 28:
		head(w, "a", 1, "refresh", "q");
		k(w, "vid");
		sn_mp_write_int(w, -1);
		return SN_DHT_R_BAD_VID;
	case 29:
		head(w, "r", 1, NULL, "r");
		k(w, "n4");
		sn_mp_write_bin(w, zero, 27);
		return SN_DHT_R_BAD_NODES4;
	case 30:
		head(w, "r", 1, NULL, "r");
		k(w, "n6");
		sn_mp_write_bin(w, zero, 37);
		return SN_DHT_R_BAD_NODES6;
	case 31:
		head(w, "r", 1, NULL, "r");
		k(w, "sa");
		sn_mp_write_bin(w, zero, 5);
		return SN_DHT_R_BAD_SA;
	case 32:
		head(w, "a", 1, "put", "q");
		k(w, "c");
		sn_mp_write_cstr(w, "x");
		return SN_DHT_R_BAD_CREATED;
	case 33:
		head(w, "a", 1, "put", "q");
		k(w, "values");
		sn_mp_write_array(w, 1);
		sn_mp_write_nil(w);
		return SN_DHT_R_BAD_VALUES;
	case 34:
		head(w, "a", 1, "put", "q");
		k(w, "values");
		sn_mp_write_array(w, 1);
		sn_mp_write_uint(w, SN_DHT_MAX_VALUE_SIZE + 33);
		return SN_DHT_R_BAD_VALUES;
	case 35:
		head(w, "r", 1, NULL, "r");
		k(w, "fileds");
		sn_mp_write_array(w, 0);
		return SN_DHT_R_BAD_FIELDS;
	case 36:
		head(w, "a", 1, "get", "q");
		k(w, "q");
		sn_mp_write_array(w, 0);
		return SN_DHT_R_BAD_FILTER;
	case 37:
		head(w, "a", 1, "find", "q");
		k(w, "w");
		sn_mp_write_array(w, 1);
		sn_mp_write_cstr(w, "x");
		return SN_DHT_R_BAD_WANT;
	case 38:
		head(w, "a", 1, "listen", "q");
		k(w, "ve");
		sn_mp_write_uint(w, 1ull << 40);
		return SN_DHT_R_BAD_VERSION;
	case 39:
		head(w, "a", 1, "update", "q");
		k(w, "exp");
		sn_mp_write_array(w, 1);
		sn_mp_write_int(w, -1);
		return SN_DHT_R_BAD_VALUE_IDS;
	case 40:
		sn_mp_write_map(w, 1);
		k(w, "p");
		sn_mp_write_map(w, 1);
		sn_mp_write_uint(w, 0);
		sn_mp_write_map(w, 1);
		k(w, "o");
		sn_mp_write_uint(w, 0);
		return SN_DHT_R_BAD_PARTS;
	case 41:
		sn_mp_write_map(w, 2);
		k(w, "q");
		sn_mp_write_cstr(w, "ping");
		k(w, "a");
		sn_mp_write_map(w, 0);
		return SN_DHT_R_MISSING_ID;
	case 42:
		sn_mp_write_map(w, 2);
		k(w, "q");
		sn_mp_write_cstr(w, "ping");
		k(w, "a");
		sn_mp_write_map(w, 1);
		k(w, "id");
		sn_mp_write_bin(w, zero, 20);
		return SN_DHT_R_MISSING_ID;
	case 43:
		head(w, "a", 0, "find", "q");
		return SN_DHT_R_MISSING_TARGET;
	case 44:
		head(w, "a", 1, "ping", "q");
		k(w, "future");
		for (int i = 0; i < SN_DHT_MAX_DEPTH; i++)
			sn_mp_write_array(w, 1);
		sn_mp_write_nil(w);
		return SN_DHT_R_TOO_DEEP;
	case 45:
		sn_mp_write_map(w, SN_DHT_MAX_KEYS + 1);
		for (int i = 0; i <= SN_DHT_MAX_KEYS; i++) {
			sn_mp_write_uint(w, (uint64_t)i);
			sn_mp_write_nil(w);
		}
		return SN_DHT_R_TOO_MANY_KEYS;
	case 46:
		sn_mp_write_map(w, 1);
		k(w, "t");
		sn_mp_write_raw(w, "\xce\x00\x00", 3);
		return SN_DHT_R_TRUNCATED;
	case 47:
		sn_mp_write_map(w, 1);
		sn_mp_write_raw(w, "\xdb\x00\x00\x10\x00t", 6);
		sn_mp_write_nil(w);
		return SN_DHT_R_LENGTH;
	case 48:
		sn_mp_write_map(w, 2);
		k(w, "p");
		sn_mp_write_map(w, 0);
		k(w, "a");
		sn_mp_write_map(w, 0);
		return SN_DHT_R_BAD_BODY;
	case 49:
		sn_mp_write_map(w, 2);
		k(w, "e");
		sn_mp_write_array(w, 2);
		sn_mp_write_uint(w, 404);
		sn_mp_write_cstr(w, "x");
		k(w, "a");
		sn_mp_write_map(w, 0);
		return SN_DHT_R_BAD_BODY;
	case 50:
		head(w, "r", 0, NULL, "q");
		return SN_DHT_R_BAD_Y;
	case 51:
		head(w, "a", 1, "find", "q");
		kid(w, "target");
		return SN_DHT_R_OK;
	case 52: /* unknown keys anywhere are skipped */
		sn_mp_write_map(w, 6);
		k(w, "zz");
		sn_mp_write_map(w, 1);
		sn_mp_write_uint(w, 3);
		sn_mp_write_array(w, 0);
		k(w, "q");
		sn_mp_write_cstr(w, "ping");
		k(w, "a");
		sn_mp_write_map(w, 2);
		k(w, "later");
		sn_mp_write_bin(w, zero, 3);
		kid(w, "id");
		k(w, "n");
		sn_mp_write_uint(w, NETID);
		k(w, "s");
		sn_mp_write_bool(w, true);
		k(w, "t");
		sn_mp_write_bin(w, "\x01\x02\x03\x04", 4);
		return SN_DHT_R_OK;
	case 53: /* a version-0 listener push: u with y "r" */
		head(w, "u", 1, NULL, "r");
		k(w, "re");
		sn_mp_write_array(w, 2);
		sn_mp_write_uint(w, 1);
		sn_mp_write_uint(w, UINT64_MAX);
		return SN_DHT_R_OK;
	case 54:
		sn_mp_write_map(w, 1);
		k(w, "v");
		sn_mp_write_raw(w,
				"\xa5"
				"RN",
				3);
		return SN_DHT_R_LENGTH;
	case 55:
		head(w, "a", 1, "ping", "q");
		k(w, "id2");
		sn_mp_write_raw(w, "\xc1", 1);
		return SN_DHT_R_MALFORMED;
	case 56: /* p with two parts, in order, as OpenDHT sends them */
		sn_mp_write_map(w, 4);
		k(w, "n");
		sn_mp_write_uint(w, NETID);
		k(w, "y");
		sn_mp_write_cstr(w, "p");
		k(w, "t");
		sn_mp_write_uint(w, 9);
		k(w, "p");
		sn_mp_write_map(w, 2);
		for (int i = 0; i < 2; i++) {
			sn_mp_write_uint(w, (uint64_t)i);
			sn_mp_write_map(w, 2);
			k(w, "o");
			sn_mp_write_uint(w, 0);
			k(w, "d");
			sn_mp_write_bin(w, zero, 10);
		}
		return SN_DHT_R_OK;
	case 57:
		head(w, "a", 1, "find", "q");
		k(w, "target");
		sn_mp_write_bin(w, ID, 20);
		sn_mp_write_nil(w); /* also trailing */
		return SN_DHT_R_TRAILING;
	case 58:
		head(w, "a", 1, "get", "q");
		k(w, "values");
		sn_mp_write_cstr(w, "no");
		return SN_DHT_R_BAD_VALUES;
	case 59:
		head(w, "a", 1, "listen", "q");
		k(w, "w");
		sn_mp_write_array(w, 1);
		sn_mp_write_uint(w, 70000);
		return SN_DHT_R_BAD_WANT;
	case 60:
		sn_mp_write_map(w, 1);
		k(w, "p");
		sn_mp_write_map(w, 1);
		sn_mp_write_cstr(w, "0");
		sn_mp_write_map(w, 0);
		return SN_DHT_R_BAD_PARTS;
	case 61:
		head(w, "a", SN_DHT_MAX_KEYS, "ping", "q");
		for (int i = 0; i < SN_DHT_MAX_KEYS; i++) {
			char key[8];

			snprintf(key, sizeof(key), "x%d", i);
			k(w, key);
			sn_mp_write_nil(w);
		}
		return SN_DHT_R_TOO_MANY_KEYS;
	default:
		cr_assert_fail("no case %d", c);
		return SN_DHT_R_MAX;
	}
}

Test(dht_parse, every_reason_has_a_case)
{
	bool seen[SN_DHT_R_MAX] = {false};
	uint8_t buf[1024];

	for (int c = 0; c < N_CASES; c++) {
		struct sn_mp_writer w;
		struct sn_dht_msg m;
		enum sn_dht_reason want, got;
		int len;

		sn_mp_writer_init(&w, buf, sizeof(buf));
		want = make_case(c, &w);
		len = sn_mp_writer_result(&w);
		cr_assert_gt(len, 0, "case %d", c);
		got = sn_dht_parse(buf, (size_t)len, &m);
		cr_assert_eq(got, want, "case %d: got %s, want %s", c, sn_dht_reason_names[got],
			     sn_dht_reason_names[want]);
		seen[got] = true;
	}
	/* the policy reasons belong to the fast path and are tested there */
	for (int r = 0; r < SN_DHT_R_MAX; r++) {
		if (r == SN_DHT_R_WRONG_NETWORK || r == SN_DHT_R_SELF_ID || r == SN_DHT_R_MARTIAN ||
		    r == SN_DHT_R_NO_ROOM)
			continue;
		cr_assert(seen[r], "no case for %s", sn_dht_reason_names[r]);
	}
	/* labels are distinct */
	for (int a = 0; a < SN_DHT_R_MAX; a++)
		for (int b = a + 1; b < SN_DHT_R_MAX; b++)
			cr_assert_str_neq(sn_dht_reason_names[a], sn_dht_reason_names[b]);
}

Test(dht_parse, accepted_fields)
{
	uint8_t buf[1024];
	struct sn_mp_writer w;
	struct sn_dht_msg m;

	sn_mp_writer_init(&w, buf, sizeof(buf));
	make_case(52, &w);
	cr_assert_eq(sn_dht_parse(buf, (size_t)sn_mp_writer_result(&w), &m), SN_DHT_R_OK);
	cr_assert_eq(m.type, SN_DHT_T_QUERY);
	cr_assert_eq(m.query, SN_DHT_Q_PING);
	cr_assert_eq(m.tid, 0x01020304); /* 4-byte tids are big-endian */
	cr_assert(m.is_client);
	cr_assert_eq(m.network, NETID);
	cr_assert(memcmp(m.id.b, ID, 20) == 0);

	sn_mp_writer_init(&w, buf, sizeof(buf));
	make_case(53, &w);
	cr_assert_eq(sn_dht_parse(buf, (size_t)sn_mp_writer_result(&w), &m), SN_DHT_R_OK);
	cr_assert_eq(m.type, SN_DHT_T_VALUE_UPDATE);
	cr_assert_eq(m.n_refreshed, 2);
	cr_assert_eq(m.refreshed.len, 1 + 9);

	sn_mp_writer_init(&w, buf, sizeof(buf));
	make_case(56, &w);
	cr_assert_eq(sn_dht_parse(buf, (size_t)sn_mp_writer_result(&w), &m), SN_DHT_R_OK);
	cr_assert_eq(m.type, SN_DHT_T_VALUE_DATA);
	cr_assert_eq(m.n_parts, 2);
	cr_assert_eq(m.tid, 9);

	sn_mp_writer_init(&w, buf, sizeof(buf));
	make_case(51, &w);
	cr_assert_eq(sn_dht_parse(buf, (size_t)sn_mp_writer_result(&w), &m), SN_DHT_R_OK);
	cr_assert_eq(m.query, SN_DHT_Q_FIND);
	cr_assert(!(m.has & SN_DHT_F_WANT));
	cr_assert(memcmp(m.target.b, ID, 20) == 0);
}

Test(dht_build, queries_we_send)
{
	uint8_t buf[256];
	struct sn_node_id id, target;
	struct sn_dht_msg m;
	int len;

	memcpy(id.b, ID, 20);
	memset(target.b, 0xab, 20);
	len = sn_dht_build_ping(buf, sizeof(buf), 0xdeadbeef, NETID, &id);
	cr_assert_gt(len, 0);
	cr_assert_eq(sn_dht_parse(buf, (size_t)len, &m), SN_DHT_R_OK);
	cr_assert_eq(m.query, SN_DHT_Q_PING);
	cr_assert_eq(m.tid, 0xdeadbeef);
	cr_assert_eq(m.network, NETID);
	for (unsigned want = 0; want < 4; want++) {
		len = sn_dht_build_find(buf, sizeof(buf), 5, 0, &id, &target, want);
		cr_assert_gt(len, 0);
		cr_assert_eq(sn_dht_parse(buf, (size_t)len, &m), SN_DHT_R_OK);
		cr_assert_eq(m.query, SN_DHT_Q_FIND);
		cr_assert(!(m.has & SN_DHT_F_NETWORK)); /* network 0 is not sent */
		cr_assert_eq(!!(m.has & SN_DHT_F_WANT), want != 0);
		if (want)
			cr_assert_eq(m.want, want);
		cr_assert(sn_node_id_eq(&m.target, &target));
	}
	len = sn_dht_build_error(buf, sizeof(buf), 3, NETID, NULL, SN_DHT_ERR_UNAUTHORIZED,
				 SN_DHT_TEXT_PUT_WRONG_TOKEN);
	cr_assert_gt(len, 0);
	/* without an id OpenDHT would drop it, and so do we */
	cr_assert_eq(sn_dht_parse(buf, (size_t)len, &m), SN_DHT_R_MISSING_ID);
	cr_assert_eq(sn_dht_build_pong(buf, sizeof(buf), 1, 0, &id, NULL), -EINVAL);
	cr_assert_eq(sn_dht_build_ping(buf, 10, 1, 0, &id), -EMSGSIZE);
}

/* --- fast answers --- */

static struct sn_node_id self_id;
static struct sn_token_secrets secrets;
static struct sn_rt_snapshot *snap;
static struct sn_rt_node snap_nodes[200];

static void fast_init(void)
{
	uint8_t sec[SN_TOKEN_SECRET_LEN];
	uint64_t x = 12345;

	load_corpus();
	for (unsigned i = 0; i < 20; i++)
		self_id.b[i] = (uint8_t)(0xa0 + i);
	for (unsigned i = 0; i < SN_TOKEN_SECRET_LEN; i++)
		sec[i] = (uint8_t)i;
	sn_token_init(&secrets, sec);
	for (unsigned i = 0; i < 200; i++) {
		struct sn_rt_node *n = &snap_nodes[i];

		memset(n, 0, sizeof(*n));
		for (unsigned b = 0; b < 20; b++) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			n->id.b[b] = (uint8_t)(x >> 56);
		}
		n->addr.family = i % 2 ? AF_INET6 : AF_INET;
		n->addr.port = htons((uint16_t)(4000 + i));
		n->addr.addr[0] = 198;
		n->addr.addr[1] = 18;
		n->addr.addr[3] = (uint8_t)i;
	}
	snap = sn_rt_snapshot_from_nodes(snap_nodes, 200, 1, 1);
	cr_assert_not_null(snap);
}

static void fast_fini(void)
{
	sn_rt_snapshot_free(snap);
	free_corpus();
}

TestSuite(dht_fast, .init = fast_init, .fini = fast_fini);

static struct sn_dht_fast_ctx ctx(void)
{
	return (struct sn_dht_fast_ctx){
	    .self = &self_id, .network = NETID, .snap = snap, .tokens = &secrets};
}

static struct sn_node_addr from4(void)
{
	struct sn_node_addr a = {.family = AF_INET, .port = htons(4222)};

	memcpy(a.addr, "\xc6\x12\x00\x02", 4);
	return a;
}

static struct sn_node_addr from6(void)
{
	struct sn_node_addr a = {.family = AF_INET6, .port = htons(5555)};

	memcpy(a.addr, "\x20\x01\x0d\xb8\x00\x5e\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02", 16);
	return a;
}

static const struct corpus_file *first(const char *dir, const char *kind)
{
	for (unsigned i = 0; i < n_files; i++)
		if ((!dir || strcmp(files[i].dir, dir) == 0) && strcmp(files[i].kind, kind) == 0)
			return &files[i];
	cr_assert_fail("no %s %s in the corpus", dir ? dir : "*", kind);
	return NULL;
}

Test(dht_fast, ping_gets_pong)
{
	const struct corpus_file *f = first("a2b", "q-ping");
	struct sn_dht_fast_ctx c = ctx();
	struct sn_node_addr from = from4();
	struct sn_dht_fast_result res;
	struct sn_dht_msg req, rep;
	uint8_t out[SN_DHT_FAST_REPLY_MAX];
	uint8_t want[128];
	int want_len;

	sn_dht_fast_process(&c, f->data, f->len, &from, out, sizeof(out), &res);
	cr_assert_eq(res.verdict, SN_DHT_REPLY, "%s", sn_dht_reason_names[res.reason]);
	cr_assert_eq(res.query, SN_DHT_Q_PING);
	cr_assert_eq(sn_dht_parse(f->data, f->len, &req), SN_DHT_R_OK);
	cr_assert_eq(sn_dht_parse(out, res.len, &rep), SN_DHT_R_OK);
	cr_assert_eq(rep.type, SN_DHT_T_REPLY);
	cr_assert_eq(rep.tid, req.tid);
	cr_assert(sn_node_id_eq(&rep.id, &self_id));
	cr_assert_eq(rep.sa_family, AF_INET);
	cr_assert(memcmp(rep.sa, from.addr, 4) == 0);
	cr_assert_eq(rep.network, NETID);
	/* exactly the pong OpenDHT sends */
	want_len = sn_dht_build_pong(want, sizeof(want), req.tid, NETID, &self_id, &from);
	cr_assert_eq(want_len, (int)res.len);
	cr_assert(memcmp(want, out, res.len) == 0);
}

/* Checks a reply's node list against the closest entries of the snapshot. */
static void check_nodes(const struct sn_dht_span *s, int family, const struct sn_node_id *target)
{
	const uint8_t *want[SN_DHT_SEND_NODES];
	unsigned len = sn_rt_compact_len(family);
	unsigned n = sn_rt_closest_k(snap, target, family, SN_DHT_SEND_NODES, want);

	cr_assert_eq(s->len, n * len);
	for (unsigned i = 0; i < n; i++)
		cr_assert(memcmp(s->p + i * len, want[i], len) == 0);
}

Test(dht_fast, find_answers_closest_nodes_and_token)
{
	const struct corpus_file *f = first("a2b", "q-find");
	struct sn_dht_fast_ctx c = ctx();
	struct sn_node_addr from = from4(), other = from4();
	struct sn_dht_fast_result res;
	struct sn_dht_msg req, rep;
	uint8_t out[SN_DHT_FAST_REPLY_MAX];

	/* a real find from OpenDHT without w, over IPv4: IPv4 nodes only */
	sn_dht_fast_process(&c, f->data, f->len, &from, out, sizeof(out), &res);
	cr_assert_eq(res.verdict, SN_DHT_REPLY);
	sn_dht_parse(f->data, f->len, &req);
	cr_assert(!(req.has & SN_DHT_F_WANT));
	cr_assert_eq(sn_dht_parse(out, res.len, &rep), SN_DHT_R_OK);
	cr_assert_eq(rep.tid, req.tid);
	check_nodes(&rep.nodes4, AF_INET, &req.target);
	cr_assert_eq(rep.nodes4.len, SN_DHT_SEND_NODES * SN_DHT_NODE4_LEN);
	cr_assert(!(rep.has & SN_DHT_F_NODES6));
	cr_assert_eq(rep.token.len, SN_TOKEN_LEN);
	cr_assert_eq(sn_token_check(&secrets, &from, rep.token.p, rep.token.len), 0);
	other.port = htons(4223);
	cr_assert_eq(sn_token_check(&secrets, &other, rep.token.p, rep.token.len), -EACCES);

	/* the same over IPv6: IPv6 nodes only */
	from = from6();
	sn_dht_fast_process(&c, f->data, f->len, &from, out, sizeof(out), &res);
	cr_assert_eq(res.verdict, SN_DHT_REPLY);
	cr_assert_eq(sn_dht_parse(out, res.len, &rep), SN_DHT_R_OK);
	cr_assert_eq(rep.sa_family, AF_INET6);
	cr_assert(!(rep.has & SN_DHT_F_NODES4));
	check_nodes(&rep.nodes6, AF_INET6, &req.target);
}

Test(dht_fast, find_honours_want)
{
	struct sn_dht_fast_ctx c = ctx();
	struct sn_node_addr from = from6();
	struct sn_dht_fast_result res;
	struct sn_dht_msg rep;
	struct sn_node_id peer, target;
	uint8_t req[256], out[SN_DHT_FAST_REPLY_MAX];
	int len;

	memcpy(peer.b, ID, 20);
	memset(target.b, 0x42, 20);
	for (unsigned want = 0; want < 4; want++) {
		len = sn_dht_build_find(req, sizeof(req), 77, NETID, &peer, &target, want);
		sn_dht_fast_process(&c, req, (size_t)len, &from, out, sizeof(out), &res);
		cr_assert_eq(res.verdict, SN_DHT_REPLY);
		cr_assert_eq(sn_dht_parse(out, res.len, &rep), SN_DHT_R_OK);
		if (want == 0) {
			/* no w: the family it came over */
			cr_assert(!(rep.has & SN_DHT_F_NODES4));
			check_nodes(&rep.nodes6, AF_INET6, &target);
			continue;
		}
		cr_assert_eq(!!(rep.has & SN_DHT_F_NODES4), !!(want & SN_DHT_WANT4));
		cr_assert_eq(!!(rep.has & SN_DHT_F_NODES6), !!(want & SN_DHT_WANT6));
		if (want & SN_DHT_WANT4)
			check_nodes(&rep.nodes4, AF_INET, &target);
		if (want & SN_DHT_WANT6)
			check_nodes(&rep.nodes6, AF_INET6, &target);
		cr_assert_leq(res.len, SN_DHT_FAST_REPLY_MAX);
	}
	/* an empty w: no nodes at all, still a token (as OpenDHT) */
	{
		struct sn_mp_writer w;

		sn_mp_writer_init(&w, req, sizeof(req));
		head(&w, "a", 2, "find", "q");
		kid(&w, "target");
		k(&w, "w");
		sn_mp_write_array(&w, 0);
		len = sn_mp_writer_result(&w);
	}
	sn_dht_fast_process(&c, req, (size_t)len, &from, out, sizeof(out), &res);
	cr_assert_eq(res.verdict, SN_DHT_REPLY);
	cr_assert_eq(sn_dht_parse(out, res.len, &rep), SN_DHT_R_OK);
	cr_assert(!(rep.has & (SN_DHT_F_NODES4 | SN_DHT_F_NODES6)));
	cr_assert(rep.has & SN_DHT_F_TOKEN);

	/* no snapshot and no secrets yet: an empty answer */
	c.snap = NULL;
	c.tokens = NULL;
	sn_dht_fast_process(&c, req, (size_t)len, &from, out, sizeof(out), &res);
	cr_assert_eq(res.verdict, SN_DHT_REPLY);
	cr_assert_eq(sn_dht_parse(out, res.len, &rep), SN_DHT_R_OK);
	cr_assert(!(rep.has & SN_DHT_F_TOKEN));
}

Test(dht_fast, drops_and_punts)
{
	struct sn_dht_fast_ctx c = ctx();
	struct sn_node_addr from = from4();
	struct sn_dht_fast_result res;
	uint8_t out[SN_DHT_FAST_REPLY_MAX], req[256];
	struct sn_node_id peer;
	unsigned punted = 0;
	int len;

	/* every real message that is not a ping or find goes to control */
	for (unsigned i = 0; i < n_files; i++) {
		const struct corpus_file *f = &files[i];

		if (strcmp(f->dir, "probe2b") == 0)
			continue;
		sn_dht_fast_process(&c, f->data, f->len, &from, out, sizeof(out), &res);
		if (strcmp(f->kind, "q-ping") == 0 || strcmp(f->kind, "q-find") == 0) {
			cr_assert_eq(res.verdict, SN_DHT_REPLY, "%s", f->name);
		} else {
			cr_assert_eq(res.verdict, SN_DHT_PUNT, "%s: %s", f->name,
				     sn_dht_reason_names[res.reason]);
			punted++;
		}
	}
	cr_assert_gt(punted, 30);

	memcpy(peer.b, ID, 20);
	/* wrong network, and the public network (no n) when we are on 94 */
	len = sn_dht_build_ping(req, sizeof(req), 1, 95, &peer);
	sn_dht_fast_process(&c, req, (size_t)len, &from, out, sizeof(out), &res);
	cr_assert_eq(res.verdict, SN_DHT_DROP);
	cr_assert_eq(res.reason, SN_DHT_R_WRONG_NETWORK);
	len = sn_dht_build_ping(req, sizeof(req), 1, 0, &peer);
	sn_dht_fast_process(&c, req, (size_t)len, &from, out, sizeof(out), &res);
	cr_assert_eq(res.reason, SN_DHT_R_WRONG_NETWORK);
	/* our own id */
	len = sn_dht_build_ping(req, sizeof(req), 1, NETID, &self_id);
	sn_dht_fast_process(&c, req, (size_t)len, &from, out, sizeof(out), &res);
	cr_assert_eq(res.verdict, SN_DHT_DROP);
	cr_assert_eq(res.reason, SN_DHT_R_SELF_ID);
	/* a martian source */
	len = sn_dht_build_ping(req, sizeof(req), 1, NETID, &peer);
	from.port = 0;
	sn_dht_fast_process(&c, req, (size_t)len, &from, out, sizeof(out), &res);
	cr_assert_eq(res.reason, SN_DHT_R_MARTIAN);
	from = from4();
	/* a reply buffer too small */
	sn_dht_fast_process(&c, req, (size_t)len, &from, out, 20, &res);
	cr_assert_eq(res.verdict, SN_DHT_DROP);
	cr_assert_eq(res.reason, SN_DHT_R_NO_ROOM);
	/* garbage */
	sn_dht_fast_process(&c, "\x93\x01\x02\x03", 4, &from, out, sizeof(out), &res);
	cr_assert_eq(res.verdict, SN_DHT_DROP);
	cr_assert_eq(res.reason, SN_DHT_R_NOT_MAP);
}
