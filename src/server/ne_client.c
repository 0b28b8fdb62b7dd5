/* The NATS client protocol on a connection: framing of the input, the
 * handlers of each operation, and routing of published messages. */
#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "core/ne_time.h"
#include "json/ne_json.h"
#include "leaf/ne_leaf.h"
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
    ne_slice queues; /* from a leaf: the queue groups it is for (LN-18) */
    uint32_t hdr_len;
    uint32_t total_len;
    bool has_headers; /* HPUB: deliver as HMSG to header-capable subscribers */
    const uint8_t *data;
    ne_chunk *chain;
    uint32_t chain_offset;
    bool chain_owned; /* the chain was made here from `data` and must be released */
    /* The message prepared in srv->deliver_scratch (deliver_fast); 0: not. */
    uint64_t scratch_id;
    uint16_t head_len;
    uint32_t tail_len;
    /* The size field(s) of the MSG/HMSG line, formatted once per message
     * (the texts are valid for their lengths, which start at 0). */
    uint8_t size_len;
    uint8_t hsize_len;
    char size_text[20];
    char hsize_text[41];
} ne_msg;

/* Clears a message up to its size texts, which need no clearing. */
#define NE_MSG_CLEAR(m) memset((m), 0, offsetof(ne_msg, size_text))

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

/* Reads CONNECT's credential `key` into buf. True when it is absent (buf is
 * then empty) or read whole; false when it is present but cannot be read:
 * not a string, or longer than the fixed-size field. A credential is never
 * compared by a prefix that happened to fit. */
static bool read_credential(const ne_json_doc *doc, const char *key, char *buf, size_t cap)
{
    NE_ASSERT(cap > 0);
    buf[0] = '\0';
    if (ne_json_find(doc, 0, key) < 0) {
        return true;
    }
    if (!ne_json_get_string(doc, 0, key, buf, cap, NULL)) {
        buf[0] = '\0';
        return false;
    }
    return true;
}

bool ne_server_secret_equal(const char *a, const char *b)
{
    return secret_equal(a, b);
}

bool ne_server_secret_matches(ne_server *srv, const char *configured, const char *given)
{
    return secret_matches(srv, configured, given);
}

bool ne_server_read_credential(const ne_json_doc *doc, const char *key, char *buf, size_t cap)
{
    return read_credential(doc, key, buf, cap);
}

/* Checks CONNECT's credentials against the configured user or token; the
 * users-list entry that matched goes to *user_index (-1: none). A credential
 * too long for its field (a password over 127 bytes) is refused
 * (differences.md). */
static bool authenticate(ne_conn *conn, const ne_json_doc *doc, int *user_index)
{
    const ne_server_options *o = &conn->srv->opts;
    char user[64], pass[128], token[128];
    if (!read_credential(doc, "user", user, sizeof(user)) ||
        !read_credential(doc, "pass", pass, sizeof(pass)) ||
        !read_credential(doc, "auth_token", token, sizeof(token))) {
        return false;
    }
    if (o->auth_token[0] != '\0') {
        return token[0] != '\0' && secret_matches(conn->srv, o->auth_token, token);
    }
    if (o->auth_user[0] != '\0') {
        return user[0] != '\0' && secret_equal(user, o->auth_user) &&
               secret_matches(conn->srv, o->auth_pass, pass);
    }
    char nkey[64], sig_text[128];
    if (!read_credential(doc, "nkey", nkey, sizeof(nkey)) ||
        !read_credential(doc, "sig", sig_text, sizeof(sig_text))) {
        return false;
    }
    for (uint32_t i = 0; i < o->user_count; i++) {
        const ne_user_entry *u = &o->users[i];
        if (u->nkey[0] != '\0') {
            if (nkey[0] == '\0' || strcmp(nkey, u->nkey) != 0) {
                continue;
            }
            *user_index = (int)i;
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
            *user_index = (int)i;
            return secret_matches(conn->srv, u->pass, pass);
        }
    }
    return false;
}

/* CONNECT carries no credentials at all: no_auth_user applies (CP-75). */
static bool no_credentials(const ne_json_doc *doc)
{
    static const char *const keys[] = {"user", "pass", "auth_token", "nkey", "sig", "jwt"};
    for (size_t i = 0; i < NE_ARRAY_LEN(keys); i++) {
        if (ne_json_find(doc, 0, keys[i]) >= 0) {
            return false;
        }
    }
    return true;
}

static bool find_user(const ne_server_options *o, const char *name, int *user_index)
{
    for (uint32_t i = 0; i < o->user_count; i++) {
        if (strcmp(o->users[i].user, name) == 0) {
            *user_index = (int)i;
            return true;
        }
    }
    return false;
}

/* Binds an authenticated client to its user's account and permissions: the
 * user's own, else its account's default, else the authorization block's. */
static void bind_user(ne_conn *conn, int user_index)
{
    ne_server *srv = conn->srv;
    const ne_server_options *o = &srv->opts;
    uint8_t acc = NE_ACCOUNT_GLOBAL;
    uint16_t perms = o->default_perms;
    if (user_index >= 0) {
        const ne_user_entry *u = &o->users[user_index];
        acc = u->account;
        if (u->perms != NE_PERM_NONE) {
            perms = u->perms;
        } else if (o->accounts[acc].default_perms != NE_PERM_NONE) {
            perms = o->accounts[acc].default_perms;
        }
    }
    NE_ASSERT(acc < srv->account_count);
    conn->user_index = (int16_t)user_index;
    conn->acc = &srv->accounts[acc];
    conn->perms = perms;
}

static const ne_permissions *conn_perms(const ne_conn *conn)
{
    return conn->perms == NE_PERM_NONE ? NULL : &conn->srv->opts.perms[conn->perms];
}

/* ---- System events ------------------------------------------------------- */

static const char *conn_user(const ne_conn *conn)
{
    const ne_server_options *o = &conn->srv->opts;
    if (conn->user_index >= 0) {
        const ne_user_entry *u = &o->users[conn->user_index];
        return u->user[0] != '\0' ? u->user : u->nkey;
    }
    return o->auth_user;
}

