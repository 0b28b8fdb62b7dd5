/* The server's life cycle: options, init, start, the loop's callbacks,
 * lame duck mode and shutdown (ne_server.h). */
#include "server/ne_server.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "mqtt/ne_mqtt_conf.h"
#include "router/ne_authn.h"
#include "server/ne_server_endpoints.h"

/* nats-server's lame duck defaults and its longest wait between two closes. */
#define NE_LAME_DUCK_DURATION_MS 120000u
#define NE_LAME_DUCK_GRACE_PERIOD_MS 10000u
#define NE_LAME_DUCK_MAX_SPACING_MS 1000u

void ne_server_options_default(ne_server_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    memcpy(opts->host, "0.0.0.0", 8);
    opts->port = 4222;
    opts->max_connections = NE_MAX_CONNECTIONS;
    opts->max_payload = NE_MAX_PAYLOAD_BYTES;
    opts->max_control_line = NE_MAX_CONTROL_LINE_BYTES;
    opts->max_pending = NE_MAX_PENDING_BYTES;
    opts->max_subs = 0;
    opts->ping_interval_ms = NE_DEFAULT_PING_INTERVAL_MS;
    opts->ping_max = NE_DEFAULT_PING_MAX;
    opts->write_deadline_ms = NE_DEFAULT_WRITE_DEADLINE_MS;
    opts->partial_msg_timeout_ms = NE_PARTIAL_MSG_TIMEOUT_MS;
    opts->partial_msg_stall_ms = NE_PARTIAL_MSG_STALL_MS;
    opts->auth_timeout_ms = NE_DEFAULT_AUTH_TIMEOUT_MS;
    opts->lame_duck_duration_ms = NE_LAME_DUCK_DURATION_MS;
    opts->lame_duck_grace_period_ms = NE_LAME_DUCK_GRACE_PERIOD_MS;
    opts->tls_timeout_ms = NE_DEFAULT_TLS_TIMEOUT_MS;
    opts->default_perms = NE_PERM_NONE;
    memcpy(opts->accounts[0].name, "$G", 3);
    opts->accounts[0].default_perms = NE_PERM_NONE;
    memcpy(opts->accounts[1].name, "$SYS", 5);
    opts->accounts[1].default_perms = NE_PERM_NONE;
    opts->account_count = 2;
    opts->system_account = 1;
    ne_leaf_options_default(&opts->leaf);
#if NE_FEATURE_ROUTES
    ne_route_options_default(&opts->cluster);
#endif
    opts->js.max_memory = -1;
    opts->js.max_store = -1;
}

/* A limit above what was compiled in names the knob to raise. */
static int over_max(char *err, size_t err_cap, const char *what, unsigned long long value,
                    unsigned long long max, const char *knob)
{
    ne_fmt(err, err_cap, "%s %llu is above the compiled-in maximum %llu: raise %s in config/", what,
           value, max, knob);
    return NE_ERR_RANGE;
}

