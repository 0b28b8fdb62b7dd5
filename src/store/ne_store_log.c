/* A log on a device: its head block and the shared write buffer, lookups,
 * removals, floors, truncation and erasure, syncs; attaching a front end.
 * Recovery is in ne_store_recover.c, compaction in ne_store_compact.c,
 * byte-level I/O in ne_store_io.c. */
#include <string.h>

#include "codec/ne_crc32c.h"
#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "store/ne_store_dev.h"
#include "store/ne_store_format.h"

/* ---- Block bookkeeping --------------------------------------------------- */

uint32_t sf_free_count(const ne_store_dev *dev)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < dev->block_count; i++) {
        if (dev->blocks[i].state != SF_STATE_DATA) {
            n++;
        }
    }
    return n;
}

int32_t sf_pick_free(const ne_store_dev *dev, bool most_worn)
{
    int32_t best = -1;
    for (uint32_t i = 0; i < dev->block_count; i++) {
        const ne_store_block *b = &dev->blocks[i];
        if (b->state == SF_STATE_DATA) {
            continue;
        }
        if (best < 0) {
            best = (int32_t)i;
            continue;
        }
        uint32_t have = dev->blocks[best].erase_count;
        if (most_worn ? b->erase_count > have : b->erase_count < have) {
            best = (int32_t)i;
        }
    }
    return best;
}

ne_store_slot *sf_block_slot(ne_store_dev *dev, uint32_t block)
{
    uint16_t slot = dev->blocks[block].slot;
    return slot == SF_NO_SLOT ? NULL : &dev->slots[slot];
}

/* Blocks a lookup or compaction may use: data blocks of catalogued logs
 * (orphans are left alone), not retired, with records. */
static bool in_order(const ne_store_dev *dev, const ne_store_block *b)
{
    if (b->state != SF_STATE_DATA || b->first_seq == 0 || (b->flags & SF_FLAG_RETIRED) ||
        b->slot == SF_NO_SLOT) {
        return false;
    }
    return (dev->slots[b->slot].flags & SF_SLOT_ORPHAN) == 0;
}

static bool order_before(const ne_store_block *a, const ne_store_block *b)
{
    return a->slot < b->slot || (a->slot == b->slot && a->first_seq < b->first_seq);
}

/* Insertion sort by (slot, first sequence): the order is nearly sorted
 * whenever it is rebuilt at run time (one block changed), so this is linear
 * then; at open it is quadratic in the blocks at worst. */
void sf_rebuild_order(ne_store_dev *dev)
{
    dev->order_count = 0;
    for (uint32_t i = 0; i < dev->block_count; i++) {
        const ne_store_block *b = &dev->blocks[i];
        if (!in_order(dev, b)) {
            continue;
        }
        uint32_t j = dev->order_count++;
        for (; j > 0 && order_before(b, &dev->blocks[dev->order[j - 1]]); j--) {
            dev->order[j] = dev->order[j - 1];
        }
        dev->order[j] = (uint16_t)i;
    }
}

uint32_t sf_order_lower_bound(const ne_store_dev *dev, uint32_t slot, uint64_t from_seq,
                              uint32_t *order_end)
{
    /* First entry of the slot, then the first of its blocks whose last
     * sequence reaches from_seq, then one past its last entry. */
    uint32_t lo = 0;
    uint32_t hi = dev->order_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const ne_store_block *b = &dev->blocks[dev->order[mid]];
        if (b->slot < slot || (b->slot == slot && b->last_seq < from_seq)) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    uint32_t start = lo;
    hi = dev->order_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (dev->blocks[dev->order[mid]].slot <= slot) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *order_end = lo;
    return start;
}

/* by_serial[]: data blocks by serial, for tombstone targets and recovery
 * order. New serials are always the highest, so adding appends. */
void sf_serial_add(ne_store_dev *dev, uint32_t block)
{
    NE_ASSERT(dev->by_serial_count < NE_STORE_MAX_BLOCKS);
    NE_ASSERT(dev->by_serial_count == 0 ||
              dev->blocks[dev->by_serial[dev->by_serial_count - 1]].serial <
                  dev->blocks[block].serial);
    dev->by_serial[dev->by_serial_count++] = (uint16_t)block;
}

static uint32_t serial_lower_bound(const ne_store_dev *dev, uint64_t serial)
{
    uint32_t lo = 0;
    uint32_t hi = dev->by_serial_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (dev->blocks[dev->by_serial[mid]].serial < serial) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

void sf_serial_remove(ne_store_dev *dev, uint32_t block)
{
    uint32_t i = serial_lower_bound(dev, dev->blocks[block].serial);
    if (i < dev->by_serial_count && dev->by_serial[i] == block) {
        memmove(&dev->by_serial[i], &dev->by_serial[i + 1],
                (dev->by_serial_count - i - 1) * sizeof(dev->by_serial[0]));
        dev->by_serial_count--;
    }
}

int32_t sf_block_by_serial(const ne_store_dev *dev, uint64_t serial)
{
    uint32_t i = serial_lower_bound(dev, serial);
    if (i < dev->by_serial_count && dev->blocks[dev->by_serial[i]].serial == serial) {
        return dev->by_serial[i];
    }
    return -1;
}

/* Sift-down of a heap of block indexes keyed by serial. Bounded by the
 * heap's depth. */
static void sift_down(ne_store_dev *dev, uint32_t root, uint32_t n)
{
    uint16_t *a = dev->by_serial;
    for (uint32_t guard = 0; guard < 32; guard++) {
        uint32_t child = 2 * root + 1;
        if (child >= n) {
            return;
        }
        if (child + 1 < n && dev->blocks[a[child + 1]].serial > dev->blocks[a[child]].serial) {
            child++;
        }
        if (dev->blocks[a[root]].serial >= dev->blocks[a[child]].serial) {
            return;
        }
        uint16_t t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

/* Heapsort (no recursion, n log n) of every data block by serial. A serial
 * that appears twice (only damage produces it) keeps its first block; the
 * other is dropped to DIRTY. */
void sf_serial_rebuild(ne_store_dev *dev)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < dev->block_count; i++) {
        if (dev->blocks[i].state == SF_STATE_DATA) {
            dev->by_serial[n++] = (uint16_t)i;
        }
    }
    for (uint32_t i = n / 2; i > 0; i--) {
        sift_down(dev, i - 1, n);
    }
    for (uint32_t end = n; end > 1; end--) {
        uint16_t t = dev->by_serial[0];
        dev->by_serial[0] = dev->by_serial[end - 1];
        dev->by_serial[end - 1] = t;
        sift_down(dev, 0, end - 1);
    }
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint16_t b = dev->by_serial[i];
        if (kept > 0 && dev->blocks[dev->by_serial[kept - 1]].serial == dev->blocks[b].serial) {
            dev->blocks[b].state = SF_STATE_DIRTY;
            continue;
        }
        dev->by_serial[kept++] = b;
    }
    dev->by_serial_count = kept;
}

