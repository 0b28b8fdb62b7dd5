/* The storage engine: one interface over two stores.
 *
 * A store keeps the messages of one stream in sequence order: every append
 * gets the next sequence number, sequences never go backwards (not even
 * after a purge of everything), and a message can be looked up by sequence,
 * as the last one of a subject, or as the next one matching a subject filter
 * from a sequence. Messages leave by delete, purge, or the limits (count,
 * bytes, age, per subject) with discard old or new, as JetStream defines them.
 *
 * Two backends implement it: ne_store_mem (src/store/ne_store_mem.h) over an
 * arena the caller gives, and ne_store_flash (src/store/ne_store_flash.h), a
 * power-safe log over the port's flash. Open one of them, then use only the
 * functions below. Nothing allocates; the caller owns every structure and
 * must keep them alive while the store is open. Not thread-safe: one event
 * loop drives it.
 *
 * Durability (flash store): append, delete and purge take effect at once in
 * RAM and are written on ne_store_sync (or earlier, when the write buffer
 * fills). A change is durable once ne_store_sync has returned NE_OK after it:
 * it then survives any power loss. A change not yet synced may or may not
 * survive, but never comes back corrupted. The memory store has nothing to
 * sync; its ne_store_sync returns NE_OK.
 *
 * Subjects are indexed in a bounded table of ne_store_subject the caller
 * provides (one entry per distinct subject with messages in the store). When
 * it is full, an append on a new subject is refused with NE_ERR_FULL and
 * ne_store_refused_by() == NE_STORE_LIMIT_SUBJECTS, whatever the discard
 * policy; subjects already present keep working, and a subject whose last
 * message leaves frees its entry. Entries hold a 64-bit hash of the subject,
 * not its text: lookups check the text against the stored record.
 */
#ifndef NE_STORE_H
#define NE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
    NE_STORE_LIMIT_SUBJECTS,         /* the subject table is full */
    NE_STORE_LIMIT_SPACE,            /* the arena or flash is full of messages it may not drop */
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
    uint64_t num_deleted; /* gaps between first_seq and last_seq */
    uint32_t num_subjects;
    /* Records that failed their CRC (bit rot, a torn write) and were dropped,
     * counted since open. Their sequences read as not found. */
    uint64_t corrupt_records;
    /* Messages found at recovery whose subject did not fit in the subject
     * table: readable by sequence and by filter, but not counted per subject
     * (per-subject limits and last-of-subject lookups scan for them). */
    uint64_t untracked_msgs;
} ne_store_state;

/* One entry of the subject table (32 B). Opaque to callers; declared here so
 * that the caller can size its storage. */
typedef struct ne_store_subject {
    uint64_t hash;      /* 0: free slot */
    uint64_t first_seq; /* no live message of the subject is below this */
    uint64_t last_seq;
    uint32_t msgs;
    uint32_t flags;
} ne_store_subject;

/* What opening a store needs besides its backend. subjects has
 * subject_capacity entries, a power of two; 7/8 of them (all when fewer
 * than 8) can be used before the table counts as full. */
typedef struct ne_store_config {
    ne_store_limits limits;
    ne_store_subject *subjects;
    uint32_t subject_capacity;
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

struct ne_store_backend;

/* A store. Fill it with ne_store_mem_open or ne_store_flash_open. */
typedef struct ne_store {
    const struct ne_store_backend *backend;
    void *impl;
    ne_store_limits limits;
    ne_store_state state;
    ne_store_subject *subjects;
    uint32_t subject_capacity;
    uint32_t subject_max;
    ne_store_limit refused;
} ne_store;

/* Bytes a message counts for in state.bytes and max_bytes: subject, headers
 * and payload plus 16 for sequence and timestamp (nats-server's memory
 * store counts the same way). */
uint64_t ne_store_msg_bytes(size_t subject_len, size_t headers_len, size_t payload_len);

/* Appends a message; *seq_out gets its sequence. Errors: NE_ERR_INVALID (empty
 * or over-long subject, wildcard in it), NE_ERR_TOO_BIG (larger than
 * max_msg_size or than the backend can hold; refused_by MSG_SIZE),
 * NE_ERR_FULL (a limit with discard new, the subject table, or no space;
 * ne_store_refused_by says which), NE_ERR_IO / NE_ERR_POWER_LOSS from flash
 * (the store must then be reopened). With discard old, older messages are
 * dropped to satisfy the limits before this returns. */
int ne_store_append(ne_store *store, const ne_store_msg *msg, uint64_t *seq_out);

/* The limit that refused the most recent failed append (NONE after success). */
ne_store_limit ne_store_refused_by(const ne_store *store);

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

/* Loads the first message with sequence >= from_seq whose subject matches
 * `filter` (wildcards allowed; NULL or ">" match all). NE_ERR_NOT_FOUND when
 * there is none. Errors as ne_store_load. */
int ne_store_load_next(ne_store *store, uint64_t from_seq, const char *filter, size_t filter_len,
                       ne_store_msg *out, void *buf, size_t buf_bytes);

/* Removes message `seq`. NE_ERR_NOT_FOUND if it is not there; NE_ERR_FULL if
 * the flash has no room even for the deletion record. */
int ne_store_delete(ne_store *store, uint64_t seq);

/* Purges as req says (NULL req: everything); *purged (may be NULL) gets the
 * number of messages removed. A purge of everything keeps last_seq. On an
 * error part of the purge may have happened; the state is consistent. */
int ne_store_purge(ne_store *store, const ne_store_purge_req *req, uint64_t *purged);

/* Drops messages older than max_age_ns at now_ns (from the front, as
 * nats-server does). *expired (may be NULL) gets how many left. */
int ne_store_expire(ne_store *store, uint64_t now_ns, uint64_t *expired);

/* Changes the limits; with discard old, messages over the new limits are
 * dropped at once (oldest first). */
int ne_store_set_limits(ne_store *store, const ne_store_limits *limits);

/* Makes every change so far durable (flash: program buffered records, then
 * the port's sync). */
int ne_store_sync(ne_store *store);

/* Reclaims space taken by removed messages: the flash store erases whole
 * blocks (moving the few live records they hold), the memory store moves
 * live records over holes. *blocks_freed (may be NULL) gets how many erase
 * blocks (flash) or records moved (memory). */
int ne_store_compact(ne_store *store, uint32_t *reclaimed);

/* The current state. */
void ne_store_get_state(const ne_store *store, ne_store_state *out);

/* Messages of exactly `subject` and the sequence of its newest. *msgs is 0
 * (and NE_ERR_NOT_FOUND returned) when the subject has none. */
int ne_store_subject_state(ne_store *store, const char *subject, size_t subject_len, uint64_t *msgs,
                           uint64_t *last_seq);

#endif
