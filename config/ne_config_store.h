/* Compile-time bounds of the storage engine (src/store).
 *
 * A storage device (ne_store_dev: one flash partition or one file) holds many
 * logs: streams, consumer states, KV logs, RAFT logs and its catalogue. Its
 * RAM is fixed by the knobs below, about
 *   NE_STORE_MAX_BLOCKS * (93 + NE_STORE_BLOCK_MAX_RECORDS / 8)
 *   + NE_STORE_MAX_LOGS * 168 + NE_STORE_META_KEYS * 40
 *   + NE_STORE_WRITE_BUFFER_BYTES + 2.2 * NE_STORE_PACK_RAW_BYTES
 *   + NE_STORE_READ_WINDOWS * NE_STORE_READ_BUFFER_BYTES + NE_STORE_PROGRAM_CHUNK_BYTES
 *   + NE_STORE_MAX_CONFIG_BYTES + 2.7 KiB,
 * shared by all its logs (163,544 B with these defaults). Each log's front
 * end (ne_store 216 B, a consumer 280 B, a RAFT log 240 B) and its subject
 * table (40 B per slot, plus the subjects' bytes) are the caller's.
 * docs/storage.md has the table, the tiny and gateway profiles' maxima, and
 * shows how to size them for a board. A profile may override any knob (it
 * is included before this file through ne_config.h).
 */
#ifndef NE_CONFIG_STORE_H
#define NE_CONFIG_STORE_H

#include "ne_config.h"

/* Erase blocks one storage device manages (the ne_flash it is given may have
 * fewer, never more: opening a larger one fails with NE_ERR_TOO_BIG). Every
 * log of the device shares them. One unit costs 92 B of block index plus its
 * deleted-record bitmap (NE_STORE_BLOCK_MAX_RECORDS / 8 + 1 B). */
#ifndef NE_STORE_MAX_BLOCKS
#define NE_STORE_MAX_BLOCKS 256
#endif

/* Logs one device holds (streams, consumer states, KV logs, RAFT logs, and
 * the catalogue itself). A device holding more cannot be opened
 * (NE_ERR_TOO_BIG); creating one more fails with NE_ERR_NOMEM. Costs 168 B
 * each in the device (its slot) plus its catalogue keys (40 B each). */
#ifndef NE_STORE_MAX_LOGS
#define NE_STORE_MAX_LOGS 64
#endif

/* Keys of the catalogue's index: a power of two whose 7/8 hold at least two
 * keys per log (a log's entry; a RAFT log's term, vote and snapshot). Costs
 * 40 B each. */
#ifndef NE_STORE_META_KEYS
#define NE_STORE_META_KEYS 256
#endif

/* Largest configuration a log's catalogue entry carries (the caller's
 * bytes: a stream's or a consumer's configuration). Costs this many bytes
 * (plus 320) once per device, for reading entries. */
#ifndef NE_STORE_MAX_CONFIG_BYTES
#define NE_STORE_MAX_CONFIG_BYTES 2048
#endif

/* Damage reports a device keeps (block, log, what); more are counted and
 * dropped. Costs 24 B each. */
#ifndef NE_STORE_MAX_DAMAGE_REPORTS
#define NE_STORE_MAX_DAMAGE_REPORTS 16
#endif

/* Records one erase block may hold; a block is closed when it has this many
 * even if bytes are left, because RAM keeps one "deleted" bit per record slot.
 * At most 65535. Costs NE_STORE_BLOCK_MAX_RECORDS / 8 B per block. Size it as
 * erase_bytes / (smallest typical record + 48). */
#ifndef NE_STORE_BLOCK_MAX_RECORDS
#define NE_STORE_BLOCK_MAX_RECORDS 1024
#endif

/* Appended records and deletions wait here until ne_store_sync (or until it
 * fills, or another log writes) programs them in one go. It also bounds the
 * largest record: a record frame (message plus 40 B) must fit in it, and in
 * one erase block. Costs this many bytes per device. */
#ifndef NE_STORE_WRITE_BUFFER_BYTES
#define NE_STORE_WRITE_BUFFER_BYTES (32 * 1024)
#endif

/* The stage where small frames gather before a flash call: they are
 * programmed in pieces of this size (a multiple of the device's program
 * unit; a device whose program unit is larger cannot be opened). A run of at
 * least this many bytes (a large record) is programmed straight from the
 * write buffer, whole program units in one call. Costs this many bytes per
 * device. */
#ifndef NE_STORE_PROGRAM_CHUNK_BYTES
#define NE_STORE_PROGRAM_CHUNK_BYTES 4096
#endif

/* Window through which records are scanned and read from flash (recovery,
 * lookups, compaction). Bigger means fewer flash reads. At least 512. Costs
 * this many bytes per device. */
#ifndef NE_STORE_READ_BUFFER_BYTES
#define NE_STORE_READ_BUFFER_BYTES 4096
#endif

/* Read windows of a device, each NE_STORE_READ_BUFFER_BYTES. A lookup that
 * misses every window refills the one used least recently: with two, a
 * reader going forward (a consumer, a forwarder) and removals behind it (acks
 * of a work queue, a forwarder's acknowledged messages) do not take each
 * other's window and go back to flash for every record. At least 1. Costs
 * NE_STORE_READ_BUFFER_BYTES each per device. */
#ifndef NE_STORE_READ_WINDOWS
#define NE_STORE_READ_WINDOWS 2
#endif
#if NE_STORE_READ_WINDOWS < 1
#error "NE_STORE_READ_WINDOWS must be at least 1"
#endif

/* Largest run of records compressed together (uncompressed bytes of one
 * snappy-compressed pack). 0 turns compression off and saves the buffers.
 * Costs about 2.2 times this per device (one buffer to decompress into, one
 * for compressed bytes). */
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
