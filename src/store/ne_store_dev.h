/* A storage device: one flash partition (or one file) holding many logs.
 *
 * The device keeps every log that must survive a power cut: JetStream
 * streams and consumer state, KV buckets and MQTT sessions (small keyed
 * records), RAFT logs. A catalogue on the device names them (kind, name,
 * the caller's configuration bytes), and is itself a log. Logs share the
 * erase blocks of the device (each block belongs to one log at a time; a
 * log holds blocks only while it has data), the write, read, pack and
 * staging buffers (one event loop: one log writes at a time), compaction and
 * wear levelling. docs/storage.md describes the format and the durability
 * contract.
 *
 * Life cycle:
 *   1. ne_store_dev_open recovers the device structure and the catalogue.
 *   2. The caller walks the catalogue (ne_store_dev_next_entry) and attaches
 *      each log it wants to a front end of its kind: ne_store_attach (a
 *      stream or KV log, ne_store.h), ne_store_consumer_attach,
 *      ne_store_raft_attach. Attaching scans that log's blocks. A log not
 *      attached stays on flash untouched (its blocks are neither compacted
 *      nor erased) until it is attached or deleted.
 *   3. New logs: ne_store_dev_create (durable when it returns), then attach.
 *      ne_store_dev_update replaces a log's configuration bytes,
 *      ne_store_dev_delete removes a log and all its data (durable when it
 *      returns; the log must be detached first).
 *
 * Ownership: the caller provides the ne_store_dev (its size is fixed by
 * config/ne_config_store.h; see docs/storage.md for the figure), the flash
 * and the optional snappy table, and keeps them alive while the device is
 * open. Front ends attached to a device point into it. Nothing allocates.
 * Not thread-safe: one event loop drives a device and all its logs.
 *
 * Errors common to every call: after a flash error (NE_ERR_IO, or
 * NE_ERR_POWER_LOSS on the simulator) the device refuses every call with
 * that error until it is opened again; opening recovers from the flash.
 */
#ifndef NE_STORE_DEV_H
#define NE_STORE_DEV_H

#include <stdbool.h>
#include <stddef.h>
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
#if NE_STORE_MAX_LOGS < 2 || NE_STORE_MAX_LOGS > 65534
#error "NE_STORE_MAX_LOGS must be within 2..65534"
#endif
#if (NE_STORE_META_KEYS & (NE_STORE_META_KEYS - 1)) != 0 ||                                        \
    NE_STORE_META_KEYS - NE_STORE_META_KEYS / 8 < 2 * NE_STORE_MAX_LOGS
#error "NE_STORE_META_KEYS must be a power of two whose 7/8 hold two keys per log"
#endif

/* Bytes of the buffer compressed packs are read into (snappy's worst case). */
#define NE_STORE_PACK_COMP_BYTES                                                                   \
    (NE_STORE_PACK_RAW_BYTES > 0 ? 64 + NE_STORE_PACK_RAW_BYTES + NE_STORE_PACK_RAW_BYTES / 6 : 1)

/* What a log is (the catalogue records it; the device only checks that a
 * log is attached to a front end of its kind). */
typedef enum ne_store_kind {
    NE_STORE_KIND_STREAM = 1,   /* messages with subjects (ne_store.h) */
    NE_STORE_KIND_KV = 2,       /* small keyed records, latest per key (ne_store_kv.h) */
    NE_STORE_KIND_CONSUMER = 3, /* a consumer's delivery state (ne_store_consumer.h) */
    NE_STORE_KIND_RAFT = 4,     /* a RAFT log with term and vote (ne_store_raft.h) */
} ne_store_kind;

/* RAM view of one erase block (opaque; 80 B). */
typedef struct ne_store_block {
    uint64_t serial;    /* from the block's BEGIN; 0: none */
    uint64_t first_seq; /* lowest and highest sequence of its records (removed */
    uint64_t last_seq;  /* ones too); 0 when it has none */
    uint64_t min_ts;    /* lowest and highest time of its records; max_ts 0 when */
    uint64_t max_ts;    /* it has none */
    uint32_t log_id;    /* owner, from the BEGIN */
    uint32_t erase_count;
    uint32_t salt;             /* seeds frame header CRCs (from the block header) */
    uint32_t write_off;        /* end of programmed data, a program-unit boundary */
    uint32_t live_bytes;       /* ne_store_msg_bytes of live records */
    uint32_t live_frame_bytes; /* their frame bytes uncompressed */
    uint32_t del_entries;      /* tombstones written in this block */
    uint32_t raw_bytes;        /* frame bytes of all its records uncompressed */
    uint16_t records;          /* record slots (ordinals) used */
    uint16_t live_msgs;
    uint16_t slot; /* owner's slot while catalogued, else 0xffff */
    uint8_t state;
    uint8_t kind;
    uint8_t flags;
    uint8_t reserved[3];
} ne_store_block;

