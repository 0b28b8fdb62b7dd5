/* The flash store backend: appends through the write buffer, lookups,
 * deletions, syncs, and opening (recovery by scan). Compaction is in
 * ne_store_flash_compact.c, byte-level I/O in ne_store_flash_io.c. */
#include "store/ne_store_flash.h"

#include <string.h>

#include "codec/ne_crc32c.h"
#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "store/ne_store_format.h"

/* ---- Block bookkeeping --------------------------------------------------- */

uint32_t sf_free_count(const ne_store_flash *fs)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < fs->block_count; i++) {
        if (fs->blocks[i].state != SF_STATE_DATA) {
            n++;
        }
    }
    return n;
}

int32_t sf_pick_free(const ne_store_flash *fs, bool most_worn)
{
    int32_t best = -1;
    for (uint32_t i = 0; i < fs->block_count; i++) {
        const ne_store_block *b = &fs->blocks[i];
        if (b->state == SF_STATE_DATA) {
            continue;
        }
        if (best < 0) {
            best = (int32_t)i;
            continue;
        }
        uint32_t have = fs->blocks[best].erase_count;
        if (most_worn ? b->erase_count > have : b->erase_count < have) {
            best = (int32_t)i;
        }
    }
    return best;
}

/* Insertion sort by first sequence: the order is nearly sorted whenever it
 * is rebuilt at run time (one block changed), so this is linear then. */
void sf_rebuild_order(ne_store_flash *fs)
{
    fs->order_count = 0;
    for (uint32_t i = 0; i < fs->block_count; i++) {
        const ne_store_block *b = &fs->blocks[i];
        if (b->state != SF_STATE_DATA || b->first_seq == 0 || (b->flags & SF_FLAG_RETIRED)) {
            continue;
        }
        uint32_t j = fs->order_count++;
        for (; j > 0 && fs->blocks[fs->order[j - 1]].first_seq > b->first_seq; j--) {
            fs->order[j] = fs->order[j - 1];
        }
        fs->order[j] = (uint16_t)i;
    }
    fs->gen++;
}

int32_t sf_block_by_serial(const ne_store_flash *fs, uint64_t serial)
{
    for (uint32_t i = 0; i < fs->block_count; i++) {
        if (fs->blocks[i].state == SF_STATE_DATA && fs->blocks[i].serial == serial) {
            return (int32_t)i;
        }
    }
    return -1;
}

int sf_erase_retired(ne_store_flash *fs)
{
    for (uint32_t i = 0; i < fs->block_count; i++) {
        if (fs->blocks[i].flags & SF_FLAG_RETIRED) {
            int rc = sf_erase_block(fs, i);
            if (rc != NE_OK) {
                return rc;
            }
        }
    }
    return NE_OK;
}

/* ---- Write buffer -------------------------------------------------------- */

uint8_t *sf_wbuf_frame(ne_store_flash *fs, uint8_t type, uint16_t ordinal, uint32_t len)
{
    uint32_t size = sf_align8(SF_FRAME_HEADER_BYTES + len);
    NE_ASSERT(size <= sizeof(fs->wbuf) - fs->wlen);
    uint8_t *p = fs->wbuf + fs->wlen;
    memset(p, 0, size);
    p[0] = type;
    sf_put16(p + 2, ordinal);
    sf_put32(p + 4, len);
    fs->wlen += size;
    fs->wdel_off = SF_NONE;
    return p;
}

void sf_wbuf_seal_frame(ne_store_flash *fs, uint8_t *frame, uint32_t salt)
{
    (void)fs;
    uint32_t len = sf_get32(frame + 4);
    uint32_t crc = ne_crc32c(0, frame + SF_FRAME_HEADER_BYTES, len);
    sf_encode_frame_header(frame, frame[0], sf_get16(frame + 2), len, crc, salt);
}

void sf_wbuf_begin(ne_store_flash *fs, uint32_t block, uint8_t kind, const uint64_t *victims,
                   uint32_t victim_count)
{
    NE_ASSERT(victim_count <= NE_STORE_COMPACT_MAX_VICTIMS);
    uint8_t *f = sf_wbuf_frame(fs, SF_BEGIN, 0, SF_BEGIN_FIXED_BYTES + 8 * victim_count);
    uint8_t *body = f + SF_FRAME_HEADER_BYTES;
    sf_put64(body, fs->blocks[block].serial);
    sf_put64(body + 8, fs->floor_seq);
    sf_put64(body + 16, fs->next_seq);
    body[24] = kind;
    body[25] = (uint8_t)victim_count;
    for (uint32_t i = 0; i < victim_count; i++) {
        sf_put64(body + SF_BEGIN_FIXED_BYTES + 8 * i, victims[i]);
    }
    sf_wbuf_seal_frame(fs, f, fs->blocks[block].salt);
}

int sf_flush(ne_store_flash *fs)
{
    if (fs->head < 0 || fs->wlen == 0) {
        return NE_OK;
    }
    uint32_t head = (uint32_t)fs->head;
    ne_store_block *b = &fs->blocks[head];
    sf_emit_begin(fs, head, b->write_off);
    int rc = sf_emit_frames(fs, fs->wbuf, fs->wlen, b->salt);
    uint32_t end = 0;
    if (rc == NE_OK) {
        rc = sf_emit_end(fs, &end);
    }
    if (rc != NE_OK) {
        return sf_fail(fs, rc);
    }
    NE_ASSERT(end <= fs->data_end);
    b->write_off = end;
    fs->wlen = 0;
    fs->wdel_off = SF_NONE;
    fs->gen++;
    return NE_OK;
}

/* ---- The head ------------------------------------------------------------ */

static bool head_fits(const ne_store_flash *fs, uint32_t frame_bytes, bool msg)
{
    if (fs->head < 0) {
        return false;
    }
    const ne_store_block *b = &fs->blocks[fs->head];
    if ((b->flags & SF_FLAG_SEALED) || (msg && b->records >= NE_STORE_BLOCK_MAX_RECORDS)) {
        return false;
    }
    uint32_t limit = fs->data_end - (msg ? fs->slack_bytes : 0);
    uint32_t need = sf_align_up(fs->wlen + frame_bytes, fs->program_bytes);
    return b->write_off <= limit && need <= limit - b->write_off;
}

/* Starts a new head block. Compaction runs first when fewer than two blocks
 * are free: one stays in reserve so that compaction always has a block to
 * copy into. NE_ERR_FULL when no room can be made. */
