/* Connections: life cycle, outbound queues and their flushing, reads, the
 * listeners, reclaiming chunks from the slowest consumer, and the timers
 * every connection shares. What a connection speaks is its kind's. */
#include "conn/ne_conn.h"

#include <stdarg.h>
#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "proto/ne_proto.h"
#include "proto/ne_proto_err.h"

/* Reads from one connection per readable event before others get a turn. */
#ifndef NE_READS_PER_EVENT
#define NE_READS_PER_EVENT 4
#endif
/* Connections accepted per listener event. */
#define NE_ACCEPTS_PER_EVENT 64

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
    case NE_CLOSE_SLOW_PRODUCER_DEADLINE:
        return "Slow Producer (Message Deadline)";
    case NE_CLOSE_SLOW_PRODUCER_STALLED:
        return "Slow Producer (Stalled Message)";
    case NE_CLOSE_DUPLICATE_CLIENT_ID:
        return "Duplicate Client ID";
    case NE_CLOSE_WRONG_PORT:
        return "Incorrect Port";
    case NE_CLOSE_MAX_SUBSCRIPTIONS:
        return "Maximum Subscriptions Exceeded";
    case NE_CLOSE_DUPLICATE_ROUTE:
        return "Duplicate Route";
    case NE_CLOSE_CLUSTER_NAME_CONFLICT:
        return "Cluster Name Conflict";
    }
    return "Unknown";
}

void ne_conns_init(ne_conns *set, ne_conns_storage *storage, const ne_server_options *opts,
                   const ne_net *net, const ne_log *log)
{
    NE_ASSERT(set != NULL && storage != NULL && opts != NULL && net != NULL && log != NULL);
    set->opts = opts;
    set->log = log;
    set->net = *net;
    set->next_cid = 1;
    ne_pool_init(&set->conn_pool, "connections", &storage->conn, sizeof(ne_conn),
                 NE_MAX_CONN_HEADERS);
    ne_pool_init(&set->io_pool, "connection I/O", &storage->io, sizeof(ne_conn_io),
                 NE_CONN_POOL_SIZE);
    ne_pool_init(&set->rbuf_pool, "read buffers", &storage->rbuf, sizeof(ne_conn_rbuf),
                 NE_CONN_READ_BUFFERS);
    ne_pool_init(&set->spill_pool, "partial inputs", &storage->spill, sizeof(ne_spill),
                 NE_PARTIAL_INPUTS);
    ne_pool_init(&set->tls_pool, "TLS states", &storage->tls, sizeof(ne_conn_tls),
                 NE_TLS_MAX_SESSIONS);
#if NE_CONN_PEER_BINARY
    ne_pool_init(&set->name_pool, "peer names", &storage->name, sizeof(ne_conn_peer_name),
                 NE_CONN_PEER_NAMES);
#endif
#if NE_CONN_PARKING
    ne_pool_init(&set->parked_pool, "parked connections", &storage->parked, sizeof(ne_parked),
                 NE_CONN_POOL_SIZE);
    /* ne_conns_parked_next reads in_use (offset 8) in free slots too. */
    ne_pool_keep_readable(&set->parked_pool, offsetof(ne_parked, in_use) + 1);
#endif
    ne_chunk_pools_init(&set->chunks, &storage->chunk, NE_CHUNK_COUNT, &storage->ref,
                        NE_OUT_REF_COUNT);
#if NE_SHARED_READ_BUFFER_BYTES > 0
    set->rshared = storage->rshared;
#endif
}

uint8_t ne_conns_kind(ne_conns *set, const char *name, const char *log_id, const ne_conn_ops *ops,
                      void *ctx)
{
    NE_ASSERT(set->kind_count < NE_CONN_MAX_KINDS);
    ne_conn_kind *k = &set->kinds[set->kind_count];
    k->name = name;
    k->log_id = log_id;
    k->ops = ops;
    k->ctx = ctx;
    k->count = 0;
    return (uint8_t)set->kind_count++;
}

void ne_conn_describe(const ne_conn *conn, ne_conn_desc *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = out->type = out->name = out->lang = out->version = out->user = "";
    out->account = out->mqtt_client = "";
    const ne_conn_ops *ops = ne_conn_kind_of(conn)->ops;
    if (ops->describe != NULL) {
        ops->describe(conn, out);
    }
}

void ne_conns_kind_is_client(ne_conns *set, uint8_t kind)
{
    NE_ASSERT(kind < set->kind_count);
    set->kinds[kind].client = true;
}

uint32_t ne_conns_client_count(const ne_conns *set)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < set->kind_count; i++) {
        n += set->kinds[i].client ? set->kinds[i].count : 0u;
    }
    return n;
}

int ne_conns_listen(ne_conns *set, ne_listener *listener, const char *host, uint16_t port)
{
    const ne_net_ops *ops = set->net.ops;
    NE_ASSERT(set->listener_count < NE_CONN_MAX_LISTENERS && listener->kind < set->kind_count);
    listener->tag = NE_HANDLE_LISTENER;
    int rc = ops->listen(set->net.ctx, host, port, &listener->sock);
    if (rc != NE_OK) {
        listener->sock = NE_SOCK_INVALID;
        return rc;
    }
    listener->port = ops->local_port(set->net.ctx, listener->sock);
    rc = ops->attach(set->net.ctx, listener->sock, listener);
    if (rc != NE_OK) {
        ops->close(set->net.ctx, listener->sock);
        listener->sock = NE_SOCK_INVALID;
        return rc;
    }
    set->listeners[set->listener_count++] = listener;
    return NE_OK;
}

void ne_conns_unlisten(ne_conns *set, ne_listener *listener)
{
    if (listener->sock == NE_SOCK_INVALID) {
        return;
    }
    set->net.ops->close(set->net.ctx, listener->sock);
    listener->sock = NE_SOCK_INVALID;
    for (uint32_t i = 0; i < set->listener_count; i++) {
        if (set->listeners[i] == listener) {
            set->listeners[i] = set->listeners[--set->listener_count];
            break;
        }
    }
}

void ne_conn_logf(const ne_conn *conn, ne_log_level level, const char *fmt, ...)
{
    const ne_log *log = conn->set->log;
    if (!NE_LOG_ENABLED(log, level)) {
        return;
    }
    char line[NE_LOG_LINE_BYTES];
    ne_strbuf sb;
    ne_strbuf_init(&sb, line, sizeof(line));
    const ne_conn_kind *kind = ne_conn_kind_of(conn);
    if (conn->io != NULL) {
        char ip[NE_IP_TEXT_BYTES];
        ne_strbuf_printf(&sb, "%s:%u - ", ne_conn_peer_text(conn, ip, sizeof(ip)),
                         (unsigned)conn->io->port);
    }
    if (kind->log_id != NULL) {
        ne_strbuf_printf(&sb, "%s:%llu - ", kind->log_id, (unsigned long long)conn->cid);
    }
    va_list ap;
    va_start(ap, fmt);
    ne_strbuf_vprintf(&sb, fmt, ap);
    va_end(ap);
    /* A line cut at NE_LOG_LINE_BYTES is still worth logging. */
    ne_logf(log, level, "%.*s", (int)sb.len, sb.data);
}

void ne_conn_close_io_error(ne_conn *conn, int rc)
{
    NE_ASSERT(rc != NE_OK && conn->io != NULL);
    conn->io->last_error = rc;
    ne_conn_close(conn, rc == NE_ERR_CLOSED ? NE_CLOSE_CLIENT_CLOSED : NE_CLOSE_READ_ERROR, NULL);
}

int ne_conn_io_error(const ne_conn *conn)
{
    return conn->io != NULL ? conn->io->last_error : NE_OK;
}

/* ---- Creation and teardown -------------------------------------------------- */

