/* metrics.h: the Prometheus text exposition (format 0.0.4) of /metrics.
 *
 * ctl_metrics_render() writes every family, with HELP and TYPE lines, from the dataplane's
 * stats segment (may be NULL: only supernode_dataplane_up 0 is written for the dataplane)
 * and control's own counters. It needs no HTTP, so unit tests call it directly.
 *
 * Names are supernode_<area>_<what>_<unit>, counters end in _total, and the only labels are
 * lcore (DPDK lcore id), port (port name from the config), reason and method. */
#ifndef CTL_METRICS_H
#define CTL_METRICS_H

#include <stdint.h>

#include "buf.h"
#include "counters.h"
#include "sn_stats.h"

/* Heartbeat age above which supernode_dataplane_up is 0. */
#define CTL_DATAPLANE_MAX_HEARTBEAT_AGE_NS (2ull * 1000000000ull)

#define CTL_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Appends the exposition to out. now_real_ns is CLOCK_REALTIME. Returns 0 or the buffer's
 * error (-ENOMEM, -EMSGSIZE). */
int ctl_metrics_render(struct ctl_buf *out, const struct sn_stats_segment *seg,
		       const struct ctl_counters *ctr, uint64_t now_real_ns);

#endif
