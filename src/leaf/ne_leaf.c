/* Leaf connections: soliciting remotes, accepting leafs, the handshake,
 * interest in both directions and the routing hooks. IDs refer to section 2
 * of the NATS inventory (LN-xx). */
#include "leaf/ne_leaf.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "json/ne_json.h"
#include "server/ne_nkey.h"
#include "server/ne_server.h"
#include "sublist/ne_subject.h"

#define NE_LEAF_LOOP_TEXT "Loop detected for leafnode account="

/* ---- Options --------------------------------------------------------------- */

void ne_leaf_options_default(ne_leaf_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->reconnect_ms = NE_LEAF_DEFAULT_RECONNECT_MS;
    opts->auth_timeout_ms = NE_DEFAULT_AUTH_TIMEOUT_MS;
}

int ne_leaf_options_check(const ne_leaf_options *opts, char *err, size_t err_cap)
{
    for (uint32_t r = 0; r < opts->remote_count; r++) {
        const ne_leaf_remote_options *ro = &opts->remotes[r];
        if (ro->url_count == 0) {
            ne_fmt(err, err_cap, "leafnode remote %u has no url", (unsigned)r + 1);
            return NE_ERR_INVALID;
        }
        for (uint32_t u = 0; u < ro->url_count; u++) {
            ne_leaf_url url;
            int rc = ne_leaf_parse_url(ro->urls[u], &url);
            if (rc != NE_OK) {
                ne_fmt(err, err_cap, "leafnode remote url \"%s\" is not valid (%s)", ro->urls[u],
                       ne_err_name(rc));
                return NE_ERR_INVALID;
            }
            if (url.tls && !ro->tls) {
                ne_fmt(err, err_cap,
                       "leafnode remote url \"%s\" needs a tls { ca_file } block to verify "
                       "the hub",
                       ro->urls[u]);
                return NE_ERR_INVALID;
            }
        }
        if (ro->tls && ro->tls_ca_file[0] == '\0') {
            ne_fmt(err, err_cap, "leafnode remote tls needs ca_file to verify the hub");
            return NE_ERR_INVALID;
        }
    }
    return NE_OK;
}

/* ---- Helpers ----------------------------------------------------------------- */

struct ne_sublist *ne_leaf_sublist(ne_conn *conn)
{
    return &conn->acc->sublist;
}

/* The account a remote binds (default $G): NULL if the options name none. */
/* The account of that name ("" is $G), NULL if the options have none. */
static ne_account *account_named(ne_server *srv, const char *name)
{
    if (name[0] == '\0') {
        name = "$G";
    }
    for (uint32_t i = 0; i < srv->account_count; i++) {
        if (strcmp(srv->opts.accounts[i].name, name) == 0) {
            return &srv->accounts[i];
        }
    }
    return NULL;
}

static ne_account *remote_account(ne_server *srv, const ne_leaf_remote_options *ro)
{
    return account_named(srv, ro->account);
}

static ne_leaf_remote_options *remote_opts(ne_server *srv, const ne_leaf_link *link)
{
    return link->remote >= 0 ? &srv->opts.leaf.remotes[link->remote] : NULL;
}

static bool established(const ne_leaf_link *link)
{
    return link != NULL && link->state == NE_LEAF_ESTABLISHED && !link->conn->closing;
}

static bool subject_in(const char (*list)[NE_SUB_TEXT_BYTES], uint32_t count, const char *subject,
                       size_t len)
{
    for (uint32_t i = 0; i < count; i++) {
        if (ne_subject_matches(list[i], strlen(list[i]), subject, len)) {
            return true;
        }
    }
    return false;
}

static void leaf_send(ne_conn *conn, const char *text, size_t len)
{
    (void)ne_conn_send(conn, text, len);
}

static void conn_link_sub(ne_conn *conn, ne_sub *sub)
{
    sub->conn_prev = NULL;
    sub->conn_next = conn->subs;
    if (conn->subs != NULL) {
        conn->subs->conn_prev = sub;
    }
    conn->subs = sub;
    conn->nsubs++;
}

static void conn_unlink_sub(ne_conn *conn, ne_sub *sub)
{
    if (sub->conn_prev != NULL) {
        sub->conn_prev->conn_next = sub->conn_next;
    } else {
        conn->subs = sub->conn_next;
    }
    if (sub->conn_next != NULL) {
        sub->conn_next->conn_prev = sub->conn_prev;
    }
    conn->nsubs--;
}

static ne_leaf_link *link_alloc(ne_server *srv)
{
    ne_leaf_state *st = &srv->leaf;
    ne_leaf_link *link = ne_pool_alloc(&st->link_pool);
    if (link == NULL) {
        st->stats.links_refused++;
        return NULL;
    }
    memset(link, 0, sizeof(*link));
    st->links[ne_pool_index(&st->link_pool, link)] = link;
    return link;
}

static void link_free(ne_server *srv, ne_leaf_link *link)
{
    ne_leaf_state *st = &srv->leaf;
    st->links[ne_pool_index(&st->link_pool, link)] = NULL;
    ne_pool_free(&st->link_pool, link);
}

/* ---- Interest table ---------------------------------------------------------- */

static uint32_t interest_hash(uint32_t link_index, const char *subject, size_t slen,
                              const char *queue, size_t qlen)
{
    uint32_t h = 2166136261u ^ link_index;
    for (size_t i = 0; i < slen; i++) {
        h = (h ^ (uint8_t)subject[i]) * 16777619u;
    }
    h = (h ^ 0xffu) * 16777619u;
    for (size_t i = 0; i < qlen; i++) {
        h = (h ^ (uint8_t)queue[i]) * 16777619u;
    }
    return h;
}

static ne_leaf_interest *interest_at(ne_leaf_state *st, uint32_t index_plus_one)
{
    ne_leaf_interest *base = (ne_leaf_interest *)(void *)&st->interest_storage;
    return index_plus_one == 0
               ? NULL
               : (ne_leaf_interest *)(void *)((uint8_t *)base +
                                              (size_t)(index_plus_one - 1) *
                                                  NE_POOL_OBJECT_BYTES(sizeof(ne_leaf_interest)));
}

static ne_leaf_interest *interest_find(ne_leaf_state *st, uint32_t link_index, const ne_sub *sub,
                                       uint32_t hash)
{
    uint32_t guard = 0;
    for (ne_leaf_interest *e = interest_at(st, st->buckets[hash & (NE_LEAF_BUCKETS - 1)]);
         e != NULL && guard++ < NE_LEAF_INTEREST_ENTRIES; e = interest_at(st, e->next)) {
        if (e->hash == hash && e->link == link_index && e->subject_len == sub->entry.subject_len &&
            e->queue_len == sub->entry.queue_len &&
            memcmp(e->text, sub->entry.subject, sub->entry.subject_len) == 0 &&
            (sub->entry.queue_len == 0 ||
             memcmp(e->text + e->subject_len, sub->entry.queue, sub->entry.queue_len) == 0)) {
            return e;
        }
    }
    return NULL;
}

