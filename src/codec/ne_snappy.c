/* The snappy block format: a greedy hash-table compressor and a bounds-checked
 * decompressor that also reads S2 blocks (snappy plus repeat-offset copies).
 *
 * A block is a varint of the uncompressed length followed by elements. Each
 * element starts with a tag byte whose low two bits give its kind:
 *   00 literal: length-1 in the upper six bits, or 60..63 meaning 1..4 bytes
 *      of little-endian length-1 follow; then the literal bytes.
 *   01 copy, 1-byte offset: length 4..11 in bits 2..4, offset bits 8..10 in
 *      bits 5..7, one more byte with offset bits 0..7.
 *   10 copy, 2-byte offset: length 1..64 in the upper six bits, then a 16-bit
 *      little-endian offset.
 *   11 copy, 4-byte offset: as 10 with a 32-bit offset.
 * S2 gives a 1-byte-offset copy whose offset is zero a meaning: repeat the
 * last offset, with a longer length encoding (see decode_repeat_length). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codec/ne_snappy.h"
#include "core/ne_assert.h"
#include "core/ne_error.h"

/* ---- Small portable helpers ------------------------------------------------
 * Unaligned loads and stores go through memcpy: compilers turn a fixed-size
 * memcpy into one move instruction where the target allows unaligned access,
 * and into byte moves where it does not, so this is both portable and fast. */

#if defined(__GNUC__)
#define SNAPPY_LIKELY(x) __builtin_expect(!!(x), 1)
#define SNAPPY_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define SNAPPY_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define SNAPPY_LIKELY(x) (x)
#define SNAPPY_UNLIKELY(x) (x)
#define SNAPPY_ALWAYS_INLINE inline
#endif

#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) &&                                    \
    __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define SNAPPY_BIG_ENDIAN 1
#else
#define SNAPPY_BIG_ENDIAN 0
#endif

static SNAPPY_ALWAYS_INLINE uint32_t load32(const uint8_t *p)
{
#if SNAPPY_BIG_ENDIAN
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
#else
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
#endif
}

static SNAPPY_ALWAYS_INLINE uint64_t load64(const uint8_t *p)
{
#if SNAPPY_BIG_ENDIAN
    return (uint64_t)load32(p) | ((uint64_t)load32(p + 4) << 32);
#else
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
#endif
}

