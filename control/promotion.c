/* promotion.c: load, dial-back probes, ranking, hysteresis and signed invitations (see
 * promotion.h). */
#include "promotion.h"

#include "chan.h"
#include "dht.h"
#include "dht_msg.h"
#include "dht_store.h"
#include "sn_log.h"
#include "turn.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define DHT_CLIENT_WINDOW_NS                                                                       \
	(120ull * CTL_NS_PER_SEC) /* a DHT client is one seen this recently                        \
				   */
#define TURN_ALLOC_BYTES 256u	  /* control's allocation entry and its first perms (estimate) */
#define INVITE_MAX	 1024	  /* invitation value bytes */

const char *const ctl_promo_reason_names[CTL_PROMO_REASON_MAX] = {
#define CTL_X_NAME(name, label) label,
    CTL_PROMO_REASONS(CTL_X_NAME)
#undef CTL_X_NAME
};

const char *const ctl_promo_input_names[PI_MAX] = {"uptime", "activity", "history", "bandwidth",
						   "trust"};

struct ctl_promo_stats ctl_promo_stats;
static struct ctl_promotion *g_promo;

/* Sybil verdicts of the trust module (control/trust.h, another helper's). Weak: until that
 * module is linked in, every verdict is "unknown" and promotion.suspects alone decides. */
int ctl_trust_suspect_node(const uint8_t node_id[20]) __attribute__((weak));
int ctl_trust_suspect_addr(int family, const uint8_t addr[16]) __attribute__((weak));
double ctl_trust_score_node(const uint8_t node_id[20]) __attribute__((weak));

static void st_set(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static void st_inc(uint64_t *p)
{
	__atomic_fetch_add(p, 1, __ATOMIC_RELAXED);
}

struct ctl_promotion *ctl_promotion_current(void)
{
	return g_promo;
}

/* ---------- Sybil adapter ---------- */

static bool cidr_match(const struct sn_cidr *r, uint8_t family, const uint8_t *addr)
{
	unsigned full = r->len / 8, rest = r->len % 8;

	if (r->family != family)
		return false;
	if (memcmp(r->addr, addr, full) != 0)
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));

		return (r->addr[full] & mask) == (addr[full] & mask);
	}
	return true;
}

int ctl_promo_suspect(const struct ctl_promotion *p, const struct ctl_client *c)
{
	int v = -1;

	for (int i = 0; i < p->cfg.n_suspects; i++)
		if (cidr_match(&p->cfg.suspects[i], c->family, c->addr))
			return 1;
	if (ctl_trust_suspect_addr) {
		uint8_t a[16] = {0};

		memcpy(a, c->addr, c->family == AF_INET6 ? 16 : 4);
		v = ctl_trust_suspect_addr(c->family, a);
		if (v > 0)
			return 1;
	}
	if (c->has_node && ctl_trust_suspect_node) {
		int n = ctl_trust_suspect_node(c->node);

		if (n > 0)
			return 1;
		if (n == 0)
			v = 0;
	}
	return v;
}

double ctl_promo_trust(const struct ctl_client *c)
{
	double s = -1;

	if (c->has_node && ctl_trust_score_node)
		s = ctl_trust_score_node(c->node);
	return s >= 0 && s <= 1 ? s : 0.5;
}

/* ---------- ranking and hysteresis (pure) ---------- */

bool ctl_promo_hyst_step(struct ctl_promo_hyst *h, const struct sn_promotion_config *cfg,
			 uint32_t load, uint64_t now)
{
	bool dwelt = now - h->since_ns >= (uint64_t)cfg->dwell_s * CTL_NS_PER_SEC;

	if (!dwelt)
		return false;
	if ((!h->high && load >= cfg->load_high) || (h->high && load <= cfg->load_low)) {
		h->high = !h->high;
		h->since_ns = now;
		h->changes++;
		return true;
	}
	return false;
}

