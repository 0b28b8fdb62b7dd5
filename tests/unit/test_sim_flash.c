/* Unit tests of the simulated flash (port/sim/ne_sim_flash.h): NOR
 * semantics, torn programs and erases at a power cut, injected failures,
 * bit flips, erase counts and the double-program check; the write cache
 * that loses and reorders unsynced writes, and cuts during a sync. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/ne_error.h"
#include "sim/ne_sim_flash.h"

#define BLOCKS 4
#define ERASE 1024
#define UNIT 16

static ne_sim_flash sim;
static uint8_t image[BLOCKS * ERASE];
static uint32_t counts[BLOCKS];
static uint8_t programmed[NE_SIM_FLASH_PROGRAMMED_BYTES(BLOCKS, ERASE, UNIT)];
static uint8_t durable[BLOCKS * ERASE];
static uint8_t dirty[NE_SIM_FLASH_DIRTY_BYTES(BLOCKS, ERASE, UNIT)];

static int setup(void **state)
{
    (void)state;
    ne_flash_geometry g = {.program_bytes = UNIT, .erase_bytes = ERASE, .block_count = BLOCKS};
    ne_sim_flash_init(&sim, g, image, counts, programmed, 1234);
    return 0;
}

static int prog(uint32_t addr, const void *data, size_t len)
{
    return sim.flash.ops->program(sim.flash.ctx, addr, data, len);
}

static int rd(uint32_t addr, void *data, size_t len)
{
    return sim.flash.ops->read(sim.flash.ctx, addr, data, len);
}

static int erase(uint32_t block)
{
    return sim.flash.ops->erase(sim.flash.ctx, block);
}

static int sync_device(void)
{
    return sim.flash.ops->sync(sim.flash.ctx);
}

static void use_cache(uint64_t seed, uint32_t capacity_lines)
{
    ne_flash_geometry g = {.program_bytes = UNIT, .erase_bytes = ERASE, .block_count = BLOCKS};
    ne_sim_flash_init(&sim, g, image, counts, programmed, seed);
    ne_sim_flash_use_cache(&sim, durable, dirty, UNIT, capacity_lines, 0);
}

static bool unit_is(uint32_t addr, uint8_t value)
{
    for (uint32_t i = 0; i < UNIT; i++) {
        if (image[addr + i] != value) {
            return false;
        }
    }
    return true;
}

static void test_new_device_reads_erased(void **state)
{
    (void)state;
    uint8_t b[32];
    assert_int_equal(rd(100, b, sizeof(b)), NE_OK);
    for (size_t i = 0; i < sizeof(b); i++) {
        assert_int_equal(b[i], 0xff);
    }
    assert_int_equal(rd(BLOCKS * ERASE - 4, b, 8), NE_ERR_INVALID);
}

static void test_program_only_clears_bits_and_erase_sets_them(void **state)
{
    (void)state;
    uint8_t a[UNIT], b[UNIT], out[UNIT];
    memset(a, 0xf0, UNIT);
    memset(b, 0x3c, UNIT);
    assert_int_equal(prog(ERASE, a, UNIT), NE_OK);
    /* A second program over the same unit ANDs (and is flagged). */
    assert_int_equal(prog(ERASE, b, UNIT), NE_OK);
    assert_int_equal(rd(ERASE, out, UNIT), NE_OK);
    assert_int_equal(out[0], 0x30);
    assert_int_equal(sim.violations, 1);
    assert_int_equal(erase(1), NE_OK);
    assert_int_equal(rd(ERASE, out, UNIT), NE_OK);
    assert_int_equal(out[0], 0xff);
    assert_int_equal(counts[1], 1);
    assert_int_equal(counts[0], 0);
    /* After the erase the unit may be programmed again. */
    assert_int_equal(prog(ERASE, b, UNIT), NE_OK);
    assert_int_equal(sim.violations, 1);
}

static void test_unaligned_or_out_of_range_program_is_refused(void **state)
{
    (void)state;
    uint8_t a[UNIT] = {0};
    assert_int_equal(prog(3, a, UNIT), NE_ERR_INVALID);
    assert_int_equal(prog(0, a, 5), NE_ERR_INVALID);
    assert_int_equal(prog(BLOCKS * ERASE, a, UNIT), NE_ERR_INVALID);
    assert_int_equal(erase(BLOCKS), NE_ERR_INVALID);
}

