/* sn_config.h: the appliance's one config file (YAML), loaded and validated by both
 * processes. supernode-dataplane uses the `dataplane` section, supernode-control the rest;
 * both refuse a file with any error, and every error names the file, the line and the
 * field ("configs/lab.yaml:12: dataplane.ports[0].ipv4: not an IPv4 prefix").
 *
 * Every field is described once, in the schema table in sn_config.c (type, default, range,
 * documentation). `supernode-control --config-doc` prints that table as Markdown, which is
 * docs/config.md; a unit test fails when the two disagree. */
#ifndef SN_CONFIG_H
#define SN_CONFIG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define SN_CONFIG_MAX_PORTS	  8
#define SN_CONFIG_MAX_WORKERS	  16
#define SN_CONFIG_MAX_EAL_ARGS	  32
#define SN_CONFIG_MAX_DISPATCH	  16
#define SN_CONFIG_NAME_LEN	  32
#define SN_CONFIG_PATH_LEN	  256
#define SN_CONFIG_MAX_FILE	  (1024 * 1024) /* larger files are refused */
#define SN_CONFIG_MAX_DEPTH	  16		/* deeper YAML nesting is refused */
#define SN_CONFIG_MAX_TURN_USERS  64		/* turn.users entries */
#define SN_CONFIG_MAX_PEER_RANGES 64		/* turn.allowed_peers / turn.denied_peers entries */
#define SN_CONFIG_TURN_STR	  128 /* realm, user names, passwords, software (NUL included) */
#define SN_CONFIG_TURN_SECRET	  256 /* turn.rest_secret (NUL included) */
/* Lcore ids are below this: RTE_MAX_LCORE of Debian 12's DPDK build. */
#define SN_CONFIG_MAX_LCORE 128
/* runtime_dir plus "/" and a socket name must fit in sockaddr_un.sun_path (108 bytes). */
#define SN_CONFIG_RUNTIME_DIR_MAX 80

struct sn_port_config {
	char name[SN_CONFIG_NAME_LEN];	 /* label in metrics and supernodectl */
	char device[SN_CONFIG_PATH_LEN]; /* PCI address or vdev string */
	bool device_is_pci;		 /* device is a PCI address (probed with -a); else a
					  * net_* vdev the dataplane creates with --vdev */
	bool has_ipv4;			 /* ipv4 was given */
	struct in_addr ipv4;		 /* appliance address on this port */
	uint8_t ipv4_prefix;		 /* its on-link prefix length */
	bool has_gateway4;
	struct in_addr gateway4; /* next hop for off-link IPv4 destinations */
	bool has_ipv6;
	struct in6_addr ipv6;
	uint8_t ipv6_prefix;
	bool has_gateway6;
	struct in6_addr gateway6;
	uint16_t mtu;	  /* IP MTU of the port */
	uint16_t rx_desc; /* rx ring size per queue */
	uint16_t tx_desc; /* tx ring size per queue */
};

/* A UDP port the dataplane dispatches at start (control can add more through the channel). */
struct sn_dispatch_config {
	uint16_t port;	  /* host byte order */
	uint16_t handler; /* enum sn_udp_handler */
};

struct sn_dataplane_config {
	int n_eal_args;
	char *eal_args[SN_CONFIG_MAX_EAL_ARGS]; /* EAL arguments, owned by the config */
	unsigned main_lcore;			/* lcore of the main thread (table writer) */
	int n_workers;
	unsigned worker_lcores[SN_CONFIG_MAX_WORKERS]; /* one worker per lcore */
	int n_ports;
	struct sn_port_config ports[SN_CONFIG_MAX_PORTS];
	uint32_t mbufs;		       /* mbufs in the packet pool */
	uint32_t mbuf_cache;	       /* per-lcore mempool cache */
	uint16_t burst;		       /* rx/tx burst size */
	uint32_t idle_empty_polls;     /* empty polls before a worker sleeps; 0: never sleep */
	uint32_t idle_sleep_us;	       /* how long an idle worker sleeps */
	uint32_t punt_ring_size;       /* worker -> main lcore punt ring (power of 2) */
	uint32_t punt_rate_pps;	       /* punts per second per reason per worker */
	uint32_t punt_burst;	       /* token bucket depth for punt_rate_pps */
	uint32_t punt_source_rate_pps; /* punts per second per source (hashed) per worker */
	uint32_t punt_source_burst;
	uint32_t neigh_entries; /* neighbour table capacity */
	int n_dispatch;
	struct sn_dispatch_config dispatch[SN_CONFIG_MAX_DISPATCH];
};

