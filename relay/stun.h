/* stun.h: STUN (RFC 8489) and TURN (RFC 8656, over UDP) message codec on byte buffers.
 *
 * Pure functions: no DPDK header, no global state that a caller must set up, no logging.
 * The parser and the builder never allocate; only the HMAC and key-derivation helpers call
 * into libcrypto (which allocates its contexts), and those run on the control path only:
 * TURN never authenticates Binding, ChannelData or indications, the fast-path traffic.
 *
 * Parsing is strict and two-step. sn_stun_parse() checks the header (top two bits zero,
 * magic cookie, length a multiple of 4 and equal to the rest of the buffer) and walks every
 * attribute with bounds checks, building a fixed-size index of the first occurrence of each
 * attribute this codec knows. It follows RFC 8489 §14:
 *   - attributes after MESSAGE-INTEGRITY are ignored, except MESSAGE-INTEGRITY-SHA256 and
 *     FINGERPRINT; after MESSAGE-INTEGRITY-SHA256 only FINGERPRINT counts;
 *   - FINGERPRINT must be the last attribute (anything after it is a parse error);
 *   - duplicates: the first occurrence is indexed, later ones are counted and skipped
 *     (sn_stun_find_next() walks all of them, e.g. the XOR-PEER-ADDRESSes of a
 *     CreatePermission);
 *   - unknown comprehension-required attributes (type < 0x8000) are listed for a 420 answer;
 *     unknown comprehension-optional ones are ignored;
 *   - known attributes must have a length their definition allows (fixed sizes, RFC maxima
 *     for strings); padding bytes may hold any value.
 * The integrity and fingerprint checks are separate calls on a parsed message.
 *
 * Every parse outcome is an enum sn_stun_result whose label (sn_stun_result_names) is the
 * `reason` of the caller's drop counter.
 *
 * Strings (USERNAME, REALM, password) are taken as the caller gives them: this codec does
 * not run SASLprep/OpaqueString (RFC 8265); control prepares them (the RFC 5769 test user
 * "マトリックス" is already in normal form, the password "TheMatrIX" is SASLprep("TheMªtrⅨ")).
 */
#ifndef SN_STUN_H
#define SN_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SN_STUN_MAGIC_COOKIE 0x2112a442u
#define SN_STUN_HEADER_LEN   20u
#define SN_STUN_TID_LEN	     12u
/* Largest value of the header's length field (a multiple of 4). */
#define SN_STUN_MAX_BODY 0xfffcu
/* CRC-32 of the message is XORed with this for FINGERPRINT ("STUN"). */
#define SN_STUN_FINGERPRINT_XOR 0x5354554eu
#define SN_STUN_HMAC_SHA1_LEN	20u
#define SN_STUN_HMAC_SHA256_LEN 32u

/* Methods (12 bits). */
enum sn_stun_method {
	SN_STUN_METHOD_BINDING = 0x001,
	SN_STUN_METHOD_ALLOCATE = 0x003,
	SN_STUN_METHOD_REFRESH = 0x004,
	SN_STUN_METHOD_SEND = 0x006,
	SN_STUN_METHOD_DATA = 0x007,
	SN_STUN_METHOD_CREATE_PERMISSION = 0x008,
	SN_STUN_METHOD_CHANNEL_BIND = 0x009,
};

enum sn_stun_class {
	SN_STUN_CLASS_REQUEST = 0,
	SN_STUN_CLASS_INDICATION = 1,
	SN_STUN_CLASS_SUCCESS = 2,
	SN_STUN_CLASS_ERROR = 3,
};

/* Message type field from method and class (RFC 8489 §5: class bits C1 C0 sit at bits 8, 4). */
static inline uint16_t sn_stun_type(unsigned method, unsigned cls)
{
	return (uint16_t)((method & 0x000f) | ((method & 0x0070) << 1) | ((method & 0x0f80) << 2) |
			  ((cls & 1) << 4) | ((cls & 2) << 7));
}

static inline unsigned sn_stun_type_method(uint16_t type)
{
	return (type & 0x000f) | ((type >> 1) & 0x0070) | ((type >> 2) & 0x0f80);
}

