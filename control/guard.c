/* guard.c: bans and suspect marks, from heavy-hitter reports, other modules and the
 * operator; kept in step with the dataplane's SN_TABLE_GUARD (see guard.h). */
#include "guard.h"

#include "admin.h"
#include "json.h"
#include "sn_log.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define OFFENDERS    256  /* sources with strikes being tracked */
#define SENT_SEQS    1024 /* table commands whose acks are ours */
#define PENDING_DELS 256  /* unbans waiting for the dataplane */

const char *const ctl_guard_reason_names[CTL_GUARD_R_MAX] = {
#define CTL_X_NAME(name, label) label,
    CTL_GUARD_REASONS(CTL_X_NAME)
#undef CTL_X_NAME
};

struct guard_key {
	uint8_t family;
	uint8_t plen;
	uint8_t addr[16];
};

struct guard_entry {
	struct guard_key k;
	uint8_t action;	       /* SN_GUARD_BAN / SN_GUARD_SUSPECT */
	uint8_t reason;	       /* enum ctl_guard_reason */
	uint64_t expires_mono; /* ns */
	uint64_t expires_real; /* ns, as pushed */
	uint64_t hits;	       /* drops the dataplane reported for this key */
	char text[32];	       /* who asked and why */
};

struct offender {
	struct guard_key k;
	uint32_t strikes;
	uint64_t last_ns; /* 0: free */
};

/* Read by the metrics thread: relaxed atomics (ctl_ctr_*). */
struct guard_stats {
	uint64_t active[3];		    /* [action]: entries held (gauge) */
	uint64_t added[3][CTL_GUARD_R_MAX]; /* [action][reason] */
	uint64_t expired;		    /* entries that ran out */
	uint64_t removed;		    /* unbans */
	uint64_t reports;		    /* GUARD_REPORT messages */
	uint64_t report_drops;		    /* drops those reports covered */
	uint64_t strikes;		    /* report entries over guard.ban_drops */
	uint64_t table_cmds;		    /* TABLE_CMD sent */
	uint64_t table_errors;		    /* refused or unsendable */
	uint64_t full;			    /* refused: guard.max_bans held */
};

static struct {
	const struct sn_config *cfg;
	struct ctl_chan *ch;
	bool up;
	struct guard_entry *e;
	uint32_t n, cap;
	struct offender off[OFFENDERS];
	uint32_t seqs[SENT_SEQS];
	uint32_t n_seqs;
	struct guard_key dels[PENDING_DELS];
	uint32_t n_dels;
	struct guard_stats st;
} G;

static unsigned max_len(int family)
{
	return family == AF_INET ? 32 : 128;
}

static void key_make(struct guard_key *k, int family, const uint8_t *addr, unsigned plen)
{
	unsigned n = family == AF_INET ? 4 : 16;
	memset(k, 0, sizeof(*k));
	k->family = (uint8_t)family;
	k->plen = (uint8_t)plen;
	memcpy(k->addr, addr, n);
	for (unsigned i = 0; i < n; i++) {
		unsigned bit = i * 8;
		if (bit >= plen)
			k->addr[i] = 0;
		else if (bit + 8 > plen)
			k->addr[i] &= (uint8_t)(0xff << (8 - (plen - bit)));
	}
}

static bool key_eq(const struct guard_key *a, const struct guard_key *b)
{
	return a->family == b->family && a->plen == b->plen && !memcmp(a->addr, b->addr, 16);
}

static struct guard_entry *find(const struct guard_key *k)
{
	for (uint32_t i = 0; i < G.n; i++)
		if (key_eq(&G.e[i].k, k))
			return &G.e[i];
	return NULL;
}

static void key_text(const struct guard_key *k, char *buf, size_t n)
{
	char ip[INET6_ADDRSTRLEN];
	if (!inet_ntop(k->family, k->addr, ip, sizeof(ip)))
		snprintf(ip, sizeof(ip), "?");
	snprintf(buf, n, "%s/%u", ip, k->plen);
}

