/* A RAFT log on a storage device: entries by index with their term, the
 * current term and vote, and a snapshot that lets the log drop its prefix.
 *
 * Entries are records of a log of kind NE_STORE_KIND_RAFT (the record's
 * sequence is the entry's index, its time field the term). The term and
 * vote, and the snapshot (index, term, the caller's bytes), are records of
 * the device's catalogue log under keys of their own, replaced atomically.
 *
 * Durability: ne_store_raft_set_term_vote, ne_store_raft_snapshot and
 * ne_store_raft_truncate are durable when they return (RAFT must not answer
 * before its term, vote or a truncation is on the medium); appended entries
 * are durable once ne_store_raft_sync (or ne_store_dev_sync) has returned.
 *
 * RAM: sizeof(ne_store_raft) (about 250 B); no subject table. An entry is
 * at most one record (ne_store_max_msg_bytes of the log); the snapshot's
 * bytes at most NE_STORE_MAX_CONFIG_BYTES.
 */
#ifndef NE_STORE_RAFT_H
#define NE_STORE_RAFT_H

#include <stddef.h>
#include <stdint.h>

#include "store/ne_store.h"
#include "store/ne_store_dev.h"

typedef struct ne_store_raft {
    ne_store log;
    ne_store_dev *dev;
    uint32_t id;
    uint64_t term;
    uint64_t vote;           /* the candidate voted for in `term` (the caller's peer id), 0: none */
    uint64_t snapshot_index; /* the last index the snapshot covers, 0: none */
    uint64_t snapshot_term;
} ne_store_raft;

/* Attaches a RAFT log (kind RAFT, created with ne_store_dev_create) and
 * reads its term, vote and snapshot. Entries after the first one missing
 * (unsynced entries lost in any order behind a write cache, or damage) are
 * cut off, durably: every index up to last_index is held. Errors as
 * ne_store_attach, and NE_ERR_FULL when that cut finds no room. */
int ne_store_raft_attach(ne_store_raft *r, ne_store_dev *dev, uint32_t id);

int ne_store_raft_detach(ne_store_raft *r);

/* Appends entry `index` of `term`: index must be last_index + 1
 * (NE_ERR_RANGE otherwise; after a snapshot the log may restart at
 * snapshot_index + 1). NE_ERR_TOO_BIG when it does not fit one record,
 * NE_ERR_FULL when the device (or the log's block quota) has no room: no
 * entry is ever dropped to make room, a snapshot and a sync do that. */
int ne_store_raft_append(ne_store_raft *r, uint64_t index, uint64_t term, const void *data,
                         size_t len);

/* Loads entry `index`: *term, its bytes into buf, *len their length.
 * NE_ERR_NOT_FOUND outside [first_index, last_index], NE_ERR_TOO_BIG when
 * buf is short (*len says what is needed). */
int ne_store_raft_entry(ne_store_raft *r, uint64_t index, uint64_t *term, void *buf,
                        size_t buf_bytes, size_t *len);

/* First and last index held, and the last entry's term (0, 0 and the
 * snapshot's term when empty: last_index is then snapshot_index). */
uint64_t ne_store_raft_first_index(const ne_store_raft *r);
uint64_t ne_store_raft_last_index(const ne_store_raft *r);
int ne_store_raft_last_term(ne_store_raft *r, uint64_t *term);

/* Removes every entry after `index` (a follower's conflicting suffix);
 * durable when it returns. NE_ERR_RANGE below the snapshot. */
int ne_store_raft_truncate(ne_store_raft *r, uint64_t index);

/* Stores the current term and vote, durable when it returns. The term
 * never goes down (NE_ERR_RANGE). */
int ne_store_raft_set_term_vote(ne_store_raft *r, uint64_t term, uint64_t vote);

/* Stores a snapshot covering every entry up to `index` (of `term`), durable
 * when it returns, then drops those entries (their removal is durable at
 * the next sync). NE_ERR_TOO_BIG over NE_STORE_MAX_CONFIG_BYTES. */
int ne_store_raft_snapshot(ne_store_raft *r, uint64_t index, uint64_t term, const void *data,
                           size_t len);

/* Loads the snapshot's bytes into buf (*len their length). NE_ERR_NOT_FOUND
 * when there is none, NE_ERR_TOO_BIG when buf is short. */
int ne_store_raft_load_snapshot(ne_store_raft *r, void *buf, size_t buf_bytes, size_t *len);

/* Makes appended entries durable. */
int ne_store_raft_sync(ne_store_raft *r);

#endif