/* A header from the pool, in front of the active list. */
static ne_conn *header_take(ne_conns *set, uint8_t kind)
{
    NE_ASSERT(kind < set->kind_count);
    ne_conn *conn = ne_pool_alloc(&set->conn_pool);
    if (conn == NULL) {
        return NULL;
    }
    conn->tag = NE_HANDLE_CONN;
    conn->kind = kind;
    conn->set = set;
    conn->next = set->active;
    if (set->active != NULL) {
        set->active->prev = conn;
    }
    set->active = conn;
    set->active_count++;
    return conn;
}

/* Off the active list and back to the pool. */
static void header_give_back(ne_conns *set, ne_conn *conn)
{
    if (conn->prev != NULL) {
        conn->prev->next = conn->next;
    } else {
        set->active = conn->next;
    }
    if (conn->next != NULL) {
        conn->next->prev = conn->prev;
    }
    set->active_count--;
    ne_pool_free(&set->conn_pool, conn);
}

static ne_conn *conn_header(ne_conns *set, uint8_t kind)
{
    ne_conn *conn = header_take(set, kind);
    if (conn == NULL) {
        return NULL;
    }
    /* Only numbered kinds take an id: monitoring requests do not move the
     * client_id the next client sees (nats-server numbers clients, leafs,
     * routes and internal clients from one counter, HTTP not at all). */
    conn->cid = set->kinds[kind].log_id != NULL ? set->next_cid++ : 0;
    conn->perms = 0xffffu; /* NE_PERM_NONE */
    conn->user_index = -1;
    conn->start_wall_ns = ne_port_wall_ns();
    /* A client that never completes its handshake is pinged at the
     * interval too; the handshake brings the first ping forward (CP-47). */
    conn->next_ping_ms = set->now_ms + set->opts->ping_interval_ms;
    set->kinds[kind].count++;
    return conn;
}

/* Room for one more socket: an I/O part beyond those parked connections
 * keep reserved (their headers are kept by the same count: the header
 * pool holds one per I/O part beyond the internal clients). */
static bool socket_room(const ne_conns *set)
{
#if NE_CONN_PARKING
    return ne_pool_available(&set->io_pool) > set->parked;
#else
    return ne_pool_available(&set->io_pool) > 0;
#endif
}

#if NE_CONN_PEER_BINARY
/* Keeps the peer's address in binary, or an outbound connection's host name
 * in a slot of the name pool (NE_CONN_PEER_NAMES). False (nothing taken,
 * logged) when the name has no slot or is longer than one. */
static bool peer_keep(ne_conns *set, ne_conn_io *io, const char *ip, size_t ip_len)
{
    if (ne_ip_parse(ip, ip_len, &io->peer)) {
        return true;
    }
    if (ip_len >= NE_CONN_PEER_NAME_BYTES || ne_pool_available(&set->name_pool) == 0) {
        set->name_pool.exhausted += ip_len < NE_CONN_PEER_NAME_BYTES ? 1u : 0u;
        ne_log_warn(set->log, "Connection to %.*s not made: %s", (int)NE_MIN(ip_len, 64u), ip,
                    ip_len >= NE_CONN_PEER_NAME_BYTES ? "host name too long"
                                                      : "no peer name slot (NE_CONN_PEER_NAMES)");
        return false;
    }
    io->peer_name = ne_pool_alloc(&set->name_pool);
    NE_ASSERT(io->peer_name != NULL);
    memcpy(io->peer_name->text, ip, ip_len + 1);
    return true;
}

const char *ne_conn_peer_text(const ne_conn *conn, char *buf, size_t cap)
{
    NE_ASSERT(buf != NULL && cap > 0);
    const ne_conn_io *io = conn->io;
    buf[0] = '\0';
    if (io == NULL) {
        return buf;
    }
    if (io->peer_name != NULL) {
        return io->peer_name->text;
    }
    (void)ne_ip_format(&io->peer, buf, cap); /* "" when it does not fit */
    return buf;
}
#else
/* The address or name as text, whole or not at all. */
static bool peer_keep(ne_conns *set, ne_conn_io *io, const char *ip, size_t ip_len)
{
    if (ip_len >= sizeof(io->peer_text)) {
        ne_log_warn(set->log, "Connection to %.*s not made: host name too long",
                    (int)NE_MIN(ip_len, 64u), ip);
        return false;
    }
    memcpy(io->peer_text, ip, ip_len + 1);
    return true;
}
#endif

/* The peer's address is checked before anything is taken (peer_keep). */
ne_conn *ne_conn_new(ne_conns *set, uint8_t kind, ne_sock sock, const char *ip, uint16_t port)
{
    NE_ASSERT(ip != NULL);
    if (!socket_room(set) || ne_pool_available(&set->conn_pool) == 0) {
        return NULL;
    }
    ne_conn_io *io = ne_pool_alloc(&set->io_pool);
    NE_ASSERT(io != NULL);
    if (!peer_keep(set, io, ip, strlen(ip))) {
        ne_pool_free(&set->io_pool, io);
        return NULL;
    }
    io->sock = sock;
    io->port = port;
    io->fans_out = true; /* reads start at NE_FANOUT_READ_BYTES until one shows none */
    io->last_in_ms = set->now_ms;
    io->last_write_ms = set->now_ms;
    ne_conn *conn = conn_header(set, kind);
    NE_ASSERT(conn != NULL);
    conn->io = io;
    void *handle = conn;
#if NE_CONN_PARKING
    if (set->kinds[kind].ops->park != NULL) {
        /* One record per socket (NE_CONN_POOL_SIZE): never short. */
        ne_parked *p = ne_pool_alloc(&set->parked_pool);
        NE_ASSERT(p != NULL);
        p->tag = NE_HANDLE_PARKED;
        p->kind = kind;
        p->in_use = true;
        p->conn = conn;
        io->parked = p;
        handle = p;
    }
#endif
    if (set->net.ops->attach(set->net.ctx, sock, handle) != NE_OK) {
        ne_conn_close(conn, NE_CLOSE_READ_ERROR, NULL);
    }
    return conn;
}

ne_conn *ne_conn_new_internal(ne_conns *set, uint8_t kind)
{
    /* The header pool holds NE_MAX_INTERNAL_CLIENTS beyond the sockets:
     * internal clients never take a socket's place. */
    uint32_t held = set->internal_count;
#if NE_CONN_PARKING
    held += set->internal_reserved;
#endif
    if (held >= NE_MAX_INTERNAL_CLIENTS) {
        return NULL;
    }
    ne_conn *conn = conn_header(set, kind);
    if (conn != NULL) {
        set->internal_count++;
    }
    return conn;
}

/* A connection with output: its socket is written at the end of the turn;
 * an internal client's handler runs then instead. */
void ne_conn_dirty(ne_conn *conn)
{
    if (conn->dirty) {
        return;
    }
    conn->dirty = true;
    /* Output after everything before it was written: the write deadline
     * counts from now, not from the last write of a connection that was
     * merely idle (its timer may run before this turn's flush). */
    if (conn->io != NULL && !conn->io->want_write) {
        conn->io->last_write_ms = conn->set->now_ms;
    }
    ne_conn **head = conn->io != NULL ? &conn->set->dirty_head : &conn->set->internal_head;
    conn->dirty_next = *head;
    *head = conn;
}

