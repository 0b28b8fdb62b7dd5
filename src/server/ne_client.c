/* The NATS client protocol on a connection: framing of the input, the
 * handlers of each operation, and routing of published messages. */
#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "json/ne_json.h"
#include "mon/ne_mon.h"
#include "server/ne_nkey.h"
#include "server/ne_server.h"
#include "sublist/ne_subject.h"

/* A published message as routing sees it. The payload (headers included) is
 * followed by its "\r\n", either contiguous in the read buffer or in a chunk
 * chain. */
typedef struct ne_msg {
    ne_slice subject;
    ne_slice reply;
    uint32_t hdr_len;
    uint32_t total_len;
    bool has_headers; /* HPUB: deliver as HMSG to header-capable subscribers */
    const uint8_t *data;
    ne_chunk *chain;
    uint32_t chain_offset;
    bool chain_owned; /* the chain was made here from `data` and must be released */
} ne_msg;

#define NE_ERR_TEXT_UNKNOWN_OP "Unknown Protocol Operation"

static void send_ok(ne_conn *conn)
{
    if (conn->verbose) {
        (void)ne_conn_send(conn, "+OK\r\n", 5);
    }
}

static void send_err(ne_conn *conn, const char *text)
{
    char line[NE_MAX_CONTROL_LINE_BYTES + 128];
    size_t n = ne_fmt(line, sizeof(line), "-ERR '%s'\r\n", text);
    (void)ne_conn_send(conn, line, n);
}

size_t ne_client_info(ne_server *srv, const ne_conn *conn, const char *client_ip, char *out,
                      size_t cap)
{
    ne_strbuf sb;
    ne_strbuf_init(&sb, out, cap);
    ne_strbuf_puts(&sb, "INFO {\"server_id\":");
    ne_strbuf_json_string(&sb, srv->server_id, strlen(srv->server_id));
    ne_strbuf_puts(&sb, ",\"server_name\":");
    ne_strbuf_json_string(&sb, srv->opts.server_name, strlen(srv->opts.server_name));
    ne_strbuf_puts(&sb, ",\"version\":\"" NE_ADVERTISED_VERSION
                        "\",\"proto\":1,\"go\":\"natsedge-" NE_VERSION "\",\"host\":");
    ne_strbuf_json_string(&sb, srv->opts.host, strlen(srv->opts.host));
    ne_strbuf_printf(
        &sb, ",\"port\":%u,\"headers\":%s,\"max_payload\":%u", (unsigned)srv->client_listener.port,
        srv->opts.no_header_support ? "false" : "true", (unsigned)srv->opts.max_payload);
    if (ne_server_auth_required(srv)) {
        ne_strbuf_puts(&sb, ",\"auth_required\":true");
    }
    if (srv->opts.tls) {
        ne_strbuf_puts(&sb, srv->opts.tls_verify ? ",\"tls_required\":true,\"tls_verify\":true"
                                                 : ",\"tls_required\":true");
    }
    if (conn != NULL && conn->nonce[0] != '\0') {
        ne_strbuf_printf(&sb, ",\"nonce\":\"%s\"", conn->nonce);
    }
    if (srv->info_ldm) {
        ne_strbuf_puts(&sb, ",\"ldm\":true");
    }
    if (conn != NULL) {
        ne_strbuf_printf(&sb, ",\"client_id\":%llu", (unsigned long long)conn->cid);
    }
    ne_strbuf_puts(&sb, ",\"client_ip\":");
    ne_strbuf_json_string(&sb, client_ip, strlen(client_ip));
    ne_strbuf_puts(&sb, "} \r\n");
    NE_ASSERT(!sb.truncated);
    return sb.len;
}

void ne_client_start(ne_conn *conn)
{
    /* CONNECT's defaults apply until a CONNECT says otherwise (CP-16, CP-17). */
    conn->verbose = true;
    conn->pedantic = true;
    conn->echo = true;
    if (ne_server_auth_required(conn->srv)) {
        conn->auth_deadline_ms = conn->srv->now_ms + conn->srv->opts.auth_timeout_ms;
    }
    for (uint32_t i = 0; i < conn->srv->opts.user_count; i++) {
        if (conn->srv->opts.users[i].nkey[0] != '\0') {
            /* Every client gets a nonce to sign once nkey users exist (CP-73). */
            if (ne_nkey_nonce(conn->nonce) != NE_OK) {
                conn->nonce[0] = '\0';
            }
            break;
        }
    }
    char info[768];
    size_t n = ne_client_info(conn->srv, conn, conn->ip, info, sizeof(info));
    (void)ne_conn_send(conn, info, n);
}

void ne_conn_pause_reads(ne_conn *conn)
{
    ne_server *srv = conn->srv;
    if (conn->read_paused) {
        return;
    }
    conn->read_paused = true;
    (void)srv->net.ops->want_read(srv->net.ctx, conn->sock, false);
    conn->paused_next = srv->paused_head;
    srv->paused_head = conn;
}

