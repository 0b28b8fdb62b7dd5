/* Cluster routes (ne_route.h): soliciting and accepting routes, the
 * handshake, gossip, duplicates, interest in both directions and the
 * routing hooks. The protocol is nats-server 2.9's, probed against 2.9.10
 * (docs/cluster.md lists what was probed). */
#include "route/ne_route.h"

#if NE_FEATURE_ROUTES

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "core/ne_subject.h"
#include "core/ne_version.h"
#include "proto/ne_proto_err.h"
#include "router/ne_authn.h"
#include "router/ne_frame.h"

#define NE_ROUTE_ERR_WRONG_PORT "attempted to connect to route port"
#define NE_ROUTE_JITTER_MS 100u

/* ---- Options ----------------------------------------------------------------- */

void ne_route_options_default(ne_cluster_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->auth_timeout_ms = NE_DEFAULT_AUTH_TIMEOUT_MS;
    opts->tls_timeout_ms = NE_DEFAULT_TLS_TIMEOUT_MS;
}

int ne_route_options_check(const ne_cluster_options *opts, char *err, size_t err_cap)
{
    for (uint32_t i = 0; i < opts->route_count; i++) {
        ne_route_url url;
        int rc = ne_route_parse_url(opts->routes[i], strlen(opts->routes[i]), &url);
        if (rc != NE_OK) {
            ne_fmt(err, err_cap, "route url \"%s\" is not valid (%s)", opts->routes[i],
                   ne_err_name(rc));
            return NE_ERR_INVALID;
        }
    }
    if (opts->route_count > 0 && !opts->enabled) {
        ne_fmt(err, err_cap,
               "routes need a cluster listen address (cluster { listen } or "
               "--cluster)");
        return NE_ERR_INVALID;
    }
    if (opts->tls && (opts->tls_cert_file[0] == '\0' || opts->tls_key_file[0] == '\0' ||
                      opts->tls_ca_file[0] == '\0')) {
        ne_fmt(err, err_cap,
               "cluster tls needs cert_file, key_file and ca_file (routes verify each other)");
        return NE_ERR_INVALID;
    }
    return NE_OK;
}

/* ---- Helpers ------------------------------------------------------------------- */

static ne_route_state *route_of(const ne_conn *conn)
{
    return ne_conn_kind_of(conn)->ctx;
}

static ne_route_link *link_of(const ne_conn *conn)
{
    return conn->state;
}

static bool established(const ne_route_link *link)
{
    return link != NULL && link->state == NE_ROUTE_ESTABLISHED && !link->conn->closing;
}

static void route_send(ne_conn *conn, const char *text, size_t len)
{
    (void)ne_conn_send(conn, text, len);
}

static const char *account_name(const ne_route_state *st, uint8_t account)
{
    return ne_router_account_name(st->router, &st->router->accounts[account]);
}

static void hostport(char *out, size_t cap, const char *host, uint16_t port)
{
    size_t n = ne_fmt(out, cap, "%s:%u", host, (unsigned)port);
    if (n == 0 && cap > 0) {
        out[0] = '\0'; /* a host too long to be a peer's: no URL at all */
    }
}

static bool target_is(const ne_route_target *t, const char *route_url)
{
    char hp[NE_ROUTE_HOSTPORT_BYTES];
    hostport(hp, sizeof(hp), t->url.host, t->url.port);
    return route_url[0] != '\0' && strcmp(hp, route_url) == 0;
}

static ne_route_link *link_to(const ne_route_state *st, const char *remote_id)
{
    for (uint32_t i = 0; i < NE_MAX_ROUTES; i++) {
        ne_route_link *l = st->links[i];
        if (l != NULL && established(l) && strcmp(l->remote_id, remote_id) == 0) {
            return l;
        }
    }
    return NULL;
}

uint32_t ne_route_count(const ne_route_state *st)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < NE_MAX_ROUTES; i++) {
        n += established(st->links[i]) ? 1u : 0u;
    }
    return n;
}

uint16_t ne_route_port(const ne_route_state *st)
{
    return st->listener.port;
}

const char *ne_route_cluster_name(const ne_route_state *st)
{
    return st->active ? st->cluster_name : "";
}

/* ---- The cluster's client URLs (INFO connect_urls, CP-11, CP-13) ---------------- */

/* Adds one item ("\"host:port\"") unless it is there already; false when
 * it does not fit. */
static bool urls_add(ne_connect_urls *u, const char *item, size_t len)
{
    for (uint32_t at = 0; at + len <= u->len; at++) {
        if (memcmp(u->items + at, item, len) == 0 &&
            (at + len == u->len || u->items[at + len] == ',')) {
            return true;
        }
    }
    size_t need = len + (u->len > 0 ? 1u : 0u);
    if (u->len + need >= sizeof(u->items)) {
        return false;
    }
    if (u->len > 0) {
        u->items[u->len++] = ',';
    }
    memcpy(u->items + u->len, item, len);
    u->len += (uint32_t)len;
    u->items[u->len] = '\0';
    u->count++;
    return true;
}

/* Adds a link's items (JSON strings separated by commas, none holding a
 * comma: ne_route_parse_info keeps only plain URLs). */
static uint32_t urls_add_list(ne_connect_urls *u, const char *items, size_t len)
{
    uint32_t dropped = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || items[i] == ',') {
            if (i > start && !urls_add(u, items + start, i - start)) {
                dropped++;
            }
            start = i + 1;
        }
    }
    return dropped;
}

/* This node's URL and every route's; clients that take async INFO hear of
 * a change (CP-13). As in nats-server, clients hear of no URL until a
 * route brought one (this node's alone is not sent, but stays once the
 * others are gone), and of none at all with no_advertise. */
static void urls_rebuild(ne_route_state *st)
{
    ne_connect_urls *u = st->urls;
    char before[NE_CLUSTER_URLS_BYTES];
    uint32_t before_len = u->len;
    memcpy(before, u->items, before_len);
    u->len = 0;
    u->count = 0;
    u->items[0] = '\0';
    uint32_t dropped = 0;
    if (st->opts->cluster.no_advertise) {
        return; /* nothing was ever sent: nothing changed */
    }
    if (st->client_url[0] != '\0') {
        char item[NE_ROUTE_HOSTPORT_BYTES + 2];
        size_t n = ne_fmt(item, sizeof(item), "\"%s\"", st->client_url);
        dropped += n > 0 && urls_add(u, item, n) ? 0u : 1u;
    }
    uint32_t own = u->count;
    for (uint32_t i = 0; i < NE_MAX_ROUTES; i++) {
        ne_route_link *l = st->links[i];
        if (l != NULL && l->urls_counted) {
            dropped += urls_add_list(u, l->urls, l->urls_len);
        }
    }
    st->urls_shown = st->urls_shown || u->count > own;
    if (!st->urls_shown) {
        u->len = 0;
        u->count = 0;
        u->items[0] = '\0';
    }
    if (dropped > 0) {
        st->stats.urls_dropped += dropped;
        ne_log_warn(st->conns->log,
                    "%u client URLs of the cluster left out of INFO connect_urls: raise "
                    "NE_CLUSTER_URLS_BYTES (%u)",
                    (unsigned)dropped, (unsigned)NE_CLUSTER_URLS_BYTES);
    }
    if (u->len == before_len && memcmp(before, u->items, before_len) == 0) {
        return;
    }
    u->generation++;
    if (st->urls_changed != NULL) {
        st->urls_changed(st->urls_ctx);
    }
}

/* ---- INFO and CONNECT ----------------------------------------------------------- */