enum ctl_promo_reason ctl_promo_classify(const struct sn_promotion_config *cfg,
					 const struct ctl_client *c, int suspect, uint64_t now)
{
	if (suspect > 0)
		return CTL_PROMO_SUSPECT;
	if (c->errors >= cfg->max_misbehaviour)
		return CTL_PROMO_MISBEHAVED;
	if (c->invited)
		return CTL_PROMO_INVITED;
	if (!c->has_node)
		return CTL_PROMO_NO_NODE_ID;
	(void)now;
	if (c->last_ns - c->first_ns < (uint64_t)cfg->min_uptime_s * CTL_NS_PER_SEC)
		return CTL_PROMO_SHORT_LIVED;
	if (c->reach == CTL_REACH_CLOSED)
		return CTL_PROMO_UNREACHABLE;
	if (c->reach != CTL_REACH_OPEN)
		return CTL_PROMO_NOT_PROBED;
	return CTL_PROMO_ELIGIBLE;
}

static double clamp01(double v)
{
	return v < 0 ? 0 : v > 1 ? 1 : v;
}

void ctl_promo_inputs(const struct sn_promotion_config *cfg, const struct ctl_client *c,
		      double trust, uint64_t now, double in[PI_MAX])
{
	double up_s = (double)(c->last_ns - c->first_ns) / 1e9; /* seen from first to last */

	(void)now;
	double ops = (double)c->turn_refreshes + (double)c->turn_perms + 10.0 * c->turn_allocs;

	for (int i = 0; i < CTL_CLIENT_DHT_OPS; i++)
		ops += c->dht_ops[i];
	in[PI_UPTIME] = clamp01(up_s / cfg->uptime_full_s);
	in[PI_ACTIVITY] = clamp01(ops / cfg->activity_full);
	in[PI_HISTORY] = 1.0 / (1.0 + c->errors);
	if (c->invitations)
		in[PI_HISTORY] /= 2; /* invited before and did not become a peer */
	in[PI_BANDWIDTH] =
	    up_s > 0 ? clamp01((double)c->relay_bytes * 8 / 1000 / up_s / cfg->bandwidth_full_kbps)
		     : 0;
	in[PI_TRUST] = clamp01(trust);
}

static void weights_of(const struct sn_promotion_config *cfg, uint32_t w[PI_MAX])
{
	w[PI_UPTIME] = cfg->weight_uptime;
	w[PI_ACTIVITY] = cfg->weight_activity;
	w[PI_HISTORY] = cfg->weight_history;
	w[PI_BANDWIDTH] = cfg->weight_bandwidth;
	w[PI_TRUST] = cfg->weight_trust;
}

double ctl_promo_score(const struct sn_promotion_config *cfg, const double in[PI_MAX])
{
	uint32_t w[PI_MAX], sum = 0;
	double s = 0;

	weights_of(cfg, w);
	for (int i = 0; i < PI_MAX; i++) {
		s += w[i] * in[i];
		sum += w[i];
	}
	return sum ? s / sum : 0;
}

/* ---------- keys and invitations ---------- */