struct sn_control_config {
	char metrics_listen[64]; /* IP address for /metrics */
	uint16_t metrics_port;	 /* TCP port for /metrics */
	uint32_t reconnect_ms;	 /* delay between attempts to reach the dataplane */
	uint32_t keepalive_ms;	 /* channel keepalive period */
};

/* A long-term credential of turn.users. */
struct sn_turn_user {
	char name[SN_CONFIG_TURN_STR];	   /* USERNAME as the client sends it */
	char password[SN_CONFIG_TURN_STR]; /* its password (the key is MD5(name:realm:password)) */
	uint32_t quota;			   /* allocations at once; 0: turn.user_quota */
};

/* An address range of turn.allowed_peers / turn.denied_peers. */
struct sn_cidr {
	uint8_t family;	  /* AF_INET or AF_INET6 */
	uint8_t len;	  /* prefix length */
	uint8_t addr[16]; /* network byte order, host bits zero; IPv4 in the first 4 bytes */
};

/* TURN relay (relay issue). The first block is used by the dataplane's fast path too; the
 * rest (credentials, lifetimes, quotas, peer policy) by control only. */
struct sn_turn_config {
	uint16_t relay_port_min;  /* relayed transport addresses use ports in */
	uint16_t relay_port_max;  /* [relay_port_min, relay_port_max] on the port's addresses */
	uint32_t max_allocations; /* allocation ids are below this */
	uint16_t max_permissions; /* per allocation */
	uint16_t max_channels;	  /* per allocation */
	bool rfc5766_channels;	  /* accept channel numbers 0x5000-0x7FFF (RFC 5766 range) */
	char realm[SN_CONFIG_TURN_STR]; /* REALM of the long-term credentials */
	int n_users;
	struct sn_turn_user users[SN_CONFIG_MAX_TURN_USERS]; /* static long-term credentials */
	char rest_secret[SN_CONFIG_TURN_SECRET]; /* TURN REST API shared secret; "": off */
	uint32_t nonce_lifetime;		 /* seconds a NONCE stays valid (438 after) */
	uint32_t default_lifetime; /* allocation lifetime in seconds when none is asked for */
	uint32_t max_lifetime;	   /* longest allocation lifetime granted, seconds */
	uint32_t user_quota;	   /* allocations at once per user; 0: no per-user limit */
	int n_allowed_peers;
	struct sn_cidr allowed_peers[SN_CONFIG_MAX_PEER_RANGES]; /* peers allowed despite the
								  * default deny list */
	int n_denied_peers;
	struct sn_cidr denied_peers[SN_CONFIG_MAX_PEER_RANGES]; /* peers denied in addition */
	char software[SN_CONFIG_TURN_STR]; /* SOFTWARE attribute text; "": none (default) */
};

/* OpenDHT node (overlay issue). */
#define SN_CONFIG_MAX_DHT_BOOTSTRAP 16 /* dht.bootstrap entries */
struct sn_dht_config {
	uint32_t network_id; /* OpenDHT network id (n); 0: the public network */
	bool has_node_id;    /* node_id was given */
	char node_id[41];    /* 40 hex digits; else generated and kept in runtime_dir */
	int n_bootstrap;
	char *bootstrap[SN_CONFIG_MAX_DHT_BOOTSTRAP]; /* "IPv4:port" or "[IPv6]:port" (heap) */
	uint32_t max_store_bytes;		      /* all stored values together */
	uint32_t max_keys;			      /* keys with values or listeners */
	uint32_t max_values_per_key;
	uint32_t max_value_size;  /* one value (Value::size), at most 65536 */
	uint32_t quota_bytes;	  /* stored bytes per source address */
	uint32_t quota_values;	  /* stored values per source address */
	uint32_t max_listeners;	  /* listeners, all keys together */
	uint32_t quota_listeners; /* listeners per source address */
	/* join admission (control/dht.c, RFC 5765 2.4) */
	uint32_t admit_per_prefix4; /* nodes per IPv4 /24 in one bucket */
	uint32_t admit_per_prefix6; /* nodes per IPv6 /64 in one bucket */
	bool admit_sybil;	    /* refuse (and evict) nodes the trust module calls suspect */
	uint32_t evict_bad_msgs;    /* malformed/refused messages from a node's address that
				     * evict it (per minute); 0: never */
	uint32_t evict_ban_s;	    /* an evicted address is not admitted again for this long */
	uint32_t recheck_s;	    /* a node silent this long is pinged (liveness) */
};

