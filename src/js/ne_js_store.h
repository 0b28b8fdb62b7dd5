/* The storage JetStream needs from a backend: one interface, nats-server's
 * StreamStore and ConsumerStore as the checklist, implemented for
 * `storage: memory` here (ne_js_mem.h) and for `storage: file` by an
 * adapter to the storage engine (src/store).
 *
 * A stream's store keeps its messages in sequence order. Sequences are
 * assigned by the store on append (last_seq + 1), never go backwards (a
 * purge of everything keeps last_seq; the skip_to operation moves it forward
 * without a message, for a mirror's gaps or a purge's floor), and a removed
 * sequence is never reused. Messages are looked up by sequence, as the
 * first at or after a sequence matching a subject filter, as the last of a
 * literal subject, by time; subjects are indexed (per-subject counts and
 * first/last sequences) for max_msgs_per_subject, KV keys and
 * last-per-subject delivery. Counting queries (filtered state, per-subject
 * state) never return more than the store holds.
 *
 * Limits (max_msgs, max_bytes, max_age, per subject, discard policies) are
 * not the store's: the stream (ne_js_stream.c) applies them with these
 * primitives, so every backend behaves the same, and every removal passes
 * through the stream, which tells its consumers.
 *
 * Consumer state (delivered sequences, ack floor, pending acknowledgements
 * with their delivery counts) lives in the consumer (ne_js_consumer.c); a
 * backend that keeps it across restarts records the changes through the
 * consumer-state operations below (the memory backend keeps nothing: its
 * streams do not survive a restart either).
 *
 * Nothing allocates: a backend takes what it needs from pools fixed at
 * compile time and says NE_ERR_NOMEM when one is exhausted; the stream
 * answers with nats-server's error for a lack of resources. One event loop
 * drives every call; none blocks. */
#ifndef NE_JS_STORE_H
#define NE_JS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ne_config_js.h"
#include "proto/ne_proto.h"

/* A message as the stream hands it to append: read during the call only. */
typedef struct ne_js_msg_in {
    ne_slice subject;
    const uint8_t *hdr; /* NATS/1.0 header block, or NULL with hdr_len 0 */
    uint32_t hdr_len;
    /* The payload: contiguous at data, or (data NULL) read through read_at. */
    const uint8_t *data;
    uint32_t data_len;
    /* Copies len payload bytes from offset into dst (payloads in chunks). */
    void (*read_at)(const void *ctx, uint32_t offset, void *dst, uint32_t len);
    const void *read_ctx;
} ne_js_msg_in;

/* A stored message's metadata. The caller points subject at a buffer of
 * subject_cap bytes; the backend copies the subject there (a lookup whose
 * subject does not fit fails with NE_ERR_TOO_BIG and sets subject_len). */
typedef struct ne_js_msg_info {
    uint64_t seq;
    uint64_t ts_ns; /* wall clock at append, nanoseconds since the Unix epoch */
    char *subject;
    uint32_t subject_cap;
    uint32_t subject_len;
    uint32_t hdr_len;
    uint32_t data_len;
} ne_js_msg_info;

/* nats-server's StreamState, as far as the store knows it. */
typedef struct ne_js_store_state {
    uint64_t msgs;
    uint64_t bytes;     /* ne_js_store_msg_bytes of each message */
    uint64_t first_seq; /* last_seq + 1 when empty (0 when nothing was ever stored) */
    uint64_t last_seq;
    uint64_t first_ts_ns;
    uint64_t last_ts_ns;
    uint64_t num_subjects;
} ne_js_store_state;

/* A subject's messages in the store. */
typedef struct ne_js_subject_state {
    uint64_t msgs;
    uint64_t first_seq;
    uint64_t last_seq;
} ne_js_subject_state;

/* Called for each subject with messages that matches a filter; the subject
 * text is valid for the call only. Return false to stop. */
typedef bool (*ne_js_subject_visit)(void *ctx, ne_slice subject, const ne_js_subject_state *st);

struct ne_js_store;

