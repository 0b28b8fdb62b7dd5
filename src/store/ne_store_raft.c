/* A RAFT log: entries in a log of their own (sequence = index, time field =
 * term), term and vote and the snapshot in the catalogue under the keys
 * "l.<id>.tv" and "l.<id>.snap" (removed with the log). */
#include "store/ne_store_raft.h"

#include <stdbool.h>
#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "store/ne_store_format.h"

#define KEY_BYTES 24u
#define SNAP_FIXED_BYTES 16u

/* "l.<id>.<suffix>" */
static size_t log_key(uint32_t id, const char *suffix, char out[KEY_BYTES])
{
    char digits[10];
    size_t n = 0;
    for (uint32_t v = id; n == 0 || v != 0; v /= 10) {
        digits[n++] = (char)('0' + v % 10);
    }
    size_t len = 0;
    out[len++] = 'l';
    out[len++] = '.';
    for (size_t i = 0; i < n; i++) {
        out[len++] = digits[n - 1 - i];
    }
    out[len++] = '.';
    size_t s = strlen(suffix);
    NE_ASSERT(len + s <= KEY_BYTES);
    memcpy(out + len, suffix, s);
    return len + s;
}

static int meta_put(ne_store_raft *r, const char *suffix, const uint8_t *head, size_t head_len,
                    const void *data, size_t len)
{
    char key[KEY_BYTES];
    size_t key_len = log_key(r->id, suffix, key);
    ne_store_msg m = {.subject = key,
                      .subject_len = key_len,
                      .headers = head,
                      .headers_len = head_len,
                      .payload = data,
                      .payload_len = len};
    int rc = ne_store_append(&r->dev->meta, &m, NULL);
    return rc == NE_OK ? ne_store_sync(&r->dev->meta) : rc;
}

static int meta_load(ne_store_raft *r, const char *suffix, ne_store_msg *m, void *buf,
                     size_t buf_bytes)
{
    char key[KEY_BYTES];
    size_t key_len = log_key(r->id, suffix, key);
    return ne_store_load_last(&r->dev->meta, key, key_len, m, buf, buf_bytes);
}

/* The entries actually held, without a hole: entries appended but not
 * synced can be lost in any order (a write cache), and a higher next
 * sequence can reach the medium without them, but a RAFT log must not claim
 * an index it does not hold. The log is cut back, durably, to the last entry
 * before the first missing one (or to the snapshot): everything after a
 * hole was appended after the entry missing there, so none of it was
 * synced. Reads every entry once. */
static int repair_tail(ne_store_raft *r)
{
    uint64_t last = 0;
    ne_store_reader reader;
    ne_store_reader_init(&reader);
    uint64_t from = r->log.state.first_seq;
    for (uint64_t i = 0; i < r->log.state.msgs; i++) {
        ne_store_msg m;
        int rc = ne_store_read_next(&r->log, &reader, from, NULL, 0, &m, NULL, 0);
        if (rc == NE_ERR_NOT_FOUND) {
            break;
        }
        if (rc != NE_OK && rc != NE_ERR_TOO_BIG) {
            return rc;
        }
        /* The first entry held must be the one after the snapshot (index
         * 1 without one), or below it (entries the snapshot covers whose
         * removal was not yet durable). */
        bool follows = last != 0 ? m.seq == last + 1 : m.seq <= r->snapshot_index + 1;
        if (!follows) {
            break;
        }
        last = m.seq;
        from = m.seq + 1;
    }
    uint64_t want = last > r->snapshot_index ? last : r->snapshot_index;
    if (r->log.state.last_seq <= want) {
        return NE_OK;
    }
    int rc = NE_OK;
    const ne_store_slot *s = r->log.impl;
    if (r->log.state.msgs > 0 && want + 1 < r->log.state.first_seq && s->floor_seq <= want + 1) {
        /* The hole is right after the snapshot, above the log's floor: no
         * entry held follows the snapshot, so every one goes. A truncation
         * below the first message is refused, so the log is emptied first
         * (truncated to just below its first entry), then goes back. */
        rc = ne_store_truncate(&r->log, r->log.state.first_seq - 1);
    }
    if (rc == NE_OK) {
        rc = ne_store_truncate(&r->log, want);
    }
    /* Below the log's floor (entries removed by a snapshot not synced
     * while its prefix removal was): the index stays where it is. */
    return rc == NE_ERR_RANGE ? NE_OK : rc;
}

