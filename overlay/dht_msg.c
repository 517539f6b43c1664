/* dht_msg.c: see dht_msg.h. */
#include "dht_msg.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "msgpack.h"

/* clang-format off */
const char *const sn_dht_query_names[SN_DHT_Q_MAX] = {
	[SN_DHT_Q_NONE] = "none",
#define SN_X_NAME(name, str) [SN_DHT_Q_##name] = str,
	SN_DHT_QUERIES(SN_X_NAME)
#undef SN_X_NAME
};

const char *const sn_dht_reason_names[SN_DHT_R_MAX] = {
#define SN_X_NAME(name, label) [SN_DHT_R_##name] = label,
	SN_DHT_REASONS(SN_X_NAME)
#undef SN_X_NAME
};
/* clang-format on */

/* Maps a reader error: structural failures have their own reasons whatever the field;
 * a wrong type or range is the field's fault. */
static enum sn_dht_reason why(int rc, enum sn_dht_reason field)
{
	switch (rc) {
	case 0:
		return SN_DHT_R_OK;
	case -ENODATA:
		return SN_DHT_R_TRUNCATED;
	case -EMSGSIZE:
		return SN_DHT_R_LENGTH;
	case -EBADMSG:
		return SN_DHT_R_MALFORMED;
	case -ELOOP:
		return SN_DHT_R_TOO_DEEP;
	default:
		return field;
	}
}

/* --- keys --- */

enum top_key {
	TK_Y,
	TK_T,
	TK_V,
	TK_N,
	TK_S,
	TK_Q,
	TK_A,
	TK_R,
	TK_U,
	TK_E,
	TK_P,
	TK_UNKNOWN,
};

/* A key with its length, so that lookups compare lengths before bytes. */
struct key {
	char s[8];
	uint32_t len;
};

#define KEY_ENTRY(idx, lit) [idx] = {lit, sizeof(lit) - 1}

/* clang-format off */
static const struct key top_keys[TK_UNKNOWN] = {
	KEY_ENTRY(TK_Y, "y"), KEY_ENTRY(TK_T, "t"), KEY_ENTRY(TK_V, "v"), KEY_ENTRY(TK_N, "n"),
	KEY_ENTRY(TK_S, "s"), KEY_ENTRY(TK_Q, "q"), KEY_ENTRY(TK_A, "a"), KEY_ENTRY(TK_R, "r"),
	KEY_ENTRY(TK_U, "u"), KEY_ENTRY(TK_E, "e"), KEY_ENTRY(TK_P, "p"),
};

enum body_key {
	BK_ID,
	BK_H,
	BK_TARGET,
	BK_Q,
	BK_TOKEN,
	BK_VID,
	BK_N4,
	BK_N6,
	BK_C,
	BK_SA,
	BK_VALUES,
	BK_EXP,
	BK_RE,
	BK_FIELDS,
	BK_W,
	BK_VE,
	BK_SID,
	BK_UNKNOWN,
};

static const struct key body_keys[BK_UNKNOWN] = {
	KEY_ENTRY(BK_ID, "id"),         KEY_ENTRY(BK_H, "h"),       KEY_ENTRY(BK_TARGET, "target"),
	KEY_ENTRY(BK_Q, "q"),           KEY_ENTRY(BK_TOKEN, "token"), KEY_ENTRY(BK_VID, "vid"),
	KEY_ENTRY(BK_N4, "n4"),         KEY_ENTRY(BK_N6, "n6"),     KEY_ENTRY(BK_C, "c"),
	KEY_ENTRY(BK_SA, "sa"),         KEY_ENTRY(BK_VALUES, "values"), KEY_ENTRY(BK_EXP, "exp"),
	KEY_ENTRY(BK_RE, "re"),         KEY_ENTRY(BK_FIELDS, "fileds"), KEY_ENTRY(BK_W, "w"),
	KEY_ENTRY(BK_VE, "ve"),         KEY_ENTRY(BK_SID, "sid"),
};

static const struct key query_keys[SN_DHT_Q_MAX] = {
#define SN_X_KEY(name, str) KEY_ENTRY(SN_DHT_Q_##name, str),
	SN_DHT_QUERIES(SN_X_KEY)
#undef SN_X_KEY
};
/* clang-format on */

