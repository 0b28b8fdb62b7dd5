#include "core/ne_log.h"

#include <string.h>

#include "core/ne_fmt.h"
#include "ne_config.h"

void ne_logf(const ne_log *log, ne_log_level level, const char *fmt, ...)
{
    if (!NE_LOG_ENABLED(log, level)) {
        return;
    }
    char line[NE_LOG_LINE_BYTES];
    ne_strbuf sb;
    ne_strbuf_init(&sb, line, sizeof(line));
    va_list ap;
    va_start(ap, fmt);
    ne_strbuf_vprintf(&sb, fmt, ap);
    va_end(ap);
    /* A line cut at NE_LOG_LINE_BYTES says so (a quoted subject can be as
     * long as a control line). */
    if (sb.truncated && sb.len >= 3) {
        memcpy(line + sb.len - 3, "...", 3);
    }
    log->write(log->ctx, level, line, sb.len);
}

const char *ne_log_tag(ne_log_level level)
{
    static const char *const tags[] = {"FTL", "ERR", "WRN", "INF", "DBG", "TRC"};
    return (unsigned)level < 6 ? tags[level] : "???";
}