/* JetStream's limits against what was compiled in (config/ne_config_js.h). */
static int js_options_check(const ne_server_options *opts, char *err, size_t err_cap)
{
    const ne_js_options *js = &opts->js;
    if (!js->enabled) {
        return NE_OK;
    }
#if !NE_FEATURE_JETSTREAM
    ne_fmt(err, err_cap, "JetStream is not built in: set NE_FEATURE_JETSTREAM in config/");
    return NE_ERR_UNSUPPORTED;
#else
    const uint64_t region = (uint64_t)NE_JS_MEM_BLOCKS * NE_JS_MEM_BLOCK_BYTES;
    if (js->max_memory > 0 && (uint64_t)js->max_memory > region) {
        return over_max(err, err_cap, "max_memory_store", (unsigned long long)js->max_memory,
                        region, "NE_JS_MEM_BLOCKS");
    }
    const uint64_t device = ne_js_file_max_bytes();
    if (js->max_store > 0 && (uint64_t)js->max_store > device) {
        return over_max(err, err_cap, "max_file_store", (unsigned long long)js->max_store, device,
                        "NE_STORE_MAX_BLOCKS (or NE_JS_FILE_BLOCK_BYTES)");
    }
    if (js->max_ack_pending > NE_JS_MAX_PENDING) {
        return over_max(err, err_cap, "jetstream limits max_ack_pending",
                        (unsigned long long)js->max_ack_pending, NE_JS_MAX_PENDING,
                        "NE_JS_MAX_PENDING");
    }
    uint32_t accounts = 0;
    for (uint32_t i = 0; i < opts->account_count; i++) {
        if (!ne_js_account_enabled(opts, i)) {
            continue;
        }
        accounts++;
        const ne_js_account_limits *l = &opts->accounts[i].js;
        if (l->max_streams > NE_JS_MAX_STREAMS) {
            return over_max(err, err_cap, "account max_streams", (unsigned long long)l->max_streams,
                            NE_JS_MAX_STREAMS, "NE_JS_MAX_STREAMS");
        }
        if (l->max_consumers > NE_JS_MAX_CONSUMERS) {
            return over_max(err, err_cap, "account max_consumers",
                            (unsigned long long)l->max_consumers, NE_JS_MAX_CONSUMERS,
                            "NE_JS_MAX_CONSUMERS");
        }
        if (l->max_memory > 0 && (uint64_t)l->max_memory > region) {
            return over_max(err, err_cap, "account max_memory", (unsigned long long)l->max_memory,
                            region, "NE_JS_MEM_BLOCKS");
        }
        if (l->max_store > 0 && (uint64_t)l->max_store > device) {
            return over_max(err, err_cap, "account max_file", (unsigned long long)l->max_store,
                            device, "NE_STORE_MAX_BLOCKS (or NE_JS_FILE_BLOCK_BYTES)");
        }
        if (l->max_ack_pending > NE_JS_MAX_PENDING) {
            return over_max(err, err_cap, "account max_ack_pending",
                            (unsigned long long)l->max_ack_pending, NE_JS_MAX_PENDING,
                            "NE_JS_MAX_PENDING");
        }
    }
    if (accounts > NE_JS_MAX_ACCOUNTS) {
        return over_max(err, err_cap, "accounts with JetStream", accounts, NE_JS_MAX_ACCOUNTS,
                        "NE_JS_MAX_ACCOUNTS");
    }
    return NE_OK;
#endif
}

int ne_server_options_check(const ne_server_options *opts, char *err, size_t err_cap)
{
    if (opts->max_connections > NE_MAX_CONNECTIONS) {
        return over_max(err, err_cap, "max_connections", opts->max_connections, NE_MAX_CONNECTIONS,
                        "NE_MAX_CONNECTIONS");
    }
    if (opts->max_payload > NE_MAX_PAYLOAD_BYTES) {
        return over_max(err, err_cap, "max_payload", opts->max_payload, NE_MAX_PAYLOAD_BYTES,
                        "NE_MAX_PAYLOAD_BYTES");
    }
    if (opts->max_control_line > NE_MAX_CONTROL_LINE_BYTES) {
        return over_max(err, err_cap, "max_control_line", opts->max_control_line,
                        NE_MAX_CONTROL_LINE_BYTES, "NE_MAX_CONTROL_LINE_BYTES");
    }
    if (opts->max_subs > NE_MAX_SUBSCRIPTIONS_PER_CONN) {
        return over_max(err, err_cap, "max_subscriptions", opts->max_subs,
                        NE_MAX_SUBSCRIPTIONS_PER_CONN, "NE_MAX_SUBSCRIPTIONS_PER_CONN");
    }
    if (opts->max_pending > NE_MAX_PENDING_BYTES) {
        return over_max(err, err_cap, "max_pending", opts->max_pending, NE_MAX_PENDING_BYTES,
                        "NE_MAX_PENDING_BYTES");
    }
    if ((uint64_t)opts->max_payload > opts->max_pending) {
        ne_fmt(err, err_cap, "max_payload (%u) cannot be higher than max_pending (%llu)",
               opts->max_payload, (unsigned long long)opts->max_pending);
        return NE_ERR_RANGE;
    }
    if (ne_leaf_options_check(&opts->leaf, err, err_cap) != NE_OK) {
        return NE_ERR_INVALID;
    }
#if NE_FEATURE_MQTT
    if (ne_mqtt_options_check(opts, err, err_cap) != NE_OK) {
        return NE_ERR_INVALID;
    }
#else
    if (opts->mqtt.enabled) {
        ne_fmt(err, err_cap, "mqtt is not built in: NE_FEATURE_MQTT is 0 in this profile");
        return NE_ERR_UNSUPPORTED;
    }
#endif
#if NE_FEATURE_ROUTES
    if (ne_route_options_check(&opts->cluster, err, err_cap) != NE_OK) {
        return NE_ERR_INVALID;
    }
#endif
    if (opts->max_control_line < 32) {
        ne_fmt(err, err_cap, "max_control_line %u is too small", opts->max_control_line);
        return NE_ERR_RANGE;
    }
    if (opts->lame_duck_grace_period_ms >= opts->lame_duck_duration_ms) {
        ne_fmt(err, err_cap,
               "lame duck grace period (%ums) should be strictly lower than lame duck duration "
               "(%ums)",
               opts->lame_duck_grace_period_ms, opts->lame_duck_duration_ms);
        return NE_ERR_RANGE;
    }
    if (js_options_check(opts, err, err_cap) != NE_OK) {
        return NE_ERR_RANGE;
    }
    int rc = ne_authn_check_secret("password", opts->auth_pass, err, err_cap);
    if (rc == NE_OK) {
        rc = ne_authn_check_secret("token", opts->auth_token, err, err_cap);
    }
    for (uint32_t i = 0; rc == NE_OK && i < opts->user_count; i++) {
        rc = ne_authn_check_secret("password", opts->users[i].pass, err, err_cap);
    }
    return rc;
}

