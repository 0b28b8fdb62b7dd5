/* MQTT sessions (ne_mqtt_internal.h): the session table, subscriptions,
 * delivery (one copy per message and session, at the highest QoS of the
 * matching subscriptions), the QoS 1 and 2 flows toward the client, wills
 * and expiry. A session's internal client (kind "MQTT session") holds its
 * subscriptions; its deliver op is where routed messages reach it. */
#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "core/ne_subject.h"
#include "mqtt/ne_mqtt_internal.h"
#include "mqtt/ne_mqtt_topic.h"
#include "router/ne_authn.h"
#include "router/ne_perm.h"

static ne_mqtt_session *session_of(const ne_conn *conn)
{
    return conn->state;
}

static uint64_t now_of(const ne_mqtt *m)
{
    return m->conns->now_ms;
}

/* ---- The outbound ring ------------------------------------------------------------ */

/* The k-th entry of a ring (k < out_count, so the ring is held). */
static ne_mqtt_out *ring_at(ne_mqtt_out *ring, uint16_t head, uint32_t k)
{
    return &ring[(head + k) % NE_MQTT_MAX_INFLIGHT];
}

static ne_mqtt_out *out_at(ne_mqtt_session *s, uint32_t k)
{
    return ring_at(s->out, s->out_head, k);
}

/* The ring goes back to the pool once nothing is in it. */
static void out_table_release(ne_mqtt *m, ne_mqtt_session *s)
{
    if (s->out != NULL && s->out_count == 0) {
        ne_pool_free(&m->out_table_pool, s->out);
        s->out = NULL;
        s->out_head = 0;
    }
}

bool ne_mqtt_session_inbound_take(ne_mqtt *m, ne_mqtt_session *s)
{
    if (s->inbound != NULL) {
        return true;
    }
    NE_ASSERT(s->inbound_count == 0);
    ne_mqtt_inbound_table *t = ne_pool_alloc_uninit(&m->inbound_pool);
    if (t == NULL) {
        m->stats.qos2_refused++;
        ne_conn_logf(s->conn, NE_LOG_WARN,
                     "MQTT session \"%.*s\" refused a QoS 2 message: every inbound QoS 2 table "
                     "is taken (NE_MQTT_INBOUND_TABLES %u)",
                     (int)s->client_id_len, s->client_id, (unsigned)NE_MQTT_INBOUND_TABLES);
        return false;
    }
    s->inbound = t->ids;
    return true;
}

void ne_mqtt_session_inbound_release(ne_mqtt *m, ne_mqtt_session *s)
{
    if (s->inbound != NULL && s->inbound_count == 0) {
        ne_pool_free(&m->inbound_pool, s->inbound);
        s->inbound = NULL;
    }
}

ne_mqtt_out *ne_mqtt_session_out(ne_mqtt_session *s, uint32_t k)
{
    NE_ASSERT(k < s->out_count && s->out != NULL);
    return out_at(s, k);
}

/* Drops freed entries at the head, so that the ring's oldest is live. */
static void out_compact_head(ne_mqtt *m, ne_mqtt_session *s)
{
    if (s->out_count == 0) {
        return;
    }
    ne_mqtt_out *ring = s->out;
    uint16_t head = s->out_head;
    uint16_t count = s->out_count;
    while (count > 0 && ring[head].state == NE_MQTT_OUT_FREE) {
        head = (uint16_t)((head + 1) % NE_MQTT_MAX_INFLIGHT);
        count--;
    }
    s->out_head = head;
    s->out_count = count;
    out_table_release(m, s);
}

/* Closes the holes freed entries left inside the ring, keeping order. */
static void out_squeeze(ne_mqtt_session *s)
{
    uint32_t w = 0;
    for (uint32_t k = 0; k < s->out_count; k++) {
        ne_mqtt_out *e = out_at(s, k);
        if (e->state == NE_MQTT_OUT_FREE) {
            continue;
        }
        if (w != k) {
            *out_at(s, w) = *e;
            e->state = NE_MQTT_OUT_FREE;
            e->msg = NULL;
        }
        w++;
    }
    s->out_count = (uint16_t)w;
}

static ne_mqtt_out *out_push(ne_mqtt *m, ne_mqtt_session *s)
{
    if (s->out == NULL) {
        ne_mqtt_out_table *t = ne_pool_alloc_uninit(&m->out_table_pool);
        if (t == NULL) {
            return NULL;
        }
        s->out = t->e;
        s->out_head = 0;
        s->warned_full = false;
        NE_ASSERT(s->out_count == 0);
    }
    if (s->out_count == NE_MQTT_MAX_INFLIGHT) {
        out_squeeze(s);
        if (s->out_count == NE_MQTT_MAX_INFLIGHT) {
            return NULL;
        }
    }
    ne_mqtt_out *e = out_at(s, s->out_count++);
    memset(e, 0, sizeof(*e));
    return e;
}

static void out_free(ne_mqtt *m, ne_mqtt_session *s, ne_mqtt_out *e)
{
    NE_ASSERT(e->state != NE_MQTT_OUT_FREE && e->msg != NULL);
    ne_mqtt_msg_release(&m->store, e->msg);
    e->msg = NULL;
    e->state = NE_MQTT_OUT_FREE;
    s->warned_full = false;
    ne_mqtt_dirty(m, s);
}

static ne_mqtt_out *out_find(ne_mqtt_session *s, uint16_t id, uint8_t state)
{
    for (uint32_t k = 0; k < s->out_count; k++) {
        ne_mqtt_out *e = out_at(s, k);
        if (e->state == state && e->packet_id == id) {
            return e;
        }
    }
    return NULL;
}

static bool id_in_use(ne_mqtt_session *s, uint16_t id)
{
    for (uint32_t k = 0; k < s->out_count; k++) {
        const ne_mqtt_out *e = out_at(s, k);
        if ((e->state == NE_MQTT_OUT_SENT || e->state == NE_MQTT_OUT_RELEASED) &&
            e->packet_id == id) {
            return true;
        }
    }
    return false;
}

/* A packet id no message in flight uses (M3-16); one always exists: there
 * are fewer messages in flight than ids. */
static uint16_t next_packet_id(ne_mqtt_session *s)
{
    for (uint32_t tries = 0; tries <= NE_MQTT_MAX_INFLIGHT + 1u; tries++) {
        uint16_t id = s->next_packet_id++;
        if (s->next_packet_id == 0) {
            s->next_packet_id = 1;
        }
        if (id != 0 && !id_in_use(s, id)) {
            return id;
        }
    }
    NE_ASSERT(false);
    return 1;
}

/* ---- Matching the session's subscriptions ------------------------------------------- */

static bool sub_matches(const ne_sub *sub, const char *subject, size_t len)
{
    if (sub == NULL) {
        return false;
    }
    const char *f = sub->text;
    /* Wildcards at the first level never match '$' topics (M3-46). */
    if (len > 0 && subject[0] == '$' && (f[0] == '*' || f[0] == '>')) {
        return false;
    }
    return ne_subject_matches(f, sub->entry.subject_len, subject, len);
}

static bool entry_matches(const ne_mqtt_sub *e, const char *subject, size_t len)
{
    return sub_matches(e->sub, subject, len) || sub_matches(e->levelup, subject, len);
}

static bool entry_shared(const ne_mqtt_sub *e)
{
    return e->sub->entry.queue_len > 0;
}

/* The Subscription Identifiers of the session's non-shared subscriptions
 * matching a subject (M5-35: one copy carries every one). */