/* ---- CONNECT ------------------------------------------------------------- */

/* Compares without an early exit, so the time taken does not tell how much
 * of a secret matched. */
static bool secret_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t n = la > lb ? la : lb;
    unsigned diff = (unsigned)(la ^ lb);
    for (size_t i = 0; i < n; i++) {
        char ca = i < la ? a[i] : 0;
        char cb = i < lb ? b[i] : 0;
        diff |= (unsigned)(unsigned char)(ca ^ cb);
    }
    return diff == 0;
}

/* A configured password or token that is a bcrypt hash is checked with
 * bcrypt, any other is compared in clear (nats-server's comparePasswords).
 * The hash's form and cost were checked when the options were. */
static bool secret_matches(ne_server *srv, const char *configured, const char *given)
{
    if (ne_bcrypt_is_hash(configured)) {
        return ne_bcrypt_verify(&srv->bcrypt_state, given, strlen(given), configured,
                                strlen(configured), NE_BCRYPT_MAX_COST) == NE_OK;
    }
    return secret_equal(configured, given);
}

/* Checks CONNECT's credentials against the configured user or token. */
static bool authenticate(ne_conn *conn, const ne_json_doc *doc)
{
    const ne_server_options *o = &conn->srv->opts;
    char user[64] = "", pass[128] = "", token[128] = "";
    (void)ne_json_get_string(doc, 0, "user", user, sizeof(user), NULL);
    (void)ne_json_get_string(doc, 0, "pass", pass, sizeof(pass), NULL);
    (void)ne_json_get_string(doc, 0, "auth_token", token, sizeof(token), NULL);
    if (o->auth_token[0] != '\0') {
        return token[0] != '\0' && secret_matches(conn->srv, o->auth_token, token);
    }
    if (o->auth_user[0] != '\0') {
        return user[0] != '\0' && secret_equal(user, o->auth_user) &&
               secret_matches(conn->srv, o->auth_pass, pass);
    }
    char nkey[64] = "", sig_text[128] = "";
    (void)ne_json_get_string(doc, 0, "nkey", nkey, sizeof(nkey), NULL);
    (void)ne_json_get_string(doc, 0, "sig", sig_text, sizeof(sig_text), NULL);
    for (uint32_t i = 0; i < o->user_count; i++) {
        const ne_user_entry *u = &o->users[i];
        if (u->nkey[0] != '\0') {
            if (nkey[0] == '\0' || strcmp(nkey, u->nkey) != 0) {
                continue;
            }
            /* The client signs the nonce's text with the nkey's private key. */
            uint8_t public_key[32], sig[64];
            return conn->nonce[0] != '\0' &&
                   ne_nkey_decode_public(u->nkey, strlen(u->nkey), NE_NKEY_PREFIX_USER,
                                         public_key) &&
                   ne_nkey_decode_sig(sig_text, strlen(sig_text), sig) &&
                   ne_port_ed25519_verify(sig, (const uint8_t *)conn->nonce, strlen(conn->nonce),
                                          public_key) == NE_OK;
        }
        if (user[0] != '\0' && secret_equal(user, u->user)) {
            return secret_matches(conn->srv, u->pass, pass);
        }
    }
    return false;
}

/* Which configured credential the client authenticated with, for reloads. */
static void remember_credential(ne_conn *conn, const ne_json_doc *doc)
{
    char user[64] = "", nkey[64] = "";
    (void)ne_json_get_string(doc, 0, "user", user, sizeof(user), NULL);
    (void)ne_json_get_string(doc, 0, "nkey", nkey, sizeof(nkey), NULL);
    conn->auth_fp = ne_server_auth_fingerprint(&conn->srv->opts, user, nkey);
}

static void copy_json_string(const ne_json_doc *doc, const char *key, char *dst, size_t cap)
{
    size_t len = 0;
    if (!ne_json_get_string(doc, 0, key, dst, cap, &len)) {
        /* Absent, or too long for the fixed field: keep what fits. */
        int idx = ne_json_find(doc, 0, key);
        if (idx >= 0 && doc->tokens[idx].type == JSMN_STRING) {
            size_t n = (size_t)(doc->tokens[idx].end - doc->tokens[idx].start);
            n = NE_MIN(n, cap - 1);
            memcpy(dst, doc->text + doc->tokens[idx].start, n);
            dst[n] = '\0';
        }
    }
}

