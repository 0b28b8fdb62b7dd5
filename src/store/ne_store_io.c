/* The device's byte level: reading blocks through a window, walking frames
 * (and the records inside packs), programming in chunks, erasing. */
#include <string.h>

#include "codec/ne_crc32c.h"
#include "codec/ne_snappy.h"
#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "store/ne_store_format.h"

static uint32_t block_addr(const ne_store_dev *dev, uint32_t block, uint32_t off)
{
    return block * dev->erase_bytes + off;
}

int sf_fail(ne_store_dev *dev, int rc)
{
    if (dev->failed == NE_OK && rc != NE_OK) {
        dev->failed = rc;
    }
    return rc;
}

uint32_t sf_block_salt(const uint8_t header[SF_BLOCK_HEADER_BYTES])
{
    return sf_get32(header + 28);
}

void sf_encode_frame_header(uint8_t *dst, uint8_t type, uint16_t ordinal, uint32_t len,
                            uint32_t body_crc, uint32_t salt)
{
    dst[0] = type;
    dst[1] = 0;
    sf_put16(dst + 2, ordinal);
    sf_put32(dst + 4, len);
    sf_put32(dst + 8, body_crc);
    sf_put32(dst + 12, ne_crc32c(salt, dst, 12));
}

bool sf_decode_frame_header(const uint8_t *src, uint32_t salt, sf_frame *fr)
{
    if (src[0] == 0x00 || src[0] == 0xff) {
        return false;
    }
    if (ne_crc32c(salt, src, 12) != sf_get32(src + 12)) {
        return false;
    }
    fr->type = src[0];
    fr->flags = src[1];
    fr->ordinal = sf_get16(src + 2);
    fr->len = sf_get32(src + 4);
    fr->body_crc = sf_get32(src + 8);
    return true;
}

void sf_forget_reads(ne_store_dev *dev)
{
    for (uint32_t i = 0; i < NE_STORE_READ_WINDOWS; i++) {
        dev->rwin[i].len = 0;
    }
}

int32_t sf_wbuf_block(const ne_store_dev *dev)
{
    return dev->wslot != SF_NONE ? dev->slots[dev->wslot].head : -1;
}

uint32_t sf_block_end(const ne_store_dev *dev, uint32_t block)
{
    if ((int32_t)block == sf_wbuf_block(dev)) {
        return dev->blocks[block].write_off + dev->wlen;
    }
    return dev->data_end;
}

static bool in_wbuf(const ne_store_dev *dev, uint32_t block, uint32_t off)
{
    return (int32_t)block == sf_wbuf_block(dev) && off >= dev->blocks[block].write_off;
}

/* Bytes of a block that sit on flash: the write buffer's block ends at its
 * write_off (what follows is in RAM). */
static uint32_t flash_limit(const ne_store_dev *dev, uint32_t block)
{
    return (int32_t)block == sf_wbuf_block(dev) ? dev->blocks[block].write_off : dev->erase_bytes;
}

const uint8_t *sf_peek(ne_store_dev *dev, uint32_t block, uint32_t off, uint32_t len, int *rc)
{
    NE_ASSERT(len <= NE_STORE_READ_BUFFER_BYTES && block < dev->block_count);
    *rc = NE_OK;
    if (in_wbuf(dev, block, off)) {
        uint32_t w = off - dev->blocks[block].write_off;
        if (w > dev->wlen || len > dev->wlen - w) {
            return NULL;
        }
        return dev->wbuf + w;
    }
    uint32_t limit = flash_limit(dev, block);
    if (off > limit || len > limit - off) {
        return NULL;
    }
    uint32_t lru = 0;
    for (uint32_t i = 0; i < NE_STORE_READ_WINDOWS; i++) {
        sf_rwin *w = &dev->rwin[i];
        if (w->len > 0 && w->block == block && off >= w->off && off + len <= w->off + w->len) {
            w->used = ++dev->rwin_clock;
            return dev->rbuf[i] + (off - w->off);
        }
        if (w->len == 0 || (dev->rwin[lru].len > 0 && w->used < dev->rwin[lru].used)) {
            lru = i;
        }
    }
    uint32_t n = limit - off;
    if (n > NE_STORE_READ_BUFFER_BYTES) {
        n = NE_STORE_READ_BUFFER_BYTES;
    }
    sf_rwin *w = &dev->rwin[lru];
    w->len = 0;
    int r = dev->flash.ops->read(dev->flash.ctx, block_addr(dev, block, off), dev->rbuf[lru], n);
    if (r != NE_OK) {
        *rc = r;
        return NULL;
    }
    w->block = block;
    w->off = off;
    w->len = n;
    w->used = ++dev->rwin_clock;
    return dev->rbuf[lru];
}

