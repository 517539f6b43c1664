/* sn_log.h: one log line format for every process: "<prog> <level> <function>: <cause>".
 *
 * Logging is for the control path and for start-up; workers never log on the hot path
 * (they count instead). Lines go to stderr, which systemd and the launcher capture. */
#ifndef SN_LOG_H
#define SN_LOG_H

#include <stdio.h>

enum sn_log_level {
	SN_LOG_ERR = 0,
	SN_LOG_WARN = 1,
	SN_LOG_INFO = 2,
	SN_LOG_DEBUG = 3,
};

/* Current threshold; lines above it are not printed. Set from the config or -v. */
extern int sn_log_level;
/* Short program name printed first on each line ("dataplane", "control", ...). */
extern const char *sn_log_prog;

void sn_log_line(int level, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define SN_ERR(...)   sn_log_line(SN_LOG_ERR, __func__, __VA_ARGS__)
#define SN_WARN(...)  sn_log_line(SN_LOG_WARN, __func__, __VA_ARGS__)
#define SN_INFO(...)  sn_log_line(SN_LOG_INFO, __func__, __VA_ARGS__)
#define SN_DEBUG(...) sn_log_line(SN_LOG_DEBUG, __func__, __VA_ARGS__)

#endif
