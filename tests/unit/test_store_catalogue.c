/* Unit tests of a device holding many logs (src/store/ne_store_dev.h): the
 * catalogue (create, find, update, delete, atomic under power cuts), logs
 * sharing blocks and buffers, block quotas, truncation and erasure made
 * durable, records that replace others atomically, damage reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/ne_error.h"
#include "sim/ne_sim_flash.h"
#include "store/ne_store.h"
#include "store/ne_store_dev.h"
#include "store/ne_store_format.h"

#define BLOCKS 24
#define ERASE_BYTES 4096
#define LOGS 6

static ne_store_dev dev;
static ne_store stores[LOGS];
static ne_store_subject subjects[LOGS][32];
static char texts[LOGS][512];
static uint32_t ids[LOGS];
static uint8_t entry_buf[NE_STORE_MAX_CONFIG_BYTES + 320];
static ne_sim_flash sim;
static uint8_t image[BLOCKS * ERASE_BYTES];
static uint32_t erase_counts[BLOCKS];
static uint8_t programmed[NE_SIM_FLASH_PROGRAMMED_BYTES(BLOCKS, ERASE_BYTES, 16)];
static uint8_t durable[BLOCKS * ERASE_BYTES];
static uint8_t dirty[NE_SIM_FLASH_DIRTY_BYTES(BLOCKS, ERASE_BYTES, 16)];
static ne_snappy_table table;
static uint8_t buf[8192];
static uint8_t saved[BLOCKS * ERASE_BYTES];
static uint32_t saved_counts[BLOCKS];

static const ne_flash_geometry geometry = {
    .program_bytes = 16, .erase_bytes = ERASE_BYTES, .block_count = BLOCKS};

static ne_store_config config_for(uint32_t i)
{
    ne_store_config cfg = {.subjects = subjects[i],
                           .subject_capacity = 32,
                           .subject_text = texts[i],
                           .subject_text_bytes = sizeof(texts[i])};
    return cfg;
}

static void attach(uint32_t i)
{
    ne_store_config cfg = config_for(i);
    assert_int_equal(ne_store_attach(&stores[i], &dev, ids[i], &cfg), NE_OK);
}

static int setup(void **state)
{
    (void)state;
    ne_sim_flash_init(&sim, geometry, image, erase_counts, programmed, 5);
    assert_int_equal(ne_store_dev_open(&dev, &sim.flash, &table), NE_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(sim.violations, 0);
    return 0;
}

static void save_image(void)
{
    memcpy(saved, image, sizeof(saved));
    memcpy(saved_counts, erase_counts, sizeof(saved_counts));
}

/* The device as saved, behind a write cache whose outcomes depend on seed. */
static void restore_image(uint64_t seed)
{
    memcpy(image, saved, sizeof(saved));
    memcpy(erase_counts, saved_counts, sizeof(saved_counts));
    memset(programmed, 0, sizeof(programmed));
    ne_sim_flash_power_on(&sim);
    sim.rng = seed;
    ne_sim_flash_use_cache(&sim, durable, dirty, 16, 0, 0);
}

static void create(uint32_t i, const char *name, const char *config)
{
    assert_int_equal(ne_store_dev_create(&dev, NE_STORE_KIND_STREAM, 0, name, strlen(name), config,
                                         config != NULL ? strlen(config) : 0, &ids[i]),
                     NE_OK);
}

static uint64_t put(uint32_t i, const char *subject, const char *payload)
{
    ne_store_msg m = {.subject = subject,
                      .subject_len = strlen(subject),
                      .payload = (const uint8_t *)payload,
                      .payload_len = strlen(payload),
                      .timestamp_ns = 5};
    uint64_t seq = 0;
    assert_int_equal(ne_store_append(&stores[i], &m, &seq), NE_OK);
    return seq;
}

static void expect(uint32_t i, uint64_t seq, const char *payload)
{
    ne_store_msg m;
    assert_int_equal(ne_store_load(&stores[i], seq, &m, buf, sizeof(buf)), NE_OK);
    assert_int_equal(m.payload_len, strlen(payload));
    assert_memory_equal(m.payload, payload, m.payload_len);
}

static ne_store_entry find(const char *name)
{
    ne_store_entry e;
    assert_int_equal(ne_store_dev_find(&dev, NE_STORE_KIND_STREAM, 0, name, strlen(name), &e,
                                       entry_buf, sizeof(entry_buf)),
                     NE_OK);
    return e;
}

/* ---- The catalogue ------------------------------------------------------- */

