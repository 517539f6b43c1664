/* binding.c: fast-path STUN Binding answers (see binding.h). */
#include "binding.h"

#include <string.h>
#include <sys/socket.h>

/* clang-format off */
const char *const sn_binding_result_names[SN_BINDING_RESULT_MAX] = {
#define SN_X(name, label) [SN_BINDING_##name] = label,
	SN_BINDING_RESULTS(SN_X)
#undef SN_X
};
/* clang-format on */

static const struct sn_binding_config binding_defaults;

static size_t attr_span(size_t len)
{
	return 4 + len + sn_stun_pad(len);
}

/* Size of the answer before writing it, so that a refused answer leaves out (which may be
 * the request) untouched. Mirrors what sn_binding_answer() writes. */
static size_t answer_size(enum sn_binding_result res, const struct sn_binding_config *cfg,
			  const struct sn_stun_addr *client, unsigned n_unknown, bool fingerprint)
{
	size_t n = SN_STUN_HEADER_LEN;

	switch (res) {
	case SN_BINDING_SUCCESS:
		n += attr_span(client->family == AF_INET ? 8 : 20);
		break;
	case SN_BINDING_BAD_REQUEST:
		n += attr_span(4 + strlen(sn_stun_error_reason(SN_STUN_ERR_BAD_REQUEST)));
		break;
	default:
		n += attr_span(4 + strlen(sn_stun_error_reason(SN_STUN_ERR_UNKNOWN_ATTRIBUTE)));
		n += attr_span(2 * (size_t)n_unknown);
		break;
	}
	if (cfg->flags & SN_BINDING_F_SOFTWARE)
		n += attr_span(cfg->software_len);
	if (fingerprint)
		n += 8;
	return n;
}

enum sn_binding_result sn_binding_answer(const struct sn_binding_config *cfg, const uint8_t *req,
					 size_t req_len, const struct sn_stun_addr *client,
					 uint8_t *out, size_t out_cap, size_t *out_len,
					 enum sn_stun_result *why)
{
	enum sn_stun_result pr;
	enum sn_binding_result res;
	struct sn_stun_writer w;
	struct sn_stun_msg m;
	uint8_t tid[SN_STUN_TID_LEN];
	unsigned type, cls;
	bool fingerprint;
	int len;

	if (!cfg)
		cfg = &binding_defaults;
	*out_len = 0;
	pr = sn_stun_check_header(req, req_len);
	if (pr != SN_STUN_OK) {
		res = SN_BINDING_NOT_STUN;
		goto out;
	}
	/* Method and class first: other methods go to control without an attribute walk. */
	type = (unsigned)(req[0] << 8 | req[1]);
	if (sn_stun_type_method((uint16_t)type) != SN_STUN_METHOD_BINDING) {
		res = SN_BINDING_NOT_BINDING;
		goto out;
	}
	cls = sn_stun_type_class((uint16_t)type);
	if (cls == SN_STUN_CLASS_SUCCESS || cls == SN_STUN_CLASS_ERROR) {
		res = SN_BINDING_NOT_REQUEST;
		goto out;
	}
	pr = sn_stun_parse(req, req_len, &m);
	if (pr != SN_STUN_OK) {
		res = cls == SN_STUN_CLASS_REQUEST ? SN_BINDING_BAD_REQUEST : SN_BINDING_MALFORMED;
	} else {
		pr = sn_stun_check_fingerprint(&m);
		if (pr != SN_STUN_OK)
			res = SN_BINDING_FINGERPRINT;
		else if (cls == SN_STUN_CLASS_INDICATION)
			res = SN_BINDING_INDICATION;
		else if (m.n_unknown) {
			res = SN_BINDING_UNKNOWN_ATTRIBUTE;
			pr = SN_STUN_UNKNOWN_ATTRIBUTE;
		} else {
			res = SN_BINDING_SUCCESS;
		}
	}
	if (!sn_binding_answered(res))
		goto out;
	if (client->family != AF_INET && client->family != AF_INET6) {
		res = SN_BINDING_INTERNAL;
		goto out;
	}

	/* A request that failed to parse may hold an unindexed FINGERPRINT; it gets none. */
	fingerprint = !(cfg->flags & SN_BINDING_F_FINGERPRINT_IF_ASKED) ||
		      (pr == SN_STUN_OK && sn_stun_has(&m, SN_STUN_A_FINGERPRINT));
	len = (int)answer_size(res, cfg, client, m.n_unknown, fingerprint);
	if ((cfg->flags & SN_BINDING_F_STRICT_SIZE) && (size_t)len > req_len) {
		res = SN_BINDING_TOO_LARGE;
		goto out;
	}
	if ((size_t)len > out_cap) {
		res = SN_BINDING_NO_ROOM;
		goto out;
	}

	/* From here on out may overwrite req: keep the transaction id aside. */
	memcpy(tid, req + 8, sizeof(tid));
	sn_stun_writer_init(&w, out, out_cap, SN_STUN_METHOD_BINDING,
			    res == SN_BINDING_SUCCESS ? SN_STUN_CLASS_SUCCESS : SN_STUN_CLASS_ERROR,
			    tid);
	if (res == SN_BINDING_SUCCESS) {
		sn_stun_put_xor_addr(&w, SN_STUN_ATTR_XOR_MAPPED_ADDRESS, client);
	} else if (res == SN_BINDING_BAD_REQUEST) {
		sn_stun_put_error(&w, SN_STUN_ERR_BAD_REQUEST, NULL);
	} else {
		sn_stun_put_error(&w, SN_STUN_ERR_UNKNOWN_ATTRIBUTE, NULL);
		sn_stun_put_unknown(&w, m.unknown, m.n_unknown);
	}
	if (cfg->flags & SN_BINDING_F_SOFTWARE)
		sn_stun_put_attr(&w, SN_STUN_ATTR_SOFTWARE, cfg->software, cfg->software_len);
	len = sn_stun_writer_finish(&w, fingerprint ? SN_STUN_FINISH_FINGERPRINT : 0, NULL, 0);
	if (len < 0) {
		/* Sizes were checked above; only a bad SOFTWARE length in cfg gets here. */
		res = SN_BINDING_INTERNAL;
		goto out;
	}
	*out_len = (size_t)len;
out:
	if (why)
		*why = pr;
	return res;
}
