/* A stream's storage: what JetStream sees of a stream (nats-server's
 * StreamStore), and the base of every other kind of log.
 *
 * A store keeps messages in sequence order: each append gets the next
 * sequence (or one the caller gives, for mirrors, sources and RAFT apply),
 * sequences never go backwards except by ne_store_truncate, and last_seq
 * survives a purge of everything. Messages can be looked up by sequence, as
 * the last of a subject, as the next one matching a filter from a sequence
 * (each reader keeping its own position), or by time; counted per subject and
 * per filter without reading them; and they leave by delete, erase, purge,
 * truncation, expiry or the limits (count, bytes, age, per subject) with
 * discard old or new, as JetStream defines them.
 *
 * Two backends: a log on a storage device (ne_store_attach,
 * src/store/ne_store_dev.h: durable, power-safe) and a caller's arena
 * (ne_store_mem_open, src/store/ne_store_mem.h: lost at restart). Nothing
 * allocates; the caller owns every structure and keeps it alive while the
 * store is attached or open. Not thread-safe: one event loop drives it.
 *
 * RAM: sizeof(ne_store) (216 B on x86-64) plus the subject table the
 * caller gives (sizeof(ne_store_subject) = 40 B per slot, 7/8 of them
 * usable) and its text arena (each subject's bytes plus 8, rounded up to
 * 4), or one table of a subject pool while it has subjects. A device
 * log adds its slot in the device (about 120 B) and the device's per-block
 * costs (docs/storage.md has the table).
 *
 * Durability (device logs): append, delete, purge and the rest take effect
 * at once in RAM and are written on ne_store_sync (or earlier when the write
 * buffer fills or another log writes). A change is durable once
 * ne_store_sync (or ne_store_dev_sync) has returned NE_OK after it; it then
 * survives any power loss. A change not yet synced may or may not survive,
 * but a message never comes back altered. ne_store_truncate and
 * ne_store_erase are durable when they return. The memory store has
 * nothing to sync.
 *
 * Errors common to every call: NE_ERR_IO / NE_ERR_POWER_LOSS after a flash
 * error (the device must be reopened; every call then returns it).
 */
#ifndef NE_STORE_H
#define NE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ne_pool.h"
#include "ne_config_store.h"

/* What a store does when a limit would be exceeded (JetStream's discard). */
typedef enum ne_store_discard {
    NE_STORE_DISCARD_OLD = 0, /* drop the oldest messages to make room */
    NE_STORE_DISCARD_NEW = 1, /* refuse the new message with NE_ERR_FULL */
} ne_store_discard;

/* Which limit refused the last append (ne_store_refused_by). */
typedef enum ne_store_limit {
    NE_STORE_LIMIT_NONE = 0,
    NE_STORE_LIMIT_MSGS,             /* max_msgs, discard new ("maximum messages exceeded") */
    NE_STORE_LIMIT_BYTES,            /* max_bytes, discard new ("maximum bytes exceeded") */
    NE_STORE_LIMIT_MSG_SIZE,         /* max_msg_size or the backend's largest record */
    NE_STORE_LIMIT_MSGS_PER_SUBJECT, /* max_msgs_per_subject with discard_new_per_subject */
    NE_STORE_LIMIT_SUBJECTS,         /* the subject table (or its text arena) is full */
    NE_STORE_LIMIT_SPACE,            /* the arena, the log's block quota or the device is full
                                      * of messages it may not drop */
} ne_store_limit;

/* Limits of a store; 0 means unlimited for every number. JetStream's -1
 * maps to 0. max_bytes counts ne_store_msg_bytes() of each message. */
typedef struct ne_store_limits {
    uint64_t max_msgs;
    uint64_t max_bytes;
    uint64_t max_age_ns;         /* applied by ne_store_expire */
    uint32_t max_msg_size_bytes; /* subject + headers + payload */
    uint32_t
        max_msgs_per_subject; /* oldest of the subject leaves, unless discard_new_per_subject */
    ne_store_discard discard;
    /* With discard new: a subject at max_msgs_per_subject refuses new
     * messages instead of dropping its oldest (JetStream's option). */
    bool discard_new_per_subject;
} ne_store_limits;

/* A message. For append, seq is ignored and the pointers are read during the
 * call only. For loads, the pointers point into the caller's buffer. */
