/* dht_store.c: see dht_store.h. */
#include "dht_store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "msgpack.h"
#include "token.h"

#define NS_PER_MIN  (60ull * 1000000000ull)
#define MIN_BUCKETS 64

const char *const dht_put_status_names[DHT_PUT_STATUS_MAX] = {
    [DHT_PUT_STORED] = "stored",
    [DHT_PUT_EDITED] = "edited",
    [DHT_PUT_REFRESHED] = "refreshed",
    [DHT_PUT_EDIT_DENIED] = "edit_denied",
    [DHT_PUT_BAD_SIGNATURE] = "bad_signature",
    [DHT_PUT_TOO_LARGE] = "too_large",
    [DHT_PUT_QUOTA] = "quota",
    [DHT_PUT_FULL] = "storage_full",
    [DHT_PUT_EXPIRED] = "expired",
    [DHT_PUT_NOMEM] = "no_memory",
};

uint64_t dht_type_expiration_ns(uint16_t type)
{
	switch (type) {
	case 1: /* DhtMessage */
	case 3: /* ImMessage */
		return 5 * NS_PER_MIN;
	case 2: /* IpServiceAnnouncement */
		return 15 * NS_PER_MIN;
	case 4: /* TrustRequest */
	case 8: /* SecureDht's CERTIFICATE_TYPE */
		return 7 * 24 * 60 * NS_PER_MIN;
	case 5: /* IceCandidates */
		return 1 * NS_PER_MIN;
	default: /* USER_DATA and unregistered types */
		return 10 * NS_PER_MIN;
	}
}

/* ---------- query ---------- */

static int read_blob(struct sn_mp_reader *r, const uint8_t **p, uint32_t *len)
{
	if (sn_mp_peek(r) == SN_MP_STR)
		return sn_mp_read_str(r, (const char **)p, len);
	return sn_mp_read_bin(r, p, len);
}

static int parse_where(struct sn_mp_reader *r, struct dht_query *q)
{
	uint32_t n;

	if (sn_mp_read_array(r, &n) < 0 || n > DHT_QUERY_MAX_WHERE)
		return -EBADMSG;
	for (uint32_t i = 0; i < n; i++) {
		typeof(q->where[0]) *w = &q->where[q->n_where++];
		const uint8_t *vp = NULL;
		bool has_f = false;
		uint32_t m;

		if (sn_mp_read_map(r, &m) < 0 || m > 4)
			return -EBADMSG;
		for (uint32_t j = 0; j < m; j++) {
			const char *k;
			uint32_t kl;
			uint64_t f;

			if (sn_mp_read_str(r, &k, &kl) < 0)
				return -EBADMSG;
			if (sn_mp_str_eq(k, kl, "f") && !has_f) {
				if (sn_mp_read_uint_max(r, DHT_FIELD_COUNT - 1, &f) < 0 || f == 0)
					return -EBADMSG;
				w->field = (uint8_t)f;
				has_f = true;
			} else if (sn_mp_str_eq(k, kl, "v") && !vp) {
				vp = r->pos;
				if (sn_mp_skip(r, 2) < 0)
					return -EBADMSG;
			} else if (sn_mp_skip(r, 4) < 0) {
				return -EBADMSG;
			}
		}
		if (!has_f || !vp)
			return -EBADMSG;
		struct sn_mp_reader v;
		const uint8_t *b;
		uint32_t bl;

		sn_mp_reader_init(&v, vp, (size_t)(r->end - vp));
		switch (w->field) {
		case DHT_FIELD_ID:
		case DHT_FIELD_TYPE:
		case DHT_FIELD_SEQ:
			if (sn_mp_read_uint(&v, &w->num) < 0)
				return -EBADMSG;
			break;
		case DHT_FIELD_OWNER:
			if (sn_mp_read_bin(&v, &b, &bl) < 0 || bl != sizeof(w->hash))
				return -EBADMSG;
			memcpy(w->hash, b, sizeof(w->hash));
			break;
		case DHT_FIELD_UTYPE:
			if (read_blob(&v, &b, &bl) < 0 || bl > DHT_QUERY_UTYPE_MAX)
				return -EBADMSG;
			memcpy(w->blob, b, bl);
			w->blob_len = (uint8_t)bl;
			break;
		default:
			return -EBADMSG;
		}
	}
	return 0;
}