/* A server id in nats-server's form: 'N' and 55 base32 characters. */
static int make_server_id(char id[57])
{
    id[0] = 'N';
    int rc = ne_rng_unpredictable_text(id + 1, 55, NE_RNG_BASE32);
    id[56] = '\0';
    return rc;
}

#if NE_FEATURE_ROUTES
/* The cluster's client URLs changed: clients that take async INFO hear it. */
static void cluster_urls_changed(void *ctx)
{
    ne_nats_cluster_changed(ctx);
}
#endif

/* The router removes a connection's subscriptions when it is torn down. */
static void conn_teardown(void *ctx, ne_conn *conn)
{
    ne_router_conn_gone(ctx, conn);
}

int ne_server_init(ne_server *srv, const ne_server_options *opts, const ne_net *net,
                   const ne_log *log)
{
    NE_ASSERT(srv != NULL && opts != &srv->opts); /* cleared below: see ne_server_init_zeroed */
    /* Written only where not zero already: on a host with a shared zero
     * page, the trie, the shared read buffer and the leaf tables stay out of
     * the resident set until used. */
    ne_zero_lazy(srv, offsetof(ne_server, storage));
    return ne_server_init_zeroed(srv, opts, net, log);
}

int ne_server_init_zeroed(ne_server *srv, const ne_server_options *opts, const ne_net *net,
                          const ne_log *log)
{
    NE_ASSERT(srv != NULL && opts != NULL && net != NULL);
    NE_ASSERT(!srv->started);
    char err[160];
    if (opts != &srv->opts) { /* a board may have parsed into the server's own */
        srv->opts = *opts;
    }
    if (log != NULL) {
        srv->log = *log;
    }
    if (ne_server_options_check(opts, err, sizeof(err)) != NE_OK) {
        ne_log_error(&srv->log, "%s", err);
        return NE_ERR_RANGE;
    }
    ne_conns_init(&srv->conns, &srv->storage.conns, &srv->opts, net, &srv->log);
    int rc = make_server_id(srv->conns.id.server_id);
    if (rc != NE_OK) {
        return rc;
    }
    ne_rng_seed(&srv->rng);
    if (srv->opts.server_name[0] == '\0') {
        memcpy(srv->opts.server_name, srv->conns.id.server_id, sizeof(srv->opts.server_name) - 1);
    }
    rc = ne_router_init(&srv->router, &srv->storage.router, &srv->opts, &srv->conns, &srv->rng);
    if (rc != NE_OK) {
        return rc;
    }
    srv->conns.teardown = conn_teardown;
    srv->conns.teardown_ctx = &srv->router;
    srv->conns.out_bytes_counter = &srv->router.stats.out_bytes;
    ne_nats_init(&srv->nats, &srv->storage.nats, &srv->opts, &srv->conns, &srv->router);
#if NE_FEATURE_MQTT
    ne_mqtt_init(&srv->mqtt, &srv->storage.mqtt, &srv->opts, &srv->conns, &srv->router, &srv->rng);
#endif
    ne_leaf_init(&srv->leaf, &srv->opts, &srv->conns, &srv->router, &srv->rng);
#if NE_FEATURE_ROUTES
    ne_route_init(&srv->route, &srv->opts, &srv->conns, &srv->router, &srv->rng,
                  &srv->cluster_urls);
    ne_route_on_urls_changed(&srv->route, cluster_urls_changed, &srv->nats);
    if (srv->opts.cluster.enabled) {
        ne_nats_set_cluster(&srv->nats, srv->route.cluster_name, &srv->cluster_urls);
    }
#endif
    ne_mon_init(&srv->mon, &srv->opts, &srv->conns, &srv->router);
    ne_sys_init(&srv->sys, &srv->opts, &srv->conns, &srv->router, &srv->mon);
#if NE_FEATURE_JETSTREAM
    ne_js_init(&srv->js, &srv->storage.js, &srv->opts, &srv->conns, &srv->router, &srv->mon,
               &srv->rng);
#endif
#if NE_FEATURE_ROUTES
    if (srv->opts.cluster.enabled) {
        ne_sys_set_cluster(&srv->sys, srv->route.cluster_name);
    }
#endif
    ne_server_endpoints_register(srv);
    srv->conns.id.start_wall_ns = ne_port_wall_ns();
    srv->conns.id.config_load_wall_ns = srv->conns.id.start_wall_ns;
    srv->start_ms = ne_port_now_ms();
    srv->conns.now_ms = srv->start_ms;
    srv->next_tick_ms = srv->start_ms + NE_TICK_INTERVAL_MS;
    return NE_OK;
}

