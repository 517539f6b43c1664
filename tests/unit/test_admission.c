/* test_admission.c: DHT join admission in control/dht.c (RFC 5765 2.4), driven through a fake
 * dataplane (control/chan.c with a tx hook, as test_turn_control.c): nodes "send" queries as
 * punts, control's liveness pings come out as INJECT messages and are answered with punted
 * replies. Checks: a node enters the routing table only after it answered the ping (liveness
 * gate; one that never answers is counted rejected_liveness), at most max_per_prefix4 nodes of
 * one /24 per bucket, a Sybil suspect is refused (and an admitted node that becomes suspect is
 * evicted), and malformed traffic from an admitted node's address evicts it and bans the
 * address. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chan.h"
#include "counters.h"
#include "dht.h"
#include "dht_msg.h"
#include "sn_channel.h"
#include "sn_config.h"
#include "sn_log.h"
#include "trust.h"
#include "util.h"

#define MAX_SENT 2048
#define NETWORK	 94

struct sent {
	size_t len;
	uint8_t buf[SN_CHANNEL_MAX_MSG];
};

static struct sent *sent;
static int n_sent, acked;
static struct ctl_counters ctr;
static struct ctl_chan chan;
static struct ctl_dht *dht;
static struct sn_config cfg;
static char rundir[64];
static uint64_t now;

static int tx_hook(struct ctl_chan *ch, const void *msg, size_t len)
{
	struct sn_msg_view v;

	(void)ch;
	cr_assert_lt(n_sent, MAX_SENT);
	cr_assert_eq(sn_msg_parse(msg, len, &v), 0, "control sent a malformed message");
	memcpy(sent[n_sent].buf, msg, len);
	sent[n_sent].len = len;
	n_sent++;
	return 0;
}

static size_t msg_body(uint8_t *buf, enum sn_msg_type type, uint32_t seq, const void *body,
		       uint32_t len)
{
	memcpy(buf + sizeof(struct sn_msg_hdr), body, len);
	return sn_msg_init(buf, type, seq, len);
}

static void feed(const void *msg, size_t len)
{
	cr_assert_eq(ctl_chan_handle(&chan, msg, len, ctl_mono_ns()), 0);
}

/* Acks every TABLE_CMD (the dataplane applied it). */
static void ack_pending(void)
{
	while (acked < n_sent) {
		struct sn_msg_view v;
		int i = acked++;

		sn_msg_parse(sent[i].buf, sent[i].len, &v);
		if (v.hdr->type == SN_MSG_TABLE_CMD) {
			uint64_t buf[64];
			struct sn_msg_table_ack a = {
			    .cmd_seq = v.hdr->seq, .result = 0, .entries = 1};

			feed(buf, msg_body((uint8_t *)buf, SN_MSG_TABLE_ACK, 1, &a, sizeof(a)));
		}
	}
}

static void tick(uint64_t advance_ns)
{
	now += advance_ns;
	ctl_trust_tick(now);
	ctl_dht_tick(dht, now);
	ack_pending();
}

static void setup(const char *extra)
{
	char text[2048], err[256];
	struct ctl_chan_params cp = {
	    .reconnect_ms = 100,
	    .keepalive_ms = 1000,
	    .epfd = -1,
	    .ctr = &ctr,
	    .tx = tx_hook,
	};
	uint64_t buf[64];
	struct sn_msg_hello h;
	struct sn_msg_dump_end e = {.table = 0, .entries = 0};

	sn_log_level = SN_LOG_ERR;
	snprintf(rundir, sizeof(rundir), "/tmp/sn-unit-adm.%d", (int)getpid());
	mkdir(rundir, 0700);
	snprintf(text, sizeof(text),
		 "runtime_dir: %s\n"
		 "dataplane:\n  workers: [1]\n  ports:\n"
		 "    - {name: p0, device: net_null0, ipv4: 198.18.0.1/16}\n"
		 "  dispatch:\n    - {port: 4222, handler: dht}\n"
		 "dht:\n  network_id: %d\n  node_id: 00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff\n"
		 "  admission:\n    max_per_prefix4: 2\n    evict_bad_msgs: 5\n%s",
		 rundir, NETWORK, extra ? extra : "");
	cr_assert_eq(sn_config_load_buffer("t.yaml", text, strlen(text), &cfg, err, sizeof(err)), 0,
		     "%s", err);
	sent = calloc(MAX_SENT, sizeof(*sent));
	cr_assert_not_null(sent);
	n_sent = acked = 0;
	memset(&ctr, 0, sizeof(ctr));
	memset(&ctl_dht_stats, 0, sizeof(ctl_dht_stats));
	cp.runtime_dir = rundir;
	cp.dispatch = cfg.dataplane.dispatch;
	cp.n_dispatch = cfg.dataplane.n_dispatch;
	cr_assert_eq(ctl_chan_init(&chan, &cp), 0);
	cr_assert_eq(ctl_trust_init(&cfg), 0);
	cr_assert_eq(ctl_dht_init(&dht, &cfg, &chan), 0);
	cr_assert_not_null(dht);
	now = ctl_mono_ns();
	ctl_chan_start_session(&chan, now);
	memset(&h, 0, sizeof(h));
	h.role = SN_ROLE_DATAPLANE;
	h.epoch = 1;
	snprintf(h.build, sizeof(h.build), "%s", SN_VERSION);
	feed(buf, msg_body((uint8_t *)buf, SN_MSG_HELLO, 1, &h, sizeof(h)));
	feed(buf, msg_body((uint8_t *)buf, SN_MSG_DUMP_END, 2, &e, sizeof(e)));
	cr_assert_eq(chan.state, CTL_CHAN_READY);
	tick(0); /* the node state goes to the dataplane and is acked */
	tick(CTL_NS_PER_SEC);
}