static int open_head(ne_store_flash *fs)
{
    int rc = sf_erase_retired(fs);
    if (rc != NE_OK) {
        return rc;
    }
    for (uint32_t i = 0; i < fs->block_count && sf_free_count(fs) < 2; i++) {
        uint32_t freed = 0;
        rc = sf_compact_step(fs, &freed);
        if (rc != NE_OK) {
            return rc;
        }
        if (freed == 0) {
            break;
        }
    }
    if (sf_free_count(fs) < 2) {
        return NE_ERR_FULL;
    }
    if (sf_free_count(fs) >= 2) {
        rc = sf_wear_level(fs);
        if (rc != NE_OK && rc != NE_ERR_NOT_FOUND) {
            return rc;
        }
    }
    rc = sf_flush(fs);
    if (rc != NE_OK) {
        return rc;
    }
    if (fs->head >= 0) {
        fs->blocks[fs->head].flags |= SF_FLAG_SEALED;
        fs->head = -1;
    }
    int32_t pick = sf_pick_free(fs, false);
    NE_ASSERT(pick >= 0);
    rc = sf_prepare_block(fs, (uint32_t)pick);
    if (rc != NE_OK) {
        return rc;
    }
    ne_store_block *b = &fs->blocks[pick];
    b->state = SF_STATE_DATA;
    b->kind = SF_KIND_APPEND;
    b->serial = fs->next_serial++;
    b->write_off = fs->data_start;
    fs->head = pick;
    fs->wlen = 0;
    fs->wdel_off = SF_NONE;
    sf_wbuf_begin(fs, (uint32_t)pick, SF_KIND_APPEND, NULL, 0);
    /* The head's write buffer is programmed before anything else is synced,
     * so the floor in this BEGIN counts as written, as a FLOOR frame would. */
    if (fs->floor_seq > fs->floor_written) {
        fs->floor_written = fs->floor_seq;
    }
    fs->gen++;
    return NE_OK;
}

/* Makes room in the head for a frame of frame_bytes (flushing the write
 * buffer or opening a new head as needed). */
static int ensure_room(ne_store_flash *fs, uint32_t frame_bytes, bool msg)
{
    if (fs->head >= 0 && fs->wlen + frame_bytes > sizeof(fs->wbuf)) {
        int rc = sf_flush(fs);
        if (rc != NE_OK) {
            return rc;
        }
    }
    if (head_fits(fs, frame_bytes, msg)) {
        return NE_OK;
    }
    int rc = open_head(fs);
    if (rc != NE_OK) {
        return rc;
    }
    NE_ASSERT(head_fits(fs, frame_bytes, msg));
    return NE_OK;
}

/* ---- Backend operations -------------------------------------------------- */

static int fs_append(void *impl, const ne_store_msg *msg, uint64_t seq, uint64_t subject_hash)
{
    (void)subject_hash;
    ne_store_flash *fs = impl;
    if (fs->failed != NE_OK) {
        return fs->failed;
    }
    size_t size = msg->subject_len + msg->headers_len + msg->payload_len;
    if (size > fs->max_frame_bytes) {
        return NE_ERR_TOO_BIG;
    }
    uint32_t body = SF_MSG_FIXED_BYTES + (uint32_t)size;
    uint32_t frame = sf_align8(SF_FRAME_HEADER_BYTES + body);
    if (frame > fs->max_frame_bytes) {
        return NE_ERR_TOO_BIG;
    }
    int rc = ensure_room(fs, frame, true);
    if (rc != NE_OK) {
        return rc;
    }
    uint32_t head = (uint32_t)fs->head;
    ne_store_block *b = &fs->blocks[head];
    uint8_t *f = sf_wbuf_frame(fs, SF_MSG, b->records, body);
    uint8_t *p = f + SF_FRAME_HEADER_BYTES;
    sf_put64(p, seq);
    sf_put64(p + 8, msg->timestamp_ns);
    sf_put32(p + 16, (uint32_t)msg->headers_len);
    sf_put16(p + 20, (uint16_t)msg->subject_len);
    sf_put16(p + 22, 0);
    p += SF_MSG_FIXED_BYTES;
    memcpy(p, msg->subject, msg->subject_len);
    if (msg->headers_len > 0) {
        memcpy(p + msg->subject_len, msg->headers, msg->headers_len);
    }
    if (msg->payload_len > 0) {
        memcpy(p + msg->subject_len + msg->headers_len, msg->payload, msg->payload_len);
    }
    sf_wbuf_seal_frame(fs, f, b->salt);
    b->records++;
    b->live_msgs++;
    b->live_bytes +=
        (uint32_t)ne_store_msg_bytes(msg->subject_len, msg->headers_len, msg->payload_len);
    b->live_frame_bytes += frame;
    b->raw_bytes += frame;
    if (b->first_seq == 0) {
        NE_ASSERT(fs->order_count < NE_STORE_MAX_BLOCKS);
        b->first_seq = seq;
        fs->order[fs->order_count++] = (uint16_t)head;
    }
    b->last_seq = seq;
    fs->next_seq = seq + 1;
    return NE_OK;
}

