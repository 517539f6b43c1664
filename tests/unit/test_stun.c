/* test_stun.c: the STUN/TURN codec against RFC 5769 and RFC 8489 test vectors, messages
 * captured from coturn's clients and server, and every malformed case the parser refuses. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "stun.h"

#ifndef SN_CORPUS_DIR
#error "SN_CORPUS_DIR must name tests/fuzz/corpus"
#endif

/* Hex with spaces and newlines, as RFCs print it. Returns the byte count. */
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
		else if (*s >= 'A' && *s <= 'F')
			v = *s - 'A' + 10;
		else
			continue;
		if (hi < 0) {
			hi = v;
			continue;
		}
		cr_assert_lt(n, cap);
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	cr_assert_eq(hi, -1, "odd number of hex digits");
	return n;
}

static size_t load(const char *name, uint8_t *buf, size_t cap)
{
	char path[512];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/stun/%s", SN_CORPUS_DIR, name);
	f = fopen(path, "rb");
	cr_assert_not_null(f, "cannot open %s", path);
	n = fread(buf, 1, cap, f);
	cr_assert(feof(f), "%s larger than %zu bytes", path, cap);
	fclose(f);
	return n;
}

static void set_len(uint8_t *msg, size_t total)
{
	msg[2] = (uint8_t)((total - 20) >> 8);
	msg[3] = (uint8_t)(total - 20);
}

/* RFC 5769 §2.1-2.4 and RFC 8489 Appendix B.1 (with verified erratum 6268, which fixed the
 * message length, PASSWORD-ALGORITHM and MAC of the printed vector). Padding in 2.1-2.3 is
 * 0x20 on purpose: receivers must ignore padding bytes. */
static const char rfc5769_request[] =
    "00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
    "80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74"
    "00 24 00 04 6e 00 01 ff 80 29 00 08 93 2f f9 b1 51 26 3b 36"
    "00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20"
    "00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2"
    "80 28 00 04 e5 7a 3b cf";
static const char rfc5769_ipv4[] =
    "01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
    "80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20"
    "00 20 00 08 00 01 a1 47 e1 12 a6 43"
    "00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7"
    "80 28 00 04 c0 7d 4c 96";
static const char rfc5769_ipv6[] =
    "01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
    "80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20"
    "00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9"
    "00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41"
    "80 28 00 04 c8 fb 0b 4c";
static const char rfc5769_long_term[] =
    "00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e"
    "00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00"
    "00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46 53 54 76 79 36 34 "
    "73 41"
    "00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00"
    "00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66";
static const char rfc8489_b1[] =
    "00 01 00 90 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e"
    "00 1e 00 20 4a 3c f3 8f ef 69 92 bd a9 52 c6 78 04 17 da 0f 24 81 94 15 56 9e 60 b2 05 c4 "
    "6e 41 40 7f 17 04"
    "00 15 00 29 6f 62 4d 61 74 4a 6f 73 32 41 41 41 43 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f "
    "4c 33 34 6f 4c 39 46 53 54 76 79 36 34 73 41 00 00 00"
    "00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00"
    "00 1d 00 04 00 02 00 00"
    "00 1c 00 20 b5 c7 bf 00 5b 6c 52 a2 1c 51 c5 e8 92 f8 19 24 13 62 96 cb 92 7c 43 14 93 09 "
    "27 8c c6 51 8e 65";

static const char short_term_pw[] = "VOkJxbRl1RmTxUk/WvJxBt";
/* "マトリックス" in UTF-8; SASLprep leaves it unchanged. */
static const char matrix_user[] = "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf"
				  "\xe3\x82\xb9";
static const char matrix_nonce_5769[] = "f//499k954d6OL34oL9FSTvy64sA";
static const char matrix_nonce_8489[] = "obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA";

static void assert_attr_str(const struct sn_stun_msg *m, enum sn_stun_attr_idx idx,
			    const char *want)
{
	uint16_t len;
	const uint8_t *v = sn_stun_get(m, idx, &len);

	cr_assert_not_null(v, "attribute slot %d missing", idx);
	cr_assert_eq(len, strlen(want));
	cr_assert_eq(memcmp(v, want, len), 0);
}

Test(rfc5769, sample_request)
{
	uint8_t buf[256];
	size_t n = unhex(rfc5769_request, buf, sizeof(buf));
	struct sn_stun_msg m;

	cr_assert_eq(sn_stun_parse(buf, n, &m), SN_STUN_OK);
	cr_assert_eq(m.method, SN_STUN_METHOD_BINDING);
	cr_assert_eq(m.cls, SN_STUN_CLASS_REQUEST);
	cr_assert_eq(m.n_attrs, 6);
	cr_assert_eq(m.n_unknown, 0, "PRIORITY is known so ICE requests are not refused");
	assert_attr_str(&m, SN_STUN_A_SOFTWARE, "STUN test client");
	assert_attr_str(&m, SN_STUN_A_USERNAME, "evtj:h6vY");
	cr_assert_eq(sn_stun_get_u32(&m, SN_STUN_A_PRIORITY), 0x6e0001ffu);
	cr_assert(sn_stun_has(&m, SN_STUN_A_ICE_CONTROLLED));
	cr_assert_eq(sn_stun_check_fingerprint(&m), SN_STUN_OK);
	cr_assert_eq(
	    sn_stun_check_mi_sha1(&m, (const uint8_t *)short_term_pw, strlen(short_term_pw)),
	    SN_STUN_OK);
	cr_assert_eq(sn_stun_check_integrity(&m, (const uint8_t *)"wrong", 5),
		     SN_STUN_INTEGRITY_MISMATCH);
	cr_assert_eq(
	    sn_stun_check_mi_sha256(&m, (const uint8_t *)short_term_pw, strlen(short_term_pw)),
	    SN_STUN_INTEGRITY_MISSING);
}

static void check_response(const char *hex, const struct sn_stun_addr *want)
{
	static const uint8_t tid[12] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
					0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};
	uint8_t buf[256], enc[20];
	size_t n = unhex(hex, buf, sizeof(buf));
	struct sn_stun_msg m;
	struct sn_stun_addr a;
	const uint8_t *v;
	uint16_t len;

	cr_assert_eq(sn_stun_parse(buf, n, &m), SN_STUN_OK);
	cr_assert_eq(m.method, SN_STUN_METHOD_BINDING);
	cr_assert_eq(m.cls, SN_STUN_CLASS_SUCCESS);
	cr_assert_eq(memcmp(sn_stun_tid(&m), tid, 12), 0);
	assert_attr_str(&m, SN_STUN_A_SOFTWARE, "test vector");
	v = sn_stun_get(&m, SN_STUN_A_XOR_MAPPED_ADDRESS, &len);
	cr_assert_not_null(v);
	cr_assert_eq(sn_stun_xor_addr_decode(v, len, sn_stun_tid(&m), &a), 0);
	cr_assert_eq(a.family, want->family);
	cr_assert_eq(a.port, want->port);
	cr_assert_eq(memcmp(a.addr, want->addr, sizeof(a.addr)), 0);
	cr_assert_eq(sn_stun_xor_addr_encode(enc, want, tid), (int)len);
	cr_assert_eq(memcmp(enc, v, len), 0, "encoding reproduces the vector");
	cr_assert_eq(sn_stun_check_fingerprint(&m), SN_STUN_OK);
	cr_assert_eq(
	    sn_stun_check_integrity(&m, (const uint8_t *)short_term_pw, strlen(short_term_pw)),
	    SN_STUN_OK);
}

