/* The memory store backend: a ring of records in the caller's arena and a
 * ring index from sequence to record offset. */
#include "store/ne_store_mem.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "store/ne_store_backend.h"
#include "store/ne_store_subjects.h"

#define MEM_NONE 0xffffffffu
#define MEM_HEADER_BYTES 32u
#define MEM_LIVE 1u
#define MEM_WRAP 2u

typedef struct mem_entry {
    uint64_t seq;
    uint64_t timestamp_ns;
    uint32_t entry_bytes;
    uint32_t headers_len;
    uint32_t payload_len;
    uint16_t subject_len;
    uint16_t flags;
} mem_entry;

_Static_assert(sizeof(mem_entry) == MEM_HEADER_BYTES, "memory store entry header is 32 B");

static uint32_t align8(uint32_t n)
{
    return (n + 7u) & ~7u;
}

static mem_entry *entry_at(ne_store_mem *m, uint32_t off)
{
    NE_ASSERT(off + MEM_HEADER_BYTES <= m->data_bytes && off % 8 == 0);
    return (mem_entry *)(void *)(m->data + off);
}

static uint32_t *slot_of(ne_store_mem *m, uint64_t seq)
{
    return &m->index[seq % m->index_capacity];
}

/* Gives back the space of removed records at the tail (and wrap waste).
 * Bounded by the records in the ring. */
static void reclaim_tail(ne_store_mem *m)
{
    uint32_t bound = m->data_bytes / MEM_HEADER_BYTES + 2;
    for (uint32_t i = 0; i < bound && m->used > 0; i++) {
        if (m->data_bytes - m->tail < MEM_HEADER_BYTES) {
            m->used -= m->data_bytes - m->tail;
            m->tail = 0;
            continue;
        }
        mem_entry *e = entry_at(m, m->tail);
        if (e->flags & MEM_WRAP) {
            m->used -= m->data_bytes - m->tail;
            m->tail = 0;
            continue;
        }
        if (e->flags & MEM_LIVE) {
            break;
        }
        m->used -= e->entry_bytes;
        m->dead_bytes -= e->entry_bytes;
        m->tail += e->entry_bytes;
    }
    if (m->used == 0) {
        m->head = 0;
        m->tail = 0;
    }
}

/* Finds need contiguous bytes at the head, wrapping to the start of the
 * ring when the end is too short. Returns the offset or MEM_NONE. */
static uint32_t ring_alloc(ne_store_mem *m, uint32_t need)
{
    if (m->used == 0) {
        m->head = 0;
        m->tail = 0;
    }
    if (m->used > 0 && m->head == m->tail) {
        return MEM_NONE;
    }
    if (m->head >= m->tail) {
        if (m->data_bytes - m->head >= need) {
            uint32_t off = m->head;
            m->head += need;
            m->used += need;
            return off;
        }
        if (m->tail < need) {
            return MEM_NONE;
        }
        /* Skip the short end of the ring; a header marks it when it fits. */
        uint32_t waste = m->data_bytes - m->head;
        if (waste >= MEM_HEADER_BYTES) {
            mem_entry *w = entry_at(m, m->head);
            memset(w, 0, sizeof(*w));
            w->flags = MEM_WRAP;
        }
        m->used += waste;
        m->head = need;
        m->used += need;
        return 0;
    }
    if (m->tail - m->head >= need) {
        uint32_t off = m->head;
        m->head += need;
        m->used += need;
        return off;
    }
    return MEM_NONE;
}

/* Moves the live record at the tail to the head so that the holes behind it
 * can be reclaimed. False when it cannot move. */
static bool move_tail_record(ne_store_mem *m)
{
    if (m->used == 0 || m->dead_bytes == 0) {
        return false;
    }
    mem_entry *e = entry_at(m, m->tail);
    NE_ASSERT(e->flags & MEM_LIVE);
    uint32_t size = e->entry_bytes;
    uint32_t from = m->tail;
    uint32_t to = ring_alloc(m, size);
    if (to == MEM_NONE) {
        return false;
    }
    memmove(m->data + to, m->data + from, size);
    mem_entry *moved = entry_at(m, to);
    *slot_of(m, moved->seq) = to;
    mem_entry *old = entry_at(m, from);
    old->flags = 0;
    m->dead_bytes += size;
    reclaim_tail(m);
    return true;
}