int sf_erase_retired(ne_store_dev *dev)
{
    for (uint32_t i = 0; i < dev->block_count; i++) {
        if (dev->blocks[i].flags & SF_FLAG_RETIRED) {
            int rc = sf_erase_block(dev, i);
            if (rc != NE_OK) {
                return rc;
            }
        }
    }
    return NE_OK;
}

/* ---- Write buffer -------------------------------------------------------- */

/* The header and the padding after the body are zeroed here; the body only
 * when the caller does not fill it whole (zero_body). */
static uint8_t *wbuf_frame(ne_store_dev *dev, uint8_t type, uint16_t ordinal, uint32_t len,
                           bool zero_body)
{
    uint32_t size = sf_align8(SF_FRAME_HEADER_BYTES + len);
    NE_ASSERT(size <= sizeof(dev->wbuf) - dev->wlen);
    uint8_t *p = dev->wbuf + dev->wlen;
    if (zero_body) {
        memset(p, 0, size);
    } else {
        memset(p, 0, SF_FRAME_HEADER_BYTES);
        memset(p + SF_FRAME_HEADER_BYTES + len, 0, size - SF_FRAME_HEADER_BYTES - len);
    }
    p[0] = type;
    sf_put16(p + 2, ordinal);
    sf_put32(p + 4, len);
    dev->wlen += size;
    dev->wdel_off = SF_NONE;
    return p;
}

uint8_t *sf_wbuf_frame(ne_store_dev *dev, uint8_t type, uint16_t ordinal, uint32_t len)
{
    return wbuf_frame(dev, type, ordinal, len, true);
}

uint8_t *sf_wbuf_frame_filled(ne_store_dev *dev, uint8_t type, uint16_t ordinal, uint32_t len)
{
    return wbuf_frame(dev, type, ordinal, len, false);
}

void sf_wbuf_seal_frame(uint8_t *frame, uint32_t salt)
{
    uint32_t len = sf_get32(frame + 4);
    uint32_t crc = ne_crc32c(0, frame + SF_FRAME_HEADER_BYTES, len);
    sf_encode_frame_header(frame, frame[0], sf_get16(frame + 2), len, crc, salt);
}

uint64_t sf_floor_to_write(const ne_store_slot *s)
{
    return s->floor_seq < s->floor_cap ? s->floor_seq : s->floor_cap;
}

void sf_wbuf_begin(ne_store_dev *dev, uint32_t block, const ne_store_slot *s, uint8_t kind,
                   const uint64_t *victims, uint32_t victim_count)
{
    NE_ASSERT(victim_count <= NE_STORE_COMPACT_MAX_VICTIMS);
    uint8_t *f = sf_wbuf_frame(dev, SF_BEGIN, 0, SF_BEGIN_FIXED_BYTES + 8 * victim_count);
    uint8_t *body = f + SF_FRAME_HEADER_BYTES;
    sf_put64(body, dev->blocks[block].serial);
    sf_put64(body + 8, sf_floor_to_write(s));
    sf_put64(body + 16, s->next_seq);
    body[24] = kind;
    body[25] = (uint8_t)victim_count;
    sf_put32(body + 28, s->id);
    sf_put32(body + 32, s->epoch);
    for (uint32_t i = 0; i < victim_count; i++) {
        sf_put64(body + SF_BEGIN_FIXED_BYTES + 8 * i, victims[i]);
    }
    sf_wbuf_seal_frame(f, dev->blocks[block].salt);
}

int sf_flush(ne_store_dev *dev)
{
    if (dev->wslot == SF_NONE || dev->wlen == 0) {
        return NE_OK;
    }
    int32_t head = dev->slots[dev->wslot].head;
    NE_ASSERT(head >= 0);
    ne_store_block *b = &dev->blocks[head];
    uint32_t end = 0;
    int rc = sf_emit_buffer(dev, (uint32_t)head, b->write_off, dev->wbuf, dev->wlen,
                            sizeof(dev->wbuf), b->salt, &end);
    if (rc != NE_OK) {
        return sf_fail(dev, rc);
    }
    NE_ASSERT(end <= dev->data_end);
    b->write_off = end;
    dev->wlen = 0;
    dev->wdel_off = SF_NONE;
    return NE_OK;
}

/* ---- The head ------------------------------------------------------------ */

static bool head_fits(const ne_store_dev *dev, const ne_store_slot *s, uint32_t frame_bytes,
                      bool msg)
{
    if (s->head < 0) {
        return false;
    }
    const ne_store_block *b = &dev->blocks[s->head];
    if ((b->flags & SF_FLAG_SEALED) || (msg && b->records >= NE_STORE_BLOCK_MAX_RECORDS)) {
        return false;
    }
    uint32_t limit = dev->data_end - (msg ? dev->slack_bytes : 0);
    uint32_t need = sf_align_up(dev->wlen + frame_bytes, dev->program_bytes);
    return b->write_off <= limit && need <= limit - b->write_off;
}

/* Free blocks a log must leave when it opens a head: one for compaction to
 * copy into, and one more that only the catalogue may take, so that a
 * device full of messages can still record deletions of logs. */
static uint32_t reserve_for(const ne_store_slot *s)
{
    return s->index == SF_META_SLOT ? 2u : 3u;
}

/* Compaction until the log is within its block quota. NE_ERR_FULL when it
 * cannot be. */
