/* test_binding.c: the fast-path Binding answer: success, 400, 420, the strict size rule
 * against what real clients send, in-place answers, and a live exchange with coturn's
 * turnutils_stunclient on loopback. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "binding.h"

#ifndef SN_CORPUS_DIR
#error "SN_CORPUS_DIR must name tests/fuzz/corpus"
#endif

static size_t load(const char *name, uint8_t *buf, size_t cap)
{
	char path[512];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/stun/%s", SN_CORPUS_DIR, name);
	f = fopen(path, "rb");
	cr_assert_not_null(f, "cannot open %s", path);
	n = fread(buf, 1, cap, f);
	cr_assert(feof(f));
	fclose(f);
	return n;
}

static struct sn_stun_addr client4(void)
{
	struct sn_stun_addr a = {.family = AF_INET, .port = htons(54321)};

	inet_pton(AF_INET, "198.18.0.2", a.addr);
	return a;
}

static struct sn_stun_addr client6(void)
{
	struct sn_stun_addr a = {.family = AF_INET6, .port = htons(40000)};

	inet_pton(AF_INET6, "2001:db8:5e::2", a.addr);
	return a;
}

/* A Binding request: header, optional PADDING of pad bytes, optional FINGERPRINT. */
static size_t make_request(uint8_t *buf, size_t cap, unsigned cls, size_t pad, bool fingerprint)
{
	static const uint8_t tid[12] = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6,
					0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac};
	static const uint8_t zeros[2048];
	struct sn_stun_writer w;
	int n;

	sn_stun_writer_init(&w, buf, cap, SN_STUN_METHOD_BINDING, cls, tid);
	if (pad)
		sn_stun_put_attr(&w, SN_STUN_ATTR_PADDING, zeros, pad);
	n = sn_stun_writer_finish(&w, fingerprint ? SN_STUN_FINISH_FINGERPRINT : 0, NULL, 0);
	cr_assert_gt(n, 0);
	return (size_t)n;
}

/* Parses an answer and checks it belongs to the request. */
static void parse_answer(const uint8_t *req, const uint8_t *out, size_t len, unsigned cls,
			 struct sn_stun_msg *m)
{
	cr_assert_eq(sn_stun_parse(out, len, m), SN_STUN_OK);
	cr_assert_eq(m->method, SN_STUN_METHOD_BINDING);
	cr_assert_eq(m->cls, cls);
	cr_assert_eq(memcmp(sn_stun_tid(m), req + 8, 12), 0);
	cr_assert_eq(sn_stun_check_fingerprint(m), SN_STUN_OK);
}

static void assert_mapped(const struct sn_stun_msg *m, const struct sn_stun_addr *want)
{
	struct sn_stun_addr got;
	const uint8_t *v;
	uint16_t len;

	v = sn_stun_get(m, SN_STUN_A_XOR_MAPPED_ADDRESS, &len);
	cr_assert_not_null(v);
	cr_assert_eq(sn_stun_xor_addr_decode(v, len, sn_stun_tid(m), &got), 0);
	cr_assert_eq(memcmp(&got, want, sizeof(got)), 0);
}

static unsigned error_code(const struct sn_stun_msg *m)
{
	const char *reason;
	size_t rlen;
	unsigned code = 0;
	uint16_t len;
	const uint8_t *v = sn_stun_get(m, SN_STUN_A_ERROR_CODE, &len);

	cr_assert_not_null(v);
	cr_assert_eq(sn_stun_error_decode(v, len, &code, &reason, &rlen), 0);
	cr_assert_gt(rlen, 0);
	return code;
}

Test(success, minimal_request_ipv4_and_ipv6)
{
	uint8_t req[64], out[SN_BINDING_MAX_ANSWER];
	struct sn_stun_addr c4 = client4(), c6 = client6();
	struct sn_stun_msg m;
	enum sn_stun_result why;
	size_t n = make_request(req, sizeof(req), SN_STUN_CLASS_REQUEST, 0, false), len;

	cr_assert_eq(n, 20);
	cr_assert_eq(sn_binding_answer(NULL, req, n, &c4, out, sizeof(out), &len, &why),
		     SN_BINDING_SUCCESS);
	cr_assert_eq(why, SN_STUN_OK);
	cr_assert_eq(len, 40, "20 + XOR-MAPPED-ADDRESS (12) + FINGERPRINT (8)");
	parse_answer(req, out, len, SN_STUN_CLASS_SUCCESS, &m);
	assert_mapped(&m, &c4);
	cr_assert(sn_stun_has(&m, SN_STUN_A_FINGERPRINT));
	cr_assert_not(sn_stun_has(&m, SN_STUN_A_SOFTWARE), "SOFTWARE is off by default");

	cr_assert_eq(sn_binding_answer(NULL, req, n, &c6, out, sizeof(out), &len, NULL),
		     SN_BINDING_SUCCESS);
	cr_assert_eq(len, 52);
	parse_answer(req, out, len, SN_STUN_CLASS_SUCCESS, &m);
	assert_mapped(&m, &c6);
}

