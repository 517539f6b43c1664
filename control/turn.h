/* turn.h: the control side of the TURN relay (RFC 8656 over UDP, STUN per RFC 8489).
 *
 * The dataplane answers Binding and relays ChannelData, Send indications and peer data on
 * its own; every other STUN request on a TURN port is punted here (reason turn). This
 * module answers Allocate, Refresh, CreatePermission and ChannelBind with long-term
 * credentials (turn_auth.h), owns the allocations (relay ports, lifetimes, permissions,
 * channels, quotas, peer policy: turn_policy.h) and keeps the dataplane's tables
 * SN_TABLE_TURN_ALLOC / _PERM / _CHANNEL in step with TABLE_CMDs:
 *
 *   - a request that changes state sends its TABLE_CMDs and is answered (INJECT, from the
 *     appliance address and port the request came to) only once every TABLE_ACK says the
 *     change is in effect, so a client never sends data the fast path does not yet know;
 *     a refused command turns the answer into 508 (table full) or 500, and an Allocate is
 *     rolled back. Unacknowledged commands are resent after CTL_CHAN_ACK_TIMEOUT_NS;
 *   - expiry runs on control's timer (allocations after their lifetime, permissions after
 *     300 s, channels after 600 s and then 300 s of quarantine), and the dataplane checks
 *     expiry on every packet too, so nothing outlives its time while a DEL is in flight;
 *   - on every resync (control restart, channel reconnect, dataplane restart) the dump
 *     is compared with control's view: what control has and the dataplane lacks or holds
 *     differently is sent again; what only the dataplane has (a restarted control) is
 *     adopted with its 5-tuple, relay ports, expiry and counters, and its owner is learnt
 *     from the next authenticated request on that 5-tuple (credentials are not in the dump);
 *     expired or deleted entries in the dump are removed.
 *
 * Unauthenticated senders never get an answer larger than their request: challenges
 * (401, 438) and errors shrink (no SOFTWARE, no reason phrase, no FINGERPRINT, a shorter
 * nonce) until they fit, or are dropped and counted (challenge_too_large).
 *
 * Everything runs on control's event-loop thread; /metrics reads struct
 * ctl_turn_counters from the HTTP thread with relaxed atomics (counters.h helpers). */
#ifndef CTL_TURN_H
#define CTL_TURN_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "chan.h"
#include "counters.h"
#include "sn_config.h"

/* Request methods: enum suffix, `method` label. */
#define CTL_TURN_METHODS(X)                                                                        \
	X(ALLOCATE, "allocate")                                                                    \
	X(REFRESH, "refresh")                                                                      \
	X(CREATE_PERMISSION, "create_permission")                                                  \
	X(CHANNEL_BIND, "channel_bind")                                                            \
	X(OTHER, "other") /* any other STUN method punted as a request: 400 */

enum ctl_turn_method {
#define CTL_X(name, label) CTL_TURN_M_##name,
	CTL_TURN_METHODS(CTL_X)
#undef CTL_X
	    CTL_TURN_M_MAX
};
extern const char *const ctl_turn_method_names[CTL_TURN_M_MAX];

/* Error responses: enum suffix, code, `reason` label. */
#define CTL_TURN_ERRORS(X)                                                                         \
	X(BAD_REQUEST, 400, "bad_request")                                                         \
	X(UNAUTHENTICATED, 401, "unauthenticated")                                                 \
	X(FORBIDDEN, 403, "forbidden")                                                             \
	X(UNKNOWN_ATTRIBUTE, 420, "unknown_attribute")                                             \
	X(ALLOCATION_MISMATCH, 437, "allocation_mismatch")                                         \
	X(STALE_NONCE, 438, "stale_nonce")                                                         \
	X(ADDRESS_FAMILY, 440, "address_family_not_supported")                                     \
	X(WRONG_CREDENTIALS, 441, "wrong_credentials")                                             \
	X(UNSUPPORTED_TRANSPORT, 442, "unsupported_transport_protocol")                            \
	X(PEER_ADDRESS_FAMILY, 443, "peer_address_family_mismatch")                                \
	X(ALLOCATION_QUOTA, 486, "allocation_quota_reached")                                       \
	X(SERVER_ERROR, 500, "server_error")                                                       \
	X(INSUFFICIENT_CAPACITY, 508, "insufficient_capacity")