static void write_urls(ne_strbuf *sb, const char *items)
{
    ne_strbuf_puts(sb, ",\"connect_urls\":[");
    ne_strbuf_puts(sb, items);
    ne_strbuf_putc(sb, ']');
}

static void put_string(ne_strbuf *sb, const char *key, const char *value)
{
    ne_strbuf_puts(sb, key);
    ne_strbuf_json_string(sb, value, strlen(value));
}

/* This node's route INFO: what a peer needs to connect back and to tell
 * others (gossip). */
static void send_info(ne_route_state *st, ne_conn *conn)
{
    const ne_server_options *o = st->opts;
    const ne_cluster_options *c = &o->cluster;
    ne_route_url adv;
    bool advertised = c->advertise[0] != '\0' &&
                      ne_route_parse_url(c->advertise, strlen(c->advertise), &adv) == NE_OK;
    ne_strbuf sb;
    ne_strbuf_init(&sb, st->scratch, sizeof(st->scratch));
    put_string(&sb, "INFO {\"server_id\":", st->conns->id.server_id);
    put_string(&sb, ",\"server_name\":", o->server_name);
    put_string(&sb, ",\"version\":", NE_ADVERTISED_VERSION);
    ne_strbuf_puts(&sb, ",\"proto\":2");
    put_string(&sb, ",\"go\":", "natsedge-" NE_VERSION);
    put_string(&sb, ",\"host\":",
               advertised ? adv.host : (c->listen_host[0] != '\0' ? c->listen_host : o->host));
    ne_strbuf_printf(&sb, ",\"port\":%u,\"headers\":%s",
                     (unsigned)(advertised ? adv.port : st->listener.port),
                     o->no_header_support ? "false" : "true");
    if (c->auth_user[0] != '\0') {
        ne_strbuf_puts(&sb, ",\"auth_required\":true");
    }
    if (c->tls) {
        ne_strbuf_puts(&sb, ",\"tls_required\":true,\"tls_verify\":true");
    }
    ne_strbuf_printf(&sb, ",\"max_payload\":%u", (unsigned)o->max_payload);
    if (advertised) {
        ne_strbuf_printf(&sb, ",\"ip\":\"nats-route://%s:%u/\"", adv.host, (unsigned)adv.port);
    }
    put_string(&sb, ",\"cluster\":", st->cluster_name);
    if (st->dynamic) {
        ne_strbuf_puts(&sb, ",\"cluster_dynamic\":true");
    }
    if (!c->no_advertise && st->client_url[0] != '\0') {
        ne_strbuf_printf(&sb, ",\"connect_urls\":[\"%s\"]", st->client_url);
    }
    ne_strbuf_puts(&sb, "}\r\n");
    NE_ASSERT(!sb.truncated);
    if (!sb.truncated) {
        route_send(conn, sb.data, sb.len);
    }
}

/* The INFO of a peer that just joined, to the other routes: each of them
 * connects to it (gossip). */
static void gossip(ne_route_state *st, const ne_route_link *joined)
{
    if (joined->route_url[0] == '\0') {
        return;
    }
    ne_strbuf sb;
    ne_strbuf_init(&sb, st->scratch, sizeof(st->scratch));
    put_string(&sb, "INFO {\"server_id\":", joined->remote_id);
    put_string(&sb, ",\"server_name\":", joined->remote_name);
    char host[NE_ROUTE_HOSTPORT_BYTES];
    uint16_t port = 0;
    memcpy(host, joined->route_url, sizeof(host));
    if (ne_parse_hostport(joined->route_url, strlen(joined->route_url), host, sizeof(host),
                          &port) != NE_OK) {
        return;
    }
    put_string(&sb, ",\"host\":", host);
    ne_strbuf_printf(&sb, ",\"port\":%u,\"headers\":%s", (unsigned)port,
                     joined->headers ? "true" : "false");
    if (joined->auth_required) {
        ne_strbuf_puts(&sb, ",\"auth_required\":true");
    }
    if (joined->tls_required) {
        ne_strbuf_puts(&sb, ",\"tls_required\":true,\"tls_verify\":true");
    }
    ne_strbuf_printf(&sb, ",\"ip\":\"nats-route://%s/\"", joined->route_url);
    put_string(&sb, ",\"cluster\":", st->cluster_name);
    if (joined->urls_len > 0) {
        write_urls(&sb, joined->urls);
    }
    ne_strbuf_puts(&sb, "}\r\n");
    if (sb.truncated) {
        return;
    }
    for (uint32_t i = 0; i < NE_MAX_ROUTES; i++) {
        ne_route_link *l = st->links[i];
        if (l != joined && established(l)) {
            route_send(l->conn, sb.data, sb.len);
        }
    }
}

/* CONNECT for the peer we solicited: our identity, the cluster, and the
 * URL's user info as credentials. */
static bool send_connect(ne_route_state *st, ne_route_link *link, const ne_route_url *url)
{
    ne_strbuf sb;
    ne_strbuf_init(&sb, st->scratch, sizeof(st->scratch));
    ne_strbuf_puts(&sb, "CONNECT {\"echo\":true,\"verbose\":false,\"pedantic\":false");
    if (url->user[0] != '\0') {
        put_string(&sb, ",\"user\":", url->user);
        put_string(&sb, ",\"pass\":", url->pass);
    }
    ne_strbuf_printf(&sb, ",\"tls_required\":%s,\"headers\":%s",
                     st->opts->cluster.tls ? "true" : "false",
                     st->opts->no_header_support ? "false" : "true");
    put_string(&sb, ",\"name\":", st->conns->id.server_id);
    put_string(&sb, ",\"cluster\":", st->cluster_name);
    if (st->dynamic) {
        ne_strbuf_puts(&sb, ",\"cluster_dynamic\":true");
    }
    ne_strbuf_puts(&sb, "}\r\n");
    if (sb.truncated) {
        return false;
    }
    route_send(link->conn, sb.data, sb.len);
    return true;
}

/* ---- Local interest to the routes (the observer) ------------------------------- */

/* Whether a subscription's interest goes to the routes: a client's, an
 * internal client's, or that of a leaf we are the hub of; never a route's
 * (a full mesh), never a hub's (LN-12: its other spokes reach it
 * themselves). It never changes while the subscription lives (a peer's
 * role is set before its first subscription), so counting it when a
 * subscription comes and goes is exact without a record of its own. */
static bool announced_here(const ne_sub *sub)
{
    uint8_t role = sub->conn->peer_role;
    return role == NE_PEER_NONE || role == NE_PEER_DOWNSTREAM;
}

typedef struct same_count {
    const ne_sub *first;
    uint32_t count;
} same_count;

static bool count_one(void *ctx, const ne_sub_entry *e)
{
    same_count *c = ctx;
    const ne_sub *s = NE_CONTAINER_OF(e, ne_sub, entry);
    if (announced_here(s)) {
        c->first = c->first != NULL ? c->first : s;
        c->count++;
    }
    return true;
}

/* The announced subscriptions behind sub's (account, subject, queue), sub
 * included when it counts: the entries of its sublist node. */
static same_count count_same(ne_route_state *st, const ne_sub *sub)
{
    same_count c = {NULL, 0};
    ne_sublist_each_same(&ne_router_sub_account(st->router, sub)->sublist, &sub->entry, count_one,
                         &c);
    return c;
}

