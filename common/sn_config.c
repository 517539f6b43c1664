/* sn_config.c: YAML config loader, driven by one schema table.
 *
 * Loading is three steps: libyaml events are turned into a small tree (keeping line numbers,
 * refusing aliases, extra documents and deep nesting), the tree is walked against the schema
 * (unknown keys, duplicates, types, ranges, required fields), and cross-field rules run last
 * with the tree still at hand so their errors can name a line too. */
#include "sn_config.h"
#include "sn_channel.h"
#include "sn_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Far above any sane config; keeps a hostile 1 MiB file from building a huge tree. */
#define MAX_NODES 65536
/* Longest display path ("dataplane.ports[7].gateway4") plus a shortened unknown key. */
#define PATH_BUF 160
/* Unknown keys are echoed in messages; longer ones are cut. */
#define KEY_SHOWN 40
/* One EAL argument; the EAL itself has no limit, but a longer one is a mistake. */
#define EAL_ARG_MAX 1023

enum field_type {
	FT_SECTION,	/* mapping whose keys are further rows */
	FT_MAP_LIST,	/* list of mappings; element rows are under "<path>[]" */
	FT_BOOL,	/* bool */
	FT_U16,		/* uint16_t */
	FT_U32,		/* uint32_t or unsigned */
	FT_STRING,	/* char[size] */
	FT_IP_ADDR,	/* IPv4 or IPv6 address kept as text in char[size] */
	FT_IPV4_ADDR,	/* struct in_addr */
	FT_IPV6_ADDR,	/* struct in6_addr */
	FT_IPV4_PREFIX, /* struct in_addr, length in uint8_t at aux_off */
	FT_IPV6_PREFIX, /* struct in6_addr, length in uint8_t at aux_off */
	FT_ENUM,	/* int or uint16_t, index into names */
	FT_LCORE_LIST,	/* unsigned[], count in int at aux_off */
	FT_STRING_LIST, /* char *[] (heap), count in int at aux_off */
	FT_CIDR_LIST,	/* struct sn_cidr[], count in int at aux_off */
};

enum field_flag {
	FF_REQUIRED = 1u << 0, /* no default: the key must be present */
	FF_HAS = 1u << 1,      /* optional without default: bool at has_off says it was given */
	FF_POW2 = 1u << 2,     /* number must be a power of two */
	FF_ABS_PATH = 1u << 3, /* string must start with '/' */
	FF_NAME = 1u << 4,     /* string of [A-Za-z0-9_.-]: it becomes a metric label */
	FF_DEVICE = 1u << 5,   /* PCI address or net_* vdev */
	FF_UNICAST = 1u << 6,  /* address must be usable as a host address */
};

struct field {
	const char *path; /* dotted; "[]" stands for each element of a list of maps */
	enum field_type type;
	const char *def; /* default, written as in YAML; NULL: none */
	uint32_t min;	 /* numbers: value; strings: length; lists: entries; prefixes: length */
	uint32_t max;
	unsigned flags; /* enum field_flag */
	size_t off;	/* where the value lands: in struct sn_config, or in the list element */
	size_t size;	/* bytes at off (one element for arrays) */
	size_t aux_off; /* prefix length or element count */
	size_t has_off; /* FF_HAS: bool set when the key is given */
	const char *const *names; /* FT_ENUM: names, index = value, NULL-terminated */
	const char *doc;
};

/* Row builders; S is the struct the value lands in: struct sn_config for the sections,
 * the element struct for rows under "<list>[]". */
#define AT(S, m) .off = offsetof(S, m), .size = sizeof(((S *)0)->m)
#define SECTION(p, text)                                                                           \
	{                                                                                          \
		.path = p, .type = FT_SECTION, .doc = text                                         \
	}
#define VAL(p, t, d, lo, hi, fl, S, m, text)                                                       \
	{                                                                                          \
		.path = p, .type = t, .def = d, .min = lo, .max = hi, .flags = fl, AT(S, m),       \
		.doc = text                                                                        \
	}
#define ENUM(p, d, nm, fl, S, m, text)                                                             \
	{                                                                                          \
		.path = p, .type = FT_ENUM, .def = d, .names = nm, .flags = fl, AT(S, m),          \
		.doc = text                                                                        \
	}
#define LIST(p, t, lo, hi, S, m, count, text)                                                      \
	{                                                                                          \
		.path = p, .type = t, .min = lo, .max = hi, AT(S, m[0]),                           \
		.aux_off = offsetof(S, count), .doc = text                                         \
	}
#define PREFIX(p, t, hi, S, m, len, has, text)                                                     \
	{                                                                                          \
		.path = p, .type = t, .min = 1, .max = hi, .flags = FF_HAS | FF_UNICAST, AT(S, m), \
		.aux_off = offsetof(S, len), .has_off = offsetof(S, has), .doc = text              \
	}
#define ADDR(p, t, S, m, has, text)                                                                \
	{                                                                                          \
		.path = p, .type = t, .flags = FF_HAS | FF_UNICAST, AT(S, m),                      \
		.has_off = offsetof(S, has), .doc = text                                           \
	}

#define CONF  struct sn_config
#define PORT  struct sn_port_config
#define DISP  struct sn_dispatch_config
#define TUSER struct sn_turn_user

static const char *const log_level_names[] = {
    [SN_LOG_ERR] = "error",
    [SN_LOG_WARN] = "warn",
    [SN_LOG_INFO] = "info",
    [SN_LOG_DEBUG] = "debug",
    NULL,
};

static const char *const sybil_unknown_names[] = {
    [SN_SYBIL_UNKNOWN_ALLOW] = "allow",
    [SN_SYBIL_UNKNOWN_DENY] = "deny",
    NULL,
};

static const char *const sybil_decision_names[] = {
    [SN_SYBIL_DECIDE_BOTH] = "both",
    [SN_SYBIL_DECIDE_EITHER] = "either",
    [SN_SYBIL_DECIDE_SYBILLIMIT] = "sybillimit",
    [SN_SYBIL_DECIDE_SYBILRANK] = "sybilrank",
    NULL,
};

static const char *const handler_names[] = {
    [SN_UDP_HANDLER_DROP] = "drop", [SN_UDP_HANDLER_PUNT] = "punt", [SN_UDP_HANDLER_ECHO] = "echo",
    [SN_UDP_HANDLER_TURN] = "turn", [SN_UDP_HANDLER_DHT] = "dht",   NULL,
};
_Static_assert(ARRAY_SIZE(handler_names) == SN_UDP_HANDLER_MAX + 1, "a name per handler");

/* The schema. A new section is a SECTION row plus rows under it, and the fields in
 * struct sn_config they land in; cross-field rules go in check_config(). Rows print in this
 * order in docs/config.md, so keep a section's rows together. */