enum ctl_turn_error {
#define CTL_X(name, code, label) CTL_TURN_E_##name,
	CTL_TURN_ERRORS(CTL_X)
#undef CTL_X
	    CTL_TURN_E_MAX
};
extern const char *const ctl_turn_error_names[CTL_TURN_E_MAX];
extern const uint16_t ctl_turn_error_codes[CTL_TURN_E_MAX];

/* Why a request failed authentication: `reason` of supernode_turn_auth_failures_total. */
#define CTL_TURN_AUTH_FAILURES(X)                                                                  \
	X(NO_INTEGRITY, "no_integrity")		    /* first request: 401 challenge */             \
	X(MISSING_ATTRIBUTES, "missing_attributes") /* integrity without USERNAME/REALM/NONCE */   \
	X(WRONG_REALM, "wrong_realm")                                                              \
	X(STALE_NONCE, "stale_nonce") /* our nonce, too old: 438 */                                \
	X(BAD_NONCE, "bad_nonce")     /* not our nonce (or another 5-tuple's): 438 */              \
	X(UNKNOWN_USER, "unknown_user")                                                            \
	X(BAD_USERNAME, "bad_username")                                                            \
	X(REST_EXPIRED, "rest_expired")		  /* TURN REST username past its expiry */         \
	X(BAD_INTEGRITY, "bad_integrity")	  /* HMAC differs: wrong password */               \
	X(WRONG_CREDENTIALS, "wrong_credentials") /* another user than the allocation's: 441 */

enum ctl_turn_auth_failure {
#define CTL_X(name, label) CTL_TURN_AF_##name,
	CTL_TURN_AUTH_FAILURES(CTL_X)
#undef CTL_X
	    CTL_TURN_AF_MAX
};
extern const char *const ctl_turn_auth_failure_names[CTL_TURN_AF_MAX];

/* Punted messages dropped without an answer: `reason` of supernode_turn_dropped_total. */
#define CTL_TURN_DROPS(X)                                                                          \
	X(TRUNCATED, "stun_truncated")	       /* shorter than a STUN header */                    \
	X(NOT_STUN, "stun_not_stun")	       /* not STUN at all */                               \
	X(BAD_LENGTH, "stun_bad_length")       /* length field wrong (overlong, misaligned) */     \
	X(BAD_ATTRIBUTE, "stun_bad_attribute") /* attribute truncated or of a wrong length */      \
	X(FINGERPRINT, "stun_fingerprint")     /* FINGERPRINT wrong or not last */                 \
	X(NOT_REQUEST, "not_request")	       /* indication or response: not ours */              \
	X(BINDING, "binding")		       /* Binding the fast path did not answer */          \
	X(BAD_PUNT, "bad_punt")		       /* punt metadata unusable (family, port) */         \
	X(CHALLENGE_TOO_LARGE, "challenge_too_large") /* 401/438 cannot fit under the request */   \
	X(ERROR_TOO_LARGE, "error_too_large")	      /* unauthenticated error cannot fit */       \
	X(NOT_READY, "not_ready")	  /* dataplane channel not in sync: client retries*/       \
	X(BUSY, "busy")			  /* too many requests waiting for acks */                 \
	X(IN_PROGRESS, "in_progress")	  /* retransmission of a request still waiting */          \
	X(INJECT_FAILED, "inject_failed") /* the answer could not be sent */                       \
	X(INTERNAL, "internal")		  /* crypto or builder failure (logged) */

enum ctl_turn_drop {
#define CTL_X(name, label) CTL_TURN_D_##name,
	CTL_TURN_DROPS(CTL_X)
#undef CTL_X
	    CTL_TURN_D_MAX
};
extern const char *const ctl_turn_drop_names[CTL_TURN_D_MAX];

