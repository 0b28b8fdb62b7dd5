/* Leaf connections: soliciting remotes, accepting leafs, the handshake,
 * interest in both directions and the routing hooks. IDs refer to section 2
 * of the NATS inventory (LN-xx). */
#include "leaf/ne_leaf.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "json/ne_json.h"
#include "core/ne_version.h"
#include "proto/ne_proto_err.h"
#include "proto/ne_proto_info.h"
#include "router/ne_authn.h"
#include "router/ne_frame.h"
#include "core/ne_subject.h"

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

static ne_leaf_state *leaf_of(const ne_conn *conn)
{
    return ne_conn_kind_of(conn)->ctx;
}

static ne_leaf_link *link_of(const ne_conn *conn)
{
    return conn->state;
}

/* The account of that name ("" is $G), NULL if the options have none. */
static ne_account *account_named(ne_leaf_state *srv, const char *name)
{
    return ne_router_account_named(srv->router, name);
}

static ne_account *remote_account(ne_leaf_state *srv, const ne_leaf_remote_options *ro)
{
    return account_named(srv, ro->account);
}

static const ne_leaf_remote_options *remote_opts(const ne_leaf_state *srv, const ne_leaf_link *link)
{
    return link->remote >= 0 ? &srv->opts->leaf.remotes[link->remote] : NULL;
}

static bool established(const ne_leaf_link *link)
{
    return link != NULL && link->state == NE_LEAF_ESTABLISHED && !link->conn->closing;
}

/* Whether this server runs JetStream (its INFO and CONNECT say so). */
static bool leaf_js_on(const ne_leaf_state *srv)
{
#if NE_FEATURE_JETSTREAM
    return srv->opts->js.enabled;
#else
    (void)srv;
    return false;
#endif
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

/* ---- A leaf user's permissions (hub role) ------------------------------------ */

/* An accepted leaf that logged in as a user of the authorization block has
 * that user's permissions, seen from the other side (LN-40..LN-44): its
 * subscribe lists say what the hub may send it, its publish lists what it
 * may send in. */
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
    const ne_permissions *p = ne_router_perms(conn);
    return p == NULL ||
           ne_perm_can_subscribe(p, conn->set->opts->perm_subjects, subject, len, NULL, 0);
}

/* May the peer of conn send a message on subject (LN-44)? Responses to
 * service imports ("_R_.") are the hub's own routing. */
static bool leaf_may_send(const ne_conn *conn, const char *subject, size_t len)
{
    const ne_permissions *p = ne_router_perms(conn);
    return p == NULL || has_prefix(subject, len, "_R_.") ||
           ne_perm_can_publish(p, conn->set->opts->perm_subjects, subject, len);
}

/* nats-server's answer to a leaf that broke its permissions: -ERR
 * 'Permissions Violation for <action> to "<subject>"', an error log line,
 * and the connection closed (LN-42, LN-44). */
static void leaf_perm_violation(ne_conn *conn, const char *action, const char *subject, size_t len)
{
    leaf_of(conn)->router->stats.perm_violations++;
    ne_conn_logf(conn, NE_LOG_ERROR, "%s Violation on \"%.*s\" - Check other side configuration",
                 action, (int)len, subject);
    char line[NE_MAX_OUT_LINE_BYTES];
    size_t n = ne_proto_err_line(line, sizeof(line), "Permissions Violation for %s to \"%.*s\"",
                                 action, (int)len, subject);
    if (n > 0) {
        leaf_send(conn, line, n);
        conn->flush_before_close = true;
    } else {
        ne_router_line_too_long(leaf_of(conn)->router, conn, "-ERR");
    }
    ne_conn_close(conn, NE_CLOSE_PROTOCOL_VIOLATION, NULL);
}

static ne_leaf_link *link_alloc(ne_leaf_state *srv)
{
    ne_leaf_state *st = srv;
    ne_leaf_link *link = ne_pool_alloc(&st->link_pool);
    if (link == NULL) {
        st->stats.links_refused++;
        return NULL;
    }
    memset(link, 0, sizeof(*link));
    st->links[ne_pool_index(&st->link_pool, link)] = link;
    return link;
}

