/* token.h: OpenDHT write tokens, keyed by the requester's address and a rotating secret.
 *
 * A node hands out a token with every find/get reply; the requester must echo it in its
 * put, listen and refresh to prove that it receives packets at the address it claims.
 * OpenDHT 2.4.12 makes a 32-byte token (TOKEN_SIZE) from a hash of its secret, the
 * address and the port, rotates the secret every 15 to 45 minutes and accepts tokens made
 * with the current or the previous secret. Tokens are opaque to everyone else, so ours need
 * only keep the size and the rotation rule.
 *
 * Ours: token = SipHash-2-4-128(k0, msg) || SipHash-2-4-128(k1, msg), where k0 and k1 are the
 * two halves of a 32-byte secret and msg is the address bytes (4 or 16) followed by the port
 * in network byte order. SipHash is a keyed PRF built for short inputs: a token cannot be
 * forged or checked without the secret, it costs about 100 ns, and it needs no allocation
 * or library call, so workers can make tokens on the fast path (HMAC through libcrypto's
 * EVP interface allocates and locks).
 *
 * Concurrency: workers read the secrets through a pointer the table writer publishes with
 * RCU; the writer rotates a copy (sn_token_rotate) and publishes the copy, so a reader never
 * sees a half-written secret.
 */
#ifndef SN_TOKEN_H
#define SN_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node_id.h"

#define SN_TOKEN_LEN	    32 /* OpenDHT's Dht::TOKEN_SIZE */
#define SN_TOKEN_SECRET_LEN 32 /* two 128-bit SipHash keys */

struct sn_token_secrets {
	uint8_t current[SN_TOKEN_SECRET_LEN];  /* makes new tokens; accepted */
	uint8_t previous[SN_TOKEN_SECRET_LEN]; /* accepted until the next rotation */
	uint64_t rotations;		       /* times rotated since init */
};

/* Starts with secret as both current and previous. The caller supplies the randomness
 * (getrandom in control or the writer) so that this module stays pure and testable. */
void sn_token_init(struct sn_token_secrets *s, const uint8_t secret[SN_TOKEN_SECRET_LEN]);

/* current becomes previous, new_secret becomes current: a token made before the previous
 * rotation stops being accepted. */
void sn_token_rotate(struct sn_token_secrets *s, const uint8_t new_secret[SN_TOKEN_SECRET_LEN]);

/* Token for addr (family, address bytes, port) under the current secret.
 * Returns 0, or -EAFNOSUPPORT for a family other than AF_INET/AF_INET6. */
int sn_token_make(const struct sn_token_secrets *s, const struct sn_node_addr *addr,
		  uint8_t out[SN_TOKEN_LEN]);

/* Checks a token received from addr. Returns 0 (made with the current secret),
 * 1 (made with the previous one), -EACCES (wrong: another address, port or an older
 * secret), -EINVAL (not SN_TOKEN_LEN bytes), -EAFNOSUPPORT. Constant time in the token. */
int sn_token_check(const struct sn_token_secrets *s, const struct sn_node_addr *addr,
		   const uint8_t *token, size_t len);

/* SipHash-2-4 with 64- and 128-bit output (Aumasson & Bernstein), little-endian output as
 * in the reference implementation. */
uint64_t sn_siphash24_64(const uint8_t key[16], const void *msg, size_t len);
void sn_siphash24_128(const uint8_t key[16], const void *msg, size_t len, uint8_t out[16]);

#endif
