/* Unit tests of the control channel: sn_msg_parse (every valid message type accepted, every
 * inconsistency refused) and supernode-control's side of the conversation (control/chan.c):
 * handshake, resync, reconcile, acks, punts and the echo service, timeouts. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h"
#include "counters.h"
#include "echo.h"
#include "sn_channel.h"
#include "sn_log.h"

/* ---------- message builders ---------- */

static uint64_t mbuf[SN_CHANNEL_MAX_MSG / 8 + 8]; /* aligned, with room past the maximum */

static uint8_t *body_of(void *buf)
{
	return (uint8_t *)buf + sizeof(struct sn_msg_hdr);
}

static size_t build_fixed(void *buf, enum sn_msg_type type, const void *body, uint32_t len)
{
	memcpy(body_of(buf), body, len);
	return sn_msg_init(buf, type, 7, len);
}

static size_t build_hello(void *buf, uint32_t role, uint64_t epoch)
{
	struct sn_msg_hello h;

	memset(&h, 0, sizeof(h));
	h.role = role;
	h.pid = 4321;
	h.epoch = epoch;
	h.n_workers = 2;
	h.n_ports = 1;
	h.n_tables = 1;
	snprintf(h.build, sizeof(h.build), "%s", SN_VERSION);
	return build_fixed(buf, SN_MSG_HELLO, &h, sizeof(h));
}

static size_t build_error(void *buf, uint32_t bad_seq, int err)
{
	struct sn_msg_error e;

	memset(&e, 0, sizeof(e));
	e.bad_seq = bad_seq;
	e.error = err;
	snprintf(e.text, sizeof(e.text), "refused");
	return build_fixed(buf, SN_MSG_ERROR, &e, sizeof(e));
}

static size_t build_ack(void *buf, uint32_t cmd_seq, int32_t result)
{
	struct sn_msg_table_ack a = {.cmd_seq = cmd_seq, .result = result, .entries = 3};

	return build_fixed(buf, SN_MSG_TABLE_ACK, &a, sizeof(a));
}

static size_t build_dump_req(void *buf, uint16_t table)
{
	struct sn_msg_dump_req r = {.table = table};

	return build_fixed(buf, SN_MSG_DUMP_REQ, &r, sizeof(r));
}

static size_t build_dump_end(void *buf, uint32_t entries)
{
	struct sn_msg_dump_end e = {.table = 0, .entries = entries};

	return build_fixed(buf, SN_MSG_DUMP_END, &e, sizeof(e));
}

static size_t build_dispatch(void *buf, enum sn_msg_type type, uint8_t op, uint16_t port,
			     uint8_t family, uint16_t handler)
{
	struct sn_dispatch_key k = {.port = htons(port), .family = family};
	struct sn_dispatch_value v = {.handler = handler};
	int n;

	if (op == SN_TABLE_OP_CLEAR)
		n = sn_msg_build_table(buf, SN_CHANNEL_MAX_MSG, type, 9, SN_TABLE_UDP_DISPATCH, op,
				       NULL, 0, NULL, 0);
	else
		n = sn_msg_build_table(buf, SN_CHANNEL_MAX_MSG, type, 9, SN_TABLE_UDP_DISPATCH, op,
				       &k, sizeof(k), &v, op == SN_TABLE_OP_DEL ? 0 : sizeof(v));
	cr_assert_gt(n, 0);
	return (size_t)n;
}

static size_t build_punt(void *buf, uint16_t reason, uint8_t family, const void *payload,
			 uint16_t len)
{
	struct sn_msg_punt *p = (struct sn_msg_punt *)body_of(buf);

	memset(p, 0, sizeof(*p));
	p->reason = reason;
	p->port_id = 3;
	p->lcore = 1;
	p->payload_len = len;
	p->arrival_ns = 1;
	p->tuple.family = family;
	p->tuple.src_port = htons(40000);
	p->tuple.dst_port = htons(7);
	memset(p->tuple.src, 0xa1, sizeof(p->tuple.src));
	memset(p->tuple.dst, 0xb2, sizeof(p->tuple.dst));
	if (len)
		memcpy(p->payload, payload, len);
	return sn_msg_init(buf, SN_MSG_PUNT, 11, (uint32_t)sizeof(*p) + len);
}

static size_t build_inject(void *buf, uint8_t family, uint16_t len)
{
	struct sn_msg_inject *i = (struct sn_msg_inject *)body_of(buf);

	memset(i, 0, sizeof(*i));
	i->port_id = UINT16_MAX;
	i->payload_len = len;
	i->tuple.family = family;
	memset(i->payload, 'x', len);
	return sn_msg_init(buf, SN_MSG_INJECT, 12, (uint32_t)sizeof(*i) + len);
}

static int parse(size_t len)
{
	struct sn_msg_view v;

	return sn_msg_parse(mbuf, len, &v);
}

static struct sn_msg_hdr *hdr(void)
{
	return (struct sn_msg_hdr *)mbuf;
}

/* ---------- sn_msg_parse: accepts ---------- */

Test(parse, hello)
{
	struct sn_msg_view v;
	size_t n = build_hello(mbuf, SN_ROLE_DATAPLANE, 99);

	cr_assert_eq(sn_msg_parse(mbuf, n, &v), 0);
	cr_assert_eq(v.hdr->type, SN_MSG_HELLO);
	cr_assert_eq(v.u.hello->epoch, 99);
	cr_assert_eq(v.u.hello->pid, 4321);
	cr_assert_eq(v.body_len, sizeof(struct sn_msg_hello));
}

