/* Compaction of a device: whole erase blocks come back to use.
 *
 * A block whose records are all gone and whose tombstones no longer guard
 * anything is retired directly: a RETIRE naming it (and carrying its log's
 * floor) is made durable in its log's head, then it is erased. Otherwise a
 * window of one log's blocks adjacent in sequence order is merged into a
 * fresh block: its BEGIN lists the blocks it replaces, then come their live
 * records (compressed in packs when that saves space) and the tombstones
 * still needed; they are synced, then a COMMIT with their CRC is programmed
 * and synced. Only then are the old blocks erased; a power cut before that
 * leaves the old blocks authoritative and the new one ignored, one after it
 * leaves the new one authoritative. Merging adjacent blocks keeps the
 * sequence ranges of a log's blocks disjoint. Windows are chosen across
 * every log of the device: the one that frees the most blocks.
 *
 * The same merge, told to leave some records out, truncates a log and
 * destroys an erased record's bytes (sf_rewrite). */
#include <string.h>

#include "codec/ne_crc32c.h"
#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "store/ne_store_format.h"

static bool is_victim(const uint32_t *victims, uint32_t n, uint32_t block)
{
    for (uint32_t i = 0; i < n; i++) {
        if (victims[i] == block) {
            return true;
        }
    }
    return false;
}

/* Is a tombstone (for a record of log s at seq, in block `serial`) still
 * needed once the victims are gone? Yes while the block holding its target
 * stays and no written floor covers the target. */
static bool target_needed(const ne_store_dev *dev, const ne_store_slot *s, uint64_t seq,
                          uint64_t serial, const uint32_t *victims, uint32_t n)
{
    if (seq < s->floor_written) {
        return false;
    }
    int32_t t = sf_block_by_serial(dev, serial);
    return t >= 0 && dev->blocks[t].state == SF_STATE_DATA && !is_victim(victims, n, (uint32_t)t);
}

static bool entry_needed(const ne_store_dev *dev, const ne_store_slot *s, const uint8_t *entry,
                         const uint32_t *victims, uint32_t n)
{
    return target_needed(dev, s, sf_get64(entry), sf_get64(entry + 8), victims, n);
}

/* Reads a tombstone frame's body into dev->scratch (CRC checked); NULL when
 * it is damaged (its tombstones are lost with it). */
static const uint8_t *del_body(ne_store_dev *dev, uint32_t block, const sf_frame *fr, int *rc)
{
    *rc = NE_OK;
    if (fr->len % SF_DEL_ENTRY_BYTES != 0 || fr->len > sizeof(dev->scratch)) {
        return NULL;
    }
    *rc = sf_read(dev, block, fr->off + SF_FRAME_HEADER_BYTES, dev->scratch, fr->len);
    if (*rc != NE_OK || ne_crc32c(0, dev->scratch, fr->len) != fr->body_crc) {
        return NULL;
    }
    return dev->scratch;
}

/* Whether a record is copied by a merge: live, not above keep_to, and not
 * the one at drop_seq (an erasure; 0: none). */
static bool record_kept(const ne_store_dev *dev, const ne_store_slot *s, uint32_t block,
                        const sf_rec *rec, uint64_t keep_to, uint64_t drop_seq)
{
    return rec->ordinal < NE_STORE_BLOCK_MAX_RECORDS && !sf_deleted(dev, block, rec->ordinal) &&
           rec->seq >= s->floor_seq && rec->seq <= keep_to && rec->seq != drop_seq;
}

/* A record left behind that replaced another carries a tombstone: still
 * needed when the replaced record's block stays. */
static bool embedded_needed(const ne_store_dev *dev, const ne_store_slot *s, const sf_rec *rec,
                            const uint32_t *victims, uint32_t n)
{
    return (rec->flags & SF_MSG_REPLACES) &&
           target_needed(dev, s, rec->replaced_seq, rec->replaced_serial, victims, n);
}

/* Counts the tombstones of block (in DEL frames, and carried by records
 * that will not be copied) that must outlive the victims; stops at
 * `enough`. */