static void interest_unlink(ne_leaf_state *st, ne_leaf_interest *e)
{
    uint32_t *pp = &st->buckets[e->hash & (NE_LEAF_BUCKETS - 1)];
    uint32_t guard = 0;
    while (*pp != 0 && guard++ < NE_LEAF_INTEREST_ENTRIES) {
        ne_leaf_interest *cur = interest_at(st, *pp);
        if (cur == e) {
            *pp = e->next;
            return;
        }
        pp = &cur->next;
    }
    NE_ASSERT(false);
}

/* Writes LS+ or LS- for an entry: LS+ s / LS+ s q <weight> / LS- s / LS- s q
 * (LN-10, LN-11). */
static void send_interest(ne_conn *conn, const ne_leaf_interest *e, bool plus)
{
    char line[NE_SUB_TEXT_BYTES + 32];
    ne_strbuf sb;
    ne_strbuf_init(&sb, line, sizeof(line));
    ne_strbuf_puts(&sb, plus ? "LS+ " : "LS- ");
    ne_strbuf_append(&sb, e->text, e->subject_len);
    if (e->queue_len > 0) {
        ne_strbuf_putc(&sb, ' ');
        ne_strbuf_append(&sb, e->text + e->subject_len, e->queue_len);
        if (plus) {
            ne_strbuf_putc(&sb, ' ');
            ne_strbuf_u64(&sb, e->count);
        }
    }
    ne_strbuf_puts(&sb, "\r\n");
    NE_ASSERT(!sb.truncated);
    leaf_send(conn, line, sb.len);
}

/* Whether a subscription's interest goes to this peer (LN-12): never back to
 * the connection it came from, never from one hub to another (a spoke sends
 * only local interest and that of its own leafs), never for a subject the
 * remote's deny_imports names (LN-32). */
static bool should_send(ne_server *srv, const ne_leaf_link *link, const ne_sub *sub)
{
    if (!established(link) || sub->conn == link->conn || sub->conn->closing ||
        sub->conn->acc != link->conn->acc) {
        return false;
    }
    if (sub->conn->kind == NE_CONN_KIND_LEAF) {
        const ne_leaf_link *from = sub->conn->leaf;
        if (from == NULL || (from->spoke && link->spoke)) {
            return false;
        }
    }
    const ne_leaf_remote_options *ro = remote_opts(srv, link);
    if (ro != NULL &&
        subject_in((const char(*)[NE_SUB_TEXT_BYTES])ro->deny_imports, ro->deny_import_count,
                   sub->entry.subject, sub->entry.subject_len)) {
        return false;
    }
    return true;
}

/* Counts one more subscription behind (link, subject, queue): sends LS+ on
 * the first, and the new weight for a queue. NE_ERR_NOMEM if a new entry is
 * needed and the table is full. */
static int interest_add(ne_server *srv, ne_leaf_link *link, const ne_sub *sub)
{
    ne_leaf_state *st = &srv->leaf;
    uint32_t li = ne_pool_index(&st->link_pool, link);
    uint32_t h = interest_hash(li, sub->entry.subject, sub->entry.subject_len, sub->entry.queue,
                               sub->entry.queue_len);
    ne_leaf_interest *e = interest_find(st, li, sub, h);
    if (e == NULL) {
        e = ne_pool_alloc(&st->interest_pool);
        if (e == NULL) {
            return NE_ERR_NOMEM;
        }
        e->hash = h;
        e->link = (uint16_t)li;
        e->subject_len = sub->entry.subject_len;
        e->queue_len = sub->entry.queue_len;
        e->count = 0;
        memcpy(e->text, sub->entry.subject, sub->entry.subject_len);
        if (sub->entry.queue_len > 0) {
            memcpy(e->text + e->subject_len, sub->entry.queue, sub->entry.queue_len);
        }
        uint32_t *bucket = &st->buckets[h & (NE_LEAF_BUCKETS - 1)];
        e->next = *bucket;
        *bucket = ne_pool_index(&st->interest_pool, e) + 1;
        link->interest_count++;
    }
    e->count++;
    if (e->count == 1 || e->queue_len > 0) {
        send_interest(link->conn, e, true);
    }
    return NE_OK;
}

static void interest_remove(ne_server *srv, ne_leaf_link *link, const ne_sub *sub)
{
    ne_leaf_state *st = &srv->leaf;
    uint32_t li = ne_pool_index(&st->link_pool, link);
    uint32_t h = interest_hash(li, sub->entry.subject, sub->entry.subject_len, sub->entry.queue,
                               sub->entry.queue_len);
    ne_leaf_interest *e = interest_find(st, li, sub, h);
    if (e == NULL) {
        return; /* never sent (the table was full at the link's start) */
    }
    e->count--;
    if (e->count > 0) {
        if (e->queue_len > 0) {
            send_interest(link->conn, e, true);
        }
        return;
    }
    send_interest(link->conn, e, false);
    interest_unlink(st, e);
    link->interest_count--;
    ne_pool_free(&st->interest_pool, e);
}

/* Drops every entry of a link (it is gone). */
static void interest_clear_link(ne_server *srv, ne_leaf_link *link)
{
    ne_leaf_state *st = &srv->leaf;
    uint32_t li = ne_pool_index(&st->link_pool, link);
    for (uint32_t b = 0; b < NE_LEAF_BUCKETS && link->interest_count > 0; b++) {
        uint32_t *pp = &st->buckets[b];
        uint32_t guard = 0;
        while (*pp != 0 && guard++ < NE_LEAF_INTEREST_ENTRIES) {
            ne_leaf_interest *e = interest_at(st, *pp);
            if (e->link == li) {
                *pp = e->next;
                link->interest_count--;
                ne_pool_free(&st->interest_pool, e);
            } else {
                pp = &e->next;
            }
        }
    }
}

int ne_leaf_sub_added(ne_server *srv, ne_sub *sub)
{
    ne_leaf_state *st = &srv->leaf;
    if (!st->active || srv->leaf_count == 0) {
        return NE_OK;
    }
    /* All or nothing: first count the entries that would be new. */
    uint32_t need = 0;
    for (uint32_t i = 0; i < NE_MAX_LEAF_CONNECTIONS; i++) {
        ne_leaf_link *link = st->links[i];
        if (link != NULL && should_send(srv, link, sub)) {
            uint32_t h = interest_hash(i, sub->entry.subject, sub->entry.subject_len,
                                       sub->entry.queue, sub->entry.queue_len);
            need += interest_find(st, i, sub, h) == NULL ? 1u : 0u;
        }
    }
    if (need > ne_pool_available(&st->interest_pool)) {
        st->stats.interest_refused++;
        ne_log_warn(&srv->log,
                    "Leafnode interest table exhausted (%u entries): subscription to \"%.*s\" "
                    "refused",
                    (unsigned)NE_LEAF_INTEREST_ENTRIES, (int)sub->entry.subject_len,
                    sub->entry.subject);
        return NE_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < NE_MAX_LEAF_CONNECTIONS; i++) {
        ne_leaf_link *link = st->links[i];
        if (link != NULL && should_send(srv, link, sub)) {
            int rc = interest_add(srv, link, sub);
            NE_ASSERT(rc == NE_OK);
            (void)rc;
        }
    }
    return NE_OK;
}