Test(parse, error)
{
	struct sn_msg_view v;
	size_t n = build_error(mbuf, 5, -EINVAL);

	cr_assert_eq(sn_msg_parse(mbuf, n, &v), 0);
	cr_assert_eq(v.u.error->bad_seq, 5);
	cr_assert_eq(v.u.error->error, -EINVAL);
	cr_assert_str_eq(v.u.error->text, "refused");
}

Test(parse, table_cmd_every_op)
{
	struct sn_msg_view v;
	size_t n;

	n = build_dispatch(mbuf, SN_MSG_TABLE_CMD, SN_TABLE_OP_ADD, 3478, AF_INET, 2);
	cr_assert_eq(sn_msg_parse(mbuf, n, &v), 0);
	cr_assert_eq(v.u.table_cmd->key_len, sizeof(struct sn_dispatch_key));
	cr_assert_eq(v.u.table_cmd->val_len, sizeof(struct sn_dispatch_value));
	cr_assert_eq(((const struct sn_dispatch_key *)v.key)->port, htons(3478));
	cr_assert_eq(((const struct sn_dispatch_value *)v.val)->handler, 2);
	n = build_dispatch(mbuf, SN_MSG_TABLE_CMD, SN_TABLE_OP_DEL, 3478, AF_INET6, 0);
	cr_assert_eq(sn_msg_parse(mbuf, n, &v), 0);
	cr_assert_eq(v.u.table_cmd->val_len, 0);
	n = build_dispatch(mbuf, SN_MSG_TABLE_CMD, SN_TABLE_OP_CLEAR, 0, 0, 0);
	cr_assert_eq(sn_msg_parse(mbuf, n, &v), 0);
	cr_assert_eq(v.body_len, sizeof(struct sn_msg_table_cmd));
}

Test(parse, table_ack_dump_req_dump_end_keepalive)
{
	struct sn_msg_view v;
	size_t n;

	n = build_ack(mbuf, 77, -ENOSPC);
	cr_assert_eq(sn_msg_parse(mbuf, n, &v), 0);
	cr_assert_eq(v.u.table_ack->cmd_seq, 77);
	cr_assert_eq(v.u.table_ack->result, -ENOSPC);
	n = build_dump_req(mbuf, 0);
	cr_assert_eq(sn_msg_parse(mbuf, n, &v), 0);
	cr_assert_eq(v.u.dump_req->table, 0);
	n = build_dump_end(mbuf, 12);
	cr_assert_eq(sn_msg_parse(mbuf, n, &v), 0);
	cr_assert_eq(v.u.dump_end->entries, 12);
	n = sn_msg_init(mbuf, SN_MSG_KEEPALIVE, 1, 0);
	cr_assert_eq(n, sizeof(struct sn_msg_hdr));
	cr_assert_eq(sn_msg_parse(mbuf, n, &v), 0);
	cr_assert_eq(v.body_len, 0);
}

Test(parse, dump_entry)
{
	struct sn_msg_view v;
	size_t n = build_dispatch(mbuf, SN_MSG_DUMP_ENTRY, SN_TABLE_OP_ADD, 4222, AF_INET6, 4);

	cr_assert_eq(sn_msg_parse(mbuf, n, &v), 0);
	cr_assert_eq(v.hdr->type, SN_MSG_DUMP_ENTRY);
	cr_assert_eq(((const struct sn_dispatch_key *)v.key)->family, AF_INET6);
}

Test(parse, punt_sizes_and_families)
{
	static uint8_t payload[SN_CHANNEL_MAX_PAYLOAD];
	struct sn_msg_view v;
	size_t n;

	memset(payload, 0x5a, sizeof(payload));
	n = build_punt(mbuf, SN_PUNT_ECHO, AF_INET, NULL, 0);
	cr_assert_eq(sn_msg_parse(mbuf, n, &v), 0);
	cr_assert_eq(v.u.punt->payload_len, 0);
	n = build_punt(mbuf, SN_PUNT_DHT, AF_INET6, payload, SN_CHANNEL_MAX_PAYLOAD);
	cr_assert_eq(sn_msg_parse(mbuf, n, &v), 0);
	cr_assert_eq(v.u.punt->payload_len, SN_CHANNEL_MAX_PAYLOAD);
	cr_assert_eq(v.payload, v.u.punt->payload);
	cr_assert_eq(v.payload[SN_CHANNEL_MAX_PAYLOAD - 1], 0x5a);
	for (int r = 0; r < SN_PUNT_MAX; r++) {
		n = build_punt(mbuf, (uint16_t)r, AF_INET, "abc", 3);
		cr_assert_eq(sn_msg_parse(mbuf, n, &v), 0, "reason %d", r);
	}
}

Test(parse, inject)
{
	struct sn_msg_view v;
	size_t n;

	n = build_inject(mbuf, AF_INET, 100);
	cr_assert_eq(sn_msg_parse(mbuf, n, &v), 0);
	cr_assert_eq(v.u.inject->payload_len, 100);
	n = build_inject(mbuf, AF_INET6, SN_CHANNEL_MAX_PAYLOAD);
	cr_assert_eq(sn_msg_parse(mbuf, n, &v), 0);
}

/* ---------- sn_msg_parse: refuses ---------- */

/* Every prefix of a valid message is refused (its header length no longer matches). */
static void check_truncations(size_t n)
{
	for (size_t len = 0; len < n; len++)
		cr_assert_lt(parse(len), 0, "type %u: prefix of %zu/%zu bytes accepted",
			     hdr()->type, len, n);
}