static bool ready(void)
{
	return G.ch && G.ch->state == CTL_CHAN_READY;
}

static void remember_seq(uint32_t seq)
{
	G.seqs[G.n_seqs++ % SENT_SEQS] = seq;
}

static int send_cmd(uint8_t op, const struct guard_key *k, const struct guard_entry *e)
{
	uint64_t buf[(sizeof(struct sn_msg_hdr) + sizeof(struct sn_msg_table_cmd) +
		      sizeof(struct sn_guard_key) + sizeof(struct sn_guard_value)) /
			 8 +
		     1];
	struct sn_guard_key key = {.family = k->family, .prefix_len = k->plen};
	struct sn_guard_value val = {0};
	uint32_t seq;
	int len;

	if (!ready())
		return -ENOTCONN;
	memcpy(key.addr, k->addr, sizeof(key.addr));
	if (e) {
		val.action = e->action;
		val.expires_ns = e->expires_real;
	}
	seq = ctl_chan_next_seq(G.ch);
	len = sn_msg_build_table(buf, sizeof(buf), SN_MSG_TABLE_CMD, seq, SN_TABLE_GUARD, op, &key,
				 sizeof(key), op == SN_TABLE_OP_ADD ? &val : NULL,
				 op == SN_TABLE_OP_ADD ? sizeof(val) : 0);
	if (len < 0 || ctl_chan_send(G.ch, buf, (size_t)len) < 0) {
		ctl_ctr_inc(&G.st.table_errors);
		return len < 0 ? len : -EAGAIN;
	}
	remember_seq(seq);
	ctl_ctr_inc(&G.st.table_cmds);
	return 0;
}

static void count_active(void)
{
	uint64_t b = 0, s = 0;
	for (uint32_t i = 0; i < G.n; i++)
		if (G.e[i].action == SN_GUARD_BAN)
			b++;
		else
			s++;
	ctl_ctr_set(&G.st.active[SN_GUARD_BAN], b);
	ctl_ctr_set(&G.st.active[SN_GUARD_SUSPECT], s);
}

static void remove_at(uint32_t i)
{
	G.e[i] = G.e[--G.n];
	count_active();
}

/* Adds or strengthens an entry. A ban is never downgraded to suspect; a later expiry wins. */
static int put(int family, const uint8_t *addr, unsigned plen, uint32_t seconds, uint8_t action,
	       enum ctl_guard_reason reason, const char *text)
{
	struct guard_key k;
	struct guard_entry *e;
	uint64_t now = ctl_mono_ns();

	if (!G.cfg || (family != AF_INET && family != AF_INET6) || !addr || plen == 0 ||
	    plen > max_len(family) || seconds == 0)
		return -EINVAL;
	key_make(&k, family, addr, plen);
	e = find(&k);
	if (!e) {
		if (G.n == G.cap) {
			ctl_ctr_inc(&G.st.full);
			return -ENOSPC;
		}
		e = &G.e[G.n++];
		memset(e, 0, sizeof(*e));
		e->k = k;
		e->action = action;
	} else if (e->action == SN_GUARD_BAN && action == SN_GUARD_SUSPECT) {
		return 0;
	}
	uint64_t exp = now + (uint64_t)seconds * CTL_NS_PER_SEC;
	if (e->action != action || exp > e->expires_mono) {
		e->expires_mono = exp;
		e->expires_real = ctl_real_ns() + (uint64_t)seconds * CTL_NS_PER_SEC;
	}
	e->action = action;
	e->reason = (uint8_t)reason;
	snprintf(e->text, sizeof(e->text), "%s", text ? text : ctl_guard_reason_names[reason]);
	ctl_ctr_inc(&G.st.added[action][reason]);
	count_active();
	char kt[64];
	key_text(&k, kt, sizeof(kt));
	SN_INFO("guard: %s %s for %u s (%s)", action == SN_GUARD_BAN ? "ban" : "suspect", kt,
		seconds, e->text);
	send_cmd(SN_TABLE_OP_ADD, &k, e); /* when not ready: pushed at the next resync */
	return 0;
}