static int load_or_make_key(struct ctl_promotion *p)
{
	char pub_path[SN_CONFIG_PATH_LEN + 8];
	EVP_PKEY *k = NULL;
	FILE *f = fopen(p->key_path, "r");
	BIO *b;
	long n;
	char *mem;

	if (f) {
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		if (!k || EVP_PKEY_id(k) != EVP_PKEY_ED25519) {
			SN_ERR("load_or_make_key: %s is not an Ed25519 PEM private key",
			       p->key_path);
			EVP_PKEY_free(k);
			return -EINVAL;
		}
	} else {
		EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
		int fd;

		if (!kc || EVP_PKEY_keygen_init(kc) <= 0 || EVP_PKEY_keygen(kc, &k) <= 0) {
			EVP_PKEY_CTX_free(kc);
			SN_ERR("load_or_make_key: Ed25519 key generation failed");
			return -ENOMEM;
		}
		EVP_PKEY_CTX_free(kc);
		fd = open(p->key_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		f = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (!f || !PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL)) {
			SN_ERR("load_or_make_key: cannot write %s: %s", p->key_path,
			       strerror(errno));
			if (f)
				fclose(f);
			else if (fd >= 0)
				close(fd);
			EVP_PKEY_free(k);
			return -EIO;
		}
		fclose(f);
		SN_INFO("promotion: generated the invitation key %s", p->key_path);
	}
	b = BIO_new(BIO_s_mem());
	if (!b || !PEM_write_bio_PUBKEY(b, k)) {
		BIO_free(b);
		EVP_PKEY_free(k);
		return -ENOMEM;
	}
	n = BIO_get_mem_data(b, &mem);
	if (n <= 0 || (size_t)n >= sizeof(p->pub_pem)) {
		BIO_free(b);
		EVP_PKEY_free(k);
		return -EMSGSIZE;
	}
	memcpy(p->pub_pem, mem, (size_t)n);
	p->pub_pem[n] = '\0';
	BIO_free(b);
	snprintf(pub_path, sizeof(pub_path), "%s.pub", p->key_path);
	f = fopen(pub_path, "w");
	if (!f || fputs(p->pub_pem, f) < 0) {
		SN_WARN("load_or_make_key: cannot write %s: %s", pub_path, strerror(errno));
	}
	if (f)
		fclose(f);
	p->key = k;
	return 0;
}

static void hex20(const uint8_t *id, char out[41])
{
	for (int i = 0; i < 20; i++)
		snprintf(out + 2 * i, 3, "%02x", id[i]);
}

/* Invitation key: SHA-1("supernode-invite:" + hex node id). */
static void invite_key(const uint8_t node[20], struct sn_node_id *key)
{
	char s[64];

	memcpy(s, "supernode-invite:", 17);
	hex20(node, s + 17);
	SHA1((const unsigned char *)s, 17 + 40, key->b);
}

static int sign_invitation(struct ctl_promotion *p, const struct ctl_promo_decision *d,
			   const uint8_t self[20], char *out, size_t cap)
{
	char app[41], cli[41], ip[INET6_ADDRSTRLEN] = "?";
	unsigned char sig[64], b64[128];
	size_t sig_len = sizeof(sig);
	EVP_MD_CTX *mc;
	int n, rc = -EINVAL;

	hex20(self, app);
	hex20(d->node, cli);
	inet_ntop(d->family, d->addr, ip, sizeof(ip));
	n = snprintf(
	    out, cap,
	    "{\"v\":1,\"type\":\"supernode-invite\",\"appliance\":\"%s\",\"client\":\"%s\","
	    "\"addr\":\"%s\",\"issued\":%" PRIu64 ",\"expires\":%" PRIu64
	    ",\"load\":%u,\"score\":%.3f,\"rank\":%u,\"reason\":\"load %u >= %u; rank %u "
	    "of %u; score %.3f\"}",
	    app, cli, ip, (uint64_t)(d->issued_real_ns / CTL_NS_PER_SEC),
	    (uint64_t)(d->expires_real_ns / CTL_NS_PER_SEC), d->load, d->score, d->rank, d->load,
	    p->cfg.load_high, d->rank, d->candidates, d->score);
	if (n < 0 || (size_t)n + 2 + 90 > cap)
		return -EMSGSIZE;
	mc = EVP_MD_CTX_new();
	if (mc && EVP_DigestSignInit(mc, NULL, NULL, NULL, p->key) > 0 &&
	    EVP_DigestSign(mc, sig, &sig_len, (const unsigned char *)out, (size_t)n) > 0) {
		int bl = EVP_EncodeBlock(b64, sig, (int)sig_len);

		out[n] = '\n';
		memcpy(out + n + 1, b64, (size_t)bl);
		rc = n + 1 + bl;
	}
	EVP_MD_CTX_free(mc);
	return rc;
}

