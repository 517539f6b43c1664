/* promotion.h: passive upgrades decided by the super-node (RFC 5765 section 7.1).
 *
 * Every promotion.interval_ms the module
 *   1. measures the appliance's load (7.1.2) from the stats segment and control's tables:
 *      clients attached (TURN allocations, DHT clients, listeners), bandwidth by class
 *      (relayed media bytes; DHT answers of the fast path; DHT requests control answered;
 *      control's own DHT maintenance), memory of each table and the workers' busy share.
 *      The load is max(clients / capacity_clients, media / capacity_kbps, busy share) in
 *      permille;
 *   2. moves between the states low and high with hysteresis: high is entered when the load
 *      is at or above load_high, left when it is at or below load_low, and neither happens
 *      before dwell_s in the current state, so a load hovering at a threshold flips the state
 *      at most once per dwell;
 *   3. sends bounded dial-back probes: a DHT ping from promotion.probe_port (a port the
 *      dataplane punts) to the DHT address a client used; an answer on the probe port means
 *      the client's address is open, none within probe_timeout_ms means NATed or filtered;
 *   4. in the high state, ranks the candidates (clients.h) and invites the best ones (at most
 *      invites_per_interval per interval and max_invites active). A candidate has a DHT node
 *      id, was seen over min_uptime_s (first to last request), answered the probe, is not a
 *      Sybil suspect (trust module or promotion.suspects), has fewer than max_misbehaviour
 *      errors and holds no active invitation. Its score is the weighted mean of five
 *      inputs in [0,1]:
 *        uptime    min(1, uptime / uptime_full_s), uptime = last seen - first seen
 *        activity  min(1, (DHT requests + 10 x allocations + refreshes + permissions)
 *                         / activity_full)
 *        history   1 / (1 + errors), halved when it was invited before and is back
 *        bandwidth min(1, relayed kbit/s averaged over its uptime / bandwidth_full_kbps)
 *        trust     the trust module's score, 0.5 when unknown
 *      Each decision keeps its inputs, weights, score, rank and the load (`promotions`);
 *   5. delivers an invitation: a DHT value stored in control's own storage under
 *      SHA-1("supernode-invite:" + 40 lowercase hex digits of the client's node id), type 0,
 *      data = one line of JSON (payload), "\n", base64 of the Ed25519 signature of that
 *      line. Payload keys: v (1), type ("supernode-invite"), appliance (node id hex), client
 *      (node id hex), addr, issued and expires (Unix seconds), load (permille), score, rank,
 *      reason. The public key is <key_path>.pub (PEM), shown by `promotions`.
 * Event-loop thread, except ctl_promotion_metrics_render (any thread). */
#ifndef CTL_PROMOTION_H
#define CTL_PROMOTION_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "clients.h"
#include "sn_config.h"
#include "stats_reader.h"

struct ctl_chan;
struct ctl_dht;
struct ctl_admin_ctx;

/* Why a client is not a candidate: the `reason` of supernode_promotion_candidates. */
#define CTL_PROMO_REASONS(X)                                                                       \
	X(ELIGIBLE, "eligible")	      /* a candidate */                                            \
	X(NO_NODE_ID, "no_node_id")   /* never sent a DHT request */                               \
	X(SHORT_LIVED, "short_lived") /* seen for less than min_uptime_s */                        \
	X(UNREACHABLE, "unreachable") /* probe unanswered: NATed or filtered */                    \
	X(NOT_PROBED, "not_probed")   /* reachability not known yet */                             \
	X(SUSPECT, "suspect")	      /* Sybil suspect */                                          \
	X(MISBEHAVED, "misbehaved")   /* max_misbehaviour errors or more */                        \
	X(INVITED, "invited")	      /* holds an active invitation */

enum ctl_promo_reason {
#define CTL_X_ENUM(name, label) CTL_PROMO_##name,
	CTL_PROMO_REASONS(CTL_X_ENUM)
#undef CTL_X_ENUM
	    CTL_PROMO_REASON_MAX
};
extern const char *const ctl_promo_reason_names[CTL_PROMO_REASON_MAX];

enum ctl_promo_input { PI_UPTIME, PI_ACTIVITY, PI_HISTORY, PI_BANDWIDTH, PI_TRUST, PI_MAX };
extern const char *const ctl_promo_input_names[PI_MAX];

/* The appliance's load over the last interval (7.1.2). */
struct ctl_promo_load {
	uint64_t allocations;	/* TURN allocations */
	uint64_t dht_clients;	/* clients that sent DHT requests in the last 2 minutes */
	uint64_t listeners;	/* DHT listeners */
	uint64_t clients;	/* allocations + dht_clients + listeners */
	double media_kbps;	/* relayed bytes (both directions), kbit/s */
	double dht_answer_pps;	/* pings and finds answered by the fast path, per second */
	double dht_rpc_pps;	/* DHT requests control answered, per second */
	double dht_maint_pps;	/* control's own pings and finds (maintenance), per second */
	uint64_t mem_clients;	/* bytes of the per-client table */
	uint64_t mem_dht_store; /* bytes of stored DHT values */
	uint64_t mem_turn;	/* bytes of control's allocation table (estimate) */
	double busy_share;	/* workers: busy polls / all polls, [0,1] */
	uint32_t load;		/* permille: the largest of the three ratios */
};

/* Hysteresis state. */
struct ctl_promo_hyst {
	bool high;
	uint64_t since_ns; /* monotonic: entered the current state */
	uint64_t changes;  /* state changes so far */
};