int ctl_guard_ban(int family, const uint8_t addr[16], uint8_t prefix_len, uint32_t seconds,
		  const char *reason)
{
	return put(family, addr, prefix_len, seconds, SN_GUARD_BAN, CTL_GUARD_R_MODULE, reason);
}

int ctl_guard_suspect(int family, const uint8_t addr[16], uint8_t prefix_len, uint32_t seconds,
		      const char *reason)
{
	return put(family, addr, prefix_len, seconds, SN_GUARD_SUSPECT, CTL_GUARD_R_MODULE, reason);
}

int ctl_guard_unban(int family, const uint8_t addr[16], uint8_t prefix_len)
{
	struct guard_key k;

	if ((family != AF_INET && family != AF_INET6) || !addr || prefix_len == 0 ||
	    prefix_len > max_len(family))
		return -EINVAL;
	key_make(&k, family, addr, prefix_len);
	struct guard_entry *e = find(&k);
	if (!e)
		return -ENOENT;
	remove_at((uint32_t)(e - G.e));
	ctl_ctr_inc(&G.st.removed);
	if (send_cmd(SN_TABLE_OP_DEL, &k, NULL) < 0 && G.n_dels < PENDING_DELS)
		G.dels[G.n_dels++] = k; /* deleted at the next resync instead of adopted */
	return 0;
}

/* ---------- channel hooks ---------- */

static void hook_dump_entry(void *arg, uint16_t table, const void *key, uint16_t key_len,
			    const void *val, uint16_t val_len)
{
	struct sn_guard_key k;
	struct sn_guard_value v;
	struct guard_key gk;

	if (table != SN_TABLE_GUARD || key_len != sizeof(k) || val_len != sizeof(v))
		return;
	memcpy(&k, key, sizeof(k));
	memcpy(&v, val, sizeof(v));
	if ((k.family != AF_INET && k.family != AF_INET6) || k.prefix_len == 0 ||
	    k.prefix_len > max_len(k.family))
		return;
	key_make(&gk, k.family, k.addr, k.prefix_len);
	for (uint32_t i = 0; i < G.n_dels; i++)
		if (key_eq(&G.dels[i], &gk))
			return;
	if (find(&gk) || G.n == G.cap)
		return;
	uint64_t real = ctl_real_ns();
	if (v.expires_ns <= real || (v.action != SN_GUARD_BAN && v.action != SN_GUARD_SUSPECT))
		return;
	/* an earlier control's entry: keep it until it expires */
	struct guard_entry *e = &G.e[G.n++];
	memset(e, 0, sizeof(*e));
	e->k = gk;
	e->action = v.action;
	e->reason = CTL_GUARD_R_MODULE;
	e->expires_real = v.expires_ns;
	e->expires_mono = ctl_mono_ns() + (v.expires_ns - real);
	snprintf(e->text, sizeof(e->text), "adopted");
	count_active();
}

static void hook_ready(void *arg, uint64_t now)
{
	for (uint32_t i = 0; i < G.n_dels; i++)
		send_cmd(SN_TABLE_OP_DEL, &G.dels[i], NULL);
	G.n_dels = 0;
	for (uint32_t i = 0; i < G.n; i++)
		send_cmd(SN_TABLE_OP_ADD, &G.e[i].k, &G.e[i]);
	if (G.n)
		SN_INFO("guard: %u bans and suspect marks pushed to the dataplane", G.n);
}