/* Returns the stored value's id, 0 when not stored. */
static uint64_t store_invitation(struct ctl_promotion *p, const struct ctl_promo_decision *d)
{
	struct dht_store *s = p->dht ? ctl_dht_storage(p->dht) : NULL;
	const struct sn_node_id *self = p->dht ? ctl_dht_self(p->dht) : NULL;
	char buf[INVITE_MAX];
	struct sn_node_id key;
	struct dht_value v;
	struct dht_src src = {0};
	enum dht_put_status st;
	int len;

	if (!s || !self || !p->key)
		return 0;
	len = sign_invitation(p, d, self->b, buf, sizeof(buf));
	if (len < 0) {
		SN_WARN("store_invitation: signing failed (%d)", len);
		st_inc(&ctl_promo_stats.store_errors);
		return 0;
	}
	invite_key(d->node, &key);
	memset(&v, 0, sizeof(v));
	v.id = d->seq ^ ((uint64_t)d->issued_real_ns << 16) ^ 0x5eed;
	if (v.id == DHT_VALUE_INVALID_ID)
		v.id = 1;
	v.data = (const uint8_t *)buf;
	v.data_len = (uint32_t)len;
	/* charged to the appliance itself (the unspecified address), not to a client */
	src.family = AF_INET6;
	st = dht_store_put(s, &key, &v, &src, 0, ctl_mono_ns(), NULL);
	if (st != DHT_PUT_STORED && st != DHT_PUT_REFRESHED) {
		SN_WARN("store_invitation: put refused: %s", dht_put_status_names[st]);
		st_inc(&ctl_promo_stats.store_errors);
		return 0;
	}
	return v.id;
}

/* Stored values live a type expiration (10 min); an active invitation is kept alive. */
static void refresh_invitation(struct ctl_promotion *p, const struct ctl_client *c)
{
	struct dht_store *s = p->dht ? ctl_dht_storage(p->dht) : NULL;
	struct sn_node_id key;

	if (!s || !c->invite_vid)
		return;
	invite_key(c->node, &key);
	dht_store_refresh(s, &key, c->invite_vid, ctl_mono_ns());
}

/* ---------- probes ---------- */

static int probe_send(struct ctl_promotion *p, struct ctl_client *c, uint64_t now)
{
	struct sn_msg_inject *inj =
	    (struct sn_msg_inject *)((uint8_t *)p->tx + sizeof(struct sn_msg_hdr));
	const struct sn_node_id *self = p->dht ? ctl_dht_self(p->dht) : NULL;
	size_t alen = c->family == AF_INET6 ? 16 : 4;
	int len;

	if (!p->ch || p->ch->state != CTL_CHAN_READY || !self ||
	    (c->family == AF_INET && !p->have4) || (c->family == AF_INET6 && !p->have6))
		return -EADDRNOTAVAIL;
	c->probe_tid = ++p->next_tid ? p->next_tid : ++p->next_tid;
	memset(inj, 0, sizeof(*inj));
	len = sn_dht_build_ping(inj->payload, SN_CHANNEL_MAX_PAYLOAD, c->probe_tid, p->cfg_network,
				self);
	if (len < 0)
		return len;
	inj->port_id = UINT16_MAX;
	inj->payload_len = (uint16_t)len;
	inj->tuple.family = c->family;
	inj->tuple.src_port = htons(p->cfg.probe_port);
	inj->tuple.dst_port = c->dht_port;
	memcpy(inj->tuple.src, c->family == AF_INET ? p->addr4 : p->addr6, alen);
	memcpy(inj->tuple.dst, c->addr, alen);
	sn_msg_init(p->tx, SN_MSG_INJECT, ctl_chan_next_seq(p->ch),
		    (uint32_t)(sizeof(*inj) + (size_t)len));
	if (ctl_chan_send(p->ch, p->tx, sizeof(struct sn_msg_hdr) + sizeof(*inj) + (size_t)len) < 0)
		return -EIO;
	c->reach = CTL_REACH_PROBING;
	c->reach_ns = now;
	st_inc(&ctl_promo_stats.probes_sent);
	return 0;
}