int sf_read(ne_store_dev *dev, uint32_t block, uint32_t off, void *dst, uint32_t len)
{
    uint8_t *out = dst;
    if (len == 0) {
        return NE_OK;
    }
    uint32_t limit = flash_limit(dev, block);
    if (off < limit) {
        uint32_t n = limit - off < len ? limit - off : len;
        const uint8_t *held = NULL;
        for (uint32_t i = 0; i < NE_STORE_READ_WINDOWS && held == NULL; i++) {
            sf_rwin *w = &dev->rwin[i];
            if (w->len > 0 && w->block == block && off >= w->off && n <= w->len &&
                off - w->off <= w->len - n) {
                w->used = ++dev->rwin_clock;
                held = dev->rbuf[i] + (off - w->off);
            }
        }
        if (held != NULL) {
            /* Already in a read window (a reader following records it
             * located through sf_peek): no second read of the same bytes. */
            memcpy(out, held, n);
        } else {
            int rc = dev->flash.ops->read(dev->flash.ctx, block_addr(dev, block, off), out, n);
            if (rc != NE_OK) {
                return rc;
            }
        }
        off += n;
        out += n;
        len -= n;
    }
    if (len == 0) {
        return NE_OK;
    }
    if (!in_wbuf(dev, block, off)) {
        return NE_ERR_CORRUPT;
    }
    uint32_t w = off - dev->blocks[block].write_off;
    if (w > dev->wlen || len > dev->wlen - w) {
        return NE_ERR_CORRUPT;
    }
    memcpy(out, dev->wbuf + w, len);
    return NE_OK;
}

/* 32 bytes a step, then eight, then one (a block is checked whole before
 * it is used, and recovery checks every headerless one: a byte at a time,
 * that was about five instructions per byte of a device). */
bool sf_all_erased(const uint8_t *p, uint32_t len)
{
    uint64_t all = UINT64_MAX;
    uint32_t i = 0;
    for (; len - i >= 32u && all == UINT64_MAX; i += 32u) {
        uint64_t w[4];
        memcpy(w, p + i, sizeof(w));
        all = w[0] & w[1] & w[2] & w[3];
    }
    for (; len - i >= 8u && all == UINT64_MAX; i += 8u) {
        uint64_t w;
        memcpy(&w, p + i, sizeof(w));
        all = w;
    }
    for (; i < len && all == UINT64_MAX; i++) {
        all = 0xffffffffffffff00ull | p[i];
    }
    return all == UINT64_MAX;
}

/* Finds the next valid frame header from *pos. Erased bytes at a program
 * unit boundary end the block's data; erased bytes inside a unit are the
 * padding of one write and are skipped to the next unit. Bytes that are
 * neither (a torn write, bit rot) are stepped over 8 at a time, so that the
 * frames after a damaged one are found again; *skipped then counts it.
 * Bounded by (end - *pos) / 8 steps. */
static int next_frame(ne_store_dev *dev, uint32_t block, uint32_t *pos, uint32_t end, sf_frame *fr,
                      uint32_t *skipped)
{
    uint32_t salt = dev->blocks[block].salt;
    bool in_damage = false;
    uint32_t bound = (end >= *pos ? (end - *pos) / 8u : 0u) + 2u;
    for (uint32_t step = 0; step < bound; step++) {
        int rc;
        if (*pos >= end || end - *pos < 8) {
            return SF_END;
        }
        const uint8_t *p = sf_peek(dev, block, *pos, 8, &rc);
        if (p == NULL) {
            return rc != NE_OK ? rc : SF_END;
        }
        if (sf_all_erased(p, 8)) {
            if (*pos % dev->program_bytes == 0) {
                return SF_END;
            }
            *pos = sf_align_up(*pos, dev->program_bytes);
            continue;
        }
        if (end - *pos >= SF_FRAME_HEADER_BYTES) {
            p = sf_peek(dev, block, *pos, SF_FRAME_HEADER_BYTES, &rc);
            if (p == NULL && rc != NE_OK) {
                return rc;
            }
            if (p != NULL && sf_decode_frame_header(p, salt, fr) &&
                fr->len <= end - *pos - SF_FRAME_HEADER_BYTES) {
                fr->off = *pos;
                *pos += sf_align8(SF_FRAME_HEADER_BYTES + fr->len);
                return NE_OK;
            }
        }
        if (!in_damage) {
            in_damage = true;
            (*skipped)++;
        }
        *pos += 8;
    }
    return SF_END;
}

int sf_next_frame(ne_store_dev *dev, uint32_t block, uint32_t *pos, uint32_t end, sf_frame *fr)
{
    uint32_t skipped = 0;
    int rc = next_frame(dev, block, pos, end, fr, &skipped);
    if (skipped > 0) {
        dev->stats.corrupt_frames += skipped;
    }
    return rc;
}

bool sf_deleted(const ne_store_dev *dev, uint32_t block, uint32_t ordinal)
{
    NE_ASSERT(ordinal < NE_STORE_BLOCK_MAX_RECORDS);
    return (dev->deleted[block][ordinal / 8] >> (ordinal % 8)) & 1u;
}

