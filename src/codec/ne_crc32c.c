#include "codec/ne_crc32c.h"

/* Slicing-by-one table for the reflected polynomial 0x82F63B78, computed at
 * compile time would need a generator; a 1 KiB constant table built once at
 * first use would be mutable global state, so the table is spelled out by a
 * constant-expression macro instead. */
#define NE_CRC32C_POLY 0x82F63B78u
#define C1(c) (((c)&1u) ? (((c) >> 1) ^ NE_CRC32C_POLY) : ((c) >> 1))
#define C8(c) C1(C1(C1(C1(C1(C1(C1(C1(c))))))))
#define R4(n) C8(n), C8(n + 1u), C8(n + 2u), C8(n + 3u)
#define R16(n) R4(n), R4(n + 4u), R4(n + 8u), R4(n + 12u)
#define R64(n) R16(n), R16(n + 16u), R16(n + 32u), R16(n + 48u)

static const uint32_t crc32c_table[256] = {R64(0u), R64(64u), R64(128u), R64(192u)};

uint32_t ne_crc32c(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc = crc32c_table[(crc ^ p[i]) & 0xffu] ^ (crc >> 8);
    }
    return ~crc;
}