/* RAM state of one log (opaque; about 136 B). */
typedef struct ne_store_slot {
    struct ne_store_dev *dev;
    struct ne_store *front; /* the attached front end, or NULL */
    uint32_t id;            /* 0: free slot */
    uint32_t owner;         /* catalogue: the log it belongs to */
    uint32_t name_hash;     /* catalogue: of its name, to find it without reading */
    uint8_t kind;
    uint8_t flags;
    uint16_t index;
    int32_t head;          /* block taking its appends, -1: none */
    int32_t newest_append; /* at open: its newest append block, -1: none */
    uint32_t epoch;        /* bumps at each truncation */
    uint32_t data_blocks;  /* blocks it holds */
    uint32_t max_blocks;   /* most it may hold, 0: no limit */
    uint64_t floor_seq;    /* every record below is gone */
    uint64_t floor_written;
    /* The lowest record replaced by a record not yet synced: no floor above
     * it may be written before that record is on the medium (a write cache
     * could keep the floor and lose the replacing record). */
    uint64_t floor_cap;
    uint64_t next_seq; /* one past the highest sequence known */
    uint64_t next_written;
    uint64_t moves;       /* bumps when its records change block (compaction) */
    uint64_t last_ts_seq; /* the highest sequence seen at open, and its time */
    uint64_t last_ts_ns;
    uint64_t corrupt_records; /* found at open, handed to the front end */
    ne_store_reader hint;     /* the position of lookups without a reader of their own */
} ne_store_slot;

/* Damage found on the device (ne_store_dev_damage). */
typedef enum ne_store_damage_kind {
    NE_STORE_DAMAGE_BLOCK = 1,  /* a written block whose header or first frame is unreadable:
                                 * whatever it held is lost */
    NE_STORE_DAMAGE_RECORDS,    /* records of a log failed their CRC: lost (count) */
    NE_STORE_DAMAGE_COMMIT,     /* a compaction block's COMMIT is unreadable; the block is kept
                                 * because the blocks it replaced are gone */
    NE_STORE_DAMAGE_ORPHAN,     /* blocks of a log the catalogue does not name: kept, unread */
    NE_STORE_DAMAGE_CATALOGUE,  /* a catalogue record that cannot be decoded: skipped */
    NE_STORE_DAMAGE_UNATTACHED, /* not damage: a catalogued log nobody attached (its blocks) */
} ne_store_damage_kind;

typedef struct ne_store_damage {
    ne_store_damage_kind kind;
    uint32_t block;  /* erase block index, or 0xffffffff when not about one block */
    uint32_t log_id; /* 0 when not known */
    uint64_t count;  /* records or blocks concerned */
} ne_store_damage;

/* Counters of a device, for monitoring and the benchmarks. */
typedef struct ne_store_dev_stats {
    uint64_t programs;
    uint64_t program_bytes;
    uint64_t erases;
    uint64_t syncs;
    uint64_t compactions;       /* compaction steps that freed blocks */
    uint64_t blocks_reclaimed;  /* blocks erased by compaction */
    uint64_t records_moved;     /* live records copied by compaction */
    uint64_t aborted_merges;    /* merges that did not fit (block erased, nothing lost) */
    uint64_t wear_moves;        /* cold blocks moved for wear levelling */
    uint64_t rewrites;          /* blocks rewritten by truncation or erasure */
    uint64_t packs_written;     /* snappy-compressed packs programmed */
    uint64_t pack_raw_bytes;    /* their bytes before */
    uint64_t pack_stored_bytes; /* and after compression */
    uint64_t corrupt_frames;    /* frames that failed a CRC (recovery and reads) */
    uint64_t buffer_switches;   /* write buffer flushed for another log */
    uint32_t damaged_blocks;    /* blocks written but unreadable at open (header or
                                 * first frame damaged, or a torn erase) */
    uint32_t torn_tails;        /* blocks whose data ends in a write cut short */
    uint32_t blocks_free;       /* blocks ready or erasable */
    uint32_t blocks_data;
    uint32_t logs; /* catalogued logs */
    uint32_t erase_min;
    uint32_t erase_max;
} ne_store_dev_stats;

/* One read window: bytes [off, off + len) of a block, in its buffer. */
typedef struct sf_rwin {
    uint32_t block;
    uint32_t off;
    uint32_t len;  /* 0: empty */
    uint32_t used; /* the device's rwin_clock at its last use */
} sf_rwin;