static int make_quota_room(ne_store_dev *dev, ne_store_slot *s)
{
    if (s->max_blocks == 0) {
        return NE_OK;
    }
    for (uint32_t i = 0; i < dev->block_count && s->data_blocks >= s->max_blocks; i++) {
        uint32_t freed = 0;
        int rc = sf_compact_step_of(dev, s->index, &freed);
        if (rc != NE_OK) {
            return rc;
        }
        if (freed == 0) {
            break;
        }
    }
    return s->data_blocks >= s->max_blocks ? NE_ERR_FULL : NE_OK;
}

/* Starts a new head block for s. Compaction runs first when fewer blocks
 * than the reserve are free. NE_ERR_FULL when no room can be made. */
static int open_head(ne_store_dev *dev, ne_store_slot *s)
{
    int rc = sf_erase_retired(dev);
    if (rc != NE_OK) {
        return rc;
    }
    rc = make_quota_room(dev, s);
    if (rc != NE_OK) {
        return rc;
    }
    uint32_t reserve = reserve_for(s);
    for (uint32_t i = 0; i < dev->block_count && sf_free_count(dev) < reserve; i++) {
        uint32_t freed = 0;
        rc = sf_compact_step_of(dev, SF_NONE, &freed);
        if (rc != NE_OK) {
            return rc;
        }
        if (freed == 0) {
            break;
        }
    }
    if (sf_free_count(dev) < reserve) {
        return NE_ERR_FULL;
    }
    rc = sf_wear_level(dev);
    if (rc != NE_OK && rc != NE_ERR_NOT_FOUND) {
        return rc;
    }
    rc = sf_flush(dev);
    if (rc != NE_OK) {
        return rc;
    }
    if (s->head >= 0) {
        dev->blocks[s->head].flags |= SF_FLAG_SEALED;
        s->head = -1;
    }
    int32_t pick = sf_pick_free(dev, false);
    NE_ASSERT(pick >= 0);
    rc = sf_prepare_block(dev, (uint32_t)pick);
    if (rc != NE_OK) {
        return rc;
    }
    ne_store_block *b = &dev->blocks[pick];
    b->state = SF_STATE_DATA;
    b->kind = SF_KIND_APPEND;
    b->serial = dev->next_serial++;
    b->log_id = s->id;
    b->slot = s->index;
    b->write_off = dev->data_start;
    sf_serial_add(dev, (uint32_t)pick);
    s->data_blocks++;
    s->head = pick;
    dev->wslot = s->index;
    dev->wlen = 0;
    dev->wdel_off = SF_NONE;
    sf_wbuf_begin(dev, (uint32_t)pick, s, SF_KIND_APPEND, NULL, 0);
    /* The head's write buffer is programmed before anything else is synced,
     * so the floor in this BEGIN counts as written, as a FLOOR frame would. */
    uint64_t floor = sf_floor_to_write(s);
    s->floor_written = floor > s->floor_written ? floor : s->floor_written;
    s->next_written = s->next_seq > s->next_written ? s->next_seq : s->next_written;
    return NE_OK;
}

int sf_ensure_room(ne_store_dev *dev, ne_store_slot *s, uint32_t frame_bytes, bool msg)
{
    if (dev->wslot != s->index) {
        /* The buffer holds another log's frames: they go to its head first. */
        if (dev->wlen > 0) {
            int rc = sf_flush(dev);
            if (rc != NE_OK) {
                return rc;
            }
            dev->stats.buffer_switches++;
        }
        dev->wslot = s->index;
        dev->wdel_off = SF_NONE;
    }
    if (s->head >= 0 && dev->wlen + frame_bytes > sizeof(dev->wbuf)) {
        int rc = sf_flush(dev);
        if (rc != NE_OK) {
            return rc;
        }
    }
    if (head_fits(dev, s, frame_bytes, msg)) {
        return NE_OK;
    }
    int rc = open_head(dev, s);
    if (rc != NE_OK) {
        return rc;
    }
    NE_ASSERT(dev->wslot == s->index && head_fits(dev, s, frame_bytes, msg));
    return NE_OK;
}

int sf_write_floor(ne_store_dev *dev, ne_store_slot *s, bool force)
{
    if (!force && sf_floor_to_write(s) <= s->floor_written && s->next_seq <= s->next_written) {
        return NE_OK;
    }
    int rc = sf_ensure_room(dev, s, SF_FRAME_HEADER_BYTES + SF_FLOOR_BYTES, false);
    if (rc != NE_OK) {
        return rc;
    }
    /* Opening a head may have carried the floor in its BEGIN already. */
    uint64_t floor = sf_floor_to_write(s);
    if (!force && floor <= s->floor_written && s->next_seq <= s->next_written) {
        return NE_OK;
    }
    uint8_t *f = sf_wbuf_frame(dev, SF_FLOOR, 0, SF_FLOOR_BYTES);
    sf_put64(f + SF_FRAME_HEADER_BYTES, floor);
    sf_put64(f + SF_FRAME_HEADER_BYTES + 8, s->next_seq);
    sf_put32(f + SF_FRAME_HEADER_BYTES + 16, s->epoch);
    sf_wbuf_seal_frame(f, dev->blocks[s->head].salt);
    s->floor_written = floor > s->floor_written ? floor : s->floor_written;
    s->next_written = s->next_seq;
    return NE_OK;
}

/* ---- Appending ------------------------------------------------------------ */

static void note_block_record(ne_store_dev *dev, ne_store_block *b, uint32_t block, uint64_t seq,
                              uint64_t ts, uint32_t bytes, uint32_t frame)
{
    b->records++;
    b->live_msgs++;
    b->live_bytes += bytes;
    b->live_frame_bytes += frame;
    b->raw_bytes += frame;
    if (b->max_ts == 0 || ts < b->min_ts) {
        b->min_ts = ts;
    }
    if (ts > b->max_ts) {
        b->max_ts = ts;
    }
    if (b->first_seq == 0) {
        b->first_seq = seq;
        b->last_seq = seq;
        sf_rebuild_order(dev);
    }
    (void)block;
    b->last_seq = seq;
}

int sf_find_exact(ne_store_dev *dev, ne_store_slot *s, uint64_t seq, ne_store_rec_info *info);