void ne_conn_close(ne_conn *conn, ne_close_reason reason, const char *err_text)
{
    if (conn->closing) {
        return;
    }
    ne_conns *set = conn->set;
    if (err_text != NULL && conn->io != NULL) {
        /* The server's own texts (the protocol's table, a leaf's loop text
         * with an account name, a route's cluster-name refusal with two
         * names of at most 63 bytes): a cut one is a bug, never sent. */
        char line[256];
        size_t n = ne_proto_err_line(line, sizeof(line), "%s", err_text);
        NE_ASSERT(n > 0);
        if (n > 0) {
            conn->flush_before_close = true;
            (void)ne_outq_append(&conn->out, &set->chunks, line, n);
            ne_conn_logf(conn, NE_LOG_DEBUG, "Sent -ERR '%s'", err_text);
        }
    }
    conn->closing = true;
    conn->close_reason = reason;
    conn->close_next = set->close_head;
    set->close_head = conn;
    /* Its incomplete message, if any, will never complete: its share of the
     * pool is free for others now rather than at the end of the turn. */
    ne_conn_spill_release(conn);
}

void ne_conn_close_after(ne_conn *conn, ne_close_reason reason, const void *bytes, size_t len)
{
    if (conn->closing) {
        return;
    }
    if (conn->io != NULL) {
        /* What was queued before goes out too (acknowledgements a
         * protocol error follows), as far as the socket takes it. */
        conn->flush_before_close = true;
        if (len > 0) {
            (void)ne_outq_append(&conn->out, &conn->set->chunks, bytes, len);
        }
    }
    ne_conn_close(conn, reason, NULL);
}

void ne_conns_record_closed(ne_conns *set, const ne_conn *conn, const ne_conn_desc *desc)
{
    ne_closed_conn *rec = &set->closed[set->closed_next];
    set->closed_next = (set->closed_next + 1) % NE_CLOSED_CONN_RING;
    set->closed_total++;
    memset(rec, 0, sizeof(*rec));
    rec->cid = conn->cid;
    rec->kind = desc->kind;
    rec->type = desc->type;
    rec->subscriptions = desc->subs_of != NULL ? desc->subs_of->nsubs : set->teardown_subs;
#if NE_FEATURE_MQTT
    ne_fmt(rec->mqtt_client, sizeof(rec->mqtt_client), "%s",
           desc->mqtt_client != NULL ? desc->mqtt_client : "");
#endif
    if (conn->io != NULL) {
        char ip[NE_IP_TEXT_BYTES];
        const char *text = ne_conn_peer_text(conn, ip, sizeof(ip));
        size_t len = strlen(text);
        if (len < sizeof(rec->ip)) { /* a longer host name is not cut: "" */
            memcpy(rec->ip, text, len + 1);
        }
        rec->port = conn->io->port;
    }
    ne_fmt(rec->name, sizeof(rec->name), "%s", desc->name);
    ne_fmt(rec->lang, sizeof(rec->lang), "%s", desc->lang);
    ne_fmt(rec->version, sizeof(rec->version), "%s", desc->version);
    rec->start_wall_ns = conn->start_wall_ns;
    rec->stop_wall_ns = ne_port_wall_ns();
    rec->in_msgs = conn->in_msgs;
    rec->in_bytes = conn->in_bytes;
    rec->out_msgs = conn->out_msgs;
    rec->out_bytes = conn->out_bytes;
    rec->rtt_ns = conn->rtt_ns;
    rec->reason = conn->close_reason;
}

static int conn_flush(ne_conn *conn);

/* Tears a connection down: only here does a connection leave the active
 * list, so routing never sees a freed subscription. */
static void conn_teardown(ne_conn *conn)
{
    ne_conns *set = conn->set;
    const ne_conn_kind *kind = ne_conn_kind_of(conn);
    ne_conn_io *io = conn->io;
    if (io != NULL) {
        if (conn->flush_before_close && conn->out.bytes > 0) {
            (void)conn_flush(conn); /* best effort: the -ERR, if the socket takes it */
        }
        if (!io->quiet_close) {
            ne_conn_logf(conn, NE_LOG_DEBUG, "%s connection closed: %s", kind->name,
                         ne_close_reason_text(conn->close_reason));
        }
        ne_conn_tls_release(conn);
        set->net.ops->close(set->net.ctx, io->sock);
    }
    set->teardown_subs = conn->nsubs;
    if (set->teardown != NULL) {
        set->teardown(set->teardown_ctx, conn);
    }
    if (kind->ops->closed != NULL) {
        kind->ops->closed(conn);
    }
    ne_outq_clear(&conn->out, &set->chunks);
    if (io != NULL) {
        NE_ASSERT(io->spill == NULL && io->tls == NULL); /* released by ne_conn_close, above */
        if (io->read_paused) {
            /* Off the list of readers waiting for chunks: resume_paused
             * runs after the teardowns of the turn. */
            ne_conn **pp = &set->paused_head;
            uint32_t guard = 0;
            while (*pp != NULL && *pp != conn && guard++ < NE_MAX_CONN_HEADERS) {
                pp = &(*pp)->io->paused_next;
            }
            if (*pp == conn) {
                *pp = io->paused_next;
            }
            io->read_paused = false;
        }
#if NE_SHARED_READ_BUFFER_BYTES > 0
        if (set->rshared_owner == conn) {
            set->rshared_owner = NULL;
        }
#endif
        io->rlen = 0;
        ne_conn_rbuf_release(conn);
#if NE_CONN_PEER_BINARY
        if (io->peer_name != NULL) {
            ne_pool_free(&set->name_pool, io->peer_name);
        }
#endif
#if NE_CONN_PARKING
        if (io->parked != NULL) {
            NE_ASSERT(io->parked->conn == conn);
            io->parked->in_use = false;
            ne_pool_free(&set->parked_pool, io->parked);
        }
#endif
        ne_pool_free(&set->io_pool, io);
    }
    set->kinds[conn->kind].count--;
    if (io == NULL) {
        NE_ASSERT(set->internal_count > 0);
        set->internal_count--;
    }
    header_give_back(set, conn);
}

/* Tears down every connection closed so far (closing ones are never
 * written: flush_dirty skips them, conn_teardown sends a pending -ERR). At
 * the end of the turn, and between events when a listener needs the slot
 * of a connection closed to make room for it. */
static void reap_closed(ne_conns *set)
{
    uint32_t guard = 0;
    while (set->close_head != NULL && guard++ < NE_MAX_CONN_HEADERS * 2u) {
        ne_conn *conn = set->close_head;
        set->close_head = conn->close_next;
        if (conn->dirty) {
            /* Unlink from the dirty list (rare: closed after being queued). */
            ne_conn **pp = conn->io != NULL ? &set->dirty_head : &set->internal_head;
            uint32_t dguard = 0;
            while (*pp != NULL && *pp != conn && dguard++ < NE_MAX_CONN_HEADERS) {
                pp = &(*pp)->dirty_next;
            }
            if (*pp == conn) {
                *pp = conn->dirty_next;
            }
        }
        conn_teardown(conn);
    }
}

/* ---- Output ------------------------------------------------------------------ */

static void flush_dirty(ne_conns *set, bool park);
#if NE_CONN_PARKING
static void conn_park(ne_conn *conn);
#endif

/* Frees chunks when the shared pool is exhausted. First every queued byte
 * the sockets will take is written now instead of at the end of the turn;
 * only if that frees nothing is the connection holding the most unsent bytes
 * closed: the slowest consumer pays, not whoever allocated next. Returns
 * true if something was freed. */