Test(rfc5769, sample_ipv4_response)
{
	struct sn_stun_addr want = {.family = AF_INET, .port = htons(32853)};

	inet_pton(AF_INET, "192.0.2.1", want.addr);
	check_response(rfc5769_ipv4, &want);
}

Test(rfc5769, sample_ipv6_response)
{
	struct sn_stun_addr want = {.family = AF_INET6, .port = htons(32853)};

	inet_pton(AF_INET6, "2001:db8:1234:5678:11:2233:4455:6677", want.addr);
	check_response(rfc5769_ipv6, &want);
}

Test(rfc5769, long_term_request_and_rebuild)
{
	uint8_t buf[256], out[256], key[32];
	size_t n = unhex(rfc5769_long_term, buf, sizeof(buf));
	struct sn_stun_writer w;
	struct sn_stun_msg m;
	int klen, len;

	cr_assert_eq(sn_stun_parse(buf, n, &m), SN_STUN_OK);
	assert_attr_str(&m, SN_STUN_A_USERNAME, matrix_user);
	assert_attr_str(&m, SN_STUN_A_NONCE, matrix_nonce_5769);
	assert_attr_str(&m, SN_STUN_A_REALM, "example.org");
	cr_assert_not(sn_stun_has(&m, SN_STUN_A_FINGERPRINT));
	klen = sn_stun_long_term_key(SN_STUN_PASSWORD_MD5, matrix_user, strlen(matrix_user),
				     "example.org", 11, "TheMatrIX", 9, key);
	cr_assert_eq(klen, 16);
	cr_assert_eq(sn_stun_check_integrity(&m, key, (size_t)klen), SN_STUN_OK);
	/* The key of the password before SASLprep is another key. */
	klen = sn_stun_long_term_key(SN_STUN_PASSWORD_MD5, matrix_user, strlen(matrix_user),
				     "example.org", 11, "thematrix", 9, key);
	cr_assert_eq(sn_stun_check_integrity(&m, key, (size_t)klen), SN_STUN_INTEGRITY_MISMATCH);

	/* The writer reproduces the vector byte for byte (its padding is zero, as the RFC's). */
	klen = sn_stun_long_term_key(SN_STUN_PASSWORD_MD5, matrix_user, strlen(matrix_user),
				     "example.org", 11, "TheMatrIX", 9, key);
	sn_stun_writer_init(&w, out, sizeof(out), SN_STUN_METHOD_BINDING, SN_STUN_CLASS_REQUEST,
			    sn_stun_tid(&m));
	sn_stun_put_attr(&w, SN_STUN_ATTR_USERNAME, matrix_user, strlen(matrix_user));
	sn_stun_put_attr(&w, SN_STUN_ATTR_NONCE, matrix_nonce_5769, strlen(matrix_nonce_5769));
	sn_stun_put_attr(&w, SN_STUN_ATTR_REALM, "example.org", 11);
	len = sn_stun_writer_finish(&w, SN_STUN_FINISH_INTEGRITY, key, (size_t)klen);
	cr_assert_eq(len, (int)n);
	cr_assert_eq(memcmp(out, buf, n), 0);
}

Test(rfc8489, b1_sha256_userhash_and_rebuild)
{
	uint8_t buf[256], out[256], key[32], uh[32];
	size_t n = unhex(rfc8489_b1, buf, sizeof(buf));
	struct sn_stun_writer w;
	struct sn_stun_msg m;
	const uint8_t *v;
	uint16_t len;
	int klen, total;
	static const uint8_t alg[4] = {0x00, 0x02, 0x00, 0x00};

	cr_assert_eq(n, 164);
	cr_assert_eq(sn_stun_parse(buf, n, &m), SN_STUN_OK);
	cr_assert_eq(sn_stun_userhash(matrix_user, strlen(matrix_user), "example.org", 11, uh), 0);
	v = sn_stun_get(&m, SN_STUN_A_USERHASH, &len);
	cr_assert_eq(len, 32);
	cr_assert_eq(memcmp(v, uh, 32), 0);
	assert_attr_str(&m, SN_STUN_A_NONCE, matrix_nonce_8489);
	assert_attr_str(&m, SN_STUN_A_REALM, "example.org");
	v = sn_stun_get(&m, SN_STUN_A_PASSWORD_ALGORITHM, &len);
	cr_assert_eq(len, 4);
	cr_assert_eq(memcmp(v, alg, 4), 0);
	klen = sn_stun_long_term_key(SN_STUN_PASSWORD_SHA256, matrix_user, strlen(matrix_user),
				     "example.org", 11, "TheMatrIX", 9, key);
	cr_assert_eq(klen, 32);
	cr_assert_eq(sn_stun_check_mi_sha256(&m, key, 32), SN_STUN_OK);
	cr_assert_eq(sn_stun_check_integrity(&m, key, 32), SN_STUN_OK);
	cr_assert_eq(sn_stun_check_mi_sha1(&m, key, 32), SN_STUN_INTEGRITY_MISSING);
	key[0] ^= 1;
	cr_assert_eq(sn_stun_check_integrity(&m, key, 32), SN_STUN_INTEGRITY_MISMATCH);
	key[0] ^= 1;

	sn_stun_writer_init(&w, out, sizeof(out), SN_STUN_METHOD_BINDING, SN_STUN_CLASS_REQUEST,
			    sn_stun_tid(&m));
	sn_stun_put_attr(&w, SN_STUN_ATTR_USERHASH, uh, 32);
	sn_stun_put_attr(&w, SN_STUN_ATTR_NONCE, matrix_nonce_8489, strlen(matrix_nonce_8489));
	sn_stun_put_attr(&w, SN_STUN_ATTR_REALM, "example.org", 11);
	sn_stun_put_attr(&w, SN_STUN_ATTR_PASSWORD_ALGORITHM, alg, 4);
	total = sn_stun_writer_finish(&w, SN_STUN_FINISH_INTEGRITY_SHA256, key, 32);
	cr_assert_eq(total, (int)n);
	cr_assert_eq(memcmp(out, buf, n), 0);
}

