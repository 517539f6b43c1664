#include "turn_auth.h"
#include "sn_log.h"
#include "stun.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64url_value(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* in: 3 * (len / 4) bytes -> len characters */
static void b64url_encode(const uint8_t *in, size_t len, char *out)
{
	for (size_t i = 0, o = 0; o < len; i += 3, o += 4) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o] = b64url[v >> 18];
		out[o + 1] = b64url[(v >> 12) & 63];
		out[o + 2] = b64url[(v >> 6) & 63];
		out[o + 3] = b64url[v & 63];
	}
}

static int b64url_decode(const uint8_t *in, size_t len, uint8_t *out)
{
	for (size_t i = 0, o = 0; i < len; i += 4, o += 3) {
		uint32_t v = 0;

		for (size_t k = 0; k < 4; k++) {
			int d = b64url_value(in[i + k]);

			if (d < 0)
				return -EINVAL;
			v = v << 6 | (uint32_t)d;
		}
		out[o] = (uint8_t)(v >> 16);
		out[o + 1] = (uint8_t)(v >> 8);
		out[o + 2] = (uint8_t)v;
	}
	return 0;
}

/* HMAC-SHA256(secret, "sn-nonce" | length | slot (8 bytes, big endian) | 5-tuple): the length
 * is in, so a truncated nonce is not a valid shorter one. */
static int nonce_mac(const struct ctl_turn_auth *a, const struct sn_udp_tuple *t, uint64_t slot,
		     size_t len, uint8_t mac[32])
{
	uint8_t msg[8 + 1 + 8 + 1 + 2 * 16 + 2 * 2];
	unsigned int mac_len = 32;
	size_t n = 0;

	memcpy(msg, "sn-nonce", 8);
	n = 8;
	msg[n++] = (uint8_t)len;
	for (int i = 7; i >= 0; i--)
		msg[n++] = (uint8_t)(slot >> (8 * i));
	msg[n++] = t->family;
	memcpy(msg + n, t->src, 16);
	n += 16;
	memcpy(msg + n, &t->src_port, 2);
	n += 2;
	memcpy(msg + n, t->dst, 16);
	n += 16;
	memcpy(msg + n, &t->dst_port, 2);
	n += 2;
	if (!HMAC(EVP_sha256(), a->secret, sizeof(a->secret), msg, n, mac, &mac_len) ||
	    mac_len != 32)
		return -EIO;
	return 0;
}

static bool nonce_len_ok(size_t len)
{
	return len >= CTL_TURN_NONCE_MIN && len <= CTL_TURN_NONCE_MAX && len % 4 == 0;
}

int ctl_turn_nonce_make(const struct ctl_turn_auth *a, const struct sn_udp_tuple *client,
			uint64_t now_s, size_t len, char *out)
{
	uint8_t raw[CTL_TURN_NONCE_MAX / 4 * 3], mac[32];
	uint64_t slot = now_s / CTL_TURN_NONCE_SLOT_S;
	size_t bytes = len / 4 * 3;

	if (!nonce_len_ok(len))
		return -EINVAL;
	if (nonce_mac(a, client, slot, len, mac) < 0)
		return -EIO;
	raw[0] = (uint8_t)(slot >> 8);
	raw[1] = (uint8_t)slot;
	memcpy(raw + 2, mac, bytes - 2);
	b64url_encode(raw, len, out);
	return 0;
}

enum ctl_nonce_result ctl_turn_nonce_check(const struct ctl_turn_auth *a,
					   const struct sn_udp_tuple *client, const uint8_t *nonce,
					   size_t len, uint64_t now_s)
{
	uint8_t raw[CTL_TURN_NONCE_MAX / 4 * 3], mac[32];
	uint64_t now_slot = now_s / CTL_TURN_NONCE_SLOT_S, slot;
	size_t bytes = len / 4 * 3;
	uint8_t diff = 0;

	if (!nonce_len_ok(len) || b64url_decode(nonce, len, raw) < 0)
		return CTL_NONCE_INVALID;
	/* the newest slot whose low 16 bits are the nonce's */
	slot = (now_slot & ~(uint64_t)0xffff) | ((uint64_t)raw[0] << 8 | raw[1]);
	if (slot > now_slot) {
		if (slot < 0x10000)
			return CTL_NONCE_INVALID;
		slot -= 0x10000;
	}
	if (nonce_mac(a, client, slot, len, mac) < 0)
		return CTL_NONCE_INVALID;
	for (size_t i = 0; i < bytes - 2; i++)
		diff |= (uint8_t)(mac[i] ^ raw[2 + i]);
	if (diff)
		return CTL_NONCE_INVALID;
	if ((now_slot - slot) * CTL_TURN_NONCE_SLOT_S > a->cfg->nonce_lifetime)
		return CTL_NONCE_STALE;
	return CTL_NONCE_OK;
}

