/* admin.h: the admin socket that supernodectl talks to.
 *
 * Protocol: UNIX SOCK_STREAM at <runtime_dir>/admin.sock (mode 0660). A client connects,
 * writes one request line and reads the reply until the server closes the connection:
 *
 *   request = COMMAND *(SP ARG) [SP FORMAT] LF      FORMAT = "text" (default) / "json"
 *
 * Text replies are lines for people (aligned tables); JSON replies are one object. Errors:
 * text "error: <cause>\n", JSON {"error":"<cause>",...}; supernodectl exits 1 on them.
 * A request longer than CTL_ADMIN_MAX_LINE or not finished within CTL_ADMIN_TIMEOUT_NS gets
 * an error (or is closed). Commands (see the table in admin.c; `help` lists them):
 *   help, status, ports, workers, dispatch, config, reload (the last two: reload.h),
 *   allocations (turn.h)
 *
 * ctl_admin_exec() runs one request line without any socket, for tests. */
#ifndef CTL_ADMIN_H
#define CTL_ADMIN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>

#include "buf.h"
#include "chan.h"
#include "counters.h"
#include "event.h"
#include "sn_stats.h"
#include "stats_reader.h"

#define CTL_ADMIN_SOCKET     "admin.sock"
#define CTL_ADMIN_MAX_LINE   1024
#define CTL_ADMIN_MAX_CONNS  16
#define CTL_ADMIN_TIMEOUT_NS (5ull * 1000000000ull)
#define CTL_ADMIN_MAX_ARGS   16

struct ctl_reload;
struct ctl_turn;

/* One sample of the dataplane's counters, for rates over the last sampling interval. */
struct ctl_admin_sample {
	uint64_t t_ns;	/* monotonic time of the sample, 0: none */
	uint64_t epoch; /* dataplane epoch it belongs to */
	uint32_t n_lcores;
	uint32_t n_ports;
	uint64_t rx[SN_STATS_MAX_LCORES];
	uint64_t tx[SN_STATS_MAX_LCORES];
	uint64_t busy[SN_STATS_MAX_LCORES];
	uint64_t total[SN_STATS_MAX_LCORES];
	uint64_t port_rx[SN_STATS_MAX_PORTS];
	uint64_t port_tx[SN_STATS_MAX_PORTS];
};

/* What commands can see. Owned by the event-loop thread. */
struct ctl_admin_ctx {
	struct ctl_chan *chan;		/* channel state and the dataplane's HELLO */
	struct ctl_counters *ctr;	/* control's counters */
	struct ctl_stats_reader reader; /* this thread's view of the stats segment */
	uint64_t start_mono_ns;		/* control's start (monotonic) */
	uint64_t start_real_ns;		/* control's start (wall clock) */
	struct ctl_admin_sample prev;	/* previous and latest samples (ctl_admin_sample()) */
	struct ctl_admin_sample cur;
	struct ctl_reload *reload; /* config reload and the running config (reload.h); NULL: none */
	struct ctl_turn *turn;	   /* TURN engine for `allocations` (turn.h); NULL: none */
};

struct ctl_admin_conn {
	struct ctl_ev ev; /* CTL_EV_ADMIN_CONN, obj = this */
	int fd;
	int slot;	      /* index in conns[] */
	uint64_t deadline_ns; /* closed when not done by then */
	size_t in_len;
	char in[CTL_ADMIN_MAX_LINE + 1];
	struct ctl_buf out; /* reply */
	size_t out_off;	    /* bytes already written */
	bool replying;	    /* request complete, writing the reply */
};

struct ctl_admin {
	struct ctl_ev ev; /* CTL_EV_ADMIN_LISTEN */
	int fd;		  /* listening socket or -1 */
	int epfd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct ctl_admin_conn *conns[CTL_ADMIN_MAX_CONNS];
	struct ctl_admin_ctx ctx;
};

/* Initialises the command context (no socket). */
void ctl_admin_ctx_init(struct ctl_admin_ctx *ctx, const char *runtime_dir, struct ctl_chan *chan,
			struct ctl_counters *ctr);
void ctl_admin_ctx_fini(struct ctl_admin_ctx *ctx);
/* Runs one request line (without the LF); the reply goes to out. Returns 0, or a negative
 * errno when the reply is an error reply. */
int ctl_admin_exec(struct ctl_admin_ctx *ctx, const char *line, struct ctl_buf *out);
/* The i-th command of the table (name, its args and help), NULL past the end: supernodectl
 * lists them in --help without asking control. */
const char *ctl_admin_command(int i, const char **args, const char **help);
/* Takes a sample of the dataplane's counters (call about once a second). */
void ctl_admin_sample(struct ctl_admin_ctx *ctx, uint64_t now);

/* Binds <runtime_dir>/admin.sock: removes a stale socket, refuses (-EADDRINUSE) when another
 * control answers on it, and registers it in epfd. */
int ctl_admin_open(struct ctl_admin *a, const char *runtime_dir, int epfd, struct ctl_chan *chan,
		   struct ctl_counters *ctr);
/* Closes every connection and the socket, and removes the socket file. */
void ctl_admin_close(struct ctl_admin *a);
void ctl_admin_on_accept(struct ctl_admin *a, uint64_t now);
void ctl_admin_on_conn(struct ctl_admin *a, struct ctl_admin_conn *c, uint32_t events,
		       uint64_t now);
/* Closes connections past their deadline. */
void ctl_admin_tick(struct ctl_admin *a, uint64_t now);

#endif