static uint32_t sub_ids_for(const ne_mqtt_session *s, const char *subject, size_t len,
                            uint32_t *ids)
{
    uint32_t n = 0;
    const ne_mqtt_sub *subs = s->subs;
    uint32_t slots = ne_mqtt_sub_slots(s);
    for (uint32_t i = 0; i < slots; i++) {
        const ne_mqtt_sub *e = &subs[i];
        if (e->sub != NULL && e->sub_id != 0 && !entry_shared(e) &&
            entry_matches(e, subject, len)) {
            ids[n++] = e->sub_id;
        }
    }
    return n;
}

/* ---- Writing a PUBLISH --------------------------------------------------------------- */

/* What a PUBLISH is made of: a kept message, or the routed one. */
typedef struct source {
    ne_mqtt_msg *stored;
    const ne_mqtt_view *view;
    const ne_msg *msg;
} source;

typedef enum send_result {
    SEND_OK,
    SEND_DROPPED, /* not for this client (too large, expired): as if delivered */
    SEND_FAILED,  /* the connection could not take it (it is closed) */
} send_result;

/* The Topic Alias for a topic toward this client: an existing one (then
 * the topic is left out), a new one while the client's table has room
 * (the topic goes with it), or none. */
static uint16_t alias_out(ne_mqtt *m, ne_mqtt_client *c, ne_mqtt_bytes topic, bool *known)
{
    *known = false;
    uint32_t max = NE_MIN((uint32_t)c->alias_max_out, (uint32_t)NE_MQTT_TOPIC_ALIAS_MAX);
    if (max == 0 || topic.len > NE_MQTT_ALIAS_TOPIC_BYTES || ne_mqtt_alias_table_of(m, c) == NULL) {
        return 0;
    }
    for (uint32_t i = 0; i < max; i++) {
        const ne_mqtt_alias *a = &c->aliases->out[i];
        if (a->len == topic.len && memcmp(a->topic, topic.ptr, topic.len) == 0) {
            *known = true;
            return (uint16_t)(i + 1);
        }
    }
    if (c->alias_next_out >= max) {
        return 0;
    }
    ne_mqtt_alias *a = &c->aliases->out[c->alias_next_out++];
    memcpy(a->topic, topic.ptr, topic.len);
    a->len = (uint16_t)topic.len;
    return c->alias_next_out;
}

/* Queues head then the payload's bytes: in one piece when they fit a
 * chunk, else through the connection layer's message append. */
static bool write_live(ne_conn *conn, const uint8_t *head, size_t head_len, const ne_msg *msg)
{
    ne_mqtt_payload p = ne_mqtt_msg_payload(msg);
    if (p.chain == NULL && head_len + p.len <= NE_CHUNK_BYTES) {
        uint8_t *dst = ne_conn_reserve(conn, head_len + p.len);
        if (dst == NULL) {
            return false;
        }
        memcpy(dst, head, head_len);
        memcpy(dst + head_len, p.bytes, p.len);
        ne_conn_commit(conn, head_len + p.len);
        return true;
    }
    return ne_conn_send_message(conn, head, head_len, p.bytes, (ne_chunk *)(uintptr_t)p.chain,
                                p.offset, p.len) == NE_OK;
}

static bool write_stored(ne_conn *conn, const uint8_t *head, size_t head_len,
                         const ne_mqtt_msg *msg)
{
    uint32_t from = (uint32_t)msg->topic_len + msg->props_len;
    uint32_t end = ne_mqtt_msg_bytes(msg);
    const ne_mqtt_block *cursor = NULL;
    uint32_t pos = from;
    const uint8_t *run;
    uint32_t n;
    if (head_len + msg->payload_len <= NE_CHUNK_BYTES) {
        uint8_t *dst = ne_conn_reserve(conn, head_len + msg->payload_len);
        if (dst == NULL) {
            return false;
        }
        memcpy(dst, head, head_len);
        uint8_t *w = dst + head_len;
        while ((n = ne_mqtt_msg_next_run(msg, &cursor, &pos, end, &run)) > 0) {
            memcpy(w, run, n);
            w += n;
        }
        ne_conn_commit(conn, head_len + msg->payload_len);
        return true;
    }
    /* A connection that cannot take a piece is closed: no half packet is
     * ever followed by another. */
    if (ne_conn_send(conn, head, head_len) != NE_OK) {
        return false;
    }
    while ((n = ne_mqtt_msg_next_run(msg, &cursor, &pos, end, &run)) > 0) {
        if (ne_conn_send(conn, run, n) != NE_OK) {
            return false;
        }
    }
    return true;
}

static send_result send_publish(ne_mqtt *m, ne_mqtt_session *s, const source *from, uint8_t qos,
                                bool retain, bool dup, uint16_t packet_id, bool fixed_id,
                                uint32_t sub_id)
{
    ne_mqtt_client *c = s->client;
    NE_ASSERT(c != NULL);
    ne_conn *conn = c->conn;
    if (conn->closing) {
        return SEND_FAILED;
    }
    uint8_t topic_buf[NE_MQTT_MAX_TOPIC_BYTES];
    uint8_t props_buf[NE_MQTT_MAX_PROPS_BYTES];
    char subject_buf[NE_MQTT_SUBJECT_BYTES];
    ne_mqtt_bytes topic, props;
    ne_slice subject = {"", 0};
    bool has_expiry;
    uint64_t expires_ms;
    uint32_t payload_len;
    if (from->stored != NULL) {
        const ne_mqtt_msg *sm = from->stored;
        ne_mqtt_msg_copy(sm, 0, topic_buf, sm->topic_len);
        ne_mqtt_msg_copy(sm, sm->topic_len, props_buf, sm->props_len);
        topic = (ne_mqtt_bytes){topic_buf, sm->topic_len};
        props = (ne_mqtt_bytes){props_buf, sm->props_len};
        has_expiry = sm->has_expiry;
        expires_ms = sm->expires_ms;
        payload_len = sm->payload_len;
    } else {
        topic = from->view->topic;
        props = from->view->props;
        has_expiry = from->view->has_expiry;
        expires_ms = from->view->expires_ms;
        subject = from->msg->subject;
        payload_len = from->msg->total_len - from->msg->hdr_len;
    }
    uint64_t now = now_of(m);
    if (has_expiry && expires_ms <= now) {
        m->stats.dropped_expired++; /* M5-40 */
        return SEND_DROPPED;
    }
    uint8_t first = (uint8_t)((NE_MQTT_PUBLISH << 4) | (qos << 1) | (dup ? NE_MQTT_FLAG_DUP : 0) |
                              (retain ? NE_MQTT_FLAG_RETAIN : 0));
    uint8_t head[NE_MQTT_HEAD_BYTES];
    size_t head_len;
    if (c->version == NE_MQTT_V5) {
        uint32_t ids[NE_MQTT_MAX_SUBS_PER_SESSION];
        uint32_t id_count = 0;
        if (fixed_id) {
            ids[0] = sub_id;
            id_count = sub_id != 0 ? 1u : 0u;
        } else {
            if (subject.len == 0) {
                size_t n = 0;
                if (ne_mqtt_topic_to_subject(topic.ptr, topic.len, false, subject_buf,
                                             sizeof(subject_buf), &n) == NE_OK) {
                    subject = (ne_slice){subject_buf, (uint32_t)n};
                }
            }
            id_count = sub_ids_for(s, subject.ptr, subject.len, ids);
        }
        ne_mqtt_props f;
        f.present = 0;
        if (has_expiry) {
            /* What is left of it (M5-40), whole seconds, never 0 while alive. */
            uint64_t left = (expires_ms - now) / 1000u;
            f.present |= NE_MQTT_HAS(NE_MQTT_PROP_MESSAGE_EXPIRY);
            f.message_expiry = (uint32_t)(left > 0 ? left : 1);
        }
        bool known = false;
        uint16_t alias = alias_out(m, c, topic, &known);
        if (alias != 0) {
            f.present |= NE_MQTT_HAS(NE_MQTT_PROP_TOPIC_ALIAS);
            f.topic_alias = alias;
        }
        ne_mqtt_props_out po = {&f, props, ids, id_count};
        ne_mqtt_bytes t = known ? (ne_mqtt_bytes){topic.ptr, 0} : topic;
        head_len = ne_mqtt_encode_publish_head(head, sizeof(head), NE_MQTT_V5, first, t, packet_id,
                                               &po, payload_len);
    } else {
        head_len = ne_mqtt_encode_publish_head(head, sizeof(head), NE_MQTT_V311, first, topic,
                                               packet_id, NULL, payload_len);
    }
    if (head_len == 0) {
        m->stats.not_routable++;
        return SEND_DROPPED;
    }
    if (c->maximum_packet_size != 0 && head_len + payload_len > c->maximum_packet_size) {
        m->stats.dropped_too_large++; /* M5-27: as if delivered */
        return SEND_DROPPED;
    }
    bool ok = from->stored != NULL ? write_stored(conn, head, head_len, from->stored)
                                   : write_live(conn, head, head_len, from->msg);
    if (!ok) {
        return SEND_FAILED;
    }
    conn->out_msgs++;
    conn->out_bytes += payload_len;
    return SEND_OK;
}

