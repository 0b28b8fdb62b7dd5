/* JetStream's memory storage (ne_js_mem.h). */
#include "js/ne_js_mem.h"

#if NE_FEATURE_JETSTREAM

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_subject.h"

/* A message's header, at the start of its first block's data. */
typedef struct mem_msg {
    uint64_t seq;
    uint64_t ts_ns;
    uint32_t prev; /* the stream's order */
    uint32_t next;
    uint32_t subj_prev; /* the subject's order */
    uint32_t subj_next;
    uint32_t hash_next; /* the (stream, sequence) bucket's chain */
    uint32_t subject;   /* its subject entry */
    uint32_t hdr_len;
    uint32_t data_len;
    uint16_t stream;
    uint16_t subject_len;
    uint32_t pad;
} mem_msg;

/* Record bytes each block holds (the header counts in the first). */
#define BLOCK_CAP ((uint32_t)sizeof(((ne_js_mem_block *)0)->data))

_Static_assert(sizeof(mem_msg) < BLOCK_CAP, "a message header must fit in a block");

/* Messages looked at before a lookup by sequence gives up probing the
 * sequences after a missing one and walks the list instead. */
#define PROBE_LIMIT 16u

static ne_js_mem *mem_of(const ne_js_store *st)
{
    return st->backend;
}

static ne_js_mem_block *block(const ne_js_mem *mem, uint32_t i)
{
    NE_ASSERT(i < mem->blocks.capacity);
    return (ne_js_mem_block *)(void *)(mem->blocks.storage + (size_t)i * mem->blocks.object_bytes);
}

static mem_msg *msg_at(const ne_js_mem *mem, uint32_t i)
{
    ne_js_mem_block *b = block(mem, i);
    NE_ASSERT(b->first == 1);
    return (mem_msg *)(void *)b->data;
}

static ne_js_mem_subject *subject_at(const ne_js_mem *mem, uint32_t i)
{
    NE_ASSERT(i < mem->subjects.capacity);
    return (ne_js_mem_subject *)(void *)(mem->subjects.storage +
                                         (size_t)i * mem->subjects.object_bytes);
}

uint32_t ne_js_mem_blocks_for(uint32_t subject_len, uint32_t hdr_len, uint32_t data_len)
{
    uint64_t total = (uint64_t)sizeof(mem_msg) + subject_len + hdr_len + data_len;
    return (uint32_t)((total + BLOCK_CAP - 1) / BLOCK_CAP);
}

/* ---- Hashes ------------------------------------------------------------------ */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static uint32_t seq_bucket(uint16_t stream, uint64_t seq)
{
    return (uint32_t)(mix64(seq ^ ((uint64_t)stream << 48)) & (NE_JS_MEM_SEQ_BUCKETS - 1u));
}

/* FNV-1a of the subject, mixed with the stream. */
static uint64_t subject_hash(uint16_t stream, ne_slice subject)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint32_t i = 0; i < subject.len; i++) {
        h ^= (uint8_t)subject.ptr[i];
        h *= 0x100000001b3ull;
    }
    return mix64(h ^ stream);
}

static uint32_t subject_bucket(uint64_t hash)
{
    return (uint32_t)(hash & (NE_JS_MEM_SUBJECT_BUCKETS - 1u));
}

/* Buckets hold an index + 1, so that storage never written (all zero) is
 * an empty table and stays out of the resident set until used. */
static uint32_t bucket_get(const uint32_t *b)
{
    return *b == 0 ? NE_JS_MEM_NONE : *b - 1u;
}

static void bucket_set(uint32_t *b, uint32_t i)
{
    *b = i == NE_JS_MEM_NONE ? 0 : i + 1u;
}

/* ---- Record bytes ------------------------------------------------------------ */

