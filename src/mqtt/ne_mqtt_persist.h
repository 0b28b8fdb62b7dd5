/* Where MQTT keeps what must survive a restart, a kill -9 or a power cut
 * (docs/mqtt.md, "Persistence"): persistent sessions (their filters and
 * expiry, the QoS 1 and 2 messages queued or in flight for them with their
 * packet ids and states, the inbound QoS 2 packet ids not yet released)
 * and the retained messages, in one KV log ("mqtt") of a storage device
 * (src/store, docs/storage.md).
 *
 * Records, each a key and a value the MQTT kind lays out itself
 * (ne_mqtt_persist.c):
 *   "s" + client id      a persistent session, whole (one record, so that
 *                        a power cut leaves the old session or the new one),
 *                        with the last QoS 2 transaction committed when it
 *                        was written
 *   "m" + id (8 B, BE)   a kept message: flags, expiry, topic, properties,
 *                        payload, and while a persistent session's QoS 2
 *                        publish of it is not committed, that transaction
 *                        and the publisher's client id (ne_mqtt_txn);
 *                        written once, however many sessions and the
 *                        retained table hold it, removed with its last
 *                        reference
 *   "r" + topic          the retained message of a topic: a message id
 *
 * When: sessions are written when they changed (marked dirty) at the next
 * flush; a flush writes them and syncs the device. The kind flushes before
 * it acknowledges what must not be lost (PUBACK, PUBREC, SUBACK,
 * UNSUBACK, CONNACK of a persistent session) and every tick for the rest
 * (the acknowledgements of its own deliveries). Messages and retained
 * records are written when a session or the table first needs them. */
#ifndef NE_MQTT_PERSIST_H
#define NE_MQTT_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ne_config.h"

#if NE_MQTT_PERSIST
#include "store/ne_store_dev.h"
#include "mqtt/ne_mqtt_store.h"
#include "store/ne_store_kv.h"

#if NE_STORE_MAX_SUBJECT_BYTES < NE_MQTT_CLIENT_ID_BYTES + 1 ||                                    \
    NE_STORE_MAX_SUBJECT_BYTES < NE_MQTT_MAX_TOPIC_BYTES + 1
#error "NE_STORE_MAX_SUBJECT_BYTES must hold an MQTT client id or topic and one byte"
#endif
#if (NE_MQTT_PERSIST_KEYS & (NE_MQTT_PERSIST_KEYS - 1)) != 0
#error "NE_MQTT_PERSIST_KEYS must be a power of two"
#endif

typedef struct ne_mqtt_persist_stats {
    uint64_t records_written;
    uint64_t records_deleted;
    uint64_t syncs;
    uint64_t sync_failures; /* the device failed: nothing acknowledged after it */
    uint64_t refused;       /* records not written: too large, keys or device full */
    uint64_t sessions_loaded;
    uint64_t messages_loaded;
    uint64_t retained_loaded;
    uint64_t dropped_at_load; /* records that could not be taken back (pools, users gone) */
    uint64_t rolled_back;     /* QoS 2 messages whose publisher's record did not hold them */
} ne_mqtt_persist_stats;

typedef struct ne_mqtt_persist {
    bool on;        /* a log is attached */
    bool frozen;    /* shutting down: nothing written or removed any more */
    bool loading;   /* records being read back: nothing written */
    bool unsynced;  /* written since the last sync */
    bool warned;    /* a refusal was logged */
    bool failed;    /* the device failed (I/O, power): nothing is durable any more */
    uint32_t dirty; /* sessions marked dirty */
    /* The last committed QoS 2 publish (ne_mqtt_persist_commit): every
     * session record carries it, and a message written during a later
     * one is taken back only when its publisher's record is that recent. */
    uint64_t committed;
    uint64_t last_txn; /* the last transaction begun */
    ne_store_dev *dev;
    ne_store_kv kv;
    ne_mqtt_persist_stats stats;
    ne_store_subject keys[NE_MQTT_PERSIST_KEYS];
    char key_text[NE_MQTT_PERSIST_KEY_TEXT_BYTES];
    uint8_t key[NE_STORE_MAX_SUBJECT_BYTES];
    uint8_t rec[NE_MQTT_PERSIST_RECORD_BYTES];
    ne_mqtt_msg *loaded[NE_MQTT_MAX_MESSAGES]; /* while reading back, by id */
} ne_mqtt_persist;
#endif

#endif