/* ---- QoS 1 and 2 toward the client -------------------------------------------------- */

/* The QoS 1/2 messages that may be out unacknowledged: the client's
 * Receive Maximum (M5-25) and max_ack_pending (MQ-11), whichever is less. */
static uint32_t inflight_limit(const ne_mqtt *m, const ne_mqtt_client *c)
{
    uint32_t pending = m->opts->mqtt.max_ack_pending;
    if (pending == 0) {
        pending = NE_MQTT_DEFAULT_MAX_ACK_PENDING;
    }
    return NE_MIN((uint32_t)c->receive_maximum, pending);
}

static send_result send_entry(ne_mqtt *m, ne_mqtt_session *s, ne_mqtt_out *e, bool dup)
{
    source from = {e->msg, NULL, NULL};
    send_result r =
        send_publish(m, s, &from, e->qos, e->retain, dup, e->packet_id, e->fixed_id, e->sub_id);
    e->sent_ms = now_of(m);
    return r;
}

/* Exactly once toward a persistent session's client (M3-39): a QoS 2
 * message's packet id, and its release, are on the device before the
 * PUBLISH or PUBREL that the client keys its own state on goes out, so
 * that after a power cut the same id is sent again (DUP), never a new one,
 * and a released id is not sent again as a PUBLISH. When the device fails
 * the client is closed and nothing is sent. */
static bool durable(ne_mqtt *m, ne_mqtt_session *s)
{
    if (!s->persistent || ne_mqtt_persist_flush(m)) {
        return true;
    }
    ne_mqtt_close_with(s->client->conn, NE_MQTT_RC_UNSPECIFIED, NE_CLOSE_WRITE_ERROR);
    return false;
}

void ne_mqtt_session_pump(ne_mqtt *m, ne_mqtt_session *s)
{
    ne_mqtt_client *c = s->client;
    if (c == NULL || c->conn->closing || s->ending) {
        return;
    }
    uint32_t limit = inflight_limit(m, c);
    /* Nothing below gives the ring back (only compacting does): read once. */
    ne_mqtt_out *ring = s->out;
    for (uint32_t k = 0; k < s->out_count && c->sent_unacked < limit; k++) {
        ne_mqtt_out *e = ring_at(ring, s->out_head, k);
        if (e->state != NE_MQTT_OUT_QUEUED) {
            continue;
        }
        e->packet_id = next_packet_id(s);
        e->state = NE_MQTT_OUT_SENT;
        ne_mqtt_dirty(m, s);
        if (e->qos == 2 && !durable(m, s)) {
            e->state = NE_MQTT_OUT_QUEUED;
            break;
        }
        send_result r = send_entry(m, s, e, false);
        if (r == SEND_DROPPED) {
            out_free(m, s, e);
            continue;
        }
        c->sent_unacked++;
        if (r == SEND_FAILED) {
            break; /* closed: it goes again, with DUP, when the client is back */
        }
    }
    out_compact_head(m, s);
}

/* Queues a QoS 1/2 message for the session (and sends what the client
 * may take); false when the session has no room (counted). */
static bool queue_message(ne_mqtt *m, ne_mqtt_session *s, ne_mqtt_msg *msg, uint8_t qos,
                          bool retain, bool fixed_id, uint32_t sub_id, uint8_t shared)
{
    ne_mqtt_out *e = out_push(m, s);
    if (e == NULL) {
        m->stats.dropped_inflight++;
        if (!s->warned_full && s->out == NULL) {
            s->warned_full = true;
            ne_conn_logf(s->conn, NE_LOG_WARN,
                         "MQTT session \"%.*s\": QoS 1/2 message not queued, every outbound ring "
                         "is taken (NE_MQTT_OUT_TABLES %u)",
                         (int)s->client_id_len, s->client_id, (unsigned)NE_MQTT_OUT_TABLES);
        } else if (!s->warned_full) {
            s->warned_full = true;
            ne_conn_logf(s->conn, NE_LOG_WARN,
                         "MQTT session \"%.*s\" holds %u QoS 1/2 messages: not queued; raise "
                         "NE_MQTT_MAX_INFLIGHT",
                         (int)s->client_id_len, s->client_id, (unsigned)NE_MQTT_MAX_INFLIGHT);
        }
        return false;
    }
    ne_mqtt_msg_retain(msg);
    e->msg = msg;
    e->state = NE_MQTT_OUT_QUEUED;
    e->qos = qos;
    e->retain = retain;
    e->fixed_id = fixed_id;
    e->sub_id = sub_id;
    e->shared = shared;
    ne_mqtt_dirty(m, s);
    if (m->txn.active) {
        s->pump_due = true; /* sent once the publish is committed */
        m->txn.pumps_due = true;
    } else {
        ne_mqtt_session_pump(m, s);
    }
    return true;
}

void ne_mqtt_session_txn_end(ne_mqtt *m)
{
    ne_mqtt_txn *t = &m->txn;
    bool due = t->pumps_due;
    memset(t, 0, sizeof(*t));
    if (!due) {
        return;
    }
    uint32_t guard = 0;
    for (ne_mqtt_session *s = m->sessions; s != NULL && guard++ < NE_MQTT_MAX_SESSIONS;
         s = s->next) {
        if (s->pump_due) {
            s->pump_due = false;
            ne_mqtt_session_pump(m, s);
        }
    }
}

static void release_and_pump(ne_mqtt *m, ne_mqtt_session *s, ne_mqtt_out *e)
{
    out_free(m, s, e);
    if (s->client != NULL && s->client->sent_unacked > 0) {
        s->client->sent_unacked--;
    }
    out_compact_head(m, s);
    ne_mqtt_session_pump(m, s);
}

void ne_mqtt_session_puback(ne_mqtt *m, ne_mqtt_session *s, uint16_t id)
{
    ne_mqtt_out *e = out_find(s, id, NE_MQTT_OUT_SENT);
    if (e != NULL && e->qos == 1) {
        release_and_pump(m, s, e);
    }
}

