/* The system account's advisories and requests (ne_sys.h). */
#include "sys/ne_sys.h"

#include <string.h>

#include "auth/ne_nkey.h"
#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"

/* Requests answered per turn; the rest wait for the next one. */
#define NE_SYS_REQUESTS_PER_TURN 8
/* Bytes of JSON gathered before they go into the response's chunks. */
#define NE_SYS_PIECE_BYTES 256

static ne_sys *sys_of(const ne_conn *conn)
{
    return ne_conn_kind_of(conn)->ctx;
}

/* ---- Publishing a document --------------------------------------------------- */

/* A response or advisory is written straight into pool chunks, so that its
 * size is bounded by the pool, not by a buffer of this module. */
typedef struct chain_sink {
    ne_chunk_pools *pools;
    ne_chunk *head;
    ne_chunk *tail;
    size_t len;
} chain_sink;

static int chain_write(void *ctx, const char *bytes, size_t len)
{
    chain_sink *s = ctx;
    size_t done = 0;
    /* Bounded: each pass fills one chunk. */
    while (done < len) {
        if (s->tail == NULL || s->tail->used == NE_CHUNK_BYTES) {
            ne_chunk *c = ne_chunk_alloc(s->pools);
            if (c == NULL) {
                return NE_ERR_NOMEM;
            }
            if (s->tail != NULL) {
                s->tail->next = c;
            } else {
                s->head = c;
            }
            s->tail = c;
        }
        size_t n = NE_MIN(len - done, (size_t)NE_CHUNK_BYTES - s->tail->used);
        memcpy(s->tail->data + s->tail->used, bytes + done, n);
        s->tail->used += (uint32_t)n;
        done += n;
    }
    s->len += len;
    return NE_OK;
}

typedef void (*doc_writer)(ne_sys *sys, ne_json_out *o, const void *arg);

/* Writes a document with `write` and publishes it on subject in the system
 * account, as the internal client (responses) or from the server itself
 * (advisories, when no client exists yet). False when the pool could not
 * hold it. */
static bool publish_doc(ne_sys *sys, ne_slice subject, doc_writer write, const void *arg)
{
    chain_sink sink = {&sys->conns->chunks, NULL, NULL, 0};
    char piece[NE_SYS_PIECE_BYTES];
    ne_json_out o;
    ne_json_out_init(&o, piece, sizeof(piece), chain_write, &sink);
    write(sys, &o, arg);
    int rc = ne_json_out_finish(&o);
    if (rc == NE_OK) {
        rc = chain_write(&sink, "\r\n", 2);
    }
    if (rc != NE_OK) {
        ne_chunk_chain_release(&sys->conns->chunks, sink.head);
        sys->stats.responses_failed++;
        ne_log_warn(sys->conns->log,
                    "System message on \"%.*s\" not sent: chunk pool exhausted (NE_CHUNK_COUNT)",
                    (int)subject.len, subject.ptr);
        return false;
    }
    ne_msg msg;
    memset(&msg, 0, sizeof(msg));
    msg.subject = subject;
    msg.reply = (ne_slice){"", 0};
    msg.total_len = (uint32_t)(sink.len - 2);
    msg.chain = sink.head;
    msg.chain_offset = 0;
    uint32_t delivered = 0;
    if (sys->client != NULL) {
        (void)ne_router_publish(sys->router, sys->client, &msg, &delivered);
    } else {
        (void)ne_router_publish_in(sys->router, sys->opts->system_account, &msg);
    }
    ne_chunk_chain_release(&sys->conns->chunks, sink.head);
    return true;
}

/* ---- Advisories ---------------------------------------------------------------- */

/* The system account, when it exists and someone besides this service
 * listens in it. */
static bool listeners(const ne_sys *sys)
{
    uint8_t acc = sys->opts->system_account;
    uint32_t own = sys->client != NULL ? sys->client->nsubs : 0;
    return acc != NE_ACCOUNT_NONE && sys->router->accounts[acc].sublist.count > own;
}