static bool key_is(const struct key *k, const char *s, uint32_t len)
{
	if (k->len != len || !len || k->s[0] != s[0])
		return false;
	/* keys are at most 8 bytes: a loop, not a libc memcmp call */
	uint32_t j = 1;
	while (j < len && k->s[j] == s[j])
		j++;
	return j == len;
}

/* Key tables are searched through a small open-addressing index (built at load time)
 * instead of a linear scan: the scan was ~370 instructions per message (callgrind),
 * every key of every message compared against up to 17 table entries. */
#define KEY_SLOTS 64 /* power of 2, well above the 17 keys of the largest table */

struct key_index {
	const struct key *table;
	unsigned n;
	uint8_t slot[KEY_SLOTS]; /* table index + 1; 0: empty */
	uint8_t one[256];	 /* one-character keys (most of them) by character: same */
};

static inline unsigned key_hash(const char *s, uint32_t len)
{
	return (len * 37u + (uint8_t)s[0] * 7u + (uint8_t)s[len - 1]) & (KEY_SLOTS - 1);
}

static struct key_index top_ix, body_ix, query_ix;

static void key_index_build(struct key_index *ix, const struct key *table, unsigned n)
{
	ix->table = table;
	ix->n = n;
	for (unsigned i = 0; i < n; i++) {
		unsigned h = key_hash(table[i].s, table[i].len);
		if (table[i].len == 1)
			ix->one[(uint8_t)table[i].s[0]] = (uint8_t)(i + 1);
		while (ix->slot[h])
			h = (h + 1) & (KEY_SLOTS - 1);
		ix->slot[h] = (uint8_t)(i + 1);
	}
}

__attribute__((constructor)) static void key_indexes_build(void)
{
	key_index_build(&top_ix, top_keys, TK_UNKNOWN);
	key_index_build(&body_ix, body_keys, BK_UNKNOWN);
	key_index_build(&query_ix, query_keys + 1, SN_DHT_Q_MAX - 1);
}

/* Index of (s, len) in the indexed table, or its size when absent. */
static inline unsigned lookup(const struct key_index *ix, const char *s, uint32_t len)
{
	if (len == 1)
		return ix->one[(uint8_t)s[0]] ? ix->one[(uint8_t)s[0]] - 1u : ix->n;
	if (!len)
		return ix->n;
	for (unsigned h = key_hash(s, len); ix->slot[h]; h = (h + 1) & (KEY_SLOTS - 1)) {
		unsigned i = ix->slot[h] - 1u;
		if (key_is(&ix->table[i], s, len))
			return i;
	}
	return ix->n;
}

static bool is_char(const char *s, uint32_t len, char c)
{
	return len == 1 && s[0] == c;
}

/* Writes a literal string (a key) without measuring it at run time. */
#define PUT_LIT(w, lit) sn_mp_write_str((w), (lit), sizeof(lit) - 1)

/* --- field readers --- */

/* A transaction or socket id: uint32, or (older peers) 4 bytes in network order. */
static int read_tid(struct sn_mp_reader *r, uint32_t *v)
{
	const uint8_t *p;
	uint32_t len;
	uint64_t u;
	int rc, t = sn_mp_peek(r);

	if (t < 0)
		return t;
	if (t == SN_MP_UINT || t == SN_MP_INT) {
		rc = sn_mp_read_uint_max(r, UINT32_MAX, &u);
		if (rc == 0)
			*v = (uint32_t)u;
		return rc;
	}
	if (t == SN_MP_BIN) {
		rc = sn_mp_read_bin(r, &p, &len);
	} else if (t == SN_MP_STR) {
		const char *s;

		rc = sn_mp_read_str(r, &s, &len);
		p = (const uint8_t *)s;
	} else {
		return -ENOMSG;
	}
	if (rc < 0)
		return rc;
	if (len != 4)
		return -ENOMSG;
	*v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return 0;
}

static int read_id(struct sn_mp_reader *r, struct sn_node_id *id)
{
	struct sn_mp_reader save = *r;
	const uint8_t *p;
	uint32_t len;
	int rc = sn_mp_read_bin(r, &p, &len);

	if (rc < 0)
		return rc;
	if (len != SN_NODE_ID_LEN) {
		*r = save;
		return -ENOMSG;
	}
	memcpy(id->b, p, SN_NODE_ID_LEN);
	return 0;
}