static uint32_t alloc_record(ne_store_mem *m, uint32_t need)
{
    reclaim_tail(m);
    uint32_t bound = m->data_bytes / MEM_HEADER_BYTES + 1;
    for (uint32_t i = 0; i < bound; i++) {
        uint32_t off = ring_alloc(m, need);
        if (off != MEM_NONE) {
            return off;
        }
        if (!move_tail_record(m)) {
            return MEM_NONE;
        }
    }
    return MEM_NONE;
}

/* Drops index slots of removed records at the front so the index spans
 * only what is needed. */
static void advance_index_base(ne_store_mem *m)
{
    for (uint32_t i = 0; i < m->index_capacity && m->index_base < m->next_seq; i++) {
        if (*slot_of(m, m->index_base) != MEM_NONE) {
            break;
        }
        m->index_base++;
    }
}

static int mem_remove(void *impl, const ne_store_rec_info *info, bool tombstone);

static int mem_append(void *impl, const ne_store_msg *msg, uint64_t seq, uint64_t subject_hash,
                      ne_store_rec_info *replace)
{
    (void)subject_hash;
    ne_store_mem *m = impl;
    NE_ASSERT(seq >= m->next_seq);
    size_t body = msg->subject_len + msg->headers_len + msg->payload_len;
    if (body > m->data_bytes - MEM_HEADER_BYTES) {
        return NE_ERR_TOO_BIG;
    }
    if (m->used == 0 && m->index_base == m->next_seq) {
        /* Nothing indexed: the span may start at the new sequence. */
        m->index_base = seq;
        m->next_seq = seq;
    }
    if (seq - m->index_base >= m->index_capacity) {
        advance_index_base(m);
        if (seq - m->index_base >= m->index_capacity) {
            return NE_ERR_FULL;
        }
    }
    uint32_t need = align8(MEM_HEADER_BYTES + (uint32_t)body);
    uint32_t off = alloc_record(m, need);
    if (off == MEM_NONE) {
        return NE_ERR_FULL;
    }
    mem_entry *e = entry_at(m, off);
    e->seq = seq;
    e->timestamp_ns = msg->timestamp_ns;
    e->entry_bytes = need;
    e->headers_len = (uint32_t)msg->headers_len;
    e->payload_len = (uint32_t)msg->payload_len;
    e->subject_len = (uint16_t)msg->subject_len;
    e->flags = MEM_LIVE;
    uint8_t *p = m->data + off + MEM_HEADER_BYTES;
    memcpy(p, msg->subject, msg->subject_len);
    if (msg->headers_len > 0) {
        memcpy(p + msg->subject_len, msg->headers, msg->headers_len);
    }
    if (msg->payload_len > 0) {
        memcpy(p + msg->subject_len + msg->headers_len, msg->payload, msg->payload_len);
    }
    /* Skipped sequences hold nothing. Bounded by the index span. */
    for (uint64_t skipped = m->next_seq; skipped < seq; skipped++) {
        *slot_of(m, skipped) = MEM_NONE;
    }
    *slot_of(m, seq) = off;
    m->next_seq = seq + 1;
    if (replace != NULL) {
        return mem_remove(m, replace, true);
    }
    return NE_OK;
}

static int fill(ne_store_mem *m, uint32_t off, ne_store_msg *out, void *buf, size_t buf_bytes,
                ne_store_rec_info *info)
{
    mem_entry *e = entry_at(m, off);
    const char *subject = (const char *)(m->data + off + MEM_HEADER_BYTES);
    info->seq = e->seq;
    info->timestamp_ns = e->timestamp_ns;
    info->subject_hash = ne_store_subject_hash(subject, e->subject_len);
    info->bytes = (uint32_t)ne_store_msg_bytes(e->subject_len, e->headers_len, e->payload_len);
    info->loc_block = 0;
    info->loc_index = off;
    if (out == NULL) {
        return NE_OK;
    }
    int rc = ne_store_out_layout(out, buf, buf_bytes, e->seq, e->timestamp_ns, e->subject_len,
                                 e->headers_len, e->payload_len);
    if (rc != NE_OK) {
        return rc;
    }
    memcpy(buf, subject, (size_t)e->subject_len + e->headers_len + e->payload_len);
    return NE_OK;
}