/* nats-server's server object (ServerInfo): "cluster" only in a cluster. */
static void write_server_object(ne_sys *sys, ne_json_out *o, uint64_t now_ns)
{
    ne_json_begin_object(o);
    ne_json_kv_string(o, "name", sys->opts->server_name);
    ne_json_kv_string(o, "host", sys->opts->host);
    ne_json_kv_string(o, "id", sys->conns->id.server_id);
    if (sys->cluster != NULL && sys->cluster[0] != '\0') {
        ne_json_kv_string(o, "cluster", sys->cluster);
    }
    ne_json_kv_string(o, "ver", NE_ADVERTISED_VERSION);
    ne_json_kv_u64(o, "seq", ++sys->seq);
    ne_json_kv_bool(o, "jetstream", sys->opts->js.enabled);
    ne_json_kv_time(o, "time", now_ns);
    ne_json_end_object(o);
}

/* The server object of advisories and responses. */
static void write_server(ne_sys *sys, ne_json_out *o, uint64_t now_ns)
{
    ne_json_key(o, "server");
    write_server_object(sys, o, now_ns);
}

/* The fields every advisory starts with: type, id, timestamp, server. */
static void event_head(ne_sys *sys, ne_json_out *o, const char *type, uint64_t now_ns)
{
    char type_text[64];
    ne_fmt(type_text, sizeof(type_text), "io.nats.server.advisory.v1.%s", type);
    char id[NE_NKEY_NONCE_LEN + 1];
    if (ne_nkey_nonce(id) != NE_OK) {
        ne_fmt(id, sizeof(id), "%llu", (unsigned long long)sys->seq);
    }
    ne_json_kv_string(o, "type", type_text);
    ne_json_kv_string(o, "id", id);
    ne_json_kv_time(o, "timestamp", now_ns);
    write_server(sys, o, now_ns);
}

static void write_traffic(ne_json_out *o, const char *key, uint64_t msgs, uint64_t bytes)
{
    ne_json_key(o, key);
    ne_json_begin_object(o);
    ne_json_kv_u64(o, "msgs", msgs);
    ne_json_kv_u64(o, "bytes", bytes);
    ne_json_end_object(o);
}

/* account_connections: the account's connection count, whenever it changes. */
static void write_account_conns(ne_sys *sys, ne_json_out *o, const void *arg)
{
    const ne_account *acc = arg;
    ne_json_begin_object(o);
    event_head(sys, o, "account_connections", ne_port_wall_ns());
    ne_json_kv_string(o, "acc", ne_router_account_name(sys->router, acc));
    ne_json_kv_u64(o, "conns", acc->clients);
    ne_json_kv_u64(o, "leafnodes", 0);
    ne_json_kv_u64(o, "total_conns", acc->clients);
    write_traffic(o, "sent", acc->out_msgs, acc->out_bytes);
    write_traffic(o, "received", acc->in_msgs, acc->in_bytes);
    ne_json_kv_u64(o, "slow_consumers", acc->slow_consumers);
    ne_json_end_object(o);
}

typedef struct client_event {
    const ne_conn *conn;
    bool connect;
} client_event;

/* client_connect / client_disconnect. */
static void write_client_event(ne_sys *sys, ne_json_out *o, const void *arg)
{
    const client_event *e = arg;
    const ne_conn *conn = e->conn;
    ne_conn_desc d;
    ne_conn_kind_of(conn)->ops->describe(conn, &d);
    uint64_t now_ns = ne_port_wall_ns();
    ne_json_begin_object(o);
    event_head(sys, o, e->connect ? "client_connect" : "client_disconnect", now_ns);
    ne_json_key(o, "client");
    ne_json_begin_object(o);
    ne_json_kv_time(o, "start", conn->start_wall_ns);
    char host[NE_IP_TEXT_BYTES];
    ne_json_kv_string(o, "host", ne_conn_peer_text(conn, host, sizeof(host)));
    ne_json_kv_u64(o, "id", conn->cid);
    ne_json_kv_string(o, "acc", d.account);
    if (d.user[0] != '\0') {
        ne_json_kv_string(o, "user", d.user);
    }
    if (d.name[0] != '\0') {
        ne_json_kv_string(o, "name", d.name);
    }
    ne_json_kv_string(o, "lang", d.lang);
    ne_json_kv_string(o, "ver", d.version);
    if (!e->connect) {
        if (conn->rtt_ns > 0) {
            ne_json_kv_u64(o, "rtt", conn->rtt_ns);
        }
        ne_json_kv_time(o, "stop", now_ns);
    }
    ne_json_kv_string(o, "kind", d.kind);
    ne_json_kv_string(o, "client_type", d.type);
    ne_json_end_object(o);
    if (!e->connect) {
        write_traffic(o, "sent", conn->out_msgs, conn->out_bytes);
        write_traffic(o, "received", conn->in_msgs, conn->in_bytes);
        ne_json_kv_string(o, "reason", ne_close_reason_text(conn->close_reason));
    }
    ne_json_end_object(o);
}