/* Copies len bytes of message i's record from offset pos into dst. */
static void record_read(const ne_js_mem *mem, uint32_t i, uint32_t pos, void *dst, uint32_t len)
{
    uint8_t *out = dst;
    uint32_t b = i;
    /* Bounded by the message's blocks. */
    for (uint32_t skip = pos / BLOCK_CAP; skip > 0; skip--) {
        b = block(mem, b)->next;
        NE_ASSERT(b != NE_JS_MEM_NONE);
    }
    uint32_t at = pos % BLOCK_CAP;
    uint32_t done = 0;
    while (done < len) {
        NE_ASSERT(b != NE_JS_MEM_NONE);
        ne_js_mem_block *blk = block(mem, b);
        uint32_t n = NE_MIN(len - done, BLOCK_CAP - at);
        memcpy(out + done, blk->data + at, n);
        done += n;
        at = 0;
        b = blk->next;
    }
}

/* The subject of message i: in place when it lies in the first block,
 * otherwise copied into the scratch. */
static ne_slice subject_of(ne_js_mem *mem, uint32_t i)
{
    const mem_msg *m = msg_at(mem, i);
    uint32_t len = m->subject_len;
    if (sizeof(mem_msg) + len <= BLOCK_CAP) {
        return (ne_slice){(const char *)block(mem, i)->data + sizeof(mem_msg), len};
    }
    NE_ASSERT(len < sizeof(mem->scratch));
    record_read(mem, i, sizeof(mem_msg), mem->scratch, len);
    return (ne_slice){mem->scratch, len};
}

static bool subject_equals(ne_js_mem *mem, uint32_t i, ne_slice subject)
{
    ne_slice s = subject_of(mem, i);
    return s.len == subject.len && memcmp(s.ptr, subject.ptr, subject.len) == 0;
}

static int fill_info(ne_js_mem *mem, uint32_t i, ne_js_msg_info *out)
{
    const mem_msg *m = msg_at(mem, i);
    out->seq = m->seq;
    out->ts_ns = m->ts_ns;
    out->hdr_len = m->hdr_len;
    out->data_len = m->data_len;
    out->subject_len = m->subject_len;
    if (out->subject == NULL) {
        return NE_OK; /* the caller wants no subject */
    }
    if (m->subject_len > out->subject_cap) {
        return NE_ERR_TOO_BIG;
    }
    record_read(mem, i, sizeof(mem_msg), out->subject, m->subject_len);
    return NE_OK;
}

/* ---- Indexes ----------------------------------------------------------------- */

static uint32_t seq_lookup(const ne_js_mem *mem, uint16_t stream, uint64_t seq)
{
    uint32_t i = bucket_get(&mem->seq_buckets[seq_bucket(stream, seq)]);
    /* Bounded by the blocks: a chain holds first blocks only. */
    for (uint32_t guard = 0; i != NE_JS_MEM_NONE && guard < NE_JS_MEM_BLOCKS; guard++) {
        const mem_msg *m = msg_at(mem, i);
        if (m->seq == seq && m->stream == stream) {
            return i;
        }
        i = m->hash_next;
    }
    return NE_JS_MEM_NONE;
}

static void seq_unlink(ne_js_mem *mem, uint32_t i)
{
    mem_msg *m = msg_at(mem, i);
    uint32_t *bucket = &mem->seq_buckets[seq_bucket(m->stream, m->seq)];
    uint32_t at = bucket_get(bucket);
    if (at == i) {
        bucket_set(bucket, m->hash_next);
        return;
    }
    for (uint32_t guard = 0; at != NE_JS_MEM_NONE && guard < NE_JS_MEM_BLOCKS; guard++) {
        mem_msg *p = msg_at(mem, at);
        if (p->hash_next == i) {
            p->hash_next = m->hash_next;
            return;
        }
        at = p->hash_next;
    }
    NE_ASSERT(false); /* a stored message is in its bucket */
}

/* The entry of subject in the stream, or NE_JS_MEM_NONE. */
static uint32_t subject_find(ne_js_mem *mem, uint16_t stream, ne_slice subject, uint64_t hash)
{
    uint32_t e = bucket_get(&mem->subject_buckets[subject_bucket(hash)]);
    for (uint32_t guard = 0; e != NE_JS_MEM_NONE && guard < NE_JS_MAX_SUBJECTS; guard++) {
        const ne_js_mem_subject *s = subject_at(mem, e);
        if (s->hash == hash && s->stream == stream && subject_equals(mem, s->last, subject)) {
            return e;
        }
        e = s->hash_next;
    }
    return NE_JS_MEM_NONE;
}