static void handle_connect(ne_conn *conn, const ne_op *op)
{
    ne_server *srv = conn->srv;
    ne_json_doc doc;
    if (ne_json_parse(&doc, op->text.ptr, op->text.len) != NE_OK ||
        doc.tokens[0].type != JSMN_OBJECT) {
        /* Malformed CONNECT closes without -ERR (CP-22). */
        ne_log_debug(&srv->log, "%s:%u - cid:%llu - Malformed CONNECT", conn->ip,
                     (unsigned)conn->port, (unsigned long long)conn->cid);
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
        ne_conn_close(conn, NE_CLOSE_BAD_PROTOCOL_VERSION, "invalid client protocol");
        return;
    }
    headers = headers && !srv->opts.no_header_support;
    if (no_responders && !headers) {
        ne_conn_close(conn, NE_CLOSE_NO_RESPONDERS_HEADERS,
                      "no responders requires headers support");
        return;
    }
    if (conn->auth_deadline_ms != 0) {
        if (!authenticate(conn, &doc)) {
            ne_log_warn(&srv->log, "%s:%u - cid:%llu - authentication error", conn->ip,
                        (unsigned)conn->port, (unsigned long long)conn->cid);
            ne_conn_close(conn, NE_CLOSE_AUTH_VIOLATION, "Authorization Violation");
            return;
        }
        conn->auth_deadline_ms = 0;
        remember_credential(conn, &doc);
    }
    conn->verbose = verbose;
    conn->pedantic = pedantic;
    conn->echo = echo;
    conn->headers = headers;
    conn->no_responders = no_responders;
    conn->protocol = (int8_t)protocol;
    copy_json_string(&doc, "name", conn->name, sizeof(conn->name));
    copy_json_string(&doc, "lang", conn->lang, sizeof(conn->lang));
    copy_json_string(&doc, "version", conn->version, sizeof(conn->version));
    if (!conn->connect_received) {
        conn->connect_received = true;
        uint32_t first = NE_MIN((uint32_t)NE_FIRST_PING_INTERVAL_MS, srv->opts.ping_interval_ms);
        conn->next_ping_ms = srv->now_ms + first;
    }
    send_ok(conn);
}

/* ---- SUB / UNSUB ---------------------------------------------------------- */

static ne_sub *find_sid(ne_conn *conn, ne_slice sid)
{
    uint32_t guard = 0;
    for (ne_sub *s = conn->subs; s != NULL && guard++ <= NE_MAX_SUBSCRIPTIONS; s = s->conn_next) {
        if (s->sid_len == sid.len &&
            memcmp(s->text + s->entry.subject_len + s->entry.queue_len, sid.ptr, sid.len) == 0) {
            return s;
        }
    }
    return NULL;
}

static void remove_sub(ne_conn *conn, ne_sub *sub)
{
    ne_server *srv = conn->srv;
    ne_sublist_remove(&srv->sublist, &sub->entry);
    if (sub->conn_prev != NULL) {
        sub->conn_prev->conn_next = sub->conn_next;
    } else {
        conn->subs = sub->conn_next;
    }
    if (sub->conn_next != NULL) {
        sub->conn_next->conn_prev = sub->conn_prev;
    }
    conn->nsubs--;
    ne_pool_free(&srv->sub_pool, sub);
}

static void handle_sub(ne_conn *conn, const ne_op *op)
{
    ne_server *srv = conn->srv;
    if (!ne_subject_valid(op->subject.ptr, op->subject.len)) {
        send_err(conn, "Invalid Subject");
        return;
    }
    if (find_sid(conn, op->sid) != NULL) {
        send_ok(conn); /* a duplicate sid is ignored (CP-35) */
        return;
    }
    if (srv->opts.max_subs > 0 && conn->nsubs >= srv->opts.max_subs) {
        send_err(conn, "maximum subscriptions exceeded");
        return;
    }
    size_t text_len = (size_t)op->subject.len + op->queue.len + op->sid.len;
    if (text_len > NE_SUB_TEXT_BYTES || op->sid.len > 0xffff) {
        ne_log_warn(
            &srv->log,
            "%s:%u - cid:%llu - Subscription text of %zu bytes is above NE_SUB_TEXT_BYTES (%u)",
            conn->ip, (unsigned)conn->port, (unsigned long long)conn->cid, text_len,
            (unsigned)NE_SUB_TEXT_BYTES);
        send_err(conn, "Invalid Subject");
        return;
    }
    ne_sub *sub = ne_pool_alloc(&srv->sub_pool);
    if (sub == NULL) {
        srv->stats.subs_refused++;
        ne_log_warn(&srv->log, "%s:%u - cid:%llu - Subscription pool exhausted (%u)", conn->ip,
                    (unsigned)conn->port, (unsigned long long)conn->cid,
                    (unsigned)NE_MAX_SUBSCRIPTIONS);
        send_err(conn, "maximum subscriptions exceeded");
        return;
    }
    memcpy(sub->text, op->subject.ptr, op->subject.len);
    if (op->queue.len > 0) {
        memcpy(sub->text + op->subject.len, op->queue.ptr, op->queue.len);
    }
    memcpy(sub->text + op->subject.len + op->queue.len, op->sid.ptr, op->sid.len);
    sub->entry.subject = sub->text;
    sub->entry.subject_len = (uint16_t)op->subject.len;
    sub->entry.queue = op->queue.len > 0 ? sub->text + op->subject.len : NULL;
    sub->entry.queue_len = (uint16_t)op->queue.len;
    sub->sid_len = (uint16_t)op->sid.len;
    sub->conn = conn;
    int rc = ne_sublist_insert(&srv->sublist, &sub->entry);
    if (rc != NE_OK) {
        ne_pool_free(&srv->sub_pool, sub);
        if (rc == NE_ERR_NOMEM) {
            srv->stats.subs_refused++;
            ne_log_warn(&srv->log, "%s:%u - cid:%llu - Subject trie exhausted (%u nodes)", conn->ip,
                        (unsigned)conn->port, (unsigned long long)conn->cid,
                        (unsigned)NE_MAX_TRIE_NODES);
            send_err(conn, "maximum subscriptions exceeded");
        } else {
            send_err(conn, "Invalid Subject");
        }
        return;
    }
    sub->conn_next = conn->subs;
    if (conn->subs != NULL) {
        conn->subs->conn_prev = sub;
    }
    conn->subs = sub;
    conn->nsubs++;
    send_ok(conn);
}

