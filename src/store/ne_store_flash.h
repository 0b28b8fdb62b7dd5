/* The flash store: a stream kept as a power-safe log on one ne_flash (a whole
 * device or a partition of one). docs/storage.md describes the format.
 *
 * Records are appended to the head erase block through a RAM write buffer and
 * programmed on ne_store_sync. Deletions are tombstones, purges of the front a
 * floor sequence; both are records of the log too. Compaction copies the
 * live records of mostly-dead blocks into a fresh block (snappy-compressed
 * when that saves space) and erases the old ones; the least-erased free block
 * is always taken next, and a block whose data never moves is moved when the
 * erase counts drift apart (NE_STORE_WEAR_SPREAD_MAX).
 *
 * Opening scans the device and rebuilds every RAM index; a torn write at the
 * end of the log is detected by CRC and dropped, records before it are kept.
 * A record whose CRC fails anywhere is counted (state.corrupt_records) and
 * never returned. After any flash error other than a refused operation
 * (NE_ERR_IO, NE_ERR_POWER_LOSS) the store refuses everything with that error
 * until it is opened again, which recovers from the flash.
 *
 * RAM: sizeof(ne_store_flash), fixed by config/ne_config_store.h.
 */
#ifndef NE_STORE_FLASH_H
#define NE_STORE_FLASH_H

#include <stdbool.h>
#include <stdint.h>

#include "codec/ne_snappy.h"
#include "port.h"
#include "store/ne_store.h"

#if NE_STORE_BLOCK_MAX_RECORDS < 8 || NE_STORE_BLOCK_MAX_RECORDS > 65535
#error "NE_STORE_BLOCK_MAX_RECORDS must be within 8..65535"
#endif
#if NE_STORE_COMPACT_MAX_VICTIMS < 2 || NE_STORE_COMPACT_MAX_VICTIMS > 32
#error "NE_STORE_COMPACT_MAX_VICTIMS must be within 2..32"
#endif
#if NE_STORE_MAX_BLOCKS < 4 || NE_STORE_MAX_BLOCKS > 65535
#error "NE_STORE_MAX_BLOCKS must be within 4..65535"
#endif
#if NE_STORE_READ_BUFFER_BYTES < 512
#error "NE_STORE_READ_BUFFER_BYTES must be at least 512"
#endif
#if NE_STORE_MAX_SUBJECT_BYTES > NE_STORE_READ_BUFFER_BYTES || NE_STORE_MAX_SUBJECT_BYTES > 65535
#error "NE_STORE_MAX_SUBJECT_BYTES must fit the read buffer and 16 bits"
#endif

/* Bytes of the buffer compressed packs are read into (snappy's worst case). */
#define NE_STORE_PACK_COMP_BYTES                                                                   \
    (NE_STORE_PACK_RAW_BYTES > 0 ? 64 + NE_STORE_PACK_RAW_BYTES + NE_STORE_PACK_RAW_BYTES / 6 : 1)

/* RAM view of one erase block (56 B). */
typedef struct ne_store_block {
    uint64_t serial;    /* from the block's BEGIN record; 0: none */
    uint64_t first_seq; /* lowest and highest sequence of its records (dead */
    uint64_t last_seq;  /* ones too); 0 when it has none */
    uint32_t erase_count;
    uint32_t salt;             /* seeds frame header CRCs (from the block header) */
    uint32_t write_off;        /* end of programmed data, a program-unit boundary */
    uint32_t live_bytes;       /* ne_store_msg_bytes of live records */
    uint32_t live_frame_bytes; /* their frame bytes uncompressed */
    uint32_t del_entries;      /* tombstones written in this block */
    uint32_t raw_bytes;        /* frame bytes of all its records uncompressed */
    uint16_t records;          /* record slots (ordinals) used */
    uint16_t live_msgs;
    uint8_t state;
    uint8_t kind;
    uint8_t flags;
    uint8_t reserved;
} ne_store_block;

/* Counters of one flash store, for monitoring and the benchmarks. */
typedef struct ne_store_flash_stats {
    uint64_t programs;
    uint64_t program_bytes;
    uint64_t erases;
    uint64_t syncs;
    uint64_t compactions;       /* compaction steps that freed blocks */
    uint64_t blocks_reclaimed;  /* blocks erased by compaction */
    uint64_t records_moved;     /* live records copied by compaction */
    uint64_t aborted_merges;    /* merges that did not fit (block erased, nothing lost) */
    uint64_t wear_moves;        /* cold blocks moved for wear levelling */
    uint64_t packs_written;     /* snappy-compressed packs programmed */
    uint64_t pack_raw_bytes;    /* their bytes before */
    uint64_t pack_stored_bytes; /* and after compression */
    uint64_t corrupt_frames;    /* frames that failed a CRC (recovery and reads) */
    uint32_t damaged_blocks;    /* blocks written but unreadable at open (header or
                                 * first record damaged, or a torn erase) */
    uint32_t torn_tails;        /* blocks whose data ends in a write cut short (open) */
    uint32_t blocks_free;       /* blocks ready or erasable */
    uint32_t blocks_data;
    uint32_t erase_min; /* erase counts over all blocks */
    uint32_t erase_max;
} ne_store_flash_stats;

