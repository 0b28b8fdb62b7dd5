/* Unit tests of a storage device (src/store/ne_store_dev.h) with one stream
 * on it (the catalogue and many logs have their own tests): recovery,
 * torn writes, bit rot, compaction and compression, wear, flash errors,
 * geometry, and the file-backed device of port/posix. The interface itself
 * is tested on both stores by test_store.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "codec/ne_crc32c.h"
#include "core/ne_error.h"
#include "posix/ne_file_flash.h"
#include "sim/ne_sim_flash.h"
#include "store/ne_store.h"
#include "store/ne_store_dev.h"
#include "store/ne_store_format.h"

#define BLOCKS 16
#define ERASE_BYTES 4096

static ne_store store;
static ne_store_dev dev;
static uint8_t entry_buf[NE_STORE_MAX_CONFIG_BYTES + 320];
static ne_sim_flash sim;
static uint8_t image[64 * ERASE_BYTES];
static uint32_t erase_counts[64];
static uint8_t programmed[NE_SIM_FLASH_PROGRAMMED_BYTES(64, ERASE_BYTES, 1)];
static ne_store_subject subjects[32];
static ne_snappy_table table;
static uint8_t buf[8192];
static ne_store_limits limits;
static uint32_t subject_capacity = 32;
static ne_snappy_table *compress = &table;
static uint8_t durable_image[64 * ERASE_BYTES];
static uint8_t dirty_lines[NE_SIM_FLASH_DIRTY_BYTES(64, ERASE_BYTES, 16)];

static ne_flash_geometry geometry(uint32_t program_bytes, uint32_t erase_bytes, uint32_t blocks)
{
    ne_flash_geometry g = {
        .program_bytes = program_bytes, .erase_bytes = erase_bytes, .block_count = blocks};
    return g;
}

/* Opens the device on flash and attaches its stream "S" (created on a new
 * device). */
static int open_on(const ne_flash *flash, ne_snappy_table *t)
{
    ne_store_config cfg = {
        .limits = limits, .subjects = subjects, .subject_capacity = subject_capacity};
    int rc = ne_store_dev_open(&dev, flash, t);
    if (rc != NE_OK) {
        return rc;
    }
    ne_store_entry e;
    uint32_t id = 0;
    rc = ne_store_dev_find(&dev, NE_STORE_KIND_STREAM, 0, "S", 1, &e, entry_buf, sizeof(entry_buf));
    if (rc == NE_ERR_NOT_FOUND) {
        rc = ne_store_dev_create(&dev, NE_STORE_KIND_STREAM, 0, "S", 1, NULL, 0, &id);
    } else {
        id = e.id;
    }
    if (rc != NE_OK) {
        return rc;
    }
    return ne_store_attach(&store, &dev, id, &cfg);
}

static int reopen(void)
{
    return open_on(&sim.flash, compress);
}

static void new_device(ne_flash_geometry g)
{
    ne_sim_flash_init(&sim, g, image, erase_counts, programmed, 7);
    assert_int_equal(reopen(), NE_OK);
}

static int setup(void **state)
{
    (void)state;
    memset(&limits, 0, sizeof(limits));
    subject_capacity = 32;
    compress = &table;
    new_device(geometry(16, ERASE_BYTES, BLOCKS));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(sim.violations, 0);
    return 0;
}

static void payload_for(uint64_t n, char *out, size_t cap)
{
    snprintf(out, cap, "payload-%06llu-%s", (unsigned long long)n,
             "the quick brown fox jumps over the lazy dog, again and again and again");
}

static uint64_t put(const char *subject, const char *payload)
{
    ne_store_msg m = {.subject = subject,
                      .subject_len = strlen(subject),
                      .payload = (const uint8_t *)payload,
                      .payload_len = strlen(payload),
                      .timestamp_ns = 77};
    uint64_t seq = 0;
    assert_int_equal(ne_store_append(&store, &m, &seq), NE_OK);
    return seq;
}

static void put_n(uint64_t n, const char *subject)
{
    char p[128];
    for (uint64_t i = 0; i < n; i++) {
        payload_for(store.state.last_seq + 1, p, sizeof(p));
        put(subject, p);
    }
}

static void expect_payload(uint64_t seq)
{
    char p[128];
    payload_for(seq, p, sizeof(p));
    ne_store_msg m;
    assert_int_equal(ne_store_load(&store, seq, &m, buf, sizeof(buf)), NE_OK);
    assert_int_equal(m.payload_len, strlen(p));
    assert_memory_equal(m.payload, p, m.payload_len);
}

static int load(uint64_t seq)
{
    ne_store_msg m;
    return ne_store_load(&store, seq, &m, buf, sizeof(buf));
}

static ne_store_state get_state(void)
{
    ne_store_state st;
    ne_store_get_state(&store, &st);
    return st;
}

static ne_store_dev_stats get_stats(void)
{
    ne_store_dev_stats st;
    ne_store_dev_get_stats(&dev, &st);
    return st;
}

/* Address of the first occurrence of text in the image. */
static uint32_t find_in_image(const char *text)
{
    uint32_t bytes = sim.flash.geometry.block_count * sim.flash.geometry.erase_bytes;
    const uint8_t *hit = memmem(image, bytes, text, strlen(text));
    assert_non_null(hit);
    return (uint32_t)(hit - image);
}

/* ---- Recovery ------------------------------------------------------------ */

static void test_reopen_recovers_records_deletions_and_state(void **state)
{
    (void)state;
    put_n(40, "a.one");
    put_n(40, "a.two");
    assert_int_equal(ne_store_delete(&store, 5), NE_OK);
    assert_int_equal(ne_store_delete(&store, 50), NE_OK);
    ne_store_purge_req req = {.up_to_seq = 3};
    assert_int_equal(ne_store_purge(&store, &req, NULL), NE_OK);
    assert_int_equal(ne_store_sync(&store), NE_OK);
    ne_store_state before = get_state();
    assert_int_equal(reopen(), NE_OK);
    ne_store_state after = get_state();
    assert_memory_equal(&before, &after, sizeof(before));
    assert_int_equal(load(2), NE_ERR_NOT_FOUND);
    assert_int_equal(load(5), NE_ERR_NOT_FOUND);
    assert_int_equal(load(50), NE_ERR_NOT_FOUND);
    for (uint64_t s = 3; s <= 80; s++) {
        if (s != 5 && s != 50) {
            expect_payload(s);
        }
    }
    ne_store_msg m;
    assert_int_equal(ne_store_load_last(&store, "a.one", 5, &m, buf, sizeof(buf)), NE_OK);
    assert_int_equal(m.seq, 40);
    assert_int_equal(put("a.one", "next"), 81);
}

static void test_unsynced_changes_may_vanish_and_sequences_continue(void **state)
{
    (void)state;
    put_n(3, "s");
    assert_int_equal(ne_store_sync(&store), NE_OK);
    put_n(2, "s");
    assert_int_equal(ne_store_delete(&store, 2), NE_OK);
    assert_int_equal(reopen(), NE_OK);
    ne_store_state st = get_state();
    assert_int_equal(st.msgs, 3);
    assert_int_equal(st.last_seq, 3);
    expect_payload(2);
    assert_int_equal(put("s", "x"), 4);
}

static void test_purge_of_everything_survives_reopen_with_its_sequence(void **state)
{
    (void)state;
    put_n(30, "s");
    assert_int_equal(ne_store_purge(&store, NULL, NULL), NE_OK);
    assert_int_equal(ne_store_sync(&store), NE_OK);
    assert_int_equal(reopen(), NE_OK);
    ne_store_state st = get_state();
    assert_int_equal(st.msgs, 0);
    assert_int_equal(st.first_seq, 31);
    assert_int_equal(st.last_seq, 30);
    assert_int_equal(put("s", "x"), 31);
}

/* Marks every sequence present now as one that must survive. */
static void mark_durable(bool *durable, uint64_t cap)
{
    for (uint64_t s = 1; s <= get_state().last_seq && s < cap; s++) {
        durable[s] = load(s) == NE_OK;
    }
}

static void test_torn_sync_keeps_everything_synced_before(void **state)
{
    (void)state;
    compress = NULL;
    new_device(geometry(16, ERASE_BYTES, 64));
    static bool durable[8192];
    memset(durable, 0, sizeof(durable));
    put_n(25, "t");
    assert_int_equal(ne_store_sync(&store), NE_OK);
    mark_durable(durable, 8192);
    uint32_t cuts = 0;
    for (uint64_t round = 1; round < 40; round++) {
        put_n(40, "t");
        ne_sim_flash_cut_after(&sim, 1 + round % 3);
        if (ne_store_sync(&store) == NE_OK) {
            sim.cut_at = 0;
            mark_durable(durable, 8192);
            continue;
        }
        cuts++;
        /* Everything refuses until the store is opened again. */
        assert_int_equal(load(1), NE_ERR_POWER_LOSS);
        ne_sim_flash_power_on(&sim);
        assert_int_equal(reopen(), NE_OK);
        ne_store_state st = get_state();
        assert_int_equal(st.corrupt_records, 0);
        for (uint64_t s = 1; s < 8192; s++) {
            int rc = load(s);
            assert_true(rc == NE_OK || (!durable[s] && rc == NE_ERR_NOT_FOUND));
            if (rc == NE_OK) {
                expect_payload(s);
            }
        }
        /* New appends go to a fresh block and survive. */
        put_n(1, "t");
        assert_int_equal(ne_store_sync(&store), NE_OK);
        mark_durable(durable, 8192);
    }
    assert_true(cuts > 10);
    assert_int_equal(get_state().first_seq, 1);
    assert_true(get_stats().torn_tails > 0);
    assert_int_equal(reopen(), NE_OK);
    expect_payload(get_state().last_seq);
}