void ne_server_set_tls(ne_server *srv, const ne_tls *tls, const ne_tls_config *server_config,
                       const ne_tls_config *client_config)
{
    ne_conns_set_tls(&srv->conns, tls, server_config, client_config);
}

void ne_server_set_monitor_tls(ne_server *srv, const ne_tls_config *config)
{
    srv->mon.tls_config = config;
}

void ne_server_set_config_file(ne_server *srv, const char *path)
{
    srv->config_file = path;
}

/* nats-server's start-up warning for passwords kept in clear. */
static void warn_plaintext_passwords(const ne_server *srv)
{
    const ne_server_options *o = &srv->opts;
    bool plain = o->auth_pass[0] != '\0' && !ne_bcrypt_is_hash(o->auth_pass);
    for (uint32_t i = 0; i < o->user_count && !plain; i++) {
        plain = o->users[i].nkey[0] == '\0' && !ne_bcrypt_is_hash(o->users[i].pass);
    }
    if (plain) {
        ne_log_warn(&srv->log, "Plaintext passwords detected, use nkeys or bcrypt");
    }
}

#if NE_MQTT_PERSIST
void ne_server_set_flash(ne_server *srv, const ne_flash *flash)
{
    NE_ASSERT(!srv->started);
    srv->flash = flash;
}

static int open_store(ne_server *srv)
{
#if NE_STORE_PACK_RAW_BYTES > 0
    ne_snappy_table *table = &srv->snappy;
#else
    ne_snappy_table *table = NULL;
#endif
    int rc = ne_store_dev_open(&srv->store_dev, srv->flash, table);
    if (rc != NE_OK) {
        ne_log_error(&srv->log, "Storage device could not be opened: %s", ne_err_name(rc));
        return rc;
    }
    srv->store_open = true;
    ne_store_damage d;
    for (uint32_t i = 0;
         i < NE_STORE_MAX_DAMAGE_REPORTS && ne_store_dev_damage(&srv->store_dev, i, &d) == NE_OK;
         i++) {
        char line[160];
        size_t n = 0;
        if (ne_store_dev_describe(&srv->store_dev, &d, line, sizeof(line), &n) == NE_OK) {
            ne_log_warn(&srv->log, "Storage: %.*s", (int)n, line);
        }
    }
    return ne_mqtt_open_store(&srv->mqtt, &srv->store_dev);
}
#endif