/* Every valid message with one byte more is refused: first as is (length field stale), then
 * with the length field fixed up (trailing byte in the body). */
static void check_trailing(size_t n, bool variable)
{
	((uint8_t *)mbuf)[n] = 0;
	cr_assert_lt(parse(n + 1), 0);
	hdr()->length = (uint32_t)n + 1;
	if (!variable)
		cr_assert_eq(parse(n + 1), -EBADMSG, "type %u: trailing byte accepted",
			     hdr()->type);
	else
		cr_assert_lt(parse(n + 1), 0, "type %u: trailing byte accepted", hdr()->type);
	hdr()->length = (uint32_t)n;
}

Test(reject, truncated_and_trailing_every_type)
{
	size_t n;

	n = build_hello(mbuf, SN_ROLE_DATAPLANE, 1);
	check_truncations(n);
	check_trailing(n, false);
	n = build_error(mbuf, 1, -EIO);
	check_truncations(n);
	check_trailing(n, false);
	n = build_ack(mbuf, 1, 0);
	check_truncations(n);
	check_trailing(n, false);
	n = build_dump_req(mbuf, 0);
	check_truncations(n);
	check_trailing(n, false);
	n = build_dump_end(mbuf, 0);
	check_truncations(n);
	check_trailing(n, false);
	n = sn_msg_init(mbuf, SN_MSG_KEEPALIVE, 1, 0);
	check_truncations(n);
	check_trailing(n, false);
	n = build_dispatch(mbuf, SN_MSG_TABLE_CMD, SN_TABLE_OP_ADD, 1, AF_INET, 1);
	check_truncations(n);
	check_trailing(n, true);
	n = build_dispatch(mbuf, SN_MSG_DUMP_ENTRY, SN_TABLE_OP_ADD, 1, AF_INET, 1);
	check_truncations(n);
	check_trailing(n, true);
	n = build_punt(mbuf, SN_PUNT_ECHO, AF_INET, "hello", 5);
	check_truncations(n);
	check_trailing(n, true);
	n = build_inject(mbuf, AF_INET, 5);
	check_truncations(n);
	check_trailing(n, true);
}

Test(reject, body_shorter_than_fixed_part)
{
	/* header length consistent with len, but the body is too short for the type */
	static const uint8_t types[] = {SN_MSG_HELLO,	  SN_MSG_ERROR,	   SN_MSG_TABLE_CMD,
					SN_MSG_TABLE_ACK, SN_MSG_DUMP_REQ, SN_MSG_DUMP_ENTRY,
					SN_MSG_DUMP_END,  SN_MSG_PUNT,	   SN_MSG_INJECT};

	for (size_t t = 0; t < sizeof(types); t++) {
		memset(mbuf, 0, 64);
		size_t n = sn_msg_init(mbuf, types[t], 1, 1);

		cr_assert_eq(parse(n), -EBADMSG, "type %u with a 1-byte body accepted", types[t]);
	}
}

Test(reject, header_fields)
{
	size_t n = build_ack(mbuf, 1, 0);

	cr_assert_eq(parse(n), 0);
	hdr()->magic = 0x4e54;
	cr_assert_eq(parse(n), -EBADMSG);
	hdr()->magic = SN_CHANNEL_MAGIC;
	hdr()->version = SN_CHANNEL_VERSION + 1;
	cr_assert_eq(parse(n), -EPROTO);
	hdr()->version = 0;
	cr_assert_eq(parse(n), -EPROTO);
	hdr()->version = SN_CHANNEL_VERSION;
	hdr()->type = 0;
	cr_assert_eq(parse(n), -EBADMSG);
	hdr()->type = SN_MSG_TYPE_MAX;
	cr_assert_eq(parse(n), -EBADMSG);
	hdr()->type = 0xff;
	cr_assert_eq(parse(n), -EBADMSG);
	hdr()->type = SN_MSG_TABLE_ACK;
	hdr()->length = (uint32_t)n + 1;
	cr_assert_eq(parse(n), -EBADMSG);
	hdr()->length = (uint32_t)n - 1;
	cr_assert_eq(parse(n), -EBADMSG);
	hdr()->length = 0xffffffffu;
	cr_assert_eq(parse(n), -EBADMSG);
	hdr()->length = (uint32_t)n;
	hdr()->reserved = 1;
	cr_assert_eq(parse(n), -EBADMSG);
	hdr()->reserved = 0;
	cr_assert_eq(parse(n), 0);
}

Test(reject, too_short_and_too_long)
{
	cr_assert_eq(parse(0), -EBADMSG);
	cr_assert_eq(parse(sizeof(struct sn_msg_hdr) - 1), -EBADMSG);
	memset(mbuf, 0, sizeof(mbuf));
	sn_msg_init(mbuf, SN_MSG_INJECT, 1, SN_CHANNEL_MAX_MSG + 1 - sizeof(struct sn_msg_hdr));
	cr_assert_eq(parse(SN_CHANNEL_MAX_MSG + 1), -EMSGSIZE);
}

Test(reject, table_lengths)
{
	size_t n = build_dispatch(mbuf, SN_MSG_TABLE_CMD, SN_TABLE_OP_ADD, 1, AF_INET, 1);
	struct sn_msg_table_cmd *c = (struct sn_msg_table_cmd *)body_of(mbuf);

	c->key_len++;
	cr_assert_eq(parse(n), -EBADMSG, "key_len too long accepted");
	c->key_len -= 2;
	cr_assert_eq(parse(n), -EBADMSG, "key_len too short accepted");
	c->key_len++;
	c->val_len++;
	cr_assert_eq(parse(n), -EBADMSG, "val_len too long accepted");
	c->val_len = 0xffff;
	c->key_len = 0xffff;
	cr_assert_eq(parse(n), -EBADMSG, "wrapping lengths accepted");
	c->key_len = 0;
	c->val_len = 8;
	cr_assert_eq(parse(n), 0, "lengths summing to the body are consistent");
}