void sf_set_deleted(ne_store_dev *dev, uint32_t block, uint32_t ordinal)
{
    NE_ASSERT(ordinal < NE_STORE_BLOCK_MAX_RECORDS);
    dev->deleted[block][ordinal / 8] |= (uint8_t)(1u << (ordinal % 8));
}

int sf_pack_load(ne_store_dev *dev, uint32_t block, const sf_frame *fr)
{
    uint64_t serial = dev->blocks[block].serial;
    if (dev->pack_serial == serial && serial != 0 && dev->pack_off == fr->off) {
        return NE_OK;
    }
    if (NE_STORE_PACK_RAW_BYTES == 0 || fr->len < SF_PACK_FIXED_BYTES ||
        fr->len > NE_STORE_PACK_COMP_BYTES) {
        return NE_ERR_CORRUPT;
    }
    dev->pack_serial = 0;
    int rc = sf_read(dev, block, fr->off + SF_FRAME_HEADER_BYTES, dev->pack_comp, fr->len);
    if (rc != NE_OK) {
        return rc;
    }
    if (ne_crc32c(0, dev->pack_comp, fr->len) != fr->body_crc) {
        return NE_ERR_CORRUPT;
    }
    uint32_t raw_len = sf_get32(dev->pack_comp);
    if (raw_len > sizeof(dev->pack_raw)) {
        return NE_ERR_CORRUPT;
    }
    size_t got = 0;
    rc = ne_snappy_decompress(dev->pack_comp + SF_PACK_FIXED_BYTES, fr->len - SF_PACK_FIXED_BYTES,
                              dev->pack_raw, sizeof(dev->pack_raw), &got);
    if (rc != NE_OK || got != raw_len) {
        return NE_ERR_CORRUPT;
    }
    dev->pack_serial = serial;
    dev->pack_off = fr->off;
    dev->pack_len = raw_len;
    return NE_OK;
}

void sf_cursor_init(ne_store_dev *dev, sf_cursor *c, uint32_t block, bool verify)
{
    memset(c, 0, sizeof(*c));
    c->block = block;
    c->pos = dev->data_start;
    c->end = sf_block_end(dev, block);
    c->verify = verify;
}

/* Reads the fixed part of a MSG body (and the record it replaces, which
 * follows it) into rec. `fixed` holds at least SF_MSG_FIXED_BYTES +
 * SF_REPLACE_BYTES bytes, or the whole body when it is shorter. False when
 * the lengths do not add up (the body CRC would fail too; this keeps later
 * reads in bounds). */
static bool parse_msg_fixed(const uint8_t *fixed, uint32_t body_len, sf_rec *rec)
{
    if (body_len < SF_MSG_FIXED_BYTES) {
        return false;
    }
    rec->seq = sf_get64(fixed);
    rec->timestamp_ns = sf_get64(fixed + 8);
    rec->headers_len = sf_get32(fixed + 16);
    rec->subject_len = sf_get16(fixed + 20);
    rec->flags = sf_get16(fixed + 22);
    rec->body_len = body_len;
    rec->data_off = SF_MSG_FIXED_BYTES;
    if (rec->flags & ~SF_MSG_REPLACES) {
        return false;
    }
    if (rec->flags & SF_MSG_REPLACES) {
        if (body_len < SF_MSG_FIXED_BYTES + SF_REPLACE_BYTES) {
            return false;
        }
        const uint8_t *r = fixed + SF_MSG_FIXED_BYTES;
        rec->replaced_seq = sf_get64(r);
        rec->replaced_serial = sf_get64(r + 8);
        rec->replaced_ordinal = sf_get16(r + 16);
        rec->replaced_bytes = sf_get32(r + 20);
        rec->data_off = SF_MSG_FIXED_BYTES + SF_REPLACE_BYTES;
    }
    uint32_t rest = body_len - rec->data_off;
    if (rec->subject_len > NE_STORE_MAX_SUBJECT_BYTES || rec->subject_len > rest ||
        rec->headers_len > rest - rec->subject_len || rec->seq == 0) {
        return false;
    }
    rec->payload_len = rest - rec->subject_len - rec->headers_len;
    return true;
}

int sf_rec_verify(ne_store_dev *dev, uint32_t block, sf_rec *rec)
{
    if (rec->verified) {
        return NE_OK;
    }
    uint32_t crc = 0;
    if (rec->mem != NULL) {
        crc = ne_crc32c(0, rec->mem, rec->body_len);
    } else {
        uint32_t done = 0;
        uint32_t bound = rec->body_len / NE_STORE_READ_BUFFER_BYTES + 2;
        for (uint32_t i = 0; i < bound && done < rec->body_len; i++) {
            uint32_t n = rec->body_len - done;
            if (n > NE_STORE_READ_BUFFER_BYTES) {
                n = NE_STORE_READ_BUFFER_BYTES;
            }
            int rc;
            const uint8_t *p = sf_peek(dev, block, rec->body_off + done, n, &rc);
            if (p == NULL) {
                return rc != NE_OK ? rc : NE_ERR_CORRUPT;
            }
            crc = ne_crc32c(crc, p, n);
            done += n;
        }
    }
    if (crc != rec->body_crc) {
        return NE_ERR_CORRUPT;
    }
    rec->verified = true;
    return NE_OK;
}

