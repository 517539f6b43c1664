/* channel.c: the dataplane's end of the control channel (common/sn_channel.h).
 *
 * Runs on the main lcore only. One control at a time: a second connection is refused
 * while one is up. Everything is non-blocking except a dump, which waits (with a deadline)
 * for room in the socket so that no entry of a resync is lost. Losing control never
 * touches forwarding: workers go on, punts are counted as punt_no_control. */
#include "dataplane.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <rte_ethdev.h>

#include "sn_log.h"

#define MAX_MSGS_PER_POLL    64
#define MAX_PUNTS_PER_POLL   64
#define DUMP_SEND_TIMEOUT_MS 1000
#define CHANNEL_SNDBUF	     (4 << 20)

const struct sn_dp_table *const sn_dp_tables[SN_TABLE_MAX] = {
    [SN_TABLE_UDP_DISPATCH] = &sn_dp_table_dispatch,
    [SN_TABLE_DHT_NODE] = &sn_dp_table_dht_node,
    [SN_TABLE_DHT_STATE] = &sn_dp_table_dht_state,
    [SN_TABLE_TURN_ALLOC] = &sn_dp_table_turn_alloc,
    [SN_TABLE_TURN_PERM] = &sn_dp_table_turn_perm,
    [SN_TABLE_TURN_CHANNEL] = &sn_dp_table_turn_channel,
    [SN_TABLE_GUARD] = &sn_dp_table_guard,
};

static struct {
	int listen_fd;
	int conn_fd;
	bool hello_done;
	uint32_t tx_seq;
	char path[SN_CONFIG_PATH_LEN + 16];
	/* acks wait until the batch they belong to is published */
	struct sn_msg_table_ack acks[MAX_MSGS_PER_POLL];
	uint16_t ack_table[MAX_MSGS_PER_POLL];
	int n_acks;
	bool dirty[SN_TABLE_MAX]; /* tables with applied, unpublished commands */
	uint32_t dump_entries;
	_Alignas(8) uint8_t rx_buf[SN_CHANNEL_MAX_MSG];
	_Alignas(8) uint8_t tx_buf[SN_CHANNEL_MAX_MSG];
} ch = {.listen_fd = -1, .conn_fd = -1};

static struct sn_stats_gauges *gauges(void)
{
	return &sn_dp.stats->gauges;
}

int channel_init(void)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int n =
	    snprintf(ch.path, sizeof(ch.path), "%s/%s", sn_dp.cfg.runtime_dir, SN_CHANNEL_SOCKET);
	if (n < 0 || (size_t)n >= sizeof(addr.sun_path)) {
		SN_ERR("socket path %s too long", ch.path);
		return -ENAMETOOLONG;
	}
	memcpy(addr.sun_path, ch.path, (size_t)n + 1);
	ch.listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ch.listen_fd < 0) {
		SN_ERR("socket: %s", strerror(errno));
		return -errno;
	}
	unlink(ch.path); /* a stale socket from a dataplane that died */
	if (bind(ch.listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    chmod(ch.path, 0600) < 0 || listen(ch.listen_fd, 4) < 0) {
		int e = errno;
		SN_ERR("%s: %s", ch.path, strerror(e));
		close(ch.listen_fd);
		ch.listen_fd = -1;
		return -e;
	}
	SN_INFO("control channel at %s", ch.path);
	return 0;
}

static void conn_close(const char *why)
{
	if (ch.conn_fd < 0)
		return;
	SN_WARN("control disconnected: %s", why);
	close(ch.conn_fd);
	ch.conn_fd = -1;
	ch.hello_done = false;
	__atomic_store_n(&gauges()->channel_connected, 0, __ATOMIC_RELAXED);
}

void channel_fini(void)
{
	conn_close("dataplane stopping");
	if (ch.listen_fd >= 0) {
		close(ch.listen_fd);
		unlink(ch.path);
		ch.listen_fd = -1;
	}
}

