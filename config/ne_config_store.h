/* Compile-time bounds of the storage engine (src/store).
 *
 * A store (one JetStream stream, one KV bucket, one MQTT session stream) is an
 * ne_store plus its backend: an ne_store_mem over a caller's arena, or an
 * ne_store_flash over one ne_flash (a device or a partition of one). The
 * knobs below fix the size of those structures; docs/storage.md shows how to
 * size them for a board. RAM of one flash store is about
 *   NE_STORE_MAX_BLOCKS * (64 + NE_STORE_BLOCK_MAX_RECORDS / 8)
 *   + NE_STORE_WRITE_BUFFER_BYTES + 2 * NE_STORE_PACK_RAW_BYTES (plus 1/6 of it)
 *   + NE_STORE_READ_BUFFER_BYTES + NE_STORE_PROGRAM_CHUNK_BYTES + 1 KiB,
 * and each indexed subject costs sizeof(ne_store_subject) = 32 B in a table
 * the caller provides. A profile may override any knob (it is included before
 * this file through ne_config.h).
 */
#ifndef NE_CONFIG_STORE_H
#define NE_CONFIG_STORE_H

#include "ne_config.h"

/* Erase blocks one flash store manages (the ne_flash it is given may have
 * fewer, never more: opening a larger one fails with NE_ERR_TOO_BIG). One unit
 * costs about 64 B of block index plus its deleted-record bitmap
 * (NE_STORE_BLOCK_MAX_RECORDS / 8 B). */
#ifndef NE_STORE_MAX_BLOCKS
#define NE_STORE_MAX_BLOCKS 256
#endif

/* Records one erase block may hold; a block is closed when it has this many
 * even if bytes are left, because RAM keeps one "deleted" bit per record slot.
 * At most 65535. Costs NE_STORE_BLOCK_MAX_RECORDS / 8 B per block. Size it as
 * erase_bytes / (smallest typical record + 48). */
#ifndef NE_STORE_BLOCK_MAX_RECORDS
#define NE_STORE_BLOCK_MAX_RECORDS 1024
#endif

/* Appended records and deletions wait here until ne_store_sync (or until it
 * fills) programs them in one go. It also bounds the largest record: a record
 * frame (message plus 40 B) must fit in it, and in one erase block. Costs this
 * many bytes per flash store. */
#ifndef NE_STORE_WRITE_BUFFER_BYTES
#define NE_STORE_WRITE_BUFFER_BYTES (32 * 1024)
#endif

/* Bytes programmed per flash call (a multiple of the device's program unit;
 * a device whose program unit is larger cannot be opened). Costs this many
 * bytes per flash store. */
#ifndef NE_STORE_PROGRAM_CHUNK_BYTES
#define NE_STORE_PROGRAM_CHUNK_BYTES 4096
#endif

/* Window through which records are scanned and read from flash (recovery,
 * lookups, compaction). Bigger means fewer flash reads. At least 512. Costs
 * this many bytes per flash store. */
#ifndef NE_STORE_READ_BUFFER_BYTES
#define NE_STORE_READ_BUFFER_BYTES 4096
#endif

/* Largest run of records compressed together (uncompressed bytes of one
 * snappy-compressed pack). 0 turns compression off and saves the buffers.
 * Costs about 2.2 times this per flash store (one buffer to decompress into,
 * one for compressed bytes). */
#ifndef NE_STORE_PACK_RAW_BYTES
#define NE_STORE_PACK_RAW_BYTES (16 * 1024)
#endif

/* Most blocks one compaction merges into one new block. Bounds the victim
 * list written into the new block's first record (8 B each) and the work of
 * one compaction step. 2 to 32. Costs no RAM beyond a few bytes each. */
#ifndef NE_STORE_COMPACT_MAX_VICTIMS
#define NE_STORE_COMPACT_MAX_VICTIMS 8
#endif

/* Static wear levelling: when the most-erased block has been erased this many
 * more times than the least-erased block that holds data, compaction moves
 * that cold block's records out so the block returns to use. Costs no RAM. */
#ifndef NE_STORE_WEAR_SPREAD_MAX
#define NE_STORE_WEAR_SPREAD_MAX 32
#endif

/* Longest subject a store accepts (nats-server has no hard limit; the
 * control line bounds it). Longer ones are refused with NE_ERR_INVALID. At
 * most NE_STORE_READ_BUFFER_BYTES and 65535. Costs no RAM by itself. */
#ifndef NE_STORE_MAX_SUBJECT_BYTES
#define NE_STORE_MAX_SUBJECT_BYTES 512
#endif

#endif /* NE_CONFIG_STORE_H */
