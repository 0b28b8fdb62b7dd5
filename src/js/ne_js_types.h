/* JetStream's objects (src/js): streams, consumers and what they hold, the
 * per-account state and the service, all from pools sized in
 * config/ne_config_js.h. The service (ne_js.h) embeds them; the other files
 * of src/js share them through ne_js_int.h. */
#ifndef NE_JS_TYPES_H
#define NE_JS_TYPES_H

#include <stdbool.h>
#include <stdint.h>

#include "conf/ne_options.h"
#include "conn/ne_conn.h"
#include "core/ne_pool.h"
#include "json/ne_json.h"
#include "js/ne_js_file.h"
#include "js/ne_js_mem.h"
#include "js/ne_js_store.h"
#include "ne_config_js.h"

/* The bounds are checked where JetStream is built (a profile without it,
 * such as tiny, may have shorter subscriptions). */
#if NE_FEATURE_JETSTREAM
#if NE_JS_SHORT_TEXT_SLOTS + NE_JS_TEXT_SLOTS + NE_JS_LONG_NAME_SLOTS >= 0xffff ||                 \
    NE_JS_MAX_STREAMS >= 0xffff || NE_JS_MAX_CONSUMERS >= 0xffff
#error                                                                                             \
    "NE_JS_SHORT_TEXT_SLOTS + NE_JS_TEXT_SLOTS + NE_JS_LONG_NAME_SLOTS, NE_JS_MAX_STREAMS and NE_JS_MAX_CONSUMERS must be below 65535"
#endif
#if NE_JS_SHORT_TEXT_BYTES < 8 || NE_JS_SHORT_TEXT_BYTES > 256 ||                                  \
    NE_JS_SHORT_TEXT_BYTES % 8 != 0 || NE_JS_SHORT_TEXT_BYTES > NE_JS_TEXT_BYTES
#error "NE_JS_SHORT_TEXT_BYTES must be a multiple of 8 from 8 to 256, at most NE_JS_TEXT_BYTES"
#endif
#if NE_JS_SHORT_TEXT_SLOTS < 1 || NE_JS_TEXT_SLOTS < 1 || NE_JS_LONG_NAME_SLOTS < 1
#error "NE_JS_SHORT_TEXT_SLOTS, NE_JS_TEXT_SLOTS and NE_JS_LONG_NAME_SLOTS must be at least 1"
#endif
#if NE_JS_SOURCED_STREAMS < 1
#error "NE_JS_SOURCED_STREAMS must be at least 1"
#endif
#if NE_JS_NAME_BYTES < 16 || NE_JS_TEXT_BYTES < 32 || NE_JS_TEXT_BYTES > 0xffff
#error "NE_JS_NAME_BYTES must be at least 16, NE_JS_TEXT_BYTES 32 to 65535"
#endif
/* A stream subject and its subscription id ("S" and up to 5 digits). */
#if NE_FEATURE_JETSTREAM && NE_JS_TEXT_BYTES + 5 > NE_SUB_TEXT_BYTES
#error "NE_JS_TEXT_BYTES + 5 must fit in NE_SUB_TEXT_BYTES (a stream subject is a subscription)"
#endif
#endif

/* "No text slot" in a slot field. */
#define NE_JS_NO_TEXT 0xffffu
/* "No entry" in an index field of the pending, pull and id pools. */
#define NE_JS_NONE UINT32_MAX

/* Text slots hold a subject, a description, a deliver group, a stream's
 * name...: one uint16_t names a slot of one of three pools (ne_js.c), by
 * range: short slots first, then text slots, then long name slots. Each
 * keeps its text NUL-terminated. */
typedef struct ne_js_short_text {
    uint8_t len;
    char text[NE_JS_SHORT_TEXT_BYTES - 1];
} ne_js_short_text;

typedef struct ne_js_text {
    uint16_t len;
    char text[NE_JS_TEXT_BYTES];
} ne_js_text;

typedef struct ne_js_long_name {
    uint16_t len;
    char text[NE_JS_NAME_BYTES];
} ne_js_long_name;

typedef enum ne_js_retention {
    NE_JS_RETENTION_LIMITS = 0,
    NE_JS_RETENTION_INTEREST,
    NE_JS_RETENTION_WORKQUEUE,
} ne_js_retention;

typedef enum ne_js_discard {
    NE_JS_DISCARD_OLD = 0,
    NE_JS_DISCARD_NEW,
} ne_js_discard;

typedef enum ne_js_storage_type {
    NE_JS_STORAGE_FILE = 0,
    NE_JS_STORAGE_MEMORY,
} ne_js_storage_type;

typedef enum ne_js_deliver_policy {
    NE_JS_DELIVER_ALL = 0,
    NE_JS_DELIVER_LAST,
    NE_JS_DELIVER_NEW,
    NE_JS_DELIVER_BY_START_SEQUENCE,
    NE_JS_DELIVER_BY_START_TIME,
    NE_JS_DELIVER_LAST_PER_SUBJECT,
} ne_js_deliver_policy;