Test(rfc8489, truncated_sha256_mac_is_checked_on_its_length)
{
	uint8_t buf[256], key[32];
	size_t n = unhex(rfc8489_b1, buf, sizeof(buf));
	struct sn_stun_msg m;

	/* Cut MESSAGE-INTEGRITY-SHA256 to 16 bytes: the MAC is then computed with the length
	 * field counting the short attribute, so the old bytes no longer match... */
	buf[n - 32 - 2] = 0;
	buf[n - 32 - 1] = 16;
	set_len(buf, n - 16);
	cr_assert_eq(sn_stun_parse(buf, n - 16, &m), SN_STUN_OK);
	sn_stun_long_term_key(SN_STUN_PASSWORD_SHA256, matrix_user, strlen(matrix_user),
			      "example.org", 11, "TheMatrIX", 9, key);
	cr_assert_eq(sn_stun_check_mi_sha256(&m, key, 32), SN_STUN_INTEGRITY_MISMATCH);
	/* ...while a message built with a full MAC and truncated by hand after recomputing is
	 * accepted: covered by the writer round trip below with a 32-byte MAC. Lengths that are
	 * not 16..32 in steps of 4 are malformed. */
	buf[n - 32 - 1] = 18;
	cr_assert_eq(sn_stun_parse(buf, n - 16, &m), SN_STUN_ATTR_TRUNCATED);
	buf[n - 32 - 1] = 12;
	set_len(buf, n - 20);
	cr_assert_eq(sn_stun_parse(buf, n - 20, &m), SN_STUN_ATTR_LENGTH);
	cr_assert_eq(m.bad_type, SN_STUN_ATTR_MESSAGE_INTEGRITY_SHA256);
}

Test(codec, crc32_and_types)
{
	cr_assert_eq(sn_crc32(0, "123456789", 9), 0xcbf43926u);
	cr_assert_eq(sn_crc32(sn_crc32(0, "1234", 4), "56789", 5), 0xcbf43926u);
	cr_assert_eq(sn_stun_type(SN_STUN_METHOD_BINDING, SN_STUN_CLASS_REQUEST), 0x0001);
	cr_assert_eq(sn_stun_type(SN_STUN_METHOD_BINDING, SN_STUN_CLASS_INDICATION), 0x0011);
	cr_assert_eq(sn_stun_type(SN_STUN_METHOD_BINDING, SN_STUN_CLASS_SUCCESS), 0x0101);
	cr_assert_eq(sn_stun_type(SN_STUN_METHOD_BINDING, SN_STUN_CLASS_ERROR), 0x0111);
	cr_assert_eq(sn_stun_type(SN_STUN_METHOD_ALLOCATE, SN_STUN_CLASS_SUCCESS), 0x0103);
	cr_assert_eq(sn_stun_type(SN_STUN_METHOD_ALLOCATE, SN_STUN_CLASS_ERROR), 0x0113);
	cr_assert_eq(sn_stun_type(SN_STUN_METHOD_SEND, SN_STUN_CLASS_INDICATION), 0x0016);
	cr_assert_eq(sn_stun_type(SN_STUN_METHOD_DATA, SN_STUN_CLASS_INDICATION), 0x0017);
	cr_assert_eq(sn_stun_type(SN_STUN_METHOD_CHANNEL_BIND, SN_STUN_CLASS_REQUEST), 0x0009);
	cr_assert_eq(sn_stun_type(0xfff, SN_STUN_CLASS_ERROR), 0x3fff);
	for (unsigned meth = 0; meth < 0x1000; meth++)
		for (unsigned cls = 0; cls < 4; cls++) {
			uint16_t t = sn_stun_type(meth, cls);

			cr_assert_eq(t & 0xc000, 0);
			cr_assert_eq(sn_stun_type_method(t), meth);
			cr_assert_eq(sn_stun_type_class(t), cls);
		}
}

Test(codec, attribute_index_and_names)
{
	for (int i = 0; i < SN_STUN_A_COUNT; i++)
		cr_assert_eq(sn_stun_attr_index(sn_stun_attr_types[i]), i);
	cr_assert_eq(sn_stun_attr_index(SN_STUN_ATTR_XOR_PEER_ADDRESS), SN_STUN_A_XOR_PEER_ADDRESS);
	cr_assert_eq(sn_stun_attr_index(0x0003), -1, "CHANGE-REQUEST is not supported");
	cr_assert_eq(sn_stun_attr_index(0x0027), -1);
	cr_assert_eq(sn_stun_attr_index(0x4000), -1);
	cr_assert_eq(sn_stun_attr_index(0x802b), -1);
	cr_assert_eq(sn_stun_attr_index(0xffff), -1);
	cr_assert_eq(sn_stun_attr_index(0x0000), -1);
	for (int i = 0; i < SN_STUN_RESULT_MAX; i++)
		cr_assert(sn_stun_result_names[i] && sn_stun_result_names[i][0]);
	cr_assert_str_eq(sn_stun_result_names[SN_STUN_FINGERPRINT_NOT_LAST],
			 "stun_fingerprint_not_last");
}

/* A request builder for the malformed cases: header, then raw attribute bytes. */
static size_t raw_msg(uint8_t *buf, const uint8_t *attrs, size_t attrs_len)
{
	static const uint8_t hdr[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1,  2,
					3,    4,    5,	  6,	7,    8,    9,	  10,	11, 12};

	memcpy(buf, hdr, 20);
	memcpy(buf + 20, attrs, attrs_len);
	set_len(buf, 20 + attrs_len);
	return 20 + attrs_len;
}

Test(malformed, header)
{
	uint8_t buf[256];
	size_t n = unhex(rfc5769_request, buf, sizeof(buf));
	struct sn_stun_msg m;

	for (size_t i = 0; i < 20; i++)
		cr_assert_eq(sn_stun_parse(buf, i, &m), SN_STUN_TRUNCATED);
	cr_assert_eq(sn_stun_parse(NULL, 0, &m), SN_STUN_TRUNCATED);
	/* A cut message: the length field no longer matches. */
	for (size_t i = 20; i < n; i += 4)
		cr_assert_eq(sn_stun_parse(buf, i, &m), SN_STUN_LENGTH_MISMATCH);
	/* Trailing bytes after the message are not accepted over UDP either. */
	cr_assert_eq(sn_stun_parse(buf, n + 4, &m), SN_STUN_LENGTH_MISMATCH);
	buf[0] |= 0x80;
	cr_assert_eq(sn_stun_parse(buf, n, &m), SN_STUN_NOT_STUN);
	buf[0] = 0x40;
	cr_assert_eq(sn_stun_parse(buf, n, &m), SN_STUN_NOT_STUN);
	buf[0] = 0x00;
	buf[5] ^= 1;
	cr_assert_eq(sn_stun_parse(buf, n, &m), SN_STUN_BAD_COOKIE);
	buf[5] ^= 1;
	buf[3] += 2;
	cr_assert_eq(sn_stun_parse(buf, n, &m), SN_STUN_LENGTH_ALIGN);
	buf[3] -= 2;
	cr_assert_eq(sn_stun_parse(buf, n, &m), SN_STUN_OK);
	cr_assert_eq(sn_stun_check_header(buf, n), SN_STUN_OK);
	/* The header-only request is valid. */
	set_len(buf, 20);
	cr_assert_eq(sn_stun_parse(buf, 20, &m), SN_STUN_OK);
	cr_assert_eq(m.n_attrs, 0);
}

