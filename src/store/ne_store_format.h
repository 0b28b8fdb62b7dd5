/* The device's on-flash format and the internals its files share.
 * docs/storage.md explains the format and why it is power-safe.
 *
 * A block: a 32 B header (magic, version, erase count, geometry, CRC) in its
 * first program unit(s), then 8-byte aligned frames. Every frame has a 16 B
 * header: type, flags, ordinal, body length, CRC-32C of the body, and a
 * CRC-32C of those 12 bytes seeded with the block's salt (the header's CRC),
 * so that stale frames of an earlier life of the block never validate. A
 * block belongs to one log (its BEGIN names the log). All integers are
 * little-endian. Internal to src/store.
 */
#ifndef NE_STORE_FORMAT_H
#define NE_STORE_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/ne_store_backend.h"
#include "store/ne_store_dev.h"

#define SF_MAGIC 0x4253454eu /* "NESB" */
#define SF_VERSION 3u
#define SF_BLOCK_HEADER_BYTES 32u
#define SF_FRAME_HEADER_BYTES 16u

/* Frame types. 0x00 and 0xff are never used: zeroed or erased bytes. */
#define SF_BEGIN 0x42u  /* first frame of a block: serial, log, floor, epoch, victims */
#define SF_MSG 0x4du    /* one record */
#define SF_PACK 0x50u   /* snappy-compressed run of MSG frames */
#define SF_DEL 0x44u    /* tombstones */
#define SF_FLOOR 0x46u  /* every record below a sequence is gone; next sequence; epoch */
#define SF_RETIRE 0x52u /* floor, next sequence, epoch, then blocks about to be erased */
#define SF_COMMIT 0x43u /* a compaction block is complete (at data_end): its content's CRC */

/* MSG body: sequence (u64), time (u64), headers length (u32), subject length
 * (u16), flags (u16), [the record it replaces (24 B) when flagged], subject,
 * headers, payload. */
#define SF_MSG_FIXED_BYTES 24u
#define SF_MSG_REPLACES 1u   /* flag: a tombstone of the record this one replaces follows */
#define SF_REPLACE_BYTES 24u /* sequence (u64), serial (u64), ordinal (u16), 0, bytes (u32) */
#define SF_PACK_FIXED_BYTES 24u
#define SF_DEL_ENTRY_BYTES 32u
#define SF_DEL_MAX_ENTRIES 64u
#define SF_BEGIN_FIXED_BYTES 40u
#define SF_FLOOR_BYTES 24u
#define SF_RETIRE_FIXED_BYTES 24u
#define SF_COMMIT_BYTES 24u

#define SF_KIND_APPEND 0u
#define SF_KIND_COMPACT 1u

/* The catalogue's own log. */
#define SF_META_LOG_ID 1u
#define SF_META_SLOT 0u

/* Block states in RAM. */
#define SF_STATE_UNKNOWN 0u /* no valid header: erase before use */
#define SF_STATE_DIRTY 1u   /* header valid, content to discard: erase before use */
#define SF_STATE_FREE 2u    /* header valid, data area believed erased: check before use */
#define SF_STATE_READY 3u   /* header valid, data area known erased */
#define SF_STATE_DATA 4u    /* part of a log */

/* A single record is compressed alone (in a pack of one) from this frame
 * size on: smaller ones rarely save 64 B, the least a pack must save. */
#define SF_PACK_SINGLE_MIN_BYTES 128u

/* Block flags in RAM. */
#define SF_FLAG_SEALED 1u          /* takes no more frames */
#define SF_FLAG_RETIRED 2u         /* replaced or dead: erase before the next head opens */
#define SF_FLAG_SCANNED 4u         /* recovery: records counted */
#define SF_FLAG_DAMAGED 8u         /* recovery: a frame failed its CRC */
#define SF_FLAG_UNCOMMITTED 16u    /* recovery: a compaction block without its COMMIT */
#define SF_FLAG_ERASE_UNSYNCED 32u /* erased since the last sync: maybe not on the medium yet */
#define SF_FLAG_READ_BLANK 64u     /* headerless, read erased whole by recovery (RAM only) */

