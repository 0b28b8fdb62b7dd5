/* MQTT's state on a storage device (ne_mqtt_persist.h): the records'
 * layouts, writing them as the state changes, and reading them back at
 * start-up. */
#include "mqtt/ne_mqtt_persist.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "mqtt/ne_mqtt_codec.h"
#include "mqtt/ne_mqtt_internal.h"
#include "mqtt/ne_mqtt_topic.h"
#include "router/ne_authn.h"

#if NE_MQTT_PERSIST

/* The records' first byte: their layout's version. Version 2 added a
 * message's transaction (its QoS 2 publisher) and a session's last
 * commit; records of version 1 are read as having neither. */
#define REC_FORMAT 2
/* Fixed bytes of the records. */
#define MSG_HEAD_BYTES 16
#define MSG_ORIGIN_BYTES 10 /* the transaction and its publisher's id length */
#define SESSION_HEAD_BYTES_V1 24
#define SESSION_HEAD_BYTES 32
#define SUB_FIXED_BYTES 10
#define OUT_BYTES 18

#define KEY_SESSION 's'
#define KEY_MESSAGE 'm'
#define KEY_RETAINED 'r'

/* ---- Bytes in and out, each bounded by its buffer ---------------------------------------- */

typedef struct wbuf {
    uint8_t *p;
    size_t cap;
    size_t len;
    bool ok; /* false once something did not fit: nothing more is written */
} wbuf;

static void w_bytes(wbuf *w, const void *src, size_t n)
{
    if (!w->ok || n > w->cap - w->len) {
        w->ok = false;
        return;
    }
    if (n > 0) {
        memcpy(w->p + w->len, src, n);
    }
    w->len += n;
}

static void w_u8(wbuf *w, uint8_t v)
{
    w_bytes(w, &v, 1);
}

static void w_u16(wbuf *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    w_bytes(w, b, 2);
}

static void w_u32(wbuf *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    w_bytes(w, b, 4);
}

static void w_u64(wbuf *w, uint64_t v)
{
    w_u32(w, (uint32_t)(v >> 32));
    w_u32(w, (uint32_t)v);
}

typedef struct rbuf {
    const uint8_t *p;
    size_t len;
    size_t at;
    bool ok; /* false once a read went past the end */
} rbuf;

static const uint8_t *r_bytes(rbuf *r, size_t n)
{
    if (!r->ok || n > r->len - r->at) {
        r->ok = false;
        return NULL;
    }
    const uint8_t *at = r->p + r->at;
    r->at += n;
    return at;
}

static uint8_t r_u8(rbuf *r)
{
    const uint8_t *b = r_bytes(r, 1);
    return b != NULL ? b[0] : 0;
}

static uint16_t r_u16(rbuf *r)
{
    const uint8_t *b = r_bytes(r, 2);
    return b != NULL ? (uint16_t)((b[0] << 8) | b[1]) : 0;
}

static uint32_t r_u32(rbuf *r)
{
    const uint8_t *b = r_bytes(r, 4);
    return b != NULL
               ? ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3]
               : 0;
}

static uint64_t r_u64(rbuf *r)
{
    uint64_t hi = r_u32(r);
    return (hi << 32) | r_u32(r);
}

/* ---- Keys ---------------------------------------------------------------------------------- */

static size_t key_msg(uint8_t *key, uint64_t id)
{
    key[0] = KEY_MESSAGE;
    for (int i = 0; i < 8; i++) {
        key[1 + i] = (uint8_t)(id >> (56 - 8 * i));
    }
    return 9;
}

static size_t key_session(uint8_t *key, const ne_mqtt_session *s)
{
    NE_ASSERT((size_t)s->client_id_len + 1 <= NE_STORE_MAX_SUBJECT_BYTES);
    key[0] = KEY_SESSION;
    memcpy(key + 1, s->client_id, s->client_id_len);
    return 1u + s->client_id_len;
}

static size_t key_retained(uint8_t *key, const ne_mqtt_msg *msg)
{
    NE_ASSERT((size_t)msg->topic_len + 1 <= NE_STORE_MAX_SUBJECT_BYTES);
    key[0] = KEY_RETAINED;
    ne_mqtt_msg_copy(msg, 0, key + 1, msg->topic_len);
    return 1u + msg->topic_len;
}

/* ---- Writing ------------------------------------------------------------------------------- */

/* Refusals for room or size leave the state in RAM; any other error is
 * the device failing, after which nothing is acknowledged as durable. */
static bool room_error(int rc)
{
    return rc == NE_ERR_FULL || rc == NE_ERR_TOO_BIG || rc == NE_ERR_INVALID;
}