void ne_leaf_sub_removed(ne_server *srv, ne_sub *sub)
{
    ne_leaf_state *st = &srv->leaf;
    if (!st->active || srv->leaf_count == 0) {
        return;
    }
    for (uint32_t i = 0; i < NE_MAX_LEAF_CONNECTIONS; i++) {
        ne_leaf_link *link = st->links[i];
        if (link != NULL && link->conn != sub->conn && established(link)) {
            interest_remove(srv, link, sub);
        }
    }
}

/* On a new link: our loop-detection subject, then every subscription the
 * peer should know (LN-12, LN-22). */
static void send_all_interest(ne_server *srv, ne_leaf_link *link)
{
    char line[64];
    size_t n = ne_fmt(line, sizeof(line), "LS+ %s\r\n", srv->leaf.lds);
    leaf_send(link->conn, line, n);
    uint32_t dropped = 0;
    uint32_t guard = 0;
    for (ne_conn *c = srv->active; c != NULL && guard < NE_MAX_CONNECTIONS; c = c->next, guard++) {
        uint32_t sguard = 0;
        for (ne_sub *s = c->subs; s != NULL && sguard++ <= NE_MAX_SUBSCRIPTIONS; s = s->conn_next) {
            if (should_send(srv, link, s) && interest_add(srv, link, s) != NE_OK) {
                dropped++;
            }
        }
    }
    if (dropped > 0) {
        srv->leaf.stats.interest_refused += dropped;
        ne_log_warn(&srv->log,
                    "Leafnode interest table exhausted (%u entries): %u subscriptions not sent "
                    "to %s",
                    (unsigned)NE_LEAF_INTEREST_ENTRIES, (unsigned)dropped, link->remote_name);
    }
}

/* ---- Life cycle --------------------------------------------------------------- */

static void make_lds(ne_server *srv)
{
    static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    char *p = srv->leaf.lds;
    memcpy(p, "$LDS.", 5);
    for (int i = 0; i < 22; i++) {
        p[5 + i] = alphabet[ne_server_random(srv) % 62];
    }
    p[27] = '\0';
}

void ne_leaf_init(ne_server *srv)
{
    ne_leaf_state *st = &srv->leaf;
    const ne_leaf_options *o = &srv->opts.leaf;
    ne_pool_init(&st->link_pool, "leaf connections", &st->link_storage, sizeof(ne_leaf_link),
                 NE_MAX_LEAF_CONNECTIONS);
    ne_pool_init(&st->interest_pool, "leaf interest", &st->interest_storage,
                 sizeof(ne_leaf_interest), NE_LEAF_INTEREST_ENTRIES);
    ne_zero_lazy(st->buckets, sizeof(st->buckets));
    ne_zero_lazy(st->links, sizeof(st->links));
    st->active = o->remote_count > 0 || o->listen_enabled;
    st->stopping = false;
    make_lds(srv);
    for (uint32_t r = 0; r < o->remote_count; r++) {
        ne_leaf_remote_state *rs = &st->remotes[r];
        memset(rs, 0, sizeof(*rs));
        uint32_t n = o->remotes[r].url_count;
        for (uint32_t u = 0; u < n; u++) {
            rs->url_order[u] = (uint8_t)u;
        }
        /* nats-server shuffles the URLs unless no_randomize (LN-28). */
        for (uint32_t u = n; !o->remotes[r].no_randomize && u > 1; u--) {
            uint32_t j = (uint32_t)(ne_server_random(srv) % u);
            uint8_t t = rs->url_order[u - 1];
            rs->url_order[u - 1] = rs->url_order[j];
            rs->url_order[j] = t;
        }
    }
}

int ne_leaf_start(ne_server *srv)
{
    const ne_leaf_options *o = &srv->opts.leaf;
    const ne_net_ops *ops = srv->net.ops;
    if (o->listen_enabled) {
        const char *host = o->listen_host[0] != '\0' ? o->listen_host : srv->opts.host;
        int rc = ops->listen(srv->net.ctx, host, o->listen_port, &srv->leaf_listener.sock);
        if (rc != NE_OK) {
            ne_log_error(&srv->log, "Error listening on leafnode port: %s:%u, %s", host,
                         (unsigned)o->listen_port, ne_err_name(rc));
            return rc;
        }
        srv->leaf_listener.port = ops->local_port(srv->net.ctx, srv->leaf_listener.sock);
        rc = ops->attach(srv->net.ctx, srv->leaf_listener.sock, &srv->leaf_listener);
        if (rc != NE_OK) {
            return rc;
        }
        ne_log_info(&srv->log, "Listening for leafnode connections on %s:%u", host,
                    (unsigned)srv->leaf_listener.port);
    }
    for (uint32_t r = 0; r < o->remote_count; r++) {
        if (remote_account(srv, &o->remotes[r]) == NULL) {
            ne_log_error(&srv->log, "leafnode remote %u: no account named \"%s\"", (unsigned)r + 1,
                         o->remotes[r].account);
            return NE_ERR_INVALID;
        }
        srv->leaf.remotes[r].next_attempt_ms = srv->now_ms; /* at the first tick */
    }
    /* Accounts named by leafnodes authorization must exist. */
    if (o->auth_account[0] != '\0' && account_named(srv, o->auth_account) == NULL) {
        ne_log_error(&srv->log, "leafnodes authorization: no account named \"%s\"",
                     o->auth_account);
        return NE_ERR_INVALID;
    }
    for (uint32_t i = 0; i < o->user_count; i++) {
        if (account_named(srv, o->users[i].account) == NULL) {
            ne_log_error(&srv->log, "leafnodes user \"%s\": no account named \"%s\"",
                         o->users[i].user, o->users[i].account);
            return NE_ERR_INVALID;
        }
    }
    return NE_OK;
}

void ne_leaf_set_remote_tls(ne_server *srv, uint32_t remote, const ne_tls_config *cfg)
{
    NE_ASSERT(remote < srv->opts.leaf.remote_count);
    srv->leaf.remotes[remote].tls_config = cfg;
}

void ne_leaf_shutdown(ne_server *srv)
{
    srv->leaf.stopping = true;
    if (srv->leaf_listener.sock != NE_SOCK_INVALID) {
        srv->net.ops->close(srv->net.ctx, srv->leaf_listener.sock);
        srv->leaf_listener.sock = NE_SOCK_INVALID;
    }
}

void ne_leaf_log_memory(const ne_server *srv)
{
    ne_log_info(&srv->log, "  %-14s %6u x %6zu B = %8zu KiB", "leaf conns",
                (unsigned)NE_MAX_LEAF_CONNECTIONS, NE_POOL_OBJECT_BYTES(sizeof(ne_leaf_link)),
                (size_t)NE_MAX_LEAF_CONNECTIONS * NE_POOL_OBJECT_BYTES(sizeof(ne_leaf_link)) /
                    1024);
    ne_log_info(&srv->log, "  %-14s %6u x %6zu B = %8zu KiB", "leaf interest",
                (unsigned)NE_LEAF_INTEREST_ENTRIES, NE_POOL_OBJECT_BYTES(sizeof(ne_leaf_interest)),
                (size_t)NE_LEAF_INTEREST_ENTRIES * NE_POOL_OBJECT_BYTES(sizeof(ne_leaf_interest)) /
                    1024);
}

