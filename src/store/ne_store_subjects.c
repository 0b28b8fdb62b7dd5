#include "store/ne_store_subjects.h"

#include <string.h>

#include "core/ne_assert.h"

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
