/* HTTP monitoring (ne_mon.h): the HTTP kind, the endpoint table, and
 * /connz, /subsz, /accountz and /healthz with nats-server's field names. */
#include "mon/ne_mon.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "json/ne_json.h"

/* Bytes gathered before they are handed to the outbound queue. */
#define MON_PIECE_BYTES 1024

static ne_mon *mon_of(const ne_conn *conn)
{
    return ne_conn_kind_of(conn)->ctx;
}

/* ---- Endpoints ------------------------------------------------------------------ */

ne_mon_endpoint *ne_mon_register(ne_mon *mon, const char *path, const char *alias, const char *name,
                                 ne_mon_handler handler, void *ctx)
{
    /* A path registered again takes the place of the first (this module's
     * answer for a feature without it, e.g. /routez without routes). */
    ne_mon_endpoint *e = NULL;
    for (uint32_t i = 0; i < mon->endpoint_count && e == NULL; i++) {
        e = strcmp(mon->endpoints[i].path, path) == 0 ? &mon->endpoints[i] : NULL;
    }
    if (e == NULL) {
        NE_ASSERT(mon->endpoint_count < NE_MON_MAX_ENDPOINTS);
        e = &mon->endpoints[mon->endpoint_count++];
    }
    memset(e, 0, sizeof(*e));
    e->path = path;
    e->alias = alias;
    e->name = name;
    e->handler = handler;
    e->ctx = ctx;
    e->counted = true;
    return e;
}

ne_mon_endpoint *ne_mon_register_text(ne_mon *mon, const char *path, const char *content_type,
                                      ne_mon_text_handler text, void *ctx)
{
    ne_mon_endpoint *e = ne_mon_register(mon, path, NULL, NULL, NULL, ctx);
    e->text = text;
    e->content_type = content_type;
    return e;
}

static bool text_is(const char *text, const char *want, size_t len)
{
    return want != NULL && strlen(want) == len && memcmp(text, want, len) == 0;
}

const ne_mon_endpoint *ne_mon_find(const ne_mon *mon, const char *path, size_t path_len)
{
    for (uint32_t i = 0; i < mon->endpoint_count; i++) {
        const ne_mon_endpoint *e = &mon->endpoints[i];
        if (text_is(path, e->path, path_len) || text_is(path, e->alias, path_len)) {
            return e;
        }
    }
    return NULL;
}

const ne_mon_endpoint *ne_mon_find_name(const ne_mon *mon, const char *name, size_t name_len)
{
    for (uint32_t i = 0; i < mon->endpoint_count; i++) {
        if (text_is(name, mon->endpoints[i].name, name_len)) {
            return &mon->endpoints[i];
        }
    }
    return NULL;
}

/* ---- Queries ------------------------------------------------------------------------ */

const char *const ne_mon_sort_names[] = {
    "cid",  "start", "subs",   "pending", "msgs_to", "msgs_from", "bytes_to", "bytes_from",
    "last", "idle",  "uptime", "rtt",     "stop",    "reason",    NULL};

#define SORT_CID 0
#define SORT_START 1
#define SORT_STOP 12
#define SORT_REASON 13

void ne_mon_query_default(ne_mon_query *q)
{
    memset(q, 0, sizeof(*q));
    q->limit = 1024;
}

static int sort_index(const char *name, size_t len)
{
    for (int i = 0; ne_mon_sort_names[i] != NULL; i++) {
        if (text_is(name, ne_mon_sort_names[i], len)) {
            return i;
        }
    }
    return -1;
}

/* Finds `name=value` in a query string; false if absent. */
static bool query_get(const char *text, size_t text_len, const char *name, const char **value,
                      size_t *len)
{
    size_t n = strlen(name);
    size_t i = 0;
    while (i < text_len) {
        size_t end = i;
        while (end < text_len && text[end] != '&') {
            end++;
        }
        if (end - i >= n && memcmp(text + i, name, n) == 0 &&
            (end - i == n || text[i + n] == '=')) {
            *value = end - i == n ? text + end : text + i + n + 1;
            *len = end - i == n ? 0 : end - i - n - 1;
            return true;
        }
        i = end + 1;
    }
    return false;
}

