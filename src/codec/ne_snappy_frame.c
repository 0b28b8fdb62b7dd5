/* The snappy framing format: an encoder into a caller buffer and a push
 * decoder with bounded state (see ne_snappy_frame.h for the chunk types). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codec/ne_crc32c.h"
#include "codec/ne_snappy.h"
#include "codec/ne_snappy_frame.h"
#include "core/ne_assert.h"
#include "core/ne_error.h"

#define CHUNK_COMPRESSED 0x00u
#define CHUNK_UNCOMPRESSED 0x01u
#define CHUNK_PADDING 0xfeu
#define CHUNK_STREAM_ID 0xffu
#define CHUNK_FIRST_SKIPPABLE 0x80u

#define CHUNK_HEADER_BYTES 4u
#define CHUNK_CRC_BYTES 4u

/* Header and CRC of one data chunk, plus the compressor's 32-byte slack. */
#define CHUNK_OVERHEAD_BYTES (CHUNK_HEADER_BYTES + CHUNK_CRC_BYTES + 32u)

static const uint8_t stream_id_chunk[NE_SNAPPY_FRAME_STREAM_ID_LEN] = {
    CHUNK_STREAM_ID, 0x06, 0x00, 0x00, 's', 'N', 'a', 'P', 'p', 'Y'};

enum { STATE_HEADER = 0, STATE_BODY = 1 };

