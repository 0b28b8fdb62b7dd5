/* The subject table of a store: an open-addressing hash table (linear
 * probing, backward-shift removal) of ne_store_subject keyed by a 64-bit
 * subject hash, over caller storage. Internal to src/store. */
#ifndef NE_STORE_SUBJECTS_H
#define NE_STORE_SUBJECTS_H

#include <stdint.h>

#include "store/ne_store.h"

/* Set in ne_store_subject.flags when last_seq may be too high (the newest
 * message of the subject was removed); it is recomputed on the next use. */
#define NE_STORE_SUBJECT_LAST_STALE 1u

/* Entries a table of this capacity may hold before it counts as full. */
uint32_t ne_store_subjects_max(uint32_t capacity);

/* Clears every slot. */
void ne_store_subjects_clear(ne_store_subject *slots, uint32_t capacity);

/* Index of the entry with this hash, or -1. */
int32_t ne_store_subjects_find(const ne_store_subject *slots, uint32_t capacity, uint64_t hash);

/* Claims a free slot for hash (absent, table not full) and returns its
 * index, zeroed except for the hash. */
int32_t ne_store_subjects_insert(ne_store_subject *slots, uint32_t capacity, uint64_t hash);

/* Frees slot index; other entries may move (indexes are not stable). */
void ne_store_subjects_remove(ne_store_subject *slots, uint32_t capacity, uint32_t index);

#endif