/* Cuts at every program or erase of a compaction in turn. */
static void test_cut_anywhere_in_a_compaction(void **state)
{
    (void)state;
    limits.max_msgs_per_subject = 1;
    assert_int_equal(reopen(), NE_OK);
    char subject[16];
    for (uint64_t i = 0; i < 150; i++) {
        snprintf(subject, sizeof(subject), "k.%llu", (unsigned long long)(i % 5));
        put_n(1, subject);
    }
    assert_int_equal(ne_store_sync(&store), NE_OK);
    static uint8_t saved[64 * ERASE_BYTES];
    static uint32_t saved_counts[64];
    memcpy(saved, image, sizeof(saved));
    memcpy(saved_counts, erase_counts, sizeof(saved_counts));
    ne_store_state before = get_state();
    bool saw_erase_cut = false;
    for (uint64_t cut = 1; cut < 200; cut++) {
        memcpy(image, saved, sizeof(saved));
        memcpy(erase_counts, saved_counts, sizeof(saved_counts));
        memset(programmed, 0, sizeof(programmed));
        ne_sim_flash_power_on(&sim);
        assert_int_equal(reopen(), NE_OK);
        ne_sim_flash_cut_after(&sim, cut);
        uint32_t freed = 0;
        int rc = ne_store_compact(&store, &freed);
        if (rc == NE_OK) {
            sim.cut_at = 0;
            break;
        }
        assert_int_equal(rc, NE_ERR_POWER_LOSS);
        saw_erase_cut = saw_erase_cut || sim.last_cut_was_erase;
        ne_sim_flash_power_on(&sim);
        assert_int_equal(reopen(), NE_OK);
        ne_store_state after = get_state();
        assert_int_equal(after.msgs, before.msgs);
        assert_int_equal(after.last_seq, before.last_seq);
        for (int k = 0; k < 5; k++) {
            snprintf(subject, sizeof(subject), "k.%d", k);
            ne_store_msg m;
            assert_int_equal(
                ne_store_load_last(&store, subject, strlen(subject), &m, buf, sizeof(buf)), NE_OK);
            char p[128];
            payload_for(m.seq, p, sizeof(p));
            assert_memory_equal(m.payload, p, m.payload_len);
        }
    }
    assert_true(saw_erase_cut);
}

/* ---- Bit rot ------------------------------------------------------------- */

static void test_bit_flip_in_a_payload_is_reported_never_returned(void **state)
{
    (void)state;
    compress = NULL;
    assert_int_equal(reopen(), NE_OK);
    put_n(60, "rot");
    assert_int_equal(ne_store_sync(&store), NE_OK);
    char p[128];
    payload_for(20, p, sizeof(p));
    ne_sim_flash_flip_bit(&sim, find_in_image(p) + 20, 3);
    /* Read now: the CRC fails. */
    assert_int_equal(load(20), NE_ERR_CORRUPT);
    assert_true(get_state().corrupt_records >= 1);
    /* Recovery drops it and says so. */
    assert_int_equal(reopen(), NE_OK);
    assert_int_equal(load(20), NE_ERR_NOT_FOUND);
    assert_int_equal(get_state().corrupt_records, 1);
    assert_int_equal(get_state().msgs, 59);
    for (uint64_t s = 1; s <= 60; s++) {
        if (s != 20) {
            expect_payload(s);
        }
    }
}

static void test_bit_flip_in_a_frame_header_loses_only_that_record(void **state)
{
    (void)state;
    compress = NULL;
    assert_int_equal(reopen(), NE_OK);
    put_n(60, "rot");
    assert_int_equal(ne_store_sync(&store), NE_OK);
    char p[128];
    payload_for(30, p, sizeof(p));
    /* The frame header sits 16 + 24 + 3 ("rot") bytes before the payload. */
    uint32_t header = find_in_image(p) - 3 - 24 - 16;
    ne_sim_flash_flip_bit(&sim, header + 5, 0);
    assert_int_equal(reopen(), NE_OK);
    assert_int_equal(load(30), NE_ERR_NOT_FOUND);
    assert_true(get_state().corrupt_records >= 1);
    for (uint64_t s = 1; s <= 60; s++) {
        if (s != 30) {
            expect_payload(s);
        }
    }
}

static void test_damaged_block_header_is_reported(void **state)
{
    (void)state;
    put_n(60, "rot");
    assert_int_equal(ne_store_sync(&store), NE_OK);
    ne_sim_flash_flip_bit(&sim, 0 * ERASE_BYTES + 9, 1);
    assert_int_equal(reopen(), NE_OK);
    assert_true(get_stats().damaged_blocks >= 1);
}

/* ---- Compaction, compression, wear --------------------------------------- */

static void test_compaction_compresses_what_it_keeps(void **state)
{
    (void)state;
    put_n(120, "keep");
    assert_int_equal(ne_store_sync(&store), NE_OK);
    for (uint64_t s = 1; s <= 120; s++) {
        if (s % 4 != 0) {
            assert_int_equal(ne_store_delete(&store, s), NE_OK);
        }
    }
    uint32_t freed = 0;
    assert_int_equal(ne_store_compact(&store, &freed), NE_OK);
    assert_true(freed > 0);
    ne_store_dev_stats st = get_stats();
    assert_true(st.packs_written > 0);
    assert_true(st.pack_stored_bytes < st.pack_raw_bytes);
    assert_int_equal(ne_store_sync(&store), NE_OK);
    assert_int_equal(reopen(), NE_OK);
    for (uint64_t s = 4; s <= 120; s += 4) {
        expect_payload(s);
    }
    ne_store_msg m;
    uint64_t from = 1;
    uint64_t n = 0;
    while (ne_store_load_next(&store, from, "keep", 4, &m, buf, sizeof(buf)) == NE_OK) {
        assert_int_equal(m.seq % 4, 0);
        from = m.seq + 1;
        n++;
    }
    assert_int_equal(n, 30);
}

static void test_no_compression_without_a_table(void **state)
{
    (void)state;
    compress = NULL;
    assert_int_equal(reopen(), NE_OK);
    put_n(100, "plain");
    for (uint64_t s = 1; s <= 100; s += 2) {
        assert_int_equal(ne_store_delete(&store, s), NE_OK);
    }
    assert_int_equal(ne_store_compact(&store, NULL), NE_OK);
    assert_int_equal(get_stats().packs_written, 0);
    expect_payload(100);
}

static void test_batched_appends_are_compressed_on_sync(void **state)
{
    (void)state;
    put_n(30, "batch");
    assert_int_equal(ne_store_sync(&store), NE_OK);
    assert_true(get_stats().packs_written > 0);
    assert_int_equal(reopen(), NE_OK);
    for (uint64_t s = 1; s <= 30; s++) {
        expect_payload(s);
    }
}

static void test_wear_is_spread_over_every_block(void **state)
{
    (void)state;
    limits.max_msgs_per_subject = 1;
    assert_int_equal(reopen(), NE_OK);
    /* Cold records that never change, then a long hot workload. */
    put_n(1, "cold.a");
    put_n(1, "cold.b");
    assert_int_equal(ne_store_sync(&store), NE_OK);
    char subject[16];
    for (uint64_t i = 0; i < 40000; i++) {
        snprintf(subject, sizeof(subject), "hot.%llu", (unsigned long long)(i % 3));
        put_n(1, subject);
        if (i % 10 == 0) {
            assert_int_equal(ne_store_sync(&store), NE_OK);
        }
    }
    ne_store_dev_stats st = get_stats();
    assert_true(st.wear_moves > 0);
    assert_true(st.erase_max - st.erase_min <= NE_STORE_WEAR_SPREAD_MAX + 2);
    expect_payload(1);
    expect_payload(2);
    /* Counts survive a reopen (they live in the block headers), and never
     * understate wear (a block never formatted before the last open was
     * assumed as worn as the most worn one). */
    assert_int_equal(ne_store_sync(&store), NE_OK);
    uint32_t counts_before[BLOCKS];
    for (uint32_t b = 0; b < BLOCKS; b++) {
        counts_before[b] = dev.blocks[b].erase_count;
    }
    assert_int_equal(reopen(), NE_OK);
    ne_store_dev_stats again = get_stats();
    assert_int_equal(again.erase_max, st.erase_max);
    assert_int_equal(again.erase_min, st.erase_min);
    for (uint32_t b = 0; b < BLOCKS; b++) {
        assert_int_equal(dev.blocks[b].erase_count, counts_before[b]);
        assert_true(dev.blocks[b].erase_count >= erase_counts[b]);
    }
}