Test(malformed, attribute_past_end)
{
	uint8_t buf[64];
	struct sn_stun_msg m;
	/* SOFTWARE claiming 9 bytes where 8 are left. */
	static const uint8_t a1[] = {0x80, 0x22, 0x00, 0x09, 'a', 'b',
				     'c',  'd',	 'e',  'f',  'g', 'h'};
	/* A value that fits but whose padding does not: 5 bytes in an 8-byte remainder is fine,
	 * 5 in 4+5 = 9 > 8 is not. A zero-length last attribute is fine. */
	static const uint8_t a2[] = {0x80, 0x22, 0x00, 0x04, 'a',  'b',
				     'c',  'd',	 0x00, 0x1a, 0x00, 0x00};
	/* Huge length. */
	static const uint8_t a3[] = {0x00, 0x13, 0xff, 0xff, 0, 0, 0, 0};
	size_t n;

	n = raw_msg(buf, a1, sizeof(a1));
	cr_assert_eq(sn_stun_parse(buf, n, &m), SN_STUN_ATTR_TRUNCATED);
	cr_assert_eq(m.bad_type, SN_STUN_ATTR_SOFTWARE);
	cr_assert_eq(m.content_end, 0);
	n = raw_msg(buf, a2, sizeof(a2));
	cr_assert_eq(sn_stun_parse(buf, n, &m), SN_STUN_OK);
	cr_assert(sn_stun_has(&m, SN_STUN_A_DONT_FRAGMENT));
	n = raw_msg(buf, a3, sizeof(a3));
	cr_assert_eq(sn_stun_parse(buf, n, &m), SN_STUN_ATTR_TRUNCATED);
	cr_assert_eq(m.bad_type, SN_STUN_ATTR_DATA);
}

Test(malformed, padding_bytes_are_ignored)
{
	uint8_t buf[64];
	struct sn_stun_msg m;
	static const uint8_t a[] = {0x00, 0x06, 0x00, 0x01, 'u', 0xde, 0xad, 0xbe};
	size_t n = raw_msg(buf, a, sizeof(a));

	cr_assert_eq(sn_stun_parse(buf, n, &m), SN_STUN_OK);
	assert_attr_str(&m, SN_STUN_A_USERNAME, "u");
}

Test(malformed, known_attribute_lengths)
{
	static const struct {
		uint16_t type, len;
		bool ok;
	} cases[] = {
	    {SN_STUN_ATTR_FINGERPRINT, 8, false},
	    {SN_STUN_ATTR_FINGERPRINT, 0, false},
	    {SN_STUN_ATTR_MESSAGE_INTEGRITY, 16, false},
	    {SN_STUN_ATTR_MESSAGE_INTEGRITY, 24, false},
	    {SN_STUN_ATTR_MESSAGE_INTEGRITY_SHA256, 12, false},
	    {SN_STUN_ATTR_MESSAGE_INTEGRITY_SHA256, 36, false},
	    {SN_STUN_ATTR_MESSAGE_INTEGRITY_SHA256, 18, false},
	    {SN_STUN_ATTR_MESSAGE_INTEGRITY_SHA256, 20, true},
	    {SN_STUN_ATTR_XOR_MAPPED_ADDRESS, 12, false},
	    {SN_STUN_ATTR_XOR_PEER_ADDRESS, 20, true},
	    {SN_STUN_ATTR_XOR_PEER_ADDRESS, 4, false},
	    {SN_STUN_ATTR_LIFETIME, 3, false},
	    {SN_STUN_ATTR_LIFETIME, 8, false},
	    {SN_STUN_ATTR_CHANNEL_NUMBER, 2, false},
	    {SN_STUN_ATTR_EVEN_PORT, 1, true},
	    {SN_STUN_ATTR_EVEN_PORT, 4, false},
	    {SN_STUN_ATTR_DONT_FRAGMENT, 4, false},
	    {SN_STUN_ATTR_UNKNOWN_ATTRIBUTES, 3, false},
	    {SN_STUN_ATTR_UNKNOWN_ATTRIBUTES, 6, true},
	    {SN_STUN_ATTR_USERHASH, 20, false},
	    {SN_STUN_ATTR_ERROR_CODE, 3, false},
	    {SN_STUN_ATTR_REALM, 763, true},
	    {SN_STUN_ATTR_REALM, 764, false},
	    {SN_STUN_ATTR_USERNAME, 513, false},
	    {SN_STUN_ATTR_SOFTWARE, 800, false},
	    {SN_STUN_ATTR_DATA, 1200, true},
	    {0x7777, 3, true}, /* unknown: any length */
	};
	uint8_t buf[2048], attrs[1300];
	struct sn_stun_msg m;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t alen = 4 + cases[i].len + sn_stun_pad(cases[i].len), n;

		memset(attrs, 0, sizeof(attrs));
		attrs[0] = (uint8_t)(cases[i].type >> 8);
		attrs[1] = (uint8_t)cases[i].type;
		attrs[2] = (uint8_t)(cases[i].len >> 8);
		attrs[3] = (uint8_t)cases[i].len;
		attrs[5] = SN_STUN_FAMILY_IPV6; /* family byte of address attributes */
		n = raw_msg(buf, attrs, alen);
		if (cases[i].ok) {
			cr_assert_eq(sn_stun_parse(buf, n, &m), SN_STUN_OK, "type %#x len %u",
				     cases[i].type, cases[i].len);
		} else {
			cr_assert_eq(sn_stun_parse(buf, n, &m), SN_STUN_ATTR_LENGTH,
				     "type %#x len %u", cases[i].type, cases[i].len);
			cr_assert_eq(m.bad_type, cases[i].type);
		}
	}
}

Test(malformed, wrong_fingerprint)
{
	uint8_t buf[256];
	size_t n = unhex(rfc5769_request, buf, sizeof(buf));
	struct sn_stun_msg m;

	buf[n - 1] ^= 0x01;
	cr_assert_eq(sn_stun_parse(buf, n, &m), SN_STUN_OK);
	cr_assert_eq(sn_stun_check_fingerprint(&m), SN_STUN_FINGERPRINT_MISMATCH);
	buf[n - 1] ^= 0x01;
	buf[30] ^= 0x20; /* inside SOFTWARE */
	cr_assert_eq(sn_stun_parse(buf, n, &m), SN_STUN_OK);
	cr_assert_eq(sn_stun_check_fingerprint(&m), SN_STUN_FINGERPRINT_MISMATCH);
	cr_assert_eq(
	    sn_stun_check_integrity(&m, (const uint8_t *)short_term_pw, strlen(short_term_pw)),
	    SN_STUN_INTEGRITY_MISMATCH);
}

Test(malformed, fingerprint_not_last)
{
	uint8_t buf[256];
	size_t n = unhex(rfc5769_request, buf, sizeof(buf));
	struct sn_stun_msg m;
	static const uint8_t extra[] = {0x80, 0x22, 0x00, 0x00};

	memcpy(buf + n, extra, sizeof(extra));
	set_len(buf, n + 4);
	cr_assert_eq(sn_stun_parse(buf, n + 4, &m), SN_STUN_FINGERPRINT_NOT_LAST);
	cr_assert_eq(m.bad_type, SN_STUN_ATTR_SOFTWARE);
	/* A second FINGERPRINT is no exception. */
	memcpy(buf + n, buf + n - 8, 8);
	set_len(buf, n + 8);
	cr_assert_eq(sn_stun_parse(buf, n + 8, &m), SN_STUN_FINGERPRINT_NOT_LAST);
}