static void query_from_http(ne_mon_query *q, const char *text, size_t len)
{
    ne_mon_query_default(q);
    const char *v;
    size_t n;
    if (query_get(text, len, "subs", &v, &n)) {
        q->subs_detail = text_is(v, "detail", n);
        q->subs = q->subs_detail || text_is(v, "1", n) || text_is(v, "true", n);
    }
    if (query_get(text, len, "sort", &v, &n) && n > 0) {
        q->sort = sort_index(v, n);
    }
    if (query_get(text, len, "offset", &v, &n)) {
        (void)ne_parse_u64(v, n, UINT64_MAX / 2, &q->offset);
    }
    if (query_get(text, len, "limit", &v, &n)) {
        (void)ne_parse_u64(v, n, UINT64_MAX / 2, &q->limit);
    }
    if (query_get(text, len, "cid", &v, &n)) {
        (void)ne_parse_u64(v, n, UINT64_MAX / 2, &q->cid);
    }
    q->natsedge = query_get(text, len, "natsedge", &v, &n) && text_is(v, "1", n);
    /* /jsz: accounts, streams, consumers, config (each implies the ones
     * before it, as nats-server's JSzOptions do). */
    static const char *const js_levels[] = {"accounts", "streams", "consumers"};
    for (uint8_t i = 0; i < 3; i++) {
        if (query_get(text, len, js_levels[i], &v, &n) &&
            (text_is(v, "1", n) || text_is(v, "true", n))) {
            q->js_detail = (uint8_t)(i + 1);
        }
    }
    q->js_config =
        query_get(text, len, "config", &v, &n) && (text_is(v, "1", n) || text_is(v, "true", n));
    q->unused =
        query_get(text, len, "unused", &v, &n) && (text_is(v, "1", n) || text_is(v, "true", n));
    if (query_get(text, len, "acc", &v, &n) && n > 0) {
        /* A name longer than any account's is kept as "", which names none. */
        q->acc_given = true;
        q->acc[0] = '\0';
        if (n < sizeof(q->acc)) {
            memcpy(q->acc, v, n);
            q->acc[n] = '\0';
        }
    }
    if (query_get(text, len, "mqtt_client", &v, &n) && n > 0) {
        /* An id longer than any kept is kept as "", which names none. */
        q->mqtt_client_given = true;
        q->mqtt_client[0] = '\0';
        if (n < sizeof(q->mqtt_client)) {
            memcpy(q->mqtt_client, v, n);
            q->mqtt_client[n] = '\0';
        }
    }
    if (query_get(text, len, "state", &v, &n)) {
        q->state = text_is(v, "closed", n)                        ? NE_MON_STATE_CLOSED
                   : text_is(v, "any", n) || text_is(v, "all", n) ? NE_MON_STATE_ANY
                                                                  : NE_MON_STATE_OPEN;
    }
}

int ne_mon_query_from_json(ne_mon_query *q, const char *json, size_t len, const char **error_text)
{
    ne_mon_query_default(q);
    if (len == 0) {
        return NE_OK;
    }
    ne_json_doc doc;
    if (ne_json_parse(&doc, json, len) != NE_OK || doc.tokens[0].type != JSMN_OBJECT) {
        *error_text = "invalid request options: not a JSON object";
        return NE_ERR_PARSE;
    }
    (void)ne_json_get_bool(&doc, 0, "subscriptions", &q->subs);
    (void)ne_json_get_bool(&doc, 0, "subscriptions_detail", &q->subs_detail);
    q->subs = q->subs || q->subs_detail;
    int64_t v;
    if (ne_json_get_i64(&doc, 0, "offset", &v) && v > 0) {
        q->offset = (uint64_t)v;
    }
    if (ne_json_get_i64(&doc, 0, "limit", &v) && v > 0) {
        q->limit = (uint64_t)v;
    }
    if (ne_json_get_i64(&doc, 0, "cid", &v) && v > 0) {
        q->cid = (uint64_t)v;
    }
    char text[16];
    size_t n = 0;
    if (ne_json_get_string(&doc, 0, "sort", text, sizeof(text), &n) && n > 0) {
        q->sort = sort_index(text, n);
    }
    (void)ne_json_get_bool(&doc, 0, "include_unused", &q->unused);
    static const char *const js_levels[] = {"accounts", "streams", "consumer"};
    for (uint8_t i = 0; i < 3; i++) {
        bool on = false;
        if (ne_json_get_bool(&doc, 0, js_levels[i], &on) && on) {
            q->js_detail = (uint8_t)(i + 1);
        }
    }
    (void)ne_json_get_bool(&doc, 0, "config", &q->js_config);
    if (ne_json_get_i64(&doc, 0, "state", &v)) {
        /* nats-server's ConnState: 0 open, 1 closed, 2 any. */
        q->state = v == 1 ? NE_MON_STATE_CLOSED : v == 2 ? NE_MON_STATE_ANY : NE_MON_STATE_OPEN;
    }
    return NE_OK;
}

/* ---- /connz ----------------------------------------------------------------------- */

static ne_conn_desc describe(const ne_conn *c)
{
    ne_conn_desc d;
    ne_conn_describe(c, &d);
    return d;
}

#if NE_CONN_PARKING
typedef ne_conn_view conn_view;
#else
typedef struct conn_view {
    uint8_t unused;
} conn_view;
#endif

/* An open connection of the scratch array: its header, or a view of a
 * parked one built in v. */
