/* test_channeldata.c: ChannelData parse/build and RFC 7983 demultiplexing. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "channeldata.h"

#ifndef SN_CORPUS_DIR
#error "SN_CORPUS_DIR must name tests/fuzz/corpus"
#endif

static size_t load(const char *name, uint8_t *buf, size_t cap)
{
	char path[512];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/channeldata/%s", SN_CORPUS_DIR, name);
	f = fopen(path, "rb");
	cr_assert_not_null(f, "cannot open %s", path);
	n = fread(buf, 1, cap, f);
	cr_assert(feof(f));
	fclose(f);
	return n;
}

Test(parse, valid_padded_unpadded_empty)
{
	static const uint8_t unpadded[] = {0x40, 0x00, 0x00, 0x05, 'h', 'e', 'l', 'l', 'o'};
	static const uint8_t padded[] = {0x4f, 0xff, 0x00, 0x05, 'h',  'e',
					 'l',  'l',  'o',  0xaa, 0xbb, 0xcc};
	static const uint8_t empty[] = {0x40, 0x01, 0x00, 0x00};
	struct sn_chandata cd;

	cr_assert_eq(sn_chandata_parse(unpadded, sizeof(unpadded), 0, &cd), SN_CHANDATA_OK);
	cr_assert_eq(cd.channel, 0x4000);
	cr_assert_eq(cd.len, 5);
	cr_assert_eq(cd.data, unpadded + 4);
	cr_assert_eq(sn_chandata_parse(padded, sizeof(padded), 0, &cd), SN_CHANDATA_OK,
		     "padding bytes may hold anything");
	cr_assert_eq(cd.channel, 0x4fff);
	cr_assert_eq(cd.len, 5);
	/* Partial padding is within the padding too. */
	cr_assert_eq(sn_chandata_parse(padded, 10, 0, &cd), SN_CHANDATA_OK);
	cr_assert_eq(sn_chandata_parse(empty, sizeof(empty), 0, &cd), SN_CHANDATA_OK);
	cr_assert_eq(cd.len, 0);
}

Test(parse, malformed)
{
	uint8_t b[16] = {0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4, 0, 0, 0, 0};
	struct sn_chandata cd;

	for (size_t i = 0; i < 4; i++)
		cr_assert_eq(sn_chandata_parse(b, i, 0, &cd), SN_CHANDATA_TRUNCATED);
	cr_assert_eq(sn_chandata_parse(b, 7, 0, &cd), SN_CHANDATA_LENGTH);
	cr_assert_eq(sn_chandata_parse(b, 8, 0, &cd), SN_CHANDATA_OK);
	/* Length 4 needs no padding: one more byte is trailing garbage. */
	cr_assert_eq(sn_chandata_parse(b, 9, 0, &cd), SN_CHANDATA_TRAILING);
	b[3] = 0xff;
	cr_assert_eq(sn_chandata_parse(b, 12, 0, &cd), SN_CHANDATA_LENGTH);
	b[3] = 1;
	cr_assert_eq(sn_chandata_parse(b, 8, 0, &cd), SN_CHANDATA_OK);
	cr_assert_eq(sn_chandata_parse(b, 9, 0, &cd), SN_CHANDATA_TRAILING);
	b[0] = 0x3f;
	b[1] = 0xff;
	cr_assert_eq(sn_chandata_parse(b, 8, 0, &cd), SN_CHANDATA_BAD_CHANNEL);
	cr_assert_eq(sn_chandata_parse(b, 8, SN_CHANDATA_F_RFC5766, &cd), SN_CHANDATA_BAD_CHANNEL);
	b[0] = 0x50;
	b[1] = 0x00;
	cr_assert_eq(sn_chandata_parse(b, 8, 0, &cd), SN_CHANDATA_BAD_CHANNEL);
	cr_assert_eq(sn_chandata_parse(b, 8, SN_CHANDATA_F_RFC5766, &cd), SN_CHANDATA_OK);
	b[0] = 0x7f;
	b[1] = 0xff;
	cr_assert_eq(sn_chandata_parse(b, 8, SN_CHANDATA_F_RFC5766, &cd), SN_CHANDATA_OK);
	b[0] = 0x80;
	b[1] = 0x00;
	cr_assert_eq(sn_chandata_parse(b, 8, SN_CHANDATA_F_RFC5766, &cd), SN_CHANDATA_BAD_CHANNEL);
	for (int i = 0; i < SN_CHANDATA_RESULT_MAX; i++)
		cr_assert(sn_chandata_result_names[i] && sn_chandata_result_names[i][0]);
}

Test(parse, channel_ranges)
{
	for (unsigned ch = 0; ch <= 0xffff; ch++) {
		cr_assert_eq(sn_channel_valid((uint16_t)ch, 0), ch >= 0x4000 && ch <= 0x4fff);
		cr_assert_eq(sn_channel_valid((uint16_t)ch, SN_CHANDATA_F_RFC5766),
			     ch >= 0x4000 && ch <= 0x7fff);
	}
}