static void subject_unlink_bucket(ne_js_mem *mem, uint32_t e)
{
    ne_js_mem_subject *s = subject_at(mem, e);
    uint32_t *bucket = &mem->subject_buckets[subject_bucket(s->hash)];
    uint32_t at = bucket_get(bucket);
    if (at == e) {
        bucket_set(bucket, s->hash_next);
        return;
    }
    for (uint32_t guard = 0; at != NE_JS_MEM_NONE && guard < NE_JS_MAX_SUBJECTS; guard++) {
        ne_js_mem_subject *p = subject_at(mem, at);
        if (p->hash_next == e) {
            p->hash_next = s->hash_next;
            return;
        }
        at = p->hash_next;
    }
    NE_ASSERT(false); /* an entry is in its bucket */
}

/* ---- Append ------------------------------------------------------------------ */

/* Frees a chain of blocks from i on. */
static void blocks_free(ne_js_mem *mem, uint32_t i)
{
    for (uint32_t guard = 0; i != NE_JS_MEM_NONE && guard < NE_JS_MEM_BLOCKS; guard++) {
        ne_js_mem_block *b = block(mem, i);
        uint32_t next = b->next;
        ne_pool_free(&mem->blocks, b);
        i = next;
    }
}

/* Takes n blocks chained; NE_JS_MEM_NONE (nothing taken) when the pool has
 * fewer. */
static uint32_t blocks_take(ne_js_mem *mem, uint32_t n)
{
    if (ne_pool_available(&mem->blocks) < n) {
        mem->blocks.exhausted++;
        return NE_JS_MEM_NONE;
    }
    uint32_t head = NE_JS_MEM_NONE;
    ne_js_mem_block *prev = NULL;
    for (uint32_t k = 0; k < n; k++) {
        ne_js_mem_block *b = ne_pool_alloc_uninit(&mem->blocks);
        NE_ASSERT(b != NULL);
        b->next = NE_JS_MEM_NONE;
        b->first = 0;
        uint32_t idx = ne_pool_index(&mem->blocks, b);
        if (prev == NULL) {
            head = idx;
        } else {
            prev->next = idx;
        }
        prev = b;
    }
    return head;
}

/* Writes len bytes at record offset pos of the chain from i. */
static void record_write(ne_js_mem *mem, uint32_t i, uint32_t pos, const void *src, uint32_t len)
{
    const uint8_t *in = src;
    uint32_t b = i;
    for (uint32_t skip = pos / BLOCK_CAP; skip > 0; skip--) {
        b = block(mem, b)->next;
    }
    uint32_t at = pos % BLOCK_CAP;
    uint32_t done = 0;
    while (done < len) {
        NE_ASSERT(b != NE_JS_MEM_NONE);
        ne_js_mem_block *blk = block(mem, b);
        uint32_t n = NE_MIN(len - done, BLOCK_CAP - at);
        memcpy(blk->data + at, in + done, n);
        done += n;
        at = 0;
        b = blk->next;
    }
}

/* Writes a payload read through the message's read_at, block piece by
 * block piece. */
static void record_write_from(ne_js_mem *mem, uint32_t i, uint32_t pos, const ne_js_msg_in *m)
{
    uint32_t b = i;
    for (uint32_t skip = pos / BLOCK_CAP; skip > 0; skip--) {
        b = block(mem, b)->next;
    }
    uint32_t at = pos % BLOCK_CAP;
    uint32_t done = 0;
    while (done < m->data_len) {
        NE_ASSERT(b != NE_JS_MEM_NONE);
        ne_js_mem_block *blk = block(mem, b);
        uint32_t n = NE_MIN(m->data_len - done, BLOCK_CAP - at);
        m->read_at(m->read_ctx, done, blk->data + at, n);
        done += n;
        at = 0;
        b = blk->next;
    }
}