static int on_probe_punt(struct ctl_chan *ch, const struct sn_msg_view *v, void *arg)
{
	struct ctl_promotion *p = arg;
	const struct sn_msg_punt *pu = v->u.punt;
	struct sn_dht_msg m;
	struct ctl_client *c;

	(void)ch;
	if (pu->tuple.dst_port != htons(p->cfg.probe_port))
		return 0;
	if (sn_dht_parse(v->payload, pu->payload_len, &m) != SN_DHT_R_OK ||
	    m.type != SN_DHT_T_REPLY)
		return 0;
	c = ctl_clients_find(&p->clients, pu->tuple.family, pu->tuple.src);
	if (!c || c->reach != CTL_REACH_PROBING || m.tid != c->probe_tid)
		return 0;
	c->reach = CTL_REACH_OPEN;
	c->reach_ns = ctl_mono_ns();
	st_inc(&ctl_promo_stats.probes_open);
	return 0;
}

static void probes(struct ctl_promotion *p, uint64_t now)
{
	uint64_t timeout = (uint64_t)p->cfg.probe_timeout_ms * CTL_NS_PER_MS;
	uint64_t ttl = (uint64_t)p->cfg.probe_ttl_s * CTL_NS_PER_SEC;
	uint32_t sent = 0;

	for (struct ctl_client *c = p->clients.head; c; c = c->next) {
		if (c->reach == CTL_REACH_PROBING && now - c->reach_ns >= timeout) {
			c->reach = CTL_REACH_CLOSED;
			c->reach_ns = now;
			st_inc(&ctl_promo_stats.probes_closed);
		}
		if (!p->cfg.probe_port || !c->has_node || sent >= p->cfg.probes_per_interval ||
		    c->reach == CTL_REACH_PROBING)
			continue;
		if (c->reach != CTL_REACH_UNKNOWN && now - c->reach_ns < ttl)
			continue;
		if (probe_send(p, c, now) == 0)
			sent++;
	}
}

/* ---------- load ---------- */

static uint64_t sum_ctr(const struct sn_stats_segment *seg, unsigned ctr)
{
	uint64_t s = 0;
	uint32_t n = ctl_stats_n_lcores(seg);

	for (uint32_t i = 0; i < n; i++)
		s += ctl_stats_load(&seg->lcores[i].counters[ctr]);
	return s;
}

static double rate(uint64_t cur, uint64_t prev, double dt)
{
	return cur >= prev && dt > 0 ? (double)(cur - prev) / dt : 0;
}

