/* stats_reader.h: keeps the dataplane's stats segment mapped for one reader thread.
 *
 * The dataplane creates <runtime_dir>/stats afresh on every start (new file, renamed into
 * place), so a reader that mapped the old file would keep reading a dead segment.
 * ctl_stats_reader_get() stats the path on each call and re-maps when the inode changed;
 * when the file is gone it unmaps and returns NULL. One reader per thread: the HTTP thread
 * and the event loop each own one, so neither unmaps what the other is reading. */
#ifndef CTL_STATS_READER_H
#define CTL_STATS_READER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sn_stats.h"

struct ctl_stats_reader {
	char dir[256];			    /* runtime dir holding the segment */
	const struct sn_stats_segment *seg; /* current mapping or NULL */
	dev_t dev;			    /* identity of the mapped file */
	ino_t ino;
	int last_errno; /* why the last open failed (for one log line) */
};

void ctl_stats_reader_init(struct ctl_stats_reader *r, const char *dir);
/* The current segment, re-mapped if the file was replaced; NULL when there is none. */
const struct sn_stats_segment *ctl_stats_reader_get(struct ctl_stats_reader *r);
void ctl_stats_reader_fini(struct ctl_stats_reader *r);

/* Helpers that read the live segment safely (clamped counts, atomic loads). */
uint32_t ctl_stats_n_lcores(const struct sn_stats_segment *seg);
uint64_t ctl_stats_load(const uint64_t *p);
/* True when the dataplane's heartbeat is within max_age_ns of now_real_ns (CLOCK_REALTIME). */
bool ctl_stats_alive(const struct sn_stats_segment *seg, uint64_t now_real_ns, uint64_t max_age_ns);

#endif
