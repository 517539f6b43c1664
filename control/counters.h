/* counters.h: supernode-control's own counters, exported on /metrics.
 *
 * The event-loop thread writes them and libmicrohttpd's thread reads them, so every access
 * goes through the relaxed atomic helpers below (control is not a hot path; a counter may be
 * a few events behind another, never torn). */
#ifndef CTL_COUNTERS_H
#define CTL_COUNTERS_H

#include <stdint.h>

#include "sn_channel.h"

/* Channel problems: enum name, `reason` label of supernode_control_channel_errors_total. */
#define CTL_CHAN_ERRORS(X)                                                                         \
	X(MALFORMED, "malformed")		  /* sn_msg_parse refused a message */             \
	X(VERSION, "version")			  /* protocol version differs */                   \
	X(UNEXPECTED, "unexpected")		  /* valid message at the wrong time */            \
	X(BAD_ENTRY, "bad_entry")		  /* dump entry or ack with bad contents */        \
	X(REMOTE_ERROR, "remote_error")		  /* the dataplane sent ERROR */                   \
	X(TABLE_NACK, "table_nack")		  /* TABLE_ACK with a negative result */           \
	X(ACK_TIMEOUT, "ack_timeout")		  /* no TABLE_ACK in time; command resent */       \
	X(HANDSHAKE_TIMEOUT, "handshake_timeout") /* no HELLO or DUMP_END in time */               \
	X(TX_WOULD_BLOCK, "tx_would_block")	  /* socket full: message dropped */               \
	X(TX_FAILED, "tx_failed")		  /* send failed otherwise */                      \
	X(RX_FAILED, "rx_failed")		  /* recv failed */                                \
	X(DISCONNECTED, "disconnected")		  /* an established connection was lost */

enum ctl_chan_error {
#define CTL_X_ENUM(name, label) CTL_ERR_##name,
	CTL_CHAN_ERRORS(CTL_X_ENUM)
#undef CTL_X_ENUM
	    CTL_ERR_MAX
};
extern const char *const ctl_chan_error_names[CTL_ERR_MAX];

struct ctl_turn_counters;

struct ctl_counters {
	uint64_t start_time_ns;		       /* CLOCK_REALTIME at start (constant) */
	uint64_t channel_connected;	       /* 1 while connected to the dataplane (gauge) */
	uint64_t channel_connects;	       /* connections established */
	uint64_t resyncs;		       /* dumps completed */
	uint64_t rx_msgs;		       /* messages received (valid or not) */
	uint64_t tx_msgs;		       /* messages sent */
	uint64_t errors[CTL_ERR_MAX];	       /* enum ctl_chan_error */
	uint64_t punts[SN_PUNT_MAX];	       /* PUNT messages by reason */
	uint64_t punts_unhandled[SN_PUNT_MAX]; /* ... of which no handler took */
	uint64_t echo_replies;		       /* echo INJECTs sent */
	uint64_t dump_entries;		       /* entries in the last completed dump (gauge) */
	/* config reload (control/reload.h) */
	uint64_t config_reloads;	 /* reloads applied */
	uint64_t config_reload_errors;	 /* reloads rejected (file invalid or a module refused) */
	uint64_t config_last_success_ns; /* CLOCK_REALTIME of the last good load (start, reloads) */
	uint64_t config_last_ok;	 /* 1 when the last load or reload succeeded (gauge) */
	uint64_t config_restart_required; /* 1 when the file changes fields that need a restart */
	const struct ctl_turn_counters *turn; /* TURN's counters (turn.h), NULL: TURN not running;
					       * set before the HTTP thread starts */
};

static inline void ctl_ctr_inc(uint64_t *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

static inline void ctl_ctr_set(uint64_t *c, uint64_t v)
{
	__atomic_store_n(c, v, __ATOMIC_RELAXED);
}

static inline uint64_t ctl_ctr_get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

#endif