static int mem_append(ne_js_store *st, const ne_js_msg_in *m, uint64_t ts_ns, uint64_t *seq)
{
    ne_js_mem *mem = mem_of(st);
    NE_ASSERT(m->subject.len > 0);
    if (m->subject.len >= NE_JS_MEM_SUBJECT_SCRATCH || m->subject.len > UINT16_MAX) {
        return NE_ERR_TOO_BIG;
    }
    uint64_t hash = subject_hash(st->id, m->subject);
    uint32_t e = subject_find(mem, st->id, m->subject, hash);
    ne_js_mem_subject *subj = NULL;
    if (e == NE_JS_MEM_NONE) {
        subj = ne_pool_alloc(&mem->subjects);
        if (subj == NULL) {
            return NE_ERR_NOMEM;
        }
        e = ne_pool_index(&mem->subjects, subj);
    } else {
        subj = subject_at(mem, e);
    }
    uint32_t n = ne_js_mem_blocks_for(m->subject.len, m->hdr_len, m->data_len);
    uint32_t i = blocks_take(mem, n);
    if (i == NE_JS_MEM_NONE) {
        if (subj->msgs == 0) {
            ne_pool_free(&mem->subjects, subj);
        }
        return NE_ERR_NOMEM;
    }
    ne_js_mem_block *first = block(mem, i);
    first->first = 1;
    mem_msg *h = (mem_msg *)(void *)first->data;
    memset(h, 0, sizeof(*h));
    h->seq = st->state.last_seq + 1;
    h->ts_ns = ts_ns;
    h->stream = st->id;
    h->subject_len = (uint16_t)m->subject.len;
    h->hdr_len = m->hdr_len;
    h->data_len = m->data_len;
    h->subject = e;
    uint32_t pos = sizeof(mem_msg);
    record_write(mem, i, pos, m->subject.ptr, m->subject.len);
    pos += m->subject.len;
    if (m->hdr_len > 0) {
        record_write(mem, i, pos, m->hdr, m->hdr_len);
        pos += m->hdr_len;
    }
    if (m->data_len > 0) {
        if (m->data != NULL) {
            record_write(mem, i, pos, m->data, m->data_len);
        } else {
            record_write_from(mem, i, pos, m);
        }
    }
    /* The stream's order. */
    ne_js_mem_stream *ms = &st->impl.mem;
    h->prev = ms->tail;
    h->next = NE_JS_MEM_NONE;
    if (ms->tail != NE_JS_MEM_NONE) {
        msg_at(mem, ms->tail)->next = i;
    } else {
        ms->head = i;
    }
    ms->tail = i;
    /* The subject's order, and a new entry's links. */
    if (subj->msgs == 0) {
        subj->hash = hash;
        subj->stream = st->id;
        subj->first = i;
        uint32_t *sb = &mem->subject_buckets[subject_bucket(hash)];
        subj->hash_next = bucket_get(sb);
        bucket_set(sb, e);
        subj->prev = NE_JS_MEM_NONE;
        subj->next = ms->subjects;
        if (ms->subjects != NE_JS_MEM_NONE) {
            subject_at(mem, ms->subjects)->prev = e;
        }
        ms->subjects = e;
        h->subj_prev = NE_JS_MEM_NONE;
        st->state.num_subjects++;
    } else {
        h->subj_prev = subj->last;
        msg_at(mem, subj->last)->subj_next = i;
    }
    h->subj_next = NE_JS_MEM_NONE;
    subj->last = i;
    subj->msgs++;
    /* The sequence index. */
    uint32_t *bucket = &mem->seq_buckets[seq_bucket(st->id, h->seq)];
    h->hash_next = bucket_get(bucket);
    bucket_set(bucket, i);
    /* The state. */
    ne_js_store_state *s = &st->state;
    if (s->msgs == 0) {
        s->first_seq = h->seq;
        s->first_ts_ns = ts_ns;
    }
    s->msgs++;
    s->bytes += ne_js_store_msg_bytes(m->subject.len, m->hdr_len, m->data_len);
    s->last_seq = h->seq;
    s->last_ts_ns = ts_ns;
    *seq = h->seq;
    return NE_OK;
}

