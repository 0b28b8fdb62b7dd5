#include "core/ne_chunk.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"

void ne_chunk_pools_init(ne_chunk_pools *pools, void *chunk_storage, uint32_t chunk_count,
                         void *ref_storage, uint32_t ref_count)
{
    ne_pool_init(&pools->chunks, "chunks", chunk_storage, sizeof(ne_chunk), chunk_count);
    ne_pool_init(&pools->refs, "outrefs", ref_storage, sizeof(ne_outref), ref_count);
    pools->promised = 0;
}

static ne_chunk *chunk_take(ne_chunk_pools *pools)
{
    /* Zeroing a whole chunk on every allocation would cost more than the
     * data it carries; only the header is initialised. */
    ne_chunk *chunk = ne_pool_alloc_uninit(&pools->chunks);
    if (chunk != NULL) {
        chunk->next = NULL;
        chunk->refs = 1;
        chunk->used = 0;
    }
    return chunk;
}

ne_chunk *ne_chunk_alloc(ne_chunk_pools *pools)
{
    if (ne_chunk_available(pools) == 0) {
        pools->chunks.exhausted++;
        return NULL;
    }
    return chunk_take(pools);
}

/* Invariant: the pool always has at least `promised` free chunks, because
 * ne_chunk_alloc never takes one of them and a promise is made only from
 * chunks that are free and unpromised. */
bool ne_chunk_promise(ne_chunk_pools *pools, uint32_t n)
{
    if (n > ne_chunk_available(pools)) {
        return false;
    }
    pools->promised += n;
    return true;
}

ne_chunk *ne_chunk_alloc_promised(ne_chunk_pools *pools)
{
    NE_ASSERT(pools->promised > 0 && ne_pool_available(&pools->chunks) >= pools->promised);
    pools->promised--;
    ne_chunk *chunk = chunk_take(pools);
    NE_ASSERT(chunk != NULL);
    return chunk;
}

void ne_chunk_unpromise(ne_chunk_pools *pools, uint32_t n)
{
    NE_ASSERT(n <= pools->promised);
    pools->promised -= n;
}

void ne_chunk_retain(ne_chunk *chunk)
{
    NE_ASSERT(chunk->refs > 0);
    chunk->refs++;
}

void ne_chunk_release(ne_chunk_pools *pools, ne_chunk *chunk)
{
    NE_ASSERT(chunk->refs > 0);
    if (--chunk->refs == 0) {
        ne_pool_free(&pools->chunks, chunk);
    }
}

void ne_chunk_chain_release(ne_chunk_pools *pools, ne_chunk *head)
{
    /* Bounded by the chunk pool's capacity. */
    for (uint32_t i = 0; head != NULL && i <= pools->chunks.capacity; i++) {
        ne_chunk *next = head->next;
        ne_chunk_release(pools, head);
        head = next;
    }
}

static ne_outref *outq_push_ref(ne_outq *q, ne_chunk_pools *pools, ne_chunk *chunk, uint32_t offset,
                                uint32_t len)
{
    ne_outref *ref = ne_pool_alloc(&pools->refs);
    if (ref == NULL) {
        return NULL;
    }
    ref->chunk = chunk;
    ref->offset = offset;
    ref->len = len;
    if (q->tail != NULL) {
        q->tail->next = ref;
    } else {
        q->head = ref;
    }
    q->tail = ref;
    return ref;
}

/* The chunk a copy goes into first: that of the tail reference, else the
 * one the queue last copied into (still referenced by the queue), whichever
 * has room at its end; NULL when neither has (ne_chunk.h). */
static ne_chunk *outq_room_chunk(const ne_outq *q)
{
    if (q->tail != NULL && q->tail->chunk->used < NE_CHUNK_BYTES) {
        return q->tail->chunk;
    }
    if (q->copy_ref != NULL && q->copy_ref->chunk->used < NE_CHUNK_BYTES) {
        return q->copy_ref->chunk;
    }
    return NULL;
}

static size_t outq_tail_room(const ne_outq *q)
{
    const ne_chunk *chunk = outq_room_chunk(q);
    return chunk == NULL ? 0 : NE_CHUNK_BYTES - chunk->used;
}

/* True when the copy can grow the tail reference: it ends where the bytes
 * of the chunk with room end. */
static bool outq_tail_grows(const ne_outq *q)
{
    const ne_outref *tail = q->tail;
    return tail != NULL && tail->chunk == outq_room_chunk(q) &&
           tail->offset + tail->len == tail->chunk->used;
}

/* Chunks a copy of len bytes takes, and references (one per chunk, and one
 * into the tail chunk's room when the tail reference cannot grow). */