/* Host and port of a URL, for logs: never the user info. */
static void url_display(const ne_leaf_url *url, char *out, size_t cap)
{
    ne_fmt(out, cap, "%s:%u", url->host, (unsigned)url->port);
}

/* The URL at `index` of a remote's rotation: its configured URLs in their
 * (shuffled) order, then those learned from the hub, which take the first
 * configured URL's user info. */
static bool rotation_url(ne_server *srv, uint32_t r, uint32_t index, ne_leaf_url *url)
{
    const ne_leaf_remote_options *ro = &srv->opts.leaf.remotes[r];
    const ne_leaf_remote_state *rs = &srv->leaf.remotes[r];
    if (index < ro->url_count) {
        return ne_leaf_parse_url(ro->urls[rs->url_order[index]], url) == NE_OK;
    }
    index -= ro->url_count;
    if (index >= rs->learned_count || ne_leaf_parse_url(ro->urls[0], url) != NE_OK) {
        return false;
    }
    ne_leaf_url learned;
    if (ne_leaf_parse_url(rs->learned[index], &learned) != NE_OK) {
        return false;
    }
    memcpy(url->host, learned.host, sizeof(url->host));
    url->port = learned.port;
    return true;
}

/* Adds the hub's leafnode_urls that are not in the rotation yet (bounded;
 * the rest are dropped). */
static void learn_urls(ne_server *srv, uint32_t r, const ne_leaf_info *info)
{
    const ne_leaf_remote_options *ro = &srv->opts.leaf.remotes[r];
    ne_leaf_remote_state *rs = &srv->leaf.remotes[r];
    for (uint32_t i = 0; i < info->url_count; i++) {
        ne_leaf_url cand;
        if (ne_leaf_parse_url(info->urls[i], &cand) != NE_OK) {
            continue;
        }
        bool known = false;
        for (uint32_t k = 0; k < ro->url_count + rs->learned_count && !known; k++) {
            ne_leaf_url have;
            known = rotation_url(srv, r, k, &have) && have.port == cand.port &&
                    strcmp(have.host, cand.host) == 0;
        }
        if (known || rs->learned_count >= NE_LEAF_MAX_URLS) {
            continue;
        }
        memcpy(rs->learned[rs->learned_count], info->urls[i], sizeof(rs->learned[0]));
        rs->learned_count++;
        ne_log_debug(&srv->log, "Leafnode remote %u: learned URL %s from the hub", (unsigned)r + 1,
                     info->urls[i]);
    }
}

/* One connection attempt of a remote: the next URL in its rotation (LN-28). */
static void solicit(ne_server *srv, uint32_t r)
{
    ne_leaf_state *st = &srv->leaf;
    ne_leaf_remote_state *rs = &st->remotes[r];
    const ne_leaf_remote_options *ro = &srv->opts.leaf.remotes[r];
    rs->attempts++;
    rs->next_attempt_ms = srv->now_ms + srv->opts.leaf.reconnect_ms;
    uint32_t total = ro->url_count + rs->learned_count;
    uint32_t index = rs->url_next % total;
    rs->url_next = (index + 1) % total;
    ne_leaf_url url;
    if (!rotation_url(srv, r, index, &url)) {
        return; /* checked with the options: cannot happen */
    }
    char shown[160];
    url_display(&url, shown, sizeof(shown));
    ne_leaf_link *link = link_alloc(srv);
    if (link == NULL) {
        ne_log_warn(&srv->log,
                    "Leafnode connection pool exhausted (%u): not connecting to %s, retrying in "
                    "%u ms",
                    (unsigned)NE_MAX_LEAF_CONNECTIONS, shown,
                    (unsigned)srv->opts.leaf.reconnect_ms);
        return;
    }
    ne_sock sock;
    int rc = srv->net.ops->connect(srv->net.ctx, url.host, url.port, &sock);
    if (rc != NE_OK) {
        link_free(srv, link);
        ne_log_error(&srv->log, "Error trying to connect as leafnode to remote server %s: %s",
                     shown, ne_err_name(rc));
        return;
    }
    ne_conn *conn = ne_server_conn_new(srv, sock, NE_CONN_KIND_LEAF, url.host, url.port);
    if (conn == NULL) {
        srv->net.ops->close(srv->net.ctx, sock);
        link_free(srv, link);
        srv->stats.refused_connections++;
        ne_log_warn(&srv->log,
                    "Connection pool exhausted (%u): not connecting to leafnode remote %s, "
                    "retrying in %u ms",
                    (unsigned)NE_MAX_CONNECTIONS, shown, (unsigned)srv->opts.leaf.reconnect_ms);
        return;
    }
    link->conn = conn;
    link->remote = (int32_t)r;
    link->spoke = !ro->hub;
    link->url_index = (uint8_t)index;
    link->state = NE_LEAF_CONNECTING;
    link->deadline_ms = srv->now_ms + NE_LEAF_HANDSHAKE_TIMEOUT_MS;
    memcpy(link->url, shown, NE_MIN(strlen(shown) + 1, sizeof(link->url)));
    conn->leaf = link;
    conn->acc = remote_account(srv, ro);
    conn->echo = false;
    conn->verbose = false;
    conn->pedantic = false;
    rs->link = link;
    ne_log_debug(&srv->log, "Trying to connect as leafnode to remote server on %s", shown);
}

void ne_leaf_tick(ne_server *srv, uint64_t now_ms)
{
    ne_leaf_state *st = &srv->leaf;
    if (!st->active || st->stopping) {
        return;
    }
    for (uint32_t i = 0; i < NE_MAX_LEAF_CONNECTIONS; i++) {
        ne_leaf_link *link = st->links[i];
        if (link != NULL && link->state != NE_LEAF_ESTABLISHED && !link->conn->closing &&
            now_ms >= link->deadline_ms) {
            ne_log_warn(&srv->log, "%s:%u - lid:%llu - Leafnode handshake timed out",
                        link->conn->ip, (unsigned)link->conn->port,
                        (unsigned long long)link->conn->cid);
            ne_conn_close(link->conn, NE_CLOSE_STALE,
                          link->remote < 0 ? "Authentication Timeout" : NULL);
        }
    }
    for (uint32_t r = 0; r < srv->opts.leaf.remote_count; r++) {
        ne_leaf_remote_state *rs = &st->remotes[r];
        if (rs->link == NULL && now_ms >= rs->next_attempt_ms) {
            solicit(srv, r);
        }
    }
}