int ne_server_start(ne_server *srv)
{
    ne_log_info(&srv->log, "Starting natsedge");
    ne_log_info(&srv->log, "  Version:  %s (protocol level of nats-server %s)", NE_VERSION,
                NE_ADVERTISED_VERSION);
    ne_log_info(&srv->log, "  Name:     %s", srv->opts.server_name);
    ne_log_info(&srv->log, "  ID:       %s", srv->conns.id.server_id);
    if (srv->config_file != NULL) {
        ne_log_info(&srv->log, "Using configuration file: %s", srv->config_file);
    }
    warn_plaintext_passwords(srv);
    ne_server_log_memory(srv);
    int rc = ne_mon_start(&srv->mon);
    if (rc == NE_OK) {
        rc = ne_sys_start(&srv->sys);
    }
#if NE_FEATURE_JETSTREAM
    if (rc == NE_OK) {
        rc = ne_js_start(&srv->js);
    }
#endif
    if (rc == NE_OK) {
        rc = ne_leaf_start(&srv->leaf);
    }
    if (rc == NE_OK) {
        rc = ne_nats_start(&srv->nats);
    }
#if NE_MQTT_PERSIST
    if (rc == NE_OK && srv->flash != NULL) {
        rc = open_store(srv);
    }
#endif
#if NE_FEATURE_MQTT
    if (rc == NE_OK) {
        rc = ne_mqtt_start(&srv->mqtt);
    }
#endif
#if NE_FEATURE_ROUTES
    if (rc == NE_OK) {
        rc = ne_route_start(&srv->route, ne_nats_port(&srv->nats));
    }
#endif
    if (rc != NE_OK) {
        return rc;
    }
    ne_log_info(&srv->log, "Server is ready");
    srv->started = true;
    return NE_OK;
}

static void log_pool(const ne_server *srv, const char *name, uint32_t count, size_t unit_bytes)
{
    ne_log_info(&srv->log, "  %-14s %6u x %6zu B = %8zu KiB", name, (unsigned)count, unit_bytes,
                (size_t)count * unit_bytes / 1024);
}

