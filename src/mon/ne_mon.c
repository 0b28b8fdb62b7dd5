#include "mon/ne_mon.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "core/ne_time.h"
#include "json/ne_json_writer.h"
#include "leaf/ne_leaf.h"

/* Bytes gathered before they are handed to the outbound queue. */
#define MON_PIECE_BYTES 1024

/* Room asked for one fixed-size item: a number, a time, a duration. */
#define MON_ITEM_BYTES 64

/* ---- The response body ---------------------------------------------------- */

/* A JSON body streamed into a monitoring connection's outbound queue. */
typedef struct mon_out {
    ne_conn *conn;
    ne_json_writer w;
    char buf[MON_PIECE_BYTES];
} mon_out;

static int mon_sink(void *ctx, const void *bytes, size_t len)
{
    return ne_conn_send(ctx, bytes, len);
}

static void out_init(mon_out *o, ne_conn *conn)
{
    o->conn = conn;
    ne_json_writer_init(&o->w, o->buf, sizeof(o->buf), mon_sink, conn);
}

/* Sends the rest of the body. A body that could not be queued whole is not
 * sent at all: the connection is closed with nothing of it flushed (the
 * client sees an empty reply, never a cut document), and the reason logged. */
static void out_finish(mon_out *o)
{
    int rc = ne_json_writer_finish(&o->w);
    if (rc == NE_OK) {
        return;
    }
    ne_conn *conn = o->conn;
    ne_server *srv = conn->srv;
    ne_log_warn(&srv->log, "%s:%u - Monitoring response not sent: %s", conn->ip,
                (unsigned)conn->port, ne_err_name(rc));
    conn->flush_before_close = false;
    ne_outq_clear(&conn->out, &srv->chunks);
    ne_conn_close(conn, NE_CLOSE_WRITE_ERROR, NULL);
}

static void put(mon_out *o, const char *text)
{
    ne_json_writer_puts(&o->w, text);
}

static void key(mon_out *o, bool *first, const char *name)
{
    ne_json_writer_key(&o->w, first, name);
}

static void kv_str(mon_out *o, bool *first, const char *name, const char *value)
{
    key(o, first, name);
    ne_json_writer_string(&o->w, value, strlen(value));
}

static void kv_u64(mon_out *o, bool *first, const char *name, uint64_t value)
{
    key(o, first, name);
    ne_json_writer_u64(&o->w, value);
}

static void kv_raw(mon_out *o, bool *first, const char *name, const char *raw)
{
    key(o, first, name);
    put(o, raw);
}

/* A value written by one of the ne_time formatters (at most MON_ITEM_BYTES
 * with its quotes when `quoted`). */
static void kv_formatted(mon_out *o, bool *first, const char *name,
                         void (*format)(ne_strbuf *, uint64_t), uint64_t value, bool quoted)
{
    key(o, first, name);
    ne_strbuf *sb = ne_json_writer_room(&o->w, MON_ITEM_BYTES);
    if (sb == NULL) {
        return;
    }
    if (quoted) {
        ne_strbuf_putc(sb, '"');
    }
    format(sb, value);
    if (quoted) {
        ne_strbuf_putc(sb, '"');
    }
}

static void kv_time(mon_out *o, bool *first, const char *name, uint64_t unix_ns)
{
    kv_formatted(o, first, name, ne_time_rfc3339, unix_ns, true);
}

static void kv_uptime(mon_out *o, bool *first, const char *name, uint64_t ns)
{
    kv_formatted(o, first, name, ne_time_uptime, ns, true);
}

static void kv_duration(mon_out *o, bool *first, const char *name, uint64_t ns)
{
    kv_formatted(o, first, name, ne_time_go_duration, ns, true);
}

/* Thousandths as a decimal fraction: 1234 -> 1.234. */
static void format_milli(ne_strbuf *sb, uint64_t milli)
{
    ne_strbuf_printf(sb, "%llu.%03llu", (unsigned long long)(milli / 1000),
                     (unsigned long long)(milli % 1000));
}

static void kv_milli(mon_out *o, bool *first, const char *name, uint64_t milli)
{
    kv_formatted(o, first, name, format_milli, milli, false);
}

/* "server_id" and "now", which most endpoints start with. */
static void kv_server_now(ne_server *srv, mon_out *o, bool *first)
{
    kv_str(o, first, "server_id", srv->server_id);
    kv_time(o, first, "now", ne_port_wall_ns());
}

/* ---- Requests --------------------------------------------------------------- */

typedef struct mon_query {
    const char *text;
    size_t len;
} mon_query;

/* Finds `name=value` in the query string; returns false if absent. */
static bool query_get(const mon_query *q, const char *name, const char **value, size_t *len)
{
    size_t n = strlen(name);
    size_t i = 0;
    while (i < q->len) {
        size_t end = i;
        while (end < q->len && q->text[end] != '&') {
            end++;
        }
        if (end - i >= n && memcmp(q->text + i, name, n) == 0 &&
            (end - i == n || q->text[i + n] == '=')) {
            *value = end - i == n ? q->text + end : q->text + i + n + 1;
            *len = end - i == n ? 0 : end - i - n - 1;
            return true;
        }
        i = end + 1;
    }
    return false;
}

static bool query_u64(const mon_query *q, const char *name, uint64_t *out_value)
{
    const char *v;
    size_t len;
    return query_get(q, name, &v, &len) && ne_parse_u64(v, len, UINT64_MAX / 2, out_value);
}