static bool hook_ack(void *arg, uint32_t seq, int32_t result, uint32_t entries)
{
	uint32_t n = G.n_seqs < SENT_SEQS ? G.n_seqs : SENT_SEQS;
	for (uint32_t i = 0; i < n; i++) {
		if (G.seqs[i] != seq)
			continue;
		G.seqs[i] = 0;
		if (result < 0 && result != -ENOENT) {
			ctl_ctr_inc(&G.st.table_errors);
			SN_WARN("guard: dataplane refused a guard table command: %s",
				strerror(-result));
		}
		return true;
	}
	return false;
}

static void on_report_hook(const struct sn_msg_guard_report *r, uint64_t now)
{
	ctl_guard_on_report(r, now);
}

int ctl_guard_init(const struct sn_config *cfg, struct ctl_chan *chan)
{
	memset(&G, 0, sizeof(G));
	G.cfg = cfg;
	G.ch = chan;
	G.cap = cfg->guard.max_bans;
	G.e = calloc(G.cap, sizeof(*G.e));
	if (!G.e) {
		SN_ERR("ctl_guard_init: no memory for %u bans", G.cap);
		return -ENOMEM;
	}
	if (chan) {
		struct ctl_table_hooks h = {
		    .tables = 1u << SN_TABLE_GUARD,
		    .dump_entry = hook_dump_entry,
		    .ready = hook_ready,
		    .ack = hook_ack,
		};
		int rc = ctl_chan_add_table_hooks(chan, &h);
		if (rc < 0) {
			SN_ERR("ctl_guard_init: table hooks: %s", strerror(-rc));
			free(G.e);
			G.e = NULL;
			return rc;
		}
		chan->guard_report = on_report_hook;
	}
	G.up = true;
	return 0;
}

void ctl_guard_fini(void)
{
	free(G.e);
	memset(&G, 0, sizeof(G));
}

void ctl_guard_tick(uint64_t now)
{
	for (uint32_t i = 0; i < G.n;) {
		if (G.e[i].expires_mono > now) {
			i++;
			continue;
		}
		struct guard_key k = G.e[i].k;
		char kt[64];
		key_text(&k, kt, sizeof(kt));
		SN_INFO("guard: %s %s expired", G.e[i].action == SN_GUARD_BAN ? "ban" : "suspect",
			kt);
		remove_at(i);
		ctl_ctr_inc(&G.st.expired);
		send_cmd(SN_TABLE_OP_DEL, &k, NULL); /* the dataplane ignores it already */
	}
}

/* One report entry over guard.ban_drops. Reports of several workers for one interval
 * arrive together: strikes count intervals, not reports. */
static void strike(const struct guard_key *k, uint64_t now)
{
	const struct sn_guard_config *gc = &G.cfg->guard;
	uint64_t period = (uint64_t)gc->report_ms * 1000000u;
	struct offender *o = NULL, *oldest = &G.off[0];

	ctl_ctr_inc(&G.st.strikes);
	for (int i = 0; i < OFFENDERS; i++) {
		if (G.off[i].last_ns && key_eq(&G.off[i].k, k)) {
			o = &G.off[i];
			break;
		}
		if (G.off[i].last_ns < oldest->last_ns)
			oldest = &G.off[i];
	}
	if (!o) {
		o = oldest;
		memset(o, 0, sizeof(*o));
		o->k = *k;
	} else if (now - o->last_ns < period / 2) {
		return; /* same interval, another worker */
	} else if (now - o->last_ns > 2 * period + period / 2) {
		o->strikes = 0; /* a pause: start over */
	}
	o->strikes++;
	o->last_ns = now;
	if (o->strikes >= gc->ban_intervals) {
		put(k->family, k->addr, k->plen, gc->ban_seconds, SN_GUARD_BAN,
		    CTL_GUARD_R_HEAVY_HITTER, NULL);
		o->last_ns = 0;
	} else if (o->strikes == 1) {
		put(k->family, k->addr, k->plen, gc->suspect_seconds, SN_GUARD_SUSPECT,
		    CTL_GUARD_R_HEAVY_HITTER, NULL);
	}
}

