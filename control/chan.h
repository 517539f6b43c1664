/* chan.h: supernode-control's end of the control channel (see sn_channel.h).
 *
 * States: DISCONNECTED -> (connect) HELLO_WAIT -> (dataplane HELLO, DUMP_REQ sent) RESYNC
 *         -> (DUMP_END) READY. Any loss of the socket, a version mismatch or a handshake
 * timeout goes back to DISCONNECTED, and ctl_chan_tick() retries every reconnect period:
 * the dataplane keeps forwarding meanwhile and control comes back by itself.
 *
 * Resync: the DUMP_ENTRY stream rebuilds control's view of the dataplane's tables. Then
 * reconcile: each wanted UDP dispatch entry (from the config, for AF_INET and AF_INET6)
 * that is missing or different is sent as TABLE_CMD ADD and its TABLE_ACK checked; equal
 * entries are left alone, so a restarted control changes nothing in the dataplane. Entries
 * the dataplane has but the config does not are kept, except those a config reload removed
 * (ctl_chan_set_dispatch: TABLE_CMD DEL). Unacknowledged commands are resent
 * after CTL_CHAN_ACK_TIMEOUT_NS; refused ones are retried at the next resync.
 *
 * Message handling (ctl_chan_handle) is separate from the socket: a fuzz target drives it
 * with arbitrary bytes and captures what it sends through the tx hook.
 * Punted packets are dispatched by reason to handlers registered with
 * ctl_chan_set_punt_handler() (echo now; TURN and DHT later). */
#ifndef CTL_CHAN_H
#define CTL_CHAN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>

#include "counters.h"
#include "sn_channel.h"
#include "sn_config.h"
#include "util.h"

#define CTL_CHAN_HANDSHAKE_TIMEOUT_NS (5ull * CTL_NS_PER_SEC) /* HELLO, or progress in a dump */
#define CTL_CHAN_ACK_TIMEOUT_NS	      (5ull * CTL_NS_PER_SEC) /* TABLE_ACK */
#define CTL_CHAN_RX_BATCH	      256 /* messages handled per readable event */
#define CTL_CHAN_MAX_WANT	      (4 * SN_CONFIG_MAX_DISPATCH) /* config entries + removals */
#define CTL_DISPATCH_SLOTS	      (2u * 65536u) /* [family AF_INET, AF_INET6][port] */

enum ctl_chan_state {
	CTL_CHAN_DISCONNECTED = 0,
	CTL_CHAN_HELLO_WAIT,
	CTL_CHAN_RESYNC,
	CTL_CHAN_READY,
};

enum ctl_want_state {
	CTL_WANT_UNKNOWN = 0, /* not yet compared with a dump, or a send was dropped */
	CTL_WANT_OK,	      /* the dataplane has it */
	CTL_WANT_PENDING,     /* TABLE_CMD sent, waiting for TABLE_ACK */
	CTL_WANT_FAILED,      /* refused; retried at the next resync */
};

/* One UDP dispatch entry control wants in the dataplane. */
struct ctl_dispatch_want {
	uint16_t port;	  /* host byte order */
	uint16_t handler; /* enum sn_udp_handler */
	uint8_t family;	  /* AF_INET or AF_INET6 */
	uint8_t state;	  /* enum ctl_want_state */
	uint8_t del;	  /* 1: a config reload removed it: TABLE_CMD DEL, dropped once acked */
	uint32_t seq;	  /* seq of the pending TABLE_CMD */
	uint64_t sent_ns; /* when it was sent (monotonic) */
};

struct ctl_chan;
/* Handles one PUNT (view already checked by sn_msg_parse). Returns 0 or a negative errno. */
typedef int (*ctl_punt_fn)(struct ctl_chan *ch, const struct sn_msg_view *v, void *arg);
/* Sends one message; returns 0 or a negative errno (-EAGAIN: would block). */
typedef int (*ctl_chan_tx_fn)(struct ctl_chan *ch, const void *msg, size_t len);

/* Hooks of a module that owns dataplane tables besides UDP dispatch (the DHT's, TURN's):
 * the channel hands it the dump entries of its tables during a resync, tells it when the
 * resync is done (READY: install what the dataplane lacks) and offers it every TABLE_ACK or
 * ERROR whose seq the channel did not send itself. */
struct ctl_table_hooks {
	uint32_t tables; /* (1u << enum sn_table_id) for each table the module owns */
	void (*dump_entry)(void *arg, uint16_t table, const void *key, uint16_t key_len,
			   const void *val, uint16_t val_len);
	void (*ready)(void *arg, uint64_t now);
	/* true when seq was the module's; result: the ack's result or the ERROR's errno */
	bool (*ack)(void *arg, uint32_t seq, int32_t result, uint32_t entries);
	void *arg;
};
#define CTL_CHAN_MAX_HOOKS 8

struct ctl_chan_params {
	const char *runtime_dir; /* channel socket is <runtime_dir>/SN_CHANNEL_SOCKET */
	uint32_t reconnect_ms;	 /* > 0 */
	uint32_t keepalive_ms;	 /* > 0 */
	const struct sn_dispatch_config *dispatch; /* wanted dispatch entries */
	int n_dispatch;
	int epfd;		  /* epoll set to register the socket in, or -1 */
	void *ep_tag;		  /* epoll_event.data.ptr for the socket */
	struct ctl_counters *ctr; /* counters to update */
	ctl_chan_tx_fn tx;	  /* NULL: send on the socket (tests and fuzzing set one) */
};

