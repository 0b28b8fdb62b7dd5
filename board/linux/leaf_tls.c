/* TLS client configurations of leaf remotes: one per remote with a tls { }
 * block, loaded through the board's TLS engine and handed to the leaf
 * module (src/leaf cannot read files). */
#include "leaf_tls.h"

#include "core/ne_error.h"
#include "core/ne_log.h"
#include "leaf/ne_leaf.h"
#include "tls_setup.h"

int ne_board_leaf_tls_setup(ne_server *srv)
{
    const ne_leaf_options *o = &srv->opts.leaf;
    for (uint32_t r = 0; r < o->remote_count; r++) {
        const ne_leaf_remote_options *ro = &o->remotes[r];
        if (!ro->tls) {
            continue;
        }
        char err[400];
        const ne_tls_config *cfg = ne_board_tls_client_config(
            srv, ro->tls_ca_file, ro->tls_cert_file[0] != '\0' ? ro->tls_cert_file : NULL,
            ro->tls_key_file[0] != '\0' ? ro->tls_key_file : NULL, err, sizeof(err));
        if (cfg == NULL) {
            ne_log_error(&srv->log, "TLS for leafnode remote %u: %s", (unsigned)r + 1, err);
            return NE_ERR_INVALID;
        }
        ne_leaf_set_remote_tls(&srv->leaf, r, cfg);
    }
    return NE_OK;
}