Test(success, software_and_fingerprint_if_asked)
{
	uint8_t req[64], out[SN_BINDING_MAX_ANSWER];
	struct sn_binding_config cfg = {
	    .flags = SN_BINDING_F_SOFTWARE | SN_BINDING_F_FINGERPRINT_IF_ASKED,
	    .software = "supernode",
	    .software_len = 9,
	};
	struct sn_stun_addr c4 = client4();
	struct sn_stun_msg m;
	const uint8_t *v;
	uint16_t vlen;
	size_t n, len;

	n = make_request(req, sizeof(req), SN_STUN_CLASS_REQUEST, 0, false);
	cr_assert_eq(sn_binding_answer(&cfg, req, n, &c4, out, sizeof(out), &len, NULL),
		     SN_BINDING_SUCCESS);
	cr_assert_eq(len, 20 + 12 + 16);
	parse_answer(req, out, len, SN_STUN_CLASS_SUCCESS, &m);
	cr_assert_not(sn_stun_has(&m, SN_STUN_A_FINGERPRINT), "request had none");
	v = sn_stun_get(&m, SN_STUN_A_SOFTWARE, &vlen);
	cr_assert_eq(vlen, 9);
	cr_assert_eq(memcmp(v, "supernode", 9), 0);

	n = make_request(req, sizeof(req), SN_STUN_CLASS_REQUEST, 0, true);
	cr_assert_eq(sn_binding_answer(&cfg, req, n, &c4, out, sizeof(out), &len, NULL),
		     SN_BINDING_SUCCESS);
	parse_answer(req, out, len, SN_STUN_CLASS_SUCCESS, &m);
	cr_assert(sn_stun_has(&m, SN_STUN_A_FINGERPRINT));
}

Test(success, ice_style_request_rfc5769)
{
	/* RFC 5769 §2.1: USERNAME, PRIORITY, ICE-CONTROLLED, MESSAGE-INTEGRITY, FINGERPRINT;
	 * integrity is not verified on the fast path (no short-term credential). */
	uint8_t req[256], out[SN_BINDING_MAX_ANSWER];
	struct sn_stun_addr c4 = client4();
	struct sn_stun_msg m;
	size_t n = load("rfc5769_2_1_request.bin", req, sizeof(req)), len;

	cr_assert_eq(sn_binding_answer(NULL, req, n, &c4, out, sizeof(out), &len, NULL),
		     SN_BINDING_SUCCESS);
	parse_answer(req, out, len, SN_STUN_CLASS_SUCCESS, &m);
	assert_mapped(&m, &c4);
}

