/* sn_channel.h: the control channel between supernode-dataplane and supernode-control.
 *
 * Transport: one UNIX SOCK_SEQPACKET socket. The dataplane listens at
 * <runtime_dir>/channel.sock and accepts one control at a time; every datagram is one
 * message, so framing is the socket's and a message is never split.
 *
 * Every message starts with struct sn_msg_hdr. All integers are host byte order (both
 * ends run on the same machine); addresses and ports inside struct sn_udp_tuple are in
 * network byte order, as on the wire, so they can be copied into packets unchanged.
 *
 * Conversation:
 *   control -> HELLO (version, pid)       dataplane -> HELLO (version, epoch, sizes)
 *   control -> DUMP_REQ                   dataplane -> DUMP_ENTRY... DUMP_END
 *   control -> TABLE_CMD                  dataplane -> TABLE_ACK (result, seq echoed)
 *   control -> INJECT                     (dataplane sends the UDP datagram; no answer)
 *                                         dataplane -> PUNT (packet + metadata)
 *   either  -> KEEPALIVE                  (liveness; the other side ignores it)
 *                                         dataplane -> GUARD_REPORT (heavy hitters)
 *   either  -> ERROR (bad message: seq and errno echoed)
 * A version mismatch in HELLO closes the connection after an ERROR.
 *
 * sn_msg_parse() is the one parser of this format; both processes and the fuzz target use
 * it, and it accepts a message only when every length inside it is consistent. */
#ifndef SN_CHANNEL_H
#define SN_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#define SN_CHANNEL_MAGIC   0x4e53u /* "SN" little-endian */
#define SN_CHANNEL_VERSION 1u
/* Largest message either side sends: a punted or injected jumbo datagram plus headers. */
#define SN_CHANNEL_MAX_MSG 10240u
/* Largest UDP payload carried by PUNT or INJECT. */
#define SN_CHANNEL_MAX_PAYLOAD 9216u
#define SN_CHANNEL_SOCKET      "channel.sock"

enum sn_msg_type {
	SN_MSG_HELLO = 1,
	SN_MSG_ERROR = 2,
	SN_MSG_TABLE_CMD = 3,
	SN_MSG_TABLE_ACK = 4,
	SN_MSG_DUMP_REQ = 5,
	SN_MSG_DUMP_ENTRY = 6,
	SN_MSG_DUMP_END = 7,
	SN_MSG_PUNT = 8,
	SN_MSG_INJECT = 9,
	SN_MSG_KEEPALIVE = 10,
	SN_MSG_GUARD_REPORT = 11, /* dataplane -> control: heavy hitters of one worker */
	SN_MSG_TYPE_MAX = 12,
};

struct sn_msg_hdr {
	uint16_t magic;	   /* SN_CHANNEL_MAGIC */
	uint8_t version;   /* SN_CHANNEL_VERSION */
	uint8_t type;	   /* enum sn_msg_type */
	uint32_t length;   /* whole message in bytes, header included */
	uint32_t seq;	   /* sender's sequence number; echoed in TABLE_ACK and ERROR */
	uint32_t reserved; /* zero */
};
_Static_assert(sizeof(struct sn_msg_hdr) == 16, "channel header is 16 bytes");

enum sn_role {
	SN_ROLE_DATAPLANE = 1,
	SN_ROLE_CONTROL = 2,
};

struct sn_msg_hello {
	uint32_t role;	    /* enum sn_role of the sender */
	uint32_t pid;	    /* sender's pid, for logs and status */
	uint64_t epoch;	    /* dataplane: start time in ns; changes on every restart. control: 0 */
	uint16_t n_workers; /* dataplane: worker lcores */
	uint16_t n_ports;   /* dataplane: ports */
	uint32_t n_tables;  /* dataplane: tables it serves (enum sn_table_id) */
	char build[32];	    /* sender's version string, NUL-terminated */
};

struct sn_msg_error {
	uint32_t bad_seq; /* seq of the message that was refused */
	int32_t error;	  /* negative errno */
	char text[64];	  /* NUL-terminated cause */
};