/* First position in order[] whose block may hold from_seq or later. */
static uint32_t order_lower_bound(const ne_store_flash *fs, uint64_t from_seq)
{
    uint32_t lo = 0;
    uint32_t hi = fs->order_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (fs->blocks[fs->order[mid]].last_seq < from_seq) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static void hint_save(ne_store_flash *fs, const sf_cursor *c, uint64_t seq)
{
    fs->hint.valid = true;
    fs->hint.gen = fs->gen;
    fs->hint.seq = seq;
    fs->hint.block = c->block;
    fs->hint.pos = c->pos;
    fs->hint.in_pack = c->in_pack;
    fs->hint.pack_off = c->pack_off;
    fs->hint.ipos = c->ipos;
}

static void hint_restore(ne_store_flash *fs, sf_cursor *c, uint32_t block, uint64_t from_seq)
{
    if (!fs->hint.valid || fs->hint.gen != fs->gen || fs->hint.block != block ||
        fs->hint.seq >= from_seq) {
        return;
    }
    c->pos = fs->hint.pos;
    c->in_pack = fs->hint.in_pack;
    c->pack_off = fs->hint.pack_off;
    c->ipos = fs->hint.ipos;
    if (c->in_pack) {
        /* The pack's length comes back with the pack (reloaded if needed). */
        uint32_t pos = c->pack_off;
        sf_frame fr;
        if (sf_next_frame(fs, block, &pos, c->end, &fr) != NE_OK || fr.off != c->pack_off ||
            fr.type != SF_PACK || sf_pack_load(fs, block, &fr) != NE_OK) {
            sf_cursor_init(fs, c, block, false);
            return;
        }
        c->ilen = fs->pack_len;
    }
}

/* Copies a found record out, checking its CRC on the way (the copy and the
 * check share one read when the body is on flash). */
static int copy_out(ne_store_flash *fs, uint32_t block, sf_rec *rec, ne_store_msg *out, void *buf,
                    size_t buf_bytes)
{
    int rc = ne_store_out_layout(out, buf, buf_bytes, rec->seq, rec->timestamp_ns, rec->subject_len,
                                 rec->headers_len, rec->payload_len);
    if (rc != NE_OK) {
        return rc;
    }
    uint32_t n = rec->body_len - SF_MSG_FIXED_BYTES;
    if (rec->mem != NULL) {
        rc = sf_rec_verify(fs, block, rec);
        if (rc == NE_OK) {
            memcpy(buf, rec->mem + SF_MSG_FIXED_BYTES, n);
        }
    } else {
        rc = sf_read(fs, block, rec->body_off + SF_MSG_FIXED_BYTES, buf, n);
        if (rc == NE_OK) {
            const uint8_t *fixed = sf_peek(fs, block, rec->body_off, SF_MSG_FIXED_BYTES, &rc);
            if (fixed == NULL) {
                rc = rc != NE_OK ? rc : NE_ERR_CORRUPT;
            } else {
                uint32_t crc = ne_crc32c(0, fixed, SF_MSG_FIXED_BYTES);
                crc = ne_crc32c(crc, buf, n);
                rc = crc == rec->body_crc ? NE_OK : NE_ERR_CORRUPT;
            }
        }
    }
    if (rc != NE_OK) {
        out->subject = NULL;
        out->headers = NULL;
        out->payload = NULL;
    }
    return rc;
}

static void count_corrupt(ne_store_flash *fs)
{
    fs->store->state.corrupt_records++;
    fs->stats.corrupt_frames++;
}

/* Looks for the record within one block. NE_ERR_NOT_FOUND: not in it (for
 * an exact lookup: not anywhere); 1: keep looking in the next block. */
static int find_in_block(ne_store_flash *fs, uint32_t block, uint64_t from_seq, bool exact,
                         const ne_store_filter *filter, ne_store_msg *out, void *buf,
                         size_t buf_bytes, ne_store_rec_info *info)
{
    sf_cursor c;
    sf_cursor_init(fs, &c, block, false);
    hint_restore(fs, &c, block, from_seq);
    uint32_t bound = fs->erase_bytes / 8u + NE_STORE_BLOCK_MAX_RECORDS + 4u;
    for (uint32_t step = 0; step < bound; step++) {
        sf_rec rec;
        sf_frame fr;
        int r = sf_cursor_next(fs, &c, &rec, &fr);
        if (r < 0) {
            return r;
        }
        if (r == SF_END) {
            break;
        }
        if (r != SF_REC || rec.ordinal >= NE_STORE_BLOCK_MAX_RECORDS) {
            continue;
        }
        /* Lookups read the fixed fields without checking the body's CRC.
         * A removed record says nothing (recovery removes the damaged ones
         * it finds), and a record whose sequence would end an exact lookup
         * early is checked first: a write cache that lost part of a run can
         * leave a damaged record with a valid frame header in the middle of
         * a block, and its sequence field may be anything. */
        if (sf_deleted(fs, block, rec.ordinal) || rec.seq < fs->floor_seq || rec.seq < from_seq) {
            continue;
        }
        if (exact && rec.seq != from_seq) {
            int vrc = sf_rec_verify(fs, block, &rec);
            if (vrc == NE_ERR_CORRUPT) {
                continue;
            }
            return vrc != NE_OK ? vrc : NE_ERR_NOT_FOUND;
        }
        int rc;
        const char *subject = sf_rec_subject(fs, block, &rec, &rc);
        if (subject == NULL) {
            return rc;
        }
        if (!ne_store_filter_matches(filter, subject, rec.subject_len)) {
            if (exact) {
                return NE_ERR_NOT_FOUND;
            }
            continue;
        }
        info->seq = rec.seq;
        info->timestamp_ns = rec.timestamp_ns;
        info->subject_hash = ne_store_subject_hash(subject, rec.subject_len);
        info->bytes =
            (uint32_t)ne_store_msg_bytes(rec.subject_len, rec.headers_len, rec.payload_len);
        info->loc_block = block;
        info->loc_index = rec.ordinal;
        rc = out != NULL ? copy_out(fs, block, &rec, out, buf, buf_bytes)
                         : sf_rec_verify(fs, block, &rec);
        if (rc == NE_ERR_CORRUPT) {
            count_corrupt(fs);
            if (exact) {
                return NE_ERR_CORRUPT;
            }
            continue;
        }
        hint_save(fs, &c, rec.seq);
        return rc;
    }
    return exact ? NE_ERR_NOT_FOUND : 1;
}

static int fs_find(void *impl, uint64_t from_seq, bool exact, const ne_store_filter *filter,
                   ne_store_msg *out, void *buf, size_t buf_bytes, ne_store_rec_info *info)
{
    ne_store_flash *fs = impl;
    if (fs->failed != NE_OK) {
        return fs->failed;
    }
    if (from_seq < fs->floor_seq) {
        if (exact) {
            return NE_ERR_NOT_FOUND;
        }
        from_seq = fs->floor_seq;
    }
    if (from_seq >= fs->next_seq) {
        return NE_ERR_NOT_FOUND;
    }
    for (uint32_t i = order_lower_bound(fs, from_seq); i < fs->order_count; i++) {
        uint32_t block = fs->order[i];
        const ne_store_block *b = &fs->blocks[block];
        if (exact && b->first_seq > from_seq) {
            return NE_ERR_NOT_FOUND;
        }
        if (b->live_msgs == 0) {
            if (exact) {
                return NE_ERR_NOT_FOUND;
            }
            continue;
        }
        int rc = find_in_block(fs, block, from_seq, exact, filter, out, buf, buf_bytes, info);
        if (rc != 1) {
            return rc;
        }
    }
    return NE_ERR_NOT_FOUND;
}

/* Room for one more tombstone entry: in the DEL frame still open at the end
 * of the write buffer, or a new frame. */
static int add_tombstone(ne_store_flash *fs, const ne_store_rec_info *info, uint64_t serial)
{
    uint32_t head = (uint32_t)fs->head;
    uint8_t *f;
    uint32_t n;
    if (fs->wdel_off != SF_NONE) {
        f = fs->wbuf + fs->wdel_off;
        n = sf_get32(f + 4) / SF_DEL_ENTRY_BYTES;
        sf_put32(f + 4, (n + 1) * SF_DEL_ENTRY_BYTES);
        fs->wlen += SF_DEL_ENTRY_BYTES;
    } else {
        uint32_t off = fs->wlen;
        f = sf_wbuf_frame(fs, SF_DEL, 0, SF_DEL_ENTRY_BYTES);
        fs->wdel_off = off;
        n = 0;
    }
    uint8_t *e = f + SF_FRAME_HEADER_BYTES + n * SF_DEL_ENTRY_BYTES;
    memset(e, 0, SF_DEL_ENTRY_BYTES);
    sf_put64(e, info->seq);
    sf_put64(e + 8, serial);
    sf_put16(e + 16, (uint16_t)info->loc_index);
    sf_put32(e + 20, info->bytes);
    sf_put64(e + 24, info->subject_hash);
    sf_wbuf_seal_frame(fs, f, fs->blocks[head].salt);
    if (n + 1 >= SF_DEL_MAX_ENTRIES) {
        fs->wdel_off = SF_NONE;
    }
    fs->blocks[head].del_entries++;
    return NE_OK;
}

static void account_removed(ne_store_flash *fs, uint32_t block, uint32_t ordinal, uint32_t bytes)
{
    ne_store_block *b = &fs->blocks[block];
    sf_set_deleted(fs, block, ordinal);
    uint32_t frame = sf_align8(bytes + 24u);
    b->live_msgs = b->live_msgs > 0 ? b->live_msgs - 1 : 0;
    b->live_bytes = b->live_bytes > bytes ? b->live_bytes - bytes : 0;
    b->live_frame_bytes = b->live_frame_bytes > frame ? b->live_frame_bytes - frame : 0;
}

static int fs_remove(void *impl, const ne_store_rec_info *info, bool tombstone)
{
    ne_store_flash *fs = impl;
    if (fs->failed != NE_OK) {
        return fs->failed;
    }
    ne_store_rec_info where = *info;
    if (tombstone) {
        uint64_t moves = fs->moves;
        /* Room for a new frame even when the open one could take the entry:
         * making room may flush and close it. */
        int rc = ensure_room(fs, SF_FRAME_HEADER_BYTES + SF_DEL_ENTRY_BYTES, false);
        if (rc != NE_OK) {
            return rc;
        }
        if (fs->moves != moves) {
            /* Compaction ran to make room and may have moved the record. */
            rc = fs_find(fs, info->seq, true, NULL, NULL, NULL, 0, &where);
            if (rc != NE_OK) {
                return rc;
            }
        }
        rc = add_tombstone(fs, &where, fs->blocks[where.loc_block].serial);
        if (rc != NE_OK) {
            return rc;
        }
    }
    account_removed(fs, where.loc_block, where.loc_index, where.bytes);
    return NE_OK;
}

static int fs_set_floor(void *impl, uint64_t floor_seq, bool all)
{
    ne_store_flash *fs = impl;
    if (fs->failed != NE_OK) {
        return fs->failed;
    }
    if (floor_seq > fs->floor_seq) {
        fs->floor_seq = floor_seq;
    }
    if (floor_seq > fs->next_seq) {
        fs->next_seq = floor_seq;
    }
    for (uint32_t i = 0; all && i < fs->block_count; i++) {
        ne_store_block *b = &fs->blocks[i];
        b->live_msgs = 0;
        b->live_bytes = 0;
        b->live_frame_bytes = 0;
    }
    return NE_OK;
}

static int fs_sync(void *impl)
{
    ne_store_flash *fs = impl;
    if (fs->failed != NE_OK) {
        return fs->failed;
    }
    if (fs->floor_seq > fs->floor_written) {
        int rc = ensure_room(fs, SF_FRAME_HEADER_BYTES + SF_FLOOR_BYTES, false);
        if (rc != NE_OK) {
            return rc;
        }
        /* Opening a head may have carried the floor in its BEGIN already. */
        if (fs->floor_seq > fs->floor_written) {
            uint8_t *f = sf_wbuf_frame(fs, SF_FLOOR, 0, SF_FLOOR_BYTES);
            sf_put64(f + SF_FRAME_HEADER_BYTES, fs->floor_seq);
            sf_put64(f + SF_FRAME_HEADER_BYTES + 8, fs->next_seq);
            sf_wbuf_seal_frame(fs, f, fs->blocks[fs->head].salt);
            fs->floor_written = fs->floor_seq;
        }
    }
    int rc = sf_flush(fs);
    if (rc != NE_OK) {
        return rc;
    }
    return sf_flash_sync(fs);
}

static int fs_compact(void *impl, uint32_t *reclaimed)
{
    ne_store_flash *fs = impl;
    *reclaimed = 0;
    if (fs->failed != NE_OK) {
        return fs->failed;
    }
    for (uint32_t i = 0; i < fs->block_count; i++) {
        uint32_t freed = 0;
        int rc = sf_compact_step(fs, &freed);
        if (rc != NE_OK) {
            return rc;
        }
        if (freed == 0) {
            break;
        }
        *reclaimed += freed;
    }
    int rc = sf_wear_level(fs);
    return rc == NE_ERR_NOT_FOUND ? NE_OK : rc;
}

static size_t fs_max_record_bytes(void *impl)
{
    ne_store_flash *fs = impl;
    return fs->max_frame_bytes - SF_FRAME_HEADER_BYTES - SF_MSG_FIXED_BYTES;
}

static int fs_status(void *impl)
{
    ne_store_flash *fs = impl;
    return fs->failed;
}

static const ne_store_backend flash_backend = {
    .append = fs_append,
    .find = fs_find,
    .remove = fs_remove,
    .set_floor = fs_set_floor,
    .sync = fs_sync,
    .compact = fs_compact,
    .max_record_bytes = fs_max_record_bytes,
    .status = fs_status,
};

/* ---- Recovery ------------------------------------------------------------ */

/* What the first pass learns. */
typedef struct recovery {
    uint64_t max_serial;
    uint64_t floor_seq;
    uint64_t next_seq;
    uint64_t last_ts_seq;
    uint64_t last_ts_ns;
    int32_t head;
    uint32_t max_erase;
    bool any_erase_known;
} recovery;

/* Reads a block header. UNKNOWN when it is not one of ours (never used,
 * erased, torn); NE_ERR_UNSUPPORTED when it is ours in another version or
 * geometry. */
static int read_block_header(ne_store_flash *fs, uint32_t block, recovery *r)
{
    ne_store_block *b = &fs->blocks[block];
    b->state = SF_STATE_UNKNOWN;
    int rc;
    const uint8_t *h = sf_peek(fs, block, 0, SF_BLOCK_HEADER_BYTES, &rc);
    if (h == NULL) {
        return rc != NE_OK ? rc : NE_ERR_IO;
    }
    if (sf_get32(h) != SF_MAGIC || sf_get32(h + 28) != ne_crc32c(0, h, 28)) {
        return NE_OK;
    }
    if (sf_get16(h + 4) != SF_VERSION || sf_get16(h + 6) != SF_BLOCK_HEADER_BYTES ||
        sf_get32(h + 12) != fs->program_bytes || sf_get32(h + 16) != fs->erase_bytes ||
        sf_get32(h + 20) != block) {
        return NE_ERR_UNSUPPORTED;
    }
    b->erase_count = sf_get32(h + 8);
    b->salt = sf_block_salt(h);
    b->state = SF_STATE_FREE;
    if (!r->any_erase_known || b->erase_count > r->max_erase) {
        r->max_erase = b->erase_count;
    }
    r->any_erase_known = true;
    return NE_OK;
}

/* Reads a BEGIN frame at off into begin (header checked, body CRC checked).
 * NE_ERR_NOT_FOUND when there is none. */
static int read_begin(ne_store_flash *fs, uint32_t block, const uint8_t **body, uint32_t *len)
{
    uint32_t pos = fs->data_start;
    int rc;
    const uint8_t *p = sf_peek(fs, block, pos, SF_FRAME_HEADER_BYTES, &rc);
    if (p == NULL) {
        return rc != NE_OK ? rc : NE_ERR_NOT_FOUND;
    }
    sf_frame fr;
    if (!sf_decode_frame_header(p, fs->blocks[block].salt, &fr) || fr.type != SF_BEGIN ||
        fr.len < SF_BEGIN_FIXED_BYTES ||
        fr.len > SF_BEGIN_FIXED_BYTES + 8 * NE_STORE_COMPACT_MAX_VICTIMS) {
        return NE_ERR_NOT_FOUND;
    }
    p = sf_peek(fs, block, pos + SF_FRAME_HEADER_BYTES, fr.len, &rc);
    if (p == NULL) {
        return rc != NE_OK ? rc : NE_ERR_NOT_FOUND;
    }
    if (ne_crc32c(0, p, fr.len) != fr.body_crc || p[25] * 8u + SF_BEGIN_FIXED_BYTES != fr.len ||
        sf_get64(p) == 0) {
        return NE_ERR_NOT_FOUND;
    }
    *body = p;
    *len = fr.len;
    return NE_OK;
}

static bool first_bytes_erased(ne_store_flash *fs, uint32_t block, int *rc)
{
    const uint8_t *p = sf_peek(fs, block, fs->data_start, 8, rc);
    if (p == NULL) {
        return false;
    }
    for (uint32_t i = 0; i < 8; i++) {
        if (p[i] != 0xff) {
            return false;
        }
    }
    return true;
}

/* CRC-32C of a block's bytes from data_start to end (the content a COMMIT
 * vouches for), read through the window. */
static int content_crc(ne_store_flash *fs, uint32_t block, uint32_t end, uint32_t *crc)
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
            return rc != NE_OK ? rc : NE_ERR_CORRUPT;
        }
        *crc = ne_crc32c(*crc, p, n);
        off += n;
    }
    return NE_OK;
}