Test(malformed, integrity_wrong_and_missing)
{
	uint8_t buf[256];
	size_t n = unhex(rfc5769_long_term, buf, sizeof(buf));
	struct sn_stun_msg m;
	uint8_t key[32];
	int klen = sn_stun_long_term_key(SN_STUN_PASSWORD_MD5, matrix_user, strlen(matrix_user),
					 "example.org", 11, "TheMatrIX", 9, key);

	buf[n - 1] ^= 0x80; /* last MAC byte */
	cr_assert_eq(sn_stun_parse(buf, n, &m), SN_STUN_OK);
	cr_assert_eq(sn_stun_check_integrity(&m, key, (size_t)klen), SN_STUN_INTEGRITY_MISMATCH);
	buf[n - 1] ^= 0x80;
	buf[24] ^= 0x01; /* USERNAME */
	cr_assert_eq(sn_stun_parse(buf, n, &m), SN_STUN_OK);
	cr_assert_eq(sn_stun_check_integrity(&m, key, (size_t)klen), SN_STUN_INTEGRITY_MISMATCH);
	buf[24] ^= 0x01;
	/* Drop MESSAGE-INTEGRITY. */
	set_len(buf, n - 24);
	cr_assert_eq(sn_stun_parse(buf, n - 24, &m), SN_STUN_OK);
	cr_assert_eq(sn_stun_check_integrity(&m, key, (size_t)klen), SN_STUN_INTEGRITY_MISSING);
	/* An empty key never verifies. */
	set_len(buf, n);
	cr_assert_eq(sn_stun_parse(buf, n, &m), SN_STUN_OK);
	cr_assert_eq(sn_stun_check_integrity(&m, key, 0), SN_STUN_INTEGRITY_MISMATCH);
}

Test(rules, attributes_after_integrity_are_ignored)
{
	uint8_t buf[512];
	size_t n = unhex(rfc5769_long_term, buf, sizeof(buf));
	struct sn_stun_msg m;
	uint8_t key[32];
	int klen = sn_stun_long_term_key(SN_STUN_PASSWORD_MD5, matrix_user, strlen(matrix_user),
					 "example.org", 11, "TheMatrIX", 9, key);
	/* SOFTWARE, an unknown comprehension-required type, LIFETIME, then FINGERPRINT. */
	static const uint8_t tail[] = {0x80, 0x22, 0x00, 0x02, 'h', 'i', 0,    0,
				       0x00, 0x03, 0x00, 0x04, 0,   0,	 0,    4,
				       0x00, 0x0d, 0x00, 0x04, 0,   0,	 0x0e, 0x10};
	uint32_t cursor = 0;
	const uint8_t *v;
	uint16_t len;

	memcpy(buf + n, tail, sizeof(tail));
	n += sizeof(tail);
	set_len(buf, n + 8);
	{
		uint32_t crc = sn_crc32(0, buf, n) ^ SN_STUN_FINGERPRINT_XOR;
		uint8_t fp[8] = {0x80,
				 0x28,
				 0x00,
				 0x04,
				 (uint8_t)(crc >> 24),
				 (uint8_t)(crc >> 16),
				 (uint8_t)(crc >> 8),
				 (uint8_t)crc};

		memcpy(buf + n, fp, 8);
		n += 8;
	}
	cr_assert_eq(sn_stun_parse(buf, n, &m), SN_STUN_OK);
	cr_assert_eq(m.n_ignored, 3);
	cr_assert_eq(m.n_unknown, 0, "unknown types after MESSAGE-INTEGRITY are ignored too");
	cr_assert_not(sn_stun_has(&m, SN_STUN_A_SOFTWARE));
	cr_assert_not(sn_stun_has(&m, SN_STUN_A_LIFETIME));
	cr_assert(sn_stun_has(&m, SN_STUN_A_FINGERPRINT));
	cr_assert_eq(sn_stun_check_fingerprint(&m), SN_STUN_OK);
	cr_assert_eq(sn_stun_check_integrity(&m, key, (size_t)klen), SN_STUN_OK);
	/* The content range stops at MESSAGE-INTEGRITY. */
	cr_assert_not(sn_stun_find_next(&m, SN_STUN_ATTR_SOFTWARE, &cursor, &v, &len));
	cursor = 0;
	cr_assert(sn_stun_find_next(&m, SN_STUN_ATTR_REALM, &cursor, &v, &len));
}

Test(rules, sha256_after_sha1_counts_sha1_after_sha256_does_not)
{
	uint8_t buf[256], key[16] = "0123456789abcde";
	struct sn_stun_writer w;
	struct sn_stun_msg m;
	uint8_t tid[12] = {0};
	int n;

	sn_stun_writer_init(&w, buf, sizeof(buf), SN_STUN_METHOD_ALLOCATE, SN_STUN_CLASS_REQUEST,
			    tid);
	sn_stun_put_u32(&w, SN_STUN_ATTR_REQUESTED_TRANSPORT, 17u << 24);
	n = sn_stun_writer_finish(&w,
				  SN_STUN_FINISH_INTEGRITY | SN_STUN_FINISH_INTEGRITY_SHA256 |
				      SN_STUN_FINISH_FINGERPRINT,
				  key, sizeof(key));
	cr_assert_eq(n, 20 + 8 + 24 + 36 + 8);
	cr_assert_eq(sn_stun_parse(buf, (size_t)n, &m), SN_STUN_OK);
	cr_assert_eq(sn_stun_check_mi_sha1(&m, key, sizeof(key)), SN_STUN_OK);
	cr_assert_eq(sn_stun_check_mi_sha256(&m, key, sizeof(key)), SN_STUN_OK);
	cr_assert_eq(sn_stun_check_fingerprint(&m), SN_STUN_OK);
	cr_assert_eq(m.content_end, 8);

	/* MESSAGE-INTEGRITY after MESSAGE-INTEGRITY-SHA256 is ignored; the writer refuses it. */
	sn_stun_writer_init(&w, buf, sizeof(buf), SN_STUN_METHOD_ALLOCATE, SN_STUN_CLASS_REQUEST,
			    tid);
	cr_assert_eq(sn_stun_put_integrity_sha256(&w, key, sizeof(key)), 0);
	cr_assert_eq(sn_stun_put_integrity(&w, key, sizeof(key)), -EINVAL);
	sn_stun_writer_init(&w, buf, sizeof(buf), SN_STUN_METHOD_ALLOCATE, SN_STUN_CLASS_REQUEST,
			    tid);
	sn_stun_put_integrity_sha256(&w, key, sizeof(key));
	memcpy(buf + w.len, buf + 20, 4);
	buf[w.len + 1] = 0x08;
	buf[w.len + 3] = 20;
	memset(buf + w.len + 4, 0, 20);
	set_len(buf, w.len + 24);
	cr_assert_eq(sn_stun_parse(buf, w.len + 24, &m), SN_STUN_OK);
	cr_assert_not(sn_stun_has(&m, SN_STUN_A_MESSAGE_INTEGRITY));
	cr_assert_eq(m.n_ignored, 1);
}

