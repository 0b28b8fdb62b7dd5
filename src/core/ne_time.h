/* Time text in the forms nats-server shows: RFC 3339 with nanoseconds (UTC),
 * Go's time.Duration String(), and nats-server's uptime form ("1d2h3m4s"). */
#ifndef NE_TIME_H
#define NE_TIME_H

#include <stdint.h>

#include "core/ne_fmt.h"

/* "2026-11-22T23:37:23.409451256Z" */
void ne_time_rfc3339(ne_strbuf *sb, uint64_t unix_ns);
/* "0s", "850ns", "1.5µs", "1.242225ms", "2.5s", "1m2s", "1h0m0s" */
void ne_time_go_duration(ne_strbuf *sb, uint64_t ns);
/* "0s", "59s", "1m2s", "3h0m4s", "2d1h0m0s", "1y2d3h4m5s" */
void ne_time_uptime(ne_strbuf *sb, uint64_t ns);

#endif
