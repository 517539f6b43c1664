/* dht_value.c: see dht_value.h. */
#include "dht_value.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "msgpack.h"

#define SKIP_DEPTH 8 /* nesting allowed inside unknown keys of a value */

/* Reads a map key: a string, or (OpenDHT ignores those) anything else, skipped. *s NULL then. */
static int read_key(struct sn_mp_reader *r, const char **s, uint32_t *len)
{
	if (sn_mp_peek(r) == SN_MP_STR)
		return sn_mp_read_str(r, s, len);
	*s = NULL;
	*len = 0;
	return sn_mp_skip(r, SKIP_DEPTH);
}

/* unpackBlob: bin or str. */
static int read_blob(struct sn_mp_reader *r, const uint8_t **p, uint32_t *len)
{
	if (sn_mp_peek(r) == SN_MP_STR)
		return sn_mp_read_str(r, (const char **)p, len);
	return sn_mp_read_bin(r, p, len);
}

static int read_u16(struct sn_mp_reader *r, uint16_t *out)
{
	uint64_t x;
	int rc = sn_mp_read_uint_max(r, UINT16_MAX, &x);

	if (rc == 0)
		*out = (uint16_t)x;
	return rc;
}

static int parse_body(const uint8_t *p, size_t len, struct dht_value *v)
{
	struct sn_mp_reader r;
	bool has_data = false, has_type = false, has_seq = false, has_utype = false;
	uint32_t n, klen;
	const char *k;

	sn_mp_reader_init(&r, p, len);
	if (sn_mp_read_map(&r, &n) < 0)
		return -EBADMSG;
	for (uint32_t i = 0; i < n; i++) {
		int rc;

		if (read_key(&r, &k, &klen) < 0)
			return -EBADMSG;
		if (k && sn_mp_str_eq(k, klen, "data") && !has_data) {
			rc = read_blob(&r, &v->data, &v->data_len);
			has_data = true;
		} else if (k && sn_mp_str_eq(k, klen, "type") && !has_type) {
			rc = read_u16(&r, &v->type);
			has_type = true;
		} else if (k && sn_mp_str_eq(k, klen, "utype") && !has_utype) {
			rc = sn_mp_read_str(&r, &v->utype, &v->utype_len);
			has_utype = true;
		} else if (k && sn_mp_str_eq(k, klen, "owner") && !v->has_owner) {
			rc = read_blob(&r, &v->owner, &v->owner_len);
			v->has_owner = true;
		} else if (k && sn_mp_str_eq(k, klen, "seq") && !has_seq) {
			rc = read_u16(&r, &v->seq);
			has_seq = true;
		} else if (k && sn_mp_str_eq(k, klen, "to") && !v->has_to) {
			const uint8_t *to;
			uint32_t tl;

			rc = sn_mp_read_bin(&r, &to, &tl);
			if (rc == 0 && tl != sizeof(v->to))
				rc = -EBADMSG;
			if (rc == 0)
				memcpy(v->to, to, sizeof(v->to));
			v->has_to = true;
		} else {
			rc = sn_mp_skip(&r, SKIP_DEPTH);
		}
		if (rc < 0)
			return -EBADMSG;
	}
	if (sn_mp_remaining(&r) || !has_data || !has_type || (v->has_owner && !has_seq))
		return -EBADMSG;
	return 0;
}

static int parse_dat(const uint8_t *p, size_t len, struct dht_value *v)
{
	struct sn_mp_reader r;
	const uint8_t *body = NULL;
	size_t body_len = 0;
	uint32_t n, klen;
	const char *k;
	int rc;

	sn_mp_reader_init(&r, p, len);
	if (sn_mp_peek(&r) == SN_MP_BIN) {
		if (sn_mp_read_bin(&r, &v->cypher, &v->cypher_len) < 0 || sn_mp_remaining(&r))
			return -EBADMSG;
		v->encrypted = true;
		return 0;
	}
	if (sn_mp_read_map(&r, &n) < 0)
		return -EBADMSG;
	for (uint32_t i = 0; i < n; i++) {
		if (read_key(&r, &k, &klen) < 0)
			return -EBADMSG;
		if (k && sn_mp_str_eq(k, klen, "body") && !body) {
			body = r.pos;
			if (sn_mp_skip(&r, SKIP_DEPTH) < 0)
				return -EBADMSG;
			body_len = (size_t)(r.pos - body);
		} else if (k && sn_mp_str_eq(k, klen, "sig") && !v->sig) {
			if (read_blob(&r, &v->sig, &v->sig_len) < 0)
				return -EBADMSG;
			if (!v->sig)
				v->sig = (const uint8_t *)""; /* empty but present */
		} else if (sn_mp_skip(&r, SKIP_DEPTH) < 0) {
			return -EBADMSG;
		}
	}
	if (!body || sn_mp_remaining(&r))
		return -EBADMSG;
	v->body = body;
	v->body_len = (uint32_t)body_len;
	rc = parse_body(body, body_len, v);
	if (rc < 0)
		return rc;
	if (v->has_owner && !v->sig)
		return -EBADMSG; /* OpenDHT: a value with an owner needs its signature */
	if (!v->has_owner) {
		v->sig = NULL; /* not a signed value: a stray sig is ignored */
		v->sig_len = 0;
	}
	return 0;
}