/* Is the COMMIT of compaction block `block` in place, and is the content it
 * vouches for there byte for byte? A device whose write cache reorders can
 * keep a COMMIT and lose records programmed before it if power fails before
 * they are synced; the CRC of the content catches that (and rot). */
static int read_commit(ne_store_flash *fs, uint32_t block, bool *committed)
{
    *committed = false;
    int rc;
    const uint8_t *p =
        sf_peek(fs, block, fs->data_end, SF_FRAME_HEADER_BYTES + SF_COMMIT_BYTES, &rc);
    if (p == NULL) {
        return rc;
    }
    sf_frame fr;
    if (!sf_decode_frame_header(p, fs->blocks[block].salt, &fr) || fr.type != SF_COMMIT ||
        fr.len != SF_COMMIT_BYTES ||
        ne_crc32c(0, p + SF_FRAME_HEADER_BYTES, SF_COMMIT_BYTES) != fr.body_crc ||
        sf_get64(p + SF_FRAME_HEADER_BYTES) != fs->blocks[block].serial) {
        return NE_OK;
    }
    uint32_t end = sf_get32(p + SF_FRAME_HEADER_BYTES + 12);
    uint32_t want = sf_get32(p + SF_FRAME_HEADER_BYTES + 16);
    if (end < fs->data_start || end > fs->data_end || end % fs->program_bytes != 0) {
        return NE_OK;
    }
    uint32_t crc;
    rc = content_crc(fs, block, end, &crc);
    if (rc != NE_OK) {
        return rc == NE_ERR_CORRUPT ? NE_OK : rc;
    }
    *committed = crc == want;
    return NE_OK;
}

