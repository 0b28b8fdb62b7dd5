/* The router's subscriptions and accounts (ne_router.h); publishing is in
 * ne_route.c. */
#include "router/ne_router.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_subject.h"

int ne_router_init(ne_router *r, ne_router_storage *storage, const ne_server_options *opts,
                   ne_conns *conns, ne_rng *rng)
{
    r->opts = opts;
    r->conns = conns;
    r->rng = rng;
    ne_pool_init(&r->sub_pool, "subscriptions", storage, sizeof(ne_sub), NE_MAX_SUBSCRIPTIONS);
    ne_trie_init(&r->trie);
    r->account_count = opts->account_count;
    for (uint32_t i = 0; i < r->account_count; i++) {
        r->accounts[i].index = (uint8_t)i;
        int rc = ne_sublist_init(&r->accounts[i].sublist, &r->trie);
        if (rc != NE_OK) {
            ne_log_error(conns->log, "%u accounts need more trie nodes: raise NE_MAX_TRIE_NODES",
                         (unsigned)r->account_count);
            return rc;
        }
    }
    return NE_OK;
}

void ne_router_deinit(ne_router *r)
{
    for (uint32_t i = 0; i < r->account_count; i++) {
        ne_sublist_deinit(&r->accounts[i].sublist);
    }
}

void ne_router_observe(ne_router *r, const ne_interest_observer *obs)
{
    NE_ASSERT(r->observer_count < NE_ROUTER_MAX_OBSERVERS);
    r->observers[r->observer_count++] = *obs;
}

void ne_router_observe_clients(ne_router *r, const ne_client_observer *obs)
{
    NE_ASSERT(r->client_observer_count < NE_ROUTER_MAX_OBSERVERS);
    r->client_observers[r->client_observer_count++] = *obs;
}

/* ---- Subscriptions ---------------------------------------------------------- */

static void conn_link(ne_conn *conn, ne_sub *sub)
{
    sub->conn_prev = NULL;
    sub->conn_next = conn->subs;
    if (conn->subs != NULL) {
        conn->subs->conn_prev = sub;
    }
    conn->subs = sub;
    conn->nsubs++;
}

static void conn_unlink(ne_conn *conn, ne_sub *sub)
{
    if (sub->conn_prev != NULL) {
        sub->conn_prev->conn_next = sub->conn_next;
    } else {
        conn->subs = sub->conn_next;
    }
    if (sub->conn_next != NULL) {
        sub->conn_next->conn_prev = sub->conn_prev;
    }
    NE_ASSERT(conn->nsubs > 0);
    conn->nsubs--;
}

static void refused(ne_router *r, ne_conn *conn, const char *what, unsigned limit, const char *knob)
{
    r->stats.subs_refused++;
    ne_conn_logf(conn, NE_LOG_WARN, "%s exhausted (%u): raise %s", what, limit, knob);
}

/* A subscription past the connection's share of a shared pool: refused as
 * at nats-server's max_subscriptions (a client gets -ERR 'maximum
 * subscriptions exceeded' and stays), counted and logged with the knob, so
 * that one peer, broken or hostile, cannot leave the others none. */
static void share_refused(ne_router *r, ne_conn *conn, const char *what, uint32_t held,
                          const char *knob)
{
    r->stats.subs_refused++;
    ne_conn_logf(conn, NE_LOG_WARN, "Subscription refused: the connection holds %u %s (%s)",
                 (unsigned)held, what, knob);
}

ne_account *ne_router_sub_account(ne_router *r, const ne_sub *sub)
{
    NE_ASSERT(sub->account < r->account_count);
    return &r->accounts[sub->account];
}

/* Takes a subscription out of its account's sublist; the trie nodes that
 * leaves empty are credited to the connection's share. */
static void sublist_remove(ne_router *r, ne_conn *conn, ne_sub *sub)
{
    uint32_t nodes_before = r->trie.pool.in_use;
    ne_sublist_remove(&ne_router_sub_account(r, sub)->sublist, &sub->entry);
    uint32_t freed = nodes_before - r->trie.pool.in_use;
    conn->trie_nodes -= NE_MIN(freed, conn->trie_nodes);
}

/* Tells the observers; on a refusal the ones already told hear `removed`.
 * A peer's interest stays even when an observer cannot pass it on: a full
 * table costs only the peers it would have gone to. */
static int observers_added(ne_router *r, ne_sub *sub)
{
    for (uint32_t i = 0; i < r->observer_count; i++) {
        int rc = r->observers[i].added(r->observers[i].ctx, sub);
        if (rc != NE_OK && !sub->peer) {
            for (uint32_t j = 0; j < i; j++) {
                r->observers[j].removed(r->observers[j].ctx, sub);
            }
            return rc;
        }
    }
    return NE_OK;
}