static const ne_conn *conn_of(ne_mon *mon, const void *handle, conn_view *v)
{
#if NE_CONN_PARKING
    if (*(const uint8_t *)handle == NE_HANDLE_PARKED) {
        return ne_conns_parked_view(mon->conns, handle, v);
    }
#else
    (void)mon;
    (void)v;
#endif
    return handle;
}

/* The sort key of an open connection; larger first except for cid/start. */
static uint64_t sort_key(const ne_conn *c, int sort, uint64_t now_ms)
{
    uint64_t last_in_ms = c->io != NULL ? c->io->last_in_ms : now_ms;
    switch (sort) {
    case 1:
        return c->start_wall_ns;
    case 2:
        return c->nsubs;
    case 3:
        return c->out.bytes;
    case 4:
        return c->out_msgs;
    case 5:
        return c->in_msgs;
    case 6:
        return c->out_bytes;
    case 7:
        return c->in_bytes;
    case 8:
        return last_in_ms;
    case 9:
        return now_ms - last_in_ms;
    case 10:
        return ~c->start_wall_ns;
    case 11:
        return c->rtt_ns;
    default:
        return c->cid;
    }
}

/* Open counted connections (clients), sorted into the module's scratch
 * array. Shell sort: no recursion, no allocation, fine for the few hundred
 * connections a board holds. */
/* Whether /connz lists the connection for the query q. */
static bool listed(const ne_conn *c, const ne_mon_query *q)
{
    if (c->closing || c->io == NULL || (q->cid != 0 && c->cid != q->cid)) {
        return false;
    }
    ne_conn_desc d = describe(c);
    return d.counted && (!q->mqtt_client_given || strcmp(d.mqtt_client, q->mqtt_client) == 0);
}

static uint32_t sorted_conns(ne_mon *mon, int sort, const ne_mon_query *q)
{
    uint32_t n = 0;
    uint32_t guard = 0;
    uint64_t now = mon->conns->now_ms;
    for (ne_conn *c = mon->conns->active; c != NULL && guard++ < NE_MAX_CONN_HEADERS; c = c->next) {
        if (n < NE_MAX_CONNECTIONS && listed(c, q)) {
            mon->scratch[n++] = c;
        }
    }
    conn_view v;
#if NE_CONN_PARKING
    for (uint32_t k = 0; k < mon->conns->kind_count; k++) {
        if (mon->conns->kinds[k].ops->park == NULL) {
            continue;
        }
        uint32_t cursor = 0;
        ne_parked *p;
        while ((p = ne_conns_parked_next(mon->conns, (uint8_t)k, &cursor)) != NULL) {
            if (n < NE_MAX_CONNECTIONS && listed(ne_conns_parked_view(mon->conns, p, &v), q)) {
                mon->scratch[n++] = p;
            }
        }
    }
#endif
    bool ascending = sort == SORT_CID || sort == SORT_START;
    for (uint32_t gap = n / 2; gap > 0; gap /= 2) {
        for (uint32_t i = gap; i < n; i++) {
            const void *tmp = mon->scratch[i];
            uint64_t k = sort_key(conn_of(mon, tmp, &v), sort, now);
            uint32_t j = i;
            while (j >= gap) {
                uint64_t kj = sort_key(conn_of(mon, mon->scratch[j - gap], &v), sort, now);
                if (ascending ? kj <= k : kj >= k) {
                    break;
                }
                mon->scratch[j] = mon->scratch[j - gap];
                j -= gap;
            }
            mon->scratch[j] = tmp;
        }
    }
    return n;
}

static void write_conn_common(ne_json_out *o, const ne_conn_desc *d, uint64_t cid, const char *ip,
                              uint16_t port, uint64_t start_ns)
{
    ne_json_kv_u64(o, "cid", cid);
    ne_json_kv_string(o, "kind", d->kind);
    ne_json_kv_string(o, "type", d->type);
    ne_json_kv_string(o, "ip", ip);
    ne_json_kv_u64(o, "port", port);
    ne_json_kv_time(o, "start", start_ns);
}

static void write_names(ne_json_out *o, const char *name, const char *lang, const char *version)
{
    if (name[0] != '\0') {
        ne_json_kv_string(o, "name", name);
    }
    if (lang[0] != '\0') {
        ne_json_kv_string(o, "lang", lang);
    }
    if (version[0] != '\0') {
        ne_json_kv_string(o, "version", version);
    }
}

