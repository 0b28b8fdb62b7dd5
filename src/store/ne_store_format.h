/* The flash store's on-flash format and the internals its files share.
 * docs/storage.md explains the format and why it is power-safe.
 *
 * A block: a 32 B header (magic, version, erase count, geometry, CRC) in its
 * first program unit(s), then 8-byte aligned frames. Every frame has a 16 B
 * header: type, flags, ordinal, body length, CRC-32C of the body, and a
 * CRC-32C of those 12 bytes seeded with the block's salt (the header's CRC),
 * so that stale frames of an earlier life of the block never validate. All
 * integers are little-endian.
 */
#ifndef NE_STORE_FORMAT_H
#define NE_STORE_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/ne_store_backend.h"
#include "store/ne_store_flash.h"

#define SF_MAGIC 0x4253454eu /* "NESB" */
#define SF_VERSION 2u
#define SF_BLOCK_HEADER_BYTES 32u
#define SF_FRAME_HEADER_BYTES 16u

/* Frame types. 0x00 and 0xff are never used: zeroed or erased bytes. */
#define SF_BEGIN 0x42u  /* first frame of a block: serial, floor, next sequence, victims */
#define SF_MSG 0x4du    /* one record */
#define SF_PACK 0x50u   /* snappy-compressed run of MSG frames */
#define SF_DEL 0x44u    /* tombstones */
#define SF_FLOOR 0x46u  /* every record below a sequence is gone */
#define SF_RETIRE 0x52u /* floor, next sequence, then blocks about to be erased, by serial */
#define SF_COMMIT 0x43u /* a compaction block is complete (at data_end): its content's CRC */

#define SF_MSG_FIXED_BYTES 24u
#define SF_PACK_FIXED_BYTES 24u
#define SF_DEL_ENTRY_BYTES 32u
#define SF_DEL_MAX_ENTRIES 64u
#define SF_BEGIN_FIXED_BYTES 32u
#define SF_FLOOR_BYTES 16u
#define SF_COMMIT_BYTES 24u
#define SF_RETIRE_FIXED_BYTES 16u

#define SF_KIND_APPEND 0u
#define SF_KIND_COMPACT 1u

/* Block states in RAM. */
#define SF_STATE_UNKNOWN 0u /* no valid header: erase before use */
#define SF_STATE_DIRTY 1u   /* header valid, content to discard: erase before use */
#define SF_STATE_FREE 2u    /* header valid, data area believed erased: check before use */
#define SF_STATE_READY 3u   /* header valid, data area known erased */
#define SF_STATE_DATA 4u    /* part of the log */

/* Block flags in RAM. */
#define SF_FLAG_SEALED 1u       /* takes no more frames */
#define SF_FLAG_RETIRED 2u      /* replaced or dead: erase before the next head opens */
#define SF_FLAG_SCANNED 4u      /* recovery: records counted */
#define SF_FLAG_DAMAGED 8u      /* recovery: a frame failed its CRC */
#define SF_FLAG_UNCOMMITTED 16u /* recovery: a compaction block without its COMMIT */

#define SF_NONE 0xffffffffu

static inline uint32_t sf_align8(uint32_t n)
{
    return (n + 7u) & ~7u;
}

static inline uint32_t sf_align_up(uint32_t n, uint32_t unit)
{
    return (n + unit - 1u) / unit * unit;
}

static inline uint16_t sf_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t sf_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint64_t sf_get64(const uint8_t *p)
{
    return (uint64_t)sf_get32(p) | ((uint64_t)sf_get32(p + 4) << 32);
}

static inline void sf_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void sf_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline void sf_put64(uint8_t *p, uint64_t v)
{
    sf_put32(p, (uint32_t)v);
    sf_put32(p + 4, (uint32_t)(v >> 32));
}

/* A frame header as read. */
typedef struct sf_frame {
    uint8_t type;
    uint8_t flags;
    uint16_t ordinal;
    uint32_t len;
    uint32_t body_crc;
    uint32_t off; /* of the header within the block */
} sf_frame;

/* A record as a cursor found it. Its body is either in memory (a decoded
 * pack, the write buffer) or on flash at body_off. */
typedef struct sf_rec {
    uint64_t seq;
    uint64_t timestamp_ns;
    uint32_t headers_len;
    uint32_t payload_len;
    uint16_t subject_len;
    uint16_t ordinal;
    uint32_t body_len;
    uint32_t body_crc;
    uint32_t body_off;
    const uint8_t *mem; /* body bytes when in memory, else NULL */
    bool verified;      /* body CRC already checked */
} sf_rec;

/* Walks the frames of one block, entering packs. */
typedef struct sf_cursor {
    uint32_t block;
    uint32_t pos; /* next frame */
    uint32_t end;
    bool verify; /* check every record's body CRC (recovery, compaction) */
    bool in_pack;
    uint32_t pack_off; /* frame offset of the pack being walked */
    uint32_t ipos;
    uint32_t ilen;
} sf_cursor;

/* What sf_cursor_next found (negative values are flash errors). */
#define SF_REC 1     /* a record, in *rec */
#define SF_OTHER 2   /* another frame, in *frame */
#define SF_END 3     /* no more frames */
#define SF_BAD_REC 4 /* a record whose body failed its CRC; rec->ordinal is valid */
#define SF_BAD 5     /* damaged bytes skipped (no ordinal known) */