const char *sf_rec_subject(ne_store_dev *dev, uint32_t block, const sf_rec *rec, int *rc)
{
    *rc = NE_OK;
    if (rec->mem != NULL) {
        return (const char *)rec->mem + rec->data_off;
    }
    if (rec->subject_len == 0) {
        return "";
    }
    const uint8_t *p = sf_peek(dev, block, rec->body_off + rec->data_off, rec->subject_len, rc);
    if (p == NULL && *rc == NE_OK) {
        *rc = NE_ERR_CORRUPT;
    }
    return (const char *)p;
}

/* The next record inside the pack the cursor is in. */
static int cursor_pack_next(ne_store_dev *dev, sf_cursor *c, sf_rec *rec)
{
    uint32_t block = c->block;
    if (dev->pack_serial != dev->blocks[block].serial || dev->pack_off != c->pack_off) {
        /* Another pack was decoded meanwhile: decode this one again. */
        uint32_t pos = c->pack_off;
        sf_frame fr;
        int rc = sf_next_frame(dev, block, &pos, c->end, &fr);
        if (rc < 0) {
            return rc;
        }
        if (rc != NE_OK || fr.off != c->pack_off || fr.type != SF_PACK ||
            sf_pack_load(dev, block, &fr) != NE_OK) {
            c->in_pack = false;
            return SF_BAD;
        }
    }
    if (c->ipos + SF_FRAME_HEADER_BYTES > c->ilen) {
        c->in_pack = false;
        return SF_END;
    }
    sf_frame in;
    const uint8_t *p = dev->pack_raw + c->ipos;
    if (!sf_decode_frame_header(p, dev->blocks[block].salt, &in) || in.type != SF_MSG ||
        in.len > c->ilen - c->ipos - SF_FRAME_HEADER_BYTES) {
        c->in_pack = false;
        dev->stats.corrupt_frames++;
        return SF_BAD;
    }
    memset(rec, 0, sizeof(*rec));
    rec->ordinal = in.ordinal;
    rec->body_crc = in.body_crc;
    rec->mem = p + SF_FRAME_HEADER_BYTES;
    rec->in_pack = true;
    rec->frame_off = c->pack_off;
    c->ipos += sf_align8(SF_FRAME_HEADER_BYTES + in.len);
    if (!parse_msg_fixed(rec->mem, in.len, rec) || sf_rec_verify(dev, block, rec) != NE_OK) {
        dev->stats.corrupt_frames++;
        return SF_BAD_REC;
    }
    return SF_REC;
}

/* A MSG frame on flash or in the write buffer. */
static int cursor_msg(ne_store_dev *dev, sf_cursor *c, const sf_frame *fr, sf_rec *rec)
{
    memset(rec, 0, sizeof(*rec));
    rec->ordinal = fr->ordinal;
    rec->body_crc = fr->body_crc;
    rec->body_off = fr->off + SF_FRAME_HEADER_BYTES;
    rec->frame_off = fr->off;
    if (fr->len < SF_MSG_FIXED_BYTES) {
        dev->stats.corrupt_frames++;
        return SF_BAD_REC;
    }
    int rc;
    uint32_t want = SF_MSG_FIXED_BYTES + SF_REPLACE_BYTES;
    const uint8_t *fixed =
        sf_peek(dev, c->block, rec->body_off, fr->len < want ? fr->len : want, &rc);
    if (fixed == NULL) {
        return rc != NE_OK ? rc : SF_BAD_REC;
    }
    if (in_wbuf(dev, c->block, rec->body_off)) {
        rec->mem = fixed;
    }
    if (!parse_msg_fixed(fixed, fr->len, rec)) {
        dev->stats.corrupt_frames++;
        return SF_BAD_REC;
    }
    if (c->verify) {
        rc = sf_rec_verify(dev, c->block, rec);
        if (rc == NE_ERR_CORRUPT) {
            dev->stats.corrupt_frames++;
            return SF_BAD_REC;
        }
        if (rc != NE_OK) {
            return rc;
        }
    }
    return SF_REC;
}

int sf_cursor_next(ne_store_dev *dev, sf_cursor *c, sf_rec *rec, sf_frame *frame)
{
    uint32_t bound = dev->erase_bytes / 8u + NE_STORE_BLOCK_MAX_RECORDS + 4u;
    for (uint32_t step = 0; step < bound; step++) {
        if (c->in_pack) {
            int r = cursor_pack_next(dev, c, rec);
            if (r == SF_END || r == SF_BAD) {
                continue;
            }
            return r;
        }
        sf_frame fr;
        int rc = sf_next_frame(dev, c->block, &c->pos, c->end, &fr);
        if (rc != NE_OK) {
            return rc;
        }
        if (fr.type == SF_MSG) {
            return cursor_msg(dev, c, &fr, rec);
        }
        if (fr.type == SF_PACK) {
            rc = sf_pack_load(dev, c->block, &fr);
            if (rc == NE_ERR_CORRUPT) {
                dev->stats.corrupt_frames++;
                continue;
            }
            if (rc != NE_OK) {
                return rc;
            }
            c->in_pack = true;
            c->pack_off = fr.off;
            c->ipos = 0;
            c->ilen = dev->pack_len;
            continue;
        }
        *frame = fr;
        return SF_OTHER;
    }
    return SF_END;
}

