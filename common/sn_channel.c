#include "sn_channel.h"

#include <errno.h>
#include <string.h>

const char *const sn_punt_reason_names[SN_PUNT_MAX] = {
#define SN_X_NAME(name, label) label,
    SN_PUNT_REASONS(SN_X_NAME)
#undef SN_X_NAME
};

/* Fixed body size of each type; the variable part (key/value/payload) is checked below. */
static const uint32_t fixed_body[SN_MSG_TYPE_MAX] = {
    [SN_MSG_HELLO] = sizeof(struct sn_msg_hello),
    [SN_MSG_ERROR] = sizeof(struct sn_msg_error),
    [SN_MSG_TABLE_CMD] = sizeof(struct sn_msg_table_cmd),
    [SN_MSG_TABLE_ACK] = sizeof(struct sn_msg_table_ack),
    [SN_MSG_DUMP_REQ] = sizeof(struct sn_msg_dump_req),
    [SN_MSG_DUMP_ENTRY] = sizeof(struct sn_msg_table_cmd),
    [SN_MSG_DUMP_END] = sizeof(struct sn_msg_dump_end),
    [SN_MSG_PUNT] = sizeof(struct sn_msg_punt),
    [SN_MSG_INJECT] = sizeof(struct sn_msg_inject),
    [SN_MSG_KEEPALIVE] = 0,
    [SN_MSG_GUARD_REPORT] = sizeof(struct sn_msg_guard_report),
};

static int family_ok(uint8_t family)
{
	return family == 2 /* AF_INET */ || family == 10 /* AF_INET6 */;
}

int sn_msg_parse(const void *buf, size_t len, struct sn_msg_view *view)
{
	const uint8_t *p = buf;
	memset(view, 0, sizeof(*view));
	if (len < sizeof(struct sn_msg_hdr))
		return -EBADMSG;
	if (len > SN_CHANNEL_MAX_MSG)
		return -EMSGSIZE;
	const struct sn_msg_hdr *hdr = buf;
	if (hdr->magic != SN_CHANNEL_MAGIC)
		return -EBADMSG;
	if (hdr->version != SN_CHANNEL_VERSION)
		return -EPROTO;
	if (hdr->type == 0 || hdr->type >= SN_MSG_TYPE_MAX)
		return -EBADMSG;
	if (hdr->length != len || hdr->reserved != 0)
		return -EBADMSG;

	uint32_t body_len = (uint32_t)len - sizeof(*hdr);
	const uint8_t *body = p + sizeof(*hdr);
	uint32_t fixed = fixed_body[hdr->type];
	if (body_len < fixed)
		return -EBADMSG;
	view->hdr = hdr;
	view->body_len = body_len;

	switch (hdr->type) {
	case SN_MSG_TABLE_CMD:
	case SN_MSG_DUMP_ENTRY: {
		const struct sn_msg_table_cmd *cmd = (const void *)body;
		if ((uint32_t)cmd->key_len + cmd->val_len != body_len - fixed)
			return -EBADMSG;
		if (cmd->table == 0 || cmd->table >= SN_TABLE_MAX)
			return -EBADMSG;
		if (cmd->op < SN_TABLE_OP_ADD || cmd->op > SN_TABLE_OP_CLEAR)
			return -EBADMSG;
		/* A dump carries entries (op ADD); CLEAR names no key or value. */
		if (hdr->type == SN_MSG_DUMP_ENTRY && cmd->op != SN_TABLE_OP_ADD)
			return -EBADMSG;
		if (cmd->op == SN_TABLE_OP_CLEAR && (cmd->key_len || cmd->val_len))
			return -EBADMSG;
		view->u.table_cmd = cmd;
		view->key = cmd->data;
		view->val = cmd->data + cmd->key_len;
		return 0;
	}
	case SN_MSG_PUNT: {
		const struct sn_msg_punt *punt = (const void *)body;
		if (punt->payload_len != body_len - fixed || punt->reason >= SN_PUNT_MAX ||
		    punt->payload_len > SN_CHANNEL_MAX_PAYLOAD || !family_ok(punt->tuple.family))
			return -EBADMSG;
		view->u.punt = punt;
		view->payload = punt->payload;
		return 0;
	}
	case SN_MSG_INJECT: {
		const struct sn_msg_inject *inj = (const void *)body;
		if (inj->payload_len != body_len - fixed || inj->flags != 0 ||
		    inj->payload_len > SN_CHANNEL_MAX_PAYLOAD || !family_ok(inj->tuple.family))
			return -EBADMSG;
		view->u.inject = inj;
		view->payload = inj->payload;
		return 0;
	}
	case SN_MSG_GUARD_REPORT: {
		const struct sn_msg_guard_report *r = (const void *)body;
		if (r->n_entries > SN_GUARD_REPORT_MAX ||
		    (uint32_t)r->n_entries * sizeof(r->entries[0]) != body_len - fixed)
			return -EBADMSG;
		for (uint16_t i = 0; i < r->n_entries; i++) {
			const struct sn_guard_report_entry *e = &r->entries[i];
			if (!family_ok(e->family) || e->prefix_len == 0 ||
			    e->prefix_len > (e->family == 2 ? 32 : 128) ||
			    e->reason >= SN_GUARD_RR_MAX || e->pad)
				return -EBADMSG;
		}
		view->u.guard_report = r;
		return 0;
	}
	default:
		/* Fixed-size messages: no trailing bytes allowed. */
		if (body_len != fixed)
			return -EBADMSG;
		/* Strings must end inside their field, so readers may print them. */
		if (hdr->type == SN_MSG_HELLO &&
		    !memchr(((const struct sn_msg_hello *)body)->build, 0,
			    sizeof(((const struct sn_msg_hello *)body)->build)))
			return -EBADMSG;
		if (hdr->type == SN_MSG_ERROR &&
		    !memchr(((const struct sn_msg_error *)body)->text, 0,
			    sizeof(((const struct sn_msg_error *)body)->text)))
			return -EBADMSG;
		view->u.hello = (const void *)body; /* every union member aliases the body */
		return 0;
	}
}

uint32_t sn_msg_init(void *buf, enum sn_msg_type type, uint32_t seq, uint32_t body_len)
{
	struct sn_msg_hdr *hdr = buf;
	hdr->magic = SN_CHANNEL_MAGIC;
	hdr->version = SN_CHANNEL_VERSION;
	hdr->type = (uint8_t)type;
	hdr->length = (uint32_t)sizeof(*hdr) + body_len;
	hdr->seq = seq;
	hdr->reserved = 0;
	return hdr->length;
}

int sn_msg_build_table(void *buf, size_t cap, enum sn_msg_type type, uint32_t seq, uint16_t table,
		       uint8_t op, const void *key, uint16_t key_len, const void *val,
		       uint16_t val_len)
{
	size_t total =
	    sizeof(struct sn_msg_hdr) + sizeof(struct sn_msg_table_cmd) + key_len + val_len;
	if (total > cap || total > SN_CHANNEL_MAX_MSG)
		return -EMSGSIZE;
	struct sn_msg_table_cmd *cmd =
	    (struct sn_msg_table_cmd *)((uint8_t *)buf + sizeof(struct sn_msg_hdr));
	cmd->table = table;
	cmd->op = op;
	cmd->pad = 0;
	cmd->key_len = key_len;
	cmd->val_len = val_len;
	if (key_len)
		memcpy(cmd->data, key, key_len);
	if (val_len)
		memcpy(cmd->data + key_len, val, val_len);
	return (int)sn_msg_init(buf, type, seq, (uint32_t)(sizeof(*cmd) + key_len + val_len));
}