/* RS+ (or RS-) of sub's interest to one route. */
static void send_interest(ne_route_state *st, ne_conn *conn, const ne_sub *sub, bool plus,
                          uint32_t weight)
{
    char line[NE_SUB_TEXT_BYTES + NE_ACCOUNT_NAME_BYTES + 32];
    size_t n = ne_route_interest_line(line, sizeof(line), plus, account_name(st, sub->account),
                                      sub->entry.subject, sub->entry.subject_len, sub->entry.queue,
                                      sub->entry.queue_len, weight);
    NE_ASSERT(n > 0); /* bounded by NE_SUB_TEXT_BYTES and the account name */
    if (n > 0) {
        route_send(conn, line, n);
    }
}

static void send_interest_all(ne_route_state *st, const ne_sub *sub, bool plus, uint32_t weight)
{
    for (uint32_t i = 0; i < NE_MAX_ROUTES; i++) {
        ne_route_link *l = st->links[i];
        if (established(l)) {
            send_interest(st, l->conn, sub, plus, weight);
        }
    }
}

/* The router's interest observer: a subscription was inserted. The routes
 * hear of its subject when it is the first one there, and of a queue
 * group's new weight (the members here) every time (nats-server's RS+). */
static int sub_added(void *ctx, ne_sub *sub)
{
    ne_route_state *st = ctx;
    if (!st->active || !announced_here(sub) || ne_route_count(st) == 0) {
        return NE_OK;
    }
    same_count c = count_same(st, sub);
    NE_ASSERT(c.count > 0);
    if (sub->entry.queue_len > 0 || c.count == 1) {
        send_interest_all(st, sub, true, c.count);
    }
    return NE_OK;
}

/* ...and is about to be removed: RS- once none is left, a queue group's
 * lower weight otherwise. */
static void sub_removed(void *ctx, ne_sub *sub)
{
    ne_route_state *st = ctx;
    if (!st->active || !announced_here(sub) || ne_route_count(st) == 0) {
        return;
    }
    same_count c = count_same(st, sub);
    NE_ASSERT(c.count > 0);
    if (c.count == 1) {
        send_interest_all(st, sub, false, 0);
    } else if (sub->entry.queue_len > 0) {
        send_interest_all(st, sub, true, c.count - 1);
    }
}

typedef struct dump_walk {
    ne_route_state *st;
    ne_conn *conn;
} dump_walk;

static void dump_one(void *ctx, ne_sub *s)
{
    dump_walk *w = ctx;
    if (!announced_here(s) || s->conn->closing) {
        return;
    }
    same_count c = count_same(w->st, s);
    if (c.first == s) {
        send_interest(w->st, w->conn, s, true, c.count);
    }
}

/* A new route hears all of this node's interest, once per (account,
 * subject, queue) with the queue weights. */
static void send_all_interest(ne_route_state *st, ne_route_link *link)
{
    dump_walk w = {st, link->conn};
    ne_router_each_sub(st->router, dump_one, &w);
}

/* ---- Links and targets ------------------------------------------------------------ */

static ne_route_link *link_alloc(ne_route_state *st)
{
    ne_route_link *link = ne_pool_alloc(&st->link_pool);
    if (link == NULL) {
        return NULL;
    }
    link->target = -1;
    st->links[ne_pool_index(&st->link_pool, link)] = link;
    return link;
}

static void link_free(ne_route_state *st, ne_route_link *link)
{
    st->links[ne_pool_index(&st->link_pool, link)] = NULL;
    ne_pool_free(&st->link_pool, link);
}

/* The wait before a target's next attempt: doubled with each failure, at
 * most NE_ROUTE_RECONNECT_MAX_MS, and jitter so that two nodes that
 * dropped each other do not meet again in step. */
static uint64_t backoff_ms(ne_route_state *st, const ne_route_target *t)
{
    uint32_t shift = NE_MIN(t->failures, 10u);
    uint64_t delay = (uint64_t)NE_ROUTE_RECONNECT_MS << shift;
    delay = NE_MIN(delay, (uint64_t)NE_ROUTE_RECONNECT_MAX_MS);
    return delay + ne_rng_below(st->rng, NE_ROUTE_JITTER_MS);
}

static int16_t target_index(const ne_route_state *st, const ne_route_target *t)
{
    return (int16_t)(t - st->targets);
}

/* A server a peer told us about (gossip, an implicit route): connected to
 * unless it is this node, reached already, or configured. */
static void learn_route(ne_route_state *st, const ne_route_info *info)
{
    if (info->server_id[0] == '\0' || strcmp(info->server_id, st->conns->id.server_id) == 0 ||
        link_to(st, info->server_id) != NULL) {
        return;
    }
    ne_route_url url;
    bool parsed =
        info->ip[0] != '\0' ? ne_route_parse_url(info->ip, strlen(info->ip), &url) == NE_OK : false;
    if (!parsed) {
        if (info->host[0] == '\0' || info->port == 0) {
            return;
        }
        memset(&url, 0, sizeof(url));
        memcpy(url.host, info->host, sizeof(url.host));
        url.port = info->port;
    }
    char hp[NE_ROUTE_HOSTPORT_BYTES];
    hostport(hp, sizeof(hp), url.host, url.port);
    ne_route_target *free_slot = NULL;
    for (uint32_t i = 0; i < NE_ROUTE_MAX_TARGETS; i++) {
        ne_route_target *t = &st->targets[i];
        if (!t->in_use) {
            free_slot = free_slot != NULL ? free_slot : t;
            continue;
        }
        if (strcmp(t->remote_id, info->server_id) == 0 || target_is(t, hp)) {
            /* Known already: told again, a learned route given up on is
             * tried anew (the server is back). */
            if (!t->configured && t->link == NULL) {
                t->attempts_left = st->opts->cluster.connect_retries + 1;
                t->next_attempt_ms = st->conns->now_ms;
            }
            return;
        }
    }
    if (free_slot == NULL) {
        st->stats.urls_dropped++;
        ne_log_warn(st->conns->log,
                    "Route to %s (%s) learned from the cluster not connected: every route slot "
                    "is in use; raise NE_ROUTE_MAX_URLS",
                    hp, info->server_id);
        return;
    }
    memset(free_slot, 0, sizeof(*free_slot));
    free_slot->in_use = true;
    free_slot->url = url;
    /* As nats-server: a route that asks for authorization gets this node's
     * own cluster credentials. */
    const ne_cluster_options *c = &st->opts->cluster;
    if (info->auth_required) {
        memcpy(free_slot->url.user, c->auth_user, sizeof(free_slot->url.user));
        memcpy(free_slot->url.pass, c->auth_pass, sizeof(free_slot->url.pass));
    }
    memcpy(free_slot->remote_id, info->server_id, sizeof(free_slot->remote_id));
    free_slot->attempts_left = c->connect_retries + 1;
    free_slot->next_attempt_ms = st->conns->now_ms;
    ne_log_debug(st->conns->log, "Learned route to %s (%s) from the cluster", hp, info->server_id);
}

static void url_display(const ne_route_url *url, char *out, size_t cap)
{
    hostport(out, cap, url->host, url->port);
}