static void refused(ne_mqtt *m, const char *what, int rc)
{
    ne_mqtt_persist *p = &m->persist;
    p->stats.refused++;
    if (!room_error(rc)) {
        p->failed = true;
    }
    if (!p->warned) {
        p->warned = true;
        ne_log_warn(m->conns->log,
                    "MQTT %s not written to the store (%s): kept in RAM only; raise "
                    "NE_MQTT_PERSIST_KEYS, NE_MQTT_PERSIST_KEY_TEXT_BYTES, "
                    "NE_MQTT_PERSIST_RECORD_BYTES or the device",
                    what, ne_err_name(rc));
    }
}

static bool writable(const ne_mqtt *m)
{
    const ne_mqtt_persist *p = &m->persist;
    return p->on && !p->frozen && !p->loading;
}

static bool put(ne_mqtt *m, const uint8_t *key, size_t key_len, const uint8_t *value,
                size_t value_len, const char *what)
{
    ne_mqtt_persist *p = &m->persist;
    int rc = ne_store_kv_put(&p->kv, key, key_len, value, value_len);
    if (rc != NE_OK) {
        refused(m, what, rc);
        return false;
    }
    p->unsynced = true;
    p->stats.records_written++;
    return true;
}

static void del(ne_mqtt *m, const uint8_t *key, size_t key_len)
{
    ne_mqtt_persist *p = &m->persist;
    int rc = ne_store_kv_delete(&p->kv, key, key_len);
    if (rc == NE_OK) {
        p->unsynced = true;
        p->stats.records_deleted++;
    } else if (rc != NE_ERR_NOT_FOUND) {
        p->failed = p->failed || !room_error(rc);
        ne_log_warn(m->conns->log, "MQTT store: a record could not be removed (%s)",
                    ne_err_name(rc));
    }
}

/* A message's record, written once. The message of a QoS 2 publish not
 * yet committed names its transaction and publisher (ne_mqtt_txn). */
static bool persist_msg(ne_mqtt *m, ne_mqtt_msg *msg)
{
    if (msg->persisted) {
        return true;
    }
    ne_mqtt_persist *p = &m->persist;
    const ne_mqtt_txn *t = &m->txn;
    bool origin = t->active && t->msg == msg;
    size_t origin_bytes = MSG_ORIGIN_BYTES + (origin ? t->publisher->client_id_len : 0u);
    uint32_t bytes = ne_mqtt_msg_bytes(msg);
    if (bytes > sizeof(p->rec) - MSG_HEAD_BYTES - origin_bytes) {
        refused(m, "message", NE_ERR_TOO_BIG);
        return false;
    }
    wbuf w = {p->rec, sizeof(p->rec), 0, true};
    w_u8(&w, REC_FORMAT);
    w_u8(&w, msg->qos);
    w_u8(&w, (uint8_t)((msg->retain ? 1u : 0u) | (msg->has_expiry ? 2u : 0u)));
    w_u8(&w, 0);
    w_u32(&w, msg->expiry_s);
    w_u16(&w, msg->topic_len);
    w_u16(&w, msg->props_len);
    w_u32(&w, msg->payload_len);
    NE_ASSERT(w.ok && w.len == MSG_HEAD_BYTES);
    w_u64(&w, origin ? t->seq : 0);
    w_u16(&w, origin ? t->publisher->client_id_len : 0);
    if (origin) {
        w_bytes(&w, t->publisher->client_id, t->publisher->client_id_len);
    }
    NE_ASSERT(w.ok && w.len == MSG_HEAD_BYTES + origin_bytes);
    ne_mqtt_msg_copy(msg, 0, p->rec + w.len, bytes);
    size_t key_len = key_msg(p->key, msg->id);
    if (!put(m, p->key, key_len, p->rec, w.len + (size_t)bytes, "message")) {
        return false;
    }
    msg->persisted = true;
    return true;
}

static void msg_freed(void *ctx, ne_mqtt_msg *msg)
{
    ne_mqtt *m = ctx;
    if (m->txn.msg == msg) {
        m->txn.msg = NULL;
    }
    if (writable(m)) {
        size_t key_len = key_msg(m->persist.key, msg->id);
        del(m, m->persist.key, key_len);
    }
}

static void retained_changed(void *ctx, ne_mqtt_msg *msg, bool set)
{
    ne_mqtt *m = ctx;
    if (!writable(m)) {
        return;
    }
    ne_mqtt_persist *p = &m->persist;
    size_t key_len = key_retained(p->key, msg);
    if (!set) {
        del(m, p->key, key_len);
        return;
    }
    if (!persist_msg(m, msg)) {
        key_len = key_retained(p->key, msg); /* persist_msg used the key buffer */
        del(m, p->key, key_len);             /* the old message must not come back */
        return;
    }
    key_len = key_retained(p->key, msg);
    uint8_t id[8];
    for (int i = 0; i < 8; i++) {
        id[i] = (uint8_t)(msg->id >> (56 - 8 * i));
    }
    (void)put(m, p->key, key_len, id, sizeof(id), "retained message");
}