void ne_leaf_conn_closed(ne_conn *conn)
{
    ne_server *srv = conn->srv;
    ne_leaf_link *link = conn->leaf;
    if (link == NULL) {
        return;
    }
    bool was_up = link->state == NE_LEAF_ESTABLISHED;
    interest_clear_link(srv, link);
    NE_ASSERT(link->interest_count == 0);
    if (link->remote >= 0) {
        ne_leaf_remote_state *rs = &srv->leaf.remotes[link->remote];
        rs->link = NULL;
        uint64_t earliest = srv->now_ms + srv->opts.leaf.reconnect_ms;
        if (rs->next_attempt_ms < earliest) {
            rs->next_attempt_ms = earliest;
        }
    }
    if (was_up) {
        ne_log_info(&srv->log, "%s:%u - lid:%llu - Leafnode connection closed: %s", conn->ip,
                    (unsigned)conn->port, (unsigned long long)conn->cid,
                    ne_close_reason_text(conn->close_reason));
    } else {
        ne_log_debug(&srv->log, "%s:%u - lid:%llu - Leafnode connection attempt failed: %s",
                     conn->ip, (unsigned)conn->port, (unsigned long long)conn->cid,
                     ne_close_reason_text(conn->close_reason));
    }
    conn->leaf = NULL;
    link_free(srv, link);
}

/* ---- Handshake ------------------------------------------------------------------ */

static void establish(ne_server *srv, ne_leaf_link *link)
{
    ne_conn *conn = link->conn;
    link->state = NE_LEAF_ESTABLISHED;
    link->established_wall_ns = ne_port_wall_ns();
    conn->connect_received = true;
    uint32_t first = NE_MIN((uint32_t)NE_FIRST_PING_INTERVAL_MS, srv->opts.ping_interval_ms);
    conn->next_ping_ms = srv->now_ms + first;
    if (link->remote >= 0) {
        ne_leaf_remote_state *rs = &srv->leaf.remotes[link->remote];
        rs->connects++;
        ne_log_info(&srv->log, "Connected leafnode to %s (server %s, remote account %s)", link->url,
                    link->remote_name,
                    link->remote_account[0] != '\0' ? link->remote_account : "?");
    } else {
        ne_log_info(&srv->log, "%s:%u - lid:%llu - Leafnode connection from %s established",
                    conn->ip, (unsigned)conn->port, (unsigned long long)conn->cid,
                    link->remote_name);
    }
    send_all_interest(srv, link);
    /* A first PING measures the round trip for /leafz. */
    conn->rtt_start_ns = ne_port_wall_ns();
    conn->pings_out++;
    leaf_send(conn, "PING\r\n", 6);
}

/* The URL a solicited link was opened with. */
static bool link_url(ne_server *srv, const ne_leaf_link *link, ne_leaf_url *url)
{
    return rotation_url(srv, (uint32_t)link->remote, link->url_index, url);
}

/* Starts the TLS client handshake; what is queued from now on (CONNECT)
 * goes out encrypted once it completes. The hub's certificate must match
 * the URL's host. */
static bool start_tls(ne_server *srv, ne_leaf_link *link)
{
    ne_leaf_url url;
    const ne_tls_config *cfg = srv->leaf.remotes[link->remote].tls_config;
    if (cfg == NULL) {
        cfg = srv->tls_client_config;
    }
    if (cfg == NULL || !link_url(srv, link, &url)) {
        ne_log_error(&srv->log,
                     "Leafnode remote %s requires TLS: give the remote a tls { ca_file } block",
                     link->url);
        return false;
    }
    int rc = ne_conn_tls_start_client(link->conn, cfg, url.host);
    if (rc != NE_OK) {
        ne_log_error(&srv->log, "Leafnode remote %s: cannot start TLS (%s)", link->url,
                     ne_err_name(rc));
        return false;
    }
    return true;
}

/* CONNECT for the hub (LN-05): our identity, headers, and credentials: a
 * JWT with the hub's nonce signed (LN-25), or user and password from the
 * URL. */
static bool send_connect(ne_server *srv, ne_leaf_link *link, const ne_leaf_info *info)
{
    const ne_leaf_remote_options *ro = remote_opts(srv, link);
    static char line[NE_LEAF_JWT_BYTES + 1024];
    ne_strbuf sb;
    ne_strbuf_init(&sb, line, sizeof(line));
    ne_strbuf_puts(&sb, "CONNECT {\"version\":\"" NE_ADVERTISED_VERSION "\",\"server_id\":");
    ne_strbuf_json_string(&sb, srv->server_id, strlen(srv->server_id));
    ne_strbuf_puts(&sb, ",\"name\":");
    ne_strbuf_json_string(&sb, srv->opts.server_name, strlen(srv->opts.server_name));
    ne_strbuf_printf(&sb, ",\"tls_required\":false,\"is_hub\":%s,\"headers\":%s",
                     ro->hub ? "true" : "false", srv->opts.no_header_support ? "false" : "true");
    if (ro->jwt[0] != '\0') {
        char sig[90];
        int rc = ne_leaf_sign_nonce(ro->seed, info->nonce, sig);
        if (rc != NE_OK) {
            ne_log_error(&srv->log,
                         "Leafnode remote %s: cannot sign the nonce with the "
                         "credentials' seed (%s)",
                         link->url, ne_err_name(rc));
            return false;
        }
        ne_strbuf_puts(&sb, ",\"jwt\":");
        ne_strbuf_json_string(&sb, ro->jwt, strlen(ro->jwt));
        ne_strbuf_puts(&sb, ",\"sig\":");
        ne_strbuf_json_string(&sb, sig, strlen(sig));
    } else {
        ne_leaf_url url;
        if (link_url(srv, link, &url) && url.user[0] != '\0') {
            ne_strbuf_puts(&sb, ",\"user\":");
            ne_strbuf_json_string(&sb, url.user, strlen(url.user));
            ne_strbuf_puts(&sb, ",\"pass\":");
            ne_strbuf_json_string(&sb, url.pass, strlen(url.pass));
        }
    }
    /* What we will not import: the hub need not send it (LN-32). */
    if (ro->deny_import_count > 0) {
        ne_strbuf_puts(&sb, ",\"deny_pub\":[");
        for (uint32_t i = 0; i < ro->deny_import_count; i++) {
            if (i > 0) {
                ne_strbuf_putc(&sb, ',');
            }
            ne_strbuf_json_string(&sb, ro->deny_imports[i], strlen(ro->deny_imports[i]));
        }
        ne_strbuf_putc(&sb, ']');
    }
    ne_strbuf_puts(&sb, "}\r\n");
    if (sb.truncated) {
        return false;
    }
    leaf_send(link->conn, line, sb.len);
    return true;
}

