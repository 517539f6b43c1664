/* reload.h: config reload without restart in supernode-control (SIGHUP, `supernodectl reload`).
 *
 * ctl_reload_file() reads the config file again and either applies it whole or changes
 * nothing:
 *
 *   1. load: sn_config_load() validates the whole file; on any error the reload is rejected
 *      with the loader's message ("file:line: field: cause") and the running config stays;
 *   2. diff: fields only a restart can apply (the restart_fields table in reload.c:
 *      ports, lcores, EAL arguments, runtime dir, metrics address, ...) are compared and reported
 *      ("restart required for dataplane.ports"), never applied: the running config keeps
 *      their running values, so it always says what is in effect;
 *   3. prepare: every registered hook checks that it can apply its part and may refuse,
 *      changing nothing visible. On the first refusal the hooks prepared so far get abort()
 *      (in reverse order) and the reload is rejected: nothing changed anywhere;
 *   4. commit (cannot fail): the log level, then the hooks in registration order, then the
 *      channel timers (control.reconnect_ms, control.keepalive_ms) and the UDP dispatch list
 *      (ctl_chan_set_dispatch: TABLE_CMD ADD for new or changed ports, DEL for removed
 *      ones); then the running config is replaced by the new one.
 *
 * Hooks: a module (TURN, DHT, guard) that can change settings at runtime registers one with
 * ctl_reload_register(). `section` names the top-level config section it applies ("turn");
 * without a hook for it, any change to a section other than the ones control applies itself
 * is reported as restart-required and not taken over. A hook that claims a section applies
 * all of it or refuses (prepare returns a negative errno after ctl_reload_refuse()), or
 * reports the fields it leaves for a restart with ctl_reload_restart_field(). prepare must
 * not change state that others see; what it allocates for commit it keeps in its own
 * context and frees in commit or abort. Both configs stay valid until commit/abort returns;
 * after a successful reload the running config (the struct main owns) holds the new values
 * in place, so a module that keeps a pointer to it sees them.
 *
 * Counters (control/counters.h, exported on /metrics): supernode_control_config_reloads_total,
 * ..._config_reload_errors_total, ..._config_last_reload_success_timestamp_seconds,
 * ..._config_last_reload_successful, ..._config_restart_required.
 *
 * The admin commands `reload` and `config` (admin.c's table) are implemented here. */
#ifndef CTL_RELOAD_H
#define CTL_RELOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "chan.h"
#include "counters.h"
#include "sn_config.h"

#define CTL_RELOAD_MAX_HOOKS 8
#define CTL_RELOAD_MAX_LINES 64	 /* changes (or restart fields) listed in one report */
#define CTL_RELOAD_LINE	     160 /* longer lines are cut */

/* What one reload did. */
struct ctl_reload_report {
	char file[SN_CONFIG_PATH_LEN]; /* the file that was read */
	int rc;			       /* 0 applied, else the negative errno that rejected it */
	char error[512];	       /* why it was rejected ("" when applied) */
	int n_changes;		       /* lines in changes[] */
	char changes[CTL_RELOAD_MAX_LINES]
		    [CTL_RELOAD_LINE]; /* applied: "log_level: info -> debug" */
	int n_restart;		       /* lines in restart[] */
	char restart[CTL_RELOAD_MAX_LINES][CTL_RELOAD_LINE]; /* field paths: "dataplane.ports" */
	int dropped; /* lines that did not fit in changes[] or restart[] */
};

/* A module's part in reloads. Every function gets the running config (old) and the file's
 * (new); arg is the module's context. */
struct ctl_reload_hook {
	const char *name;    /* module name for messages ("turn"); unique among hooks */
	const char *section; /* top-level config section it applies at runtime, or NULL */
	/* Checks that new can be applied. Returns 0, or a negative errno to refuse (after
	 * ctl_reload_refuse(rep, ...) says why). May be NULL (always accepts). */
	int (*prepare)(void *arg, const struct sn_config *old, const struct sn_config *new,
		       struct ctl_reload_report *rep);
	/* Applies new; cannot fail. Lists what it changed with ctl_reload_change(). */
	void (*commit)(void *arg, const struct sn_config *old, const struct sn_config *new,
		       struct ctl_reload_report *rep);
	/* Undoes prepare: another participant refused. May be NULL. */
	void (*abort)(void *arg, const struct sn_config *old, const struct sn_config *new);
	void *arg;
};

struct ctl_reload {
	struct sn_config *running; /* the running config (owned by main), replaced in place */
	struct ctl_chan *chan;	   /* dispatch list and channel timers; NULL: none (tests) */
	struct ctl_counters *ctr;  /* reload counters */
	bool log_level_locked;	   /* -v on the command line: the log level stays debug */
	int n_hooks;
	struct ctl_reload_hook hooks[CTL_RELOAD_MAX_HOOKS];
	uint64_t attempts;		  /* reloads tried (applied + rejected) */
	uint64_t last_real_ns;		  /* CLOCK_REALTIME of the last attempt, 0: none */
	struct ctl_reload_report last;	  /* report of the last attempt */
	struct ctl_reload_report scratch; /* the attempt in progress */
};

/* Binds the reloader to the running config; sets the "last good load" time to now. */
void ctl_reload_init(struct ctl_reload *r, struct sn_config *running, struct ctl_chan *chan,
		     struct ctl_counters *ctr);
/* Adds a hook (copied). Returns 0, -EINVAL (no name or no commit), -EEXIST (name or section
 * taken), -ENOSPC (CTL_RELOAD_MAX_HOOKS reached). */
int ctl_reload_register(struct ctl_reload *r, const struct ctl_reload_hook *h);

/* Loads path (NULL: the running config's own path) and applies it as described above.
 * Returns 0 or the negative errno that rejected it; r->last holds the report. now is
 * CLOCK_MONOTONIC (for the channel). */
int ctl_reload_file(struct ctl_reload *r, const char *path, uint64_t now);
/* Same from a config already loaded and validated with sn_config_load*(); takes ownership
 * of *next: its contents end up in the running config or are freed (the struct itself
 * stays the caller's). */
int ctl_reload_apply(struct ctl_reload *r, struct sn_config *next, uint64_t now);

/* Field paths that differ between a and b and need a restart (sections claimed by a hook
 * are left to it), appended to rep->restart. Returns how many. Changes nothing. */
int ctl_reload_restart_diff(const struct ctl_reload *r, const struct sn_config *a,
			    const struct sn_config *b, struct ctl_reload_report *rep);

/* For hooks: a line in the report's list of applied changes / restart fields; the reason
 * of a refusal. */
void ctl_reload_change(struct ctl_reload_report *rep, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void ctl_reload_restart_field(struct ctl_reload_report *rep, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void ctl_reload_refuse(struct ctl_reload_report *rep, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The report for people (several lines) or as JSON members (inside an open object). */
void ctl_reload_report_text(const struct ctl_reload_report *rep, struct ctl_buf *out);

/* Admin commands (admin.c's table; ctx->reload must be set, else they answer an error). */
struct ctl_admin_ctx;
int ctl_reload_cmd_reload(struct ctl_admin_ctx *ctx, int argc, char **argv, bool json,
			  struct ctl_buf *out);
int ctl_reload_cmd_config(struct ctl_admin_ctx *ctx, int argc, char **argv, bool json,
			  struct ctl_buf *out);

#endif