/* One connection attempt to a target. */
static void solicit(ne_route_state *st, ne_route_target *t)
{
    t->attempts++;
    t->next_attempt_ms = st->conns->now_ms + backoff_ms(st, t);
    char shown[NE_ROUTE_HOSTPORT_BYTES];
    url_display(&t->url, shown, sizeof(shown));
    ne_route_link *link = link_alloc(st);
    if (link == NULL) {
        st->stats.links_refused++;
        ne_log_warn(st->conns->log,
                    "Route link pool exhausted (NE_MAX_ROUTES %u): not connecting to %s, "
                    "retrying later",
                    (unsigned)NE_MAX_ROUTES, shown);
        return;
    }
    ne_sock sock;
    int rc = st->conns->net.ops->connect(st->conns->net.ctx, t->url.host, t->url.port, &sock);
    if (rc != NE_OK) {
        link_free(st, link);
        t->failures++;
        t->attempts_left -= t->configured || t->attempts_left == 0 ? 0u : 1u;
        if (t->failures == 1) {
            ne_log_error(st->conns->log, "Error trying to connect to route %s: %s", shown,
                         ne_err_name(rc));
        } else {
            ne_log_debug(st->conns->log, "Error trying to connect to route %s (attempt %u): %s",
                         shown, (unsigned)t->failures, ne_err_name(rc));
        }
        return;
    }
    ne_conn *conn = ne_conn_new(st->conns, st->kind, sock, t->url.host, t->url.port);
    if (conn == NULL) {
        st->conns->net.ops->close(st->conns->net.ctx, sock);
        link_free(st, link);
        st->stats.links_refused++;
        st->conns->stats.refused_connections++;
        ne_log_warn(st->conns->log,
                    "Connection pool exhausted (%u): not connecting to route %s, retrying later",
                    (unsigned)NE_CONN_POOL_SIZE, shown);
        return;
    }
    link->conn = conn;
    link->target = target_index(st, t);
    link->state = NE_ROUTE_CONNECTING;
    link->deadline_ms = st->conns->now_ms + NE_ROUTE_HANDSHAKE_TIMEOUT_MS;
    memcpy(link->route_url, shown, sizeof(link->route_url));
    conn->state = link;
    conn->acc = &st->router->accounts[NE_ACCOUNT_GLOBAL];
    conn->no_echo = true;
    ne_log_debug(st->conns->log, "Trying to connect to route on %s", shown);
    if (st->opts->cluster.tls) {
        const char *name = t->configured || st->tls_name[0] == '\0' ? t->url.host : st->tls_name;
        rc = ne_conn_tls_start_client(conn, st->tls_client, name);
        if (rc != NE_OK) {
            ne_conn_logf(conn, NE_LOG_ERROR, "Route %s: cannot start TLS (%s)", shown,
                         ne_err_name(rc));
            ne_conn_close(conn, NE_CLOSE_TLS_HANDSHAKE, NULL);
            return;
        }
    }
    if (!send_connect(st, link, &t->url)) {
        ne_conn_close(conn, NE_CLOSE_PROTOCOL_VIOLATION, NULL);
        return;
    }
    send_info(st, conn);
    ne_conn_logf(conn, NE_LOG_INFO, "Route connection created");
}

/* Binds every target that leads to the link's server to the link: no
 * attempt is made while it stands. */
static void bind_targets(ne_route_state *st, ne_route_link *link)
{
    for (uint32_t i = 0; i < NE_ROUTE_MAX_TARGETS; i++) {
        ne_route_target *t = &st->targets[i];
        if (!t->in_use || t->link != NULL) {
            continue;
        }
        if ((int16_t)i == link->target || strcmp(t->remote_id, link->remote_id) == 0 ||
            target_is(t, link->route_url)) {
            t->link = link;
            memcpy(t->remote_id, link->remote_id, sizeof(t->remote_id));
            t->failures = 0;
            t->connects += (int16_t)i == link->target ? 1u : 0u;
            link->configured = link->configured || t->configured;
        }
    }
}

/* A link is gone: the targets it stood for try again (configured ones for
 * ever, learned ones connect_retries more times when we had solicited
 * them; a learned server whose route we had accepted reconnects itself). */
static void unbind_targets(ne_route_state *st, ne_route_link *link, bool was_up)
{
    uint64_t now = st->conns->now_ms;
    for (uint32_t i = 0; i < NE_ROUTE_MAX_TARGETS; i++) {
        ne_route_target *t = &st->targets[i];
        bool mine = (int16_t)i == link->target;
        if (!t->in_use || (t->link != link && !mine)) {
            continue;
        }
        t->link = t->link == link ? NULL : t->link;
        if (t->link != NULL) {
            continue; /* a duplicate went: the route that stayed reaches it */
        }
        if (t->configured) {
            t->failures += was_up ? 0u : 1u;
        } else if (mine && was_up) {
            t->attempts_left = st->opts->cluster.connect_retries + 1;
        } else if (mine) {
            t->failures++;
            t->attempts_left -= t->attempts_left > 0 ? 1u : 0u;
        } else {
            t->attempts_left = 0;
        }
        if (!t->configured && t->attempts_left == 0) {
            t->in_use = false; /* given up, as nats-server gives up a learned route */
            continue;
        }
        uint64_t next = now + backoff_ms(st, t);
        t->next_attempt_ms = NE_MAX(t->next_attempt_ms, next);
    }
}

/* ---- Handshake -------------------------------------------------------------------- */

static void establish(ne_route_state *st, ne_route_link *link)
{
    ne_conn *conn = link->conn;
    link->state = NE_ROUTE_ESTABLISHED;
    conn->peer_role = NE_PEER_CLUSTER;
    bind_targets(st, link);
    ne_conn_ping_start(conn);
    ne_conn_logf(conn, NE_LOG_INFO, "Route to %s (%s) established", link->remote_name,
                 link->remote_id);
    send_all_interest(st, link);
    /* A first PING measures the round trip for /routez. */
    conn->rtt_start_ns = ne_port_wall_ns();
    conn->pings_out++;
    route_send(conn, "PING\r\n", 6);
    gossip(st, link);
    link->urls_counted = true;
    urls_rebuild(st);
    ne_router_peer_up(st->router, conn, true); /* the system events (docs/cluster.md) */
}

/* Closes every route but `keep`: the cluster's name changed under them. */
static void close_others(ne_route_state *st, const ne_route_link *keep)
{
    for (uint32_t i = 0; i < NE_MAX_ROUTES; i++) {
        ne_route_link *l = st->links[i];
        if (l != NULL && l != keep && !l->conn->closing) {
            ne_conn_close(l->conn, NE_CLOSE_CLUSTER_NAME_CONFLICT, NULL);
        }
    }
}

/* A peer of another cluster name: a made-up name gives way to a configured
 * one, or to the greater of two made-up ones (as nats-server). True when
 * the route may go on. */
static bool cluster_name_agrees(ne_route_state *st, ne_route_link *link, const char *theirs,
                                bool their_dynamic)
{
    if (theirs[0] == '\0' || strcmp(theirs, st->cluster_name) == 0) {
        return true;
    }
    if (st->dynamic && (!their_dynamic || strcmp(st->cluster_name, theirs) < 0)) {
        ne_log_info(st->conns->log, "Cluster name is now %s (was made up: %s)", theirs,
                    st->cluster_name);
        memcpy(st->cluster_name, theirs, NE_MIN(strlen(theirs) + 1, sizeof(st->cluster_name)));
        st->cluster_name[sizeof(st->cluster_name) - 1] = '\0';
        st->dynamic = their_dynamic;
        close_others(st, link);
        return true;
    }
    st->stats.name_conflicts++;
    return false;
}

/* The peer's first INFO: who it is, then the route is registered (or
 * closed as a duplicate, a route to this node, or of another cluster). */
