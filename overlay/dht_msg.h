/* dht_msg.h: OpenDHT 2.4.12 UDP messages: a strict parser into a fixed struct and builders
 * for the messages the appliance sends. docs/dht-wire.md describes the format.
 *
 * A message is one msgpack map per datagram. Top-level keys: y (kind: "q", "r", "e", "p"),
 * t (transaction id), v (user agent, "RNG1"), n (network id, absent when 0), q (query name),
 * a (query arguments), r (reply body), e (error: [code, text]), u (legacy listener push),
 * p (value fragments), s (is-client flag). Bodies (a, r, u) share one key set: id, h,
 * target, q (query filter), token, vid, n4, n6, c, sa, values, exp, re, fileds (sic), w,
 * ve, sid.
 *
 * Parsing is stricter than OpenDHT's (which skips what it does not like), never looser on
 * anything OpenDHT emits: known keys must have OpenDHT's types and sizes (ids are 20-byte
 * bins, n4/n6 whole compact entries, sa 4 or 16 bytes...), keys are strings and appear once,
 * nesting is bounded, nothing follows the map. Unknown keys are skipped (bounded), so a newer
 * peer's additions do not break us. Every refusal has its own enum sn_dht_reason, counted by
 * the caller as a drop reason. The parser reads the buffer in place: spans in struct
 * sn_dht_msg point into it and live as long as it does. No allocation.
 *
 * Builders write into a caller buffer and return the length or -EMSGSIZE. Their output is
 * byte-for-byte what OpenDHT 2.4.12 sends for the same content (same key order, smallest
 * integer encodings, ids and tokens as bin), checked against captured real messages.
 */
#ifndef SN_DHT_MSG_H
#define SN_DHT_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node_id.h"

/* clang-format off */
#define SN_DHT_DEFAULT_PORT 4222
#define SN_DHT_USER_AGENT   "RNG1" /* NetworkEngine::my_v */
#define SN_DHT_NODE4_LEN    26     /* compact IPv4 node: id, address, port */
#define SN_DHT_NODE6_LEN    38     /* compact IPv6 node */
#define SN_DHT_SEND_NODES   8      /* nodes per family in a reply (SEND_NODES) */
#define SN_DHT_WANT4        1      /* `w` lists AF_INET (2) */
#define SN_DHT_WANT6        2      /* `w` lists AF_INET6 (10) */
#define SN_DHT_MAX_DEPTH    16     /* deepest nesting accepted anywhere in a message */
#define SN_DHT_MAX_KEYS     32     /* most entries accepted in the top map or a body */
/* OpenDHT's MAX_VALUE_SIZE; fragment size headers above it (plus 32 bytes of slack) are
 * refused. */
#define SN_DHT_MAX_VALUE_SIZE (64 * 1024)
#define SN_DHT_FRAGMENT_MTU 1280 /* bytes of value data per `p` message (NetworkEngine::MTU) */

/* Error codes OpenDHT sends (DhtProtocolException), with the texts it pairs them with. */
#define SN_DHT_ERR_NON_AUTHORITATIVE 203 /* request lacks its info hash */
#define SN_DHT_ERR_UNAUTHORIZED      401 /* wrong token */
#define SN_DHT_ERR_NOT_FOUND         404 /* refresh of an unknown value */
#define SN_DHT_TEXT_GET_NO_INFOHASH    "Get_values with no info_hash"
#define SN_DHT_TEXT_LISTEN_NO_INFOHASH "Listen with no info_hash"
#define SN_DHT_TEXT_LISTEN_WRONG_TOKEN "Listen with wrong token"
#define SN_DHT_TEXT_PUT_NO_INFOHASH    "Put with no info_hash"
#define SN_DHT_TEXT_PUT_WRONG_TOKEN    "Put with wrong token"
#define SN_DHT_TEXT_PUT_INVALID_ID     "Put with invalid id"
#define SN_DHT_TEXT_STORAGE_NOT_FOUND  "Access operation for unknown storage"
/* clang-format on */

