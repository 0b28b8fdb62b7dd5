#include "tls_setup.h"

#include <stdio.h>

#include "core/ne_error.h"
#include "core/ne_log.h"
#include "mbedtls/ne_tls_mbedtls.h"

static ne_mbedtls g_tls_engine;
static ne_tls g_tls;
static ne_tls_config g_tls_server_config;
/* Listeners other than the clients': the cluster's and MQTT's. */
#define LISTENER_CONFIGS 2
static ne_tls_config g_tls_listener_configs[LISTENER_CONFIGS];
static uint32_t g_tls_listener_count;
static ne_tls_config g_tls_client_configs[NE_BOARD_TLS_CLIENT_CONFIGS];
static uint32_t g_tls_client_count;
static bool g_tls_started;

/* Starts the engine once and hands it to the server. */
static int ensure_engine(ne_server *srv)
{
    if (g_tls_started) {
        return NE_OK;
    }
    int rc = ne_mbedtls_init(&g_tls_engine, &g_tls);
    if (rc != NE_OK) {
        ne_log_error(&srv->log, "TLS: cannot seed the random generator: %s", ne_err_name(rc));
        return rc;
    }
    g_tls_started = true;
    ne_server_set_tls(srv, &g_tls, NULL, NULL);
    return NE_OK;
}

int ne_board_tls_setup(ne_server *srv)
{
    const ne_server_options *o = &srv->opts;
    if (!o->tls && !o->https) {
        return NE_OK;
    }
    int rc = ensure_engine(srv);
    if (rc != NE_OK) {
        return rc;
    }
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
    ne_server_set_tls(srv, &g_tls, &g_tls_server_config, srv->conns.tls_client_config);
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

const ne_tls_config *ne_board_tls_client_config(ne_server *srv, const char *ca_file,
                                                const char *cert_file, const char *key_file,
                                                char *err, size_t err_cap)
{
    if (g_tls_client_count == NE_BOARD_TLS_CLIENT_CONFIGS) {
        snprintf(err, err_cap,
                 "more TLS client configurations than NE_BOARD_TLS_CLIENT_CONFIGS (%u)",
                 (unsigned)NE_BOARD_TLS_CLIENT_CONFIGS);
        return NULL;
    }
    if (ensure_engine(srv) != NE_OK) {
        snprintf(err, err_cap, "TLS: cannot start the engine");
        return NULL;
    }
    ne_tls_config *cfg = &g_tls_client_configs[g_tls_client_count];
    ne_tls_config_params params = {
        .role = NE_TLS_ROLE_CLIENT,
        .cert_file = cert_file,
        .key_file = key_file,
        .ca_file = ca_file,
        .verify = true,
    };
    if (ne_mbedtls_config_load(&g_tls_engine, cfg, &params, err, err_cap) != NE_OK) {
        return NULL;
    }
    g_tls_client_count++;
    if (srv->conns.tls_client_config == NULL) {
        ne_server_set_tls(srv, &g_tls, srv->conns.tls_server_config, cfg);
    }
    return cfg;
}

const ne_tls_config *ne_board_tls_listener_config(ne_server *srv, const char *cert_file,
                                                  const char *key_file, const char *ca_file,
                                                  bool verify, char *err, size_t err_cap)
{
    if (g_tls_listener_count == LISTENER_CONFIGS) {
        snprintf(err, err_cap, "%u listener TLS configurations are loaded already",
                 (unsigned)LISTENER_CONFIGS);
        return NULL;
    }
    if (ensure_engine(srv) != NE_OK) {
        snprintf(err, err_cap, "TLS: cannot start the engine");
        return NULL;
    }
    ne_tls_config_params params = {
        .role = NE_TLS_ROLE_SERVER,
        .cert_file = cert_file,
        .key_file = key_file,
        .ca_file = ca_file,
        .verify = verify,
    };
    ne_tls_config *cfg = &g_tls_listener_configs[g_tls_listener_count];
    if (ne_mbedtls_config_load(&g_tls_engine, cfg, &params, err, err_cap) != NE_OK) {
        return NULL;
    }
    g_tls_listener_count++;
    return cfg;
}

void ne_board_tls_teardown(void)
{
    if (!g_tls_started) {
        return;
    }
    ne_mbedtls_deinit(&g_tls_engine);
    ne_mbedtls_config_free(&g_tls_server_config);
    for (uint32_t i = 0; i < g_tls_listener_count; i++) {
        ne_mbedtls_config_free(&g_tls_listener_configs[i]);
    }
    g_tls_listener_count = 0;
    for (uint32_t i = 0; i < g_tls_client_count; i++) {
        ne_mbedtls_config_free(&g_tls_client_configs[i]);
    }
    g_tls_client_count = 0;
    g_tls_started = false;
}