static void first_info(ne_route_state *st, ne_route_link *link, const ne_route_info *info)
{
    ne_conn *conn = link->conn;
    ne_route_target *mine = link->target >= 0 ? &st->targets[link->target] : NULL;
    if (strcmp(info->server_id, st->conns->id.server_id) == 0) {
        ne_conn_logf(conn, NE_LOG_DEBUG, "Detected route to self, ignoring %s", link->route_url);
        if (mine != NULL) {
            mine->self = true;
        }
        /* The other end is this node's own attempt: our INFO, queued at
         * the accept and maybe not written yet, tells it so. */
        conn->flush_before_close = true;
        ne_conn_close(conn, NE_CLOSE_DUPLICATE_ROUTE, NULL);
        return;
    }
    if (info->server_id[0] == '\0') {
        ne_conn_logf(conn, NE_LOG_ERROR, "Route INFO without a server_id");
        ne_conn_close(conn, NE_CLOSE_PROTOCOL_VIOLATION, NULL);
        return;
    }
    if (!cluster_name_agrees(st, link, info->cluster, info->cluster_dynamic)) {
        ne_conn_logf(conn, NE_LOG_ERROR,
                     "Rejecting route, cluster name \"%s\" does not match \"%s\"", info->cluster,
                     st->cluster_name);
        ne_conn_close(conn, NE_CLOSE_CLUSTER_NAME_CONFLICT, NULL);
        return;
    }
    memcpy(link->remote_id, info->server_id, sizeof(link->remote_id));
    memcpy(link->remote_name, info->server_name, sizeof(link->remote_name));
    link->headers = info->headers && !st->opts->no_header_support;
    link->auth_required = info->auth_required;
    link->tls_required = info->tls_required;
    memcpy(link->urls, info->urls, sizeof(link->urls));
    link->urls_len = info->urls_len;
    if (info->urls_dropped > 0) {
        st->stats.urls_dropped += info->urls_dropped;
        ne_conn_logf(conn, NE_LOG_WARN,
                     "%u client URLs of route %s not kept: raise NE_ROUTE_PEER_URLS_BYTES",
                     (unsigned)info->urls_dropped, info->server_id);
    }
    /* Where the peer takes routes: what it advertises, else the address we
     * reached it at, else its address with the port it listens on. */
    ne_route_url ip;
    if (info->ip[0] != '\0' && ne_route_parse_url(info->ip, strlen(info->ip), &ip) == NE_OK) {
        hostport(link->route_url, sizeof(link->route_url), ip.host, ip.port);
    } else if (mine == NULL) {
        if (info->port != 0) {
            char peer[NE_IP_TEXT_BYTES];
            hostport(link->route_url, sizeof(link->route_url),
                     ne_conn_peer_text(conn, peer, sizeof(peer)), info->port);
        } else {
            link->route_url[0] = '\0';
        }
    }
    ne_route_link *other = link_to(st, info->server_id);
    if (other != NULL) {
        /* Both nodes connected at once: the route registered first stays,
         * as in nats-server; our attempt waits on it. */
        st->stats.duplicates++;
        if (mine != NULL) {
            memcpy(mine->remote_id, info->server_id, sizeof(mine->remote_id));
            mine->link = mine->link != NULL ? mine->link : other;
            mine->failures = 0;
            other->configured = other->configured || mine->configured;
        }
        ne_conn_logf(conn, NE_LOG_DEBUG, "Detected duplicate remote route \"%s\"", info->server_id);
        ne_conn_close(conn, NE_CLOSE_DUPLICATE_ROUTE, NULL);
        return;
    }
    establish(st, link);
}

/* An INFO on an established route: another server (gossip), or the peer
 * entering lame duck mode (its client URLs go). */
static void later_info(ne_route_state *st, ne_route_link *link, const ne_route_info *info)
{
    if (strcmp(info->server_id, link->remote_id) != 0) {
        if (info->cluster[0] != '\0' && strcmp(info->cluster, st->cluster_name) != 0) {
            return; /* nats-server closes; the gossip is simply not followed here */
        }
        learn_route(st, info);
        return;
    }
    if (info->ldm && link->urls_counted) {
        link->urls_counted = false;
        urls_rebuild(st);
    }
}

static void handle_info(ne_conn *conn, ne_route_link *link, const ne_op *op)
{
    ne_route_state *st = route_of(conn);
    ne_route_info info;
    if (ne_route_parse_info(op->text.ptr, op->text.len, &info, &st->doc) != NE_OK) {
        ne_conn_logf(conn, NE_LOG_ERROR, "Malformed route INFO");
        ne_conn_close(conn, NE_CLOSE_PROTOCOL_VIOLATION, NULL);
        return;
    }
    if (info.gateway) {
        return; /* gateways are not supported: nothing to learn */
    }
    switch (link->state) {
    case NE_ROUTE_CONNECTING:
    case NE_ROUTE_WAIT_INFO:
        first_info(st, link, &info);
        break;
    case NE_ROUTE_ESTABLISHED:
        later_info(st, link, &info);
        break;
    default:
        /* An accepted route speaks CONNECT first. */
        ne_conn_close(conn, NE_CLOSE_PROTOCOL_VIOLATION, NULL);
        break;
    }
}

/* The credentials of an accepted route: the cluster's single user. */
static bool route_authorized(ne_route_state *st, const ne_json_doc *doc)
{
    const ne_cluster_options *c = &st->opts->cluster;
    if (c->auth_user[0] == '\0') {
        return true;
    }
    char user[128], pass[128];
    if (!ne_authn_read_credential(doc, "user", user, sizeof(user)) ||
        !ne_authn_read_credential(doc, "pass", pass, sizeof(pass))) {
        return false;
    }
    return ne_authn_secret_equal(user, c->auth_user) &&
           ne_authn_secret_matches(&st->router->bcrypt, c->auth_pass, pass);
}

/* CONNECT of an accepted route, in nats-server's order: credentials, then
 * a client on the wrong port, then the cluster's name. */
static void handle_connect(ne_conn *conn, ne_route_link *link, const ne_op *op)
{
    ne_route_state *st = route_of(conn);
    if (link->state != NE_ROUTE_WAIT_CONNECT) {
        return; /* a second CONNECT is ignored */
    }
    ne_json_doc *doc = &st->doc;
    if (ne_json_parse(doc, op->text.ptr, op->text.len) != NE_OK || doc->count < 1 ||
        doc->tokens[0].type != JSMN_OBJECT) {
        ne_conn_close(conn, NE_CLOSE_PROTOCOL_VIOLATION, NULL);
        return;
    }
    if (!route_authorized(st, doc)) {
        ne_conn_logf(conn, NE_LOG_ERROR, "authentication error");
        ne_conn_close(conn, NE_CLOSE_AUTH_VIOLATION, NE_PROTO_ERR_AUTHORIZATION);
        return;
    }
    /* Clients say what language they are written in; routes do not. */
    char lang[16];
    size_t lang_len = 0;
    int lang_at = ne_json_find(doc, 0, "lang");
    bool has_lang =
        lang_at >= 0 && doc->tokens[lang_at].type == JSMN_STRING &&
        (!ne_json_token_string(doc, lang_at, lang, sizeof(lang), &lang_len) || lang_len > 0);
    if (has_lang) {
        ne_conn_logf(conn, NE_LOG_ERROR, NE_ROUTE_ERR_WRONG_PORT);
        ne_conn_close(conn, NE_CLOSE_WRONG_PORT, NE_ROUTE_ERR_WRONG_PORT);
        return;
    }
    char cluster[64];
    if (!ne_json_get_string(doc, 0, "cluster", cluster, sizeof(cluster), NULL)) {
        cluster[0] = '\0';
    }
    bool dynamic = false;
    (void)ne_json_get_bool(doc, 0, "cluster_dynamic", &dynamic);
    if (strcmp(cluster, st->cluster_name) != 0 &&
        !(cluster[0] != '\0' && cluster_name_agrees(st, link, cluster, dynamic))) {
        char text[200]; /* the names are at most 63 bytes each */
        ne_fmt(text, sizeof(text),
               "Rejecting connection, cluster name \"%s\" does not match \"%s\"", cluster,
               st->cluster_name);
        ne_conn_logf(conn, NE_LOG_ERROR, "%s", text);
        st->stats.name_conflicts += cluster[0] == '\0' ? 1u : 0u;
        ne_conn_close(conn, NE_CLOSE_CLUSTER_NAME_CONFLICT, text);
        return;
    }
    bool headers = false;
    (void)ne_json_get_bool(doc, 0, "headers", &headers);
    link->headers = headers && !st->opts->no_header_support;
    if (!ne_json_get_string(doc, 0, "name", link->remote_id, sizeof(link->remote_id), NULL)) {
        link->remote_id[0] = '\0';
    }
    link->state = NE_ROUTE_WAIT_INFO;
}

