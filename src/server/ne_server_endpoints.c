/* /varz and /leafz (ne_server_endpoints.h). */
#include "server/ne_server_endpoints.h"

#include <string.h>

#include "core/ne_error.h"
#include "server/ne_server.h"

static void write_tls_memory(ne_json_out *o, const ne_server *srv)
{
    /* natsedge only: the static TLS memory region and session pool. */
    ne_tls_stats t;
    srv->conns.tls.ops->stats(srv->conns.tls.ctx, &t);
    ne_json_key(o, "tls_memory");
    ne_json_begin_object(o);
    ne_json_kv_u64(o, "region_bytes", t.region_bytes);
    ne_json_kv_u64(o, "in_use_bytes", t.in_use_bytes);
    ne_json_kv_u64(o, "peak_bytes", t.peak_bytes);
    ne_json_kv_u64(o, "sessions", t.sessions);
    ne_json_kv_u64(o, "max_sessions", t.max_sessions);
    ne_json_kv_u64(o, "refused", srv->conns.stats.tls_refused);
    ne_json_kv_u64(o, "handshakes", t.handshakes);
    ne_json_kv_u64(o, "handshake_failures", t.failures);
    ne_json_end_object(o);
}

/* natsedge only: what permissions and accounts refused or dropped. */
static void write_auth_stats(ne_json_out *o, const ne_server *srv)
{
    ne_json_key(o, "natsedge_auth");
    ne_json_begin_object(o);
    ne_json_kv_u64(o, "permission_violations", srv->router.stats.perm_violations);
    ne_json_kv_u64(o, "service_replies_refused", srv->router.stats.reply_maps_refused);
    ne_json_kv_u64(o, "response_perms_evicted", srv->router.stats.resp_perms_evicted);
    ne_json_kv_u64(o, "system_events", srv->sys.stats.events);
    ne_json_kv_u64(o, "system_events_dropped", srv->sys.stats.events_dropped);
    ne_json_kv_u64(o, "system_servers_dropped", srv->sys.stats.servers_dropped);
    ne_json_end_object(o);
}

/* natsedge only: pools in use, so a long run can show they return to their
 * idle level (make soak-leaf). */
static void write_pools(ne_json_out *o, const ne_server *srv)
{
    ne_json_key(o, "natsedge_pools");
    ne_json_begin_object(o);
    ne_json_kv_u64(o, "connections", srv->conns.conn_pool.in_use);
    ne_json_kv_u64(o, "subscriptions", srv->router.sub_pool.in_use);
    ne_json_kv_u64(o, "chunks", srv->conns.chunks.chunks.in_use);
    ne_json_kv_u64(o, "outrefs", srv->conns.chunks.refs.in_use);
    ne_json_kv_u64(o, "read_buffers", srv->conns.rbuf_pool.in_use);
    ne_json_kv_u64(o, "incomplete_messages", srv->conns.spill_pool.in_use);
    ne_json_kv_u64(o, "tls_states", srv->conns.tls_pool.in_use);
#if NE_CONN_PARKING
    ne_json_kv_u64(o, "parked_records", srv->conns.parked_pool.in_use);
    ne_json_kv_u64(o, "parked_connections", srv->conns.parked);
#endif
    ne_json_kv_u64(o, "trie_nodes", srv->router.trie.pool.in_use);
    ne_json_kv_u64(o, "leaf_connections", srv->leaf.link_pool.in_use);
    ne_json_kv_u64(o, "leaf_interest", srv->leaf.interest_pool.in_use);
#if NE_FEATURE_MQTT
    ne_json_kv_u64(o, "mqtt_clients", srv->mqtt.client_pool.in_use);
    ne_json_kv_u64(o, "mqtt_sessions", srv->mqtt.session_pool.in_use);
    ne_json_kv_u64(o, "mqtt_filter_tables", srv->mqtt.sub_table_pool.in_use);
    ne_json_kv_u64(o, "mqtt_outbound_rings", srv->mqtt.out_table_pool.in_use);
    ne_json_kv_u64(o, "mqtt_alias_tables", srv->mqtt.alias_table_pool.in_use);
    ne_json_kv_u64(o, "mqtt_alias_claims", srv->mqtt.alias_claims);
    ne_json_kv_u64(o, "mqtt_long_client_ids", srv->mqtt.long_id_pool.in_use);
    ne_json_kv_u64(o, "mqtt_inbound_tables", srv->mqtt.inbound_pool.in_use);
    ne_json_kv_u64(o, "mqtt_messages", srv->mqtt.store.msg_pool.in_use);
    ne_json_kv_u64(o, "mqtt_blocks", srv->mqtt.store.block_pool.in_use);
#endif
#if NE_FEATURE_ROUTES
    ne_json_kv_u64(o, "route_connections", srv->route.link_pool.in_use);
#endif
#if NE_FEATURE_JETSTREAM
    ne_js_write_pools(&srv->js, o);
#endif
    ne_json_end_object(o);
}

