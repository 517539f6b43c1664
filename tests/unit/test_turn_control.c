/* Unit tests of TURN's control side: credentials (RFC 5769 long-term vector, TURN REST API
 * usernames), nonces and their staleness, the peer address policy (every default-denied
 * range, IPv4-mapped and -compatible forms, operator lists), and the engine driven end to
 * end through a fake dataplane (control/chan.c with a tx hook): the size rule of
 * unauthenticated answers, Allocate/Refresh/CreatePermission/ChannelBind with their errors,
 * quotas, relay port exhaustion, answers held until TABLE_ACK, expiry, and adoption of a
 * dumped allocation after a control restart. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h"
#include "counters.h"
#include "sn_channel.h"
#include "sn_config.h"
#include "sn_log.h"
#include "stun.h"
#include "turn.h"
#include "turn_auth.h"
#include "turn_int.h"
#include "turn_policy.h"

/* ---------------------------------------------------------------- helpers */

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;

	for (; *s; s++) {
		int v;

		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else
			continue;
		if (hi < 0) {
			hi = v;
		} else {
			cr_assert_lt(n, cap);
			out[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	return n;
}

static const char *const base_yaml =
    "runtime_dir: /tmp/sn-unit-turn\n"
    "dataplane:\n"
    "  workers: [1]\n"
    "  ports:\n"
    "    - {name: p0, device: net_null0, ipv4: 198.18.0.1/24, ipv6: '2001:db8:5e::1/64'}\n"
    "turn:\n"
    "  realm: supernode.lab\n"
    "  users:\n"
    "    - {name: lab, password: lab-password}\n"
    "    - {name: quota, password: quota-password, quota: 2}\n"
    "    - {name: other, password: other-password}\n"
    "  rest_secret: lab-secret\n"
    "  rfc5766_channels: false\n"
    "  max_permissions: 3\n"
    "  max_channels: 2\n"
    "  allowed_peers: [198.18.0.2/32, '2001:db8:5e::2/128']\n";

static struct sn_config cfg;

static void load_cfg(const char *extra)
{
	char text[4096], err[256];
	int rc;

	snprintf(text, sizeof(text), "%s%s", base_yaml, extra ? extra : "");
	rc = sn_config_load_buffer("t.yaml", text, strlen(text), &cfg, err, sizeof(err));
	cr_assert_eq(rc, 0, "%s", err);
}

/* ---------------------------------------------------------------- credentials */

static const char rfc5769_long_term[] =
    "00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e"
    "00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00"
    "00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46 53 54 76 79 36 34 "
    "73 41"
    "00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00"
    "00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66";

Test(turn_auth, rfc5769_long_term_vector)
{
	static const char yaml[] =
	    "dataplane:\n  workers: [1]\n  ports:\n    - {name: p0, device: net_null0, ipv4: "
	    "198.18.0.1/24}\n"
	    "turn:\n  realm: example.org\n  users:\n"
	    "    - {name: "
	    "\"\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9\", "
	    "password: TheMatrIX}\n";
	struct ctl_turn_auth a = {.cfg = &cfg.turn};
	struct ctl_turn_cred c;
	struct sn_stun_msg m;
	uint8_t buf[256];
	const uint8_t *user;
	uint16_t ulen;
	char err[256];
	size_t n = unhex(rfc5769_long_term, buf, sizeof(buf));

	cr_assert_eq(sn_config_load_buffer("t.yaml", yaml, strlen(yaml), &cfg, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(sn_stun_parse(buf, n, &m), SN_STUN_OK);
	user = sn_stun_get(&m, SN_STUN_A_USERNAME, &ulen);
	cr_assert_eq(ctl_turn_credential(&a, user, ulen, 1000, &c), CTL_CRED_OK);
	cr_assert_eq(c.key_len, 16);
	cr_assert_eq(c.user_idx, 0);
	cr_assert_eq(sn_stun_check_integrity(&m, c.key, c.key_len), SN_STUN_OK);
	/* another password gives another key */
	snprintf(cfg.turn.users[0].password, sizeof(cfg.turn.users[0].password), "thematrix");
	cr_assert_eq(ctl_turn_credential(&a, user, ulen, 1000, &c), CTL_CRED_OK);
	cr_assert_eq(sn_stun_check_integrity(&m, c.key, c.key_len), SN_STUN_INTEGRITY_MISMATCH);
	/* an unknown user without a REST secret */
	cr_assert_eq(ctl_turn_credential(&a, (const uint8_t *)"bob", 3, 1000, &c),
		     CTL_CRED_UNKNOWN_USER);
	sn_config_free(&cfg);
}

Test(turn_auth, rest_api_usernames)
{
	struct ctl_turn_auth a = {.cfg = &cfg.turn};
	struct ctl_turn_cred c, ref;
	char pass[CTL_TURN_REST_PASS_LEN + 1];
	uint8_t key[32];

	load_cfg(NULL);
	/* base64(HMAC-SHA1("lab-secret", USERNAME)), computed with Python's hmac/base64 */
	cr_assert_eq(
	    ctl_turn_rest_password("lab-secret", 10, (const uint8_t *)"1700000000:lab", 14, pass),
	    0);
	cr_assert_str_eq(pass, "WlJcegfCoyn4D5ANiMJ02IpnoDI=");
	cr_assert_eq(
	    ctl_turn_rest_password("lab-secret", 10, (const uint8_t *)"4102444800:alice", 16, pass),
	    0);
	cr_assert_str_eq(pass, "a3kObIbujNAqMoD6NQpT7oL21D4=");

	/* valid until 2100: identity is the user part, key from the derived password */
	cr_assert_eq(
	    ctl_turn_credential(&a, (const uint8_t *)"4102444800:alice", 16, 1700000000, &c),
	    CTL_CRED_OK);
	cr_assert(c.rest);
	cr_assert_str_eq(c.identity, "alice");
	cr_assert_eq(c.user_idx, -1);
	cr_assert_eq(sn_stun_long_term_key(SN_STUN_PASSWORD_MD5, "4102444800:alice", 16,
					   "supernode.lab", 13, "a3kObIbujNAqMoD6NQpT7oL21D4=", 28,
					   key),
		     16);
	cr_assert_eq(memcmp(key, c.key, 16), 0);
	/* a REST user that is a static user shares its identity (and quota) */
	cr_assert_eq(
	    ctl_turn_credential(&a, (const uint8_t *)"4102444800:quota", 16, 1700000000, &c),
	    CTL_CRED_OK);
	cr_assert_str_eq(c.identity, "quota");
	cr_assert_eq(c.user_idx, 1);
	/* no user part */
	cr_assert_eq(ctl_turn_credential(&a, (const uint8_t *)"4102444800", 10, 1700000000, &c),
		     CTL_CRED_OK);
	cr_assert_str_eq(c.identity, "(rest)");
	/* expired: EXPIRY at or before now */
	cr_assert_eq(
	    ctl_turn_credential(&a, (const uint8_t *)"1700000000:lab2", 15, 1700000000, &c),
	    CTL_CRED_REST_EXPIRED);
	/* malformed */
	cr_assert_eq(ctl_turn_credential(&a, (const uint8_t *)"17x0:lab", 8, 1, &c),
		     CTL_CRED_BAD_USERNAME);
	cr_assert_eq(ctl_turn_credential(&a, (const uint8_t *)":lab", 4, 1, &c),
		     CTL_CRED_UNKNOWN_USER);
	cr_assert_eq(ctl_turn_credential(&a, (const uint8_t *)"1700000000lab", 13, 1, &c),
		     CTL_CRED_BAD_USERNAME);
	cr_assert_eq(ctl_turn_credential(&a, (const uint8_t *)"99999999999999999999:x", 22, 1, &c),
		     CTL_CRED_BAD_USERNAME);
	cr_assert_eq(ctl_turn_credential(&a, (const uint8_t *)"la\0b", 4, 1, &c),
		     CTL_CRED_BAD_USERNAME);
	/* static users win over REST parsing, and their key is MD5(user:realm:password) */
	cr_assert_eq(ctl_turn_credential(&a, (const uint8_t *)"lab", 3, 1, &ref), CTL_CRED_OK);
	cr_assert_not(ref.rest);
	sn_stun_long_term_key(SN_STUN_PASSWORD_MD5, "lab", 3, "supernode.lab", 13, "lab-password",
			      12, key);
	cr_assert_eq(memcmp(key, ref.key, 16), 0);
	/* REST off */
	cfg.turn.rest_secret[0] = '\0';
	cr_assert_eq(ctl_turn_credential(&a, (const uint8_t *)"4102444800:alice", 16, 1, &c),
		     CTL_CRED_UNKNOWN_USER);
	sn_config_free(&cfg);
}

static struct sn_udp_tuple tuple4(uint8_t last, uint16_t port)
{
	struct sn_udp_tuple t;

	memset(&t, 0, sizeof(t));
	t.family = AF_INET;
	t.src[0] = 198;
	t.src[1] = 18;
	t.src[3] = last;
	t.dst[0] = 198;
	t.dst[1] = 18;
	t.dst[3] = 1;
	t.src_port = htons(port);
	t.dst_port = htons(3478);
	return t;
}

Test(turn_auth, nonces)
{
	struct ctl_turn_auth a = {.cfg = &cfg.turn};
	struct sn_udp_tuple t = tuple4(2, 40000), other = tuple4(2, 40001);
	uint64_t now = 1800000000;
	char n[CTL_TURN_NONCE_MAX], n2[CTL_TURN_NONCE_MAX];

	load_cfg(NULL);
	cr_assert_eq(cfg.turn.nonce_lifetime, 600);
	memset(a.secret, 7, sizeof(a.secret));
	for (size_t len = CTL_TURN_NONCE_MIN; len <= CTL_TURN_NONCE_MAX; len += 4) {
		cr_assert_eq(ctl_turn_nonce_make(&a, &t, now, len, n), 0);
		for (size_t i = 0; i < len; i++)
			cr_assert(n[i] > ' ' && n[i] < 0x7f && n[i] != '"' && n[i] != '\\');
		cr_assert_eq(ctl_turn_nonce_check(&a, &t, (uint8_t *)n, len, now), CTL_NONCE_OK);
		cr_assert_eq(ctl_turn_nonce_check(&a, &t, (uint8_t *)n, len, now + 590),
			     CTL_NONCE_OK);
		cr_assert_eq(ctl_turn_nonce_check(&a, &t, (uint8_t *)n, len, now + 700),
			     CTL_NONCE_STALE, "nonce of %zu characters", len);
		/* days later, after the 16-bit timestamp wrapped: still not valid again */
		cr_assert_neq(ctl_turn_nonce_check(&a, &t, (uint8_t *)n, len, now + 65536 * 16),
			      CTL_NONCE_OK);
		if (len >= 8) /* 1-byte MACs of 4-character nonces collide 1 time in 256 */
			cr_assert_eq(ctl_turn_nonce_check(&a, &other, (uint8_t *)n, len, now),
				     CTL_NONCE_INVALID);
	}
	/* bad lengths, bad characters, tampering, another secret */
	cr_assert_eq(ctl_turn_nonce_make(&a, &t, now, 6, n), -EINVAL);
	cr_assert_eq(ctl_turn_nonce_make(&a, &t, now, 28, n), -EINVAL);
	cr_assert_eq(ctl_turn_nonce_make(&a, &t, now, 24, n), 0);
	cr_assert_eq(ctl_turn_nonce_check(&a, &t, (uint8_t *)n, 20, now), CTL_NONCE_INVALID);
	memcpy(n2, n, sizeof(n2));
	n2[10] = n2[10] == 'A' ? 'B' : 'A';
	cr_assert_eq(ctl_turn_nonce_check(&a, &t, (uint8_t *)n2, 24, now), CTL_NONCE_INVALID);
	memcpy(n2, n, sizeof(n2));
	n2[3] = '/';
	cr_assert_eq(ctl_turn_nonce_check(&a, &t, (uint8_t *)n2, 24, now), CTL_NONCE_INVALID);
	cr_assert_eq(ctl_turn_nonce_check(&a, &t, (const uint8_t *)"f//499k954d6OL34", 16, now),
		     CTL_NONCE_INVALID);
	a.secret[0] ^= 1;
	cr_assert_eq(ctl_turn_nonce_check(&a, &t, (uint8_t *)n, 24, now), CTL_NONCE_INVALID);
	sn_config_free(&cfg);
}

/* ---------------------------------------------------------------- peer policy */

static enum ctl_peer_verdict judge(const struct ctl_turn_policy *p, const char *text)
{
	uint8_t a[16] = {0};
	int af = strchr(text, ':') ? AF_INET6 : AF_INET;

	cr_assert_eq(inet_pton(af, text, a), 1, "%s", text);
	return ctl_turn_peer_check(p, (uint8_t)af, a);
}

Test(turn_policy, default_denied_ranges)
{
	static const struct {
		const char *addr;
		enum ctl_peer_verdict v;
	} cases[] = {
	    {"0.0.0.0", CTL_PEER_UNSPECIFIED},
	    {"0.255.1.2", CTL_PEER_UNSPECIFIED},
	    {"10.0.0.1", CTL_PEER_PRIVATE},
	    {"10.255.255.255", CTL_PEER_PRIVATE},
	    {"100.64.0.1", CTL_PEER_SHARED},
	    {"100.127.255.254", CTL_PEER_SHARED},
	    {"127.0.0.1", CTL_PEER_LOOPBACK},
	    {"127.255.0.9", CTL_PEER_LOOPBACK},
	    {"169.254.1.1", CTL_PEER_LINK_LOCAL},
	    {"172.16.0.1", CTL_PEER_PRIVATE},
	    {"172.31.255.255", CTL_PEER_PRIVATE},
	    {"192.0.0.8", CTL_PEER_SPECIAL},
	    {"192.0.2.1", CTL_PEER_DOCUMENTATION},
	    {"192.168.1.1", CTL_PEER_PRIVATE},
	    {"198.18.0.2", CTL_PEER_BENCHMARKING},
	    {"198.19.255.255", CTL_PEER_BENCHMARKING},
	    {"198.51.100.7", CTL_PEER_DOCUMENTATION},
	    {"203.0.113.9", CTL_PEER_DOCUMENTATION},
	    {"224.0.0.1", CTL_PEER_MULTICAST},
	    {"239.255.255.250", CTL_PEER_MULTICAST},
	    {"240.0.0.1", CTL_PEER_RESERVED},
	    {"255.255.255.255", CTL_PEER_BROADCAST},
	    {"::", CTL_PEER_UNSPECIFIED},
	    {"::1", CTL_PEER_LOOPBACK},
	    {"::ffff:127.0.0.1", CTL_PEER_IPV4_MAPPED},
	    {"::ffff:10.0.0.1", CTL_PEER_IPV4_MAPPED},
	    {"::ffff:0.0.0.0", CTL_PEER_IPV4_MAPPED},
	    {"::ffff:8.8.8.8", CTL_PEER_IPV4_MAPPED},
	    {"::7f00:1", CTL_PEER_IPV4_COMPATIBLE},
	    {"::a00:1", CTL_PEER_IPV4_COMPATIBLE},
	    {"::808:808", CTL_PEER_IPV4_COMPATIBLE},
	    {"64:ff9b::a00:1", CTL_PEER_PRIVATE},   /* NAT64 of 10.0.0.1 */
	    {"64:ff9b::7f00:1", CTL_PEER_LOOPBACK}, /* NAT64 of 127.0.0.1 */
	    {"64:ff9b:1::1", CTL_PEER_SPECIAL},	    /* local-use NAT64 */
	    {"2002:c0a8:101::1", CTL_PEER_PRIVATE}, /* 6to4 of 192.168.1.1 */
	    {"2002:7f00:1::", CTL_PEER_LOOPBACK},   /* 6to4 of 127.0.0.1 */
	    {"100::1", CTL_PEER_SPECIAL},	    /* discard-only */
	    {"2001:2::1", CTL_PEER_BENCHMARKING},
	    {"2001:2:0:ffff::1", CTL_PEER_BENCHMARKING},
	    {"2001:db8::1", CTL_PEER_DOCUMENTATION},
	    {"2001:db8:5e::2", CTL_PEER_DOCUMENTATION},
	    {"3fff::1", CTL_PEER_DOCUMENTATION},
	    {"fc00::1", CTL_PEER_PRIVATE},
	    {"fd12:3456::1", CTL_PEER_PRIVATE},
	    {"fe80::1", CTL_PEER_LINK_LOCAL},
	    {"febf::1", CTL_PEER_LINK_LOCAL},
	    {"fec0::1", CTL_PEER_SPECIAL},
	    {"ff02::1", CTL_PEER_MULTICAST},
	    {"ff0e::1", CTL_PEER_MULTICAST},
	    /* allowed */
	    {"8.8.8.8", CTL_PEER_ALLOWED},
	    {"1.1.1.1", CTL_PEER_ALLOWED},
	    {"100.63.255.255", CTL_PEER_ALLOWED},
	    {"100.128.0.0", CTL_PEER_ALLOWED},
	    {"172.32.0.1", CTL_PEER_ALLOWED},
	    {"198.17.255.255", CTL_PEER_ALLOWED},
	    {"198.20.0.0", CTL_PEER_ALLOWED},
	    {"223.255.255.255", CTL_PEER_ALLOWED},
	    {"2606:4700::1111", CTL_PEER_ALLOWED},
	    {"2001:3::1", CTL_PEER_ALLOWED},
	    {"2001:db9::1", CTL_PEER_ALLOWED},
	    {"64:ff9b::808:808", CTL_PEER_ALLOWED}, /* NAT64 of 8.8.8.8 */
	    {"2002:808:808::1", CTL_PEER_ALLOWED},  /* 6to4 of 8.8.8.8 */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum ctl_peer_verdict v = judge(NULL, cases[i].addr);

		cr_expect_eq(v, cases[i].v, "%s: %s, want %s", cases[i].addr,
			     ctl_peer_verdict_names[v], ctl_peer_verdict_names[cases[i].v]);
		cr_expect_eq(ctl_peer_allowed(v), cases[i].v == CTL_PEER_ALLOWED, "%s",
			     cases[i].addr);
	}
	cr_assert_eq(ctl_turn_peer_check(NULL, 0, (const uint8_t *)"\0\0\0\0"),
		     CTL_PEER_BAD_FAMILY);
}

Test(turn_policy, operator_lists)
{
	struct ctl_turn_policy p;

	load_cfg("  denied_peers: [8.8.0.0/16, 8.8.8.8/32, '2606:4700::/32', 198.18.0.0/24]\n");
	p.allow = cfg.turn.allowed_peers;
	p.n_allow = cfg.turn.n_allowed_peers;
	p.deny = cfg.turn.denied_peers;
	p.n_deny = cfg.turn.n_denied_peers;
	/* the lab's explicit allow list beats the default deny of its ranges... */
	cr_expect_eq(judge(&p, "198.18.0.2"), CTL_PEER_OPERATOR_ALLOWED);
	cr_expect_eq(judge(&p, "2001:db8:5e::2"), CTL_PEER_OPERATOR_ALLOWED);
	/* ...and a shorter operator deny; its neighbours stay denied */
	cr_expect_eq(judge(&p, "198.18.0.3"), CTL_PEER_OPERATOR_DENIED);
	cr_expect_eq(judge(&p, "198.18.1.2"), CTL_PEER_BENCHMARKING);
	cr_expect_eq(judge(&p, "2001:db8:5e::3"), CTL_PEER_DOCUMENTATION);
	/* lists match in their own family only */
	cr_expect_eq(judge(&p, "::ffff:198.18.0.2"), CTL_PEER_IPV4_MAPPED);
	/* operator denies public ranges */
	cr_expect_eq(judge(&p, "8.8.4.4"), CTL_PEER_OPERATOR_DENIED);
	cr_expect_eq(judge(&p, "8.8.8.8"), CTL_PEER_OPERATOR_DENIED);
	cr_expect_eq(judge(&p, "8.9.0.1"), CTL_PEER_ALLOWED);
	cr_expect_eq(judge(&p, "2606:4700::1111"), CTL_PEER_OPERATOR_DENIED);
	cr_expect_eq(judge(&p, "64:ff9b::808:808"), CTL_PEER_OPERATOR_DENIED); /* NAT64 */
	sn_config_free(&cfg);

	/* the longest match decides; a tie is denied */
	load_cfg("  denied_peers: [10.0.0.0/8, 192.0.2.0/24]\n");
	cfg.turn.allowed_peers[0] = cfg.turn.denied_peers[1]; /* 192.0.2.0/24 in both lists */
	cfg.turn.n_allowed_peers = 1;
	p.allow = cfg.turn.allowed_peers;
	p.n_allow = cfg.turn.n_allowed_peers;
	p.deny = cfg.turn.denied_peers;
	p.n_deny = cfg.turn.n_denied_peers;
	cr_expect_eq(judge(&p, "192.0.2.1"), CTL_PEER_OPERATOR_DENIED);
	cr_expect_eq(judge(&p, "10.1.2.3"), CTL_PEER_OPERATOR_DENIED);
	sn_config_free(&cfg);
}

/* ---------------------------------------------------------------- engine harness */

#define MAX_SENT 4096

struct sent {
	size_t len;
	uint8_t buf[SN_CHANNEL_MAX_MSG];
};

static struct sent *sent;
static int n_sent, next_read;
static struct ctl_counters ctr;
static struct ctl_chan chan;
static struct ctl_turn *turn;
static uint64_t fake_real = 1800000000ull * CTL_NS_PER_SEC;
static bool auto_ack = true;
static int32_t ack_result;

static uint64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_real;
}

static int tx_hook(struct ctl_chan *ch, const void *msg, size_t len);

static size_t msg_body(uint8_t *buf, enum sn_msg_type type, uint32_t seq, const void *body,
		       uint32_t len)
{
	memcpy(buf + sizeof(struct sn_msg_hdr), body, len);
	return sn_msg_init(buf, type, seq, len);
}

static void feed(const void *msg, size_t len)
{
	cr_assert_eq(ctl_chan_handle(&chan, msg, len, ctl_mono_ns()), 0);
}

static void ack(uint32_t seq, int32_t result)
{
	uint64_t buf[64];
	struct sn_msg_table_ack a = {.cmd_seq = seq, .result = result, .entries = 1};

	feed(buf, msg_body((uint8_t *)buf, SN_MSG_TABLE_ACK, 1, &a, sizeof(a)));
}

static int tx_hook(struct ctl_chan *ch, const void *msg, size_t len)
{
	struct sn_msg_view v;

	(void)ch;
	cr_assert_lt(n_sent, MAX_SENT);
	cr_assert_eq(sn_msg_parse(msg, len, &v), 0, "control sent a malformed message");
	memcpy(sent[n_sent].buf, msg, len);
	sent[n_sent].len = len;
	n_sent++;
	return 0;
}

/* Acks every TABLE_CMD not acked yet (what the dataplane does after applying them). */
static void ack_pending(int32_t result)
{
	static int acked;

	if (acked > n_sent)
		acked = 0;
	while (acked < n_sent) {
		struct sn_msg_view v;
		int i = acked++;

		sn_msg_parse(sent[i].buf, sent[i].len, &v);
		if (v.hdr->type == SN_MSG_TABLE_CMD)
			ack(v.hdr->seq, result);
	}
}

static void setup_engine(const char *extra, bool resync_empty)
{
	struct ctl_chan_params cp = {
	    .runtime_dir = "/tmp",
	    .reconnect_ms = 100,
	    .keepalive_ms = 1000,
	    .epfd = -1,
	    .ctr = &ctr,
	    .tx = tx_hook,
	};
	struct ctl_turn_params tp = {.now_real = fake_clock};
	uint64_t buf[64];
	struct sn_msg_hello h;
	struct sn_msg_dump_end e = {.table = 0, .entries = 0};

	sn_log_level = SN_LOG_ERR;
	sent = calloc(MAX_SENT, sizeof(*sent));
	cr_assert_not_null(sent);
	n_sent = next_read = 0;
	auto_ack = true;
	ack_result = 0;
	memset(&ctr, 0, sizeof(ctr));
	load_cfg(extra);
	cp.dispatch = cfg.dataplane.dispatch;
	cp.n_dispatch = cfg.dataplane.n_dispatch;
	cr_assert_eq(ctl_chan_init(&chan, &cp), 0);
	tp.cfg = &cfg;
	tp.chan = &chan;
	cr_assert_eq(ctl_turn_create(&turn, &tp), 0);
	ctl_chan_start_session(&chan, ctl_mono_ns());
	memset(&h, 0, sizeof(h));
	h.role = SN_ROLE_DATAPLANE;
	h.epoch = 1;
	snprintf(h.build, sizeof(h.build), "%s", SN_VERSION);
	feed(buf, msg_body((uint8_t *)buf, SN_MSG_HELLO, 1, &h, sizeof(h)));
	if (resync_empty) {
		feed(buf, msg_body((uint8_t *)buf, SN_MSG_DUMP_END, 2, &e, sizeof(e)));
		cr_assert_eq(chan.state, CTL_CHAN_READY);
	}
	next_read = n_sent;
}

static void teardown_engine(void)
{
	ctl_turn_destroy(turn);
	turn = NULL;
	ctl_chan_fini(&chan);
	sn_config_free(&cfg);
	free(sent);
	sent = NULL;
}

/* A client of the fake appliance. */
struct client {
	struct sn_udp_tuple tuple; /* client -> appliance */
	char user[64];
	char pass[64];
	uint8_t key[32]; /* MD5: 16 bytes used */
	char nonce[64];
	size_t nonce_len;
	uint8_t tid[12];
	bool sha256;
	bool fp;
};

static void client_init(struct client *c, uint16_t port, const char *user, const char *pass)
{
	memset(c, 0, sizeof(*c));
	c->tuple = tuple4(2, port);
	snprintf(c->user, sizeof(c->user), "%s", user);
	snprintf(c->pass, sizeof(c->pass), "%s", pass);
	cr_assert_eq(sn_stun_long_term_key(SN_STUN_PASSWORD_MD5, user, strlen(user),
					   "supernode.lab", 13, pass, strlen(pass), c->key),
		     16);
}

static void new_tid(struct client *c)
{
	static uint32_t counter = 1;

	memset(c->tid, 0, sizeof(c->tid));
	memcpy(c->tid, &counter, sizeof(counter));
	c->tid[8] = (uint8_t)c->tuple.src_port;
	counter++;
}

/* Sends payload as a PUNT from the client. */
static void punt(const struct client *c, const uint8_t *payload, size_t len)
{
	static uint64_t buf[SN_CHANNEL_MAX_MSG / 8];
	struct sn_msg_punt *p = (struct sn_msg_punt *)((uint8_t *)buf + sizeof(struct sn_msg_hdr));

	memset(p, 0, sizeof(*p));
	p->reason = SN_PUNT_TURN;
	p->port_id = 0;
	p->lcore = 1;
	p->payload_len = (uint16_t)len;
	p->tuple = c->tuple;
	memcpy(p->payload, payload, len);
	feed(buf, sn_msg_init(buf, SN_MSG_PUNT, 5, (uint32_t)(sizeof(*p) + len)));
	if (auto_ack)
		ack_pending(ack_result);
}

/* Next message of a type control sent since the last call (NULL: none). */
static const struct sn_msg_view *next_of(enum sn_msg_type type, struct sn_msg_view *v)
{
	while (next_read < n_sent) {
		int i = next_read++;

		cr_assert_eq(sn_msg_parse(sent[i].buf, sent[i].len, v), 0);
		if (v->hdr->type == type)
			return v;
	}
	return NULL;
}

/* The answer INJECTed to the client, parsed into m (false: none). */
static bool answer(const struct client *c, struct sn_stun_msg *m, uint8_t *copy, size_t *len)
{
	struct sn_msg_view v;

	if (!next_of(SN_MSG_INJECT, &v))
		return false;
	cr_assert_eq(v.u.inject->tuple.family, c->tuple.family);
	cr_assert_eq(memcmp(v.u.inject->tuple.dst, c->tuple.src, 4), 0);
	cr_assert_eq(v.u.inject->tuple.dst_port, c->tuple.src_port);
	cr_assert_eq(memcmp(v.u.inject->tuple.src, c->tuple.dst, 4), 0, "not from the server");
	cr_assert_eq(v.u.inject->tuple.src_port, c->tuple.dst_port);
	memcpy(copy, v.payload, v.u.inject->payload_len);
	*len = v.u.inject->payload_len;
	cr_assert_eq(sn_stun_parse(copy, *len, m), SN_STUN_OK);
	cr_assert_eq(sn_stun_check_fingerprint(m), SN_STUN_OK);
	return true;
}

static unsigned error_code(const struct sn_stun_msg *m)
{
	const uint8_t *v;
	const char *reason;
	size_t rlen;
	uint16_t len;
	unsigned code = 0;

	if (m->cls != SN_STUN_CLASS_ERROR)
		return 0;
	v = sn_stun_get(m, SN_STUN_A_ERROR_CODE, &len);
	cr_assert_not_null(v);
	cr_assert_eq(sn_stun_error_decode(v, len, &code, &reason, &rlen), 0);
	return code;
}

typedef void (*attrs_fn)(struct sn_stun_writer *w, void *arg);

/* Builds and sends a request; with auth, USERNAME/REALM/NONCE and integrity. */
static size_t request(struct client *c, unsigned method, bool auth, attrs_fn fn, void *arg)
{
	uint8_t buf[1024];
	struct sn_stun_writer w;
	unsigned flags = c->fp ? SN_STUN_FINISH_FINGERPRINT : 0;
	int len;

	new_tid(c);
	sn_stun_writer_init(&w, buf, sizeof(buf), method, SN_STUN_CLASS_REQUEST, c->tid);
	if (fn)
		fn(&w, arg);
	if (auth) {
		sn_stun_put_attr(&w, SN_STUN_ATTR_USERNAME, c->user, strlen(c->user));
		sn_stun_put_attr(&w, SN_STUN_ATTR_REALM, "supernode.lab", 13);
		sn_stun_put_attr(&w, SN_STUN_ATTR_NONCE, c->nonce, c->nonce_len);
		flags |= c->sha256 ? SN_STUN_FINISH_INTEGRITY_SHA256 : SN_STUN_FINISH_INTEGRITY;
	}
	len = sn_stun_writer_finish(&w, flags, c->key, 16);
	cr_assert_gt(len, 0);
	punt(c, buf, (size_t)len);
	return (size_t)len;
}

/* Takes REALM and NONCE from a 401/438. */
static void learn_nonce(struct client *c, const struct sn_stun_msg *m)
{
	uint16_t len;
	const uint8_t *v = sn_stun_get(m, SN_STUN_A_NONCE, &len);

	cr_assert_not_null(v, "challenge without NONCE");
	cr_assert_lt(len, sizeof(c->nonce));
	memcpy(c->nonce, v, len);
	c->nonce_len = len;
	v = sn_stun_get(m, SN_STUN_A_REALM, &len);
	cr_assert_not_null(v, "challenge without REALM");
	cr_assert_eq(len, 13);
	cr_assert_eq(memcmp(v, "supernode.lab", 13), 0);
}

static void put_transport(struct sn_stun_writer *w, void *arg)
{
	uint8_t v[4] = {17, 0, 0, 0};

	sn_stun_put_attr(w, SN_STUN_ATTR_REQUESTED_TRANSPORT, v, 4);
	if (arg)
		((attrs_fn)arg)(w, NULL);
}

/* Gets a nonce with an unauthenticated Allocate padded so the full challenge fits. */
static void get_nonce(struct client *c)
{
	static uint8_t pad[100];
	uint8_t resp[1024];
	struct sn_stun_msg m;
	size_t len;

	new_tid(c);
	{
		uint8_t buf[256];
		struct sn_stun_writer w;

		sn_stun_writer_init(&w, buf, sizeof(buf), SN_STUN_METHOD_ALLOCATE,
				    SN_STUN_CLASS_REQUEST, c->tid);
		put_transport(&w, NULL);
		sn_stun_put_attr(&w, SN_STUN_ATTR_PADDING, pad, sizeof(pad));
		punt(c, buf, w.len);
	}
	cr_assert(answer(c, &m, resp, &len), "no challenge");
	cr_assert_eq(error_code(&m), 401);
	cr_assert_not(sn_stun_has(&m, SN_STUN_A_MESSAGE_INTEGRITY));
	learn_nonce(c, &m);
	cr_assert_eq(c->nonce_len, CTL_TURN_NONCE_MAX);
}

/* Checks an answer's integrity with the client's key. */
static void check_mi(const struct client *c, const struct sn_stun_msg *m)
{
	cr_assert_eq(sn_stun_check_integrity(m, c->key, 16), SN_STUN_OK);
	if (c->sha256)
		cr_assert(sn_stun_has(m, SN_STUN_A_MESSAGE_INTEGRITY_SHA256));
}

/* A full Allocate: expects success, returns the relayed IPv4 port. */
static uint16_t allocate(struct client *c, attrs_fn extra, struct sn_stun_msg *m, uint8_t *resp)
{
	size_t len;
	const uint8_t *v;
	uint16_t vlen;
	struct sn_stun_addr ra;

	if (!c->nonce_len)
		get_nonce(c);
	request(c, SN_STUN_METHOD_ALLOCATE, true, put_transport, (void *)extra);
	cr_assert(answer(c, m, resp, &len), "no answer to Allocate");
	cr_assert_eq(m->cls, SN_STUN_CLASS_SUCCESS, "Allocate failed: %u", error_code(m));
	check_mi(c, m);
	v = sn_stun_get(m, SN_STUN_A_XOR_RELAYED_ADDRESS, &vlen);
	cr_assert_not_null(v);
	cr_assert_eq(sn_stun_xor_addr_decode(v, vlen, sn_stun_tid(m), &ra), 0);
	return ntohs(ra.port);
}

static unsigned expect_error(struct client *c, unsigned method, attrs_fn fn, void *arg)
{
	uint8_t resp[1024];
	struct sn_stun_msg m;
	size_t len;

	request(c, method, true, fn, arg);
	cr_assert(answer(c, &m, resp, &len), "no answer");
	if (m.cls == SN_STUN_CLASS_ERROR && error_code(&m) != 401 && error_code(&m) != 438)
		check_mi(c, &m);
	return error_code(&m);
}

static int count_cmds(uint16_t table, uint8_t op, int from)
{
	int n = 0;

	for (int i = from; i < n_sent; i++) {
		struct sn_msg_view v;

		sn_msg_parse(sent[i].buf, sent[i].len, &v);
		if (v.hdr->type == SN_MSG_TABLE_CMD && v.u.table_cmd->table == table &&
		    v.u.table_cmd->op == op)
			n++;
	}
	return n;
}

static struct sn_stun_addr peer_addr(const char *ip, uint16_t port)
{
	struct sn_stun_addr a;

	memset(&a, 0, sizeof(a));
	a.family = strchr(ip, ':') ? AF_INET6 : AF_INET;
	cr_assert_eq(inet_pton(a.family, ip, a.addr), 1);
	a.port = htons(port);
	return a;
}

struct peers {
	int n;
	struct sn_stun_addr a[8];
	int channel; /* ChannelBind: CHANNEL-NUMBER, -1 none */
};

static void put_peers(struct sn_stun_writer *w, void *arg)
{
	struct peers *p = arg;

	if (p->channel >= 0) {
		uint8_t v[4] = {(uint8_t)(p->channel >> 8), (uint8_t)p->channel, 0, 0};

		sn_stun_put_attr(w, SN_STUN_ATTR_CHANNEL_NUMBER, v, 4);
	}
	for (int i = 0; i < p->n; i++)
		sn_stun_put_xor_addr(w, SN_STUN_ATTR_XOR_PEER_ADDRESS, &p->a[i]);
}

/* ---------------------------------------------------------------- engine tests */

Test(turn_engine, allocate_answered_after_ack, .fini = teardown_engine)
{
	struct client c;
	struct sn_stun_msg m;
	uint8_t resp[1024];
	struct sn_msg_view v;
	size_t len;
	uint16_t vlen;
	const uint8_t *val;
	struct sn_stun_addr a;

	setup_engine(NULL, true);
	client_init(&c, 40000, "lab", "lab-password");
	c.fp = true;
	get_nonce(&c);
	auto_ack = false;
	request(&c, SN_STUN_METHOD_ALLOCATE, true, put_transport, NULL);
	/* the entry goes to the dataplane; no answer before its ack */
	cr_assert_not_null(next_of(SN_MSG_TABLE_CMD, &v));
	cr_assert_eq(v.u.table_cmd->table, SN_TABLE_TURN_ALLOC);
	cr_assert_eq(v.u.table_cmd->op, SN_TABLE_OP_ADD);
	{
		struct sn_turn_alloc_value av;
		uint32_t seq = v.hdr->seq;

		memcpy(&av, v.val, sizeof(av));
		cr_assert_eq(av.client.family, AF_INET);
		cr_assert_eq(av.client.src_port, htons(40000));
		cr_assert_eq(av.client.dst_port, htons(3478));
		cr_assert_geq(av.relay_port4, 49152);
		cr_assert_eq(av.relay_port6, 0);
		cr_assert_eq(av.expires_ns, fake_real + 600ull * CTL_NS_PER_SEC);
		next_read = 0;
		while (next_of(SN_MSG_INJECT, &v))
			;
		cr_assert(!answer(&c, &m, resp, &len), "answered before the TABLE_ACK");
		ack(seq, 0);
	}
	cr_assert(answer(&c, &m, resp, &len));
	cr_assert_eq(m.cls, SN_STUN_CLASS_SUCCESS);
	check_mi(&c, &m);
	cr_assert(sn_stun_has(&m, SN_STUN_A_FINGERPRINT));
	val = sn_stun_get(&m, SN_STUN_A_XOR_RELAYED_ADDRESS, &vlen);
	cr_assert_eq(sn_stun_xor_addr_decode(val, vlen, sn_stun_tid(&m), &a), 0);
	cr_assert_eq(a.family, AF_INET);
	cr_assert_eq(memcmp(a.addr, "\xc6\x12\x00\x01", 4), 0);
	val = sn_stun_get(&m, SN_STUN_A_XOR_MAPPED_ADDRESS, &vlen);
	cr_assert_eq(sn_stun_xor_addr_decode(val, vlen, sn_stun_tid(&m), &a), 0);
	cr_assert_eq(a.port, htons(40000));
	cr_assert_eq(sn_stun_get_u32(&m, SN_STUN_A_LIFETIME), 600);
	cr_assert_eq(ctl_ctr_get(&ctl_turn_counters(turn)->allocations), 1);
	cr_assert_not(sn_stun_has(&m, SN_STUN_A_SOFTWARE), "SOFTWARE is off by default");
}

Test(turn_engine, size_rule, .fini = teardown_engine)
{
	const struct ctl_turn_counters *tc;
	struct client c;
	struct sn_stun_msg m;
	uint8_t resp[1024], req[256];
	struct sn_stun_writer w;
	size_t len;
	uint16_t nl;

	setup_engine("  software: supernode-test\n", true);
	tc = ctl_turn_counters(turn);
	client_init(&c, 40001, "lab", "lab-password");
	/* each request size: the largest challenge that fits, never more */
	for (size_t pad = 0; pad <= 120; pad += 4) {
		new_tid(&c);
		sn_stun_writer_init(&w, req, sizeof(req), SN_STUN_METHOD_ALLOCATE,
				    SN_STUN_CLASS_REQUEST, c.tid);
		if (pad >= 8) {
			static const uint8_t zero[128];

			put_transport(&w, NULL);
			if (pad > 8)
				sn_stun_put_attr(&w, SN_STUN_ATTR_PADDING, zero, pad - 12);
		}
		if (pad != w.len - 20)
			continue;
		punt(&c, req, w.len);
		if (!answer(&c, &m, resp, &len)) {
			/* header(20) + ERROR-CODE(8) + REALM(20) + NONCE(4+4) = 56 at least */
			cr_assert_lt(w.len, 56, "%zu-byte request got no challenge", w.len);
			continue;
		}
		cr_assert_leq(len, w.len, "%zu-byte answer to a %zu-byte request", len, w.len);
		cr_assert_eq(error_code(&m), 401);
		cr_assert_not_null(sn_stun_get(&m, SN_STUN_A_NONCE, &nl));
		cr_assert_not_null(sn_stun_get(&m, SN_STUN_A_REALM, &nl));
		if (len < 100)
			cr_assert_not(sn_stun_has(&m, SN_STUN_A_SOFTWARE));
	}
	cr_assert_gt(ctl_ctr_get(&tc->drops[CTL_TURN_D_CHALLENGE_TOO_LARGE]), 0);
	cr_assert_gt(ctl_ctr_get(&tc->minimal_answers), 0);

	/* coturn's first Allocates: 60 bytes (EVEN-PORT R) and 56 (RESERVATION-TOKEN) fit a
	 * minimal challenge with an 8- and a 4-character nonce; its 52-byte one does not */
	static const size_t sizes[] = {60, 56, 52};
	static const size_t nonce_len[] = {8, 4, 0};

	for (int i = 0; i < 3; i++) {
		uint8_t tok[8] = {1, 2, 3, 4, 5, 6, 7, 8}, ep = 0x80, f[4] = {1, 0, 0, 0};

		new_tid(&c);
		sn_stun_writer_init(&w, req, sizeof(req), SN_STUN_METHOD_ALLOCATE,
				    SN_STUN_CLASS_REQUEST, c.tid);
		put_transport(&w, NULL);
		sn_stun_put_u32(&w, SN_STUN_ATTR_LIFETIME, 777);
		if (i == 0) {
			sn_stun_put_attr(&w, SN_STUN_ATTR_EVEN_PORT, &ep, 1);
			sn_stun_put_attr(&w, SN_STUN_ATTR_REQUESTED_ADDRESS_FAMILY, f, 4);
		} else if (i == 1) {
			sn_stun_put_attr(&w, SN_STUN_ATTR_RESERVATION_TOKEN, tok, 8);
		} else {
			sn_stun_put_attr(&w, SN_STUN_ATTR_REQUESTED_ADDRESS_FAMILY, f, 4);
		}
		sn_stun_put_fingerprint(&w);
		cr_assert_eq(w.len, sizes[i]);
		punt(&c, req, w.len);
		if (!nonce_len[i]) {
			cr_assert_not(answer(&c, &m, resp, &len));
			continue;
		}
		cr_assert(answer(&c, &m, resp, &len));
		cr_assert_eq(len, sizes[i]);
		cr_assert_not_null(sn_stun_get(&m, SN_STUN_A_NONCE, &nl));
		cr_assert_eq(nl, nonce_len[i]);
		/* the short nonce works */
		learn_nonce(&c, &m);
	}
	cr_assert_eq(c.nonce_len, 4);
	allocate(&c, NULL, &m, resp);
	cr_assert(sn_stun_has(&m, SN_STUN_A_SOFTWARE), "authenticated answers carry SOFTWARE");

	/* an unknown method from an unauthenticated sender: 400 only when it fits */
	new_tid(&c);
	sn_stun_writer_init(&w, req, sizeof(req), 0x00a, SN_STUN_CLASS_REQUEST, c.tid);
	punt(&c, req, w.len);
	cr_assert_not(answer(&c, &m, resp, &len));
	cr_assert_eq(ctl_ctr_get(&tc->drops[CTL_TURN_D_ERROR_TOO_LARGE]), 1);
}

Test(turn_engine, bad_input_dropped_and_counted, .fini = teardown_engine)
{
	const struct ctl_turn_counters *tc;
	struct client c;
	struct sn_stun_msg m;
	uint8_t resp[1024], req[256];
	struct sn_stun_writer w;
	size_t len;

	setup_engine(NULL, true);
	tc = ctl_turn_counters(turn);
	client_init(&c, 40002, "lab", "lab-password");
	new_tid(&c);
	sn_stun_writer_init(&w, req, sizeof(req), SN_STUN_METHOD_ALLOCATE, SN_STUN_CLASS_REQUEST,
			    c.tid);
	put_transport(&w, NULL);
	sn_stun_put_fingerprint(&w);
	/* truncated, overlong, misaligned, wrong fingerprint, not STUN, indication */
	punt(&c, req, 12);
	punt(&c, req, w.len - 4);
	memcpy(req + w.len, "\0\0\0\0", 4);
	punt(&c, req, w.len + 4);
	req[w.len - 1] ^= 1;
	punt(&c, req, w.len);
	req[w.len - 1] ^= 1;
	req[0] = 0xc0;
	punt(&c, req, w.len);
	req[0] = 0;
	sn_stun_writer_init(&w, req, sizeof(req), SN_STUN_METHOD_SEND, SN_STUN_CLASS_INDICATION,
			    c.tid);
	punt(&c, req, w.len);
	sn_stun_writer_init(&w, req, sizeof(req), SN_STUN_METHOD_BINDING, SN_STUN_CLASS_REQUEST,
			    c.tid);
	punt(&c, req, w.len);
	cr_assert_not(answer(&c, &m, resp, &len), "bad input got an answer");
	cr_assert_eq(ctl_ctr_get(&tc->drops[CTL_TURN_D_TRUNCATED]), 1);
	cr_assert_eq(ctl_ctr_get(&tc->drops[CTL_TURN_D_BAD_LENGTH]), 2);
	cr_assert_eq(ctl_ctr_get(&tc->drops[CTL_TURN_D_FINGERPRINT]), 1);
	cr_assert_eq(ctl_ctr_get(&tc->drops[CTL_TURN_D_NOT_STUN]), 1);
	cr_assert_eq(ctl_ctr_get(&tc->drops[CTL_TURN_D_NOT_REQUEST]), 1);
	cr_assert_eq(ctl_ctr_get(&tc->drops[CTL_TURN_D_BINDING]), 1);
	cr_assert_eq(ctl_ctr_get(&tc->allocations), 0);
}

static void put_unknown(struct sn_stun_writer *w, void *arg)
{
	uint8_t v[4] = {0};

	(void)arg;
	sn_stun_put_attr(w, 0x0033, v, 4); /* comprehension-required, unknown */
	sn_stun_put_attr(w, 0x8077, v, 4); /* comprehension-optional: ignored */
}

Test(turn_engine, auth_errors, .fini = teardown_engine)
{
	const struct ctl_turn_counters *tc;
	struct client c, bad;
	struct sn_stun_msg m;
	uint8_t resp[1024];
	size_t len;
	uint16_t ul;

	setup_engine(NULL, true);
	tc = ctl_turn_counters(turn);
	client_init(&c, 40003, "lab", "lab-password");
	get_nonce(&c);
	/* wrong password: 401 with a fresh nonce, no integrity */
	bad = c;
	client_init(&bad, 40003, "lab", "wrong");
	memcpy(bad.nonce, c.nonce, c.nonce_len);
	bad.nonce_len = c.nonce_len;
	cr_assert_eq(expect_error(&bad, SN_STUN_METHOD_ALLOCATE, put_transport, NULL), 401);
	cr_assert_eq(ctl_ctr_get(&tc->auth_failures[CTL_TURN_AF_BAD_INTEGRITY]), 1);
	/* unknown user */
	client_init(&bad, 40003, "mallory", "x");
	memcpy(bad.nonce, c.nonce, c.nonce_len);
	bad.nonce_len = c.nonce_len;
	cr_assert_eq(expect_error(&bad, SN_STUN_METHOD_ALLOCATE, put_transport, NULL), 401);
	cr_assert_eq(ctl_ctr_get(&tc->auth_failures[CTL_TURN_AF_UNKNOWN_USER]), 1);
	/* expired REST username */
	client_init(&bad, 40003, "1700000000:lab", "WlJcegfCoyn4D5ANiMJ02IpnoDI=");
	memcpy(bad.nonce, c.nonce, c.nonce_len);
	bad.nonce_len = c.nonce_len;
	cr_assert_eq(expect_error(&bad, SN_STUN_METHOD_ALLOCATE, put_transport, NULL), 401);
	cr_assert_eq(ctl_ctr_get(&tc->auth_failures[CTL_TURN_AF_REST_EXPIRED]), 1);
	/* a nonce that is not ours, and one of another 5-tuple: 438 */
	bad = c;
	memcpy(bad.nonce, "f//499k954d6OL34oL9FSTvy", 24);
	cr_assert_eq(expect_error(&bad, SN_STUN_METHOD_ALLOCATE, put_transport, NULL), 438);
	bad = c;
	bad.tuple.src_port = htons(40004);
	cr_assert_eq(expect_error(&bad, SN_STUN_METHOD_ALLOCATE, put_transport, NULL), 438);
	cr_assert_eq(ctl_ctr_get(&tc->auth_failures[CTL_TURN_AF_BAD_NONCE]), 2);
	/* stale (600 s, at a 16 s granularity): 438 with a new nonce that then works */
	fake_real += 620ull * CTL_NS_PER_SEC;
	request(&c, SN_STUN_METHOD_ALLOCATE, true, put_transport, NULL);
	cr_assert(answer(&c, &m, resp, &len));
	cr_assert_eq(error_code(&m), 438);
	cr_assert_not(sn_stun_has(&m, SN_STUN_A_MESSAGE_INTEGRITY));
	cr_assert_eq(ctl_ctr_get(&tc->auth_failures[CTL_TURN_AF_STALE_NONCE]), 1);
	learn_nonce(&c, &m);
	/* unknown comprehension-required attribute, after authentication: 420 listing it */
	request(&c, SN_STUN_METHOD_ALLOCATE, true, put_transport, (void *)put_unknown);
	cr_assert(answer(&c, &m, resp, &len));
	cr_assert_eq(error_code(&m), 420);
	check_mi(&c, &m);
	{
		const uint8_t *v = sn_stun_get(&m, SN_STUN_A_UNKNOWN_ATTRIBUTES, &ul);

		cr_assert_eq(ul, 2);
		cr_assert_eq(v[0] << 8 | v[1], 0x0033);
	}
	/* missing NONCE with integrity: 400 */
	c.nonce_len = 0;
	{
		uint8_t req[256];
		struct sn_stun_writer w;

		new_tid(&c);
		sn_stun_writer_init(&w, req, sizeof(req), SN_STUN_METHOD_REFRESH,
				    SN_STUN_CLASS_REQUEST, c.tid);
		sn_stun_put_attr(&w, SN_STUN_ATTR_USERNAME, "lab", 3);
		sn_stun_writer_finish(&w, SN_STUN_FINISH_INTEGRITY, c.key, 16);
		punt(&c, req, w.len);
	}
	cr_assert(answer(&c, &m, resp, &len));
	cr_assert_eq(error_code(&m), 400);
	cr_assert_eq(ctl_ctr_get(&tc->auth_failures[CTL_TURN_AF_MISSING_ATTRIBUTES]), 1);
	/* MESSAGE-INTEGRITY-SHA256 works and is answered in kind */
	get_nonce(&c);
	c.sha256 = true;
	allocate(&c, NULL, &m, resp);
	cr_assert(sn_stun_has(&m, SN_STUN_A_MESSAGE_INTEGRITY_SHA256));
	cr_assert_not(sn_stun_has(&m, SN_STUN_A_MESSAGE_INTEGRITY));
}

static void put_lifetime0(struct sn_stun_writer *w, void *arg)
{
	(void)arg;
	sn_stun_put_u32(w, SN_STUN_ATTR_LIFETIME, 0);
}

static void put_lifetime_big(struct sn_stun_writer *w, void *arg)
{
	(void)arg;
	sn_stun_put_u32(w, SN_STUN_ATTR_LIFETIME, 100000);
}

Test(turn_engine, mismatch_refresh_and_delete, .fini = teardown_engine)
{
	struct client c, o;
	struct sn_stun_msg m, m2;
	uint8_t resp[1024], resp2[1024];
	size_t len;
	int from;

	setup_engine(NULL, true);
	client_init(&c, 40005, "lab", "lab-password");
	/* no allocation yet: 437 */
	get_nonce(&c);
	cr_assert_eq(expect_error(&c, SN_STUN_METHOD_REFRESH, NULL, NULL), 437);
	cr_assert_eq(
	    ctl_ctr_get(&ctl_turn_counters(turn)
			     ->request_errors[CTL_TURN_M_REFRESH][CTL_TURN_E_ALLOCATION_MISMATCH]),
	    1);
	allocate(&c, NULL, &m, resp);
	/* a retransmission of the same Allocate gets the same answer... */
	{
		uint8_t req[512];
		struct sn_stun_writer w;
		unsigned flags = SN_STUN_FINISH_INTEGRITY;

		sn_stun_writer_init(&w, req, sizeof(req), SN_STUN_METHOD_ALLOCATE,
				    SN_STUN_CLASS_REQUEST, c.tid);
		put_transport(&w, NULL);
		sn_stun_put_attr(&w, SN_STUN_ATTR_USERNAME, c.user, strlen(c.user));
		sn_stun_put_attr(&w, SN_STUN_ATTR_REALM, "supernode.lab", 13);
		sn_stun_put_attr(&w, SN_STUN_ATTR_NONCE, c.nonce, c.nonce_len);
		sn_stun_writer_finish(&w, flags, c.key, 16);
		punt(&c, req, w.len);
		cr_assert(answer(&c, &m2, resp2, &len));
		cr_assert_eq(m2.cls, SN_STUN_CLASS_SUCCESS);
		cr_assert_eq(memcmp(sn_stun_get(&m2, SN_STUN_A_XOR_RELAYED_ADDRESS, &(uint16_t){0}),
				    sn_stun_get(&m, SN_STUN_A_XOR_RELAYED_ADDRESS, &(uint16_t){0}),
				    8),
			     0);
	}
	/* ...another Allocate on the 5-tuple: 437 */
	cr_assert_eq(expect_error(&c, SN_STUN_METHOD_ALLOCATE, put_transport, NULL), 437);
	/* another user on this allocation: 441 */
	client_init(&o, 40005, "other", "other-password");
	memcpy(o.nonce, c.nonce, c.nonce_len);
	o.nonce_len = c.nonce_len;
	cr_assert_eq(expect_error(&o, SN_STUN_METHOD_REFRESH, NULL, NULL), 441);
	/* Refresh: lifetime capped at max_lifetime */
	request(&c, SN_STUN_METHOD_REFRESH, true, put_lifetime_big, NULL);
	cr_assert(answer(&c, &m, resp, &len));
	cr_assert_eq(m.cls, SN_STUN_CLASS_SUCCESS);
	check_mi(&c, &m);
	cr_assert_eq(sn_stun_get_u32(&m, SN_STUN_A_LIFETIME), 3600);
	/* lifetime 0 deletes: ALLOC DEL, LIFETIME 0 */
	from = n_sent;
	request(&c, SN_STUN_METHOD_REFRESH, true, put_lifetime0, NULL);
	cr_assert(answer(&c, &m, resp, &len));
	cr_assert_eq(m.cls, SN_STUN_CLASS_SUCCESS);
	cr_assert_eq(sn_stun_get_u32(&m, SN_STUN_A_LIFETIME), 0);
	cr_assert_eq(count_cmds(SN_TABLE_TURN_ALLOC, SN_TABLE_OP_DEL, from), 1);
	cr_assert_eq(ctl_ctr_get(&ctl_turn_counters(turn)->allocations), 0);
	/* and a new Allocate on the same 5-tuple works */
	allocate(&c, NULL, &m, resp);
}

Test(turn_engine, quotas_and_capacity, .fini = teardown_engine)
{
	struct client q[3], l[2];
	struct sn_stun_msg m;
	uint8_t resp[1024];

	setup_engine("  relay_port_min: 50000\n  relay_port_max: 50002\n  max_allocations: 4\n",
		     true);
	for (int i = 0; i < 3; i++)
		client_init(&q[i], (uint16_t)(41000 + i), "quota", "quota-password");
	allocate(&q[0], NULL, &m, resp);
	allocate(&q[1], NULL, &m, resp);
	get_nonce(&q[2]);
	cr_assert_eq(expect_error(&q[2], SN_STUN_METHOD_ALLOCATE, put_transport, NULL), 486,
		     "user quota of 2");
	/* relay ports: 3 in the range, 2 in use */
	client_init(&l[0], 42000, "lab", "lab-password");
	client_init(&l[1], 42001, "lab", "lab-password");
	allocate(&l[0], NULL, &m, resp);
	get_nonce(&l[1]);
	cr_assert_eq(expect_error(&l[1], SN_STUN_METHOD_ALLOCATE, put_transport, NULL), 508,
		     "relay ports exhausted");
	cr_assert_eq(ctl_ctr_get(&ctl_turn_counters(turn)->allocations), 3);
}

Test(turn_engine, total_quota, .fini = teardown_engine)
{
	struct client c[3];
	struct sn_stun_msg m;
	uint8_t resp[1024];

	setup_engine("  max_allocations: 2\n", true);
	for (int i = 0; i < 3; i++)
		client_init(&c[i], (uint16_t)(43000 + i), "lab", "lab-password");
	allocate(&c[0], NULL, &m, resp);
	allocate(&c[1], NULL, &m, resp);
	get_nonce(&c[2]);
	cr_assert_eq(expect_error(&c[2], SN_STUN_METHOD_ALLOCATE, put_transport, NULL), 486);
}

static void put_raf6(struct sn_stun_writer *w, void *arg)
{
	uint8_t f[4] = {SN_STUN_FAMILY_IPV6, 0, 0, 0};

	(void)arg;
	sn_stun_put_attr(w, SN_STUN_ATTR_REQUESTED_ADDRESS_FAMILY, f, 4);
}

static void put_raf9(struct sn_stun_writer *w, void *arg)
{
	uint8_t f[4] = {9, 0, 0, 0};

	(void)arg;
	sn_stun_put_attr(w, SN_STUN_ATTR_REQUESTED_ADDRESS_FAMILY, f, 4);
}

static void put_dual_coturn(struct sn_stun_writer *w, void *arg)
{
	uint8_t f[4] = {SN_STUN_FAMILY_IPV6, 0, 0, 0};

	(void)arg;
	sn_stun_put_attr(w, 0x8032, f, 4);
}

static void put_tcp(struct sn_stun_writer *w, void *arg)
{
	(void)w;
	(void)arg;
}

static void put_even_reserve(struct sn_stun_writer *w, void *arg)
{
	uint8_t r = 0x80;

	(void)arg;
	sn_stun_put_attr(w, SN_STUN_ATTR_EVEN_PORT, &r, 1);
	sn_stun_put_attr(w, SN_STUN_ATTR_DONT_FRAGMENT, NULL, 0);
}

static uint64_t token_of(const struct sn_stun_msg *m)
{
	uint16_t len;
	const uint8_t *v = sn_stun_get(m, SN_STUN_A_RESERVATION_TOKEN, &len);
	uint64_t t = 0;

	cr_assert_not_null(v);
	for (int i = 0; i < 8; i++)
		t = t << 8 | v[i];
	return t;
}

static uint64_t the_token;

static void put_token(struct sn_stun_writer *w, void *arg)
{
	uint8_t v[8];

	(void)arg;
	for (int i = 0; i < 8; i++)
		v[i] = (uint8_t)(the_token >> (56 - 8 * i));
	sn_stun_put_attr(w, SN_STUN_ATTR_RESERVATION_TOKEN, v, 8);
}

Test(turn_engine, families_even_port_reservation, .fini = teardown_engine)
{
	struct client c[5];
	struct sn_stun_msg m;
	uint8_t resp[1024], req[256];
	const uint8_t *v;
	uint16_t vlen, port;
	struct sn_stun_addr a;
	int n = 0;

	setup_engine(NULL, true);
	for (int i = 0; i < 5; i++)
		client_init(&c[i], (uint16_t)(44000 + i), "lab", "lab-password");
	/* IPv6 relayed address */
	allocate(&c[0], put_raf6, &m, resp);
	v = sn_stun_get(&m, SN_STUN_A_XOR_RELAYED_ADDRESS, &vlen);
	cr_assert_eq(sn_stun_xor_addr_decode(v, vlen, sn_stun_tid(&m), &a), 0);
	cr_assert_eq(a.family, AF_INET6);
	/* dual allocation with coturn's ADDITIONAL-ADDRESS-FAMILY code: two relayed addresses */
	allocate(&c[1], put_dual_coturn, &m, resp);
	for (uint32_t cur = 0;
	     sn_stun_find_next(&m, SN_STUN_ATTR_XOR_RELAYED_ADDRESS, &cur, &v, &vlen);)
		n++;
	cr_assert_eq(n, 2);
	/* EVEN-PORT with R: even port, token for the next one, which a token Allocate gets */
	port = allocate(&c[2], put_even_reserve, &m, resp);
	cr_assert_eq(port % 2, 0);
	the_token = token_of(&m);
	cr_assert_neq(the_token, 0);
	cr_assert_eq(allocate(&c[3], put_token, &m, resp), port + 1);
	/* the token is used up */
	get_nonce(&c[4]);
	cr_assert_eq(expect_error(&c[4], SN_STUN_METHOD_ALLOCATE, put_transport, (void *)put_token),
		     508);
	/* family 9: 440; no REQUESTED-TRANSPORT: 400; TCP: 442 */
	cr_assert_eq(expect_error(&c[4], SN_STUN_METHOD_ALLOCATE, put_transport, (void *)put_raf9),
		     440);
	cr_assert_eq(expect_error(&c[4], SN_STUN_METHOD_ALLOCATE, put_tcp, NULL), 400);
	{
		struct sn_stun_writer w;
		uint8_t tcp[4] = {6, 0, 0, 0};

		new_tid(&c[4]);
		sn_stun_writer_init(&w, req, sizeof(req), SN_STUN_METHOD_ALLOCATE,
				    SN_STUN_CLASS_REQUEST, c[4].tid);
		sn_stun_put_attr(&w, SN_STUN_ATTR_REQUESTED_TRANSPORT, tcp, 4);
		sn_stun_put_attr(&w, SN_STUN_ATTR_USERNAME, "lab", 3);
		sn_stun_put_attr(&w, SN_STUN_ATTR_REALM, "supernode.lab", 13);
		sn_stun_put_attr(&w, SN_STUN_ATTR_NONCE, c[4].nonce, c[4].nonce_len);
		sn_stun_writer_finish(&w, SN_STUN_FINISH_INTEGRITY, c[4].key, 16);
		punt(&c[4], req, w.len);
		size_t len;

		cr_assert(answer(&c[4], &m, resp, &len));
		cr_assert_eq(error_code(&m), 442);
	}
	/* RESERVATION-TOKEN with a family: 400 */
	cr_assert_eq(expect_error(&c[4], SN_STUN_METHOD_ALLOCATE, put_transport, (void *)put_raf6),
		     0); /* (sanity: a plain IPv6 Allocate still works) */
}

Test(turn_engine, permissions_and_channels, .fini = teardown_engine)
{
	struct client c;
	struct sn_stun_msg m;
	uint8_t resp[1024];
	struct peers p;
	int from;

	setup_engine(NULL, true);
	client_init(&c, 45000, "lab", "lab-password");
	allocate(&c, NULL, &m, resp);
	/* allowed peer: one PERM ADD, answered after its ack */
	memset(&p, 0, sizeof(p));
	p.channel = -1;
	p.n = 1;
	p.a[0] = peer_addr("198.18.0.2", 5000);
	from = n_sent;
	cr_assert_eq(expect_error(&c, SN_STUN_METHOD_CREATE_PERMISSION, put_peers, &p), 0);
	cr_assert_eq(count_cmds(SN_TABLE_TURN_PERM, SN_TABLE_OP_ADD, from), 1);
	/* every denied class gets 403, also in IPv4-mapped and -compatible forms */
	static const char *const denied[] = {
	    "127.0.0.1",   "10.0.0.1",	 "192.168.1.1",	    "172.16.0.1", "169.254.0.1",
	    "224.0.0.1",   "0.0.0.0",	 "255.255.255.255", "192.0.2.1",  "198.51.100.1",
	    "203.0.113.1", "198.18.0.3", "100.64.0.1",
	};
	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		p.a[0] = peer_addr(denied[i], 5000);
		cr_assert_eq(expect_error(&c, SN_STUN_METHOD_CREATE_PERMISSION, put_peers, &p), 403,
			     "%s", denied[i]);
	}
	/* an IPv6 peer on an IPv4 allocation: 443 (the family check comes first) */
	p.a[0] = peer_addr("::ffff:127.0.0.1", 5000);
	cr_assert_eq(expect_error(&c, SN_STUN_METHOD_CREATE_PERMISSION, put_peers, &p), 443);
	/* several peers at once; one denied fails the whole request */
	p.n = 2;
	p.a[0] = peer_addr("198.18.0.2", 5000);
	p.a[1] = peer_addr("10.1.1.1", 5000);
	cr_assert_eq(expect_error(&c, SN_STUN_METHOD_CREATE_PERMISSION, put_peers, &p), 403);
	/* no peer: 400 */
	p.n = 0;
	cr_assert_eq(expect_error(&c, SN_STUN_METHOD_CREATE_PERMISSION, put_peers, &p), 400);

	/* ChannelBind: out of range (RFC 8656 range here), then a good one */
	p.n = 1;
	p.a[0] = peer_addr("198.18.0.2", 5000);
	p.channel = 0x3fff;
	cr_assert_eq(expect_error(&c, SN_STUN_METHOD_CHANNEL_BIND, put_peers, &p), 400);
	p.channel = 0x5000;
	cr_assert_eq(expect_error(&c, SN_STUN_METHOD_CHANNEL_BIND, put_peers, &p), 400);
	p.channel = 0x4001;
	from = n_sent;
	cr_assert_eq(expect_error(&c, SN_STUN_METHOD_CHANNEL_BIND, put_peers, &p), 0);
	cr_assert_eq(count_cmds(SN_TABLE_TURN_CHANNEL, SN_TABLE_OP_ADD, from), 1);
	cr_assert_eq(count_cmds(SN_TABLE_TURN_PERM, SN_TABLE_OP_ADD, from), 1);
	/* refresh of the same binding is fine */
	cr_assert_eq(expect_error(&c, SN_STUN_METHOD_CHANNEL_BIND, put_peers, &p), 0);
	/* the number to another peer, or the peer to another number: 400 */
	p.a[0] = peer_addr("198.18.0.2", 5001);
	cr_assert_eq(expect_error(&c, SN_STUN_METHOD_CHANNEL_BIND, put_peers, &p), 400);
	p.a[0] = peer_addr("198.18.0.2", 5000);
	p.channel = 0x4002;
	cr_assert_eq(expect_error(&c, SN_STUN_METHOD_CHANNEL_BIND, put_peers, &p), 400);
	/* max_channels 2 */
	p.a[0] = peer_addr("198.18.0.2", 5002);
	cr_assert_eq(expect_error(&c, SN_STUN_METHOD_CHANNEL_BIND, put_peers, &p), 0);
	p.a[0] = peer_addr("198.18.0.2", 5003);
	p.channel = 0x4003;
	cr_assert_eq(expect_error(&c, SN_STUN_METHOD_CHANNEL_BIND, put_peers, &p), 508);
	/* denied peer for a channel: 403 */
	p.a[0] = peer_addr("127.0.0.1", 5003);
	cr_assert_eq(expect_error(&c, SN_STUN_METHOD_CHANNEL_BIND, put_peers, &p), 403);
	cr_assert_eq(ctl_ctr_get(&ctl_turn_counters(turn)->channels), 2);
	cr_assert_eq(ctl_ctr_get(&ctl_turn_counters(turn)->permissions), 1);

	/* expiry: permissions after 300 s, channels after 600 s, allocation after 600 s */
	fake_real += 301ull * CTL_NS_PER_SEC;
	from = n_sent;
	ctl_turn_tick(turn, ctl_mono_ns() + 10 * CTL_NS_PER_SEC);
	cr_assert_eq(count_cmds(SN_TABLE_TURN_PERM, SN_TABLE_OP_DEL, from), 1);
	cr_assert_eq(ctl_ctr_get(&ctl_turn_counters(turn)->permissions), 0);
	cr_assert_eq(ctl_ctr_get(&ctl_turn_counters(turn)->channels), 2);
	fake_real += 300ull * CTL_NS_PER_SEC;
	from = n_sent;
	ctl_turn_tick(turn, ctl_mono_ns() + 20 * CTL_NS_PER_SEC);
	cr_assert_eq(count_cmds(SN_TABLE_TURN_ALLOC, SN_TABLE_OP_DEL, from), 1);
	cr_assert_eq(ctl_ctr_get(&ctl_turn_counters(turn)->allocations), 0);
	cr_assert_eq(ctl_ctr_get(&ctl_turn_counters(turn)->allocations_expired), 1);
	cr_assert_eq(ctl_ctr_get(&ctl_turn_counters(turn)->channels), 0);
}

Test(turn_engine, rfc5766_channels_and_perm_limit, .fini = teardown_engine)
{
	struct client c;
	struct sn_stun_msg m;
	uint8_t resp[1024];
	struct peers p;

	setup_engine(NULL, true);
	cfg.turn.rfc5766_channels = true;
	cfg.turn.allowed_peers[0].len = 24; /* 198.18.0.0/24 */
	cfg.turn.allowed_peers[0].addr[3] = 0;
	client_init(&c, 46000, "lab", "lab-password");
	allocate(&c, NULL, &m, resp);
	memset(&p, 0, sizeof(p));
	p.channel = 0x7fff;
	p.n = 1;
	p.a[0] = peer_addr("198.18.0.7", 5000);
	cr_assert_eq(expect_error(&c, SN_STUN_METHOD_CHANNEL_BIND, put_peers, &p), 0);
	p.channel = -1;
	p.n = 3; /* 1 + 3 > max_permissions 3 */
	p.a[0] = peer_addr("198.18.0.8", 1);
	p.a[1] = peer_addr("198.18.0.9", 1);
	p.a[2] = peer_addr("198.18.0.10", 1);
	cr_assert_eq(expect_error(&c, SN_STUN_METHOD_CREATE_PERMISSION, put_peers, &p), 508);
	p.n = 2;
	cr_assert_eq(expect_error(&c, SN_STUN_METHOD_CREATE_PERMISSION, put_peers, &p), 0);
	cr_assert_eq(ctl_ctr_get(&ctl_turn_counters(turn)->permissions), 3);
}

Test(turn_engine, nack_rolls_back, .fini = teardown_engine)
{
	struct client c;
	struct sn_stun_msg m;
	uint8_t resp[1024];
	size_t len;

	setup_engine(NULL, true);
	client_init(&c, 47000, "lab", "lab-password");
	get_nonce(&c);
	ack_result = -ENOSPC;
	request(&c, SN_STUN_METHOD_ALLOCATE, true, put_transport, NULL);
	cr_assert(answer(&c, &m, resp, &len));
	cr_assert_eq(error_code(&m), 508);
	check_mi(&c, &m);
	cr_assert_eq(ctl_ctr_get(&ctl_turn_counters(turn)->allocations), 0);
	ack_result = -EINVAL;
	request(&c, SN_STUN_METHOD_ALLOCATE, true, put_transport, NULL);
	cr_assert(answer(&c, &m, resp, &len));
	cr_assert_eq(error_code(&m), 500);
	ack_result = 0;
	allocate(&c, NULL, &m, resp);
	cr_assert_eq(ctl_ctr_get(&ctl_turn_counters(turn)->allocations), 1);
}

static void dump_entry(uint16_t table, const void *k, uint16_t kl, const void *v, uint16_t vl)
{
	static uint64_t buf[SN_CHANNEL_MAX_MSG / 8];
	int n = sn_msg_build_table(buf, sizeof(buf), SN_MSG_DUMP_ENTRY, 3, table, SN_TABLE_OP_ADD,
				   k, kl, v, vl);

	cr_assert_gt(n, 0);
	feed(buf, (size_t)n);
}

Test(turn_engine, adopt_after_restart, .fini = teardown_engine)
{
	struct client c, x;
	struct sn_stun_msg m;
	uint8_t resp[1024];
	struct sn_turn_alloc_key ak = {.alloc_id = 7};
	struct sn_turn_alloc_value av;
	struct sn_turn_perm_key pk;
	struct sn_turn_perm_value pv = {.expires_ns = fake_real + 200ull * CTL_NS_PER_SEC};
	struct sn_turn_channel_key ck = {.alloc_id = 7, .channel = 0x4005};
	struct sn_turn_channel_value cv;
	struct sn_msg_dump_end e = {.table = 0, .entries = 5};
	struct peers p;
	uint64_t buf[64];
	int from;

	/* a restarted control: the dump holds an allocation with a permission and a channel,
	 * an expired allocation, and a permission of an allocation that does not exist */
	setup_engine(NULL, false);
	client_init(&c, 48000, "lab", "lab-password");
	memset(&av, 0, sizeof(av));
	av.client = c.tuple;
	av.relay_port4 = 50123;
	av.expires_ns = fake_real + 500ull * CTL_NS_PER_SEC;
	av.to_peer_packets = 11;
	dump_entry(SN_TABLE_TURN_ALLOC, &ak, sizeof(ak), &av, sizeof(av));
	{
		struct sn_turn_alloc_key old = {.alloc_id = 9};
		struct sn_turn_alloc_value ov = av;

		ov.client.src_port = htons(48001);
		ov.relay_port4 = 50200;
		ov.expires_ns = fake_real - 1;
		dump_entry(SN_TABLE_TURN_ALLOC, &old, sizeof(old), &ov, sizeof(ov));
	}
	memset(&pk, 0, sizeof(pk));
	pk.alloc_id = 7;
	pk.family = AF_INET;
	memcpy(pk.peer, "\xc6\x12\x00\x02", 4);
	dump_entry(SN_TABLE_TURN_PERM, &pk, sizeof(pk), &pv, sizeof(pv));
	pk.alloc_id = 8;
	dump_entry(SN_TABLE_TURN_PERM, &pk, sizeof(pk), &pv, sizeof(pv));
	memset(&cv, 0, sizeof(cv));
	cv.family = AF_INET;
	cv.peer_port = htons(5000);
	memcpy(cv.peer, "\xc6\x12\x00\x02", 4);
	cv.expires_ns = fake_real + 400ull * CTL_NS_PER_SEC;
	dump_entry(SN_TABLE_TURN_CHANNEL, &ck, sizeof(ck), &cv, sizeof(cv));
	from = n_sent;
	feed(buf, msg_body((uint8_t *)buf, SN_MSG_DUMP_END, 2, &e, sizeof(e)));
	cr_assert_eq(chan.state, CTL_CHAN_READY);
	ack_pending(0);
	/* adopted, nothing reinstalled; the stale entries removed */
	cr_assert_eq(ctl_ctr_get(&ctl_turn_counters(turn)->allocations), 1);
	cr_assert_eq(ctl_ctr_get(&ctl_turn_counters(turn)->allocations_adopted), 1);
	cr_assert_eq(ctl_ctr_get(&ctl_turn_counters(turn)->permissions), 1);
	cr_assert_eq(ctl_ctr_get(&ctl_turn_counters(turn)->channels), 1);
	cr_assert_eq(count_cmds(SN_TABLE_TURN_ALLOC, SN_TABLE_OP_ADD, from), 0);
	cr_assert_eq(count_cmds(SN_TABLE_TURN_ALLOC, SN_TABLE_OP_DEL, from), 1);
	cr_assert_eq(count_cmds(SN_TABLE_TURN_PERM, SN_TABLE_OP_DEL, from), 1);
	cr_assert_eq(turn_alloc_by_id(turn, 7)->to_peer_packets, 11);
	cr_assert_null(turn_alloc_by_id(turn, 7)->user);
	next_read = n_sent;

	/* the client goes on: Refresh, CreatePermission and ChannelBind work and bind the
	 * allocation to the user that authenticates first */
	get_nonce(&c);
	cr_assert_eq(expect_error(&c, SN_STUN_METHOD_REFRESH, NULL, NULL), 0);
	cr_assert_str_eq(turn_alloc_by_id(turn, 7)->user->identity, "lab");
	memset(&p, 0, sizeof(p));
	p.channel = 0x4005;
	p.n = 1;
	p.a[0] = peer_addr("198.18.0.2", 5000);
	cr_assert_eq(expect_error(&c, SN_STUN_METHOD_CHANNEL_BIND, put_peers, &p), 0);
	p.channel = -1;
	cr_assert_eq(expect_error(&c, SN_STUN_METHOD_CREATE_PERMISSION, put_peers, &p), 0);
	/* and then belongs to it: another user gets 441 */
	client_init(&x, 48000, "other", "other-password");
	memcpy(x.nonce, c.nonce, c.nonce_len);
	x.nonce_len = c.nonce_len;
	cr_assert_eq(expect_error(&x, SN_STUN_METHOD_REFRESH, NULL, NULL), 441);
	/* its relay port is taken: new allocations never get it */
	for (int i = 0; i < 3; i++) {
		struct client n;

		client_init(&n, (uint16_t)(48100 + i), "lab", "lab-password");
		cr_assert_neq(allocate(&n, NULL, &m, resp), 50123);
	}
}

Test(turn_engine, resync_reinstalls_what_is_missing, .fini = teardown_engine)
{
	struct client c;
	struct sn_stun_msg m;
	uint8_t resp[1024];
	struct peers p;
	uint64_t buf[64];
	struct sn_msg_hello h;
	struct sn_msg_dump_end e = {.table = 0, .entries = 0};
	int from;

	setup_engine(NULL, true);
	client_init(&c, 49000, "lab", "lab-password");
	allocate(&c, NULL, &m, resp);
	memset(&p, 0, sizeof(p));
	p.channel = 0x4001;
	p.n = 1;
	p.a[0] = peer_addr("198.18.0.2", 5000);
	cr_assert_eq(expect_error(&c, SN_STUN_METHOD_CHANNEL_BIND, put_peers, &p), 0);
	/* the dataplane restarted: a new session with an empty dump */
	ctl_chan_disconnect(&chan, ctl_mono_ns(), "test");
	ctl_chan_start_session(&chan, ctl_mono_ns());
	memset(&h, 0, sizeof(h));
	h.role = SN_ROLE_DATAPLANE;
	h.epoch = 2;
	snprintf(h.build, sizeof(h.build), "%s", SN_VERSION);
	feed(buf, msg_body((uint8_t *)buf, SN_MSG_HELLO, 1, &h, sizeof(h)));
	from = n_sent;
	feed(buf, msg_body((uint8_t *)buf, SN_MSG_DUMP_END, 2, &e, sizeof(e)));
	cr_assert_eq(count_cmds(SN_TABLE_TURN_ALLOC, SN_TABLE_OP_ADD, from), 1);
	cr_assert_eq(count_cmds(SN_TABLE_TURN_PERM, SN_TABLE_OP_ADD, from), 1);
	cr_assert_eq(count_cmds(SN_TABLE_TURN_CHANNEL, SN_TABLE_OP_ADD, from), 1);
	ack_pending(0);
	next_read = n_sent;
	cr_assert_eq(expect_error(&c, SN_STUN_METHOD_REFRESH, NULL, NULL), 0);
}

Test(turn_engine, admin_allocations, .fini = teardown_engine)
{
	struct client c;
	struct sn_stun_msg m;
	uint8_t resp[1024];
	struct ctl_buf out;
	char *argv[3] = {"allocations", NULL, NULL};

	setup_engine(NULL, true);
	client_init(&c, 49500, "lab", "lab-password");
	allocate(&c, NULL, &m, resp);
	ctl_buf_init(&out);
	cr_assert_eq(ctl_turn_cmd_allocations(turn, 1, argv, false, &out), 0);
	cr_assert_not_null(strstr(out.data, "198.18.0.2:49500"), "%s", out.data);
	cr_assert_not_null(strstr(out.data, " lab "), "%s", out.data);
	ctl_buf_reset(&out);
	cr_assert_eq(ctl_turn_cmd_allocations(turn, 1, argv, true, &out), 0);
	cr_assert_not_null(strstr(out.data, "\"user\":\"lab\""), "%s", out.data);
	cr_assert_not_null(strstr(out.data, "\"relayed\":[\"198.18.0.1:"), "%s", out.data);
	ctl_buf_reset(&out);
	argv[1] = "12345";
	cr_assert_lt(ctl_turn_cmd_allocations(turn, 2, argv, false, &out), 0);
	ctl_buf_free(&out);
}

/* Mutated and random requests (valid ones with bytes flipped, cut, or grown; pure noise)
 * never crash control nor get an unauthenticated sender more bytes than it sent. Run under
 * ASan/UBSan in build-asan. */
Test(turn_engine, mutated_input_survives, .fini = teardown_engine)
{
	struct client c;
	struct sn_stun_msg m;
	uint8_t resp[1024], req[1024], mut[1100];
	struct sn_stun_writer w;
	struct peers p;
	uint32_t seed = 12345;
	int answered = 0;

	setup_engine(NULL, true);
	client_init(&c, 49700, "lab", "lab-password");
	allocate(&c, NULL, &m, resp);
	memset(&p, 0, sizeof(p));
	p.channel = 0x4001;
	p.n = 1;
	p.a[0] = peer_addr("198.18.0.2", 5000);
	for (int round = 0; round < 3000; round++) {
		size_t len, mlen;
		unsigned method = round % 4 == 0   ? SN_STUN_METHOD_ALLOCATE
				  : round % 4 == 1 ? SN_STUN_METHOD_REFRESH
				  : round % 4 == 2 ? SN_STUN_METHOD_CREATE_PERMISSION
						   : SN_STUN_METHOD_CHANNEL_BIND;

		new_tid(&c);
		sn_stun_writer_init(&w, req, sizeof(req), method, SN_STUN_CLASS_REQUEST, c.tid);
		if (method == SN_STUN_METHOD_ALLOCATE)
			put_transport(&w, NULL);
		else if (method != SN_STUN_METHOD_REFRESH)
			put_peers(&w, &p);
		else
			sn_stun_put_u32(&w, SN_STUN_ATTR_LIFETIME, 900);
		if (round % 2 == 0) {
			/* values changed under a valid MESSAGE-INTEGRITY: reaches the handlers */
			for (int k = 0; k < 1 + round % 3 && w.len > SN_STUN_HEADER_LEN; k++) {
				seed = seed * 1103515245u + 12345u;
				req[SN_STUN_HEADER_LEN +
				    (seed >> 8) % (w.len - SN_STUN_HEADER_LEN)] ^=
				    (uint8_t)(seed >> 24 | 1);
			}
			sn_stun_put_attr(&w, SN_STUN_ATTR_USERNAME, "lab", 3);
			sn_stun_put_attr(&w, SN_STUN_ATTR_REALM, "supernode.lab", 13);
			sn_stun_put_attr(&w, SN_STUN_ATTR_NONCE, c.nonce, c.nonce_len);
			sn_stun_writer_finish(
			    &w, SN_STUN_FINISH_INTEGRITY | SN_STUN_FINISH_FINGERPRINT, c.key, 16);
			punt(&c, req, w.len);
			while (answer(&c, &m, resp, &len)) {
				answered++;
				if (!sn_stun_has(&m, SN_STUN_A_MESSAGE_INTEGRITY))
					cr_assert_leq(len, w.len);
			}
			continue;
		}
		sn_stun_put_attr(&w, SN_STUN_ATTR_USERNAME, "lab", 3);
		sn_stun_put_attr(&w, SN_STUN_ATTR_REALM, "supernode.lab", 13);
		sn_stun_put_attr(&w, SN_STUN_ATTR_NONCE, c.nonce, c.nonce_len);
		cr_assert_gt(
		    sn_stun_writer_finish(&w, SN_STUN_FINISH_INTEGRITY | SN_STUN_FINISH_FINGERPRINT,
					  c.key, 16),
		    0);
		len = w.len;
		memcpy(mut, req, len);
		mlen = len;
		for (int k = 0; k < 1 + round % 5; k++) {
			seed = seed * 1103515245u + 12345u;
			switch ((seed >> 16) % 4) {
			case 0: /* flip a byte */
				mut[(seed >> 3) % mlen] ^= (uint8_t)(seed >> 24 | 1);
				break;
			case 1: /* cut */
				mlen = 1 + (seed >> 5) % mlen;
				break;
			case 2: /* grow with noise */
				while (mlen < len + 16 && mlen < sizeof(mut)) {
					mut[mlen] = (uint8_t)(seed >> (mlen % 24));
					mlen++;
				}
				break;
			default: /* noise */
				for (size_t i = 0; i < mlen; i++)
					mut[i] = (uint8_t)((seed >> (i % 24)) ^ i);
				break;
			}
		}
		punt(&c, mut, mlen);
		while (answer(&c, &m, resp, &len)) {
			answered++;
			if (!sn_stun_has(&m, SN_STUN_A_MESSAGE_INTEGRITY))
				cr_assert_leq(len, mlen,
					      "unauthenticated answer larger than request");
		}
		if (round % 500 == 0)
			ctl_turn_tick(turn, ctl_mono_ns() + (uint64_t)round * CTL_NS_PER_SEC);
	}
	cr_assert_gt(answered, 0);
	cr_assert_leq(ctl_ctr_get(&ctl_turn_counters(turn)->allocations), 1);
}

/* A restarted control whose first resync is cut after the allocations (the dataplane closed
 * a socket control did not read in time) adopts the permissions and channels from the
 * dump of the next session, and a ChannelBind refresh keeps the adopted channel. */
Test(turn_engine, adopt_after_cut_resync, .fini = teardown_engine)
{
	struct client c;
	struct sn_turn_alloc_key ak = {.alloc_id = 3};
	struct sn_turn_alloc_value av;
	struct sn_turn_perm_key pk;
	struct sn_turn_perm_value pv = {.expires_ns = fake_real + 200ull * CTL_NS_PER_SEC};
	struct sn_turn_channel_key ck = {.alloc_id = 3, .channel = 0x4001};
	struct sn_turn_channel_value cv;
	struct sn_msg_dump_end e = {.table = 0, .entries = 3};
	struct sn_msg_hello h;
	struct peers p;
	uint64_t buf[64];
	int from;

	setup_engine(NULL, false);
	client_init(&c, 48500, "lab", "lab-password");
	memset(&av, 0, sizeof(av));
	av.client = c.tuple;
	av.relay_port4 = 50321;
	av.expires_ns = fake_real + 500ull * CTL_NS_PER_SEC;
	memset(&pk, 0, sizeof(pk));
	pk.alloc_id = 3;
	pk.family = AF_INET;
	memcpy(pk.peer, "\xc6\x12\x00\x02", 4);
	memset(&cv, 0, sizeof(cv));
	cv.family = AF_INET;
	cv.peer_port = htons(5000);
	memcpy(cv.peer, "\xc6\x12\x00\x02", 4);
	cv.expires_ns = fake_real + 400ull * CTL_NS_PER_SEC;
	dump_entry(SN_TABLE_TURN_ALLOC, &ak, sizeof(ak), &av, sizeof(av));
	ctl_chan_disconnect(&chan, ctl_mono_ns(), "test: dump cut");
	cr_assert_eq(ctl_ctr_get(&ctl_turn_counters(turn)->allocations), 1);

	ctl_chan_start_session(&chan, ctl_mono_ns());
	memset(&h, 0, sizeof(h));
	h.role = SN_ROLE_DATAPLANE;
	h.epoch = 1;
	snprintf(h.build, sizeof(h.build), "%s", SN_VERSION);
	feed(buf, msg_body((uint8_t *)buf, SN_MSG_HELLO, 1, &h, sizeof(h)));
	from = n_sent;
	dump_entry(SN_TABLE_TURN_ALLOC, &ak, sizeof(ak), &av, sizeof(av));
	dump_entry(SN_TABLE_TURN_PERM, &pk, sizeof(pk), &pv, sizeof(pv));
	dump_entry(SN_TABLE_TURN_CHANNEL, &ck, sizeof(ck), &cv, sizeof(cv));
	feed(buf, msg_body((uint8_t *)buf, SN_MSG_DUMP_END, 2, &e, sizeof(e)));
	cr_assert_eq(chan.state, CTL_CHAN_READY);
	cr_assert_eq(ctl_ctr_get(&ctl_turn_counters(turn)->allocations), 1);
	cr_assert_eq(ctl_ctr_get(&ctl_turn_counters(turn)->permissions), 1);
	cr_assert_eq(ctl_ctr_get(&ctl_turn_counters(turn)->channels), 1);
	/* the dataplane holds all three: nothing reinstalled, nothing removed */
	cr_assert_eq(count_cmds(SN_TABLE_TURN_ALLOC, SN_TABLE_OP_ADD, from), 0);
	cr_assert_eq(count_cmds(SN_TABLE_TURN_CHANNEL, SN_TABLE_OP_DEL, from), 0);
	cr_assert_eq(count_cmds(SN_TABLE_TURN_PERM, SN_TABLE_OP_DEL, from), 0);
	ack_pending(0);
	next_read = n_sent;

	/* a ChannelBind retransmitted while control was down comes first and binds the owner */
	get_nonce(&c);
	memset(&p, 0, sizeof(p));
	p.channel = 0x4001;
	p.n = 1;
	p.a[0] = peer_addr("198.18.0.2", 5000);
	cr_assert_eq(expect_error(&c, SN_STUN_METHOD_CHANNEL_BIND, put_peers, &p), 0);
	cr_assert_eq(ctl_ctr_get(&ctl_turn_counters(turn)->channels), 1);
	cr_assert_eq(ctl_ctr_get(&ctl_turn_counters(turn)->permissions), 1);
	cr_assert_eq(expect_error(&c, SN_STUN_METHOD_REFRESH, NULL, NULL), 0);
	cr_assert_eq(expect_error(&c, SN_STUN_METHOD_CHANNEL_BIND, put_peers, &p), 0);
	ctl_turn_tick(turn, ctl_mono_ns() + 5ull * CTL_NS_PER_SEC);
	cr_assert_eq(ctl_ctr_get(&ctl_turn_counters(turn)->channels), 1);
	cr_assert_eq(ctl_ctr_get(&ctl_turn_counters(turn)->permissions), 1);
}