/* ---- Accepting routes ---------------------------------------------------------- */

static bool admit(void *ctx)
{
    ne_route_state *st = ctx;
    if (ne_pool_available(&st->link_pool) > 0) {
        return true;
    }
    st->stats.links_refused++;
    ne_log_warn(st->conns->log, "Route link pool exhausted (NE_MAX_ROUTES %u): route refused",
                (unsigned)NE_MAX_ROUTES);
    return false;
}

/* A connection accepted on the cluster listener: its link, TLS when the
 * cluster has it (before a byte of INFO), then INFO. */
static void accepted(void *ctx, ne_conn *conn)
{
    ne_route_state *st = ctx;
    ne_route_link *link = link_alloc(st);
    NE_ASSERT(link != NULL); /* admit checked it */
    if (link == NULL) {
        ne_conn_close(conn, NE_CLOSE_MAX_CONNECTIONS, NULL);
        return;
    }
    link->conn = conn;
    link->state = NE_ROUTE_WAIT_CONNECT;
    const ne_cluster_options *c = &st->opts->cluster;
    link->deadline_ms = st->conns->now_ms +
                        (c->auth_user[0] != '\0'
                             ? NE_MIN(c->auth_timeout_ms, (uint32_t)NE_ROUTE_HANDSHAKE_TIMEOUT_MS)
                             : NE_ROUTE_HANDSHAKE_TIMEOUT_MS);
    conn->state = link;
    conn->acc = &st->router->accounts[NE_ACCOUNT_GLOBAL];
    conn->no_echo = true;
    if (c->tls) {
        int rc = ne_conn_tls_accept_config(conn, st->tls_server);
        if (rc != NE_OK) {
            ne_conn_close(conn, NE_CLOSE_TLS_HANDSHAKE, NULL);
            return;
        }
    }
    ne_conn_logf(conn, NE_LOG_INFO, "Route connection created");
    send_info(st, conn);
}

/* ---- Peer interest ------------------------------------------------------------------ */

/* The account an RS+, RS- or RMSG names, NULL when this node has none of
 * that name (counted; nats-server logs it and goes on). */
static ne_account *named_account(ne_route_state *st, ne_conn *conn, ne_slice name)
{
    char text[NE_ACCOUNT_NAME_BYTES];
    if (name.len == 0 || name.len >= sizeof(text)) {
        st->stats.unknown_account++;
        return NULL;
    }
    memcpy(text, name.ptr, name.len);
    text[name.len] = '\0';
    ne_account *acc = ne_router_account_named(st->router, text);
    if (acc == NULL) {
        st->stats.unknown_account++;
        ne_conn_logf(conn, NE_LOG_DEBUG, "Unknown account \"%s\" from route", text);
    }
    return acc;
}

/* The peer's interest does not fit: a node that knew only part of it would
 * lose the peer's messages without a word, so the route goes and is tried
 * again later (its interest anew); clients here keep working. */
static void interest_exhausted(ne_route_state *st, ne_conn *conn, const char *knob)
{
    st->stats.interest_exhausted++;
    ne_conn_logf(conn, NE_LOG_WARN,
                 "Route interest exhausted after %u subscriptions: closing the route to retry "
                 "later; raise %s",
                 (unsigned)conn->nsubs, knob);
    ne_conn_close(conn, NE_CLOSE_MAX_SUBSCRIPTIONS, NE_PROTO_ERR_MAX_SUBSCRIPTIONS);
}

static uint16_t weight_of(const ne_op *op)
{
    return (uint16_t)NE_MAX(1u, NE_MIN(op->weight, (uint64_t)UINT16_MAX));
}

/* RS+ from the peer: a subscription of the route connection in the
 * account it names; a repeated RS+ for a queue updates its weight. */
static void handle_rs_plus(ne_conn *conn, const ne_op *op)
{
    ne_route_state *st = route_of(conn);
    ne_account *acc = named_account(st, conn, op->account);
    if (acc == NULL) {
        return;
    }
    ne_sub *have = ne_router_find_interest(conn, acc, op->subject, op->queue);
    if (have != NULL) {
        if (op->queue.len > 0) {
            have->member_weight = weight_of(op);
        }
        return;
    }
    if (conn->nsubs >= NE_ROUTE_MAX_REMOTE_SUBS) {
        interest_exhausted(st, conn, "NE_ROUTE_MAX_REMOTE_SUBS");
        return;
    }
    ne_sub_spec spec = {op->subject, op->queue, {"", 0}, true, false, acc, 0};
    spec.member_weight = op->queue.len > 0 ? weight_of(op) : 0;
    int rc = ne_router_subscribe(st->router, conn, &spec, NULL);
    if (rc == NE_ERR_NOMEM) {
        interest_exhausted(st, conn, "NE_MAX_SUBSCRIPTIONS or NE_MAX_TRIE_NODES");
    } else if (rc == NE_ERR_INVALID) {
        /* As nats-server: said, and the route stays. */
        st->stats.interest_dropped++;
        char line[64];
        size_t n = ne_proto_err_line(line, sizeof(line), "%s", NE_PROTO_ERR_INVALID_SUBSCRIPTION);
        route_send(conn, line, n);
    } else if (rc != NE_OK) {
        /* A subject this node's trie cannot hold (a nats-server peer's
         * $SYS.REQ.SERVER.<its long id>.*): no client here can subscribe
         * to it either. Counted, not warned about. */
        st->stats.interest_dropped++;
        ne_conn_logf(conn, NE_LOG_DEBUG,
                     "Route interest in \"%.*s\" dropped: longer than NE_SUB_TEXT_BYTES or a "
                     "token longer than NE_TOKEN_BYTES",
                     (int)op->subject.len, op->subject.ptr);
    }
}

static void handle_rs_minus(ne_conn *conn, const ne_op *op)
{
    ne_route_state *st = route_of(conn);
    ne_account *acc = named_account(st, conn, op->account);
    if (acc == NULL) {
        return;
    }
    ne_sub *sub = ne_router_find_interest(conn, acc, op->subject, op->queue);
    if (sub != NULL) {
        ne_router_unsubscribe(st->router, sub);
    }
}

/* ---- Operations ----------------------------------------------------------------------- */

/* RMSG and HMSG carry a payload, on an established route only; sizes and
 * form checked, and the account looked up here, once per message (its name
 * is not kept with a payload assembled in chunks). */