bool ne_conns_reclaim(ne_conns *set, ne_conn *except)
{
    uint32_t chunks_before = set->chunks.chunks.in_use;
    uint32_t refs_before = set->chunks.refs.in_use;
    flush_dirty(set, false); /* routing may be under way: nothing parks */
    if (set->chunks.chunks.in_use < chunks_before && set->chunks.refs.in_use <= refs_before &&
        ne_pool_available(&set->chunks.refs) > 0) {
        return true;
    }
    ne_conn *worst = NULL;
    uint32_t guard = 0;
    for (ne_conn *c = set->active; c != NULL && guard < NE_MAX_CONN_HEADERS; c = c->next, guard++) {
        /* An internal client bounds its own queue; it is never the one closed. */
        if (c != except && !c->closing && c->io != NULL &&
            (worst == NULL || c->out.bytes > worst->out.bytes)) {
            worst = c;
        }
    }
    if (worst == NULL || worst->out.bytes == 0) {
        return false;
    }
    ne_conn_logf(worst, NE_LOG_WARN, "Slow Consumer Detected: chunk or reference pool exhausted");
    set->stats.chunk_reclaims++;
    ne_conn_close_slow_consumer(worst);
    return true;
}

/* ---- Incomplete messages ------------------------------------------------------ */

/* The connection, other than `except`, whose incomplete message has gone
 * longest without a byte, if at least partial_msg_stall_ms; NULL if none. */
static ne_conn *stalled_partial_sender(ne_conns *set, const ne_conn *except)
{
    ne_conn *stalled = NULL;
    uint32_t guard = 0;
    for (ne_conn *c = set->active; c != NULL && guard < NE_MAX_CONN_HEADERS; c = c->next, guard++) {
        const ne_spill *sp = c->io != NULL ? c->io->spill : NULL;
        if (c == except || c->closing || sp == NULL ||
            set->now_ms - sp->last_ms < set->opts->partial_msg_stall_ms) {
            continue;
        }
        if (stalled == NULL || sp->last_ms < stalled->io->spill->last_ms) {
            stalled = c;
        }
    }
    return stalled;
}

/* A publisher is closed for its incomplete message: its chunks and the rest
 * of its promise go back at once (ne_conn_close). Silently, as a slow
 * consumer is (CP-51); the close reason in /connz says why. */
static void close_slow_producer(ne_conn *conn, ne_close_reason reason, const char *why)
{
    ne_conns *set = conn->set;
    const ne_spill *sp = conn->io->spill;
    NE_ASSERT(sp != NULL);
    ne_conn_logf(conn, NE_LOG_WARN,
                 "Slow Producer Detected: %s, %u of %u bytes received in %llu ms", why,
                 (unsigned)(sp->total_len + 2 - sp->remaining), (unsigned)(sp->total_len + 2),
                 (unsigned long long)(set->now_ms - sp->start_ms));
    set->stats.slow_producers++;
    ne_conn_close(conn, reason, NULL);
}

/* The connection, other than `except`, holding the most unsent bytes of
 * those whose socket took nothing for at least partial_msg_stall_ms; NULL if
 * none. Called after flush_dirty: a socket that takes bytes has just written
 * them, so one still that old is full of bytes its peer has not read since. */
static ne_conn *stalled_consumer(ne_conns *set, const ne_conn *except)
{
    ne_conn *stalled = NULL;
    uint32_t guard = 0;
    for (ne_conn *c = set->active; c != NULL && guard < NE_MAX_CONN_HEADERS; c = c->next, guard++) {
        if (c == except || c->closing || c->io == NULL || c->out.bytes == 0 ||
            set->now_ms - c->io->last_write_ms < set->opts->partial_msg_stall_ms) {
            continue;
        }
        if (stalled == NULL || c->out.bytes > stalled->out.bytes) {
            stalled = c;
        }
    }
    return stalled;
}

/* Admission of an incomplete message (router/ne_frame.c). Its whole chain
 * is promised before its first byte is stored, so a message that has
 * started never waits for a chunk; one that gets no promise waits holding
 * nothing. Two half-received messages therefore never wait for each other.
 * When the share is full, stalled senders are cut to make room, the one
 * stalled longest first; when the pool is held by outbound queues, stalled
 * consumers are, the one holding the most first: each pass closes one
 * connection or returns. The message's state comes from its own pool
 * (NE_PARTIAL_INPUTS); when that is empty, a stalled sender is cut for it
 * as for the share. */
bool ne_conns_partial_admit(ne_conn *conn, uint32_t need)
{
    ne_conns *set = conn->set;
    NE_ASSERT(need > 0 && need <= NE_PARTIAL_INPUT_CHUNKS);
    NE_ASSERT(conn->io != NULL && conn->io->spill == NULL);
    for (uint32_t guard = 0; guard <= NE_MAX_CONN_HEADERS; guard++) {
        bool state_free = ne_pool_available(&set->spill_pool) > 0;
        if (state_free && set->partial_chunks + need <= NE_PARTIAL_INPUT_CHUNKS) {
            /* Within the share, only outbound queues can hold the chunks it
             * needs: the publisher waits for them to drain (TCP
             * back-pressure, CP-68), but not for a subscriber that stopped
             * reading below max_pending (a pool smaller than max_pending,
             * as on tiny, would make it wait for the write deadline). */
            if (ne_chunk_promise(&set->chunks, need)) {
                set->partial_chunks += need;
                conn->io->spill = ne_pool_alloc(&set->spill_pool);
                NE_ASSERT(conn->io->spill != NULL);
                return true;
            }
            flush_dirty(set, false);
            ne_conn *slow = stalled_consumer(set, conn);
            if (slow == NULL) {
                return false;
            }
            ne_conn_logf(slow, NE_LOG_WARN,
                         "Slow Consumer Detected: no write for %u ms while its queue holds "
                         "chunks a message waits for",
                         (unsigned)(set->now_ms - slow->io->last_write_ms));
            set->stats.chunk_reclaims++;
            ne_conn_close_slow_consumer(slow);
            continue;
        }
        /* The share is full or no state is free: a stalled sender pays. */
        ne_conn *stalled = stalled_partial_sender(set, conn);
        if (stalled == NULL) {
            set->spill_pool.exhausted += state_free ? 0u : 1u;
            return false;
        }
        close_slow_producer(stalled, NE_CLOSE_SLOW_PRODUCER_STALLED,
                            "stalled message cut to make room (NE_PARTIAL_INPUT_CHUNKS, "
                            "NE_PARTIAL_INPUTS)");
    }
    return false;
}

void ne_conn_spill_end(ne_conn *conn)
{
    ne_spill *sp = conn->io->spill;
    ne_conns *set = conn->set;
    NE_ASSERT(sp != NULL && set->partial_chunks >= sp->chunks && sp->promised < sp->chunks);
    ne_chunk_unpromise(&set->chunks, sp->promised);
    set->partial_chunks -= sp->chunks;
    ne_pool_free(&set->spill_pool, sp);
    conn->io->spill = NULL;
}

void ne_conn_spill_release(ne_conn *conn)
{
    if (conn->io == NULL || conn->io->spill == NULL) {
        return;
    }
    ne_chunk *head = conn->io->spill->head;
    ne_conn_spill_end(conn);
    ne_chunk_chain_release(&conn->set->chunks, head);
}

void ne_conn_close_slow_consumer(ne_conn *conn)
{
    conn->set->stats.slow_consumers++;
    ne_conn_close(conn, NE_CLOSE_SLOW_CONSUMER_PENDING, NULL);
    ne_outq_clear(&conn->out, &conn->set->chunks);
}

void ne_conn_discard_output(ne_conn *conn)
{
    ne_outq_clear(&conn->out, &conn->set->chunks);
}

/* Whole or not at all (ne_outq_append): when the shared pools are
 * exhausted, the slowest consumer is closed to reclaim chunks and the append
 * is retried once; if that does not help, this connection is closed as a
 * slow consumer, as nats-server closes a client whose message it cannot
 * queue (CP-66): skipping the bytes would lose a message silently. */