static bool query_is(const mon_query *q, const char *name, const char *want)
{
    const char *v;
    size_t len;
    return query_get(q, name, &v, &len) && len == strlen(want) && memcmp(v, want, len) == 0;
}

/* nats-server's boolean query values that mean yes. */
static bool query_true(const mon_query *q, const char *name)
{
    return query_is(q, name, "1") || query_is(q, name, "true");
}

static void send_head(ne_conn *conn, const char *status, const char *content_type)
{
    char text[192];
    size_t n =
        ne_fmt(text, sizeof(text), "HTTP/1.1 %s\r\nContent-Type: %s\r\nConnection: close\r\n\r\n",
               status, content_type);
    NE_ASSERT(n + 1 < sizeof(text));
    (void)ne_conn_send(conn, text, n);
}

static void send_status(ne_conn *conn, const char *status, const char *body)
{
    char text[256];
    size_t n = ne_fmt(text, sizeof(text),
                      "HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                      status, strlen(body), body);
    NE_ASSERT(n + 1 < sizeof(text));
    (void)ne_conn_send(conn, text, n);
}

static void send_json_head(ne_conn *conn)
{
    send_head(conn, "200 OK", "application/json");
}

/* ---- /varz ------------------------------------------------------------------ */

/* The paths /varz counts in http_req_stats, as nats-server names them (it
 * counts /subscriptionsz as /subsz, and neither /stacksz nor /ipqueuesz). */
typedef enum mon_stat {
    STAT_NONE = -1,
    STAT_ROOT,
    STAT_VARZ,
    STAT_CONNZ,
    STAT_ROUTEZ,
    STAT_GATEWAYZ,
    STAT_LEAFZ,
    STAT_SUBSZ,
    STAT_ACCOUNTZ,
    STAT_ACCSTATZ,
    STAT_JSZ,
    STAT_HEALTHZ,
} mon_stat;

static const char *const stat_names[] = {
    "/",      "/varz",     "/connz",    "/routez", "/gatewayz", "/leafz",
    "/subsz", "/accountz", "/accstatz", "/jsz",    "/healthz",
};
_Static_assert(NE_ARRAY_LEN(stat_names) == NE_MON_PATH_COUNT,
               "NE_MON_PATH_COUNT counts the paths of http_req_stats");

static uint32_t count_subs(const ne_server *srv)
{
    return srv->sub_pool.in_use;
}

/* natsedge only: the static TLS memory region and session pool. */
static void write_tls_memory(ne_server *srv, mon_out *o, bool *f)
{
    ne_tls_stats t;
    srv->tls.ops->stats(srv->tls.ctx, &t);
    bool g = true;
    key(o, f, "tls_memory");
    put(o, "{");
    kv_u64(o, &g, "region_bytes", t.region_bytes);
    kv_u64(o, &g, "in_use_bytes", t.in_use_bytes);
    kv_u64(o, &g, "peak_bytes", t.peak_bytes);
    kv_u64(o, &g, "sessions", t.sessions);
    kv_u64(o, &g, "max_sessions", t.max_sessions);
    kv_u64(o, &g, "refused", srv->tls_refused);
    kv_u64(o, &g, "handshakes", t.handshakes);
    kv_u64(o, &g, "handshake_failures", t.failures);
    put(o, "}");
}

/* natsedge only: what permissions and accounts refused or dropped. */
static void write_auth_counters(ne_server *srv, mon_out *o, bool *f)
{
    bool g = true;
    key(o, f, "natsedge_auth");
    put(o, "{");
    kv_u64(o, &g, "permission_violations", srv->stats.perm_violations);
    kv_u64(o, &g, "service_replies_refused", srv->stats.reply_maps_refused);
    kv_u64(o, &g, "response_perms_evicted", srv->stats.resp_perms_evicted);
    kv_u64(o, &g, "system_events", srv->stats.system_events);
    put(o, "}");
}

/* natsedge only: pools in use, so a long run can show they return to their
 * idle level (make soak-leaf). */
static void write_pools(ne_server *srv, mon_out *o, bool *f)
{
    bool g = true;
    key(o, f, "natsedge_pools");
    put(o, "{");
    kv_u64(o, &g, "connections", srv->conn_pool.in_use);
    kv_u64(o, &g, "subscriptions", srv->sub_pool.in_use);
    kv_u64(o, &g, "chunks", srv->chunks.chunks.in_use);
    kv_u64(o, &g, "outrefs", srv->chunks.refs.in_use);
    kv_u64(o, &g, "trie_nodes", srv->trie.pool.in_use);
    kv_u64(o, &g, "leaf_connections", srv->leaf.link_pool.in_use);
    kv_u64(o, &g, "leaf_interest", srv->leaf.interest_pool.in_use);
    put(o, "}");
}

static void format_tls_timeout(ne_strbuf *sb, uint64_t ms)
{
    ne_strbuf_printf(sb, "%u.%03u", (unsigned)(ms / 1000), (unsigned)(ms % 1000));
}

static void write_varz(ne_server *srv, mon_out *o, const mon_query *q)
{
    (void)q;
    bool f = true;
    uint64_t now = ne_port_wall_ns();
    put(o, "{");
    kv_str(o, &f, "server_id", srv->server_id);
    kv_str(o, &f, "server_name", srv->opts.server_name);
    kv_str(o, &f, "version", NE_ADVERTISED_VERSION);
    kv_u64(o, &f, "proto", 1);
    kv_str(o, &f, "go", "natsedge-" NE_VERSION);
    kv_str(o, &f, "host", srv->opts.host);
    kv_u64(o, &f, "port", srv->client_listener.port);
    kv_u64(o, &f, "max_connections", srv->opts.max_connections);
    kv_u64(o, &f, "ping_interval", (uint64_t)srv->opts.ping_interval_ms * 1000000u);
    kv_u64(o, &f, "ping_max", srv->opts.ping_max);
    kv_str(o, &f, "http_host", srv->opts.http_host);
    kv_u64(o, &f, "http_port", srv->opts.https ? 0 : srv->http_listener.port);
    kv_str(o, &f, "http_base_path", "");
    kv_u64(o, &f, "https_port", srv->opts.https ? srv->http_listener.port : 0);
    kv_u64(o, &f, "auth_timeout", NE_DEFAULT_AUTH_TIMEOUT_MS / 1000);
    kv_u64(o, &f, "max_control_line", srv->opts.max_control_line);
    kv_u64(o, &f, "max_payload", srv->opts.max_payload);
    kv_u64(o, &f, "max_pending", srv->opts.max_pending);
    kv_raw(o, &f, "cluster", "{}");
    kv_raw(o, &f, "gateway", "{}");
    kv_raw(o, &f, "leaf", "{}");
    kv_raw(o, &f, "mqtt", "{}");
    kv_raw(o, &f, "websocket", "{}");
    kv_raw(o, &f, "jetstream", "{}");
    if (srv->opts.tls) {
        kv_raw(o, &f, "tls_required", "true");
        if (srv->opts.tls_verify) {
            kv_raw(o, &f, "tls_verify", "true");
        }
    }
    kv_formatted(o, &f, "tls_timeout", format_tls_timeout, srv->opts.tls_timeout_ms, false);
    if (srv->tls.ops != NULL) {
        write_tls_memory(srv, o, &f);
    }
    if (srv->opts.perm_count > 0 || srv->opts.account_count > 2) {
        write_auth_counters(srv, o, &f);
    }
    if (srv->leaf.active) {
        write_pools(srv, o, &f);
    }
    kv_u64(o, &f, "write_deadline", (uint64_t)srv->opts.write_deadline_ms * 1000000u);
    kv_time(o, &f, "start", srv->start_wall_ns);
    kv_time(o, &f, "now", now);
    kv_uptime(o, &f, "uptime", now - srv->start_wall_ns);
    kv_u64(o, &f, "mem", ne_port_memory_bytes());
    kv_u64(o, &f, "cores", ne_port_cpu_count());
    kv_u64(o, &f, "gomaxprocs", 1);
    kv_u64(o, &f, "cpu", 0);
    kv_u64(o, &f, "connections", srv->client_count);
    kv_u64(o, &f, "total_connections", srv->stats.total_connections);
    kv_u64(o, &f, "routes", 0);
    kv_u64(o, &f, "remotes", 0);
    kv_u64(o, &f, "leafnodes", srv->leaf_count);
    kv_u64(o, &f, "in_msgs", srv->stats.in_msgs);
    kv_u64(o, &f, "out_msgs", srv->stats.out_msgs);
    kv_u64(o, &f, "in_bytes", srv->stats.in_bytes);
    kv_u64(o, &f, "out_bytes", srv->stats.out_bytes);
    kv_u64(o, &f, "slow_consumers", srv->stats.slow_consumers);
    kv_u64(o, &f, "subscriptions", count_subs(srv));
    key(o, &f, "http_req_stats");
    bool g = true;
    put(o, "{");
    for (uint32_t i = 0; i < NE_MON_PATH_COUNT; i++) {
        if (srv->http_req_stats[i] > 0) {
            kv_u64(o, &g, stat_names[i], srv->http_req_stats[i]);
        }
    }
    put(o, "}");
    kv_time(o, &f, "config_load_time", srv->config_load_wall_ns);
    put(o, "}");
}

/* ---- /connz ----------------------------------------------------------------- */

typedef enum conn_sort {
    SORT_CID,
    SORT_START,
    SORT_SUBS,
    SORT_PENDING,
    SORT_MSGS_TO,
    SORT_MSGS_FROM,
    SORT_BYTES_TO,
    SORT_BYTES_FROM,
    SORT_LAST,
    SORT_IDLE,
    SORT_UPTIME,
    SORT_RTT,
    SORT_STOP,
    SORT_REASON,
} conn_sort;

static const char *const sort_names[] = {
    "cid",        "start", "subs", "pending", "msgs_to", "msgs_from", "bytes_to",
    "bytes_from", "last",  "idle", "uptime",  "rtt",     "stop",      "reason"};

/* The sort key of an open connection; larger first except for cid/start. */
static uint64_t sort_key(const ne_conn *c, conn_sort sort, uint64_t now_ms)
{
    switch (sort) {
    case SORT_CID:
        return c->cid;
    case SORT_START:
        return c->start_wall_ns;
    case SORT_SUBS:
        return c->nsubs;
    case SORT_PENDING:
        return c->out.bytes;
    case SORT_MSGS_TO:
        return c->out_msgs;
    case SORT_MSGS_FROM:
        return c->in_msgs;
    case SORT_BYTES_TO:
        return c->out_bytes;
    case SORT_BYTES_FROM:
        return c->in_bytes;
    case SORT_LAST:
        return c->last_in_ms;
    case SORT_IDLE:
        return now_ms - c->last_in_ms;
    case SORT_UPTIME:
        return ~c->start_wall_ns;
    case SORT_RTT:
        return c->rtt_ns;
    default:
        return c->cid;
    }
}

static void write_conn_common(mon_out *o, bool *f, uint64_t cid, const char *ip, uint16_t port,
                              uint64_t start_ns)
{
    kv_u64(o, f, "cid", cid);
    kv_str(o, f, "kind", "Client");
    kv_str(o, f, "type", "nats");
    kv_str(o, f, "ip", ip);
    kv_u64(o, f, "port", port);
    kv_time(o, f, "start", start_ns);
}

/* name, lang and version, when the client said them in CONNECT. */
static void write_client_strings(mon_out *o, bool *f, const char *name, const char *lang,
                                 const char *version)
{
    if (name[0] != '\0') {
        kv_str(o, f, "name", name);
    }
    if (lang[0] != '\0') {
        kv_str(o, f, "lang", lang);
    }
    if (version[0] != '\0') {
        kv_str(o, f, "version", version);
    }
}

static void write_sub_detail(mon_out *o, const ne_conn *c, const ne_sub *s)
{
    bool g = true;
    put(o, "{");
    key(o, &g, "subject");
    ne_json_writer_string(&o->w, s->text, s->entry.subject_len);
    if (s->entry.queue_len > 0) {
        key(o, &g, "qgroup");
        ne_json_writer_string(&o->w, s->entry.queue, s->entry.queue_len);
    }
    key(o, &g, "sid");
    ne_json_writer_string(&o->w, s->text + s->entry.subject_len + s->entry.queue_len, s->sid_len);
    kv_u64(o, &g, "msgs", s->delivered);
    if (s->max_msgs > 0) {
        kv_u64(o, &g, "max", s->max_msgs);
    }
    kv_u64(o, &g, "cid", c->cid);
    put(o, "}");
}

static void write_subs_list(mon_out *o, bool *f, const ne_conn *c, bool detail)
{
    key(o, f, detail ? "subscriptions_list_detail" : "subscriptions_list");
    put(o, "[");
    uint32_t guard = 0;
    for (const ne_sub *s = c->subs; s != NULL && guard++ <= NE_MAX_SUBSCRIPTIONS;
         s = s->conn_next) {
        if (s != c->subs) {
            put(o, ",");
        }
        if (detail) {
            write_sub_detail(o, c, s);
        } else {
            ne_json_writer_string(&o->w, s->text, s->entry.subject_len);
        }
    }
    put(o, "]");
}

/* Go's names for the suites: mbedTLS's with '_' for '-'. */
static void write_tls_fields(ne_server *srv, mon_out *o, bool *f, const ne_conn *c)
{
    char suite[64];
    const char *name = srv->tls.ops->cipher(srv->tls.ctx, c->tls);
    size_t n = 0;
    for (; name[n] != '\0' && n + 1 < sizeof(suite); n++) {
        suite[n] = name[n] == '-' ? '_' : name[n];
    }
    suite[n] = '\0';
    kv_str(o, f, "tls_version", "1.2");
    kv_str(o, f, "tls_cipher_suite", suite);
}

static void write_open_conn(ne_server *srv, mon_out *o, const ne_conn *c, const mon_query *q,
                            uint64_t now_ns)
{
    bool f = true;
    put(o, "{");
    write_conn_common(o, &f, c->cid, c->ip, c->port, c->start_wall_ns);
    uint64_t idle_ns = (srv->now_ms - c->last_in_ms) * 1000000u;
    kv_time(o, &f, "last_activity", now_ns - idle_ns);
    kv_duration(o, &f, "rtt", c->rtt_ns);
    kv_uptime(o, &f, "uptime", now_ns - c->start_wall_ns);
    kv_uptime(o, &f, "idle", idle_ns);
    kv_u64(o, &f, "pending_bytes", c->out.bytes);
    kv_u64(o, &f, "in_msgs", c->in_msgs);
    kv_u64(o, &f, "out_msgs", c->out_msgs);
    kv_u64(o, &f, "in_bytes", c->in_bytes);
    kv_u64(o, &f, "out_bytes", c->out_bytes);
    kv_u64(o, &f, "subscriptions", c->nsubs);
    write_client_strings(o, &f, c->name, c->lang, c->version);
    if (c->tls != NULL && c->tls_done) {
        write_tls_fields(srv, o, &f, c);
    }
    bool detail = query_is(q, "subs", "detail");
    if ((query_true(q, "subs") || detail) && c->nsubs > 0) {
        write_subs_list(o, &f, c, detail);
    }
    put(o, "}");
}

static void write_closed_conn(mon_out *o, const ne_closed_conn *c)
{
    bool f = true;
    put(o, "{");
    write_conn_common(o, &f, c->cid, c->ip, c->port, c->start_wall_ns);
    kv_time(o, &f, "last_activity", c->stop_wall_ns);
    kv_time(o, &f, "stop", c->stop_wall_ns);
    kv_str(o, &f, "reason", ne_close_reason_text(c->reason));
    kv_duration(o, &f, "rtt", c->rtt_ns);
    kv_uptime(o, &f, "uptime", c->stop_wall_ns - c->start_wall_ns);
    kv_uptime(o, &f, "idle", 0);
    kv_u64(o, &f, "pending_bytes", 0);
    kv_u64(o, &f, "in_msgs", c->in_msgs);
    kv_u64(o, &f, "out_msgs", c->out_msgs);
    kv_u64(o, &f, "in_bytes", c->in_bytes);
    kv_u64(o, &f, "out_bytes", c->out_bytes);
    kv_u64(o, &f, "subscriptions", 0);
    write_client_strings(o, &f, c->name, c->lang, c->version);
    put(o, "}");
}

/* Open client connections, sorted into the server's scratch array. Shell
 * sort: no recursion, no allocation, fine for the few hundred connections a
 * board holds. */
static uint32_t sorted_conns(ne_server *srv, conn_sort sort, uint64_t cid_only)
{
    uint32_t n = 0;
    uint32_t guard = 0;
    for (ne_conn *c = srv->active; c != NULL && guard++ < NE_MAX_CONNECTIONS; c = c->next) {
        if (c->kind == NE_CONN_KIND_CLIENT && !c->closing &&
            (cid_only == 0 || c->cid == cid_only)) {
            srv->mon_scratch[n++] = c;
        }
    }
    bool ascending = sort == SORT_CID || sort == SORT_START;
    for (uint32_t gap = n / 2; gap > 0; gap /= 2) {
        for (uint32_t i = gap; i < n; i++) {
            ne_conn *tmp = srv->mon_scratch[i];
            uint64_t k = sort_key(tmp, sort, srv->now_ms);
            uint32_t j = i;
            while (j >= gap) {
                uint64_t kj = sort_key(srv->mon_scratch[j - gap], sort, srv->now_ms);
                if (ascending ? kj <= k : kj >= k) {
                    break;
                }
                srv->mon_scratch[j] = srv->mon_scratch[j - gap];
                j -= gap;
            }
            srv->mon_scratch[j] = tmp;
        }
    }
    return n;
}

static bool parse_sort(const mon_query *q, conn_sort *sort)
{
    const char *v;
    size_t len;
    *sort = SORT_CID;
    if (!query_get(q, "sort", &v, &len) || len == 0) {
        return true;
    }
    for (uint32_t i = 0; i < NE_ARRAY_LEN(sort_names); i++) {
        if (strlen(sort_names[i]) == len && memcmp(sort_names[i], v, len) == 0) {
            *sort = (conn_sort)i;
            return true;
        }
    }
    return false;
}

static void write_connz(ne_server *srv, ne_conn *conn, const mon_query *q)
{
    conn_sort sort;
    if (!parse_sort(q, &sort)) {
        send_status(conn, "400 Bad Request", "invalid sorting option");
        return;
    }
    uint64_t offset = 0, limit = 1024, cid = 0;
    (void)query_u64(q, "offset", &offset);
    (void)query_u64(q, "limit", &limit);
    (void)query_u64(q, "cid", &cid);
    bool closed = query_is(q, "state", "closed");
    bool any = query_is(q, "state", "any") || query_is(q, "state", "all");
    if ((sort == SORT_STOP || sort == SORT_REASON) && !closed) {
        send_status(conn, "400 Bad Request",
                    "sort by stop or reason is only valid for closed connections");
        return;
    }
    send_json_head(conn);
    mon_out o;
    out_init(&o, conn);
    uint64_t now_ns = ne_port_wall_ns();
    uint32_t open_n = closed ? 0 : sorted_conns(srv, sort, cid);
    uint32_t closed_n = 0;
    if (closed || any) {
        closed_n = (uint32_t)NE_MIN(srv->closed_total, (uint64_t)NE_CLOSED_CONN_RING);
    }
    uint64_t total = (uint64_t)open_n + closed_n;
    bool f = true;
    put(&o, "{");
    kv_str(&o, &f, "server_id", srv->server_id);
    kv_time(&o, &f, "now", now_ns);
    uint64_t shown = offset < total ? NE_MIN(limit, total - offset) : 0;
    kv_u64(&o, &f, "num_connections", shown);
    kv_u64(&o, &f, "total", total);
    kv_u64(&o, &f, "offset", offset);
    kv_u64(&o, &f, "limit", limit);
    key(&o, &f, "connections");
    put(&o, "[");
    for (uint64_t i = offset; i < offset + shown; i++) {
        if (i > offset) {
            put(&o, ",");
        }
        if (i < open_n) {
            write_open_conn(srv, &o, srv->mon_scratch[i], q, now_ns);
        } else {
            /* Oldest remembered closed connection first, as nats-server
             * sorts by cid. */
            uint32_t idx =
                (srv->closed_next + NE_CLOSED_CONN_RING - closed_n + (uint32_t)(i - open_n)) %
                NE_CLOSED_CONN_RING;
            write_closed_conn(&o, &srv->closed[idx]);
        }
    }
    put(&o, "]}");
    out_finish(&o);
}

/* ---- /subsz, /accountz, /accstatz ---------------------------------------------- */

typedef struct sublist_sums {
    uint64_t inserts, removes, matches, cache_hits, cached;
} sublist_sums;

static sublist_sums sublist_totals(const ne_server *srv)
{
    sublist_sums t = {0, 0, 0, 0, 0};
    for (uint32_t i = 0; i < srv->account_count; i++) {
        const ne_sublist *sl = &srv->accounts[i].sublist;
        t.inserts += sl->inserts;
        t.removes += sl->removes;
        t.matches += sl->matches;
        t.cache_hits += sl->cache_hits;
        t.cached += ne_sublist_cache_valid(sl) ? 1u : 0u;
    }
    return t;
}

static void write_subsz(ne_server *srv, mon_out *o, const mon_query *q)
{
    (void)q;
    bool f = true;
    sublist_sums t = sublist_totals(srv);
    uint64_t matches = t.matches;
    put(o, "{");
    kv_u64(o, &f, "num_subscriptions", count_subs(srv));
    kv_u64(o, &f, "num_cache", t.cached);
    kv_u64(o, &f, "num_inserts", t.inserts);
    kv_u64(o, &f, "num_removes", t.removes);
    kv_u64(o, &f, "num_matches", matches);
    kv_milli(o, &f, "cache_hit_rate", matches > 0 ? t.cache_hits * 1000u / matches : 0);
    kv_u64(o, &f, "max_fanout", srv->stats.fanout_max);
    kv_milli(o, &f, "avg_fanout", matches > 0 ? srv->stats.fanout_total * 1000u / matches : 0);
    put(o, "}");
}

static void write_accountz(ne_server *srv, mon_out *o, const mon_query *q)
{
    (void)q;
    bool f = true;
    put(o, "{");
    kv_server_now(srv, o, &f);
    uint8_t sys = srv->opts.system_account;
    kv_str(o, &f, "system_account", sys == NE_ACCOUNT_NONE ? "" : srv->opts.accounts[sys].name);
    key(o, &f, "accounts");
    put(o, "[");
    for (uint32_t i = 0; i < srv->account_count; i++) {
        if (i > 0) {
            put(o, ",");
        }
        const char *name = srv->opts.accounts[i].name;
        ne_json_writer_string(&o->w, name, strlen(name));
    }
    put(o, "]}");
}

static uint32_t account_leafs(const ne_server *srv, const ne_account *acc)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < NE_MAX_LEAF_CONNECTIONS; i++) {
        const ne_leaf_link *link = srv->leaf.links[i];
        n += link != NULL && link->state == NE_LEAF_ESTABLISHED && link->conn->acc == acc ? 1u : 0u;
    }
    return n;
}