static bool entry_matches(ne_store_mem *m, uint32_t off, const ne_store_filter *filter)
{
    mem_entry *e = entry_at(m, off);
    const char *subject = (const char *)(m->data + off + MEM_HEADER_BYTES);
    return ne_store_filter_matches(filter, subject, e->subject_len);
}

static int mem_find(void *impl, uint64_t from_seq, bool exact, const ne_store_filter *filter,
                    ne_store_msg *out, void *buf, size_t buf_bytes, ne_store_rec_info *info,
                    ne_store_reader *reader)
{
    (void)reader;
    ne_store_mem *m = impl;
    if (from_seq < m->index_base) {
        if (exact) {
            return NE_ERR_NOT_FOUND;
        }
        from_seq = m->index_base;
    }
    uint64_t end = exact ? from_seq + 1 : m->next_seq;
    if (end > m->next_seq) {
        end = m->next_seq;
    }
    /* Bounded by the index span (at most index_capacity sequences). */
    for (uint64_t seq = from_seq; seq < end; seq++) {
        uint32_t off = *slot_of(m, seq);
        if (off == MEM_NONE || !entry_matches(m, off, filter)) {
            continue;
        }
        return fill(m, off, out, buf, buf_bytes, info);
    }
    return NE_ERR_NOT_FOUND;
}

/* Times need not grow with sequences: every sequence from from_seq is
 * looked at. Bounded by the index span. */
static int mem_find_time(void *impl, uint64_t from_seq, uint64_t ts_ns, bool older,
                         ne_store_rec_info *info)
{
    ne_store_mem *m = impl;
    if (from_seq < m->index_base) {
        from_seq = m->index_base;
    }
    for (uint64_t seq = from_seq; seq < m->next_seq; seq++) {
        uint32_t off = *slot_of(m, seq);
        if (off == MEM_NONE) {
            continue;
        }
        mem_entry *e = entry_at(m, off);
        if (older ? e->timestamp_ns <= ts_ns : e->timestamp_ns >= ts_ns) {
            return fill(m, off, NULL, NULL, 0, info);
        }
    }
    return NE_ERR_NOT_FOUND;
}

static int mem_remove(void *impl, const ne_store_rec_info *info, bool tombstone)
{
    (void)tombstone;
    ne_store_mem *m = impl;
    uint32_t *slot = slot_of(m, info->seq);
    NE_ASSERT(*slot == info->loc_index);
    mem_entry *e = entry_at(m, info->loc_index);
    NE_ASSERT((e->flags & MEM_LIVE) && e->seq == info->seq);
    e->flags = 0;
    m->dead_bytes += e->entry_bytes;
    *slot = MEM_NONE;
    advance_index_base(m);
    return NE_OK;
}

static int mem_set_floor(void *impl, uint64_t floor_seq, uint64_t next_seq, bool all)
{
    ne_store_mem *m = impl;
    if (next_seq < floor_seq) {
        next_seq = floor_seq;
    }
    if (floor_seq > m->floor_seq) {
        m->floor_seq = floor_seq;
    }
    if (all) {
        for (uint32_t i = 0; i < m->index_capacity; i++) {
            m->index[i] = MEM_NONE;
        }
        m->head = 0;
        m->tail = 0;
        m->used = 0;
        m->dead_bytes = 0;
        m->index_base = next_seq;
        m->next_seq = next_seq;
        return NE_OK;
    }
    /* The front end removed every record below floor_seq one by one; skips
     * move the next sequence without records. */
    if (next_seq > m->next_seq) {
        if (m->used == 0 && m->index_base == m->next_seq) {
            m->index_base = next_seq;
        } else {
            uint64_t bound = next_seq - m->next_seq;
            for (uint64_t i = 0; i < bound && i < m->index_capacity; i++) {
                *slot_of(m, m->next_seq + i) = MEM_NONE;
            }
        }
        m->next_seq = next_seq;
    }
    advance_index_base(m);
    return NE_OK;
}

/* Removes every record above last_seq. Bounded by the index span. */
static int mem_truncate(void *impl, uint64_t last_seq)
{
    ne_store_mem *m = impl;
    if (last_seq + 1 < m->floor_seq) {
        return NE_ERR_RANGE;
    }
    for (uint64_t seq = last_seq + 1; seq < m->next_seq; seq++) {
        if (seq < m->index_base) {
            continue;
        }
        uint32_t *slot = slot_of(m, seq);
        if (*slot == MEM_NONE) {
            continue;
        }
        mem_entry *e = entry_at(m, *slot);
        e->flags = 0;
        m->dead_bytes += e->entry_bytes;
        *slot = MEM_NONE;
    }
    m->next_seq = last_seq + 1;
    if (m->index_base > m->next_seq) {
        m->index_base = m->next_seq;
    }
    reclaim_tail(m);
    return NE_OK;
}

