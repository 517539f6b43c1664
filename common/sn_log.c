#include "sn_log.h"

#include <stdarg.h>
#include <time.h>

int sn_log_level = SN_LOG_INFO;
const char *sn_log_prog = "supernode";

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void sn_log_line(int level, const char *func, const char *fmt, ...)
{
	if (level > sn_log_level)
		return;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct tm tm;
	gmtime_r(&now.tv_sec, &tm);
	char stamp[32];
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);

	/* One fprintf per line keeps lines whole when several threads log. */
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s.%03ldZ %s %s %s: %s\n", stamp, now.tv_nsec / 1000000, sn_log_prog,
		level_names[level < 0 ? 0 : (level > 3 ? 3 : level)], func, msg);
}