static void measure(struct ctl_promotion *p, uint64_t now)
{
	struct ctl_promo_load *l = &p->load;
	const struct sn_stats_segment *seg = ctl_stats_reader_get(&p->reader);
	double dt = p->last_ns ? (double)(now - p->last_ns) / 1e9 : 0;
	uint64_t media = 0, answers = 0, busy = 0, polls = 0, epoch = 0, rpc = 0, maint;
	uint32_t lc, lm, lb;

	memset(l, 0, sizeof(*l));
	if (seg) {
		epoch = ctl_stats_load(&seg->epoch);
		media = sum_ctr(seg, SN_CTR_TURN_TO_PEER_BYTES) +
			sum_ctr(seg, SN_CTR_TURN_TO_CLIENT_BYTES);
		answers =
		    sum_ctr(seg, SN_CTR_DHT_PING_ANSWERS) + sum_ctr(seg, SN_CTR_DHT_FIND_ANSWERS);
		busy = sum_ctr(seg, SN_CTR_BUSY_POLLS);
		polls = busy + sum_ctr(seg, SN_CTR_IDLE_POLLS);
	}
	for (int i = 0; i < SN_DHT_Q_MAX; i++)
		rpc += __atomic_load_n(&ctl_dht_stats.requests[i], __ATOMIC_RELAXED);
	maint = __atomic_load_n(&ctl_dht_stats.pings_sent, __ATOMIC_RELAXED) +
		__atomic_load_n(&ctl_dht_stats.finds_sent, __ATOMIC_RELAXED);
	if (p->have_prev && epoch == p->prev_epoch) {
		l->media_kbps = rate(media, p->prev_media, dt) * 8 / 1000;
		l->dht_answer_pps = rate(answers, p->prev_answers, dt);
		if (polls > p->prev_polls && busy >= p->prev_busy)
			l->busy_share =
			    (double)(busy - p->prev_busy) / (double)(polls - p->prev_polls);
	}
	if (p->have_prev) {
		l->dht_rpc_pps = rate(rpc, p->prev_rpc, dt);
		l->dht_maint_pps = rate(maint, p->prev_maint, dt);
	}
	p->prev_epoch = epoch;
	p->prev_media = media;
	p->prev_answers = answers;
	p->prev_busy = busy;
	p->prev_polls = polls;
	p->prev_rpc = rpc;
	p->prev_maint = maint;
	p->have_prev = true;
	p->last_ns = now;

	if (p->turn)
		l->allocations = __atomic_load_n(&p->turn->allocations, __ATOMIC_RELAXED);
	l->listeners = __atomic_load_n(&ctl_dht_stats.listeners, __ATOMIC_RELAXED);
	for (struct ctl_client *c = p->clients.head; c; c = c->next) {
		if (now - c->last_ns > DHT_CLIENT_WINDOW_NS)
			break; /* LRU order: the rest are older */
		if (c->has_node)
			l->dht_clients++;
	}
	l->clients = l->allocations + l->dht_clients + l->listeners;
	l->mem_clients = ctl_clients_bytes(&p->clients);
	l->mem_dht_store = __atomic_load_n(&ctl_dht_stats.stored_bytes, __ATOMIC_RELAXED);
	l->mem_turn = l->allocations * TURN_ALLOC_BYTES;
	lc = (uint32_t)(l->clients * 1000 / p->cfg.capacity_clients);
	lm = (uint32_t)(l->media_kbps * 1000 / p->cfg.capacity_kbps);
	lb = (uint32_t)(l->busy_share * 1000);
	l->load = lc > lm ? lc : lm;
	if (lb > l->load)
		l->load = lb;

	st_set(&ctl_promo_stats.load_permille, l->load);
	st_set(&ctl_promo_stats.load_clients, l->clients);
	st_set(&ctl_promo_stats.load_allocations, l->allocations);
	st_set(&ctl_promo_stats.load_dht_clients, l->dht_clients);
	st_set(&ctl_promo_stats.load_listeners, l->listeners);
	st_set(&ctl_promo_stats.load_media_kbps, (uint64_t)l->media_kbps);
	st_set(&ctl_promo_stats.load_dht_answer_pps, (uint64_t)l->dht_answer_pps);
	st_set(&ctl_promo_stats.load_dht_rpc_pps, (uint64_t)l->dht_rpc_pps);
	st_set(&ctl_promo_stats.load_dht_maint_pps, (uint64_t)l->dht_maint_pps);
	st_set(&ctl_promo_stats.mem_clients, l->mem_clients);
	st_set(&ctl_promo_stats.mem_dht_store, l->mem_dht_store);
	st_set(&ctl_promo_stats.mem_turn, l->mem_turn);
	st_set(&ctl_promo_stats.busy_permille, lb);
}

/* ---------- decisions ---------- */

struct cand {
	struct ctl_client *c;
	double in[PI_MAX];
	double score;
};

static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	/* ties: the older client first, so the order is stable between rounds */
	return x->c->first_ns < y->c->first_ns ? -1 : x->c->first_ns > y->c->first_ns;
}

