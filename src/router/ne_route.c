/* Routing a published message (ne_router.h): match, deliver through the
 * subscribers' kinds, one batch per peer, the account's imports and
 * service replies, and response permissions. */
#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "core/ne_subject.h"
#include "router/ne_router.h"

#define NE_SERVICE_REPLY_TTL_MS (2u * 60u * 1000u)

/* ---- Queuing for the kinds ---------------------------------------------------- */

/* Copies a contiguous payload into chunks once, so that several subscribers
 * can reference it. Returns false when the pool cannot hold it (then each
 * subscriber gets a copy instead). */
static bool msg_materialize(ne_chunk_pools *pools, ne_msg *msg)
{
    size_t len = (size_t)msg->total_len + 2;
    ne_chunk *head = NULL, *tail = NULL;
    size_t done = 0;
    while (done < len) {
        ne_chunk *c = ne_chunk_alloc(pools);
        if (c == NULL) {
            ne_chunk_chain_release(pools, head);
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

/* Queues a delivery line and a payload that fit in one chunk as one
 * contiguous write into the tail of the connection's queue. */
static bool queue_inline(ne_conn *conn, const char *line, size_t n, const uint8_t *payload,
                         size_t len)
{
    uint8_t *dst = ne_conn_reserve(conn, n + len);
    if (dst == NULL) {
        return false;
    }
    memcpy(dst, line, n);
    memcpy(dst + n, payload, len);
    ne_conn_commit(conn, n + len);
    return true;
}

bool ne_router_queue(ne_conn *conn, const char *line, size_t n, ne_msg *msg, bool as_hmsg,
                     uint32_t *payload_bytes)
{
    uint32_t skip = as_hmsg ? 0 : msg->hdr_len;
    uint32_t payload_len = msg->total_len - skip;
    if (conn->closing) {
        return false;
    }
    if (msg->chain == NULL && msg->share && payload_len >= NE_SHARE_PAYLOAD_MIN_BYTES) {
        (void)msg_materialize(&conn->set->chunks, msg);
    }
    if (msg->chain == NULL && n + payload_len + 2 <= NE_CHUNK_BYTES) {
        if (!queue_inline(conn, line, n, msg->data + skip, payload_len + 2u)) {
            return false;
        }
    } else if (ne_conn_send_message(conn, line, n, msg->chain == NULL ? msg->data + skip : NULL,
                                    msg->chain, msg->chain_offset + skip,
                                    (size_t)payload_len + 2) != NE_OK) {
        return false;
    }
    *payload_bytes = payload_len;
    return true;
}

/* ---- Response permissions (allow_responses, CP-82) ------------------------ */

void ne_router_resp_perms_release(ne_router *r, uint64_t cid)
{
    NE_ASSERT(r->resp_perms_used <= NE_MAX_RESPONSE_PERMS);
    for (uint32_t i = 0; i < r->resp_perms_used; i++) {
        if (r->resp_perms[i].cid == cid) {
            r->resp_perms[i].cid = 0;
        }
    }
}

/* conn received a message with a reply: it may answer it. When the table is
 * full the entry closest to expiring makes room. Entries above the
 * high-water mark were never used: the first of them is the free slot when
 * none below it is (the first free entry either way, as a scan of the
 * whole table would find). */
static void resp_perm_grant(ne_router *r, ne_conn *conn, const ne_permissions *p, ne_slice reply)
{
    uint64_t now = r->conns->now_ms;
    if (reply.len > NE_PERM_SUBJECT_BYTES) {
        return;
    }
    NE_ASSERT(r->resp_perms_used <= NE_MAX_RESPONSE_PERMS);
    ne_resp_perm *same = NULL, *free_slot = NULL, *oldest = NULL;
    for (uint32_t i = 0; i < r->resp_perms_used && same == NULL; i++) {
        ne_resp_perm *e = &r->resp_perms[i];
        bool live = e->cid != 0 && (e->expires_ms == 0 || e->expires_ms > now);
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
    if (same == NULL && free_slot == NULL && r->resp_perms_used < NE_MAX_RESPONSE_PERMS) {
        free_slot = &r->resp_perms[r->resp_perms_used++];
    }
    ne_resp_perm *slot = same != NULL ? same : free_slot != NULL ? free_slot : oldest;
    NE_ASSERT(slot != NULL);
    if (slot == oldest) {
        r->stats.resp_perms_evicted++;
    }
    slot->cid = conn->cid;
    slot->remaining = p->response_max;
    slot->expires_ms = p->response_expires_ms > 0 ? now + p->response_expires_ms : 0;
    slot->reply_len = (uint16_t)reply.len;
    memcpy(slot->reply, reply.ptr, reply.len);
}

bool ne_router_resp_perm_use(ne_router *r, const ne_conn *conn, ne_slice subject)
{
    NE_ASSERT(r->resp_perms_used <= NE_MAX_RESPONSE_PERMS);
    for (uint32_t i = 0; i < r->resp_perms_used; i++) {
        ne_resp_perm *e = &r->resp_perms[i];
        if (e->cid != conn->cid || e->reply_len != subject.len ||
            memcmp(e->reply, subject.ptr, subject.len) != 0) {
            continue;
        }
        bool expired = e->expires_ms != 0 && e->expires_ms <= r->conns->now_ms;
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

/* ---- Delivery ------------------------------------------------------------------ */

/* Counts a queued delivery, then holds the connection to max_pending. */
static void count_delivery(ne_router *r, ne_conn *conn, uint32_t payload_len)
{
    conn->out_msgs++;
    conn->out_bytes += payload_len;
    conn->acc->out_msgs++;
    conn->acc->out_bytes += payload_len;
    r->stats.out_msgs++;
    r->stats.out_bytes += payload_len;
    (void)ne_conn_check_pending(conn);
}

/* One message to one subscription through its connection's kind, then what
 * every delivery implies: counting, response permissions, max_msgs. */
static bool deliver(ne_router *r, ne_conn *pub, ne_sub *sub, ne_msg *msg)
{
    ne_conn *conn = sub->conn;
    if (conn->closing || (conn == pub && pub->no_echo && !sub->echo)) {
        return false;
    }
    const ne_permissions *perms = ne_router_perms(conn);
    if (perms != NULL && sub->withhold &&
        ne_perm_withholds(perms, r->opts->perm_subjects, msg->subject.ptr, msg->subject.len)) {
        return false;
    }
    const ne_conn_ops *ops = ne_conn_kind_of(conn)->ops;
    uint32_t payload_bytes = 0;
    if (ops->deliver == NULL || !ops->deliver(conn, sub, msg, &payload_bytes)) {
        return false;
    }
    count_delivery(r, conn, payload_bytes);
    if (perms != NULL && perms->responses && msg->reply.len > 0) {
        resp_perm_grant(r, conn, perms, msg->reply);
    }
    sub->delivered++;
    if (sub->max_msgs > 0 && sub->delivered >= sub->max_msgs && !conn->closing) {
        ne_router_unsubscribe(r, sub);
    }
    return true;
}

/* Records that a peer's subscription matched (queue NULL for a plain one);
 * false when the message may not go there. */
static bool peer_add(ne_router *r, const ne_conn *pub, ne_sub *sub, const ne_msg *msg,
                     const char *queue, uint16_t queue_len)
{
    ne_conn *conn = sub->conn;
    const ne_conn_ops *ops = ne_conn_kind_of(conn)->ops;
    if (conn->closing || conn == pub || ops->may_forward == NULL ||
        !ops->may_forward(conn, pub, msg)) {
        return false;
    }
    uint32_t i = 0;
    while (i < r->peer_count && r->peers[i] != conn) {
        i++;
    }
    if (i == r->peer_count) {
        NE_ASSERT(r->peer_count < NE_ROUTER_MAX_PEERS);
        r->peers[i] = conn;
        r->batches[i].plain = false;
        r->batches[i].queue_count = 0;
        r->peer_count++;
    }
    ne_batch *b = &r->batches[i];
    if (queue == NULL) {
        b->plain = true;
        return true;
    }
    if (b->queue_count >= NE_MAX_MATCH_QUEUE_GROUPS) {
        return false;
    }
    b->queue[b->queue_count] = queue;
    b->queue_len[b->queue_count] = queue_len;
    b->queue_count++;
    return true;
}

static uint32_t deliver_batches(ne_router *r, ne_msg *msg)
{
    uint32_t delivered = 0;
    for (uint32_t i = 0; i < r->peer_count; i++) {
        ne_conn *conn = r->peers[i];
        const ne_conn_ops *ops = ne_conn_kind_of(conn)->ops;
        uint32_t payload_bytes = 0;
        NE_ASSERT(ops->deliver_batch != NULL);
        if (!conn->closing && ops->deliver_batch(conn, msg, &r->batches[i], &payload_bytes)) {
            count_delivery(r, conn, payload_bytes);
            delivered++;
        }
    }
    r->peer_count = 0;
    return delivered;
}

/* Whether a member takes part in the first, random pick of its group:
 * local members always; a peer's member that competes with them (a
 * cluster peer's, member_weight) unless the message prefers local members
 * (it came from another node of the cluster, CP-59). */
static bool member_competes(const ne_sub *sub, const ne_msg *msg)
{
    return !sub->peer || (sub->member_weight > 0 && !msg->local_first);
}

/* How many members a competing one counts as. */
static uint32_t member_weight(const ne_sub *sub)
{
    return sub->peer ? sub->member_weight : 1u;
}

/* Where the random pick starts: each competing member counted by its
 * weight, as nats-server counts a route's queue subscription once per
 * member behind it (CP-59: a message published on one node of a 4-node
 * mesh reaches that node's own member about a quarter of the time, PR-03). */
static uint32_t group_start(ne_router *r, const ne_msg *msg, uint32_t start, uint32_t count)
{
    ne_match_result *res = &r->match;
    uint64_t total = 0;
    for (uint32_t k = 0; k < count; k++) {
        const ne_sub *sub = NE_CONTAINER_OF(res->queue[start + k], ne_sub, entry);
        total += member_competes(sub, msg) ? member_weight(sub) : 0u;
    }
    if (total == 0) {
        return 0;
    }
    uint32_t at = ne_rng_below(r->rng, (uint32_t)NE_MIN(total, (uint64_t)UINT32_MAX));
    for (uint32_t k = 0; k < count; k++) {
        const ne_sub *sub = NE_CONTAINER_OF(res->queue[start + k], ne_sub, entry);
        uint32_t w = member_competes(sub, msg) ? member_weight(sub) : 0u;
        if (at < w) {
            return k;
        }
        at -= w;
    }
    NE_ASSERT(false);
    return 0;
}

/* One member of a queue group: a competing member picked at random (by
 * weight), the next able to take it otherwise; then the members of last
 * resort (a leaf's members, and a cluster peer's for a message that
 * prefers local members), each only when no member before it took the
 * message. peers false: local members only (imports: one hop). */
static bool deliver_group(ne_router *r, ne_conn *pub, ne_msg *msg, uint32_t start, uint32_t count,
                          bool peers)
{
    ne_match_result *res = &r->match;
    uint32_t first = group_start(r, msg, start, count);
    for (int pass = 0; pass < (peers ? 2 : 1); pass++) {
        for (uint32_t k = 0; k < count; k++) {
            ne_sub *sub = NE_CONTAINER_OF(res->queue[start + (first + k) % count], ne_sub, entry);
            if (member_competes(sub, msg) != (pass == 0) || (sub->peer && !peers)) {
                continue;
            }
            if (sub->peer ? peer_add(r, pub, sub, msg, sub->entry.queue, sub->entry.queue_len)
                          : deliver(r, pub, sub, msg)) {
                return true;
            }
        }
    }
    return false;
}

/* Matches in one account and delivers: plain subscriptions, one member per
 * queue group, then one batch per peer. peers false: local subscribers
 * only (a message arriving through an import is not passed to peers). */
static uint32_t deliver_in(ne_router *r, ne_conn *pub, ne_account *acc, ne_msg *msg, bool peers)
{
    ne_match_result *res = &r->match;
    ne_sublist_match(&acc->sublist, msg->subject.ptr, msg->subject.len, res);
    uint32_t fanout = res->plain_count + res->group_count;
    if (peers) {
        /* The publisher's own account: what /subsz reports. */
        r->stats.fanout_overflows += res->overflow ? 1u : 0u;
        r->stats.fanout_total += fanout;
        r->stats.fanout_max = NE_MAX(r->stats.fanout_max, (uint64_t)fanout);
    }
    msg->share = fanout > 1;
    r->peer_count = 0;
    uint32_t delivered = 0;
    for (uint32_t i = 0; i < res->plain_count; i++) {
        ne_sub *sub = NE_CONTAINER_OF(res->plain[i], ne_sub, entry);
        if (sub->peer) {
            if (peers) {
                (void)peer_add(r, pub, sub, msg, NULL, 0); /* one batch per peer, below */
            }
            continue;
        }
        delivered += deliver(r, pub, sub, msg) ? 1u : 0u;
    }
    for (uint32_t g = 0; g < res->group_count; g++) {
        uint32_t start = res->groups[g].start;
        const ne_sub_entry *any = res->queue[start];
        /* A message from a peer goes only to the queue groups it names. */
        if (msg->from_peer && !ne_proto_queue_listed(msg->queues, any->queue, any->queue_len)) {
            continue;
        }
        delivered += deliver_group(r, pub, msg, start, res->groups[g].count, peers) ? 1u : 0u;
    }
    return delivered + deliver_batches(r, msg);
}

/* ---- Imports and service replies ------------------------------------------------ */

/* The same message under another subject and reply in another account,
 * sharing the payload (and any chunk chain) of the original. */
static uint32_t deliver_as(ne_router *r, ne_conn *pub, uint8_t account, const ne_msg *msg,
                           ne_slice subject, ne_slice reply)
{
    ne_msg m = *msg;
    m.subject = subject;
    m.reply = reply;
    m.from_peer = false;
    m.chain_owned = false;
    m.scratch_id = 0;
    m.seq = ++r->msg_seq;
    m.size_len = 0;
    m.hsize_len = 0;
    uint32_t delivered = deliver_in(r, pub, &r->accounts[account], &m, false);
    if (m.chain_owned) {
        ne_chunk_chain_release(&r->conns->chunks, m.chain);
    }
    return delivered;
}

/* A "_R_." reply leading responses from the exporting account back to the
 * requester's reply; NULL when the table is full of live entries. */
static ne_reply_map *reply_map_add(ne_router *r, const ne_import_conf *imp, ne_slice orig)
{
    if (orig.len > NE_PERM_SUBJECT_BYTES) {
        return NULL;
    }
    uint64_t now = r->conns->now_ms;
    for (uint32_t i = 0; i < NE_MAX_SERVICE_REPLIES; i++) {
        ne_reply_map *e = &r->reply_maps[i];
        if (e->expires_ms != 0 && e->expires_ms > now) {
            continue;
        }
        char *p = e->reply;
        memcpy(p, "_R_.", 4);
        ne_rng_text(r->rng, p + 4, 6, NE_RNG_BASE62);
        p[10] = '.';
        ne_rng_text(r->rng, p + 11, 6, NE_RNG_BASE62);
        e->reply_len = 17;
        e->from = imp->from;
        e->to = imp->account;
        e->singleton = imp->response_type == NE_RESPONSE_SINGLETON;
        e->orig_len = (uint16_t)orig.len;
        memcpy(e->orig, orig.ptr, orig.len);
        e->expires_ms = now + NE_SERVICE_REPLY_TTL_MS;
        return e;
    }
    return NULL;
}

/* An import would make the subject longer than any line can carry: the
 * message is not delivered through it (counted and logged like a line). */
static void import_too_long(ne_router *r, const ne_conn *pub, const ne_import_conf *imp)
{
    r->stats.lines_too_long++;
    ne_conn_logf(pub, NE_LOG_WARN,
                 "Subject through the import of \"%s\" longer than NE_MAX_OUT_LINE_BYTES (%u): "
                 "not delivered through it",
                 imp->subject, (unsigned)NE_MAX_OUT_LINE_BYTES);
}

static uint32_t route_stream_imports(ne_router *r, ne_conn *pub, const ne_account *acc,
                                     const ne_msg *msg)
{
    const ne_server_options *o = r->opts;
    uint32_t delivered = 0;
    for (uint32_t i = 0; i < o->import_count; i++) {
        const ne_import_conf *imp = &o->imports[i];
        if (imp->service || imp->from != acc->index ||
            !ne_subject_matches(imp->subject, strlen(imp->subject), msg->subject.ptr,
                                msg->subject.len)) {
            continue;
        }
        /* A subject longer than a line could not be framed for anyone. */
        char subject[NE_MAX_OUT_LINE_BYTES];
        size_t n;
        if (imp->prefix) {
            n = ne_fmt(subject, sizeof(subject), "%s.%.*s", imp->to, (int)msg->subject.len,
                       msg->subject.ptr);
        } else {
            n = ne_account_map_subject(imp->subject, strlen(imp->subject), imp->to, strlen(imp->to),
                                       msg->subject.ptr, msg->subject.len, subject,
                                       sizeof(subject));
        }
        if (n == 0) {
            import_too_long(r, pub, imp);
            continue;
        }
        delivered +=
            deliver_as(r, pub, imp->account, msg, (ne_slice){subject, (uint32_t)n}, msg->reply);
    }
    return delivered;
}

static uint32_t route_service_imports(ne_router *r, ne_conn *pub, const ne_account *acc,
                                      const ne_msg *msg)
{
    const ne_server_options *o = r->opts;
    uint32_t delivered = 0;
    for (uint32_t i = 0; i < o->import_count; i++) {
        const ne_import_conf *imp = &o->imports[i];
        const char *local = imp->to[0] != '\0' ? imp->to : imp->subject;
        if (!imp->service || imp->account != acc->index ||
            !ne_subject_matches(local, strlen(local), msg->subject.ptr, msg->subject.len)) {
            continue;
        }
        char subject[NE_MAX_OUT_LINE_BYTES];
        size_t n =
            ne_account_map_subject(local, strlen(local), imp->subject, strlen(imp->subject),
                                   msg->subject.ptr, msg->subject.len, subject, sizeof(subject));
        if (n == 0) {
            import_too_long(r, pub, imp);
            continue;
        }
        ne_slice reply = {"", 0};
        ne_reply_map *map = NULL;
        if (msg->reply.len > 0) {
            map = reply_map_add(r, imp, msg->reply);
            if (map != NULL) {
                reply = (ne_slice){map->reply, map->reply_len};
            } else {
                r->stats.reply_maps_refused++;
                ne_log_warn(r->conns->log,
                            "Service reply map full (%u): request on \"%.*s\" forwarded "
                            "without a reply; raise NE_MAX_SERVICE_REPLIES",
                            (unsigned)NE_MAX_SERVICE_REPLIES, (int)msg->subject.len,
                            msg->subject.ptr);
            }
        }
        uint32_t n_delivered =
            deliver_as(r, pub, imp->from, msg, (ne_slice){subject, (uint32_t)n}, reply);
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
static uint32_t route_service_response(ne_router *r, ne_conn *pub, const ne_account *acc,
                                       const ne_msg *msg)
{
    if (msg->subject.len < 4 || memcmp(msg->subject.ptr, "_R_.", 4) != 0) {
        return 0;
    }
    for (uint32_t i = 0; i < NE_MAX_SERVICE_REPLIES; i++) {
        ne_reply_map *e = &r->reply_maps[i];
        if (e->expires_ms == 0 || e->from != acc->index || e->reply_len != msg->subject.len ||
            memcmp(e->reply, msg->subject.ptr, msg->subject.len) != 0) {
            continue;
        }
        if (e->expires_ms <= r->conns->now_ms) {
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
        return deliver_as(r, pub, to, msg, (ne_slice){orig, orig_len}, msg->reply);
    }
    return 0;
}

static uint32_t route_imports(ne_router *r, ne_conn *pub, const ne_account *acc, const ne_msg *msg)
{
    if (r->opts->import_count == 0) {
        return 0;
    }
    return route_stream_imports(r, pub, acc, msg) + route_service_imports(r, pub, acc, msg) +
           route_service_response(r, pub, acc, msg);
}

/* The account a message is published in: the one it names (a route's
 * RMSG), else its publisher's. */
static ne_account *msg_account(ne_router *r, const ne_conn *pub, const ne_msg *msg)
{
    if (!msg->in_account) {
        return pub->acc;
    }
    NE_ASSERT(msg->account < r->account_count);
    return &r->accounts[msg->account];
}

/* ---- Publishing ---------------------------------------------------------------- */

static void release_chain(ne_router *r, ne_msg *msg)
{
    if (msg->chain_owned) {
        ne_chunk_chain_release(&r->conns->chunks, msg->chain);
        msg->chain = NULL;
        msg->chain_owned = false;
    }
}

int ne_router_publish(ne_router *r, ne_conn *pub, ne_msg *msg, uint32_t *delivered)
{
    NE_ASSERT(!r->routing);
    *delivered = 0;
    ne_account *acc = msg_account(r, pub, msg);
    msg->account = acc->index; /* for the peers' batches (a route names it) */
    pub->in_msgs++;
    pub->in_bytes += msg->total_len;
    acc->in_msgs++;
    acc->in_bytes += msg->total_len;
    r->stats.in_msgs++;
    r->stats.in_bytes += msg->total_len;
    const ne_conn_ops *ops = ne_conn_kind_of(pub)->ops;
    bool ask = pub->publish_checks == NE_PUBLISH_CHECK_ALWAYS ||
               (pub->publish_checks == NE_PUBLISH_CHECK_REPLY && msg->reply.len > 0);
    if (ask && ops->may_publish != NULL && !ops->may_publish(pub, msg)) {
        return NE_ERR_PERMISSION;
    }
    r->routing = true;
    msg->seq = ++r->msg_seq;
    uint32_t n = deliver_in(r, pub, acc, msg, true);
    n += route_imports(r, pub, acc, msg);
    r->routing = false;
    release_chain(r, msg);
    *delivered = n;
    return NE_OK;
}

uint32_t ne_router_publish_in(ne_router *r, uint8_t account, ne_msg *msg)
{
    NE_ASSERT(!r->routing && account < r->account_count);
    r->routing = true;
    msg->seq = ++r->msg_seq;
    uint32_t n = deliver_in(r, NULL, &r->accounts[account], msg, false);
    r->routing = false;
    release_chain(r, msg);
    return n;
}
