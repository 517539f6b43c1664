#include "sn_stats.h"
#include "sn_log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const sn_lcore_counter_names[SN_CTR_MAX] = {
#define SN_X_NAME(name, suffix, help) suffix,
    SN_LCORE_COUNTERS(SN_X_NAME)
#undef SN_X_NAME
};
const char *const sn_lcore_counter_help[SN_CTR_MAX] = {
#define SN_X_HELP(name, suffix, help) help,
    SN_LCORE_COUNTERS(SN_X_HELP)
#undef SN_X_HELP
};
const char *const sn_drop_reason_names[SN_DROP_MAX] = {
#define SN_X_NAME(name, label) label,
    SN_DROP_REASONS(SN_X_NAME)
#undef SN_X_NAME
};

static int stats_path(const char *dir, char *path, size_t cap)
{
	int n = snprintf(path, cap, "%s/%s", dir, SN_STATS_FILE);
	return (n < 0 || (size_t)n >= cap) ? -ENAMETOOLONG : 0;
}

struct sn_stats_segment *sn_stats_create(const char *dir)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	struct sn_stats_segment *seg = NULL;
	int fd = -1;

	if (stats_path(dir, path, sizeof(path)) < 0) {
		SN_ERR("runtime dir %s: name too long", dir);
		return NULL;
	}
	/* Build under a temporary name and rename, so a reader never maps a half-made file. */
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		SN_ERR("open %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (ftruncate(fd, sizeof(*seg)) < 0) {
		SN_ERR("ftruncate %s: %s", tmp, strerror(errno));
		goto out;
	}
	seg = mmap(NULL, sizeof(*seg), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (seg == MAP_FAILED) {
		SN_ERR("mmap %s: %s", tmp, strerror(errno));
		seg = NULL;
		goto out;
	}
	memset(seg, 0, sizeof(*seg));
	seg->version = SN_STATS_VERSION;
	seg->size = sizeof(*seg);
	__atomic_store_n(&seg->magic, SN_STATS_MAGIC, __ATOMIC_RELEASE);
	if (rename(tmp, path) < 0) {
		SN_ERR("rename %s: %s", path, strerror(errno));
		munmap(seg, sizeof(*seg));
		seg = NULL;
	}
out:
	if (fd >= 0)
		close(fd);
	return seg;
}

const struct sn_stats_segment *sn_stats_open(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;
	const struct sn_stats_segment *seg = NULL;
	int err = 0;

	if (stats_path(dir, path, sizeof(path)) < 0) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0) {
		err = errno;
		goto out;
	}
	if ((size_t)st.st_size != sizeof(*seg)) {
		err = EPROTO;
		goto out;
	}
	seg = mmap(NULL, sizeof(*seg), PROT_READ, MAP_SHARED, fd, 0);
	if (seg == MAP_FAILED) {
		err = errno;
		seg = NULL;
		goto out;
	}
	if (seg->magic != SN_STATS_MAGIC || seg->version != SN_STATS_VERSION ||
	    seg->size != sizeof(*seg)) {
		munmap((void *)seg, sizeof(*seg));
		seg = NULL;
		err = EPROTO;
	}
out:
	close(fd);
	if (!seg)
		errno = err;
	return seg;
}

void sn_stats_close(const struct sn_stats_segment *seg)
{
	if (seg)
		munmap((void *)seg, sizeof(*seg));
}

void sn_stats_write_begin(struct sn_stats_segment *seg)
{
	__atomic_store_n(&seg->seq, seg->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

void sn_stats_write_end(struct sn_stats_segment *seg)
{
	__atomic_store_n(&seg->seq, seg->seq + 1, __ATOMIC_RELEASE);
}

int sn_stats_read_gauges(const struct sn_stats_segment *seg, struct sn_stats_gauges *gauges,
			 struct sn_stats_port *ports, uint32_t *n_ports)
{
	for (int attempt = 0; attempt < 1000; attempt++) {
		uint64_t before = __atomic_load_n(&seg->seq, __ATOMIC_ACQUIRE);
		if (before & 1)
			continue;
		*gauges = seg->gauges;
		uint32_t n = seg->n_ports;
		if (n > SN_STATS_MAX_PORTS)
			n = SN_STATS_MAX_PORTS;
		if (ports)
			memcpy(ports, seg->ports, n * sizeof(*ports));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&seg->seq, __ATOMIC_RELAXED) == before) {
			if (n_ports)
				*n_ports = n;
			return 0;
		}
	}
	return -EAGAIN;
}
