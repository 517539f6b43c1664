/* test_bench_scenario.c: the harness's frames (bench/scenario.c) are what the appliance
 * expects: Ethernet to the port's MAC, IPv4 header and UDP checksums right, ChannelData on
 * the allocation's channel carrying an SRTP packet libsrtp2 authenticates, Send indications
 * that parse, OpenDHT queries with network id 94; and the pcap file is well formed. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <srtp2/srtp.h>

#include "channeldata.h"
#include "dht_msg.h"
#include "scenario.h"
#include "stun.h"

static const uint8_t srtp_key[30] = {0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0, 0xd6, 0x4f,
				     0xa3, 0x2c, 0x06, 0xde, 0x41, 0x39, 0x0e, 0xc6, 0x75, 0xad,
				     0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6};

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)(p[n - 1] << 8);
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Checks L2-L4 and returns the UDP payload (and its length, destination port). */
static const uint8_t *check_frame(const struct bench_plan *p, const uint8_t *f, uint16_t len,
				  uint16_t *pl_len, uint16_t *dport)
{
	cr_assert_geq(len, 60);
	cr_assert(memcmp(f, p->app_mac, 6) == 0, "frame to the port's MAC");
	uint16_t type = (uint16_t)(f[12] << 8 | f[13]);
	const uint8_t *ip = f + 14, *udp;
	uint32_t pseudo;
	if (type == 0x0800) {
		cr_assert_eq(ip[0], 0x45);
		cr_assert_eq(fold(sum16(ip, 20, 0)), 0xffff, "IPv4 header checksum");
		cr_assert_eq(ip[9], 17);
		cr_assert(ip[16] == 198 && ip[17] == 18 && ip[18] == 0 && ip[19] == 1);
		udp = ip + 20;
		pseudo = sum16(ip + 12, 8, 0);
	} else {
		cr_assert_eq(type, 0x86dd);
		cr_assert_eq(ip[6], 17);
		udp = ip + 40;
		pseudo = sum16(ip + 8, 32, 0);
	}
	uint16_t ulen = (uint16_t)(udp[4] << 8 | udp[5]);
	cr_assert_leq((size_t)(udp - f) + ulen, len);
	cr_assert_eq(fold(sum16(udp, ulen, pseudo + 17u + ulen)), 0xffff, "UDP checksum");
	*pl_len = (uint16_t)(ulen - 8);
	*dport = (uint16_t)(udp[2] << 8 | udp[3]);
	return udp + 8;
}

static struct bench_plan plan(enum bench_scenario s)
{
	struct bench_plan p = {.scenario = s,
			       .allocations = 5000,
			       .routes = 64,
			       .packets = 200,
			       .seed = 7,
			       .srtp = true,
			       .app_mac = BENCH_APP_MAC_INIT};
	return p;
}

/* After bench_gen_new, which initialised libsrtp2 (a second srtp_init fails). */
static srtp_t receiver(void)
{
	srtp_policy_t pol;
	memset(&pol, 0, sizeof(pol));
	srtp_crypto_policy_set_rtp_default(&pol.rtp);
	srtp_crypto_policy_set_rtcp_default(&pol.rtcp);
	pol.ssrc.type = ssrc_any_inbound;
	pol.key = (unsigned char *)srtp_key;
	pol.window_size = 1024;
	srtp_t s;
	cr_assert_eq(srtp_create(&s, &pol), srtp_err_status_ok);
	return s;
}

Test(bench_scenario, channeldata_carries_srtp_on_the_allocations_channel)
{
	struct bench_plan p = plan(BENCH_CHANNELDATA);
	struct bench_gen *g = bench_gen_new(&p);
	cr_assert_not_null(g);
	srtp_t rx = receiver();
	uint8_t f[BENCH_MAX_FRAME];
	for (uint32_t k = 0; k < p.packets; k++) {
		uint16_t plen, dport, len = bench_gen_frame(g, k, f);
		cr_assert_gt(len, 0);
		const uint8_t *pl = check_frame(&p, f, len, &plen, &dport);
		cr_assert_eq(dport, BENCH_TURN_PORT);
		struct sn_chandata cd;
		cr_assert_eq(sn_chandata_parse(pl, plen, 0, &cd), SN_CHANDATA_OK);
		cr_assert_eq(cd.len, BENCH_SRTP_BYTES);
		uint8_t rtp[256];
		int n = (int)cd.len;
		memcpy(rtp, cd.data, cd.len);
		cr_assert_eq(srtp_unprotect(rx, rtp, &n), srtp_err_status_ok, "SRTP packet %u", k);
		cr_assert_eq(n, 172);
	}
	srtp_dealloc(rx);
	bench_gen_free(g);
}