/* Parses "IPv4:port" or "[IPv6]:port" (port 1..65535). Returns 0 and fills family
 * (AF_INET/AF_INET6), addr (network order; IPv4 in the first 4 bytes) and port (host order),
 * or -EINVAL. */
int sn_config_parse_endpoint(const char *s, int *family, uint8_t addr[16], uint16_t *port);

/* Passive upgrades of clients to peers (RFC 5765 7.1; control/promotion.h). Loads and
 * thresholds are in permille of the configured capacities. */
#define SN_CONFIG_MAX_PROMO_SUSPECTS 64 /* promotion.suspects entries */
struct sn_promotion_config {
	bool enabled;
	uint32_t interval_ms;	   /* load measured and decisions taken this often */
	uint32_t load_high;	   /* permille: enter the high state at or above */
	uint32_t load_low;	   /* permille: leave it at or below; below load_high */
	uint32_t dwell_s;	   /* least time in a state before leaving it */
	uint32_t capacity_clients; /* clients (allocations + DHT clients) for load 1000 */
	uint32_t capacity_kbps;	   /* relayed media kbit/s for load 1000 */
	uint32_t weight_uptime;	   /* ranking weights, 0-100 each */
	uint32_t weight_activity;
	uint32_t weight_history;
	uint32_t weight_bandwidth;
	uint32_t weight_trust;
	uint32_t min_uptime_s;	      /* candidates were seen for at least this long */
	uint32_t uptime_full_s;	      /* uptime scoring 1.0 */
	uint32_t activity_full;	      /* activity events scoring 1.0 */
	uint32_t bandwidth_full_kbps; /* relayed kbit/s scoring 1.0 */
	uint32_t max_misbehaviour;    /* errors answered to a client that exclude it */
	uint32_t invites_per_interval;
	uint32_t max_invites; /* invitations active at once */
	uint16_t probe_port;  /* dial-back source port, dispatched to punt; 0: no probes */
	uint32_t probe_timeout_ms;
	uint32_t probes_per_interval;
	uint32_t probe_ttl_s; /* a reachability verdict is redone after this */
	uint32_t max_clients; /* per-client table entries (LRU) */
	uint32_t invitation_lifetime_s;
	char key_path[SN_CONFIG_PATH_LEN]; /* Ed25519 key (PEM); "": <runtime_dir>/promotion.key */
	int n_suspects;
	struct sn_cidr suspects[SN_CONFIG_MAX_PROMO_SUSPECTS]; /* Sybil suspects (fallback list) */
};