static void handle_unsub(ne_conn *conn, const ne_op *op)
{
    ne_sub *sub = find_sid(conn, op->sid);
    if (sub != NULL) {
        if (op->max_msgs > 0 && sub->delivered < op->max_msgs) {
            sub->max_msgs = op->max_msgs;
        } else {
            remove_sub(conn, sub);
        }
    }
    send_ok(conn);
}

/* ---- Delivery ------------------------------------------------------------- */

static size_t put_text(char *p, const char *text, size_t len)
{
    memcpy(p, text, len);
    return len;
}

/* Writes the MSG/HMSG line for one subscriber; returns its length. */
static size_t msg_line(char *out, const ne_sub *sub, const ne_msg *msg, bool as_hmsg)
{
    char *p = out;
    p += as_hmsg ? put_text(p, "HMSG ", 5) : put_text(p, "MSG ", 4);
    p += put_text(p, msg->subject.ptr, msg->subject.len);
    *p++ = ' ';
    p += put_text(p, sub->text + sub->entry.subject_len + sub->entry.queue_len, sub->sid_len);
    *p++ = ' ';
    if (msg->reply.len > 0) {
        p += put_text(p, msg->reply.ptr, msg->reply.len);
        *p++ = ' ';
    }
    if (as_hmsg) {
        p += ne_fmt_u64(p, msg->hdr_len);
        *p++ = ' ';
        p += ne_fmt_u64(p, msg->total_len);
    } else {
        p += ne_fmt_u64(p, msg->total_len - msg->hdr_len);
    }
    *p++ = '\r';
    *p++ = '\n';
    return (size_t)(p - out);
}

/* Copies a contiguous payload into chunks once, so that several subscribers
 * can reference it. Returns false when the pool cannot hold it (then each
 * subscriber gets a copy instead). */
static bool msg_materialize(ne_server *srv, ne_msg *msg)
{
    size_t len = (size_t)msg->total_len + 2;
    ne_chunk *head = NULL, *tail = NULL;
    size_t done = 0;
    while (done < len) {
        ne_chunk *c = ne_chunk_alloc(&srv->chunks);
        if (c == NULL) {
            ne_chunk_chain_release(&srv->chunks, head);
            return false;
        }
        size_t n = NE_MIN(len - done, (size_t)NE_CHUNK_BYTES);
        memcpy(c->data, msg->data + done, n);
        c->used = (uint32_t)n;
        done += n;
        if (tail != NULL) {
            tail->next = c;
        } else {
            head = c;
        }
        tail = c;
    }
    msg->chain = head;
    msg->chain_offset = 0;
    msg->chain_owned = true;
    return true;
}

