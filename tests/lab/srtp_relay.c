/* srtp_relay.c: a TURN client that carries real SRTP and SRTCP through the appliance
 * (tests/lab/test_turn_srtp.sh and test_turn_restart.sh).
 *
 * In the lab namespace it opens a client socket (--local) and a peer socket (--peer), then:
 *   1. Allocate with long-term credentials (a static user, or a TURN REST API username made
 *      from --rest-secret), answering 401/438 challenges; REQUESTED-ADDRESS-FAMILY follows
 *      the peer's family, --dual asks for both (ADDITIONAL-ADDRESS-FAMILY);
 *   2. ChannelBind (default) or CreatePermission (--send: Send/Data indications) for the peer;
 *   3. streams --ssrcs SRTP streams each way (client -> relay -> peer and peer -> relayed
 *      address -> client), one RTP packet per SSRC every --interval-ms, and an SRTCP sender
 *      report every 10th, all protected by libsrtp2 (AES-CM-128, HMAC-SHA1-80, fixed key);
 *   4. every --refresh-s seconds: Refresh, and the ChannelBind/CreatePermission again; a
 *      refresh that fails (after challenges and retransmissions) fails the run;
 *   5. at the end: Refresh with lifetime 0.
 * The receiver of each direction unprotects every packet and checks per SSRC: every packet
 * authenticates, none is duplicated (libsrtp's replay check and the sequence numbers), the
 * order is kept (RTP sequence numbers, SRTCP indexes), and at most --max-loss are missing.
 * Prints one summary line per direction and exits 0 when every check passed, 1 otherwise,
 * 2 for usage errors. Traffic stays where --server, --local and --peer point (the lab
 * namespace). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <srtp2/srtp.h>

#include "channeldata.h"
#include "stun.h"

#define MAX_SSRCS     16
#define RTP_PAYLOAD   160
#define RTCP_EVERY    10
#define RTO_MS	      500 /* first retransmission timeout (RFC 8489) */
#define MAX_TRIES     9	  /* transmissions of one request: 0.5+1+2+4+4+... s */
#define MAX_RTO_MS    4000
#define MAX_CHALLENGE 4 /* 401/438 answered in a row before giving up */
#define DRAIN_MS      2000

static const uint8_t srtp_key[30] = {0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0, 0xd6, 0x4f,
				     0xa3, 0x2c, 0x06, 0xde, 0x41, 0x39, 0x0e, 0xc6, 0x75, 0xad,
				     0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6};

struct opts {
	const char *server, *local, *peer;
	uint16_t port;
	const char *user, *password, *rest_secret, *realm_hint;
	bool send_ind, dual, verbose;
	int ssrcs, packets, interval_ms, refresh_s, max_loss;
	uint16_t channel;
};

static struct opts o = {
    .port = 3478,
    .ssrcs = 4,
    .packets = 250,
    .interval_ms = 20,
    .refresh_s = 0,
    .max_loss = 0,
    .channel = 0x4001,
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

#define LOG(...)                                                                                   \
	do {                                                                                       \
		if (o.verbose)                                                                     \
			fprintf(stderr, "srtp_relay: " __VA_ARGS__);                               \
	} while (0)

static void die(const char *what)
{
	fprintf(stderr, "srtp_relay: %s\n", what);
	exit(1);
}

/* ---------------------------------------------------------------- addresses */

static int parse_addr(const char *ip, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
		return inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1 ? 0 : -1;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	*len = sizeof(*s4);
	return inet_pton(AF_INET, ip, &s4->sin_addr) == 1 ? 0 : -1;
}

static void to_stun(const struct sockaddr_storage *ss, struct sn_stun_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->family = (uint8_t)ss->ss_family;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		a->port = s4->sin_port;
		memcpy(a->addr, &s4->sin_addr, 4);
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		a->port = s6->sin6_port;
		memcpy(a->addr, &s6->sin6_addr, 16);
	}
}

static void from_stun(const struct sn_stun_addr *a, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = a->port;
		memcpy(&s4->sin_addr, a->addr, 4);
		*len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = a->port;
		memcpy(&s6->sin6_addr, a->addr, 16);
		*len = sizeof(*s6);
	}
}

static bool stun_addr_eq(const struct sn_stun_addr *a, const struct sn_stun_addr *b)
{
	return a->family == b->family && a->port == b->port &&
	       !memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16);
}