/* The session's record: its identity, expiry, filters, messages and
 * inbound QoS 2 ids. */
static void write_session(ne_mqtt *m, ne_mqtt_session *s)
{
    ne_mqtt_persist *p = &m->persist;
    if (!s->persistent || s->ending) {
        if (s->on_disk) {
            size_t key_len = key_session(p->key, s);
            del(m, p->key, key_len);
            s->on_disk = false;
        }
        return;
    }
    /* Its messages first: a session never names one that is not there. */
    for (uint32_t k = 0; k < s->out_count; k++) {
        ne_mqtt_out *e = ne_mqtt_session_out(s, k);
        if (e->state != NE_MQTT_OUT_FREE) {
            (void)persist_msg(m, e->msg);
        }
    }
    /* A will waiting for its delay (its client gone) is kept with it. */
    bool will = s->will != NULL && s->will_at_ms != 0 && persist_msg(m, s->will);
    wbuf w = {p->rec, sizeof(p->rec), 0, true};
    w_u8(&w, REC_FORMAT);
    w_u8(&w, s->version);
    w_u16(&w, s->next_packet_id);
    w_u32(&w, s->expiry_s);
    w_u64(&w, ne_authn_fingerprint(m->opts, s->conn->user_index));
    w_u16(&w, (uint16_t)s->conn->user_index);
    w_u16(&w, (uint16_t)s->sub_count);
    uint16_t outs = 0;
    for (uint32_t k = 0; k < s->out_count; k++) {
        const ne_mqtt_out *e = ne_mqtt_session_out(s, k);
        outs += e->state != NE_MQTT_OUT_FREE && e->msg->persisted ? 1u : 0u;
    }
    w_u16(&w, outs);
    w_u16(&w, s->inbound_count);
    w_u64(&w, p->committed);
    NE_ASSERT(w.len == SESSION_HEAD_BYTES);
    /* Filters are written in slot order without the free slots, and read
     * back into the first slots: an entry of a shared filter names it by
     * its rank among them. */
    uint8_t rank[NE_MQTT_MAX_SUBS_PER_SESSION] = {0};
    uint8_t ranked = 0;
    for (uint32_t i = 0; i < ne_mqtt_sub_slots(s); i++) {
        const ne_mqtt_sub *e = &s->subs[i];
        rank[i] = ranked;
        if (e->sub == NULL) {
            continue;
        }
        ranked++;
        w_u16(&w, e->sub->entry.subject_len);
        w_bytes(&w, e->sub->text, e->sub->entry.subject_len);
        w_u16(&w, e->sub->entry.queue_len);
        w_bytes(&w, e->sub->entry.queue, e->sub->entry.queue_len);
        w_u8(&w, e->qos);
        w_u8(&w, (uint8_t)((e->no_local ? 1u : 0u) | (e->retain_as_published ? 2u : 0u) |
                           (uint8_t)(e->retain_handling << 2)));
        w_u32(&w, e->sub_id);
    }
    for (uint32_t k = 0; k < s->out_count; k++) {
        const ne_mqtt_out *e = ne_mqtt_session_out(s, k);
        if (e->state == NE_MQTT_OUT_FREE || !e->msg->persisted) {
            continue;
        }
        w_u64(&w, e->msg->id);
        w_u16(&w, e->packet_id);
        w_u8(&w, e->state);
        w_u8(&w, e->qos);
        w_u8(&w, (uint8_t)((e->retain ? 1u : 0u) | (e->fixed_id ? 2u : 0u)));
        w_u8(&w, e->shared != 0 ? (uint8_t)(rank[e->shared - 1] + 1) : 0);
        w_u32(&w, e->sub_id);
    }
    for (uint32_t i = 0; i < s->inbound_count; i++) {
        w_u16(&w, s->inbound[i]);
    }
    /* The pending will: its message and delay (0: none). A record written
     * before wills were kept ends here. */
    w_u64(&w, will ? s->will->id : 0);
    w_u32(&w, will ? s->will_delay_s : 0);
    if (!w.ok) {
        refused(m, "session", NE_ERR_TOO_BIG);
        return;
    }
    size_t key_len = key_session(p->key, s);
    if (put(m, p->key, key_len, p->rec, w.len, "session")) {
        s->on_disk = true;
    }
}

/* Syncs what was written; false once the device failed. */
static bool sync(ne_mqtt *m)
{
    ne_mqtt_persist *p = &m->persist;
    if (p->unsynced && !p->failed) {
        p->stats.syncs++;
        int rc = ne_store_kv_sync(&p->kv);
        if (rc != NE_OK) {
            p->stats.sync_failures++;
            p->failed = true;
            ne_log_error(m->conns->log,
                         "MQTT store: sync failed (%s); nothing is acknowledged "
                         "as durable until a restart",
                         ne_err_name(rc));
        } else {
            p->unsynced = false;
        }
    }
    return !p->failed;
}