static void test_full_flash_refuses_then_accepts_after_removal(void **state)
{
    (void)state;
    limits.discard = NE_STORE_DISCARD_NEW;
    assert_int_equal(reopen(), NE_OK);
    char p[128];
    ne_store_msg m = {.subject = "f", .subject_len = 1, .timestamp_ns = 1};
    int rc = NE_OK;
    for (int i = 0; i < 10000 && rc == NE_OK; i++) {
        payload_for((uint64_t)i, p, sizeof(p));
        m.payload = (const uint8_t *)p;
        m.payload_len = strlen(p);
        rc = ne_store_append(&store, &m, NULL);
    }
    assert_int_equal(rc, NE_ERR_FULL);
    assert_int_equal(ne_store_refused_by(&store), NE_STORE_LIMIT_SPACE);
    /* A few deletions still go in (the head keeps room for them), and a
     * purge from the front needs none. */
    for (uint64_t s = 1; s <= 4; s++) {
        assert_int_equal(ne_store_delete(&store, s * 3), NE_OK);
    }
    ne_store_purge_req req = {.up_to_seq = 200};
    assert_int_equal(ne_store_purge(&store, &req, NULL), NE_OK);
    assert_int_equal(ne_store_sync(&store), NE_OK);
    assert_int_equal(ne_store_append(&store, &m, NULL), NE_OK);
    assert_int_equal(ne_store_sync(&store), NE_OK);
    assert_int_equal(reopen(), NE_OK);
    assert_int_equal(load(150), NE_ERR_NOT_FOUND);
}

/* ---- Flash errors -------------------------------------------------------- */

static void test_program_error_is_sticky_until_reopen(void **state)
{
    (void)state;
    put_n(10, "e");
    assert_int_equal(ne_store_sync(&store), NE_OK);
    put_n(5, "e");
    ne_sim_flash_fail(&sim, NE_SIM_FLASH_PROGRAM, 1, NE_ERR_IO);
    assert_int_equal(ne_store_sync(&store), NE_ERR_IO);
    ne_store_msg m = {.subject = "e", .subject_len = 1};
    assert_int_equal(ne_store_append(&store, &m, NULL), NE_ERR_IO);
    assert_int_equal(load(1), NE_ERR_IO);
    assert_int_equal(ne_store_delete(&store, 1), NE_ERR_IO);
    assert_int_equal(ne_store_sync(&store), NE_ERR_IO);
    assert_int_equal(ne_store_compact(&store, NULL), NE_ERR_IO);
    assert_int_equal(reopen(), NE_OK);
    for (uint64_t s = 1; s <= 10; s++) {
        expect_payload(s);
    }
}

static void test_sync_error_is_reported(void **state)
{
    (void)state;
    put_n(3, "e");
    ne_sim_flash_fail(&sim, NE_SIM_FLASH_SYNC, 1, NE_ERR_IO);
    assert_int_equal(ne_store_sync(&store), NE_ERR_IO);
    assert_int_equal(reopen(), NE_OK);
}

static void test_erase_error_during_compaction(void **state)
{
    (void)state;
    put_n(100, "e");
    ne_store_purge_req req = {.up_to_seq = 90};
    assert_int_equal(ne_store_purge(&store, &req, NULL), NE_OK);
    assert_int_equal(ne_store_sync(&store), NE_OK);
    ne_sim_flash_fail(&sim, NE_SIM_FLASH_ERASE, 1, NE_ERR_IO);
    assert_int_equal(ne_store_compact(&store, NULL), NE_ERR_IO);
    assert_int_equal(reopen(), NE_OK);
    assert_int_equal(get_state().first_seq, 90);
    for (uint64_t s = 90; s <= 100; s++) {
        expect_payload(s);
    }
}

static void test_read_error_at_open(void **state)
{
    (void)state;
    put_n(3, "e");
    assert_int_equal(ne_store_sync(&store), NE_OK);
    ne_sim_flash_fail(&sim, NE_SIM_FLASH_READ, 2, NE_ERR_IO);
    assert_int_equal(reopen(), NE_ERR_IO);
    assert_int_equal(load(1), NE_ERR_IO);
    assert_int_equal(reopen(), NE_OK);
    expect_payload(3);
}

/* ---- Geometry and format ------------------------------------------------- */

static void test_geometry_the_store_cannot_use_is_refused(void **state)
{
    (void)state;
    ne_flash f = sim.flash;
    f.geometry = geometry(3, 4096, 16);
    assert_int_equal(ne_store_dev_open(&dev, &f, NULL), NE_ERR_INVALID);
    f.geometry = geometry(16, 512, 16);
    assert_int_equal(ne_store_dev_open(&dev, &f, NULL), NE_ERR_INVALID);
    f.geometry = geometry(16, 4096, 3);
    assert_int_equal(ne_store_dev_open(&dev, &f, NULL), NE_ERR_INVALID);
    f.geometry = geometry(2 * NE_STORE_PROGRAM_CHUNK_BYTES, 64 * 1024, 16);
    assert_int_equal(ne_store_dev_open(&dev, &f, NULL), NE_ERR_INVALID);
    f.geometry = geometry(16, 4096, NE_STORE_MAX_BLOCKS + 1);
    assert_int_equal(ne_store_dev_open(&dev, &f, NULL), NE_ERR_TOO_BIG);
}

static void test_another_format_version_is_left_alone(void **state)
{
    (void)state;
    put_n(5, "v");
    assert_int_equal(ne_store_sync(&store), NE_OK);
    /* Another version in block 0's header, with a valid CRC. */
    image[4] = 99;
    uint32_t crc = ne_crc32c(0, image, 28);
    memcpy(image + 28, &crc, 4);
    static uint8_t copy[BLOCKS * ERASE_BYTES];
    memcpy(copy, image, sizeof(copy));
    assert_int_equal(reopen(), NE_ERR_UNSUPPORTED);
    assert_memory_equal(copy, image, sizeof(copy));
}

static void test_program_units_from_1_to_256_bytes(void **state)
{
    (void)state;
    static const uint32_t units[] = {1, 8, 64, 256};
    for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
        new_device(geometry(units[u], ERASE_BYTES, BLOCKS));
        for (int round = 0; round < 20; round++) {
            put_n(7, "u");
            assert_int_equal(ne_store_sync(&store), NE_OK);
        }
        assert_int_equal(reopen(), NE_OK);
        for (uint64_t s = 1; s <= 140; s++) {
            expect_payload(s);
        }
        assert_int_equal(sim.violations, 0);
    }
}

static void test_subject_table_overflow_at_recovery(void **state)
{
    (void)state;
    char subject[16];
    for (int i = 0; i < 20; i++) {
        snprintf(subject, sizeof(subject), "s.%d", i);
        put_n(2, subject);
    }
    assert_int_equal(ne_store_sync(&store), NE_OK);
    /* A smaller table (7 usable entries) after a rebuild. */
    subject_capacity = 8;
    assert_int_equal(reopen(), NE_OK);
    ne_store_state st = get_state();
    assert_int_equal(st.msgs, 40);
    assert_int_equal(st.num_subjects, 7);
    assert_int_equal(st.untracked_msgs, 26);
    /* Untracked subjects are still found, by a scan. */
    ne_store_msg m;
    for (int i = 0; i < 20; i++) {
        snprintf(subject, sizeof(subject), "s.%d", i);
        assert_int_equal(ne_store_load_last(&store, subject, strlen(subject), &m, buf, sizeof(buf)),
                         NE_OK);
        assert_int_equal(m.seq, (uint64_t)i * 2 + 2);
    }
    /* A new subject has no room. */
    ne_store_msg n = {.subject = "new", .subject_len = 3};
    assert_int_equal(ne_store_append(&store, &n, NULL), NE_ERR_FULL);
    assert_int_equal(ne_store_refused_by(&store), NE_STORE_LIMIT_SUBJECTS);
}

static void test_opening_applies_lowered_limits(void **state)
{
    (void)state;
    put_n(20, "l");
    assert_int_equal(ne_store_sync(&store), NE_OK);
    limits.max_msgs = 5;
    assert_int_equal(reopen(), NE_OK);
    assert_int_equal(get_state().msgs, 5);
    assert_int_equal(get_state().first_seq, 16);
}

/* ---- A file as flash ----------------------------------------------------- */

/* A new temporary file (its name in path) opened as a device of 8 blocks of
 * 64 KiB programmed 256 bytes at a time; returns that geometry. */
static ne_flash_geometry open_temp_file(ne_file_flash *ff, char path[27])
{
    memcpy(path, "/tmp/ne_store_flash_XXXXXX", 27);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    ne_flash_geometry g = geometry(256, 64 * 1024, 8);
    assert_int_equal(ne_file_flash_open(ff, path, g), NE_OK);
    return g;
}