/* Pass one over every block: header, BEGIN, COMMIT. */
static bool range_erased(ne_store_flash *fs, uint32_t block, uint32_t from, uint32_t to, int *rc);

static int survey_block(ne_store_flash *fs, uint32_t block, recovery *r)
{
    int rc = read_block_header(fs, block, r);
    if (rc != NE_OK) {
        return rc;
    }
    if (fs->blocks[block].state == SF_STATE_UNKNOWN) {
        /* Written but headerless: rot in the header, or a torn erase. */
        bool erased = range_erased(fs, block, 0, fs->erase_bytes, &rc);
        if (rc != NE_OK) {
            return rc;
        }
        if (!erased) {
            fs->stats.damaged_blocks++;
        }
        return NE_OK;
    }
    ne_store_block *b = &fs->blocks[block];
    const uint8_t *body;
    uint32_t len;
    rc = read_begin(fs, block, &body, &len);
    if (rc == NE_ERR_NOT_FOUND) {
        bool erased = first_bytes_erased(fs, block, &rc);
        if (rc != NE_OK) {
            return rc;
        }
        b->state = erased ? SF_STATE_FREE : SF_STATE_DIRTY;
        if (!erased) {
            fs->stats.damaged_blocks++;
        }
        return NE_OK;
    }
    if (rc != NE_OK) {
        return rc;
    }
    b->serial = sf_get64(body);
    b->kind = body[24] == SF_KIND_COMPACT ? SF_KIND_COMPACT : SF_KIND_APPEND;
    if (b->serial > r->max_serial) {
        r->max_serial = b->serial;
    }
    b->state = SF_STATE_DATA;
    b->write_off = fs->data_end;
    if (b->kind == SF_KIND_COMPACT) {
        bool committed;
        rc = read_commit(fs, block, &committed);
        if (rc != NE_OK) {
            return rc;
        }
        if (!committed) {
            b->flags |= SF_FLAG_UNCOMMITTED;
        }
    }
    return NE_OK;
}

/* Floors and next sequences from the BEGIN of every block that stays. A
 * block about to be erased (retired, or a cut-short compaction) does not
 * count: whatever it carried that was durable is carried by a block that
 * stays (a compaction block's BEGIN, or a FLOOR written with the RETIRE),
 * and anything else was never durable; counting it once and then losing it
 * with the erase would let removed records come back at the next open. */
static int gather_floors(ne_store_flash *fs, recovery *r)
{
    for (uint32_t i = 0; i < fs->order_count; i++) {
        uint32_t block = fs->order[i];
        if (fs->blocks[block].flags & SF_FLAG_RETIRED) {
            continue;
        }
        const uint8_t *body;
        uint32_t len;
        int rc = read_begin(fs, block, &body, &len);
        if (rc != NE_OK) {
            return rc == NE_ERR_NOT_FOUND ? NE_ERR_CORRUPT : rc;
        }
        uint64_t floor = sf_get64(body + 8);
        uint64_t next = sf_get64(body + 16);
        r->floor_seq = floor > r->floor_seq ? floor : r->floor_seq;
        r->next_seq = next > r->next_seq ? next : r->next_seq;
    }
    return NE_OK;
}

/* order[] holds DATA blocks sorted by serial during recovery (a binary
 * search finds tombstone targets). Duplicated serials (a damaged device)
 * keep the first block only. */
static void sort_by_serial(ne_store_flash *fs)
{
    fs->order_count = 0;
    for (uint32_t i = 0; i < fs->block_count; i++) {
        ne_store_block *b = &fs->blocks[i];
        if (b->state != SF_STATE_DATA) {
            continue;
        }
        uint32_t j = fs->order_count;
        for (; j > 0 && fs->blocks[fs->order[j - 1]].serial > b->serial; j--) {
        }
        if (j > 0 && fs->blocks[fs->order[j - 1]].serial == b->serial) {
            b->state = SF_STATE_DIRTY;
            continue;
        }
        memmove(&fs->order[j + 1], &fs->order[j], (fs->order_count - j) * sizeof(fs->order[0]));
        fs->order[j] = (uint16_t)i;
        fs->order_count++;
    }
}

static int32_t find_serial_sorted(const ne_store_flash *fs, uint64_t serial)
{
    uint32_t lo = 0;
    uint32_t hi = fs->order_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        uint64_t s = fs->blocks[fs->order[mid]].serial;
        if (s == serial) {
            return fs->order[mid];
        }
        if (s < serial) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return -1;
}

/* Serials are never reused, so a retirement names exactly one block, older
 * or newer than the block holding it (a compaction block made after the
 * head opened can die and be retired from the head). */
static void retire_serial(ne_store_flash *fs, uint64_t serial, uint64_t retirer)
{
    int32_t v = find_serial_sorted(fs, serial);
    if (v >= 0 && serial != retirer) {
        fs->blocks[v].flags |= SF_FLAG_RETIRED;
    }
}