uint32_t ctl_promotion_decide(struct ctl_promotion *p, uint32_t load, uint64_t now)
{
	uint64_t real = ctl_real_ns();
	uint32_t n = 0, issued = 0, active = 0;
	struct cand *cands;

	if (ctl_promo_hyst_step(&p->hyst, &p->cfg, load, now))
		SN_INFO("promotion: load %u permille, state %s", load,
			p->hyst.high ? "high" : "low");
	st_set(&ctl_promo_stats.state, p->hyst.high);
	st_set(&ctl_promo_stats.state_changes, p->hyst.changes);

	memset(p->reasons, 0, sizeof(p->reasons));
	for (struct ctl_client *c = p->clients.head; c; c = c->next) {
		if (c->invited && real >= c->invite_expires_ns)
			c->invited = false;
		if (c->invited)
			refresh_invitation(p, c);
		active += c->invited;
	}
	p->active_invites = active;
	cands = calloc(p->clients.n ? p->clients.n : 1, sizeof(*cands));
	if (!cands)
		return 0;
	for (struct ctl_client *c = p->clients.head; c; c = c->next) {
		enum ctl_promo_reason r =
		    ctl_promo_classify(&p->cfg, c, ctl_promo_suspect(p, c), now);

		p->reasons[r]++;
		if (r != CTL_PROMO_ELIGIBLE)
			continue;
		cands[n].c = c;
		ctl_promo_inputs(&p->cfg, c, ctl_promo_trust(c), now, cands[n].in);
		cands[n].score = ctl_promo_score(&p->cfg, cands[n].in);
		n++;
	}
	qsort(cands, n, sizeof(*cands), cand_cmp);
	for (uint32_t i = 0; p->hyst.high && i < n && issued < p->cfg.invites_per_interval &&
			     p->active_invites < p->cfg.max_invites;
	     i++) {
		struct ctl_client *c = cands[i].c;
		struct ctl_promo_decision *d = &p->log[p->n_decisions % CTL_PROMO_LOG];

		memset(d, 0, sizeof(*d));
		d->seq = ++p->n_decisions;
		d->issued_real_ns = real;
		d->expires_real_ns = real + (uint64_t)p->cfg.invitation_lifetime_s * CTL_NS_PER_SEC;
		d->family = c->family;
		memcpy(d->addr, c->addr, sizeof(d->addr));
		memcpy(d->node, c->node, sizeof(d->node));
		d->load = load;
		d->rank = i + 1;
		d->candidates = n;
		memcpy(d->inputs, cands[i].in, sizeof(d->inputs));
		weights_of(&p->cfg, d->weights);
		d->score = cands[i].score;
		c->invite_vid = store_invitation(p, d);
		d->stored = c->invite_vid != 0;
		c->invited = true;
		c->invitations++;
		c->invited_ns = real;
		c->invite_expires_ns = d->expires_real_ns;
		p->active_invites++;
		p->reasons[CTL_PROMO_ELIGIBLE]--;
		p->reasons[CTL_PROMO_INVITED]++;
		issued++;
		st_inc(&ctl_promo_stats.decisions[0]);
		{
			char ip[INET6_ADDRSTRLEN] = "?";

			inet_ntop(c->family, c->addr, ip, sizeof(ip));
			SN_INFO("promotion: invited %s (rank %u of %u, score %.3f, load %u)", ip,
				d->rank, n, d->score, load);
		}
	}
	free(cands);
	for (int r = 0; r < CTL_PROMO_REASON_MAX; r++)
		st_set(&ctl_promo_stats.candidates[r], p->reasons[r]);
	st_set(&ctl_promo_stats.invitations_active, p->active_invites);
	st_set(&ctl_promo_stats.clients, p->clients.n);
	st_set(&ctl_promo_stats.evictions, p->clients.evictions);
	return issued;
}

/* ---------- lifecycle ---------- */