static inline unsigned sn_stun_type_class(uint16_t type)
{
	return ((type >> 4) & 1) | ((type >> 7) & 2);
}

/* Attributes this codec knows: enum suffix, type code, minimum and maximum value length.
 * Comprehension-required ones (< 0x8000) first, then comprehension-optional ones. Lengths
 * come from the defining RFCs: 8489 (STUN), 8656 (TURN), 8445 (ICE, so that ICE-style
 * requests are not refused), 5780 (PADDING only: it lets a client make its request as large
 * as the answer). Address attributes are 8 (IPv4) or 20 (IPv6) bytes; MESSAGE-INTEGRITY-SHA256
 * and UNKNOWN-ATTRIBUTES have extra multiple-of rules checked in the parser. */
#define SN_STUN_ATTRS_REQUIRED(X)                                                                  \
	X(MAPPED_ADDRESS, 0x0001, 8, 20)                                                           \
	X(USERNAME, 0x0006, 0, 512) /* RFC 8489: < 509 bytes; RFC 5389 allowed < 513 */            \
	X(MESSAGE_INTEGRITY, 0x0008, 20, 20)                                                       \
	X(ERROR_CODE, 0x0009, 4, 4 + 763)                                                          \
	X(UNKNOWN_ATTRIBUTES, 0x000a, 0, 0xffff)                                                   \
	X(CHANNEL_NUMBER, 0x000c, 4, 4)                                                            \
	X(LIFETIME, 0x000d, 4, 4)                                                                  \
	X(XOR_PEER_ADDRESS, 0x0012, 8, 20)                                                         \
	X(DATA, 0x0013, 0, 0xffff)                                                                 \
	X(REALM, 0x0014, 0, 763)                                                                   \
	X(NONCE, 0x0015, 0, 763)                                                                   \
	X(XOR_RELAYED_ADDRESS, 0x0016, 8, 20)                                                      \
	X(REQUESTED_ADDRESS_FAMILY, 0x0017, 4, 4)                                                  \
	X(EVEN_PORT, 0x0018, 1, 1)                                                                 \
	X(REQUESTED_TRANSPORT, 0x0019, 4, 4)                                                       \
	X(DONT_FRAGMENT, 0x001a, 0, 0)                                                             \
	X(MESSAGE_INTEGRITY_SHA256, 0x001c, 16, 32)                                                \
	X(PASSWORD_ALGORITHM, 0x001d, 4, 0xffff)                                                   \
	X(USERHASH, 0x001e, 32, 32)                                                                \
	X(XOR_MAPPED_ADDRESS, 0x0020, 8, 20)                                                       \
	X(RESERVATION_TOKEN, 0x0022, 8, 8)                                                         \
	X(PRIORITY, 0x0024, 4, 4)                                                                  \
	X(USE_CANDIDATE, 0x0025, 0, 0)                                                             \
	X(PADDING, 0x0026, 0, 0xffff)

#define SN_STUN_ATTRS_OPTIONAL(X)                                                                  \
	X(ADDITIONAL_ADDRESS_FAMILY, 0x8000, 4, 4)                                                 \
	X(ADDRESS_ERROR_CODE, 0x8001, 4, 4 + 763)                                                  \
	X(PASSWORD_ALGORITHMS, 0x8002, 0, 0xffff)                                                  \
	X(ALTERNATE_DOMAIN, 0x8003, 0, 255)                                                        \
	X(ICMP, 0x8004, 8, 8)                                                                      \
	X(SOFTWARE, 0x8022, 0, 763)                                                                \
	X(ALTERNATE_SERVER, 0x8023, 8, 20)                                                         \
	X(FINGERPRINT, 0x8028, 4, 4)                                                               \
	X(ICE_CONTROLLED, 0x8029, 8, 8)                                                            \
	X(ICE_CONTROLLING, 0x802a, 8, 8)

#define SN_STUN_ATTRS(X) SN_STUN_ATTRS_REQUIRED(X) SN_STUN_ATTRS_OPTIONAL(X)

