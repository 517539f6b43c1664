/* main.c: supernode-dataplane, the DPDK primary process.
 *
 * Start-up: config > EAL (arguments from the config, plus -l/--main-lcore and one -a or
 * --vdev per port) > mempool > ports (one rx and one tx queue per worker, RSS when there
 * are several) > rings > tables > stats segment > channel socket > workers.
 * The main lcore then runs the main loop until SIGINT/SIGTERM. */
#include "dataplane.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "sn_log.h"

struct sn_dp sn_dp;

#define STATS_PERIOD_NS 100000000ull /* gauges and port counters every 100 ms */

static void on_signal(int sig)
{
	(void)sig;
	__atomic_store_n(&sn_dp.quit, 1, __ATOMIC_RELAXED);
}

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t sn_tsc_to_ns(uint64_t tsc)
{
	uint64_t d = tsc - sn_dp.epoch_tsc;
	return sn_dp.epoch_ns + (uint64_t)((double)d * 1e9 / (double)sn_dp.tsc_hz);
}

static bool is_pci_address(const char *dev)
{
	unsigned a, b, c, d;
	char tail;
	return sscanf(dev, "%x:%x:%x.%x%c", &a, &b, &c, &d, &tail) == 4 ||
	       sscanf(dev, "%x:%x.%x%c", &b, &c, &d, &tail) == 3;
}

/* The EAL's argv: the config's own arguments, then the lcores and devices the config
 * implies, so that the two can never disagree. */
static int build_eal_args(const struct sn_config *cfg, char **argv, int cap, char *lcores,
			  size_t lcores_len, char *main_lcore)
{
	const struct sn_dataplane_config *d = &cfg->dataplane;
	int n = 0;
	argv[n++] = "supernode-dataplane";
	for (int i = 0; i < d->n_eal_args && n < cap - 4; i++)
		argv[n++] = d->eal_args[i];
	int off = snprintf(lcores, lcores_len, "%u", d->main_lcore);
	for (int i = 0; i < d->n_workers && off < (int)lcores_len; i++)
		off += snprintf(lcores + off, lcores_len - (size_t)off, ",%u", d->worker_lcores[i]);
	snprintf(main_lcore, 16, "%u", d->main_lcore);
	if (n + 4 + 2 * d->n_ports >= cap)
		return -E2BIG;
	argv[n++] = "-l";
	argv[n++] = lcores;
	argv[n++] = "--main-lcore";
	argv[n++] = main_lcore;
	for (int i = 0; i < d->n_ports; i++) {
		const char *dev = d->ports[i].device;
		argv[n++] = is_pci_address(dev) ? "-a" : "--vdev";
		argv[n++] = (char *)dev;
	}
	argv[n] = NULL;
	return n;
}

static int port_setup(uint16_t idx, const struct sn_port_config *pc)
{
	struct sn_dp_port *port = &sn_dp.ports[idx];
	char devname[SN_CONFIG_PATH_LEN];
	uint16_t port_id;
	int rc;

	snprintf(devname, sizeof(devname), "%s", pc->device);
	devname[strcspn(devname, ",")] = '\0';
	rc = rte_eth_dev_get_port_by_name(devname, &port_id);
	if (rc < 0) {
		SN_ERR("port %s: no DPDK device named %s (%s)", pc->name, devname, strerror(-rc));
		return rc;
	}
	struct rte_eth_dev_info info;
	rc = rte_eth_dev_info_get(port_id, &info);
	if (rc < 0) {
		SN_ERR("port %s: dev_info: %s", pc->name, strerror(-rc));
		return rc;
	}
	uint16_t nq = sn_dp.n_workers;
	if (nq > info.max_rx_queues || nq > info.max_tx_queues) {
		SN_ERR("port %s: %u workers need %u queues, device has rx %u tx %u", pc->name, nq,
		       nq, info.max_rx_queues, info.max_tx_queues);
		return -EINVAL;
	}
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	conf.rxmode.mtu = pc->mtu;
	if (nq > 1) {
		/* RSS on addresses only: one source always meets the same worker whatever its
		 * ports, which keeps the guard's per-source policer state unshared (guard.h). */
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf = RTE_ETH_RSS_IP & info.flow_type_rss_offloads;
	}
	if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_UDP_CKSUM)
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
	rc = rte_eth_dev_configure(port_id, nq, nq, &conf);
	if (rc < 0) {
		SN_ERR("port %s: configure: %s", pc->name, strerror(-rc));
		return rc;
	}
	uint16_t rxd = pc->rx_desc, txd = pc->tx_desc;
	rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &rxd, &txd);
	int socket = rte_eth_dev_socket_id(port_id);
	for (uint16_t q = 0; q < nq; q++) {
		rc = rte_eth_rx_queue_setup(port_id, q, rxd, (unsigned)socket, NULL, sn_dp.pool);
		if (rc < 0) {
			SN_ERR("port %s: rx queue %u: %s", pc->name, q, strerror(-rc));
			return rc;
		}
		rc = rte_eth_tx_queue_setup(port_id, q, txd, (unsigned)socket, NULL);
		if (rc < 0) {
			SN_ERR("port %s: tx queue %u: %s", pc->name, q, strerror(-rc));
			return rc;
		}
	}
	rc = rte_eth_dev_start(port_id);
	if (rc < 0) {
		SN_ERR("port %s: start: %s", pc->name, strerror(-rc));
		return rc;
	}
	/* Neighbour solicitations go to a multicast group; a NIC must let them in. */
	rte_eth_allmulticast_enable(port_id);

	struct rte_ether_addr mac;
	rte_eth_macaddr_get(port_id, &mac);
	sn_l3_port_init(&port->l3, mac.addr_bytes, pc->has_ipv4 ? &pc->ipv4 : NULL, pc->ipv4_prefix,
			pc->has_ipv6 ? &pc->ipv6 : NULL, pc->ipv6_prefix);
	port->port_id = port_id;
	port->cfg = pc;
	snprintf(port->name, sizeof(port->name), "%s", pc->name);

	char ring_name[RTE_RING_NAMESIZE];
	snprintf(ring_name, sizeof(ring_name), "sn_inject_%u", idx);
	port->inject_ring = rte_ring_create(ring_name, 1024, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (!port->inject_ring) {
		SN_ERR("port %s: inject ring: %s", pc->name, rte_strerror(rte_errno));
		return -ENOMEM;
	}
	SN_INFO("port %s: dpdk port %u (%s) mac " RTE_ETHER_ADDR_PRT_FMT " queues %u", pc->name,
		port_id, info.driver_name, RTE_ETHER_ADDR_BYTES(&mac), nq);
	return 0;
}

