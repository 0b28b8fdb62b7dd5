/* TLS for the Linux board: the mbedTLS engine (port/mbedtls) and the
 * server's configuration, loaded from the files the options name. */
#ifndef NE_BOARD_TLS_SETUP_H
#define NE_BOARD_TLS_SETUP_H

#include "server/ne_server.h"

/* When the options ask for TLS (clients or HTTPS monitoring), starts the
 * engine, loads the certificate, key and CA, and hands them to the server
 * (call between ne_server_init and ne_server_start). Logs the reason and
 * returns a negative ne_err when a file cannot be used. NE_OK when TLS is
 * off. */
int ne_board_tls_setup(ne_server *srv);

/* Releases the configuration and the engine (after ne_server_shutdown). */
void ne_board_tls_teardown(void);

#endif