static int mem_skip_to(ne_js_store *st, uint64_t seq)
{
    NE_ASSERT(seq > st->state.last_seq);
    st->state.last_seq = seq - 1;
    if (st->state.msgs == 0) {
        st->state.first_seq = seq;
    }
    return NE_OK;
}

/* ---- Removal ------------------------------------------------------------------- */

static void remove_block(ne_js_store *st, uint32_t i, bool erase)
{
    ne_js_mem *mem = mem_of(st);
    ne_js_mem_stream *ms = &st->impl.mem;
    mem_msg *m = msg_at(mem, i);
    /* The stream's order. */
    if (m->prev != NE_JS_MEM_NONE) {
        msg_at(mem, m->prev)->next = m->next;
    } else {
        ms->head = m->next;
    }
    if (m->next != NE_JS_MEM_NONE) {
        msg_at(mem, m->next)->prev = m->prev;
    } else {
        ms->tail = m->prev;
    }
    /* The subject's order; its entry goes with its last message. */
    ne_js_mem_subject *subj = subject_at(mem, m->subject);
    if (m->subj_prev != NE_JS_MEM_NONE) {
        msg_at(mem, m->subj_prev)->subj_next = m->subj_next;
    } else {
        subj->first = m->subj_next;
    }
    if (m->subj_next != NE_JS_MEM_NONE) {
        msg_at(mem, m->subj_next)->subj_prev = m->subj_prev;
    } else {
        subj->last = m->subj_prev;
    }
    NE_ASSERT(subj->msgs > 0);
    subj->msgs--;
    ne_js_store_state *s = &st->state;
    if (subj->msgs == 0) {
        subject_unlink_bucket(mem, m->subject);
        if (subj->prev != NE_JS_MEM_NONE) {
            subject_at(mem, subj->prev)->next = subj->next;
        } else {
            ms->subjects = subj->next;
        }
        if (subj->next != NE_JS_MEM_NONE) {
            subject_at(mem, subj->next)->prev = subj->prev;
        }
        ne_pool_free(&mem->subjects, subj);
        NE_ASSERT(s->num_subjects > 0);
        s->num_subjects--;
    }
    seq_unlink(mem, i);
    /* The state. */
    uint64_t bytes = ne_js_store_msg_bytes(m->subject_len, m->hdr_len, m->data_len);
    NE_ASSERT(s->msgs > 0 && s->bytes >= bytes);
    s->msgs--;
    s->bytes -= bytes;
    if (ms->head == NE_JS_MEM_NONE) {
        s->first_seq = s->last_seq + 1;
        s->first_ts_ns = 0;
    } else {
        const mem_msg *h = msg_at(mem, ms->head);
        s->first_seq = h->seq;
        s->first_ts_ns = h->ts_ns;
    }
    if (erase) {
        /* Only the header stays meaningful until the blocks are freed. */
        uint32_t total = m->subject_len + m->hdr_len + m->data_len;
        uint32_t pos = sizeof(mem_msg);
        uint8_t zeros[64];
        memset(zeros, 0, sizeof(zeros));
        while (total > 0) {
            uint32_t n = NE_MIN(total, (uint32_t)sizeof(zeros));
            record_write(mem, i, pos, zeros, n);
            pos += n;
            total -= n;
        }
    }
    blocks_free(mem, i);
}

/* The block of the first message at or after seq, NE_JS_MEM_NONE if none. */
static uint32_t find_from(ne_js_store *st, uint64_t seq)
{
    ne_js_mem *mem = mem_of(st);
    const ne_js_store_state *s = &st->state;
    if (s->msgs == 0 || seq > s->last_seq) {
        return NE_JS_MEM_NONE;
    }
    if (seq <= s->first_seq) {
        return st->impl.mem.head;
    }
    for (uint32_t k = 0; k < PROBE_LIMIT && seq + k <= s->last_seq; k++) {
        uint32_t i = seq_lookup(mem, st->id, seq + k);
        if (i != NE_JS_MEM_NONE) {
            return i;
        }
    }
    /* Many removed sequences here: walk from the nearer end. Bounded by
     * the stream's messages. */
    if (seq - s->first_seq < s->last_seq - seq) {
        uint32_t i = st->impl.mem.head;
        for (uint64_t guard = 0; i != NE_JS_MEM_NONE && guard <= s->msgs; guard++) {
            const mem_msg *m = msg_at(mem, i);
            if (m->seq >= seq) {
                return i;
            }
            i = m->next;
        }
        return NE_JS_MEM_NONE;
    }
    uint32_t i = st->impl.mem.tail;
    uint32_t found = NE_JS_MEM_NONE;
    for (uint64_t guard = 0; i != NE_JS_MEM_NONE && guard <= s->msgs; guard++) {
        const mem_msg *m = msg_at(mem, i);
        if (m->seq < seq) {
            break;
        }
        found = i;
        i = m->prev;
    }
    return found;
}

