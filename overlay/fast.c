/* fast.c: see fast.h. */
#include "fast.h"

#include <string.h>

/* The reason a message from `from` is not for us at all, or OK. */
static enum sn_dht_reason refuse(const struct sn_dht_fast_ctx *ctx, const struct sn_dht_msg *msg,
				 const struct sn_node_addr *from)
{
	/* the order of OpenDHT's processMessage: source, network, then sender id */
	if (sn_rt_addr_martian(from))
		return SN_DHT_R_MARTIAN;
	if (msg->network != ctx->network)
		return SN_DHT_R_WRONG_NETWORK;
	if (msg->type != SN_DHT_T_VALUE_DATA && sn_node_id_eq(&msg->id, ctx->self))
		return SN_DHT_R_SELF_ID;
	return SN_DHT_R_OK;
}

/* OpenDHT's onFindNode + bufferNodes: the closest good nodes of each wanted family. */
static int answer_find(const struct sn_dht_fast_ctx *ctx, const struct sn_dht_msg *msg,
		       const struct sn_node_addr *from, uint8_t *out, size_t cap)
{
	const uint8_t *n4[SN_DHT_SEND_NODES], *n6[SN_DHT_SEND_NODES];
	uint8_t token[SN_TOKEN_LEN];
	struct sn_dht_reply r;
	unsigned want;

	memset(&r, 0, sizeof(r));
	r.tid = msg->tid;
	r.network = ctx->network;
	r.id = ctx->self;
	r.sa = from;
	/* without w, a requester gets nodes of the family it asked over */
	if (msg->has & SN_DHT_F_WANT)
		want = msg->want;
	else
		want = from->family == AF_INET ? SN_DHT_WANT4 : SN_DHT_WANT6;
	if (want & SN_DHT_WANT4)
		r.n_nodes4 =
		    sn_rt_closest_k(ctx->snap, &msg->target, AF_INET, SN_DHT_SEND_NODES, n4);
	if (want & SN_DHT_WANT6)
		r.n_nodes6 =
		    sn_rt_closest_k(ctx->snap, &msg->target, AF_INET6, SN_DHT_SEND_NODES, n6);
	r.nodes4 = n4;
	r.nodes6 = n6;
	if (ctx->tokens && sn_token_make(ctx->tokens, from, token) == 0) {
		r.token = token;
		r.token_len = SN_TOKEN_LEN;
	}
	return sn_dht_build_reply(out, cap, &r);
}

void sn_dht_fast_answer(const struct sn_dht_fast_ctx *ctx, const struct sn_dht_msg *msg,
			const struct sn_node_addr *from, uint8_t *out, size_t cap,
			struct sn_dht_fast_result *res)
{
	int len;

	memset(res, 0, sizeof(*res));
	res->type = msg->type;
	res->query = msg->query;
	res->reason = refuse(ctx, msg, from);
	if (res->reason != SN_DHT_R_OK) {
		res->verdict = SN_DHT_DROP;
		return;
	}
	if (msg->type != SN_DHT_T_QUERY ||
	    (msg->query != SN_DHT_Q_PING && msg->query != SN_DHT_Q_FIND)) {
		res->verdict = SN_DHT_PUNT;
		return;
	}
	if (msg->query == SN_DHT_Q_PING)
		len = sn_dht_build_pong(out, cap, msg->tid, ctx->network, ctx->self, from);
	else
		len = answer_find(ctx, msg, from, out, cap);
	if (len < 0) {
		res->verdict = SN_DHT_DROP;
		res->reason = SN_DHT_R_NO_ROOM;
		return;
	}
	res->verdict = SN_DHT_REPLY;
	res->len = (uint32_t)len;
}

void sn_dht_fast_process(const struct sn_dht_fast_ctx *ctx, const void *buf, size_t len,
			 const struct sn_node_addr *from, uint8_t *out, size_t cap,
			 struct sn_dht_fast_result *res)
{
	struct sn_dht_msg msg;
	enum sn_dht_reason why = sn_dht_parse(buf, len, &msg);

	if (why != SN_DHT_R_OK) {
		memset(res, 0, sizeof(*res));
		res->verdict = SN_DHT_DROP;
		res->reason = why;
		return;
	}
	sn_dht_fast_answer(ctx, &msg, from, out, cap, res);
}