const uint8_t *sf_frame_body(ne_store_dev *dev, uint32_t block, const sf_frame *fr, int *rc)
{
    *rc = NE_OK;
    if (fr->len > sizeof(dev->scratch)) {
        return NULL;
    }
    *rc = sf_read(dev, block, fr->off + SF_FRAME_HEADER_BYTES, dev->scratch, fr->len);
    if (*rc != NE_OK) {
        return NULL;
    }
    if (ne_crc32c(0, dev->scratch, fr->len) != fr->body_crc) {
        dev->stats.corrupt_frames++;
        return NULL;
    }
    return dev->scratch;
}

int sf_content_crc(ne_store_dev *dev, uint32_t block, uint32_t end, uint32_t *crc)
{
    *crc = 0;
    uint32_t off = dev->data_start;
    uint32_t bound = dev->erase_bytes / NE_STORE_READ_BUFFER_BYTES + 2;
    for (uint32_t i = 0; i < bound && off < end; i++) {
        uint32_t n = end - off;
        if (n > NE_STORE_READ_BUFFER_BYTES) {
            n = NE_STORE_READ_BUFFER_BYTES;
        }
        int rc;
        const uint8_t *p = sf_peek(dev, block, off, n, &rc);
        if (p == NULL) {
            return rc != NE_OK ? rc : NE_ERR_CORRUPT;
        }
        *crc = ne_crc32c(*crc, p, n);
        off += n;
    }
    return NE_OK;
}

/* ---- Writing ------------------------------------------------------------- */

static int program(ne_store_dev *dev, uint32_t block, uint32_t off, const void *bytes, uint32_t len)
{
    NE_ASSERT(off % dev->program_bytes == 0 && len % dev->program_bytes == 0);
    NE_ASSERT(off <= dev->erase_bytes && len <= dev->erase_bytes - off);
    /* Only a window over the bytes programmed goes stale (it may hold them
     * erased); the common case, appending past a window of older records,
     * keeps it, so a reader following the writer is not sent back to flash
     * after every flush. */
    for (uint32_t i = 0; i < NE_STORE_READ_WINDOWS; i++) {
        sf_rwin *w = &dev->rwin[i];
        if (w->len > 0 && w->block == block && off < w->off + w->len && w->off < off + len) {
            w->len = 0;
        }
    }
    int rc = dev->flash.ops->program(dev->flash.ctx, block_addr(dev, block, off), bytes, len);
    if (rc != NE_OK) {
        return sf_fail(dev, rc);
    }
    dev->stats.programs++;
    dev->stats.program_bytes += len;
    return NE_OK;
}

void sf_emit_begin(ne_store_dev *dev, uint32_t block, uint32_t off)
{
    NE_ASSERT(off % dev->program_bytes == 0);
    dev->emit_block = block;
    dev->emit_off = off;
    dev->emit_fill = 0;
    /* Frames stop at data_end; only a COMMIT is written past it. */
    dev->emit_limit = off < dev->data_end ? dev->data_end : dev->erase_bytes;
}

int sf_emit(ne_store_dev *dev, const void *bytes, uint32_t len)
{
    const uint8_t *p = bytes;
    if (dev->emit_off + dev->emit_fill > dev->emit_limit ||
        len > dev->emit_limit - dev->emit_off - dev->emit_fill) {
        return NE_ERR_FULL;
    }
    uint32_t unit = dev->program_bytes;
    uint32_t bound = len / NE_STORE_PROGRAM_CHUNK_BYTES + 2;
    for (uint32_t i = 0; i < bound && len > 0; i++) {
        if (len >= NE_STORE_PROGRAM_CHUNK_BYTES) {
            /* A long run (a large record): the stage is topped up to a
             * program unit and programmed, then whole units go from the
             * caller's bytes in one call, without a copy through the stage;
             * less than a unit is left for the stage. */
            if (dev->emit_fill > 0) {
                uint32_t top = sf_align_up(dev->emit_fill, unit) - dev->emit_fill;
                memcpy(dev->stage + dev->emit_fill, p, top);
                p += top;
                len -= top;
                int rc =
                    program(dev, dev->emit_block, dev->emit_off, dev->stage, dev->emit_fill + top);
                if (rc != NE_OK) {
                    return rc;
                }
                dev->emit_off += dev->emit_fill + top;
                dev->emit_fill = 0;
            }
            uint32_t direct = len - len % unit;
            if (direct > 0) {
                int rc = program(dev, dev->emit_block, dev->emit_off, p, direct);
                if (rc != NE_OK) {
                    return rc;
                }
                dev->emit_off += direct;
                p += direct;
                len -= direct;
            }
            continue;
        }
        uint32_t n = NE_STORE_PROGRAM_CHUNK_BYTES - dev->emit_fill;
        if (n > len) {
            n = len;
        }
        memcpy(dev->stage + dev->emit_fill, p, n);
        dev->emit_fill += n;
        p += n;
        len -= n;
        if (dev->emit_fill == NE_STORE_PROGRAM_CHUNK_BYTES) {
            int rc = program(dev, dev->emit_block, dev->emit_off, dev->stage,
                             NE_STORE_PROGRAM_CHUNK_BYTES);
            if (rc != NE_OK) {
                return rc;
            }
            dev->emit_off += NE_STORE_PROGRAM_CHUNK_BYTES;
            dev->emit_fill = 0;
        }
    }
    NE_ASSERT(len == 0);
    return NE_OK;
}