Test(rules, unknown_comprehension_required)
{
	uint8_t buf[256], attrs[200];
	struct sn_stun_msg m;
	size_t k = 0, n;
	/* Two unknown required types (one repeated), one unknown optional type. */
	static const uint16_t types[] = {0x0003, 0x8055, 0x0027, 0x0003};

	for (size_t i = 0; i < 4; i++) {
		attrs[k++] = (uint8_t)(types[i] >> 8);
		attrs[k++] = (uint8_t)types[i];
		attrs[k++] = 0;
		attrs[k++] = 4;
		memset(attrs + k, 0, 4);
		k += 4;
	}
	n = raw_msg(buf, attrs, k);
	cr_assert_eq(sn_stun_parse(buf, n, &m), SN_STUN_OK);
	cr_assert_eq(m.n_unknown, 2);
	cr_assert_eq(m.unknown[0], 0x0003);
	cr_assert_eq(m.unknown[1], 0x0027);
	cr_assert_not(m.unknown_overflow);

	/* More distinct types than the list holds. */
	k = 0;
	for (uint16_t t = 0x0040; t < 0x0040 + SN_STUN_MAX_UNKNOWN + 2; t++) {
		attrs[k++] = 0;
		attrs[k++] = (uint8_t)t;
		attrs[k++] = 0;
		attrs[k++] = 0;
	}
	n = raw_msg(buf, attrs, k);
	cr_assert_eq(sn_stun_parse(buf, n, &m), SN_STUN_OK);
	cr_assert_eq(m.n_unknown, SN_STUN_MAX_UNKNOWN);
	cr_assert(m.unknown_overflow);
}

Test(rules, duplicates_first_wins_and_all_are_walkable)
{
	uint8_t buf[256];
	struct sn_stun_writer w;
	struct sn_stun_msg m;
	struct sn_stun_addr a[3] = {{.family = AF_INET, .port = htons(1000)},
				    {.family = AF_INET6, .port = htons(2000)},
				    {.family = AF_INET, .port = htons(3000)}};
	uint8_t tid[12] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2};
	uint32_t cursor = 0;
	const uint8_t *v;
	uint16_t len;
	int n, count = 0;

	inet_pton(AF_INET, "203.0.113.1", a[0].addr);
	inet_pton(AF_INET6, "2001:db8::7", a[1].addr);
	inet_pton(AF_INET, "203.0.113.3", a[2].addr);
	sn_stun_writer_init(&w, buf, sizeof(buf), SN_STUN_METHOD_CREATE_PERMISSION,
			    SN_STUN_CLASS_REQUEST, tid);
	for (int i = 0; i < 3; i++)
		sn_stun_put_xor_addr(&w, SN_STUN_ATTR_XOR_PEER_ADDRESS, &a[i]);
	sn_stun_put_u32(&w, SN_STUN_ATTR_LIFETIME, 600);
	sn_stun_put_u32(&w, SN_STUN_ATTR_LIFETIME, 0);
	n = sn_stun_writer_finish(&w, SN_STUN_FINISH_FINGERPRINT, NULL, 0);
	cr_assert_gt(n, 0);
	cr_assert_eq(sn_stun_parse(buf, (size_t)n, &m), SN_STUN_OK);
	cr_assert_eq(m.n_duplicates, 3);
	cr_assert_eq(sn_stun_get_u32(&m, SN_STUN_A_LIFETIME), 600, "first LIFETIME wins");
	while (sn_stun_find_next(&m, SN_STUN_ATTR_XOR_PEER_ADDRESS, &cursor, &v, &len)) {
		struct sn_stun_addr got;

		cr_assert_lt(count, 3);
		cr_assert_eq(sn_stun_xor_addr_decode(v, len, sn_stun_tid(&m), &got), 0);
		cr_assert_eq(got.family, a[count].family);
		cr_assert_eq(got.port, a[count].port);
		cr_assert_eq(memcmp(got.addr, a[count].addr, 16), 0);
		count++;
	}
	cr_assert_eq(count, 3);
}

Test(addresses, decode_errors_and_plain_encoding)
{
	static const uint8_t tid[12];
	uint8_t v[20] = {0xff, 0x03, 0x12, 0x34, 1, 2, 3, 4};
	struct sn_stun_addr a, b = {.family = AF_INET6, .port = htons(3478)};

	cr_assert_eq(sn_stun_addr_decode(v, 8, &a), -EAFNOSUPPORT);
	v[1] = SN_STUN_FAMILY_IPV4;
	cr_assert_eq(sn_stun_addr_decode(v, 20, &a), -EINVAL);
	cr_assert_eq(sn_stun_addr_decode(v, 3, &a), -EINVAL);
	cr_assert_eq(sn_stun_addr_decode(v, 8, &a), 0, "the reserved byte is ignored");
	cr_assert_eq(a.family, AF_INET);
	cr_assert_eq(a.port, htons(0x1234));
	v[1] = SN_STUN_FAMILY_IPV6;
	cr_assert_eq(sn_stun_xor_addr_decode(v, 8, tid, &a), -EINVAL);
	inet_pton(AF_INET6, "2001:db8::1", b.addr);
	cr_assert_eq(sn_stun_addr_encode(v, &b), 20);
	cr_assert_eq(sn_stun_addr_decode(v, 20, &a), 0);
	cr_assert_eq(memcmp(&a, &b, sizeof(a)), 0);
	b.family = 99;
	cr_assert_eq(sn_stun_addr_encode(v, &b), -EAFNOSUPPORT);
	cr_assert_eq(sn_stun_xor_addr_encode(v, &b, tid), -EAFNOSUPPORT);
}

Test(errors, encode_decode)
{
	uint8_t buf[128];
	struct sn_stun_writer w;
	struct sn_stun_msg m;
	static const uint8_t tid[12];
	const char *reason;
	size_t rlen;
	unsigned code;
	const uint8_t *v;
	uint16_t len;
	int n;

	sn_stun_writer_init(&w, buf, sizeof(buf), SN_STUN_METHOD_REFRESH, SN_STUN_CLASS_ERROR, tid);
	cr_assert_eq(sn_stun_put_error(&w, 438, NULL), 0);
	n = sn_stun_writer_finish(&w, 0, NULL, 0);
	cr_assert_eq(sn_stun_parse(buf, (size_t)n, &m), SN_STUN_OK);
	v = sn_stun_get(&m, SN_STUN_A_ERROR_CODE, &len);
	cr_assert_eq(sn_stun_error_decode(v, len, &code, &reason, &rlen), 0);
	cr_assert_eq(code, 438);
	cr_assert_eq(rlen, strlen("Stale Nonce"));
	cr_assert_eq(memcmp(reason, "Stale Nonce", rlen), 0);
	cr_assert_eq(v[2], 4);
	cr_assert_eq(v[3], 38);

	sn_stun_writer_init(&w, buf, sizeof(buf), SN_STUN_METHOD_REFRESH, SN_STUN_CLASS_ERROR, tid);
	cr_assert_eq(sn_stun_put_error(&w, 299, NULL), -EINVAL);
	cr_assert_eq(sn_stun_writer_finish(&w, 0, NULL, 0), -EINVAL, "errors stick");
	sn_stun_writer_init(&w, buf, sizeof(buf), SN_STUN_METHOD_REFRESH, SN_STUN_CLASS_ERROR, tid);
	cr_assert_eq(sn_stun_put_error(&w, 700, "x"), -EINVAL);

	{
		uint8_t bad[4] = {0, 0, 7, 0};

		cr_assert_eq(sn_stun_error_decode(bad, 4, &code, &reason, &rlen), -EINVAL);
		bad[2] = 2;
		cr_assert_eq(sn_stun_error_decode(bad, 4, &code, &reason, &rlen), -EINVAL);
		bad[2] = 4;
		bad[3] = 100;
		cr_assert_eq(sn_stun_error_decode(bad, 4, &code, &reason, &rlen), -EINVAL);
		cr_assert_eq(sn_stun_error_decode(bad, 3, &code, &reason, &rlen), -EINVAL);
	}
	cr_assert_str_eq(sn_stun_error_reason(420), "Unknown Attribute");
	cr_assert_str_eq(sn_stun_error_reason(599), "");
}