static size_t outq_copy_cost(const ne_outq *q, size_t len, size_t *refs)
{
    size_t room = outq_tail_room(q);
    size_t rest = len > room ? len - room : 0;
    size_t chunks = (rest + NE_CHUNK_BYTES - 1) / NE_CHUNK_BYTES;
    *refs = chunks + (len > 0 && room > 0 && !outq_tail_grows(q) ? 1u : 0u);
    return chunks;
}

/* The tail reference to write through at the end of the chunk with room:
 * the tail itself when it can grow, else a new empty reference there
 * (holding a chunk reference); NULL when no reference is left. It becomes
 * the queue's copy reference. */
static ne_outref *outq_tail_for_write(ne_outq *q, ne_chunk_pools *pools)
{
    ne_chunk *chunk = outq_room_chunk(q);
    NE_ASSERT(chunk != NULL);
    if (!outq_tail_grows(q)) {
        if (outq_push_ref(q, pools, chunk, chunk->used, 0) == NULL) {
            return NULL;
        }
        ne_chunk_retain(chunk);
    }
    q->copy_ref = q->tail;
    return q->tail;
}

/* References a shared run of len bytes from (chunk, offset) takes (one per
 * chunk of the chain it touches) into *refs; false when the chain holds
 * fewer than offset + len bytes. Bounded by the chunk pool's capacity. */
static bool outq_shared_refs(const ne_chunk_pools *pools, const ne_chunk *chunk, uint32_t offset,
                             size_t len, size_t *refs)
{
    *refs = 0;
    for (uint32_t guard = 0; len > 0 && chunk != NULL && guard <= pools->chunks.capacity; guard++) {
        if (offset >= chunk->used) {
            offset -= chunk->used;
        } else {
            size_t n = NE_MIN(len, (size_t)(chunk->used - offset));
            len -= n;
            offset = 0;
            (*refs)++;
        }
        chunk = chunk->next;
    }
    return len == 0;
}

/* True when the pools can give `chunks` chunks and `refs` references; a
 * refusal is counted as an exhaustion of the pool that fell short. */
static bool pools_can_give(ne_chunk_pools *pools, size_t chunks, size_t refs)
{
    if (chunks > ne_chunk_available(pools)) {
        pools->chunks.exhausted++;
        return false;
    }
    if (refs > ne_pool_available(&pools->refs)) {
        pools->refs.exhausted++;
        return false;
    }
    return true;
}

/* Copies bytes in; the pools were checked to hold what it takes. */
static void outq_copy(ne_outq *q, ne_chunk_pools *pools, const uint8_t *src, size_t len)
{
    /* Each pass copies into the tail or adds a chunk: at most two passes per
     * chunk the copy takes. */
    while (len > 0) {
        size_t room = outq_tail_room(q);
        if (room > 0) {
            ne_outref *tail = outq_tail_for_write(q, pools);
            NE_ASSERT(tail != NULL);
            size_t n = NE_MIN(len, room);
            memcpy(tail->chunk->data + tail->chunk->used, src, n);
            tail->chunk->used += (uint32_t)n;
            tail->len += (uint32_t)n;
            q->bytes += n;
            src += n;
            len -= n;
            continue;
        }
        ne_chunk *chunk = ne_chunk_alloc(pools);
        NE_ASSERT(chunk != NULL);
        ne_outref *ref = outq_push_ref(q, pools, chunk, 0, 0);
        NE_ASSERT(ref != NULL);
        q->copy_ref = ref;
    }
}

/* References len bytes of a chain; the pools were checked to hold the
 * references it takes. */
static void outq_share(ne_outq *q, ne_chunk_pools *pools, ne_chunk *chunk, uint32_t offset,
                       size_t len)
{
    for (uint32_t guard = 0; len > 0 && guard <= pools->chunks.capacity; guard++) {
        NE_ASSERT(chunk != NULL);
        if (offset >= chunk->used) {
            offset -= chunk->used;
            chunk = chunk->next;
            continue;
        }
        uint32_t n = (uint32_t)NE_MIN(len, (size_t)(chunk->used - offset));
        ne_outref *ref = outq_push_ref(q, pools, chunk, offset, n);
        NE_ASSERT(ref != NULL);
        ne_chunk_retain(chunk);
        q->bytes += n;
        len -= n;
        offset = 0;
        chunk = chunk->next;
    }
    NE_ASSERT(len == 0);
}

int ne_outq_append(ne_outq *q, ne_chunk_pools *pools, const void *bytes, size_t len)
{
    size_t refs = 0;
    size_t chunks = outq_copy_cost(q, len, &refs);
    if (!pools_can_give(pools, chunks, refs)) {
        return NE_ERR_NOMEM;
    }
    outq_copy(q, pools, bytes, len);
    return NE_OK;
}