int dht_value_parse(const void *buf, size_t len, struct dht_value *v)
{
	struct sn_mp_reader r;
	const uint8_t *dat = NULL;
	size_t dat_len = 0;
	bool has_id = false, has_prio = false;
	uint32_t n, klen;
	const char *k;

	memset(v, 0, sizeof(*v));
	sn_mp_reader_init(&r, buf, len);
	if (sn_mp_read_map(&r, &n) < 0 || n < 2)
		return -EBADMSG;
	for (uint32_t i = 0; i < n; i++) {
		int rc;

		if (read_key(&r, &k, &klen) < 0)
			return -EBADMSG;
		if (k && sn_mp_str_eq(k, klen, "id") && !has_id) {
			rc = sn_mp_read_uint(&r, &v->id);
			has_id = true;
		} else if (k && sn_mp_str_eq(k, klen, "dat") && !dat) {
			dat = r.pos;
			rc = sn_mp_skip(&r, SKIP_DEPTH);
			dat_len = (size_t)(r.pos - dat);
		} else if (k && sn_mp_str_eq(k, klen, "p") && !has_prio) {
			uint64_t x;

			rc = sn_mp_read_uint_max(&r, UINT32_MAX, &x);
			v->priority = (uint32_t)x;
			has_prio = true;
		} else {
			rc = sn_mp_skip(&r, SKIP_DEPTH);
		}
		if (rc < 0)
			return -EBADMSG;
	}
	if (!has_id || !dat || sn_mp_remaining(&r))
		return -EBADMSG;
	v->dat = dat;
	v->dat_len = (uint32_t)dat_len;
	return parse_dat(dat, dat_len, v);
}

size_t dht_value_size(const struct dht_value *v)
{
	return (size_t)v->cypher_len + v->data_len + v->sig_len + v->utype_len;
}

static void write_body(struct sn_mp_writer *w, const struct dht_value *v)
{
	sn_mp_write_map(w, (v->utype_len ? 1u : 0u) + (v->has_owner ? (v->has_to ? 5u : 4u) : 2u));
	if (v->has_owner) {
		sn_mp_write_cstr(w, "seq");
		sn_mp_write_uint(w, v->seq);
		sn_mp_write_cstr(w, "owner");
		sn_mp_write_bin(w, v->owner, v->owner_len);
		if (v->has_to) {
			sn_mp_write_cstr(w, "to");
			sn_mp_write_bin(w, v->to, sizeof(v->to));
		}
	}
	sn_mp_write_cstr(w, "type");
	sn_mp_write_uint(w, v->type);
	sn_mp_write_cstr(w, "data");
	sn_mp_write_bin(w, v->data, v->data_len);
	if (v->utype_len) {
		sn_mp_write_cstr(w, "utype");
		sn_mp_write_str(w, v->utype, v->utype_len);
	}
}

int dht_value_pack_body(const struct dht_value *v, uint8_t *buf, size_t cap)
{
	struct sn_mp_writer w;

	sn_mp_writer_init(&w, buf, cap);
	write_body(&w, v);
	return sn_mp_writer_result(&w);
}

int dht_value_pack(const struct dht_value *v, uint8_t *buf, size_t cap)
{
	struct sn_mp_writer w;

	sn_mp_writer_init(&w, buf, cap);
	sn_mp_write_map(&w, v->priority ? 3 : 2);
	sn_mp_write_cstr(&w, "id");
	sn_mp_write_uint(&w, v->id);
	sn_mp_write_cstr(&w, "dat");
	if (v->encrypted) {
		sn_mp_write_bin(&w, v->cypher, v->cypher_len);
	} else {
		sn_mp_write_map(&w, v->has_owner ? 2 : 1);
		sn_mp_write_cstr(&w, "body");
		write_body(&w, v);
		if (v->has_owner) {
			sn_mp_write_cstr(&w, "sig");
			sn_mp_write_bin(&w, v->sig, v->sig_len);
		}
	}
	if (v->priority) {
		sn_mp_write_cstr(&w, "p");
		sn_mp_write_uint(&w, v->priority);
	}
	return sn_mp_writer_result(&w);
}

int dht_value_verify(const struct dht_value *v)
{
	const unsigned char *p;
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *md = NULL;
	uint8_t *body = NULL;
	size_t cap;
	int len, rc;

	if (!v->has_owner || !v->owner || !v->sig || v->encrypted)
		return -EINVAL;
	p = v->owner;
	pk = d2i_PUBKEY(NULL, &p, (long)v->owner_len);
	if (!pk || p != v->owner + v->owner_len || EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
		rc = -EINVAL;
		goto out;
	}
	cap = dht_value_size(v) + v->owner_len + 256;
	body = malloc(cap);
	md = EVP_MD_CTX_new();
	if (!body || !md) {
		rc = -ENOMEM;
		goto out;
	}
	len = dht_value_pack_body(v, body, cap);
	if (len < 0) {
		rc = len;
		goto out;
	}
	/* RSA PKCS#1 v1.5 with SHA-512: GNUTLS_SIGN_RSA_SHA512, as OpenDHT checks it */
	if (EVP_DigestVerifyInit(md, NULL, EVP_sha512(), NULL, pk) != 1) {
		rc = -EINVAL;
		goto out;
	}
	rc = EVP_DigestVerify(md, v->sig, v->sig_len, body, (size_t)len) == 1 ? 0 : -EPERM;
out:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pk);
	free(body);
	return rc;
}

void dht_value_owner_id(const struct dht_value *v, uint8_t out[20])
{
	if (!v->has_owner || !v->owner) {
		memset(out, 0, 20);
		return;
	}
	SHA1(v->owner, v->owner_len, out);
}
