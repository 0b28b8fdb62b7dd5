/* Unit tests of the snappy codec (src/codec/ne_snappy.c, ne_snappy_frame.c):
 * block round trips both ways against Debian's libsnappy over a generated
 * corpus, S2 blocks built by hand from the S2 rules, the framing format with
 * input split at every byte, and hostile input that must be reported as
 * corrupt without reading or writing out of bounds (run under ASan by
 * `make test-asan`). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <snappy-c.h>

#include "codec/ne_crc32c.h"
#include "codec/ne_snappy.h"
#include "codec/ne_snappy_frame.h"
#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "test_snappy_corpus.h"

#define MIB (1024u * 1024u)
#define BIG_BYTES (4u * MIB + 1u)
#define BIG_COMPRESSED (32u + BIG_BYTES + BIG_BYTES / 6u)

/* Large buffers are static: the codec under test never allocates, and the
 * tests need not either. */
static uint8_t input[BIG_BYTES];
static uint8_t compressed[BIG_COMPRESSED];
static uint8_t reference[BIG_COMPRESSED];
static uint8_t output[BIG_BYTES + 64];
static ne_snappy_table table;
static ne_snappy_frame_decoder frame_decoder;

static const size_t corpus_sizes[] = {0,    1,     2,     63,    64,      65,
                                      4095, 65535, 65536, 65537, 1 * MIB, 4 * MIB};

/* ---- Helpers ------------------------------------------------------------- */

static size_t lib_compress(const uint8_t *src, size_t n, uint8_t *dst, size_t cap)
{
    size_t len = cap;
    assert_int_equal(snappy_compress((const char *)src, n, (char *)dst, &len), SNAPPY_OK);
    return len;
}

static size_t our_compress(const uint8_t *src, size_t n, uint8_t *dst, size_t cap)
{
    size_t len = 0;
    assert_int_equal(ne_snappy_compress(src, n, dst, cap, &len, &table), NE_OK);
    assert_true(len <= ne_snappy_max_compressed_length(n));
    return len;
}

/* libsnappy's verdict on a block, with an output capacity like ours. */
static int lib_decompress(const uint8_t *src, size_t n, uint8_t *dst, size_t cap, size_t *out_len)
{
    size_t want = 0;
    if (snappy_uncompressed_length((const char *)src, n, &want) != SNAPPY_OK) {
        return NE_ERR_CORRUPT;
    }
    if (want > cap) {
        return NE_ERR_TOO_BIG;
    }
    *out_len = want;
    return snappy_uncompress((const char *)src, n, (char *)dst, out_len) == SNAPPY_OK
               ? NE_OK
               : NE_ERR_CORRUPT;
}

/* Decodes with both of our decoders and libsnappy; all three must agree on
 * whether the block is valid and on its content (S2 is a superset of
 * snappy: a valid snappy block decodes identically as S2). */
static int decode_everywhere(const uint8_t *src, size_t n, size_t cap, size_t *out_len)
{
    static uint8_t lib_out[BIG_BYTES + 64];
    static uint8_t s2_out[BIG_BYTES + 64];
    assert_true(cap <= sizeof lib_out);
    size_t ours_len = 0;
    size_t lib_len = 0;
    size_t s2_len = 0;
    int ours = ne_snappy_decompress(src, n, output, cap, &ours_len);
    int lib = lib_decompress(src, n, lib_out, cap, &lib_len);
    int s2 = ne_s2_decompress(src, n, s2_out, cap, &s2_len);
    assert_true(ours == NE_OK || ours == NE_ERR_CORRUPT || ours == NE_ERR_TOO_BIG);
    assert_int_equal(ours == NE_OK, lib == NE_OK);
    if (ours == NE_OK) {
        assert_int_equal(ours_len, lib_len);
        assert_memory_equal(output, lib_out, ours_len);
        assert_int_equal(s2, NE_OK);
        assert_int_equal(s2_len, ours_len);
        assert_memory_equal(s2_out, output, ours_len);
        *out_len = ours_len;
    }
    return ours;
}

/* ---- Hand-built blocks ----------------------------------------------------
 * A tiny encoder that writes whatever elements a test asks for, following
 * the format rules literally, and computes the expected output alongside by
 * the naive byte-at-a-time definition. It can write S2 repeat codes. */

typedef struct block_builder {
    uint8_t elems[1u << 18];
    size_t elems_len;
    uint8_t expect[1u << 20];
    size_t expect_len;
    size_t last_offset;
    bool has_repeat;
} block_builder;

static block_builder builder;
static uint8_t built[sizeof builder.elems + 8];

static void b_reset(block_builder *b)
{
    b->elems_len = 0;
    b->expect_len = 0;
    b->last_offset = 0;
    b->has_repeat = false;
}

static void b_byte(block_builder *b, uint32_t v)
{
    assert_true(b->elems_len < sizeof b->elems);
    b->elems[b->elems_len++] = (uint8_t)v;
}

static void b_literal(block_builder *b, const uint8_t *p, size_t n)
{
    assert_true(n >= 1);
    size_t v = n - 1;
    if (v < 60) {
        b_byte(b, (uint32_t)(v << 2));
    } else {
        uint32_t count = v < 256 ? 1 : v < 65536 ? 2 : v < (1u << 24) ? 3 : 4;
        b_byte(b, (59u + count) << 2);
        for (uint32_t i = 0; i < count; i++) {
            b_byte(b, (uint32_t)(v >> (8 * i)));
        }
    }
    assert_true(b->elems_len + n <= sizeof b->elems);
    memcpy(b->elems + b->elems_len, p, n);
    b->elems_len += n;
    assert_true(b->expect_len + n <= sizeof b->expect);
    memcpy(b->expect + b->expect_len, p, n);
    b->expect_len += n;
}

/* Applies a copy to the expected output. A copy the format forbids (offset
 * zero or before the start) is written to the block all the same, for the
 * hostile-input tests, and leaves the expectation alone. */
static void b_expand(block_builder *b, size_t offset, size_t len)
{
    if (offset == 0 || offset > b->expect_len) {
        return;
    }
    assert_true(b->expect_len + len <= sizeof b->expect);
    for (size_t i = 0; i < len; i++) {
        b->expect[b->expect_len] = b->expect[b->expect_len - offset];
        b->expect_len++;
    }
    b->last_offset = offset;
}

static void b_copy1(block_builder *b, size_t offset, size_t len)
{
    assert_true(len >= 4 && len <= 11 && offset < 2048);
    b_byte(b, 1u | (uint32_t)((len - 4) << 2) | (uint32_t)((offset >> 8) << 5));
    b_byte(b, (uint32_t)offset);
    b_expand(b, offset, len);
}

static void b_copy2(block_builder *b, size_t offset, size_t len)
{
    assert_true(len >= 1 && len <= 64 && offset < 65536);
    b_byte(b, 2u | (uint32_t)((len - 1) << 2));
    b_byte(b, (uint32_t)offset);
    b_byte(b, (uint32_t)(offset >> 8));
    b_expand(b, offset, len);
}

static void b_copy4(block_builder *b, size_t offset, size_t len)
{
    assert_true(len >= 1 && len <= 64);
    b_byte(b, 3u | (uint32_t)((len - 1) << 2));
    for (int i = 0; i < 4; i++) {
        b_byte(b, (uint32_t)(offset >> (8 * i)));
    }
    b_expand(b, offset, len);
}

