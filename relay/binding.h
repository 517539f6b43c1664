/* binding.h: the fast-path answer to a STUN Binding request, as one pure function.
 *
 * Given a request and the client's transport address, writes the Binding success response
 * (XOR-MAPPED-ADDRESS, FINGERPRINT, optionally SOFTWARE), or 400 for a malformed request, or
 * 420 with UNKNOWN-ATTRIBUTES for unknown comprehension-required attributes (RFC 8489
 * §6.3.1, §7.3.1). Indications (keepalives) get no answer; anything else is classified so
 * the caller can count it or hand it to control (other methods). No allocation, no crypto:
 * integrity attributes in a Binding request are not verified, because the server holds no
 * short-term credential; as coturn does, the answer is unauthenticated.
 *
 * Response size versus request size. RFC 8489 answers every Binding request; the response
 * is larger than a minimal request: 20 + 12 (XOR-MAPPED-ADDRESS, IPv4) + 8 (FINGERPRINT) =
 * 40 bytes, 52 for IPv6, 32/44 without FINGERPRINT. The design's rule "never a response
 * larger than its request to an unauthenticated sender" is SN_BINDING_F_STRICT_SIZE: with
 * it, a request shorter than its answer gets none (result TOO_LARGE, to be counted). What
 * real clients send (coturn captured on loopback; browsers read from their sources):
 *   - Chrome/libwebrtc (UDPPort's StunBindingRequest, also sent to every UDP TURN server,
 *     which libwebrtc uses as a STUN server too): the 20-byte header, no attribute;
 *   - Firefox/nICEr (nr_stun_build_req_no_auth): header + FINGERPRINT = 28 bytes;
 *   - coturn 4.6 turnutils_stunclient: 20 bytes, no attribute. Only when the answer
 *     carries OTHER-ADDRESS (or with -f) does it go on with RFC 5780 probes of 36 bytes
 *     (RESPONSE-PORT, CHANGE-REQUEST) and 1532 bytes (CHANGE-REQUEST + 1500 bytes of
 *     PADDING); both get 420 here, which with -f it does not handle (it waits);
 *   - ICE connectivity checks (USERNAME, PRIORITY, ICE-CONTROLLING, MESSAGE-INTEGRITY,
 *     FINGERPRINT; ~100 bytes) go peer to peer, not to the server.
 * No client pads its Binding request, so under the strict rule none of them gets a
 * server-reflexive address from the relay (TURN allocations are unaffected). For
 * comparison coturn answers the 20-byte request with 100 bytes (IPv4; 148 for IPv6:
 * XOR-MAPPED-ADDRESS, MAPPED-ADDRESS, RESPONSE-ORIGIN, OTHER-ADDRESS, SOFTWARE,
 * FINGERPRINT). The amplification of this answer is bounded (at most 52/20 = 2.6x; 32/20 =
 * 1.6x against Chrome with SN_BINDING_F_FINGERPRINT_IF_ASKED) and the per-source policer
 * bounds its rate, so the strict rule is an operator choice, off unless flagged.
 * TURN error answers to unauthenticated requests are control's business and follow the
 * strict rule there. */
#ifndef SN_BINDING_H
#define SN_BINDING_H

#include <stddef.h>
#include <stdint.h>

#include "stun.h"

/* Add SOFTWARE with the configured text. */
#define SN_BINDING_F_SOFTWARE (1u << 0)
/* Never answer with more bytes than the request had (drop instead, result TOO_LARGE). */
#define SN_BINDING_F_STRICT_SIZE (1u << 1)
/* Add FINGERPRINT only when the request carried one (default: always, as the design says). */
#define SN_BINDING_F_FINGERPRINT_IF_ASKED (1u << 2)

struct sn_binding_config {
	uint32_t flags;	       /* SN_BINDING_F_* */
	uint16_t software_len; /* bytes of software (at most 763) */
	const char *software;  /* SOFTWARE text, used with SN_BINDING_F_SOFTWARE */
};

/* Outcome of one request; label = metric reason. The first three wrote an answer. */
#define SN_BINDING_RESULTS(X)                                                                      \
	X(SUCCESS, "binding_success")			  /* answered: success response */         \
	X(BAD_REQUEST, "binding_bad_request")		  /* answered: 400 */                      \
	X(UNKNOWN_ATTRIBUTE, "binding_unknown_attribute") /* answered: 420 */                      \
	X(INDICATION, "binding_indication")   /* Binding indication (keepalive): no answer */      \
	X(NOT_STUN, "binding_not_stun")	      /* header is not STUN: *why says why */              \
	X(NOT_BINDING, "binding_not_binding") /* valid STUN header, other method: not ours */      \
	X(NOT_REQUEST, "binding_not_request") /* a response class sent to the server */            \
	X(MALFORMED, "binding_malformed")     /* bad attributes in an indication: dropped */       \
	X(FINGERPRINT, "binding_fingerprint") /* FINGERPRINT wrong: not STUN (RFC 8489 §7.3) */   \
	X(TOO_LARGE, "binding_too_large")     /* strict size rule: answer > request, dropped */    \
	X(NO_ROOM, "binding_no_room")	      /* output buffer too small */                        \
	X(INTERNAL, "binding_internal")	      /* caller error: client family not IPv4/IPv6 */

/* clang-format off */
enum sn_binding_result {
#define SN_X(name, label) SN_BINDING_##name,
	SN_BINDING_RESULTS(SN_X)
#undef SN_X
	SN_BINDING_RESULT_MAX
};
/* clang-format on */
extern const char *const sn_binding_result_names[SN_BINDING_RESULT_MAX];

static inline int sn_binding_answered(enum sn_binding_result r)
{
	return r <= SN_BINDING_UNKNOWN_ATTRIBUTE;
}

/* Largest answer: 420 with a full UNKNOWN-ATTRIBUTES list, 763 bytes of SOFTWARE and
 * FINGERPRINT. An output buffer this large never yields NO_ROOM. */
#define SN_BINDING_MAX_ANSWER                                                                      \
	(SN_STUN_HEADER_LEN + (4 + 4 + 20) + (4 + 2 * SN_STUN_MAX_UNKNOWN) + (4 + 764) + 8)

/* Answers req[0..req_len) from `client` with cfg (NULL: flags 0) (family AF_INET/AF_INET6, port in
 * network order). Writes the answer to out (out_cap bytes) and its length to *out_len (0 when there
 * is no answer). out may be req itself (answer in place, e.g. in the received mbuf) but must not
 * overlap it otherwise. *why, if not NULL, gets the parse or check result behind a drop or
 * an error answer (SN_STUN_OK otherwise). */
enum sn_binding_result sn_binding_answer(const struct sn_binding_config *cfg, const uint8_t *req,
					 size_t req_len, const struct sn_stun_addr *client,
					 uint8_t *out, size_t out_cap, size_t *out_len,
					 enum sn_stun_result *why);

#endif