/* Attribute type codes: SN_STUN_ATTR_XOR_PEER_ADDRESS == 0x0012, ... */
enum sn_stun_attr_type {
#define SN_X(name, code, min, max) SN_STUN_ATTR_##name = code,
	SN_STUN_ATTRS(SN_X)
#undef SN_X
};

/* Slots of the attribute index: SN_STUN_A_XOR_PEER_ADDRESS, ... */
/* clang-format off */
enum sn_stun_attr_idx {
#define SN_X(name, code, min, max) SN_STUN_A_##name,
	SN_STUN_ATTRS(SN_X)
#undef SN_X
	SN_STUN_A_COUNT
};
/* clang-format on */

/* Slot of a type code, or -1 when this codec does not know the type. */
int sn_stun_attr_index(uint16_t type);
/* Type code of a slot. */
extern const uint16_t sn_stun_attr_types[SN_STUN_A_COUNT];

/* Outcomes of parsing and checking; label = reason of the caller's drop counter. */
#define SN_STUN_RESULTS(X)                                                                         \
	X(OK, "ok")                                                                                \
	X(TRUNCATED, "stun_truncated")		   /* shorter than the 20-byte header */           \
	X(NOT_STUN, "stun_not_stun")		   /* top two bits of the type not zero */         \
	X(BAD_COOKIE, "stun_bad_cookie")	   /* magic cookie missing (also RFC 3489) */      \
	X(LENGTH_ALIGN, "stun_length_align")	   /* length field not a multiple of 4 */          \
	X(LENGTH_MISMATCH, "stun_length_mismatch") /* length field != bytes after header */        \
	X(ATTR_TRUNCATED, "stun_attr_truncated")   /* attribute runs past the message */           \
	X(ATTR_LENGTH, "stun_attr_length") /* known attribute with a length it can't have */       \
	X(FINGERPRINT_NOT_LAST, "stun_fingerprint_not_last")                                       \
	X(FINGERPRINT_MISMATCH, "stun_fingerprint_mismatch")                                       \
	X(INTEGRITY_MISSING, "stun_integrity_missing")	 /* neither MESSAGE-INTEGRITY attribute */ \
	X(INTEGRITY_MISMATCH, "stun_integrity_mismatch") /* HMAC differs: wrong key or altered */  \
	X(UNKNOWN_ATTRIBUTE, "stun_unknown_attribute")	 /* comprehension-required, not known */

/* clang-format off */
enum sn_stun_result {
#define SN_X(name, label) SN_STUN_##name,
	SN_STUN_RESULTS(SN_X)
#undef SN_X
	SN_STUN_RESULT_MAX
};
/* clang-format on */
extern const char *const sn_stun_result_names[SN_STUN_RESULT_MAX];

/* How many unknown comprehension-required types a parse remembers (distinct types). */
#define SN_STUN_MAX_UNKNOWN 8

/* Where one attribute's value is. */
struct sn_stun_attr_ref {
	uint16_t off; /* value offset from the end of the header (buf + 20); 0: absent, since a
		       * value never starts before offset 4 */
	uint16_t len; /* value length without padding */
};

/* A parsed message: a view into the caller's buffer, which must outlive it. */
struct sn_stun_msg {
	const uint8_t *buf;    /* the message, header first */
	uint32_t len;	       /* whole message in bytes: 20 + the length field */
	uint16_t type;	       /* message type field */
	uint16_t method;       /* enum sn_stun_method (or another 12-bit method) */
	uint8_t cls;	       /* enum sn_stun_class */
	uint8_t n_unknown;     /* entries in unknown[] */
	bool unknown_overflow; /* more distinct unknown types than unknown[] holds */
	uint8_t pad;
	uint16_t n_attrs;      /* attributes walked, ignored ones included */
	uint16_t n_ignored;    /* attributes ignored because they follow an integrity one */
	uint16_t n_duplicates; /* repeated known attributes (first one indexed) */
	uint16_t bad_type;     /* ATTR_TRUNCATED/ATTR_LENGTH: the offending attribute type */
	uint16_t content_end;  /* offset (from buf + 20) of the first integrity or
				* fingerprint attribute, or the body length: the range
				* sn_stun_find_next() walks; 0 when the parse failed */
	uint16_t unknown[SN_STUN_MAX_UNKNOWN]; /* unknown comprehension-required types, in order */
	struct sn_stun_attr_ref attr[SN_STUN_A_COUNT]; /* first occurrence of each known type */
};
/* Lives on a worker's stack for every STUN packet and is zeroed per parse. */
_Static_assert(sizeof(struct sn_stun_msg) <= 192, "parsed message fits three cache lines");

