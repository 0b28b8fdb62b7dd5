/* HTTP monitoring: every path nats-server 2.9 serves (/varz, /connz, /subsz,
 * /leafz, /accountz, /accstatz, /healthz, ...) with its JSON field names and
 * types.
 *
 * An HTTP connection is an ordinary ne_conn of kind NE_CONN_KIND_HTTP: its
 * request is read into the connection's read buffer, the response is written
 * through the outbound queue (so a long /connz needs no large buffer), and the
 * connection closes after the response (Connection: close). A request must
 * arrive whole within NE_HTTP_REQUEST_TIMEOUT_MS of the connection (the
 * deadline is kept in the connection's auth_deadline_ms). */
#ifndef NE_MON_H
#define NE_MON_H

#include "server/ne_server.h"

/* Opens the monitoring listener when opts.http_enabled. */
int ne_mon_start(ne_server *srv);

/* Parses a request once its header block is complete and answers it. */
void ne_mon_process_input(ne_conn *conn);

/* Whether a new monitoring connection may be accepted. When
 * NE_MAX_HTTP_CONNECTIONS connections are all still waiting for their
 * request, the oldest of them is closed (without an answer) to make room;
 * false only when a flood within one loop turn has already taken twice the
 * pool. */
bool ne_mon_admit(ne_server *srv);
/* A monitoring connection was accepted: its request must be whole within
 * NE_HTTP_REQUEST_TIMEOUT_MS. */
void ne_mon_accepted(ne_conn *conn);
/* Closes a monitoring connection whose request did not arrive in time. */
void ne_mon_timer(ne_conn *conn, uint64_t now_ms);

#endif