static void test_file_backed_store_survives_reopen(void **state)
{
    (void)state;
    char path[27];
    static ne_file_flash ff;
    ne_flash_geometry g = open_temp_file(&ff, path);
    assert_int_equal(open_on(&ff.flash, &table), NE_OK);
    put_n(500, "file");
    assert_int_equal(ne_store_delete(&store, 7), NE_OK);
    assert_int_equal(ne_store_sync(&store), NE_OK);
    ne_file_flash_close(&ff);
    assert_int_equal(ne_file_flash_open(&ff, path, g), NE_OK);
    assert_int_equal(open_on(&ff.flash, &table), NE_OK);
    assert_int_equal(get_state().msgs, 499);
    assert_int_equal(load(7), NE_ERR_NOT_FOUND);
    expect_payload(500);
    ne_file_flash_close(&ff);
    /* A file larger than the device is refused, not cut. */
    assert_int_equal(ne_file_flash_open(&ff, path, geometry(256, 64 * 1024, 4)), NE_ERR_INVALID);
    assert_int_equal(ne_file_flash_open(&ff, "/nonexistent/dir/x", g), NE_ERR_IO);
    unlink(path);
}

/* The file device's erase writes nothing over a block that reads erased
 * (a new file's blocks), and 0xFF over one that does not. */
static void test_file_erase_writes_only_over_written_bytes(void **state)
{
    (void)state;
    char path[27];
    static ne_file_flash ff;
    ne_flash_geometry g = open_temp_file(&ff, path);
    const ne_flash_ops *ops = ff.flash.ops;
    assert_int_equal(ops->erase(ff.flash.ctx, 2), NE_OK);
    assert_int_equal(ff.erases, 1);
    assert_int_equal(ff.erases_skipped, 1);
    assert_int_equal(ff.erases_known, 1); /* the new file's blocks: not even read */
    static uint8_t bytes[256];
    memset(bytes, 0x5a, sizeof(bytes));
    uint32_t last = 2 * 64 * 1024 + 64 * 1024 - 256;
    assert_int_equal(ops->program(ff.flash.ctx, last, bytes, sizeof(bytes)), NE_OK);
    assert_int_equal(ops->erase(ff.flash.ctx, 2), NE_OK);
    assert_int_equal(ff.erases, 2);
    assert_int_equal(ff.erases_skipped, 1);
    assert_int_equal(ops->erase(ff.flash.ctx, 2), NE_OK); /* erased by the last one */
    assert_int_equal(ff.erases_known, 2);
    static uint8_t back[256];
    assert_int_equal(ops->read(ff.flash.ctx, last, back, sizeof(back)), NE_OK);
    memset(bytes, 0xff, sizeof(bytes));
    assert_memory_equal(back, bytes, sizeof(back));
    /* A store on a new file uses its blocks without writing 0xFF over them. */
    assert_int_equal(open_on(&ff.flash, &table), NE_OK);
    put_n(500, "file");
    assert_int_equal(ne_store_sync(&store), NE_OK);
    assert_true(ff.erases_skipped > 2);
    assert_int_equal(ff.erases_skipped, ff.erases - 1);
    ne_file_flash_close(&ff);
    /* Reopened, nothing is known: a block is read before its erase. */
    assert_int_equal(ne_file_flash_open(&ff, path, g), NE_OK);
    assert_int_equal(ops->erase(ff.flash.ctx, 7), NE_OK);
    assert_int_equal(ff.erases_skipped, 1);
    assert_int_equal(ff.erases_known, 0);
    ne_file_flash_close(&ff);
    unlink(path);
}

/* ---- Durability regressions ------------------------------------------------ */

/* One batch: compressible records with an incompressible one every third,
 * synced at once so that the block holds them in a pack. */
static void put_mixed_batch(uint32_t n)
{
    static uint8_t noise[600];
    static char text[600];
    memset(text, 'a', sizeof(text));
    for (uint32_t i = 0; i < n; i++) {
        uint64_t seq = get_state().last_seq + 1;
        ne_store_msg m = {.subject = "mix", .subject_len = 3, .timestamp_ns = seq};
        if (seq % 3 == 0) {
            uint64_t x = seq * 0x9e3779b97f4a7c15ull;
            for (size_t k = 0; k < sizeof(noise); k++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                noise[k] = (uint8_t)x;
            }
            m.payload = noise;
            m.payload_len = 420;
        } else {
            m.payload = (const uint8_t *)text;
            m.payload_len = 200;
        }
        assert_int_equal(ne_store_append(&store, &m, NULL), NE_OK);
    }
    assert_int_equal(ne_store_sync(&store), NE_OK);
}

/* Regression (make powercut CUTS=20000 SEED=974795 resurrected seqs 11225
 * and 11229): a merge that did not fit after all (its records compressed
 * worse than estimated) is erased, but its BEGIN had already counted the
 * floor as written, so the next sync wrote no FLOOR: messages removed from
 * the front, and synced, came back at the next open. */
static void test_aborted_merge_leaves_the_floor_to_the_next_sync(void **state)
{
    (void)state;
    /* Blocks whose live records (the incompressible third) look small
     * next to the whole block's compression ratio once the compressible
     * ones are gone. */
    for (int b = 0; b < 4; b++) {
        put_mixed_batch(14);
    }
    uint64_t last = get_state().last_seq;
    for (uint64_t s = 2; s <= last; s++) {
        if (s % 3 != 0) {
            assert_int_equal(ne_store_delete(&store, s), NE_OK);
        }
    }
    assert_int_equal(ne_store_sync(&store), NE_OK);
    /* The front moves (RAM only until the next sync)... */
    assert_int_equal(ne_store_delete(&store, 1), NE_OK);
    assert_int_equal(ne_store_delete(&store, 3), NE_OK);
    assert_int_equal(get_state().first_seq, 6);
    /* ...then a compaction tries a merge that does not fit. */
    uint64_t aborted = get_stats().aborted_merges;
    assert_int_equal(ne_store_compact(&store, NULL), NE_OK);
    assert_true(get_stats().aborted_merges > aborted);
    assert_int_equal(ne_store_sync(&store), NE_OK);
    assert_int_equal(reopen(), NE_OK);
    assert_int_equal(get_state().first_seq, 6);
    assert_int_equal(load(1), NE_ERR_NOT_FOUND);
    assert_int_equal(load(3), NE_ERR_NOT_FOUND);
}

/* Regression: compaction programmed the copied records and their COMMIT in
 * one sync window, and recovery trusted a COMMIT without checking the
 * records. Behind a write cache that reorders (SD, eMMC, a file), a cut
 * during that sync could keep the COMMIT and lose records, and recovery then
 * erased the blocks holding the only good copies. Cuts at every operation of
 * a compaction in turn, on a device whose cache keeps a random subset of
 * what was written since the last sync, for several cache outcomes each. */
static void test_cut_anywhere_in_a_compaction_behind_a_write_cache(void **state)
{
    (void)state;
    /* Blocks with a quarter of their records live: compaction merges. */
    put_n(200, "keep");
    for (uint64_t s = 1; s <= 200; s++) {
        if (s % 4 != 0) {
            assert_int_equal(ne_store_delete(&store, s), NE_OK);
        }
    }
    assert_int_equal(ne_store_sync(&store), NE_OK);
    static uint8_t saved[64 * ERASE_BYTES];
    static uint32_t saved_counts[64];
    memcpy(saved, image, sizeof(saved));
    memcpy(saved_counts, erase_counts, sizeof(saved_counts));
    ne_store_state before = get_state();
    uint32_t cuts_in_syncs = 0;
    uint64_t moved = 0;
    for (uint64_t seed = 1; seed <= 16; seed++) {
        for (uint64_t cut = 1; cut < 400; cut++) {
            memcpy(image, saved, sizeof(saved));
            memcpy(erase_counts, saved_counts, sizeof(saved_counts));
            memset(programmed, 0, sizeof(programmed));
            ne_sim_flash_power_on(&sim);
            sim.rng = seed * 7919 + cut;
            ne_sim_flash_use_cache(&sim, durable_image, dirty_lines, 16, 0, 0);
            assert_int_equal(reopen(), NE_OK);
            ne_sim_flash_cut_after(&sim, cut);
            uint32_t freed = 0;
            int rc = ne_store_compact(&store, &freed);
            if (rc == NE_OK) {
                sim.cut_at = 0;
                moved = get_stats().records_moved;
                break;
            }
            assert_int_equal(rc, NE_ERR_POWER_LOSS);
            cuts_in_syncs += sim.last_cut_was_sync;
            ne_sim_flash_power_on(&sim);
            assert_int_equal(reopen(), NE_OK);
            ne_store_state after = get_state();
            assert_int_equal(after.msgs, before.msgs);
            assert_int_equal(after.last_seq, before.last_seq);
            for (uint64_t s = 4; s <= 200; s += 4) {
                expect_payload(s);
            }
        }
    }
    assert_true(cuts_in_syncs > 0);
    assert_true(moved > 0);
    ne_sim_flash_use_cache(&sim, NULL, NULL, 0, 0, 0);
}

