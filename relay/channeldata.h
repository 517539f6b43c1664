/* channeldata.h: TURN ChannelData messages (RFC 8656 §12) and the first-byte
 * demultiplexing of RFC 7983 that tells them apart from STUN, DTLS and RTP.
 *
 * A ChannelData message is a 4-byte header (channel number, data length) and the data. Over
 * UDP the padding to a multiple of 4 is optional (§12.5); a datagram may carry the data
 * alone or the data plus up to the padding, nothing more.
 *
 * Channel numbers: RFC 8656 allows 0x4000-0x4FFF (first byte 64-79, which RFC 7983 gives to
 * TURN channels). RFC 5766, which it replaced, allowed 0x4000-0x7FFF, and clients still use
 * that range: coturn 4.6's turnutils_uclient binds channels anywhere in 0x4000-0x7FFF (seen
 * on the wire: 0x503c, 0x72cd, 0x7fff). SN_CHANDATA_F_RFC5766 accepts them; its use is a
 * policy decision of the caller (control's ChannelBind and the fast path must agree).
 *
 * Everything here is allocation-free and meant for the per-packet path. */
#ifndef SN_CHANNELDATA_H
#define SN_CHANNELDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SN_CHANDATA_HDR_LEN    4u
#define SN_CHANNEL_MIN	       0x4000u
#define SN_CHANNEL_MAX	       0x4fffu /* RFC 8656 */
#define SN_CHANNEL_MAX_RFC5766 0x7fffu /* RFC 5766 */

/* Accept channel numbers 0x5000-0x7FFF too (RFC 5766 clients). */
#define SN_CHANDATA_F_RFC5766 (1u << 0)
/* Build: pad the message to a multiple of 4 bytes (always required over TCP/TLS). */
#define SN_CHANDATA_F_PAD (1u << 1)

#define SN_CHANDATA_RESULTS(X)                                                                     \
	X(OK, "ok")                                                                                \
	X(TRUNCATED, "chandata_truncated")     /* shorter than the 4-byte header */                \
	X(BAD_CHANNEL, "chandata_bad_channel") /* channel number outside the allowed range */      \
	X(LENGTH, "chandata_length")	       /* length field runs past the datagram */           \
	X(TRAILING, "chandata_trailing")       /* more bytes after the data than padding */

/* clang-format off */
enum sn_chandata_result {
#define SN_X(name, label) SN_CHANDATA_##name,
	SN_CHANDATA_RESULTS(SN_X)
#undef SN_X
	SN_CHANDATA_RESULT_MAX
};
/* clang-format on */
extern const char *const sn_chandata_result_names[SN_CHANDATA_RESULT_MAX];

/* A parsed ChannelData message; data points into the caller's buffer. */
struct sn_chandata {
	uint16_t channel;    /* channel number, host order */
	uint16_t len;	     /* data bytes */
	const uint8_t *data; /* first data byte */
};

static inline bool sn_channel_valid(uint16_t channel, unsigned flags)
{
	uint16_t max = (flags & SN_CHANDATA_F_RFC5766) ? SN_CHANNEL_MAX_RFC5766 : SN_CHANNEL_MAX;

	return channel >= SN_CHANNEL_MIN && channel <= max;
}

/* Parses a whole UDP payload as one ChannelData message. flags: SN_CHANDATA_F_RFC5766. */
enum sn_chandata_result sn_chandata_parse(const void *buf, size_t len, unsigned flags,
					  struct sn_chandata *cd);

/* Header for data already in place after it (zero-copy relaying). */
static inline void sn_chandata_write_header(void *hdr, uint16_t channel, uint16_t len)
{
	uint8_t *p = hdr;

	p[0] = (uint8_t)(channel >> 8);
	p[1] = (uint8_t)channel;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
}

/* Builds header + data (+ zero padding with SN_CHANDATA_F_PAD) into buf. data may already
 * sit anywhere in buf, e.g. at buf + 4 (then nothing is copied). Returns the total length,
 * -EINVAL (channel out of range for flags), -EMSGSIZE (len > 65535) or -ENOSPC. */
int sn_chandata_build(void *buf, size_t cap, uint16_t channel, const void *data, size_t len,
		      unsigned flags);

/* RFC 7983 first-byte classes, plus the range RFC 5766 channel numbers start with. */
enum sn_demux {
	SN_DEMUX_UNKNOWN = 0,	  /* 4-15, 192-255: nothing we carry; drop */
	SN_DEMUX_STUN,		  /* 0-3 */
	SN_DEMUX_ZRTP,		  /* 16-19 */
	SN_DEMUX_DTLS,		  /* 20-63 */
	SN_DEMUX_CHANNEL,	  /* 64-79: TURN ChannelData, RFC 8656 channels */
	SN_DEMUX_CHANNEL_RFC5766, /* 80-127: unassigned by RFC 7983 (RFC 9443: QUIC); ChannelData
				   * of channels 0x5000-0x7FFF when the RFC 5766 range is on */
	SN_DEMUX_RTP,		  /* 128-191: RTP and RTCP */
	SN_DEMUX_MAX
};
extern const char *const sn_demux_names[SN_DEMUX_MAX];
extern const uint8_t sn_demux_table[256];

/* One load, no branch. */
static inline enum sn_demux sn_demux_first_byte(uint8_t first)
{
	return (enum sn_demux)sn_demux_table[first];
}

#endif
