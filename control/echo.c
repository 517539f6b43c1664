#include "echo.h"

#include <errno.h>
#include <string.h>

int ctl_echo_handle(struct ctl_chan *ch, const struct sn_msg_view *v, void *arg)
{
	/* aligned like a received message; PUNT payloads fit an INJECT (both <= MAX_PAYLOAD) */
	uint64_t buf[SN_CHANNEL_MAX_MSG / 8];
	const struct sn_msg_punt *p = v->u.punt;
	struct sn_msg_inject *inj =
	    (struct sn_msg_inject *)((uint8_t *)buf + sizeof(struct sn_msg_hdr));
	size_t body = sizeof(*inj) + p->payload_len;
	int rc;

	if (p->payload_len > SN_CHANNEL_MAX_PAYLOAD ||
	    sizeof(struct sn_msg_hdr) + body > sizeof(buf))
		return -EMSGSIZE;
	memset(inj, 0, sizeof(*inj));
	inj->port_id = p->port_id;
	inj->payload_len = p->payload_len;
	inj->tuple.family = p->tuple.family;
	inj->tuple.src_port = p->tuple.dst_port;
	inj->tuple.dst_port = p->tuple.src_port;
	memcpy(inj->tuple.src, p->tuple.dst, sizeof(inj->tuple.src));
	memcpy(inj->tuple.dst, p->tuple.src, sizeof(inj->tuple.dst));
	memcpy(inj->payload, v->payload, p->payload_len);
	sn_msg_init(buf, SN_MSG_INJECT, ctl_chan_next_seq(ch), (uint32_t)body);
	rc = ctl_chan_send(ch, buf, sizeof(struct sn_msg_hdr) + body);
	if (rc == 0)
		ctl_ctr_inc(&ch->ctr->echo_replies);
	return rc;
}