static void send_pubrel(ne_mqtt_session *s, uint16_t id, uint8_t reason)
{
    uint8_t pkt[8];
    ne_mqtt_client *c = s->client;
    size_t n = ne_mqtt_encode_ack(pkt, sizeof(pkt), c->version, NE_MQTT_PUBREL, id,
                                  c->version == NE_MQTT_V5 ? reason : 0, NULL);
    NE_ASSERT(n > 0);
    (void)ne_mqtt_send(c->conn, pkt, n);
}

void ne_mqtt_session_pubrec(ne_mqtt *m, ne_mqtt_session *s, uint16_t id, uint8_t reason)
{
    ne_mqtt_out *e = out_find(s, id, NE_MQTT_OUT_SENT);
    if (e == NULL || e->qos != 2) {
        /* Not one of ours (any more): the client may close its flow. */
        send_pubrel(s, id, NE_MQTT_RC_PACKET_ID_NOT_FOUND);
        return;
    }
    if (reason >= 0x80) {
        release_and_pump(m, s, e); /* refused: no PUBREL, the id is free */
        return;
    }
    e->state = NE_MQTT_OUT_RELEASED;
    ne_mqtt_dirty(m, s);
    if (!durable(m, s)) {
        return;
    }
    send_pubrel(s, id, 0);
}

void ne_mqtt_session_pubcomp(ne_mqtt *m, ne_mqtt_session *s, uint16_t id)
{
    ne_mqtt_out *e = out_find(s, id, NE_MQTT_OUT_RELEASED);
    if (e != NULL) {
        release_and_pump(m, s, e);
    }
}

void ne_mqtt_session_resume(ne_mqtt *m, ne_mqtt_session *s)
{
    ne_mqtt_client *c = s->client;
    NE_ASSERT(c != NULL);
    c->sent_unacked = 0;
    /* In their order (M3-40): PUBLISH again with DUP, or PUBREL. */
    for (uint32_t k = 0; k < s->out_count && !c->conn->closing; k++) {
        ne_mqtt_out *e = out_at(s, k);
        if (e->state == NE_MQTT_OUT_SENT) {
            c->sent_unacked++;
            if (send_entry(m, s, e, true) == SEND_DROPPED) {
                out_free(m, s, e);
                c->sent_unacked--;
            }
        } else if (e->state == NE_MQTT_OUT_RELEASED) {
            c->sent_unacked++;
            send_pubrel(s, e->packet_id, 0);
        }
    }
    out_compact_head(m, s);
    ne_mqtt_session_pump(m, s);
}

void ne_mqtt_session_redeliver(ne_mqtt *m, ne_mqtt_session *s, uint64_t now_ms)
{
    uint32_t wait = m->opts->mqtt.ack_wait_ms;
    if (wait == 0) {
        wait = NE_MQTT_DEFAULT_ACK_WAIT_MS;
    }
    ne_mqtt_client *c = s->client;
    if (c == NULL || c->version == NE_MQTT_V5) {
        return; /* 5.0 forbids sending again while connected (M3-40) */
    }
    for (uint32_t k = 0; k < s->out_count && !c->conn->closing; k++) {
        ne_mqtt_out *e = out_at(s, k);
        if (e->state == NE_MQTT_OUT_SENT && now_ms - e->sent_ms >= wait) {
            (void)send_entry(m, s, e, true);
        }
    }
}

/* ---- Delivery --------------------------------------------------------------------------- */

/* One message for the session: written now at QoS 0 (when its client is
 * there), queued at QoS 1/2. */
static bool offer(ne_mqtt *m, ne_mqtt_session *s, const source *from, uint8_t qos, bool retain,
                  bool fixed_id, uint32_t sub_id, uint8_t shared)
{
    if (qos == 0) {
        if (s->client != NULL && !s->client->conn->closing) {
            (void)send_publish(m, s, from, 0, retain, false, 0, fixed_id, sub_id);
        }
        return true;
    }
    ne_mqtt_msg *stored = from->stored;
    if (stored == NULL) {
        stored = ne_mqtt_view_store(m, (ne_mqtt_view *)(uintptr_t)from->view, from->msg);
        if (stored == NULL) {
            return false;
        }
    }
    return queue_message(m, s, stored, qos, retain, fixed_id, sub_id, shared);
}

static ne_mqtt_sub *entry_of(ne_mqtt_session *s, const ne_sub *sub)
{
    uint64_t i = 0;
    const char *sid = ne_sub_sid(sub);
    size_t n = 0;
    while (n < sub->sid_len && sid[n] >= '0' && sid[n] <= '9') {
        n++;
    }
    if (s->subs == NULL || !ne_parse_u64(sid, n, NE_MQTT_MAX_SUBS_PER_SESSION - 1, &i)) {
        return NULL;
    }
    ne_mqtt_sub *e = &s->subs[i];
    return e->sub == sub || e->levelup == sub ? e : NULL;
}

/* The router's deliver op for a session's subscriptions. A message
 * matching several of its (non-shared) subscriptions goes once, at the
 * highest QoS granted among them (M3-49); a shared subscription's copy
 * is its own (M5-36). */
static bool session_deliver(ne_conn *conn, ne_sub *sub, ne_msg *msg, uint32_t *payload_bytes)
{
    ne_mqtt_session *s = session_of(conn);
    ne_mqtt *m = ne_mqtt_of(conn);
    if (s == NULL || s->ending) {
        return false;
    }
    ne_mqtt_view *v = ne_mqtt_view_of(m, msg);
    ne_mqtt_sub *e = entry_of(s, sub);
    if (!v->usable || e == NULL) {
        return false;
    }
    bool self = v->publisher == s;
    uint8_t granted = 0;
    bool rap = false;
    bool fixed_id = false;
    uint32_t sub_id = 0;
    if (entry_shared(e)) {
        if (!entry_matches(e, msg->subject.ptr, msg->subject.len)) {
            return false; /* a '$' topic for a wildcard filter */
        }
        granted = e->qos;
        rap = e->retain_as_published;
        fixed_id = true;
        sub_id = e->sub_id;
    } else {
        if (s->delivered_seq == msg->seq) {
            return false;
        }
        bool any = false;
        const ne_mqtt_sub *subs = s->subs;
        uint32_t slots = ne_mqtt_sub_slots(s);
        for (uint32_t i = 0; i < slots; i++) {
            const ne_mqtt_sub *x = &subs[i];
            if (x->sub == NULL || entry_shared(x) || (x->no_local && self) ||
                !entry_matches(x, msg->subject.ptr, msg->subject.len)) {
                continue;
            }
            any = true;
            granted = NE_MAX(granted, x->qos);
            rap = rap || x->retain_as_published;
        }
        if (!any) {
            return false;
        }
        s->delivered_seq = msg->seq;
    }
    uint8_t qos = NE_MIN(v->qos, granted);
    /* Live messages go with RETAIN only for Retain As Published (M5-33);
     * 3.1.1 clients never see it on live traffic (MQ-12b). */
    bool retain = v->retain && rap && s->version == NE_MQTT_V5;
    source from = {NULL, v, msg};
    uint8_t shared = entry_shared(e) ? (uint8_t)(e - s->subs + 1) : 0;
    if (!offer(m, s, &from, qos, retain, fixed_id, sub_id, shared)) {
        return false;
    }
    *payload_bytes = msg->total_len - msg->hdr_len;
    return true;
}

/* ---- Subscriptions ------------------------------------------------------------------------ */

typedef struct filter_parts {
    ne_mqtt_bytes filter; /* without "$share/<group>/" */
    ne_slice group;
    char subject[NE_MQTT_SUBJECT_BYTES];
    size_t subject_len;
} filter_parts;