void ne_server_log_memory(const ne_server *srv)
{
    ne_log_info(&srv->log, "Static memory reserved (%zu KiB in all):", sizeof(ne_server) / 1024);
    log_pool(srv, "connections", NE_MAX_CONN_HEADERS, NE_POOL_OBJECT_BYTES(sizeof(ne_conn)));
    log_pool(srv, "connection I/O", NE_CONN_POOL_SIZE, NE_POOL_OBJECT_BYTES(sizeof(ne_conn_io)));
    log_pool(srv, "read buffers", NE_CONN_READ_BUFFERS, NE_POOL_OBJECT_BYTES(sizeof(ne_conn_rbuf)));
    log_pool(srv, "partial inputs", NE_PARTIAL_INPUTS, NE_POOL_OBJECT_BYTES(sizeof(ne_spill)));
    log_pool(srv, "TLS states", NE_TLS_MAX_SESSIONS, NE_POOL_OBJECT_BYTES(sizeof(ne_conn_tls)));
#if NE_CONN_PEER_BINARY
    log_pool(srv, "peer names", NE_CONN_PEER_NAMES,
             NE_POOL_OBJECT_BYTES(sizeof(ne_conn_peer_name)));
#endif
#if NE_CONN_PARKING
    log_pool(srv, "parked", NE_CONN_POOL_SIZE, NE_POOL_OBJECT_BYTES(sizeof(ne_parked)));
#endif
    log_pool(srv, "clients", NE_MAX_CONNECTIONS, NE_POOL_OBJECT_BYTES(sizeof(ne_nats_client)));
    log_pool(srv, "subscriptions", NE_MAX_SUBSCRIPTIONS, NE_POOL_OBJECT_BYTES(sizeof(ne_sub)));
    log_pool(srv, "chunks", NE_CHUNK_COUNT, NE_POOL_OBJECT_BYTES(sizeof(ne_chunk)));
    log_pool(srv, "outrefs", NE_OUT_REF_COUNT, NE_POOL_OBJECT_BYTES(sizeof(ne_outref)));
    log_pool(srv, "subject trie", 1, sizeof(ne_trie));
    log_pool(srv, "match buffer", 1, sizeof(ne_match_result));
#if NE_SHARED_READ_BUFFER_BYTES > 0
    log_pool(srv, "shared read", 1, NE_SHARED_READ_BUFFER_BYTES);
#endif
    log_pool(srv, "closed ring", NE_CLOSED_CONN_RING, sizeof(ne_closed_conn));
    ne_leaf_log_memory(&srv->leaf);
#if NE_FEATURE_MQTT
    log_pool(srv, "mqtt clients", NE_MQTT_MAX_CONNECTIONS,
             NE_POOL_OBJECT_BYTES(sizeof(ne_mqtt_client)));
    log_pool(srv, "mqtt sessions", NE_MQTT_MAX_SESSIONS,
             NE_POOL_OBJECT_BYTES(sizeof(ne_mqtt_session)));
    log_pool(srv, "mqtt filters", NE_MQTT_SUB_TABLES,
             NE_POOL_OBJECT_BYTES(sizeof(ne_mqtt_sub_table)));
    log_pool(srv, "mqtt outbound", NE_MQTT_OUT_TABLES,
             NE_POOL_OBJECT_BYTES(sizeof(ne_mqtt_out_table)));
    log_pool(srv, "mqtt aliases", NE_MQTT_ALIAS_TABLES,
             NE_POOL_OBJECT_BYTES(sizeof(ne_mqtt_alias_table)));
    log_pool(srv, "mqtt long ids", NE_MQTT_LONG_CLIENT_IDS,
             NE_POOL_OBJECT_BYTES(sizeof(ne_mqtt_long_id)));
    log_pool(srv, "mqtt inbound", NE_MQTT_INBOUND_TABLES,
             NE_POOL_OBJECT_BYTES(sizeof(ne_mqtt_inbound_table)));
    log_pool(srv, "mqtt messages", NE_MQTT_MAX_MESSAGES, NE_POOL_OBJECT_BYTES(sizeof(ne_mqtt_msg)));
    log_pool(srv, "mqtt blocks", NE_MQTT_BLOCKS, NE_POOL_OBJECT_BYTES(sizeof(ne_mqtt_block)));
#endif
#if NE_FEATURE_ROUTES
    ne_route_log_memory(&srv->route);
#endif
#if NE_FEATURE_JETSTREAM
    ne_js_log_memory(&srv->js);
#endif
}

uint32_t ne_server_pools_in_use(const ne_server *srv, const char **busy)
{
    const ne_pool *pools[] = {
        &srv->conns.conn_pool,
        &srv->conns.io_pool,
        &srv->conns.rbuf_pool,
        &srv->conns.spill_pool,
        &srv->conns.tls_pool,
#if NE_CONN_PEER_BINARY
        &srv->conns.name_pool,
#endif
#if NE_CONN_PARKING
        &srv->conns.parked_pool,
#endif
        &srv->conns.chunks.chunks,
        &srv->conns.chunks.refs,
        &srv->router.sub_pool,
        &srv->router.trie.pool,
        &srv->nats.client_pool,
        &srv->leaf.link_pool,
        &srv->leaf.interest_pool,
        &srv->mon.state_pool,
#if NE_FEATURE_MQTT
        &srv->mqtt.client_pool,
        &srv->mqtt.session_pool,
        &srv->mqtt.sub_table_pool,
        &srv->mqtt.out_table_pool,
        &srv->mqtt.alias_table_pool,
        &srv->mqtt.long_id_pool,
        &srv->mqtt.inbound_pool,
        &srv->mqtt.store.msg_pool,
        &srv->mqtt.store.block_pool,
#endif
#if NE_FEATURE_ROUTES
        &srv->route.link_pool,
#endif
    };
    uint32_t total = 0;
    *busy = NULL;
    for (size_t i = 0; i < NE_ARRAY_LEN(pools); i++) {
        /* The trie keeps one root per account while the server lives. */
        uint32_t idle = pools[i] == &srv->router.trie.pool ? srv->router.account_count : 0;
        uint32_t used = pools[i]->in_use > idle ? pools[i]->in_use - idle : 0;
        if (used > 0 && *busy == NULL) {
            *busy = pools[i]->name;
        }
        total += used;
    }
#if NE_FEATURE_JETSTREAM
    total += ne_js_pools_in_use(&srv->js, busy);
#endif
    /* Chunks promised to incomplete messages, and the share they count in. */
    uint32_t promised = srv->conns.chunks.promised + srv->conns.partial_chunks;
    if (promised > 0 && *busy == NULL) {
        *busy = "incomplete messages";
    }
    return total + promised;
}

