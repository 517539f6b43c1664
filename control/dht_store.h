/* dht_store.h: the DHT node's storage (control side): values by key, listeners, per-source
 * quotas, expiry and the store/edit policies of OpenDHT 2.4.12 with its secure layer.
 *
 * Rules (Dht::onAnnounce, Dht::storageStore, SecureDht::secureType):
 *   - a value id of 0 is invalid (the caller answers 203 "Put with invalid id");
 *   - a value whose id is not stored yet is stored when it is at most max_value_size bytes
 *     (Value::size(), 64 KiB in OpenDHT) and, if signed, its signature verifies;
 *   - the same value again (same id, same content) only refreshes it;
 *   - another value with a stored id replaces the stored one only when the stored one is
 *     signed and the new one is signed by the same owner with a valid signature and a higher
 *     sequence number (or the same sequence number and the very same signed content); an
 *     unsigned stored value is never edited (ValueType::DEFAULT_EDIT_POLICY). So a forged
 *     location binding never replaces a signed one;
 *   - a value expires created + its type's expiration after it was stored (10 min for the
 *     default type; DhtMessage and ImMessage 5 min, IpServiceAnnouncement 15 min, ICE
 *     candidates 1 min, trust requests and certificates 7 days);
 *   - listeners expire 10 min (Node::NODE_EXPIRE_TIME) after their last listen.
 * What supernode adds (RFC 5765 super-node duties): every value and listener is charged to
 * the address it came from (not the port) and a source over its byte, value or listener
 * quota is refused; storage as a whole is bounded in bytes, keys, values per key and
 * listeners, and is refused when full rather than evicting other sources' values.
 *
 * Keys and sources are looked up in hash tables keyed with a random SipHash key (keys are
 * chosen by the network). Times are monotonic ns. Not thread-safe: the event loop owns it. */
#ifndef CTL_DHT_STORE_H
#define CTL_DHT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dht_value.h"
#include "node_id.h"
#include "sn_channel.h"

#define DHT_QUERY_MAX_WHERE    8
#define DHT_QUERY_UTYPE_MAX    64
#define DHT_LISTENER_EXPIRE_NS (10ull * 60 * 1000000000ull) /* Node::NODE_EXPIRE_TIME */

/* Value::Field */
enum dht_field {
	DHT_FIELD_NONE = 0,
	DHT_FIELD_ID = 1,
	DHT_FIELD_TYPE = 2,
	DHT_FIELD_OWNER = 3,
	DHT_FIELD_SEQ = 4,
	DHT_FIELD_UTYPE = 5,
	DHT_FIELD_COUNT,
};

/* A Query: {w: [{f, v}...], s: [fields]} (get and listen argument q). */
struct dht_query {
	uint8_t n_where;
	uint8_t n_select;
	uint8_t select[DHT_FIELD_COUNT]; /* selected fields, ascending (std::set order) */
	struct {
		uint8_t field;	  /* enum dht_field */
		uint8_t blob_len; /* UTYPE */
		uint64_t num;	  /* ID, TYPE, SEQ */
		uint8_t hash[20]; /* OWNER */
		uint8_t blob[DHT_QUERY_UTYPE_MAX];
	} where[DHT_QUERY_MAX_WHERE];
};

/* Parses a packed query map. Returns 0 or -EBADMSG. */
int dht_query_parse(const uint8_t *p, size_t len, struct dht_query *q);

struct dht_store_limits {
	uint64_t max_bytes;	     /* all values (Value::size) together */
	uint32_t max_keys;	     /* keys with values or listeners */
	uint32_t max_values_per_key; /* OpenDHT's Storage::MAX_VALUES is 65536 */
	uint32_t max_value_size;     /* Value::size of one value, at most 64 KiB */
	uint64_t quota_bytes;	     /* per source address */
	uint32_t quota_values;	     /* per source address */
	uint32_t max_listeners;	     /* all keys together */
	uint32_t quota_listeners;    /* per source address */
};

/* Where a value or listener came from: a quota is per address, not per port. */
struct dht_src {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
};

struct dht_quota {
	struct dht_src src;
	struct dht_quota *next; /* hash chain */
	uint64_t bytes;
	uint32_t values;
	uint32_t listeners;
};

/* A stored value: canonical packed form plus what the policies and filters need. */
struct dht_stored {
	uint64_t id;
	uint16_t type;
	uint16_t seq;
	bool is_signed;
	uint8_t owner_id[20]; /* SHA-1 of the owner key; zero when unsigned */
	uint32_t size;	      /* Value::size() */
	uint64_t created_ns;  /* last store or refresh */
	uint64_t expires_ns;
	struct dht_quota *quota;       /* charged to, or NULL */
	uint32_t dat_off, dat_len;     /* DAT in packed: equality of two values */
	uint32_t body_off, body_len;   /* BODY in packed: the signed bytes */
	uint32_t owner_off, owner_len; /* owner key in packed */
	uint32_t utype_off, utype_len;
	uint32_t packed_len;
	uint8_t packed[]; /* {id, dat, p?} as OpenDHT packs it */
};