int ne_router_subscribe(ne_router *r, ne_conn *conn, const ne_sub_spec *spec, ne_sub **out)
{
    if (!ne_subject_valid(spec->subject.ptr, spec->subject.len)) {
        return NE_ERR_INVALID;
    }
    size_t text_len = (size_t)spec->subject.len + spec->queue.len + spec->sid.len;
    if (text_len > NE_SUB_TEXT_BYTES) {
        ne_conn_logf(conn, NE_LOG_WARN,
                     "Subscription text of %zu bytes is above NE_SUB_TEXT_BYTES (%u)", text_len,
                     (unsigned)NE_SUB_TEXT_BYTES);
        return NE_ERR_TOO_BIG;
    }
    if (conn->nsubs >= NE_MAX_SUBSCRIPTIONS_PER_CONN) {
        share_refused(r, conn, "subscriptions", conn->nsubs, "NE_MAX_SUBSCRIPTIONS_PER_CONN");
        return NE_ERR_NOMEM;
    }
    ne_sub *sub = ne_pool_alloc(&r->sub_pool);
    if (sub == NULL) {
        refused(r, conn, "Subscription pool", NE_MAX_SUBSCRIPTIONS, "NE_MAX_SUBSCRIPTIONS");
        return NE_ERR_NOMEM;
    }
    memcpy(sub->text, spec->subject.ptr, spec->subject.len);
    if (spec->queue.len > 0) {
        memcpy(sub->text + spec->subject.len, spec->queue.ptr, spec->queue.len);
    }
    if (spec->sid.len > 0) {
        memcpy(sub->text + spec->subject.len + spec->queue.len, spec->sid.ptr, spec->sid.len);
    }
    sub->entry.subject = sub->text;
    sub->entry.subject_len = (uint16_t)spec->subject.len;
    sub->entry.queue = spec->queue.len > 0 ? sub->text + spec->subject.len : NULL;
    sub->entry.queue_len = (uint16_t)spec->queue.len;
    sub->sid_len = (uint16_t)spec->sid.len;
    sub->conn = conn;
    sub->peer = spec->peer;
    sub->withhold = spec->withhold;
    sub->member_weight = spec->member_weight;
    ne_account *acc = spec->account != NULL ? spec->account : conn->acc;
    sub->account = acc->index;
    uint32_t nodes_before = r->trie.pool.in_use;
    int rc = ne_sublist_insert(&acc->sublist, &sub->entry);
    if (rc != NE_OK) {
        ne_pool_free(&r->sub_pool, sub);
        if (rc == NE_ERR_NOMEM) {
            refused(r, conn, "Subject trie", NE_MAX_TRIE_NODES, "NE_MAX_TRIE_NODES");
        }
        return rc;
    }
    /* The nodes this subscription created hold only it: removing it frees
     * them. */
    uint32_t created = r->trie.pool.in_use - nodes_before;
    if (conn->trie_nodes + created > NE_MAX_TRIE_NODES_PER_CONN) {
        ne_sublist_remove(&acc->sublist, &sub->entry);
        ne_pool_free(&r->sub_pool, sub);
        share_refused(r, conn, "subject trie nodes", conn->trie_nodes,
                      "NE_MAX_TRIE_NODES_PER_CONN");
        return NE_ERR_NOMEM;
    }
    conn->trie_nodes += created;
    rc = observers_added(r, sub);
    if (rc != NE_OK) {
        sublist_remove(r, conn, sub);
        ne_pool_free(&r->sub_pool, sub);
        r->stats.subs_refused++;
        return NE_ERR_NOMEM;
    }
    conn_link(conn, sub);
    if (out != NULL) {
        *out = sub;
    }
    return NE_OK;
}

void ne_router_unsubscribe(ne_router *r, ne_sub *sub)
{
    ne_conn *conn = sub->conn;
    for (uint32_t i = 0; i < r->observer_count; i++) {
        r->observers[i].removed(r->observers[i].ctx, sub);
    }
    sublist_remove(r, conn, sub);
    conn_unlink(conn, sub);
    ne_pool_free(&r->sub_pool, sub);
}

void ne_router_conn_gone(ne_router *r, ne_conn *conn)
{
    uint32_t guard = 0;
    while (conn->subs != NULL && guard++ <= NE_MAX_SUBSCRIPTIONS) {
        ne_router_unsubscribe(r, conn->subs);
    }
    NE_ASSERT(conn->nsubs == 0);
    ne_router_resp_perms_release(r, conn->cid);
}