Test(strict, real_client_request_sizes)
{
	uint8_t req[2048], out[SN_BINDING_MAX_ANSWER];
	struct sn_binding_config strict = {.flags = SN_BINDING_F_STRICT_SIZE};
	struct sn_binding_config strict_ifasked = {.flags = SN_BINDING_F_STRICT_SIZE |
							    SN_BINDING_F_FINGERPRINT_IF_ASKED};
	struct sn_stun_addr c4 = client4(), c6 = client6();
	size_t n, len;

	/* Chrome/libwebrtc: 20-byte header only. Never fits: 40 (32 without FINGERPRINT). */
	n = make_request(req, sizeof(req), SN_STUN_CLASS_REQUEST, 0, false);
	memset(out, 0x5a, sizeof(out));
	cr_assert_eq(sn_binding_answer(&strict, req, n, &c4, out, sizeof(out), &len, NULL),
		     SN_BINDING_TOO_LARGE);
	cr_assert_eq(len, 0);
	cr_assert_eq(out[0], 0x5a, "nothing written");
	cr_assert_eq(sn_binding_answer(&strict_ifasked, req, n, &c4, out, sizeof(out), &len, NULL),
		     SN_BINDING_TOO_LARGE);

	/* Firefox/nICEr: header + FINGERPRINT = 28 bytes; the answer is 40. */
	n = make_request(req, sizeof(req), SN_STUN_CLASS_REQUEST, 0, true);
	cr_assert_eq(n, 28);
	cr_assert_eq(sn_binding_answer(&strict, req, n, &c4, out, sizeof(out), &len, NULL),
		     SN_BINDING_TOO_LARGE);

	/* coturn turnutils_stunclient, first request: 20 bytes. */
	n = load("coturn_c2s_binding_req_20b.bin", req, sizeof(req));
	cr_assert_eq(sn_binding_answer(&strict, req, n, &c4, out, sizeof(out), &len, NULL),
		     SN_BINDING_TOO_LARGE);
	cr_assert_eq(sn_binding_answer(NULL, req, n, &c4, out, sizeof(out), &len, NULL),
		     SN_BINDING_SUCCESS);

	/* A request padded to the answer's size is answered, one byte-word less is not. */
	n = make_request(req, sizeof(req), SN_STUN_CLASS_REQUEST, 12, true);
	cr_assert_eq(n, 44);
	cr_assert_eq(sn_binding_answer(&strict, req, n, &c4, out, sizeof(out), &len, NULL),
		     SN_BINDING_SUCCESS);
	cr_assert_leq(len, n);
	cr_assert_eq(sn_binding_answer(&strict, req, n, &c6, out, sizeof(out), &len, NULL),
		     SN_BINDING_TOO_LARGE, "52 > 44");
	n = make_request(req, sizeof(req), SN_STUN_CLASS_REQUEST, 4, true);
	cr_assert_eq(n, 36);
	cr_assert_eq(sn_binding_answer(&strict, req, n, &c4, out, sizeof(out), &len, NULL),
		     SN_BINDING_TOO_LARGE);
}

Test(errors, unknown_attributes_get_420)
{
	uint8_t req[2048], out[SN_BINDING_MAX_ANSWER];
	struct sn_binding_config strict = {.flags = SN_BINDING_F_STRICT_SIZE};
	struct sn_stun_addr c4 = client4();
	struct sn_stun_msg m;
	enum sn_stun_result why;
	const uint8_t *v;
	uint16_t vlen;
	size_t n, len;

	/* coturn's RFC 5780 probe: RESPONSE-PORT + CHANGE-REQUEST, 36 bytes. */
	n = load("coturn_c2s_binding_req_36b.bin", req, sizeof(req));
	cr_assert_eq(sn_binding_answer(NULL, req, n, &c4, out, sizeof(out), &len, &why),
		     SN_BINDING_UNKNOWN_ATTRIBUTE);
	cr_assert_eq(why, SN_STUN_UNKNOWN_ATTRIBUTE);
	parse_answer(req, out, len, SN_STUN_CLASS_ERROR, &m);
	cr_assert_eq(error_code(&m), 420);
	v = sn_stun_get(&m, SN_STUN_A_UNKNOWN_ATTRIBUTES, &vlen);
	cr_assert_eq(vlen, 4);
	cr_assert_eq(v[0] << 8 | v[1], 0x0027);
	cr_assert_eq(v[2] << 8 | v[3], 0x0003);
	cr_assert_gt(len, n);
	cr_assert_eq(sn_binding_answer(&strict, req, n, &c4, out, sizeof(out), &len, NULL),
		     SN_BINDING_TOO_LARGE);

	/* Its 1532-byte PADDING probe is large enough for the strict rule. */
	n = load("coturn_c2s_binding_req_1532b.bin", req, sizeof(req));
	cr_assert_eq(sn_binding_answer(&strict, req, n, &c4, out, sizeof(out), &len, NULL),
		     SN_BINDING_UNKNOWN_ATTRIBUTE);
	parse_answer(req, out, len, SN_STUN_CLASS_ERROR, &m);
	v = sn_stun_get(&m, SN_STUN_A_UNKNOWN_ATTRIBUTES, &vlen);
	cr_assert_eq(vlen, 2);
	cr_assert_eq(v[0] << 8 | v[1], 0x0003);
}