struct dht_listener {
	struct sn_node_id node;	   /* the listener's node id */
	struct sn_udp_tuple tuple; /* src: its address and port; dst: ours it talked to */
	uint16_t port_id;	   /* appliance port it came in on */
	uint32_t sid;		   /* its socket id */
	int32_t version;	   /* ve: 1 gets `update` queries, 0 legacy `u` replies */
	uint64_t refreshed_ns;
	struct dht_quota *quota;
	struct dht_query query;
};

struct dht_key {
	struct sn_node_id key;
	struct dht_key *next; /* hash chain */
	uint32_t n_values, cap_values;
	struct dht_stored **values;
	uint32_t n_listeners, cap_listeners;
	struct dht_listener *listeners;
	uint64_t bytes; /* its values' sizes */
};

struct dht_store {
	struct dht_store_limits lim;
	uint8_t hash_key[16];
	struct dht_key **keys;
	uint32_t n_key_buckets, n_keys;
	struct dht_quota **quotas;
	uint32_t n_quota_buckets, n_quotas;
	uint64_t total_bytes;
	uint64_t total_values;
	uint64_t total_listeners;
};

enum dht_put_status {
	DHT_PUT_STORED = 0,    /* a new value */
	DHT_PUT_EDITED,	       /* replaced the stored one (signed, same owner, newer) */
	DHT_PUT_REFRESHED,     /* the same value again: its expiry moved */
	DHT_PUT_EDIT_DENIED,   /* same id, other content, the stored one may not be edited */
	DHT_PUT_BAD_SIGNATURE, /* signed, and the signature does not verify */
	DHT_PUT_TOO_LARGE,     /* over max_value_size */
	DHT_PUT_QUOTA,	       /* the source's byte or value quota is used up */
	DHT_PUT_FULL,	       /* storage limits: bytes, keys or values per key */
	DHT_PUT_EXPIRED,       /* created so long ago that it has already expired */
	DHT_PUT_NOMEM,
	DHT_PUT_STATUS_MAX,
};
extern const char *const dht_put_status_names[DHT_PUT_STATUS_MAX];

/* Expiration of a value type (ValueType::expiration of OpenDHT's registered types). */
uint64_t dht_type_expiration_ns(uint16_t type);

/* hash_key: 16 random bytes. Returns 0 or -ENOMEM. */
int dht_store_init(struct dht_store *s, const struct dht_store_limits *lim,
		   const uint8_t hash_key[16]);
void dht_store_fini(struct dht_store *s);

struct dht_key *dht_store_find(const struct dht_store *s, const struct sn_node_id *key);

/* Stores v (already parsed) under key for src. age_ns: how long ago it was created (the
 * put's `c`, 0 for now). *out (optional) gets the stored value for STORED/EDITED/REFRESHED. */
enum dht_put_status dht_store_put(struct dht_store *s, const struct sn_node_id *key,
				  const struct dht_value *v, const struct dht_src *src,
				  uint64_t age_ns, uint64_t now, struct dht_stored **out);

/* OpenDHT's storageRefresh: -ENOENT when nothing is stored under key; else 0, and the value
 * vid (when stored) lives another type expiration from now. */
int dht_store_refresh(struct dht_store *s, const struct sn_node_id *key, uint64_t vid,
		      uint64_t now);

/* Adds or refreshes a listener (identified by its address, port and sid). *is_new says
 * which. Returns 0, -EDQUOT (source's listener quota), -ENOSPC (max_listeners, max_keys),
 * -ENOMEM. */
int dht_store_listen(struct dht_store *s, const struct sn_node_id *key,
		     const struct dht_listener *l, const struct dht_src *src, uint64_t now,
		     bool *is_new);

/* True when v passes every `where` filter of q (q NULL: no filter). */
bool dht_query_match(const struct dht_query *q, const struct dht_stored *v);

/* Called by dht_store_expire for each key that lost values: their ids, and the key (its
 * listeners are still there to be told). */
typedef void (*dht_expired_fn)(void *arg, struct dht_key *k, const uint64_t *ids, uint32_t n);

/* Removes expired values and listeners (and keys left empty). Returns values removed. */
uint32_t dht_store_expire(struct dht_store *s, uint64_t now, dht_expired_fn fn, void *arg);

/* Quota of a source, or NULL when it holds nothing. */
const struct dht_quota *dht_store_quota(const struct dht_store *s, const struct dht_src *src);

#endif