enum sn_dht_type {
	SN_DHT_T_NONE = 0,     /* not parsed */
	SN_DHT_T_QUERY,	       /* y "q" with a query name */
	SN_DHT_T_REPLY,	       /* has r */
	SN_DHT_T_ERROR,	       /* has e */
	SN_DHT_T_VALUE_DATA,   /* has p: fragments of values announced in an earlier message */
	SN_DHT_T_VALUE_UPDATE, /* has u: listener push from a version-0 listener */
};

/* Query names (q), in OpenDHT's spelling. */
#define SN_DHT_QUERIES(X)                                                                          \
	X(PING, "ping")                                                                            \
	X(FIND, "find")                                                                            \
	X(GET, "get")                                                                              \
	X(PUT, "put")                                                                              \
	X(LISTEN, "listen")                                                                        \
	X(REFRESH, "refresh")                                                                      \
	X(UPDATE, "update")

/* clang-format off */
enum sn_dht_query {
	SN_DHT_Q_NONE = 0, /* not a query */
#define SN_X_ENUM(name, str) SN_DHT_Q_##name,
	SN_DHT_QUERIES(SN_X_ENUM)
#undef SN_X_ENUM
	SN_DHT_Q_MAX
};
extern const char *const sn_dht_query_names[SN_DHT_Q_MAX];

/* Why a message was refused (parse) or dropped (fast path); the `reason` label. */
#define SN_DHT_REASONS(X)                                                                          \
	X(OK, "ok")                                                                                \
	X(TRUNCATED, "truncated")           /* a value runs past the datagram */                 \
	X(LENGTH, "bad_length")             /* a declared length exceeds the datagram */         \
	X(MALFORMED, "malformed")           /* not MessagePack (0xc1) */                         \
	X(TRAILING, "trailing_bytes")       /* bytes after the top-level map */                  \
	X(NOT_MAP, "not_map")               /* top level is not a map */                         \
	X(TOO_DEEP, "too_deep")             /* nesting over SN_DHT_MAX_DEPTH */                  \
	X(TOO_MANY_KEYS, "too_many_keys")   /* a map over SN_DHT_MAX_KEYS entries */             \
	X(KEY_TYPE, "key_type")             /* a map key that is not a string */                 \
	X(DUPLICATE_KEY, "duplicate_key")   /* a known key given twice */                        \
	X(BAD_Y, "bad_y")                   /* y not a string, or not matching the body */       \
	X(BAD_TID, "bad_tid")               /* t not a uint32 or 4-byte bin/str */               \
	X(BAD_NETWORK, "bad_network")       /* n not a uint32 */                                 \
	X(BAD_UA, "bad_ua")                 /* v not a string */                                 \
	X(BAD_CLIENT, "bad_client")         /* s not a bool */                                   \
	X(BAD_QUERY_NAME, "bad_query_name") /* q not a string */                                 \
	X(UNKNOWN_QUERY, "unknown_query")   /* q names no query OpenDHT knows */                 \
	X(NO_BODY, "no_body")               /* none of a, r, e, u, p */                          \
	X(BAD_BODY, "bad_body")             /* a/r/u/p not a map, or several bodies */           \
	X(BAD_ERROR, "bad_error")           /* e not [uint16 code, string text] */               \
	X(BAD_ID, "bad_id")                 /* id not a 20-byte bin */                           \
	X(BAD_HASH, "bad_h")                /* h not a 20-byte bin */                            \
	X(BAD_TARGET, "bad_target")         /* target not a 20-byte bin */                       \
	X(BAD_SID, "bad_sid")               /* sid not a uint32 or 4-byte bin/str */             \
	X(BAD_TOKEN, "bad_token")           /* token not a bin */                                \
	X(BAD_VID, "bad_vid")               /* vid not a uint64 */                               \
	X(BAD_NODES4, "bad_n4")             /* n4 not a bin of whole 26-byte entries */          \
	X(BAD_NODES6, "bad_n6")             /* n6 not a bin of whole 38-byte entries */          \
	X(BAD_SA, "bad_sa")                 /* sa not a 4- or 16-byte bin */                     \
	X(BAD_CREATED, "bad_c")             /* c not an integer */                               \
	X(BAD_VALUES, "bad_values")         /* values not an array of maps and sizes */          \
	X(BAD_FIELDS, "bad_fields")         /* fileds not a map */                               \
	X(BAD_FILTER, "bad_q_filter")       /* body q not a map */                               \
	X(BAD_WANT, "bad_w")                /* w not an array of small uints */                  \
	X(BAD_VERSION, "bad_ve")            /* ve not an int32 */                                \
	X(BAD_VALUE_IDS, "bad_value_ids")   /* exp/re not arrays of uint64 */                    \
	X(BAD_PARTS, "bad_p")               /* p not {index: {o: offset, d: bin}} */             \
	X(MISSING_ID, "missing_id")         /* no id, or the zero id (OpenDHT drops those) */    \
	X(MISSING_TARGET, "missing_target") /* find without target */                            \
	X(WRONG_NETWORK, "wrong_network")   /* n differs from ours */                            \
	X(SELF_ID, "self_id")               /* the sender claims our id */                       \
	X(MARTIAN, "martian_source")        /* source address OpenDHT would never answer */      \
	X(NO_ROOM, "reply_too_large")       /* reply does not fit the buffer (a bug) */