static void test_catalogue_entries_survive_reopen(void **state)
{
    (void)state;
    create(0, "ORDERS", "{\"subjects\":[\"orders.>\"]}");
    create(1, "EVENTS", NULL);
    assert_int_equal(
        ne_store_dev_create(&dev, NE_STORE_KIND_CONSUMER, ids[0], "worker", 6, "c", 1, &ids[2]),
        NE_OK);
    assert_int_equal(ne_store_dev_open(&dev, &sim.flash, &table), NE_OK);
    ne_store_entry e = find("ORDERS");
    assert_int_equal(e.id, ids[0]);
    assert_int_equal(e.config_len, strlen("{\"subjects\":[\"orders.>\"]}"));
    assert_memory_equal(e.config, "{\"subjects\":[\"orders.>\"]}", e.config_len);
    assert_false(e.attached);
    assert_int_equal(ne_store_dev_find(&dev, NE_STORE_KIND_CONSUMER, ids[0], "worker", 6, &e,
                                       entry_buf, sizeof(entry_buf)),
                     NE_OK);
    assert_int_equal(e.id, ids[2]);
    assert_int_equal(e.owner, ids[0]);
    /* Walking the catalogue in id order. */
    uint32_t after = 0;
    uint32_t seen = 0;
    while (ne_store_dev_next_entry(&dev, after, &e, entry_buf, sizeof(entry_buf)) == NE_OK) {
        assert_true(e.id > after);
        after = e.id;
        seen++;
    }
    assert_int_equal(seen, 3);
    ne_store_dev_stats st;
    ne_store_dev_get_stats(&dev, &st);
    assert_int_equal(st.logs, 3);
}

static void test_create_refuses_duplicates_and_bad_names(void **state)
{
    (void)state;
    create(0, "A", NULL);
    uint32_t id;
    assert_int_equal(ne_store_dev_create(&dev, NE_STORE_KIND_STREAM, 0, "A", 1, NULL, 0, &id),
                     NE_ERR_EXISTS);
    /* The same name is another log for another kind or owner. */
    assert_int_equal(ne_store_dev_create(&dev, NE_STORE_KIND_KV, 0, "A", 1, NULL, 0, &id), NE_OK);
    assert_int_equal(ne_store_dev_create(&dev, NE_STORE_KIND_STREAM, 0, "", 0, NULL, 0, &id),
                     NE_ERR_INVALID);
    static char long_name[300];
    memset(long_name, 'n', sizeof(long_name));
    assert_int_equal(
        ne_store_dev_create(&dev, NE_STORE_KIND_STREAM, 0, long_name, 256, NULL, 0, &id),
        NE_ERR_INVALID);
    assert_int_equal(ne_store_dev_create(&dev, (ne_store_kind)9, 0, "x", 1, NULL, 0, &id),
                     NE_ERR_INVALID);
    static uint8_t big[NE_STORE_MAX_CONFIG_BYTES + 1];
    assert_int_equal(
        ne_store_dev_create(&dev, NE_STORE_KIND_STREAM, 0, "big", 3, big, sizeof(big), &id),
        NE_ERR_TOO_BIG);
}

static void test_more_logs_than_slots_is_refused(void **state)
{
    (void)state;
    char name[16];
    uint32_t id;
    int rc = NE_OK;
    uint32_t made = 0;
    for (uint32_t i = 0; i < NE_STORE_MAX_LOGS + 1 && rc == NE_OK; i++) {
        snprintf(name, sizeof(name), "s%u", i);
        rc = ne_store_dev_create(&dev, NE_STORE_KIND_STREAM, 0, name, strlen(name), NULL, 0, &id);
        made += rc == NE_OK;
    }
    assert_int_equal(rc, NE_ERR_NOMEM);
    assert_int_equal(made, NE_STORE_MAX_LOGS - 1);
    /* Deleting one makes room again. */
    assert_int_equal(ne_store_dev_delete(&dev, id - 1), NE_OK);
    assert_int_equal(ne_store_dev_create(&dev, NE_STORE_KIND_STREAM, 0, "again", 5, NULL, 0, &id),
                     NE_OK);
}

static void test_update_replaces_the_configuration(void **state)
{
    (void)state;
    create(0, "S", "v1");
    assert_int_equal(ne_store_dev_update(&dev, ids[0], "version two", 11), NE_OK);
    assert_int_equal(ne_store_dev_open(&dev, &sim.flash, &table), NE_OK);
    ne_store_entry e = find("S");
    assert_int_equal(e.config_len, 11);
    assert_memory_equal(e.config, "version two", 11);
    assert_int_equal(ne_store_dev_update(&dev, 999, "x", 1), NE_ERR_NOT_FOUND);
}

/* A power cut anywhere in an update leaves the old configuration or the
 * new one, never neither (the stream is never lost), behind a write cache
 * that reorders. */