/* Regression: a lookup by sequence stopped at the first record whose
 * sequence field did not match, without checking that record's CRC. A
 * write cache that lost part of a run leaves such records in the middle of
 * a block (a valid frame header, a damaged body), and every record after
 * one could no longer be loaded or deleted by sequence. */
static void test_damaged_record_does_not_hide_the_ones_after_it(void **state)
{
    (void)state;
    compress = NULL;
    assert_int_equal(reopen(), NE_OK);
    put_n(10, "d");
    assert_int_equal(ne_store_sync(&store), NE_OK);
    /* Record 4's sequence field becomes garbage (its frame header stays
     * valid): the payload text locates the body. */
    char p[128];
    payload_for(4, p, sizeof(p));
    uint32_t payload_addr = find_in_image(p);
    uint32_t body_addr = payload_addr - 1 - 24;
    assert_int_equal(image[body_addr], 4);
    memset(image + body_addr, 0xee, 8);
    assert_int_equal(reopen(), NE_OK);
    assert_int_equal(load(4), NE_ERR_NOT_FOUND);
    for (uint64_t s = 5; s <= 10; s++) {
        expect_payload(s);
    }
    assert_int_equal(ne_store_delete(&store, 7), NE_OK);
    assert_int_equal(get_state().msgs, 8);
}

/* The block of the stream holding sequence seq (its RAM view). */
static const ne_store_block *block_of(uint64_t seq)
{
    for (uint32_t b = 0; b < dev.block_count; b++) {
        const ne_store_block *blk = &dev.blocks[b];
        if (blk->state == SF_STATE_DATA && blk->log_id != SF_META_LOG_ID && blk->first_seq <= seq &&
            seq <= blk->last_seq) {
            return blk;
        }
    }
    fail();
    return NULL;
}

/* Regression (found by review): retiring dead blocks wrote a FLOOR and then
 * a RETIRE, as two frames synced together. A compaction block's BEGIN can
 * be the only durable copy of the floor; when that block dies and is
 * retired, a write cache that kept the RETIRE and lost the FLOOR let
 * messages removed from the front (and synced) come back. The RETIRE now
 * carries the floor itself. */
static void test_retirement_keeps_the_floor_a_retired_block_carried(void **state)
{
    (void)state;
    compress = NULL;
    assert_int_equal(reopen(), NE_OK);
    put_n(110, "r");
    /* Blocks A (from 1), B and D after it, the head after them. */
    const ne_store_block *a = block_of(1);
    uint64_t b_first = a->last_seq + 1;
    uint64_t d_last = block_of(block_of(b_first)->last_seq + 1)->last_seq;
    assert_true(d_last < get_state().last_seq);
    /* B and D keep three records each, A all of its own. */
    uint64_t keep[6];
    uint32_t kept = 0;
    for (uint64_t s = b_first; s <= d_last; s++) {
        if ((s - b_first) % 9 == 4 && kept < 6) {
            keep[kept++] = s;
            continue;
        }
        assert_int_equal(ne_store_delete(&store, s), NE_OK);
    }
    assert_int_equal(ne_store_sync(&store), NE_OK);
    /* The front moves, then B and D merge: the merged block's BEGIN is the
     * floor's only durable copy once synced. */
    assert_int_equal(ne_store_delete(&store, 1), NE_OK);
    assert_int_equal(ne_store_compact(&store, NULL), NE_OK);
    assert_int_equal(get_stats().compactions, 1);
    assert_int_equal(ne_store_sync(&store), NE_OK);
    /* Then the merged block's records die. */
    for (uint32_t k = 0; k < kept; k++) {
        assert_int_equal(ne_store_delete(&store, keep[k]), NE_OK);
    }
    assert_int_equal(ne_store_sync(&store), NE_OK);
    static uint8_t saved[64 * ERASE_BYTES];
    static uint32_t saved_counts[64];
    memcpy(saved, image, sizeof(saved));
    memcpy(saved_counts, erase_counts, sizeof(saved_counts));
    uint32_t cuts_in_syncs = 0;
    for (uint64_t seed = 1; seed <= 32; seed++) {
        for (uint64_t cut = 1; cut < 100; cut++) {
            memcpy(image, saved, sizeof(saved));
            memcpy(erase_counts, saved_counts, sizeof(saved_counts));
            memset(programmed, 0, sizeof(programmed));
            ne_sim_flash_power_on(&sim);
            sim.rng = seed * 104729 + cut;
            ne_sim_flash_use_cache(&sim, durable_image, dirty_lines, 16, 0, 0);
            assert_int_equal(reopen(), NE_OK);
            assert_int_equal(get_state().first_seq, 2);
            ne_sim_flash_cut_after(&sim, cut);
            int rc = ne_store_compact(&store, NULL);
            if (rc == NE_OK) {
                sim.cut_at = 0;
                break;
            }
            assert_int_equal(rc, NE_ERR_POWER_LOSS);
            cuts_in_syncs += sim.last_cut_was_sync;
            ne_sim_flash_power_on(&sim);
            assert_int_equal(reopen(), NE_OK);
            assert_int_equal(load(1), NE_ERR_NOT_FOUND);
            assert_int_equal(get_state().first_seq, 2);
        }
    }
    assert_true(cuts_in_syncs > 0);
    ne_sim_flash_use_cache(&sim, NULL, NULL, 0, 0, 0);
}

/* The stream's block the next record goes to after seq (the head once the
 * previous one filled), -1 while seq is still in the first. */
static int32_t block_index_of(uint64_t seq)
{
    return (int32_t)(block_of(seq) - dev.blocks);
}

/* Regression (power-cut seed 411879, cut 9618): a block that held a frame
 * never synced (cut short behind a write cache) was erased again when a new
 * head took it, and frames were programmed into it with no sync after the
 * erase. A cut then kept the block's first cache line from its previous
 * life (its header, the old BEGIN's frame header, serial and floor) beside
 * the new line after it, which held the same bytes the old BEGIN's lost
 * line had: the old BEGIN validated whole and brought back the floor of a
 * removal that was never synced, and synced records below it were lost.
 * The erase of a block taken for new frames is now synced first. */
static void test_unsynced_frame_of_a_reused_block_never_comes_back(void **state)
{
    (void)state;
    compress = NULL;
    assert_int_equal(reopen(), NE_OK);
    ne_sim_flash_use_cache(&sim, durable_image, dirty_lines, 64, 0, 0);
    put_n(20, "a");
    assert_int_equal(ne_store_sync(&store), NE_OK);
    int32_t first_head = block_index_of(20);
    /* Removals from the front (not synced), then appends until a new head
     * opens: its BEGIN carries the new floor. */
    for (uint64_t s = 1; s <= 10; s++) {
        assert_int_equal(ne_store_delete(&store, s), NE_OK);
    }
    char p[128];
    uint64_t opened_at = 0;
    for (uint32_t i = 0; i < 200 && opened_at == 0; i++) {
        payload_for(store.state.last_seq + 1, p, sizeof(p));
        uint64_t seq = put("a", p);
        opened_at = block_index_of(seq) != first_head ? seq : 0;
    }
    assert_true(opened_at > 0);
    int32_t head = block_index_of(opened_at);
    uint32_t head_addr = (uint32_t)head * ERASE_BYTES;
    /* Everything is programmed, the sync fails, power fails: of the new
     * head only its first line (header, BEGIN up to the floor) is kept. */
    ne_sim_flash_fail(&sim, NE_SIM_FLASH_SYNC, 1, NE_ERR_IO);
    assert_int_equal(ne_store_sync(&store), NE_ERR_IO);
    ne_sim_flash_cut_keeping(&sim, head_addr, 64);
    ne_sim_flash_power_on(&sim);
    assert_int_equal(reopen(), NE_OK);
    assert_int_equal(get_state().first_seq, 1);
    for (uint64_t s = 1; s <= 20; s++) {
        expect_payload(s);
    }
    /* The same appends again: the same block becomes the head, with the
     * same serial, next sequence, log and epoch; only the floor differs. */
    for (uint64_t seq = get_state().last_seq + 1; seq <= opened_at; seq++) {
        payload_for(seq, p, sizeof(p));
        assert_int_equal(put("a", p), seq);
    }
    assert_int_equal(block_index_of(opened_at), head);
    /* Power fails again, keeping every line of the head but its first. */
    ne_sim_flash_fail(&sim, NE_SIM_FLASH_SYNC, 1, NE_ERR_IO);
    assert_int_equal(ne_store_sync(&store), NE_ERR_IO);
    ne_sim_flash_cut_keeping(&sim, head_addr + 64, ERASE_BYTES - 64);
    ne_sim_flash_power_on(&sim);
    assert_int_equal(reopen(), NE_OK);
    assert_int_equal(get_state().first_seq, 1);
    for (uint64_t s = 1; s <= 20; s++) {
        expect_payload(s);
    }
    ne_sim_flash_use_cache(&sim, NULL, NULL, 0, 0, 0);
}