int ne_conn_send(ne_conn *conn, const void *bytes, size_t len)
{
    if (conn->closing && !conn->flush_before_close) {
        return NE_ERR_CLOSED;
    }
    ne_conns *set = conn->set;
    int rc = ne_outq_append(&conn->out, &set->chunks, bytes, len);
    if (rc == NE_ERR_NOMEM && ne_conns_reclaim(set, conn)) {
        rc = ne_outq_append(&conn->out, &set->chunks, bytes, len);
    }
    if (rc != NE_OK) {
        ne_conn_close_slow_consumer(conn);
        return rc;
    }
    ne_conn_mark_dirty(conn);
    return NE_OK;
}

/* ne_conn_reserve found no room: reclaim, retry once, else close. */
uint8_t *ne_conn_reserve_slow(ne_conn *conn, size_t len)
{
    ne_conns *set = conn->set;
    uint8_t *dst = NULL;
    if (ne_conns_reclaim(set, conn)) {
        dst = ne_outq_reserve(&conn->out, &set->chunks, len);
    }
    if (dst == NULL) {
        ne_conn_close_slow_consumer(conn);
    }
    return dst;
}

int ne_conn_send_message(ne_conn *conn, const void *head, size_t head_len, const void *bytes,
                         ne_chunk *chain, uint32_t offset, size_t len)
{
    if (conn->closing) {
        return NE_ERR_CLOSED;
    }
    ne_conns *set = conn->set;
    int rc =
        ne_outq_append_message(&conn->out, &set->chunks, head, head_len, bytes, chain, offset, len);
    if (rc == NE_ERR_NOMEM && ne_conns_reclaim(set, conn)) {
        rc = ne_outq_append_message(&conn->out, &set->chunks, head, head_len, bytes, chain, offset,
                                    len);
    }
    NE_ASSERT(rc != NE_ERR_INVALID);
    if (rc != NE_OK) {
        ne_conn_close_slow_consumer(conn);
        return rc;
    }
    ne_conn_mark_dirty(conn);
    return NE_OK;
}

bool ne_conn_pending_exceeded(ne_conn *conn)
{
    ne_conns *set = conn->set;
    if (conn->out.bytes <= set->opts->max_pending || conn->io == NULL) {
        return false;
    }
    if (ne_conn_flush_now(conn) != NE_OK) {
        ne_conn_close(conn, NE_CLOSE_WRITE_ERROR, NULL);
        return true;
    }
    /* Pending means what the socket would not take: only bytes left after
     * writing count against max_pending. nats-server closes a slow consumer
     * without an -ERR (CP-51). */
    if (conn->out.bytes > set->opts->max_pending) {
        ne_conn_logf(conn, NE_LOG_WARN, "Slow Consumer Detected: MaxPending of %llu Exceeded",
                     (unsigned long long)set->opts->max_pending);
        ne_conn_close_slow_consumer(conn);
        return true;
    }
    return false;
}

/* Writes as much of the outbound queue as the socket takes, gathered. */
static int conn_flush(ne_conn *conn)
{
    ne_conns *set = conn->set;
    ne_conn_io *io = conn->io;
    if (io == NULL) {
        return NE_OK; /* an internal client's queue is read by its handler */
    }
    if (io->tls != NULL) {
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
        int rc = set->net.ops->sendv(set->net.ctx, io->sock, iov, n, &sent);
        if (rc == NE_ERR_WOULD_BLOCK) {
            break;
        }
        if (rc != NE_OK) {
            ne_outq_clear(&conn->out, &set->chunks);
            io->last_error = rc;
            return rc;
        }
        io->last_write_ms = set->now_ms;
        ne_outq_consume(&conn->out, &set->chunks, sent);
        if (sent < want) {
            break;
        }
    }
    bool want_write = conn->out.bytes > 0;
    if (want_write != io->want_write) {
        io->want_write = want_write;
        (void)set->net.ops->want_write(set->net.ctx, io->sock, want_write);
    }
    return NE_OK;
}

int ne_conn_flush_now(ne_conn *conn)
{
    return conn_flush(conn);
}

/* Writes every connection that got output: one gathered write each. */
/* park: at the end of a turn, a connection idle once written parks. */
static void flush_dirty(ne_conns *set, bool park)
{
    uint32_t guard = 0;
    while (set->dirty_head != NULL && guard++ < NE_MAX_CONN_HEADERS * 2u) {
        ne_conn *conn = set->dirty_head;
        set->dirty_head = conn->dirty_next;
        conn->dirty = false;
        if (!conn->closing && conn_flush(conn) != NE_OK) {
            ne_conn_close(conn, NE_CLOSE_WRITE_ERROR, NULL);
        }
#if NE_CONN_PARKING
        if (park) {
            conn_park(conn);
        }
#else
        (void)park;
#endif
    }
}

/* Internal clients handle what was delivered to them this turn; a handler
 * that leaves some for later is run again next turn. */
static void run_internal(ne_conns *set)
{
    ne_conn *list = set->internal_head;
    set->internal_head = NULL;
    /* Raised again by a service still above its mark after its run. */
    set->congested = false;
    uint32_t guard = 0;
    while (list != NULL && guard++ < NE_MAX_INTERNAL_CLIENTS) {
        ne_conn *conn = list;
        list = conn->dirty_next;
        conn->dirty = false;
        const ne_conn_ops *ops = ne_conn_kind_of(conn)->ops;
        if (!conn->closing && ops->run != NULL) {
            ops->run(conn);
        }
        if (!conn->closing && conn->out.bytes > 0) {
            ne_conn_mark_dirty(conn);
        }
    }
}

/* ---- Read buffers ------------------------------------------------------------ */

/* The connection, other than `except`, that has held a read buffer longest
 * without sending a byte for at least partial_msg_stall_ms; NULL if none. */
static ne_conn *rbuf_stalled_holder(ne_conns *set, const ne_conn *except)
{
    ne_conn *oldest = NULL;
    uint32_t guard = 0;
    for (ne_conn *c = set->active; c != NULL && guard++ < NE_MAX_CONN_HEADERS; c = c->next) {
        const ne_conn_io *io = c->io;
        if (c == except || c->closing || io == NULL || io->rbuf == NULL ||
            set->now_ms - io->last_in_ms < set->opts->partial_msg_stall_ms) {
            continue;
        }
        if (oldest == NULL || io->last_in_ms < oldest->io->last_in_ms) {
            oldest = c;
        }
    }
    return oldest;
}

/* Gives a read buffer to the connection unless it has one: from the pool,
 * or from the stalled holder cut to make room. False when none is free
 * (the caller pauses the reads: TCP back-pressure). */
bool ne_conn_rbuf_take(ne_conn *conn)
{
    ne_conns *set = conn->set;
    ne_conn_io *io = conn->io;
    if (io->rbuf != NULL) {
        return true;
    }
    NE_ASSERT(io->rlen == 0);
    io->rbuf = ne_pool_alloc_uninit(&set->rbuf_pool);
    if (io->rbuf != NULL) {
        return true;
    }
    ne_conn *victim = rbuf_stalled_holder(set, conn);
    if (victim == NULL) {
        return false;
    }
    ne_conn_logf(victim, NE_LOG_WARN,
                 "Slow Producer Detected: %u bytes of incomplete input held a read buffer for "
                 "%llu ms while another connection needed one (NE_CONN_READ_BUFFERS %u)",
                 (unsigned)victim->io->rlen,
                 (unsigned long long)(set->now_ms - victim->io->last_in_ms),
                 (unsigned)NE_CONN_READ_BUFFERS);
    set->stats.slow_producers++;
    ne_conn_close(victim, NE_CLOSE_SLOW_PRODUCER_STALLED, NULL);
    victim->io->rlen = 0;
    ne_conn_rbuf_release(victim);
    io->rbuf = ne_pool_alloc_uninit(&set->rbuf_pool);
    NE_ASSERT(io->rbuf != NULL);
    return true;
}

