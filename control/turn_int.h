/* turn_int.h: the TURN engine's state, shared by turn.c (requests, expiry, dataplane sync)
 * and turn_admin.c (the `allocations` command). Not for other modules: use turn.h. */
#ifndef CTL_TURN_INT_H
#define CTL_TURN_INT_H

#include "stun.h"
#include "turn.h"
#include "turn_auth.h"
#include "turn_policy.h"

#define TURN_PERM_LIFETIME_NS	   (300ull * CTL_NS_PER_SEC) /* RFC 8656 §9 */
#define TURN_CHANNEL_LIFETIME_NS   (600ull * CTL_NS_PER_SEC) /* RFC 8656 §12 */
#define TURN_CHANNEL_QUARANTINE_NS (300ull * CTL_NS_PER_SEC)
#define TURN_RESERVATION_NS	   (30ull * CTL_NS_PER_SEC) /* RFC 8656 §7.2: about 30 s */
#define TURN_TXN_TIMEOUT_NS	   (10ull * CTL_NS_PER_SEC) /* give up answering after this */
#define TURN_SWEEP_NS		   CTL_NS_PER_SEC	    /* expiry sweep period */
#define TURN_COUNTERS_MAX_AGE_NS   CTL_NS_PER_SEC	    /* `allocations` refreshes older */
#define TURN_MAX_TXN		   2048			    /* requests waiting for TABLE_ACKs */
#define TURN_INFLIGHT		   16384 /* TABLE_CMDs awaiting an ack (power of 2) */
#define TURN_MAX_RESERVATIONS	   4096
#define TURN_MAX_TOMBSTONES	   65536 /* DELs waiting for a free socket */
#define TURN_RESP_MAX		   640	 /* largest answer built */
#define TURN_USER_BUCKETS	   1024

/* Where an entry stands with the dataplane. */
enum turn_dp_state {
	TURN_DP_DIRTY = 0, /* the dataplane lacks it or holds another value: send ADD */
	TURN_DP_PENDING,   /* ADD sent, TABLE_ACK awaited */
	TURN_DP_OK,	   /* acknowledged (or equal in the last dump) */
};

struct turn_sync {
	uint8_t state;	    /* enum turn_dp_state */
	uint8_t dump_equal; /* in the dump being read, with the same value */
	uint32_t dump_gen;  /* the dump it was last seen in */
	uint32_t seq;	    /* PENDING: seq of the ADD */
};

/* A user (identity, see turn_auth.h) that holds allocations; freed at zero. */
struct turn_user {
	struct turn_user *next; /* hash chain */
	uint32_t allocs;	/* allocations it owns */
	char identity[CTL_TURN_IDENTITY_MAX];
};

struct turn_perm {
	uint8_t family;	     /* AF_INET or AF_INET6 */
	uint8_t addr[16];    /* peer IP; IPv4 in the first 4 bytes, rest zero */
	uint64_t expires_ns; /* wall clock */
	struct turn_sync sync;
};

struct turn_chan {
	uint16_t number;	  /* 0x4000..0x7fff */
	bool bound;		  /* false: expired, in quarantine until quarantine_ns */
	struct sn_stun_addr peer; /* peer transport address */
	uint64_t expires_ns;	  /* bound: wall clock expiry */
	uint64_t quarantine_ns;	  /* !bound: number and peer reusable only together until */
	struct turn_sync sync;
};

struct turn_alloc {
	uint32_t id;
	struct turn_alloc *next;    /* 5-tuple hash chain */
	struct sn_udp_tuple client; /* src: client, dst: appliance address and TURN port */
	uint16_t port_idx;	    /* appliance port */
	uint16_t relay_port4;	    /* 0: none */
	uint16_t relay_port6;
	bool dont_fragment; /* DONT-FRAGMENT was asked (the dataplane always sets DF) */
	bool have_tid;	    /* tid: the Allocate that created it (retransmissions) */
	uint8_t tid[SN_STUN_TID_LEN];
	uint64_t created_ns;	    /* wall clock */
	uint64_t expires_ns;	    /* wall clock */
	uint64_t reservation_token; /* given in the Allocate answer, 0: none */
	struct turn_user *user;	    /* owner; NULL: adopted from a dump, learnt lazily */
	struct turn_sync sync;
	bool answered; /* the Allocate was answered (the ADD acknowledged) */
	uint32_t n_perms, cap_perms;
	struct turn_perm *perms;
	uint32_t n_chans, cap_chans; /* bound and quarantined */
	struct turn_chan *chans;
	/* relay counters from the dataplane's last dump */
	uint64_t to_peer_packets, to_peer_bytes, to_client_packets, to_client_bytes;
	uint64_t counters_mono_ns; /* when they were read, 0: never */
};

