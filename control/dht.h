/* dht.h: supernode-control's OpenDHT node: everything the dataplane's fast path does not do.
 *
 * The dataplane answers ping and find from its routing snapshot once it holds a DHT_STATE
 * (our node id, network id, token secrets) and punts the rest (reason dht); it copies a
 * sample of the requests it answered (reason dht_seen). This module:
 *   - installs DHT_STATE after every resync (node id from dht.node_id, or generated once and
 *     kept in <runtime_dir>/dht_node_id; token secrets rotated every 10-30 min, current and
 *     previous accepted; a restarted control adopts the secrets the dataplane already has,
 *     so the tokens it handed out stay valid);
 *   - answers what is punted: get (query filters, field selection), put (token checked,
 *     store/edit policies and signature checks of dht_store.h), listen (token checked; new
 *     values pushed to the listener as OpenDHT's `update` queries, sent with INJECT from the
 *     appliance address the listener talked to, to the address and port it was seen from,
 *     i.e. its own NAT mapping), refresh, and ping/find while the dataplane has no state;
 *     values over 600 bytes travel in `p` fragments both ways, as OpenDHT sends them;
 *   - keeps the routing table (overlay/routing.h): bootstraps from dht.bootstrap, admits a
 *     node that contacts it only after it answered a ping (liveness), pings nodes it has not
 *     heard from for a while, refreshes stale buckets with finds, expires nodes that stop
 *     answering, and pushes the good nodes to the dataplane as DHT_NODE add/del;
 *   - counts everything for /metrics (ctl_dht_metrics_render, any thread) and answers the
 *     admin commands `routes` and `dht`.
 * Runs in the event-loop thread. */
#ifndef CTL_DHT_H
#define CTL_DHT_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "chan.h"
#include "dht_msg.h"
#include "sn_config.h"

/* Why control refused a request: the `reason` of supernode_dht_request_errors_total. */
#define CTL_DHT_ERRORS(X)                                                                          \
	X(NO_INFO_HASH, "no_info_hash")	  /* 203: missing h */                                     \
	X(INVALID_ID, "invalid_id")	  /* 203: value id 0 */                                    \
	X(WRONG_TOKEN, "wrong_token")	  /* 401 */                                                \
	X(NOT_FOUND, "not_found")	  /* 404: refresh of an unknown key */                     \
	X(BAD_VALUE, "bad_value")	  /* a value that does not parse: skipped */               \
	X(BAD_QUERY, "bad_query")	  /* a q filter that does not parse: ignored */            \
	X(EDIT_DENIED, "edit_denied")	  /* same value id, may not be replaced */                 \
	X(BAD_SIGNATURE, "bad_signature") /* signed value failing verification */                  \
	X(TOO_LARGE, "too_large")	  /* value over dht.max_value_size */                      \
	X(QUOTA, "quota")		  /* source over its byte/value/listener quota */          \
	X(STORAGE_FULL, "storage_full")	  /* storage or listener limits */                         \
	X(EXPIRED, "expired")		  /* put of a value already expired */                     \
	X(NO_MEMORY, "no_memory")                                                                  \
	X(FRAGMENTS, "fragments") /* value fragments lost, late or over limits */

enum ctl_dht_error {
#define CTL_X_ENUM(name, label) CTL_DHT_E_##name,
	CTL_DHT_ERRORS(CTL_X_ENUM)
#undef CTL_X_ENUM
	    CTL_DHT_E_MAX
};

/* Why control dropped a datagram without answering, besides sn_dht_reason's parse reasons. */
#define CTL_DHT_DROPS(X)                                                                           \
	X(UNEXPECTED_REPLY, "unexpected_reply") /* reply or error to no request of ours */         \
	X(ORPHAN_FRAGMENT, "orphan_fragment")	/* p with no put waiting for it */                 \
	X(NOT_READY, "not_ready")		/* DHT not running (no DHT port configured) */

enum ctl_dht_drop {
	CTL_DHT_D_BASE = SN_DHT_R_MAX - 2, /* parse reasons (OK excluded) come first */
#define CTL_X_ENUM(name, label) CTL_DHT_D_##name,
	CTL_DHT_DROPS(CTL_X_ENUM)
#undef CTL_X_ENUM
	    CTL_DHT_D_MAX
};

/* Join admission (RFC 5765 2.4): the `reason` of supernode_dht_joins_total (a node that
 * asked to enter the routing table) and of supernode_dht_evictions_total. */