/* Tables that control writes through the dataplane's table writer. */
enum sn_table_id {
	SN_TABLE_UDP_DISPATCH = 1, /* key sn_dispatch_key, value sn_dispatch_value */
	SN_TABLE_TURN_ALLOC = 2,   /* key sn_turn_alloc_key, value sn_turn_alloc_value */
	SN_TABLE_TURN_PERM = 3,	   /* key sn_turn_perm_key, value sn_turn_perm_value */
	SN_TABLE_TURN_CHANNEL = 4, /* key sn_turn_channel_key, value sn_turn_channel_value */
	SN_TABLE_DHT_NODE = 5,	   /* key sn_dht_node_key, value sn_dht_node_value */
	SN_TABLE_DHT_STATE = 6,	   /* key sn_dht_state_key, value sn_dht_state_value */
	SN_TABLE_GUARD = 7,	   /* key sn_guard_key, value sn_guard_value */
	SN_TABLE_MAX = 8,
};

enum sn_table_op {
	SN_TABLE_OP_ADD = 1, /* add or replace */
	SN_TABLE_OP_DEL = 2,
	SN_TABLE_OP_CLEAR = 3, /* key_len and val_len are 0 */
};

struct sn_msg_table_cmd {
	uint16_t table; /* enum sn_table_id */
	uint8_t op;	/* enum sn_table_op */
	uint8_t pad;
	uint16_t key_len; /* bytes of key at data[0] */
	uint16_t val_len; /* bytes of value at data[key_len] */
	uint8_t data[];
};

struct sn_msg_table_ack {
	uint32_t cmd_seq; /* seq of the TABLE_CMD */
	int32_t result;	  /* 0 or negative errno */
	uint32_t entries; /* entries in the table after the command */
};

struct sn_msg_dump_req {
	uint16_t table; /* enum sn_table_id, or 0 for every table */
	uint16_t pad;
};

/* DUMP_ENTRY reuses struct sn_msg_table_cmd with op = SN_TABLE_OP_ADD. */

struct sn_msg_dump_end {
	uint16_t table; /* as requested */
	uint16_t pad;
	uint32_t entries; /* DUMP_ENTRY messages sent */
};

/* A UDP 5-tuple as seen on the wire: family AF_INET or AF_INET6; IPv4 addresses use the
 * first 4 bytes of src/dst. Addresses and ports in network byte order. */
struct sn_udp_tuple {
	uint8_t family;
	uint8_t pad;
	uint16_t src_port;
	uint16_t dst_port;
	uint16_t pad2;
	uint8_t src[16];
	uint8_t dst[16];
};
_Static_assert(sizeof(struct sn_udp_tuple) == 40, "tuple layout is fixed");

/* Why a packet was punted; also the label of punt counters. */
#define SN_PUNT_REASONS(X)                                                                         \
	X(UDP_HANDLER, "udp_handler") /* dispatch entry says: control handles this port */         \
	X(ECHO, "echo")		      /* diagnostic echo service */                                \
	X(TURN, "turn")		      /* TURN request for control */                               \
	X(DHT, "dht")		      /* DHT request for control */                                \
	X(DHT_SEEN, "dht_seen")	      /* sample of a ping/find answered in the dataplane, so       \
				       * control learns the node that sent it */

enum sn_punt_reason {
#define SN_X_ENUM(name, label) SN_PUNT_##name,
	SN_PUNT_REASONS(SN_X_ENUM)
#undef SN_X_ENUM
	    SN_PUNT_MAX
};
extern const char *const sn_punt_reason_names[SN_PUNT_MAX];

struct sn_msg_punt {
	uint16_t reason;      /* enum sn_punt_reason */
	uint16_t port_id;     /* DPDK port the packet came in on */
	uint16_t lcore;	      /* worker lcore that punted it */
	uint16_t payload_len; /* UDP payload bytes that follow */
	uint64_t arrival_ns;  /* CLOCK_REALTIME-based ns at rx */
	struct sn_udp_tuple tuple;
	uint8_t payload[];
};

