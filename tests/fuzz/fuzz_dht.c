/* fuzz_dht.c: libFuzzer target for the OpenDHT codec and the fast answers.
 *
 * Each input is one UDP payload. It goes through sn_dht_fast_process() as if it came from
 * an IPv4 and from an IPv6 peer, against a small fixed routing snapshot. Beyond "no crash,
 * no sanitizer report", it checks that every reply we would send parses back as a reply
 * carrying the request's transaction id, our id and the sender's address, and that every
 * message the parser accepts is walkable by sn_mp_skip() and has consistent spans.
 *
 * Seed corpus: tests/fuzz/corpus/dht (real python3-opendht 2.4.12 messages). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dht_msg.h"
#include "fast.h"
#include "msgpack.h"
#include "routing.h"
#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

static struct sn_node_id self_id;
static struct sn_token_secrets secrets;
static struct sn_rt_snapshot *snap;

static void setup(void)
{
	struct sn_rt_node nodes[24];
	uint8_t sec[SN_TOKEN_SECRET_LEN];

	for (unsigned i = 0; i < SN_NODE_ID_LEN; i++)
		self_id.b[i] = (uint8_t)(0x5a ^ i);
	for (unsigned i = 0; i < SN_TOKEN_SECRET_LEN; i++)
		sec[i] = (uint8_t)(i * 13);
	sn_token_init(&secrets, sec);
	memset(nodes, 0, sizeof(nodes));
	for (unsigned i = 0; i < 24; i++) {
		for (unsigned b = 0; b < SN_NODE_ID_LEN; b++)
			nodes[i].id.b[b] = (uint8_t)(i * 37 + b * 11 + (b == 0 ? i * 10 : 0));
		nodes[i].addr.family = i % 3 ? AF_INET : AF_INET6;
		nodes[i].addr.port = (uint16_t)(4000 + i);
		nodes[i].addr.addr[0] = 198;
		nodes[i].addr.addr[1] = 18;
		nodes[i].addr.addr[3] = (uint8_t)i;
	}
	snap = sn_rt_snapshot_from_nodes(nodes, 24, 1, 1);
	CHECK(snap);
}

static void check_msg(const uint8_t *buf, size_t len, const struct sn_dht_msg *m)
{
	struct sn_mp_reader r;
	const uint8_t *end = buf + len;

	sn_mp_reader_init(&r, buf, len);
	CHECK(sn_mp_skip(&r, SN_DHT_MAX_DEPTH) == 0 && sn_mp_remaining(&r) == 0);
	/* spans lie inside the datagram and node lists hold whole entries */
	CHECK(!m->nodes4.len || (m->nodes4.p >= buf && m->nodes4.p + m->nodes4.len <= end));
	CHECK(!m->nodes6.len || (m->nodes6.p >= buf && m->nodes6.p + m->nodes6.len <= end));
	CHECK(m->nodes4.len % SN_DHT_NODE4_LEN == 0 && m->nodes6.len % SN_DHT_NODE6_LEN == 0);
	CHECK(!m->values.len || (m->values.p >= buf && m->values.p + m->values.len <= end));
	CHECK(!m->token.len || (m->token.p >= buf && m->token.p + m->token.len <= end));
	CHECK(m->n_value_sizes <= m->n_values);
	if (m->type == SN_DHT_T_QUERY)
		CHECK(m->query > SN_DHT_Q_NONE && m->query < SN_DHT_Q_MAX);
}

static void run(const uint8_t *data, size_t size, const struct sn_node_addr *from)
{
	struct sn_dht_fast_ctx ctx = {
	    .self = &self_id, .network = 94, .snap = snap, .tokens = &secrets};
	uint8_t out[SN_DHT_FAST_REPLY_MAX];
	struct sn_dht_fast_result res;
	struct sn_dht_msg req, rep;
	enum sn_dht_reason why;

	why = sn_dht_parse(data, size, &req);
	CHECK(why < SN_DHT_R_MAX);
	if (why == SN_DHT_R_OK)
		check_msg(data, size, &req);
	sn_dht_fast_process(&ctx, data, size, from, out, sizeof(out), &res);
	CHECK((res.verdict == SN_DHT_DROP) == (res.reason != SN_DHT_R_OK));
	if (why != SN_DHT_R_OK) {
		CHECK(res.verdict == SN_DHT_DROP && res.reason == why);
		return;
	}
	if (res.verdict != SN_DHT_REPLY)
		return;
	CHECK(req.type == SN_DHT_T_QUERY &&
	      (req.query == SN_DHT_Q_PING || req.query == SN_DHT_Q_FIND));
	CHECK(res.len > 0 && res.len <= sizeof(out));
	CHECK(sn_dht_parse(out, res.len, &rep) == SN_DHT_R_OK);
	check_msg(out, res.len, &rep);
	CHECK(rep.type == SN_DHT_T_REPLY && rep.tid == req.tid && rep.network == 94);
	CHECK(sn_node_id_eq(&rep.id, &self_id));
	CHECK(rep.sa_family == from->family);
	CHECK(memcmp(rep.sa, from->addr, sn_node_addr_len(from->family)) == 0);
	if (req.query == SN_DHT_Q_FIND) {
		CHECK(rep.token.len == SN_TOKEN_LEN);
		CHECK(sn_token_check(&secrets, from, rep.token.p, rep.token.len) == 0);
		CHECK(rep.nodes4.len <= SN_DHT_SEND_NODES * SN_DHT_NODE4_LEN);
		CHECK(rep.nodes6.len <= SN_DHT_SEND_NODES * SN_DHT_NODE6_LEN);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sn_node_addr v4 = {.family = AF_INET, .port = 0x7e10};
	struct sn_node_addr v6 = {.family = AF_INET6, .port = 0x7e10};
	uint8_t *copy;

	if (!snap)
		setup();
	memcpy(v4.addr, "\xc6\x12\x00\x02", 4);
	memcpy(v6.addr, "\x20\x01\x0d\xb8\x00\x5e\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02", 16);
	/* an exact-size heap copy, so that any read past the datagram is caught */
	copy = malloc(size ? size : 1);
	CHECK(copy);
	memcpy(copy, data, size);
	run(copy, size, &v4);
	run(copy, size, &v6);
	free(copy);
	return 0;
}
