#include "mon/ne_mon.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "core/ne_time.h"
#include "leaf/ne_leaf.h"

/* Bytes gathered before they are handed to the outbound queue. Any single
 * field written between flushes is shorter than the slack. */
#define MON_PIECE_BYTES 1024
#define MON_FLUSH_AT 640

typedef struct mon_out {
    ne_conn *conn;
    ne_strbuf sb;
    char buf[MON_PIECE_BYTES];
} mon_out;

static void out_init(mon_out *o, ne_conn *conn)
{
    o->conn = conn;
    ne_strbuf_init(&o->sb, o->buf, sizeof(o->buf));
}

static void out_flush(mon_out *o)
{
    if (o->sb.len > 0) {
        (void)ne_conn_send(o->conn, o->buf, o->sb.len);
    }
    ne_strbuf_init(&o->sb, o->buf, sizeof(o->buf));
}

static ne_strbuf *out(mon_out *o)
{
    if (o->sb.len >= MON_FLUSH_AT) {
        out_flush(o);
    }
    return &o->sb;
}

static void key(mon_out *o, bool *first, const char *name)
{
    ne_strbuf *sb = out(o);
    if (!*first) {
        ne_strbuf_putc(sb, ',');
    }
    *first = false;
    ne_strbuf_json_string(sb, name, strlen(name));
    ne_strbuf_putc(sb, ':');
}

static void kv_str(mon_out *o, bool *first, const char *name, const char *value)
{
    key(o, first, name);
    ne_strbuf_json_string(out(o), value, strlen(value));
}

static void kv_u64(mon_out *o, bool *first, const char *name, uint64_t value)
{
    key(o, first, name);
    ne_strbuf_u64(out(o), value);
}

static void kv_raw(mon_out *o, bool *first, const char *name, const char *raw)
{
    key(o, first, name);
    ne_strbuf_puts(out(o), raw);
}

/* A string value written by one of the ne_time formatters. */
static void kv_quoted(mon_out *o, bool *first, const char *name,
                      void (*format)(ne_strbuf *, uint64_t), uint64_t value)
{
    key(o, first, name);
    ne_strbuf *sb = out(o);
    ne_strbuf_putc(sb, '"');
    format(sb, value);
    ne_strbuf_putc(sb, '"');
}

static void kv_time(mon_out *o, bool *first, const char *name, uint64_t unix_ns)
{
    kv_quoted(o, first, name, ne_time_rfc3339, unix_ns);
}

static void kv_uptime(mon_out *o, bool *first, const char *name, uint64_t ns)
{
    kv_quoted(o, first, name, ne_time_uptime, ns);
}