static int udp_socket(const char *ip, struct sockaddr_storage *bound)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, buf = 4 << 20;

	if (parse_addr(ip, 0, &ss, &len) < 0)
		die("bad address");
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0)
		die("socket/bind failed");
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	len = sizeof(*bound);
	getsockname(fd, (struct sockaddr *)bound, &len);
	return fd;
}

/* ---------------------------------------------------------------- TURN client */

enum step { ST_ALLOCATE, ST_BIND, ST_REFRESH, ST_DELETE, ST_IDLE };

struct client {
	int fd;
	struct sockaddr_storage server;
	socklen_t server_len;
	struct sn_stun_addr peer;    /* the peer socket's address */
	struct sn_stun_addr relayed; /* relayed address of the peer's family */
	char user[256];
	char password[64];
	uint8_t key[32]; /* MD5 long-term key: 16 bytes used */
	char realm[256];
	char nonce[256];
	size_t nonce_len;
	/* the request in flight */
	enum step step;
	bool in_flight;
	uint8_t tid[SN_STUN_TID_LEN];
	uint8_t req[1024];
	size_t req_len;
	int tries, challenges;
	double next_ms;
	int rto_ms;
	uint32_t lifetime; /* of the Refresh being sent */
	/* outcomes */
	bool allocated, bound, deleted;
	int refreshes, refresh_failures, challenged;
};

static struct client c;

static void new_tid(uint8_t *tid)
{
	for (unsigned i = 0; i < SN_STUN_TID_LEN; i++)
		tid[i] = (uint8_t)(random() >> 7);
}

static void derive_key(void)
{
	if (sn_stun_long_term_key(SN_STUN_PASSWORD_MD5, c.user, strlen(c.user), c.realm,
				  strlen(c.realm), c.password, strlen(c.password), c.key) != 16)
		die("key derivation failed");
}

static void build_request(void)
{
	struct sn_stun_writer w;
	unsigned method;
	bool auth = c.nonce_len > 0;

	new_tid(c.tid);
	method = c.step == ST_ALLOCATE		    ? SN_STUN_METHOD_ALLOCATE
		 : c.step == ST_BIND && !o.send_ind ? SN_STUN_METHOD_CHANNEL_BIND
		 : c.step == ST_BIND		    ? SN_STUN_METHOD_CREATE_PERMISSION
						    : SN_STUN_METHOD_REFRESH;
	sn_stun_writer_init(&w, c.req, sizeof(c.req), method, SN_STUN_CLASS_REQUEST, c.tid);
	if (c.step == ST_ALLOCATE) {
		uint8_t tr[4] = {IPPROTO_UDP, 0, 0, 0};
		uint8_t fam[4] = {
		    c.peer.family == AF_INET6 ? SN_STUN_FAMILY_IPV6 : SN_STUN_FAMILY_IPV4, 0, 0, 0};

		sn_stun_put_attr(&w, SN_STUN_ATTR_REQUESTED_TRANSPORT, tr, 4);
		sn_stun_put_u32(&w, SN_STUN_ATTR_LIFETIME, 600);
		if (o.dual) {
			uint8_t v6[4] = {SN_STUN_FAMILY_IPV6, 0, 0, 0};

			sn_stun_put_attr(&w, SN_STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY, v6, 4);
		} else {
			sn_stun_put_attr(&w, SN_STUN_ATTR_REQUESTED_ADDRESS_FAMILY, fam, 4);
		}
		/* big enough for a full challenge under the size rule */
		sn_stun_put_attr(&w, SN_STUN_ATTR_SOFTWARE, "sn-lab-srtp-relay", 17);
	} else if (c.step == ST_BIND) {
		if (!o.send_ind) {
			uint8_t ch[4] = {(uint8_t)(o.channel >> 8), (uint8_t)o.channel, 0, 0};

			sn_stun_put_attr(&w, SN_STUN_ATTR_CHANNEL_NUMBER, ch, 4);
		}
		sn_stun_put_xor_addr(&w, SN_STUN_ATTR_XOR_PEER_ADDRESS, &c.peer);
	} else {
		sn_stun_put_u32(&w, SN_STUN_ATTR_LIFETIME, c.lifetime);
	}
	if (auth) {
		sn_stun_put_attr(&w, SN_STUN_ATTR_USERNAME, c.user, strlen(c.user));
		sn_stun_put_attr(&w, SN_STUN_ATTR_REALM, c.realm, strlen(c.realm));
		sn_stun_put_attr(&w, SN_STUN_ATTR_NONCE, c.nonce, c.nonce_len);
	}
	if (sn_stun_writer_finish(
		&w, (auth ? SN_STUN_FINISH_INTEGRITY : 0) | SN_STUN_FINISH_FINGERPRINT,
		auth ? c.key : NULL, auth ? 16 : 0) < 0)
		die("cannot build a request");
	c.req_len = w.len;
}