/* Accounts with local connections (all with unused=1; those named by acc=),
 * each with nats-server's AccountStat fields. */
static void write_accstatz(ne_server *srv, mon_out *o, const mon_query *q)
{
    bool unused = query_true(q, "unused");
    const char *only = NULL;
    size_t only_len = 0;
    bool filtered = query_get(q, "acc", &only, &only_len) && only_len > 0;
    bool f = true;
    put(o, "{");
    kv_server_now(srv, o, &f);
    key(o, &f, "account_statz");
    put(o, "[");
    bool first_acc = true;
    for (uint32_t i = 0; i < srv->account_count; i++) {
        const ne_account *acc = &srv->accounts[i];
        const char *name = srv->opts.accounts[i].name;
        uint32_t leafs = account_leafs(srv, acc);
        if ((filtered && (strlen(name) != only_len || memcmp(name, only, only_len) != 0)) ||
            (!unused && acc->clients + leafs == 0)) {
            continue;
        }
        if (!first_acc) {
            put(o, ",");
        }
        first_acc = false;
        bool g = true;
        put(o, "{");
        kv_str(o, &g, "acc", name);
        kv_u64(o, &g, "conns", acc->clients);
        kv_u64(o, &g, "leafnodes", leafs);
        kv_u64(o, &g, "total_conns", (uint64_t)acc->clients + leafs);
        bool h = true;
        key(o, &g, "sent");
        put(o, "{");
        kv_u64(o, &h, "msgs", acc->out_msgs);
        kv_u64(o, &h, "bytes", acc->out_bytes);
        put(o, "}");
        h = true;
        key(o, &g, "received");
        put(o, "{");
        kv_u64(o, &h, "msgs", acc->in_msgs);
        kv_u64(o, &h, "bytes", acc->in_bytes);
        put(o, "}");
        kv_u64(o, &g, "slow_consumers", acc->slow_consumers);
        put(o, "}");
    }
    put(o, "]}");
}