typedef struct ne_store_dev {
    ne_flash flash;
    ne_snappy_table *table; /* NULL: never compress */
    int failed;             /* sticky flash error, NE_OK while healthy */
    uint32_t block_count;
    uint32_t program_bytes;
    uint32_t erase_bytes;
    uint32_t data_start;  /* first frame of a block (after its header) */
    uint32_t data_end;    /* frames end here; a compaction block's COMMIT follows */
    uint32_t slack_bytes; /* kept free in a head for tombstones and floors */
    uint32_t max_frame_bytes;
    uint64_t next_serial;
    /* Some block was erased since the last sync (SF_FLAG_ERASE_UNSYNCED):
     * behind a write cache its erase may not be on the medium yet (see
     * sf_prepare_block). */
    bool erase_unsynced;
    uint32_t next_log_id;
    /* Blocks. */
    ne_store_block blocks[NE_STORE_MAX_BLOCKS];
    uint8_t deleted[NE_STORE_MAX_BLOCKS][NE_STORE_BLOCK_MAX_RECORDS / 8 + 1];
    uint16_t order[NE_STORE_MAX_BLOCKS]; /* attached logs' blocks with records */
    uint32_t order_count;
    uint16_t by_serial[NE_STORE_MAX_BLOCKS]; /* data blocks by serial */
    uint32_t by_serial_count;
    /* Logs. */
    ne_store_slot slots[NE_STORE_MAX_LOGS];
    /* Write buffer: frames of one log's head past its write_off. */
    uint32_t wslot; /* SF_NONE: empty */
    uint32_t wlen;
    uint32_t wdel_off; /* offset of the DEL frame still taking entries, or 0xffffffff */
    uint8_t wbuf[NE_STORE_WRITE_BUFFER_BYTES];
    /* Emitter: programs a run of bytes in chunks. */
    uint32_t emit_block;
    uint32_t emit_off;
    uint32_t emit_fill;
    uint32_t emit_limit;
    uint8_t stage[NE_STORE_PROGRAM_CHUNK_BYTES];
    /* Read windows (NE_STORE_READ_WINDOWS): a miss refills the one used
     * least recently, so two readers of different places (a consumer
     * reading ahead, acks removing behind it) keep a window each. */
    sf_rwin rwin[NE_STORE_READ_WINDOWS];
    uint32_t rwin_clock;
    uint8_t rbuf[NE_STORE_READ_WINDOWS][NE_STORE_READ_BUFFER_BYTES];
    /* The last decoded pack. */
    uint64_t pack_serial; /* 0: none */
    uint32_t pack_off;
    uint32_t pack_len;
    uint8_t pack_raw[NE_STORE_PACK_RAW_BYTES > 0 ? NE_STORE_PACK_RAW_BYTES : 1];
    uint8_t pack_comp[NE_STORE_PACK_COMP_BYTES];
    uint8_t scratch[64 * 32]; /* one tombstone frame's body */
    /* The catalogue: a KV log of its own (slot 0), and a buffer one entry
     * (key, head, name, configuration) fits in. */
    ne_store meta;
    ne_store_subject meta_keys[NE_STORE_META_KEYS];
    uint8_t cat_buf[NE_STORE_MAX_CONFIG_BYTES + 320];
    /* Damage found at open and since. */
    ne_store_damage damage[NE_STORE_MAX_DAMAGE_REPORTS];
    uint32_t damage_count;
    uint32_t damage_dropped;
    ne_store_dev_stats stats;
} ne_store_dev;

/* Opens the device on `flash`, recovering its structure and catalogue (an
 * erased or never-used flash opens empty). compress_table (may be NULL: no
 * compression) is scratch for snappy and may be shared by every device of
 * one event loop. Damage is not an error: the open succeeds, reports it
 * (ne_store_dev_damage) and keeps the rest readable.
 * Errors: NE_ERR_INVALID (geometry the store cannot use: fewer than 4
 * blocks, a program unit that is not a power of two or exceeds
 * NE_STORE_PROGRAM_CHUNK_BYTES, an erase block under 1 KiB or over 16 MiB),
 * NE_ERR_TOO_BIG (more blocks than NE_STORE_MAX_BLOCKS, or more logs on the
 * device than NE_STORE_MAX_LOGS), NE_ERR_UNSUPPORTED (the flash holds this
 * format in another version or geometry: nothing is erased), NE_ERR_IO /
 * NE_ERR_POWER_LOSS from the flash. */
int ne_store_dev_open(ne_store_dev *dev, const ne_flash *flash, ne_snappy_table *compress_table);

/* Programs what the write buffer holds and makes every change of every log
 * durable (the port's sync). Each log's ne_store_sync does the same for the
 * device; this one is for the end of an event-loop turn. */
int ne_store_dev_sync(ne_store_dev *dev);

/* Programs what the write buffer holds (every log's records and floors so
 * far are handed to the flash port: on a file, written to the OS) without
 * the port's sync. What it wrote survives the process being killed, not a
 * power cut: that takes ne_store_dev_sync. Errors: the flash's, and the
 * device's failure once it failed. */
int ne_store_dev_flush(ne_store_dev *dev);