Test(errors, malformed_request_gets_400)
{
	uint8_t req[64], out[SN_BINDING_MAX_ANSWER];
	struct sn_stun_addr c4 = client4();
	struct sn_stun_msg m;
	enum sn_stun_result why;
	size_t n = make_request(req, sizeof(req), SN_STUN_CLASS_REQUEST, 8, false), len;

	req[22] = 0;
	req[23] = 9; /* PADDING claims 9 bytes where 8 are left */
	cr_assert_eq(sn_binding_answer(NULL, req, n, &c4, out, sizeof(out), &len, &why),
		     SN_BINDING_BAD_REQUEST);
	cr_assert_eq(why, SN_STUN_ATTR_TRUNCATED);
	parse_answer(req, out, len, SN_STUN_CLASS_ERROR, &m);
	cr_assert_eq(error_code(&m), 400);
	cr_assert_eq(len, 20 + 20 + 8, "ERROR-CODE 400 \"Bad Request\" is 20 bytes with padding");

	/* A known attribute with an impossible length. */
	n = make_request(req, sizeof(req), SN_STUN_CLASS_REQUEST, 0, false);
	memcpy(req + n, "\x00\x0d\x00\x02\x00\x00\x00\x00", 8); /* LIFETIME of 2 bytes */
	req[3] = 8;
	cr_assert_eq(sn_binding_answer(NULL, req, n + 8, &c4, out, sizeof(out), &len, &why),
		     SN_BINDING_BAD_REQUEST);
	cr_assert_eq(why, SN_STUN_ATTR_LENGTH);
}

Test(drops, classified_without_answer)
{
	uint8_t req[256], out[SN_BINDING_MAX_ANSWER];
	struct sn_stun_addr c4 = client4();
	enum sn_stun_result why;
	size_t n, len;
	static const uint8_t rtp[24] = {0x80, 0x60, 0x00, 0x01};

	/* Keepalive indication. */
	n = make_request(req, sizeof(req), SN_STUN_CLASS_INDICATION, 0, true);
	cr_assert_eq(sn_binding_answer(NULL, req, n, &c4, out, sizeof(out), &len, NULL),
		     SN_BINDING_INDICATION);
	cr_assert_eq(len, 0);
	/* Broken indication: FINGERPRINT claims 8 bytes where 4 are left. */
	req[23] = 8;
	cr_assert_eq(sn_binding_answer(NULL, req, n, &c4, out, sizeof(out), &len, &why),
		     SN_BINDING_MALFORMED);
	cr_assert_eq(why, SN_STUN_ATTR_TRUNCATED);
	cr_assert_eq(len, 0);
	/* Wrong FINGERPRINT: silently discarded. */
	n = make_request(req, sizeof(req), SN_STUN_CLASS_REQUEST, 0, true);
	req[n - 1] ^= 1;
	cr_assert_eq(sn_binding_answer(NULL, req, n, &c4, out, sizeof(out), &len, &why),
		     SN_BINDING_FINGERPRINT);
	cr_assert_eq(why, SN_STUN_FINGERPRINT_MISMATCH);
	/* A response sent to the server. */
	n = load("rfc5769_2_2_ipv4_response.bin", req, sizeof(req));
	cr_assert_eq(sn_binding_answer(NULL, req, n, &c4, out, sizeof(out), &len, NULL),
		     SN_BINDING_NOT_REQUEST);
	/* Another method: control's. */
	n = load("coturn_c2s_allocate_req_52b.bin", req, sizeof(req));
	cr_assert_eq(sn_binding_answer(NULL, req, n, &c4, out, sizeof(out), &len, NULL),
		     SN_BINDING_NOT_BINDING);
	/* Not STUN at all. */
	cr_assert_eq(sn_binding_answer(NULL, rtp, sizeof(rtp), &c4, out, sizeof(out), &len, &why),
		     SN_BINDING_NOT_STUN);
	cr_assert_eq(why, SN_STUN_NOT_STUN);
	cr_assert_eq(sn_binding_answer(NULL, rtp, 3, &c4, out, sizeof(out), &len, &why),
		     SN_BINDING_NOT_STUN);
	cr_assert_eq(why, SN_STUN_TRUNCATED);
	for (int i = 0; i < SN_BINDING_RESULT_MAX; i++)
		cr_assert(sn_binding_result_names[i] && sn_binding_result_names[i][0]);
}