static int parse_select(struct sn_mp_reader *r, struct dht_query *q)
{
	bool seen[DHT_FIELD_COUNT] = {false};
	uint32_t n;

	if (sn_mp_read_array(r, &n) < 0 || n > 16)
		return -EBADMSG;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t f;

		if (sn_mp_read_uint_max(r, DHT_FIELD_COUNT - 1, &f) < 0)
			return -EBADMSG;
		seen[f] = true;
	}
	for (unsigned f = 1; f < DHT_FIELD_COUNT; f++)
		if (seen[f])
			q->select[q->n_select++] = (uint8_t)f;
	return 0;
}

int dht_query_parse(const uint8_t *p, size_t len, struct dht_query *q)
{
	struct sn_mp_reader r;
	bool has_w = false, has_s = false;
	uint32_t n;

	memset(q, 0, sizeof(*q));
	sn_mp_reader_init(&r, p, len);
	if (sn_mp_read_map(&r, &n) < 0 || n > 8)
		return -EBADMSG;
	for (uint32_t i = 0; i < n; i++) {
		const char *k;
		uint32_t kl;
		int rc;

		if (sn_mp_read_str(&r, &k, &kl) < 0)
			return -EBADMSG;
		if (sn_mp_str_eq(k, kl, "w") && !has_w) {
			rc = parse_where(&r, q);
			has_w = true;
		} else if (sn_mp_str_eq(k, kl, "s") && !has_s) {
			rc = parse_select(&r, q);
			has_s = true;
		} else {
			rc = sn_mp_skip(&r, 4);
		}
		if (rc < 0)
			return -EBADMSG;
	}
	/* Query::msgpack_unpack needs both */
	if (!has_w || !has_s || sn_mp_remaining(&r))
		return -EBADMSG;
	return 0;
}

bool dht_query_match(const struct dht_query *q, const struct dht_stored *v)
{
	if (!q)
		return true;
	for (unsigned i = 0; i < q->n_where; i++) {
		const typeof(q->where[0]) *w = &q->where[i];

		switch (w->field) {
		case DHT_FIELD_ID:
			if (v->id != w->num)
				return false;
			break;
		case DHT_FIELD_TYPE:
			if (v->type != w->num)
				return false;
			break;
		case DHT_FIELD_SEQ:
			if (v->seq != w->num)
				return false;
			break;
		case DHT_FIELD_OWNER:
			if (!v->is_signed || memcmp(v->owner_id, w->hash, sizeof(w->hash)) != 0)
				return false;
			break;
		case DHT_FIELD_UTYPE:
			if (v->utype_len != w->blob_len ||
			    memcmp(v->packed + v->utype_off, w->blob, w->blob_len) != 0)
				return false;
			break;
		default:
			break;
		}
	}
	return true;
}

/* ---------- hash tables ---------- */

static uint32_t key_hash(const struct dht_store *s, const struct sn_node_id *k)
{
	return (uint32_t)sn_siphash24_64(s->hash_key, k->b, sizeof(k->b));
}

static uint32_t src_hash(const struct dht_store *s, const struct dht_src *src)
{
	return (uint32_t)sn_siphash24_64(s->hash_key, src, sizeof(*src));
}

/* Doubles a chained table when it holds more entries than buckets. */
static void key_grow(struct dht_store *s)
{
	uint32_t nb = s->n_key_buckets * 2;
	struct dht_key **b;

	if (s->n_keys < s->n_key_buckets || nb < s->n_key_buckets)
		return;
	b = calloc(nb, sizeof(*b));
	if (!b)
		return; /* longer chains; still correct */
	for (uint32_t i = 0; i < s->n_key_buckets; i++) {
		struct dht_key *k = s->keys[i], *next;

		for (; k; k = next) {
			uint32_t h = key_hash(s, &k->key) & (nb - 1);

			next = k->next;
			k->next = b[h];
			b[h] = k;
		}
	}
	free(s->keys);
	s->keys = b;
	s->n_key_buckets = nb;
}