static const struct field fields[] = {
    VAL("runtime_dir", FT_STRING, "/run/supernode", 1, SN_CONFIG_RUNTIME_DIR_MAX, FF_ABS_PATH, CONF,
	runtime_dir,
	"Absolute directory for the channel socket, the admin socket and the stats segment."),
    ENUM("log_level", "info", log_level_names, 0, CONF, log_level,
	 "Most verbose log level printed to stderr."),
    VAL("lab_mode", FT_BOOL, "false", 0, 0, 0, CONF, lab_mode,
	"Lab deployment (network namespace, vdev ports, relaxed checks); false in production."),

    SECTION("dataplane", "supernode-dataplane (DPDK) settings."),
    LIST("dataplane.eal_args", FT_STRING_LIST, 0, SN_CONFIG_MAX_EAL_ARGS, CONF, dataplane.eal_args,
	 dataplane.n_eal_args,
	 "Extra DPDK EAL arguments (memory, file prefix, log level). Lcores come from "
	 "main_lcore and workers, vdevs from ports[].device."),
    VAL("dataplane.main_lcore", FT_U32, "0", 0, SN_CONFIG_MAX_LCORE - 1, 0, CONF,
	dataplane.main_lcore, "Lcore of the main thread: table writer, stats, control channel."),
    LIST("dataplane.workers", FT_LCORE_LIST, 1, SN_CONFIG_MAX_WORKERS, CONF,
	 dataplane.worker_lcores, dataplane.n_workers,
	 "Worker lcores, one poll loop each; distinct and not main_lcore."),
    VAL("dataplane.mbufs", FT_U32, "8191", 512, 16777215, 0, CONF, dataplane.mbufs,
	"Mbufs in the packet pool (2^n - 1 is the most memory-efficient)."),
    VAL("dataplane.mbuf_cache", FT_U32, "256", 0, 512, 0, CONF, dataplane.mbuf_cache,
	"Per-lcore mempool cache; at most mbufs / 1.5."),
    VAL("dataplane.burst", FT_U16, "32", 1, 512, 0, CONF, dataplane.burst,
	"Packets per rx/tx burst."),
    SECTION("dataplane.idle", "Idle back-off of worker lcores."),
    VAL("dataplane.idle.empty_polls", FT_U32, "256", 0, 1000000000, 0, CONF,
	dataplane.idle_empty_polls,
	"Consecutive empty polls before a worker sleeps; 0: always poll (production)."),
    VAL("dataplane.idle.sleep_us", FT_U32, "200", 1, 1000000, 0, CONF, dataplane.idle_sleep_us,
	"How long an idle worker sleeps, in microseconds."),
    SECTION("dataplane.punt", "Packets punted to supernode-control, policed per worker."),
    VAL("dataplane.punt.ring_size", FT_U32, "4096", 64, 1048576, FF_POW2, CONF,
	dataplane.punt_ring_size, "Worker to main lcore punt ring entries."),
    VAL("dataplane.punt.rate_pps", FT_U32, "10000", 1, 10000000, 0, CONF, dataplane.punt_rate_pps,
	"Punts per second per reason per worker."),
    VAL("dataplane.punt.burst", FT_U32, "1000", 1, 10000000, 0, CONF, dataplane.punt_burst,
	"Token bucket depth for rate_pps."),
    VAL("dataplane.punt.source_rate_pps", FT_U32, "2000", 1, 10000000, 0, CONF,
	dataplane.punt_source_rate_pps, "Punts per second per source address (hashed) per worker."),
    VAL("dataplane.punt.source_burst", FT_U32, "200", 1, 10000000, 0, CONF,
	dataplane.punt_source_burst, "Token bucket depth for source_rate_pps."),
    VAL("dataplane.neigh_entries", FT_U32, "1024", 16, 1048576, 0, CONF, dataplane.neigh_entries,
	"Neighbour (ARP/NDP) table capacity."),

    LIST("dataplane.ports", FT_MAP_LIST, 1, SN_CONFIG_MAX_PORTS, CONF, dataplane.ports,
	 dataplane.n_ports, "Ports, in DPDK port id order."),
    VAL("dataplane.ports[].name", FT_STRING, NULL, 1, SN_CONFIG_NAME_LEN - 1, FF_REQUIRED | FF_NAME,
	PORT, name, "Unique port name ([A-Za-z0-9_.-]), the `port` label of metrics."),
    VAL("dataplane.ports[].device", FT_STRING, NULL, 1, SN_CONFIG_PATH_LEN - 1,
	FF_REQUIRED | FF_DEVICE, PORT, device,
	"PCI address (`0000:3b:00.0`) or vdev (`net_tap0,iface=sn0`); vdevs are created by "
	"the dataplane."),
    PREFIX("dataplane.ports[].ipv4", FT_IPV4_PREFIX, 32, PORT, ipv4, ipv4_prefix, has_ipv4,
	   "Appliance IPv4 address and on-link prefix (`198.18.0.1/24`). A port needs ipv4, "
	   "ipv6 or both."),
    ADDR("dataplane.ports[].gateway4", FT_IPV4_ADDR, PORT, gateway4, has_gateway4,
	 "IPv4 next hop for off-link destinations; inside the ipv4 prefix."),
    PREFIX("dataplane.ports[].ipv6", FT_IPV6_PREFIX, 128, PORT, ipv6, ipv6_prefix, has_ipv6,
	   "Appliance IPv6 address and on-link prefix (`2001:db8:5e::1/64`)."),
    ADDR("dataplane.ports[].gateway6", FT_IPV6_ADDR, PORT, gateway6, has_gateway6,
	 "IPv6 next hop for off-link destinations; inside the ipv6 prefix or link-local."),
    VAL("dataplane.ports[].mtu", FT_U16, "1500", 576, SN_CHANNEL_MAX_PAYLOAD, 0, PORT, mtu,
	"IP MTU; at least 1280 when the port has ipv6."),
    VAL("dataplane.ports[].rx_desc", FT_U16, "1024", 64, 32768, 0, PORT, rx_desc,
	"Rx descriptors per queue; at least dataplane.burst."),
    VAL("dataplane.ports[].tx_desc", FT_U16, "1024", 64, 32768, 0, PORT, tx_desc,
	"Tx descriptors per queue; at least dataplane.burst."),

    LIST("dataplane.dispatch", FT_MAP_LIST, 0, SN_CONFIG_MAX_DISPATCH, CONF, dataplane.dispatch,
	 dataplane.n_dispatch,
	 "UDP ports dispatched at start, on every appliance address; control can add more."),
    VAL("dataplane.dispatch[].port", FT_U16, NULL, 1, 65535, FF_REQUIRED, DISP, port,
	"Local UDP port; each at most once."),
    ENUM("dataplane.dispatch[].handler", NULL, handler_names, FF_REQUIRED, DISP, handler,
	 "drop: count and drop; punt: to control; echo: control's diagnostic echo; turn: "
	 "STUN/TURN fast path; dht: OpenDHT fast path."),

    SECTION("control", "supernode-control settings."),
    SECTION("control.metrics", "Prometheus endpoint."),
    VAL("control.metrics.listen", FT_IP_ADDR, "127.0.0.1", 0, 0, 0, CONF, control.metrics_listen,
	"Address the HTTP /metrics server listens on."),
    VAL("control.metrics.port", FT_U16, "9641", 1, 65535, 0, CONF, control.metrics_port,
	"TCP port of /metrics."),
    VAL("control.reconnect_ms", FT_U32, "200", 10, 60000, 0, CONF, control.reconnect_ms,
	"Delay between attempts to reach the dataplane, in milliseconds."),
    VAL("control.keepalive_ms", FT_U32, "1000", 100, 600000, 0, CONF, control.keepalive_ms,
	"Channel keepalive period, in milliseconds."),

    SECTION("turn", "TURN relay (RFC 8656 over UDP)."),
    VAL("turn.relay_port_min", FT_U16, "49152", 1024, 65535, 0, CONF, turn.relay_port_min,
	"Lowest UDP port of relayed transport addresses."),
    VAL("turn.relay_port_max", FT_U16, "65535", 1024, 65535, 0, CONF, turn.relay_port_max,
	"Highest UDP port of relayed transport addresses; at least relay_port_min."),
    VAL("turn.max_allocations", FT_U32, "131072", 1, 16777216, 0, CONF, turn.max_allocations,
	"Most allocations at once, all users together (dataplane tables are sized for it)."),
    VAL("turn.max_permissions", FT_U16, "16", 1, 256, 0, CONF, turn.max_permissions,
	"Most permissions (peer IPs) per allocation."),
    VAL("turn.max_channels", FT_U16, "16", 1, 4096, 0, CONF, turn.max_channels,
	"Most channel bindings per allocation."),
    VAL("turn.rfc5766_channels", FT_BOOL, "false", 0, 0, 0, CONF, turn.rfc5766_channels,
	"Also accept channel numbers 0x5000-0x7FFF, as RFC 5766 clients (coturn's "
	"turnutils_uclient) use."),
    VAL("turn.realm", FT_STRING, "supernode", 1, SN_CONFIG_TURN_STR - 1, FF_NAME, CONF, turn.realm,
	"REALM of the long-term credentials ([A-Za-z0-9_.-]). Keep it short: a 401 challenge "
	"must not be larger than the request it answers."),
    LIST("turn.users", FT_MAP_LIST, 0, SN_CONFIG_MAX_TURN_USERS, CONF, turn.users, turn.n_users,
	 "Static long-term credentials."),
    VAL("turn.users[].name", FT_STRING, NULL, 1, SN_CONFIG_TURN_STR - 1, FF_REQUIRED, TUSER, name,
	"USERNAME; unique."),
    VAL("turn.users[].password", FT_STRING, NULL, 1, SN_CONFIG_TURN_STR - 1, FF_REQUIRED, TUSER,
	password, "Password (already in SASLprep form)."),
    VAL("turn.users[].quota", FT_U32, "0", 0, 16777216, 0, TUSER, quota,
	"Allocations this user may hold at once; 0: turn.user_quota."),
    VAL("turn.rest_secret", FT_STRING, NULL, 0, SN_CONFIG_TURN_SECRET - 1, 0, CONF,
	turn.rest_secret,
	"TURN REST API shared secret (coturn's use-auth-secret): USERNAME `expiry:user`, "
	"password base64(HMAC-SHA1(secret, USERNAME)). Empty or absent: off."),
    VAL("turn.nonce_lifetime", FT_U32, "600", 30, 86400, 0, CONF, turn.nonce_lifetime,
	"Seconds a NONCE stays valid; older ones get 438 (Stale Nonce)."),
    VAL("turn.default_lifetime", FT_U32, "600", 60, 86400, 0, CONF, turn.default_lifetime,
	"Allocation lifetime in seconds when the client asks for less or nothing (RFC 8656: "
	"600)."),
    VAL("turn.max_lifetime", FT_U32, "3600", 60, 86400, 0, CONF, turn.max_lifetime,
	"Longest allocation lifetime granted, in seconds; at least default_lifetime."),
    VAL("turn.user_quota", FT_U32, "0", 0, 16777216, 0, CONF, turn.user_quota,
	"Allocations one user may hold at once (486 beyond); 0: no per-user limit. The total "
	"is max_allocations."),
    LIST("turn.allowed_peers", FT_CIDR_LIST, 0, SN_CONFIG_MAX_PEER_RANGES, CONF, turn.allowed_peers,
	 turn.n_allowed_peers,
	 "Peer ranges (`ADDR/LEN`) allowed although the default policy denies them; the "
	 "longest match of allowed_peers and denied_peers wins, denied on a tie."),
    LIST("turn.denied_peers", FT_CIDR_LIST, 0, SN_CONFIG_MAX_PEER_RANGES, CONF, turn.denied_peers,
	 turn.n_denied_peers,
	 "Peer ranges denied in addition to the defaults (loopback, private, link-local, "
	 "multicast, unspecified, documentation, benchmarking, broadcast, CGNAT, and their "
	 "IPv4-mapped/compatible forms)."),
    VAL("turn.software", FT_STRING, NULL, 0, SN_CONFIG_TURN_STR - 1, 0, CONF, turn.software,
	"SOFTWARE attribute in TURN responses; empty or absent: none."),

    SECTION("dht", "OpenDHT node (wire format of OpenDHT 2.4)."),
    VAL("dht.network_id", FT_U32, "0", 0, 4294967295u, 0, CONF, dht.network_id,
	"OpenDHT network id; messages with another id are dropped. 0 is the public network."),
    {.path = "dht.node_id",
     .type = FT_STRING,
     .min = 40,
     .max = 40,
     .flags = FF_HAS,
     AT(CONF, dht.node_id),
     .has_off = offsetof(CONF, dht.has_node_id),
     .doc = "Node id, 40 hex digits. Unset: generated once and kept in "
	    "`<runtime_dir>/dht_node_id`."},
    LIST("dht.bootstrap", FT_STRING_LIST, 0, SN_CONFIG_MAX_DHT_BOOTSTRAP, CONF, dht.bootstrap,
	 dht.n_bootstrap,
	 "Nodes to join the DHT through: `IPv4:port` or `[IPv6]:port` (addresses, no names). "
	 "Empty: the appliance is a bootstrap node itself and learns nodes that contact it."),
    VAL("dht.max_store_bytes", FT_U32, "67108864", 65536, 4294967295u, 0, CONF, dht.max_store_bytes,
	"Bytes of stored values (OpenDHT's Value::size) in all; puts beyond it are refused."),
    VAL("dht.max_keys", FT_U32, "1048576", 1, 1073741824, 0, CONF, dht.max_keys,
	"Keys holding values or listeners."),
    VAL("dht.max_values_per_key", FT_U32, "1024", 1, 65536, 0, CONF, dht.max_values_per_key,
	"Values stored under one key (OpenDHT allows 65536)."),
    VAL("dht.max_value_size", FT_U32, "65536", 64, 65536, 0, CONF, dht.max_value_size,
	"Largest value (data, signature, cypher and user type bytes); OpenDHT's limit is 65536."),
    VAL("dht.quota_bytes", FT_U32, "1048576", 64, 4294967295u, 0, CONF, dht.quota_bytes,
	"Bytes of values one source address may have stored."),
    VAL("dht.quota_values", FT_U32, "256", 1, 16777216, 0, CONF, dht.quota_values,
	"Values one source address may have stored."),
    VAL("dht.max_listeners", FT_U32, "65536", 1, 16777216, 0, CONF, dht.max_listeners,
	"Listeners (listen requests being served), all keys together."),
    VAL("dht.quota_listeners", FT_U32, "64", 1, 16777216, 0, CONF, dht.quota_listeners,
	"Listeners one source address may have."),
    SECTION("dht.admission", "Which nodes enter the routing table and the find answers "
			     "(RFC 5765 2.4; docs/architecture.md, DHT joins)."),
    VAL("dht.admission.max_per_prefix4", FT_U32, "2", 1, 8, 0, CONF, dht.admit_per_prefix4,
	"Nodes from one IPv4 /24 in one bucket; more are refused (rejected_prefix)."),
    VAL("dht.admission.max_per_prefix6", FT_U32, "2", 1, 8, 0, CONF, dht.admit_per_prefix6,
	"Nodes from one IPv6 /64 in one bucket; more are refused (rejected_prefix)."),
    VAL("dht.admission.sybil", FT_BOOL, "true", 0, 0, 0, CONF, dht.admit_sybil,
	"Refuse nodes the trust module calls suspect (node id or address), and evict them "
	"when they become suspect."),
    VAL("dht.admission.evict_bad_msgs", FT_U32, "20", 0, 1000000, 0, CONF, dht.evict_bad_msgs,
	"Malformed or refused messages from a node's address within a minute that evict it; "
	"0: never."),
    VAL("dht.admission.ban_s", FT_U32, "600", 0, 86400, 0, CONF, dht.evict_ban_s,
	"An address evicted for misbehaviour or suspicion is not admitted again for this many "
	"seconds."),
    VAL("dht.admission.recheck_s", FT_U32, "300", 1, 86400, 0, CONF, dht.recheck_s,
	"A node in the routing table silent for this many seconds is pinged; three unanswered "
	"requests in a row evict it (liveness)."),

    SECTION("promotion", "Passive upgrades of clients to peers (RFC 5765 section 7.1): load, "
			 "per-client metrics, dial-back probes, signed invitations."),
    VAL("promotion.enabled", FT_BOOL, "false", 0, 0, 0, CONF, promotion.enabled,
	"Measure load and clients, and invite clients to become peers when load is high."),
    VAL("promotion.interval_ms", FT_U32, "1000", 100, 60000, 0, CONF, promotion.interval_ms,
	"Period of load measurement, probing and decisions, in milliseconds."),
    VAL("promotion.load_high", FT_U32, "800", 1, 100000, 0, CONF, promotion.load_high,
	"Load (permille of capacity) at or above which the appliance enters the high state and "
	"invites clients."),
    VAL("promotion.load_low", FT_U32, "600", 0, 100000, 0, CONF, promotion.load_low,
	"Load (permille) at or below which it leaves the high state; below load_high."),
    VAL("promotion.dwell_s", FT_U32, "30", 0, 86400, 0, CONF, promotion.dwell_s,
	"Least time in a state (low or high) before changing it, in seconds."),
    VAL("promotion.capacity_clients", FT_U32, "10000", 1, 100000000, 0, CONF,
	promotion.capacity_clients,
	"Clients (TURN allocations + DHT clients + listeners) that make load 1000."),
    VAL("promotion.capacity_kbps", FT_U32, "1000000", 1, 4294967295u, 0, CONF,
	promotion.capacity_kbps, "Relayed media kbit/s that make load 1000."),
    VAL("promotion.weight_uptime", FT_U32, "30", 0, 100, 0, CONF, promotion.weight_uptime,
	"Ranking weight of uptime."),
    VAL("promotion.weight_activity", FT_U32, "30", 0, 100, 0, CONF, promotion.weight_activity,
	"Ranking weight of activity (DHT operations, TURN allocations, refreshes, permissions)."),
    VAL("promotion.weight_history", FT_U32, "15", 0, 100, 0, CONF, promotion.weight_history,
	"Ranking weight of history (errors answered to the client, earlier invitations)."),
    VAL("promotion.weight_bandwidth", FT_U32, "15", 0, 100, 0, CONF, promotion.weight_bandwidth,
	"Ranking weight of relayed bandwidth."),
    VAL("promotion.weight_trust", FT_U32, "10", 0, 100, 0, CONF, promotion.weight_trust,
	"Ranking weight of the Sybil-trust score (0.5 when unknown)."),
    VAL("promotion.min_uptime_s", FT_U32, "300", 0, 86400, 0, CONF, promotion.min_uptime_s,
	"Clients seen for less than this are not candidates (short-lived)."),
    VAL("promotion.uptime_full_s", FT_U32, "3600", 1, 31536000, 0, CONF, promotion.uptime_full_s,
	"Uptime that scores 1.0."),
    VAL("promotion.activity_full", FT_U32, "1000", 1, 4294967295u, 0, CONF, promotion.activity_full,
	"Activity events that score 1.0."),
    VAL("promotion.bandwidth_full_kbps", FT_U32, "1000", 1, 4294967295u, 0, CONF,
	promotion.bandwidth_full_kbps, "Average relayed kbit/s that scores 1.0."),
    VAL("promotion.max_misbehaviour", FT_U32, "3", 1, 1000000, 0, CONF, promotion.max_misbehaviour,
	"DHT errors answered to a client (wrong tokens, refused puts...) that exclude it."),
    VAL("promotion.invites_per_interval", FT_U32, "2", 1, 10000, 0, CONF,
	promotion.invites_per_interval, "Most invitations issued in one interval."),
    VAL("promotion.max_invites", FT_U32, "64", 1, 100000, 0, CONF, promotion.max_invites,
	"Most invitations active (not expired) at once."),
    VAL("promotion.probe_port", FT_U16, "0", 0, 65535, 0, CONF, promotion.probe_port,
	"Source UDP port of dial-back probes; must be in dataplane.dispatch with handler punt. "
	"0: no probes, so no client is known reachable and none is invited."),
    VAL("promotion.probe_timeout_ms", FT_U32, "2000", 10, 60000, 0, CONF,
	promotion.probe_timeout_ms,
	"A probe unanswered for this long marks the client unreachable."),
    VAL("promotion.probes_per_interval", FT_U32, "8", 1, 10000, 0, CONF,
	promotion.probes_per_interval, "Most probes sent in one interval."),
    VAL("promotion.probe_ttl_s", FT_U32, "600", 1, 86400, 0, CONF, promotion.probe_ttl_s,
	"A reachability verdict is probed again after this many seconds."),
    VAL("promotion.max_clients", FT_U32, "65536", 16, 16777216, 0, CONF, promotion.max_clients,
	"Entries of the per-client table; the least recently seen is evicted beyond it."),
    VAL("promotion.invitation_lifetime_s", FT_U32, "3600", 60, 604800, 0, CONF,
	promotion.invitation_lifetime_s, "How long an invitation is valid."),
    VAL("promotion.key_path", FT_STRING, NULL, 0, SN_CONFIG_PATH_LEN - 1, 0, CONF,
	promotion.key_path,
	"Ed25519 private key (PEM) that signs invitations, generated when missing; the public "
	"key is written next to it (`.pub`). Empty: `<runtime_dir>/promotion.key`."),
    LIST("promotion.suspects", FT_CIDR_LIST, 0, SN_CONFIG_MAX_PROMO_SUSPECTS, CONF,
	 promotion.suspects, promotion.n_suspects,
	 "Client ranges (`ADDR/LEN`) treated as Sybil suspects, in addition to the trust "
	 "module's verdicts; never invited."),

    SECTION("sybil", "Trust graph and random-walk Sybil detection (SybilLimit, SybilRank; "
		     "docs/sybil.md)."),
    VAL("sybil.enabled", FT_BOOL, "true", 0, 0, 0, CONF, sybil.enabled,
	"Keep the trust graph and compute verdicts; false: every node is unknown."),
    VAL("sybil.file", FT_STRING, NULL, 0, SN_CONFIG_PATH_LEN - 1, 0, CONF, sybil.file,
	"Operator edge list (gzip or plain): `A B` per line with A, B 40-hex node ids or IP "
	"addresses, plus `seed X`, `suspect X`, `trust X` lines. Re-read at every run. Empty: "
	"none."),
    VAL("sybil.seeds", FT_STRING, NULL, 0, SN_CONFIG_SYBIL_SEEDS - 1, 0, CONF, sybil.seeds,
	"Trusted SybilRank seeds: node ids or addresses separated by blanks or commas (the "
	"file's `seed` lines add to them). Without a seed every node is unknown."),
    VAL("sybil.interval_s", FT_U32, "300", 1, 86400, 0, CONF, sybil.interval_s,
	"Seconds between runs of SybilLimit and SybilRank (marks and a changed graph are "
	"applied at the next run; marks take effect at once)."),
    VAL("sybil.walk_length", FT_U32, "0", 0, 256, 0, CONF, sybil.walk_length,
	"SybilLimit route length w; 0: benchmarked at each run from the best-ranked nodes."),
    VAL("sybil.r0", FT_U32, "4", 1, 64, 0, CONF, sybil.r0,
	"SybilLimit instances r = r0 * sqrt(edges)."),
    VAL("sybil.balance", FT_U32, "4", 1, 1000, 0, CONF, sybil.balance,
	"SybilLimit balance condition constant h."),
    VAL("sybil.suspect_below_pct", FT_U32, "10", 0, 100, 0, CONF, sybil.suspect_below_pct,
	"Normalised SybilRank score (percent of the stationary trust per edge) below which "
	"SybilRank calls a node suspect."),
    ENUM("sybil.unknown", "allow", sybil_unknown_names, 0, CONF, sybil.unknown,
	 "Nodes in no graph component with a seed: allow (not suspect) or deny (suspect)."),
    ENUM("sybil.decision", "either", sybil_decision_names, 0, CONF, sybil.decision,
	 "Which rejection makes a suspect: either (SybilLimit rejects or the SybilRank score is "
	 "low), both (the two agree: fewer honest false positives, more Sybils let in), "
	 "sybillimit, sybilrank."),
    VAL("sybil.mixing_warn_factor", FT_U32, "2", 1, 100, 0, CONF, sybil.mixing_warn_factor,
	"Warn (log, supernode_sybil_mixing_slow) when the walk's mixing time or SybilLimit's w "
	"exceeds this times log2(nodes)."),
    VAL("sybil.max_dynamic_edges", FT_U32, "100000", 0, 16777216, 0, CONF, sybil.max_dynamic_edges,
	"Vouch and observed-relay edges kept; more are dropped."),
    VAL("sybil.police_s", FT_U32, "3600", 1, 604800, 0, CONF, sybil.police_s,
	"Seconds guard polices an address harder (its suspect mark: limits divided by "
	"guard.suspect_factor) after it became a Sybil suspect; re-marked at every run."),
    SECTION("guard",
	    "Source guard: per-source policing on the workers before any parsing, "
	    "heavy-hitter reports, bans and suspect marks (docs/architecture.md). Rates are "
	    "per worker; RSS sends one source to one worker."),
    VAL("guard.enabled", FT_BOOL, "true", 0, 0, 0, CONF, guard.enabled,
	"Police DHT queries, STUN/TURN requests and punts per source and prefix. Media "
	"(ChannelData, Send, relayed datagrams) is never policed here."),
    VAL("guard.table_entries", FT_U32, "65536", 64, 16777216, FF_POW2, CONF, guard.table_entries,
	"Policer entries per worker (64 bytes each, allocated at start; sources and prefixes "
	"share them). Idle entries are evicted; when none is, the aggregate limit applies."),
    SECTION("guard.source", "Limits per source address."),
    VAL("guard.source.dht_rate_pps", FT_U32, "500", 1, 100000000, 0, CONF, guard.source_rate[0],
	"OpenDHT datagrams per second per source address."),
    VAL("guard.source.dht_burst", FT_U32, "250", 1, 100000000, 0, CONF, guard.source_burst[0],
	"Bucket depth for dht_rate_pps."),
    VAL("guard.source.stun_rate_pps", FT_U32, "200", 1, 100000000, 0, CONF, guard.source_rate[1],
	"STUN/TURN requests per second per source address."),
    VAL("guard.source.stun_burst", FT_U32, "100", 1, 100000000, 0, CONF, guard.source_burst[1],
	"Bucket depth for stun_rate_pps."),
    VAL("guard.source.punt_rate_pps", FT_U32, "200", 1, 100000000, 0, CONF, guard.source_rate[2],
	"Datagrams per second per source address to ports control serves (punt, echo)."),
    VAL("guard.source.punt_burst", FT_U32, "100", 1, 100000000, 0, CONF, guard.source_burst[2],
	"Bucket depth for punt_rate_pps."),
    SECTION("guard.prefix", "Limits per IPv4 /24 and IPv6 /64."),
    VAL("guard.prefix.dht_rate_pps", FT_U32, "5000", 1, 100000000, 0, CONF, guard.prefix_rate[0],
	"OpenDHT datagrams per second per prefix."),
    VAL("guard.prefix.dht_burst", FT_U32, "2500", 1, 100000000, 0, CONF, guard.prefix_burst[0],
	"Bucket depth for dht_rate_pps."),
    VAL("guard.prefix.stun_rate_pps", FT_U32, "2000", 1, 100000000, 0, CONF, guard.prefix_rate[1],
	"STUN/TURN requests per second per prefix."),
    VAL("guard.prefix.stun_burst", FT_U32, "1000", 1, 100000000, 0, CONF, guard.prefix_burst[1],
	"Bucket depth for stun_rate_pps."),
    VAL("guard.prefix.punt_rate_pps", FT_U32, "2000", 1, 100000000, 0, CONF, guard.prefix_rate[2],
	"Datagrams per second per prefix to ports control serves."),
    VAL("guard.prefix.punt_burst", FT_U32, "1000", 1, 100000000, 0, CONF, guard.prefix_burst[2],
	"Bucket depth for punt_rate_pps."),
    VAL("guard.aggregate_rate_pps", FT_U32, "20000", 1, 100000000, 0, CONF, guard.aggregate_rate,
	"Packets per second per class, per worker, for sources the policer table has no room "
	"for (every entry of their set still owes time): spoofed floods end up here."),
    VAL("guard.aggregate_burst", FT_U32, "2000", 1, 100000000, 0, CONF, guard.aggregate_burst,
	"Bucket depth for aggregate_rate_pps."),
    VAL("guard.punt_rate_pps", FT_U32, "20000", 1, 100000000, 0, CONF, guard.punt_rate,
	"Punts per second per worker, all reasons together (on top of dataplane.punt's per "
	"reason limit)."),
    VAL("guard.punt_burst", FT_U32, "2000", 1, 100000000, 0, CONF, guard.punt_burst,
	"Bucket depth for punt_rate_pps."),
    VAL("guard.report_ms", FT_U32, "1000", 100, 60000, 0, CONF, guard.report_ms,
	"Each worker reports its heavy hitters (most policed drops) to control this often."),
    VAL("guard.top_k", FT_U32, "16", 1, 64, 0, CONF, guard.top_k,
	"Sources and prefixes per worker report (space-saving sketch)."),
    VAL("guard.ban_drops", FT_U32, "1000", 1, 4294967295u, 0, CONF, guard.ban_drops,
	"Policed drops of one source or prefix in one report that count as a strike; the "
	"first strike marks it suspect."),
    VAL("guard.ban_intervals", FT_U32, "3", 1, 1000, 0, CONF, guard.ban_intervals,
	"Consecutive strikes (reports) that ban the source or prefix."),
    VAL("guard.ban_seconds", FT_U32, "300", 1, 604800, 0, CONF, guard.ban_seconds,
	"How long an automatic ban lasts."),
    VAL("guard.suspect_seconds", FT_U32, "60", 1, 604800, 0, CONF, guard.suspect_seconds,
	"How long an automatic suspect mark lasts."),
    VAL("guard.suspect_factor", FT_U32, "4", 1, 1000, 0, CONF, guard.suspect_factor,
	"A suspect source's rates and bursts are divided by this."),
    VAL("guard.max_bans", FT_U32, "4096", 16, 1048576, 0, CONF, guard.max_bans,
	"Bans and suspect marks held at once (control and dataplane)."),
};