static void handle_info(ne_conn *conn, ne_leaf_link *link, const ne_op *op)
{
    ne_server *srv = conn->srv;
    ne_leaf_info info;
    if (ne_leaf_parse_info(op->text.ptr, op->text.len, &info) != NE_OK) {
        ne_log_error(&srv->log, "%s:%u - lid:%llu - Malformed leafnode INFO", conn->ip,
                     (unsigned)conn->port, (unsigned long long)conn->cid);
        ne_conn_close(conn, NE_CLOSE_PROTOCOL_VIOLATION, NULL);
        return;
    }
    if (link->remote < 0) {
        return; /* a leaf's INFO (async updates): nothing to learn */
    }
    learn_urls(srv, (uint32_t)link->remote, &info);
    if (link->state == NE_LEAF_CONNECTING) {
        /* A hub's leaf port always sends these (LN-03). */
        if (info.client_id == 0 && !info.has_leafnode_urls) {
            ne_log_error(&srv->log,
                         "Leafnode remote %s: attempted to connect to wrong port (not a "
                         "leafnode port)",
                         link->url);
            ne_conn_close(conn, NE_CLOSE_PROTOCOL_VIOLATION, NULL);
            return;
        }
        /* TLS after the plain INFO, when either side asks for it (LN-04). */
        if ((info.tls_required || remote_opts(srv, link)->tls) && !start_tls(srv, link)) {
            ne_conn_close(conn, NE_CLOSE_PROTOCOL_VIOLATION, NULL);
            return;
        }
        memcpy(link->remote_id, info.server_id, sizeof(link->remote_id));
        memcpy(link->remote_name, info.server_name, sizeof(link->remote_name));
        link->headers = info.headers && !srv->opts.no_header_support;
        conn->headers = link->headers;
        if (!send_connect(srv, link, &info)) {
            ne_conn_close(conn, NE_CLOSE_PROTOCOL_VIOLATION, NULL);
            return;
        }
        if (info.info_on_connect) {
            link->state = NE_LEAF_WAIT_CONNECT_INFO;
        } else {
            establish(srv, link);
        }
        return;
    }
    if (link->state == NE_LEAF_WAIT_CONNECT_INFO && info.connect_info) {
        memcpy(link->remote_account, info.remote_account, sizeof(link->remote_account));
        establish(srv, link);
    }
}

/* -ERR from the peer: logged; some errors make the next attempt wait
 * longer, as nats-server does (LN-23, LN-29). */
static void handle_err(ne_conn *conn, ne_leaf_link *link, const ne_op *op)
{
    ne_server *srv = conn->srv;
    ne_log_error(&srv->log, "%s:%u - lid:%llu - Leafnode error from %s: %.*s", conn->ip,
                 (unsigned)conn->port, (unsigned long long)conn->cid,
                 link->remote >= 0 ? link->url : "leaf", (int)op->text.len, op->text.ptr);
    if (link->remote >= 0) {
        static const char *const delayed[] = {"Loop detected", "Permissions Violation",
                                              "same cluster name"};
        uint64_t delay = srv->opts.leaf.reconnect_ms;
        for (size_t i = 0; i < NE_ARRAY_LEN(delayed); i++) {
            size_t n = strlen(delayed[i]);
            for (uint32_t at = 0; at + n <= op->text.len; at++) {
                if (memcmp(op->text.ptr + at, delayed[i], n) == 0) {
                    delay = NE_LEAF_ERROR_DELAY_MS;
                }
            }
        }
        ne_leaf_remote_state *rs = &srv->leaf.remotes[link->remote];
        rs->next_attempt_ms = srv->now_ms + delay;
        ne_log_warn(&srv->log, "Leafnode remote %s: next connection attempt in %llu ms", link->url,
                    (unsigned long long)delay);
    }
    ne_conn_close(conn, NE_CLOSE_CLIENT_CLOSED, NULL);
}

/* ---- Peer interest ----------------------------------------------------------------- */

static ne_sub *find_peer_sub(ne_conn *conn, const ne_op *op)
{
    uint32_t guard = 0;
    for (ne_sub *s = conn->subs; s != NULL && guard++ <= NE_MAX_SUBSCRIPTIONS; s = s->conn_next) {
        if (s->entry.subject_len == op->subject.len && s->entry.queue_len == op->queue.len &&
            memcmp(s->text, op->subject.ptr, op->subject.len) == 0 &&
            (op->queue.len == 0 ||
             memcmp(s->text + s->entry.subject_len, op->queue.ptr, op->queue.len) == 0)) {
            return s;
        }
    }
    return NULL;
}

static void loop_detected(ne_conn *conn, ne_leaf_link *link)
{
    ne_server *srv = conn->srv;
    srv->leaf.stats.loops_detected++;
    char text[160];
    ne_fmt(text, sizeof(text), NE_LEAF_LOOP_TEXT "\"%s\". Delaying attempt to reconnect for %us",
           srv->opts.accounts[conn->acc->index].name, (unsigned)(NE_LEAF_ERROR_DELAY_MS / 1000));
    ne_log_error(&srv->log, "%s:%u - lid:%llu - %s", conn->ip, (unsigned)conn->port,
                 (unsigned long long)conn->cid, text);
    if (link->remote >= 0) {
        srv->leaf.remotes[link->remote].next_attempt_ms = srv->now_ms + NE_LEAF_ERROR_DELAY_MS;
    }
    ne_conn_close(conn, NE_CLOSE_PROTOCOL_VIOLATION, text);
}

/* LS+ from the peer: one subscription owned by the leaf connection, so that
 * local publishers find it (LN-13). A repeated LS+ for a queue only updates
 * its weight. */
static void handle_ls_plus(ne_conn *conn, ne_leaf_link *link, const ne_op *op)
{
    ne_server *srv = conn->srv;
    if (op->subject.len == strlen(srv->leaf.lds) &&
        memcmp(op->subject.ptr, srv->leaf.lds, op->subject.len) == 0) {
        loop_detected(conn, link);
        return;
    }
    if (!ne_subject_valid(op->subject.ptr, op->subject.len)) {
        ne_log_debug(&srv->log, "%s:%u - lid:%llu - Ignoring LS+ of invalid subject \"%.*s\"",
                     conn->ip, (unsigned)conn->port, (unsigned long long)conn->cid,
                     (int)op->subject.len, op->subject.ptr);
        return;
    }
    const ne_leaf_remote_options *ro = remote_opts(srv, link);
    if (ro != NULL && subject_in((const char(*)[NE_SUB_TEXT_BYTES])ro->deny_exports,
                                 ro->deny_export_count, op->subject.ptr, op->subject.len)) {
        return; /* we may not send there: a spoke ignores the interest (LN-32) */
    }
    if (find_peer_sub(conn, op) != NULL) {
        return;
    }
    size_t text_len = (size_t)op->subject.len + op->queue.len;
    ne_sub *sub = text_len <= NE_SUB_TEXT_BYTES ? ne_pool_alloc(&srv->sub_pool) : NULL;
    if (sub == NULL) {
        srv->leaf.stats.hub_subs_dropped++;
        srv->stats.subs_refused++;
        ne_log_warn(&srv->log, "%s:%u - lid:%llu - Leafnode interest in \"%.*s\" dropped: %s",
                    conn->ip, (unsigned)conn->port, (unsigned long long)conn->cid,
                    (int)op->subject.len, op->subject.ptr,
                    text_len > NE_SUB_TEXT_BYTES ? "longer than NE_SUB_TEXT_BYTES"
                                                 : "subscription pool exhausted");
        return;
    }
    memcpy(sub->text, op->subject.ptr, op->subject.len);
    if (op->queue.len > 0) {
        memcpy(sub->text + op->subject.len, op->queue.ptr, op->queue.len);
    }
    sub->entry.subject = sub->text;
    sub->entry.subject_len = (uint16_t)op->subject.len;
    sub->entry.queue = op->queue.len > 0 ? sub->text + op->subject.len : NULL;
    sub->entry.queue_len = (uint16_t)op->queue.len;
    sub->sid_len = 0;
    sub->conn = conn;
    int rc = ne_sublist_insert(ne_leaf_sublist(conn), &sub->entry);
    if (rc != NE_OK) {
        ne_pool_free(&srv->sub_pool, sub);
        srv->leaf.stats.hub_subs_dropped++;
        srv->stats.subs_refused++;
        ne_log_warn(&srv->log, "%s:%u - lid:%llu - Leafnode interest in \"%.*s\" dropped: %s",
                    conn->ip, (unsigned)conn->port, (unsigned long long)conn->cid,
                    (int)op->subject.len, op->subject.ptr,
                    rc == NE_ERR_NOMEM ? "subject trie exhausted" : "subject not storable");
        return;
    }
    conn_link_sub(conn, sub);
    /* Passed on to our other leafs when we are their hub; a full table only
     * costs those leafs this interest. */
    (void)ne_leaf_sub_added(srv, sub);
}