int channel_fds(int fds[2])
{
	int n = 0;
	if (ch.listen_fd >= 0)
		fds[n++] = ch.listen_fd;
	if (ch.conn_fd >= 0)
		fds[n++] = ch.conn_fd;
	return n;
}

/* Sends one message. `wait` lets a dump block (with a deadline) on a full socket; other
 * messages are dropped and counted so the main loop never stalls. */
static int send_msg(const void *buf, uint32_t len, bool wait)
{
	if (ch.conn_fd < 0)
		return -ENOTCONN;
	for (;;) {
		ssize_t n = send(ch.conn_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == (ssize_t)len) {
			gauges()->channel_tx_msgs++;
			return 0;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && wait) {
			struct pollfd pfd = {.fd = ch.conn_fd, .events = POLLOUT};
			if (poll(&pfd, 1, DUMP_SEND_TIMEOUT_MS) == 1 && (pfd.revents & POLLOUT))
				continue;
		}
		gauges()->channel_tx_errors++;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			conn_close(strerror(errno));
			return -EPIPE;
		}
		if (wait)
			conn_close("control does not read its socket");
		return -EAGAIN;
	}
}

static void send_error(uint32_t bad_seq, int error, const char *text)
{
	struct sn_msg_error *e = (struct sn_msg_error *)(ch.tx_buf + sizeof(struct sn_msg_hdr));
	memset(e, 0, sizeof(*e));
	e->bad_seq = bad_seq;
	e->error = error;
	snprintf(e->text, sizeof(e->text), "%s", text);
	send_msg(ch.tx_buf, sn_msg_init(ch.tx_buf, SN_MSG_ERROR, ch.tx_seq++, sizeof(*e)), false);
}

static void send_hello(void)
{
	struct sn_msg_hello *h = (struct sn_msg_hello *)(ch.tx_buf + sizeof(struct sn_msg_hdr));
	memset(h, 0, sizeof(*h));
	h->role = SN_ROLE_DATAPLANE;
	h->pid = (uint32_t)getpid();
	h->epoch = sn_dp.epoch_ns;
	h->n_workers = sn_dp.n_workers;
	h->n_ports = sn_dp.n_ports;
	h->n_tables = SN_TABLE_MAX - 1;
	snprintf(h->build, sizeof(h->build), "%s", SN_VERSION);
	send_msg(ch.tx_buf, sn_msg_init(ch.tx_buf, SN_MSG_HELLO, ch.tx_seq++, sizeof(*h)), false);
}

static int emit_dump_entry(uint16_t table, const void *key, uint16_t key_len, const void *val,
			   uint16_t val_len)
{
	int len = sn_msg_build_table(ch.tx_buf, sizeof(ch.tx_buf), SN_MSG_DUMP_ENTRY, ch.tx_seq++,
				     table, SN_TABLE_OP_ADD, key, key_len, val, val_len);
	if (len < 0)
		return len;
	int rc = send_msg(ch.tx_buf, (uint32_t)len, true);
	if (rc == 0)
		ch.dump_entries++;
	return rc;
}

static void send_dump(uint16_t table)
{
	ch.dump_entries = 0;
	for (uint16_t t = 1; t < SN_TABLE_MAX && ch.conn_fd >= 0; t++) {
		if ((table == 0 || table == t) && sn_dp_tables[t] &&
		    sn_dp_tables[t]->dump(emit_dump_entry) < 0)
			break;
	}
	if (ch.conn_fd < 0)
		return;
	struct sn_msg_dump_end *end =
	    (struct sn_msg_dump_end *)(ch.tx_buf + sizeof(struct sn_msg_hdr));
	memset(end, 0, sizeof(*end));
	end->table = table;
	end->entries = ch.dump_entries;
	send_msg(ch.tx_buf, sn_msg_init(ch.tx_buf, SN_MSG_DUMP_END, ch.tx_seq++, sizeof(*end)),
		 true);
	SN_INFO("dump of table %u sent to control: %u entries", table, ch.dump_entries);
}