struct sn_msg_inject {
	uint16_t port_id;     /* port to send on; UINT16_MAX: chosen by route */
	uint16_t flags;	      /* zero */
	uint16_t payload_len; /* UDP payload bytes that follow */
	uint16_t pad;
	struct sn_udp_tuple tuple; /* src must be one of the appliance's addresses */
	uint8_t payload[];
};

/* One source or prefix in a heavy-hitter report: the policed drops charged to it over the
 * interval (space-saving counts: upper bounds). */
struct sn_guard_report_entry {
	uint8_t family;	    /* AF_INET or AF_INET6 */
	uint8_t prefix_len; /* 32/128: one address; else the prefix that was policed or banned */
	uint8_t reason;	    /* enum sn_guard_report_reason of its first drop this interval */
	uint8_t pad;
	uint32_t drops;
	uint8_t addr[16]; /* network order, host bits zero; IPv4 in the first 4 bytes */
};
_Static_assert(sizeof(struct sn_guard_report_entry) == 24, "report entry layout is fixed");

enum sn_guard_report_reason {
	SN_GUARD_RR_SOURCE = 0,	 /* over the per-source limit */
	SN_GUARD_RR_PREFIX = 1,	 /* over the per-prefix limit */
	SN_GUARD_RR_BANNED = 2,	 /* banned by control */
	SN_GUARD_RR_SUSPECT = 3, /* over the tighter limit of a suspect source */
	SN_GUARD_RR_MAX = 4,
};

#define SN_GUARD_REPORT_MAX 256 /* entries in one GUARD_REPORT */

/* GUARD_REPORT: one worker's heavy hitters of one interval, most drops first. */
struct sn_msg_guard_report {
	uint16_t lcore;	      /* worker lcore */
	uint16_t n_entries;   /* entries that follow, at most SN_GUARD_REPORT_MAX */
	uint32_t interval_ms; /* guard.report_ms */
	uint64_t drops;	      /* all policed drops of the worker in the interval */
	struct sn_guard_report_entry entries[];
};

/* A parsed, length-checked view of one message. Pointers point into the caller's buffer. */
struct sn_msg_view {
	const struct sn_msg_hdr *hdr;
	union {
		const struct sn_msg_hello *hello;
		const struct sn_msg_error *error;
		const struct sn_msg_table_cmd *table_cmd; /* TABLE_CMD and DUMP_ENTRY */
		const struct sn_msg_table_ack *table_ack;
		const struct sn_msg_dump_req *dump_req;
		const struct sn_msg_dump_end *dump_end;
		const struct sn_msg_punt *punt;
		const struct sn_msg_inject *inject;
		const struct sn_msg_guard_report *guard_report;
	} u;
	const uint8_t *key; /* TABLE_CMD/DUMP_ENTRY */
	const uint8_t *val;
	const uint8_t *payload; /* PUNT/INJECT */
	uint32_t body_len;	/* bytes after the header */
};

/* Checks buf[0..len) as one message: magic, version, type, header length equal to len,
 * body size as the type requires, inner lengths within the body, payloads at most
 * SN_CHANNEL_MAX_PAYLOAD, HELLO build and ERROR text NUL-terminated, DUMP_ENTRY op ADD,
 * CLEAR without key or value.
 * Returns 0 and fills *view, or -EBADMSG / -EPROTO (version) / -EMSGSIZE. */
int sn_msg_parse(const void *buf, size_t len, struct sn_msg_view *view);

/* Writes a header for a message of body_len bytes into buf. Returns the total length. */
uint32_t sn_msg_init(void *buf, enum sn_msg_type type, uint32_t seq, uint32_t body_len);

/* Builds a TABLE_CMD (or DUMP_ENTRY) message into buf (cap bytes). Returns total length or
 * -EMSGSIZE. */
int sn_msg_build_table(void *buf, size_t cap, enum sn_msg_type type, uint32_t seq, uint16_t table,
		       uint8_t op, const void *key, uint16_t key_len, const void *val,
		       uint16_t val_len);

/* --- table payloads --- */