/* Header checks only (cheap; for demultiplexing and early drops). */
enum sn_stun_result sn_stun_check_header(const void *buf, size_t len);

/* Parses buf[0..len) as exactly one STUN message into *m. On any result other than
 * SN_STUN_OK, *m holds what was learnt before the error (header fields once the header
 * passed; bad_type). SN_STUN_OK with m->n_unknown > 0 means the message is well formed but
 * carries comprehension-required attributes this codec does not know: a request gets 420. */
enum sn_stun_result sn_stun_parse(const void *buf, size_t len, struct sn_stun_msg *m);

static inline const uint8_t *sn_stun_tid(const struct sn_stun_msg *m)
{
	return m->buf + 8;
}

static inline bool sn_stun_has(const struct sn_stun_msg *m, enum sn_stun_attr_idx idx)
{
	return m->attr[idx].off != 0;
}

/* Value of the first occurrence of an indexed attribute; NULL (and *len 0) when absent. */
static inline const uint8_t *sn_stun_get(const struct sn_stun_msg *m, enum sn_stun_attr_idx idx,
					 uint16_t *len)
{
	if (!m->attr[idx].off) {
		*len = 0;
		return NULL;
	}
	*len = m->attr[idx].len;
	return m->buf + SN_STUN_HEADER_LEN + m->attr[idx].off;
}

/* Next attribute of `type` in the content part of the message (before any integrity or
 * fingerprint attribute), known or not, duplicates included. Start with *cursor = 0.
 * Returns true and sets *val and *len, or false at the end. */
bool sn_stun_find_next(const struct sn_stun_msg *m, uint16_t type, uint32_t *cursor,
		       const uint8_t **val, uint16_t *len);

/* A 32-bit attribute value (LIFETIME, PRIORITY, ...) in host order; 0 when absent. */
uint32_t sn_stun_get_u32(const struct sn_stun_msg *m, enum sn_stun_attr_idx idx);

/* --- transport addresses --- */

/* A transport address as carried in packets. */
struct sn_stun_addr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t pad;
	uint16_t port;	  /* network byte order */
	uint8_t addr[16]; /* network byte order; IPv4 uses the first 4 bytes */
};
_Static_assert(sizeof(struct sn_stun_addr) == 20, "address layout is fixed");

/* Address families on the wire (RFC 8489 §14.1). */
#define SN_STUN_FAMILY_IPV4 0x01
#define SN_STUN_FAMILY_IPV6 0x02

/* Decodes MAPPED-ADDRESS-style (plain) or XOR-*-ADDRESS (tid given) values. The reserved
 * first byte is ignored as RFC 8489 asks. Returns 0, -EAFNOSUPPORT for an unknown family, or
 * -EINVAL when the length does not match the family. */
int sn_stun_addr_decode(const uint8_t *val, size_t len, struct sn_stun_addr *out);
int sn_stun_xor_addr_decode(const uint8_t *val, size_t len, const uint8_t tid[SN_STUN_TID_LEN],
			    struct sn_stun_addr *out);
/* Encodes into out (20 bytes of room); returns the value length (8 or 20) or -EAFNOSUPPORT. */
int sn_stun_addr_encode(uint8_t *out, const struct sn_stun_addr *a);
int sn_stun_xor_addr_encode(uint8_t *out, const struct sn_stun_addr *a,
			    const uint8_t tid[SN_STUN_TID_LEN]);

/* --- ERROR-CODE --- */