static void write_subs(ne_json_out *o, const ne_conn *c, bool detail)
{
    ne_json_key(o, detail ? "subscriptions_list_detail" : "subscriptions_list");
    ne_json_begin_array(o);
    uint32_t guard = 0;
    for (const ne_sub *s = c->subs; s != NULL && guard++ <= NE_MAX_SUBSCRIPTIONS;
         s = s->conn_next) {
        if (!detail) {
            ne_json_string(o, s->text, s->entry.subject_len);
            continue;
        }
        ne_json_begin_object(o);
        ne_json_key(o, "subject");
        ne_json_string(o, s->text, s->entry.subject_len);
        if (s->entry.queue_len > 0) {
            ne_json_key(o, "qgroup");
            ne_json_string(o, s->entry.queue, s->entry.queue_len);
        }
        ne_json_key(o, "sid");
        ne_json_string(o, ne_sub_sid(s), s->sid_len);
        ne_json_kv_u64(o, "msgs", s->delivered);
        if (s->max_msgs > 0) {
            ne_json_kv_u64(o, "max", s->max_msgs);
        }
        ne_json_kv_u64(o, "cid", c->cid);
        ne_json_end_object(o);
    }
    ne_json_end_array(o);
}

static void write_open_conn(ne_mon *mon, ne_json_out *o, const ne_conn *c, const ne_mon_query *q,
                            uint64_t now_ns)
{
    ne_conn_desc d = describe(c);
    const ne_conn_io *io = c->io;
    char ip[NE_IP_TEXT_BYTES];
    ne_json_begin_object(o);
    write_conn_common(o, &d, c->cid, ne_conn_peer_text(c, ip, sizeof(ip)), io->port,
                      c->start_wall_ns);
    uint64_t idle_ns = (mon->conns->now_ms - io->last_in_ms) * 1000000u;
    ne_json_kv_time(o, "last_activity", now_ns - idle_ns);
    ne_json_kv_duration(o, "rtt", c->rtt_ns);
    ne_json_key(o, "uptime");
    ne_json_uptime(o, now_ns - c->start_wall_ns);
    ne_json_key(o, "idle");
    ne_json_uptime(o, idle_ns);
    ne_json_kv_u64(o, "pending_bytes", c->out.bytes);
    ne_json_kv_u64(o, "in_msgs", c->in_msgs);
    ne_json_kv_u64(o, "out_msgs", c->out_msgs);
    ne_json_kv_u64(o, "in_bytes", c->in_bytes);
    ne_json_kv_u64(o, "out_bytes", c->out_bytes);
    const ne_conn *sc = d.subs_of != NULL ? d.subs_of : c;
    ne_json_kv_u64(o, "subscriptions", sc->nsubs);
    write_names(o, d.name, d.lang, d.version);
    const ne_tls *tls = &mon->conns->tls;
    if (io->tls != NULL && io->tls->done) {
        /* Go's names for the suites: mbedTLS's with '_' for '-'. */
        char suite[64];
        const char *name = tls->ops->cipher(tls->ctx, io->tls->session);
        size_t n = 0;
        for (; name[n] != '\0' && n + 1 < sizeof(suite); n++) {
            suite[n] = name[n] == '-' ? '_' : name[n];
        }
        suite[n] = '\0';
        ne_json_kv_string(o, "tls_version", "1.2");
        ne_json_kv_string(o, "tls_cipher_suite", suite);
    }
    if (q->subs && sc->nsubs > 0) {
        write_subs(o, sc, q->subs_detail);
    }
    if (d.mqtt_client[0] != '\0') {
        ne_json_kv_string(o, "mqtt_client", d.mqtt_client);
    }
    ne_json_end_object(o);
}

/* The MQTT client id a closed connection had, "" for others. */
static const char *closed_mqtt_client(const ne_closed_conn *c)
{
#if NE_FEATURE_MQTT
    return c->mqtt_client;
#else
    (void)c;
    return "";
#endif
}

static void write_closed_conn(ne_json_out *o, const ne_closed_conn *c)
{
    ne_conn_desc d;
    memset(&d, 0, sizeof(d));
    d.kind = c->kind != NULL ? c->kind : "Client";
    d.type = c->type != NULL ? c->type : "nats";
    ne_json_begin_object(o);
    write_conn_common(o, &d, c->cid, c->ip, c->port, c->start_wall_ns);
    ne_json_kv_time(o, "last_activity", c->stop_wall_ns);
    ne_json_kv_time(o, "stop", c->stop_wall_ns);
    ne_json_kv_string(o, "reason", ne_close_reason_text(c->reason));
    ne_json_kv_duration(o, "rtt", c->rtt_ns);
    ne_json_key(o, "uptime");
    ne_json_uptime(o, c->stop_wall_ns - c->start_wall_ns);
    ne_json_key(o, "idle");
    ne_json_uptime(o, 0);
    ne_json_kv_u64(o, "pending_bytes", 0);
    ne_json_kv_u64(o, "in_msgs", c->in_msgs);
    ne_json_kv_u64(o, "out_msgs", c->out_msgs);
    ne_json_kv_u64(o, "in_bytes", c->in_bytes);
    ne_json_kv_u64(o, "out_bytes", c->out_bytes);
    ne_json_kv_u64(o, "subscriptions", c->subscriptions);
    write_names(o, c->name, c->lang, c->version);
    if (closed_mqtt_client(c)[0] != '\0') {
        ne_json_kv_string(o, "mqtt_client", closed_mqtt_client(c));
    }
    ne_json_end_object(o);
}