/* S2 repeat of the last offset: a copy-1 tag with offset 0 whose 3-bit
 * length field is 0..4 for lengths 4..8, or 5, 6, 7 followed by 1, 2, 3
 * little-endian bytes of length - 8, length - 260, length - 65540. */
static void b_repeat_with_field(block_builder *b, size_t len, uint32_t field)
{
    b_byte(b, 1u | (field << 2));
    b_byte(b, 0);
    switch (field) {
    case 5:
        assert_true(len >= 8 && len - 8 < 256);
        b_byte(b, (uint32_t)(len - 8));
        break;
    case 6:
        assert_true(len >= 260 && len - 260 < 65536);
        b_byte(b, (uint32_t)(len - 260));
        b_byte(b, (uint32_t)((len - 260) >> 8));
        break;
    case 7:
        assert_true(len >= 65540 && len - 65540 < (1u << 24));
        b_byte(b, (uint32_t)(len - 65540));
        b_byte(b, (uint32_t)((len - 65540) >> 8));
        b_byte(b, (uint32_t)((len - 65540) >> 16));
        break;
    default:
        assert_true(field <= 4 && len == 4 + field);
        break;
    }
    b->has_repeat = true;
    if (b->last_offset != 0) {
        b_expand(b, b->last_offset, len);
    }
}

static void b_repeat(block_builder *b, size_t len)
{
    uint32_t field = len <= 8 ? (uint32_t)(len - 4) : len < 264 ? 5 : len < 65796 ? 6 : 7;
    b_repeat_with_field(b, len, field);
}