static void test_cut_during_an_update_keeps_old_or_new(void **state)
{
    (void)state;
    create(0, "S", "old configuration");
    attach(0);
    for (int i = 0; i < 40; i++) {
        put(0, "s", "data");
    }
    assert_int_equal(ne_store_sync(&stores[0]), NE_OK);
    assert_int_equal(ne_store_detach(&stores[0]), NE_OK);
    save_image();
    bool saw_old = false;
    bool saw_new = false;
    for (uint64_t seed = 1; seed <= 16; seed++) {
        for (uint64_t cut = 1; cut < 40; cut++) {
            restore_image(seed * 131 + cut);
            assert_int_equal(ne_store_dev_open(&dev, &sim.flash, &table), NE_OK);
            ne_sim_flash_cut_after(&sim, cut);
            int rc = ne_store_dev_update(&dev, ids[0], "new configuration", 17);
            if (rc == NE_OK) {
                sim.cut_at = 0;
                break;
            }
            assert_int_equal(rc, NE_ERR_POWER_LOSS);
            ne_sim_flash_power_on(&sim);
            assert_int_equal(ne_store_dev_open(&dev, &sim.flash, &table), NE_OK);
            ne_store_entry e = find("S");
            assert_int_equal(e.config_len, 17);
            bool old = memcmp(e.config, "old configuration", 17) == 0;
            bool new = memcmp(e.config, "new configuration", 17) == 0;
            assert_true(old || new);
            saw_old = saw_old || old;
            saw_new = saw_new || new;
            attach(0);
            assert_int_equal(stores[0].state.msgs, 40);
            assert_int_equal(ne_store_detach(&stores[0]), NE_OK);
        }
    }
    assert_true(saw_old);
    assert_true(saw_new);
    ne_sim_flash_use_cache(&sim, NULL, NULL, 0, 0, 0);
}

/* ---- Many logs ----------------------------------------------------------- */

static void test_logs_share_the_device_and_recover_apart(void **state)
{
    (void)state;
    char name[8];
    for (uint32_t i = 0; i < LOGS; i++) {
        snprintf(name, sizeof(name), "L%u", i);
        create(i, name, NULL);
        attach(i);
    }
    char payload[64];
    for (uint32_t n = 0; n < 600; n++) {
        uint32_t i = (n * 7) % LOGS;
        snprintf(payload, sizeof(payload), "log %u message %u", i, n);
        put(i, i % 2 == 0 ? "even.log" : "odd.log", payload);
        if (n % 50 == 0) {
            assert_int_equal(ne_store_dev_sync(&dev), NE_OK);
        }
    }
    /* Removals in every log, then compaction across them. */
    for (uint32_t i = 0; i < LOGS; i++) {
        for (uint64_t s = 1; s <= stores[i].state.last_seq; s += 2) {
            assert_int_equal(ne_store_delete(&stores[i], s), NE_OK);
        }
    }
    uint32_t freed = 0;
    assert_int_equal(ne_store_compact(&stores[0], &freed), NE_OK);
    assert_int_equal(ne_store_dev_sync(&dev), NE_OK);
    ne_store_dev_stats st;
    ne_store_dev_get_stats(&dev, &st);
    assert_true(st.buffer_switches > 0);
    ne_store_state before[LOGS];
    for (uint32_t i = 0; i < LOGS; i++) {
        ne_store_get_state(&stores[i], &before[i]);
    }
    assert_int_equal(ne_store_dev_open(&dev, &sim.flash, &table), NE_OK);
    for (uint32_t i = 0; i < LOGS; i++) {
        attach(i);
        ne_store_state after;
        ne_store_get_state(&stores[i], &after);
        assert_int_equal(after.msgs, before[i].msgs);
        assert_int_equal(after.last_seq, before[i].last_seq);
        assert_int_equal(after.first_seq, before[i].first_seq);
        for (uint64_t s = 2; s <= after.last_seq; s += 2) {
            ne_store_msg m;
            assert_int_equal(ne_store_load(&stores[i], s, &m, buf, sizeof(buf)), NE_OK);
            assert_true(m.payload_len > 4 && memcmp(m.payload, "log ", 4) == 0);
            assert_int_equal(m.payload[4] - '0', (int)i);
        }
    }
}

static void test_delete_removes_a_log_and_its_blocks(void **state)
{
    (void)state;
    create(0, "KEEP", NULL);
    create(1, "DROP", NULL);
    attach(0);
    attach(1);
    for (int n = 0; n < 200; n++) {
        put(n % 2, "s", "some payload that takes room in the blocks");
    }
    assert_int_equal(ne_store_dev_sync(&dev), NE_OK);
    ne_store_dev_stats st;
    ne_store_dev_get_stats(&dev, &st);
    uint32_t data_before = st.blocks_data;
    assert_int_equal(ne_store_dev_delete(&dev, ids[1]), NE_ERR_EXISTS);
    assert_int_equal(ne_store_detach(&stores[1]), NE_OK);
    assert_int_equal(ne_store_dev_delete(&dev, ids[1]), NE_OK);
    ne_store_dev_get_stats(&dev, &st);
    assert_true(st.blocks_data < data_before);
    assert_int_equal(ne_store_dev_delete(&dev, ids[1]), NE_ERR_NOT_FOUND);
    for (uint32_t b = 0; b < dev.block_count; b++) {
        assert_true(dev.blocks[b].state != SF_STATE_DATA || dev.blocks[b].log_id != ids[1]);
    }
    assert_int_equal(ne_store_dev_open(&dev, &sim.flash, &table), NE_OK);
    ne_store_entry e;
    assert_int_equal(ne_store_dev_find(&dev, NE_STORE_KIND_STREAM, 0, "DROP", 4, &e, entry_buf,
                                       sizeof(entry_buf)),
                     NE_ERR_NOT_FOUND);
    attach(0);
    assert_int_equal(stores[0].state.msgs, 100);
    /* Its id is not given again. */
    uint32_t id;
    assert_int_equal(ne_store_dev_create(&dev, NE_STORE_KIND_STREAM, 0, "NEW", 3, NULL, 0, &id),
                     NE_OK);
    assert_true(id > ids[1]);
}