static void quota_grow(struct dht_store *s)
{
	uint32_t nb = s->n_quota_buckets * 2;
	struct dht_quota **b;

	if (s->n_quotas < s->n_quota_buckets || nb < s->n_quota_buckets)
		return;
	b = calloc(nb, sizeof(*b));
	if (!b)
		return;
	for (uint32_t i = 0; i < s->n_quota_buckets; i++) {
		struct dht_quota *q = s->quotas[i], *next;

		for (; q; q = next) {
			uint32_t h = src_hash(s, &q->src) & (nb - 1);

			next = q->next;
			q->next = b[h];
			b[h] = q;
		}
	}
	free(s->quotas);
	s->quotas = b;
	s->n_quota_buckets = nb;
}

int dht_store_init(struct dht_store *s, const struct dht_store_limits *lim,
		   const uint8_t hash_key[16])
{
	memset(s, 0, sizeof(*s));
	s->lim = *lim;
	if (s->lim.max_value_size > DHT_VALUE_MAX_SIZE)
		s->lim.max_value_size = DHT_VALUE_MAX_SIZE;
	memcpy(s->hash_key, hash_key, sizeof(s->hash_key));
	s->keys = calloc(MIN_BUCKETS, sizeof(*s->keys));
	s->quotas = calloc(MIN_BUCKETS, sizeof(*s->quotas));
	if (!s->keys || !s->quotas) {
		free(s->keys);
		free(s->quotas);
		return -ENOMEM;
	}
	s->n_key_buckets = s->n_quota_buckets = MIN_BUCKETS;
	return 0;
}

static void key_free(struct dht_key *k)
{
	for (uint32_t i = 0; i < k->n_values; i++)
		free(k->values[i]);
	free(k->values);
	free(k->listeners);
	free(k);
}

void dht_store_fini(struct dht_store *s)
{
	for (uint32_t i = 0; s->keys && i < s->n_key_buckets; i++) {
		struct dht_key *k = s->keys[i], *next;

		for (; k; k = next) {
			next = k->next;
			key_free(k);
		}
	}
	for (uint32_t i = 0; s->quotas && i < s->n_quota_buckets; i++) {
		struct dht_quota *q = s->quotas[i], *next;

		for (; q; q = next) {
			next = q->next;
			free(q);
		}
	}
	free(s->keys);
	free(s->quotas);
	memset(s, 0, sizeof(*s));
}

struct dht_key *dht_store_find(const struct dht_store *s, const struct sn_node_id *key)
{
	struct dht_key *k = s->keys[key_hash(s, key) & (s->n_key_buckets - 1)];

	while (k && !sn_node_id_eq(&k->key, key))
		k = k->next;
	return k;
}

static struct dht_key *key_get(struct dht_store *s, const struct sn_node_id *key)
{
	struct dht_key *k = dht_store_find(s, key);
	uint32_t h;

	if (k)
		return k;
	if (s->n_keys >= s->lim.max_keys)
		return NULL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->key = *key;
	h = key_hash(s, key) & (s->n_key_buckets - 1);
	k->next = s->keys[h];
	s->keys[h] = k;
	s->n_keys++;
	key_grow(s);
	return k;
}

static void key_remove(struct dht_store *s, struct dht_key *k)
{
	struct dht_key **pp = &s->keys[key_hash(s, &k->key) & (s->n_key_buckets - 1)];

	while (*pp && *pp != k)
		pp = &(*pp)->next;
	if (*pp)
		*pp = k->next;
	s->n_keys--;
	key_free(k);
}

const struct dht_quota *dht_store_quota(const struct dht_store *s, const struct dht_src *src)
{
	struct dht_quota *q = s->quotas[src_hash(s, src) & (s->n_quota_buckets - 1)];

	while (q && memcmp(&q->src, src, sizeof(*src)) != 0)
		q = q->next;
	return q;
}

static struct dht_quota *quota_get(struct dht_store *s, const struct dht_src *src)
{
	struct dht_quota *q = (struct dht_quota *)dht_store_quota(s, src);
	uint32_t h;

