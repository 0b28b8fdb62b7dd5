/* The MQTT message store: the messages MQTT keeps beyond the turn that
 * routed them (QoS 1 and 2 messages held for sessions, retained messages,
 * wills), each once however many sessions hold it, and the table of
 * retained messages by topic.
 *
 * A message's topic, forwarded properties and payload sit in a chain of
 * fixed blocks from the store's pool; the message itself is counted by
 * references (each session entry, the retained table, a will hold one) and
 * goes back to the pools with its last reference. Everything is bounded by
 * config/ne_config_mqtt.h: messages, bytes, retained messages and their
 * bytes. A failure to keep a message is counted and leaves nothing half
 * made. */
#ifndef NE_MQTT_STORE_H
#define NE_MQTT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ne_chunk.h"
#include "core/ne_pool.h"
#include "mqtt/ne_mqtt_codec.h"
#include "ne_config.h"

#define NE_MQTT_BLOCKS (NE_MQTT_STORE_BYTES / NE_MQTT_BLOCK_BYTES)

#if NE_MQTT_BLOCK_BYTES < 32 || NE_MQTT_BLOCKS < 1
#error "NE_MQTT_BLOCK_BYTES must be at least 32 and NE_MQTT_STORE_BYTES hold one block"
#endif
#if NE_MQTT_RETAINED_BYTES > NE_MQTT_STORE_BYTES
#error "NE_MQTT_RETAINED_BYTES must fit in NE_MQTT_STORE_BYTES"
#endif

typedef struct ne_mqtt_block {
    struct ne_mqtt_block *next;
    uint8_t data[NE_MQTT_BLOCK_BYTES];
} ne_mqtt_block;

/* A kept message. Its bytes: topic, then properties, then payload. */
typedef struct ne_mqtt_msg {
    uint32_t refs;
    uint16_t topic_len;
    uint16_t props_len;
    uint32_t payload_len;
    uint32_t blocks;
    uint8_t qos;         /* as published */
    bool retain;         /* as published */
    bool retained;       /* held by the retained table */
    bool has_expiry;     /* a Message Expiry Interval was given */
    uint32_t expiry_s;   /* the interval (a will's starts when it is published) */
    uint64_t expires_ms; /* with has_expiry: the server clock at which it expires; 0: not yet */
    uint64_t id;         /* unique in this store, increasing (persistence key) */
    bool persisted;      /* its record is in the persistent store (ne_mqtt_persist.h) */
    ne_mqtt_block *head;
} ne_mqtt_msg;

/* Where a new message's payload comes from: bytes, or a chunk chain from
 * an offset (a large message assembled by the connection layer). */
typedef struct ne_mqtt_payload {
    const uint8_t *bytes;
    const ne_chunk *chain;
    uint32_t offset;
    uint32_t len;
} ne_mqtt_payload;

typedef struct ne_mqtt_store_stats {
    uint64_t refused;          /* messages not kept: no message or block left */
    uint64_t retained_refused; /* retained messages not kept: table or bytes full */
} ne_mqtt_store_stats;

/* What the store tells its owner (persistence): a persisted message's last
 * reference went; a topic's retained message was set (set true) or removed
 * without a successor (set false). */
typedef struct ne_mqtt_store_hooks {
    void *ctx;
    void (*freed)(void *ctx, ne_mqtt_msg *m);
    void (*retained)(void *ctx, ne_mqtt_msg *m, bool set);
} ne_mqtt_store_hooks;

typedef struct ne_mqtt_store {
    ne_pool msg_pool;
    ne_pool block_pool;
    uint64_t next_id;
    uint32_t retained_count;
    uint32_t retained_bytes;
    ne_mqtt_msg *retained[NE_MQTT_MAX_RETAINED];
    ne_mqtt_store_stats stats;
    ne_mqtt_store_hooks hooks;
} ne_mqtt_store;

typedef struct ne_mqtt_store_storage {
    NE_POOL_STORAGE(ne_mqtt_msg, NE_MQTT_MAX_MESSAGES) msgs;
    NE_POOL_STORAGE(ne_mqtt_block, NE_MQTT_BLOCKS) blocks;
} ne_mqtt_store_storage;

void ne_mqtt_store_init(ne_mqtt_store *st, ne_mqtt_store_storage *storage);

/* A new message with one reference (the caller's), or NULL when the pools
 * cannot hold it (counted in stats.refused). topic and props are copied
 * from the given bytes, the payload from its source. */
ne_mqtt_msg *ne_mqtt_msg_new(ne_mqtt_store *st, ne_mqtt_bytes topic, ne_mqtt_bytes props,
                             const ne_mqtt_payload *payload);
void ne_mqtt_msg_retain(ne_mqtt_msg *m);
/* Drops one reference; the last one returns the message to the pools. */
void ne_mqtt_msg_release(ne_mqtt_store *st, ne_mqtt_msg *m);

/* Copies len bytes of the message from byte `from` (0: the topic's first)
 * into dst. The range must lie within the message. */
void ne_mqtt_msg_copy(const ne_mqtt_msg *m, uint32_t from, void *dst, uint32_t len);

/* The message's bytes from `from` as runs within its blocks: *run points
 * at the next run and its length is returned; 0 at the end. *cursor (a
 * block, NULL first) and *pos carry the walk. */
uint32_t ne_mqtt_msg_next_run(const ne_mqtt_msg *m, const ne_mqtt_block **cursor, uint32_t *pos,
                              uint32_t end, const uint8_t **run);

static inline uint32_t ne_mqtt_msg_bytes(const ne_mqtt_msg *m)
{
    return (uint32_t)m->topic_len + m->props_len + m->payload_len;
}

/* The retained table (M3-51, M3-52). Sets msg as the retained message of
 * its topic, replacing the old one (the table takes a reference); NE_OK,
 * or NE_ERR_FULL when the table or its bytes are full (counted; the old
 * one stays). ne_mqtt_retained_clear removes a topic's message (an empty
 * retained publish). */
int ne_mqtt_retained_set(ne_mqtt_store *st, ne_mqtt_msg *msg);
void ne_mqtt_retained_clear(ne_mqtt_store *st, ne_mqtt_bytes topic);
/* Drops retained messages whose expiry has passed. */
void ne_mqtt_retained_expire(ne_mqtt_store *st, uint64_t now_ms);
/* Every retained message, from index *i (0 first); NULL at the end. */
ne_mqtt_msg *ne_mqtt_retained_next(const ne_mqtt_store *st, uint32_t *i);
/* Every retained message released (shutdown). */
void ne_mqtt_retained_release_all(ne_mqtt_store *st);

#endif
