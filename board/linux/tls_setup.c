#include "tls_setup.h"

#include "core/ne_error.h"
#include "core/ne_log.h"
#include "mbedtls/ne_tls_mbedtls.h"

static ne_mbedtls g_tls_engine;
static ne_tls_config g_tls_server_config;
static bool g_tls_started;

int ne_board_tls_setup(ne_server *srv)
{
    const ne_server_options *o = &srv->opts;
    if (!o->tls && !o->https) {
        return NE_OK;
    }
    ne_tls tls;
    int rc = ne_mbedtls_init(&g_tls_engine, &tls);
    if (rc != NE_OK) {
        ne_log_error(&srv->log, "TLS: cannot seed the random generator: %s", ne_err_name(rc));
        return rc;
    }
    g_tls_started = true;
    ne_tls_config_params params = {
        .role = NE_TLS_ROLE_SERVER,
        .cert_file = o->tls_cert_file,
        .key_file = o->tls_key_file,
        .ca_file = o->tls_ca_file,
        .verify = o->tls_verify,
    };
    char err[400];
    rc = ne_mbedtls_config_load(&g_tls_engine, &g_tls_server_config, &params, err, sizeof(err));
    if (rc != NE_OK) {
        ne_log_error(&srv->log, "TLS: %s", err);
        return rc;
    }
    ne_server_set_tls(srv, &tls, &g_tls_server_config, NULL);
    size_t used = 0, peak = 0;
    ne_mbedtls_memory(&used, &peak);
    ne_log_info(&srv->log,
                "TLS: %u sessions at most, memory region %u KiB (%zu B used by the "
                "certificates and keys)",
                (unsigned)NE_TLS_MAX_SESSIONS, (unsigned)(NE_TLS_HEAP_BYTES / 1024), used);
    if (o->tls) {
        ne_log_info(&srv->log, "TLS required for client connections%s",
                    o->tls_verify ? " (client certificates verified)" : "");
    }
    return NE_OK;
}

void ne_board_tls_teardown(void)
{
    if (!g_tls_started) {
        return;
    }
    ne_mbedtls_deinit(&g_tls_engine);
    ne_mbedtls_config_free(&g_tls_server_config);
    g_tls_started = false;
}