static int write_connz(void *ctx, ne_json_out *o, const ne_mon_query *q, const char **error_text)
{
    ne_mon *mon = ctx;
    ne_conns *conns = mon->conns;
    if (q->sort < 0) {
        *error_text = "invalid sorting option";
        return NE_ERR_INVALID;
    }
    bool closed = q->state == NE_MON_STATE_CLOSED;
    if ((q->sort == SORT_STOP || q->sort == SORT_REASON) && !closed) {
        *error_text = "sort by stop or reason is only valid for closed connections";
        return NE_ERR_INVALID;
    }
    uint64_t now_ns = ne_port_wall_ns();
    uint32_t open_n = closed ? 0 : sorted_conns(mon, q->sort, q);
    /* The closed ones remembered, oldest first as nats-server sorts them
     * by cid, that the query asks for. */
    uint32_t closed_idx[NE_CLOSED_CONN_RING];
    uint32_t closed_n = 0;
    if (q->state != NE_MON_STATE_OPEN) {
        uint32_t held = (uint32_t)NE_MIN(conns->closed_total, (uint64_t)NE_CLOSED_CONN_RING);
        for (uint32_t k = 0; k < held; k++) {
            uint32_t idx =
                (conns->closed_next + NE_CLOSED_CONN_RING - held + k) % NE_CLOSED_CONN_RING;
            if (!q->mqtt_client_given ||
                strcmp(closed_mqtt_client(&conns->closed[idx]), q->mqtt_client) == 0) {
                closed_idx[closed_n++] = idx;
            }
        }
    }
    uint64_t total = (uint64_t)open_n + closed_n;
    uint64_t shown = q->offset < total ? NE_MIN(q->limit, total - q->offset) : 0;
    ne_json_begin_object(o);
    ne_json_kv_string(o, "server_id", conns->id.server_id);
    ne_json_kv_time(o, "now", now_ns);
    ne_json_kv_u64(o, "num_connections", shown);
    ne_json_kv_u64(o, "total", total);
    ne_json_kv_u64(o, "offset", q->offset);
    ne_json_kv_u64(o, "limit", q->limit);
    ne_json_key(o, "connections");
    ne_json_begin_array(o);
    for (uint64_t i = q->offset; i < q->offset + shown; i++) {
        if (i < open_n) {
            conn_view v;
            write_open_conn(mon, o, conn_of(mon, mon->scratch[i], &v), q, now_ns);
        } else {
            write_closed_conn(o, &conns->closed[closed_idx[i - open_n]]);
        }
    }
    ne_json_end_array(o);
    ne_json_end_object(o);
    return NE_OK;
}

/* ---- /subsz, /accountz, /healthz -------------------------------------------------- */

static int write_subsz(void *ctx, ne_json_out *o, const ne_mon_query *q, const char **error_text)
{
    ne_mon *mon = ctx;
    const ne_router *r = mon->router;
    uint64_t inserts = 0, removes = 0, matches = 0, cache_hits = 0, cached = 0;
    for (uint32_t i = 0; i < r->account_count; i++) {
        const ne_sublist *sl = &r->accounts[i].sublist;
        inserts += sl->inserts;
        removes += sl->removes;
        matches += sl->matches;
        cache_hits += sl->cache_hits;
        cached += ne_sublist_cache_valid(sl) ? 1u : 0u;
    }
    ne_json_begin_object(o);
    ne_json_kv_u64(o, "num_subscriptions", ne_router_sub_count(r));
    ne_json_kv_u64(o, "num_cache", cached);
    ne_json_kv_u64(o, "num_inserts", inserts);
    ne_json_kv_u64(o, "num_removes", removes);
    ne_json_kv_u64(o, "num_matches", matches);
    ne_json_key(o, "cache_hit_rate");
    ne_json_milli(o, matches > 0 ? cache_hits * 1000u / matches : 0);
    ne_json_kv_u64(o, "max_fanout", r->stats.fanout_max);
    ne_json_key(o, "avg_fanout");
    ne_json_milli(o, matches > 0 ? r->stats.fanout_total * 1000u / matches : 0);
    ne_json_end_object(o);
    return NE_OK;
}