#define N_FIELDS ARRAY_SIZE(fields)

enum node_kind {
	NODE_SCALAR,
	NODE_SEQ,
	NODE_MAP,
};

struct node {
	enum node_kind kind;
	int line;	    /* 1-based line where the node starts; 0 for defaults */
	bool plain;	    /* scalar written without quotes: may be a number, bool or null */
	char *text;	    /* scalar bytes, NUL-terminated */
	size_t len;	    /* scalar bytes; more than strlen(text) if the value holds a NUL */
	struct node **kids; /* sequence items, or mapping keys and values alternating */
	size_t n_kids;
	size_t cap_kids;
};

struct loader {
	const char *name; /* file name for messages */
	const char *text; /* input, for reader errors that only know an offset */
	size_t text_len;
	char *err;
	size_t err_len;
	struct sn_config *cfg;
	struct node *root;
	size_t n_nodes;
};

__attribute__((format(printf, 5, 6))) static int fail(struct loader *ld, int line, const char *path,
						      int rc, const char *fmt, ...)
{
	if (!ld->err || !ld->err_len)
		return rc;
	int n = snprintf(ld->err, ld->err_len, "%s:%d: %s: ", ld->name, line,
			 path && *path ? path : "(root)");
	if (n < 0 || (size_t)n >= ld->err_len)
		return rc;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ld->err + n, ld->err_len - n, fmt, ap);
	va_end(ap);
	return rc;
}