void ctl_guard_on_report(const struct sn_msg_guard_report *r, uint64_t now)
{
	if (!G.up)
		return;
	ctl_ctr_inc(&G.st.reports);
	__atomic_fetch_add(&G.st.report_drops, r->drops, __ATOMIC_RELAXED);
	for (uint16_t i = 0; i < r->n_entries; i++) {
		const struct sn_guard_report_entry *re = &r->entries[i];
		struct guard_key k;
		key_make(&k, re->family, re->addr, re->prefix_len);
		struct guard_entry *e = find(&k);
		if (e)
			e->hits += re->drops;
		if (re->reason == SN_GUARD_RR_BANNED || re->drops < G.cfg->guard.ban_drops)
			continue;
		strike(&k, now);
	}
}

/* ---------- admin ---------- */

static int cmd_error(struct ctl_buf *out, bool json, int err, const char *msg)
{
	ctl_buf_reset(out);
	if (json) {
		struct ctl_json j;
		ctl_json_init(&j, out);
		ctl_json_obj_begin(&j);
		ctl_json_kv_str(&j, "error", msg);
		ctl_json_kv_i64(&j, "errno", err);
		ctl_json_obj_end(&j);
		ctl_buf_putc(out, '\n');
	} else {
		ctl_buf_printf(out, "error: %s\n", msg);
	}
	return err;
}

/* "ADDR" or "ADDR/LEN" */
static int parse_target(const char *s, int *family, uint8_t addr[16], unsigned *plen)
{
	char ip[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);

	if (n == 0 || n >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, s, n);
	ip[n] = '\0';
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, ip, addr) == 1)
		*family = AF_INET;
	else if (inet_pton(AF_INET6, ip, addr) == 1)
		*family = AF_INET6;
	else
		return -EINVAL;
	*plen = max_len(*family);
	if (slash) {
		char *end;
		unsigned long v = strtoul(slash + 1, &end, 10);
		if (!slash[1] || *end || v == 0 || v > max_len(*family))
			return -EINVAL;
		*plen = (unsigned)v;
	}
	return 0;
}

static int cmd_ok(struct ctl_buf *out, bool json, const char *what, const struct guard_key *k)
{
	char kt[64];
	key_text(k, kt, sizeof(kt));
	if (json) {
		struct ctl_json j;
		ctl_json_init(&j, out);
		ctl_json_obj_begin(&j);
		ctl_json_kv_str(&j, "result", what);
		ctl_json_kv_str(&j, "address", kt);
		ctl_json_kv_bool(&j, "in_dataplane", ready());
		ctl_json_obj_end(&j);
		ctl_buf_putc(out, '\n');
	} else {
		ctl_buf_printf(out, "%s %s%s\n", what, kt,
			       ready() ? "" : " (dataplane not connected: pushed when it is)");
	}
	return 0;
}

int ctl_guard_cmd_ban(struct ctl_admin_ctx *ctx, int argc, char **argv, bool json,
		      struct ctl_buf *out)
{
	int family, rc;
	uint8_t addr[16];
	unsigned plen;
	char *end;

	if (argc == 1) /* no target: what is banned, as `bans` */
		return ctl_guard_cmd_bans(ctx, argc, argv, json, out);
	if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "suspect") != 0))
		return cmd_error(out, json, -EINVAL, "usage: ban ADDR[/LEN] SECONDS [suspect]");
	if (parse_target(argv[1], &family, addr, &plen) < 0)
		return cmd_error(out, json, -EINVAL, "not an address or prefix");
	unsigned long secs = strtoul(argv[2], &end, 10);
	if (!argv[2][0] || *end || secs == 0 || secs > 31536000)
		return cmd_error(out, json, -EINVAL, "SECONDS: 1 to 31536000");
	rc = put(family, addr, plen, (uint32_t)secs, argc == 4 ? SN_GUARD_SUSPECT : SN_GUARD_BAN,
		 CTL_GUARD_R_MANUAL, "manual");
	if (rc < 0)
		return cmd_error(out, json, rc,
				 rc == -ENOSPC ? "guard.max_bans entries held" : strerror(-rc));
	struct guard_key k;
	key_make(&k, family, addr, plen);
	return cmd_ok(out, json, argc == 4 ? "suspect" : "banned", &k);
}