int ne_store_raft_attach(ne_store_raft *r, ne_store_dev *dev, uint32_t id)
{
    NE_ASSERT(r != NULL && dev != NULL);
    if (dev->failed != NE_OK) {
        return dev->failed;
    }
    ne_store_slot *s = sf_slot_by_id(dev, id);
    if (s == NULL || !(s->flags & SF_SLOT_CATALOGUED) || s->id == SF_META_LOG_ID) {
        return NE_ERR_NOT_FOUND;
    }
    if (s->kind != NE_STORE_KIND_RAFT) {
        return NE_ERR_INVALID;
    }
    if (s->flags & SF_SLOT_ATTACHED) {
        return NE_ERR_EXISTS;
    }
    memset(r, 0, sizeof(*r));
    r->dev = dev;
    r->id = id;
    /* Discard new: a full device refuses an entry, it never drops entries. */
    ne_store_config cfg = {.limits.discard = NE_STORE_DISCARD_NEW, .flags = NE_STORE_RAW_KEYS};
    int rc = sf_attach(dev, s, &r->log, &cfg);
    if (rc != NE_OK) {
        return rc;
    }
    /* Term and vote, then the snapshot's index and term (its head only). */
    uint8_t small[KEY_BYTES + SNAP_FIXED_BYTES];
    ne_store_msg m;
    rc = meta_load(r, "tv", &m, small, sizeof(small));
    if (rc == NE_OK && m.payload_len == 16) {
        r->term = sf_get64(m.payload);
        r->vote = sf_get64(m.payload + 8);
    } else if (rc != NE_ERR_NOT_FOUND && rc != NE_OK) {
        (void)ne_store_detach(&r->log);
        return rc;
    }
    /* The snapshot's head: its record fits the catalogue's buffer (the
     * snapshot is bounded by NE_STORE_MAX_CONFIG_BYTES). */
    rc = meta_load(r, "snap", &m, dev->cat_buf, sizeof(dev->cat_buf));
    if (rc == NE_OK && m.headers_len == SNAP_FIXED_BYTES) {
        r->snapshot_index = sf_get64(m.headers);
        r->snapshot_term = sf_get64(m.headers + 8);
    } else if (rc != NE_ERR_NOT_FOUND && rc != NE_OK) {
        (void)ne_store_detach(&r->log);
        return rc;
    }
    rc = repair_tail(r);
    if (rc != NE_OK) {
        (void)ne_store_detach(&r->log);
    }
    return rc;
}

int ne_store_raft_detach(ne_store_raft *r)
{
    return ne_store_detach(&r->log);
}

uint64_t ne_store_raft_first_index(const ne_store_raft *r)
{
    return r->log.state.msgs == 0 ? 0 : r->log.state.first_seq;
}

uint64_t ne_store_raft_last_index(const ne_store_raft *r)
{
    uint64_t last = r->log.state.last_seq;
    return last > r->snapshot_index ? last : r->snapshot_index;
}

int ne_store_raft_last_term(ne_store_raft *r, uint64_t *term)
{
    *term = r->snapshot_term;
    if (r->log.state.msgs == 0) {
        return NE_OK;
    }
    ne_store_msg m;
    int rc = ne_store_load(&r->log, r->log.state.last_seq, &m, NULL, 0);
    if (rc == NE_ERR_TOO_BIG) {
        *term = m.timestamp_ns;
        return NE_OK;
    }
    if (rc == NE_OK) {
        *term = m.timestamp_ns;
    }
    return rc;
}

int ne_store_raft_append(ne_store_raft *r, uint64_t index, uint64_t term, const void *data,
                         size_t len)
{
    if (index != ne_store_raft_last_index(r) + 1 || index == 0) {
        return NE_ERR_RANGE;
    }
    ne_store_msg m = {
        .subject = "", .subject_len = 0, .payload = data, .payload_len = len, .timestamp_ns = term};
    return ne_store_append_at(&r->log, &m, index);
}

int ne_store_raft_entry(ne_store_raft *r, uint64_t index, uint64_t *term, void *buf,
                        size_t buf_bytes, size_t *len)
{
    ne_store_msg m;
    int rc = ne_store_load(&r->log, index, &m, buf, buf_bytes);
    *len = m.payload_len;
    *term = m.timestamp_ns;
    if (rc == NE_OK && m.payload_len > 0) {
        /* The key is empty and there are no headers: the bytes start the
         * buffer already. */
        NE_ASSERT(m.payload == buf);
    }
    return rc;
}

int ne_store_raft_truncate(ne_store_raft *r, uint64_t index)
{
    if (index < r->snapshot_index || index + 1 < r->log.state.first_seq) {
        return NE_ERR_RANGE;
    }
    return ne_store_truncate(&r->log, index);
}

int ne_store_raft_set_term_vote(ne_store_raft *r, uint64_t term, uint64_t vote)
{
    if (term < r->term) {
        return NE_ERR_RANGE;
    }
    uint8_t v[16];
    sf_put64(v, term);
    sf_put64(v + 8, vote);
    int rc = meta_put(r, "tv", NULL, 0, v, sizeof(v));
    if (rc == NE_OK) {
        r->term = term;
        r->vote = vote;
    }
    return rc;
}

int ne_store_raft_snapshot(ne_store_raft *r, uint64_t index, uint64_t term, const void *data,
                           size_t len)
{
    if (index < r->snapshot_index || (data == NULL && len != 0)) {
        return NE_ERR_RANGE;
    }
    if (len > NE_STORE_MAX_CONFIG_BYTES) {
        return NE_ERR_TOO_BIG;
    }
    uint8_t head[SNAP_FIXED_BYTES];
    sf_put64(head, index);
    sf_put64(head + 8, term);
    int rc = meta_put(r, "snap", head, sizeof(head), data, len);
    if (rc != NE_OK) {
        return rc;
    }
    r->snapshot_index = index;
    r->snapshot_term = term;
    /* The entries it covers leave (from the front: one floor move). */
    if (index >= r->log.state.first_seq) {
        return ne_store_set_first(&r->log, index + 1, NULL);
    }
    return NE_OK;
}

int ne_store_raft_load_snapshot(ne_store_raft *r, void *buf, size_t buf_bytes, size_t *len)
{
    ne_store_msg m;
    int rc = meta_load(r, "snap", &m, buf, buf_bytes);
    *len = m.payload_len;
    if (rc != NE_OK) {
        if (rc == NE_ERR_TOO_BIG) {
            *len = m.subject_len + m.headers_len + m.payload_len;
        }
        return rc;
    }
    memmove(buf, m.payload, m.payload_len);
    return NE_OK;
}

int ne_store_raft_sync(ne_store_raft *r)
{
    return ne_store_sync(&r->log);
}