/* Gives the read buffer back when it holds nothing. */
void ne_conn_rbuf_release(ne_conn *conn)
{
    ne_conn_io *io = conn->io;
    if (io->rbuf != NULL && io->rlen == 0) {
        ne_pool_free(&conn->set->rbuf_pool, io->rbuf);
        io->rbuf = NULL;
    }
}

/* ---- Input ------------------------------------------------------------------- */

void ne_conn_pause_reads(ne_conn *conn)
{
    ne_conns *set = conn->set;
    ne_conn_io *io = conn->io;
    NE_ASSERT(io != NULL);
    if (io->read_paused) {
        return;
    }
    io->read_paused = true;
    (void)set->net.ops->want_read(set->net.ctx, io->sock, false);
    io->paused_next = set->paused_head;
    set->paused_head = conn;
}

static uint32_t conn_input(ne_conn *conn, uint8_t *buf, uint32_t len)
{
    ne_conns *set = conn->set;
    ne_conn *outer = set->reading; /* NULL unless an input parses another's */
    set->reading = conn;
    uint32_t used = ne_conn_kind_of(conn)->ops->input(conn, buf, len);
    set->reading = outer;
    return used;
}

void ne_conn_process_input(ne_conn *conn)
{
    ne_conn_io *io = conn->io;
    if (io->rbuf == NULL) {
        /* Nothing kept: the kind still hears of the resumed reads (it may
         * go on with a message it holds in chunks). */
        uint8_t none[1];
        NE_ASSERT(io->rlen == 0);
        (void)conn_input(conn, none, 0);
        return;
    }
    uint32_t pos = conn_input(conn, io->rbuf, io->rlen);
    if (conn->closing) {
        io->rlen = 0;
    } else if (pos > 0) {
        memmove(io->rbuf, io->rbuf + pos, io->rlen - pos);
        io->rlen -= pos;
    }
    ne_conn_rbuf_release(conn);
}

#if NE_SHARED_READ_BUFFER_BYTES > 0
/* Keeps what the parser left of the shared buffer: in the connection's own
 * buffer when it fits (always, unless its reads were paused mid-input), else
 * in place, the connection becoming the buffer's owner until it resumes. */
static void shared_keep_rest(ne_conn *conn, uint32_t pos, uint32_t len)
{
    ne_conns *set = conn->set;
    ne_conn_io *io = conn->io;
    uint32_t rest = len - pos;
    if (conn->closing) {
        rest = 0;
    }
    if (rest <= NE_CONN_READ_BUFFER_BYTES && (rest == 0 || ne_conn_rbuf_take(conn))) {
        if (rest > 0) {
            memcpy(io->rbuf, set->rshared + pos, rest);
        }
        io->rlen = rest;
        ne_conn_rbuf_release(conn);
        if (set->rshared_owner == conn) {
            set->rshared_owner = NULL;
        }
        return;
    }
    /* More than a read buffer holds (the kind paused the reads mid-input),
     * or no read buffer free: the rest stays where it is and the
     * connection waits with its reads paused. */
    ne_conn_pause_reads(conn);
    io->rlen = 0;
    ne_conn_rbuf_release(conn);
    set->rshared_owner = conn;
    set->rshared_pos = pos;
    set->rshared_len = len;
}

/* Reads at most `want` bytes into the shared buffer after what the
 * connection had left over, parses there in place, and keeps the rest
 * (shared_keep_rest). Returns false when the socket is drained or the
 * connection is done for the turn. */
static bool conn_read_shared(ne_conn *conn, size_t want, size_t *got_out)
{
    ne_conns *set = conn->set;
    ne_conn_io *io = conn->io;
    uint32_t have = io->rlen;
    if (have > 0) {
        memcpy(set->rshared, io->rbuf, have);
        io->rlen = 0;
        ne_conn_rbuf_release(conn);
    }
    size_t room = NE_MIN((size_t)NE_SHARED_READ_BUFFER_BYTES - have, want);
    size_t got = 0;
    int rc = set->net.ops->recv(set->net.ctx, io->sock, set->rshared + have, room, &got);
    *got_out = got;
    if (rc == NE_ERR_WOULD_BLOCK) {
        return false;
    }
    if (rc != NE_OK) {
        ne_conn_close_io_error(conn, rc);
        return false;
    }
    io->last_in_ms = set->now_ms;
    uint32_t len = have + (uint32_t)got;
    uint32_t pos = conn_input(conn, set->rshared, len);
    shared_keep_rest(conn, pos, len);
    return got == room;
}

/* A paused owner of the shared buffer goes on with the input kept there. */
static void shared_resume(ne_conn *conn)
{
    ne_conns *set = conn->set;
    uint32_t start = set->rshared_pos;
    uint32_t len = set->rshared_len;
    uint32_t used = conn_input(conn, set->rshared + start, len - start);
    shared_keep_rest(conn, start + used, len);
}

/* Plain connections read through the shared buffer, unless a paused
 * connection holds input in it. */
static bool reads_shared(const ne_conn *conn)
{
    return conn->io->tls == NULL && conn->set->rshared_owner == NULL;
}
#endif

/* Back-pressure: with the shared pool three quarters used, the rest of this
 * publisher's input stays in the socket until the turn's flushes have
 * returned chunks. */
static bool chunks_low(const ne_conns *set)
{
    return ne_chunk_available(&set->chunks) < NE_CHUNK_COUNT / 4;
}

static void conn_read(ne_conn *conn)
{
    ne_conns *set = conn->set;
    ne_conn_io *io = conn->io;
    if (ne_conn_hold_input(conn)) {
        return; /* a service is congested: the input stays in the socket */
    }
    if (io->tls != NULL) {
        ne_conn_tls_read(conn);
        return;
    }
#if NE_SHARED_READ_BUFFER_BYTES > 0
    if (reads_shared(conn)) {
        for (int i = 0; i < NE_READS_PER_EVENT && !conn->closing && !io->read_paused; i++) {
            uint64_t before = set->out_bytes_counter != NULL ? *set->out_bytes_counter : 0;
            size_t want = io->fans_out ? NE_FANOUT_READ_BYTES : NE_SHARED_READ_BUFFER_BYTES;
            size_t got = 0;
            bool more = conn_read_shared(conn, want, &got);
            if (got > 0 && set->out_bytes_counter != NULL && !conn->closing) {
                /* Payload bytes out against bytes in: fan-out. */
                io->fans_out = *set->out_bytes_counter - before > got;
            }
            if (!more || chunks_low(set)) {
                return;
            }
        }
        return;
    }
#endif
    for (int i = 0; i < NE_READS_PER_EVENT && !conn->closing && !io->read_paused; i++) {
        if (!ne_conn_rbuf_take(conn)) {
            ne_conn_pause_reads(conn);
            return;
        }
        size_t room = NE_CONN_READ_BUFFER_BYTES - io->rlen;
        if (room == 0) {
            /* The parser leaves a full buffer only while it waits for chunks. */
            return;
        }
        size_t got = 0;
        int rc = set->net.ops->recv(set->net.ctx, io->sock, io->rbuf + io->rlen, room, &got);
        if (rc != NE_OK) {
            ne_conn_rbuf_release(conn);
            if (rc != NE_ERR_WOULD_BLOCK) {
                ne_conn_close_io_error(conn, rc);
            }
            return;
        }
        io->rlen += (uint32_t)got;
        io->last_in_ms = set->now_ms;
        ne_conn_process_input(conn);
        if (got < room || chunks_low(set)) {
            return; /* the socket is drained, or back-pressure */
        }
    }
}

/* Connections whose reads were paused for lack of chunks try again, now that
 * this turn's flushes and closes may have returned chunks to the pool. */
