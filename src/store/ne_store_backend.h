/* The contract between the store front end (ne_store.c: limits, subject
 * table, state) and a backend (a device log or memory). Internal to
 * src/store.
 *
 * The front end decides what leaves and keeps the counts; a backend keeps
 * records, finds them and records removals durably. Sequences handed to
 * append always grow (gaps are skipped sequences).
 */
#ifndef NE_STORE_BACKEND_H
#define NE_STORE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/ne_store.h"

/* What the front end needs to know about a record it removes or finds. The
 * location fields are the backend's own (device: block and ordinal; memory:
 * arena offset) and let it remove without searching again. */
typedef struct ne_store_rec_info {
    uint64_t seq;
    uint64_t timestamp_ns;
    uint64_t subject_hash;
    uint32_t bytes; /* ne_store_msg_bytes */
    uint32_t loc_block;
    uint32_t loc_index;
} ne_store_rec_info;

/* A subject filter as a backend applies it. */
typedef struct ne_store_filter {
    const char *subject; /* NULL: every subject */
    size_t subject_len;
    bool literal; /* no wildcard: compare bytes */
    bool prefix;  /* raw keys: subject is a prefix (the filter ended in '>') */
} ne_store_filter;

typedef struct ne_store_backend {
    /* Stores msg as `seq` (above every sequence so far). With replace
     * non-NULL, the record also removes that one (found by the front end;
     * the backend finds it again if it moved) in the same write, and
     * *replace is updated to where it was. NE_ERR_FULL when there is no
     * room now (the front end may drop old messages and retry),
     * NE_ERR_TOO_BIG when the record can never fit. */
    int (*append)(void *impl, const ne_store_msg *msg, uint64_t seq, uint64_t subject_hash,
                  ne_store_rec_info *replace);
    /* Finds the first live record with seq >= from_seq that matches filter
     * (NULL: any). Fills *info; with out non-NULL also copies the message into
     * buf (NE_ERR_TOO_BIG with lengths set when it does not fit). A record
     * that fails its CRC is skipped and counted, or, when it is exactly
     * from_seq and exact is set, reported as NE_ERR_CORRUPT. reader (may be
     * NULL: the store's own) is where the previous lookup stopped. */
    int (*find)(void *impl, uint64_t from_seq, bool exact, const ne_store_filter *filter,
                ne_store_msg *out, void *buf, size_t buf_bytes, ne_store_rec_info *info,
                ne_store_reader *reader);
    /* The first live record at or after from_seq whose time is <= max_ts_ns
     * or >= min_ts_ns (whichever is asked: older when older is set). */
    int (*find_time)(void *impl, uint64_t from_seq, uint64_t ts_ns, bool older,
                     ne_store_rec_info *info);
    /* Removes the record found as *info. With tombstone, the removal is
     * recorded durably (an interior delete); without, the caller moves the
     * floor past it with set_floor. */
    int (*remove)(void *impl, const ne_store_rec_info *info, bool tombstone);
    /* Every record below floor_seq is gone (already removed one by one, or
     * all records when `all` is set). next_seq (>= floor_seq) is one past
     * the highest sequence assigned (skips move it without records). */
    int (*set_floor)(void *impl, uint64_t floor_seq, uint64_t next_seq, bool all);
    /* Every record above last_seq is gone (the front end has removed them
     * from its counts) and the next sequence is last_seq + 1; durable when
     * it returns. */
    int (*truncate)(void *impl, uint64_t last_seq);
    /* The bytes of the (already removed) record *info are destroyed:
     * durable when it returns. */
    int (*erase)(void *impl, const ne_store_rec_info *info);
    int (*sync)(void *impl);
    int (*compact)(void *impl, uint32_t *reclaimed);
    /* After append returned NE_ERR_FULL: the highest sequence such that
     * removing every message up to it can make room for a retry (the
     * oldest block's records), or 0 when removing messages of this store
     * cannot make room (its space is its newest block, or other logs hold
     * the device). Discard old removes those messages, then retries. */
    uint64_t (*room_by_dropping)(void *impl);
    /* Largest subject + headers + payload one record may carry. */
    size_t (*max_record_bytes)(void *impl);
    /* NE_OK, or the sticky error that makes the store refuse everything
     * until it is opened again. */
    int (*status)(void *impl);
} ne_store_backend;

/* Subject hash as the subject table keeps it (never 0). */
uint64_t ne_store_subject_hash(const char *subject, size_t len);

/* Front-end hooks for a backend rebuilding its index at open. */
void ne_store_recovered_add(ne_store *store, uint64_t seq, uint64_t timestamp_ns,
                            const char *subject, size_t subject_len, uint32_t bytes);
void ne_store_recovered_remove(ne_store *store, uint64_t seq, uint64_t subject_hash,
                               uint32_t bytes);
/* Called once the backend has replayed everything: last_seq is the highest
 * sequence ever assigned, last_ts_ns its time if known. Messages over the
 * limits (removals that had not become durable) leave again here. */
int ne_store_recovered_done(ne_store *store, uint64_t last_seq, uint64_t last_ts_ns);

/* Common part of opening: checks cfg and resets the front end. */
int ne_store_init_common(ne_store *store, const ne_store_config *cfg,
                         const ne_store_backend *backend, void *impl);

/* Lays a loaded message out in the caller's buffer: subject, headers and
 * payload back to back from buf (so a backend copies them in one go), with
 * out's pointers set. NE_ERR_TOO_BIG, lengths set and pointers NULL, when
 * they do not fit. */
int ne_store_out_layout(ne_store_msg *out, void *buf, size_t buf_bytes, uint64_t seq,
                        uint64_t timestamp_ns, size_t subject_len, size_t headers_len,
                        size_t payload_len);

/* True when a record of subject text matches the filter. */
bool ne_store_filter_matches(const ne_store_filter *filter, const char *subject, size_t len);

#endif
