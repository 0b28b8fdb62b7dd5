/* Compaction of the flash store: whole erase blocks come back to use.
 *
 * A block whose records are all gone and whose tombstones no longer guard
 * anything is retired directly: a RETIRE record naming it is made durable in
 * the head, then it is erased. Otherwise a window of blocks adjacent in
 * sequence order is merged into a fresh block: its BEGIN lists the blocks it
 * replaces, then come their live records (compressed in packs when that
 * saves space) and the tombstones still needed, and a COMMIT in the block's
 * last unit. Only once the COMMIT is durable are the old blocks erased; a
 * power cut before that leaves the old blocks authoritative and the new one
 * ignored, one after it leaves the new one authoritative. Merging adjacent
 * blocks keeps every block's sequence range disjoint from the others. */
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

/* Is a tombstone still needed once the victims are gone? Yes while the
 * block holding its target stays and no durable floor covers the target. */
static bool tombstone_needed(const ne_store_flash *fs, const uint8_t *entry,
                             const uint32_t *victims, uint32_t n)
{
    uint64_t seq = sf_get64(entry);
    if (seq < fs->floor_written) {
        return false;
    }
    int32_t t = sf_block_by_serial(fs, sf_get64(entry + 8));
    return t >= 0 && !is_victim(victims, n, (uint32_t)t);
}

/* Reads a tombstone frame's body into fs->scratch (CRC checked); NULL when
 * it is damaged (its tombstones are lost with it). */
static const uint8_t *del_body(ne_store_flash *fs, uint32_t block, const sf_frame *fr, int *rc)
{
    *rc = NE_OK;
    if (fr->len % SF_DEL_ENTRY_BYTES != 0 || fr->len > sizeof(fs->scratch)) {
        return NULL;
    }
    *rc = sf_read(fs, block, fr->off + SF_FRAME_HEADER_BYTES, fs->scratch, fr->len);
    if (*rc != NE_OK || ne_crc32c(0, fs->scratch, fr->len) != fr->body_crc) {
        return NULL;
    }
    return fs->scratch;
}

/* Counts the tombstones of block that must outlive the victims (stops at
 * `enough`). */
static int count_needed_tombstones(ne_store_flash *fs, uint32_t block, const uint32_t *victims,
                                   uint32_t n, uint32_t enough, uint32_t *needed)
{
    *needed = 0;
    if (fs->blocks[block].del_entries == 0) {
        return NE_OK;
    }
    uint32_t pos = fs->data_start;
    uint32_t end = sf_block_end(fs, block);
    uint32_t bound = fs->erase_bytes / 8u + 2u;
    for (uint32_t step = 0; step < bound && *needed < enough; step++) {
        sf_frame fr;
        int rc = sf_next_frame(fs, block, &pos, end, &fr);
        if (rc < 0) {
            return rc;
        }
        if (rc != NE_OK) {
            break;
        }
        if (fr.type != SF_DEL) {
            continue;
        }
        const uint8_t *body = del_body(fs, block, &fr, &rc);
        if (body == NULL) {
            if (rc != NE_OK) {
                return rc;
            }
            continue;
        }
        for (uint32_t k = 0; k < fr.len / SF_DEL_ENTRY_BYTES; k++) {
            *needed += tombstone_needed(fs, body + k * SF_DEL_ENTRY_BYTES, victims, n) ? 1u : 0u;
        }
    }
    return NE_OK;
}

static int has_needed_tombstones(ne_store_flash *fs, uint32_t block, const uint32_t *victims,
                                 uint32_t n, bool *needed)
{
    uint32_t count = 0;
    int rc = count_needed_tombstones(fs, block, victims, n, 1, &count);
    *needed = count > 0;
    return rc;
}

static int erase_victims(ne_store_flash *fs, const uint32_t *victims, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        int rc = sf_erase_block(fs, victims[i]);
        if (rc != NE_OK) {
            return rc;
        }
    }
    return sf_flash_sync(fs);
}

/* ---- Merging into a new block -------------------------------------------- */

typedef struct merge {
    uint32_t block; /* the new block */
    uint32_t salt;
    uint16_t records;
    uint32_t del_count; /* tombstones in the DEL frame still open */
    uint32_t del_off;   /* its offset in wbuf, or SF_NONE */
} merge;