static void count_event(ne_sys *sys, bool sent)
{
    if (sent) {
        sys->stats.events++;
    } else {
        sys->stats.events_dropped++;
    }
}

/* The account's account_connections, on nats-server's two subjects (the
 * older one first, as it sends them), and when it is due again: every
 * NE_SYS_ACCOUNT_CONNS_HB_MS while the account has clients. */
static void advise_account_conns(ne_sys *sys, const ne_account *acc)
{
    uint32_t index = (uint32_t)(acc - sys->router->accounts);
    NE_ASSERT(index < sys->router->account_count);
    sys->conns_hb_ms[index] =
        acc->clients > 0 ? sys->conns->now_ms + NE_SYS_ACCOUNT_CONNS_HB_MS : 0;
    if (!listeners(sys)) {
        return; /* no one could hear it */
    }
    const char *name = ne_router_account_name(sys->router, acc);
    static const char *const formats[] = {"$SYS.SERVER.ACCOUNT.%s.CONNS",
                                          "$SYS.ACCOUNT.%s.SERVER.CONNS"};
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        char subject[NE_ACCOUNT_NAME_BYTES + 32];
        size_t n = ne_fmt(subject, sizeof(subject), formats[i], name);
        NE_ASSERT(n > 0); /* a configured name of fewer than NE_ACCOUNT_NAME_BYTES */
        count_event(sys,
                    publish_doc(sys, (ne_slice){subject, (uint32_t)n}, write_account_conns, acc));
    }
}

static void advise(ne_sys *sys, ne_conn *conn, bool connect)
{
    advise_account_conns(sys, conn->acc);
    if (!listeners(sys)) {
        return; /* no one could hear it */
    }
    const char *acc = ne_router_account_name(sys->router, conn->acc);
    char subject[NE_ACCOUNT_NAME_BYTES + 32];
    size_t n = ne_fmt(subject, sizeof(subject), "$SYS.ACCOUNT.%s.%s", acc,
                      connect ? "CONNECT" : "DISCONNECT");
    NE_ASSERT(n > 0);
    client_event e = {conn, connect};
    count_event(sys, publish_doc(sys, (ne_slice){subject, (uint32_t)n}, write_client_event, &e));
}

static void joined(void *ctx, ne_conn *conn)
{
    advise(ctx, conn, true);
}

static void left(void *ctx, ne_conn *conn)
{
    advise(ctx, conn, false);
}

/* A peer (a route, in $G) came or goes: nats-server registers it with its
 * account as a connection it does not count, which sends the account's
 * account_connections, except when one leaves $G. No CONNECT or
 * DISCONNECT. */
static void peer(void *ctx, ne_conn *conn, bool up)
{
    if (up || conn->acc->index != NE_ACCOUNT_GLOBAL) {
        advise_account_conns(ctx, conn->acc);
    }
}

/* ---- Requests ------------------------------------------------------------------ */

/* How a request waits in the internal client's queue: this head, then the
 * subject, the reply and the body (headers dropped), all in one chunk. */
typedef struct request_head {
    uint16_t subject_len;
    uint16_t reply_len;
    uint32_t body_len;
} request_head;

/* Copies len payload bytes from offset `from` of a message. */
static void copy_payload(const ne_msg *msg, uint32_t from, uint8_t *dst, uint32_t len)
{
    if (msg->chain == NULL) {
        memcpy(dst, msg->data + from, len);
        return;
    }
    const ne_chunk *c = msg->chain;
    uint32_t at = msg->chain_offset + from;
    while (c != NULL && at >= c->used) {
        at -= c->used;
        c = c->next;
    }
    uint32_t done = 0;
    while (c != NULL && done < len) {
        uint32_t n = NE_MIN(len - done, c->used - at);
        memcpy(dst + done, c->data + at, n);
        done += n;
        at = 0;
        c = c->next;
    }
}

