/* JetStream's file storage (`storage: file`): streams and durable
 * consumers as logs of one storage device (src/store, docs/storage.md).
 *
 * The board opens the device (ne_js_device_port: a file under store_dir on
 * Linux, a flash region on a board); JetStream opens it at start-up when it
 * already holds data, and otherwise when the first file stream is created.
 * The device's catalogue names every log:
 *
 *   - a stream: kind STREAM, name "<account>/<stream>", its configuration
 *     as the JSON document {"account","created","config":{StreamConfig}};
 *   - a durable consumer of a file stream: kind CONSUMER, owner the
 *     stream's log, name the consumer's, {"created","config":{...}}; its
 *     log holds the delivered and ack floor sequences and the pending
 *     acknowledgements (ne_store_consumer.h).
 *
 * At start-up every stream, then its consumers, are created again from
 * their entries and attached to their logs; the duplicate window is rebuilt
 * from the Nats-Msg-Id headers of the messages within it.
 *
 * Durability: a publish's acknowledgement is sent, and a double ack
 * confirmed, only after the device is synced (one sync for everything of a
 * loop turn); every other change is synced at the end of the turn that made
 * it. A kill -9 or a power cut then loses nothing acknowledged. */
#ifndef NE_JS_FILE_H
#define NE_JS_FILE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ne_pool.h"
#include "js/ne_js_store.h"
#include "ne_config_js.h"
#include "port.h"
#include "store/ne_store.h"
#include "store/ne_store_consumer.h"
#include "store/ne_store_dev.h"

#if NE_JS_FILE_SUBJECT_TABLES_0 < 1
#error "NE_JS_FILE_SUBJECT_TABLES_0 must be at least 1"
#endif
#if NE_JS_FILE_SUBJECT_TABLES_0 > 0 &&                                                             \
    ((NE_JS_FILE_SUBJECTS_0 & (NE_JS_FILE_SUBJECTS_0 - 1)) != 0 || NE_JS_FILE_SUBJECTS_0 < 8)
#error "NE_JS_FILE_SUBJECTS_0 must be a power of two, at least 8"
#endif
#if NE_JS_FILE_SUBJECT_TABLES_1 > 0 &&                                                             \
    ((NE_JS_FILE_SUBJECTS_1 & (NE_JS_FILE_SUBJECTS_1 - 1)) != 0 || NE_JS_FILE_SUBJECTS_1 < 8)
#error "NE_JS_FILE_SUBJECTS_1 must be a power of two, at least 8"
#endif
#if NE_JS_FILE_SUBJECT_TABLES_2 > 0 &&                                                             \
    ((NE_JS_FILE_SUBJECTS_2 & (NE_JS_FILE_SUBJECTS_2 - 1)) != 0 || NE_JS_FILE_SUBJECTS_2 < 8)
#error "NE_JS_FILE_SUBJECTS_2 must be a power of two, at least 8"
#endif
#if NE_JS_FILE_SUBJECT_TABLES_3 > 0 &&                                                             \
    ((NE_JS_FILE_SUBJECTS_3 & (NE_JS_FILE_SUBJECTS_3 - 1)) != 0 || NE_JS_FILE_SUBJECTS_3 < 8)
#error "NE_JS_FILE_SUBJECTS_3 must be a power of two, at least 8"
#endif
#if NE_JS_FILE_SUBJECT_TABLES_4 > 0 &&                                                             \
    ((NE_JS_FILE_SUBJECTS_4 & (NE_JS_FILE_SUBJECTS_4 - 1)) != 0 || NE_JS_FILE_SUBJECTS_4 < 8)
#error "NE_JS_FILE_SUBJECTS_4 must be a power of two, at least 8"
#endif
#if NE_JS_FILE_SUBJECT_TEXT_PER_ENTRY < 1
#error "NE_JS_FILE_SUBJECT_TEXT_PER_ENTRY must be at least 1"
#endif