/* Programs what the write buffer holds so far into the new block. */
static int merge_drain(ne_store_flash *fs, merge *m)
{
    int rc = sf_emit_frames(fs, fs->wbuf, fs->wlen, m->salt);
    fs->wlen = 0;
    fs->wdel_off = SF_NONE;
    m->del_off = SF_NONE;
    return rc;
}

static int merge_record(ne_store_flash *fs, merge *m, uint32_t victim, sf_rec *rec)
{
    uint32_t frame = sf_align8(SF_FRAME_HEADER_BYTES + rec->body_len);
    if (fs->wlen + frame > sizeof(fs->wbuf)) {
        int rc = merge_drain(fs, m);
        if (rc != NE_OK) {
            return rc;
        }
    }
    uint8_t *f = sf_wbuf_frame(fs, SF_MSG, m->records, rec->body_len);
    m->del_off = SF_NONE;
    uint8_t *body = f + SF_FRAME_HEADER_BYTES;
    if (rec->mem != NULL) {
        memcpy(body, rec->mem, rec->body_len);
    } else {
        int rc = sf_read(fs, victim, rec->body_off, body, rec->body_len);
        if (rc != NE_OK) {
            return rc;
        }
    }
    /* The CRC travels with the record; the copy is checked against it. */
    if (ne_crc32c(0, body, rec->body_len) != rec->body_crc) {
        fs->wlen -= frame;
        fs->store->state.corrupt_records++;
        return NE_OK;
    }
    sf_encode_frame_header(f, SF_MSG, m->records, rec->body_len, rec->body_crc, m->salt);
    ne_store_block *c = &fs->blocks[m->block];
    uint32_t bytes =
        (uint32_t)ne_store_msg_bytes(rec->subject_len, rec->headers_len, rec->payload_len);
    if (c->first_seq == 0) {
        c->first_seq = rec->seq;
    }
    c->last_seq = rec->seq;
    c->live_msgs++;
    c->live_bytes += bytes;
    c->live_frame_bytes += frame;
    c->raw_bytes += frame;
    m->records++;
    fs->stats.records_moved++;
    return NE_OK;
}

static int merge_tombstone(ne_store_flash *fs, merge *m, const uint8_t *entry)
{
    uint32_t need = m->del_off != SF_NONE && m->del_count < SF_DEL_MAX_ENTRIES
                        ? SF_DEL_ENTRY_BYTES
                        : SF_FRAME_HEADER_BYTES + SF_DEL_ENTRY_BYTES;
    if (fs->wlen + need > sizeof(fs->wbuf)) {
        int rc = merge_drain(fs, m);
        if (rc != NE_OK) {
            return rc;
        }
    }
    uint8_t *f;
    if (m->del_off != SF_NONE && m->del_count < SF_DEL_MAX_ENTRIES) {
        f = fs->wbuf + m->del_off;
        sf_put32(f + 4, (m->del_count + 1) * SF_DEL_ENTRY_BYTES);
        fs->wlen += SF_DEL_ENTRY_BYTES;
    } else {
        m->del_off = fs->wlen;
        m->del_count = 0;
        f = sf_wbuf_frame(fs, SF_DEL, 0, SF_DEL_ENTRY_BYTES);
    }
    memcpy(f + SF_FRAME_HEADER_BYTES + m->del_count * SF_DEL_ENTRY_BYTES, entry,
           SF_DEL_ENTRY_BYTES);
    m->del_count++;
    sf_wbuf_seal_frame(fs, f, m->salt);
    fs->blocks[m->block].del_entries++;
    return NE_OK;
}