static void kv_duration(mon_out *o, bool *first, const char *name, uint64_t ns)
{
    kv_quoted(o, first, name, ne_time_go_duration, ns);
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

static void send_status(ne_conn *conn, const char *status, const char *body)
{
    char text[256];
    size_t n = ne_fmt(text, sizeof(text),
                      "HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                      status, strlen(body), body);
    (void)ne_conn_send(conn, text, n);
}

static void send_json_head(ne_conn *conn, const char *status)
{
    char text[160];
    size_t n = ne_fmt(text, sizeof(text),
                      "HTTP/1.1 %s\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
                      status);
    (void)ne_conn_send(conn, text, n);
}

/* ---- /varz ------------------------------------------------------------------ */

static uint32_t count_subs(const ne_server *srv)
{
    return srv->sub_pool.in_use;
}

static void write_varz(ne_server *srv, mon_out *o)
{
    bool f = true;
    uint64_t now = ne_port_wall_ns();
    ne_strbuf_putc(out(o), '{');
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
    key(o, &f, "tls_timeout");
    ne_strbuf_printf(out(o), "%u.%03u", (unsigned)(srv->opts.tls_timeout_ms / 1000),
                     (unsigned)(srv->opts.tls_timeout_ms % 1000));
    if (srv->tls.ops != NULL) {
        /* natsedge only: the static TLS memory region and session pool. */
        ne_tls_stats t;
        srv->tls.ops->stats(srv->tls.ctx, &t);
        bool g = true;
        key(o, &f, "tls_memory");
        ne_strbuf_putc(out(o), '{');
        kv_u64(o, &g, "region_bytes", t.region_bytes);
        kv_u64(o, &g, "in_use_bytes", t.in_use_bytes);
        kv_u64(o, &g, "peak_bytes", t.peak_bytes);
        kv_u64(o, &g, "sessions", t.sessions);
        kv_u64(o, &g, "max_sessions", t.max_sessions);
        kv_u64(o, &g, "refused", srv->tls_refused);
        kv_u64(o, &g, "handshakes", t.handshakes);
        kv_u64(o, &g, "handshake_failures", t.failures);
        ne_strbuf_putc(out(o), '}');
    }
    if (srv->opts.perm_count > 0 || srv->opts.account_count > 2) {
        /* natsedge only: what permissions and accounts refused or dropped. */
        bool g = true;
        key(o, &f, "natsedge_auth");
        ne_strbuf_putc(out(o), '{');
        kv_u64(o, &g, "permission_violations", srv->stats.perm_violations);
        kv_u64(o, &g, "service_replies_refused", srv->stats.reply_maps_refused);
        kv_u64(o, &g, "response_perms_evicted", srv->stats.resp_perms_evicted);
        kv_u64(o, &g, "system_events", srv->stats.system_events);
        ne_strbuf_putc(out(o), '}');
    }
    if (srv->leaf.active) {
        /* natsedge only: pools in use, so a long run can show they return to
         * their idle level (make soak-leaf). */
        bool g = true;
        key(o, &f, "natsedge_pools");
        ne_strbuf_putc(out(o), '{');
        kv_u64(o, &g, "connections", srv->conn_pool.in_use);
        kv_u64(o, &g, "subscriptions", srv->sub_pool.in_use);
        kv_u64(o, &g, "chunks", srv->chunks.chunks.in_use);
        kv_u64(o, &g, "outrefs", srv->chunks.refs.in_use);
        kv_u64(o, &g, "trie_nodes", srv->trie.pool.in_use);
        kv_u64(o, &g, "leaf_connections", srv->leaf.link_pool.in_use);
        kv_u64(o, &g, "leaf_interest", srv->leaf.interest_pool.in_use);
        ne_strbuf_putc(out(o), '}');
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
    {
        bool g = true;
        ne_strbuf_putc(out(o), '{');
        for (uint32_t i = 0; i < NE_MON_PATH_COUNT; i++) {
            if (srv->http_req_stats[i] > 0) {
                kv_u64(o, &g, ne_mon_paths[i], srv->http_req_stats[i]);
            }
        }
        ne_strbuf_putc(out(o), '}');
    }
    kv_time(o, &f, "config_load_time", srv->config_load_wall_ns);
    ne_strbuf_putc(out(o), '}');
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

static void write_open_conn(ne_server *srv, mon_out *o, const ne_conn *c, const mon_query *q,
                            uint64_t now_ns)
{
    bool f = true;
    ne_strbuf_putc(out(o), '{');
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
    if (c->name[0] != '\0') {
        kv_str(o, &f, "name", c->name);
    }
    if (c->lang[0] != '\0') {
        kv_str(o, &f, "lang", c->lang);
    }
    if (c->version[0] != '\0') {
        kv_str(o, &f, "version", c->version);
    }
    if (c->tls != NULL && c->tls_done) {
        /* Go's names for the suites: mbedTLS's with '_' for '-'. */
        char suite[64];
        const char *name = srv->tls.ops->cipher(srv->tls.ctx, c->tls);
        size_t n = 0;
        for (; name[n] != '\0' && n + 1 < sizeof(suite); n++) {
            suite[n] = name[n] == '-' ? '_' : name[n];
        }
        suite[n] = '\0';
        kv_str(o, &f, "tls_version", "1.2");
        kv_str(o, &f, "tls_cipher_suite", suite);
    }
    bool detail = query_is(q, "subs", "detail");
    if ((query_is(q, "subs", "1") || query_is(q, "subs", "true") || detail) && c->nsubs > 0) {
        key(o, &f, detail ? "subscriptions_list_detail" : "subscriptions_list");
        ne_strbuf_putc(out(o), '[');
        uint32_t guard = 0;
        for (const ne_sub *s = c->subs; s != NULL && guard++ <= NE_MAX_SUBSCRIPTIONS;
             s = s->conn_next) {
            ne_strbuf *sb = out(o);
            if (s != c->subs) {
                ne_strbuf_putc(sb, ',');
            }
            if (detail) {
                bool g = true;
                ne_strbuf_putc(sb, '{');
                key(o, &g, "subject");
                ne_strbuf_json_string(out(o), s->text, s->entry.subject_len);
                if (s->entry.queue_len > 0) {
                    key(o, &g, "qgroup");
                    ne_strbuf_json_string(out(o), s->entry.queue, s->entry.queue_len);
                }
                key(o, &g, "sid");
                ne_strbuf_json_string(out(o), s->text + s->entry.subject_len + s->entry.queue_len,
                                      s->sid_len);
                kv_u64(o, &g, "msgs", s->delivered);
                if (s->max_msgs > 0) {
                    kv_u64(o, &g, "max", s->max_msgs);
                }
                kv_u64(o, &g, "cid", c->cid);
                ne_strbuf_putc(out(o), '}');
            } else {
                ne_strbuf_json_string(sb, s->text, s->entry.subject_len);
            }
        }
        ne_strbuf_putc(out(o), ']');
    }
    ne_strbuf_putc(out(o), '}');
}

static void write_closed_conn(mon_out *o, const ne_closed_conn *c)
{
    bool f = true;
    ne_strbuf_putc(out(o), '{');
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
    kv_u64(o, &f, "subscriptions", c->subscriptions);
    if (c->name[0] != '\0') {
        kv_str(o, &f, "name", c->name);
    }
    if (c->lang[0] != '\0') {
        kv_str(o, &f, "lang", c->lang);
    }
    if (c->version[0] != '\0') {
        kv_str(o, &f, "version", c->version);
    }
    ne_strbuf_putc(out(o), '}');
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
    send_json_head(conn, "200 OK");
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
    ne_strbuf_putc(out(&o), '{');
    kv_str(&o, &f, "server_id", srv->server_id);
    kv_time(&o, &f, "now", now_ns);
    uint64_t shown = offset < total ? NE_MIN(limit, total - offset) : 0;
    kv_u64(&o, &f, "num_connections", shown);
    kv_u64(&o, &f, "total", total);
    kv_u64(&o, &f, "offset", offset);
    kv_u64(&o, &f, "limit", limit);
    key(&o, &f, "connections");
    ne_strbuf_putc(out(&o), '[');
    for (uint64_t i = offset; i < offset + shown; i++) {
        if (i > offset) {
            ne_strbuf_putc(out(&o), ',');
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
    ne_strbuf_puts(out(&o), "]}");
    out_flush(&o);
}

/* ---- /subsz, /accountz, /healthz ---------------------------------------------- */

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

static void write_subsz(ne_server *srv, mon_out *o)
{
    bool f = true;
    sublist_sums t = sublist_totals(srv);
    uint64_t matches = t.matches;
    ne_strbuf_putc(out(o), '{');
    kv_u64(o, &f, "num_subscriptions", count_subs(srv));
    kv_u64(o, &f, "num_cache", t.cached);
    kv_u64(o, &f, "num_inserts", t.inserts);
    kv_u64(o, &f, "num_removes", t.removes);
    kv_u64(o, &f, "num_matches", matches);
    key(o, &f, "cache_hit_rate");
    ne_strbuf *sb = out(o);
    uint64_t hit_milli = matches > 0 ? t.cache_hits * 1000u / matches : 0;
    ne_strbuf_printf(sb, "%llu.%03llu", (unsigned long long)(hit_milli / 1000),
                     (unsigned long long)(hit_milli % 1000));
    kv_u64(o, &f, "max_fanout", srv->stats.fanout_max);
    key(o, &f, "avg_fanout");
    uint64_t avg_milli = matches > 0 ? srv->stats.fanout_total * 1000u / matches : 0;
    ne_strbuf_printf(sb, "%llu.%03llu", (unsigned long long)(avg_milli / 1000),
                     (unsigned long long)(avg_milli % 1000));
    ne_strbuf_putc(out(o), '}');
}

static void write_accountz(ne_server *srv, mon_out *o)
{
    bool f = true;
    ne_strbuf_putc(out(o), '{');
    kv_str(o, &f, "server_id", srv->server_id);
    kv_time(o, &f, "now", ne_port_wall_ns());
    /* Without a system account (no_system_account) the key is omitted, as
     * nats-server omits it. */
    uint8_t sys = srv->opts.system_account;
    if (sys != NE_ACCOUNT_NONE) {
        kv_str(o, &f, "system_account", srv->opts.accounts[sys].name);
    }
    key(o, &f, "accounts");
    ne_strbuf *sb = out(o);
    ne_strbuf_putc(sb, '[');
    for (uint32_t i = 0; i < srv->account_count; i++) {
        if (i > 0) {
            ne_strbuf_putc(sb, ',');
        }
        const char *name = srv->opts.accounts[i].name;
        ne_strbuf_json_string(sb, name, strlen(name));
    }
    ne_strbuf_putc(sb, ']');
    ne_strbuf_putc(out(o), '}');
}

const char *const ne_mon_paths[NE_MON_PATH_COUNT] = {"/varz", "/connz", "/subsz", "/accountz",
                                                     "/healthz"};

static void respond(ne_conn *conn, const char *path, size_t path_len, const mon_query *q)
{
    ne_server *srv = conn->srv;
    int which = -1;
    for (int i = 0; i < NE_MON_PATH_COUNT; i++) {
        if (strlen(ne_mon_paths[i]) == path_len && memcmp(ne_mon_paths[i], path, path_len) == 0) {
            which = i;
        }
    }
    /* nats-server's other name for /subsz. */
    if (path_len == sizeof("/subscriptionsz") - 1 &&
        memcmp(path, "/subscriptionsz", sizeof("/subscriptionsz") - 1) == 0) {
        which = 2;
    }
    if (path_len == 6 && memcmp(path, "/leafz", 6) == 0) {
        send_json_head(conn, "200 OK");
        ne_leaf_leafz(conn, query_is(q, "subs", "1") || query_is(q, "subs", "true"));
        return;
    }
    if (which < 0) {
        send_status(conn, "404 Not Found", "404 page not found\n");
        return;
    }
    srv->http_req_stats[which]++;
    if (which == 1) {
        write_connz(srv, conn, q);
        return;
    }
    send_json_head(conn, "200 OK");
    mon_out o;
    out_init(&o, conn);
    switch (which) {
    case 0:
        write_varz(srv, &o);
        break;
    case 2:
        write_subsz(srv, &o);
        break;
    case 3:
        write_accountz(srv, &o);
        break;
    default:
        ne_strbuf_puts(out(&o), "{\"status\":\"ok\"}");
        break;
    }
    out_flush(&o);
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
    conn->flush_before_close = true;
    ne_conn_close(conn, NE_CLOSE_CLIENT_CLOSED, NULL);
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