Test(reject, table_id_and_op)
{
	size_t n = build_dispatch(mbuf, SN_MSG_TABLE_CMD, SN_TABLE_OP_ADD, 1, AF_INET, 1);
	struct sn_msg_table_cmd *c = (struct sn_msg_table_cmd *)body_of(mbuf);

	c->table = 0;
	cr_assert_eq(parse(n), -EBADMSG);
	c->table = SN_TABLE_MAX;
	cr_assert_eq(parse(n), -EBADMSG);
	c->table = SN_TABLE_UDP_DISPATCH;
	c->op = 0;
	cr_assert_eq(parse(n), -EBADMSG);
	c->op = SN_TABLE_OP_CLEAR + 1;
	cr_assert_eq(parse(n), -EBADMSG);
	c->op = SN_TABLE_OP_CLEAR; /* CLEAR names no key or value */
	cr_assert_eq(parse(n), -EBADMSG);
	c->op = SN_TABLE_OP_ADD;
	cr_assert_eq(parse(n), 0);

	n = build_dispatch(mbuf, SN_MSG_DUMP_ENTRY, SN_TABLE_OP_ADD, 1, AF_INET, 1);
	c->op = SN_TABLE_OP_DEL; /* a dump carries entries */
	cr_assert_eq(parse(n), -EBADMSG);
}

Test(reject, punt_fields)
{
	static uint8_t payload[SN_CHANNEL_MAX_PAYLOAD + 1];
	struct sn_msg_punt *p = (struct sn_msg_punt *)body_of(mbuf);
	size_t n = build_punt(mbuf, SN_PUNT_ECHO, AF_INET, "abcd", 4);

	p->payload_len = 5;
	cr_assert_eq(parse(n), -EBADMSG, "payload_len past the body accepted");
	p->payload_len = 3;
	cr_assert_eq(parse(n), -EBADMSG, "payload_len short of the body accepted");
	p->payload_len = 4;
	p->reason = SN_PUNT_MAX;
	cr_assert_eq(parse(n), -EBADMSG, "unknown reason accepted");
	p->reason = SN_PUNT_ECHO;
	for (unsigned f = 0; f < 256; f++) {
		p->tuple.family = (uint8_t)f;
		if (f == AF_INET || f == AF_INET6)
			cr_assert_eq(parse(n), 0);
		else
			cr_assert_eq(parse(n), -EBADMSG, "family %u accepted", f);
	}
	n = build_punt(mbuf, SN_PUNT_ECHO, AF_INET, payload, SN_CHANNEL_MAX_PAYLOAD + 1);
	cr_assert_eq(parse(n), -EBADMSG, "payload over SN_CHANNEL_MAX_PAYLOAD accepted");
}

Test(reject, inject_fields)
{
	struct sn_msg_inject *i = (struct sn_msg_inject *)body_of(mbuf);
	size_t n = build_inject(mbuf, AF_INET6, 10);

	i->payload_len = 11;
	cr_assert_eq(parse(n), -EBADMSG);
	i->payload_len = 9;
	cr_assert_eq(parse(n), -EBADMSG);
	i->payload_len = 10;
	i->flags = 1;
	cr_assert_eq(parse(n), -EBADMSG, "nonzero flags accepted");
	i->flags = 0;
	i->tuple.family = 0;
	cr_assert_eq(parse(n), -EBADMSG);
	i->tuple.family = AF_INET6;
	cr_assert_eq(parse(n), 0);
	n = build_inject(mbuf, AF_INET, SN_CHANNEL_MAX_PAYLOAD + 1);
	cr_assert_eq(parse(n), -EBADMSG, "payload over SN_CHANNEL_MAX_PAYLOAD accepted");
}

Test(reject, unterminated_strings)
{
	struct sn_msg_hello *h = (struct sn_msg_hello *)body_of(mbuf);
	struct sn_msg_error *e = (struct sn_msg_error *)body_of(mbuf);
	size_t n;

	n = build_hello(mbuf, SN_ROLE_DATAPLANE, 1);
	memset(h->build, 'a', sizeof(h->build));
	cr_assert_eq(parse(n), -EBADMSG, "HELLO build without NUL accepted");
	h->build[sizeof(h->build) - 1] = '\0';
	cr_assert_eq(parse(n), 0);
	n = build_error(mbuf, 1, -EIO);
	memset(e->text, 'b', sizeof(e->text));
	cr_assert_eq(parse(n), -EBADMSG, "ERROR text without NUL accepted");
}

Test(build, table_too_big)
{
	uint8_t small[24];
	uint8_t key[8] = {0};

	cr_assert_eq(sn_msg_build_table(small, sizeof(small), SN_MSG_TABLE_CMD, 1,
					SN_TABLE_UDP_DISPATCH, SN_TABLE_OP_ADD, key, 8, key, 8),
		     -EMSGSIZE);
	cr_assert_eq(sn_msg_build_table(mbuf, sizeof(mbuf), SN_MSG_TABLE_CMD, 1,
					SN_TABLE_UDP_DISPATCH, SN_TABLE_OP_ADD, mbuf, 0xffff, mbuf,
					0xffff),
		     -EMSGSIZE);
}