static void handle_ls_minus(ne_conn *conn, const ne_op *op)
{
    ne_server *srv = conn->srv;
    ne_sub *sub = find_peer_sub(conn, op);
    if (sub == NULL) {
        return;
    }
    ne_leaf_sub_removed(srv, sub);
    ne_sublist_remove(ne_leaf_sublist(conn), &sub->entry);
    conn_unlink_sub(conn, sub);
    ne_pool_free(&srv->sub_pool, sub);
}

/* ---- Accepting leafs (hub role) ------------------------------------------------------ */

static void send_hub_info(ne_conn *conn, bool connect_info)
{
    ne_server *srv = conn->srv;
    char info[1024];
    ne_strbuf sb;
    ne_strbuf_init(&sb, info, sizeof(info));
    ne_strbuf_puts(&sb, "INFO {\"server_id\":");
    ne_strbuf_json_string(&sb, srv->server_id, strlen(srv->server_id));
    ne_strbuf_puts(&sb, ",\"server_name\":");
    ne_strbuf_json_string(&sb, srv->opts.server_name, strlen(srv->opts.server_name));
    ne_strbuf_puts(&sb, ",\"version\":\"" NE_ADVERTISED_VERSION
                        "\",\"proto\":1,\"go\":\"natsedge-" NE_VERSION "\",\"host\":");
    const char *host =
        srv->opts.leaf.listen_host[0] != '\0' ? srv->opts.leaf.listen_host : srv->opts.host;
    ne_strbuf_json_string(&sb, host, strlen(host));
    ne_strbuf_printf(&sb,
                     ",\"port\":%u,\"headers\":%s,\"auth_required\":true,\"max_payload\":%u,"
                     "\"client_id\":%llu",
                     (unsigned)srv->leaf_listener.port,
                     srv->opts.no_header_support ? "false" : "true",
                     (unsigned)srv->opts.max_payload, (unsigned long long)conn->cid);
    if (conn->nonce[0] != '\0') {
        ne_strbuf_printf(&sb, ",\"nonce\":\"%s\"", conn->nonce);
    }
    ne_strbuf_puts(&sb, ",\"info_on_connect\":true");
    if (connect_info) {
        ne_strbuf_puts(&sb, ",\"connect_info\":true");
    }
    ne_strbuf_puts(&sb, ",\"leafnode_urls\":[");
    ne_strbuf_putc(&sb, '"');
    ne_strbuf_printf(&sb, "%s:%u", host, (unsigned)srv->leaf_listener.port);
    ne_strbuf_putc(&sb, '"');
    ne_strbuf_puts(&sb, "]");
    if (connect_info) {
        const char *acc = srv->opts.accounts[conn->acc->index].name;
        ne_strbuf_puts(&sb, ",\"remote_account\":");
        ne_strbuf_json_string(&sb, acc, strlen(acc));
    }
    ne_strbuf_puts(&sb, "}\r\n");
    NE_ASSERT(!sb.truncated);
    leaf_send(conn, info, sb.len);
}

void ne_leaf_accepted(ne_conn *conn)
{
    ne_server *srv = conn->srv;
    ne_leaf_link *link = link_alloc(srv);
    if (link == NULL) {
        ne_log_warn(&srv->log, "%s:%u - Leafnode connection pool exhausted (%u)", conn->ip,
                    (unsigned)conn->port, (unsigned)NE_MAX_LEAF_CONNECTIONS);
        ne_conn_close(conn, NE_CLOSE_MAX_CONNECTIONS, "maximum connections exceeded");
        return;
    }
    link->conn = conn;
    link->remote = -1;
    link->state = NE_LEAF_WAIT_CONNECT;
    link->deadline_ms = srv->now_ms + srv->opts.leaf.auth_timeout_ms;
    conn->leaf = link;
    conn->echo = false;
    conn->verbose = false;
    conn->pedantic = false;
    if (ne_nkey_nonce(conn->nonce) != NE_OK) {
        conn->nonce[0] = '\0';
    }
    ne_log_info(&srv->log, "%s:%u - lid:%llu - Leafnode connection created", conn->ip,
                (unsigned)conn->port, (unsigned long long)conn->cid);
    send_hub_info(conn, false);
}

/* An accepted leaf's credentials (LN-26), and the account it binds to:
 * leafnodes.authorization (single user, or users with accounts) when it is
 * configured; otherwise the server's own single user or token (a token
 * arrives as CONNECT's user, as nats-server 2.9 leafs send it) or a users
 * list entry with a clear-text password. Without any of these, none. NULL
 * when refused. */
static ne_account *leaf_authorized(ne_server *srv, const ne_json_doc *doc)
{
    ne_account *global = &srv->accounts[NE_ACCOUNT_GLOBAL];
    const ne_leaf_options *lo = &srv->opts.leaf;
    const ne_server_options *o = &srv->opts;
    char user[128], pass[128];
    if (!ne_server_read_credential(doc, "user", user, sizeof(user)) ||
        !ne_server_read_credential(doc, "pass", pass, sizeof(pass))) {
        return NULL; /* never compared by a prefix that fit */
    }
    if (lo->auth_user[0] != '\0') {
        return ne_server_secret_equal(user, lo->auth_user) &&
                       ne_server_secret_matches(srv, lo->auth_pass, pass)
                   ? account_named(srv, lo->auth_account)
                   : NULL;
    }
    if (lo->user_count > 0) {
        for (uint32_t i = 0; i < lo->user_count; i++) {
            const ne_leaf_user *u = &lo->users[i];
            if (user[0] != '\0' && ne_server_secret_equal(user, u->user)) {
                return ne_server_secret_matches(srv, u->pass, pass) ? account_named(srv, u->account)
                                                                    : NULL;
            }
        }
        return NULL;
    }
    if (!ne_server_auth_required(srv)) {
        return global;
    }
    if (o->auth_token[0] != '\0') {
        char token[128];
        if (!ne_server_read_credential(doc, "auth_token", token, sizeof(token))) {
            return NULL;
        }
        const char *given = token[0] != '\0' ? token : user;
        return given[0] != '\0' && ne_server_secret_matches(srv, o->auth_token, given) ? global
                                                                                       : NULL;
    }
    if (o->auth_user[0] != '\0') {
        return user[0] != '\0' && ne_server_secret_equal(user, o->auth_user) &&
                       ne_server_secret_matches(srv, o->auth_pass, pass)
                   ? global
                   : NULL;
    }
    for (uint32_t i = 0; i < o->user_count; i++) {
        const ne_user_entry *u = &o->users[i];
        if (u->user[0] != '\0' && user[0] != '\0' && ne_server_secret_equal(user, u->user)) {
            return ne_server_secret_matches(srv, u->pass, pass) ? &srv->accounts[u->account] : NULL;
        }
    }
    return NULL;
}

