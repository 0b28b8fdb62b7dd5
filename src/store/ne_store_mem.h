/* The memory store: a stream kept in a caller's arena, lost at restart
 * (JetStream's storage: memory).
 *
 * The arena holds a sequence index (4 B per sequence between the first and
 * the last message, deleted ones included) and a ring of records (32 B of
 * header plus subject, headers and payload, rounded up to 8 B). Space of a
 * removed record comes back when the oldest record ahead of it leaves, or at
 * once when ne_store_compact moves live records over the holes. The store is
 * full (NE_ERR_FULL, refused_by SPACE, or the oldest dropped with discard old)
 * when the ring has no room or the index spans index_capacity sequences.
 */
#ifndef NE_STORE_MEM_H
#define NE_STORE_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "store/ne_store.h"

typedef struct ne_store_mem {
    uint8_t *data; /* the ring, 8-byte aligned */
    uint32_t data_bytes;
    uint32_t *index; /* ring of record offsets by sequence */
    uint32_t index_capacity;
    uint64_t index_base; /* lowest sequence the index covers */
    uint64_t next_seq;
    uint64_t floor_seq;  /* every message below was removed (truncation stops there) */
    uint32_t head;       /* where the next record goes */
    uint32_t tail;       /* oldest record still taking space */
    uint32_t used;       /* bytes from tail to head, wrap waste included */
    uint32_t dead_bytes; /* removed records still inside [tail, head) */
} ne_store_mem;

/* Arena bytes the index takes for index_capacity sequences (the rest, minus
 * up to 7 B of alignment, is the ring). */
#define NE_STORE_MEM_INDEX_BYTES(index_capacity) ((size_t)(index_capacity)*4u)

/* Opens an empty memory store over arena. NE_ERR_INVALID for a bad cfg or
 * an index capacity of 0; NE_ERR_NOMEM when the arena leaves less than 64 B
 * of ring after the index. */
int ne_store_mem_open(ne_store *store, ne_store_mem *mem, const ne_store_config *cfg, void *arena,
                      size_t arena_bytes, uint32_t index_capacity);

/* Closes a memory store: its messages are gone, and a subject table taken
 * from a pool goes back to it. Nothing else to release. */
void ne_store_mem_close(ne_store *store);

#endif
