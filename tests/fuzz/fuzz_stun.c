/* fuzz_stun.c: libFuzzer target for the STUN codec: parse, every accessor and decoder on
 * what was indexed, fingerprint and integrity checks with a fixed key, the Binding answer
 * (copy and in place, all policy flags), and a rebuild of the parsed content. Oracles:
 * whatever the answer function writes must parse back with a valid FINGERPRINT and the
 * request's transaction id; a rebuilt message must parse. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "binding.h"
#include "stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t fuzz_key[16] = "supernode-fuzz!";

static void check(int ok)
{
	if (!ok)
		__builtin_trap();
}

static void walk_attributes(const struct sn_stun_msg *m)
{
	struct sn_stun_addr a;
	const char *reason;
	size_t rlen;
	unsigned code;

	for (int i = 0; i < SN_STUN_A_COUNT; i++) {
		uint16_t len;
		const uint8_t *v = sn_stun_get(m, (enum sn_stun_attr_idx)i, &len);

		if (!v)
			continue;
		check(v >= m->buf + SN_STUN_HEADER_LEN && v + len <= m->buf + m->len);
		switch (i) {
		case SN_STUN_A_MAPPED_ADDRESS:
		case SN_STUN_A_ALTERNATE_SERVER:
			sn_stun_addr_decode(v, len, &a);
			break;
		case SN_STUN_A_XOR_MAPPED_ADDRESS:
		case SN_STUN_A_XOR_PEER_ADDRESS:
		case SN_STUN_A_XOR_RELAYED_ADDRESS:
			if (sn_stun_xor_addr_decode(v, len, sn_stun_tid(m), &a) == 0) {
				uint8_t enc[20];

				check(sn_stun_xor_addr_encode(enc, &a, sn_stun_tid(m)) == len);
				check(memcmp(enc + 1, v + 1, len - 1) == 0);
			}
			break;
		case SN_STUN_A_ERROR_CODE:
		case SN_STUN_A_ADDRESS_ERROR_CODE:
			if (sn_stun_error_decode(v, len, &code, &reason, &rlen) == 0)
				check(code >= 300 && code <= 699 &&
				      reason + rlen == (const char *)v + len);
			break;
		default:
			sn_stun_get_u32(m, (enum sn_stun_attr_idx)i);
			break;
		}
	}
}

/* Rebuilds the content attributes of a parsed message and closes it with every closing
 * attribute; the result must parse and verify. */
static void rebuild(const struct sn_stun_msg *m)
{
	static uint8_t out[70000];
	struct sn_stun_writer w;
	struct sn_stun_msg r;
	uint32_t cursor = 0;
	const uint8_t *body = m->buf + SN_STUN_HEADER_LEN;
	int len;

	sn_stun_writer_init(&w, out, sizeof(out), m->method, m->cls, sn_stun_tid(m));
	while (cursor < m->content_end) {
		uint16_t type = (uint16_t)(body[cursor] << 8 | body[cursor + 1]);
		uint16_t alen = (uint16_t)(body[cursor + 2] << 8 | body[cursor + 3]);

		sn_stun_put_attr(&w, type, body + cursor + 4, alen);
		cursor += 4u + alen + (uint32_t)sn_stun_pad(alen);
	}
	len = sn_stun_writer_finish(&w,
				    SN_STUN_FINISH_INTEGRITY | SN_STUN_FINISH_INTEGRITY_SHA256 |
					SN_STUN_FINISH_FINGERPRINT,
				    fuzz_key, sizeof(fuzz_key));
	if (len < 0) {
		check(len == -EMSGSIZE || len == -ENOSPC);
		return;
	}
	check(sn_stun_parse(out, (size_t)len, &r) == SN_STUN_OK);
	check(r.n_unknown == m->n_unknown);
	check(sn_stun_check_fingerprint(&r) == SN_STUN_OK);
	check(sn_stun_check_mi_sha1(&r, fuzz_key, sizeof(fuzz_key)) == SN_STUN_OK);
	check(sn_stun_check_mi_sha256(&r, fuzz_key, sizeof(fuzz_key)) == SN_STUN_OK);
}

static void answer(const uint8_t *data, size_t size, uint32_t flags, int family)
{
	static uint8_t inplace[70000];
	uint8_t out[SN_BINDING_MAX_ANSWER];
	struct sn_binding_config cfg = {.flags = flags, .software = "fuzz", .software_len = 4};
	struct sn_stun_addr client = {.family = (uint8_t)family, .port = 0x3412};
	enum sn_binding_result r, r2;
	enum sn_stun_result why;
	struct sn_stun_msg m;
	size_t len, len2;

	memset(client.addr, 0xa5, sizeof(client.addr));
	r = sn_binding_answer(&cfg, data, size, &client, out, sizeof(out), &len, &why);
	check(r < SN_BINDING_RESULT_MAX && why < SN_STUN_RESULT_MAX);
	if (!sn_binding_answered(r)) {
		check(len == 0);
		return;
	}
	check(len <= sizeof(out));
	if (flags & SN_BINDING_F_STRICT_SIZE)
		check(len <= size);
	check(sn_stun_parse(out, len, &m) == SN_STUN_OK);
	check(m.method == SN_STUN_METHOD_BINDING);
	check(m.cls == (r == SN_BINDING_SUCCESS ? SN_STUN_CLASS_SUCCESS : SN_STUN_CLASS_ERROR));
	check(memcmp(sn_stun_tid(&m), data + 8, SN_STUN_TID_LEN) == 0);
	check(sn_stun_check_fingerprint(&m) == SN_STUN_OK);
	check(m.n_unknown == 0);

	/* In place: same answer, bytes for bytes. */
	if (size > sizeof(inplace))
		return;
	memcpy(inplace, data, size);
	r2 = sn_binding_answer(&cfg, inplace, size, &client, inplace, sizeof(inplace), &len2, NULL);
	check(r2 == r && len2 == len && memcmp(inplace, out, len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sn_stun_msg m;
	uint8_t key[32];

	if (sn_stun_parse(data, size, &m) == SN_STUN_OK) {
		uint32_t cursor = 0;
		const uint8_t *v;
		uint16_t len;
		int seen = 0;

		check(m.len == size && m.content_end <= size - SN_STUN_HEADER_LEN);
		walk_attributes(&m);
		while (sn_stun_find_next(&m, SN_STUN_ATTR_XOR_PEER_ADDRESS, &cursor, &v, &len))
			check(++seen <= (int)(size / 4));
		sn_stun_check_fingerprint(&m);
		sn_stun_check_integrity(&m, fuzz_key, sizeof(fuzz_key));
		if (sn_stun_has(&m, SN_STUN_A_USERNAME) && sn_stun_has(&m, SN_STUN_A_REALM)) {
			uint16_t ul, rl;
			const uint8_t *u = sn_stun_get(&m, SN_STUN_A_USERNAME, &ul);
			const uint8_t *r = sn_stun_get(&m, SN_STUN_A_REALM, &rl);
			int klen = sn_stun_long_term_key(SN_STUN_PASSWORD_MD5, (const char *)u, ul,
							 (const char *)r, rl, "pass", 4, key);

			check(klen == 16);
			sn_stun_check_integrity(&m, key, (size_t)klen);
		}
		rebuild(&m);
	}
	answer(data, size, 0, AF_INET);
	answer(data, size, SN_BINDING_F_STRICT_SIZE | SN_BINDING_F_SOFTWARE, AF_INET6);
	answer(data, size, SN_BINDING_F_FINGERPRINT_IF_ASKED, AF_INET);
	return 0;
}