static void transmit(void)
{
	if (sendto(c.fd, c.req, c.req_len, 0, (struct sockaddr *)&c.server, c.server_len) < 0 &&
	    errno != EAGAIN)
		perror("srtp_relay: sendto server");
	c.tries++;
	c.next_ms = now_ms() + c.rto_ms;
	c.rto_ms = c.rto_ms * 2 > MAX_RTO_MS ? MAX_RTO_MS : c.rto_ms * 2;
}

static void start(enum step s)
{
	c.step = s;
	c.in_flight = true;
	c.tries = 0;
	c.challenges = 0;
	c.rto_ms = RTO_MS;
	build_request();
	transmit();
}

static const char *step_name(enum step s)
{
	static const char *const n[] = {"Allocate", "bind", "Refresh", "delete", "idle"};

	return n[s];
}

/* The request failed for good. */
static void step_failed(const char *why)
{
	fprintf(stderr, "srtp_relay: %s failed: %s\n", step_name(c.step), why);
	c.in_flight = false;
	if (c.step == ST_ALLOCATE || (c.step == ST_BIND && !c.bound))
		exit(1);
	if (c.step != ST_DELETE)
		c.refresh_failures++;
}

static void on_response(const uint8_t *buf, size_t len)
{
	struct sn_stun_msg m;
	const uint8_t *v;
	uint16_t vl;

	if (sn_stun_parse(buf, len, &m) != SN_STUN_OK || !c.in_flight ||
	    memcmp(sn_stun_tid(&m), c.tid, SN_STUN_TID_LEN))
		return; /* late answer to an earlier transmission or transaction */
	if (m.cls == SN_STUN_CLASS_ERROR) {
		unsigned code = 0;
		const char *reason;
		size_t rl;
		char why[64];

		v = sn_stun_get(&m, SN_STUN_A_ERROR_CODE, &vl);
		if (!v || sn_stun_error_decode(v, vl, &code, &reason, &rl) < 0) {
			step_failed("malformed error answer");
			return;
		}
		if ((code == 401 || code == 438) && c.challenges < MAX_CHALLENGE &&
		    (v = sn_stun_get(&m, SN_STUN_A_NONCE, &vl)) && vl < sizeof(c.nonce)) {
			uint16_t rlen;
			const uint8_t *r = sn_stun_get(&m, SN_STUN_A_REALM, &rlen);

			memcpy(c.nonce, v, vl);
			c.nonce_len = vl;
			if (r && rlen < sizeof(c.realm)) {
				memcpy(c.realm, r, rlen);
				c.realm[rlen] = '\0';
			}
			derive_key();
			c.challenges++;
			c.challenged++;
			LOG("%s: %u, nonce of %u characters\n", step_name(c.step), code, vl);
			c.tries = 0;
			c.rto_ms = RTO_MS;
			build_request();
			transmit();
			return;
		}
		if (c.step == ST_DELETE && code == 437) {
			c.in_flight = false; /* a retransmitted delete: already gone */
			c.deleted = true;
			return;
		}
		snprintf(why, sizeof(why), "error %u", code);
		step_failed(why);
		return;
	}
	if (m.cls != SN_STUN_CLASS_SUCCESS)
		return;
	if (sn_stun_check_integrity(&m, c.key, 16) != SN_STUN_OK) {
		step_failed("answer without valid MESSAGE-INTEGRITY");
		return;
	}
	c.in_flight = false;
	switch (c.step) {
	case ST_ALLOCATE: {
		uint32_t cur = 0;
		int n = 0;

		while (sn_stun_find_next(&m, SN_STUN_ATTR_XOR_RELAYED_ADDRESS, &cur, &v, &vl)) {
			struct sn_stun_addr ra;

			if (sn_stun_xor_addr_decode(v, vl, sn_stun_tid(&m), &ra) < 0)
				die("bad XOR-RELAYED-ADDRESS");
			n++;
			if (ra.family == c.peer.family)
				c.relayed = ra;
		}
		if (!c.relayed.family)
			die("no relayed address of the peer's family");
		if (o.dual && n != 2)
			die("dual allocation without two relayed addresses");
		c.allocated = true;
		{
			char ip[INET6_ADDRSTRLEN];

			inet_ntop(c.relayed.family, c.relayed.addr, ip, sizeof(ip));
			LOG("allocated %s port %u (%d relayed addresses), lifetime %u\n", ip,
			    ntohs(c.relayed.port), n, sn_stun_get_u32(&m, SN_STUN_A_LIFETIME));
		}
		start(ST_BIND);
		break;
	}
	case ST_BIND:
		if (c.bound)
			c.refreshes++;
		c.bound = true;
		break;
	case ST_REFRESH:
		start(ST_BIND);
		break;
	case ST_DELETE:
		c.deleted = true;
		break;
	default:
		break;
	}
}

