/* TLS client configurations for leaf remotes (board side). */
#ifndef NE_BOARD_LEAF_TLS_H
#define NE_BOARD_LEAF_TLS_H

#include "server/ne_server.h"

/* Loads the tls { ca_file, cert_file, key_file } of every leaf remote that has
 * one and gives it to the remote. Call after ne_board_tls_setup and before
 * ne_server_start; NE_ERR_INVALID (logged) when a file cannot be used. */
int ne_board_leaf_tls_setup(ne_server *srv);

#endif