int sf_emit_end(ne_store_dev *dev, uint32_t *end_off)
{
    if (dev->emit_fill > 0) {
        uint32_t padded = sf_align_up(dev->emit_fill, dev->program_bytes);
        memset(dev->stage + dev->emit_fill, 0xff, padded - dev->emit_fill);
        int rc = program(dev, dev->emit_block, dev->emit_off, dev->stage, padded);
        dev->emit_fill = 0;
        if (rc != NE_OK) {
            return rc;
        }
        dev->emit_off += padded;
    }
    *end_off = dev->emit_off;
    return NE_OK;
}

static int emit_zeros(ne_store_dev *dev, uint32_t len)
{
    static const uint8_t zeros[8] = {0};
    NE_ASSERT(len < 8);
    return sf_emit(dev, zeros, len);
}

/* Compresses one run of MSG frames into a pack frame, when it pays: the
 * pack must be at least 64 B smaller than the frames it replaces. A run of
 * one record is tried too when it is large (SF_PACK_SINGLE_MIN_BYTES): a
 * merge copies records between tombstones as runs of their own, and a
 * large compressible record packed with its neighbours in the block it
 * came from must not take its full size in the new one (a rewrite of one
 * block would otherwise not fit in one block, and an erasure be refused
 * for space with free blocks left). Returns NE_ERR_NOT_FOUND when the run
 * is better left as it is. */
static int emit_pack(ne_store_dev *dev, const uint8_t *run, uint32_t run_len, uint32_t count,
                     uint32_t salt)
{
    if (dev->table == NULL || NE_STORE_PACK_RAW_BYTES == 0 ||
        (count < 2 && run_len < SF_PACK_SINGLE_MIN_BYTES)) {
        return NE_ERR_NOT_FOUND;
    }
    size_t clen = 0;
    uint8_t *dst = dev->pack_comp + SF_PACK_FIXED_BYTES;
    size_t cap = sizeof(dev->pack_comp) - SF_PACK_FIXED_BYTES;
    if (ne_snappy_compress(run, run_len, dst, cap, &clen, dev->table) != NE_OK) {
        return NE_ERR_NOT_FOUND;
    }
    uint32_t body = SF_PACK_FIXED_BYTES + (uint32_t)clen;
    uint32_t packed = sf_align8(SF_FRAME_HEADER_BYTES + body);
    if (packed + 64u > run_len) {
        return NE_ERR_NOT_FOUND;
    }
    uint8_t *fixed = dev->pack_comp;
    sf_put32(fixed, run_len);
    sf_put16(fixed + 4, (uint16_t)count);
    sf_put16(fixed + 6, 0);
    sf_put64(fixed + 8, sf_get64(run + SF_FRAME_HEADER_BYTES));
    sf_put64(fixed + 16, 0);
    uint8_t header[SF_FRAME_HEADER_BYTES];
    sf_encode_frame_header(header, SF_PACK, sf_get16(run + 2), body,
                           ne_crc32c(0, dev->pack_comp, body), salt);
    int rc = sf_emit(dev, header, sizeof(header));
    if (rc == NE_OK) {
        rc = sf_emit(dev, dev->pack_comp, body);
    }
    if (rc == NE_OK) {
        rc = emit_zeros(dev, packed - SF_FRAME_HEADER_BYTES - body);
    }
    if (rc == NE_OK) {
        dev->stats.packs_written++;
        dev->stats.pack_raw_bytes += run_len;
        dev->stats.pack_stored_bytes += packed;
    }
    return rc;
}