static int count_needed_tombstones(ne_store_dev *dev, const ne_store_slot *s, uint32_t block,
                                   const uint32_t *victims, uint32_t n, uint32_t enough,
                                   uint32_t *needed)
{
    *needed = 0;
    sf_cursor c;
    sf_cursor_init(dev, &c, block, false);
    uint32_t bound = dev->erase_bytes / 8u + NE_STORE_BLOCK_MAX_RECORDS + 4u;
    for (uint32_t step = 0; step < bound && *needed < enough; step++) {
        sf_rec rec;
        sf_frame fr;
        int r = sf_cursor_next(dev, &c, &rec, &fr);
        if (r < 0) {
            return r;
        }
        if (r == SF_END) {
            break;
        }
        if (r == SF_REC) {
            if (!record_kept(dev, s, block, &rec, UINT64_MAX, 0) &&
                embedded_needed(dev, s, &rec, victims, n)) {
                (*needed)++;
            }
            continue;
        }
        if (r != SF_OTHER || fr.type != SF_DEL) {
            continue;
        }
        int rc;
        const uint8_t *body = del_body(dev, block, &fr, &rc);
        if (body == NULL) {
            if (rc != NE_OK) {
                return rc;
            }
            continue;
        }
        for (uint32_t k = 0; k < fr.len / SF_DEL_ENTRY_BYTES; k++) {
            *needed += entry_needed(dev, s, body + k * SF_DEL_ENTRY_BYTES, victims, n) ? 1u : 0u;
        }
    }
    return NE_OK;
}

static int erase_victims(ne_store_dev *dev, const uint32_t *victims, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        int rc = sf_erase_block(dev, victims[i]);
        if (rc != NE_OK) {
            return rc;
        }
    }
    return sf_flash_sync(dev);
}

/* ---- Merging into a new block -------------------------------------------- */

typedef struct merge {
    ne_store_slot *s;
    uint32_t block; /* the new block */
    uint32_t salt;
    uint16_t records;
    uint32_t del_count; /* tombstones in the DEL frame still open */
    uint32_t del_off;   /* its offset in wbuf, or SF_NONE */
    uint64_t keep_to;   /* records above are left out */
    uint64_t drop_seq;  /* and the record at this sequence (0: none) */
} merge;

/* Programs what the write buffer holds so far into the new block. */
static int merge_drain(ne_store_dev *dev, merge *m)
{
    int rc = sf_emit_frames(dev, dev->wbuf, dev->wlen, m->salt);
    dev->wlen = 0;
    dev->wdel_off = SF_NONE;
    m->del_off = SF_NONE;
    return rc;
}

static int merge_record(ne_store_dev *dev, merge *m, uint32_t victim, sf_rec *rec)
{
    uint32_t frame = sf_align8(SF_FRAME_HEADER_BYTES + rec->body_len);
    if (dev->wlen + frame > sizeof(dev->wbuf)) {
        int rc = merge_drain(dev, m);
        if (rc != NE_OK) {
            return rc;
        }
    }
    uint8_t *f = sf_wbuf_frame_filled(dev, SF_MSG, m->records, rec->body_len);
    m->del_off = SF_NONE;
    uint8_t *body = f + SF_FRAME_HEADER_BYTES;
    if (rec->mem != NULL) {
        memcpy(body, rec->mem, rec->body_len);
    } else {
        int rc = sf_read(dev, victim, rec->body_off, body, rec->body_len);
        if (rc != NE_OK) {
            return rc;
        }
    }
    /* The CRC travels with the record; the copy is checked against it. */
    if (ne_crc32c(0, body, rec->body_len) != rec->body_crc) {
        dev->wlen -= frame;
        if (m->s->front != NULL) {
            m->s->front->state.corrupt_records++;
        }
        sf_report(dev, NE_STORE_DAMAGE_RECORDS, victim, m->s->id, 1);
        return NE_OK;
    }
    sf_encode_frame_header(f, SF_MSG, m->records, rec->body_len, rec->body_crc, m->salt);
    ne_store_block *c = &dev->blocks[m->block];
    uint32_t bytes =
        (uint32_t)ne_store_msg_bytes(rec->subject_len, rec->headers_len, rec->payload_len);
    if (c->first_seq == 0) {
        c->first_seq = rec->seq;
    }
    c->last_seq = rec->seq;
    if (c->max_ts == 0 || rec->timestamp_ns < c->min_ts) {
        c->min_ts = rec->timestamp_ns;
    }
    if (rec->timestamp_ns > c->max_ts) {
        c->max_ts = rec->timestamp_ns;
    }
    c->live_msgs++;
    c->live_bytes += bytes;
    c->live_frame_bytes += frame;
    c->raw_bytes += frame;
    m->records++;
    dev->stats.records_moved++;
    return NE_OK;
}

