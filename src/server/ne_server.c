/* Server life cycle, connections, outbound flushing and timers. The client
 * protocol itself is in ne_client.c. */
#include "server/ne_server.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "leaf/ne_leaf.h"
#include "mon/ne_mon.h"
#include "server/ne_bcrypt.h"

/* How often the connection timers (pings, write deadline) are examined. */
#define NE_TICK_INTERVAL_MS 100u
/* Reads from one connection per readable event before others get a turn. */
#ifndef NE_READS_PER_EVENT
#define NE_READS_PER_EVENT 4
#endif
/* Connections accepted per listener event. */
#define NE_ACCEPTS_PER_EVENT 64
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
}

bool ne_server_auth_required(const ne_server *srv)
{
    return srv->opts.auth_user[0] != '\0' || srv->opts.auth_token[0] != '\0' ||
           srv->opts.user_count > 0;
}

/* A configured secret that nats-server would check with bcrypt must be a
 * hash natsedge can check: refused here rather than failing every client. */
int ne_server_check_secret(const char *what, const char *secret, char *err, size_t err_cap)
{
    if (!ne_bcrypt_is_hash(secret)) {
        return NE_OK;
    }
    unsigned cost;
    uint8_t salt[NE_BCRYPT_SALT_BYTES];
    int rc = ne_bcrypt_parse(secret, strlen(secret), NE_BCRYPT_MAX_COST, &cost, salt);
    if (rc == NE_ERR_RANGE) {
        ne_fmt(err, err_cap,
               "bcrypt %s: cost %.*s is above the compiled-in maximum %u: raise "
               "NE_BCRYPT_MAX_COST in config/",
               what, 2, secret + 4, (unsigned)NE_BCRYPT_MAX_COST);
    } else if (rc != NE_OK) {
        ne_fmt(err, err_cap, "bcrypt %s is not a valid bcrypt hash", what);
    }
    return rc;
}

int ne_server_options_check(const ne_server_options *opts, char *err, size_t err_cap)
{
    if (opts->max_connections > NE_MAX_CONNECTIONS) {
        ne_fmt(err, err_cap,
               "max_connections %u is above the compiled-in maximum %u: raise "
               "NE_MAX_CONNECTIONS in config/",
               opts->max_connections, (unsigned)NE_MAX_CONNECTIONS);
        return NE_ERR_RANGE;
    }
    if (opts->max_payload > NE_MAX_PAYLOAD_BYTES) {
        ne_fmt(err, err_cap,
               "max_payload %u is above the compiled-in maximum %u: raise "
               "NE_MAX_PAYLOAD_BYTES in config/",
               opts->max_payload, (unsigned)NE_MAX_PAYLOAD_BYTES);
        return NE_ERR_RANGE;
    }
    if (opts->max_control_line > NE_MAX_CONTROL_LINE_BYTES) {
        ne_fmt(err, err_cap,
               "max_control_line %u is above the compiled-in maximum %u: raise "
               "NE_MAX_CONTROL_LINE_BYTES in config/",
               opts->max_control_line, (unsigned)NE_MAX_CONTROL_LINE_BYTES);
        return NE_ERR_RANGE;
    }
    if (opts->max_pending > NE_MAX_PENDING_BYTES) {
        ne_fmt(err, err_cap,
               "max_pending %llu is above the compiled-in maximum %llu: raise "
               "NE_MAX_PENDING_BYTES in config/",
               (unsigned long long)opts->max_pending, (unsigned long long)NE_MAX_PENDING_BYTES);
        return NE_ERR_RANGE;
    }
    if ((uint64_t)opts->max_payload > opts->max_pending) {
        ne_fmt(err, err_cap, "max_payload (%u) cannot be higher than max_pending (%llu)",
               opts->max_payload, (unsigned long long)opts->max_pending);
        return NE_ERR_RANGE;
    }
    if (ne_leaf_options_check(&opts->leaf, err, err_cap) != NE_OK) {
        return NE_ERR_INVALID;
    }
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
    int rc = ne_server_check_secret("password", opts->auth_pass, err, err_cap);
    if (rc == NE_OK) {
        rc = ne_server_check_secret("token", opts->auth_token, err, err_cap);
    }
    for (uint32_t i = 0; rc == NE_OK && i < opts->user_count; i++) {
        rc = ne_server_check_secret("password", opts->users[i].pass, err, err_cap);
    }
    return rc;
}

const char *ne_close_reason_text(ne_close_reason reason)
{
    switch (reason) {
    case NE_CLOSE_NONE:
        return "";
    case NE_CLOSE_CLIENT_CLOSED:
        return "Client Closed";
    case NE_CLOSE_SERVER_SHUTDOWN:
        return "Server Shutdown";
    case NE_CLOSE_PARSE_ERROR:
        return "Parse Error";
    case NE_CLOSE_PROTOCOL_VIOLATION:
        return "Protocol Violation";
    case NE_CLOSE_SLOW_CONSUMER_PENDING:
        return "Slow Consumer (Pending Bytes)";
    case NE_CLOSE_SLOW_CONSUMER_DEADLINE:
        return "Slow Consumer (Write Deadline)";
    case NE_CLOSE_STALE:
        return "Stale Connection";
    case NE_CLOSE_MAX_PAYLOAD:
        return "Maximum Message Payload Exceeded";
    case NE_CLOSE_MAX_CONTROL_LINE:
        return "Maximum Control Line Exceeded";
    case NE_CLOSE_READ_ERROR:
        return "Read Error";
    case NE_CLOSE_WRITE_ERROR:
        return "Write Error";
    case NE_CLOSE_BAD_PROTOCOL_VERSION:
        return "Bad Client Protocol Version";
    case NE_CLOSE_NO_RESPONDERS_HEADERS:
        return "No Responders Requires Headers";
    case NE_CLOSE_MAX_CONNECTIONS:
        return "Maximum Connections Exceeded";
    case NE_CLOSE_AUTH_VIOLATION:
        return "Authentication Failure";
    case NE_CLOSE_AUTH_TIMEOUT:
        return "Authentication Timeout";
    case NE_CLOSE_TLS_HANDSHAKE:
        return "TLS Handshake Failure";
    }
    return "Unknown";
}