/* ---- Endpoints of features natsedge does not have ------------------------------------ */

static void write_routez(ne_server *srv, mon_out *o, const mon_query *q)
{
    (void)q;
    bool f = true;
    put(o, "{");
    kv_server_now(srv, o, &f);
    kv_u64(o, &f, "num_routes", 0);
    kv_raw(o, &f, "routes", "[]");
    put(o, "}");
}

static void write_gatewayz(ne_server *srv, mon_out *o, const mon_query *q)
{
    (void)q;
    bool f = true;
    put(o, "{");
    kv_server_now(srv, o, &f);
    kv_raw(o, &f, "outbound_gateways", "{}");
    kv_raw(o, &f, "inbound_gateways", "{}");
    put(o, "}");
}

/* What nats-server answers with JetStream disabled. */
static void write_jsz(ne_server *srv, mon_out *o, const mon_query *q)
{
    (void)q;
    bool f = true;
    put(o, "{");
    kv_server_now(srv, o, &f);
    kv_raw(o, &f, "disabled", "true");
    kv_raw(o, &f, "config", "{\"max_memory\":0,\"max_storage\":0}");
    static const char *const zeros[] = {"memory",           "storage",  "reserved_memory",
                                        "reserved_storage", "accounts", "ha_assets"};
    for (size_t i = 0; i < NE_ARRAY_LEN(zeros); i++) {
        kv_u64(o, &f, zeros[i], 0);
    }
    kv_raw(o, &f, "api", "{\"total\":0,\"errors\":0}");
    static const char *const counts[] = {"streams", "consumers", "messages", "bytes"};
    for (size_t i = 0; i < NE_ARRAY_LEN(counts); i++) {
        kv_u64(o, &f, counts[i], 0);
    }
    put(o, "}");
}