/* A cut anywhere in a deletion: the log is there whole, or gone whole. */
static void test_cut_during_a_delete_leaves_the_log_whole_or_gone(void **state)
{
    (void)state;
    create(0, "KEEP", NULL);
    create(1, "DROP", NULL);
    attach(0);
    attach(1);
    for (int n = 0; n < 200; n++) {
        put(n % 2, "s", "some payload that takes room in the blocks");
    }
    assert_int_equal(ne_store_dev_sync(&dev), NE_OK);
    assert_int_equal(ne_store_detach(&stores[0]), NE_OK);
    assert_int_equal(ne_store_detach(&stores[1]), NE_OK);
    save_image();
    bool saw_whole = false;
    bool saw_gone = false;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        for (uint64_t cut = 1; cut < 80; cut++) {
            restore_image(seed * 977 + cut);
            assert_int_equal(ne_store_dev_open(&dev, &sim.flash, &table), NE_OK);
            ne_sim_flash_cut_after(&sim, cut);
            int rc = ne_store_dev_delete(&dev, ids[1]);
            if (rc == NE_OK) {
                sim.cut_at = 0;
                break;
            }
            assert_int_equal(rc, NE_ERR_POWER_LOSS);
            ne_sim_flash_power_on(&sim);
            assert_int_equal(ne_store_dev_open(&dev, &sim.flash, &table), NE_OK);
            ne_store_entry e;
            rc = ne_store_dev_find(&dev, NE_STORE_KIND_STREAM, 0, "DROP", 4, &e, entry_buf,
                                   sizeof(entry_buf));
            if (rc == NE_OK) {
                attach(1);
                assert_int_equal(stores[1].state.msgs, 100);
                assert_int_equal(ne_store_detach(&stores[1]), NE_OK);
                saw_whole = true;
            } else {
                assert_int_equal(rc, NE_ERR_NOT_FOUND);
                for (uint32_t b = 0; b < dev.block_count; b++) {
                    assert_true(dev.blocks[b].state != SF_STATE_DATA ||
                                dev.blocks[b].log_id != ids[1]);
                }
                saw_gone = true;
            }
            attach(0);
            assert_int_equal(stores[0].state.msgs, 100);
            assert_int_equal(ne_store_detach(&stores[0]), NE_OK);
        }
    }
    assert_true(saw_whole);
    assert_true(saw_gone);
    ne_sim_flash_use_cache(&sim, NULL, NULL, 0, 0, 0);
}

/* A log not attached is left as it is while others compact around it. */
static void test_unattached_log_is_left_alone(void **state)
{
    (void)state;
    create(0, "IDLE", NULL);
    create(1, "BUSY", NULL);
    attach(0);
    for (int n = 0; n < 60; n++) {
        put(0, "idle", "kept while nobody looks");
    }
    assert_int_equal(ne_store_sync(&stores[0]), NE_OK);
    assert_int_equal(ne_store_detach(&stores[0]), NE_OK);
    assert_int_equal(ne_store_dev_open(&dev, &sim.flash, &table), NE_OK);
    attach(1);
    ne_store_limits l = {.max_msgs_per_subject = 1};
    assert_int_equal(ne_store_set_limits(&stores[1], &l), NE_OK);
    char subject[16];
    for (int n = 0; n < 3000; n++) {
        snprintf(subject, sizeof(subject), "k.%d", n % 7);
        put(1, subject, "churning through the device");
        if (n % 20 == 0) {
            assert_int_equal(ne_store_sync(&stores[1]), NE_OK);
        }
    }
    attach(0);
    assert_int_equal(stores[0].state.msgs, 60);
    expect(0, 60, "kept while nobody looks");
}

/* ---- Quotas ------------------------------------------------------------------ */