static inline ne_frame_payload payload_check(ne_conn *conn, const ne_op *op)
{
    if (op->kind != NE_OP_RMSG && op->kind != NE_OP_HMSG) {
        return NE_FRAME_NO_PAYLOAD;
    }
    if (!established(link_of(conn))) {
        ne_conn_close(conn, NE_CLOSE_PROTOCOL_VIOLATION, NULL);
        return NE_FRAME_REFUSED;
    }
    ne_route_state *st = route_of(conn);
    ne_route_link *link = link_of(conn);
    if (op->total_len > st->opts->max_payload) {
        ne_conn_close(conn, NE_CLOSE_MAX_PAYLOAD, NE_PROTO_ERR_MAX_PAYLOAD);
        return NE_FRAME_REFUSED;
    }
    if (op->kind == NE_OP_HMSG && !link->headers) {
        ne_conn_close(conn, NE_CLOSE_PARSE_ERROR, NULL);
        return NE_FRAME_REFUSED;
    }
    if (op->kind == NE_OP_HMSG && op->account.len == 0) {
        ne_conn_close(conn, NE_CLOSE_PARSE_ERROR, NULL);
        return NE_FRAME_REFUSED;
    }
    ne_account *acc = named_account(st, conn, op->account);
    link->msg_account_known = acc != NULL;
    link->msg_account = acc != NULL ? acc->index : 0;
    return NE_FRAME_PAYLOAD;
}

/* -ERR from the peer: logged, and the route goes (its solicitor tries
 * again later). */
static void handle_err(ne_conn *conn, const ne_op *op)
{
    ne_conn_logf(conn, NE_LOG_ERROR, "Route Error %.*s", (int)op->text.len, op->text.ptr);
    ne_conn_close(conn, NE_CLOSE_PARSE_ERROR, NULL);
}

static void handle_op(ne_conn *conn, const ne_op *op)
{
    ne_route_state *st = route_of(conn);
    ne_route_link *link = link_of(conn);
    if (conn->closing || link == NULL) {
        return;
    }
    /* With authorization, an accepted route's first operation is CONNECT. */
    if (link->state == NE_ROUTE_WAIT_CONNECT && op->kind != NE_OP_CONNECT &&
        st->opts->cluster.auth_user[0] != '\0') {
        ne_conn_close(conn, NE_CLOSE_AUTH_VIOLATION, NE_PROTO_ERR_AUTHORIZATION);
        return;
    }
    bool up = established(link);
    switch (op->kind) {
    case NE_OP_INFO:
        handle_info(conn, link, op);
        break;
    case NE_OP_CONNECT:
        if (link->target < 0) {
            handle_connect(conn, link, op);
        }
        break;
    case NE_OP_PING:
        route_send(conn, "PONG\r\n", 6);
        break;
    case NE_OP_PONG:
        ne_conn_pong_received(conn);
        break;
    case NE_OP_OK:
        break;
    case NE_OP_ERR:
        handle_err(conn, op);
        break;
    case NE_OP_RS_PLUS:
    case NE_OP_RS_MINUS:
        if (!up) {
            ne_conn_close(conn, NE_CLOSE_PROTOCOL_VIOLATION, NULL);
        } else if (op->kind == NE_OP_RS_PLUS) {
            handle_rs_plus(conn, op);
        } else {
            handle_rs_minus(conn, op);
        }
        break;
    default:
        /* Client and leaf verbs on a route (CP-05's rule for routes). */
        ne_conn_close(conn, NE_CLOSE_PARSE_ERROR, NE_PROTO_ERR_UNKNOWN_OP);
        break;
    }
}

/* RMSG/HMSG from the peer: routed in the account it names, to this node's
 * subscribers and the leafs it is the hub of, to the queue groups it names
 * only, members here first (CP-59). */
static inline void handle_msg(ne_conn *conn, ne_msg *msg)
{
    ne_route_state *st = route_of(conn);
    ne_route_link *link = link_of(conn);
    if (!link->msg_account_known) {
        return; /* an account this node does not have (counted) */
    }
    msg->from_peer = true;
    /* A JetStream delivery from another node shows its stored subject. */
    (void)ne_msg_split_reply(&msg->reply, &msg->shown);
    msg->local_first = true;
    msg->in_account = true;
    msg->account = link->msg_account;
    uint32_t delivered = 0;
    (void)ne_router_publish(st->router, conn, msg, &delivered);
}

static const ne_frame_ops frame_ops = {
    .parse = ne_route_parse_line,
    .payload = payload_check,
    .handle_op = handle_op,
    .handle_msg = handle_msg,
};

static uint32_t route_input(ne_conn *conn, uint8_t *buf, uint32_t len)
{
    return ne_frame_input(conn, &frame_ops, buf, len);
}

static void route_timer(ne_conn *conn, uint64_t now)
{
    ne_route_link *link = link_of(conn);
    if (link != NULL && link->state == NE_ROUTE_ESTABLISHED) {
        ne_conn_ping_timer(conn, now);
    }
}

/* ---- Routing ---------------------------------------------------------------------- */

/* Whether a message from pub may go to this route: once it is up, and not
 * when it came from the cluster (every node has its own route to the
 * publisher's node) or from a hub this node is a leaf of. */
static bool route_may_forward(ne_conn *conn, const ne_conn *pub, const ne_msg *msg)
{
    (void)msg;
    if (!established(link_of(conn))) {
        return false;
    }
    return pub == NULL || pub->peer_role == NE_PEER_NONE || pub->peer_role == NE_PEER_DOWNSTREAM;
}

/* One RMSG (or HMSG) to a route, naming the queue groups it was picked
 * for; the headers go only to a peer that said it takes them. */
static bool route_deliver_batch(ne_conn *conn, ne_msg *msg, const ne_batch *batch,
                                uint32_t *payload_bytes)
{
    ne_route_state *st = route_of(conn);
    bool as_hmsg = msg->has_headers && link_of(conn)->headers;
    char line[NE_MAX_OUT_LINE_BYTES];
    size_t n =
        ne_route_msg_line(line, sizeof(line), account_name(st, msg->account), batch, msg->subject,
                          msg->shown, msg->reply, as_hmsg, msg->hdr_len, msg->total_len);
    if (n == 0) {
        ne_router_line_too_long(st->router, conn, as_hmsg ? "HMSG" : "RMSG");
        return false;
    }
    return ne_router_queue(conn, line, n, msg, as_hmsg, payload_bytes);
}

static void route_describe(const ne_conn *conn, ne_conn_desc *out)
{
    const ne_route_link *link = link_of(conn);
    out->kind = "Router";
    out->type = "";
    out->name = link != NULL ? link->remote_name : "";
    out->lang = "";
    out->version = "";
    out->user = "";
    out->account = "";
    out->counted = false;
}

/* The route is being torn down (its subscriptions are gone): its targets
 * try again, its client URLs leave the list. */
static void route_closed(ne_conn *conn)
{
    ne_route_state *st = route_of(conn);
    ne_route_link *link = link_of(conn);
    if (link == NULL) {
        return;
    }
    bool was_up = link->state == NE_ROUTE_ESTABLISHED;
    if (was_up) {
        ne_router_peer_up(st->router, conn, false);
    }
    unbind_targets(st, link, was_up);
    if (was_up) {
        ne_conn_logf(conn, NE_LOG_INFO, "Router connection closed: %s",
                     ne_close_reason_text(conn->close_reason));
    } else {
        ne_conn_logf(conn, NE_LOG_DEBUG, "Route connection attempt failed: %s",
                     ne_close_reason_text(conn->close_reason));
    }
    bool counted = link->urls_counted;
    conn->state = NULL;
    link_free(st, link);
    if (counted) {
        urls_rebuild(st);
    }
}