static int log_append(void *impl, const ne_store_msg *msg, uint64_t seq, uint64_t subject_hash,
                      ne_store_rec_info *replace)
{
    (void)subject_hash;
    ne_store_slot *s = impl;
    ne_store_dev *dev = s->dev;
    if (dev->failed != NE_OK) {
        return dev->failed;
    }
    NE_ASSERT(seq >= s->next_seq);
    size_t size = msg->subject_len + msg->headers_len + msg->payload_len;
    if (size > dev->max_frame_bytes) {
        return NE_ERR_TOO_BIG;
    }
    uint32_t extra = replace != NULL ? SF_REPLACE_BYTES : 0;
    uint32_t body = SF_MSG_FIXED_BYTES + extra + (uint32_t)size;
    uint32_t frame = sf_align8(SF_FRAME_HEADER_BYTES + body);
    if (frame > dev->max_frame_bytes) {
        return NE_ERR_TOO_BIG;
    }
    uint64_t moves = s->moves;
    int rc = sf_ensure_room(dev, s, frame, true);
    if (rc != NE_OK) {
        return rc;
    }
    if (replace != NULL && s->moves != moves) {
        /* Compaction ran to make room and may have moved the record. */
        rc = sf_find_exact(dev, s, replace->seq, replace);
        if (rc != NE_OK) {
            return rc == NE_ERR_NOT_FOUND ? NE_ERR_CORRUPT : rc;
        }
    }
    uint32_t head = (uint32_t)s->head;
    ne_store_block *b = &dev->blocks[head];
    /* Every byte of the body is written below: the fixed part, the
     * replacement, the subject, headers and payload. */
    uint8_t *f = sf_wbuf_frame_filled(dev, SF_MSG, b->records, body);
    uint8_t *p = f + SF_FRAME_HEADER_BYTES;
    sf_put64(p, seq);
    sf_put64(p + 8, msg->timestamp_ns);
    sf_put32(p + 16, (uint32_t)msg->headers_len);
    sf_put16(p + 20, (uint16_t)msg->subject_len);
    sf_put16(p + 22, replace != NULL ? SF_MSG_REPLACES : 0);
    p += SF_MSG_FIXED_BYTES;
    if (replace != NULL) {
        sf_put64(p, replace->seq);
        sf_put64(p + 8, dev->blocks[replace->loc_block].serial);
        sf_put16(p + 16, (uint16_t)replace->loc_index);
        sf_put16(p + 18, 0);
        sf_put32(p + 20, replace->bytes);
        p += SF_REPLACE_BYTES;
    }
    if (msg->subject_len > 0) {
        memcpy(p, msg->subject, msg->subject_len);
    }
    if (msg->headers_len > 0) {
        memcpy(p + msg->subject_len, msg->headers, msg->headers_len);
    }
    if (msg->payload_len > 0) {
        memcpy(p + msg->subject_len + msg->headers_len, msg->payload, msg->payload_len);
    }
    sf_wbuf_seal_frame(f, b->salt);
    uint32_t bytes =
        (uint32_t)ne_store_msg_bytes(msg->subject_len, msg->headers_len, msg->payload_len);
    note_block_record(dev, b, head, seq, msg->timestamp_ns, bytes, frame);
    s->next_seq = seq + 1;
    if (replace != NULL) {
        sf_account_removed(dev, replace->loc_block, replace->loc_index, replace->bytes);
        if (replace->seq < s->floor_cap) {
            s->floor_cap = replace->seq;
        }
    }
    return NE_OK;
}

/* ---- Lookups --------------------------------------------------------------- */

/* A position is saved just before the record found (seq), so that a
 * lookup from seq itself (a removal then the next one, a reader that asks
 * again) resumes there as well as one from further on. */
static void hint_save(ne_store_dev *dev, ne_store_reader *h, const sf_cursor *c, uint64_t seq)
{
    h->serial = dev->blocks[c->block].serial;
    h->seq = seq;
    h->block = c->block;
    h->pos = c->pos;
    h->in_pack = c->in_pack;
    h->pack_off = c->pack_off;
    h->ipos = c->ipos;
    /* A position in the part of a head still in the write buffer lasts only
     * until it is programmed: programming may pack the frames differently. */
    h->flushed_to = dev->blocks[c->block].write_off;
}

static void hint_restore(ne_store_dev *dev, const ne_store_reader *h, sf_cursor *c, uint32_t block,
                         uint64_t from_seq)
{
    const ne_store_block *b = &dev->blocks[block];
    if (h->serial == 0 || h->serial != b->serial || h->block != block || h->seq > from_seq ||
        (h->pos > h->flushed_to && b->write_off != h->flushed_to)) {
        return;
    }
    c->pos = h->pos;
    c->in_pack = h->in_pack;
    c->pack_off = h->pack_off;
    c->ipos = h->ipos;
    if (c->in_pack) {
        /* The pack's length comes back with the pack (reloaded if needed). */
        uint32_t pos = c->pack_off;
        sf_frame fr;
        if (sf_next_frame(dev, block, &pos, c->end, &fr) != NE_OK || fr.off != c->pack_off ||
            fr.type != SF_PACK || sf_pack_load(dev, block, &fr) != NE_OK) {
            sf_cursor_init(dev, c, block, false);
            return;
        }
        c->ilen = dev->pack_len;
    }
}

/* Copies a found record out, checking its CRC on the way (the copy and the
 * check share one read when the body is on flash). */
