/* test_dht_store.c: control's DHT storage (control/dht_store.h) and OpenDHT values
 * (control/dht_value.h): parsing, canonical packing, store/edit policies, signature checks
 * with real RSA keys, quotas, limits, expiry, query filters and listeners. */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "dht_store.h"
#include "dht_value.h"
#include "msgpack.h"

#define MIN_NS (60ull * 1000000000ull)
#define T0     (1000ull * 1000000000ull)

static const uint8_t hkey[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static struct dht_store_limits limits(void)
{
	struct dht_store_limits l = {
	    .max_bytes = 1u << 20,
	    .max_keys = 1000,
	    .max_values_per_key = 100,
	    .max_value_size = 65536,
	    .quota_bytes = 1u << 20,
	    .quota_values = 1000,
	    .max_listeners = 100,
	    .quota_listeners = 10,
	};
	return l;
}

static struct sn_node_id key_of(uint8_t b)
{
	struct sn_node_id k;

	memset(k.b, b, sizeof(k.b));
	return k;
}

static struct dht_src src_of(uint8_t last)
{
	struct dht_src s = {.family = AF_INET, .addr = {198, 18, 0, last}};
	return s;
}

/* An unsigned value packed as OpenDHT 2.4.12 packs it (msgpack-c, Value::msgpack_pack). */
static size_t pack_plain(uint8_t *buf, size_t cap, uint64_t id, uint16_t type, const void *data,
			 uint32_t len)
{
	struct sn_mp_writer w;

	sn_mp_writer_init(&w, buf, cap);
	sn_mp_write_map(&w, 2);
	sn_mp_write_cstr(&w, "id");
	sn_mp_write_uint(&w, id);
	sn_mp_write_cstr(&w, "dat");
	sn_mp_write_map(&w, 1);
	sn_mp_write_cstr(&w, "body");
	sn_mp_write_map(&w, 2);
	sn_mp_write_cstr(&w, "type");
	sn_mp_write_uint(&w, type);
	sn_mp_write_cstr(&w, "data");
	sn_mp_write_bin(&w, data, len);
	cr_assert_geq(sn_mp_writer_result(&w), 0);
	return w.len;
}

static void parse(const uint8_t *buf, size_t len, struct dht_value *v)
{
	cr_assert_eq(dht_value_parse(buf, len, v), 0);
}

/* ---------- signing helpers (what OpenDHT's PrivateKey::sign does) ---------- */

struct signer {
	EVP_PKEY *key;
	uint8_t der[1024];
	int der_len;
};

static void signer_init(struct signer *s)
{
	unsigned char *p = s->der;

	s->key = EVP_RSA_gen(2048);
	cr_assert_not_null(s->key);
	s->der_len = i2d_PUBKEY(s->key, NULL);
	cr_assert(s->der_len > 0 && s->der_len <= (int)sizeof(s->der));
	i2d_PUBKEY(s->key, &p);
}

static void signer_fini(struct signer *s)
{
	EVP_PKEY_free(s->key);
}

/* Builds a signed value with owner s, signs BODY with SHA-512 PKCS#1 v1.5, packs it. */
static size_t pack_signed(const struct signer *s, uint8_t *buf, size_t cap, uint64_t id,
			  uint16_t seq, const char *text, uint8_t *sig_out)
{
	struct dht_value v;
	uint8_t body[4096];
	size_t siglen = 512;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int blen, len;

	memset(&v, 0, sizeof(v));
	v.id = id;
	v.seq = seq;
	v.has_owner = true;
	v.owner = s->der;
	v.owner_len = (uint32_t)s->der_len;
	v.data = (const uint8_t *)text;
	v.data_len = (uint32_t)strlen(text);
	blen = dht_value_pack_body(&v, body, sizeof(body));
	cr_assert_gt(blen, 0);
	cr_assert_eq(EVP_DigestSignInit(md, NULL, EVP_sha512(), NULL, s->key), 1);
	cr_assert_eq(EVP_DigestSign(md, sig_out, &siglen, body, (size_t)blen), 1);
	EVP_MD_CTX_free(md);
	v.sig = sig_out;
	v.sig_len = (uint32_t)siglen;
	len = dht_value_pack(&v, buf, cap);
	cr_assert_gt(len, 0);
	return (size_t)len;
}

/* ---------- values ---------- */

Test(dht_value, parses_and_repacks_an_unsigned_value_byte_for_byte)
{
	uint8_t buf[256], again[256];
	struct dht_value v;
	size_t len = pack_plain(buf, sizeof(buf), 0x1122334455667788ull, 3, "hello", 5);
	int n;

	parse(buf, len, &v);
	cr_assert_eq(v.id, 0x1122334455667788ull);
	cr_assert_eq(v.type, 3);
	cr_assert_eq(v.data_len, 5);
	cr_assert_eq(memcmp(v.data, "hello", 5), 0);
	cr_assert_not(v.has_owner);
	cr_assert_eq(dht_value_size(&v), 5);
	n = dht_value_pack(&v, again, sizeof(again));
	cr_assert_eq((size_t)n, len);
	cr_assert_eq(memcmp(buf, again, len), 0);
}

Test(dht_value, refuses_what_opendht_refuses)
{
	uint8_t buf[256];
	struct dht_value v;
	struct sn_mp_writer w;
	size_t len = pack_plain(buf, sizeof(buf), 7, 0, "x", 1);

	/* truncated anywhere */
	for (size_t cut = 0; cut < len; cut++)
		cr_assert_lt(dht_value_parse(buf, cut, &v), 0, "cut at %zu", cut);
	/* trailing byte */
	buf[len] = 0xc0;
	cr_assert_lt(dht_value_parse(buf, len + 1, &v), 0);
	/* no data in body */
	sn_mp_writer_init(&w, buf, sizeof(buf));
	sn_mp_write_map(&w, 2);
	sn_mp_write_cstr(&w, "id");
	sn_mp_write_uint(&w, 1);
	sn_mp_write_cstr(&w, "dat");
	sn_mp_write_map(&w, 1);
	sn_mp_write_cstr(&w, "body");
	sn_mp_write_map(&w, 1);
	sn_mp_write_cstr(&w, "type");
	sn_mp_write_uint(&w, 0);
	cr_assert_lt(dht_value_parse(buf, w.len, &v), 0);
	/* type out of uint16 */
	sn_mp_writer_init(&w, buf, sizeof(buf));
	sn_mp_write_map(&w, 2);
	sn_mp_write_cstr(&w, "id");
	sn_mp_write_uint(&w, 1);
	sn_mp_write_cstr(&w, "dat");
	sn_mp_write_map(&w, 1);
	sn_mp_write_cstr(&w, "body");
	sn_mp_write_map(&w, 2);
	sn_mp_write_cstr(&w, "type");
	sn_mp_write_uint(&w, 70000);
	sn_mp_write_cstr(&w, "data");
	sn_mp_write_bin(&w, "x", 1);
	cr_assert_lt(dht_value_parse(buf, w.len, &v), 0);
	/* owner without signature */
	sn_mp_writer_init(&w, buf, sizeof(buf));
	sn_mp_write_map(&w, 2);
	sn_mp_write_cstr(&w, "id");
	sn_mp_write_uint(&w, 1);
	sn_mp_write_cstr(&w, "dat");
	sn_mp_write_map(&w, 1);
	sn_mp_write_cstr(&w, "body");
	sn_mp_write_map(&w, 4);
	sn_mp_write_cstr(&w, "seq");
	sn_mp_write_uint(&w, 0);
	sn_mp_write_cstr(&w, "owner");
	sn_mp_write_bin(&w, "k", 1);
	sn_mp_write_cstr(&w, "type");
	sn_mp_write_uint(&w, 0);
	sn_mp_write_cstr(&w, "data");
	sn_mp_write_bin(&w, "x", 1);
	cr_assert_lt(dht_value_parse(buf, w.len, &v), 0);
	/* deep nesting under an unknown key is bounded */
	sn_mp_writer_init(&w, buf, sizeof(buf));
	sn_mp_write_map(&w, 3);
	sn_mp_write_cstr(&w, "id");
	sn_mp_write_uint(&w, 1);
	sn_mp_write_cstr(&w, "zz");
	for (int i = 0; i < 40; i++)
		sn_mp_write_array(&w, 1);
	sn_mp_write_nil(&w);
	cr_assert_lt(dht_value_parse(buf, w.len, &v), 0);
}

Test(dht_value, encrypted_values_are_kept_whole)
{
	uint8_t buf[128], again[128];
	struct dht_value v;
	struct sn_mp_writer w;

	sn_mp_writer_init(&w, buf, sizeof(buf));
	sn_mp_write_map(&w, 2);
	sn_mp_write_cstr(&w, "id");
	sn_mp_write_uint(&w, 9);
	sn_mp_write_cstr(&w, "dat");
	sn_mp_write_bin(&w, "0123456789", 10);
	parse(buf, w.len, &v);
	cr_assert(v.encrypted);
	cr_assert_eq(dht_value_size(&v), 10);
	cr_assert_eq((size_t)dht_value_pack(&v, again, sizeof(again)), w.len);
	cr_assert_eq(memcmp(buf, again, w.len), 0);
}

Test(dht_value, signature_checks_with_a_real_rsa_key)
{
	struct signer s;
	uint8_t buf[2048], sig[512];
	struct dht_value v;
	uint8_t id[20], want[20];
	size_t len;

	signer_init(&s);
	len = pack_signed(&s, buf, sizeof(buf), 42, 1, "location binding", sig);
	parse(buf, len, &v);
	cr_assert(v.has_owner);
	cr_assert_eq(v.seq, 1);
	cr_assert_eq(dht_value_verify(&v), 0);
	dht_value_owner_id(&v, id);
	SHA1(s.der, (size_t)s.der_len, want);
	cr_assert_eq(memcmp(id, want, 20), 0);
	/* one bit of the data changed: the signature no longer matches */
	((uint8_t *)v.data)[0] ^= 1;
	cr_assert_eq(dht_value_verify(&v), -EPERM);
	((uint8_t *)v.data)[0] ^= 1;
	/* a broken key */
	v.owner_len = 10;
	cr_assert_eq(dht_value_verify(&v), -EINVAL);
	signer_fini(&s);
}

/* ---------- store ---------- */

Test(dht_store, put_get_refresh_and_no_edit_of_unsigned_values)
{
	struct dht_store st;
	struct dht_store_limits l = limits();
	struct sn_node_id k = key_of(1);
	struct dht_src a = src_of(2);
	struct dht_stored *out;
	struct dht_value v;
	uint8_t buf[256];
	size_t len;

	cr_assert_eq(dht_store_init(&st, &l, hkey), 0);
	len = pack_plain(buf, sizeof(buf), 5, 0, "one", 3);
	parse(buf, len, &v);
	cr_assert_eq(dht_store_put(&st, &k, &v, &a, 0, T0, &out), DHT_PUT_STORED);
	cr_assert_eq(out->packed_len, len);
	cr_assert_eq(memcmp(out->packed, buf, len), 0);
	cr_assert_eq(st.total_values, 1);
	cr_assert_eq(st.total_bytes, 3);
	cr_assert_eq(dht_store_find(&st, &k)->n_values, 1);
	/* the same value again: refreshed */
	cr_assert_eq(dht_store_put(&st, &k, &v, &a, 0, T0 + MIN_NS, &out), DHT_PUT_REFRESHED);
	cr_assert_eq(out->expires_ns, T0 + 11 * MIN_NS);
	/* same id, other content: the default edit policy says no */
	len = pack_plain(buf, sizeof(buf), 5, 0, "two", 3);
	parse(buf, len, &v);
	cr_assert_eq(dht_store_put(&st, &k, &v, &a, 0, T0, NULL), DHT_PUT_EDIT_DENIED);
	cr_assert_eq(memcmp(dht_store_find(&st, &k)->values[0]->packed + len - 3, "one", 3), 0);
	/* refresh: unknown key is 404, known key refreshes */
	struct sn_node_id other = key_of(9);

	cr_assert_eq(dht_store_refresh(&st, &other, 5, T0), -ENOENT);
	cr_assert_eq(dht_store_refresh(&st, &k, 5, T0 + 5 * MIN_NS), 0);
	cr_assert_eq(dht_store_find(&st, &k)->values[0]->expires_ns, T0 + 15 * MIN_NS);
	dht_store_fini(&st);
}

Test(dht_store, size_limit_and_expired_puts)
{
	struct dht_store st;
	struct dht_store_limits l = limits();
	struct sn_node_id k = key_of(1);
	struct dht_src a = src_of(2);
	static uint8_t big[70000], buf[71000];
	struct dht_value v;
	size_t len;

	l.max_value_size = 1000;
	cr_assert_eq(dht_store_init(&st, &l, hkey), 0);
	len = pack_plain(buf, sizeof(buf), 1, 0, big, 1001);
	parse(buf, len, &v);
	cr_assert_eq(dht_store_put(&st, &k, &v, &a, 0, T0, NULL), DHT_PUT_TOO_LARGE);
	len = pack_plain(buf, sizeof(buf), 1, 0, big, 1000);
	parse(buf, len, &v);
	/* created 10 minutes ago: a default-type value is already gone */
	cr_assert_eq(dht_store_put(&st, &k, &v, &a, 10 * MIN_NS, T0, NULL), DHT_PUT_EXPIRED);
	cr_assert_eq(dht_store_put(&st, &k, &v, &a, 9 * MIN_NS, T0, NULL), DHT_PUT_STORED);
	cr_assert_eq(dht_store_find(&st, &k)->values[0]->expires_ns, T0 + MIN_NS);
	dht_store_fini(&st);
	/* OpenDHT's 64 KiB cap holds whatever the config says */
	l.max_value_size = 1u << 30;
	cr_assert_eq(dht_store_init(&st, &l, hkey), 0);
	cr_assert_eq(st.lim.max_value_size, 65536);
	len = pack_plain(buf, sizeof(buf), 1, 0, big, 65537);
	parse(buf, len, &v);
	cr_assert_eq(dht_store_put(&st, &k, &v, &a, 0, T0, NULL), DHT_PUT_TOO_LARGE);
	dht_store_fini(&st);
}

Test(dht_store, per_source_quotas)
{
	struct dht_store st;
	struct dht_store_limits l = limits();
	struct sn_node_id k = key_of(1);
	struct dht_src a = src_of(2), b = src_of(3);
	struct dht_value v;
	uint8_t buf[256];
	size_t len;

	l.quota_values = 3;
	l.quota_bytes = 40;
	cr_assert_eq(dht_store_init(&st, &l, hkey), 0);
	for (uint64_t id = 1; id <= 3; id++) {
		len = pack_plain(buf, sizeof(buf), id, 0, "0123456789", 10);
		parse(buf, len, &v);
		cr_assert_eq(dht_store_put(&st, &k, &v, &a, 0, T0, NULL), DHT_PUT_STORED);
	}
	len = pack_plain(buf, sizeof(buf), 4, 0, "0123456789", 10);
	parse(buf, len, &v);
	cr_assert_eq(dht_store_put(&st, &k, &v, &a, 0, T0, NULL), DHT_PUT_QUOTA);
	/* another source has its own quota */
	cr_assert_eq(dht_store_put(&st, &k, &v, &b, 0, T0, NULL), DHT_PUT_STORED);
	cr_assert_eq(dht_store_quota(&st, &a)->values, 3);
	cr_assert_eq(dht_store_quota(&st, &a)->bytes, 30);
	cr_assert_eq(dht_store_quota(&st, &b)->values, 1);
	/* bytes: b may store 40 bytes at most */
	len = pack_plain(buf, sizeof(buf), 5, 0, "012345678901234567890123456789x", 31);
	parse(buf, len, &v);
	cr_assert_eq(dht_store_put(&st, &k, &v, &b, 0, T0, NULL), DHT_PUT_QUOTA);
	len = pack_plain(buf, sizeof(buf), 5, 0, "012345678901234567890123456789", 30);
	parse(buf, len, &v);
	cr_assert_eq(dht_store_put(&st, &k, &v, &b, 0, T0, NULL), DHT_PUT_STORED);
	/* expiry gives the quota back */
	cr_assert_eq(dht_store_expire(&st, T0 + 11 * MIN_NS, NULL, NULL), 5);
	cr_assert_null(dht_store_quota(&st, &a));
	cr_assert_null(dht_store_quota(&st, &b));
	cr_assert_eq(st.total_bytes, 0);
	cr_assert_eq(st.n_keys, 0);
	dht_store_fini(&st);
}

Test(dht_store, storage_limits)
{
	struct dht_store st;
	struct dht_store_limits l = limits();
	struct dht_src a = src_of(2);
	struct dht_value v;
	uint8_t buf[256];
	size_t len;

	l.max_bytes = 25;
	l.max_keys = 2;
	l.max_values_per_key = 2;
	cr_assert_eq(dht_store_init(&st, &l, hkey), 0);
	struct sn_node_id k1 = key_of(1), k2 = key_of(2), k3 = key_of(3);

	len = pack_plain(buf, sizeof(buf), 1, 0, "0123456789", 10);
	parse(buf, len, &v);
	cr_assert_eq(dht_store_put(&st, &k1, &v, &a, 0, T0, NULL), DHT_PUT_STORED);
	len = pack_plain(buf, sizeof(buf), 2, 0, "01234", 5);
	parse(buf, len, &v);
	cr_assert_eq(dht_store_put(&st, &k1, &v, &a, 0, T0, NULL), DHT_PUT_STORED);
	len = pack_plain(buf, sizeof(buf), 3, 0, "0", 1);
	parse(buf, len, &v);
	cr_assert_eq(dht_store_put(&st, &k1, &v, &a, 0, T0, NULL), DHT_PUT_FULL); /* per key */
	cr_assert_eq(dht_store_put(&st, &k2, &v, &a, 0, T0, NULL), DHT_PUT_STORED);
	cr_assert_eq(dht_store_put(&st, &k3, &v, &a, 0, T0, NULL), DHT_PUT_FULL); /* keys */
	len = pack_plain(buf, sizeof(buf), 4, 0, "0123456789", 10);
	parse(buf, len, &v);
	cr_assert_eq(dht_store_put(&st, &k2, &v, &a, 0, T0, NULL), DHT_PUT_FULL); /* bytes */
	cr_assert_eq(st.total_bytes, 16);
	dht_store_fini(&st);
}

static uint64_t seen[4];
static uint32_t n_seen;

static void cb(void *arg, struct dht_key *kk, const uint64_t *ids, uint32_t n)
{
	(void)arg;
	(void)kk;
	for (uint32_t i = 0; i < n && n_seen < 4; i++)
		seen[n_seen++] = ids[i];
}

Test(dht_store, type_expirations_and_expiry_callback)
{
	struct dht_store st;
	struct dht_store_limits l = limits();
	struct sn_node_id k = key_of(1);
	struct dht_value v;
	uint8_t buf[256];
	size_t len;

	cr_assert_eq(dht_type_expiration_ns(0), 10 * MIN_NS);
	cr_assert_eq(dht_type_expiration_ns(1), 5 * MIN_NS);
	cr_assert_eq(dht_type_expiration_ns(2), 15 * MIN_NS);
	cr_assert_eq(dht_type_expiration_ns(5), 1 * MIN_NS);
	cr_assert_eq(dht_type_expiration_ns(8), 7 * 24 * 60 * MIN_NS);
	cr_assert_eq(dht_type_expiration_ns(1234), 10 * MIN_NS);
	cr_assert_eq(dht_store_init(&st, &l, hkey), 0);
	len = pack_plain(buf, sizeof(buf), 1, 5, "ice", 3); /* 1 min */
	parse(buf, len, &v);
	cr_assert_eq(dht_store_put(&st, &k, &v, NULL, 0, T0, NULL), DHT_PUT_STORED);
	len = pack_plain(buf, sizeof(buf), 2, 0, "user", 4); /* 10 min */
	parse(buf, len, &v);
	cr_assert_eq(dht_store_put(&st, &k, &v, NULL, 0, T0, NULL), DHT_PUT_STORED);
	cr_assert_eq(dht_store_expire(&st, T0 + MIN_NS - 1, NULL, NULL), 0);

	n_seen = 0;
	cr_assert_eq(dht_store_expire(&st, T0 + MIN_NS + 1, cb, NULL), 1);
	cr_assert_eq(n_seen, 1);
	cr_assert_eq(seen[0], 1);
	cr_assert_eq(dht_store_find(&st, &k)->n_values, 1);
	cr_assert_eq(dht_store_expire(&st, T0 + 10 * MIN_NS + 1, cb, NULL), 1);
	cr_assert_null(dht_store_find(&st, &k));
	dht_store_fini(&st);
}

Test(dht_store, signed_values_follow_the_secure_layer)
{
	struct dht_store st;
	struct dht_store_limits l = limits();
	struct sn_node_id k = key_of(7);
	struct dht_src a = src_of(2), evil = src_of(66);
	struct signer owner, other;
	static uint8_t buf[2048], sig[512];
	struct dht_stored *out;
	struct dht_value v;
	size_t len;

	signer_init(&owner);
	signer_init(&other);
	cr_assert_eq(dht_store_init(&st, &l, hkey), 0);
	len = pack_signed(&owner, buf, sizeof(buf), 100, 3, "alice is at 198.18.0.2", sig);
	parse(buf, len, &v);
	cr_assert_eq(dht_store_put(&st, &k, &v, &a, 0, T0, &out), DHT_PUT_STORED);
	cr_assert(out->is_signed);
	cr_assert_eq(out->seq, 3);

	/* an unsigned value with the same id never replaces it */
	uint8_t plain[256];
	size_t plen = pack_plain(plain, sizeof(plain), 100, 0, "alice is at 203.0.113.9", 23);

	parse(plain, plen, &v);
	cr_assert_eq(dht_store_put(&st, &k, &v, &evil, 0, T0, NULL), DHT_PUT_EDIT_DENIED);
	/* another owner's signed value with the same id and a higher seq: denied */
	len = pack_signed(&other, buf, sizeof(buf), 100, 9, "alice is at 203.0.113.9", sig);
	parse(buf, len, &v);
	cr_assert_eq(dht_store_put(&st, &k, &v, &evil, 0, T0, NULL), DHT_PUT_EDIT_DENIED);
	/* the owner with a lower seq: denied */
	len = pack_signed(&owner, buf, sizeof(buf), 100, 2, "alice is at 203.0.113.9", sig);
	parse(buf, len, &v);
	cr_assert_eq(dht_store_put(&st, &k, &v, &a, 0, T0, NULL), DHT_PUT_EDIT_DENIED);
	/* the owner, same seq, other content: denied */
	len = pack_signed(&owner, buf, sizeof(buf), 100, 3, "alice moved", sig);
	parse(buf, len, &v);
	cr_assert_eq(dht_store_put(&st, &k, &v, &a, 0, T0, NULL), DHT_PUT_EDIT_DENIED);
	/* the owner with a higher seq but a forged signature: refused */
	len = pack_signed(&owner, buf, sizeof(buf), 100, 4, "alice moved", sig);
	parse(buf, len, &v);
	((uint8_t *)v.sig)[10] ^= 0x40;
	cr_assert_eq(dht_store_put(&st, &k, &v, &a, 0, T0, NULL), DHT_PUT_BAD_SIGNATURE);
	((uint8_t *)v.sig)[10] ^= 0x40;
	/* ... and with a good one: edited */
	cr_assert_eq(dht_store_put(&st, &k, &v, &a, 0, T0, &out), DHT_PUT_EDITED);
	cr_assert_eq(out->seq, 4);
	cr_assert_eq(dht_store_find(&st, &k)->n_values, 1);
	/* the same signed value again, from anyone: only a refresh */
	cr_assert_eq(dht_store_put(&st, &k, &v, &evil, 0, T0, NULL), DHT_PUT_REFRESHED);
	cr_assert_eq(dht_store_find(&st, &k)->values[0]->seq, 4);
	/* a new signed value with a bad signature is never stored */
	len = pack_signed(&other, buf, sizeof(buf), 101, 0, "x", sig);
	parse(buf, len, &v);
	((uint8_t *)v.data)[0] = 'y';
	cr_assert_eq(dht_store_put(&st, &k, &v, &evil, 0, T0, NULL), DHT_PUT_BAD_SIGNATURE);
	cr_assert_eq(st.total_values, 1);
	dht_store_fini(&st);
	signer_fini(&owner);
	signer_fini(&other);
}

/* ---------- queries ---------- */

Test(dht_query, where_and_select)
{
	struct dht_store st;
	struct dht_store_limits l = limits();
	struct sn_node_id k = key_of(1);
	struct dht_query q;
	struct dht_value v;
	struct sn_mp_writer w;
	uint8_t buf[256], qb[128];
	struct dht_stored *a, *b;
	size_t len;

	cr_assert_eq(dht_store_init(&st, &l, hkey), 0);
	len = pack_plain(buf, sizeof(buf), 11, 0, "a", 1);
	parse(buf, len, &v);
	cr_assert_eq(dht_store_put(&st, &k, &v, NULL, 0, T0, &a), DHT_PUT_STORED);
	len = pack_plain(buf, sizeof(buf), 12, 3, "b", 1);
	parse(buf, len, &v);
	cr_assert_eq(dht_store_put(&st, &k, &v, NULL, 0, T0, &b), DHT_PUT_STORED);
	/* Query{w: [{f: Id, v: 12}], s: [Id, ValueType]} as OpenDHT packs it */
	sn_mp_writer_init(&w, qb, sizeof(qb));
	sn_mp_write_map(&w, 2);
	sn_mp_write_cstr(&w, "w");
	sn_mp_write_array(&w, 1);
	sn_mp_write_map(&w, 2);
	sn_mp_write_cstr(&w, "f");
	sn_mp_write_uint(&w, DHT_FIELD_ID);
	sn_mp_write_cstr(&w, "v");
	sn_mp_write_uint(&w, 12);
	sn_mp_write_cstr(&w, "s");
	sn_mp_write_array(&w, 2);
	sn_mp_write_uint(&w, DHT_FIELD_TYPE);
	sn_mp_write_uint(&w, DHT_FIELD_ID);
	cr_assert_eq(dht_query_parse(qb, w.len, &q), 0);
	cr_assert_eq(q.n_where, 1);
	cr_assert_eq(q.n_select, 2);
	cr_assert_eq(q.select[0], DHT_FIELD_ID);
	cr_assert_eq(q.select[1], DHT_FIELD_TYPE);
	cr_assert_not(dht_query_match(&q, a));
	cr_assert(dht_query_match(&q, b));
	cr_assert(dht_query_match(NULL, a));
	/* a query lacking s is not a Query */
	sn_mp_writer_init(&w, qb, sizeof(qb));
	sn_mp_write_map(&w, 1);
	sn_mp_write_cstr(&w, "w");
	sn_mp_write_array(&w, 0);
	cr_assert_lt(dht_query_parse(qb, w.len, &q), 0);
	/* nor one with a bad filter type */
	sn_mp_writer_init(&w, qb, sizeof(qb));
	sn_mp_write_map(&w, 2);
	sn_mp_write_cstr(&w, "w");
	sn_mp_write_array(&w, 1);
	sn_mp_write_map(&w, 2);
	sn_mp_write_cstr(&w, "f");
	sn_mp_write_uint(&w, DHT_FIELD_OWNER);
	sn_mp_write_cstr(&w, "v");
	sn_mp_write_uint(&w, 1);
	sn_mp_write_cstr(&w, "s");
	sn_mp_write_array(&w, 0);
	cr_assert_lt(dht_query_parse(qb, w.len, &q), 0);
	dht_store_fini(&st);
}

/* ---------- listeners ---------- */

static struct dht_listener listener(uint8_t last, uint16_t port, uint32_t sid)
{
	struct dht_listener l;

	memset(&l, 0, sizeof(l));
	l.tuple.family = AF_INET;
	l.tuple.src[0] = 198;
	l.tuple.src[1] = 18;
	l.tuple.src[3] = last;
	l.tuple.src_port = port;
	l.sid = sid;
	l.version = 1;
	return l;
}

Test(dht_store, listeners_quota_refresh_and_expiry)
{
	struct dht_store st;
	struct dht_store_limits l = limits();
	struct sn_node_id k = key_of(1);
	struct dht_src a = src_of(2), b = src_of(3);
	bool is_new;

	l.quota_listeners = 2;
	l.max_listeners = 3;
	cr_assert_eq(dht_store_init(&st, &l, hkey), 0);
	struct dht_listener l1 = listener(2, 1000, 1), l2 = listener(2, 1000, 2),
			    l3 = listener(2, 1001, 1), l4 = listener(3, 1000, 1),
			    l5 = listener(3, 1000, 2);

	cr_assert_eq(dht_store_listen(&st, &k, &l1, &a, T0, &is_new), 0);
	cr_assert(is_new);
	cr_assert_eq(dht_store_listen(&st, &k, &l1, &a, T0 + MIN_NS, &is_new), 0);
	cr_assert_not(is_new);
	cr_assert_eq(dht_store_listen(&st, &k, &l2, &a, T0, &is_new), 0);
	cr_assert_eq(dht_store_listen(&st, &k, &l3, &a, T0, &is_new), -EDQUOT);
	cr_assert_eq(dht_store_listen(&st, &k, &l4, &b, T0, &is_new), 0);
	cr_assert_eq(dht_store_listen(&st, &k, &l5, &b, T0, &is_new), -ENOSPC);
	cr_assert_eq(st.total_listeners, 3);
	/* l1 was refreshed a minute later than l2 and l4 */
	cr_assert_eq(dht_store_expire(&st, T0 + DHT_LISTENER_EXPIRE_NS + 1, NULL, NULL), 0);
	cr_assert_eq(st.total_listeners, 1);
	cr_assert_eq(dht_store_find(&st, &k)->listeners[0].sid, 1);
	cr_assert_eq(dht_store_expire(&st, T0 + MIN_NS + DHT_LISTENER_EXPIRE_NS + 1, NULL, NULL),
		     0);
	cr_assert_eq(st.total_listeners, 0);
	cr_assert_null(dht_store_find(&st, &k));
	cr_assert_null(dht_store_quota(&st, &a));
	dht_store_fini(&st);
}

Test(dht_store, many_keys_grow_the_table)
{
	struct dht_store st;
	struct dht_store_limits l = limits();
	struct dht_value v;
	uint8_t buf[128];
	size_t len = pack_plain(buf, sizeof(buf), 1, 0, "v", 1);

	l.max_keys = 5000;
	l.quota_values = 5000;
	cr_assert_eq(dht_store_init(&st, &l, hkey), 0);
	parse(buf, len, &v);
	for (unsigned i = 0; i < 3000; i++) {
		struct sn_node_id k = key_of(0);

		memcpy(k.b, &i, sizeof(i));
		cr_assert_eq(dht_store_put(&st, &k, &v, NULL, 0, T0, NULL), DHT_PUT_STORED);
	}
	cr_assert_eq(st.n_keys, 3000);
	cr_assert_geq(st.n_key_buckets, 2048);
	for (unsigned i = 0; i < 3000; i += 7) {
		struct sn_node_id k = key_of(0);

		memcpy(k.b, &i, sizeof(i));
		cr_assert_not_null(dht_store_find(&st, &k));
	}
	dht_store_fini(&st);
}