#define CTL_DHT_JOINS(X)                                                                           \
	X(ADMITTED, "admitted")			  /* answered our ping, within the limits */       \
	X(REJECTED_PREFIX, "rejected_prefix")	  /* its /24 or /64 is full in its bucket */       \
	X(REJECTED_SYBIL, "rejected_sybil")	  /* the trust module calls it suspect */          \
	X(REJECTED_LIVENESS, "rejected_liveness") /* never answered the admission ping */          \
	X(REJECTED_BANNED, "rejected_banned")	  /* its address was evicted for abuse lately */

enum ctl_dht_join {
#define CTL_X_ENUM(name, label) CTL_DHT_J_##name,
	CTL_DHT_JOINS(CTL_X_ENUM)
#undef CTL_X_ENUM
	    CTL_DHT_J_MAX
};

#define CTL_DHT_EVICTIONS(X)                                                                       \
	X(LIVENESS, "liveness") /* three requests in a row unanswered */                           \
	X(PREFIX, "prefix")	/* over the per-prefix limit (a replacement moved in) */           \
	X(SYBIL, "sybil")	/* became suspect */                                               \
	X(ABUSE, "abuse")	/* malformed or refused messages from its address */

enum ctl_dht_eviction {
#define CTL_X_ENUM(name, label) CTL_DHT_EV_##name,
	CTL_DHT_EVICTIONS(CTL_X_ENUM)
#undef CTL_X_ENUM
	    CTL_DHT_EV_MAX
};

/* Counters and gauges for /metrics: written by the event loop, read by the HTTP thread
 * (relaxed atomics, as struct ctl_counters). */
struct ctl_dht_stats {
	uint64_t enabled;			      /* 1 when the DHT node runs */
	uint64_t requests[SN_DHT_Q_MAX];	      /* queries handled by control, by method */
	uint64_t errors[SN_DHT_Q_MAX][CTL_DHT_E_MAX]; /* by method and reason */
	uint64_t dropped[CTL_DHT_D_MAX + 1];	      /* by reason (parse reasons, then drops) */
	uint64_t nodes[2];			      /* good nodes: IPv4, IPv6 (gauges) */
	uint64_t nodes_pushed;			      /* DHT_NODE entries in the dataplane */
	uint64_t stored_values;			      /* gauges */
	uint64_t stored_bytes;
	uint64_t stored_keys;
	uint64_t listeners;
	uint64_t pushes;	 /* update messages sent to listeners */
	uint64_t expired_values; /* values removed at expiry */
	uint64_t state_installs; /* DHT_STATE commands acknowledged */
	uint64_t token_rotations;
	uint64_t pings_sent;		    /* liveness and bootstrap */
	uint64_t finds_sent;		    /* bootstrap and bucket refresh */
	uint64_t request_timeouts;	    /* our requests left unanswered */
	uint64_t seen;			    /* dht_seen samples received */
	uint64_t fragments_sent;	    /* p messages */
	uint64_t joins[CTL_DHT_J_MAX];	    /* admission decisions, by reason */
	uint64_t evictions[CTL_DHT_EV_MAX]; /* nodes removed from the table, by reason */
	uint64_t vouches;		    /* signed vouches passed to the trust module */
};
extern struct ctl_dht_stats ctl_dht_stats;

struct ctl_dht;

/* Starts the node (nothing to do when no UDP port is dispatched to the dht handler).
 * Registers punt handlers and table hooks on ch. Returns 0 or a negative errno. */
int ctl_dht_init(struct ctl_dht **out, const struct sn_config *cfg, struct ctl_chan *ch);
void ctl_dht_fini(struct ctl_dht *d);
/* Periodic work (call every loop tick). */
void ctl_dht_tick(struct ctl_dht *d, uint64_t now);

/* Admin commands `routes` and `dht` (text or JSON), in admin.c's command signature. */
struct ctl_admin_ctx;
int ctl_dht_cmd_routes(struct ctl_admin_ctx *ctx, int argc, char **argv, bool json,
		       struct ctl_buf *out);
int ctl_dht_cmd_summary(struct ctl_admin_ctx *ctx, int argc, char **argv, bool json,
			struct ctl_buf *out);

/* For promotion.c: our node id, and the storage invitations are put in (NULL when d is). */
struct dht_store;
const struct sn_node_id *ctl_dht_self(const struct ctl_dht *d);
struct dht_store *ctl_dht_storage(struct ctl_dht *d);

/* Appends the supernode_dht_* families (any thread). */
void ctl_dht_metrics_render(struct ctl_buf *out);

#endif