	if (q)
		return q;
	q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->src = *src;
	h = src_hash(s, src) & (s->n_quota_buckets - 1);
	q->next = s->quotas[h];
	s->quotas[h] = q;
	s->n_quotas++;
	quota_grow(s);
	return q;
}

/* Frees a quota that no longer holds anything. */
static void quota_release(struct dht_store *s, struct dht_quota *q)
{
	struct dht_quota **pp;

	if (!q || q->bytes || q->values || q->listeners)
		return;
	pp = &s->quotas[src_hash(s, &q->src) & (s->n_quota_buckets - 1)];
	while (*pp && *pp != q)
		pp = &(*pp)->next;
	if (*pp)
		*pp = q->next;
	s->n_quotas--;
	free(q);
}

/* ---------- values ---------- */

static struct dht_stored *stored_make(const struct dht_value *v)
{
	size_t cap = dht_value_size(v) + v->owner_len + 256;
	struct dht_stored *st = malloc(sizeof(*st) + cap);
	struct dht_value c;
	int len;

	if (!st)
		return NULL;
	memset(st, 0, sizeof(*st));
	len = dht_value_pack(v, st->packed, cap);
	/* parse the canonical form back: offsets of its parts */
	if (len < 0 || dht_value_parse(st->packed, (size_t)len, &c) < 0) {
		free(st);
		return NULL;
	}
	st->packed_len = (uint32_t)len;
	st->id = c.id;
	st->type = c.type;
	st->seq = c.seq;
	st->is_signed = c.has_owner;
	dht_value_owner_id(&c, st->owner_id);
	st->size = (uint32_t)dht_value_size(&c);
	st->dat_off = (uint32_t)(c.dat - st->packed);
	st->dat_len = c.dat_len;
	if (c.body) {
		st->body_off = (uint32_t)(c.body - st->packed);
		st->body_len = c.body_len;
	}
	if (c.owner) {
		st->owner_off = (uint32_t)(c.owner - st->packed);
		st->owner_len = c.owner_len;
	}
	if (c.utype) {
		st->utype_off = (uint32_t)((const uint8_t *)c.utype - st->packed);
		st->utype_len = c.utype_len;
	}
	return st;
}

static bool same_bytes(const struct dht_stored *a, uint32_t aoff, uint32_t alen,
		       const struct dht_stored *b, uint32_t boff, uint32_t blen)
{
	return alen == blen && memcmp(a->packed + aoff, b->packed + boff, alen) == 0;
}

static void charge(struct dht_store *s, struct dht_key *k, struct dht_stored *st,
		   struct dht_quota *q)
{
	st->quota = q;
	if (q) {
		q->bytes += st->size;
		q->values++;
	}
	k->bytes += st->size;
	s->total_bytes += st->size;
	s->total_values++;
}

static void discharge(struct dht_store *s, struct dht_key *k, struct dht_stored *st)
{
	if (st->quota) {
		st->quota->bytes -= st->size;
		st->quota->values--;
		quota_release(s, st->quota);
		st->quota = NULL;
	}
	k->bytes -= st->size;
	s->total_bytes -= st->size;
	s->total_values--;
}

/* SecureDht's edit policy for a stored value `o` and a candidate `n` with the same id.
 * A signature check is done by the caller before. */
static bool edit_allowed(const struct dht_stored *o, const struct dht_stored *n)
{
	if (!o->is_signed)
		return false; /* ValueType::DEFAULT_EDIT_POLICY */
	if (!n->is_signed ||
	    !same_bytes(o, o->owner_off, o->owner_len, n, n->owner_off, n->owner_len))
		return false; /* not signed, or another owner */
	if (n->seq == o->seq)
		return same_bytes(o, o->body_off, o->body_len, n, n->body_off, n->body_len);
	return n->seq > o->seq;
}

static bool quota_allows(const struct dht_store *s, const struct dht_quota *q, uint64_t add_bytes,
			 uint32_t add_values)
{
	if (!q)
		return true;
	return q->bytes + add_bytes <= s->lim.quota_bytes &&
	       q->values + add_values <= s->lim.quota_values;
}

