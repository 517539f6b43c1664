#include "stats_reader.h"
#include "sn_log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

void ctl_stats_reader_init(struct ctl_stats_reader *r, const char *dir)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->dir, sizeof(r->dir), "%s", dir);
}

static void reader_close(struct ctl_stats_reader *r)
{
	sn_stats_close(r->seg);
	r->seg = NULL;
	r->dev = 0;
	r->ino = 0;
}

const struct sn_stats_segment *ctl_stats_reader_get(struct ctl_stats_reader *r)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", r->dir, SN_STATS_FILE);
	/* stat before open: if the file is replaced in between, the next call sees a new
	 * inode again and re-maps, so we never keep a stale mapping. */
	if (stat(path, &st) < 0) {
		reader_close(r);
		r->last_errno = errno;
		return NULL;
	}
	if (r->seg && st.st_dev == r->dev && st.st_ino == r->ino)
		return r->seg;
	reader_close(r);
	r->seg = sn_stats_open(r->dir);
	if (!r->seg) {
		if (errno != r->last_errno)
			SN_WARN("cannot map %s: %s", path, strerror(errno));
		r->last_errno = errno;
		return NULL;
	}
	SN_INFO("mapped stats segment %s (dataplane pid %u)", path, r->seg->pid);
	r->last_errno = 0;
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	return r->seg;
}

void ctl_stats_reader_fini(struct ctl_stats_reader *r)
{
	reader_close(r);
}

uint32_t ctl_stats_n_lcores(const struct sn_stats_segment *seg)
{
	uint32_t n = __atomic_load_n(&seg->n_lcores, __ATOMIC_RELAXED);
	return n > SN_STATS_MAX_LCORES ? SN_STATS_MAX_LCORES : n;
}

uint64_t ctl_stats_load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

bool ctl_stats_alive(const struct sn_stats_segment *seg, uint64_t now_real_ns, uint64_t max_age_ns)
{
	uint64_t hb = ctl_stats_load(&seg->heartbeat_ns);

	if (!hb)
		return false;
	/* tolerate a heartbeat slightly ahead of our clock as well */
	return hb > now_real_ns ? hb - now_real_ns <= max_age_ns : now_real_ns - hb <= max_age_ns;
}
