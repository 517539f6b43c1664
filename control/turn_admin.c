/* turn_admin.c: the admin command `allocations` (see turn.h). */
#include "json.h"
#include "table.h"
#include "turn_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALLOC_LIST_MAX 4096 /* allocations listed in one reply */

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

/* "198.18.0.2:40000" or "[2001:db8::2]:40000" */
static void addr_port(char *buf, size_t n, uint8_t family, const uint8_t *addr, uint16_t port_be)
{
	char ip[INET6_ADDRSTRLEN];

	if (!inet_ntop(family, addr, ip, sizeof(ip)))
		snprintf(ip, sizeof(ip), "?");
	if (family == AF_INET6)
		snprintf(buf, n, "[%s]:%u", ip, ntohs(port_be));
	else
		snprintf(buf, n, "%s:%u", ip, ntohs(port_be));
}

static void relayed(const struct ctl_turn *t, const struct turn_alloc *a, char *buf, size_t n)
{
	struct sn_stun_addr ra;
	char one[64];

	buf[0] = '\0';
	for (int f = 0; f < 2; f++) {
		uint8_t fam = f == 0 ? AF_INET : AF_INET6;

		if (!turn_relay_addr(t, a, fam, &ra))
			continue;
		addr_port(one, sizeof(one), fam, ra.addr, ra.port);
		snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", buf[0] ? " " : "", one);
	}
	if (!buf[0])
		snprintf(buf, n, "-");
}

static void one_json(const struct ctl_turn *t, const struct turn_alloc *a, struct ctl_json *j,
		     uint64_t now, uint64_t now_real)
{
	struct sn_stun_addr ra;
	char s[96];

	ctl_json_obj_begin(j);
	ctl_json_kv_u64(j, "id", a->id);
	if (a->user)
		ctl_json_kv_str(j, "user", a->user->identity);
	else
		ctl_json_kv_str(j, "user", "");
	ctl_json_kv_bool(j, "adopted", !a->have_tid);
	addr_port(s, sizeof(s), a->client.family, a->client.src, a->client.src_port);
	ctl_json_kv_str(j, "client", s);
	addr_port(s, sizeof(s), a->client.family, a->client.dst, a->client.dst_port);
	ctl_json_kv_str(j, "server", s);
	ctl_json_kv_u64(j, "port_index", a->port_idx);
	ctl_json_key(j, "relayed");
	ctl_json_arr_begin(j);
	for (int f = 0; f < 2; f++) {
		uint8_t fam = f == 0 ? AF_INET : AF_INET6;

		if (!turn_relay_addr(t, a, fam, &ra))
			continue;
		addr_port(s, sizeof(s), fam, ra.addr, ra.port);
		ctl_json_str(j, s);
	}
	ctl_json_arr_end(j);
	ctl_json_kv_double(j, "lifetime_seconds",
			   a->expires_ns > now_real ? (double)(a->expires_ns - now_real) / 1e9 : 0);
	ctl_json_kv_str(j, "dataplane",
			a->sync.state == TURN_DP_OK	   ? "installed"
			: a->sync.state == TURN_DP_PENDING ? "pending"
							   : "missing");
	ctl_json_key(j, "permissions");
	ctl_json_arr_begin(j);
	for (uint32_t i = 0; i < a->n_perms; i++) {
		const struct turn_perm *p = &a->perms[i];
		char ip[INET6_ADDRSTRLEN];

		ctl_json_obj_begin(j);
		if (!inet_ntop(p->family, p->addr, ip, sizeof(ip)))
			snprintf(ip, sizeof(ip), "?");
		ctl_json_kv_str(j, "peer", ip);
		ctl_json_kv_double(
		    j, "lifetime_seconds",
		    p->expires_ns > now_real ? (double)(p->expires_ns - now_real) / 1e9 : 0);
		ctl_json_obj_end(j);
	}
	ctl_json_arr_end(j);
	ctl_json_key(j, "channels");
	ctl_json_arr_begin(j);
	for (uint32_t i = 0; i < a->n_chans; i++) {
		const struct turn_chan *c = &a->chans[i];

		if (!c->bound)
			continue;
		ctl_json_obj_begin(j);
		ctl_json_kv_u64(j, "number", c->number);
		addr_port(s, sizeof(s), c->peer.family, c->peer.addr, c->peer.port);
		ctl_json_kv_str(j, "peer", s);
		ctl_json_kv_double(
		    j, "lifetime_seconds",
		    c->expires_ns > now_real ? (double)(c->expires_ns - now_real) / 1e9 : 0);
		ctl_json_obj_end(j);
	}
	ctl_json_arr_end(j);
	ctl_json_key(j, "counters");
	ctl_json_obj_begin(j);
	ctl_json_kv_u64(j, "to_peer_packets", a->to_peer_packets);
	ctl_json_kv_u64(j, "to_peer_bytes", a->to_peer_bytes);
	ctl_json_kv_u64(j, "to_client_packets", a->to_client_packets);
	ctl_json_kv_u64(j, "to_client_bytes", a->to_client_bytes);
	if (a->counters_mono_ns)
		ctl_json_kv_double(j, "age_seconds", (double)(now - a->counters_mono_ns) / 1e9);
	ctl_json_obj_end(j);
	ctl_json_obj_end(j);
}