int ctl_guard_cmd_unban(struct ctl_admin_ctx *ctx, int argc, char **argv, bool json,
			struct ctl_buf *out)
{
	int family, rc;
	uint8_t addr[16];
	unsigned plen;

	if (argc == 1)
		return ctl_guard_cmd_bans(ctx, argc, argv, json, out);
	if (argc != 2)
		return cmd_error(out, json, -EINVAL, "usage: unban ADDR[/LEN]");
	if (parse_target(argv[1], &family, addr, &plen) < 0)
		return cmd_error(out, json, -EINVAL, "not an address or prefix");
	rc = ctl_guard_unban(family, addr, (uint8_t)plen);
	if (rc < 0)
		return cmd_error(out, json, rc, rc == -ENOENT ? "no such ban" : strerror(-rc));
	struct guard_key k;
	key_make(&k, family, addr, plen);
	return cmd_ok(out, json, "unbanned", &k);
}

int ctl_guard_cmd_bans(struct ctl_admin_ctx *ctx, int argc, char **argv, bool json,
		       struct ctl_buf *out)
{
	uint64_t now = ctl_mono_ns();
	char kt[64];

	if (json) {
		struct ctl_json j;
		ctl_json_init(&j, out);
		ctl_json_obj_begin(&j);
		ctl_json_kv_bool(&j, "enabled", G.cfg && G.cfg->guard.enabled);
		ctl_json_kv_u64(&j, "reports", ctl_ctr_get(&G.st.reports));
		ctl_json_kv_u64(&j, "report_drops", ctl_ctr_get(&G.st.report_drops));
		ctl_json_key(&j, "bans");
		ctl_json_arr_begin(&j);
		for (uint32_t i = 0; i < G.n; i++) {
			const struct guard_entry *e = &G.e[i];
			char ip[INET6_ADDRSTRLEN];
			inet_ntop(e->k.family, e->k.addr, ip, sizeof(ip));
			ctl_json_obj_begin(&j);
			ctl_json_kv_str(&j, "address", ip);
			ctl_json_kv_u64(&j, "prefix_len", e->k.plen);
			ctl_json_kv_str(&j, "action",
					e->action == SN_GUARD_BAN ? "ban" : "suspect");
			ctl_json_kv_str(&j, "reason", ctl_guard_reason_names[e->reason]);
			ctl_json_kv_str(&j, "text", e->text);
			ctl_json_kv_u64(
			    &j, "expires_in_s",
			    e->expires_mono > now ? (e->expires_mono - now) / CTL_NS_PER_SEC : 0);
			ctl_json_kv_u64(&j, "hits", e->hits);
			ctl_json_obj_end(&j);
		}
		ctl_json_arr_end(&j);
		ctl_json_obj_end(&j);
		ctl_buf_putc(out, '\n');
		return 0;
	}
	ctl_buf_printf(out, "guard %s: %u entries (max %u), %" PRIu64 " reports\n",
		       G.cfg && G.cfg->guard.enabled ? "on" : "off", G.n, G.cap,
		       ctl_ctr_get(&G.st.reports));
	ctl_buf_printf(out, "%-44s %-8s %-13s %-16s %10s %12s\n", "ADDRESS", "ACTION", "REASON",
		       "TEXT", "EXPIRES_S", "HITS");
	for (uint32_t i = 0; i < G.n; i++) {
		const struct guard_entry *e = &G.e[i];
		key_text(&e->k, kt, sizeof(kt));
		ctl_buf_printf(out, "%-44s %-8s %-13s %-16s %10" PRIu64 " %12" PRIu64 "\n", kt,
			       e->action == SN_GUARD_BAN ? "ban" : "suspect",
			       ctl_guard_reason_names[e->reason], e->text,
			       e->expires_mono > now
				   ? (uint64_t)((e->expires_mono - now) / CTL_NS_PER_SEC)
				   : 0,
			       e->hits);
	}
	return 0;
}