/* The record's bytes are zeroed in the arena at once. */
static int mem_erase(void *impl, const ne_store_rec_info *info)
{
    ne_store_mem *m = impl;
    mem_entry *e = entry_at(m, info->loc_index);
    uint32_t size = e->entry_bytes;
    int rc = mem_remove(impl, info, true);
    if (rc == NE_OK) {
        memset(m->data + info->loc_index + MEM_HEADER_BYTES, 0, size - MEM_HEADER_BYTES);
    }
    return rc;
}

static int mem_sync(void *impl)
{
    (void)impl;
    return NE_OK;
}

/* Moves live records forward until no hole is left behind them. */
static int mem_compact(void *impl, uint32_t *reclaimed)
{
    ne_store_mem *m = impl;
    *reclaimed = 0;
    reclaim_tail(m);
    uint32_t bound = m->data_bytes / MEM_HEADER_BYTES + 1;
    for (uint32_t i = 0; i < bound && m->dead_bytes > 0; i++) {
        if (!move_tail_record(m)) {
            break;
        }
        (*reclaimed)++;
    }
    return NE_OK;
}

static size_t mem_max_record_bytes(void *impl)
{
    ne_store_mem *m = impl;
    return m->data_bytes - MEM_HEADER_BYTES;
}

static int mem_status(void *impl)
{
    (void)impl;
    return NE_OK;
}

/* Any removed message frees its bytes: the oldest one. */
static uint64_t mem_room_by_dropping(void *impl)
{
    ne_store_mem *m = impl;
    advance_index_base(m);
    return m->used > 0 && m->index_base < m->next_seq ? m->index_base : 0;
}

static const ne_store_backend mem_backend = {
    .append = mem_append,
    .find = mem_find,
    .find_time = mem_find_time,
    .remove = mem_remove,
    .set_floor = mem_set_floor,
    .truncate = mem_truncate,
    .erase = mem_erase,
    .sync = mem_sync,
    .compact = mem_compact,
    .room_by_dropping = mem_room_by_dropping,
    .max_record_bytes = mem_max_record_bytes,
    .status = mem_status,
};

int ne_store_mem_open(ne_store *store, ne_store_mem *mem, const ne_store_config *cfg, void *arena,
                      size_t arena_bytes, uint32_t index_capacity)
{
    NE_ASSERT(store != NULL && mem != NULL && cfg != NULL);
    if (arena == NULL || index_capacity == 0) {
        return NE_ERR_INVALID;
    }
    int rc = ne_store_init_common(store, cfg, &mem_backend, mem);
    if (rc != NE_OK) {
        return rc;
    }
    uintptr_t start = (uintptr_t)arena;
    uintptr_t index_at = (start + 3u) & ~(uintptr_t)3u;
    uintptr_t data_at = (index_at + NE_STORE_MEM_INDEX_BYTES(index_capacity) + 7u) & ~(uintptr_t)7u;
    uintptr_t end = start + arena_bytes;
    if (data_at >= end || end - data_at < 64) {
        return NE_ERR_NOMEM;
    }
    size_t data_bytes = (end - data_at) & ~(size_t)7u;
    if (data_bytes > 0x7ffffff8u) {
        data_bytes = 0x7ffffff8u;
    }
    memset(mem, 0, sizeof(*mem));
    mem->index = (uint32_t *)index_at;
    mem->index_capacity = index_capacity;
    mem->data = (uint8_t *)data_at;
    mem->data_bytes = (uint32_t)data_bytes;
    mem->index_base = 1;
    mem->next_seq = 1;
    mem->floor_seq = 1;
    for (uint32_t i = 0; i < index_capacity; i++) {
        mem->index[i] = MEM_NONE;
    }
    return NE_OK;
}

void ne_store_mem_close(ne_store *store)
{
    NE_ASSERT(store != NULL && store->backend == &mem_backend);
    ne_store_subjects_release(store);
}