/* Dataplane table upkeep problems: `reason` of supernode_turn_table_errors_total. */
#define CTL_TURN_TABLE_ERRORS(X)                                                                   \
	X(SEND_FAILED, "send_failed")	    /* TABLE_CMD not sent (socket full, channel down) */   \
	X(NACK, "nack")			    /* TABLE_ACK with an error */                          \
	X(ACK_TIMEOUT, "ack_timeout")	    /* no TABLE_ACK in time: resent */                     \
	X(BAD_DUMP_ENTRY, "bad_dump_entry") /* dump entry of a wrong size or out of range */       \
	X(CONFLICT, "conflict")		    /* dump entry clashing with control's state: removed */

enum ctl_turn_table_error {
#define CTL_X(name, label) CTL_TURN_T_##name,
	CTL_TURN_TABLE_ERRORS(CTL_X)
#undef CTL_X
	    CTL_TURN_T_MAX
};
extern const char *const ctl_turn_table_error_names[CTL_TURN_T_MAX];

/* Counters and gauges for /metrics (written by the loop thread, read with ctl_ctr_get). */
struct ctl_turn_counters {
	uint64_t allocations;		   /* gauge: allocations control holds */
	uint64_t permissions;		   /* gauge: permissions, all allocations */
	uint64_t channels;		   /* gauge: bound channels, all allocations */
	uint64_t requests[CTL_TURN_M_MAX]; /* requests handled */
	uint64_t request_errors[CTL_TURN_M_MAX][CTL_TURN_E_MAX]; /* error responses sent */
	uint64_t auth_failures[CTL_TURN_AF_MAX];
	uint64_t drops[CTL_TURN_D_MAX];
	uint64_t minimal_answers; /* unauthenticated answers shrunk to fit under their request */
	uint64_t allocations_created;
	uint64_t allocations_expired;
	uint64_t allocations_adopted; /* taken over from a dump after a control restart */
	uint64_t table_commands;      /* TABLE_CMDs sent */
	uint64_t table_errors[CTL_TURN_T_MAX];
};

struct ctl_turn;

struct ctl_turn_params {
	const struct sn_config *cfg; /* the running config; kept (reloads update it in place) */
	struct ctl_chan *chan;	     /* punt handler and table hooks are registered on it */
	const char *secret_path;     /* nonce secret file (turn.secret); NULL: random only */
	/* Wall clock in ns (expiry times, nonces); NULL: CLOCK_REALTIME. Tests set a fake. */
	uint64_t (*now_real)(void *arg);
	void *now_arg;
};

/* Creates the TURN engine and registers it on the channel (punt reason turn, table hooks).
 * Returns 0 or a negative errno (-ENOMEM, -EINVAL for a config it cannot serve). */
int ctl_turn_create(struct ctl_turn **out, const struct ctl_turn_params *p);
void ctl_turn_destroy(struct ctl_turn *t);
/* Periodic work (call every loop tick): expiry, resends, reinstalls. now is monotonic. */
void ctl_turn_tick(struct ctl_turn *t, uint64_t now);
/* Takes part in config reloads (reload.h): the turn section applies at runtime except the
 * relay ports, max_allocations, max_permissions, max_channels and rfc5766_channels, whose
 * change makes the reload fail (restart instead). Returns ctl_reload_register()'s result. */
struct ctl_reload;
int ctl_turn_reload_register(struct ctl_turn *t, struct ctl_reload *r);
/* Counters for /metrics (stay valid until ctl_turn_destroy). */
const struct ctl_turn_counters *ctl_turn_counters(const struct ctl_turn *t);
/* The admin command `allocations [ID]`: every allocation (or one) with its owner, client,
 * relayed addresses, lifetime left, permissions, channels and the relay counters of the
 * last dump; asks the dataplane for fresher counters when they are older than 1 s. */
int ctl_turn_cmd_allocations(struct ctl_turn *t, int argc, char **argv, bool json,
			     struct ctl_buf *out);

#endif