/* Regression (power-cut seed 403716): after a cut an expiry that was not
 * synced came back beside a later message of the same subject, and
 * max_msgs_per_subject = 1 then had to remove the older one with a
 * tombstone. On a full device whose head the cut had sealed there was no
 * room for it, and attach failed with NE_ERR_FULL: the stream could not be
 * loaded at all. Loading what was synced must never need space: the
 * limit waits for room (the older message stays readable meanwhile) and is
 * applied by the first append, sync or compaction that finds some. */
/* A process killed with writes in a write cache (a file's page cache)
 * leaves what reads return ahead of the medium. A block erased there and
 * not yet synced reads blank, and would be taken for new frames without
 * the sync that keeps a cut from mixing its old lines with new ones. The
 * open syncs first: the medium is then what it reads. */
static void test_open_makes_the_medium_what_it_reads(void **state)
{
    (void)state;
    ne_sim_flash_use_cache(&sim, durable_image, dirty_lines, 64, 0, 0);
    put_n(5, "o");
    assert_int_equal(ne_store_sync(&store), NE_OK);
    put_n(3, "o");
    ne_sim_flash_fail(&sim, NE_SIM_FLASH_SYNC, 1, NE_ERR_IO);
    assert_int_equal(ne_store_sync(&store), NE_ERR_IO);
    assert_true(sim.dirty_lines > 0);
    assert_int_equal(reopen(), NE_OK);
    assert_int_equal(sim.dirty_lines, 0);
    assert_memory_equal(durable_image, image, (size_t)BLOCKS * ERASE_BYTES);
    ne_sim_flash_use_cache(&sim, NULL, NULL, 0, 0, 0);
}

/* Appends messages of 1,000 bytes, each on its own subject (prefix and a
 * number), until the device refuses one for space. */
static void fill_until_full(const char *prefix)
{
    static uint8_t payload[1000];
    memset(payload, 'x', sizeof(payload));
    char subject[32];
    int rc = NE_OK;
    for (int i = 0; i < 1000 && rc == NE_OK; i++) {
        snprintf(subject, sizeof(subject), "%s%d", prefix, i);
        ne_store_msg m = {.subject = subject,
                          .subject_len = strlen(subject),
                          .payload = payload,
                          .payload_len = sizeof(payload),
                          .timestamp_ns = 1};
        rc = ne_store_append(&store, &m, NULL);
    }
    assert_int_equal(rc, NE_ERR_FULL);
}

static void test_full_device_attach_defers_the_subject_limit(void **state)
{
    (void)state;
    compress = NULL;
    limits.discard = NE_STORE_DISCARD_NEW;
    new_device(geometry(16, ERASE_BYTES, 8));
    /* A full device, half of it purged from the front and compacted. */
    fill_until_full("f");
    ne_store_purge_req front = {.up_to_seq = get_state().last_seq / 2};
    assert_int_equal(ne_store_purge(&store, &front, NULL), NE_OK);
    assert_int_equal(ne_store_compact(&store, NULL), NE_OK);
    /* Two values of one key, then the device fills up again. */
    uint64_t older = put("k", "older value");
    uint64_t newer = put("k", "newer value");
    fill_until_full("g");
    assert_int_equal(ne_store_sync(&store), NE_OK);
    uint64_t last = get_state().last_seq;
    uint64_t msgs = get_state().msgs;
    /* A torn write after the head's data: the open seals it, so a
     * tombstone would need a new block. */
    int32_t head = block_index_of(last);
    uint32_t tail = (uint32_t)head * ERASE_BYTES + dev.blocks[head].write_off + 64;
    assert_true(tail < (uint32_t)(head + 1) * ERASE_BYTES);
    image[tail] = 0x5a;
    limits.max_msgs_per_subject = 1;
    assert_int_equal(reopen(), NE_OK);
    assert_int_equal(get_state().msgs, msgs);
    assert_int_equal(load(older), NE_OK);
    assert_int_equal(load(newer), NE_OK);
    assert_int_equal(ne_store_set_limits(&store, &limits), NE_OK);
    assert_int_equal(ne_store_sync(&store), NE_OK);
    assert_int_equal(load(older), NE_OK);
    /* Room comes back (a purge from the front needs no space, compaction
     * frees its blocks): the limit is applied, the older value leaves with
     * a tombstone (one message stays in front of it). */
    ne_store_purge_req req = {.up_to_seq = older - 1};
    assert_int_equal(ne_store_purge(&store, &req, NULL), NE_OK);
    assert_int_equal(get_state().first_seq, older - 1);
    assert_int_equal(ne_store_compact(&store, NULL), NE_OK);
    assert_int_equal(ne_store_sync(&store), NE_OK);
    assert_int_equal(load(older), NE_ERR_NOT_FOUND);
    assert_int_equal(load(newer), NE_OK);
    assert_int_equal(get_state().first_seq, older - 1);
    assert_int_equal(reopen(), NE_OK);
    assert_int_equal(load(older), NE_ERR_NOT_FOUND);
    assert_int_equal(load(newer), NE_OK);
    assert_int_equal(get_state().first_seq, older - 1);
}

/* Appends a compressible message of len bytes (at most 2,100) on subject
 * "big". */
static uint64_t put_big(size_t len)
{
    static char text[2100];
    memset(text, 'z', sizeof(text));
    assert_true(len <= sizeof(text));
    ne_store_msg m = {.subject = "big",
                      .subject_len = 3,
                      .payload = (const uint8_t *)text,
                      .payload_len = len,
                      .timestamp_ns = 77};
    uint64_t seq = 0;
    assert_int_equal(ne_store_append(&store, &m, &seq), NE_OK);
    return seq;
}

/* Regression (make powercut CUTS=20000 SEED=10045 lost S2's seq 1636 at cut
 * 4234): an erase wrote its tombstone into the head, then the rewrite of
 * the record's block did not fit and the erase returned NE_ERR_FULL. The
 * stream still counted the message, but the tombstone went to the flash
 * with the next sync: an acknowledged message vanished at the next open.
 * The block (4 KiB) holds two packs of a large compressible message and a
 * small one, each after a tombstone; without the small ones the large ones
 * were copied alone, uncompressed, and did not fit in one block, so the
 * erase was refused with free blocks left. A large record is now packed
 * alone too, and the erase fits: the message leaves, nothing else does.
 * (That a refused erase removes nothing, the power-cut harness checks
 * after every refusal.) */
static void test_erase_of_a_record_packed_with_a_large_one_fits(void **state)
{
    (void)state;
    const ne_store_slot *slot = store.impl;
    /* A first block of small messages, then a fresh head. */
    int32_t first_head = -1;
    for (int i = 0; i < 200; i++) {
        put_n(1, "small");
        if (first_head < 0) {
            first_head = slot->head;
        }
        if (slot->head != first_head) {
            break;
        }
    }
    assert_int_not_equal(slot->head, first_head);
    assert_int_equal(ne_store_sync(&store), NE_OK);
    int32_t victim = slot->head;
    /* Tombstones for messages of the first block, kept by any rewrite. */
    assert_int_equal(ne_store_delete(&store, 3), NE_OK);
    assert_int_equal(ne_store_sync(&store), NE_OK);
    uint64_t a = put_big(2100);
    uint64_t x = put_big(10);
    assert_int_equal(ne_store_sync(&store), NE_OK);
    assert_int_equal(ne_store_delete(&store, 2), NE_OK);
    assert_int_equal(ne_store_sync(&store), NE_OK);
    uint64_t c = put_big(2100);
    uint64_t y = put_big(10);
    assert_int_equal(ne_store_sync(&store), NE_OK);
    assert_int_equal(ne_store_delete(&store, y), NE_OK);
    assert_int_equal(ne_store_sync(&store), NE_OK);
    assert_int_equal(slot->head, victim);
    assert_true(get_stats().packs_written >= 2);

    ne_store_state before = get_state();
    assert_true(sf_free_count(&dev) > 0);
    assert_int_equal(ne_store_erase(&store, x), NE_OK);
    ne_store_state after = get_state();
    assert_int_equal(after.msgs, before.msgs - 1);
    assert_int_equal(load(x), NE_ERR_NOT_FOUND);
    assert_int_equal(reopen(), NE_OK);
    assert_int_equal(get_state().msgs, before.msgs - 1);
    assert_int_equal(load(a), NE_OK);
    assert_int_equal(load(x), NE_ERR_NOT_FOUND);
    assert_int_equal(load(c), NE_OK);
    assert_int_equal(load(y), NE_ERR_NOT_FOUND);
    assert_int_equal(load(2), NE_ERR_NOT_FOUND);
    assert_int_equal(load(3), NE_ERR_NOT_FOUND);
}

/* Regression (random seed 517686 of make powercut, 20,000 cuts: S2's
 * synced removals of seqs 889 and 890 came back at cut 8123): a truncation
 * whose rewrite did not fit returned NE_ERR_FULL after bumping the log's
 * epoch and moving its next sequence back in RAM; the next sync wrote them
 * in a FLOOR, and recovery then took the truncation as done over records
 * and removals it never rewrote. The block is built as for the erasure
 * above, with the small messages deleted, so that the two large ones are
 * copied alone: that no longer makes the rewrite too large (a large record
 * is packed alone), and the truncation takes the tail and keeps the
 * removals. (That a refused truncation changes nothing, the power-cut
 * harness checks after every refusal.) */
