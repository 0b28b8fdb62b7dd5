#include "store/ne_store_subjects.h"

#include <string.h>

#include "core/ne_assert.h"

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

void ne_store_subjects_clear(ne_store_subject *slots, uint32_t capacity)
{
    memset(slots, 0, (size_t)capacity * sizeof(*slots));
}

static uint32_t home_slot(uint64_t hash, uint32_t capacity)
{
    return (uint32_t)(hash ^ (hash >> 32)) & (capacity - 1);
}

int32_t ne_store_subjects_find(const ne_store_subject *slots, uint32_t capacity, uint64_t hash)
{
    NE_ASSERT(hash != 0);
    uint32_t i = home_slot(hash, capacity);
    for (uint32_t probes = 0; probes < capacity; probes++) {
        if (slots[i].hash == hash) {
            return (int32_t)i;
        }
        if (slots[i].hash == 0) {
            return -1;
        }
        i = (i + 1) & (capacity - 1);
    }
    return -1;
}

int32_t ne_store_subjects_insert(ne_store_subject *slots, uint32_t capacity, uint64_t hash)
{
    NE_ASSERT(hash != 0);
    uint32_t i = home_slot(hash, capacity);
    for (uint32_t probes = 0; probes < capacity; probes++) {
        NE_ASSERT(slots[i].hash != hash);
        if (slots[i].hash == 0) {
            memset(&slots[i], 0, sizeof(slots[i]));
            slots[i].hash = hash;
            return (int32_t)i;
        }
        i = (i + 1) & (capacity - 1);
    }
    NE_ASSERT(!"subject table insert into a full table");
    return -1;
}

/* Backward-shift deletion keeps every entry reachable from its home slot
 * without tombstones, so a table that churns through subjects (KV keys come
 * and go) never slows down. */
void ne_store_subjects_remove(ne_store_subject *slots, uint32_t capacity, uint32_t index)
{
    NE_ASSERT(index < capacity && slots[index].hash != 0);
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
            hole = i;
        }
    }
    memset(&slots[hole], 0, sizeof(slots[hole]));
}
