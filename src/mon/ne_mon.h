/* HTTP monitoring: every path nats-server 2.9 serves (/varz, /connz, /subsz,
 * /leafz, /accountz, /accstatz, /healthz, ...) with its JSON field names and
 * types.
 *
 * An HTTP connection is an ordinary ne_conn of kind NE_CONN_KIND_HTTP: its
 * request is read into the connection's read buffer, the response is written
 * through the outbound queue (so a long /connz needs no large buffer), and the
 * connection closes after the response (Connection: close). */
#ifndef NE_MON_H
#define NE_MON_H

#include "server/ne_server.h"

/* Opens the monitoring listener when opts.http_enabled. */
int ne_mon_start(ne_server *srv);

/* Parses a request once its header block is complete and answers it. */
void ne_mon_process_input(ne_conn *conn);

#endif
