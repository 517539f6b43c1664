/* guard.h: supernode-control's half of the source guard (issue 5): turns the dataplane's
 * heavy-hitter reports into policy and keeps the dataplane's SN_TABLE_GUARD in step.
 *
 * The dataplane polices every source before any parsing (dataplane/guard.h) and reports,
 * every guard.report_ms, the sources that sent the most over the interval and how many of
 * their packets it dropped (SN_MSG_GUARD_REPORT). This module:
 *   - bans a source for guard.ban_seconds once its drops exceeded guard.ban_drops in
 *     guard.ban_intervals consecutive reports (reason "heavy_hitter"); a source that
 *     exceeded the threshold once is marked suspect (its limits divided by
 *     guard.suspect_factor) for guard.suspect_seconds;
 *   - takes bans and suspect marks from other modules (ctl_guard_ban, ctl_guard_suspect:
 *     e.g. the Sybil detector) and from the operator (`ban`, `unban`, `bans`);
 *   - expires them, pushes them as SN_TABLE_GUARD add/del, and after every resync
 *     (channel table hooks) deletes what the dataplane holds and control does not and
 *     re-adds the rest, so a restarted dataplane or control converges;
 *   - counts everything for /metrics (ctl_guard_metrics_render; no per-address label).
 * One instance per process (the functions below need no handle, so any module can call
 * them); runs in the event-loop thread, except ctl_guard_metrics_render (any thread). */
#ifndef CTL_GUARD_H
#define CTL_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "chan.h"
#include "sn_config.h"

/* Why an entry exists: the `reason` label of supernode_guard_bans_total. */
#define CTL_GUARD_REASONS(X)                                                                       \
	X(HEAVY_HITTER, "heavy_hitter") /* dataplane reports over guard.ban_drops */               \
	X(MANUAL, "manual")		/* `supernodectl ban` */                                   \
	X(MODULE, "module")		/* another module (ctl_guard_ban/suspect; text kept) */

enum ctl_guard_reason {
#define CTL_X_ENUM(name, label) CTL_GUARD_R_##name,
	CTL_GUARD_REASONS(CTL_X_ENUM)
#undef CTL_X_ENUM
	    CTL_GUARD_R_MAX
};
extern const char *const ctl_guard_reason_names[CTL_GUARD_R_MAX];

/* Starts the guard with cfg->guard (kept by pointer: the config outlives it) and registers
 * its table hooks on chan. Returns 0 or a negative errno. */
int ctl_guard_init(const struct sn_config *cfg, struct ctl_chan *chan);
void ctl_guard_fini(void);
/* Expiry and resends; called from the event loop's tick. now is monotonic ns. */
void ctl_guard_tick(uint64_t now);
/* Handles one SN_MSG_GUARD_REPORT (checked by sn_msg_parse); the channel calls it. */
void ctl_guard_on_report(const struct sn_msg_guard_report *r, uint64_t now);

/* Bans family/addr/prefix_len (AF_INET or AF_INET6; IPv4 in the first 4 bytes; bits past
 * prefix_len ignored; prefix_len 0 refused) for `seconds` (> 0): every packet from it is
 * dropped (reason guard_banned) before parsing. A ban replaces a suspect mark of the same
 * key; a longer expiry wins. reason: short text for `bans` (copied, may be NULL).
 * Returns 0, -EINVAL (bad arguments) or -ENOSPC (guard.max_bans entries held). */
int ctl_guard_ban(int family, const uint8_t addr[16], uint8_t prefix_len, uint32_t seconds,
		  const char *reason);
/* Marks a source suspect for `seconds`: the dataplane divides its limits by
 * guard.suspect_factor. Never downgrades a ban. Same arguments and results as ctl_guard_ban. */
int ctl_guard_suspect(int family, const uint8_t addr[16], uint8_t prefix_len, uint32_t seconds,
		      const char *reason);
/* Lifts a ban or suspect mark of exactly this key. Returns 0 or -ENOENT. */
int ctl_guard_unban(int family, const uint8_t addr[16], uint8_t prefix_len);

/* Admin commands (admin.c rows): `bans` lists entries (text table or JSON
 * {"bans":[{"address","prefix_len","action","reason","expires_in_s","hits"}],...});
 * `ban ADDR[/LEN] SECONDS [suspect]` and `unban ADDR[/LEN]` (LEN defaults to 32/128); without
 * arguments both list, as `bans` does. */
struct ctl_admin_ctx;
int ctl_guard_cmd_bans(struct ctl_admin_ctx *ctx, int argc, char **argv, bool json,
		       struct ctl_buf *out);
int ctl_guard_cmd_ban(struct ctl_admin_ctx *ctx, int argc, char **argv, bool json,
		      struct ctl_buf *out);
int ctl_guard_cmd_unban(struct ctl_admin_ctx *ctx, int argc, char **argv, bool json,
			struct ctl_buf *out);
/* Appends the supernode_guard_* families (control side) to out. Any thread. */
void ctl_guard_metrics_render(struct ctl_buf *out);

#endif
