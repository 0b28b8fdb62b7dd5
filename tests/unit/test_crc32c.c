/* CRC-32C (src/codec/ne_crc32c.c): the check value, and the slicing-by-8
 * loop against the byte-at-a-time definition at every length and
 * alignment, continued across calls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "codec/ne_crc32c.h"

/* The definition: one bit at a time, reflected polynomial 0x82F63B78. */
static uint32_t reference(uint32_t crc, const uint8_t *p, size_t len)
{
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++) {
            crc = (crc & 1u) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
        }
    }
    return ~crc;
}

static void test_check_value(void **state)
{
    (void)state;
    assert_int_equal(ne_crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(ne_crc32c(0, "", 0), 0);
    assert_int_equal(ne_crc32c_portable(0, "123456789", 9), 0xE3069283u);
}

static void test_every_length_and_alignment_matches_the_definition(void **state)
{
    (void)state;
    uint8_t data[600];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(data); i++) {
        x = x * 1103515245u + 12345u;
        data[i] = (uint8_t)(x >> 16);
    }
    for (size_t off = 0; off < 8; off++) {
        for (size_t len = 0; len + off <= 300; len++) {
            assert_int_equal(ne_crc32c(0, data + off, len), reference(0, data + off, len));
            assert_int_equal(ne_crc32c_portable(0, data + off, len), reference(0, data + off, len));
        }
    }
    /* Continued across calls split anywhere. */
    for (size_t cut = 0; cut <= sizeof(data); cut += 7) {
        uint32_t c = ne_crc32c(0, data, cut);
        assert_int_equal(ne_crc32c(c, data + cut, sizeof(data) - cut),
                         reference(0, data, sizeof(data)));
        uint32_t t = ne_crc32c_portable(0, data, cut);
        assert_int_equal(ne_crc32c_portable(t, data + cut, sizeof(data) - cut),
                         reference(0, data, sizeof(data)));
        /* The two paths continue each other's CRC. */
        assert_int_equal(ne_crc32c_portable(c, data + cut, sizeof(data) - cut),
                         reference(0, data, sizeof(data)));
    }
}

/* The hardware path's three lanes (stretches of 2,048 and 256 bytes, then
 * words, then bytes) at lengths on both sides of every stretch boundary and
 * every alignment, against the tables. */
static void test_long_buffers_match_the_tables(void **state)
{
    (void)state;
    static uint8_t data[16384 + 64];
    uint32_t x = 777;
    for (size_t i = 0; i < sizeof(data); i++) {
        x = x * 1103515245u + 12345u;
        data[i] = (uint8_t)(x >> 16);
    }
    const size_t edges[] = {3 * 256, 3 * 2048, 3 * 2048 + 3 * 256, 2 * 3 * 2048,
                            2 * 3 * 2048 + 2 * 3 * 256};
    for (size_t e = 0; e < sizeof(edges) / sizeof(edges[0]); e++) {
        for (size_t len = edges[e] - 9; len <= edges[e] + 9; len++) {
            for (size_t off = 0; off < 8; off += 3) {
                assert_int_equal(ne_crc32c(0x5a5a5a5au, data + off, len),
                                 ne_crc32c_portable(0x5a5a5a5au, data + off, len));
            }
        }
    }
    assert_int_equal(ne_crc32c(0, data, sizeof(data)), ne_crc32c_portable(0, data, sizeof(data)));
    assert_int_equal(ne_crc32c(0, data, 16384), reference(0, data, 16384));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_value),
        cmocka_unit_test(test_every_length_and_alignment_matches_the_definition),
        cmocka_unit_test(test_long_buffers_match_the_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