int ctl_turn_cmd_allocations(struct ctl_turn *t, int argc, char **argv, bool json,
			     struct ctl_buf *out)
{
	uint64_t now = ctl_mono_ns(), now_real = turn_now_real(t);
	uint32_t want = UINT32_MAX, listed = 0;
	bool truncated = false, stale = false;
	struct ctl_json j;
	struct ctl_table tb;
	int rc;

	if (argc > 2)
		return cmd_error(out, json, -EINVAL, "usage: allocations [ID]");
	if (argc == 2) {
		char *end;
		unsigned long v = strtoul(argv[1], &end, 10);

		if (!argv[1][0] || *end || v >= UINT32_MAX)
			return cmd_error(out, json, -EINVAL, "allocation id must be a number");
		want = (uint32_t)v;
		if (!turn_alloc_by_id(t, want))
			return cmd_error(out, json, -ENOENT, "no such allocation");
	}
	/* counters come from dumps: ask for a fresh one when ours are old */
	for (uint32_t page = 0; page < t->n_id_pages && !stale; page++) {
		struct turn_alloc **pg = t->id_pages[page];

		for (uint32_t k = 0; pg && k < (1u << 12) && !stale; k++)
			if (pg[k] && (!pg[k]->counters_mono_ns ||
				      now - pg[k]->counters_mono_ns > TURN_COUNTERS_MAX_AGE_NS))
				stale = true;
	}
	if (stale)
		turn_request_counters(t, now);

	if (json) {
		ctl_json_init(&j, out);
		ctl_json_obj_begin(&j);
		ctl_json_kv_u64(&j, "count", t->n_allocs);
		ctl_json_kv_u64(&j, "permissions", t->n_perms_total);
		ctl_json_kv_u64(&j, "channels", t->n_chans_total);
		ctl_json_kv_bool(&j, "counters_refresh_requested", stale);
		ctl_json_key(&j, "allocations");
		ctl_json_arr_begin(&j);
	} else {
		ctl_table_init(&tb,
			       "ID USER CLIENT RELAYED LIFETIME PERMS CHANNELS TO_PEER_PKTS "
			       "TO_PEER_BYTES TO_CLIENT_PKTS TO_CLIENT_BYTES COUNTERS_AGE",
			       "rlllrrrrrrrr");
	}
	for (uint32_t page = 0; page < t->n_id_pages && !truncated; page++) {
		struct turn_alloc **pg = t->id_pages[page];

		for (uint32_t k = 0; pg && k < (1u << 12); k++) {
			const struct turn_alloc *a = pg[k];
			char s[128];
			uint32_t nb = 0;

			if (!a || (want != UINT32_MAX && a->id != want))
				continue;
			if (listed == ALLOC_LIST_MAX) {
				truncated = true;
				break;
			}
			listed++;
			for (uint32_t i = 0; i < a->n_chans; i++)
				nb += a->chans[i].bound;
			if (json) {
				one_json(t, a, &j, now, now_real);
				continue;
			}
			ctl_table_cell(&tb, "%u", a->id);
			ctl_table_cell(&tb, "%s", a->user ? a->user->identity : "(adopted)");
			addr_port(s, sizeof(s), a->client.family, a->client.src,
				  a->client.src_port);
			ctl_table_cell(&tb, "%s", s);
			relayed(t, a, s, sizeof(s));
			ctl_table_cell(&tb, "%s", s);
			ctl_table_cell(&tb, "%us",
				       a->expires_ns > now_real
					   ? (unsigned)((a->expires_ns - now_real) / 1000000000u)
					   : 0u);
			ctl_table_cell(&tb, "%u", a->n_perms);
			ctl_table_cell(&tb, "%u", nb);
			ctl_table_cell(&tb, "%" PRIu64, a->to_peer_packets);
			ctl_table_cell(&tb, "%" PRIu64, a->to_peer_bytes);
			ctl_table_cell(&tb, "%" PRIu64, a->to_client_packets);
			ctl_table_cell(&tb, "%" PRIu64, a->to_client_bytes);
			if (a->counters_mono_ns)
				ctl_table_cell(&tb, "%.1fs",
					       (double)(now - a->counters_mono_ns) / 1e9);
			else
				ctl_table_cell(&tb, "-");
		}
	}
	if (json) {
		ctl_json_arr_end(&j);
		ctl_json_kv_bool(&j, "truncated", truncated);
		ctl_json_obj_end(&j);
		ctl_buf_putc(out, '\n');
		return ctl_json_finish(&j);
	}
	ctl_buf_printf(out,
		       "%u allocations, %u permissions, %u channels (counters from the "
		       "dataplane's last dump%s)\n",
		       t->n_allocs, t->n_perms_total, t->n_chans_total,
		       stale ? "; a fresh one was requested" : "");
	rc = ctl_table_render(&tb, out);
	ctl_table_free(&tb);
	if (truncated)
		ctl_buf_printf(out, "(first %u allocations shown)\n", ALLOC_LIST_MAX);
	return rc;
}