static void test_cut_tears_a_program_and_stops_everything(void **state)
{
    (void)state;
    uint8_t data[256];
    memset(data, 0x00, sizeof(data));
    ne_sim_flash_cut_after(&sim, 2);
    assert_int_equal(prog(0, data, UNIT), NE_OK);
    assert_int_equal(prog(512, data, sizeof(data)), NE_ERR_POWER_LOSS);
    assert_false(sim.powered);
    assert_false(sim.last_cut_was_erase);
    uint8_t out[256];
    assert_int_equal(rd(0, out, 4), NE_ERR_POWER_LOSS);
    assert_int_equal(erase(0), NE_ERR_POWER_LOSS);
    assert_int_equal(sim.flash.ops->sync(sim.flash.ctx), NE_ERR_POWER_LOSS);
    ne_sim_flash_power_on(&sim);
    assert_int_equal(rd(512, out, sizeof(out)), NE_OK);
    /* A prefix landed: zeros, then at most one partly programmed byte,
     * then erased bytes. */
    size_t i = 0;
    while (i < sizeof(out) && out[i] == 0x00) {
        i++;
    }
    if (i < sizeof(out) && out[i] != 0xff) {
        i++;
    }
    for (; i < sizeof(out); i++) {
        assert_int_equal(out[i], 0xff);
    }
    assert_int_equal(sim.cuts, 1);
}

static void test_cut_tears_an_erase(void **state)
{
    (void)state;
    uint8_t zeros[ERASE];
    memset(zeros, 0, sizeof(zeros));
    bool saw_partial = false;
    for (int round = 0; round < 8; round++) {
        assert_int_equal(erase(2), NE_OK);
        assert_int_equal(prog(2 * ERASE, zeros, ERASE), NE_OK);
        ne_sim_flash_cut_after(&sim, 1);
        assert_int_equal(erase(2), NE_ERR_POWER_LOSS);
        assert_true(sim.last_cut_was_erase);
        ne_sim_flash_power_on(&sim);
        size_t erased = 0;
        for (size_t i = 0; i < ERASE; i++) {
            erased += image[2 * ERASE + i] == 0xff;
        }
        saw_partial = saw_partial || erased < ERASE;
    }
    assert_true(saw_partial);
}

static void test_injected_failures_hit_the_nth_operation_of_a_kind(void **state)
{
    (void)state;
    uint8_t a[UNIT] = {0};
    uint8_t out[4];
    ne_sim_flash_fail(&sim, NE_SIM_FLASH_PROGRAM, 2, NE_ERR_IO);
    assert_int_equal(rd(0, out, 4), NE_OK);
    assert_int_equal(prog(0, a, UNIT), NE_OK);
    assert_int_equal(prog(UNIT, a, UNIT), NE_ERR_IO);
    assert_int_equal(image[UNIT], 0xff);
    assert_int_equal(prog(UNIT, a, UNIT), NE_OK);
    ne_sim_flash_fail(&sim, NE_SIM_FLASH_READ | NE_SIM_FLASH_SYNC, 1, NE_ERR_IO);
    assert_int_equal(rd(0, out, 4), NE_ERR_IO);
    assert_int_equal(sim.flash.ops->sync(sim.flash.ctx), NE_OK);
    ne_sim_flash_fail(&sim, NE_SIM_FLASH_ERASE, 1, NE_ERR_IO);
    assert_int_equal(erase(0), NE_ERR_IO);
    assert_int_equal(image[0], 0x00);
}

static void test_flip_and_tear_change_the_image(void **state)
{
    (void)state;
    ne_sim_flash_flip_bit(&sim, 10, 3);
    assert_int_equal(image[10], 0xf7);
    ne_sim_flash_tear(&sim, 100, 64);
    size_t changed = 0;
    for (size_t i = 100; i < 164; i++) {
        changed += image[i] != 0xff;
    }
    assert_true(changed > 32);
    uint64_t a = ne_sim_flash_random(&sim);
    uint64_t b = ne_sim_flash_random(&sim);
    assert_true(a != b);
}

static void test_cache_shows_unsynced_writes_and_sync_makes_them_durable(void **state)
{
    (void)state;
    use_cache(5, 0);
    uint8_t a[UNIT];
    uint8_t out[UNIT];
    memset(a, 0x11, UNIT);
    assert_int_equal(prog(0, a, UNIT), NE_OK);
    assert_int_equal(rd(0, out, UNIT), NE_OK);
    assert_int_equal(out[0], 0x11);
    assert_int_equal(durable[0], 0xff);
    assert_int_equal(sim.dirty_lines, 1);
    assert_int_equal(sync_device(), NE_OK);
    assert_int_equal(durable[0], 0x11);
    assert_int_equal(sim.dirty_lines, 0);
}

/* Over many cuts, unsynced lines are sometimes kept and sometimes lost,
 * independently of the order they were written in; synced ones always stay.
 * A later write kept while an earlier one is lost is the reordering a cache
 * does. */