static ne_slice request_name(ne_slice subject);
static bool known_request(const ne_sys *sys, ne_slice subject);

static const char server_event_prefix[] = "$SYS.SERVER.";
#define SERVER_EVENT_PREFIX_LEN (sizeof(server_event_prefix) - 1)

/* Another server's $SYS.SERVER.<id>.STATSZ or .SHUTDOWN (the subscriptions
 * take no other subject under that prefix). */
static bool server_event(ne_slice subject)
{
    return subject.len > SERVER_EVENT_PREFIX_LEN &&
           memcmp(subject.ptr, server_event_prefix, SERVER_EVENT_PREFIX_LEN) == 0;
}

/* The internal client's deliver op: the request is queued whole in one
 * chunk, or dropped and counted (too large, or the queue is full). A
 * request without a reply has no one to answer, one for an unknown name
 * nothing to answer with. Another server's event is queued as its subject
 * alone: who sent it is all the handler reads. */
static bool sys_deliver(ne_conn *conn, ne_sub *sub, ne_msg *msg, uint32_t *payload_bytes)
{
    ne_sys *sys = sys_of(conn);
    uint32_t body = msg->total_len - msg->hdr_len;
    bool event = server_event(msg->subject);
    ne_slice reply = msg->reply;
    if (event) {
        body = 0;
        reply.len = 0;
    }
    size_t need = sizeof(request_head) + msg->subject.len + reply.len + body;
    /* Not taken: the requester hears no responders, as from nats-server,
     * which subscribes each known name alone. */
    if (!event && (reply.len == 0 || !known_request(sys, msg->subject))) {
        return false;
    }
    if (need > NE_CHUNK_BYTES || conn->out.bytes + need > NE_SYS_REQUEST_QUEUE_BYTES) {
        sys->stats.requests_dropped++;
        return false;
    }
    uint8_t *dst = ne_outq_reserve(&conn->out, &sys->conns->chunks, need);
    if (dst == NULL) {
        sys->stats.requests_dropped++;
        return false;
    }
    request_head head = {(uint16_t)msg->subject.len, (uint16_t)reply.len, body};
    memcpy(dst, &head, sizeof(head));
    memcpy(dst + sizeof(head), msg->subject.ptr, msg->subject.len);
    if (reply.len > 0) {
        memcpy(dst + sizeof(head) + msg->subject.len, reply.ptr, reply.len);
    }
    if (body > 0) {
        copy_payload(msg, msg->hdr_len, dst + sizeof(head) + msg->subject.len + reply.len, body);
    }
    ne_conn_commit(conn, need);
    *payload_bytes = msg->total_len - msg->hdr_len;
    return true;
}

/* statsz "routes" (left out when there is none): the connections that stand
 * for another node of the cluster, whatever kind carries them. */
static void write_routes(ne_sys *sys, ne_json_out *o)
{
    bool any = false;
    uint32_t guard = 0;
    for (const ne_conn *c = sys->conns->active; c != NULL && guard < NE_MAX_CONN_HEADERS;
         c = c->next, guard++) {
        if (c->peer_role != NE_PEER_CLUSTER || c->closing) {
            continue;
        }
        if (!any) {
            ne_json_key(o, "routes");
            ne_json_begin_array(o);
            any = true;
        }
        ne_conn_desc d;
        ne_conn_kind_of(c)->ops->describe(c, &d);
        ne_json_begin_object(o);
        ne_json_kv_u64(o, "rid", c->cid);
        if (d.name[0] != '\0') {
            ne_json_kv_string(o, "name", d.name);
        }
        write_traffic(o, "sent", c->out_msgs, c->out_bytes);
        write_traffic(o, "received", c->in_msgs, c->in_bytes);
        ne_json_kv_u64(o, "pending", c->out.bytes);
        ne_json_end_object(o);
    }
    if (any) {
        ne_json_end_array(o);
    }
}