enum sn_dht_reason {
#define SN_X_ENUM(name, label) SN_DHT_R_##name,
	SN_DHT_REASONS(SN_X_ENUM)
#undef SN_X_ENUM
	SN_DHT_R_MAX
};
/* clang-format on */
extern const char *const sn_dht_reason_names[SN_DHT_R_MAX];

/* Bytes inside the parsed datagram. */
struct sn_dht_span {
	const uint8_t *p;
	uint32_t len;
};

/* Which optional fields a message carried (struct sn_dht_msg.has). */
enum sn_dht_field {
	SN_DHT_F_TID = 1u << 0,
	SN_DHT_F_NETWORK = 1u << 1,
	SN_DHT_F_UA = 1u << 2,
	SN_DHT_F_CLIENT = 1u << 3,
	SN_DHT_F_ID = 1u << 4,
	SN_DHT_F_HASH = 1u << 5,
	SN_DHT_F_TARGET = 1u << 6,
	SN_DHT_F_SID = 1u << 7,
	SN_DHT_F_TOKEN = 1u << 8,
	SN_DHT_F_VID = 1u << 9,
	SN_DHT_F_NODES4 = 1u << 10,
	SN_DHT_F_NODES6 = 1u << 11,
	SN_DHT_F_SA = 1u << 12,
	SN_DHT_F_CREATED = 1u << 13,
	SN_DHT_F_VALUES = 1u << 14,
	SN_DHT_F_FIELDS = 1u << 15,
	SN_DHT_F_FILTER = 1u << 16,
	SN_DHT_F_WANT = 1u << 17,
	SN_DHT_F_VERSION = 1u << 18,
	SN_DHT_F_EXPIRED = 1u << 19,
	SN_DHT_F_REFRESHED = 1u << 20,
	SN_DHT_F_ERROR = 1u << 21,
	SN_DHT_F_PARTS = 1u << 22,
};