static void txn_tick(void)
{
	if (!c.in_flight || now_ms() < c.next_ms)
		return;
	if (c.tries >= MAX_TRIES) {
		step_failed("no answer");
		return;
	}
	transmit();
}

/* ---------------------------------------------------------------- SRTP streams */

struct rx_stream {
	uint32_t ssrc;
	bool seen_rtp, seen_rtcp;
	uint16_t last_seq;
	uint32_t last_index;
	uint64_t rtp, rtcp;
};

struct direction {
	const char *name;
	srtp_t tx, rx;
	uint32_t ssrc_base;
	uint64_t rtp_sent, rtcp_sent, rtp_recv, rtcp_recv;
	uint64_t auth_fail, dup, reorder, foreign;
	struct rx_stream in[MAX_SSRCS];
};

static struct direction c2p = {.name = "client_to_peer", .ssrc_base = 0x51000000};
static struct direction p2c = {.name = "peer_to_client", .ssrc_base = 0x52000000};

static srtp_t session(bool outbound)
{
	srtp_policy_t p;
	srtp_t s;

	memset(&p, 0, sizeof(p));
	srtp_crypto_policy_set_rtp_default(&p.rtp);
	srtp_crypto_policy_set_rtcp_default(&p.rtcp);
	p.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
	p.key = (unsigned char *)srtp_key;
	p.window_size = 1024;
	if (srtp_create(&s, &p) != srtp_err_status_ok)
		die("srtp_create failed");
	return s;
}

/* Builds the next RTP (or, with rtcp, SRTCP sender report) packet of stream i, protected. */
static int make_packet(struct direction *d, int i, uint32_t n, bool rtcp, uint8_t *buf)
{
	uint32_t ssrc = d->ssrc_base + (uint32_t)i;
	int len;
	srtp_err_status_t st;

	if (rtcp) {
		memset(buf, 0, 28);
		buf[0] = 0x80;
		buf[1] = 200; /* SR */
		buf[3] = 6;   /* 7 words - 1 */
		buf[4] = (uint8_t)(ssrc >> 24);
		buf[5] = (uint8_t)(ssrc >> 16);
		buf[6] = (uint8_t)(ssrc >> 8);
		buf[7] = (uint8_t)ssrc;
		buf[8] = (uint8_t)(n >> 24); /* NTP timestamp: our counter */
		buf[9] = (uint8_t)(n >> 16);
		buf[10] = (uint8_t)(n >> 8);
		buf[11] = (uint8_t)n;
		len = 28;
		st = srtp_protect_rtcp(d->tx, buf, &len);
	} else {
		buf[0] = 0x80;
		buf[1] = 96;
		buf[2] = (uint8_t)(n >> 8);
		buf[3] = (uint8_t)n;
		buf[4] = (uint8_t)((n * 160) >> 24);
		buf[5] = (uint8_t)((n * 160) >> 16);
		buf[6] = (uint8_t)((n * 160) >> 8);
		buf[7] = (uint8_t)(n * 160);
		buf[8] = (uint8_t)(ssrc >> 24);
		buf[9] = (uint8_t)(ssrc >> 16);
		buf[10] = (uint8_t)(ssrc >> 8);
		buf[11] = (uint8_t)ssrc;
		for (int k = 0; k < RTP_PAYLOAD; k++)
			buf[12 + k] = (uint8_t)(n + (uint32_t)k);
		len = 12 + RTP_PAYLOAD;
		st = srtp_protect(d->tx, buf, &len);
	}
	if (st != srtp_err_status_ok)
		die("srtp_protect failed");
	if (rtcp)
		d->rtcp_sent++;
	else
		d->rtp_sent++;
	return len;
}