/* Slot flags. */
#define SF_SLOT_ATTACHED 1u /* a front end owns it: its blocks are scanned and live */
#define SF_SLOT_ORPHAN 2u   /* blocks on flash with no catalogue entry: left alone */
#define SF_SLOT_CATALOGUED 4u

#define SF_NONE 0xffffffffu
#define SF_NO_SLOT 0xffffu

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
    uint16_t flags;
    uint16_t data_off; /* subject starts here in the body (after the replaced record) */
    uint32_t body_len;
    uint32_t body_crc;
    uint32_t body_off;
    uint32_t frame_off; /* the MSG frame, or the pack holding it */
    const uint8_t *mem; /* body bytes when in memory, else NULL */
    bool verified;      /* body CRC already checked */
    bool in_pack;
    /* The record this one replaces (flags & SF_MSG_REPLACES). */
    uint64_t replaced_seq;
    uint64_t replaced_serial;
    uint16_t replaced_ordinal;
    uint32_t replaced_bytes;
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

/* ---- ne_store_io.c ------------------------------------------------------- */

uint32_t sf_block_salt(const uint8_t header[SF_BLOCK_HEADER_BYTES]);
void sf_encode_frame_header(uint8_t *dst, uint8_t type, uint16_t ordinal, uint32_t len,
                            uint32_t body_crc, uint32_t salt);
bool sf_decode_frame_header(const uint8_t *src, uint32_t salt, sf_frame *fr);

/* Where a block's bytes come from: flash, or the write buffer past the
 * head's write_off. Returns a pointer to len bytes at off (len at most
 * NE_STORE_READ_BUFFER_BYTES), or NULL with *rc set (NE_OK: past the end of
 * what the block holds). */
const uint8_t *sf_peek(ne_store_dev *dev, uint32_t block, uint32_t off, uint32_t len, int *rc);
/* Copies len bytes at off (any length) into dst. */
int sf_read(ne_store_dev *dev, uint32_t block, uint32_t off, void *dst, uint32_t len);
/* Where the readable bytes of a block end (a head: write_off + what the
 * write buffer holds for it). */
uint32_t sf_block_end(const ne_store_dev *dev, uint32_t block);
/* The block whose unprogrammed frames the write buffer holds, or -1. */
int32_t sf_wbuf_block(const ne_store_dev *dev);
void sf_forget_reads(ne_store_dev *dev);
/* CRC-32C of a block's bytes from data_start to end. */
int sf_content_crc(ne_store_dev *dev, uint32_t block, uint32_t end, uint32_t *crc);

int sf_next_frame(ne_store_dev *dev, uint32_t block, uint32_t *pos, uint32_t end, sf_frame *fr);
void sf_cursor_init(ne_store_dev *dev, sf_cursor *c, uint32_t block, bool verify);
int sf_cursor_next(ne_store_dev *dev, sf_cursor *c, sf_rec *rec, sf_frame *frame);
/* Checks a record's body CRC (reading it from flash when needed). */
int sf_rec_verify(ne_store_dev *dev, uint32_t block, sf_rec *rec);
/* The record's subject, valid until the next read of the device. */
const char *sf_rec_subject(ne_store_dev *dev, uint32_t block, const sf_rec *rec, int *rc);
/* Reads the decoded pack at frame offset off of block (cached). */
int sf_pack_load(ne_store_dev *dev, uint32_t block, const sf_frame *fr);
/* Reads a non-record frame's body into dev->scratch and checks its CRC;
 * NULL when damaged (counted) or too long, with *rc set on a flash error. */
const uint8_t *sf_frame_body(ne_store_dev *dev, uint32_t block, const sf_frame *fr, int *rc);

bool sf_deleted(const ne_store_dev *dev, uint32_t block, uint32_t ordinal);
void sf_set_deleted(ne_store_dev *dev, uint32_t block, uint32_t ordinal);