static bool deliver(ne_conn *pub, ne_sub *sub, ne_msg *msg, bool share)
{
    ne_conn *conn = sub->conn;
    ne_server *srv = conn->srv;
    if (conn->closing || (conn == pub && !pub->echo)) {
        return false;
    }
    bool as_hmsg = msg->has_headers && conn->headers;
    uint32_t skip = as_hmsg ? 0 : msg->hdr_len;
    uint32_t payload_len = msg->total_len - skip;
    char line[NE_MAX_CONTROL_LINE_BYTES + 96];
    size_t n = msg_line(line, sub, msg, as_hmsg);
    if (ne_conn_send(conn, line, n) != NE_OK) {
        return false;
    }
    int rc;
    if (msg->chain == NULL && share && payload_len >= NE_SHARE_PAYLOAD_MIN_BYTES) {
        (void)msg_materialize(srv, msg);
    }
    if (msg->chain != NULL) {
        rc = ne_outq_append_shared(&conn->out, &srv->chunks, msg->chain, msg->chain_offset + skip,
                                   (size_t)payload_len + 2);
        if (rc == NE_ERR_NOMEM && ne_server_reclaim(srv, conn)) {
            rc = ne_outq_append_shared(&conn->out, &srv->chunks, msg->chain,
                                       msg->chain_offset + skip, (size_t)payload_len + 2);
        }
        if (rc == NE_OK) {
            ne_conn_mark_dirty(conn);
        } else {
            srv->stats.slow_consumers++;
            ne_conn_close(conn, NE_CLOSE_SLOW_CONSUMER_PENDING, NULL);
            ne_outq_clear(&conn->out, &srv->chunks);
        }
    } else {
        rc = ne_conn_send(conn, msg->data + skip, (size_t)payload_len + 2);
    }
    if (rc != NE_OK) {
        return false;
    }
    sub->delivered++;
    conn->out_msgs++;
    conn->out_bytes += payload_len;
    srv->stats.out_msgs++;
    srv->stats.out_bytes += payload_len;
    if (conn->out.bytes > srv->opts.max_pending && ne_conn_flush_now(conn) != NE_OK) {
        ne_conn_close(conn, NE_CLOSE_WRITE_ERROR, NULL);
        return true;
    }
    /* Pending means what the socket would not take: only bytes left after
     * writing count against max_pending. nats-server closes a slow consumer
     * without an -ERR (CP-51). */
    if (conn->out.bytes > srv->opts.max_pending) {
        ne_log_warn(&srv->log,
                    "%s:%u - cid:%llu - Slow Consumer Detected: MaxPending of %llu Exceeded",
                    conn->ip, (unsigned)conn->port, (unsigned long long)conn->cid,
                    (unsigned long long)srv->opts.max_pending);
        srv->stats.slow_consumers++;
        ne_conn_close(conn, NE_CLOSE_SLOW_CONSUMER_PENDING, NULL);
        ne_outq_clear(&conn->out, &srv->chunks);
    }
    if (sub->max_msgs > 0 && sub->delivered >= sub->max_msgs && !conn->closing) {
        remove_sub(conn, sub);
    }
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
        char line[NE_MAX_CONTROL_LINE_BYTES + 96];
        char *p = line;
        p += put_text(p, "HMSG ", 5);
        p += put_text(p, msg->reply.ptr, msg->reply.len);
        *p++ = ' ';
        p += put_text(p, s->text + s->entry.subject_len + s->entry.queue_len, s->sid_len);
        p += put_text(p, " 16 16\r\n", 8);
        if (ne_conn_send(pub, line, (size_t)(p - line)) == NE_OK) {
            (void)ne_conn_send(pub, status, sizeof(status) - 1);
        }
        return;
    }
}

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

static void route_message(ne_conn *pub, ne_msg *msg)
{
    ne_server *srv = pub->srv;
    pub->in_msgs++;
    pub->in_bytes += msg->total_len;
    srv->stats.in_msgs++;
    srv->stats.in_bytes += msg->total_len;

    if (pub->pedantic && !ne_subject_valid_literal(msg->subject.ptr, msg->subject.len)) {
        /* nats-server 2.9 delivers the message anyway; natsedge does not
         * (differences.md, QRK-07). */
        send_err(pub, "Invalid Publish Subject");
        return;
    }
    if (msg->reply.len > 0 && reserved_reply(msg->reply)) {
        char text[NE_MAX_CONTROL_LINE_BYTES + 64];
        ne_fmt(text, sizeof(text), "Permissions Violation for Publish with Reply of \"%.*s\"",
               (int)msg->reply.len, msg->reply.ptr);
        send_err(pub, text);
        return;
    }
    /* nats-server acknowledges a verbose publish after its checks and before
     * delivery, so a self-subscribed client sees +OK before the MSG. */
    send_ok(pub);
    ne_match_result *res = &srv->match;
    ne_sublist_match(&srv->sublist, msg->subject.ptr, msg->subject.len, res);
    if (res->overflow) {
        srv->stats.fanout_overflows++;
    }
    uint32_t fanout = res->plain_count + res->group_count;
    srv->stats.fanout_total += fanout;
    if (fanout > srv->stats.fanout_max) {
        srv->stats.fanout_max = fanout;
    }
    bool share = res->plain_count + res->group_count > 1;
    uint32_t delivered = 0;
    for (uint32_t i = 0; i < res->plain_count; i++) {
        ne_sub *sub = NE_CONTAINER_OF(res->plain[i], ne_sub, entry);
        delivered += deliver(pub, sub, msg, share) ? 1u : 0u;
    }
    for (uint32_t g = 0; g < res->group_count; g++) {
        uint32_t start = res->groups[g].start;
        uint32_t count = res->groups[g].count;
        uint32_t first = (uint32_t)(ne_server_random(srv) % count);
        /* A random member first; the next one able to take it otherwise. */
        for (uint32_t k = 0; k < count; k++) {
            ne_sub *sub = NE_CONTAINER_OF(res->queue[start + (first + k) % count], ne_sub, entry);
            if (deliver(pub, sub, msg, share)) {
                delivered++;
                break;
            }
        }
    }
    if (delivered == 0 && msg->reply.len > 0 && pub->no_responders) {
        send_no_responders(pub, msg);
    }
    if (msg->chain_owned) {
        ne_chunk_chain_release(&srv->chunks, msg->chain);
        msg->chain = NULL;
        msg->chain_owned = false;
    }
}