static void resume_paused(ne_conns *set)
{
    ne_conn *list = set->paused_head;
    set->paused_head = NULL;
    uint32_t guard = 0;
    while (list != NULL && guard++ < NE_MAX_CONN_HEADERS) {
        ne_conn *conn = list;
        list = conn->io->paused_next;
        conn->io->paused_next = NULL;
        if (conn->closing) {
            continue;
        }
        conn->io->read_paused = false;
        if (!set->congested) {
            conn->io->held = false; /* no service is above its mark any more */
        }
        (void)set->net.ops->want_read(set->net.ctx, conn->io->sock, true);
#if NE_SHARED_READ_BUFFER_BYTES > 0
        if (set->rshared_owner == conn) {
            shared_resume(conn);
            continue;
        }
#endif
        ne_conn_process_input(conn);
    }
}

/* ---- Parking ------------------------------------------------------------------- */

#if NE_CONN_PARKING
/* A connection of a kind that parks, idle after its events: parked when
 * nothing of it is in flight here and its kind agrees (ne_parked). */
static void conn_park(ne_conn *conn)
{
    ne_conns *set = conn->set;
    ne_conn_io *io = conn->io;
    NE_ASSERT(io != NULL);
    ne_parked *p = io->parked;
    if (p == NULL || conn->closing || conn->out.bytes > 0 || conn->nsubs > 0 ||
        conn->trie_nodes > 0 || conn->announced > 0 || io->tls != NULL || io->spill != NULL ||
        io->rbuf != NULL || io->rlen > 0 || io->read_paused || io->held || io->want_write ||
        io->peer_name != NULL || set->reading == conn) {
        return;
    }
#if NE_SHARED_READ_BUFFER_BYTES > 0
    if (set->rshared_owner == conn) {
        return;
    }
#endif
    /* Written already (right after its read): off the turn's list of
     * output, where it is the latest one put (the only case parked). */
    if (conn->dirty && set->dirty_head != conn) {
        return;
    }
    if (!ne_conn_kind_of(conn)->ops->park(conn, p->state)) {
        return;
    }
    if (conn->dirty) {
        set->dirty_head = conn->dirty_next;
        conn->dirty_next = NULL;
        conn->dirty = false;
    }
    p->publish_checks = conn->publish_checks;
    p->fans_out = io->fans_out;
    p->perms = conn->perms;
    p->user_index = conn->user_index;
    p->peer = io->peer;
    p->port = io->port;
    p->sock = io->sock;
    p->cid = conn->cid;
    p->start_wall_ns = conn->start_wall_ns;
    p->last_in_ms = io->last_in_ms;
    p->in_msgs = conn->in_msgs;
    p->in_bytes = conn->in_bytes;
    p->out_msgs = conn->out_msgs;
    p->out_bytes = conn->out_bytes;
    p->acc = conn->acc;
    p->conn = NULL;
    ne_outq_clear(&conn->out, &set->chunks);
    ne_pool_free(&set->io_pool, io);
    header_give_back(set, conn);
    set->parked++;
}

/* What the record kept, back into a header and an I/O part (a connection
 * coming back, or monitoring's view of a parked one). */
static void parked_fields(const ne_parked *p, ne_conn *conn, ne_conn_io *io)
{
    io->sock = p->sock;
    io->peer = p->peer;
    io->port = p->port;
    io->fans_out = p->fans_out;
    io->last_in_ms = p->last_in_ms;
    conn->io = io;
    conn->cid = p->cid;
    conn->start_wall_ns = p->start_wall_ns;
    conn->publish_checks = p->publish_checks;
    conn->perms = p->perms;
    conn->user_index = p->user_index;
    conn->in_msgs = p->in_msgs;
    conn->in_bytes = p->in_bytes;
    conn->out_msgs = p->out_msgs;
    conn->out_bytes = p->out_bytes;
    conn->acc = p->acc;
}

ne_conn *ne_conns_unpark(ne_conns *set, ne_parked *p)
{
    NE_ASSERT(p->in_use && p->conn == NULL && set->parked > 0);
    set->parked--;
    ne_conn_io *io = ne_pool_alloc(&set->io_pool);
    ne_conn *conn = header_take(set, p->kind);
    NE_ASSERT(io != NULL && conn != NULL); /* reserved while it was parked */
    parked_fields(p, conn, io);
    io->parked = p;
    io->last_write_ms = set->now_ms;
    conn->next_ping_ms = set->now_ms + set->opts->ping_interval_ms;
    p->conn = conn;
    ne_conn_kind_of(conn)->ops->unpark(conn, p->state);
    return conn;
}

ne_parked *ne_conns_parked_next(ne_conns *set, uint8_t kind, uint32_t *cursor)
{
    ne_pool *pool = &set->parked_pool;
    for (uint32_t i = *cursor; i < pool->fresh; i++) {
        ne_parked *p = (ne_parked *)(void *)(pool->storage + (size_t)i * pool->object_bytes);
        if (p->in_use && p->conn == NULL && p->kind == kind) {
            *cursor = i + 1;
            return p;
        }
    }
    *cursor = pool->fresh;
    return NULL;
}

const ne_conn *ne_conns_parked_view(ne_conns *set, const ne_parked *p, ne_conn_view *v)
{
    NE_ASSERT(p->in_use && p->conn == NULL);
    memset(v, 0, sizeof(*v));
    ne_conn *conn = &v->conn;
    ne_conn_io *io = &v->io;
    conn->tag = NE_HANDLE_CONN;
    conn->kind = p->kind;
    conn->set = set;
    parked_fields(p, conn, io);
    io->last_write_ms = p->last_in_ms;
    set->kinds[p->kind].ops->parked_view(p, conn, v->state.bytes, sizeof(v->state.bytes));
    return conn;
}

void ne_conn_internal_park(ne_conn *conn)
{
    ne_conns *set = conn->set;
    NE_ASSERT(conn->io == NULL && !conn->closing && !conn->dirty && conn->nsubs == 0 &&
              conn->out.bytes == 0);
    NE_ASSERT(set->internal_count > 0);
    ne_outq_clear(&conn->out, &set->chunks);
    set->kinds[conn->kind].count--;
    set->internal_count--;
    set->internal_reserved++;
    header_give_back(set, conn);
}

ne_conn *ne_conn_internal_unpark(ne_conns *set, uint8_t kind)
{
    NE_ASSERT(set->internal_reserved > 0);
    set->internal_reserved--;
    ne_conn *conn = ne_conn_new_internal(set, kind);
    NE_ASSERT(conn != NULL); /* its place was kept */
    return conn;
}
#endif

/* ---- Listeners ------------------------------------------------------------------ */

static void accept_connections(ne_conns *set, ne_listener *listener)
{
    const ne_net_ops *ops = set->net.ops;
    for (int i = 0; i < NE_ACCEPTS_PER_EVENT; i++) {
        ne_sock sock;
        char ip[46] = {0};
        uint16_t port = 0;
        int rc = ops->accept(set->net.ctx, listener->sock, &sock, ip, &port);
        if (rc != NE_OK) {
            if (rc != NE_ERR_WOULD_BLOCK) {
                ne_log_error(set->log, "Error accepting %s connection: %s",
                             set->kinds[listener->kind].name, ne_err_name(rc));
            }
            return;
        }
        ne_conn *conn = NULL;
        if (listener->admit == NULL || listener->admit(listener->ctx)) {
            if (set->close_head != NULL &&
                (!socket_room(set) || ne_pool_available(&set->conn_pool) == 0)) {
                /* admit may have closed a connection to make room (the
                 * oldest idle monitoring one): with no slots kept apart
                 * (NE_RESERVED_CONNECTIONS 0) its slot is the one this
                 * connection needs, so it leaves now, not at the turn's end.
                 * No routing is under way between events. */
                reap_closed(set);
            }
            conn = ne_conn_new(set, listener->kind, sock, ip, port);
        }
        if (conn == NULL) {
            set->stats.refused_connections++;
            if (listener->refused != NULL) {
                listener->refused(listener->ctx, sock, ip, port);
            }
            ops->close(set->net.ctx, sock);
            continue;
        }
        if (!conn->closing && listener->accepted != NULL) {
            listener->accepted(listener->ctx, conn);
        }
#if NE_CONN_PARKING
        conn_park(conn); /* nothing has arrived yet */
#endif
    }
}