/* ---------- metrics ---------- */

static void family_hdr(struct ctl_buf *b, const char *name, const char *type, const char *help)
{
	ctl_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void ctl_guard_metrics_render(struct ctl_buf *b)
{
	const struct guard_stats *s = &G.st;

	if (!G.up)
		return;
	static const char *const names[3][2] = {
	    {NULL, NULL},
	    {"supernode_guard_bans_active", "supernode_guard_bans_total"},
	    {"supernode_guard_suspects_active", "supernode_guard_suspects_total"},
	};
	static const char *const helps[3][2] = {
	    {NULL, NULL},
	    {"Bans held by control (and pushed to the dataplane)", "Bans made, by reason"},
	    {"Suspect marks held by control (and pushed to the dataplane)",
	     "Suspect marks made, by reason"},
	};
	for (int a = SN_GUARD_BAN; a <= SN_GUARD_SUSPECT; a++) {
		family_hdr(b, names[a][0], "gauge", helps[a][0]);
		ctl_buf_printf(b, "%s %" PRIu64 "\n", names[a][0], ctl_ctr_get(&s->active[a]));
		family_hdr(b, names[a][1], "counter", helps[a][1]);
		for (int r = 0; r < CTL_GUARD_R_MAX; r++)
			ctl_buf_printf(b, "%s{reason=\"%s\"} %" PRIu64 "\n", names[a][1],
				       ctl_guard_reason_names[r], ctl_ctr_get(&s->added[a][r]));
	}
	family_hdr(b, "supernode_guard_bans_expired_total", "counter",
		   "Bans and suspect marks that ran out");
	ctl_buf_printf(b, "supernode_guard_bans_expired_total %" PRIu64 "\n",
		       ctl_ctr_get(&s->expired));
	family_hdr(b, "supernode_guard_unbans_total", "counter", "Bans lifted by unban");
	ctl_buf_printf(b, "supernode_guard_unbans_total %" PRIu64 "\n", ctl_ctr_get(&s->removed));
	family_hdr(b, "supernode_guard_bans_refused_total", "counter",
		   "Bans refused because guard.max_bans entries were held");
	ctl_buf_printf(b, "supernode_guard_bans_refused_total %" PRIu64 "\n",
		       ctl_ctr_get(&s->full));
	family_hdr(b, "supernode_guard_reports_total", "counter",
		   "Heavy-hitter reports received from the dataplane's workers");
	ctl_buf_printf(b, "supernode_guard_reports_total %" PRIu64 "\n", ctl_ctr_get(&s->reports));
	family_hdr(b, "supernode_guard_report_drops_total", "counter",
		   "Policed drops covered by the heavy-hitter reports");
	ctl_buf_printf(b, "supernode_guard_report_drops_total %" PRIu64 "\n",
		       ctl_ctr_get(&s->report_drops));
	family_hdr(b, "supernode_guard_strikes_total", "counter",
		   "Report entries over guard.ban_drops");
	ctl_buf_printf(b, "supernode_guard_strikes_total %" PRIu64 "\n", ctl_ctr_get(&s->strikes));
	family_hdr(b, "supernode_guard_table_commands_total", "counter",
		   "Guard table commands sent to the dataplane");
	ctl_buf_printf(b, "supernode_guard_table_commands_total %" PRIu64 "\n",
		       ctl_ctr_get(&s->table_cmds));
	family_hdr(b, "supernode_guard_table_errors_total", "counter",
		   "Guard table commands refused by the dataplane or not sent");
	ctl_buf_printf(b, "supernode_guard_table_errors_total %" PRIu64 "\n",
		       ctl_ctr_get(&s->table_errors));
}
