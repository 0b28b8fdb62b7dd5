#include "store/ne_store_subjects.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"

#define CHUNK_HEADER_BYTES 8u
#define CHUNK_DEAD 0xffffffffu

/* Linear probing degrades sharply when the table is nearly full, so an
 * eighth stays free; tiny tables (tests, one-subject streams) use every slot
 * because probes are bounded by the capacity anyway. */
uint32_t ne_store_subjects_max(uint32_t capacity)
{
    if (capacity < 8) {
        return capacity;
    }
    return capacity - capacity / 8;
}

void ne_store_subjects_clear(ne_store *store)
{
    if (store->subject_pool != NULL) {
        ne_store_subjects_release(store);
        return;
    }
    if (store->subject_capacity > 0) {
        memset(store->subjects, 0, (size_t)store->subject_capacity * sizeof(*store->subjects));
    }
    store->subject_text_used = 0;
    store->subject_text_dead = 0;
}

static uint32_t home_slot(uint64_t hash, uint32_t capacity)
{
    return (uint32_t)(hash ^ (hash >> 32)) & (capacity - 1);
}

static uint32_t chunk_bytes(size_t len)
{
    return (CHUNK_HEADER_BYTES + (uint32_t)len + 3u) & ~3u;
}

static uint8_t *chunk_at(const ne_store *store, uint32_t off)
{
    NE_ASSERT(off + CHUNK_HEADER_BYTES <= store->subject_text_used);
    return (uint8_t *)store->subject_text + off;
}

static void chunk_set_owner(const ne_store *store, uint32_t off, uint32_t index)
{
    uint8_t *c = chunk_at(store, off);
    memcpy(c, &index, sizeof(index));
}

static bool same_text(const ne_store *store, const ne_store_subject *e, const char *subject,
                      size_t len)
{
    if (e->text_off == NE_STORE_NO_TEXT || subject == NULL) {
        return true;
    }
    return e->text_len == len &&
           memcmp(store->subject_text + e->text_off + CHUNK_HEADER_BYTES, subject, len) == 0;
}

int32_t ne_store_subjects_find(const ne_store *store, uint64_t hash, const char *subject,
                               size_t len)
{
    NE_ASSERT(hash != 0);
    uint32_t capacity = store->subject_capacity;
    if (capacity == 0) {
        return -1;
    }
    uint32_t i = home_slot(hash, capacity);
    for (uint32_t probes = 0; probes < capacity; probes++) {
        const ne_store_subject *e = &store->subjects[i];
        if (e->hash == 0) {
            return -1;
        }
        if (e->hash == hash && same_text(store, e, subject, len)) {
            return (int32_t)i;
        }
        i = (i + 1) & (capacity - 1);
    }
    return -1;
}

int32_t ne_store_subjects_find_hash(const ne_store *store, uint64_t hash)
{
    return ne_store_subjects_find(store, hash, NULL, 0);
}

/* Moves the live chunks down over the dead ones, telling each entry where
 * its bytes went. Bounded by the chunks in the arena. */
static void pack_arena(ne_store *store)
{
    uint32_t read = 0;
    uint32_t write = 0;
    uint32_t bound = store->subject_text_used / CHUNK_HEADER_BYTES + 1;
    for (uint32_t step = 0; step < bound && read < store->subject_text_used; step++) {
        uint8_t *c = (uint8_t *)store->subject_text + read;
        uint32_t owner;
        uint16_t len;
        memcpy(&owner, c, sizeof(owner));
        memcpy(&len, c + 4, sizeof(len));
        uint32_t size = chunk_bytes(len);
        if (owner != CHUNK_DEAD) {
            NE_ASSERT(owner < store->subject_capacity && store->subjects[owner].text_off == read);
            if (write != read) {
                memmove(store->subject_text + write, c, size);
            }
            store->subjects[owner].text_off = write;
            write += size;
        }
        read += size;
    }
    store->subject_text_used = write;
    store->subject_text_dead = 0;
}

/* Room for a chunk of len bytes at the end of the arena: NE_STORE_NO_TEXT
 * when there is none even after packing. */
static uint32_t arena_alloc(ne_store *store, size_t len)
{
    uint32_t size = chunk_bytes(len);
    if (store->subject_text_bytes - store->subject_text_used < size &&
        store->subject_text_dead > 0) {
        pack_arena(store);
    }
    if (store->subject_text_bytes - store->subject_text_used < size) {
        return NE_STORE_NO_TEXT;
    }
    uint32_t off = store->subject_text_used;
    store->subject_text_used += size;
    return off;
}

