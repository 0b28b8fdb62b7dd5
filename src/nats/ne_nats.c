/* The NATS client protocol on a connection (ne_nats.h): the handshake, the
 * handlers of each operation, and how a message is written to a client. */
#include "nats/ne_nats.h"

#include <stdarg.h>
#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "core/ne_subject.h"
#include "core/ne_version.h"
#include "json/ne_json.h"
#include "proto/ne_proto_err.h"
#include "proto/ne_proto_info.h"
#include "router/ne_authn.h"
#include "router/ne_frame.h"

static ne_nats *nats_of(const ne_conn *conn)
{
    return ne_conn_kind_of(conn)->ctx;
}

static ne_nats_client *client_of(const ne_conn *conn)
{
    return conn->state;
}

static void send_ok(ne_conn *conn)
{
    if (client_of(conn)->verbose) {
        (void)ne_conn_send(conn, "+OK\r\n", 5);
    }
}

/* -ERR with a text formatted from fmt (which may quote a peer's subject),
 * without closing; a line longer than NE_MAX_OUT_LINE_BYTES is not sent. */
static void send_err(ne_conn *conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void send_err(ne_conn *conn, const char *fmt, ...)
{
    char line[NE_MAX_OUT_LINE_BYTES];
    va_list ap;
    va_start(ap, fmt);
    size_t n = ne_proto_err_vline(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n == 0) {
        ne_router_line_too_long(nats_of(conn)->router, conn, "-ERR");
        return;
    }
    (void)ne_conn_send(conn, line, n);
}

/* ---- INFO and the start of a connection ------------------------------------ */

size_t ne_nats_info(ne_nats *n, const ne_conn *conn, const char *client_ip, char *out, size_t cap)
{
    const ne_server_options *o = n->opts;
    ne_info_fields f;
    memset(&f, 0, sizeof(f));
    f.server_id = n->conns->id.server_id;
    f.server_name = o->server_name;
    f.version = NE_ADVERTISED_VERSION;
    f.go = "natsedge-" NE_VERSION;
    f.host = o->host;
    f.port = n->listener.port;
    f.headers = !o->no_header_support;
    f.max_payload = o->max_payload;
    f.jetstream = o->js.enabled;
    f.auth_required = ne_authn_required(o);
    f.tls_required = o->tls;
    f.tls_verify = o->tls_verify;
    f.nonce = conn != NULL ? client_of(conn)->nonce : NULL;
    f.ldm = n->info_ldm;
    f.has_client_id = conn != NULL;
    f.client_id = conn != NULL ? conn->cid : 0;
    f.client_ip = client_ip;
    f.trailing_space = true;
    f.cluster = n->cluster_name;
    const ne_connect_urls *urls = n->cluster_urls;
    if (urls == NULL || urls->count == 0) {
        return ne_proto_write_info(out, NE_MIN(cap, (size_t)NE_INFO_FIXED_BYTES), &f);
    }
    /* The fields within their share, then the cluster's client URLs. */
    f.leave_open = true;
    size_t len = ne_proto_write_info(out, NE_MIN(cap, (size_t)NE_INFO_FIXED_BYTES), &f);
    if (len == 0) {
        return 0;
    }
    ne_strbuf sb;
    ne_strbuf_init(&sb, out + len, cap - len);
    ne_strbuf_puts(&sb, ",\"connect_urls\":[");
    ne_strbuf_append(&sb, urls->items, urls->len);
    ne_strbuf_puts(&sb, "]} \r\n");
    return sb.truncated ? 0 : len + sb.len;
}

static bool has_nkey_users(const ne_server_options *o)
{
    for (uint32_t i = 0; i < o->user_count; i++) {
        if (o->users[i].nkey[0] != '\0') {
            return true;
        }
    }
    return false;
}

/* A connection accepted on the client listener: its state, then INFO, then
 * TLS when configured (after INFO, as nats-server). */
static void accepted(void *ctx, ne_conn *conn)
{
    ne_nats *n = ctx;
    ne_nats_client *c = ne_pool_alloc(&n->client_pool);
    NE_ASSERT(c != NULL); /* the pool has a state for every connection */
    conn->state = c;
    conn->acc = &n->router->accounts[NE_ACCOUNT_GLOBAL];
    /* CONNECT's defaults apply until a CONNECT says otherwise (CP-16, CP-17). */
    c->verbose = true;
    c->pedantic = true;
    if (ne_authn_required(n->opts)) {
        c->auth_deadline_ms = n->conns->now_ms + n->opts->auth_timeout_ms;
    }
    /* Every client gets a nonce to sign once nkey users exist (CP-73). */
    if (has_nkey_users(n->opts) && ne_nkey_nonce(c->nonce) != NE_OK) {
        c->nonce[0] = '\0';
    }
    n->conns->stats.total_connections++;
    c->urls_generation = n->cluster_urls != NULL ? n->cluster_urls->generation : 0;
    ne_conn_logf(conn, NE_LOG_DEBUG, "Client connection created");
    char info[NE_INFO_LINE_BYTES];
    char ip[NE_IP_TEXT_BYTES];
    size_t len = ne_nats_info(n, conn, ne_conn_peer_text(conn, ip, sizeof(ip)), info, sizeof(info));
    if (len == 0) {
        /* Only the configured server_name and host can make it this long. */
        ne_conn_logf(conn, NE_LOG_ERROR, "INFO longer than %u bytes: shorten server_name or host",
                     (unsigned)NE_INFO_FIXED_BYTES);
        ne_conn_close(conn, NE_CLOSE_SERVER_SHUTDOWN, NULL);
        return;
    }
    (void)ne_conn_send(conn, info, len);
    if (n->opts->tls && ne_conn_tls_accept(conn) != NE_OK) {
        n->conns->stats.refused_connections++;
        ne_conn_close(conn, NE_CLOSE_MAX_CONNECTIONS, NE_PROTO_ERR_MAX_CONNECTIONS);
    }
}

/* max_connections counts every client kind (NATS and MQTT), as in
 * nats-server. */
static bool admit(void *ctx)
{
    ne_nats *n = ctx;
    return ne_conns_client_count(n->conns) < n->opts->max_connections;
}

/* INFO and the limit error straight to a socket that got no connection
 * object (CP-69). */
static void refused(void *ctx, ne_sock sock, const char *ip, uint16_t port)
{
    ne_nats *n = ctx;
    static const char err[] = "-ERR '" NE_PROTO_ERR_MAX_CONNECTIONS "'\r\n";
    char info[NE_INFO_LINE_BYTES];
    size_t len = ne_nats_info(n, NULL, ip, info, sizeof(info));
    ne_iovec iov[2] = {{info, len}, {err, sizeof(err) - 1}};
    size_t sent = 0;
    /* Without its INFO (too long to write) the refusal is the -ERR alone. */
    (void)n->conns->net.ops->sendv(n->conns->net.ctx, sock, len > 0 ? iov : iov + 1,
                                   len > 0 ? 2 : 1, &sent);
    ne_log_warn(n->conns->log, "%s:%u - Maximum connections exceeded (%u)", ip, (unsigned)port,
                (unsigned)n->opts->max_connections);
}

/* ---- CONNECT ----------------------------------------------------------------- */

/* A CONNECT string kept in a fixed field (name, lang, version): nats-server
 * keeps the whole text, natsedge what fits, unescaped and cut after a whole
 * character so that monitoring never shows half of one (differences.md). */
static void copy_json_string(ne_conn *conn, const ne_json_doc *doc, const char *key, char *dst,
                             size_t cap)
{
    int idx = ne_json_find(doc, 0, key);
    bool cut = false;
    if (idx >= 0 && doc->tokens[idx].type == JSMN_STRING &&
        ne_json_token_string_cut(doc, idx, dst, cap, NULL, &cut) && cut) {
        ne_conn_logf(conn, NE_LOG_DEBUG, "CONNECT %s cut to %u bytes", key, (unsigned)(cap - 1));
    }
}

/* CONNECT's fields and the Go types nats-server decodes them into (its
 * ClientOpts, CP-15). */
static bool connect_fields_valid(const ne_json_doc *doc)
{
    static const struct {
        const char *key;
        ne_json_kind kind;
    } fields[] = {
        {"verbose", NE_JSON_BOOL},     {"pedantic", NE_JSON_BOOL},  {"tls_required", NE_JSON_BOOL},
        {"echo", NE_JSON_BOOL},        {"headers", NE_JSON_BOOL},   {"no_responders", NE_JSON_BOOL},
        {"new_account", NE_JSON_BOOL}, {"protocol", NE_JSON_INT},   {"nkey", NE_JSON_STRING},
        {"jwt", NE_JSON_STRING},       {"sig", NE_JSON_STRING},     {"auth_token", NE_JSON_STRING},
        {"user", NE_JSON_STRING},      {"pass", NE_JSON_STRING},    {"name", NE_JSON_STRING},
        {"lang", NE_JSON_STRING},      {"version", NE_JSON_STRING}, {"account", NE_JSON_STRING},
    };
    for (size_t i = 0; i < NE_ARRAY_LEN(fields); i++) {
        if (ne_json_check(doc, 0, fields[i].key, fields[i].kind) != NE_OK) {
            return false;
        }
    }
    return true;
}

/* Which of its messages nats_may_publish must see: every one while there is
 * a subject to check (pedantic), a permission to apply or a +OK to send
 * (verbose); else those with a reply (reserved replies). */
static void publish_checks(ne_conn *conn)
{
    const ne_nats_client *c = client_of(conn);
    conn->publish_checks = c->pedantic || c->verbose || conn->perms != NE_PERM_NONE
                               ? NE_PUBLISH_CHECK_ALWAYS
                               : NE_PUBLISH_CHECK_REPLY;
}

/* Binds an authenticated client to its user's account and permissions. */
static void bind_user(ne_conn *conn, int user_index)
{
    ne_nats *n = nats_of(conn);
    uint8_t acc;
    uint16_t perms;
    ne_authn_identity(n->opts, user_index, &acc, &perms);
    NE_ASSERT(acc < n->router->account_count);
    conn->user_index = (int16_t)user_index;
    conn->acc = &n->router->accounts[acc];
    conn->perms = perms;
    publish_checks(conn);
}

static bool authenticate(ne_conn *conn, const ne_json_doc *doc)
{
    ne_nats *n = nats_of(conn);
    ne_nats_client *c = client_of(conn);
    ne_credentials cred;
    int user_index = -1;
    /* A credential too long for its field is refused, never compared by the
     * prefix that fit. */
    if (!ne_authn_read_credentials(doc, &cred) ||
        !ne_authn_check(n->opts, &n->router->bcrypt, &cred, c->nonce, &user_index)) {
        ne_conn_logf(conn, NE_LOG_WARN, "authentication error");
        ne_conn_close(conn, NE_CLOSE_AUTH_VIOLATION, NE_PROTO_ERR_AUTHORIZATION);
        return false;
    }
    bind_user(conn, user_index);
    c->auth_deadline_ms = 0;
    /* Which configured credential it was, for reloads. */
    c->auth_fp = ne_authn_fingerprint(n->opts, conn->user_index);
    return true;
}

static void handle_connect(ne_conn *conn, const ne_op *op)
{
    ne_nats *n = nats_of(conn);
    ne_nats_client *c = client_of(conn);
    ne_json_doc doc;
    if (ne_json_parse(&doc, op->text.ptr, op->text.len) != NE_OK ||
        doc.tokens[0].type != JSMN_OBJECT) {
        /* Malformed CONNECT closes without -ERR (CP-22). */
        ne_conn_logf(conn, NE_LOG_DEBUG, "Malformed CONNECT");
        ne_conn_close(conn, NE_CLOSE_PROTOCOL_VIOLATION, NULL);
        return;
    }
    if (!connect_fields_valid(&doc)) {
        /* A field nats-server cannot decode (a number beyond int64, a string
         * where a bool belongs) fails its whole CONNECT: closed, no -ERR. */
        ne_conn_logf(conn, NE_LOG_DEBUG, "CONNECT field of the wrong type");
        ne_conn_close(conn, NE_CLOSE_PROTOCOL_VIOLATION, NULL);
        return;
    }
    bool verbose = true, pedantic = true, echo = true, headers = false, no_responders = false;
    int64_t protocol = 0;
    (void)ne_json_get_bool(&doc, 0, "verbose", &verbose);
    (void)ne_json_get_bool(&doc, 0, "pedantic", &pedantic);
    (void)ne_json_get_bool(&doc, 0, "echo", &echo);
    (void)ne_json_get_bool(&doc, 0, "headers", &headers);
    (void)ne_json_get_bool(&doc, 0, "no_responders", &no_responders);
    (void)ne_json_get_i64(&doc, 0, "protocol", &protocol);
    if (protocol < 0 || protocol > 1) {
        ne_conn_close(conn, NE_CLOSE_BAD_PROTOCOL_VERSION, NE_PROTO_ERR_BAD_PROTOCOL);
        return;
    }
    headers = headers && !n->opts->no_header_support;
    if (no_responders && !headers) {
        ne_conn_close(conn, NE_CLOSE_NO_RESPONDERS_HEADERS, NE_PROTO_ERR_NO_RESPONDERS_HEADERS);
        return;
    }
    if (c->auth_deadline_ms != 0 && !authenticate(conn, &doc)) {
        return;
    }
    c->verbose = verbose;
    c->pedantic = pedantic;
    publish_checks(conn);
    conn->no_echo = !echo;
    c->headers = headers;
    c->no_responders = no_responders;
    c->protocol = (int8_t)protocol;
    copy_json_string(conn, &doc, "name", c->name, sizeof(c->name));
    copy_json_string(conn, &doc, "lang", c->lang, sizeof(c->lang));
    copy_json_string(conn, &doc, "version", c->version, sizeof(c->version));
    if (!c->connected) {
        c->connected = true;
        ne_router_join(n->router, conn, conn->acc);
        ne_conn_ping_start(conn);
    }
    send_ok(conn);
}

/* ---- SUB / UNSUB ---------------------------------------------------------------- */

static void subscribe_refused(ne_conn *conn, const ne_op *op)
{
    ne_nats *n = nats_of(conn);
    n->router->stats.perm_violations++;
    ne_conn_logf(conn, NE_LOG_ERROR, "Subscription Violation - User \"%s\", Subject \"%.*s\"",
                 ne_authn_user_name(n->opts, conn->user_index), (int)op->subject.len,
                 op->subject.ptr);
    if (op->queue.len > 0) {
        send_err(conn, NE_PROTO_ERR_PERM_SUBSCRIBE_QUEUE, (int)op->subject.len, op->subject.ptr,
                 (int)op->queue.len, op->queue.ptr);
    } else {
        send_err(conn, NE_PROTO_ERR_PERM_SUBSCRIBE, (int)op->subject.len, op->subject.ptr);
    }
}

static void handle_sub(ne_conn *conn, const ne_op *op)
{
    ne_nats *n = nats_of(conn);
    const ne_server_options *o = n->opts;
    if (!ne_subject_valid(op->subject.ptr, op->subject.len)) {
        send_err(conn, "%s", NE_PROTO_ERR_INVALID_SUBJECT);
        return;
    }
    const ne_permissions *perms = ne_router_perms(conn);
    if (perms != NULL && !ne_perm_can_subscribe(perms, o->perm_subjects, op->subject.ptr,
                                                op->subject.len, op->queue.ptr, op->queue.len)) {
        subscribe_refused(conn, op);
        return;
    }
    if (ne_router_find_sid(conn, op->sid) != NULL) {
        send_ok(conn); /* a duplicate sid is ignored (CP-35) */
        return;
    }
    if (o->max_subs > 0 && conn->nsubs >= o->max_subs) {
        send_err(conn, "%s", NE_PROTO_ERR_MAX_SUBSCRIPTIONS);
        return;
    }
    ne_sub_spec spec = {op->subject, op->queue, op->sid, false, false, NULL, 0};
    spec.withhold = perms != NULL && ne_perm_deny_overlaps(perms, o->perm_subjects, op->subject.ptr,
                                                           op->subject.len);
    int rc = ne_router_subscribe(n->router, conn, &spec, NULL);
    if (rc == NE_OK) {
        send_ok(conn);
    } else {
        send_err(conn, "%s",
                 rc == NE_ERR_NOMEM ? NE_PROTO_ERR_MAX_SUBSCRIPTIONS
                                    : NE_PROTO_ERR_INVALID_SUBJECT);
    }
}

static void handle_unsub(ne_conn *conn, const ne_op *op)
{
    ne_sub *sub = ne_router_find_sid(conn, op->sid);
    if (sub != NULL) {
        if (op->max_msgs > 0 && sub->delivered < op->max_msgs) {
            sub->max_msgs = (uint32_t)op->max_msgs; /* a size: at most 9 digits */
        } else {
            ne_router_unsubscribe(nats_of(conn)->router, sub);
        }
    }
    send_ok(conn);
}

/* ---- Publishing -------------------------------------------------------------------- */

static bool reserved_reply(ne_slice reply)
{
    static const char *const prefixes[] = {"_R_.", "$JS.ACK.", "_GR_."};
    for (size_t i = 0; i < NE_ARRAY_LEN(prefixes); i++) {
        size_t n = strlen(prefixes[i]);
        if (reply.len >= n && memcmp(reply.ptr, prefixes[i], n) == 0) {
            return true;
        }
    }
    return false;
}

static bool may_publish_subject(ne_conn *conn, ne_slice subject)
{
    ne_nats *n = nats_of(conn);
    const ne_permissions *p = ne_router_perms(conn);
    if (p == NULL || ne_perm_can_publish(p, n->opts->perm_subjects, subject.ptr, subject.len)) {
        return true;
    }
    return p->responses && ne_router_resp_perm_use(n->router, conn, subject);
}

/* The router asks before delivering: the subject (pedantic), the publish
 * permission, reserved replies. nats-server acknowledges a verbose publish
 * after its checks and before delivery, so a self-subscribed client sees
 * +OK before the MSG. */
static bool nats_may_publish(ne_conn *conn, ne_msg *msg)
{
    ne_nats_client *c = client_of(conn);
    ne_nats *n = nats_of(conn);
    if (c->pedantic && !ne_subject_valid_literal(msg->subject.ptr, msg->subject.len)) {
        /* nats-server 2.9 delivers the message anyway; natsedge does not
         * (differences.md, QRK-07). */
        send_err(conn, "%s", NE_PROTO_ERR_INVALID_PUBLISH_SUBJECT);
        return false;
    }
    if (!may_publish_subject(conn, msg->subject)) {
        n->router->stats.perm_violations++;
        ne_conn_logf(conn, NE_LOG_ERROR, "Publish Violation - User \"%s\", Subject \"%.*s\"",
                     ne_authn_user_name(n->opts, conn->user_index), (int)msg->subject.len,
                     msg->subject.ptr);
        send_err(conn, NE_PROTO_ERR_PERM_PUBLISH, (int)msg->subject.len, msg->subject.ptr);
        return false;
    }
    if (msg->reply.len > 0 && reserved_reply(msg->reply)) {
        send_err(conn, NE_PROTO_ERR_PERM_PUBLISH_REPLY, (int)msg->reply.len, msg->reply.ptr);
        return false;
    }
    send_ok(conn);
    return true;
}

/* No one received a request: tell the requester with a 503 status on its
 * subscription that matches the reply subject (CP-32). */
static void send_no_responders(ne_conn *pub, const ne_msg *msg)
{
    uint32_t guard = 0;
    for (ne_sub *s = pub->subs; s != NULL && guard++ <= NE_MAX_SUBSCRIPTIONS; s = s->conn_next) {
        if (!ne_subject_matches(s->text, s->entry.subject_len, msg->reply.ptr, msg->reply.len)) {
            continue;
        }
        static const char status[] = "NATS/1.0 503\r\n\r\n\r\n";
        static const char sizes[] = "16 16";
        char line[NE_MAX_OUT_LINE_BYTES];
        size_t n = ne_proto_msg_line(line, sizeof(line), true, msg->reply,
                                     (ne_slice){ne_sub_sid(s), s->sid_len}, (ne_slice){"", 0},
                                     (ne_slice){sizes, sizeof(sizes) - 1});
        if (n == 0) {
            ne_router_line_too_long(nats_of(pub)->router, pub, "HMSG");
            return;
        }
        if (ne_conn_send(pub, line, n) == NE_OK) {
            (void)ne_conn_send(pub, status, sizeof(status) - 1);
        }
        return;
    }
}

static inline void handle_msg(ne_conn *conn, ne_msg *msg)
{
    ne_nats *n = nats_of(conn);
    uint32_t delivered = 0;
    if (ne_router_publish(n->router, conn, msg, &delivered) == NE_OK && delivered == 0 &&
        msg->reply.len > 0 && client_of(conn)->no_responders) {
        send_no_responders(conn, msg);
    }
}

/* ---- Delivery -------------------------------------------------------------------- */

static size_t put_text(char *p, const char *text, size_t len)
{
    memcpy(p, text, len);
    return len;
}

/* The size field(s) of the message's MSG or HMSG line, formatted once per
 * message. Two 32-bit sizes always fit the texts. */
static ne_slice msg_sizes(ne_msg *msg, bool as_hmsg)
{
    if (as_hmsg) {
        if (msg->hsize_len == 0) {
            msg->hsize_len = (uint8_t)ne_proto_msg_sizes(msg->hsize_text, sizeof(msg->hsize_text),
                                                         true, msg->hdr_len, msg->total_len);
            NE_ASSERT(msg->hsize_len > 0);
        }
        return (ne_slice){msg->hsize_text, msg->hsize_len};
    }
    if (msg->size_len == 0) {
        msg->size_len = (uint8_t)ne_proto_msg_sizes(msg->size_text, sizeof(msg->size_text), false,
                                                    msg->hdr_len, msg->total_len);
        NE_ASSERT(msg->size_len > 0);
    }
    return (ne_slice){msg->size_text, msg->size_len};
}

/* Writes the MSG/HMSG line for one subscriber into out; 0 when it does not
 * fit cap (a long subject and reply on a long sid). */
static size_t msg_line(char *out, size_t cap, const ne_sub *sub, ne_msg *msg, bool as_hmsg)
{
    return ne_proto_msg_line(out, cap, as_hmsg, ne_msg_shown(msg),
                             (ne_slice){ne_sub_sid(sub), sub->sid_len}, msg->reply,
                             msg_sizes(msg, as_hmsg));
}

/* A small message without headers, delivered to many subscribers in a row:
 * everything of the MSG line but the sid, and the payload, is laid out once
 * in the scratch as head ("MSG <subject> ") and tail (" [reply ] <size>\r\n
 * <payload>\r\n"), so that each delivery is three copies into the
 * subscriber's queue. False when the message does not qualify. */
static bool prepare_fast(ne_nats *n, ne_msg *msg)
{
    if (msg->scratch_id != 0 && msg->scratch_id == n->scratch_owner) {
        return true;
    }
    uint32_t payload_len = msg->total_len;
    if (msg->chain != NULL || msg->hdr_len != 0 || msg->has_headers ||
        (msg->share && payload_len >= NE_SHARE_PAYLOAD_MIN_BYTES)) {
        return false;
    }
    ne_slice size = msg_sizes(msg, false);
    ne_slice shown = ne_msg_shown(msg);
    size_t head = 4 + shown.len + 1;
    size_t tail =
        1 + (msg->reply.len > 0 ? msg->reply.len + 1u : 0u) + size.len + 2 + payload_len + 2;
    if (head + tail + NE_SUB_TEXT_BYTES > sizeof(n->deliver_scratch) || head > UINT16_MAX) {
        return false;
    }
    char *p = n->deliver_scratch;
    p += put_text(p, "MSG ", 4);
    p += put_text(p, shown.ptr, shown.len);
    *p++ = ' ';
    *p++ = ' ';
    if (msg->reply.len > 0) {
        p += put_text(p, msg->reply.ptr, msg->reply.len);
        *p++ = ' ';
    }
    p += put_text(p, size.ptr, size.len);
    *p++ = '\r';
    *p++ = '\n';
    memcpy(p, msg->data, (size_t)payload_len + 2);
    msg->head_len = (uint16_t)head;
    msg->tail_len = (uint32_t)tail;
    msg->scratch_id = ++n->scratch_seq;
    n->scratch_owner = msg->scratch_id;
    return true;
}

/* Queues a prepared message (prepare_fast) for one subscription. */
static bool queue_fast(ne_nats *n, ne_conn *conn, const ne_sub *sub, const ne_msg *msg)
{
    size_t sid_len = sub->sid_len;
    size_t total = msg->head_len + sid_len + msg->tail_len;
    /* The same limit as a line written by msg_line, although this one needs
     * no buffer: a subscriber gets a message or not whatever path it takes. */
    if (total - ((size_t)msg->total_len + 2) > NE_MAX_OUT_LINE_BYTES) {
        ne_router_line_too_long(n->router, conn, "MSG");
        return false;
    }
    uint8_t *dst = ne_conn_reserve(conn, total);
    if (dst == NULL) {
        return false;
    }
    const char *sid = ne_sub_sid(sub);
    memcpy(dst, n->deliver_scratch, msg->head_len);
    for (size_t i = 0; i < sid_len; i++) {
        dst[msg->head_len + i] = (uint8_t)sid[i];
    }
    memcpy(dst + msg->head_len + sid_len, n->deliver_scratch + msg->head_len, msg->tail_len);
    ne_conn_commit(conn, total);
    return true;
}

static bool nats_deliver(ne_conn *conn, ne_sub *sub, ne_msg *msg, uint32_t *payload_bytes)
{
    ne_nats *n = nats_of(conn);
    if (prepare_fast(n, msg)) {
        *payload_bytes = msg->total_len;
        return queue_fast(n, conn, sub, msg);
    }
    bool as_hmsg = msg->has_headers && client_of(conn)->headers;
    char line[NE_MAX_OUT_LINE_BYTES];
    size_t len = msg_line(line, sizeof(line), sub, msg, as_hmsg);
    if (len == 0) {
        ne_router_line_too_long(n->router, conn, as_hmsg ? "HMSG" : "MSG");
        return false;
    }
    return ne_router_queue(conn, line, len, msg, as_hmsg, payload_bytes);
}

/* ---- Operations ---------------------------------------------------------------------- */

/* An async INFO to one client (cluster changes, lame duck). */
static void send_info_again(ne_nats *n, ne_conn *conn)
{
    char info[NE_INFO_LINE_BYTES];
    char ip[NE_IP_TEXT_BYTES];
    size_t len = ne_nats_info(n, conn, ne_conn_peer_text(conn, ip, sizeof(ip)), info, sizeof(info));
    if (len > 0) { /* else the client got no INFO when it connected either */
        (void)ne_conn_send(conn, info, len);
    }
}

static void handle_ping(ne_conn *conn)
{
    ne_nats_client *c = client_of(conn);
    ne_nats *n = nats_of(conn);
    (void)ne_conn_send(conn, "PONG\r\n", 6);
    /* A client that takes async INFO hears, at its first PING, of a cluster
     * change since its INFO (CP-13). */
    if (c->connected && c->protocol >= 1 && !c->first_pong_sent && n->cluster_urls != NULL &&
        n->cluster_urls->generation != c->urls_generation) {
        send_info_again(n, conn);
    }
    c->first_pong_sent = c->first_pong_sent || c->connected;
    /* The first PING is answered with a PING of our own to measure the
     * round trip, as nats-server does (CP-47). */
    if (c->connected && c->protocol >= 1 && !c->rtt_ping_sent) {
        c->rtt_ping_sent = true;
        conn->rtt_start_ns = ne_port_wall_ns();
        conn->pings_out++;
        (void)ne_conn_send(conn, "PING\r\n", 6);
    }
}

static void handle_op(ne_conn *conn, const ne_op *op)
{
    /* With authentication, the first operation must be CONNECT (CP-09). */
    if (client_of(conn)->auth_deadline_ms != 0 && op->kind != NE_OP_CONNECT) {
        ne_conn_close(conn, NE_CLOSE_AUTH_VIOLATION, NE_PROTO_ERR_AUTHORIZATION);
        return;
    }
    switch (op->kind) {
    case NE_OP_CONNECT:
        handle_connect(conn, op);
        break;
    case NE_OP_SUB:
        handle_sub(conn, op);
        break;
    case NE_OP_UNSUB:
        handle_unsub(conn, op);
        break;
    case NE_OP_PING:
        handle_ping(conn);
        break;
    case NE_OP_PONG:
        ne_conn_pong_received(conn);
        break;
    case NE_OP_OK:
    case NE_OP_INFO:
        break;
    case NE_OP_ERR:
        /* A client that sends -ERR is disconnected (CP-52). */
        ne_conn_close(conn, NE_CLOSE_CLIENT_CLOSED, NULL);
        break;
    default:
        /* Routing and leaf verbs from a client (CP-05). */
        ne_conn_close(conn, NE_CLOSE_PARSE_ERROR, NE_PROTO_ERR_UNKNOWN_OP);
        break;
    }
}

/* Before authentication a PUB is an operation like any other: it closes. */
/* PUB and HPUB of an authenticated client carry a payload (before CONNECT
 * they are handled as operations: the authentication error). */
static inline ne_frame_payload payload_check(ne_conn *conn, const ne_op *op)
{
    if ((op->kind != NE_OP_PUB && op->kind != NE_OP_HPUB) ||
        client_of(conn)->auth_deadline_ms != 0) {
        return NE_FRAME_NO_PAYLOAD;
    }
    if (op->total_len > nats_of(conn)->opts->max_payload) {
        ne_conn_close(conn, NE_CLOSE_MAX_PAYLOAD, NE_PROTO_ERR_MAX_PAYLOAD);
        return NE_FRAME_REFUSED;
    }
    if (op->kind == NE_OP_HPUB && !client_of(conn)->headers) {
        /* HPUB without negotiated headers closes, no -ERR (CP-27). */
        ne_conn_close(conn, NE_CLOSE_PARSE_ERROR, NULL);
        return NE_FRAME_REFUSED;
    }
    return NE_FRAME_PAYLOAD;
}

static const ne_frame_ops frame_ops = {
    .parse = ne_proto_parse_line,
    .payload = payload_check,
    .handle_op = handle_op,
    .handle_msg = handle_msg,
};

static uint32_t nats_input(ne_conn *conn, uint8_t *buf, uint32_t len)
{
    return ne_frame_input(conn, &frame_ops, buf, len);
}

static void nats_timer(ne_conn *conn, uint64_t now)
{
    ne_nats_client *c = client_of(conn);
    if (c->auth_deadline_ms != 0 && now >= c->auth_deadline_ms) {
        ne_conn_logf(conn, NE_LOG_DEBUG, "Authentication Timeout");
        ne_conn_close(conn, NE_CLOSE_AUTH_TIMEOUT, NE_PROTO_ERR_AUTH_TIMEOUT);
        return;
    }
    ne_conn_ping_timer(conn, now);
}

static void nats_describe(const ne_conn *conn, ne_conn_desc *out)
{
    ne_nats *n = nats_of(conn);
    const ne_nats_client *c = client_of(conn);
    out->kind = "Client";
    out->type = "nats";
    out->name = c->name;
    out->lang = c->lang;
    out->version = c->version;
    out->user = c->connected ? ne_authn_user_name(n->opts, conn->user_index) : "";
    out->account = ne_router_account_name(n->router, conn->acc);
    out->counted = true;
}

/* A client going away leaves its account (system events hear it) once it
 * had joined; its state goes back to the pool. */
static void nats_closed(ne_conn *conn)
{
    ne_nats *n = nats_of(conn);
    ne_nats_client *c = client_of(conn);
    if (c->connected) {
        ne_router_leave(n->router, conn);
    }
    ne_conn_desc desc;
    ne_conn_describe(conn, &desc);
    ne_conns_record_closed(n->conns, conn, &desc);
    ne_pool_free(&n->client_pool, c);
    conn->state = NULL;
}

static const ne_conn_ops nats_ops = {
    .input = nats_input,
    .timer = nats_timer,
    .closed = nats_closed,
    .deliver = nats_deliver,
    .may_publish = nats_may_publish,
    .describe = nats_describe,
};

/* ---- The kind -------------------------------------------------------------------------- */

void ne_nats_init(ne_nats *n, ne_nats_storage *storage, const ne_server_options *opts,
                  ne_conns *conns, ne_router *router)
{
    n->opts = opts;
    n->conns = conns;
    n->router = router;
    ne_pool_init(&n->client_pool, "clients", storage, sizeof(ne_nats_client), NE_MAX_CONNECTIONS);
    n->kind = ne_conns_kind(conns, "Client", "cid", &nats_ops, n);
    ne_conns_kind_is_client(conns, n->kind);
    n->listener.kind = n->kind;
    n->listener.sock = NE_SOCK_INVALID;
    n->listener.accepted = accepted;
    n->listener.refused = refused;
    n->listener.admit = admit;
    n->listener.ctx = n;
}

int ne_nats_start(ne_nats *n)
{
    int rc = ne_conns_listen(n->conns, &n->listener, n->opts->host, n->opts->port);
    if (rc != NE_OK) {
        ne_log_error(n->conns->log, "Error listening on port: %s:%u, %s", n->opts->host,
                     (unsigned)n->opts->port, ne_err_name(rc));
        return rc;
    }
    ne_log_info(n->conns->log, "Listening for client connections on %s:%u", n->opts->host,
                (unsigned)n->listener.port);
    return NE_OK;
}

void ne_nats_stop_listening(ne_nats *n)
{
    ne_conns_unlisten(n->conns, &n->listener);
}

uint16_t ne_nats_port(const ne_nats *n)
{
    return n->listener.port;
}

uint32_t ne_nats_client_count(const ne_nats *n)
{
    return n->conns->kinds[n->kind].count;
}

static bool is_client(const ne_nats *n, const ne_conn *c)
{
    return c->kind == n->kind && !c->closing;
}

/* INFO again to the clients that said protocol 1 and whose first PING was
 * answered (nats-server's async INFO); the others get it then (CP-13). */
static void info_to_clients(ne_nats *n)
{
    uint32_t guard = 0;
    for (ne_conn *c = n->conns->active; c != NULL && guard < NE_MAX_CONN_HEADERS;
         c = c->next, guard++) {
        if (is_client(n, c) && client_of(c)->protocol >= 1 && client_of(c)->first_pong_sent) {
            send_info_again(n, c);
        }
    }
}

void ne_nats_lame_duck_info(ne_nats *n)
{
    n->info_ldm = true;
    info_to_clients(n);
    n->info_ldm = false;
}

void ne_nats_set_cluster(ne_nats *n, const char *cluster_name, const ne_connect_urls *urls)
{
    n->cluster_name = cluster_name;
    n->cluster_urls = urls;
}

void ne_nats_cluster_changed(ne_nats *n)
{
    info_to_clients(n);
}

uint32_t ne_nats_close_clients(ne_nats *n, uint32_t count, ne_close_reason reason)
{
    uint32_t closed = 0;
    uint32_t guard = 0;
    for (ne_conn *c = n->conns->active; c != NULL && closed < count && guard < NE_MAX_CONN_HEADERS;
         c = c->next, guard++) {
        if (is_client(n, c)) {
            ne_conn_close(c, reason,
                          reason == NE_CLOSE_MAX_CONNECTIONS ? NE_PROTO_ERR_MAX_CONNECTIONS : NULL);
            closed++;
        }
    }
    return closed;
}

/* After a reload: binds an authenticated client to users[user_index] of the
 * new options (-1: none) and its permissions, and removes the subscriptions
 * these no longer allow, each with nats-server's -ERR (CP-38). The account
 * stays as it is. */
static void rebind(ne_nats *n, ne_conn *conn, int user_index)
{
    ne_account *acc = conn->acc;
    bind_user(conn, user_index);
    conn->acc = acc; /* clients are not moved between accounts */
    const ne_permissions *perms = ne_router_perms(conn);
    const ne_perm_subject *table = n->opts->perm_subjects;
    /* Bounded by the subscription pool: each pass removes or keeps one. */
    ne_sub *next = NULL;
    uint32_t guard = 0;
    for (ne_sub *sub = conn->subs; sub != NULL && guard++ <= NE_MAX_SUBSCRIPTIONS; sub = next) {
        next = sub->conn_next;
        const char *subject = sub->entry.subject;
        size_t len = sub->entry.subject_len;
        bool allowed = perms == NULL ||
                       ne_perm_can_subscribe(perms, table, subject, len, NULL, 0) ||
                       (sub->entry.queue_len > 0 &&
                        ne_perm_can_subscribe(perms, table, subject, len, sub->entry.queue,
                                              sub->entry.queue_len));
        if (allowed) {
            sub->withhold = perms != NULL && ne_perm_deny_overlaps(perms, table, subject, len);
            continue;
        }
        ne_log_info(n->conns->log,
                    "Removed sub \"%.*s\" (sid \"%.*s\") for User \"%s\" - not authorized",
                    (int)len, subject, (int)sub->sid_len, ne_sub_sid(sub),
                    ne_authn_user_name(n->opts, conn->user_index));
        send_err(conn, NE_PROTO_ERR_PERM_SUBSCRIBE_SID, (int)len, subject, (int)sub->sid_len,
                 ne_sub_sid(sub));
        ne_router_unsubscribe(n->router, sub);
    }
}

/* A client whose credential is still configured keeps it (its index may
 * have moved), now with the new permissions; one whose user moved to
 * another account is refused: natsedge does not move clients between
 * accounts. */
static bool recheck(ne_nats *n, ne_conn *c)
{
    int index = ne_authn_find(n->opts, client_of(c)->auth_fp);
    if (index == -2) {
        return false;
    }
    uint8_t acc = c->acc->index;
    if (index >= 0 && n->opts->users[index].account != acc) {
        return false;
    }
    if (index < 0 && acc != NE_ACCOUNT_GLOBAL) {
        return true; /* authentication removed: it keeps its account and permissions */
    }
    rebind(n, c, index);
    return true;
}

void ne_nats_reloaded(ne_nats *n, bool auth_changed)
{
    uint32_t open = 0;
    uint32_t guard = 0;
    for (ne_conn *c = n->conns->active; c != NULL && guard < NE_MAX_CONN_HEADERS;
         c = c->next, guard++) {
        if (!is_client(n, c)) {
            continue;
        }
        ne_nats_client *cl = client_of(c);
        if (auth_changed && cl->connected && !recheck(n, c)) {
            ne_conn_logf(c, NE_LOG_WARN, "authentication error");
            ne_conn_close(c, NE_CLOSE_AUTH_VIOLATION, NE_PROTO_ERR_AUTHORIZATION);
            continue;
        }
        if (auth_changed && !cl->connected && cl->auth_deadline_ms == 0 &&
            ne_authn_required(n->opts)) {
            /* Not yet identified: CONNECT is now checked, in the usual time. */
            cl->auth_deadline_ms = n->conns->now_ms + n->opts->auth_timeout_ms;
        }
        open++;
    }
    if (open <= n->opts->max_connections) {
        return;
    }
    /* nats-server closes arbitrary ones; natsedge the newest. */
    uint32_t closed =
        ne_nats_close_clients(n, open - n->opts->max_connections, NE_CLOSE_MAX_CONNECTIONS);
    ne_log_info(n->conns->log, "Closed %u connections to fall within max_connections",
                (unsigned)closed);
}