typedef struct ne_store_msg {
    uint64_t seq;
    uint64_t timestamp_ns; /* wall clock, nanoseconds since the Unix epoch */
    const char *subject;
    size_t subject_len;
    const uint8_t *headers; /* NATS/1.0 header block, or NULL with headers_len 0 */
    size_t headers_len;
    const uint8_t *payload;
    size_t payload_len;
} ne_store_msg;

/* JetStream's stream state, plus what recovery found. */
typedef struct ne_store_state {
    uint64_t msgs;
    uint64_t bytes;     /* sum of ne_store_msg_bytes of the messages */
    uint64_t first_seq; /* last_seq + 1 when empty */
    uint64_t last_seq;  /* highest sequence ever assigned (kept across purges) */
    uint64_t first_ts_ns;
    uint64_t last_ts_ns;
    uint64_t num_deleted; /* gaps between first_seq and last_seq (interior deletes) */
    uint32_t num_subjects;
    /* Records that failed their CRC (bit rot, a torn write) and were dropped,
     * counted since open. Their sequences read as not found. */
    uint64_t corrupt_records;
    /* Messages whose subject did not fit in the subject table (or its text
     * arena): readable by sequence and by filter, but not counted per
     * subject (per-subject limits and last-of-subject lookups scan for them,
     * and subject queries leave them out). */
    uint64_t untracked_msgs;
} ne_store_state;

/* Messages, first and last sequence of a subject or a filter (JetStream's
 * SimpleState). All 0 when none. */
typedef struct ne_store_simple_state {
    uint64_t msgs;
    uint64_t first_seq;
    uint64_t last_seq;
} ne_store_simple_state;

/* One entry of the subject table (40 B). Opaque to callers; declared here so
 * that the caller can size its storage. */
typedef struct ne_store_subject {
    uint64_t hash;      /* 0: free slot */
    uint64_t first_seq; /* no live message of the subject is below this */
    uint64_t last_seq;
    uint32_t msgs;
    uint32_t text_off; /* its bytes in the text arena, or 0xffffffff */
    uint16_t text_len;
    uint16_t flags;
    uint32_t reserved;
} ne_store_subject;

/* Size classes of subject tables shared by many stores (ne_store_config's
 * subject_pool): a store starts with no table, takes one of the smallest
 * class at its first subject, and when it fills (entries or text) moves its
 * index into a table of the next larger class that is free, returning the
 * one it had. The total is bounded by the classes' sizes and counts, not by
 * the number of stores times the largest table. When no larger table is
 * free the store keeps the one it has: a new subject is then refused
 * (NE_ERR_FULL, NE_STORE_LIMIT_SUBJECTS) when the entries are full, and
 * stored unindexed (state.untracked_msgs) when only the text is. A store
 * gives its table back when it detaches or holds no subject any more. */
#define NE_STORE_SUBJECT_CLASSES 6

/* Bytes of one table of a class: the entries, then the text arena. */
#define NE_STORE_SUBJECT_TABLE_BYTES(entries, text_bytes)                                          \
    ((size_t)(entries) * sizeof(ne_store_subject) + (size_t)(text_bytes))

typedef struct ne_store_subject_class {
    uint32_t entries;    /* a power of two, at least 8 */
    uint32_t text_bytes; /* a multiple of 8 */
    ne_pool tables;
} ne_store_subject_class;

typedef struct ne_store_subject_pool {
    ne_store_subject_class classes[NE_STORE_SUBJECT_CLASSES];
    uint32_t class_count;
    uint32_t moves;   /* indexes moved into a larger table */
    uint32_t refused; /* a larger table was wanted and none was free */
} ne_store_subject_pool;

/* An empty pool (no class yet). */
void ne_store_subject_pool_init(ne_store_subject_pool *pool);

/* Adds the next larger class: `tables` tables of `entries` entries (a power
 * of two, at least 8) and `text_bytes` of text (a multiple of 8, > 0) in
 * storage of tables * NE_STORE_SUBJECT_TABLE_BYTES(entries, text_bytes)
 * bytes, aligned for uint64_t. Classes are added smallest first, each
 * larger than the one before in both entries and text. NE_ERR_INVALID
 * otherwise, NE_ERR_FULL beyond NE_STORE_SUBJECT_CLASSES. tables 0 adds
 * nothing. */
int ne_store_subject_pool_add(ne_store_subject_pool *pool, const char *name, uint32_t entries,
                              uint32_t text_bytes, void *storage, uint32_t tables);

/* Tables handed out, all classes together (0 when every store gave its
 * back). */
uint32_t ne_store_subject_pool_in_use(const ne_store_subject_pool *pool);

#define NE_STORE_NO_CLASS 0xffffffffu

