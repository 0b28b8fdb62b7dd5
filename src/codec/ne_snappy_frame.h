/* The snappy framing format: a stream of chunks, each a type byte and a
 * 24-bit little-endian length. The stream starts with the stream identifier
 * chunk (0xff, "sNaPpY"); data travels in compressed (0x00) and uncompressed
 * (0x01) chunks of at most 65536 uncompressed bytes, each carrying the masked
 * CRC-32C of its uncompressed data. Padding (0xfe) and reserved skippable
 * chunks (0x80..0xfd) are skipped; reserved unskippable chunks (0x02..0x7f)
 * are an error.
 *
 * No heap: the encoder writes into a caller buffer using a caller hash table;
 * the decoder is a push parser whose whole state, including one chunk of
 * input and one chunk of output, is the struct below. */
#ifndef NE_SNAPPY_FRAME_H
#define NE_SNAPPY_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/ne_snappy.h"

/* Most uncompressed bytes one data chunk may carry. */
#define NE_SNAPPY_FRAME_MAX_CHUNK_DATA 65536u

/* Largest body of a data chunk the decoder accepts: the CRC plus the worst
 * case compressed size of a full chunk (32 + n + n/6), as other decoders do. */
#define NE_SNAPPY_FRAME_MAX_CHUNK_BODY                                                             \
    (4u + 32u + NE_SNAPPY_FRAME_MAX_CHUNK_DATA + NE_SNAPPY_FRAME_MAX_CHUNK_DATA / 6u)

/* The stream identifier chunk, as it appears on the wire (10 bytes). */
#define NE_SNAPPY_FRAME_STREAM_ID_LEN 10u

/* ---- Encoder --------------------------------------------------------------- */

typedef struct ne_snappy_frame_encoder {
    ne_snappy_table *table; /* borrowed; used during each encode call only */
    bool stream_id_written;
} ne_snappy_frame_encoder;

/* Starts a stream. The table is borrowed for the encoder's lifetime and may
 * be shared by encoders that never run at the same time. */
void ne_snappy_frame_encoder_init(ne_snappy_frame_encoder *enc, ne_snappy_table *table);

/* Worst-case output of one ne_snappy_frame_encode call of src_len bytes,
 * including the stream identifier. Saturates at SIZE_MAX. */
size_t ne_snappy_frame_max_encoded_length(size_t src_len);

/* Appends src to the stream as chunks of at most 65536 bytes, preceded by
 * the stream identifier on the first call. Each chunk is compressed when
 * that saves at least 1/8 of its size, else stored. *dst_len is the number
 * of bytes written. NE_ERR_TOO_BIG (nothing written) if dst_cap is below
 * ne_snappy_frame_max_encoded_length(src_len). */
int ne_snappy_frame_encode(ne_snappy_frame_encoder *enc, const uint8_t *src, size_t src_len,
                           uint8_t *dst, size_t dst_cap, size_t *dst_len);

/* ---- Decoder --------------------------------------------------------------- */

/* Everything here is private to ne_snappy_frame.c; it is in the header only
 * so the caller can place the decoder in static storage (about 142 KiB). */
typedef struct ne_snappy_frame_decoder {
    uint8_t state;        /* what the next input byte belongs to */
    bool failed;          /* sticky: a corrupt stream stays corrupt */
    bool stream_id_seen;  /* data chunks before the identifier are corrupt */
    uint8_t chunk_type;   /* type byte of the current chunk */
    uint8_t header[4];    /* a chunk header that arrived split */
    uint32_t header_have; /* bytes of header[] received */
    uint32_t chunk_len;   /* body length of the current chunk */
    uint32_t body_have;   /* bytes of the body received (or skipped) */
    uint32_t pending_pos; /* next byte of pending[] to hand out */
    uint32_t pending_len; /* decoded bytes in pending[] */
    uint8_t body[NE_SNAPPY_FRAME_MAX_CHUNK_BODY];    /* a body that arrived split */
    uint8_t pending[NE_SNAPPY_FRAME_MAX_CHUNK_DATA]; /* decoded data the caller had no room for */
} ne_snappy_frame_decoder;

void ne_snappy_frame_decoder_init(ne_snappy_frame_decoder *dec);

/* Pushes in[0..in_len) into the decoder and pulls decoded data into
 * out[0..out_cap). Input may be split at any byte. Returns with *in_used
 * bytes consumed and *out_len bytes written: either all input is consumed,
 * or out is full (call again, with the unconsumed rest of the input or with
 * none, to get the remaining data). NE_ERR_CORRUPT when the stream is
 * malformed (bad identifier, CRC mismatch, bad block, reserved unskippable
 * chunk, oversized chunk, data before the identifier); the decoder then
 * stays failed. Data of a chunk is handed out only after its CRC checked. */
int ne_snappy_frame_decode(ne_snappy_frame_decoder *dec, const uint8_t *in, size_t in_len,
                           size_t *in_used, uint8_t *out, size_t out_cap, size_t *out_len);

/* At the end of the input: NE_OK if the stream ended on a chunk boundary
 * with all data handed out; NE_ERR_WOULD_BLOCK if decoded data is still
 * pending (call ne_snappy_frame_decode with room); NE_ERR_CORRUPT if the
 * stream failed or was cut inside a chunk. */
int ne_snappy_frame_decoder_finish(const ne_snappy_frame_decoder *dec);

#endif
