/* CRC-32C (Castagnoli), as used by the snappy framing format and the store. */
#ifndef NE_CRC32C_H
#define NE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC-32C over data: start with crc = 0 for a fresh checksum.
 * ne_crc32c(0, "123456789", 9) == 0xE3069283. */
uint32_t ne_crc32c(uint32_t crc, const void *data, size_t len);

/* The same from the tables alone, whatever the CPU offers (NE_CRC32C_HARDWARE):
 * what ne_crc32c computes on a CPU without the instruction, for tests. */
uint32_t ne_crc32c_portable(uint32_t crc, const void *data, size_t len);

/* The snappy framing format's masked CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8. */
static inline uint32_t ne_crc32c_mask(uint32_t crc)
{
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

#endif