/* A compaction block without a valid COMMIT was cut short, and the blocks
 * it was replacing are still there: it is discarded, and erased before the
 * open returns, so that it can never outlive them. When none of them is
 * left it must therefore have been committed (they are erased only after
 * the COMMIT is durable) and the COMMIT itself was damaged: it is kept. */
static int resolve_uncommitted(ne_store_flash *fs)
{
    bool dropped = false;
    for (uint32_t i = 0; i < fs->order_count; i++) {
        uint32_t block = fs->order[i];
        ne_store_block *b = &fs->blocks[block];
        if (!(b->flags & SF_FLAG_UNCOMMITTED)) {
            continue;
        }
        const uint8_t *body;
        uint32_t len;
        int rc = read_begin(fs, block, &body, &len);
        if (rc != NE_OK) {
            return rc == NE_ERR_NOT_FOUND ? NE_ERR_CORRUPT : rc;
        }
        bool victim_left = false;
        for (uint32_t k = 0; k < body[25]; k++) {
            int32_t v = find_serial_sorted(fs, sf_get64(body + SF_BEGIN_FIXED_BYTES + 8 * k));
            victim_left = victim_left || (v >= 0 && (uint32_t)v != block);
        }
        b->flags &= (uint8_t)~SF_FLAG_UNCOMMITTED;
        if (victim_left) {
            b->state = SF_STATE_DIRTY;
            b->flags |= SF_FLAG_RETIRED;
            dropped = true;
        } else {
            fs->stats.damaged_blocks++;
        }
    }
    if (dropped) {
        sort_by_serial(fs);
    }
    return NE_OK;
}

/* Committed compaction blocks retire the blocks they replaced. */
static int retire_replaced(ne_store_flash *fs)
{
    for (uint32_t i = 0; i < fs->order_count; i++) {
        uint32_t block = fs->order[i];
        if (fs->blocks[block].kind != SF_KIND_COMPACT) {
            continue;
        }
        const uint8_t *body;
        uint32_t len;
        int rc = read_begin(fs, block, &body, &len);
        if (rc != NE_OK) {
            return rc == NE_ERR_NOT_FOUND ? NE_ERR_CORRUPT : rc;
        }
        uint64_t victims[NE_STORE_COMPACT_MAX_VICTIMS];
        uint32_t n = body[25];
        for (uint32_t k = 0; k < n; k++) {
            victims[k] = sf_get64(body + SF_BEGIN_FIXED_BYTES + 8 * k);
        }
        for (uint32_t k = 0; k < n; k++) {
            retire_serial(fs, victims[k], fs->blocks[block].serial);
        }
    }
    return NE_OK;
}

/* Reads an OTHER frame's body into fs->scratch and checks its CRC. */
static const uint8_t *frame_body(ne_store_flash *fs, uint32_t block, const sf_frame *fr, int *rc)
{
    *rc = NE_OK;
    if (fr->len > sizeof(fs->scratch)) {
        return NULL;
    }
    *rc = sf_read(fs, block, fr->off + SF_FRAME_HEADER_BYTES, fs->scratch, fr->len);
    if (*rc != NE_OK) {
        return NULL;
    }
    if (ne_crc32c(0, fs->scratch, fr->len) != fr->body_crc) {
        fs->stats.corrupt_frames++;
        return NULL;
    }
    return fs->scratch;
}

/* The newest append block may hold floors and retirements that the rest of
 * the scan depends on; they are read first. Only this block can hold a
 * retirement whose blocks are still unerased: a new head never opens before
 * every retired block is erased. */
static int prescan_head(ne_store_flash *fs, recovery *r)
{
    if (r->head < 0) {
        return NE_OK;
    }
    uint32_t block = (uint32_t)r->head;
    uint32_t pos = fs->data_start;
    uint32_t bound = fs->erase_bytes / 8u + 2u;
    for (uint32_t step = 0; step < bound; step++) {
        sf_frame fr;
        int rc = sf_next_frame(fs, block, &pos, fs->data_end, &fr);
        if (rc < 0) {
            return rc;
        }
        if (rc != NE_OK) {
            break;
        }
        if (fr.type != SF_FLOOR && fr.type != SF_RETIRE) {
            continue;
        }
        const uint8_t *body = frame_body(fs, block, &fr, &rc);
        if (body == NULL) {
            if (rc != NE_OK) {
                return rc;
            }
            continue;
        }
        if (fr.type == SF_FLOOR && fr.len == SF_FLOOR_BYTES) {
            uint64_t floor = sf_get64(body);
            uint64_t next = sf_get64(body + 8);
            r->floor_seq = floor > r->floor_seq ? floor : r->floor_seq;
            r->next_seq = next > r->next_seq ? next : r->next_seq;
        } else if (fr.type == SF_RETIRE && fr.len >= SF_RETIRE_FIXED_BYTES && fr.len % 8 == 0) {
            /* The floor travels in the RETIRE itself: the blocks it retires
             * may hold the only other copy (their BEGINs). */
            uint64_t floor = sf_get64(body);
            uint64_t next = sf_get64(body + 8);
            r->floor_seq = floor > r->floor_seq ? floor : r->floor_seq;
            r->next_seq = next > r->next_seq ? next : r->next_seq;
            for (uint32_t k = 0; k < (fr.len - SF_RETIRE_FIXED_BYTES) / 8; k++) {
                uint64_t serial = sf_get64(body + SF_RETIRE_FIXED_BYTES + 8 * k);
                r->max_serial = serial > r->max_serial ? serial : r->max_serial;
                retire_serial(fs, serial, fs->blocks[block].serial);
            }
        }
    }
    return NE_OK;
}

static void note_next(recovery *r, uint64_t next_seq)
{
    if (next_seq > r->next_seq) {
        r->next_seq = next_seq;
    }
}

static void note_seq(recovery *r, uint64_t seq, uint64_t ts)
{
    note_next(r, seq + 1);
    if (seq >= r->last_ts_seq) {
        r->last_ts_seq = seq;
        r->last_ts_ns = ts;
    }
}

/* Marks ordinals a damaged stretch hid, so nothing counts them live. */
static void claim_ordinal(ne_store_flash *fs, uint32_t block, uint32_t ordinal)
{
    ne_store_block *b = &fs->blocks[block];
    for (uint32_t o = b->records; o < ordinal; o++) {
        sf_set_deleted(fs, block, o);
    }
    b->records = (uint16_t)(ordinal + 1);
}