typedef struct ne_store_flash {
    ne_flash flash;
    ne_store *store;
    ne_snappy_table *table; /* NULL: never compress */
    int failed;             /* sticky flash error, NE_OK while healthy */
    uint32_t block_count;
    uint32_t program_bytes;
    uint32_t erase_bytes;
    uint32_t data_start;  /* first frame of a block (after its header) */
    uint32_t data_end;    /* frames end here; a compaction block's COMMIT follows */
    uint32_t slack_bytes; /* kept free in the head for tombstones and floors */
    uint32_t max_frame_bytes;
    uint64_t next_serial;
    uint64_t next_seq;      /* one past the highest sequence known */
    uint64_t floor_seq;     /* every record below is gone */
    uint64_t floor_written; /* highest floor put into a frame */
    uint64_t gen;           /* bumps when bytes move (flush, compaction) */
    uint64_t moves;         /* bumps when records change block (compaction) */
    int32_t head;           /* block taking appends, -1: none */
    uint32_t order_count;
    uint16_t order[NE_STORE_MAX_BLOCKS]; /* blocks with records, by first_seq */
    ne_store_block blocks[NE_STORE_MAX_BLOCKS];
    uint8_t deleted[NE_STORE_MAX_BLOCKS][NE_STORE_BLOCK_MAX_RECORDS / 8 + 1];
    /* Write buffer: frames of the head past its write_off. */
    uint32_t wlen;
    uint32_t wdel_off; /* offset of the DEL frame still taking entries, or UINT32_MAX */
    uint8_t wbuf[NE_STORE_WRITE_BUFFER_BYTES];
    /* Emitter: programs a run of bytes in chunks. */
    uint32_t emit_block;
    uint32_t emit_off;
    uint32_t emit_fill;
    uint32_t emit_limit;
    uint8_t stage[NE_STORE_PROGRAM_CHUNK_BYTES];
    /* Read window. */
    uint32_t rwin_block;
    uint32_t rwin_off;
    uint32_t rwin_len;
    uint64_t rwin_gen;
    uint8_t rbuf[NE_STORE_READ_BUFFER_BYTES];
    /* The last decoded pack. */
    uint64_t pack_serial; /* 0: none */
    uint32_t pack_off;
    uint32_t pack_len;
    uint8_t pack_raw[NE_STORE_PACK_RAW_BYTES > 0 ? NE_STORE_PACK_RAW_BYTES : 1];
    uint8_t pack_comp[NE_STORE_PACK_COMP_BYTES];
    /* Where the last lookup stopped, to continue a forward read. */
    struct {
        uint64_t gen;
        uint64_t seq;
        uint32_t block;
        uint32_t pos;
        uint32_t pack_off;
        uint32_t ipos;
        bool in_pack;
        bool valid;
    } hint;
    uint8_t scratch[64 * 32]; /* one tombstone frame's body */
    ne_store_flash_stats stats;
} ne_store_flash;

/* Opens the store kept on `flash`, recovering what it holds (an erased or
 * never-used device opens empty). compress_table (may be NULL: no
 * compression) is scratch for snappy and may be shared by every store of one
 * event loop. Errors: NE_ERR_INVALID (geometry the store cannot use: fewer
 * than 4 blocks, a program unit that is not a power of two or exceeds
 * NE_STORE_PROGRAM_CHUNK_BYTES, an erase block under 1 KiB or over 16 MiB),
 * NE_ERR_TOO_BIG (more blocks than NE_STORE_MAX_BLOCKS), NE_ERR_UNSUPPORTED
 * (the device holds this format with another version or geometry: nothing is
 * erased), NE_ERR_IO / NE_ERR_POWER_LOSS from the flash. */
int ne_store_flash_open(ne_store *store, ne_store_flash *fs, const ne_store_config *cfg,
                        const ne_flash *flash, ne_snappy_table *compress_table);

/* Counters and the erase-count spread. */
void ne_store_flash_get_stats(const ne_store_flash *fs, ne_store_flash_stats *out);

#endif
