/* util.h: clocks and a log rate limiter for supernode-control. */
#ifndef CTL_UTIL_H
#define CTL_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define CTL_NS_PER_MS  1000000ull
#define CTL_NS_PER_SEC 1000000000ull

static inline uint64_t ctl_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * CTL_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* Monotonic time for deadlines. */
static inline uint64_t ctl_mono_ns(void)
{
	return ctl_clock_ns(CLOCK_MONOTONIC);
}

/* Wall-clock time, as in the stats segment's epoch and heartbeat. */
static inline uint64_t ctl_real_ns(void)
{
	return ctl_clock_ns(CLOCK_REALTIME);
}

/* Allows `burst` log lines per `interval_ns`; counts what it suppresses so the next allowed
 * line can say how many were skipped. */
struct ctl_ratelimit {
	uint64_t interval_ns;
	uint32_t burst;
	uint32_t used; /* lines allowed in this window */
	uint64_t window_start;
	uint64_t suppressed; /* lines refused since the last allowed one */
};

#define CTL_RATELIMIT_INIT(ms, n)                                                                  \
	{                                                                                          \
		.interval_ns = (ms)*CTL_NS_PER_MS, .burst = (n)                                    \
	}

/* True when a line may be logged now; *skipped gets the lines suppressed before it. */
static inline bool ctl_ratelimit_ok(struct ctl_ratelimit *rl, uint64_t now, uint64_t *skipped)
{
	if (now - rl->window_start >= rl->interval_ns) {
		rl->window_start = now;
		rl->used = 0;
	}
	if (rl->used >= rl->burst) {
		rl->suppressed++;
		return false;
	}
	rl->used++;
	*skipped = rl->suppressed;
	rl->suppressed = 0;
	return true;
}

#endif