/* The system account, when it exists and someone listens in it. */
static bool system_listeners(const ne_server *srv)
{
    uint8_t sys = srv->opts.system_account;
    return sys != NE_ACCOUNT_NONE && srv->accounts[sys].sublist.count > 0;
}

/* The fields every advisory starts with: type, id, timestamp, server. */
static void event_head(ne_server *srv, ne_strbuf *sb, const char *type, uint64_t now_ns)
{
    char id[NE_NKEY_NONCE_LEN + 1];
    if (ne_nkey_nonce(id) != NE_OK) {
        ne_fmt(id, sizeof(id), "%llu", (unsigned long long)srv->system_event_seq);
    }
    ne_strbuf_printf(sb, "{\"type\":\"io.nats.server.advisory.v1.%s\",\"id\":\"%s\",", type, id);
    ne_strbuf_puts(sb, "\"timestamp\":\"");
    ne_time_rfc3339(sb, now_ns);
    ne_strbuf_puts(sb, "\",\"server\":{\"name\":");
    ne_strbuf_json_string(sb, srv->opts.server_name, strlen(srv->opts.server_name));
    ne_strbuf_puts(sb, ",\"host\":");
    ne_strbuf_json_string(sb, srv->opts.host, strlen(srv->opts.host));
    ne_strbuf_printf(sb,
                     ",\"id\":\"%s\",\"ver\":\"" NE_ADVERTISED_VERSION
                     "\",\"seq\":%llu,\"jetstream\":false,\"time\":\"",
                     srv->server_id, (unsigned long long)++srv->system_event_seq);
    ne_time_rfc3339(sb, now_ns);
    ne_strbuf_puts(sb, "\"}");
}

static void event_publish(ne_server *srv, const char *subject, const ne_strbuf *sb)
{
    if (!sb->truncated) {
        srv->stats.system_events++;
        ne_server_publish_internal(srv, srv->opts.system_account, subject, sb->data, sb->len);
    }
}

/* $SYS.ACCOUNT.<account>.SERVER.CONNS: the account's connection count, sent
 * whenever it changes (account_connections advisory). */
static void account_conns_event(ne_server *srv, const ne_account *acc)
{
    if (!system_listeners(srv)) {
        return;
    }
    const char *name = srv->opts.accounts[acc->index].name;
    char subject[NE_ACCOUNT_NAME_BYTES + 32];
    ne_fmt(subject, sizeof(subject), "$SYS.ACCOUNT.%s.SERVER.CONNS", name);
    char body[1024];
    ne_strbuf sb;
    ne_strbuf_init(&sb, body, sizeof(body));
    event_head(srv, &sb, "account_connections", ne_port_wall_ns());
    ne_strbuf_puts(&sb, ",\"acc\":");
    ne_strbuf_json_string(&sb, name, strlen(name));
    ne_strbuf_printf(&sb,
                     ",\"conns\":%u,\"leafnodes\":0,\"total_conns\":%u,"
                     "\"sent\":{\"msgs\":%llu,\"bytes\":%llu},"
                     "\"received\":{\"msgs\":%llu,\"bytes\":%llu},\"slow_consumers\":%llu}",
                     (unsigned)acc->clients, (unsigned)acc->clients,
                     (unsigned long long)acc->out_msgs, (unsigned long long)acc->out_bytes,
                     (unsigned long long)acc->in_msgs, (unsigned long long)acc->in_bytes,
                     (unsigned long long)acc->slow_consumers);
    event_publish(srv, subject, &sb);
}

/* $SYS.ACCOUNT.<account>.CONNECT or .DISCONNECT into the system account,
 * with nats-server's advisory JSON (client_connect / client_disconnect). */
static void system_event(ne_conn *conn, bool connect)
{
    ne_server *srv = conn->srv;
    if (!system_listeners(srv)) {
        return; /* no one could hear it */
    }
    const char *acc = srv->opts.accounts[conn->acc->index].name;
    char subject[NE_ACCOUNT_NAME_BYTES + 32];
    ne_fmt(subject, sizeof(subject), "$SYS.ACCOUNT.%s.%s", acc, connect ? "CONNECT" : "DISCONNECT");
    char body[1536];
    ne_strbuf sb;
    ne_strbuf_init(&sb, body, sizeof(body));
    uint64_t now_ns = ne_port_wall_ns();
    event_head(srv, &sb, connect ? "client_connect" : "client_disconnect", now_ns);
    ne_strbuf_puts(&sb, ",\"client\":{\"start\":\"");
    ne_time_rfc3339(&sb, conn->start_wall_ns);
    ne_strbuf_puts(&sb, "\",\"host\":");
    ne_strbuf_json_string(&sb, conn->ip, strlen(conn->ip));
    ne_strbuf_printf(&sb, ",\"id\":%llu,\"acc\":", (unsigned long long)conn->cid);
    ne_strbuf_json_string(&sb, acc, strlen(acc));
    const char *user = conn_user(conn);
    if (user[0] != '\0') {
        ne_strbuf_puts(&sb, ",\"user\":");
        ne_strbuf_json_string(&sb, user, strlen(user));
    }
    if (conn->name[0] != '\0') {
        ne_strbuf_puts(&sb, ",\"name\":");
        ne_strbuf_json_string(&sb, conn->name, strlen(conn->name));
    }
    ne_strbuf_puts(&sb, ",\"lang\":");
    ne_strbuf_json_string(&sb, conn->lang, strlen(conn->lang));
    ne_strbuf_puts(&sb, ",\"ver\":");
    ne_strbuf_json_string(&sb, conn->version, strlen(conn->version));
    if (!connect) {
        if (conn->rtt_ns > 0) {
            ne_strbuf_printf(&sb, ",\"rtt\":%llu", (unsigned long long)conn->rtt_ns);
        }
        ne_strbuf_puts(&sb, ",\"stop\":\"");
        ne_time_rfc3339(&sb, now_ns);
        ne_strbuf_putc(&sb, '"');
    }
    ne_strbuf_puts(&sb, ",\"kind\":\"Client\",\"client_type\":\"nats\"}");
    if (!connect) {
        ne_strbuf_printf(&sb,
                         ",\"sent\":{\"msgs\":%llu,\"bytes\":%llu},"
                         "\"received\":{\"msgs\":%llu,\"bytes\":%llu},\"reason\":",
                         (unsigned long long)conn->out_msgs, (unsigned long long)conn->out_bytes,
                         (unsigned long long)conn->in_msgs, (unsigned long long)conn->in_bytes);
        const char *reason = ne_close_reason_text(conn->close_reason);
        ne_strbuf_json_string(&sb, reason, strlen(reason));
    }
    ne_strbuf_putc(&sb, '}');
    event_publish(srv, subject, &sb);
}

