/* The MQTT message store (ne_mqtt_store.h). */
#include "mqtt/ne_mqtt_store.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"

void ne_mqtt_store_init(ne_mqtt_store *st, ne_mqtt_store_storage *storage)
{
    ne_pool_init(&st->msg_pool, "mqtt messages", &storage->msgs, sizeof(ne_mqtt_msg),
                 NE_MQTT_MAX_MESSAGES);
    ne_pool_init(&st->block_pool, "mqtt blocks", &storage->blocks, sizeof(ne_mqtt_block),
                 NE_MQTT_BLOCKS);
    st->next_id = 1;
}

/* A writer filling a message's block chain in order. */
typedef struct fill {
    ne_mqtt_block *block;
    uint32_t used;
} fill;

static void fill_bytes(fill *f, const uint8_t *bytes, uint32_t len)
{
    uint32_t done = 0;
    /* Each pass fills the current block or moves to the next. */
    while (done < len) {
        if (f->used == NE_MQTT_BLOCK_BYTES) {
            f->block = f->block->next;
            f->used = 0;
            NE_ASSERT(f->block != NULL);
        }
        uint32_t n = NE_MIN(len - done, (uint32_t)NE_MQTT_BLOCK_BYTES - f->used);
        memcpy(f->block->data + f->used, bytes + done, n);
        f->used += n;
        done += n;
    }
}

static void fill_chain(fill *f, const ne_chunk *chain, uint32_t offset, uint32_t len)
{
    const ne_chunk *c = chain;
    /* Skip to the chunk holding `offset`; bounded by the chain's length. */
    while (c != NULL && offset >= c->used) {
        offset -= c->used;
        c = c->next;
    }
    uint32_t done = 0;
    while (done < len) {
        NE_ASSERT(c != NULL);
        uint32_t n = NE_MIN(len - done, c->used - offset);
        fill_bytes(f, c->data + offset, n);
        done += n;
        offset = 0;
        c = c->next;
    }
}

ne_mqtt_msg *ne_mqtt_msg_new(ne_mqtt_store *st, ne_mqtt_bytes topic, ne_mqtt_bytes props,
                             const ne_mqtt_payload *payload)
{
    NE_ASSERT(topic.len <= UINT16_MAX && props.len <= UINT16_MAX);
    uint64_t bytes = (uint64_t)topic.len + props.len + payload->len;
    uint64_t need = (bytes + NE_MQTT_BLOCK_BYTES - 1) / NE_MQTT_BLOCK_BYTES;
    if (need == 0) {
        need = 1;
    }
    if (ne_pool_available(&st->msg_pool) == 0 || need > ne_pool_available(&st->block_pool)) {
        st->stats.refused++;
        return NULL;
    }
    ne_mqtt_msg *m = ne_pool_alloc(&st->msg_pool);
    NE_ASSERT(m != NULL);
    ne_mqtt_block *tail = NULL;
    for (uint64_t i = 0; i < need; i++) {
        ne_mqtt_block *b = ne_pool_alloc_uninit(&st->block_pool);
        NE_ASSERT(b != NULL);
        b->next = NULL;
        if (tail == NULL) {
            m->head = b;
        } else {
            tail->next = b;
        }
        tail = b;
    }
    m->refs = 1;
    m->blocks = (uint32_t)need;
    m->topic_len = (uint16_t)topic.len;
    m->props_len = (uint16_t)props.len;
    m->payload_len = payload->len;
    m->id = st->next_id++;
    fill f = {m->head, 0};
    fill_bytes(&f, topic.ptr, topic.len);
    fill_bytes(&f, props.ptr, props.len);
    if (payload->chain != NULL) {
        fill_chain(&f, payload->chain, payload->offset, payload->len);
    } else {
        fill_bytes(&f, payload->bytes, payload->len);
    }
    return m;
}

void ne_mqtt_msg_retain(ne_mqtt_msg *m)
{
    NE_ASSERT(m->refs > 0);
    m->refs++;
}

void ne_mqtt_msg_release(ne_mqtt_store *st, ne_mqtt_msg *m)
{
    NE_ASSERT(m->refs > 0);
    if (--m->refs > 0) {
        return;
    }
    if (m->persisted && st->hooks.freed != NULL) {
        st->hooks.freed(st->hooks.ctx, m);
    }
    ne_mqtt_block *b = m->head;
    for (uint32_t i = 0; i < m->blocks; i++) {
        NE_ASSERT(b != NULL);
        ne_mqtt_block *next = b->next;
        ne_pool_free(&st->block_pool, b);
        b = next;
    }
    ne_pool_free(&st->msg_pool, m);
}