static void link_free(ne_leaf_state *srv, ne_leaf_link *link)
{
    ne_leaf_state *st = srv;
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

/* Whether a subscription's interest is for this peer (LN-12): never back to
 * the connection it came from, never to another account, never from one hub
 * to another (a spoke sends only local interest and that of its own leafs),
 * never for a subject the remote's deny_imports names (LN-32) or the leaf's
 * user may not publish to (LN-41). This one filter decides where a
 * subscription is counted (interest_add records it in sub->announced); its
 * removal undoes exactly what was counted, so a subscription of another
 * account, or one the table had no room for, can never withdraw interest
 * that others hold. */
static bool interest_for(ne_leaf_state *srv, const ne_leaf_link *link, const ne_sub *sub)
{
    if (sub->conn == link->conn || sub->account != link->conn->acc->index) {
        return false;
    }
    /* A spoke sends no interest its cluster's other nodes sent it: they
     * have links of their own (LN-12). */
    if (link->spoke && sub->conn->peer_role == NE_PEER_CLUSTER) {
        return false;
    }
    if (sub->conn->kind == srv->kind) {
        const ne_leaf_link *from = link_of(sub->conn);
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
    if (ne_leaf_js_denied(link, sub->entry.subject, sub->entry.subject_len)) {
        return false; /* the JetStream API stays on its side (LN-33) */
    }
    const ne_permissions *p = ne_router_perms(link->conn);
    return p == NULL || ne_perm_announces_interest(p, srv->opts->perm_subjects, sub->entry.subject,
                                                   sub->entry.subject_len);
}

/* ...and whether it is sent now: the link is up and the subscription's
 * connection is not going away. */
static bool should_send(ne_leaf_state *srv, const ne_leaf_link *link, const ne_sub *sub)
{
    return established(link) && !sub->conn->closing && interest_for(srv, link, sub);
}

static uint32_t link_bit(uint32_t link_index)
{
    NE_ASSERT(link_index < NE_MAX_LEAF_CONNECTIONS && link_index < 32);
    return 1u << link_index;
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

static interest_room interest_fits(ne_leaf_state *st, const ne_conn *conn, uint32_t new_entries,
                                   uint32_t links)
{
    if (new_entries == 0) {
        return INTEREST_FITS;
    }
    if (new_entries > ne_pool_available(&st->interest_pool)) {
        return INTEREST_TABLE_FULL;
    }
    if (conn->announced + links > NE_LEAF_INTEREST_PER_CONNECTION) {
        return INTEREST_CONNECTION_FULL;
    }
    return INTEREST_FITS;
}

/* Counts one more subscription behind (link, subject, queue), recording the
 * link in the subscription: sends LS+ on the first, and the new weight for
 * a queue. The caller has checked that a new entry fits (interest_fits). */
static void interest_add(ne_leaf_state *st, ne_leaf_link *link, ne_sub *sub)
{
    uint32_t li = ne_pool_index(&st->link_pool, link);
    NE_ASSERT((sub->announced & link_bit(li)) == 0);
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
    sub->announced |= link_bit(li);
    sub->conn->announced++;
    if (e->count == 1 || e->queue_len > 0) {
        send_interest(link->conn, e, true);
    }
}

/* Undoes interest_add of sub on link li: the new weight of a queue, or LS-
 * when it was the last subscription behind the entry. */
static void interest_remove(ne_leaf_state *st, uint32_t li, ne_sub *sub)
{
    ne_leaf_link *link = st->links[li];
    NE_ASSERT(link != NULL && (sub->announced & link_bit(li)) != 0);
    ne_leaf_interest *e = interest_lookup(st, li, sub);
    NE_ASSERT(e != NULL && e->count > 0 && sub->conn->announced > 0);
    sub->announced &= ~link_bit(li);
    sub->conn->announced--;
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

typedef struct unmark_walk {
    uint32_t bit;
} unmark_walk;

static void unmark_one(void *ctx, ne_sub *s)
{
    const unmark_walk *w = ctx;
    if ((s->announced & w->bit) != 0) {
        NE_ASSERT(s->conn->announced > 0);
        s->announced &= ~w->bit;
        s->conn->announced--;
    }
}

/* Drops every entry of a link (it is gone), and the link from every
 * subscription counted on it. */
static void interest_clear_link(ne_leaf_state *srv, ne_leaf_link *link)
{
    ne_leaf_state *st = srv;
    uint32_t li = ne_pool_index(&st->link_pool, link);
    unmark_walk w = {link_bit(li)};
    ne_router_each_sub(srv->router, unmark_one, &w);
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

static uint32_t leaf_count(const ne_leaf_state *st)
{
    return st->conns->kinds[st->kind].count;
}

uint32_t ne_leaf_connection_count(const ne_leaf_state *st)
{
    return leaf_count(st);
}

uint32_t ne_leaf_account_count(const ne_leaf_state *st, const ne_account *acc)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < NE_MAX_LEAF_CONNECTIONS; i++) {
        const ne_leaf_link *link = st->links[i];
        n += link != NULL && established(link) && link->conn->acc == acc ? 1u : 0u;
    }
    return n;
}

/* The router's interest observer: a subscription was inserted (by a client
 * or a leaf peer); its interest is sent to every leaf peer that should
 * know. NE_ERR_NOMEM when the interest table cannot take it (nothing was
 * sent then; the router undoes a client's subscription). */
static int sub_added(void *ctx, ne_sub *sub)
{
    ne_leaf_state *st = ctx;
    if (!st->active || leaf_count(st) == 0) {
        return NE_OK;
    }
    /* All or nothing: first count the links and the entries that would be
     * new. */
    uint32_t links = 0, new_entries = 0;
    for (uint32_t i = 0; i < NE_MAX_LEAF_CONNECTIONS; i++) {
        ne_leaf_link *link = st->links[i];
        if (link != NULL && should_send(st, link, sub)) {
            links++;
            new_entries += interest_lookup(st, i, sub) == NULL ? 1u : 0u;
        }
    }
    interest_room room = interest_fits(st, sub->conn, new_entries, links);
    if (room != INTEREST_FITS) {
        bool table = room == INTEREST_TABLE_FULL;
        st->stats.interest_refused++;
        ne_conn_logf(
            sub->conn, NE_LOG_WARN, "Leafnode interest %s (%s %u): interest in \"%.*s\" refused",
            table ? "table exhausted" : "of one connection at its limit",
            table ? "NE_LEAF_INTEREST_ENTRIES" : "NE_LEAF_INTEREST_PER_CONNECTION",
            table ? (unsigned)NE_LEAF_INTEREST_ENTRIES : (unsigned)NE_LEAF_INTEREST_PER_CONNECTION,
            (int)sub->entry.subject_len, sub->entry.subject);
        return NE_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < NE_MAX_LEAF_CONNECTIONS; i++) {
        ne_leaf_link *link = st->links[i];
        if (link != NULL && should_send(st, link, sub)) {
            interest_add(st, link, sub);
        }
    }
    return NE_OK;
}

/* The router's interest observer: a subscription is about to be removed;
 * it is taken off every link it was counted on. */
static void sub_removed(void *ctx, ne_sub *sub)
{
    ne_leaf_state *st = ctx;
    /* Bounded by the links: each pass clears one bit. */
    for (uint32_t i = 0; i < NE_MAX_LEAF_CONNECTIONS && sub->announced != 0; i++) {
        if ((sub->announced & link_bit(i)) != 0) {
            interest_remove(st, i, sub);
        }
    }
}

/* On a new link: our loop-detection subject, then every subscription the
 * peer should know (LN-12, LN-22), as far as the table and each
 * connection's share of it allow. */
typedef struct interest_walk {
    ne_leaf_state *st;
    ne_leaf_link *link;
    uint32_t link_index;
    uint32_t dropped;
} interest_walk;

static void send_one(void *ctx, ne_sub *s)
{
    interest_walk *w = ctx;
    if (!should_send(w->st, w->link, s)) {
        return;
    }
    uint32_t new_entry = interest_lookup(w->st, w->link_index, s) == NULL ? 1u : 0u;
    if (interest_fits(w->st, s->conn, new_entry, 1) == INTEREST_FITS) {
        interest_add(w->st, w->link, s);
    } else {
        w->dropped++;
    }
}

static void send_all_interest(ne_leaf_state *st, ne_leaf_link *link)
{
    char line[64];
    size_t n = ne_fmt(line, sizeof(line), "LS+ %s\r\n", st->lds);
    leaf_send(link->conn, line, n);
    interest_walk w = {st, link, ne_pool_index(&st->link_pool, link), 0};
    ne_router_each_sub(st->router, send_one, &w);
    if (w.dropped > 0) {
        st->stats.interest_refused += w.dropped;
        ne_conn_logf(link->conn, NE_LOG_WARN,
                     "Leafnode interest table exhausted (NE_LEAF_INTEREST_ENTRIES %u, "
                     "NE_LEAF_INTEREST_PER_CONNECTION %u): %u subscriptions not sent to %s",
                     (unsigned)NE_LEAF_INTEREST_ENTRIES, (unsigned)NE_LEAF_INTEREST_PER_CONNECTION,
                     (unsigned)w.dropped, link->remote_name);
    }
}

/* ---- Life cycle --------------------------------------------------------------- */

static void make_lds(ne_leaf_state *srv)
{
    char *p = srv->lds;
    memcpy(p, "$LDS.", 5);
    ne_rng_text(srv->rng, p + 5, 22, NE_RNG_BASE62);
    p[27] = '\0';
}

static const ne_conn_ops leaf_ops;
static void accepted(void *ctx, ne_conn *conn);

void ne_leaf_init(ne_leaf_state *srv, const ne_server_options *opts, ne_conns *conns,
                  ne_router *router, ne_rng *rng)
{
    ne_leaf_state *st = srv;
    st->opts = opts;
    st->conns = conns;
    st->router = router;
    st->rng = rng;
    st->kind = ne_conns_kind(conns, "Leafnode", "lid", &leaf_ops, st);
    st->listener.kind = st->kind;
    st->listener.sock = NE_SOCK_INVALID;
    st->listener.accepted = accepted;
    st->listener.ctx = st;
    ne_interest_observer obs = {sub_added, sub_removed, st};
    ne_router_observe(router, &obs);
    const ne_leaf_options *o = &srv->opts->leaf;
    ne_pool_init(&st->link_pool, "leaf connections", &st->link_storage, sizeof(ne_leaf_link),
                 NE_MAX_LEAF_CONNECTIONS);
    ne_pool_init(&st->interest_pool, "leaf interest", &st->interest_storage,
                 sizeof(ne_leaf_interest), NE_LEAF_INTEREST_ENTRIES);
    /* st->buckets and st->links are zero: st is part of a server set up by
     * ne_server_init or ne_server_init_zeroed, and not read here (a read of
     * untouched memory can cost a page: see ne_server_init_zeroed). */
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
            uint32_t j = ne_rng_below(srv->rng, u);
            uint8_t t = rs->url_order[u - 1];
            rs->url_order[u - 1] = rs->url_order[j];
            rs->url_order[j] = t;
        }
    }
}

int ne_leaf_start(ne_leaf_state *srv)
{
    const ne_leaf_options *o = &srv->opts->leaf;
    if (o->listen_enabled) {
        const char *host = o->listen_host[0] != '\0' ? o->listen_host : srv->opts->host;
        int rc = ne_conns_listen(srv->conns, &srv->listener, host, o->listen_port);
        if (rc != NE_OK) {
            ne_log_error(srv->conns->log, "Error listening on leafnode port: %s:%u, %s", host,
                         (unsigned)o->listen_port, ne_err_name(rc));
            return rc;
        }
        ne_log_info(srv->conns->log, "Listening for leafnode connections on %s:%u", host,
                    (unsigned)srv->listener.port);
    }
    for (uint32_t r = 0; r < o->remote_count; r++) {
        if (remote_account(srv, &o->remotes[r]) == NULL) {
            ne_log_error(srv->conns->log, "leafnode remote %u: no account named \"%s\"",
                         (unsigned)r + 1, o->remotes[r].account);
            return NE_ERR_INVALID;
        }
        srv->remotes[r].next_attempt_ms = srv->conns->now_ms; /* at the first tick */
        if (o->remotes[r].creds_missing) {
            ne_log_error(srv->conns->log,
                         "Error reading LeafNode Remote Credentials file \"%s\": not found "
                         "(connecting without credentials)",
                         o->remotes[r].creds_file);
        }
    }
    /* Accounts named by leafnodes authorization must exist. */
    if (o->auth_account[0] != '\0' && account_named(srv, o->auth_account) == NULL) {
        ne_log_error(srv->conns->log, "leafnodes authorization: no account named \"%s\"",
                     o->auth_account);
        return NE_ERR_INVALID;
    }
    for (uint32_t i = 0; i < o->user_count; i++) {
        if (account_named(srv, o->users[i].account) == NULL) {
            ne_log_error(srv->conns->log, "leafnodes user \"%s\": no account named \"%s\"",
                         o->users[i].user, o->users[i].account);
            return NE_ERR_INVALID;
        }
    }
    return NE_OK;
}

void ne_leaf_set_remote_tls(ne_leaf_state *srv, uint32_t remote, const ne_tls_config *cfg)
{
    NE_ASSERT(remote < srv->opts->leaf.remote_count);
    srv->remotes[remote].tls_config = cfg;
}

void ne_leaf_shutdown(ne_leaf_state *srv)
{
    srv->stopping = true;
    ne_conns_unlisten(srv->conns, &srv->listener);
}

void ne_leaf_log_memory(const ne_leaf_state *srv)
{
    ne_log_info(srv->conns->log, "  %-14s %6u x %6zu B = %8zu KiB", "leaf conns",
                (unsigned)NE_MAX_LEAF_CONNECTIONS, NE_POOL_OBJECT_BYTES(sizeof(ne_leaf_link)),
                (size_t)NE_MAX_LEAF_CONNECTIONS * NE_POOL_OBJECT_BYTES(sizeof(ne_leaf_link)) /
                    1024);
    ne_log_info(srv->conns->log, "  %-14s %6u x %6zu B = %8zu KiB", "leaf interest",
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
static bool rotation_url(ne_leaf_state *srv, uint32_t r, uint32_t index, ne_leaf_url *url)
{
    const ne_leaf_remote_options *ro = &srv->opts->leaf.remotes[r];
    const ne_leaf_remote_state *rs = &srv->remotes[r];
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
static void learn_urls(ne_leaf_state *srv, uint32_t r, const ne_leaf_info *info)
{
    const ne_leaf_remote_options *ro = &srv->opts->leaf.remotes[r];
    ne_leaf_remote_state *rs = &srv->remotes[r];
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
        ne_log_debug(srv->conns->log, "Leafnode remote %u: learned URL %s from the hub",
                     (unsigned)r + 1, info->urls[i]);
    }
}

/* An attempt of a remote that did not get as far as the hub's INFO (refused,
 * unreachable, closed or silent): nats-server's line, at [ERR] the first
 * time and every NE_LEAF_CONNECT_ERROR_REPORTS attempts in a row, at [DBG]
 * in between (LN-30). */
static void log_connect_failure(ne_leaf_state *srv, ne_leaf_remote_state *rs, const char *url,
                                const char *why)
{
    rs->failed_in_a_row++;
    bool report =
        rs->failed_in_a_row == 1 || rs->failed_in_a_row % NE_LEAF_CONNECT_ERROR_REPORTS == 0;
    ne_logf(srv->conns->log, report ? NE_LOG_ERROR : NE_LOG_DEBUG,
            "Error trying to connect as leafnode to remote server \"%s\" (attempt %llu): %s", url,
            (unsigned long long)rs->failed_in_a_row, why);
}

/* One connection attempt of a remote: the next URL in its rotation (LN-28). */
static void solicit(ne_leaf_state *srv, uint32_t r)
{
    ne_leaf_state *st = srv;
    ne_leaf_remote_state *rs = &st->remotes[r];
    const ne_leaf_remote_options *ro = &srv->opts->leaf.remotes[r];
    rs->attempts++;
    rs->next_attempt_ms = srv->conns->now_ms + srv->opts->leaf.reconnect_ms;
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
        ne_log_warn(srv->conns->log,
                    "Leafnode connection pool exhausted (%u): not connecting to %s, retrying in "
                    "%u ms",
                    (unsigned)NE_MAX_LEAF_CONNECTIONS, shown,
                    (unsigned)srv->opts->leaf.reconnect_ms);
        return;
    }
    ne_sock sock;
    int rc = srv->conns->net.ops->connect(srv->conns->net.ctx, url.host, url.port, &sock);
    if (rc != NE_OK) {
        link_free(srv, link);
        log_connect_failure(srv, rs, shown, ne_err_name(rc));
        return;
    }
    ne_conn *conn = ne_conn_new(srv->conns, srv->kind, sock, url.host, url.port);
    if (conn == NULL) {
        srv->conns->net.ops->close(srv->conns->net.ctx, sock);
        link_free(srv, link);
        srv->conns->stats.refused_connections++;
        ne_log_warn(srv->conns->log,
                    "Connection pool exhausted (%u): not connecting to leafnode remote %s, "
                    "retrying in %u ms",
                    (unsigned)NE_CONN_POOL_SIZE, shown, (unsigned)srv->opts->leaf.reconnect_ms);
        return;
    }
    link->conn = conn;
    link->remote = (int32_t)r;
    link->spoke = !ro->hub;
    link->url_index = (uint8_t)index;
    link->state = NE_LEAF_CONNECTING;
    link->deadline_ms = srv->conns->now_ms + NE_LEAF_HANDSHAKE_TIMEOUT_MS;
    memcpy(link->url, shown, NE_MIN(strlen(shown) + 1, sizeof(link->url)));
    conn->state = link;
    conn->acc = remote_account(srv, ro);
    conn->no_echo = true;
    /* Until it is up, its failures are this module's to log (the attempt,
     * not "a connection closed"). */
    conn->io->quiet_close = true;
    rs->link = link;
    ne_log_debug(srv->conns->log, "Trying to connect as leafnode to remote server on \"%s\"",
                 shown);
}

void ne_leaf_tick(ne_leaf_state *srv, uint64_t now_ms)
{
    ne_leaf_state *st = srv;
    if (!st->active || st->stopping) {
        return;
    }
    for (uint32_t i = 0; i < NE_MAX_LEAF_CONNECTIONS; i++) {
        ne_leaf_link *link = st->links[i];
        if (link != NULL && link->state != NE_LEAF_ESTABLISHED && !link->conn->closing &&
            now_ms >= link->deadline_ms) {
            ne_conn_logf(link->conn, NE_LOG_WARN, "Leafnode handshake timed out");
            ne_conn_close(link->conn, NE_CLOSE_STALE,
                          link->remote < 0 ? NE_PROTO_ERR_AUTH_TIMEOUT : NULL);
        }
    }
    for (uint32_t r = 0; r < srv->opts->leaf.remote_count; r++) {
        ne_leaf_remote_state *rs = &st->remotes[r];
        if (rs->link == NULL && now_ms >= rs->next_attempt_ms) {
            solicit(srv, r);
        }
    }
}

/* The leaf connection is being torn down (its subscriptions are gone):
 * its interest entries go, its remote schedules a reconnect. */
static void leaf_closed(ne_conn *conn)
{
    ne_leaf_state *srv = leaf_of(conn);
    ne_leaf_link *link = link_of(conn);
    if (link == NULL) {
        return;
    }
    bool was_up = link->state == NE_LEAF_ESTABLISHED;
    interest_clear_link(srv, link);
    NE_ASSERT(link->interest_count == 0);
    if (link->remote >= 0) {
        ne_leaf_remote_state *rs = &srv->remotes[link->remote];
        rs->link = NULL;
        uint64_t earliest = srv->conns->now_ms + srv->opts->leaf.reconnect_ms;
        if (rs->next_attempt_ms < earliest) {
            rs->next_attempt_ms = earliest;
        }
    }
    int io_error = ne_conn_io_error(conn);
    if (was_up) {
        ne_conn_logf(conn, NE_LOG_INFO, "Leafnode connection closed: %s",
                     ne_close_reason_text(conn->close_reason));
    } else if (link->remote >= 0 && link->state == NE_LEAF_CONNECTING) {
        log_connect_failure(srv, &srv->remotes[link->remote], link->url,
                            io_error != NE_OK ? ne_err_name(io_error)
                                              : ne_close_reason_text(conn->close_reason));
    } else {
        ne_conn_logf(conn, NE_LOG_DEBUG, "Leafnode connection attempt failed: %s",
                     ne_close_reason_text(conn->close_reason));
    }
    conn->state = NULL;
    link_free(srv, link);
}

/* ---- Handshake ------------------------------------------------------------------ */

static void establish(ne_leaf_state *srv, ne_leaf_link *link)
{
    ne_conn *conn = link->conn;
    link->state = NE_LEAF_ESTABLISHED;
    conn->peer_role = link->spoke ? NE_PEER_UPSTREAM : NE_PEER_DOWNSTREAM;
    link->established_wall_ns = ne_port_wall_ns();
    if (conn->io != NULL) {
        conn->io->quiet_close = false;
    }
    ne_conn_ping_start(conn);
    ne_leaf_js_setup(srv, link);
    if (link->remote >= 0) {
        ne_leaf_remote_state *rs = &srv->remotes[link->remote];
        rs->connects++;
        rs->failed_in_a_row = 0;
        ne_log_info(srv->conns->log, "Connected leafnode to %s (server %s, remote account %s)",
                    link->url, link->remote_name,
                    link->remote_account[0] != '\0' ? link->remote_account : "?");
    } else {
        ne_conn_logf(conn, NE_LOG_INFO, "Leafnode connection from %s established",
                     link->remote_name);
    }
    send_all_interest(srv, link);
    /* A first PING measures the round trip for /leafz. */
    conn->rtt_start_ns = ne_port_wall_ns();
    conn->pings_out++;
    leaf_send(conn, "PING\r\n", 6);
}

/* The URL a solicited link was opened with. */
static bool link_url(ne_leaf_state *srv, const ne_leaf_link *link, ne_leaf_url *url)
{
    return rotation_url(srv, (uint32_t)link->remote, link->url_index, url);
}

/* Starts the TLS client handshake; what is queued from now on (CONNECT)
 * goes out encrypted once it completes. The hub's certificate must match
 * the URL's host. */
static bool start_tls(ne_leaf_state *srv, ne_leaf_link *link)
{
    ne_leaf_url url;
    const ne_tls_config *cfg = srv->remotes[link->remote].tls_config;
    if (cfg == NULL) {
        cfg = srv->conns->tls_client_config;
    }
    if (cfg == NULL || !link_url(srv, link, &url)) {
        ne_log_error(srv->conns->log,
                     "Leafnode remote %s requires TLS: give the remote a tls { ca_file } block",
                     link->url);
        return false;
    }
    int rc = ne_conn_tls_start_client(link->conn, cfg, url.host);
    if (rc != NE_OK) {
        ne_log_error(srv->conns->log, "Leafnode remote %s: cannot start TLS (%s)", link->url,
                     ne_err_name(rc));
        return false;
    }
    return true;
}

/* CONNECT for the hub (LN-05): our identity, headers, and credentials: a
 * JWT with the hub's nonce signed (LN-25), or user and password from the
 * URL. */
static bool send_connect(ne_leaf_state *srv, ne_leaf_link *link, const ne_leaf_info *info)
{
    const ne_leaf_remote_options *ro = remote_opts(srv, link);
    char *line = srv->scratch;
    ne_strbuf sb;
    ne_strbuf_init(&sb, line, sizeof(srv->scratch));
    ne_strbuf_puts(&sb, "CONNECT {\"version\":\"" NE_ADVERTISED_VERSION "\",\"server_id\":");
    ne_strbuf_json_string(&sb, srv->conns->id.server_id, strlen(srv->conns->id.server_id));
    ne_strbuf_puts(&sb, ",\"name\":");
    ne_strbuf_json_string(&sb, srv->opts->server_name, strlen(srv->opts->server_name));
    ne_strbuf_printf(&sb, ",\"tls_required\":false,\"is_hub\":%s,\"headers\":%s",
                     ro->hub ? "true" : "false", srv->opts->no_header_support ? "false" : "true");
    /* Our JetStream domain: the hub decides its deny rules with it (LN-33). */
    if (leaf_js_on(srv)) {
        ne_strbuf_puts(&sb, ",\"jetstream\":true");
        if (srv->opts->js.domain[0] != '\0') {
            ne_strbuf_puts(&sb, ",\"domain\":");
            ne_strbuf_json_string(&sb, srv->opts->js.domain, strlen(srv->opts->js.domain));
        }
    }
    if (ro->jwt[0] != '\0') {
        char sig[90];
        int rc = ne_leaf_sign_nonce(ro->seed, info->nonce, sig);
        if (rc != NE_OK) {
            ne_log_error(srv->conns->log,
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
    ne_leaf_state *srv = leaf_of(conn);
    ne_leaf_info info;
    if (ne_leaf_parse_info(op->text.ptr, op->text.len, &info, &srv->doc) != NE_OK) {
        ne_conn_logf(conn, NE_LOG_ERROR, "Malformed leafnode INFO");
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
            ne_log_error(srv->conns->log,
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
        memcpy(link->remote_domain, info.domain, sizeof(link->remote_domain));
        link->headers = info.headers && !srv->opts->no_header_support;
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
    ne_leaf_state *srv = leaf_of(conn);
    ne_conn_logf(conn, NE_LOG_ERROR, "Leafnode error from %s: %.*s",
                 link->remote >= 0 ? link->url : "leaf", (int)op->text.len, op->text.ptr);
    if (link->remote >= 0) {
        static const char *const delayed[] = {"Loop detected", "Permissions Violation",
                                              "same cluster name"};
        uint64_t delay = srv->opts->leaf.reconnect_ms;
        for (size_t i = 0; i < NE_ARRAY_LEN(delayed); i++) {
            size_t n = strlen(delayed[i]);
            for (uint32_t at = 0; at + n <= op->text.len; at++) {
                if (memcmp(op->text.ptr + at, delayed[i], n) == 0) {
                    delay = NE_LEAF_ERROR_DELAY_MS;
                }
            }
        }
        ne_leaf_remote_state *rs = &srv->remotes[link->remote];
        rs->next_attempt_ms = srv->conns->now_ms + delay;
        ne_log_warn(srv->conns->log, "Leafnode remote %s: next connection attempt in %llu ms",
                    link->url, (unsigned long long)delay);
    }
    ne_conn_close(conn, NE_CLOSE_CLIENT_CLOSED, NULL);
}

/* ---- Peer interest ----------------------------------------------------------------- */

static void loop_detected(ne_conn *conn, ne_leaf_link *link)
{
    ne_leaf_state *srv = leaf_of(conn);
    srv->stats.loops_detected++;
    char text[160];
    ne_fmt(text, sizeof(text), NE_LEAF_LOOP_TEXT "\"%s\". Delaying attempt to reconnect for %us",
           srv->opts->accounts[conn->acc->index].name, (unsigned)(NE_LEAF_ERROR_DELAY_MS / 1000));
    ne_conn_logf(conn, NE_LOG_ERROR, "%s", text);
    if (link->remote >= 0) {
        srv->remotes[link->remote].next_attempt_ms = srv->conns->now_ms + NE_LEAF_ERROR_DELAY_MS;
    }
    ne_conn_close(conn, NE_CLOSE_PROTOCOL_VIOLATION, text);
}

/* LS+ from the peer: one subscription owned by the leaf connection, so that
 * local publishers find it (LN-13). A repeated LS+ for a queue only updates
 * its weight. */
static void handle_ls_plus(ne_conn *conn, ne_leaf_link *link, const ne_op *op)
{
    ne_leaf_state *srv = leaf_of(conn);
    if (op->subject.len == strlen(srv->lds) &&
        memcmp(op->subject.ptr, srv->lds, op->subject.len) == 0) {
        loop_detected(conn, link);
        return;
    }
    if (!ne_subject_valid(op->subject.ptr, op->subject.len)) {
        ne_conn_logf(conn, NE_LOG_DEBUG, "Ignoring LS+ of invalid subject \"%.*s\"",
                     (int)op->subject.len, op->subject.ptr);
        return;
    }
    const ne_leaf_remote_options *ro = remote_opts(srv, link);
    if (ro != NULL && subject_in((const char(*)[NE_SUB_TEXT_BYTES])ro->deny_exports,
                                 ro->deny_export_count, op->subject.ptr, op->subject.len)) {
        return; /* we may not send there: a spoke ignores the interest (LN-32) */
    }
    if (ne_leaf_js_denied(link, op->subject.ptr, op->subject.len)) {
        return; /* nothing crosses on the JetStream API's own subjects (LN-33) */
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
    if (ne_router_find_interest(conn, NULL, op->subject, op->queue) != NULL) {
        return;
    }
    /* Passed on to our other leafs when we are their hub (the observer); a
     * full table only costs those leafs this interest. */
    ne_sub_spec spec = {op->subject, op->queue, {"", 0}, true, false, NULL, 0};
    int rc = ne_router_subscribe(srv->router, conn, &spec, NULL);
    if (rc == NE_ERR_NOMEM) {
        srv->stats.hub_subs_dropped++;
        ne_conn_logf(conn, NE_LOG_WARN,
                     "Leafnode interest in \"%.*s\" dropped: subscription pool or subject "
                     "trie exhausted",
                     (int)op->subject.len, op->subject.ptr);
    } else if (rc != NE_OK) {
        /* A hub's interest in its own long-id subjects ($SYS.REQ.SERVER.<id>.*)
         * comes with every link: counted, not warned about. */
        srv->stats.hub_subs_dropped++;
        ne_conn_logf(conn, NE_LOG_DEBUG,
                     "Leafnode interest in \"%.*s\" dropped: longer than NE_SUB_TEXT_BYTES or "
                     "a token longer than NE_TOKEN_BYTES",
                     (int)op->subject.len, op->subject.ptr);
    }
}

static void handle_ls_minus(ne_conn *conn, const ne_op *op)
{
    ne_leaf_state *srv = leaf_of(conn);
    ne_sub *sub = ne_router_find_interest(conn, NULL, op->subject, op->queue);
    if (sub != NULL) {
        ne_router_unsubscribe(srv->router, sub);
    }
}
/* ---- Accepting leafs (hub role) ------------------------------------------------------ */

static int leaf_sink(void *ctx, const char *bytes, size_t len)
{
    return ne_conn_send(ctx, bytes, len);
}

/* "allow" or "deny" of a permission list, as nats-server's configuration
 * names its entries ("subject" or "subject queue"); absent when empty. */
static void write_perm_list(ne_json_out *w, const char *name, const ne_perm_list *l,
                            const ne_perm_subject *table)
{
    if (!l->present || l->count == 0) {
        return;
    }
    NE_ASSERT(l->first + l->count <= NE_MAX_PERM_SUBJECTS);
    ne_json_key(w, name);
    ne_json_begin_array(w);
    for (uint32_t i = 0; i < l->count; i++) {
        const ne_perm_subject *e = &table[l->first + i];
        NE_ASSERT((size_t)e->subject_len + e->queue_len <= NE_PERM_SUBJECT_BYTES);
        char text[NE_PERM_SUBJECT_BYTES + 1];
        size_t n = e->subject_len;
        memcpy(text, e->text, n);
        if (e->queue_len > 0) {
            text[n++] = ' ';
            memcpy(text + n, e->text + e->subject_len, e->queue_len);
            n += e->queue_len;
        }
        ne_json_string(w, text, n);
    }
    ne_json_end_array(w);
}

static void write_perm_side(ne_json_out *w, const ne_perm_list *allow, const ne_perm_list *deny,
                            const ne_perm_subject *table)
{
    ne_json_begin_object(w);
    write_perm_list(w, "allow", allow, table);
    write_perm_list(w, "deny", deny, table);
    ne_json_end_object(w);
}

/* The hub's INFO (LN-02); the second one, after CONNECT, says connect_info,
 * the bound account and the user's permissions for the leaf to apply
 * (import: what it may receive, export: what it may send; LN-06, LN-40). */
static void send_hub_info(ne_conn *conn, bool connect_info)
{
    ne_leaf_state *srv = leaf_of(conn);
    const ne_server_options *o = srv->opts;
    const char *host = o->leaf.listen_host[0] != '\0' ? o->leaf.listen_host : o->host;
    char url[NE_LEAF_HOSTPORT_BYTES + 8];
    ne_fmt(url, sizeof(url), "%s:%u", host, (unsigned)srv->listener.port);
    ne_info_fields f;
    memset(&f, 0, sizeof(f));
    f.server_id = srv->conns->id.server_id;
    f.server_name = o->server_name;
    f.version = NE_ADVERTISED_VERSION;
    f.go = "natsedge-" NE_VERSION;
    f.host = host;
    f.port = srv->listener.port;
    f.headers = !o->no_header_support;
    f.max_payload = o->max_payload;
    f.auth_required = true;
    f.nonce = link_of(conn)->nonce;
    f.has_client_id = true;
    f.client_id = conn->cid;
    f.info_on_connect = true;
    f.connect_info = connect_info;
    f.leafnode_url = url;
    f.remote_account = connect_info ? ne_router_account_name(srv->router, conn->acc) : NULL;
    f.jetstream = leaf_js_on(srv);
    f.domain = f.jetstream ? o->js.domain : NULL;
    const ne_permissions *p = ne_router_perms(conn);
    f.leave_open = connect_info && p != NULL;
    char info[1024];
    size_t len = ne_proto_write_info(info, sizeof(info), &f);
    NE_ASSERT(len > 0);
    leaf_send(conn, info, len);
    if (f.leave_open) {
        /* The user's permissions, streamed: a list of any length. */
        char piece[NE_JSON_OUT_MIN_BYTES * 2];
        ne_json_out w;
        ne_json_out_init(&w, piece, sizeof(piece), leaf_sink, conn);
        ne_json_raw(&w, ",\"import\":");
        write_perm_side(&w, &p->sub_allow, &p->sub_deny, srv->opts->perm_subjects);
        ne_json_raw(&w, ",\"export\":");
        write_perm_side(&w, &p->pub_allow, &p->pub_deny, srv->opts->perm_subjects);
        ne_json_raw(&w, "}\r\n");
        int rc = ne_json_out_finish(&w);
        if (rc != NE_OK && !conn->closing) {
            ne_conn_logf(conn, NE_LOG_WARN, "Leafnode INFO not sent: %s", ne_err_name(rc));
            ne_conn_close(conn, NE_CLOSE_WRITE_ERROR, NULL);
        }
    }
}

/* A connection accepted on the leaf listener: its link, then INFO. */
static void accepted(void *ctx, ne_conn *conn)
{
    ne_leaf_state *srv = ctx;
    ne_leaf_link *link = link_alloc(srv);
    if (link == NULL) {
        ne_conn_logf(conn, NE_LOG_WARN, "Leafnode connection pool exhausted (%u)",
                     (unsigned)NE_MAX_LEAF_CONNECTIONS);
        ne_conn_close(conn, NE_CLOSE_MAX_CONNECTIONS, NE_PROTO_ERR_MAX_CONNECTIONS);
        return;
    }
    link->conn = conn;
    link->remote = -1;
    link->state = NE_LEAF_WAIT_CONNECT;
    link->deadline_ms = srv->conns->now_ms + srv->opts->leaf.auth_timeout_ms;
    conn->state = link;
    conn->no_echo = true;
    if (ne_nkey_nonce(link->nonce) != NE_OK) {
        link->nonce[0] = '\0';
    }
    ne_conn_logf(conn, NE_LOG_INFO, "Leafnode connection created");
    send_hub_info(conn, false);
}

/* An accepted leaf's credentials (LN-26), and the account it binds to:
 * leafnodes.authorization (single user, or users with accounts) when it is
 * configured; otherwise the server's own single user or token (a token
 * arrives as CONNECT's user, as nats-server 2.9 leafs send it) or a users
 * list entry with a clear-text password. Without any of these, none. NULL
 * when refused. *login says which of the server's credentials it was. */
#define LEAF_LOGIN_SINGLE (-1)
#define LEAF_LOGIN_NONE (-2)

static ne_account *leaf_authorized(ne_leaf_state *srv, const ne_json_doc *doc, int *login)
{
    *login = LEAF_LOGIN_NONE;
    ne_bcrypt_state *bc = &srv->router->bcrypt;
    ne_account *global = &srv->router->accounts[NE_ACCOUNT_GLOBAL];
    const ne_leaf_options *lo = &srv->opts->leaf;
    const ne_server_options *o = srv->opts;
    char user[128], pass[128];
    if (!ne_authn_read_credential(doc, "user", user, sizeof(user)) ||
        !ne_authn_read_credential(doc, "pass", pass, sizeof(pass))) {
        return NULL; /* never compared by a prefix that fit */
    }
    if (lo->auth_user[0] != '\0') {
        return ne_authn_secret_equal(user, lo->auth_user) &&
                       ne_authn_secret_matches(bc, lo->auth_pass, pass)
                   ? account_named(srv, lo->auth_account)
                   : NULL;
    }
    if (lo->user_count > 0) {
        for (uint32_t i = 0; i < lo->user_count; i++) {
            const ne_leaf_user *u = &lo->users[i];
            if (user[0] != '\0' && ne_authn_secret_equal(user, u->user)) {
                return ne_authn_secret_matches(bc, u->pass, pass) ? account_named(srv, u->account)
                                                                  : NULL;
            }
        }
        return NULL;
    }
    if (!ne_authn_required(o)) {
        return global;
    }
    if (o->auth_token[0] != '\0') {
        char token[128];
        if (!ne_authn_read_credential(doc, "auth_token", token, sizeof(token))) {
            return NULL;
        }
        const char *given = token[0] != '\0' ? token : user;
        if (given[0] == '\0' || !ne_authn_secret_matches(bc, o->auth_token, given)) {
            return NULL;
        }
        *login = LEAF_LOGIN_SINGLE;
        return global;
    }
    if (o->auth_user[0] != '\0') {
        if (user[0] == '\0' || !ne_authn_secret_equal(user, o->auth_user) ||
            !ne_authn_secret_matches(bc, o->auth_pass, pass)) {
            return NULL;
        }
        *login = LEAF_LOGIN_SINGLE;
        return global;
    }
    for (uint32_t i = 0; i < o->user_count; i++) {
        const ne_user_entry *u = &o->users[i];
        if (u->user[0] != '\0' && user[0] != '\0' && ne_authn_secret_equal(user, u->user)) {
            if (!ne_authn_secret_matches(bc, u->pass, pass)) {
                return NULL;
            }
            *login = (int)i;
            return &srv->router->accounts[u->account];
        }
    }
    return NULL;
}

static void handle_connect(ne_conn *conn, ne_leaf_link *link, const ne_op *op)
{
    ne_leaf_state *srv = leaf_of(conn);
    if (link->state != NE_LEAF_WAIT_CONNECT) {
        return; /* a second CONNECT is ignored */
    }
    ne_json_doc *doc = &srv->doc;
    if (ne_json_parse(doc, op->text.ptr, op->text.len) != NE_OK || doc->count < 1 ||
        doc->tokens[0].type != JSMN_OBJECT) {
        ne_conn_close(conn, NE_CLOSE_PROTOCOL_VIOLATION, NULL);
        return;
    }
    int login;
    ne_account *acc = leaf_authorized(srv, doc, &login);
    if (acc == NULL) {
        ne_conn_logf(conn, NE_LOG_WARN, "authentication error");
        ne_conn_close(conn, NE_CLOSE_AUTH_VIOLATION, NE_PROTO_ERR_AUTHORIZATION);
        return;
    }
    bool headers = false;
    (void)ne_json_get_bool(doc, 0, "headers", &headers);
    bool peer_is_hub = false;
    (void)ne_json_get_bool(doc, 0, "is_hub", &peer_is_hub);
    link->spoke = peer_is_hub;
    link->headers = headers && !srv->opts->no_header_support;
    if (!ne_json_get_string(doc, 0, "name", link->remote_name, sizeof(link->remote_name), NULL)) {
        link->remote_name[0] = '\0';
    }
    if (!ne_json_get_string(doc, 0, "server_id", link->remote_id, sizeof(link->remote_id), NULL)) {
        link->remote_id[0] = '\0';
    }
    if (!ne_json_get_string(doc, 0, "domain", link->remote_domain, sizeof(link->remote_domain),
                            NULL)) {
        link->remote_domain[0] = '\0';
    }
    conn->acc = acc;
    if (login != LEAF_LOGIN_NONE) {
        /* The user's permissions, as a client of that user has them; the
         * credential's fingerprint marks the leaf for reloads. */
        uint8_t account;
        ne_authn_identity(srv->opts, login, &account, &conn->perms);
        link->auth_fp = ne_authn_fingerprint(srv->opts, login);
    }
    const char *acc_name = ne_router_account_name(srv->router, acc);
    memcpy(link->remote_account, acc_name,
           NE_MIN(strlen(acc_name) + 1, sizeof(link->remote_account)));
    send_hub_info(conn, true);
    establish(srv, link);
}

/* After a reload that changed the authorization: a leaf that logged in with
 * the server's own credentials is closed, to log in again under the new
 * ones (its solicitor reconnects). */
void ne_leaf_auth_reloaded(ne_leaf_state *st)
{
    for (uint32_t i = 0; i < NE_MAX_LEAF_CONNECTIONS; i++) {
        ne_leaf_link *link = st->links[i];
        if (link == NULL || link->remote >= 0 || link->conn->closing || link->auth_fp == 0) {
            continue;
        }
        ne_conn_logf(link->conn, NE_LOG_INFO,
                     "Leafnode logged in through the reloaded authorization: closing it to log "
                     "in again");
        ne_conn_close(link->conn, NE_CLOSE_AUTH_VIOLATION, NE_PROTO_ERR_AUTHORIZATION);
    }
}

/* ---- Operations ------------------------------------------------------------------------ */

/* LMSG and HMSG carry a payload, on an established link only. */
static inline ne_frame_payload payload_check(ne_conn *conn, const ne_op *op)
{
    if (op->kind != NE_OP_LMSG && op->kind != NE_OP_HMSG) {
        return NE_FRAME_NO_PAYLOAD;
    }
    if (!established(link_of(conn))) {
        ne_conn_close(conn, NE_CLOSE_PROTOCOL_VIOLATION, NULL);
        return NE_FRAME_REFUSED;
    }
    if (op->total_len > leaf_of(conn)->opts->max_payload) {
        ne_conn_close(conn, NE_CLOSE_MAX_PAYLOAD, NE_PROTO_ERR_MAX_PAYLOAD);
        return NE_FRAME_REFUSED;
    }
    if (op->kind == NE_OP_HMSG && !link_of(conn)->headers) {
        ne_conn_close(conn, NE_CLOSE_PARSE_ERROR, NULL);
        return NE_FRAME_REFUSED;
    }
    return NE_FRAME_PAYLOAD;
}

static void handle_op(ne_conn *conn, const ne_op *op)
{
    ne_leaf_link *link = link_of(conn);
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
        ne_conn_close(conn, NE_CLOSE_PARSE_ERROR, NE_PROTO_ERR_UNKNOWN_OP);
        break;
    }
}

/* LMSG/HMSG from the peer: routed as published by the leaf connection, to
 * the queue groups it names only (LN-18). */
static inline void handle_msg(ne_conn *conn, ne_msg *msg)
{
    msg->from_peer = true;
    /* A JetStream delivery from the other side shows its stored subject
     * (the clients read it). */
    (void)ne_msg_split_reply(&msg->reply, &msg->shown);
    uint32_t delivered = 0;
    (void)ne_router_publish(leaf_of(conn)->router, conn, msg, &delivered);
}

static const ne_frame_ops frame_ops = {
    .parse = ne_leaf_parse_line,
    .payload = payload_check,
    .handle_op = handle_op,
    .handle_msg = handle_msg,
};

static uint32_t leaf_input(ne_conn *conn, uint8_t *buf, uint32_t len)
{
    return ne_frame_input(conn, &frame_ops, buf, len);
}

static void leaf_timer(ne_conn *conn, uint64_t now)
{
    ne_conn_ping_timer(conn, now);
}

/* ---- Routing --------------------------------------------------------------------------- */

/* A message from a leaf on a subject its remote's deny_imports names is
 * dropped (LN-32); one its user may not publish closes the link with a
 * permissions violation, as nats-server 2.14 does (LN-44). */
static bool leaf_may_publish(ne_conn *pub, ne_msg *msg)
{
    ne_leaf_state *srv = leaf_of(pub);
    const ne_leaf_remote_options *ro = remote_opts(srv, link_of(pub));
    if (ro != NULL && subject_in((const char(*)[NE_SUB_TEXT_BYTES])ro->deny_imports,
                                 ro->deny_import_count, msg->subject.ptr, msg->subject.len)) {
        return false;
    }
    if (ne_leaf_js_denied(link_of(pub), msg->subject.ptr, msg->subject.len)) {
        return false; /* answered by the JetStream of the side it came from (LN-33) */
    }
    if (!leaf_may_send(pub, msg->subject.ptr, msg->subject.len)) {
        leaf_perm_violation(pub, "Publish", msg->subject.ptr, msg->subject.len);
        return false;
    }
    return true;
}

/* Whether a message from pub may go to this peer: not before the link is
 * up, never from one hub to another (LN-12's rule for messages: the hubs'
 * own clusters carry it), never on a subject the remote's deny_exports
 * names (LN-32). */
static bool leaf_may_forward(ne_conn *conn, const ne_conn *pub, const ne_msg *msg)
{
    ne_leaf_state *srv = leaf_of(conn);
    ne_leaf_link *link = link_of(conn);
    if (!established(link)) {
        return false;
    }
    if (pub != NULL && pub->kind == srv->kind && link_of(pub) != NULL && link_of(pub)->spoke &&
        link->spoke) {
        return false;
    }
    /* A message from another node of our cluster goes only to the leafs we
     * are the hub of: that node's own link to our hub carries it there. */
    if (pub != NULL && pub->peer_role == NE_PEER_CLUSTER && link->spoke) {
        return false;
    }
    const ne_leaf_remote_options *ro = remote_opts(srv, link);
    if (ro != NULL && subject_in((const char(*)[NE_SUB_TEXT_BYTES])ro->deny_exports,
                                 ro->deny_export_count, msg->subject.ptr, msg->subject.len)) {
        return false;
    }
    if (ne_leaf_js_denied_out(srv, link, msg->subject.ptr, msg->subject.len)) {
        return false; /* LN-33, LN-35 */
    }
    /* The leaf user may not receive it (a wildcard interest was kept):
     * dropped, as nats-server drops it (LN-43). */
    if (!perm_exempt(msg->subject.ptr, msg->subject.len) &&
        !leaf_may_receive(conn, msg->subject.ptr, msg->subject.len)) {
        ne_conn_logf(conn, NE_LOG_DEBUG, "Not permitted to deliver to \"%.*s\"",
                     (int)msg->subject.len, msg->subject.ptr);
        return false;
    }
    return true;
}

/* One LMSG (or HMSG) to a leaf peer, naming the queue groups it was picked
 * for (LN-17..LN-19). */
static bool leaf_deliver_batch(ne_conn *conn, ne_msg *msg, const ne_batch *batch,
                               uint32_t *payload_bytes)
{
    bool as_hmsg = msg->has_headers && link_of(conn)->headers;
    char line[NE_MAX_OUT_LINE_BYTES];
    size_t n = ne_leaf_msg_line(line, sizeof(line), batch, msg->subject, msg->shown, msg->reply,
                                as_hmsg, msg->hdr_len, msg->total_len);
    if (n == 0) {
        /* Long queue names, or a subject made long by an import. */
        ne_router_line_too_long(leaf_of(conn)->router, conn, as_hmsg ? "HMSG" : "LMSG");
        return false;
    }
    return ne_router_queue(conn, line, n, msg, as_hmsg, payload_bytes);
}

static void leaf_describe(const ne_conn *conn, ne_conn_desc *out)
{
    const ne_leaf_link *link = link_of(conn);
    out->kind = "Leafnode";
    out->type = "";
    out->name = link != NULL ? link->remote_name : "";
    out->lang = "";
    out->version = "";
    out->user = "";
    out->account = link != NULL ? link->remote_account : "";
    out->counted = false;
}

static const ne_conn_ops leaf_ops = {
    .input = leaf_input,
    .timer = leaf_timer,
    .closed = leaf_closed,
    .deliver_batch = leaf_deliver_batch,
    .may_publish = leaf_may_publish,
    .may_forward = leaf_may_forward,
    .describe = leaf_describe,
};