static void test_truncate_of_blocks_packed_with_large_records_fits(void **state)
{
    (void)state;
    const ne_store_slot *slot = store.impl;
    int32_t first_head = -1;
    for (int i = 0; i < 200; i++) {
        put_n(1, "small");
        if (first_head < 0) {
            first_head = slot->head;
        }
        if (slot->head != first_head) {
            break;
        }
    }
    assert_int_not_equal(slot->head, first_head);
    assert_int_equal(ne_store_sync(&store), NE_OK);
    int32_t victim = slot->head;
    assert_int_equal(ne_store_delete(&store, 3), NE_OK);
    assert_int_equal(ne_store_sync(&store), NE_OK);
    uint64_t a = put_big(2100);
    uint64_t x = put_big(10);
    assert_int_equal(ne_store_sync(&store), NE_OK);
    assert_int_equal(ne_store_delete(&store, 2), NE_OK);
    assert_int_equal(ne_store_sync(&store), NE_OK);
    uint64_t c = put_big(2100);
    uint64_t y = put_big(10);
    assert_int_equal(ne_store_sync(&store), NE_OK);
    uint64_t z = put_big(10);
    assert_int_equal(ne_store_delete(&store, x), NE_OK);
    assert_int_equal(ne_store_delete(&store, y), NE_OK);
    assert_int_equal(ne_store_sync(&store), NE_OK);
    assert_int_equal(slot->head, victim);

    ne_store_state before = get_state();
    assert_true(sf_free_count(&dev) > 0);
    assert_int_equal(ne_store_truncate(&store, c), NE_OK);
    ne_store_state after = get_state();
    assert_int_equal(after.msgs, before.msgs - 1);
    assert_int_equal(after.last_seq, c);
    assert_int_equal(load(z), NE_ERR_NOT_FOUND);
    assert_int_equal(reopen(), NE_OK);
    after = get_state();
    assert_int_equal(after.msgs, before.msgs - 1);
    assert_int_equal(after.last_seq, c);
    assert_int_equal(load(a), NE_OK);
    assert_int_equal(load(c), NE_OK);
    assert_int_equal(load(z), NE_ERR_NOT_FOUND);
    assert_int_equal(load(x), NE_ERR_NOT_FOUND);
    assert_int_equal(load(y), NE_ERR_NOT_FOUND);
    assert_int_equal(load(2), NE_ERR_NOT_FOUND);
    assert_int_equal(load(3), NE_ERR_NOT_FOUND);
}

/* The stream's blocks holding records (its RAM view). */
static uint32_t stream_blocks(void)
{
    uint32_t n = 0;
    for (uint32_t b = 0; b < dev.block_count; b++) {
        const ne_store_block *blk = &dev.blocks[b];
        n += blk->state == SF_STATE_DATA && blk->log_id != SF_META_LOG_ID && blk->records > 0;
    }
    return n;
}

/* A truncation whose tail spans more blocks than one rewrite takes
 * (NE_STORE_COMPACT_MAX_VICTIMS) is cut in rounds, in a loop (it was a
 * recursion, which the project forbids). Regression for what a power cut
 * between rounds leaves: the rounds went from the truncation point up, so
 * a cut after the first left the tail's higher blocks with a hole below
 * them (a RAFT log with a hole). Rounds now cut from the end: a cut
 * anywhere leaves the log whole, truncated, or a prefix of it. */
static void test_long_truncation_is_cut_from_the_end(void **state)
{
    (void)state;
    compress = NULL;
    new_device(geometry(16, ERASE_BYTES, 40));
    for (uint64_t i = 0; i < 1000 && stream_blocks() <= 2 * NE_STORE_COMPACT_MAX_VICTIMS + 2; i++) {
        put_n(1, "t");
    }
    uint64_t last = get_state().last_seq;
    assert_int_equal(ne_store_sync(&store), NE_OK);
    static uint8_t saved[64 * ERASE_BYTES];
    static uint32_t saved_counts[64];
    memcpy(saved, image, sizeof(saved));
    memcpy(saved_counts, erase_counts, sizeof(saved_counts));
    uint32_t prefixes = 0;
    bool done = false;
    for (uint64_t cut = 1; cut < 2000 && !done; cut++) {
        memcpy(image, saved, sizeof(saved));
        memcpy(erase_counts, saved_counts, sizeof(saved_counts));
        memset(programmed, 0, sizeof(programmed));
        ne_sim_flash_power_on(&sim);
        assert_int_equal(reopen(), NE_OK);
        ne_sim_flash_cut_after(&sim, cut);
        int rc = ne_store_truncate(&store, 5);
        if (rc == NE_OK) {
            sim.cut_at = 0;
            done = true;
        } else {
            assert_int_equal(rc, NE_ERR_POWER_LOSS);
            ne_sim_flash_power_on(&sim);
            assert_int_equal(reopen(), NE_OK);
        }
        /* Whole, truncated, or a prefix: no hole. */
        ne_store_state st = get_state();
        assert_int_equal(st.first_seq, 1);
        assert_true(st.last_seq == 5 || (st.last_seq > 5 && st.last_seq <= last));
        assert_int_equal(st.msgs, st.last_seq);
        for (uint64_t s = 1; s <= st.last_seq; s++) {
            expect_payload(s);
        }
        prefixes += st.last_seq > 5 && st.last_seq < last;
    }
    assert_true(done);
    assert_true(prefixes > 0);
    assert_int_equal(get_state().last_seq, 5);
    assert_int_equal(load(6), NE_ERR_NOT_FOUND);
    put_n(1, "t");
    assert_int_equal(ne_store_sync(&store), NE_OK);
    assert_int_equal(reopen(), NE_OK);
    assert_int_equal(get_state().last_seq, 6);
    assert_int_equal(get_state().msgs, 6);
    expect_payload(6);
}

/* Appends len pseudo-random (incompressible) bytes from generator x on
 * subject. */
static uint64_t put_random(const char *subject, uint32_t x, size_t len)
{
    static uint8_t bytes[2000];
    assert_true(len <= sizeof(bytes));
    for (size_t k = 0; k < len; k++) {
        x = x * 1103515245u + 12345u;
        bytes[k] = (uint8_t)(x >> 24);
    }
    ne_store_msg m = {.subject = subject,
                      .subject_len = strlen(subject),
                      .payload = bytes,
                      .payload_len = len,
                      .timestamp_ns = 77};
    uint64_t seq = 0;
    assert_int_equal(ne_store_append(&store, &m, &seq), NE_OK);
    return seq;
}

/* Erasing a record rewrites its block; the rewrite was refused for space
 * with free blocks left, because the merge did not pack the block's other
 * records as the block had: a tombstone the erased record carried (it
 * replaced an older value of its key) went between the two records packed
 * around it, splitting a run that compressed only as a whole (two alike
 * records, incompressible alone). A merge now copies every record first
 * and the tombstones after them. */
static void test_erase_with_free_blocks_is_not_refused_for_space(void **state)
{
    (void)state;
    limits.max_msgs_per_subject = 1;
    assert_int_equal(reopen(), NE_OK);
    const ne_store_slot *slot = store.impl;
    char subject[16];
    /* The key's first value (not the stream's first message, whose
     * removal would only move the floor), in a first block filled with
     * other keys. */
    put("front", "the stream's first message");
    uint64_t old_value = put("k", "first value of the key");
    int32_t first_head = slot->head;
    for (uint32_t i = 0; i < 24 && slot->head == first_head; i++) {
        snprintf(subject, sizeof(subject), "a%u", i);
        put_random(subject, i + 1, 200);
    }
    assert_int_not_equal(slot->head, first_head);
    assert_int_equal(ne_store_sync(&store), NE_OK);
    int32_t victim = slot->head;
    /* In one sync, one pack: two alike records with the key's new value
     * (replacing the first) between them. */
    uint64_t r1 = put_random("r1", 99, 1000);
    uint64_t replacing = put("k", "second value of the key");
    uint64_t r3 = put_random("r3", 99, 1000);
    assert_int_equal(ne_store_sync(&store), NE_OK);
    assert_int_equal(load(old_value), NE_ERR_NOT_FOUND);
    /* The rest of the block: incompressible records until it is full. */
    for (uint32_t i = 0; i < 20 && slot->head == victim; i++) {
        snprintf(subject, sizeof(subject), "b%u", i);
        put_random(subject, 1000 + i, 600);
        assert_int_equal(ne_store_sync(&store), NE_OK);
    }
    assert_int_not_equal(slot->head, victim);
    assert_true(sf_free_count(&dev) > 0);
    assert_int_equal(ne_store_erase(&store, replacing), NE_OK);
    assert_int_equal(load(replacing), NE_ERR_NOT_FOUND);
    assert_int_equal(load(r1), NE_OK);
    assert_int_equal(load(r3), NE_OK);
    assert_int_equal(reopen(), NE_OK);
    assert_int_equal(load(replacing), NE_ERR_NOT_FOUND);
    assert_int_equal(load(old_value), NE_ERR_NOT_FOUND);
    assert_int_equal(load(r1), NE_OK);
    assert_int_equal(load(r3), NE_OK);
}

