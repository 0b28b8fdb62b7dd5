#include "core/ne_pool.h"

#include <string.h>

#include "core/ne_assert.h"

#ifdef NE_POOL_POISON
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

void ne_pool_init(ne_pool *pool, const char *name, void *storage, size_t object_bytes,
                  uint32_t capacity)
{
    NE_ASSERT(pool != NULL);
    NE_ASSERT(storage != NULL || capacity == 0);
    NE_ASSERT(object_bytes >= sizeof(ne_pool_free_node));
    memset(pool, 0, sizeof(*pool));
    UNPOISON(storage, (size_t)capacity * NE_POOL_OBJECT_BYTES(object_bytes));
    pool->name = name;
    pool->storage = storage;
    pool->object_bytes = NE_POOL_OBJECT_BYTES(object_bytes);
    pool->capacity = capacity;
    pool->fresh = 0;
#ifdef NE_POOL_POISON
    pool->readable = sizeof(ne_pool_free_node);
#endif
}

void ne_pool_keep_readable(ne_pool *pool, size_t bytes)
{
    NE_ASSERT(bytes >= sizeof(ne_pool_free_node) && bytes <= pool->object_bytes);
#ifdef NE_POOL_POISON
    pool->readable = (uint32_t)bytes;
#endif
}

void *ne_pool_alloc(ne_pool *pool)
{
    void *object = ne_pool_alloc_uninit(pool);
    if (object != NULL) {
        memset(object, 0, pool->object_bytes);
    }
    return object;
}

void *ne_pool_alloc_uninit(ne_pool *pool)
{
    void *object;
    ne_pool_free_node *node = pool->free_list;
    if (node != NULL) {
        pool->free_list = node->next;
        object = node;
    } else if (pool->fresh < pool->capacity) {
        /* Returned objects are reused first (the most recent one: its
         * memory is the warmest); untouched slots only when none is free. */
        object = pool->storage + (size_t)pool->fresh * pool->object_bytes;
        pool->fresh++;
    } else {
        pool->exhausted++;
        return NULL;
    }
    UNPOISON(object, pool->object_bytes);
    pool->in_use++;
    if (pool->in_use > pool->peak) {
        pool->peak = pool->in_use;
    }
    return object;
}

bool ne_pool_owns(const ne_pool *pool, const void *object)
{
    const uint8_t *p = object;
    if (p < pool->storage || p >= pool->storage + (size_t)pool->capacity * pool->object_bytes) {
        return false;
    }
    return ((size_t)(p - pool->storage) % pool->object_bytes) == 0;
}

uint32_t ne_pool_index(const ne_pool *pool, const void *object)
{
    NE_ASSERT(ne_pool_owns(pool, object));
    return (uint32_t)(((const uint8_t *)object - pool->storage) / pool->object_bytes);
}

void ne_pool_free(ne_pool *pool, void *object)
{
    NE_ASSERT(object != NULL);
    NE_ASSERT(ne_pool_owns(pool, object));
    NE_ASSERT(pool->in_use > 0);
    ne_pool_free_node *node = object;
    node->next = pool->free_list;
    pool->free_list = node;
    pool->in_use--;
#ifdef NE_POOL_POISON
    POISON((uint8_t *)object + pool->readable, pool->object_bytes - pool->readable);
#endif
}

void ne_zero_lazy(void *p, size_t n)
{
    UNPOISON(p, n); /* the memory starts a new life (a server initialized again) */
    uint8_t *b = p;
    for (; n >= 8; n -= 8, b += 8) {
        uint64_t w;
        memcpy(&w, b, sizeof(w));
        if (w != 0) {
            memset(b, 0, sizeof(w));
        }
    }
    for (; n > 0; n--, b++) {
        if (*b != 0) {
            *b = 0;
        }
    }
}