int ctl_turn_rest_password(const char *secret, size_t secret_len, const uint8_t *user,
			   size_t user_len, char out[CTL_TURN_REST_PASS_LEN + 1])
{
	uint8_t mac[20];
	unsigned int mac_len = sizeof(mac);

	if (secret_len > INT32_MAX ||
	    !HMAC(EVP_sha1(), secret, (int)secret_len, user, user_len, mac, &mac_len) ||
	    mac_len != sizeof(mac))
		return -EIO;
	if (EVP_EncodeBlock((unsigned char *)out, mac, sizeof(mac)) != CTL_TURN_REST_PASS_LEN)
		return -EIO;
	out[CTL_TURN_REST_PASS_LEN] = '\0';
	return 0;
}

/* "EXPIRY[:USER]": *expiry and the USER part (may be empty). Returns 0 or -EINVAL. */
static int rest_parse(const uint8_t *user, size_t len, uint64_t *expiry, const uint8_t **part,
		      size_t *part_len)
{
	uint64_t v = 0;
	size_t i = 0;

	while (i < len && user[i] >= '0' && user[i] <= '9') {
		if (i == 19)
			return -EINVAL; /* more digits than any Unix time needs */
		v = v * 10 + (uint64_t)(user[i] - '0');
		i++;
	}
	if (i == 0 || (i < len && user[i] != ':'))
		return -EINVAL;
	*expiry = v;
	*part = i < len ? user + i + 1 : user + len;
	*part_len = i < len ? len - i - 1 : 0;
	return 0;
}

enum ctl_cred_result ctl_turn_credential(const struct ctl_turn_auth *a, const uint8_t *user,
					 size_t len, uint64_t now_s, struct ctl_turn_cred *out)
{
	const struct sn_turn_config *c = a->cfg;
	char rest_pass[CTL_TURN_REST_PASS_LEN + 1];
	const char *pass = NULL;
	const uint8_t *part;
	size_t part_len, pass_len = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	out->user_idx = -1;
	if (!len || memchr(user, '\0', len))
		return CTL_CRED_BAD_USERNAME;
	for (int i = 0; i < c->n_users; i++) {
		if (strlen(c->users[i].name) == len && !memcmp(c->users[i].name, user, len)) {
			out->user_idx = i;
			memcpy(out->identity, user, len);
			pass = c->users[i].password;
			pass_len = strlen(pass);
			break;
		}
	}
	if (!pass) {
		/* only names that start like "EXPIRY" are taken for REST names */
		if (!c->rest_secret[0] || user[0] < '0' || user[0] > '9')
			return CTL_CRED_UNKNOWN_USER;
		if (rest_parse(user, len, &out->rest_expiry, &part, &part_len) < 0 ||
		    part_len >= sizeof(out->identity))
			return CTL_CRED_BAD_USERNAME;
		if (out->rest_expiry <= now_s)
			return CTL_CRED_REST_EXPIRED;
		out->rest = true;
		if (part_len)
			memcpy(out->identity, part, part_len);
		else
			snprintf(out->identity, sizeof(out->identity), "(rest)");
		for (int i = 0; i < c->n_users; i++)
			if (!strcmp(c->users[i].name, out->identity))
				out->user_idx = i;
		if (ctl_turn_rest_password(c->rest_secret, strlen(c->rest_secret), user, len,
					   rest_pass) < 0)
			return CTL_CRED_INTERNAL;
		pass = rest_pass;
		pass_len = CTL_TURN_REST_PASS_LEN;
	}
	rc = sn_stun_long_term_key(SN_STUN_PASSWORD_MD5, (const char *)user, len, c->realm,
				   strlen(c->realm), pass, pass_len, out->key);
	if (rc != 16)
		return CTL_CRED_INTERNAL;
	out->key_len = 16;
	return CTL_CRED_OK;
}

int ctl_turn_secret_load(uint8_t secret[CTL_TURN_SECRET_LEN], const char *path)
{
	uint8_t buf[CTL_TURN_SECRET_LEN + 1];
	ssize_t n;
	int fd = -1, rc = 0;

	if (RAND_bytes(secret, CTL_TURN_SECRET_LEN) != 1) {
		SN_ERR("RAND_bytes failed: nonces would be predictable");
		return -EIO;
	}
	if (!path)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf));
		close(fd);
		fd = -1;
		if (n == CTL_TURN_SECRET_LEN) {
			memcpy(secret, buf, CTL_TURN_SECRET_LEN);
			return 0;
		}
		SN_WARN("%s: %zd bytes, not %d: writing a new secret", path, n,
			CTL_TURN_SECRET_LEN);
	} else if (errno != ENOENT) {
		rc = -errno;
		SN_WARN("open %s: %s: nonces will not survive a restart", path, strerror(errno));
		return rc;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = -errno;
		SN_WARN("create %s: %s: nonces will not survive a restart", path, strerror(errno));
		goto out;
	}
	if (fchmod(fd, 0600) < 0 || write(fd, secret, CTL_TURN_SECRET_LEN) != CTL_TURN_SECRET_LEN) {
		rc = errno ? -errno : -EIO;
		SN_WARN("write %s: %s: nonces will not survive a restart", path, strerror(-rc));
		goto out;
	}
out:
	if (fd >= 0)
		close(fd);
	return rc;
}