static void table_cmd(const struct sn_msg_view *v)
{
	const struct sn_msg_table_cmd *cmd = v->u.table_cmd;
	const struct sn_dp_table *t = sn_dp_tables[cmd->table];
	int rc = -EOPNOTSUPP;
	if (t) {
		rc = t->apply(cmd->op, v->key, cmd->key_len, v->val, cmd->val_len);
		ch.dirty[cmd->table] = true;
	}
	if (rc < 0)
		gauges()->table_cmd_errors++;
	else
		gauges()->table_cmds++;
	ch.ack_table[ch.n_acks] = cmd->table;
	struct sn_msg_table_ack *ack = &ch.acks[ch.n_acks++];
	ack->cmd_seq = v->hdr->seq;
	ack->result = rc;
}

/* Makes the batch visible to workers, then tells control: an ack means "in effect". */
static void publish_and_ack(void)
{
	for (uint16_t t = 1; t < SN_TABLE_MAX; t++) {
		if (ch.dirty[t] && sn_dp_tables[t])
			sn_dp_tables[t]->publish();
		ch.dirty[t] = false;
	}
	for (int i = 0; i < ch.n_acks; i++) {
		struct sn_msg_table_ack *ack =
		    (struct sn_msg_table_ack *)(ch.tx_buf + sizeof(struct sn_msg_hdr));
		*ack = ch.acks[i];
		const struct sn_dp_table *t = sn_dp_tables[ch.ack_table[i]];
		ack->entries = t ? t->entries() : 0;
		send_msg(ch.tx_buf,
			 sn_msg_init(ch.tx_buf, SN_MSG_TABLE_ACK, ch.tx_seq++, sizeof(*ack)), true);
	}
	ch.n_acks = 0;
}

static bool tuple_src_is_ours(const struct sn_dp_port *port, const struct sn_udp_tuple *t)
{
	if (t->family == AF_INET)
		return port->l3.has_ipv4 && memcmp(t->src, &port->l3.ipv4, 4) == 0;
	return port->l3.has_ipv6 && memcmp(t->src, port->l3.ipv6.s6_addr, 16) == 0;
}

static void inject(const struct sn_msg_view *v)
{
	const struct sn_msg_inject *inj = v->u.inject;
	const struct sn_udp_tuple *t = &inj->tuple;
	struct sn_stats_lcore *st = sn_dp.main_stats;
	int port_idx = -1;

	/* UINT16_MAX: the port that owns the source address. */
	for (uint16_t p = 0; p < sn_dp.n_ports; p++) {
		if ((inj->port_id == UINT16_MAX || inj->port_id == p) &&
		    tuple_src_is_ours(&sn_dp.ports[p], t)) {
			port_idx = p;
			break;
		}
	}
	if (port_idx < 0 || inj->payload_len + sn_udp_headroom(t->family) - SN_ETHER_HDR_LEN >
				sn_dp.ports[port_idx].cfg->mtu) {
		st->drops[SN_DROP_INJECT_INVALID]++;
		return;
	}
	struct sn_dp_port *port = &sn_dp.ports[port_idx];
	const struct sn_port_config *pc = port->cfg;
	const uint8_t *next_hop = t->dst;
	if (!sn_l3_on_link(&port->l3, t->family, t->dst)) {
		bool has_gw = t->family == AF_INET ? pc->has_gateway4 : pc->has_gateway6;
		if (!has_gw) {
			st->drops[SN_DROP_NEIGH_UNRESOLVED]++;
			return;
		}
		next_hop =
		    t->family == AF_INET ? (const uint8_t *)&pc->gateway4 : pc->gateway6.s6_addr;
	}
	const struct sn_neigh_entry *ne = sn_neigh_lookup(sn_dp.neigh.current, t->family, next_hop);
	if (!ne) {
		st->drops[SN_DROP_NEIGH_UNRESOLVED]++;
		sn_dp_resolve((uint16_t)port_idx, t->family, next_hop);
		return;
	}
	struct rte_mbuf *m = rte_pktmbuf_alloc(sn_dp.pool);
	if (!m) {
		st->drops[SN_DROP_NO_MBUF]++;
		return;
	}
	uint16_t hdr = sn_udp_headroom(t->family);
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	if ((uint32_t)hdr + inj->payload_len > rte_pktmbuf_tailroom(m)) {
		rte_pktmbuf_free(m);
		st->drops[SN_DROP_INJECT_INVALID]++;
		return;
	}
	memcpy(frame + hdr, v->payload, inj->payload_len);
	uint16_t len = sn_build_udp(frame, port->l3.mac, ne->mac, t->family, t->src, t->dst,
				    t->src_port, t->dst_port, inj->payload_len);
	m->data_len = m->pkt_len = len;
	sn_dp_inject_frame((uint16_t)port_idx, m);
}