static int merge_tombstone(ne_store_dev *dev, merge *m, const uint8_t *entry)
{
    uint32_t need = m->del_off != SF_NONE && m->del_count < SF_DEL_MAX_ENTRIES
                        ? SF_DEL_ENTRY_BYTES
                        : SF_FRAME_HEADER_BYTES + SF_DEL_ENTRY_BYTES;
    if (dev->wlen + need > sizeof(dev->wbuf)) {
        int rc = merge_drain(dev, m);
        if (rc != NE_OK) {
            return rc;
        }
    }
    uint8_t *f;
    if (m->del_off != SF_NONE && m->del_count < SF_DEL_MAX_ENTRIES) {
        f = dev->wbuf + m->del_off;
        sf_put32(f + 4, (m->del_count + 1) * SF_DEL_ENTRY_BYTES);
        dev->wlen += SF_DEL_ENTRY_BYTES;
    } else {
        m->del_off = dev->wlen;
        m->del_count = 0;
        f = sf_wbuf_frame(dev, SF_DEL, 0, SF_DEL_ENTRY_BYTES);
    }
    memcpy(f + SF_FRAME_HEADER_BYTES + m->del_count * SF_DEL_ENTRY_BYTES, entry,
           SF_DEL_ENTRY_BYTES);
    m->del_count++;
    sf_wbuf_seal_frame(f, m->salt);
    dev->blocks[m->block].del_entries++;
    return NE_OK;
}

/* A record left behind hands its embedded tombstone on as a DEL entry. */
static int merge_embedded(ne_store_dev *dev, merge *m, uint32_t victim, const sf_rec *rec)
{
    int rc;
    const char *subject = sf_rec_subject(dev, victim, rec, &rc);
    if (subject == NULL) {
        return rc != NE_OK ? rc : NE_ERR_CORRUPT;
    }
    uint8_t e[SF_DEL_ENTRY_BYTES];
    memset(e, 0, sizeof(e));
    sf_put64(e, rec->replaced_seq);
    sf_put64(e + 8, rec->replaced_serial);
    sf_put16(e + 16, rec->replaced_ordinal);
    sf_put32(e + 20, rec->replaced_bytes);
    sf_put64(e + 24, ne_store_subject_hash(subject, rec->subject_len));
    return merge_tombstone(dev, m, e);
}

/* Copies one victim's live records (first pass) or its needed tombstones
 * (second pass). Records of every victim go first and tombstones after
 * them: a DEL frame between two records would split a run that was one
 * pack in the victim, and records that compressed only together (a
 * replacing record erased from between two alike) could then take more
 * room than the victim had. Tombstones name their target by (serial,
 * ordinal), so their place in the block does not matter. */
static int merge_victim(ne_store_dev *dev, merge *m, uint32_t victim, const uint32_t *victims,
                        uint32_t n, bool tombstones)
{
    sf_cursor c;
    sf_cursor_init(dev, &c, victim, true);
    uint32_t bound = dev->erase_bytes / 8u + NE_STORE_BLOCK_MAX_RECORDS + 4u;
    for (uint32_t step = 0; step < bound; step++) {
        sf_rec rec;
        sf_frame fr;
        int res = sf_cursor_next(dev, &c, &rec, &fr);
        if (res < 0) {
            return res;
        }
        if (res == SF_END) {
            return NE_OK;
        }
        int rc = NE_OK;
        if (res == SF_REC) {
            bool kept = record_kept(dev, m->s, victim, &rec, m->keep_to, m->drop_seq);
            if (kept && !tombstones) {
                rc = merge_record(dev, m, victim, &rec);
            } else if (!kept && tombstones && embedded_needed(dev, m->s, &rec, victims, n)) {
                rc = merge_embedded(dev, m, victim, &rec);
            }
        } else if (tombstones && res == SF_OTHER && fr.type == SF_DEL) {
            const uint8_t *body = del_body(dev, victim, &fr, &rc);
            for (uint32_t k = 0; body != NULL && k < fr.len / SF_DEL_ENTRY_BYTES; k++) {
                const uint8_t *e = body + k * SF_DEL_ENTRY_BYTES;
                if (entry_needed(dev, m->s, e, victims, n)) {
                    /* The entry is copied out of scratch: merge_tombstone
                     * reads no other frame. */
                    rc = merge_tombstone(dev, m, e);
                    if (rc != NE_OK) {
                        break;
                    }
                }
            }
        }
        if (rc != NE_OK) {
            return rc;
        }
    }
    return NE_OK;
}