static const ne_conn_ops route_ops = {
    .input = route_input,
    .timer = route_timer,
    .closed = route_closed,
    .deliver_batch = route_deliver_batch,
    .may_forward = route_may_forward,
    .describe = route_describe,
};

/* ---- Life cycle --------------------------------------------------------------------- */

/* An IPv4 or IPv6 address rather than a name. */
static bool is_address(const char *host)
{
    bool dots_digits = host[0] != '\0';
    for (const char *p = host; *p != '\0'; p++) {
        if (*p == ':') {
            return true;
        }
        dots_digits = dots_digits && ((*p >= '0' && *p <= '9') || *p == '.');
    }
    return dots_digits;
}

void ne_route_init(ne_route_state *st, const ne_server_options *opts, ne_conns *conns,
                   ne_router *router, ne_rng *rng, ne_connect_urls *urls)
{
    st->opts = opts;
    st->conns = conns;
    st->router = router;
    st->rng = rng;
    st->urls = urls;
    st->kind = ne_conns_kind(conns, "Router", "rid", &route_ops, st);
    st->listener.kind = st->kind;
    st->listener.sock = NE_SOCK_INVALID;
    st->listener.accepted = accepted;
    st->listener.admit = admit;
    st->listener.ctx = st;
    ne_interest_observer obs = {sub_added, sub_removed, st};
    ne_router_observe(router, &obs);
    ne_pool_init(&st->link_pool, "route connections", &st->link_storage, sizeof(ne_route_link),
                 NE_MAX_ROUTES);
    /* st->links and st->targets are zero: st is part of a server set up by
     * ne_server_init or ne_server_init_zeroed, and not read here (a read of
     * untouched memory can cost a page: see ne_server_init_zeroed). */
    const ne_cluster_options *c = &opts->cluster;
    st->active = c->enabled;
    st->stopping = false;
    if (c->name[0] != '\0') {
        memcpy(st->cluster_name, c->name, sizeof(st->cluster_name));
        st->dynamic = false;
    } else {
        /* A made-up name, as nats-server makes one: it gives way to a
         * configured one when a route brings it. */
        ne_rng_text(rng, st->cluster_name, 22, NE_RNG_BASE62);
        st->cluster_name[22] = '\0';
        st->dynamic = true;
    }
    for (uint32_t i = 0; i < c->route_count && i < NE_ROUTE_MAX_URLS; i++) {
        ne_route_target *t = &st->targets[i];
        if (ne_route_parse_url(c->routes[i], strlen(c->routes[i]), &t->url) != NE_OK) {
            continue; /* checked with the options: cannot happen */
        }
        t->in_use = true;
        t->configured = true;
        if (st->tls_name[0] == '\0' && !is_address(t->url.host)) {
            memcpy(st->tls_name, t->url.host, sizeof(st->tls_name));
        }
    }
}

void ne_route_on_urls_changed(ne_route_state *st, void (*fn)(void *ctx), void *ctx)
{
    st->urls_changed = fn;
    st->urls_ctx = ctx;
}

void ne_route_set_tls(ne_route_state *st, const ne_tls_config *server_cfg,
                      const ne_tls_config *client_cfg)
{
    st->tls_server = server_cfg;
    st->tls_client = client_cfg;
}

/* This node's client URL for connect_urls: the client listener's host and
 * port, unless it listens on every interface (the addresses that reach it
 * are not known here; docs/cluster.md). */
static void make_client_url(ne_route_state *st, uint16_t client_port)
{
    const char *host = st->opts->host;
    if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 || host[0] == '\0') {
        st->client_url[0] = '\0';
        return;
    }
    hostport(st->client_url, sizeof(st->client_url), host, client_port);
}

int ne_route_start(ne_route_state *st, uint16_t client_port)
{
    if (!st->active) {
        return NE_OK;
    }
    const ne_cluster_options *c = &st->opts->cluster;
    if (c->tls && (st->tls_server == NULL || st->tls_client == NULL)) {
        ne_log_error(st->conns->log, "Cluster TLS configured but not loaded (cluster tls { })");
        return NE_ERR_INVALID;
    }
    make_client_url(st, client_port);
    const char *host = c->listen_host[0] != '\0' ? c->listen_host : st->opts->host;
    ne_log_info(st->conns->log, "Cluster name is %s", st->cluster_name);
    if (st->dynamic) {
        ne_log_warn(st->conns->log, "Cluster name was dynamically generated, consider setting one");
    }
    int rc = ne_conns_listen(st->conns, &st->listener, host, c->listen_port);
    if (rc != NE_OK) {
        ne_log_error(st->conns->log, "Error listening on router port: %s:%u, %s", host,
                     (unsigned)c->listen_port, ne_err_name(rc));
        return rc;
    }
    ne_log_info(st->conns->log, "Listening for route connections on %s:%u", host,
                (unsigned)st->listener.port);
    for (uint32_t i = 0; i < NE_ROUTE_MAX_TARGETS; i++) {
        st->targets[i].next_attempt_ms = st->conns->now_ms; /* at the first tick */
    }
    urls_rebuild(st);
    return NE_OK;
}

void ne_route_tick(ne_route_state *st, uint64_t now_ms)
{
    if (!st->active || st->stopping) {
        return;
    }
    for (uint32_t i = 0; i < NE_MAX_ROUTES; i++) {
        ne_route_link *l = st->links[i];
        if (l != NULL && l->state != NE_ROUTE_ESTABLISHED && !l->conn->closing &&
            now_ms >= l->deadline_ms) {
            bool auth = l->state == NE_ROUTE_WAIT_CONNECT && st->opts->cluster.auth_user[0] != '\0';
            ne_conn_logf(l->conn, NE_LOG_WARN, "Route handshake timed out");
            ne_conn_close(l->conn, auth ? NE_CLOSE_AUTH_TIMEOUT : NE_CLOSE_STALE,
                          auth ? NE_PROTO_ERR_AUTH_TIMEOUT : NULL);
        }
    }
    for (uint32_t i = 0; i < NE_ROUTE_MAX_TARGETS; i++) {
        ne_route_target *t = &st->targets[i];
        if (t->in_use && !t->configured && t->attempts_left == 0 && t->link == NULL) {
            t->in_use = false; /* a learned route given up */
        }
        if (!t->in_use || t->self || t->link != NULL || now_ms < t->next_attempt_ms) {
            continue;
        }
        /* Reached already by a route the peer made to us. */
        ne_route_link *other = t->remote_id[0] != '\0' ? link_to(st, t->remote_id) : NULL;
        if (other != NULL) {
            t->link = other;
            t->failures = 0;
            other->configured = other->configured || t->configured;
            continue;
        }
        bool busy = false; /* an attempt of this target under way */
        for (uint32_t k = 0; k < NE_MAX_ROUTES && !busy; k++) {
            busy = st->links[k] != NULL && st->links[k]->target == (int16_t)i;
        }
        if (!busy && (t->configured || t->attempts_left > 0)) {
            solicit(st, t);
        }
    }
}

void ne_route_shutdown(ne_route_state *st)
{
    st->stopping = true;
    ne_conns_unlisten(st->conns, &st->listener);
}

void ne_route_log_memory(const ne_route_state *st)
{
    ne_log_info(st->conns->log, "  %-14s %6u x %6zu B = %8zu KiB", "route conns",
                (unsigned)NE_MAX_ROUTES, NE_POOL_OBJECT_BYTES(sizeof(ne_route_link)),
                (size_t)NE_MAX_ROUTES * NE_POOL_OBJECT_BYTES(sizeof(ne_route_link)) / 1024);
}

#endif /* NE_FEATURE_ROUTES */