bool ne_mqtt_persist_flush(ne_mqtt *m)
{
    if (!writable(m)) {
        m->dirty_any = false;
        return true;
    }
    if (m->dirty_any) {
        m->dirty_any = false;
        uint32_t guard = 0;
        for (ne_mqtt_session *s = m->sessions; s != NULL && guard++ < NE_MQTT_MAX_SESSIONS;
             s = s->next) {
            if (s->dirty) {
                s->dirty = false;
                write_session(m, s);
            }
        }
    }
    return sync(m);
}

void ne_mqtt_persist_txn_begin(ne_mqtt *m, const ne_mqtt_session *publisher, uint8_t qos)
{
    ne_mqtt_txn *t = &m->txn;
    NE_ASSERT(!t->active);
    if (qos != 2 || !publisher->persistent || !writable(m)) {
        return;
    }
    t->active = true;
    t->publisher = publisher;
    t->msg = NULL;
    t->seq = ++m->persist.last_txn;
}

bool ne_mqtt_persist_commit(ne_mqtt *m)
{
    ne_mqtt_txn *t = &m->txn;
    if (!t->active) {
        return true;
    }
    /* Its copies first, with the record naming the transaction: only once
     * they are durable may a session record say it was committed. */
    if (t->msg != NULL && !ne_mqtt_persist_flush(m)) {
        return false;
    }
    m->persist.committed = t->seq;
    t->msg = NULL; /* committed: written later, its record names none */
    return true;
}

void ne_mqtt_persist_session_gone(ne_mqtt *m, ne_mqtt_session *s)
{
    if (s->on_disk && writable(m)) {
        size_t key_len = key_session(m->persist.key, s);
        del(m, m->persist.key, key_len);
    }
    s->on_disk = false;
    s->dirty = false;
}

void ne_mqtt_persist_freeze(ne_mqtt *m)
{
    if (m->persist.on && !m->persist.frozen) {
        ne_mqtt_persist_flush(m);
        m->persist.frozen = true;
    }
}

/* ---- Reading back -------------------------------------------------------------------------- */

typedef struct load_ctx {
    ne_mqtt *m;
    uint32_t count; /* loaded messages, in m->persist.loaded */
    uint64_t max_id;
    uint64_t max_txn; /* the latest transaction a record names */
    bool unwanted;    /* a record to remove was found (a second pass removes it) */
} load_ctx;

/* The record at seq; *format its version. */
static int load_record(ne_mqtt *m, uint64_t seq, rbuf *r, uint8_t *format)
{
    ne_store_msg sm;
    int rc = ne_store_load(&m->persist.kv.log, seq, &sm, m->persist.rec, sizeof(m->persist.rec));
    if (rc != NE_OK) {
        return rc;
    }
    *r = (rbuf){sm.payload, sm.payload_len, 0, true};
    *format = r_u8(r);
    return *format >= 1 && *format <= REC_FORMAT ? NE_OK : NE_ERR_CORRUPT;
}

/* Whether the transaction `txn` of the publisher with this client id was
 * committed: its session record carries that commit or a later one. With
 * no record (the session ended after it) it was. Reads the record into
 * m->persist.rec. */
static bool txn_committed(ne_mqtt *m, const uint8_t *client_id, size_t len, uint64_t txn)
{
    ne_mqtt_persist *p = &m->persist;
    NE_ASSERT(len + 1 <= sizeof(p->key));
    p->key[0] = KEY_SESSION;
    memcpy(p->key + 1, client_id, len);
    const uint8_t *value = NULL;
    size_t value_len = 0;
    if (ne_store_kv_get(&p->kv, p->key, len + 1, p->rec, sizeof(p->rec), &value, &value_len) !=
        NE_OK) {
        return true;
    }
    rbuf r = {value, value_len, 0, true};
    uint8_t format = r_u8(&r);
    (void)r_bytes(&r, SESSION_HEAD_BYTES_V1 - 1);
    uint64_t stamp = format >= 2 ? r_u64(&r) : 0;
    return r.ok && stamp >= txn;
}

static uint64_t id_of_key(const char *key)
{
    uint64_t id = 0;
    for (int i = 0; i < 8; i++) {
        id = (id << 8) | (uint8_t)key[1 + i];
    }
    return id;
}

/* The properties a message keeps (ne_mqtt_props_message): the rest are
 * the delivery's own, added when it is sent. */