/* Emitter: programs a run of bytes into a block from a unit boundary. */
void sf_emit_begin(ne_store_dev *dev, uint32_t block, uint32_t off);
/* NE_ERR_FULL (nothing programmed) when the bytes would pass data_end. */
int sf_emit(ne_store_dev *dev, const void *bytes, uint32_t len);
/* Pads to the program unit with 0xff and programs the rest; *end_off gets
 * the block offset after it. */
int sf_emit_end(ne_store_dev *dev, uint32_t *end_off);
/* Emits the frames in src (a write buffer's content), compressing runs of
 * MSG frames into packs when that saves space. */
int sf_emit_frames(ne_store_dev *dev, const uint8_t *src, uint32_t len, uint32_t salt);
/* A write buffer's frames (len bytes of buf, which holds cap) programmed at
 * block offset off as sf_emit_begin, sf_emit_frames and sf_emit_end would;
 * when no frame goes into a pack and buf has room for the padding, in one
 * program call straight from buf (its bytes after len then hold 0xff).
 * *end_off gets the block offset after them. */
int sf_emit_buffer(ne_store_dev *dev, uint32_t block, uint32_t off, uint8_t *buf, uint32_t len,
                   uint32_t cap, uint32_t salt, uint32_t *end_off);

/* Erases a block and programs its header (erase count + 1): READY. */
int sf_erase_block(ne_store_dev *dev, uint32_t block);
/* Makes a free block READY (a blank check, or an erase). */
int sf_prepare_block(ne_store_dev *dev, uint32_t block);
int sf_flash_sync(ne_store_dev *dev);
/* Records a flash error as sticky (the device must be reopened). */
int sf_fail(ne_store_dev *dev, int rc);

/* ---- ne_store_log.c ------------------------------------------------------ */

/* Programs the write buffer into its log's head. */
int sf_flush(ne_store_dev *dev);
/* Blocks ready or erasable, and the one with the least (or most) wear. */
uint32_t sf_free_count(const ne_store_dev *dev);
int32_t sf_pick_free(const ne_store_dev *dev, bool most_worn);
/* Rebuilds order[] (attached logs' blocks with records, by slot then first
 * sequence). */
void sf_rebuild_order(ne_store_dev *dev);
/* The data block with this serial (binary search of by_serial[]), or -1. */
int32_t sf_block_by_serial(const ne_store_dev *dev, uint64_t serial);
/* by_serial[] upkeep: a block got a serial (the highest so far) or lost it. */
void sf_serial_add(ne_store_dev *dev, uint32_t block);
void sf_serial_remove(ne_store_dev *dev, uint32_t block);
void sf_serial_rebuild(ne_store_dev *dev);
/* Whether len bytes all read 0xFF. */
bool sf_all_erased(const uint8_t *p, uint32_t len);
/* Appends a frame to the write buffer (its log's head must have room), its
 * body zeroed. */
uint8_t *sf_wbuf_frame(ne_store_dev *dev, uint8_t type, uint16_t ordinal, uint32_t len);
/* The same for a caller that writes every byte of the body (a record's copy):
 * only the header and the padding after the body are zeroed. */
uint8_t *sf_wbuf_frame_filled(ne_store_dev *dev, uint8_t type, uint16_t ordinal, uint32_t len);
void sf_wbuf_seal_frame(uint8_t *frame, uint32_t salt);
/* Encodes BEGIN into the write buffer for block b of slot s. */
void sf_wbuf_begin(ne_store_dev *dev, uint32_t block, const ne_store_slot *s, uint8_t kind,
                   const uint64_t *victims, uint32_t victim_count);
/* Erases every block that is retired but not yet erased. */
int sf_erase_retired(ne_store_dev *dev);
/* Makes room in slot s's head for a frame (flushing the write buffer,
 * switching it to s, or opening a new head). */
int sf_ensure_room(ne_store_dev *dev, ne_store_slot *s, uint32_t frame_bytes, bool msg);
/* Writes a FLOOR frame for s when its floor or next sequence moved since
 * the last one (or always with force). */
