/* The logging front end. The core formats a message; the sink (provided by the
 * board) adds the timestamp and level tag and writes it somewhere. */
#ifndef NE_LOG_H
#define NE_LOG_H

#include <stdarg.h>
#include <stddef.h>

typedef enum ne_log_level {
    NE_LOG_FATAL = 0,
    NE_LOG_ERROR = 1,
    NE_LOG_WARN = 2,
    NE_LOG_INFO = 3,
    NE_LOG_DEBUG = 4,
    NE_LOG_TRACE = 5,
} ne_log_level;

typedef struct ne_log {
    ne_log_level level; /* messages above this level are dropped before formatting */
    void (*write)(void *ctx, ne_log_level level, const char *line, size_t len);
    void *ctx;
} ne_log;

void ne_logf(const ne_log *log, ne_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The three-letter tag nats-server prints for a level: FTL ERR WRN INF DBG TRC. */
const char *ne_log_tag(ne_log_level level);

#define NE_LOG_ENABLED(log, lvl) ((log) != NULL && (log)->write != NULL && (log)->level >= (lvl))
#define ne_log_error(log, ...) ne_logf((log), NE_LOG_ERROR, __VA_ARGS__)
#define ne_log_warn(log, ...) ne_logf((log), NE_LOG_WARN, __VA_ARGS__)
#define ne_log_info(log, ...) ne_logf((log), NE_LOG_INFO, __VA_ARGS__)
#define ne_log_debug(log, ...)                                                                     \
    do {                                                                                           \
        if (NE_LOG_ENABLED((log), NE_LOG_DEBUG))                                                   \
            ne_logf((log), NE_LOG_DEBUG, __VA_ARGS__);                                             \
    } while (0)
#define ne_log_trace(log, ...)                                                                     \
    do {                                                                                           \
        if (NE_LOG_ENABLED((log), NE_LOG_TRACE))                                                   \
            ne_logf((log), NE_LOG_TRACE, __VA_ARGS__);                                             \
    } while (0)

#endif
