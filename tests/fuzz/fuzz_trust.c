/* libFuzzer target for the trust module's parsers of untrusted bytes (control/trust.c):
 *
 * - first byte 'v': the rest is a DHT value's data, parsed as a vouch
 *   (ctl_trust_parse_vouch: "vouch:<hex>", "vouch <hex>", bare hex);
 * - otherwise the input is an operator edge list (`A B`, `seed X`, `suspect X`, `trust X`,
 *   node ids or addresses), written to a temporary file that a full run reads: tokenising,
 *   the graph, SybilRank, SybilLimit with the benchmark, the mixing check and the verdicts
 *   must never crash, hang or leak, and every lookup must answer in range afterwards.
 * Seeds: tests/fuzz/corpus/trust/. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "sn_log.h"
#include "trust.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sn_config cfg;
	uint8_t id[20];
	struct ctl_buf b;
	FILE *f;

	if (size > 8192)
		return 0;
	if (size && data[0] == 'v') {
		int rc = ctl_trust_parse_vouch(data + 1, (uint32_t)(size - 1), id);

		if (rc != 0 && rc != -EINVAL)
			abort();
		return 0;
	}
	sn_log_level = SN_LOG_ERR;
	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/fuzz_trust.%d", (int)getpid());
	f = fopen(path, "w");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	memset(&cfg, 0, sizeof(cfg));
	cfg.sybil.enabled = true;
	snprintf(cfg.sybil.file, sizeof(cfg.sybil.file), "%s", path);
	snprintf(cfg.sybil.seeds, sizeof(cfg.sybil.seeds), "10.0.0.1,2001:db8::1");
	cfg.sybil.interval_s = 1;
	cfg.sybil.r0 = 4;
	cfg.sybil.balance = 4;
	cfg.sybil.suspect_below_pct = 10;
	cfg.sybil.mixing_warn_factor = 2;
	cfg.sybil.max_dynamic_edges = 16;
	if (ctl_trust_init(&cfg) < 0)
		return 0;
	ctl_trust_run(1);
	memset(id, 0, sizeof(id));
	if (ctl_trust_suspect_node(id) > 1 || ctl_trust_score_node(id) > 1.0)
		abort();
	if (ctl_trust_suspect_addr(AF_INET, (const uint8_t[16]){10, 0, 0, 1}) > 1)
		abort();
	ctl_buf_init(&b);
	ctl_trust_cmd_sybil(NULL, 1, (char *[]){"sybil"}, true, &b);
	ctl_buf_free(&b);
	ctl_trust_fini();
	return 0;
}