static int program_commit(ne_store_dev *dev, merge *m, uint32_t end)
{
    uint32_t crc;
    int rc = sf_content_crc(dev, m->block, end, &crc);
    if (rc != NE_OK) {
        return rc == NE_ERR_CORRUPT ? NE_ERR_IO : rc;
    }
    uint32_t len = dev->erase_bytes - dev->data_end;
    uint8_t *p = dev->stage;
    NE_ASSERT(dev->emit_fill == 0 && len <= sizeof(dev->stage));
    memset(p, 0xff, len);
    uint8_t *body = p + SF_FRAME_HEADER_BYTES;
    sf_put64(body, dev->blocks[m->block].serial);
    sf_put32(body + 8, m->records);
    sf_put32(body + 12, end);
    sf_put32(body + 16, crc);
    sf_put32(body + 20, 0);
    sf_encode_frame_header(p, SF_COMMIT, 0, SF_COMMIT_BYTES, ne_crc32c(0, body, SF_COMMIT_BYTES),
                           m->salt);
    sf_emit_begin(dev, m->block, dev->data_end);
    rc = sf_emit(dev, p, len);
    uint32_t commit_end;
    if (rc == NE_OK) {
        rc = sf_emit_end(dev, &commit_end);
    }
    return rc;
}

/* Merges the victims (blocks of log s, record-bearing ones in sequence
 * order first) into a fresh block, leaving out records above keep_to and
 * the one at drop_seq (0: none), then erases them. NE_ERR_FULL when the
 * records did not fit after all (the new block is erased again; nothing
 * changed). */
static int merge_into_new(ne_store_dev *dev, ne_store_slot *s, const uint32_t *victims, uint32_t n,
                          bool most_worn, uint64_t keep_to, uint64_t drop_seq)
{
    NE_ASSERT(n >= 1 && n <= NE_STORE_COMPACT_MAX_VICTIMS);
    int rc = sf_flush(dev);
    if (rc != NE_OK) {
        return rc;
    }
    int32_t pick = sf_pick_free(dev, most_worn);
    if (pick < 0) {
        return NE_ERR_FULL;
    }
    rc = sf_prepare_block(dev, (uint32_t)pick);
    if (rc != NE_OK) {
        return rc;
    }
    /* The write buffer becomes the merge's staging area; no head takes
     * frames meanwhile. */
    uint32_t wslot = dev->wslot;
    dev->wslot = SF_NONE;
    merge m = {.s = s,
               .block = (uint32_t)pick,
               .salt = dev->blocks[pick].salt,
               .del_off = SF_NONE,
               .keep_to = keep_to,
               .drop_seq = drop_seq};
    ne_store_block *c = &dev->blocks[pick];
    c->serial = dev->next_serial++;
    uint64_t serials[NE_STORE_COMPACT_MAX_VICTIMS];
    for (uint32_t i = 0; i < n; i++) {
        NE_ASSERT(dev->blocks[victims[i]].slot == s->index && (int32_t)victims[i] != s->head);
        serials[i] = dev->blocks[victims[i]].serial;
    }
    dev->wlen = 0;
    uint64_t floor_in_begin = sf_floor_to_write(s);
    uint64_t next_in_begin = s->next_seq;
    sf_wbuf_begin(dev, m.block, s, SF_KIND_COMPACT, serials, n);
    sf_emit_begin(dev, m.block, dev->data_start);
    for (uint32_t i = 0; i < 2 * n && rc == NE_OK; i++) {
        rc = merge_victim(dev, &m, victims[i % n], victims, n, i >= n);
    }
    uint32_t end = 0;
    if (rc == NE_OK) {
        rc = merge_drain(dev, &m);
    }
    if (rc == NE_OK) {
        rc = sf_emit_end(dev, &end);
    }
    /* The records (and the head's frames flushed above) must be on the
     * medium before the COMMIT is programmed: a write cache may otherwise
     * keep the COMMIT and lose them, and recovery would then erase the only
     * good copies. Two syncs: the content, then the COMMIT. */
    if (rc == NE_OK) {
        rc = sf_flash_sync(dev);
    }
    if (rc == NE_OK) {
        NE_ASSERT(end <= dev->data_end);
        rc = program_commit(dev, &m, end);
    }
    if (rc == NE_OK) {
        rc = sf_flash_sync(dev);
    }
    dev->wslot = wslot;
    dev->wlen = 0;
    dev->wdel_off = SF_NONE;
    if (rc == NE_ERR_FULL) {
        /* The live records did not fit after all (they compressed worse
         * than estimated). The half-written block is erased at once: left
         * as it is, it could outlive its victims and be taken for a
         * committed one with a damaged COMMIT. */
        c->serial = 0;
        c->state = SF_STATE_UNKNOWN;
        dev->emit_fill = 0;
        rc = sf_erase_block(dev, m.block);
        dev->stats.aborted_merges++;
        return rc == NE_OK ? NE_ERR_FULL : rc;
    }
    if (rc != NE_OK) {
        return sf_fail(dev, rc);
    }
    /* Only a committed BEGIN carries its floor: an aborted merge's never
     * reaches recovery. */
    s->floor_written = floor_in_begin > s->floor_written ? floor_in_begin : s->floor_written;
    s->next_written = next_in_begin > s->next_written ? next_in_begin : s->next_written;
    c->state = SF_STATE_DATA;
    c->kind = SF_KIND_COMPACT;
    c->flags = SF_FLAG_SEALED;
    c->records = m.records;
    c->write_off = end;
    c->log_id = s->id;
    c->slot = s->index;
    sf_serial_add(dev, m.block);
    s->data_blocks++;
    rc = erase_victims(dev, victims, n);
    s->moves++;
    sf_rebuild_order(dev);
    if (rc != NE_OK) {
        return rc;
    }
    dev->stats.compactions++;
    dev->stats.blocks_reclaimed += n;
    return NE_OK;
}