static void stats_update(void)
{
	struct sn_stats_segment *seg = sn_dp.stats;
	sn_stats_write_begin(seg);
	for (uint16_t p = 0; p < sn_dp.n_ports; p++) {
		struct rte_eth_stats es;
		struct rte_eth_link link;
		struct sn_stats_port *sp = &seg->ports[p];
		if (rte_eth_stats_get(sn_dp.ports[p].port_id, &es) == 0) {
			sp->ipackets = es.ipackets;
			sp->opackets = es.opackets;
			sp->ibytes = es.ibytes;
			sp->obytes = es.obytes;
			sp->imissed = es.imissed;
			sp->ierrors = es.ierrors;
			sp->oerrors = es.oerrors;
			sp->rx_nombuf = es.rx_nombuf;
		}
		if (rte_eth_link_get_nowait(sn_dp.ports[p].port_id, &link) == 0) {
			sp->link_up = link.link_status;
			sp->link_speed_mbps = link.link_speed;
		}
	}
	struct sn_stats_gauges *g = &seg->gauges;
	g->mempool_size = sn_dp.pool->size;
	g->mempool_in_use = rte_mempool_in_use_count(sn_dp.pool);
	g->rcu_grace_periods = sn_dp.rcu.grace_periods;
	g->rcu_deferred_frees = sn_dp.rcu.freed;
	g->dispatch_entries = sn_dp.dispatch.current->entries;
	g->neigh_entries = sn_dp.neigh.current->entries;
	g->punt_ring_used = rte_ring_count(sn_dp.punt_ring);
	sn_dp_guard_gauges(g);
	seg->heartbeat_ns = wall_ns();
	sn_stats_write_end(seg);
}

static struct rte_mbuf *alloc_frame(void)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(sn_dp.pool);
	if (!m)
		sn_dp.main_stats->drops[SN_DROP_NO_MBUF]++;
	return m;
}

void sn_dp_inject_frame(uint16_t port_idx, struct rte_mbuf *m)
{
	if (rte_ring_sp_enqueue(sn_dp.ports[port_idx].inject_ring, m) != 0) {
		sn_dp.main_stats->drops[SN_DROP_TX_FULL]++;
		rte_pktmbuf_free(m);
	}
}

void sn_dp_resolve(uint16_t port_idx, uint8_t family, const uint8_t *ip)
{
	struct rte_mbuf *m = alloc_frame();
	if (!m)
		return;
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	uint16_t len = sn_build_neigh_request(frame, &sn_dp.ports[port_idx].l3, family, ip);
	m->data_len = m->pkt_len = len;
	sn_dp.main_stats->counters[SN_CTR_NEIGH_REQUESTS]++;
	sn_dp_inject_frame(port_idx, m);
}