typedef struct ne_js_store_ops {
    /* Stores a message with sequence last_seq + 1 and time ts_ns. NE_OK
     * with *seq; NE_ERR_NOMEM when a pool of the backend is exhausted
     * (nothing stored); NE_ERR_TOO_BIG when the backend cannot hold a
     * message that large. */
    int (*append)(struct ne_js_store *st, const ne_js_msg_in *m, uint64_t ts_ns, uint64_t *seq);
    /* Moves last_seq to seq - 1 without storing anything (seq > last_seq).
     * With no messages, first_seq follows to seq. */
    int (*skip_to)(struct ne_js_store *st, uint64_t seq);
    /* The message at seq: NE_OK, NE_ERR_NOT_FOUND (never stored, or removed). */
    int (*info)(struct ne_js_store *st, uint64_t seq, ne_js_msg_info *out);
    /* Copies len bytes of the message's body (its headers then its payload)
     * from offset into dst. NE_ERR_NOT_FOUND, NE_ERR_RANGE (beyond the body). */
    int (*read)(struct ne_js_store *st, uint64_t seq, uint32_t offset, void *dst, uint32_t len);
    /* The first message at or after from whose subject matches filter
     * (len 0: every subject). NE_ERR_NOT_FOUND when none. */
    int (*next)(struct ne_js_store *st, uint64_t from, ne_slice filter, ne_js_msg_info *out);
    /* The last message whose subject matches filter (literal or not). */
    int (*last)(struct ne_js_store *st, ne_slice filter, ne_js_msg_info *out);
    /* The sequence of the first message stored at or after ts_ns
     * (last_seq + 1 when none). */
    uint64_t (*seq_at_time)(struct ne_js_store *st, uint64_t ts_ns);
    /* Messages of exactly subject (a literal): NE_OK, NE_ERR_NOT_FOUND. */
    int (*subject_state)(struct ne_js_store *st, ne_slice subject, ne_js_subject_state *out);
    /* Visits each subject with messages matching filter (len 0: all). */
    void (*each_subject)(struct ne_js_store *st, ne_slice filter, ne_js_subject_visit visit,
                         void *ctx);
    /* Messages at or after from matching filter: count, first, last. */
    void (*filtered)(struct ne_js_store *st, ne_slice filter, uint64_t from,
                     ne_js_subject_state *out);
    /* Removes the message at seq (erase: overwrite its bytes too, where the
     * backend can). NE_ERR_NOT_FOUND when it is not there. */
    int (*remove)(struct ne_js_store *st, uint64_t seq, bool erase);
    /* Makes every change so far durable (NE_OK at once for memory). */
    int (*sync)(struct ne_js_store *st);
    /* Drops every message and the store itself (the stream is deleted). */
    void (*drop)(struct ne_js_store *st);
} ne_js_store_ops;

/* The memory backend's part of a stream's store (ne_js_mem.c). */
typedef struct ne_js_mem_stream {
    uint32_t head;     /* first message's block + 1, 0 when empty */
    uint32_t tail;     /* last message's block + 1 */
    uint32_t subjects; /* the subject entries of this stream: list head + 1 */
} ne_js_mem_stream;

/* A stream's store: the backend's operations and shared state, the
 * stream's key in it, the state the backend keeps current, and the
 * backend's own part. */
typedef struct ne_js_store {
    const ne_js_store_ops *ops;
    void *backend;
    ne_js_store_state state;
    union {
        ne_js_mem_stream mem;
        struct {
            uint32_t index; /* the file backend's stream (ne_js_file.c) */
        } file;
    } impl;
    uint16_t id; /* the stream's slot: the backend's key (after impl: no padding) */
} ne_js_store;

/* Bytes a message counts for in state.bytes, max_bytes and the account's
 * usage: subject, headers and payload plus 16 (nats-server's memory store
 * counts the same). */
static inline uint64_t ne_js_store_msg_bytes(uint32_t subject_len, uint32_t hdr_len,
                                             uint32_t data_len)
{
    return (uint64_t)subject_len + hdr_len + data_len + 16u;
}

#endif
