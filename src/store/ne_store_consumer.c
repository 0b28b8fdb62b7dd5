/* A consumer's delivery state: RAM state in the caller's pending array,
 * changes as small records in a consumer log, and a snapshot record now and
 * then so that the log stays short.
 *
 * Records (raw keys, one byte each): 'T' starting (stream sequence), 'D'
 * delivered (consumer sequence, stream sequence, time, deliveries), 'A' ack
 * and 'L' ack of everything up to (consumer sequence, stream sequence), 'C'
 * a batch of acks and deliveries (32 B each), 'S' the whole state. Attaching replays them in order;
 * a snapshot replaces what came before it. A snapshot is written once the records since the last
 * one outnumber max(64, twice the pending entries); once it is synced, the
 * records before it leave (the log's first sequence moves to it). */
#include "store/ne_store_consumer.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "store/ne_store_format.h"

#define REC_STARTING 'T'
#define REC_DELIVERED 'D'
#define REC_ACK 'A'
#define REC_ACK_ALL 'L'
#define REC_SNAPSHOT 'S'
#define REC_CHANGES 'C'
#define CHANGES_FIXED_BYTES 8u
#define CHANGE_BYTES 32u
#define SNAPSHOT_FIXED_BYTES 48u
#define SNAPSHOT_ENTRY_BYTES 32u
#define SNAPSHOT_EVERY_MIN 64u

/* ---- Pending entries (sorted by stream sequence) -------------------------- */

