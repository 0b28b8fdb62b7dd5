/* The monitoring documents that need more than one floor below the server:
 * /varz (the server's general information and statistics, as nats-server
 * 2.9 writes it, with natsedge's own sections for its pools) and /leafz
 * (the leaf kind's), registered with the monitoring endpoints, which HTTP
 * and $SYS.REQ.SERVER.*.<NAME> requests read. */
#ifndef NE_SERVER_ENDPOINTS_H
#define NE_SERVER_ENDPOINTS_H

struct ne_server;

void ne_server_endpoints_register(struct ne_server *srv);

#endif