/* Subjects are keys: any bytes, no wildcards, no subject grammar (KV logs,
 * the catalogue). Filters then match keys exactly, or by a prefix ending in
 * '>' ("session.>" matches every key that starts with "session."). */
#define NE_STORE_RAW_KEYS 1u

/* What attaching or opening a store needs besides its backend. subjects
 * has subject_capacity entries, a power of two; 7/8 of them (all when fewer
 * than 8) can be used before the table counts as full. subject_capacity 0
 * (subjects NULL): no subject index at all (logs whose records need none:
 * consumer state, RAFT). subject_text (subject_text_bytes, at most 2^31)
 * keeps the subjects' bytes for wildcard subject queries; without it,
 * ne_store_subjects_state and wildcard counts return NE_ERR_UNSUPPORTED.
 * subject_pool instead of subjects (subjects NULL, subject_capacity and
 * subject_text_bytes 0): the table comes from the pool and grows there
 * (ne_store_subject_pool above); the pool outlives the store. */
typedef struct ne_store_config {
    ne_store_limits limits;
    ne_store_subject_pool *subject_pool;
    ne_store_subject *subjects;
    uint32_t subject_capacity;
    char *subject_text;
    uint32_t subject_text_bytes;
    uint32_t max_blocks; /* device logs: erase blocks it may hold, 0: no limit but the device's */
    uint32_t flags;      /* NE_STORE_RAW_KEYS */
} ne_store_config;

/* A purge request (JetStream's STREAM.PURGE). subject NULL purges every
 * subject, otherwise only messages matching it (wildcards allowed). With
 * up_to_seq > 0 only messages below that sequence go; with keep > 0 the
 * newest `keep` (matching) messages stay. Both 0: everything (matching). */
typedef struct ne_store_purge_req {
    const char *subject;
    size_t subject_len;
    uint64_t up_to_seq;
    uint64_t keep;
} ne_store_purge_req;

/* A reader's own position in a store (a consumer's), so that readers at
 * different places do not evict each other's. Zero it (or call
 * ne_store_reader_init) before first use; it needs no other care. */
typedef struct ne_store_reader {
    uint64_t serial;
    uint64_t seq;
    uint32_t block;
    uint32_t pos;
    uint32_t pack_off;
    uint32_t ipos;
    uint32_t flushed_to;
    bool in_pack;
} ne_store_reader;

struct ne_store_backend;

/* A store. Fill it with ne_store_attach or ne_store_mem_open. */
typedef struct ne_store {
    const struct ne_store_backend *backend;
    void *impl;
    ne_store_limits limits;
    ne_store_state state;
    ne_store_subject *subjects;
    uint32_t subject_capacity;
    uint32_t subject_max;
    char *subject_text;
    uint32_t subject_text_bytes;
    uint32_t subject_text_used;          /* bump pointer in the arena */
    uint32_t subject_text_dead;          /* bytes of freed texts below it */
    ne_store_limit refused;              /* (here: no padding before the pointer) */
    ne_store_subject_pool *subject_pool; /* NULL: the caller's table */
    uint32_t subject_class;              /* the pool's class held, NE_STORE_NO_CLASS: none */
    uint32_t flags;
    uint64_t first_stale_from; /* subjects' first_seq may lag; fixed on demand */
    /* max_msgs_per_subject could not be applied for want of space for a
     * tombstone (at attach or set_limits on a full device): applied again
     * at the next append, sync and compaction. */
    bool limits_deferred;
} ne_store;

/* Bytes a message counts for in state.bytes and max_bytes: subject, headers
 * and payload plus 16 for sequence and timestamp (nats-server's memory
 * store counts the same way). */
uint64_t ne_store_msg_bytes(size_t subject_len, size_t headers_len, size_t payload_len);

/* ---- Storing -------------------------------------------------------------- */

/* Appends a message (StoreMsg); *seq_out (may be NULL) gets its sequence.
 * Errors: NE_ERR_INVALID (empty or over-long subject, wildcard in it),
 * NE_ERR_TOO_BIG (larger than max_msg_size or than the backend can hold;
 * refused_by MSG_SIZE), NE_ERR_FULL (a limit with discard new, the subject
 * table, or no space; ne_store_refused_by says which). With discard old,
 * older messages are dropped to satisfy the limits before this returns, and
 * to make room when the space runs out: on a device the messages of the
 * log's oldest block, none when that cannot make room (its messages all in
 * its newest block, the device held by other logs: NE_ERR_FULL, SPACE, and
 * nothing removed).
 * When max_msgs_per_subject makes the subject's oldest message leave, the
 * new record carries its removal: after a power cut, either both happened
 * or neither. */