static void teardown(void)
{
	char p[128];

	ctl_dht_fini(dht);
	dht = NULL;
	ctl_trust_fini();
	ctl_chan_fini(&chan);
	sn_config_free(&cfg);
	free(sent);
	sent = NULL;
	snprintf(p, sizeof(p), "%s/dht_node_id", rundir);
	unlink(p);
	rmdir(rundir);
}

struct node {
	struct sn_node_id id;
	uint8_t addr[4];
	uint16_t port;
};

static struct node mk(uint8_t id0, uint8_t a2, uint8_t a3)
{
	struct node n;

	memset(&n, 0, sizeof(n));
	memset(n.id.b, id0, sizeof(n.id.b));
	n.id.b[0] = 0x80; /* all in the bucket that does not hold our id: it never splits */
	n.id.b[19] = id0;
	n.addr[0] = 198;
	n.addr[1] = 18;
	n.addr[2] = a2;
	n.addr[3] = a3;
	n.port = 4000 + id0;
	return n;
}

static void punt(const struct node *n, const void *payload, size_t len)
{
	static uint64_t buf[SN_CHANNEL_MAX_MSG / 8];
	struct sn_msg_punt *p = (struct sn_msg_punt *)((uint8_t *)buf + sizeof(struct sn_msg_hdr));

	memset(p, 0, sizeof(*p));
	p->reason = SN_PUNT_DHT;
	p->payload_len = (uint16_t)len;
	p->tuple.family = AF_INET;
	p->tuple.src_port = htons(n->port);
	p->tuple.dst_port = htons(4222);
	memcpy(p->tuple.src, n->addr, 4);
	memcpy(p->tuple.dst, (const uint8_t[4]){198, 18, 0, 1}, 4);
	memcpy(p->payload, payload, len);
	feed(buf, sn_msg_init(buf, SN_MSG_PUNT, 1, (uint32_t)(sizeof(*p) + len)));
}

/* The node sends us a ping query (it is heard). */
static void query_from(const struct node *n)
{
	uint8_t b[256];
	int len = sn_dht_build_ping(b, sizeof(b), 7, NETWORK, &n->id);

	cr_assert_gt(len, 0);
	punt(n, b, (size_t)len);
}

/* Transaction id of the last ping control sent to n since message `from`, or 0. */
static uint32_t ping_to(const struct node *n, int from)
{
	uint32_t tid = 0;

	for (int i = from; i < n_sent; i++) {
		struct sn_msg_view v;
		struct sn_dht_msg m;

		sn_msg_parse(sent[i].buf, sent[i].len, &v);
		if (v.hdr->type != SN_MSG_INJECT || memcmp(v.u.inject->tuple.dst, n->addr, 4) ||
		    v.u.inject->tuple.dst_port != htons(n->port))
			continue;
		if (sn_dht_parse(v.payload, v.u.inject->payload_len, &m) == SN_DHT_R_OK &&
		    m.type == SN_DHT_T_QUERY && m.query == SN_DHT_Q_PING)
			tid = m.tid;
	}
	return tid;
}

static void answer(const struct node *n, uint32_t tid)
{
	uint8_t b[256];
	struct sn_node_addr sa = {.family = AF_INET, .port = htons(n->port)};
	int len;

	memcpy(sa.addr, n->addr, 4);
	len = sn_dht_build_pong(b, sizeof(b), tid, NETWORK, &n->id, &sa);
	cr_assert_gt(len, 0);
	punt(n, b, (size_t)len);
}