static int write_accountz(void *ctx, ne_json_out *o, const ne_mon_query *q, const char **error_text)
{
    ne_mon *mon = ctx;
    const ne_server_options *opts = mon->opts;
    ne_json_begin_object(o);
    ne_json_kv_string(o, "server_id", mon->conns->id.server_id);
    ne_json_kv_time(o, "now", ne_port_wall_ns());
    /* Without a system account (no_system_account) the key is omitted, as
     * nats-server omits it. */
    uint8_t sys = opts->system_account;
    if (sys != NE_ACCOUNT_NONE) {
        ne_json_kv_string(o, "system_account", opts->accounts[sys].name);
    }
    ne_json_key(o, "accounts");
    ne_json_begin_array(o);
    for (uint32_t i = 0; i < mon->router->account_count; i++) {
        ne_json_cstring(o, opts->accounts[i].name);
    }
    ne_json_end_array(o);
    ne_json_end_object(o);
    return NE_OK;
}

static int write_healthz(void *ctx, ne_json_out *o, const ne_mon_query *q, const char **error_text)
{
    ne_json_begin_object(o);
    ne_json_kv_string(o, "status", "ok");
    ne_json_end_object(o);
    return NE_OK;
}

/* ---- Endpoints of features natsedge does not have (yet) ----------------------------- */

static void write_server_now(ne_mon *mon, ne_json_out *o)
{
    ne_json_kv_string(o, "server_id", mon->conns->id.server_id);
    ne_json_kv_time(o, "now", ne_port_wall_ns());
}

static int write_routez(void *ctx, ne_json_out *o, const ne_mon_query *q, const char **error_text)
{
    ne_json_begin_object(o);
    write_server_now(ctx, o);
    ne_json_kv_u64(o, "num_routes", 0);
    ne_json_kv_raw(o, "routes", "[]");
    ne_json_end_object(o);
    return NE_OK;
}

static int write_gatewayz(void *ctx, ne_json_out *o, const ne_mon_query *q, const char **error_text)
{
    ne_json_begin_object(o);
    write_server_now(ctx, o);
    ne_json_kv_raw(o, "outbound_gateways", "{}");
    ne_json_kv_raw(o, "inbound_gateways", "{}");
    ne_json_end_object(o);
    return NE_OK;
}

/* What nats-server answers with JetStream disabled. */
static int write_jsz(void *ctx, ne_json_out *o, const ne_mon_query *q, const char **error_text)
{
    ne_json_begin_object(o);
    write_server_now(ctx, o);
    ne_json_kv_bool(o, "disabled", true);
    ne_json_kv_raw(o, "config", "{\"max_memory\":0,\"max_storage\":0}");
    static const char *const zeros[] = {"memory",           "storage",  "reserved_memory",
                                        "reserved_storage", "accounts", "ha_assets"};
    for (size_t i = 0; i < NE_ARRAY_LEN(zeros); i++) {
        ne_json_kv_u64(o, zeros[i], 0);
    }
    ne_json_kv_raw(o, "api", "{\"total\":0,\"errors\":0}");
    static const char *const counts[] = {"streams", "consumers", "messages", "bytes"};
    for (size_t i = 0; i < NE_ARRAY_LEN(counts); i++) {
        ne_json_kv_u64(o, counts[i], 0);
    }
    ne_json_end_object(o);
    return NE_OK;
}

static int write_ipqueuesz(void *ctx, ne_json_out *o, const ne_mon_query *q,
                           const char **error_text)
{
    ne_json_begin_object(o);
    ne_json_end_object(o);
    return NE_OK;
}

static int put_text(ne_json_sink sink, void *sink_ctx, const char *text)
{
    return sink(sink_ctx, text, strlen(text));
}

/* The index page: a link to each endpoint. */
static int write_index(void *ctx, ne_json_sink sink, void *sink_ctx)
{
    const ne_mon *mon = ctx;
    int rc = put_text(sink, sink_ctx,
                      "<html lang=\"en\">\n<head><title>natsedge</title></head>\n<body>\n");
    for (uint32_t i = 0; i < mon->endpoint_count && rc == NE_OK; i++) {
        const char *path = mon->endpoints[i].path;
        if (strcmp(path, "/") == 0) {
            continue;
        }
        char line[128];
        size_t n = ne_fmt(line, sizeof(line), "<a href=\".%s\">%s</a><br>\n", path, path + 1);
        NE_ASSERT(n < sizeof(line) - 1);
        rc = sink(sink_ctx, line, n);
    }
    return rc == NE_OK ? put_text(sink, sink_ctx, "</body>\n</html>\n") : rc;
}

/* nats-server dumps its goroutines' stacks here; natsedge runs one event
 * loop on one thread and says so. */
static int write_stacksz(void *ctx, ne_json_sink sink, void *sink_ctx)
{
    return put_text(sink, sink_ctx,
                    "natsedge runs one event loop on one thread: no stacks to show\n");
}

/* ---- HTTP ------------------------------------------------------------------------------ */