/* Trust graph and Sybil verdicts (control/trust.h, docs/sybil.md). */
#define SN_CONFIG_SYBIL_SEEDS 1024 /* sybil.seeds text (NUL included) */
enum sn_sybil_unknown { SN_SYBIL_UNKNOWN_ALLOW = 0, SN_SYBIL_UNKNOWN_DENY };
enum sn_sybil_decision {
	SN_SYBIL_DECIDE_BOTH = 0, /* suspect when SybilLimit rejects and the rank is low */
	SN_SYBIL_DECIDE_EITHER,	  /* suspect when either method says so */
	SN_SYBIL_DECIDE_SYBILLIMIT,
	SN_SYBIL_DECIDE_SYBILRANK,
};
struct sn_sybil_config {
	bool enabled;
	char file[SN_CONFIG_PATH_LEN];	   /* operator edge list; "": none */
	char seeds[SN_CONFIG_SYBIL_SEEDS]; /* SybilRank seeds: ids/addresses, blank or comma
					    * separated (the file's `seed` lines add more) */
	uint32_t interval_s;		   /* methods rerun this often */
	uint32_t walk_length;		   /* SybilLimit w; 0: benchmark it */
	uint32_t r0;			   /* SybilLimit r = r0 * sqrt(m) */
	uint32_t balance;		   /* SybilLimit h */
	uint32_t suspect_below_pct;	   /* normalised SybilRank score (percent) under which
					    * the rank says suspect */
	uint16_t unknown;		   /* enum sn_sybil_unknown */
	uint16_t decision;		   /* enum sn_sybil_decision */
	uint32_t mixing_warn_factor;	   /* warn when t_mix > factor * log2(n) */
	uint32_t max_dynamic_edges;	   /* vouch and relay edges kept */
	uint32_t police_s;		   /* guard polices a new suspect address this long */
};

/* Source guard (issue 5; dataplane/guard.h, control/guard.h). Rates are per worker: RSS
 * sends a source to one worker. Index of the class arrays: dht, stun, punt. */
struct sn_guard_config {
	bool enabled;
	uint32_t table_entries;	  /* policer entries per worker (power of 2) */
	uint32_t source_rate[3];  /* packets/s per source address, per class */
	uint32_t source_burst[3]; /* bucket depth, per class */
	uint32_t prefix_rate[3];  /* packets/s per /24 or /64, per class */
	uint32_t prefix_burst[3];
	uint32_t aggregate_rate; /* packets/s per class for sources the full table cannot hold */
	uint32_t aggregate_burst;
	uint32_t punt_rate; /* punts/s per worker, all reasons together */
	uint32_t punt_burst;
	uint32_t report_ms;	  /* heavy-hitter report period */
	uint32_t top_k;		  /* keys per worker report */
	uint32_t ban_drops;	  /* drops in one report that count as a strike */
	uint32_t ban_intervals;	  /* consecutive strikes that ban */
	uint32_t ban_seconds;	  /* ban length */
	uint32_t suspect_seconds; /* suspect mark length after the first strike */
	uint32_t suspect_factor;  /* a suspect's limits are divided by this */
	uint32_t max_bans;	  /* bans and suspect marks held at once */
};

struct sn_config {
	char path[SN_CONFIG_PATH_LEN];	      /* file it was loaded from */
	char runtime_dir[SN_CONFIG_PATH_LEN]; /* sockets and stats segment */
	int log_level;			      /* enum sn_log_level */
	bool lab_mode;			      /* lab: idle back-off, relaxed checks for the lab */
	struct sn_dataplane_config dataplane;
	struct sn_control_config control;
	struct sn_turn_config turn;
	struct sn_dht_config dht;
	struct sn_guard_config guard;
	struct sn_promotion_config promotion;
	struct sn_sybil_config sybil;
};

/* Loads and validates `path`. Returns 0, or a negative errno with a one-line message in
 * err (file:line: field: cause). On error *cfg holds nothing to free.
 * Errors: -EINVAL for anything wrong in the text (YAML syntax: field "(yaml)"; missing keys:
 * the line of the enclosing section); file errors use line 0 and field "(file)": -ENOENT,
 * -EACCES... from open(), -EIO when reading fails, -EFBIG over SN_CONFIG_MAX_FILE,
 * -ENAMETOOLONG; -ENOMEM. err may be NULL. */
int sn_config_load(const char *path, struct sn_config *cfg, char *err, size_t err_len);
/* Same, from a buffer; `name` stands for the file in messages (used by tests and fuzzing). */
int sn_config_load_buffer(const char *name, const char *text, size_t len, struct sn_config *cfg,
			  char *err, size_t err_len);
void sn_config_free(struct sn_config *cfg);
/* Prints every field (path, type, default, range, doc) as a Markdown table. */
void sn_config_print_doc(FILE *out);

#endif
