/* Small keyed records on a storage device: the newest value per key, for
 * MQTT sessions (a session's subscriptions and in-flight packet ids under
 * its client id) and retained messages (under their topic), or any table of
 * state that must survive restarts and power cuts.
 *
 * A KV log (kind NE_STORE_KIND_KV) is a stream whose subjects are keys (any
 * bytes up to NE_STORE_MAX_SUBJECT_BYTES, empty allowed) holding one message
 * per key: a put replaces the key's value in one record (a power cut leaves
 * the old value or the new one, never neither), a delete removes it. Keys
 * are indexed in the caller's table (ne_store_subject, 40 B per slot) and
 * text arena (each key's bytes + 8), so gets, listings by prefix and counts
 * do not read the device.
 *
 * Durability as every device log: a put or delete is durable once
 * ne_store_kv_sync (or ne_store_dev_sync) has returned NE_OK after it.
 *
 * RAM: sizeof(ne_store_kv) (192 B) plus the table and the arena.
 */
#ifndef NE_STORE_KV_H
#define NE_STORE_KV_H

#include <stddef.h>
#include <stdint.h>

#include "store/ne_store.h"
#include "store/ne_store_dev.h"

typedef struct ne_store_kv {
    ne_store log;
} ne_store_kv;

typedef struct ne_store_kv_config {
    ne_store_subject *keys; /* a power of two; 7/8 usable: the most keys it holds */
    uint32_t key_capacity;
    char *key_text; /* the keys' bytes (listing by prefix, exact lookups) */
    uint32_t key_text_bytes;
    uint32_t max_blocks; /* erase blocks the log may hold, 0: no limit but the device's */
} ne_store_kv_config;

/* Attaches a KV log (kind KV). Errors as ne_store_attach. */
int ne_store_kv_attach(ne_store_kv *kv, ne_store_dev *dev, uint32_t id,
                       const ne_store_kv_config *cfg);

int ne_store_kv_detach(ne_store_kv *kv);

/* Sets key's value. Errors: NE_ERR_INVALID (key too long), NE_ERR_TOO_BIG
 * (key and value do not fit one record), NE_ERR_FULL (the key table or its
 * arena is full: refused_by SUBJECTS; or the device: SPACE, and no other
 * key leaves to make room). */
int ne_store_kv_put(ne_store_kv *kv, const void *key, size_t key_len, const void *value,
                    size_t value_len);

/* Loads key's value into buf; *value points into buf, *value_len its
 * length. NE_ERR_NOT_FOUND, NE_ERR_TOO_BIG (buf must hold key and value),
 * NE_ERR_CORRUPT (its record failed the CRC). */
int ne_store_kv_get(ne_store_kv *kv, const void *key, size_t key_len, void *buf, size_t buf_bytes,
                    const uint8_t **value, size_t *value_len);

/* Removes key. NE_ERR_NOT_FOUND when it has no value. */
int ne_store_kv_delete(ne_store_kv *kv, const void *key, size_t key_len);

/* Calls fn for each key starting with prefix (NULL: every key): the key's
 * bytes (valid during the call) and the sequence of its value (load it with
 * ne_store_load(&kv->log, ...)). fn returns NE_OK to go on. */
typedef int (*ne_store_kv_fn)(void *ctx, const char *key, size_t key_len, uint64_t seq);
int ne_store_kv_list(ne_store_kv *kv, const void *prefix, size_t prefix_len, ne_store_kv_fn fn,
                     void *ctx);

/* Keys with a value. */
uint64_t ne_store_kv_count(const ne_store_kv *kv);

int ne_store_kv_sync(ne_store_kv *kv);

#endif