Test(writer, capacity_order_and_sticky_errors)
{
	uint8_t buf[64];
	struct sn_stun_writer w;
	static const uint8_t tid[12];
	uint8_t big[70000];

	sn_stun_writer_init(&w, buf, 19, SN_STUN_METHOD_BINDING, SN_STUN_CLASS_REQUEST, tid);
	cr_assert_eq(w.err, -ENOSPC);
	cr_assert_eq(sn_stun_put_u32(&w, SN_STUN_ATTR_LIFETIME, 1), -ENOSPC);
	cr_assert_eq(sn_stun_writer_finish(&w, SN_STUN_FINISH_FINGERPRINT, NULL, 0), -ENOSPC);

	sn_stun_writer_init(&w, buf, 36, SN_STUN_METHOD_BINDING, SN_STUN_CLASS_REQUEST, tid);
	cr_assert_eq(sn_stun_put_u32(&w, SN_STUN_ATTR_LIFETIME, 1), 0);
	cr_assert_eq(sn_stun_put_u32(&w, SN_STUN_ATTR_LIFETIME, 2), 0);
	cr_assert_eq(w.len, 36);
	cr_assert_eq(sn_stun_put_fingerprint(&w), -ENOSPC);
	cr_assert_eq(buf[3], 16, "the length field counts what was written");

	sn_stun_writer_init(&w, buf, sizeof(buf), SN_STUN_METHOD_BINDING, SN_STUN_CLASS_REQUEST,
			    tid);
	cr_assert_eq(sn_stun_put_fingerprint(&w), 0);
	cr_assert_eq(sn_stun_put_u32(&w, SN_STUN_ATTR_LIFETIME, 1), -EINVAL);
	sn_stun_writer_init(&w, buf, sizeof(buf), SN_STUN_METHOD_BINDING, SN_STUN_CLASS_REQUEST,
			    tid);
	cr_assert_eq(sn_stun_put_fingerprint(&w), 0);
	cr_assert_eq(sn_stun_put_fingerprint(&w), -EINVAL);
	sn_stun_writer_init(&w, buf, sizeof(buf), SN_STUN_METHOD_BINDING, SN_STUN_CLASS_REQUEST,
			    tid);
	cr_assert_eq(sn_stun_put_integrity(&w, (const uint8_t *)"k", 1), 0);
	cr_assert_eq(sn_stun_put_attr(&w, SN_STUN_ATTR_SOFTWARE, "x", 1), -EINVAL);
	sn_stun_writer_init(&w, buf, sizeof(buf), SN_STUN_METHOD_BINDING, SN_STUN_CLASS_REQUEST,
			    tid);
	cr_assert_eq(sn_stun_put_integrity(&w, NULL, 0), -EINVAL);

	sn_stun_writer_init(&w, big, sizeof(big), SN_STUN_METHOD_SEND, SN_STUN_CLASS_INDICATION,
			    tid);
	cr_assert_eq(sn_stun_put_attr(&w, SN_STUN_ATTR_DATA, big + 100, 65536), -EMSGSIZE);
	sn_stun_writer_init(&w, big, sizeof(big), SN_STUN_METHOD_SEND, SN_STUN_CLASS_INDICATION,
			    tid);
	cr_assert_eq(sn_stun_put_attr(&w, SN_STUN_ATTR_DATA, big + 100, 65528), 0);
	cr_assert_eq(sn_stun_put_fingerprint(&w), -EMSGSIZE, "body would pass 65532 bytes");
}

