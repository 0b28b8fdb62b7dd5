/* JetStream's memory storage (`storage: memory`): the messages of every
 * memory stream in one pool of fixed-size blocks, shared by all streams.
 *
 * A message is a chain of blocks: its first block starts with a header
 * (sequence, time, links) followed by the subject, the headers and the
 * payload, which continue in the next blocks. Each stream links its
 * messages in sequence order; each subject with messages has an entry (a
 * second pool, shared too) linking its messages in order, so the last
 * message of a subject, its count and its first message are at hand; a
 * hash of (stream, sequence) finds a message, a hash of (stream, subject)
 * finds a subject's entry. Lookups by subject compare the text, so hash
 * collisions cost a comparison, never a wrong answer.
 *
 * Nothing is lost at a restart because nothing survives it: that is what
 * nats-server's memory storage promises too. Pools exhausted: NE_ERR_NOMEM
 * from append, nothing stored. */
#ifndef NE_JS_MEM_H
#define NE_JS_MEM_H

#include <stdint.h>

#include "core/ne_pool.h"
#include "js/ne_js_store.h"

#if NE_JS_MEM_BLOCK_BYTES < 128 || NE_JS_MEM_BLOCK_BYTES % 8 != 0
#error "NE_JS_MEM_BLOCK_BYTES must be a multiple of 8 and at least 128"
#endif

#define NE_JS_MEM_NONE UINT32_MAX

/* One block: the next block of the same message, then data (8-byte
 * aligned: a first block's data starts with the message's header). */
typedef struct ne_js_mem_block {
    uint32_t next;
    uint32_t first; /* 1 in a message's first block */
    uint8_t data[NE_JS_MEM_BLOCK_BYTES - 8];
} ne_js_mem_block;

/* A subject with messages in one stream. */
typedef struct ne_js_mem_subject {
    uint64_t hash;
    uint32_t first; /* its oldest message's block */
    uint32_t last;  /* its newest message's block */
    uint32_t msgs;
    uint32_t hash_next; /* the bucket's chain */
    uint32_t prev;      /* the stream's list of subjects */
    uint32_t next;
    uint16_t stream;
} ne_js_mem_subject;

/* The largest power of two at most n (n >= 1, < 2^25), for hash tables. */
#define NE_JS_POW2_FLOOR(n)                                                                        \
    ((n) >= (1u << 24)   ? (1u << 24)                                                              \
     : (n) >= (1u << 22) ? (1u << 22)                                                              \
     : (n) >= (1u << 20) ? (1u << 20)                                                              \
     : (n) >= (1u << 18) ? (1u << 18)                                                              \
     : (n) >= (1u << 16) ? (1u << 16)                                                              \
     : (n) >= (1u << 14) ? (1u << 14)                                                              \
     : (n) >= (1u << 12) ? (1u << 12)                                                              \
     : (n) >= (1u << 10) ? (1u << 10)                                                              \
     : (n) >= (1u << 8)  ? (1u << 8)                                                               \
     : (n) >= (1u << 6)  ? (1u << 6)                                                               \
     : (n) >= (1u << 4)  ? (1u << 4)                                                               \
                         : 4u)

/* Hash tables: at most about two entries per bucket on average. */
#define NE_JS_MEM_SEQ_BUCKETS NE_JS_POW2_FLOOR(NE_JS_MEM_BLOCKS)
#define NE_JS_MEM_SUBJECT_BUCKETS NE_JS_POW2_FLOOR(NE_JS_MAX_SUBJECTS)

/* A subject that spans blocks is copied here to be matched. */
#define NE_JS_MEM_SUBJECT_SCRATCH (NE_MAX_CONTROL_LINE_BYTES + 1)

typedef struct ne_js_mem_storage {
    NE_POOL_STORAGE(ne_js_mem_block, NE_JS_MEM_BLOCKS) blocks;
    NE_POOL_STORAGE(ne_js_mem_subject, NE_JS_MAX_SUBJECTS) subjects;
} ne_js_mem_storage;

typedef struct ne_js_mem {
    ne_pool blocks;
    ne_pool subjects;
    uint32_t seq_buckets[NE_JS_MEM_SEQ_BUCKETS];
    uint32_t subject_buckets[NE_JS_MEM_SUBJECT_BUCKETS];
    char scratch[NE_JS_MEM_SUBJECT_SCRATCH];
} ne_js_mem;

/* Sets up the shared pools over storage (nothing written into it). */
void ne_js_mem_init(ne_js_mem *mem, ne_js_mem_storage *storage);
/* Opens an empty store for stream slot id. */
void ne_js_mem_open(ne_js_mem *mem, ne_js_store *st, uint16_t id);
/* Blocks a message of these sizes takes. */
uint32_t ne_js_mem_blocks_for(uint32_t subject_len, uint32_t hdr_len, uint32_t data_len);

#endif