Test(buffers, in_place_no_room_and_bad_family)
{
	uint8_t buf[128], copy[128], out[64];
	struct sn_stun_addr c6 = client6(), bad = client4();
	struct sn_stun_msg m;
	size_t n = make_request(buf, sizeof(buf), SN_STUN_CLASS_REQUEST, 0, false), len;

	memcpy(copy, buf, n);
	cr_assert_eq(sn_binding_answer(NULL, buf, n, &c6, buf, sizeof(buf), &len, NULL),
		     SN_BINDING_SUCCESS);
	parse_answer(copy, buf, len, SN_STUN_CLASS_SUCCESS, &m);
	assert_mapped(&m, &c6);

	n = make_request(buf, sizeof(buf), SN_STUN_CLASS_REQUEST, 0, false);
	cr_assert_eq(sn_binding_answer(NULL, buf, n, &c6, out, 51, &len, NULL), SN_BINDING_NO_ROOM);
	cr_assert_eq(sn_binding_answer(NULL, buf, n, &c6, out, 52, &len, NULL), SN_BINDING_SUCCESS);
	bad.family = AF_UNIX;
	cr_assert_eq(sn_binding_answer(NULL, buf, n, &bad, out, sizeof(out), &len, NULL),
		     SN_BINDING_INTERNAL);
}

/* --- live: coturn's turnutils_stunclient against sn_binding_answer on loopback --- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

Test(interop, turnutils_stunclient, .timeout = 30)
{
	static const char tool[] = "/usr/bin/turnutils_stunclient";
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	char port[8], output[8192] = "", want[64];
	size_t out_used = 0;
	int s, pipefd[2], status, answered = 0, requests = 0;
	bool eof = false, first_ok = false;
	uint16_t client_port = 0;
	pid_t pid;
	double deadline;

	if (access(tool, X_OK) != 0)
		cr_skip_test("%s not installed", tool);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(s, 0);
	cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(s, (struct sockaddr *)&sa, &sl), 0);
	snprintf(port, sizeof(port), "%u", ntohs(sa.sin_port));
	cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		execl(tool, tool, "-p", port, "127.0.0.1", (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);

	deadline = now_s() + 15;
	while (!eof && now_s() < deadline) {
		struct pollfd pfd[2] = {{.fd = s, .events = POLLIN},
					{.fd = pipefd[0], .events = POLLIN}};

		if (poll(pfd, 2, 200) <= 0)
			continue;
		if (pfd[0].revents & POLLIN) {
			uint8_t req[2048], out[SN_BINDING_MAX_ANSWER];
			struct sockaddr_in from;
			socklen_t fl = sizeof(from);
			struct sn_stun_addr c = {.family = AF_INET};
			enum sn_binding_result r;
			ssize_t got;
			size_t len;

			got = recvfrom(s, req, sizeof(req), 0, (struct sockaddr *)&from, &fl);
			cr_assert_gt(got, 0);
			c.port = from.sin_port;
			memcpy(c.addr, &from.sin_addr, 4);
			r = sn_binding_answer(NULL, req, (size_t)got, &c, out, sizeof(out), &len,
					      NULL);
			if (requests++ == 0) {
				struct sn_stun_msg m;

				/* The client's own first request parses as a plain Binding. */
				first_ok = sn_stun_parse(req, (size_t)got, &m) == SN_STUN_OK &&
					   m.method == SN_STUN_METHOD_BINDING &&
					   m.cls == SN_STUN_CLASS_REQUEST &&
					   r == SN_BINDING_SUCCESS;
				client_port = ntohs(from.sin_port);
			}
			if (sn_binding_answered(r)) {
				sendto(s, out, len, 0, (struct sockaddr *)&from, fl);
				answered++;
			}
		}
		if (pfd[1].revents & (POLLIN | POLLHUP)) {
			ssize_t got =
			    read(pipefd[0], output + out_used, sizeof(output) - 1 - out_used);

			if (got <= 0)
				eof = true;
			else
				out_used += (size_t)got;
			output[out_used] = 0;
		}
	}
	if (!eof)
		kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	close(pipefd[0]);
	close(s);

	cr_assert(first_ok, "first request from turnutils_stunclient did not parse as Binding");
	cr_assert_geq(answered, 1);
	snprintf(want, sizeof(want), "UDP reflexive addr: 127.0.0.1:%u", client_port);
	cr_assert_not_null(strstr(output, want), "client output lacks \"%s\":\n%s", want, output);
}
