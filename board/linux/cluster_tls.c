/* TLS of the cluster's routes (cluster_tls.h). */
#include "cluster_tls.h"

#include "core/ne_error.h"
#include "core/ne_log.h"
#include "tls_setup.h"

int ne_board_cluster_tls_setup(ne_server *srv)
{
#if NE_FEATURE_ROUTES
    const ne_cluster_options *c = &srv->opts.cluster;
    if (!c->enabled || !c->tls) {
        return NE_OK;
    }
    char err[400];
    /* Routes verify each other both ways, as nats-server's do. */
    const ne_tls_config *server = ne_board_tls_listener_config(
        srv, c->tls_cert_file, c->tls_key_file, c->tls_ca_file, true, err, sizeof(err));
    if (server == NULL) {
        ne_log_error(&srv->log, "TLS for the cluster: %s", err);
        return NE_ERR_INVALID;
    }
    const ne_tls_config *client = ne_board_tls_client_config(srv, c->tls_ca_file, c->tls_cert_file,
                                                             c->tls_key_file, err, sizeof(err));
    if (client == NULL) {
        ne_log_error(&srv->log, "TLS for the cluster: %s", err);
        return NE_ERR_INVALID;
    }
    ne_route_set_tls(&srv->route, server, client);
    ne_log_info(&srv->log, "TLS required for route connections (certificates verified both ways)");
#else
    (void)srv;
#endif
    return NE_OK;
}