enum dht_put_status dht_store_put(struct dht_store *s, const struct sn_node_id *key,
				  const struct dht_value *v, const struct dht_src *src,
				  uint64_t age_ns, uint64_t now, struct dht_stored **out)
{
	uint64_t exp = dht_type_expiration_ns(v->type);
	struct dht_stored *st, *old = NULL;
	struct dht_quota *q = NULL;
	struct dht_key *k;
	uint32_t idx = 0;

	if (out)
		*out = NULL;
	if (dht_value_size(v) > s->lim.max_value_size)
		return DHT_PUT_TOO_LARGE;
	if (age_ns >= exp)
		return DHT_PUT_EXPIRED;
	k = dht_store_find(s, key);
	for (uint32_t i = 0; k && i < k->n_values; i++)
		if (k->values[i]->id == v->id) {
			old = k->values[i];
			idx = i;
			break;
		}
	st = stored_make(v);
	if (!st)
		return DHT_PUT_NOMEM;
	if (old && same_bytes(old, old->dat_off, old->dat_len, st, st->dat_off, st->dat_len)) {
		/* the same value: Storage::refresh */
		free(st);
		old->created_ns = now;
		if (old->expires_ns < now + exp - age_ns)
			old->expires_ns = now + exp - age_ns;
		if (out)
			*out = old;
		return DHT_PUT_REFRESHED;
	}
	if (old && !edit_allowed(old, st)) {
		free(st);
		return DHT_PUT_EDIT_DENIED;
	}
	if (st->is_signed && dht_value_verify(v) != 0) {
		free(st);
		return DHT_PUT_BAD_SIGNATURE;
	}
	if (src) {
		q = quota_get(s, src);
		if (!q) {
			free(st);
			return DHT_PUT_NOMEM;
		}
	}
	/* what this put adds: an edit gives back the old value's bytes when charged alike */
	uint64_t add = st->size, give = (old && old->quota == q) ? old->size : 0;
	uint64_t total_after = s->total_bytes - (old ? old->size : 0) + st->size;

	if (!quota_allows(s, q, add > give ? add - give : 0, old && old->quota == q ? 0 : 1)) {
		free(st);
		quota_release(s, q);
		return DHT_PUT_QUOTA;
	}
	if (total_after > s->lim.max_bytes ||
	    (!old && k && k->n_values >= s->lim.max_values_per_key)) {
		free(st);
		quota_release(s, q);
		return DHT_PUT_FULL;
	}
	if (!k) {
		k = key_get(s, key);
		if (!k) {
			free(st);
			quota_release(s, q);
			return s->n_keys >= s->lim.max_keys ? DHT_PUT_FULL : DHT_PUT_NOMEM;
		}
	}
	st->created_ns = now;
	st->expires_ns = now + exp - age_ns;
	if (old) {
		charge(s, k, st, q); /* first: the old value may hold q's last charge */
		discharge(s, k, old);
		free(old);
		k->values[idx] = st;
		if (out)
			*out = st;
		return DHT_PUT_EDITED;
	}
	if (k->n_values == k->cap_values) {
		uint32_t nc = k->cap_values ? 2 * k->cap_values : 4;
		struct dht_stored **nv = realloc(k->values, nc * sizeof(*nv));

		if (!nv) {
			free(st);
			quota_release(s, q);
			if (!k->n_values && !k->n_listeners)
				key_remove(s, k);
			return DHT_PUT_NOMEM;
		}
		k->values = nv;
		k->cap_values = nc;
	}
	k->values[k->n_values++] = st;
	charge(s, k, st, q);
	if (out)
		*out = st;
	return DHT_PUT_STORED;
}

int dht_store_refresh(struct dht_store *s, const struct sn_node_id *key, uint64_t vid, uint64_t now)
{
	struct dht_key *k = dht_store_find(s, key);

	if (!k)
		return -ENOENT;
	for (uint32_t i = 0; i < k->n_values; i++) {
		struct dht_stored *v = k->values[i];

		if (v->id != vid)
			continue;
		v->created_ns = now;
		if (v->expires_ns < now + dht_type_expiration_ns(v->type))
			v->expires_ns = now + dht_type_expiration_ns(v->type);
		break;
	}
	return 0;
}