/* ---- Framing --------------------------------------------------------------- */

/* Starts assembling a payload too large for the read buffer. The whole chain
 * is taken at once, or nothing: two publishers can never hold half a chain
 * each and wait for each other. */
static bool spill_start(ne_conn *conn, const ne_op *op)
{
    ne_server *srv = conn->srv;
    size_t head_bytes = (size_t)op->subject.len + op->reply.len;
    size_t total = head_bytes + op->total_len + 2;
    uint32_t need = (uint32_t)((total + NE_CHUNK_BYTES - 1) / NE_CHUNK_BYTES);
    if (ne_pool_available(&srv->chunks.chunks) < need) {
        return false;
    }
    ne_chunk *head = NULL, *tail = NULL;
    for (uint32_t i = 0; i < need; i++) {
        ne_chunk *c = ne_chunk_alloc(&srv->chunks);
        NE_ASSERT(c != NULL);
        if (tail != NULL) {
            tail->next = c;
        } else {
            head = c;
        }
        tail = c;
    }
    memcpy(head->data, op->subject.ptr, op->subject.len);
    if (op->reply.len > 0) {
        memcpy(head->data + op->subject.len, op->reply.ptr, op->reply.len);
    }
    head->used = (uint32_t)head_bytes;
    ne_spill *sp = &conn->spill;
    sp->head = head;
    sp->tail = head; /* the chunk being filled */
    sp->remaining = (uint32_t)op->total_len + 2;
    sp->subject_len = op->subject.len;
    sp->reply_len = op->reply.len;
    sp->hdr_len = (uint32_t)op->hdr_len;
    sp->total_len = (uint32_t)op->total_len;
    sp->active = true;
    return true;
}

static void spill_finish(ne_conn *conn)
{
    ne_spill *sp = &conn->spill;
    ne_server *srv = conn->srv;
    /* The last two bytes received must be the payload's CRLF (CP-03). */
    ne_chunk *last = sp->tail;
    uint8_t b1, b2;
    if (last->used >= 2) {
        b1 = last->data[last->used - 2];
        b2 = last->data[last->used - 1];
    } else {
        ne_chunk *prev = sp->head;
        while (prev->next != last) {
            prev = prev->next;
        }
        b1 = prev->data[prev->used - 1];
        b2 = last->data[0];
    }
    sp->active = false;
    if (b1 != '\r' || b2 != '\n') {
        ne_chunk_chain_release(&srv->chunks, sp->head);
        ne_conn_close(conn, NE_CLOSE_PARSE_ERROR, NE_ERR_TEXT_UNKNOWN_OP);
        return;
    }
    ne_msg msg;
    memset(&msg, 0, sizeof(msg));
    msg.subject.ptr = (const char *)sp->head->data;
    msg.subject.len = sp->subject_len;
    msg.reply.ptr = (const char *)sp->head->data + sp->subject_len;
    msg.reply.len = sp->reply_len;
    msg.hdr_len = sp->hdr_len;
    msg.total_len = sp->total_len;
    msg.has_headers = sp->hdr_len > 0;
    msg.chain = sp->head;
    msg.chain_offset = sp->subject_len + sp->reply_len;
    /* Unused chunks of the reservation (none when the size was exact). */
    if (sp->tail->next != NULL) {
        ne_chunk_chain_release(&srv->chunks, sp->tail->next);
        sp->tail->next = NULL;
    }
    route_message(conn, &msg);
    ne_chunk_chain_release(&srv->chunks, sp->head);
}

static uint32_t spill_feed(ne_conn *conn, const uint8_t *bytes, uint32_t len)
{
    ne_spill *sp = &conn->spill;
    uint32_t take = NE_MIN(len, sp->remaining);
    /* Check the trailer bytes as they arrive, as nats-server does (CP-03). */
    uint64_t at = (uint64_t)sp->total_len + 2 - sp->remaining; /* index of bytes[0] */
    for (uint64_t pos = NE_MAX(at, (uint64_t)sp->total_len); pos < at + take; pos++) {
        uint8_t want = pos == sp->total_len ? '\r' : '\n';
        if (bytes[pos - at] != want) {
            ne_chunk_chain_release(&conn->srv->chunks, sp->head);
            sp->active = false;
            ne_conn_close(conn, NE_CLOSE_PARSE_ERROR, NE_ERR_TEXT_UNKNOWN_OP);
            return len;
        }
    }
    uint32_t done = 0;
    while (done < take) {
        ne_chunk *c = sp->tail;
        if (c->used == NE_CHUNK_BYTES) {
            NE_ASSERT(c->next != NULL);
            c = c->next;
            sp->tail = c;
        }
        uint32_t n = NE_MIN(take - done, (uint32_t)NE_CHUNK_BYTES - c->used);
        memcpy(c->data + c->used, bytes + done, n);
        c->used += n;
        done += n;
    }
    sp->remaining -= take;
    if (sp->remaining == 0) {
        spill_finish(conn);
    }
    return take;
}