static void send_status(ne_conn *conn, const char *status, const char *body)
{
    char text[512];
    size_t n = ne_fmt(text, sizeof(text),
                      "HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                      status, strlen(body), body);
    if (n < sizeof(text) - 1) {
        (void)ne_conn_send(conn, text, n);
    }
}

/* The body goes out through the connection's queue, after the response
 * head (sent with the first piece). */
typedef struct http_sink {
    ne_conn *conn;
    const char *content_type;
    bool head_sent;
} http_sink;

static int http_write(void *ctx, const char *bytes, size_t len)
{
    http_sink *s = ctx;
    if (!s->head_sent) {
        char head[160];
        size_t n = ne_fmt(head, sizeof(head),
                          "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nConnection: close\r\n\r\n",
                          s->content_type);
        NE_ASSERT(n < sizeof(head) - 1);
        s->head_sent = true;
        int rc = ne_conn_send(s->conn, head, n);
        if (rc != NE_OK) {
            return rc;
        }
    }
    return ne_conn_send(s->conn, bytes, len);
}

/* A response the queue could not take whole is not sent at all: the
 * connection is closed with nothing of it flushed (the client sees an empty
 * reply, never a cut document), and the reason logged. */
static void response_failed(ne_conn *conn, const char *path, size_t path_len, int rc)
{
    ne_conn_logf(conn, NE_LOG_WARN, "Monitoring response to %.*s not sent: %s", (int)path_len, path,
                 ne_err_name(rc));
    conn->flush_before_close = false;
    ne_conn_discard_output(conn);
    ne_conn_close(conn, NE_CLOSE_WRITE_ERROR, NULL);
}

static void respond(ne_conn *conn, const char *path, size_t path_len, const char *query,
                    size_t query_len)
{
    ne_mon *mon = mon_of(conn);
    ne_mon_endpoint *e = (ne_mon_endpoint *)ne_mon_find(mon, path, path_len);
    if (e == NULL) {
        send_status(conn, "404 Not Found", "404 page not found\n");
        return;
    }
    e->requests++;
    if (e->text != NULL) {
        http_sink sink = {conn, e->content_type, false};
        int rc = e->text(e->ctx, http_write, &sink);
        if (rc != NE_OK) {
            response_failed(conn, path, path_len, rc);
        }
        return;
    }
    ne_mon_query q;
    query_from_http(&q, query, query_len);
    char piece[MON_PIECE_BYTES];
    http_sink sink = {conn, "application/json", false};
    ne_json_out o;
    ne_json_out_init(&o, piece, sizeof(piece), http_write, &sink);
    const char *error_text = NULL;
    int rc = e->handler(e->ctx, &o, &q, &error_text);
    if (rc == NE_ERR_INVALID && o.total == 0 && o.len == 0) {
        send_status(conn, "400 Bad Request", error_text != NULL ? error_text : "bad request");
        return;
    }
    rc = ne_json_out_finish(&o);
    if (rc != NE_OK) {
        response_failed(conn, path, path_len, rc);
    }
}

static uint32_t mon_input(ne_conn *conn, uint8_t *bytes, uint32_t len)
{
    const char *buf = (const char *)bytes;
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
            conn->flush_before_close = true;
            ne_conn_close(conn, NE_CLOSE_CLIENT_CLOSED, NULL);
            return len;
        }
        return 0;
    }
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
        respond(conn, target, path_len, qmark != NULL ? qmark + 1 : "",
                qmark != NULL ? target_len - path_len - 1 : 0);
    }
    ((ne_mon_client *)conn->state)->answered = true;
    if (!conn->closing) {
        conn->flush_before_close = true;
        ne_conn_close(conn, NE_CLOSE_CLIENT_CLOSED, NULL);
    }
    return len;
}

/* A request must be whole NE_HTTP_REQUEST_TIMEOUT_MS after the connection;
 * then it is closed without an answer, as Go's HTTP server does on its read
 * header timeout. */
static void mon_timer(ne_conn *conn, uint64_t now)
{
    const ne_mon_client *c = conn->state;
    if (!conn->closing && now - c->accepted_ms >= NE_HTTP_REQUEST_TIMEOUT_MS) {
        ne_conn_logf(conn, NE_LOG_DEBUG, "Monitoring request not received within %u ms",
                     (unsigned)NE_HTTP_REQUEST_TIMEOUT_MS);
        ne_conn_close(conn, NE_CLOSE_STALE, NULL);
    }
}

static void mon_closed(ne_conn *conn)
{
    ne_pool_free(&mon_of(conn)->state_pool, conn->state);
    conn->state = NULL;
}

static void mon_describe(const ne_conn *conn, ne_conn_desc *out)
{
    out->kind = "HTTP";
    out->counted = false;
}

static const ne_conn_ops mon_ops = {
    .input = mon_input,
    .timer = mon_timer,
    .closed = mon_closed,
    .describe = mon_describe,
};