#if NE_FEATURE_ROUTES
/* natsedge only: what the routes refused, dropped or closed. */
static void write_route_stats(ne_json_out *o, const ne_server *srv)
{
    const ne_route_stats *s = &srv->route.stats;
    ne_json_key(o, "natsedge_routes");
    ne_json_begin_object(o);
    ne_json_kv_u64(o, "links_refused", s->links_refused);
    ne_json_kv_u64(o, "interest_exhausted", s->interest_exhausted);
    ne_json_kv_u64(o, "interest_dropped", s->interest_dropped);
    ne_json_kv_u64(o, "unknown_account", s->unknown_account);
    ne_json_kv_u64(o, "duplicates", s->duplicates);
    ne_json_kv_u64(o, "name_conflicts", s->name_conflicts);
    ne_json_kv_u64(o, "urls_dropped", s->urls_dropped);
    ne_json_end_object(o);
}

static int write_routez(void *ctx, ne_json_out *o, const ne_mon_query *q, const char **error_text)
{
    ne_route_write_routez(ctx, o, q->subs, q->subs_detail);
    return NE_OK;
}
#endif

static void write_http_req_stats(ne_json_out *o, const ne_server *srv)
{
    ne_json_key(o, "http_req_stats");
    ne_json_begin_object(o);
    for (uint32_t i = 0; i < srv->mon.endpoint_count; i++) {
        const ne_mon_endpoint *e = &srv->mon.endpoints[i];
        if (e->counted && e->requests > 0) {
            ne_json_kv_u64(o, e->path, e->requests);
        }
    }
    ne_json_end_object(o);
}

static int write_varz(void *ctx, ne_json_out *o, const ne_mon_query *q, const char **error_text)
{
    const ne_server *srv = ctx;
    const ne_server_options *opts = &srv->opts;
    uint64_t now = ne_port_wall_ns();
    uint16_t http_port = ne_server_http_port(srv);
    ne_json_begin_object(o);
    ne_json_kv_string(o, "server_id", srv->conns.id.server_id);
    ne_json_kv_string(o, "server_name", opts->server_name);
    ne_json_kv_string(o, "version", NE_ADVERTISED_VERSION);
    ne_json_kv_u64(o, "proto", 1);
    ne_json_kv_string(o, "go", "natsedge-" NE_VERSION);
    ne_json_kv_string(o, "host", opts->host);
    ne_json_kv_u64(o, "port", ne_server_client_port(srv));
    ne_json_kv_u64(o, "max_connections", opts->max_connections);
    ne_json_kv_u64(o, "ping_interval", (uint64_t)opts->ping_interval_ms * 1000000u);
    ne_json_kv_u64(o, "ping_max", opts->ping_max);
    ne_json_kv_string(o, "http_host", opts->http_host);
    ne_json_kv_u64(o, "http_port", opts->https ? 0 : http_port);
    ne_json_kv_string(o, "http_base_path", "");
    ne_json_kv_u64(o, "https_port", opts->https ? http_port : 0);
    ne_json_kv_u64(o, "auth_timeout", NE_DEFAULT_AUTH_TIMEOUT_MS / 1000);
    ne_json_kv_u64(o, "max_control_line", opts->max_control_line);
    ne_json_kv_u64(o, "max_payload", opts->max_payload);
    ne_json_kv_u64(o, "max_pending", opts->max_pending);
#if NE_FEATURE_ROUTES
    ne_json_key(o, "cluster");
    ne_route_write_varz_cluster(&srv->route, o);
#else
    ne_json_kv_raw(o, "cluster", "{}");
#endif
    ne_json_kv_raw(o, "gateway", "{}");
    ne_json_kv_raw(o, "leaf", "{}");
#if NE_FEATURE_MQTT
    ne_json_key(o, "mqtt");
    ne_mqtt_varz(&srv->mqtt, o);
#else
    ne_json_kv_raw(o, "mqtt", "{}");
#endif
    ne_json_kv_raw(o, "websocket", "{}");
#if NE_FEATURE_JETSTREAM
    ne_js_write_varz(&srv->js, o);
#else
    ne_json_kv_raw(o, "jetstream", "{}");
#endif
    if (opts->tls) {
        ne_json_kv_bool(o, "tls_required", true);
        if (opts->tls_verify) {
            ne_json_kv_bool(o, "tls_verify", true);
        }
    }
    ne_json_key(o, "tls_timeout");
    ne_json_milli(o, opts->tls_timeout_ms);
    if (srv->conns.tls.ops != NULL) {
        write_tls_memory(o, srv);
    }
    if (opts->perm_count > 0 || opts->account_count > 2) {
        write_auth_stats(o, srv);
    }
    /* natsedge only, on request (nats-server ignores the parameter): what
     * delivery could not frame, and the pools, so that a test can see every
     * pool back to idle. */
    if (q->natsedge) {
        ne_json_key(o, "natsedge_delivery");
        ne_json_begin_object(o);
        ne_json_kv_u64(o, "lines_too_long", srv->router.stats.lines_too_long);
        ne_json_end_object(o);
#if NE_FEATURE_MQTT
        ne_mqtt_stats_json(&srv->mqtt, o);
#endif
    }
    if (srv->leaf.active || q->natsedge) {
        write_pools(o, srv);
    }
#if NE_FEATURE_ROUTES
    if (srv->route.active && (opts->cluster.route_count > 0 || q->natsedge)) {
        write_route_stats(o, srv);
    }
#endif
    ne_json_kv_u64(o, "write_deadline", (uint64_t)opts->write_deadline_ms * 1000000u);
    ne_json_kv_time(o, "start", srv->conns.id.start_wall_ns);
    ne_json_kv_time(o, "now", now);
    ne_json_key(o, "uptime");
    ne_json_uptime(o, now - srv->conns.id.start_wall_ns);
    ne_json_kv_u64(o, "mem", ne_port_memory_bytes());
    ne_json_kv_u64(o, "cores", ne_port_cpu_count());
    ne_json_kv_u64(o, "gomaxprocs", 1);
    ne_json_kv_u64(o, "cpu", 0);
    ne_json_kv_u64(o, "connections", ne_conns_client_count(&srv->conns));
    ne_json_kv_u64(o, "total_connections", srv->conns.stats.total_connections);
#if NE_FEATURE_ROUTES
    /* Routes and the servers they reach: one each, duplicates being closed. */
    ne_json_kv_u64(o, "routes", ne_route_count(&srv->route));
    ne_json_kv_u64(o, "remotes", ne_route_count(&srv->route));
#else
    ne_json_kv_u64(o, "routes", 0);
    ne_json_kv_u64(o, "remotes", 0);
#endif
    ne_json_kv_u64(o, "leafnodes", ne_leaf_connection_count(&srv->leaf));
    ne_json_kv_u64(o, "in_msgs", srv->router.stats.in_msgs);
    ne_json_kv_u64(o, "out_msgs", srv->router.stats.out_msgs);
    ne_json_kv_u64(o, "in_bytes", srv->router.stats.in_bytes);
    ne_json_kv_u64(o, "out_bytes", srv->router.stats.out_bytes);
    ne_json_kv_u64(o, "slow_consumers", srv->conns.stats.slow_consumers);
    ne_json_kv_u64(o, "subscriptions", srv->router.sub_pool.in_use);
    write_http_req_stats(o, srv);
    ne_json_kv_time(o, "config_load_time", srv->conns.id.config_load_wall_ns);
    ne_json_end_object(o);
    return NE_OK;
}