/* Index of the first entry with stream_seq >= seq. */
static uint32_t lower_bound(const ne_store_consumer *c, uint64_t seq)
{
    uint32_t lo = 0;
    uint32_t hi = c->pending_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (c->pending[mid].stream_seq < seq) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

const ne_store_pending *ne_store_consumer_find(const ne_store_consumer *c, uint64_t stream_seq)
{
    uint32_t i = lower_bound(c, stream_seq);
    return i < c->pending_count && c->pending[i].stream_seq == stream_seq ? &c->pending[i] : NULL;
}

static int pending_insert(ne_store_consumer *c, const ne_store_pending *p)
{
    uint32_t i = lower_bound(c, p->stream_seq);
    if (i < c->pending_count && c->pending[i].stream_seq == p->stream_seq) {
        c->pending[i] = *p;
        return NE_OK;
    }
    if (c->pending_count == c->pending_capacity) {
        return NE_ERR_FULL;
    }
    memmove(&c->pending[i + 1], &c->pending[i], (c->pending_count - i) * sizeof(c->pending[0]));
    c->pending[i] = *p;
    c->pending_count++;
    return NE_OK;
}

static void pending_remove_at(ne_store_consumer *c, uint32_t i)
{
    NE_ASSERT(i < c->pending_count);
    memmove(&c->pending[i], &c->pending[i + 1], (c->pending_count - i - 1) * sizeof(c->pending[0]));
    c->pending_count--;
}

/* ---- The state machine (nats-server's rules) ------------------------------- */

static void apply_starting(ne_store_consumer *c, uint64_t stream_seq)
{
    c->delivered.stream_seq = stream_seq;
    c->ack_floor.stream_seq = stream_seq;
}

static int apply_delivered(ne_store_consumer *c, uint64_t dseq, uint64_t sseq, uint32_t dc,
                           uint64_t ts)
{
    if (c->ack_policy == NE_STORE_ACK_NONE) {
        c->delivered.consumer_seq = dseq;
        c->delivered.stream_seq = sseq;
        c->ack_floor = c->delivered;
        return NE_OK;
    }
    uint32_t i = lower_bound(c, sseq);
    if (i < c->pending_count && c->pending[i].stream_seq == sseq) {
        /* A redelivery: its time and count. */
        c->pending[i].timestamp_ns = ts;
        c->pending[i].deliveries = dc;
        return NE_OK;
    }
    ne_store_pending p = {
        .stream_seq = sseq, .consumer_seq = dseq, .timestamp_ns = ts, .deliveries = dc};
    int rc = pending_insert(c, &p);
    if (rc != NE_OK) {
        return rc;
    }
    if (sseq > c->delivered.stream_seq || dseq > c->delivered.consumer_seq) {
        c->delivered.consumer_seq = dseq;
        c->delivered.stream_seq = sseq;
    }
    return NE_OK;
}

/* The ack floor after an ack of (dseq, sseq): all of delivered when nothing
 * is pending; moved up to the acked message when it was the next one, and
 * past the gap up to the next pending message. */
static void move_ack_floor(ne_store_consumer *c, uint64_t dseq, uint64_t sseq)
{
    if (c->pending_count == 0) {
        c->ack_floor = c->delivered;
        return;
    }
    if (c->ack_floor.consumer_seq + 1 != dseq) {
        return;
    }
    bool not_first = c->ack_floor.consumer_seq != 0;
    c->ack_floor.consumer_seq = dseq;
    c->ack_floor.stream_seq = sseq;
    if (!not_first || c->delivered.consumer_seq <= dseq) {
        return;
    }
    uint32_t i = lower_bound(c, sseq + 1);
    if (i < c->pending_count && c->pending[i].stream_seq < c->delivered.stream_seq &&
        c->pending[i].consumer_seq > 0) {
        c->ack_floor.consumer_seq = c->pending[i].consumer_seq - 1;
        c->ack_floor.stream_seq = c->pending[i].stream_seq - 1;
    }
}

static int apply_ack(ne_store_consumer *c, uint64_t dseq, uint64_t sseq)
{
    uint32_t i = lower_bound(c, sseq);
    if (i >= c->pending_count || c->pending[i].stream_seq != sseq) {
        return NE_ERR_NOT_FOUND;
    }
    pending_remove_at(c, i);
    move_ack_floor(c, dseq, sseq);
    return NE_OK;
}

/* Ack policy all: everything pending up to sseq leaves. */
static int apply_ack_all(ne_store_consumer *c, uint64_t dseq, uint64_t sseq)
{
    uint32_t n = lower_bound(c, sseq + 1);
    if (n == 0) {
        return NE_ERR_NOT_FOUND;
    }
    memmove(&c->pending[0], &c->pending[n], (c->pending_count - n) * sizeof(c->pending[0]));
    c->pending_count -= n;
    if (c->pending_count == 0) {
        c->ack_floor = c->delivered;
    } else if (sseq > c->ack_floor.stream_seq) {
        c->ack_floor.consumer_seq = dseq;
        c->ack_floor.stream_seq = sseq;
    }
    return NE_OK;
}

/* ---- Records ------------------------------------------------------------------ */

static int write_record(ne_store_consumer *c, char type, const uint8_t *body, size_t len)
{
    ne_store_msg m = {.subject = &type, .subject_len = 1, .payload = body, .payload_len = len};
    int rc = ne_store_append(&c->log, &m, NULL);
    if (rc == NE_OK) {
        c->changes_since_snapshot++;
    }
    return rc;
}

static size_t encode_snapshot(const ne_store_consumer *c, ne_store_seq_pair delivered,
                              ne_store_seq_pair ack_floor, const ne_store_pending *pending,
                              uint32_t count, uint8_t *out)
{
    NE_ASSERT(SNAPSHOT_FIXED_BYTES + (size_t)count * SNAPSHOT_ENTRY_BYTES <= c->snapshot_bytes);
    memset(out, 0, SNAPSHOT_FIXED_BYTES);
    sf_put64(out, delivered.consumer_seq);
    sf_put64(out + 8, delivered.stream_seq);
    sf_put64(out + 16, ack_floor.consumer_seq);
    sf_put64(out + 24, ack_floor.stream_seq);
    sf_put32(out + 32, count);
    out[36] = (uint8_t)c->ack_policy;
    uint8_t *e = out + SNAPSHOT_FIXED_BYTES;
    for (uint32_t i = 0; i < count; i++, e += SNAPSHOT_ENTRY_BYTES) {
        const ne_store_pending *p = &pending[i];
        sf_put64(e, p->stream_seq);
        sf_put64(e + 8, p->consumer_seq);
        sf_put64(e + 16, p->timestamp_ns);
        sf_put32(e + 24, p->deliveries);
        sf_put32(e + 28, 0);
    }
    return SNAPSHOT_FIXED_BYTES + (size_t)count * SNAPSHOT_ENTRY_BYTES;
}

/* A state as one record; the records before it leave at the next sync. */
static int write_snapshot_of(ne_store_consumer *c, ne_store_seq_pair delivered,
                             ne_store_seq_pair ack_floor, const ne_store_pending *pending,
                             uint32_t count)
{
    size_t len = encode_snapshot(c, delivered, ack_floor, pending, count, c->snapshot_buf);
    int rc = write_record(c, REC_SNAPSHOT, c->snapshot_buf, len);
    if (rc != NE_OK) {
        return rc;
    }
    c->snapshot_seq = c->log.state.last_seq;
    c->changes_since_snapshot = 0;
    return NE_OK;
}

static int write_snapshot(ne_store_consumer *c)
{
    return write_snapshot_of(c, c->delivered, c->ack_floor, c->pending, c->pending_count);
}

static int maybe_snapshot(ne_store_consumer *c)
{
    uint32_t every = 2 * c->pending_count;
    every = every > SNAPSHOT_EVERY_MIN ? every : SNAPSHOT_EVERY_MIN;
    if (c->changes_since_snapshot < every) {
        return NE_OK;
    }
    int rc = write_snapshot(c);
    return rc == NE_ERR_FULL ? NE_OK : rc;
}

/* A change of a batch record: kind, deliveries, both sequences, time. */
static void encode_change(const ne_store_change *ch, uint8_t *e)
{
    e[0] = (uint8_t)ch->kind;
    e[1] = e[2] = e[3] = 0;
    sf_put32(e + 4, ch->deliveries);
    sf_put64(e + 8, ch->consumer_seq);
    sf_put64(e + 16, ch->stream_seq);
    sf_put64(e + 24, ch->timestamp_ns);
}

static int apply_change(ne_store_consumer *c, const ne_store_change *ch)
{
    if (ch->kind == NE_STORE_CHANGE_ACK) {
        return apply_ack(c, ch->consumer_seq, ch->stream_seq);
    }
    return apply_delivered(c, ch->consumer_seq, ch->stream_seq, ch->deliveries, ch->timestamp_ns);
}

/* Replays a batch record: its changes in order, as the single records. */
static int replay_changes(ne_store_consumer *c, const uint8_t *b, size_t n)
{
    if (n < CHANGES_FIXED_BYTES) {
        return NE_ERR_CORRUPT;
    }
    uint32_t count = sf_get32(b);
    if (n != CHANGES_FIXED_BYTES + (size_t)count * CHANGE_BYTES) {
        return NE_ERR_CORRUPT;
    }
    const uint8_t *e = b + CHANGES_FIXED_BYTES;
    for (uint32_t i = 0; i < count; i++, e += CHANGE_BYTES) {
        ne_store_change ch = {.kind = (ne_store_change_kind)e[0],
                              .deliveries = sf_get32(e + 4),
                              .consumer_seq = sf_get64(e + 8),
                              .stream_seq = sf_get64(e + 16),
                              .timestamp_ns = sf_get64(e + 24)};
        if ((ch.kind != NE_STORE_CHANGE_ACK && ch.kind != NE_STORE_CHANGE_DELIVERED) ||
            (ch.kind == NE_STORE_CHANGE_DELIVERED && ch.deliveries == 0)) {
            return NE_ERR_CORRUPT;
        }
        int rc = apply_change(c, &ch);
        /* An ack of what a later snapshot no longer holds changes nothing. */
        if (rc != NE_OK && !(rc == NE_ERR_NOT_FOUND && ch.kind == NE_STORE_CHANGE_ACK)) {
            return rc;
        }
    }
    return NE_OK;
}

/* Applies one record while replaying. */
static int replay_one(ne_store_consumer *c, const ne_store_msg *m)
{
    const uint8_t *b = m->payload;
    size_t n = m->payload_len;
    if (m->subject_len != 1) {
        return NE_ERR_CORRUPT;
    }
    switch (m->subject[0]) {
    case REC_STARTING:
        if (n != 8) {
            return NE_ERR_CORRUPT;
        }
        apply_starting(c, sf_get64(b));
        return NE_OK;
    case REC_DELIVERED:
        if (n != 28) {
            return NE_ERR_CORRUPT;
        }
        return apply_delivered(c, sf_get64(b), sf_get64(b + 8), sf_get32(b + 24), sf_get64(b + 16));
    case REC_ACK:
    case REC_ACK_ALL: {
        if (n != 16) {
            return NE_ERR_CORRUPT;
        }
        int rc = m->subject[0] == REC_ACK ? apply_ack(c, sf_get64(b), sf_get64(b + 8))
                                          : apply_ack_all(c, sf_get64(b), sf_get64(b + 8));
        /* An ack of what a later snapshot no longer holds changes nothing. */
        return rc == NE_ERR_NOT_FOUND ? NE_OK : rc;
    }
    case REC_CHANGES:
        return replay_changes(c, b, n);
    case REC_SNAPSHOT: {
        if (n < SNAPSHOT_FIXED_BYTES) {
            return NE_ERR_CORRUPT;
        }
        uint32_t count = sf_get32(b + 32);
        if (n != SNAPSHOT_FIXED_BYTES + (size_t)count * SNAPSHOT_ENTRY_BYTES) {
            return NE_ERR_CORRUPT;
        }
        if (count > c->pending_capacity) {
            return NE_ERR_FULL;
        }
        c->delivered.consumer_seq = sf_get64(b);
        c->delivered.stream_seq = sf_get64(b + 8);
        c->ack_floor.consumer_seq = sf_get64(b + 16);
        c->ack_floor.stream_seq = sf_get64(b + 24);
        c->pending_count = 0;
        const uint8_t *e = b + SNAPSHOT_FIXED_BYTES;
        for (uint32_t i = 0; i < count; i++, e += SNAPSHOT_ENTRY_BYTES) {
            ne_store_pending p = {.stream_seq = sf_get64(e),
                                  .consumer_seq = sf_get64(e + 8),
                                  .timestamp_ns = sf_get64(e + 16),
                                  .deliveries = sf_get32(e + 24)};
            int rc = pending_insert(c, &p);
            if (rc != NE_OK) {
                return rc;
            }
        }
        c->snapshot_seq = m->seq;
        c->changes_since_snapshot = 0;
        return NE_OK;
    }
    default:
        return NE_ERR_CORRUPT;
    }
}

/* Replays the log in order into the RAM state. Records are small except a
 * snapshot: loaded into the snapshot buffer. Bounded by the records.
 *
 * The log's records have consecutive sequences. Behind a write cache,
 * unsynced records can be lost in any order, so a later one may survive
 * an earlier one lost (an ack lost, the next delivery kept): replay stops
 * at the first missing sequence and the log is cut back there, durably,
 * so that the state is the one the log held at some point (and so that
 * the records written next follow the last one without a gap). */
static int replay(ne_store_consumer *c)
{
    ne_store_reader reader;
    ne_store_reader_init(&reader);
    uint64_t from = c->log.state.first_seq;
    uint64_t bound = c->log.state.msgs;
    bool hole = false;
    for (uint64_t i = 0; i < bound; i++) {
        ne_store_msg m;
        int rc = ne_store_read_next(&c->log, &reader, from, NULL, 0, &m, c->snapshot_buf,
                                    c->snapshot_bytes);
        if (rc == NE_ERR_NOT_FOUND) {
            break;
        }
        if (rc != NE_OK) {
            return rc;
        }
        if (m.seq != from) {
            hole = true;
            break;
        }
        rc = replay_one(c, &m);
        if (rc != NE_OK) {
            return rc;
        }
        c->changes_since_snapshot++;
        from = m.seq + 1;
    }
    /* Also when sequences were assigned past the last record (records lost
     * at the tail, their sequences kept): new records must follow on. */
    if (hole || from <= c->log.state.last_seq) {
        int rc = ne_store_truncate(&c->log, from - 1);
        if (rc != NE_OK) {
            return rc;
        }
    }
    /* What was counted as a change since the snapshot includes it. */
    if (c->snapshot_seq != 0 && c->changes_since_snapshot > 0) {
        c->changes_since_snapshot--;
    }
    if (c->snapshot_seq != 0 && c->snapshot_seq == c->log.state.first_seq) {
        c->snapshot_seq = 0;
    }
    return NE_OK;
}

/* ---- API ------------------------------------------------------------------------ */

int ne_store_consumer_attach(ne_store_consumer *c, ne_store_dev *dev, uint32_t id,
                             const ne_store_consumer_config *cfg)
{
    NE_ASSERT(c != NULL && dev != NULL && cfg != NULL);
    if (dev->failed != NE_OK) {
        return dev->failed;
    }
    if (cfg->pending == NULL || cfg->pending_capacity == 0 || cfg->snapshot_buf == NULL ||
        cfg->ack_policy > NE_STORE_ACK_EXPLICIT) {
        return NE_ERR_INVALID;
    }
    ne_store_slot *s = sf_slot_by_id(dev, id);
    if (s == NULL || !(s->flags & SF_SLOT_CATALOGUED) || s->id == SF_META_LOG_ID) {
        return NE_ERR_NOT_FOUND;
    }
    if (s->kind != NE_STORE_KIND_CONSUMER) {
        return NE_ERR_INVALID;
    }
    if (s->flags & SF_SLOT_ATTACHED) {
        return NE_ERR_EXISTS;
    }
    size_t snapshot = NE_STORE_CONSUMER_SNAPSHOT_BYTES(cfg->pending_capacity);
    if (cfg->snapshot_bytes < snapshot) {
        return NE_ERR_TOO_BIG;
    }
    memset(c, 0, sizeof(*c));
    c->ack_policy = cfg->ack_policy;
    c->pending = cfg->pending;
    c->pending_capacity = cfg->pending_capacity;
    c->snapshot_buf = cfg->snapshot_buf;
    c->snapshot_bytes = cfg->snapshot_bytes;
    /* Discard new: a full device refuses a change, it never drops the
     * records the state is made of. */
    ne_store_config lcfg = {.limits.discard = NE_STORE_DISCARD_NEW,
                            .flags = NE_STORE_RAW_KEYS,
                            .max_blocks = cfg->max_blocks};
    int rc = sf_attach(dev, s, &c->log, &lcfg);
    if (rc != NE_OK) {
        return rc;
    }
    if (snapshot > ne_store_max_msg_bytes(&c->log)) {
        (void)ne_store_detach(&c->log);
        return NE_ERR_TOO_BIG;
    }
    rc = replay(c);
    if (rc == NE_ERR_CORRUPT) {
        sf_report(dev, NE_STORE_DAMAGE_RECORDS, 0xffffffffu, id, 1);
    }
    if (rc != NE_OK) {
        (void)ne_store_detach(&c->log);
    }
    return rc;
}

int ne_store_consumer_detach(ne_store_consumer *c)
{
    return ne_store_detach(&c->log);
}

int ne_store_consumer_set_starting(ne_store_consumer *c, uint64_t stream_seq)
{
    uint8_t b[8];
    sf_put64(b, stream_seq);
    int rc = write_record(c, REC_STARTING, b, sizeof(b));
    if (rc != NE_OK) {
        return rc;
    }
    apply_starting(c, stream_seq);
    return maybe_snapshot(c);
}

int ne_store_consumer_delivered(ne_store_consumer *c, uint64_t consumer_seq, uint64_t stream_seq,
                                uint32_t deliveries, uint64_t timestamp_ns)
{
    if (consumer_seq == 0 || stream_seq == 0 || deliveries == 0 ||
        (deliveries > 1 && c->ack_policy == NE_STORE_ACK_NONE)) {
        return NE_ERR_INVALID;
    }
    if (c->ack_policy != NE_STORE_ACK_NONE && c->pending_count == c->pending_capacity &&
        ne_store_consumer_find(c, stream_seq) == NULL) {
        return NE_ERR_FULL;
    }
    uint8_t b[28];
    sf_put64(b, consumer_seq);
    sf_put64(b + 8, stream_seq);
    sf_put64(b + 16, timestamp_ns);
    sf_put32(b + 24, deliveries);
    int rc = write_record(c, REC_DELIVERED, b, sizeof(b));
    if (rc != NE_OK) {
        return rc;
    }
    rc = apply_delivered(c, consumer_seq, stream_seq, deliveries, timestamp_ns);
    NE_ASSERT(rc == NE_OK);
    return maybe_snapshot(c);
}

int ne_store_consumer_ack(ne_store_consumer *c, uint64_t consumer_seq, uint64_t stream_seq)
{
    if (c->ack_policy == NE_STORE_ACK_NONE) {
        return NE_ERR_INVALID;
    }
    bool all = c->ack_policy == NE_STORE_ACK_ALL;
    if (all ? lower_bound(c, stream_seq + 1) == 0 : ne_store_consumer_find(c, stream_seq) == NULL) {
        return NE_ERR_NOT_FOUND;
    }
    uint8_t b[16];
    sf_put64(b, consumer_seq);
    sf_put64(b + 8, stream_seq);
    int rc = write_record(c, all ? REC_ACK_ALL : REC_ACK, b, sizeof(b));
    if (rc != NE_OK) {
        return rc;
    }
    rc = all ? apply_ack_all(c, consumer_seq, stream_seq) : apply_ack(c, consumer_seq, stream_seq);
    NE_ASSERT(rc == NE_OK);
    return maybe_snapshot(c);
}

int ne_store_consumer_update(ne_store_consumer *c, ne_store_seq_pair delivered,
                             ne_store_seq_pair ack_floor, const ne_store_pending *pending,
                             uint32_t count)
{
    if (ack_floor.consumer_seq > delivered.consumer_seq ||
        ack_floor.stream_seq > delivered.stream_seq || (count > 0 && pending == NULL)) {
        return NE_ERR_INVALID;
    }
    if (count > c->pending_capacity) {
        return NE_ERR_FULL;
    }
    for (uint32_t i = 0; i < count; i++) {
        if (pending[i].stream_seq <= ack_floor.stream_seq ||
            pending[i].stream_seq > delivered.stream_seq) {
            return NE_ERR_INVALID;
        }
    }
    /* Written first: a refused write leaves the state as it was. */
    int rc = write_snapshot_of(c, delivered, ack_floor, pending, count);
    if (rc != NE_OK) {
        return rc;
    }
    c->delivered = delivered;
    c->ack_floor = ack_floor;
    c->pending_count = 0;
    for (uint32_t i = 0; i < count; i++) {
        rc = pending_insert(c, &pending[i]);
        NE_ASSERT(rc == NE_OK);
    }
    return NE_OK;
}

int ne_store_consumer_sync(ne_store_consumer *c)
{
    int rc = ne_store_sync(&c->log);
    if (rc != NE_OK || c->snapshot_seq == 0) {
        return rc;
    }
    /* The snapshot is on the medium: what came before it is not needed. */
    uint64_t snapshot = c->snapshot_seq;
    c->snapshot_seq = 0;
    return ne_store_set_first(&c->log, snapshot, NULL);
}

/* The acks that open a checked batch (changes_apply), applied as
 * apply_ack applies them one after the other but with one pass over the
 * pending entries instead of one move of the array per ack (acks mostly
 * take the oldest entries). The ack floor takes the same steps: after the
 * k-th ack the entries still pending are those kept and the acks after k,
 * so the next pending entry is the smaller of the next ack and the first
 * kept entry above it. Returns the number of acks. */
static uint32_t apply_acks(ne_store_consumer *c, const ne_store_change *changes, uint32_t count)
{
    uint32_t acks = 0;
    while (acks < count && changes[acks].kind == NE_STORE_CHANGE_ACK) {
        acks++;
    }
    if (acks == 0) {
        return 0;
    }
    uint32_t kept = 0;
    uint32_t a = 0;
    for (uint32_t i = 0; i < c->pending_count; i++) {
        if (a < acks && c->pending[i].stream_seq == changes[a].stream_seq) {
            a++;
            continue;
        }
        c->pending[kept++] = c->pending[i];
    }
    NE_ASSERT(a == acks);
    c->pending_count = kept;
    for (uint32_t k = 0; k < acks; k++) {
        uint64_t dseq = changes[k].consumer_seq;
        uint64_t sseq = changes[k].stream_seq;
        if (kept + (acks - 1u - k) == 0) {
            c->ack_floor = c->delivered;
            continue;
        }
        if (c->ack_floor.consumer_seq + 1 != dseq) {
            continue;
        }
        bool not_first = c->ack_floor.consumer_seq != 0;
        c->ack_floor.consumer_seq = dseq;
        c->ack_floor.stream_seq = sseq;
        if (!not_first || c->delivered.consumer_seq <= dseq) {
            continue;
        }
        uint32_t i = lower_bound(c, sseq + 1);
        const ne_store_pending *next_kept = i < kept ? &c->pending[i] : NULL;
        const ne_store_change *next_ack = k + 1 < acks ? &changes[k + 1] : NULL;
        uint64_t next_sseq = 0;
        uint64_t next_dseq = 0;
        if (next_ack != NULL &&
            (next_kept == NULL || next_ack->stream_seq < next_kept->stream_seq)) {
            next_sseq = next_ack->stream_seq;
            next_dseq = next_ack->consumer_seq;
        } else if (next_kept != NULL) {
            next_sseq = next_kept->stream_seq;
            next_dseq = next_kept->consumer_seq;
        }
        if (next_sseq != 0 && next_sseq < c->delivered.stream_seq && next_dseq > 0) {
            c->ack_floor.consumer_seq = next_dseq - 1;
            c->ack_floor.stream_seq = next_sseq - 1;
        }
    }
    return acks;
}

/* True when the batch applies: acks first, in increasing stream order, each
 * of an entry pending now; then deliveries in increasing stream order, none
 * of an entry acked in the batch; the pending entries after it within
 * pending_capacity. */
static bool changes_apply(const ne_store_consumer *c, const ne_store_change *changes,
                          uint32_t count)
{
    uint32_t acks = 0;
    while (acks < count && changes[acks].kind == NE_STORE_CHANGE_ACK) {
        const ne_store_change *ch = &changes[acks];
        if ((acks > 0 && changes[acks - 1].stream_seq >= ch->stream_seq) ||
            ne_store_consumer_find(c, ch->stream_seq) == NULL) {
            return false;
        }
        acks++;
    }
    uint32_t added = 0;
    for (uint32_t i = acks; i < count; i++) {
        const ne_store_change *ch = &changes[i];
        if (ch->kind != NE_STORE_CHANGE_DELIVERED || ch->consumer_seq == 0 || ch->stream_seq == 0 ||
            ch->deliveries == 0 || (i > acks && changes[i - 1].stream_seq >= ch->stream_seq)) {
            return false;
        }
        /* Acks are sorted: a binary search among them. */
        uint32_t lo = 0;
        uint32_t hi = acks;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (changes[mid].stream_seq < ch->stream_seq) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if (lo < acks && changes[lo].stream_seq == ch->stream_seq) {
            return false;
        }
        if (ne_store_consumer_find(c, ch->stream_seq) == NULL) {
            added++;
        }
    }
    return (uint64_t)c->pending_count - acks + added <= c->pending_capacity;
}

/* Checked, written as one record, then applied: a refused write leaves the
 * state as it was. The record is built in the snapshot buffer, which holds
 * pending_capacity entries of 32 B and more. */
int ne_store_consumer_changes(ne_store_consumer *c, const ne_store_change *changes, uint32_t count)
{
    if (c->ack_policy != NE_STORE_ACK_EXPLICIT || (count > 0 && changes == NULL)) {
        return NE_ERR_INVALID;
    }
    if (count == 0) {
        return NE_OK;
    }
    if (count > c->pending_capacity) {
        return NE_ERR_TOO_BIG;
    }
    if (!changes_apply(c, changes, count)) {
        return NE_ERR_INVALID;
    }
    size_t len = CHANGES_FIXED_BYTES + (size_t)count * CHANGE_BYTES;
    NE_ASSERT(len <= c->snapshot_bytes);
    uint8_t *out = c->snapshot_buf;
    sf_put32(out, count);
    sf_put32(out + 4, 0);
    for (uint32_t i = 0; i < count; i++) {
        encode_change(&changes[i], out + CHANGES_FIXED_BYTES + (size_t)i * CHANGE_BYTES);
    }
    int rc = write_record(c, REC_CHANGES, out, len);
    if (rc != NE_OK) {
        return rc;
    }
    uint32_t acks = apply_acks(c, changes, count);
    for (uint32_t i = acks; i < count; i++) {
        rc = apply_change(c, &changes[i]);
        NE_ASSERT(rc == NE_OK);
    }
    /* One record, count changes: the snapshot period counts changes. */
    c->changes_since_snapshot += count - 1u;
    return maybe_snapshot(c);
}
