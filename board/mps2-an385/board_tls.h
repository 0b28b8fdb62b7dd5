/* TLS toward a leaf hub on the firmware (NE_BOARD_TLS): mbedTLS through
 * port/mbedtls, a client configuration per leaf remote with a tls block,
 * its trust anchor the PEM of the files { } entry its ca_file names
 * (board_conf.h). */
#ifndef NE_MPS2_BOARD_TLS_H
#define NE_MPS2_BOARD_TLS_H

#include "board_conf.h"
#include "core/ne_log.h"
#include "server/ne_server.h"

/* Loads the client configurations of opts's remotes while set's files are
 * still readable (before the configuration's storage is reused). Starts
 * the engine (seeding its generator from ne_port_entropy) when a remote
 * needs it. NE_OK, or an error logged with the remote's number. */
int mps2_tls_load(const ne_server_options *opts, const mps2_settings *set, const ne_log *log);

/* Gives the server the engine and the remotes their configurations, after
 * ne_server_init and before ne_server_start. */
void mps2_tls_attach(ne_server *srv);

/* Forgets what mps2_tls_load loaded (the configuration was refused). */
void mps2_tls_unload(void);

#endif
