/* libFuzzer target for the config loader: any bytes must load or fail cleanly, never crash
 * or leak, and a failure must leave a message and nothing to free. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sn_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sn_config cfg;
	char err[256];
	/* A copy with no slack after it, so a read past `size` is caught by ASan. */
	char *text = malloc(size ? size : 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	int rc = sn_config_load_buffer("fuzz.yaml", text, size, &cfg, err, sizeof(err));
	if (rc && (rc >= 0 || strncmp(err, "fuzz.yaml:", 10) || cfg.dataplane.n_eal_args))
		abort();
	sn_config_free(&cfg);
	free(text);
	return 0;
}
