/* Leaf connections: soliciting remotes, accepting leafs, the handshake,
 * interest in both directions and the routing hooks. IDs refer to section 2
 * of the NATS inventory (LN-xx). */
#include "leaf/ne_leaf.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "json/ne_json.h"
#include "json/ne_json_writer.h"
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

static void leaf_puts(ne_conn *conn, const char *text)
{
    leaf_send(conn, text, strlen(text));
}

/* JSON lines (INFO, CONNECT) go to the connection's queue in pieces. */
static int leaf_sink(void *ctx, const void *bytes, size_t len)
{
    return ne_conn_send(ctx, bytes, len);
}

static void key_string(ne_json_writer *w, bool *first, const char *name, const char *value)
{
    ne_json_writer_key(w, first, name);
    ne_json_writer_string(w, value, strlen(value));
}

static void key_u64(ne_json_writer *w, bool *first, const char *name, uint64_t value)
{
    ne_json_writer_key(w, first, name);
    ne_json_writer_u64(w, value);
}

static void key_raw(ne_json_writer *w, bool *first, const char *name, const char *raw)
{
    ne_json_writer_key(w, first, name);
    ne_json_writer_puts(w, raw);
}

/* ---- A leaf user's permissions (hub role) ------------------------------------ */

/* An accepted leaf that logged in as a user of the authorization block has
 * that user's permissions, seen from the other side (LN-40..LN-44): its
 * subscribe lists say what the hub may send it, its publish lists what it
 * may send in. NULL: no permissions. */
static const ne_permissions *leaf_perms(const ne_conn *conn)
{
    return conn->perms == NE_PERM_NONE ? NULL : &conn->srv->opts.perms[conn->perms];
}