Test(names, punt_reasons)
{
	cr_assert_str_eq(sn_punt_reason_names[SN_PUNT_ECHO], "echo");
	for (int r = 0; r < SN_PUNT_MAX; r++)
		cr_assert_not_null(sn_punt_reason_names[r]);
}

/* ---------- control's side of the channel (control/chan.c) ---------- */

#define MAX_SENT 64

static struct {
	int n;
	size_t len[MAX_SENT];
	uint64_t msg[MAX_SENT][SN_CHANNEL_MAX_MSG / 8];
	int fail_with; /* what the tx hook returns (0: success) */
} sent;

static int capture_tx(struct ctl_chan *ch, const void *msg, size_t len)
{
	struct sn_msg_view v;

	/* everything control sends must be a valid message */
	cr_assert_eq(sn_msg_parse(msg, len, &v), 0, "control sent an invalid message");
	if (sent.fail_with)
		return sent.fail_with;
	cr_assert_lt(sent.n, MAX_SENT);
	memcpy(sent.msg[sent.n], msg, len);
	sent.len[sent.n] = len;
	sent.n++;
	return 0;
}

static struct ctl_counters ctr;
static struct ctl_chan *ch;
static uint64_t now = 1000 * CTL_NS_PER_SEC;

/* wanted: udp 7 echo, udp 3478 turn (each for ipv4 and ipv6) */
static const struct sn_dispatch_config want[] = {
    {.port = 7, .handler = SN_UDP_HANDLER_ECHO},
    {.port = 3478, .handler = SN_UDP_HANDLER_TURN},
};

static void chan_setup(void)
{
	struct ctl_chan_params p = {
	    .runtime_dir = "/nonexistent",
	    .reconnect_ms = 1000,
	    .keepalive_ms = 1000,
	    .dispatch = want,
	    .n_dispatch = 2,
	    .epfd = -1,
	    .ctr = &ctr,
	    .tx = capture_tx,
	};

	sn_log_level = SN_LOG_ERR + (getenv("SN_TEST_VERBOSE") ? 3 : 0);
	memset(&sent, 0, sizeof(sent));
	memset(&ctr, 0, sizeof(ctr));
	ch = malloc(sizeof(*ch));
	cr_assert_not_null(ch);
	cr_assert_eq(ctl_chan_init(ch, &p), 0);
	ctl_chan_set_punt_handler(ch, SN_PUNT_ECHO, ctl_echo_handle, NULL);
}

static void chan_teardown(void)
{
	ctl_chan_fini(ch);
	free(ch);
}

static const struct sn_msg_view *sent_view(int i, struct sn_msg_view *v)
{
	cr_assert_lt(i, sent.n);
	cr_assert_eq(sn_msg_parse(sent.msg[i], sent.len[i], v), 0);
	return v;
}

static void feed(size_t len)
{
	ctl_chan_handle(ch, mbuf, len, now);
}

/* Session up to the DUMP_REQ; returns with sent cleared. */
static void handshake(void)
{
	struct sn_msg_view v;

	ctl_chan_start_session(ch, now);
	cr_assert_eq(sent.n, 1);
	cr_assert_eq(sent_view(0, &v)->hdr->type, SN_MSG_HELLO);
	cr_assert_eq(v.u.hello->role, SN_ROLE_CONTROL);
	cr_assert_str_eq(v.u.hello->build, SN_VERSION);
	cr_assert_eq(ch->state, CTL_CHAN_HELLO_WAIT);
	feed(build_hello(mbuf, SN_ROLE_DATAPLANE, 555));
	cr_assert_eq(ch->state, CTL_CHAN_RESYNC);
	cr_assert_eq(sent.n, 2);
	cr_assert_eq(sent_view(1, &v)->hdr->type, SN_MSG_DUMP_REQ);
	cr_assert_eq(v.u.dump_req->table, 0);
	cr_assert_eq(ch->dp_epoch, 555);
	cr_assert_eq(ch->dp_workers, 2);
	sent.n = 0;
}

static void dump_entry(uint16_t port, uint8_t family, uint16_t handler)
{
	feed(build_dispatch(mbuf, SN_MSG_DUMP_ENTRY, SN_TABLE_OP_ADD, port, family, handler));
}

/* Asserts that sent[i] is TABLE_CMD ADD port/family/handler; returns its seq. */
static uint32_t expect_cmd(int i, uint16_t port, uint8_t family, uint16_t handler)
{
	struct sn_msg_view v;
	struct sn_dispatch_key k;
	struct sn_dispatch_value val;

	cr_assert_eq(sent_view(i, &v)->hdr->type, SN_MSG_TABLE_CMD);
	cr_assert_eq(v.u.table_cmd->table, SN_TABLE_UDP_DISPATCH);
	cr_assert_eq(v.u.table_cmd->op, SN_TABLE_OP_ADD);
	cr_assert_eq(v.u.table_cmd->key_len, sizeof(k));
	cr_assert_eq(v.u.table_cmd->val_len, sizeof(val));
	memcpy(&k, v.key, sizeof(k));
	memcpy(&val, v.val, sizeof(val));
	cr_assert_eq(ntohs(k.port), port);
	cr_assert_eq(k.family, family);
	cr_assert_eq(val.handler, handler);
	return v.hdr->seq;
}

TestSuite(chan, .init = chan_setup, .fini = chan_teardown);