/* A catalogue entry. name and config point into the caller's buffer. */
typedef struct ne_store_entry {
    uint32_t id;    /* never 0 or 1; never reused while the device holds data of it */
    uint32_t owner; /* id of the log it belongs to (a consumer's stream), 0: none */
    ne_store_kind kind;
    bool attached;
    const char *name;
    size_t name_len;
    const uint8_t *config;
    size_t config_len;
} ne_store_entry;

/* The catalogue entry with the lowest id above after_id (0: the first).
 * name and config are copied into buf. NE_ERR_NOT_FOUND past the last,
 * NE_ERR_TOO_BIG when buf is too small (out's lengths say what is needed),
 * NE_ERR_CORRUPT when the entry's record failed its CRC (skip it with its
 * id in out->id; it is also reported as damage). */
int ne_store_dev_next_entry(ne_store_dev *dev, uint32_t after_id, ne_store_entry *out, void *buf,
                            size_t buf_bytes);

/* The entry of a log by kind, owner and name. Errors as next_entry, and
 * NE_ERR_NOT_FOUND when there is none. */
int ne_store_dev_find(ne_store_dev *dev, ne_store_kind kind, uint32_t owner, const char *name,
                      size_t name_len, ne_store_entry *out, void *buf, size_t buf_bytes);

/* Creates a log: its catalogue entry is durable when this returns NE_OK,
 * and *id_out gets its id; attach it to use it. name: 1 to 255 bytes;
 * config: the caller's own bytes (a JetStream stream configuration, say, at
 * most NE_STORE_MAX_CONFIG_BYTES), returned as they were by next_entry and
 * find. A buffer of NE_STORE_MAX_CONFIG_BYTES + 320 bytes holds any entry.
 * Errors: NE_ERR_INVALID (name empty or too long, kind unknown),
 * NE_ERR_EXISTS (a log of this kind, owner and name exists), NE_ERR_NOMEM
 * (NE_STORE_MAX_LOGS logs exist), NE_ERR_TOO_BIG (name and config do not
 * fit one record), NE_ERR_FULL (no flash space for the catalogue). */
int ne_store_dev_create(ne_store_dev *dev, ne_store_kind kind, uint32_t owner, const char *name,
                        size_t name_len, const void *config, size_t config_len, uint32_t *id_out);

/* Replaces a log's configuration bytes (durable when it returns NE_OK;
 * after a power cut before that, the old or the new bytes, never neither).
 * Errors: NE_ERR_NOT_FOUND, and as create. */
int ne_store_dev_update(ne_store_dev *dev, uint32_t id, const void *config, size_t config_len);

/* Deletes a log and all of its records: durable when it returns NE_OK
 * (after a power cut before that, the log is there whole or the deletion
 * completes at the next open). The log must not be attached
 * (NE_ERR_EXISTS: detach it first). NE_ERR_NOT_FOUND when there is none. */
int ne_store_dev_delete(ne_store_dev *dev, uint32_t id);

/* Damage reports (found at open and on reads since), index 0 up. Returns
 * NE_ERR_NOT_FOUND past the last. At most NE_STORE_MAX_DAMAGE_REPORTS are
 * kept; stats say how many more were dropped. */
int ne_store_dev_damage(const ne_store_dev *dev, uint32_t index, ne_store_damage *out);

/* Writes one line describing a damage report ("block 12 of log 5 (stream
 * ORDERS): 3 records failed their CRC and are lost") into buf (cap bytes,
 * NUL-terminated); *len gets its length. NE_ERR_TOO_BIG when it does not
 * fit (nothing useful written). */
int ne_store_dev_describe(ne_store_dev *dev, const ne_store_damage *d, char *buf, size_t cap,
                          size_t *len);

/* Counters and the erase-count spread. */
void ne_store_dev_get_stats(const ne_store_dev *dev, ne_store_dev_stats *out);

/* Attaches a stream or KV log (kind STREAM or KV) to a front end: scans its
 * blocks and rebuilds its state, then applies cfg's limits (messages over
 * them leave at once: removals a power cut undid; never NE_ERR_FULL: what
 * max_msgs_per_subject removes from inside the stream waits for room on a
 * full device, see ne_store_set_limits). cfg->max_blocks bounds
 * the erase blocks it may hold. Errors: NE_ERR_NOT_FOUND (no such log),
 * NE_ERR_INVALID (bad cfg, or the log is of another kind), NE_ERR_EXISTS
 * (already attached), and flash errors. The store must be detached (or the
 * device reopened) before the ne_store's memory is reused. */
int ne_store_attach(ne_store *store, ne_store_dev *dev, uint32_t id, const ne_store_config *cfg);

/* Detaches a front end (its changes are written to the device, not synced;
 * ne_store_dev_sync makes them durable). The log stays in the catalogue. */
int ne_store_detach(ne_store *store);

#endif