#define MSG_PROPS                                                                                  \
    (NE_MQTT_HAS(NE_MQTT_PROP_PAYLOAD_FORMAT) | NE_MQTT_HAS(NE_MQTT_PROP_CONTENT_TYPE) |           \
     NE_MQTT_HAS(NE_MQTT_PROP_RESPONSE_TOPIC) | NE_MQTT_HAS(NE_MQTT_PROP_CORRELATION_DATA) |       \
     NE_MQTT_HAS(NE_MQTT_PROP_USER_PROPERTY))

/* Whether a message read back is one the kind could have kept: a topic
 * name (UTF-8, no wildcard) and a block of the message's own properties,
 * each within its bound. Anything else would go out as a malformed PUBLISH
 * or overrun the buffers that publish a stored message (a will). */
static bool msg_valid(const uint8_t *topic, uint16_t topic_len, const uint8_t *props,
                      uint16_t props_len)
{
    if (topic_len > NE_MQTT_MAX_TOPIC_BYTES || props_len > NE_MQTT_MAX_PROPS_BYTES ||
        !ne_mqtt_utf8_valid(topic, topic_len) || !ne_mqtt_topic_name_valid(topic, topic_len)) {
        return false;
    }
    ne_mqtt_props decoded;
    uint8_t reason = 0;
    return ne_mqtt_props_decode(props, props_len, NE_MQTT_CTX_PUBLISH, true, &decoded, &reason) ==
               NE_OK &&
           (decoded.present & ~(uint64_t)MSG_PROPS) == 0;
}

static int load_msg(void *vctx, const char *key, size_t key_len, uint64_t seq)
{
    load_ctx *c = vctx;
    ne_mqtt *m = c->m;
    rbuf r;
    uint8_t format = 0;
    /* Ids count up from 1 and never reach the last one: a key that names
     * it is damaged (the next id would wrap to ids in use). */
    bool id_ok = key_len == 9 && id_of_key(key) != UINT64_MAX;
    if (id_ok) {
        c->max_id = NE_MAX(c->max_id, id_of_key(key)); /* never given again, kept or not */
    }
    if (!id_ok || load_record(m, seq, &r, &format) != NE_OK || c->count == NE_MQTT_MAX_MESSAGES) {
        m->persist.stats.dropped_at_load++;
        c->unwanted = true;
        return NE_OK;
    }
    uint8_t qos = r_u8(&r);
    uint8_t flags = r_u8(&r);
    (void)r_u8(&r);
    uint32_t expiry_s = r_u32(&r);
    uint16_t topic_len = r_u16(&r);
    uint16_t props_len = r_u16(&r);
    uint32_t payload_len = r_u32(&r);
    uint64_t txn = format >= 2 ? r_u64(&r) : 0;
    uint16_t publisher_len = format >= 2 ? r_u16(&r) : 0;
    const uint8_t *publisher = r_bytes(&r, publisher_len);
    const uint8_t *topic = r_bytes(&r, topic_len);
    const uint8_t *props = r_bytes(&r, props_len);
    const uint8_t *payload = r_bytes(&r, payload_len);
    ne_mqtt_msg *msg = NULL;
    if (r.ok && qos <= 2 && txn != UINT64_MAX && msg_valid(topic, topic_len, props, props_len)) {
        ne_mqtt_payload pl = {payload, NULL, 0, payload_len};
        msg = ne_mqtt_msg_new(&m->store, (ne_mqtt_bytes){topic, topic_len},
                              (ne_mqtt_bytes){props, props_len}, &pl);
    }
    if (msg == NULL) {
        m->persist.stats.dropped_at_load++;
        c->unwanted = true;
        return NE_OK;
    }
    c->max_txn = NE_MAX(c->max_txn, txn);
    if (txn != 0 && (publisher_len == 0 || publisher_len > NE_MQTT_CLIENT_ID_BYTES ||
                     !txn_committed(m, publisher, publisher_len, txn))) {
        /* Its publisher never heard it was received and sends it again:
         * taken back from every session that had it (ne_mqtt_txn). A
         * publisher id no session can have is a damaged record. */
        ne_mqtt_msg_release(&m->store, msg);
        m->persist.stats.rolled_back++;
        c->unwanted = true;
        return NE_OK;
    }
    msg->id = id_of_key(key);
    msg->qos = qos;
    msg->retain = (flags & 1u) != 0;
    msg->has_expiry = (flags & 2u) != 0;
    msg->expiry_s = expiry_s;
    /* The interval counts again from this start: the clock is monotonic. */
    msg->expires_ms = msg->has_expiry ? m->conns->now_ms + (uint64_t)expiry_s * 1000u : 0;
    msg->persisted = true;
    /* Kept in id order for the lookups that follow (insertion). */
    uint32_t i = c->count++;
    while (i > 0 && m->persist.loaded[i - 1]->id > msg->id) {
        m->persist.loaded[i] = m->persist.loaded[i - 1];
        i--;
    }
    m->persist.loaded[i] = msg;
    m->persist.stats.messages_loaded++;
    return NE_OK;
}