typedef enum ne_js_ack_policy {
    NE_JS_ACK_NONE = 0,
    NE_JS_ACK_ALL,
    NE_JS_ACK_EXPLICIT,
} ne_js_ack_policy;

typedef enum ne_js_replay_policy {
    NE_JS_REPLAY_INSTANT = 0,
    NE_JS_REPLAY_ORIGINAL,
} ne_js_replay_policy;

/* A stream's mirror or one of its sources (nats-server's StreamSource):
 * the origin stream's name, where to start, a filter, and the API prefix
 * and deliver prefix of another domain or account (external). Text in
 * slots (ne_js_source.c). */
typedef struct ne_js_source_cfg {
    uint16_t name;
    uint16_t filter;
    uint16_t api;     /* external.api: NE_JS_NO_TEXT for the local $JS.API */
    uint16_t deliver; /* external.deliver */
    uint64_t opt_start_seq;
    uint64_t opt_start_time_ns; /* Unix ns; 0: none */
} ne_js_source_cfg;

/* nats-server 2.9's StreamConfig. Text lives in slots (NE_JS_NO_TEXT:
 * none); numbers keep nats-server's -1 for "unlimited". */
typedef struct ne_js_stream_cfg {
    uint16_t name; /* a text slot (ne_js_name_put) */
    uint16_t description;
    uint16_t subjects[NE_JS_MAX_STREAM_SUBJECTS];
    uint8_t subject_count;
    uint8_t retention; /* ne_js_retention */
    uint8_t discard;   /* ne_js_discard */
    uint8_t storage;   /* ne_js_storage_type */
    int64_t max_consumers;
    int64_t max_msgs;
    int64_t max_bytes;
    int64_t max_age_ns;
    int64_t max_msgs_per_subject;
    int64_t max_msg_size;
    int64_t replicas;
    int64_t duplicate_window_ns;
    uint16_t template_owner;
    uint16_t republish_src;
    uint16_t republish_dest; /* NE_JS_NO_TEXT: no republish */
    bool republish_headers_only;
    bool no_ack;
    bool allow_direct;
    bool mirror_direct;
    bool discard_new_per_subject;
    bool sealed;
    bool deny_delete;
    bool deny_purge;
    bool allow_rollup;
    /* natsedge's forward extension: each message is published to the
     * cloud (prefix.subject) and removed once acknowledged. */
    bool forward;
    uint16_t forward_prefix;
    uint16_t forward_window;
    /* The advisory when the backlog passes this percent of max_msgs or
     * max_bytes (0: none). */
    uint8_t forward_backlog_advisory;
    /* mirror (then the one entry) or sources: a set from the service's
     * pool (ne_js_conf.c) while source_count > 0, else NULL. */
    bool mirror;
    uint8_t source_count;
    ne_js_source_cfg *sources;
} ne_js_stream_cfg;

/* The mirror or sources of one stream's configuration. */
typedef struct ne_js_source_set {
    ne_js_source_cfg entries[NE_JS_MAX_STREAM_SOURCES];
} ne_js_source_set;

/* nats-server 2.9's ConsumerConfig. */
typedef struct ne_js_consumer_cfg {
    /* The consumer's name: durable_name or name (equal when both are
     * given), or the one generated for an ephemeral. */
    char name[NE_JS_NAME_BYTES];
    bool durable;       /* durable_name was given */
    bool named;         /* name was given */
    bool name_mismatch; /* both given, and they differ */
    uint16_t description;
    uint16_t filter;
    uint16_t deliver_subject;
    uint16_t deliver_group;
    uint8_t deliver_policy; /* ne_js_deliver_policy */
    uint8_t ack_policy;     /* ne_js_ack_policy */
    uint8_t replay_policy;  /* ne_js_replay_policy */
    bool has_start_time;
    uint64_t opt_start_seq;
    uint64_t opt_start_time_ns;
    int64_t ack_wait_ns;
    int64_t max_deliver;
    int64_t backoff_ns[NE_JS_MAX_BACKOFF];
    uint8_t backoff_count;
    bool flow_control;
    bool headers_only;
    bool mem_storage;
    bool direct;
    char sample_freq[8];
    uint64_t rate_limit_bps;
    int64_t max_waiting;
    int64_t max_ack_pending;
    int64_t idle_heartbeat_ns;
    int64_t max_batch;
    int64_t max_expires_ns;
    int64_t max_bytes;
    int64_t inactive_threshold_ns;
    int64_t replicas;
} ne_js_consumer_cfg;

struct ne_js_account;
struct ne_js_consumer;