int ne_store_append(ne_store *store, const ne_store_msg *msg, uint64_t *seq_out);

/* Appends at a sequence the caller gives (StoreRawMsg: mirrors, sources,
 * RAFT apply): seq must be above last_seq (NE_ERR_RANGE otherwise); the
 * sequences in between are skipped (never stored). Other errors as
 * ne_store_append. */
int ne_store_append_at(ne_store *store, const ne_store_msg *msg, uint64_t seq);

/* Skips the next `count` sequences (SkipMsg/SkipMsgs): they are assigned,
 * hold nothing, and last_seq moves past them (an empty store's first_seq
 * follows). *first_out (may be NULL) gets the first skipped. */
int ne_store_skip(ne_store *store, uint64_t count, uint64_t *first_out);

/* The limit that refused the most recent failed append (NONE after success). */
ne_store_limit ne_store_refused_by(const ne_store *store);

/* Largest subject + headers + payload one message may have here (the
 * backend's bound: a device log's erase block and write buffer, a memory
 * store's arena); max_msg_size may only lower it. */
size_t ne_store_max_msg_bytes(const ne_store *store);

/* ---- Reading -------------------------------------------------------------- */

/* Loads message `seq`. Its subject, headers and payload are copied into buf
 * and *out points into it. NE_ERR_NOT_FOUND when it never existed or was
 * removed, NE_ERR_CORRUPT when its record failed the CRC (never returned as
 * data), NE_ERR_TOO_BIG when buf is too small (out's lengths then say what is
 * needed, its pointers are NULL). */
int ne_store_load(ne_store *store, uint64_t seq, ne_store_msg *out, void *buf, size_t buf_bytes);

/* Loads the newest message whose subject is exactly `subject` (no
 * wildcards: NE_ERR_INVALID). Errors as ne_store_load. */
int ne_store_load_last(ne_store *store, const char *subject, size_t subject_len, ne_store_msg *out,
                       void *buf, size_t buf_bytes);

/* Loads the newest message matching a filter (wildcards allowed; NULL or
 * ">" match all): LoadLastMsg with a wildcard. Needs the text arena for a
 * wildcard (NE_ERR_UNSUPPORTED without). Errors as ne_store_load. */
int ne_store_load_last_matching(ne_store *store, const char *filter, size_t filter_len,
                                ne_store_msg *out, void *buf, size_t buf_bytes);

/* Loads the first message with sequence >= from_seq whose subject matches
 * `filter` (wildcards allowed; NULL or ">" match all). NE_ERR_NOT_FOUND when
 * there is none. Errors as ne_store_load. Uses the store's own position. */
int ne_store_load_next(ne_store *store, uint64_t from_seq, const char *filter, size_t filter_len,
                       ne_store_msg *out, void *buf, size_t buf_bytes);

/* As ne_store_load_next, keeping the position in *reader: each consumer
 * reading a store keeps its own, so readers at different places do not
 * slow each other down. */
void ne_store_reader_init(ne_store_reader *reader);
int ne_store_read_next(ne_store *store, ne_store_reader *reader, uint64_t from_seq,
                       const char *filter, size_t filter_len, ne_store_msg *out, void *buf,
                       size_t buf_bytes);

/* The first sequence whose message has a time at or after ts_ns
 * (GetSeqFromTime; deliver policy by start time): last_seq + 1 when none.
 * Times need not grow with sequences (mirrored messages keep theirs). */
int ne_store_seq_for_time(ne_store *store, uint64_t ts_ns, uint64_t *seq_out);

/* ---- Counting without reading --------------------------------------------- */

/* Messages of exactly `subject` and the sequence of its newest. *msgs is 0
 * (and NE_ERR_NOT_FOUND returned) when the subject has none. */
int ne_store_subject_state(ne_store *store, const char *subject, size_t subject_len, uint64_t *msgs,
                           uint64_t *last_seq);

/* Messages at or after from_seq matching a filter (wildcards allowed; NULL
 * or ">" all), with the first and last of them (FilteredState). From the
 * subject table; messages of a subject that straddles from_seq are counted
 * by reading the shorter side. A wildcard needs the text arena
 * (NE_ERR_UNSUPPORTED). */
int ne_store_filtered_state(ne_store *store, uint64_t from_seq, const char *filter,
                            size_t filter_len, ne_store_simple_state *out);