static int mem_remove(ne_js_store *st, uint64_t seq, bool erase)
{
    uint32_t i = seq_lookup(mem_of(st), st->id, seq);
    if (i == NE_JS_MEM_NONE) {
        return NE_ERR_NOT_FOUND;
    }
    remove_block(st, i, erase);
    return NE_OK;
}

static void mem_drop(ne_js_store *st)
{
    uint64_t guard = 0;
    uint64_t msgs = st->state.msgs;
    while (st->impl.mem.head != NE_JS_MEM_NONE && guard++ <= msgs) {
        remove_block(st, st->impl.mem.head, false);
    }
    NE_ASSERT(st->state.msgs == 0 && st->impl.mem.subjects == NE_JS_MEM_NONE);
}

static int mem_sync(ne_js_store *st)
{
    return NE_OK;
}

/* ---- Lookups ------------------------------------------------------------------- */

static int mem_info(ne_js_store *st, uint64_t seq, ne_js_msg_info *out)
{
    ne_js_mem *mem = mem_of(st);
    uint32_t i = seq_lookup(mem, st->id, seq);
    if (i == NE_JS_MEM_NONE) {
        return NE_ERR_NOT_FOUND;
    }
    return fill_info(mem, i, out);
}

static int mem_read(ne_js_store *st, uint64_t seq, uint32_t offset, void *dst, uint32_t len)
{
    ne_js_mem *mem = mem_of(st);
    uint32_t i = seq_lookup(mem, st->id, seq);
    if (i == NE_JS_MEM_NONE) {
        return NE_ERR_NOT_FOUND;
    }
    const mem_msg *m = msg_at(mem, i);
    uint64_t body = (uint64_t)m->hdr_len + m->data_len;
    if ((uint64_t)offset + len > body) {
        return NE_ERR_RANGE;
    }
    record_read(mem, i, (uint32_t)sizeof(mem_msg) + m->subject_len + offset, dst, len);
    return NE_OK;
}

static bool is_literal(ne_slice s)
{
    for (uint32_t i = 0; i < s.len; i++) {
        bool token_start = i == 0 || s.ptr[i - 1] == '.';
        bool token_end = i + 1 == s.len || s.ptr[i + 1] == '.';
        if ((s.ptr[i] == '*' || s.ptr[i] == '>') && token_start && token_end) {
            return false;
        }
    }
    return true;
}

static bool matches_all(ne_slice filter)
{
    return filter.len == 0 || (filter.len == 1 && filter.ptr[0] == '>');
}

/* Whether the subject of entry e matches filter, remembered in a small
 * cache for one walk (a walk meets the same subjects again and again). */
typedef struct match_cache {
    uint32_t entry[16];
    bool result[16];
} match_cache;

static void cache_init(match_cache *c)
{
    for (size_t k = 0; k < NE_ARRAY_LEN(c->entry); k++) {
        c->entry[k] = NE_JS_MEM_NONE;
    }
}

static bool msg_matches(ne_js_mem *mem, uint32_t i, ne_slice filter, match_cache *c)
{
    if (matches_all(filter)) {
        return true;
    }
    uint32_t e = msg_at(mem, i)->subject;
    uint32_t k = e % NE_ARRAY_LEN(c->entry);
    if (c->entry[k] == e) {
        return c->result[k];
    }
    ne_slice s = subject_of(mem, i);
    bool r = ne_subject_matches(filter.ptr, filter.len, s.ptr, s.len);
    c->entry[k] = e;
    c->result[k] = r;
    return r;
}