int sf_rewrite_room(ne_store_dev *dev)
{
    if (dev->failed != NE_OK) {
        return dev->failed;
    }
    int rc = sf_erase_retired(dev);
    if (rc != NE_OK) {
        return rc;
    }
    for (uint32_t i = 0; i < dev->block_count && sf_free_count(dev) < 1; i++) {
        uint32_t freed = 0;
        rc = sf_compact_step_of(dev, SF_NONE, &freed);
        if (rc != NE_OK || freed == 0) {
            break;
        }
    }
    if (rc != NE_OK) {
        return rc;
    }
    return sf_free_count(dev) < 1 ? NE_ERR_FULL : NE_OK;
}

int sf_rewrite(ne_store_dev *dev, ne_store_slot *s, const uint32_t *victims, uint32_t n,
               uint64_t keep_to, uint64_t drop_seq)
{
    int rc = sf_rewrite_room(dev);
    if (rc != NE_OK) {
        return rc;
    }
    rc = merge_into_new(dev, s, victims, n, false, keep_to, drop_seq);
    if (rc == NE_OK) {
        dev->stats.rewrites += n;
    }
    return rc;
}

/* ---- Choosing ------------------------------------------------------------ */

/* Bytes the live records of a block will take in a new block: their frames
 * uncompressed, or, when the block was compressed, in the proportion the
 * block as a whole was compressed, plus an eighth since the new block packs
 * them differently. A merge that still does not fit is abandoned. */
static uint64_t live_estimate(const ne_store_dev *dev, const ne_store_block *b)
{
    uint64_t stored = b->write_off > dev->data_start ? b->write_off - dev->data_start : 0;
    if (dev->table == NULL || b->raw_bytes == 0 || stored >= b->raw_bytes) {
        return b->live_frame_bytes;
    }
    uint64_t estimate = (uint64_t)b->live_frame_bytes * stored / b->raw_bytes;
    estimate += estimate / 8 + 64;
    return estimate < b->live_frame_bytes ? estimate : b->live_frame_bytes;
}

