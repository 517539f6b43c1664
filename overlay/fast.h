/* fast.h: the OpenDHT requests the dataplane answers itself, as pure functions.
 *
 * A worker hands in one UDP payload and the sender's address; it gets back a verdict:
 *   REPLY  send out[0..len) back to the sender (ping and find, from the routing snapshot),
 *   PUNT   hand the datagram to control (get, put, listen, refresh, update, replies to
 *          control's own requests, errors, value fragments, listener pushes),
 *   DROP   count `reason` and free the packet.
 * Replies are what OpenDHT 2.4.12's NetworkEngine sends (sendPong, sendNodesValues for a
 * find): the same keys in the same order, the requester's address in sa, up to 8 closest
 * good nodes per wanted family (by default the family the request came in on), and a write
 * token for the requester's address and port.
 *
 * Everything read comes from the caller: our id and network id, the RCU-protected routing
 * snapshot and token secrets. Nothing is allocated, locked or logged.
 */
#ifndef SN_DHT_FAST_H
#define SN_DHT_FAST_H

#include <stddef.h>
#include <stdint.h>

#include "dht_msg.h"
#include "node_id.h"
#include "routing.h"
#include "token.h"

/* Largest fast reply: a find answer with 8 IPv4 and 8 IPv6 nodes and a token (~620 bytes). */
#define SN_DHT_FAST_REPLY_MAX 768

struct sn_dht_fast_ctx {
	const struct sn_node_id *self;	       /* our node id */
	uint32_t network;		       /* our network id (n); 0: the public network */
	const struct sn_rt_snapshot *snap;     /* may be NULL: no nodes known yet */
	const struct sn_token_secrets *tokens; /* may be NULL: find replies carry no token */
};

enum sn_dht_verdict {
	SN_DHT_DROP = 0,
	SN_DHT_REPLY,
	SN_DHT_PUNT,
};

struct sn_dht_fast_result {
	enum sn_dht_verdict verdict;
	enum sn_dht_reason reason; /* DROP: why (a parse reason or a policy one); else OK */
	enum sn_dht_type type;	   /* what the message was, when it parsed */
	enum sn_dht_query query;   /* its query name, for queries */
	uint32_t len;		   /* REPLY: bytes written to out */
};

/* Decides on a parsed message from `from`; writes a reply into out[0..cap). */
void sn_dht_fast_answer(const struct sn_dht_fast_ctx *ctx, const struct sn_dht_msg *msg,
			const struct sn_node_addr *from, uint8_t *out, size_t cap,
			struct sn_dht_fast_result *res);

/* Parses buf[0..len) and decides on it. */
void sn_dht_fast_process(const struct sn_dht_fast_ctx *ctx, const void *buf, size_t len,
			 const struct sn_node_addr *from, uint8_t *out, size_t cap,
			 struct sn_dht_fast_result *res);

#endif
