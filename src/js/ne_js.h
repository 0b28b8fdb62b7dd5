/* JetStream on one node (floor 6, docs/architecture.md, docs/jetstream.md):
 * streams, consumers and the $JS.API, as a service of the router.
 *
 * Each account with JetStream has an internal client subscribed to
 * $JS.API.> (and $JS.<domain>.API.>), $JS.ACK.>, $JS.FC.> and the subjects
 * of its streams. A message published on a stream subject is stored when
 * it is delivered to that client (stored in order, before anything else
 * can change the stream); its acknowledgement, API requests and acks queue
 * on the client as records and are handled at the end of the loop turn
 * (the kind's run op), which is also when consumers deliver: never inside
 * routing. Timers (pull expiry, heartbeats, redelivery, max_age, duplicate
 * windows, inactive consumers) run on the connection tick.
 *
 * Everything comes from pools sized in config/ne_config_js.h; when one is
 * exhausted the request gets nats-server's error and the rest goes on.
 * Responses follow nats-server 2.9.10: types, field names, error codes and
 * descriptions (inventory section 4, JS-xx). */
#ifndef NE_JS_H
#define NE_JS_H

#include <stdbool.h>
#include <stdint.h>

#include "conf/ne_options.h"
#include "conn/ne_conn.h"
#include "core/ne_rng.h"
#include "js/ne_js_forward.h"
#include "js/ne_js_source.h"
#include "js/ne_js_types.h"
#include "json/ne_json_out.h"
#include "mon/ne_mon.h"
#include "router/ne_router.h"

#if NE_FEATURE_JETSTREAM

/* Bucket counts of the pending and message-id hashes. */
#define NE_JS_PENDING_BUCKETS NE_JS_POW2_FLOOR(NE_JS_MAX_PENDING)
#define NE_JS_MSGID_BUCKETS NE_JS_POW2_FLOOR(NE_JS_MAX_MSG_IDS)

/* The pools' storage (the server places it last: large, resident only
 * where used). */
typedef struct ne_js_storage {
    NE_POOL_STORAGE(ne_js_stream, NE_JS_MAX_STREAMS) streams;
    NE_POOL_STORAGE(ne_js_consumer, NE_JS_MAX_CONSUMERS) consumers;
    NE_POOL_STORAGE(ne_js_short_text, NE_JS_SHORT_TEXT_SLOTS) short_texts;
    NE_POOL_STORAGE(ne_js_text, NE_JS_TEXT_SLOTS) texts;
    NE_POOL_STORAGE(ne_js_long_name, NE_JS_LONG_NAME_SLOTS) long_names;
    NE_POOL_STORAGE(ne_js_source_set, NE_JS_SOURCED_STREAMS) source_sets;
    NE_POOL_STORAGE(ne_js_pending, NE_JS_MAX_PENDING) pending;
    NE_POOL_STORAGE(ne_js_pull, NE_JS_MAX_WAITING) pulls;
    NE_POOL_STORAGE(ne_js_msgid, NE_JS_MAX_MSG_IDS) msgids;
    ne_js_mem_storage mem;
    ne_js_file_storage file;
} ne_js_storage;

typedef struct ne_js_stats {
    uint64_t api_total;
    uint64_t api_errors;
    uint64_t requests_dropped;  /* beyond NE_JS_QUEUE_BYTES or the chunk pool */
    uint64_t responses_failed;  /* the chunk pool could not hold an answer */
    uint64_t stores_refused;    /* publishes refused for a lack of resources */
    uint64_t deliveries_waited; /* deliveries put off for the chunk pool */
} ne_js_stats;

/* Largest record queued on an account's client: a request's subject,
 * reply and body (up to NE_JS_API_REQUEST_BYTES). */
#define NE_JS_RECORD_BYTES (NE_JS_API_REQUEST_BYTES + 2 * NE_MAX_CONTROL_LINE_BYTES + 64)

/* Largest message body a delivery lays out contiguously; larger ones go
 * through chunks. */
#define NE_JS_SCRATCH_BYTES 4096

typedef struct ne_js {
    const ne_server_options *opts;
    ne_conns *conns;
    ne_router *router;
    ne_mon *mon;
    ne_rng *rng;
    uint8_t kind;
    bool enabled;
    bool started;
    uint64_t max_memory; /* bytes memory streams may hold (max_memory_store) */
    uint64_t max_store;  /* bytes file streams may hold (0: file storage unavailable) */
    ne_js_account accounts[NE_JS_MAX_ACCOUNTS];
    uint32_t account_count;
    ne_js_stats stats;
    ne_pool stream_pool;
    ne_pool consumer_pool;
    ne_pool short_text_pool;
    ne_pool text_pool;
    ne_pool long_name_pool;
    ne_pool source_set_pool;
    ne_pool pending_pool;
    ne_pool pull_pool;
    ne_pool msgid_pool;
    uint32_t pending_buckets[NE_JS_PENDING_BUCKETS]; /* index + 1, 0: empty */
    uint32_t msgid_buckets[NE_JS_MSGID_BUCKETS];
    ne_js_mem mem;
    ne_js_file file;
    /* The record being handled and its parsed JSON; a record being queued
     * (assembled whole before it goes into the client's queue). */
    ne_json_doc doc;
    uint8_t record[NE_JS_RECORD_BYTES];
    uint8_t inbound[NE_JS_RECORD_BYTES];
    /* A stored message's subject, a delivery laid out contiguously. */
    char subject[NE_MAX_CONTROL_LINE_BYTES + 1];
    uint8_t scratch[NE_JS_SCRATCH_BYTES];
    /* A config being parsed before it replaces (or joins) the live ones. */
    ne_js_stream_cfg stream_cfg;
    ne_js_consumer_cfg consumer_cfg;
    /* Mirrors and sources running (ne_js_source.c). */
    ne_js_sources sources;
    /* Streams forwarding to the cloud (ne_js_forward.c). */
    ne_js_forwards forwards;
} ne_js;

void ne_js_init(ne_js *js, ne_js_storage *storage, const ne_server_options *opts, ne_conns *conns,
                ne_router *router, ne_mon *mon, ne_rng *rng);
/* Where file storage lives (ne_js_file.h), before ne_js_start; without it
 * a file stream is refused with 10047 as by nats-server without file
 * storage. */
void ne_js_set_device(ne_js *js, const ne_js_device_port *port);
/* The largest max_file_store: NE_STORE_MAX_BLOCKS blocks of
 * NE_JS_FILE_BLOCK_BYTES. */
uint64_t ne_js_file_max_bytes(void);
/* Takes an internal client per JetStream account and subscribes; logs the
 * limits. */
int ne_js_start(ne_js *js);
/* Drops every stream and consumer (the server shuts down). */
void ne_js_shutdown(ne_js *js);
/* Objects taken from JetStream's pools (0 when idle); names the first busy
 * pool in *busy. */
uint32_t ne_js_pools_in_use(const ne_js *js, const char **busy);
/* /varz?natsedge=1: JetStream's pools in use, as "js_<pool>" keys of the
 * natsedge_pools object. */
void ne_js_write_pools(const ne_js *js, ne_json_out *o);
/* /varz's "jetstream" object. */
void ne_js_write_varz(const ne_js *js, ne_json_out *o);
/* Logs the static memory JetStream reserves. */
void ne_js_log_memory(const ne_js *js);

#endif /* NE_FEATURE_JETSTREAM */

#endif