static void recover_record(ne_store_flash *fs, uint32_t block, sf_rec *rec, recovery *r)
{
    ne_store_block *b = &fs->blocks[block];
    if (rec->ordinal >= NE_STORE_BLOCK_MAX_RECORDS || rec->ordinal < b->records ||
        (b->last_seq != 0 && rec->seq <= b->last_seq)) {
        /* Out of order: only damage produces this. */
        count_corrupt(fs);
        return;
    }
    claim_ordinal(fs, block, rec->ordinal);
    b->raw_bytes += sf_align8(SF_FRAME_HEADER_BYTES + rec->body_len);
    if (b->first_seq == 0) {
        b->first_seq = rec->seq;
    }
    b->last_seq = rec->seq;
    note_seq(r, rec->seq, rec->timestamp_ns);
    if (sf_deleted(fs, block, rec->ordinal) || rec->seq < r->floor_seq) {
        return;
    }
    int rc;
    const char *subject = sf_rec_subject(fs, block, rec, &rc);
    if (subject == NULL) {
        sf_set_deleted(fs, block, rec->ordinal);
        count_corrupt(fs);
        return;
    }
    uint64_t hash = ne_store_subject_hash(subject, rec->subject_len);
    uint32_t bytes =
        (uint32_t)ne_store_msg_bytes(rec->subject_len, rec->headers_len, rec->payload_len);
    b->live_msgs++;
    b->live_bytes += bytes;
    b->live_frame_bytes += sf_align8(SF_FRAME_HEADER_BYTES + rec->body_len);
    ne_store_recovered_add(fs->store, rec->seq, rec->timestamp_ns, hash, bytes);
}

/* Applies tombstones found while scanning `block`. A target already scanned
 * was counted live and is uncounted here; one not yet scanned only gets its
 * bit, so the scan skips it. */
static void recover_tombstones(ne_store_flash *fs, uint32_t block, const uint8_t *body,
                               uint32_t len, recovery *r)
{
    uint32_t n = len / SF_DEL_ENTRY_BYTES;
    fs->blocks[block].del_entries += n;
    for (uint32_t k = 0; k < n; k++) {
        const uint8_t *e = body + k * SF_DEL_ENTRY_BYTES;
        uint64_t seq = sf_get64(e);
        uint32_t ordinal = sf_get16(e + 16);
        uint32_t bytes = sf_get32(e + 20);
        note_next(r, seq + 1);
        /* A serial still named on flash must never be given to a new block,
         * even when its block is gone: this tombstone would then hit it. */
        uint64_t serial = sf_get64(e + 8);
        r->max_serial = serial > r->max_serial ? serial : r->max_serial;
        int32_t t = find_serial_sorted(fs, serial);
        if (t < 0 || (fs->blocks[t].flags & SF_FLAG_RETIRED) ||
            ordinal >= NE_STORE_BLOCK_MAX_RECORDS || sf_deleted(fs, (uint32_t)t, ordinal)) {
            continue;
        }
        ne_store_block *target = &fs->blocks[t];
        bool counted = ordinal < target->records &&
                       ((target->flags & SF_FLAG_SCANNED) || (uint32_t)t == block);
        sf_set_deleted(fs, (uint32_t)t, ordinal);
        if (counted && seq >= r->floor_seq && target->live_msgs > 0) {
            account_removed(fs, (uint32_t)t, ordinal, bytes);
            sf_set_deleted(fs, (uint32_t)t, ordinal);
            ne_store_recovered_remove(fs->store, seq, sf_get64(e + 24), bytes);
        }
    }
}

/* Scans one block: records, tombstones. *end_pos gets where its data ends;
 * *tail_damage whether damaged bytes follow the last good frame. */
static int scan_block(ne_store_flash *fs, uint32_t block, recovery *r, uint32_t *end_pos,
                      bool *tail_damage)
{
    sf_cursor c;
    sf_cursor_init(fs, &c, block, true);
    uint64_t damage_seen = fs->stats.corrupt_frames;
    uint64_t damage_counted = damage_seen;
    uint32_t bound = fs->erase_bytes / 8u + NE_STORE_BLOCK_MAX_RECORDS + 4u;
    for (uint32_t step = 0; step < bound; step++) {
        sf_rec rec;
        sf_frame fr;
        int res = sf_cursor_next(fs, &c, &rec, &fr);
        if (res < 0) {
            return res;
        }
        if (res == SF_END) {
            break;
        }
        /* Damage followed by good frames is rot, not a torn end. */
        if (fs->stats.corrupt_frames > damage_counted && res != SF_BAD_REC) {
            fs->store->state.corrupt_records += fs->stats.corrupt_frames - damage_counted;
            damage_counted = fs->stats.corrupt_frames;
        }
        if (res == SF_REC) {
            recover_record(fs, block, &rec, r);
        } else if (res == SF_BAD_REC) {
            if (rec.ordinal < NE_STORE_BLOCK_MAX_RECORDS &&
                rec.ordinal >= fs->blocks[block].records) {
                claim_ordinal(fs, block, rec.ordinal);
                sf_set_deleted(fs, block, rec.ordinal);
            }
        } else if (res == SF_OTHER && fr.type == SF_DEL && fr.len % SF_DEL_ENTRY_BYTES == 0) {
            int rc;
            const uint8_t *body = frame_body(fs, block, &fr, &rc);
            if (body != NULL) {
                recover_tombstones(fs, block, body, fr.len, r);
            } else if (rc != NE_OK) {
                return rc;
            }
        } else if (res == SF_OTHER && fr.type == SF_FLOOR && fr.len == SF_FLOOR_BYTES) {
            int rc;
            const uint8_t *body = frame_body(fs, block, &fr, &rc);
            if (body != NULL) {
                note_next(r, sf_get64(body + 8));
            } else if (rc != NE_OK) {
                return rc;
            }
        }
    }
    if (fs->stats.corrupt_frames > damage_seen) {
        fs->blocks[block].flags |= SF_FLAG_DAMAGED;
    }
    /* Damage with nothing valid after it is where a write was cut short
     * (in this head, or in an older one sealed by an earlier recovery): a
     * torn tail, not rot. */
    *tail_damage = fs->stats.corrupt_frames > damage_counted;
    if (*tail_damage) {
        fs->stats.torn_tails++;
    }
    *end_pos = c.pos;
    fs->blocks[block].write_off = sf_align_up(c.pos, fs->program_bytes);
    fs->blocks[block].flags |= SF_FLAG_SCANNED;
    return NE_OK;
}

static bool range_erased(ne_store_flash *fs, uint32_t block, uint32_t from, uint32_t to, int *rc)
{
    *rc = NE_OK;
    uint32_t bound = fs->erase_bytes / NE_STORE_READ_BUFFER_BYTES + 2;
    for (uint32_t i = 0; i < bound && from < to; i++) {
        uint32_t n = to - from;
        if (n > NE_STORE_READ_BUFFER_BYTES) {
            n = NE_STORE_READ_BUFFER_BYTES;
        }
        const uint8_t *p = sf_peek(fs, block, from, n, rc);
        if (p == NULL) {
            return false;
        }
        for (uint32_t k = 0; k < n; k++) {
            if (p[k] != 0xff) {
                return false;
            }
        }
        from += n;
    }
    return true;
}

/* The newest append block keeps taking records when its end is clean;
 * after a torn write it is sealed and the next append opens a new block. */
static int settle_head(ne_store_flash *fs, recovery *r, uint32_t end_pos, bool tail_damage)
{
    if (r->head < 0) {
        return NE_OK;
    }
    uint32_t block = (uint32_t)r->head;
    ne_store_block *b = &fs->blocks[block];
    uint32_t write_off = sf_align_up(end_pos, fs->program_bytes);
    int rc = NE_OK;
    bool clean = !tail_damage && !(b->flags & SF_FLAG_DAMAGED) && write_off < fs->data_end &&
                 range_erased(fs, block, write_off, fs->erase_bytes, &rc);
    if (rc != NE_OK) {
        return rc;
    }
    if (clean) {
        b->write_off = write_off;
        b->flags &= (uint8_t)~SF_FLAG_SEALED;
        fs->head = (int32_t)block;
    }
    return NE_OK;
}

