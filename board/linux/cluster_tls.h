/* TLS configurations of the cluster's routes (cluster { tls { } }): the
 * listener's, which verifies the peer's certificate, and the one this node
 * presents and verifies with when it solicits, loaded through the board's
 * TLS engine and handed to the route kind (src/route cannot read files). */
#ifndef NE_BOARD_CLUSTER_TLS_H
#define NE_BOARD_CLUSTER_TLS_H

#include "server/ne_server.h"

/* Between ne_server_init and ne_server_start; NE_OK when the cluster has
 * no TLS. Logs the reason and returns a negative ne_err when a file cannot
 * be used. */
int ne_board_cluster_tls_setup(ne_server *srv);

#endif