static unsigned apply_learned(void)
{
	struct sn_learn_msg msgs[32];
	unsigned n =
	    rte_ring_sc_dequeue_burst_elem(sn_dp.learn_ring, msgs, sizeof(msgs[0]), 32, NULL);
	for (unsigned i = 0; i < n; i++) {
		const struct sn_l3_learn *l = &msgs[i].learn;
		if (msgs[i].resolve) {
			/* A worker needs this next hop (turn.c): ask the link for it. */
			sn_dp_resolve(msgs[i].port_idx, l->family, l->ip);
			continue;
		}
		int rc = sn_neigh_learn(&sn_dp.neigh, &sn_dp.rcu, msgs[i].port_idx, l->family,
					l->ip, l->mac);
		if (rc > 0)
			sn_dp.main_stats->counters[SN_CTR_NEIGH_LEARNED]++;
	}
	return n;
}

static int install_config_dispatch(void)
{
	const struct sn_dataplane_config *d = &sn_dp.cfg.dataplane;
	const struct sn_dp_table *t = &sn_dp_table_dispatch;
	for (int i = 0; i < d->n_dispatch; i++) {
		for (int f = 0; f < 2; f++) {
			struct sn_dispatch_key key = {.port = htons(d->dispatch[i].port),
						      .family = f ? AF_INET6 : AF_INET};
			struct sn_dispatch_value val = {.handler = d->dispatch[i].handler};
			int rc = t->apply(SN_TABLE_OP_ADD, &key, sizeof(key), &val, sizeof(val));
			if (rc < 0) {
				SN_ERR("dispatch entry %d: %s", i, strerror(-rc));
				t->publish();
				return rc;
			}
		}
	}
	t->publish();
	return 0;
}