/* A filter's group and subject; false when it cannot be one. */
static bool filter_split(ne_mqtt_bytes filter, filter_parts *p)
{
    const uint8_t *g = NULL, *rest = NULL;
    size_t glen = 0, rlen = 0;
    int shared = ne_mqtt_shared_split(filter.ptr, filter.len, &g, &glen, &rest, &rlen);
    if (shared < 0) {
        return false;
    }
    p->filter = shared ? (ne_mqtt_bytes){rest, (uint32_t)rlen} : filter;
    p->group = shared ? (ne_slice){(const char *)g, (uint32_t)glen} : (ne_slice){"", 0};
    return ne_mqtt_topic_to_subject(p->filter.ptr, p->filter.len, true, p->subject,
                                    sizeof(p->subject), &p->subject_len) == NE_OK;
}

/* A subject ending in ".>" after at least one token: "a/#" also matches
 * "a" (MQ-15), a second subscription on the parent. */
static bool has_parent(const filter_parts *p)
{
    size_t n = p->subject_len;
    return n >= 3 && p->subject[n - 2] == '.' && p->subject[n - 1] == '>';
}

static ne_mqtt_sub *entry_find(ne_mqtt_session *s, const filter_parts *p)
{
    for (uint32_t i = 0; i < ne_mqtt_sub_slots(s); i++) {
        ne_mqtt_sub *e = &s->subs[i];
        if (e->sub != NULL && e->sub->entry.subject_len == p->subject_len &&
            e->sub->entry.queue_len == p->group.len &&
            memcmp(e->sub->text, p->subject, p->subject_len) == 0 &&
            (p->group.len == 0 || memcmp(e->sub->entry.queue, p->group.ptr, p->group.len) == 0)) {
            return e;
        }
    }
    return NULL;
}

static int entry_subscribe(ne_mqtt *m, ne_mqtt_session *s, uint32_t i, const filter_parts *p,
                           bool withhold);

/* The filter table goes back to the pool once no filter is in it. */
static void sub_table_release(ne_mqtt *m, ne_mqtt_session *s)
{
    if (s->subs != NULL && s->sub_count == 0) {
        ne_pool_free(&m->sub_table_pool, s->subs);
        s->subs = NULL;
    }
}

/* A filter table for the session unless it has one; false when the pool
 * is empty (logged with the knob's name). */
static bool sub_table_take(ne_mqtt *m, ne_mqtt_session *s)
{
    if (s->subs != NULL) {
        return true;
    }
    ne_mqtt_sub_table *t = ne_pool_alloc(&m->sub_table_pool);
    if (t == NULL) {
        ne_conn_logf(s->conn, NE_LOG_WARN,
                     "MQTT session \"%.*s\" refused a filter: every filter table is taken "
                     "(NE_MQTT_SUB_TABLES %u)",
                     (int)s->client_id_len, s->client_id, (unsigned)NE_MQTT_SUB_TABLES);
        return false;
    }
    s->subs = t->e;
    return true;
}

static void entry_remove(ne_mqtt *m, ne_mqtt_session *s, ne_mqtt_sub *e)
{
    if (e->levelup != NULL) {
        ne_router_unsubscribe(m->router, e->levelup);
    }
    ne_router_unsubscribe(m->router, e->sub);
    memset(e, 0, sizeof(*e));
    s->sub_count--;
    sub_table_release(m, s);
}

/* The router's subscriptions of a new filter: the filter, and for one
 * ending in ".>" with a parent level, the parent (MQ-15, "a/#" matches
 * "a"); the session's filter table is taken for its first one.
 * NE_OK, NE_ERR_NOMEM (no filter table) or the router's error, nothing
 * left behind. */
static int entry_add(ne_mqtt *m, ne_mqtt_session *s, uint32_t i, const filter_parts *p,
                     bool withhold)
{
    if (!sub_table_take(m, s)) {
        return NE_ERR_NOMEM;
    }
    int rc = entry_subscribe(m, s, i, p, withhold);
    if (rc != NE_OK) {
        sub_table_release(m, s);
    }
    return rc;
}

static int entry_subscribe(ne_mqtt *m, ne_mqtt_session *s, uint32_t i, const filter_parts *p,
                           bool withhold)
{
    ne_mqtt_sub *e = &s->subs[i];
    char sid[24];
    size_t sid_len = ne_fmt(sid, sizeof(sid), "%u", (unsigned)i);
    ne_sub_spec spec = {{p->subject, (uint32_t)p->subject_len},
                        p->group,
                        {sid, (uint32_t)sid_len},
                        false,
                        withhold,
                        NULL,
                        0};
    int rc = ne_router_subscribe(m->router, s->conn, &spec, &e->sub);
    if (rc != NE_OK) {
        e->sub = NULL;
        return rc;
    }
    size_t n = p->subject_len;
    if (has_parent(p)) {
        sid_len = ne_fmt(sid, sizeof(sid), "%u fwc", (unsigned)i);
        spec.subject.len = (uint32_t)(n - 2);
        spec.sid.len = (uint32_t)sid_len;
        rc = ne_router_subscribe(m->router, s->conn, &spec, &e->levelup);
        if (rc != NE_OK) {
            ne_router_unsubscribe(m->router, e->sub);
            e->sub = NULL;
            e->levelup = NULL;
            return rc;
        }
    }
    s->sub_count++;
    return NE_OK;
}

static bool reserved_filter(const filter_parts *p)
{
    static const char prefix[] = "$MQTT.sub.";
    return p->subject_len >= sizeof(prefix) - 1 &&
           memcmp(p->subject, prefix, sizeof(prefix) - 1) == 0; /* MQ-18 */
}

uint8_t ne_mqtt_session_subscribe(ne_mqtt *m, ne_mqtt_session *s, ne_mqtt_bytes filter,
                                  const ne_mqtt_sub_options *opts, uint32_t sub_id, bool *replay,
                                  ne_mqtt_sub **entry)
{
    bool v5 = s->version == NE_MQTT_V5;
    *replay = false;
    *entry = NULL;
    filter_parts p;
    if (!filter_split(filter, &p) || reserved_filter(&p)) {
        return v5 ? NE_MQTT_RC_TOPIC_FILTER_INVALID : NE_MQTT_RC_UNSPECIFIED;
    }
    const ne_server_options *o = m->opts;
    const ne_permissions *perms = ne_router_perms(s->conn);
    /* Both subscriptions of "a/#" ("a.>" and "a") must be allowed, as in
     * nats-server: the parent's messages would otherwise reach a client
     * not allowed them. */
    size_t parent = has_parent(&p) ? p.subject_len - 2 : 0;
    if (perms != NULL &&
        (!ne_perm_can_subscribe(perms, o->perm_subjects, p.subject, p.subject_len, p.group.ptr,
                                p.group.len) ||
         (parent > 0 && !ne_perm_can_subscribe(perms, o->perm_subjects, p.subject, parent,
                                               p.group.ptr, p.group.len)))) {
        m->router->stats.perm_violations++;
        ne_conn_logf(s->conn, NE_LOG_ERROR,
                     "Subscription Violation - User \"%s\", Subject \"%.*s\"",
                     ne_authn_user_name(o, s->conn->user_index), (int)p.subject_len, p.subject);
        return v5 ? NE_MQTT_RC_NOT_AUTHORIZED : NE_MQTT_RC_UNSPECIFIED;
    }
    uint8_t granted = NE_MIN(opts->qos, (uint8_t)2);
    bool shared = p.group.len > 0;
    ne_mqtt_sub *e = entry_find(s, &p);
    bool is_new = e == NULL;
    if (is_new) {
        uint32_t i = 0;
        while (i < ne_mqtt_sub_slots(s) && s->subs[i].sub != NULL) {
            i++;
        }
        if (i == NE_MQTT_MAX_SUBS_PER_SESSION) {
            ne_conn_logf(
                s->conn, NE_LOG_WARN,
                "MQTT session \"%.*s\" holds %u filters: raise NE_MQTT_MAX_SUBS_PER_SESSION",
                (int)s->client_id_len, s->client_id, (unsigned)NE_MQTT_MAX_SUBS_PER_SESSION);
            return v5 ? NE_MQTT_RC_QUOTA_EXCEEDED : NE_MQTT_RC_UNSPECIFIED;
        }
        bool withhold = perms != NULL &&
                        ne_perm_deny_overlaps(perms, o->perm_subjects, p.subject, p.subject_len);
        int rc = entry_add(m, s, i, &p, withhold);
        if (rc != NE_OK) {
            return v5 ? (rc == NE_ERR_NOMEM ? NE_MQTT_RC_QUOTA_EXCEEDED
                                            : NE_MQTT_RC_TOPIC_FILTER_INVALID)
                      : NE_MQTT_RC_UNSPECIFIED;
        }
        e = &s->subs[i];
    }
    /* A filter held already is replaced: options and identifier (M3-47). */
    e->qos = granted;
    e->no_local = opts->no_local;
    e->retain_as_published = opts->retain_as_published;
    e->retain_handling = opts->retain_handling;
    e->sub_id = sub_id;
    ne_mqtt_dirty(m, s);
    /* Retained messages: never for a shared one (M5-37); 3.1.1 always;
     * 5.0 per Retain Handling (M5-34). */
    *replay = !shared && (!v5 || e->retain_handling == 0 || (e->retain_handling == 1 && is_new));
    *entry = e;
    return granted;
}

