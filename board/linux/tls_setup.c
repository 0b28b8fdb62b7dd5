#include "tls_setup.h"

#include <stdio.h>
#include <string.h>

#include "core/ne_error.h"
#include "core/ne_log.h"
#include "mbedtls/ne_tls_mbedtls.h"

static ne_mbedtls g_tls_engine;
static ne_tls g_tls;
static ne_tls_config g_tls_server_config;
/* HTTPS monitoring beside tls verify: the same certificate, no client
 * certificate asked (nats-server's monitoring never asks for one). */
static ne_tls_config g_tls_monitor_config;
static bool g_tls_monitor_loaded;
/* Listeners other than the clients': the cluster's and MQTT's. */
#define LISTENER_CONFIGS 2
static ne_tls_config g_tls_listener_configs[LISTENER_CONFIGS];
static uint32_t g_tls_listener_count;
static ne_tls_config g_tls_client_configs[NE_BOARD_TLS_CLIENT_CONFIGS];
static uint32_t g_tls_client_count;
static bool g_tls_started;

/* Starts the engine once. */
static int start_engine(void)
{
    if (g_tls_started) {
        return NE_OK;
    }
    int rc = ne_mbedtls_init(&g_tls_engine, &g_tls);
    g_tls_started = rc == NE_OK;
    return rc;
}

/* Starts the engine once and hands it to the server. */
static int ensure_engine(ne_server *srv)
{
    if (g_tls_started) {
        return NE_OK;
    }
    int rc = start_engine();
    if (rc != NE_OK) {
        ne_log_error(&srv->log, "TLS: cannot seed the random generator: %s", ne_err_name(rc));
        return rc;
    }
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
    if (o->https && o->tls_verify) {
        ne_tls_config_params mon = params;
        mon.verify = false;
        mon.ca_file = NULL;
        rc = ne_mbedtls_config_load(&g_tls_engine, &g_tls_monitor_config, &mon, err, sizeof(err));
        if (rc != NE_OK) {
            ne_log_error(&srv->log, "TLS: %s", err);
            return rc;
        }
        g_tls_monitor_loaded = true;
        ne_server_set_monitor_tls(srv, &g_tls_monitor_config);
    }
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

/* The map of `key` in `map` (leafnodes also answers to leaf), or NULL. */
static ne_conf_node *map_of(ne_conf *conf, ne_conf_node *map, const char *key, const char *alias)
{
    ne_conf_node *n = ne_conf_find(conf, map, key);
    if (n == NULL && alias != NULL) {
        n = ne_conf_find(conf, map, alias);
    }
    return n != NULL && n->type == NE_CONF_MAP ? n : NULL;
}

/* Whether a tls block names `path` under one of its file keys: then a
 * failure of that file is reported at the block, as nats-server reports it
 * (a flag naming another file is not). */
static bool block_names(ne_conf *conf, ne_conf_node *block, const char *path)
{
    static const char *const keys[] = {"cert_file", "key_file", "ca_file"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]) && block != NULL && path != NULL; i++) {
        const char *v = NULL;
        if (ne_conf_get_string(conf, block, keys[i], &v, NULL) == NE_OK && strcmp(v, path) == 0) {
            return true;
        }
    }
    return false;
}

/* The i-th remote's tls block, or NULL. */
static ne_conf_node *remote_tls_block(ne_conf *conf, uint32_t index)
{
    ne_conf_node *leaf = map_of(conf, ne_conf_root(conf), "leafnodes", "leaf");
    ne_conf_node *remotes = leaf != NULL ? ne_conf_find(conf, leaf, "remotes") : NULL;
    if (remotes == NULL || remotes->type != NE_CONF_ARRAY) {
        return NULL;
    }
    ne_conf_node *item = ne_conf_first(conf, remotes);
    for (uint32_t i = 0; i < index && item != NULL; i++) {
        item = ne_conf_next(conf, item);
    }
    return item != NULL ? map_of(conf, item, "tls", NULL) : NULL;
}

