/* clients.h: per-client metrics for promotion decisions (RFC 5765 7.1.3).
 *
 * A client is an IP address that talks to the appliance: it holds TURN allocations, sends
 * DHT requests, or both (a client normally uses one address for both). Per client the table
 * keeps when it was first and last seen (uptime), its activity (DHT requests by method, TURN
 * allocations, refreshes, permissions and channels), relayed bytes (the dataplane's
 * per-allocation counters as control last read them: on the `allocations` command and when
 * an allocation ends, so they lag), errors answered to it (history), its DHT node id and port
 * (for dial-back probes and the invitation key), its reachability verdict and its invitation.
 *
 * Memory is bounded: max_clients entries allocated once (sizeof(struct ctl_client), 176 bytes
 * on x86-64, plus one bucket pointer per entry); when full, the least recently seen client is
 * evicted (it is forgotten: seen again, it starts afresh).
 *
 * Hooks (ctl_clients_*) are called by turn.c and dht.c; they do nothing until
 * ctl_clients_init() made a table current. Event-loop thread only. */
#ifndef CTL_CLIENTS_H
#define CTL_CLIENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "sn_channel.h"

enum ctl_client_reach {
	CTL_REACH_UNKNOWN = 0, /* never probed */
	CTL_REACH_PROBING,     /* probe sent, answer awaited */
	CTL_REACH_OPEN,	       /* answered from another source port: open address */
	CTL_REACH_CLOSED,      /* no answer: NATed or filtered */
};

/* What a TURN hook reports. */
enum ctl_client_turn_event {
	CTL_CLIENT_ALLOC,      /* allocation created */
	CTL_CLIENT_REFRESH,    /* allocation refreshed */
	CTL_CLIENT_PERMISSION, /* permission or channel installed/refreshed */
	CTL_CLIENT_FREE,       /* allocation deleted or expired (bytes: its relay counters) */
	CTL_CLIENT_ERROR,      /* error answered (authentication, quota...) */
};

#define CTL_CLIENT_DHT_OPS 6 /* ping, find, get, put, listen, other */

struct ctl_client {
	uint8_t family;		    /* AF_INET or AF_INET6: the key, with addr */
	uint8_t addr[16];	    /* IPv4 in the first 4 bytes */
	bool has_node;		    /* node id seen in a DHT request */
	uint8_t reach;		    /* enum ctl_client_reach */
	bool invited;		    /* an invitation is active */
	uint16_t dht_port;	    /* network order: the DHT port it sent from (probes go there) */
	uint16_t allocs;	    /* allocations it holds now */
	uint8_t node[20];	    /* DHT node id */
	uint64_t first_ns;	    /* monotonic: first seen (uptime) */
	uint64_t last_ns;	    /* last seen */
	uint64_t reach_ns;	    /* when reach was last set */
	uint64_t invited_ns;	    /* wall clock: invitation issued, 0: never */
	uint64_t invite_expires_ns; /* wall clock */
	uint64_t relay_bytes;	    /* relay counters of its allocations (lagging) */
	uint64_t invite_vid;	    /* DHT value id of its invitation (kept alive while active) */
	uint32_t dht_ops[CTL_CLIENT_DHT_OPS];
	uint32_t turn_allocs, turn_refreshes, turn_perms;
	uint32_t errors;		/* errors answered (misbehaviour) */
	uint32_t invitations;		/* invitations issued so far (history) */
	uint32_t probe_tid;		/* probe in flight */
	struct ctl_client *hnext;	/* hash chain */
	struct ctl_client *prev, *next; /* LRU list: head most recent */
};

struct ctl_clients {
	uint32_t max;		 /* entries */
	uint32_t n;		 /* in use */
	uint32_t mask;		 /* buckets - 1 */
	uint64_t evictions;	 /* clients forgotten to make room */
	struct ctl_client *slab; /* max entries */
	struct ctl_client *free; /* free list through hnext */
	struct ctl_client **buckets;
	struct ctl_client *head, *tail; /* LRU */
	uint8_t hash_key[16];
};

/* Allocates max entries. Returns 0 or -ENOMEM. */
int ctl_clients_init(struct ctl_clients *t, uint32_t max);
void ctl_clients_fini(struct ctl_clients *t);
/* Makes t the table the hooks feed (NULL: hooks do nothing). */
void ctl_clients_set_current(struct ctl_clients *t);
struct ctl_clients *ctl_clients_current(void);
/* Bytes the table holds (entries and buckets). */
uint64_t ctl_clients_bytes(const struct ctl_clients *t);

/* Finds a client, or NULL. */
struct ctl_client *ctl_clients_find(struct ctl_clients *t, uint8_t family, const uint8_t *addr);
/* Finds or creates it (evicting the least recently seen when full) and marks it seen now. */
struct ctl_client *ctl_clients_touch(struct ctl_clients *t, uint8_t family, const uint8_t *addr,
				     uint64_t now);

/* Hooks. tuple: src is the client. method: enum sn_dht_query. */
void ctl_clients_dht_request(const struct sn_udp_tuple *tuple, const uint8_t node[20],
			     unsigned method);
void ctl_clients_dht_error(const struct sn_udp_tuple *tuple);
void ctl_clients_turn(const struct sn_udp_tuple *tuple, enum ctl_client_turn_event ev,
		      uint64_t bytes);

#endif