Test(chan, resync_with_everything_present_changes_nothing)
{
	handshake();
	dump_entry(7, AF_INET, SN_UDP_HANDLER_ECHO);
	dump_entry(7, AF_INET6, SN_UDP_HANDLER_ECHO);
	dump_entry(3478, AF_INET, SN_UDP_HANDLER_TURN);
	dump_entry(3478, AF_INET6, SN_UDP_HANDLER_TURN);
	dump_entry(4222, AF_INET, SN_UDP_HANDLER_DHT); /* not in the config: kept */
	feed(build_dump_end(mbuf, 5));
	cr_assert_eq(ch->state, CTL_CHAN_READY);
	cr_assert_eq(sent.n, 0, "a restarted control must not touch equal entries");
	cr_assert_eq(ctr.resyncs, 1);
	cr_assert_eq(ctr.dump_entries, 5);
	cr_assert_eq(ch->dispatch_entries, 5);
	cr_assert_eq(ctl_chan_dispatch_slot(ch, AF_INET, 4222), SN_UDP_HANDLER_DHT + 1);
	for (int i = 0; i < ch->n_want; i++)
		cr_assert_eq(ch->want[i].state, CTL_WANT_OK);
	/* ticks in READY send keepalives only */
	now += 2 * CTL_NS_PER_SEC;
	ctl_chan_tick(ch, now);
	cr_assert_eq(sent.n, 1);
	struct sn_msg_view v;
	cr_assert_eq(sent_view(0, &v)->hdr->type, SN_MSG_KEEPALIVE);
}

Test(chan, reconcile_installs_missing_and_different)
{
	uint32_t s1, s2, s3;

	handshake();
	dump_entry(7, AF_INET, SN_UDP_HANDLER_ECHO);	 /* equal */
	dump_entry(7, AF_INET6, SN_UDP_HANDLER_DROP);	 /* different */
	dump_entry(3478, AF_INET6, SN_UDP_HANDLER_TURN); /* equal */
	feed(build_dump_end(mbuf, 3));			 /* 3478/ipv4 missing */
	cr_assert_eq(sent.n, 2);
	s1 = expect_cmd(0, 7, AF_INET6, SN_UDP_HANDLER_ECHO);
	s2 = expect_cmd(1, 3478, AF_INET, SN_UDP_HANDLER_TURN);
	cr_assert_neq(s1, s2);

	feed(build_ack(mbuf, s1, 0));
	cr_assert_eq(ctl_chan_dispatch_slot(ch, AF_INET6, 7), SN_UDP_HANDLER_ECHO + 1);
	feed(build_ack(mbuf, s2, -ENOSPC));
	cr_assert_eq(ctr.errors[CTL_ERR_TABLE_NACK], 1);
	cr_assert_eq(ctl_chan_dispatch_slot(ch, AF_INET, 3478), 0);
	/* a refused entry is not retried by ticks ... */
	sent.n = 0;
	now += 10 * CTL_NS_PER_SEC;
	ctl_chan_tick(ch, now);
	for (int i = 0; i < sent.n; i++) {
		struct sn_msg_view v;

		cr_assert_neq(sent_view(i, &v)->hdr->type, SN_MSG_TABLE_CMD);
	}
	/* ... a late or unknown ack is counted, not trusted */
	feed(build_ack(mbuf, 999999, 0));
	cr_assert_eq(ctr.errors[CTL_ERR_UNEXPECTED], 1);

	/* ... and is retried at the next resync */
	ctl_chan_disconnect(ch, now, "test");
	cr_assert_eq(ctr.channel_connected, 0);
	sent.n = 0;
	handshake();
	dump_entry(7, AF_INET, SN_UDP_HANDLER_ECHO);
	dump_entry(7, AF_INET6, SN_UDP_HANDLER_ECHO);
	dump_entry(3478, AF_INET6, SN_UDP_HANDLER_TURN);
	feed(build_dump_end(mbuf, 3));
	cr_assert_eq(sent.n, 1);
	s3 = expect_cmd(0, 3478, AF_INET, SN_UDP_HANDLER_TURN);
	feed(build_ack(mbuf, s3, 0));
	cr_assert_eq(ctr.resyncs, 2);
	cr_assert_eq(ctr.channel_connects, 2);
}

Test(chan, unacked_command_is_resent)
{
	uint32_t s1, s2;

	handshake();
	dump_entry(7, AF_INET, SN_UDP_HANDLER_ECHO);
	dump_entry(7, AF_INET6, SN_UDP_HANDLER_ECHO);
	dump_entry(3478, AF_INET6, SN_UDP_HANDLER_TURN);
	feed(build_dump_end(mbuf, 3));
	cr_assert_eq(sent.n, 1);
	s1 = expect_cmd(0, 3478, AF_INET, SN_UDP_HANDLER_TURN);
	sent.n = 0;
	now += CTL_CHAN_ACK_TIMEOUT_NS;
	ctl_chan_tick(ch, now);
	cr_assert_eq(ctr.errors[CTL_ERR_ACK_TIMEOUT], 1);
	int found = -1;
	for (int i = 0; i < sent.n; i++) {
		struct sn_msg_view v;

		if (sent_view(i, &v)->hdr->type == SN_MSG_TABLE_CMD)
			found = i;
	}
	cr_assert_geq(found, 0);
	s2 = expect_cmd(found, 3478, AF_INET, SN_UDP_HANDLER_TURN);
	cr_assert_neq(s1, s2);
	feed(build_ack(mbuf, s1, 0)); /* the old one: unknown now */
	cr_assert_eq(ctr.errors[CTL_ERR_UNEXPECTED], 1);
	feed(build_ack(mbuf, s2, 0));
	cr_assert_eq(ctl_chan_dispatch_slot(ch, AF_INET, 3478), SN_UDP_HANDLER_TURN + 1);
}