static void write_statsz(ne_sys *sys, ne_json_out *o)
{
    const ne_router *r = sys->router;
    uint64_t clients = 0, active = 0;
    for (uint32_t i = 0; i < r->account_count; i++) {
        clients += r->accounts[i].clients;
        active += r->accounts[i].clients > 0 ? 1u : 0u;
    }
    ne_json_key(o, "statsz");
    ne_json_begin_object(o);
    ne_json_kv_time(o, "start", sys->conns->id.start_wall_ns);
    ne_json_kv_u64(o, "mem", ne_port_memory_bytes());
    ne_json_kv_u64(o, "cores", ne_port_cpu_count());
    ne_json_kv_u64(o, "cpu", 0);
    ne_json_kv_u64(o, "connections", clients);
    ne_json_kv_u64(o, "total_connections", sys->conns->stats.total_connections);
    ne_json_kv_u64(o, "active_accounts", active);
    ne_json_kv_u64(o, "subscriptions", ne_router_sub_count(r));
    write_traffic(o, "sent", r->stats.out_msgs, r->stats.out_bytes);
    write_traffic(o, "received", r->stats.in_msgs, r->stats.in_bytes);
    ne_json_kv_u64(o, "slow_consumers", sys->conns->stats.slow_consumers);
    write_routes(sys, o);
    ne_json_kv_u64(o, "active_servers", 1u + sys->server_count);
    ne_json_end_object(o);
}

/* $SYS.SERVER.<id>.STATSZ's document: the STATSZ response's. */
static void write_statsz_doc(ne_sys *sys, ne_json_out *o, const void *arg)
{
    (void)arg;
    ne_json_begin_object(o);
    write_server(sys, o, ne_port_wall_ns());
    write_statsz(sys, o);
    ne_json_end_object(o);
}

/* One request as the response writer sees it. */
typedef struct request {
    ne_slice name; /* STATSZ, VARZ, ... */
    ne_slice body; /* the request's options (JSON) */
} request;

static void write_error(ne_json_out *o, uint64_t code, const char *description)
{
    ne_json_key(o, "error");
    ne_json_begin_object(o);
    ne_json_kv_u64(o, "code", code);
    ne_json_kv_string(o, "description", description);
    ne_json_end_object(o);
}

static void write_response(ne_sys *sys, ne_json_out *o, const void *arg)
{
    const request *rq = arg;
    ne_json_begin_object(o);
    write_server(sys, o, ne_port_wall_ns());
    if (ne_slice_eq(rq->name, "STATSZ", 6)) {
        write_statsz(sys, o);
        ne_json_end_object(o);
        return;
    }
    const ne_mon_endpoint *e = ne_mon_find_name(sys->mon, rq->name.ptr, rq->name.len);
    const char *error_text = NULL;
    ne_mon_query q;
    if (ne_mon_query_from_json(&q, rq->body.ptr, rq->body.len, &error_text) != NE_OK) {
        write_error(o, 400, error_text);
    } else if (e == NULL) {
        write_error(o, 404, "unknown request");
    } else {
        ne_json_key(o, "data");
        if (e->handler(e->ctx, o, &q, &error_text) != NE_OK) {
            /* Refused before it wrote anything: the value is the error's. */
            ne_json_begin_object(o);
            ne_json_end_object(o);
            write_error(o, 400, error_text != NULL ? error_text : "bad request");
        }
    }
    ne_json_end_object(o);
}

/* The request's name: the subject's last token; PING alone is STATSZ. */
static ne_slice request_name(ne_slice subject)
{
    uint32_t i = subject.len;
    while (i > 0 && subject.ptr[i - 1] != '.') {
        i--;
    }
    ne_slice name = {subject.ptr + i, subject.len - i};
    if (ne_slice_eq(name, "PING", 4)) {
        return (ne_slice){"STATSZ", 6};
    }
    return name;
}

/* ---- The other servers ------------------------------------------------------- */

static void publish_statsz(ne_sys *sys)
{
    char subject[sizeof("$SYS.SERVER..STATSZ") + sizeof(sys->conns->id.server_id)];
    size_t n = ne_fmt(subject, sizeof(subject), "$SYS.SERVER.%s.STATSZ", sys->conns->id.server_id);
    NE_ASSERT(n > 0);
    if (publish_doc(sys, (ne_slice){subject, (uint32_t)n}, write_statsz_doc, NULL)) {
        sys->stats.statsz++;
    }
}