static int copy_out(ne_store_dev *dev, uint32_t block, sf_rec *rec, ne_store_msg *out, void *buf,
                    size_t buf_bytes)
{
    int rc = ne_store_out_layout(out, buf, buf_bytes, rec->seq, rec->timestamp_ns, rec->subject_len,
                                 rec->headers_len, rec->payload_len);
    if (rc != NE_OK) {
        return rc;
    }
    uint32_t n = rec->body_len - rec->data_off;
    if (rec->mem != NULL) {
        rc = sf_rec_verify(dev, block, rec);
        if (rc == NE_OK) {
            memcpy(buf, rec->mem + rec->data_off, n);
        }
    } else if (rec->body_len <= NE_STORE_READ_BUFFER_BYTES) {
        /* Through a read window: the records after it come with it. */
        const uint8_t *body = sf_peek(dev, block, rec->body_off, rec->body_len, &rc);
        if (body == NULL) {
            rc = rc != NE_OK ? rc : NE_ERR_CORRUPT;
        } else if (ne_crc32c(0, body, rec->body_len) != rec->body_crc) {
            rc = NE_ERR_CORRUPT;
        } else {
            memcpy(buf, body + rec->data_off, n);
        }
    } else {
        rc = sf_read(dev, block, rec->body_off + rec->data_off, buf, n);
        if (rc == NE_OK) {
            const uint8_t *fixed = sf_peek(dev, block, rec->body_off, rec->data_off, &rc);
            if (fixed == NULL) {
                rc = rc != NE_OK ? rc : NE_ERR_CORRUPT;
            } else {
                uint32_t crc = ne_crc32c(0, fixed, rec->data_off);
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

static void count_corrupt(ne_store_dev *dev, ne_store_slot *s)
{
    if (s->front != NULL) {
        s->front->state.corrupt_records++;
    }
    dev->stats.corrupt_frames++;
}

static void fill_info(ne_store_rec_info *info, const sf_rec *rec, const char *subject,
                      uint32_t block)
{
    info->seq = rec->seq;
    info->timestamp_ns = rec->timestamp_ns;
    info->subject_hash = ne_store_subject_hash(subject, rec->subject_len);
    info->bytes =
        (uint32_t)ne_store_msg_bytes(rec->subject_len, rec->headers_len, rec->payload_len);
    info->loc_block = block;
    info->loc_index = rec->ordinal;
}

/* What a lookup in one block asks for. */
typedef struct lookup {
    uint64_t from_seq;
    bool exact;
    const ne_store_filter *filter;
    /* Time condition (find_time): 0 none, 1 ts >= ts_ns, 2 ts <= ts_ns. */
    int by_time;
    uint64_t ts_ns;
    ne_store_msg *out;
    void *buf;
    size_t buf_bytes;
    ne_store_reader *hint;
} lookup;

/* Looks for the record within one block. NE_ERR_NOT_FOUND: not in it (for
 * an exact lookup: not anywhere); 1: keep looking in the next block. */
static int find_in_block(ne_store_dev *dev, ne_store_slot *s, uint32_t block, const lookup *q,
                         ne_store_rec_info *info)
{
    sf_cursor c;
    sf_cursor_init(dev, &c, block, false);
    if (q->hint != NULL) {
        hint_restore(dev, q->hint, &c, block, q->from_seq);
    }
    uint32_t bound = dev->erase_bytes / 8u + NE_STORE_BLOCK_MAX_RECORDS + 4u;
    for (uint32_t step = 0; step < bound; step++) {
        sf_rec rec;
        sf_frame fr;
        sf_cursor before = c;
        int r = sf_cursor_next(dev, &c, &rec, &fr);
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
        if (sf_deleted(dev, block, rec.ordinal) || rec.seq < s->floor_seq ||
            rec.seq < q->from_seq) {
            continue;
        }
        if (q->exact && rec.seq != q->from_seq) {
            int vrc = sf_rec_verify(dev, block, &rec);
            if (vrc == NE_ERR_CORRUPT) {
                continue;
            }
            return vrc != NE_OK ? vrc : NE_ERR_NOT_FOUND;
        }
        if ((q->by_time == 1 && rec.timestamp_ns < q->ts_ns) ||
            (q->by_time == 2 && rec.timestamp_ns > q->ts_ns)) {
            continue;
        }
        int rc;
        const char *subject = sf_rec_subject(dev, block, &rec, &rc);
        if (subject == NULL) {
            return rc;
        }
        if (!ne_store_filter_matches(q->filter, subject, rec.subject_len)) {
            if (q->exact) {
                return NE_ERR_NOT_FOUND;
            }
            continue;
        }
        fill_info(info, &rec, subject, block);
        rc = q->out != NULL ? copy_out(dev, block, &rec, q->out, q->buf, q->buf_bytes)
                            : sf_rec_verify(dev, block, &rec);
        if (rc == NE_ERR_CORRUPT) {
            count_corrupt(dev, s);
            if (q->exact) {
                return NE_ERR_CORRUPT;
            }
            continue;
        }
        if (q->hint != NULL) {
            hint_save(dev, q->hint, &before, rec.seq);
        }
        return rc;
    }
    return q->exact ? NE_ERR_NOT_FOUND : 1;
}

/* Runs a lookup over the slot's blocks in sequence order. */
static int find_in_log(ne_store_dev *dev, ne_store_slot *s, lookup *q, ne_store_rec_info *info)
{
    if (dev->failed != NE_OK) {
        return dev->failed;
    }
    if (q->from_seq < s->floor_seq) {
        if (q->exact) {
            return NE_ERR_NOT_FOUND;
        }
        q->from_seq = s->floor_seq;
    }
    if (q->from_seq >= s->next_seq) {
        return NE_ERR_NOT_FOUND;
    }
    uint32_t end;
    for (uint32_t i = sf_order_lower_bound(dev, s->index, q->from_seq, &end); i < end; i++) {
        uint32_t block = dev->order[i];
        const ne_store_block *b = &dev->blocks[block];
        if (q->exact && b->first_seq > q->from_seq) {
            return NE_ERR_NOT_FOUND;
        }
        if (b->live_msgs == 0 || (q->by_time == 1 && b->max_ts < q->ts_ns) ||
            (q->by_time == 2 && b->min_ts > q->ts_ns)) {
            if (q->exact) {
                return NE_ERR_NOT_FOUND;
            }
            continue;
        }
        int rc = find_in_block(dev, s, block, q, info);
        if (rc != 1) {
            return rc;
        }
    }
    return NE_ERR_NOT_FOUND;
}

int sf_find_exact(ne_store_dev *dev, ne_store_slot *s, uint64_t seq, ne_store_rec_info *info)
{
    lookup q = {.from_seq = seq, .exact = true};
    return find_in_log(dev, s, &q, info);
}

static int log_find(void *impl, uint64_t from_seq, bool exact, const ne_store_filter *filter,
                    ne_store_msg *out, void *buf, size_t buf_bytes, ne_store_rec_info *info,
                    ne_store_reader *reader)
{
    ne_store_slot *s = impl;
    lookup q = {.from_seq = from_seq,
                .exact = exact,
                .filter = filter,
                .out = out,
                .buf = buf,
                .buf_bytes = buf_bytes,
                .hint = reader != NULL ? reader : &s->hint};
    return find_in_log(s->dev, s, &q, info);
}

/* Blocks keep the range of their records' times, so a search by time skips
 * the blocks that cannot hold a match: times need not grow with sequences. */
static int log_find_time(void *impl, uint64_t from_seq, uint64_t ts_ns, bool older,
                         ne_store_rec_info *info)
{
    ne_store_slot *s = impl;
    lookup q = {.from_seq = from_seq, .by_time = older ? 2 : 1, .ts_ns = ts_ns};
    return find_in_log(s->dev, s, &q, info);
}

/* ---- Removing -------------------------------------------------------------- */

/* Room for one more tombstone entry: in the DEL frame still open at the end
 * of the write buffer, or a new frame. */
static void add_tombstone(ne_store_dev *dev, ne_store_slot *s, const ne_store_rec_info *info,
                          uint64_t serial)
{
    uint32_t head = (uint32_t)s->head;
    uint8_t *f;
    uint32_t n;
    if (dev->wdel_off != SF_NONE) {
        f = dev->wbuf + dev->wdel_off;
        n = sf_get32(f + 4) / SF_DEL_ENTRY_BYTES;
        sf_put32(f + 4, (n + 1) * SF_DEL_ENTRY_BYTES);
        dev->wlen += SF_DEL_ENTRY_BYTES;
    } else {
        uint32_t off = dev->wlen;
        f = sf_wbuf_frame(dev, SF_DEL, 0, SF_DEL_ENTRY_BYTES);
        dev->wdel_off = off;
        n = 0;
    }
    uint8_t *e = f + SF_FRAME_HEADER_BYTES + n * SF_DEL_ENTRY_BYTES;
    memset(e, 0, SF_DEL_ENTRY_BYTES);
    sf_put64(e, info->seq);
    sf_put64(e + 8, serial);
    sf_put16(e + 16, (uint16_t)info->loc_index);
    sf_put32(e + 20, info->bytes);
    sf_put64(e + 24, info->subject_hash);
    sf_wbuf_seal_frame(f, dev->blocks[head].salt);
    if (n + 1 >= SF_DEL_MAX_ENTRIES) {
        dev->wdel_off = SF_NONE;
    }
    dev->blocks[head].del_entries++;
}

void sf_account_removed(ne_store_dev *dev, uint32_t block, uint32_t ordinal, uint32_t bytes)
{
    ne_store_block *b = &dev->blocks[block];
    if (ordinal >= NE_STORE_BLOCK_MAX_RECORDS || sf_deleted(dev, block, ordinal)) {
        return;
    }
    sf_set_deleted(dev, block, ordinal);
    uint32_t frame = sf_align8(bytes + 24u);
    b->live_msgs = b->live_msgs > 0 ? b->live_msgs - 1 : 0;
    b->live_bytes = b->live_bytes > bytes ? b->live_bytes - bytes : 0;
    b->live_frame_bytes = b->live_frame_bytes > frame ? b->live_frame_bytes - frame : 0;
}

/* Removes a record; *where gets where it was when removed (compaction run
 * to make room for the tombstone may have moved it). */
static int remove_at(ne_store_dev *dev, ne_store_slot *s, const ne_store_rec_info *info,
                     bool tombstone, ne_store_rec_info *where)
{
    if (dev->failed != NE_OK) {
        return dev->failed;
    }
    *where = *info;
    if (tombstone) {
        uint64_t moves = s->moves;
        /* Room for a new frame even when the open one could take the entry:
         * making room may flush and close it. */
        int rc = sf_ensure_room(dev, s, SF_FRAME_HEADER_BYTES + SF_DEL_ENTRY_BYTES, false);
        if (rc != NE_OK) {
            return rc;
        }
        if (s->moves != moves) {
            rc = sf_find_exact(dev, s, info->seq, where);
            if (rc != NE_OK) {
                return rc;
            }
        }
        add_tombstone(dev, s, where, dev->blocks[where->loc_block].serial);
    }
    sf_account_removed(dev, where->loc_block, where->loc_index, where->bytes);
    return NE_OK;
}

static int log_remove(void *impl, const ne_store_rec_info *info, bool tombstone)
{
    ne_store_slot *s = impl;
    ne_store_rec_info where;
    return remove_at(s->dev, s, info, tombstone, &where);
}

static int log_set_floor(void *impl, uint64_t floor_seq, uint64_t next_seq, bool all)
{
    ne_store_slot *s = impl;
    ne_store_dev *dev = s->dev;
    if (dev->failed != NE_OK) {
        return dev->failed;
    }
    if (floor_seq > s->floor_seq) {
        s->floor_seq = floor_seq;
    }
    if (next_seq > s->next_seq) {
        s->next_seq = next_seq;
    }
    if (s->floor_seq > s->next_seq) {
        s->next_seq = s->floor_seq;
    }
    for (uint32_t i = 0; all && i < dev->block_count; i++) {
        ne_store_block *b = &dev->blocks[i];
        if (b->state == SF_STATE_DATA && b->slot == s->index) {
            b->live_msgs = 0;
            b->live_bytes = 0;
            b->live_frame_bytes = 0;
        }
    }
    return NE_OK;
}

/* Seals the head when it is among blocks about to be rewritten. */
static int seal_head(ne_store_dev *dev, ne_store_slot *s)
{
    int rc = sf_flush(dev);
    if (rc != NE_OK) {
        return rc;
    }
    if (s->head >= 0) {
        dev->blocks[s->head].flags |= SF_FLAG_SEALED;
        s->head = -1;
    }
    return NE_OK;
}

/* The blocks of s holding records above last_seq, at most one rewrite's
 * worth (those wholly above go by retirement in a first rewrite; the
 * caller's loop comes back for the rest). */
/* The blocks a truncation round rewrites: of the log's blocks holding
 * records above last_seq, the highest NE_STORE_COMPACT_MAX_VICTIMS (in
 * sequence order). Rounds cut a long tail from its end, so a power cut
 * between two rounds leaves the log a prefix of what it was, never a hole. */
static uint32_t truncation_victims(ne_store_dev *dev, const ne_store_slot *s, uint64_t last_seq,
                                   uint32_t *victims)
{
    uint32_t n = 0;
    uint32_t end;
    uint32_t start = sf_order_lower_bound(dev, s->index, last_seq + 1, &end);
    uint32_t above = 0;
    for (uint32_t i = start; i < end; i++) {
        above += dev->blocks[dev->order[i]].last_seq > last_seq ? 1u : 0u;
    }
    uint32_t skip = above > NE_STORE_COMPACT_MAX_VICTIMS ? above - NE_STORE_COMPACT_MAX_VICTIMS : 0;
    for (uint32_t i = start; i < end; i++) {
        uint32_t block = dev->order[i];
        if (dev->blocks[block].last_seq <= last_seq) {
            continue;
        }
        if (skip > 0) {
            skip--;
            continue;
        }
        NE_ASSERT(n < NE_STORE_COMPACT_MAX_VICTIMS);
        victims[n++] = block;
    }
    return n;
}

/* Truncation rewrites the blocks holding records above last_seq without
 * them (a new epoch in the new block's BEGIN tells recovery that higher
 * next sequences in older frames no longer count); with nothing to rewrite
 * a FLOOR of the new epoch says so. Synced before returning.
 *
 * The new epoch and next sequence reach the flash only in that BEGIN or
 * FLOOR. Room is made first (compaction may write this log's frames,
 * which must not carry the new epoch before the truncation is certain);
 * when the truncation is still refused for space (the kept records do not
 * fit in one block: the half-written block is erased), nothing of it is on
 * flash and the log keeps its old epoch and next sequence, so that no
 * later sync makes durable a truncation that returned NE_ERR_FULL. */
static int truncate_round(ne_store_dev *dev, ne_store_slot *s, uint64_t last_seq, bool *more)
{
    *more = false;
    uint32_t victims[NE_STORE_COMPACT_MAX_VICTIMS];
    uint32_t n = truncation_victims(dev, s, last_seq, victims);
    int rc = n > 0 ? sf_rewrite_room(dev)
                   : sf_ensure_room(dev, s, SF_FRAME_HEADER_BYTES + SF_FLOOR_BYTES, false);
    if (rc != NE_OK) {
        return rc;
    }
    if (n > 0) {
        /* Making room may have moved blocks. */
        n = truncation_victims(dev, s, last_seq, victims);
        for (uint32_t k = 0; k < n && rc == NE_OK; k++) {
            if ((int32_t)victims[k] == s->head) {
                rc = seal_head(dev, s);
            }
        }
        if (rc != NE_OK) {
            return rc;
        }
    }
    uint32_t old_epoch = s->epoch;
    uint64_t old_next = s->next_seq;
    uint64_t old_next_written = s->next_written;
    s->epoch++;
    s->next_seq = last_seq + 1;
    s->next_written = 0;
    if (n == 0) {
        rc = sf_write_floor(dev, s, true);
        if (rc == NE_OK) {
            rc = sf_flush(dev);
        }
        if (rc == NE_OK) {
            rc = sf_flash_sync(dev);
        }
    } else {
        rc = sf_rewrite(dev, s, victims, n, last_seq, 0);
    }
    if (rc == NE_ERR_FULL) {
        s->epoch = old_epoch;
        s->next_seq = old_next;
        s->next_written = old_next_written;
    }
    if (rc != NE_OK) {
        return rc;
    }
    /* More blocks above last_seq than one rewrite took (a long tail). */
    uint32_t more_end;
    uint32_t i = sf_order_lower_bound(dev, s->index, last_seq + 1, &more_end);
    for (; i < more_end && !*more; i++) {
        *more = dev->blocks[dev->order[i]].last_seq > last_seq;
    }
    return NE_OK;
}

/* A tail longer than one rewrite takes (NE_STORE_COMPACT_MAX_VICTIMS
 * blocks) is cut in rounds from its end, each a truncation of its own (a
 * new epoch, synced; a loop, not recursion). A power cut between rounds
 * leaves the blocks of the lower rounds, with their records: the log comes
 * back as a prefix of what it was, longer than asked. Every round rewrites
 * at least one block above last_seq, so the device's block count bounds
 * the rounds. */
static int log_truncate(void *impl, uint64_t last_seq)
{
    ne_store_slot *s = impl;
    ne_store_dev *dev = s->dev;
    if (dev->failed != NE_OK) {
        return dev->failed;
    }
    if (last_seq + 1 < s->floor_seq) {
        return NE_ERR_RANGE;
    }
    for (uint32_t round = 0; round <= dev->block_count; round++) {
        bool more = false;
        int rc = truncate_round(dev, s, last_seq, &more);
        if (rc != NE_OK || !more) {
            return rc;
        }
    }
    NE_ASSERT(false && "a truncation round rewrote no block above last_seq");
    return NE_ERR_CORRUPT;
}

/* Erasure rewrites the record's block without it (sf_rewrite leaves the
 * record at drop_seq out, the rest as compaction copies it) and erases the
 * old block: once the rewrite's COMMIT is durable the record is nowhere, so
 * no tombstone is written. Nothing records the removal before the rewrite
 * has succeeded: one that does not fit (NE_ERR_FULL: the block's records,
 * packed differently, take more room than they did) leaves the log as it
 * was, the message still there. Synced when it returns (the rewrite syncs
 * its COMMIT and the erasure of the old block). */
static int log_erase(void *impl, const ne_store_rec_info *info)
{
    ne_store_slot *s = impl;
    ne_store_dev *dev = s->dev;
    if (dev->failed != NE_OK) {
        return dev->failed;
    }
    uint32_t block = info->loc_block;
    NE_ASSERT(block < dev->block_count && dev->blocks[block].slot == s->index);
    if ((int32_t)block == s->head) {
        int rc = seal_head(dev, s);
        if (rc != NE_OK) {
            return rc;
        }
    }
    return sf_rewrite(dev, s, &block, 1, UINT64_MAX, info->seq);
}

/* ---- Syncing and space ------------------------------------------------------ */

/* Writes s's floor, programs the write buffer and syncs. A floor held
 * below records replaced by records not yet synced (floor_cap) is written
 * once more after that sync, when those records are on the medium, and
 * synced again: removals from the front made since must be durable when the
 * sync returns too. */
int sf_sync_log(ne_store_dev *dev, ne_store_slot *s)
{
    if (dev->failed != NE_OK) {
        return dev->failed;
    }
    for (int round = 0; round < 2; round++) {
        int rc = s != NULL ? sf_write_floor(dev, s, false) : NE_OK;
        if (rc == NE_OK) {
            rc = sf_flush(dev);
        }
        if (rc == NE_OK) {
            rc = sf_flash_sync(dev);
        }
        if (rc != NE_OK) {
            return rc;
        }
        if (s == NULL || s->floor_seq <= s->floor_written) {
            break;
        }
    }
    return NE_OK;
}

static int log_sync(void *impl)
{
    ne_store_slot *s = impl;
    return sf_sync_log(s->dev, s);
}

static int log_compact(void *impl, uint32_t *reclaimed)
{
    ne_store_slot *s = impl;
    ne_store_dev *dev = s->dev;
    *reclaimed = 0;
    if (dev->failed != NE_OK) {
        return dev->failed;
    }
    for (uint32_t i = 0; i < dev->block_count; i++) {
        uint32_t freed = 0;
        int rc = sf_compact_step_of(dev, SF_NONE, &freed);
        if (rc != NE_OK) {
            return rc;
        }
        if (freed == 0) {
            break;
        }
        *reclaimed += freed;
    }
    int rc = sf_wear_level(dev);
    return rc == NE_ERR_NOT_FOUND ? NE_OK : rc;
}

/* How far removals must go for the append to find room: a new head needs
 * the reserve free (and the log within its quota), so as many of the log's
 * blocks must die as are missing, and removing messages in sequence order
 * kills first the blocks whose newest record is oldest. 0 when the log has
 * fewer such blocks (besides its head) than are missing: then removing its
 * messages cannot make room and none should go. */
static uint64_t log_room_by_dropping(void *impl)
{
    ne_store_slot *s = impl;
    ne_store_dev *dev = s->dev;
    uint32_t free_blocks = sf_free_count(dev);
    uint32_t reserve = reserve_for(s);
    uint32_t needed = free_blocks < reserve ? reserve - free_blocks : 0;
    if (s->max_blocks != 0 && s->data_blocks >= s->max_blocks) {
        uint32_t over = s->data_blocks - s->max_blocks + 1;
        needed = over > needed ? over : needed;
    }
    needed = needed == 0 ? 1 : needed;
    /* A dead block leaves through a RETIRE in the log's head; a log without
     * a head open for it merges its dead blocks into a new one instead,
     * which takes a free block and gains one block fewer. */
    bool head_open = s->head >= 0 && !(dev->blocks[s->head].flags & SF_FLAG_SEALED);
    if (!head_open) {
        if (free_blocks == 0) {
            return 0;
        }
        needed++;
    }
    /* The needed-th lowest last_seq among the log's other blocks holding
     * messages: a selection without sorting, bounded by needed passes. */
    uint64_t bound = 0;
    for (uint32_t k = 0; k < needed; k++) {
        uint64_t next = UINT64_MAX;
        for (uint32_t i = 0; i < dev->block_count; i++) {
            const ne_store_block *b = &dev->blocks[i];
            if (b->state != SF_STATE_DATA || b->slot != s->index || b->live_msgs == 0 ||
                (int32_t)i == s->head) {
                continue;
            }
            if (b->last_seq > bound && b->last_seq < next) {
                next = b->last_seq;
            }
        }
        if (next == UINT64_MAX) {
            return 0;
        }
        bound = next;
    }
    return bound;
}

static size_t log_max_record_bytes(void *impl)
{
    ne_store_slot *s = impl;
    return s->dev->max_frame_bytes - SF_FRAME_HEADER_BYTES - SF_MSG_FIXED_BYTES - SF_REPLACE_BYTES;
}

static int log_status(void *impl)
{
    ne_store_slot *s = impl;
    return s->dev->failed;
}

const ne_store_backend sf_log_backend = {
    .append = log_append,
    .find = log_find,
    .find_time = log_find_time,
    .remove = log_remove,
    .set_floor = log_set_floor,
    .truncate = log_truncate,
    .erase = log_erase,
    .sync = log_sync,
    .compact = log_compact,
    .room_by_dropping = log_room_by_dropping,
    .max_record_bytes = log_max_record_bytes,
    .status = log_status,
};

/* ---- Attaching ------------------------------------------------------------- */

ne_store_slot *sf_slot_by_id(ne_store_dev *dev, uint32_t id)
{
    for (uint32_t i = 0; i < NE_STORE_MAX_LOGS; i++) {
        if (dev->slots[i].id == id && id != 0) {
            return &dev->slots[i];
        }
    }
    return NULL;
}

/* Calls fn for every live record of s in sequence order (blocks in order,
 * records in a block in order): how a front end learns its counts when it
 * is attached. Bounded by the records of the log's blocks. */
int sf_walk_live(ne_store_dev *dev, ne_store_slot *s, sf_walk_fn fn, void *ctx)
{
    uint32_t end;
    for (uint32_t i = sf_order_lower_bound(dev, s->index, 0, &end); i < end; i++) {
        uint32_t block = dev->order[i];
        if (dev->blocks[block].live_msgs == 0) {
            continue;
        }
        sf_cursor c;
        sf_cursor_init(dev, &c, block, false);
        uint32_t bound = dev->erase_bytes / 8u + NE_STORE_BLOCK_MAX_RECORDS + 4u;
        for (uint32_t step = 0; step < bound; step++) {
            sf_rec rec;
            sf_frame fr;
            int r = sf_cursor_next(dev, &c, &rec, &fr);
            if (r < 0) {
                return r;
            }
            if (r == SF_END) {
                break;
            }
            if (r != SF_REC || rec.ordinal >= NE_STORE_BLOCK_MAX_RECORDS ||
                sf_deleted(dev, block, rec.ordinal) || rec.seq < s->floor_seq) {
                continue;
            }
            int rc;
            const char *subject = sf_rec_subject(dev, block, &rec, &rc);
            if (subject == NULL) {
                return rc != NE_OK ? rc : NE_ERR_CORRUPT;
            }
            uint32_t bytes =
                (uint32_t)ne_store_msg_bytes(rec.subject_len, rec.headers_len, rec.payload_len);
            rc = fn(ctx, rec.seq, rec.timestamp_ns, subject, rec.subject_len, bytes);
            if (rc != NE_OK) {
                return rc;
            }
        }
    }
    return NE_OK;
}