static int mem_next(ne_js_store *st, uint64_t from, ne_slice filter, ne_js_msg_info *out)
{
    ne_js_mem *mem = mem_of(st);
    if (!matches_all(filter) && is_literal(filter)) {
        uint32_t e = subject_find(mem, st->id, filter, subject_hash(st->id, filter));
        if (e == NE_JS_MEM_NONE) {
            return NE_ERR_NOT_FOUND;
        }
        /* The subject's own list, oldest first. */
        uint32_t i = subject_at(mem, e)->first;
        for (uint64_t guard = 0; i != NE_JS_MEM_NONE && guard <= st->state.msgs; guard++) {
            const mem_msg *m = msg_at(mem, i);
            if (m->seq >= from) {
                return fill_info(mem, i, out);
            }
            i = m->subj_next;
        }
        return NE_ERR_NOT_FOUND;
    }
    match_cache cache;
    cache_init(&cache);
    uint32_t i = find_from(st, from);
    for (uint64_t guard = 0; i != NE_JS_MEM_NONE && guard <= st->state.msgs; guard++) {
        if (msg_matches(mem, i, filter, &cache)) {
            return fill_info(mem, i, out);
        }
        i = msg_at(mem, i)->next;
    }
    return NE_ERR_NOT_FOUND;
}

static int mem_last(ne_js_store *st, ne_slice filter, ne_js_msg_info *out)
{
    ne_js_mem *mem = mem_of(st);
    if (!matches_all(filter) && is_literal(filter)) {
        uint32_t e = subject_find(mem, st->id, filter, subject_hash(st->id, filter));
        if (e == NE_JS_MEM_NONE) {
            return NE_ERR_NOT_FOUND;
        }
        return fill_info(mem, subject_at(mem, e)->last, out);
    }
    match_cache cache;
    cache_init(&cache);
    uint32_t i = st->impl.mem.tail;
    for (uint64_t guard = 0; i != NE_JS_MEM_NONE && guard <= st->state.msgs; guard++) {
        if (msg_matches(mem, i, filter, &cache)) {
            return fill_info(mem, i, out);
        }
        i = msg_at(mem, i)->prev;
    }
    return NE_ERR_NOT_FOUND;
}

/* Times are those of the appends: a wall clock that went back makes them
 * out of order, so the walk takes the first at or after ts_ns. */
static uint64_t mem_seq_at_time(ne_js_store *st, uint64_t ts_ns)
{
    ne_js_mem *mem = mem_of(st);
    uint32_t i = st->impl.mem.head;
    for (uint64_t guard = 0; i != NE_JS_MEM_NONE && guard <= st->state.msgs; guard++) {
        const mem_msg *m = msg_at(mem, i);
        if (m->ts_ns >= ts_ns) {
            return m->seq;
        }
        i = m->next;
    }
    return st->state.last_seq + 1;
}

static void entry_state(const ne_js_mem *mem, const ne_js_mem_subject *e, ne_js_subject_state *out)
{
    out->msgs = e->msgs;
    out->first_seq = msg_at(mem, e->first)->seq;
    out->last_seq = msg_at(mem, e->last)->seq;
}

static int mem_subject_state(ne_js_store *st, ne_slice subject, ne_js_subject_state *out)
{
    ne_js_mem *mem = mem_of(st);
    uint32_t e = subject_find(mem, st->id, subject, subject_hash(st->id, subject));
    if (e == NE_JS_MEM_NONE) {
        memset(out, 0, sizeof(*out));
        return NE_ERR_NOT_FOUND;
    }
    entry_state(mem, subject_at(mem, e), out);
    return NE_OK;
}

static void mem_each_subject(ne_js_store *st, ne_slice filter, ne_js_subject_visit visit, void *ctx)
{
    ne_js_mem *mem = mem_of(st);
    uint32_t e = st->impl.mem.subjects;
    for (uint64_t guard = 0; e != NE_JS_MEM_NONE && guard < NE_JS_MAX_SUBJECTS; guard++) {
        const ne_js_mem_subject *s = subject_at(mem, e);
        uint32_t next = s->next;
        ne_slice text = subject_of(mem, s->last);
        if (matches_all(filter) || ne_subject_matches(filter.ptr, filter.len, text.ptr, text.len)) {
            ne_js_subject_state ss;
            entry_state(mem, s, &ss);
            if (!visit(ctx, text, &ss)) {
                return;
            }
        }
        e = next;
    }
}