int32_t ne_store_subjects_insert(ne_store *store, uint64_t hash, const char *subject, size_t len)
{
    NE_ASSERT(hash != 0 && store->subject_capacity > 0);
    uint32_t off = NE_STORE_NO_TEXT;
    if (store->subject_text != NULL) {
        off = arena_alloc(store, len);
        if (off == NE_STORE_NO_TEXT) {
            return -1;
        }
    }
    uint32_t capacity = store->subject_capacity;
    uint32_t i = home_slot(hash, capacity);
    for (uint32_t probes = 0; probes < capacity; probes++) {
        ne_store_subject *e = &store->subjects[i];
        if (e->hash == 0) {
            memset(e, 0, sizeof(*e));
            e->hash = hash;
            e->text_off = off;
            e->text_len = (uint16_t)len;
            if (off != NE_STORE_NO_TEXT) {
                uint8_t *c = (uint8_t *)store->subject_text + off;
                uint32_t owner = i;
                uint16_t l16 = (uint16_t)len;
                uint16_t zero = 0;
                memcpy(c, &owner, sizeof(owner));
                memcpy(c + 4, &l16, sizeof(l16));
                memcpy(c + 6, &zero, sizeof(zero));
                if (len > 0) {
                    memcpy(c + CHUNK_HEADER_BYTES, subject, len);
                }
            }
            return (int32_t)i;
        }
        i = (i + 1) & (capacity - 1);
    }
    NE_ASSERT(!"subject table insert into a full table");
    return -1;
}

/* Backward-shift deletion keeps every entry reachable from its home slot
 * without tombstones, so a table that churns through subjects (KV keys come
 * and go) never slows down. An entry that moves takes its chunk's owner
 * along. */
void ne_store_subjects_remove(ne_store *store, uint32_t index)
{
    uint32_t capacity = store->subject_capacity;
    NE_ASSERT(index < capacity && store->subjects[index].hash != 0);
    ne_store_subject *slots = store->subjects;
    if (slots[index].text_off != NE_STORE_NO_TEXT) {
        chunk_set_owner(store, slots[index].text_off, CHUNK_DEAD);
        store->subject_text_dead += chunk_bytes(slots[index].text_len);
    }
    uint32_t hole = index;
    uint32_t i = index;
    for (uint32_t probes = 0; probes < capacity; probes++) {
        i = (i + 1) & (capacity - 1);
        if (slots[i].hash == 0) {
            break;
        }
        uint32_t home = home_slot(slots[i].hash, capacity);
        /* Entry i may fill the hole when its home is not in (hole, i]. */
        uint32_t dist_home = (i - home) & (capacity - 1);
        uint32_t dist_hole = (i - hole) & (capacity - 1);
        if (dist_home >= dist_hole) {
            slots[hole] = slots[i];
            if (slots[hole].text_off != NE_STORE_NO_TEXT) {
                chunk_set_owner(store, slots[hole].text_off, hole);
            }
            hole = i;
        }
    }
    memset(&slots[hole], 0, sizeof(slots[hole]));
}

const char *ne_store_subjects_text(const ne_store *store, uint32_t index, size_t *len)
{
    const ne_store_subject *e = &store->subjects[index];
    if (e->text_off == NE_STORE_NO_TEXT) {
        *len = 0;
        return NULL;
    }
    *len = e->text_len;
    return store->subject_text + e->text_off + CHUNK_HEADER_BYTES;
}

/* ---- Tables from a pool of size classes ------------------------------------- */

void ne_store_subject_pool_init(ne_store_subject_pool *pool)
{
    NE_ASSERT(pool != NULL);
    memset(pool, 0, sizeof(*pool));
}

int ne_store_subject_pool_add(ne_store_subject_pool *pool, const char *name, uint32_t entries,
                              uint32_t text_bytes, void *storage, uint32_t tables)
{
    NE_ASSERT(pool != NULL);
    if (tables == 0) {
        return NE_OK;
    }
    if (storage == NULL || entries < 8 || (entries & (entries - 1)) != 0 || text_bytes == 0 ||
        text_bytes % 8 != 0 || text_bytes > 0x80000000u || ((uintptr_t)storage & 7u) != 0) {
        return NE_ERR_INVALID;
    }
    if (pool->class_count > 0) {
        const ne_store_subject_class *last = &pool->classes[pool->class_count - 1];
        if (entries <= last->entries || text_bytes <= last->text_bytes) {
            return NE_ERR_INVALID;
        }
    }
    if (pool->class_count >= NE_STORE_SUBJECT_CLASSES) {
        return NE_ERR_FULL;
    }
    ne_store_subject_class *k = &pool->classes[pool->class_count];
    k->entries = entries;
    k->text_bytes = text_bytes;
    ne_pool_init(&k->tables, name, storage, NE_STORE_SUBJECT_TABLE_BYTES(entries, text_bytes),
                 tables);
    NE_ASSERT(k->tables.object_bytes == NE_STORE_SUBJECT_TABLE_BYTES(entries, text_bytes));
    pool->class_count++;
    return NE_OK;
}