/* Loads one configuration to check it and releases it; on failure the
 * reason goes to err after the block's position when the block names the
 * files the options use. */
static int check_one(const ne_tls_config_params *params, ne_conf *conf, ne_conf_node *block,
                     char *err, size_t err_cap)
{
    ne_tls_config cfg;
    char why[400];
    int rc = ne_mbedtls_config_load(&g_tls_engine, &cfg, params, why, sizeof(why));
    if (rc == NE_OK) {
        ne_mbedtls_config_free(&cfg);
        return NE_OK;
    }
    bool at_block =
        conf != NULL && block != NULL &&
        (block_names(conf, block, params->cert_file) ||
         block_names(conf, block, params->key_file) || block_names(conf, block, params->ca_file));
    if (at_block) {
        char pos[256];
        ne_conf_position(conf, block, pos, sizeof(pos));
        snprintf(err, err_cap, "%s: %s", pos, why);
    } else {
        snprintf(err, err_cap, "%s", why);
    }
    return rc;
}

int ne_board_tls_check(const ne_server_options *o, ne_conf *conf, char *err, size_t err_cap)
{
    bool any = o->tls || o->https;
    for (uint32_t r = 0; r < o->leaf.remote_count; r++) {
        any = any || o->leaf.remotes[r].tls;
    }
#if NE_FEATURE_ROUTES
    any = any || (o->cluster.enabled && o->cluster.tls);
#endif
    if (!any) {
        return NE_OK;
    }
    int rc = start_engine();
    if (rc != NE_OK) {
        snprintf(err, err_cap, "TLS: cannot seed the random generator: %s", ne_err_name(rc));
        return rc;
    }
    if (o->tls || o->https) {
        ne_tls_config_params params = {
            .role = NE_TLS_ROLE_SERVER,
            .cert_file = o->tls_cert_file,
            .key_file = o->tls_key_file,
            .ca_file = o->tls_ca_file,
            .verify = o->tls_verify,
        };
        ne_conf_node *block = conf != NULL ? map_of(conf, ne_conf_root(conf), "tls", NULL) : NULL;
        rc = check_one(&params, conf, block, err, err_cap);
        if (rc != NE_OK) {
            return rc;
        }
    }
    for (uint32_t r = 0; r < o->leaf.remote_count; r++) {
        const ne_leaf_remote_options *ro = &o->leaf.remotes[r];
        if (!ro->tls) {
            continue;
        }
        ne_tls_config_params params = {
            .role = NE_TLS_ROLE_CLIENT,
            .cert_file = ro->tls_cert_file[0] != '\0' ? ro->tls_cert_file : NULL,
            .key_file = ro->tls_key_file[0] != '\0' ? ro->tls_key_file : NULL,
            .ca_file = ro->tls_ca_file,
            .verify = true,
        };
        rc =
            check_one(&params, conf, conf != NULL ? remote_tls_block(conf, r) : NULL, err, err_cap);
        if (rc != NE_OK) {
            return rc;
        }
    }
#if NE_FEATURE_ROUTES
    if (o->cluster.enabled && o->cluster.tls) {
        /* Routes verify each other both ways (cluster_tls.c). */
        ne_tls_config_params params = {
            .role = NE_TLS_ROLE_SERVER,
            .cert_file = o->cluster.tls_cert_file,
            .key_file = o->cluster.tls_key_file,
            .ca_file = o->cluster.tls_ca_file,
            .verify = true,
        };
        ne_conf_node *cluster =
            conf != NULL ? map_of(conf, ne_conf_root(conf), "cluster", NULL) : NULL;
        ne_conf_node *block = cluster != NULL ? map_of(conf, cluster, "tls", NULL) : NULL;
        rc = check_one(&params, conf, block, err, err_cap);
        if (rc != NE_OK) {
            return rc;
        }
    }
#endif
    return NE_OK;
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
    if (g_tls_monitor_loaded) {
        ne_mbedtls_config_free(&g_tls_monitor_config);
        g_tls_monitor_loaded = false;
    }
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
