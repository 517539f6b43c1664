#include "turn_policy.h"

#include <arpa/inet.h>
#include <string.h>

const char *const ctl_peer_verdict_names[CTL_PEER_VERDICT_MAX] = {
#define CTL_X(name, label) [CTL_PEER_##name] = label,
    CTL_PEER_VERDICTS(CTL_X)
#undef CTL_X
};

/* A default range: family, prefix, length, verdict. Longest match wins (the tables are
 * searched whole), so 255.255.255.255/32 says broadcast inside 240/4. */
struct range {
	uint8_t len;
	uint8_t verdict;
	uint8_t addr[16];
};

#define V4(a, b, c, d, l, v)                                                                       \
	{                                                                                          \
		l, CTL_PEER_##v,                                                                   \
		{                                                                                  \
			a, b, c, d                                                                 \
		}                                                                                  \
	}
static const struct range v4_ranges[] = {
    V4(0, 0, 0, 0, 8, UNSPECIFIED),	    V4(10, 0, 0, 0, 8, PRIVATE),
    V4(100, 64, 0, 0, 10, SHARED),	    V4(127, 0, 0, 0, 8, LOOPBACK),
    V4(169, 254, 0, 0, 16, LINK_LOCAL),	    V4(172, 16, 0, 0, 12, PRIVATE),
    V4(192, 0, 0, 0, 24, SPECIAL),	    V4(192, 0, 2, 0, 24, DOCUMENTATION),
    V4(192, 168, 0, 0, 16, PRIVATE),	    V4(198, 18, 0, 0, 15, BENCHMARKING),
    V4(198, 51, 100, 0, 24, DOCUMENTATION), V4(203, 0, 113, 0, 24, DOCUMENTATION),
    V4(224, 0, 0, 0, 4, MULTICAST),	    V4(240, 0, 0, 0, 4, RESERVED),
    V4(255, 255, 255, 255, 32, BROADCAST),
};
#undef V4

/* Embedded IPv4 ranges are marked with these pseudo-verdicts, resolved in code. */
#define EMBED_NAT64 0xfe
#define EMBED_6TO4  0xfd

static const struct range v6_ranges[] = {
    {128, CTL_PEER_UNSPECIFIED, {0}},
    {128, CTL_PEER_LOOPBACK, {[15] = 1}},
    {96, CTL_PEER_IPV4_COMPATIBLE, {0}},
    {96, CTL_PEER_IPV4_MAPPED, {[10] = 0xff, [11] = 0xff}},
    {96, EMBED_NAT64, {0x00, 0x64, 0xff, 0x9b}},
    {48, CTL_PEER_SPECIAL, {0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}},
    {64, CTL_PEER_SPECIAL, {0x01, 0x00}},
    {48, CTL_PEER_BENCHMARKING, {0x20, 0x01, 0x00, 0x02}},
    {32, CTL_PEER_DOCUMENTATION, {0x20, 0x01, 0x0d, 0xb8}},
    {16, EMBED_6TO4, {0x20, 0x02}},
    {20, CTL_PEER_DOCUMENTATION, {0x3f, 0xff}},
    {7, CTL_PEER_PRIVATE, {0xfc}},
    {10, CTL_PEER_LINK_LOCAL, {0xfe, 0x80}},
    {10, CTL_PEER_SPECIAL, {0xfe, 0xc0}},
    {8, CTL_PEER_MULTICAST, {0xff}},
};

static int prefix_match(const uint8_t *a, const uint8_t *b, unsigned len)
{
	unsigned full = len / 8, rest = len % 8;

	if (memcmp(a, b, full))
		return 0;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff00u >> rest);

		if ((a[full] ^ b[full]) & mask)
			return 0;
	}
	return 1;
}

int ctl_cidr_contains(const struct sn_cidr *c, uint8_t family, const uint8_t *addr)
{
	if (c->family != family || c->len > (family == AF_INET ? 32 : 128))
		return 0;
	return prefix_match(c->addr, addr, c->len);
}

/* Longest operator match: 1 allowed, -1 denied, 0 none. */
static int operator_match(const struct ctl_turn_policy *p, uint8_t family, const uint8_t *addr)
{
	int best_len = -1, verdict = 0;

	if (!p)
		return 0;
	for (int i = 0; i < p->n_allow; i++)
		if (ctl_cidr_contains(&p->allow[i], family, addr) && p->allow[i].len > best_len) {
			best_len = p->allow[i].len;
			verdict = 1;
		}
	for (int i = 0; i < p->n_deny; i++)
		if (ctl_cidr_contains(&p->deny[i], family, addr) && p->deny[i].len >= best_len) {
			best_len = p->deny[i].len;
			verdict = -1;
		}
	return verdict;
}

static const struct range *default_match(const struct range *r, size_t n, const uint8_t *addr)
{
	const struct range *best = NULL;

	for (size_t i = 0; i < n; i++)
		if (prefix_match(r[i].addr, addr, r[i].len) && (!best || r[i].len > best->len))
			best = &r[i];
	return best;
}

enum ctl_peer_verdict ctl_turn_peer_check(const struct ctl_turn_policy *p, uint8_t family,
					  const uint8_t *addr)
{
	const struct range *r;
	uint8_t v4[4];
	int op;

	if (family != AF_INET && family != AF_INET6)
		return CTL_PEER_BAD_FAMILY;
	op = operator_match(p, family, addr);
	if (op)
		return op > 0 ? CTL_PEER_OPERATOR_ALLOWED : CTL_PEER_OPERATOR_DENIED;
	if (family == AF_INET) {
		r = default_match(v4_ranges, sizeof(v4_ranges) / sizeof(v4_ranges[0]), addr);
		return r ? (enum ctl_peer_verdict)r->verdict : CTL_PEER_ALLOWED;
	}
	r = default_match(v6_ranges, sizeof(v6_ranges) / sizeof(v6_ranges[0]), addr);
	if (!r)
		return CTL_PEER_ALLOWED;
	if (r->verdict == EMBED_NAT64) {
		memcpy(v4, addr + 12, 4); /* RFC 6052 /96: the last 32 bits */
		return ctl_turn_peer_check(p, AF_INET, v4);
	}
	if (r->verdict == EMBED_6TO4) {
		memcpy(v4, addr + 2, 4); /* RFC 3056: bits 16..47 */
		return ctl_turn_peer_check(p, AF_INET, v4);
	}
	return (enum ctl_peer_verdict)r->verdict;
}