static void dispatch_in_place(ne_conn *conn, const ne_op *op, const uint8_t *payload)
{
    ne_msg msg;
    memset(&msg, 0, sizeof(msg));
    msg.subject = op->subject;
    msg.reply = op->reply;
    msg.hdr_len = (uint32_t)op->hdr_len;
    msg.total_len = (uint32_t)op->total_len;
    msg.has_headers = op->kind == NE_OP_HPUB;
    msg.data = payload;
    route_message(conn, &msg);
}

static void handle_op(ne_conn *conn, const ne_op *op)
{
    /* With authentication, the first operation must be CONNECT (CP-09). */
    if (conn->auth_deadline_ms != 0 && op->kind != NE_OP_CONNECT) {
        ne_conn_close(conn, NE_CLOSE_AUTH_VIOLATION, "Authorization Violation");
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
        (void)ne_conn_send(conn, "PONG\r\n", 6);
        conn->first_pong_sent = conn->first_pong_sent || conn->connect_received;
        /* The first PING is answered with a PING of our own to measure the
         * round trip, as nats-server does (CP-47). */
        if (conn->connect_received && conn->protocol >= 1 && !conn->rtt_ping_sent) {
            conn->rtt_ping_sent = true;
            conn->rtt_start_ns = ne_port_wall_ns();
            conn->pings_out++;
            (void)ne_conn_send(conn, "PING\r\n", 6);
        }
        break;
    case NE_OP_PONG:
        conn->pings_out = 0;
        if (conn->rtt_start_ns != 0) {
            uint64_t now = ne_port_wall_ns();
            conn->rtt_ns = now > conn->rtt_start_ns ? now - conn->rtt_start_ns : 0;
            conn->rtt_start_ns = 0;
        }
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
        ne_conn_close(conn, NE_CLOSE_PARSE_ERROR, NE_ERR_TEXT_UNKNOWN_OP);
        break;
    }
}

/* Handles a PUB/HPUB whose control line is complete. Returns the number of
 * bytes consumed from `line`, or 0 to wait for more input. */
static uint32_t handle_pub(ne_conn *conn, const ne_op *op, const uint8_t *line, uint32_t line_bytes,
                           uint32_t avail)
{
    ne_server *srv = conn->srv;
    if (op->total_len > srv->opts.max_payload) {
        ne_conn_close(conn, NE_CLOSE_MAX_PAYLOAD, "Maximum Payload Violation");
        return avail;
    }
    if (op->kind == NE_OP_HPUB && !conn->headers) {
        /* HPUB without negotiated headers closes, no -ERR (CP-27). */
        ne_conn_close(conn, NE_CLOSE_PARSE_ERROR, NULL);
        return avail;
    }
    uint64_t need = (uint64_t)line_bytes + op->total_len + 2;
    if (need <= avail) {
        const uint8_t *payload = line + line_bytes;
        if (payload[op->total_len] != '\r' || payload[op->total_len + 1] != '\n') {
            ne_conn_close(conn, NE_CLOSE_PARSE_ERROR, NE_ERR_TEXT_UNKNOWN_OP);
            return avail;
        }
        dispatch_in_place(conn, op, payload);
        return (uint32_t)need;
    }
    /* nats-server rejects a bad trailer at its first wrong byte (CP-03). */
    uint64_t have = avail - line_bytes;
    const uint8_t *payload = line + line_bytes;
    if ((have > op->total_len && payload[op->total_len] != '\r') ||
        (have > op->total_len + 1 && payload[op->total_len + 1] != '\n')) {
        ne_conn_close(conn, NE_CLOSE_PARSE_ERROR, NE_ERR_TEXT_UNKNOWN_OP);
        return avail;
    }
    if (need <= sizeof(conn->rbuf)) {
        return 0; /* the rest fits in the read buffer: wait for it */
    }
    if (!spill_start(conn, op)) {
        ne_conn_pause_reads(conn);
        return 0;
    }
    return line_bytes + spill_feed(conn, line + line_bytes, avail - line_bytes);
}

static void trace_op(ne_conn *conn, const uint8_t *line, uint32_t len)
{
    ne_log_trace(&conn->srv->log, "%s:%u - cid:%llu - <<- [%.*s]", conn->ip, (unsigned)conn->port,
                 (unsigned long long)conn->cid, (int)len, (const char *)line);
}