Test(bench_scenario, send_indications_parse)
{
	struct bench_plan p = plan(BENCH_SEND);
	struct bench_gen *g = bench_gen_new(&p);
	uint8_t f[BENCH_MAX_FRAME];
	for (uint32_t k = 0; k < p.packets; k++) {
		uint16_t plen, dport, len = bench_gen_frame(g, k, f);
		const uint8_t *pl = check_frame(&p, f, len, &plen, &dport);
		struct sn_stun_msg m;
		cr_assert_eq(sn_stun_parse(pl, plen, &m), SN_STUN_OK);
		cr_assert_eq(sn_stun_type_method(m.type), SN_STUN_METHOD_SEND);
		cr_assert(sn_stun_has(&m, SN_STUN_A_XOR_PEER_ADDRESS));
		cr_assert(sn_stun_has(&m, SN_STUN_A_DATA));
	}
	bench_gen_free(g);
}

Test(bench_scenario, dht_queries_have_our_network_id)
{
	enum bench_scenario ss[] = {BENCH_DHT_PING, BENCH_DHT_FIND, BENCH_DHT_MIX, BENCH_FLOOD,
				    BENCH_MIXED};
	for (size_t i = 0; i < sizeof(ss) / sizeof(ss[0]); i++) {
		struct bench_plan p = plan(ss[i]);
		struct bench_gen *g = bench_gen_new(&p);
		uint8_t f[BENCH_MAX_FRAME];
		unsigned dht = 0;
		for (uint32_t k = 0; k < p.packets; k++) {
			uint16_t plen, dport, len = bench_gen_frame(g, k, f);
			cr_assert_gt(len, 0, "%s frame %u", bench_scenario_names[ss[i]], k);
			const uint8_t *pl = check_frame(&p, f, len, &plen, &dport);
			if (dport != BENCH_DHT_PORT)
				continue;
			struct sn_dht_msg msg;
			cr_assert_eq(sn_dht_parse(pl, plen, &msg), SN_DHT_R_OK);
			cr_assert_eq(msg.network, BENCH_NETWORK_ID);
			dht++;
		}
		cr_assert_gt(dht, 0);
		bench_gen_free(g);
	}
}

Test(bench_scenario, pcap_file_and_sidecar)
{
	char path[] = "/tmp/test_bench_scenario_XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	struct bench_plan p = plan(BENCH_MIXED);
	cr_assert_eq(bench_write_pcap(&p, path), 0);
	FILE *f = fopen(path, "rb");
	uint32_t gh[6], rec[4];
	cr_assert_eq(fread(gh, sizeof(gh), 1, f), 1);
	cr_assert_eq(gh[0], 0xa1b2c3d4u);
	cr_assert_eq(gh[5], 1u, "Ethernet link type");
	unsigned n = 0;
	while (fread(rec, sizeof(rec), 1, f) == 1) {
		cr_assert(rec[2] == rec[3] && rec[2] >= 60 && rec[2] <= BENCH_MAX_FRAME);
		cr_assert_eq(fseek(f, (long)rec[2], SEEK_CUR), 0);
		n++;
	}
	fclose(f);
	cr_assert_eq(n, p.packets + 2, "neighbour frames then the scenario's");
	char side[64];
	snprintf(side, sizeof(side), "%s.json", path);
	cr_assert_eq(access(side, R_OK), 0);
	unlink(side);
	unlink(path);
}

Test(bench_scenario, table_entries_match_the_frames)
{
	struct sn_turn_alloc_key ak;
	struct sn_turn_alloc_value av;
	struct sn_turn_perm_key pk;
	struct sn_turn_perm_value pv;
	struct sn_turn_channel_key ck;
	struct sn_turn_channel_value cv;
	/* Relayed ports are unique per family and port, and skip the service ports. */
	bench_alloc_entry(0, 1, &ak, &av, &pk, &pv, &ck, &cv);
	cr_assert_eq(av.relay_port4, BENCH_RELAY_MIN);
	cr_assert_eq(av.port_idx, 0);
	bench_alloc_entry(BENCH_TURN_PORT - BENCH_RELAY_MIN, 1, &ak, &av, &pk, &pv, &ck, &cv);
	cr_assert_eq(av.relay_port4, BENCH_TURN_PORT + 1);
	bench_alloc_entry(BENCH_RELAY_SPAN, 1, &ak, &av, &pk, &pv, &ck, &cv);
	cr_assert_eq(av.relay_port6, BENCH_RELAY_MIN);
	cr_assert_eq(av.relay_port4, 0);
	bench_alloc_entry(BENCH_PER_PORT - 1, 1, &ak, &av, &pk, &pv, &ck, &cv);
	cr_assert_eq(av.relay_port6, BENCH_RELAY_MAX);
	bench_alloc_entry(BENCH_MAX_ALLOCS - 1, 1, &ak, &av, &pk, &pv, &ck, &cv);
	cr_assert_eq(av.port_idx, BENCH_MAX_PORTS - 1);
	cr_assert_eq(av.relay_port6, BENCH_RELAY_MAX);
	cr_assert_eq(av.client.family == AF_INET ? av.client.dst[2] : av.client.dst[7],
		     BENCH_MAX_PORTS - 1, "198.18.7.1 or 2001:db8:5e:7::1");
	cr_assert_eq(pk.family, cv.family);
	cr_assert(memcmp(pk.peer, cv.peer, 16) == 0);
	cr_assert(sn_channel_valid(ck.channel, 0));
}
