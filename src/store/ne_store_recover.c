/* Recovery of a device from the flash alone (the first half of opening; the
 * catalogue is read after, in ne_store_dev.c):
 *
 *   1. every block's header and BEGIN (serial, log, kind), and every
 *      compaction block's COMMIT, checked against the content's CRC;
 *   2. compaction blocks cut short are dropped, committed ones retire the
 *      blocks they replaced;
 *   3. each log's newest append block: its RETIRE frames retire more blocks
 *      (of that log), its FLOOR and RETIRE frames and the BEGINs of the
 *      log's blocks give its floor and next sequence (of the newest epoch);
 *   4. every block that stays is scanned, newest first: records, tombstones
 *      (in DEL frames and carried by replacing records), damage;
 *   5. each log's newest append block stays its head when it ends cleanly.
 */
#include <string.h>

#include "codec/ne_crc32c.h"
#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "store/ne_store_format.h"

typedef struct recovery {
    uint64_t max_serial;
    uint32_t max_erase;
    bool any_erase_known;
} recovery;

/* Per log while its floors are gathered: the newest epoch seen and the
 * highest next sequence among frames of that epoch. */
typedef struct epoch_view {
    uint32_t epoch;
    uint64_t next;
    bool seen;
} epoch_view;

void sf_report(ne_store_dev *dev, ne_store_damage_kind kind, uint32_t block, uint32_t log_id,
               uint64_t count)
{
    for (uint32_t i = 0; i < dev->damage_count; i++) {
        ne_store_damage *d = &dev->damage[i];
        if (d->kind == kind && d->block == block && d->log_id == log_id) {
            d->count += count;
            return;
        }
    }
    if (dev->damage_count == NE_STORE_MAX_DAMAGE_REPORTS) {
        dev->damage_dropped++;
        return;
    }
    ne_store_damage *d = &dev->damage[dev->damage_count++];
    d->kind = kind;
    d->block = block;
    d->log_id = log_id;
    d->count = count;
}

/* Reads a block header. UNKNOWN when it is not one of ours (never used,
 * erased, torn); NE_ERR_UNSUPPORTED when it is ours in another version or
 * geometry. */