uint16_t ne_server_client_port(const ne_server *srv)
{
    return ne_nats_port(&srv->nats);
}

uint16_t ne_server_leaf_port(const ne_server *srv)
{
    return srv->leaf.listener.port;
}

uint16_t ne_server_http_port(const ne_server *srv)
{
    return srv->mon.listener.port;
}

uint16_t ne_server_mqtt_port(const ne_server *srv)
{
#if NE_FEATURE_MQTT
    return ne_mqtt_port(&srv->mqtt);
#else
    (void)srv;
    return 0;
#endif
}

uint16_t ne_server_route_port(const ne_server *srv)
{
#if NE_FEATURE_ROUTES
    return ne_route_port(&srv->route);
#else
    (void)srv;
    return 0;
#endif
}

void ne_server_handle_io(ne_server *srv, void *user, bool readable, bool writable)
{
    ne_conns_handle_io(&srv->conns, user, readable, writable);
}

static void lame_duck_step(ne_server *srv);

void ne_server_turn_end(ne_server *srv)
{
    uint64_t now = ne_port_now_ms();
    bool tick = now >= srv->next_tick_ms;
    if (tick) {
        srv->next_tick_ms = now + NE_TICK_INTERVAL_MS;
        srv->conns.now_ms = now;
        ne_leaf_tick(&srv->leaf, now);
#if NE_FEATURE_MQTT
        ne_mqtt_tick(&srv->mqtt, now);
#endif
#if NE_FEATURE_ROUTES
        ne_route_tick(&srv->route, now);
#endif
        ne_sys_tick(&srv->sys, now);
    }
    srv->conns.now_ms = now;
    lame_duck_step(srv);
    ne_conns_turn_end(&srv->conns, now, tick);
}

int ne_server_next_timeout_ms(const ne_server *srv)
{
    if (ne_conns_busy(&srv->conns)) {
        return 0;
    }
    uint64_t now = ne_port_now_ms();
    uint64_t next = srv->next_tick_ms;
    if ((srv->lame_duck == NE_LAME_DUCK_GRACE || srv->lame_duck == NE_LAME_DUCK_CLOSING) &&
        srv->lame_duck_next_ms < next) {
        next = srv->lame_duck_next_ms;
    }
    return next > now ? (int)(next - now) : 0;
}

void ne_server_enter_lame_duck(ne_server *srv)
{
    if (!srv->started || srv->lame_duck != NE_LAME_DUCK_OFF) {
        return;
    }
    ne_log_info(&srv->log, "Entering lame duck mode, stop accepting new clients");
    ne_nats_stop_listening(&srv->nats);
#if NE_FEATURE_MQTT
    ne_mqtt_stop_listening(&srv->mqtt);
#endif
    srv->conns.now_ms = ne_port_now_ms();
    uint32_t clients = ne_conns_client_count(&srv->conns);
    if (clients == 0) {
        srv->lame_duck = NE_LAME_DUCK_DONE;
        return;
    }
    /* The closes are spread over the duration less the grace period, at most
     * a second apart; with more clients than milliseconds, several per step
     * (nats-server's spacing). */
    uint64_t spread_ms = srv->opts.lame_duck_duration_ms - srv->opts.lame_duck_grace_period_ms;
    uint64_t spacing_ms = spread_ms / clients;
    srv->lame_duck_batch = 1;
    if (spacing_ms < 1) {
        spacing_ms = 1;
        srv->lame_duck_batch = (uint32_t)(clients / (spread_ms > 0 ? spread_ms : 1));
    }
    srv->lame_duck_spacing_ms = NE_MIN(spacing_ms, (uint64_t)NE_LAME_DUCK_MAX_SPACING_MS);
    ne_nats_lame_duck_info(&srv->nats);
    srv->lame_duck = NE_LAME_DUCK_GRACE;
    srv->lame_duck_next_ms = srv->conns.now_ms + srv->opts.lame_duck_grace_period_ms;
}