Test(writer, data_indication_prefix)
{
	uint8_t buf[256];
	static const uint8_t tid[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	struct sn_stun_addr peer = {.family = AF_INET6, .port = htons(5004)}, got;
	struct sn_stun_msg m;
	const uint8_t *v;
	uint16_t len;
	int p;

	inet_pton(AF_INET6, "2001:db8:5e::2", peer.addr);
	p = sn_stun_data_indication_prefix(buf, sizeof(buf), tid, &peer, 7);
	cr_assert_eq(p, 48);
	memcpy(buf + p, "payload", 7);
	buf[p + 7] = 0;
	cr_assert_eq(sn_stun_parse(buf, (size_t)p + 8, &m), SN_STUN_OK);
	cr_assert_eq(m.type, 0x0017);
	v = sn_stun_get(&m, SN_STUN_A_DATA, &len);
	cr_assert_eq(len, 7);
	cr_assert_eq(memcmp(v, "payload", 7), 0);
	v = sn_stun_get(&m, SN_STUN_A_XOR_PEER_ADDRESS, &len);
	cr_assert_eq(sn_stun_xor_addr_decode(v, len, tid, &got), 0);
	cr_assert_eq(memcmp(&got, &peer, sizeof(got)), 0);
	peer.family = AF_INET;
	cr_assert_eq(sn_stun_data_indication_prefix(buf, sizeof(buf), tid, &peer, 0), 36);
	cr_assert_eq(sn_stun_data_indication_prefix(buf, 35, tid, &peer, 0), -ENOSPC);
	cr_assert_eq(sn_stun_data_indication_prefix(buf, 64, tid, &peer, 65532), -EMSGSIZE);
}

Test(keys, algorithms)
{
	uint8_t key[32];

	cr_assert_eq(sn_stun_long_term_key(0, "u", 1, "r", 1, "p", 1, key), -EINVAL);
	/* MD5("user:realm:pass"), as in RFC 8489 §9.2.2 and coturn's turnadmin -k. */
	cr_assert_eq(
	    sn_stun_long_term_key(SN_STUN_PASSWORD_MD5, "user", 4, "realm", 5, "pass", 4, key), 16);
	{
		static const uint8_t want[16] = {0x84, 0x93, 0xfb, 0xc5, 0x3b, 0xa5, 0x82, 0xfb,
						 0x4c, 0x04, 0x4c, 0x45, 0x6b, 0xdc, 0x40, 0xeb};

		cr_assert_eq(memcmp(key, want, 16), 0);
	}
}

/* --- messages captured from coturn 4.6.1 (turnutils_stunclient, turnutils_uclient and
 * turnserver on loopback, user test:pass, realm example.org) --- */

static const char *const coturn_requests[] = {
    "coturn_c2s_binding_req_20b.bin",	  "coturn_c2s_allocate_req_52b.bin",
    "coturn_c2s_allocate_req_56b.bin",	  "coturn_c2s_allocate_req_60b.bin",
    "coturn_c2s_allocate_req_120b.bin",	  "coturn_c2s_allocate_req_124b.bin",
    "coturn_c2s_allocate_req_128b.bin",	  "coturn_c2s_chanbind_req_116b.bin",
    "coturn_c2s_chanbind_req_128b.bin",	  "coturn_c2s_createperm_req_108b.bin",
    "coturn_c2s_createperm_req_120b.bin", "coturn_c2s_createperm_req_168b.bin",
    "coturn_c2s_refresh_req_104b.bin",	  "coturn_c2s_send_ind_144b.bin",
    "coturn_s2c_allocate_err_108b.bin",	  "coturn_s2c_allocate_ok_108b.bin",
    "coturn_s2c_allocate_ok_132b.bin",	  "coturn_s2c_binding_ok_92b.bin",
    "coturn_s2c_binding_ok_100b.bin",	  "coturn_s2c_chanbind_ok_76b.bin",
    "coturn_s2c_createperm_ok_76b.bin",	  "coturn_s2c_data_ind_168b.bin",
    "coturn_s2c_refresh_ok_84b.bin",	  "coturn_s2c_binding_ok_140b.bin",
    "coturn_s2c_binding_ok_148b.bin",	  "coturn_s2c_binding_ok_1596b.bin",
    "coturn_s2c_binding_ok_1644b.bin",
};

Test(coturn, captured_messages_parse_and_verify)
{
	uint8_t buf[2048], key[32];
	int klen = sn_stun_long_term_key(SN_STUN_PASSWORD_MD5, "test", 4, "example.org", 11, "pass",
					 4, key);
	int verified = 0;

	cr_assert_eq(klen, 16);
	for (size_t i = 0; i < sizeof(coturn_requests) / sizeof(coturn_requests[0]); i++) {
		size_t n = load(coturn_requests[i], buf, sizeof(buf));
		struct sn_stun_msg m;

		cr_assert_eq(sn_stun_parse(buf, n, &m), SN_STUN_OK, "%s", coturn_requests[i]);
		cr_assert_eq(m.n_unknown, 0, "%s: unknown %#x", coturn_requests[i], m.unknown[0]);
		cr_assert_eq(sn_stun_check_fingerprint(&m), SN_STUN_OK, "%s", coturn_requests[i]);
		if (sn_stun_has(&m, SN_STUN_A_MESSAGE_INTEGRITY)) {
			cr_assert_eq(sn_stun_check_integrity(&m, key, (size_t)klen), SN_STUN_OK,
				     "%s", coturn_requests[i]);
			verified++;
		}
	}
	cr_assert_geq(verified, 10);
}

Test(coturn, allocate_request_fields)
{
	uint8_t buf[256];
	size_t n = load("coturn_c2s_allocate_req_120b.bin", buf, sizeof(buf));
	struct sn_stun_msg m;

	cr_assert_eq(sn_stun_parse(buf, n, &m), SN_STUN_OK);
	cr_assert_eq(m.method, SN_STUN_METHOD_ALLOCATE);
	cr_assert_eq(m.cls, SN_STUN_CLASS_REQUEST);
	cr_assert_eq(sn_stun_get_u32(&m, SN_STUN_A_REQUESTED_TRANSPORT), 17u << 24);
	cr_assert_eq(sn_stun_get_u32(&m, SN_STUN_A_REQUESTED_ADDRESS_FAMILY), 1u << 24);
	assert_attr_str(&m, SN_STUN_A_USERNAME, "test");
	assert_attr_str(&m, SN_STUN_A_REALM, "example.org");
	cr_assert(sn_stun_has(&m, SN_STUN_A_NONCE));
}

Test(coturn, rfc5780_binding_requests_carry_unknown_required_attributes)
{
	uint8_t buf[2048];
	struct sn_stun_msg m;
	size_t n = load("coturn_c2s_binding_req_36b.bin", buf, sizeof(buf));

	cr_assert_eq(sn_stun_parse(buf, n, &m), SN_STUN_OK);
	cr_assert_eq(m.n_unknown, 2);
	cr_assert_eq(m.unknown[0], 0x0027); /* RESPONSE-PORT */
	cr_assert_eq(m.unknown[1], 0x0003); /* CHANGE-REQUEST */
	n = load("coturn_c2s_binding_req_1532b.bin", buf, sizeof(buf));
	cr_assert_eq(sn_stun_parse(buf, n, &m), SN_STUN_OK);
	cr_assert_eq(m.n_unknown, 1);
	cr_assert(sn_stun_has(&m, SN_STUN_A_PADDING));
}

Test(corpus, rfc_vector_files_match_the_text)
{
	static const struct {
		const char *file, *hex;
	} v[] = {
	    {"rfc5769_2_1_request.bin", rfc5769_request},
	    {"rfc5769_2_2_ipv4_response.bin", rfc5769_ipv4},
	    {"rfc5769_2_3_ipv6_response.bin", rfc5769_ipv6},
	    {"rfc5769_2_4_long_term.bin", rfc5769_long_term},
	    {"rfc8489_b_1_sha256_userhash.bin", rfc8489_b1},
	};
	uint8_t a[256], b[256];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t na = load(v[i].file, a, sizeof(a));
		size_t nb = unhex(v[i].hex, b, sizeof(b));

		cr_assert_eq(na, nb, "%s", v[i].file);
		cr_assert_eq(memcmp(a, b, na), 0, "%s", v[i].file);
	}
}

Test(corpus, built_seeds_verify_with_the_fuzz_key)
{
	/* Seeds written by an independent Python encoder (hashlib/hmac/zlib) with the fuzz
	 * target's key, so the fuzzer starts from messages whose integrity checks pass. */
	static const uint8_t key[16] = "supernode-fuzz!";
	static const char *const files[] = {
	    "built_allocate_mi_mi256_fp_fuzzkey.bin",
	    "built_createperm_two_peers_mi_fuzzkey.bin",
	};
	uint8_t buf[256];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		size_t n = load(files[i], buf, sizeof(buf));
		struct sn_stun_msg m;

		cr_assert_eq(sn_stun_parse(buf, n, &m), SN_STUN_OK, "%s", files[i]);
		cr_assert_eq(sn_stun_check_fingerprint(&m), SN_STUN_OK, "%s", files[i]);
		cr_assert_eq(sn_stun_check_mi_sha1(&m, key, sizeof(key)), SN_STUN_OK, "%s",
			     files[i]);
		if (sn_stun_has(&m, SN_STUN_A_MESSAGE_INTEGRITY_SHA256))
			cr_assert_eq(sn_stun_check_mi_sha256(&m, key, sizeof(key)), SN_STUN_OK);
	}
}