/* The block: preamble (announcing `announced` bytes) then the elements. */
static size_t b_finish_announcing(const block_builder *b, size_t announced)
{
    size_t n = 0;
    size_t v = announced;
    while (v >= 0x80) {
        built[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    built[n++] = (uint8_t)v;
    memcpy(built + n, b->elems, b->elems_len);
    return n + b->elems_len;
}

static size_t b_finish(const block_builder *b)
{
    return b_finish_announcing(b, b->expect_len);
}

static void b_random_literal(block_builder *b, uint64_t *rng, size_t n)
{
    uint8_t tmp[512];
    assert_true(n <= sizeof tmp);
    corpus_random(tmp, n, rng);
    b_literal(b, tmp, n);
}

/* ---- Block format: corpus round trips -------------------------------------- */

static void test_max_compressed_length_matches_libsnappy(void **state)
{
    (void)state;
    for (size_t i = 0; i < NE_ARRAY_LEN(corpus_sizes); i++) {
        size_t n = corpus_sizes[i];
        assert_int_equal(ne_snappy_max_compressed_length(n), snappy_max_compressed_length(n));
    }
    assert_int_equal(ne_snappy_max_compressed_length(SIZE_MAX), SIZE_MAX);
}

static void test_our_blocks_decode_with_libsnappy(void **state)
{
    (void)state;
    for (int kind = 0; kind < CORPUS_KIND_COUNT; kind++) {
        for (size_t i = 0; i < NE_ARRAY_LEN(corpus_sizes); i++) {
            size_t n = corpus_sizes[i];
            corpus_fill((corpus_kind)kind, input, n, 1000 + i);
            size_t clen = our_compress(input, n, compressed, sizeof compressed);
            size_t out_len = sizeof output;
            assert_int_equal(
                snappy_uncompress((const char *)compressed, clen, (char *)output, &out_len),
                SNAPPY_OK);
            assert_int_equal(out_len, n);
            assert_memory_equal(output, input, n);
        }
    }
}

static void test_libsnappy_blocks_decode_with_ours(void **state)
{
    (void)state;
    for (int kind = 0; kind < CORPUS_KIND_COUNT; kind++) {
        for (size_t i = 0; i < NE_ARRAY_LEN(corpus_sizes); i++) {
            size_t n = corpus_sizes[i];
            corpus_fill((corpus_kind)kind, input, n, 2000 + i);
            size_t clen = lib_compress(input, n, reference, sizeof reference);
            size_t out_len = 0;
            memset(output, 0xa5, n + 64);
            assert_int_equal(ne_snappy_decompress(reference, clen, output, n, &out_len), NE_OK);
            assert_int_equal(out_len, n);
            assert_memory_equal(output, input, n);
            /* Nothing written past the announced length. */
            for (size_t j = 0; j < 64; j++) {
                assert_int_equal(output[n + j], 0xa5);
            }
        }
    }
}

static void test_our_blocks_round_trip_through_both_our_decoders(void **state)
{
    (void)state;
    for (int kind = 0; kind < CORPUS_KIND_COUNT; kind++) {
        for (size_t i = 0; i < NE_ARRAY_LEN(corpus_sizes); i++) {
            size_t n = corpus_sizes[i];
            corpus_fill((corpus_kind)kind, input, n, 3000 + i);
            size_t clen = our_compress(input, n, compressed, sizeof compressed);
            size_t announced = 0;
            assert_int_equal(ne_snappy_uncompressed_length(compressed, clen, &announced), NE_OK);
            assert_int_equal(announced, n);
            size_t out_len = 0;
            assert_int_equal(ne_snappy_decompress(compressed, clen, output, n, &out_len), NE_OK);
            assert_int_equal(out_len, n);
            assert_memory_equal(output, input, n);
            /* Every snappy block is an S2 block. */
            memset(output, 0, n);
            assert_int_equal(ne_s2_decompress(compressed, clen, output, n, &out_len), NE_OK);
            assert_int_equal(out_len, n);
            assert_memory_equal(output, input, n);
        }
    }
}

static void test_compression_ratio_matches_libsnappy(void **state)
{
    (void)state;
    /* Same algorithm family, same fragmenting: within half a percent. */
    for (int kind = 0; kind < CORPUS_KIND_COUNT; kind++) {
        size_t n = 1 * MIB;
        corpus_fill((corpus_kind)kind, input, n, 77);
        size_t ours = our_compress(input, n, compressed, sizeof compressed);
        size_t lib = lib_compress(input, n, reference, sizeof reference);
        assert_true(ours * 1000 <= lib * 1005);
    }
}

static void test_compression_ignores_stale_table_contents(void **state)
{
    (void)state;
    size_t n = 70000;
    corpus_fill(CORPUS_TEXT, input, n, 5);
    memset(&table, 0xff, sizeof table);
    size_t first = our_compress(input, n, compressed, sizeof compressed);
    memset(&table, 0x5a, sizeof table);
    size_t second = our_compress(input, n, reference, sizeof reference);
    assert_int_equal(first, second);
    assert_memory_equal(compressed, reference, first);
}

static void test_compress_refuses_destination_below_worst_case(void **state)
{
    (void)state;
    size_t n = 1000;
    corpus_fill(CORPUS_ZEROS, input, n, 1);
    size_t len = 12345;
    size_t need = ne_snappy_max_compressed_length(n);
    assert_int_equal(ne_snappy_compress(input, n, compressed, need - 1, &len, &table),
                     NE_ERR_TOO_BIG);
    assert_int_equal(len, 12345);
    assert_int_equal(ne_snappy_compress(input, n, compressed, need, &len, &table), NE_OK);
}

static void test_incompressible_input_grows_by_a_few_bytes_only(void **state)
{
    (void)state;
    size_t n = 200000;
    corpus_fill(CORPUS_RANDOM, input, n, 9);
    size_t clen = our_compress(input, n, compressed, sizeof compressed);
    /* Preamble, literal headers per 64 KiB fragment, and the odd chance
     * match in random data: a few dozen bytes at most. */
    assert_true(clen <= n + 32);
}

/* ---- Block format: decoding details ---------------------------------------- */

static void test_overlapping_copies_repeat_the_last_bytes(void **state)
{
    (void)state;
    uint64_t rng = 42;
    /* Every offset 1..70 and length 1..64, both near the start of a block
     * (exact path) and in the middle of a long one (fast path). */
    for (size_t offset = 1; offset <= 70; offset++) {
        b_reset(&builder);
        b_random_literal(&builder, &rng, 80);
        for (size_t len = 1; len <= 64; len++) {
            b_copy2(&builder, offset, len);
            b_random_literal(&builder, &rng, 1 + len % 7);
        }
        b_random_literal(&builder, &rng, 100);
        size_t n = b_finish(&builder);
        size_t out_len = 0;
        assert_int_equal(decode_everywhere(built, n, sizeof output, &out_len), NE_OK);
        assert_int_equal(out_len, builder.expect_len);
        assert_memory_equal(output, builder.expect, out_len);
    }
    for (size_t offset = 1; offset <= 20; offset++) {
        for (size_t len = 1; len <= 64; len++) {
            b_reset(&builder);
            b_random_literal(&builder, &rng, offset);
            b_copy2(&builder, offset, len);
            size_t n = b_finish(&builder);
            size_t out_len = 0;
            assert_int_equal(decode_everywhere(built, n, sizeof output, &out_len), NE_OK);
            assert_memory_equal(output, builder.expect, builder.expect_len);
        }
    }
}

static void test_every_element_encoding_decodes(void **state)
{
    (void)state;
    uint64_t rng = 7;
    b_reset(&builder);
    /* Literals with 0..4 extra length bytes (length 70000 needs 3). */
    b_random_literal(&builder, &rng, 60);
    b_random_literal(&builder, &rng, 61);
    b_random_literal(&builder, &rng, 300);
    static uint8_t long_literal[70000];
    corpus_fill(CORPUS_TEXT, long_literal, sizeof long_literal, 3);
    b_literal(&builder, long_literal, sizeof long_literal);
    /* Copies of every form, short and long offsets. */
    b_copy1(&builder, 1, 4);
    b_copy1(&builder, 2047, 11);
    b_copy2(&builder, 65535, 64);
    b_copy2(&builder, 300, 1);
    b_copy4(&builder, 70000, 64);
    b_copy4(&builder, 5, 33);
    b_random_literal(&builder, &rng, 100);
    size_t n = b_finish(&builder);
    size_t out_len = 0;
    assert_int_equal(decode_everywhere(built, n, sizeof output, &out_len), NE_OK);
    assert_int_equal(out_len, builder.expect_len);
    assert_memory_equal(output, builder.expect, out_len);
    /* A literal length in four bytes, as an encoder may always write it. */
    const uint8_t four_byte_length[] = {3, 63 << 2, 2, 0, 0, 0, 'a', 'b', 'c'};
    assert_int_equal(decode_everywhere(four_byte_length, sizeof four_byte_length, 16, &out_len),
                     NE_OK);
    assert_int_equal(out_len, 3);
    assert_memory_equal(output, "abc", 3);
}

static void test_random_element_streams_agree_with_libsnappy(void **state)
{
    (void)state;
    uint64_t rng = 99;
    for (int round = 0; round < 400; round++) {
        b_reset(&builder);
        b_random_literal(&builder, &rng, 1 + corpus_below(&rng, 40));
        int elements = (int)corpus_below(&rng, 200);
        for (int e = 0; e < elements; e++) {
            size_t have = builder.expect_len;
            uint32_t pick = corpus_below(&rng, 5);
            size_t offset = 1 + corpus_below(&rng, (uint32_t)(have < 3000 ? have : 3000));
            if (pick == 0) {
                b_random_literal(&builder, &rng, 1 + corpus_below(&rng, 100));
            } else if (pick == 1 && offset < 2048) {
                b_copy1(&builder, offset, 4 + corpus_below(&rng, 8));
            } else if (pick == 4) {
                b_copy4(&builder, offset, 1 + corpus_below(&rng, 64));
            } else {
                b_copy2(&builder, offset, 1 + corpus_below(&rng, 64));
            }
        }
        size_t n = b_finish(&builder);
        size_t out_len = 0;
        assert_int_equal(decode_everywhere(built, n, sizeof output, &out_len), NE_OK);
        assert_int_equal(out_len, builder.expect_len);
        assert_memory_equal(output, builder.expect, out_len);
    }
}

static void test_uncompressed_length_reads_the_preamble(void **state)
{
    (void)state;
    size_t len = 0;
    const uint8_t one[] = {0x01};
    const uint8_t max[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    const uint8_t padded_zero[] = {0x80, 0x80, 0x00};
    assert_int_equal(ne_snappy_uncompressed_length(one, sizeof one, &len), NE_OK);
    assert_int_equal(len, 1);
    assert_int_equal(ne_snappy_uncompressed_length(max, sizeof max, &len), NE_OK);
    assert_int_equal(len, 0xffffffffu);
    assert_int_equal(ne_snappy_uncompressed_length(padded_zero, sizeof padded_zero, &len), NE_OK);
    assert_int_equal(len, 0);
}

/* ---- Block format: hostile input ------------------------------------------- */

static void test_malformed_preamble_is_corrupt(void **state)
{
    (void)state;
    static const struct {
        uint8_t bytes[6];
        size_t len;
    } cases[] = {
        {{0}, 0},                                  /* empty */
        {{0x80}, 1},                               /* continuation, then nothing */
        {{0xff, 0xff, 0xff, 0xff}, 4},             /* cut short */
        {{0xff, 0xff, 0xff, 0xff, 0x10}, 5},       /* more than 32 bits */
        {{0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 6}, /* more than five bytes */
        {{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 6}, /* six bytes of zero */
    };
    for (size_t i = 0; i < NE_ARRAY_LEN(cases); i++) {
        size_t len = 0;
        assert_int_equal(ne_snappy_uncompressed_length(cases[i].bytes, cases[i].len, &len),
                         NE_ERR_CORRUPT);
        assert_int_equal(ne_snappy_decompress(cases[i].bytes, cases[i].len, output, 64, &len),
                         NE_ERR_CORRUPT);
        assert_int_equal(ne_s2_decompress(cases[i].bytes, cases[i].len, output, 64, &len),
                         NE_ERR_CORRUPT);
    }
}

static void test_truncated_blocks_are_corrupt(void **state)
{
    (void)state;
    for (int kind = 0; kind < CORPUS_KIND_COUNT; kind++) {
        size_t n = 3000;
        corpus_fill((corpus_kind)kind, input, n, 11);
        size_t clen = our_compress(input, n, compressed, sizeof compressed);
        for (size_t cut = 0; cut < clen; cut++) {
            size_t out_len = 0;
            assert_int_equal(ne_snappy_decompress(compressed, cut, output, n, &out_len),
                             NE_ERR_CORRUPT);
            assert_int_equal(ne_s2_decompress(compressed, cut, output, n, &out_len),
                             NE_ERR_CORRUPT);
        }
    }
}

static void test_zero_offset_copies_are_corrupt_in_snappy(void **state)
{
    (void)state;
    uint64_t rng = 1;
    for (int form = 1; form <= 3; form++) {
        b_reset(&builder);
        b_random_literal(&builder, &rng, 100);
        if (form == 1) {
            b_copy1(&builder, 0, 4);
        } else if (form == 2) {
            b_copy2(&builder, 0, 4);
        } else {
            b_copy4(&builder, 0, 4);
        }
        b_random_literal(&builder, &rng, 100);
        size_t n = b_finish_announcing(&builder, 204);
        size_t out_len = 0;
        assert_int_equal(ne_snappy_decompress(built, n, output, 204, &out_len), NE_ERR_CORRUPT);
        assert_int_equal(lib_decompress(built, n, output, 204, &out_len), NE_ERR_CORRUPT);
        if (form != 1) {
            /* Only the 1-byte-offset form is an S2 repeat. */
            assert_int_equal(ne_s2_decompress(built, n, output, 204, &out_len), NE_ERR_CORRUPT);
        }
    }
}

static void test_offsets_before_the_output_start_are_corrupt(void **state)
{
    (void)state;
    uint64_t rng = 2;
    /* With `have` bytes out, offset have is the first byte; have + 1 is one
     * byte before the output. Both near the start and deep in a block. */
    const size_t haves[] = {4, 15, 16, 17, 200, 5000};
    for (size_t i = 0; i < NE_ARRAY_LEN(haves); i++) {
        for (int past = 0; past <= 1; past++) {
            b_reset(&builder);
            size_t have = haves[i];
            for (size_t left = have; left > 0;) {
                size_t take = left < 500 ? left : 500;
                b_random_literal(&builder, &rng, take);
                left -= take;
            }
            b_copy4(&builder, have + (size_t)past, 10);
            b_random_literal(&builder, &rng, 90);
            size_t announced = have + 10 + 90;
            size_t n = b_finish_announcing(&builder, announced);
            size_t out_len = 0;
            int expect = past ? NE_ERR_CORRUPT : NE_OK;
            assert_int_equal(ne_snappy_decompress(built, n, output, announced, &out_len), expect);
            assert_int_equal(ne_s2_decompress(built, n, output, announced, &out_len), expect);
            assert_int_equal(lib_decompress(built, n, reference, announced, &out_len), expect);
        }
    }
}

static void test_lengths_beyond_input_or_output_are_corrupt(void **state)
{
    (void)state;
    size_t out_len = 0;
    /* Literal of 100 bytes with 10 present. */
    uint8_t short_literal[13] = {100, 60 << 2, 99};
    assert_int_equal(
        ne_snappy_decompress(short_literal, sizeof short_literal, output, 100, &out_len),
        NE_ERR_CORRUPT);
    /* Literal lengths near 2^32 must not wrap any pointer arithmetic. */
    const uint8_t huge_literal[] = {10, 63 << 2, 0xff, 0xff, 0xff, 0xff, 'x'};
    assert_int_equal(ne_snappy_decompress(huge_literal, sizeof huge_literal, output, 10, &out_len),
                     NE_ERR_CORRUPT);
    const uint8_t huge_literal2[] = {10, 63 << 2, 0xfe, 0xff, 0xff, 0xff, 'x'};
    assert_int_equal(
        ne_snappy_decompress(huge_literal2, sizeof huge_literal2, output, 10, &out_len),
        NE_ERR_CORRUPT);
    /* Literal longer than the announced output. */
    const uint8_t long_literal[] = {2, 2 << 2, 'a', 'b', 'c'};
    assert_int_equal(ne_snappy_decompress(long_literal, sizeof long_literal, output, 64, &out_len),
                     NE_ERR_CORRUPT);
    /* Copy running past the announced output, near the start and deep in. */
    uint64_t rng = 3;
    const size_t prefixes[] = {8, 4000};
    for (size_t i = 0; i < NE_ARRAY_LEN(prefixes); i++) {
        b_reset(&builder);
        for (size_t left = prefixes[i]; left > 0;) {
            size_t take = left < 500 ? left : 500;
            b_random_literal(&builder, &rng, take);
            left -= take;
        }
        b_copy2(&builder, 4, 64);
        size_t n = b_finish_announcing(&builder, prefixes[i] + 63);
        assert_int_equal(ne_snappy_decompress(built, n, output, sizeof output, &out_len),
                         NE_ERR_CORRUPT);
        assert_int_equal(ne_s2_decompress(built, n, output, sizeof output, &out_len),
                         NE_ERR_CORRUPT);
    }
}

static void test_output_shorter_or_longer_than_announced_is_corrupt(void **state)
{
    (void)state;
    size_t n = 5000;
    corpus_fill(CORPUS_JSON, input, n, 4);
    size_t clen = our_compress(input, n, compressed, sizeof compressed);
    /* Rewrite the preamble (two bytes for 5000) to announce one more byte,
     * then one fewer. */
    uint8_t saved[2] = {compressed[0], compressed[1]};
    size_t out_len = 0;
    for (int delta = -1; delta <= 1; delta += 2) {
        size_t announced = n + (size_t)(ptrdiff_t)delta;
        compressed[0] = (uint8_t)(announced | 0x80);
        compressed[1] = (uint8_t)(announced >> 7);
        assert_int_equal(ne_snappy_decompress(compressed, clen, output, sizeof output, &out_len),
                         NE_ERR_CORRUPT);
        assert_int_equal(ne_s2_decompress(compressed, clen, output, sizeof output, &out_len),
                         NE_ERR_CORRUPT);
    }
    compressed[0] = saved[0];
    compressed[1] = saved[1];
    /* Trailing bytes after a complete block. */
    compressed[clen] = 0;
    assert_int_equal(ne_snappy_decompress(compressed, clen + 1, output, n, &out_len),
                     NE_ERR_CORRUPT);
    /* An empty block followed by anything. */
    const uint8_t empty_then_literal[] = {0, 0, 'a'};
    assert_int_equal(ne_snappy_decompress(empty_then_literal, 3, output, 8, &out_len),
                     NE_ERR_CORRUPT);
    const uint8_t empty[] = {0};
    assert_int_equal(ne_snappy_decompress(empty, 1, output, 0, &out_len), NE_OK);
    assert_int_equal(out_len, 0);
}

static void test_destination_smaller_than_announced_is_too_big(void **state)
{
    (void)state;
    size_t n = 1000;
    corpus_fill(CORPUS_TEXT, input, n, 6);
    size_t clen = our_compress(input, n, compressed, sizeof compressed);
    memset(output, 0xa5, n);
    size_t out_len = 777;
    assert_int_equal(ne_snappy_decompress(compressed, clen, output, n - 1, &out_len),
                     NE_ERR_TOO_BIG);
    assert_int_equal(ne_s2_decompress(compressed, clen, output, n - 1, &out_len), NE_ERR_TOO_BIG);
    assert_int_equal(out_len, 777);
    assert_int_equal(output[0], 0xa5);
    const uint8_t max[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    assert_int_equal(ne_snappy_decompress(max, sizeof max, output, 1u << 20, &out_len),
                     NE_ERR_TOO_BIG);
}

static void test_mutated_blocks_never_crash_and_agree_with_libsnappy(void **state)
{
    (void)state;
    uint64_t rng = 2024;
    static uint8_t mutated[8192];
    for (int round = 0; round < 3000; round++) {
        corpus_kind kind = (corpus_kind)corpus_below(&rng, CORPUS_KIND_COUNT);
        size_t n = 1 + corpus_below(&rng, 5000);
        corpus_fill(kind, input, n, (uint64_t)round);
        size_t clen = our_compress(input, n, compressed, sizeof compressed);
        if (clen > sizeof mutated) {
            continue;
        }
        memcpy(mutated, compressed, clen);
        uint32_t flips = 1 + corpus_below(&rng, 4);
        for (uint32_t f = 0; f < flips; f++) {
            mutated[corpus_below(&rng, (uint32_t)clen)] ^= (uint8_t)(1u << corpus_below(&rng, 8));
        }
        size_t cut = corpus_below(&rng, 4) == 0 ? corpus_below(&rng, (uint32_t)clen + 1) : clen;
        size_t out_len = 0;
        (void)decode_everywhere(mutated, cut, n + corpus_below(&rng, 100), &out_len);
    }
    /* Pure noise, too. */
    for (int round = 0; round < 2000; round++) {
        size_t len = corpus_below(&rng, 300);
        corpus_random(mutated, len, &rng);
        if (len > 0 && corpus_below(&rng, 2) == 0) {
            mutated[0] = (uint8_t)corpus_below(&rng, 128); /* a plausible preamble */
        }
        size_t out_len = 0;
        (void)decode_everywhere(mutated, len, 200, &out_len);
    }
}

/* ---- S2 blocks --------------------------------------------------------------- */

static void test_s2_repeat_codes_decode_by_the_s2_rules(void **state)
{
    (void)state;
    uint64_t rng = 5;
    b_reset(&builder);
    b_random_literal(&builder, &rng, 40);
    b_copy2(&builder, 40, 10); /* establishes offset 40 */
    /* Field 0..4: lengths 4..8. */
    for (size_t len = 4; len <= 8; len++) {
        b_repeat(&builder, len);
    }
    /* Field 5: 8 + one byte, at both ends of its range. */
    b_repeat_with_field(&builder, 8, 5);
    b_repeat_with_field(&builder, 263, 5);
    /* Field 6: 260 + two bytes; field 7: 65540 + three bytes. */
    b_repeat_with_field(&builder, 260, 6);
    b_repeat_with_field(&builder, 65795, 6);
    b_repeat_with_field(&builder, 65540, 7);
    b_repeat_with_field(&builder, 100000, 7);
    /* A new offset (near: a pattern of period 3), then repeats of it. */
    b_copy1(&builder, 3, 5);
    b_repeat(&builder, 4);
    b_repeat(&builder, 200);
    b_random_literal(&builder, &rng, 30);
    b_repeat(&builder, 70);
    b_copy4(&builder, 1000, 20);
    b_repeat(&builder, 5);
    b_random_literal(&builder, &rng, 100);
    size_t n = b_finish(&builder);
    size_t out_len = 0;
    assert_int_equal(ne_s2_decompress(built, n, output, sizeof output, &out_len), NE_OK);
    assert_int_equal(out_len, builder.expect_len);
    assert_memory_equal(output, builder.expect, out_len);
    /* A repeat is not snappy. */
    assert_int_equal(ne_snappy_decompress(built, n, output, sizeof output, &out_len),
                     NE_ERR_CORRUPT);
}

static void test_s2_random_blocks_with_repeats_decode(void **state)
{
    (void)state;
    uint64_t rng = 77;
    for (int round = 0; round < 500; round++) {
        b_reset(&builder);
        b_random_literal(&builder, &rng, 1 + corpus_below(&rng, 30));
        int elements = 1 + (int)corpus_below(&rng, 120);
        for (int e = 0; e < elements; e++) {
            size_t have = builder.expect_len;
            size_t offset = 1 + corpus_below(&rng, (uint32_t)(have < 2047 ? have : 2047));
            switch (corpus_below(&rng, 6)) {
            case 0:
                b_random_literal(&builder, &rng, 1 + corpus_below(&rng, 80));
                break;
            case 1:
                b_copy1(&builder, offset, 4 + corpus_below(&rng, 8));
                break;
            case 2:
                b_copy2(&builder, offset, 1 + corpus_below(&rng, 64));
                break;
            default:
                if (builder.last_offset == 0) {
                    b_copy2(&builder, offset, 4);
                }
                /* Mostly short repeats, some long enough for fields 5..7. */
                b_repeat(&builder, corpus_below(&rng, 8) == 0 ? 4 + corpus_below(&rng, 1000)
                                                              : 4 + corpus_below(&rng, 60));
                break;
            }
            if (builder.expect_len > sizeof builder.expect - 70000) {
                break;
            }
        }
        size_t n = b_finish(&builder);
        size_t out_len = 0;
        assert_int_equal(ne_s2_decompress(built, n, output, sizeof output, &out_len), NE_OK);
        assert_int_equal(out_len, builder.expect_len);
        assert_memory_equal(output, builder.expect, out_len);
        int snappy_rc = ne_snappy_decompress(built, n, output, sizeof output, &out_len);
        assert_int_equal(snappy_rc, builder.has_repeat ? NE_ERR_CORRUPT : NE_OK);
        /* Every cut of an S2 block is corrupt, never a crash. */
        for (size_t cut = n > 64 ? n - 64 : 0; cut < n; cut++) {
            assert_int_equal(ne_s2_decompress(built, cut, output, sizeof output, &out_len),
                             NE_ERR_CORRUPT);
        }
    }
}

static void test_s2_repeat_before_any_copy_is_corrupt(void **state)
{
    (void)state;
    uint64_t rng = 8;
    b_reset(&builder);
    b_random_literal(&builder, &rng, 50);
    b_repeat(&builder, 6);
    size_t n = b_finish_announcing(&builder, 56);
    size_t out_len = 0;
    assert_int_equal(ne_s2_decompress(built, n, output, 56, &out_len), NE_ERR_CORRUPT);
    /* Deep in a block, past the fast loop's margins, too. */
    b_reset(&builder);
    for (int i = 0; i < 10; i++) {
        b_random_literal(&builder, &rng, 300);
    }
    b_repeat(&builder, 6);
    b_random_literal(&builder, &rng, 300);
    n = b_finish_announcing(&builder, 3306);
    assert_int_equal(ne_s2_decompress(built, n, output, 3306, &out_len), NE_ERR_CORRUPT);
}

static void test_s2_truncated_or_overlong_repeats_are_corrupt(void **state)
{
    (void)state;
    uint64_t rng = 9;
    size_t out_len = 0;
    for (uint32_t field = 5; field <= 7; field++) {
        b_reset(&builder);
        b_random_literal(&builder, &rng, 20);
        b_copy2(&builder, 20, 8);
        size_t len = field == 5 ? 100 : field == 6 ? 1000 : 70000;
        b_repeat_with_field(&builder, len, field);
        size_t n = b_finish(&builder);
        assert_int_equal(ne_s2_decompress(built, n, output, sizeof output, &out_len), NE_OK);
        /* Cut inside the length bytes. */
        for (size_t cut = n - (field - 4); cut < n; cut++) {
            assert_int_equal(ne_s2_decompress(built, cut, output, sizeof output, &out_len),
                             NE_ERR_CORRUPT);
        }
        /* Announce less than the repeat writes. */
        size_t m = b_finish_announcing(&builder, builder.expect_len - 1);
        assert_int_equal(ne_s2_decompress(built, m, output, sizeof output, &out_len),
                         NE_ERR_CORRUPT);
    }
}

/* ---- Framing format ---------------------------------------------------------- */

static uint8_t frame_stream[BIG_COMPRESSED + 4096];

static size_t frame_encode(const uint8_t *src, size_t n, uint8_t *dst, size_t cap)
{
    ne_snappy_frame_encoder enc;
    ne_snappy_frame_encoder_init(&enc, &table);
    size_t len = 0;
    assert_int_equal(ne_snappy_frame_encode(&enc, src, n, dst, cap, &len), NE_OK);
    assert_true(len <= ne_snappy_frame_max_encoded_length(n));
    return len;
}

/* Feeds a stream to a fresh decoder in pieces (piece == 0: random sizes)
 * with an output window of at most out_step bytes; collects the output.
 * Returns the first error, or what finish says at the end. */
static int frame_decode_pieces(const uint8_t *stream, size_t len, size_t piece, size_t out_step,
                               uint8_t *out, size_t out_cap, size_t *out_len, uint64_t seed)
{
    uint64_t rng = seed | 1;
    ne_snappy_frame_decoder_init(&frame_decoder);
    size_t pos = 0;
    size_t total = 0;
    for (size_t guard = 0; guard < 4 * (len + out_cap) + 16; guard++) {
        size_t n = piece ? piece : 1 + corpus_below(&rng, 3000);
        if (n > len - pos) {
            n = len - pos;
        }
        size_t room = out_step ? out_step : 1 + corpus_below(&rng, 70000);
        if (room > out_cap - total) {
            room = out_cap - total;
        }
        size_t used = 0;
        size_t got = 0;
        int rc =
            ne_snappy_frame_decode(&frame_decoder, stream + pos, n, &used, out + total, room, &got);
        assert_true(used <= n && got <= room);
        pos += used;
        total += got;
        *out_len = total;
        if (rc != NE_OK) {
            return rc;
        }
        if (pos == len && got < room) {
            return ne_snappy_frame_decoder_finish(&frame_decoder);
        }
        if (total == out_cap) {
            return NE_ERR_FULL;
        }
    }
    fail_msg("frame decoder made no progress");
    return NE_ERR_INVALID;
}

static void test_frame_round_trips_over_the_corpus(void **state)
{
    (void)state;
    for (int kind = 0; kind < CORPUS_KIND_COUNT; kind++) {
        for (size_t i = 0; i < NE_ARRAY_LEN(corpus_sizes); i++) {
            size_t n = corpus_sizes[i];
            if (n > 1 * MIB) {
                continue;
            }
            corpus_fill((corpus_kind)kind, input, n, 4000 + i);
            size_t len = frame_encode(input, n, frame_stream, sizeof frame_stream);
            size_t out_len = 0;
            assert_int_equal(frame_decode_pieces(frame_stream, len, len, sizeof output, output,
                                                 sizeof output, &out_len, 1),
                             NE_OK);
            assert_int_equal(out_len, n);
            assert_memory_equal(output, input, n);
            /* Random input pieces and output windows. */
            assert_int_equal(frame_decode_pieces(frame_stream, len, 0, 0, output, sizeof output,
                                                 &out_len, 1 + i),
                             NE_OK);
            assert_int_equal(out_len, n);
            assert_memory_equal(output, input, n);
        }
    }
}

/* A small stream with every chunk kind the decoder must accept: identifier,
 * compressed, uncompressed, padding, reserved skippable (and empty ones),
 * a second identifier as concatenated streams have. */
static size_t build_mixed_stream(uint8_t *dst, uint8_t *expect, size_t *expect_len)
{
    size_t n = 0;
    size_t e = 0;
    corpus_fill(CORPUS_TEXT, input, 150, 12);
    n += frame_encode(input, 150, dst + n, 4096);
    memcpy(expect + e, input, 150);
    e += 150;
    const uint8_t padding[] = {0xfe, 3, 0, 0, 0, 0, 0};
    memcpy(dst + n, padding, sizeof padding);
    n += sizeof padding;
    const uint8_t skippable[] = {0x80, 2, 0, 0, 'x', 'y', 0xfd, 0, 0, 0};
    memcpy(dst + n, skippable, sizeof skippable);
    n += sizeof skippable;
    corpus_fill(CORPUS_RANDOM, input, 40, 13);
    n += frame_encode(input, 40, dst + n, 4096); /* stored uncompressed, own identifier */
    memcpy(expect + e, input, 40);
    e += 40;
    corpus_fill(CORPUS_ZEROS, input, 30, 14);
    n += frame_encode(input, 30, dst + n, 4096);
    memcpy(expect + e, input, 30);
    e += 30;
    *expect_len = e;
    return n;
}

static void test_frame_decoder_accepts_input_split_at_every_byte(void **state)
{
    (void)state;
    static uint8_t stream[8192];
    static uint8_t expect[1024];
    size_t expect_len = 0;
    size_t len = build_mixed_stream(stream, expect, &expect_len);
    for (size_t split = 0; split <= len; split++) {
        ne_snappy_frame_decoder_init(&frame_decoder);
        size_t used = 0;
        size_t got1 = 0;
        size_t got2 = 0;
        assert_int_equal(
            ne_snappy_frame_decode(&frame_decoder, stream, split, &used, output, 4096, &got1),
            NE_OK);
        assert_int_equal(used, split);
        assert_int_equal(ne_snappy_frame_decode(&frame_decoder, stream + split, len - split, &used,
                                                output + got1, 4096, &got2),
                         NE_OK);
        assert_int_equal(used, len - split);
        assert_int_equal(ne_snappy_frame_decoder_finish(&frame_decoder), NE_OK);
        assert_int_equal(got1 + got2, expect_len);
        assert_memory_equal(output, expect, expect_len);
    }
    /* One byte in and one byte out at a time. */
    size_t out_len = 0;
    assert_int_equal(frame_decode_pieces(stream, len, 1, 1, output, sizeof output, &out_len, 3),
                     NE_OK);
    assert_int_equal(out_len, expect_len);
    assert_memory_equal(output, expect, expect_len);
}

static void test_frame_encoder_stores_incompressible_chunks(void **state)
{
    (void)state;
    corpus_fill(CORPUS_RANDOM, input, 1000, 15);
    size_t len = frame_encode(input, 1000, frame_stream, sizeof frame_stream);
    assert_int_equal(len, NE_SNAPPY_FRAME_STREAM_ID_LEN + 4 + 4 + 1000);
    assert_int_equal(frame_stream[10], 0x01);
    uint32_t crc = ne_crc32c_mask(ne_crc32c(0, input, 1000));
    uint8_t crc_bytes[4] = {(uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16),
                            (uint8_t)(crc >> 24)};
    assert_memory_equal(frame_stream + 14, crc_bytes, 4);
    memset(input, 'a', 1000);
    len = frame_encode(input, 1000, frame_stream, sizeof frame_stream);
    assert_int_equal(frame_stream[10], 0x00);
    assert_true(len < 100);
    /* Chunks carry at most 64 KiB: 65537 bytes make two chunks. */
    memset(input, 'b', 65537);
    len = frame_encode(input, 65537, frame_stream, sizeof frame_stream);
    size_t second =
        10 + 4 +
        ((size_t)frame_stream[11] | (size_t)frame_stream[12] << 8 | (size_t)frame_stream[13] << 16);
    assert_true(second < len);
    assert_int_equal(frame_stream[10], 0x00);
    /* The second holds one byte, which no block can make smaller. */
    assert_int_equal(frame_stream[second], 0x01);
    assert_int_equal(len, second + 4 + 4 + 1);
}

static void test_frame_encoder_writes_identifier_once_per_stream(void **state)
{
    (void)state;
    ne_snappy_frame_encoder enc;
    ne_snappy_frame_encoder_init(&enc, &table);
    size_t a = 0;
    size_t b = 0;
    corpus_fill(CORPUS_JSON, input, 3000, 16);
    assert_int_equal(ne_snappy_frame_encode(&enc, input, 1000, frame_stream, 4096, &a), NE_OK);
    assert_int_equal(ne_snappy_frame_encode(&enc, input + 1000, 2000, frame_stream + a, 8192, &b),
                     NE_OK);
    assert_memory_equal(frame_stream, "\xff\x06\x00\x00sNaPpY", 10);
    assert_int_not_equal(frame_stream[a], 0xff);
    size_t out_len = 0;
    assert_int_equal(
        frame_decode_pieces(frame_stream, a + b, 7, 100, output, sizeof output, &out_len, 4),
        NE_OK);
    assert_int_equal(out_len, 3000);
    assert_memory_equal(output, input, 3000);
    /* Empty input: only the identifier, once. */
    ne_snappy_frame_encoder_init(&enc, &table);
    assert_int_equal(ne_snappy_frame_encode(&enc, input, 0, frame_stream, 64, &a), NE_OK);
    assert_int_equal(a, 10);
    assert_int_equal(ne_snappy_frame_encode(&enc, input, 0, frame_stream, 64, &a), NE_OK);
    assert_int_equal(a, 0);
}

static void test_frame_encoder_refuses_destination_below_worst_case(void **state)
{
    (void)state;
    ne_snappy_frame_encoder enc;
    ne_snappy_frame_encoder_init(&enc, &table);
    size_t len = 0;
    size_t need = ne_snappy_frame_max_encoded_length(70000);
    assert_int_equal(ne_snappy_frame_encode(&enc, input, 70000, frame_stream, need - 1, &len),
                     NE_ERR_TOO_BIG);
    assert_false(enc.stream_id_written);
    assert_int_equal(ne_snappy_frame_max_encoded_length(SIZE_MAX), SIZE_MAX);
}

/* Runs a hand-made stream through the decoder whole and byte by byte. */
static int frame_verdict(const uint8_t *stream, size_t len)
{
    size_t out_len = 0;
    int whole = frame_decode_pieces(stream, len, len ? len : 1, 1u << 17, output, sizeof output,
                                    &out_len, 5);
    int split = frame_decode_pieces(stream, len, 1, 1u << 17, output, sizeof output, &out_len, 6);
    assert_int_equal(whole, split);
    return whole;
}

static void test_frame_crc_mismatch_is_corrupt(void **state)
{
    (void)state;
    static uint8_t stream[8192];
    corpus_fill(CORPUS_TEXT, input, 2000, 17);
    size_t len = frame_encode(input, 2000, stream, sizeof stream);
    assert_int_equal(stream[10], 0x00);
    assert_int_equal(frame_verdict(stream, len), NE_OK);
    stream[14] ^= 1; /* the CRC itself */
    assert_int_equal(frame_verdict(stream, len), NE_ERR_CORRUPT);
    stream[14] ^= 1;
    /* Uncompressed chunk with a flipped data byte. */
    corpus_fill(CORPUS_RANDOM, input, 500, 18);
    len = frame_encode(input, 500, stream, sizeof stream);
    assert_int_equal(stream[10], 0x01);
    stream[100] ^= 0x40;
    assert_int_equal(frame_verdict(stream, len), NE_ERR_CORRUPT);
    /* Every single-bit flip in a compressed chunk's body is caught. */
    corpus_fill(CORPUS_JSON, input, 300, 19);
    len = frame_encode(input, 300, stream, sizeof stream);
    for (size_t pos = 14; pos < len; pos++) {
        for (int bit = 0; bit < 8; bit++) {
            stream[pos] ^= (uint8_t)(1u << bit);
            size_t out_len = 0;
            assert_int_equal(
                frame_decode_pieces(stream, len, len, 1u << 17, output, sizeof output, &out_len, 7),
                NE_ERR_CORRUPT);
            stream[pos] ^= (uint8_t)(1u << bit);
        }
    }
}

static void test_frame_requires_the_stream_identifier_first(void **state)
{
    (void)state;
    static uint8_t stream[256];
    corpus_fill(CORPUS_TEXT, input, 100, 20);
    size_t len = frame_encode(input, 100, stream, sizeof stream);
    /* Without the identifier. */
    assert_int_equal(frame_verdict(stream + 10, len - 10), NE_ERR_CORRUPT);
    /* With a wrong identifier. */
    stream[9] = 'y';
    assert_int_equal(frame_verdict(stream, len), NE_ERR_CORRUPT);
    stream[9] = 'Y';
    /* Identifier of the wrong length. */
    const uint8_t long_id[] = {0xff, 7, 0, 0, 's', 'N', 'a', 'P', 'p', 'Y', 'Y'};
    assert_int_equal(frame_verdict(long_id, sizeof long_id), NE_ERR_CORRUPT);
    /* Padding before the identifier. */
    const uint8_t padding_first[] = {0xfe, 0, 0, 0, 0xff, 6, 0, 0, 's', 'N', 'a', 'P', 'p', 'Y'};
    assert_int_equal(frame_verdict(padding_first, sizeof padding_first), NE_ERR_CORRUPT);
    /* The identifier alone is a valid empty stream; so is nothing at all. */
    assert_int_equal(frame_verdict(stream, 10), NE_OK);
    assert_int_equal(frame_verdict(stream, 0), NE_OK);
}

static void test_frame_reserved_unskippable_chunks_are_corrupt(void **state)
{
    (void)state;
    uint8_t stream[20] = {0xff, 6, 0, 0, 's', 'N', 'a', 'P', 'p', 'Y', 0, 2, 0, 0, 'a', 'b'};
    for (uint32_t type = 0x02; type <= 0x7f; type++) {
        stream[10] = (uint8_t)type;
        assert_int_equal(frame_verdict(stream, 16), NE_ERR_CORRUPT);
    }
    for (uint32_t type = 0x80; type <= 0xfe; type++) {
        stream[10] = (uint8_t)type;
        assert_int_equal(frame_verdict(stream, 16), NE_OK);
    }
}

static void test_frame_oversized_or_malformed_chunks_are_corrupt(void **state)
{
    (void)state;
    static uint8_t stream[NE_SNAPPY_FRAME_MAX_CHUNK_BODY + 64];
    memcpy(stream, "\xff\x06\x00\x00sNaPpY", 10);
    /* Uncompressed chunk of 65537 bytes. */
    size_t body = 4 + 65537;
    stream[10] = 0x01;
    stream[11] = (uint8_t)body;
    stream[12] = (uint8_t)(body >> 8);
    stream[13] = (uint8_t)(body >> 16);
    memset(stream + 14, 'a', 65537);
    assert_int_equal(frame_verdict(stream, 10 + 4 + body), NE_ERR_CORRUPT);
    /* Compressed chunk body above the limit. */
    body = NE_SNAPPY_FRAME_MAX_CHUNK_BODY + 1;
    stream[10] = 0x00;
    stream[11] = (uint8_t)body;
    stream[12] = (uint8_t)(body >> 8);
    stream[13] = (uint8_t)(body >> 16);
    assert_int_equal(frame_verdict(stream, 10 + 4), NE_ERR_CORRUPT);
    /* Compressed chunk announcing more than 64 KiB of data (a valid block). */
    memset(input, 0, 65537);
    size_t clen = our_compress(input, 65537, stream + 18, sizeof stream - 18);
    uint32_t crc = ne_crc32c_mask(ne_crc32c(0, input, 65537));
    body = 4 + clen;
    stream[11] = (uint8_t)body;
    stream[12] = (uint8_t)(body >> 8);
    stream[13] = (uint8_t)(body >> 16);
    stream[14] = (uint8_t)crc;
    stream[15] = (uint8_t)(crc >> 8);
    stream[16] = (uint8_t)(crc >> 16);
    stream[17] = (uint8_t)(crc >> 24);
    assert_int_equal(frame_verdict(stream, 10 + 4 + body), NE_ERR_CORRUPT);
    /* Compressed chunk too short for a CRC and a preamble; uncompressed
     * chunk too short for a CRC. */
    const uint8_t tiny_compressed[] = {0xff, 6, 0, 0, 's', 'N', 'a', 'P', 'p',
                                       'Y',  0, 4, 0, 0,   1,   2,   3,   4};
    assert_int_equal(frame_verdict(tiny_compressed, sizeof tiny_compressed), NE_ERR_CORRUPT);
    const uint8_t tiny_stored[] = {0xff, 6, 0, 0, 's', 'N', 'a', 'P', 'p',
                                   'Y',  1, 3, 0, 0,   1,   2,   3};
    assert_int_equal(frame_verdict(tiny_stored, sizeof tiny_stored), NE_ERR_CORRUPT);
    /* A corrupt block inside a chunk with a matching CRC is still corrupt. */
    uint8_t bad_block[] = {0xff, 6, 0, 0, 's', 'N', 'a', 'P', 'p', 'Y', 0,
                           7,    0, 0, 0, 0,   0,   0,   3,   1,   0};
    uint32_t empty_crc = ne_crc32c_mask(ne_crc32c(0, "", 0));
    for (int i = 0; i < 4; i++) {
        bad_block[14 + i] = (uint8_t)(empty_crc >> (8 * i));
    }
    assert_int_equal(frame_verdict(bad_block, sizeof bad_block), NE_ERR_CORRUPT);
}

static void test_frame_truncated_stream_fails_at_finish(void **state)
{
    (void)state;
    static uint8_t stream[4096];
    corpus_fill(CORPUS_JSON, input, 1500, 21);
    size_t len = frame_encode(input, 1500, stream, sizeof stream);
    for (size_t cut = 11; cut < len; cut++) {
        size_t out_len = 0;
        assert_int_equal(
            frame_decode_pieces(stream, cut, 13, 1u << 17, output, sizeof output, &out_len, 8),
            NE_ERR_CORRUPT);
        /* No data of an incomplete chunk is handed out. */
        assert_int_equal(out_len, 0);
    }
}

static void test_frame_decoder_stays_failed_after_corruption(void **state)
{
    (void)state;
    const uint8_t bad[] = {0x02, 0, 0, 0};
    ne_snappy_frame_decoder_init(&frame_decoder);
    size_t used = 0;
    size_t got = 0;
    assert_int_equal(
        ne_snappy_frame_decode(&frame_decoder, bad, sizeof bad, &used, output, 16, &got),
        NE_ERR_CORRUPT);
    corpus_fill(CORPUS_TEXT, input, 100, 22);
    size_t len = frame_encode(input, 100, frame_stream, sizeof frame_stream);
    assert_int_equal(
        ne_snappy_frame_decode(&frame_decoder, frame_stream, len, &used, output, 4096, &got),
        NE_ERR_CORRUPT);
    assert_int_equal(got, 0);
    assert_int_equal(ne_snappy_frame_decoder_finish(&frame_decoder), NE_ERR_CORRUPT);
}

static void test_frame_finish_reports_pending_output(void **state)
{
    (void)state;
    corpus_fill(CORPUS_TEXT, input, 1000, 23);
    size_t len = frame_encode(input, 1000, frame_stream, sizeof frame_stream);
    ne_snappy_frame_decoder_init(&frame_decoder);
    size_t used = 0;
    size_t got = 0;
    assert_int_equal(
        ne_snappy_frame_decode(&frame_decoder, frame_stream, len, &used, output, 10, &got), NE_OK);
    assert_int_equal(used, len);
    assert_int_equal(got, 10);
    assert_int_equal(ne_snappy_frame_decoder_finish(&frame_decoder), NE_ERR_WOULD_BLOCK);
    size_t more = 0;
    assert_int_equal(
        ne_snappy_frame_decode(&frame_decoder, NULL, 0, &used, output + 10, 4096, &more), NE_OK);
    assert_int_equal(10 + more, 1000);
    assert_memory_equal(output, input, 1000);
    assert_int_equal(ne_snappy_frame_decoder_finish(&frame_decoder), NE_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_max_compressed_length_matches_libsnappy),
        cmocka_unit_test(test_our_blocks_decode_with_libsnappy),
        cmocka_unit_test(test_libsnappy_blocks_decode_with_ours),
        cmocka_unit_test(test_our_blocks_round_trip_through_both_our_decoders),
        cmocka_unit_test(test_compression_ratio_matches_libsnappy),
        cmocka_unit_test(test_compression_ignores_stale_table_contents),
        cmocka_unit_test(test_compress_refuses_destination_below_worst_case),
        cmocka_unit_test(test_incompressible_input_grows_by_a_few_bytes_only),
        cmocka_unit_test(test_overlapping_copies_repeat_the_last_bytes),
        cmocka_unit_test(test_every_element_encoding_decodes),
        cmocka_unit_test(test_random_element_streams_agree_with_libsnappy),
        cmocka_unit_test(test_uncompressed_length_reads_the_preamble),
        cmocka_unit_test(test_malformed_preamble_is_corrupt),
        cmocka_unit_test(test_truncated_blocks_are_corrupt),
        cmocka_unit_test(test_zero_offset_copies_are_corrupt_in_snappy),
        cmocka_unit_test(test_offsets_before_the_output_start_are_corrupt),
        cmocka_unit_test(test_lengths_beyond_input_or_output_are_corrupt),
        cmocka_unit_test(test_output_shorter_or_longer_than_announced_is_corrupt),
        cmocka_unit_test(test_destination_smaller_than_announced_is_too_big),
        cmocka_unit_test(test_mutated_blocks_never_crash_and_agree_with_libsnappy),
        cmocka_unit_test(test_s2_repeat_codes_decode_by_the_s2_rules),
        cmocka_unit_test(test_s2_random_blocks_with_repeats_decode),
        cmocka_unit_test(test_s2_repeat_before_any_copy_is_corrupt),
        cmocka_unit_test(test_s2_truncated_or_overlong_repeats_are_corrupt),
        cmocka_unit_test(test_frame_round_trips_over_the_corpus),
        cmocka_unit_test(test_frame_decoder_accepts_input_split_at_every_byte),
        cmocka_unit_test(test_frame_encoder_stores_incompressible_chunks),
        cmocka_unit_test(test_frame_encoder_writes_identifier_once_per_stream),
        cmocka_unit_test(test_frame_encoder_refuses_destination_below_worst_case),
        cmocka_unit_test(test_frame_crc_mismatch_is_corrupt),
        cmocka_unit_test(test_frame_requires_the_stream_identifier_first),
        cmocka_unit_test(test_frame_reserved_unskippable_chunks_are_corrupt),
        cmocka_unit_test(test_frame_oversized_or_malformed_chunks_are_corrupt),
        cmocka_unit_test(test_frame_truncated_stream_fails_at_finish),
        cmocka_unit_test(test_frame_decoder_stays_failed_after_corruption),
        cmocka_unit_test(test_frame_finish_reports_pending_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