/* Bytes a merge of blocks with these totals needs in the new block. */
static uint32_t merge_need(const ne_store_dev *dev, uint32_t victims, uint64_t frame_bytes,
                           uint64_t dels)
{
    uint64_t need = sf_align8(SF_FRAME_HEADER_BYTES + SF_BEGIN_FIXED_BYTES + 8 * victims);
    need += frame_bytes + dels * SF_DEL_ENTRY_BYTES;
    need += (dels / SF_DEL_MAX_ENTRIES + victims) * SF_FRAME_HEADER_BYTES;
    need += dev->program_bytes;
    return need > 0xffffffffu ? 0xffffffffu : (uint32_t)need;
}

static bool merge_fits(const ne_store_dev *dev, uint32_t victims, uint64_t frame_bytes,
                       uint64_t dels, uint64_t msgs)
{
    return msgs <= NE_STORE_BLOCK_MAX_RECORDS &&
           merge_need(dev, victims, frame_bytes, dels) <= dev->data_end - dev->data_start;
}

/* A block compaction may take: a data block of a catalogued log, not a
 * head, not retired. */
static bool movable(const ne_store_dev *dev, uint32_t block, uint32_t only_slot)
{
    const ne_store_block *b = &dev->blocks[block];
    if (b->state != SF_STATE_DATA || b->slot == SF_NO_SLOT || (b->flags & SF_FLAG_RETIRED)) {
        return false;
    }
    const ne_store_slot *s = &dev->slots[b->slot];
    return (s->flags & SF_SLOT_ORPHAN) == 0 && s->head != (int32_t)block &&
           (only_slot == SF_NONE || b->slot == only_slot);
}

/* Whether a log's head can take a RETIRE of one block now. */
static bool head_takes_retire(const ne_store_dev *dev, const ne_store_slot *s)
{
    if (s->head < 0) {
        return false;
    }
    const ne_store_block *h = &dev->blocks[s->head];
    if ((h->flags & SF_FLAG_SEALED) || h->write_off > dev->data_end) {
        return false;
    }
    uint32_t pending = dev->wslot == s->index ? dev->wlen : 0;
    uint32_t frames = SF_FRAME_HEADER_BYTES + SF_RETIRE_FIXED_BYTES + 8;
    return sf_align_up(pending + frames, dev->program_bytes) <= dev->data_end - h->write_off;
}

/* Blocks of one log whose records are all gone and whose tombstones guard
 * nothing: of the first log found whose head can record their retirement,
 * else of the first log found (merged then). A log whose dead blocks cannot
 * leave yet must not keep another's from leaving. */
static int collect_dead(ne_store_dev *dev, uint32_t only_slot, uint32_t *victims, uint32_t *n)
{
    for (uint32_t pass = 0; pass < 2; pass++) {
        *n = 0;
        uint32_t slot = only_slot;
        for (uint32_t i = 0; i < dev->block_count && *n < NE_STORE_COMPACT_MAX_VICTIMS; i++) {
            const ne_store_block *b = &dev->blocks[i];
            if (!movable(dev, i, slot) || b->live_msgs != 0) {
                continue;
            }
            if (pass == 0 && !head_takes_retire(dev, &dev->slots[b->slot])) {
                continue;
            }
            bool first = *n == 0;
            uint32_t needed = 0;
            victims[*n] = i;
            int rc =
                count_needed_tombstones(dev, &dev->slots[b->slot], i, victims, *n + 1, 1, &needed);
            if (rc != NE_OK) {
                return rc;
            }
            if (needed == 0) {
                (*n)++;
                if (first) {
                    slot = b->slot;
                }
            }
        }
        if (*n > 0) {
            return NE_OK;
        }
    }
    return NE_OK;
}

/* The window of one log's blocks adjacent in sequence order that frees the
 * most blocks when merged (ties: the fewest bytes to copy), plus that log's
 * blocks without records that still hold needed tombstones. *slot_out gets
 * the log. */