int sf_emit_frames(ne_store_dev *dev, const uint8_t *src, uint32_t len, uint32_t salt)
{
    uint32_t pos = 0;
    uint32_t pack_limit = NE_STORE_PACK_RAW_BYTES;
    /* Each step consumes at least one frame (8 B or more). */
    uint32_t bound = len / 8 + 1;
    for (uint32_t step = 0; step < bound && pos < len; step++) {
        uint32_t flen = sf_align8(SF_FRAME_HEADER_BYTES + sf_get32(src + pos + 4));
        NE_ASSERT(flen <= len - pos);
        if (src[pos] != SF_MSG || dev->table == NULL || flen > pack_limit) {
            int rc = sf_emit(dev, src + pos, flen);
            if (rc != NE_OK) {
                return rc;
            }
            pos += flen;
            continue;
        }
        uint32_t run = pos;
        uint32_t run_len = 0;
        uint32_t count = 0;
        for (uint32_t i = 0; i < bound && pos < len && src[pos] == SF_MSG; i++) {
            uint32_t n = sf_align8(SF_FRAME_HEADER_BYTES + sf_get32(src + pos + 4));
            if (run_len + n > pack_limit || count == 0xffff) {
                break;
            }
            run_len += n;
            pos += n;
            count++;
        }
        int rc = emit_pack(dev, src + run, run_len, count, salt);
        if (rc == NE_ERR_NOT_FOUND) {
            rc = sf_emit(dev, src + run, run_len);
        }
        if (rc != NE_OK) {
            return rc;
        }
    }
    return NE_OK;
}

/* Whether sf_emit_frames would emit every frame of src as it is: without a
 * table, or with no message frame short enough to go into a pack. */
static bool frames_stay_raw(const ne_store_dev *dev, const uint8_t *src, uint32_t len)
{
    if (dev->table == NULL || NE_STORE_PACK_RAW_BYTES == 0) {
        return true;
    }
    uint32_t pos = 0;
    uint32_t bound = len / 8 + 1;
    for (uint32_t step = 0; step < bound && pos < len; step++) {
        uint32_t flen = sf_align8(SF_FRAME_HEADER_BYTES + sf_get32(src + pos + 4));
        NE_ASSERT(flen <= len - pos);
        if (src[pos] == SF_MSG && flen <= NE_STORE_PACK_RAW_BYTES) {
            return false;
        }
        pos += flen;
    }
    return true;
}

int sf_emit_buffer(ne_store_dev *dev, uint32_t block, uint32_t off, uint8_t *buf, uint32_t len,
                   uint32_t cap, uint32_t salt, uint32_t *end_off)
{
    NE_ASSERT(len <= cap && off % dev->program_bytes == 0);
    uint32_t padded = sf_align_up(len, dev->program_bytes);
    uint32_t limit = off < dev->data_end ? dev->data_end : dev->erase_bytes;
    if (padded <= cap && off <= limit && padded <= limit - off && frames_stay_raw(dev, buf, len)) {
        /* The same bytes sf_emit_frames and sf_emit_end would program (the
         * frames, then 0xFF to the program unit), in one call from the
         * buffer: a large record takes one program, not two. */
        memset(buf + len, 0xff, padded - len);
        int rc = program(dev, block, off, buf, padded);
        if (rc != NE_OK) {
            return rc;
        }
        *end_off = off + padded;
        return NE_OK;
    }
    sf_emit_begin(dev, block, off);
    int rc = sf_emit_frames(dev, buf, len, salt);
    if (rc == NE_OK) {
        rc = sf_emit_end(dev, end_off);
    }
    return rc;
}

/* ---- Blocks -------------------------------------------------------------- */

/* Forgets what a block held: its serial leaves by_serial[], its owner
 * counts one block less. */
static void reset_block(ne_store_dev *dev, uint32_t block)
{
    ne_store_block *b = &dev->blocks[block];
    if (b->state == SF_STATE_DATA && b->serial != 0) {
        sf_serial_remove(dev, block);
    }
    if (b->state == SF_STATE_DATA && b->slot != SF_NO_SLOT) {
        ne_store_slot *s = &dev->slots[b->slot];
        NE_ASSERT(s->data_blocks > 0 && s->head != (int32_t)block);
        s->data_blocks--;
    }
    uint32_t erase_count = b->erase_count;
    memset(b, 0, sizeof(*b));
    b->erase_count = erase_count;
    b->slot = SF_NO_SLOT;
    memset(dev->deleted[block], 0, sizeof(dev->deleted[block]));
}

