/* log.h - one line per event: time, level, component, message.
 *
 * Thread-safe (each line is written with one write(2)). Levels below the configured one
 * cost a comparison. Format "text" (default) or "json" (--log-format). */
#ifndef ROOST_UTIL_LOG_H
#define ROOST_UTIL_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3, LOG_OFF = 4 };

extern int log_min_level;

/* Returns 0, or RS_EINVAL for an unknown name ("debug", "info", "warn", "error", "off"). */
int log_set_level(const char *name);
/* "text" or "json"; RS_EINVAL otherwise. */
int log_set_format(const char *name);
void log_write(int level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define LOG(level, comp, ...)                                                                      \
    do {                                                                                           \
        if ((level) >= log_min_level) log_write((level), (comp), __VA_ARGS__);                     \
    } while (0)
#define LOG_DEBUG(comp, ...) LOG(LOG_DEBUG, comp, __VA_ARGS__)
#define LOG_INFO(comp, ...) LOG(LOG_INFO, comp, __VA_ARGS__)
#define LOG_WARN(comp, ...) LOG(LOG_WARN, comp, __VA_ARGS__)
#define LOG_ERROR(comp, ...) LOG(LOG_ERROR, comp, __VA_ARGS__)

#endif