static void write_ipqueuesz(ne_server *srv, mon_out *o, const mon_query *q)
{
    (void)srv;
    (void)q;
    put(o, "{}");
}

static void write_healthz(ne_server *srv, mon_out *o, const mon_query *q)
{
    (void)srv;
    (void)q;
    put(o, "{\"status\":\"ok\"}");
}

/* ---- Responses that are not JSON documents ----------------------------------------- */

static void respond_connz(ne_conn *conn, const mon_query *q)
{
    write_connz(conn->srv, conn, q);
}

static void write_leafz(ne_server *srv, mon_out *o, const mon_query *q)
{
    ne_leaf_leafz(srv, &o->w, query_true(q, "subs"));
}

/* The index page: a link to each endpoint. */
static void respond_root(ne_conn *conn, const mon_query *q)
{
    (void)q;
    send_head(conn, "200 OK", "text/html; charset=utf-8");
    mon_out o;
    out_init(&o, conn);
    put(&o, "<html lang=\"en\">\n<head><title>natsedge</title></head>\n<body>\n");
    for (size_t i = 1; i < NE_ARRAY_LEN(stat_names); i++) {
        put(&o, "<a href=\".");
        put(&o, stat_names[i]);
        put(&o, "\">");
        put(&o, stat_names[i] + 1);
        put(&o, "</a><br>\n");
    }
    put(&o, "</body>\n</html>\n");
    out_finish(&o);
}

