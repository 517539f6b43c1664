/* trust.h: the trust graph supernode-control decides joins with (RFC 5765 2.4, issue 5).
 *
 * Vertices are DHT node ids (160 bits) and IP addresses; edges come from
 *   (a) the operator's edge list (sybil.file): one edge per line, each end a 40-hex node id
 *       or an IPv4/IPv6 address; `seed TOKEN`, `suspect TOKEN` and `trust TOKEN` lines name
 *       SybilRank seeds and operator marks; gzip or plain (docs/sybil.md, "Edge lists");
 *   (b) signed vouches: signed OpenDHT values stored under InfoHash("supernode-vouch")
 *       (SHA-1 of that string) whose data is the text "vouch <40-hex node id>": an edge
 *       between the signer's node id (the value owner's InfoHash) and the vouched id;
 *   (c) relations control observes: a TURN allocation whose permission names another
 *       allocation's client or relayed address (the two clients relay media to each
 *       other) gives an edge between the two client addresses.
 * Every sybil.interval seconds (and after a change of the operator file or marks) the graph
 * is rebuilt and SybilLimit runs with this super-node as verifier (its node id when it is in
 * the graph, else the best-connected seed) and SybilRank from the seeds; the random walk's
 * mixing is estimated and a warning is logged (and exported) when it is too slow for the
 * guarantees. Nodes of components without a seed learn nothing from the graph: unknown.
 *
 * Verdicts, per node id and per address: trusted, unknown, suspect, with the SybilRank score
 * normalised to [0, 1] (trust / degree relative to its stationary value, capped at 1).
 * Operator marks (`supernodectl suspect|trust ID|ADDR`, or the file) override the methods.
 * A node that is not in any graph is unknown; sybil.unknown decides whether unknown counts as
 * suspect (deny) or not (allow, the default: most clients are in no graph).
 *
 * Everything runs in the event-loop thread; the query functions are cheap lookups (hash
 * tables built at each run) and never run the algorithms. The module is a process-wide
 * singleton so that DHT admission, guard and promotion can ask without a handle. */
#ifndef CTL_TRUST_H
#define CTL_TRUST_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "sn_config.h"

#define CTL_TRUST_VOUCH_KEY "supernode-vouch" /* InfoHash = SHA-1 of this string */

enum ctl_trust_verdict {
	CTL_TRUST_UNKNOWN = 0, /* in no graph component with a seed, and not marked */
	CTL_TRUST_TRUSTED,     /* accepted by the decision rule, or marked `trust` */
	CTL_TRUST_SUSPECT,     /* rejected by the decision rule, or marked `suspect` */
};

/* ---------- queries (used by DHT admission, guard, promotion) ---------- */

/* 1 suspect, 0 not suspect, negative errno when unknown (-ENOENT: not in the graph, or in a
 * component without a seed; -ENODEV: the module is not running). With sybil.unknown: deny,
 * an unknown node answers 1. */
int ctl_trust_suspect_node(const uint8_t node_id[20]);
int ctl_trust_suspect_addr(int family, const uint8_t addr[16]); /* IPv4 in the first 4 bytes */
/* score in [0,1] (SybilRank-normalised) or negative when unknown */
double ctl_trust_score_node(const uint8_t node_id[20]);
double ctl_trust_score_addr(int family, const uint8_t addr[16]);
/* The verdict of a node id (and of its address when family != 0): the worse of the two. */
enum ctl_trust_verdict ctl_trust_verdict_node(const uint8_t node_id[20], int family,
					      const uint8_t addr[16]);
/* Incremented whenever verdicts may have changed (a run, a mark): callers re-check their
 * admitted nodes when it moves. */
uint64_t ctl_trust_generation(void);

/* ---------- inputs ---------- */

/* Our own DHT node id: the SybilLimit verifier when it is in the graph. */
void ctl_trust_set_self(const uint8_t node_id[20]);
/* A verified signed vouch (b): signer's node id vouches for `vouched`. 0, or -EINVAL
 * (self-vouch), -ENOSPC (sybil.max_dynamic_edges reached), -ENODEV. */
int ctl_trust_add_vouch(const uint8_t signer[20], const uint8_t vouched[20]);
/* Parses a vouch value's data ("vouch <40 hex>", optional trailing blanks/newline) into
 * vouched. 0 or -EINVAL. Untrusted bytes (fuzzed with the store's values). */
int ctl_trust_parse_vouch(const uint8_t *data, uint32_t len, uint8_t vouched[20]);
/* An observed relation (c) between two client addresses. 0, -EINVAL, -ENOSPC, -ENODEV. */
int ctl_trust_observe_relay(int fa, const uint8_t a[16], int fb, const uint8_t b[16]);
/* Operator mark on a token (40-hex id or address): CTL_TRUST_SUSPECT, CTL_TRUST_TRUSTED, or
 * CTL_TRUST_UNKNOWN to clear it. 0, -EINVAL (bad token), -ENOSPC, -ENODEV. */
int ctl_trust_mark(const char *token, enum ctl_trust_verdict v);

/* Polices an address harder (guard's suspect mark for sybil.police_s seconds): called for
 * every address that becomes suspect, and by DHT admission for the address of a node id
 * that does. */
void ctl_trust_police_addr(int family, const uint8_t addr[16], const char *why);

/* ---------- life cycle ---------- */

/* Starts the module with cfg->sybil (a missing file is an error only when one is named).
 * Safe to call when sybil.enabled is false: queries then answer -ENODEV. */
int ctl_trust_init(const struct sn_config *cfg);
/* Applies a reloaded sybil section (file re-read at the next run). */
int ctl_trust_reconfigure(const struct sn_config *cfg);
/* Registers the reload hook that applies the `sybil` section at runtime (reload.h). */
struct ctl_reload;
int ctl_trust_reload_register(struct ctl_reload *r);
void ctl_trust_fini(void);
/* Periodic work: runs the methods when sybil.interval has passed or inputs changed. */
void ctl_trust_tick(uint64_t now_ns);
/* Runs the methods now (tests, `supernodectl sybil --run`). 0 or negative errno. */
int ctl_trust_run(uint64_t now_ns);

/* ---------- admin and metrics ---------- */

struct ctl_admin_ctx;
/* `sybil [--json]`: summary (graph size, last run, mixing, decisions), then one row per
 * scored vertex (suspects first). `suspect TOKEN`, `trust TOKEN`, `unmark TOKEN`. */
int ctl_trust_cmd_sybil(struct ctl_admin_ctx *ctx, int argc, char **argv, bool json,
			struct ctl_buf *out);
int ctl_trust_cmd_suspect(struct ctl_admin_ctx *ctx, int argc, char **argv, bool json,
			  struct ctl_buf *out);
int ctl_trust_cmd_trust(struct ctl_admin_ctx *ctx, int argc, char **argv, bool json,
			struct ctl_buf *out);
/* Appends the supernode_sybil_* families (any thread: gauges are relaxed atomics). */
void ctl_trust_metrics_render(struct ctl_buf *out);

#endif