ne_sub *ne_router_find_sid(const ne_conn *conn, ne_slice sid)
{
    uint32_t guard = 0;
    for (ne_sub *s = conn->subs; s != NULL && guard++ <= NE_MAX_SUBSCRIPTIONS; s = s->conn_next) {
        if (s->sid_len == sid.len && memcmp(ne_sub_sid(s), sid.ptr, sid.len) == 0) {
            return s;
        }
    }
    return NULL;
}

ne_sub *ne_router_find_interest(const ne_conn *conn, const ne_account *acc, ne_slice subject,
                                ne_slice queue)
{
    uint8_t account = acc != NULL ? acc->index : conn->acc->index;
    uint32_t guard = 0;
    for (ne_sub *s = conn->subs; s != NULL && guard++ <= NE_MAX_SUBSCRIPTIONS; s = s->conn_next) {
        if (s->account == account && s->entry.subject_len == subject.len &&
            s->entry.queue_len == queue.len && memcmp(s->text, subject.ptr, subject.len) == 0 &&
            (queue.len == 0 || memcmp(s->text + s->entry.subject_len, queue.ptr, queue.len) == 0)) {
            return s;
        }
    }
    return NULL;
}

void ne_router_each_sub(ne_router *r, ne_sub_visit visit, void *ctx)
{
    uint32_t guard = 0;
    for (ne_conn *c = r->conns->active; c != NULL && guard < NE_MAX_CONN_HEADERS;
         c = c->next, guard++) {
        uint32_t sguard = 0;
        for (ne_sub *s = c->subs; s != NULL && sguard++ <= NE_MAX_SUBSCRIPTIONS; s = s->conn_next) {
            visit(ctx, s);
        }
    }
}

uint32_t ne_router_sub_count(const ne_router *r)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->account_count; i++) {
        n += r->accounts[i].sublist.count;
    }
    return n;
}

/* ---- Accounts ------------------------------------------------------------------- */

void ne_router_join(ne_router *r, ne_conn *conn, ne_account *acc)
{
    conn->acc = acc;
    acc->clients++;
    for (uint32_t i = 0; i < r->client_observer_count; i++) {
        r->client_observers[i].joined(r->client_observers[i].ctx, conn);
    }
}

void ne_router_leave(ne_router *r, ne_conn *conn)
{
    NE_ASSERT(conn->acc->clients > 0);
    conn->acc->clients--;
    for (uint32_t i = 0; i < r->client_observer_count; i++) {
        r->client_observers[i].left(r->client_observers[i].ctx, conn);
    }
}

void ne_router_peer_up(ne_router *r, ne_conn *conn, bool up)
{
    NE_ASSERT(conn->acc != NULL && conn->peer_role != NE_PEER_NONE);
    for (uint32_t i = 0; i < r->client_observer_count; i++) {
        if (r->client_observers[i].peer != NULL) {
            r->client_observers[i].peer(r->client_observers[i].ctx, conn, up);
        }
    }
}

ne_account *ne_router_account_named(ne_router *r, const char *name)
{
    if (name[0] == '\0') {
        name = "$G";
    }
    for (uint32_t i = 0; i < r->account_count; i++) {
        if (strcmp(r->opts->accounts[i].name, name) == 0) {
            return &r->accounts[i];
        }
    }
    return NULL;
}

const char *ne_router_account_name(const ne_router *r, const ne_account *acc)
{
    return r->opts->accounts[acc->index].name;
}

void ne_router_line_too_long(ne_router *r, const ne_conn *conn, const char *what)
{
    r->stats.lines_too_long++;
    ne_conn_logf(conn, NE_LOG_WARN, "%s line longer than NE_MAX_OUT_LINE_BYTES (%u) not sent", what,
                 (unsigned)NE_MAX_OUT_LINE_BYTES);
}

bool ne_msg_split_reply(ne_slice *reply, ne_slice *shown)
{
    static const char ack[] = "$JS.ACK.";
    if (reply->len <= sizeof(ack) - 1 || memcmp(reply->ptr, ack, sizeof(ack) - 1) != 0) {
        return false;
    }
    /* The last '@': the shown subject has none (a subject's characters). */
    uint32_t at = reply->len;
    for (uint32_t i = reply->len; i > 0; i--) {
        if (reply->ptr[i - 1] == '@') {
            at = i - 1;
            break;
        }
    }
    if (at == reply->len || at + 1 == reply->len) {
        return false;
    }
    *shown = (ne_slice){reply->ptr + at + 1, reply->len - at - 1};
    reply->len = at;
    return true;
}

void ne_msg_put_reply(ne_strbuf *sb, ne_slice reply, ne_slice shown)
{
    ne_strbuf_append(sb, reply.ptr, reply.len);
    if (reply.len > 0 && shown.len > 0) {
        ne_strbuf_putc(sb, '@');
        ne_strbuf_append(sb, shown.ptr, shown.len);
    }
}
