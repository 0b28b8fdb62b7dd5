/* The subject table of a store: an open-addressing hash table (linear
 * probing, backward-shift removal) of ne_store_subject keyed by a 64-bit
 * subject hash, over caller storage, with the subjects' bytes in an arena
 * beside it (when the caller gave one). Internal to src/store.
 *
 * Arena: chunks of [entry index (u32), length (u16), 0 (u16), bytes, padding
 * to 4], appended at the end; a removed subject's chunk is marked dead, and
 * the arena is packed (live chunks moved down, their entries told) when an
 * append does not fit. Each entry knows its chunk, each chunk its entry (kept
 * right as entries move).
 */
#ifndef NE_STORE_SUBJECTS_H
#define NE_STORE_SUBJECTS_H

#include <stdbool.h>
#include <stdint.h>

#include "store/ne_store.h"

/* Set in ne_store_subject.flags when last_seq may be too high (the newest
 * message of the subject was removed); it is recomputed on the next use. */
#define NE_STORE_SUBJECT_LAST_STALE 1u
/* Set when first_seq may be too low (the oldest was removed). */
#define NE_STORE_SUBJECT_FIRST_STALE 2u

#define NE_STORE_NO_TEXT 0xffffffffu

/* Entries a table of this capacity may hold before it counts as full. */
uint32_t ne_store_subjects_max(uint32_t capacity);

/* Clears every slot and the arena (a pool's table is given back). */
void ne_store_subjects_clear(ne_store *store);

/* Index of the entry of this subject (its bytes compared when the arena
 * holds them), or -1. */
int32_t ne_store_subjects_find(const ne_store *store, uint64_t hash, const char *subject,
                               size_t len);

/* Index of an entry with this hash (the first one), or -1: for removals,
 * which know only the hash. */
int32_t ne_store_subjects_find_hash(const ne_store *store, uint64_t hash);

/* Claims a free slot for the subject (absent, table not full) and returns
 * its index, zeroed except for the hash and its bytes; -1 when the arena
 * has no room for them (nothing changed). */
int32_t ne_store_subjects_insert(ne_store *store, uint64_t hash, const char *subject, size_t len);

/* Frees slot index; other entries may move (indexes are not stable). */
void ne_store_subjects_remove(ne_store *store, uint32_t index);

/* Room for one more subject of len bytes beside `count` subjects: with a
 * pool, a store whose entries or text are short moves into a larger table
 * (ne_store_subjects_grow). True when the entries have room (the text may
 * still be short: ne_store_subjects_insert then fails). */
bool ne_store_subjects_make_room(ne_store *store, uint32_t count, size_t len);

/* Moves the index into a table of the pool's smallest class above the one
 * held whose usable entries hold `entries` and whose text holds
 * `text_bytes`; false when none is free (counted in the pool's refused,
 * nothing changed). Entry indexes change. */
bool ne_store_subjects_grow(ne_store *store, uint32_t entries, uint32_t text_bytes);

/* Gives a pool's table back (the store then has none); nothing for a
 * caller's table. */
void ne_store_subjects_release(ne_store *store);

/* The subject's bytes, or NULL when the arena does not hold them. */
const char *ne_store_subjects_text(const ne_store *store, uint32_t index, size_t *len);

#endif