/* nats-server dumps its goroutines' stacks here; natsedge runs one event
 * loop on one thread and says so. */
static void respond_stacksz(ne_conn *conn, const mon_query *q)
{
    (void)q;
    send_head(conn, "200 OK", "text/plain; charset=utf-8");
    static const char text[] = "natsedge runs one event loop on one thread: no stacks to show\n";
    (void)ne_conn_send(conn, text, sizeof(text) - 1);
}

/* ---- The paths ----------------------------------------------------------------------- */

typedef void (*mon_json_body)(ne_server *srv, mon_out *o, const mon_query *q);
typedef void (*mon_respond)(ne_conn *conn, const mon_query *q);

/* Every path nats-server 2.9 serves, and how natsedge answers it: a JSON
 * document (200, application/json) or a response of its own. */
typedef struct mon_path {
    const char *path;
    size_t path_len;
    mon_json_body json;  /* NULL: respond writes the whole response */
    mon_respond respond; /* NULL: json does */
    mon_stat stat;
} mon_path;

#define MON_JSON(p, body, stat)                                                                    \
    {                                                                                              \
        p, sizeof(p) - 1, body, NULL, stat                                                         \
    }
#define MON_OTHER(p, fn, stat)                                                                     \
    {                                                                                              \
        p, sizeof(p) - 1, NULL, fn, stat                                                           \
    }