uint32_t ne_mqtt_msg_next_run(const ne_mqtt_msg *m, const ne_mqtt_block **cursor, uint32_t *pos,
                              uint32_t end, const uint8_t **run)
{
    NE_ASSERT(end <= ne_mqtt_msg_bytes(m));
    if (*pos >= end) {
        return 0;
    }
    if (*cursor == NULL) {
        /* Walk to the block holding *pos. */
        const ne_mqtt_block *b = m->head;
        for (uint32_t skip = *pos / NE_MQTT_BLOCK_BYTES; skip > 0; skip--) {
            b = b->next;
        }
        *cursor = b;
    }
    uint32_t in_block = *pos % NE_MQTT_BLOCK_BYTES;
    uint32_t n = NE_MIN(end - *pos, (uint32_t)NE_MQTT_BLOCK_BYTES - in_block);
    *run = (*cursor)->data + in_block;
    *pos += n;
    if (in_block + n == NE_MQTT_BLOCK_BYTES) {
        *cursor = (*cursor)->next;
    }
    return n;
}

void ne_mqtt_msg_copy(const ne_mqtt_msg *m, uint32_t from, void *dst, uint32_t len)
{
    const ne_mqtt_block *cursor = NULL;
    uint32_t pos = from;
    const uint8_t *run;
    uint8_t *out = dst;
    uint32_t n;
    while ((n = ne_mqtt_msg_next_run(m, &cursor, &pos, from + len, &run)) > 0) {
        memcpy(out, run, n);
        out += n;
    }
}

/* ---- Retained messages ------------------------------------------------------------ */

/* Is m's topic exactly `topic`? */
static bool topic_is(const ne_mqtt_msg *m, ne_mqtt_bytes topic)
{
    if (m->topic_len != topic.len) {
        return false;
    }
    const ne_mqtt_block *cursor = NULL;
    uint32_t pos = 0;
    const uint8_t *run;
    uint32_t n;
    uint32_t at = 0;
    while ((n = ne_mqtt_msg_next_run(m, &cursor, &pos, m->topic_len, &run)) > 0) {
        if (memcmp(run, topic.ptr + at, n) != 0) {
            return false;
        }
        at += n;
    }
    return true;
}

static int retained_find(const ne_mqtt_store *st, ne_mqtt_bytes topic)
{
    for (uint32_t i = 0; i < st->retained_count; i++) {
        if (topic_is(st->retained[i], topic)) {
            return (int)i;
        }
    }
    return -1;
}

/* tell: the hooks hear of it (not when a new message replaces it, nor at
 * shutdown). */
static void retained_remove_at(ne_mqtt_store *st, uint32_t i, bool tell)
{
    ne_mqtt_msg *old = st->retained[i];
    if (tell && st->hooks.retained != NULL) {
        st->hooks.retained(st->hooks.ctx, old, false);
    }
    st->retained_bytes -= ne_mqtt_msg_bytes(old);
    st->retained[i] = st->retained[--st->retained_count];
    old->retained = false;
    ne_mqtt_msg_release(st, old);
}

int ne_mqtt_retained_set(ne_mqtt_store *st, ne_mqtt_msg *msg)
{
    uint8_t topic[NE_MQTT_MAX_TOPIC_BYTES];
    NE_ASSERT(msg->topic_len <= sizeof(topic) && !msg->retained);
    ne_mqtt_msg_copy(msg, 0, topic, msg->topic_len);
    ne_mqtt_bytes t = {topic, msg->topic_len};
    int at = retained_find(st, t);
    uint32_t old_bytes = at >= 0 ? ne_mqtt_msg_bytes(st->retained[at]) : 0;
    if ((at < 0 && st->retained_count == NE_MQTT_MAX_RETAINED) ||
        st->retained_bytes - old_bytes + ne_mqtt_msg_bytes(msg) > NE_MQTT_RETAINED_BYTES) {
        st->stats.retained_refused++;
        return NE_ERR_FULL;
    }
    ne_mqtt_msg_retain(msg);
    msg->retained = true;
    if (st->hooks.retained != NULL) {
        st->hooks.retained(st->hooks.ctx, msg, true); /* before the old one's record goes */
    }
    if (at >= 0) {
        retained_remove_at(st, (uint32_t)at, false);
    }
    st->retained[st->retained_count++] = msg;
    st->retained_bytes += ne_mqtt_msg_bytes(msg);
    return NE_OK;
}

void ne_mqtt_retained_clear(ne_mqtt_store *st, ne_mqtt_bytes topic)
{
    int at = retained_find(st, topic);
    if (at >= 0) {
        retained_remove_at(st, (uint32_t)at, true);
    }
}

void ne_mqtt_retained_expire(ne_mqtt_store *st, uint64_t now_ms)
{
    uint32_t i = 0;
    /* Each pass keeps one message or removes one. */
    while (i < st->retained_count) {
        const ne_mqtt_msg *m = st->retained[i];
        if (m->has_expiry && m->expires_ms <= now_ms) {
            retained_remove_at(st, i, true);
        } else {
            i++;
        }
    }
}

ne_mqtt_msg *ne_mqtt_retained_next(const ne_mqtt_store *st, uint32_t *i)
{
    if (*i >= st->retained_count) {
        return NULL;
    }
    return st->retained[(*i)++];
}

void ne_mqtt_retained_release_all(ne_mqtt_store *st)
{
    while (st->retained_count > 0) {
        retained_remove_at(st, st->retained_count - 1, false);
    }
}
