/* libFuzzer harness for the snappy framing decoder. The first two bytes
 * seed how the rest is cut: it is decoded once whole and once fed in random
 * pieces with random output windows. The two runs must reach the same
 * verdict, hand out the same bytes, and never crash (ASan). The rest is also
 * framed by our encoder and must decode back through random pieces. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/ne_snappy_frame.h"
#include "core/ne_error.h"

#define OUT_CAP (1u << 20)

static ne_snappy_frame_decoder decoder;
static ne_snappy_table table;
static uint8_t whole_out[OUT_CAP];
static uint8_t split_out[OUT_CAP];
static uint8_t framed[OUT_CAP + OUT_CAP / 4];

static void check(int ok)
{
    if (!ok) {
        abort();
    }
}

static uint32_t next_random(uint32_t *state)
{
    /* xorshift32: cheap and deterministic per input. */
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

/* Decodes in pieces (random when seed != 0) into out; returns the verdict:
 * the first error, NE_ERR_FULL when out filled up, else what finish says. */
static int decode(const uint8_t *in, size_t len, uint32_t seed, uint8_t *out, size_t *out_len)
{
    uint32_t rng = seed | 1u;
    size_t pos = 0;
    size_t total = 0;
    ne_snappy_frame_decoder_init(&decoder);
    /* Bounded: every pass consumes input or fills the window, and both
     * input and output are finite. */
    for (size_t guard = 0; guard < 2 * (len + OUT_CAP) + 8; guard++) {
        size_t piece = seed ? 1 + next_random(&rng) % 97u : len - pos;
        size_t room = seed ? 1 + next_random(&rng) % 70000u : OUT_CAP - total;
        piece = piece < len - pos ? piece : len - pos;
        room = room < OUT_CAP - total ? room : OUT_CAP - total;
        size_t used = 0;
        size_t got = 0;
        int rc = ne_snappy_frame_decode(&decoder, in + pos, piece, &used, out + total, room, &got);
        check(used <= piece && got <= room);
        pos += used;
        total += got;
        *out_len = total;
        if (rc != NE_OK) {
            check(rc == NE_ERR_CORRUPT);
            return rc;
        }
        if (total == OUT_CAP) {
            return NE_ERR_FULL;
        }
        if (pos == len && got < room) {
            return ne_snappy_frame_decoder_finish(&decoder);
        }
    }
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    uint32_t seed = ((uint32_t)data[0] | ((uint32_t)data[1] << 8)) + 1u;
    data += 2;
    size -= 2;

    size_t whole_len = 0;
    size_t split_len = 0;
    int whole = decode(data, size, 0, whole_out, &whole_len);
    int split = decode(data, size, seed, split_out, &split_len);
    if (whole != NE_ERR_FULL && split != NE_ERR_FULL) {
        check(whole == split);
    }
    size_t common = whole_len < split_len ? whole_len : split_len;
    check(memcmp(whole_out, split_out, common) == 0);
    if (whole == NE_OK && split == NE_OK) {
        check(whole_len == split_len);
    }

    ne_snappy_frame_encoder enc;
    ne_snappy_frame_encoder_init(&enc, &table);
    size_t framed_len = 0;
    check(ne_snappy_frame_encode(&enc, data, size, framed, sizeof framed, &framed_len) == NE_OK);
    check(decode(framed, framed_len, seed, split_out, &split_len) == NE_OK);
    check(split_len == size && (size == 0 || memcmp(split_out, data, size) == 0));
    return 0;
}