static void store32_le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t load32_le(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint32_t masked_crc(const uint8_t *data, size_t len)
{
    return ne_crc32c_mask(ne_crc32c(0, data, len));
}

/* ---- Encoder --------------------------------------------------------------- */

void ne_snappy_frame_encoder_init(ne_snappy_frame_encoder *enc, ne_snappy_table *table)
{
    NE_ASSERT(enc != NULL && table != NULL);
    enc->table = table;
    enc->stream_id_written = false;
}

size_t ne_snappy_frame_max_encoded_length(size_t src_len)
{
    /* Per chunk c: header, CRC and the block bound 32 + c + c/6. Summed, the
     * c/6 terms are at most n/6, so the bound is linear in n. */
    size_t chunks = src_len / NE_SNAPPY_FRAME_MAX_CHUNK_DATA +
                    (src_len % NE_SNAPPY_FRAME_MAX_CHUNK_DATA != 0 ? 1u : 0u);
    size_t block_bound = ne_snappy_max_compressed_length(src_len);
    size_t extra = NE_SNAPPY_FRAME_STREAM_ID_LEN;
    if (chunks > (SIZE_MAX - extra) / CHUNK_OVERHEAD_BYTES) {
        return SIZE_MAX;
    }
    extra += chunks * CHUNK_OVERHEAD_BYTES;
    /* block_bound already holds one 32-byte slack; keep it, it is harmless. */
    if (block_bound > SIZE_MAX - extra) {
        return SIZE_MAX;
    }
    return block_bound + extra;
}

/* Writes one data chunk for n <= 65536 bytes. The block is compressed
 * straight into place after the header; if it does not save 1/8 (the
 * reference encoders' threshold, which keeps barely compressible data from
 * costing decompression time for little gain) the raw bytes replace it. */
static uint8_t *encode_chunk(ne_snappy_table *table, const uint8_t *src, size_t n, uint8_t *op,
                             const uint8_t *op_end)
{
    NE_ASSERT(n <= NE_SNAPPY_FRAME_MAX_CHUNK_DATA);
    uint8_t *body = op + CHUNK_HEADER_BYTES + CHUNK_CRC_BYTES;
    size_t compressed_len = 0;
    int rc = ne_snappy_compress(src, n, body, (size_t)(op_end - body), &compressed_len, table);
    NE_ASSERT(rc == NE_OK);
    (void)rc;
    uint8_t type = CHUNK_COMPRESSED;
    size_t data_len = compressed_len;
    if (compressed_len >= n - n / 8u) {
        type = CHUNK_UNCOMPRESSED;
        data_len = n;
        if (n > 0) {
            memcpy(body, src, n);
        }
    }
    uint32_t body_len = (uint32_t)(CHUNK_CRC_BYTES + data_len);
    op[0] = type;
    op[1] = (uint8_t)body_len;
    op[2] = (uint8_t)(body_len >> 8);
    op[3] = (uint8_t)(body_len >> 16);
    store32_le(op + CHUNK_HEADER_BYTES, masked_crc(src, n));
    return body + data_len;
}

int ne_snappy_frame_encode(ne_snappy_frame_encoder *enc, const uint8_t *src, size_t src_len,
                           uint8_t *dst, size_t dst_cap, size_t *dst_len)
{
    NE_ASSERT(enc != NULL && enc->table != NULL);
    NE_ASSERT(src != NULL || src_len == 0);
    NE_ASSERT(dst != NULL && dst_len != NULL);
    if (dst_cap < ne_snappy_frame_max_encoded_length(src_len)) {
        return NE_ERR_TOO_BIG;
    }
    uint8_t *op = dst;
    const uint8_t *op_end = dst + dst_cap;
    if (!enc->stream_id_written) {
        memcpy(op, stream_id_chunk, sizeof stream_id_chunk);
        op += sizeof stream_id_chunk;
        enc->stream_id_written = true;
    }
    size_t pos = 0;
    /* Bounded by src_len / 65536 + 1 iterations. */
    while (pos < src_len) {
        size_t n = NE_MIN(src_len - pos, (size_t)NE_SNAPPY_FRAME_MAX_CHUNK_DATA);
        op = encode_chunk(enc->table, src + pos, n, op, op_end);
        pos += n;
    }
    *dst_len = (size_t)(op - dst);
    NE_ASSERT(*dst_len <= dst_cap);
    return NE_OK;
}

/* ---- Decoder --------------------------------------------------------------- */

void ne_snappy_frame_decoder_init(ne_snappy_frame_decoder *dec)
{
    NE_ASSERT(dec != NULL);
    dec->state = STATE_HEADER;
    dec->failed = false;
    dec->stream_id_seen = false;
    dec->chunk_type = 0;
    dec->header_have = 0;
    dec->chunk_len = 0;
    dec->body_have = 0;
    dec->pending_pos = 0;
    dec->pending_len = 0;
}

static bool is_skippable(uint8_t type)
{
    return type >= CHUNK_FIRST_SKIPPABLE && type != CHUNK_STREAM_ID;
}

/* Checks a chunk header before any of its body is read, so an oversized or
 * forbidden chunk is refused without buffering it. */
static int check_header(const ne_snappy_frame_decoder *dec, uint8_t type, uint32_t len)
{
    if (type == CHUNK_STREAM_ID) {
        return len == sizeof stream_id_chunk - CHUNK_HEADER_BYTES ? NE_OK : NE_ERR_CORRUPT;
    }
    /* The identifier must come first, before any other chunk. */
    if (!dec->stream_id_seen) {
        return NE_ERR_CORRUPT;
    }
    if (type == CHUNK_COMPRESSED) {
        /* At least the CRC and a one-byte length preamble. */
        return len > CHUNK_CRC_BYTES && len <= NE_SNAPPY_FRAME_MAX_CHUNK_BODY ? NE_OK
                                                                              : NE_ERR_CORRUPT;
    }
    if (type == CHUNK_UNCOMPRESSED) {
        return len >= CHUNK_CRC_BYTES && len <= CHUNK_CRC_BYTES + NE_SNAPPY_FRAME_MAX_CHUNK_DATA
                   ? NE_OK
                   : NE_ERR_CORRUPT;
    }
    /* 0x02..0x7f are reserved and may not be skipped. */
    return is_skippable(type) ? NE_OK : NE_ERR_CORRUPT;
}

/* Acts on a complete chunk body. Decoded data goes straight to out when it
 * fits, else into the decoder's pending buffer; it is checked against the
 * CRC before the caller may use it. */
static int process_chunk(ne_snappy_frame_decoder *dec, const uint8_t *body, size_t len,
                         uint8_t *out, size_t out_room, size_t *written)
{
    *written = 0;
    if (dec->chunk_type == CHUNK_STREAM_ID) {
        if (memcmp(body, stream_id_chunk + CHUNK_HEADER_BYTES, len) != 0) {
            return NE_ERR_CORRUPT;
        }
        dec->stream_id_seen = true;
        return NE_OK;
    }
    if (is_skippable(dec->chunk_type)) {
        return NE_OK;
    }
    NE_ASSERT(len >= CHUNK_CRC_BYTES);
    uint32_t expected_crc = load32_le(body);
    const uint8_t *data = body + CHUNK_CRC_BYTES;
    size_t data_len = len - CHUNK_CRC_BYTES;
    size_t decoded_len = data_len;
    if (dec->chunk_type == CHUNK_COMPRESSED) {
        int rc = ne_snappy_uncompressed_length(data, data_len, &decoded_len);
        if (rc != NE_OK || decoded_len > NE_SNAPPY_FRAME_MAX_CHUNK_DATA) {
            return NE_ERR_CORRUPT;
        }
    }
    bool direct = decoded_len <= out_room;
    uint8_t *target = direct ? out : dec->pending;
    if (decoded_len > 0) {
        if (dec->chunk_type == CHUNK_COMPRESSED) {
            size_t got = 0;
            int rc = ne_snappy_decompress(data, data_len, target, decoded_len, &got);
            if (rc != NE_OK || got != decoded_len) {
                return NE_ERR_CORRUPT;
            }
        } else {
            memcpy(target, data, decoded_len);
        }
    }
    if (masked_crc(target, decoded_len) != expected_crc) {
        return NE_ERR_CORRUPT;
    }
    if (direct) {
        *written = decoded_len;
    } else {
        dec->pending_pos = 0;
        dec->pending_len = (uint32_t)decoded_len;
    }
    return NE_OK;
}

/* Reads (part of) a chunk header. When the whole body of a chunk is already
 * in the input it is processed in place, which saves a copy into body[]. */
static int step_header(ne_snappy_frame_decoder *dec, const uint8_t *in, size_t in_len, size_t *ip,
                       uint8_t *out, size_t out_cap, size_t *op)
{
    size_t avail = in_len - *ip;
    if (dec->header_have == 0 && avail >= CHUNK_HEADER_BYTES) {
        memcpy(dec->header, in + *ip, CHUNK_HEADER_BYTES);
        *ip += CHUNK_HEADER_BYTES;
    } else {
        size_t take = NE_MIN(avail, (size_t)(CHUNK_HEADER_BYTES - dec->header_have));
        memcpy(dec->header + dec->header_have, in + *ip, take);
        dec->header_have += (uint32_t)take;
        *ip += take;
        if (dec->header_have < CHUNK_HEADER_BYTES) {
            return NE_OK;
        }
        dec->header_have = 0;
    }
    uint8_t type = dec->header[0];
    uint32_t len = (uint32_t)dec->header[1] | ((uint32_t)dec->header[2] << 8) |
                   ((uint32_t)dec->header[3] << 16);
    int rc = check_header(dec, type, len);
    if (rc != NE_OK) {
        return rc;
    }
    dec->chunk_type = type;
    dec->chunk_len = len;
    dec->body_have = 0;
    dec->state = STATE_BODY;
    if (len == 0) {
        /* An empty skippable chunk: nothing to read. */
        dec->state = STATE_HEADER;
        return NE_OK;
    }
    if (!is_skippable(type) && in_len - *ip >= len) {
        size_t written = 0;
        rc = process_chunk(dec, in + *ip, len, out + *op, out_cap - *op, &written);
        *ip += len;
        *op += written;
        dec->state = STATE_HEADER;
    }
    return rc;
}

/* Reads (part of) a chunk body: skipped chunks are only counted, others are
 * gathered in body[] until complete. */
static int step_body(ne_snappy_frame_decoder *dec, const uint8_t *in, size_t in_len, size_t *ip,
                     uint8_t *out, size_t out_cap, size_t *op)
{
    size_t take = NE_MIN(in_len - *ip, (size_t)(dec->chunk_len - dec->body_have));
    bool skip = is_skippable(dec->chunk_type);
    if (!skip) {
        NE_ASSERT(dec->body_have + take <= sizeof dec->body);
        memcpy(dec->body + dec->body_have, in + *ip, take);
    }
    dec->body_have += (uint32_t)take;
    *ip += take;
    if (dec->body_have < dec->chunk_len) {
        return NE_OK;
    }
    dec->state = STATE_HEADER;
    if (skip) {
        return NE_OK;
    }
    size_t written = 0;
    int rc = process_chunk(dec, dec->body, dec->chunk_len, out + *op, out_cap - *op, &written);
    *op += written;
    return rc;
}

/* Hands out what the pending buffer holds, as far as out has room. */
static void drain_pending(ne_snappy_frame_decoder *dec, uint8_t *out, size_t out_cap, size_t *op)
{
    size_t n = NE_MIN((size_t)(dec->pending_len - dec->pending_pos), out_cap - *op);
    if (n > 0) {
        memcpy(out + *op, dec->pending + dec->pending_pos, n);
        dec->pending_pos += (uint32_t)n;
        *op += n;
    }
}

int ne_snappy_frame_decode(ne_snappy_frame_decoder *dec, const uint8_t *in, size_t in_len,
                           size_t *in_used, uint8_t *out, size_t out_cap, size_t *out_len)
{
    NE_ASSERT(dec != NULL && in_used != NULL && out_len != NULL);
    NE_ASSERT(in != NULL || in_len == 0);
    NE_ASSERT(out != NULL);
    size_t ip = 0;
    size_t op = 0;
    int rc = dec->failed ? NE_ERR_CORRUPT : NE_OK;
    /* Bounded: each pass consumes at least one input byte or ends, since a
     * step only stops short of its input when the output is full. */
    while (rc == NE_OK) {
        drain_pending(dec, out, out_cap, &op);
        if (dec->pending_pos < dec->pending_len || ip == in_len) {
            break;
        }
        size_t ip_before = ip;
        if (dec->state == STATE_HEADER) {
            rc = step_header(dec, in, in_len, &ip, out, out_cap, &op);
        } else {
            rc = step_body(dec, in, in_len, &ip, out, out_cap, &op);
        }
        NE_ASSERT(rc != NE_OK || ip > ip_before);
        (void)ip_before;
    }
    if (rc != NE_OK) {
        dec->failed = true;
    }
    *in_used = ip;
    *out_len = op;
    return rc;
}

int ne_snappy_frame_decoder_finish(const ne_snappy_frame_decoder *dec)
{
    NE_ASSERT(dec != NULL);
    if (dec->failed || dec->state != STATE_HEADER || dec->header_have != 0) {
        return NE_ERR_CORRUPT;
    }
    return dec->pending_pos < dec->pending_len ? NE_ERR_WOULD_BLOCK : NE_OK;
}