static ne_sys_server *server_find(ne_sys *sys, ne_slice id)
{
    for (uint32_t i = 0; i < NE_SYS_MAX_SERVERS; i++) {
        ne_sys_server *s = &sys->servers[i];
        if (s->id[0] != '\0' && ne_slice_eq(id, s->id, strlen(s->id))) {
            return s;
        }
    }
    return NULL;
}

static void server_forget(ne_sys *sys, ne_sys_server *s)
{
    NE_ASSERT(sys->server_count > 0);
    s->id[0] = '\0';
    sys->server_count--;
}

/* Another server's STATSZ: a server heard for the first time is counted and
 * told about this one at once (its STATSZ), as nats-server does; SHUTDOWN:
 * it is forgotten. The id is the subject's third token. */
static void server_heard(ne_sys *sys, ne_slice subject)
{
    ne_slice rest = {subject.ptr + SERVER_EVENT_PREFIX_LEN,
                     subject.len - (uint32_t)SERVER_EVENT_PREFIX_LEN};
    const char *dot = memchr(rest.ptr, '.', rest.len);
    if (dot == NULL) {
        return;
    }
    ne_slice id = {rest.ptr, (uint32_t)(dot - rest.ptr)};
    ne_slice what = {dot + 1, rest.len - id.len - 1};
    const char *own = sys->conns->id.server_id;
    if (id.len == 0 || id.len >= sizeof(sys->servers[0].id) || ne_slice_eq(id, own, strlen(own))) {
        return;
    }
    ne_sys_server *s = server_find(sys, id);
    if (ne_slice_eq(what, "SHUTDOWN", 8)) {
        if (s != NULL) {
            server_forget(sys, s);
        }
        return;
    }
    if (!ne_slice_eq(what, "STATSZ", 6)) {
        return;
    }
    if (s != NULL) {
        s->heard_ms = sys->conns->now_ms;
        return;
    }
    for (uint32_t i = 0; i < NE_SYS_MAX_SERVERS && s == NULL; i++) {
        if (sys->servers[i].id[0] == '\0') {
            s = &sys->servers[i];
        }
    }
    if (s == NULL) {
        sys->stats.servers_dropped++;
        ne_log_warn(sys->conns->log,
                    "Server %.*s not counted: more servers than NE_SYS_MAX_SERVERS (%u)",
                    (int)id.len, id.ptr, (unsigned)NE_SYS_MAX_SERVERS);
        return;
    }
    memcpy(s->id, id.ptr, id.len);
    s->id[id.len] = '\0';
    s->heard_ms = sys->conns->now_ms;
    sys->server_count++;
    publish_statsz(sys);
}

/* Servers not heard of for NE_SYS_SERVER_ORPHAN_MS (gone without a
 * SHUTDOWN) are forgotten. */
static void sweep_servers(ne_sys *sys, uint64_t now_ms)
{
    for (uint32_t i = 0; i < NE_SYS_MAX_SERVERS; i++) {
        ne_sys_server *s = &sys->servers[i];
        if (s->id[0] != '\0' && now_ms - s->heard_ms > NE_SYS_SERVER_ORPHAN_MS) {
            ne_log_debug(sys->conns->log, "Detected orphan remote server: \"%s\"", s->id);
            server_forget(sys, s);
        }
    }
}

static void answer(ne_sys *sys, const uint8_t *record, const request_head *head)
{
    ne_slice subject = {(const char *)record, head->subject_len};
    ne_slice reply = {(const char *)record + head->subject_len, head->reply_len};
    request rq = {request_name(subject),
                  {(const char *)record + head->subject_len + head->reply_len, head->body_len}};
    if (publish_doc(sys, reply, write_response, &rq)) {
        sys->stats.requests++;
    }
}