static void test_cut_keeps_synced_writes_and_any_subset_of_the_rest(void **state)
{
    (void)state;
    bool saw_kept = false;
    bool saw_lost = false;
    bool saw_reordered = false;
    for (uint64_t seed = 1; seed <= 64; seed++) {
        use_cache(seed, 0);
        uint8_t a[UNIT];
        memset(a, 0x22, UNIT);
        assert_int_equal(prog(0, a, UNIT), NE_OK);
        assert_int_equal(sync_device(), NE_OK);
        memset(a, 0x33, UNIT);
        assert_int_equal(prog(UNIT, a, UNIT), NE_OK);
        assert_int_equal(prog(2 * UNIT, a, UNIT), NE_OK);
        ne_sim_flash_cut_after(&sim, 1);
        assert_int_equal(prog(3 * UNIT, a, UNIT), NE_ERR_POWER_LOSS);
        assert_false(sim.powered);
        ne_sim_flash_power_on(&sim);
        assert_true(unit_is(0, 0x22));
        bool first = unit_is(UNIT, 0x33);
        bool second = unit_is(2 * UNIT, 0x33);
        saw_kept = saw_kept || first || second;
        saw_lost = saw_lost || unit_is(UNIT, 0xff) || unit_is(2 * UNIT, 0xff);
        saw_reordered = saw_reordered || (!first && second);
        /* What reads show after the cut is what the medium holds. */
        assert_memory_equal(image, durable, sizeof(image));
        assert_int_equal(sim.dirty_lines, 0);
    }
    assert_true(saw_kept);
    assert_true(saw_lost);
    assert_true(saw_reordered);
}

static void test_cut_during_a_sync_writes_back_only_some_lines(void **state)
{
    (void)state;
    bool saw_partial = false;
    for (uint64_t seed = 1; seed <= 64; seed++) {
        use_cache(seed, 0);
        uint8_t a[UNIT];
        memset(a, 0x44, UNIT);
        for (uint32_t u = 0; u < 8; u++) {
            assert_int_equal(prog(u * UNIT, a, UNIT), NE_OK);
        }
        ne_sim_flash_cut_after(&sim, 1);
        assert_int_equal(sync_device(), NE_ERR_POWER_LOSS);
        assert_true(sim.last_cut_was_sync);
        ne_sim_flash_power_on(&sim);
        uint32_t kept = 0;
        for (uint32_t u = 0; u < 8; u++) {
            kept += unit_is(u * UNIT, 0x44);
        }
        saw_partial = saw_partial || (kept > 0 && kept < 8);
    }
    assert_true(saw_partial);
}

/* An erase that never reached the medium brings the old content back. */
static void test_lost_erase_brings_old_content_back(void **state)
{
    (void)state;
    bool saw_old = false;
    for (uint64_t seed = 1; seed <= 32 && !saw_old; seed++) {
        use_cache(seed, 0);
        uint8_t a[UNIT];
        memset(a, 0x55, UNIT);
        assert_int_equal(prog(ERASE, a, UNIT), NE_OK);
        assert_int_equal(sync_device(), NE_OK);
        assert_int_equal(erase(1), NE_OK);
        assert_true(unit_is(ERASE, 0xff));
        ne_sim_flash_cut_after(&sim, 1);
        assert_int_equal(prog(0, a, UNIT), NE_ERR_POWER_LOSS);
        ne_sim_flash_power_on(&sim);
        saw_old = unit_is(ERASE, 0x55);
    }
    assert_true(saw_old);
}

static void test_full_cache_writes_lines_back_before_a_sync(void **state)
{
    (void)state;
    use_cache(9, 2);
    uint8_t a[UNIT];
    memset(a, 0x66, UNIT);
    for (uint32_t u = 0; u < 6; u++) {
        assert_int_equal(prog(u * UNIT, a, UNIT), NE_OK);
    }
    assert_int_equal(sim.dirty_lines, 2);
    assert_int_equal(sim.lines_written_back, 4);
    uint32_t durable_units = 0;
    for (uint32_t u = 0; u < 6; u++) {
        durable_units += durable[u * UNIT] == 0x66;
    }
    assert_int_equal(durable_units, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_new_device_reads_erased, setup),
        cmocka_unit_test_setup(test_program_only_clears_bits_and_erase_sets_them, setup),
        cmocka_unit_test_setup(test_unaligned_or_out_of_range_program_is_refused, setup),
        cmocka_unit_test_setup(test_cut_tears_a_program_and_stops_everything, setup),
        cmocka_unit_test_setup(test_cut_tears_an_erase, setup),
        cmocka_unit_test_setup(test_injected_failures_hit_the_nth_operation_of_a_kind, setup),
        cmocka_unit_test_setup(test_flip_and_tear_change_the_image, setup),
        cmocka_unit_test_setup(test_cache_shows_unsynced_writes_and_sync_makes_them_durable, setup),
        cmocka_unit_test_setup(test_cut_keeps_synced_writes_and_any_subset_of_the_rest, setup),
        cmocka_unit_test_setup(test_cut_during_a_sync_writes_back_only_some_lines, setup),
        cmocka_unit_test_setup(test_lost_erase_brings_old_content_back, setup),
        cmocka_unit_test_setup(test_full_cache_writes_lines_back_before_a_sync, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
