/* TLS for the Linux board: the mbedTLS engine (port/mbedtls) and the
 * server's configuration, loaded from the files the options name. */
#ifndef NE_BOARD_TLS_SETUP_H
#define NE_BOARD_TLS_SETUP_H

#include "conf/ne_conf.h"
#include "server/ne_server.h"

/* When the options ask for TLS (clients or HTTPS monitoring), starts the
 * engine, loads the certificate, key and CA, and hands them to the server
 * (call between ne_server_init and ne_server_start; leaf remotes load
 * theirs with ne_board_tls_client_config, see leaf_tls.c). Logs the reason
 * and returns a negative ne_err when a file cannot be used. NE_OK when TLS
 * is off. */
int ne_board_tls_setup(ne_server *srv);

/* TLS client configurations the board can hold: one per leaf remote, and
 * the cluster's (routes this node solicits). */
#ifndef NE_BOARD_TLS_CLIENT_CONFIGS
#define NE_BOARD_TLS_CLIENT_CONFIGS (NE_MAX_LEAF_REMOTES + 1)
#endif

/* Loads a client-role configuration for outbound connections (a leaf
 * remote's tls { ca_file, cert_file, key_file }), starting the engine if
 * needed; the first one also becomes the server's tls_client_config. Pass
 * the result to ne_conn_tls_start_client. NULL with a reason in err when a
 * file cannot be used or NE_BOARD_TLS_CLIENT_CONFIGS are loaded already.
 * Call before ne_server_start. */
const ne_tls_config *ne_board_tls_client_config(ne_server *srv, const char *ca_file,
                                                const char *cert_file, const char *key_file,
                                                char *err, size_t err_cap);

/* Checks every TLS file the options name (the clients' certificate, key and
 * CA; each leaf remote's) by loading them, as nats-server does when it reads
 * its configuration (-t and start-up): a missing file, a file that is not
 * what it should be, a key that is not the certificate's. The
 * configurations are released again. On failure writes the reason in the
 * user's terms into err, after the position of the tls block when the file
 * came from `conf` (may be NULL), and returns a negative ne_err. */
int ne_board_tls_check(const ne_server_options *opts, ne_conf *conf, char *err, size_t err_cap);

/* Loads a server-role configuration for a listener other than the
 * clients' (the cluster's, MQTT's: its certificate, and the CA its peers'
 * must chain to when verify), starting the engine if needed. Two such
 * configurations; NULL with a reason in err otherwise. */
const ne_tls_config *ne_board_tls_listener_config(ne_server *srv, const char *cert_file,
                                                  const char *key_file, const char *ca_file,
                                                  bool verify, char *err, size_t err_cap);

/* Releases the configurations and the engine (after ne_server_shutdown). */
void ne_board_tls_teardown(void);

#endif