bool ne_server_finished(const ne_server *srv)
{
    return srv->lame_duck == NE_LAME_DUCK_DONE;
}

/* Closes the next batch of clients once their time has come; the wait to
 * the next batch is random between half the spacing and the spacing. */
static void lame_duck_step(ne_server *srv)
{
    uint64_t now = srv->conns.now_ms;
    if (srv->lame_duck == NE_LAME_DUCK_OFF || srv->lame_duck == NE_LAME_DUCK_DONE ||
        now < srv->lame_duck_next_ms) {
        return;
    }
    if (srv->lame_duck == NE_LAME_DUCK_GRACE) {
        ne_log_info(&srv->log, "Closing existing clients");
        srv->lame_duck = NE_LAME_DUCK_CLOSING;
    }
    uint32_t open = 0;
    uint32_t guard = 0;
    for (const ne_conn *c = srv->conns.active; c != NULL && guard < NE_MAX_CONN_HEADERS;
         c = c->next, guard++) {
        open += ne_conn_kind_of(c)->client && !c->closing ? 1u : 0u;
    }
    uint32_t closed =
        ne_nats_close_clients(&srv->nats, srv->lame_duck_batch, NE_CLOSE_SERVER_SHUTDOWN);
#if NE_FEATURE_MQTT
    (void)ne_mqtt_close_clients(&srv->mqtt, srv->lame_duck_batch - closed);
#else
    (void)closed;
#endif
    if (open > srv->lame_duck_batch) {
        uint64_t half = srv->lame_duck_spacing_ms / 2;
        uint64_t wait = half + ne_rng_next(&srv->rng) % (srv->lame_duck_spacing_ms - half);
        srv->lame_duck_next_ms = now + wait;
        return;
    }
    /* Every client is closing: they are torn down at the end of this turn. */
    srv->lame_duck = NE_LAME_DUCK_DONE;
}

void ne_server_shutdown(ne_server *srv)
{
    /* $SYS.SERVER.<id>.SHUTDOWN, written in a turn of its own before the
     * connections close, so the other servers hear it. */
    ne_sys_shutdown(&srv->sys);
    ne_server_turn_end(srv);
#if NE_FEATURE_JETSTREAM
    ne_js_shutdown(&srv->js);
#endif
    ne_leaf_shutdown(&srv->leaf);
#if NE_FEATURE_MQTT
    ne_mqtt_shutdown(&srv->mqtt);
#endif
#if NE_MQTT_PERSIST
    if (srv->store_open) {
        ne_mqtt_close_store(&srv->mqtt);
        (void)ne_store_dev_sync(&srv->store_dev);
        srv->store_open = false;
    }
#endif
#if NE_FEATURE_ROUTES
    ne_route_shutdown(&srv->route);
#endif
    ne_conns_close_all(&srv->conns, NE_CLOSE_SERVER_SHUTDOWN);
    ne_server_turn_end(srv);
    ne_router_deinit(&srv->router);
    ne_log_info(&srv->log, "Server Exiting..");
}

static void loop_io(void *server, void *user, bool readable, bool writable)
{
    ne_server_handle_io(server, user, readable, writable);
}

static void loop_turn_end(void *server)
{
    ne_server_turn_end(server);
}

static int loop_next_timeout_ms(const void *server)
{
    return ne_server_next_timeout_ms(server);
}

static bool loop_finished(const void *server)
{
    return ne_server_finished(server);
}

void ne_server_loop(ne_server *srv, ne_loop *loop)
{
    loop->io = loop_io;
    loop->turn_end = loop_turn_end;
    loop->next_timeout_ms = loop_next_timeout_ms;
    loop->finished = loop_finished;
    loop->server = srv;
}