void ne_mqtt_session_replay(ne_mqtt *m, ne_mqtt_session *s, ne_mqtt_bytes filter,
                            const ne_mqtt_sub *entry)
{
    uint8_t topic[NE_MQTT_MAX_TOPIC_BYTES];
    uint32_t i = 0;
    ne_mqtt_msg *r;
    uint64_t now = now_of(m);
    while ((r = ne_mqtt_retained_next(&m->store, &i)) != NULL) {
        if (r->has_expiry && r->expires_ms <= now) {
            continue;
        }
        ne_mqtt_msg_copy(r, 0, topic, r->topic_len);
        if (!ne_mqtt_topic_matches(filter.ptr, filter.len, topic, r->topic_len)) {
            continue;
        }
        source from = {r, NULL, NULL};
        uint8_t qos = NE_MIN(r->qos, entry->qos);
        (void)offer(m, s, &from, qos, true, true, entry->sub_id, 0); /* MQ-23, M3-55 */
    }
}

uint8_t ne_mqtt_session_unsubscribe(ne_mqtt *m, ne_mqtt_session *s, ne_mqtt_bytes filter)
{
    filter_parts p;
    ne_mqtt_sub *e = filter_split(filter, &p) ? entry_find(s, &p) : NULL;
    if (e == NULL) {
        return NE_MQTT_RC_NO_SUBSCRIPTION_EXISTED;
    }
    entry_remove(m, s, e);
    ne_mqtt_dirty(m, s);
    return NE_MQTT_RC_SUCCESS;
}

/* ---- The session's life ------------------------------------------------------------------- */

ne_mqtt_session *ne_mqtt_session_find(ne_mqtt *m, const uint8_t *id, uint16_t len)
{
    uint32_t guard = 0;
    for (ne_mqtt_session *s = m->sessions; s != NULL && guard++ < NE_MQTT_MAX_SESSIONS;
         s = s->next) {
        if (!s->ending && s->client_id_len == len && memcmp(s->client_id, id, len) == 0) {
            return s;
        }
    }
#if NE_CONN_PARKING
    return ne_mqtt_parked_find(m, id, len);
#else
    return NULL;
#endif
}

/* Off the context's list of sessions. */
static void session_unlink(ne_mqtt *m, ne_mqtt_session *s)
{
    if (s->prev != NULL) {
        s->prev->next = s->next;
    } else {
        m->sessions = s->next;
    }
    if (s->next != NULL) {
        s->next->prev = s->prev;
    }
}

/* Releases everything a session holds and its slot; its internal client
 * is closed (torn down at the end of the turn). Nothing is published and
 * nothing is told to the store. */
void ne_mqtt_session_release(ne_mqtt *m, ne_mqtt_session *s)
{
    s->ending = true;
    if (s->client != NULL) {
        s->client->session = NULL;
        s->client = NULL;
    }
    for (uint32_t i = 0; i < ne_mqtt_sub_slots(s); i++) {
        if (s->subs[i].sub != NULL) {
            entry_remove(m, s, &s->subs[i]);
        }
    }
    for (uint32_t k = 0; k < s->out_count; k++) {
        ne_mqtt_out *e = out_at(s, k);
        if (e->state != NE_MQTT_OUT_FREE) {
            out_free(m, s, e);
        }
    }
    s->out_count = 0;
    out_table_release(m, s);
    NE_ASSERT(s->subs == NULL && s->sub_count == 0);
    s->inbound_count = 0;
    ne_mqtt_session_inbound_release(m, s);
    if (s->will != NULL) {
        ne_mqtt_msg_release(&m->store, s->will);
        s->will = NULL;
    }
    session_unlink(m, s);
    ne_conn *conn = s->conn;
    conn->state = NULL;
    ne_conn_close(conn, NE_CLOSE_CLIENT_CLOSED, NULL);
    if (s->client_id != s->id_inline) {
        ne_pool_free(&m->long_id_pool, s->client_id);
    }
    ne_pool_free(&m->session_pool, s);
}

void ne_mqtt_session_reset(ne_mqtt *m, ne_mqtt_session *s)
{
    NE_ASSERT(s->client == NULL && !s->ending);
    /* The old session ends: its pending will goes (M5-23), as its own. */
    s->ending = true;
    if (s->will_at_ms != 0) {
        ne_mqtt_session_publish_will(m, s);
    }
    for (uint32_t i = 0; i < ne_mqtt_sub_slots(s); i++) {
        if (s->subs[i].sub != NULL) {
            entry_remove(m, s, &s->subs[i]);
        }
    }
    for (uint32_t k = 0; k < s->out_count; k++) {
        ne_mqtt_out *e = out_at(s, k);
        if (e->state != NE_MQTT_OUT_FREE) {
            out_free(m, s, e);
        }
    }
    if (s->will != NULL) {
        ne_mqtt_msg_release(&m->store, s->will);
        s->will = NULL;
    }
    s->out_count = 0;
    out_table_release(m, s);
    s->inbound_count = 0;
    ne_mqtt_session_inbound_release(m, s);
    s->will_at_ms = 0;
    s->next_packet_id = 1;
    s->delivered_seq = 0;
    s->ending = false;
    ne_mqtt_dirty(m, s);
}

void ne_mqtt_session_publish_will(ne_mqtt *m, ne_mqtt_session *s)
{
    ne_mqtt_msg *will = s->will;
    if (will == NULL) {
        return;
    }
    s->will = NULL;
    s->will_at_ms = 0;
    ne_mqtt_dirty(m, s); /* its record no longer holds it */
    m->stats.wills_published++;
    ne_mqtt_publish_stored(m, s->conn, s, will);
    ne_mqtt_msg_release(&m->store, will);
}

/* Another session holding the same shared subscription (group and
 * filter) as s's entry e, a connected one first; NULL when none. */