int ne_outq_append_message(ne_outq *q, ne_chunk_pools *pools, const void *head, size_t head_len,
                           const void *bytes, ne_chunk *chain, uint32_t offset, size_t len)
{
    size_t chunks, refs;
    if (chain == NULL) {
        /* A copy of head and payload takes what one copy of both takes. */
        chunks = outq_copy_cost(q, head_len + len, &refs);
    } else {
        size_t shared_refs = 0;
        if (!outq_shared_refs(pools, chain, offset, len, &shared_refs)) {
            return NE_ERR_INVALID;
        }
        size_t head_refs = 0;
        chunks = outq_copy_cost(q, head_len, &head_refs);
        refs = head_refs + shared_refs;
    }
    if (!pools_can_give(pools, chunks, refs)) {
        return NE_ERR_NOMEM;
    }
    outq_copy(q, pools, head, head_len);
    if (chain == NULL) {
        outq_copy(q, pools, bytes, len);
    } else {
        outq_share(q, pools, chain, offset, len);
    }
    return NE_OK;
}

uint8_t *ne_outq_reserve(ne_outq *q, ne_chunk_pools *pools, size_t len)
{
    NE_ASSERT(len > 0 && len <= NE_CHUNK_BYTES);
    ne_outref *tail = q->tail;
    /* The common case: the tail reference ends where its chunk's bytes end,
     * and the chunk has the room. */
    if (tail != NULL && tail->offset + tail->len == tail->chunk->used &&
        NE_CHUNK_BYTES - tail->chunk->used >= len) {
        q->copy_ref = tail;
        return tail->chunk->data + tail->chunk->used;
    }
    if (outq_tail_room(q) >= len) {
        tail = outq_tail_for_write(q, pools);
        if (tail == NULL) {
            return NULL;
        }
    } else {
        ne_chunk *chunk = ne_chunk_alloc(pools);
        if (chunk == NULL) {
            return NULL;
        }
        tail = outq_push_ref(q, pools, chunk, 0, 0);
        if (tail == NULL) {
            ne_chunk_release(pools, chunk);
            return NULL;
        }
        q->copy_ref = tail;
    }
    return tail->chunk->data + tail->chunk->used;
}

int ne_outq_append_shared(ne_outq *q, ne_chunk_pools *pools, ne_chunk *chunk, uint32_t offset,
                          size_t len)
{
    return ne_outq_append_message(q, pools, NULL, 0, NULL, chunk, offset, len);
}

int ne_outq_iov(const ne_outq *q, ne_iovec *iov, int max)
{
    int n = 0;
    for (const ne_outref *ref = q->head; ref != NULL && n < max; ref = ref->next) {
        if (ref->len == 0) {
            continue;
        }
        iov[n].base = ref->chunk->data + ref->offset;
        iov[n].len = ref->len;
        n++;
    }
    return n;
}

static void outq_pop_head(ne_outq *q, ne_chunk_pools *pools)
{
    ne_outref *ref = q->head;
    q->head = ref->next;
    if (q->head == NULL) {
        q->tail = NULL;
    }
    if (q->copy_ref == ref) {
        q->copy_ref = NULL;
    }
    ne_chunk_release(pools, ref->chunk);
    ne_pool_free(&pools->refs, ref);
}

void ne_outq_consume(ne_outq *q, ne_chunk_pools *pools, size_t n)
{
    NE_ASSERT(n <= q->bytes);
    q->bytes -= n;
    while (q->head != NULL) {
        ne_outref *ref = q->head;
        if (n < ref->len) {
            ref->offset += (uint32_t)n;
            ref->len -= (uint32_t)n;
            return;
        }
        n -= ref->len;
        outq_pop_head(q, pools);
    }
}

size_t ne_outq_read(ne_outq *q, ne_chunk_pools *pools, void *dst, size_t len)
{
    uint8_t *out = dst;
    size_t done = 0;
    /* Bounded by the references: each pass copies one reference's bytes. */
    for (const ne_outref *ref = q->head; ref != NULL && done < len; ref = ref->next) {
        size_t n = ref->len < len - done ? ref->len : len - done;
        memcpy(out + done, ref->chunk->data + ref->offset, n);
        done += n;
    }
    ne_outq_consume(q, pools, done);
    return done;
}

void ne_outq_clear(ne_outq *q, ne_chunk_pools *pools)
{
    while (q->head != NULL) {
        outq_pop_head(q, pools);
    }
    q->bytes = 0;
}
