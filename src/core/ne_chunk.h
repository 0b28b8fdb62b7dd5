/* Chunks and outbound queues.
 *
 * A chunk is a fixed-size, reference-counted byte block from a shared pool.
 * An outbound queue is a list of references (chunk, offset, length) in the
 * order the bytes must go out. Small writes are copied into the chunk of the
 * queue's tail reference while it has room; large payloads are written once
 * into chunks and referenced by every queue that delivers them, so fan-out
 * costs a reference, not a copy.
 *
 * Writing into a chunk is allowed only at its end (`used`): bytes before
 * `used` are never changed once written, so every reference stays valid while
 * it is held, and bytes from `used` on are referenced by no one. A queue
 * appends at the end of the chunk of its tail reference, or else of the
 * chunk it last copied into, growing its tail reference when that ends at
 * `used` and taking a new reference otherwise. So the delivery lines that
 * alternate with references to shared payloads fill the room left in the
 * payloads' chunks and in the queue's own chunk, instead of taking a chunk
 * each: a queue's chunks follow its unsent bytes, not its deliveries.
 */
#ifndef NE_CHUNK_H
#define NE_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ne_assert.h"

#include "core/ne_pool.h"
#include "ne_config.h"
#include "port.h"

typedef struct ne_chunk {
    struct ne_chunk *next; /* next chunk of a payload chain (owned by the chain) */
    uint32_t refs;
    uint32_t used;
    uint8_t data[NE_CHUNK_BYTES];
} ne_chunk;

typedef struct ne_outref {
    struct ne_outref *next;
    ne_chunk *chunk;
    uint32_t offset;
    uint32_t len;
} ne_outref;

/* The two pools every queue and chain draws from (one set per server), and
 * the free chunks promised to callers that will take them one by one
 * (ne_chunk_promise): no other allocation may take those. */
typedef struct ne_chunk_pools {
    ne_pool chunks;
    ne_pool refs;
    uint32_t promised;
} ne_chunk_pools;

typedef struct ne_outq {
    ne_outref *head;
    ne_outref *tail;
    ne_outref *copy_ref; /* the reference last copied into, while queued; may be NULL */
    uint64_t bytes;      /* bytes queued and not yet sent */
} ne_outq;

void ne_chunk_pools_init(ne_chunk_pools *pools, void *chunk_storage, uint32_t chunk_count,
                         void *ref_storage, uint32_t ref_count);

/* A fresh chunk with one reference held by the caller, or NULL (counted)
 * when no chunk is free beyond those promised. */
ne_chunk *ne_chunk_alloc(ne_chunk_pools *pools);

/* Sets n free chunks aside for a caller that will take them later, one at a
 * time, with ne_chunk_alloc_promised: true, or false (nothing set aside)
 * when fewer than n are free beyond those already promised. A promise costs
 * no chunk until it is taken; it only keeps the chunks from everyone else. */
bool ne_chunk_promise(ne_chunk_pools *pools, uint32_t n);
/* Takes one promised chunk (one reference, as ne_chunk_alloc); never fails. */
ne_chunk *ne_chunk_alloc_promised(ne_chunk_pools *pools);
/* Gives back n promised chunks that will not be taken. */
void ne_chunk_unpromise(ne_chunk_pools *pools, uint32_t n);
void ne_chunk_retain(ne_chunk *chunk);
void ne_chunk_release(ne_chunk_pools *pools, ne_chunk *chunk);

/* Releases a whole chain (each chunk's chain reference). */
void ne_chunk_chain_release(ne_chunk_pools *pools, ne_chunk *head);

/* Room for `len` contiguous bytes at the end of the queue (len from 1 to
 * NE_CHUNK_BYTES), for a caller that writes a message in place instead of
 * copying it in: returns where to write, or NULL when the pools are
 * exhausted (the queue is unchanged). The bytes become part of the queue
 * only with ne_outq_commit(q, n), n <= len, before any other append to any
 * queue (another queue may write at the end of the same chunk). */
uint8_t *ne_outq_reserve(ne_outq *q, ne_chunk_pools *pools, size_t len);
static inline void ne_outq_commit(ne_outq *q, size_t len)
{
    ne_outref *tail = q->tail;
    NE_ASSERT(tail != NULL && tail->chunk->used + len <= NE_CHUNK_BYTES);
    tail->chunk->used += (uint32_t)len;
    tail->len += (uint32_t)len;
    q->bytes += len;
}

/* Chunks an allocation may take now: the free ones not promised. */
static inline uint32_t ne_chunk_available(const ne_chunk_pools *pools)
{
    return ne_pool_available(&pools->chunks) - pools->promised;
}

/* Every append below is all or nothing: the chunks and references it needs
 * are counted before anything is queued, and NE_ERR_NOMEM (counted in the
 * exhausted pool) leaves the queue exactly as it was, so a queue never holds
 * part of a message. */

/* Copies bytes to the end of the queue. NE_OK or NE_ERR_NOMEM. */
int ne_outq_append(ne_outq *q, ne_chunk_pools *pools, const void *bytes, size_t len);

/* Queues one message: head_len bytes of `head` copied, then len bytes that
 * are copied from `bytes` when chain is NULL, or else referenced in the chunk
 * chain from (chain, offset) on (each referenced chunk gains a reference).
 * NE_OK, NE_ERR_NOMEM, or NE_ERR_INVALID when the chain holds fewer bytes. */
int ne_outq_append_message(ne_outq *q, ne_chunk_pools *pools, const void *head, size_t head_len,
                           const void *bytes, ne_chunk *chain, uint32_t offset, size_t len);

/* Appends a reference to len bytes starting at (chunk, offset) and following
 * the chunk chain: ne_outq_append_message without a head. */
int ne_outq_append_shared(ne_outq *q, ne_chunk_pools *pools, ne_chunk *chunk, uint32_t offset,
                          size_t len);

/* Fills at most max iovecs from the head of the queue; returns how many. */
int ne_outq_iov(const ne_outq *q, ne_iovec *iov, int max);

/* Drops n sent bytes from the head, releasing chunks no longer referenced. */
void ne_outq_consume(ne_outq *q, ne_chunk_pools *pools, size_t n);

/* Copies up to len bytes from the head of the queue into dst and drops
 * them (an internal client reading what was delivered to it); returns how
 * many. */
size_t ne_outq_read(ne_outq *q, ne_chunk_pools *pools, void *dst, size_t len);
/* Drops everything (connection closed). */
void ne_outq_clear(ne_outq *q, ne_chunk_pools *pools);

#endif