uint64_t ne_server_random(ne_server *srv)
{
    /* xorshift64*: fast, good enough to spread queue members; never zero. */
    uint64_t x = srv->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    srv->rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* A server id in nats-server's form: 'N' and 55 base32 characters. */
static int make_server_id(ne_server *srv)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    uint8_t random[55];
    int rc = ne_port_entropy(random, sizeof(random));
    if (rc != NE_OK) {
        return rc;
    }
    srv->server_id[0] = 'N';
    for (size_t i = 0; i < sizeof(random); i++) {
        srv->server_id[i + 1] = alphabet[random[i] & 31];
    }
    srv->server_id[56] = '\0';
    return NE_OK;
}

int ne_server_init(ne_server *srv, const ne_server_options *opts, const ne_net *net,
                   const ne_log *log)
{
    NE_ASSERT(srv != NULL && opts != NULL && net != NULL);
    char err[160];
    /* Written only where not zero already: the trie, the shared read buffer
     * and the leaf tables stay out of the resident set until used. */
    ne_zero_lazy(srv, offsetof(ne_server, conn_storage));
    srv->opts = *opts;
    if (log != NULL) {
        srv->log = *log;
    }
    srv->net = *net;
    if (ne_server_options_check(opts, err, sizeof(err)) != NE_OK) {
        ne_log_error(&srv->log, "%s", err);
        return NE_ERR_RANGE;
    }
    int rc = make_server_id(srv);
    if (rc != NE_OK) {
        return rc;
    }
    if (ne_port_entropy(&srv->rng, sizeof(srv->rng)) != NE_OK || srv->rng == 0) {
        srv->rng = 0x9E3779B97F4A7C15ull;
    }
    ne_pool_init(&srv->conn_pool, "connections", &srv->conn_storage, sizeof(ne_conn),
                 NE_MAX_CONNECTIONS);
    ne_pool_init(&srv->sub_pool, "subscriptions", &srv->sub_storage, sizeof(ne_sub),
                 NE_MAX_SUBSCRIPTIONS);
    ne_chunk_pools_init(&srv->chunks, &srv->chunk_storage, NE_CHUNK_COUNT, &srv->ref_storage,
                        NE_OUT_REF_COUNT);
    ne_trie_init(&srv->trie);
    srv->account_count = srv->opts.account_count;
    for (uint32_t i = 0; i < srv->account_count; i++) {
        srv->accounts[i].index = (uint8_t)i;
        rc = ne_sublist_init(&srv->accounts[i].sublist, &srv->trie);
        if (rc != NE_OK) {
            ne_log_error(&srv->log, "%u accounts need more trie nodes: raise NE_MAX_TRIE_NODES",
                         (unsigned)srv->account_count);
            return rc;
        }
    }
    if (srv->opts.server_name[0] == '\0') {
        memcpy(srv->opts.server_name, srv->server_id, sizeof(srv->opts.server_name) - 1);
    }
    srv->client_listener.tag = NE_HANDLE_LISTENER;
    srv->client_listener.kind = NE_CONN_KIND_CLIENT;
    srv->client_listener.sock = NE_SOCK_INVALID;
    srv->http_listener.tag = NE_HANDLE_LISTENER;
    srv->http_listener.kind = NE_CONN_KIND_HTTP;
    srv->http_listener.sock = NE_SOCK_INVALID;
    srv->leaf_listener.tag = NE_HANDLE_LISTENER;
    srv->leaf_listener.kind = NE_CONN_KIND_LEAF;
    srv->leaf_listener.sock = NE_SOCK_INVALID;
    ne_leaf_init(srv);
    srv->next_cid = 1;
    srv->start_wall_ns = ne_port_wall_ns();
    srv->config_load_wall_ns = srv->start_wall_ns;
    srv->start_ms = ne_port_now_ms();
    srv->now_ms = srv->start_ms;
    srv->next_tick_ms = srv->now_ms + NE_TICK_INTERVAL_MS;
    return NE_OK;
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

int ne_server_start(ne_server *srv)
{
    const ne_net_ops *ops = srv->net.ops;
    ne_log_info(&srv->log, "Starting natsedge");
    ne_log_info(&srv->log, "  Version:  %s (protocol level of nats-server %s)", NE_VERSION,
                NE_ADVERTISED_VERSION);
    ne_log_info(&srv->log, "  Name:     %s", srv->opts.server_name);
    ne_log_info(&srv->log, "  ID:       %s", srv->server_id);
    warn_plaintext_passwords(srv);
    ne_server_log_memory(srv);
    int rc = ops->listen(srv->net.ctx, srv->opts.host, srv->opts.port, &srv->client_listener.sock);
    if (rc != NE_OK) {
        ne_log_error(&srv->log, "Error listening on port: %s:%u, %s", srv->opts.host,
                     (unsigned)srv->opts.port, ne_err_name(rc));
        return rc;
    }
    srv->client_listener.port = ops->local_port(srv->net.ctx, srv->client_listener.sock);
    rc = ops->attach(srv->net.ctx, srv->client_listener.sock, &srv->client_listener);
    if (rc != NE_OK) {
        return rc;
    }
    rc = ne_mon_start(srv);
    if (rc != NE_OK) {
        return rc;
    }
    rc = ne_leaf_start(srv);
    if (rc != NE_OK) {
        return rc;
    }
    ne_log_info(&srv->log, "Listening for client connections on %s:%u", srv->opts.host,
                (unsigned)srv->client_listener.port);
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
    log_pool(srv, "connections", NE_MAX_CONNECTIONS, NE_POOL_OBJECT_BYTES(sizeof(ne_conn)));
    log_pool(srv, "subscriptions", NE_MAX_SUBSCRIPTIONS, NE_POOL_OBJECT_BYTES(sizeof(ne_sub)));
    log_pool(srv, "chunks", NE_CHUNK_COUNT, NE_POOL_OBJECT_BYTES(sizeof(ne_chunk)));
    log_pool(srv, "outrefs", NE_OUT_REF_COUNT, NE_POOL_OBJECT_BYTES(sizeof(ne_outref)));
    log_pool(srv, "subject trie", 1, sizeof(ne_trie));
    log_pool(srv, "match buffer", 1, sizeof(ne_match_result));
#if NE_SHARED_READ_BUFFER_BYTES > 0
    log_pool(srv, "read buffer", 1, NE_SHARED_READ_BUFFER_BYTES);
#endif
    log_pool(srv, "closed ring", NE_CLOSED_CONN_RING, sizeof(ne_closed_conn));
    ne_leaf_log_memory(srv);
}

void ne_conn_pong_received(ne_conn *conn)
{
    conn->pings_out = 0;
    if (conn->rtt_start_ns != 0) {
        uint64_t now = ne_port_wall_ns();
        conn->rtt_ns = now > conn->rtt_start_ns ? now - conn->rtt_start_ns : 0;
        conn->rtt_start_ns = 0;
    }
}

void ne_conn_mark_dirty(ne_conn *conn)
{
    if (!conn->dirty) {
        conn->dirty = true;
        conn->dirty_next = conn->srv->dirty_head;
        conn->srv->dirty_head = conn;
    }
}

static void flush_dirty(ne_server *srv);

/* Frees chunks when the shared pool is exhausted. First every queued byte
 * the sockets will take is written now instead of at the end of the turn;
 * only if that frees nothing is the connection holding the most unsent bytes
 * closed: the slowest consumer pays, not whoever allocated next. Returns
 * true if something was freed. */
bool ne_server_reclaim(ne_server *srv, ne_conn *except)
{
    uint32_t chunks_before = srv->chunks.chunks.in_use;
    uint32_t refs_before = srv->chunks.refs.in_use;
    flush_dirty(srv);
    if (srv->chunks.chunks.in_use < chunks_before && srv->chunks.refs.in_use <= refs_before &&
        ne_pool_available(&srv->chunks.refs) > 0) {
        return true;
    }
    ne_conn *worst = NULL;
    uint32_t guard = 0;
    for (ne_conn *c = srv->active; c != NULL && guard < NE_MAX_CONNECTIONS; c = c->next, guard++) {
        if (c != except && !c->closing && (worst == NULL || c->out.bytes > worst->out.bytes)) {
            worst = c;
        }
    }
    if (worst == NULL || worst->out.bytes == 0) {
        return false;
    }
    ne_log_warn(&srv->log,
                "%s:%u - cid:%llu - Slow Consumer Detected: chunk or reference pool exhausted",
                worst->ip, (unsigned)worst->port, (unsigned long long)worst->cid);
    srv->stats.chunk_reclaims++;
    srv->stats.slow_consumers++;
    ne_conn_close(worst, NE_CLOSE_SLOW_CONSUMER_PENDING, NULL);
    ne_outq_clear(&worst->out, &srv->chunks);
    return true;
}

/* Queues bytes for a connection. When the shared pools are exhausted, the
 * slowest consumer is closed to reclaim chunks and the append is retried;
 * if that does not help, this connection itself is closed. */
int ne_conn_send(ne_conn *conn, const void *bytes, size_t len)
{
    if (conn->closing && !conn->flush_before_close) {
        return NE_ERR_CLOSED;
    }
    int rc = ne_outq_append(&conn->out, &conn->srv->chunks, bytes, len);
    if (rc == NE_ERR_NOMEM && ne_server_reclaim(conn->srv, conn)) {
        /* A prefix may have been queued: the message is cut either way, so
         * the connection cannot continue if the retry fails. */
        rc = NE_OK;
    }
    if (rc != NE_OK) {
        conn->srv->stats.slow_consumers++;
        ne_conn_close(conn, NE_CLOSE_SLOW_CONSUMER_PENDING, NULL);
        ne_outq_clear(&conn->out, &conn->srv->chunks);
        return rc;
    }
    ne_conn_mark_dirty(conn);
    return NE_OK;
}

void ne_conn_close(ne_conn *conn, ne_close_reason reason, const char *err_text)
{
    if (conn->closing) {
        return;
    }
    ne_server *srv = conn->srv;
    if (err_text != NULL) {
        char line[160];
        size_t n = ne_fmt(line, sizeof(line), "-ERR '%s'\r\n", err_text);
        conn->flush_before_close = true;
        (void)ne_outq_append(&conn->out, &srv->chunks, line, n);
        ne_log_debug(&srv->log, "%s:%u - cid:%llu - Sent -ERR '%s'", conn->ip, (unsigned)conn->port,
                     (unsigned long long)conn->cid, err_text);
    }
    conn->closing = true;
    conn->close_reason = reason;
    conn->close_next = srv->close_head;
    srv->close_head = conn;
}

static void record_closed(ne_server *srv, const ne_conn *conn, uint32_t subscriptions)
{
    ne_closed_conn *rec = &srv->closed[srv->closed_next];
    srv->closed_next = (srv->closed_next + 1) % NE_CLOSED_CONN_RING;
    srv->closed_total++;
    rec->cid = conn->cid;
    memcpy(rec->ip, conn->ip, sizeof(rec->ip));
    rec->port = conn->port;
    memcpy(rec->name, conn->name, sizeof(rec->name));
    memcpy(rec->lang, conn->lang, sizeof(rec->lang));
    memcpy(rec->version, conn->version, sizeof(rec->version));
    rec->start_wall_ns = conn->start_wall_ns;
    rec->stop_wall_ns = ne_port_wall_ns();
    rec->in_msgs = conn->in_msgs;
    rec->in_bytes = conn->in_bytes;
    rec->out_msgs = conn->out_msgs;
    rec->out_bytes = conn->out_bytes;
    rec->rtt_ns = conn->rtt_ns;
    rec->subscriptions = subscriptions;
    rec->reason = conn->close_reason;
}

static void conn_remove_subs(ne_conn *conn)
{
    ne_server *srv = conn->srv;
    uint32_t guard = 0;
    while (conn->subs != NULL && guard++ <= NE_MAX_SUBSCRIPTIONS) {
        ne_sub *sub = conn->subs;
        conn->subs = sub->conn_next;
        ne_leaf_sub_removed(srv, sub);
        ne_sublist_remove(&conn->acc->sublist, &sub->entry);
        ne_pool_free(&srv->sub_pool, sub);
    }
    conn->nsubs = 0;
}

static int conn_flush(ne_conn *conn);

int ne_conn_flush_now(ne_conn *conn)
{
    return conn_flush(conn);
}

/* Tears a connection down: only here does a connection leave the active
 * list, so routing never sees a freed subscription. */
static void conn_teardown(ne_conn *conn)
{
    ne_server *srv = conn->srv;
    if (conn->flush_before_close && conn->out.bytes > 0) {
        (void)conn_flush(conn); /* best effort: the -ERR, if the socket takes it */
    }
    ne_log_debug(&srv->log, "%s:%u - cid:%llu - Client connection closed: %s", conn->ip,
                 (unsigned)conn->port, (unsigned long long)conn->cid,
                 ne_close_reason_text(conn->close_reason));
    ne_conn_tls_release(conn);
    srv->net.ops->close(srv->net.ctx, conn->sock);
    uint32_t subscriptions = conn->nsubs; /* for the closed-connection record */
    conn_remove_subs(conn);
    if (conn->kind == NE_CONN_KIND_LEAF) {
        ne_leaf_conn_closed(conn);
    }
    ne_outq_clear(&conn->out, &srv->chunks);
    if (conn->spill.active) {
        ne_chunk_chain_release(&srv->chunks, conn->spill.head);
        conn->spill.active = false;
    }
#if NE_SHARED_READ_BUFFER_BYTES > 0
    if (srv->rshared_owner == conn) {
        srv->rshared_owner = NULL;
    }
#endif
    if (conn->kind == NE_CONN_KIND_CLIENT) {
        ne_client_closed(conn);
        record_closed(srv, conn, subscriptions);
        srv->client_count--;
    } else if (conn->kind == NE_CONN_KIND_LEAF) {
        srv->leaf_count--;
    } else {
        srv->http_count--;
    }
    if (conn->prev != NULL) {
        conn->prev->next = conn->next;
    } else {
        srv->active = conn->next;
    }
    if (conn->next != NULL) {
        conn->next->prev = conn->prev;
    }
    srv->active_count--;
    ne_pool_free(&srv->conn_pool, conn);
}

/* Sends INFO and the limit error straight to a socket that got no connection
 * object, then closes it (CP-69). */
static void refuse_connection(ne_server *srv, ne_sock sock, const char *ip, uint16_t port)
{
    static const char err[] = "-ERR 'maximum connections exceeded'\r\n";
    char info[768];
    size_t n = ne_client_info(srv, NULL, ip, info, sizeof(info));
    ne_iovec iov[2] = {{info, n}, {err, sizeof(err) - 1}};
    size_t sent = 0;
    (void)srv->net.ops->sendv(srv->net.ctx, sock, iov, 2, &sent);
    srv->net.ops->close(srv->net.ctx, sock);
    srv->stats.refused_connections++;
    ne_log_warn(&srv->log, "%s:%u - Maximum connections exceeded (%u)", ip, (unsigned)port,
                (unsigned)srv->opts.max_connections);
}

ne_conn *ne_server_conn_new(ne_server *srv, ne_sock sock, uint8_t kind, const char *ip,
                            uint16_t port)
{
    ne_conn *conn = ne_pool_alloc_uninit(&srv->conn_pool);
    if (conn == NULL) {
        return NULL;
    }
    /* The read buffer is not zeroed: only bytes below rlen are read. */
    memset(conn, 0, offsetof(ne_conn, rbuf));
    conn->tag = NE_HANDLE_CONN;
    conn->kind = kind;
    conn->srv = srv;
    conn->sock = sock;
    conn->cid = srv->next_cid++;
    memcpy(conn->ip, ip, NE_MIN(strlen(ip) + 1, sizeof(conn->ip) - 1));
    conn->port = port;
    conn->acc = &srv->accounts[NE_ACCOUNT_GLOBAL];
    conn->perms = NE_PERM_NONE;
    conn->user_index = -1;
    conn->fans_out = true; /* reads start at NE_FANOUT_READ_BYTES until one shows none */
    conn->start_wall_ns = ne_port_wall_ns();
    conn->last_in_ms = srv->now_ms;
    conn->last_write_ms = srv->now_ms;
    /* A client that never sends CONNECT is pinged at the interval too;
     * CONNECT brings the first ping forward (CP-47, CP-48). */
    conn->next_ping_ms = srv->now_ms + srv->opts.ping_interval_ms;
    conn->next = srv->active;
    if (srv->active != NULL) {
        srv->active->prev = conn;
    }
    srv->active = conn;
    srv->active_count++;
    if (kind == NE_CONN_KIND_HTTP) {
        srv->http_count++;
    } else if (kind == NE_CONN_KIND_LEAF) {
        srv->leaf_count++;
    } else {
        srv->client_count++;
        srv->stats.total_connections++;
    }
    if (srv->net.ops->attach(srv->net.ctx, sock, conn) != NE_OK) {
        ne_conn_close(conn, NE_CLOSE_READ_ERROR, NULL);
    }
    return conn;
}

static void accept_connections(ne_server *srv, ne_listener *listener)
{
    const ne_net_ops *ops = srv->net.ops;
    for (int i = 0; i < NE_ACCEPTS_PER_EVENT; i++) {
        ne_sock sock;
        char ip[46] = {0};
        uint16_t port = 0;
        int rc = ops->accept(srv->net.ctx, listener->sock, &sock, ip, &port);
        if (rc != NE_OK) {
            if (rc != NE_ERR_WOULD_BLOCK) {
                ne_log_error(&srv->log, "Error accepting client connection: %s", ne_err_name(rc));
            }
            return;
        }
        bool http = listener->kind == NE_CONN_KIND_HTTP;
        bool leaf = listener->kind == NE_CONN_KIND_LEAF;
        ne_conn *conn = NULL;
        if (http ? srv->http_count < NE_MAX_HTTP_CONNECTIONS
                 : leaf || srv->client_count < srv->opts.max_connections) {
            conn = ne_server_conn_new(srv, sock, listener->kind, ip, port);
        }
        if (conn == NULL && http) {
            ops->close(srv->net.ctx, sock); /* monitoring is best effort */
            continue;
        }
        if (conn == NULL) {
            refuse_connection(srv, sock, ip, port);
            continue;
        }
        if (conn->closing) {
            continue; /* attaching failed */
        }
        if (leaf) {
            ne_leaf_accepted(conn);
            continue;
        }
        if (!http) {
            ne_log_debug(&srv->log, "%s:%u - cid:%llu - Client connection created", ip,
                         (unsigned)port, (unsigned long long)conn->cid);
            ne_client_start(conn);
        }
        /* TLS after INFO for clients, from the first byte for HTTPS. A
         * client that gets no session is refused as at max_connections. */
        if ((http ? srv->opts.https : srv->opts.tls) && ne_conn_tls_accept(conn) != NE_OK) {
            ne_conn_close(conn, NE_CLOSE_MAX_CONNECTIONS,
                          http ? NULL : "maximum connections exceeded");
            srv->stats.refused_connections++;
        }
    }
}

/* Writes as much of the outbound queue as the socket takes, gathered. */
static int conn_flush(ne_conn *conn)
{
    ne_server *srv = conn->srv;
    if (conn->tls != NULL) {
        return ne_conn_tls_flush(conn);
    }
    ne_iovec iov[NE_WRITE_IOV_MAX];
    /* Bounded: each pass either sends something or stops. */
    for (int pass = 0; pass < 16 && conn->out.bytes > 0; pass++) {
        int n = ne_outq_iov(&conn->out, iov, NE_WRITE_IOV_MAX);
        size_t want = 0;
        for (int i = 0; i < n; i++) {
            want += iov[i].len;
        }
        size_t sent = 0;
        int rc = srv->net.ops->sendv(srv->net.ctx, conn->sock, iov, n, &sent);
        if (rc == NE_ERR_WOULD_BLOCK) {
            break;
        }
        if (rc != NE_OK) {
            ne_outq_clear(&conn->out, &srv->chunks);
            return rc;
        }
        conn->last_write_ms = srv->now_ms;
        ne_outq_consume(&conn->out, &srv->chunks, sent);
        if (sent < want) {
            break;
        }
    }
    bool want_write = conn->out.bytes > 0;
    if (want_write != conn->want_write) {
        conn->want_write = want_write;
        (void)srv->net.ops->want_write(srv->net.ctx, conn->sock, want_write);
    }
    return NE_OK;
}

#if NE_SHARED_READ_BUFFER_BYTES > 0
/* Keeps what the parser left of the shared buffer: in the connection's own
 * buffer when it fits (always, unless its reads were paused mid-input), else
 * in place, the connection becoming the buffer's owner until it resumes. */
static void shared_keep_rest(ne_conn *conn, uint32_t pos, uint32_t len)
{
    ne_server *srv = conn->srv;
    uint32_t rest = len - pos;
    if (conn->closing) {
        rest = 0;
    }
    if (rest <= sizeof(conn->rbuf)) {
        if (rest > 0) {
            memcpy(conn->rbuf, srv->rshared + pos, rest);
        }
        conn->rlen = rest;
        if (srv->rshared_owner == conn) {
            srv->rshared_owner = NULL;
        }
        return;
    }
    NE_ASSERT(conn->read_paused);
    conn->rlen = 0;
    srv->rshared_owner = conn;
    srv->rshared_pos = pos;
    srv->rshared_len = len;
}

/* Reads at most `want` bytes into the shared buffer after what the
 * connection had left over, parses there in place, and keeps the rest
 * (shared_keep_rest). Returns false when the socket is drained or the
 * connection is done for the turn. */
static bool conn_read_shared(ne_conn *conn, size_t want, size_t *got_out)
{
    ne_server *srv = conn->srv;
    uint32_t have = conn->rlen;
    if (have > 0) {
        memcpy(srv->rshared, conn->rbuf, have);
    }
    size_t room = NE_MIN(sizeof(srv->rshared) - have, want);
    size_t got = 0;
    int rc = srv->net.ops->recv(srv->net.ctx, conn->sock, srv->rshared + have, room, &got);
    *got_out = got;
    if (rc == NE_ERR_WOULD_BLOCK) {
        return false;
    }
    if (rc != NE_OK) {
        ne_conn_close(conn, rc == NE_ERR_CLOSED ? NE_CLOSE_CLIENT_CLOSED : NE_CLOSE_READ_ERROR,
                      NULL);
        return false;
    }
    conn->last_in_ms = srv->now_ms;
    uint32_t len = have + (uint32_t)got;
    uint32_t pos = ne_conn_process_bytes(conn, srv->rshared, len);
    shared_keep_rest(conn, pos, len);
    return got == room;
}

/* A paused owner of the shared buffer goes on with the input kept there. */
static void shared_resume(ne_conn *conn)
{
    ne_server *srv = conn->srv;
    uint32_t start = srv->rshared_pos;
    uint32_t len = srv->rshared_len;
    uint32_t used = ne_conn_process_bytes(conn, srv->rshared + start, len - start);
    shared_keep_rest(conn, start + used, len);
}

/* Plain connections (not TLS, not monitoring) read through the shared
 * buffer, unless a paused connection holds input in it. */
static bool reads_shared(const ne_conn *conn)
{
    return conn->tls == NULL && conn->kind != NE_CONN_KIND_HTTP && conn->srv->rshared_owner == NULL;
}
#endif

static void conn_read(ne_conn *conn)
{
    ne_server *srv = conn->srv;
    if (conn->tls != NULL) {
        ne_conn_tls_read(conn);
        return;
    }
#if NE_SHARED_READ_BUFFER_BYTES > 0
    if (reads_shared(conn)) {
        for (int i = 0; i < NE_READS_PER_EVENT && !conn->closing && !conn->read_paused; i++) {
            uint64_t before = srv->stats.out_bytes;
            size_t want = conn->fans_out ? NE_FANOUT_READ_BYTES : NE_SHARED_READ_BUFFER_BYTES;
            size_t got = 0;
            bool more = conn_read_shared(conn, want, &got);
            if (got > 0) {
                /* Payload bytes out against bytes in: fan-out. */
                conn->fans_out = srv->stats.out_bytes - before > got;
            }
            if (!more) {
                return;
            }
            /* Back-pressure, as below. */
            if (ne_pool_available(&srv->chunks.chunks) < NE_CHUNK_COUNT / 4) {
                return;
            }
        }
        return;
    }
#endif
    for (int i = 0; i < NE_READS_PER_EVENT && !conn->closing && !conn->read_paused; i++) {
        size_t room = sizeof(conn->rbuf) - conn->rlen;
        if (room == 0) {
            /* The parser leaves a full buffer only while it waits for chunks. */
            return;
        }
        size_t got = 0;
        int rc = srv->net.ops->recv(srv->net.ctx, conn->sock, conn->rbuf + conn->rlen, room, &got);
        if (rc == NE_ERR_WOULD_BLOCK) {
            return;
        }
        if (rc != NE_OK) {
            ne_conn_close(conn, rc == NE_ERR_CLOSED ? NE_CLOSE_CLIENT_CLOSED : NE_CLOSE_READ_ERROR,
                          NULL);
            return;
        }
        conn->rlen += (uint32_t)got;
        conn->last_in_ms = srv->now_ms;
        ne_conn_process_input(conn);
        if (got < room) {
            return; /* the socket is drained */
        }
        /* Back-pressure: with the shared pool three quarters used, leave the
         * rest of this publisher's input in the socket until the turn's
         * flushes have returned chunks. */
        if (ne_pool_available(&srv->chunks.chunks) < NE_CHUNK_COUNT / 4) {
            return;
        }
    }
}

void ne_server_handle_io(ne_server *srv, void *user, bool readable, bool writable)
{
    uint8_t tag = *(const uint8_t *)user;
    if (tag == NE_HANDLE_LISTENER) {
        accept_connections(srv, user);
        return;
    }
    NE_ASSERT(tag == NE_HANDLE_CONN);
    ne_conn *conn = user;
    if (conn->closing) {
        return;
    }
    if (writable) {
        if (conn_flush(conn) != NE_OK) {
            ne_conn_close(conn, NE_CLOSE_WRITE_ERROR, NULL);
            return;
        }
    }
    if (readable) {
        conn_read(conn);
    }
}

/* Connections whose reads were paused for lack of chunks try again, now that
 * this turn's flushes and closes may have returned chunks to the pool. */
static void resume_paused(ne_server *srv)
{
    ne_conn *list = srv->paused_head;
    srv->paused_head = NULL;
    uint32_t guard = 0;
    while (list != NULL && guard++ < NE_MAX_CONNECTIONS) {
        ne_conn *conn = list;
        list = conn->paused_next;
        conn->paused_next = NULL;
        if (conn->closing) {
            continue;
        }
        conn->read_paused = false;
        (void)srv->net.ops->want_read(srv->net.ctx, conn->sock, true);
#if NE_SHARED_READ_BUFFER_BYTES > 0
        if (srv->rshared_owner == conn) {
            shared_resume(conn);
            continue;
        }
#endif
        ne_conn_process_input(conn);
    }
}

static void conn_timers(ne_conn *conn, uint64_t now)
{
    ne_server *srv = conn->srv;
    if (ne_conn_tls_timer(conn, now)) {
        return;
    }
    if (conn->kind == NE_CONN_KIND_HTTP) {
        /* A monitoring client that sends no complete request is dropped. */
        if (now - conn->last_in_ms > srv->opts.write_deadline_ms) {
            ne_conn_close(conn, NE_CLOSE_CLIENT_CLOSED, NULL);
        }
        return;
    }
    if (conn->out.bytes > 0 && now - conn->last_write_ms > srv->opts.write_deadline_ms) {
        ne_log_warn(&srv->log,
                    "%s:%u - cid:%llu - Slow Consumer Detected: WriteDeadline of %ums exceeded",
                    conn->ip, (unsigned)conn->port, (unsigned long long)conn->cid,
                    (unsigned)srv->opts.write_deadline_ms);
        srv->stats.slow_consumers++;
        ne_conn_close(conn, NE_CLOSE_SLOW_CONSUMER_DEADLINE, NULL);
        ne_outq_clear(&conn->out, &srv->chunks);
        return;
    }
    if (conn->auth_deadline_ms != 0 && now >= conn->auth_deadline_ms) {
        ne_log_debug(&srv->log, "%s:%u - cid:%llu - Authentication Timeout", conn->ip,
                     (unsigned)conn->port, (unsigned long long)conn->cid);
        ne_conn_close(conn, NE_CLOSE_AUTH_TIMEOUT, "Authentication Timeout");
        return;
    }
    if (now < conn->next_ping_ms) {
        return;
    }
    conn->next_ping_ms = now + srv->opts.ping_interval_ms;
    /* Inbound activity within the interval makes a ping unnecessary (CP-48),
     * except for the first one after CONNECT, which nats-server always sends
     * (CP-47). */
    if (conn->first_ping_sent && conn->pings_out == 0 &&
        now - conn->last_in_ms < srv->opts.ping_interval_ms) {
        return;
    }
    conn->first_ping_sent = true;
    if (conn->pings_out + 1 > srv->opts.ping_max) {
        ne_log_debug(&srv->log, "%s:%u - cid:%llu - Stale Client Connection - Closing", conn->ip,
                     (unsigned)conn->port, (unsigned long long)conn->cid);
        ne_conn_close(conn, NE_CLOSE_STALE, "Stale Connection");
        return;
    }
    conn->pings_out++;
    (void)ne_conn_send(conn, "PING\r\n", 6);
}

static void run_timers(ne_server *srv)
{
    uint64_t now = srv->now_ms;
    if (now < srv->next_tick_ms) {
        return;
    }
    srv->next_tick_ms = now + NE_TICK_INTERVAL_MS;
    ne_leaf_tick(srv, now);
    uint32_t guard = 0;
    for (ne_conn *c = srv->active; c != NULL && guard < NE_MAX_CONNECTIONS; c = c->next, guard++) {
        if (!c->closing) {
            conn_timers(c, now);
        }
    }
}

/* Writes every connection that got output: one gathered write each. */
static void flush_dirty(ne_server *srv)
{
    uint32_t guard = 0;
    while (srv->dirty_head != NULL && guard++ < NE_MAX_CONNECTIONS * 2u) {
        ne_conn *conn = srv->dirty_head;
        srv->dirty_head = conn->dirty_next;
        conn->dirty = false;
        if (!conn->closing && conn_flush(conn) != NE_OK) {
            ne_conn_close(conn, NE_CLOSE_WRITE_ERROR, NULL);
        }
    }
}

static void lame_duck_step(ne_server *srv);

void ne_server_turn_end(ne_server *srv)
{
    srv->now_ms = ne_port_now_ms();
    run_timers(srv);
    lame_duck_step(srv);
    /* Flush every connection that got output this turn: one gathered write
     * per connection per turn. */
    flush_dirty(srv);
    uint32_t guard = 0;
    while (srv->close_head != NULL && guard++ < NE_MAX_CONNECTIONS * 2u) {
        ne_conn *conn = srv->close_head;
        srv->close_head = conn->close_next;
        if (conn->dirty) {
            /* Unlink from the dirty list (rare: closed after being queued). */
            ne_conn **pp = &srv->dirty_head;
            while (*pp != NULL && *pp != conn) {
                pp = &(*pp)->dirty_next;
            }
            if (*pp == conn) {
                *pp = conn->dirty_next;
            }
        }
        conn_teardown(conn);
    }
    resume_paused(srv);
    ne_server_tls_turn_end(srv);
}

int ne_server_next_timeout_ms(const ne_server *srv)
{
    if (srv->close_head != NULL || srv->dirty_head != NULL || srv->paused_head != NULL ||
        srv->tls_retry_head != NULL) {
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

/* Clients that get the lame duck INFO: as nats-server's async INFO, those
 * that said protocol 1 in CONNECT and whose first PING was answered. */
static void send_lame_duck_info(ne_server *srv)
{
    char info[768];
    srv->info_ldm = true;
    uint32_t guard = 0;
    for (ne_conn *c = srv->active; c != NULL && guard < NE_MAX_CONNECTIONS; c = c->next, guard++) {
        if (c->kind == NE_CONN_KIND_CLIENT && !c->closing && c->protocol >= 1 &&
            c->first_pong_sent) {
            size_t n = ne_client_info(srv, c, c->ip, info, sizeof(info));
            (void)ne_conn_send(c, info, n);
        }
    }
    srv->info_ldm = false;
}

void ne_server_enter_lame_duck(ne_server *srv)
{
    if (!srv->started || srv->lame_duck != NE_LAME_DUCK_OFF) {
        return;
    }
    ne_log_info(&srv->log, "Entering lame duck mode, stop accepting new clients");
    if (srv->client_listener.sock != NE_SOCK_INVALID) {
        srv->net.ops->close(srv->net.ctx, srv->client_listener.sock);
        srv->client_listener.sock = NE_SOCK_INVALID;
    }
    srv->now_ms = ne_port_now_ms();
    if (srv->client_count == 0) {
        srv->lame_duck = NE_LAME_DUCK_DONE;
        return;
    }
    /* The closes are spread over the duration less the grace period, at most
     * a second apart; with more clients than milliseconds, several per step
     * (nats-server's spacing). */
    uint64_t spread_ms = srv->opts.lame_duck_duration_ms - srv->opts.lame_duck_grace_period_ms;
    uint64_t spacing_ms = spread_ms / srv->client_count;
    srv->lame_duck_batch = 1;
    if (spacing_ms < 1) {
        spacing_ms = 1;
        srv->lame_duck_batch = (uint32_t)(srv->client_count / (spread_ms > 0 ? spread_ms : 1));
    }
    srv->lame_duck_spacing_ms = NE_MIN(spacing_ms, (uint64_t)NE_LAME_DUCK_MAX_SPACING_MS);
    send_lame_duck_info(srv);
    srv->lame_duck = NE_LAME_DUCK_GRACE;
    srv->lame_duck_next_ms = srv->now_ms + srv->opts.lame_duck_grace_period_ms;
}

bool ne_server_finished(const ne_server *srv)
{
    return srv->lame_duck == NE_LAME_DUCK_DONE;
}

/* Closes the next batch of clients once their time has come; the wait to
 * the next batch is random between half the spacing and the spacing. */
static void lame_duck_step(ne_server *srv)
{
    if (srv->lame_duck == NE_LAME_DUCK_OFF || srv->lame_duck == NE_LAME_DUCK_DONE ||
        srv->now_ms < srv->lame_duck_next_ms) {
        return;
    }
    if (srv->lame_duck == NE_LAME_DUCK_GRACE) {
        ne_log_info(&srv->log, "Closing existing clients");
        srv->lame_duck = NE_LAME_DUCK_CLOSING;
    }
    uint32_t closed = 0;
    uint32_t guard = 0;
    for (ne_conn *c = srv->active; c != NULL && guard < NE_MAX_CONNECTIONS; c = c->next, guard++) {
        if (c->kind == NE_CONN_KIND_CLIENT && !c->closing) {
            if (closed == srv->lame_duck_batch) {
                uint64_t half = srv->lame_duck_spacing_ms / 2;
                uint64_t wait = half + ne_server_random(srv) % (srv->lame_duck_spacing_ms - half);
                srv->lame_duck_next_ms = srv->now_ms + wait;
                return;
            }
            ne_conn_close(c, NE_CLOSE_SERVER_SHUTDOWN, NULL);
            closed++;
        }
    }
    /* Every client is closing: they are torn down at the end of this turn. */
    srv->lame_duck = NE_LAME_DUCK_DONE;
}

void ne_server_shutdown(ne_server *srv)
{
    uint32_t guard = 0;
    for (ne_conn *c = srv->active; c != NULL && guard < NE_MAX_CONNECTIONS; c = c->next, guard++) {
        if (!c->closing) {
            ne_conn_close(c, NE_CLOSE_SERVER_SHUTDOWN, NULL);
        }
    }
    ne_leaf_shutdown(srv);
    ne_server_turn_end(srv);
    if (srv->http_listener.sock != NE_SOCK_INVALID) {
        srv->net.ops->close(srv->net.ctx, srv->http_listener.sock);
        srv->http_listener.sock = NE_SOCK_INVALID;
    }
    if (srv->client_listener.sock != NE_SOCK_INVALID) {
        srv->net.ops->close(srv->net.ctx, srv->client_listener.sock);
        srv->client_listener.sock = NE_SOCK_INVALID;
    }
    for (uint32_t i = 0; i < srv->account_count; i++) {
        ne_sublist_deinit(&srv->accounts[i].sublist);
    }
    ne_log_info(&srv->log, "Server Exiting..");
}