/* snprintf() for paths: a path that does not fit is cut, never overflows. */
__attribute__((format(printf, 3, 4))) static void path_printf(char *out, size_t len,
							      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, len, fmt, ap);
	va_end(ap);
}

/* --- YAML to tree --- */

static void node_free(struct node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n_kids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->text);
	free(n);
}

static int node_attach(struct node *parent, struct node *kid)
{
	if (parent->n_kids == parent->cap_kids) {
		size_t cap = parent->cap_kids ? parent->cap_kids * 2 : 8;
		struct node **kids = realloc(parent->kids, cap * sizeof(*kids));
		if (!kids)
			return -ENOMEM;
		parent->kids = kids;
		parent->cap_kids = cap;
	}
	parent->kids[parent->n_kids++] = kid;
	return 0;
}

/* Adds a node for ev under the innermost open collection; *out is the new node. */
static int tree_add(struct loader *ld, struct node **stack, int depth, const yaml_event_t *ev,
		    struct node **out)
{
	int line = (int)ev->start_mark.line + 1;
	int rc;

	if (++ld->n_nodes > MAX_NODES)
		return fail(ld, line, "(yaml)", -EINVAL, "more than %d values", MAX_NODES);
	struct node *n = calloc(1, sizeof(*n));
	if (!n)
		return fail(ld, line, "(yaml)", -ENOMEM, "out of memory");
	n->line = line;
	if (ev->type == YAML_SCALAR_EVENT) {
		n->kind = NODE_SCALAR;
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		n->len = ev->data.scalar.length;
		n->text = malloc(n->len + 1);
		if (!n->text) {
			rc = fail(ld, line, "(yaml)", -ENOMEM, "out of memory");
			goto out_free;
		}
		memcpy(n->text, ev->data.scalar.value, n->len);
		n->text[n->len] = '\0';
	} else {
		n->kind = ev->type == YAML_MAPPING_START_EVENT ? NODE_MAP : NODE_SEQ;
	}
	if (depth == 0) {
		/* Only one document is accepted, so the root is set once. */
		ld->root = n;
	} else {
		rc = node_attach(stack[depth - 1], n);
		if (rc) {
			fail(ld, line, "(yaml)", rc, "out of memory");
			goto out_free;
		}
	}
	*out = n;
	return 0;

out_free:
	node_free(n);
	return rc;
}

static int line_at_offset(const struct loader *ld, size_t offset)
{
	int line = 1;
	for (size_t i = 0; i < offset && i < ld->text_len; i++)
		line += ld->text[i] == '\n';
	return line;
}

static int yaml_fail(struct loader *ld, const yaml_parser_t *p)
{
	int line;

	if (p->error == YAML_MEMORY_ERROR)
		return fail(ld, 0, "(yaml)", -ENOMEM, "out of memory");
	if (p->error == YAML_READER_ERROR)
		line = line_at_offset(ld, p->problem_offset);
	else
		line = (int)p->problem_mark.line + 1;
	if (p->context)
		return fail(ld, line, "(yaml)", -EINVAL, "%s (%s at line %d)",
			    p->problem ? p->problem : "syntax error", p->context,
			    (int)p->context_mark.line + 1);
	return fail(ld, line, "(yaml)", -EINVAL, "%s", p->problem ? p->problem : "syntax error");
}