/* Handlers a UDP datagram to one of the appliance's addresses can be dispatched to. */
enum sn_udp_handler {
	SN_UDP_HANDLER_DROP = 0, /* counted drop (reason udp_port_closed) */
	SN_UDP_HANDLER_PUNT = 1, /* to control, policed, reason udp_handler */
	SN_UDP_HANDLER_ECHO = 2, /* to control's diagnostic echo, reason echo */
	SN_UDP_HANDLER_TURN = 3, /* TURN/STUN fast path (relay issue) */
	SN_UDP_HANDLER_DHT = 4,	 /* OpenDHT fast path (overlay issue) */
	SN_UDP_HANDLER_MAX = 5,
};

/* Dispatch key: local UDP port and address family; the dispatch applies to every one of the
 * appliance's addresses of that family. port in network byte order. */
struct sn_dispatch_key {
	uint16_t port;
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t pad;
};

struct sn_dispatch_value {
	uint16_t handler; /* enum sn_udp_handler */
	uint16_t pad;
};

/* --- TURN tables (relay issue). Control owns allocations, lifetimes and quotas; the
 * dataplane holds what the fast path needs and checks expiry on every packet. Times are
 * CLOCK_REALTIME ns. Relayed transport addresses are the port's own IPv4/IPv6 address with
 * a port from turn.relay_ports. --- */

struct sn_turn_alloc_key {
	uint32_t alloc_id; /* control-assigned, below turn.max_allocations */
};

struct sn_turn_alloc_value {
	struct sn_udp_tuple client; /* src: client address/port as seen; dst: appliance
				     * address and TURN port the client talks to */
	uint16_t port_idx;	    /* appliance port (config order) */
	uint16_t relay_port4;	    /* host order; 0: no IPv4 relayed address */
	uint16_t relay_port6;	    /* host order; 0: no IPv6 relayed address */
	uint16_t flags;		    /* zero */
	uint64_t expires_ns;
	/* Filled by the dataplane in DUMP_ENTRY (ignored in TABLE_CMD): */
	uint64_t to_peer_packets;
	uint64_t to_peer_bytes;
	uint64_t to_client_packets;
	uint64_t to_client_bytes;
};

struct sn_turn_perm_key {
	uint32_t alloc_id;
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t pad[3];
	uint8_t peer[16]; /* peer IP (permissions are per IP, RFC 8656 9) */
};

struct sn_turn_perm_value {
	uint64_t expires_ns;
};

struct sn_turn_channel_key {
	uint32_t alloc_id;
	uint16_t channel; /* host order */
	uint16_t pad;
};

struct sn_turn_channel_value {
	uint8_t family;
	uint8_t pad;
	uint16_t peer_port; /* network order */
	uint8_t peer[16];
	uint64_t expires_ns;
};

/* --- DHT tables (overlay issue). Control runs routing-table upkeep and pushes the nodes
 * the fast path may hand out in find answers; the dataplane rebuilds its snapshot. --- */

struct sn_dht_node_key {
	uint8_t id[20];
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t pad[3];
};

struct sn_dht_node_value {
	uint16_t port;	/* network order */
	uint16_t flags; /* zero */
	uint8_t addr[16];
};

struct sn_dht_state_key {
	uint32_t zero; /* one entry */
};

struct sn_dht_state_value {
	uint8_t node_id[20];	/* the appliance's own node id */
	uint32_t network_id;	/* OpenDHT network id (n); 0: none */
	uint8_t token_cur[32];	/* write-token secrets: current ... */
	uint8_t token_prev[32]; /* ... and previous (tokens stay valid one rotation) */
};

/* --- guard table (issue 5): bans and suspect marks control pushes. A packet whose source
 * lies inside an unexpired entry is dropped (ban) or policed with tighter limits
 * (suspect). --- */

enum sn_guard_action {
	SN_GUARD_BAN = 1,
	SN_GUARD_SUSPECT = 2,
};

struct sn_guard_key {
	uint8_t family;	    /* AF_INET or AF_INET6 */
	uint8_t prefix_len; /* 1..32 or 1..128 */
	uint16_t pad;
	uint8_t addr[16]; /* network order, host bits zero; IPv4 in the first 4 bytes */
};

struct sn_guard_value {
	uint8_t action; /* enum sn_guard_action */
	uint8_t pad[7];
	uint64_t expires_ns; /* CLOCK_REALTIME */
};

#endif