static struct rx_stream *stream_of(struct direction *d, uint32_t ssrc)
{
	uint32_t i = ssrc - d->ssrc_base;

	if (ssrc < d->ssrc_base || i >= (uint32_t)o.ssrcs)
		return NULL;
	d->in[i].ssrc = ssrc;
	return &d->in[i];
}

/* Checks one received SRTP/SRTCP packet. */
static void receive(struct direction *d, const uint8_t *pkt, size_t len)
{
	uint8_t buf[2048];
	int n = (int)len;
	bool rtcp;
	uint32_t ssrc;
	struct rx_stream *s;

	if (len < 12 || len > sizeof(buf) || (pkt[0] & 0xc0) != 0x80) {
		d->foreign++;
		return;
	}
	memcpy(buf, pkt, len);
	rtcp = pkt[1] >= 200 && pkt[1] <= 204;
	ssrc =
	    rtcp ? (uint32_t)pkt[4] << 24 | (uint32_t)pkt[5] << 16 | (uint32_t)pkt[6] << 8 | pkt[7]
		 : (uint32_t)pkt[8] << 24 | (uint32_t)pkt[9] << 16 | (uint32_t)pkt[10] << 8 |
		       pkt[11];
	s = stream_of(d, ssrc);
	if (!s) {
		d->foreign++;
		return;
	}
	if (rtcp) {
		/* E flag and SRTCP index sit before the 10-byte tag */
		uint32_t index;
		srtp_err_status_t st;

		if (len < 28 + 14) {
			d->auth_fail++;
			return;
		}
		index = ((uint32_t)pkt[len - 14] << 24 | (uint32_t)pkt[len - 13] << 16 |
			 (uint32_t)pkt[len - 12] << 8 | pkt[len - 11]) &
			0x7fffffffu;
		st = srtp_unprotect_rtcp(d->rx, buf, &n);
		if (st == srtp_err_status_replay_fail || st == srtp_err_status_replay_old) {
			d->dup++;
			return;
		}
		if (st != srtp_err_status_ok) {
			d->auth_fail++;
			return;
		}
		if (s->seen_rtcp && index == s->last_index)
			d->dup++;
		else if (s->seen_rtcp && index < s->last_index)
			d->reorder++;
		s->last_index = index;
		s->seen_rtcp = true;
		s->rtcp++;
		d->rtcp_recv++;
		return;
	}
	{
		uint16_t seq = (uint16_t)(pkt[2] << 8 | pkt[3]);
		srtp_err_status_t st = srtp_unprotect(d->rx, buf, &n);

		if (st == srtp_err_status_replay_fail || st == srtp_err_status_replay_old) {
			d->dup++;
			return;
		}
		if (st != srtp_err_status_ok || n != 12 + RTP_PAYLOAD) {
			d->auth_fail++;
			return;
		}
		if (s->seen_rtp && seq == s->last_seq)
			d->dup++;
		else if (s->seen_rtp && (int16_t)(seq - s->last_seq) < 0)
			d->reorder++;
		s->last_seq = seq;
		s->seen_rtp = true;
		s->rtp++;
		d->rtp_recv++;
	}
}

/* ---------------------------------------------------------------- data path */

static int peer_fd;