uint32_t ne_store_subject_pool_in_use(const ne_store_subject_pool *pool)
{
    uint32_t total = 0;
    for (uint32_t c = 0; c < pool->class_count; c++) {
        total += pool->classes[c].tables.in_use;
    }
    return total;
}

void ne_store_subjects_release(ne_store *store)
{
    if (store->subject_pool == NULL || store->subject_class == NE_STORE_NO_CLASS) {
        return;
    }
    NE_ASSERT(store->subject_class < store->subject_pool->class_count);
    ne_pool_free(&store->subject_pool->classes[store->subject_class].tables, store->subjects);
    store->subjects = NULL;
    store->subject_capacity = 0;
    store->subject_max = 0;
    store->subject_text = NULL;
    store->subject_text_bytes = 0;
    store->subject_text_used = 0;
    store->subject_text_dead = 0;
    store->subject_class = NE_STORE_NO_CLASS;
}

/* Copies every entry of the old table, and its bytes, into the new one
 * (zeroed, larger): entries go to their home slots in the new capacity,
 * texts are laid out again without the dead chunks. Bounded by the old
 * capacity, each insertion by the new one. */
static void rehash_into(ne_store *store, ne_store_subject *to, uint32_t capacity, char *text,
                        uint32_t text_bytes)
{
    uint32_t used = 0;
    for (uint32_t i = 0; i < store->subject_capacity; i++) {
        const ne_store_subject *e = &store->subjects[i];
        if (e->hash == 0) {
            continue;
        }
        uint32_t j = home_slot(e->hash, capacity);
        for (uint32_t probes = 0; probes < capacity && to[j].hash != 0; probes++) {
            j = (j + 1) & (capacity - 1);
        }
        NE_ASSERT(to[j].hash == 0);
        to[j] = *e;
        if (e->text_off == NE_STORE_NO_TEXT) {
            continue;
        }
        uint32_t size = chunk_bytes(e->text_len);
        NE_ASSERT(used + size <= text_bytes);
        memcpy(text + used, store->subject_text + e->text_off, size);
        memcpy(text + used, &j, sizeof(j));
        to[j].text_off = used;
        used += size;
    }
    store->subject_text_used = used;
    store->subject_text_dead = 0;
}

bool ne_store_subjects_grow(ne_store *store, uint32_t entries, uint32_t text_bytes)
{
    ne_store_subject_pool *pool = store->subject_pool;
    if (pool == NULL) {
        return false;
    }
    uint32_t from = store->subject_class == NE_STORE_NO_CLASS ? 0 : store->subject_class + 1u;
    for (uint32_t c = from; c < pool->class_count; c++) {
        ne_store_subject_class *k = &pool->classes[c];
        if (ne_store_subjects_max(k->entries) < entries || k->text_bytes < text_bytes) {
            continue;
        }
        uint8_t *table = ne_pool_alloc_uninit(&k->tables);
        if (table == NULL) {
            continue;
        }
        ne_store_subject *to = (ne_store_subject *)(void *)table;
        memset(to, 0, (size_t)k->entries * sizeof(*to));
        char *text = (char *)table + (size_t)k->entries * sizeof(*to);
        rehash_into(store, to, k->entries, text, k->text_bytes);
        uint32_t used = store->subject_text_used;
        if (store->subject_class != NE_STORE_NO_CLASS) {
            pool->moves++;
            ne_pool_free(&pool->classes[store->subject_class].tables, store->subjects);
        }
        store->subjects = to;
        store->subject_capacity = k->entries;
        store->subject_max = ne_store_subjects_max(k->entries);
        store->subject_text = text;
        store->subject_text_bytes = k->text_bytes;
        store->subject_text_used = used;
        store->subject_text_dead = 0;
        store->subject_class = c;
        return true;
    }
    pool->refused++;
    return false;
}

bool ne_store_subjects_make_room(ne_store *store, uint32_t count, size_t len)
{
    bool entries_ok = count < store->subject_max;
    if (store->subject_pool == NULL) {
        return entries_ok;
    }
    uint32_t live = store->subject_text_used - store->subject_text_dead;
    uint32_t need = live + chunk_bytes(len);
    bool text_ok = store->subject_text != NULL && need <= store->subject_text_bytes;
    if (!entries_ok || !text_ok) {
        (void)ne_store_subjects_grow(store, count + 1u, need);
    }
    return count < store->subject_max;
}