int sf_erase_block(ne_store_dev *dev, uint32_t block)
{
    NE_ASSERT(dev->emit_fill == 0 && (int32_t)block != sf_wbuf_block(dev));
    reset_block(dev, block);
    ne_store_block *b = &dev->blocks[block];
    b->state = SF_STATE_UNKNOWN;
    sf_forget_reads(dev);
    int rc = dev->flash.ops->erase(dev->flash.ctx, block);
    if (rc != NE_OK) {
        return sf_fail(dev, rc);
    }
    dev->stats.erases++;
    dev->erase_unsynced = true;
    b->flags |= SF_FLAG_ERASE_UNSYNCED;
    b->erase_count++;
    uint8_t *h = dev->stage;
    uint32_t hlen = dev->data_start;
    memset(h, 0xff, hlen);
    sf_put32(h, SF_MAGIC);
    sf_put16(h + 4, SF_VERSION);
    sf_put16(h + 6, SF_BLOCK_HEADER_BYTES);
    sf_put32(h + 8, b->erase_count);
    sf_put32(h + 12, dev->program_bytes);
    sf_put32(h + 16, dev->erase_bytes);
    sf_put32(h + 20, block);
    sf_put32(h + 24, 0);
    sf_put32(h + 28, ne_crc32c(0, h, 28));
    rc = program(dev, block, 0, h, hlen);
    if (rc != NE_OK) {
        return rc;
    }
    b->salt = sf_block_salt(h);
    b->state = SF_STATE_READY;
    return NE_OK;
}

/* Whether a block reads erased from offset from on (*blank), or an error. */
static int block_blank(ne_store_dev *dev, uint32_t block, uint32_t from, bool *blank)
{
    *blank = true;
    uint32_t bound = dev->erase_bytes / NE_STORE_READ_BUFFER_BYTES + 2;
    uint32_t off = from;
    for (uint32_t i = 0; i < bound && *blank && off < dev->erase_bytes; i++) {
        uint32_t n = dev->erase_bytes - off;
        if (n > NE_STORE_READ_BUFFER_BYTES) {
            n = NE_STORE_READ_BUFFER_BYTES;
        }
        int rc;
        const uint8_t *p = sf_peek(dev, block, off, n, &rc);
        if (p == NULL) {
            return rc != NE_OK ? rc : NE_ERR_IO;
        }
        *blank = sf_all_erased(p, n);
        off += n;
    }
    return NE_OK;
}

static int prepare_block(ne_store_dev *dev, uint32_t block)
{
    ne_store_block *b = &dev->blocks[block];
    NE_ASSERT(b->state != SF_STATE_DATA);
    if (b->state == SF_STATE_READY) {
        return NE_OK;
    }
    /* Believed erased (FREE: make sure, since programming over anything
     * else would corrupt the first frames written here), or of unknown
     * content (then erased all the same: its header is lost). */
    bool free = b->state == SF_STATE_FREE;
    bool blank = false;
    int rc = NE_OK;
    if (b->state == SF_STATE_UNKNOWN && (b->flags & SF_FLAG_READ_BLANK) != 0) {
        /* Recovery read it erased whole, after the open's sync, and nothing
         * has programmed or erased it since (either clears the flag): it
         * reads the same now. A blank read is not proof that no program
         * was cut there (a cell may be left half-programmed), so the erase
         * below is still made; what is saved is reading the block again. */
        blank = true;
    } else {
        rc = block_blank(dev, block, free ? dev->data_start : 0, &blank);
    }
    if (rc != NE_OK) {
        return rc;
    }
    if (free && blank) {
        b->state = SF_STATE_READY;
        return NE_OK;
    }
    bool unsynced = (b->flags & SF_FLAG_ERASE_UNSYNCED) != 0;
    rc = sf_erase_block(dev, block);
    if (rc == NE_OK && blank && !unsynced) {
        /* Blank before, and as the medium holds it (no erase of ours is
         * pending): there is no previous life for a cut to bring back. */
        b->flags &= (uint8_t)~SF_FLAG_ERASE_UNSYNCED;
    }
    return rc;
}

/* Makes a block ready and its erase durable before the caller programs
 * frames into it. Behind a write cache an erase reaches the medium only at
 * a sync, line by line: without one, a cut could keep some lines of the
 * block's previous life (its header and first frames, perhaps never synced
 * themselves) beside lines of the new one, and an old frame whose lost
 * lines were written again with the same bytes would validate whole. A
 * frame never synced and rolled back by an open (a BEGIN carrying an
 * unsynced purge's floor) would then come back and remove synced records. */
int sf_prepare_block(ne_store_dev *dev, uint32_t block)
{
    int rc = prepare_block(dev, block);
    if (rc == NE_OK && (dev->blocks[block].flags & SF_FLAG_ERASE_UNSYNCED) != 0) {
        rc = sf_flash_sync(dev);
    }
    return rc;
}

int sf_flash_sync(ne_store_dev *dev)
{
    int rc = dev->flash.ops->sync(dev->flash.ctx);
    if (rc != NE_OK) {
        return sf_fail(dev, rc);
    }
    dev->stats.syncs++;
    for (uint32_t i = 0; dev->erase_unsynced && i < dev->block_count; i++) {
        dev->blocks[i].flags &= ~SF_FLAG_ERASE_UNSYNCED;
    }
    dev->erase_unsynced = false;
    /* With nothing left in the write buffer, every replacing record is on
     * the medium now: floors may pass what they replaced. */
    if (dev->wlen == 0) {
        for (uint32_t i = 0; i < NE_STORE_MAX_LOGS; i++) {
            dev->slots[i].floor_cap = UINT64_MAX;
        }
    }
    return NE_OK;
}