/* Client -> peer through the relay. */
static void client_send(const uint8_t *data, int len)
{
	uint8_t buf[2048 + 64];
	int n;

	if (!o.send_ind) {
		n = sn_chandata_build(buf, sizeof(buf), o.channel, data, (size_t)len,
				      SN_CHANDATA_F_RFC5766);
	} else {
		struct sn_stun_writer w;
		uint8_t tid[SN_STUN_TID_LEN];

		new_tid(tid);
		sn_stun_writer_init(&w, buf, sizeof(buf), SN_STUN_METHOD_SEND,
				    SN_STUN_CLASS_INDICATION, tid);
		sn_stun_put_xor_addr(&w, SN_STUN_ATTR_XOR_PEER_ADDRESS, &c.peer);
		sn_stun_put_attr(&w, SN_STUN_ATTR_DATA, data, (size_t)len);
		n = w.err ? w.err : (int)w.len;
	}
	if (n < 0)
		die("cannot build ChannelData/Send");
	if (sendto(c.fd, buf, (size_t)n, 0, (struct sockaddr *)&c.server, c.server_len) < 0 &&
	    errno != EAGAIN && errno != ENOBUFS)
		perror("srtp_relay: send to server");
}

/* Peer -> relayed address. */
static void peer_send(const uint8_t *data, int len)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	from_stun(&c.relayed, &ss, &sl);
	if (sendto(peer_fd, data, (size_t)len, 0, (struct sockaddr *)&ss, sl) < 0 &&
	    errno != EAGAIN && errno != ENOBUFS)
		perror("srtp_relay: send to relayed address");
}

static uint64_t client_stray;

static void client_rx(void)
{
	uint8_t buf[4096];

	for (int k = 0; k < 256; k++) {
		ssize_t n = recv(c.fd, buf, sizeof(buf), 0);

		if (n < 0)
			return;
		if (n == 0)
			continue;
		if (buf[0] >= 0x40 && buf[0] <= 0x7f) {
			struct sn_chandata cd;

			if (sn_chandata_parse(buf, (size_t)n, SN_CHANDATA_F_RFC5766, &cd) ==
				SN_CHANDATA_OK &&
			    cd.channel == o.channel)
				receive(&p2c, cd.data, cd.len);
			else
				client_stray++;
			continue;
		}
		if (buf[0] < 4) {
			struct sn_stun_msg m;
			const uint8_t *v;
			uint16_t vl;

			if (sn_stun_parse(buf, (size_t)n, &m) != SN_STUN_OK) {
				client_stray++;
				continue;
			}
			if (m.cls == SN_STUN_CLASS_INDICATION && m.method == SN_STUN_METHOD_DATA) {
				struct sn_stun_addr from;

				v = sn_stun_get(&m, SN_STUN_A_XOR_PEER_ADDRESS, &vl);
				if (!v ||
				    sn_stun_xor_addr_decode(v, vl, sn_stun_tid(&m), &from) < 0 ||
				    !stun_addr_eq(&from, &c.peer)) {
					client_stray++;
					continue;
				}
				v = sn_stun_get(&m, SN_STUN_A_DATA, &vl);
				if (v)
					receive(&p2c, v, vl);
				continue;
			}
			on_response(buf, (size_t)n);
			continue;
		}
		client_stray++;
	}
}

static uint64_t peer_stray;

static void peer_rx(void)
{
	uint8_t buf[4096];
	struct sockaddr_storage from;

	for (int k = 0; k < 256; k++) {
		socklen_t fl = sizeof(from);
		struct sn_stun_addr fa;
		ssize_t n = recvfrom(peer_fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);

		if (n < 0)
			return;
		to_stun(&from, &fa);
		if (!c.allocated || !stun_addr_eq(&fa, &c.relayed)) {
			peer_stray++;
			continue;
		}
		receive(&c2p, buf, (size_t)n);
	}
}

/* ---------------------------------------------------------------- main */

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: sn-lab-srtp-relay --server IP --local IP --peer IP (--user U --password P | "
	       "--user U --rest-secret S)\n"
	       "       [--port 3478] [--send] [--dual] [--ssrcs 4] [--packets 250] "
	       "[--interval-ms 20] [--refresh-s 0] [--channel 0x4001] [--max-loss 0] [-v]\n");
}

static void make_rest_user(void)
{
	uint8_t mac[20];
	unsigned int ml = sizeof(mac);
	char name[256];

	snprintf(name, sizeof(name), "%ld:%s", (long)time(NULL) + 86400, o.user);
	if (!HMAC(EVP_sha1(), o.rest_secret, (int)strlen(o.rest_secret), (uint8_t *)name,
		  strlen(name), mac, &ml))
		die("HMAC failed");
	EVP_EncodeBlock((unsigned char *)c.password, mac, (int)ml);
	snprintf(c.user, sizeof(c.user), "%s", name);
}