static void test_block_quota_bounds_one_log(void **state)
{
    (void)state;
    /* Without compression: about 5 records of 600 B per block. */
    assert_int_equal(ne_store_dev_open(&dev, &sim.flash, NULL), NE_OK);
    create(0, "CAPPED", NULL);
    create(1, "FREE", NULL);
    ne_store_config cfg = config_for(0);
    cfg.max_blocks = 3;
    cfg.limits.discard = NE_STORE_DISCARD_NEW;
    assert_int_equal(ne_store_attach(&stores[0], &dev, ids[0], &cfg), NE_OK);
    attach(1);
    static char payload[600];
    memset(payload, 'p', sizeof(payload) - 1);
    int rc = NE_OK;
    int stored = 0;
    for (int n = 0; n < 1000 && rc == NE_OK; n++) {
        ne_store_msg m = {.subject = "c",
                          .subject_len = 1,
                          .payload = (const uint8_t *)payload,
                          .payload_len = sizeof(payload) - 1};
        rc = ne_store_append(&stores[0], &m, NULL);
        stored += rc == NE_OK;
    }
    assert_int_equal(rc, NE_ERR_FULL);
    assert_int_equal(ne_store_refused_by(&stores[0]), NE_STORE_LIMIT_SPACE);
    assert_true(stored > 10 && stored < 25);
    assert_true(((ne_store_slot *)stores[0].impl)->data_blocks <= 3);
    /* The other log still has the rest of the device. */
    for (int n = 0; n < 100; n++) {
        put(1, "f", payload);
    }
    /* With discard old the capped log keeps taking messages. */
    cfg.limits.discard = NE_STORE_DISCARD_OLD;
    assert_int_equal(ne_store_set_limits(&stores[0], &cfg.limits), NE_OK);
    for (int n = 0; n < 100; n++) {
        put(0, "c", payload);
    }
    assert_true(((ne_store_slot *)stores[0].impl)->data_blocks <= 3);
    assert_true(stores[0].state.msgs <= (uint64_t)stored + 2);
    expect(0, stores[0].state.last_seq, payload);
}

/* A device another log has filled: a stream with discard old whose
 * messages all sit in its head block cannot make room by removing them, so
 * its append is refused and it keeps every message; one that holds older
 * blocks gives up its oldest block's messages and takes the new one. */
static void test_full_device_discard_old_removes_only_what_makes_room(void **state)
{
    (void)state;
    assert_int_equal(ne_store_dev_open(&dev, &sim.flash, NULL), NE_OK);
    create(0, "SMALL", NULL);
    create(1, "BIG", NULL);
    create(2, "OLD", NULL);
    attach(0);
    attach(2);
    ne_store_config cfg = config_for(1);
    cfg.limits.discard = NE_STORE_DISCARD_NEW;
    assert_int_equal(ne_store_attach(&stores[1], &dev, ids[1], &cfg), NE_OK);
    static char payload[600];
    memset(payload, 'p', sizeof(payload) - 1);
    for (int n = 0; n < 3; n++) {
        put(0, "s", "small");
    }
    for (int n = 0; n < 20; n++) {
        put(2, "o", payload);
    }
    int rc = NE_OK;
    for (int n = 0; n < 1000 && rc == NE_OK; n++) {
        ne_store_msg m = {.subject = "b",
                          .subject_len = 1,
                          .payload = (const uint8_t *)payload,
                          .payload_len = sizeof(payload) - 1};
        rc = ne_store_append(&stores[1], &m, NULL);
    }
    assert_int_equal(rc, NE_ERR_FULL);
    assert_int_equal(ne_store_sync(&stores[1]), NE_OK);
    /* SMALL: its three messages share its head; nothing to gain. */
    rc = NE_OK;
    for (int n = 0; n < 50 && rc == NE_OK; n++) {
        ne_store_msg m = {.subject = "s",
                          .subject_len = 1,
                          .payload = (const uint8_t *)payload,
                          .payload_len = sizeof(payload) - 1};
        rc = ne_store_append(&stores[0], &m, NULL);
    }
    assert_int_equal(rc, NE_ERR_FULL);
    assert_int_equal(ne_store_refused_by(&stores[0]), NE_STORE_LIMIT_SPACE);
    assert_int_equal(stores[0].state.first_seq, 1);
    expect(0, 1, "small");
    /* OLD: once its head is full, its first block's messages go and the
     * new ones are stored. */
    uint64_t before = stores[2].state.msgs;
    for (int n = 0; n < 10; n++) {
        put(2, "o", payload);
    }
    expect(2, stores[2].state.last_seq, payload);
    assert_true(stores[2].state.first_seq > 1);
    assert_true(stores[2].state.msgs + 10 > before);
}

/* A stream with discard old whose messages sit in one sealed block (its
 * head was closed by a truncation), on a device another log has filled:
 * removing them would leave a dead block that only a merge with another
 * could reclaim, so nothing can make room; the append is refused and the
 * stream keeps its messages. */
static void test_discard_old_refused_for_space_removes_nothing(void **state)
{
    (void)state;
    assert_int_equal(ne_store_dev_open(&dev, &sim.flash, NULL), NE_OK);
    create(0, "OLD", NULL);
    create(1, "NEW", NULL);
    attach(0);
    ne_store_config cfg = config_for(1);
    cfg.limits.discard = NE_STORE_DISCARD_NEW;
    assert_int_equal(ne_store_attach(&stores[1], &dev, ids[1], &cfg), NE_OK);
    static char payload[600];
    memset(payload, 'p', sizeof(payload) - 1);
    put(0, "o", "one");
    put(0, "o", "two");
    put(0, "o", "three");
    assert_int_equal(ne_store_truncate(&stores[0], 2), NE_OK);
    int rc = NE_OK;
    for (int n = 0; n < 1000 && rc == NE_OK; n++) {
        ne_store_msg m = {.subject = "n",
                          .subject_len = 1,
                          .payload = (const uint8_t *)payload,
                          .payload_len = sizeof(payload) - 1};
        rc = ne_store_append(&stores[1], &m, NULL);
    }
    assert_int_equal(rc, NE_ERR_FULL);
    ne_store_slot *old = stores[0].impl;
    assert_true(old->head < 0 || (dev.blocks[old->head].flags & SF_FLAG_SEALED));
    rc = NE_OK;
    for (int n = 0; n < 20 && rc == NE_OK; n++) {
        ne_store_msg m = {.subject = "o",
                          .subject_len = 1,
                          .payload = (const uint8_t *)payload,
                          .payload_len = sizeof(payload) - 1};
        rc = ne_store_append(&stores[0], &m, NULL);
    }
    assert_int_equal(rc, NE_ERR_FULL);
    assert_int_equal(stores[0].state.msgs, 2);
    expect(0, 1, "one");
    expect(0, 2, "two");
}

