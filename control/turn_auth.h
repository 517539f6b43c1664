/* turn_auth.h: long-term credentials for TURN (RFC 8489 §9.2, RFC 8656 §5): stateless
 * nonces, the user table (turn.users) and the TURN REST API's time-limited usernames
 * (coturn's use-auth-secret).
 *
 * Nonces. A NONCE is base64url text of 4 to 24 characters (a multiple of 4), so that the
 * 401/438 challenge can be made to fit under an unauthenticated request (never answer
 * with more bytes than were sent): 24 characters when there is room, down to 4 for a
 * short request. Its bytes are a 16-bit timestamp (time / 16 s) and the first bytes of
 * HMAC-SHA256(secret, "sn-nonce" | full timestamp | client 5-tuple). Nothing is stored per
 * nonce: the check recomputes the MAC for the newest timestamp with those 16 bits, so a
 * nonce is tied to its 5-tuple and to its full issue time; it is stale (438) once older
 * than turn.nonce_lifetime (at a 16 s granularity). The MAC is as long as the room allows
 * (1 to 16 bytes); it keeps a client from picking its own expiry, which is all a nonce has
 * to do here: MESSAGE-INTEGRITY covers the nonce, so a forged one gains nothing without
 * the password. The secret lives in <runtime_dir>/turn.secret, so a restarted control
 * keeps accepting the nonces it gave out.
 *
 * Credentials. USERNAME is looked up in turn.users first; otherwise, when turn.rest_secret
 * is set and the name is "EXPIRY[:USER]" (EXPIRY a Unix time in decimal), its password is
 * base64(HMAC-SHA1(rest_secret, USERNAME)) and it is refused once EXPIRY has passed. The
 * key is MD5(USERNAME ":" realm ":" password) (sn_stun_long_term_key). The identity a quota
 * counts and an allocation belongs to is the static user's name, or the USER part of a REST
 * name (so renewed REST credentials of one user can refresh that user's allocations and
 * share its quota; a REST USER that is also a static user gets that user's quota). */
#ifndef CTL_TURN_AUTH_H
#define CTL_TURN_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sn_channel.h"
#include "sn_config.h"

#define CTL_TURN_SECRET_LEN    32
#define CTL_TURN_NONCE_MIN     4 /* characters */
#define CTL_TURN_NONCE_MAX     24
#define CTL_TURN_NONCE_SLOT_S  16 /* timestamp granularity, seconds */
#define CTL_TURN_IDENTITY_MAX  SN_CONFIG_TURN_STR
#define CTL_TURN_REST_PASS_LEN 28 /* base64 of a 20-byte HMAC-SHA1, padding included */

struct ctl_turn_auth {
	uint8_t secret[CTL_TURN_SECRET_LEN]; /* nonce MAC key */
	const struct sn_turn_config *cfg;    /* realm, users, rest_secret, nonce_lifetime */
};

enum ctl_nonce_result {
	CTL_NONCE_OK = 0,
	CTL_NONCE_STALE,   /* well formed, ours, older than nonce_lifetime */
	CTL_NONCE_INVALID, /* not ours: wrong length, characters, MAC or 5-tuple */
};

/* Writes a nonce of len characters (CTL_TURN_NONCE_MIN..MAX, a multiple of 4) for the
 * client 5-tuple at now_s (Unix seconds) into out (len bytes, not NUL-terminated).
 * Returns 0, -EINVAL (bad length) or -EIO (libcrypto). */
int ctl_turn_nonce_make(const struct ctl_turn_auth *a, const struct sn_udp_tuple *client,
			uint64_t now_s, size_t len, char *out);
enum ctl_nonce_result ctl_turn_nonce_check(const struct ctl_turn_auth *a,
					   const struct sn_udp_tuple *client, const uint8_t *nonce,
					   size_t len, uint64_t now_s);

enum ctl_cred_result {
	CTL_CRED_OK = 0,
	CTL_CRED_UNKNOWN_USER, /* not in turn.users and not a REST name (or REST is off) */
	CTL_CRED_REST_EXPIRED, /* REST name whose EXPIRY has passed */
	CTL_CRED_BAD_USERNAME, /* NUL inside, too long, or a REST name that does not parse */
	CTL_CRED_INTERNAL,     /* libcrypto failed */
};

struct ctl_turn_cred {
	char identity[CTL_TURN_IDENTITY_MAX]; /* quota and allocation owner, NUL-terminated */
	int user_idx;			      /* turn.users index, or -1 */
	bool rest;			      /* a REST API username */
	uint64_t rest_expiry;		      /* its EXPIRY (Unix seconds) */
	uint8_t key[32];		      /* long-term key (MD5: 16 bytes used) */
	size_t key_len;			      /* 16 */
};

/* Finds the credential of USERNAME user[0..len) and derives its key. */
enum ctl_cred_result ctl_turn_credential(const struct ctl_turn_auth *a, const uint8_t *user,
					 size_t len, uint64_t now_s, struct ctl_turn_cred *out);

/* The REST API password of a username: base64(HMAC-SHA1(secret, user)), NUL-terminated in
 * out (CTL_TURN_REST_PASS_LEN + 1 bytes). Returns 0 or -EIO. */
int ctl_turn_rest_password(const char *secret, size_t secret_len, const uint8_t *user,
			   size_t user_len, char out[CTL_TURN_REST_PASS_LEN + 1]);

/* Fills secret with random bytes: from path when it holds CTL_TURN_SECRET_LEN bytes,
 * else new ones written there (mode 0600). path NULL: random only. Returns 0 or a
 * negative errno (the secret is random even then; only persistence failed). */
int ctl_turn_secret_load(uint8_t secret[CTL_TURN_SECRET_LEN], const char *path);

#endif