/* The internal client's handler: the requests delivered this turn. */
static void sys_run(ne_conn *conn)
{
    ne_sys *sys = sys_of(conn);
    uint8_t record[NE_CHUNK_BYTES];
    for (int i = 0; i < NE_SYS_REQUESTS_PER_TURN && conn->out.bytes >= sizeof(request_head); i++) {
        request_head head;
        size_t n = ne_outq_read(&conn->out, &sys->conns->chunks, &head, sizeof(head));
        size_t len = (size_t)head.subject_len + head.reply_len + head.body_len;
        NE_ASSERT(n == sizeof(head) && len <= sizeof(record) && len <= conn->out.bytes);
        n = ne_outq_read(&conn->out, &sys->conns->chunks, record, len);
        NE_ASSERT(n == len);
        if (head.reply_len == 0) {
            server_heard(sys, (ne_slice){(const char *)record, head.subject_len});
        } else {
            answer(sys, record, &head);
        }
    }
}

/* $SYS.REQ.SERVER.PING, or $SYS.REQ.SERVER.<PING|our id>.<a known name>.
 * The id is matched here, not in the subscription: a 56-character id is
 * longer than a token of the subject trie may be (NE_TOKEN_BYTES). */
static bool known_request(const ne_sys *sys, ne_slice subject)
{
    static const char prefix[] = "$SYS.REQ.SERVER.";
    const size_t plen = sizeof(prefix) - 1;
    if (subject.len <= plen || memcmp(subject.ptr, prefix, plen) != 0) {
        return false;
    }
    ne_slice rest = {subject.ptr + plen, subject.len - (uint32_t)plen};
    if (ne_slice_eq(rest, "PING", 4)) {
        return true;
    }
    const char *dot = memchr(rest.ptr, '.', rest.len);
    if (dot == NULL) {
        return false;
    }
    ne_slice target = {rest.ptr, (uint32_t)(dot - rest.ptr)};
    const char *id = sys->conns->id.server_id;
    if (!ne_slice_eq(target, "PING", 4) && !ne_slice_eq(target, id, strlen(id))) {
        return false;
    }
    ne_slice name = request_name(subject);
    return ne_slice_eq(name, "STATSZ", 6) || ne_mon_find_name(sys->mon, name.ptr, name.len) != NULL;
}

static void sys_describe(const ne_conn *conn, ne_conn_desc *out)
{
    out->kind = "Internal";
    out->type = "";
    out->name = "$SYS";
    out->lang = "";
    out->version = "";
    out->user = "";
    out->account = "$SYS";
    out->counted = false;
}

/* The service's client is gone (the server shuts down): clients torn down
 * after it in the same turn must not read it. */
static void sys_closed(ne_conn *conn)
{
    ne_sys *sys = ne_conn_kind_of(conn)->ctx;
    if (sys->client == conn) {
        sys->client = NULL;
    }
}

static const ne_conn_ops sys_ops = {
    .deliver = sys_deliver,
    .closed = sys_closed,
    .describe = sys_describe,
    .run = sys_run,
};

void ne_sys_init(ne_sys *sys, const ne_server_options *opts, ne_conns *conns, ne_router *router,
                 ne_mon *mon)
{
    memset(sys, 0, sizeof(*sys));
    sys->opts = opts;
    sys->conns = conns;
    sys->router = router;
    sys->mon = mon;
    sys->kind = ne_conns_kind(conns, "Internal", "iid", &sys_ops, sys);
    ne_client_observer obs = {joined, left, peer, sys};
    ne_router_observe_clients(router, &obs);
}

static int subscribe(ne_sys *sys, const char *subject, const char *sid)
{
    ne_sub_spec spec = {{subject, (uint32_t)strlen(subject)},
                        {"", 0},
                        {sid, (uint32_t)strlen(sid)},
                        false,
                        false,
                        NULL,
                        0};
    return ne_router_subscribe(sys->router, sys->client, &spec, NULL);
}