/* A log whose dead block cannot leave yet (no open head to record its
 * retirement, and no second block to merge it with) does not keep another
 * log's dead block from being reclaimed. */
static void test_a_dead_block_that_cannot_leave_does_not_block_others(void **state)
{
    (void)state;
    assert_int_equal(ne_store_dev_open(&dev, &sim.flash, NULL), NE_OK);
    create(0, "A", NULL);
    create(1, "B", NULL);
    attach(0);
    attach(1);
    static char payload[600];
    memset(payload, 'p', sizeof(payload) - 1);
    /* A: truncated to nothing, its head rewritten into a block holding no
     * record, and closed. */
    put(0, "a", "1");
    put(0, "a", "2");
    assert_int_equal(ne_store_truncate(&stores[0], 0), NE_OK);
    /* B: two blocks, the first emptied. */
    ne_store_slot *a = stores[0].impl;
    ne_store_slot *b = stores[1].impl;
    uint64_t b_last = 0;
    for (int n = 0; n < 60 && b->data_blocks < 2; n++) {
        b_last = put(1, "b", payload);
    }
    assert_int_equal(b->data_blocks, 2);
    uint64_t b_first_of_head = dev.blocks[b->head].first_seq;
    assert_int_equal(
        ne_store_purge(&stores[1], &(ne_store_purge_req){.up_to_seq = b_first_of_head}, NULL),
        NE_OK);
    assert_int_equal(ne_store_dev_sync(&dev), NE_OK);
    uint32_t a_dead = 0;
    int32_t first_dead = -1;
    for (uint32_t i = 0; i < dev.block_count; i++) {
        const ne_store_block *blk = &dev.blocks[i];
        if (blk->state == SF_STATE_DATA && blk->live_msgs == 0 && (int32_t)i != b->head) {
            a_dead += blk->slot == a->index;
            first_dead = first_dead < 0 ? (int32_t)i : first_dead;
        }
    }
    assert_true(a->head < 0 || (dev.blocks[a->head].flags & SF_FLAG_SEALED));
    assert_int_equal(a_dead, 1);
    assert_int_equal(dev.blocks[first_dead].slot, a->index);
    uint32_t reclaimed = 0;
    assert_int_equal(ne_store_compact(&stores[1], &reclaimed), NE_OK);
    assert_true(reclaimed >= 1);
    assert_int_equal(b->data_blocks, 1);
    expect(1, b_last, payload);
}

/* ---- Atomic replacement, truncation, erasure ---------------------------------- */

/* A key at max_msgs_per_subject 1: after a cut while a new value is being
 * written (behind a write cache), the key holds the old value or the new
 * one, never neither. */
static void test_replacing_a_value_is_atomic_under_cuts(void **state)
{
    (void)state;
    create(0, "KV", NULL);
    ne_store_config cfg = config_for(0);
    cfg.limits.max_msgs_per_subject = 1;
    assert_int_equal(ne_store_attach(&stores[0], &dev, ids[0], &cfg), NE_OK);
    char value[32];
    for (int n = 0; n < 30; n++) {
        snprintf(value, sizeof(value), "value %d", n);
        put(0, "key", value);
        put(0, "other", value);
    }
    assert_int_equal(ne_store_sync(&stores[0]), NE_OK);
    assert_int_equal(ne_store_detach(&stores[0]), NE_OK);
    save_image();
    bool saw_old = false;
    bool saw_new = false;
    for (uint64_t seed = 1; seed <= 24; seed++) {
        for (uint64_t cut = 1; cut < 20; cut++) {
            restore_image(seed * 7 + cut * 1000);
            assert_int_equal(ne_store_dev_open(&dev, &sim.flash, &table), NE_OK);
            assert_int_equal(ne_store_attach(&stores[0], &dev, ids[0], &cfg), NE_OK);
            ne_sim_flash_cut_after(&sim, cut);
            ne_store_msg m = {.subject = "key",
                              .subject_len = 3,
                              .payload = (const uint8_t *)"value new",
                              .payload_len = 9};
            int rc = ne_store_append(&stores[0], &m, NULL);
            if (rc == NE_OK) {
                rc = ne_store_sync(&stores[0]);
            }
            if (rc == NE_OK) {
                sim.cut_at = 0;
                break;
            }
            assert_int_equal(rc, NE_ERR_POWER_LOSS);
            ne_sim_flash_power_on(&sim);
            assert_int_equal(ne_store_dev_open(&dev, &sim.flash, &table), NE_OK);
            assert_int_equal(ne_store_attach(&stores[0], &dev, ids[0], &cfg), NE_OK);
            ne_store_msg got;
            assert_int_equal(ne_store_load_last(&stores[0], "key", 3, &got, buf, sizeof(buf)),
                             NE_OK);
            bool old = got.payload_len == 8 && memcmp(got.payload, "value 29", 8) == 0;
            bool new = got.payload_len == 9 && memcmp(got.payload, "value new", 9) == 0;
            assert_true(old || new);
            saw_old = saw_old || old;
            saw_new = saw_new || new;
            assert_int_equal(stores[0].state.msgs, 2);
        }
    }
    assert_true(saw_old);
    assert_true(saw_new);
    ne_sim_flash_use_cache(&sim, NULL, NULL, 0, 0, 0);
}