static SNAPPY_ALWAYS_INLINE uint32_t load16(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

/* Reads n = 0..4 bytes little-endian, never more. */
static SNAPPY_ALWAYS_INLINE uint32_t load32_upto(const uint8_t *p, size_t n)
{
    uint32_t v = 0;
    /* Bounded by four bytes. */
    for (size_t i = 0; i < n; i++) {
        v |= (uint32_t)p[i] << (8u * i);
    }
    return v;
}

/* Copies 16 bytes. All are loaded before any is stored, so the result is
 * defined even when the ranges overlap (unlike memcpy). */
static SNAPPY_ALWAYS_INLINE void copy16(uint8_t *dst, const uint8_t *src)
{
    uint8_t tmp[16];
    memcpy(tmp, src, sizeof tmp);
    memcpy(dst, tmp, sizeof tmp);
}

/* Number of trailing zero bits of a non-zero word. */
static SNAPPY_ALWAYS_INLINE unsigned trailing_zeros64(uint64_t x)
{
    NE_ASSERT(x != 0);
#if defined(__GNUC__)
    return (unsigned)__builtin_ctzll(x);
#else
    unsigned n = 0;
    /* Bounded by 63: x has at least one bit set. */
    while ((x & 1u) == 0) {
        x >>= 1;
        n++;
    }
    return n;
#endif
}

/* ---- Compression ----------------------------------------------------------- */

/* The reference processes input in 64 KiB fragments: offsets then always fit
 * in 16 bits (so the hash table holds 16-bit positions) and a fragment never
 * refers back into an earlier one. Doing the same keeps the ratio identical
 * in character and the table small. */
#define FRAGMENT_BYTES 65536u

/* The matcher stops this many bytes before the end of a fragment so that its
 * 32- and 64-bit loads and 16-byte literal copies never read past the input. */
#define INPUT_MARGIN_BYTES 15u

#define MIN_TABLE_BITS 8u
#define HASH_MULTIPLIER 0x1e35a7bdu

size_t ne_snappy_max_compressed_length(size_t src_len)
{
    /* 32 + n + n/6 is the reference's bound; saturate rather than wrap so a
     * huge length can never look like a small capacity requirement. */
    size_t extra = 32u + src_len / 6u;
    if (src_len > SIZE_MAX - extra) {
        return SIZE_MAX;
    }
    return src_len + extra;
}

/* Multiplicative hash of four bytes down to table_bits bits. */
static SNAPPY_ALWAYS_INLINE uint32_t hash4(uint32_t bytes, unsigned shift)
{
    return (bytes * HASH_MULTIPLIER) >> shift;
}

/* A table sized to the fragment: clearing 32 KiB for a 100-byte input would
 * cost more than compressing it, so small inputs use a small table. */
static unsigned table_bits_for(size_t fragment_len)
{
    unsigned bits = MIN_TABLE_BITS;
    /* Bounded by NE_SNAPPY_HASH_BITS - MIN_TABLE_BITS iterations. */
    while (bits < NE_SNAPPY_HASH_BITS && ((size_t)1 << bits) < fragment_len) {
        bits++;
    }
    return bits;
}

/* Length of the common prefix of a and b; b is the later position and b_end
 * bounds both (a < b). Sixteen bytes per step with one branch: long matches
 * (runs, repeated records) spend most of the compressor's time here. */
static SNAPPY_ALWAYS_INLINE size_t match_length(const uint8_t *a, const uint8_t *b,
                                                const uint8_t *b_end)
{
    const uint8_t *b_start = b;
    /* Bounded by (b_end - b) / 16 iterations. */
    while (b_end - b >= 16) {
        uint64_t diff_low = load64(a) ^ load64(b);
        uint64_t diff_high = load64(a + 8) ^ load64(b + 8);
        if ((diff_low | diff_high) != 0) {
            if (diff_low != 0) {
                return (size_t)(b - b_start) + trailing_zeros64(diff_low) / 8u;
            }
            return (size_t)(b - b_start) + 8u + trailing_zeros64(diff_high) / 8u;
        }
        a += 16;
        b += 16;
    }
    if (b_end - b >= 8) {
        uint64_t diff = load64(a) ^ load64(b);
        if (diff != 0) {
            return (size_t)(b - b_start) + trailing_zeros64(diff) / 8u;
        }
        a += 8;
        b += 8;
    }
    /* Bounded by 7 iterations. */
    while (b < b_end && *a == *b) {
        a++;
        b++;
    }
    return (size_t)(b - b_start);
}

/* Writes a literal element. When the literal is short, more input follows it
 * (fast == true) and 16 bytes of output room remain, 16 bytes are copied in
 * one move instead of an exact-length memcpy; the surplus is overwritten by
 * the next element. */
static SNAPPY_ALWAYS_INLINE uint8_t *emit_literal(uint8_t *op, const uint8_t *op_end,
                                                  const uint8_t *literal, size_t len, bool fast)
{
    NE_ASSERT(len >= 1 && len <= FRAGMENT_BYTES);
    size_t n = len - 1u;
    if (SNAPPY_LIKELY(n < 60u)) {
        *op++ = (uint8_t)(n << 2);
        if (fast && len <= 16u && op_end - op >= 16) {
            copy16(op, literal);
            return op + len;
        }
    } else if (n < 256u) {
        op[0] = (uint8_t)(60u << 2);
        op[1] = (uint8_t)n;
        op += 2;
    } else {
        /* A fragment is at most 64 KiB, so two length bytes always suffice. */
        op[0] = (uint8_t)(61u << 2);
        op[1] = (uint8_t)n;
        op[2] = (uint8_t)(n >> 8);
        op += 3;
    }
    NE_ASSERT(op_end - op >= (ptrdiff_t)len);
    memcpy(op, literal, len);
    return op + len;
}

/* One copy element of 4..64 bytes: the 2-byte form when it fits, else the
 * 3-byte form (offsets inside a fragment always fit in 16 bits). */
static SNAPPY_ALWAYS_INLINE uint8_t *emit_copy_upto64(uint8_t *op, size_t offset, size_t len)
{
    NE_ASSERT(len >= 4 && len <= 64 && offset >= 1 && offset < FRAGMENT_BYTES);
    if (len < 12u && offset < 2048u) {
        op[0] = (uint8_t)(1u | ((len - 4u) << 2) | ((offset >> 8) << 5));
        op[1] = (uint8_t)offset;
        return op + 2;
    }
    op[0] = (uint8_t)(2u | ((len - 1u) << 2));
    op[1] = (uint8_t)offset;
    op[2] = (uint8_t)(offset >> 8);
    return op + 3;
}

/* A match of any length as a run of copies of at most 64 bytes. A tail of
 * 65..67 bytes is split 60 + rest so the last copy still has the minimum
 * length of four. */
static SNAPPY_ALWAYS_INLINE uint8_t *emit_copy(uint8_t *op, size_t offset, size_t len)
{
    if (SNAPPY_UNLIKELY(len >= 68u)) {
        /* All but the last copy are 64-byte copies with the same 3 bytes: one
         * 4-byte store each, whose fourth byte the next copy overwrites. */
        uint32_t word = (2u | (63u << 2)) | ((uint32_t)offset << 8);
        uint8_t bytes[4] = {(uint8_t)word, (uint8_t)(word >> 8), (uint8_t)(word >> 16), 0};
        /* Bounded by len / 64 <= FRAGMENT_BYTES / 64 iterations. */
        do {
            memcpy(op, bytes, 4);
            op += 3;
            len -= 64u;
        } while (len >= 68u);
    }
    if (SNAPPY_UNLIKELY(len > 64u)) {
        op = emit_copy_upto64(op, offset, 60u);
        len -= 60u;
    }
    return emit_copy_upto64(op, offset, len);
}

/* Looks for the next position whose four bytes match an earlier position
 * with the same hash, recording positions in the table as it goes. After 32
 * bytes without a match it looks at every second byte, after 32 more at
 * every third, and so on: incompressible input is skipped quickly, and the
 * next search after a match starts again at step one. Returns the
 * candidate, or NULL when the search reached ip_limit; *ip_io is then the
 * matching position. */
static SNAPPY_ALWAYS_INLINE const uint8_t *find_match(const uint8_t *base, const uint8_t **ip_io,
                                                      const uint8_t *ip_limit, uint32_t *next_hash,
                                                      uint16_t *table, unsigned shift)
{
    const uint8_t *next_ip = *ip_io;
    const uint8_t *ip;
    const uint8_t *candidate;
    uint32_t skip = 32;
    /* Bounded: next_ip strictly increases and the loop ends at ip_limit. */
    do {
        ip = next_ip;
        uint32_t hash = *next_hash;
        uint32_t step = skip >> 5;
        skip += step;
        next_ip = ip + step;
        if (SNAPPY_UNLIKELY(next_ip > ip_limit)) {
            *ip_io = ip;
            return NULL;
        }
        *next_hash = hash4(load32(next_ip), shift);
        candidate = base + table[hash];
        table[hash] = (uint16_t)(ip - base);
    } while (load32(ip) != load32(candidate));
    *ip_io = ip;
    return candidate;
}

/* Compresses one fragment (at most 64 KiB) into op, returning the new end.
 * The table must be zeroed and have 2^table_bits entries. */
static uint8_t *compress_fragment(const uint8_t *in, size_t in_len, uint8_t *op,
                                  const uint8_t *op_end, uint16_t *table, unsigned table_bits)
{
    NE_ASSERT(in_len >= 1 && in_len <= FRAGMENT_BYTES);
    const uint8_t *in_end = in + in_len;
    const uint8_t *next_emit = in;
    const unsigned shift = 32u - table_bits;

    if (in_len >= INPUT_MARGIN_BYTES) {
        const uint8_t *ip_limit = in_end - INPUT_MARGIN_BYTES;
        const uint8_t *ip = in + 1;
        uint32_t next_hash = hash4(load32(ip), shift);
        bool done = false;
        /* Bounded: every pass moves ip forward by at least one byte. */
        while (!done) {
            const uint8_t *candidate = find_match(in, &ip, ip_limit, &next_hash, table, shift);
            if (candidate == NULL) {
                break;
            }
            op = emit_literal(op, op_end, next_emit, (size_t)(ip - next_emit), true);
            /* Emit the match, then keep emitting while the position right
             * after it also matches, with no literal in between. Bounded:
             * every pass moves ip forward by at least four bytes. */
            for (;;) {
                const uint8_t *match_start = ip;
                size_t matched = 4u + match_length(candidate + 4, ip + 4, in_end);
                ip += matched;
                op = emit_copy(op, (size_t)(match_start - candidate), matched);
                next_emit = ip;
                if (SNAPPY_UNLIKELY(ip >= ip_limit)) {
                    done = true;
                    break;
                }
                /* Record ip - 1 and test ip with one 64-bit load. */
                uint64_t bytes = load64(ip - 1);
                table[hash4((uint32_t)bytes, shift)] = (uint16_t)(ip - 1 - in);
                uint32_t hash = hash4((uint32_t)(bytes >> 8), shift);
                candidate = in + table[hash];
                table[hash] = (uint16_t)(ip - in);
                if ((uint32_t)(bytes >> 8) != load32(candidate)) {
                    next_hash = hash4((uint32_t)(bytes >> 16), shift);
                    ip++;
                    break;
                }
            }
        }
    }
    if (next_emit < in_end) {
        op = emit_literal(op, op_end, next_emit, (size_t)(in_end - next_emit), false);
    }
    return op;
}

static uint8_t *write_varint32(uint8_t *op, uint32_t value)
{
    /* Bounded by five bytes for a 32-bit value. */
    while (value >= 0x80u) {
        *op++ = (uint8_t)(value | 0x80u);
        value >>= 7;
    }
    *op++ = (uint8_t)value;
    return op;
}

int ne_snappy_compress(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_cap,
                       size_t *dst_len, ne_snappy_table *table)
{
    NE_ASSERT(src != NULL || src_len == 0);
    NE_ASSERT(dst != NULL && dst_len != NULL && table != NULL);
    if ((uint64_t)src_len > (uint64_t)NE_SNAPPY_MAX_BLOCK_INPUT) {
        return NE_ERR_TOO_BIG;
    }
    if (dst_cap < ne_snappy_max_compressed_length(src_len)) {
        return NE_ERR_TOO_BIG;
    }
    const uint8_t *op_end = dst + dst_cap;
    uint8_t *op = write_varint32(dst, (uint32_t)src_len);
    size_t pos = 0;
    /* Bounded by src_len / FRAGMENT_BYTES + 1 iterations. */
    while (pos < src_len) {
        size_t fragment_len = NE_MIN(src_len - pos, (size_t)FRAGMENT_BYTES);
        unsigned bits = table_bits_for(fragment_len);
        memset(table->entries, 0, sizeof(table->entries[0]) << bits);
        op = compress_fragment(src + pos, fragment_len, op, op_end, table->entries, bits);
        pos += fragment_len;
    }
    *dst_len = (size_t)(op - dst);
    NE_ASSERT(*dst_len <= dst_cap);
    return NE_OK;
}

/* ---- Decompression --------------------------------------------------------- */

/* Reads the little-endian base-128 length preamble: at most five bytes, and
 * the fifth may only carry the top four bits of a 32-bit value. */
static int read_preamble(const uint8_t *src, size_t src_len, uint32_t *value, size_t *used)
{
    uint32_t result = 0;
    /* Bounded by five bytes. */
    for (size_t i = 0; i < 5u; i++) {
        if (i >= src_len) {
            return NE_ERR_CORRUPT;
        }
        uint32_t byte = src[i];
        if (i == 4u && byte > 0x0fu) {
            return NE_ERR_CORRUPT;
        }
        result |= (byte & 0x7fu) << (7u * i);
        if ((byte & 0x80u) == 0) {
            *value = result;
            *used = i + 1u;
            return NE_OK;
        }
    }
    return NE_ERR_CORRUPT;
}

int ne_snappy_uncompressed_length(const uint8_t *src, size_t src_len, size_t *out_len)
{
    NE_ASSERT(src != NULL || src_len == 0);
    NE_ASSERT(out_len != NULL);
    uint32_t value;
    size_t used;
    int rc = read_preamble(src, src_len, &value, &used);
    if (rc != NE_OK) {
        return rc;
    }
    *out_len = value;
    return NE_OK;
}

/* The fast loop runs while this much input and output remain, so that it
 * may read an element's header and up to 64 literal bytes, and write up to
 * 64 bytes (80 for a short-period pattern) without per-byte checks. The last
 * bytes of a block go through the exact path. */
#define FAST_INPUT_MARGIN_BYTES 72
#define FAST_OUTPUT_MARGIN_BYTES 80

/* The fast loop copies 16 bytes at a time from op - offset; it needs at
 * least this much output behind op and an offset at least this large. */
#define FAST_MIN_OFFSET 16u

/* For a pattern of period p < 16 written 16 bytes at a time: the largest
 * multiple of p that is at most 16, so every store starts at phase zero. */
static const uint8_t pattern_stride[16] = {0,  16, 16, 15, 16, 15, 12, 14,
                                           16, 9,  10, 11, 12, 13, 14, 15};

/* For tag & 3: the mask of the offset bytes read after the tag (none for a
 * literal). */
static const uint32_t type_offset_mask[4] = {0, 0xffu, 0xffffu, 0xffffffffu};

/* What a tag byte says, so the fast loop needs no branch to tell element
 * kinds apart: bits 0..6 the length (1..64), bits 8..10 the high offset bits
 * of a 1-byte-offset copy, bits 11..13 how many offset bytes follow (0 for a
 * literal), bit 15 an element the fast loop leaves to decode_one: a literal
 * whose length is in 1..4 further bytes, or a 4-byte-offset copy (which the
 * fast loop's ip step of 1 + (tag & 3) would get wrong, and which encoders
 * emit only for offsets beyond 64 KiB). The table is spelled out by
 * constant-expression macros, like the CRC table, so it lives in read-only
 * memory and needs no initialisation. */
#define TAG_UNUSUAL 0x8000u
#define TAG_LITERAL(t) (((t) >> 2) < 60u ? ((t) >> 2) + 1u : TAG_UNUSUAL | (((t) >> 2) + 1u))
#define TAG_COPY1(t) ((4u + (((t) >> 2) & 7u)) | ((((t) >> 5) & 7u) << 8) | (1u << 11))
#define TAG_COPY2(t) ((((t) >> 2) + 1u) | (2u << 11))
#define TAG_COPY4(t) (TAG_UNUSUAL | (((t) >> 2) + 1u) | (4u << 11))
#define TAG_ENTRY(t)                                                                               \
    (((t)&3u) == 0   ? TAG_LITERAL(t)                                                              \
     : ((t)&3u) == 1 ? TAG_COPY1(t)                                                                \
     : ((t)&3u) == 2 ? TAG_COPY2(t)                                                                \
                     : TAG_COPY4(t))
#define TAG4(n) TAG_ENTRY(n), TAG_ENTRY(n + 1u), TAG_ENTRY(n + 2u), TAG_ENTRY(n + 3u)
#define TAG16(n) TAG4(n), TAG4(n + 4u), TAG4(n + 8u), TAG4(n + 12u)
#define TAG64(n) TAG16(n), TAG16(n + 16u), TAG16(n + 32u), TAG16(n + 48u)

static const uint16_t tag_table[256] = {TAG64(0u), TAG64(64u), TAG64(128u), TAG64(192u)};

/* Copies len bytes from op - offset to op exactly, in the forward direction
 * the format defines (an overlapping copy repeats the last offset bytes).
 * When the ranges overlap, the already-copied region is reused and doubles
 * each step, so the loop runs at most log2(len / offset) + 1 times. */
static void copy_match_exact(uint8_t *op, size_t offset, size_t len)
{
    const uint8_t *from = op - offset;
    size_t span = offset;
    /* Bounded by log2(len) + 1 iterations: span doubles each time. */
    while (len > span) {
        memcpy(op, from, span);
        op += span;
        len -= span;
        span += span;
    }
    memcpy(op, from, len);
}

/* A copy of at most 64 bytes with at least FAST_OUTPUT_MARGIN_BYTES of room:
 * far copies move 16 bytes at a time (each move reads only bytes already
 * final because offset >= 16); near copies first spell the period out into
 * 16 bytes and store that with a stride that keeps the phase. */
static SNAPPY_ALWAYS_INLINE void copy_match_fast(uint8_t *op, size_t offset, size_t len)
{
    const uint8_t *from = op - offset;
    if (offset >= FAST_MIN_OFFSET) {
        /* Bounded by 4 iterations. */
        for (size_t done = 0; done < len; done += 16u) {
            copy16(op + done, from + done);
        }
        return;
    }
    uint8_t pattern[16];
    if (offset == 1u) {
        memset(pattern, from[0], sizeof pattern);
    } else {
        /* Bounded by 16 iterations. */
        for (size_t i = 0; i < 16u; i++) {
            pattern[i] = i < offset ? from[i] : pattern[i - offset];
        }
    }
    size_t stride = pattern_stride[offset];
    /* Bounded by 64 / 9 + 1 iterations. */
    for (size_t done = 0; done < len; done += stride) {
        memcpy(op + done, pattern, 16);
    }
}

/* S2 repeat: the 3-bit length field of a zero-offset copy selects a length
 * of 4..8, or 1, 2 or 3 more bytes giving 8 + x, 260 + x or 65540 + x.
 * Returns the number of extra bytes the length takes. */
static SNAPPY_ALWAYS_INLINE size_t repeat_extra_bytes(uint32_t field)
{
    return field < 5u ? 0u : field - 4u;
}

static SNAPPY_ALWAYS_INLINE size_t decode_repeat_length(uint32_t field, const uint8_t *extra)
{
    switch (field) {
    case 5:
        return 8u + extra[0];
    case 6:
        return 260u + load16(extra);
    case 7:
        return 65540u + (load16(extra) | ((uint32_t)extra[2] << 16));
    default:
        return 4u + field;
    }
}

/* Decoder position, passed by address to the one-element decoder. */
typedef struct decode_state {
    const uint8_t *ip;
    uint8_t *op;
    size_t last_offset; /* S2: offset a repeat copy reuses; 0 before the first copy */
} decode_state;

/* Decodes one element with every read and write checked. Used for the last
 * bytes of a block and for what the fast loop leaves aside: long literals,
 * near copies (offset < 16), S2 repeats and anything malformed. */
static SNAPPY_ALWAYS_INLINE int decode_one(decode_state *st, const uint8_t *ip_end, uint8_t *dst,
                                           uint8_t *op_end, bool s2)
{
    const uint8_t *ip = st->ip;
    uint8_t *op = st->op;
    uint32_t tag = *ip++;
    size_t avail = (size_t)(ip_end - ip);
    uint32_t entry = tag_table[tag];
    size_t extra = (entry >> 11) & 7u;
    uint64_t len = entry & 0x7fu;

    if ((tag & 3u) == 0) {
        if (len > 60u) {
            size_t count = (tag >> 2) - 59u;
            if (count > avail) {
                return NE_ERR_CORRUPT;
            }
            uint32_t value = 0;
            /* Bounded by four bytes. */
            for (size_t i = 0; i < count; i++) {
                value |= (uint32_t)ip[i] << (8u * i);
            }
            len = (uint64_t)value + 1u;
            ip += count;
            avail -= count;
        }
        if (len > avail || len > (uint64_t)(op_end - op)) {
            return NE_ERR_CORRUPT;
        }
        memcpy(op, ip, (size_t)len);
        st->ip = ip + len;
        st->op = op + len;
        return NE_OK;
    }
    if (extra > avail) {
        return NE_ERR_CORRUPT;
    }
    size_t offset = (entry & 0x700u) | (size_t)(load32_upto(ip, extra));
    ip += extra;
    if (offset == 0 && s2 && (tag & 3u) == 1) {
        /* S2 repeat of the previous offset with its own length encoding. */
        uint32_t field = (tag >> 2) & 7u;
        size_t more = repeat_extra_bytes(field);
        if (more > avail - extra) {
            return NE_ERR_CORRUPT;
        }
        len = decode_repeat_length(field, ip);
        ip += more;
        offset = st->last_offset;
    }
    /* offset - 1 wraps for offset zero, so one test rejects both a zero
     * offset and one reaching before the start of the output. */
    if (offset - 1u >= (size_t)(op - dst) || len > (uint64_t)(op_end - op)) {
        return NE_ERR_CORRUPT;
    }
    if (len <= 64u && op_end - op >= FAST_OUTPUT_MARGIN_BYTES) {
        copy_match_fast(op, offset, (size_t)len);
    } else {
        copy_match_exact(op, offset, (size_t)len);
    }
    st->ip = ip;
    st->op = op + len;
    st->last_offset = offset;
    return NE_OK;
}

/* Decodes the elements of a block into [dst, op_end), which is exactly the
 * length the preamble announced. s2 selects S2's repeat copies; the function
 * is inlined into both callers with a constant, so each gets its own copy.
 *
 * The fast loop is written to avoid unpredictable branches, which dominate
 * the cost on real data: the tag table gives length and offset layout for
 * every kind, a literal is treated as a copy "from the input", and one
 * test sends every unusual element (long literal, offset below 16 or beyond
 * the output, S2 repeat) to decode_one. Every element then moves 32 bytes,
 * or 64 when longer than 32; the surplus is overwritten by what follows. */
static SNAPPY_ALWAYS_INLINE int decode_elements(const uint8_t *ip, const uint8_t *ip_end,
                                                uint8_t *dst, uint8_t *op_end, bool s2)
{
    decode_state st = {ip, dst, 0};
    const uint8_t *ip_fast_end =
        ip_end - ip > FAST_INPUT_MARGIN_BYTES ? ip_end - FAST_INPUT_MARGIN_BYTES : ip;
    uint8_t *op_fast_end =
        op_end - dst > FAST_OUTPUT_MARGIN_BYTES ? op_end - FAST_OUTPUT_MARGIN_BYTES : dst;

    /* Bounded: each pass decodes at least one element, which advances ip. */
    while (st.ip < ip_end) {
        if ((size_t)(st.op - dst) >= FAST_MIN_OFFSET) {
            ip = st.ip;
            uint8_t *op = st.op;
            size_t last_offset = st.last_offset;
            /* Bounded: every element advances ip by at least one byte. */
            while (SNAPPY_LIKELY(ip < ip_fast_end && op < op_fast_end)) {
                uint32_t tag = ip[0];
                size_t type = tag & 3u;
                /* All ones for a literal, else zero. Selecting with masks
                 * rather than ?: keeps the compiler from turning the choice
                 * back into a branch that real data mispredicts. */
                size_t literal = (size_t)0 - (size_t)(type == 0);
                /* The next tag's position comes straight from this tag, not
                 * through the table: ip -> tag -> next ip is the loop's
                 * critical path, so it is kept to a load and three cheap
                 * operations. */
                uintptr_t next_literal = (uintptr_t)(ip + 2 + (tag >> 2));
                uintptr_t next_copy = (uintptr_t)(ip + 1 + type);
                const uint8_t *next =
                    (const uint8_t *)((next_literal & literal) | (next_copy & ~literal));
                uint32_t entry = tag_table[tag];
                size_t len = entry & 0x7fu;
                size_t offset = (entry & 0x700u) + (load32(ip + 1) & type_offset_mask[type]);
                /* In range means FAST_MIN_OFFSET <= offset <= produced; the
                 * unsigned subtraction turns that into one comparison. A
                 * literal's offset is zero, so it checks as FAST_MIN_OFFSET. */
                size_t check = offset | (FAST_MIN_OFFSET & literal);
                size_t produced = (size_t)(op - dst);
                bool unusual = (check - FAST_MIN_OFFSET > produced - FAST_MIN_OFFSET) |
                               ((entry & TAG_UNUSUAL) != 0);
                if (SNAPPY_UNLIKELY(unusual)) {
                    break;
                }
                const uint8_t *from =
                    (const uint8_t *)(((uintptr_t)(ip + 1) & literal) |
                                      ((uintptr_t)(op - (offset & ~literal)) & ~literal));
                copy16(op, from);
                copy16(op + 16, from + 16);
                if (SNAPPY_UNLIKELY(len > 32u)) {
                    copy16(op + 32, from + 32);
                    copy16(op + 48, from + 48);
                }
                ip = next;
                op += len;
                if (s2) {
                    last_offset = (last_offset & literal) | (offset & ~literal);
                }
            }
            st.ip = ip;
            st.op = op;
            st.last_offset = last_offset;
            if (st.ip >= ip_end) {
                break;
            }
        }
        int rc = decode_one(&st, ip_end, dst, op_end, s2);
        if (rc != NE_OK) {
            return rc;
        }
    }
    return st.op == op_end ? NE_OK : NE_ERR_CORRUPT;
}

/* Shared front end: the preamble must fit in dst and the elements must fill
 * exactly that many bytes. */
static SNAPPY_ALWAYS_INLINE int decompress_block(const uint8_t *src, size_t src_len, uint8_t *dst,
                                                 size_t dst_cap, size_t *dst_len, bool s2)
{
    NE_ASSERT(src != NULL || src_len == 0);
    NE_ASSERT(dst != NULL || dst_cap == 0);
    NE_ASSERT(dst_len != NULL);
    uint32_t expected;
    size_t used;
    int rc = read_preamble(src, src_len, &expected, &used);
    if (rc != NE_OK) {
        return rc;
    }
    if ((uint64_t)expected > (uint64_t)dst_cap) {
        return NE_ERR_TOO_BIG;
    }
    if (expected == 0) {
        /* Any element would produce at least one byte. */
        if (used != src_len) {
            return NE_ERR_CORRUPT;
        }
        *dst_len = 0;
        return NE_OK;
    }
    rc = decode_elements(src + used, src + src_len, dst, dst + expected, s2);
    if (rc != NE_OK) {
        return rc;
    }
    *dst_len = expected;
    return NE_OK;
}

int ne_snappy_decompress(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_cap,
                         size_t *dst_len)
{
    return decompress_block(src, src_len, dst, dst_cap, dst_len, false);
}

int ne_s2_decompress(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_cap,
                     size_t *dst_len)
{
    return decompress_block(src, src_len, dst, dst_cap, dst_len, true);
}