static int parse_tree(struct loader *ld)
{
	struct node *stack[SN_CONFIG_MAX_DEPTH];
	yaml_parser_t parser;
	yaml_event_t ev;
	int depth = 0, docs = 0, rc = 0;
	bool done = false;

	if (!yaml_parser_initialize(&parser))
		return fail(ld, 0, "(yaml)", -ENOMEM, "cannot initialise the YAML parser");
	yaml_parser_set_input_string(&parser, (const unsigned char *)ld->text, ld->text_len);
	while (!done && !rc) {
		if (!yaml_parser_parse(&parser, &ev)) {
			rc = yaml_fail(ld, &parser);
			break;
		}
		int line = (int)ev.start_mark.line + 1;
		struct node *n;

		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1)
				rc = fail(ld, line, "(yaml)", -EINVAL,
					  "only one YAML document is allowed");
			break;
		case YAML_ALIAS_EVENT:
			/* Aliases would let one node appear under several keys (or inside
			 * itself); every value is written out instead. */
			rc = fail(ld, line, "(yaml)", -EINVAL, "aliases are not supported");
			break;
		case YAML_SCALAR_EVENT:
			rc = tree_add(ld, stack, depth, &ev, &n);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (depth == SN_CONFIG_MAX_DEPTH) {
				rc = fail(ld, line, "(yaml)", -EINVAL,
					  "nesting deeper than %d levels", SN_CONFIG_MAX_DEPTH);
				break;
			}
			rc = tree_add(ld, stack, depth, &ev, &n);
			if (!rc)
				stack[depth++] = n;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (depth > 0)
				depth--;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return rc;
}

/* --- schema walk --- */

static bool is_null(const struct node *n)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};

	if (n->kind != NODE_SCALAR || !n->plain)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(nulls); i++)
		if (!strcmp(n->text, nulls[i]))
			return true;
	return false;
}

static const char *kind_name(const struct node *n)
{
	if (n->kind == NODE_MAP)
		return "a mapping";
	if (n->kind == NODE_SEQ)
		return "a list";
	if (is_null(n))
		return "nothing";
	return n->plain ? "a scalar" : "a quoted string";
}

/* Path of the row's parent: "dataplane.ports[]" for "dataplane.ports[].name", "" at the top. */
static bool is_child_of(const struct field *f, const char *parent, const char **name)
{
	size_t plen = strlen(parent);
	const char *rest = f->path;

	if (plen) {
		if (strncmp(f->path, parent, plen) || f->path[plen] != '.')
			return false;
		rest = f->path + plen + 1;
	}
	if (strchr(rest, '.'))
		return false;
	if (name)
		*name = rest;
	return true;
}

/* Rows a struct at `scope` holds values for: everything below it but not inside a list. */
static bool in_scope(const struct field *f, const char *scope)
{
	size_t slen = strlen(scope);
	const char *rest = f->path;

	if (slen) {
		if (strncmp(f->path, scope, slen) || f->path[slen] != '.')
			return false;
		rest = f->path + slen + 1;
	}
	return !strstr(rest, "[]");
}

static void store_uint(void *dst, size_t size, uint32_t v)
{
	if (size == sizeof(uint8_t)) {
		uint8_t x = (uint8_t)v;
		memcpy(dst, &x, sizeof(x));
	} else if (size == sizeof(uint16_t)) {
		uint16_t x = (uint16_t)v;
		memcpy(dst, &x, sizeof(x));
	} else {
		memcpy(dst, &v, sizeof(v));
	}
}

static void store_int(void *dst, int v)
{
	memcpy(dst, &v, sizeof(v));
}

/* ASCII classes: <ctype.h> would follow the process locale. */
static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_xdigit(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_graph(char c)
{
	return c > ' ' && c < 0x7f;
}

/* Decimal digits only: a config has no use for signs, hex or YAML 1.1 sexagesimals. */
static int parse_u32(const char *s, size_t len, uint32_t *out)
{
	uint64_t v = 0;

	if (!len)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return -EINVAL;
		/* Saturate: leading zeros are fine, overflow is out of range. */
		if (v <= UINT32_MAX)
			v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return -ERANGE;
	*out = (uint32_t)v;
	return 0;
}

static bool is_pci_address(const char *s)
{
	/* DDDD:BB:DD.F or BB:DD.F, as the EAL's -a option takes them. */
	static const char full[] = "xxxx:xx:xx.x";
	const char *pat = full;
	size_t len = strlen(s);

	if (len == sizeof(full) - 1 - 5)
		pat = full + 5;
	else if (len != sizeof(full) - 1)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (pat[i] == 'x' ? !is_xdigit(s[i]) : s[i] != pat[i])
			return false;
	}
	return s[len - 1] >= '0' && s[len - 1] <= '7';
}

static bool is_vdev(const char *s)
{
	size_t i;

	if (strncmp(s, "net_", 4))
		return false;
	for (i = 4; s[i] && s[i] != ','; i++)
		if (!is_alnum(s[i]) && s[i] != '_')
			return false;
	if (i == 4)
		return false;
	for (; s[i]; i++)
		if (!is_graph(s[i]))
			return false;
	return true;
}

union addr {
	struct in_addr v4;
	struct in6_addr v6;
};

static bool ipv4_is_host(const struct in_addr *a)
{
	uint32_t h = ntohl(a->s_addr);

	/* unspecified, loopback, multicast and reserved, broadcast */
	return h != 0 && (h >> 24) != 127 && (h >> 28) < 14;
}

static bool ipv6_is_host(const struct in6_addr *a)
{
	return !IN6_IS_ADDR_UNSPECIFIED(a) && !IN6_IS_ADDR_LOOPBACK(a) &&
	       !IN6_IS_ADDR_MULTICAST(a) && !IN6_IS_ADDR_V4MAPPED(a);
}