/* One decision, as `promotions` explains it. */
struct ctl_promo_decision {
	uint64_t seq;
	uint64_t issued_real_ns;
	uint64_t expires_real_ns;
	uint8_t family;
	uint8_t addr[16];
	uint8_t node[20];
	uint32_t load;	       /* permille when decided */
	uint32_t rank;	       /* 1: best */
	uint32_t candidates;   /* eligible clients when decided */
	double inputs[PI_MAX]; /* [0,1] */
	uint32_t weights[PI_MAX];
	double score;
	bool stored; /* the invitation is in the DHT storage */
};

#define CTL_PROMO_LOG 64 /* decisions kept for `promotions` */

struct ctl_promotion {
	struct sn_promotion_config cfg;
	struct ctl_chan *ch;		      /* probes; NULL: none (unit tests) */
	struct ctl_dht *dht;		      /* invitation storage; NULL: not stored */
	const struct ctl_turn_counters *turn; /* allocation gauges; NULL: none */
	struct ctl_clients clients;
	struct ctl_stats_reader reader;
	void *key;	   /* EVP_PKEY (Ed25519); NULL: invitations are not signed/stored */
	char pub_pem[256]; /* public key, PEM */
	char key_path[SN_CONFIG_PATH_LEN];
	uint64_t next_ns;
	uint64_t last_ns; /* previous measurement (rates) */
	struct ctl_promo_hyst hyst;
	struct ctl_promo_load load;
	/* previous counter values for the rates */
	uint64_t prev_epoch, prev_media, prev_answers, prev_busy, prev_polls;
	uint64_t prev_rpc, prev_maint;
	bool have_prev;
	uint32_t reasons[CTL_PROMO_REASON_MAX]; /* clients by reason, last interval */
	uint32_t active_invites;
	struct ctl_promo_decision log[CTL_PROMO_LOG];
	uint64_t n_decisions;
	/* probes */
	bool have4, have6;
	uint8_t addr4[4], addr6[16];
	uint32_t cfg_network; /* dht.network_id */
	uint32_t next_tid;
	uint64_t tx[(SN_CHANNEL_MAX_MSG + 7) / 8];
};

/* Counters and gauges for /metrics (relaxed atomics; written by the event loop). */
struct ctl_promo_stats {
	uint64_t enabled;
	uint64_t state; /* 1 high */
	uint64_t state_changes;
	uint64_t decisions[1]; /* by reason: invited */
	uint64_t invitations_active;
	uint64_t candidates[CTL_PROMO_REASON_MAX];
	uint64_t clients;
	uint64_t evictions;
	uint64_t probes_sent;
	uint64_t probes_open;
	uint64_t probes_closed;
	uint64_t store_errors;
	/* the last load, scaled to integers: kbit/s, per second, bytes, permille */
	uint64_t load_permille;
	uint64_t load_clients, load_allocations, load_dht_clients, load_listeners;
	uint64_t load_media_kbps, load_dht_answer_pps, load_dht_rpc_pps, load_dht_maint_pps;
	uint64_t mem_clients, mem_dht_store, mem_turn;
	uint64_t busy_permille;
};
extern struct ctl_promo_stats ctl_promo_stats;

/* Creates the module (nothing when promotion.enabled is false: *out = NULL). ch and dht may
 * be NULL. runtime_dir: the stats segment and the default key path. */
struct ctl_turn_counters;
int ctl_promotion_init(struct ctl_promotion **out, const struct sn_config *cfg, struct ctl_chan *ch,
		       struct ctl_dht *dht, const struct ctl_turn_counters *turn);
void ctl_promotion_fini(struct ctl_promotion *p);
void ctl_promotion_tick(struct ctl_promotion *p, uint64_t now);

/* The pieces, for the unit tests. */
/* Hysteresis step. Returns true when the state changed. */
bool ctl_promo_hyst_step(struct ctl_promo_hyst *h, const struct sn_promotion_config *cfg,
			 uint32_t load, uint64_t now);
/* suspect: 1, 0, or <0 unknown (treated as not). */
enum ctl_promo_reason ctl_promo_classify(const struct sn_promotion_config *cfg,
					 const struct ctl_client *c, int suspect, uint64_t now);
void ctl_promo_inputs(const struct sn_promotion_config *cfg, const struct ctl_client *c,
		      double trust, uint64_t now, double in[PI_MAX]);
double ctl_promo_score(const struct sn_promotion_config *cfg, const double in[PI_MAX]);
/* One decision round with a given load (measured or, in tests, set): hysteresis, then
 * ranking and invitations when high. Returns invitations issued. */
uint32_t ctl_promotion_decide(struct ctl_promotion *p, uint32_t load, uint64_t now);
/* Sybil verdicts: the trust module when linked, else promotion.suspects. */
int ctl_promo_suspect(const struct ctl_promotion *p, const struct ctl_client *c);
double ctl_promo_trust(const struct ctl_client *c);

/* `promotions` admin command (promotion_admin.c). */
int ctl_promotion_cmd(struct ctl_admin_ctx *ctx, int argc, char **argv, bool json,
		      struct ctl_buf *out);
/* The current module for the admin command (set by init). */
struct ctl_promotion *ctl_promotion_current(void);
/* Appends supernode_promotion_* and supernode_load_* (any thread). */
void ctl_promotion_metrics_render(struct ctl_buf *out);

#endif