enum sn_stun_error_code {
	SN_STUN_ERR_TRY_ALTERNATE = 300,
	SN_STUN_ERR_BAD_REQUEST = 400,
	SN_STUN_ERR_UNAUTHENTICATED = 401,
	SN_STUN_ERR_FORBIDDEN = 403,
	SN_STUN_ERR_UNKNOWN_ATTRIBUTE = 420,
	SN_STUN_ERR_ALLOCATION_MISMATCH = 437,
	SN_STUN_ERR_STALE_NONCE = 438,
	SN_STUN_ERR_ADDRESS_FAMILY = 440,
	SN_STUN_ERR_WRONG_CREDENTIALS = 441,
	SN_STUN_ERR_UNSUPPORTED_TRANSPORT = 442,
	SN_STUN_ERR_PEER_ADDRESS_FAMILY = 443,
	SN_STUN_ERR_ALLOCATION_QUOTA = 486,
	SN_STUN_ERR_SERVER_ERROR = 500,
	SN_STUN_ERR_INSUFFICIENT_CAPACITY = 508,
};

/* The RFC's reason phrase for a code ("Bad Request"), or "" for codes not listed above. */
const char *sn_stun_error_reason(unsigned code);
/* Decodes an ERROR-CODE value; also ADDRESS-ERROR-CODE, whose class and number sit at the
 * same offsets (its family byte is val[0], which this ignores like the reserved bits).
 * Returns 0 with *code 300..699 and the reason phrase (not NUL-terminated), or -EINVAL. */
int sn_stun_error_decode(const uint8_t *val, size_t len, unsigned *code, const char **reason,
			 size_t *reason_len);

/* --- FINGERPRINT and MESSAGE-INTEGRITY --- */

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32()): pass crc 0 to start, the previous
 * return value to continue. */
uint32_t sn_crc32(uint32_t crc, const void *buf, size_t len);

/* OK when FINGERPRINT is absent or correct, FINGERPRINT_MISMATCH otherwise. */
enum sn_stun_result sn_stun_check_fingerprint(const struct sn_stun_msg *m);

/* Checks MESSAGE-INTEGRITY (HMAC-SHA1) or MESSAGE-INTEGRITY-SHA256 (HMAC-SHA256, possibly
 * truncated to 16..28 bytes) with `key`, in constant time. Returns OK, INTEGRITY_MISSING when
 * the attribute is absent, INTEGRITY_MISMATCH when it differs or the crypto library fails. */
enum sn_stun_result sn_stun_check_mi_sha1(const struct sn_stun_msg *m, const uint8_t *key,
					  size_t key_len);
enum sn_stun_result sn_stun_check_mi_sha256(const struct sn_stun_msg *m, const uint8_t *key,
					    size_t key_len);
/* RFC 8489 §9.2.4: MESSAGE-INTEGRITY-SHA256 when present, MESSAGE-INTEGRITY otherwise. */
enum sn_stun_result sn_stun_check_integrity(const struct sn_stun_msg *m, const uint8_t *key,
					    size_t key_len);

/* PASSWORD-ALGORITHM values (RFC 8489 §18.5). */
enum sn_stun_password_alg {
	SN_STUN_PASSWORD_MD5 = 0x0001,
	SN_STUN_PASSWORD_SHA256 = 0x0002,
};

/* Long-term credential key (RFC 8489 §9.2.2): MD5 or SHA-256 of
 * username ":" realm ":" password. Writes 16 (MD5) or 32 bytes to key (32 bytes of room).
 * Returns the key length, -EINVAL for an unknown algorithm, -EIO if libcrypto fails. */
int sn_stun_long_term_key(enum sn_stun_password_alg alg, const char *user, size_t user_len,
			  const char *realm, size_t realm_len, const char *pass, size_t pass_len,
			  uint8_t key[32]);
/* USERHASH (RFC 8489 §14.4): SHA-256(username ":" realm). Returns 0 or -EIO. */
int sn_stun_userhash(const char *user, size_t user_len, const char *realm, size_t realm_len,
		     uint8_t out[32]);

/* --- builder --- */

/* Writes one message into a caller buffer. Every put checks capacity and keeps the header's
 * length field equal to what was written, so the buffer always holds a complete message.
 * The first error sticks: later puts do nothing and return it, and finish returns it, so a
 * caller can chain puts and check once. */