/* One subject table of class k: its entries and their text (a multiple of 8). */
#define NE_JS_FILE_SUBJECT_TEXT(k)                                                                 \
    (((uint32_t)NE_JS_FILE_SUBJECTS_##k * NE_JS_FILE_SUBJECT_TEXT_PER_ENTRY + 7u) & ~7u)
#define NE_JS_FILE_SUBJECT_TABLE(k)                                                                \
    NE_STORE_SUBJECT_TABLE_BYTES(NE_JS_FILE_SUBJECTS_##k, NE_JS_FILE_SUBJECT_TEXT(k))
/* Storage of class k's tables, aligned for their 64-bit fields. */
#define NE_JS_FILE_SUBJECT_STORAGE(k)                                                              \
    union {                                                                                        \
        uint64_t align;                                                                            \
        uint8_t bytes[NE_JS_FILE_SUBJECT_TABLE(k) * NE_JS_FILE_SUBJECT_TABLES_##k];                \
    }
#if NE_FEATURE_JETSTREAM
_Static_assert(NE_STORE_CONSUMER_SNAPSHOT_BYTES(NE_JS_FILE_PENDING) + 128 <=
                   NE_STORE_WRITE_BUFFER_BYTES,
               "NE_JS_FILE_PENDING entries of 32 B must fit NE_STORE_WRITE_BUFFER_BYTES as one "
               "record");
#endif

/* Where the device comes from (the board). open: the device under
 * store_dir with this geometry into *out; with create false, NE_ERR_NOT_FOUND
 * when it does not exist yet (nothing is created). close: after the last
 * use. */
typedef struct ne_js_device_port {
    int (*open)(void *ctx, const char *store_dir, ne_flash_geometry geometry, bool create,
                ne_flash *out);
    void (*close)(void *ctx);
    void *ctx;
} ne_js_device_port;

/* A file stream: its log's front end and a reader; its subject index is
 * a table of the shared subject pool (ne_js_file.subjects). */
typedef struct ne_js_file_stream {
    ne_store store;
    ne_store_reader reader;
    uint32_t log_id;
} ne_js_file_stream;

/* A durable consumer's state log. */
typedef struct ne_js_file_consumer {
    ne_store_consumer sc;
    uint32_t log_id;
    uint64_t written; /* a digest of the state last written */
    ne_store_pending pending[NE_JS_FILE_PENDING];
} ne_js_file_consumer;

/* The largest message a file stream holds: one record of the device. */
#define NE_JS_FILE_MSG_BYTES NE_STORE_WRITE_BUFFER_BYTES

typedef struct ne_js_file_storage {
    ne_store_dev dev;
    NE_POOL_STORAGE(ne_js_file_stream, NE_JS_FILE_STREAMS) streams;
    NE_POOL_STORAGE(ne_js_file_consumer, NE_JS_FILE_CONSUMERS) consumers;
    NE_JS_FILE_SUBJECT_STORAGE(0) subjects0;
#if NE_JS_FILE_SUBJECT_TABLES_1 > 0
    NE_JS_FILE_SUBJECT_STORAGE(1) subjects1;
#endif
#if NE_JS_FILE_SUBJECT_TABLES_2 > 0
    NE_JS_FILE_SUBJECT_STORAGE(2) subjects2;
#endif
#if NE_JS_FILE_SUBJECT_TABLES_3 > 0
    NE_JS_FILE_SUBJECT_STORAGE(3) subjects3;
#endif
#if NE_JS_FILE_SUBJECT_TABLES_4 > 0
    NE_JS_FILE_SUBJECT_STORAGE(4) subjects4;
#endif
    uint8_t snapshot[NE_STORE_CONSUMER_SNAPSHOT_BYTES(NE_JS_FILE_PENDING)];
    union {
        ne_store_pending pending[NE_JS_FILE_PENDING]; /* a state being written */
        ne_store_change changes[NE_JS_FILE_PENDING];  /* or the changes of a turn */
    };
    uint8_t msg[NE_JS_FILE_MSG_BYTES]; /* the message last loaded */
    uint8_t entry[NE_STORE_MAX_CONFIG_BYTES + 320];
    char doc[NE_STORE_MAX_CONFIG_BYTES]; /* a configuration document */
} ne_js_file_storage;

typedef struct ne_js_file {
    ne_js_file_storage *s;
    ne_js_device_port port;
    bool have_port;
    bool open;     /* the device is open */
    bool failed;   /* opening failed (logged once) */
    bool closing;  /* shutdown: logs are detached, not deleted */
    bool dirty;    /* changes not written to the device */
    bool unsynced; /* written (flushed) but not synced: sync_interval */
    /* jetstream { sync_interval }: 0 "always", the device synced before
     * every acknowledgement; else what is acknowledged is written to the
     * device (the OS) first and the device synced every this many ms. */
    uint32_t sync_interval_ms;
    uint64_t unsynced_ms; /* when the oldest change not synced was written */
    uint32_t restoring;   /* the catalogue entry being restored, 0: none */
    ne_flash flash;
    ne_flash_geometry geometry;
    ne_pool streams;
    ne_pool consumers;
    ne_store_subject_pool subjects;   /* the file streams' subject tables */
    uint32_t subjects_refused_logged; /* subjects.refused when last logged */
    /* A consumer's file state: by the consumer's pool index, index + 1. */
    uint16_t consumer_file[NE_JS_MAX_CONSUMERS];
    /* The message in s->msg: its stream (file stream index + 1) and seq. */
    uint32_t cache_stream;
    uint64_t cache_seq;
    ne_store_msg cache;
} ne_js_file;

#endif