/* The read window outlives programs past it: after more records are
 * appended and flushed, records read before are read again from the window,
 * not from flash (a consumer following its publishers), and a record
 * written past the window is read from flash, whole. */
static void test_read_window_survives_programs_past_it(void **state)
{
    (void)state;
    put_n(10, "a");
    assert_int_equal(ne_store_dev_sync(&dev), NE_OK);
    expect_payload(1);
    uint64_t reads = sim.reads;
    for (uint64_t seq = 2; seq <= 10; seq++) {
        expect_payload(seq);
    }
    assert_int_equal(sim.reads, reads);
    put_n(1, "a");
    assert_int_equal(ne_store_dev_flush(&dev), NE_OK);
    expect_payload(3);
    assert_int_equal(sim.reads, reads); /* the window was kept */
    expect_payload(11);
    assert_true(sim.reads > reads); /* past the window: from flash */
}

/* The sim's flash behind a table that notes the longest program call. */
static uint32_t longest_program;
static uint32_t program_calls;
static int noting_read(void *ctx, uint32_t addr, void *dst, size_t len)
{
    return sim.flash.ops->read(ctx, addr, dst, len);
}
static int noting_program(void *ctx, uint32_t addr, const void *src, size_t len)
{
    longest_program = len > longest_program ? (uint32_t)len : longest_program;
    program_calls++;
    return sim.flash.ops->program(ctx, addr, src, len);
}
static int noting_erase(void *ctx, uint32_t block)
{
    return sim.flash.ops->erase(ctx, block);
}
static int noting_sync(void *ctx)
{
    return sim.flash.ops->sync(ctx);
}
static const ne_flash_ops noting_ops = {
    .read = noting_read, .program = noting_program, .erase = noting_erase, .sync = noting_sync};

/* A record longer than the stage (NE_STORE_PROGRAM_CHUNK_BYTES) goes from
 * the write buffer in one program call with its padding, not through the
 * stage a piece at a time; small records still gather in the stage. Both
 * read back. */
static void test_large_record_is_programmed_in_one_call(void **state)
{
    (void)state;
    ne_sim_flash_init(&sim, geometry(16, 8 * NE_STORE_PROGRAM_CHUNK_BYTES, 4), image, erase_counts,
                      programmed, 7);
    ne_flash noting = sim.flash;
    noting.ops = &noting_ops;
    assert_int_equal(open_on(&noting, NULL), NE_OK);
    put_n(3, "small");
    assert_int_equal(ne_store_sync(&store), NE_OK);
    longest_program = 0;
    program_calls = 0;
    static uint8_t large[3 * NE_STORE_PROGRAM_CHUNK_BYTES + 100];
    for (size_t i = 0; i < sizeof(large); i++) {
        large[i] = (uint8_t)(i * 7u + 1u);
    }
    ne_store_msg m = {
        .subject = "large", .subject_len = 5, .payload = large, .payload_len = sizeof(large)};
    uint64_t seq = 0;
    assert_int_equal(ne_store_append(&store, &m, &seq), NE_OK);
    assert_int_equal(ne_store_sync(&store), NE_OK);
    assert_true(longest_program >= 3 * NE_STORE_PROGRAM_CHUNK_BYTES);
    /* The record and its padding to the program unit together. */
    assert_int_equal(program_calls, 1);
    longest_program = 0;
    put_n(3, "small");
    assert_int_equal(ne_store_sync(&store), NE_OK);
    assert_true(longest_program < NE_STORE_PROGRAM_CHUNK_BYTES);
    assert_int_equal(open_on(&noting, NULL), NE_OK);
    static uint8_t back[sizeof(large) + 64];
    ne_store_msg out;
    assert_int_equal(ne_store_load(&store, seq, &out, back, sizeof(back)), NE_OK);
    assert_int_equal(out.payload_len, sizeof(large));
    assert_memory_equal(out.payload, large, sizeof(large));
    for (uint64_t q = 1; q <= 7; q++) {
        if (q != seq) {
            expect_payload(q);
        }
    }
}

/* Records read one after another come from the read window that located
 * them: without compression (each record a frame of its own, its data
 * copied out with sf_read), the records after the first cost no flash
 * read while they sit in the window. */
static void test_uncompressed_records_are_copied_from_the_read_window(void **state)
{
    (void)state;
    compress = NULL;
    new_device(geometry(16, ERASE_BYTES, BLOCKS));
    put_n(10, "a");
    assert_int_equal(ne_store_dev_sync(&dev), NE_OK);
    assert_int_equal(get_stats().packs_written, 0);
    expect_payload(1);
    uint64_t reads = sim.reads;
    for (uint64_t seq = 2; seq <= 10; seq++) {
        expect_payload(seq);
    }
    assert_int_equal(sim.reads, reads);
}

/* A never-written block (recovery read it erased whole, after the open's
 * sync) is not read again when a head opens in it; it is still erased (a
 * blank read does not prove that no program was cut there). */
static void test_never_written_blocks_are_erased_without_a_second_read(void **state)
{
    (void)state;
    uint64_t erases = sim.erases;
    uint64_t reads = sim.reads;
    put_n(150, "a");
    assert_int_equal(ne_store_sync(&store), NE_OK);
    ne_store_dev_stats st = get_stats();
    assert_true(st.blocks_data >= 4);
    assert_true(sim.erases >= erases + 3);
    assert_int_equal(sim.reads, reads);
    assert_int_equal(reopen(), NE_OK);
    for (uint64_t seq = 1; seq <= 150; seq++) {
        expect_payload(seq);
    }
    assert_int_equal(put("a", "after"), 151);
}

/* The blank check at every length and with one byte not erased at every
 * place (it goes 32, then 8 bytes, then one at a time). */
static void test_all_erased_finds_any_byte_that_is_not(void **state)
{
    (void)state;
    uint8_t bytes[102];
    for (uint32_t len = 0; len <= 100; len++) {
        memset(bytes, 0xff, sizeof(bytes));
        assert_true(sf_all_erased(bytes + 1, len));
        for (uint32_t at = 0; at < len; at++) {
            bytes[1 + at] = 0x7f;
            assert_false(sf_all_erased(bytes + 1, len));
            bytes[1 + at] = 0xff;
        }
        bytes[0] = 0;
        bytes[1 + len] = 0;
        assert_true(sf_all_erased(bytes + 1, len));
    }
}

#define T(test) cmocka_unit_test_setup_teardown(test, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_reopen_recovers_records_deletions_and_state),
        T(test_unsynced_changes_may_vanish_and_sequences_continue),
        T(test_purge_of_everything_survives_reopen_with_its_sequence),
        T(test_torn_sync_keeps_everything_synced_before),
        T(test_cut_anywhere_in_a_compaction),
        T(test_bit_flip_in_a_payload_is_reported_never_returned),
        T(test_bit_flip_in_a_frame_header_loses_only_that_record),
        T(test_damaged_block_header_is_reported),
        T(test_compaction_compresses_what_it_keeps),
        T(test_no_compression_without_a_table),
        T(test_batched_appends_are_compressed_on_sync),
        T(test_wear_is_spread_over_every_block),
        T(test_full_flash_refuses_then_accepts_after_removal),
        T(test_full_device_attach_defers_the_subject_limit),
        T(test_program_error_is_sticky_until_reopen),
        T(test_sync_error_is_reported),
        T(test_erase_error_during_compaction),
        T(test_read_error_at_open),
        T(test_geometry_the_store_cannot_use_is_refused),
        T(test_another_format_version_is_left_alone),
        T(test_program_units_from_1_to_256_bytes),
        T(test_subject_table_overflow_at_recovery),
        T(test_opening_applies_lowered_limits),
        T(test_file_backed_store_survives_reopen),
        T(test_file_erase_writes_only_over_written_bytes),
        T(test_aborted_merge_leaves_the_floor_to_the_next_sync),
        T(test_cut_anywhere_in_a_compaction_behind_a_write_cache),
        T(test_damaged_record_does_not_hide_the_ones_after_it),
        T(test_retirement_keeps_the_floor_a_retired_block_carried),
        T(test_unsynced_frame_of_a_reused_block_never_comes_back),
        T(test_open_makes_the_medium_what_it_reads),
        T(test_erase_of_a_record_packed_with_a_large_one_fits),
        T(test_truncate_of_blocks_packed_with_large_records_fits),
        T(test_long_truncation_is_cut_from_the_end),
        T(test_erase_with_free_blocks_is_not_refused_for_space),
        T(test_read_window_survives_programs_past_it),
        T(test_large_record_is_programmed_in_one_call),
        T(test_uncompressed_records_are_copied_from_the_read_window),
        T(test_never_written_blocks_are_erased_without_a_second_read),
        T(test_all_erased_finds_any_byte_that_is_not),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