static const mon_path mon_paths[] = {
    MON_OTHER("/", respond_root, STAT_ROOT),
    MON_JSON("/varz", write_varz, STAT_VARZ),
    MON_OTHER("/connz", respond_connz, STAT_CONNZ),
    MON_JSON("/routez", write_routez, STAT_ROUTEZ),
    MON_JSON("/gatewayz", write_gatewayz, STAT_GATEWAYZ),
    MON_JSON("/leafz", write_leafz, STAT_LEAFZ),
    MON_JSON("/subsz", write_subsz, STAT_SUBSZ),
    MON_JSON("/subscriptionsz", write_subsz, STAT_SUBSZ),
    MON_OTHER("/stacksz", respond_stacksz, STAT_NONE),
    MON_JSON("/accountz", write_accountz, STAT_ACCOUNTZ),
    MON_JSON("/accstatz", write_accstatz, STAT_ACCSTATZ),
    MON_JSON("/jsz", write_jsz, STAT_JSZ),
    MON_JSON("/healthz", write_healthz, STAT_HEALTHZ),
    MON_JSON("/ipqueuesz", write_ipqueuesz, STAT_NONE),
};

static const mon_path *find_path(const char *path, size_t path_len)
{
    for (size_t i = 0; i < NE_ARRAY_LEN(mon_paths); i++) {
        const mon_path *p = &mon_paths[i];
        if (p->path_len == path_len && memcmp(p->path, path, path_len) == 0) {
            return p;
        }
    }
    return NULL;
}

static void respond(ne_conn *conn, const char *path, size_t path_len, const mon_query *q)
{
    ne_server *srv = conn->srv;
    const mon_path *p = find_path(path, path_len);
    if (p == NULL) {
        send_status(conn, "404 Not Found", "404 page not found\n");
        return;
    }
    if (p->stat != STAT_NONE) {
        NE_ASSERT((uint32_t)p->stat < NE_MON_PATH_COUNT);
        srv->http_req_stats[p->stat]++;
    }
    if (p->respond != NULL) {
        p->respond(conn, q);
        return;
    }
    send_json_head(conn);
    mon_out o;
    out_init(&o, conn);
    p->json(srv, &o, q);
    out_finish(&o);
}