static uint32_t choose_window(const ne_store_dev *dev, uint32_t only_slot, uint32_t *victims,
                              uint32_t *slot_out)
{
    uint32_t best_start = 0;
    uint32_t best_len = 0;
    uint64_t best_bytes = 0;
    for (uint32_t i = 0; i < dev->order_count; i++) {
        uint64_t bytes = 0;
        uint64_t dels = 0;
        uint64_t msgs = 0;
        uint16_t slot = dev->blocks[dev->order[i]].slot;
        for (uint32_t w = 1; w <= NE_STORE_COMPACT_MAX_VICTIMS && i + w <= dev->order_count; w++) {
            uint32_t block = dev->order[i + w - 1];
            const ne_store_block *b = &dev->blocks[block];
            if (b->slot != slot || !movable(dev, block, only_slot)) {
                break;
            }
            bytes += live_estimate(dev, b);
            dels += b->del_entries;
            msgs += b->live_msgs;
            if (!merge_fits(dev, w, bytes, dels, msgs)) {
                break;
            }
            if (w > best_len || (w == best_len && bytes < best_bytes)) {
                best_start = i;
                best_len = w;
                best_bytes = bytes;
            }
        }
    }
    uint32_t n = 0;
    uint64_t bytes = 0;
    uint64_t dels = 0;
    uint64_t msgs = 0;
    for (uint32_t k = 0; k < best_len; k++) {
        const ne_store_block *b = &dev->blocks[dev->order[best_start + k]];
        victims[n++] = dev->order[best_start + k];
        bytes += live_estimate(dev, b);
        dels += b->del_entries;
        msgs += b->live_msgs;
    }
    if (n == 0) {
        return 0;
    }
    uint32_t slot = dev->blocks[victims[0]].slot;
    *slot_out = slot;
    for (uint32_t i = 0; i < dev->block_count && n < NE_STORE_COMPACT_MAX_VICTIMS; i++) {
        const ne_store_block *b = &dev->blocks[i];
        if (!movable(dev, i, slot) || b->first_seq != 0) {
            continue;
        }
        if (merge_fits(dev, n + 1, bytes, dels + b->del_entries, msgs)) {
            victims[n++] = i;
            dels += b->del_entries;
        }
    }
    return n;
}

/* Retires dead blocks of one log: a durable RETIRE in its head, then the
 * erase. With no room in the head, dead blocks are merged like any others
 * (into a block that holds nothing but the list of blocks it replaces). */
static int retire_dead(ne_store_dev *dev, const uint32_t *victims, uint32_t n, uint32_t *freed)
{
    ne_store_slot *s = &dev->slots[dev->blocks[victims[0]].slot];
    /* The RETIRE carries the floor: a victim's BEGIN may be the only durable
     * copy of it, and the head must carry it once the victim is gone. In
     * one frame, so that no write cache can keep the retirement and lose
     * the floor. */
    uint32_t len = SF_RETIRE_FIXED_BYTES + 8 * n;
    uint32_t frames = SF_FRAME_HEADER_BYTES + len;
    if (dev->wslot != s->index || dev->wlen + frames > sizeof(dev->wbuf)) {
        int rc = sf_flush(dev);
        if (rc != NE_OK) {
            return rc;
        }
        dev->wslot = s->index;
        dev->wdel_off = SF_NONE;
    }
    ne_store_block *h = s->head >= 0 ? &dev->blocks[s->head] : NULL;
    uint32_t need = sf_align_up(dev->wlen + frames, dev->program_bytes);
    if (h == NULL || (h->flags & SF_FLAG_SEALED) || h->write_off > dev->data_end ||
        need > dev->data_end - h->write_off) {
        if (n < 2 || sf_free_count(dev) < 1) {
            return NE_OK;
        }
        int rc = merge_into_new(dev, s, victims, n, false, UINT64_MAX, 0);
        if (rc == NE_OK) {
            *freed = n - 1;
        }
        return rc == NE_ERR_FULL ? NE_OK : rc;
    }
    uint8_t *f = sf_wbuf_frame(dev, SF_RETIRE, 0, len);
    uint64_t floor = sf_floor_to_write(s);
    sf_put64(f + SF_FRAME_HEADER_BYTES, floor);
    sf_put64(f + SF_FRAME_HEADER_BYTES + 8, s->next_seq);
    sf_put32(f + SF_FRAME_HEADER_BYTES + 16, s->epoch);
    for (uint32_t i = 0; i < n; i++) {
        sf_put64(f + SF_FRAME_HEADER_BYTES + SF_RETIRE_FIXED_BYTES + 8 * i,
                 dev->blocks[victims[i]].serial);
    }
    sf_wbuf_seal_frame(f, h->salt);
    s->floor_written = floor > s->floor_written ? floor : s->floor_written;
    s->next_written = s->next_seq > s->next_written ? s->next_seq : s->next_written;
    int rc = sf_flush(dev);
    if (rc == NE_OK) {
        rc = sf_flash_sync(dev);
    }
    if (rc == NE_OK) {
        rc = erase_victims(dev, victims, n);
    }
    sf_rebuild_order(dev);
    if (rc != NE_OK) {
        return rc;
    }
    dev->stats.compactions++;
    dev->stats.blocks_reclaimed += n;
    *freed = n;
    return NE_OK;
}