static void summary(const struct direction *d)
{
	printf("srtp_relay: %s rtp_sent=%llu rtp_recv=%llu rtcp_sent=%llu rtcp_recv=%llu "
	       "auth_fail=%llu dup=%llu reorder=%llu lost=%lld foreign=%llu\n",
	       d->name, (unsigned long long)d->rtp_sent, (unsigned long long)d->rtp_recv,
	       (unsigned long long)d->rtcp_sent, (unsigned long long)d->rtcp_recv,
	       (unsigned long long)d->auth_fail, (unsigned long long)d->dup,
	       (unsigned long long)d->reorder,
	       (long long)(d->rtp_sent + d->rtcp_sent) - (long long)(d->rtp_recv + d->rtcp_recv),
	       (unsigned long long)d->foreign);
}

static bool direction_ok(const struct direction *d)
{
	long long lost =
	    (long long)(d->rtp_sent + d->rtcp_sent) - (long long)(d->rtp_recv + d->rtcp_recv);

	return d->auth_fail == 0 && d->dup == 0 && d->reorder == 0 && lost <= o.max_loss &&
	       d->rtp_recv > 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"server", 1, NULL, 's'},	   {"port", 1, NULL, 'p'},    {"local", 1, NULL, 'l'},
	    {"peer", 1, NULL, 'e'},	   {"user", 1, NULL, 'u'},    {"password", 1, NULL, 'w'},
	    {"rest-secret", 1, NULL, 'W'}, {"send", 0, NULL, 'S'},    {"dual", 0, NULL, 'Z'},
	    {"ssrcs", 1, NULL, 'n'},	   {"packets", 1, NULL, 'c'}, {"interval-ms", 1, NULL, 'i'},
	    {"refresh-s", 1, NULL, 'r'},   {"channel", 1, NULL, 'C'}, {"max-loss", 1, NULL, 'L'},
	    {"verbose", 0, NULL, 'v'},	   {"help", 0, NULL, 'h'},    {NULL, 0, NULL, 0},
	};
	struct sockaddr_storage local, peer;
	double next_send, end_ms, next_refresh = 0;
	uint32_t n = 0;
	int opt;

	while ((opt = getopt_long(argc, argv, "v", lo, NULL)) != -1) {
		switch (opt) {
		case 's':
			o.server = optarg;
			break;
		case 'p':
			o.port = (uint16_t)atoi(optarg);
			break;
		case 'l':
			o.local = optarg;
			break;
		case 'e':
			o.peer = optarg;
			break;
		case 'u':
			o.user = optarg;
			break;
		case 'w':
			o.password = optarg;
			break;
		case 'W':
			o.rest_secret = optarg;
			break;
		case 'S':
			o.send_ind = true;
			break;
		case 'Z':
			o.dual = true;
			break;
		case 'n':
			o.ssrcs = atoi(optarg);
			break;
		case 'c':
			o.packets = atoi(optarg);
			break;
		case 'i':
			o.interval_ms = atoi(optarg);
			break;
		case 'r':
			o.refresh_s = atoi(optarg);
			break;
		case 'C':
			o.channel = (uint16_t)strtoul(optarg, NULL, 0);
			break;
		case 'L':
			o.max_loss = atoi(optarg);
			break;
		case 'v':
			o.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!o.server || !o.local || !o.peer || !o.user || (!o.password == !o.rest_secret) ||
	    o.ssrcs < 1 || o.ssrcs > MAX_SSRCS || o.packets < 1 || o.interval_ms < 1 ||
	    optind != argc) {
		usage(stderr);
		return 2;
	}
	srandom((unsigned)(time(NULL) ^ getpid()));
	if (srtp_init() != srtp_err_status_ok)
		die("srtp_init failed");
	c2p.tx = session(true);
	c2p.rx = session(false);
	p2c.tx = session(true);
	p2c.rx = session(false);

	if (o.rest_secret) {
		make_rest_user();
	} else {
		snprintf(c.user, sizeof(c.user), "%s", o.user);
		snprintf(c.password, sizeof(c.password), "%s", o.password);
	}
	c.fd = udp_socket(o.local, &local);
	peer_fd = udp_socket(o.peer, &peer);
	to_stun(&peer, &c.peer);
	if (parse_addr(o.server, o.port, &c.server, &c.server_len) < 0)
		die("bad --server");

	start(ST_ALLOCATE);
	/* setup: allocation and binding, 30 s at most */
	end_ms = now_ms() + 30000;
	while (!c.bound && now_ms() < end_ms) {
		struct pollfd pf[2] = {{c.fd, POLLIN, 0}, {peer_fd, POLLIN, 0}};

		poll(pf, 2, 20);
		client_rx();
		peer_rx();
		txn_tick();
	}
	if (!c.bound)
		die("no allocation/binding within 30 s");
	LOG("bound; streaming %d SSRCs x %d packets each way\n", o.ssrcs, o.packets);

	next_send = now_ms();
	if (o.refresh_s)
		next_refresh = now_ms() + o.refresh_s * 1000.0;
	while (n < (uint32_t)o.packets) {
		struct pollfd pf[2] = {{c.fd, POLLIN, 0}, {peer_fd, POLLIN, 0}};
		double t = now_ms();
		int wait = next_send > t ? (int)(next_send - t) : 0;

		poll(pf, 2, wait > 50 ? 50 : wait);
		client_rx();
		peer_rx();
		txn_tick();
		if (o.refresh_s && !c.in_flight && now_ms() >= next_refresh) {
			next_refresh = now_ms() + o.refresh_s * 1000.0;
			c.lifetime = 600;
			start(ST_REFRESH);
		}
		if (now_ms() < next_send)
			continue;
		for (int i = 0; i < o.ssrcs; i++) {
			uint8_t pkt[512];
			int len;
			bool rtcp = n % RTCP_EVERY == RTCP_EVERY - 1;

			len = make_packet(&c2p, i, n, false, pkt);
			client_send(pkt, len);
			len = make_packet(&p2c, i, n, false, pkt);
			peer_send(pkt, len);
			if (rtcp) {
				len = make_packet(&c2p, i, n / RTCP_EVERY, true, pkt);
				client_send(pkt, len);
				len = make_packet(&p2c, i, n / RTCP_EVERY, true, pkt);
				peer_send(pkt, len);
			}
		}
		n++;
		next_send += o.interval_ms;
	}
	/* drain, and finish the refresh in flight */
	end_ms = now_ms() + DRAIN_MS;
	while (now_ms() < end_ms || (c.in_flight && now_ms() < end_ms + 30000)) {
		struct pollfd pf[2] = {{c.fd, POLLIN, 0}, {peer_fd, POLLIN, 0}};

		if (c2p.rtp_recv + c2p.rtcp_recv == c2p.rtp_sent + c2p.rtcp_sent &&
		    p2c.rtp_recv + p2c.rtcp_recv == p2c.rtp_sent + p2c.rtcp_sent && !c.in_flight)
			break;
		poll(pf, 2, 20);
		client_rx();
		peer_rx();
		txn_tick();
	}
	/* delete the allocation */
	c.lifetime = 0;
	start(ST_DELETE);
	end_ms = now_ms() + 10000;
	while (c.in_flight && now_ms() < end_ms) {
		struct pollfd pf[1] = {{c.fd, POLLIN, 0}};

		poll(pf, 1, 20);
		client_rx();
		txn_tick();
	}
	summary(&c2p);
	summary(&p2c);
	printf("srtp_relay: mode=%s ssrcs=%d refreshes=%d refresh_failures=%d challenges=%d "
	       "deleted=%d stray_client=%llu stray_peer=%llu\n",
	       o.send_ind ? "send" : "channel", o.ssrcs, c.refreshes, c.refresh_failures,
	       c.challenged, c.deleted, (unsigned long long)client_stray,
	       (unsigned long long)peer_stray);
	srtp_dealloc(c2p.tx);
	srtp_dealloc(c2p.rx);
	srtp_dealloc(p2c.tx);
	srtp_dealloc(p2c.rx);
	srtp_shutdown();
	close(c.fd);
	close(peer_fd);
	if (!direction_ok(&c2p) || !direction_ok(&p2c) || c.refresh_failures || !c.deleted ||
	    (o.refresh_s && !c.refreshes)) {
		printf("srtp_relay: FAIL\n");
		return 1;
	}
	printf("srtp_relay: OK\n");
	return 0;
}