static int recover(ne_store_flash *fs)
{
    recovery r;
    memset(&r, 0, sizeof(r));
    r.head = -1;
    r.next_seq = 1;
    for (uint32_t i = 0; i < fs->block_count; i++) {
        int rc = survey_block(fs, i, &r);
        if (rc != NE_OK) {
            return rc;
        }
    }
    sort_by_serial(fs);
    int rc = resolve_uncommitted(fs);
    if (rc != NE_OK) {
        return rc;
    }
    rc = retire_replaced(fs);
    if (rc != NE_OK) {
        return rc;
    }
    for (uint32_t i = fs->order_count; i > 0; i--) {
        const ne_store_block *b = &fs->blocks[fs->order[i - 1]];
        if (b->kind == SF_KIND_APPEND && !(b->flags & SF_FLAG_RETIRED)) {
            r.head = fs->order[i - 1];
            break;
        }
    }
    rc = prescan_head(fs, &r);
    if (rc != NE_OK) {
        return rc;
    }
    rc = gather_floors(fs, &r);
    if (rc != NE_OK) {
        return rc;
    }
    /* Newest first: retirements and tombstones precede what they hide. */
    uint32_t head_end = 0;
    bool head_tail_damage = false;
    for (uint32_t i = fs->order_count; i > 0; i--) {
        uint32_t block = fs->order[i - 1];
        fs->blocks[block].flags |= SF_FLAG_SEALED;
        if (fs->blocks[block].flags & SF_FLAG_RETIRED) {
            continue;
        }
        uint32_t end_pos = 0;
        bool tail_damage = false;
        rc = scan_block(fs, block, &r, &end_pos, &tail_damage);
        if (rc != NE_OK) {
            return rc;
        }
        if ((int32_t)block == r.head) {
            head_end = end_pos;
            head_tail_damage = tail_damage;
        }
    }
    fs->floor_seq = r.floor_seq;
    fs->floor_written = r.floor_seq;
    fs->next_seq = r.next_seq > r.floor_seq ? r.next_seq : r.floor_seq;
    fs->next_serial = r.max_serial + 1;
    for (uint32_t i = 0; i < fs->block_count; i++) {
        if (fs->blocks[i].state == SF_STATE_UNKNOWN) {
            /* Lost its header: assume it as worn as the most worn block, so
             * the counts never understate wear. */
            fs->blocks[i].erase_count = r.max_erase;
        }
        fs->blocks[i].flags &= (uint8_t)~SF_FLAG_SCANNED;
    }
    rc = settle_head(fs, &r, head_end, head_tail_damage);
    if (rc != NE_OK) {
        return rc;
    }
    rc = sf_erase_retired(fs);
    if (rc != NE_OK) {
        return rc;
    }
    sf_rebuild_order(fs);
    return ne_store_recovered_done(fs->store, fs->next_seq - 1, r.last_ts_ns);
}

/* ---- Opening ------------------------------------------------------------- */

static int check_geometry(const ne_flash_geometry *g)
{
    uint32_t unit = g->program_bytes;
    if (unit == 0 || (unit & (unit - 1)) != 0 || unit > NE_STORE_PROGRAM_CHUNK_BYTES ||
        NE_STORE_PROGRAM_CHUNK_BYTES % unit != 0) {
        return NE_ERR_INVALID;
    }
    if (g->erase_bytes < 1024 || g->erase_bytes > 16u * 1024 * 1024 || g->erase_bytes % unit != 0 ||
        g->erase_bytes < 8 * unit || g->block_count < 4) {
        return NE_ERR_INVALID;
    }
    if (g->block_count > NE_STORE_MAX_BLOCKS) {
        return NE_ERR_TOO_BIG;
    }
    if ((uint64_t)g->block_count * g->erase_bytes > 0xffffffffull) {
        return NE_ERR_TOO_BIG;
    }
    return NE_OK;
}

static void derive_sizes(ne_store_flash *fs)
{
    uint32_t unit = fs->program_bytes;
    fs->data_start = sf_align_up(SF_BLOCK_HEADER_BYTES, unit);
    fs->data_end = fs->erase_bytes - sf_align_up(SF_FRAME_HEADER_BYTES + SF_COMMIT_BYTES, unit);
    uint32_t slack = 2 * (unit > 128 ? unit : 128);
    fs->slack_bytes = slack;
    uint32_t begin =
        sf_align8(SF_FRAME_HEADER_BYTES + SF_BEGIN_FIXED_BYTES + 8 * NE_STORE_COMPACT_MAX_VICTIMS);
    /* A record must fit a fresh block after its BEGIN, the slack and one
     * unit of padding, in append and compaction blocks alike. */
    int64_t room = (int64_t)fs->data_end - fs->data_start - begin - slack - unit;
    int64_t wbuf = (int64_t)NE_STORE_WRITE_BUFFER_BYTES - begin;
    int64_t max = room < wbuf ? room : wbuf;
    fs->max_frame_bytes = max > 0 ? (uint32_t)max & ~7u : 0;
}

int ne_store_flash_open(ne_store *store, ne_store_flash *fs, const ne_store_config *cfg,
                        const ne_flash *flash, ne_snappy_table *compress_table)
{
    NE_ASSERT(store != NULL && fs != NULL && cfg != NULL && flash != NULL);
    int rc = check_geometry(&flash->geometry);
    if (rc != NE_OK) {
        return rc;
    }
    memset(fs, 0, sizeof(*fs));
    rc = ne_store_init_common(store, cfg, &flash_backend, fs);
    if (rc != NE_OK) {
        return rc;
    }
    fs->flash = *flash;
    fs->store = store;
    fs->table = compress_table;
    fs->block_count = flash->geometry.block_count;
    fs->program_bytes = flash->geometry.program_bytes;
    fs->erase_bytes = flash->geometry.erase_bytes;
    fs->head = -1;
    fs->wdel_off = SF_NONE;
    fs->next_seq = 1;
    fs->next_serial = 1;
    derive_sizes(fs);
    if (fs->max_frame_bytes < 256) {
        return NE_ERR_INVALID;
    }
    rc = recover(fs);
    if (rc != NE_OK) {
        fs->failed = rc;
    }
    return rc;
}

void ne_store_flash_get_stats(const ne_store_flash *fs, ne_store_flash_stats *out)
{
    *out = fs->stats;
    out->blocks_free = 0;
    out->blocks_data = 0;
    out->erase_min = UINT32_MAX;
    out->erase_max = 0;
    for (uint32_t i = 0; i < fs->block_count; i++) {
        const ne_store_block *b = &fs->blocks[i];
        if (b->state == SF_STATE_DATA) {
            out->blocks_data++;
        } else {
            out->blocks_free++;
        }
        out->erase_min = b->erase_count < out->erase_min ? b->erase_count : out->erase_min;
        out->erase_max = b->erase_count > out->erase_max ? b->erase_count : out->erase_max;
    }
    if (fs->block_count == 0) {
        out->erase_min = 0;
    }
}