int sf_compact_step_of(ne_store_dev *dev, uint32_t only_slot, uint32_t *freed)
{
    *freed = 0;
    if (dev->failed != NE_OK) {
        return dev->failed;
    }
    int rc = sf_erase_retired(dev);
    if (rc != NE_OK) {
        return rc;
    }
    uint32_t victims[NE_STORE_COMPACT_MAX_VICTIMS];
    uint32_t n = 0;
    rc = collect_dead(dev, only_slot, victims, &n);
    if (rc != NE_OK) {
        return rc;
    }
    if (n > 0) {
        rc = retire_dead(dev, victims, n, freed);
        if (rc != NE_OK || *freed > 0) {
            return rc;
        }
    }
    uint32_t slot = SF_NONE;
    n = choose_window(dev, only_slot, victims, &slot);
    if (n < 2 || sf_free_count(dev) < 1) {
        return NE_OK;
    }
    rc = merge_into_new(dev, &dev->slots[slot], victims, n, false, UINT64_MAX, 0);
    if (rc == NE_OK) {
        *freed = n - 1;
    }
    return rc == NE_ERR_FULL ? NE_OK : rc;
}

int sf_wear_level(ne_store_dev *dev)
{
    if (dev->failed != NE_OK) {
        return dev->failed;
    }
    /* The move takes a free block and gives the cold one back: two free
     * blocks (a head's next and compaction's reserve) stay free. */
    if (sf_free_count(dev) < 3) {
        return NE_ERR_NOT_FOUND;
    }
    /* Heads too: a log that rarely writes (the catalogue) keeps its head
     * for ever, and that block would never be erased again. */
    int32_t cold = -1;
    uint32_t max = 0;
    for (uint32_t i = 0; i < dev->block_count; i++) {
        const ne_store_block *b = &dev->blocks[i];
        max = b->erase_count > max ? b->erase_count : max;
        bool candidate = b->state == SF_STATE_DATA && b->slot != SF_NO_SLOT &&
                         !(b->flags & SF_FLAG_RETIRED) &&
                         !(dev->slots[b->slot].flags & SF_SLOT_ORPHAN);
        if (candidate && (cold < 0 || b->erase_count < dev->blocks[cold].erase_count)) {
            cold = (int32_t)i;
        }
    }
    if (cold < 0 || max - dev->blocks[cold].erase_count <= NE_STORE_WEAR_SPREAD_MAX) {
        return NE_ERR_NOT_FOUND;
    }
    const ne_store_block *b = &dev->blocks[cold];
    ne_store_slot *s = &dev->slots[b->slot];
    if (s->head == cold) {
        /* The head is sealed and moved; the log's next write opens another. */
        int rc = sf_flush(dev);
        if (rc != NE_OK) {
            return rc;
        }
        dev->blocks[cold].flags |= SF_FLAG_SEALED;
        s->head = -1;
    }
    uint32_t victim = (uint32_t)cold;
    /* Most tombstones of a cold block guard records long gone: count the
     * ones that would really be copied. */
    uint32_t dels = 0;
    int rc = count_needed_tombstones(dev, s, victim, &victim, 1, UINT32_MAX, &dels);
    if (rc != NE_OK) {
        return rc;
    }
    if (!merge_fits(dev, 1, live_estimate(dev, b), dels, b->live_msgs)) {
        return NE_ERR_NOT_FOUND;
    }
    /* Cold data goes to the most worn free block: it will sit there. */
    rc = merge_into_new(dev, s, &victim, 1, true, UINT64_MAX, 0);
    if (rc == NE_OK) {
        dev->stats.wear_moves++;
    }
    return rc == NE_ERR_FULL ? NE_ERR_NOT_FOUND : rc;
}
