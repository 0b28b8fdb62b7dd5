/* The snappy block and framing formats, and S2 block decoding. No heap: the
 * caller provides every buffer, and compression uses a caller-provided hash
 * table (ne_snappy_table) so that several compressors never share state. */
#ifndef NE_SNAPPY_H
#define NE_SNAPPY_H

#include <stddef.h>
#include <stdint.h>

/* Hash table for the compressor: 2^NE_SNAPPY_HASH_BITS 16-bit entries. */
#define NE_SNAPPY_HASH_BITS 14
typedef struct ne_snappy_table {
    uint16_t entries[1u << NE_SNAPPY_HASH_BITS];
} ne_snappy_table;

/* Largest block input snappy encodes in one block (format limit we accept). */
#define NE_SNAPPY_MAX_BLOCK_INPUT (0xffffffffu)

/* Worst-case compressed size of src_len bytes: 32 + n + n/6. */
size_t ne_snappy_max_compressed_length(size_t src_len);

/* Compresses src into dst (block format). NE_ERR_TOO_BIG if dst_cap is smaller
 * than ne_snappy_max_compressed_length(src_len). */
int ne_snappy_compress(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_cap,
                       size_t *dst_len, ne_snappy_table *table);

/* Reads the uncompressed length from a block's preamble. NE_ERR_CORRUPT if the
 * varint is malformed. */
int ne_snappy_uncompressed_length(const uint8_t *src, size_t src_len, size_t *out_len);

/* Decompresses a snappy block. Never reads past src+src_len nor writes past
 * dst+dst_cap: NE_ERR_CORRUPT for malformed input, NE_ERR_TOO_BIG when the
 * output does not fit. */
int ne_snappy_decompress(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_cap,
                         size_t *dst_len);

/* Decompresses an S2 block (snappy plus S2's repeat-offset copies). Same
 * guarantees as ne_snappy_decompress. */
int ne_s2_decompress(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_cap,
                     size_t *dst_len);

#endif