static void test_truncation_is_durable_and_whole_under_cuts(void **state)
{
    (void)state;
    create(0, "RAFT", NULL);
    attach(0);
    char value[32];
    for (int n = 1; n <= 120; n++) {
        snprintf(value, sizeof(value), "entry %d", n);
        put(0, "e", value);
    }
    assert_int_equal(ne_store_sync(&stores[0]), NE_OK);
    assert_int_equal(ne_store_detach(&stores[0]), NE_OK);
    save_image();
    bool saw_before = false;
    bool saw_after = false;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        for (uint64_t cut = 1; cut < 60; cut++) {
            restore_image(seed * 31 + cut);
            assert_int_equal(ne_store_dev_open(&dev, &sim.flash, &table), NE_OK);
            attach(0);
            ne_sim_flash_cut_after(&sim, cut);
            int rc = ne_store_truncate(&stores[0], 50);
            if (rc == NE_OK) {
                sim.cut_at = 0;
                /* Durable at once: a reopen sees it, and the next entry
                 * gets 51. */
                assert_int_equal(ne_store_dev_open(&dev, &sim.flash, &table), NE_OK);
                attach(0);
                assert_int_equal(stores[0].state.last_seq, 50);
                assert_int_equal(put(0, "e", "entry 51 again"), 51);
                break;
            }
            assert_int_equal(rc, NE_ERR_POWER_LOSS);
            ne_sim_flash_power_on(&sim);
            assert_int_equal(ne_store_dev_open(&dev, &sim.flash, &table), NE_OK);
            attach(0);
            ne_store_state st;
            ne_store_get_state(&stores[0], &st);
            if (st.last_seq == 120) {
                assert_int_equal(st.msgs, 120);
                saw_before = true;
            } else {
                assert_int_equal(st.last_seq, 50);
                assert_int_equal(st.msgs, 50);
                saw_after = true;
            }
            expect(0, 50, "entry 50");
            ne_store_msg m;
            assert_int_equal(ne_store_load(&stores[0], 51, &m, buf, sizeof(buf)),
                             st.last_seq == 50 ? NE_ERR_NOT_FOUND : NE_OK);
        }
    }
    assert_true(saw_before);
    assert_true(saw_after);
    ne_sim_flash_use_cache(&sim, NULL, NULL, 0, 0, 0);
}

static void test_erase_destroys_the_bytes_on_flash(void **state)
{
    (void)state;
    assert_int_equal(ne_store_dev_open(&dev, &sim.flash, NULL), NE_OK);
    create(0, "S", NULL);
    attach(0);
    for (int n = 0; n < 40; n++) {
        put(0, "s", n == 20 ? "TOP-SECRET-PAYLOAD" : "ordinary payload");
    }
    assert_int_equal(ne_store_sync(&stores[0]), NE_OK);
    size_t bytes = sizeof(image);
    assert_non_null(memmem(image, bytes, "TOP-SECRET-PAYLOAD", 18));
    assert_int_equal(ne_store_erase(&stores[0], 21), NE_OK);
    assert_null(memmem(image, bytes, "TOP-SECRET-PAYLOAD", 18));
    assert_int_equal(ne_store_dev_open(&dev, &sim.flash, NULL), NE_OK);
    attach(0);
    assert_int_equal(stores[0].state.msgs, 39);
    expect(0, 22, "ordinary payload");
}

/* ---- Damage ------------------------------------------------------------------ */