Test(chan, full_socket_drops_and_retries)
{
	handshake();
	sent.fail_with = -EAGAIN;
	feed(build_dump_end(mbuf, 0)); /* all four missing, every send would block */
	cr_assert_eq(ctr.errors[CTL_ERR_TX_WOULD_BLOCK], 4);
	cr_assert_eq(ch->session, true, "a full socket is not a broken one");
	for (int i = 0; i < ch->n_want; i++)
		cr_assert_eq(ch->want[i].state, CTL_WANT_UNKNOWN);
	sent.fail_with = 0;
	ctl_chan_tick(ch, now);
	int cmds = 0;
	for (int i = 0; i < sent.n; i++) {
		struct sn_msg_view v;

		cmds += sent_view(i, &v)->hdr->type == SN_MSG_TABLE_CMD;
	}
	cr_assert_eq(cmds, 4);
}

Test(chan, broken_socket_disconnects)
{
	handshake();
	sent.fail_with = -EPIPE;
	feed(build_dump_end(mbuf, 0));
	cr_assert_eq(ctr.errors[CTL_ERR_TX_FAILED], 1);
	ctl_chan_tick(ch, now);
	cr_assert_eq(ch->state, CTL_CHAN_DISCONNECTED);
	cr_assert_eq(ctr.errors[CTL_ERR_DISCONNECTED], 1);
}

Test(chan, echo_punt_is_injected_back)
{
	struct sn_msg_view v;
	const struct sn_msg_punt *p;

	handshake();
	feed(build_dump_end(mbuf, 0));
	sent.n = 0;
	size_t n = build_punt(mbuf, SN_PUNT_ECHO, AF_INET6, "ping!", 5);
	p = (const struct sn_msg_punt *)body_of(mbuf);
	struct sn_udp_tuple t = p->tuple;
	feed(n);
	cr_assert_eq(sent.n, 1);
	cr_assert_eq(sent_view(0, &v)->hdr->type, SN_MSG_INJECT);
	cr_assert_eq(v.u.inject->port_id, 3);
	cr_assert_eq(v.u.inject->payload_len, 5);
	cr_assert_eq(memcmp(v.payload, "ping!", 5), 0);
	cr_assert_eq(v.u.inject->tuple.family, AF_INET6);
	cr_assert_eq(v.u.inject->tuple.src_port, t.dst_port);
	cr_assert_eq(v.u.inject->tuple.dst_port, t.src_port);
	cr_assert_eq(memcmp(v.u.inject->tuple.src, t.dst, 16), 0);
	cr_assert_eq(memcmp(v.u.inject->tuple.dst, t.src, 16), 0);
	cr_assert_eq(ctr.echo_replies, 1);
	cr_assert_eq(ctr.punts[SN_PUNT_ECHO], 1);

	/* a full-size payload still fits an INJECT */
	static uint8_t big[SN_CHANNEL_MAX_PAYLOAD];
	memset(big, 7, sizeof(big));
	feed(build_punt(mbuf, SN_PUNT_ECHO, AF_INET, big, sizeof(big)));
	cr_assert_eq(ctr.echo_replies, 2);
}

Test(chan, punt_without_handler_is_counted)
{
	handshake();
	feed(build_punt(mbuf, SN_PUNT_TURN, AF_INET, "x", 1));
	feed(build_punt(mbuf, SN_PUNT_DHT, AF_INET, "y", 1));
	feed(build_punt(mbuf, SN_PUNT_DHT, AF_INET, "z", 1));
	cr_assert_eq(ctr.punts[SN_PUNT_TURN], 1);
	cr_assert_eq(ctr.punts[SN_PUNT_DHT], 2);
	cr_assert_eq(ctr.punts_unhandled[SN_PUNT_DHT], 2);
	cr_assert_eq(ctr.echo_replies, 0);
	cr_assert_eq(sent.n, 0);
}

Test(chan, malformed_is_counted_and_answered)
{
	struct sn_msg_view v;

	handshake();
	size_t n = build_ack(mbuf, 1, 0);
	hdr()->reserved = 3;
	hdr()->seq = 4242;
	feed(n);
	feed(3); /* shorter than a header */
	cr_assert_eq(ctr.errors[CTL_ERR_MALFORMED], 2);
	cr_assert_eq(ctr.rx_msgs, 3); /* HELLO + 2 */
	cr_assert_eq(sent.n, 2);
	cr_assert_eq(sent_view(0, &v)->hdr->type, SN_MSG_ERROR);
	cr_assert_eq(v.u.error->bad_seq, 4242);
	cr_assert_eq(v.u.error->error, -EBADMSG);
	cr_assert_eq(ch->state, CTL_CHAN_RESYNC, "a bad message does not end the session");
}

Test(chan, unexpected_messages)
{
	handshake();
	feed(build_hello(mbuf, SN_ROLE_DATAPLANE, 1)); /* second HELLO */
	feed(build_dispatch(mbuf, SN_MSG_TABLE_CMD, SN_TABLE_OP_ADD, 1, AF_INET, 1));
	feed(build_dump_req(mbuf, 0));
	feed(build_inject(mbuf, AF_INET, 1));
	cr_assert_eq(ctr.errors[CTL_ERR_UNEXPECTED], 4);
	feed(build_dump_end(mbuf, 0));
	dump_entry(9, AF_INET, 1); /* outside a resync */
	feed(build_dump_end(mbuf, 0));
	cr_assert_eq(ctr.errors[CTL_ERR_UNEXPECTED], 6);
	cr_assert_eq(ctr.resyncs, 1);
}