static bool has_prefix(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

/* Interest nats-server never holds against permissions: loop detection and
 * gateway replies. */
static bool perm_exempt(const char *subject, size_t len)
{
    return has_prefix(subject, len, "$LDS.") || has_prefix(subject, len, "$GR.") ||
           has_prefix(subject, len, "_GR_.");
}

/* May the peer of conn receive a message on subject (LN-43)? */
static bool leaf_may_receive(const ne_conn *conn, const char *subject, size_t len)
{
    const ne_permissions *p = leaf_perms(conn);
    return p == NULL ||
           ne_perm_can_subscribe(p, conn->srv->opts.perm_subjects, subject, len, NULL, 0);
}

/* May the peer of conn send a message on subject (LN-44)? Responses to
 * service imports ("_R_.") are the hub's own routing. */
static bool leaf_may_send(const ne_conn *conn, const char *subject, size_t len)
{
    const ne_permissions *p = leaf_perms(conn);
    return p == NULL || has_prefix(subject, len, "_R_.") ||
           ne_perm_can_publish(p, conn->srv->opts.perm_subjects, subject, len);
}

/* nats-server's answer to a leaf that broke its permissions: -ERR
 * 'Permissions Violation for <action> to "<subject>"', an error log line,
 * and the connection closed (LN-42, LN-44). The line is sent in pieces: the
 * subject may be as long as a control line. */
static void leaf_perm_violation(ne_conn *conn, const char *action, const char *subject, size_t len)
{
    ne_server *srv = conn->srv;
    srv->stats.perm_violations++;
    ne_log_error(
        &srv->log, "%s:%u - lid:%llu - %s Violation on \"%.*s\" - Check other side configuration",
        conn->ip, (unsigned)conn->port, (unsigned long long)conn->cid, action, (int)len, subject);
    leaf_puts(conn, "-ERR 'Permissions Violation for ");
    leaf_puts(conn, action);
    leaf_puts(conn, " to \"");
    leaf_send(conn, subject, len);
    leaf_puts(conn, "\"'\r\n");
    conn->flush_before_close = true;
    ne_conn_close(conn, NE_CLOSE_PROTOCOL_VIOLATION, NULL);
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
 * (LN-10, LN-11), in pieces: no line buffer to size. */
static void send_interest(ne_conn *conn, const ne_leaf_interest *e, bool plus)
{
    leaf_puts(conn, plus ? "LS+ " : "LS- ");
    leaf_send(conn, e->text, e->subject_len);
    if (e->queue_len > 0) {
        leaf_puts(conn, " ");
        leaf_send(conn, e->text + e->subject_len, e->queue_len);
        if (plus) {
            char weight[21];
            weight[0] = ' ';
            leaf_send(conn, weight, 1 + ne_fmt_u64(weight + 1, e->count));
        }
    }
    leaf_puts(conn, "\r\n");
}

/* Whether a subscription's interest is for this peer (LN-12): never back to
 * the connection it came from, never to another account, never from one hub
 * to another (a spoke sends only local interest and that of its own leafs),
 * never for a subject the remote's deny_imports names (LN-32) or the leaf's
 * user may not publish to (LN-41). This one filter decides where a
 * subscription is counted (interest_add records it in sub->leaf_links);
 * its removal undoes exactly what was counted, so a subscription of another
 * account, or one the table had no room for, can never withdraw interest
 * that others hold. */
static bool interest_for(ne_server *srv, const ne_leaf_link *link, const ne_sub *sub)
{
    if (sub->conn == link->conn || sub->conn->acc != link->conn->acc) {
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
    const ne_permissions *p = leaf_perms(link->conn);
    return p == NULL || ne_perm_announces_interest(p, srv->opts.perm_subjects, sub->entry.subject,
                                                   sub->entry.subject_len);
}

/* ...and whether it is sent now: the link is up and the subscription's
 * connection is not going away. */
static bool should_send(ne_server *srv, const ne_leaf_link *link, const ne_sub *sub)
{
    return established(link) && !sub->conn->closing && interest_for(srv, link, sub);
}

static ne_leaf_linkset link_bit(uint32_t link_index)
{
    NE_ASSERT(link_index < NE_MAX_LEAF_CONNECTIONS);
    return (ne_leaf_linkset)(1u << link_index);
}

static ne_leaf_interest *interest_lookup(ne_leaf_state *st, uint32_t link_index, const ne_sub *sub)
{
    uint32_t h = interest_hash(link_index, sub->entry.subject, sub->entry.subject_len,
                               sub->entry.queue, sub->entry.queue_len);
    return interest_find(st, link_index, sub, h);
}

/* Whether a subscription of conn, counted on `links` links of which
 * `new_entries` need an entry the table does not have yet, may be counted:
 * the table must hold the new entries, and a connection whose subscriptions
 * already hold NE_LEAF_INTEREST_PER_CONNECTION references gets no new entry,
 * so that one peer subscribing to ever more subjects is refused before the
 * table is full for everyone. INTEREST_FITS, or the limit that refuses it. */
typedef enum interest_room {
    INTEREST_FITS,
    INTEREST_TABLE_FULL,      /* NE_LEAF_INTEREST_ENTRIES */
    INTEREST_CONNECTION_FULL, /* NE_LEAF_INTEREST_PER_CONNECTION */
} interest_room;

static interest_room interest_fits(ne_server *srv, const ne_conn *conn, uint32_t new_entries,
                                   uint32_t links)
{
    if (new_entries == 0) {
        return INTEREST_FITS;
    }
    if (new_entries > ne_pool_available(&srv->leaf.interest_pool)) {
        return INTEREST_TABLE_FULL;
    }
    if (conn->leaf_interest + links > NE_LEAF_INTEREST_PER_CONNECTION) {
        return INTEREST_CONNECTION_FULL;
    }
    return INTEREST_FITS;
}

/* Counts one more subscription behind (link, subject, queue), recording the
 * link in the subscription: sends LS+ on the first, and the new weight for
 * a queue. The caller has checked that a new entry fits (interest_fits). */
static void interest_add(ne_server *srv, ne_leaf_link *link, ne_sub *sub)
{
    ne_leaf_state *st = &srv->leaf;
    uint32_t li = ne_pool_index(&st->link_pool, link);
    NE_ASSERT((sub->leaf_links & link_bit(li)) == 0);
    uint32_t h = interest_hash(li, sub->entry.subject, sub->entry.subject_len, sub->entry.queue,
                               sub->entry.queue_len);
    ne_leaf_interest *e = interest_find(st, li, sub, h);
    if (e == NULL) {
        e = ne_pool_alloc(&st->interest_pool);
        NE_ASSERT(e != NULL);
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
    sub->leaf_links |= link_bit(li);
    sub->conn->leaf_interest++;
    if (e->count == 1 || e->queue_len > 0) {
        send_interest(link->conn, e, true);
    }
}

/* Undoes interest_add of sub on link li: the new weight of a queue, or LS-
 * when it was the last subscription behind the entry. */
static void interest_remove(ne_server *srv, uint32_t li, ne_sub *sub)
{
    ne_leaf_state *st = &srv->leaf;
    ne_leaf_link *link = st->links[li];
    NE_ASSERT(link != NULL && (sub->leaf_links & link_bit(li)) != 0);
    ne_leaf_interest *e = interest_lookup(st, li, sub);
    NE_ASSERT(e != NULL && e->count > 0 && sub->conn->leaf_interest > 0);
    sub->leaf_links &= (ne_leaf_linkset)~link_bit(li);
    sub->conn->leaf_interest--;
    e->count--;
    bool up = established(link);
    if (e->count > 0) {
        if (e->queue_len > 0 && up) {
            send_interest(link->conn, e, true);
        }
        return;
    }
    if (up) {
        send_interest(link->conn, e, false);
    }
    interest_unlink(st, e);
    link->interest_count--;
    ne_pool_free(&st->interest_pool, e);
}

/* Drops every entry of a link (it is gone), and the link from every
 * subscription counted on it. */
static void interest_clear_link(ne_server *srv, ne_leaf_link *link)
{
    ne_leaf_state *st = &srv->leaf;
    uint32_t li = ne_pool_index(&st->link_pool, link);
    ne_leaf_linkset bit = link_bit(li);
    uint32_t guard = 0;
    for (ne_conn *c = srv->active; c != NULL && guard < NE_MAX_CONNECTIONS; c = c->next, guard++) {
        uint32_t sguard = 0;
        for (ne_sub *s = c->subs; s != NULL && sguard++ <= NE_MAX_SUBSCRIPTIONS; s = s->conn_next) {
            if ((s->leaf_links & bit) != 0) {
                NE_ASSERT(c->leaf_interest > 0);
                s->leaf_links &= (ne_leaf_linkset)~bit;
                c->leaf_interest--;
            }
        }
    }
    for (uint32_t b = 0; b < NE_LEAF_BUCKETS && link->interest_count > 0; b++) {
        uint32_t *pp = &st->buckets[b];
        uint32_t eguard = 0;
        while (*pp != 0 && eguard++ < NE_LEAF_INTEREST_ENTRIES) {
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
    /* All or nothing: first count the links and the entries that would be
     * new. */
    uint32_t links = 0, new_entries = 0;
    for (uint32_t i = 0; i < NE_MAX_LEAF_CONNECTIONS; i++) {
        ne_leaf_link *link = st->links[i];
        if (link != NULL && should_send(srv, link, sub)) {
            links++;
            new_entries += interest_lookup(st, i, sub) == NULL ? 1u : 0u;
        }
    }
    interest_room room = interest_fits(srv, sub->conn, new_entries, links);
    if (room != INTEREST_FITS) {
        const ne_conn *c = sub->conn;
        st->stats.interest_refused++;
        ne_log_warn(&srv->log,
                    "%s:%u - cid:%llu - Leafnode interest %s (%s %u): interest in \"%.*s\" "
                    "refused",
                    c->ip, (unsigned)c->port, (unsigned long long)c->cid,
                    room == INTEREST_TABLE_FULL ? "table exhausted"
                                                : "of one connection at its limit",
                    room == INTEREST_TABLE_FULL ? "NE_LEAF_INTEREST_ENTRIES"
                                                : "NE_LEAF_INTEREST_PER_CONNECTION",
                    room == INTEREST_TABLE_FULL ? (unsigned)NE_LEAF_INTEREST_ENTRIES
                                                : (unsigned)NE_LEAF_INTEREST_PER_CONNECTION,
                    (int)sub->entry.subject_len, sub->entry.subject);
        return NE_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < NE_MAX_LEAF_CONNECTIONS; i++) {
        ne_leaf_link *link = st->links[i];
        if (link != NULL && should_send(srv, link, sub)) {
            interest_add(srv, link, sub);
        }
    }
    return NE_OK;
}

void ne_leaf_sub_removed(ne_server *srv, ne_sub *sub)
{
    /* Bounded by the links: each pass clears one bit. */
    for (uint32_t i = 0; i < NE_MAX_LEAF_CONNECTIONS && sub->leaf_links != 0; i++) {
        if ((sub->leaf_links & link_bit(i)) != 0) {
            interest_remove(srv, i, sub);
        }
    }
}

/* On a new link: our loop-detection subject, then every subscription the
 * peer should know (LN-12, LN-22), as far as the table and each
 * connection's share of it allow. */
static void send_all_interest(ne_server *srv, ne_leaf_link *link)
{
    leaf_puts(link->conn, "LS+ ");
    leaf_puts(link->conn, srv->leaf.lds);
    leaf_puts(link->conn, "\r\n");
    ne_leaf_state *st = &srv->leaf;
    uint32_t li = ne_pool_index(&st->link_pool, link);
    uint32_t dropped = 0;
    uint32_t guard = 0;
    for (ne_conn *c = srv->active; c != NULL && guard < NE_MAX_CONNECTIONS; c = c->next, guard++) {
        uint32_t sguard = 0;
        for (ne_sub *s = c->subs; s != NULL && sguard++ <= NE_MAX_SUBSCRIPTIONS; s = s->conn_next) {
            if (!should_send(srv, link, s)) {
                continue;
            }
            uint32_t new_entry = interest_lookup(st, li, s) == NULL ? 1u : 0u;
            if (interest_fits(srv, c, new_entry, 1) == INTEREST_FITS) {
                interest_add(srv, link, s);
            } else {
                dropped++;
            }
        }
    }
    if (dropped > 0) {
        st->stats.interest_refused += dropped;
        ne_log_warn(&srv->log,
                    "Leafnode interest table exhausted (NE_LEAF_INTEREST_ENTRIES %u, "
                    "NE_LEAF_INTEREST_PER_CONNECTION %u): %u subscriptions not sent to %s",
                    (unsigned)NE_LEAF_INTEREST_ENTRIES, (unsigned)NE_LEAF_INTEREST_PER_CONNECTION,
                    (unsigned)dropped, link->remote_name);
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
    char sig[90];
    if (ro->jwt[0] != '\0') {
        int rc = ne_leaf_sign_nonce(ro->seed, info->nonce, sig);
        if (rc != NE_OK) {
            ne_log_error(&srv->log,
                         "Leafnode remote %s: cannot sign the nonce with the "
                         "credentials' seed (%s)",
                         link->url, ne_err_name(rc));
            return false;
        }
    }
    /* Written in pieces: a JWT and the deny lists make it long. */
    char piece[512];
    ne_json_writer w;
    ne_json_writer_init(&w, piece, sizeof(piece), leaf_sink, link->conn);
    bool f = true;
    ne_json_writer_puts(&w, "CONNECT {");
    key_string(&w, &f, "version", NE_ADVERTISED_VERSION);
    key_string(&w, &f, "server_id", srv->server_id);
    key_string(&w, &f, "name", srv->opts.server_name);
    key_raw(&w, &f, "tls_required", "false");
    key_raw(&w, &f, "is_hub", ro->hub ? "true" : "false");
    key_raw(&w, &f, "headers", srv->opts.no_header_support ? "false" : "true");
    if (ro->jwt[0] != '\0') {
        key_string(&w, &f, "jwt", ro->jwt);
        key_string(&w, &f, "sig", sig);
    } else {
        ne_leaf_url url;
        if (link_url(srv, link, &url) && url.user[0] != '\0') {
            key_string(&w, &f, "user", url.user);
            key_string(&w, &f, "pass", url.pass);
        }
    }
    /* What we will not import: the hub need not send it (LN-32). */
    if (ro->deny_import_count > 0) {
        ne_json_writer_key(&w, &f, "deny_pub");
        ne_json_writer_puts(&w, "[");
        for (uint32_t i = 0; i < ro->deny_import_count; i++) {
            if (i > 0) {
                ne_json_writer_puts(&w, ",");
            }
            ne_json_writer_string(&w, ro->deny_imports[i], strlen(ro->deny_imports[i]));
        }
        ne_json_writer_puts(&w, "]");
    }
    ne_json_writer_puts(&w, "}\r\n");
    memset(sig, 0, sizeof(sig));
    return ne_json_writer_finish(&w) == NE_OK;
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
    /* A leaf user's interest in a subject it may not receive: refused for a
     * literal subject; a wildcard is kept and each message checked (LN-42,
     * LN-43). */
    if (!perm_exempt(op->subject.ptr, op->subject.len) &&
        ne_subject_valid_literal(op->subject.ptr, op->subject.len) &&
        !leaf_may_receive(conn, op->subject.ptr, op->subject.len)) {
        leaf_perm_violation(conn, "Subscription", op->subject.ptr, op->subject.len);
        return;
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

/* "allow" or "deny" of a permission list, as nats-server's configuration
 * names its entries ("subject" or "subject queue"); absent when empty. */
static void write_perm_list(ne_json_writer *w, bool *first, const char *name, const ne_perm_list *l,
                            const ne_perm_subject *table)
{
    if (!l->present || l->count == 0) {
        return;
    }
    NE_ASSERT(l->first + l->count <= NE_MAX_PERM_SUBJECTS);
    ne_json_writer_key(w, first, name);
    ne_json_writer_puts(w, "[");
    for (uint32_t i = 0; i < l->count; i++) {
        const ne_perm_subject *e = &table[l->first + i];
        ne_json_writer_puts(w, i > 0 ? ",\"" : "\"");
        ne_json_writer_escaped(w, e->text, e->subject_len);
        if (e->queue_len > 0) {
            ne_json_writer_puts(w, " ");
            ne_json_writer_escaped(w, e->text + e->subject_len, e->queue_len);
        }
        ne_json_writer_puts(w, "\"");
    }
    ne_json_writer_puts(w, "]");
}

static void write_perm_side(ne_json_writer *w, bool *first, const char *name,
                            const ne_perm_list *allow, const ne_perm_list *deny,
                            const ne_perm_subject *table)
{
    bool g = true;
    ne_json_writer_key(w, first, name);
    ne_json_writer_puts(w, "{");
    write_perm_list(w, &g, "allow", allow, table);
    write_perm_list(w, &g, "deny", deny, table);
    ne_json_writer_puts(w, "}");
}

/* The hub's INFO (LN-02); the second one, after CONNECT, says connect_info,
 * the bound account and the user's permissions for the leaf to apply
 * (import: what it may receive, export: what it may send; LN-06, LN-40). */
static void send_hub_info(ne_conn *conn, bool connect_info)
{
    ne_server *srv = conn->srv;
    char piece[512];
    ne_json_writer w;
    ne_json_writer_init(&w, piece, sizeof(piece), leaf_sink, conn);
    bool f = true;
    ne_json_writer_puts(&w, "INFO {");
    key_string(&w, &f, "server_id", srv->server_id);
    key_string(&w, &f, "server_name", srv->opts.server_name);
    key_string(&w, &f, "version", NE_ADVERTISED_VERSION);
    key_u64(&w, &f, "proto", 1);
    key_string(&w, &f, "go", "natsedge-" NE_VERSION);
    const char *host =
        srv->opts.leaf.listen_host[0] != '\0' ? srv->opts.leaf.listen_host : srv->opts.host;
    key_string(&w, &f, "host", host);
    key_u64(&w, &f, "port", srv->leaf_listener.port);
    key_raw(&w, &f, "headers", srv->opts.no_header_support ? "false" : "true");
    key_raw(&w, &f, "auth_required", "true");
    key_u64(&w, &f, "max_payload", srv->opts.max_payload);
    key_u64(&w, &f, "client_id", conn->cid);
    if (conn->nonce[0] != '\0') {
        key_string(&w, &f, "nonce", conn->nonce);
    }
    const ne_permissions *p = leaf_perms(conn);
    if (connect_info && p != NULL) {
        const ne_perm_subject *table = srv->opts.perm_subjects;
        write_perm_side(&w, &f, "import", &p->sub_allow, &p->sub_deny, table);
        write_perm_side(&w, &f, "export", &p->pub_allow, &p->pub_deny, table);
    }
    key_raw(&w, &f, "info_on_connect", "true");
    if (connect_info) {
        key_raw(&w, &f, "connect_info", "true");
    }
    ne_json_writer_key(&w, &f, "leafnode_urls");
    ne_json_writer_puts(&w, "[\"");
    ne_json_writer_escaped(&w, host, strlen(host));
    ne_json_writer_puts(&w, ":");
    ne_json_writer_u64(&w, srv->leaf_listener.port);
    ne_json_writer_puts(&w, "\"]");
    if (connect_info) {
        key_string(&w, &f, "remote_account", srv->opts.accounts[conn->acc->index].name);
    }
    ne_json_writer_puts(&w, "}\r\n");
    int rc = ne_json_writer_finish(&w);
    if (rc != NE_OK && !conn->closing) {
        ne_log_warn(&srv->log, "%s:%u - lid:%llu - Leafnode INFO not sent: %s", conn->ip,
                    (unsigned)conn->port, (unsigned long long)conn->cid, ne_err_name(rc));
        ne_conn_close(conn, NE_CLOSE_WRITE_ERROR, NULL);
    }
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

/* Which credential of the server's authorization a leaf logged in with:
 * an index of its users list, the single user or token, or none of them
 * (leafnodes.authorization, or no authentication). */
#define LEAF_LOGIN_SINGLE (-1)
#define LEAF_LOGIN_NONE (-2)

/* An accepted leaf's credentials (LN-26), and the account it binds to:
 * leafnodes.authorization (single user, or users with accounts) when it is
 * configured; otherwise the server's own single user or token (a token
 * arrives as CONNECT's user, as nats-server 2.9 leafs send it) or a users
 * list entry with a clear-text password. Without any of these, none. NULL
 * when refused. *login says which of the server's credentials it was. */
static ne_account *leaf_authorized(ne_server *srv, const ne_json_doc *doc, int *login)
{
    *login = LEAF_LOGIN_NONE;
    ne_account *global = &srv->accounts[NE_ACCOUNT_GLOBAL];
    const ne_leaf_options *lo = &srv->opts.leaf;
    const ne_server_options *o = &srv->opts;
    char user[128] = "", pass[128] = "";
    (void)ne_json_get_string(doc, 0, "user", user, sizeof(user), NULL);
    (void)ne_json_get_string(doc, 0, "pass", pass, sizeof(pass), NULL);
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
        char token[128] = "";
        (void)ne_json_get_string(doc, 0, "auth_token", token, sizeof(token), NULL);
        const char *given = token[0] != '\0' ? token : user;
        if (given[0] == '\0' || !ne_server_secret_matches(srv, o->auth_token, given)) {
            return NULL;
        }
        *login = LEAF_LOGIN_SINGLE;
        return global;
    }
    if (o->auth_user[0] != '\0') {
        if (user[0] == '\0' || !ne_server_secret_equal(user, o->auth_user) ||
            !ne_server_secret_matches(srv, o->auth_pass, pass)) {
            return NULL;
        }
        *login = LEAF_LOGIN_SINGLE;
        return global;
    }
    for (uint32_t i = 0; i < o->user_count; i++) {
        const ne_user_entry *u = &o->users[i];
        if (u->user[0] != '\0' && user[0] != '\0' && ne_server_secret_equal(user, u->user)) {
            if (!ne_server_secret_matches(srv, u->pass, pass)) {
                return NULL;
            }
            *login = (int)i;
            return &srv->accounts[u->account];
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
    ne_json_doc doc; /* as the client's CONNECT: on the stack, not shared */
    if (ne_json_parse(&doc, op->text.ptr, op->text.len) != NE_OK || doc.count < 1 ||
        doc.tokens[0].type != JSMN_OBJECT) {
        ne_conn_close(conn, NE_CLOSE_PROTOCOL_VIOLATION, NULL);
        return;
    }
    int login;
    ne_account *acc = leaf_authorized(srv, &doc, &login);
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
    if (login != LEAF_LOGIN_NONE) {
        /* The user's permissions, as a client of that user has them; the
         * credential's fingerprint marks the leaf for reloads. */
        conn->perms = ne_server_user_perms(&srv->opts, login);
        conn->auth_fp = ne_server_auth_fingerprint(&srv->opts, login);
    }
    const char *acc_name = srv->opts.accounts[acc->index].name;
    memcpy(link->remote_account, acc_name,
           NE_MIN(strlen(acc_name) + 1, sizeof(link->remote_account)));
    send_hub_info(conn, true);
    establish(srv, link);
}

void ne_leaf_auth_reloaded(ne_server *srv)
{
    for (uint32_t i = 0; i < NE_MAX_LEAF_CONNECTIONS; i++) {
        ne_leaf_link *link = srv->leaf.links[i];
        if (link == NULL || link->remote >= 0 || link->conn->closing || link->conn->auth_fp == 0) {
            continue;
        }
        ne_log_info(&srv->log,
                    "%s:%u - lid:%llu - Leafnode logged in through the reloaded authorization: "
                    "closing it to log in again",
                    link->conn->ip, (unsigned)link->conn->port,
                    (unsigned long long)link->conn->cid);
        ne_conn_close(link->conn, NE_CLOSE_AUTH_VIOLATION, "Authorization Violation");
    }
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
    /* nats-server 2.9.10 delivers what a leaf sends outside its user's
     * publish permissions; later versions refuse it, and so does natsedge
     * (LN-44, differences.md). */
    if (!leaf_may_send(pub, subject.ptr, subject.len)) {
        leaf_perm_violation(pub, "Publish", subject.ptr, subject.len);
        return false;
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
    /* A leaf user's wildcard interest gets only what the user may receive
     * (LN-43). */
    if (!leaf_may_receive(conn, st->route_subject.ptr, st->route_subject.len)) {
        ne_log_debug(&srv->log, "%s:%u - lid:%llu - Not permitted to deliver to \"%.*s\"", conn->ip,
                     (unsigned)conn->port, (unsigned long long)conn->cid,
                     (int)st->route_subject.len, st->route_subject.ptr);
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