static void test_damage_is_reported_naming_block_and_log(void **state)
{
    (void)state;
    /* Without compression, so that the record's bytes can be found. */
    assert_int_equal(ne_store_dev_open(&dev, &sim.flash, NULL), NE_OK);
    create(0, "ORDERS", NULL);
    attach(0);
    for (int n = 0; n < 30; n++) {
        put(0, "orders.new", n == 10 ? "ROTTEN-RECORD" : "fine record");
    }
    assert_int_equal(ne_store_sync(&stores[0]), NE_OK);
    uint8_t *hit = memmem(image, sizeof(image), "ROTTEN-RECORD", 13);
    assert_non_null(hit);
    uint32_t block = (uint32_t)((hit - image) / ERASE_BYTES);
    hit[3] ^= 0x10;
    assert_int_equal(ne_store_dev_open(&dev, &sim.flash, NULL), NE_OK);
    attach(0);
    assert_int_equal(stores[0].state.msgs, 29);
    ne_store_damage d;
    assert_int_equal(ne_store_dev_damage(&dev, 0, &d), NE_OK);
    assert_int_equal(d.kind, NE_STORE_DAMAGE_RECORDS);
    assert_int_equal(d.block, block);
    assert_int_equal(d.log_id, ids[0]);
    char line[160];
    size_t len = 0;
    assert_int_equal(ne_store_dev_describe(&dev, &d, line, sizeof(line), &len), NE_OK);
    char want[160];
    snprintf(want, sizeof(want),
             "block %u of log %u (stream ORDERS): 1 record failed its CRC and is lost", block,
             ids[0]);
    assert_string_equal(line, want);
    assert_int_equal(len, strlen(want));
    assert_int_equal(ne_store_dev_describe(&dev, &d, line, 20, &len), NE_ERR_TOO_BIG);
    assert_int_equal(ne_store_dev_damage(&dev, 1, &d), NE_ERR_NOT_FOUND);
}

/* A log whose catalogue entry is lost (rot in the catalogue's block): its
 * blocks are kept, unread, and reported; the other logs are readable. */
static void test_lost_catalogue_entry_leaves_orphans_reported(void **state)
{
    (void)state;
    assert_int_equal(ne_store_dev_open(&dev, &sim.flash, NULL), NE_OK);
    create(0, "FIRST", NULL);
    attach(0);
    for (int n = 0; n < 30; n++) {
        put(0, "a", "first's data");
    }
    assert_int_equal(ne_store_sync(&stores[0]), NE_OK);
    create(1, "SECOND", NULL);
    attach(1);
    for (int n = 0; n < 30; n++) {
        put(1, "b", "second's data");
    }
    assert_int_equal(ne_store_dev_sync(&dev), NE_OK);
    /* Rot in the catalogue record naming SECOND: its key "cat.<id>". */
    char key[16];
    snprintf(key, sizeof(key), "cat.%u", ids[1]);
    uint8_t *hit = memmem(image, sizeof(image), key, strlen(key));
    assert_non_null(hit);
    hit[0] ^= 0x01;
    assert_int_equal(ne_store_dev_open(&dev, &sim.flash, NULL), NE_OK);
    attach(0);
    assert_int_equal(stores[0].state.msgs, 30);
    ne_store_entry e;
    assert_int_equal(ne_store_dev_find(&dev, NE_STORE_KIND_STREAM, 0, "SECOND", 6, &e, entry_buf,
                                       sizeof(entry_buf)),
                     NE_ERR_NOT_FOUND);
    bool orphan_reported = false;
    bool record_reported = false;
    ne_store_damage d;
    for (uint32_t i = 0; ne_store_dev_damage(&dev, i, &d) == NE_OK; i++) {
        orphan_reported = orphan_reported ||
                          (d.kind == NE_STORE_DAMAGE_ORPHAN && d.log_id == ids[1] && d.count > 0);
        record_reported = record_reported || d.kind == NE_STORE_DAMAGE_RECORDS;
    }
    assert_true(orphan_reported);
    assert_true(record_reported);
    /* The orphan's blocks are still there, and its id is not given again. */
    uint32_t blocks = 0;
    for (uint32_t b = 0; b < dev.block_count; b++) {
        blocks += dev.blocks[b].state == SF_STATE_DATA && dev.blocks[b].log_id == ids[1];
    }
    assert_true(blocks > 0);
    uint32_t id;
    assert_int_equal(ne_store_dev_create(&dev, NE_STORE_KIND_STREAM, 0, "THIRD", 5, NULL, 0, &id),
                     NE_OK);
    assert_true(id > ids[1]);
}

#define T(test) cmocka_unit_test_setup_teardown(test, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_catalogue_entries_survive_reopen),
        T(test_create_refuses_duplicates_and_bad_names),
        T(test_more_logs_than_slots_is_refused),
        T(test_update_replaces_the_configuration),
        T(test_cut_during_an_update_keeps_old_or_new),
        T(test_logs_share_the_device_and_recover_apart),
        T(test_delete_removes_a_log_and_its_blocks),
        T(test_cut_during_a_delete_leaves_the_log_whole_or_gone),
        T(test_unattached_log_is_left_alone),
        T(test_block_quota_bounds_one_log),
        T(test_full_device_discard_old_removes_only_what_makes_room),
        T(test_discard_old_refused_for_space_removes_nothing),
        T(test_a_dead_block_that_cannot_leave_does_not_block_others),
        T(test_replacing_a_value_is_atomic_under_cuts),
        T(test_truncation_is_durable_and_whole_under_cuts),
        T(test_erase_destroys_the_bytes_on_flash),
        T(test_damage_is_reported_naming_block_and_log),
        T(test_lost_catalogue_entry_leaves_orphans_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
