/* http.h: the /metrics endpoint, served by libmicrohttpd's own thread.
 *
 * GET /metrics renders the exposition (metrics.h) from this thread's stats reader and
 * control's counters (relaxed atomics); any other path is 404, any other method 405. The
 * server binds only the configured address (IPv4 or IPv6 literal). */
#ifndef CTL_HTTP_H
#define CTL_HTTP_H

#include <stdint.h>

#include "counters.h"
#include "stats_reader.h"

struct MHD_Daemon;

struct ctl_http {
	struct MHD_Daemon *daemon;
	struct ctl_stats_reader reader; /* used by the HTTP thread only */
	const struct ctl_counters *ctr;
};

/* Starts the server on listen:port. Returns 0 or a negative errno. */
int ctl_http_start(struct ctl_http *h, const char *listen, uint16_t port, const char *runtime_dir,
		   const struct ctl_counters *ctr);
/* Stops the server (joins its thread) and frees everything. Safe on a stopped server. */
void ctl_http_stop(struct ctl_http *h);

#endif