int sf_write_floor(ne_store_dev *dev, ne_store_slot *s, bool force);
/* The slot that owns block (SF_NO_SLOT: none attached). */
ne_store_slot *sf_block_slot(ne_store_dev *dev, uint32_t block);
/* Position of the first block of slot s that may hold from_seq or later in
 * order[]; order_end gets one past s's last. */
uint32_t sf_order_lower_bound(const ne_store_dev *dev, uint32_t slot, uint64_t from_seq,
                              uint32_t *order_end);
/* Finds record `seq` of slot s exactly (after blocks may have moved). */
int sf_find_exact(ne_store_dev *dev, ne_store_slot *s, uint64_t seq, ne_store_rec_info *info);
void sf_account_removed(ne_store_dev *dev, uint32_t block, uint32_t ordinal, uint32_t bytes);
/* A log's records go away with its blocks: every block it owns is erased
 * (the catalogue must already say so durably). */
int sf_drop_blocks(ne_store_dev *dev, uint32_t log_id);

/* Makes everything durable for log s (its floor written first, twice when
 * a replacement held it back); s NULL: the write buffer and the device
 * only. */
int sf_sync_log(ne_store_dev *dev, ne_store_slot *s);

/* The floor a frame may carry now (the floor, held below records replaced
 * by records not yet synced). */
uint64_t sf_floor_to_write(const ne_store_slot *s);

/* The slot of a catalogued log id, or NULL. */
ne_store_slot *sf_slot_by_id(ne_store_dev *dev, uint32_t id);
/* Calls fn for every live record of s in sequence order; fn's subject is
 * valid during the call. fn returns NE_OK to go on. */
typedef int (*sf_walk_fn)(void *ctx, uint64_t seq, uint64_t ts_ns, const char *subject,
                          size_t subject_len, uint32_t bytes);
int sf_walk_live(ne_store_dev *dev, ne_store_slot *s, sf_walk_fn fn, void *ctx);
/* The backend of device logs. */
extern const ne_store_backend sf_log_backend;
/* Attaches a front end to slot s (ne_store_dev.c): its counts come from the
 * log's live records, then its limits apply. */
int sf_attach(ne_store_dev *dev, ne_store_slot *s, ne_store *store, const ne_store_config *cfg);

/* ---- ne_store_compact.c -------------------------------------------------- */

/* One compaction step over the device (only_slot SF_NONE) or over one
 * log's blocks: *freed gets the blocks it returned to use (0: none could
 * be). */
int sf_compact_step_of(ne_store_dev *dev, uint32_t only_slot, uint32_t *freed);
/* Moves the least-worn data block's records out when wear has drifted. */
int sf_wear_level(ne_store_dev *dev);
/* Makes sure a rewrite has a free block to copy into: erases retired
 * blocks, and compacts while none is free (compaction may write any log's
 * frames). NE_ERR_FULL when none can be made. */
int sf_rewrite_room(ne_store_dev *dev);
/* Copies the live records of the victims (blocks of slot s, in sequence
 * order) into a fresh block, leaving out those above keep_to and the one
 * at drop_seq (0: none), then erases the victims: truncation and erasure.
 * Makes room first (sf_rewrite_room). NE_ERR_FULL when there is none, or
 * the records do not fit in one block: then nothing changed on flash. */
int sf_rewrite(ne_store_dev *dev, ne_store_slot *s, const uint32_t *victims, uint32_t n,
               uint64_t keep_to, uint64_t drop_seq);

/* ---- ne_store_recover.c -------------------------------------------------- */

/* Recovers the device's structure from the flash alone: blocks, logs and
 * their floors, every record's fate. The catalogue is read after. */
int sf_recover(ne_store_dev *dev);
/* Adds a damage report. */
void sf_report(ne_store_dev *dev, ne_store_damage_kind kind, uint32_t block, uint32_t log_id,
               uint64_t count);

#endif