static int write_leafz(void *ctx, ne_json_out *o, const ne_mon_query *q, const char **error_text)
{
    ne_leaf_write_leafz(ctx, o, q->subs);
    return NE_OK;
}

/* Accounts with local connections (all with unused=1; the one named by
 * acc=), each with nats-server's AccountStat fields. */
static int write_accstatz(void *ctx, ne_json_out *o, const ne_mon_query *q, const char **error_text)
{
    const ne_server *srv = ctx;
    ne_json_begin_object(o);
    ne_json_kv_string(o, "server_id", srv->conns.id.server_id);
    ne_json_kv_time(o, "now", ne_port_wall_ns());
    ne_json_key(o, "account_statz");
    ne_json_begin_array(o);
    for (uint32_t i = 0; i < srv->router.account_count; i++) {
        const ne_account *acc = &srv->router.accounts[i];
        const char *name = srv->opts.accounts[i].name;
        uint32_t leafs = ne_leaf_account_count(&srv->leaf, acc);
        if ((q->acc_given && strcmp(name, q->acc) != 0) ||
            (!q->unused && acc->clients + leafs == 0)) {
            continue;
        }
        ne_json_begin_object(o);
        ne_json_kv_string(o, "acc", name);
        ne_json_kv_u64(o, "conns", acc->clients);
        ne_json_kv_u64(o, "leafnodes", leafs);
        ne_json_kv_u64(o, "total_conns", (uint64_t)acc->clients + leafs);
        ne_json_key(o, "sent");
        ne_json_begin_object(o);
        ne_json_kv_u64(o, "msgs", acc->out_msgs);
        ne_json_kv_u64(o, "bytes", acc->out_bytes);
        ne_json_end_object(o);
        ne_json_key(o, "received");
        ne_json_begin_object(o);
        ne_json_kv_u64(o, "msgs", acc->in_msgs);
        ne_json_kv_u64(o, "bytes", acc->in_bytes);
        ne_json_end_object(o);
        ne_json_kv_u64(o, "slow_consumers", acc->slow_consumers);
        ne_json_end_object(o);
    }
    ne_json_end_array(o);
    ne_json_end_object(o);
    return NE_OK;
}

void ne_server_endpoints_register(ne_server *srv)
{
    ne_mon_register(&srv->mon, "/accstatz", NULL, NULL, write_accstatz, srv);
    ne_mon_register(&srv->mon, "/varz", NULL, "VARZ", write_varz, srv);
    ne_mon_register(&srv->mon, "/leafz", NULL, "LEAFZ", write_leafz, &srv->leaf);
#if NE_FEATURE_ROUTES
    ne_mon_register(&srv->mon, "/routez", NULL, "ROUTEZ", write_routez, &srv->route);
#endif
}