static int read_block_header(ne_store_dev *dev, uint32_t block, recovery *r)
{
    ne_store_block *b = &dev->blocks[block];
    b->state = SF_STATE_UNKNOWN;
    int rc;
    const uint8_t *h = sf_peek(dev, block, 0, SF_BLOCK_HEADER_BYTES, &rc);
    if (h == NULL) {
        return rc != NE_OK ? rc : NE_ERR_IO;
    }
    if (sf_get32(h) != SF_MAGIC || sf_get32(h + 28) != ne_crc32c(0, h, 28)) {
        return NE_OK;
    }
    if (sf_get16(h + 4) != SF_VERSION || sf_get16(h + 6) != SF_BLOCK_HEADER_BYTES ||
        sf_get32(h + 12) != dev->program_bytes || sf_get32(h + 16) != dev->erase_bytes ||
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

/* Reads a block's BEGIN (header and body CRC checked). NE_ERR_NOT_FOUND
 * when there is none. */
static int read_begin(ne_store_dev *dev, uint32_t block, const uint8_t **body, uint32_t *len)
{
    uint32_t pos = dev->data_start;
    int rc;
    const uint8_t *p = sf_peek(dev, block, pos, SF_FRAME_HEADER_BYTES, &rc);
    if (p == NULL) {
        return rc != NE_OK ? rc : NE_ERR_NOT_FOUND;
    }
    sf_frame fr;
    if (!sf_decode_frame_header(p, dev->blocks[block].salt, &fr) || fr.type != SF_BEGIN ||
        fr.len < SF_BEGIN_FIXED_BYTES ||
        fr.len > SF_BEGIN_FIXED_BYTES + 8 * NE_STORE_COMPACT_MAX_VICTIMS) {
        return NE_ERR_NOT_FOUND;
    }
    p = sf_peek(dev, block, pos + SF_FRAME_HEADER_BYTES, fr.len, &rc);
    if (p == NULL) {
        return rc != NE_OK ? rc : NE_ERR_NOT_FOUND;
    }
    if (ne_crc32c(0, p, fr.len) != fr.body_crc || p[25] * 8u + SF_BEGIN_FIXED_BYTES != fr.len ||
        sf_get64(p) == 0 || sf_get32(p + 28) < SF_META_LOG_ID) {
        return NE_ERR_NOT_FOUND;
    }
    *body = p;
    *len = fr.len;
    return NE_OK;
}

static bool first_bytes_erased(ne_store_dev *dev, uint32_t block, int *rc)
{
    const uint8_t *p = sf_peek(dev, block, dev->data_start, 8, rc);
    if (p == NULL) {
        return false;
    }
    return sf_all_erased(p, 8);
}

/* Is the COMMIT of compaction block `block` in place, and is the content it
 * vouches for there byte for byte? A device whose write cache reorders can
 * keep a COMMIT and lose records programmed before it if power fails before
 * they are synced; the CRC of the content catches that (and rot). */
static int read_commit(ne_store_dev *dev, uint32_t block, bool *committed)
{
    *committed = false;
    int rc;
    const uint8_t *p =
        sf_peek(dev, block, dev->data_end, SF_FRAME_HEADER_BYTES + SF_COMMIT_BYTES, &rc);
    if (p == NULL) {
        return rc;
    }
    sf_frame fr;
    if (!sf_decode_frame_header(p, dev->blocks[block].salt, &fr) || fr.type != SF_COMMIT ||
        fr.len != SF_COMMIT_BYTES ||
        ne_crc32c(0, p + SF_FRAME_HEADER_BYTES, SF_COMMIT_BYTES) != fr.body_crc ||
        sf_get64(p + SF_FRAME_HEADER_BYTES) != dev->blocks[block].serial) {
        return NE_OK;
    }
    uint32_t end = sf_get32(p + SF_FRAME_HEADER_BYTES + 12);
    uint32_t want = sf_get32(p + SF_FRAME_HEADER_BYTES + 16);
    if (end < dev->data_start || end > dev->data_end || end % dev->program_bytes != 0) {
        return NE_OK;
    }
    uint32_t crc;
    rc = sf_content_crc(dev, block, end, &crc);
    if (rc != NE_OK) {
        return rc == NE_ERR_CORRUPT ? NE_OK : rc;
    }
    *committed = crc == want;
    return NE_OK;
}

static bool range_erased(ne_store_dev *dev, uint32_t block, uint32_t from, uint32_t to, int *rc)
{
    *rc = NE_OK;
    uint32_t bound = dev->erase_bytes / NE_STORE_READ_BUFFER_BYTES + 2;
    for (uint32_t i = 0; i < bound && from < to; i++) {
        uint32_t n = to - from;
        if (n > NE_STORE_READ_BUFFER_BYTES) {
            n = NE_STORE_READ_BUFFER_BYTES;
        }
        const uint8_t *p = sf_peek(dev, block, from, n, rc);
        if (p == NULL) {
            return false;
        }
        if (!sf_all_erased(p, n)) {
            return false;
        }
        from += n;
    }
    return true;
}

/* Pass one over every block: header, BEGIN, COMMIT. */
static int survey_block(ne_store_dev *dev, uint32_t block, recovery *r)
{
    int rc = read_block_header(dev, block, r);
    if (rc != NE_OK) {
        return rc;
    }
    if (dev->blocks[block].state == SF_STATE_UNKNOWN) {
        /* Written but headerless: rot in the header, or a torn erase. */
        bool erased = range_erased(dev, block, 0, dev->erase_bytes, &rc);
        if (rc != NE_OK) {
            return rc;
        }
        if (!erased) {
            dev->stats.damaged_blocks++;
            sf_report(dev, NE_STORE_DAMAGE_BLOCK, block, 0, 1);
        } else {
            /* Read after the open's sync, so as the medium holds it: the
             * first head opened here need not read it again to know it
             * (sf_prepare_block still erases it). */
            dev->blocks[block].flags |= SF_FLAG_READ_BLANK;
        }
        return NE_OK;
    }
    ne_store_block *b = &dev->blocks[block];
    const uint8_t *body;
    uint32_t len;
    rc = read_begin(dev, block, &body, &len);
    if (rc == NE_ERR_NOT_FOUND) {
        bool erased = first_bytes_erased(dev, block, &rc);
        if (rc != NE_OK) {
            return rc;
        }
        b->state = erased ? SF_STATE_FREE : SF_STATE_DIRTY;
        if (!erased) {
            dev->stats.damaged_blocks++;
            sf_report(dev, NE_STORE_DAMAGE_BLOCK, block, 0, 1);
        }
        return NE_OK;
    }
    if (rc != NE_OK) {
        return rc;
    }
    b->serial = sf_get64(body);
    b->kind = body[24] == SF_KIND_COMPACT ? SF_KIND_COMPACT : SF_KIND_APPEND;
    b->log_id = sf_get32(body + 28);
    if (b->serial > r->max_serial) {
        r->max_serial = b->serial;
    }
    for (uint32_t k = 0; k < body[25]; k++) {
        uint64_t v = sf_get64(body + SF_BEGIN_FIXED_BYTES + 8 * k);
        r->max_serial = v > r->max_serial ? v : r->max_serial;
    }
    b->state = SF_STATE_DATA;
    b->write_off = dev->data_end;
    if (b->kind == SF_KIND_COMPACT) {
        bool committed;
        rc = read_commit(dev, block, &committed);
        if (rc != NE_OK) {
            return rc;
        }
        if (!committed) {
            b->flags |= SF_FLAG_UNCOMMITTED;
        }
    }
    return NE_OK;
}

/* Serials are never reused, so a retirement names exactly one block, older
 * or newer than the block holding it (a compaction block made after the
 * head opened can die and be retired from the head). Only blocks of the
 * retirer's own log are ever retired by it. */
static void retire_serial(ne_store_dev *dev, uint64_t serial, uint32_t retirer)
{
    int32_t v = sf_block_by_serial(dev, serial);
    if (v >= 0 && (uint32_t)v != retirer && dev->blocks[v].log_id == dev->blocks[retirer].log_id) {
        dev->blocks[v].flags |= SF_FLAG_RETIRED;
    }
}

/* A compaction block without a valid COMMIT was cut short, and the blocks
 * it was replacing are still there: it is discarded, and erased before the
 * open returns, so that it can never outlive them. When none of them is
 * left it must therefore have been committed (they are erased only after
 * the COMMIT is durable) and the COMMIT itself was damaged: it is kept. */
static int resolve_uncommitted(ne_store_dev *dev)
{
    for (uint32_t i = 0; i < dev->by_serial_count; i++) {
        uint32_t block = dev->by_serial[i];
        ne_store_block *b = &dev->blocks[block];
        if (!(b->flags & SF_FLAG_UNCOMMITTED)) {
            continue;
        }
        const uint8_t *body;
        uint32_t len;
        int rc = read_begin(dev, block, &body, &len);
        if (rc != NE_OK) {
            return rc == NE_ERR_NOT_FOUND ? NE_ERR_CORRUPT : rc;
        }
        bool victim_left = false;
        for (uint32_t k = 0; k < body[25]; k++) {
            int32_t v = sf_block_by_serial(dev, sf_get64(body + SF_BEGIN_FIXED_BYTES + 8 * k));
            victim_left = victim_left ||
                          (v >= 0 && (uint32_t)v != block && dev->blocks[v].log_id == b->log_id);
        }
        b->flags &= (uint8_t)~SF_FLAG_UNCOMMITTED;
        if (victim_left) {
            b->flags |= SF_FLAG_RETIRED;
        } else {
            dev->stats.damaged_blocks++;
            sf_report(dev, NE_STORE_DAMAGE_COMMIT, block, b->log_id, 1);
        }
    }
    return NE_OK;
}

/* Committed compaction blocks retire the blocks they replaced. */
static int retire_replaced(ne_store_dev *dev)
{
    for (uint32_t i = 0; i < dev->by_serial_count; i++) {
        uint32_t block = dev->by_serial[i];
        const ne_store_block *b = &dev->blocks[block];
        if (b->kind != SF_KIND_COMPACT || (b->flags & SF_FLAG_RETIRED)) {
            continue;
        }
        const uint8_t *body;
        uint32_t len;
        int rc = read_begin(dev, block, &body, &len);
        if (rc != NE_OK) {
            return rc == NE_ERR_NOT_FOUND ? NE_ERR_CORRUPT : rc;
        }
        uint64_t victims[NE_STORE_COMPACT_MAX_VICTIMS];
        uint32_t n = body[25];
        for (uint32_t k = 0; k < n; k++) {
            victims[k] = sf_get64(body + SF_BEGIN_FIXED_BYTES + 8 * k);
        }
        for (uint32_t k = 0; k < n; k++) {
            retire_serial(dev, victims[k], block);
        }
    }
    return NE_OK;
}

/* A slot for a log id seen on flash (the catalogue decides later whether it
 * is a log or an orphan). NULL when every slot is taken. */
static ne_store_slot *slot_for(ne_store_dev *dev, uint32_t log_id)
{
    ne_store_slot *free_slot = NULL;
    for (uint32_t i = 0; i < NE_STORE_MAX_LOGS; i++) {
        ne_store_slot *s = &dev->slots[i];
        if (s->id == log_id) {
            return s;
        }
        if (s->id == 0 && free_slot == NULL && (i != SF_META_SLOT || log_id == SF_META_LOG_ID)) {
            free_slot = s;
        }
    }
    if (log_id == SF_META_LOG_ID) {
        free_slot = &dev->slots[SF_META_SLOT];
    }
    if (free_slot != NULL) {
        free_slot->id = log_id;
    }
    return free_slot;
}

/* Every data block that stays gets its log's slot; each log learns its
 * newest append block. NE_ERR_TOO_BIG when the device holds more logs than
 * slots. */
static int assign_slots(ne_store_dev *dev)
{
    for (uint32_t i = dev->by_serial_count; i > 0; i--) {
        uint32_t block = dev->by_serial[i - 1];
        ne_store_block *b = &dev->blocks[block];
        if (b->flags & SF_FLAG_RETIRED) {
            continue;
        }
        ne_store_slot *s = slot_for(dev, b->log_id);
        if (s == NULL) {
            return NE_ERR_TOO_BIG;
        }
        b->slot = s->index;
        s->data_blocks++;
        if (s->newest_append < 0 && b->kind == SF_KIND_APPEND) {
            s->newest_append = (int32_t)block;
        }
    }
    return NE_OK;
}

static void view_frame(ne_store_slot *s, epoch_view *v, uint64_t floor, uint64_t next,
                       uint32_t epoch)
{
    s->floor_seq = floor > s->floor_seq ? floor : s->floor_seq;
    if (!v->seen || epoch > v->epoch) {
        v->seen = true;
        v->epoch = epoch;
        v->next = next;
    } else if (epoch == v->epoch && next > v->next) {
        v->next = next;
    }
}

/* The newest append block of a log may hold floors and retirements that the
 * rest of the scan depends on; they are read first. Only this block can
 * hold a retirement whose blocks are still unerased: a new head never opens
 * before every retired block is erased. */
static int prescan_newest(ne_store_dev *dev, ne_store_slot *s, epoch_view *v, recovery *r)
{
    if (s->newest_append < 0) {
        return NE_OK;
    }
    uint32_t block = (uint32_t)s->newest_append;
    uint32_t pos = dev->data_start;
    uint32_t bound = dev->erase_bytes / 8u + 2u;
    for (uint32_t step = 0; step < bound; step++) {
        sf_frame fr;
        int rc = sf_next_frame(dev, block, &pos, dev->data_end, &fr);
        if (rc < 0) {
            return rc;
        }
        if (rc != NE_OK) {
            break;
        }
        if (fr.type != SF_FLOOR && fr.type != SF_RETIRE) {
            continue;
        }
        const uint8_t *body = sf_frame_body(dev, block, &fr, &rc);
        if (body == NULL) {
            if (rc != NE_OK) {
                return rc;
            }
            continue;
        }
        if (fr.type == SF_FLOOR && fr.len == SF_FLOOR_BYTES) {
            view_frame(s, v, sf_get64(body), sf_get64(body + 8), sf_get32(body + 16));
        } else if (fr.type == SF_RETIRE && fr.len >= SF_RETIRE_FIXED_BYTES && fr.len % 8 == 0) {
            /* The floor travels in the RETIRE itself: the blocks it retires
             * may hold the only other copy (their BEGINs). */
            view_frame(s, v, sf_get64(body), sf_get64(body + 8), sf_get32(body + 16));
            for (uint32_t k = 0; k < (fr.len - SF_RETIRE_FIXED_BYTES) / 8; k++) {
                uint64_t serial = sf_get64(body + SF_RETIRE_FIXED_BYTES + 8 * k);
                r->max_serial = serial > r->max_serial ? serial : r->max_serial;
                retire_serial(dev, serial, block);
            }
        }
    }
    return NE_OK;
}

/* Floors and next sequences from the BEGIN of every block that stays. A
 * block about to be erased (retired, or a cut-short compaction) does not
 * count: whatever it carried that was durable is carried by a block that
 * stays (a compaction block's BEGIN, or a RETIRE), and anything else was
 * never durable; counting it once and then losing it with the erase would
 * let removed records come back at the next open. */
static int gather_floors(ne_store_dev *dev, ne_store_slot *s, epoch_view *v)
{
    for (uint32_t i = 0; i < dev->by_serial_count; i++) {
        uint32_t block = dev->by_serial[i];
        const ne_store_block *b = &dev->blocks[block];
        if (b->log_id != s->id || (b->flags & SF_FLAG_RETIRED)) {
            continue;
        }
        const uint8_t *body;
        uint32_t len;
        int rc = read_begin(dev, block, &body, &len);
        if (rc != NE_OK) {
            return rc == NE_ERR_NOT_FOUND ? NE_ERR_CORRUPT : rc;
        }
        view_frame(s, v, sf_get64(body + 8), sf_get64(body + 16), sf_get32(body + 32));
    }
    return NE_OK;
}

/* Blocks retired by a RETIRE leave their log. */
static void release_retired(ne_store_dev *dev)
{
    for (uint32_t i = 0; i < dev->block_count; i++) {
        ne_store_block *b = &dev->blocks[i];
        if ((b->flags & SF_FLAG_RETIRED) && b->slot != SF_NO_SLOT) {
            dev->slots[b->slot].data_blocks--;
            b->slot = SF_NO_SLOT;
        }
    }
}

static void note_seq(ne_store_slot *s, uint64_t seq, uint64_t ts)
{
    if (seq + 1 > s->next_seq) {
        s->next_seq = seq + 1;
    }
    if (seq >= s->last_ts_seq) {
        s->last_ts_seq = seq;
        s->last_ts_ns = ts;
    }
}

/* Marks ordinals a damaged stretch hid, so nothing counts them live. */
static void claim_ordinal(ne_store_dev *dev, uint32_t block, uint32_t ordinal)
{
    ne_store_block *b = &dev->blocks[block];
    for (uint32_t o = b->records; o < ordinal; o++) {
        sf_set_deleted(dev, block, o);
    }
    b->records = (uint16_t)(ordinal + 1);
}

/* Applies one tombstone found while scanning `block`: a target already
 * scanned was counted live and is uncounted; one not yet scanned only gets
 * its bit, so that the scan skips it. */
static void apply_tombstone(ne_store_dev *dev, uint32_t block, uint64_t seq, uint64_t serial,
                            uint32_t ordinal, uint32_t bytes, recovery *r)
{
    r->max_serial = serial > r->max_serial ? serial : r->max_serial;
    int32_t t = sf_block_by_serial(dev, serial);
    if (t < 0 || (dev->blocks[t].flags & SF_FLAG_RETIRED) ||
        dev->blocks[t].log_id != dev->blocks[block].log_id ||
        ordinal >= NE_STORE_BLOCK_MAX_RECORDS || sf_deleted(dev, (uint32_t)t, ordinal)) {
        return;
    }
    ne_store_block *target = &dev->blocks[t];
    bool counted =
        ordinal < target->records && ((target->flags & SF_FLAG_SCANNED) || (uint32_t)t == block);
    ne_store_slot *s = sf_block_slot(dev, block);
    if (counted && s != NULL && seq >= s->floor_seq) {
        sf_account_removed(dev, (uint32_t)t, ordinal, bytes);
    }
    sf_set_deleted(dev, (uint32_t)t, ordinal);
}

static void count_damage(ne_store_dev *dev, uint32_t block, uint64_t n)
{
    ne_store_slot *s = sf_block_slot(dev, block);
    if (s != NULL) {
        s->corrupt_records += n;
    }
    sf_report(dev, NE_STORE_DAMAGE_RECORDS, block, dev->blocks[block].log_id, n);
}

static void recover_record(ne_store_dev *dev, uint32_t block, sf_rec *rec, recovery *r)
{
    ne_store_block *b = &dev->blocks[block];
    ne_store_slot *s = sf_block_slot(dev, block);
    if (rec->ordinal >= NE_STORE_BLOCK_MAX_RECORDS || rec->ordinal < b->records ||
        (b->last_seq != 0 && rec->seq <= b->last_seq)) {
        /* Out of order: only damage produces this. */
        dev->stats.corrupt_frames++;
        count_damage(dev, block, 1);
        return;
    }
    claim_ordinal(dev, block, rec->ordinal);
    uint32_t frame = sf_align8(SF_FRAME_HEADER_BYTES + rec->body_len);
    b->raw_bytes += frame;
    if (b->first_seq == 0) {
        b->first_seq = rec->seq;
    }
    b->last_seq = rec->seq;
    if (b->max_ts == 0 || rec->timestamp_ns < b->min_ts) {
        b->min_ts = rec->timestamp_ns;
    }
    if (rec->timestamp_ns > b->max_ts) {
        b->max_ts = rec->timestamp_ns;
    }
    note_seq(s, rec->seq, rec->timestamp_ns);
    /* The record it replaced is gone whatever becomes of this one. */
    if (rec->flags & SF_MSG_REPLACES) {
        apply_tombstone(dev, block, rec->replaced_seq, rec->replaced_serial, rec->replaced_ordinal,
                        rec->replaced_bytes, r);
    }
    if (sf_deleted(dev, block, rec->ordinal) || rec->seq < s->floor_seq) {
        return;
    }
    b->live_msgs++;
    b->live_bytes +=
        (uint32_t)ne_store_msg_bytes(rec->subject_len, rec->headers_len, rec->payload_len);
    b->live_frame_bytes += frame;
}

static void recover_tombstones(ne_store_dev *dev, uint32_t block, const uint8_t *body, uint32_t len,
                               recovery *r)
{
    uint32_t n = len / SF_DEL_ENTRY_BYTES;
    dev->blocks[block].del_entries += n;
    for (uint32_t k = 0; k < n; k++) {
        const uint8_t *e = body + k * SF_DEL_ENTRY_BYTES;
        /* A serial still named on flash must never be given to a new block,
         * even when its block is gone: this tombstone would then hit it. */
        apply_tombstone(dev, block, sf_get64(e), sf_get64(e + 8), sf_get16(e + 16),
                        sf_get32(e + 20), r);
    }
}

/* Scans one block: records, tombstones. *end_pos gets where its data ends;
 * *tail_damage whether damaged bytes follow the last good frame. */
static int scan_block(ne_store_dev *dev, uint32_t block, recovery *r, uint32_t *end_pos,
                      bool *tail_damage)
{
    sf_cursor c;
    sf_cursor_init(dev, &c, block, true);
    uint64_t damage_seen = dev->stats.corrupt_frames;
    uint64_t damage_counted = damage_seen;
    uint32_t bound = dev->erase_bytes / 8u + NE_STORE_BLOCK_MAX_RECORDS + 4u;
    for (uint32_t step = 0; step < bound; step++) {
        sf_rec rec;
        sf_frame fr;
        int res = sf_cursor_next(dev, &c, &rec, &fr);
        if (res < 0) {
            return res;
        }
        if (res == SF_END) {
            break;
        }
        /* Damage followed by good frames is rot, not a torn end. */
        if (dev->stats.corrupt_frames > damage_counted && res != SF_BAD_REC) {
            count_damage(dev, block, dev->stats.corrupt_frames - damage_counted);
            damage_counted = dev->stats.corrupt_frames;
        }
        if (res == SF_REC) {
            recover_record(dev, block, &rec, r);
        } else if (res == SF_BAD_REC) {
            if (rec.ordinal < NE_STORE_BLOCK_MAX_RECORDS &&
                rec.ordinal >= dev->blocks[block].records) {
                claim_ordinal(dev, block, rec.ordinal);
                sf_set_deleted(dev, block, rec.ordinal);
            }
        } else if (res == SF_OTHER && fr.type == SF_DEL && fr.len % SF_DEL_ENTRY_BYTES == 0) {
            int rc;
            const uint8_t *body = sf_frame_body(dev, block, &fr, &rc);
            if (body != NULL) {
                recover_tombstones(dev, block, body, fr.len, r);
            } else if (rc != NE_OK) {
                return rc;
            }
        } else if (res == SF_OTHER && fr.type == SF_FLOOR && fr.len == SF_FLOOR_BYTES) {
            int rc;
            const uint8_t *body = sf_frame_body(dev, block, &fr, &rc);
            if (body == NULL && rc != NE_OK) {
                return rc;
            }
        }
    }
    if (dev->stats.corrupt_frames > damage_seen) {
        dev->blocks[block].flags |= SF_FLAG_DAMAGED;
    }
    /* Damage with nothing valid after it is where a write was cut short
     * (in this head, or in an older one sealed by an earlier recovery): a
     * torn tail, not rot. */
    *tail_damage = dev->stats.corrupt_frames > damage_counted;
    if (*tail_damage) {
        dev->stats.torn_tails++;
    }
    *end_pos = c.pos;
    dev->blocks[block].write_off = sf_align_up(c.pos, dev->program_bytes);
    dev->blocks[block].flags |= SF_FLAG_SCANNED;
    return NE_OK;
}

/* A log's newest append block keeps taking records when its end is clean
 * and it holds the log's highest sequences (a rewrite may have put newer
 * ones in a compaction block); otherwise it stays sealed and the next
 * append opens a new block. */
static int settle_head(ne_store_dev *dev, ne_store_slot *s, uint32_t end_pos, bool tail_damage)
{
    if (s->newest_append < 0) {
        return NE_OK;
    }
    uint32_t block = (uint32_t)s->newest_append;
    ne_store_block *b = &dev->blocks[block];
    for (uint32_t i = 0; i < dev->block_count && b->first_seq != 0; i++) {
        const ne_store_block *o = &dev->blocks[i];
        if (i != block && o->slot == s->index && !(o->flags & SF_FLAG_RETIRED) &&
            o->last_seq > b->last_seq) {
            return NE_OK;
        }
    }
    uint32_t write_off = sf_align_up(end_pos, dev->program_bytes);
    int rc = NE_OK;
    bool clean = !tail_damage && !(b->flags & SF_FLAG_DAMAGED) && write_off < dev->data_end &&
                 range_erased(dev, block, write_off, dev->erase_bytes, &rc);
    if (rc != NE_OK) {
        return rc;
    }
    if (clean) {
        b->write_off = write_off;
        b->flags &= (uint8_t)~SF_FLAG_SEALED;
        s->head = (int32_t)block;
    }
    return NE_OK;
}

/* Scans every block that stays, newest first: retirements and tombstones
 * precede what they hide. */
static int scan_all(ne_store_dev *dev, recovery *r)
{
    for (uint32_t i = dev->by_serial_count; i > 0; i--) {
        uint32_t block = dev->by_serial[i - 1];
        ne_store_block *b = &dev->blocks[block];
        b->flags |= SF_FLAG_SEALED;
        if ((b->flags & SF_FLAG_RETIRED) || b->slot == SF_NO_SLOT) {
            continue;
        }
        uint32_t end_pos = 0;
        bool tail_damage = false;
        int rc = scan_block(dev, block, r, &end_pos, &tail_damage);
        if (rc != NE_OK) {
            return rc;
        }
        ne_store_slot *s = &dev->slots[b->slot];
        if ((int32_t)block == s->newest_append) {
            /* Every block of the log with higher sequences than this one
             * has a higher serial (a rewrite's compaction block): already
             * scanned. */
            rc = settle_head(dev, s, end_pos, tail_damage);
            if (rc != NE_OK) {
                return rc;
            }
        }
    }
    return NE_OK;
}

int sf_recover(ne_store_dev *dev)
{
    recovery r;
    memset(&r, 0, sizeof(r));
    for (uint32_t i = 0; i < dev->block_count; i++) {
        int rc = survey_block(dev, i, &r);
        if (rc != NE_OK) {
            return rc;
        }
    }
    sf_serial_rebuild(dev);
    int rc = resolve_uncommitted(dev);
    if (rc == NE_OK) {
        rc = retire_replaced(dev);
    }
    if (rc == NE_OK) {
        rc = assign_slots(dev);
    }
    if (rc != NE_OK) {
        return rc;
    }
    static const epoch_view none = {0};
    for (uint32_t i = 0; i < NE_STORE_MAX_LOGS && rc == NE_OK; i++) {
        ne_store_slot *s = &dev->slots[i];
        if (s->id != 0) {
            epoch_view v = none;
            rc = prescan_newest(dev, s, &v, &r);
            s->next_seq = v.next;
            s->epoch = v.epoch;
        }
    }
    if (rc != NE_OK) {
        return rc;
    }
    release_retired(dev);
    for (uint32_t i = 0; i < NE_STORE_MAX_LOGS && rc == NE_OK; i++) {
        ne_store_slot *s = &dev->slots[i];
        if (s->id != 0) {
            epoch_view v = {.epoch = s->epoch, .next = s->next_seq, .seen = s->next_seq != 0};
            rc = gather_floors(dev, s, &v);
            s->epoch = v.epoch;
            s->next_seq = v.next > s->floor_seq ? v.next : s->floor_seq;
            s->next_seq = s->next_seq > 0 ? s->next_seq : 1;
        }
    }
    if (rc == NE_OK) {
        rc = scan_all(dev, &r);
    }
    if (rc != NE_OK) {
        return rc;
    }
    for (uint32_t i = 0; i < NE_STORE_MAX_LOGS; i++) {
        ne_store_slot *s = &dev->slots[i];
        s->floor_written = s->floor_seq;
        s->next_written = s->next_seq;
    }
    dev->next_serial = r.max_serial + 1;
    for (uint32_t i = 0; i < dev->block_count; i++) {
        if (dev->blocks[i].state == SF_STATE_UNKNOWN) {
            /* Lost its header: assume it as worn as the most worn block, so
             * the counts never understate wear. */
            dev->blocks[i].erase_count = r.max_erase;
        }
        dev->blocks[i].flags &= (uint8_t)~SF_FLAG_SCANNED;
    }
    return NE_OK;
}