static void handle_msg(const uint8_t *buf, size_t len)
{
	struct sn_msg_view v;
	int rc = sn_msg_parse(buf, len, &v);
	gauges()->channel_rx_msgs++;
	if (rc < 0) {
		gauges()->channel_rx_errors++;
		uint32_t seq =
		    len >= sizeof(struct sn_msg_hdr) ? ((const struct sn_msg_hdr *)buf)->seq : 0;
		send_error(seq, rc,
			   rc == -EPROTO ? "channel version mismatch" : "malformed message");
		if (rc == -EPROTO)
			conn_close("control speaks another channel version");
		return;
	}
	if (!ch.hello_done && v.hdr->type != SN_MSG_HELLO) {
		gauges()->channel_rx_errors++;
		send_error(v.hdr->seq, -EPROTO, "HELLO first");
		return;
	}
	switch (v.hdr->type) {
	case SN_MSG_HELLO:
		if (v.u.hello->role != SN_ROLE_CONTROL) {
			send_error(v.hdr->seq, -EPROTO, "not a control");
			conn_close("peer is not a control");
			return;
		}
		ch.hello_done = true;
		SN_INFO("control pid %u (%.32s) connected", v.u.hello->pid, v.u.hello->build);
		send_hello();
		return;
	case SN_MSG_DUMP_REQ:
		if (v.u.dump_req->table >= SN_TABLE_MAX) {
			send_error(v.hdr->seq, -EINVAL, "no such table");
			return;
		}
		publish_and_ack(); /* a dump shows every command received before it */
		return send_dump(v.u.dump_req->table);
	case SN_MSG_TABLE_CMD:
		return table_cmd(&v);
	case SN_MSG_INJECT:
		return inject(&v);
	case SN_MSG_KEEPALIVE:
		return;
	case SN_MSG_ERROR:
		SN_WARN("control refused message %u: %d %.64s", v.u.error->bad_seq,
			v.u.error->error, v.u.error->text);
		return;
	default:
		gauges()->channel_rx_errors++;
		send_error(v.hdr->seq, -EOPNOTSUPP, "not a control-to-dataplane message");
		return;
	}
}