static void accepted(void *ctx, ne_conn *conn)
{
    ne_mon *mon = ctx;
    ne_mon_client *c = ne_pool_alloc(&mon->state_pool);
    NE_ASSERT(c != NULL); /* admit keeps the count within the pool */
    c->accepted_ms = mon->conns->now_ms;
    c->answered = false;
    conn->state = c;
    /* HTTPS: TLS from the first byte. */
    const ne_tls_config *tls =
        mon->tls_config != NULL ? mon->tls_config : mon->conns->tls_server_config;
    if (mon->opts->https && ne_conn_tls_accept_config(conn, tls) != NE_OK) {
        mon->conns->stats.refused_connections++;
        ne_conn_close(conn, NE_CLOSE_MAX_CONNECTIONS, NULL);
    }
}

/* Whether a new monitoring connection may be accepted. When
 * NE_MAX_HTTP_CONNECTIONS connections all still wait for their request, the
 * oldest of them (the first accepted: the last of them in the active list,
 * where new connections go in front) is closed without an
 * answer to make room; refused only when a flood within one loop turn has
 * already taken twice the pool (the closed ones leave at the end of the
 * turn, or at once when the connection slots are all taken: then the one
 * closed here leaves its slot to the newcomer, ne_conn.c accept). */
static bool admit(void *ctx)
{
    ne_mon *mon = ctx;
    if (mon->conns->kinds[mon->kind].count >= 2u * NE_MAX_HTTP_CONNECTIONS) {
        return false;
    }
    uint32_t waiting = 0;
    ne_conn *oldest = NULL;
    uint32_t guard = 0;
    for (ne_conn *c = mon->conns->active; c != NULL && guard++ < NE_MAX_CONN_HEADERS; c = c->next) {
        if (c->kind != mon->kind || c->closing) {
            continue;
        }
        waiting++;
        oldest = c;
    }
    if (waiting < NE_MAX_HTTP_CONNECTIONS) {
        return true;
    }
    NE_ASSERT(oldest != NULL);
    ne_conn_logf(oldest, NE_LOG_WARN,
                 "Monitoring connections all busy (NE_MAX_HTTP_CONNECTIONS %u): closing the "
                 "oldest, which has not sent its request",
                 (unsigned)NE_MAX_HTTP_CONNECTIONS);
    ne_conn_close(oldest, NE_CLOSE_STALE, NULL);
    return true;
}

void ne_mon_init(ne_mon *mon, const ne_server_options *opts, ne_conns *conns, ne_router *router)
{
    mon->opts = opts;
    mon->conns = conns;
    mon->router = router;
    ne_pool_init(&mon->state_pool, "monitoring connections", &mon->state_storage,
                 sizeof(ne_mon_client), 2 * NE_MAX_HTTP_CONNECTIONS);
    mon->kind = ne_conns_kind(conns, "HTTP", NULL, &mon_ops, mon);
    mon->listener.kind = mon->kind;
    mon->listener.sock = NE_SOCK_INVALID;
    mon->listener.accepted = accepted;
    mon->listener.admit = admit;
    mon->listener.ctx = mon;
    (void)ne_mon_register_text(mon, "/", "text/html; charset=utf-8", write_index, mon);
    ne_mon_register(mon, "/connz", NULL, "CONNZ", write_connz, mon);
    ne_mon_register(mon, "/routez", NULL, "ROUTEZ", write_routez, mon);
    ne_mon_register(mon, "/gatewayz", NULL, "GATEWAYZ", write_gatewayz, mon);
    ne_mon_register(mon, "/subsz", "/subscriptionsz", "SUBSZ", write_subsz, mon);
    ne_mon_register_text(mon, "/stacksz", "text/plain; charset=utf-8", write_stacksz, mon)
        ->counted = false;
    ne_mon_register(mon, "/accountz", NULL, "ACCOUNTZ", write_accountz, mon);
    ne_mon_register(mon, "/jsz", NULL, "JSZ", write_jsz, mon);
    ne_mon_register(mon, "/healthz", NULL, "HEALTHZ", write_healthz, mon);
    ne_mon_register(mon, "/ipqueuesz", NULL, NULL, write_ipqueuesz, mon)->counted = false;
}

int ne_mon_start(ne_mon *mon)
{
    const ne_server_options *o = mon->opts;
    if (!o->http_enabled) {
        return NE_OK;
    }
    int rc = ne_conns_listen(mon->conns, &mon->listener, o->http_host, o->http_port);
    if (rc != NE_OK) {
        ne_log_error(mon->conns->log, "Error listening on monitoring port: %s:%u, %s", o->http_host,
                     (unsigned)o->http_port, ne_err_name(rc));
        return rc;
    }
    ne_log_info(mon->conns->log, "Starting %s monitor on %s:%u", o->https ? "https" : "http",
                o->http_host, (unsigned)mon->listener.port);
    return NE_OK;
}