/* What a consumer has pending from from_seq (NumPending): the messages
 * matching the filter, or with last_per_subject the subjects whose newest
 * matching message is at or after from_seq. Errors as filtered_state. */
int ne_store_num_pending(ne_store *store, uint64_t from_seq, const char *filter, size_t filter_len,
                         bool last_per_subject, uint64_t *count);

/* Calls fn for each subject matching the filter (SubjectsState,
 * SubjectsTotals, MultiLastSeqs, KV keys): its bytes (valid during the
 * call), messages, first and last sequence. fn returns NE_OK to go on,
 * anything else to stop (returned as is). Subjects come in table order.
 * Needs the text arena (NE_ERR_UNSUPPORTED). */
typedef int (*ne_store_subject_fn)(void *ctx, const char *subject, size_t subject_len,
                                   const ne_store_simple_state *st);
int ne_store_subjects_state(ne_store *store, const char *filter, size_t filter_len,
                            ne_store_subject_fn fn, void *ctx);

/* Calls fn(ctx, first, count) for each run of missing sequences between
 * first_seq and last_seq (the interior deletes stream info reports), in
 * order; fn returns NE_OK to go on. Reads every message's header. */
typedef int (*ne_store_gap_fn)(void *ctx, uint64_t first_seq, uint64_t count);
int ne_store_deleted(ne_store *store, ne_store_gap_fn fn, void *ctx);

/* The current state. */
void ne_store_get_state(const ne_store *store, ne_store_state *out);

/* ---- Removing ------------------------------------------------------------- */

/* Removes message `seq` (RemoveMsg). NE_ERR_NOT_FOUND if it is not there;
 * NE_ERR_FULL if the device has no room even for the deletion record. */
int ne_store_delete(ne_store *store, uint64_t seq);

/* Removes message `seq` and destroys its bytes (EraseMsg): on a device, the
 * erase block holding it is rewritten without it and erased before this
 * returns (durable then). NE_ERR_NOT_FOUND if it is not there; NE_ERR_FULL
 * if the block cannot be rewritten (no free block, or its other records do
 * not fit in one): then nothing changed, the message is still there (a
 * plain ne_store_delete may still go in). */
int ne_store_erase(ne_store *store, uint64_t seq);

/* Purges as req says (NULL req: everything); *purged (may be NULL) gets the
 * number of messages removed. A purge of everything keeps last_seq. On an
 * error part of the purge may have happened; the state is consistent. */
int ne_store_purge(ne_store *store, const ne_store_purge_req *req, uint64_t *purged);

/* Removes every message below seq (Compact); with seq above last_seq + 1,
 * the store is emptied and sequences go on from seq (first_seq = seq,
 * last_seq = seq - 1). *purged (may be NULL) gets how many left. */
int ne_store_set_first(ne_store *store, uint64_t seq, uint64_t *purged);

/* Removes every message above last_seq and makes last_seq the last
 * sequence (Truncate; RAFT's truncate suffix): the next append gets
 * last_seq + 1. last_seq below first_seq - 1 is NE_ERR_RANGE (an empty
 * store: below the last removal); above the current last_seq nothing
 * changes. Durable when it returns. NE_ERR_FULL when a device has no room
 * to rewrite the blocks involved: then nothing changed. */
int ne_store_truncate(ne_store *store, uint64_t last_seq);

/* Drops messages older than max_age_ns at now_ns, whatever their place:
 * times need not grow with sequences. *expired (may be NULL) gets how many
 * left. Call it from a timer. */
int ne_store_expire(ne_store *store, uint64_t now_ns, uint64_t *expired);

/* Changes the limits; messages over the new limits are dropped at once
 * (oldest first). On a device with no room for a tombstone, what
 * max_msgs_per_subject drops from inside the stream stays until there is
 * room (the next append, sync or compaction applies the limit again): as at
 * attach, a full device never makes this fail with NE_ERR_FULL. */
int ne_store_set_limits(ne_store *store, const ne_store_limits *limits);

/* ---- Durability and space --------------------------------------------------- */

/* Makes every change so far durable (device: program buffered records, then
 * the port's sync). */
int ne_store_sync(ne_store *store);

/* Reclaims space taken by removed messages: a device erases whole blocks
 * (moving the few live records they hold), the memory store moves live
 * records over holes. *reclaimed (may be NULL) gets how many erase blocks
 * (device) or records moved (memory). */
int ne_store_compact(ne_store *store, uint32_t *reclaimed);

#endif