static void accept_control(void)
{
	int fd = accept4(ch.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (ch.conn_fd >= 0) {
		/* One control at a time; the second learns why from the closed socket. */
		SN_WARN("refused a second control connection");
		close(fd);
		return;
	}
	int sndbuf = CHANNEL_SNDBUF;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	ch.conn_fd = fd;
	ch.hello_done = false;
	gauges()->channel_connects++;
	__atomic_store_n(&gauges()->channel_connected, 1, __ATOMIC_RELAXED);
}

int channel_poll(void)
{
	int handled = 0;
	if (ch.listen_fd >= 0)
		accept_control();
	while (ch.conn_fd >= 0 && handled < MAX_MSGS_PER_POLL) {
		ssize_t n =
		    recv(ch.conn_fd, ch.rx_buf, sizeof(ch.rx_buf), MSG_DONTWAIT | MSG_TRUNC);
		if (n == 0) {
			conn_close("closed by control");
			break;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				conn_close(strerror(errno));
			break;
		}
		handled++;
		if ((size_t)n > sizeof(ch.rx_buf)) {
			gauges()->channel_rx_errors++;
			send_error(0, -EMSGSIZE, "message too large");
			continue;
		}
		handle_msg(ch.rx_buf, (size_t)n);
	}
	if (ch.n_acks)
		publish_and_ack();
	return handled;
}

int channel_send_punts(void)
{
	struct rte_mbuf *pkts[MAX_PUNTS_PER_POLL];
	unsigned n =
	    rte_ring_sc_dequeue_burst(sn_dp.punt_ring, (void **)pkts, MAX_PUNTS_PER_POLL, NULL);
	struct sn_stats_lcore *st = sn_dp.main_stats;
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		const struct sn_pkt_meta *meta = sn_meta(m);
		if (ch.conn_fd < 0 || !ch.hello_done) {
			st->drops[SN_DROP_PUNT_NO_CONTROL]++;
			rte_pktmbuf_free(m);
			continue;
		}
		const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
		struct sn_msg_punt *p =
		    (struct sn_msg_punt *)(ch.tx_buf + sizeof(struct sn_msg_hdr));
		uint16_t plen = meta->payload_len;
		if (plen > SN_CHANNEL_MAX_PAYLOAD)
			plen = SN_CHANNEL_MAX_PAYLOAD;
		memset(p, 0, sizeof(*p));
		p->reason = meta->reason;
		p->port_id = meta->port_idx;
		p->lcore = meta->lcore;
		p->payload_len = plen;
		p->arrival_ns = sn_tsc_to_ns(meta->arrival_tsc);
		p->tuple.family = meta->family;
		const uint8_t *ip = frame + meta->l3_off;
		const uint8_t *udp = frame + meta->l4_off;
		if (meta->family == AF_INET) {
			memcpy(p->tuple.src, ip + 12, 4);
			memcpy(p->tuple.dst, ip + 16, 4);
		} else {
			memcpy(p->tuple.src, ip + 8, 16);
			memcpy(p->tuple.dst, ip + 24, 16);
		}
		memcpy(&p->tuple.src_port, udp, 2);
		memcpy(&p->tuple.dst_port, udp + 2, 2);
		memcpy(p->payload, frame + meta->payload_off, plen);
		rte_pktmbuf_free(m);
		if (send_msg(ch.tx_buf,
			     sn_msg_init(ch.tx_buf, SN_MSG_PUNT, ch.tx_seq++,
					 (uint32_t)sizeof(*p) + plen),
			     false) < 0)
			st->drops[SN_DROP_PUNT_CHANNEL_FULL]++;
	}
	return (int)n;
}

int channel_send_guard_report(uint16_t lcore, const struct sn_guard_report_entry *e, uint16_t n,
			      uint64_t drops, uint32_t interval_ms)
{
	if (ch.conn_fd < 0 || !ch.hello_done)
		return -ENOTCONN;
	if (n > SN_GUARD_REPORT_MAX)
		n = SN_GUARD_REPORT_MAX;
	struct sn_msg_guard_report *r =
	    (struct sn_msg_guard_report *)(ch.tx_buf + sizeof(struct sn_msg_hdr));
	memset(r, 0, sizeof(*r));
	r->lcore = lcore;
	r->n_entries = n;
	r->interval_ms = interval_ms;
	r->drops = drops;
	memcpy(r->entries, e, n * sizeof(*e));
	return send_msg(ch.tx_buf,
			sn_msg_init(ch.tx_buf, SN_MSG_GUARD_REPORT, ch.tx_seq++,
				    (uint32_t)(sizeof(*r) + n * sizeof(*e))),
			false);
}