void ctl_promotion_tick(struct ctl_promotion *p, uint64_t now)
{
	if (!p || now < p->next_ns)
		return;
	p->next_ns = now + (uint64_t)p->cfg.interval_ms * CTL_NS_PER_MS;
	measure(p, now);
	probes(p, now);
	ctl_promotion_decide(p, p->load.load, now);
}

int ctl_promotion_init(struct ctl_promotion **out, const struct sn_config *cfg, struct ctl_chan *ch,
		       struct ctl_dht *dht, const struct ctl_turn_counters *turn)
{
	struct ctl_promotion *p;
	int rc;

	*out = NULL;
	if (!cfg->promotion.enabled)
		return 0;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cfg = cfg->promotion;
	p->cfg_network = cfg->dht.network_id;
	p->ch = ch;
	p->dht = dht;
	p->turn = turn;
	rc = ctl_clients_init(&p->clients, p->cfg.max_clients);
	if (rc < 0) {
		free(p);
		return rc;
	}
	ctl_stats_reader_init(&p->reader, cfg->runtime_dir);
	if (p->cfg.key_path[0])
		snprintf(p->key_path, sizeof(p->key_path), "%s", p->cfg.key_path);
	else if (snprintf(p->key_path, sizeof(p->key_path), "%s/promotion.key", cfg->runtime_dir) >=
		 (int)sizeof(p->key_path)) {
		rc = -ENAMETOOLONG;
		goto fail;
	}
	rc = load_or_make_key(p);
	if (rc < 0)
		goto fail;
	for (int i = 0; i < cfg->dataplane.n_ports; i++) {
		const struct sn_port_config *pc = &cfg->dataplane.ports[i];

		if (pc->has_ipv4 && !p->have4) {
			memcpy(p->addr4, &pc->ipv4, 4);
			p->have4 = true;
		}
		if (pc->has_ipv6 && !p->have6) {
			memcpy(p->addr6, &pc->ipv6, 16);
			p->have6 = true;
		}
	}
	if (p->cfg.probe_port) {
		bool punted = false;

		for (int i = 0; i < cfg->dataplane.n_dispatch; i++)
			punted |= cfg->dataplane.dispatch[i].port == p->cfg.probe_port &&
				  cfg->dataplane.dispatch[i].handler == SN_UDP_HANDLER_PUNT;
		if (!punted)
			SN_WARN("ctl_promotion_init: promotion.probe_port %u is not dispatched to "
				"punt: probe answers will not reach control",
				p->cfg.probe_port);
		if (ch)
			ctl_chan_set_punt_handler(ch, SN_PUNT_UDP_HANDLER, on_probe_punt, p);
	}
	if (getrandom(&p->next_tid, sizeof(p->next_tid), 0) != (ssize_t)sizeof(p->next_tid))
		p->next_tid = (uint32_t)ctl_mono_ns();
	p->hyst.since_ns = ctl_mono_ns();
	ctl_clients_set_current(&p->clients);
	st_set(&ctl_promo_stats.enabled, 1);
	g_promo = p;
	*out = p;
	SN_INFO("promotion: on (load high %u, low %u permille, dwell %u s, probe port %u, key %s)",
		p->cfg.load_high, p->cfg.load_low, p->cfg.dwell_s, p->cfg.probe_port, p->key_path);
	return 0;
fail:
	ctl_stats_reader_fini(&p->reader);
	ctl_clients_fini(&p->clients);
	free(p);
	return rc;
}

void ctl_promotion_fini(struct ctl_promotion *p)
{
	if (!p)
		return;
	if (g_promo == p)
		g_promo = NULL;
	if (p->ch && p->cfg.probe_port)
		ctl_chan_set_punt_handler(p->ch, SN_PUNT_UDP_HANDLER, NULL, NULL);
	st_set(&ctl_promo_stats.enabled, 0);
	EVP_PKEY_free(p->key);
	ctl_stats_reader_fini(&p->reader);
	ctl_clients_fini(&p->clients);
	free(p);
}