typedef struct ne_js_stream {
    struct ne_js_stream *next; /* the account's streams */
    struct ne_js_account *acc;
    ne_js_stream_cfg cfg;
    uint64_t created_ns;
    ne_js_store store;
    struct ne_js_consumer *consumers;
    uint32_t consumer_count;
    uint16_t slot;
    bool has_new;        /* messages stored since its consumers last looked */
    bool interest_check; /* interest/workqueue: a removal check is due */
    /* Message ids within the duplicate window, oldest first. */
    uint32_t ids_head;
    uint32_t ids_tail;
    uint32_t id_count;
    /* The last stored message's Nats-Msg-Id in a text slot (NE_JS_NO_TEXT:
     * it had none). */
    uint16_t last_msg_id;
} ne_js_stream;

/* A delivered message not yet acknowledged (or waiting to be delivered
 * again). */
typedef struct ne_js_pending {
    uint64_t sseq;
    uint64_t dseq;        /* its first delivery's consumer sequence */
    uint64_t deadline_ns; /* redelivery is due */
    uint32_t dc;          /* deliveries so far */
    uint32_t prev;        /* the consumer's list, by stream sequence */
    uint32_t next;
    uint32_t due_prev; /* the consumer's redelivery queue */
    uint32_t due_next;
    uint32_t hash_next;
    uint16_t consumer;
    bool due;
} ne_js_pending;

/* A pull request waiting for messages. */
typedef struct ne_js_pull {
    uint32_t next; /* the consumer's queue */
    int64_t batch;
    int64_t max_bytes;
    uint64_t expires_ns; /* 0: none */
    uint64_t hb_ns;      /* idle heartbeat interval, 0: none */
    uint64_t next_hb_ns;
    uint64_t sent_bytes;
    uint32_t sent;
    bool no_wait;
    uint16_t reply_len;
    char reply[NE_JS_REPLY_BYTES];
} ne_js_pull;

/* A message id remembered for duplicate detection. */
typedef struct ne_js_msgid {
    uint64_t hash;
    uint64_t seq;
    uint64_t ts_ns;
    uint32_t next; /* the stream's ids, oldest first */
    uint32_t hash_next;
    uint16_t stream;
    uint8_t len;
    char id[NE_JS_MSG_ID_BYTES];
} ne_js_msgid;

typedef struct ne_js_consumer {
    struct ne_js_consumer *next; /* the stream's consumers */
    ne_js_stream *stream;
    ne_js_consumer_cfg cfg;
    const char *name; /* durable or name (points into cfg) */
    uint64_t created_ns;
    uint16_t slot;
    /* Delivery state (nats-server's sseq, dseq, asflr, adflr). */
    uint64_t sseq;  /* the next stream sequence to look at */
    uint64_t dseq;  /* the last consumer sequence assigned */
    uint64_t asflr; /* ack floor: stream sequence */
    uint64_t adflr; /* ack floor: consumer sequence */
    uint64_t last_delivered_ns;
    uint64_t last_ack_ns;
    uint64_t num_pending;
    /* Deliver last per subject: messages up to this sequence go only when
     * they are their subject's last; 0 when done. */
    uint64_t lps_end;
    /* Replay original: when the next message may go. */
    uint64_t replay_next_ns;
    uint64_t replay_last_ts_ns;
    /* Pending acknowledgements, by stream sequence (the head is the ack
     * floor's next), and those due for redelivery, in the order found. */
    uint32_t pending_head;
    uint32_t pending_tail;
    uint32_t pending_count;
    uint32_t due_head;
    uint32_t due_tail;
    uint32_t redelivered;      /* pending entries delivered more than once */
    uint64_t next_deadline_ns; /* the earliest deadline of a pending entry not due */
    /* Pull requests waiting, oldest first. */
    uint32_t pull_head;
    uint32_t pull_tail;
    uint32_t pull_count;
    /* Push: subscriptions on the deliver subject (interest). */
    uint32_t interest;
    uint64_t inactive_since_ns; /* push: no interest since; pull: no request since */
    uint64_t next_hb_ns;
    uint64_t last_msg_ns; /* the last message or heartbeat sent */
    /* Flow control: a request is outstanding and delivery waits for it. */
    bool fc_waiting;
    uint64_t fc_seq;
    uint64_t fc_bytes; /* bytes delivered since the last flow control */
    uint32_t fc_msgs;
    bool deleted;
    bool stalled_hb; /* a heartbeat must name the flow control subject */
} ne_js_consumer;

/* What one account's JetStream holds. */
typedef struct ne_js_account {
    const struct ne_js *js; /* its service: the text of its streams' names */
    uint8_t index;          /* the router's account */
    ne_conn *client;
    ne_js_account_limits limits;
    ne_js_stream *streams;
    uint32_t stream_count;
    uint32_t consumer_count;
    uint64_t memory_bytes; /* of memory streams */
    uint64_t store_bytes;  /* of file streams */
    uint64_t api_total;
    uint64_t api_errors;
    uint64_t requests_dropped;
    bool work; /* consumers may have something to deliver */
} ne_js_account;

#endif