static ne_mqtt_session *shared_peer(ne_mqtt *m, const ne_mqtt_session *s, const ne_mqtt_sub *e,
                                    ne_mqtt_sub **peer_entry)
{
    filter_parts p;
    memset(&p, 0, sizeof(p));
    memcpy(p.subject, e->sub->text, e->sub->entry.subject_len);
    p.subject_len = e->sub->entry.subject_len;
    p.group = (ne_slice){e->sub->entry.queue, e->sub->entry.queue_len};
    ne_mqtt_session *best = NULL;
    uint32_t guard = 0;
    for (ne_mqtt_session *x = m->sessions; x != NULL && guard++ < NE_MQTT_MAX_SESSIONS;
         x = x->next) {
        ne_mqtt_sub *xe = x == s || x->ending ? NULL : entry_find(x, &p);
        if (xe != NULL && (best == NULL || (best->client == NULL && x->client != NULL))) {
            best = x;
            *peer_entry = xe;
        }
    }
    return best;
}

/* A session ends with messages of shared subscriptions not yet delivered
 * (queued, or a QoS 1 one sent and not acknowledged): each goes to another
 * member of the group, as MQTT 5 asks ([MQTT-4.8.2-5]: SHOULD). */
static void redistribute_shared(ne_mqtt *m, ne_mqtt_session *s)
{
    for (uint32_t k = 0; k < s->out_count; k++) {
        ne_mqtt_out *e = out_at(s, k);
        bool undelivered =
            e->state == NE_MQTT_OUT_QUEUED || (e->state == NE_MQTT_OUT_SENT && e->qos == 1);
        if (e->shared == 0 || !undelivered || s->subs == NULL ||
            s->subs[e->shared - 1].sub == NULL) {
            continue;
        }
        ne_mqtt_sub *pe = NULL;
        ne_mqtt_session *peer = shared_peer(m, s, &s->subs[e->shared - 1], &pe);
        if (peer != NULL) {
            (void)queue_message(m, peer, e->msg, NE_MIN(e->msg->qos, pe->qos), false, true,
                                pe->sub_id, (uint8_t)(pe - peer->subs + 1));
        }
    }
}

void ne_mqtt_session_end(ne_mqtt *m, ne_mqtt_session *s)
{
    if (s->ending) {
        return;
    }
    redistribute_shared(m, s);
    /* A will waiting for its delay goes at the session's end (M5-23). The
     * session is ending first, so that its own will does not reach it. */
    s->ending = true;
    if (s->will_at_ms != 0) {
        ne_mqtt_session_publish_will(m, s);
    }
    ne_mqtt_persist_session_gone(m, s);
    ne_mqtt_session_release(m, s);
}

static ne_mqtt_session *session_make(ne_mqtt *m, ne_conn *conn, const uint8_t *id, uint16_t len,
                                     char *slot);

/* Room for one more session: a free slot beyond those parked connections
 * keep reserved. */
static bool session_room(const ne_mqtt *m)
{
#if NE_CONN_PARKING
    return ne_pool_available(&m->session_pool) > m->parked_sessions;
#else
    return ne_pool_available(&m->session_pool) > 0;
#endif
}

/* The session offline the longest (none ending), or NULL. */
static ne_mqtt_session *oldest_offline(ne_mqtt *m)
{
    ne_mqtt_session *best = NULL;
    uint32_t guard = 0;
    for (ne_mqtt_session *s = m->sessions; s != NULL && guard++ < NE_MQTT_MAX_SESSIONS;
         s = s->next) {
        if (s->client == NULL && !s->ending &&
            (best == NULL || s->offline_since_ms < best->offline_since_ms)) {
            best = s;
        }
    }
    return best;
}

/* Whether a client id of len bytes can be kept: one longer than
 * NE_MQTT_INLINE_CLIENT_ID_BYTES needs a long id slot. */
static bool id_fits(const ne_mqtt *m, uint16_t len)
{
    return len <= NE_MQTT_INLINE_CLIENT_ID_BYTES || ne_pool_available(&m->long_id_pool) > 0;
}

ne_mqtt_session *ne_mqtt_session_new(ne_mqtt *m, const uint8_t *id, uint16_t len,
                                     const ne_conn *client_conn)
{
    NE_ASSERT(len <= NE_MQTT_CLIENT_ID_BYTES);
    if (!id_fits(m, len)) {
        m->stats.sessions_refused++;
        ne_log_warn(m->conns->log,
                    "MQTT client ids of more than %u bytes exhausted (%u): session refused; raise "
                    "NE_MQTT_LONG_CLIENT_IDS",
                    (unsigned)NE_MQTT_INLINE_CLIENT_ID_BYTES, (unsigned)NE_MQTT_LONG_CLIENT_IDS);
        return NULL;
    }
    if (!session_room(m)) {
        ne_mqtt_session *victim = oldest_offline(m);
        if (victim == NULL) {
            m->stats.sessions_refused++;
            ne_log_warn(m->conns->log,
                        "MQTT sessions exhausted (%u connected): raise NE_MQTT_MAX_SESSIONS",
                        (unsigned)NE_MQTT_MAX_SESSIONS);
            return NULL;
        }
        m->stats.sessions_evicted++;
        ne_log_warn(m->conns->log,
                    "MQTT sessions exhausted (%u): session \"%.*s\", offline the longest, ended; "
                    "raise NE_MQTT_MAX_SESSIONS",
                    (unsigned)NE_MQTT_MAX_SESSIONS, (int)victim->client_id_len, victim->client_id);
        ne_mqtt_session_end(m, victim);
    }
    ne_conn *conn = ne_conn_new_internal(m->conns, m->session_kind);
    if (conn == NULL) {
        m->stats.sessions_refused++;
        ne_log_warn(m->conns->log, "Connection headers exhausted: MQTT session refused; raise "
                                   "NE_MAX_INTERNAL_CLIENTS");
        return NULL;
    }
    conn->acc = client_conn->acc;
    conn->perms = client_conn->perms;
    conn->user_index = client_conn->user_index;
    conn->publish_checks = client_conn->publish_checks;
    return session_make(m, conn, id, len, NULL);
}

/* A session on its internal client, first in the list; its id in the
 * long id slot `slot` already holding it (NULL: kept here). */
static ne_mqtt_session *session_make(ne_mqtt *m, ne_conn *conn, const uint8_t *id, uint16_t len,
                                     char *slot)
{
    ne_mqtt_session *s = ne_pool_alloc(&m->session_pool);
    NE_ASSERT(s != NULL);
    conn->state = s;
    s->conn = conn;
    s->next_packet_id = 1;
    s->client_id_len = len;
    if (slot != NULL) {
        s->client_id = slot;
    } else if (len <= NE_MQTT_INLINE_CLIENT_ID_BYTES) {
        s->client_id = s->id_inline;
    } else {
        ne_mqtt_long_id *l = ne_pool_alloc_uninit(&m->long_id_pool);
        NE_ASSERT(l != NULL); /* id_fits said so */
        s->client_id = l->text;
    }
    if (slot == NULL) {
        memcpy(s->client_id, id, len);
        s->client_id[len] = '\0';
    }
    s->next = m->sessions;
    if (m->sessions != NULL) {
        m->sessions->prev = s;
    }
    m->sessions = s;
    return s;
}