struct ctl_chan {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* channel socket */
	uint64_t reconnect_ns;
	uint64_t keepalive_ns;
	int epfd;
	void *ep_tag;
	ctl_chan_tx_fn tx;
	struct ctl_counters *ctr;

	enum ctl_chan_state state;
	int fd;	      /* connected socket or -1 */
	bool session; /* a session is up (socket or tx hook) */
	bool broken;  /* a send failed fatally: disconnect when back in the loop */
	uint32_t seq; /* last seq sent */
	uint64_t next_connect_ns;
	uint64_t next_keepalive_ns;
	uint64_t deadline_ns;  /* handshake/dump progress deadline */
	uint64_t connected_ns; /* when the current session started (monotonic) */
	bool absent_logged;    /* "not reachable" was logged for this outage */

	/* the dataplane, from its last HELLO */
	bool have_hello;
	uint32_t dp_pid;
	uint64_t dp_epoch;
	uint16_t dp_workers;
	uint16_t dp_ports;
	uint32_t dp_tables;
	char dp_build[32];

	/* the dataplane's UDP dispatch table as control knows it */
	uint8_t *dispatch;	    /* CTL_DISPATCH_SLOTS: 0 absent, else handler + 1 */
	uint32_t dispatch_entries;  /* present slots */
	uint32_t dump_seen;	    /* DUMP_ENTRY messages in the current resync */
	uint32_t last_dump_entries; /* ... in the last completed one */
	uint64_t last_resync_ns;    /* when it completed (monotonic), 0: never */

	int n_want;
	struct ctl_dispatch_want want[CTL_CHAN_MAX_WANT];

	struct {
		ctl_punt_fn fn;
		void *arg;
	} punt[SN_PUNT_MAX];
	int n_hooks;
	struct ctl_table_hooks hooks[CTL_CHAN_MAX_HOOKS]; /* ctl_chan_add_table_hooks */
	uint16_t module_dump; /* table of a ctl_chan_request_dump() being answered, 0: none */
	/* GUARD_REPORT handler (guard.h sets it); NULL: reports are counted and ignored */
	void (*guard_report)(const struct sn_msg_guard_report *r, uint64_t now);

	struct ctl_ratelimit rl; /* log lines about bad messages */
	uint8_t rx[SN_CHANNEL_MAX_MSG] __attribute__((aligned(8)));
};

int ctl_chan_init(struct ctl_chan *ch, const struct ctl_chan_params *p);
void ctl_chan_fini(struct ctl_chan *ch);
void ctl_chan_set_punt_handler(struct ctl_chan *ch, enum sn_punt_reason reason, ctl_punt_fn fn,
			       void *arg);
/* Registers a module's table hooks (copied). Returns 0 or -ENOSPC. */
int ctl_chan_add_table_hooks(struct ctl_chan *ch, const struct ctl_table_hooks *h);
/* Asks the dataplane for a dump of one module table while READY (e.g. TURN's relay
 * counters); its entries go to the hooks' dump_entry (the channel state stays READY, and no
 * ready() follows). Returns 0, -EBUSY (not READY, or another such dump is being answered)
 * or the send error. */
int ctl_chan_request_dump(struct ctl_chan *ch, uint16_t table);

/* Replaces the wanted dispatch entries (config reload, control/reload.h). Entries wanted the
 * same way keep their state; new or changed ones are sent as TABLE_CMD ADD and entries no
 * longer in the list as TABLE_CMD DEL (kept in want[] with del = 1 until acknowledged), now
 * when the channel is READY, else at the next resync. Never fails: removals that do not fit
 * in want[] (only after many reloads while the dataplane never answers) are logged and left
 * in the dataplane. */
void ctl_chan_set_dispatch(struct ctl_chan *ch, const struct sn_dispatch_config *d, int n,
			   uint64_t now);

/* Periodic work: connect when due, keepalive, handshake and ack timeouts, resends. */
void ctl_chan_tick(struct ctl_chan *ch, uint64_t now);
/* The socket is readable (or hung up): receive and handle a batch of messages. */
void ctl_chan_on_event(struct ctl_chan *ch, uint32_t events, uint64_t now);

/* Starts a session on an established transport: sends HELLO, waits for the dataplane's. */
void ctl_chan_start_session(struct ctl_chan *ch, uint64_t now);
/* Handles one received message (any bytes). Returns 0 or the parse/handling error. */
int ctl_chan_handle(struct ctl_chan *ch, const void *buf, size_t len, uint64_t now);
/* Closes the session; reconnects after the reconnect period. */
void ctl_chan_disconnect(struct ctl_chan *ch, uint64_t now, const char *why);
/* Sends one built message (seq from ctl_chan_next_seq). Returns 0 or a negative errno; drops and
 * counts when the socket is full. */
int ctl_chan_send(struct ctl_chan *ch, void *msg, size_t len);
uint32_t ctl_chan_next_seq(struct ctl_chan *ch);

const char *ctl_chan_state_name(enum ctl_chan_state s);
const char *ctl_udp_handler_name(unsigned handler);
/* Handler + 1 of a dispatch entry in control's view, 0 when absent. */
unsigned ctl_chan_dispatch_slot(const struct ctl_chan *ch, uint8_t family, uint16_t port);

#endif
