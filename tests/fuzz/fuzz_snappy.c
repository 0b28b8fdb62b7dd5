/* libFuzzer harness for the snappy block decoders and the compressor.
 * Any bytes are decoded by ne_snappy_decompress and ne_s2_decompress into a
 * bounded buffer: neither may crash or touch memory outside its buffers
 * (ASan), both must agree with libsnappy on validity and content (S2 is a
 * superset of snappy), and the input itself must round-trip through our
 * compressor, with libsnappy and with our decoder. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <snappy-c.h>

#include "codec/ne_snappy.h"
#include "core/ne_error.h"

#define OUT_CAP (1u << 20)
#define COMP_CAP (32u + OUT_CAP + OUT_CAP / 6u)

static uint8_t ours[OUT_CAP];
static uint8_t lib[OUT_CAP];
static uint8_t s2[OUT_CAP];
static uint8_t comp[COMP_CAP];
static ne_snappy_table table;

static void check(int ok)
{
    if (!ok) {
        abort();
    }
}

static void decode_arbitrary(const uint8_t *data, size_t size)
{
    size_t ours_len = 0;
    size_t s2_len = 0;
    int rc = ne_snappy_decompress(data, size, ours, OUT_CAP, &ours_len);
    int rc_s2 = ne_s2_decompress(data, size, s2, OUT_CAP, &s2_len);
    check(rc == NE_OK || rc == NE_ERR_CORRUPT || rc == NE_ERR_TOO_BIG);
    check(rc_s2 == NE_OK || rc_s2 == NE_ERR_CORRUPT || rc_s2 == NE_ERR_TOO_BIG);
    if (rc == NE_OK) {
        check(rc_s2 == NE_OK && s2_len == ours_len && memcmp(s2, ours, ours_len) == 0);
    }
    size_t want = 0;
    if (snappy_uncompressed_length((const char *)data, size, &want) != SNAPPY_OK) {
        check(rc == NE_ERR_CORRUPT);
        return;
    }
    if (want > OUT_CAP) {
        check(rc == NE_ERR_TOO_BIG);
        return;
    }
    size_t lib_len = OUT_CAP;
    int lib_ok = snappy_uncompress((const char *)data, size, (char *)lib, &lib_len) == SNAPPY_OK;
    check(lib_ok == (rc == NE_OK));
    if (lib_ok) {
        check(lib_len == ours_len && memcmp(lib, ours, ours_len) == 0);
    }
}

static void round_trip(const uint8_t *data, size_t size)
{
    if (size > OUT_CAP) {
        return;
    }
    size_t clen = 0;
    check(ne_snappy_compress(data, size, comp, COMP_CAP, &clen, &table) == NE_OK);
    check(clen <= ne_snappy_max_compressed_length(size));
    size_t lib_len = OUT_CAP;
    check(snappy_uncompress((const char *)comp, clen, (char *)lib, &lib_len) == SNAPPY_OK);
    check(lib_len == size && (size == 0 || memcmp(lib, data, size) == 0));
    size_t ours_len = 0;
    check(ne_snappy_decompress(comp, clen, ours, OUT_CAP, &ours_len) == NE_OK);
    check(ours_len == size && (size == 0 || memcmp(ours, data, size) == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode_arbitrary(data, size);
    round_trip(data, size);
    return 0;
}