/* The whole join: query, our ping, its answer. Returns the ping's tid (0: none was sent). */
static uint32_t join(const struct node *n)
{
	int from = n_sent;
	uint32_t tid;

	query_from(n);
	tid = ping_to(n, from);
	if (tid)
		answer(n, tid);
	return tid;
}

static uint64_t joins(enum ctl_dht_join j)
{
	return ctl_ctr_get(&ctl_dht_stats.joins[j]);
}

static bool in_table(const struct node *n)
{
	struct ctl_buf b;
	char hex[41];
	bool found;

	for (int i = 0; i < 20; i++)
		snprintf(hex + 2 * i, 3, "%02x", n->id.b[i]);
	ctl_buf_init(&b);
	ctl_dht_cmd_routes(NULL, 1, (char *[]){"routes"}, true, &b);
	cr_assert_not_null(b.data);
	found = strstr(b.data, hex) != NULL;
	ctl_buf_free(&b);
	return found;
}

Test(admission, liveness_gate)
{
	struct node a = mk(1, 0, 10), silent = mk(2, 1, 10);
	int from;

	setup(NULL);
	from = n_sent;
	query_from(&a);
	cr_expect(!in_table(&a), "a query alone does not admit");
	cr_assert_neq(ping_to(&a, from), 0, "no liveness ping");
	answer(&a, ping_to(&a, from));
	cr_expect(in_table(&a));
	cr_expect_eq(joins(CTL_DHT_J_ADMITTED), 1);
	/* a reply from another address than the one pinged does not count */
	from = n_sent;
	query_from(&silent);
	cr_assert_neq(ping_to(&silent, from), 0);
	{
		struct node elsewhere = silent;

		elsewhere.addr[3] = 99;
		answer(&elsewhere, ping_to(&silent, from));
	}
	cr_expect(!in_table(&silent));
	tick(4 * CTL_NS_PER_SEC);
	cr_expect(!in_table(&silent));
	cr_expect_geq(joins(CTL_DHT_J_REJECTED_LIVENESS), 1);
	teardown();
}

Test(admission, two_per_slash24_per_bucket)
{
	struct node n[4] = {mk(1, 0, 10), mk(2, 0, 11), mk(3, 0, 12), mk(4, 1, 10)};

	setup(NULL);
	for (int i = 0; i < 4; i++)
		join(&n[i]);
	cr_expect(in_table(&n[0]));
	cr_expect(in_table(&n[1]));
	cr_expect(!in_table(&n[2]), "a third node of 198.18.0.0/24 in the bucket");
	cr_expect(in_table(&n[3]), "another /24 is fine");
	cr_expect_eq(joins(CTL_DHT_J_ADMITTED), 3);
	cr_expect_geq(joins(CTL_DHT_J_REJECTED_PREFIX), 1);
	teardown();
}

Test(admission, sybil_suspects_are_refused_and_evicted)
{
	struct node s = mk(5, 2, 10), a = mk(6, 3, 10);
	char hex[41];

	setup(NULL);
	for (int i = 0; i < 20; i++)
		snprintf(hex + 2 * i, 3, "%02x", s.id.b[i]);
	cr_assert_eq(ctl_trust_mark(hex, CTL_TRUST_SUSPECT), 0);
	cr_expect_eq(join(&s), 0, "no liveness ping for a suspect");
	cr_expect(!in_table(&s));
	cr_expect_geq(joins(CTL_DHT_J_REJECTED_SYBIL), 1);
	/* an admitted node whose address becomes suspect goes at the next police pass */
	join(&a);
	cr_assert(in_table(&a));
	cr_assert_eq(ctl_trust_mark("198.18.3.10", CTL_TRUST_SUSPECT), 0);
	tick(CTL_NS_PER_SEC);
	cr_expect(!in_table(&a));
	cr_expect_eq(ctl_ctr_get(&ctl_dht_stats.evictions[CTL_DHT_EV_SYBIL]), 1);
	teardown();
}

Test(admission, malformed_traffic_evicts_and_bans)
{
	struct node a = mk(7, 4, 10), b = mk(8, 4, 10);
	static const uint8_t junk[] = {0x81, 0xa1, 'y', 0x01};

	setup(NULL);
	join(&a);
	cr_assert(in_table(&a));
	for (int i = 0; i < 5; i++)
		punt(&a, junk, sizeof(junk));
	tick(CTL_NS_PER_SEC);
	cr_expect(!in_table(&a));
	cr_expect_eq(ctl_ctr_get(&ctl_dht_stats.evictions[CTL_DHT_EV_ABUSE]), 1);
	/* another node from the banned address stays out */
	b.port = 5000;
	cr_expect_eq(join(&b), 0);
	cr_expect(!in_table(&b));
	cr_expect_geq(joins(CTL_DHT_J_REJECTED_BANNED), 1);
	teardown();
}
