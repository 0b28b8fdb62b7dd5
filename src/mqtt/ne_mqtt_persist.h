/* Where MQTT keeps what must survive a restart or a power cut: sessions
 * (their subscriptions and expiry), the QoS 1 and 2 messages held for them
 * with their state, the inbound QoS 2 packet ids not yet released, and the
 * retained messages.
 *
 * A small interface of records so that a storage engine can back it
 * (src/store, store v2: one log of small records per kind): the kind puts
 * and deletes records as its state changes, and at start-up the records
 * are read back in the order they were put. Every record is a key and a
 * value of bytes the MQTT kind writes and reads itself (ne_mqtt_persist.c
 * holds their layouts); the backend only keeps them. A put is durable
 * when the backend says so: NE_OK once the record would be found after a
 * power cut. Without a backend (NULL ops) MQTT keeps everything in RAM. */
#ifndef NE_MQTT_PERSIST_H
#define NE_MQTT_PERSIST_H

#include <stddef.h>
#include <stdint.h>

/* The kinds of records. */
typedef enum ne_mqtt_record {
    NE_MQTT_REC_SESSION = 1, /* key: client id; value: the session and its filters */
    NE_MQTT_REC_MESSAGE = 2, /* key: message id; value: flags, expiry, topic, properties, payload */
    NE_MQTT_REC_OUT = 3,     /* key: client id, message id; value: packet id, state, QoS */
    NE_MQTT_REC_INBOUND = 4, /* key: client id, packet id; value: none */
    NE_MQTT_REC_RETAINED = 5, /* key: topic; value: message id */
} ne_mqtt_record;

/* Called for each record at start-up (ne_mqtt_persist_ops.load). */
typedef void (*ne_mqtt_record_visit)(void *visit_ctx, ne_mqtt_record kind, const uint8_t *key,
                                     uint32_t key_len, const uint8_t *value, uint32_t value_len);

typedef struct ne_mqtt_persist_ops {
    /* Puts (or replaces) the record of kind and key. NE_OK, or an error:
     * the kind then goes on in RAM and counts it. */
    int (*put)(void *ctx, ne_mqtt_record kind, const uint8_t *key, uint32_t key_len,
               const uint8_t *value, uint32_t value_len);
    /* Deletes the record of kind and key; one that is not there is no error. */
    int (*del)(void *ctx, ne_mqtt_record kind, const uint8_t *key, uint32_t key_len);
    /* Reads every record back, each with visit. */
    int (*load)(void *ctx, ne_mqtt_record_visit visit, void *visit_ctx);
} ne_mqtt_persist_ops;

typedef struct ne_mqtt_persist {
    const ne_mqtt_persist_ops *ops;
    void *ctx;
} ne_mqtt_persist;

#endif