ne_mqtt_session *ne_mqtt_session_restore(ne_mqtt *m, const uint8_t *id, uint16_t len,
                                         int user_index)
{
    NE_ASSERT(len > 0 && len <= NE_MQTT_CLIENT_ID_BYTES);
    if (!session_room(m) || !id_fits(m, len) || ne_mqtt_session_find(m, id, len) != NULL) {
        return NULL;
    }
    ne_conn *conn = ne_conn_new_internal(m->conns, m->session_kind);
    if (conn == NULL) {
        return NULL;
    }
    uint8_t account = 0;
    uint16_t perms = NE_PERM_NONE;
    ne_authn_identity(m->opts, user_index, &account, &perms);
    conn->acc = &m->router->accounts[account];
    conn->perms = perms;
    conn->user_index = (int16_t)user_index;
    conn->publish_checks = perms == NE_PERM_NONE ? NE_PUBLISH_CHECK_NEVER : NE_PUBLISH_CHECK_ALWAYS;
    ne_mqtt_session *s = session_make(m, conn, id, len, NULL);
    uint64_t now = now_of(m);
    s->persistent = true;
    s->offline_since_ms = now > 0 ? now : 1; /* its expiry counts from this start */
    return s;
}

bool ne_mqtt_session_restore_sub(ne_mqtt *m, ne_mqtt_session *s, const char *subject,
                                 size_t subject_len, ne_slice group, const ne_mqtt_sub *opts)
{
    filter_parts p;
    if (subject_len == 0 || subject_len > sizeof(p.subject) || opts->qos > 2) {
        return false;
    }
    memset(&p, 0, sizeof(p));
    memcpy(p.subject, subject, subject_len);
    p.subject_len = subject_len;
    p.group = group;
    if (entry_find(s, &p) != NULL) {
        return false;
    }
    uint32_t i = 0;
    while (i < ne_mqtt_sub_slots(s) && s->subs[i].sub != NULL) {
        i++;
    }
    const ne_permissions *perms = ne_router_perms(s->conn);
    bool withhold = perms != NULL &&
                    ne_perm_deny_overlaps(perms, m->opts->perm_subjects, p.subject, p.subject_len);
    if (i == NE_MQTT_MAX_SUBS_PER_SESSION || entry_add(m, s, i, &p, withhold) != NE_OK) {
        return false;
    }
    ne_mqtt_sub *e = &s->subs[i];
    e->qos = opts->qos;
    e->no_local = opts->no_local;
    e->retain_as_published = opts->retain_as_published;
    e->retain_handling = opts->retain_handling;
    e->sub_id = opts->sub_id;
    return true;
}

bool ne_mqtt_session_restore_out(ne_mqtt *m, ne_mqtt_session *s, ne_mqtt_msg *msg,
                                 const ne_mqtt_out *from)
{
    (void)m;
    if (from->state != NE_MQTT_OUT_QUEUED && id_in_use(s, from->packet_id)) {
        return false;
    }
    ne_mqtt_out *e = out_push(m, s);
    if (e == NULL) {
        return false;
    }
    *e = *from;
    ne_mqtt_msg_retain(msg);
    e->msg = msg;
    e->sent_ms = 0;
    if (e->state == NE_MQTT_OUT_QUEUED) {
        e->packet_id = 0;
    }
    return true;
}

#if NE_CONN_PARKING
bool ne_mqtt_session_parkable(const ne_mqtt_session *s)
{
    const ne_conn *sc = s->conn;
    return !s->persistent && !s->ending && !s->dirty && !s->on_disk && s->sub_count == 0 &&
           s->subs == NULL && s->out_count == 0 && s->out == NULL && s->inbound_count == 0 &&
           s->inbound == NULL && s->will_at_ms == 0 && !sc->closing && !sc->dirty &&
           sc->nsubs == 0 && sc->out.bytes == 0;
}

void ne_mqtt_session_park(ne_mqtt *m, ne_mqtt_session *s)
{
    NE_ASSERT(ne_mqtt_session_parkable(s));
    session_unlink(m, s);
    s->conn->state = NULL;
    ne_conn_internal_park(s->conn);
    ne_pool_free(&m->session_pool, s);
    m->parked_sessions++;
}

ne_mqtt_session *ne_mqtt_session_unpark(ne_mqtt *m, const ne_conn *client_conn, const char *id,
                                        uint16_t len, char *slot, ne_mqtt_msg *will,
                                        uint8_t version)
{
    NE_ASSERT(m->parked_sessions > 0);
    m->parked_sessions--;
    ne_conn *conn = ne_conn_internal_unpark(m->conns, m->session_kind);
    conn->acc = client_conn->acc;
    conn->perms = client_conn->perms;
    conn->user_index = client_conn->user_index;
    conn->publish_checks = client_conn->publish_checks;
    ne_mqtt_session *s = session_make(m, conn, (const uint8_t *)id, len, slot);
    s->version = version;
    /* Parked only when it ends with its connection: a clean 3.1.1 session
     * (never expiring while connected), a 5.0 one with expiry 0. */
    s->persistent = false;
    s->expiry_s = version == NE_MQTT_V5 ? 0 : UINT32_MAX;
    s->will = will;
    return s;
}
#endif

void ne_mqtt_session_detach(ne_mqtt *m, ne_mqtt_session *s, bool publish_will)
{
    uint64_t now = now_of(m);
    s->client = NULL;
    s->offline_since_ms = now > 0 ? now : 1;
    if (s->will != NULL) {
        if (!publish_will) {
            ne_mqtt_msg_release(&m->store, s->will); /* DISCONNECT (M5-18) */
            s->will = NULL;
        } else if (s->will_delay_s == 0 || !s->persistent) {
            ne_mqtt_session_publish_will(m, s); /* M3-35 */
        } else {
            s->will_at_ms = now + (uint64_t)s->will_delay_s * 1000u; /* M5-23 */
        }
    }
    if (!s->persistent) {
        ne_mqtt_session_end(m, s);
    } else {
        ne_mqtt_dirty(m, s);
    }
}

/* ---- The session kind's ops ------------------------------------------------------------------ */

static void session_timer(ne_conn *conn, uint64_t now)
{
    ne_mqtt_session *s = session_of(conn);
    if (s == NULL || s->ending) {
        return;
    }
    ne_mqtt *m = ne_mqtt_of(conn);
    if (s->will_at_ms != 0 && now >= s->will_at_ms) {
        ne_mqtt_session_publish_will(m, s);
    }
    if (s->client == NULL && s->expiry_s != UINT32_MAX &&
        now - s->offline_since_ms >= (uint64_t)s->expiry_s * 1000u) {
        ne_mqtt_session_end(m, s); /* M5-19 */
        return;
    }
    if (s->client != NULL) {
        ne_mqtt_session_redeliver(m, s, now);
    }
}

/* A session's internal client closed from outside (shutdown): the session
 * goes without a word to the store, to be found there again. */
static void session_closed(ne_conn *conn)
{
    ne_mqtt_session *s = session_of(conn);
    if (s != NULL) {
        ne_mqtt_session_release(ne_mqtt_of(conn), s);
    }
}

/* Wills are published by the session: its user's permissions apply. */
static bool session_may_publish(ne_conn *conn, ne_msg *msg)
{
    ne_mqtt *m = ne_mqtt_of(conn);
    const ne_permissions *p = ne_router_perms(conn);
    if (p == NULL ||
        ne_perm_can_publish(p, m->opts->perm_subjects, msg->subject.ptr, msg->subject.len)) {
        return true;
    }
    m->router->stats.perm_violations++;
    ne_conn_logf(conn, NE_LOG_ERROR, "Publish Violation - User \"%s\", Subject \"%.*s\"",
                 ne_authn_user_name(m->opts, conn->user_index), (int)msg->subject.len,
                 msg->subject.ptr);
    return false;
}

static void session_describe(const ne_conn *conn, ne_conn_desc *out)
{
    out->kind = "Internal";
    out->type = "mqtt";
    out->counted = false;
}

const ne_conn_ops ne_mqtt_session_ops = {
    .timer = session_timer,
    .closed = session_closed,
    .deliver = session_deliver,
    .may_publish = session_may_publish,
    .describe = session_describe,
};
