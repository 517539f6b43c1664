/* turn_policy.h: which peer addresses a TURN allocation may reach (RFC 8656 §21.2.3: the
 * relay must not become a way into the operator's own networks or a reflector).
 *
 * Default: every address is allowed except the special-purpose ranges below, denied with a
 * class that says why:
 *   IPv4  0.0.0.0/8 unspecified, 10/8 172.16/12 192.168/16 private, 100.64/10 shared (CGNAT),
 *         127/8 loopback, 169.254/16 link-local, 192.0.0/24 IETF protocol assignments,
 *         192.0.2/24 198.51.100/24 203.0.113/24 documentation, 198.18/15 benchmarking,
 *         224/4 multicast, 240/4 reserved, 255.255.255.255 broadcast;
 *   IPv6  :: unspecified, ::1 loopback, ::ffff:0:0/96 IPv4-mapped and ::/96 IPv4-compatible
 *         (whatever IPv4 address they embed: neither is a destination on the wire),
 *         64:ff9b:1::/48 local-use NAT64, 100::/64 discard-only, 2001:2::/48 benchmarking,
 *         2001:db8::/32 and 3fff::/20 documentation, fc00::/7 unique-local (private),
 *         fe80::/10 link-local, fec0::/10 site-local, ff00::/8 multicast;
 *         64:ff9b::/96 (NAT64) and 2002::/16 (6to4) are judged by the IPv4 address they
 *         embed, since a translator or relay delivers them there.
 * Operator lists (turn.allowed_peers, turn.denied_peers) come first: the longest prefix of
 * either list that contains the address decides (denied on a tie); an address neither list
 * covers gets the default. The lists are matched in the address's own family only, so
 * allowing 10.0.0.0/8 does not allow ::ffff:10.0.0.1.
 *
 * Pure functions, no allocation: unit tests and the request path call them directly. */
#ifndef CTL_TURN_POLICY_H
#define CTL_TURN_POLICY_H

#include <stdint.h>

#include "sn_config.h"

/* Verdicts: enum name, label (logs, admin output). */
#define CTL_PEER_VERDICTS(X)                                                                       \
	X(ALLOWED, "allowed")                                                                      \
	X(OPERATOR_ALLOWED, "operator_allowed") /* allowed by turn.allowed_peers */                \
	X(OPERATOR_DENIED, "operator_denied")	/* denied by turn.denied_peers */                  \
	X(UNSPECIFIED, "unspecified")                                                              \
	X(LOOPBACK, "loopback")                                                                    \
	X(PRIVATE, "private")                                                                      \
	X(SHARED, "shared")                                                                        \
	X(LINK_LOCAL, "link_local")                                                                \
	X(SPECIAL, "special")                                                                      \
	X(DOCUMENTATION, "documentation")                                                          \
	X(BENCHMARKING, "benchmarking")                                                            \
	X(MULTICAST, "multicast")                                                                  \
	X(RESERVED, "reserved")                                                                    \
	X(BROADCAST, "broadcast")                                                                  \
	X(IPV4_MAPPED, "ipv4_mapped")                                                              \
	X(IPV4_COMPATIBLE, "ipv4_compatible")                                                      \
	X(BAD_FAMILY, "bad_family")

enum ctl_peer_verdict {
#define CTL_X(name, label) CTL_PEER_##name,
	CTL_PEER_VERDICTS(CTL_X)
#undef CTL_X
	    CTL_PEER_VERDICT_MAX
};
extern const char *const ctl_peer_verdict_names[CTL_PEER_VERDICT_MAX];

static inline int ctl_peer_allowed(enum ctl_peer_verdict v)
{
	return v == CTL_PEER_ALLOWED || v == CTL_PEER_OPERATOR_ALLOWED;
}

/* The operator's lists (pointers into the running config). */
struct ctl_turn_policy {
	const struct sn_cidr *allow;
	int n_allow;
	const struct sn_cidr *deny;
	int n_deny;
};

/* Judges peer address addr (network order; IPv4 in the first 4 bytes) of family AF_INET or
 * AF_INET6. p may be NULL (defaults only). */
enum ctl_peer_verdict ctl_turn_peer_check(const struct ctl_turn_policy *p, uint8_t family,
					  const uint8_t *addr);

/* True when addr lies inside the range. */
int ctl_cidr_contains(const struct sn_cidr *c, uint8_t family, const uint8_t *addr);

#endif