Test(chan, bad_dump_entries)
{
	handshake();
	dump_entry(9, AF_INET, SN_UDP_HANDLER_MAX); /* unknown handler */
	struct sn_dispatch_key k = {.port = htons(9), .family = AF_INET};
	int n = sn_msg_build_table(mbuf, sizeof(mbuf), SN_MSG_DUMP_ENTRY, 1, SN_TABLE_UDP_DISPATCH,
				   SN_TABLE_OP_ADD, &k, sizeof(k), NULL, 0);
	feed((size_t)n); /* no value */
	k.family = 3;
	uint32_t val = 1;
	n = sn_msg_build_table(mbuf, sizeof(mbuf), SN_MSG_DUMP_ENTRY, 1, SN_TABLE_UDP_DISPATCH,
			       SN_TABLE_OP_ADD, &k, sizeof(k), &val, sizeof(val));
	feed((size_t)n);	       /* bad family */
	feed(build_dump_end(mbuf, 5)); /* says 5, got 3 */
	cr_assert_eq(ctr.errors[CTL_ERR_BAD_ENTRY], 4);
	cr_assert_eq(ch->dispatch_entries, 0);
	cr_assert_eq(ch->state, CTL_CHAN_READY);
}

Test(chan, hello_from_non_dataplane_and_version_mismatch)
{
	ctl_chan_start_session(ch, now);
	feed(build_hello(mbuf, SN_ROLE_CONTROL, 1));
	cr_assert_eq(ctr.errors[CTL_ERR_UNEXPECTED], 1);
	cr_assert_eq(ch->state, CTL_CHAN_HELLO_WAIT);
	size_t n = build_hello(mbuf, SN_ROLE_DATAPLANE, 1);
	hdr()->version = SN_CHANNEL_VERSION + 1;
	feed(n);
	cr_assert_eq(ctr.errors[CTL_ERR_VERSION], 1);
	cr_assert_eq(ch->state, CTL_CHAN_DISCONNECTED);
}

Test(chan, error_reply_to_hello_disconnects)
{
	ctl_chan_start_session(ch, now);
	feed(build_error(mbuf, 1, -EPROTO));
	cr_assert_eq(ctr.errors[CTL_ERR_REMOTE_ERROR], 1);
	cr_assert_eq(ch->state, CTL_CHAN_DISCONNECTED);
}

Test(chan, handshake_and_dump_timeouts)
{
	ctl_chan_start_session(ch, now);
	now += CTL_CHAN_HANDSHAKE_TIMEOUT_NS - 1;
	ctl_chan_tick(ch, now);
	cr_assert_eq(ch->state, CTL_CHAN_HELLO_WAIT);
	now += 1;
	ctl_chan_tick(ch, now);
	cr_assert_eq(ch->state, CTL_CHAN_DISCONNECTED);
	cr_assert_eq(ctr.errors[CTL_ERR_HANDSHAKE_TIMEOUT], 1);

	sent.n = 0;
	handshake();
	now += CTL_CHAN_HANDSHAKE_TIMEOUT_NS / 2;
	dump_entry(7, AF_INET, 2); /* progress moves the deadline */
	now += CTL_CHAN_HANDSHAKE_TIMEOUT_NS / 2 + 1;
	ctl_chan_tick(ch, now);
	cr_assert_eq(ch->state, CTL_CHAN_RESYNC);
	now += CTL_CHAN_HANDSHAKE_TIMEOUT_NS;
	ctl_chan_tick(ch, now);
	cr_assert_eq(ch->state, CTL_CHAN_DISCONNECTED);
	cr_assert_eq(ctr.errors[CTL_ERR_HANDSHAKE_TIMEOUT], 2);
}

Test(chan, dataplane_error_for_command_marks_it_refused)
{
	handshake();
	feed(build_dump_end(mbuf, 0));
	uint32_t s = expect_cmd(0, 7, AF_INET, SN_UDP_HANDLER_ECHO);
	feed(build_error(mbuf, s, -EINVAL));
	cr_assert_eq(ch->want[0].state, CTL_WANT_FAILED);
	cr_assert_eq(ch->state, CTL_CHAN_READY);
}

Test(chan, wanted_drop_matches_an_absent_entry)
{
	static const struct sn_dispatch_config drop[] = {
	    {.port = 9, .handler = SN_UDP_HANDLER_DROP}};
	struct ctl_chan_params p = {
	    .runtime_dir = "/nonexistent",
	    .reconnect_ms = 1000,
	    .keepalive_ms = 1000,
	    .dispatch = drop,
	    .n_dispatch = 1,
	    .epfd = -1,
	    .ctr = &ctr,
	    .tx = capture_tx,
	};

	ctl_chan_fini(ch);
	cr_assert_eq(ctl_chan_init(ch, &p), 0);
	handshake();
	feed(build_dump_end(mbuf, 0));
	cr_assert_eq(sent.n, 0, "a drop entry is what an absent entry means");
	cr_assert_eq(ch->want[0].state, CTL_WANT_OK);
}

Test(chan, names)
{
	cr_assert_str_eq(ctl_chan_state_name(CTL_CHAN_READY), "ready");
	cr_assert_str_eq(ctl_udp_handler_name(SN_UDP_HANDLER_ECHO), "echo");
	cr_assert_str_eq(ctl_udp_handler_name(99), "?");
	for (int i = 0; i < CTL_ERR_MAX; i++)
		cr_assert_not_null(ctl_chan_error_names[i]);
}