struct turn_reservation {
	uint64_t token;
	uint64_t expires_ns; /* wall clock */
	uint8_t family;
	uint16_t port;
	uint16_t port_idx;
};

/* A request waiting for TABLE_ACKs before it is answered. */
struct turn_txn {
	bool used;
	uint32_t gen;	      /* bumped on every reuse: in-flight slots name (index, gen) */
	uint16_t waiting;     /* acks outstanding */
	int32_t result;	      /* first error, 0 */
	uint64_t deadline_ns; /* monotonic */
	uint16_t port_id;     /* answer: INJECT port and tuple (appliance -> client) */
	struct sn_udp_tuple to;
	uint16_t method; /* enum ctl_turn_method */
	uint16_t stun_method;
	uint8_t tid[SN_STUN_TID_LEN];
	bool fp, sha256; /* answer with FINGERPRINT / MESSAGE-INTEGRITY-SHA256 */
	uint8_t key[16];
	uint32_t alloc_id; /* Allocate: rolled back on failure */
	bool is_allocate;
	uint16_t resp_len; /* prebuilt success answer */
	uint8_t resp[TURN_RESP_MAX];
};

/* One TABLE_CMD awaiting its ack. */
struct turn_inflight {
	bool used;
	uint8_t table; /* enum sn_table_id */
	uint8_t op;    /* enum sn_table_op */
	uint32_t seq;
	uint64_t sent_ns; /* monotonic */
	int32_t txn;	  /* index in txns[], -1: none */
	uint32_t txn_gen;
	uint8_t key[24]; /* the command's key (largest: sn_turn_perm_key) */
	uint16_t key_len;
};

struct turn_tombstone {
	uint8_t table;
	uint16_t key_len;
	uint8_t key[24];
};

struct ctl_turn {
	const struct sn_config *cfg;
	struct ctl_chan *chan;
	uint64_t (*now_real)(void *arg);
	void *now_arg;
	struct ctl_turn_auth auth;
	struct ctl_turn_counters ctr;

	/* allocations */
	uint32_t max_allocs;
	uint32_t n_allocs;
	uint32_t id_cursor;
	uint8_t *id_used;	       /* bitmap, max_allocs bits */
	struct turn_alloc ***id_pages; /* id >> 12 -> page of 4096 pointers */
	uint32_t n_id_pages;
	struct turn_alloc **buckets; /* by client 5-tuple */
	uint32_t bucket_mask;
	uint8_t relay_used[2][65536 / 8]; /* [IPv4, IPv6] relay ports in use or reserved */
	uint32_t relay_free[2];		  /* free ports in the relay range */
	struct turn_user *users[TURN_USER_BUCKETS];
	uint32_t n_perms_total, n_chans_total;

	struct turn_reservation resv[TURN_MAX_RESERVATIONS];
	uint32_t n_resv;

	/* dataplane sync */
	struct turn_txn *txns; /* TURN_MAX_TXN */
	uint32_t n_txns;
	struct turn_inflight *inflight; /* TURN_INFLIGHT, by seq */
	uint32_t n_inflight;
	struct turn_tombstone *tomb; /* TURN_MAX_TOMBSTONES */
	uint32_t n_tomb;
	uint32_t dump_gen;	  /* generation of the resync dump being read */
	bool dirty;		  /* some entry is DIRTY: reinstall at the next tick */
	bool counters_dump;	  /* our own DUMP_REQ of the alloc table is answered */
	uint64_t counters_req_ns; /* when it was asked (monotonic), 0: none */
	uint64_t next_sweep_ns;
	struct ctl_ratelimit rl; /* log lines about clients */
};

/* turn.c helpers used by turn_admin.c */
uint64_t turn_now_real(const struct ctl_turn *t);
struct turn_alloc *turn_alloc_by_id(const struct ctl_turn *t, uint32_t id);
/* Asks the dataplane for a dump of the allocation table (fresh counters). */
void turn_request_counters(struct ctl_turn *t, uint64_t now);
/* Relayed address of an allocation for a family (port's own address + relay port). */
bool turn_relay_addr(const struct ctl_turn *t, const struct turn_alloc *a, uint8_t family,
		     struct sn_stun_addr *out);

#endif
