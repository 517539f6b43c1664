/* Placeholder until the config loader lands; replaced whole. */
#include "sn_config.h"
#include <errno.h>
#include <string.h>
int sn_config_load(const char *path, struct sn_config *cfg, char *err, size_t err_len)
{
	(void)path; (void)cfg;
	snprintf(err, err_len, "config loader not built yet");
	return -ENOSYS;
}
int sn_config_load_buffer(const char *name, const char *text, size_t len, struct sn_config *cfg,
			  char *err, size_t err_len)
{
	(void)name; (void)text; (void)len; (void)cfg;
	snprintf(err, err_len, "config loader not built yet");
	return -ENOSYS;
}
void sn_config_free(struct sn_config *cfg) { (void)cfg; }
void sn_config_print_doc(FILE *out) { (void)out; }