void ne_mon_process_input(ne_conn *conn)
{
    const char *buf = (const char *)conn->rbuf;
    size_t len = conn->rlen;
    /* Wait for the end of the header block; a request larger than the
     * bounded request size is refused. */
    const char *end = NULL;
    for (size_t i = 3; i < len; i++) {
        if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r') {
            end = buf + i + 1;
            break;
        }
    }
    if (end == NULL) {
        if (len >= NE_HTTP_REQUEST_BYTES) {
            send_status(conn, "431 Request Header Fields Too Large", "request too large\n");
            ne_conn_close(conn, NE_CLOSE_CLIENT_CLOSED, NULL);
            conn->flush_before_close = true;
        }
        return;
    }
    conn->rlen = 0;
    const char *line_end = memchr(buf, '\r', (size_t)(end - buf));
    const char *sp1 = memchr(buf, ' ', (size_t)(line_end - buf));
    const char *sp2 = sp1 != NULL ? memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1)) : NULL;
    if (sp1 == NULL || sp2 == NULL || sp1[1] != '/' || (size_t)(line_end - sp2 - 1) < 8 ||
        memcmp(sp2 + 1, "HTTP/1.", 7) != 0) {
        send_status(conn, "400 Bad Request", "malformed request\n");
    } else if (sp1 - buf != 3 || memcmp(buf, "GET", 3) != 0) {
        send_status(conn, "405 Method Not Allowed", "method not allowed\n");
    } else {
        const char *target = sp1 + 1;
        size_t target_len = (size_t)(sp2 - target);
        const char *qmark = memchr(target, '?', target_len);
        size_t path_len = qmark != NULL ? (size_t)(qmark - target) : target_len;
        mon_query q = {qmark != NULL ? qmark + 1 : "",
                       qmark != NULL ? target_len - path_len - 1 : 0};
        respond(conn, target, path_len, &q);
    }
    if (!conn->closing) {
        conn->flush_before_close = true;
        ne_conn_close(conn, NE_CLOSE_CLIENT_CLOSED, NULL);
    }
}

/* ---- Connections --------------------------------------------------------------------- */

void ne_mon_accepted(ne_conn *conn)
{
    NE_ASSERT(conn->kind == NE_CONN_KIND_HTTP);
    conn->auth_deadline_ms = conn->srv->now_ms + NE_HTTP_REQUEST_TIMEOUT_MS;
}

void ne_mon_timer(ne_conn *conn, uint64_t now_ms)
{
    NE_ASSERT(conn->kind == NE_CONN_KIND_HTTP);
    if (!conn->closing && now_ms >= conn->auth_deadline_ms) {
        /* As Go's HTTP server on its read header timeout: no answer. */
        ne_log_debug(&conn->srv->log, "%s:%u - Monitoring request not received within %u ms",
                     conn->ip, (unsigned)conn->port, (unsigned)NE_HTTP_REQUEST_TIMEOUT_MS);
        ne_conn_close(conn, NE_CLOSE_STALE, NULL);
    }
}

/* A connection that answered is closing; the others wait for their request.
 * The oldest waiting one is the one accepted first: the lowest cid. */
bool ne_mon_admit(ne_server *srv)
{
    uint32_t waiting = 0;
    ne_conn *oldest = NULL;
    uint32_t guard = 0;
    for (ne_conn *c = srv->active; c != NULL && guard++ < NE_MAX_CONNECTIONS; c = c->next) {
        if (c->kind != NE_CONN_KIND_HTTP || c->closing) {
            continue;
        }
        waiting++;
        if (oldest == NULL || c->cid < oldest->cid) {
            oldest = c;
        }
    }
    if (srv->http_count >= 2u * NE_MAX_HTTP_CONNECTIONS) {
        return false; /* the closed ones go at the end of this turn */
    }
    if (waiting < NE_MAX_HTTP_CONNECTIONS) {
        return true;
    }
    NE_ASSERT(oldest != NULL);
    ne_log_warn(&srv->log,
                "%s:%u - Monitoring connections all busy (NE_MAX_HTTP_CONNECTIONS %u): closing "
                "the oldest, which has not sent its request",
                oldest->ip, (unsigned)oldest->port, (unsigned)NE_MAX_HTTP_CONNECTIONS);
    ne_conn_close(oldest, NE_CLOSE_STALE, NULL);
    return true;
}

int ne_mon_start(ne_server *srv)
{
    if (!srv->opts.http_enabled) {
        return NE_OK;
    }
    const ne_net_ops *ops = srv->net.ops;
    int rc = ops->listen(srv->net.ctx, srv->opts.http_host, srv->opts.http_port,
                         &srv->http_listener.sock);
    if (rc != NE_OK) {
        ne_log_error(&srv->log, "Error listening on monitoring port: %s:%u, %s",
                     srv->opts.http_host, (unsigned)srv->opts.http_port, ne_err_name(rc));
        return rc;
    }
    srv->http_listener.port = ops->local_port(srv->net.ctx, srv->http_listener.sock);
    rc = ops->attach(srv->net.ctx, srv->http_listener.sock, &srv->http_listener);
    if (rc != NE_OK) {
        return rc;
    }
    ne_log_info(&srv->log, "Starting %s monitor on %s:%u", srv->opts.https ? "https" : "http",
                srv->opts.http_host, (unsigned)srv->http_listener.port);
    return NE_OK;
}
