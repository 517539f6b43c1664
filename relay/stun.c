/* stun.c: STUN/TURN message codec (see stun.h). */
#include "stun.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

/* clang-format off */
const char *const sn_stun_result_names[SN_STUN_RESULT_MAX] = {
#define SN_X(name, label) [SN_STUN_##name] = label,
	SN_STUN_RESULTS(SN_X)
#undef SN_X
};
/* clang-format on */

/* clang-format off */
const uint16_t sn_stun_attr_types[SN_STUN_A_COUNT] = {
#define SN_X(name, code, min, max) [SN_STUN_A_##name] = code,
	SN_STUN_ATTRS(SN_X)
#undef SN_X
};
/* clang-format on */

/* clang-format off */
static const uint16_t attr_min_len[SN_STUN_A_COUNT] = {
#define SN_X(name, code, min, max) [SN_STUN_A_##name] = min,
	SN_STUN_ATTRS(SN_X)
#undef SN_X
};
/* clang-format on */

/* clang-format off */
static const uint16_t attr_max_len[SN_STUN_A_COUNT] = {
#define SN_X(name, code, min, max) [SN_STUN_A_##name] = max,
	SN_STUN_ATTRS(SN_X)
#undef SN_X
};
/* clang-format on */

/* Type -> slot + 1 (0: unknown), one table per half of the type space. Every known type is
 * below 0x40 within its half, which keeps both tables in one cache line each. */
#define LOOKUP_SIZE 0x40u