static void handle_connect(ne_conn *conn, ne_leaf_link *link, const ne_op *op)
{
    ne_server *srv = conn->srv;
    if (link->state != NE_LEAF_WAIT_CONNECT) {
        return; /* a second CONNECT is ignored */
    }
    static ne_json_doc doc;
    if (ne_json_parse(&doc, op->text.ptr, op->text.len) != NE_OK || doc.count < 1 ||
        doc.tokens[0].type != JSMN_OBJECT) {
        ne_conn_close(conn, NE_CLOSE_PROTOCOL_VIOLATION, NULL);
        return;
    }
    ne_account *acc = leaf_authorized(srv, &doc);
    if (acc == NULL) {
        ne_log_warn(&srv->log, "%s:%u - lid:%llu - authentication error", conn->ip,
                    (unsigned)conn->port, (unsigned long long)conn->cid);
        ne_conn_close(conn, NE_CLOSE_AUTH_VIOLATION, "Authorization Violation");
        return;
    }
    bool headers = false;
    (void)ne_json_get_bool(&doc, 0, "headers", &headers);
    bool peer_is_hub = false;
    (void)ne_json_get_bool(&doc, 0, "is_hub", &peer_is_hub);
    link->spoke = peer_is_hub;
    link->headers = headers && !srv->opts.no_header_support;
    conn->headers = link->headers;
    if (!ne_json_get_string(&doc, 0, "name", link->remote_name, sizeof(link->remote_name), NULL)) {
        link->remote_name[0] = '\0';
    }
    if (!ne_json_get_string(&doc, 0, "server_id", link->remote_id, sizeof(link->remote_id), NULL)) {
        link->remote_id[0] = '\0';
    }
    memcpy(conn->name, link->remote_name, sizeof(conn->name));
    conn->acc = acc;
    const char *acc_name = srv->opts.accounts[acc->index].name;
    memcpy(link->remote_account, acc_name,
           NE_MIN(strlen(acc_name) + 1, sizeof(link->remote_account)));
    send_hub_info(conn, true);
    establish(srv, link);
}

/* ---- Operations ------------------------------------------------------------------------ */

bool ne_leaf_carries_payload(ne_conn *conn, const ne_op *op)
{
    if (op->kind != NE_OP_LMSG && op->kind != NE_OP_HMSG) {
        return false;
    }
    if (!established(conn->leaf)) {
        ne_conn_close(conn, NE_CLOSE_PROTOCOL_VIOLATION, NULL);
        return false;
    }
    return true;
}

void ne_leaf_handle_op(ne_conn *conn, const ne_op *op)
{
    ne_leaf_link *link = conn->leaf;
    if (conn->closing || link == NULL) {
        return;
    }
    bool up = link->state == NE_LEAF_ESTABLISHED;
    switch (op->kind) {
    case NE_OP_INFO:
        handle_info(conn, link, op);
        break;
    case NE_OP_CONNECT:
        if (link->remote < 0) {
            handle_connect(conn, link, op);
        }
        break;
    case NE_OP_PING:
        leaf_send(conn, "PONG\r\n", 6);
        break;
    case NE_OP_PONG:
        ne_conn_pong_received(conn);
        break;
    case NE_OP_OK:
        break;
    case NE_OP_ERR:
        handle_err(conn, link, op);
        break;
    case NE_OP_LS_PLUS:
    case NE_OP_LS_MINUS:
        if (!up) {
            ne_conn_close(conn, NE_CLOSE_PROTOCOL_VIOLATION, NULL);
        } else if (op->kind == NE_OP_LS_PLUS) {
            handle_ls_plus(conn, link, op);
        } else {
            handle_ls_minus(conn, op);
        }
        break;
    default:
        /* Client verbs on a leaf connection. */
        ne_conn_close(conn, NE_CLOSE_PARSE_ERROR, "Unknown Protocol Operation");
        break;
    }
}

/* ---- Routing --------------------------------------------------------------------------- */

bool ne_leaf_route_begin(ne_conn *pub, ne_slice subject)
{
    ne_server *srv = pub->srv;
    ne_leaf_state *st = &srv->leaf;
    st->target_count = 0;
    st->route_subject.ptr = subject.ptr;
    st->route_subject.len = subject.len;
    if (pub->kind != NE_CONN_KIND_LEAF || pub->leaf == NULL) {
        return true;
    }
    const ne_leaf_remote_options *ro = remote_opts(srv, pub->leaf);
    return ro == NULL || !subject_in((const char(*)[NE_SUB_TEXT_BYTES])ro->deny_imports,
                                     ro->deny_import_count, subject.ptr, subject.len);
}

bool ne_leaf_route_add(ne_conn *pub, ne_sub *sub, const char *queue, uint16_t queue_len)
{
    ne_server *srv = pub->srv;
    ne_leaf_state *st = &srv->leaf;
    ne_conn *conn = sub->conn;
    ne_leaf_link *link = conn->leaf;
    if (!established(link) || conn == pub) {
        return false;
    }
    /* A message from one hub never goes to another (LN-12's rule for
     * messages): the hubs' own clusters carry it. */
    if (pub->kind == NE_CONN_KIND_LEAF && pub->leaf != NULL && pub->leaf->spoke && link->spoke) {
        return false;
    }
    const ne_leaf_remote_options *ro = remote_opts(srv, link);
    if (ro != NULL &&
        subject_in((const char(*)[NE_SUB_TEXT_BYTES])ro->deny_exports, ro->deny_export_count,
                   st->route_subject.ptr, st->route_subject.len)) {
        return false;
    }
    ne_leaf_target *t = NULL;
    for (uint32_t i = 0; i < st->target_count; i++) {
        if (st->targets[i].conn == conn) {
            t = &st->targets[i];
        }
    }
    if (t == NULL) {
        NE_ASSERT(st->target_count < NE_MAX_LEAF_CONNECTIONS);
        t = &st->targets[st->target_count++];
        t->conn = conn;
        t->plain = false;
        t->queue_count = 0;
    }
    if (queue == NULL) {
        t->plain = true;
        return true;
    }
    if (t->queue_count >= NE_MAX_MATCH_QUEUE_GROUPS) {
        return false;
    }
    t->queue[t->queue_count] = queue;
    t->queue_len[t->queue_count] = queue_len;
    t->queue_count++;
    return true;
}