static int read_span_bin(struct sn_mp_reader *r, struct sn_dht_span *s)
{
	return sn_mp_read_bin(r, &s->p, &s->len);
}

/* A map or array value kept packed: validated by skipping it. */
static int read_packed(struct sn_mp_reader *r, int type, unsigned depth, struct sn_dht_span *s)
{
	const uint8_t *start = r->pos;
	int rc, t = sn_mp_peek(r);

	if (t < 0)
		return t;
	if (t != type)
		return -ENOMSG;
	rc = sn_mp_skip(r, depth);
	if (rc < 0)
		return rc;
	s->p = start;
	s->len = (uint32_t)(r->pos - start);
	return 0;
}

/* An array of uint64 value ids; the span covers the elements. */
static int read_ids(struct sn_mp_reader *r, struct sn_dht_span *s, uint32_t *count)
{
	uint32_t n;
	uint64_t v;
	int rc = sn_mp_read_array(r, &n);

	if (rc < 0)
		return rc;
	s->p = r->pos;
	for (uint32_t i = 0; i < n; i++) {
		rc = sn_mp_read_uint(r, &v);
		if (rc < 0)
			return rc;
	}
	s->len = (uint32_t)(r->pos - s->p);
	*count = n;
	return 0;
}

static int read_values(struct sn_mp_reader *r, unsigned depth, struct sn_dht_msg *m)
{
	uint32_t n;
	uint64_t size;
	int rc = sn_mp_read_array(r, &n);

	if (rc < 0)
		return rc;
	m->values.p = r->pos;
	for (uint32_t i = 0; i < n; i++) {
		int t = sn_mp_peek(r);

		if (t < 0)
			return t;
		if (t == SN_MP_UINT) {
			/* size of a value sent in fragments; OpenDHT ignores absurd ones */
			rc = sn_mp_read_uint_max(r, SN_DHT_MAX_VALUE_SIZE + 32, &size);
			m->n_value_sizes++;
		} else if (t == SN_MP_MAP) {
			rc = sn_mp_skip(r, depth);
		} else {
			rc = -ENOMSG;
		}
		if (rc < 0)
			return rc;
	}
	m->values.len = (uint32_t)(r->pos - m->values.p);
	m->n_values = n;
	return 0;
}

static int read_want(struct sn_mp_reader *r, uint8_t *want)
{
	uint32_t n;
	uint64_t af;
	int rc = sn_mp_read_array(r, &n);

	if (rc < 0)
		return rc;
	*want = 0;
	for (uint32_t i = 0; i < n; i++) {
		rc = sn_mp_read_uint_max(r, UINT16_MAX, &af);
		if (rc < 0)
			return rc;
		/* other families are ignored, as OpenDHT does */
		if (af == AF_INET)
			*want |= SN_DHT_WANT4;
		else if (af == AF_INET6)
			*want |= SN_DHT_WANT6;
	}
	return 0;
}

static int read_sa(struct sn_mp_reader *r, struct sn_dht_msg *m)
{
	struct sn_mp_reader save = *r;
	const uint8_t *p;
	uint32_t len;
	int rc = sn_mp_read_bin(r, &p, &len);

	if (rc < 0)
		return rc;
	if (len != 4 && len != 16) {
		*r = save;
		return -ENOMSG;
	}
	m->sa_family = len == 4 ? AF_INET : AF_INET6;
	memcpy(m->sa, p, len);
	return 0;
}

static int read_nodes(struct sn_mp_reader *r, unsigned entry, struct sn_dht_span *s)
{
	struct sn_mp_reader save = *r;
	int rc = read_span_bin(r, s);

	if (rc < 0)
		return rc;
	if (s->len % entry) {
		*r = save;
		return -ENOMSG;
	}
	return 0;
}

/* --- bodies --- */

/* Body of a, r or u at nesting level 2. */
static enum sn_dht_reason parse_body(struct sn_mp_reader *r, struct sn_dht_msg *m)
{
	const unsigned inner = SN_DHT_MAX_DEPTH - 2; /* containers allowed below a body key */
	uint32_t n, klen;
	const char *key;
	int64_t i;
	int rc;

