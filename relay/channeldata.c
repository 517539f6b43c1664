/* channeldata.c: TURN ChannelData codec and RFC 7983 demultiplexing (see channeldata.h). */
#include "channeldata.h"

#include <errno.h>
#include <string.h>

/* clang-format off */
const char *const sn_chandata_result_names[SN_CHANDATA_RESULT_MAX] = {
#define SN_X(name, label) [SN_CHANDATA_##name] = label,
	SN_CHANDATA_RESULTS(SN_X)
#undef SN_X
};
/* clang-format on */

/* clang-format off */
const char *const sn_demux_names[SN_DEMUX_MAX] = {
	[SN_DEMUX_UNKNOWN] = "unknown",
	[SN_DEMUX_STUN] = "stun",
	[SN_DEMUX_ZRTP] = "zrtp",
	[SN_DEMUX_DTLS] = "dtls",
	[SN_DEMUX_CHANNEL] = "channel",
	[SN_DEMUX_CHANNEL_RFC5766] = "channel_rfc5766",
	[SN_DEMUX_RTP] = "rtp",
};

const uint8_t sn_demux_table[256] = {
	[0 ... 3] = SN_DEMUX_STUN,
	[16 ... 19] = SN_DEMUX_ZRTP,
	[20 ... 63] = SN_DEMUX_DTLS,
	[64 ... 79] = SN_DEMUX_CHANNEL,
	[80 ... 127] = SN_DEMUX_CHANNEL_RFC5766,
	[128 ... 191] = SN_DEMUX_RTP,
};
/* clang-format on */

static inline size_t pad4(size_t len)
{
	return (4 - (len & 3)) & 3;
}

enum sn_chandata_result sn_chandata_parse(const void *buf, size_t len, unsigned flags,
					  struct sn_chandata *cd)
{
	const uint8_t *p = buf;
	uint16_t channel, dlen;
	size_t rest;

	if (len < SN_CHANDATA_HDR_LEN)
		return SN_CHANDATA_TRUNCATED;
	channel = (uint16_t)(p[0] << 8 | p[1]);
	dlen = (uint16_t)(p[2] << 8 | p[3]);
	if (!sn_channel_valid(channel, flags))
		return SN_CHANDATA_BAD_CHANNEL;
	rest = len - SN_CHANDATA_HDR_LEN;
	if (dlen > rest)
		return SN_CHANDATA_LENGTH;
	if (rest - dlen > pad4(dlen))
		return SN_CHANDATA_TRAILING;
	cd->channel = channel;
	cd->len = dlen;
	cd->data = p + SN_CHANDATA_HDR_LEN;
	return SN_CHANDATA_OK;
}

int sn_chandata_build(void *buf, size_t cap, uint16_t channel, const void *data, size_t len,
		      unsigned flags)
{
	uint8_t *p = buf;
	size_t pad = (flags & SN_CHANDATA_F_PAD) ? pad4(len) : 0;

	if (!sn_channel_valid(channel, flags))
		return -EINVAL;
	if (len > 0xffff)
		return -EMSGSIZE;
	if (cap < SN_CHANDATA_HDR_LEN || cap - SN_CHANDATA_HDR_LEN < len + pad)
		return -ENOSPC;
	/* Move the data before writing the header: data may overlap the header bytes. */
	if (len && data != p + SN_CHANDATA_HDR_LEN)
		memmove(p + SN_CHANDATA_HDR_LEN, data, len);
	sn_chandata_write_header(p, channel, (uint16_t)len);
	memset(p + SN_CHANDATA_HDR_LEN + len, 0, pad);
	return (int)(SN_CHANDATA_HDR_LEN + len + pad);
}