static void main_loop(void)
{
	uint64_t next_stats = 0;
	while (!__atomic_load_n(&sn_dp.quit, __ATOMIC_RELAXED)) {
		unsigned work = apply_learned();
		work += (unsigned)channel_poll();
		work += (unsigned)channel_send_punts();
		sn_dp_guard_poll();
		sn_rcu_reclaim(&sn_dp.rcu);

		uint64_t now = wall_ns();
		if (now >= next_stats) {
			stats_update();
			next_stats = now + STATS_PERIOD_NS;
		}
		if (!work) {
			/* The main lcore is the slow path: wait on the channel, not on a spin. */
			struct pollfd pfd[2];
			int fds[2];
			int n = channel_fds(fds);
			for (int i = 0; i < n; i++)
				pfd[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
			poll(pfd, (nfds_t)n, 1);
		}
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: supernode-dataplane --config FILE [-v]\n");
}

int main(int argc, char **argv)
{
	const char *config_path = NULL;
	char err[512];
	int verbose = 0, rc, exit_code = 1;
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"verbose", no_argument, NULL, 'v'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int opt;
	sn_log_prog = "dataplane";
	while ((opt = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
			return opt == 'h' ? 0 : 2;
		}
	}
	if (!config_path) {
		usage();
		return 2;
	}
	rc = sn_config_load(config_path, &sn_dp.cfg, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "supernode-dataplane: %s\n", err);
		return 2;
	}
	const struct sn_config *cfg = &sn_dp.cfg;
	const struct sn_dataplane_config *d = &cfg->dataplane;
	sn_log_level = verbose ? SN_LOG_DEBUG : cfg->log_level;

	char *eal_argv[SN_CONFIG_MAX_EAL_ARGS + 2 * SN_CONFIG_MAX_PORTS + 8];
	char lcores[256], main_lcore[16];
	int eal_argc = build_eal_args(cfg, eal_argv, (int)(sizeof(eal_argv) / sizeof(eal_argv[0])),
				      lcores, sizeof(lcores), main_lcore);
	if (eal_argc < 0) {
		SN_ERR("too many EAL arguments");
		goto out_config;
	}
	rc = rte_eal_init(eal_argc, eal_argv);
	if (rc < 0) {
		SN_ERR("EAL init failed: %s", rte_strerror(rte_errno));
		goto out_config;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	sn_dp.tsc_hz = rte_get_tsc_hz();
	sn_dp.epoch_ns = wall_ns();
	sn_dp.epoch_tsc = rte_rdtsc();
	sn_dp.n_workers = (uint16_t)d->n_workers;
	sn_dp.punt_interval = sn_dp.tsc_hz / d->punt_rate_pps;
	sn_dp.punt_tolerance = sn_dp.punt_interval * d->punt_burst;
	sn_dp.source_interval = sn_dp.tsc_hz / d->punt_source_rate_pps;
	sn_dp.source_tolerance = sn_dp.source_interval * d->punt_source_burst;

	if (mkdir(cfg->runtime_dir, 0755) < 0 && errno != EEXIST) {
		SN_ERR("runtime dir %s: %s", cfg->runtime_dir, strerror(errno));
		goto out_eal;
	}
	sn_dp.pool = rte_pktmbuf_pool_create(
	    "sn_pkt", d->mbufs, d->mbuf_cache,
	    (uint16_t)RTE_ALIGN(sizeof(struct sn_pkt_meta), RTE_MBUF_PRIV_ALIGN),
	    RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (!sn_dp.pool) {
		SN_ERR("mempool of %u mbufs: %s", d->mbufs, rte_strerror(rte_errno));
		goto out_eal;
	}
	sn_dp.punt_ring =
	    rte_ring_create("sn_punt", d->punt_ring_size, (int)rte_socket_id(), RING_F_SC_DEQ);
	sn_dp.learn_ring = rte_ring_create_elem("sn_learn", sizeof(struct sn_learn_msg), 1024,
						(int)rte_socket_id(), RING_F_SC_DEQ);
	sn_dp.workers = rte_zmalloc("sn_workers", sizeof(struct sn_worker) * sn_dp.n_workers,
				    RTE_CACHE_LINE_SIZE);
	if (!sn_dp.punt_ring || !sn_dp.learn_ring || !sn_dp.workers) {
		SN_ERR("rings/workers: %s", rte_strerror(rte_errno));
		goto out_eal;
	}
	if (sn_rcu_writer_init(&sn_dp.rcu, 256) < 0 || sn_dispatch_init(&sn_dp.dispatch) < 0 ||
	    sn_neigh_init(&sn_dp.neigh, d->neigh_entries) < 0)
		goto out_eal;
	if (install_config_dispatch() < 0)
		goto out_tables;

	sn_dp.stats = sn_stats_create(cfg->runtime_dir);
	if (!sn_dp.stats)
		goto out_tables;
	sn_dp.stats->epoch = sn_dp.epoch_ns;
	sn_dp.stats->pid = (uint32_t)getpid();
	sn_dp.stats->n_lcores = sn_dp.n_workers + 1u;
	for (uint16_t i = 0; i < sn_dp.n_workers; i++) {
		struct sn_worker *w = &sn_dp.workers[i];
		w->lcore_id = d->worker_lcores[i];
		w->index = i;
		w->stats = &sn_dp.stats->lcores[i];
		sn_dp.stats->lcore_ids[i] = w->lcore_id;
		sn_dp.stats->lcore_is_worker[i] = 1;
	}
	sn_dp.main_stats = &sn_dp.stats->lcores[sn_dp.n_workers];
	sn_dp.stats->lcore_ids[sn_dp.n_workers] = d->main_lcore;
	if (sn_dp_guard_init() < 0)
		goto out_tables;

	for (int i = 0; i < d->n_ports; i++) {
		if (port_setup((uint16_t)i, &d->ports[i]) < 0)
			goto out_ports;
		sn_dp.n_ports++;
		snprintf(sn_dp.stats->ports[i].name, sizeof(sn_dp.stats->ports[i].name), "%s",
			 d->ports[i].name);
	}
	sn_dp.stats->n_ports = sn_dp.n_ports;
	stats_update();

	if (sn_turn_init() < 0 || channel_init() < 0)
		goto out_ports;

	for (uint16_t i = 0; i < sn_dp.n_workers; i++) {
		rc = rte_eal_remote_launch(worker_main, &sn_dp.workers[i],
					   sn_dp.workers[i].lcore_id);
		if (rc < 0) {
			SN_ERR("launch worker on lcore %u: %s", sn_dp.workers[i].lcore_id,
			       strerror(-rc));
			__atomic_store_n(&sn_dp.quit, 1, __ATOMIC_RELAXED);
			break;
		}
	}
	SN_INFO("running: %u worker(s), %u port(s), runtime dir %s", sn_dp.n_workers, sn_dp.n_ports,
		cfg->runtime_dir);
	main_loop();
	rte_eal_mp_wait_lcore();
	exit_code = 0;
	SN_INFO("stopping");

	channel_fini();
out_ports:
	sn_turn_fini();
	for (uint16_t p = 0; p < sn_dp.n_ports; p++) {
		rte_eth_dev_stop(sn_dp.ports[p].port_id);
		rte_eth_dev_close(sn_dp.ports[p].port_id);
	}
out_tables:
	sn_rcu_writer_fini(&sn_dp.rcu);
	sn_dispatch_fini(&sn_dp.dispatch);
	sn_neigh_fini(&sn_dp.neigh);
	sn_dp_guard_fini();
out_eal:
	rte_eal_cleanup();
out_config:
	sn_config_free(&sn_dp.cfg);
	return exit_code;
}
