/* libFuzzer target for the control channel.
 *
 * 1. The whole input is one message for sn_msg_parse(); when it is accepted, every length in
 *    the view must lie inside the input.
 * 2. The input is also a session for supernode-control's channel handling (control/chan.c):
 *    a sequence of records [flags u8][len u16 little-endian][len bytes of message], fed to
 *    ctl_chan_handle() after a session start. flags bit 0: sends fail with -EAGAIN while
 *    handling this record; bit 1: a tick follows; bits 2-7: seconds that pass first.
 *    Everything control sends must parse, and its view of the dispatch table must stay
 *    consistent.
 * The guard (control/guard.c) is registered, so GUARD_REPORTs and guard dump entries reach
 * it and the bans it pushes must parse too.
 * Seeds: tests/fuzz/corpus/channel/ (one valid message of each type, and sessions). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h"
#include "counters.h"
#include "echo.h"
#include "guard.h"
#include "sn_channel.h"
#include "sn_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t msg[(SN_CHANNEL_MAX_MSG + 64) / 8]; /* aligned like a receive buffer */
static int tx_fail;

static int fuzz_tx(struct ctl_chan *ch, const void *m, size_t len)
{
	struct sn_msg_view v;

	if (sn_msg_parse(m, len, &v) != 0)
		abort(); /* control sent something its peer would refuse */
	return tx_fail;
}

static void check_view(const struct sn_msg_view *v, size_t size)
{
	const uint8_t *start = (const uint8_t *)msg, *end = start + size;

	if (v->hdr->length != size || v->body_len + sizeof(struct sn_msg_hdr) != size)
		abort();
	if (v->key && (v->key < start || v->val + v->u.table_cmd->val_len > end ||
		       v->key + v->u.table_cmd->key_len != v->val))
		abort();
	if (v->payload && v->hdr->type == SN_MSG_PUNT && v->payload + v->u.punt->payload_len != end)
		abort();
	if (v->hdr->type == SN_MSG_GUARD_REPORT &&
	    (const uint8_t *)&v->u.guard_report->entries[v->u.guard_report->n_entries] != end)
		abort();
	if (v->payload && v->hdr->type == SN_MSG_INJECT &&
	    v->payload + v->u.inject->payload_len != end)
		abort();
}

static void check_chan(const struct ctl_chan *ch)
{
	const uint64_t *w = (const uint64_t *)ch->dispatch; /* calloc'ed: aligned */
	uint32_t n = 0;

	for (uint32_t i = 0; i < CTL_DISPATCH_SLOTS / 8; i++) {
		if (!w[i])
			continue; /* almost every word */
		for (uint32_t b = 0; b < 8; b++) {
			uint8_t slot = ch->dispatch[i * 8 + b];

			if (slot > SN_UDP_HANDLER_MAX)
				abort();
			n += slot != 0;
		}
	}
	if (n != ch->dispatch_entries)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct sn_dispatch_config want[] = {
	    {.port = 7, .handler = SN_UDP_HANDLER_ECHO},
	    {.port = 3478, .handler = SN_UDP_HANDLER_TURN},
	    {.port = 4222, .handler = SN_UDP_HANDLER_DHT},
	};
	static struct ctl_chan ch;
	static struct sn_config cfg; /* guard limits only */
	struct ctl_counters ctr;
	struct sn_msg_view v;
	uint64_t now = 1000000000ull;
	size_t off = 0;

	sn_log_level = -1; /* quiet */

	/* 1: one message */
	if (size <= sizeof(msg)) {
		memcpy(msg, data, size);
		if (sn_msg_parse(msg, size, &v) == 0)
			check_view(&v, size);
	}

	/* 2: a session */
	struct ctl_chan_params p = {
	    .runtime_dir = "/nonexistent",
	    .reconnect_ms = 100,
	    .keepalive_ms = 1000,
	    .dispatch = want,
	    .n_dispatch = 3,
	    .epfd = -1,
	    .ctr = &ctr,
	    .tx = fuzz_tx,
	};
	memset(&ctr, 0, sizeof(ctr));
	if (ctl_chan_init(&ch, &p) != 0)
		abort();
	ctl_chan_set_punt_handler(&ch, SN_PUNT_ECHO, ctl_echo_handle, NULL);
	cfg.guard = (struct sn_guard_config){.enabled = true,
					     .report_ms = 1000,
					     .ban_drops = 10,
					     .ban_intervals = 2,
					     .ban_seconds = 5,
					     .suspect_seconds = 3,
					     .suspect_factor = 4,
					     .max_bans = 16};
	if (ctl_guard_init(&cfg, &ch) != 0)
		abort();
	tx_fail = 0;
	ctl_chan_start_session(&ch, now);
	while (size - off >= 3) {
		uint8_t flags = data[off];
		size_t len = (size_t)data[off + 1] | (size_t)data[off + 2] << 8;

		off += 3;
		if (len > size - off)
			len = size - off;
		if (len > sizeof(msg))
			len = sizeof(msg);
		now += (uint64_t)(flags >> 2) * 1000000000ull;
		tx_fail = (flags & 1) ? -EAGAIN : 0;
		memcpy(msg, data + off, len);
		off += len;
		if (!ch.session)
			ctl_chan_start_session(&ch, now); /* what a reconnect does */
		ctl_chan_handle(&ch, msg, len, now);
		if (flags & 2)
			ctl_chan_tick(&ch, now);
	}
	check_chan(&ch);
	ctl_guard_fini();
	ctl_chan_fini(&ch);
	return 0;
}
