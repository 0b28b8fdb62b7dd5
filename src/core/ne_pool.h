/* A fixed-size object pool over caller-provided storage.
 *
 * Objects are handed out from a free list, then from the part of the storage
 * never handed out yet, lowest slots first; nothing is ever allocated from a
 * heap. Init writes nothing into the storage, so pages of a pool that a run
 * never needs are never touched (static storage stays out of the resident
 * set until used). Each pool counts its use, its peak and how often it was exhausted, so
 * monitoring can report them and tests can check that everything came back.
 * Not thread-safe: the core runs on one thread.
 */
#ifndef NE_POOL_H
#define NE_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef struct ne_pool_free_node {
    struct ne_pool_free_node *next;
} ne_pool_free_node;

/* Under AddressSanitizer a returned object is poisoned until it is
 * allocated again (ne_pool.c). */
#if defined(__SANITIZE_ADDRESS__)
#define NE_POOL_POISON 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NE_POOL_POISON 1
#endif
#endif

typedef struct ne_pool {
    const char *name;
    uint8_t *storage;
    size_t object_bytes; /* rounded up to pointer alignment */
    uint32_t capacity;
    uint32_t in_use;
    uint32_t peak;
    uint32_t exhausted; /* allocations refused because the pool was empty */
    uint32_t fresh;     /* slots [fresh, capacity) were never handed out */
    ne_pool_free_node *free_list;
#ifdef NE_POOL_POISON
    uint32_t readable; /* leading bytes of a free object left unpoisoned */
#endif
} ne_pool;

/* Rounds an object size up so that objects in one storage array stay aligned. */
#define NE_POOL_OBJECT_BYTES(size) (((size) + sizeof(void *) - 1) / sizeof(void *) * sizeof(void *))

/* Declares storage for `count` objects of `type`, suitably aligned. */
#define NE_POOL_STORAGE(type, count)                                                               \
    union {                                                                                        \
        void *align;                                                                               \
        uint8_t bytes[NE_POOL_OBJECT_BYTES(sizeof(type)) * (count)];                               \
    }

/* storage must hold capacity * NE_POOL_OBJECT_BYTES(object_bytes) bytes. */
void ne_pool_init(ne_pool *pool, const char *name, void *storage, size_t object_bytes,
                  uint32_t capacity);
/* The first `bytes` of a free object stay readable under AddressSanitizer
 * (a structure that reads a flag of its free objects, as the trie does);
 * nothing otherwise. */
void ne_pool_keep_readable(ne_pool *pool, size_t bytes);

/* Returns a zeroed object, or NULL when the pool is exhausted (counted). */
void *ne_pool_alloc(ne_pool *pool);

/* Like ne_pool_alloc but leaves the object's bytes as they were: for large
 * objects (chunks) whose user initialises only a header. */
void *ne_pool_alloc_uninit(ne_pool *pool);

/* Returns an object to its pool. The object must have come from this pool. */
void ne_pool_free(ne_pool *pool, void *object);

/* Zeroes n bytes at p, writing only the 8-byte words that are not zero yet.
 * Static storage that was never written (bss) then stays out of the resident
 * set on a host with demand paging: reading an untouched page maps the
 * shared zero page, writing it would take a page of RAM. For initialising
 * large static state that is usually all zero already. */
void ne_zero_lazy(void *p, size_t n);

/* True when `object` points at an object slot of this pool. */
bool ne_pool_owns(const ne_pool *pool, const void *object);

/* Index of an object in its pool (0 .. capacity-1). */
uint32_t ne_pool_index(const ne_pool *pool, const void *object);

static inline uint32_t ne_pool_available(const ne_pool *pool)
{
    return pool->capacity - pool->in_use;
}

#endif