static void resp_perms_release(ne_server *srv, uint64_t cid);

void ne_client_closed(ne_conn *conn)
{
    if (!conn->connect_received || conn->auth_deadline_ms != 0) {
        return;
    }
    NE_ASSERT(conn->acc->clients > 0);
    conn->acc->clients--;
    resp_perms_release(conn->srv, conn->cid);
    account_conns_event(conn->srv, conn->acc);
    system_event(conn, false);
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
        int user_index = -1;
        bool ok = no_credentials(&doc) && srv->opts.no_auth_user[0] != '\0'
                      ? find_user(&srv->opts, srv->opts.no_auth_user, &user_index)
                      : authenticate(conn, &doc, &user_index);
        if (ok) {
            bind_user(conn, user_index);
        } else {
            ne_log_warn(&srv->log, "%s:%u - cid:%llu - authentication error", conn->ip,
                        (unsigned)conn->port, (unsigned long long)conn->cid);
            ne_conn_close(conn, NE_CLOSE_AUTH_VIOLATION, "Authorization Violation");
            return;
        }
        conn->auth_deadline_ms = 0;
        /* Which configured credential it was, for reloads. */
        conn->auth_fp = ne_server_auth_fingerprint(&srv->opts, conn->user_index);
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
        conn->acc->clients++;
        account_conns_event(srv, conn->acc);
        system_event(conn, true);
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
    ne_leaf_sub_removed(srv, sub);
    ne_sublist_remove(&conn->acc->sublist, &sub->entry);
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
    const ne_permissions *perms = conn_perms(conn);
    if (perms != NULL && conn->kind == NE_CONN_KIND_CLIENT &&
        !ne_perm_can_subscribe(perms, srv->opts.perm_subjects, op->subject.ptr, op->subject.len,
                               op->queue.ptr, op->queue.len)) {
        char text[NE_MAX_CONTROL_LINE_BYTES + 96];
        if (op->queue.len > 0) {
            ne_fmt(text, sizeof(text),
                   "Permissions Violation for Subscription to \"%.*s\" using queue \"%.*s\"",
                   (int)op->subject.len, op->subject.ptr, (int)op->queue.len, op->queue.ptr);
        } else {
            ne_fmt(text, sizeof(text), "Permissions Violation for Subscription to \"%.*s\"",
                   (int)op->subject.len, op->subject.ptr);
        }
        srv->stats.perm_violations++;
        ne_log_error(&srv->log,
                     "%s:%u - cid:%llu - Subscription Violation - User \"%s\", Subject \"%.*s\"",
                     conn->ip, (unsigned)conn->port, (unsigned long long)conn->cid, conn_user(conn),
                     (int)op->subject.len, op->subject.ptr);
        send_err(conn, text);
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
    sub->withhold = perms != NULL && ne_perm_deny_overlaps(perms, srv->opts.perm_subjects,
                                                           op->subject.ptr, op->subject.len);
    int rc = ne_sublist_insert(&conn->acc->sublist, &sub->entry);
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
    if (ne_leaf_sub_added(srv, sub) != NE_OK) {
        /* The leaf interest table is full: refused like an exhausted pool. */
        ne_sublist_remove(&conn->acc->sublist, &sub->entry);
        ne_pool_free(&srv->sub_pool, sub);
        srv->stats.subs_refused++;
        send_err(conn, "maximum subscriptions exceeded");
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

void ne_client_rebind(ne_conn *conn, int user_index)
{
    ne_server *srv = conn->srv;
    ne_account *acc = conn->acc;
    bind_user(conn, user_index);
    conn->acc = acc; /* clients are not moved between accounts */
    const ne_permissions *perms = conn_perms(conn);
    /* Bounded by the subscription pool: each pass removes or keeps one. */
    ne_sub *next = NULL;
    uint32_t guard = 0;
    for (ne_sub *sub = conn->subs; sub != NULL && guard++ <= NE_MAX_SUBSCRIPTIONS; sub = next) {
        next = sub->conn_next;
        const char *subject = sub->entry.subject;
        size_t len = sub->entry.subject_len;
        bool allowed =
            perms == NULL ||
            ne_perm_can_subscribe(perms, srv->opts.perm_subjects, subject, len, NULL, 0) ||
            (sub->entry.queue_len > 0 &&
             ne_perm_can_subscribe(perms, srv->opts.perm_subjects, subject, len, sub->entry.queue,
                                   sub->entry.queue_len));
        if (allowed) {
            sub->withhold = perms != NULL &&
                            ne_perm_deny_overlaps(perms, srv->opts.perm_subjects, subject, len);
            continue;
        }
        /* nats-server's wording on a permission reload (CP-38). */
        const char *sid = sub->text + sub->entry.subject_len + sub->entry.queue_len;
        char text[NE_SUB_TEXT_BYTES + 96];
        ne_fmt(text, sizeof(text),
               "Permissions Violation for Subscription to \"%.*s\" (sid \"%.*s\")", (int)len,
               subject, (int)sub->sid_len, sid);
        ne_log_info(&srv->log,
                    "Removed sub \"%.*s\" (sid \"%.*s\") for User \"%s\" - not authorized",
                    (int)len, subject, (int)sub->sid_len, sid, conn_user(conn));
        send_err(conn, text);
        remove_sub(conn, sub);
    }
}

/* ---- Delivery ------------------------------------------------------------- */

static size_t put_text(char *p, const char *text, size_t len)
{
    memcpy(p, text, len);
    return len;
}

/* Writes the MSG/HMSG line for one subscriber; returns its length. */
static size_t msg_line(char *out, const ne_sub *sub, ne_msg *msg, bool as_hmsg)
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
        if (msg->hsize_len == 0) {
            size_t n = ne_fmt_u64(msg->hsize_text, msg->hdr_len);
            msg->hsize_text[n++] = ' ';
            n += ne_fmt_u64(msg->hsize_text + n, msg->total_len);
            msg->hsize_len = (uint8_t)n;
        }
        p += put_text(p, msg->hsize_text, msg->hsize_len);
    } else {
        if (msg->size_len == 0) {
            msg->size_len = (uint8_t)ne_fmt_u64(msg->size_text, msg->total_len - msg->hdr_len);
        }
        p += put_text(p, msg->size_text, msg->size_len);
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

/* Queues a delivery line and the payload (headers stripped unless as_hmsg)
 * for conn and counts the message. False when the connection could not
 * take it. */
/* A subscriber whose queue cannot take more: counted, closed without -ERR
 * (CP-51), its queued bytes returned to the pools. */
static void close_slow_consumer(ne_conn *conn)
{
    ne_server *srv = conn->srv;
    srv->stats.slow_consumers++;
    conn->acc->slow_consumers++;
    ne_conn_close(conn, NE_CLOSE_SLOW_CONSUMER_PENDING, NULL);
    ne_outq_clear(&conn->out, &srv->chunks);
}

/* Contiguous room for len bytes at the tail of conn's queue, reclaiming
 * chunks from the largest queue once if the pools are empty; NULL (and the
 * connection closed as a slow consumer) when there is none. */
static uint8_t *reserve_room(ne_conn *conn, size_t len)
{
    ne_server *srv = conn->srv;
    uint8_t *dst = ne_outq_reserve(&conn->out, &srv->chunks, len);
    if (dst == NULL && ne_server_reclaim(srv, conn)) {
        dst = ne_outq_reserve(&conn->out, &srv->chunks, len);
    }
    if (dst == NULL) {
        close_slow_consumer(conn);
    }
    return dst;
}

/* Queues a delivery line and a payload that fit in one chunk as one
 * contiguous write into the tail of the connection's queue. */
static bool queue_inline(ne_conn *conn, const char *line, size_t n, const uint8_t *payload,
                         size_t len)
{
    uint8_t *dst = reserve_room(conn, n + len);
    if (dst == NULL) {
        return false;
    }
    memcpy(dst, line, n);
    memcpy(dst + n, payload, len);
    ne_outq_commit(&conn->out, n + len);
    ne_conn_mark_dirty(conn);
    return true;
}

static void count_delivery(ne_conn *conn, uint32_t payload_len);

static bool queue_message(ne_conn *conn, const char *line, size_t n, ne_msg *msg, bool share,
                          bool as_hmsg)
{
    ne_server *srv = conn->srv;
    uint32_t skip = as_hmsg ? 0 : msg->hdr_len;
    uint32_t payload_len = msg->total_len - skip;
    if (msg->chain == NULL && share && payload_len >= NE_SHARE_PAYLOAD_MIN_BYTES) {
        (void)msg_materialize(srv, msg);
    }
    int rc = NE_OK;
    if (msg->chain == NULL && n + payload_len + 2 <= NE_CHUNK_BYTES) {
        if (conn->closing || !queue_inline(conn, line, n, msg->data + skip, payload_len + 2u)) {
            return false;
        }
    } else if (ne_conn_send(conn, line, n) != NE_OK) {
        return false;
    } else if (msg->chain != NULL) {
        rc = ne_outq_append_shared(&conn->out, &srv->chunks, msg->chain, msg->chain_offset + skip,
                                   (size_t)payload_len + 2);
        if (rc == NE_ERR_NOMEM && ne_server_reclaim(srv, conn)) {
            rc = ne_outq_append_shared(&conn->out, &srv->chunks, msg->chain,
                                       msg->chain_offset + skip, (size_t)payload_len + 2);
        }
        if (rc == NE_OK) {
            ne_conn_mark_dirty(conn);
        } else {
            close_slow_consumer(conn);
        }
    } else {
        rc = ne_conn_send(conn, msg->data + skip, (size_t)payload_len + 2);
    }
    if (rc != NE_OK) {
        return false;
    }
    count_delivery(conn, payload_len);
    return true;
}

/* Counts a queued delivery, then applies max_pending to the connection. */
static void count_delivery(ne_conn *conn, uint32_t payload_len)
{
    ne_server *srv = conn->srv;
    conn->out_msgs++;
    conn->out_bytes += payload_len;
    conn->acc->out_msgs++;
    conn->acc->out_bytes += payload_len;
    srv->stats.out_msgs++;
    srv->stats.out_bytes += payload_len;
    if (conn->out.bytes <= srv->opts.max_pending) {
        return;
    }
    if (ne_conn_flush_now(conn) != NE_OK) {
        ne_conn_close(conn, NE_CLOSE_WRITE_ERROR, NULL);
        return;
    }
    /* Pending means what the socket would not take: only bytes left after
     * writing count against max_pending. nats-server closes a slow consumer
     * without an -ERR (CP-51). */
    if (conn->out.bytes > srv->opts.max_pending) {
        ne_log_warn(&srv->log,
                    "%s:%u - cid:%llu - Slow Consumer Detected: MaxPending of %llu Exceeded",
                    conn->ip, (unsigned)conn->port, (unsigned long long)conn->cid,
                    (unsigned long long)srv->opts.max_pending);
        close_slow_consumer(conn);
    }
}

/* ---- Response permissions (allow_responses, CP-82) ------------------------ */

static void resp_perms_release(ne_server *srv, uint64_t cid)
{
    for (uint32_t i = 0; i < NE_MAX_RESPONSE_PERMS; i++) {
        if (srv->resp_perms[i].cid == cid) {
            srv->resp_perms[i].cid = 0;
        }
    }
}

/* conn received a message with a reply: it may answer it. When the table is
 * full the entry closest to expiring makes room. */
static void resp_perm_grant(ne_conn *conn, const ne_permissions *p, ne_slice reply)
{
    ne_server *srv = conn->srv;
    if (reply.len > NE_PERM_SUBJECT_BYTES) {
        return;
    }
    ne_resp_perm *same = NULL, *free_slot = NULL, *oldest = NULL;
    for (uint32_t i = 0; i < NE_MAX_RESPONSE_PERMS && same == NULL; i++) {
        ne_resp_perm *e = &srv->resp_perms[i];
        bool live = e->cid != 0 && (e->expires_ms == 0 || e->expires_ms > srv->now_ms);
        if (!live) {
            free_slot = free_slot != NULL ? free_slot : e;
        } else if (e->cid == conn->cid && e->reply_len == reply.len &&
                   memcmp(e->reply, reply.ptr, reply.len) == 0) {
            same = e; /* the same reply again: granted anew */
        } else if (oldest == NULL || (e->expires_ms != 0 && (oldest->expires_ms == 0 ||
                                                             e->expires_ms < oldest->expires_ms))) {
            oldest = e;
        }
    }
    ne_resp_perm *slot = same != NULL ? same : free_slot != NULL ? free_slot : oldest;
    NE_ASSERT(slot != NULL);
    if (slot == oldest) {
        srv->stats.resp_perms_evicted++;
    }
    slot->cid = conn->cid;
    slot->remaining = p->response_max;
    slot->expires_ms = p->response_expires_ms > 0 ? srv->now_ms + p->response_expires_ms : 0;
    slot->reply_len = (uint16_t)reply.len;
    memcpy(slot->reply, reply.ptr, reply.len);
}

/* May conn publish to subject as a response? Uses up one response. */
static bool resp_perm_use(ne_conn *conn, ne_slice subject)
{
    ne_server *srv = conn->srv;
    for (uint32_t i = 0; i < NE_MAX_RESPONSE_PERMS; i++) {
        ne_resp_perm *e = &srv->resp_perms[i];
        if (e->cid != conn->cid || e->reply_len != subject.len ||
            memcmp(e->reply, subject.ptr, subject.len) != 0) {
            continue;
        }
        bool expired = e->expires_ms != 0 && e->expires_ms <= srv->now_ms;
        if (expired || e->remaining == 0) {
            e->cid = 0;
            return false;
        }
        if (--e->remaining == 0) {
            e->cid = 0;
        }
        return true;
    }
    return false;
}

static bool may_publish(ne_conn *pub, ne_slice subject)
{
    const ne_permissions *p = conn_perms(pub);
    if (p == NULL || pub->kind != NE_CONN_KIND_CLIENT ||
        ne_perm_can_publish(p, pub->srv->opts.perm_subjects, subject.ptr, subject.len)) {
        return true;
    }
    return p->responses && resp_perm_use(pub, subject);
}

/* A small message without headers, delivered to many subscribers in a row:
 * everything of the MSG line but the sid, and the payload, is laid out once
 * in srv->deliver_scratch as head ("MSG <subject> ") and tail (" [reply ]
 * <size>\r\n<payload>\r\n"), so that each delivery is three copies into
 * the subscriber's queue. False when the message does not qualify. */
static bool prepare_fast(ne_server *srv, ne_msg *msg, bool share)
{
    if (msg->scratch_id != 0 && msg->scratch_id == srv->scratch_owner) {
        return true;
    }
    uint32_t payload_len = msg->total_len;
    if (msg->chain != NULL || msg->hdr_len != 0 || msg->has_headers ||
        (share && payload_len >= NE_SHARE_PAYLOAD_MIN_BYTES)) {
        return false;
    }
    if (msg->size_len == 0) {
        msg->size_len = (uint8_t)ne_fmt_u64(msg->size_text, payload_len);
    }
    size_t head = 4 + msg->subject.len + 1;
    size_t tail =
        1 + (msg->reply.len > 0 ? msg->reply.len + 1u : 0u) + msg->size_len + 2 + payload_len + 2;
    if (head + tail + NE_SUB_TEXT_BYTES > sizeof(srv->deliver_scratch) || head > UINT16_MAX) {
        return false;
    }
    char *p = srv->deliver_scratch;
    p += put_text(p, "MSG ", 4);
    p += put_text(p, msg->subject.ptr, msg->subject.len);
    *p++ = ' ';
    *p++ = ' ';
    if (msg->reply.len > 0) {
        p += put_text(p, msg->reply.ptr, msg->reply.len);
        *p++ = ' ';
    }
    p += put_text(p, msg->size_text, msg->size_len);
    *p++ = '\r';
    *p++ = '\n';
    memcpy(p, msg->data, (size_t)payload_len + 2);
    msg->head_len = (uint16_t)head;
    msg->tail_len = (uint32_t)tail;
    msg->scratch_id = ++srv->scratch_seq;
    srv->scratch_owner = msg->scratch_id;
    return true;
}

/* Queues a prepared message (prepare_fast) for one subscription. */
static bool queue_fast(ne_conn *conn, const ne_sub *sub, const ne_msg *msg)
{
    ne_server *srv = conn->srv;
    size_t sid_len = sub->sid_len;
    size_t total = msg->head_len + sid_len + msg->tail_len;
    uint8_t *dst = reserve_room(conn, total);
    if (dst == NULL) {
        return false;
    }
    const char *sid = sub->text + sub->entry.subject_len + sub->entry.queue_len;
    memcpy(dst, srv->deliver_scratch, msg->head_len);
    for (size_t i = 0; i < sid_len; i++) {
        dst[msg->head_len + i] = (uint8_t)sid[i];
    }
    memcpy(dst + msg->head_len + sid_len, srv->deliver_scratch + msg->head_len, msg->tail_len);
    ne_outq_commit(&conn->out, total);
    ne_conn_mark_dirty(conn);
    count_delivery(conn, msg->total_len);
    return true;
}

static bool deliver(ne_conn *pub, ne_sub *sub, ne_msg *msg, bool share)
{
    ne_conn *conn = sub->conn;
    if (conn->closing || (conn == pub && !pub->echo)) {
        return false;
    }
    const ne_permissions *perms = conn_perms(conn);
    if (perms != NULL) {
        if (sub->withhold && ne_perm_withholds(perms, conn->srv->opts.perm_subjects,
                                               msg->subject.ptr, msg->subject.len)) {
            return false;
        }
    }
    if (prepare_fast(conn->srv, msg, share)) {
        if (!queue_fast(conn, sub, msg)) {
            return false;
        }
    } else {
        bool as_hmsg = msg->has_headers && conn->headers;
        char line[NE_MAX_CONTROL_LINE_BYTES + 96];
        size_t n = msg_line(line, sub, msg, as_hmsg);
        if (!queue_message(conn, line, n, msg, share, as_hmsg)) {
            return false;
        }
    }
    if (perms != NULL && perms->responses && msg->reply.len > 0) {
        resp_perm_grant(conn, perms, msg->reply);
    }
    sub->delivered++;
    if (sub->max_msgs > 0 && sub->delivered >= sub->max_msgs && !conn->closing) {
        remove_sub(conn, sub);
    }
    return true;
}

/* One LMSG (or HMSG) to a leaf peer, naming the queue groups it was picked
 * for (LN-17..LN-19). */
static bool deliver_leaf(const ne_leaf_target *t, ne_msg *msg, bool share)
{
    ne_conn *conn = t->conn;
    if (conn->closing) {
        return false;
    }
    bool as_hmsg = msg->has_headers && conn->headers;
    char line[NE_MAX_CONTROL_LINE_BYTES + 256];
    size_t n = ne_leaf_msg_line(line, sizeof(line), t, msg->subject, msg->reply, as_hmsg,
                                msg->hdr_len, msg->total_len);
    return n > 0 && queue_message(conn, line, n, msg, share, as_hmsg);
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

/* ---- Accounts: imports, service responses, internal messages -------------- */

/* Delivers in an account other than the publisher's own (imports, service
 * responses, system events) to the account's local subscribers, queue
 * groups included. Leaf peers of that account are not told: one hop. */
static uint32_t deliver_in_account(ne_server *srv, ne_conn *pub, ne_account *acc, ne_msg *msg)
{
    ne_match_result *res = &srv->match;
    ne_sublist_match(&acc->sublist, msg->subject.ptr, msg->subject.len, res);
    bool share = res->plain_count + res->group_count > 1;
    uint32_t delivered = 0;
    for (uint32_t i = 0; i < res->plain_count; i++) {
        ne_sub *sub = NE_CONTAINER_OF(res->plain[i], ne_sub, entry);
        if (sub->conn->kind != NE_CONN_KIND_LEAF) {
            delivered += deliver(pub, sub, msg, share) ? 1u : 0u;
        }
    }
    for (uint32_t g = 0; g < res->group_count; g++) {
        uint32_t start = res->groups[g].start;
        uint32_t count = res->groups[g].count;
        uint32_t first = (uint32_t)(ne_server_random(srv) % count);
        for (uint32_t k = 0; k < count; k++) {
            ne_sub *sub = NE_CONTAINER_OF(res->queue[start + (first + k) % count], ne_sub, entry);
            if (sub->conn->kind != NE_CONN_KIND_LEAF && deliver(pub, sub, msg, share)) {
                delivered++;
                break;
            }
        }
    }
    return delivered;
}

/* The same message under another subject and reply, sharing the payload
 * (and any chunk chain) of the original; `out` releases a chain it made. */
static uint32_t deliver_as(ne_server *srv, ne_conn *pub, uint8_t account, const ne_msg *msg,
                           ne_slice subject, ne_slice reply)
{
    ne_msg m = *msg;
    m.subject = subject;
    m.reply = reply;
    m.chain_owned = false;
    m.scratch_id = 0;
    m.size_len = 0;
    m.hsize_len = 0;
    uint32_t delivered = deliver_in_account(srv, pub, &srv->accounts[account], &m);
    if (m.chain_owned) {
        ne_chunk_chain_release(&srv->chunks, m.chain);
    }
    return delivered;
}

#define NE_SERVICE_REPLY_TTL_MS (2u * 60u * 1000u)

/* A "_R_." reply leading responses from the exporting account back to the
 * requester's reply; false when the table is full of live entries. */
static ne_reply_map *reply_map_add(ne_server *srv, const ne_import_conf *imp, ne_slice orig)
{
    if (orig.len > NE_PERM_SUBJECT_BYTES) {
        return NULL;
    }
    for (uint32_t i = 0; i < NE_MAX_SERVICE_REPLIES; i++) {
        ne_reply_map *e = &srv->reply_maps[i];
        if (e->expires_ms != 0 && e->expires_ms > srv->now_ms) {
            continue;
        }
        static const char digits[] =
            "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        uint64_t r = ne_server_random(srv);
        char *p = e->reply;
        memcpy(p, "_R_.", 4);
        p += 4;
        for (int k = 0; k < 13; k++) {
            *p++ = k == 6 ? '.' : digits[r % 62];
            r /= k == 6 ? 1 : 62;
            if (k == 6) {
                r = ne_server_random(srv);
            }
        }
        e->reply_len = (uint8_t)(p - e->reply);
        e->from = imp->from;
        e->to = imp->account;
        e->singleton = imp->response_type == NE_RESPONSE_SINGLETON;
        e->orig_len = (uint16_t)orig.len;
        memcpy(e->orig, orig.ptr, orig.len);
        e->expires_ms = srv->now_ms + NE_SERVICE_REPLY_TTL_MS;
        return e;
    }
    return NULL;
}

static uint32_t route_stream_imports(ne_server *srv, ne_conn *pub, const ne_msg *msg)
{
    uint32_t delivered = 0;
    for (uint32_t i = 0; i < srv->opts.import_count; i++) {
        const ne_import_conf *imp = &srv->opts.imports[i];
        if (imp->service || imp->from != pub->acc->index ||
            !ne_subject_matches(imp->subject, strlen(imp->subject), msg->subject.ptr,
                                msg->subject.len)) {
            continue;
        }
        char subject[NE_MAX_CONTROL_LINE_BYTES];
        size_t n;
        if (imp->prefix) {
            n = ne_fmt(subject, sizeof(subject), "%s.%.*s", imp->to, (int)msg->subject.len,
                       msg->subject.ptr);
            n = n < sizeof(subject) - 1 ? n : 0;
        } else {
            n = ne_account_map_subject(imp->subject, strlen(imp->subject), imp->to, strlen(imp->to),
                                       msg->subject.ptr, msg->subject.len, subject,
                                       sizeof(subject));
        }
        if (n > 0) {
            delivered += deliver_as(srv, pub, imp->account, msg, (ne_slice){subject, (uint32_t)n},
                                    msg->reply);
        }
    }
    return delivered;
}

static uint32_t route_service_imports(ne_server *srv, ne_conn *pub, const ne_msg *msg)
{
    uint32_t delivered = 0;
    for (uint32_t i = 0; i < srv->opts.import_count; i++) {
        const ne_import_conf *imp = &srv->opts.imports[i];
        const char *local = imp->to[0] != '\0' ? imp->to : imp->subject;
        if (!imp->service || imp->account != pub->acc->index ||
            !ne_subject_matches(local, strlen(local), msg->subject.ptr, msg->subject.len)) {
            continue;
        }
        char subject[NE_MAX_CONTROL_LINE_BYTES];
        size_t n =
            ne_account_map_subject(local, strlen(local), imp->subject, strlen(imp->subject),
                                   msg->subject.ptr, msg->subject.len, subject, sizeof(subject));
        if (n == 0) {
            continue;
        }
        ne_slice reply = {"", 0};
        ne_reply_map *map = NULL;
        if (msg->reply.len > 0) {
            map = reply_map_add(srv, imp, msg->reply);
            if (map != NULL) {
                reply = (ne_slice){map->reply, map->reply_len};
            } else {
                srv->stats.reply_maps_refused++;
                ne_log_warn(&srv->log,
                            "Service reply map full (%u): request on \"%.*s\" forwarded "
                            "without a reply; raise NE_MAX_SERVICE_REPLIES",
                            (unsigned)NE_MAX_SERVICE_REPLIES, (int)msg->subject.len,
                            msg->subject.ptr);
            }
        }
        uint32_t n_delivered =
            deliver_as(srv, pub, imp->from, msg, (ne_slice){subject, (uint32_t)n}, reply);
        if (n_delivered == 0 && map != NULL) {
            map->expires_ms = 0;
        }
        /* The import is interest of its own: a request through it never
         * gets a no-responders status, as in nats-server. */
        delivered++;
    }
    return delivered;
}

/* A response published in an exporting account on a "_R_." reply goes to
 * the requester's reply in the importing account. */
static uint32_t route_service_response(ne_server *srv, ne_conn *pub, const ne_msg *msg)
{
    if (msg->subject.len < 4 || memcmp(msg->subject.ptr, "_R_.", 4) != 0) {
        return 0;
    }
    for (uint32_t i = 0; i < NE_MAX_SERVICE_REPLIES; i++) {
        ne_reply_map *e = &srv->reply_maps[i];
        if (e->expires_ms == 0 || e->from != pub->acc->index || e->reply_len != msg->subject.len ||
            memcmp(e->reply, msg->subject.ptr, msg->subject.len) != 0) {
            continue;
        }
        if (e->expires_ms <= srv->now_ms) {
            e->expires_ms = 0;
            return 0;
        }
        uint8_t to = e->to;
        char orig[NE_PERM_SUBJECT_BYTES];
        uint32_t orig_len = e->orig_len;
        memcpy(orig, e->orig, orig_len);
        if (e->singleton) {
            e->expires_ms = 0;
        }
        return deliver_as(srv, pub, to, msg, (ne_slice){orig, orig_len}, msg->reply);
    }
    return 0;
}

static uint32_t route_imports(ne_conn *pub, const ne_msg *msg)
{
    ne_server *srv = pub->srv;
    if (srv->opts.import_count == 0) {
        return 0;
    }
    return route_stream_imports(srv, pub, msg) + route_service_imports(srv, pub, msg) +
           route_service_response(srv, pub, msg);
}

void ne_server_publish_internal(ne_server *srv, uint8_t account, const char *subject,
                                const char *payload, size_t len)
{
    char data[2048];
    if (len + 2 > sizeof(data) || account >= srv->account_count) {
        return;
    }
    memcpy(data, payload, len);
    memcpy(data + len, "\r\n", 2);
    ne_msg msg;
    memset(&msg, 0, sizeof(msg));
    msg.subject = (ne_slice){subject, (uint32_t)strlen(subject)};
    msg.reply = (ne_slice){"", 0};
    msg.total_len = (uint32_t)len;
    msg.data = (const uint8_t *)data;
    (void)deliver_in_account(srv, NULL, &srv->accounts[account], &msg);
    if (msg.chain_owned) {
        ne_chunk_chain_release(&srv->chunks, msg.chain);
    }
}

static void route_message(ne_conn *pub, ne_msg *msg)
{
    ne_server *srv = pub->srv;
    pub->in_msgs++;
    pub->in_bytes += msg->total_len;
    pub->acc->in_msgs++;
    pub->acc->in_bytes += msg->total_len;
    srv->stats.in_msgs++;
    srv->stats.in_bytes += msg->total_len;

    if (pub->pedantic && !ne_subject_valid_literal(msg->subject.ptr, msg->subject.len)) {
        /* nats-server 2.9 delivers the message anyway; natsedge does not
         * (differences.md, QRK-07). */
        send_err(pub, "Invalid Publish Subject");
        return;
    }
    if (!may_publish(pub, msg->subject)) {
        char text[NE_MAX_CONTROL_LINE_BYTES + 64];
        ne_fmt(text, sizeof(text), "Permissions Violation for Publish to \"%.*s\"",
               (int)msg->subject.len, msg->subject.ptr);
        srv->stats.perm_violations++;
        ne_log_error(&srv->log,
                     "%s:%u - cid:%llu - Publish Violation - User \"%s\", Subject \"%.*s\"",
                     pub->ip, (unsigned)pub->port, (unsigned long long)pub->cid, conn_user(pub),
                     (int)msg->subject.len, msg->subject.ptr);
        send_err(pub, text);
        return;
    }
    if (pub->kind == NE_CONN_KIND_CLIENT && msg->reply.len > 0 && reserved_reply(msg->reply)) {
        char text[NE_MAX_CONTROL_LINE_BYTES + 64];
        ne_fmt(text, sizeof(text), "Permissions Violation for Publish with Reply of \"%.*s\"",
               (int)msg->reply.len, msg->reply.ptr);
        send_err(pub, text);
        return;
    }
    if (!ne_leaf_route_begin(pub, msg->subject)) {
        return; /* from a leaf, on a subject its remote's deny_imports names */
    }
    /* nats-server acknowledges a verbose publish after its checks and before
     * delivery, so a self-subscribed client sees +OK before the MSG. */
    send_ok(pub);
    ne_match_result *res = &srv->match;
    ne_sublist_match(&pub->acc->sublist, msg->subject.ptr, msg->subject.len, res);
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
        if (sub->conn->kind == NE_CONN_KIND_LEAF) {
            (void)ne_leaf_route_add(pub, sub, NULL, 0); /* one LMSG per peer, below */
            continue;
        }
        delivered += deliver(pub, sub, msg, share) ? 1u : 0u;
    }
    for (uint32_t g = 0; g < res->group_count; g++) {
        uint32_t start = res->groups[g].start;
        uint32_t count = res->groups[g].count;
        const ne_sub_entry *any = res->queue[start];
        /* A message from a leaf goes only to the queue groups it names. */
        if (pub->kind == NE_CONN_KIND_LEAF &&
            !ne_leaf_queue_listed(msg->queues, any->queue, any->queue_len)) {
            continue;
        }
        uint32_t first = (uint32_t)(ne_server_random(srv) % count);
        /* A random member first; the next one able to take it otherwise.
         * Local members are preferred: a leaf peer's member (the hub's
         * queue subscribers) only gets it when no local one takes it. */
        bool done = false;
        for (int pass = 0; pass < 2 && !done; pass++) {
            for (uint32_t k = 0; k < count; k++) {
                ne_sub *sub =
                    NE_CONTAINER_OF(res->queue[start + (first + k) % count], ne_sub, entry);
                bool leaf = sub->conn->kind == NE_CONN_KIND_LEAF;
                if (leaf != (pass == 1)) {
                    continue;
                }
                if (leaf ? ne_leaf_route_add(pub, sub, sub->entry.queue, sub->entry.queue_len)
                         : deliver(pub, sub, msg, share)) {
                    delivered++;
                    done = true;
                    break;
                }
            }
        }
    }
    for (uint32_t t = 0; t < srv->leaf.target_count; t++) {
        delivered += deliver_leaf(&srv->leaf.targets[t], msg, share) ? 1u : 0u;
    }
    delivered += route_imports(pub, msg);
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
    size_t head_bytes = (size_t)op->subject.len + op->reply.len + op->queue.len;
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
    if (op->queue.len > 0) {
        memcpy(head->data + op->subject.len + op->reply.len, op->queue.ptr, op->queue.len);
    }
    head->used = (uint32_t)head_bytes;
    ne_spill *sp = &conn->spill;
    sp->head = head;
    sp->tail = head; /* the chunk being filled */
    sp->remaining = (uint32_t)op->total_len + 2;
    sp->subject_len = op->subject.len;
    sp->reply_len = op->reply.len;
    sp->queue_len = op->queue.len;
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
    msg.queues.ptr = (const char *)sp->head->data + sp->subject_len + sp->reply_len;
    msg.queues.len = sp->queue_len;
    msg.hdr_len = sp->hdr_len;
    msg.total_len = sp->total_len;
    msg.has_headers = sp->hdr_len > 0;
    msg.chain = sp->head;
    msg.chain_offset = sp->subject_len + sp->reply_len + sp->queue_len;
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
    NE_MSG_CLEAR(&msg);
    msg.subject = op->subject;
    msg.reply = op->reply;
    msg.queues = op->queue;
    msg.hdr_len = (uint32_t)op->hdr_len;
    msg.total_len = (uint32_t)op->total_len;
    msg.has_headers = op->kind == NE_OP_HPUB || op->kind == NE_OP_HMSG;
    msg.data = payload;
    route_message(conn, &msg);
}

static void handle_op(ne_conn *conn, const ne_op *op)
{
    /* With authentication, the first operation must be CONNECT (CP-09). */
    if (conn->kind == NE_CONN_KIND_LEAF) {
        ne_leaf_handle_op(conn, op);
        return;
    }
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
    if ((op->kind == NE_OP_HPUB || op->kind == NE_OP_HMSG) && !conn->headers) {
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
    if (conn->kind == NE_CONN_KIND_HTTP) {
        ne_mon_process_input(conn);
        return;
    }
    uint32_t pos = ne_conn_process_bytes(conn, conn->rbuf, conn->rlen);
    if (conn->closing) {
        conn->rlen = 0;
        return;
    }
    if (pos > 0) {
        memmove(conn->rbuf, conn->rbuf + pos, conn->rlen - pos);
        conn->rlen -= pos;
    }
}

uint32_t ne_conn_process_bytes(ne_conn *conn, uint8_t *buf, uint32_t len)
{
    ne_server *srv = conn->srv;
    uint32_t pos = 0;
    /* Each pass consumes at least one byte or leaves the loop. */
    while (pos < len && !conn->closing && !conn->read_paused) {
        uint32_t avail = len - pos;
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
        /* The arguments are never longer than the line. */
        if (line_len > srv->opts.max_control_line &&
            arg_bytes(line, line_len) > srv->opts.max_control_line) {
            ne_conn_close(conn, NE_CLOSE_MAX_CONTROL_LINE, "maximum control line exceeded");
            break;
        }
        ne_op op;
        bool leaf = conn->kind == NE_CONN_KIND_LEAF;
        ne_proto_status st = leaf ? ne_leaf_parse_line((const char *)line, line_len, &op)
                                  : ne_proto_parse_line((const char *)line, line_len, &op);
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
        bool carries_payload = leaf ? ne_leaf_carries_payload(conn, &op)
                                    : op.kind == NE_OP_PUB || op.kind == NE_OP_HPUB;
        if (carries_payload && conn->auth_deadline_ms == 0) {
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
    return pos;
}