struct sn_stun_writer {
	uint8_t *buf;  /* caller's buffer */
	size_t cap;    /* its size */
	size_t len;    /* bytes written, header included */
	int err;       /* first error (negative errno) or 0 */
	uint8_t state; /* which closing attributes were added (order enforcement) */
};

/* Starts a message: header with method/class, cookie and tid, length 0. cap < 20 sets
 * -ENOSPC. buf and tid may not overlap unless equal to buf + 8 (re-use of a request's
 * buffer for its answer is done by copying the tid first, see binding.c). */
void sn_stun_writer_init(struct sn_stun_writer *w, void *buf, size_t cap, unsigned method,
			 unsigned cls, const uint8_t tid[SN_STUN_TID_LEN]);
/* Appends an attribute, zero padding. val may overlap the destination of the value (not
 * the 4-byte attribute header or the padding). -ENOSPC: no room; -EMSGSIZE: value > 65535
 * bytes or message body would pass 65532; -EINVAL: after FINGERPRINT, or a non-closing
 * attribute after an integrity one. */
int sn_stun_put_attr(struct sn_stun_writer *w, uint16_t type, const void *val, size_t len);
int sn_stun_put_u32(struct sn_stun_writer *w, uint16_t type, uint32_t host_value);
/* Plain address (MAPPED-ADDRESS, ALTERNATE-SERVER) and XORed address (XOR-*-ADDRESS). */
int sn_stun_put_addr(struct sn_stun_writer *w, uint16_t type, const struct sn_stun_addr *a);
int sn_stun_put_xor_addr(struct sn_stun_writer *w, uint16_t type, const struct sn_stun_addr *a);
/* ERROR-CODE: code 300..699 (else -EINVAL); reason NULL means the RFC phrase for the code.
 * Reasons longer than 763 bytes are refused with -EINVAL. */
int sn_stun_put_error(struct sn_stun_writer *w, unsigned code, const char *reason);
int sn_stun_put_unknown(struct sn_stun_writer *w, const uint16_t *types, size_t n);
/* MESSAGE-INTEGRITY (HMAC-SHA1) / MESSAGE-INTEGRITY-SHA256 (full 32 bytes) over the message
 * so far, with the length field first set to include the attribute. -EIO: libcrypto failed;
 * -EINVAL: key_len 0, or the order rules (SHA-256 after SHA-1 is fine, not the reverse). */
int sn_stun_put_integrity(struct sn_stun_writer *w, const uint8_t *key, size_t key_len);
int sn_stun_put_integrity_sha256(struct sn_stun_writer *w, const uint8_t *key, size_t key_len);
/* FINGERPRINT over the message so far, length field first set to include it. Must be last. */
int sn_stun_put_fingerprint(struct sn_stun_writer *w);

#define SN_STUN_FINISH_INTEGRITY	(1u << 0) /* add MESSAGE-INTEGRITY */
#define SN_STUN_FINISH_INTEGRITY_SHA256 (1u << 1) /* add MESSAGE-INTEGRITY-SHA256 */
#define SN_STUN_FINISH_FINGERPRINT	(1u << 2) /* add FINGERPRINT (last) */

/* Adds the closing attributes `flags` asks for, in the RFC's order, and returns the total
 * message length or the first error. key may be NULL when no integrity flag is given. */
int sn_stun_writer_finish(struct sn_stun_writer *w, unsigned flags, const uint8_t *key,
			  size_t key_len);

/* Header of a Data indication for the fast path, built in front of a payload that is
 * already in place: STUN header, XOR-PEER-ADDRESS(peer), DATA attribute header. The caller
 * appends data_len bytes of data then sn_stun_pad(data_len) zero bytes. Returns the prefix
 * length (36 for IPv4, 48 for IPv6), -ENOSPC, -EMSGSIZE or -EAFNOSUPPORT. */
int sn_stun_data_indication_prefix(uint8_t *out, size_t cap, const uint8_t tid[SN_STUN_TID_LEN],
				   const struct sn_stun_addr *peer, size_t data_len);

/* Padding bytes after a value of len bytes. */
static inline size_t sn_stun_pad(size_t len)
{
	return (4 - (len & 3)) & 3;
}

#endif