	rc = sn_mp_read_map(r, &n);
	if (rc < 0)
		return why(rc, SN_DHT_R_BAD_BODY);
	if (n > SN_DHT_MAX_KEYS)
		return SN_DHT_R_TOO_MANY_KEYS;
	for (uint32_t k = 0; k < n; k++) {
		enum sn_dht_reason bad;
		uint32_t bit = 0;

		rc = sn_mp_read_str(r, &key, &klen);
		if (rc < 0)
			return why(rc, SN_DHT_R_KEY_TYPE);
		switch (lookup(&body_ix, key, klen)) {
		case BK_ID:
			bit = SN_DHT_F_ID;
			bad = SN_DHT_R_BAD_ID;
			if (m->has & bit)
				return SN_DHT_R_DUPLICATE_KEY;
			rc = read_id(r, &m->id);
			break;
		case BK_H:
			bit = SN_DHT_F_HASH;
			bad = SN_DHT_R_BAD_HASH;
			if (m->has & bit)
				return SN_DHT_R_DUPLICATE_KEY;
			rc = read_id(r, &m->info_hash);
			break;
		case BK_TARGET:
			bit = SN_DHT_F_TARGET;
			bad = SN_DHT_R_BAD_TARGET;
			if (m->has & bit)
				return SN_DHT_R_DUPLICATE_KEY;
			rc = read_id(r, &m->target);
			break;
		case BK_Q:
			bit = SN_DHT_F_FILTER;
			bad = SN_DHT_R_BAD_FILTER;
			if (m->has & bit)
				return SN_DHT_R_DUPLICATE_KEY;
			rc = read_packed(r, SN_MP_MAP, inner, &m->filter);
			break;
		case BK_TOKEN:
			bit = SN_DHT_F_TOKEN;
			bad = SN_DHT_R_BAD_TOKEN;
			if (m->has & bit)
				return SN_DHT_R_DUPLICATE_KEY;
			rc = read_span_bin(r, &m->token);
			break;
		case BK_VID:
			bit = SN_DHT_F_VID;
			bad = SN_DHT_R_BAD_VID;
			if (m->has & bit)
				return SN_DHT_R_DUPLICATE_KEY;
			rc = sn_mp_read_uint(r, &m->vid);
			break;
		case BK_N4:
			bit = SN_DHT_F_NODES4;
			bad = SN_DHT_R_BAD_NODES4;
			if (m->has & bit)
				return SN_DHT_R_DUPLICATE_KEY;
			rc = read_nodes(r, SN_DHT_NODE4_LEN, &m->nodes4);
			break;
		case BK_N6:
			bit = SN_DHT_F_NODES6;
			bad = SN_DHT_R_BAD_NODES6;
			if (m->has & bit)
				return SN_DHT_R_DUPLICATE_KEY;
			rc = read_nodes(r, SN_DHT_NODE6_LEN, &m->nodes6);
			break;
		case BK_C:
			bit = SN_DHT_F_CREATED;
			bad = SN_DHT_R_BAD_CREATED;
			if (m->has & bit)
				return SN_DHT_R_DUPLICATE_KEY;
			rc = sn_mp_read_int(r, &m->created);
			break;
		case BK_SA:
			bit = SN_DHT_F_SA;
			bad = SN_DHT_R_BAD_SA;
			if (m->has & bit)
				return SN_DHT_R_DUPLICATE_KEY;
			rc = read_sa(r, m);
			break;
		case BK_VALUES:
			bit = SN_DHT_F_VALUES;
			bad = SN_DHT_R_BAD_VALUES;
			if (m->has & bit)
				return SN_DHT_R_DUPLICATE_KEY;
			rc = read_values(r, inner - 1, m);
			break;
		case BK_EXP:
			bit = SN_DHT_F_EXPIRED;
			bad = SN_DHT_R_BAD_VALUE_IDS;
			if (m->has & bit)
				return SN_DHT_R_DUPLICATE_KEY;
			rc = read_ids(r, &m->expired, &m->n_expired);
			break;
		case BK_RE:
			bit = SN_DHT_F_REFRESHED;
			bad = SN_DHT_R_BAD_VALUE_IDS;
			if (m->has & bit)
				return SN_DHT_R_DUPLICATE_KEY;
			rc = read_ids(r, &m->refreshed, &m->n_refreshed);
			break;
		case BK_FIELDS:
			bit = SN_DHT_F_FIELDS;
			bad = SN_DHT_R_BAD_FIELDS;
			if (m->has & bit)
				return SN_DHT_R_DUPLICATE_KEY;
			rc = read_packed(r, SN_MP_MAP, inner, &m->fields);
			break;
		case BK_W:
			bit = SN_DHT_F_WANT;
			bad = SN_DHT_R_BAD_WANT;
			if (m->has & bit)
				return SN_DHT_R_DUPLICATE_KEY;
			rc = read_want(r, &m->want);
			break;
		case BK_VE:
			bit = SN_DHT_F_VERSION;
			bad = SN_DHT_R_BAD_VERSION;
			if (m->has & bit)
				return SN_DHT_R_DUPLICATE_KEY;
			rc = sn_mp_read_int(r, &i);
			if (rc == 0 && (i < INT32_MIN || i > INT32_MAX))
				rc = -ERANGE;
			if (rc == 0)
				m->version = (int32_t)i;
			break;
		case BK_SID:
			bit = SN_DHT_F_SID;
			bad = SN_DHT_R_BAD_SID;
			if (m->has & bit)
				return SN_DHT_R_DUPLICATE_KEY;
			rc = read_tid(r, &m->sid);
			break;
		default:
			bad = SN_DHT_R_MALFORMED;
			rc = sn_mp_skip(r, inner);
			break;
		}
		if (rc < 0)
			return why(rc, bad);
		m->has |= bit;
	}
	return SN_DHT_R_OK;
}