struct sn_dht_msg {
	enum sn_dht_type type;
	enum sn_dht_query query; /* SN_DHT_T_QUERY only */
	uint32_t has;		 /* enum sn_dht_field bits */
	uint32_t tid;		 /* t; 0 when absent, as OpenDHT reads it */
	uint32_t network;	 /* n; 0 when absent */
	bool is_client;		 /* s */
	uint8_t want;		 /* w as SN_DHT_WANT4/6 bits; only with SN_DHT_F_WANT */
	uint8_t sa_family;	 /* AF_INET/AF_INET6 when SN_DHT_F_SA */
	uint8_t pad;
	struct sn_dht_span ua; /* v */
	/* body: a (query), r (reply, or the id of an error), u (push) */
	struct sn_node_id id;	     /* sender's id */
	struct sn_node_id info_hash; /* h: key of get/put/listen/refresh/update */
	struct sn_node_id target;    /* target of find */
	uint32_t sid;		     /* listen socket id */
	int32_t version;	     /* ve: listen protocol version */
	uint64_t vid;		     /* value id (refresh, put reply) */
	int64_t created;	     /* c: creation time, seconds since the epoch */
	struct sn_dht_span token;    /* write token */
	struct sn_dht_span nodes4;   /* n4: whole 26-byte entries */
	struct sn_dht_span nodes6;   /* n6: whole 38-byte entries */
	uint8_t sa[16];		     /* sa: our address as the sender saw it */
	struct sn_dht_span values;   /* the elements of the values array, packed */
	uint32_t n_values;	     /* elements: packed values and fragment size headers */
	uint32_t n_value_sizes;	     /* of which size headers (the values follow in p) */
	struct sn_dht_span filter;   /* body q: the packed query filter map */
	struct sn_dht_span fields;   /* fileds: the packed map */
	struct sn_dht_span expired;  /* exp: the array's packed uint64 elements */
	uint32_t n_expired;
	struct sn_dht_span refreshed; /* re: likewise */
	uint32_t n_refreshed;
	/* e */
	uint16_t error_code;
	struct sn_dht_span error_text;
	/* p */
	struct sn_dht_span parts; /* the entries of the p map, packed */
	uint32_t n_parts;
};

/* Parses buf[0..len). Returns SN_DHT_R_OK and fills *msg, or the reason it refused. */
enum sn_dht_reason sn_dht_parse(const void *buf, size_t len, struct sn_dht_msg *msg);

/* --- builders --- */

/* A reply (r). Key order as OpenDHT: id, vid, sa, n4, n6, token, values or fileds. */
struct sn_dht_reply {
	uint32_t tid;		       /* echoed t */
	uint32_t network;	       /* our network id; 0: no n */
	const struct sn_node_id *id;   /* our id */
	const struct sn_node_addr *sa; /* the requester's address; NULL: no sa */
	bool has_vid;		       /* put/refresh confirmation */
	uint64_t vid;
	const uint8_t *const *nodes4; /* compact 26-byte entries; n4 omitted when none */
	unsigned n_nodes4;
	const uint8_t *const *nodes6; /* compact 38-byte entries */
	unsigned n_nodes6;
	const uint8_t *token; /* NULL or token_len 0: no token */
	uint32_t token_len;
	const uint8_t *values; /* packed array elements; n_values 0: no values */
	uint32_t values_len;
	uint32_t n_values;
	const uint8_t *fields; /* packed fileds map; NULL: none (ignored with values) */
	uint32_t fields_len;
};

/* Each returns the message length, or -EMSGSIZE (cap too small) / -EINVAL. */
int sn_dht_build_reply(void *buf, size_t cap, const struct sn_dht_reply *r);
/* Ping reply: r {id, sa}. Also OpenDHT's listen and update confirmation. */
int sn_dht_build_pong(void *buf, size_t cap, uint32_t tid, uint32_t network,
		      const struct sn_node_id *id, const struct sn_node_addr *sa);
/* e [code, text], r {id} (id NULL: no r), t, y "e", v, n. */
int sn_dht_build_error(void *buf, size_t cap, uint32_t tid, uint32_t network,
		       const struct sn_node_id *id, uint16_t code, const char *text);
/* Queries the appliance sends for table upkeep. */
int sn_dht_build_ping(void *buf, size_t cap, uint32_t tid, uint32_t network,
		      const struct sn_node_id *id);
/* want: SN_DHT_WANT4/6 bits; 0: no w (the peer answers in the family it received on). */
int sn_dht_build_find(void *buf, size_t cap, uint32_t tid, uint32_t network,
		      const struct sn_node_id *id, const struct sn_node_id *target, unsigned want);

#endif
