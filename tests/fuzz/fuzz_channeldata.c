/* fuzz_channeldata.c: libFuzzer target for ChannelData parse/build and the RFC 7983
 * first-byte demultiplexer. Oracles: a parsed message lies inside the input and rebuilding
 * it (padded and not) gives the same bytes back and parses again to the same view. */
#include <stdint.h>
#include <string.h>

#include "channeldata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[70000];
	static const unsigned flag_sets[2] = {0, SN_CHANDATA_F_RFC5766};

	if (size)
		check(sn_demux_first_byte(data[0]) < SN_DEMUX_MAX);
	for (int i = 0; i < 2; i++) {
		struct sn_chandata cd, again;
		enum sn_chandata_result r = sn_chandata_parse(data, size, flag_sets[i], &cd);
		int n;

		check(r < SN_CHANDATA_RESULT_MAX);
		if (r != SN_CHANDATA_OK)
			continue;
		check(cd.data == data + 4 && cd.len <= size - 4 && size - 4 - cd.len <= 3);
		check(sn_demux_first_byte(data[0]) == SN_DEMUX_CHANNEL ||
		      (flag_sets[i] && sn_demux_first_byte(data[0]) == SN_DEMUX_CHANNEL_RFC5766));
		n = sn_chandata_build(out, sizeof(out), cd.channel, cd.data, cd.len, flag_sets[i]);
		check(n == 4 + cd.len && memcmp(out, data, (size_t)n) == 0);
		n = sn_chandata_build(out, sizeof(out), cd.channel, cd.data, cd.len,
				      flag_sets[i] | SN_CHANDATA_F_PAD);
		check(n % 4 == 0);
		check(sn_chandata_parse(out, (size_t)n, flag_sets[i], &again) == SN_CHANDATA_OK);
		check(again.channel == cd.channel && again.len == cd.len &&
		      memcmp(again.data, cd.data, cd.len) == 0);
		/* Unpadded, in place (data already after the header). */
		memcpy(out + 4, cd.data, cd.len);
		n = sn_chandata_build(out, sizeof(out), cd.channel, out + 4, cd.len, flag_sets[i]);
		check(n == 4 + cd.len && memcmp(out, data, (size_t)n) == 0);
	}
	return 0;
}