/* Bytes of a control line that count against max_control_line: nats-server
 * counts the arguments, from the first non-blank after the verb (CP-07). */
static uint32_t arg_bytes(const uint8_t *line, uint32_t len)
{
    uint32_t i = 0;
    while (i < len && line[i] != ' ' && line[i] != '\t') {
        i++;
    }
    while (i < len && (line[i] == ' ' || line[i] == '\t')) {
        i++;
    }
    return len - i;
}

/* True when the line starts with a protocol verb followed by a blank: then an
 * over-long line is "maximum control line exceeded"; otherwise nats-server
 * would have stopped at the first byte that cannot start a verb. */
static bool starts_with_verb(const uint8_t *line, uint32_t len)
{
    static const char *const verbs[] = {"pub",  "hpub", "sub",  "unsub", "connect",
                                        "ping", "pong", "info", "-err"};
    uint32_t n = 0;
    while (n < len && n < 8 && line[n] != ' ' && line[n] != '\t') {
        n++;
    }
    if (n == len || n == 8) {
        return false;
    }
    for (size_t v = 0; v < NE_ARRAY_LEN(verbs); v++) {
        if (strlen(verbs[v]) != n) {
            continue;
        }
        uint32_t i = 0;
        while (i < n && (line[i] | 0x20) == verbs[v][i]) {
            i++;
        }
        if (i == n) {
            return true;
        }
    }
    return false;
}

void ne_conn_process_input(ne_conn *conn)
{
    ne_server *srv = conn->srv;
    if (conn->kind == NE_CONN_KIND_HTTP) {
        ne_mon_process_input(conn);
        return;
    }
    uint8_t *buf = conn->rbuf;
    uint32_t pos = 0;
    /* Each pass consumes at least one byte or leaves the loop. */
    while (pos < conn->rlen && !conn->closing && !conn->read_paused) {
        uint32_t avail = conn->rlen - pos;
        if (conn->spill.active) {
            pos += spill_feed(conn, buf + pos, avail);
            continue;
        }
        const uint8_t *line = buf + pos;
        const uint8_t *nl = memchr(line, '\n', avail);
        if (nl == NULL) {
            /* Verbs are short: a line this long without a blank is over
             * the limit too, and the read buffer must not fill up. */
            if (arg_bytes(line, avail) > srv->opts.max_control_line ||
                avail > srv->opts.max_control_line + 32) {
                if (starts_with_verb(line, avail)) {
                    ne_conn_close(conn, NE_CLOSE_MAX_CONTROL_LINE, "maximum control line exceeded");
                } else {
                    ne_conn_close(conn, NE_CLOSE_PARSE_ERROR, NE_ERR_TEXT_UNKNOWN_OP);
                }
            }
            break;
        }
        uint32_t line_bytes = (uint32_t)(nl - line) + 1;
        uint32_t line_len = line_bytes - 1;
        if (line_len > 0 && line[line_len - 1] == '\r') {
            line_len--;
        }
        if (arg_bytes(line, line_len) > srv->opts.max_control_line) {
            ne_conn_close(conn, NE_CLOSE_MAX_CONTROL_LINE, "maximum control line exceeded");
            break;
        }
        ne_op op;
        ne_proto_status st = ne_proto_parse_line((const char *)line, line_len, &op);
        if (st == NE_PROTO_UNKNOWN_OP) {
            trace_op(conn, line, line_len);
            ne_conn_close(conn, NE_CLOSE_PARSE_ERROR, NE_ERR_TEXT_UNKNOWN_OP);
            break;
        }
        if (st == NE_PROTO_BAD_ARGS) {
            /* Argument errors close without -ERR (CP-06). */
            ne_log_debug(&srv->log, "%s:%u - cid:%llu - Client parser ERROR: %.*s", conn->ip,
                         (unsigned)conn->port, (unsigned long long)conn->cid, (int)line_len,
                         (const char *)line);
            ne_conn_close(conn, NE_CLOSE_PROTOCOL_VIOLATION, NULL);
            break;
        }
        if ((op.kind == NE_OP_PUB || op.kind == NE_OP_HPUB) && conn->auth_deadline_ms == 0) {
            uint32_t used = handle_pub(conn, &op, line, line_bytes, avail);
            if (used == 0) {
                break;
            }
            if (NE_LOG_ENABLED(&srv->log, NE_LOG_TRACE)) {
                trace_op(conn, line, line_len);
            }
            pos += used;
            continue;
        }
        if (NE_LOG_ENABLED(&srv->log, NE_LOG_TRACE)) {
            trace_op(conn, line, line_len);
        }
        handle_op(conn, &op);
        pos += line_bytes;
    }
    if (conn->closing) {
        conn->rlen = 0;
        return;
    }
    if (pos > 0) {
        memmove(buf, buf + pos, conn->rlen - pos);
        conn->rlen -= pos;
    }
}