int ne_sys_start(ne_sys *sys)
{
    uint8_t acc = sys->opts->system_account;
    if (acc == NE_ACCOUNT_NONE) {
        return NE_OK;
    }
    ne_conn *c = ne_conn_new_internal(sys->conns, sys->kind);
    if (c == NULL) {
        ne_log_error(sys->conns->log, "No connection for the system account's service: raise "
                                      "NE_MAX_INTERNAL_CLIENTS");
        return NE_ERR_NOMEM;
    }
    c->acc = &sys->router->accounts[acc];
    c->no_echo = true;
    sys->client = c;
    /* PING.<NAME> and <id>.<NAME> through one wildcard (known_request). */
    int rc = subscribe(sys, "$SYS.REQ.SERVER.PING", "1");
    if (rc == NE_OK) {
        rc = subscribe(sys, "$SYS.REQ.SERVER.*.*", "2");
    }
    /* The other servers' events come over routes or leafs only: a server
     * without either spends no trie nodes on them (the tiny profile). */
    const ne_server_options *o = sys->opts;
    bool peers = o->leaf.listen_enabled || o->leaf.remote_count > 0;
#if NE_FEATURE_ROUTES
    peers = peers || o->cluster.enabled;
#endif
    if (rc == NE_OK && peers) {
        rc = subscribe(sys, "$SYS.SERVER.*.STATSZ", "3");
        if (rc == NE_OK) {
            rc = subscribe(sys, "$SYS.SERVER.*.SHUTDOWN", "4");
        }
    }
    uint64_t now_ms = ne_port_now_ms();
    sys->statsz_interval_ms = NE_SYS_STATSZ_FIRST_MS;
    sys->next_statsz_ms = now_ms + NE_SYS_STATSZ_FIRST_MS;
    sys->next_sweep_ms = now_ms + NE_SYS_SERVER_SWEEP_MS;
    if (rc != NE_OK) {
        ne_log_error(sys->conns->log, "The system account's service cannot subscribe: %s",
                     ne_err_name(rc));
    }
    return rc;
}

void ne_sys_set_cluster(ne_sys *sys, const char *cluster)
{
    sys->cluster = cluster;
}

/* STATSZ at intervals that double from NE_SYS_STATSZ_FIRST_MS up to
 * NE_SYS_STATSZ_INTERVAL_MS (nats-server's 250 ms, 500 ms, ... 30 s: sent
 * 0.25, 0.75, 1.75, 3.75 ... s after start); account_connections again
 * for accounts that keep clients; forgotten servers swept. */
void ne_sys_tick(ne_sys *sys, uint64_t now_ms)
{
    if (sys->client == NULL || sys->next_statsz_ms == 0) {
        return;
    }
    if (now_ms >= sys->next_statsz_ms) {
        sys->statsz_interval_ms = NE_MIN(sys->statsz_interval_ms * 2u, NE_SYS_STATSZ_INTERVAL_MS);
        sys->next_statsz_ms = now_ms + sys->statsz_interval_ms;
        if (listeners(sys)) {
            publish_statsz(sys);
        }
    }
    for (uint32_t i = 0; i < sys->router->account_count; i++) {
        if (sys->conns_hb_ms[i] != 0 && now_ms >= sys->conns_hb_ms[i]) {
            advise_account_conns(sys, &sys->router->accounts[i]);
        }
    }
    if (now_ms >= sys->next_sweep_ms) {
        sys->next_sweep_ms = now_ms + NE_SYS_SERVER_SWEEP_MS;
        sweep_servers(sys, now_ms);
    }
}

static void write_shutdown(ne_sys *sys, ne_json_out *o, const void *arg)
{
    (void)arg;
    write_server_object(sys, o, ne_port_wall_ns());
}

/* $SYS.SERVER.<id>.SHUTDOWN: the server object alone, as nats-server sends
 * it, so the others forget this server at once. */
void ne_sys_shutdown(ne_sys *sys)
{
    if (sys->client == NULL || sys->next_statsz_ms == 0) {
        return;
    }
    sys->next_statsz_ms = 0;
    if (!listeners(sys)) {
        return;
    }
    char subject[sizeof("$SYS.SERVER..SHUTDOWN") + sizeof(sys->conns->id.server_id)];
    size_t n =
        ne_fmt(subject, sizeof(subject), "$SYS.SERVER.%s.SHUTDOWN", sys->conns->id.server_id);
    NE_ASSERT(n > 0);
    count_event(sys, publish_doc(sys, (ne_slice){subject, (uint32_t)n}, write_shutdown, NULL));
}

uint32_t ne_sys_server_count(const ne_sys *sys)
{
    return sys->server_count;
}