/* e: [code, text] at nesting level 2. */
static enum sn_dht_reason parse_error(struct sn_mp_reader *r, struct sn_dht_msg *m)
{
	uint32_t n;
	uint64_t code;
	const char *text;
	int rc = sn_mp_read_array(r, &n);

	if (rc == 0 && n != 2)
		rc = -ENOMSG;
	if (rc == 0)
		rc = sn_mp_read_uint_max(r, UINT16_MAX, &code);
	if (rc == 0)
		rc = sn_mp_read_str(r, &text, &m->error_text.len);
	if (rc < 0)
		return why(rc, SN_DHT_R_BAD_ERROR);
	m->error_code = (uint16_t)code;
	m->error_text.p = (const uint8_t *)text;
	return SN_DHT_R_OK;
}

/* One fragment descriptor {o: offset, d: bin}, both required, nothing else. */
static int read_part(struct sn_mp_reader *r)
{
	uint32_t n, klen, dlen;
	const char *key;
	const uint8_t *d;
	uint64_t off;
	unsigned seen = 0;
	int rc = sn_mp_read_map(r, &n);

	if (rc < 0)
		return rc;
	if (n != 2)
		return -ENOMSG;
	for (uint32_t k = 0; k < n; k++) {
		rc = sn_mp_read_str(r, &key, &klen);
		if (rc < 0)
			return rc;
		if (is_char(key, klen, 'o') && !(seen & 1)) {
			rc = sn_mp_read_uint_max(r, SN_DHT_MAX_VALUE_SIZE + 32, &off);
			seen |= 1;
		} else if (is_char(key, klen, 'd') && !(seen & 2)) {
			rc = sn_mp_read_bin(r, &d, &dlen);
			seen |= 2;
		} else {
			rc = -ENOMSG;
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* p: {index: {o, d}} at nesting level 2. */
static enum sn_dht_reason parse_parts(struct sn_mp_reader *r, struct sn_dht_msg *m)
{
	uint32_t n;
	uint64_t idx;
	int rc = sn_mp_read_map(r, &n);

	if (rc < 0)
		return why(rc, SN_DHT_R_BAD_PARTS);
	if (n > SN_DHT_MAX_KEYS)
		return SN_DHT_R_TOO_MANY_KEYS;
	m->parts.p = r->pos;
	for (uint32_t k = 0; k < n; k++) {
		rc = sn_mp_read_uint_max(r, UINT32_MAX, &idx);
		if (rc == 0)
			rc = read_part(r);
		if (rc < 0)
			return why(rc, SN_DHT_R_BAD_PARTS);
	}
	m->parts.len = (uint32_t)(r->pos - m->parts.p);
	m->n_parts = n;
	return SN_DHT_R_OK;
}

/* --- message --- */

static bool y_matches(const char *y, uint32_t len, enum sn_dht_type type)
{
	switch (type) {
	case SN_DHT_T_QUERY:
		return is_char(y, len, 'q');
	case SN_DHT_T_REPLY:
		return is_char(y, len, 'r');
	case SN_DHT_T_ERROR:
		return is_char(y, len, 'e');
	case SN_DHT_T_VALUE_DATA:
		return is_char(y, len, 'p');
	case SN_DHT_T_VALUE_UPDATE:
		/* a version-0 listener push carries u with y "r" */
		return is_char(y, len, 'r') || is_char(y, len, 'u');
	case SN_DHT_T_NONE:
		break;
	}
	return false;
}

enum sn_dht_reason sn_dht_parse(const void *buf, size_t len, struct sn_dht_msg *m)
{
	const char *y = NULL, *q = NULL, *key;
	uint32_t n, klen, ylen = 0, qlen = 0;
	unsigned seen = 0;
	struct sn_mp_reader r;
	enum sn_dht_reason rs;
	uint64_t u;
	bool b;
	int rc;

	memset(m, 0, sizeof(*m));
	sn_mp_reader_init(&r, buf, len);
	rc = sn_mp_read_map(&r, &n);
	if (rc < 0)
		return why(rc, SN_DHT_R_NOT_MAP);
	if (n > SN_DHT_MAX_KEYS)
		return SN_DHT_R_TOO_MANY_KEYS;
	for (uint32_t k = 0; k < n; k++) {
		unsigned tk;

		rc = sn_mp_read_str(&r, &key, &klen);
		if (rc < 0)
			return why(rc, SN_DHT_R_KEY_TYPE);
		tk = lookup(&top_ix, key, klen);
		if (tk < TK_UNKNOWN) {
			if (seen & (1u << tk))
				return SN_DHT_R_DUPLICATE_KEY;
			seen |= 1u << tk;
		}
		switch (tk) {
		case TK_Y:
			rc = sn_mp_read_str(&r, &y, &ylen);
			rs = why(rc, SN_DHT_R_BAD_Y);
			break;
		case TK_T:
			rc = read_tid(&r, &m->tid);
			rs = why(rc, SN_DHT_R_BAD_TID);
			m->has |= SN_DHT_F_TID;
			break;
		case TK_V:
			/* OpenDHT reads it as std::string, which takes str and bin */
			if (sn_mp_peek(&r) == SN_MP_BIN) {
				rc = sn_mp_read_bin(&r, &m->ua.p, &m->ua.len);
			} else {
				rc = sn_mp_read_str(&r, &key, &m->ua.len);
				m->ua.p = (const uint8_t *)key;
			}
			rs = why(rc, SN_DHT_R_BAD_UA);
			m->has |= SN_DHT_F_UA;
			break;
		case TK_N:
			rc = sn_mp_read_uint_max(&r, UINT32_MAX, &u);
			rs = why(rc, SN_DHT_R_BAD_NETWORK);
			if (rc == 0)
				m->network = (uint32_t)u;
			m->has |= SN_DHT_F_NETWORK;
			break;
		case TK_S:
			rc = sn_mp_read_bool(&r, &b);
			rs = why(rc, SN_DHT_R_BAD_CLIENT);
			if (rc == 0)
				m->is_client = b;
			m->has |= SN_DHT_F_CLIENT;
			break;
		case TK_Q:
			rc = sn_mp_read_str(&r, &q, &qlen);
			rs = why(rc, SN_DHT_R_BAD_QUERY_NAME);
			break;
		case TK_A:
		case TK_R:
		case TK_U:
			if (seen & (1u << TK_A | 1u << TK_R | 1u << TK_U) & ~(1u << tk))
				return SN_DHT_R_BAD_BODY;
			rc = 0;
			rs = parse_body(&r, m);
			break;
		case TK_E:
			m->has |= SN_DHT_F_ERROR;
			rc = 0;
			rs = parse_error(&r, m);
			break;
		case TK_P:
			m->has |= SN_DHT_F_PARTS;
			rc = 0;
			rs = parse_parts(&r, m);
			break;
		default:
			rc = sn_mp_skip(&r, SN_DHT_MAX_DEPTH - 1);
			rs = why(rc, SN_DHT_R_MALFORMED);
			break;
		}
		if (rc < 0 || rs != SN_DHT_R_OK)
			return rs;
	}
	if (sn_mp_remaining(&r))
		return SN_DHT_R_TRAILING;

	/* OpenDHT's precedence: e, r, p, u, then a query */
	if (seen & (1u << TK_P) && seen & (1u << TK_A | 1u << TK_R | 1u << TK_U | 1u << TK_E))
		return SN_DHT_R_BAD_BODY;
	if (seen & (1u << TK_E) && seen & (1u << TK_A | 1u << TK_U))
		return SN_DHT_R_BAD_BODY;
	if (seen & (1u << TK_E))
		m->type = SN_DHT_T_ERROR;
	else if (seen & (1u << TK_R))
		m->type = SN_DHT_T_REPLY;
	else if (seen & (1u << TK_P))
		m->type = SN_DHT_T_VALUE_DATA;
	else if (seen & (1u << TK_U))
		m->type = SN_DHT_T_VALUE_UPDATE;
	else if (seen & (1u << TK_A))
		m->type = SN_DHT_T_QUERY;
	else
		return SN_DHT_R_NO_BODY;
	if (y && !y_matches(y, ylen, m->type))
		return SN_DHT_R_BAD_Y;

	if (m->type == SN_DHT_T_QUERY) {
		if (!q)
			return SN_DHT_R_UNKNOWN_QUERY;
		unsigned qi = lookup(&query_ix, q, qlen) + 1;

		if (qi >= SN_DHT_Q_MAX)
			return SN_DHT_R_UNKNOWN_QUERY;
		m->query = (enum sn_dht_query)qi;
	}
	if (m->type != SN_DHT_T_VALUE_DATA &&
	    (!(m->has & SN_DHT_F_ID) || sn_node_id_is_zero(&m->id)))
		return SN_DHT_R_MISSING_ID;
	if (m->query == SN_DHT_Q_FIND && !(m->has & SN_DHT_F_TARGET))
		return SN_DHT_R_MISSING_TARGET;
	return SN_DHT_R_OK;
}

/* --- builders --- */

/* The tail every OpenDHT reply and query ends with: t, y, v, n. */
static void put_tail(struct sn_mp_writer *w, uint32_t tid, char y, uint32_t network)
{
	PUT_LIT(w, "t");
	sn_mp_write_uint(w, tid);
	PUT_LIT(w, "y");
	sn_mp_write_str(w, &y, 1);
	PUT_LIT(w, "v");
	PUT_LIT(w, SN_DHT_USER_AGENT);
	if (network) {
		PUT_LIT(w, "n");
		sn_mp_write_uint(w, network);
	}
}

static void put_id(struct sn_mp_writer *w, const struct sn_node_id *id)
{
	sn_mp_write_bin(w, id->b, SN_NODE_ID_LEN);
}

static void put_nodes(struct sn_mp_writer *w, const uint8_t *const *e, unsigned n, unsigned len)
{
	sn_mp_write_bin_header(w, n * len);
	for (unsigned i = 0; i < n; i++)
		sn_mp_write_raw(w, e[i], len);
}

int sn_dht_build_reply(void *buf, size_t cap, const struct sn_dht_reply *r)
{
	unsigned addr_len = r->sa ? sn_node_addr_len(r->sa->family) : 0;
	bool token = r->token && r->token_len;
	bool fields = !r->n_values && r->fields;
	struct sn_mp_writer w;

	if (!r->id || (r->sa && !addr_len) || r->n_nodes4 > UINT32_MAX / SN_DHT_NODE4_LEN ||
	    r->n_nodes6 > UINT32_MAX / SN_DHT_NODE6_LEN)
		return -EINVAL;
	sn_mp_writer_init(&w, buf, cap);
	sn_mp_write_map(&w, 4 + (r->network ? 1 : 0));
	PUT_LIT(&w, "r");
	sn_mp_write_map(&w, 1 + r->has_vid + (r->sa != NULL) + (r->n_nodes4 > 0) +
				(r->n_nodes6 > 0) + token + (r->n_values > 0) + fields);
	PUT_LIT(&w, "id");
	put_id(&w, r->id);
	if (r->has_vid) {
		PUT_LIT(&w, "vid");
		sn_mp_write_uint(&w, r->vid);
	}
	if (r->sa) {
		PUT_LIT(&w, "sa");
		sn_mp_write_bin(&w, r->sa->addr, addr_len);
	}
	if (r->n_nodes4) {
		PUT_LIT(&w, "n4");
		put_nodes(&w, r->nodes4, r->n_nodes4, SN_DHT_NODE4_LEN);
	}
	if (r->n_nodes6) {
		PUT_LIT(&w, "n6");
		put_nodes(&w, r->nodes6, r->n_nodes6, SN_DHT_NODE6_LEN);
	}
	if (token) {
		PUT_LIT(&w, "token");
		sn_mp_write_bin(&w, r->token, r->token_len);
	}
	if (r->n_values) {
		PUT_LIT(&w, "values");
		sn_mp_write_array(&w, r->n_values);
		sn_mp_write_raw(&w, r->values, r->values_len);
	} else if (fields) {
		PUT_LIT(&w, "fileds");
		sn_mp_write_raw(&w, r->fields, r->fields_len);
	}
	put_tail(&w, r->tid, 'r', r->network);
	return sn_mp_writer_result(&w);
}

int sn_dht_build_pong(void *buf, size_t cap, uint32_t tid, uint32_t network,
		      const struct sn_node_id *id, const struct sn_node_addr *sa)
{
	struct sn_dht_reply r = {.tid = tid, .network = network, .id = id, .sa = sa};

	if (!sa)
		return -EINVAL;
	return sn_dht_build_reply(buf, cap, &r);
}

int sn_dht_build_error(void *buf, size_t cap, uint32_t tid, uint32_t network,
		       const struct sn_node_id *id, uint16_t code, const char *text)
{
	struct sn_mp_writer w;

	sn_mp_writer_init(&w, buf, cap);
	sn_mp_write_map(&w, 4 + (id != NULL) + (network ? 1 : 0));
	PUT_LIT(&w, "e");
	sn_mp_write_array(&w, 2);
	sn_mp_write_uint(&w, code);
	sn_mp_write_cstr(&w, text);
	if (id) {
		PUT_LIT(&w, "r");
		sn_mp_write_map(&w, 1);
		PUT_LIT(&w, "id");
		put_id(&w, id);
	}
	put_tail(&w, tid, 'e', network);
	return sn_mp_writer_result(&w);
}

int sn_dht_build_ping(void *buf, size_t cap, uint32_t tid, uint32_t network,
		      const struct sn_node_id *id)
{
	struct sn_mp_writer w;

	sn_mp_writer_init(&w, buf, cap);
	sn_mp_write_map(&w, 5 + (network ? 1 : 0));
	PUT_LIT(&w, "a");
	sn_mp_write_map(&w, 1);
	PUT_LIT(&w, "id");
	put_id(&w, id);
	PUT_LIT(&w, "q");
	PUT_LIT(&w, "ping");
	put_tail(&w, tid, 'q', network);
	return sn_mp_writer_result(&w);
}

int sn_dht_build_find(void *buf, size_t cap, uint32_t tid, uint32_t network,
		      const struct sn_node_id *id, const struct sn_node_id *target, unsigned want)
{
	bool w4 = want & SN_DHT_WANT4, w6 = want & SN_DHT_WANT6;
	struct sn_mp_writer w;

	sn_mp_writer_init(&w, buf, cap);
	sn_mp_write_map(&w, 5 + (network ? 1 : 0));
	PUT_LIT(&w, "a");
	sn_mp_write_map(&w, 2 + (w4 || w6));
	PUT_LIT(&w, "id");
	put_id(&w, id);
	PUT_LIT(&w, "target");
	put_id(&w, target);
	if (w4 || w6) {
		PUT_LIT(&w, "w");
		sn_mp_write_array(&w, w4 + w6);
		if (w4)
			sn_mp_write_uint(&w, AF_INET);
		if (w6)
			sn_mp_write_uint(&w, AF_INET6);
	}
	PUT_LIT(&w, "q");
	PUT_LIT(&w, "find");
	put_tail(&w, tid, 'q', network);
	return sn_mp_writer_result(&w);
}