/* ---------- listeners ---------- */

int dht_store_listen(struct dht_store *s, const struct sn_node_id *key,
		     const struct dht_listener *l, const struct dht_src *src, uint64_t now,
		     bool *is_new)
{
	struct dht_key *k = dht_store_find(s, key);
	struct dht_quota *q;

	*is_new = false;
	for (uint32_t i = 0; k && i < k->n_listeners; i++) {
		struct dht_listener *o = &k->listeners[i];

		if (o->sid == l->sid && o->tuple.family == l->tuple.family &&
		    o->tuple.src_port == l->tuple.src_port &&
		    memcmp(o->tuple.src, l->tuple.src, sizeof(o->tuple.src)) == 0) {
			struct dht_quota *keep = o->quota;

			*o = *l; /* Listener::refresh: new query, new time */
			o->quota = keep;
			o->refreshed_ns = now;
			return 0;
		}
	}
	if (s->total_listeners >= s->lim.max_listeners)
		return -ENOSPC;
	q = quota_get(s, src);
	if (!q)
		return -ENOMEM;
	if (q->listeners >= s->lim.quota_listeners) {
		quota_release(s, q);
		return -EDQUOT;
	}
	if (!k)
		k = key_get(s, key);
	if (!k) {
		quota_release(s, q);
		return s->n_keys >= s->lim.max_keys ? -ENOSPC : -ENOMEM;
	}
	if (k->n_listeners == k->cap_listeners) {
		uint32_t nc = k->cap_listeners ? 2 * k->cap_listeners : 2;
		struct dht_listener *nl = realloc(k->listeners, nc * sizeof(*nl));

		if (!nl) {
			quota_release(s, q);
			if (!k->n_values && !k->n_listeners)
				key_remove(s, k);
			return -ENOMEM;
		}
		k->listeners = nl;
		k->cap_listeners = nc;
	}
	k->listeners[k->n_listeners] = *l;
	k->listeners[k->n_listeners].refreshed_ns = now;
	k->listeners[k->n_listeners].quota = q;
	k->n_listeners++;
	q->listeners++;
	s->total_listeners++;
	*is_new = true;
	return 0;
}

/* ---------- expiry ---------- */

#define EXPIRE_BATCH 64

uint32_t dht_store_expire(struct dht_store *s, uint64_t now, dht_expired_fn fn, void *arg)
{
	uint32_t removed = 0;

	for (uint32_t b = 0; b < s->n_key_buckets; b++) {
		struct dht_key *k = s->keys[b], *next;

		for (; k; k = next) {
			uint64_t ids[EXPIRE_BATCH];
			uint32_t n_ids = 0, j = 0;

			next = k->next;
			/* listeners first: the ones still there are told about the values */
			for (uint32_t i = 0; i < k->n_listeners; i++) {
				struct dht_listener *l = &k->listeners[i];

				if (l->refreshed_ns + DHT_LISTENER_EXPIRE_NS < now) {
					if (l->quota) {
						l->quota->listeners--;
						quota_release(s, l->quota);
					}
					s->total_listeners--;
					continue;
				}
				k->listeners[j++] = *l;
			}
			k->n_listeners = j;
			j = 0;
			for (uint32_t i = 0; i < k->n_values; i++) {
				struct dht_stored *v = k->values[i];

				if (v->expires_ns > now) {
					k->values[j++] = v;
					continue;
				}
				if (n_ids == EXPIRE_BATCH) {
					if (fn)
						fn(arg, k, ids, n_ids);
					n_ids = 0;
				}
				ids[n_ids++] = v->id;
				discharge(s, k, v);
				free(v);
				removed++;
			}
			k->n_values = j;
			if (n_ids && fn)
				fn(arg, k, ids, n_ids);
			if (!k->n_values && !k->n_listeners)
				key_remove(s, k);
		}
	}
	return removed;
}
