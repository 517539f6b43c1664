/* dht_value.h: OpenDHT 2.4.12 values (dht::Value) as they travel in put, get and update
 * messages, and the checks of OpenDHT's secure layer for signed values.
 *
 * Wire form (msgpack, Value::msgpack_pack):
 *   {id: uint64, dat: DAT, p?: uint}          p (priority) only when non-zero
 *   DAT = bin (an encrypted value's cypher) | {body: BODY, sig?: bin}
 *   BODY (Value::msgpack_pack_to_sign, the bytes a signature covers), keys in this order:
 *     unsigned: {type: uint16, data: bin, utype?: str}
 *     signed:   {seq: uint16, owner: bin (DER SubjectPublicKeyInfo), to?: bin(20),
 *                type: uint16, data: bin, utype?: str}
 * A signed value (BODY has owner) must carry sig in DAT: an RSA PKCS#1 v1.5 signature with
 * SHA-512 over the packed BODY, made by the owner's key (crypto::PublicKey::checkSignature).
 * OpenDHT checks the signature over BODY as it packs it again from the parsed fields, so
 * dht_value_pack_body() re-packs it the same way (msgpack-c's smallest encodings) rather than
 * trusting the bytes received.
 *
 * Parsing is as lenient as OpenDHT's Value::msgpack_unpack where OpenDHT is (keys in any
 * order, unknown keys skipped, data as bin or str) and strict on sizes: nothing is read past
 * the buffer, nesting is bounded. No allocation. */
#ifndef CTL_DHT_VALUE_H
#define CTL_DHT_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DHT_VALUE_MAX_SIZE   (64u * 1024u) /* OpenDHT's MAX_VALUE_SIZE */
#define DHT_VALUE_INVALID_ID 0		   /* Value::INVALID_ID */

struct dht_value {
	uint64_t id;
	uint16_t type;	       /* ValueType id */
	uint16_t seq;	       /* signed values: sequence number */
	uint32_t priority;     /* p */
	bool encrypted;	       /* DAT was a bin: cypher holds it, no body */
	bool has_owner;	       /* BODY had owner (signed value); then sig is set */
	bool has_to;	       /* BODY had to */
	uint8_t to[20];	       /* recipient */
	const uint8_t *cypher; /* encrypted: the whole DAT bin */
	uint32_t cypher_len;
	const uint8_t *data; /* BODY data */
	uint32_t data_len;
	const uint8_t *owner; /* BODY owner: DER public key */
	uint32_t owner_len;
	const uint8_t *sig; /* DAT sig */
	uint32_t sig_len;
	const char *utype; /* BODY utype */
	uint32_t utype_len;
	const uint8_t *dat; /* DAT as received (whole bin or map) */
	uint32_t dat_len;
	const uint8_t *body; /* BODY as received (not encrypted) */
	uint32_t body_len;
};

/* Parses one packed value buf[0..len) (exactly one msgpack map, nothing after it).
 * Returns 0, or -EBADMSG (not a value OpenDHT would accept). */
int dht_value_parse(const void *buf, size_t len, struct dht_value *v);

/* OpenDHT's Value::size(): cypher + data + signature + user type bytes (what quotas and the
 * 64 KiB limit count). */
size_t dht_value_size(const struct dht_value *v);

/* Packs BODY (the signed bytes) / the whole value, canonically. Return the length or
 * -EMSGSIZE. A buffer of dht_value_size() + 256 bytes is always enough for either. */
int dht_value_pack_body(const struct dht_value *v, uint8_t *buf, size_t cap);
int dht_value_pack(const struct dht_value *v, uint8_t *buf, size_t cap);

/* Checks a signed value's signature with OpenSSL. Returns 0 (valid), -EPERM (signature does
 * not match), -EINVAL (not signed, or the owner is not a DER RSA public key), -ENOMEM. */
int dht_value_verify(const struct dht_value *v);

/* The owner's InfoHash as OpenDHT computes it (gnutls key id: SHA-1 of the DER public key),
 * which `owner_pk` filters compare with. Zero for unsigned values. */
void dht_value_owner_id(const struct dht_value *v, uint8_t out[20]);

#endif
