/* dispatch.c: the UDP dispatch table as a channel table (see struct sn_dp_table). */
#include "dataplane.h"

#include <errno.h>
#include <stdlib.h>

static struct sn_dispatch_snap *draft;

static int dispatch_apply(uint8_t op, const void *key, uint16_t key_len, const void *val,
			  uint16_t val_len)
{
	struct sn_dispatch_key k;
	struct sn_dispatch_value v;
	if (!sn_table_cmd_sizes_ok(op, key_len, sizeof(k), val_len, sizeof(v)))
		return -EINVAL;
	if (key_len)
		memcpy(&k, key, sizeof(k));
	if (val_len)
		memcpy(&v, val, sizeof(v));
	return sn_dispatch_apply(&sn_dp.dispatch, &draft, op, key_len ? &k : NULL,
				 val_len ? &v : NULL);
}

static void dispatch_publish(void)
{
	sn_dispatch_publish(&sn_dp.dispatch, draft, &sn_dp.rcu);
	draft = NULL;
}

static int dispatch_dump(sn_dump_emit_fn emit)
{
	const struct sn_dispatch_snap *snap = sn_dp.dispatch.current;
	for (int f = 0; f < 2; f++) {
		for (uint32_t port = 0; port < 65536; port++) {
			uint8_t h = snap->handler[f][port];
			if (h == SN_UDP_HANDLER_DROP)
				continue;
			struct sn_dispatch_key key = {.port = htons((uint16_t)port),
						      .family = f ? AF_INET6 : AF_INET};
			struct sn_dispatch_value val = {.handler = h};
			int rc = emit(SN_TABLE_UDP_DISPATCH, &key, sizeof(key), &val, sizeof(val));
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static uint32_t dispatch_entries(void)
{
	return sn_dp.dispatch.current->entries;
}

const struct sn_dp_table sn_dp_table_dispatch = {
    .id = SN_TABLE_UDP_DISPATCH,
    .name = "udp_dispatch",
    .apply = dispatch_apply,
    .publish = dispatch_publish,
    .dump = dispatch_dump,
    .entries = dispatch_entries,
};