static void conn_events(ne_conn *conn, bool readable, bool writable)
{
    if (conn->closing) {
        return;
    }
    if (writable && conn_flush(conn) != NE_OK) {
        ne_conn_close(conn, NE_CLOSE_WRITE_ERROR, NULL);
        return;
    }
    if (readable) {
        /* A connection whose queue was empty before this read writes what
         * the read produced right away (one write per read, as the turn's
         * flush would, only earlier): its chunks go back to the pool before
         * the next connection's read, so a burst of connects answered in
         * one turn reuses a few chunks instead of touching one each. A
         * queue that held output before waits for the turn's flush (or its
         * writable event), as does one whose connection is closing. */
        bool was_empty = conn->out.bytes == 0;
        conn_read(conn);
        if (was_empty && conn->out.bytes > 0 && !conn->closing && conn_flush(conn) != NE_OK) {
            ne_conn_close(conn, NE_CLOSE_WRITE_ERROR, NULL);
        }
    }
}

void ne_conns_handle_io(ne_conns *set, void *user, bool readable, bool writable)
{
    uint8_t tag = *(const uint8_t *)user;
    if (tag == NE_HANDLE_LISTENER) {
        accept_connections(set, user);
        return;
    }
#if NE_CONN_PARKING
    if (tag == NE_HANDLE_PARKED) {
        ne_parked *p = user;
        ne_conn *conn = p->conn != NULL ? p->conn : ne_conns_unpark(set, p);
        conn_events(conn, readable, writable);
        conn_park(conn);
        return;
    }
#endif
    NE_ASSERT(tag == NE_HANDLE_CONN);
    conn_events(user, readable, writable);
}

/* ---- Keepalive ----------------------------------------------------------------- */

void ne_conn_ping_start(ne_conn *conn)
{
    const ne_server_options *o = conn->set->opts;
    uint32_t first = NE_MIN((uint32_t)NE_FIRST_PING_INTERVAL_MS, o->ping_interval_ms);
    conn->next_ping_ms = conn->set->now_ms + first;
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

void ne_conn_ping_timer(ne_conn *conn, uint64_t now)
{
    const ne_server_options *o = conn->set->opts;
    if (now < conn->next_ping_ms || conn->io == NULL) {
        return;
    }
    conn->next_ping_ms = now + o->ping_interval_ms;
    /* Inbound activity within the interval makes a ping unnecessary (CP-48),
     * except for the first one after CONNECT, which nats-server always sends
     * (CP-47). */
    if (conn->first_ping_sent && conn->pings_out == 0 &&
        now - conn->io->last_in_ms < o->ping_interval_ms) {
        return;
    }
    conn->first_ping_sent = true;
    if (conn->pings_out + 1 > o->ping_max) {
        ne_conn_logf(conn, NE_LOG_DEBUG, "Stale Client Connection - Closing");
        ne_conn_close(conn, NE_CLOSE_STALE, NE_PROTO_ERR_STALE);
        return;
    }
    conn->pings_out++;
    (void)ne_conn_send(conn, "PING\r\n", 6);
}

/* ---- Timers and the end of a turn -------------------------------------------- */

static void conn_timers(ne_conn *conn, uint64_t now)
{
    ne_conns *set = conn->set;
    ne_conn_io *io = conn->io;
    if (io != NULL) {
        if (ne_conn_tls_timer(conn, now)) {
            return;
        }
        if (conn->out.bytes > 0 && now - io->last_write_ms > set->opts->write_deadline_ms) {
            ne_conn_logf(conn, NE_LOG_WARN,
                         "Slow Consumer Detected: WriteDeadline of %ums exceeded",
                         (unsigned)set->opts->write_deadline_ms);
            set->stats.slow_consumers++;
            ne_conn_close(conn, NE_CLOSE_SLOW_CONSUMER_DEADLINE, NULL);
            ne_outq_clear(&conn->out, &set->chunks);
            return;
        }
        const ne_spill *sp = io->spill;
        if (sp != NULL && set->opts->partial_msg_timeout_ms > 0 &&
            now - sp->start_ms >= set->opts->partial_msg_timeout_ms) {
            close_slow_producer(conn, NE_CLOSE_SLOW_PRODUCER_DEADLINE,
                                "message incomplete at its deadline (NE_PARTIAL_MSG_TIMEOUT_MS)");
            return;
        }
    }
    const ne_conn_ops *ops = ne_conn_kind_of(conn)->ops;
    if (ops->timer != NULL) {
        ops->timer(conn, now);
    }
}

static void run_timers(ne_conns *set, uint64_t now)
{
    uint32_t guard = 0;
    for (ne_conn *c = set->active; c != NULL && guard < NE_MAX_CONN_HEADERS; c = c->next, guard++) {
        if (!c->closing) {
            conn_timers(c, now);
        }
    }
#if NE_CONN_PARKING
    /* Parked connections whose kind has a timer due: back for it, and
     * parked again if they stay idle. */
    for (uint32_t k = 0; k < set->kind_count && set->parked > 0; k++) {
        const ne_conn_ops *ops = set->kinds[k].ops;
        if (ops->park == NULL) {
            continue;
        }
        uint32_t cursor = 0;
        ne_parked *p;
        while ((p = ne_conns_parked_next(set, (uint8_t)k, &cursor)) != NULL) {
            if (ops->parked_due(p, now)) {
                ne_conn *conn = ne_conns_unpark(set, p);
                conn_timers(conn, now);
                conn_park(conn);
            }
        }
    }
#endif
}

void ne_conns_turn_end(ne_conns *set, uint64_t now_ms, bool tick)
{
    set->now_ms = now_ms;
    if (tick) {
        run_timers(set, now_ms);
    }
    run_internal(set);
    /* Flush every connection that got output this turn: one gathered write
     * per connection per turn. */
    flush_dirty(set, true);
    reap_closed(set);
    resume_paused(set);
    ne_conns_tls_turn_end(set);
}

/* Connections paused for chunks do not make the loop spin: they are tried
 * again at the end of every turn, and a turn comes with the next event or
 * tick (chunks come back through writes, closes and timers, which are
 * events and ticks). */
bool ne_conns_busy(const ne_conns *set)
{
    return set->close_head != NULL || set->dirty_head != NULL || set->tls_retry_head != NULL ||
           set->internal_head != NULL;
}

void ne_conns_close_all(ne_conns *set, ne_close_reason reason)
{
#if NE_CONN_PARKING
    for (uint32_t k = 0; k < set->kind_count && set->parked > 0; k++) {
        uint32_t cursor = 0;
        ne_parked *p;
        while ((p = ne_conns_parked_next(set, (uint8_t)k, &cursor)) != NULL) {
            (void)ne_conns_unpark(set, p); /* closed with the others, below */
        }
    }
#endif
    uint32_t guard = 0;
    for (ne_conn *c = set->active; c != NULL && guard < NE_MAX_CONN_HEADERS; c = c->next, guard++) {
        if (!c->closing) {
            ne_conn_close(c, reason, NULL);
        }
    }
    while (set->listener_count > 0) {
        ne_conns_unlisten(set, set->listeners[set->listener_count - 1]);
    }
}