static ne_mqtt_msg *loaded_msg(const load_ctx *c, uint64_t id)
{
    uint32_t lo = 0, hi = c->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        ne_mqtt_msg *x = c->m->persist.loaded[mid];
        if (x->id == id) {
            return x;
        }
        if (x->id < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

/* Whether msg's topic is these bytes (a retained record's key names the
 * topic its message must have). */
static bool topic_is(const ne_mqtt_msg *msg, const char *topic, size_t len)
{
    uint8_t own[NE_MQTT_MAX_TOPIC_BYTES];
    if (msg->topic_len != len || len > sizeof(own)) {
        return false;
    }
    ne_mqtt_msg_copy(msg, 0, own, msg->topic_len);
    return memcmp(own, topic, len) == 0;
}

static int load_retained(void *vctx, const char *key, size_t key_len, uint64_t seq)
{
    load_ctx *c = vctx;
    ne_mqtt *m = c->m;
    rbuf r;
    ne_store_msg sm;
    ne_mqtt_msg *msg = NULL;
    if (ne_store_load(&m->persist.kv.log, seq, &sm, m->persist.rec, sizeof(m->persist.rec)) ==
            NE_OK &&
        sm.payload_len == 8) {
        r = (rbuf){sm.payload, 8, 0, true};
        msg = loaded_msg(c, r_u64(&r));
    }
    if (msg == NULL || msg->retained || !topic_is(msg, key + 1, key_len - 1) ||
        ne_mqtt_retained_set(&m->store, msg) != NE_OK) {
        m->persist.stats.dropped_at_load++;
        c->unwanted = true;
        return NE_OK;
    }
    m->persist.stats.retained_loaded++;
    return NE_OK;
}

/* A session's pending will (write_session): published when its delay
 * has passed again, counted from this start (as the session's expiry is),
 * or at the session's end, whichever comes first (M5-23). */
static void load_will(load_ctx *c, ne_mqtt_session *s, rbuf *r)
{
    ne_mqtt *m = c->m;
    uint64_t id = r_u64(r);
    uint32_t delay_s = r_u32(r);
    if (!r->ok || id == 0) {
        return;
    }
    ne_mqtt_msg *msg = loaded_msg(c, id);
    if (msg == NULL) {
        m->persist.stats.dropped_at_load++;
        ne_mqtt_dirty(m, s); /* written again without it */
        return;
    }
    ne_mqtt_msg_retain(msg);
    s->will = msg;
    s->will_delay_s = delay_s;
    uint64_t now = m->conns->now_ms;
    s->will_at_ms = now + (uint64_t)delay_s * 1000u;
    if (s->will_at_ms == 0) {
        s->will_at_ms = 1;
    }
}

static int load_session(void *vctx, const char *key, size_t key_len, uint64_t seq)
{
    load_ctx *c = vctx;
    ne_mqtt *m = c->m;
    rbuf r;
    uint8_t format = 0;
    ne_mqtt_session *s = NULL;
    if (key_len < 2 || key_len - 1 > NE_MQTT_CLIENT_ID_BYTES ||
        load_record(m, seq, &r, &format) != NE_OK) {
        goto drop;
    }
    uint8_t version = r_u8(&r);
    uint16_t next_id = r_u16(&r);
    uint32_t expiry_s = r_u32(&r);
    uint64_t fingerprint = r_u64(&r);
    (void)r_u16(&r); /* the user's index when written */
    uint16_t subs = r_u16(&r);
    uint16_t outs = r_u16(&r);
    uint16_t inbound = r_u16(&r);
    uint64_t stamp = format >= 2 ? r_u64(&r) : 0; /* its last commit */
    /* Transactions count up from 1 and never reach the last number: a
     * record that names it is damaged (the next would wrap to 0, which
     * says "no transaction"). */
    if (stamp != UINT64_MAX) {
        c->max_txn = NE_MAX(c->max_txn, stamp);
    }
    if (!r.ok || stamp == UINT64_MAX || subs > NE_MQTT_MAX_SUBS_PER_SESSION ||
        outs > NE_MQTT_MAX_INFLIGHT || inbound > NE_MQTT_MAX_INBOUND_QOS2) {
        goto drop;
    }
    /* Its user must still be configured: its account and permissions. */
    int user = ne_authn_find(m->opts, fingerprint);
    if (user < -1) {
        goto drop;
    }
    s = ne_mqtt_session_restore(m, (const uint8_t *)key + 1, (uint16_t)(key_len - 1), user);
    if (s == NULL) {
        goto drop;
    }
    s->version = version;
    s->next_packet_id = next_id != 0 ? next_id : 1;
    s->expiry_s = expiry_s;
    for (uint32_t i = 0; i < subs && r.ok; i++) {
        uint16_t sl = r_u16(&r);
        const uint8_t *subject = r_bytes(&r, sl);
        uint16_t gl = r_u16(&r);
        const uint8_t *group = r_bytes(&r, gl);
        ne_mqtt_sub o;
        memset(&o, 0, sizeof(o));
        o.qos = r_u8(&r);
        uint8_t flags = r_u8(&r);
        o.sub_id = r_u32(&r);
        o.no_local = (flags & 1u) != 0;
        o.retain_as_published = (flags & 2u) != 0;
        o.retain_handling = (uint8_t)((flags >> 2) & 3u);
        if (r.ok && !ne_mqtt_session_restore_sub(m, s, (const char *)subject, sl,
                                                 (ne_slice){(const char *)group, gl}, &o)) {
            m->persist.stats.dropped_at_load++;
            ne_mqtt_dirty(m, s);
        }
    }
    for (uint32_t k = 0; k < outs && r.ok; k++) {
        ne_mqtt_out e;
        memset(&e, 0, sizeof(e));
        uint64_t id = r_u64(&r);
        e.packet_id = r_u16(&r);
        e.state = r_u8(&r);
        e.qos = r_u8(&r);
        uint8_t flags = r_u8(&r);
        e.shared = r_u8(&r);
        e.sub_id = r_u32(&r);
        e.retain = (flags & 1u) != 0;
        e.fixed_id = (flags & 2u) != 0;
        if (e.shared > NE_MQTT_MAX_SUBS_PER_SESSION ||
            (e.shared != 0 && (s->subs == NULL || s->subs[e.shared - 1].sub == NULL))) {
            e.shared = 0;
        }
        ne_mqtt_msg *msg = r.ok ? loaded_msg(c, id) : NULL;
        bool valid = e.qos >= 1 && e.qos <= 2 && e.state >= NE_MQTT_OUT_QUEUED &&
                     e.state <= NE_MQTT_OUT_RELEASED &&
                     (e.state == NE_MQTT_OUT_QUEUED || e.packet_id != 0);
        if (msg == NULL || !valid || !ne_mqtt_session_restore_out(m, s, msg, &e)) {
            m->persist.stats.dropped_at_load++;
            ne_mqtt_dirty(m, s); /* written again without it */
        }
    }
    bool no_table = false;
    for (uint32_t i = 0; i < inbound && r.ok; i++) {
        uint16_t id = r_u16(&r); /* every id is read, kept or not: the will follows */
        if (id == 0 || no_table) {
            continue;
        }
        if (!ne_mqtt_session_inbound_take(m, s)) {
            no_table = true; /* no inbound table: the ids are not kept */
            m->persist.stats.dropped_at_load++;
            ne_mqtt_dirty(m, s);
            continue;
        }
        s->inbound[s->inbound_count++] = id;
    }
    if (r.ok && r.len - r.at >= 12) {
        load_will(c, s, &r);
    }
    if (!r.ok) {
        ne_mqtt_dirty(m, s); /* what could be read stays; the record is written again */
    }
    s->on_disk = true;
    m->persist.stats.sessions_loaded++;
    return NE_OK;
drop:
    m->persist.stats.dropped_at_load++;
    c->unwanted = true;
    return NE_OK;
}

/* A second pass: the first record of a kind that was not taken back
 * (one per call, since nothing may be removed while the keys are walked). */
typedef struct find_unwanted {
    ne_mqtt *m;
    const load_ctx *c;
    size_t key_len;
} find_unwanted;

static int unwanted_one(void *vctx, const char *key, size_t key_len, uint64_t seq)
{
    find_unwanted *f = vctx;
    ne_mqtt *m = f->m;
    bool keep = false;
    if (key[0] == KEY_SESSION) {
        keep = key_len >= 2 &&
               ne_mqtt_session_find(m, (const uint8_t *)key + 1, (uint16_t)(key_len - 1)) != NULL;
    } else if (key[0] == KEY_RETAINED) {
        uint32_t i = 0;
        ne_mqtt_msg *msg;
        while (!keep && (msg = ne_mqtt_retained_next(&m->store, &i)) != NULL) {
            keep = topic_is(msg, key + 1, key_len - 1);
        }
    } else {
        /* A message taken back stays (it leaves with its last reference);
         * one that could not be is removed. */
        keep = key_len == 9 && loaded_msg(f->c, id_of_key(key)) != NULL;
    }
    (void)seq;
    if (keep) {
        return NE_OK;
    }
    memcpy(m->persist.key, key, key_len);
    f->key_len = key_len;
    return NE_ERR_EXISTS; /* stops the walk */
}

static void remove_unwanted(ne_mqtt *m, const load_ctx *c, uint8_t kind)
{
    for (uint32_t guard = 0; guard < NE_MQTT_PERSIST_KEYS; guard++) {
        find_unwanted f = {m, c, 0};
        (void)ne_store_kv_list(&m->persist.kv, &kind, 1, unwanted_one, &f);
        if (f.key_len == 0) {
            return;
        }
        del(m, m->persist.key, f.key_len);
    }
}

void ne_mqtt_persist_init(ne_mqtt *m)
{
    m->store.hooks.ctx = m;
    m->store.hooks.freed = msg_freed;
    m->store.hooks.retained = retained_changed;
}

int ne_mqtt_open_store(ne_mqtt *m, ne_store_dev *dev)
{
    ne_mqtt_persist *p = &m->persist;
    NE_ASSERT(!p->on && m->sessions == NULL);
    static const char name[] = "mqtt";
    ne_store_entry entry;
    uint32_t id = 0;
    int rc = ne_store_dev_find(dev, NE_STORE_KIND_KV, 0, name, sizeof(name) - 1, &entry, p->rec,
                               sizeof(p->rec));
    if (rc == NE_OK) {
        id = entry.id;
    } else if (rc == NE_ERR_NOT_FOUND) {
        rc = ne_store_dev_create(dev, NE_STORE_KIND_KV, 0, name, sizeof(name) - 1, NULL, 0, &id);
    }
    if (rc != NE_OK) {
        ne_log_error(m->conns->log, "MQTT store: no log (%s)", ne_err_name(rc));
        return rc;
    }
    ne_store_kv_config cfg = {.keys = p->keys,
                              .key_capacity = NE_MQTT_PERSIST_KEYS,
                              .key_text = p->key_text,
                              .key_text_bytes = sizeof(p->key_text),
                              .max_blocks = 0};
    rc = ne_store_kv_attach(&p->kv, dev, id, &cfg);
    if (rc != NE_OK) {
        ne_log_error(m->conns->log, "MQTT store: the log could not be read (%s)", ne_err_name(rc));
        return rc;
    }
    p->dev = dev;
    p->on = true;
    p->loading = true;
    load_ctx c = {m, 0, 0, 0, false};
    uint8_t prefix = KEY_MESSAGE;
    (void)ne_store_kv_list(&p->kv, &prefix, 1, load_msg, &c);
    prefix = KEY_RETAINED;
    (void)ne_store_kv_list(&p->kv, &prefix, 1, load_retained, &c);
    prefix = KEY_SESSION;
    (void)ne_store_kv_list(&p->kv, &prefix, 1, load_session, &c);
    p->loading = false;
    if (c.max_id >= m->store.next_id) {
        m->store.next_id = c.max_id + 1;
    }
    if (c.unwanted) {
        remove_unwanted(m, &c, KEY_MESSAGE);
        remove_unwanted(m, &c, KEY_SESSION);
        remove_unwanted(m, &c, KEY_RETAINED);
    }
    /* A message taken back is gone from the device before any record
     * counts its transaction, or a later one, committed. */
    (void)sync(m);
    p->committed = c.max_txn;
    p->last_txn = c.max_txn;
    /* The loader's references go: messages nothing holds leave (and
     * their records with them). */
    for (uint32_t i = 0; i < c.count; i++) {
        ne_mqtt_msg_release(&m->store, p->loaded[i]);
        p->loaded[i] = NULL;
    }
    ne_mqtt_persist_flush(m);
    ne_log_info(
        m->conns->log,
        "MQTT store: %llu sessions, %llu messages, %llu retained messages taken back "
        "(%llu records dropped)",
        (unsigned long long)p->stats.sessions_loaded, (unsigned long long)p->stats.messages_loaded,
        (unsigned long long)p->stats.retained_loaded, (unsigned long long)p->stats.dropped_at_load);
    return NE_OK;
}

void ne_mqtt_close_store(ne_mqtt *m)
{
    ne_mqtt_persist *p = &m->persist;
    if (p->on) {
        ne_mqtt_persist_freeze(m);
        (void)ne_store_kv_detach(&p->kv);
        p->on = false;
    }
}

#else

bool ne_mqtt_persist_flush(ne_mqtt *m)
{
    m->dirty_any = false;
    return true;
}

void ne_mqtt_persist_session_gone(ne_mqtt *m, ne_mqtt_session *s)
{
    (void)m;
    s->on_disk = false;
    s->dirty = false;
}

void ne_mqtt_persist_freeze(ne_mqtt *m)
{
    (void)m;
}

void ne_mqtt_persist_txn_begin(ne_mqtt *m, const ne_mqtt_session *publisher, uint8_t qos)
{
    (void)m;
    (void)publisher;
    (void)qos;
}

bool ne_mqtt_persist_commit(ne_mqtt *m)
{
    (void)m;
    return true;
}

void ne_mqtt_persist_init(ne_mqtt *m)
{
    (void)m;
}

#endif