static void mem_filtered(ne_js_store *st, ne_slice filter, uint64_t from, ne_js_subject_state *out)
{
    ne_js_mem *mem = mem_of(st);
    const ne_js_store_state *s = &st->state;
    memset(out, 0, sizeof(*out));
    if (s->msgs == 0 || from > s->last_seq) {
        return;
    }
    if (matches_all(filter) && from <= s->first_seq) {
        out->msgs = s->msgs;
        out->first_seq = s->first_seq;
        out->last_seq = s->last_seq;
        return;
    }
    if (matches_all(filter) && s->last_seq - s->first_seq + 1 == s->msgs) {
        /* No interior gaps: every sequence from `from` is there. */
        out->msgs = s->last_seq - from + 1;
        out->first_seq = from;
        out->last_seq = s->last_seq;
        return;
    }
    if (!matches_all(filter) && is_literal(filter)) {
        uint32_t e = subject_find(mem, st->id, filter, subject_hash(st->id, filter));
        if (e == NE_JS_MEM_NONE) {
            return;
        }
        const ne_js_mem_subject *subj = subject_at(mem, e);
        if (msg_at(mem, subj->first)->seq >= from) {
            entry_state(mem, subj, out);
            return;
        }
        /* Count back from the newest. */
        uint32_t i = subj->last;
        for (uint64_t guard = 0; i != NE_JS_MEM_NONE && guard <= s->msgs; guard++) {
            const mem_msg *m = msg_at(mem, i);
            if (m->seq < from) {
                break;
            }
            if (out->msgs == 0) {
                out->last_seq = m->seq;
            }
            out->first_seq = m->seq;
            out->msgs++;
            i = m->subj_prev;
        }
        return;
    }
    match_cache cache;
    cache_init(&cache);
    uint32_t i = find_from(st, from);
    for (uint64_t guard = 0; i != NE_JS_MEM_NONE && guard <= s->msgs; guard++) {
        const mem_msg *m = msg_at(mem, i);
        if (msg_matches(mem, i, filter, &cache)) {
            if (out->msgs == 0) {
                out->first_seq = m->seq;
            }
            out->last_seq = m->seq;
            out->msgs++;
        }
        i = m->next;
    }
}

static const ne_js_store_ops mem_ops = {
    .append = mem_append,
    .skip_to = mem_skip_to,
    .info = mem_info,
    .read = mem_read,
    .next = mem_next,
    .last = mem_last,
    .seq_at_time = mem_seq_at_time,
    .subject_state = mem_subject_state,
    .each_subject = mem_each_subject,
    .filtered = mem_filtered,
    .remove = mem_remove,
    .sync = mem_sync,
    .drop = mem_drop,
};

void ne_js_mem_init(ne_js_mem *mem, ne_js_mem_storage *storage)
{
    ne_pool_init(&mem->blocks, "JetStream memory blocks", &storage->blocks, sizeof(ne_js_mem_block),
                 NE_JS_MEM_BLOCKS);
    ne_pool_init(&mem->subjects, "JetStream subjects", &storage->subjects,
                 sizeof(ne_js_mem_subject), NE_JS_MAX_SUBJECTS);
    /* The buckets are all zero (empty) as the server's storage starts. */
}

void ne_js_mem_open(ne_js_mem *mem, ne_js_store *st, uint16_t id)
{
    memset(st, 0, sizeof(*st));
    st->ops = &mem_ops;
    st->backend = mem;
    st->id = id;
    st->impl.mem.head = NE_JS_MEM_NONE;
    st->impl.mem.tail = NE_JS_MEM_NONE;
    st->impl.mem.subjects = NE_JS_MEM_NONE;
}

#endif /* NE_FEATURE_JETSTREAM */