/* Parses "ADDR/LEN" for family af into addr and *plen. */
static bool parse_prefix(const char *s, int af, void *addr, uint32_t *plen)
{
	char buf[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');

	if (!slash || (size_t)(slash - s) >= sizeof(buf))
		return false;
	memcpy(buf, s, slash - s);
	buf[slash - s] = '\0';
	if (inet_pton(af, buf, addr) != 1)
		return false;
	return strlen(slash + 1) <= 3 && !parse_u32(slash + 1, strlen(slash + 1), plen);
}

static int need_scalar(struct loader *ld, const struct node *v, const char *path, const char *what)
{
	if (v->kind != NODE_SCALAR || is_null(v))
		return fail(ld, v->line, path, -EINVAL, "expected %s, got %s", what, kind_name(v));
	if (strlen(v->text) != v->len)
		return fail(ld, v->line, path, -EINVAL, "NUL character in value");
	return 0;
}

/* Copies a scalar for a message: cut to KEY_SHOWN characters, non-printables as '?'. */
static void show_text(char *out, size_t out_len, const struct node *key)
{
	size_t n = 0;

	for (size_t i = 0; i < key->len && n + 1 < out_len; i++) {
		char c = key->text[i];
		if (i == KEY_SHOWN) {
			snprintf(out + n, out_len - n, "...");
			return;
		}
		out[n++] = is_graph(c) || c == ' ' ? c : '?';
	}
	out[n] = '\0';
}

static int set_number(struct loader *ld, const struct field *f, const struct node *v,
		      const char *path, void *dst)
{
	char shown[KEY_SHOWN + 4];
	uint32_t x = 0;
	int rc = need_scalar(ld, v, path, "an integer");

	if (rc)
		return rc;
	if (!v->plain)
		return fail(ld, v->line, path, -EINVAL, "expected an integer, got a quoted string");
	show_text(shown, sizeof(shown), v);
	rc = parse_u32(v->text, v->len, &x);
	if (rc == -EINVAL)
		return fail(ld, v->line, path, -EINVAL, "expected an integer, got \"%s\"", shown);
	if (rc || x < f->min || x > f->max)
		return fail(ld, v->line, path, -EINVAL, "%s is out of range %u..%u", shown, f->min,
			    f->max);
	if ((f->flags & FF_POW2) && (x & (x - 1)))
		return fail(ld, v->line, path, -EINVAL, "%u is not a power of two", x);
	store_uint(dst, f->size, x);
	return 0;
}

static int check_string(struct loader *ld, const struct field *f, const struct node *v,
			const char *path)
{
	if (v->len < f->min || v->len > f->max)
		return fail(ld, v->line, path, -EINVAL, "length %zu is out of range %u..%u", v->len,
			    f->min, f->max);
	if ((f->flags & FF_ABS_PATH) && v->text[0] != '/')
		return fail(ld, v->line, path, -EINVAL, "not an absolute path");
	if (f->flags & FF_NAME) {
		for (size_t i = 0; i < v->len; i++) {
			char c = v->text[i];
			if (!is_alnum(c) && c != '_' && c != '-' && c != '.')
				return fail(ld, v->line, path, -EINVAL,
					    "only letters, digits, '_', '-' and '.' are allowed");
		}
	}
	if ((f->flags & FF_DEVICE) && !is_pci_address(v->text) && !is_vdev(v->text))
		return fail(
		    ld, v->line, path, -EINVAL,
		    "not a PCI address (0000:3b:00.0) or a net_* vdev (net_tap0,iface=sn0)");
	return 0;
}

static int set_string_list(struct loader *ld, const struct field *f, const struct node *v,
			   const char *path, void *base)
{
	char **list = (char **)((char *)base + f->off);
	char ipath[PATH_BUF];
	int count;
	int rc;

	if (v->kind != NODE_SEQ)
		return fail(ld, v->line, path, -EINVAL, "expected a list, got %s", kind_name(v));
	if (v->n_kids < f->min)
		return fail(ld, v->line, path, -EINVAL, "needs at least %u %s", f->min,
			    f->min == 1 ? "entry" : "entries");
	for (size_t i = 0; i < v->n_kids; i++) {
		const struct node *item = v->kids[i];

		path_printf(ipath, sizeof(ipath), "%s[%zu]", path, i);
		if (i >= f->max)
			return fail(ld, item->line, ipath, -EINVAL, "more than %u entries", f->max);
		rc = need_scalar(ld, item, ipath, "a string");
		if (rc)
			return rc;
		if (item->len > EAL_ARG_MAX)
			return fail(ld, item->line, ipath, -EINVAL, "longer than %d characters",
				    EAL_ARG_MAX);
		char *copy = strdup(item->text);
		if (!copy)
			return fail(ld, item->line, ipath, -ENOMEM, "out of memory");
		/* Counted as soon as owned, so sn_config_free() releases it on any later error. */
		list[i] = copy;
		memcpy(&count, (char *)base + f->aux_off, sizeof(count));
		store_int((char *)base + f->aux_off, count + 1);
	}
	return 0;
}

static int set_lcore_list(struct loader *ld, const struct field *f, const struct node *v,
			  const char *path, void *base)
{
	unsigned *list = (unsigned *)((char *)base + f->off);
	const struct field id = {
	    .min = 0, .max = SN_CONFIG_MAX_LCORE - 1, .size = sizeof(unsigned)};
	char ipath[PATH_BUF];
	int rc;

	if (v->kind != NODE_SEQ)
		return fail(ld, v->line, path, -EINVAL, "expected a list of lcore ids, got %s",
			    kind_name(v));
	if (v->n_kids < f->min)
		return fail(ld, v->line, path, -EINVAL, "needs at least %u %s", f->min,
			    f->min == 1 ? "entry" : "entries");
	for (size_t i = 0; i < v->n_kids; i++) {
		const struct node *item = v->kids[i];

		path_printf(ipath, sizeof(ipath), "%s[%zu]", path, i);
		if (i >= f->max)
			return fail(ld, item->line, ipath, -EINVAL, "more than %u entries", f->max);
		rc = set_number(ld, &id, item, ipath, &list[i]);
		if (rc)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (list[j] == list[i])
				return fail(ld, item->line, ipath, -EINVAL,
					    "lcore %u is listed twice", list[i]);
	}
	store_int((char *)base + f->aux_off, (int)v->n_kids);
	return 0;
}

/* Parses "ADDR/LEN" or a bare address (a host: /32, /128) of either family. Returns 0, or
 * -EINVAL (not an address or prefix), -ERANGE (length), -EDOM (host bits set). */
static int parse_cidr(const char *s, struct sn_cidr *out)
{
	char buf[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	uint32_t plen;
	int af;

	if (alen == 0 || alen >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	af = strchr(buf, ':') ? AF_INET6 : AF_INET;
	memset(out, 0, sizeof(*out));
	if (inet_pton(af, buf, out->addr) != 1)
		return -EINVAL;
	out->family = (uint8_t)af;
	plen = af == AF_INET ? 32 : 128;
	if (slash && (strlen(slash + 1) > 3 || parse_u32(slash + 1, strlen(slash + 1), &plen)))
		return -EINVAL;
	if (plen > (af == AF_INET ? 32u : 128u))
		return -ERANGE;
	out->len = (uint8_t)plen;
	for (unsigned bit = plen; bit < (af == AF_INET ? 32u : 128u); bit++)
		if (out->addr[bit / 8] & (0x80u >> (bit % 8)))
			return -EDOM;
	return 0;
}

static int set_cidr_list(struct loader *ld, const struct field *f, const struct node *v,
			 const char *path, void *base)
{
	struct sn_cidr *list = (struct sn_cidr *)((char *)base + f->off);
	char ipath[PATH_BUF], shown[KEY_SHOWN + 4];
	int rc;

	if (v->kind != NODE_SEQ)
		return fail(ld, v->line, path, -EINVAL, "expected a list of ADDR/LEN, got %s",
			    kind_name(v));
	for (size_t i = 0; i < v->n_kids; i++) {
		const struct node *item = v->kids[i];

		path_printf(ipath, sizeof(ipath), "%s[%zu]", path, i);
		if (i >= f->max)
			return fail(ld, item->line, ipath, -EINVAL, "more than %u entries", f->max);
		rc = need_scalar(ld, item, ipath, "an address range (ADDR/LEN)");
		if (rc)
			return rc;
		show_text(shown, sizeof(shown), item);
		rc = parse_cidr(item->text, &list[i]);
		if (rc == -ERANGE)
			return fail(ld, item->line, ipath, -EINVAL,
				    "prefix length out of range in \"%s\"", shown);
		if (rc == -EDOM)
			return fail(ld, item->line, ipath, -EINVAL,
				    "\"%s\" has bits set past the prefix length", shown);
		if (rc)
			return fail(
			    ld, item->line, ipath, -EINVAL,
			    "\"%s\" is not an address range (198.51.100.0/24, 2001:db8::/32)",
			    shown);
	}
	store_int((char *)base + f->aux_off, (int)v->n_kids);
	return 0;
}

/* Sets one value (any type but sections and lists of maps) at base from node v. */
static int set_value(struct loader *ld, const struct field *f, const struct node *v,
		     const char *path, void *base)
{
	void *dst = (char *)base + f->off;
	uint32_t plen;
	int rc = 0;

	switch (f->type) {
	case FT_BOOL:
		rc = need_scalar(ld, v, path, "true or false");
		if (rc)
			return rc;
		if (!v->plain || (strcmp(v->text, "true") && strcmp(v->text, "false")))
			return fail(ld, v->line, path, -EINVAL, "expected true or false");
		*(bool *)dst = v->text[0] == 't';
		break;
	case FT_U16:
	case FT_U32:
		rc = set_number(ld, f, v, path, dst);
		break;
	case FT_STRING:
		rc = need_scalar(ld, v, path, "a string");
		if (!rc)
			rc = check_string(ld, f, v, path);
		if (rc)
			return rc;
		memcpy(dst, v->text, v->len + 1);
		break;
	case FT_IP_ADDR: {
		struct in6_addr a;

		rc = need_scalar(ld, v, path, "an IP address");
		if (rc)
			return rc;
		if (v->len >= f->size ||
		    (inet_pton(AF_INET, v->text, &a) != 1 && inet_pton(AF_INET6, v->text, &a) != 1))
			return fail(ld, v->line, path, -EINVAL, "not an IPv4 or IPv6 address");
		memcpy(dst, v->text, v->len + 1);
		break;
	}
	case FT_IPV4_ADDR:
	case FT_IPV6_ADDR: {
		bool v4 = f->type == FT_IPV4_ADDR;
		union addr a;

		rc = need_scalar(ld, v, path, v4 ? "an IPv4 address" : "an IPv6 address");
		if (rc)
			return rc;
		if (inet_pton(v4 ? AF_INET : AF_INET6, v->text, &a) != 1)
			return fail(ld, v->line, path, -EINVAL, "not an %s address",
				    v4 ? "IPv4" : "IPv6");
		if ((f->flags & FF_UNICAST) && !(v4 ? ipv4_is_host(&a.v4) : ipv6_is_host(&a.v6)))
			return fail(ld, v->line, path, -EINVAL, "not a unicast host address");
		memcpy(dst, &a, f->size);
		break;
	}
	case FT_IPV4_PREFIX:
	case FT_IPV6_PREFIX: {
		bool v4 = f->type == FT_IPV4_PREFIX;
		union addr a;

		rc = need_scalar(ld, v, path, v4 ? "an IPv4 prefix" : "an IPv6 prefix");
		if (rc)
			return rc;
		if (!parse_prefix(v->text, v4 ? AF_INET : AF_INET6, &a, &plen))
			return fail(ld, v->line, path, -EINVAL, "not an %s prefix (%s)",
				    v4 ? "IPv4" : "IPv6",
				    v4 ? "198.18.0.1/24" : "2001:db8:5e::1/64");
		if (plen < f->min || plen > f->max)
			return fail(ld, v->line, path, -EINVAL,
				    "prefix length %u is out of range %u..%u", plen, f->min,
				    f->max);
		if ((f->flags & FF_UNICAST) && !(v4 ? ipv4_is_host(&a.v4) : ipv6_is_host(&a.v6)))
			return fail(ld, v->line, path, -EINVAL, "not a unicast host address");
		memcpy(dst, &a, f->size);
		store_uint((char *)base + f->aux_off, sizeof(uint8_t), plen);
		break;
	}
	case FT_ENUM: {
		size_t i;

		rc = need_scalar(ld, v, path, "a name");
		if (rc)
			return rc;
		for (i = 0; f->names[i]; i++)
			if (!strcmp(v->text, f->names[i]))
				break;
		if (!f->names[i]) {
			char list[128] = "";
			for (size_t j = 0; f->names[j]; j++)
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
					 j ? ", " : "", f->names[j]);
			return fail(ld, v->line, path, -EINVAL, "expected one of %s", list);
		}
		if (f->size == sizeof(int))
			store_int(dst, (int)i);
		else
			store_uint(dst, f->size, (uint32_t)i);
		break;
	}
	case FT_LCORE_LIST:
		rc = set_lcore_list(ld, f, v, path, base);
		break;
	case FT_STRING_LIST:
		rc = set_string_list(ld, f, v, path, base);
		break;
	case FT_CIDR_LIST:
		rc = set_cidr_list(ld, f, v, path, base);
		break;
	case FT_SECTION:
	case FT_MAP_LIST:
		break;
	}
	if (!rc && (f->flags & FF_HAS))
		*(bool *)((char *)base + f->has_off) = true;
	return rc;
}

/* Writes the defaults of every row held by the struct at base (scope "" is sn_config). */
static int apply_defaults(struct loader *ld, const char *scope, void *base)
{
	for (size_t i = 0; i < N_FIELDS; i++) {
		const struct field *f = &fields[i];

		if (!f->def || !in_scope(f, scope))
			continue;
		struct node v = {
		    .kind = NODE_SCALAR,
		    .plain = true,
		    .text = (char *)f->def,
		    .len = strlen(f->def),
		};
		int rc = set_value(ld, f, &v, f->path, base);
		if (rc)
			return rc;
	}
	return 0;
}

/* Fails if the absent section `spath` has a required key. */
static int check_absent(struct loader *ld, const char *spath, const char *dpath, int line)
{
	char kpath[PATH_BUF];
	const char *name;

	for (size_t i = 0; i < N_FIELDS; i++) {
		const struct field *f = &fields[i];

		if (!is_child_of(f, spath, &name))
			continue;
		path_printf(kpath, sizeof(kpath), "%s%s%s", dpath, *dpath ? "." : "", name);
		if ((f->flags & FF_REQUIRED) ||
		    ((f->type == FT_MAP_LIST || f->type == FT_LCORE_LIST) && f->min > 0))
			return fail(ld, line, kpath, -EINVAL, "required");
		if (f->type == FT_SECTION) {
			int rc = check_absent(ld, f->path, kpath, line);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static int walk_map(struct loader *ld, const struct node *map, int line, const char *spath,
		    const char *dpath, void *base);

static int walk_map_list(struct loader *ld, const struct field *f, const struct node *v,
			 const char *path, void *base)
{
	char spath[PATH_BUF], ipath[PATH_BUF];
	int rc;

	if (v->kind != NODE_SEQ)
		return fail(ld, v->line, path, -EINVAL, "expected a list, got %s", kind_name(v));
	if (v->n_kids < f->min)
		return fail(ld, v->line, path, -EINVAL, "needs at least %u %s", f->min,
			    f->min == 1 ? "entry" : "entries");
	path_printf(spath, sizeof(spath), "%s[]", f->path);
	for (size_t i = 0; i < v->n_kids; i++) {
		const struct node *item = v->kids[i];
		void *elem = (char *)base + f->off + i * f->size;

		path_printf(ipath, sizeof(ipath), "%s[%zu]", path, i);
		if (i >= f->max)
			return fail(ld, item->line, ipath, -EINVAL, "more than %u entries", f->max);
		if (item->kind != NODE_MAP)
			return fail(ld, item->line, ipath, -EINVAL, "expected a mapping, got %s",
				    kind_name(item));
		rc = apply_defaults(ld, spath, elem);
		if (!rc)
			rc = walk_map(ld, item, item->line, spath, ipath, elem);
		if (rc)
			return rc;
		store_int((char *)base + f->aux_off, (int)i + 1);
	}
	return 0;
}

/* Walks mapping `map` whose rows are the children of schema path spath; dpath is the same
 * path with list indexes, for messages, and `line` is where the mapping is introduced (its
 * key's line), blamed for keys that are missing. */
static int walk_map(struct loader *ld, const struct node *map, int line, const char *spath,
		    const char *dpath, void *base)
{
	int seen[N_FIELDS] = {0};
	char kpath[PATH_BUF], shown[KEY_SHOWN + 4];
	const char *name;
	int rc;

	for (size_t k = 0; k + 1 < map->n_kids; k += 2) {
		const struct node *key = map->kids[k], *val = map->kids[k + 1];
		const struct field *f = NULL;
		size_t idx;

		if (key->kind != NODE_SCALAR)
			return fail(ld, key->line, dpath, -EINVAL, "keys must be plain names");
		show_text(shown, sizeof(shown), key);
		path_printf(kpath, sizeof(kpath), "%s%s%s", dpath, *dpath ? "." : "", shown);
		for (idx = 0; idx < N_FIELDS; idx++) {
			if (is_child_of(&fields[idx], spath, &name) && strlen(name) == key->len &&
			    !memcmp(name, key->text, key->len)) {
				f = &fields[idx];
				break;
			}
		}
		if (!f)
			return fail(ld, key->line, kpath, -EINVAL, "unknown key");
		if (seen[idx])
			return fail(ld, key->line, kpath, -EINVAL,
				    "duplicate key (first on line %d)", seen[idx]);
		seen[idx] = key->line;
		if (f->type == FT_SECTION) {
			if (val->kind != NODE_MAP)
				return fail(ld, val->line, kpath, -EINVAL,
					    "expected a mapping, got %s", kind_name(val));
			rc = walk_map(ld, val, key->line, f->path, kpath, base);
		} else if (f->type == FT_MAP_LIST) {
			rc = walk_map_list(ld, f, val, kpath, base);
		} else {
			rc = set_value(ld, f, val, kpath, base);
		}
		if (rc)
			return rc;
	}

	for (size_t i = 0; i < N_FIELDS; i++) {
		const struct field *f = &fields[i];

		if (seen[i] || !is_child_of(f, spath, &name))
			continue;
		path_printf(kpath, sizeof(kpath), "%s%s%s", dpath, *dpath ? "." : "", name);
		if ((f->flags & FF_REQUIRED) ||
		    ((f->type == FT_MAP_LIST || f->type == FT_LCORE_LIST) && f->min > 0))
			return fail(ld, line, kpath, -EINVAL, "required");
		if (f->type == FT_SECTION) {
			rc = check_absent(ld, f->path, kpath, line);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* --- cross-field rules --- */

/* Line of the key or list item at `path` ("dataplane.ports[1].mtu"), or of the nearest
 * enclosing node that exists, so a rule about a defaulted value points at its section. */
static int line_of(const struct loader *ld, const char *path)
{
	const struct node *n = ld->root;
	const char *p = path;
	int line = n ? n->line : 1;

	while (n && *p) {
		size_t klen = strcspn(p, ".[");
		const struct node *next = NULL;

		if (n->kind != NODE_MAP)
			break;
		for (size_t i = 0; i + 1 < n->n_kids; i += 2) {
			const struct node *k = n->kids[i];
			if (k->kind == NODE_SCALAR && k->len == klen && !memcmp(k->text, p, klen)) {
				next = n->kids[i + 1];
				line = k->line;
				break;
			}
		}
		if (!next)
			break;
		n = next;
		p += klen;
		while (*p == '[') {
			char *end;
			unsigned long idx = strtoul(p + 1, &end, 10);

			if (n->kind != NODE_SEQ || idx >= n->n_kids)
				return line;
			n = n->kids[idx];
			line = n->line;
			p = *end == ']' ? end + 1 : end;
		}
		if (*p == '.')
			p++;
	}
	return line;
}

__attribute__((format(printf, 3, 4))) static int rule_fail(struct loader *ld, const char *path,
							   const char *fmt, ...)
{
	char why[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return fail(ld, line_of(ld, path), path, -EINVAL, "%s", why);
}

static const char *port_path(char *buf, size_t len, int i, const char *key)
{
	snprintf(buf, len, "dataplane.ports[%d]%s%s", i, *key ? "." : "", key);
	return buf;
}

static bool ipv4_same_prefix(struct in_addr a, struct in_addr b, unsigned plen)
{
	uint32_t mask = plen ? ~0u << (32 - plen) : 0;

	return ((ntohl(a.s_addr) ^ ntohl(b.s_addr)) & mask) == 0;
}

static bool ipv6_same_prefix(const struct in6_addr *a, const struct in6_addr *b, unsigned plen)
{
	for (unsigned i = 0; i < 16 && plen; i++) {
		unsigned bits = plen >= 8 ? 8 : plen;
		uint8_t mask = (uint8_t)(0xff00u >> bits);

		if ((a->s6_addr[i] ^ b->s6_addr[i]) & mask)
			return false;
		plen -= bits;
	}
	return true;
}

static int check_port(struct loader *ld, int i)
{
	struct sn_dataplane_config *dp = &ld->cfg->dataplane;
	struct sn_port_config *p = &dp->ports[i];
	char path[PATH_BUF];

	p->device_is_pci = is_pci_address(p->device);
	for (int j = 0; j < i; j++) {
		if (!strcmp(dp->ports[j].name, p->name))
			return rule_fail(ld, port_path(path, sizeof(path), i, "name"),
					 "\"%s\" is also the name of ports[%d]", p->name, j);
		if (!strcmp(dp->ports[j].device, p->device))
			return rule_fail(ld, port_path(path, sizeof(path), i, "device"),
					 "also the device of ports[%d]", j);
	}
	if (!p->has_ipv4 && !p->has_ipv6)
		return rule_fail(ld, port_path(path, sizeof(path), i, ""),
				 "needs ipv4, ipv6 or both");
	if (p->has_gateway4) {
		port_path(path, sizeof(path), i, "gateway4");
		if (!p->has_ipv4)
			return rule_fail(ld, path, "needs ipv4 on the same port");
		if (!ipv4_same_prefix(p->gateway4, p->ipv4, p->ipv4_prefix))
			return rule_fail(ld, path, "not inside the ipv4 prefix (/%u)",
					 p->ipv4_prefix);
		if (p->gateway4.s_addr == p->ipv4.s_addr)
			return rule_fail(ld, path, "same address as ipv4");
	}
	if (p->has_gateway6) {
		port_path(path, sizeof(path), i, "gateway6");
		if (!p->has_ipv6)
			return rule_fail(ld, path, "needs ipv6 on the same port");
		/* Routers advertise link-local next hops, so those are fine off-prefix. */
		if (!IN6_IS_ADDR_LINKLOCAL(&p->gateway6) &&
		    !ipv6_same_prefix(&p->gateway6, &p->ipv6, p->ipv6_prefix))
			return rule_fail(ld, path,
					 "not inside the ipv6 prefix (/%u) nor link-local",
					 p->ipv6_prefix);
		if (!memcmp(&p->gateway6, &p->ipv6, sizeof(p->ipv6)))
			return rule_fail(ld, path, "same address as ipv6");
	}
	if (p->has_ipv6 && p->mtu < 1280)
		return rule_fail(ld, port_path(path, sizeof(path), i, "mtu"),
				 "%u is below 1280, the IPv6 minimum", p->mtu);
	if (p->rx_desc < dp->burst)
		return rule_fail(ld, port_path(path, sizeof(path), i, "rx_desc"),
				 "%u is below dataplane.burst (%u)", p->rx_desc, dp->burst);
	if (p->tx_desc < dp->burst)
		return rule_fail(ld, port_path(path, sizeof(path), i, "tx_desc"),
				 "%u is below dataplane.burst (%u)", p->tx_desc, dp->burst);
	return 0;
}

static int check_dht(struct loader *ld)
{
	const struct sn_dht_config *d = &ld->cfg->dht;
	char path[PATH_BUF];
	uint8_t addr[16];
	uint16_t port;
	int family;

	if (d->has_node_id) {
		bool zero = true;

		for (int i = 0; i < 40; i++) {
			if (!is_xdigit(d->node_id[i]))
				return rule_fail(ld, "dht.node_id", "not 40 hex digits");
			zero &= d->node_id[i] == '0';
		}
		if (zero)
			return rule_fail(ld, "dht.node_id", "the zero id is not a node id");
	}
	for (int i = 0; i < d->n_bootstrap; i++) {
		path_printf(path, sizeof(path), "dht.bootstrap[%d]", i);
		if (sn_config_parse_endpoint(d->bootstrap[i], &family, addr, &port) < 0)
			return rule_fail(ld, path, "not IPv4:port or [IPv6]:port");
	}
	if (d->quota_bytes > d->max_store_bytes)
		return rule_fail(ld, "dht.quota_bytes", "%u is above max_store_bytes %u",
				 d->quota_bytes, d->max_store_bytes);
	return 0;
}

static int check_config(struct loader *ld)
{
	struct sn_dataplane_config *dp = &ld->cfg->dataplane;
	char path[PATH_BUF];
	int rc;

	for (int i = 0; i < dp->n_workers; i++) {
		path_printf(path, sizeof(path), "dataplane.workers[%d]", i);
		if (dp->worker_lcores[i] == dp->main_lcore)
			return rule_fail(ld, path, "lcore %u is dataplane.main_lcore",
					 dp->worker_lcores[i]);
	}
	/* rte_mempool_create() refuses a larger cache. */
	if ((uint64_t)dp->mbuf_cache * 3 > (uint64_t)dp->mbufs * 2)
		return rule_fail(ld, "dataplane.mbuf_cache", "%u is more than mbufs / 1.5",
				 dp->mbuf_cache);
	for (int i = 0; i < dp->n_ports; i++) {
		rc = check_port(ld, i);
		if (rc)
			return rc;
	}
	if (ld->cfg->turn.relay_port_max < ld->cfg->turn.relay_port_min)
		return rule_fail(ld, "turn.relay_port_max", "%u is below relay_port_min %u",
				 ld->cfg->turn.relay_port_max, ld->cfg->turn.relay_port_min);
	if (ld->cfg->turn.max_lifetime < ld->cfg->turn.default_lifetime)
		return rule_fail(ld, "turn.max_lifetime", "%u is below default_lifetime %u",
				 ld->cfg->turn.max_lifetime, ld->cfg->turn.default_lifetime);
	for (int i = 0; i < ld->cfg->turn.n_users; i++) {
		path_printf(path, sizeof(path), "turn.users[%d].name", i);
		for (int j = 0; j < i; j++)
			if (!strcmp(ld->cfg->turn.users[j].name, ld->cfg->turn.users[i].name))
				return rule_fail(ld, path, "also the name of users[%d]", j);
	}
	for (int i = 0; i < dp->n_dispatch; i++) {
		path_printf(path, sizeof(path), "dataplane.dispatch[%d].port", i);
		for (int j = 0; j < i; j++)
			if (dp->dispatch[j].port == dp->dispatch[i].port)
				return rule_fail(ld, path, "UDP port %u is also in dispatch[%d]",
						 dp->dispatch[i].port, j);
	}
	rc = check_dht(ld);
	if (rc)
		return rc;
	if (ld->cfg->promotion.load_low >= ld->cfg->promotion.load_high)
		return rule_fail(ld, "promotion.load_low", "%u is not below load_high %u",
				 ld->cfg->promotion.load_low, ld->cfg->promotion.load_high);
	return 0;
}

/* --- API --- */

int sn_config_parse_endpoint(const char *s, int *family, uint8_t addr[16], uint16_t *port)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *ps;
	uint32_t p;
	size_t hl;

	if (!s)
		return -EINVAL;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':')
			return -EINVAL;
		hl = (size_t)(end - s - 1);
		if (hl == 0 || hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		ps = end + 2;
		*family = AF_INET6;
	} else {
		colon = strrchr(s, ':');
		if (!colon || strchr(s, ':') != colon)
			return -EINVAL;
		hl = (size_t)(colon - s);
		if (hl == 0 || hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, hl);
		host[hl] = '\0';
		ps = colon + 1;
		*family = AF_INET;
	}
	memset(addr, 0, 16);
	if (inet_pton(*family, host, addr) != 1)
		return -EINVAL;
	if (parse_u32(ps, strlen(ps), &p) < 0 || p == 0 || p > 65535)
		return -EINVAL;
	*port = (uint16_t)p;
	return 0;
}

void sn_config_free(struct sn_config *cfg)
{
	if (!cfg)
		return;
	for (int i = 0; i < cfg->dataplane.n_eal_args && i < SN_CONFIG_MAX_EAL_ARGS; i++) {
		free(cfg->dataplane.eal_args[i]);
		cfg->dataplane.eal_args[i] = NULL;
	}
	cfg->dataplane.n_eal_args = 0;
	for (int i = 0; i < cfg->dht.n_bootstrap && i < SN_CONFIG_MAX_DHT_BOOTSTRAP; i++) {
		free(cfg->dht.bootstrap[i]);
		cfg->dht.bootstrap[i] = NULL;
	}
	cfg->dht.n_bootstrap = 0;
}

int sn_config_load_buffer(const char *name, const char *text, size_t len, struct sn_config *cfg,
			  char *err, size_t err_len)
{
	struct loader ld = {
	    .name = name ? name : "(buffer)",
	    .text = text,
	    .text_len = len,
	    .err = err,
	    .err_len = err_len,
	    .cfg = cfg,
	};
	int rc;

	if (err && err_len)
		err[0] = '\0';
	if (!cfg)
		return fail(&ld, 0, "(file)", -EINVAL, "no config to fill");
	memset(cfg, 0, sizeof(*cfg));
	if (!text && len)
		return fail(&ld, 0, "(file)", -EINVAL, "no text");
	if (len > SN_CONFIG_MAX_FILE)
		return fail(&ld, 0, "(file)", -EFBIG, "larger than %d bytes", SN_CONFIG_MAX_FILE);
	snprintf(cfg->path, sizeof(cfg->path), "%s", ld.name);

	rc = apply_defaults(&ld, "", cfg);
	if (rc)
		goto out;
	rc = parse_tree(&ld);
	if (rc)
		goto out;
	if (!ld.root || is_null(ld.root)) {
		rc = fail(&ld, 1, "(root)", -EINVAL, "empty file");
		goto out;
	}
	if (ld.root->kind != NODE_MAP) {
		rc = fail(&ld, ld.root->line, "(root)", -EINVAL, "expected a mapping, got %s",
			  kind_name(ld.root));
		goto out;
	}
	rc = walk_map(&ld, ld.root, ld.root->line, "", "", cfg);
	if (rc)
		goto out;
	rc = check_config(&ld);

out:
	node_free(ld.root);
	if (rc) {
		sn_config_free(cfg);
		memset(cfg, 0, sizeof(*cfg));
	}
	return rc;
}

int sn_config_load(const char *path, struct sn_config *cfg, char *err, size_t err_len)
{
	struct loader ld = {.name = path ? path : "(null)", .err = err, .err_len = err_len};
	char *buf = NULL;
	size_t len = 0;
	int fd = -1, rc;

	if (cfg)
		memset(cfg, 0, sizeof(*cfg));
	if (!path || !cfg) {
		rc = fail(&ld, 0, "(file)", -EINVAL, "no path or no config");
		goto out;
	}
	if (strlen(path) >= SN_CONFIG_PATH_LEN) {
		rc = fail(&ld, 0, "(file)", -ENAMETOOLONG, "path longer than %d bytes",
			  SN_CONFIG_PATH_LEN - 1);
		goto out;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		fail(&ld, 0, "(file)", rc, "cannot open: %s", strerror(-rc));
		goto out;
	}
	/* One byte more than allowed tells an oversized file from one of exactly the limit. */
	buf = malloc(SN_CONFIG_MAX_FILE + 1);
	if (!buf) {
		rc = fail(&ld, 0, "(file)", -ENOMEM, "out of memory");
		goto out;
	}
	while (len <= SN_CONFIG_MAX_FILE) {
		ssize_t n = read(fd, buf + len, SN_CONFIG_MAX_FILE + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = fail(&ld, 0, "(file)", -EIO, "cannot read: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > SN_CONFIG_MAX_FILE) {
		rc = fail(&ld, 0, "(file)", -EFBIG, "larger than %d bytes", SN_CONFIG_MAX_FILE);
		goto out;
	}
	rc = sn_config_load_buffer(path, buf, len, cfg, err, err_len);

out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

/* --- documentation --- */

static const char *type_name(const struct field *f)
{
	switch (f->type) {
	case FT_SECTION:
		return "section";
	case FT_MAP_LIST:
		return "list of maps";
	case FT_BOOL:
		return "bool";
	case FT_U16:
		return "u16";
	case FT_U32:
		return "u32";
	case FT_STRING:
		return "string";
	case FT_IP_ADDR:
		return "IP address";
	case FT_IPV4_ADDR:
		return "IPv4 address";
	case FT_IPV6_ADDR:
		return "IPv6 address";
	case FT_IPV4_PREFIX:
		return "IPv4 prefix";
	case FT_IPV6_PREFIX:
		return "IPv6 prefix";
	case FT_ENUM:
		return "enum";
	case FT_LCORE_LIST:
		return "lcore list";
	case FT_STRING_LIST:
		return "string list";
	case FT_CIDR_LIST:
		return "address range list";
	}
	return "?";
}

static void print_range(FILE *out, const struct field *f)
{
	switch (f->type) {
	case FT_U16:
	case FT_U32:
		fprintf(out, "%u..%u%s", f->min, f->max,
			(f->flags & FF_POW2) ? ", power of 2" : "");
		break;
	case FT_STRING:
		fprintf(out, "%u..%u chars", f->min, f->max);
		break;
	case FT_IPV4_PREFIX:
	case FT_IPV6_PREFIX:
		fprintf(out, "/%u../%u", f->min, f->max);
		break;
	case FT_ENUM:
		for (size_t i = 0; f->names[i]; i++)
			fprintf(out, "%s`%s`", i ? ", " : "", f->names[i]);
		break;
	case FT_MAP_LIST:
	case FT_STRING_LIST:
	case FT_CIDR_LIST:
		fprintf(out, "%u..%u entries", f->min, f->max);
		break;
	case FT_LCORE_LIST:
		fprintf(out, "%u..%u entries of 0..%u", f->min, f->max, SN_CONFIG_MAX_LCORE - 1);
		break;
	default:
		break;
	}
}

void sn_config_print_doc(FILE *out)
{
	fputs("| Field | Type | Default | Range | Description |\n", out);
	fputs("| --- | --- | --- | --- | --- |\n", out);
	for (size_t i = 0; i < N_FIELDS; i++) {
		const struct field *f = &fields[i];

		fprintf(out, "| `%s` | %s | ", f->path, type_name(f));
		if (f->def)
			fprintf(out, "`%s`", f->def);
		else if ((f->flags & FF_REQUIRED) ||
			 ((f->type == FT_MAP_LIST || f->type == FT_LCORE_LIST) && f->min > 0))
			fputs("required", out);
		else if (f->type == FT_MAP_LIST || f->type == FT_STRING_LIST ||
			 f->type == FT_CIDR_LIST)
			fputs("empty", out);
		else if (f->flags & FF_HAS)
			fputs("unset", out);
		fputs(" | ", out);
		print_range(out, f);
		fprintf(out, " | %s |\n", f->doc);
	}
}