Test(build, padded_unpadded_in_place_and_errors)
{
	uint8_t buf[64];
	struct sn_chandata cd;
	int n;

	n = sn_chandata_build(buf, sizeof(buf), 0x4abc, "hello", 5, 0);
	cr_assert_eq(n, 9);
	cr_assert_eq(buf[0], 0x4a);
	cr_assert_eq(buf[1], 0xbc);
	cr_assert_eq(buf[3], 5);
	cr_assert_eq(sn_chandata_parse(buf, (size_t)n, 0, &cd), SN_CHANDATA_OK);
	cr_assert_eq(memcmp(cd.data, "hello", 5), 0);

	memset(buf, 0xee, sizeof(buf));
	n = sn_chandata_build(buf, sizeof(buf), 0x4abc, "hello", 5, SN_CHANDATA_F_PAD);
	cr_assert_eq(n, 12);
	cr_assert_eq(buf[9] | buf[10] | buf[11], 0);

	/* Data already after the header: nothing moves. */
	memcpy(buf + 4, "abcdefgh", 8);
	n = sn_chandata_build(buf, sizeof(buf), 0x4001, buf + 4, 8, SN_CHANDATA_F_PAD);
	cr_assert_eq(n, 12);
	cr_assert_eq(memcmp(buf + 4, "abcdefgh", 8), 0);
	/* Data overlapping the header (shifted by two bytes). */
	memcpy(buf + 2, "xyz", 3);
	n = sn_chandata_build(buf, sizeof(buf), 0x4001, buf + 2, 3, 0);
	cr_assert_eq(n, 7);
	cr_assert_eq(memcmp(buf + 4, "xyz", 3), 0);

	cr_assert_eq(sn_chandata_build(buf, sizeof(buf), 0x5000, "x", 1, 0), -EINVAL);
	cr_assert_eq(sn_chandata_build(buf, sizeof(buf), 0x5000, "x", 1, SN_CHANDATA_F_RFC5766), 5);
	cr_assert_eq(sn_chandata_build(buf, sizeof(buf), 0x4000, NULL, 70000, 0), -EMSGSIZE);
	cr_assert_eq(sn_chandata_build(buf, 8, 0x4000, "hello", 5, 0), -ENOSPC);
	cr_assert_eq(sn_chandata_build(buf, 9, 0x4000, "hello", 5, SN_CHANDATA_F_PAD), -ENOSPC);
	cr_assert_eq(sn_chandata_build(buf, 3, 0x4000, NULL, 0, 0), -ENOSPC);
	cr_assert_eq(sn_chandata_build(buf, 4, 0x4000, NULL, 0, SN_CHANDATA_F_PAD), 4);

	sn_chandata_write_header(buf, 0x4123, 0x0456);
	cr_assert_eq(buf[0], 0x41);
	cr_assert_eq(buf[1], 0x23);
	cr_assert_eq(buf[2], 0x04);
	cr_assert_eq(buf[3], 0x56);
}

Test(demux, rfc7983_ranges)
{
	for (unsigned b = 0; b < 256; b++) {
		enum sn_demux want = SN_DEMUX_UNKNOWN;

		if (b <= 3)
			want = SN_DEMUX_STUN;
		else if (b >= 16 && b <= 19)
			want = SN_DEMUX_ZRTP;
		else if (b >= 20 && b <= 63)
			want = SN_DEMUX_DTLS;
		else if (b >= 64 && b <= 79)
			want = SN_DEMUX_CHANNEL;
		else if (b >= 80 && b <= 127)
			want = SN_DEMUX_CHANNEL_RFC5766;
		else if (b >= 128 && b <= 191)
			want = SN_DEMUX_RTP;
		cr_assert_eq(sn_demux_first_byte((uint8_t)b), want, "byte %u", b);
	}
	for (int i = 0; i < SN_DEMUX_MAX; i++)
		cr_assert(sn_demux_names[i] && sn_demux_names[i][0]);
}

Test(coturn, captured_channeldata)
{
	static const char *const files[] = {
	    "coturn_c2s_chandata_ch54b3_padded_44b.bin",
	    "coturn_c2s_chandata_ch72cd_unpadded_104b.bin",
	    "coturn_s2c_chandata_ch54b3_unpadded_41b.bin",
	    "coturn_s2c_chandata_ch72cd_unpadded_104b.bin",
	};
	uint8_t buf[256];
	struct sn_chandata cd;

	/* coturn 4.6's uclient picks channels in RFC 5766's 0x4000-0x7FFF. */
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		size_t n = load(files[i], buf, sizeof(buf));

		cr_assert_eq(sn_demux_first_byte(buf[0]), SN_DEMUX_CHANNEL_RFC5766);
		cr_assert_eq(sn_chandata_parse(buf, n, 0, &cd), SN_CHANDATA_BAD_CHANNEL, "%s",
			     files[i]);
		cr_assert_eq(sn_chandata_parse(buf, n, SN_CHANDATA_F_RFC5766, &cd), SN_CHANDATA_OK,
			     "%s", files[i]);
		cr_assert(cd.len == n - 4 || (n % 4 == 0 && cd.len > n - 8), "%s", files[i]);
	}
	/* uclient's -D (mandatory padding) message carries 37 bytes padded to 40. */
	load("coturn_c2s_chandata_ch54b3_padded_44b.bin", buf, sizeof(buf));
	cr_assert_eq(sn_chandata_parse(buf, 44, SN_CHANDATA_F_RFC5766, &cd), SN_CHANDATA_OK);
	cr_assert_eq(cd.len, 37);
}