/* Copies one victim's live records and needed tombstones. */
static int merge_victim(ne_store_flash *fs, merge *m, uint32_t victim, const uint32_t *victims,
                        uint32_t n)
{
    sf_cursor c;
    sf_cursor_init(fs, &c, victim, true);
    uint32_t bound = fs->erase_bytes / 8u + NE_STORE_BLOCK_MAX_RECORDS + 4u;
    for (uint32_t step = 0; step < bound; step++) {
        sf_rec rec;
        sf_frame fr;
        int res = sf_cursor_next(fs, &c, &rec, &fr);
        if (res < 0) {
            return res;
        }
        if (res == SF_END) {
            return NE_OK;
        }
        int rc = NE_OK;
        if (res == SF_REC) {
            if (rec.ordinal < NE_STORE_BLOCK_MAX_RECORDS && !sf_deleted(fs, victim, rec.ordinal) &&
                rec.seq >= fs->floor_seq) {
                rc = merge_record(fs, m, victim, &rec);
            }
        } else if (res == SF_OTHER && fr.type == SF_DEL) {
            const uint8_t *body = del_body(fs, victim, &fr, &rc);
            for (uint32_t k = 0; body != NULL && k < fr.len / SF_DEL_ENTRY_BYTES; k++) {
                const uint8_t *e = body + k * SF_DEL_ENTRY_BYTES;
                if (tombstone_needed(fs, e, victims, n)) {
                    rc = merge_tombstone(fs, m, e);
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

/* CRC-32C of what the merge programmed into the new block, read back from
 * the flash: the COMMIT vouches for exactly these bytes. */
static int programmed_crc(ne_store_flash *fs, uint32_t block, uint32_t end, uint32_t *crc)
{
    *crc = 0;
    uint32_t off = fs->data_start;
    uint32_t bound = fs->erase_bytes / NE_STORE_READ_BUFFER_BYTES + 2;
    for (uint32_t i = 0; i < bound && off < end; i++) {
        uint32_t n = end - off;
        if (n > NE_STORE_READ_BUFFER_BYTES) {
            n = NE_STORE_READ_BUFFER_BYTES;
        }
        int rc;
        const uint8_t *p = sf_peek(fs, block, off, n, &rc);
        if (p == NULL) {
            return rc != NE_OK ? rc : NE_ERR_IO;
        }
        *crc = ne_crc32c(*crc, p, n);
        off += n;
    }
    return NE_OK;
}

static int program_commit(ne_store_flash *fs, merge *m, uint32_t end)
{
    uint32_t crc;
    int rc = programmed_crc(fs, m->block, end, &crc);
    if (rc != NE_OK) {
        return rc;
    }
    uint32_t len = fs->erase_bytes - fs->data_end;
    uint8_t *p = fs->stage;
    NE_ASSERT(fs->emit_fill == 0 && len <= sizeof(fs->stage));
    memset(p, 0xff, len);
    uint8_t *body = p + SF_FRAME_HEADER_BYTES;
    sf_put64(body, fs->blocks[m->block].serial);
    sf_put32(body + 8, m->records);
    sf_put32(body + 12, end);
    sf_put32(body + 16, crc);
    sf_put32(body + 20, 0);
    sf_encode_frame_header(p, SF_COMMIT, 0, SF_COMMIT_BYTES, ne_crc32c(0, body, SF_COMMIT_BYTES),
                           m->salt);
    sf_emit_begin(fs, m->block, fs->data_end);
    rc = sf_emit(fs, p, len);
    uint32_t commit_end;
    if (rc == NE_OK) {
        rc = sf_emit_end(fs, &commit_end);
    }
    return rc;
}

/* Merges the victims (record-bearing ones in sequence order first) into a
 * fresh block, then erases them. */
static int merge_into_new(ne_store_flash *fs, const uint32_t *victims, uint32_t n, bool most_worn)
{
    NE_ASSERT(n >= 1 && n <= NE_STORE_COMPACT_MAX_VICTIMS);
    int rc = sf_flush(fs);
    if (rc != NE_OK) {
        return rc;
    }
    int32_t pick = sf_pick_free(fs, most_worn);
    if (pick < 0) {
        return NE_ERR_FULL;
    }
    rc = sf_prepare_block(fs, (uint32_t)pick);
    if (rc != NE_OK) {
        return rc;
    }
    /* The write buffer becomes the merge's staging area; the head takes
     * nothing meanwhile. */
    int32_t head = fs->head;
    fs->head = -1;
    merge m = {.block = (uint32_t)pick, .salt = fs->blocks[pick].salt, .del_off = SF_NONE};
    ne_store_block *c = &fs->blocks[pick];
    c->serial = fs->next_serial++;
    uint64_t serials[NE_STORE_COMPACT_MAX_VICTIMS];
    for (uint32_t i = 0; i < n; i++) {
        serials[i] = fs->blocks[victims[i]].serial;
    }
    fs->wlen = 0;
    uint64_t floor_in_begin = fs->floor_seq;
    sf_wbuf_begin(fs, m.block, SF_KIND_COMPACT, serials, n);
    sf_emit_begin(fs, m.block, fs->data_start);
    for (uint32_t i = 0; i < n && rc == NE_OK; i++) {
        rc = merge_victim(fs, &m, victims[i], victims, n);
    }
    uint32_t end = 0;
    if (rc == NE_OK) {
        rc = merge_drain(fs, &m);
    }
    if (rc == NE_OK) {
        rc = sf_emit_end(fs, &end);
    }
    /* The records (and the head's frames flushed above) must be on the
     * medium before the COMMIT is programmed: a write cache may otherwise
     * keep the COMMIT and lose them, and recovery would then erase the only
     * good copies. Two syncs: the content, then the COMMIT. */
    if (rc == NE_OK) {
        rc = sf_flash_sync(fs);
    }
    if (rc == NE_OK) {
        NE_ASSERT(end <= fs->data_end);
        rc = program_commit(fs, &m, end);
    }
    if (rc == NE_OK) {
        rc = sf_flash_sync(fs);
    }
    fs->head = head;
    fs->wlen = 0;
    fs->wdel_off = SF_NONE;
    if (rc == NE_ERR_FULL) {
        /* The live records did not fit after all (they compressed worse
         * than estimated). The half-written block is erased at once: left
         * as it is, it could outlive its victims and be taken for a
         * committed one with a damaged COMMIT. */
        c->serial = 0;
        fs->emit_fill = 0;
        rc = sf_erase_block(fs, m.block);
        fs->stats.aborted_merges++;
        return rc == NE_OK ? NE_ERR_FULL : rc;
    }
    if (rc != NE_OK) {
        return sf_fail(fs, rc);
    }
    /* Only a committed BEGIN carries its floor: an aborted merge's never
     * reaches recovery. */
    if (floor_in_begin > fs->floor_written) {
        fs->floor_written = floor_in_begin;
    }
    c->state = SF_STATE_DATA;
    c->kind = SF_KIND_COMPACT;
    c->flags = SF_FLAG_SEALED;
    c->records = m.records;
    c->write_off = end;
    rc = erase_victims(fs, victims, n);
    fs->moves++;
    sf_rebuild_order(fs);
    if (rc != NE_OK) {
        return rc;
    }
    fs->stats.compactions++;
    fs->stats.blocks_reclaimed += n;
    return NE_OK;
}

/* ---- Choosing ------------------------------------------------------------ */

/* Bytes the live records of a block will take in a new block: their frames
 * uncompressed, or, when the block was compressed, in the proportion the
 * block as a whole was compressed, plus an eighth since the new block packs
 * them differently. A merge that still does not fit is abandoned. */
static uint64_t live_estimate(const ne_store_flash *fs, const ne_store_block *b)
{
    uint64_t stored = b->write_off > fs->data_start ? b->write_off - fs->data_start : 0;
    if (fs->table == NULL || b->raw_bytes == 0 || stored >= b->raw_bytes) {
        return b->live_frame_bytes;
    }
    uint64_t estimate = (uint64_t)b->live_frame_bytes * stored / b->raw_bytes;
    estimate += estimate / 8 + 64;
    return estimate < b->live_frame_bytes ? estimate : b->live_frame_bytes;
}

/* Bytes a merge of blocks with these totals needs in the new block. */
static uint32_t merge_need(const ne_store_flash *fs, uint32_t victims, uint64_t frame_bytes,
                           uint64_t dels)
{
    uint64_t need = sf_align8(SF_FRAME_HEADER_BYTES + SF_BEGIN_FIXED_BYTES + 8 * victims);
    need += frame_bytes + dels * SF_DEL_ENTRY_BYTES;
    need += (dels / SF_DEL_MAX_ENTRIES + victims) * SF_FRAME_HEADER_BYTES;
    need += fs->program_bytes;
    return need > 0xffffffffu ? 0xffffffffu : (uint32_t)need;
}

static bool merge_fits(const ne_store_flash *fs, uint32_t victims, uint64_t frame_bytes,
                       uint64_t dels, uint64_t msgs)
{
    return msgs <= NE_STORE_BLOCK_MAX_RECORDS &&
           merge_need(fs, victims, frame_bytes, dels) <= fs->data_end - fs->data_start;
}

/* Blocks whose records are all gone and whose tombstones guard nothing. */
static int collect_dead(ne_store_flash *fs, uint32_t *victims, uint32_t *n)
{
    *n = 0;
    for (uint32_t i = 0; i < fs->block_count && *n < NE_STORE_COMPACT_MAX_VICTIMS; i++) {
        const ne_store_block *b = &fs->blocks[i];
        if (b->state != SF_STATE_DATA || (int32_t)i == fs->head || b->live_msgs != 0) {
            continue;
        }
        bool needed;
        victims[*n] = i;
        int rc = has_needed_tombstones(fs, i, victims, *n + 1, &needed);
        if (rc != NE_OK) {
            return rc;
        }
        if (!needed) {
            (*n)++;
        }
    }
    return NE_OK;
}

/* The window of blocks adjacent in sequence order that frees the most
 * blocks when merged (ties: the fewest bytes to copy), plus blocks without
 * records that still hold needed tombstones. */
static uint32_t choose_window(const ne_store_flash *fs, uint32_t *victims)
{
    uint32_t best_start = 0;
    uint32_t best_len = 0;
    uint64_t best_bytes = 0;
    for (uint32_t i = 0; i < fs->order_count; i++) {
        uint64_t bytes = 0;
        uint64_t dels = 0;
        uint64_t msgs = 0;
        for (uint32_t w = 1; w <= NE_STORE_COMPACT_MAX_VICTIMS && i + w <= fs->order_count; w++) {
            uint32_t block = fs->order[i + w - 1];
            if ((int32_t)block == fs->head) {
                break;
            }
            const ne_store_block *b = &fs->blocks[block];
            bytes += live_estimate(fs, b);
            dels += b->del_entries;
            msgs += b->live_msgs;
            if (!merge_fits(fs, w, bytes, dels, msgs)) {
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
        const ne_store_block *b = &fs->blocks[fs->order[best_start + k]];
        victims[n++] = fs->order[best_start + k];
        bytes += live_estimate(fs, b);
        dels += b->del_entries;
        msgs += b->live_msgs;
    }
    for (uint32_t i = 0; i < fs->block_count && n < NE_STORE_COMPACT_MAX_VICTIMS; i++) {
        const ne_store_block *b = &fs->blocks[i];
        if (b->state != SF_STATE_DATA || (int32_t)i == fs->head || b->first_seq != 0) {
            continue;
        }
        if (merge_fits(fs, n + 1, bytes, dels + b->del_entries, msgs)) {
            victims[n++] = i;
            dels += b->del_entries;
        }
    }
    return n;
}

/* Retires dead blocks: a durable RETIRE in the head, then the erase. With no
 * room in the head, dead blocks are merged like any others (into a block
 * that holds nothing but the list of blocks it replaces). */
static int retire_dead(ne_store_flash *fs, const uint32_t *victims, uint32_t n, uint32_t *freed)
{
    /* The RETIRE carries the floor: a victim's BEGIN may be the only durable
     * copy of it, and the head must carry it once the victim is gone. In
     * one frame, so that no write cache can keep the retirement and lose
     * the floor. */
    uint32_t len = SF_RETIRE_FIXED_BYTES + 8 * n;
    uint32_t frames = SF_FRAME_HEADER_BYTES + len;
    if (fs->head < 0 || fs->wlen + frames > sizeof(fs->wbuf)) {
        int rc = sf_flush(fs);
        if (rc != NE_OK) {
            return rc;
        }
    }
    ne_store_block *h = fs->head >= 0 ? &fs->blocks[fs->head] : NULL;
    uint32_t need = sf_align_up(fs->wlen + frames, fs->program_bytes);
    if (h == NULL || (h->flags & SF_FLAG_SEALED) || h->write_off > fs->data_end ||
        need > fs->data_end - h->write_off) {
        if (n < 2 || sf_free_count(fs) < 1) {
            return NE_OK;
        }
        int rc = merge_into_new(fs, victims, n, false);
        if (rc == NE_OK) {
            *freed = n - 1;
        }
        return rc == NE_ERR_FULL ? NE_OK : rc;
    }
    uint8_t *f = sf_wbuf_frame(fs, SF_RETIRE, 0, len);
    sf_put64(f + SF_FRAME_HEADER_BYTES, fs->floor_seq);
    sf_put64(f + SF_FRAME_HEADER_BYTES + 8, fs->next_seq);
    for (uint32_t i = 0; i < n; i++) {
        sf_put64(f + SF_FRAME_HEADER_BYTES + SF_RETIRE_FIXED_BYTES + 8 * i,
                 fs->blocks[victims[i]].serial);
    }
    sf_wbuf_seal_frame(fs, f, h->salt);
    if (fs->floor_seq > fs->floor_written) {
        fs->floor_written = fs->floor_seq;
    }
    int rc = sf_flush(fs);
    if (rc == NE_OK) {
        rc = sf_flash_sync(fs);
    }
    if (rc == NE_OK) {
        rc = erase_victims(fs, victims, n);
    }
    sf_rebuild_order(fs);
    if (rc != NE_OK) {
        return rc;
    }
    fs->stats.compactions++;
    fs->stats.blocks_reclaimed += n;
    *freed = n;
    return NE_OK;
}

int sf_compact_step(ne_store_flash *fs, uint32_t *freed)
{
    *freed = 0;
    if (fs->failed != NE_OK) {
        return fs->failed;
    }
    int rc = sf_erase_retired(fs);
    if (rc != NE_OK) {
        return rc;
    }
    uint32_t victims[NE_STORE_COMPACT_MAX_VICTIMS];
    uint32_t n = 0;
    rc = collect_dead(fs, victims, &n);
    if (rc != NE_OK) {
        return rc;
    }
    if (n > 0) {
        rc = retire_dead(fs, victims, n, freed);
        if (rc != NE_OK || *freed > 0) {
            return rc;
        }
    }
    n = choose_window(fs, victims);
    if (n < 2 || sf_free_count(fs) < 1) {
        return NE_OK;
    }
    rc = merge_into_new(fs, victims, n, false);
    if (rc == NE_OK) {
        *freed = n - 1;
    }
    return rc == NE_ERR_FULL ? NE_OK : rc;
}

int sf_wear_level(ne_store_flash *fs)
{
    if (fs->failed != NE_OK) {
        return fs->failed;
    }
    /* The move takes a free block and gives the cold one back: two free
     * blocks (the head's next and compaction's reserve) stay free. */
    if (sf_free_count(fs) < 2) {
        return NE_ERR_NOT_FOUND;
    }
    int32_t cold = -1;
    uint32_t max = 0;
    for (uint32_t i = 0; i < fs->block_count; i++) {
        const ne_store_block *b = &fs->blocks[i];
        max = b->erase_count > max ? b->erase_count : max;
        if (b->state == SF_STATE_DATA && (int32_t)i != fs->head &&
            (cold < 0 || b->erase_count < fs->blocks[cold].erase_count)) {
            cold = (int32_t)i;
        }
    }
    if (cold < 0 || max - fs->blocks[cold].erase_count <= NE_STORE_WEAR_SPREAD_MAX) {
        return NE_ERR_NOT_FOUND;
    }
    const ne_store_block *b = &fs->blocks[cold];
    uint32_t victim = (uint32_t)cold;
    /* Most tombstones of a cold block guard records long gone: count the
     * ones that would really be copied. */
    uint32_t dels = 0;
    int rc = count_needed_tombstones(fs, victim, &victim, 1, UINT32_MAX, &dels);
    if (rc != NE_OK) {
        return rc;
    }
    if (!merge_fits(fs, 1, live_estimate(fs, b), dels, b->live_msgs)) {
        return NE_ERR_NOT_FOUND;
    }
    /* Cold data goes to the most worn free block: it will sit there. */
    rc = merge_into_new(fs, &victim, 1, true);
    if (rc == NE_OK) {
        fs->stats.wear_moves++;
    }
    return rc == NE_ERR_FULL ? NE_ERR_NOT_FOUND : rc;
}