/* ---- ne_store_flash_io.c ------------------------------------------------- */

uint32_t sf_block_salt(const uint8_t header[SF_BLOCK_HEADER_BYTES]);
void sf_encode_frame_header(uint8_t *dst, uint8_t type, uint16_t ordinal, uint32_t len,
                            uint32_t body_crc, uint32_t salt);
bool sf_decode_frame_header(const uint8_t *src, uint32_t salt, sf_frame *fr);

/* Where a block's bytes come from: flash, or the write buffer past the
 * head's write_off. Returns a pointer to len bytes at off (len at most
 * NE_STORE_READ_BUFFER_BYTES), or NULL with *rc set (NE_OK: past the end of
 * what the block holds). */
const uint8_t *sf_peek(ne_store_flash *fs, uint32_t block, uint32_t off, uint32_t len, int *rc);
/* Copies len bytes at off (any length) into dst. */
int sf_read(ne_store_flash *fs, uint32_t block, uint32_t off, void *dst, uint32_t len);
/* Where the readable bytes of a block end (the head: write_off + wlen). */
uint32_t sf_block_end(const ne_store_flash *fs, uint32_t block);
void sf_forget_reads(ne_store_flash *fs);

int sf_next_frame(ne_store_flash *fs, uint32_t block, uint32_t *pos, uint32_t end, sf_frame *fr);
void sf_cursor_init(ne_store_flash *fs, sf_cursor *c, uint32_t block, bool verify);
int sf_cursor_next(ne_store_flash *fs, sf_cursor *c, sf_rec *rec, sf_frame *frame);
/* Checks a record's body CRC (reading it from flash when needed). */
int sf_rec_verify(ne_store_flash *fs, uint32_t block, sf_rec *rec);
/* The record's subject, valid until the next read of the store. */
const char *sf_rec_subject(ne_store_flash *fs, uint32_t block, const sf_rec *rec, int *rc);
/* Reads the decoded pack at frame offset off of block (cached). */
int sf_pack_load(ne_store_flash *fs, uint32_t block, const sf_frame *fr);

bool sf_deleted(const ne_store_flash *fs, uint32_t block, uint32_t ordinal);
void sf_set_deleted(ne_store_flash *fs, uint32_t block, uint32_t ordinal);

/* Emitter: programs a run of bytes into a block from a unit boundary. */
void sf_emit_begin(ne_store_flash *fs, uint32_t block, uint32_t off);
/* NE_ERR_FULL (nothing programmed) when the bytes would pass data_end. */
int sf_emit(ne_store_flash *fs, const void *bytes, uint32_t len);
/* Pads to the program unit with 0xff and programs the rest; *end_off gets
 * the block offset after it. */
int sf_emit_end(ne_store_flash *fs, uint32_t *end_off);
/* Emits the frames in src (a write buffer's content), compressing runs of
 * MSG frames into packs when that saves space. */
int sf_emit_frames(ne_store_flash *fs, const uint8_t *src, uint32_t len, uint32_t salt);

/* Erases a block and programs its header (erase count + 1): READY. */
int sf_erase_block(ne_store_flash *fs, uint32_t block);
/* Makes a free block READY (a blank check, or an erase). */
int sf_prepare_block(ne_store_flash *fs, uint32_t block);
int sf_flash_sync(ne_store_flash *fs);
/* Records a flash error as sticky (the store must be reopened). */
int sf_fail(ne_store_flash *fs, int rc);

/* ---- ne_store_flash.c ---------------------------------------------------- */

/* Programs the write buffer into the head. */
int sf_flush(ne_store_flash *fs);
/* Blocks ready or erasable, and the one with the least (or most) wear. */
uint32_t sf_free_count(const ne_store_flash *fs);
int32_t sf_pick_free(const ne_store_flash *fs, bool most_worn);
/* Rebuilds order[] from the blocks' ranges. */
void sf_rebuild_order(ne_store_flash *fs);
int32_t sf_block_by_serial(const ne_store_flash *fs, uint64_t serial);
/* Appends a frame to the write buffer (the head must have room). */
uint8_t *sf_wbuf_frame(ne_store_flash *fs, uint8_t type, uint16_t ordinal, uint32_t len);
void sf_wbuf_seal_frame(ne_store_flash *fs, uint8_t *frame, uint32_t salt);
/* Encodes BEGIN into the write buffer for block b. */
void sf_wbuf_begin(ne_store_flash *fs, uint32_t block, uint8_t kind, const uint64_t *victims,
                   uint32_t victim_count);
/* Erases every block that is retired but not yet erased. */
int sf_erase_retired(ne_store_flash *fs);

/* ---- ne_store_flash_compact.c -------------------------------------------- */

/* One compaction step: *freed gets the blocks it returned to use (0: none
 * could be). */
int sf_compact_step(ne_store_flash *fs, uint32_t *freed);
/* Moves the least-worn data block's records out when wear has drifted. */
int sf_wear_level(ne_store_flash *fs);

#endif