#define SN_X(name, code, min, max) _Static_assert((code) < LOOKUP_SIZE, #name " out of table");
SN_STUN_ATTRS_REQUIRED(SN_X)
#undef SN_X
#define SN_X(name, code, min, max)                                                                 \
	_Static_assert((code) >= 0x8000 && (code) < 0x8000 + LOOKUP_SIZE, #name " out of table");
SN_STUN_ATTRS_OPTIONAL(SN_X)
#undef SN_X
_Static_assert(SN_STUN_A_COUNT < 255, "slots must fit the lookup tables");

/* clang-format off */
static const uint8_t lookup_required[LOOKUP_SIZE] = {
#define SN_X(name, code, min, max) [code] = SN_STUN_A_##name + 1,
	SN_STUN_ATTRS_REQUIRED(SN_X)
#undef SN_X
};
/* clang-format on */

/* clang-format off */
static const uint8_t lookup_optional[LOOKUP_SIZE] = {
#define SN_X(name, code, min, max) [(code)-0x8000] = SN_STUN_A_##name + 1,
	SN_STUN_ATTRS_OPTIONAL(SN_X)
#undef SN_X
};
/* clang-format on */

/* CRC-32, reflected polynomial 0xedb88320 (IEEE 802.3). crc32_table is the classic one-byte
 * table; sn_crc32 steps eight bytes at a time with it and seven derived tables (slicing-by-8,
 * built at load time): one byte per step is a chain of dependent loads, about 7 cycles a
 * byte, which made the FINGERPRINT of a Binding answer (32 bytes) a third of its cost. */
/* clang-format off */
static const uint32_t crc32_table[256] = {
	0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu,
	0xe963a535u, 0x9e6495a3u, 0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u,
	0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u,
	0xf3b97148u, 0x84be41deu, 0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u,
	0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu, 0x14015c4fu, 0x63066cd9u,
	0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u, 0xa2677172u,
	0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu,
	0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u,
	0x26d930acu, 0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u,
	0xcfba9599u, 0xb8bda50fu, 0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u,
	0x2f6f7c87u, 0x58684c11u, 0xc1611dabu, 0xb6662d3du, 0x76dc4190u, 0x01db7106u,
	0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu, 0x9fbfe4a5u, 0xe8b8d433u,
	0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu, 0x086d3d2du,
	0x91646c97u, 0xe6635c01u, 0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
	0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u,
	0x8bbeb8eau, 0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u,
	0x4db26158u, 0x3ab551ceu, 0xa3bc0074u, 0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u,
	0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au, 0x346ed9fcu, 0xad678846u, 0xda60b8d0u,
	0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u, 0x5005713cu, 0x270241aau,
	0xbe0b1010u, 0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u, 0xce61e49fu,
	0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
	0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au,
	0xead54739u, 0x9dd277afu, 0x04db2615u, 0x73dc1683u, 0xe3630b12u, 0x94643b84u,
	0x0d6d6a3eu, 0x7a6a5aa8u, 0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u,
	0xf00f9344u, 0x8708a3d2u, 0x1e01f268u, 0x6906c2feu, 0xf762575du, 0x806567cbu,
	0x196c3671u, 0x6e6b06e7u, 0xfed41b76u, 0x89d32be0u, 0x10da7a5au, 0x67dd4accu,
	0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u, 0xa1d1937eu,
	0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
	0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u,
	0x316e8eefu, 0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u,
	0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u,
	0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u, 0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du,
	0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au, 0x9c0906a9u, 0xeb0e363fu,
	0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u,
	0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u,
	0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u,
	0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u,
	0x616bffd3u, 0x166ccf45u, 0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u,
	0xa7672661u, 0xd06016f7u, 0x4969474du, 0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu,
	0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u,
	0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u, 0xcdd70693u,
	0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
	0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};
/* clang-format on */

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* crc32_slice[k][b]: the CRC of byte b followed by k zero bytes. */
static uint32_t crc32_slice[8][256];

__attribute__((constructor)) static void crc32_slice_init(void)
{
	for (unsigned b = 0; b < 256; b++) {
		uint32_t c = crc32_table[b];
		crc32_slice[0][b] = c;
		for (unsigned k = 1; k < 8; k++) {
			c = crc32_table[c & 0xff] ^ (c >> 8);
			crc32_slice[k][b] = c;
		}
	}
}

uint32_t sn_crc32(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	crc = ~crc;
	while (len >= 8) {
		/* Bytes combined explicitly: the same on any host byte order. */
		uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
				     (uint32_t)p[3] << 24);
		crc = crc32_slice[7][lo & 0xff] ^ crc32_slice[6][(lo >> 8) & 0xff] ^
		      crc32_slice[5][(lo >> 16) & 0xff] ^ crc32_slice[4][lo >> 24] ^
		      crc32_slice[3][p[4]] ^ crc32_slice[2][p[5]] ^ crc32_slice[1][p[6]] ^
		      crc32_slice[0][p[7]];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = crc32_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

int sn_stun_attr_index(uint16_t type)
{
	unsigned low = type & 0x7fffu;
	unsigned slot;

	if (low >= LOOKUP_SIZE)
		return -1;
	slot = (type & 0x8000u) ? lookup_optional[low] : lookup_required[low];
	return (int)slot - 1;
}

static bool attr_len_ok(int idx, uint16_t len)
{
	if (len < attr_min_len[idx] || len > attr_max_len[idx])
		return false;
	switch (idx) {
	case SN_STUN_A_MAPPED_ADDRESS:
	case SN_STUN_A_XOR_PEER_ADDRESS:
	case SN_STUN_A_XOR_RELAYED_ADDRESS:
	case SN_STUN_A_XOR_MAPPED_ADDRESS:
	case SN_STUN_A_ALTERNATE_SERVER:
		return len == 8 || len == 20;
	case SN_STUN_A_MESSAGE_INTEGRITY_SHA256:
		return (len & 3) == 0;
	case SN_STUN_A_UNKNOWN_ATTRIBUTES:
		return (len & 1) == 0;
	default:
		return true;
	}
}

enum sn_stun_result sn_stun_check_header(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t body;

	if (len < SN_STUN_HEADER_LEN)
		return SN_STUN_TRUNCATED;
	if (p[0] & 0xc0)
		return SN_STUN_NOT_STUN;
	if (rd32(p + 4) != SN_STUN_MAGIC_COOKIE)
		return SN_STUN_BAD_COOKIE;
	body = rd16(p + 2);
	if (body & 3)
		return SN_STUN_LENGTH_ALIGN;
	if (body != len - SN_STUN_HEADER_LEN)
		return SN_STUN_LENGTH_MISMATCH;
	return SN_STUN_OK;
}

static void note_unknown(struct sn_stun_msg *m, uint16_t type)
{
	unsigned i;

	for (i = 0; i < m->n_unknown; i++)
		if (m->unknown[i] == type)
			return;
	if (m->n_unknown < SN_STUN_MAX_UNKNOWN)
		m->unknown[m->n_unknown++] = type;
	else
		m->unknown_overflow = true;
}

/* Which attributes still count once an integrity attribute has been seen (RFC 8489 §14.5,
 * §14.6): after MESSAGE-INTEGRITY only MESSAGE-INTEGRITY-SHA256 and FINGERPRINT, after
 * MESSAGE-INTEGRITY-SHA256 only FINGERPRINT. */
enum parse_stage {
	STAGE_CONTENT,
	STAGE_AFTER_MI,
	STAGE_AFTER_MI256,
};

static bool counts_after_integrity(enum parse_stage stage, int idx)
{
	if (idx == SN_STUN_A_FINGERPRINT)
		return true;
	return stage == STAGE_AFTER_MI && idx == SN_STUN_A_MESSAGE_INTEGRITY_SHA256;
}

enum sn_stun_result sn_stun_parse(const void *buf, size_t len, struct sn_stun_msg *m)
{
	const uint8_t *p = buf;
	const uint8_t *body = p + SN_STUN_HEADER_LEN;
	enum parse_stage stage = STAGE_CONTENT;
	enum sn_stun_result r;
	uint32_t off = 0, blen, closing;

	memset(m, 0, sizeof(*m));
	m->buf = p;
	r = sn_stun_check_header(p, len);
	if (r != SN_STUN_OK)
		goto out;
	m->len = (uint32_t)len;
	m->type = rd16(p);
	m->method = (uint16_t)sn_stun_type_method(m->type);
	m->cls = (uint8_t)sn_stun_type_class(m->type);
	blen = (uint32_t)len - SN_STUN_HEADER_LEN;
	closing = blen;

	/* off and blen are multiples of 4, so an attribute header always fits when off < blen,
	 * and a value that fits brings its padding with it. */
	while (off < blen) {
		uint16_t type = rd16(body + off);
		uint16_t alen = rd16(body + off + 2);
		uint32_t at = off;
		int idx;

		if (m->attr[SN_STUN_A_FINGERPRINT].off) {
			m->bad_type = type;
			r = SN_STUN_FINGERPRINT_NOT_LAST;
			goto out;
		}
		if (4u + alen > blen - off) {
			m->bad_type = type;
			r = SN_STUN_ATTR_TRUNCATED;
			goto out;
		}
		off += 4u + alen + (uint32_t)sn_stun_pad(alen);
		m->n_attrs++;
		idx = sn_stun_attr_index(type);
		if (stage != STAGE_CONTENT && !counts_after_integrity(stage, idx)) {
			m->n_ignored++;
			continue;
		}
		if (idx < 0) {
			if (!(type & 0x8000))
				note_unknown(m, type);
			continue;
		}
		if (!attr_len_ok(idx, alen)) {
			m->bad_type = type;
			r = SN_STUN_ATTR_LENGTH;
			goto out;
		}
		if (m->attr[idx].off) {
			m->n_duplicates++;
			continue;
		}
		m->attr[idx].off = (uint16_t)(at + 4);
		m->attr[idx].len = alen;
		if (idx == SN_STUN_A_MESSAGE_INTEGRITY ||
		    idx == SN_STUN_A_MESSAGE_INTEGRITY_SHA256 || idx == SN_STUN_A_FINGERPRINT) {
			if (at < closing)
				closing = at;
		}
		if (idx == SN_STUN_A_MESSAGE_INTEGRITY)
			stage = STAGE_AFTER_MI;
		else if (idx == SN_STUN_A_MESSAGE_INTEGRITY_SHA256)
			stage = STAGE_AFTER_MI256;
	}
	/* Only a fully walked message may be iterated by sn_stun_find_next(). */
	m->content_end = (uint16_t)closing;
out:
	return r;
}

bool sn_stun_find_next(const struct sn_stun_msg *m, uint16_t type, uint32_t *cursor,
		       const uint8_t **val, uint16_t *len)
{
	const uint8_t *body = m->buf + SN_STUN_HEADER_LEN;
	uint32_t off = *cursor;

	while (off < m->content_end) {
		uint16_t t = rd16(body + off);
		uint16_t l = rd16(body + off + 2);
		uint32_t at = off;

		off += 4u + l + (uint32_t)sn_stun_pad(l);
		if (t == type) {
			*val = body + at + 4;
			*len = l;
			*cursor = off;
			return true;
		}
	}
	*cursor = off;
	*val = NULL;
	*len = 0;
	return false;
}

uint32_t sn_stun_get_u32(const struct sn_stun_msg *m, enum sn_stun_attr_idx idx)
{
	uint16_t len;
	const uint8_t *v = sn_stun_get(m, idx, &len);

	return v && len >= 4 ? rd32(v) : 0;
}

/* --- addresses --- */

/* XOR mask of address bytes: the magic cookie, then the transaction id (RFC 8489 §14.2). */
static void xor_address(uint8_t *addr, size_t n, const uint8_t tid[SN_STUN_TID_LEN])
{
	static const uint8_t cookie[4] = {0x21, 0x12, 0xa4, 0x42};
	size_t i;

	for (i = 0; i < n && i < 4; i++)
		addr[i] ^= cookie[i];
	for (; i < n; i++)
		addr[i] ^= tid[i - 4];
}

int sn_stun_addr_decode(const uint8_t *val, size_t len, struct sn_stun_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (len < 4)
		return -EINVAL;
	switch (val[1]) {
	case SN_STUN_FAMILY_IPV4:
		if (len != 8)
			return -EINVAL;
		out->family = AF_INET;
		memcpy(out->addr, val + 4, 4);
		break;
	case SN_STUN_FAMILY_IPV6:
		if (len != 20)
			return -EINVAL;
		out->family = AF_INET6;
		memcpy(out->addr, val + 4, 16);
		break;
	default:
		return -EAFNOSUPPORT;
	}
	memcpy(&out->port, val + 2, 2);
	return 0;
}

int sn_stun_xor_addr_decode(const uint8_t *val, size_t len, const uint8_t tid[SN_STUN_TID_LEN],
			    struct sn_stun_addr *out)
{
	uint8_t *port = (uint8_t *)&out->port;
	int rc = sn_stun_addr_decode(val, len, out);

	if (rc < 0)
		return rc;
	port[0] ^= 0x21;
	port[1] ^= 0x12;
	xor_address(out->addr, out->family == AF_INET ? 4 : 16, tid);
	return 0;
}

int sn_stun_addr_encode(uint8_t *out, const struct sn_stun_addr *a)
{
	out[0] = 0;
	memcpy(out + 2, &a->port, 2);
	switch (a->family) {
	case AF_INET:
		out[1] = SN_STUN_FAMILY_IPV4;
		memcpy(out + 4, a->addr, 4);
		return 8;
	case AF_INET6:
		out[1] = SN_STUN_FAMILY_IPV6;
		memcpy(out + 4, a->addr, 16);
		return 20;
	default:
		return -EAFNOSUPPORT;
	}
}

int sn_stun_xor_addr_encode(uint8_t *out, const struct sn_stun_addr *a,
			    const uint8_t tid[SN_STUN_TID_LEN])
{
	int n = sn_stun_addr_encode(out, a);

	if (n < 0)
		return n;
	out[2] ^= 0x21;
	out[3] ^= 0x12;
	xor_address(out + 4, (size_t)n - 4, tid);
	return n;
}

/* --- ERROR-CODE --- */

const char *sn_stun_error_reason(unsigned code)
{
	switch (code) {
	case SN_STUN_ERR_TRY_ALTERNATE:
		return "Try Alternate";
	case SN_STUN_ERR_BAD_REQUEST:
		return "Bad Request";
	case SN_STUN_ERR_UNAUTHENTICATED:
		return "Unauthenticated";
	case SN_STUN_ERR_FORBIDDEN:
		return "Forbidden";
	case SN_STUN_ERR_UNKNOWN_ATTRIBUTE:
		return "Unknown Attribute";
	case SN_STUN_ERR_ALLOCATION_MISMATCH:
		return "Allocation Mismatch";
	case SN_STUN_ERR_STALE_NONCE:
		return "Stale Nonce";
	case SN_STUN_ERR_ADDRESS_FAMILY:
		return "Address Family not Supported";
	case SN_STUN_ERR_WRONG_CREDENTIALS:
		return "Wrong Credentials";
	case SN_STUN_ERR_UNSUPPORTED_TRANSPORT:
		return "Unsupported Transport Protocol";
	case SN_STUN_ERR_PEER_ADDRESS_FAMILY:
		return "Peer Address Family Mismatch";
	case SN_STUN_ERR_ALLOCATION_QUOTA:
		return "Allocation Quota Reached";
	case SN_STUN_ERR_SERVER_ERROR:
		return "Server Error";
	case SN_STUN_ERR_INSUFFICIENT_CAPACITY:
		return "Insufficient Capacity";
	default:
		return "";
	}
}

int sn_stun_error_decode(const uint8_t *val, size_t len, unsigned *code, const char **reason,
			 size_t *reason_len)
{
	unsigned cls, number;

	if (len < 4)
		return -EINVAL;
	cls = val[2] & 0x07;
	number = val[3];
	if (cls < 3 || cls > 6 || number > 99)
		return -EINVAL;
	*code = cls * 100 + number;
	*reason = (const char *)val + 4;
	*reason_len = len - 4;
	return 0;
}

/* --- HMAC and digests (libcrypto) --- */

static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;
static EVP_MAC *hmac_alg;

/* Fetching an algorithm takes the provider store's lock; do it once per process. The
 * EVP_MAC object is shared and immutable, contexts are per call. */
static void hmac_fetch(void)
{
	hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

static char digest_sha1[] = "SHA1";
static char digest_sha256[] = "SHA256";

/* HMAC of a || b. The two parts let a check hash a patched copy of the header followed by
 * the received bytes without copying the message. Returns the MAC length or -errno. */
static int hmac2(char *digest, const uint8_t *key, size_t key_len, const uint8_t *a, size_t a_len,
		 const uint8_t *b, size_t b_len, uint8_t *out, size_t out_size)
{
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	size_t n = 0;
	int ret = -EIO;

	if (!key_len) {
		ret = -EINVAL;
		goto out;
	}
	pthread_once(&hmac_once, hmac_fetch);
	if (!hmac_alg)
		goto out;
	ctx = EVP_MAC_CTX_new(hmac_alg);
	if (!ctx) {
		ret = -ENOMEM;
		goto out;
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(ctx, key, key_len, params) != 1 || EVP_MAC_update(ctx, a, a_len) != 1)
		goto out;
	if (b_len && EVP_MAC_update(ctx, b, b_len) != 1)
		goto out;
	if (EVP_MAC_final(ctx, out, &n, out_size) != 1)
		goto out;
	ret = (int)n;
out:
	EVP_MAC_CTX_free(ctx);
	return ret;
}

static enum sn_stun_result check_mi(const struct sn_stun_msg *m, enum sn_stun_attr_idx idx,
				    char *digest, const uint8_t *key, size_t key_len)
{
	const struct sn_stun_attr_ref *a = &m->attr[idx];
	enum sn_stun_result r = SN_STUN_INTEGRITY_MISMATCH;
	uint8_t hdr[SN_STUN_HEADER_LEN];
	uint8_t mac[SN_STUN_HMAC_SHA256_LEN];
	uint32_t at;

	if (!a->off) {
		r = SN_STUN_INTEGRITY_MISSING;
		goto out;
	}
	/* The MAC covers everything before the attribute, with the length field counting up to
	 * the end of the attribute itself: what the sender had when it computed the MAC. The
	 * parser guarantees a->len is 20 (SHA-1) or 16..32 in steps of 4, so no padding. */
	at = a->off - 4u;
	memcpy(hdr, m->buf, sizeof(hdr));
	wr16(hdr + 2, (uint16_t)(a->off + a->len));
	if (hmac2(digest, key, key_len, hdr, sizeof(hdr), m->buf + SN_STUN_HEADER_LEN, at, mac,
		  sizeof(mac)) < (int)a->len)
		goto out;
	if (CRYPTO_memcmp(mac, m->buf + SN_STUN_HEADER_LEN + a->off, a->len) == 0)
		r = SN_STUN_OK;
out:
	return r;
}

enum sn_stun_result sn_stun_check_mi_sha1(const struct sn_stun_msg *m, const uint8_t *key,
					  size_t key_len)
{
	return check_mi(m, SN_STUN_A_MESSAGE_INTEGRITY, digest_sha1, key, key_len);
}

enum sn_stun_result sn_stun_check_mi_sha256(const struct sn_stun_msg *m, const uint8_t *key,
					    size_t key_len)
{
	return check_mi(m, SN_STUN_A_MESSAGE_INTEGRITY_SHA256, digest_sha256, key, key_len);
}

enum sn_stun_result sn_stun_check_integrity(const struct sn_stun_msg *m, const uint8_t *key,
					    size_t key_len)
{
	if (sn_stun_has(m, SN_STUN_A_MESSAGE_INTEGRITY_SHA256))
		return sn_stun_check_mi_sha256(m, key, key_len);
	return sn_stun_check_mi_sha1(m, key, key_len);
}

enum sn_stun_result sn_stun_check_fingerprint(const struct sn_stun_msg *m)
{
	const struct sn_stun_attr_ref *a = &m->attr[SN_STUN_A_FINGERPRINT];
	uint32_t crc;

	if (!a->off)
		return SN_STUN_OK;
	/* FINGERPRINT is last (the parser enforces it), so the length field already counts it
	 * and the CRC runs over the received bytes as they are. */
	crc = sn_crc32(0, m->buf, SN_STUN_HEADER_LEN + a->off - 4u);
	if ((crc ^ SN_STUN_FINGERPRINT_XOR) != rd32(m->buf + SN_STUN_HEADER_LEN + a->off))
		return SN_STUN_FINGERPRINT_MISMATCH;
	return SN_STUN_OK;
}

/* Digest of the concatenated parts into out; returns the digest length or -EIO. */
static int digest_parts(const EVP_MD *md, const void *const *parts, const size_t *lens, size_t n,
			uint8_t *out)
{
	EVP_MD_CTX *ctx = NULL;
	unsigned int out_len = 0;
	int ret = -EIO;
	size_t i;

	if (!md)
		goto out;
	ctx = EVP_MD_CTX_new();
	if (!ctx) {
		ret = -ENOMEM;
		goto out;
	}
	if (EVP_DigestInit_ex(ctx, md, NULL) != 1)
		goto out;
	for (i = 0; i < n; i++)
		if (lens[i] && EVP_DigestUpdate(ctx, parts[i], lens[i]) != 1)
			goto out;
	if (EVP_DigestFinal_ex(ctx, out, &out_len) != 1)
		goto out;
	ret = (int)out_len;
out:
	EVP_MD_CTX_free(ctx);
	return ret;
}

int sn_stun_long_term_key(enum sn_stun_password_alg alg, const char *user, size_t user_len,
			  const char *realm, size_t realm_len, const char *pass, size_t pass_len,
			  uint8_t key[32])
{
	const void *parts[5] = {user, ":", realm, ":", pass};
	const size_t lens[5] = {user_len, 1, realm_len, 1, pass_len};

	switch (alg) {
	case SN_STUN_PASSWORD_MD5:
		return digest_parts(EVP_md5(), parts, lens, 5, key);
	case SN_STUN_PASSWORD_SHA256:
		return digest_parts(EVP_sha256(), parts, lens, 5, key);
	default:
		return -EINVAL;
	}
}

int sn_stun_userhash(const char *user, size_t user_len, const char *realm, size_t realm_len,
		     uint8_t out[32])
{
	const void *parts[3] = {user, ":", realm};
	const size_t lens[3] = {user_len, 1, realm_len};
	int rc = digest_parts(EVP_sha256(), parts, lens, 3, out);

	return rc == 32 ? 0 : -EIO;
}

/* --- builder --- */

/* Writer state bits: which closing attributes are in, for the ordering rules. */
#define W_MI	(1u << 0)
#define W_MI256 (1u << 1)
#define W_FP	(1u << 2)

static int writer_fail(struct sn_stun_writer *w, int err)
{
	if (!w->err)
		w->err = err;
	return w->err;
}

void sn_stun_writer_init(struct sn_stun_writer *w, void *buf, size_t cap, unsigned method,
			 unsigned cls, const uint8_t tid[SN_STUN_TID_LEN])
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->err = 0;
	w->state = 0;
	if (cap < SN_STUN_HEADER_LEN) {
		w->err = -ENOSPC;
		return;
	}
	wr16(w->buf, sn_stun_type(method, cls));
	wr16(w->buf + 2, 0);
	wr32(w->buf + 4, SN_STUN_MAGIC_COOKIE);
	memmove(w->buf + 8, tid, SN_STUN_TID_LEN);
	w->len = SN_STUN_HEADER_LEN;
}

/* Room for one attribute: writes its header and padding, updates the length field and
 * returns where the value goes (NULL on error, recorded in w->err). */
static uint8_t *writer_reserve(struct sn_stun_writer *w, uint16_t type, size_t len)
{
	size_t span;
	uint8_t *p;

	if (w->err)
		return NULL;
	if (len > 0xffff) {
		writer_fail(w, -EMSGSIZE);
		return NULL;
	}
	span = 4 + len + sn_stun_pad(len);
	if (w->len - SN_STUN_HEADER_LEN + span > SN_STUN_MAX_BODY) {
		writer_fail(w, -EMSGSIZE);
		return NULL;
	}
	if (span > w->cap - w->len) {
		writer_fail(w, -ENOSPC);
		return NULL;
	}
	p = w->buf + w->len;
	wr16(p, type);
	wr16(p + 2, (uint16_t)len);
	memset(p + 4 + len, 0, sn_stun_pad(len));
	w->len += span;
	wr16(w->buf + 2, (uint16_t)(w->len - SN_STUN_HEADER_LEN));
	return p + 4;
}

/* An ordinary attribute: only before any integrity or fingerprint attribute. */
static uint8_t *writer_open(struct sn_stun_writer *w, uint16_t type, size_t len)
{
	if (w->err)
		return NULL;
	if (w->state) {
		writer_fail(w, -EINVAL);
		return NULL;
	}
	return writer_reserve(w, type, len);
}

int sn_stun_put_attr(struct sn_stun_writer *w, uint16_t type, const void *val, size_t len)
{
	uint8_t *v = writer_open(w, type, len);

	if (!v)
		return w->err;
	/* memmove: a value may come from the same buffer, e.g. a message rebuilt in place. */
	if (len)
		memmove(v, val, len);
	return 0;
}

int sn_stun_put_u32(struct sn_stun_writer *w, uint16_t type, uint32_t host_value)
{
	uint8_t v[4];

	wr32(v, host_value);
	return sn_stun_put_attr(w, type, v, sizeof(v));
}

int sn_stun_put_addr(struct sn_stun_writer *w, uint16_t type, const struct sn_stun_addr *a)
{
	uint8_t v[20];
	int n;

	if (w->err)
		return w->err;
	n = sn_stun_addr_encode(v, a);
	if (n < 0)
		return writer_fail(w, n);
	return sn_stun_put_attr(w, type, v, (size_t)n);
}

int sn_stun_put_xor_addr(struct sn_stun_writer *w, uint16_t type, const struct sn_stun_addr *a)
{
	uint8_t v[20];
	int n;

	if (w->err)
		return w->err;
	n = sn_stun_xor_addr_encode(v, a, w->buf + 8);
	if (n < 0)
		return writer_fail(w, n);
	return sn_stun_put_attr(w, type, v, (size_t)n);
}

int sn_stun_put_error(struct sn_stun_writer *w, unsigned code, const char *reason)
{
	size_t rlen;
	uint8_t *v;

	if (w->err)
		return w->err;
	if (code < 300 || code > 699)
		return writer_fail(w, -EINVAL);
	if (!reason)
		reason = sn_stun_error_reason(code);
	rlen = strlen(reason);
	if (rlen > 763)
		return writer_fail(w, -EINVAL);
	v = writer_open(w, SN_STUN_ATTR_ERROR_CODE, 4 + rlen);
	if (!v)
		return w->err;
	v[0] = 0;
	v[1] = 0;
	v[2] = (uint8_t)(code / 100);
	v[3] = (uint8_t)(code % 100);
	memcpy(v + 4, reason, rlen);
	return 0;
}

int sn_stun_put_unknown(struct sn_stun_writer *w, const uint16_t *types, size_t n)
{
	uint8_t *v;
	size_t i;

	if (n > 0x7fff)
		return writer_fail(w, -EMSGSIZE);
	v = writer_open(w, SN_STUN_ATTR_UNKNOWN_ATTRIBUTES, 2 * n);
	if (!v)
		return w->err;
	for (i = 0; i < n; i++)
		wr16(v + 2 * i, types[i]);
	return 0;
}

static int put_mi(struct sn_stun_writer *w, uint16_t type, size_t mac_len, char *digest,
		  unsigned forbidden, unsigned bit, const uint8_t *key, size_t key_len)
{
	uint8_t *v;
	int rc;

	if (w->err)
		return w->err;
	if ((w->state & forbidden) || !key || !key_len)
		return writer_fail(w, -EINVAL);
	v = writer_reserve(w, type, mac_len);
	if (!v)
		return w->err;
	/* writer_reserve already set the length field to include this attribute. */
	rc = hmac2(digest, key, key_len, w->buf, (size_t)(v - 4 - w->buf), NULL, 0, v, mac_len);
	if (rc != (int)mac_len)
		return writer_fail(w, rc < 0 ? rc : -EIO);
	w->state |= bit;
	return 0;
}

int sn_stun_put_integrity(struct sn_stun_writer *w, const uint8_t *key, size_t key_len)
{
	return put_mi(w, SN_STUN_ATTR_MESSAGE_INTEGRITY, SN_STUN_HMAC_SHA1_LEN, digest_sha1,
		      W_MI | W_MI256 | W_FP, W_MI, key, key_len);
}

int sn_stun_put_integrity_sha256(struct sn_stun_writer *w, const uint8_t *key, size_t key_len)
{
	return put_mi(w, SN_STUN_ATTR_MESSAGE_INTEGRITY_SHA256, SN_STUN_HMAC_SHA256_LEN,
		      digest_sha256, W_MI256 | W_FP, W_MI256, key, key_len);
}

int sn_stun_put_fingerprint(struct sn_stun_writer *w)
{
	uint8_t *v;
	uint32_t crc;

	if (w->err)
		return w->err;
	if (w->state & W_FP)
		return writer_fail(w, -EINVAL);
	v = writer_reserve(w, SN_STUN_ATTR_FINGERPRINT, 4);
	if (!v)
		return w->err;
	crc = sn_crc32(0, w->buf, (size_t)(v - 4 - w->buf));
	wr32(v, crc ^ SN_STUN_FINGERPRINT_XOR);
	w->state |= W_FP;
	return 0;
}

int sn_stun_writer_finish(struct sn_stun_writer *w, unsigned flags, const uint8_t *key,
			  size_t key_len)
{
	if (flags & SN_STUN_FINISH_INTEGRITY)
		sn_stun_put_integrity(w, key, key_len);
	if (flags & SN_STUN_FINISH_INTEGRITY_SHA256)
		sn_stun_put_integrity_sha256(w, key, key_len);
	if (flags & SN_STUN_FINISH_FINGERPRINT)
		sn_stun_put_fingerprint(w);
	return w->err ? w->err : (int)w->len;
}

int sn_stun_data_indication_prefix(uint8_t *out, size_t cap, const uint8_t tid[SN_STUN_TID_LEN],
				   const struct sn_stun_addr *peer, size_t data_len)
{
	uint8_t addr[20];
	size_t prefix, body;
	int alen;

	alen = sn_stun_xor_addr_encode(addr, peer, tid);
	if (alen < 0)
		return alen;
	prefix = SN_STUN_HEADER_LEN + 4 + (size_t)alen + 4;
	if (data_len > 0xffff)
		return -EMSGSIZE;
	body = prefix - SN_STUN_HEADER_LEN + data_len + sn_stun_pad(data_len);
	if (body > SN_STUN_MAX_BODY)
		return -EMSGSIZE;
	if (cap < prefix)
		return -ENOSPC;
	wr16(out, sn_stun_type(SN_STUN_METHOD_DATA, SN_STUN_CLASS_INDICATION));
	wr16(out + 2, (uint16_t)body);
	wr32(out + 4, SN_STUN_MAGIC_COOKIE);
	memcpy(out + 8, tid, SN_STUN_TID_LEN);
	wr16(out + 20, SN_STUN_ATTR_XOR_PEER_ADDRESS);
	wr16(out + 22, (uint16_t)alen);
	memcpy(out + 24, addr, (size_t)alen);
	wr16(out + 24 + alen, SN_STUN_ATTR_DATA);
	wr16(out + 26 + alen, (uint16_t)data_len);
	return (int)prefix;
}
